/*
 * check_prune.c - retention policies (restic's --keep-* rules): a worked
 * example written out by hand, and thousands of random snapshot sets
 * compared with a second, independent formulation of the rules (for each
 * rule, the distinct calendar keys in newest-first order, the newest
 * snapshot of each of the first N), in UTC and in a zone with summer time.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prune.h"
#include "testlib.h"

static int64_t
utc(int y, int mo, int d, int h, int mi)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
	    .tm_hour = h, .tm_min = mi };

	return (int64_t)timegm(&tm);
}

static void
use_zone(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

START_TEST(worked_example)
{
	/* noon every day from Wed 2025-12-31 to Tue 2026-01-20 (UTC) */
	int64_t t[21];
	uint8_t keep[21];
	struct img_prune_policy p = { .last = 1, .daily = 2, .weekly = 3,
	    .yearly = 5 };
	char got[256] = "";

	use_zone("UTC");
	for (int i = 0; i < 21; i++)
		t[i] = utc(2025, 12, 31, 12, 0) + (int64_t)i * 86400;
	ck_assert_int_eq(img_prune_select(t, 21, &p, keep), 5);
	for (int i = 0; i < 21; i++)
		if (keep[i]) {
			time_t s = (time_t)t[i];
			struct tm tm;
			char d[16];

			gmtime_r(&s, &tm);
			strftime(d, sizeof(d), "%m-%d ", &tm);
			strcat(got, d);
		}
	/* last and daily: 01-20 and 01-19; ISO weeks 4, 3, 2 end on 01-20,
	 * 01-18 and 01-11; years 2026 and 2025 end on 01-20 and 12-31 */
	ck_assert_str_eq(got, "12-31 01-11 01-18 01-19 01-20 ");

	/* nothing kept by an empty policy; everything by a generous one */
	memset(&p, 0, sizeof(p));
	ck_assert_int_eq(img_prune_policy_empty(&p), 1);
	ck_assert_int_eq(img_prune_select(t, 21, &p, keep), 0);
	p.last = 100;
	ck_assert_int_eq(img_prune_select(t, 21, &p, keep), 21);
	ck_assert_int_eq(img_prune_select(t, 0, &p, keep), 0);
}
END_TEST

/* The reference: per rule, walk newest first and keep the first snapshot
 * that shows each new calendar key, until N keys were seen. */
static void
calendar_key(int rule, const struct tm *tm, char *key, size_t len)
{
	switch (rule) {
	case 1: strftime(key, len, "%Y-%m-%d %H", tm); break;
	case 2: strftime(key, len, "%Y-%m-%d", tm); break;
	case 3: strftime(key, len, "%G-W%V", tm); break;
	case 4: strftime(key, len, "%Y-%m", tm); break;
	default: strftime(key, len, "%Y", tm);
	}
}

struct entry {
	int64_t t;
	size_t i;
};

static int
cmp_newest(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? 1 : -1;
	return x->i < y->i ? 1 : -1;
}

static void
reference(const int64_t *t, size_t n, const unsigned want[6], uint8_t *keep)
{
	struct entry *e = malloc(n * sizeof(*e));

	memset(keep, 0, n);
	for (size_t i = 0; i < n; i++)
		e[i] = (struct entry){ t[i], i };
	qsort(e, n, sizeof(*e), cmp_newest);
	for (int r = 0; r < 6; r++) {
		char prev[32] = "", key[32];
		unsigned seen = 0;

		for (size_t k = 0; k < n && seen < want[r]; k++) {
			time_t s = (time_t)e[k].t;
			struct tm tm;

			localtime_r(&s, &tm);
			if (r == 0)
				snprintf(key, sizeof(key), "#%zu", k);
			else
				calendar_key(r, &tm, key, sizeof(key));
			if (strcmp(key, prev) == 0)
				continue;
			strcpy(prev, key);
			seen++;
			keep[e[k].i] = 1;
		}
	}
	free(e);
}

START_TEST(matches_reference)
{
	static const char *const zones[] = { "UTC", "Europe/Berlin",
	    "America/New_York" };
	uint64_t seed = 12345 + (uint64_t)_i;
	int64_t t[400];
	uint8_t keep[400], want[400];

	use_zone(zones[_i]);
	for (int round = 0; round < 2000; round++) {
		unsigned w[6];
		struct img_prune_policy p;
		size_t n;
		int64_t base, span;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		n = (size_t)(seed >> 33) % 400;
		/* spans from a day to twelve years, often with bursts */
		span = (int64_t[]){ 86400, 14 * 86400, 400 * 86400,
		    4380 * 86400 }[(seed >> 20) % 4];
		base = utc(2019, 3, 28, 0, 0);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 6364136223846793005ull + 1;
			t[i] = base + (int64_t)((seed >> 16) % (uint64_t)span);
			if (i && (seed >> 60) == 0)
				t[i] = t[i - 1];	/* same second */
		}
		for (int r = 0; r < 6; r++) {
			seed = seed * 6364136223846793005ull + 1;
			w[r] = (seed >> 61) == 0 ? 0 : (unsigned)((seed >> 40) % 30);
		}
		p = (struct img_prune_policy){ w[0], w[1], w[2], w[3], w[4],
		    w[5] };
		reference(t, n, w, want);
		img_prune_select(t, n, &p, keep);
		for (size_t i = 0; i < n; i++)
			ck_assert_msg(keep[i] == want[i], "zone %s round %d: "
			    "snapshot %zu at %lld: kept %d, reference %d",
			    zones[_i], round, i, (long long)t[i], keep[i],
			    want[i]);
	}
}
END_TEST

static Suite *
prune_suite(void)
{
	Suite *s = suite_create("prune");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, worked_example);
	tcase_add_loop_test(tc, matches_reference, 0, 3);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(srunner_create(prune_suite()), "check_prune",
	    "/tmp");
}
