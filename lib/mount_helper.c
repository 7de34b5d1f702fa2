/*
 * mount_helper.c - the kernel side of `imgtool mount --partition` and of
 * `imgtool umount`: mount point checks, a read-only loop device over a
 * partition file that the FUSE server serves, the read-only filesystem
 * mount, and the teardown in the only order that works (filesystem, loop
 * device, FUSE directory).
 *
 * Every step is recorded in a state file, IMG_MOUNT_RUN_DIR/KEY.state, KEY
 * derived from the mount point, before the next one starts, so a teardown
 * finds everything even when the serving process was killed. Each teardown
 * step checks the kernel's own view (/proc/self/mountinfo, the loop
 * device's backing file) first, so it can be repeated safely. This file
 * does not serve FUSE; cmd/ does.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "ctx.h"
#include "imgtool.h"
#include "mount_util.h"

extern char **environ;

int
img_mount_check_point(const char *dir, char *abs, size_t len,
    struct img_ctx *ctx)
{
	char real[PATH_MAX];
	int rc;

	if (!realpath(dir, real))
		return img_error_errno(ctx, -errno, "mount point '%s'", dir);
	if (strchr(real, '\n') || strlen(real) >= len)
		return img_error(ctx, -EINVAL,
		    "mount point '%s': unusable path", dir);
	rc = dir_is_empty(real);
	if (rc < 0)
		return img_error_errno(ctx, rc, "mount point '%s'", dir);
	if (rc == 0)
		return img_error(ctx, -EBUSY, "mount point '%s' is not empty",
		    dir);
	snprintf(abs, len, "%s", real);
	return 0;
}

int
img_mount_prepare(struct img_mount_state *st, const char *mountpoint,
    struct img_ctx *ctx)
{
	char key[33];

	memset(st, 0, sizeof(*st));
	snprintf(st->mountpoint, sizeof(st->mountpoint), "%s", mountpoint);
	state_key(mountpoint, key);
	if (mkdir(IMG_MOUNT_RUN_DIR, 0700) < 0 && errno != EEXIST)
		return img_error_errno(ctx, -errno, "cannot create '%s'",
		    IMG_MOUNT_RUN_DIR);
	snprintf(st->fuse_dir, sizeof(st->fuse_dir), "%s/%s.d",
	    IMG_MOUNT_RUN_DIR, key);
	if (state_load(mountpoint, st) == 0 || is_mounted(st->fuse_dir))
		return img_error(ctx, -EBUSY,
		    "'%s' has an imgtool mount already (imgtool umount '%s')",
		    mountpoint, mountpoint);
	if (mkdir(st->fuse_dir, 0700) < 0 && errno != EEXIST)
		return img_error_errno(ctx, -errno, "cannot create '%s'",
		    st->fuse_dir);
	st->pid = (long)getpid();
	st->pid_start = pid_start_time(st->pid);
	return state_save(st, ctx);
}

/* Options that keep a read-only mount from writing: no journal replay. */
static const char *
ro_options(const char *fstype)
{
	if (strcmp(fstype, "ext3") == 0 || strcmp(fstype, "ext4") == 0)
		return "noload";
	if (strcmp(fstype, "xfs") == 0)
		return "norecovery";
	return "";
}

/* Types that hold no mountable filesystem at all. */
static int
never_mountable(const char *fstype)
{
	static const char *const types[] = { "", "swap", "swsuspend",
	    "LVM2_member", "crypto_LUKS", "linux_raid_member", NULL };

	for (int i = 0; types[i]; i++)
		if (strcmp(fstype, types[i]) == 0)
			return 1;
	return 0;
}

/* The fallback: the FUSE directory itself, bound at the mount point. */
static int
bind_fuse_dir(struct img_mount_state *st, struct img_ctx *ctx)
{
	if (mount(st->fuse_dir, st->mountpoint, NULL, MS_BIND, NULL) < 0)
		return img_error_errno(ctx, -errno, "cannot bind '%s' on '%s'",
		    st->fuse_dir, st->mountpoint);
	snprintf(st->mounted, sizeof(st->mounted), "bind");
	return state_save(st, ctx);
}

static int
mount_fs(struct img_mount_state *st, const char *fstype, char *why,
    size_t len)
{
	unsigned long flags = MS_RDONLY | MS_NODEV | MS_NOSUID;

	if (mount(st->loop, st->mountpoint, fstype, flags,
	    ro_options(fstype)) < 0) {
		int err = errno;

		snprintf(why, len, "the kernel cannot mount '%s' (%s)", fstype,
		    err == ENODEV ? "no driver for this filesystem type" :
		    strerror(err));
		return -err;
	}
	snprintf(st->mounted, sizeof(st->mounted), "%s", fstype);
	return 0;
}

/* Loop device, then the mount. 0 mounted, 1 the kernel refused (the loop
 * device is gone again, the reason in why), <0 error with nothing left. */
static int
loop_and_mount(struct img_mount_state *st, const char *fstype,
    unsigned sector_size, char *why, size_t len, struct img_ctx *ctx)
{
	int loop_fd, rc;

	rc = state_save(st, ctx);	/* the backing file first */
	if (rc == 0)
		rc = loop_attach(st->backing, sector_size, st->loop,
		    sizeof(st->loop), &loop_fd, ctx);
	if (rc < 0)
		return rc;
	rc = state_save(st, ctx);
	if (rc == 0 && mount_fs(st, fstype, why, len) == 0) {
		rc = state_save(st, ctx);
		if (rc < 0) {
			umount2(st->mountpoint, UMOUNT_NOFOLLOW);
			st->mounted[0] = '\0';
		}
	}
	/* autoclear: the device goes away with its last user */
	close(loop_fd);
	if (rc == 0 && st->mounted[0])
		return 0;
	loop_detach(st->loop, st->backing);
	st->loop[0] = '\0';
	return rc < 0 ? rc : 1;
}

int
img_mount_attach(struct img_mount_state *st, const char *fstype,
    unsigned sector_size, struct img_ctx *ctx)
{
	char why[256];
	int rc;

	if (!fstype[0])
		snprintf(why, sizeof(why),
		    "no filesystem was recognised in it at backup");
	else if (never_mountable(fstype) ||
	    strlen(fstype) >= sizeof(st->mounted))
		snprintf(why, sizeof(why), "it holds '%.64s', which is not a "
		    "filesystem the kernel mounts", fstype);
	else {
		rc = loop_and_mount(st, fstype, sector_size, why, sizeof(why),
		    ctx);
		if (rc <= 0)
			return rc;
	}
	rc = bind_fuse_dir(st, ctx);
	if (rc < 0)
		return rc;
	return img_error(ctx, 1, "%s", why);
}

static int
run_fusermount(const char *dir, struct img_ctx *ctx)
{
	char *const argv[] = { "fusermount3", "-u", "-q", "--", (char *)dir,
	    NULL };
	pid_t pid;
	int status, rc;

	rc = posix_spawnp(&pid, "fusermount3", NULL, NULL, argv, environ);
	if (rc != 0)
		return img_error_errno(ctx, -rc, "cannot run fusermount3");
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return img_error_errno(ctx, -errno, "fusermount3");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return img_error(ctx, -EBUSY, "fusermount3 -u '%s' failed",
		    dir);
	return 0;
}

int
img_fuse_unmount(const char *dir, struct img_ctx *ctx)
{
	if (geteuid() != 0)
		return run_fusermount(dir, ctx);
	if (umount2(dir, UMOUNT_NOFOLLOW) < 0)
		return img_error_errno(ctx, -errno, "cannot unmount '%s'", dir);
	return 0;
}

/* Waits up to 10 s for the server to exit (its FUSE directory is gone,
 * so it will), so the image is closed when umount returns. */
static void
wait_server(const struct img_mount_state *st)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	if (st->pid <= 0 || st->pid == (long)getpid())
		return;
	for (int i = 0; i < 500; i++) {
		if (pid_start_time(st->pid) != st->pid_start)
			return;
		nanosleep(&ts, NULL);
	}
}

/* Step 1: the filesystem (or bind mount) at the mount point, if it is
 * still the one we made. */
static int
unmount_top(const struct img_mount_state *st, struct img_ctx *ctx)
{
	struct mount_entry me;

	if (!st->mounted[0] || !find_mount(st->mountpoint, &me))
		return 0;
	if (strcmp(st->mounted, "bind") == 0 ?
	    strcmp(me.fstype, "fuse.imgtool") != 0 :
	    strcmp(me.source, st->loop) != 0)
		return img_error(ctx, -EBUSY,
		    "'%s' has another mount on top of imgtool's; "
		    "unmount it first",
		    st->mountpoint);
	if (umount2(st->mountpoint, UMOUNT_NOFOLLOW) < 0)
		return img_error_errno(ctx, -errno, "cannot unmount '%s'",
		    st->mountpoint);
	return 0;
}

static int
teardown(struct img_mount_state *st, struct img_ctx *ctx)
{
	char state[PATH_MAX], dev[64];
	int rc;

	/* A server that died may leave a thread waiting for its own FUSE
	 * answer (killed in the middle of setup), and the kernel waiting
	 * with it. A forced unmount attempt aborts the connection, so every
	 * such request fails at once; it usually fails itself (busy). */
	if (pid_start_time(st->pid) != st->pid_start &&
	    is_mounted(st->fuse_dir))
		umount2(st->fuse_dir, MNT_FORCE | UMOUNT_NOFOLLOW);
	rc = unmount_top(st, ctx);
	if (rc < 0)
		return rc;
	/* Every loop device over the FUSE directory, also one attached
	 * just before the server died and not yet recorded. */
	rc = loop_detach_under(st->fuse_dir, dev, sizeof(dev));
	if (rc < 0)
		return img_error_errno(ctx, rc, "cannot detach '%s'", dev);
	/* The kernel lets go of the partition file a moment after the loop
	 * device is cleared (or the connection aborted): retry for 2 s. */
	for (int i = 0; is_mounted(st->fuse_dir); i++) {
		rc = img_fuse_unmount(st->fuse_dir, ctx);
		if (rc == 0)
			break;
		if (rc != -EBUSY || i == 100)
			return rc;
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	}
	rmdir(st->fuse_dir);
	state_path(st->mountpoint, state, sizeof(state));
	unlink(state);
	wait_server(st);
	return 0;
}

int
img_umount(const char *mountpoint, struct img_ctx *ctx)
{
	struct img_mount_state st;
	struct mount_entry me;
	char abs[PATH_MAX];

	if (abs_path(mountpoint, abs, sizeof(abs)) < 0)
		return img_error(ctx, -EINVAL, "'%s': path too long",
		    mountpoint);
	if (state_load(abs, &st) == 0)
		return teardown(&st, ctx);
	if (find_mount(abs, &me) && strcmp(me.fstype, "fuse.imgtool") == 0)
		return img_fuse_unmount(abs, ctx);
	return img_error(ctx, -EINVAL, "'%s' is not an imgtool mount",
	    mountpoint);
}
