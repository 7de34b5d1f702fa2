/*
 * umount.c - `imgtool umount MOUNTPOINT`.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>

#include "cmd.h"

static const char *const usage[] = {
	"usage: imgtool umount MOUNTPOINT",
	"",
	"Undo `imgtool mount`: unmount the filesystem at MOUNTPOINT, detach",
	"its loop device and unmount the image's FUSE directory, in that",
	"order, then wait for the serving process to exit. Works also when",
	"that process was killed.",
	"",
	"  -h, --help    show this help",
	"",
	"exit status: 0 ok, 1 failed, 2 not an imgtool mount, 4 busy",
	NULL
};

static const struct option longopts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

int
cmd_umount(int argc, char **argv)
{
	struct img_ctx *ctx;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		default:
			rc = common_option(c, "umount", usage, NULL, NULL);
			if (rc != CLI_OPT_NEXT)
				return rc;
		}
	}
	if (argc - optind != 1)
		return usage_error("umount", usage,
		    "expected one MOUNTPOINT, got %d argument(s)",
		    argc - optind);
	ctx = cli_ctx_new("umount", 1);
	if (!ctx)
		return EXIT_FAILED;
	rc = img_umount(argv[optind], ctx);
	if (rc < 0)
		rc = report_error("umount", rc, ctx);
	img_ctx_free(ctx);
	return rc;
}
