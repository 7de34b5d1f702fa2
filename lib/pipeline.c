/*
 * pipeline.c - worker threads over a ring of in-flight items.
 *
 * Items are numbered by submission. Workers take the next unstarted item;
 * the collector waits for the oldest one to be done, so output order is
 * input order no matter which worker finishes first.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "pipeline.h"

#define MAX_THREADS 64

struct img_pipeline {
	pthread_mutex_t lock;
	pthread_cond_t work;	/* an item was submitted, or stop */
	pthread_cond_t done;	/* an item was finished */
	img_work_fn fn;
	void *arg;
	unsigned depth;
	void **items;
	unsigned char *finished;
	uint64_t head;		/* oldest not yet collected */
	uint64_t next;		/* next to hand to a worker */
	uint64_t tail;		/* next submission */
	int stop;
	unsigned nthreads;
	pthread_t threads[MAX_THREADS];
};

unsigned
img_pipeline_threads(unsigned requested)
{
	long n = requested ? (long)requested : sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	return n > MAX_THREADS ? MAX_THREADS : (unsigned)n;
}

static void *
worker(void *arg)
{
	struct img_pipeline *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		uint64_t n;

		while (!p->stop && p->next == p->tail)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->next == p->tail)
			break;	/* stopping and nothing left */
		n = p->next++;
		pthread_mutex_unlock(&p->lock);
		p->fn(p->items[n % p->depth], p->arg);
		pthread_mutex_lock(&p->lock);
		p->finished[n % p->depth] = 1;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int
img_pipeline_new(unsigned threads, unsigned depth, img_work_fn fn, void *arg,
    struct img_pipeline **out)
{
	struct img_pipeline *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p || depth == 0)
		goto nomem;
	p->items = calloc(depth, sizeof(*p->items));
	p->finished = calloc(depth, 1);
	if (!p->items || !p->finished)
		goto nomem;
	p->fn = fn;
	p->arg = arg;
	p->depth = depth;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	threads = img_pipeline_threads(threads);
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
			break;
		p->nthreads++;
	}
	if (p->nthreads == 0) {
		img_pipeline_free(p);
		return -EAGAIN;
	}
	*out = p;
	return 0;
nomem:
	if (p) {
		free(p->items);
		free(p->finished);
		free(p);
	}
	return -ENOMEM;
}

void
img_pipeline_free(struct img_pipeline *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->lock);
	free(p->items);
	free(p->finished);
	free(p);
}

void
img_pipeline_submit(struct img_pipeline *p, void *item)
{
	pthread_mutex_lock(&p->lock);
	p->items[p->tail % p->depth] = item;
	p->finished[p->tail % p->depth] = 0;
	p->tail++;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
}

void *
img_pipeline_collect(struct img_pipeline *p)
{
	void *item = NULL;

	pthread_mutex_lock(&p->lock);
	if (p->head != p->tail) {
		while (!p->finished[p->head % p->depth])
			pthread_cond_wait(&p->done, &p->lock);
		item = p->items[p->head % p->depth];
		p->head++;
	}
	pthread_mutex_unlock(&p->lock);
	return item;
}

unsigned
img_pipeline_pending(const struct img_pipeline *p)
{
	return (unsigned)(p->tail - p->head);
}

unsigned
img_pipeline_depth(const struct img_pipeline *p)
{
	return p->depth;
}
