/*
 * grow.c - grow a restored filesystem into its extended partition with the
 * filesystem's own tool: resize2fs for ext2/3/4 (which opens "path?offset="
 * itself), ntfsresize for NTFS (through a loop device over the partition).
 * XFS and btrfs can only grow while mounted, so they are reported and left
 * alone.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctx.h"
#include "dev.h"
#include "restore_priv.h"

extern char **environ;

/* Runs argv with its output discarded; returns its exit status or -errno. */
static int
run_quietly(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	int status, rc;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	/* nobody answers a prompt: stdin is empty */
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -rc;
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Runs "losetup -f --show -o OFF --sizelimit LEN path" and reads the
 * device name it prints into dev. */
static int
attach_loop(const char *path, uint64_t off, uint64_t len, char *dev,
    size_t n)
{
	char o[32], l[32], *p = (char *)path;
	char *argv[] = { "losetup", "-f", "--show", "-o", o, "--sizelimit", l,
	    p, NULL };
	posix_spawn_file_actions_t fa;
	int pipefd[2], status, rc;
	ssize_t got;
	pid_t pid;

	snprintf(o, sizeof(o), "%llu", (unsigned long long)off);
	snprintf(l, sizeof(l), "%llu", (unsigned long long)len);
	if (pipe(pipefd) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_addclose(&fa, pipefd[0]);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	got = rc == 0 ? read(pipefd[0], dev, n - 1) : -1;
	close(pipefd[0]);
	if (rc != 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0 || got <= 0)
		return -ENODEV;
	dev[got] = '\0';
	dev[strcspn(dev, "\n")] = '\0';
	return 0;
}

static int
grow_ntfs(struct img_dev *dev, const struct img_region *r, uint64_t new_len,
    struct img_ctx *ctx)
{
	char loop[64];
	char *resize[] = { "ntfsresize", "-f", "-f", loop, NULL };
	char *detach[] = { "losetup", "-d", loop, NULL };
	int rc;

	if (attach_loop(dev->path, r->start, new_len, loop, sizeof(loop)) < 0) {
		img_note(ctx, "partition %u was extended; no loop device could be attached to grow its ntfs filesystem: run ntfsresize on that partition",
		    r->number);
		return 0;
	}
	rc = run_quietly(resize);
	run_quietly(detach);
	if (rc != 0)
		return img_error(ctx, rc < 0 ? rc : -EIO,
		    "'%s': ntfsresize of partition %u failed (%d)", dev->path,
		    r->number, rc);
	img_note(ctx, "partition %u and its ntfs filesystem now take %llu bytes",
	    r->number, (unsigned long long)new_len);
	return 0;
}

static int
grow_ext(struct img_dev *dev, const struct img_region *r, uint64_t new_len,
    struct img_ctx *ctx)
{
	char spec[4200], size[32];
	char *fsck[] = { "e2fsck", "-f", "-p", spec, NULL };
	char *resize[] = { "resize2fs", spec, size, NULL };
	int rc;

	/* e2fsprogs opens "path?offset=N" at that byte offset */
	snprintf(spec, sizeof(spec), "%s?offset=%llu", dev->path,
	    (unsigned long long)r->start);
	snprintf(size, sizeof(size), "%lluK", (unsigned long long)(new_len / 1024));
	rc = run_quietly(fsck);
	if (rc < 0 || rc > 1)
		return img_error(ctx, rc < 0 ? rc : -EIO,
		    "'%s': e2fsck before growing partition %u failed (%d)",
		    dev->path, r->number, rc);
	rc = run_quietly(resize);
	if (rc != 0)
		return img_error(ctx, rc < 0 ? rc : -EIO,
		    "'%s': resize2fs of partition %u failed (%d)", dev->path,
		    r->number, rc);
	img_note(ctx, "partition %u and its %s filesystem now take %llu bytes",
	    r->number, r->fstype, (unsigned long long)new_len);
	return 0;
}

int
img_grow_fs(struct img_dev *dev, const struct img_region *r,
    uint64_t new_len, struct img_ctx *ctx)
{
	if (strncmp(r->fstype, "ext", 3) == 0)
		return grow_ext(dev, r, new_len, ctx);
	if (strcmp(r->fstype, "ntfs") == 0)
		return grow_ntfs(dev, r, new_len, ctx);
	if (strcmp(r->fstype, "xfs") == 0 || strcmp(r->fstype, "btrfs") == 0)
		img_note(ctx, "partition %u was extended; %s grows only while mounted: run xfs_growfs or 'btrfs filesystem resize max' on its mount point",
		    r->number, r->fstype);
	else
		img_note(ctx, "partition %u was extended; its %s filesystem was left at its size",
		    r->number, r->fstype[0] ? r->fstype : "unknown");
	return 0;
}
