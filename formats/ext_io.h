/*
 * ext_io.h - a read-only libext2fs io_manager reading through an img_dev
 * (see ext_io.c).
 */
#ifndef IMG_EXT_IO_H
#define IMG_EXT_IO_H

#include <stddef.h>
#include <stdint.h>

#include <ext2fs/ext2fs.h>

struct img_dev;

/* What a channel reads: dev from byte off on. */
struct ext_io_target {
	struct img_dev *dev;
	uint64_t off;
};

/* The name to give ext2fs_open2 with ext_io_manager to read t. */
void ext_io_name(const struct ext_io_target *t, char *buf, size_t len);

/* Never written to: libext2fs's API takes a non-const pointer. */
extern io_manager const ext_io_manager;

#endif
