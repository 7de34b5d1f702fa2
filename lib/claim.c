/*
 * claim.c - keep other writers away from what imgtool reads and writes,
 * and name them when they were there first.
 *
 * Two mechanisms, because there are two kinds of other writers:
 *  - flock(2) on the file or device node, against imgtool's own
 *    processes: a backup or clone source is locked shared, a restore or
 *    clone target and an image being written exclusively. Two restores
 *    into one file, or a backup of a file a restore is writing, are
 *    refused instead of mixing their bytes. The kernel drops the lock
 *    when its holder dies, so a lock also tells a dead writer's leftovers
 *    from a live writer's work.
 *  - the kernel's exclusive open of a block device (O_EXCL), which every
 *    program that writes a whole device holds (mkfs, partclone, another
 *    restore) and every mount implies: a source held that way while
 *    nothing mounts it is being written, and is refused.
 * Holders are named from /proc/locks and /proc/PID/fd, as well as can be.
 * Nothing here waits: a held lock is an answer, not a queue.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ctx.h"
#include "dev.h"

/* "pid 123 (imgtool restore a.img t.raw)" from /proc/PID/cmdline, with
 * anything unprintable shown as '?'. */
static void
describe_pid(long pid, char *out, size_t len)
{
	char path[64], cmd[160];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	f = fopen(path, "re");
	if (f) {
		n = fread(cmd, 1, sizeof(cmd) - 1, f);
		fclose(f);
	}
	while (n > 0 && cmd[n - 1] == '\0')
		n--;
	for (size_t i = 0; i < n; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
		else if (!isprint((unsigned char)cmd[i]))
			cmd[i] = '?';
	cmd[n] = '\0';
	if (n)
		snprintf(out, len, "pid %ld (%s)", pid, cmd);
	else
		snprintf(out, len, "pid %ld", pid);
}

/* The pid of a process with a flock on st's inode, from /proc/locks
 * ("1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"); 0 if none is
 * listed (or /proc is not there). */
static long
flock_holder(const struct stat *st)
{
	char line[256], kind[16];
	unsigned maj, min;
	unsigned long long ino;
	long pid, found = 0;
	FILE *f = fopen("/proc/locks", "re");

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strstr(line, "->"))		/* a waiter, not a holder */
			continue;
		if (sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%llu", kind,
		    &pid, &maj, &min, &ino) == 5 &&
		    strcmp(kind, "FLOCK") == 0 && pid != (long)getpid() &&
		    maj == major(st->st_dev) && min == minor(st->st_dev) &&
		    ino == (unsigned long long)st->st_ino)
			found = pid;
	}
	fclose(f);
	return found;
}

/* 1 if the process pid has block device rdev open. */
static int
pid_has_open(const char *pid, dev_t rdev)
{
	char path[600];
	struct dirent *e;
	struct stat st;
	int found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while (!found && (e = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "/proc/%s/fd/%s", pid, e->d_name);
		found = e->d_name[0] != '.' && stat(path, &st) == 0 &&
		    S_ISBLK(st.st_mode) && st.st_rdev == rdev;
	}
	closedir(d);
	return found;
}

/* The first other process with block device rdev open; 0 if none is
 * visible. */
static long
open_holder(dev_t rdev)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	long found = 0;

	if (!d)
		return 0;
	while (!found && (e = readdir(d)) != NULL) {
		long pid = strtol(e->d_name, NULL, 10);

		if (pid > 0 && pid != (long)getpid() &&
		    pid_has_open(e->d_name, rdev))
			found = pid;
	}
	closedir(d);
	return found;
}

void
img_dev_holder(const char *path, char *out, size_t len)
{
	struct stat st;
	long pid = 0;

	out[0] = '\0';
	if (stat(path, &st) < 0)
		return;
	pid = flock_holder(&st);
	if (!pid && S_ISBLK(st.st_mode))
		pid = open_holder(st.st_rdev);
	if (pid)
		describe_pid(pid, out, len);
}

int
img_dev_lock(struct img_dev *dev, int exclusive, struct img_ctx *ctx)
{
	char who[256];

	if (dev->is_stream || dev->map)
		return 0;
	if (flock(dev->fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0) {
		img_debug(ctx, IMG_DBG_LOCK, "'%s': %s lock taken", dev->path,
		    exclusive ? "exclusive" : "shared");
		return 0;
	}
	if (errno != EWOULDBLOCK)
		return 0;	/* a file system without locks: nothing to do */
	img_dev_holder(dev->path, who, sizeof(who));
	return img_error(ctx, -EBUSY, "'%s' is %s by another imgtool%s%s",
	    dev->path, exclusive ? "in use" : "being written",
	    who[0] ? ", " : "", who);
}

/* 1 if the kernel lists holders of the block device (device-mapper or
 * md built on it): they claim it without writing it. */
static int
has_sysfs_holders(dev_t rdev)
{
	char path[96];
	struct dirent *e;
	int found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/holders",
	    major(rdev), minor(rdev));
	d = opendir(path);
	if (!d)
		return 0;
	while (!found && (e = readdir(d)) != NULL)
		found = e->d_name[0] != '.';
	closedir(d);
	return found;
}

int
img_dev_claim(struct img_dev *dev, struct img_ctx *ctx)
{
	char where[64], who[256];
	int fd, rw;

	if (!dev->is_blockdev || dev->map || dev->claim_fd >= 0)
		return 0;
	fd = open(dev->path, O_RDONLY | O_EXCL | O_CLOEXEC);
	if (fd >= 0) {
		dev->claim_fd = fd;
		img_debug(ctx, IMG_DBG_LOCK, "'%s': claimed (O_EXCL)",
		    dev->path);
		return 0;
	}
	if (errno != EBUSY || img_dev_find_mount(dev, where, sizeof(where),
	    &rw) || has_sysfs_holders(dev->rdev))
		return 0;	/* a mount or a volume manager: see callers */
	img_dev_holder(dev->path, who, sizeof(who));
	return img_error(ctx, -EBUSY,
	    "'%s' is held exclusively by another program%s%s; it may be written while it is read (wait for it to finish)",
	    dev->path, who[0] ? ", " : "", who);
}
