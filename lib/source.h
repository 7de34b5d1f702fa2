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

/* Reads every chunk of src that holds used bytes (unused bytes zero,
 * c->extents set), runs work on it on a worker, then sink. Used bytes in
 * zeros (may be NULL) are not read but zero-filled; a chunk with nothing
 * else comes with known_zero set and its data not filled. Progress is
 * reported under phase. */
int img_source_run(struct img_dev *src, const struct img_extents *used,
    const struct img_extents *zeros, unsigned chunk_size, unsigned threads,
    img_work_fn work, img_chunk_sink sink, void *arg, const char *phase,
    struct img_ctx *ctx);
/* -EBUSY when src is mounted read-write (a warning instead with force). */
int img_source_check_mount(struct img_dev *src, int force,
    struct img_ctx *ctx);

#endif
