/*
 * restore.c - img_restore(): write an image back to a device or file.
 *
 * Everything that can be checked is checked before the first write (see
 * restore_plan.c): the image header and index (and, for a seekable image,
 * every chunk), the target's size, that it is not mounted and not the
 * image, and the user's confirmation. A stream cannot be checked ahead; if
 * it turns out to be damaged, restore stops at the first bad chunk and
 * reports which part of the target was written.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctx.h"
#include "decode_pipe.h"
#include "dev.h"
#include "formats.h"
#include "image_read.h"
#include "restore_priv.h"

/* Reads every chunk of a seekable image before anything is written, and
 * seals each record so that the writing pass need not hash it again. */
static int
preverify(struct restore *s, struct img_ctx *ctx)
{
	uint64_t total, done = 0, count;
	struct img_decode_pipe *dp;
	struct img_raw_chunk *c;
	int rc;

	if (img_reader_is_stream(s->rd) || s->opts->no_preverify)
		return 0;
	total = img_reader_footer(s->rd)->used;
	count = img_reader_count(s->rd);
	s->seals = calloc(count ? count : 1, sizeof(*s->seals));
	if (!s->seals)
		return img_error(ctx, -ENOMEM, "out of memory");
	rc = img_decode_pipe_open(s->rd, s->opts->threads, &dp, ctx);
	if (rc == 0)
		img_decode_pipe_seals(dp, s->seals, IMG_SEAL_RECORD);
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
	if (rc == 0 && !s->tgt->created)	/* appeared since the checks */
		rc = img_error(ctx, -EEXIST, "'%s' was created by another program while the image was checked; nothing was written",
		    s->opts->target);
	if (rc == 0)
		rc = img_dev_lock(s->tgt, 1, ctx);
	if (rc < 0)
		return rc;
	s->dirty = 1;
	if (ftruncate(s->tgt->fd, (off_t)s->target_size) < 0)
		return img_error_errno(ctx, -errno, "cannot size '%s'",
		    s->tgt->path);
	s->tgt->size = s->target_size;
	return 0;
}

/* The three things restore does to the target, outside the held-back
 * ranges (img_holdback_apply's callbacks). */
static int
target_write(void *arg, const uint8_t *data, uint64_t off, uint64_t len,
    struct img_ctx *ctx)
{
	struct restore *s = arg;

	return img_dev_pwrite(s->tgt, data, (size_t)len, off, ctx);
}

static int
target_zero(void *arg, const uint8_t *data, uint64_t off, uint64_t len,
    struct img_ctx *ctx)
{
	struct restore *s = arg;

	(void)data;
	return img_dev_zero(s->tgt, off, len, ctx);
}

static int
target_discard(void *arg, const uint8_t *data, uint64_t off, uint64_t len,
    struct img_ctx *ctx)
{
	struct restore *s = arg;

	(void)data;
	return img_dev_discard(s->tgt, off, len, ctx);
}

/* --zero / --discard: handles the unused space between the last write and
 * logical offset off. */
static int
unused_upto(struct restore *s, uint64_t off, struct img_ctx *ctx)
{
	uint64_t from = s->cursor;
	int rc = 0;

	if (off > s->src_end)
		off = s->src_end;
	if (off <= from)
		return 0;
	s->cursor = off;
	if (s->tgt->created)
		return 0;	/* a new file is all holes already */
	if (s->opts->zero_unused)
		rc = img_holdback_apply(&s->hb, NULL, from - s->src_start,
		    off - from, target_zero, s, ctx);
	else if (s->opts->discard_unused)
		rc = img_holdback_apply(&s->hb, NULL, from - s->src_start,
		    off - from, target_discard, s, ctx);
	return rc;
}

/* Writes [pos, pos+len) of the logical disk (content at data), mapped to
 * the target and clipped to the range being restored. */
static int
write_range(struct restore *s, const struct img_raw_chunk *raw, uint64_t pos,
    uint64_t len, struct img_ctx *ctx)
{
	const uint8_t *data = raw->data + (pos - raw->c.offset);
	int rc;

	if (pos < s->src_start) {
		if (pos + len <= s->src_start)
			return 0;
		data += s->src_start - pos;
		len -= s->src_start - pos;
		pos = s->src_start;
	}
	if (pos >= s->src_end)
		return 0;
	if (pos + len > s->src_end)
		len = s->src_end - pos;
	/* the old backup table is rebuilt at the new end, not copied */
	if (s->relocate && img_layout_in_tail_table(&s->layout, pos))
		return 0;
	rc = unused_upto(s, pos, ctx);
	if (rc < 0)
		return rc;
	s->cursor = pos + len;
	if (!(raw->c.flags & IMG_CHUNK_ZERO))
		return img_holdback_apply(&s->hb, data, pos - s->src_start,
		    len, target_write, s, ctx);
	/* A new file already reads as zeros; anywhere else, zeros are data. */
	return s->tgt->created ? 0 : img_holdback_apply(&s->hb, NULL,
	    pos - s->src_start, len, target_zero, s, ctx);
}

static int
write_chunk(struct restore *s, const struct img_raw_chunk *raw,
    struct img_ctx *ctx)
{
	const struct img_chunk *c = &raw->c;
	int rc = 0;

	if (c->nextents == 0)
		return write_range(s, raw, c->offset, c->length, ctx);
	for (uint32_t i = 0; rc == 0 && i < c->nextents; i++)
		rc = write_range(s, raw, c->offset + c->extents[2 * i],
		    c->extents[2 * i + 1], ctx);
	return rc;
}

/* After a failure that changed the target: a file restore created is
 * removed; anything else gets its first and last MiB cleared again, so it
 * is never taken for a good disk, and the message says it is incomplete. */
static int
abandon(struct restore *s, struct img_ctx *ctx)
{
	if (s->tgt->created) {
		unlink(s->tgt->path);
		return img_error_prefix(ctx, "the new file '%s' was removed",
		    s->tgt->path);
	}
	img_holdback_abandon(&s->hb, s->tgt);
	if (s->res->written_below)
		return img_error_prefix(ctx,
		    "restore incomplete: '%s' holds restored data only below offset %llu, and no partition table; do not use it",
		    s->tgt->path,
		    (unsigned long long)s->res->written_below);
	return img_error_prefix(ctx,
	    "restore incomplete: '%s' holds part of the image and no partition table; do not use it",
	    s->tgt->path);
}

static int
write_all(struct restore *s, struct img_ctx *ctx)
{
	uint64_t total = img_reader_is_stream(s->rd) ? 0 :
	    img_reader_footer(s->rd)->used, done = 0, next_off = 0;
	struct img_decode_pipe *dp;
	struct img_raw_chunk *c;
	int rc;

	s->cursor = s->src_start;
	s->tgt->writeback = 1;
	s->dirty = 1;
	rc = img_holdback_begin(&s->hb, s->tgt, s->tgt->size, ctx);
	if (rc == 0)
		rc = img_decode_pipe_open(s->rd, s->opts->threads, &dp, ctx);
	if (rc == 0 && s->seals)
		img_decode_pipe_seals(dp, s->seals, IMG_SEAL_TRUST);
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
		s->res->written_below = next_off;
	if (rc == 0)
		rc = unused_upto(s, s->src_end, ctx);
	if (rc == 0)
		img_progress_report(ctx, "restore", done, total, 1);
	return rc;
}

/* --grow: the filesystem into its extended partition. resize2fs sets a
 * regular file's size to the filesystem's end, cutting off the backup
 * GPT: put the size back and write the table again. */
static int
grow(struct restore *s, uint64_t grown, struct img_ctx *ctx)
{
	uint64_t again;
	struct stat st;
	int rc = img_grow_fs(s->tgt, s->grow, grown, ctx);

	if (rc < 0 || s->tgt->is_blockdev)
		return rc;
	if (fstat(s->tgt->fd, &st) == 0 && (uint64_t)st.st_size == s->target_size)
		return img_dev_sync(s->tgt, ctx);
	if (ftruncate(s->tgt->fd, (off_t)s->target_size) < 0)
		return img_error_errno(ctx, -errno, "cannot size '%s'",
		    s->tgt->path);
	rc = s->pt->relocate(s->tgt, s->target_size, s->grow->number, &again,
	    ctx);
	return rc < 0 ? rc : img_dev_sync(s->tgt, ctx);
}

/* After the data: the table for the target's size, the grown filesystem,
 * and the kernel's view of the new partitions. */
static int
finish(struct restore *s, struct img_ctx *ctx)
{
	uint64_t grown = 0;
	int rc = img_dev_sync(s->tgt, ctx);

	/* the table and boot area go on only after the data is on disk */
	if (rc == 0)
		rc = img_holdback_finish(&s->hb, s->tgt, ctx);
	if (rc == 0 && s->relocate) {
		rc = s->pt->relocate(s->tgt, s->target_size,
		    s->grow ? s->grow->number : 0, &grown, ctx);
		if (rc == 0)
			rc = img_dev_sync(s->tgt, ctx);
		if (rc < 0)
			return img_error_prefix(ctx,
			    "the data was restored but the partition table could not be rewritten");
	}
	if (rc == 0 && s->grow && grown)
		rc = grow(s, grown, ctx);
	if (rc == 0 && !s->opts->partition && s->tgt->is_blockdev &&
	    img_dev_reread_partitions(s->tgt) < 0)
		img_warn(ctx, "the kernel could not re-read the partition table of '%s' (in use?); run partprobe or reboot before using its partitions",
		    s->tgt->path);
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
	if (opts->zero_unused && opts->discard_unused)
		return img_error(ctx, -EINVAL, "--zero and --discard exclude each other");
	rc = img_reader_open(opts->image, &s.rd, ctx);
	if (rc < 0)
		return rc;
	s.hdr = img_reader_header(s.rd);
	rc = img_layout_read(s.rd, &s.layout, ctx);
	if (rc == 0)
		rc = restore_open_target(&s, ctx);
	if (rc == 0)
		rc = restore_check_target(&s, ctx);
	if (rc == 0)
		rc = restore_describe(&s, ctx);
	if (rc == 0)
		rc = restore_confirm(&s, ctx);
	if (rc == 0)
		rc = preverify(&s, ctx);
	if (rc == 0 && !opts->dry_run) {
		rc = create_target(&s, ctx);
		if (rc == 0)
			rc = write_all(&s, ctx);
		if (rc == 0)
			rc = finish(&s, ctx);
	}
	if (rc == 0)
		res->written_below = s.src_end;
	if (rc < 0 && s.dirty)
		rc = abandon(&s, ctx);
	if (rc < 0) {		/* the plan is only handed out with success */
		free(res->plan);
		res->plan = NULL;
	}
	free(s.seals);
	img_holdback_free(&s.hb);
	img_layout_free(&s.layout);
	img_dev_close(s.tgt);
	img_reader_close(s.rd);
	return rc;
}
