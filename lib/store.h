/*
 * store.h - where a snapshot repository keeps its objects.
 *
 * A store maps keys ("chunks/ab/ab12...", "snapshots/host-sda/...") to
 * immutable byte strings. Everything the repository does goes through
 * these few calls, so that another backend (an object store) can be added
 * without touching the engine: put, get, exists, list, delete, plus
 * streaming a large object in and out through a file. The one backend
 * today is a directory tree.
 *
 * Guarantees every backend gives: a put is atomic (a reader sees the whole
 * object or none), an object is never changed once put, and after
 * img_store_sync everything put before it survives a crash.
 */
#ifndef IMG_STORE_H
#define IMG_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct img_ctx;
struct img_dev;
struct img_store;

/* Opens the directory store rooted at dir (which must exist). */
int img_store_open_dir(const char *dir, struct img_store **out,
    struct img_ctx *ctx);
void img_store_close(struct img_store *s);
/* The root, for messages. */
const char *img_store_where(const struct img_store *s);

/* Stores len bytes under key. Returns 0 when stored, 1 when the key was
 * already there (the object is left as it was: keys name their content
 * or are never reused), <0 on error. */
int img_store_put(struct img_store *s, const char *key, const void *data,
    size_t len, struct img_ctx *ctx);
/* Reads the object into buf (cap bytes): its length, -ENOENT when there is
 * no such key, -EFBIG when it is larger than cap, <0 on error. */
ssize_t img_store_get(struct img_store *s, const char *key, void *buf,
    size_t cap, struct img_ctx *ctx);
/* 1 if key exists, 0 if not, <0 on error. */
int img_store_exists(struct img_store *s, const char *key,
    struct img_ctx *ctx);
/* Removes key; 0 also when it was not there. */
int img_store_delete(struct img_store *s, const char *key,
    struct img_ctx *ctx);
/* Calls fn for every key that starts with prefix (in no particular
 * order); fn returning nonzero stops the walk and is returned. */
typedef int (*img_store_key_fn)(const char *key, void *arg);
int img_store_list(struct img_store *s, const char *prefix,
    img_store_key_fn fn, void *arg, struct img_ctx *ctx);

/* Large objects, written and read as files: img_store_create gives a new
 * writable file nobody else sees; img_store_commit makes it the object
 * key (atomically; -EEXIST if key exists), img_store_abort drops it. */
int img_store_create(struct img_store *s, struct img_dev **out,
    struct img_ctx *ctx);
int img_store_commit(struct img_store *s, struct img_dev *dev,
    const char *key, struct img_ctx *ctx);
void img_store_abort(struct img_store *s, struct img_dev *dev);
/* Opens object key for reading (-ENOENT when missing). */
int img_store_open_read(struct img_store *s, const char *key,
    struct img_dev **out, struct img_ctx *ctx);

/* Makes every put and commit so far durable. */
int img_store_sync(struct img_store *s, struct img_ctx *ctx);

#endif
