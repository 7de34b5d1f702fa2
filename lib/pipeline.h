/*
 * pipeline.h - a fixed pool of worker threads that process items in
 * parallel and hand them back in submission order.
 *
 * The calling thread does the I/O at both ends (read an item, submit it;
 * collect the oldest, write it) and the workers do the CPU work (LZ4,
 * SHA-256). At most `depth` items are in flight, so memory is bounded by
 * what the caller allocated for them, whatever the disk size.
 */
#ifndef IMG_PIPELINE_H
#define IMG_PIPELINE_H

typedef void (*img_work_fn)(void *item, void *arg);

struct img_pipeline;

/* threads 0 = online CPUs. Returns 0 or -errno. */
int img_pipeline_new(unsigned threads, unsigned depth, img_work_fn fn,
    void *arg, struct img_pipeline **out);
/* Stops and joins the workers after they finish what was submitted;
 * accepts NULL. */
void img_pipeline_free(struct img_pipeline *p);
/* Hands item to a worker. The caller must collect first when
 * img_pipeline_pending() == depth. */
void img_pipeline_submit(struct img_pipeline *p, void *item);
/* Waits for the oldest submitted item and returns it; NULL if none. */
void *img_pipeline_collect(struct img_pipeline *p);
unsigned img_pipeline_pending(const struct img_pipeline *p);
unsigned img_pipeline_depth(const struct img_pipeline *p);
/* The number of workers a given request resolves to. */
unsigned img_pipeline_threads(unsigned requested);

#endif
