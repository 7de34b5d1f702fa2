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
#include "decode_pipe.h"
#include "image_read.h"

static int
verify_chunks(const struct img_verify_opts *opts, struct img_reader *r,
    struct img_verify_result *res, struct img_ctx *ctx)
{
	uint64_t total = img_reader_is_stream(r) ? 0 :
	    img_reader_footer(r)->used;
	struct img_decode_pipe *dp;
	struct img_raw_chunk *c;
	int rc;

	rc = img_decode_pipe_open(r, opts->threads, &dp, ctx);
	while (rc == 0 && (rc = img_check_cancel(ctx)) == 0) {
		rc = img_decode_pipe_next(dp, &c, ctx);
		if (rc == 0)
			break;
		/* Damage outside any chunk (a lost place in a stream, a bad
		 * index at the end of one) names no chunk and ends here. */
		if (rc < 0 && (rc != -EBADMSG || !c || c->c.length == 0))
			break;
		if (rc < 0) {
			res->bad_chunks++;
			if (opts->bad_chunk)
				opts->bad_chunk(c->c.offset, ctx->msg,
				    opts->bad_chunk_arg);
		}
		res->chunks++;
		res->used_bytes += c->c.used;
		res->stored_bytes += c->c.stored;
		img_progress_report(ctx, "verify", res->used_bytes, total, 0);
		rc = 0;
	}
	img_decode_pipe_close(dp);
	if (rc == 0)
		img_progress_report(ctx, "verify", res->used_bytes, total, 1);
	return rc;
}

int
img_verify(const struct img_verify_opts *opts, struct img_verify_result *res,
    struct img_ctx *ctx)
{
	struct img_reader *r;
	int rc;

	memset(res, 0, sizeof(*res));
	rc = img_reader_open(opts->image, &r, ctx);
	if (rc < 0)
		return rc;
	rc = verify_chunks(opts, r, res, ctx);
	if (rc == 0)
		img_hex(img_reader_footer(r)->identity, IMG_SHA256_LEN,
		    res->identity);
	if (rc == 0 && res->bad_chunks)
		rc = img_error(ctx, -EBADMSG,
		    "'%s': %llu of %llu chunks are damaged",
		    img_reader_path(r), (unsigned long long)res->bad_chunks,
		    (unsigned long long)res->chunks);
	img_reader_close(r);
	return rc;
}
