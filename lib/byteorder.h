/*
 * byteorder.h - explicit little- and big-endian loads and stores, for every
 * on-disk structure imgtool reads or writes (its own image format and the
 * filesystems in formats/). Never cast a struct onto a raw buffer.
 */
#ifndef IMG_BYTEORDER_H
#define IMG_BYTEORDER_H

#include <stdint.h>

static inline uint16_t
img_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t
img_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static inline uint64_t
img_le64(const uint8_t *p)
{
	return (uint64_t)img_le32(p) | (uint64_t)img_le32(p + 4) << 32;
}

static inline uint16_t
img_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
img_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
img_be64(const uint8_t *p)
{
	return (uint64_t)img_be32(p) << 32 | img_be32(p + 4);
}

static inline void
img_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void
img_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void
img_put_le64(uint8_t *p, uint64_t v)
{
	img_put_le32(p, (uint32_t)v);
	img_put_le32(p + 4, (uint32_t)(v >> 32));
}

#endif
