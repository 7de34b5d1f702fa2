/*
 * ctx.h - the context every lib/ and formats/ function reports into.
 *
 * Internal: formats/ and the engine see the struct; cmd/ only the opaque
 * handle from imgtool.h. An error message is stored once, where the error is
 * first known; callers may add a prefix (img_error_prefix) but not replace it.
 */
#ifndef IMG_CTX_H
#define IMG_CTX_H

#include "imgtool.h"

#define IMG_MSG_MAX 1024

struct img_ctx {
	char msg[IMG_MSG_MAX];
	int err;
	img_progress_fn progress;
	void *progress_arg;
	img_log_fn log;
	void *log_arg;
	volatile sig_atomic_t *cancel;
	unsigned debug;		/* IMG_DBG_* areas traced */
};

/* Debug areas (img_ctx_set_debug names them). */
enum {
	IMG_DBG_SCAN	= 1 << 0,	/* scanner decisions per region */
	IMG_DBG_IMAGE	= 1 << 1,	/* image files opened and checked */
	IMG_DBG_RESTORE	= 1 << 2,	/* what restore and clone will write */
	IMG_DBG_LOCK	= 1 << 3,	/* locks, claims, held-back areas */
	IMG_DBG_VIEW	= 1 << 4,	/* reads of the view (mount) */
};

/* A debug line for area (formatted only when traced); the area's name is
 * put in front. */
#define img_debug(ctx, area, ...) do {					\
	if ((ctx)->debug & (area))					\
		img_debug_log((ctx), (area), __VA_ARGS__);		\
} while (0)
void img_debug_log(struct img_ctx *ctx, unsigned area, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Stores the message and returns err (a negative errno). */
int img_error(struct img_ctx *ctx, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Like img_error, and appends ": strerror(-err)". */
int img_error_errno(struct img_ctx *ctx, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prepends "prefix: " to the stored message; returns ctx->err. */
int img_error_prefix(struct img_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void img_warn(struct img_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void img_note(struct img_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void img_progress_report(struct img_ctx *ctx, const char *phase,
    uint64_t done, uint64_t total, int finished);
/* Returns -ECANCELED (with a message) when the cancel flag is set. */
int img_check_cancel(struct img_ctx *ctx);

#endif
