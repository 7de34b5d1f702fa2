/*
 * check_codec.c - the checksums against their published check values, the
 * CPU's CRC-32C path against the table, chaining, and zero detection.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "testlib.h"

START_TEST(check_values)
{
	/* the "123456789" check values of the CRC catalogue */
	ck_assert_uint_eq(img_crc32(0, "123456789", 9), 0xcbf43926u);
	ck_assert_uint_eq(img_crc32c(0, "123456789", 9), 0xe3069283u);
	ck_assert_uint_eq(img_crc32c_portable(0, "123456789", 9), 0xe3069283u);
	ck_assert_uint_eq(img_crc32c(0, "", 0), 0);
}
END_TEST

/* Every length 0..300 at every offset 0..8 of a random buffer, and one
 * long buffer, chained in two calls: both paths agree. */
START_TEST(cpu_path_matches_table)
{
	size_t big = 1 << 20;
	uint8_t *buf = malloc(big + 16);

	test_fill_random(buf, big + 16, 11);
	for (size_t off = 0; off < 9; off++)
		for (size_t len = 0; len <= 300; len++)
			ck_assert_uint_eq(img_crc32c(0, buf + off, len),
			    img_crc32c_portable(0, buf + off, len));
	ck_assert_uint_eq(img_crc32c(img_crc32c(0, buf, 1001), buf + 1001,
	    big - 1001), img_crc32c_portable(0, buf, big));
	free(buf);
}
END_TEST

START_TEST(zero_detection)
{
	uint8_t b[4096] = { 0 };

	ck_assert(img_is_zero(b, sizeof(b)));
	ck_assert(img_is_zero(b, 0));
	b[4095] = 1;
	ck_assert(!img_is_zero(b, sizeof(b)));
	ck_assert(img_is_zero(b, 4095));
	b[4095] = 0;
	b[3] = 1;
	ck_assert(!img_is_zero(b, 10));
}
END_TEST

static Suite *
codec_suite(void)
{
	Suite *s = suite_create("codec");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, check_values);
	tcase_add_test(tc, cpu_path_matches_table);
	tcase_add_test(tc, zero_detection);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(srunner_create(codec_suite()), "check_codec",
	    "/tmp");
}
