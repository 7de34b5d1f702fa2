/*
 * image_write.c - chunk encoding and the sequential image writer.
 *
 * The writer never seeks: header, metadata, chunk records, index, footer.
 * It keeps the index in memory (64 bytes per stored chunk) until the end.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ctx.h"
#include "dev.h"
#include "image_write.h"

struct img_writer {
	struct img_dev *out;
	unsigned chunk_size;
	uint64_t source_size;
	uint64_t seq;
	uint64_t next_off;	/* first offset the next chunk may start at */
	uint64_t used;
	uint64_t stored;
	uint8_t *index;		/* IMG_INDEX_HDR_SIZE + seq * entry */
	size_t index_cap;
	struct img_sha256 *hash;
};

int
img_chunk_buf_init(struct img_chunk_buf *c, unsigned chunk_size)
{
	memset(c, 0, sizeof(*c));
	/* page aligned, so that O_DIRECT reads can land in it */
	if (posix_memalign((void **)&c->data, 4096, chunk_size) != 0)
		c->data = NULL;
	c->comp = malloc(img_lz4_bound(chunk_size));
	c->extents = malloc(2 * sizeof(uint32_t) * IMG_MAX_EXTENTS(chunk_size));
	c->hash = img_sha256_new();
	if (!c->data || !c->comp || !c->extents || !c->hash) {
		img_chunk_buf_free(c);
		return -ENOMEM;
	}
	return 0;
}

void
img_chunk_buf_free(struct img_chunk_buf *c)
{
	free(c->data);
	free(c->comp);
	free(c->extents);
	img_sha256_free(c->hash);
	memset(c, 0, sizeof(*c));
}

static uint32_t
used_bytes(const struct img_chunk_buf *c)
{
	uint32_t sum = 0;

	if (c->nextents == 0)
		return c->length;
	for (uint32_t i = 0; i < c->nextents; i++)
		sum += c->extents[2 * i + 1];
	return sum;
}

void
img_chunk_encode(struct img_chunk_buf *c)
{
	size_t n;

	c->used = used_bytes(c);
	if (c->known_zero || img_is_zero(c->data, c->length)) {
		/* A zero chunk stores nothing; its hash field stays zero. */
		c->flags = IMG_CHUNK_ZERO;
		c->payload = NULL;
		c->stored = 0;
		memset(c->sha256, 0, sizeof(c->sha256));
		return;
	}
	img_sha256(c->hash, c->data, c->length, c->sha256);
	n = img_lz4_compress(c->data, c->length, c->comp,
	    img_lz4_bound(c->length));
	if (n > 0) {
		c->flags = IMG_CHUNK_LZ4;
		c->payload = c->comp;
		c->stored = (uint32_t)n;
	} else {
		c->flags = 0;
		c->payload = c->data;
		c->stored = c->length;
	}
}

void
img_chunk_header_encode(const struct img_chunk_buf *c, uint64_t seq,
    uint8_t hdr[IMG_CHUNK_HDR_SIZE], uint8_t *ext)
{
	struct img_sha256 *h = c->hash;
	uint8_t sum[IMG_SHA256_LEN];

	memset(hdr, 0, IMG_CHUNK_HDR_SIZE);
	memcpy(hdr + IMG_CHK_MAGIC, IMG_CHUNK_MAGIC, 4);
	img_put_le32(hdr + IMG_CHK_FLAGS, c->flags);
	img_put_le64(hdr + IMG_CHK_INDEX, seq);
	img_put_le64(hdr + IMG_CHK_OFFSET, c->offset);
	img_put_le32(hdr + IMG_CHK_LENGTH, c->length);
	img_put_le32(hdr + IMG_CHK_STORED, c->stored);
	img_put_le32(hdr + IMG_CHK_NEXTENTS, c->nextents);
	memcpy(hdr + IMG_CHK_SHA256, c->sha256, IMG_SHA256_LEN);
	for (uint32_t i = 0; i < 2 * c->nextents; i++)
		img_put_le32(ext + 4 * i, c->extents[i]);
	img_sha256_init(h);
	img_sha256_update(h, hdr, IMG_CHK_CHECK);
	img_sha256_update(h, ext, (size_t)c->nextents * IMG_EXTENT_SIZE);
	img_sha256_final(h, sum);
	memcpy(hdr + IMG_CHK_CHECK, sum, 8);
}

int
img_meta_add(struct img_meta_buf *m, uint16_t type, uint16_t flags,
    const void *payload, uint32_t len)
{
	size_t need = m->len + IMG_META_REC_SIZE + len;

	if (need > IMG_META_MAX)
		return -E2BIG;
	if (need > m->cap) {
		size_t cap = m->cap ? m->cap : 1024;
		uint8_t *d;

		while (cap < need)
			cap *= 2;
		d = realloc(m->data, cap);
		if (!d)
			return -ENOMEM;
		m->data = d;
		m->cap = cap;
	}
	img_put_le16(m->data + m->len, type);
	img_put_le16(m->data + m->len + 2, flags);
	img_put_le32(m->data + m->len + 4, len);
	if (len)
		memcpy(m->data + m->len + IMG_META_REC_SIZE, payload, len);
	m->len = need;
	return 0;
}

void
img_meta_free(struct img_meta_buf *m)
{
	free(m->data);
	memset(m, 0, sizeof(*m));
}

static void
encode_header(const struct img_writer_params *p, uint8_t *hdr,
    struct img_sha256 *h)
{
	uint8_t uuid[16] = { 0 };

	memset(hdr, 0, IMG_HEADER_SIZE);
	memcpy(hdr + IMG_HDR_MAGIC, IMG_MAGIC, 8);
	img_put_le32(hdr + IMG_HDR_VERSION, IMG_FORMAT_VERSION);
	img_put_le32(hdr + IMG_HDR_HEADER_SIZE, IMG_HEADER_SIZE);
	img_put_le64(hdr + IMG_HDR_CREATED, (uint64_t)time(NULL));
	img_put_le64(hdr + IMG_HDR_SOURCE_SIZE, p->source_size);
	img_put_le32(hdr + IMG_HDR_SECTOR_SIZE, p->sector_size);
	img_put_le32(hdr + IMG_HDR_CHUNK_SIZE, p->chunk_size);
	img_put_le32(hdr + IMG_HDR_META_LEN, (uint32_t)p->meta_len);
	img_put_le32(hdr + IMG_HDR_FLAGS, p->flags);
	img_put_str(hdr + IMG_HDR_TOOL, 32, "imgtool " PACKAGE_VERSION);
	/* The image id only needs to be unique, not secret. */
	if (getrandom(uuid, sizeof(uuid), GRND_NONBLOCK) != sizeof(uuid))
		img_put_le64(uuid, (uint64_t)time(NULL) ^ (uint64_t)clock());
	memcpy(hdr + IMG_HDR_UUID, uuid, sizeof(uuid));
	img_sha256_init(h);
	img_sha256_update(h, hdr, IMG_HDR_CHECKSUM);
	img_sha256_update(h, p->meta, p->meta_len);
	img_sha256_final(h, hdr + IMG_HDR_CHECKSUM);
}

int
img_writer_open(struct img_dev *out, const struct img_writer_params *p,
    struct img_writer **wp, struct img_ctx *ctx)
{
	struct img_writer *w;
	uint8_t hdr[IMG_HEADER_SIZE];
	int rc;

	*wp = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return img_error(ctx, -ENOMEM, "out of memory");
	w->hash = img_sha256_new();
	w->index_cap = 64 * 1024;
	w->index = malloc(w->index_cap);
	if (!w->hash || !w->index) {
		img_writer_free(w);
		return img_error(ctx, -ENOMEM, "out of memory");
	}
	w->out = out;
	w->chunk_size = p->chunk_size;
	w->source_size = p->source_size;
	encode_header(p, hdr, w->hash);
	rc = img_dev_write(out, hdr, sizeof(hdr), ctx);
	if (rc == 0 && p->meta_len)
		rc = img_dev_write(out, p->meta, p->meta_len, ctx);
	if (rc < 0) {
		img_writer_free(w);
		return rc;
	}
	*wp = w;
	return 0;
}

static int
index_append(struct img_writer *w, const struct img_chunk_buf *c,
    uint64_t record_pos)
{
	size_t need = IMG_INDEX_HDR_SIZE + (w->seq + 1) * IMG_INDEX_ENTRY_SIZE;
	uint8_t *e;

	if (need > w->index_cap) {
		size_t cap = w->index_cap * 2;
		uint8_t *d = realloc(w->index, cap);

		if (!d)
			return -ENOMEM;
		w->index = d;
		w->index_cap = cap;
	}
	e = w->index + IMG_INDEX_HDR_SIZE + w->seq * IMG_INDEX_ENTRY_SIZE;
	img_put_le64(e + IMG_IDX_OFFSET, c->offset);
	img_put_le64(e + IMG_IDX_RECORD_POS, record_pos);
	img_put_le32(e + IMG_IDX_LENGTH, c->length);
	img_put_le32(e + IMG_IDX_STORED, c->stored);
	img_put_le32(e + IMG_IDX_FLAGS, c->flags);
	img_put_le32(e + IMG_IDX_USED, c->used);
	memcpy(e + IMG_IDX_SHA256, c->sha256, IMG_SHA256_LEN);
	return 0;
}

int
img_writer_add(struct img_writer *w, const struct img_chunk_buf *c,
    struct img_ctx *ctx)
{
	uint8_t hdr[IMG_CHUNK_HDR_SIZE];
	uint8_t ext[IMG_EXTENT_SIZE * 64];
	uint8_t *extp = ext;
	uint64_t record_pos = w->out->pos;
	size_t ext_len = (size_t)c->nextents * IMG_EXTENT_SIZE;
	int rc;

	/* in order, not overlapping, each inside one chunk-size window (the
	 * reader checks the same) */
	if (c->offset % 512 || c->offset < w->next_off ||
	    c->length == 0 || c->offset + c->length > w->source_size ||
	    c->offset / w->chunk_size !=
	    (c->offset + c->length - 1) / w->chunk_size)
		return img_error(ctx, -EINVAL,
		    "chunk at offset %llu out of order or out of range",
		    (unsigned long long)c->offset);
	if (ext_len > sizeof(ext) && !(extp = malloc(ext_len)))
		return img_error(ctx, -ENOMEM, "out of memory");
	img_chunk_header_encode(c, w->seq, hdr, extp);
	rc = img_dev_write(w->out, hdr, sizeof(hdr), ctx);
	if (rc == 0)
		rc = img_dev_write(w->out, extp, ext_len, ctx);
	if (rc == 0 && c->stored)
		rc = img_dev_write(w->out, c->payload, c->stored, ctx);
	if (extp != ext)
		free(extp);
	if (rc < 0)
		return rc;
	if (index_append(w, c, record_pos) < 0)
		return img_error(ctx, -ENOMEM, "out of memory");
	w->seq++;
	w->next_off = c->offset + c->length;
	w->used += c->used;
	w->stored += c->stored;
	return 0;
}

int
img_writer_finish(struct img_writer *w, char identity[65],
    struct img_ctx *ctx)
{
	size_t index_len = IMG_INDEX_HDR_SIZE + w->seq * IMG_INDEX_ENTRY_SIZE;
	uint8_t ftr[IMG_FOOTER_SIZE] = { 0 };
	uint8_t id[IMG_SHA256_LEN];
	uint64_t index_pos = w->out->pos;
	int rc;

	memset(w->index, 0, IMG_INDEX_HDR_SIZE);
	memcpy(w->index, IMG_INDEX_MAGIC, 4);
	img_put_le64(w->index + 8, w->seq);
	img_sha256(w->hash, w->index, index_len, id);

	memcpy(ftr + IMG_FTR_MAGIC, IMG_FOOTER_MAGIC, 8);
	img_put_le64(ftr + IMG_FTR_INDEX_POS, index_pos);
	img_put_le64(ftr + IMG_FTR_INDEX_LEN, index_len);
	img_put_le64(ftr + IMG_FTR_CHUNKS, w->seq);
	img_put_le64(ftr + IMG_FTR_USED, w->used);
	img_put_le64(ftr + IMG_FTR_STORED, w->stored);
	memcpy(ftr + IMG_FTR_IDENTITY, id, IMG_SHA256_LEN);
	img_sha256(w->hash, ftr, IMG_FTR_CHECKSUM, ftr + IMG_FTR_CHECKSUM);

	rc = img_dev_write(w->out, w->index, index_len, ctx);
	if (rc == 0)
		rc = img_dev_write(w->out, ftr, sizeof(ftr), ctx);
	if (rc < 0)
		return rc;
	img_hex(id, sizeof(id), identity);
	return 0;
}

void
img_writer_free(struct img_writer *w)
{
	if (!w)
		return;
	img_sha256_free(w->hash);
	free(w->index);
	free(w);
}

uint64_t
img_writer_chunks(const struct img_writer *w)
{
	return w->seq;
}

uint64_t
img_writer_stored(const struct img_writer *w)
{
	return w->stored;
}

uint64_t
img_writer_used(const struct img_writer *w)
{
	return w->used;
}

uint64_t
img_writer_bytes(const struct img_writer *w)
{
	return w->out->pos;
}
