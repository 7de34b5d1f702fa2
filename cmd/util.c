/*
 * util.c - exit codes, error reporting, usage text, size parsing, and the
 * signal handling that turns Ctrl-C into a clean cancel.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"

/* The one piece of mutable global state: signal handlers can reach
 * nothing else. lib/ polls it through img_ctx_set_cancel. */
static volatile sig_atomic_t interrupted;

int
exit_code_for(int rc)
{
	switch (rc) {
	case 0:
		return EXIT_OK;
	case -EBADMSG:
		return EXIT_DAMAGED;
	case -ENOSPC:
	case -EBUSY:
	case -EXDEV:
	case -EEXIST:
	case -EMEDIUMTYPE:
		return EXIT_REFUSED;
	case -EINVAL:
	case -EISDIR:	/* a directory where a device or file belongs */
		return EXIT_USAGE;
	default:
		return EXIT_FAILED;
	}
}

int
report_error(const char *cmd, int rc, struct img_ctx *ctx)
{
	const char *msg = ctx ? img_ctx_message(ctx) : "";

	if (msg[0])
		fprintf(stderr, "imgtool %s: %s\n", cmd, msg);
	else
		fprintf(stderr, "imgtool %s: %s\n", cmd, strerror(-rc));
	return exit_code_for(rc);
}

void
print_usage(FILE *f, const char *const *usage)
{
	for (int i = 0; usage[i]; i++)
		fprintf(f, "%s\n", usage[i]);
}

int
usage_error(const char *cmd, const char *const *usage, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "imgtool %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	print_usage(stderr, usage);
	return EXIT_USAGE;
}

int
parse_number(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > UINT32_MAX)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int
parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	case '\0': break;
	default: return -1;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

const char *
human_size(uint64_t bytes, char *buf)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB",
	    "PiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(buf, 32, u ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

struct log_arg {
	const char *cmd;
	int quiet;
};

static void
cli_log(enum img_log_level level, const char *msg, void *arg)
{
	const struct log_arg *la = arg;

	if (level == IMG_LOG_INFO && la->quiet)
		return;
	/* start on a clean line if a progress line is being drawn */
	if (isatty(2))
		fputs("\r\033[K", stderr);
	fprintf(stderr, "imgtool %s: %s%s\n", la->cmd,
	    level == IMG_LOG_WARN ? "warning: " :
	    level == IMG_LOG_DEBUG ? "debug " : "", msg);
}

struct img_ctx *
cli_ctx_new(const char *cmd, int quiet)
{
	/* One per process: the log callback's argument lives as long. */
	static struct log_arg la;
	struct sigaction sa;
	struct img_ctx *ctx = img_ctx_new();

	if (!ctx) {
		fprintf(stderr, "imgtool %s: out of memory\n", cmd);
		return NULL;
	}
	la.cmd = cmd;
	la.quiet = quiet;
	img_ctx_set_log(ctx, cli_log, &la);
	img_ctx_set_cancel(ctx, &interrupted);
	if (img_ctx_set_debug(ctx, getenv("IMGTOOL_DEBUG")) < 0)
		fprintf(stderr, "imgtool %s: warning: IMGTOOL_DEBUG='%s': "
		    "the areas are scan, image, restore, lock, view and all\n",
		    cmd, getenv("IMGTOOL_DEBUG"));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* A closed pipe must become a write error, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	return ctx;
}

/* Asks on the controlling terminal, which works even when standard input
 * carries the image. */
int
confirm_on_tty(const struct img_restore_plan *plan, void *arg)
{
	char tsize[32], ssize[32], answer[16] = "";
	FILE *tty;

	(void)arg;
	tty = fopen("/dev/tty", "r+e");
	if (!tty)
		return 0;	/* no terminal after all: nobody to ask */
	if (plan->text)
		fprintf(tty, "%s", plan->text);
	if (plan->target_is_new)
		fprintf(tty, "Create '%s' (%s) from the image? [yes/no] ",
		    plan->target, human_size(plan->source_size, ssize));
	else
		fprintf(tty, "Overwrite %s '%s'%s%s%s (%s) with an image of %s?\n"
		    "Data on it will be lost. Type 'yes' to continue: ",
		    plan->target_is_blockdev ? "device" : "file", plan->target,
		    plan->model ? " [" : "", plan->model ? plan->model : "",
		    plan->model ? "]" : "", human_size(plan->target_size, tsize),
		    human_size(plan->source_size, ssize));
	fflush(tty);
	if (!fgets(answer, sizeof(answer), tty))
		answer[0] = '\0';
	fclose(tty);
	return strcmp(answer, "yes\n") == 0 ? 0 : 1;
}

int
common_option(int c, const char *cmd, const char *const *usage,
    unsigned *threads, int *quiet)
{
	if (c == 'j' && threads) {
		if (parse_number(optarg, threads) < 0 || *threads == 0 ||
		    *threads > 64)
			return usage_error(cmd, usage,
			    "bad thread count '%s' (1 to 64)", optarg);
		return CLI_OPT_NEXT;
	}
	if (c == 'q' && quiet) {
		*quiet = 1;
		return CLI_OPT_NEXT;
	}
	if (c == 'h') {
		print_usage(stdout, usage);
		return EXIT_OK;
	}
	print_usage(stderr, usage);
	return EXIT_USAGE;
}
