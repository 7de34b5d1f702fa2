/*
 * restore.c - img_restore(): write an image back to a device or file.
 *
 * Everything that can be checked is checked before the first write: the
 * image header and index (and, for a seekable image, every chunk), the
 * target's size, that it is not mounted and not the image itself, and the
 * user's confirmation. A stream cannot be checked ahead; if it turns out to
 * be damaged, restore stops at the first bad chunk and reports which part
 * of the target was written.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctx.h"
#include "dev.h"
#include "decode_pipe.h"
#include "image_read.h"

struct restore {
	const struct img_restore_opts *opts;
	struct img_restore_result *res;
	struct img_reader *rd;
	const struct img_header *hdr;
	struct img_dev *tgt;
	int target_exists;
	uint64_t zero_cursor;	/* --zero: unused space below is done */
};

static int
open_target(struct restore *s, struct img_ctx *ctx)
{
	const char *path = s->opts->target;
	struct stat st;

	s->target_exists = stat(path, &st) == 0;
	if (!s->target_exists)
		return 0;	/* created after the checks and confirmation */
	if (S_ISDIR(st.st_mode))
		return img_error(ctx, -EINVAL, "'%s' is a directory", path);
	return img_dev_open(path, IMG_DEV_WRITE | IMG_DEV_EXCL, &s->tgt, ctx);
}

static int
check_target(struct restore *s, struct img_ctx *ctx)
{
	uint64_t need = s->hdr->source_size;
	char where[4096];
	struct stat st;
	int rw;

	if (!s->tgt)
		return 0;
	if (strcmp(s->opts->image, "-") != 0 &&
	    stat(s->opts->image, &st) == 0 && !s->tgt->is_blockdev &&
	    st.st_dev == s->tgt->st_dev && st.st_ino == s->tgt->st_ino)
		return img_error(ctx, -EXDEV, "'%s' is the image itself",
		    s->tgt->path);
	if (s->tgt->is_stream)
		return img_error(ctx, -EINVAL,
		    "'%s' is not a block device or regular file", s->tgt->path);
	if (img_dev_find_mount(s->tgt, where, sizeof(where), &rw))
		return img_error(ctx, -EBUSY, "'%s' is mounted on %s",
		    s->tgt->path, where);
	if (s->tgt->size < need)
		return img_error(ctx, -ENOSPC,
		    "'%s' is too small: the image needs %llu bytes, the target has %llu (%llu bytes short)",
		    s->tgt->path, (unsigned long long)need,
		    (unsigned long long)s->tgt->size,
		    (unsigned long long)(need - s->tgt->size));
	return 0;
}

static int
confirm(struct restore *s, struct img_ctx *ctx)
{
	char model[256];
	struct img_restore_plan plan = {
		.target = s->opts->target,
		.target_size = s->tgt ? s->tgt->size : 0,
		.source_size = s->hdr->source_size,
		.used_bytes = img_reader_is_stream(s->rd) ? 0 :
		    img_reader_footer(s->rd)->used,
		.target_is_blockdev = s->tgt && s->tgt->is_blockdev,
		.target_is_new = !s->tgt,
	};

	if (!s->opts->confirm)
		return 0;
	if (s->tgt) {
		img_dev_describe(s->tgt, model, sizeof(model));
		plan.model = model[0] ? model : NULL;
	}
	if (s->opts->confirm(&plan, s->opts->confirm_arg) != 0)
		return img_error(ctx, -ECANCELED,
		    "not confirmed; nothing was written to '%s'",
		    s->opts->target);
	return 0;
}

/* Reads every chunk of a seekable image before anything is written. */
static int
preverify(struct restore *s, struct img_ctx *ctx)
{
	uint64_t total, done = 0;
	struct img_decode_pipe *dp;
	struct img_raw_chunk *c;
	int rc;

	if (img_reader_is_stream(s->rd) || s->opts->no_preverify)
		return 0;
	total = img_reader_footer(s->rd)->used;
	rc = img_decode_pipe_open(s->rd, s->opts->threads, &dp, ctx);
	while (rc == 0 && (rc = img_check_cancel(ctx)) == 0 &&
	    (rc = img_decode_pipe_next(dp, &c, ctx)) == 1) {
		done += c->c.used;
		img_progress_report(ctx, "check", done, total, 0);
		rc = 0;
	}
	img_decode_pipe_close(dp);
	img_reader_rewind(s->rd);
	if (rc < 0 && rc != -ECANCELED)
		return img_error_prefix(ctx,
		    "image check failed, nothing was written to '%s'",
		    s->opts->target);
	if (rc == 0)
		img_progress_report(ctx, "check", done, total, 1);
	return rc;
}

static int
create_target(struct restore *s, struct img_ctx *ctx)
{
	int rc;

	if (s->tgt)
		return 0;
	rc = img_dev_open(s->opts->target, IMG_DEV_WRITE | IMG_DEV_CREATE,
	    &s->tgt, ctx);
	if (rc < 0)
		return rc;
	if (ftruncate(s->tgt->fd, (off_t)s->hdr->source_size) < 0)
		return img_error_errno(ctx, -errno, "cannot size '%s'",
		    s->tgt->path);
	s->tgt->size = s->hdr->source_size;
	return 0;
}

/* --zero: clears the unused space between the last write and off. */
static int
zero_gap(struct restore *s, uint64_t off, struct img_ctx *ctx)
{
	int rc = 0;

	if (s->opts->zero_unused && s->tgt->created == 0 &&
	    off > s->zero_cursor)
		rc = img_dev_zero(s->tgt, s->zero_cursor,
		    off - s->zero_cursor, ctx);
	if (off > s->zero_cursor)
		s->zero_cursor = off;
	return rc;
}

/* Writes one extent of a chunk (or zeros, for a zero chunk). */
static int
write_extent(struct restore *s, const struct img_raw_chunk *raw,
    uint32_t off, uint32_t len, struct img_ctx *ctx)
{
	const struct img_chunk *c = &raw->c;
	uint64_t pos = c->offset + off;
	int rc = zero_gap(s, pos, ctx);

	if (rc < 0)
		return rc;
	s->zero_cursor = pos + len;
	if (!(c->flags & IMG_CHUNK_ZERO))
		return img_dev_pwrite(s->tgt, raw->data + off, len, pos, ctx);
	/* A new file already reads as zeros; anywhere else, zeros are data. */
	return s->tgt->created ? 0 : img_dev_zero(s->tgt, pos, len, ctx);
}

static int
write_chunk(struct restore *s, const struct img_raw_chunk *raw,
    struct img_ctx *ctx)
{
	const struct img_chunk *c = &raw->c;
	int rc;

	if (c->nextents == 0)
		return write_extent(s, raw, 0, c->length, ctx);
	for (uint32_t i = 0; i < c->nextents; i++) {
		rc = write_extent(s, raw, c->extents[2 * i],
		    c->extents[2 * i + 1], ctx);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int
stream_damaged(struct restore *s, uint64_t below, struct img_ctx *ctx)
{
	s->res->written_below = below;
	return img_error_prefix(ctx,
	    "'%s' holds restored data only below offset %llu; nothing at or above it was written",
	    s->tgt->path, (unsigned long long)below);
}

static int
write_all(struct restore *s, struct img_ctx *ctx)
{
	uint64_t total = img_reader_is_stream(s->rd) ? 0 :
	    img_reader_footer(s->rd)->used, done = 0, next_off = 0;
	struct img_decode_pipe *dp;
	struct img_raw_chunk *c;
	int rc;

	rc = img_decode_pipe_open(s->rd, s->opts->threads, &dp, ctx);
	while (rc == 0 && (rc = img_check_cancel(ctx)) == 0 &&
	    (rc = img_decode_pipe_next(dp, &c, ctx)) == 1) {
		rc = write_chunk(s, c, ctx);
		next_off = c->c.offset + c->c.length;
		done += c->c.used;
		s->res->written_bytes += c->c.used;
		s->res->chunks++;
		img_progress_report(ctx, "restore", done, total, 0);
	}
	img_decode_pipe_close(dp);
	if (rc == -EBADMSG)
		return stream_damaged(s, next_off, ctx);
	if (rc == 0)
		rc = zero_gap(s, s->hdr->source_size, ctx);
	if (rc == 0)
		img_progress_report(ctx, "restore", done, total, 1);
	return rc;
}

int
img_restore(const struct img_restore_opts *opts,
    struct img_restore_result *res, struct img_ctx *ctx)
{
	struct restore s = { .opts = opts, .res = res };
	int rc;

	memset(res, 0, sizeof(*res));
	if (!opts->image || !opts->target)
		return img_error(ctx, -EINVAL, "image and target are required");
	rc = img_reader_open(opts->image, &s.rd, ctx);
	if (rc < 0)
		return rc;
	s.hdr = img_reader_header(s.rd);
	rc = open_target(&s, ctx);
	if (rc == 0)
		rc = check_target(&s, ctx);
	if (rc == 0)
		rc = confirm(&s, ctx);
	if (rc == 0)
		rc = preverify(&s, ctx);
	if (rc == 0)
		rc = create_target(&s, ctx);
	if (rc == 0)
		rc = write_all(&s, ctx);
	if (rc == 0)
		rc = img_dev_sync(s.tgt, ctx);
	res->written_below = rc == 0 ? s.hdr->source_size : res->written_below;
	img_dev_close(s.tgt);
	img_reader_close(s.rd);
	return rc;
}
