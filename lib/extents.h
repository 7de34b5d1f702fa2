/*
 * extents.h - a sorted list of byte ranges (the "used" map of a disk).
 *
 * An extent list scales with the number of used runs, not with the disk
 * size, so a 1 TiB disk holding little data costs little memory.
 */
#ifndef IMG_EXTENTS_H
#define IMG_EXTENTS_H

#include <stddef.h>
#include <stdint.h>

struct img_extent {
	uint64_t off;
	uint64_t len;
};

struct img_extents {
	struct img_extent *v;
	size_t n;
	size_t cap;
	int sorted;		/* cleared by an out-of-order add */
};

void img_extents_init(struct img_extents *e);
void img_extents_free(struct img_extents *e);
/* Adds [off, off+len); merges with the last extent when they touch.
 * Returns 0 or -ENOMEM. len 0 is ignored. */
int img_extents_add(struct img_extents *e, uint64_t off, uint64_t len);
/* Appends every extent of src. */
int img_extents_add_all(struct img_extents *e, const struct img_extents *src);
/* Sorts and merges overlapping or touching extents. */
void img_extents_normalize(struct img_extents *e);
/* Drops everything at or beyond limit. Requires a normalized list. */
void img_extents_clip(struct img_extents *e, uint64_t limit);
/* Sum of lengths (normalized list: bytes covered). */
uint64_t img_extents_total(const struct img_extents *e);
/* Index of the first extent that ends after off (n if none). Requires a
 * normalized list. */
size_t img_extents_seek(const struct img_extents *e, uint64_t off);
/* Bytes of [off, off+len) covered by the (normalized) list. */
uint64_t img_extents_covered(const struct img_extents *e, uint64_t off,
    uint64_t len);

/* An allocation bitmap (bit i, least significant first, marks unit i)
 * turned into extents: unit i is [base + i * unit, + unit). Set bits that
 * follow each other become one extent before they reach the list. */
struct img_bitmap_walk {
	struct img_extents *ext;
	uint64_t base;		/* byte offset of unit 0 */
	uint32_t unit;		/* bytes a bit stands for */
	uint64_t limit;		/* units the bitmap maps; later bits ignored */
	uint64_t used;		/* set bits seen */
	uint64_t first, n;	/* the open run; n 0: none */
};

/* len bitmap bytes that start at byte index at. 0 or -ENOMEM. */
int img_bitmap_walk_bytes(struct img_bitmap_walk *w, const uint8_t *buf,
    size_t len, uint64_t at);
/* Adds the open run (call at the end). 0 or -ENOMEM. */
int img_bitmap_walk_flush(struct img_bitmap_walk *w);

#endif
