/*
 * decode_pipe.c - the reading side of restore and verify as a pipeline.
 *
 * This thread reads raw records (the I/O, in order); workers run
 * img_raw_chunk_decode (LZ4 + SHA-256); chunks come back in image order.
 * A record that could not even be read travels through the pipeline with
 * its error, so errors, too, are reported in order.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "decode_pipe.h"
#include "image_read.h"
#include "pipeline.h"

struct slot {
	struct img_raw_chunk raw;
	int read_rc;		/* <0: reading failed, nothing to decode */
	int fatal;		/* no record can follow this one */
};

struct img_decode_pipe {
	struct img_reader *r;
	struct img_pipeline *pl;
	struct slot *slots;
	unsigned depth;
	uint64_t submitted;
	int source_done;	/* the reader reached the end or a fatal error */
	uint32_t *seals;	/* by sequence number, or NULL */
	enum img_seal_mode seal_mode;
};

static void
decode_work(void *item, void *arg)
{
	struct img_decode_pipe *dp = arg;
	struct slot *s = item;
	uint64_t seq = s->raw.c.seq;

	if (s->read_rc != 0)
		return;
	if (dp->seals && dp->seal_mode == IMG_SEAL_TRUST)
		img_raw_chunk_decode_sealed(&s->raw, dp->seals[seq]);
	else if (img_raw_chunk_decode(&s->raw) == 0 && dp->seals)
		dp->seals[seq] = img_raw_chunk_seal(&s->raw);
}

void
img_decode_pipe_seals(struct img_decode_pipe *dp, uint32_t *seals,
    enum img_seal_mode mode)
{
	dp->seals = seals;
	dp->seal_mode = mode;
}

int
img_decode_pipe_open(struct img_reader *r, unsigned threads,
    struct img_decode_pipe **out, struct img_ctx *ctx)
{
	unsigned chunk = img_reader_header(r)->chunk_size;
	struct img_decode_pipe *dp = calloc(1, sizeof(*dp));
	int rc = dp ? 0 : -ENOMEM;

	*out = NULL;
	threads = img_pipeline_threads(threads);
	if (dp) {
		dp->r = r;
		dp->depth = 2 * threads + 2;
		dp->slots = calloc(dp->depth, sizeof(*dp->slots));
		rc = dp->slots ? 0 : -ENOMEM;
	}
	for (unsigned i = 0; rc == 0 && i < dp->depth; i++)
		rc = img_raw_chunk_init(&dp->slots[i].raw, chunk);
	if (rc == 0)
		rc = img_pipeline_new(threads, dp->depth, decode_work, dp,
		    &dp->pl);
	if (rc < 0) {
		img_decode_pipe_close(dp);
		return img_error(ctx, rc, "cannot start the decoding pipeline");
	}
	*out = dp;
	return 0;
}

void
img_decode_pipe_close(struct img_decode_pipe *dp)
{
	if (!dp)
		return;
	img_pipeline_free(dp->pl);	/* joins workers first */
	for (unsigned i = 0; dp->slots && i < dp->depth; i++)
		img_raw_chunk_free(&dp->slots[i].raw);
	free(dp->slots);
	free(dp);
}

/* Reads one more record into the next free slot and submits it. */
static void
fill_one(struct img_decode_pipe *dp, struct img_ctx *ctx)
{
	struct slot *s = &dp->slots[dp->submitted % dp->depth];
	int rc = img_reader_next_raw(dp->r, &s->raw, ctx);

	if (rc == 0) {
		dp->source_done = 1;
		return;
	}
	s->read_rc = rc < 0 ? rc : 0;
	s->fatal = rc < 0 && (rc != -EBADMSG || s->raw.c.length == 0);
	if (rc < 0) {
		s->raw.rc = rc;
		snprintf(s->raw.msg, sizeof(s->raw.msg), "%s", ctx->msg);
	}
	if (s->fatal)
		dp->source_done = 1;
	img_pipeline_submit(dp->pl, s);
	dp->submitted++;
}

int
img_decode_pipe_next(struct img_decode_pipe *dp, struct img_raw_chunk **out,
    struct img_ctx *ctx)
{
	struct slot *s;

	*out = NULL;
	while (!dp->source_done &&
	    img_pipeline_pending(dp->pl) < dp->depth)
		fill_one(dp, ctx);
	s = img_pipeline_collect(dp->pl);
	if (!s)
		return 0;
	*out = &s->raw;
	if (s->raw.rc == 0)
		return 1;
	img_error(ctx, s->raw.rc, "%s", s->raw.msg);
	if (s->fatal) {
		/* nothing after a fatal record: drop what is in flight */
		while (img_pipeline_collect(dp->pl))
			;
		dp->source_done = 1;
		s->raw.c.length = s->raw.rc == -EBADMSG ? 0 : s->raw.c.length;
	}
	return s->raw.rc;
}
