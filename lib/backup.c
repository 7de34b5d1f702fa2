/*
 * backup.c - img_backup(): scan the source, then copy the used ranges chunk
 * by chunk into a new image.
 *
 * The image goes to ".NAME.partial" beside the final name, locked, and is
 * renamed only after everything was written and fsynced: an interrupted
 * backup never leaves a partial file under the final name, two backups to
 * one path cannot both run, and the next backup to the path removes what
 * a killed one left.
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
#include "source.h"
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

/* The partial image's name: ".NAME.partial" beside the image. It is the
 * same for every backup to that path, so a second backup finds the first
 * one's lock, and a later one finds what a killed one left. */
static int
partial_path(struct backup *b, struct img_ctx *ctx)
{
	const char *image = b->opts->image;
	char dir[PATH_MAX], base[PATH_MAX];
	int n;

	snprintf(dir, sizeof(dir), "%s", image);
	snprintf(base, sizeof(base), "%s", image);
	n = snprintf(b->tmp_path, sizeof(b->tmp_path), "%s/.%s.partial",
	    dirname(dir), basename(base));
	if (n < 0 || (size_t)n >= sizeof(b->tmp_path))
		return img_error(ctx, -ENAMETOOLONG, "'%s': name too long",
		    image);
	return 0;
}

/* Opens and locks the partial image. A partial file nobody holds was left
 * by a backup that died: it is taken over and emptied. A locked one
 * belongs to a backup that is still running: -EBUSY. */
static int
take_partial(struct backup *b, struct img_ctx *ctx)
{
	struct stat held, named;

	for (int tries = 0; tries < 5; tries++) {
		int rc = img_dev_open(b->tmp_path, IMG_DEV_WRITE |
		    IMG_DEV_CREATE | IMG_DEV_NOFOLLOW, &b->out, ctx);

		if (rc < 0)
			return img_error_prefix(ctx,
			    "cannot write the image '%s'", b->opts->image);
		if (img_dev_lock(b->out, 1, ctx) < 0) {
			char who[256];

			img_dev_close(b->out);	/* another backup's: not ours */
			b->out = NULL;
			img_dev_holder(b->tmp_path, who, sizeof(who));
			return img_error(ctx, -EBUSY,
			    "'%s' is being written by another backup%s%s",
			    b->opts->image, who[0] ? ", " : "", who);
		}
		/* the one we locked may have been renamed to its final name
		 * by the backup that held it a moment ago: start again */
		if (fstat(b->out->fd, &held) == 0 &&
		    stat(b->tmp_path, &named) == 0 &&
		    held.st_dev == named.st_dev && held.st_ino == named.st_ino)
			break;
		img_dev_close(b->out);
		b->out = NULL;
	}
	if (!b->out)
		return img_error(ctx, -EBUSY, "'%s' is being written by "
		    "other backups", b->opts->image);
	if (!b->out->created && b->out->size > 0)
		img_note(ctx, "removing '%s', the partial image of an interrupted backup",
		    b->tmp_path);
	if (ftruncate(b->out->fd, 0) < 0)
		return img_error_errno(ctx, -errno, "cannot empty '%s'",
		    b->tmp_path);
	b->out->size = 0;
	b->out->writeback = 1;
	return 0;
}

static int
open_output(struct backup *b, struct img_ctx *ctx)
{
	const char *image = b->opts->image;
	struct stat st;
	int rc;

	if (strcmp(image, "-") == 0)
		return img_dev_from_fd(1, "standard output", &b->out, ctx);
	if (stat(image, &st) == 0 && S_ISDIR(st.st_mode))
		return img_error(ctx, -EISDIR,
		    "'%s' is a directory; name the image file to write in it",
		    image);
	if (stat(image, &st) == 0 && !b->opts->force)
		return img_error(ctx, -EEXIST,
		    "'%s' exists; use --force to overwrite it", image);
	if (stat(image, &st) == 0 && !S_ISREG(st.st_mode))
		return img_error(ctx, -EINVAL,
		    "'%s' is not a regular file; refusing to replace it", image);
	rc = partial_path(b, ctx);
	if (rc == 0)
		rc = take_partial(b, ctx);
	if (rc < 0 && !b->out)
		b->tmp_path[0] = '\0';	/* not ours: leave it alone */
	return rc;
}

/* Moves the finished partial image to its final name, durably. Without
 * --force an image that appeared meanwhile is not replaced. */
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
	rc = b->opts->force ? rename(b->tmp_path, b->opts->image) :
	    renameat2(AT_FDCWD, b->tmp_path, AT_FDCWD, b->opts->image,
	    RENAME_NOREPLACE);
	if (rc < 0 && errno == EINVAL && !b->opts->force) {
		/* no RENAME_NOREPLACE here: link() also refuses to replace */
		rc = link(b->tmp_path, b->opts->image);
		if (rc == 0)
			unlink(b->tmp_path);
	}
	if (rc < 0 && errno == EEXIST)
		return img_error(ctx, -EEXIST,
		    "'%s' appeared while the backup ran; the new image was not kept (use --force to overwrite)",
		    b->opts->image);
	if (rc < 0)
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

static void
encode_work(void *item, void *arg)
{
	(void)arg;
	img_chunk_encode(item);
}

static int
write_sink(struct img_chunk_buf *c, void *arg, struct img_ctx *ctx)
{
	struct backup *b = arg;

	return img_writer_add(b->writer, c, ctx);
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
		rc = img_source_run(b->src, &(struct img_source_params){
		    .used = &b->scan->used, .zeros = &b->scan->zeros,
		    .chunk_size = b->chunk_size, .threads = b->opts->threads,
		    .work = encode_work, .sink = write_sink, .arg = b,
		    .phase = "backup" }, ctx);
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
		rc = img_dev_open(opts->source, IMG_DEV_READ |
		    (opts->direct ? IMG_DEV_DIRECT : 0), &b.src, ctx);
	if (rc < 0)
		return rc;
	if (b.src->is_stream)
		rc = img_error(ctx, -EINVAL,
		    "'%s' is not a block device or regular file", opts->source);
	else if (b.src->size == 0)
		rc = img_error(ctx, -EINVAL, "'%s' is empty", opts->source);
	if (rc == 0)
		rc = img_source_check_mount(b.src, opts->force_mounted, ctx);
	if (rc == 0)
		rc = img_source_claim(b.src, ctx);
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
	/* unlinked while still locked, so no other backup takes it over */
	if (b.tmp_path[0])
		unlink(b.tmp_path);
	img_writer_free(b.writer);
	img_scan_free(b.scan);
	img_dev_close(b.out);
	img_dev_close(b.src);
	return rc;
}
