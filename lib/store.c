/*
 * store.c - the directory backend of the object store (see store.h).
 *
 * An object is a file at ROOT/KEY. A new object is written to ROOT/tmp/
 * and renamed into place without replacing (renameat2 RENAME_NOREPLACE),
 * so readers see whole objects only and two writers of one key cannot
 * clobber each other. Puts are not fsynced one by one: img_store_sync
 * flushes the whole file system once (syncfs), which is what a backup
 * does before it commits the snapshot that references them.
 *
 * Keys are checked before they touch the file system: letters, digits,
 * '.', '_', '-' and '/' between non-empty components, none of them "."
 * or "..".
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctx.h"
#include "dev.h"
#include "store.h"

struct img_store {
	char *root;
	int root_fd;
};

static int
key_ok(const char *key)
{
	const char *c = key;

	if (!*key || strlen(key) > 200)
		return 0;
	for (const char *p = key; *p; p++)
		if (!(*p == '/' || *p == '.' || *p == '_' || *p == '-' ||
		    (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9')))
			return 0;
	while (*c) {		/* each component: non-empty, not . or .. */
		size_t n = strcspn(c, "/");

		if (n == 0 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		c += n + (c[n] == '/');
		if (c[-1] == '/' && !*c)
			return 0;	/* a trailing slash */
	}
	return 1;
}

static int
bad_key(struct img_store *s, const char *key, struct img_ctx *ctx)
{
	return img_error(ctx, -EINVAL, "'%s': bad object name '%.64s'",
	    s->root, key);
}

int
img_store_open_dir(const char *dir, struct img_store **out,
    struct img_ctx *ctx)
{
	struct img_store *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s || !(s->root = strdup(dir))) {
		free(s);
		return img_error(ctx, -ENOMEM, "out of memory");
	}
	s->root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0) {
		int rc = -errno;

		img_store_close(s);
		return img_error_errno(ctx, rc, "cannot open '%s'", dir);
	}
	*out = s;
	return 0;
}

void
img_store_close(struct img_store *s)
{
	if (!s)
		return;
	if (s->root_fd >= 0)
		close(s->root_fd);
	free(s->root);
	free(s);
}

const char *
img_store_where(const struct img_store *s)
{
	return s->root;
}

/* Creates the directories above key (mkdir -p of its dirname). */
static int
make_parents(struct img_store *s, const char *key, struct img_ctx *ctx)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s", key);
	for (char *p = strchr(path, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdirat(s->root_fd, path, 0700) < 0 && errno != EEXIST)
			return img_error_errno(ctx, -errno,
			    "cannot create '%s/%s'", s->root, path);
		*p = '/';
	}
	return 0;
}

/* A new file in ROOT/tmp: its descriptor, and its path in path. */
static int
temp_file(struct img_store *s, char *path, size_t len, struct img_ctx *ctx)
{
	int fd;

	if (mkdirat(s->root_fd, "tmp", 0700) < 0 && errno != EEXIST)
		return img_error_errno(ctx, -errno, "cannot create '%s/tmp'",
		    s->root);
	snprintf(path, len, "%s/tmp/new.XXXXXX", s->root);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return img_error_errno(ctx, -errno,
		    "cannot create a file in '%s/tmp'", s->root);
	return fd;
}

/* Renames the temporary file tmp to key unless key exists: 0, 1 when it
 * existed (tmp is removed), <0 on error. */
static int
link_in(struct img_store *s, const char *tmp, const char *key,
    struct img_ctx *ctx)
{
	int rc = make_parents(s, key, ctx);

	if (rc < 0)
		return rc;
	if (renameat2(AT_FDCWD, tmp, s->root_fd, key, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EINVAL || errno == ENOSYS) {
		/* no RENAME_NOREPLACE here: link() does not replace either */
		if (linkat(AT_FDCWD, tmp, s->root_fd, key, 0) == 0) {
			unlink(tmp);
			return 0;
		}
	}
	rc = -errno;
	unlink(tmp);
	if (rc == -EEXIST)
		return 1;
	return img_error_errno(ctx, rc, "cannot store '%s/%s'", s->root, key);
}

static int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
img_store_put(struct img_store *s, const char *key, const void *data,
    size_t len, struct img_ctx *ctx)
{
	char tmp[PATH_MAX];
	int fd, rc;

	if (!key_ok(key))
		return bad_key(s, key, ctx);
	fd = temp_file(s, tmp, sizeof(tmp), ctx);
	if (fd < 0)
		return fd;
	rc = write_all(fd, data, len);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return img_error_errno(ctx, rc, "cannot write '%s/%s'",
		    s->root, key);
	}
	return link_in(s, tmp, key, ctx);
}

ssize_t
img_store_get(struct img_store *s, const char *key, void *buf, size_t cap,
    struct img_ctx *ctx)
{
	struct stat st;
	size_t done = 0;
	int fd, rc = 0;

	if (!key_ok(key))
		return bad_key(s, key, ctx);
	fd = openat(s->root_fd, key, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? img_error(ctx, -ENOENT,
		    "'%s': object '%s' is missing", s->root, key) :
		    img_error_errno(ctx, -errno, "cannot open '%s/%s'",
		    s->root, key);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		rc = -EINVAL;
	else if ((uint64_t)st.st_size > cap)
		rc = -EFBIG;
	while (rc == 0 && done < (size_t)st.st_size) {
		ssize_t n = read(fd, (char *)buf + done,
		    (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			rc = n < 0 ? -errno : -EIO;
		else
			done += (size_t)n;
	}
	close(fd);
	if (rc == -EFBIG)
		return img_error(ctx, rc, "'%s/%s' is larger than %zu bytes",
		    s->root, key, cap);
	if (rc < 0)
		return img_error_errno(ctx, rc, "cannot read '%s/%s'", s->root,
		    key);
	return (ssize_t)done;
}

int
img_store_exists(struct img_store *s, const char *key, struct img_ctx *ctx)
{
	struct stat st;

	if (!key_ok(key))
		return bad_key(s, key, ctx);
	if (fstatat(s->root_fd, key, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	if (errno == ENOENT || errno == ENOTDIR)
		return 0;
	return img_error_errno(ctx, -errno, "cannot look up '%s/%s'", s->root,
	    key);
}

int
img_store_delete(struct img_store *s, const char *key, struct img_ctx *ctx)
{
	if (!key_ok(key))
		return bad_key(s, key, ctx);
	if (unlinkat(s->root_fd, key, 0) == 0 || errno == ENOENT)
		return 0;
	return img_error_errno(ctx, -errno, "cannot remove '%s/%s'", s->root,
	    key);
}

static unsigned char
file_type(struct img_store *s, const char *key)
{
	struct stat st;

	if (fstatat(s->root_fd, key, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return DT_UNKNOWN;
	return S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG :
	    DT_UNKNOWN;
}

/* Walks directory dir (a key prefix ending in '/' or ""), calling fn for
 * every regular file whose key starts with prefix. */
static int
walk(struct img_store *s, const char *dir, const char *prefix,
    img_store_key_fn fn, void *arg, int depth, struct img_ctx *ctx)
{
	char key[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int fd, rc = 0;

	fd = openat(s->root_fd, *dir ? dir : ".",
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 :
		    img_error_errno(ctx, -errno, "cannot list '%s/%s'",
		    s->root, dir);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return img_error_errno(ctx, -errno, "cannot list '%s/%s'",
		    s->root, dir);
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		size_t n = strlen(dir);

		if (e->d_name[0] == '.' || (n == 0 &&
		    strcmp(e->d_name, "tmp") == 0))
			continue;
		snprintf(key, sizeof(key), "%s%s", dir, e->d_name);
		if (e->d_type == DT_UNKNOWN)	/* some file systems */
			e->d_type = file_type(s, key);
		/* only what can still match the prefix */
		if (strncmp(key, prefix, strlen(key) < strlen(prefix) ?
		    strlen(key) : strlen(prefix)) != 0)
			continue;
		if (e->d_type == DT_DIR && depth < 8) {
			strcat(key, "/");
			rc = walk(s, key, prefix, fn, arg, depth + 1, ctx);
		} else if (e->d_type == DT_REG &&
		    strncmp(key, prefix, strlen(prefix)) == 0) {
			rc = fn(key, arg);
		}
	}
	closedir(d);
	return rc;
}

int
img_store_list(struct img_store *s, const char *prefix, img_store_key_fn fn,
    void *arg, struct img_ctx *ctx)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", prefix);
	slash = strrchr(dir, '/');
	if (slash)
		slash[1] = '\0';
	else
		dir[0] = '\0';
	return walk(s, dir, prefix, fn, arg, 0, ctx);
}

int
img_store_create(struct img_store *s, struct img_dev **out,
    struct img_ctx *ctx)
{
	char tmp[PATH_MAX];
	int fd = temp_file(s, tmp, sizeof(tmp), ctx), rc;

	*out = NULL;
	if (fd < 0)
		return fd;
	close(fd);
	rc = img_dev_open(tmp, IMG_DEV_WRITE, out, ctx);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int
img_store_commit(struct img_store *s, struct img_dev *dev, const char *key,
    struct img_ctx *ctx)
{
	int rc = key_ok(key) ? img_dev_sync(dev, ctx) : bad_key(s, key, ctx);

	if (rc == 0) {
		rc = link_in(s, dev->path, key, ctx);
		if (rc == 1)
			rc = img_error(ctx, -EEXIST, "'%s/%s' exists", s->root,
			    key);
	} else {
		unlink(dev->path);
	}
	img_dev_close(dev);
	return rc < 0 ? rc : img_store_sync(s, ctx);
}

void
img_store_abort(struct img_store *s, struct img_dev *dev)
{
	(void)s;
	if (!dev)
		return;
	unlink(dev->path);
	img_dev_close(dev);
}

int
img_store_open_read(struct img_store *s, const char *key,
    struct img_dev **out, struct img_ctx *ctx)
{
	char path[PATH_MAX];

	*out = NULL;
	if (!key_ok(key))
		return bad_key(s, key, ctx);
	if (img_store_exists(s, key, ctx) == 0)
		return img_error(ctx, -ENOENT, "'%s': object '%s' is missing",
		    s->root, key);
	snprintf(path, sizeof(path), "%s/%s", s->root, key);
	return img_dev_open(path, IMG_DEV_READ | IMG_DEV_NOFOLLOW, out, ctx);
}

int
img_store_sync(struct img_store *s, struct img_ctx *ctx)
{
	if (syncfs(s->root_fd) < 0)
		return img_error_errno(ctx, -errno, "cannot sync '%s'",
		    s->root);
	return 0;
}
