/*
 * mount_util.h - small Linux helpers for mount_helper.c: the mount table,
 * loop devices, processes and the per-mount-point state file. Internal to
 * lib/.
 */
#ifndef IMG_MOUNT_UTIL_H
#define IMG_MOUNT_UTIL_H

#include <stddef.h>

#include "imgtool.h"

struct mount_entry {
	char fstype[64];
	char source[4096];
};

/* 1 and *me for the topmost mount at path (absolute), 0 if none. */
int find_mount(const char *path, struct mount_entry *me);
int is_mounted(const char *path);
/* 1 empty directory, 0 not empty, -errno (-ENOTDIR, -ENOENT...). */
int dir_is_empty(const char *path);
/* The start time of a live process (clock ticks since boot), 0 if it is
 * gone or a zombie. */
unsigned long long pid_start_time(long pid);
/* realpath, or for a path that cannot be resolved (a dead FUSE mount) the
 * path made absolute by hand; -1 if it does not fit. */
int abs_path(const char *path, char *out, size_t len);

/* Attaches file read-only (autoclear) to a free loop device; *fd is the
 * open device, to be closed once something else holds it. */
int loop_attach(const char *file, unsigned sector_size, char *dev,
    size_t len, int *fd, struct img_ctx *ctx);
/* Detaches dev if its backing file is still backing; 0 if it is not bound
 * (any more); -errno. */
int loop_detach(const char *dev, const char *backing);
/* Detaches every loop device whose backing file is inside dir; -errno and
 * the device in *dev (size len) on the first failure. */
int loop_detach_under(const char *dir, char *dev, size_t len);

/* The state file: IMG_MOUNT_RUN_DIR/KEY.state, KEY from the mount point. */
void state_key(const char *mountpoint, char key[33]);
void state_path(const char *mountpoint, char *out, size_t len);
int state_save(const struct img_mount_state *st, struct img_ctx *ctx);
/* 0 and *st if a state file for mountpoint exists, else -ENOENT. */
int state_load(const char *mountpoint, struct img_mount_state *st);

#endif
