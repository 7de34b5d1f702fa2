/*
 * check_store.c - the directory object store: put/get/exists/delete, a key
 * put twice keeps its first content, names that could leave the root are
 * refused, listing by prefix, large objects through files (commit never
 * replaces, abort leaves nothing), and many processes putting the same
 * keys at once: every object whole, stored exactly once.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctx.h"
#include "dev.h"
#include "store.h"
#include "testlib.h"

static struct img_store *
open_store(struct img_ctx *ctx)
{
	struct img_store *s;

	ck_assert_img_ok(img_store_open_dir(test_tmpdir(), &s, ctx), ctx);
	return s;
}

START_TEST(put_get_delete)
{
	struct img_ctx *ctx = img_ctx_new();
	struct img_store *s = open_store(ctx);
	char buf[64];

	ck_assert_int_eq(img_store_exists(s, "chunks/ab/ab01", ctx), 0);
	ck_assert_int_eq(img_store_put(s, "chunks/ab/ab01", "first", 5, ctx), 0);
	ck_assert_int_eq(img_store_exists(s, "chunks/ab/ab01", ctx), 1);
	/* a key is never rewritten: the second put reports it was there */
	ck_assert_int_eq(img_store_put(s, "chunks/ab/ab01", "other", 5, ctx), 1);
	ck_assert_int_eq(img_store_get(s, "chunks/ab/ab01", buf, sizeof(buf),
	    ctx), 5);
	ck_assert_mem_eq(buf, "first", 5);
	ck_assert_int_eq(img_store_get(s, "chunks/ab/ab01", buf, 3, ctx),
	    -EFBIG);
	ck_assert_int_eq(img_store_get(s, "chunks/ab/nope", buf, 3, ctx),
	    -ENOENT);
	ck_assert_ptr_nonnull(strstr(img_ctx_message(ctx), "missing"));
	ck_assert_int_eq(img_store_put(s, "empty", "", 0, ctx), 0);
	ck_assert_int_eq(img_store_get(s, "empty", buf, sizeof(buf), ctx), 0);
	ck_assert_int_eq(img_store_delete(s, "chunks/ab/ab01", ctx), 0);
	ck_assert_int_eq(img_store_exists(s, "chunks/ab/ab01", ctx), 0);
	ck_assert_int_eq(img_store_delete(s, "chunks/ab/ab01", ctx), 0);
	ck_assert_img_ok(img_store_sync(s, ctx), ctx);
	/* objects are private to the owner, like images */
	test_sh("test \"$(stat -c %%a %s/empty)\" = 600", test_tmpdir());
	img_store_close(s);
	img_ctx_free(ctx);
}
END_TEST

START_TEST(bad_keys)
{
	static const char *const bad[] = { "", "/etc/passwd", "../x", "a/../b",
	    "a/./b", "a//b", "a/", ".", "..", "a b", "a\nb", "snap:1",
	    "a/b\\c" };
	struct img_ctx *ctx = img_ctx_new();
	struct img_store *s = open_store(ctx);
	char buf[8];

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		ck_assert_int_eq(img_store_put(s, bad[i], "x", 1, ctx), -EINVAL);
		ck_assert_int_eq(img_store_get(s, bad[i], buf, 8, ctx), -EINVAL);
		ck_assert_int_eq(img_store_exists(s, bad[i], ctx), -EINVAL);
		ck_assert_int_eq(img_store_delete(s, bad[i], ctx), -EINVAL);
	}
	ck_assert_int_eq(img_store_put(s, "ok/.hidden-but-fine_1.x", "x", 1,
	    ctx), 0);
	test_sh("test ! -e %s/../x", test_tmpdir());
	img_store_close(s);
	img_ctx_free(ctx);
}
END_TEST

static int
collect(const char *key, void *arg)
{
	char *out = arg;

	strcat(out, key);
	strcat(out, " ");
	return 0;
}

static int
stop_at_two(const char *key, void *arg)
{
	(void)key;
	return ++*(int *)arg == 2 ? 42 : 0;
}

START_TEST(list_by_prefix)
{
	struct img_ctx *ctx = img_ctx_new();
	struct img_store *s = open_store(ctx);
	char got[512] = "";
	int n = 0;

	ck_assert_int_eq(img_store_put(s, "chunks/ab/ab01", "1", 1, ctx), 0);
	ck_assert_int_eq(img_store_put(s, "chunks/cd/cd02", "2", 1, ctx), 0);
	ck_assert_int_eq(img_store_put(s, "snapshots/h-sda/2026", "3", 1,
	    ctx), 0);
	ck_assert_int_eq(img_store_put(s, "snapshots/h-sdb/2026", "4", 1,
	    ctx), 0);
	ck_assert_int_eq(img_store_list(s, "snapshots/h-sda/", collect, got,
	    ctx), 0);
	ck_assert_str_eq(got, "snapshots/h-sda/2026 ");
	got[0] = '\0';
	ck_assert_int_eq(img_store_list(s, "chunks/c", collect, got, ctx), 0);
	ck_assert_str_eq(got, "chunks/cd/cd02 ");
	got[0] = '\0';
	ck_assert_int_eq(img_store_list(s, "nothing/", collect, got, ctx), 0);
	ck_assert_str_eq(got, "");
	/* the whole store: four objects, never the temporary files */
	test_sh("touch %s/tmp/leftover 2>/dev/null || "
	    "(mkdir -p %s/tmp && touch %s/tmp/leftover)", test_tmpdir(),
	    test_tmpdir(), test_tmpdir());
	got[0] = '\0';
	ck_assert_int_eq(img_store_list(s, "", collect, got, ctx), 0);
	ck_assert_uint_eq(strlen(got), strlen("chunks/ab/ab01 chunks/cd/cd02 "
	    "snapshots/h-sda/2026 snapshots/h-sdb/2026 "));
	ck_assert_ptr_null(strstr(got, "tmp/"));
	ck_assert_int_eq(img_store_list(s, "", stop_at_two, &n, ctx), 42);
	img_store_close(s);
	img_ctx_free(ctx);
}
END_TEST

START_TEST(large_objects)
{
	struct img_ctx *ctx = img_ctx_new();
	struct img_store *s = open_store(ctx);
	struct img_dev *w, *r;
	static char data[300000], back[300000];

	test_fill_random(data, sizeof(data), 3);
	ck_assert_img_ok(img_store_create(s, &w, ctx), ctx);
	ck_assert_img_ok(img_dev_pwrite(w, data, sizeof(data), 0, ctx), ctx);
	ck_assert_img_ok(img_store_commit(s, w, "snapshots/g/1", ctx), ctx);
	ck_assert_img_ok(img_store_open_read(s, "snapshots/g/1", &r, ctx), ctx);
	ck_assert_uint_eq(r->size, sizeof(data));
	ck_assert_img_ok(img_dev_pread(r, back, sizeof(back), 0, ctx), ctx);
	ck_assert_mem_eq(back, data, sizeof(data));
	img_dev_close(r);
	/* commit never replaces */
	ck_assert_img_ok(img_store_create(s, &w, ctx), ctx);
	ck_assert_img_ok(img_dev_pwrite(w, "x", 1, 0, ctx), ctx);
	ck_assert_int_eq(img_store_commit(s, w, "snapshots/g/1", ctx), -EEXIST);
	ck_assert_int_eq(img_store_get(s, "snapshots/g/1", back, sizeof(back),
	    ctx), (ssize_t)sizeof(data));
	/* abort leaves no file behind */
	ck_assert_img_ok(img_store_create(s, &w, ctx), ctx);
	img_store_abort(s, w);
	ck_assert_int_eq(test_sh_num("ls %s/tmp | wc -l", test_tmpdir()), 0);
	ck_assert_int_eq(img_store_open_read(s, "snapshots/g/2", &r, ctx),
	    -ENOENT);
	img_store_close(s);
	img_ctx_free(ctx);
}
END_TEST

/* Eight processes put the same 64 keys, each with content derived from
 * the key: every key ends up stored once, whole. */
START_TEST(concurrent_puts)
{
	static char data[65536], back[65536];
	struct img_ctx *ctx = img_ctx_new();
	struct img_store *s = open_store(ctx);
	int stored = 0;

	for (int p = 0; p < 8; p++) {
		pid_t pid = fork();

		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			struct img_ctx *c = img_ctx_new();
			struct img_store *cs;
			int mine = 0;

			if (img_store_open_dir(test_tmpdir(), &cs, c) < 0)
				_exit(255);
			for (int k = 0; k < 64; k++) {
				char key[32];
				int rc;

				snprintf(key, sizeof(key), "c/%02x/k%d", k, k);
				test_fill_random(data, sizeof(data),
				    (uint64_t)k + 1);
				rc = img_store_put(cs, key, data, sizeof(data),
				    c);
				if (rc < 0)
					_exit(255);
				mine += rc == 0;
			}
			_exit(mine);
		}
	}
	for (int p = 0; p < 8; p++) {
		int st;

		ck_assert_int_ge(wait(&st), 0);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) != 255);
		stored += WEXITSTATUS(st);
	}
	ck_assert_int_eq(stored, 64);
	for (int k = 0; k < 64; k++) {
		char key[32];

		snprintf(key, sizeof(key), "c/%02x/k%d", k, k);
		test_fill_random(data, sizeof(data), (uint64_t)k + 1);
		ck_assert_int_eq(img_store_get(s, key, back, sizeof(back), ctx),
		    (ssize_t)sizeof(back));
		ck_assert_mem_eq(back, data, sizeof(data));
	}
	ck_assert_int_eq(test_sh_num("ls %s/tmp | wc -l", test_tmpdir()), 0);
	img_store_close(s);
	img_ctx_free(ctx);
}
END_TEST

static void
teardown(void)
{
	test_tmpdir_cleanup();
}

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("dir");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, put_get_delete);
	tcase_add_test(tc, bad_keys);
	tcase_add_test(tc, list_by_prefix);
	tcase_add_test(tc, large_objects);
	tcase_add_test(tc, concurrent_puts);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(srunner_create(store_suite()), "check_store",
	    "/tmp");
}
