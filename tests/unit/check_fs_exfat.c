/*
 * check_fs_exfat.c - the exFAT module against volumes made by mkfs.exfat
 * and filled through exfat-fuse on a loop device, compared with dump.exfat's
 * cluster counts; a crafted two-FAT (TexFAT) volume; the dirty flag; and
 * hostile boot sectors, directory entries and FAT chains, which must be
 * refused with a message, never crash. Needs root (loop devices and FUSE);
 * exits 77 otherwise.
 */
#include "config.h"

#include <errno.h>
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

#define MARKER "imgtool-exfat-deleted-marker-9e2b"



static void
scan_open(struct test_fs_scan *s, const char *path, uint64_t off, uint64_t len)
{
	test_fs_scan_open(s, &fs_exfat_ops, "exfat", path, off, len);
}

static void
scan_close(struct test_fs_scan *s)
{
	test_fs_scan_close(s);
}

static struct test_fs_scan
scan_of(const char *img)
{
	struct test_fs_scan s;

	scan_open(&s, img, 0, 0);
	return s;
}

static long long
dump_field(const char *img, const char *field)
{
	return test_sh_num("dump.exfat '%s' 2>/dev/null | sed -n "
	    "'s/^%s[^:]*:[[:space:]]*\\([0-9]*\\).*/\\1/p'", img, field);
}

/* mkfs.exfat on a loop device (losetup_opts: "-b 4096" for 4 KiB
 * sectors), then through exfat-fuse: nested directories, files of known
 * sizes, and deleted files (one full of MARKER). */
static const char *
make_exfat(const char *name, unsigned mib, const char *losetup_opts,
    const char *mkfs_opts)
{
	const char *img = test_path(name);
	const char *mnt = test_path("mnt");

	test_sh("rm -f '%s' && truncate -s %uM '%s' && "
	    "for i in $(seq 400); do echo " MARKER "; done > '%s'",
	    img, mib, img, test_path("gone.src"));
	test_sh("L=$(losetup -f --show %s '%s') || exit 1; rc=1; "
	    "if mkfs.exfat %s $L >/dev/null && mkdir -p '%s' && "
	    "mount.exfat-fuse $L '%s'; then ( cd '%s' && "
	    "mkdir -p d1/d2 && head -c 100000 /dev/urandom > a && "
	    "head -c 1 /dev/urandom > b && head -c 300000 /dev/urandom > d1/c"
	    " && : > d1/empty && for i in 1 2 3 4 5 6 7 8; do "
	    "head -c $((i * 3000)) /dev/urandom > d1/d2/f$i; done && "
	    "cp ../gone.src gone && head -c 50000 /dev/urandom > gone2 && "
	    "sync && rm gone gone2 d1/d2/f3 ); rc=$?; umount '%s' || rc=1; "
	    "fi; losetup -d $L; exit $rc", losetup_opts, img, mkfs_opts, mnt,
	    mnt, mnt, mnt);
	return img;
}

/* Boot regions + the FAT + every cluster dump.exfat counts used; the
 * volume is clean and fsck.exfat agrees. */
static void
check_against_dump(const char *img)
{
	long long bps = 1ll << dump_field(img, "Sector Size Bits");
	long long fat_off = dump_field(img, "FAT Offset") * bps;
	long long fat_len = dump_field(img, "FAT Length") * bps;
	long long total = dump_field(img, "Total Clusters");
	long long free_cl = dump_field(img, "Free Clusters");
	long long cs = dump_field(img, "Cluster size");
	unsigned long long d_used, d_total;
	struct test_fs_scan s;

	test_sh("fsck.exfat -n '%s' >/dev/null 2>&1", img);
	s = scan_of(img);
	ck_assert_fs_scan_ok(&s);
	ck_assert_uint_eq(s.fs.block_size, cs);
	ck_assert_uint_eq(s.fs.block_count, total);
	ck_assert_int_eq(s.fs.flags, 0);
	ck_assert_int_eq(s.warnings, 0);
	test_fs_scan_assert_sane(&s);
	ck_assert_uint_eq(img_extents_total(&s.used), 24 * bps + fat_len +
	    (total - free_cl) * cs);
	ck_assert_uint_eq(img_extents_covered(&s.used, 0, 24 * bps), 24 * bps);
	ck_assert_uint_eq(img_extents_covered(&s.used, fat_off, fat_len),
	    fat_len);
	ck_assert_int_eq(sscanf(s.desc, "exfat, %*u-byte clusters, %llu of "
	    "%llu clusters used", &d_used, &d_total), 2);
	ck_assert_uint_eq(d_used, total - free_cl);
	ck_assert_uint_eq(d_total, total);
	test_fs_scan_assert_no_marker(&s, img, MARKER);
	scan_close(&s);
}

START_TEST(test_default)
{
	check_against_dump(make_exfat("def.img", 64, "", ""));
}
END_TEST

/* 512-byte clusters: a 16 KiB bitmap in a 32-cluster FAT chain. */
START_TEST(test_small_clusters)
{
	check_against_dump(make_exfat("c512.img", 64, "", "-c 512"));
}
END_TEST

START_TEST(test_large_clusters)
{
	check_against_dump(make_exfat("c256k.img", 96, "", "-c 256K"));
}
END_TEST

START_TEST(test_pack_bitmap)
{
	check_against_dump(make_exfat("pack.img", 64, "", "--pack-bitmap "
	    "-c 1K"));
}
END_TEST

START_TEST(test_4k_sectors)
{
	check_against_dump(make_exfat("s4k.img", 64, "-b 4096", ""));
}
END_TEST

/* At 1 MiB into a file: the same extents, shifted. */
START_TEST(test_offset)
{
	const char *img = make_exfat("plain.img", 48, "", "");
	const char *big = test_path("big.img");
	struct test_fs_scan a, b;

	test_sh("truncate -s 56M '%s' && dd if='%s' of='%s' bs=1M seek=1 "
	    "conv=notrunc status=none", big, img, big);
	scan_open(&a, img, 0, 0);
	scan_open(&b, big, 1 << 20, 50 << 20);
	ck_assert_fs_scan_ok(&a);
	ck_assert_fs_scan_ok(&b);
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

/* --- direct editing, for the crafted cases --- */

struct vol {
	const char *path;
	uint32_t bps, cs;
	uint64_t fat_off, fat_len, heap_off;
	uint32_t root;
};

static uint32_t
g32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
put(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
file_io(const char *path, void *buf, size_t len, uint64_t off, int write)
{
	int fd = open(path, write ? O_WRONLY : O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write ? pwrite(fd, buf, len, (off_t)off) :
	    pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static void
vol_open(struct vol *v, const char *path)
{
	uint8_t bs[512];

	file_io(path, bs, sizeof(bs), 0, 0);
	v->path = path;
	v->bps = 1u << bs[108];
	v->cs = v->bps << bs[109];
	v->fat_off = (uint64_t)g32(bs + 80) * v->bps;
	v->fat_len = (uint64_t)g32(bs + 84) * v->bps;
	v->heap_off = (uint64_t)g32(bs + 88) * v->bps;
	v->root = g32(bs + 96);
}

static uint64_t
clus_off(const struct vol *v, uint32_t c)
{
	return v->heap_off + (uint64_t)(c - 2) * v->cs;
}

/* Rewrites the main boot checksum sector after a change to sectors 0-10. */
static void
fix_checksum(const struct vol *v)
{
	uint8_t r[12 * 4096];
	uint32_t sum = 0;

	file_io(v->path, r, 12 * v->bps, 0, 0);
	for (uint32_t i = 0; i < 11 * v->bps; i++)
		if (i != 106 && i != 107 && i != 112)
			sum = ((sum & 1) ? 0x80000000u : 0) + (sum >> 1) + r[i];
	for (uint32_t i = 0; i < v->bps; i += 4)
		put(r + 11 * v->bps + i, sum, 4);
	file_io(v->path, r + 11 * v->bps, v->bps, 11 * v->bps, 1);
}

/* Offset of the first root directory entry of type, in the first root
 * cluster. */
static uint64_t
root_entry(const struct vol *v, uint8_t type)
{
	uint8_t d[32];

	for (uint64_t at = clus_off(v, v->root);; at += 32) {
		file_io(v->path, d, 32, at, 0);
		if (d[0] == type)
			return at;
		ck_assert_uint_ne(d[0], 0);
	}
}

static void
patch(const char *path, uint64_t off, uint64_t value, unsigned len)
{
	uint8_t le[8];

	put(le, value, len);
	test_write_file(path, le, len, off);
}

/* VolumeDirty (excluded from the checksum): a warning flag only. */
START_TEST(test_dirty)
{
	const char *img = make_exfat("dirty.img", 32, "", "");
	struct test_fs_scan s;
	uint64_t before;

	s = scan_of(img);
	ck_assert_fs_scan_ok(&s);
	before = img_extents_total(&s.used);
	scan_close(&s);
	patch(img, 106, 0x0002, 2);
	s = scan_of(img);
	ck_assert_fs_scan_ok(&s);
	ck_assert_int_eq(s.fs.flags, FS_INFO_DIRTY);
	ck_assert_uint_eq(img_extents_total(&s.used), before);
	scan_close(&s);
}
END_TEST

/* TexFAT: NumberOfFats 2, the second FAT a copy of the first, a second
 * bitmap (BitmapFlags 1) in a free cluster F that marks one more cluster
 * G than the first, ActiveFat 1. Both FATs and the union are stored; the
 * description counts the active (second) bitmap. */
START_TEST(test_two_fats)
{
	const char *img = make_exfat("tex.img", 32, "", "");
	uint8_t fat[65536], bm[4096], d[32];
	uint64_t bme, total = 0, cs, fat_len;
	uint32_t first, f, g;
	struct vol v;
	struct test_fs_scan s;

	vol_open(&v, img);
	cs = v.cs;
	fat_len = v.fat_len;
	ck_assert_uint_le(v.fat_off + 2 * fat_len, v.heap_off);
	ck_assert_uint_le(fat_len, sizeof(fat));
	bme = root_entry(&v, 0x81);
	file_io(img, d, 32, bme, 0);
	first = g32(d + 20);
	ck_assert_uint_le(d[24] | d[25] << 8, sizeof(bm));
	file_io(img, bm, cs, clus_off(&v, first), 0);
	for (f = 2; bm[(f - 2) / 8] >> ((f - 2) % 8) & 1; f++)
		;
	file_io(img, d, 4, 92, 0);		/* ClusterCount */
	g = g32(d) + 1;				/* the last cluster */
	ck_assert_int_eq(bm[(g - 2) / 8] >> ((g - 2) % 8) & 1, 0);
	file_io(img, d, 32, bme, 0);
	bm[(f - 2) / 8] |= (uint8_t)(1 << ((f - 2) % 8));
	file_io(img, bm, cs, clus_off(&v, first), 1);	/* F in bitmap 0 */
	bm[(g - 2) / 8] |= (uint8_t)(1 << ((g - 2) % 8));
	file_io(img, bm, cs, clus_off(&v, f), 1);	/* bitmap 1 at F */
	file_io(img, fat, fat_len, v.fat_off, 0);
	put(fat + 4 * f, 0xFFFFFFFF, 4);
	file_io(img, fat, fat_len, v.fat_off, 1);
	file_io(img, fat, fat_len, v.fat_off + fat_len, 1);
	d[1] = 1;				/* BitmapFlags: second */
	put(d + 20, f, 4);
	file_io(img, d, 32, root_entry(&v, 0x00), 1);
	patch(img, 110, 2, 1);			/* NumberOfFats */
	patch(img, 106, 1, 2);			/* ActiveFat 1 */
	fix_checksum(&v);
	s = scan_of(img);
	ck_assert_fs_scan_ok(&s);
	for (size_t i = 0; i < s.used.n; i++)
		total += s.used.v[i].len;
	ck_assert_uint_eq(img_extents_covered(&s.used, v.fat_off,
	    2 * fat_len), 2 * fat_len);
	ck_assert_uint_eq(img_extents_covered(&s.used, clus_off(&v, f), cs),
	    cs);
	ck_assert_uint_eq(img_extents_covered(&s.used, clus_off(&v, g), cs),
	    cs);
	ck_assert_ptr_nonnull(strstr(s.desc, ", 2 FATs"));
	scan_close(&s);
	/* with ActiveFat 0 the count is one less (G unmarked) */
	{
		unsigned long long used1, used0;
		struct test_fs_scan t;

		ck_assert_int_eq(sscanf(strstr(s.desc, "clusters, ") + 10,
		    "%llu", &used1), 1);
		patch(img, 106, 0, 2);
		t = scan_of(img);
		ck_assert_fs_scan_ok(&t);
		ck_assert_int_eq(sscanf(strstr(t.desc, "clusters, ") + 10,
		    "%llu", &used0), 1);
		ck_assert_uint_eq(used0 + 1, used1);
		ck_assert_uint_eq(img_extents_total(&t.used), total);
		scan_close(&t);
	}
}
END_TEST

START_TEST(test_truncated)
{
	const char *img = test_path("trunc.img");
	struct test_fs_scan s;

	test_sh("rm -f '%s' && truncate -s 32M '%s' && mkfs.exfat '%s' "
	    ">/dev/null && truncate -s 1600K '%s'", img, img, img, img);
	scan_open(&s, img, 0, 32 << 20);
	ck_assert_int_lt(s.probe_rc, 0);
	ck_assert_str_ne(img_ctx_message(s.ctx), "");
	scan_close(&s);
}
END_TEST

struct boot_patch {
	const char *what;
	unsigned off, len;
	uint64_t value;
	int fix;		/* recompute the checksum afterwards */
	const char *msg;
};

static const struct boot_patch boot_patches[] = {
	{ "jump", 0, 1, 0xE9, 1, "signature" },
	{ "name", 3, 1, 'F', 1, "signature" },
	{ "must be zero", 40, 1, 1, 1, "MustBeZero" },
	{ "boot signature", 510, 2, 0x55AA, 1, "boot signature" },
	{ "revision 2", 105, 1, 2, 1, "revision" },
	{ "sector shift 8", 108, 1, 8, 1, "sector or cluster" },
	{ "sector shift 13", 108, 1, 13, 1, "sector or cluster" },
	{ "cluster shift 17", 109, 1, 17, 1, "sector or cluster" },
	{ "no FATs", 110, 1, 0, 1, "number of FATs" },
	{ "three FATs", 110, 1, 3, 1, "number of FATs" },
	{ "two FATs, one bitmap", 110, 1, 2, 1, "lacks" },
	{ "volume length huge", 72, 8, 1ull << 40, 1, "volume length" },
	{ "volume length tiny", 72, 8, 10, 1, "volume length" },
	{ "FAT offset 0", 80, 4, 0, 1, "layout" },
	{ "FAT offset 23", 80, 4, 23, 1, "layout" },
	{ "FAT length 0", 84, 4, 0, 1, "layout" },
	{ "FAT length 1", 84, 4, 1, 1, "FAT too small" },
	{ "FAT overlaps heap", 84, 4, 0x10000, 1, "layout" },
	{ "heap beyond", 88, 4, 0x7FFFFFFF, 1, "layout" },
	{ "cluster count 0", 92, 4, 0, 1, "layout" },
	{ "cluster count huge", 92, 4, 0xFFFFFFF0, 1, "layout" },
	{ "root cluster 1", 96, 4, 1, 1, "root directory cluster" },
	{ "root cluster beyond", 96, 4, 0x7FFFFFFF, 1, "root directory" },
	{ "checksum", 600, 1, 0x5A, 0, "checksum" },
	{ "checksummed field", 100, 1, 0x5A, 0, "checksum" },
	{ "checksum sector", 11 * 512 + 100, 1, 0x5A, 0, "checksum" },
};

START_TEST(test_hostile_boot)
{
	const char *base = test_path("hb.img"), *work = test_path("hbw.img");
	const struct boot_patch *c = &boot_patches[_i];
	struct vol v;
	struct test_fs_scan s;

	test_sh("[ -f '%s' ] || { truncate -s 32M '%s' && mkfs.exfat '%s' "
	    ">/dev/null; }; cp '%s' '%s'", base, base, base, base, work);
	patch(work, c->off, c->value, c->len);
	vol_open(&v, work);
	v.bps = 512;
	if (c->fix)
		fix_checksum(&v);
	s = scan_of(work);
	ck_assert_msg(s.probe_rc != 0 || s.used_rc != 0, "%s: accepted",
	    c->what);
	ck_assert_msg(strstr(img_ctx_message(s.ctx), c->msg) != NULL,
	    "%s: message '%s' lacks '%s'", c->what, img_ctx_message(s.ctx),
	    c->msg);
	scan_close(&s);
}
END_TEST

enum where { ENTRY_BITMAP, ENTRY_UPCASE, FAT_OF_BITMAP, FAT_OF_ROOT,
	ROOT_BIT };

struct meta_patch {
	const char *what;
	enum where where;
	unsigned off, len;	/* in the entry, the FAT entry or the bitmap */
	uint64_t value;
	const char *msg;
};

static const struct meta_patch meta_patches[] = {
	{ "bitmap deleted", ENTRY_BITMAP, 0, 1, 0x01, "lacks" },
	{ "bitmap cluster 0", ENTRY_BITMAP, 20, 4, 0, "bitmap entry" },
	{ "bitmap cluster beyond", ENTRY_BITMAP, 20, 4, 0x7FFFFF, "bitmap" },
	{ "bitmap length 0", ENTRY_BITMAP, 24, 8, 0, "bitmap entry" },
	{ "bitmap length small", ENTRY_BITMAP, 24, 8, 5, "too small" },
	{ "bitmap length huge", ENTRY_BITMAP, 24, 8, 1ull << 50, "bitmap" },
	{ "second bitmap only", ENTRY_BITMAP, 1, 1, 1, "lacks" },
	{ "up-case deleted", ENTRY_UPCASE, 0, 1, 0x02, "lacks" },
	{ "up-case cluster 1", ENTRY_UPCASE, 20, 4, 1, "up-case" },
	{ "bitmap FAT free", FAT_OF_BITMAP, 0, 4, 0, "not a link" },
	{ "bitmap FAT bad", FAT_OF_BITMAP, 0, 4, 0xFFFFFFF7, "not a link" },
	{ "bitmap FAT beyond", FAT_OF_BITMAP, 0, 4, 0x7FFFFF, "not a link" },
	{ "root FAT free", FAT_OF_ROOT, 0, 4, 0, "not a link" },
	{ "root marked free", ROOT_BIT, 0, 0, 0, "marks the root" },
};

/* Fills the first root directory cluster after its entries with deleted
 * entries and deletes the bitmap entry, so the walk goes on to the next
 * cluster of the chain. */
static void
root_without_bitmap(const struct vol *v)
{
	uint8_t del[32] = { 0x05 };
	uint64_t end = clus_off(v, v->root) + v->cs;

	for (uint64_t at = root_entry(v, 0x00); at < end; at += 32)
		test_write_file(v->path, del, 32, at);
	test_write_file(v->path, del, 1, root_entry(v, 0x81));
}

/* With 512-byte clusters the bitmap spans 16 clusters, so its FAT chain
 * matters. */
START_TEST(test_hostile_meta)
{
	const char *base = test_path("hm.img"), *work = test_path("hmw.img");
	const struct meta_patch *c = &meta_patches[_i];
	uint8_t d[32];
	uint64_t at = 0;
	struct vol v;
	struct test_fs_scan s;

	test_sh("[ -f '%s' ] || { truncate -s 32M '%s' && mkfs.exfat -c 512 "
	    "'%s' >/dev/null; }; cp '%s' '%s'", base, base, base, base, work);
	vol_open(&v, work);
	file_io(work, d, 32, root_entry(&v, 0x81), 0);
	switch (c->where) {
	case ENTRY_BITMAP:
		at = root_entry(&v, 0x81);
		break;
	case ENTRY_UPCASE:
		at = root_entry(&v, 0x82);
		break;
	case FAT_OF_BITMAP:
		at = v.fat_off + 4ull * (g32(d + 20) + 3);
		break;
	case FAT_OF_ROOT:
		at = v.fat_off + 4ull * v.root;
		root_without_bitmap(&v);
		break;
	case ROOT_BIT: {
		uint8_t b;

		at = clus_off(&v, g32(d + 20)) + (v.root - 2) / 8;
		file_io(work, &b, 1, at, 0);
		b &= (uint8_t)~(1 << ((v.root - 2) % 8));
		file_io(work, &b, 1, at, 1);
		break;
	}
	}
	if (c->len)
		patch(work, at + c->off, c->value, c->len);
	s = scan_of(work);
	ck_assert_msg(s.probe_rc != 0 || s.used_rc != 0, "%s: accepted",
	    c->what);
	ck_assert_msg(strstr(img_ctx_message(s.ctx), c->msg) != NULL,
	    "%s: message '%s' lacks '%s'", c->what, img_ctx_message(s.ctx),
	    c->msg);
	scan_close(&s);
}
END_TEST

/* A FAT loop in the root directory's chain and one in the bitmap's: the
 * walk stops (bounded by the cluster count or the bitmap size). */
START_TEST(test_hostile_loops)
{
	const char *img = test_path("loop.img");
	uint8_t d[32];
	struct vol v;
	struct test_fs_scan s;

	test_sh("rm -f '%s' && truncate -s 16M '%s' && mkfs.exfat -c 512 "
	    "'%s' >/dev/null", img, img, img);
	vol_open(&v, img);
	file_io(img, d, 32, root_entry(&v, 0x81), 0);
	patch(img, v.fat_off + 4ull * (g32(d + 20) + 5), g32(d + 20), 4);
	s = scan_of(img);
	ck_assert_int_eq(s.probe_rc, 0);	/* reads garbage, in bounds */
	if (s.used_rc == 0)
		test_fs_scan_assert_sane(&s);
	scan_close(&s);
	root_without_bitmap(&v);
	patch(img, v.fat_off + 4ull * v.root, v.root, 4);
	s = scan_of(img);
	ck_assert_int_eq(s.probe_rc, -EBADMSG);
	ck_assert_ptr_nonnull(strstr(img_ctx_message(s.ctx), "loops"));
	scan_close(&s);
}
END_TEST

/* Garbage, zeros, and random bytes in the boot sector (checksum fixed) and
 * the first root directory cluster: no crash, sane extents. */
START_TEST(test_hostile_garbage)
{
	const char *base = test_path("g.img"), *work = test_path("gw.img");
	static uint8_t buf[65536];
	uint8_t boot[512], root[512];
	struct vol v;
	struct test_fs_scan s;

	test_fill_random(buf, sizeof(buf), 42);
	memcpy(buf, "\xEB\x76\x90" "EXFAT   ", 11);
	test_write_file(work, buf, sizeof(buf), 0);
	s = scan_of(work);
	ck_assert_int_ne(s.probe_rc, 0);
	ck_assert_str_ne(img_ctx_message(s.ctx), "");
	scan_close(&s);
	test_sh("head -c 100 /dev/zero > '%s'", work);
	s = scan_of(work);
	ck_assert_int_eq(s.probe_rc, 1);
	scan_close(&s);
	test_sh("rm -f '%s' && truncate -s 16M '%s' && mkfs.exfat -c 512 "
	    "'%s' >/dev/null && cp '%s' '%s'", base, base, base, base, work);
	vol_open(&v, work);
	file_io(work, boot, 512, 0, 0);
	file_io(work, root, 512, clus_off(&v, v.root), 0);
	for (uint64_t seed = 1; seed <= 400; seed++) {
		uint8_t rnd[8];

		test_fill_random(rnd, sizeof(rnd), seed);
		file_io(work, boot, 512, 0, 1);
		file_io(work, root, 512, clus_off(&v, v.root), 1);
		if (seed & 1) {
			test_write_file(work, &rnd[1], 1, 64 + rnd[0] % 48);
			fix_checksum(&v);
		} else {
			test_write_file(work, &rnd[1], 1, clus_off(&v,
			    v.root) + (rnd[0] | rnd[2] << 8) % 512);
		}
		s = scan_of(work);
		ck_assert_msg(s.probe_rc == 0 || img_ctx_message(s.ctx)[0],
		    "seed %llu: no message", (unsigned long long)seed);
		if (s.probe_rc == 0 && s.used_rc == 0)
			test_fs_scan_assert_sane(&s);
		scan_close(&s);
	}
}
END_TEST

static Suite *
exfat_suite(void)
{
	Suite *s = suite_create("fs_exfat");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *hostile = tcase_create("hostile");

	tcase_add_test(core, test_default);
	tcase_add_test(core, test_small_clusters);
	tcase_add_test(core, test_large_clusters);
	tcase_add_test(core, test_pack_bitmap);
	tcase_add_test(core, test_4k_sectors);
	tcase_add_test(core, test_offset);
	tcase_set_timeout(core, 120);
	tcase_add_test(limits, test_dirty);
	tcase_add_test(limits, test_two_fats);
	tcase_add_test(limits, test_truncated);
	tcase_set_timeout(limits, 60);
	tcase_add_loop_test(hostile, test_hostile_boot, 0,
	    sizeof(boot_patches) / sizeof(boot_patches[0]));
	tcase_add_loop_test(hostile, test_hostile_meta, 0,
	    sizeof(meta_patches) / sizeof(meta_patches[0]));
	tcase_add_test(hostile, test_hostile_loops);
	tcase_add_test(hostile, test_hostile_garbage);
	tcase_set_timeout(hostile, 120);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	suite_add_tcase(s, hostile);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(exfat_suite());

	if (!test_have("mkfs.exfat") || !test_have("dump.exfat") ||
	    !test_have("fsck.exfat") || !test_have("mount.exfat-fuse"))
		return 77;	/* automake SKIP: no exfatprogs or exfat-fuse */
	if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0)
		return 77;	/* populating needs a loop device and FUSE */
	return test_run_suite(sr, "check_fs_exfat", "/tmp");
}
