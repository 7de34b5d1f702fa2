/*
 * source.c - read the used chunks of a scanned source in disk order and run
 * them through a pipeline: this thread reads, workers transform (encode for
 * backup, hash for clone), and a sink gets the chunks back in order.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "dev.h"
#include "pipeline.h"
#include "source.h"

int
img_source_check_mount(struct img_dev *src, int force, struct img_ctx *ctx)
{
	char where[4096];
	int rw;

	if (!img_dev_find_mount(src, where, sizeof(where), &rw) || !rw)
		return 0;
	if (force) {
		img_warn(ctx, "'%s' is mounted read-write on %s: the copy may be inconsistent",
		    src->path, where);
		return 0;
	}
	return img_error(ctx, -EBUSY,
	    "'%s' is mounted read-write on %s; its blocks change under the copy (unmount it, remount it read-only, or use --force-mounted)",
	    src->path, where);
}

struct run {
	struct img_dev *src;
	const struct img_extents *used;
	unsigned chunk_size;
	img_chunk_sink sink;
	void *arg;
	const char *phase;
	uint64_t done, total;
};

/* Fills c with the used parts of the chunk at off (unused parts zero);
 * *ei is the cursor into the used list (first extent that may touch this
 * chunk). */
static int
read_chunk(struct run *b, struct img_chunk_buf *c, uint64_t off,
    size_t *ei, struct img_ctx *ctx)
{
	const struct img_extents *used = b->used;
	uint64_t end = off + c->length, zeroed = off;
	size_t i = *ei;
	int rc;

	c->offset = off;
	c->nextents = 0;
	for (; i < used->n && used->v[i].off < end; i++) {
		uint64_t s = used->v[i].off, t = s + used->v[i].len;

		if (s < off)
			s = off;
		if (t > end)
			t = end;
		memset(c->data + (zeroed - off), 0, s - zeroed);
		rc = img_dev_pread_sparse(b->src, c->data + (s - off), t - s,
		    s, ctx);
		if (rc < 0)
			return rc;
		zeroed = t;
		c->extents[2 * c->nextents] = (uint32_t)(s - off);
		c->extents[2 * c->nextents + 1] = (uint32_t)(t - s);
		c->nextents++;
		if (used->v[i].off + used->v[i].len > end)
			break;	/* the extent goes on into the next chunk */
	}
	memset(c->data + (zeroed - off), 0, end - zeroed);
	*ei = i;
	/* One extent covering the whole chunk is written as "all used". */
	if (c->nextents == 1 && c->extents[0] == 0 &&
	    c->extents[1] == c->length)
		c->nextents = 0;
	return 0;
}

/* Hands the oldest processed chunk to the sink. */
static int
emit_oldest(struct run *b, struct img_pipeline *pl, struct img_ctx *ctx)
{
	struct img_chunk_buf *c = img_pipeline_collect(pl);
	int rc;

	if (!c)
		return 0;
	rc = b->sink(c, b->arg, ctx);
	b->done += c->used;
	img_progress_report(ctx, b->phase, b->done, b->total, 0);
	return rc;
}

static int
run_pipeline(struct run *b, struct img_pipeline *pl,
    struct img_chunk_buf *bufs, struct img_ctx *ctx)
{
	const struct img_extents *used = b->used;
	uint64_t size = b->src->size, next = 0, n = 0;
	unsigned depth = img_pipeline_depth(pl);
	size_t ei = 0;
	int rc = 0;

	while (rc == 0 && ei < used->n) {
		/* The chunk holding the first used byte not yet copied. */
		uint64_t first = used->v[ei].off > next ? used->v[ei].off : next;
		uint64_t off = first / b->chunk_size * b->chunk_size;
		struct img_chunk_buf *c = &bufs[n++ % depth];

		if (off >= size)	/* a used range past the end: a bug */
			return img_error(ctx, -EINVAL,
			    "'%s': used range at %llu is beyond its end",
			    b->src->path, (unsigned long long)off);
		if (img_pipeline_pending(pl) == depth)
			rc = emit_oldest(b, pl, ctx);
		if (rc == 0)
			rc = img_check_cancel(ctx);
		if (rc < 0)
			break;
		c->length = (uint32_t)(size - off < b->chunk_size ?
		    size - off : b->chunk_size);
		rc = read_chunk(b, c, off, &ei, ctx);
		if (rc == 0)
			img_pipeline_submit(pl, c);
		next = off + c->length;
	}
	while (rc == 0 && img_pipeline_pending(pl))
		rc = emit_oldest(b, pl, ctx);
	if (rc == 0)
		img_progress_report(ctx, b->phase, b->done, b->total, 1);
	return rc;
}

int
img_source_run(struct img_dev *src, const struct img_extents *used,
    unsigned chunk_size, unsigned threads, img_work_fn work,
    img_chunk_sink sink, void *arg, const char *phase, struct img_ctx *ctx)
{
	struct run b = {
		.src = src, .used = used, .chunk_size = chunk_size,
		.sink = sink, .arg = arg, .phase = phase,
		.total = img_extents_total(used),
	};
	unsigned nthreads = img_pipeline_threads(threads);
	unsigned depth = 2 * nthreads + 2;
	struct img_chunk_buf *bufs = calloc(depth, sizeof(*bufs));
	struct img_pipeline *pl = NULL;
	int rc = bufs ? 0 : -ENOMEM;

	for (unsigned i = 0; rc == 0 && i < depth; i++)
		rc = img_chunk_buf_init(&bufs[i], chunk_size);
	if (rc == 0)
		rc = img_pipeline_new(nthreads, depth, work, NULL, &pl);
	if (rc < 0)
		rc = img_error(ctx, rc, "cannot start %u worker threads",
		    nthreads);
	else
		rc = run_pipeline(&b, pl, bufs, ctx);
	/* joins the workers before their buffers go away */
	img_pipeline_free(pl);
	for (unsigned i = 0; bufs && i < depth; i++)
		img_chunk_buf_free(&bufs[i]);
	free(bufs);
	return rc;
}
