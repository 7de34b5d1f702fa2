/*
 * holdback.h - write what makes a disk look usable last.
 *
 * A restore or clone that dies half way must not leave a target that
 * blkid, a boot loader or firmware takes for a good disk, the old one or
 * the new one. Before the first data write the target's first and last
 * MiB are cleared (the MBR and both GPT headers, boot code, and the
 * signatures of a filesystem that starts or ends there: superblocks, the
 * NTFS backup boot sector); the bytes the copy puts there are kept in
 * memory while the data is written, and written only after the data is
 * on the disk.
 */
#ifndef IMG_HOLDBACK_H
#define IMG_HOLDBACK_H

#include <stdint.h>

struct img_ctx;
struct img_dev;

#define IMG_HOLDBACK_SPAN	(1u << 20)

struct img_holdback {
	unsigned n;			/* ranges in use: 0, 1 or 2 */
	struct {
		uint64_t off, len;	/* target bytes */
		uint8_t *buf;		/* what goes there at the end */
	} r[2];
};

/* Sets up the ranges for a target of size bytes and, unless the target is
 * a new (all-zero) file, zeroes them on dev and syncs. */
int img_holdback_begin(struct img_holdback *hb, struct img_dev *dev,
    uint64_t size, struct img_ctx *ctx);

/* What a write of [off, off+len) does outside the held-back ranges. */
typedef int (*img_holdback_fn)(void *arg, const uint8_t *data, uint64_t off,
    uint64_t len, struct img_ctx *ctx);

/* Applies a write of len bytes at off (data NULL: zeros): the parts that
 * fall in a held-back range go to its buffer, the rest to fn. */
int img_holdback_apply(struct img_holdback *hb, const uint8_t *data,
    uint64_t off, uint64_t len, img_holdback_fn fn, void *arg,
    struct img_ctx *ctx);

/* Writes the held-back bytes and syncs: call after the data is synced. */
int img_holdback_finish(struct img_holdback *hb, struct img_dev *dev,
    struct img_ctx *ctx);

/* After a failure: zeroes the ranges again (the data written may have
 * been written over them by a table rewrite), best effort, no message. */
void img_holdback_abandon(struct img_holdback *hb, struct img_dev *dev);

void img_holdback_free(struct img_holdback *hb);

#endif
