/*
 * check_fs_btrfs.c - the btrfs module against filesystems made by
 * mkfs.btrfs (and, as root, written through a loop mount), and against
 * damaged superblocks and tree blocks, which must be refused with a
 * message, never crash.
 *
 * The expected used bytes come from btrfs's own accounting: the "used" of
 * every BLOCK_GROUP_ITEM as dump-tree prints it, times 2 for DUP block
 * groups, plus the first MiB and the superblock copies at 64 MiB and
 * 256 GiB that fit the device. The module must match that exactly.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"
#include "ctx.h"
#include "dev.h"
#include "extents.h"
#include "formats.h"

#define MIB (1024ull * 1024)
#define SB 65536u

struct variant {
	const char *name;
	const char *opts;	/* mkfs.btrfs options */
	const char *after;	/* command run on the image, or NULL */
};

static const struct variant variants[] = {
	{ "default", "", NULL },		/* metadata DUP, data single */
	{ "meta-single", "-m single", NULL },
	{ "data-dup", "-d dup", NULL },
	{ "mixed", "-M", NULL },
	{ "node4k", "-n 4096", NULL },
	{ "node64k", "-n 65536", NULL },
	{ "xxhash", "--csum xxhash", NULL },
	{ "sha256", "--csum sha256", NULL },
	{ "no-skinny", "-O ^skinny-metadata", NULL },
	{ "no-fst", "-O ^no-holes -R ^free-space-tree", NULL },
	{ "metadata-uuid", "", "btrfstune -m" },
	{ "sector64k", "-s 65536 -n 65536", NULL },
};

#define N_VARIANTS ((int)(sizeof(variants) / sizeof(variants[0])))

struct scan {
	struct img_ctx *ctx;
	struct img_dev *dev;
	struct fs_info fs;
	struct img_extents used;
	int probe_rc, used_rc, warnings;
	char desc[256];
};

static void
count_warning(enum img_log_level level, const char *msg, void *arg)
{
	struct scan *s = arg;

	(void)msg;
	s->warnings += level == IMG_LOG_WARN;
}

/* probe + used_extents of the btrfs at [off, off + len) of path */
static void
scan_open(struct scan *s, const char *path, uint64_t off, uint64_t len)
{
	memset(s, 0, sizeof(*s));
	s->ctx = img_ctx_new();
	ck_assert_ptr_nonnull(s->ctx);
	img_ctx_set_log(s->ctx, count_warning, s);
	img_extents_init(&s->used);
	ck_assert_img_ok(img_dev_open(path, IMG_DEV_READ, &s->dev, s->ctx),
	    s->ctx);
	s->fs.type = "btrfs";
	s->fs.off = off;
	s->fs.len = len ? len : s->dev->size - off;
	s->probe_rc = fs_btrfs_ops.probe(s->dev, &s->fs, s->ctx);
	if (s->probe_rc != 0) {
		ck_assert_ptr_null(s->fs.priv);
		return;
	}
	s->used_rc = fs_btrfs_ops.used_extents(s->dev, &s->fs, &s->used,
	    s->ctx);
	fs_btrfs_ops.describe(&s->fs, s->desc, sizeof(s->desc));
}

static void
scan_close(struct scan *s)
{
	if (s->probe_rc == 0)
		fs_btrfs_ops.release(&s->fs);
	ck_assert_ptr_null(s->fs.priv);
	img_extents_free(&s->used);
	img_dev_close(s->dev);
	img_ctx_free(s->ctx);
}

#define ck_assert_scan_ok(s) ck_assert_msg((s)->probe_rc == 0 &&	\
    (s)->used_rc == 0, "probe %d, used_extents %d: %s", (s)->probe_rc,	\
    (s)->used_rc, img_ctx_message((s)->ctx))

/* Sorted, disjoint, inside [off, off + bytes), starting with the first MiB
 * (which holds the primary superblock). */
static void
assert_extents_sane(const struct scan *s, uint64_t bytes)
{
	const struct img_extents *e = &s->used;

	ck_assert_uint_gt(e->n, 0);
	ck_assert_uint_eq(e->v[0].off, s->fs.off);
	ck_assert_uint_ge(e->v[0].len, MIB);
	for (size_t i = 0; i < e->n; i++) {
		ck_assert_uint_gt(e->v[i].len, 0);
		ck_assert_uint_le(e->v[i].off + e->v[i].len, s->fs.off + bytes);
		if (i > 0)
			ck_assert_uint_gt(e->v[i].off,
			    e->v[i - 1].off + e->v[i - 1].len);
	}
}

/* 60 small files, a 3 MiB random file, a sparse file, links. */
static void
make_tree(void)
{
	static unsigned char big[3 * MIB];
	const char *dir = test_path("tree");

	test_sh("rm -rf '%s' && mkdir -p '%s/small' && cd '%s' && "
	    "for i in $(seq 1 60); do printf 'file %%s\\n' $i > small/f$i; "
	    "done && truncate -s 20M sparse && printf data | dd of=sparse "
	    "bs=1 seek=10485760 conv=notrunc status=none && "
	    "ln small/f1 hardlink && ln -s small/f2 symlink", dir, dir, dir);
	test_fill_random(big, sizeof(big), 42);
	test_write_file(test_path("tree/big.bin"), big, sizeof(big), 0);
}

/* A populated filesystem image of size bytes (sparse). */
static const char *
make_fs(const char *name, const char *opts, const char *size)
{
	const char *img = test_path(name);

	test_sh("rm -f '%s' && truncate -s %s '%s' && mkfs.btrfs -q -f %s "
	    "-r '%s' '%s' >/dev/null 2>&1", img, size, img, opts,
	    test_path("tree"), img);
	return img;
}

/* btrfs's own count of the bytes a restore must write (see the top). */
static uint64_t
expected_used(const char *img)
{
	return (uint64_t)test_sh_num("size=$(btrfs inspect-internal "
	    "dump-super '%s' | awk '/^dev_item.total_bytes/ {print $2}') && "
	    "btrfs inspect-internal dump-tree -t extent '%s' | awk -v s=$size "
	    "'/block group used/ { u += $4 * ($0 ~ /DUP/ ? 2 : 1) } END { u += "
	    "1048576; if (67108864 + 4096 <= s) u += 4096; "
	    "if (274877906944 + 4096 <= s) u += 4096; printf \"%%d\\n\", u }'",
	    img, img);
}

static void
assert_used_exact(const struct scan *s, const char *img, const char *name)
{
	uint64_t want = expected_used(img), got = img_extents_total(&s->used);

	ck_assert_msg(got == want, "%s: module says %llu bytes used, btrfs "
	    "%llu", name, (unsigned long long)got, (unsigned long long)want);
}

START_TEST(test_variant_used_matches_btrfs)
{
	const struct variant *v = &variants[_i];
	const char *img = make_fs(v->name, v->opts, "300M");
	struct scan s;

	if (v->after)
		test_sh("%s '%s' >/dev/null 2>&1", v->after, img);
	scan_open(&s, img, 0, 0);
	ck_assert_scan_ok(&s);
	ck_assert_int_eq(s.fs.flags, 0);
	ck_assert_uint_eq((uint64_t)s.fs.block_size * s.fs.block_count,
	    300 * MIB);
	assert_extents_sane(&s, 300 * MIB);
	assert_used_exact(&s, img, v->name);
	/* the 3 MiB file and the 20 MiB sparse file (--rootdir writes its
	 * holes as zeros) are in, most of the 300 MiB is not */
	ck_assert_uint_gt(img_extents_total(&s.used), 23 * MIB);
	ck_assert_uint_lt(img_extents_total(&s.used), 64 * MIB);
	/* the 64 MiB superblock copy */
	ck_assert_uint_eq(img_extents_covered(&s.used, 64 * MIB, 4096), 4096);
	ck_assert_msg(strstr(s.desc, "btrfs, ") && strstr(s.desc, " used"),
	    "describe: %s", s.desc);
	ck_assert_int_eq(s.warnings, 0);
	scan_close(&s);
}
END_TEST

/* The filesystem 1 MiB into a bigger file: extents are absolute, nothing
 * outside it is claimed; and a 300 GiB one has its 256 GiB copy stored. */
START_TEST(test_offset_and_mirrors)
{
	const char *img = make_fs("plain", "", "200M");
	const char *big = make_fs("huge", "", "300G");
	const char *disk = test_path("disk.img");
	uint64_t want = expected_used(img);
	struct scan s;

	test_sh("rm -f '%s' && truncate -s 210M '%s' && dd if='%s' of='%s' "
	    "bs=1M seek=1 conv=notrunc,sparse status=none", disk, disk, img,
	    disk);
	scan_open(&s, disk, MIB, 200 * MIB);
	ck_assert_scan_ok(&s);
	ck_assert_uint_eq(img_extents_total(&s.used), want);
	ck_assert_uint_eq(img_extents_covered(&s.used, 0, MIB), 0);
	ck_assert_uint_eq(img_extents_covered(&s.used, MIB + SB, 4096), 4096);
	assert_extents_sane(&s, 200 * MIB);
	scan_close(&s);

	scan_open(&s, big, 0, 0);
	ck_assert_scan_ok(&s);
	assert_used_exact(&s, big, "300G");
	ck_assert_uint_eq(img_extents_covered(&s.used, 256ull << 30, 4096),
	    4096);
	scan_close(&s);
	test_sh("rm -f '%s' '%s'", big, disk);
}
END_TEST

/* Runs cmd inside img mounted with opts; always unmounts. Returns cmd's
 * exit status. */
static int
with_mount(const char *img, const char *opts, const char *cmd)
{
	const char *mnt = test_path("mnt");
	char line[2048];
	int rc;

	test_sh("mkdir -p '%s' && mount -o loop,%s '%s' '%s'", mnt, opts, img,
	    mnt);
	snprintf(line, sizeof(line), "cd '%s' && (%s)", mnt, cmd);
	rc = system(line);
	/* a parallel test may hold the mount a moment: retry before failing */
	test_sh("umount '%s' 2>/dev/null || { sleep 1; umount '%s' 2>/dev/null; }"
	    " || { sleep 3; umount '%s'; }", mnt, mnt, mnt);
	return rc;
}

/* As root: a filesystem the kernel wrote with 4 KiB nodes (so the root
 * and extent trees have several levels), quotas, compression, 30
 * snapshots (three deleted, their trees maybe not yet dropped), deleted
 * files and a balance; compared with btrfs's count and with `btrfs
 * filesystem df` on a read-only mount. Skipped without btrfs mounts. */
START_TEST(test_kernel_written)
{
	const char *img = test_path("kernel.img"), *df = test_path("df");
	char cmd[1024];
	struct scan s;
	uint64_t want;

	if (geteuid() != 0 || system("modprobe btrfs >/dev/null 2>&1; "
	    "grep -qw btrfs /proc/filesystems") != 0) {
		fprintf(stderr, "# kernel-written: skipped (needs root and "
		    "btrfs mounts)\n");
		return;
	}
	test_sh("rm -f '%s' && truncate -s 1G '%s' && mkfs.btrfs -q -n 4096 "
	    "'%s' >/dev/null 2>&1", img, img, img);
	snprintf(cmd, sizeof(cmd), "btrfs quota enable . && cp -a '%s' t1 && "
	    "cp -a '%s' t2 && for i in $(seq 1 300); do echo $i > t2/n$i; "
	    "done && head -c 20000000 /dev/urandom > rnd && sync && for i in "
	    "$(seq 1 30); do btrfs subvolume snapshot . s$i >/dev/null || "
	    "exit 1; done && rm -rf t1 rnd && btrfs subvolume delete s1 s2 s3 "
	    ">/dev/null && sync && btrfs balance start -dusage=90 . >/dev/null "
	    "2>&1", test_path("tree"), test_path("tree"));
	ck_assert_int_eq(with_mount(img, "compress=zstd", cmd), 0);
	snprintf(cmd, sizeof(cmd), "btrfs filesystem df -b . | awk -F'[ ,=]+' "
	    "'$1 != \"GlobalReserve\" { u += $NF * ($2 ~ /DUP/ ? 2 : 1) } "
	    "END { print u }' > '%s'", df);
	ck_assert_int_eq(with_mount(img, "ro", cmd), 0);
	ck_assert_int_gt(test_sh_num("btrfs inspect-internal dump-tree -t root "
	    "'%s' | grep -c '^node'", img), 0);
	ck_assert_int_gt(test_sh_num("btrfs inspect-internal dump-tree -t "
	    "extent '%s' | grep -c '^node'", img), 0);
	want = (uint64_t)test_sh_num("cat '%s'", df) + MIB + 4096;
	scan_open(&s, img, 0, 0);
	ck_assert_scan_ok(&s);
	assert_used_exact(&s, img, "kernel");
	/* df's used plus the first MiB and the 64 MiB superblock copy */
	ck_assert_uint_eq(img_extents_total(&s.used), want);
	fprintf(stderr, "# kernel-written: %llu bytes used = df + 1 MiB + "
	    "4 KiB\n", (unsigned long long)want);
	scan_close(&s);
}
END_TEST

START_TEST(test_not_btrfs)
{
	static unsigned char junk[4 * MIB];
	const char *img = test_path("junk.img");
	struct scan s;

	test_fill_random(junk, sizeof(junk), 7);
	test_write_file(img, junk, sizeof(junk), 0);
	scan_open(&s, img, 0, 0);
	ck_assert_int_eq(s.probe_rc, 1);
	ck_assert_ptr_nonnull(strstr(img_ctx_message(s.ctx), img));
	scan_close(&s);
	scan_open(&s, img, 0, SB);	/* too small for a superblock */
	ck_assert_int_eq(s.probe_rc, 1);
	scan_close(&s);
}
END_TEST

/* crc32c, bit by bit: the test's own, independent of the module's */
static uint32_t
crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? c >> 1 ^ 0x82F63B78u : c >> 1;
	}
	return ~c;
}

static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

/* Reads len bytes at off of img, lets edit change them, writes them back
 * with a fresh crc32c over [32, len) when fix_csum. */
static void
edit_block(const char *img, uint64_t off, size_t len, int fix_csum,
    void (*edit)(uint8_t *, size_t, void *), void *arg)
{
	uint8_t *b = malloc(len);
	int fd = open(img, O_RDWR);

	ck_assert_int_ge(fd, 0);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(pread(fd, b, len, (off_t)off), (ssize_t)len);
	edit(b, len, arg);
	if (fix_csum)
		put32(b, crc32c(b + 32, len - 32));
	ck_assert_int_eq(pwrite(fd, b, len, (off_t)off), (ssize_t)len);
	close(fd);
	free(b);
}

struct patch {
	unsigned off;
	uint64_t val;
	unsigned width;		/* bytes of val written, little-endian */
};

static void
apply_patch(uint8_t *b, size_t len, void *arg)
{
	const struct patch *p = arg;

	ck_assert_uint_le(p->off + p->width, len);
	for (unsigned i = 0; i < p->width; i++)
		b[p->off + i] = (uint8_t)(p->val >> 8 * i);
}

/* Superblock fields (struct btrfs_super_block offsets) set to a value,
 * with the checksum fixed (or not), and the outcome expected: 1 = not
 * ours / not understood, -1 = probe or used_extents fails (<0 or 1),
 * 2 = probe succeeds with FS_INFO_STALE_MAP, 3 = FS_INFO_DIRTY only. */
static const struct {
	struct patch p;
	int fix, want;
	const char *msg;	/* in the message when want == 1 */
} sb_damage[] = {
	{ { 0x40, 0, 1 }, 1, 1, "magic" },		/* magic */
	{ { 0x48, 1, 1 }, 0, 1, "checksum" },		/* generation, no fix */
	{ { 0x88, 2, 8 }, 1, 1, "several devices" },	/* num_devices */
	{ { 0x88, 0, 8 }, 1, 1, "devices" },
	{ { 0xbc, 1ull << 13, 8 }, 1, 1, "incompat" },	/* extent-tree-v2 */
	{ { 0xb4, 1ull << 3, 8 }, 1, 1, "compat_ro" },	/* block-group-tree */
	{ { 0x38, 1ull << 34, 8 }, 1, 1, "metadump" },	/* METADUMP_V2 */
	{ { 0x94, 12345, 4 }, 1, 1, "node size" },	/* nodesize */
	{ { 0x90, 512, 4 }, 1, 1, "sector" },		/* sectorsize */
	{ { 0xc4, 9, 2 }, 1, 1, "checksum type" },	/* csum_type */
	{ { 0x30, 0, 8 }, 1, 1, "bytenr" },		/* bytenr */
	{ { 0xd1, 1ull << 40, 8 }, 1, 1, "fit" },	/* dev_item.total_bytes */
	{ { 0xc9 + 82, 0x55, 1 }, 1, 1, "dev_item" },	/* dev_item.fsid */
	{ { 0xa0, 5000, 4 }, 1, -1, NULL },		/* sys_chunk_array_size */
	{ { 0xa0, 20, 4 }, 1, -1, NULL },
	{ { 0x32b + 8, 0, 1 }, 1, -1, NULL },		/* sys array key type */
	{ { 0x32b + 17 + 44, 7, 2 }, 1, -1, NULL },	/* num_stripes */
	{ { 0x32b + 17 + 24, 0x12, 8 }, 1, 1, "RAID" },	/* type SYSTEM|RAID1 */
	{ { 0x32b + 17 + 48 + 8, 1ull << 40, 8 }, 1, -1, NULL }, /* stripe */
	{ { 0x32b + 17 + 48, 7, 8 }, 1, -1, NULL },	/* stripe devid */
	{ { 0x58, 4096, 8 }, 1, -1, NULL },		/* chunk_root */
	{ { 0xc7, 3, 1 }, 1, -1, NULL },		/* chunk_root_level */
	{ { 0x50, 12345 * 4096, 8 }, 1, -1, NULL },	/* root */
	{ { 0xc6, 9, 1 }, 1, -1, NULL },		/* root_level */
	{ { 0x48, 1, 8 }, 1, -1, NULL },		/* generation < blocks' */
	{ { 0x60, 123 * 4096, 8 }, 1, 2, NULL },	/* log_root */
	{ { 0x38, 0x5, 8 }, 1, 3, NULL },		/* flags WRITTEN|ERROR */
};

START_TEST(test_damaged_superblock)
{
	const char *img = make_fs("sbdamage", "", "128M");
	struct patch p = sb_damage[_i].p;
	int want = sb_damage[_i].want;
	struct scan s;

	edit_block(img, SB, 4096, sb_damage[_i].fix, apply_patch, &p);
	scan_open(&s, img, 0, 0);
	if (want == 2 || want == 3) {
		ck_assert_int_eq(s.probe_rc, 0);
		ck_assert_int_eq(s.fs.flags, want == 2 ? FS_INFO_DIRTY |
		    FS_INFO_STALE_MAP : FS_INFO_DIRTY);
	} else if (want == 1) {
		ck_assert_msg(s.probe_rc == 1, "damage %d: rc %d: %s", _i,
		    s.probe_rc, img_ctx_message(s.ctx));
		ck_assert_msg(strstr(img_ctx_message(s.ctx), sb_damage[_i].msg),
		    "damage %d: '%s'", _i, img_ctx_message(s.ctx));
	} else {
		ck_assert_msg(s.probe_rc != 0 || s.used_rc < 0, "damage %d: "
		    "accepted", _i);
		ck_assert_uint_eq(s.used.n, 0);
	}
	if (want != 2 && want != 3)
		ck_assert_msg(strstr(img_ctx_message(s.ctx), img) != NULL,
		    "damage %d: message does not name the file: '%s'", _i,
		    img_ctx_message(s.ctx));
	scan_close(&s);
}
END_TEST

/* Physical offset of copy `mirror` (1 or 2) of the root block of tree. */
static uint64_t
root_block(const char *img, const char *tree, int mirror)
{
	return (uint64_t)test_sh_num("l=$(btrfs inspect-internal dump-tree "
	    "-t %s '%s' 2>/dev/null | sed -n 's/^\\(leaf\\|node\\) "
	    "\\([0-9]*\\) .*/\\2/p' | head -1) && btrfs-map-logical -l $l "
	    "'%s' 2>/dev/null | awk '$2 == %d { print $6 }'", tree, img, img,
	    mirror);
}

/* Edits the copies in mirrors (bit 0: first, bit 1: second) of the root
 * block of tree (16 KiB nodes, mkfs's default). */
static void
edit_tree_root(const char *img, const char *tree, int mirrors, int fix,
    void (*edit)(uint8_t *, size_t, void *), void *arg)
{
	uint64_t at[2] = { root_block(img, tree, 1), root_block(img, tree, 2) };

	for (int m = 0; m < 2; m++)
		if (mirrors & (1 << m))
			edit_block(img, at[m], 16384, fix, edit, arg);
}

static void
flip_byte(uint8_t *b, size_t len, void *arg)
{
	b[*(unsigned *)arg % len] ^= 0x5A;
}

/* One damaged copy of a DUP tree block: the other is used, with a
 * warning, and nothing changes. Both damaged: refused. */
START_TEST(test_damaged_tree_block)
{
	static const char *const trees[] = { "extent", "root", "chunk" };
	const char *img = make_fs("blockdamage", "", "128M");
	const char *tree = trees[_i];
	unsigned at = 200;
	uint64_t want = expected_used(img);
	struct scan s;

	edit_tree_root(img, tree, 1, 0, flip_byte, &at);
	scan_open(&s, img, 0, 0);
	ck_assert_scan_ok(&s);
	ck_assert_uint_eq(img_extents_total(&s.used), want);
	ck_assert_int_eq(s.warnings, 1);
	scan_close(&s);

	edit_tree_root(img, tree, 2, 0, flip_byte, &at);
	scan_open(&s, img, 0, 0);
	ck_assert_msg(s.probe_rc < 0 || (s.probe_rc == 0 && s.used_rc < 0),
	    "%s: probe %d used %d", tree, s.probe_rc, s.used_rc);
	ck_assert_uint_eq(s.used.n, 0);
	ck_assert_msg(strstr(img_ctx_message(s.ctx), "bad checksum"),
	    "%s: '%s'", tree, img_ctx_message(s.ctx));
	scan_close(&s);
}
END_TEST

/* Adds 4096 to the "used" of the first BLOCK_GROUP_ITEM of a leaf. */
static void
bump_block_group(uint8_t *b, size_t len, void *arg)
{
	uint32_t n = (uint32_t)get64(b + 0x60) & 0xFFFFFFFFu;

	(void)len;
	(void)arg;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *it = b + 0x65 + 25 * i;
		uint8_t *data = b + 0x65 + (it[17] | it[18] << 8);

		if (it[8] == 192) {
			put64(data, get64(data) + 4096);
			return;
		}
	}
	ck_abort_msg("no block group item in the leaf");
}

START_TEST(test_block_group_mismatch)
{
	const char *img = make_fs("bgdamage", "", "128M");
	struct scan s;

	edit_tree_root(img, "extent", 3, 1, bump_block_group, NULL);
	scan_open(&s, img, 0, 0);
	ck_assert_int_eq(s.probe_rc, 0);
	ck_assert_int_lt(s.used_rc, 0);
	ck_assert_uint_eq(s.used.n, 0);
	ck_assert_msg(strstr(img_ctx_message(s.ctx), "block group"), "'%s'",
	    img_ctx_message(s.ctx));
	scan_close(&s);
}
END_TEST

/* Deterministic changes anywhere in a tree's root leaf (both copies, with
 * a valid checksum): whatever the module answers, it must not crash,
 * and a refusal must leave nothing behind. */
struct fuzz {
	uint64_t x;
};

static void
fuzz_edit(uint8_t *b, size_t len, void *arg)
{
	struct fuzz *f = arg;

	for (int k = 0; k < 3; k++) {
		f->x ^= f->x << 13;
		f->x ^= f->x >> 7;
		f->x ^= f->x << 17;
		/* mostly the header, item headers and the items' start */
		b[32 + f->x % (f->x & 1 ? 2048 : len - 32)] ^=
		    (uint8_t)(1u << (f->x >> 20) % 8);
	}
}

START_TEST(test_fuzz_tree_leaves)
{
	static const char *const trees[] = { "extent", "root", "chunk" };
	const char *img = make_fs("fuzz", "", "128M");
	const char *work = test_path("fuzz.work");
	uint64_t at[2] = { root_block(img, trees[_i], 1),
	    root_block(img, trees[_i], 2) };
	struct fuzz f = { 0x1234567ull + (uint64_t)_i };
	int refused = 0;

	for (int round = 0; round < 60; round++) {
		struct fuzz keep = f;
		struct scan s;

		test_sh("cp --sparse=always '%s' '%s'", img, work);
		for (int m = 0; m < 2; m++) {
			f = keep;
			edit_block(work, at[m], 16384, 1, fuzz_edit, &f);
		}
		scan_open(&s, work, 0, 0);
		if (s.probe_rc != 0 || s.used_rc != 0) {
			refused++;
			ck_assert_uint_eq(s.used.n, 0);
			ck_assert_str_ne(img_ctx_message(s.ctx), "");
		} else {
			assert_extents_sane(&s, 128 * MIB);
		}
		scan_close(&s);
	}
	ck_assert_int_gt(refused, 0);
	fprintf(stderr, "# fuzz %s: %d of 60 refused\n", trees[_i], refused);
}
END_TEST

/* A partition shorter than the filesystem says it is. */
START_TEST(test_truncated)
{
	const char *img = make_fs("short", "", "128M");
	struct scan s;

	scan_open(&s, img, 0, 100 * MIB);
	ck_assert_int_eq(s.probe_rc, 1);
	ck_assert_ptr_nonnull(strstr(img_ctx_message(s.ctx), "fit"));
	scan_close(&s);
}
END_TEST

static Suite *
fs_btrfs_suite(void)
{
	Suite *s = suite_create("fs_btrfs");
	TCase *core = tcase_create("core");
	TCase *hostile = tcase_create("hostile");

	/* the tree is built in the parent, before the forks */
	tcase_add_unchecked_fixture(core, make_tree, NULL);
	tcase_set_timeout(core, 120);
	tcase_add_loop_test(core, test_variant_used_matches_btrfs, 0,
	    N_VARIANTS);
	tcase_add_test(core, test_offset_and_mirrors);
	tcase_add_test(core, test_kernel_written);
	suite_add_tcase(s, core);

	tcase_add_unchecked_fixture(hostile, make_tree, NULL);
	tcase_set_timeout(hostile, 120);
	tcase_add_test(hostile, test_not_btrfs);
	tcase_add_loop_test(hostile, test_damaged_superblock, 0,
	    (int)(sizeof(sb_damage) / sizeof(sb_damage[0])));
	tcase_add_loop_test(hostile, test_damaged_tree_block, 0, 3);
	tcase_add_test(hostile, test_block_group_mismatch);
	tcase_add_loop_test(hostile, test_fuzz_tree_leaves, 0, 3);
	tcase_add_test(hostile, test_truncated);
	suite_add_tcase(s, hostile);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	if (!test_have("mkfs.btrfs") || !test_have("btrfs-map-logical")) {
		fprintf(stderr, "SKIP: btrfs-progs not installed\n");
		return 77;
	}
	sr = srunner_create(fs_btrfs_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	test_tmpdir_cleanup();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
