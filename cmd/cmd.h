/*
 * cmd.h - the imgtool front end: the command table, the cmd_* entry points
 * and the helpers they share. Only cmd/ prints and exits.
 */
#ifndef IMG_CMD_H
#define IMG_CMD_H

#include <stdint.h>
#include <stdio.h>

#include "imgtool.h"

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);	/* returns the exit status */
	const char *summary;			/* one line for --help */
};

int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_umount(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_clone(int argc, char **argv);

/* Exit codes, documented in imgtool(8); scripts depend on them. */
enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,	/* the operation failed */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_DAMAGED = 3,	/* the image is damaged */
	EXIT_REFUSED = 4,	/* target refused: too small, mounted, source */
};

/* util.c */
/* Maps a negative errno from lib/ to an exit code. */
int exit_code_for(int rc);
/* Prints "imgtool CMD: message" and returns the exit code for rc. */
int report_error(const char *cmd, int rc, struct img_ctx *ctx);
/* Prints the synopsis lines (NULL-terminated) to f. */
void print_usage(FILE *f, const char *const *usage);
/* Prints "imgtool CMD: message" and the synopsis to stderr; returns 2. */
int usage_error(const char *cmd, const char *const *usage, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
/* The options several commands share: -j/--threads N (when threads is not
 * NULL), -q/--quiet (when quiet is not NULL), -h/--help, and getopt's
 * unknown option. Call it from the switch's default case: it returns
 * CLI_OPT_NEXT when c was handled and parsing goes on, else the exit
 * status to return now (help printed, or a usage error). */
#define CLI_OPT_NEXT (-1)
int common_option(int c, const char *cmd, const char *const *usage,
    unsigned *threads, int *quiet);
/* A decimal number that fits an unsigned: returns 0 or -1. */
int parse_number(const char *s, unsigned *out);
/* "4096", "64K", "1M", "2G": returns 0 or -1. */
int parse_size(const char *s, uint64_t *out);
/* Human size: "1.5 GiB". buf of 32 bytes. */
const char *human_size(uint64_t bytes, char *buf);
/* Asks on /dev/tty whether to write the target described by plan; 0 = yes.
 * Works when standard input carries an image. */
int confirm_on_tty(const struct img_restore_plan *plan, void *arg);
/* A context with the log callback and cancel flag set for command cmd. */
struct img_ctx *cli_ctx_new(const char *cmd, int quiet);

/* progress.c */
struct progress;
/* Returns NULL (no progress) unless enabled and stderr is a terminal. */
struct progress *progress_new(const char *cmd, int quiet);
void progress_free(struct progress *p);
void progress_cb(const struct img_progress *ip, void *arg);

#endif
