/*
 * restore_plan.c - decide what a restore writes where, and refuse before the
 * first write: the target must not be the image, mounted, or too small;
 * a whole-disk image may go to a bigger disk, or to a smaller one when
 * every partition fits (the table is rewritten for the new size).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctx.h"
#include "dev.h"
#include "formats.h"
#include "image_read.h"
#include "restore_priv.h"

int
restore_open_target(struct restore *s, struct img_ctx *ctx)
{
	const char *path = s->opts->target;
	struct stat st;
	int rc;

	if (stat(path, &st) != 0)
		return 0;	/* created after the checks and confirmation */
	if (S_ISDIR(st.st_mode))
		return img_error(ctx, -EISDIR, "'%s' is a directory", path);
	if (s->opts->dry_run)
		return img_dev_open(path, IMG_DEV_READ, &s->tgt, ctx);
	rc = img_dev_open(path, IMG_DEV_WRITE | IMG_DEV_EXCL, &s->tgt, ctx);
	return rc < 0 ? rc : img_dev_lock(s->tgt, 1, ctx);
}

/* The logical range to write: one partition, or the whole source. */
static int
choose_range(struct restore *s, struct img_ctx *ctx)
{
	const struct img_region *p;

	if (!s->opts->partition) {
		s->src_start = 0;
		s->src_end = s->hdr->source_size;
		return 0;
	}
	p = img_layout_partition(&s->layout, s->opts->partition);
	if (!p)
		return img_error(ctx, -EINVAL,
		    "'%s' has no partition %u (see imgtool info)",
		    s->opts->image, s->opts->partition);
	s->src_start = p->start;
	s->src_end = p->start + p->len;
	return 0;
}

static int
check_identity(struct restore *s, struct img_ctx *ctx)
{
	char where[4096];
	struct stat st;
	int rw;

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
	return 0;
}

/* A whole-disk image fits a target at least as big as the source, or one
 * that holds every partition and a rewritten table. */
static int
check_size(struct restore *s, struct img_ctx *ctx)
{
	uint64_t need = s->src_end - s->src_start, have = s->tgt->size;
	uint64_t min = s->opts->partition ? need :
	    img_layout_min_size(&s->layout);

	if (have < min)
		return img_error(ctx, -ENOSPC,
		    "'%s' is too small: the image needs %llu bytes%s, the target has %llu (%llu bytes short)",
		    s->tgt->path, (unsigned long long)min,
		    min < need ? " (its partitions and table)" : "",
		    (unsigned long long)have,
		    (unsigned long long)(min - have));
	s->target_size = have;
	if (s->opts->partition || have == need)
		return 0;
	if (!s->pt && have < need)
		return img_error(ctx, -ENOSPC,
		    "'%s' is too small: the image needs %llu bytes, the target has %llu (%llu bytes short)",
		    s->tgt->path, (unsigned long long)need,
		    (unsigned long long)have,
		    (unsigned long long)(need - have));
	s->relocate = s->pt && s->pt->relocate;
	if (s->relocate && s->tgt->sector_size != s->hdr->sector_size)
		return img_error(ctx, -EMEDIUMTYPE,
		    "'%s' has %u-byte sectors but the image's disk had %u-byte sectors; its partition table cannot be moved between them",
		    s->tgt->path, s->tgt->sector_size, s->hdr->sector_size);
	return 0;
}

/* --grow: the partition that ends last, if the table can be grown. */
static int
choose_grow(struct restore *s, struct img_ctx *ctx)
{
	const struct img_region *last = NULL;

	if (!s->opts->grow)
		return 0;
	if (s->opts->partition || !s->pt || !s->pt->relocate)
		return img_error(ctx, -EINVAL,
		    "--grow needs a whole-disk image with a GPT partition table");
	for (unsigned i = 0; i < s->layout.nregions; i++) {
		const struct img_region *r = &s->layout.regions[i];

		if (r->kind == IMG_REGION_PART &&
		    (!last || r->start + r->len > last->start + last->len))
			last = r;
	}
	if (!last)
		return img_error(ctx, -EINVAL, "--grow: the image has no partitions");
	s->grow = last;
	s->relocate = 1;
	return 0;
}

static void
trace_range(const struct restore *s, struct img_ctx *ctx)
{
	img_debug(ctx, IMG_DBG_RESTORE, "bytes %llu-%llu of the image's disk go to %s'%s' (%llu bytes) at 0%s%s",
	    (unsigned long long)s->src_start, (unsigned long long)s->src_end,
	    s->tgt ? "" : "new ", s->opts->target,
	    (unsigned long long)s->target_size,
	    s->relocate ? ", table rewritten for its size" : "",
	    s->grow ? ", last partition grown" : "");
}

int
restore_check_target(struct restore *s, struct img_ctx *ctx)
{
	int rc;

	s->pt = s->opts->partition ? NULL : pt_ops_find(s->layout.scheme);
	rc = choose_range(s, ctx);
	if (rc == 0)
		rc = choose_grow(s, ctx);
	if (rc < 0)
		return rc;
	if (!s->tgt) {
		s->target_size = s->src_end - s->src_start;
		trace_range(s, ctx);
		return 0;
	}
	rc = check_identity(s, ctx);
	if (rc == 0)
		rc = check_size(s, ctx);
	if (rc == 0 && s->src_end - s->src_start > s->target_size)
		s->src_end = s->src_start + s->target_size;
	trace_range(s, ctx);
	return rc;
}

static void __attribute__((format(printf, 3, 4)))
add_line(char **buf, size_t *len, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	char *b;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	b = realloc(*buf, *len + (size_t)n + 2);
	if (!b)
		return;
	memcpy(b + *len, line, (size_t)n);
	*len += (size_t)n;
	b[(*len)++] = '\n';
	b[*len] = '\0';
	*buf = b;
}

int
restore_describe(struct restore *s, struct img_ctx *ctx)
{
	char *t = NULL;
	size_t n = 0;
	const char *unused = s->opts->zero_unused ? "written with zeros" :
	    s->opts->discard_unused ? "discarded" : "left untouched";

	if (s->opts->partition)
		add_line(&t, &n, "restore partition %u (bytes %llu-%llu of the image's disk) to '%s' at offset 0",
		    s->opts->partition, (unsigned long long)s->src_start,
		    (unsigned long long)s->src_end, s->opts->target);
	else
		add_line(&t, &n, "restore the whole %llu-byte disk (%s) to '%s'",
		    (unsigned long long)s->hdr->source_size,
		    s->layout.scheme[0] ? s->layout.scheme : "no partition table",
		    s->opts->target);
	add_line(&t, &n, "target: %s, %llu bytes%s", s->tgt ?
	    (s->tgt->is_blockdev ? "block device" : "existing file") :
	    "new file", (unsigned long long)s->target_size,
	    s->tgt ? "" : " (created sparse)");
	for (unsigned i = 0; i < s->layout.nregions; i++) {
		const struct img_region *r = &s->layout.regions[i];

		if (r->kind != IMG_REGION_PART || r->start < s->src_start ||
		    r->start + r->len > s->src_end)
			continue;
		add_line(&t, &n, "  partition %u: %llu bytes at %llu, %s, %llu bytes of data",
		    r->number, (unsigned long long)r->len,
		    (unsigned long long)(r->start - s->src_start),
		    r->fstype[0] ? r->fstype : "unknown content",
		    (unsigned long long)r->used);
	}
	if (s->relocate)
		add_line(&t, &n, "the %s partition table is rewritten for the target's size (backup copy at its end)",
		    s->layout.scheme);
	if (s->grow)
		add_line(&t, &n, "partition %u is extended to the end of the disk and its %s filesystem grown",
		    s->grow->number, s->grow->fstype[0] ? s->grow->fstype :
		    "(unknown)");
	add_line(&t, &n, "space the image does not store is %s", unused);
	if (!t)
		return img_error(ctx, -ENOMEM, "out of memory");
	s->res->plan = t;
	return 0;
}

int
restore_confirm(struct restore *s, struct img_ctx *ctx)
{
	char model[256];
	struct img_restore_plan plan = {
		.target = s->opts->target,
		.target_size = s->tgt ? s->tgt->size : 0,
		.source_size = s->src_end - s->src_start,
		.used_bytes = img_reader_is_stream(s->rd) ? 0 :
		    img_reader_footer(s->rd)->used,
		.target_is_blockdev = s->tgt && s->tgt->is_blockdev,
		.target_is_new = !s->tgt,
		.text = s->res->plan,
	};

	if (!s->opts->confirm || s->opts->dry_run)
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
