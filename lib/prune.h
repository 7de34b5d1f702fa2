/*
 * prune.h - which snapshots a retention policy keeps (restic's rules).
 */
#ifndef IMG_PRUNE_H
#define IMG_PRUNE_H

#include <stddef.h>
#include <stdint.h>

/* How many of each to keep; 0 = that rule keeps nothing. */
struct img_prune_policy {
	unsigned last, hourly, daily, weekly, monthly, yearly;
};

/* 1 if no rule keeps anything (pruning would delete every snapshot). */
int img_prune_policy_empty(const struct img_prune_policy *p);

/* Marks in keep[i] (0 or 1) whether the snapshot taken at times[i]
 * (seconds since the epoch; one group, any order) is kept: the newest
 * snapshot of each of the newest p->hourly hours, p->daily days, ISO weeks,
 * months and years that have one (in the local time zone), and the
 * p->last newest. Equal times count the later entry as newer. Returns
 * the number kept, or -ENOMEM. */
int img_prune_select(const int64_t *times, size_t n,
    const struct img_prune_policy *p, uint8_t *keep);

#endif
