/*
 * restore.c - `imgtool restore IMAGE TARGET`.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"

static const char *const usage[] = {
	"usage: imgtool restore [options] IMAGE TARGET",
	"       imgtool restore [options] --partition N IMAGE TARGET",
	"",
	"Write IMAGE back to TARGET (a disk, a partition, or a file, created",
	"if missing). Before the first write imgtool checks the image (every",
	"chunk, when IMAGE is a file), that TARGET is big enough, not mounted",
	"and not the image, and on a terminal asks for confirmation. A whole",
	"disk may go to a bigger disk, or to a smaller one that holds every",
	"partition; the partition table is rewritten for its size.",
	"IMAGE '-' reads the image from standard input.",
	"",
	"  -p, --partition N     restore only partition N, at the start of TARGET",
	"      --grow            extend the last partition and its filesystem to",
	"                        the end of TARGET (GPT; resize2fs for ext2/3/4)",
	"  -n, --dry-run         check everything and print the plan; write nothing",
	"  -y, --yes             do not ask for confirmation",
	"      --zero            write zeros where the image stores nothing",
	"      --discard         discard (TRIM, or punch holes in a file) there",
	"      --no-check-first  do not read the whole image before writing",
	"  -j, --threads N       worker threads (default: one per CPU)",
	"  -q, --quiet           no progress and no summary",
	"  -h, --help            show this help",
	"",
	"exit status: 0 ok, 1 failed, 2 usage, 3 image damaged, 4 target refused",
	NULL
};

static const struct option longopts[] = {
	{ "yes", no_argument, NULL, 'y' },
	{ "partition", required_argument, NULL, 'p' },
	{ "grow", no_argument, NULL, 'g' },
	{ "dry-run", no_argument, NULL, 'n' },
	{ "discard", no_argument, NULL, 'd' },
	{ "zero", no_argument, NULL, 'z' },
	{ "no-check-first", no_argument, NULL, 'N' },
	{ "threads", required_argument, NULL, 'j' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

int
cmd_restore(int argc, char **argv)
{
	struct img_restore_opts opts = { .confirm = confirm_on_tty };
	struct img_restore_result res;
	struct img_ctx *ctx;
	struct progress *prog;
	int c, quiet = 0, rc;
	char size[32];

	while ((c = getopt_long(argc, argv, "yp:nqhj:", longopts, NULL)) != -1) {
		switch (c) {
		case 'y': opts.confirm = NULL; break;
		case 'p':
			if (parse_number(optarg, &opts.partition) < 0 ||
			    opts.partition == 0)
				return usage_error("restore", usage,
				    "bad partition number '%s'", optarg);
			break;
		case 'g': opts.grow = 1; break;
		case 'n': opts.dry_run = 1; break;
		case 'd': opts.discard_unused = 1; break;
		case 'z': opts.zero_unused = 1; break;
		case 'N': opts.no_preverify = 1; break;
		default:
			rc = common_option(c, "restore", usage, &opts.threads, &quiet);
			if (rc != CLI_OPT_NEXT)
				return rc;
		}
	}
	if (argc - optind != 2)
		return usage_error("restore", usage,
		    "expected IMAGE and TARGET, got %d argument(s)",
		    argc - optind);
	opts.image = argv[optind];
	opts.target = argv[optind + 1];
	/* Only a person at a terminal is asked; scripts and cron are not. */
	if (!isatty(2) || !(isatty(0) || strcmp(opts.image, "-") == 0))
		opts.confirm = NULL;
	ctx = cli_ctx_new("restore", quiet);
	if (!ctx)
		return EXIT_FAILED;
	prog = progress_new("restore", quiet);
	img_ctx_set_progress(ctx, progress_cb, prog);
	rc = img_restore(&opts, &res, ctx);
	progress_free(prog);
	if (rc < 0)
		rc = report_error("restore", rc, ctx);
	else if (opts.dry_run)
		printf("dry run, nothing was written:\n%s", res.plan);
	else if (!quiet)
		printf("restored %s in %llu chunks to '%s'\n",
		    human_size(res.written_bytes, size),
		    (unsigned long long)res.chunks, opts.target);
	free(res.plan);
	img_ctx_free(ctx);
	return rc;
}
