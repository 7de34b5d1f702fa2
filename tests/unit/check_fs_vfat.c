/*
 * check_fs_vfat.c - the FAT module against filesystems made by mkfs.fat and
 * filled with mtools, compared with what fsck.fat reports; and against
 * hostile boot sectors, which must be refused with a message, never crash.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "ctx.h"
#include "dev.h"
#include "extents.h"
#include "formats.h"

#define MARKER "imgtool-vfat-deleted-marker-7f3a"


#define ck_assert_probe_ok(s) ck_assert_msg((s)->probe_rc == 0,		\
    "probe rc=%d: %s", (s)->probe_rc, img_ctx_message((s)->ctx))


/* probe + used_extents of the FAT at [off, off + len) of path. */
static void
scan_open(struct test_fs_scan *s, const char *path, uint64_t off, uint64_t len)
{
	test_fs_scan_open(s, &fs_vfat_ops, "vfat", path, off, len);
}

static void
scan_close(struct test_fs_scan *s)
{
	test_fs_scan_close(s);
}

/* Extents are sorted, disjoint, inside the filesystem. */
static long long
fsck_field(const char *path, const char *sed_expr)
{
	return test_sh_num("fsck.fat -n -v '%s' 2>/dev/null | sed -n '%s'",
	    path, sed_expr);
}

#define FSCK_USED	"s/.* \\([0-9]*\\)\\/[0-9]* clusters$/\\1/p"
#define FSCK_TOTAL	"s/.* [0-9]*\\/\\([0-9]*\\) clusters$/\\1/p"
#define FSCK_CLUSTER	"s/^ *\\([0-9]*\\) bytes per cluster$/\\1/p"
#define FSCK_DATA	"s/^Data area starts at byte \\([0-9]*\\).*/\\1/p"

/* mkfs.fat with the given FAT size, then nested directories, files of
 * known sizes, and a deleted file full of MARKER. */
static const char *
make_fat(const char *name, int bits, unsigned kib, const char *opts)
{
	const char *img = test_path(name);
	const char *src = test_path("src");

	test_sh("rm -f '%s' && mkfs.fat -F %d %s -C '%s' %u >/dev/null",
	    img, bits, opts, img, kib);
	test_sh("rm -rf '%s' && mkdir -p '%s/d1/d2' && cd '%s' && "
	    "head -c 100000 /dev/urandom > a && head -c 1 /dev/urandom > b && "
	    "head -c 300000 /dev/urandom > d1/c && : > d1/empty && "
	    "for i in 1 2 3 4 5 6 7 8; do head -c $((i * 3000)) /dev/urandom"
	    " > d1/d2/f$i; done && "
	    "for i in $(seq 400); do echo " MARKER "; done > gone && "
	    "head -c 50000 /dev/urandom > gone2",
	    src, src, src);
	test_sh("cd '%s' && mcopy -s -i '%s' a b d1 gone gone2 :: && "
	    "mdel -i '%s' ::gone ::gone2 ::d1/d2/f3", src, img, img);
	return img;
}

/* Every cluster fsck.fat counts as used is stored, nothing else, and the
 * deleted marker file is not. */
static void
check_against_fsck(const char *img, int bits)
{
	long long used = fsck_field(img, FSCK_USED);
	long long total = fsck_field(img, FSCK_TOTAL);
	long long clus = fsck_field(img, FSCK_CLUSTER);
	long long data = fsck_field(img, FSCK_DATA);
	unsigned long long d_used, d_total;
	char fat[16];
	struct test_fs_scan s;

	scan_open(&s, img, 0, 0);
	ck_assert_probe_ok(&s);
	ck_assert_img_ok(s.used_rc, s.ctx);
	ck_assert_uint_eq(s.fs.block_size, clus);
	ck_assert_uint_eq(s.fs.block_count, total);
	ck_assert_int_eq(s.fs.flags & FS_INFO_DIRTY, 0);
	test_fs_scan_assert_sane(&s);
	ck_assert_uint_eq(s.used.v[0].off, 0);
	ck_assert_uint_ge(s.used.v[0].len, data);
	ck_assert_uint_eq(img_extents_total(&s.used), data + used * clus);
	ck_assert_int_eq(sscanf(s.desc, "vfat (%15[^)]), %*u-byte clusters, "
	    "%llu of %llu clusters used", fat, &d_used, &d_total), 3);
	ck_assert_int_eq(atoi(fat + 3), bits);
	ck_assert_uint_eq(d_used, used);
	ck_assert_uint_eq(d_total, total);
	ck_assert_int_eq(s.warnings, 0);
	/* The deleted file's clusters are free: no stored byte holds it. */
	test_fs_scan_assert_no_marker(&s, img, MARKER);
	scan_close(&s);
}

START_TEST(test_fat12)
{
	check_against_fsck(make_fat("f12.img", 12, 4096, ""), 12);
}
END_TEST

START_TEST(test_fat16)
{
	check_against_fsck(make_fat("f16.img", 16, 20480, ""), 16);
}
END_TEST

START_TEST(test_fat32)
{
	check_against_fsck(make_fat("f32.img", 32, 40000, "-S 512 -s 1"), 32);
}
END_TEST

/* 4 KiB logical sectors, as on 4Kn disks. */
START_TEST(test_fat16_4k_sectors)
{
	check_against_fsck(make_fat("f16k.img", 16, 40960, "-S 4096 -s 1"),
	    16);
}
END_TEST

/* The same filesystem 1 MiB into a larger file gives the same extents,
 * shifted. */
START_TEST(test_offset)
{
	const char *img = make_fat("plain.img", 16, 20480, "");
	const char *big = test_path("big.img");
	struct test_fs_scan a, b;

	test_sh("truncate -s 24M '%s' && dd if='%s' of='%s' bs=1M seek=1 "
	    "conv=notrunc status=none", big, img, big);
	scan_open(&a, img, 0, 0);
	scan_open(&b, big, 1 << 20, 21 << 20);
	ck_assert_probe_ok(&a);
	ck_assert_probe_ok(&b);
	ck_assert_img_ok(a.used_rc, a.ctx);
	ck_assert_img_ok(b.used_rc, b.ctx);
	test_fs_scan_assert_sane(&b);
	ck_assert_uint_eq(a.used.n, b.used.n);
	for (size_t i = 0; i < a.used.n; i++) {
		ck_assert_uint_eq(a.used.v[i].off + (1 << 20), b.used.v[i].off);
		ck_assert_uint_eq(a.used.v[i].len, b.used.v[i].len);
	}
	ck_assert_str_eq(a.desc, b.desc);
	scan_close(&a);
	scan_close(&b);
}
END_TEST

/* Clusters marked bad (mkfs.fat -l) are never read; fsck.fat counts them
 * as used, the module does not store them. */
START_TEST(test_bad_clusters)
{
	const char *img = test_path("bad.img");
	const char *list = test_path("bad.txt");
	static const unsigned long long bad_kib[] = { 5000, 5001, 9000 };
	struct test_fs_scan s;

	test_sh("printf '5000\\n5001\\n9000\\n' > '%s' && rm -f '%s' && "
	    "mkfs.fat -F 16 -l '%s' -C '%s' 20480 >/dev/null", list, img,
	    list, img);
	ck_assert_int_eq(fsck_field(img, FSCK_USED), 2);
	scan_open(&s, img, 0, 0);
	ck_assert_probe_ok(&s);
	ck_assert_img_ok(s.used_rc, s.ctx);
	ck_assert_uint_eq(img_extents_total(&s.used), fsck_field(img,
	    FSCK_DATA));
	for (size_t i = 0; i < 3; i++)
		ck_assert_uint_eq(img_extents_covered(&s.used,
		    bad_kib[i] * 1024, 1024), 0);
	ck_assert_ptr_nonnull(strstr(s.desc, " 0 of "));
	scan_close(&s);
}
END_TEST

/* FAT32 layout on fewer than 65525 clusters is FAT16 by the spec's rule:
 * refused, so the scanner copies it in full. */
START_TEST(test_small_fat32_refused)
{
	const char *img = test_path("small32.img");
	struct test_fs_scan s;

	test_sh("rm -f '%s' && mkfs.fat -F 32 -C '%s' 20480 >/dev/null 2>&1",
	    img, img);
	scan_open(&s, img, 0, 0);
	ck_assert_int_eq(s.probe_rc, 1);
	ck_assert_ptr_nonnull(strstr(img_ctx_message(s.ctx), "clusters"));
	scan_close(&s);
}
END_TEST

static void
patch(const char *path, uint64_t off, const void *bytes, size_t len)
{
	test_write_file(path, bytes, len, off);
}

static int
probe_dirty(const char *img)
{
	struct test_fs_scan s;
	int dirty;

	scan_open(&s, img, 0, 0);
	ck_assert_probe_ok(&s);
	dirty = !!(s.fs.flags & FS_INFO_DIRTY);
	scan_close(&s);
	return dirty;
}

/* FAT16 FAT[1] bit 15 / FAT32 bit 27 clear, or the boot sector state
 * byte's bit 0 set, mean "not cleanly unmounted". */
START_TEST(test_dirty)
{
	const char *f16 = test_path("d16.img"), *f32 = test_path("d32.img");
	const uint8_t f16_unclean[2] = { 0xFF, 0x7F };
	const uint8_t f32_unclean[4] = { 0xFF, 0xFF, 0xFF, 0x07 };
	const uint8_t state = 0x01;

	test_sh("rm -f '%s' '%s' && mkfs.fat -F 16 -C '%s' 20480 >/dev/null && "
	    "mkfs.fat -F 32 -S 512 -s 1 -C '%s' 40000 >/dev/null", f16, f32,
	    f16, f32);
	ck_assert_int_eq(probe_dirty(f16), 0);
	ck_assert_int_eq(probe_dirty(f32), 0);
	/* FAT[1] of the first FAT: reserved sectors (16 or 32) * 512 + n */
	patch(f16, (uint64_t)test_sh_num("minfo -i '%s' :: | sed -n "
	    "'s/^reserved (boot) sectors: //p'", f16) * 512 + 2,
	    f16_unclean, 2);
	patch(f32, 32 * 512 + 4, f32_unclean, 4);
	ck_assert_int_eq(probe_dirty(f16), 1);
	ck_assert_int_eq(probe_dirty(f32), 1);
	test_sh("mkfs.fat -F 12 -C '%s.12' 4096 >/dev/null", f16);
	ck_assert_int_eq(probe_dirty(test_path("d16.img.12")), 0);
	patch(test_path("d16.img.12"), 37, &state, 1);
	ck_assert_int_eq(probe_dirty(test_path("d16.img.12")), 1);
}
END_TEST

/* A cluster allocated only in FAT #2 is stored too (with a warning); a
 * wrong FSInfo free count is a warning, not a failure. */
START_TEST(test_fat_copies_disagree)
{
	const char *img = make_fat("dis.img", 32, 40000, "-S 512 -s 1");
	long long used = fsck_field(img, FSCK_USED);
	long long data = fsck_field(img, FSCK_DATA);
	long long fat_bytes = test_sh_num("fsck.fat -n -v '%s' | sed -n "
	    "'s/^ *\\([0-9]*\\) bytes per FAT.*/\\1/p'", img);
	const uint8_t eoc[4] = { 0xFF, 0xFF, 0xFF, 0x0F };
	const uint8_t wrong_free[4] = { 1, 0, 0, 0 };
	uint32_t cl = 70000;	/* far past the few used clusters */
	struct test_fs_scan s;

	patch(img, 32 * 512 + fat_bytes + 4 * cl, eoc, 4);
	patch(img, 1 * 512 + 488, wrong_free, 4);	/* FSI_Free_Count */
	scan_open(&s, img, 0, 0);
	ck_assert_probe_ok(&s);
	ck_assert_img_ok(s.used_rc, s.ctx);
	ck_assert_int_eq(s.warnings, 2);
	ck_assert_uint_eq(img_extents_total(&s.used), data + (used + 1) * 512);
	ck_assert_uint_eq(img_extents_covered(&s.used, data +
	    (uint64_t)(cl - 2) * 512, 512), 512);
	scan_close(&s);
}
END_TEST

/* FAT #1 unreadable (the file ends inside it): <0 with a message, so the
 * scanner falls back to a full copy. */
START_TEST(test_fat_unreadable)
{
	const char *img = test_path("trunc.img");
	struct test_fs_scan s;

	test_sh("rm -f '%s' && mkfs.fat -F 12 -C '%s' 4096 >/dev/null && "
	    "truncate -s 1024 '%s'", img, img, img);
	scan_open(&s, img, 0, 4096 * 1024);
	ck_assert_int_eq(s.probe_rc, 0);
	ck_assert_int_lt(s.used_rc, 0);
	ck_assert_ptr_nonnull(strstr(img_ctx_message(s.ctx), "FAT #1"));
	scan_close(&s);
	test_sh("mkfs.fat -F 16 -C '%s.16' 20480 >/dev/null && "
	    "truncate -s 512 '%s.16'", img, img);
	scan_open(&s, test_path("trunc.img.16"), 0, 20480 * 1024);
	ck_assert_int_lt(s.probe_rc, 0);
	ck_assert_str_ne(img_ctx_message(s.ctx), "");
	scan_close(&s);
}
END_TEST

struct corruption {
	const char *what;
	int fat32;		/* applies to the FAT32 image */
	unsigned off;
	unsigned len;
	uint32_t value;		/* little-endian, len bytes */
};

static const struct corruption corruptions[] = {
	{ "bytes per sector 0", 0, 11, 2, 0 },
	{ "bytes per sector 256", 0, 11, 2, 256 },
	{ "bytes per sector 513", 0, 11, 2, 513 },
	{ "bytes per sector 8192", 0, 11, 2, 8192 },
	{ "sectors per cluster 0", 0, 13, 1, 0 },
	{ "sectors per cluster 3", 0, 13, 1, 3 },
	{ "no reserved sectors", 0, 14, 2, 0 },
	{ "reserved sectors eat the disk", 0, 14, 2, 0xFFFF },
	{ "no FATs", 0, 16, 1, 0 },
	{ "five FATs", 0, 16, 1, 5 },
	{ "255 FATs", 0, 16, 1, 255 },
	{ "no root entries", 0, 17, 2, 0 },
	{ "bad media", 0, 21, 1, 0x12 },
	{ "FAT size 0", 0, 22, 2, 0 },
	{ "FAT size 1", 0, 22, 2, 1 },
	{ "FAT size huge", 0, 22, 2, 0xFFFF },
	{ "total sectors 0", 0, 19, 2, 0 },	/* TotSec32 is 0 too */
	{ "total sectors beyond the file", 0, 19, 2, 0xFFFF },
	{ "total sectors tiny", 0, 19, 2, 20 },
	{ "FAT32 FATSz16 set", 1, 22, 2, 100 },
	{ "FAT32 root entries set", 1, 17, 2, 512 },
	{ "FAT32 version 1", 1, 42, 2, 1 },
	{ "FAT32 root cluster 0", 1, 44, 4, 0 },
	{ "FAT32 root cluster huge", 1, 44, 4, 0x0FFFFFF0 },
	{ "FAT32 active FAT 15", 1, 40, 2, 0x8F },
	{ "FAT32 FAT size 0", 1, 36, 4, 0 },
	{ "FAT32 FAT size 1", 1, 36, 4, 1 },
	{ "FAT32 FAT size huge", 1, 36, 4, 0x7FFFFFFF },
	{ "FAT32 total sectors beyond the file", 1, 32, 4, 0x10000000 },
};

START_TEST(test_hostile_fields)
{
	const char *img16 = test_path("h16.img"), *img32 = test_path("h32.img");
	const char *work = test_path("work.img");

	test_sh("rm -f '%s' '%s' && mkfs.fat -F 16 -C '%s' 20480 >/dev/null && "
	    "mkfs.fat -F 32 -S 512 -s 1 -C '%s' 40000 >/dev/null", img16,
	    img32, img16, img32);
	for (size_t i = 0; i < sizeof(corruptions) / sizeof(corruptions[0]);
	    i++) {
		const struct corruption *c = &corruptions[i];
		uint8_t le[4] = { c->value, c->value >> 8, c->value >> 16,
		    c->value >> 24 };
		struct test_fs_scan s;

		test_sh("cp '%s' '%s'", c->fat32 ? img32 : img16, work);
		patch(work, c->off, le, c->len);
		scan_open(&s, work, 0, 0);
		ck_assert_msg(s.probe_rc != 0, "%s: accepted", c->what);
		ck_assert_msg(img_ctx_message(s.ctx)[0] != '\0',
		    "%s: no message", c->what);
		scan_close(&s);
	}
}
END_TEST

/* Garbage, zeros, short files, and random bit flips in the BPB: whatever
 * probe says, nothing crashes and accepted layouts stay in bounds. */
START_TEST(test_hostile_garbage)
{
	const char *img = test_path("g16.img"), *work = test_path("gw.img");
	static uint8_t buf[65536];
	uint8_t boot[512];
	struct test_fs_scan s;
	FILE *f;

	test_fill_random(buf, sizeof(buf), 42);
	test_write_file(work, buf, sizeof(buf), 0);
	scan_open(&s, work, 0, 0);
	ck_assert_int_ne(s.probe_rc, 0);
	ck_assert_str_ne(img_ctx_message(s.ctx), "");
	scan_close(&s);
	test_sh("head -c 100 /dev/zero > '%s'", work);
	scan_open(&s, work, 0, 0);
	ck_assert_int_eq(s.probe_rc, 1);
	ck_assert_str_ne(img_ctx_message(s.ctx), "");
	scan_close(&s);
	scan_open(&s, work, 0, 512);	/* the scanner believes 512 bytes */
	ck_assert_int_lt(s.probe_rc, 0);
	scan_close(&s);
	test_sh("rm -f '%s' && mkfs.fat -F 16 -C '%s' 20480 >/dev/null && "
	    "cp '%s' '%s'", img, img, img, work);
	ck_assert_ptr_nonnull(f = fopen(img, "rb"));
	ck_assert_uint_eq(fread(boot, 1, sizeof(boot), f), sizeof(boot));
	fclose(f);
	for (uint64_t seed = 1; seed <= 500; seed++) {
		uint8_t flip[4];

		test_fill_random(flip, sizeof(flip), seed);
		/* one or two random bytes of the BPB (offsets 11..63) */
		patch(work, 0, boot, sizeof(boot));
		patch(work, 11 + flip[0] % 53, &flip[1], 1);
		if (flip[2] & 1)
			patch(work, 11 + flip[2] % 53, &flip[3], 1);
		scan_open(&s, work, 0, 0);
		ck_assert_msg(s.probe_rc == 0 || img_ctx_message(s.ctx)[0],
		    "seed %llu: no message", (unsigned long long)seed);
		if (s.probe_rc == 0 && s.used_rc == 0)
			test_fs_scan_assert_sane(&s);
		scan_close(&s);
	}
}
END_TEST

static Suite *
vfat_suite(void)
{
	Suite *s = suite_create("fs_vfat");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *hostile = tcase_create("hostile");

	tcase_add_test(core, test_fat12);
	tcase_add_test(core, test_fat16);
	tcase_add_test(core, test_fat32);
	tcase_add_test(core, test_fat16_4k_sectors);
	tcase_add_test(core, test_offset);
	tcase_set_timeout(core, 60);
	tcase_add_test(limits, test_bad_clusters);
	tcase_add_test(limits, test_small_fat32_refused);
	tcase_add_test(limits, test_dirty);
	tcase_add_test(limits, test_fat_copies_disagree);
	tcase_add_test(limits, test_fat_unreadable);
	tcase_set_timeout(limits, 60);
	tcase_add_test(hostile, test_hostile_fields);
	tcase_add_test(hostile, test_hostile_garbage);
	tcase_set_timeout(hostile, 60);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	suite_add_tcase(s, hostile);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(vfat_suite());

	if (!test_have("mkfs.fat") || !test_have("mcopy"))
		return 77;	/* automake SKIP: no dosfstools or mtools */
	/* Every forked test makes its temporary directory in here, so one
	 * removal at the end cleans up after failed tests too. */
	return test_run_suite(sr, "check_fs_vfat", "/tmp");
}
