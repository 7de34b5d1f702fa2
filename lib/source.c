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

int
img_source_claim(struct img_dev *src, struct img_ctx *ctx)
{
	int rc = img_dev_lock(src, 0, ctx);

	return rc < 0 ? rc : img_dev_claim(src, ctx);
}

struct run {
	struct img_dev *src;
	const struct img_extents *used;
	const struct img_extents *zeros;	/* may be NULL: cuts chunks */
	const struct img_extents *skip;		/* may be NULL: not read */
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

/* Collects the used extents of chunk c ([c->offset, +c->length)) into
 * c->extents; *ei is the cursor into the used list (first extent that may
 * touch this chunk). Returns the used bytes. */
static uint64_t
chunk_extents(struct run *b, struct img_chunk_buf *c, size_t *ei)
{
	const struct img_extents *used = b->used;
	uint64_t off = c->offset, end = off + c->length, sum = 0;
	size_t i = *ei;

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
	const struct img_extents *z = b->skip;
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

#define TRIM_ALIGN	4096u
/* A known-zero stretch at least this long at the head or tail of a
 * window's used bytes becomes a chunk of its own (a ZERO chunk: nothing
 * read, hashed or compressed) instead of zeros hashed inside a data chunk. */
#define SPLIT_MIN	(64u << 10)

static uint64_t
round_down(uint64_t x)
{
	return x - x % TRIM_ALIGN;
}

static uint64_t
round_up(uint64_t x)
{
	return x + (TRIM_ALIGN - x % TRIM_ALIGN) % TRIM_ALIGN;
}

/* Finds the used bytes of [start, end) that are not in the zero ranges:
 * the first one in *first and the end of the last one in *last; *used_end
 * is the end of the last used byte. Returns 0 when there are none
 * (everything used there is known zero). */
static int
data_span(const struct run *b, size_t ei, uint64_t start, uint64_t end,
    uint64_t *first, uint64_t *last, uint64_t *used_end)
{
	const struct img_extents *u = b->used, *z = b->zeros;
	int found = 0;

	for (size_t i = ei; i < u->n && u->v[i].off < end; i++) {
		uint64_t s = u->v[i].off > start ? u->v[i].off : start;
		uint64_t t = u->v[i].off + u->v[i].len < end ?
		    u->v[i].off + u->v[i].len : end;
		size_t zi = z ? img_extents_seek(z, s) : 0;

		if (s < t)
			*used_end = t;
		/* the gaps of the zero list inside [s, t) are data */
		while (s < t) {
			uint64_t zs = z && zi < z->n ? z->v[zi].off : UINT64_MAX;
			uint64_t ze = zs < UINT64_MAX ? zs + z->v[zi].len : 0;

			if (zs <= s) {
				s = ze;
				zi++;
				continue;
			}
			if (!found)
				*first = s;
			found = 1;
			*last = zs < t ? zs : t;
			s = *last;
		}
	}
	return found;
}

/* Where the chunk starting at start (in the window ending at wend) ends:
 * the window's end, or earlier when a long known-zero stretch at the head
 * or tail of its used bytes is worth a ZERO chunk of its own. */
static uint64_t
chunk_end(const struct run *b, size_t ei, uint64_t start, uint64_t wend)
{
	uint64_t first, last, used_end = 0;

	if (!b->zeros ||
	    !data_span(b, ei, start, wend, &first, &last, &used_end))
		return wend;
	if (round_down(first) >= start + SPLIT_MIN)
		return round_down(first);	/* zero head, then data */
	if (round_up(last) + SPLIT_MIN <= used_end)
		return round_up(last);		/* data, then a zero tail */
	return wend;
}

/* Shrinks chunk c (its extents just collected) to the 4 KiB-aligned span
 * of its used bytes: a window with a few used blocks then costs what those
 * blocks cost, not what the whole window would cost to hash and compress. */
static void
trim_chunk(struct img_chunk_buf *c)
{
	uint64_t end = c->offset + c->length;
	uint64_t head = round_down(c->offset + c->extents[0]);
	uint64_t tail = round_up(c->offset + c->extents[2 * (c->nextents - 1)] +
	    c->extents[2 * (c->nextents - 1) + 1]);
	uint32_t cut;

	if (head < c->offset)
		head = c->offset;
	if (tail > end)
		tail = end;
	cut = (uint32_t)(head - c->offset);
	for (uint32_t i = 0; i < c->nextents; i++)
		c->extents[2 * i] -= cut;
	c->offset = head;
	c->length = (uint32_t)(tail - head);
}

/* Fills chunk c ([c->offset, +c->length), inside one chunk-size window)
 * with its used bytes (unused parts zero), trimmed to the span they
 * occupy. A chunk whose used bytes all lie in the filesystem's zero
 * ranges is not read at all: it is marked known_zero. */
static int
read_chunk(struct run *b, struct img_chunk_buf *c, size_t *ei,
    struct img_ctx *ctx)
{
	uint64_t zeroed;
	int rc;

	if (chunk_extents(b, c, ei) == 0)	/* a bug: no used byte */
		return img_error(ctx, -EINVAL, "'%s': empty chunk at %llu",
		    b->src->path, (unsigned long long)c->offset);
	trim_chunk(c);
	zeroed = c->offset;
	c->known_zero = b->skip && zero_covers_used(b->skip, c);
	for (uint32_t i = 0; !c->known_zero && i < c->nextents; i++) {
		uint64_t s = c->offset + c->extents[2 * i];
		uint64_t t = s + c->extents[2 * i + 1];

		memset(c->data + (zeroed - c->offset), 0, s - zeroed);
		rc = read_piece(b, c, s, t, ctx);
		if (rc < 0)
			return rc;
		zeroed = t;
	}
	if (!c->known_zero)
		memset(c->data + (zeroed - c->offset), 0,
		    c->offset + c->length - zeroed);
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
		/* The first used byte not yet copied, its window, and the
		 * chunk that starts there. */
		uint64_t first = used->v[ei].off > next ? used->v[ei].off : next;
		uint64_t wstart = first - first % b->chunk_size;
		uint64_t wend = wstart + b->chunk_size;
		uint64_t start = round_down(first);
		struct img_chunk_buf *c = &bufs[n++ % depth];

		if (first >= size)	/* a used range past the end: a bug */
			return img_error(ctx, -EINVAL,
			    "'%s': used range at %llu is beyond its end",
			    b->src->path, (unsigned long long)first);
		if (img_pipeline_pending(pl) == depth)
			rc = emit_oldest(b, pl, ctx);
		if (rc == 0)
			rc = img_check_cancel(ctx);
		if (rc < 0)
			break;
		if (start < next)
			start = next;
		if (wend > size)
			wend = size;
		next = chunk_end(b, ei, start, wend);
		c->offset = start;
		c->length = (uint32_t)(next - start);
		rc = read_chunk(b, c, &ei, ctx);
		if (rc == 0)
			img_pipeline_submit(pl, c);
	}
	while (rc == 0 && img_pipeline_pending(pl))
		rc = emit_oldest(b, pl, ctx);
	if (rc == 0)
		img_progress_report(ctx, b->phase, b->done, b->total, 1);
	return rc;
}

int
img_source_run(struct img_dev *src, const struct img_source_params *p,
    struct img_ctx *ctx)
{
	struct run b = {
		.src = src, .used = p->used, .zeros = p->zeros,
		.skip = p->read_zeros ? NULL : p->zeros,
		.chunk_size = p->chunk_size,
		.sink = p->sink, .arg = p->arg, .phase = p->phase,
		.total = img_extents_total(p->used),
	};
	unsigned nthreads = img_pipeline_threads(p->threads);
	unsigned depth = 2 * nthreads + 2;
	struct img_chunk_buf *bufs = calloc(depth, sizeof(*bufs));
	struct img_pipeline *pl = NULL;
	int rc = bufs ? 0 : -ENOMEM;

	for (unsigned i = 0; rc == 0 && i < depth; i++)
		rc = img_chunk_buf_init(&bufs[i], p->chunk_size);
	if (rc == 0)
		rc = img_pipeline_new(nthreads, depth, p->work, NULL, &pl);
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
