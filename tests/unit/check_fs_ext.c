/*
 * check_fs_ext.c - the ext2/3/4 module against filesystems built by
 * mke2fs: the bytes it marks used must be exactly what dumpe2fs counts.
 *
 * "Used" per dumpe2fs is (Block count - Free blocks) * Block size. That
 * already includes block 0 of a 1 KiB-block filesystem (it lies below
 * First block, outside the bitmap, and is never counted free), which the
 * module stores as the boot block, so the comparison is exact for every
 * variant; with bigalloc the free count is whole clusters.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "dev.h"
#include "extents.h"
#include "formats.h"

#define MIB (1024ull * 1024)

struct variant {
	const char *name;
	const char *mkfs;	/* mke2fs command without -F -q -d */
	unsigned size_mib;
};

/* Below 512 MiB mke2fs picks 1 KiB blocks ("small"), so 4 KiB variants
 * say so; -g 4096 gives them several groups (and BLOCK_UNINIT ones). */
static const struct variant variants[] = {
	{ "ext2", "mke2fs -t ext2 -b 4096 -g 4096", 64 },
	{ "ext3", "mke2fs -t ext3", 64 },
	{ "ext4", "mkfs.ext4 -b 4096 -g 4096", 64 },
	{ "bigalloc", "mkfs.ext4 -b 4096 -O bigalloc -C 16384", 64 },
	{ "1k", "mkfs.ext4 -b 1024", 64 },
	{ "nojournal", "mkfs.ext4 -b 4096 -g 4096 -O ^has_journal", 64 },
	{ "64bit-metabg", "mkfs.ext4 -b 1024 -O 64bit,meta_bg,^resize_inode",
	    64 },
	/* uninit_bg without flex_bg or metadata_csum: BLOCK_UNINIT groups
	 * whose bitmaps libext2fs has to synthesise in place */
	{ "uninit-noflex", "mkfs.ext4 -b 1024 -O ^flex_bg,^metadata_csum,"
	    "uninit_bg", 64 },
	{ "ext2-1k-nosparse", "mke2fs -t ext2 -b 1024 "
	    "-O ^sparse_super,^resize_inode", 32 },
};

/* indexes the hostile tests rely on for a known layout */
enum { V_EXT2_4K = 0, V_EXT4_4K = 2 };

#define N_VARIANTS ((int)(sizeof(variants) / sizeof(variants[0])))

/* Small files with known content, a 6 MiB random file, a sparse file, a
 * hard link and a symlink: enough to make used runs and holes. */
static void
make_tree(void)
{
	static unsigned char big[6 * MIB];
	const char *dir = test_path("tree");

	test_sh("rm -rf '%s' && mkdir -p '%s/small' && cd '%s' && "
	    "for i in $(seq 1 60); do printf 'file %%s\\n' $i > small/f$i; "
	    "done && "
	    "truncate -s 20M sparse && printf data | dd of=sparse bs=1 "
	    "seek=10485760 conv=notrunc status=none && "
	    "ln small/f1 hardlink && ln -s small/f2 symlink", dir, dir, dir);
	test_fill_random(big, sizeof(big), 42);
	test_write_file(test_path("tree/big.bin"), big, sizeof(big), 0);
}

static uint64_t
dumpe2fs_field(const char *img, const char *field)
{
	return (uint64_t)test_sh_num("dumpe2fs -h '%s' 2>/dev/null | "
	    "sed -n 's/^%s: *//p'", img, field);
}

static uint64_t
expected_used(const char *img)
{
	return (dumpe2fs_field(img, "Block count") -
	    dumpe2fs_field(img, "Free blocks")) *
	    dumpe2fs_field(img, "Block size");
}

/* A filesystem image of one variant, populated from the tree. */
static const char *
make_fs(const struct variant *v)
{
	const char *img = test_path(v->name);

	test_sh("rm -f '%s' && truncate -s %uM '%s' && %s -F -q -d '%s' "
	    "'%s' >/dev/null", img, v->size_mib, img, v->mkfs,
	    test_path("tree"), img);
	return img;
}

/* The module run over [off, off + len) of img (testlib); returns
 * used_extents' result (or the probe's if not 0). */
static int
scan_fs(struct test_fs_scan *s, const char *img, uint64_t off, uint64_t len)
{
	test_fs_scan_open(s, &fs_ext_ops, "ext4", img, off, len);
	return s->probe_rc ? s->probe_rc : s->used_rc;
}

/* release leaves no module state behind */
static void
scan_done(struct test_fs_scan *s)
{
	test_fs_scan_close(s);
	ck_assert_ptr_null(s->fs.priv);
}

/* Sorted, non-overlapping, inside the filesystem, and starting with the
 * boot block and primary superblock. */
static void
assert_extents_sane(const struct test_fs_scan *s, uint64_t fs_bytes)
{
	const struct img_extents *e = &s->used;

	ck_assert_uint_gt(e->n, 0);
	ck_assert_uint_eq(e->v[0].off, s->fs.off);
	ck_assert_uint_ge(e->v[0].len, 2048);
	for (size_t i = 0; i < e->n; i++) {
		ck_assert_uint_gt(e->v[i].len, 0);
		ck_assert_uint_ge(e->v[i].off, s->fs.off);
		ck_assert_uint_le(e->v[i].off + e->v[i].len,
		    s->fs.off + fs_bytes);
		if (i > 0)
			ck_assert_uint_gt(e->v[i].off,
			    e->v[i - 1].off + e->v[i - 1].len);
	}
}

START_TEST(test_variant_used_matches_dumpe2fs)
{
	const struct variant *v = &variants[_i];
	const char *img = make_fs(v);
	uint64_t want = expected_used(img);
	uint64_t bs = dumpe2fs_field(img, "Block size");
	uint64_t blocks = dumpe2fs_field(img, "Block count");
	struct test_fs_scan s;
	char desc[256];

	ck_assert_img_ok(scan_fs(&s, img, 0, 0), s.ctx);
	ck_assert_int_eq(s.probe_rc, 0);
	ck_assert_uint_eq((uint64_t)s.fs.block_size * s.fs.block_count,
	    blocks * bs);
	ck_assert_int_eq(s.fs.flags & FS_INFO_DIRTY, 0);
	assert_extents_sane(&s, blocks * bs);
	ck_assert_msg(img_extents_total(&s.used) == want,
	    "%s: module says %llu bytes used, dumpe2fs %llu", v->name,
	    (unsigned long long)img_extents_total(&s.used),
	    (unsigned long long)want);
	/* the 6 MiB file alone must be in there, but not the 64 MiB */
	ck_assert_uint_gt(want, 6 * MIB);
	ck_assert_uint_lt(want, (uint64_t)v->size_mib * MIB / 2);
	fs_ext_ops.describe(&s.fs, desc, sizeof(desc));
	ck_assert_msg(strstr(desc, "ext4") && strstr(desc, " used") &&
	    strstr(desc, s.fs.block_size > bs ? "clusters" : "blocks"),
	    "describe: %s", desc);
	scan_done(&s);
}
END_TEST

/* A filesystem 1 MiB into a larger file: extents are absolute, and
 * nothing in the 7 MiB after the filesystem is stored. */
START_TEST(test_offset)
{
	const char *img = test_path("offset.img");
	uint64_t off = MIB, fs_bytes = 48 * MIB, want;
	struct test_fs_scan s;

	test_sh("rm -f '%s' && truncate -s 56M '%s' && mkfs.ext4 -F -q "
	    "-E offset=%llu -d '%s' '%s' %lluk >/dev/null && "
	    "dd if='%s' of='%s.fs' bs=1M skip=1 count=48 status=none", img,
	    img, (unsigned long long)off, test_path("tree"), img,
	    (unsigned long long)(fs_bytes / 1024), img, img);
	want = expected_used(test_path("offset.img.fs"));
	ck_assert_img_ok(scan_fs(&s, img, off, 0), s.ctx);
	assert_extents_sane(&s, fs_bytes);
	ck_assert_uint_eq(img_extents_total(&s.used), want);
	scan_done(&s);
}
END_TEST

START_TEST(test_not_ext)
{
	static unsigned char junk[4 * MIB];
	const char *img = test_path("junk.img");
	struct test_fs_scan s;

	test_fill_random(junk, sizeof(junk), 7);
	test_write_file(img, junk, sizeof(junk), 0);
	ck_assert_int_eq(scan_fs(&s, img, 0, 0), 1);
	ck_assert_str_ne(img_ctx_message(s.ctx), "");
	ck_assert_ptr_null(s.fs.priv);
	scan_done(&s);
}
END_TEST

/* Superblock fields (byte offsets in struct ext2_super_block, which
 * starts 1024 bytes in) overwritten with garbage, on a filesystem without
 * checksums (the field checks) and with metadata_csum (the checksum). */
static const struct {
	int variant;
	unsigned off;
	const char *bytes;	/* printf escapes */
} sb_damage[] = {
	{ V_EXT2_4K, 0x38, "\\000\\000" },		/* s_magic */
	{ V_EXT2_4K, 0x18, "\\377\\000\\000\\000" },	/* s_log_block_size */
	{ V_EXT2_4K, 0x20, "\\000\\000\\000\\000" },	/* s_blocks_per_group */
	{ V_EXT2_4K, 0x04, "\\377\\377\\377\\177" },	/* s_blocks_count_lo */
	{ V_EXT2_4K, 0x04, "\\377\\001\\000\\000" },	/* ... too small */
	{ V_EXT2_4K, 0x00, "\\377\\377\\377\\377" },	/* s_inodes_count */
	{ V_EXT2_4K, 0x60, "\\000\\000\\000\\200" },	/* unknown incompat */
	{ V_EXT2_4K, 0x14, "\\377\\000\\000\\000" },	/* s_first_data_block */
	{ V_EXT4_4K, 0x3fc, "\\001\\002\\003\\004" },	/* s_checksum */
};

START_TEST(test_damaged_superblock)
{
	const char *img = make_fs(&variants[sb_damage[_i].variant]);
	struct test_fs_scan s;
	int rc;

	test_sh("printf '%s' | dd of='%s' bs=1 seek=%u conv=notrunc "
	    "status=none", sb_damage[_i].bytes, img, 1024 + sb_damage[_i].off);
	rc = scan_fs(&s, img, 0, 0);
	ck_assert_msg(rc == 1 || rc < 0, "damage %d: rc %d", _i, rc);
	ck_assert_msg(strstr(img_ctx_message(s.ctx), img) != NULL,
	    "damage %d: message does not name the file: '%s'", _i,
	    img_ctx_message(s.ctx));
	scan_done(&s);
}
END_TEST

/* A block bitmap overwritten (metadata_csum catches it), and a descriptor
 * pointing its bitmap beyond the end (ext2, no checksums): used_extents
 * must refuse with a message rather than trust either. */
START_TEST(test_damaged_bitmap)
{
	const char *img = make_fs(&variants[_i == 0 ? V_EXT4_4K : V_EXT2_4K]);
	struct test_fs_scan s;

	if (_i == 0)
		test_sh("blk=$(dumpe2fs '%s' 2>/dev/null | sed -n "
		    "'s/^ *Block bitmap at \\([0-9]*\\).*/\\1/p' | head -1) && "
		    "printf '\\125\\125\\125\\125' | dd of='%s' bs=1 "
		    "seek=$((blk * 4096 + 100)) conv=notrunc status=none",
		    img, img);
	else	/* group 0 descriptor, bg_block_bitmap, in block 1 (4 KiB) */
		test_sh("printf '\\377\\377\\377\\000' | dd of='%s' bs=1 "
		    "seek=4096 conv=notrunc status=none", img);
	ck_assert_int_lt(scan_fs(&s, img, 0, 0), 0);
	ck_assert_int_eq(s.probe_rc, 0);
	ck_assert_uint_eq(s.used.n, 0);	/* nothing half-done left behind */
	ck_assert_msg(strstr(img_ctx_message(s.ctx), img) != NULL,
	    "message: '%s'", img_ctx_message(s.ctx));
	scan_done(&s);
}
END_TEST

START_TEST(test_too_big_for_area)
{
	const char *img = make_fs(&variants[V_EXT4_4K]);
	struct test_fs_scan s;

	ck_assert_int_eq(scan_fs(&s, img, 0, 32 * MIB), 1);
	ck_assert_ptr_nonnull(strstr(img_ctx_message(s.ctx), "available"));
	scan_done(&s);
}
END_TEST

START_TEST(test_needs_recovery_is_dirty)
{
	const char *img = make_fs(&variants[V_EXT4_4K]);
	struct test_fs_scan s;
	char desc[256];

	test_sh("debugfs -w -R 'feature needs_recovery' '%s' >/dev/null 2>&1",
	    img);
	ck_assert_img_ok(scan_fs(&s, img, 0, 0), s.ctx);
	ck_assert_int_ne(s.fs.flags & FS_INFO_DIRTY, 0);
	/* the bitmap may be older than the journal: copy it in full */
	ck_assert_int_ne(s.fs.flags & FS_INFO_STALE_MAP, 0);
	fs_ext_ops.describe(&s.fs, desc, sizeof(desc));
	ck_assert_msg(strstr(desc, "needs recovery") != NULL, "%s", desc);
	scan_done(&s);
}
END_TEST

/* Blocks in the bad-blocks inode are marked used but never stored. */
START_TEST(test_bad_blocks_skipped)
{
	const char *img = test_path("bad.img");
	const char *list = test_path("bad.list");
	uint64_t want;
	struct test_fs_scan s;

	test_sh("printf '9000\\n9001\\n12000\\n' > '%s' && rm -f '%s' && "
	    "truncate -s 64M '%s' && mkfs.ext4 -b 4096 -F -q -l '%s' -d '%s' '%s' "
	    ">/dev/null", list, img, img, list, test_path("tree"), img);
	want = expected_used(img) - 3 * 4096;
	ck_assert_img_ok(scan_fs(&s, img, 0, 0), s.ctx);
	ck_assert_uint_eq(img_extents_total(&s.used), want);
	ck_assert_uint_eq(img_extents_covered(&s.used, 9000 * 4096, 2 * 4096),
	    0);
	ck_assert_uint_eq(img_extents_covered(&s.used, 12000 * 4096, 4096), 0);
	scan_done(&s);
}
END_TEST

static Suite *
fs_ext_suite(void)
{
	Suite *s = suite_create("fs_ext");
	TCase *core = tcase_create("core");
	TCase *hostile = tcase_create("hostile");

	/* the tree (and the temporary directory) is built in the parent,
	 * before the forks, so every test shares it and main removes it */
	tcase_add_unchecked_fixture(core, make_tree, NULL);
	tcase_set_timeout(core, 60);
	tcase_add_loop_test(core, test_variant_used_matches_dumpe2fs, 0,
	    N_VARIANTS);
	tcase_add_test(core, test_offset);
	tcase_add_test(core, test_needs_recovery_is_dirty);
	tcase_add_test(core, test_bad_blocks_skipped);
	suite_add_tcase(s, core);

	tcase_add_unchecked_fixture(hostile, make_tree, NULL);
	tcase_set_timeout(hostile, 60);
	tcase_add_test(hostile, test_not_ext);
	tcase_add_loop_test(hostile, test_damaged_superblock, 0,
	    (int)(sizeof(sb_damage) / sizeof(sb_damage[0])));
	tcase_add_loop_test(hostile, test_damaged_bitmap, 0, 2);
	tcase_add_test(hostile, test_too_big_for_area);
	suite_add_tcase(s, hostile);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(fs_ext_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	test_tmpdir_cleanup();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
