/*
 * holdback.c - see holdback.h. The two ranges are the target's first MiB
 * and its last MiB (less where they would overlap on a small target).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "dev.h"
#include "holdback.h"

static int
add_range(struct img_holdback *hb, uint64_t off, uint64_t len)
{
	if (len == 0)
		return 0;
	hb->r[hb->n].buf = calloc(1, (size_t)len);
	if (!hb->r[hb->n].buf)
		return -ENOMEM;
	hb->r[hb->n].off = off;
	hb->r[hb->n].len = len;
	hb->n++;
	return 0;
}

/* The buffers start as the target is, so that bytes the copy does not
 * write come back untouched at the end, except the partition table
 * signatures, which must not bring an old table back: the MBR signature
 * and the GPT headers at LBA 1 and at the last LBA. */
static int
load_ranges(struct img_holdback *hb, struct img_dev *dev, uint64_t size,
    struct img_ctx *ctx)
{
	uint64_t ss = dev->sector_size ? dev->sector_size : 512;
	int rc = 0;

	for (unsigned i = 0; rc == 0 && i < hb->n; i++)
		rc = img_dev_pread(dev, hb->r[i].buf, (size_t)hb->r[i].len,
		    hb->r[i].off, ctx);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < hb->n; i++) {
		uint64_t o = hb->r[i].off, e = o + hb->r[i].len;

		if (o == 0 && e >= 512)
			memset(hb->r[i].buf + 510, 0, 2);
		if (o <= ss && e >= 2 * ss)
			memset(hb->r[i].buf + (ss - o), 0, (size_t)ss);
		if (size >= ss && o <= size - ss && e >= size)
			memset(hb->r[i].buf + (size - ss - o), 0, (size_t)ss);
	}
	return 0;
}

int
img_holdback_begin(struct img_holdback *hb, struct img_dev *dev,
    uint64_t size, struct img_ctx *ctx)
{
	uint64_t head = size < IMG_HOLDBACK_SPAN ? size : IMG_HOLDBACK_SPAN;
	uint64_t tail = size - head < IMG_HOLDBACK_SPAN ? size - head :
	    IMG_HOLDBACK_SPAN;
	uint8_t *zeros;
	int rc = 0;

	memset(hb, 0, sizeof(*hb));
	zeros = calloc(1, IMG_HOLDBACK_SPAN);
	if (!zeros || add_range(hb, 0, head) < 0 ||
	    add_range(hb, size - tail, tail) < 0) {
		free(zeros);
		img_holdback_free(hb);
		return img_error(ctx, -ENOMEM, "out of memory");
	}
	for (unsigned i = 0; i < hb->n; i++)
		img_debug(ctx, IMG_DBG_LOCK, "'%s': bytes %llu-%llu %s, written last",
		    dev->path, (unsigned long long)hb->r[i].off,
		    (unsigned long long)(hb->r[i].off + hb->r[i].len),
		    dev->created ? "held back" : "cleared and held back");
	if (!dev->created)	/* a new file has nothing to mistake */
		rc = load_ranges(hb, dev, size, ctx);
	for (unsigned i = 0; rc == 0 && !dev->created && i < hb->n; i++)
		rc = img_dev_pwrite(dev, zeros, (size_t)hb->r[i].len,
		    hb->r[i].off, ctx);
	free(zeros);
	if (rc == 0 && !dev->created)
		rc = img_dev_sync(dev, ctx);
	if (rc < 0)
		return img_error_prefix(ctx,
		    "cannot clear the old partition table of '%s'", dev->path);
	return 0;
}

int
img_holdback_apply(struct img_holdback *hb, const uint8_t *data,
    uint64_t off, uint64_t len, img_holdback_fn fn, void *arg,
    struct img_ctx *ctx)
{
	uint64_t end = off + len;
	int rc = 0;

	/* the ranges are in disk order and do not overlap */
	for (unsigned i = 0; rc == 0 && off < end && i <= hb->n; i++) {
		uint64_t ro = i < hb->n ? hb->r[i].off : end;
		uint64_t re = i < hb->n ? ro + hb->r[i].len : end;
		uint64_t a, b;

		if (off < ro) {		/* before this range: to the device */
			b = end < ro ? end : ro;
			rc = fn(arg, data, off, b - off, ctx);
			if (data)
				data += b - off;
			off = b;
		}
		if (rc < 0 || i == hb->n || off >= end || off >= re)
			continue;
		a = off;
		b = end < re ? end : re;
		if (data)
			memcpy(hb->r[i].buf + (a - ro), data, (size_t)(b - a));
		else
			memset(hb->r[i].buf + (a - ro), 0, (size_t)(b - a));
		if (data)
			data += b - a;
		off = b;
	}
	return rc;
}

int
img_holdback_finish(struct img_holdback *hb, struct img_dev *dev,
    struct img_ctx *ctx)
{
	int rc = 0;

	for (unsigned i = 0; rc == 0 && i < hb->n; i++)
		rc = img_dev_pwrite(dev, hb->r[i].buf, (size_t)hb->r[i].len,
		    hb->r[i].off, ctx);
	return rc < 0 ? rc : img_dev_sync(dev, ctx);
}

void
img_holdback_abandon(struct img_holdback *hb, struct img_dev *dev)
{
	struct img_ctx *quiet = img_ctx_new();

	if (!quiet)
		return;
	for (unsigned i = 0; i < hb->n; i++) {
		memset(hb->r[i].buf, 0, (size_t)hb->r[i].len);
		img_dev_pwrite(dev, hb->r[i].buf, (size_t)hb->r[i].len,
		    hb->r[i].off, quiet);
	}
	img_dev_sync(dev, quiet);
	img_ctx_free(quiet);
}

void
img_holdback_free(struct img_holdback *hb)
{
	for (unsigned i = 0; i < hb->n; i++)
		free(hb->r[i].buf);
	hb->n = 0;
}
