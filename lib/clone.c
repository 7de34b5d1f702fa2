/*
 * clone.c - img_clone(): copy the used blocks of one device or file to
 * another through the backup pipeline, with no image in between, then read
 * every copied chunk back from the target and compare its SHA-256.
 *
 * The target gets what a restore of a backup would give it: the same
 * refusals before the first write (the source itself, mounted, too small),
 * and the partition table rewritten for a target of another size.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctx.h"
#include "dev.h"
#include "formats.h"
#include "holdback.h"
#include "layout.h"
#include "scan.h"
#include "source.h"

struct clone {
	const struct img_clone_opts *opts;
	struct img_clone_result *res;
	struct img_dev *src, *tgt;
	struct img_scan *scan;
	struct img_layout layout;
	struct img_extents used;	/* what goes to the target */
	uint64_t target_size;
	const struct pt_ops *pt;
	int relocate;
	uint8_t (*hashes)[IMG_SHA256_LEN];	/* per copied chunk */
	uint64_t nhashes, cap, checked, bad, first_bad;
	struct img_holdback hb;	/* the target's first and last MiB */
	int dirty;		/* the target was changed */
};

static int
open_devices(struct clone *c, struct img_ctx *ctx)
{
	const struct img_clone_opts *o = c->opts;
	struct stat st;
	int rc;

	rc = img_dev_open(o->source, IMG_DEV_READ |
	    (o->direct ? IMG_DEV_DIRECT : 0), &c->src, ctx);
	if (rc < 0)
		return rc;
	if (c->src->is_stream || c->src->size == 0)
		return img_error(ctx, -EINVAL,
		    "'%s' is not a block device or a non-empty file", o->source);
	rc = img_source_check_mount(c->src, o->force_mounted, ctx);
	if (rc == 0 && stat(o->target, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return img_error(ctx, -EISDIR, "'%s' is a directory",
			    o->target);
		/* before the claims: the source's would refuse it first */
		if (S_ISBLK(st.st_mode) ? c->src->is_blockdev &&
		    st.st_rdev == c->src->rdev : st.st_dev == c->src->st_dev &&
		    st.st_ino == c->src->st_ino)
			return img_error(ctx, -EXDEV,
			    "'%s' is the source itself", o->target);
	}
	if (rc == 0)
		rc = img_source_claim(c->src, ctx);
	if (rc < 0 || stat(o->target, &st) != 0)
		return rc;	/* a missing target is created later */
	if (o->dry_run)
		return img_dev_open(o->target, IMG_DEV_READ, &c->tgt, ctx);
	rc = img_dev_open(o->target, IMG_DEV_WRITE | IMG_DEV_EXCL, &c->tgt,
	    ctx);
	return rc < 0 ? rc : img_dev_lock(c->tgt, 1, ctx);
}

static int
check_target(struct clone *c, struct img_ctx *ctx)
{
	uint64_t min = img_layout_min_size(&c->layout);
	char where[4096];
	int rw;

	c->target_size = c->src->size;
	if (!c->tgt)
		return 0;
	if (img_dev_same(c->src, c->tgt))
		return img_error(ctx, -EXDEV, "'%s' is the source itself",
		    c->tgt->path);
	if (c->tgt->is_stream)
		return img_error(ctx, -EINVAL,
		    "'%s' is not a block device or regular file", c->tgt->path);
	if (img_dev_find_mount(c->tgt, where, sizeof(where), &rw))
		return img_error(ctx, -EBUSY, "'%s' is mounted on %s",
		    c->tgt->path, where);
	if (c->tgt->size < min || (c->tgt->size < c->src->size && !c->pt))
		return img_error(ctx, -ENOSPC,
		    "'%s' is too small: the copy needs %llu bytes, the target has %llu (%llu bytes short)",
		    c->tgt->path, (unsigned long long)(c->pt ? min :
		    c->src->size), (unsigned long long)c->tgt->size,
		    (unsigned long long)((c->pt ? min : c->src->size) -
		    c->tgt->size));
	c->target_size = c->tgt->size;
	c->relocate = c->target_size != c->src->size && c->pt &&
	    c->pt->relocate;
	if (c->relocate && c->tgt->sector_size != c->src->sector_size)
		return img_error(ctx, -EMEDIUMTYPE,
		    "'%s' has %u-byte sectors, '%s' %u-byte ones; the partition table cannot be moved between them",
		    c->tgt->path, c->tgt->sector_size, c->src->path,
		    c->src->sector_size);
	return 0;
}

/* The used ranges that go to the target: clipped to its size, without the
 * backup table when the table is rebuilt for another size. */
static int
target_extents(struct clone *c, struct img_ctx *ctx)
{
	const struct img_extents *u = &c->scan->used;

	img_extents_init(&c->used);
	for (size_t i = 0; i < u->n; i++) {
		uint64_t a = u->v[i].off, b = a + u->v[i].len;

		if (b > c->target_size)
			b = c->target_size;
		if (c->relocate && img_layout_in_tail_table(&c->layout, a))
			continue;
		if (a < b && img_extents_add(&c->used, a, b - a) < 0)
			return img_error(ctx, -ENOMEM, "out of memory");
	}
	return 0;
}

static int
describe_and_confirm(struct clone *c, struct img_ctx *ctx)
{
	char text[1024], model[256] = "";
	struct img_restore_plan plan = {
		.target = c->opts->target,
		.target_size = c->tgt ? c->tgt->size : 0,
		.source_size = c->src->size,
		.used_bytes = img_extents_total(&c->used),
		.target_is_blockdev = c->tgt && c->tgt->is_blockdev,
		.target_is_new = !c->tgt,
		.text = text,
	};

	snprintf(text, sizeof(text),
	    "clone '%s' (%llu bytes, %s, %llu bytes in use) to %s '%s' (%llu bytes)\n%s%s",
	    c->src->path, (unsigned long long)c->src->size,
	    c->layout.scheme[0] ? c->layout.scheme : "no partition table",
	    (unsigned long long)plan.used_bytes,
	    c->tgt ? (c->tgt->is_blockdev ? "device" : "file") : "new file",
	    c->opts->target, (unsigned long long)c->target_size,
	    c->relocate ? "the partition table is rewritten for the target's size\n" : "",
	    c->opts->no_verify ? "" : "every copied chunk is read back and compared\n");
	c->res->plan = strdup(text);
	if (!c->opts->confirm || c->opts->dry_run)
		return 0;
	if (c->tgt)
		img_dev_describe(c->tgt, model, sizeof(model));
	plan.model = model[0] ? model : NULL;
	if (c->opts->confirm(&plan, c->opts->confirm_arg) != 0)
		return img_error(ctx, -ECANCELED,
		    "not confirmed; nothing was written to '%s'", c->opts->target);
	return 0;
}

/* Hashes the used bytes of a chunk only: the source and a target of
 * another size may cut the last chunk at different lengths. */
static void
hash_work(void *item, void *arg)
{
	struct img_chunk_buf *c = item;

	(void)arg;
	if (c->known_zero)	/* not read: the zeros are written */
		memset(c->data, 0, c->length);
	img_sha256_init(c->hash);
	if (c->nextents == 0)
		img_sha256_update(c->hash, c->data, c->length);
	for (uint32_t i = 0; i < c->nextents; i++)
		img_sha256_update(c->hash, c->data + c->extents[2 * i],
		    c->extents[2 * i + 1]);
	img_sha256_final(c->hash, c->sha256);
	c->used = 0;
	for (uint32_t i = 0; i < c->nextents; i++)
		c->used += c->extents[2 * i + 1];
	if (c->nextents == 0)
		c->used = c->length;
}

static int
remember(struct clone *c, const uint8_t *sha)
{
	if (c->nhashes == c->cap) {
		uint64_t cap = c->cap ? c->cap * 2 : 1024;
		void *h = realloc(c->hashes, cap * IMG_SHA256_LEN);

		if (!h)
			return -ENOMEM;
		c->hashes = h;
		c->cap = cap;
	}
	memcpy(c->hashes[c->nhashes++], sha, IMG_SHA256_LEN);
	return 0;
}

static int
target_write(void *arg, const uint8_t *data, uint64_t off, uint64_t len,
    struct img_ctx *ctx)
{
	struct clone *c = arg;

	return img_dev_pwrite(c->tgt, data, (size_t)len, off, ctx);
}

/* Writes the used extents of one source chunk to the target (what falls
 * in its first or last MiB is held back until the end). */
static int
write_sink(struct img_chunk_buf *b, void *arg, struct img_ctx *ctx)
{
	struct clone *c = arg;
	int rc = 0;

	if (remember(c, b->sha256) < 0)
		return img_error(ctx, -ENOMEM, "out of memory");
	if (b->nextents == 0)
		return img_holdback_apply(&c->hb, b->data, b->offset,
		    b->length, target_write, c, ctx);
	for (uint32_t i = 0; rc == 0 && i < b->nextents; i++)
		rc = img_holdback_apply(&c->hb, b->data + b->extents[2 * i],
		    b->offset + b->extents[2 * i], b->extents[2 * i + 1],
		    target_write, c, ctx);
	return rc;
}

/* Compares one chunk read back from the target with the source's hash. */
static int
check_sink(struct img_chunk_buf *b, void *arg, struct img_ctx *ctx)
{
	struct clone *c = arg;

	(void)ctx;
	if (c->checked < c->nhashes &&
	    memcmp(c->hashes[c->checked], b->sha256, IMG_SHA256_LEN) != 0 &&
	    c->bad++ == 0)
		c->first_bad = b->offset;
	c->checked++;
	c->res->verified_bytes += b->used;
	return 0;
}

/* Reads every copied chunk back from the medium (not the page cache) and
 * compares its hash with the source's. */
static int
read_back(struct clone *c, unsigned cs, struct img_ctx *ctx)
{
	int rc;

	posix_fadvise(c->tgt->fd, 0, 0, POSIX_FADV_DONTNEED);
	/* the same chunks as the copy (same zero ranges), every byte read */
	rc = img_source_run(c->tgt, &(struct img_source_params){
	    .used = &c->used, .zeros = &c->scan->zeros, .read_zeros = 1,
	    .chunk_size = cs, .threads = c->opts->threads,
	    .work = hash_work, .sink = check_sink, .arg = c,
	    .phase = "verify" }, ctx);
	if (rc == 0 && (c->bad || c->checked != c->nhashes))
		rc = img_error(ctx, -EIO,
		    "'%s': %llu of %llu copied chunks read back differently from '%s' (first at offset %llu)",
		    c->tgt->path, (unsigned long long)c->bad,
		    (unsigned long long)c->nhashes, c->src->path,
		    (unsigned long long)c->first_bad);
	return rc;
}

/* A missing target is created now, after every check and the
 * confirmation; one that appeared meanwhile is not touched. */
static int
create_target(struct clone *c, struct img_ctx *ctx)
{
	int rc = img_dev_open(c->opts->target, IMG_DEV_WRITE | IMG_DEV_CREATE,
	    &c->tgt, ctx);

	if (rc == 0 && !c->tgt->created)
		rc = img_error(ctx, -EEXIST, "'%s' was created by another program while the source was scanned; nothing was written",
		    c->opts->target);
	if (rc == 0)
		rc = img_dev_lock(c->tgt, 1, ctx);
	if (rc == 0)
		c->dirty = 1;
	if (rc == 0 && ftruncate(c->tgt->fd, (off_t)c->target_size) < 0)
		rc = img_error_errno(ctx, -errno, "cannot size '%s'",
		    c->opts->target);
	if (rc == 0)
		c->tgt->size = c->target_size;
	return rc;
}

static int
copy_and_check(struct clone *c, struct img_ctx *ctx)
{
	const struct img_clone_opts *o = c->opts;
	unsigned cs = IMG_CHUNK_DEFAULT;
	uint64_t grown;
	int rc = c->tgt ? 0 : create_target(c, ctx);

	if (rc == 0) {
		c->tgt->writeback = 1;
		c->dirty = 1;
		rc = img_holdback_begin(&c->hb, c->tgt, c->tgt->size, ctx);
	}
	if (rc == 0)
		rc = img_source_run(c->src, &(struct img_source_params){
		    .used = &c->used, .zeros = &c->scan->zeros,
		    .chunk_size = cs, .threads = o->threads,
		    .work = hash_work, .sink = write_sink, .arg = c,
		    .phase = "clone" }, ctx);
	if (rc == 0)
		rc = img_dev_sync(c->tgt, ctx);
	/* the table and boot area go on only after the data is on disk */
	if (rc == 0)
		rc = img_holdback_finish(&c->hb, c->tgt, ctx);
	if (rc == 0 && !o->no_verify)
		rc = read_back(c, cs, ctx);
	/* the table is rewritten after the check, which compares bytes as
	 * they were on the source */
	if (rc == 0 && c->relocate)
		rc = c->pt->relocate(c->tgt, c->target_size, 0, &grown, ctx);
	if (rc == 0 && c->relocate)
		rc = img_dev_sync(c->tgt, ctx);
	return rc;
}

/* After a failure that changed the target: a file clone created is
 * removed, anything else is marked unusable (see holdback.h). */
static int
abandon(struct clone *c, struct img_ctx *ctx)
{
	if (c->tgt->created) {
		unlink(c->tgt->path);
		return img_error_prefix(ctx, "the new file '%s' was removed",
		    c->tgt->path);
	}
	img_holdback_abandon(&c->hb, c->tgt);
	return img_error_prefix(ctx,
	    "clone incomplete: '%s' holds part of the copy and no partition table; do not use it",
	    c->tgt->path);
}

int
img_clone(const struct img_clone_opts *opts, struct img_clone_result *res,
    struct img_ctx *ctx)
{
	struct clone c = { .opts = opts, .res = res };
	int rc;

	memset(res, 0, sizeof(*res));
	img_extents_init(&c.used);
	if (!opts->source || !opts->target)
		return img_error(ctx, -EINVAL, "source and target are required");
	rc = open_devices(&c, ctx);
	if (rc == 0)
		rc = img_scan(c.src, opts->raw, &c.scan, ctx);
	if (rc == 0)
		rc = img_layout_from_scan(c.scan, c.src->size, &c.layout, ctx);
	if (rc == 0) {
		c.pt = pt_ops_find(c.layout.scheme);
		rc = check_target(&c, ctx);
	}
	if (rc == 0)
		rc = target_extents(&c, ctx);
	if (rc == 0)
		rc = describe_and_confirm(&c, ctx);
	res->source_size = c.src ? c.src->size : 0;
	res->used_bytes = img_extents_total(&c.used);
	if (rc == 0 && !opts->dry_run)
		rc = copy_and_check(&c, ctx);
	if (rc == 0 && !opts->dry_run && c.tgt->is_blockdev &&
	    img_dev_reread_partitions(c.tgt) < 0)
		img_warn(ctx, "the kernel could not re-read the partition table of '%s'; run partprobe or reboot before using its partitions",
		    c.tgt->path);
	if (rc < 0 && c.dirty)
		rc = abandon(&c, ctx);
	if (rc < 0) {		/* the plan is only handed out with success */
		free(res->plan);
		res->plan = NULL;
	}
	img_holdback_free(&c.hb);
	free(c.hashes);
	img_extents_free(&c.used);
	img_layout_free(&c.layout);
	img_scan_free(c.scan);
	img_dev_close(c.tgt);
	img_dev_close(c.src);
	return rc;
}
