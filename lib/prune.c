/*
 * prune.c - which snapshots a retention policy keeps.
 *
 * The rules are restic's ("forget --keep-*"), which Proxmox Backup Server
 * shares: the snapshots of one group are taken newest first; --keep-last
 * N keeps the N newest; --keep-hourly N keeps the newest snapshot of each
 * of the N newest hours that have one, and so on for days, ISO weeks,
 * months and years. A snapshot stays when any rule keeps it. Times are
 * read in the local time zone (TZ), as restic does.
 *
 * Pure computation: no repository, no clock, no I/O.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prune.h"

enum { RULE_LAST, RULE_HOURLY, RULE_DAILY, RULE_WEEKLY, RULE_MONTHLY,
	RULE_YEARLY, RULES };

/* The ISO 8601 week-numbering year and week, as YYYYWW. */
static int64_t
iso_week(const struct tm *tm)
{
	char buf[16];

	if (strftime(buf, sizeof(buf), "%G%V", tm) == 0)
		return 0;
	return strtoll(buf, NULL, 10);
}

/* The bucket of rule r that snapshot number nr, taken at t, falls in. */
static int64_t
bucket(int r, time_t t, size_t nr)
{
	struct tm tm;
	int64_t y, ymd;

	if (r == RULE_LAST)
		return (int64_t)nr;
	localtime_r(&t, &tm);
	y = tm.tm_year + 1900;
	ymd = y * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
	switch (r) {
	case RULE_HOURLY:	return ymd * 100 + tm.tm_hour;
	case RULE_DAILY:	return ymd;
	case RULE_WEEKLY:	return iso_week(&tm);
	case RULE_MONTHLY:	return y * 100 + tm.tm_mon + 1;
	default:		return y;
	}
}

struct by_time {
	int64_t time;
	size_t index;
};

/* Newest first; equal times by their order in the input, later first. */
static int
newest_first(const void *a, const void *b)
{
	const struct by_time *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? 1 : -1;
	return x->index < y->index ? 1 : x->index > y->index ? -1 : 0;
}

int
img_prune_policy_empty(const struct img_prune_policy *p)
{
	return !p->last && !p->hourly && !p->daily && !p->weekly &&
	    !p->monthly && !p->yearly;
}

int
img_prune_select(const int64_t *times, size_t n,
    const struct img_prune_policy *p, uint8_t *keep)
{
	const unsigned want[RULES] = { p->last, p->hourly, p->daily,
	    p->weekly, p->monthly, p->yearly };
	unsigned left[RULES];
	int64_t last[RULES];
	struct by_time *order;
	size_t kept = 0;

	memset(keep, 0, n);
	if (n == 0)
		return 0;
	order = malloc(n * sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		order[i] = (struct by_time){ times[i], i };
	qsort(order, n, sizeof(*order), newest_first);
	memcpy(left, want, sizeof(left));
	for (int r = 0; r < RULES; r++)
		last[r] = INT64_MIN;
	for (size_t nr = 0; nr < n; nr++) {
		for (int r = 0; r < RULES; r++) {
			int64_t b;

			if (left[r] == 0)
				continue;
			b = bucket(r, (time_t)order[nr].time, nr);
			if (b == last[r])
				continue;	/* this bucket has its newest */
			last[r] = b;
			left[r]--;
			if (!keep[order[nr].index]++)
				kept++;
		}
	}
	for (size_t i = 0; i < n; i++)
		keep[i] = keep[i] != 0;
	free(order);
	return (int)kept;
}
