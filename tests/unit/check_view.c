/*
 * check_view.c - the image view (random reads of the logical disk) and
 * export: every offset and length against the writer's expected content,
 * zeros where nothing is stored, the end of the disk, damaged chunks
 * (all-or-nothing -EBADMSG, named once), and a sparse export.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

static uint8_t expect[TEST_SAMPLE_SIZE];

static void
setup(void)
{
	test_write_sample_image(test_path("sample.img"), expect);
}

static void
teardown(void)
{
	test_tmpdir_cleanup();
}

static void
count_warnings(enum img_log_level level, const char *msg, void *arg)
{
	(void)msg;
	if (level == IMG_LOG_WARN)
		(*(int *)arg)++;
}

START_TEST(reads_match)
{
	struct img_ctx *ctx = img_ctx_new();
	static uint8_t buf[TEST_SAMPLE_SIZE + 100];
	struct img_view *v;
	uint64_t seed = 1;

	ck_assert_img_ok(img_view_open(test_path("sample.img"), &v, ctx), ctx);
	ck_assert_uint_eq(img_view_size(v), TEST_SAMPLE_SIZE);
	ck_assert_int_eq(img_view_read(v, buf, sizeof(buf), 0),
	    TEST_SAMPLE_SIZE);
	ck_assert_mem_eq(buf, expect, TEST_SAMPLE_SIZE);
	for (int i = 0; i < 2000; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t off = (seed >> 20) % TEST_SAMPLE_SIZE;
		size_t len = (size_t)((seed >> 40) % 9000) + 1;
		size_t want = off + len > TEST_SAMPLE_SIZE ?
		    TEST_SAMPLE_SIZE - off : len;

		ck_assert_int_eq(img_view_read(v, buf, len, off), (int)want);
		ck_assert_mem_eq(buf, expect + off, want);
	}
	ck_assert_int_eq(img_view_read(v, buf, 10, TEST_SAMPLE_SIZE), 0);
	ck_assert_int_eq(img_view_read(v, buf, 10, UINT64_MAX), 0);
	img_view_close(v);
	img_ctx_free(ctx);
}
END_TEST

START_TEST(next_stored)
{
	struct img_ctx *ctx = img_ctx_new();
	struct img_view *v;
	uint64_t next;

	ck_assert_img_ok(img_view_open(test_path("sample.img"), &v, ctx), ctx);
	ck_assert_uint_eq(img_view_next_stored(v, 0), 0);
	ck_assert_uint_eq(img_view_next_stored(v, 5000), 5000);
	/* chunk 2 is not stored: everything up to the answer is zeros */
	next = img_view_next_stored(v, 2 * TEST_SAMPLE_CHUNK);
	ck_assert_uint_gt(next, 2 * TEST_SAMPLE_CHUNK);
	ck_assert_uint_le(next, 4 * TEST_SAMPLE_CHUNK);
	for (uint64_t o = 2 * TEST_SAMPLE_CHUNK; o < next; o++)
		ck_assert_uint_eq(expect[o], 0);
	ck_assert_uint_eq(img_view_next_stored(v, TEST_SAMPLE_SIZE),
	    TEST_SAMPLE_SIZE);
	ck_assert_uint_eq(img_view_nparts(v), 0);
	ck_assert_ptr_null(img_view_part(v, 0));
	ck_assert_ptr_null(img_view_find_part(v, 1));
	img_view_close(v);
	img_ctx_free(ctx);
}
END_TEST

/* Flips a byte of chunk 0's payload (random data, stored raw). */
static void
damage_chunk0(const char *path)
{
	test_sh("python3 -c 'import sys; p = sys.argv[1]; "
	    "b = bytearray(open(p, \"rb\").read()); "
	    "i = b.find(bytes.fromhex(sys.argv[2])); assert i > 0; "
	    "b[i + 9] ^= 1; open(p, \"wb\").write(b)' "
	    "%s %02x%02x%02x%02x%02x%02x%02x%02x",
	    path, expect[0], expect[1], expect[2], expect[3], expect[4],
	    expect[5], expect[6], expect[7]);
}

START_TEST(damaged_chunk)
{
	struct img_ctx *ctx = img_ctx_new();
	uint8_t buf[3 * TEST_SAMPLE_CHUNK];
	struct img_view *v;
	int warnings = 0;

	damage_chunk0(test_path("sample.img"));
	img_ctx_set_log(ctx, count_warnings, &warnings);
	ck_assert_img_ok(img_view_open(test_path("sample.img"), &v, ctx), ctx);
	ck_assert_int_eq(img_view_read(v, buf, 10, 100), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(img_ctx_message(ctx),
	    "chunk at offset 0 is damaged"));
	/* all or nothing: a read that also touches good chunks fails */
	ck_assert_int_eq(img_view_read(v, buf, 2 * TEST_SAMPLE_CHUNK, 0),
	    -EBADMSG);
	/* good chunks still read, before and after */
	ck_assert_int_eq(img_view_read(v, buf, sizeof(buf),
	    TEST_SAMPLE_CHUNK), (int)sizeof(buf));
	ck_assert_mem_eq(buf, expect + TEST_SAMPLE_CHUNK, sizeof(buf));
	ck_assert_int_eq(img_view_read(v, buf, 10, 5), -EBADMSG);
	ck_assert_int_eq(warnings, 1);	/* named once */
	img_view_close(v);
	img_ctx_free(ctx);
}
END_TEST

START_TEST(export_sparse)
{
	struct img_ctx *ctx = img_ctx_new();
	struct img_export_opts o = { .image = test_path("sample.img"),
	    .output = test_path("out.raw") };
	struct img_export_result res;
	static uint8_t buf[TEST_SAMPLE_SIZE + 1];
	FILE *f;

	ck_assert_img_ok(img_export(&o, &res, ctx), ctx);
	ck_assert_uint_eq(res.size, TEST_SAMPLE_SIZE);
	ck_assert_uint_lt(res.data_bytes, TEST_SAMPLE_SIZE);
	f = fopen(o.output, "rb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fread(buf, 1, sizeof(buf), f), TEST_SAMPLE_SIZE);
	fclose(f);
	ck_assert_mem_eq(buf, expect, TEST_SAMPLE_SIZE);
	ck_assert_int_eq(img_export(&o, &res, ctx), -EEXIST);
	o.force = 1;
	o.partition = 3;
	o.output = test_path("p3.raw");
	ck_assert_int_eq(img_export(&o, &res, ctx), -EINVAL);
	damage_chunk0(o.image);
	o.partition = 0;
	ck_assert_int_eq(img_export(&o, &res, ctx), -EBADMSG);
	ck_assert_int_ne(access(o.output, F_OK), 0);	/* removed */
	img_ctx_free(ctx);
}
END_TEST

static Suite *
view_suite(void)
{
	Suite *s = suite_create("view");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, reads_match);
	tcase_add_test(tc, next_stored);
	tcase_add_test(tc, damaged_chunk);
	tcase_add_test(tc, export_sparse);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(view_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
