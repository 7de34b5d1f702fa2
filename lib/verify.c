/*
 * verify.c - img_verify(): read every chunk of an image, recompute every
 * hash, and check the index and footer, without a target.
 *
 * A damaged chunk is reported through the callback with its logical offset
 * and verification goes on, so one run names every damaged chunk (in a
 * stream, as far as the damage lets the reader keep its place).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "image_read.h"

static void
report_bad(const struct img_verify_opts *opts, const struct img_chunk *c,
    struct img_ctx *ctx)
{
	if (opts->bad_chunk)
		opts->bad_chunk(c->offset, ctx->msg, opts->bad_chunk_arg);
}

static int
verify_chunks(const struct img_verify_opts *opts, struct img_reader *r,
    struct img_verify_result *res, uint8_t *data, struct img_ctx *ctx)
{
	uint64_t total = img_reader_is_stream(r) ? 0 :
	    img_reader_footer(r)->used;
	struct img_chunk c;
	int rc;

	for (;;) {
		rc = img_check_cancel(ctx);
		if (rc < 0)
			return rc;
		memset(&c, 0, sizeof(c));
		rc = img_reader_next(r, &c, data, ctx);
		if (rc == 0)
			break;
		/* Damage outside any chunk (a lost place in a stream, a bad
		 * index at the end of one) names no chunk and ends here. */
		if (rc == -EBADMSG && c.length == 0)
			return rc;
		if (rc == -EBADMSG) {
			res->bad_chunks++;
			report_bad(opts, &c, ctx);
		} else if (rc < 0) {
			return rc;
		}
		res->chunks++;
		res->used_bytes += c.used;
		res->stored_bytes += c.stored;
		img_progress_report(ctx, "verify", res->used_bytes, total, 0);
	}
	img_progress_report(ctx, "verify", res->used_bytes, total, 1);
	return 0;
}

int
img_verify(const struct img_verify_opts *opts, struct img_verify_result *res,
    struct img_ctx *ctx)
{
	struct img_reader *r;
	uint8_t *data;
	int rc;

	memset(res, 0, sizeof(*res));
	rc = img_reader_open(opts->image, &r, ctx);
	if (rc < 0)
		return rc;
	data = malloc(img_reader_header(r)->chunk_size);
	if (!data) {
		img_reader_close(r);
		return img_error(ctx, -ENOMEM, "out of memory");
	}
	rc = verify_chunks(opts, r, res, data, ctx);
	if (rc == 0)
		img_hex(img_reader_footer(r)->identity, IMG_SHA256_LEN,
		    res->identity);
	if (rc == 0 && res->bad_chunks)
		rc = img_error(ctx, -EBADMSG,
		    "'%s': %llu of %llu chunks are damaged",
		    img_reader_path(r), (unsigned long long)res->bad_chunks,
		    (unsigned long long)res->chunks);
	free(data);
	img_reader_close(r);
	return rc;
}
