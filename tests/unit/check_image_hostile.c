/*
 * check_image_hostile.c - damaged and crafted images are refused with
 * -EBADMSG (or -ENOTSUP for a format this build does not read) and a
 * message, never accepted and never a crash. The same inputs seed the fuzz
 * harness in tests/fuzz/.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "ctx.h"
#include "dev.h"
#include "image_fmt.h"
#include "image_read.h"
#include "testlib.h"

static uint8_t *sample;
static size_t sample_len;
static uint8_t expect[TEST_SAMPLE_SIZE];

static void
setup(void)
{
	struct stat st;
	int fd;

	test_write_sample_image(test_path("sample.img"), expect);
	fd = open(test_path("sample.img"), O_RDONLY);
	ck_assert_int_ge(fd, 0);
	fstat(fd, &st);
	sample_len = (size_t)st.st_size;
	sample = malloc(sample_len);
	ck_assert_int_eq(read(fd, sample, sample_len), (ssize_t)sample_len);
	close(fd);
}

static void
teardown(void)
{
	free(sample);
	test_tmpdir_cleanup();
}

/* Verifies buf as a file (stream = 0) or through a pipe-like stream. */
static int
verify_buf(const uint8_t *buf, size_t len, int stream, struct img_ctx *ctx)
{
	const char *path = test_path("bad.img");
	struct img_verify_result res;
	struct img_verify_opts o = { .image = path };
	struct img_reader *r;
	struct img_dev *dev;
	uint8_t data[TEST_SAMPLE_CHUNK];
	struct img_chunk c;
	int fd, rc;

	unlink(path);
	test_write_file(path, buf, len, 0);
	if (!stream)
		return img_verify(&o, &res, ctx);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(img_dev_from_fd(fd, "stream", &dev, ctx), 0);
	rc = img_reader_open_dev(dev, &r, ctx);
	while (rc >= 0 && (rc = img_reader_next(r, &c, data, ctx)) == 1)
		;
	img_reader_close(rc >= 0 || r ? r : NULL);
	img_dev_close(dev);
	close(fd);
	return rc;
}

static void
assert_refused(int rc, struct img_ctx *ctx, size_t where)
{
	ck_assert_msg(rc == -EBADMSG || rc == -ENOTSUP,
	    "damage at byte %zu: rc=%d (%s)", where, rc, img_ctx_message(ctx));
	ck_assert_msg(img_ctx_message(ctx)[0] != '\0',
	    "damage at byte %zu: no message", where);
}

START_TEST(sample_is_sound)
{
	struct img_ctx *ctx = img_ctx_new();

	ck_assert_img_ok(verify_buf(sample, sample_len, 0, ctx), ctx);
	ck_assert_img_ok(verify_buf(sample, sample_len, 1, ctx), ctx);
	img_ctx_free(ctx);
}
END_TEST

/* 1 if the image at bad.img restores to exactly the sample's content. */
static int
decodes_to_sample(struct img_ctx *ctx)
{
	struct img_restore_opts o = {
		.image = test_path("bad.img"), .target = test_path("out.raw"),
	};
	struct img_restore_result res;
	static uint8_t got[TEST_SAMPLE_SIZE];
	int fd, same;

	unlink(o.target);
	if (img_restore(&o, &res, ctx) < 0)
		return 0;
	free(res.plan);
	fd = open(o.target, O_RDONLY);
	same = read(fd, got, sizeof(got)) == (ssize_t)sizeof(got) &&
	    memcmp(got, expect, sizeof(got)) == 0;
	close(fd);
	return same;
}

/* Every byte of an image is covered by a checksum: flipping any one of
 * them must be noticed, in file mode and in stream mode. The one
 * exception is a flip inside LZ4 data that still decodes to the same
 * content (a match offset moved by a multiple of a repeating text's
 * period): the data is intact, and that is what the hashes protect. */
START_TEST(every_byte_flip_is_detected)
{
	struct img_ctx *ctx = img_ctx_new();
	uint8_t *buf = malloc(sample_len);
	size_t harmless = 0;

	for (size_t i = 0; i < sample_len; i++) {
		int rc;

		memcpy(buf, sample, sample_len);
		buf[i] ^= 0x5a;
		rc = verify_buf(buf, sample_len, 0, ctx);
		if (rc == 0 && decodes_to_sample(ctx)) {
			harmless++;
			continue;
		}
		assert_refused(rc, ctx, i);
		if (i % 3 == 0)
			assert_refused(verify_buf(buf, sample_len, 1, ctx), ctx, i);
	}
	ck_assert_msg(harmless < sample_len / 100, "%zu harmless flips", harmless);
	free(buf);
	img_ctx_free(ctx);
}
END_TEST

START_TEST(every_truncation_is_detected)
{
	struct img_ctx *ctx = img_ctx_new();

	for (size_t len = 0; len < sample_len; len++) {
		assert_refused(verify_buf(sample, len, 0, ctx), ctx, len);
		if (len % 5 == 0)
			assert_refused(verify_buf(sample, len, 1, ctx), ctx, len);
	}
	img_ctx_free(ctx);
}
END_TEST

START_TEST(garbage_is_not_an_image)
{
	struct img_ctx *ctx = img_ctx_new();
	static uint8_t buf[65536];
	static const size_t sizes[] = { 1, 255, 256, 4096, 65536 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		test_fill_random(buf, sizes[i], i + 1);
		assert_refused(verify_buf(buf, sizes[i], 0, ctx), ctx, i);
		assert_refused(verify_buf(buf, sizes[i], 1, ctx), ctx, i);
	}
	/* the right magic and nothing else */
	memset(buf, 0, 4096);
	memcpy(buf, IMG_MAGIC, 8);
	img_put_le32(buf + IMG_HDR_VERSION, 1);
	assert_refused(verify_buf(buf, 4096, 0, ctx), ctx, 0);
	img_ctx_free(ctx);
}
END_TEST

/* Recomputes the header checksum, so that only the bounds checks stand
 * between a crafted field and the reader. */
static void
fix_header(uint8_t *buf)
{
	struct img_sha256 *h = img_sha256_new();
	uint32_t meta_len = img_le32(buf + IMG_HDR_META_LEN);

	img_sha256_init(h);
	img_sha256_update(h, buf, IMG_HDR_CHECKSUM);
	if (meta_len < 4096)
		img_sha256_update(h, buf + IMG_HEADER_SIZE, meta_len);
	img_sha256_final(h, buf + IMG_HDR_CHECKSUM);
	img_sha256_free(h);
}

/* Recomputes identity and footer checksum after editing the index. */
static void
fix_index(uint8_t *buf, size_t len)
{
	struct img_sha256 *h = img_sha256_new();
	uint8_t *ftr = buf + len - IMG_FOOTER_SIZE;
	uint64_t pos = img_le64(ftr + IMG_FTR_INDEX_POS);
	uint64_t ilen = img_le64(ftr + IMG_FTR_INDEX_LEN);

	img_sha256(h, buf + pos, ilen, ftr + IMG_FTR_IDENTITY);
	img_sha256(h, ftr, IMG_FTR_CHECKSUM, ftr + IMG_FTR_CHECKSUM);
	img_sha256_free(h);
}

static uint8_t *
entry(uint8_t *buf, size_t len, unsigned i)
{
	uint64_t pos = img_le64(buf + len - IMG_FOOTER_SIZE + IMG_FTR_INDEX_POS);

	return buf + pos + IMG_INDEX_HDR_SIZE + i * IMG_INDEX_ENTRY_SIZE;
}

struct header_case {
	size_t off;
	int width;
	uint64_t value;
	int expect;
};

START_TEST(crafted_header_fields)
{
	static const struct header_case cases[] = {
		{ IMG_HDR_VERSION, 4, 2, -ENOTSUP },
		{ IMG_HDR_INCOMPAT, 8, 1ull << 40, -ENOTSUP },
		{ IMG_HDR_INCOMPAT, 8, IMG_INCOMPAT_ENCRYPTED, -ENOTSUP },
		{ IMG_HDR_CHUNK_SIZE, 4, 3, -EBADMSG },
		{ IMG_HDR_CHUNK_SIZE, 4, 1u << 31, -EBADMSG },
		{ IMG_HDR_CHUNK_SIZE, 4, 0, -EBADMSG },
		/* records may be shorter than their window: still sound */
		{ IMG_HDR_CHUNK_SIZE, 4, 8192, 0 },
		{ IMG_HDR_SECTOR_SIZE, 4, 100, -EBADMSG },
		{ IMG_HDR_SOURCE_SIZE, 8, 0, -EBADMSG },
		{ IMG_HDR_SOURCE_SIZE, 8, UINT64_MAX, -EBADMSG },
		{ IMG_HDR_SOURCE_SIZE, 8, 4096, -EBADMSG },  /* chunks beyond it */
		{ IMG_HDR_META_LEN, 4, UINT32_MAX, -EBADMSG },
		{ IMG_HDR_META_LEN, 4, 100000, -EBADMSG },
		{ IMG_HDR_HEADER_SIZE, 4, 512, -EBADMSG },
	};
	struct img_ctx *ctx = img_ctx_new();
	uint8_t *buf = malloc(sample_len);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct header_case *hc = &cases[i];
		int rc;

		memcpy(buf, sample, sample_len);
		if (hc->width == 4)
			img_put_le32(buf + hc->off, (uint32_t)hc->value);
		else
			img_put_le64(buf + hc->off, hc->value);
		fix_header(buf);
		rc = verify_buf(buf, sample_len, 0, ctx);
		ck_assert_msg(rc == hc->expect, "case %zu: rc=%d (%s)", i, rc,
		    img_ctx_message(ctx));
		rc = verify_buf(buf, sample_len, 1, ctx);
		ck_assert_msg(rc == hc->expect, "case %zu stream: rc=%d (%s)",
		    i, rc, img_ctx_message(ctx));
	}
	free(buf);
	img_ctx_free(ctx);
}
END_TEST

START_TEST(crafted_critical_metadata)
{
	struct img_ctx *ctx = img_ctx_new();
	uint8_t *buf = malloc(sample_len);

	memcpy(buf, sample, sample_len);
	img_put_le16(buf + IMG_HEADER_SIZE, 77);			/* type */
	img_put_le16(buf + IMG_HEADER_SIZE + 2, IMG_META_CRITICAL);
	fix_header(buf);
	ck_assert_int_eq(verify_buf(buf, sample_len, 0, ctx), -ENOTSUP);
	/* an unknown record that is not critical is skipped */
	img_put_le16(buf + IMG_HEADER_SIZE + 2, 0);
	fix_header(buf);
	ck_assert_img_ok(verify_buf(buf, sample_len, 0, ctx), ctx);
	/* a record length that overruns the metadata */
	img_put_le32(buf + IMG_HEADER_SIZE + 4, 7);
	fix_header(buf);
	ck_assert_int_eq(verify_buf(buf, sample_len, 0, ctx), -EBADMSG);
	free(buf);
	img_ctx_free(ctx);
}
END_TEST

struct index_case {
	unsigned entry;
	size_t off;
	int width;
	uint64_t value;
};

/* Index entries with valid checksums but impossible contents. */
START_TEST(crafted_index_entries)
{
	static const struct index_case cases[] = {
		{ 0, IMG_IDX_RECORD_POS, 8, 1ull << 40 },
		{ 1, IMG_IDX_RECORD_POS, 8, 0 },
		{ 1, IMG_IDX_OFFSET, 8, 0 },			/* out of order */
		{ 1, IMG_IDX_OFFSET, 8, 4097 },			/* unaligned */
		{ 4, IMG_IDX_OFFSET, 8, 1ull << 50 },
		{ 0, IMG_IDX_LENGTH, 4, 8192 },
		{ 4, IMG_IDX_LENGTH, 4, 4096 },			/* last is short */
		{ 1, IMG_IDX_LENGTH, 4, 1000 },		/* not whole sectors */
		{ 1, IMG_IDX_OFFSET, 8, 4096 + 512 },	/* crosses its window */
		{ 1, IMG_IDX_STORED, 4, UINT32_MAX },
		{ 1, IMG_IDX_FLAGS, 4, 0x80 },
		{ 1, IMG_IDX_FLAGS, 4, IMG_CHUNK_ZERO | IMG_CHUNK_LZ4 },
		{ 2, IMG_IDX_FLAGS, 4, 0 },			/* zero -> raw */
		{ 1, IMG_IDX_USED, 4, 0 },
		{ 1, IMG_IDX_USED, 4, 5000 },
		{ 3, IMG_IDX_SHA256, 4, 1 },			/* hash mismatch */
	};
	struct img_ctx *ctx = img_ctx_new();
	uint8_t *buf = malloc(sample_len);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct index_case *ic = &cases[i];
		uint8_t *e;
		int rc;

		memcpy(buf, sample, sample_len);
		e = entry(buf, sample_len, ic->entry);
		if (ic->width == 4)
			img_put_le32(e + ic->off, (uint32_t)ic->value);
		else
			img_put_le64(e + ic->off, ic->value);
		fix_index(buf, sample_len);
		rc = verify_buf(buf, sample_len, 0, ctx);
		ck_assert_msg(rc == -EBADMSG, "case %zu: rc=%d (%s)", i, rc,
		    img_ctx_message(ctx));
	}
	free(buf);
	img_ctx_free(ctx);
}
END_TEST

/* A footer with a fixed checksum but an impossible index position/count. */
START_TEST(crafted_footer)
{
	static const size_t offs[] = { IMG_FTR_INDEX_POS, IMG_FTR_INDEX_LEN,
	    IMG_FTR_CHUNKS, IMG_FTR_USED, IMG_FTR_STORED };
	static const uint64_t values[] = { 0, 1, UINT64_MAX, 1ull << 33 };
	struct img_ctx *ctx = img_ctx_new();
	uint8_t *buf = malloc(sample_len);
	struct img_sha256 *h = img_sha256_new();

	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
			uint8_t *ftr = buf + sample_len - IMG_FOOTER_SIZE;
			int rc;

			memcpy(buf, sample, sample_len);
			img_put_le64(ftr + offs[i], values[v]);
			img_sha256(h, ftr, IMG_FTR_CHECKSUM,
			    ftr + IMG_FTR_CHECKSUM);
			rc = verify_buf(buf, sample_len, 0, ctx);
			ck_assert_msg(rc == -EBADMSG, "field %zu value %zu: rc=%d",
			    offs[i], v, rc);
		}
	}
	img_sha256_free(h);
	free(buf);
	img_ctx_free(ctx);
}
END_TEST

static Suite *
hostile_suite(void)
{
	Suite *s = suite_create("image_hostile");
	TCase *tc = tcase_create("hostile");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, sample_is_sound);
	tcase_add_test(tc, every_byte_flip_is_detected);
	tcase_add_test(tc, every_truncation_is_detected);
	tcase_add_test(tc, garbage_is_not_an_image);
	tcase_add_test(tc, crafted_header_fields);
	tcase_add_test(tc, crafted_critical_metadata);
	tcase_add_test(tc, crafted_index_entries);
	tcase_add_test(tc, crafted_footer);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(hostile_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
