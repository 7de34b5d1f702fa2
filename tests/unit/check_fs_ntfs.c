/*
 * check_fs_ntfs.c - the NTFS module against volumes made by mkntfs and
 * filled through ntfs-3g, compared with ntfsinfo's free-cluster count; a
 * $Bitmap split over two runs; the dirty flag and every $LogFile state;
 * and hostile boot sectors and MFT records (rewritten with valid fixups so
 * the deeper checks are reached), which must be refused with a message.
 * Needs root (FUSE mounts); exits 77 otherwise.
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

#define MARKER "imgtool-ntfs-deleted-marker-4c1d"



static void
scan_open(struct test_fs_scan *s, const char *path, uint64_t off, uint64_t len)
{
	test_fs_scan_open(s, &fs_ntfs_ops, "ntfs", path, off, len);
}

static void
scan_close(struct test_fs_scan *s)
{
	test_fs_scan_close(s);
}

static long long
ntfsinfo_field(const char *img, const char *field)
{
	return test_sh_num("ntfsinfo -m -f '%s' 2>/dev/null | sed -n "
	    "'s/^[[:space:]]*%s: *\\([0-9]*\\).*/\\1/p'", img, field);
}

/* mkntfs, then through an ntfs-3g mount: nested directories, files of
 * known sizes, and deleted files (one full of MARKER). */
static const char *
make_ntfs(const char *name, unsigned mib, const char *opts)
{
	const char *img = test_path(name);
	const char *mnt = test_path("mnt");

	test_sh("rm -f '%s' && truncate -s %uM '%s' && mkntfs -Q -F %s '%s' "
	    ">/dev/null 2>&1", img, mib, img, opts, img);
	/* The marker file is written in one go (cp): grown line by line it
	 * would start resident, and its first bytes would stay in the slack
	 * of its (in-use) MFT record after deletion. */
	test_sh("for i in $(seq 400); do echo " MARKER "; done > '%s'",
	    test_path("gone.src"));
	test_sh("mkdir -p '%s' && ntfs-3g '%s' '%s' && { cd '%s' && "
	    "mkdir -p d1/d2 && head -c 100000 /dev/urandom > a && "
	    "head -c 1 /dev/urandom > b && head -c 300000 /dev/urandom > d1/c"
	    " && : > d1/empty && for i in 1 2 3 4 5 6 7 8; do "
	    "head -c $((i * 3000)) /dev/urandom > d1/d2/f$i; done && "
	    "cp ../gone.src gone && head -c 50000 /dev/urandom > gone2 && "
	    "sync && rm gone gone2 d1/d2/f3; rc=$?; cd /; umount '%s'; "
	    "exit $rc; }", mnt, img, mnt, mnt, mnt);
	return img;
}

/* Exactly the clusters ntfsinfo counts used, plus the backup boot sector
 * (outside the cluster range); the boot sectors are stored. */
static void
check_against_ntfsinfo(const char *img, unsigned sector)
{
	long long clusters = ntfsinfo_field(img, "Volume Size in Clusters");
	long long free_cl = ntfsinfo_field(img, "Free Clusters");
	long long cs = ntfsinfo_field(img, "Cluster Size");
	unsigned long long d_used, d_total;
	struct test_fs_scan s;

	scan_open(&s, img, 0, 0);
	ck_assert_fs_scan_ok(&s);
	ck_assert_uint_eq(s.fs.block_size, cs);
	ck_assert_uint_eq(s.fs.block_count, clusters);
	ck_assert_int_eq(s.fs.flags, 0);
	ck_assert_int_eq(s.warnings, 0);
	test_fs_scan_assert_sane(&s);
	ck_assert_uint_eq(img_extents_total(&s.used),
	    (clusters - free_cl) * cs + sector);
	ck_assert_uint_eq(img_extents_covered(&s.used, 0, sector), sector);
	ck_assert_uint_eq(img_extents_covered(&s.used, s.fs.len - sector,
	    sector), sector);
	ck_assert_int_eq(sscanf(s.desc, "ntfs 3.1, %*u-byte clusters, %llu "
	    "of %llu clusters used, log empty", &d_used, &d_total), 2);
	ck_assert_uint_eq(d_used, clusters - free_cl);
	ck_assert_uint_eq(d_total, clusters);
	test_fs_scan_assert_no_marker(&s, img, MARKER);
	scan_close(&s);
}

START_TEST(test_default)
{
	check_against_ntfsinfo(make_ntfs("def.img", 64, ""), 512);
}
END_TEST

START_TEST(test_small_clusters)
{
	check_against_ntfsinfo(make_ntfs("c512.img", 48, "-c 512"), 512);
}
END_TEST

START_TEST(test_large_clusters)
{
	check_against_ntfsinfo(make_ntfs("c64k.img", 96, "-c 65536"), 512);
}
END_TEST

START_TEST(test_4k_sectors)
{
	check_against_ntfsinfo(make_ntfs("s4k.img", 64, "-s 4096 -c 8192"),
	    4096);
}
END_TEST

/* At 1 MiB into a file, in a "partition" 3 MiB longer than the volume:
 * the same extents shifted, plus the partition's last sector. */
START_TEST(test_offset)
{
	const char *img = make_ntfs("plain.img", 48, "");
	const char *big = test_path("big.img");
	uint64_t part = 51ull << 20;
	struct test_fs_scan a, b;

	test_sh("truncate -s 56M '%s' && dd if='%s' of='%s' bs=1M seek=1 "
	    "conv=notrunc status=none", big, img, big);
	scan_open(&a, img, 0, 0);
	scan_open(&b, big, 1 << 20, part);
	ck_assert_fs_scan_ok(&a);
	ck_assert_fs_scan_ok(&b);
	test_fs_scan_assert_sane(&b);
	ck_assert_uint_eq(img_extents_total(&b.used),
	    img_extents_total(&a.used) + 512);
	for (size_t i = 0; i < a.used.n; i++)
		ck_assert_uint_eq(img_extents_covered(&b.used,
		    a.used.v[i].off + (1 << 20), a.used.v[i].len),
		    a.used.v[i].len);
	ck_assert_uint_eq(img_extents_covered(&b.used, (1 << 20) + part - 512,
	    512), 512);
	ck_assert_str_eq(a.desc, b.desc);
	scan_close(&a);
	scan_close(&b);
}
END_TEST

/* --- direct MFT record editing, for the crafted cases --- */

struct vol {
	const char *path;
	uint32_t bps, cs, rec;
	uint64_t mft_off;
};

static uint16_t
g16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
g32(const uint8_t *p)
{
	return g16(p) | (uint32_t)g16(p + 2) << 16;
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
	int8_t cpr;

	file_io(path, bs, sizeof(bs), 0, 0);
	v->path = path;
	v->bps = g16(bs + 0x0B);
	v->cs = v->bps * bs[0x0D];
	cpr = (int8_t)bs[0x40];
	v->rec = cpr > 0 ? cpr * v->cs : 1u << -cpr;
	/* mkntfs keeps the first records in $MFT's first cluster run */
	v->mft_off = (uint64_t)g32(bs + 0x30) * v->cs;
}

/* Reads record n and undoes its fixups. */
static void
rec_read(const struct vol *v, unsigned n, uint8_t *r)
{
	uint16_t ofs;

	file_io(v->path, r, v->rec, v->mft_off + (uint64_t)n * v->rec, 0);
	ofs = g16(r + 4);
	for (unsigned i = 1; i < g16(r + 6); i++)
		memcpy(r + i * 512 - 2, r + ofs + 2 * i, 2);
}

/* Redoes the fixups of r and writes it as record n. */
static void
rec_write(const struct vol *v, unsigned n, uint8_t *r)
{
	uint16_t ofs = g16(r + 4);

	for (unsigned i = 1; i < g16(r + 6); i++) {
		memcpy(r + ofs + 2 * i, r + i * 512 - 2, 2);
		memcpy(r + i * 512 - 2, r + ofs, 2);
	}
	file_io(v->path, r, v->rec, v->mft_off + (uint64_t)n * v->rec, 1);
}

static uint32_t
attr_find(const uint8_t *r, uint32_t type)
{
	uint32_t off = g16(r + 0x14);

	while (g32(r + off) != type) {
		ck_assert_uint_ne(g32(r + off), 0xFFFFFFFF);
		off += g32(r + off + 4);
	}
	return off;
}

/* LCN of the first run of the $DATA of record n. */
static uint64_t
data_lcn(const struct vol *v, unsigned n, uint64_t *len)
{
	uint8_t r[4096];
	uint32_t a;
	const uint8_t *p;
	unsigned nl, no;
	uint64_t lcn = 0, l = 0;

	rec_read(v, n, r);
	a = attr_find(r, 0x80);
	p = r + a + g16(r + a + 0x20);
	nl = p[0] & 15;
	no = p[0] >> 4;
	for (unsigned i = 0; i < nl; i++)
		l |= (uint64_t)p[1 + i] << (8 * i);
	for (unsigned i = 0; i < no; i++)
		lcn |= (uint64_t)p[1 + nl + i] << (8 * i);
	if (len)
		*len = l;
	return lcn;
}

static struct test_fs_scan
scan_of(const char *img)
{
	struct test_fs_scan s;

	scan_open(&s, img, 0, 0);
	return s;
}

/* $Volume's VOLUME_IS_DIRTY: a warning flag, the bitmap is still used. */
START_TEST(test_dirty)
{
	const char *img = make_ntfs("dirty.img", 48, "");
	struct vol v;
	uint8_t r[4096];
	uint32_t a;
	uint64_t before;
	struct test_fs_scan s;

	s = scan_of(img);
	ck_assert_fs_scan_ok(&s);
	before = img_extents_total(&s.used);
	scan_close(&s);
	vol_open(&v, img);
	rec_read(&v, 3, r);
	a = attr_find(r, 0x70);
	r[a + g16(r + a + 0x14) + 10] |= 0x01;
	rec_write(&v, 3, r);
	s = scan_of(img);
	ck_assert_fs_scan_ok(&s);
	ck_assert_int_eq(s.fs.flags, FS_INFO_DIRTY);
	ck_assert_uint_eq(img_extents_total(&s.used), before);
	ck_assert_ptr_nonnull(strstr(s.desc, ", dirty"));
	scan_close(&s);
}
END_TEST

/* A restart page ([layout] RESTART_PAGE_HEADER + RESTART_AREA) at byte pos
 * of the $LogFile, for 4 KiB system pages. */
static void
write_restart(const struct vol *v, uint64_t pos, const char *magic,
    uint64_t lsn, uint16_t in_use, uint16_t flags)
{
	uint8_t p[4096] = { 0 };	/* a whole page: zeros after the area */

	memcpy(p, magic, 4);
	put(p + 4, 0x1E, 2);		/* update sequence offset */
	put(p + 6, 9, 2);		/* and count: 4096 / 512 + 1 */
	if (magic[0] == 'C')
		put(p + 8, lsn, 8);	/* chkdsk LSN */
	put(p + 0x10, 4096, 4);		/* system page size */
	put(p + 0x14, 4096, 4);		/* log page size */
	put(p + 0x18, 0x30, 2);		/* restart area offset */
	put(p + 0x1A, 1, 2);		/* version 1.1 */
	put(p + 0x1C, 1, 2);
	put(p + 0x30, lsn, 8);		/* current LSN */
	put(p + 0x38, 1, 2);		/* log clients */
	put(p + 0x3A, 0xFFFF, 2);	/* free list */
	put(p + 0x3C, in_use, 2);
	put(p + 0x3E, flags, 2);
	file_io(v->path, p, sizeof(p), data_lcn(v, 2, NULL) * v->cs + pos, 1);
}

struct log_case {
	const char *what;
	const char *magic0, *magic1;	/* NULL: leave as it is */
	uint64_t lsn0, lsn1;
	uint16_t in_use0, flags0, in_use1, flags1;
	unsigned want_flags;
	const char *want_log;
};

static const struct log_case log_cases[] = {
	{ "clean, client open", "RSTR", "RSTR", 10, 10, 0, 2, 0, 2, 0,
	    "clean" },
	{ "clean, no client", "RSTR", "RSTR", 10, 10, 0xFFFF, 0, 0xFFFF, 0,
	    0, "clean" },
	{ "unclean", "RSTR", "RSTR", 10, 10, 0, 0, 0, 0,
	    FS_INFO_DIRTY | FS_INFO_STALE_MAP, "unclean" },
	{ "newer page clean", "RSTR", "RSTR", 10, 11, 0, 0, 0, 2, 0,
	    "clean" },
	{ "newer page unclean", "RSTR", "RSTR", 12, 11, 0, 0, 0, 2,
	    FS_INFO_DIRTY | FS_INFO_STALE_MAP, "unclean" },
	{ "chkdsk page", "CHKD", "CHKD", 10, 10, 0, 2, 0, 2, 0, "clean" },
	{ "only the second page", "XXXX", "RSTR", 0, 10, 0, 0, 0, 2, 0,
	    "clean" },
	{ "garbage", "XXXX", "YYYY", 0, 0, 0, 0, 0, 0,
	    FS_INFO_DIRTY | FS_INFO_STALE_MAP, "unreadable" },
	{ "in-use index out of range", "RSTR", NULL, 10, 0, 5, 2, 0, 0,
	    FS_INFO_DIRTY | FS_INFO_STALE_MAP, "unreadable" },
};

/* Every $LogFile state: clean and empty logs use the bitmap; unclean and
 * unreadable ones ask for a full copy, with a warning. */
START_TEST(test_logfile)
{
	const struct log_case *c = &log_cases[_i];
	const char *base = test_path("logbase.img");
	const char *img = test_path("log.img");
	struct vol v;
	struct test_fs_scan s;

	test_sh("rm -f '%s' && truncate -s 32M '%s' && mkntfs -Q -F '%s' "
	    ">/dev/null 2>&1 && cp '%s' '%s'", base, base, base, base, img);
	vol_open(&v, img);
	write_restart(&v, 0, c->magic0, c->lsn0, c->in_use0, c->flags0);
	if (c->magic1)
		write_restart(&v, 4096, c->magic1, c->lsn1, c->in_use1,
		    c->flags1);
	s = scan_of(img);
	ck_assert_msg(s.probe_rc == 0, "%s: probe %d: %s", c->what,
	    s.probe_rc, img_ctx_message(s.ctx));
	ck_assert_msg(s.fs.flags == c->want_flags, "%s: flags %u", c->what,
	    s.fs.flags);
	ck_assert_msg(strstr(s.desc, c->want_log) != NULL, "%s: %s", c->what,
	    s.desc);
	ck_assert_int_eq(s.warnings, c->want_flags ? 1 : 0);
	scan_close(&s);
}
END_TEST

/* Encodes a mapping pair (length, LCN delta) at p; returns its size. */
static unsigned
pair(uint8_t *p, uint64_t len, int64_t delta)
{
	unsigned nl = 1, no = 1;

	while (nl < 8 && len >> (8 * nl - 1))
		nl++;
	while (no < 8 && (delta >> (8 * no - 1)) != 0 &&
	    (delta >> (8 * no - 1)) != -1)
		no++;
	p[0] = (uint8_t)(no << 4 | nl);
	put(p + 1, len, nl);
	put(p + 1 + nl, (uint64_t)delta, no);
	return 1 + nl + no;
}

/* Moves the last cluster of $Bitmap to a free cluster F in the second
 * half of the volume (marking F used and the old one free) and rewrites
 * record 6 with two runs. Returns F. */
static uint64_t
split_bitmap(const struct vol *v, uint64_t clusters)
{
	uint8_t r[4096], *bm, pairs[32];
	uint64_t len, lcn = data_lcn(v, 6, &len), f, old;
	uint32_t a, mp, alen, used, n, nlen;

	ck_assert_uint_ge(len, 2);
	bm = malloc(len * v->cs);
	file_io(v->path, bm, len * v->cs, lcn * v->cs, 0);
	for (f = clusters / 2; bm[f / 8] >> (f % 8) & 1; f++)
		;
	old = lcn + len - 1;
	bm[f / 8] |= (uint8_t)(1 << (f % 8));
	bm[old / 8] &= (uint8_t)~(1 << (old % 8));
	file_io(v->path, bm, (len - 1) * v->cs, lcn * v->cs, 1);
	file_io(v->path, bm + (len - 1) * v->cs, v->cs, f * v->cs, 1);
	free(bm);
	rec_read(v, 6, r);
	a = attr_find(r, 0x80);
	mp = g16(r + a + 0x20);
	alen = g32(r + a + 4);
	used = g32(r + 0x18);
	n = pair(pairs, len - 1, (int64_t)lcn);
	n += pair(pairs + n, 1, (int64_t)(f - lcn));
	pairs[n++] = 0;
	nlen = (mp + n + 7) & ~7u;
	ck_assert_uint_le(used + nlen - alen, v->rec - 8);
	memmove(r + a + nlen, r + a + alen, used - a - alen);
	memset(r + a + mp, 0, nlen - mp);
	memcpy(r + a + mp, pairs, n);
	put(r + a + 4, nlen, 4);
	put(r + 0x18, used + nlen - alen, 4);
	rec_write(v, 6, r);
	return f;
}

/* A $Bitmap in two runs: ntfs-3g still reads the volume and counts the
 * same free clusters; the module stores the moved cluster and not the
 * old one. */
START_TEST(test_split_bitmap)
{
	const char *img = make_ntfs("split.img", 48, "-c 512");
	long long clusters = ntfsinfo_field(img, "Volume Size in Clusters");
	struct vol v;
	uint64_t f, lcn, len;

	vol_open(&v, img);
	lcn = data_lcn(&v, 6, &len);
	f = split_bitmap(&v, (uint64_t)clusters);
	test_sh("ntfsfix -n '%s' >/dev/null 2>&1", img);
	check_against_ntfsinfo(img, 512);
	{
		struct test_fs_scan s = scan_of(img);

		ck_assert_fs_scan_ok(&s);
		ck_assert_uint_eq(img_extents_covered(&s.used, f * 512, 512),
		    512);
		ck_assert_uint_eq(img_extents_covered(&s.used,
		    (lcn + len - 1) * 512, 512), 0);
		scan_close(&s);
	}
}
END_TEST

/* The file ends inside the volume: an error, never a crash. */
START_TEST(test_truncated)
{
	const char *img = test_path("trunc.img");
	struct test_fs_scan s;

	test_sh("rm -f '%s' && truncate -s 32M '%s' && mkntfs -Q -F '%s' "
	    ">/dev/null 2>&1 && truncate -s 8M '%s'", img, img, img, img);
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
};

static const struct boot_patch boot_patches[] = {
	{ "OEM id", 3, 4, 0x5346544E ^ 1 },
	{ "bytes per sector 0", 0x0B, 2, 0 },
	{ "bytes per sector 1000", 0x0B, 2, 1000 },
	{ "bytes per sector 8192", 0x0B, 2, 8192 },
	{ "sectors per cluster 3", 0x0D, 1, 3 },
	{ "sectors per cluster 0", 0x0D, 1, 0 },
	{ "sectors per cluster 0x90", 0x0D, 1, 0x90 },
	{ "sectors per cluster 0xF0 (too large)", 0x0D, 1, 0xF0 },
	{ "reserved sectors", 0x0E, 2, 1 },
	{ "FATs", 0x10, 1, 2 },
	{ "total sectors 0", 0x28, 8, 0 },
	{ "total sectors beyond the file", 0x28, 8, 1ull << 40 },
	{ "total sectors huge", 0x28, 8, UINT64_MAX },
	{ "$MFT at 0", 0x30, 8, 0 },
	{ "$MFT beyond", 0x30, 8, 1ull << 40 },
	{ "$MFT elsewhere", 0x30, 8, 100 },
	{ "$MFTMirr beyond", 0x38, 8, UINT64_MAX },
	{ "record size 0", 0x40, 1, 0 },
	{ "record size 2^-8", 0x40, 1, 0xF8 },
	{ "record size 2^-20", 0x40, 1, 0xEC },
	{ "record size 127 clusters", 0x40, 1, 127 },
};

START_TEST(test_hostile_boot)
{
	const char *base = test_path("hb.img"), *work = test_path("hbw.img");
	const struct boot_patch *c = &boot_patches[_i];
	uint8_t le[8];
	struct test_fs_scan s;

	test_sh("[ -f '%s' ] || { truncate -s 32M '%s' && mkntfs -Q -F '%s' "
	    ">/dev/null 2>&1; }; cp '%s' '%s'", base, base, base, base, work);
	put(le, c->value, c->len);
	test_write_file(work, le, c->len, c->off);
	s = scan_of(work);
	ck_assert_msg(s.probe_rc != 0 || s.used_rc != 0, "%s: accepted",
	    c->what);
	ck_assert_msg(img_ctx_message(s.ctx)[0] != '\0', "%s: no message",
	    c->what);
	scan_close(&s);
}
END_TEST

struct rec_patch {
	const char *what;
	unsigned rec;
	uint32_t attr;		/* 0: offset in the record header */
	int pairs;		/* offset relative to the mapping pairs */
	unsigned off, len;
	uint64_t value;		/* little-endian, len bytes */
	const char *msg;	/* expected in the message */
};

/* mkntfs on 32 MiB: $Bitmap's pairs are 21 01 07 04 (one cluster at
 * 0x407), $MFT's 11 07 04, $LogFile's 22 00 02 00 10. */
static const struct rec_patch rec_patches[] = {
	{ "BAAD record", 6, 0, 0, 0, 4, 0x44414142, "FILE signature" },
	{ "not in use", 6, 0, 0, 0x16, 2, 0, "in-use base" },
	{ "extension record", 6, 0, 0, 0x20, 8, 5, "in-use base" },
	{ "wrong number", 6, 0, 0, 0x2C, 4, 7, "says it is record 7" },
	{ "bytes in use too big", 6, 0, 0, 0x18, 4, 0x10000, "header sizes" },
	{ "allocated wrong", 6, 0, 0, 0x1C, 4, 4096, "header sizes" },
	{ "attributes odd", 6, 0, 0, 0x14, 2, 0x39, "header sizes" },
	{ "usa count", 6, 0, 0, 0x06, 2, 7, "update sequence" },
	{ "usa offset", 6, 0, 0, 0x04, 2, 0x1FF, "update sequence" },
	{ "attr length 0", 6, 0x80, 0, 4, 4, 0, "malformed attributes" },
	{ "attr length huge", 6, 0x80, 0, 4, 4, 0x7FFFFFF8, "malformed" },
	{ "attr length odd", 6, 0x80, 0, 4, 4, 0x41, "malformed" },
	{ "no $DATA", 6, 0x80, 0, 0, 4, 0x90, "no $DATA" },
	{ "resident", 6, 0x80, 0, 8, 1, 0, "resident" },
	{ "compressed", 6, 0x80, 0, 0x0C, 2, 1, "compressed" },
	{ "sparse", 6, 0x80, 0, 0x0C, 2, 0x8000, "sparse" },
	{ "lowest VCN 1", 6, 0x80, 0, 0x10, 8, 1, "VCN 0" },
	{ "highest VCN huge", 6, 0x80, 0, 0x18, 8, 1ull << 40, "bad sizes" },
	{ "highest VCN 1", 6, 0x80, 0, 0x18, 8, 1, "end before" },
	{ "data > allocated", 6, 0x80, 0, 0x30, 8, 1ull << 40, "bad sizes" },
	{ "initialized 0", 6, 0x80, 0, 0x38, 8, 0, "holds 0 bytes" },
	{ "pairs offset past", 6, 0x80, 0, 0x20, 2, 0x7FF, "pairs offset" },
	{ "pairs offset low", 6, 0x80, 0, 0x20, 2, 0x10, "pairs offset" },
	{ "pair header 0x99", 6, 0x80, 1, 0, 1, 0x99, "malformed" },
	{ "pair sparse", 6, 0x80, 1, 0, 3, 0x000101, "sparse" },
	{ "pair length 0", 6, 0x80, 1, 0, 4, 0x04070021, "nonpositive" },
	{ "pair length -1", 6, 0x80, 1, 0, 4, 0x040701FF21, "nonpositive" },
	{ "pair LCN beyond", 6, 0x80, 1, 0, 5, 0x7FFFFF0131, "outside" },
	{ "pair LCN negative", 6, 0x80, 1, 0, 4, 0xF0000121, "outside" },
	{ "pair past the end", 6, 0x80, 1, 0, 5, 0x1F00100022, "past the" },
	{ "two runs", 6, 0x80, 1, 0, 8, 0x0001011104070121, "exceed" },
	{ "$MFT moved", 0, 0x80, 1, 2, 1, 0x77, "do not start" },
	{ "$MFT no $DATA", 0, 0x80, 0, 0, 4, 0x90, "no $DATA" },
	{ "$Volume version 4.0", 3, 0x70, 0, 0x18 + 8, 1, 4, "version 4.1" },
	{ "$Volume no info", 3, 0x70, 0, 0, 4, 0x71, "volume information" },
	{ "$LogFile sparse", 2, 0x80, 1, 0, 1, 0x02, "sparse" },
};

/* Records rewritten with valid fixups, so the deeper checks fire; the
 * update sequence cases are written raw. */
START_TEST(test_hostile_records)
{
	const char *base = test_path("hr.img"), *work = test_path("hrw.img");
	const struct rec_patch *c = &rec_patches[_i];
	uint8_t r[4096];
	uint32_t at = 0;
	struct vol v;
	struct test_fs_scan s;

	test_sh("[ -f '%s' ] || { truncate -s 32M '%s' && mkntfs -Q -F '%s' "
	    ">/dev/null 2>&1; }; cp '%s' '%s'", base, base, base, base, work);
	vol_open(&v, work);
	if (c->attr == 0 && (c->off == 0x04 || c->off == 0x06)) {
		file_io(v.path, r, v.rec, v.mft_off + 6 * v.rec, 0);
		put(r + c->off, c->value, c->len);
		file_io(v.path, r, v.rec, v.mft_off + 6 * v.rec, 1);
	} else {
		rec_read(&v, c->rec, r);
		if (c->attr)
			at = attr_find(r, c->attr);
		if (c->pairs)
			at += g16(r + at + 0x20);
		put(r + at + c->off, c->value, c->len);
		rec_write(&v, c->rec, r);
	}
	s = scan_of(work);
	ck_assert_msg(s.probe_rc != 0 || s.used_rc != 0, "%s: accepted",
	    c->what);
	ck_assert_msg(strstr(img_ctx_message(s.ctx), c->msg) != NULL,
	    "%s: message '%s' lacks '%s'", c->what, img_ctx_message(s.ctx),
	    c->msg);
	scan_close(&s);
}
END_TEST

/* Bitmap damage: a $Bitmap that leaves its own clusters free. A torn
 * record (block end not matching the update sequence number). */
START_TEST(test_hostile_bitmap)
{
	const char *img = test_path("hbm.img");
	uint8_t zero = 0, r[4096];
	uint64_t len, lcn;
	struct vol v;
	struct test_fs_scan s;

	test_sh("rm -f '%s' && truncate -s 32M '%s' && mkntfs -Q -F '%s' "
	    ">/dev/null 2>&1", img, img, img);
	vol_open(&v, img);
	lcn = data_lcn(&v, 6, &len);
	test_write_file(img, &zero, 1, lcn * v.cs);	/* clusters 0..7 */
	s = scan_of(img);
	ck_assert_int_eq(s.probe_rc, 0);
	ck_assert_int_eq(s.used_rc, -EBADMSG);
	ck_assert_ptr_nonnull(strstr(img_ctx_message(s.ctx), "free"));
	scan_close(&s);
	file_io(img, r, v.rec, v.mft_off + 6 * v.rec, 0);
	r[510] ^= 0xFF;
	file_io(img, r, v.rec, v.mft_off + 6 * v.rec, 1);
	s = scan_of(img);
	ck_assert_int_eq(s.probe_rc, -EBADMSG);
	ck_assert_ptr_nonnull(strstr(img_ctx_message(s.ctx), "torn"));
	scan_close(&s);
}
END_TEST

/* Garbage, zeros, short files, and random bytes anywhere in the boot
 * sector and the four system records: no crash, sane extents. */
START_TEST(test_hostile_garbage)
{
	const char *base = test_path("g.img"), *work = test_path("gw.img");
	static uint8_t buf[65536];
	uint8_t orig[4 * 4096 + 512];
	static const unsigned recs[] = { 0, 2, 3, 6 };
	struct vol v;
	struct test_fs_scan s;

	test_fill_random(buf, sizeof(buf), 42);
	memcpy(buf + 3, "NTFS    ", 8);
	test_write_file(work, buf, sizeof(buf), 0);
	s = scan_of(work);
	ck_assert_int_ne(s.probe_rc, 0);
	ck_assert_str_ne(img_ctx_message(s.ctx), "");
	scan_close(&s);
	test_sh("head -c 100 /dev/zero > '%s'", work);
	scan_open(&s, work, 0, 0);
	ck_assert_int_eq(s.probe_rc, 1);
	scan_close(&s);
	test_sh("rm -f '%s' && truncate -s 16M '%s' && mkntfs -Q -F '%s' "
	    ">/dev/null 2>&1 && cp '%s' '%s'", base, base, base, base, work);
	vol_open(&v, work);
	file_io(work, orig, 512, 0, 0);
	for (unsigned k = 0; k < 4; k++)
		rec_read(&v, recs[k], orig + 512 + k * 4096);
	for (uint64_t seed = 1; seed <= 400; seed++) {
		uint8_t rnd[8], r[4096];
		unsigned k = seed % 5;

		test_fill_random(rnd, sizeof(rnd), seed);
		file_io(work, orig, 512, 0, 1);
		for (unsigned j = 0; j < 4; j++) {
			memcpy(r, orig + 512 + j * 4096, v.rec);
			rec_write(&v, recs[j], r);
		}
		if (k == 4) {	/* boot sector bytes 0x0B..0x47 */
			test_write_file(work, &rnd[1], 1, 0x0B + rnd[0] % 0x3D);
		} else {	/* after the fixups: mostly still valid */
			uint64_t at = v.mft_off + recs[k] * v.rec;

			test_write_file(work, &rnd[1], 1, at +
			    (rnd[0] | rnd[2] << 8) % 0x200);
			if (rnd[3] & 1)
				test_write_file(work, &rnd[5], 1, at + 0x40 +
				    rnd[4] % 0x180);
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
ntfs_suite(void)
{
	Suite *s = suite_create("fs_ntfs");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *hostile = tcase_create("hostile");

	tcase_add_test(core, test_default);
	tcase_add_test(core, test_small_clusters);
	tcase_add_test(core, test_large_clusters);
	tcase_add_test(core, test_4k_sectors);
	tcase_add_test(core, test_offset);
	tcase_add_test(core, test_split_bitmap);
	tcase_set_timeout(core, 120);
	tcase_add_test(limits, test_dirty);
	tcase_add_loop_test(limits, test_logfile, 0,
	    sizeof(log_cases) / sizeof(log_cases[0]));
	tcase_add_test(limits, test_truncated);
	tcase_set_timeout(limits, 60);
	tcase_add_loop_test(hostile, test_hostile_boot, 0,
	    sizeof(boot_patches) / sizeof(boot_patches[0]));
	tcase_add_loop_test(hostile, test_hostile_records, 0,
	    sizeof(rec_patches) / sizeof(rec_patches[0]));
	tcase_add_test(hostile, test_hostile_bitmap);
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
	SRunner *sr = srunner_create(ntfs_suite());

	if (!test_have("mkntfs") || !test_have("ntfs-3g") ||
	    !test_have("ntfsinfo") || !test_have("ntfsfix"))
		return 77;	/* automake SKIP: no ntfs-3g package */
	if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0)
		return 77;	/* populating needs an ntfs-3g FUSE mount */
	return test_run_suite(sr, "check_fs_ntfs", "/tmp");
}
