/*
 * clone.c - `imgtool clone SOURCE TARGET`.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cmd.h"

static const char *const usage[] = {
	"usage: imgtool clone [options] SOURCE TARGET",
	"",
	"Copy the used blocks of SOURCE (a disk, partition or disk image file)",
	"straight to TARGET (a disk, partition or file, created if missing),",
	"then read every copied chunk back from TARGET and compare it. TARGET",
	"is checked as for restore: not the source, not mounted, big enough; a",
	"whole disk may go to a bigger disk, or to a smaller one that holds",
	"every partition (the partition table is rewritten for its size).",
	"",
	"  -n, --dry-run          check everything and print the plan; write nothing",
	"  -y, --yes              do not ask for confirmation",
	"      --no-verify        do not read the target back",
	"      --raw              copy every byte; do not read filesystems",
	"      --direct           read the source with O_DIRECT (keeps the page cache)",
	"      --force-mounted    copy a source mounted read-write anyway",
	"  -j, --threads N       worker threads (default: one per CPU)",
	"  -q, --quiet            no progress and no summary",
	"  -h, --help             show this help",
	"",
	"exit status: 0 ok, 1 failed (or read back differently), 2 usage,",
	"4 target refused",
	NULL
};

static const struct option longopts[] = {
	{ "dry-run", no_argument, NULL, 'n' },
	{ "yes", no_argument, NULL, 'y' },
	{ "no-verify", no_argument, NULL, 'V' },
	{ "raw", no_argument, NULL, 'r' },
	{ "force-mounted", no_argument, NULL, 'M' },
	{ "direct", no_argument, NULL, 'D' },
	{ "threads", required_argument, NULL, 'j' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

int
cmd_clone(int argc, char **argv)
{
	struct img_clone_opts opts = { .confirm = confirm_on_tty };
	struct img_clone_result res;
	struct img_ctx *ctx;
	struct progress *prog;
	int c, quiet = 0, rc;
	char used[32], checked[32];

	while ((c = getopt_long(argc, argv, "nyqhj:", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': opts.dry_run = 1; break;
		case 'y': opts.confirm = NULL; break;
		case 'V': opts.no_verify = 1; break;
		case 'r': opts.raw = 1; break;
		case 'M': opts.force_mounted = 1; break;
		case 'D': opts.direct = 1; break;
		default:
			rc = common_option(c, "clone", usage, &opts.threads, &quiet);
			if (rc != CLI_OPT_NEXT)
				return rc;
		}
	}
	if (argc - optind != 2)
		return usage_error("clone", usage,
		    "expected SOURCE and TARGET, got %d argument(s)",
		    argc - optind);
	opts.source = argv[optind];
	opts.target = argv[optind + 1];
	if (!isatty(0) || !isatty(2))
		opts.confirm = NULL;	/* scripts are not asked */
	ctx = cli_ctx_new("clone", quiet);
	if (!ctx)
		return EXIT_FAILED;
	prog = progress_new("clone", quiet);
	img_ctx_set_progress(ctx, progress_cb, prog);
	rc = img_clone(&opts, &res, ctx);
	progress_free(prog);
	if (rc < 0)
		rc = report_error("clone", rc, ctx);
	else if (opts.dry_run)
		printf("dry run, nothing was written:\n%s", res.plan);
	else if (!quiet)
		printf("cloned %s to '%s'%s%s\n", human_size(res.used_bytes, used),
		    opts.target, opts.no_verify ? "" : ", read back and compared ",
		    opts.no_verify ? "" : human_size(res.verified_bytes, checked));
	free(res.plan);
	img_ctx_free(ctx);
	return rc;
}
