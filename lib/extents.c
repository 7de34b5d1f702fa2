/*
 * extents.c - sorted, merged byte-range lists.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "extents.h"

void
img_extents_init(struct img_extents *e)
{
	e->v = NULL;
	e->n = e->cap = 0;
	e->sorted = 1;
}

void
img_extents_free(struct img_extents *e)
{
	free(e->v);
	img_extents_init(e);
}

int
img_extents_add(struct img_extents *e, uint64_t off, uint64_t len)
{
	struct img_extent *last;

	if (len == 0)
		return 0;
	if (off + len < off)
		len = UINT64_MAX - off;
	last = e->n ? &e->v[e->n - 1] : NULL;
	if (last && off >= last->off && off <= last->off + last->len) {
		if (off + len > last->off + last->len)
			last->len = off + len - last->off;
		return 0;
	}
	if (last && off < last->off)
		e->sorted = 0;
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 64;
		struct img_extent *v = realloc(e->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		e->v = v;
		e->cap = cap;
	}
	e->v[e->n].off = off;
	e->v[e->n].len = len;
	e->n++;
	return 0;
}

int
img_extents_add_all(struct img_extents *e, const struct img_extents *src)
{
	for (size_t i = 0; i < src->n; i++) {
		int rc = img_extents_add(e, src->v[i].off, src->v[i].len);

		if (rc < 0)
			return rc;
	}
	return 0;
}

static int
cmp_extent(const void *a, const void *b)
{
	const struct img_extent *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

void
img_extents_normalize(struct img_extents *e)
{
	size_t out = 0;

	if (e->n == 0)
		return;
	if (!e->sorted)
		qsort(e->v, e->n, sizeof(*e->v), cmp_extent);
	for (size_t i = 1; i < e->n; i++) {
		struct img_extent *cur = &e->v[out];
		uint64_t end = cur->off + cur->len;

		if (e->v[i].off <= end) {
			uint64_t iend = e->v[i].off + e->v[i].len;

			if (iend > end)
				cur->len = iend - cur->off;
		} else {
			e->v[++out] = e->v[i];
		}
	}
	e->n = out + 1;
	e->sorted = 1;
}

void
img_extents_clip(struct img_extents *e, uint64_t limit)
{
	while (e->n > 0 && e->v[e->n - 1].off >= limit)
		e->n--;
	if (e->n > 0 && e->v[e->n - 1].off + e->v[e->n - 1].len > limit)
		e->v[e->n - 1].len = limit - e->v[e->n - 1].off;
}

uint64_t
img_extents_total(const struct img_extents *e)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < e->n; i++)
		sum += e->v[i].len;
	return sum;
}

size_t
img_extents_seek(const struct img_extents *e, uint64_t off)
{
	size_t lo = 0, hi = e->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (e->v[mid].off + e->v[mid].len <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint64_t
img_extents_covered(const struct img_extents *e, uint64_t off, uint64_t len)
{
	uint64_t sum = 0, end = off + len;

	for (size_t i = img_extents_seek(e, off); i < e->n; i++) {
		uint64_t s = e->v[i].off, t = s + e->v[i].len;

		if (s >= end)
			break;
		if (s < off)
			s = off;
		if (t > end)
			t = end;
		sum += t - s;
	}
	return sum;
}

int
img_bitmap_walk_flush(struct img_bitmap_walk *w)
{
	int rc = 0;

	if (w->n)
		rc = img_extents_add(w->ext, w->base + w->first * w->unit,
		    w->n * w->unit);
	w->n = 0;
	return rc;
}

static int
walk_mark(struct img_bitmap_walk *w, uint64_t bit, uint64_t n)
{
	int rc;

	w->used += n;
	if (w->n && w->first + w->n == bit) {
		w->n += n;
		return 0;
	}
	rc = img_bitmap_walk_flush(w);
	w->first = bit;
	w->n = n;
	return rc;
}

int
img_bitmap_walk_bytes(struct img_bitmap_walk *w, const uint8_t *buf,
    size_t len, uint64_t at)
{
	int rc = 0;

	for (size_t i = 0; i < len && rc == 0; i++) {
		uint64_t bit = (at + i) * 8;

		if (buf[i] == 0)
			continue;
		if (buf[i] == 0xFF && bit + 8 <= w->limit) {
			rc = walk_mark(w, bit, 8);
			continue;
		}
		for (unsigned b = 0; b < 8 && bit + b < w->limit && rc == 0;
		    b++)
			if (buf[i] >> b & 1)
				rc = walk_mark(w, bit + b, 1);
	}
	return rc;
}
