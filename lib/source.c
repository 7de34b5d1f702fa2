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
	const struct img_extents *zeros;	/* may be NULL */
	unsigned chunk_size;
	img_chunk_sink sink;
	void *arg;
	const char *phase;
	uint64_t done, total;
};

/* 1 if every used extent of chunk c lies inside the zero ranges. */
static int
zero_covers_used(const struct img_extents *z, const struct img_chunk_buf *c)
{
	for (uint32_t i = 0; i < c->nextents; i++) {
		uint64_t s = c->offset + c->extents[2 * i];

		if (img_extents_covered(z, s, c->extents[2 * i + 1]) !=
		    c->extents[2 * i + 1])
			return 0;
	}
	return 1;
}

/* Collects the used extents of the chunk at off into c->extents; *ei is
 * the cursor into the used list (first extent that may touch this chunk).
 * Returns the used bytes. */
static uint64_t
chunk_extents(struct run *b, struct img_chunk_buf *c, uint64_t off,
    size_t *ei)
{
	const struct img_extents *used = b->used;
	uint64_t end = off + c->length, sum = 0;
	size_t i = *ei;

	c->offset = off;
	c->nextents = 0;
	for (; i < used->n && used->v[i].off < end; i++) {
		uint64_t s = used->v[i].off, t = s + used->v[i].len;

		if (s < off)
			s = off;
		if (t > end)
			t = end;
		c->extents[2 * c->nextents] = (uint32_t)(s - off);
		c->extents[2 * c->nextents + 1] = (uint32_t)(t - s);
		c->nextents++;
		sum += t - s;
		if (used->v[i].off + used->v[i].len > end)
			break;	/* the extent goes on into the next chunk */
	}
	*ei = i;
	return sum;
}

/* Reads [s, t) into the chunk, except the parts the filesystem says are
 * zeros: those are zero-filled without a read. */
static int
read_piece(struct run *b, struct img_chunk_buf *c, uint64_t s, uint64_t t,
    struct img_ctx *ctx)
{
	const struct img_extents *z = b->zeros;
	uint8_t *base = c->data - c->offset;

	while (s < t) {
		size_t zi = z ? img_extents_seek(z, s) : 0;
		uint64_t zs = z && zi < z->n ? z->v[zi].off : UINT64_MAX;
		uint64_t e;
		int rc;

		if (zs <= s) {
			e = z->v[zi].off + z->v[zi].len < t ?
			    z->v[zi].off + z->v[zi].len : t;
			memset(base + s, 0, e - s);
		} else {
			e = zs < t ? zs : t;
			rc = img_dev_pread_sparse(b->src, base + s, e - s, s,
			    ctx);
			if (rc < 0)
				return rc;
		}
		s = e;
	}
	return 0;
}

/* Fills c with the used parts of the chunk at off (unused parts zero). A
 * chunk whose used bytes all lie in the filesystem's zero ranges is not
 * read at all: it is marked known_zero. */
static int
read_chunk(struct run *b, struct img_chunk_buf *c, uint64_t off,
    size_t *ei, struct img_ctx *ctx)
{
	uint64_t used = chunk_extents(b, c, off, ei), zeroed = off;
	int rc;

	c->known_zero = b->zeros && used > 0 && zero_covers_used(b->zeros, c);
	for (uint32_t i = 0; !c->known_zero && i < c->nextents; i++) {
		uint64_t s = off + c->extents[2 * i];
		uint64_t t = s + c->extents[2 * i + 1];

		memset(c->data + (zeroed - off), 0, s - zeroed);
		rc = read_piece(b, c, s, t, ctx);
		if (rc < 0)
			return rc;
		zeroed = t;
	}
	if (!c->known_zero)
		memset(c->data + (zeroed - off), 0, off + c->length - zeroed);
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
    const struct img_extents *zeros, unsigned chunk_size, unsigned threads,
    img_work_fn work, img_chunk_sink sink, void *arg, const char *phase,
    struct img_ctx *ctx)
{
	struct run b = {
		.src = src, .used = used, .zeros = zeros,
		.chunk_size = chunk_size,
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
