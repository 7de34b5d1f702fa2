/*
 * image_read.c - parse and check an image: header, metadata, chunk records,
 * index and footer. See image_read.h for the contract; every field read
 * from the image is validated here before anything else sees it.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "dev.h"
#include "image_read.h"
#include "image_write.h"
#include "imgtool.h"
#include "image_read_priv.h"


const uint8_t img_zero_sha[IMG_SHA256_LEN] = { 0 };

/* Reads len bytes at pos (file) or next (stream); a short read means the
 * image is truncated. */
int
img_rd(struct img_reader *r, void *buf, size_t len, uint64_t pos,
    struct img_ctx *ctx)
{
	int rc;

	if (r->stream)
		rc = img_dev_read(r->dev, buf, len, ctx);
	else
		rc = img_dev_pread(r->dev, buf, len, pos, ctx);
	if (rc == -ENODATA)
		return img_error(ctx, -EBADMSG,
		    "'%s': image is truncated at byte %llu", r->dev->path,
		    (unsigned long long)(r->stream ? r->dev->pos : pos));
	return rc;
}

static int
is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static int
decode_header(struct img_reader *r, const uint8_t *b, struct img_ctx *ctx)
{
	struct img_header *h = &r->hdr;
	const char *path = r->dev->path;

	if (memcmp(b + IMG_HDR_MAGIC, IMG_MAGIC, 8) != 0)
		return img_error(ctx, -EBADMSG,
		    "'%s' is not an imgtool image (bad magic)", path);
	h->version = img_le32(b + IMG_HDR_VERSION);
	if (h->version != IMG_FORMAT_VERSION)
		return img_error(ctx, -ENOTSUP,
		    "'%s': image format version %u is not supported (this imgtool reads version %u)",
		    path, h->version, IMG_FORMAT_VERSION);
	if (img_le32(b + IMG_HDR_HEADER_SIZE) != IMG_HEADER_SIZE)
		return img_error(ctx, -EBADMSG, "'%s': bad header size %u",
		    path, img_le32(b + IMG_HDR_HEADER_SIZE));
	h->compat = img_le64(b + IMG_HDR_COMPAT);
	h->incompat = img_le64(b + IMG_HDR_INCOMPAT);
	h->ro_compat = img_le64(b + IMG_HDR_RO_COMPAT);
	h->created = img_le64(b + IMG_HDR_CREATED);
	h->source_size = img_le64(b + IMG_HDR_SOURCE_SIZE);
	h->sector_size = img_le32(b + IMG_HDR_SECTOR_SIZE);
	h->chunk_size = img_le32(b + IMG_HDR_CHUNK_SIZE);
	h->meta_len = img_le32(b + IMG_HDR_META_LEN);
	h->flags = img_le32(b + IMG_HDR_FLAGS);
	img_get_str(b + IMG_HDR_TOOL, 32, h->tool);
	memcpy(h->uuid, b + IMG_HDR_UUID, 16);
	memcpy(h->checksum, b + IMG_HDR_CHECKSUM, IMG_SHA256_LEN);
	if (h->incompat & ~IMG_INCOMPAT_SUPPORTED)
		return img_error(ctx, -ENOTSUP,
		    "'%s' needs image features this imgtool lacks (incompat 0x%llx)",
		    path, (unsigned long long)h->incompat);
	if (!is_pow2(h->chunk_size) || h->chunk_size < IMG_CHUNK_MIN ||
	    h->chunk_size > IMG_CHUNK_MAX)
		return img_error(ctx, -EBADMSG, "'%s': bad chunk size %u",
		    path, h->chunk_size);
	if (!is_pow2(h->sector_size) || h->sector_size < 512 ||
	    h->sector_size > 65536)
		return img_error(ctx, -EBADMSG, "'%s': bad sector size %u",
		    path, h->sector_size);
	if (h->source_size == 0 || h->source_size > (1ull << 60))
		return img_error(ctx, -EBADMSG, "'%s': bad source size %llu",
		    path, (unsigned long long)h->source_size);
	if (h->meta_len > IMG_META_MAX)
		return img_error(ctx, -EBADMSG, "'%s': bad metadata length %u",
		    path, h->meta_len);
	return 0;
}

static int
check_meta(struct img_reader *r, struct img_ctx *ctx)
{
	size_t pos = 0, len = r->hdr.meta_len;

	while (pos < len) {
		uint16_t type, flags;
		uint32_t n;

		if (len - pos < IMG_META_REC_SIZE)
			return img_error(ctx, -EBADMSG,
			    "'%s': metadata record at %zu is truncated",
			    r->dev->path, pos);
		type = img_le16(r->meta + pos);
		flags = img_le16(r->meta + pos + 2);
		n = img_le32(r->meta + pos + 4);
		if (n > len - pos - IMG_META_REC_SIZE)
			return img_error(ctx, -EBADMSG,
			    "'%s': metadata record at %zu overruns the metadata",
			    r->dev->path, pos);
		if ((flags & IMG_META_CRITICAL) &&
		    (type < IMG_META_SOURCE || type > IMG_META_REGION))
			return img_error(ctx, -ENOTSUP,
			    "'%s' has metadata of an unknown kind (%u) that this imgtool must understand",
			    r->dev->path, type);
		pos += IMG_META_REC_SIZE + n;
	}
	return 0;
}

static int
read_header(struct img_reader *r, struct img_ctx *ctx)
{
	uint8_t b[IMG_HEADER_SIZE], sum[IMG_SHA256_LEN];
	int rc;

	rc = img_rd(r, b, sizeof(b), 0, ctx);
	if (rc == -EBADMSG)
		return img_error(ctx, -EBADMSG,
		    "'%s' is too short to be an imgtool image", r->dev->path);
	if (rc < 0)
		return rc;
	rc = decode_header(r, b, ctx);
	if (rc < 0)
		return rc;
	r->meta = malloc(r->hdr.meta_len + 1);
	if (!r->meta)
		return img_error(ctx, -ENOMEM, "out of memory");
	rc = img_rd(r, r->meta, r->hdr.meta_len, IMG_HEADER_SIZE, ctx);
	if (rc < 0)
		return rc;
	img_sha256_init(r->hash);
	img_sha256_update(r->hash, b, IMG_HDR_CHECKSUM);
	img_sha256_update(r->hash, r->meta, r->hdr.meta_len);
	img_sha256_final(r->hash, sum);
	if (memcmp(sum, r->hdr.checksum, IMG_SHA256_LEN) != 0)
		return img_error(ctx, -EBADMSG,
		    "'%s': header checksum mismatch (header damaged)",
		    r->dev->path);
	r->data_start = IMG_HEADER_SIZE + (uint64_t)r->hdr.meta_len;
	return check_meta(r, ctx);
}

/* Chunks do not overlap and only the last may be shorter than a sector. */
static uint64_t
max_chunks(const struct img_reader *r)
{
	return (r->hdr.source_size + 511) / 512;
}

/* The end of the chunk-size window holding off (the source's end for the
 * last one): a chunk never crosses it. */
static uint64_t
window_end(const struct img_reader *r, uint64_t off)
{
	uint64_t end = off - off % r->hdr.chunk_size + r->hdr.chunk_size;

	return end < r->hdr.source_size ? end : r->hdr.source_size;
}

int
img_decode_footer(struct img_reader *r, const uint8_t *b, uint64_t footer_pos,
    struct img_ctx *ctx)
{
	struct img_footer *f = &r->ftr;
	uint8_t sum[IMG_SHA256_LEN];

	img_sha256(r->hash, b, IMG_FTR_CHECKSUM, sum);
	if (memcmp(b + IMG_FTR_MAGIC, IMG_FOOTER_MAGIC, 8) != 0 ||
	    memcmp(sum, b + IMG_FTR_CHECKSUM, IMG_SHA256_LEN) != 0)
		return img_error(ctx, -EBADMSG,
		    "'%s': footer missing or damaged at byte %llu (image truncated or corrupt)",
		    r->dev->path, (unsigned long long)footer_pos);
	f->index_pos = img_le64(b + IMG_FTR_INDEX_POS);
	f->index_len = img_le64(b + IMG_FTR_INDEX_LEN);
	f->chunks = img_le64(b + IMG_FTR_CHUNKS);
	f->used = img_le64(b + IMG_FTR_USED);
	f->stored = img_le64(b + IMG_FTR_STORED);
	memcpy(f->identity, b + IMG_FTR_IDENTITY, IMG_SHA256_LEN);
	if (f->chunks > max_chunks(r) ||
	    f->index_len != IMG_INDEX_HDR_SIZE + f->chunks * IMG_INDEX_ENTRY_SIZE ||
	    f->index_pos < r->data_start ||
	    f->index_pos + f->index_len != footer_pos)
		return img_error(ctx, -EBADMSG,
		    "'%s': footer describes an impossible index (pos %llu, %llu chunks)",
		    r->dev->path, (unsigned long long)f->index_pos,
		    (unsigned long long)f->chunks);
	return 0;
}

/* 1 if chunk c may come after chunk prev: chunks are in offset order and
 * do not overlap. */
int
img_chunk_follows(const struct img_chunk *prev, const struct img_chunk *c)
{
	return c->offset >= prev->offset + prev->length;
}

/* Checks the fields a chunk header and an index entry share. */
int
img_check_chunk_fields(const struct img_reader *r, const struct img_chunk *c,
    struct img_ctx *ctx)
{
	const char *why = NULL;

	if (c->offset % 512 || c->offset >= r->hdr.source_size)
		why = "offset out of range";
	else if (c->length == 0 ||
	    c->offset + c->length > window_end(r, c->offset) ||
	    (c->length % 512 && c->offset + c->length != r->hdr.source_size))
		why = "bad length";
	else if (c->flags & ~IMG_CHUNK_KNOWN)
		why = "unknown flags";
	else if (c->flags == IMG_CHUNK_KNOWN)
		why = "contradictory flags";
	else if ((c->flags & IMG_CHUNK_ZERO) && (c->stored != 0 ||
	    memcmp(c->sha256, img_zero_sha, IMG_SHA256_LEN) != 0))
		why = "zero chunk with data";
	else if ((c->flags & IMG_CHUNK_LZ4) &&
	    (c->stored == 0 || c->stored > img_lz4_bound(c->length)))
		why = "bad compressed length";
	else if (!(c->flags & IMG_CHUNK_KNOWN) && c->stored != c->length)
		why = "bad stored length";
	if (!why)
		return 0;
	return img_error(ctx, -EBADMSG,
	    "'%s': chunk %llu (record at byte %llu): %s",
	    r->dev->path, (unsigned long long)c->seq,
	    (unsigned long long)c->record_pos, why);
}

void
img_entry_decode(const uint8_t *e, uint64_t i, struct img_chunk *c)
{
	memset(c, 0, sizeof(*c));
	c->seq = i;
	c->offset = img_le64(e + IMG_IDX_OFFSET);
	c->record_pos = img_le64(e + IMG_IDX_RECORD_POS);
	c->length = img_le32(e + IMG_IDX_LENGTH);
	c->stored = img_le32(e + IMG_IDX_STORED);
	c->flags = img_le32(e + IMG_IDX_FLAGS);
	c->used = img_le32(e + IMG_IDX_USED);
	memcpy(c->sha256, e + IMG_IDX_SHA256, IMG_SHA256_LEN);
}

static int
check_index(struct img_reader *r, struct img_ctx *ctx)
{
	uint64_t used = 0, stored = 0, prev_end = r->data_start;
	struct img_chunk c, prev = { 0 };
	int rc;

	for (uint64_t i = 0; i < r->count; i++) {
		img_entry_decode(r->index + i * IMG_INDEX_ENTRY_SIZE, i, &c);
		rc = img_check_chunk_fields(r, &c, ctx);
		if (rc < 0)
			return img_error_prefix(ctx, "index");
		if ((i > 0 && !img_chunk_follows(&prev, &c)) ||
		    c.record_pos < prev_end || c.used == 0 ||
		    c.used > c.length ||
		    c.record_pos + IMG_CHUNK_HDR_SIZE + c.stored >
		    r->ftr.index_pos)
			return img_error(ctx, -EBADMSG,
			    "'%s': index entry %llu (offset %llu) is out of order or out of bounds",
			    r->dev->path, (unsigned long long)i,
			    (unsigned long long)c.offset);
		prev_end = c.record_pos + IMG_CHUNK_HDR_SIZE + c.stored;
		used += c.used;
		stored += c.stored;
		prev = c;
	}
	if (used != r->ftr.used || stored != r->ftr.stored)
		return img_error(ctx, -EBADMSG,
		    "'%s': index totals do not match the footer", r->dev->path);
	return 0;
}

static int
read_index(struct img_reader *r, struct img_ctx *ctx)
{
	uint8_t b[IMG_FOOTER_SIZE], hdr[IMG_INDEX_HDR_SIZE], id[IMG_SHA256_LEN];
	uint64_t size = r->dev->size, footer_pos;
	int rc;

	if (size < r->data_start + IMG_INDEX_HDR_SIZE + IMG_FOOTER_SIZE)
		return img_error(ctx, -EBADMSG,
		    "'%s': image is truncated (%llu bytes, no room for index and footer)",
		    r->dev->path, (unsigned long long)size);
	footer_pos = size - IMG_FOOTER_SIZE;
	rc = img_rd(r, b, sizeof(b), footer_pos, ctx);
	if (rc == 0)
		rc = img_decode_footer(r, b, footer_pos, ctx);
	if (rc == 0)
		rc = img_rd(r, hdr, sizeof(hdr), r->ftr.index_pos, ctx);
	if (rc < 0)
		return rc;
	r->count = r->ftr.chunks;
	r->index = malloc(r->count * IMG_INDEX_ENTRY_SIZE + 1);
	if (!r->index)
		return img_error(ctx, -ENOMEM, "out of memory");
	rc = img_rd(r, r->index, r->count * IMG_INDEX_ENTRY_SIZE,
	    r->ftr.index_pos + IMG_INDEX_HDR_SIZE, ctx);
	if (rc < 0)
		return rc;
	img_sha256_init(r->hash);
	img_sha256_update(r->hash, hdr, sizeof(hdr));
	img_sha256_update(r->hash, r->index, r->count * IMG_INDEX_ENTRY_SIZE);
	img_sha256_final(r->hash, id);
	if (memcmp(hdr, IMG_INDEX_MAGIC, 4) != 0 ||
	    img_le64(hdr + 8) != r->count ||
	    memcmp(id, r->ftr.identity, IMG_SHA256_LEN) != 0)
		return img_error(ctx, -EBADMSG,
		    "'%s': index damaged (checksum mismatch at byte %llu)",
		    r->dev->path, (unsigned long long)r->ftr.index_pos);
	return check_index(r, ctx);
}

static int
alloc_scratch(struct img_reader *r, struct img_ctx *ctx)
{
	unsigned cs = r->hdr.chunk_size;

	r->payload = malloc(img_lz4_bound(cs));
	r->ext_raw = malloc((size_t)IMG_MAX_EXTENTS(cs) * IMG_EXTENT_SIZE);
	r->extents = malloc((size_t)IMG_MAX_EXTENTS(cs) * 2 * sizeof(uint32_t));
	if (!r->payload || !r->ext_raw || !r->extents)
		return img_error(ctx, -ENOMEM, "out of memory");
	return 0;
}

int
img_reader_open_dev(struct img_dev *dev, struct img_reader **out,
    struct img_ctx *ctx)
{
	struct img_reader *r;
	int rc;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return img_error(ctx, -ENOMEM, "out of memory");
	r->dev = dev;
	r->stream = dev->is_stream;
	r->hash = img_sha256_new();
	r->entries_hash = img_sha256_new();
	if (!r->hash || !r->entries_hash) {
		rc = img_error(ctx, -ENOMEM, "out of memory");
		goto fail;
	}
	img_sha256_init(r->entries_hash);
	rc = read_header(r, ctx);
	if (rc == 0)
		rc = alloc_scratch(r, ctx);
	if (rc == 0 && !r->stream)
		rc = read_index(r, ctx);
	if (rc < 0)
		goto fail;
	*out = r;
	return 0;
fail:
	img_reader_close(r);
	return rc;
}

int
img_reader_open(const char *path, struct img_reader **out,
    struct img_ctx *ctx)
{
	struct img_dev *dev;
	int rc;

	*out = NULL;
	if (strcmp(path, "-") == 0)
		rc = img_dev_from_fd(0, "standard input", &dev, ctx);
	else
		rc = img_dev_open(path, IMG_DEV_READ, &dev, ctx);
	if (rc < 0)
		return rc;
	rc = img_reader_open_dev(dev, out, ctx);
	if (rc < 0) {
		img_dev_close(dev);
		return rc;
	}
	(*out)->owns_dev = 1;
	img_debug(ctx, IMG_DBG_IMAGE, "'%s': %s, format %u, %llu-byte disk, %u-byte chunks, %llu index entries",
	    path, (*out)->stream ? "stream" : "file", (*out)->hdr.version,
	    (unsigned long long)(*out)->hdr.source_size,
	    (*out)->hdr.chunk_size, (unsigned long long)(*out)->count);
	return 0;
}

void
img_reader_close(struct img_reader *r)
{
	if (!r)
		return;
	if (r->owns_dev)
		img_dev_close(r->dev);
	img_sha256_free(r->hash);
	img_sha256_free(r->entries_hash);
	free(r->meta);
	free(r->index);
	free(r->payload);
	free(r->ext_raw);
	free(r->extents);
	free(r);
}

const struct img_header *
img_reader_header(const struct img_reader *r)
{
	return &r->hdr;
}

const uint8_t *
img_reader_meta(const struct img_reader *r)
{
	return r->meta;
}

const char *
img_reader_path(const struct img_reader *r)
{
	return r->dev->path;
}

int
img_reader_is_stream(const struct img_reader *r)
{
	return r->stream;
}

const struct img_footer *
img_reader_footer(const struct img_reader *r)
{
	return &r->ftr;
}

void
img_reader_rewind(struct img_reader *r)
{
	if (!r->stream) {
		r->next = 0;
		r->at_end = 0;
	}
}

uint64_t
img_reader_count(const struct img_reader *r)
{
	return r->count;
}

void
img_reader_entry(const struct img_reader *r, uint64_t i, struct img_chunk *c)
{
	img_entry_decode(r->index + i * IMG_INDEX_ENTRY_SIZE, i, c);
}

uint64_t
img_reader_seek(const struct img_reader *r, uint64_t off)
{
	uint64_t lo = 0, hi = r->count;
	struct img_chunk c;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		img_reader_entry(r, mid, &c);
		if (c.offset + c.length <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint64_t
img_reader_find(const struct img_reader *r, uint64_t off)
{
	uint64_t i = img_reader_seek(r, off);
	struct img_chunk c;

	if (i < r->count) {
		img_reader_entry(r, i, &c);
		if (c.offset > off)
			return r->count;
	}
	return i;
}

int
img_meta_next(const struct img_reader *r, size_t *pos, uint16_t *type,
    const uint8_t **payload, uint32_t *len)
{
	if (*pos >= r->hdr.meta_len)
		return 0;
	*type = img_le16(r->meta + *pos);
	*len = img_le32(r->meta + *pos + 4);
	*payload = r->meta + *pos + IMG_META_REC_SIZE;
	*pos += IMG_META_REC_SIZE + *len;
	return 1;
}
