/*
 * mount_fuse.h - the FUSE server behind `imgtool mount` (mount_fuse.c),
 * kept apart from the option handling in mount.c.
 */
#ifndef IMG_MOUNT_FUSE_H
#define IMG_MOUNT_FUSE_H

#include <limits.h>

#include "imgtool.h"

struct mount_job {
	struct img_view *view;
	struct img_ctx *ctx;		/* used by the FUSE reads only */
	const char *image;		/* as given, for the mount table */
	char mountpoint[PATH_MAX];	/* absolute */
	/* The loop helper: the partition to mount (NULL = serve the
	 * directory at mountpoint) and its file name ("part2", "disk"). */
	const struct img_view_part *part;
	char part_file[32];
	int report_fd;		/* daemon: pipe to the parent, else -1 */
	int quiet;
	img_log_fn log;		/* NULL = stderr */
	void *log_arg;
};

/* Serves the image until it is unmounted (`imgtool umount`, or SIGINT,
 * SIGTERM, SIGHUP, which tear the mount down first). Readiness or the
 * setup error is sent to report_fd (one status byte, then a message) or,
 * in the foreground, printed. Returns the exit status. */
int mount_serve(struct mount_job *job);

#endif
