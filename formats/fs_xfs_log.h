/*
 * fs_xfs_log.h - does an XFS log need recovery? (for fs_xfs.c)
 */
#ifndef IMG_FS_XFS_LOG_H
#define IMG_FS_XFS_LOG_H

#include <stdint.h>

struct img_ctx;
struct img_dev;

struct xfs_log_area {
	uint64_t off;		/* absolute byte offset of the log */
	uint64_t blocks;	/* length in 512-byte basic blocks, >= 1 */
	int logv2;		/* v2 log: records may have extended headers */
};

/* Reads the log (never writes). 0 = clean: its last record is a lone
 * unmount record; 1 = needs recovery, or a layout not understood; <0 = a
 * read error (message in ctx). */
int fs_xfs_log_state(struct img_dev *dev, const struct xfs_log_area *log,
    struct img_ctx *ctx);

#endif
