/*
 * verify.c - `imgtool verify IMAGE`.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static const char *const usage[] = {
	"usage: imgtool verify [options] IMAGE",
	"       imgtool verify [options] --against DEVICE IMAGE",
	"",
	"Read every chunk of IMAGE, recompute every SHA-256 and check the",
	"index and footer. Each damaged chunk is named by its offset on the",
	"source disk. IMAGE '-' reads from standard input. With --against,",
	"also compare every used byte with DEVICE (a disk or file restored",
	"from IMAGE, or its source) and name each chunk that differs.",
	"",
	"  -a, --against DEVICE  compare the image's used bytes with DEVICE",
	"  -j, --threads N       worker threads (default: one per CPU)",
	"  -q, --quiet           no progress; print only damage",
	"  -h, --help            show this help",
	"",
	"exit status: 0 sound (and equal), 1 differs or could not read,",
	"2 usage, 3 damaged",
	NULL
};

static const struct option longopts[] = {
	{ "against", required_argument, NULL, 'a' },
	{ "threads", required_argument, NULL, 'j' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static void
on_bad_chunk(uint64_t offset, const char *why, void *arg)
{
	(void)arg;
	fprintf(stderr, "imgtool verify: %s chunk at offset %llu: %s\n",
	    strstr(why, "differs") ? "different" : "damaged",
	    (unsigned long long)offset, why);
}

int
cmd_verify(int argc, char **argv)
{
	struct img_verify_opts opts = { .bad_chunk = on_bad_chunk };
	struct img_verify_result res;
	struct img_ctx *ctx;
	struct progress *prog;
	int c, quiet = 0, rc;
	char used[32];

	while ((c = getopt_long(argc, argv, "a:qhj:", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': opts.against = optarg; break;
		default:
			rc = common_option(c, "verify", usage, &opts.threads, &quiet);
			if (rc != CLI_OPT_NEXT)
				return rc;
		}
	}
	if (argc - optind != 1)
		return usage_error("verify", usage,
		    "expected one IMAGE, got %d argument(s)", argc - optind);
	opts.image = argv[optind];
	ctx = cli_ctx_new("verify", quiet);
	if (!ctx)
		return EXIT_FAILED;
	prog = progress_new("verify", quiet);
	img_ctx_set_progress(ctx, progress_cb, prog);
	rc = img_verify(&opts, &res, ctx);
	progress_free(prog);
	if (rc < 0)
		rc = report_error("verify", rc, ctx);
	else if (!quiet)
		printf("%s: OK, %llu chunks, %s of data, identity %s%s%s\n",
		    opts.image, (unsigned long long)res.chunks,
		    human_size(res.used_bytes, used), res.identity,
		    opts.against ? ", same as " : "",
		    opts.against ? opts.against : "");
	img_ctx_free(ctx);
	return rc;
}
