/*
 * image_read.h - the bounds-checked image reader.
 *
 * Every byte of an image is hostile: each length, offset, count and flag is
 * checked before it is used, damage gives -EBADMSG and a message naming the
 * image and the logical offset, and nothing is ever written outside the
 * caller's chunk buffer. This is the fuzz target.
 *
 * Two modes: a seekable file (the footer and index are read and checked at
 * open, chunks are read by index entry) and a stream (chunks are read in
 * order; the index and footer are checked when they arrive).
 */
#ifndef IMG_IMAGE_READ_H
#define IMG_IMAGE_READ_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "image_fmt.h"

struct img_ctx;
struct img_dev;

struct img_header {
	uint32_t version;
	uint64_t compat, incompat, ro_compat;
	uint64_t created;
	uint64_t source_size;
	uint32_t sector_size;
	uint32_t chunk_size;
	uint32_t meta_len;
	uint32_t flags;
	char tool[33];
	uint8_t uuid[16];
	uint8_t checksum[IMG_SHA256_LEN];
};

struct img_footer {
	uint64_t index_pos;
	uint64_t index_len;
	uint64_t chunks;
	uint64_t used;
	uint64_t stored;
	uint8_t identity[IMG_SHA256_LEN];
};

/* A decoded chunk record (header fields and extents). */
struct img_chunk {
	uint64_t seq;
	uint64_t offset;
	uint64_t record_pos;
	uint32_t length;
	uint32_t stored;
	uint32_t flags;
	uint32_t used;
	uint32_t nextents;
	const uint32_t *extents;	/* 2 * nextents: off, len (in chunk) */
	uint8_t sha256[IMG_SHA256_LEN];
};

struct img_reader;

/* Opens path ("-" = standard input, read as a stream) and checks the header
 * and metadata; for a seekable file also the footer and the whole index. */
int img_reader_open(const char *path, struct img_reader **out,
    struct img_ctx *ctx);
/* Same, over an already open device (not closed by the reader). */
int img_reader_open_dev(struct img_dev *dev, struct img_reader **out,
    struct img_ctx *ctx);
void img_reader_close(struct img_reader *r);

const struct img_header *img_reader_header(const struct img_reader *r);
const uint8_t *img_reader_meta(const struct img_reader *r);
const char *img_reader_path(const struct img_reader *r);
int img_reader_is_stream(const struct img_reader *r);
/* The footer: valid for a file at once, for a stream after img_reader_next
 * returned 0. */
const struct img_footer *img_reader_footer(const struct img_reader *r);

/* Reads the next chunk record into *c and its content (c->length bytes,
 * unused parts zero) into data (chunk_size bytes). Returns 1 for a chunk,
 * 0 at the end (index and footer checked), <0 on error. A chunk whose
 * content does not match its hash gives -EBADMSG with *c filled; in file
 * mode reading can go on with the next chunk after any -EBADMSG. */
int img_reader_next(struct img_reader *r, struct img_chunk *c, uint8_t *data,
    struct img_ctx *ctx);

/* File mode only: start img_reader_next/next_raw again at the first chunk. */
void img_reader_rewind(struct img_reader *r);
/* File mode only: the number of index entries, and random access. */
uint64_t img_reader_count(const struct img_reader *r);
/* Index entry i as a chunk (no data read). */
void img_reader_entry(const struct img_reader *r, uint64_t i,
    struct img_chunk *c);
/* Reads and checks chunk i into data. */
int img_reader_read(struct img_reader *r, uint64_t i, struct img_chunk *c,
    uint8_t *data, struct img_ctx *ctx);
/* Index of the chunk holding logical offset off, or count if none. */
uint64_t img_reader_find(const struct img_reader *r, uint64_t off);
/* Index of the first chunk that ends after off (count if none). */
uint64_t img_reader_seek(const struct img_reader *r, uint64_t off);

/* One chunk record read from the image but not yet decoded: the unit of
 * work of the restore and verify pipelines. Reading (I/O, in order) and
 * decoding (LZ4 and SHA-256, on any thread) are separate steps. */
#define IMG_RAW_MSG_MAX 1024
struct img_raw_chunk {
	struct img_chunk c;	/* c.extents points at extents below */
	uint32_t *extents;
	uint8_t *payload;	/* LZ4 payload */
	uint8_t *data;		/* content after decoding (chunk_size) */
	struct img_sha256 *hash;
	const char *path;	/* image, for messages */
	int rc;			/* result of img_raw_chunk_decode */
	char msg[IMG_RAW_MSG_MAX];
};

int img_raw_chunk_init(struct img_raw_chunk *rc, unsigned chunk_size);
void img_raw_chunk_free(struct img_raw_chunk *rc);
/* Reads the next record (stream or file order) without decoding it:
 * 1 for a record, 0 at the end (index and footer checked), <0 on damage.
 * A damaged record in a file leaves rc->c filled from the index (so the
 * caller can name it, and go on); in a stream rc->c.length is 0 when the
 * reader lost its place and cannot go on. */
int img_reader_next_raw(struct img_reader *r, struct img_raw_chunk *rc,
    struct img_ctx *ctx);
/* File mode: reads record i without decoding it (0 or <0 as above). */
int img_reader_read_raw(struct img_reader *r, uint64_t i,
    struct img_raw_chunk *rc, struct img_ctx *ctx);
/* Decompresses rc->payload into rc->data and checks the SHA-256. Safe to
 * run on several threads at once for different rc. Sets and returns
 * rc->rc: 0, or -EBADMSG with the reason in rc->msg. */
int img_raw_chunk_decode(struct img_raw_chunk *rc);
/* A fingerprint of the record's payload as read (CRC-32C; 0 for a ZERO
 * chunk), taken after img_raw_chunk_decode accepted it. */
uint32_t img_raw_chunk_seal(const struct img_raw_chunk *rc);
/* Decodes a record whose payload an earlier pass checked and sealed: the
 * same seal means the same bytes, whose content was already hashed, so
 * only LZ4 runs; another seal means the image changed (-EBADMSG). */
int img_raw_chunk_decode_sealed(struct img_raw_chunk *rc, uint32_t seal);

/* Iterates metadata records: returns 1 and sets type/payload/len for the
 * next record after *pos, 0 at the end. Records were bounds-checked at
 * open. */
int img_meta_next(const struct img_reader *r, size_t *pos, uint16_t *type,
    const uint8_t **payload, uint32_t *len);

#endif
