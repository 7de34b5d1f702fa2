/*
 * check_fs_xfs.c - the XFS module against filesystems made by mkfs.xfs:
 * the bytes it marks used must be exactly what xfs_db counts used.
 *
 * xfs_db "freesp -s" sums every free extent of the free-space btrees plus
 * the blocks on each AG free list (AGFL), so
 *     used = (sb_dblocks - freesp total) * sb_blocksize
 * exactly. sb_fdblocks (after a clean unmount or mkfs) is that free total
 * plus agf_btreeblks of every AG (free-space btree blocks beyond the roots
 * count as free space there, but hold the trees), which the variant test
 * asserts as well. The internal log, AG headers and all btrees count used.
 *
 * As root the filesystems are populated through loop mounts (then half the
 * small files are deleted, which fragments free space into multi-level
 * bnobt trees on 1 KiB blocks); otherwise, and for v4 (which this kernel
 * no longer mounts), through mkfs.xfs -p protofiles. Damage is written
 * with xfs_db -x "write -d", which keeps CRCs valid, so the structural
 * checks are reached, and with dd, which breaks CRCs.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "testlib.h"
#include "dev.h"
#include "extents.h"
#include "formats.h"

#define MIB (1024ull * 1024)
#define N_SMALL 1200
/* mkfs.xfs refuses filesystems under 300 MiB and logs under 64 MiB unless
 * it believes fstests runs it */
#define MKFS "TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1 mkfs.xfs -f -q"
/* xfs_fs.h: shut the filesystem down, flushing the log first (what
 * xfs_io's "shutdown -f" does; xfs_io itself stats every mount point,
 * which hangs on a stuck FUSE mount of anyone else) */
#define XFS_IOC_GOINGDOWN	_IOR('X', 125, uint32_t)
#define XFS_GOING_LOGFLUSH	0x1

struct variant {
	const char *name;
	const char *opts;	/* mkfs.xfs options */
	unsigned size_mib;
	int v4;			/* populate by protofile only */
	int want_levels;	/* deepest bnobt at least this (when mounted) */
};

static const struct variant variants[] = {
	{ "v5-4ag", "-d agcount=4", 96, 0, 1 },
	/* 1 KiB blocks: leaves hold 121 records, so fragmentation gives
	 * two-level trees; a small log wraps around during population */
	{ "v5-1k-frag", "-b size=1024 -d agcount=2 -l size=3527b", 64, 0, 2 },
	/* 101 MiB in 5 AGs: the last AG is shorter */
	{ "v5-lastag", "-d agcount=5", 101, 0, 1 },
	{ "v5-4ksect", "-s size=4096 -l su=32k", 96, 0, 1 },
	{ "v5-rmap", "-b size=2048 -m rmapbt=1,reflink=1 -i nrext64=1", 96, 0,
	    1 },
	{ "v4-512", "-m crc=0 -b size=512", 64, 1, 1 },
};

#define N_VARIANTS ((int)(sizeof(variants) / sizeof(variants[0])))
enum { V_FRAG = 1 };

/* set by the fixtures, in the parent before the forks */
static int can_mount, tree_made;
static long long deep_ag;	/* an AG of base.img with a two-level bnobt */

/* 1200 small files of 1..4000 bytes and a 6 MiB random file; a protofile
 * for it; and whether this process can loop-mount XFS. */
static void
make_tree(void)
{
	static unsigned char buf[6 * MIB];
	char name[64];

	if (tree_made++)
		return;
	test_sh("mkdir -p '%s/small'", test_path("tree"));
	test_fill_random(buf, sizeof(buf), 42);
	for (unsigned i = 1; i <= N_SMALL; i++) {
		snprintf(name, sizeof(name), "tree/small/f%u", i);
		test_write_file(test_path(name), buf + i * 977,
		    i * 53 % 4000 + 1, 0);
	}
	test_write_file(test_path("tree/big.bin"), buf, sizeof(buf), 0);
	test_sh("cd '%s' && { echo /dev/null; echo 0 0; echo d--755 0 0; "
	    "echo small d--755 0 0; for f in small/*; do "
	    "echo \"${f#small/} ---644 0 0 $PWD/$f\"; done; echo '$'; "
	    "echo \"big.bin ---644 0 0 $PWD/big.bin\"; echo '$'; } > '%s'",
	    test_path("tree"), test_path("proto"));
	can_mount = getuid() == 0 && system("truncate -s 300M "
	    "\"$TMPDIR/mnt.img\" && mkfs.xfs -q \"$TMPDIR/mnt.img\" && "
	    "mkdir -p \"$TMPDIR/mnt\" && mount -o loop \"$TMPDIR/mnt.img\" "
	    "\"$TMPDIR/mnt\" 2>/dev/null && umount \"$TMPDIR/mnt\"") == 0;
	test_sh("rm -f \"$TMPDIR/mnt.img\"");
}

static long long
db_num(const char *img, const char *cmd, const char *field)
{
	return test_sh_num("xfs_db -r -c '%s' -c 'p %s' '%s' | "
	    "sed -n 's/^%s = //p'", cmd, field, img, field);
}

static long long
freesp_total(const char *img)
{
	return test_sh_num("xfs_db -r -c 'freesp -s' '%s' | "
	    "sed -n 's/^total free blocks //p'", img);
}

/* Forces the log n times: each fsync after a size change writes a log
 * record, which wraps a small log. Returns the number of failures. */
static int
churn_log(const char *mnt, int n)
{
	char path[600] = "";
	int bad = 0;

	snprintf(path, sizeof(path), "%s/churn", mnt);
	for (int i = 0; i < n; i++) {
		int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);

		bad += fd < 0 || write(fd, path, 100) != 100 || fsync(fd) != 0;
		if (fd >= 0)
			close(fd);
	}
	return bad + (unlink(path) != 0);
}

/* Copies the tree in, writes it back (so it is allocated), deletes every
 * small file with an even number (a scattered half: cp allocates in
 * readdir order) and, when churn, wraps the log. */
static void
populate_mounted(const char *img, const char *mnt, int churn)
{
	int bad = 0;

	test_sh("mkdir -p '%s' && mount -o loop '%s' '%s'", mnt, img, mnt);
	test_sh("{ cp -a '%s/.' '%s/' && sync -f '%s' && "
	    "rm -f '%s'/small/f*[02468]; } || { umount '%s'; exit 1; }",
	    test_path("tree"), mnt, mnt, mnt, mnt);
	if (churn)
		bad = churn_log(mnt, 1500);
	test_sh("umount '%s'", mnt);
	ck_assert_int_eq(bad, 0);
}

static const char *
make_fs(const struct variant *v, int *mounted)
{
	const char *img = test_path(v->name);
	char mnt[512];

	*mounted = can_mount && !v->v4;
	test_sh("rm -f '%s' && truncate -s %uM '%s' && %s %s %s%s '%s' "
	    ">/dev/null 2>&1", img, v->size_mib, img, MKFS, v->opts,
	    *mounted ? "" : "-p ", *mounted ? "" : test_path("proto"), img);
	snprintf(mnt, sizeof(mnt), "%s.mnt", img);
	if (*mounted)
		populate_mounted(img, mnt, v->want_levels > 1);
	return img;
}

/* The module run over [off, off + len) of img (testlib); returns
 * used_extents' result (or the probe's if not 0). */
static int
scan_fs(struct test_fs_scan *s, const char *img, uint64_t off, uint64_t len)
{
	test_fs_scan_open(s, &fs_xfs_ops, "xfs", img, off, len);
	return s->probe_rc ? s->probe_rc : s->used_rc;
}

/* release leaves no module state behind */
static void
scan_done(struct test_fs_scan *s)
{
	test_fs_scan_close(s);
	ck_assert_ptr_null(s->fs.priv);
}

/* Sorted, non-overlapping, inside the filesystem, starting with the
 * superblock. */
static void
assert_extents_sane(const struct test_fs_scan *s, uint64_t fs_bytes)
{
	const struct img_extents *e = &s->used;

	ck_assert_uint_gt(e->n, 0);
	ck_assert_uint_eq(e->v[0].off, s->fs.off);
	for (size_t i = 0; i < e->n; i++) {
		ck_assert_uint_gt(e->v[i].len, 0);
		ck_assert_uint_le(e->v[i].off + e->v[i].len,
		    s->fs.off + fs_bytes);
		if (i > 0)
			ck_assert_uint_gt(e->v[i].off,
			    e->v[i - 1].off + e->v[i - 1].len);
	}
}

/* Sum of agf_btreeblks over the AGs; the deepest bnobt in *levels. */
static long long
btree_blocks(const char *img, long long agcount, long long *levels)
{
	long long sum = 0;
	char agf[32];

	*levels = 0;
	for (long long a = 0; a < agcount; a++) {
		long long l;

		snprintf(agf, sizeof(agf), "agf %lld", a);
		sum += db_num(img, agf, "btreeblks");
		l = db_num(img, agf, "bnolevel");
		*levels = l > *levels ? l : *levels;
	}
	return sum;
}

START_TEST(test_variant_used_matches_xfs_db)
{
	const struct variant *v = &variants[_i];
	int mounted;
	const char *img = make_fs(v, &mounted);
	long long bs = db_num(img, "sb 0", "blocksize");
	long long dblocks = db_num(img, "sb 0", "dblocks");
	long long fdblocks = db_num(img, "sb 0", "fdblocks");
	long long agcount = db_num(img, "sb 0", "agcount");
	long long free_blocks = freesp_total(img), levels;
	long long btree = btree_blocks(img, agcount, &levels);
	uint64_t want = (uint64_t)(dblocks - free_blocks) * (uint64_t)bs;
	struct test_fs_scan s;
	char desc[256];

	ck_assert_img_ok(scan_fs(&s, img, 0, 0), s.ctx);
	ck_assert_uint_eq(s.fs.block_size, (uint64_t)bs);
	ck_assert_uint_eq(s.fs.block_count, (uint64_t)dblocks);
	ck_assert_int_eq(s.fs.flags, 0);
	assert_extents_sane(&s, (uint64_t)(dblocks * bs));
	ck_assert_msg(img_extents_total(&s.used) == want, "%s: module says "
	    "%llu bytes used, xfs_db %llu", v->name,
	    (unsigned long long)img_extents_total(&s.used),
	    (unsigned long long)want);
	/* sb_fdblocks = freesp total + agf_btreeblks, measured exactly */
	ck_assert_int_eq(fdblocks, free_blocks + btree);
	ck_assert_uint_gt(want, 3 * MIB);	/* half the big file at least */
	ck_assert_uint_lt(want, (uint64_t)v->size_mib * MIB * 2 / 3);
	if (mounted)
		ck_assert_int_ge(levels, v->want_levels);
	/* xfsprogs agrees the log is clean */
	test_sh("xfs_logprint -t '%s' 2>/dev/null | grep -q 'state: <CLEAN>'",
	    img);
	fs_xfs_ops.describe(&s.fs, desc, sizeof(desc));
	ck_assert_msg(strstr(desc, "xfs v") && strstr(desc, " used"), "%s",
	    desc);
	scan_done(&s);
}
END_TEST

/* The last AG is shorter, and the log wrapped (cycle > 1) on the fragmented
 * variant: both are part of the variants above; here the facts that make
 * those tests meaningful are asserted. */
START_TEST(test_layout_facts)
{
	int mounted;
	const char *img = make_fs(&variants[2], &mounted);
	long long agblocks = db_num(img, "sb 0", "agblocks");

	ck_assert_int_lt(db_num(img, "agf 4", "length"), agblocks);
	img = make_fs(&variants[V_FRAG], &mounted);
	if (mounted)
		test_sh("xfs_logprint -d '%s' 2>/dev/null | "
		    "grep -q 'HEADER Cycle [2-9]'", img);
}
END_TEST

/* A filesystem 1 MiB into a larger file: extents are absolute. */
START_TEST(test_offset)
{
	int mounted;
	const char *img = make_fs(&variants[0], &mounted);
	const char *big = test_path("offset.img");
	uint64_t want;
	struct test_fs_scan s;

	want = (uint64_t)(db_num(img, "sb 0", "dblocks") -
	    freesp_total(img)) * 4096;
	test_sh("rm -f '%s' && truncate -s 104M '%s' && dd if='%s' of='%s' "
	    "bs=1M seek=1 conv=notrunc,sparse status=none", big, big, img, big);
	ck_assert_img_ok(scan_fs(&s, big, MIB, 0), s.ctx);
	assert_extents_sane(&s, 96 * MIB);
	ck_assert_uint_eq(img_extents_total(&s.used), want);
	scan_done(&s);
}
END_TEST

/* A log with transactions but no unmount record (shutdown after a log
 * force): the free-space trees may be older than the log. */
START_TEST(test_dirty_log_is_stale)
{
	int mounted;
	const char *img = make_fs(&variants[0], &mounted);
	const char *mnt = test_path("dirty.mnt");
	uint32_t going = XFS_GOING_LOGFLUSH;
	struct test_fs_scan s;
	char desc[256];
	int fd, rc;

	if (!mounted)
		return;
	test_sh("mkdir -p '%s' && mount -o loop '%s' '%s'", mnt, img, mnt);
	test_sh("cp -a '%s' '%s/again' || { umount '%s'; exit 1; }",
	    test_path("tree/small"), mnt, mnt);
	fd = open(mnt, O_RDONLY);
	rc = fd < 0 ? -1 : ioctl(fd, XFS_IOC_GOINGDOWN, &going);
	if (fd >= 0)
		close(fd);
	test_sh("umount '%s'", mnt);
	ck_assert_int_eq(rc, 0);
	test_sh("xfs_logprint -t '%s' 2>/dev/null | grep -q 'state: <DIRTY>'",
	    img);
	ck_assert_img_ok(scan_fs(&s, img, 0, 0), s.ctx);
	ck_assert_int_eq(s.fs.flags, FS_INFO_DIRTY | FS_INFO_STALE_MAP);
	fs_xfs_ops.describe(&s.fs, desc, sizeof(desc));
	ck_assert_msg(strstr(desc, "log needs recovery") != NULL, "%s", desc);
	scan_done(&s);
}
END_TEST

/* xfs_repair -L clears a dirty log the way mkfs formats one, but with the
 * next cycle number: an unmount record padded with cycle-0 blocks, then
 * the rest of the log in unmount records of the previous cycle. The kernel
 * (and xfs_logprint) call that clean, and so must the module. */
START_TEST(test_repaired_log_is_clean)
{
	int mounted;
	const char *img = make_fs(&variants[V_FRAG], &mounted);
	const char *mnt = test_path("repair.mnt");
	uint32_t going = XFS_GOING_LOGFLUSH;
	struct test_fs_scan s;
	int fd, rc;

	if (!mounted)
		return;
	test_sh("mkdir -p '%s' && mount -o loop '%s' '%s'", mnt, img, mnt);
	rc = churn_log(mnt, 100);
	fd = open(mnt, O_RDONLY);
	rc |= fd < 0 ? -1 : ioctl(fd, XFS_IOC_GOINGDOWN, &going);
	if (fd >= 0)
		close(fd);
	test_sh("umount '%s'", mnt);
	ck_assert_int_eq(rc, 0);
	test_sh("xfs_logprint -t '%s' 2>/dev/null | grep -q 'state: <DIRTY>' "
	    "&& xfs_repair -L '%s' >/dev/null 2>&1 && xfs_logprint -t '%s' "
	    "2>/dev/null | grep -q 'state: <CLEAN>'", img, img, img);
	ck_assert_img_ok(scan_fs(&s, img, 0, 0), s.ctx);
	ck_assert_int_eq(s.fs.flags, 0);
	ck_assert_uint_eq(img_extents_total(&s.used), (uint64_t)(db_num(img,
	    "sb 0", "dblocks") - freesp_total(img)) * 1024);
	scan_done(&s);
}
END_TEST

/* A fresh log is one unmount record (header in block 0, its data in block
 * 1, cycle 1) followed by cycle-0 blocks. Each case edits it with p OFF
 * BYTES (bytes at OFF from the log start) and says whether the log must
 * then count as needing recovery. xfs_logprint -t must agree wherever it
 * calls a log dirty: the module may be stricter, never laxer. */
static const struct {
	const char *edit;
	int stale;
} log_damage[] = {
	{ "p 521 '\\000'", 1 },			/* oh_flags: no unmount */
	{ "p 40 '\\000\\000\\000\\002'", 1 },	/* h_num_logops */
	{ "p 12 '\\000\\000\\004\\000'", 1 },	/* h_len past the head */
	{ "p 512 '\\000\\000\\000\\000'", 1 },	/* block 1 torn */
	{ "p 4 '\\000\\000\\000\\000'", 1 },	/* cycle 0: zeroed */
	{ "p 16384 '\\000\\000\\000\\001'", 1 },	/* stray cycle-1 block */
	/* a second record after the unmount record, with one operation that
	 * is not an unmount: transactions to replay */
	{ "c && p 1536 '\\000\\000\\000\\001'", 1 },
	/* the same record torn (4 data blocks claimed, 1 written): the head
	 * moves back to it and the unmount record before it ends there */
	{ "c && p 1036 '\\000\\000\\010\\000' && "
	    "p 1536 '\\000\\000\\000\\001'", 0 },
};

START_TEST(test_crafted_log)
{
	const char *img = test_path("log.img");
	long long logoff;
	struct test_fs_scan s;
	char cmd[700];
	int dirty;

	test_sh("rm -f '%s' && truncate -s 64M '%s' && %s '%s'", img, img,
	    MKFS, img);
	logoff = test_sh_num("xfs_db -r -c \"convert fsb $(xfs_db -r -c "
	    "'sb 0' -c 'p logstart' '%s' | sed 's/.*= //') byte\" '%s' | "
	    "sed 's/.*(\\(.*\\))/\\1/'", img, img);
	ck_assert_int_gt(logoff, 0);
	ck_assert_img_ok(scan_fs(&s, img, 0, 0), s.ctx);
	ck_assert_int_eq(s.fs.flags, 0);
	scan_done(&s);
	/* c: copy the header in block 0 to block 2 */
	test_sh("I='%s' L=%lld; p() { printf \"$2\" | dd of=\"$I\" bs=1 "
	    "seek=$((L + $1)) conv=notrunc status=none; }; c() { dd if=\"$I\" "
	    "of=\"$I\" bs=512 skip=$((L / 512)) seek=$((L / 512 + 2)) count=1 "
	    "conv=notrunc status=none; }; %s", img, logoff,
	    log_damage[_i].edit);
	snprintf(cmd, sizeof(cmd), "xfs_logprint -t '%s' 2>/dev/null | "
	    "grep -q 'state: <DIRTY>'", img);
	dirty = system(cmd) == 0;
	ck_assert_img_ok(scan_fs(&s, img, 0, 0), s.ctx);
	ck_assert_msg(!!(s.fs.flags & FS_INFO_STALE_MAP) ==
	    log_damage[_i].stale, "case %d: flags %u", _i, s.fs.flags);
	ck_assert_msg(!dirty || (s.fs.flags & FS_INFO_STALE_MAP),
	    "case %d: xfs_logprint says dirty, the module clean", _i);
	scan_done(&s);
}
END_TEST

START_TEST(test_external_log_refused)
{
	const char *img = test_path("ext.img");
	const char *log = test_path("ext.log");
	struct test_fs_scan s;

	test_sh("rm -f '%s' '%s' && truncate -s 64M '%s' '%s' && "
	    "%s -l logdev='%s' '%s'", img, log, img, log, MKFS, log, img);
	ck_assert_int_eq(scan_fs(&s, img, 0, 0), 1);
	ck_assert_ptr_nonnull(strstr(img_ctx_message(s.ctx), "external"));
	ck_assert_ptr_null(s.fs.priv);
	scan_done(&s);
}
END_TEST

START_TEST(test_not_xfs)
{
	static unsigned char junk[4 * MIB];
	const char *img = test_path("junk.img");
	struct test_fs_scan s;

	test_fill_random(junk, sizeof(junk), 7);
	memcpy(junk, "XFSB", 4);	/* the magic alone proves nothing */
	test_write_file(img, junk, sizeof(junk), 0);
	ck_assert_int_eq(scan_fs(&s, img, 0, 0), 1);
	ck_assert_str_ne(img_ctx_message(s.ctx), "");
	ck_assert_ptr_null(s.fs.priv);
	scan_done(&s);
}
END_TEST

START_TEST(test_too_big_for_area)
{
	int mounted;
	const char *img = make_fs(&variants[0], &mounted);
	struct test_fs_scan s;

	ck_assert_int_eq(scan_fs(&s, img, 0, 64 * MIB), 1);
	ck_assert_ptr_nonnull(strstr(img_ctx_message(s.ctx), "available"));
	scan_done(&s);
}
END_TEST

/* xfs_db -x commands that damage a copy of the fragmented filesystem; the
 * CRCs stay valid ("write -d") unless the case uses dd or "write -c".
 * IMG is replaced by the file, AGD by the AG with the two-level bnobt.
 * want: 1 = probe refuses, -1 = probe or used_extents fails. */
static const struct {
	const char *cmds;	/* xfs_db -c arguments, or dd: "@OFF BYTES" */
	int want;
	const char *msg;	/* in the message */
} fs_damage[] = {
	{ "-c 'sb 0' -c 'write -d blocksize 3000'", 1, "block size" },
	{ "-c 'sb 0' -c 'write -d agcount 1000'", 1, "AGs" },
	{ "-c 'sb 0' -c 'write -d agblklog 30'", 1, "AG size" },
	{ "-c 'sb 0' -c 'write -d dblocks 99999999'", 1, "AGs" },
	{ "-c 'sb 0' -c 'write -d logstart 0'", 1, "external" },
	{ "-c 'sb 0' -c 'write -d logblocks 99999999'", 1, "log" },
	{ "-c 'sb 0' -c 'write -d rblocks 100'", 1, "realtime" },
	{ "-c 'sb 0' -c 'write -d inprogress 1'", 1, "mkfs" },
	{ "-c 'sb 0' -c 'write -d features_incompat 0x4000000b'", 1,
	    "unknown" },
	{ "-c 'sb 0' -c 'write -d features_incompat 0x1b'", 1, "repair" },
	{ "@100 \\001", -1, "checksum" },			/* sb CRC */
	{ "-c 'agf AGD' -c 'write -d magicnum 0'", -1, "AGF" },
	{ "-c 'agf AGD' -c 'write -d seqno 77'", -1, "AGF" },
	{ "-c 'agf AGD' -c 'write -d length 100'", -1, "AGF" },
	{ "-c 'agf AGD' -c 'write -d bnolevel 10'", -1, "levels" },
	{ "-c 'agf AGD' -c 'write -d bnolevel 1'", -1, "level" },
	{ "-c 'agf AGD' -c 'write -d bnoroot 99999'", -1, "pointer" },
	{ "-c 'agf AGD' -c 'write -d bnoroot 0'", -1, "pointer" },
	{ "-c 'agf AGD' -c 'write -d freeblks 12'", -1, "counts" },
	{ "-c 'agf AGD' -c 'write -d uuid 01234567-89ab-cdef-0123-456789abcdef'", -1, "AGF" },
	{ "-c 'agfl AGD' -c \"write -d bno[$(xfs_db -r -c 'agf AGD' "
	    "-c 'p flfirst' IMG | sed 's/.*= //')] 99999\"", -1, "AGFL" },
	{ "-c 'agfl AGD' -c 'write -d magicnum 0'", -1, "AGFL" },
	{ "-c 'agf AGD' -c 'addr bnoroot' -c 'write -d magic 0x41425443'", -1,
	    "bnobt" },
	{ "-c 'agf AGD' -c 'addr bnoroot' -c 'write -d numrecs 5000'", -1,
	    "records" },
	{ "-c 'agf AGD' -c 'addr bnoroot' -c 'write -d level 3'", -1, "level" },
	{ "-c 'agf AGD' -c 'addr bnoroot' -c 'write -d owner 77'", -1, "owner" },
	{ "-c 'agf AGD' -c 'addr bnoroot' -c 'write -d bno 1'", -1, "address" },
	{ "-c 'agf AGD' -c 'addr bnoroot' -c 'write -d keys[2].startblock 1'",
	    -1, "order" },
	/* a pointer loop: the second child is the root itself */
	{ "-c 'agf AGD' -c 'addr bnoroot' -c \"write -d ptrs[2] "
	    "$(xfs_db -r -c 'agf AGD' -c 'p bnoroot' IMG | sed 's/.*= //')\"",
	    -1, "level" },
	/* the same leaf twice */
	{ "-c 'agf AGD' -c 'addr bnoroot' -c \"write -d ptrs[2] "
	    "$(xfs_db -r -c 'agf AGD' -c 'addr bnoroot' -c 'p ptrs[1]' IMG | "
	    "sed 's/.*= //')\"", -1, "sibling" },
	{ "-c 'agf AGD' -c 'addr bnoroot' -c 'addr ptrs[1]' "
	    "-c 'write -d recs[2].blockcount 99999999'", -1, "extent" },
	{ "-c 'agf AGD' -c 'addr bnoroot' -c 'addr ptrs[1]' "
	    "-c 'write -d recs[2].startblock 1'", -1, "extent" },
	{ "-c 'agf AGD' -c 'addr bnoroot' -c 'addr ptrs[2]' "
	    "-c 'write -d rightsib 5'", -1, "sibling" },
	{ "-c 'agf AGD' -c 'addr bnoroot' -c 'addr ptrs[1]' "
	    "-c 'write -c numrecs 3'", -1, "checksum" },
};

#define N_FS_DAMAGE ((int)(sizeof(fs_damage) / sizeof(fs_damage[0])))

static void
make_frag_base(void)
{
	const char *base;
	int mounted;
	char agf[32];

	make_tree();		/* first: it rotates test_path's buffers */
	base = test_path("base.img");
	test_sh("cp --sparse=always '%s' '%s'", make_fs(&variants[V_FRAG],
	    &mounted), base);
	for (deep_ag = 0; mounted; deep_ag++) {
		snprintf(agf, sizeof(agf), "agf %lld", deep_ag);
		if (db_num(base, agf, "bnolevel") >= 2)
			break;
	}
}

/* Replaces every key in s (of size bytes) by val. */
static void
subst(char *s, size_t size, const char *key, const char *val)
{
	char *at, rest[1024];

	while ((at = strstr(s, key)) != NULL) {
		snprintf(rest, sizeof(rest), "%s", at + strlen(key));
		snprintf(at, size - (size_t)(at - s), "%s%s", val, rest);
	}
}

START_TEST(test_damaged_fs)
{
	const char *img = test_path("damaged.img");
	char cmds[1024], quoted[600], ag[24];
	struct test_fs_scan s;
	int rc;

	if (!can_mount)		/* needs the two-level tree */
		return;
	test_sh("cp --sparse=always '%s' '%s'", test_path("base.img"), img);
	snprintf(cmds, sizeof(cmds), "%s", fs_damage[_i].cmds);
	snprintf(quoted, sizeof(quoted), "'%s'", img);
	snprintf(ag, sizeof(ag), "%lld", deep_ag);
	subst(cmds, sizeof(cmds), "IMG", quoted);
	subst(cmds, sizeof(cmds), "AGD", ag);
	if (cmds[0] == '@')
		test_sh("printf '%s' | dd of='%s' bs=1 seek=%ld conv=notrunc "
		    "status=none", strchr(cmds, ' ') + 1, img,
		    strtol(cmds + 1, NULL, 10));
	else
		test_sh("xfs_db -x %s '%s' >/dev/null 2>&1", cmds, img);
	rc = scan_fs(&s, img, 0, 0);
	if (fs_damage[_i].want == 1)
		ck_assert_msg(rc == 1, "damage %d: rc %d (%s)", _i, rc,
		    img_ctx_message(s.ctx));
	else
		ck_assert_msg(rc < 0, "damage %d: rc %d (%s)", _i, rc,
		    img_ctx_message(s.ctx));
	ck_assert_uint_eq(s.used.n, 0);	/* nothing half-done left behind */
	ck_assert_msg(strstr(img_ctx_message(s.ctx), img) &&
	    strstr(img_ctx_message(s.ctx), fs_damage[_i].msg), "damage %d: "
	    "'%s'", _i, img_ctx_message(s.ctx));
	scan_done(&s);
}
END_TEST

/* An AGFL whose indices disagree (xfs_agfl_needs_reset) is no error: its
 * blocks are simply stored. */
START_TEST(test_agfl_indices_inconsistent)
{
	const char *img = test_path("agfl.img");
	struct test_fs_scan s, ref;

	if (!can_mount)
		return;
	test_sh("cp --sparse=always '%s' '%s'", test_path("base.img"), img);
	ck_assert_img_ok(scan_fs(&ref, img, 0, 0), ref.ctx);
	test_sh("xfs_db -x -c 'agf %lld' -c 'write -d flcount 1' '%s' "
	    ">/dev/null 2>&1", deep_ag, img);
	ck_assert_img_ok(scan_fs(&s, img, 0, 0), s.ctx);
	ck_assert_uint_gt(img_extents_total(&s.used),
	    img_extents_total(&ref.used));
	scan_done(&s);
	scan_done(&ref);
}
END_TEST

static Suite *
fs_xfs_suite(void)
{
	Suite *s = suite_create("fs_xfs");
	TCase *core = tcase_create("core");
	TCase *hostile = tcase_create("hostile");

	tcase_add_unchecked_fixture(core, make_tree, NULL);
	tcase_set_timeout(core, 120);
	tcase_add_loop_test(core, test_variant_used_matches_xfs_db, 0,
	    N_VARIANTS);
	tcase_add_test(core, test_layout_facts);
	tcase_add_test(core, test_offset);
	tcase_add_test(core, test_dirty_log_is_stale);
	tcase_add_test(core, test_repaired_log_is_clean);
	suite_add_tcase(s, core);

	tcase_add_unchecked_fixture(hostile, make_frag_base, NULL);
	tcase_set_timeout(hostile, 60);
	tcase_add_loop_test(hostile, test_crafted_log, 0,
	    (int)(sizeof(log_damage) / sizeof(log_damage[0])));
	tcase_add_test(hostile, test_external_log_refused);
	tcase_add_test(hostile, test_not_xfs);
	tcase_add_test(hostile, test_too_big_for_area);
	tcase_add_loop_test(hostile, test_damaged_fs, 0, N_FS_DAMAGE);
	tcase_add_test(hostile, test_agfl_indices_inconsistent);
	suite_add_tcase(s, hostile);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(fs_xfs_suite());

	if (!test_have("mkfs.xfs") || !test_have("xfs_db"))
		return 77;	/* automake SKIP: no xfsprogs */
	return test_run_suite(sr, "check_fs_xfs", "/var/tmp");
}
