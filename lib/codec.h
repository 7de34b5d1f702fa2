/*
 * codec.h - thin wrappers over OpenSSL EVP SHA-256 and LZ4 that return
 * -errno and leave a message, plus hex formatting.
 */
#ifndef IMG_CODEC_H
#define IMG_CODEC_H

#include <stddef.h>
#include <stdint.h>

struct img_ctx;

#define IMG_SHA256_LEN 32

struct img_sha256;	/* an incremental SHA-256 (EVP_MD_CTX) */

struct img_sha256 *img_sha256_new(void);
void img_sha256_free(struct img_sha256 *h);
void img_sha256_init(struct img_sha256 *h);
void img_sha256_update(struct img_sha256 *h, const void *data, size_t len);
void img_sha256_final(struct img_sha256 *h, uint8_t out[IMG_SHA256_LEN]);
/* One-shot; h is a scratch context (reused to avoid allocation). */
void img_sha256(struct img_sha256 *h, const void *data, size_t len,
    uint8_t out[IMG_SHA256_LEN]);

/* Worst-case compressed size for len bytes. */
size_t img_lz4_bound(size_t len);
/* Returns the compressed size, or 0 if the data does not shrink. */
size_t img_lz4_compress(const void *src, size_t len, void *dst, size_t cap);
/* Decompresses exactly out_len bytes; -EBADMSG if the input is malformed
 * or decodes to any other length. Never writes past dst + out_len. */
int img_lz4_decompress(const void *src, size_t len, void *dst, size_t out_len);

/* CRC-32 (IEEE 802.3, as zlib and GPT) and CRC-32C (Castagnoli, as
 * btrfs and XFS). Start with crc 0; feeding the result back in continues
 * the same checksum over more data. */
uint32_t img_crc32(uint32_t crc, const void *data, size_t len);
uint32_t img_crc32c(uint32_t crc, const void *data, size_t len);
/* The same without the CPU's crc32 instruction (for tests). */
uint32_t img_crc32c_portable(uint32_t crc, const void *data, size_t len);

/* 1 if all len bytes are zero. */
int img_is_zero(const void *buf, size_t len);
/* Writes 2*n hex digits and a NUL. */
void img_hex(const uint8_t *bytes, size_t n, char *out);

#endif
