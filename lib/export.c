/*
 * export.c - write the disk an image holds (or one partition of it) as a
 * plain raw file for tools that want one. The file is sparse: ranges the
 * image does not store, and blocks of zeros, are left as holes. Reads go
 * through the view, so every chunk is checked and a damaged one stops the
 * export (the partial output is removed). Writes nothing but the output.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "ctx.h"
#include "imgtool.h"

#define HOLE_BLOCK	4096	/* zero blocks this size become holes */

static int
open_output(const struct img_export_opts *o, struct img_ctx *ctx)
{
	struct stat out, img;
	int fd;

	if (stat(o->output, &out) == 0) {
		if (!S_ISREG(out.st_mode))
			return img_error(ctx, -EINVAL, "'%s' is not a regular "
			    "file (restore writes to devices)", o->output);
		if (!o->force)
			return img_error(ctx, -EEXIST,
			    "'%s' exists; use --force to replace it",
			    o->output);
		if (stat(o->image, &img) == 0 && img.st_dev == out.st_dev &&
		    img.st_ino == out.st_ino)
			return img_error(ctx, -EXDEV,
			    "'%s' is the image itself", o->output);
	}
	fd = open(o->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    (o->force ? 0 : O_EXCL), 0600);
	if (fd < 0)
		return img_error_errno(ctx, -errno, "cannot create '%s'",
		    o->output);
	return fd;
}

/* Writes the non-zero blocks of buf (len bytes for output offset pos). */
static int
write_sparse(int fd, const uint8_t *buf, size_t len, uint64_t pos,
    const char *path, uint64_t *written, struct img_ctx *ctx)
{
	for (size_t done = 0; done < len;) {
		size_t n = len - done < HOLE_BLOCK ? len - done : HOLE_BLOCK;

		if (!img_is_zero(buf + done, n)) {
			ssize_t w = pwrite(fd, buf + done, n,
			    (off_t)(pos + done));

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return img_error_errno(ctx,
				    w < 0 ? -errno : -EIO,
				    "cannot write '%s' at byte %llu", path,
				    (unsigned long long)(pos + done));
			n = (size_t)w;
			*written += n;
		}
		done += n;
	}
	return 0;
}

static int
copy_range(struct img_view *v, int fd, uint64_t start, uint64_t len,
    const struct img_export_opts *o, struct img_export_result *res,
    struct img_ctx *ctx)
{
	size_t bufsize = 1u << 20;
	uint8_t *buf = malloc(bufsize);
	uint64_t pos = 0;
	int rc = 0;

	if (!buf)
		return img_error(ctx, -ENOMEM, "out of memory");
	while (rc == 0 && pos < len) {
		uint64_t next = img_view_next_stored(v, start + pos);
		size_t want;
		ssize_t n;

		if (next >= start + len)
			break;
		pos = next - start;
		want = len - pos < bufsize ? (size_t)(len - pos) : bufsize;
		n = img_view_read(v, buf, want, start + pos);
		if (n <= 0) {
			rc = n < 0 ? (int)n : img_error(ctx, -EIO,
			    "'%s': unexpected end of data", o->image);
			break;
		}
		rc = write_sparse(fd, buf, (size_t)n, pos, o->output,
		    &res->data_bytes, ctx);
		pos += (uint64_t)n;
		img_progress_report(ctx, "export", pos, len, 0);
		if (rc == 0)
			rc = img_check_cancel(ctx);
	}
	free(buf);
	return rc;
}

static int
export_view(struct img_view *v, int fd, const struct img_export_opts *o,
    struct img_export_result *res, struct img_ctx *ctx)
{
	uint64_t start = 0, len = img_view_size(v);
	int rc;

	if (o->partition) {
		/* img_export checked that it exists */
		const struct img_view_part *p =
		    img_view_find_part(v, o->partition);

		start = p->start;
		len = p->len;
	}
	res->size = len;
	rc = copy_range(v, fd, start, len, o, res, ctx);
	if (rc == 0 && ftruncate(fd, (off_t)len) < 0)
		rc = img_error_errno(ctx, -errno, "cannot set the size of '%s'",
		    o->output);
	if (rc == 0 && fsync(fd) < 0)
		rc = img_error_errno(ctx, -errno, "cannot sync '%s'",
		    o->output);
	if (rc == 0)
		img_progress_report(ctx, "export", len, len, 1);
	return rc;
}

int
img_export(const struct img_export_opts *o, struct img_export_result *res,
    struct img_ctx *ctx)
{
	struct img_view *v = NULL;
	int fd, rc;

	memset(res, 0, sizeof(*res));
	rc = img_view_open(o->image, &v, ctx);
	if (rc < 0)
		return rc;
	if (o->partition && !img_view_find_part(v, o->partition)) {
		rc = img_error(ctx, -EINVAL, "'%s' has no partition %u",
		    o->image, o->partition);
		img_view_close(v);
		return rc;
	}
	fd = open_output(o, ctx);
	if (fd < 0) {
		img_view_close(v);
		return fd;
	}
	rc = export_view(v, fd, o, res, ctx);
	if (close(fd) < 0 && rc == 0)
		rc = img_error_errno(ctx, -errno, "cannot write '%s'",
		    o->output);
	if (rc < 0)
		unlink(o->output);	/* never leave a partial file */
	img_view_close(v);
	return rc;
}
