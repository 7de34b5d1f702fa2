/*
 * export.c - `imgtool export IMAGE OUT [--partition N] [--format F]`.
 *
 * raw is written by lib/ (img_export); qcow2 is that raw file converted by
 * qemu-img, which must be installed.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd.h"

static const char *const usage[] = {
	"usage: imgtool export [options] IMAGE OUTPUT",
	"",
	"Write the disk IMAGE holds, or one partition of it, as a plain raw",
	"file. The file is sparse: what the image does not store (and blocks",
	"of zeros) are holes that read as zeros. Every chunk is checked; on",
	"damage the export stops and OUTPUT is removed.",
	"",
	"  -p, --partition N   only partition N (as `imgtool info` numbers it)",
	"  -O, --format F      raw (default) or qcow2 (needs qemu-img)",
	"  -f, --force         replace OUTPUT if it exists",
	"  -q, --quiet         no progress, no summary",
	"  -h, --help          show this help",
	"",
	"exit status: 0 ok, 1 failed, 2 usage, 3 image damaged,",
	"4 OUTPUT exists",
	NULL
};

static const struct option longopts[] = {
	{ "partition", required_argument, NULL, 'p' },
	{ "format", required_argument, NULL, 'O' },
	{ "force", no_argument, NULL, 'f' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* 1 if prog is an executable in $PATH. */
static int
in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)(n ? n : 1),
		    n ? p : ".", prog);
		if (access(buf, X_OK) == 0)
			return 1;
		p += n + (p[n] == ':');
	}
	return 0;
}

/* qemu-img convert raw -> qcow2; its own messages go to stderr. */
static int
to_qcow2(const char *raw, const char *out)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("qemu-img", "qemu-img", "convert", "-q", "-f", "raw",
		    "-O", "qcow2", "--", raw, out, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static int
export_qcow2(struct img_export_opts *opts, struct img_export_result *res,
    struct img_ctx *ctx)
{
	const char *out = opts->output;
	char tmp[PATH_MAX];
	struct stat st;
	int rc;

	if (!opts->force && stat(out, &st) == 0) {
		fprintf(stderr, "imgtool export: '%s' exists; use --force to "
		    "replace it\n", out);
		return EXIT_REFUSED;
	}
	snprintf(tmp, sizeof(tmp), "%s.raw-%ld", out, (long)getpid());
	opts->output = tmp;
	opts->force = 0;
	rc = img_export(opts, res, ctx);
	opts->output = out;
	if (rc < 0)
		return report_error("export", rc, ctx);
	unlink(out);
	rc = to_qcow2(tmp, out);
	unlink(tmp);
	if (rc < 0) {
		unlink(out);
		fprintf(stderr, "imgtool export: qemu-img could not convert "
		    "'%s' to qcow2 '%s'\n", opts->image, out);
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

/* Returns -1 to go on, or the exit status (--help, usage errors). */
static int
parse_args(int argc, char **argv, struct img_export_opts *opts,
    int *qcow2, int *quiet)
{
	unsigned long n;
	char *end;
	int c, rc;

	while ((c = getopt_long(argc, argv, "p:O:fqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || *end || !n || n > UINT32_MAX ||
			    *optarg == '-')
				return usage_error("export", usage,
				    "bad partition number '%s'", optarg);
			opts->partition = (uint32_t)n;
			break;
		case 'O':
			if (strcmp(optarg, "raw") && strcmp(optarg, "qcow2"))
				return usage_error("export", usage,
				    "unknown format '%s' (raw or qcow2)",
				    optarg);
			*qcow2 = strcmp(optarg, "qcow2") == 0;
			break;
		case 'f': opts->force = 1; break;
		default:
			rc = common_option(c, "export", usage, NULL, quiet);
			if (rc != CLI_OPT_NEXT)
				return rc;
		}
	}
	if (argc - optind != 2)
		return usage_error("export", usage,
		    "expected IMAGE and OUTPUT, got %d argument(s)",
		    argc - optind);
	opts->image = argv[optind];
	opts->output = argv[optind + 1];
	return -1;
}

int
cmd_export(int argc, char **argv)
{
	struct img_export_opts opts = { 0 };
	struct img_export_result res;
	struct img_ctx *ctx;
	struct progress *prog;
	int qcow2 = 0, quiet = 0, rc;
	char size[32], data[32];

	rc = parse_args(argc, argv, &opts, &qcow2, &quiet);
	if (rc >= 0)
		return rc;
	if (qcow2 && !in_path("qemu-img")) {
		fprintf(stderr, "imgtool export: qcow2 needs qemu-img, which "
		    "is not installed (apt-get install qemu-utils)\n");
		return EXIT_FAILED;
	}
	ctx = cli_ctx_new("export", quiet);
	if (!ctx)
		return EXIT_FAILED;
	prog = progress_new("export", quiet);
	img_ctx_set_progress(ctx, progress_cb, prog);
	if (qcow2)
		rc = export_qcow2(&opts, &res, ctx);
	else if ((rc = img_export(&opts, &res, ctx)) < 0)
		rc = report_error("export", rc, ctx);
	progress_free(prog);
	if (rc == EXIT_OK && !quiet)
		printf("%s: %s, %s of data%s\n", opts.output,
		    human_size(res.size, size),
		    human_size(res.data_bytes, data),
		    qcow2 ? " (qcow2)" : " (the rest are holes)");
	img_ctx_free(ctx);
	return rc;
}
