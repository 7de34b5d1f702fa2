/*
 * backup.c - img_backup(): scan the source, then copy the used ranges chunk
 * by chunk into a new image.
 *
 * The image goes to a temporary name beside the final one and is renamed
 * only after everything was written and fsynced, so an interrupted backup
 * never leaves a partial file under the final name.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctx.h"
#include "dev.h"
#include "image_write.h"
#include "pipeline.h"
#include "scan.h"

struct backup {
	const struct img_backup_opts *opts;
	struct img_dev *src;
	struct img_dev *out;
	struct img_scan *scan;
	struct img_writer *writer;
	char tmp_path[PATH_MAX];
	unsigned chunk_size;
};

static int
check_source(struct backup *b, struct img_ctx *ctx)
{
	char where[4096];
	int rw;

	if (!img_dev_find_mount(b->src, where, sizeof(where), &rw) || !rw)
		return 0;
	if (b->opts->force_mounted) {
		img_warn(ctx, "'%s' is mounted read-write on %s: the image may be inconsistent",
		    b->src->path, where);
		return 0;
	}
	return img_error(ctx, -EBUSY,
	    "'%s' is mounted read-write on %s; its blocks change under the copy (unmount it, remount it read-only, or use --force-mounted)",
	    b->src->path, where);
}

/* Refuses an image path that names the source itself. */
static int
check_not_source(struct backup *b, struct img_ctx *ctx)
{
	struct stat st;

	if (strcmp(b->opts->image, "-") == 0 || stat(b->opts->image, &st) < 0)
		return 0;
	if ((b->src->is_blockdev && S_ISBLK(st.st_mode) &&
	    st.st_rdev == b->src->rdev) ||
	    (!b->src->is_blockdev && st.st_dev == b->src->st_dev &&
	    st.st_ino == b->src->st_ino))
		return img_error(ctx, -EXDEV, "'%s' is the source itself",
		    b->opts->image);
	return 0;
}

static int
open_output(struct backup *b, struct img_ctx *ctx)
{
	const char *image = b->opts->image;
	char dir[PATH_MAX];
	struct stat st;
	int fd, rc;

	if (strcmp(image, "-") == 0)
		return img_dev_from_fd(1, "standard output", &b->out, ctx);
	if (stat(image, &st) == 0 && !b->opts->force)
		return img_error(ctx, -EEXIST,
		    "'%s' exists; use --force to overwrite it", image);
	if (stat(image, &st) == 0 && !S_ISREG(st.st_mode))
		return img_error(ctx, -EINVAL,
		    "'%s' is not a regular file; refusing to replace it", image);
	snprintf(dir, sizeof(dir), "%s", image);
	snprintf(b->tmp_path, sizeof(b->tmp_path), "%s/.%s.XXXXXX",
	    dirname(dir), basename((char *)image));
	fd = mkostemp(b->tmp_path, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		b->tmp_path[0] = '\0';
		return img_error_errno(ctx, rc, "cannot create a file beside '%s'",
		    image);
	}
	close(fd);
	return img_dev_open(b->tmp_path, IMG_DEV_WRITE, &b->out, ctx);
}

/* Moves the finished temporary file to its final name, durably. */
static int
commit_output(struct backup *b, struct img_ctx *ctx)
{
	char dir[PATH_MAX];
	int rc, fd;

	if (b->out->is_stream)
		return 0;
	rc = img_dev_sync(b->out, ctx);
	if (rc < 0)
		return rc;
	if (rename(b->tmp_path, b->opts->image) < 0)
		return img_error_errno(ctx, -errno, "cannot rename '%s' to '%s'",
		    b->tmp_path, b->opts->image);
	b->tmp_path[0] = '\0';
	snprintf(dir, sizeof(dir), "%s", b->opts->image);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

/* Fills c with the used parts of the chunk at off (unused parts zero);
 * *ei is the cursor into the used list (first extent that may touch this
 * chunk). */
static int
read_chunk(struct backup *b, struct img_chunk_buf *c, uint64_t off,
    size_t *ei, struct img_ctx *ctx)
{
	const struct img_extents *used = &b->scan->used;
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

static void
encode_work(void *item, void *arg)
{
	(void)arg;
	img_chunk_encode(item);
}

/* Hands the oldest encoded chunk to the writer. */
static int
emit_oldest(struct backup *b, struct img_pipeline *pl, uint64_t *done,
    uint64_t total, struct img_ctx *ctx)
{
	struct img_chunk_buf *c = img_pipeline_collect(pl);
	int rc;

	if (!c)
		return 0;
	rc = img_writer_add(b->writer, c, ctx);
	*done += c->used;
	img_progress_report(ctx, "backup", *done, total, 0);
	return rc;
}

/* Reads chunks in disk order on this thread; workers encode them; the
 * writer gets them back in order. */
static int
run_pipeline(struct backup *b, struct img_pipeline *pl,
    struct img_chunk_buf *bufs, struct img_ctx *ctx)
{
	const struct img_extents *used = &b->scan->used;
	uint64_t size = b->src->size, done = 0, next = 0, n = 0;
	uint64_t total = img_extents_total(used);
	unsigned depth = img_pipeline_depth(pl);
	size_t ei = 0;
	int rc = 0;

	while (rc == 0 && ei < used->n) {
		/* The chunk holding the first used byte not yet copied. */
		uint64_t first = used->v[ei].off > next ? used->v[ei].off : next;
		uint64_t off = first / b->chunk_size * b->chunk_size;
		struct img_chunk_buf *c = &bufs[n++ % depth];

		if (img_pipeline_pending(pl) == depth)
			rc = emit_oldest(b, pl, &done, total, ctx);
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
		rc = emit_oldest(b, pl, &done, total, ctx);
	if (rc == 0)
		img_progress_report(ctx, "backup", done, total, 1);
	return rc;
}

static int
copy_chunks(struct backup *b, struct img_ctx *ctx)
{
	unsigned threads = img_pipeline_threads(b->opts->threads);
	unsigned depth = 2 * threads + 2;
	struct img_chunk_buf *bufs = calloc(depth, sizeof(*bufs));
	struct img_pipeline *pl = NULL;
	int rc = bufs ? 0 : -ENOMEM;

	for (unsigned i = 0; rc == 0 && i < depth; i++)
		rc = img_chunk_buf_init(&bufs[i], b->chunk_size);
	if (rc == 0)
		rc = img_pipeline_new(threads, depth, encode_work, NULL, &pl);
	if (rc < 0)
		rc = img_error(ctx, rc, "cannot start %u worker threads",
		    threads);
	else
		rc = run_pipeline(b, pl, bufs, ctx);
	/* joins the workers before their buffers go away */
	img_pipeline_free(pl);
	for (unsigned i = 0; bufs && i < depth; i++)
		img_chunk_buf_free(&bufs[i]);
	free(bufs);
	return rc;
}

static int
write_image(struct backup *b, struct img_backup_result *res,
    struct img_ctx *ctx)
{
	struct img_meta_buf meta = { 0 };
	struct img_writer_params p = {
		.source_size = b->src->size,
		.sector_size = b->src->sector_size,
		.chunk_size = b->chunk_size,
		.flags = b->opts->raw ? IMG_IMAGE_RAW : 0,
	};
	int rc;

	rc = img_meta_add(&meta, IMG_META_SOURCE, 0, b->src->path,
	    (uint32_t)strlen(b->src->path));
	if (rc == 0)
		rc = img_scan_encode_meta(b->scan, &meta);
	if (rc < 0) {
		img_meta_free(&meta);
		return img_error(ctx, rc, "cannot encode the image metadata");
	}
	p.meta = meta.data;
	p.meta_len = meta.len;
	rc = img_writer_open(b->out, &p, &b->writer, ctx);
	img_meta_free(&meta);
	if (rc == 0)
		rc = copy_chunks(b, ctx);
	if (rc == 0)
		rc = img_writer_finish(b->writer, res->identity, ctx);
	if (rc < 0)
		return rc;
	res->source_size = b->src->size;
	res->used_bytes = img_writer_used(b->writer);
	res->stored_bytes = img_writer_stored(b->writer);
	res->image_bytes = img_writer_bytes(b->writer);
	res->chunks = img_writer_chunks(b->writer);
	return 0;
}

static int
check_opts(const struct img_backup_opts *o, unsigned *chunk_size,
    struct img_ctx *ctx)
{
	*chunk_size = o->chunk_size ? o->chunk_size : IMG_CHUNK_DEFAULT;
	if (*chunk_size & (*chunk_size - 1) || *chunk_size < IMG_CHUNK_MIN ||
	    *chunk_size > IMG_CHUNK_MAX)
		return img_error(ctx, -EINVAL,
		    "chunk size %u is not a power of two between %u and %u",
		    *chunk_size, IMG_CHUNK_MIN, IMG_CHUNK_MAX);
	if (!o->source || !o->image)
		return img_error(ctx, -EINVAL, "source and image are required");
	return 0;
}

int
img_backup(const struct img_backup_opts *opts, struct img_backup_result *res,
    struct img_ctx *ctx)
{
	struct backup b = { .opts = opts };
	int rc;

	memset(res, 0, sizeof(*res));
	rc = check_opts(opts, &b.chunk_size, ctx);
	if (rc == 0)
		rc = img_dev_open(opts->source, IMG_DEV_READ, &b.src, ctx);
	if (rc < 0)
		return rc;
	if (b.src->is_stream)
		rc = img_error(ctx, -EINVAL,
		    "'%s' is not a block device or regular file", opts->source);
	else if (b.src->size == 0)
		rc = img_error(ctx, -EINVAL, "'%s' is empty", opts->source);
	if (rc == 0)
		rc = check_source(&b, ctx);
	if (rc == 0)
		rc = check_not_source(&b, ctx);
	if (rc == 0)
		rc = open_output(&b, ctx);
	if (rc == 0) {
		posix_fadvise(b.src->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
		rc = img_scan(b.src, opts->raw, &b.scan, ctx);
	}
	if (rc == 0)
		rc = write_image(&b, res, ctx);
	if (rc == 0)
		rc = commit_output(&b, ctx);
	if (b.tmp_path[0])
		unlink(b.tmp_path);
	img_writer_free(b.writer);
	img_scan_free(b.scan);
	img_dev_close(b.out);
	img_dev_close(b.src);
	return rc;
}
