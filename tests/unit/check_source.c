/*
 * check_source.c - how the source reader cuts a disk into chunks: one
 * chunk-size window at a time, trimmed to the span of its used bytes, with
 * a long known-zero head or tail cut off as a chunk that is never read;
 * and read_zeros (a copy read back) cutting the same chunks but reading
 * every byte. Also the mapped device a scattered LVM volume is read
 * through.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "dev.h"
#include "source.h"
#include "testlib.h"

#define MIB (1u << 20)
#define KIB (1u << 10)
#define DISK (8 * MIB)
#define CHUNK (2 * MIB)

struct seen {
	uint64_t off[32];
	uint32_t len[32], used[32];
	int known_zero[32];
	int n;
	uint8_t *disk;		/* what the file holds */
	int data_ok;		/* every data chunk matched the file */
};

static void
no_work(void *item, void *arg)
{
	(void)item;
	(void)arg;
}

static int
record(struct img_chunk_buf *c, void *arg, struct img_ctx *ctx)
{
	struct seen *s = arg;
	uint32_t used = 0;

	(void)ctx;
	ck_assert_int_lt(s->n, 32);
	s->off[s->n] = c->offset;
	s->len[s->n] = c->length;
	s->known_zero[s->n] = c->known_zero;
	for (uint32_t i = 0; i < c->nextents; i++)
		used += c->extents[2 * i + 1];
	s->used[s->n] = c->nextents ? used : c->length;
	/* used bytes hold the file's bytes (unused ones are zero) */
	for (uint32_t i = 0; !c->known_zero && i < c->nextents; i++)
		if (memcmp(c->data + c->extents[2 * i],
		    s->disk + c->offset + c->extents[2 * i],
		    c->extents[2 * i + 1]) != 0)
			s->data_ok = 0;
	s->n++;
	return 0;
}

/*
 * Window 0: bitmaps [1 MiB, +128 KiB) then an inode table known to be
 *           zero up to the window's end (as an ext4 flex group at a 1 MiB
 *           partition offset looks).
 * Window 1: one used 4 KiB block at 2 MiB + 8 KiB.
 * Window 2: 512 KiB known zero, then 4 KiB of data, then 8 KiB zero.
 * Window 3: nothing used.
 */
static void
build(struct img_extents *used, struct img_extents *zeros, uint8_t *disk)
{
	img_extents_init(used);
	img_extents_init(zeros);
	ck_assert_int_eq(img_extents_add(used, 1 * MIB, 1 * MIB), 0);
	ck_assert_int_eq(img_extents_add(zeros, 1 * MIB + 128 * KIB,
	    1 * MIB - 128 * KIB), 0);
	ck_assert_int_eq(img_extents_add(used, 2 * MIB + 8 * KIB, 4 * KIB), 0);
	ck_assert_int_eq(img_extents_add(used, 4 * MIB, 524 * KIB), 0);
	ck_assert_int_eq(img_extents_add(zeros, 4 * MIB, 512 * KIB), 0);
	ck_assert_int_eq(img_extents_add(zeros, 4 * MIB + 516 * KIB,
	    8 * KIB), 0);
	img_extents_normalize(used);
	img_extents_normalize(zeros);
	test_fill_random(disk, DISK, 7);
	test_write_file(test_path("disk.raw"), disk, DISK, 0);
}

static void
run(int read_zeros, struct seen *s)
{
	struct img_ctx *ctx = img_ctx_new();
	struct img_extents used, zeros;
	struct img_dev *dev;

	memset(s, 0, sizeof(*s));
	s->disk = malloc(DISK);
	s->data_ok = 1;
	build(&used, &zeros, s->disk);
	ck_assert_img_ok(img_dev_open(test_path("disk.raw"), IMG_DEV_READ,
	    &dev, ctx), ctx);
	ck_assert_img_ok(img_source_run(dev, &(struct img_source_params){
	    .used = &used, .zeros = &zeros, .read_zeros = read_zeros,
	    .chunk_size = CHUNK, .threads = 2, .work = no_work,
	    .sink = record, .arg = s, .phase = "test" }, ctx), ctx);
	img_dev_close(dev);
	img_extents_free(&used);
	img_extents_free(&zeros);
	free(s->disk);
	img_ctx_free(ctx);
}

static const uint64_t want_off[] = {
	1 * MIB, 1 * MIB + 128 * KIB, 2 * MIB + 8 * KIB,
	4 * MIB, 4 * MIB + 512 * KIB,
};
static const uint32_t want_len[] = {
	128 * KIB, 1 * MIB - 128 * KIB, 4 * KIB,
	512 * KIB, 12 * KIB,
};
static const int want_zero[] = { 0, 1, 0, 1, 0 };

/* The five expected chunks; known-zero ones only when not read_zeros. */
static void
assert_cuts(const struct seen *s, int read_zeros)
{
	ck_assert_int_eq(s->n, 5);
	for (int i = 0; i < 5; i++) {
		ck_assert_uint_eq(s->off[i], want_off[i]);
		ck_assert_uint_eq(s->len[i], want_len[i]);
		ck_assert_int_eq(s->known_zero[i], read_zeros ? 0 : want_zero[i]);
	}
	ck_assert(s->data_ok);
}

START_TEST(windows_are_trimmed_and_cut)
{
	struct seen s;

	run(0, &s);
	assert_cuts(&s, 0);
	/* the last chunk's known-zero tail is too short to cut: it stays
	 * used inside the data chunk */
	ck_assert_uint_eq(s.used[4], 12 * KIB);
}
END_TEST

START_TEST(read_back_cuts_the_same_chunks)
{
	struct seen s;

	run(1, &s);
	assert_cuts(&s, 1);	/* the same cuts, every byte read */
}
END_TEST

/* A mapped device reads its pieces one after the other, refuses writes,
 * reads past its end and pieces outside the parent. */
START_TEST(mapped_device_reads_pieces_in_order)
{
	static const struct img_dev_piece pieces[] = {
		{ 8192, 4096 }, { 0, 4096 }, { 20480, 1000 } };
	struct img_ctx *ctx = img_ctx_new();
	uint8_t disk[32768], want[9192], got[9192];
	struct img_dev *dev, *md;

	test_fill_random(disk, sizeof(disk), 3);
	test_write_file(test_path("p.raw"), disk, sizeof(disk), 0);
	memcpy(want, disk + 8192, 4096);
	memcpy(want + 4096, disk, 4096);
	memcpy(want + 8192, disk + 20480, 1000);
	ck_assert_img_ok(img_dev_open(test_path("p.raw"), IMG_DEV_READ, &dev,
	    ctx), ctx);
	ck_assert_img_ok(img_dev_open_mapped(dev, pieces, 3, "vg/lv", &md,
	    ctx), ctx);
	ck_assert_uint_eq(md->size, 9192);
	ck_assert_img_ok(img_dev_pread(md, got, 9192, 0, ctx), ctx);
	ck_assert_mem_eq(got, want, 9192);
	/* across both boundaries, from inside the first piece */
	ck_assert_img_ok(img_dev_pread(md, got, 5000, 4000, ctx), ctx);
	ck_assert_mem_eq(got, want + 4000, 5000);
	ck_assert_int_eq(img_dev_pread(md, got, 2, 9191, ctx), -ENODATA);
	ck_assert_ptr_nonnull(strstr(img_ctx_message(ctx), "(vg/lv)"));
	ck_assert_int_eq(img_dev_pwrite(md, got, 512, 0, ctx), -EROFS);
	img_dev_close(md);
	ck_assert_int_eq(img_dev_open_mapped(dev,
	    &(struct img_dev_piece){ 32000, 4096 }, 1, "x", &md, ctx),
	    -EINVAL);
	img_dev_close(dev);
	img_ctx_free(ctx);
}
END_TEST

static Suite *
source_suite(void)
{
	Suite *s = suite_create("source");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, windows_are_trimmed_and_cut);
	tcase_add_test(tc, read_back_cuts_the_same_chunks);
	tcase_add_test(tc, mapped_device_reads_pieces_in_order);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(srunner_create(source_suite()), "check_source",
	    "/tmp");
}
