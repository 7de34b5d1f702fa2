/*
 * fs_raw.c - the fallback: every byte is used.
 *
 * Anything the scanner does not understand (an unknown TYPE, LUKS, a damaged
 * superblock) is copied in full. Never silently less.
 */
#include "config.h"

#include <stdio.h>

#include "extents.h"
#include "formats.h"

static int
raw_probe(struct img_dev *dev, struct fs_info *fs, struct img_ctx *ctx)
{
	(void)dev;
	(void)ctx;
	fs->block_size = 512;
	fs->block_count = fs->len / 512;
	return 0;
}

static void
raw_describe(const struct fs_info *fs, char *buf, size_t len)
{
	snprintf(buf, len, "%s, copied in full (%llu bytes)",
	    fs->type ? fs->type : "unknown content",
	    (unsigned long long)fs->len);
}

static int
raw_used_extents(struct img_dev *dev, const struct fs_info *fs,
    struct img_extents *used, struct img_ctx *ctx)
{
	(void)dev;
	(void)ctx;
	return img_extents_add(used, fs->off, fs->len);
}

const struct fs_ops fs_raw_ops = {
	.name = "raw",
	.probe = raw_probe,
	.describe = raw_describe,
	.used_extents = raw_used_extents,
};
