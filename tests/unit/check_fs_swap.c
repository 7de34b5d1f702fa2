/*
 * check_fs_swap.c - the swap module against areas made by mkswap with each
 * page size: exactly the header page is used. Non-swap content, hibernation
 * images and broken headers are refused with a message.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "ctx.h"
#include "dev.h"
#include "extents.h"
#include "formats.h"

#define UUID "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
#define MIB (1024 * 1024)

struct scan {
	struct img_ctx *ctx;
	struct img_dev *dev;
	struct fs_info fs;
	struct img_extents used;
	int probe_rc, used_rc;
	char desc[256];
};

static void
scan_open(struct scan *s, const char *path, uint64_t off, uint64_t len)
{
	memset(s, 0, sizeof(*s));
	s->ctx = img_ctx_new();
	ck_assert_ptr_nonnull(s->ctx);
	img_extents_init(&s->used);
	ck_assert_img_ok(img_dev_open(path, IMG_DEV_READ, &s->dev, s->ctx),
	    s->ctx);
	s->fs.type = "swap";
	s->fs.off = off;
	s->fs.len = len ? len : s->dev->size - off;
	s->probe_rc = fs_swap_ops.probe(s->dev, &s->fs, s->ctx);
	if (s->probe_rc != 0)
		return;
	s->used_rc = fs_swap_ops.used_extents(s->dev, &s->fs, &s->used,
	    s->ctx);
	fs_swap_ops.describe(&s->fs, s->desc, sizeof(s->desc));
}

static void
scan_close(struct scan *s)
{
	img_extents_free(&s->used);
	img_dev_close(s->dev);
	img_ctx_free(s->ctx);
}

static void
assert_header_only(const struct scan *s, uint64_t off, uint32_t page)
{
	ck_assert_msg(s->probe_rc == 0, "probe rc=%d: %s", s->probe_rc,
	    img_ctx_message(s->ctx));
	ck_assert_img_ok(s->used_rc, s->ctx);
	ck_assert_uint_eq(s->fs.block_size, page);
	ck_assert_uint_eq(s->used.n, 1);
	ck_assert_uint_eq(s->used.v[0].off, off);
	ck_assert_uint_eq(s->used.v[0].len, page);
}

static void
assert_refused(const char *path, uint64_t off, uint64_t len)
{
	struct scan s;

	scan_open(&s, path, off, len);
	ck_assert_int_eq(s.probe_rc, 1);
	ck_assert_str_ne(img_ctx_message(s.ctx), "");
	scan_close(&s);
}

static const char *
make_swap(const char *name, unsigned mib, uint32_t page)
{
	const char *path = test_path(name);

	test_sh("rm -f '%s' && truncate -s %uM '%s' && mkswap -q -p %u -L lbl "
	    "-U " UUID " '%s' >/dev/null 2>&1", path, mib, path, page, path);
	return path;
}

/* Every page size Linux uses; the label and page count come from the
 * header, and nothing beyond the first page is stored. */
START_TEST(test_page_sizes)
{
	static const uint32_t pages[] = { 4096, 8192, 16384, 65536 };
	char want[128];

	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		const char *path = make_swap("s.img", 4, pages[i]);
		struct scan s;

		/* mkswap honoured -p: the signature ends that page */
		test_sh("dd if='%s' bs=1 skip=%u count=10 status=none | "
		    "grep -q SWAPSPACE2", path, pages[i] - 10);
		scan_open(&s, path, 0, 0);
		assert_header_only(&s, 0, pages[i]);
		ck_assert_uint_eq(s.fs.block_count, 4 * MIB / pages[i]);
		ck_assert_str_eq(s.fs.label, "lbl");
		snprintf(want, sizeof(want), "swap, %u-byte pages, %u pages, "
		    "label 'lbl', header only", pages[i], 4 * MIB / pages[i]);
		ck_assert_str_eq(s.desc, want);
		scan_close(&s);
	}
}
END_TEST

/* A swap partition 1 MiB into a disk, smaller than the space after it. */
START_TEST(test_offset)
{
	const char *part = make_swap("part.img", 2, 4096);
	const char *disk = test_path("disk.img");
	struct scan s;

	test_sh("truncate -s 8M '%s' && dd if='%s' of='%s' bs=1M seek=1 "
	    "conv=notrunc status=none", disk, part, disk);
	scan_open(&s, disk, MIB, 3 * MIB);
	assert_header_only(&s, MIB, 4096);
	ck_assert_uint_eq(s.fs.block_count, 2 * MIB / 4096);
	scan_close(&s);
}
END_TEST

/* The label the scanner got from blkid is kept; the header's fills an
 * empty one only. */
START_TEST(test_label_from_scanner)
{
	const char *path = make_swap("lbl.img", 1, 4096);
	struct fs_info fs = { .type = "swap", .off = 0, .len = MIB };
	struct img_ctx *ctx = img_ctx_new();
	struct img_dev *dev;

	ck_assert_img_ok(img_dev_open(path, IMG_DEV_READ, &dev, ctx), ctx);
	strcpy(fs.label, "from-blkid");
	ck_assert_int_eq(fs_swap_ops.probe(dev, &fs, ctx), 0);
	ck_assert_str_eq(fs.label, "from-blkid");
	img_dev_close(dev);
	img_ctx_free(ctx);
}
END_TEST

/* A header written by a big-endian machine is recognised too. */
START_TEST(test_big_endian)
{
	const char *path = make_swap("be.img", 1, 4096);
	const uint8_t be_version[4] = { 0, 0, 0, 1 };
	const uint8_t be_last[4] = { 0, 0, 0, 255 };
	struct scan s;

	test_write_file(path, be_version, 4, 1024);
	test_write_file(path, be_last, 4, 1028);
	scan_open(&s, path, 0, 0);
	assert_header_only(&s, 0, 4096);
	ck_assert_uint_eq(s.fs.block_count, 256);
	scan_close(&s);
}
END_TEST

/* The old v0 "SWAP-SPACE" area: the first page is its bitmap. */
START_TEST(test_v0)
{
	const char *path = test_path("v0.img");
	struct scan s;

	test_sh("truncate -s 1M '%s' && printf SWAP-SPACE | dd of='%s' bs=1 "
	    "seek=4086 conv=notrunc status=none", path, path);
	scan_open(&s, path, 0, 0);
	assert_header_only(&s, 0, 4096);
	ck_assert_uint_eq(s.fs.block_count, 256);
	scan_close(&s);
}
END_TEST

/* A hibernation image replaces the signature: blkid says "swsuspend", no
 * module claims it, and the area is copied in full. */
START_TEST(test_swsuspend)
{
	const char *path = make_swap("susp.img", 1, 4096);

	test_sh("printf 'S1SUSPEND\\0' | dd of='%s' bs=1 seek=4086 "
	    "conv=notrunc status=none", path);
	assert_refused(path, 0, 0);
	ck_assert_ptr_eq(fs_ops_find("swsuspend"), &fs_raw_ops);
	ck_assert_ptr_eq(fs_ops_find("swap"), &fs_swap_ops);
}
END_TEST

START_TEST(test_not_swap)
{
	const char *path = test_path("junk.img");
	static uint8_t buf[128 * 1024];

	test_sh("truncate -s 1M '%s'", path);
	assert_refused(path, 0, 0);
	test_fill_random(buf, sizeof(buf), 7);
	test_write_file(path, buf, sizeof(buf), 0);
	assert_refused(path, 0, 0);
	assert_refused(path, 0, 100);	/* less than a page */
}
END_TEST

struct corruption {
	const char *what;
	unsigned off;
	uint32_t value;		/* little-endian u32 */
};

/* info.version at 1024, info.last_page at 1028, info.nr_badpages at 1032 */
static const struct corruption corruptions[] = {
	{ "version 0", 1024, 0 },
	{ "version 2", 1024, 2 },
	{ "last page 0", 1028, 0 },
	{ "last page beyond the area", 1028, 256 },
	{ "last page huge", 1028, 0xFFFFFFFF },
	{ "too many bad pages", 1032, 1000 },
	{ "bad pages huge", 1032, 0xFFFFFFFF },
};

START_TEST(test_hostile)
{
	const char *path = make_swap("h.img", 1, 4096);
	const char *work = test_path("hw.img");

	for (size_t i = 0; i < sizeof(corruptions) / sizeof(corruptions[0]);
	    i++) {
		const struct corruption *c = &corruptions[i];
		uint8_t le[4] = { c->value, c->value >> 8, c->value >> 16,
		    c->value >> 24 };
		struct scan s;

		test_sh("cp '%s' '%s'", path, work);
		test_write_file(work, le, 4, c->off);
		scan_open(&s, work, 0, 0);
		ck_assert_msg(s.probe_rc == 1, "%s: rc %d", c->what,
		    s.probe_rc);
		ck_assert_msg(img_ctx_message(s.ctx)[0], "%s: no message",
		    c->what);
		scan_close(&s);
	}
	/* The scanner believes more bytes than the file has. */
	test_sh("truncate -s 2048 '%s'", work);
	{
		struct scan s;

		scan_open(&s, work, 0, MIB);
		ck_assert_int_lt(s.probe_rc, 0);
		ck_assert_str_ne(img_ctx_message(s.ctx), "");
		scan_close(&s);
	}
}
END_TEST

static Suite *
swap_suite(void)
{
	Suite *s = suite_create("fs_swap");
	TCase *core = tcase_create("core");
	TCase *hostile = tcase_create("hostile");

	tcase_add_test(core, test_page_sizes);
	tcase_add_test(core, test_offset);
	tcase_add_test(core, test_label_from_scanner);
	tcase_add_test(core, test_big_endian);
	tcase_add_test(core, test_v0);
	tcase_set_timeout(core, 30);
	tcase_add_test(hostile, test_swsuspend);
	tcase_add_test(hostile, test_not_swap);
	tcase_add_test(hostile, test_hostile);
	tcase_set_timeout(hostile, 30);
	suite_add_tcase(s, core);
	suite_add_tcase(s, hostile);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(swap_suite());

	if (!test_have("mkswap"))
		return 77;	/* automake SKIP */
	/* Every forked test makes its temporary directory in here, so one
	 * removal at the end cleans up after failed tests too. */
	return test_run_suite(sr, "check_fs_swap", "/tmp");
}
