/*
 * codec.c - SHA-256 through OpenSSL's EVP interface, LZ4 block compression.
 */
#include "config.h"

#include <errno.h>
#include <lz4.h>
#include <openssl/evp.h>
#include <string.h>

#include "codec.h"

struct img_sha256 *
img_sha256_new(void)
{
	return (struct img_sha256 *)EVP_MD_CTX_new();
}

void
img_sha256_free(struct img_sha256 *h)
{
	EVP_MD_CTX_free((EVP_MD_CTX *)h);
}

void
img_sha256_init(struct img_sha256 *h)
{
	EVP_DigestInit_ex((EVP_MD_CTX *)h, EVP_sha256(), NULL);
}

void
img_sha256_update(struct img_sha256 *h, const void *data, size_t len)
{
	EVP_DigestUpdate((EVP_MD_CTX *)h, data, len);
}

void
img_sha256_final(struct img_sha256 *h, uint8_t out[IMG_SHA256_LEN])
{
	unsigned n = IMG_SHA256_LEN;

	EVP_DigestFinal_ex((EVP_MD_CTX *)h, out, &n);
}

void
img_sha256(struct img_sha256 *h, const void *data, size_t len,
    uint8_t out[IMG_SHA256_LEN])
{
	img_sha256_init(h);
	img_sha256_update(h, data, len);
	img_sha256_final(h, out);
}

size_t
img_lz4_bound(size_t len)
{
	return (size_t)LZ4_compressBound((int)len);
}

size_t
img_lz4_compress(const void *src, size_t len, void *dst, size_t cap)
{
	int n = LZ4_compress_default(src, dst, (int)len, (int)cap);

	if (n <= 0 || (size_t)n >= len)
		return 0;
	return (size_t)n;
}

int
img_lz4_decompress(const void *src, size_t len, void *dst, size_t out_len)
{
	int n = LZ4_decompress_safe(src, dst, (int)len, (int)out_len);

	if (n < 0 || (size_t)n != out_len)
		return -EBADMSG;
	return 0;
}

/* The CRC tables, computed by the preprocessor: no run-time setup and no
 * mutable state. One step of the reflected CRC for polynomial P: */
#define CRC_STEP(P, c)	(((c) >> 1) ^ ((P) & (0u - ((c) & 1u))))
#define CRC_8(P, c)	CRC_STEP(P, CRC_STEP(P, CRC_STEP(P, CRC_STEP(P, \
			CRC_STEP(P, CRC_STEP(P, CRC_STEP(P, CRC_STEP(P, c))))))))
#define CRC_4(P, i)	CRC_8(P, (i) + 0u), CRC_8(P, (i) + 1u), \
			CRC_8(P, (i) + 2u), CRC_8(P, (i) + 3u)
#define CRC_16(P, i)	CRC_4(P, i), CRC_4(P, (i) + 4u), CRC_4(P, (i) + 8u), \
			CRC_4(P, (i) + 12u)
#define CRC_64(P, i)	CRC_16(P, i), CRC_16(P, (i) + 16u), \
			CRC_16(P, (i) + 32u), CRC_16(P, (i) + 48u)
#define CRC_TABLE(P)	{ CRC_64(P, 0u), CRC_64(P, 64u), CRC_64(P, 128u), \
			CRC_64(P, 192u) }

static const uint32_t crc32_table[256] = CRC_TABLE(0xEDB88320u);
static const uint32_t crc32c_table[256] = CRC_TABLE(0x82F63B78u);

static uint32_t
crc_update(const uint32_t *table, uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;

	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

uint32_t
img_crc32(uint32_t crc, const void *data, size_t len)
{
	return crc_update(crc32_table, crc, data, len);
}

uint32_t
img_crc32c_portable(uint32_t crc, const void *data, size_t len)
{
	return crc_update(crc32c_table, crc, data, len);
}

#if defined(__x86_64__) && defined(__GNUC__)
/* SSE4.2's crc32 instruction computes CRC-32C: ~20x the table. */
__attribute__((target("sse4.2"))) static uint32_t
crc32c_sse42(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t c = ~crc & 0xffffffffu;

	for (; len >= 8; p += 8, len -= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	for (; len > 0; p++, len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p);
	return ~(uint32_t)c;
}
#endif

uint32_t
img_crc32c(uint32_t crc, const void *data, size_t len)
{
#if defined(__x86_64__) && defined(__GNUC__)
	if (__builtin_cpu_supports("sse4.2"))
		return crc32c_sse42(crc, data, len);
#endif
	return img_crc32c_portable(crc, data, len);
}

int
img_is_zero(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	/* Compare the buffer with itself shifted by 16 bytes: memcmp is
	 * vectorised, so this runs near memory bandwidth. */
	if (len < 16) {
		for (size_t i = 0; i < len; i++)
			if (p[i])
				return 0;
		return 1;
	}
	for (size_t i = 0; i < 16; i++)
		if (p[i])
			return 0;
	return memcmp(p, p + 16, len - 16) == 0;
}

void
img_hex(const uint8_t *bytes, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * n] = '\0';
}
