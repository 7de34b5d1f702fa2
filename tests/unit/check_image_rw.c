/*
 * check_image_rw.c - the image writer and reader agree: every chunk kind
 * (raw, LZ4, zero, partial extents, short last chunk), file and stream
 * mode, random access, verify and restore through the public API.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctx.h"
#include "decode_pipe.h"
#include "dev.h"
#include "image_fmt.h"
#include "image_read.h"
#include "image_write.h"
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

/* Reads every chunk with img_reader_next and checks it against expect. */
static void
read_all(struct img_reader *r, struct img_ctx *ctx)
{
	static const uint64_t offs[] = { 0, 4096, 12288, 16384, 20480 };
	static const uint32_t used[] = { 4096, 2560, 4096, 4096, 1000 };
	uint8_t data[TEST_SAMPLE_CHUNK];
	struct img_chunk c;
	int n = 0, rc;

	while ((rc = img_reader_next(r, &c, data, ctx)) == 1) {
		ck_assert_int_lt(n, 5);
		ck_assert_uint_eq(c.seq, (uint64_t)n);
		ck_assert_uint_eq(c.offset, offs[n]);
		ck_assert_uint_eq(c.used, used[n]);
		ck_assert_mem_eq(data, expect + c.offset, c.length);
		n++;
	}
	ck_assert_img_ok(rc, ctx);
	ck_assert_int_eq(n, 5);
}

START_TEST(file_mode_round_trip)
{
	struct img_ctx *ctx = img_ctx_new();
	const struct img_header *h;
	struct img_reader *r;
	struct img_chunk c;

	ck_assert_img_ok(img_reader_open(test_path("sample.img"), &r, ctx), ctx);
	h = img_reader_header(r);
	ck_assert_uint_eq(h->source_size, TEST_SAMPLE_SIZE);
	ck_assert_uint_eq(h->chunk_size, TEST_SAMPLE_CHUNK);
	ck_assert_uint_eq(img_reader_count(r), 5);
	ck_assert_uint_eq(img_reader_footer(r)->used, 4096 + 2560 + 4096 * 2 + 1000);
	img_reader_entry(r, 0, &c);
	ck_assert_uint_eq(c.flags, 0);		/* random data: stored raw */
	img_reader_entry(r, 1, &c);
	ck_assert_uint_eq(c.flags, IMG_CHUNK_LZ4);
	img_reader_entry(r, 2, &c);
	ck_assert_uint_eq(c.flags, IMG_CHUNK_ZERO);
	ck_assert_uint_eq(c.stored, 0);
	read_all(r, ctx);
	img_reader_close(r);
	img_ctx_free(ctx);
}
END_TEST

START_TEST(stream_mode_round_trip)
{
	struct img_ctx *ctx = img_ctx_new();
	struct img_reader *r, *f;
	struct img_dev *dev;
	int fd = open(test_path("sample.img"), O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_img_ok(img_dev_from_fd(fd, "pipe", &dev, ctx), ctx);
	ck_assert_img_ok(img_reader_open_dev(dev, &r, ctx), ctx);
	ck_assert(img_reader_is_stream(r));
	read_all(r, ctx);
	/* the identity a stream reader checked equals the file's */
	ck_assert_img_ok(img_reader_open(test_path("sample.img"), &f, ctx), ctx);
	ck_assert_mem_eq(img_reader_footer(r)->identity,
	    img_reader_footer(f)->identity, IMG_SHA256_LEN);
	img_reader_close(f);
	img_reader_close(r);
	img_dev_close(dev);
	close(fd);
	img_ctx_free(ctx);
}
END_TEST

START_TEST(random_access)
{
	struct img_ctx *ctx = img_ctx_new();
	uint8_t data[TEST_SAMPLE_CHUNK];
	struct img_reader *r;
	struct img_chunk c;

	ck_assert_img_ok(img_reader_open(test_path("sample.img"), &r, ctx), ctx);
	ck_assert_uint_eq(img_reader_find(r, 0), 0);
	ck_assert_uint_eq(img_reader_find(r, 4096 * 2 + 5), 5);	/* not stored */
	ck_assert_uint_eq(img_reader_find(r, 4096 * 4 + 4095), 3);
	ck_assert_uint_eq(img_reader_find(r, TEST_SAMPLE_SIZE - 1), 4);
	ck_assert_uint_eq(img_reader_find(r, TEST_SAMPLE_SIZE), 5);
	ck_assert_img_ok(img_reader_read(r, 3, &c, data, ctx), ctx);
	ck_assert_mem_eq(data, expect + 16384, 4096);
	img_reader_close(r);
	img_ctx_free(ctx);
}
END_TEST

START_TEST(verify_sound_image)
{
	struct img_ctx *ctx = img_ctx_new();
	struct img_verify_opts o = { .image = test_path("sample.img") };
	struct img_verify_result res;

	ck_assert_img_ok(img_verify(&o, &res, ctx), ctx);
	ck_assert_uint_eq(res.chunks, 5);
	ck_assert_uint_eq(res.bad_chunks, 0);
	ck_assert_uint_eq(strlen(res.identity), 64);
	img_ctx_free(ctx);
}
END_TEST

START_TEST(restore_new_and_dirty_target)
{
	struct img_ctx *ctx = img_ctx_new();
	struct img_restore_opts o = { .image = test_path("sample.img") };
	struct img_restore_result res;
	static uint8_t got[TEST_SAMPLE_SIZE], junk[TEST_SAMPLE_SIZE];
	int fd;

	/* a new file: exactly the expected content, unused bytes zero */
	o.target = test_path("new.raw");
	ck_assert_img_ok(img_restore(&o, &res, ctx), ctx);
	free(res.plan);
	fd = open(o.target, O_RDONLY);
	ck_assert_int_eq(read(fd, got, sizeof(got)), (ssize_t)sizeof(got));
	close(fd);
	ck_assert_mem_eq(got, expect, sizeof(got));

	/* a target full of junk: used ranges (zero chunk included) are
	 * overwritten, unused ones are left alone */
	o.target = test_path("junk.raw");
	test_fill_random(junk, sizeof(junk), 99);
	test_write_file(o.target, junk, sizeof(junk), 0);
	ck_assert_img_ok(img_restore(&o, &res, ctx), ctx);
	free(res.plan);
	fd = open(o.target, O_RDONLY);
	ck_assert_int_eq(read(fd, got, sizeof(got)), (ssize_t)sizeof(got));
	close(fd);
	ck_assert_mem_eq(got, expect, 4096);			/* chunk 0 */
	ck_assert_mem_eq(got + 4096, junk + 4096, 512);	/* unused */
	ck_assert_mem_eq(got + 4608, expect + 4608, 512);
	ck_assert_mem_eq(got + 8192, junk + 8192, 4096);	/* chunk 2 */
	ck_assert_mem_eq(got + 12288, expect + 12288, 4096);	/* zeros */
	ck_assert_mem_eq(got + 16384, expect + 16384, 5096);

	/* --zero: unused ranges become zeros too */
	o.zero_unused = 1;
	ck_assert_img_ok(img_restore(&o, &res, ctx), ctx);
	free(res.plan);
	fd = open(o.target, O_RDONLY);
	ck_assert_int_eq(read(fd, got, sizeof(got)), (ssize_t)sizeof(got));
	close(fd);
	ck_assert_mem_eq(got, expect, sizeof(got));
	img_ctx_free(ctx);
}
END_TEST

/*
 * Several records in one 8 KiB window, none filling it: [9 KiB, 10 KiB)
 * text, [10 KiB, 12 KiB) a ZERO record, then [16 KiB, 24 KiB) random.
 * Verify accepts it; a restore writes exactly those ranges over junk; the
 * view reads zeros around them.
 */
#define SHORT_SIZE (24u << 10)
START_TEST(short_records_in_one_window)
{
	struct img_writer_params p = { .source_size = SHORT_SIZE,
	    .sector_size = 512, .chunk_size = 8192 };
	static uint8_t want[SHORT_SIZE], got[SHORT_SIZE], junk[SHORT_SIZE];
	static const uint32_t rec[3][2] = {
		{ 9216, 1024 }, { 10240, 2048 }, { 16384, 8192 } };
	struct img_ctx *ctx = img_ctx_new();
	const char *img = test_path("short.img"), *tgt = test_path("t.raw");
	struct img_restore_opts ro = { .image = img, .target = tgt };
	struct img_verify_opts vo = { .image = img };
	struct img_verify_result vres;
	struct img_restore_result rres;
	struct img_chunk_buf c;
	struct img_writer *w;
	struct img_dev *out;
	struct img_view *v;
	char id[65];
	int fd;

	ck_assert_img_ok(img_dev_open(img, IMG_DEV_WRITE | IMG_DEV_CREATE,
	    &out, ctx), ctx);
	ck_assert_img_ok(img_writer_open(out, &p, &w, ctx), ctx);
	ck_assert_int_eq(img_chunk_buf_init(&c, 8192), 0);
	memset(want, 0, sizeof(want));
	for (int i = 0; i < 3; i++) {
		c.offset = rec[i][0];
		c.length = rec[i][1];
		c.nextents = 0;
		if (i == 0)
			memset(c.data, 'x', c.length);
		else if (i == 1)
			memset(c.data, 0, c.length);
		else
			test_fill_random(c.data, c.length, 5);
		memcpy(want + c.offset, c.data, c.length);
		img_chunk_encode(&c);
		ck_assert_img_ok(img_writer_add(w, &c, ctx), ctx);
	}
	/* the writer refuses a record that overlaps or crosses its window */
	c.offset = 20480;
	c.length = 4096;
	ck_assert_int_eq(img_writer_add(w, &c, ctx), -EINVAL);
	ck_assert_img_ok(img_writer_finish(w, id, ctx), ctx);
	img_writer_free(w);
	img_chunk_buf_free(&c);
	img_dev_close(out);

	ck_assert_img_ok(img_verify(&vo, &vres, ctx), ctx);
	ck_assert_uint_eq(vres.chunks, 3);
	ck_assert_uint_eq(vres.bad_chunks, 0);

	test_fill_random(junk, sizeof(junk), 77);
	test_write_file(tgt, junk, sizeof(junk), 0);
	ck_assert_img_ok(img_restore(&ro, &rres, ctx), ctx);
	free(rres.plan);
	fd = open(tgt, O_RDONLY);
	ck_assert_int_eq(read(fd, got, sizeof(got)), (ssize_t)sizeof(got));
	close(fd);
	/* not stored: left as it was, except the partition table
	 * signatures (MBR 0x55AA, the GPT header at LBA 1), which must not
	 * bring an old table back on top of the restored data */
	ck_assert_mem_eq(got, junk, 510);
	for (int i = 510; i < 1024; i++)
		ck_assert_uint_eq(got[i], 0);
	ck_assert_mem_eq(got + 1024, junk + 1024, 9216 - 1024);
	ck_assert_mem_eq(got + 9216, want + 9216, 3072);	/* two records */
	ck_assert_mem_eq(got + 12288, junk + 12288, 4096);	/* not stored */
	ck_assert_mem_eq(got + 16384, want + 16384, 8192);

	ck_assert_img_ok(img_view_open(img, &v, ctx), ctx);
	ck_assert_int_eq(img_view_read(v, got, sizeof(got), 0),
	    (ssize_t)sizeof(got));
	ck_assert_mem_eq(got, want, sizeof(got));
	ck_assert_int_eq(img_view_read(v, got, 3000, 8000), 3000);
	ck_assert_mem_eq(got, want + 8000, 3000);
	img_view_close(v);
	img_ctx_free(ctx);
}
END_TEST

/*
 * A full pass seals each record; a second pass trusts the seals instead of
 * hashing again, and a payload byte changed between the passes is caught
 * there (restore's check-then-write).
 */
START_TEST(sealed_second_pass)
{
	struct img_ctx *ctx = img_ctx_new();
	const char *path = test_path("sample.img");
	struct img_decode_pipe *dp;
	struct img_raw_chunk *raw;
	struct img_reader *r;
	struct img_chunk e;
	uint32_t seals[5] = { 0 };
	int n = 0, rc, fd;
	uint8_t b;

	ck_assert_img_ok(img_reader_open(path, &r, ctx), ctx);
	ck_assert_img_ok(img_decode_pipe_open(r, 2, &dp, ctx), ctx);
	img_decode_pipe_seals(dp, seals, IMG_SEAL_RECORD);
	while ((rc = img_decode_pipe_next(dp, &raw, ctx)) == 1)
		n++;
	ck_assert_img_ok(rc, ctx);
	ck_assert_int_eq(n, 5);
	img_decode_pipe_close(dp);
	ck_assert_uint_ne(seals[1], 0);
	ck_assert_uint_eq(seals[2], 0);		/* the ZERO chunk */

	/* unchanged: the trusting pass gives the same content */
	img_reader_rewind(r);
	ck_assert_img_ok(img_decode_pipe_open(r, 2, &dp, ctx), ctx);
	img_decode_pipe_seals(dp, seals, IMG_SEAL_TRUST);
	for (n = 0; (rc = img_decode_pipe_next(dp, &raw, ctx)) == 1; n++)
		ck_assert_mem_eq(raw->data, expect + raw->c.offset,
		    raw->c.length);
	ck_assert_img_ok(rc, ctx);
	ck_assert_int_eq(n, 5);
	img_decode_pipe_close(dp);

	/* one byte of chunk 1's LZ4 payload changes between the passes */
	img_reader_entry(r, 1, &e);
	fd = open(path, O_RDWR);
	ck_assert_int_eq(pread(fd, &b, 1, (off_t)(e.record_pos +
	    IMG_CHUNK_HDR_SIZE + 2 * IMG_EXTENT_SIZE + 5)), 1);
	b ^= 0x40;
	ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)(e.record_pos +
	    IMG_CHUNK_HDR_SIZE + 2 * IMG_EXTENT_SIZE + 5)), 1);
	close(fd);
	img_reader_rewind(r);
	ck_assert_img_ok(img_decode_pipe_open(r, 2, &dp, ctx), ctx);
	img_decode_pipe_seals(dp, seals, IMG_SEAL_TRUST);
	ck_assert_int_eq(img_decode_pipe_next(dp, &raw, ctx), 1);
	ck_assert_int_eq(img_decode_pipe_next(dp, &raw, ctx), -EBADMSG);
	ck_assert_uint_eq(raw->c.offset, 4096);
	ck_assert_ptr_nonnull(strstr(img_ctx_message(ctx),
	    "changed since the image was checked"));
	img_decode_pipe_close(dp);
	img_reader_close(r);
	img_ctx_free(ctx);
}
END_TEST

START_TEST(metadata_records)
{
	struct img_ctx *ctx = img_ctx_new();
	struct img_reader *r;
	const uint8_t *p;
	size_t pos = 0;
	uint16_t type;
	uint32_t len;

	ck_assert_img_ok(img_reader_open(test_path("sample.img"), &r, ctx), ctx);
	ck_assert_int_eq(img_meta_next(r, &pos, &type, &p, &len), 1);
	ck_assert_uint_eq(type, 1);
	ck_assert_uint_eq(len, 6);
	ck_assert_mem_eq(p, "sample", 6);
	ck_assert_int_eq(img_meta_next(r, &pos, &type, &p, &len), 0);
	img_reader_close(r);
	img_ctx_free(ctx);
}
END_TEST

static Suite *
image_rw_suite(void)
{
	Suite *s = suite_create("image_rw");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, file_mode_round_trip);
	tcase_add_test(tc, stream_mode_round_trip);
	tcase_add_test(tc, random_access);
	tcase_add_test(tc, verify_sound_image);
	tcase_add_test(tc, restore_new_and_dirty_target);
	tcase_add_test(tc, metadata_records);
	tcase_add_test(tc, short_records_in_one_window);
	tcase_add_test(tc, sealed_second_pass);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(image_rw_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
