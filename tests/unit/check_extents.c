/*
 * check_extents.c - the sorted byte-range list behind the used map.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>

#include "extents.h"

START_TEST(merges_touching_and_overlapping)
{
	struct img_extents e;

	img_extents_init(&e);
	ck_assert_int_eq(img_extents_add(&e, 0, 512), 0);
	ck_assert_int_eq(img_extents_add(&e, 512, 512), 0);
	ck_assert_int_eq(img_extents_add(&e, 800, 1000), 0);
	ck_assert_int_eq(img_extents_add(&e, 4096, 10), 0);
	ck_assert_uint_eq(e.n, 2);
	ck_assert_uint_eq(e.v[0].off, 0);
	ck_assert_uint_eq(e.v[0].len, 1800);
	ck_assert_uint_eq(img_extents_total(&e), 1810);
	img_extents_free(&e);
}
END_TEST

START_TEST(normalizes_out_of_order)
{
	struct img_extents e;

	img_extents_init(&e);
	img_extents_add(&e, 9000, 100);
	img_extents_add(&e, 0, 100);
	img_extents_add(&e, 50, 100);
	img_extents_add(&e, 8000, 1000);
	img_extents_add(&e, 0, 0);
	img_extents_normalize(&e);
	ck_assert_uint_eq(e.n, 2);
	ck_assert_uint_eq(e.v[0].off, 0);
	ck_assert_uint_eq(e.v[0].len, 150);
	ck_assert_uint_eq(e.v[1].off, 8000);
	ck_assert_uint_eq(e.v[1].len, 1100);
	img_extents_free(&e);
}
END_TEST

START_TEST(seek_covered_clip)
{
	struct img_extents e;

	img_extents_init(&e);
	for (uint64_t i = 0; i < 1000; i++)
		img_extents_add(&e, i * 4096, 1024);
	img_extents_normalize(&e);
	ck_assert_uint_eq(img_extents_seek(&e, 0), 0);
	ck_assert_uint_eq(img_extents_seek(&e, 1024), 1);
	ck_assert_uint_eq(img_extents_seek(&e, 4096 * 500 + 10), 500);
	ck_assert_uint_eq(img_extents_seek(&e, 1ull << 40), 1000);
	ck_assert_uint_eq(img_extents_covered(&e, 512, 4096), 512 + 512);
	ck_assert_uint_eq(img_extents_covered(&e, 0, 4096 * 1000), 1024000);
	img_extents_clip(&e, 4096 * 10 + 100);
	ck_assert_uint_eq(e.n, 11);
	ck_assert_uint_eq(e.v[10].len, 100);
	img_extents_clip(&e, 4096 * 10);
	ck_assert_uint_eq(e.n, 10);
	img_extents_free(&e);
}
END_TEST

START_TEST(overflow_is_clamped)
{
	struct img_extents e;

	img_extents_init(&e);
	ck_assert_int_eq(img_extents_add(&e, UINT64_MAX - 10, 100), 0);
	ck_assert_uint_eq(e.v[0].off + e.v[0].len, UINT64_MAX);
	img_extents_free(&e);
}
END_TEST

/* Bits, least significant first: runs across byte boundaries merge, a
 * full byte is one step, and bits at or past the limit are ignored. */
START_TEST(bitmap_walk)
{
	/* bits 1-2, 7-17 (byte 1 full, crossing into byte 2), 23; byte 3
	 * is past the limit of 26 bits but for bits 24 and 25 */
	static const uint8_t bm[] = { 0x86, 0xFF, 0x83, 0xFF };
	struct img_extents e;
	struct img_bitmap_walk w = { .ext = &e, .base = 1000, .unit = 10,
	    .limit = 26 };

	img_extents_init(&e);
	/* fed in two calls, as a chunked reader would */
	ck_assert_int_eq(img_bitmap_walk_bytes(&w, bm, 2, 0), 0);
	ck_assert_int_eq(img_bitmap_walk_bytes(&w, bm + 2, 2, 2), 0);
	ck_assert_int_eq(img_bitmap_walk_flush(&w), 0);
	ck_assert_uint_eq(e.n, 3);
	ck_assert_uint_eq(e.v[0].off, 1010);
	ck_assert_uint_eq(e.v[0].len, 20);
	ck_assert_uint_eq(e.v[1].off, 1070);
	ck_assert_uint_eq(e.v[1].len, 110);	/* bits 7..17 */
	ck_assert_uint_eq(e.v[2].off, 1230);
	ck_assert_uint_eq(e.v[2].len, 30);	/* bits 23..25 */
	ck_assert_uint_eq(w.used, 2 + 11 + 3);
	img_extents_free(&e);
}
END_TEST

static Suite *
extents_suite(void)
{
	Suite *s = suite_create("extents");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, merges_touching_and_overlapping);
	tcase_add_test(tc, normalizes_out_of_order);
	tcase_add_test(tc, seek_covered_clip);
	tcase_add_test(tc, overflow_is_clamped);
	tcase_add_test(tc, bitmap_walk);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(extents_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
