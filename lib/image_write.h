/*
 * image_write.h - encode chunks and write an image front to back.
 *
 * Encoding (zero detection, LZ4, SHA-256) is separate from writing so that
 * it can run on worker threads; the writer only numbers records, appends
 * them, and remembers the index.
 */
#ifndef IMG_IMAGE_WRITE_H
#define IMG_IMAGE_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "image_fmt.h"

struct img_ctx;
struct img_dev;

/* Maximum used extents in one chunk: writers align extents to 512 bytes
 * and merge touching ones, so at most every other sector starts one. */
#define IMG_MAX_EXTENTS(chunk_size) ((chunk_size) / 1024 + 1)

/* One chunk being encoded. The caller fills offset, length, data (length
 * bytes, unused parts zeroed) and the used extents (relative to offset;
 * nextents 0 = the whole chunk); img_chunk_encode does the rest. */
struct img_chunk_buf {
	uint64_t offset;
	uint32_t length;
	uint32_t nextents;
	uint32_t *extents;	/* 2 * IMG_MAX_EXTENTS: off, len pairs */
	uint8_t *data;		/* chunk_size bytes */
	int known_zero;		/* all used bytes are zero; data not filled */
	uint8_t *comp;		/* img_lz4_bound(chunk_size) bytes */
	/* results */
	uint32_t flags;
	uint32_t used;
	const uint8_t *payload;
	uint32_t stored;
	uint8_t sha256[IMG_SHA256_LEN];
	struct img_sha256 *hash;	/* scratch hash context */
};

int img_chunk_buf_init(struct img_chunk_buf *c, unsigned chunk_size);
void img_chunk_buf_free(struct img_chunk_buf *c);
/* Sets flags, used, payload, stored and sha256. Cannot fail. */
void img_chunk_encode(struct img_chunk_buf *c);

struct img_writer_params {
	uint64_t source_size;
	unsigned sector_size;
	unsigned chunk_size;
	uint32_t flags;		/* IMG_IMAGE_* */
	const uint8_t *meta;	/* encoded metadata records */
	size_t meta_len;
};

struct img_writer;

/* Writes the header and metadata to out (a file or a stream). */
int img_writer_open(struct img_dev *out, const struct img_writer_params *p,
    struct img_writer **wp, struct img_ctx *ctx);
/* Appends one encoded chunk; chunks must come in increasing offset. */
int img_writer_add(struct img_writer *w, const struct img_chunk_buf *c,
    struct img_ctx *ctx);
/* Writes index and footer. identity receives the hex identity (65). */
int img_writer_finish(struct img_writer *w, char identity[65],
    struct img_ctx *ctx);
void img_writer_free(struct img_writer *w);
uint64_t img_writer_chunks(const struct img_writer *w);
uint64_t img_writer_stored(const struct img_writer *w);
uint64_t img_writer_used(const struct img_writer *w);
uint64_t img_writer_bytes(const struct img_writer *w);

/* Metadata record encoding: appends a record to a growing buffer. */
struct img_meta_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};
int img_meta_add(struct img_meta_buf *m, uint16_t type, uint16_t flags,
    const void *payload, uint32_t len);
void img_meta_free(struct img_meta_buf *m);

/* Writes the 80-byte record header for c with sequence number seq into
 * hdr, and the extents into ext (nextents * 8 bytes). Shared with tests
 * that build hostile records. */
void img_chunk_header_encode(const struct img_chunk_buf *c, uint64_t seq,
    uint8_t hdr[IMG_CHUNK_HDR_SIZE], uint8_t *ext);

#endif
