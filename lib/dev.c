/*
 * dev.c - open, size, read and write block devices, files and pipes, and
 * find out whether a device (or a file behind a loop device) is mounted.
 *
 * It does not decide policy: callers choose whether a mount is fatal.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ctx.h"
#include "dev.h"

static int
fill_from_stat(struct img_dev *dev, const struct stat *st, struct img_ctx *ctx)
{
	dev->st_dev = st->st_dev;
	dev->st_ino = st->st_ino;
	dev->sector_size = 512;
	if (S_ISBLK(st->st_mode)) {
		uint64_t size;
		int ssz;

		dev->is_blockdev = 1;
		dev->rdev = st->st_rdev;
		if (ioctl(dev->fd, BLKGETSIZE64, &size) < 0)
			return img_error_errno(ctx, -errno,
			    "'%s': cannot read device size", dev->path);
		dev->size = size;
		if (ioctl(dev->fd, BLKSSZGET, &ssz) == 0 && ssz > 0)
			dev->sector_size = (unsigned)ssz;
	} else if (S_ISREG(st->st_mode)) {
		dev->size = (uint64_t)st->st_size;
	} else if (S_ISDIR(st->st_mode)) {
		return img_error(ctx, -EISDIR, "'%s' is a directory",
		    dev->path);
	} else {
		dev->is_stream = 1;
	}
	return 0;
}

static struct img_dev *
dev_alloc(const char *path)
{
	struct img_dev *dev = calloc(1, sizeof(*dev));

	if (!dev)
		return NULL;
	dev->path = strdup(path);
	if (!dev->path) {
		free(dev);
		return NULL;
	}
	dev->fd = -1;
	dev->direct_fd = -1;
	dev->claim_fd = -1;
	return dev;
}

/* O_EXCL refused: say who holds the device, where that can be seen. */
static int
busy_error(const char *path, struct img_ctx *ctx)
{
	char where[256], who[256];
	struct img_dev probe = { .path = (char *)path, .fd = -1 };
	struct stat st;
	int rw;

	if (stat(path, &st) == 0) {
		probe.is_blockdev = S_ISBLK(st.st_mode);
		probe.rdev = st.st_rdev;
		probe.st_dev = st.st_dev;
		probe.st_ino = st.st_ino;
	}
	if (img_dev_find_mount(&probe, where, sizeof(where), &rw))
		return img_error(ctx, -EBUSY, "'%s' is mounted on %s", path,
		    where);
	img_dev_holder(path, who, sizeof(who));
	return img_error(ctx, -EBUSY,
	    "'%s' is in use: held exclusively by %s", path,
	    who[0] ? who : "another program (a volume manager, or a program writing it)");
}

int
img_dev_open(const char *path, int flags, struct img_dev **out,
    struct img_ctx *ctx)
{
	struct img_dev *dev;
	struct stat st;
	int oflags = O_CLOEXEC, rc, existed;

	*out = NULL;
	dev = dev_alloc(path);
	if (!dev)
		return img_error(ctx, -ENOMEM, "out of memory");
	existed = stat(path, &st) == 0;
	oflags |= (flags & IMG_DEV_WRITE) ? O_RDWR : O_RDONLY;
	if ((flags & IMG_DEV_CREATE) && !existed)
		oflags |= O_CREAT | O_EXCL;
	/* O_EXCL on a block device fails with EBUSY if it is mounted or
	 * claimed by the kernel (md, dm, another O_EXCL opener). */
	if ((flags & IMG_DEV_EXCL) && existed && S_ISBLK(st.st_mode))
		oflags |= O_EXCL;
	if (flags & IMG_DEV_NOFOLLOW)
		oflags |= O_NOFOLLOW;
	/* a file imgtool creates holds disk data: only its owner reads it */
	dev->fd = open(path, oflags, 0600);
	if (dev->fd < 0) {
		rc = -errno;
		img_dev_close(dev);
		if (rc == -EBUSY)
			return busy_error(path, ctx);
		return img_error_errno(ctx, rc, "cannot open '%s'", path);
	}
	dev->owns_fd = 1;
	dev->created = !existed;
	/* Reads that bypass the page cache, where the kernel allows them;
	 * without, the cached fd serves every read. */
	if (flags & IMG_DEV_DIRECT)
		dev->direct_fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fstat(dev->fd, &st) < 0) {
		rc = img_error_errno(ctx, -errno, "cannot stat '%s'", path);
		goto fail;
	}
	rc = fill_from_stat(dev, &st, ctx);
	if (rc < 0)
		goto fail;
	*out = dev;
	return 0;
fail:
	img_dev_close(dev);
	return rc;
}

int
img_dev_from_fd(int fd, const char *name, struct img_dev **out,
    struct img_ctx *ctx)
{
	struct img_dev *dev;
	struct stat st;
	int rc;

	*out = NULL;
	dev = dev_alloc(name);
	if (!dev)
		return img_error(ctx, -ENOMEM, "out of memory");
	dev->fd = fd;
	if (fstat(fd, &st) < 0) {
		rc = img_error_errno(ctx, -errno, "cannot stat '%s'", name);
		goto fail;
	}
	rc = fill_from_stat(dev, &st, ctx);
	if (rc < 0)
		goto fail;
	/* Standard input/output is used sequentially even if it is a
	 * redirected regular file: "-" promises stream semantics. */
	dev->is_stream = 1;
	*out = dev;
	return 0;
fail:
	img_dev_close(dev);
	return rc;
}

void
img_dev_close(struct img_dev *dev)
{
	if (!dev)
		return;
	if (dev->owns_fd && dev->fd >= 0)
		close(dev->fd);
	if (dev->direct_fd >= 0)
		close(dev->direct_fd);
	if (dev->claim_fd >= 0)
		close(dev->claim_fd);
	free(dev->map);
	free(dev->path);
	free(dev);
}

int
img_dev_open_mapped(struct img_dev *parent,
    const struct img_dev_piece *pieces, unsigned n, const char *name,
    struct img_dev **out, struct img_ctx *ctx)
{
	struct img_dev *dev = calloc(1, sizeof(*dev));
	uint64_t size = 0;
	size_t plen = strlen(parent->path) + strlen(name) + 4;

	*out = NULL;
	for (unsigned i = 0; i < n; i++) {
		if (pieces[i].len == 0 || pieces[i].dev_off > parent->size ||
		    pieces[i].len > parent->size - pieces[i].dev_off) {
			free(dev);
			return img_error(ctx, -EINVAL,
			    "'%s': piece %u of '%s' lies outside it",
			    parent->path, i, name);
		}
		size += pieces[i].len;
	}
	if (!dev || n == 0 || !(dev->path = malloc(plen)) ||
	    !(dev->map = malloc(n * sizeof(*dev->map)))) {
		img_dev_close(dev);
		return img_error(ctx, n ? -ENOMEM : -EINVAL,
		    "'%s': cannot map '%s'", parent->path, name);
	}
	snprintf(dev->path, plen, "%s (%s)", parent->path, name);
	memcpy(dev->map, pieces, n * sizeof(*dev->map));
	dev->nmap = n;
	dev->fd = parent->fd;
	dev->direct_fd = -1;
	dev->size = size;
	dev->sector_size = parent->sector_size;
	dev->st_dev = parent->st_dev;
	dev->st_ino = parent->st_ino;
	*out = dev;
	return 0;
}

static int pread_fd(struct img_dev *dev, void *buf, size_t len,
    uint64_t off, uint64_t shown, struct img_ctx *ctx);

/* A mapped device: each part of [off, off+len) from its piece. */
static int
pread_mapped(struct img_dev *dev, void *buf, size_t len, uint64_t off,
    struct img_ctx *ctx)
{
	uint64_t base = 0;
	char *p = buf;

	for (unsigned i = 0; i < dev->nmap && len > 0; i++) {
		const struct img_dev_piece *m = &dev->map[i];
		uint64_t n;
		int rc;

		if (off >= base + m->len) {
			base += m->len;
			continue;
		}
		n = base + m->len - off < len ? base + m->len - off : len;
		rc = pread_fd(dev, p, (size_t)n, m->dev_off + (off - base),
		    off, ctx);
		if (rc < 0)
			return rc;
		p += n;
		off += n;
		len -= (size_t)n;
		base += m->len;
	}
	if (len > 0)
		return img_error(ctx, -ENODATA,
		    "'%s': unexpected end of data at offset %llu", dev->path,
		    (unsigned long long)off);
	return 0;
}

/* An O_DIRECT read of the whole range when buffer, offset and length are
 * sector aligned; 0 on success, -1 to fall back to the cached fd. */
static int
pread_direct(struct img_dev *dev, void *buf, size_t len, uint64_t off)
{
	size_t align = dev->sector_size < 512 ? 512 : dev->sector_size;
	char *p = buf;

	if (dev->direct_fd < 0 || ((uintptr_t)buf | off | len) % align)
		return -1;
	while (len > 0) {
		ssize_t n = pread(dev->direct_fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (size_t)n % align)
			return -1;	/* the cached path reports it */
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads len bytes at off of the descriptor; messages give shown as the
 * offset (the logical one of a mapped device). */
static int
pread_fd(struct img_dev *dev, void *buf, size_t len, uint64_t off,
    uint64_t shown, struct img_ctx *ctx)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = pread(dev->fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR && img_check_cancel(ctx) < 0)
			return -ECANCELED;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return img_error_errno(ctx, -EIO,
			    "'%s': read failed at offset %llu (%s)", dev->path,
			    (unsigned long long)shown, strerror(errno));
		if (n == 0)
			return img_error(ctx, -ENODATA,
			    "'%s': unexpected end of data at offset %llu",
			    dev->path, (unsigned long long)shown);
		p += n;
		off += (uint64_t)n;
		shown += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int
img_dev_pread(struct img_dev *dev, void *buf, size_t len, uint64_t off,
    struct img_ctx *ctx)
{
	if (dev->map)
		return pread_mapped(dev, buf, len, off, ctx);
	if (pread_direct(dev, buf, len, off) == 0)
		return 0;
	return pread_fd(dev, buf, len, off, off, ctx);
}

/* Where the data or hole that holds pos ends, from the remembered map or
 * from lseek: sets *is_data and returns the end (at most end), or -1 when
 * the file system cannot tell (no SEEK_DATA). */
static int64_t
map_at(struct img_dev *dev, uint64_t pos, uint64_t end, int *is_data)
{
	off_t data, hole;

	if (pos < dev->known_off || pos >= dev->known_end) {
		data = lseek(dev->fd, (off_t)pos, SEEK_DATA);
		if (data < 0 && errno != ENXIO)
			return -1;
		if (data < 0)		/* a hole up to the end of the file */
			data = (off_t)dev->size;
		if ((uint64_t)data > pos) {
			dev->known_off = pos;
			dev->known_end = (uint64_t)data;
			dev->known_data = 0;
		} else {
			hole = lseek(dev->fd, data, SEEK_HOLE);
			if (hole < 0)
				hole = (off_t)dev->size;
			dev->known_off = pos;
			dev->known_end = (uint64_t)hole;
			dev->known_data = 1;
		}
	}
	*is_data = dev->known_data;
	return (int64_t)(dev->known_end < end ? dev->known_end : end);
}

int
img_dev_pread_sparse(struct img_dev *dev, void *buf, size_t len,
    uint64_t off, struct img_ctx *ctx)
{
	uint64_t end = off + len, pos = off;
	char *p = buf;

	if (dev->is_blockdev || dev->is_stream || dev->map)
		return img_dev_pread(dev, buf, len, off, ctx);
	while (pos < end) {
		int is_data;
		int64_t next = map_at(dev, pos, end, &is_data);

		if (next < 0 || (uint64_t)next <= pos)	/* read it all */
			return img_dev_pread(dev, p + (pos - off), end - pos,
			    pos, ctx);
		if (!is_data)
			memset(p + (pos - off), 0, (uint64_t)next - pos);
		else if (img_dev_pread(dev, p + (pos - off),
		    (size_t)((uint64_t)next - pos), pos, ctx) < 0)
			return ctx->err;
		pos = (uint64_t)next;
	}
	return 0;
}

/* Starts the writeback of the whole pages in [from, to); a hint, so
 * errors are ignored (the final fsync reports real ones). */
static void
start_writeback(struct img_dev *dev, uint64_t from, uint64_t to)
{
	from = (from + 4095) & ~(uint64_t)4095;
	to &= ~(uint64_t)4095;
	if (dev->writeback && !dev->is_stream && to > from)
		(void)sync_file_range(dev->fd, (off_t)from, (off_t)(to - from),
		    SYNC_FILE_RANGE_WRITE);
}

int
img_dev_pwrite(struct img_dev *dev, const void *buf, size_t len, uint64_t off,
    struct img_ctx *ctx)
{
	const char *p = buf;
	uint64_t start = off;

	if (dev->map)
		return img_error(ctx, -EROFS, "'%s' is read-only", dev->path);
	while (len > 0) {
		ssize_t n = pwrite(dev->fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR && img_check_cancel(ctx) < 0)
			return -ECANCELED;
		if (n < 0 && errno == EINTR)
			continue;
		/* Always -EIO: -ENOSPC means "target too small" to callers,
		 * a full disk mid-write is an I/O failure. */
		if (n <= 0)
			return img_error(ctx, -EIO,
			    "'%s': write failed at offset %llu: %s", dev->path,
			    (unsigned long long)off,
			    strerror(n < 0 ? errno : ENOSPC));
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	start_writeback(dev, start, off);
	return 0;
}

int
img_dev_read(struct img_dev *dev, void *buf, size_t len, struct img_ctx *ctx)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(dev->fd, p, len);

		if (n < 0 && errno == EINTR && img_check_cancel(ctx) < 0)
			return -ECANCELED;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return img_error(ctx, -EIO,
			    "'%s': read failed at offset %llu: %s", dev->path,
			    (unsigned long long)dev->pos, strerror(errno));
		if (n == 0)
			return img_error(ctx, -ENODATA,
			    "'%s': unexpected end of data at offset %llu",
			    dev->path, (unsigned long long)dev->pos);
		p += n;
		dev->pos += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int
img_dev_write(struct img_dev *dev, const void *buf, size_t len,
    struct img_ctx *ctx)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(dev->fd, p, len);

		if (n < 0 && errno == EINTR && img_check_cancel(ctx) < 0)
			return -ECANCELED;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return img_error(ctx, -EIO,
			    "'%s': write failed at offset %llu: %s", dev->path,
			    (unsigned long long)dev->pos,
			    strerror(n < 0 ? errno : ENOSPC));
		p += n;
		dev->pos += (uint64_t)n;
		len -= (size_t)n;
	}
	/* the pages finished since the last call (a header may end inside
	 * one that the next write completes) */
	start_writeback(dev, dev->written_back, dev->pos);
	if (dev->writeback && !dev->is_stream)
		dev->written_back = dev->pos & ~(uint64_t)4095;
	return 0;
}

int
img_dev_skip(struct img_dev *dev, uint64_t len, struct img_ctx *ctx)
{
	char buf[65536];

	while (len > 0) {
		size_t n = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		int rc = img_dev_read(dev, buf, n, ctx);

		if (rc < 0)
			return rc;
		len -= n;
	}
	return 0;
}

int
img_dev_sync(struct img_dev *dev, struct img_ctx *ctx)
{
	if (dev->is_stream)
		return 0;
	if (fsync(dev->fd) < 0)
		return img_error_errno(ctx, -EIO, "'%s': fsync failed",
		    dev->path);
	return 0;
}

static int
write_zeros(struct img_dev *dev, uint64_t off, uint64_t len,
    struct img_ctx *ctx)
{
	static const char zeros[65536];

	while (len > 0) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		int rc = img_dev_pwrite(dev, zeros, n, off, ctx);

		if (rc < 0)
			return rc;
		off += n;
		len -= n;
	}
	return 0;
}

int
img_dev_zero(struct img_dev *dev, uint64_t off, uint64_t len,
    struct img_ctx *ctx)
{
	if (len == 0)
		return 0;
	if (dev->is_blockdev) {
		uint64_t range[2] = { off, len };

		if ((off | len) % dev->sector_size == 0 &&
		    ioctl(dev->fd, BLKZEROOUT, range) == 0)
			return 0;
	} else if (!dev->is_stream) {
		if (fallocate(dev->fd, FALLOC_FL_PUNCH_HOLE |
		    FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
			return 0;
	}
	return write_zeros(dev, off, len, ctx);
}

int
img_dev_discard(struct img_dev *dev, uint64_t off, uint64_t len,
    struct img_ctx *ctx)
{
	(void)ctx;
	if (len == 0 || dev->is_stream)
		return 0;
	if (dev->is_blockdev) {
		uint64_t range[2] = { off, len };

		if ((off | len) % dev->sector_size == 0)
			ioctl(dev->fd, BLKDISCARD, range);
		return 0;
	}
	fallocate(dev->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	    (off_t)off, (off_t)len);
	return 0;
}

int
img_dev_reread_partitions(struct img_dev *dev)
{
	if (!dev->is_blockdev)
		return 0;
	return ioctl(dev->fd, BLKRRPART) == 0 ? 0 : -errno;
}

int
img_dev_same(const struct img_dev *a, const struct img_dev *b)
{
	if (a->is_blockdev && b->is_blockdev)
		return a->rdev == b->rdev;
	if (a->is_blockdev || b->is_blockdev || a->is_stream || b->is_stream)
		return 0;
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Reads a small sysfs attribute into buf without the trailing newline. */
static int
read_sysfs(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

/* The whole disk a partition belongs to, or the device itself. */
static dev_t
whole_disk_of(dev_t d)
{
	char path[128], buf[32];
	unsigned ma, mi;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/partition",
	    major(d), minor(d));
	if (access(path, F_OK) != 0)
		return d;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/../dev",
	    major(d), minor(d));
	if (read_sysfs(path, buf, sizeof(buf)) < 0 ||
	    sscanf(buf, "%u:%u", &ma, &mi) != 2)
		return d;
	return makedev(ma, mi);
}

/* 1 if block device d is a loop device whose backing file is dev's file. */
static int
loop_backed_by(dev_t d, const struct img_dev *dev)
{
	char path[128], backing[4096];
	struct stat st;
	char *del;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/loop/backing_file",
	    major(d), minor(d));
	if (read_sysfs(path, backing, sizeof(backing)) < 0)
		return 0;
	del = strstr(backing, " (deleted)");
	if (del)
		*del = '\0';
	if (stat(backing, &st) < 0)
		return 0;
	return st.st_dev == dev->st_dev && st.st_ino == dev->st_ino;
}

static int
mount_matches(dev_t m, const struct img_dev *dev)
{
	if (dev->is_blockdev)
		return m == dev->rdev || whole_disk_of(m) == dev->rdev;
	if (!dev->is_stream)
		return loop_backed_by(m, dev);
	return 0;
}

int
img_dev_find_mount(const struct img_dev *dev, char *where, size_t len,
    int *rw)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[8192];
	int found = 0;

	if (!f)
		return 0;
	*rw = 0;
	/* Look at every mount: a disk may have one partition mounted
	 * read-only and another read-write, and the read-write one is what
	 * the caller must hear about. */
	while (fgets(line, sizeof(line), f)) {
		unsigned ma, mi;
		char mnt[4096], opts[1024];
		int is_rw;

		if (sscanf(line, "%*u %*u %u:%u %*s %4095s %1023s", &ma, &mi,
		    mnt, opts) != 4)
			continue;
		if (!mount_matches(makedev(ma, mi), dev))
			continue;
		is_rw = strncmp(opts, "rw", 2) == 0 &&
		    (opts[2] == ',' || opts[2] == '\0');
		if (!found || (is_rw && !*rw)) {
			snprintf(where, len, "%s", mnt);
			*rw = is_rw;
		}
		found = 1;
	}
	fclose(f);
	return found;
}

void
img_dev_describe(const struct img_dev *dev, char *buf, size_t len)
{
	char path[128], model[128] = "", serial[128] = "";
	dev_t d;

	buf[0] = '\0';
	if (!dev->is_blockdev)
		return;
	d = whole_disk_of(dev->rdev);
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/device/model",
	    major(d), minor(d));
	read_sysfs(path, model, sizeof(model));
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/device/serial",
	    major(d), minor(d));
	read_sysfs(path, serial, sizeof(serial));
	if (model[0] && serial[0])
		snprintf(buf, len, "%s (serial %s)", model, serial);
	else if (model[0])
		snprintf(buf, len, "%s", model);
}
