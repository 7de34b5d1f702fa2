/*
 * scan.h - the used-block scanner: partition table -> partitions ->
 * filesystem modules -> one sorted list of used byte ranges, plus a
 * description of every region for the image metadata and `info`.
 */
#ifndef IMG_SCAN_H
#define IMG_SCAN_H

#include <stdint.h>

#include "extents.h"

struct img_ctx;
struct img_dev;
struct img_meta_buf;

struct img_scan_region {
	uint64_t start;
	uint64_t len;
	uint64_t used;		/* bytes of the region marked used */
	unsigned kind;		/* enum img_region_kind */
	unsigned number;	/* partition number, 0 = none */
	unsigned flags;		/* IMG_REGION_* */
	unsigned block_size;
	char fstype[16];
	char pttype[40];
	char label[64];
	char uuid[40];
	char partuuid[40];
	char name[72];
	char note[40];		/* why it was copied in full */
};

struct img_scan {
	struct img_extents used;	/* normalized, within the device */
	struct img_extents zeros;	/* used ranges restored as zeros
					 * without being read */
	char scheme[8];			/* "dos", "gpt", "" */
	char disk_id[40];
	unsigned nparts;
	struct img_scan_region *regions;
	unsigned nregions;
};

/* Scans dev. raw = 1 marks every byte used. Warnings (full copies and
 * why) go to the ctx log. */
int img_scan(struct img_dev *dev, int raw, struct img_scan **out,
    struct img_ctx *ctx);
void img_scan_free(struct img_scan *s);
/* Appends LAYOUT and REGION records describing s. */
int img_scan_encode_meta(const struct img_scan *s, struct img_meta_buf *m);

#endif
