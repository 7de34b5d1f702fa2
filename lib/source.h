/*
 * source.h - the used chunks of a source device, read in disk order and
 * processed by worker threads (backup encodes them, clone hashes them),
 * then handed to a sink in order on the calling thread.
 */
#ifndef IMG_SOURCE_H
#define IMG_SOURCE_H

#include "extents.h"
#include "image_write.h"
#include "pipeline.h"

struct img_ctx;
struct img_dev;

/* Called in disk order on the calling thread; <0 stops the run. */
typedef int (*img_chunk_sink)(struct img_chunk_buf *c, void *arg,
    struct img_ctx *ctx);

/* What img_source_run reads and what it does with each chunk. */
struct img_source_params {
	const struct img_extents *used;
	/* Used bytes the filesystem says are zeros (may be NULL): chunks are
	 * cut around them, and they are zero-filled instead of read unless
	 * read_zeros is set (reading a copy back to check it must read them
	 * yet cut the chunks as the copy did). */
	const struct img_extents *zeros;
	int read_zeros;
	unsigned chunk_size;	/* the window a chunk never crosses */
	unsigned threads;
	img_work_fn work;	/* on a worker thread */
	img_chunk_sink sink;	/* in disk order, on the calling thread */
	void *arg;		/* for sink */
	const char *phase;	/* progress is reported under this name */
};

/* Reads every chunk of src that holds used bytes (unused bytes zero,
 * c->extents set), runs work on it on a worker, then sink. A chunk whose
 * used bytes all lie in zeros comes with known_zero set and its data not
 * filled (unless read_zeros). */
int img_source_run(struct img_dev *src, const struct img_source_params *p,
    struct img_ctx *ctx);
/* -EBUSY when src is mounted read-write (a warning instead with force). */
int img_source_check_mount(struct img_dev *src, int force,
    struct img_ctx *ctx);
/* Keeps writers out of src while it is read (img_dev_lock shared, and
 * img_dev_claim): -EBUSY when a restore, clone or another program is
 * writing it. */
int img_source_claim(struct img_dev *src, struct img_ctx *ctx);

#endif
