/*
 * verify.c - img_verify(): read every chunk of an image, recompute every
 * hash, and check the index and footer, without a target.
 *
 * A damaged chunk is reported through the callback with its logical offset
 * and verification goes on, so one run names every damaged chunk (in a
 * stream, as far as the damage lets the reader keep its place).
 *
 * With a device to compare against (--against), every used byte of every
 * sound chunk is also read from the device and compared.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "decode_pipe.h"
#include "dev.h"
#include "image_read.h"
#include "layout.h"

struct against {
	struct img_dev *dev;
	struct img_layout layout;
	uint8_t *buf;
	int other_size;		/* the device is not the source's size */
	uint64_t resized_head;	/* bytes at the start a resize rewrites */
};

/* 1 if the used bytes of chunk c equal the device's. */
static int
same_on_device(struct against *a, const struct img_raw_chunk *c,
    struct img_ctx *ctx)
{
	uint32_t n = c->c.nextents ? c->c.nextents : 1;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t off = c->c.nextents ? c->c.extents[2 * i] : 0;
		uint64_t len = c->c.nextents ? c->c.extents[2 * i + 1] :
		    c->c.length, pos = c->c.offset + off;

		/* a table rewritten for another disk size is not compared:
		 * the backup copy at the end, and the protective MBR and
		 * primary header (LBA 0-1) that record the size */
		if (a->other_size && img_layout_in_tail_table(&a->layout, pos))
			continue;
		if (a->other_size && pos < a->resized_head) {
			uint64_t skip = a->resized_head - pos;

			if (skip >= len)
				continue;
			pos += skip;
			off += skip;
			len -= skip;
		}
		if (pos + len > a->dev->size)
			return 0;
		if (img_dev_pread(a->dev, a->buf, len, pos, ctx) < 0 ||
		    memcmp(a->buf, c->data + off, len) != 0)
			return 0;
	}
	return 1;
}

static void
report(const struct img_verify_opts *opts, uint64_t off, const char *why)
{
	if (opts->bad_chunk)
		opts->bad_chunk(off, why, opts->bad_chunk_arg);
}

static int
verify_chunks(const struct img_verify_opts *opts, struct img_reader *r,
    struct img_verify_result *res, struct against *a, struct img_ctx *ctx)
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
			report(opts, c->c.offset, ctx->msg);
		} else if (a->dev && !same_on_device(a, c, ctx)) {
			res->different_chunks++;
			report(opts, c->c.offset, "differs from the device");
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

static int
open_against(const struct img_verify_opts *opts, struct img_reader *r,
    struct against *a, struct img_ctx *ctx)
{
	const struct img_header *h = img_reader_header(r);
	int rc = img_dev_open(opts->against, IMG_DEV_READ, &a->dev, ctx);

	if (rc == 0)
		rc = img_layout_read(r, &a->layout, ctx);
	if (rc < 0)
		return rc;
	if (a->dev->is_stream)
		return img_error(ctx, -EINVAL,
		    "'%s' is not a block device or regular file", a->dev->path);
	if (a->dev->size < img_layout_min_size(&a->layout))
		return img_error(ctx, -ENOSPC,
		    "'%s' (%llu bytes) is smaller than the image's disk (%llu bytes)",
		    a->dev->path, (unsigned long long)a->dev->size,
		    (unsigned long long)h->source_size);
	a->other_size = a->dev->size != h->source_size;
	if (strcmp(a->layout.scheme, "gpt") == 0)
		a->resized_head = 2 * (uint64_t)h->sector_size;
	a->buf = malloc(h->chunk_size);
	if (!a->buf)
		return img_error(ctx, -ENOMEM, "out of memory");
	posix_fadvise(a->dev->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return 0;
}

int
img_verify(const struct img_verify_opts *opts, struct img_verify_result *res,
    struct img_ctx *ctx)
{
	struct against a = { .dev = NULL };
	struct img_reader *r;
	int rc;

	memset(res, 0, sizeof(*res));
	rc = img_reader_open(opts->image, &r, ctx);
	if (rc < 0)
		return rc;
	if (opts->against)
		rc = open_against(opts, r, &a, ctx);
	if (rc == 0)
		rc = verify_chunks(opts, r, res, &a, ctx);
	if (rc == 0)
		img_hex(img_reader_footer(r)->identity, IMG_SHA256_LEN,
		    res->identity);
	if (rc == 0 && res->bad_chunks)
		rc = img_error(ctx, -EBADMSG,
		    "'%s': %llu of %llu chunks are damaged",
		    img_reader_path(r), (unsigned long long)res->bad_chunks,
		    (unsigned long long)res->chunks);
	if (rc == 0 && res->different_chunks)
		rc = img_error(ctx, -EIO,
		    "'%s': %llu of %llu chunks differ from the image '%s'",
		    a.dev->path, (unsigned long long)res->different_chunks,
		    (unsigned long long)res->chunks, img_reader_path(r));
	free(a.buf);
	img_layout_free(&a.layout);
	img_dev_close(a.dev);
	img_reader_close(r);
	return rc;
}
