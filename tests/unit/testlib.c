/*
 * testlib.c - temporary files, shell helpers and deterministic data for the
 * unit tests.
 */
#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctx.h"
#include "dev.h"
#include "image_write.h"
#include "testlib.h"

static char tmpdir[256];

const char *
test_tmpdir(void)
{
	if (!tmpdir[0]) {
		const char *base = getenv("TMPDIR");

		snprintf(tmpdir, sizeof(tmpdir), "%s/imgtool-unit.XXXXXX",
		    base ? base : "/tmp");
		ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	}
	return tmpdir;
}

void
test_tmpdir_cleanup(void)
{
	char cmd[300];

	if (!tmpdir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	tmpdir[0] = '\0';
}

const char *
test_path(const char *name)
{
	static char bufs[8][512];
	static int next;
	char *p = bufs[next++ % 8];

	snprintf(p, 512, "%s/%s", test_tmpdir(), name);
	return p;
}

void
test_sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	ck_assert_msg(rc == 0, "command failed (%d): %s", rc, cmd);
}

long long
test_sh_num(const char *fmt, ...)
{
	char cmd[4096], line[256] = "";
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_msg(fgets(line, sizeof(line), p) != NULL,
	    "no output from: %s", cmd);
	ck_assert_int_eq(pclose(p), 0);
	return strtoll(line, NULL, 0);
}

void
test_fill_random(void *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	unsigned char *p = buf;

	for (size_t i = 0; i < len; i++) {
		if (i % 8 == 0) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
		}
		p[i] = (unsigned char)(x >> (8 * (i % 8)));
	}
}

void
test_write_file(const char *path, const void *buf, size_t len, uint64_t off)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

int
test_have(const char *cmd)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "command -v %s >/dev/null 2>&1", cmd);
	return system(buf) == 0;
}

static void
fill_text(uint8_t *p, size_t len, unsigned seed)
{
	static const char words[] = "the quick brown fox jumps over the lazy dog ";

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)words[(i + seed) % (sizeof(words) - 1)];
}

/* Adds one chunk at index k with the given extents (pairs, n of them). */
static void
sample_chunk(struct img_writer *w, struct img_chunk_buf *c, unsigned k,
    uint32_t length, const uint32_t *ext, unsigned n, uint8_t *expect,
    struct img_ctx *ctx)
{
	c->offset = (uint64_t)k * TEST_SAMPLE_CHUNK;
	c->length = length;
	c->nextents = n;
	for (unsigned i = 0; i < n; i++) {
		uint32_t a = ext[2 * i], b = a + ext[2 * i + 1];

		/* unused parts of a stored chunk are zero */
		c->extents[2 * i] = ext[2 * i];
		c->extents[2 * i + 1] = ext[2 * i + 1];
		memset(c->data + (i ? ext[2 * i - 2] + ext[2 * i - 1] : 0), 0,
		    a - (i ? ext[2 * i - 2] + ext[2 * i - 1] : 0));
		if (i == n - 1)
			memset(c->data + b, 0, length - b);
	}
	img_chunk_encode(c);
	if (expect)
		memcpy(expect + c->offset, c->data, length);
	ck_assert_img_ok(img_writer_add(w, c, ctx), ctx);
}

void
test_write_sample_image(const char *path, uint8_t *expect)
{
	static const uint32_t two[] = { 512, 512, 2048, 2048 };
	struct img_writer_params p = {
		.source_size = TEST_SAMPLE_SIZE, .sector_size = 512,
		.chunk_size = TEST_SAMPLE_CHUNK,
	};
	struct img_ctx *ctx = img_ctx_new();
	struct img_meta_buf meta = { 0 };
	struct img_chunk_buf c;
	struct img_writer *w;
	struct img_dev *out;
	char id[65];

	if (expect)
		memset(expect, 0, TEST_SAMPLE_SIZE);
	unlink(path);
	ck_assert_int_eq(img_meta_add(&meta, 1, 0, "sample", 6), 0);
	p.meta = meta.data;
	p.meta_len = meta.len;
	ck_assert_img_ok(img_dev_open(path, IMG_DEV_WRITE | IMG_DEV_CREATE,
	    &out, ctx), ctx);
	ck_assert_img_ok(img_writer_open(out, &p, &w, ctx), ctx);
	ck_assert_int_eq(img_chunk_buf_init(&c, TEST_SAMPLE_CHUNK), 0);
	test_fill_random(c.data, TEST_SAMPLE_CHUNK, 1);
	sample_chunk(w, &c, 0, TEST_SAMPLE_CHUNK, NULL, 0, expect, ctx);
	fill_text(c.data, TEST_SAMPLE_CHUNK, 1);
	sample_chunk(w, &c, 1, TEST_SAMPLE_CHUNK, two, 2, expect, ctx);
	memset(c.data, 0, TEST_SAMPLE_CHUNK);
	sample_chunk(w, &c, 3, TEST_SAMPLE_CHUNK, NULL, 0, expect, ctx);
	fill_text(c.data, TEST_SAMPLE_CHUNK, 7);
	sample_chunk(w, &c, 4, TEST_SAMPLE_CHUNK, NULL, 0, expect, ctx);
	fill_text(c.data, 1000, 3);
	sample_chunk(w, &c, 5, 1000, NULL, 0, expect, ctx);
	ck_assert_img_ok(img_writer_finish(w, id, ctx), ctx);
	img_writer_free(w);
	img_chunk_buf_free(&c);
	img_meta_free(&meta);
	img_dev_close(out);
	img_ctx_free(ctx);
}

static void
count_warning(enum img_log_level level, const char *msg, void *arg)
{
	struct test_fs_scan *s = arg;

	(void)msg;
	s->warnings += level == IMG_LOG_WARN;
}

void
test_fs_scan_open(struct test_fs_scan *s, const struct fs_ops *ops,
    const char *type, const char *path, uint64_t off, uint64_t len)
{
	memset(s, 0, sizeof(*s));
	s->ops = ops;
	s->ctx = img_ctx_new();
	ck_assert_ptr_nonnull(s->ctx);
	img_ctx_set_log(s->ctx, count_warning, s);
	img_extents_init(&s->used);
	ck_assert_img_ok(img_dev_open(path, IMG_DEV_READ, &s->dev, s->ctx),
	    s->ctx);
	s->fs.type = type;
	s->fs.off = off;
	s->fs.len = len ? len : s->dev->size - off;
	s->probe_rc = ops->probe(s->dev, &s->fs, s->ctx);
	if (s->probe_rc != 0)
		return;
	s->used_rc = ops->used_extents(s->dev, &s->fs, &s->used, s->ctx);
	ops->describe(&s->fs, s->desc, sizeof(s->desc));
}

void
test_fs_scan_close(struct test_fs_scan *s)
{
	if (s->probe_rc == 0 && s->ops->release)
		s->ops->release(&s->fs);
	img_extents_free(&s->used);
	img_dev_close(s->dev);
	img_ctx_free(s->ctx);
}

void
test_fs_scan_assert_sane(const struct test_fs_scan *s)
{
	uint64_t end = s->fs.off;

	for (size_t i = 0; i < s->used.n; i++) {
		ck_assert_uint_ge(s->used.v[i].off, end);
		ck_assert_uint_gt(s->used.v[i].len, 0);
		end = s->used.v[i].off + s->used.v[i].len;
	}
	ck_assert_uint_le(end, s->fs.off + s->fs.len);
}

int
test_run_suite(SRunner *sr, const char *name, const char *default_base)
{
	const char *base = getenv("TMPDIR");
	char top[256], rm[300];
	int failed;

	snprintf(top, sizeof(top), "%s/%s.XXXXXX", base ? base : default_base,
	    name);
	if (!mkdtemp(top)) {
		srunner_free(sr);
		return 99;	/* automake ERROR */
	}
	setenv("TMPDIR", top, 1);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	test_tmpdir_cleanup();
	snprintf(rm, sizeof(rm), "rm -rf '%s'", top);
	if (system(rm) != 0)
		fprintf(stderr, "could not remove %s\n", top);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

void
test_fs_scan_assert_no_marker(const struct test_fs_scan *s, const char *img,
    const char *marker)
{
	const char *offs = test_path("marker.off");
	unsigned long long off;
	FILE *f;
	int n = 0;

	test_sh("grep -obUa '%s' '%s' | cut -d: -f1 > '%s'", marker, img, offs);
	ck_assert_ptr_nonnull(f = fopen(offs, "r"));
	while (fscanf(f, "%llu", &off) == 1 && ++n)
		ck_assert_uint_eq(img_extents_covered(&s->used, s->fs.off + off,
		    strlen(marker)), 0);
	fclose(f);
	ck_assert_int_gt(n, 100);
}
