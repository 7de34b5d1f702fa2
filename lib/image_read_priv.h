/*
 * image_read_priv.h - the reader's state, shared by image_read.c (header,
 * metadata, footer, index) and chunk_read.c (chunk records). Not for use
 * outside those two files.
 */
#ifndef IMG_IMAGE_READ_PRIV_H
#define IMG_IMAGE_READ_PRIV_H

#include "image_read.h"

struct img_reader {
	struct img_dev *dev;
	int owns_dev;
	int stream;
	int broken;		/* stream position lost: no further records */
	int at_end;
	struct img_header hdr;
	uint8_t *meta;
	uint64_t data_start;
	struct img_footer ftr;
	/* file mode */
	uint8_t *index;		/* entries only */
	uint64_t count;
	uint64_t next;
	/* stream mode */
	uint64_t seq;
	struct img_chunk last;	/* the previous record, for ordering */
	uint64_t used_sum, stored_sum;
	struct img_sha256 *entries_hash;	/* over reconstructed entries */
	/* scratch */
	uint8_t *payload;
	uint8_t *ext_raw;
	uint32_t *extents;
	struct img_sha256 *hash;
};

extern const uint8_t img_zero_sha[IMG_SHA256_LEN];

/* Reads len bytes at pos (file) or next (stream); a short read means the
 * image is truncated (-EBADMSG). */
int img_rd(struct img_reader *r, void *buf, size_t len, uint64_t pos,
    struct img_ctx *ctx);
int img_decode_footer(struct img_reader *r, const uint8_t *b,
    uint64_t footer_pos, struct img_ctx *ctx);
/* Checks the fields a chunk header and an index entry share. */
int img_check_chunk_fields(const struct img_reader *r,
    const struct img_chunk *c, struct img_ctx *ctx);
/* 1 if c may follow prev: in offset order, not overlapping. */
int img_chunk_follows(const struct img_chunk *prev, const struct img_chunk *c);
void img_entry_decode(const uint8_t *e, uint64_t i, struct img_chunk *c);

#endif
