/*
 * dev.h - block devices, regular files and pipes, with full-length I/O.
 *
 * Every read and write here either transfers the whole buffer or fails with
 * a message naming the file and the offset. Pipes ("streams") support only
 * sequential reads and writes.
 */
#ifndef IMG_DEV_H
#define IMG_DEV_H

#include <stdint.h>
#include <sys/types.h>

struct img_ctx;

enum {
	IMG_DEV_READ	= 0,
	IMG_DEV_WRITE	= 1 << 0,	/* open read-write */
	IMG_DEV_CREATE	= 1 << 1,	/* create a regular file if missing */
	IMG_DEV_EXCL	= 1 << 2,	/* O_EXCL on block devices (not mounted) */
	IMG_DEV_DIRECT	= 1 << 3,	/* also open with O_DIRECT for reads */
	IMG_DEV_NOFOLLOW = 1 << 4,	/* refuse a symbolic link (O_NOFOLLOW) */
};

/* One piece of a mapped device: len bytes at dev_off of the parent. */
struct img_dev_piece {
	uint64_t dev_off, len;
};

struct img_dev {
	int fd;
	char *path;		/* as given, for messages */
	uint64_t size;		/* bytes (0 for streams) */
	unsigned sector_size;	/* logical sector size (512 for files) */
	int is_blockdev;
	int is_stream;		/* pipe or terminal: no seeks */
	int created;		/* the file did not exist before */
	dev_t st_dev;		/* identity, for "is the source" checks */
	ino_t st_ino;
	dev_t rdev;		/* block devices only */
	uint64_t pos;		/* streams: bytes transferred so far */
	int owns_fd;
	int direct_fd;		/* O_DIRECT twin of fd for aligned reads, or -1 */
	int claim_fd;		/* img_dev_claim's O_EXCL descriptor, or -1 */
	/* img_dev_pread_sparse's memory of the file's map: [known_off,
	 * known_end) is all data (known_data) or all hole. SEEK_HOLE inside
	 * a large unwritten extent walks the page cache and costs
	 * milliseconds; a chunk-by-chunk reader would pay it per chunk. */
	uint64_t known_off, known_end;
	int known_data;
	/* Set by the caller of a file or device it writes: each page written
	 * goes to the disk at once (sync_file_range), so the disk works while
	 * the CPUs compress and the final fsync finds little left to do. */
	int writeback;
	uint64_t written_back;	/* img_dev_write: pages below this started */
	/* A mapped device (img_dev_open_mapped): its bytes are the pieces,
	 * in order; fd is the parent's. NULL otherwise. */
	struct img_dev_piece *map;
	unsigned nmap;
};

/* Opens path; returns 0 or -errno (message names the path). */
int img_dev_open(const char *path, int flags, struct img_dev **out,
    struct img_ctx *ctx);
/* Wraps an already open descriptor (standard input/output); name is used in
 * messages. The descriptor is not closed by img_dev_close. */
int img_dev_from_fd(int fd, const char *name, struct img_dev **out,
    struct img_ctx *ctx);
/* A read-only device whose bytes are the n pieces of parent, one after
 * the other (an LVM logical volume whose extents are scattered over a
 * PV). Reads go to parent's descriptor, which must stay open; messages
 * name it "PARENT (name)". Writes fail with -EROFS. */
int img_dev_open_mapped(struct img_dev *parent,
    const struct img_dev_piece *pieces, unsigned n, const char *name,
    struct img_dev **out, struct img_ctx *ctx);
/* Closes and frees; accepts NULL. */
void img_dev_close(struct img_dev *dev);

/* 0, -EIO on an I/O error, -ENODATA when the data ends early. */
int img_dev_pread(struct img_dev *dev, void *buf, size_t len, uint64_t off,
    struct img_ctx *ctx);
int img_dev_pwrite(struct img_dev *dev, const void *buf, size_t len,
    uint64_t off, struct img_ctx *ctx);
/* Like img_dev_pread, but holes of a sparse regular file are not read:
 * they are zero-filled in buf (reading a hole costs as much as data).
 * For a source that does not change while it is read: the hole map is
 * remembered between calls. */
int img_dev_pread_sparse(struct img_dev *dev, void *buf, size_t len,
    uint64_t off, struct img_ctx *ctx);
/* Sequential (stream) versions; the position is dev->pos. */
int img_dev_read(struct img_dev *dev, void *buf, size_t len,
    struct img_ctx *ctx);
int img_dev_write(struct img_dev *dev, const void *buf, size_t len,
    struct img_ctx *ctx);
/* Skips len bytes of a stream (reads them) or advances the position. */
int img_dev_skip(struct img_dev *dev, uint64_t len, struct img_ctx *ctx);
int img_dev_sync(struct img_dev *dev, struct img_ctx *ctx);
/* Makes [off, off+len) read as zeros: BLKZEROOUT on block devices, a
 * punched hole in files, written zeros where neither works. */
int img_dev_zero(struct img_dev *dev, uint64_t off, uint64_t len,
    struct img_ctx *ctx);

/* Discards [off, off+len): BLKDISCARD on block devices, a punched hole in
 * files; 0 also when the device cannot discard (it is only a hint). */
int img_dev_discard(struct img_dev *dev, uint64_t off, uint64_t len,
    struct img_ctx *ctx);
/* Asks the kernel to re-read a block device's partition table; -errno
 * (no message) when it refuses, e.g. -EBUSY. */
int img_dev_reread_partitions(struct img_dev *dev);

/* 1 if both name the same file or device. */
int img_dev_same(const struct img_dev *a, const struct img_dev *b);

/* Looks for a mount of dev, of one of its partitions, or (for a file) of a
 * loop device backed by it. Returns 1 and fills where/rw when found, 0 when
 * not mounted. */
int img_dev_find_mount(const struct img_dev *dev, char *where, size_t len,
    int *rw);
/* claim.c */
/* Locks dev against other imgtool processes without waiting: shared for a
 * source being read, exclusive for a target or an image being written.
 * The lock lasts until dev is closed (or its holder dies). -EBUSY, naming
 * the holder, when another process holds a conflicting lock; 0 for
 * streams and on file systems without locks. */
int img_dev_lock(struct img_dev *dev, int exclusive, struct img_ctx *ctx);
/* For a block-device source: claims it with O_EXCL until dev is closed,
 * so that nothing mounts or claims it while it is read. -EBUSY, naming
 * the holder, when another program holds it exclusively and it is not
 * mounted (a restore, mkfs or partclone writing it); 0 when a mount or a
 * volume manager holds it (the caller's mount policy decides), and for
 * files. */
int img_dev_claim(struct img_dev *dev, struct img_ctx *ctx);
/* "pid N (command line)" of a process holding path: a flock on it, or
 * for a block device any process with it open; "" when none is seen. */
void img_dev_holder(const char *path, char *out, size_t len);

/* Model and serial from sysfs ("ATA Foo 1TB (serial X)"), or "" */
void img_dev_describe(const struct img_dev *dev, char *buf, size_t len);

#endif
