/*
 * progress.c - one line of progress on stderr (bytes, rate, ETA), redrawn
 * at most four times a second, only when stderr is a terminal.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"

struct progress {
	const char *cmd;
	const char *phase;
	double start;
	double last;
	int drawn;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct progress *
progress_new(const char *cmd, int quiet)
{
	struct progress *p;

	if (quiet || !isatty(2))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (p) {
		p->cmd = cmd;
		p->start = now();
	}
	return p;
}

void
progress_free(struct progress *p)
{
	if (p && p->drawn)
		fputc('\n', stderr);
	free(p);
}

static void
draw(struct progress *p, const struct img_progress *ip, double t)
{
	double secs = t - p->start, rate = secs > 0 ? ip->done / secs : 0;
	char done[32], total[32], speed[32], eta[32] = "";

	human_size(ip->done, done);
	human_size((uint64_t)rate, speed);
	if (ip->total && rate > 0 && ip->done <= ip->total) {
		unsigned s = (unsigned)((ip->total - ip->done) / rate);

		snprintf(eta, sizeof(eta), "  ETA %u:%02u:%02u", s / 3600,
		    s / 60 % 60, s % 60);
	}
	if (!ip->total && !ip->done)
		fprintf(stderr, "\r\033[K%s...", ip->phase);
	else if (ip->total)
		fprintf(stderr, "\r\033[K%s: %s / %s (%.0f%%)  %s/s%s",
		    ip->phase, done, human_size(ip->total, total),
		    100.0 * (double)ip->done / (double)ip->total, speed, eta);
	else
		fprintf(stderr, "\r\033[K%s: %s  %s/s", ip->phase, done, speed);
	fflush(stderr);
	p->drawn = 1;
}

void
progress_cb(const struct img_progress *ip, void *arg)
{
	struct progress *p = arg;
	double t = now();

	if (!p)
		return;
	if (p->phase != ip->phase) {
		/* one line for the whole run: a new phase replaces the last */
		if (p->drawn)
			fputs("\r\033[K", stderr);
		p->drawn = 0;
		p->phase = ip->phase;
		p->start = t;
		p->last = 0;
	}
	if (!ip->finished && t - p->last < 0.25)
		return;
	p->last = t;
	draw(p, ip, t);
}
