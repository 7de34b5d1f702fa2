/*
 * ctx.c - error messages, warnings, progress and cancellation.
 *
 * The context is the only place engine state that outlives a call is kept;
 * there is no global mutable state in lib/ or formats/.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"

struct img_ctx *
img_ctx_new(void)
{
	return calloc(1, sizeof(struct img_ctx));
}

void
img_ctx_free(struct img_ctx *ctx)
{
	free(ctx);
}

const char *
img_ctx_message(const struct img_ctx *ctx)
{
	return ctx->msg;
}

void
img_ctx_set_progress(struct img_ctx *ctx, img_progress_fn fn, void *arg)
{
	ctx->progress = fn;
	ctx->progress_arg = arg;
}

void
img_ctx_set_log(struct img_ctx *ctx, img_log_fn fn, void *arg)
{
	ctx->log = fn;
	ctx->log_arg = arg;
}

void
img_ctx_set_cancel(struct img_ctx *ctx, volatile sig_atomic_t *flag)
{
	ctx->cancel = flag;
}

int
img_error(struct img_ctx *ctx, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->msg, sizeof(ctx->msg), fmt, ap);
	va_end(ap);
	ctx->err = err;
	return err;
}

int
img_error_errno(struct img_ctx *ctx, int err, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	vsnprintf(ctx->msg, sizeof(ctx->msg), fmt, ap);
	va_end(ap);
	len = strlen(ctx->msg);
	snprintf(ctx->msg + len, sizeof(ctx->msg) - len, ": %s", strerror(-err));
	ctx->err = err;
	return err;
}

int
img_error_prefix(struct img_ctx *ctx, const char *fmt, ...)
{
	char old[IMG_MSG_MAX];
	size_t len;
	va_list ap;

	memcpy(old, ctx->msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(ctx->msg, sizeof(ctx->msg), fmt, ap);
	va_end(ap);
	len = strlen(ctx->msg);
	if (len + 2 < sizeof(ctx->msg)) {
		memcpy(ctx->msg + len, ": ", 2);
		snprintf(ctx->msg + len + 2, sizeof(ctx->msg) - len - 2, "%s",
		    old);
	}
	return ctx->err;
}

static void
log_message(struct img_ctx *ctx, enum img_log_level level, const char *fmt,
    va_list ap)
{
	char buf[IMG_MSG_MAX];

	if (!ctx->log)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	ctx->log(level, buf, ctx->log_arg);
}

void
img_warn(struct img_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_message(ctx, IMG_LOG_WARN, fmt, ap);
	va_end(ap);
}

void
img_note(struct img_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_message(ctx, IMG_LOG_INFO, fmt, ap);
	va_end(ap);
}

void
img_progress_report(struct img_ctx *ctx, const char *phase, uint64_t done,
    uint64_t total, int finished)
{
	struct img_progress p = {
		.phase = phase, .done = done, .total = total,
		.finished = finished,
	};

	if (ctx->progress)
		ctx->progress(&p, ctx->progress_arg);
}

int
img_check_cancel(struct img_ctx *ctx)
{
	if (ctx->cancel && *ctx->cancel)
		return img_error(ctx, -ECANCELED, "interrupted");
	return 0;
}

static const struct {
	const char *name;
	unsigned mask;
} debug_areas[] = {
	{ "scan", IMG_DBG_SCAN },
	{ "image", IMG_DBG_IMAGE },
	{ "restore", IMG_DBG_RESTORE },
	{ "lock", IMG_DBG_LOCK },
	{ "view", IMG_DBG_VIEW },
	{ "all", ~0u },
};

int
img_ctx_set_debug(struct img_ctx *ctx, const char *spec)
{
	int rc = 0;

	ctx->debug = 0;
	while (spec && *spec) {
		size_t n = strcspn(spec, ",");
		size_t i;

		for (i = 0; i < sizeof(debug_areas) / sizeof(*debug_areas); i++)
			if (strlen(debug_areas[i].name) == n &&
			    strncmp(spec, debug_areas[i].name, n) == 0)
				break;
		if (i < sizeof(debug_areas) / sizeof(*debug_areas))
			ctx->debug |= debug_areas[i].mask;
		else if (n)
			rc = -EINVAL;
		spec += n + (spec[n] == ',');
	}
	return rc;
}

void
img_debug_log(struct img_ctx *ctx, unsigned area, const char *fmt, ...)
{
	char buf[IMG_MSG_MAX];
	const char *name = "debug";
	int n;
	va_list ap;

	for (size_t i = 0; i < sizeof(debug_areas) / sizeof(*debug_areas); i++)
		if (debug_areas[i].mask == area)
			name = debug_areas[i].name;
	n = snprintf(buf, sizeof(buf), "%s: ", name);
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	if (ctx->log)
		ctx->log(IMG_LOG_DEBUG, buf, ctx->log_arg);
}
