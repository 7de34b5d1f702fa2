/*
 * chunk_read.c - read chunk records: parse and check the 80-byte header and
 * the extent list, read the payload, and (separately, on any thread)
 * decompress and check the content hash. Also the end of a stream, where
 * the index must list exactly the records that were read.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "dev.h"
#include "image_read_priv.h"
#include "image_write.h"

int
img_raw_chunk_init(struct img_raw_chunk *rc, unsigned chunk_size)
{
	memset(rc, 0, sizeof(*rc));
	rc->extents = malloc((size_t)IMG_MAX_EXTENTS(chunk_size) * 2 *
	    sizeof(uint32_t));
	rc->payload = malloc(img_lz4_bound(chunk_size));
	rc->data = malloc(chunk_size);
	rc->hash = img_sha256_new();
	if (!rc->extents || !rc->payload || !rc->data || !rc->hash) {
		img_raw_chunk_free(rc);
		return -ENOMEM;
	}
	return 0;
}

void
img_raw_chunk_free(struct img_raw_chunk *rc)
{
	free(rc->extents);
	free(rc->payload);
	free(rc->data);
	img_sha256_free(rc->hash);
	memset(rc, 0, sizeof(*rc));
}

/* Decodes and checks the extent list read into r->ext_raw. */
static int
decode_extents(struct img_reader *r, struct img_raw_chunk *rc,
    struct img_ctx *ctx)
{
	struct img_chunk *c = &rc->c;
	uint64_t prev_end = 0, used = 0;

	for (uint32_t i = 0; i < c->nextents; i++) {
		uint32_t off = img_le32(r->ext_raw + 8 * i);
		uint32_t len = img_le32(r->ext_raw + 8 * i + 4);
		uint64_t end = (uint64_t)off + len;

		/* sorted, non-touching, inside the chunk, sector aligned
		 * (only the end of the source may cut a sector short) */
		if (len == 0 || (i > 0 && off <= prev_end) ||
		    end > c->length || off % 512 ||
		    (len % 512 && end != c->length))
			return img_error(ctx, -EBADMSG,
			    "'%s': chunk at offset %llu has a malformed extent list",
			    r->dev->path, (unsigned long long)c->offset);
		rc->extents[2 * i] = off;
		rc->extents[2 * i + 1] = len;
		prev_end = end;
		used += len;
	}
	c->extents = rc->extents;
	c->used = c->nextents ? (uint32_t)used : c->length;
	return 0;
}

static int
parse_record_header(struct img_reader *r, const uint8_t *h,
    struct img_chunk *c, struct img_ctx *ctx)
{
	if (memcmp(h + IMG_CHK_MAGIC, IMG_CHUNK_MAGIC, 4) != 0)
		return img_error(ctx, -EBADMSG,
		    "'%s': no chunk record at byte %llu (bad magic)",
		    r->dev->path, (unsigned long long)c->record_pos);
	c->flags = img_le32(h + IMG_CHK_FLAGS);
	c->seq = img_le64(h + IMG_CHK_INDEX);
	c->offset = img_le64(h + IMG_CHK_OFFSET);
	c->length = img_le32(h + IMG_CHK_LENGTH);
	c->stored = img_le32(h + IMG_CHK_STORED);
	c->nextents = img_le32(h + IMG_CHK_NEXTENTS);
	memcpy(c->sha256, h + IMG_CHK_SHA256, IMG_SHA256_LEN);
	if (img_le32(h + 36) != 0 ||
	    c->nextents > IMG_MAX_EXTENTS(r->hdr.chunk_size))
		return img_error(ctx, -EBADMSG,
		    "'%s': chunk record at byte %llu is malformed",
		    r->dev->path, (unsigned long long)c->record_pos);
	return img_check_chunk_fields(r, c, ctx);
}

/* The record's own 8-byte check over its header and extents. */
static int
check_record_sum(struct img_reader *r, const uint8_t *h,
    const struct img_chunk *c, struct img_ctx *ctx)
{
	uint8_t sum[IMG_SHA256_LEN];

	img_sha256_init(r->hash);
	img_sha256_update(r->hash, h, IMG_CHK_CHECK);
	img_sha256_update(r->hash, r->ext_raw,
	    (size_t)c->nextents * IMG_EXTENT_SIZE);
	img_sha256_final(r->hash, sum);
	if (memcmp(sum, h + IMG_CHK_CHECK, 8) != 0)
		return img_error(ctx, -EBADMSG,
		    "'%s': chunk record at byte %llu: header checksum mismatch",
		    r->dev->path, (unsigned long long)c->record_pos);
	return 0;
}

/* Reads the rest of a record whose 80-byte header is in h: extents and
 * payload (a raw payload goes straight into rc->data). */
static int
read_record_body(struct img_reader *r, const uint8_t *h,
    struct img_raw_chunk *rc, struct img_ctx *ctx)
{
	struct img_chunk *c = &rc->c;
	uint64_t pos = c->record_pos + IMG_CHUNK_HDR_SIZE;
	size_t ext_len;
	int rc_ = parse_record_header(r, h, c, ctx);

	if (rc_ < 0)
		return rc_;
	ext_len = (size_t)c->nextents * IMG_EXTENT_SIZE;
	rc_ = img_rd(r, r->ext_raw, ext_len, pos, ctx);
	if (rc_ == 0)
		rc_ = check_record_sum(r, h, c, ctx);
	if (rc_ == 0)
		rc_ = decode_extents(r, rc, ctx);
	if (rc_ < 0 || c->stored == 0)
		return rc_;
	return img_rd(r, c->flags & IMG_CHUNK_LZ4 ? rc->payload : rc->data,
	    c->stored, pos + ext_len, ctx);
}

static void __attribute__((format(printf, 2, 3)))
raw_error(struct img_raw_chunk *rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rc->msg, sizeof(rc->msg), fmt, ap);
	va_end(ap);
	rc->rc = -EBADMSG;
}

int
img_raw_chunk_decode(struct img_raw_chunk *rc)
{
	const struct img_chunk *c = &rc->c;
	uint8_t sum[IMG_SHA256_LEN];

	rc->rc = 0;
	rc->msg[0] = '\0';
	if (c->flags & IMG_CHUNK_ZERO) {
		memset(rc->data, 0, c->length);
		return 0;
	}
	if ((c->flags & IMG_CHUNK_LZ4) && img_lz4_decompress(rc->payload,
	    c->stored, rc->data, c->length) < 0) {
		raw_error(rc, "'%s': chunk at offset %llu: compressed data is damaged",
		    rc->path, (unsigned long long)c->offset);
		return rc->rc;
	}
	img_sha256(rc->hash, rc->data, c->length, sum);
	if (memcmp(sum, c->sha256, IMG_SHA256_LEN) != 0)
		raw_error(rc, "'%s': chunk at offset %llu: checksum mismatch",
		    rc->path, (unsigned long long)c->offset);
	return rc->rc;
}

uint32_t
img_raw_chunk_seal(const struct img_raw_chunk *rc)
{
	const struct img_chunk *c = &rc->c;

	if (c->flags & IMG_CHUNK_ZERO)
		return 0;
	return img_crc32c(0, c->flags & IMG_CHUNK_LZ4 ? rc->payload :
	    rc->data, c->stored);
}

int
img_raw_chunk_decode_sealed(struct img_raw_chunk *rc, uint32_t seal)
{
	const struct img_chunk *c = &rc->c;

	rc->rc = 0;
	rc->msg[0] = '\0';
	if (img_raw_chunk_seal(rc) != seal) {
		raw_error(rc, "'%s': chunk at offset %llu changed since the image was checked",
		    rc->path, (unsigned long long)c->offset);
		return rc->rc;
	}
	if (c->flags & IMG_CHUNK_ZERO)
		memset(rc->data, 0, c->length);
	else if ((c->flags & IMG_CHUNK_LZ4) && img_lz4_decompress(rc->payload,
	    c->stored, rc->data, c->length) < 0)	/* cannot happen */
		raw_error(rc, "'%s': chunk at offset %llu: compressed data is damaged",
		    rc->path, (unsigned long long)c->offset);
	return rc->rc;
}

static int
matches_entry(const struct img_chunk *c, const struct img_chunk *e)
{
	return c->seq == e->seq && c->offset == e->offset &&
	    c->length == e->length && c->stored == e->stored &&
	    c->flags == e->flags && c->used == e->used &&
	    memcmp(c->sha256, e->sha256, IMG_SHA256_LEN) == 0;
}

int
img_reader_read_raw(struct img_reader *r, uint64_t i,
    struct img_raw_chunk *rc, struct img_ctx *ctx)
{
	uint8_t h[IMG_CHUNK_HDR_SIZE];
	struct img_chunk e;
	int rc_;

	img_reader_entry(r, i, &e);
	rc->c = e;
	rc->path = r->dev->path;
	rc_ = img_rd(r, h, sizeof(h), e.record_pos, ctx);
	if (rc_ == 0)
		rc_ = read_record_body(r, h, rc, ctx);
	if (rc_ == 0 && !matches_entry(&rc->c, &e))
		rc_ = img_error(ctx, -EBADMSG,
		    "'%s': chunk at offset %llu does not match its index entry",
		    r->dev->path, (unsigned long long)e.offset);
	if (rc_ < 0) {
		/* Name the chunk as the index does: that is trustworthy. */
		rc->c = e;
		rc->c.nextents = 0;
		rc->c.extents = rc->extents;
	}
	return rc_;
}

/* Adds the index entry a stream record implies to the running hash. */
static void
hash_entry(struct img_reader *r, const struct img_chunk *c)
{
	uint8_t e[IMG_INDEX_ENTRY_SIZE];

	img_put_le64(e + IMG_IDX_OFFSET, c->offset);
	img_put_le64(e + IMG_IDX_RECORD_POS, c->record_pos);
	img_put_le32(e + IMG_IDX_LENGTH, c->length);
	img_put_le32(e + IMG_IDX_STORED, c->stored);
	img_put_le32(e + IMG_IDX_FLAGS, c->flags);
	img_put_le32(e + IMG_IDX_USED, c->used);
	memcpy(e + IMG_IDX_SHA256, c->sha256, IMG_SHA256_LEN);
	img_sha256_update(r->entries_hash, e, sizeof(e));
}

/* Reads the index entries of a stream after its 80 bytes in h (the index
 * header and 64 bytes that are the first entry, or the footer's start),
 * hashing them twice: the whole index (the identity) and the entries
 * alone (to compare with the records seen). ftr receives the footer. */
static int
read_stream_index(struct img_reader *r, const uint8_t *h, uint64_t n,
    uint8_t id[IMG_SHA256_LEN], uint8_t listed[IMG_SHA256_LEN],
    uint8_t ftr[IMG_FOOTER_SIZE], struct img_ctx *ctx)
{
	struct img_sha256 *entries = img_sha256_new();
	uint8_t e[IMG_INDEX_ENTRY_SIZE];
	int rc = 0;

	if (!entries)
		return img_error(ctx, -ENOMEM, "out of memory");
	img_sha256_init(r->hash);
	img_sha256_init(entries);
	img_sha256_update(r->hash, h, IMG_INDEX_HDR_SIZE);
	for (uint64_t i = 0; rc == 0 && i < n; i++) {
		if (i == 0)
			memcpy(e, h + IMG_INDEX_HDR_SIZE, sizeof(e));
		else
			rc = img_rd(r, e, sizeof(e), 0, ctx);
		img_sha256_update(r->hash, e, sizeof(e));
		img_sha256_update(entries, e, sizeof(e));
	}
	img_sha256_final(r->hash, id);
	img_sha256_final(entries, listed);
	img_sha256_free(entries);
	if (rc == 0 && n == 0) {
		memcpy(ftr, h + IMG_INDEX_HDR_SIZE, 64);
		rc = img_rd(r, ftr + 64, IMG_FOOTER_SIZE - 64, 0, ctx);
	} else if (rc == 0) {
		rc = img_rd(r, ftr, IMG_FOOTER_SIZE, 0, ctx);
	}
	return rc;
}

/* Stream end: the index must list exactly the records seen. */
static int
finish_stream(struct img_reader *r, const uint8_t *h, struct img_ctx *ctx)
{
	uint64_t index_pos = r->dev->pos - IMG_CHUNK_HDR_SIZE;
	uint64_t n = img_le64(h + 8);
	uint8_t seen[IMG_SHA256_LEN], listed[IMG_SHA256_LEN];
	uint8_t id[IMG_SHA256_LEN], ftr[IMG_FOOTER_SIZE];
	int rc;

	if (n != r->seq)
		return img_error(ctx, -EBADMSG,
		    "'%s': index lists %llu chunks but the image holds %llu",
		    r->dev->path, (unsigned long long)n,
		    (unsigned long long)r->seq);
	rc = read_stream_index(r, h, n, id, listed, ftr, ctx);
	if (rc == 0)
		rc = img_decode_footer(r, ftr, r->dev->pos - IMG_FOOTER_SIZE,
		    ctx);
	if (rc < 0)
		return rc;
	img_sha256_final(r->entries_hash, seen);
	if (r->ftr.index_pos != index_pos ||
	    memcmp(seen, listed, IMG_SHA256_LEN) != 0 ||
	    memcmp(id, r->ftr.identity, IMG_SHA256_LEN) != 0 ||
	    r->ftr.used != r->used_sum || r->ftr.stored != r->stored_sum)
		return img_error(ctx, -EBADMSG,
		    "'%s': index does not match the chunks in the image",
		    r->dev->path);
	r->at_end = 1;
	return 0;
}

static int
next_stream_raw(struct img_reader *r, struct img_raw_chunk *rc,
    struct img_ctx *ctx)
{
	uint8_t h[IMG_CHUNK_HDR_SIZE];
	int rc_;

	memset(&rc->c, 0, sizeof(rc->c));
	rc->path = r->dev->path;
	if (r->broken)
		return img_error(ctx, -EBADMSG,
		    "'%s': cannot read past damage in a stream", r->dev->path);
	rc->c.record_pos = r->dev->pos;
	rc_ = img_rd(r, h, sizeof(h), 0, ctx);
	if (rc_ == 0 && memcmp(h, IMG_INDEX_MAGIC, 4) == 0) {
		rc_ = finish_stream(r, h, ctx);
		if (rc_ == 0)
			return 0;
	} else if (rc_ == 0) {
		rc_ = read_record_body(r, h, rc, ctx);
		if (rc_ == 0 && (rc->c.seq != r->seq || (r->seq > 0 &&
		    !img_chunk_follows(&r->last, &rc->c))))
			rc_ = img_error(ctx, -EBADMSG,
			    "'%s': chunk at offset %llu is out of sequence",
			    r->dev->path, (unsigned long long)rc->c.offset);
	}
	if (rc_ < 0) {
		/* The place in the stream is lost: nothing more to read. */
		r->broken = 1;
		memset(&rc->c, 0, sizeof(rc->c));
		return rc_;
	}
	r->seq++;
	r->last = rc->c;
	r->last.extents = NULL;
	r->used_sum += rc->c.used;
	r->stored_sum += rc->c.stored;
	hash_entry(r, &rc->c);
	return 1;
}

int
img_reader_next_raw(struct img_reader *r, struct img_raw_chunk *rc,
    struct img_ctx *ctx)
{
	int rc_;

	if (r->at_end)
		return 0;
	if (r->stream)
		return next_stream_raw(r, rc, ctx);
	if (r->next >= r->count) {
		r->at_end = 1;
		return 0;
	}
	rc_ = img_reader_read_raw(r, r->next++, rc, ctx);
	return rc_ < 0 ? rc_ : 1;
}

/* The reader's own scratch buffers around the caller's data buffer, for
 * the one-chunk-at-a-time calls below. */
static void
scratch_raw(struct img_reader *r, struct img_raw_chunk *rc, uint8_t *data)
{
	memset(rc, 0, sizeof(*rc));
	rc->extents = r->extents;
	rc->payload = r->payload;
	rc->data = data;
	rc->hash = r->hash;
}

static int
decode_into(struct img_raw_chunk *rc, struct img_chunk *c,
    struct img_ctx *ctx)
{
	*c = rc->c;
	if (img_raw_chunk_decode(rc) < 0)
		return img_error(ctx, rc->rc, "%s", rc->msg);
	return 0;
}

int
img_reader_read(struct img_reader *r, uint64_t i, struct img_chunk *c,
    uint8_t *data, struct img_ctx *ctx)
{
	struct img_raw_chunk rc;
	int rc_;

	scratch_raw(r, &rc, data);
	rc_ = img_reader_read_raw(r, i, &rc, ctx);
	*c = rc.c;
	return rc_ < 0 ? rc_ : decode_into(&rc, c, ctx);
}

int
img_reader_next(struct img_reader *r, struct img_chunk *c, uint8_t *data,
    struct img_ctx *ctx)
{
	struct img_raw_chunk rc;
	int rc_;

	scratch_raw(r, &rc, data);
	rc_ = img_reader_next_raw(r, &rc, ctx);
	*c = rc.c;
	if (rc_ <= 0)
		return rc_;
	return decode_into(&rc, c, ctx) < 0 ? ctx->err : 1;
}
