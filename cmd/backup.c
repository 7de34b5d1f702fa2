/*
 * backup.c - `imgtool backup SOURCE IMAGE`.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"

static const char *const usage[] = {
	"usage: imgtool backup [options] SOURCE IMAGE",
	"",
	"Copy the used blocks of SOURCE (a disk, a partition or a disk image",
	"file) into IMAGE, LZ4-compressed and SHA-256-checksummed. IMAGE '-'",
	"writes to standard output.",
	"",
	"  -f, --force            overwrite IMAGE if it exists",
	"      --raw              copy every byte; do not read filesystems",
	"      --direct           read the source with O_DIRECT (keeps the page cache)",
	"      --force-mounted    copy a filesystem mounted read-write anyway",
	"      --chunk-size SIZE  chunk size, a power of two from 4K to 16M (default 2M)",
	"  -j, --threads N       worker threads (default: one per CPU)",
	"  -q, --quiet            no progress and no summary",
	"  -h, --help             show this help",
	NULL
};

static const struct option longopts[] = {
	{ "force", no_argument, NULL, 'f' },
	{ "raw", no_argument, NULL, 'r' },
	{ "force-mounted", no_argument, NULL, 'M' },
	{ "direct", no_argument, NULL, 'D' },
	{ "chunk-size", required_argument, NULL, 'c' },
	{ "threads", required_argument, NULL, 'j' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static void
print_summary(FILE *f, const struct img_backup_result *res)
{
	char used[32], image[32], src[32];

	fprintf(f, "source %s, used %s, image %s (%.2fx of used), %llu chunks\n"
	    "identity %s\n", human_size(res->source_size, src),
	    human_size(res->used_bytes, used),
	    human_size(res->image_bytes, image),
	    res->image_bytes ? (double)res->used_bytes /
	    (double)res->image_bytes : 0.0,
	    (unsigned long long)res->chunks, res->identity);
}

int
cmd_backup(int argc, char **argv)
{
	struct img_backup_opts opts = { 0 };
	struct img_backup_result res;
	struct img_ctx *ctx;
	struct progress *prog;
	uint64_t size;
	int c, quiet = 0, rc;

	while ((c = getopt_long(argc, argv, "fqhj:", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': opts.force = 1; break;
		case 'r': opts.raw = 1; break;
		case 'M': opts.force_mounted = 1; break;
		case 'D': opts.direct = 1; break;
		case 'c':
			if (parse_size(optarg, &size) < 0 || size > UINT32_MAX)
				return usage_error("backup", usage,
				    "bad chunk size '%s'", optarg);
			opts.chunk_size = (unsigned)size;
			break;
		default:
			rc = common_option(c, "backup", usage, &opts.threads, &quiet);
			if (rc != CLI_OPT_NEXT)
				return rc;
		}
	}
	if (argc - optind != 2)
		return usage_error("backup", usage,
		    "expected SOURCE and IMAGE, got %d argument(s)",
		    argc - optind);
	opts.source = argv[optind];
	opts.image = argv[optind + 1];
	if (strcmp(opts.image, "-") == 0 && isatty(1))
		return usage_error("backup", usage,
		    "refusing to write an image to a terminal");
	ctx = cli_ctx_new("backup", quiet);
	if (!ctx)
		return EXIT_FAILED;
	prog = progress_new("backup", quiet);
	img_ctx_set_progress(ctx, progress_cb, prog);
	rc = img_backup(&opts, &res, ctx);
	progress_free(prog);
	if (rc < 0)
		rc = report_error("backup", rc, ctx);
	else if (!quiet)
		/* stdout may carry the image: the summary goes to stderr then */
		print_summary(strcmp(opts.image, "-") ? stdout : stderr, &res);
	img_ctx_free(ctx);
	return rc;
}
