/*
 * info.c - `imgtool info IMAGE [--json]`.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"

static const char *const usage[] = {
	"usage: imgtool info [--json] IMAGE",
	"",
	"Describe IMAGE: format, sizes (source, used, stored, ratio), chunk",
	"counts, identity, and the partitions and filesystems recorded at",
	"backup time. Reads the header and index only; use verify to check",
	"the data.",
	"",
	"  -j, --json    print a JSON object",
	"  -h, --help    show this help",
	NULL
};

static const struct option longopts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

int
cmd_info(int argc, char **argv)
{
	struct img_info *info = NULL;
	struct img_ctx *ctx;
	char *text = NULL;
	int c, json = 0, rc;

	while ((c = getopt_long(argc, argv, "jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		default:
			rc = common_option(c, "info", usage, NULL, NULL);
			if (rc != CLI_OPT_NEXT)
				return rc;
		}
	}
	if (argc - optind != 1)
		return usage_error("info", usage,
		    "expected one IMAGE, got %d argument(s)", argc - optind);
	ctx = cli_ctx_new("info", 1);
	if (!ctx)
		return EXIT_FAILED;
	rc = img_info_open(argv[optind], &info, ctx);
	if (rc == 0)
		rc = img_info_format(info, json, &text, ctx);
	if (rc < 0)
		rc = report_error("info", rc, ctx);
	else
		fputs(text, stdout);
	free(text);
	img_info_free(info);
	img_ctx_free(ctx);
	return rc;
}
