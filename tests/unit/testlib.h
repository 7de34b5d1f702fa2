/*
 * testlib.h - helpers shared by the Check unit tests.
 */
#ifndef IMG_TESTLIB_H
#define IMG_TESTLIB_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "imgtool.h"

/* Fails the test with rc, strerror(-rc) and the context message. */
#define ck_assert_img_ok(rc, ctx) do {					\
	int rc_ = (rc);							\
	ck_assert_msg(rc_ >= 0, "rc=%d (%s): %s", rc_,			\
	    strerror(rc_ < 0 ? -rc_ : 0), img_ctx_message(ctx));	\
} while (0)

/* A fresh temporary directory (removed by test_tmpdir_cleanup). */
const char *test_tmpdir(void);
void test_tmpdir_cleanup(void);
/* Path of name inside the temporary directory (static buffer rotation of 8). */
const char *test_path(const char *name);
/* Runs sr with $TMPDIR set to a new directory BASE/NAME.XXXXXX (BASE
 * from $TMPDIR or default_base): every forked test makes its temporary
 * directory in there, so one removal at the end cleans up after failed
 * tests too. Frees sr; returns the exit status for automake. */
int test_run_suite(SRunner *sr, const char *name, const char *default_base);
/* Runs a shell command; fails the test if it exits nonzero. */
void test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Runs a shell command and returns its first line of output as a number. */
long long test_sh_num(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* Deterministic pseudo-random bytes (xorshift) for a given seed. */
void test_fill_random(void *buf, size_t len, uint64_t seed);
/* Writes len bytes of buf to path at offset (creating the file). */
void test_write_file(const char *path, const void *buf, size_t len,
    uint64_t off);
/* 1 if cmd is on PATH. */
int test_have(const char *cmd);


/* One filesystem module run over [off, off+len) of a file, as the scanner
 * runs it: probe, then (if it probed) used_extents and describe. */
struct fs_ops;
#include "extents.h"
#include "formats.h"
struct test_fs_scan {
	struct img_ctx *ctx;
	struct img_dev *dev;
	const struct fs_ops *ops;
	struct fs_info fs;
	struct img_extents used;
	int probe_rc, used_rc;
	int warnings;		/* img_warn calls seen */
	char desc[256];
};
/* len 0 = to the end of the file. */
void test_fs_scan_open(struct test_fs_scan *s, const struct fs_ops *ops,
    const char *type, const char *path, uint64_t off, uint64_t len);
void test_fs_scan_close(struct test_fs_scan *s);
/* The extents are sorted, disjoint, non-empty and inside the filesystem. */
void test_fs_scan_assert_sane(const struct test_fs_scan *s);
/* No used byte holds marker (a deleted file's content: freed, not wiped),
 * which img (the file scanned, fs at s->fs.off) holds more than 100
 * times. */
void test_fs_scan_assert_no_marker(const struct test_fs_scan *s,
    const char *img, const char *marker);
/* probe and used_extents both succeeded. */
#define ck_assert_fs_scan_ok(s) do {					\
	ck_assert_msg((s)->probe_rc == 0, "probe rc=%d: %s",		\
	    (s)->probe_rc, img_ctx_message((s)->ctx));			\
	ck_assert_img_ok((s)->used_rc, (s)->ctx);			\
} while (0)

#endif

/* A small sample image written with the real writer: chunk size 4 KiB,
 * source 5 chunks + 1000 bytes. Chunk 0 random (stored raw), chunk 1
 * text with two used extents (LZ4), chunk 2 not stored, chunk 3 zeros,
 * chunk 4 text, chunk 5 (1000 bytes, the short last one) text. expect
 * (if not NULL) receives the logical content restore must produce
 * (TEST_SAMPLE_SIZE bytes, unused bytes zero). */
#define TEST_SAMPLE_CHUNK	4096u
#define TEST_SAMPLE_SIZE	(5u * 4096u + 1000u)
void test_write_sample_image(const char *path, uint8_t *expect);
