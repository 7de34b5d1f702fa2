/*
 * ext_io.c - a read-only libext2fs io_manager over an img_dev.
 *
 * libext2fs opens a filesystem by name through an io_manager; its own
 * unix_io_manager can only read a file or device at an offset. Reading
 * through img_dev instead lets the ext module see whatever the scanner
 * hands it - a partition, or a logical volume whose extents are scattered
 * over the disk (img_dev_open_mapped) - exactly as every other module does.
 *
 * The channel name is "imgdev:<address of a struct ext_io_target>": the
 * only way libext2fs passes anything to an io_manager's open. The target
 * is read once, in open; it need not outlive the call.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <ext2fs/ext2fs.h>

#include "ctx.h"
#include "dev.h"
#include "ext_io.h"

#define NAME_PREFIX "imgdev:"

struct ext_io_private {
	struct img_dev *dev;
	uint64_t off;
	struct img_ctx *ctx;	/* scratch: messages are not kept */
};

void
ext_io_name(const struct ext_io_target *t, char *buf, size_t len)
{
	snprintf(buf, len, NAME_PREFIX "%p", (const void *)t);
}

static errcode_t
imgio_open(const char *name, int flags, io_channel *out)
{
	const struct ext_io_target *t = NULL;
	struct ext_io_private *p = NULL;
	io_channel io = NULL;
	errcode_t code;
	void *ptr;

	if (flags & IO_FLAG_RW)
		return EXT2_ET_RO_UNSUPP_FEATURE;
	if (!name || strncmp(name, NAME_PREFIX, strlen(NAME_PREFIX)) != 0 ||
	    sscanf(name + strlen(NAME_PREFIX), "%p", &ptr) != 1 || !ptr)
		return EXT2_ET_BAD_DEVICE_NAME;
	t = ptr;
	if ((code = ext2fs_get_memzero(sizeof(*io), &io)) != 0)
		return code;
	if ((code = ext2fs_get_memzero(sizeof(*p), &p)) != 0)
		goto fail;
	if ((code = ext2fs_get_mem(strlen(name) + 1, &io->name)) != 0)
		goto fail;
	strcpy(io->name, name);
	p->dev = t->dev;
	p->off = t->off;
	if (!(p->ctx = img_ctx_new())) {
		code = ENOMEM;
		goto fail;
	}
	io->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	io->manager = ext_io_manager;
	io->block_size = 1024;
	io->refcount = 1;
	io->private_data = p;
	*out = io;
	return 0;
fail:
	if (io)
		ext2fs_free_mem(&io->name);
	ext2fs_free_mem(&p);
	ext2fs_free_mem(&io);
	return code;
}

static errcode_t
imgio_close(io_channel io)
{
	struct ext_io_private *p = io->private_data;

	if (--io->refcount > 0)
		return 0;
	img_ctx_free(p->ctx);
	ext2fs_free_mem(&p);
	ext2fs_free_mem(&io->name);
	ext2fs_free_mem(&io);
	return 0;
}

static errcode_t
imgio_set_blksize(io_channel io, int blksize)
{
	io->block_size = blksize;
	return 0;
}

/* count > 0: blocks; count < 0: -count bytes (libext2fs's convention) */
static errcode_t
imgio_read_blk64(io_channel io, unsigned long long block, int count,
    void *data)
{
	struct ext_io_private *p = io->private_data;
	uint64_t len = count < 0 ? (uint64_t)-(int64_t)count :
	    (uint64_t)count * (uint64_t)io->block_size;
	uint64_t at = (uint64_t)block * (uint64_t)io->block_size;
	int rc;

	if (at > UINT64_MAX - p->off - len)
		return EXT2_ET_LLSEEK_FAILED;
	rc = img_dev_pread(p->dev, data, (size_t)len, p->off + at, p->ctx);
	if (rc == -ENODATA)
		return EXT2_ET_SHORT_READ;
	return rc < 0 ? (errcode_t)-rc : 0;
}

static errcode_t
imgio_read_blk(io_channel io, unsigned long block, int count, void *data)
{
	return imgio_read_blk64(io, block, count, data);
}

static errcode_t
imgio_write_blk64(io_channel io, unsigned long long block, int count,
    const void *data)
{
	(void)io; (void)block; (void)count; (void)data;
	return EXT2_ET_RO_UNSUPP_FEATURE;
}

static errcode_t
imgio_write_blk(io_channel io, unsigned long block, int count,
    const void *data)
{
	return imgio_write_blk64(io, block, count, data);
}

static errcode_t
imgio_flush(io_channel io)
{
	(void)io;
	return 0;
}

static struct struct_io_manager ext_io_ops = {
	.magic = EXT2_ET_MAGIC_IO_MANAGER,
	.name = "imgtool img_dev I/O manager",
	.open = imgio_open,
	.close = imgio_close,
	.set_blksize = imgio_set_blksize,
	.read_blk = imgio_read_blk,
	.write_blk = imgio_write_blk,
	.flush = imgio_flush,
	.read_blk64 = imgio_read_blk64,
	.write_blk64 = imgio_write_blk64,
};

io_manager const ext_io_manager = &ext_io_ops;
