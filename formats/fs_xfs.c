/*
 * fs_xfs.c - XFS (blkid TYPE "xfs"), v5 (CRC) and v4 superblocks.
 *
 * A small reader of the on-disk structures, following the kernel's
 * fs/xfs/libxfs/xfs_format.h (all fields big-endian, CRCs little-endian
 * CRC-32C) and the "XFS Algorithms & Data Structures" book. For every
 * allocation group it reads the AGF, walks the free-space B+tree by block
 * number (bnobt) from agf_roots[0] down to every leaf, and stores
 * everything in the AG that is neither a free extent nor on the AG free
 * list (AGFL blocks are free, merely reserved for btree growth). So
 * the AG headers, every superblock copy, all btrees (the bnobt itself,
 * cntbt, inobt, finobt, rmapbt, refcountbt), inodes, the internal log and
 * file data are stored. The tree sum must equal agf_freeblks, and CRCs,
 * magics, levels, sibling links, key order and bounds are checked on every
 * block, or the filesystem is copied in full.
 *
 * A filesystem whose log needs replaying may have newer free-space trees
 * in the log than on disk: fs_xfs_log.c tells, and such a filesystem gets
 * FS_INFO_DIRTY and FS_INFO_STALE_MAP (the scanner copies it in full).
 *
 * It does not: handle an external log or a realtime section (the data
 * device alone is not the whole filesystem: probe says "not ours" with the
 * reason), replay the log, cross-check the cntbt or rmapbt against the
 * bnobt, or write anything.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "dev.h"
#include "extents.h"
#include "codec.h"
#include "byteorder.h"
#include "formats.h"
#include "fs_xfs_log.h"

#define XFS_SB_MAGIC	0x58465342u	/* "XFSB", xfs_dsb.sb_magicnum */
#define XFS_AGF_MAGIC	0x58414746u	/* "XAGF" */
#define XFS_AGFL_MAGIC	0x5841464cu	/* "XAFL" (v5 only) */
#define XFS_ABTB_MAGIC	0x41425442u	/* "ABTB": v4 bnobt block */
#define XFS_ABTB3_MAGIC	0x41423342u	/* "AB3B": v5 bnobt block */
#define NULLAGBLOCK	0xFFFFFFFFu
#define BTREE_MAXLEVELS	9		/* XFS_BTREE_MAXLEVELS */
#define MIN_AG_BLOCKS	64		/* XFS_MIN_AG_BLOCKS */
#define BB		512u		/* basic block: the daddr and log unit */
/* xfs_format.h incompat bits this reader understands: FTYPE, SPINODES,
 * META_UUID, BIGTIME, NREXT64, EXCHRANGE, PARENT. None moves free space. */
#define INCOMPAT_META_UUID	(1u << 2)
#define INCOMPAT_NEEDSREPAIR	(1u << 4)
#define INCOMPAT_KNOWN	(0x0Fu | 1u << 5 | 1u << 6 | 1u << 7)

struct xfs {
	unsigned version;	/* 4 or 5 */
	int logv2;
	uint32_t bs, sectsize;
	unsigned blocklog, agblklog;
	uint32_t agblocks, agcount;
	uint64_t dblocks;
	uint32_t hdr_blocks;	/* sb, AGF, AGI, AGFL sectors, in blocks */
	uint32_t log_agno, log_agbno, logblocks;
	uint8_t uuid[16];	/* the one metadata blocks carry */
	int log_dirty;
	uint64_t used;		/* blocks; UINT64_MAX before used_extents */
};





/* xfs_verify_cksum: CRC-32C of the buffer with the 4-byte CRC field at
 * off taken as zero, stored little-endian. */
static int
crc_ok(const uint8_t *buf, size_t len, size_t off)
{
	static const uint8_t zero[4];
	uint32_t crc = img_crc32c(0, buf, off);

	crc = img_crc32c(crc, zero, 4);
	crc = img_crc32c(crc, buf + off + 4, len - off - 4);
	return crc == img_le32(buf + off);
}

/* Stores "'dev': xfs at offset N: <detail>" and returns rc; rc 1 (not
 * ours) is stored as -EINVAL. */
static int __attribute__((format(printf, 5, 6)))
xfs_fail(struct img_ctx *ctx, int rc, const struct img_dev *dev,
    uint64_t off, const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	img_error(ctx, rc < 0 ? rc : -EINVAL, "'%s': xfs at offset %llu: %s",
	    dev->path, (unsigned long long)off, detail);
	return rc;
}

static uint32_t
ag_len(const struct xfs *x, uint32_t agno)
{
	if (agno + 1 < x->agcount)
		return x->agblocks;
	return (uint32_t)(x->dblocks - (uint64_t)(x->agcount - 1) * x->agblocks);
}

/* Byte offset of block agbno of AG agno from the filesystem start
 * (XFS_AGB_TO_DADDR: AGs are agblocks long, not 2^agblklog). */
static uint64_t
agb_off(const struct xfs *x, uint32_t agno, uint32_t agbno)
{
	return ((uint64_t)agno * x->agblocks + agbno) << x->blocklog;
}

/* Geometry of xfs_dsb (xfs_format.h, "Super block"); 1 = not usable. */
static int
parse_geometry(const uint8_t *sb, struct xfs *x, const struct img_dev *dev,
    const struct fs_info *fs, struct img_ctx *ctx)
{
	unsigned sectlog = sb[121];			/* sb_sectlog */

	x->bs = img_be32(sb + 4);				/* sb_blocksize */
	x->blocklog = sb[120];				/* sb_blocklog */
	x->sectsize = img_be16(sb + 102);			/* sb_sectsize */
	x->dblocks = img_be64(sb + 8);			/* sb_dblocks */
	x->agblocks = img_be32(sb + 84);			/* sb_agblocks */
	x->agcount = img_be32(sb + 88);			/* sb_agcount */
	x->agblklog = sb[124];				/* sb_agblklog */
	if (x->blocklog < 9 || x->blocklog > 16 || x->bs != 1u << x->blocklog)
		return xfs_fail(ctx, 1, dev, fs->off, "bad block size %u",
		    x->bs);
	if (sectlog < 9 || sectlog > 15 || x->sectsize != 1u << sectlog ||
	    x->sectsize > x->bs)
		return xfs_fail(ctx, 1, dev, fs->off, "bad sector size %u",
		    x->sectsize);
	if (x->agblocks < MIN_AG_BLOCKS || x->agblklog > 31 ||
	    x->agblocks > 1u << x->agblklog ||
	    x->agblocks <= 1u << (x->agblklog - 1))
		return xfs_fail(ctx, 1, dev, fs->off, "bad AG size %u "
		    "(log2 %u)", x->agblocks, x->agblklog);
	if (x->agcount == 0 ||
	    x->dblocks > (uint64_t)x->agcount * x->agblocks ||
	    x->dblocks < (uint64_t)(x->agcount - 1) * x->agblocks +
	    MIN_AG_BLOCKS)
		return xfs_fail(ctx, 1, dev, fs->off, "%llu blocks do not "
		    "make %u AGs of %u", (unsigned long long)x->dblocks,
		    x->agcount, x->agblocks);
	if (x->dblocks > fs->len >> x->blocklog)
		return xfs_fail(ctx, 1, dev, fs->off, "%llu blocks of %u bytes "
		    "exceed the space available (%llu bytes)",
		    (unsigned long long)x->dblocks, x->bs,
		    (unsigned long long)fs->len);
	x->hdr_blocks = (4 * x->sectsize + x->bs - 1) / x->bs;
	return 0;
}

/* The internal log (sb_logstart is an AG-encoded xfs_fsblock_t) and the
 * sections this module refuses; 1 = not usable. */
static int
parse_layout(const uint8_t *sb, struct xfs *x, const struct img_dev *dev,
    const struct fs_info *fs, struct img_ctx *ctx)
{
	uint64_t logstart = img_be64(sb + 48);		/* sb_logstart */

	if (img_be64(sb + 16) != 0)				/* sb_rblocks */
		return xfs_fail(ctx, 1, dev, fs->off, "has a realtime "
		    "section on another device");
	if (sb[126] != 0)				/* sb_inprogress */
		return xfs_fail(ctx, 1, dev, fs->off, "mkfs did not finish");
	if (logstart == 0)
		return xfs_fail(ctx, 1, dev, fs->off, "the log is on an "
		    "external device; the data device alone cannot be "
		    "checked");
	x->logblocks = img_be32(sb + 96);			/* sb_logblocks */
	x->log_agbno = (uint32_t)(logstart & ((1ull << x->agblklog) - 1));
	if ((logstart >> x->agblklog) >= x->agcount || x->logblocks == 0 ||
	    x->log_agbno < x->hdr_blocks ||
	    (uint64_t)x->log_agbno + x->logblocks >
	    ag_len(x, (uint32_t)(logstart >> x->agblklog)))
		return xfs_fail(ctx, 1, dev, fs->off, "internal log (block "
		    "%llu, %u blocks) is not inside an AG",
		    (unsigned long long)logstart, x->logblocks);
	x->log_agno = (uint32_t)(logstart >> x->agblklog);
	return 0;
}

/* Version, feature words and (v5) the superblock CRC; 1 = not ours,
 * -EBADMSG = checksum mismatch. */
static int
parse_version(const uint8_t *sb, struct xfs *x, const struct img_dev *dev,
    const struct fs_info *fs, struct img_ctx *ctx)
{
	uint16_t versionnum = img_be16(sb + 100);		/* sb_versionnum */
	uint32_t incompat = img_be32(sb + 216);		/* sb_features_incompat */

	x->version = versionnum & 0x000F;
	if (x->version != 4 && x->version != 5)
		return xfs_fail(ctx, 1, dev, fs->off, "unsupported superblock "
		    "version %u", x->version);
	x->logv2 = x->version == 5 || (versionnum & 0x0400);	/* LOGV2BIT */
	memcpy(x->uuid, sb + 32, 16);			/* sb_uuid */
	if (x->version == 4)
		return 0;
	if (!crc_ok(sb, x->sectsize, 224))		/* sb_crc */
		return xfs_fail(ctx, -EBADMSG, dev, fs->off, "superblock "
		    "checksum mismatch");
	if (incompat & INCOMPAT_NEEDSREPAIR)
		return xfs_fail(ctx, 1, dev, fs->off, "marked as needing "
		    "xfs_repair");
	if (incompat & ~INCOMPAT_KNOWN)
		return xfs_fail(ctx, 1, dev, fs->off, "unknown incompatible "
		    "features 0x%x", incompat & ~INCOMPAT_KNOWN);
	if (incompat & INCOMPAT_META_UUID)
		memcpy(x->uuid, sb + 248, 16);		/* sb_meta_uuid */
	return 0;
}

static int
xfs_probe(struct img_dev *dev, struct fs_info *fs, struct img_ctx *ctx)
{
	struct xfs x = { .used = UINT64_MAX }, *p;
	struct xfs_log_area log;
	uint8_t sb[32768];
	int rc;

	if (fs->len < 4096)
		return xfs_fail(ctx, 1, dev, fs->off, "%llu bytes are too few",
		    (unsigned long long)fs->len);
	if ((rc = img_dev_pread(dev, sb, 512, fs->off, ctx)) < 0)
		return img_error_prefix(ctx, "reading the xfs superblock");
	if (img_be32(sb) != XFS_SB_MAGIC)
		return xfs_fail(ctx, 1, dev, fs->off, "bad superblock magic");
	if ((rc = parse_geometry(sb, &x, dev, fs, ctx)) != 0)
		return rc;
	if (x.sectsize > 512 && (rc = img_dev_pread(dev, sb, x.sectsize,
	    fs->off, ctx)) < 0)
		return img_error_prefix(ctx, "reading the xfs superblock");
	if ((rc = parse_version(sb, &x, dev, fs, ctx)) != 0 ||
	    (rc = parse_layout(sb, &x, dev, fs, ctx)) != 0)
		return rc;
	log.off = fs->off + agb_off(&x, x.log_agno, x.log_agbno);
	log.blocks = ((uint64_t)x.logblocks << x.blocklog) / BB;
	log.logv2 = x.logv2;
	if ((rc = fs_xfs_log_state(dev, &log, ctx)) < 0)
		return rc;
	x.log_dirty = rc;
	if (!(p = malloc(sizeof(*p))))
		return img_error(ctx, -ENOMEM, "out of memory");
	*p = x;
	fs->priv = p;
	fs->block_size = x.bs;
	fs->block_count = x.dblocks;
	if (x.log_dirty)
		fs->flags |= FS_INFO_DIRTY | FS_INFO_STALE_MAP;
	return 0;
}

/* One AG's walk: the bnobt in key order, the used runs between its free
 * extents minus the (sorted) AGFL blocks. */
struct walk {
	struct img_dev *dev;
	const struct fs_info *fs;
	const struct xfs *x;
	struct img_extents used;
	struct img_ctx *ctx;
	uint8_t *buf[BTREE_MAXLEVELS];	/* one block per level */
	uint32_t agno, aglen;
	uint32_t last[BTREE_MAXLEVELS];	/* last block seen on each level */
	uint32_t right[BTREE_MAXLEVELS];/* ... and its right sibling */
	uint32_t cursor;		/* end of the previous free extent */
	uint64_t free, nodes, used_blocks;
	uint32_t agfl[8192];		/* sectsize / 4 at most */
	size_t nagfl, agfl_next, agfl_seen;
};

static int
add_used(struct walk *w, uint32_t a, uint32_t b)
{
	if (b <= a)
		return 0;
	w->used_blocks += b - a;
	if (img_extents_add(&w->used, w->fs->off + agb_off(w->x, w->agno, a),
	    (uint64_t)(b - a) << w->x->blocklog) < 0)
		return img_error(w->ctx, -ENOMEM, "out of memory");
	return 0;
}

/* Marks [a, b) used except the AGFL blocks in it. AGFL entries below a
 * lie inside a free extent or repeat one: they are not counted. */
static int
emit_used(struct walk *w, uint32_t a, uint32_t b)
{
	int rc;

	while (w->agfl_next < w->nagfl && w->agfl[w->agfl_next] < b) {
		uint32_t f = w->agfl[w->agfl_next++];

		if (f < a)
			continue;
		if ((rc = add_used(w, a, f)) < 0)
			return rc;
		a = f + 1;
		w->agfl_seen++;
	}
	return add_used(w, a, b);
}

static int __attribute__((format(printf, 3, 4)))
ag_corrupt(struct walk *w, uint32_t agbno, const char *fmt, ...)
{
	char detail[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return xfs_fail(w->ctx, -EBADMSG, w->dev, w->fs->off + agb_off(w->x,
	    w->agno, agbno), "AG %u block %u: %s", w->agno, agbno, detail);
}

/* One free extent of a leaf (xfs_alloc_rec: ar_startblock, ar_blockcount),
 * in [lo, hi) by the parent's keys and after the previous one. */
static int
leaf_record(struct walk *w, uint32_t agbno, const uint8_t *rec, uint32_t lo,
    uint32_t hi)
{
	uint32_t start = img_be32(rec), len = img_be32(rec + 4);
	const struct xfs *x = w->x;
	int rc;

	if (len == 0 || start < lo || start >= hi || start < w->cursor ||
	    start < x->hdr_blocks || len > w->aglen - start)
		return ag_corrupt(w, agbno, "bad free extent %u+%u", start,
		    len);
	if (w->agno == x->log_agno && start < x->log_agbno + x->logblocks &&
	    start + len > x->log_agbno)
		return ag_corrupt(w, agbno, "free extent %u+%u overlaps the "
		    "log", start, len);
	if ((rc = emit_used(w, w->cursor, start)) < 0)
		return rc;
	w->cursor = start + len;
	w->free += len;
	return 0;
}

/* xfs_btree_block short form header (v5 adds blkno, lsn, uuid, owner,
 * crc: 56 bytes). Returns the header length or <0. */
static int
check_block(struct walk *w, uint32_t agbno, const uint8_t *b, unsigned level)
{
	const struct xfs *x = w->x;
	unsigned hdr = x->version == 5 ? 56 : 16;
	uint32_t left = img_be32(b + 8), right = img_be32(b + 12);
	uint64_t daddr = agb_off(x, w->agno, agbno) / BB;

	if (img_be32(b) != (x->version == 5 ? XFS_ABTB3_MAGIC : XFS_ABTB_MAGIC))
		return ag_corrupt(w, agbno, "not a bnobt block");
	if (x->version == 5 && (!crc_ok(b, x->bs, 52) || img_be64(b + 16) !=
	    daddr || memcmp(b + 32, x->uuid, 16) || img_be32(b + 48) != w->agno))
		return ag_corrupt(w, agbno, "checksum, address, uuid or "
		    "owner mismatch");
	if (img_be16(b + 4) != level)			/* bb_level */
		return ag_corrupt(w, agbno, "level %u, expected %u",
		    img_be16(b + 4), level);
	if (left != w->last[level] ||
	    (w->last[level] != NULLAGBLOCK && w->right[level] != agbno))
		return ag_corrupt(w, agbno, "broken sibling links");
	w->last[level] = agbno;
	w->right[level] = right;
	return (int)hdr;
}

/* Depth-first, keys in order, so leaves come in block order. */
static int
walk_node(struct walk *w, uint32_t agbno, unsigned level, uint32_t lo,
    uint32_t hi, int root)
{
	uint8_t *b = w->buf[level];
	uint32_t n, maxrecs;
	int hdr, rc;

	if (++w->nodes > w->aglen || agbno < w->x->hdr_blocks ||
	    agbno >= w->aglen)
		return ag_corrupt(w, agbno, "bad bnobt pointer (block %llu of "
		    "the walk)", (unsigned long long)w->nodes);
	if ((rc = img_dev_pread(w->dev, b, w->x->bs, w->fs->off +
	    agb_off(w->x, w->agno, agbno), w->ctx)) < 0)
		return img_error_prefix(w->ctx, "reading xfs AG %u", w->agno);
	if ((hdr = check_block(w, agbno, b, level)) < 0)
		return hdr;
	n = img_be16(b + 6);				/* bb_numrecs */
	maxrecs = (w->x->bs - (uint32_t)hdr) / (level ? 12 : 8);
	if (n > maxrecs || (n == 0 && !(root && level == 0)))
		return ag_corrupt(w, agbno, "%u records", n);
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *key = b + hdr + 8 * i;	/* xfs_alloc_key */
		uint32_t k = img_be32(key);
		uint32_t next = i + 1 < n ? img_be32(key + 8) : hi;

		if (level == 0) {
			rc = leaf_record(w, agbno, key, lo, hi);
		} else if (k < lo || k >= next || next > hi) {
			rc = ag_corrupt(w, agbno, "keys out of order");
		} else {			/* xfs_alloc_ptr after maxrecs keys */
			rc = walk_node(w, img_be32(b + hdr + 8 * maxrecs + 4 * i),
			    level - 1, k, next, 0);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The AG free list (xfs_agfl; v5 has a 36-byte header, v4 none), sorted.
 * An inconsistent index set (xfs_agfl_needs_reset) leaves it empty: its
 * blocks are then stored like used ones. */
static int
read_agfl(struct walk *w, const uint8_t *agf, uint8_t *sect)
{
	const struct xfs *x = w->x;
	unsigned hdr = x->version == 5 ? 36 : 0;
	uint32_t size = (x->sectsize - hdr) / 4, first = img_be32(agf + 40);
	uint32_t lastidx = img_be32(agf + 44), count = img_be32(agf + 48);

	w->nagfl = w->agfl_next = w->agfl_seen = 0;
	if (img_dev_pread(w->dev, sect, x->sectsize, w->fs->off +
	    agb_off(x, w->agno, 0) + 3 * x->sectsize, w->ctx) < 0)
		return img_error_prefix(w->ctx, "reading xfs AG %u", w->agno);
	if (x->version == 5 && (img_be32(sect) != XFS_AGFL_MAGIC ||
	    img_be32(sect + 4) != w->agno || memcmp(sect + 8, x->uuid, 16) ||
	    !crc_ok(sect, x->sectsize, 32)))
		return ag_corrupt(w, 0, "bad AGFL");
	if (count == 0 || first >= size || lastidx >= size || count > size ||
	    (lastidx + size - first) % size + 1 != count)
		return 0;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t bno = img_be32(sect + hdr + 4 * ((first + i) % size));

		if (bno < x->hdr_blocks || bno >= w->aglen)
			return ag_corrupt(w, 0, "AGFL entry %u out of range",
			    bno);
		w->agfl[w->nagfl++] = bno;
	}
	for (size_t i = 1; i < w->nagfl; i++)	/* insertion sort, <= 8192 */
		for (size_t j = i; j > 0 && w->agfl[j - 1] > w->agfl[j]; j--) {
			uint32_t t = w->agfl[j];

			w->agfl[j] = w->agfl[j - 1];
			w->agfl[j - 1] = t;
		}
	return 0;
}

/* xfs_agf, one sector after the AG's superblock copy. */
static int
walk_ag(struct walk *w, uint32_t agno, uint8_t *sect)
{
	const struct xfs *x = w->x;
	uint8_t agf[512];
	uint32_t root, levels, freeblks;
	int rc;

	w->agno = agno;
	w->aglen = ag_len(x, agno);
	if (img_dev_pread(w->dev, sect, x->sectsize, w->fs->off +
	    agb_off(x, agno, 0) + x->sectsize, w->ctx) < 0)
		return img_error_prefix(w->ctx, "reading xfs AG %u", agno);
	if (img_be32(sect) != XFS_AGF_MAGIC || img_be32(sect + 4) != 1 ||
	    img_be32(sect + 8) != agno || img_be32(sect + 12) != w->aglen ||
	    (x->version == 5 && (!crc_ok(sect, x->sectsize, 216) ||
	    memcmp(sect + 64, x->uuid, 16))))
		return ag_corrupt(w, 0, "bad AGF");
	memcpy(agf, sect, sizeof(agf));
	root = img_be32(agf + 16);				/* agf_roots[0] */
	levels = img_be32(agf + 28);			/* agf_levels[0] */
	freeblks = img_be32(agf + 52);			/* agf_freeblks */
	if (levels < 1 || levels > BTREE_MAXLEVELS || freeblks > w->aglen)
		return ag_corrupt(w, 0, "AGF: %u bnobt levels, %u free blocks",
		    levels, freeblks);
	if ((rc = read_agfl(w, agf, sect)) < 0)
		return rc;
	w->cursor = 0;
	w->free = w->nodes = 0;
	for (unsigned l = 0; l < BTREE_MAXLEVELS; l++)
		w->last[l] = w->right[l] = NULLAGBLOCK;
	if ((rc = walk_node(w, root, levels - 1, 0, w->aglen, 1)) < 0 ||
	    (rc = emit_used(w, w->cursor, w->aglen)) < 0)
		return rc;
	for (unsigned l = 0; l < levels; l++)
		if (w->right[l] != NULLAGBLOCK)
			return ag_corrupt(w, w->last[l], "right sibling %u "
			    "past the end of level %u", w->right[l], l);
	if (w->free != freeblks)
		return ag_corrupt(w, 0, "AGF counts %u free blocks, the bnobt "
		    "%llu", freeblks, (unsigned long long)w->free);
	if (w->agfl_seen != w->nagfl)
		return ag_corrupt(w, 0, "AGFL lists free or repeated blocks");
	return 0;
}

static int
xfs_used_extents(struct img_dev *dev, const struct fs_info *fs,
    struct img_extents *used, struct img_ctx *ctx)
{
	struct xfs *x = fs->priv;
	struct walk *w = calloc(1, sizeof(*w));
	uint8_t *mem = NULL;
	int rc = -ENOMEM;

	if (!w || !(mem = malloc((size_t)x->bs * (BTREE_MAXLEVELS + 1))))
		goto out;
	*w = (struct walk){ .dev = dev, .fs = fs, .x = x, .ctx = ctx };
	img_extents_init(&w->used);
	for (unsigned l = 0; l < BTREE_MAXLEVELS; l++)
		w->buf[l] = mem + (size_t)l * x->bs;
	for (uint32_t agno = 0; agno < x->agcount; agno++) {
		if ((rc = img_check_cancel(ctx)) < 0 ||
		    (rc = walk_ag(w, agno, mem + (size_t)BTREE_MAXLEVELS *
		    x->bs)) < 0)
			goto out;
	}
	if ((rc = img_extents_add_all(used, &w->used)) < 0)
		goto out;
	x->used = w->used_blocks;
out:
	if (rc == -ENOMEM)
		img_error(ctx, rc, "out of memory");
	if (w)
		img_extents_free(&w->used);
	free(w);
	free(mem);
	return rc < 0 ? rc : 0;
}

static void
xfs_describe(const struct fs_info *fs, char *buf, size_t len)
{
	const struct xfs *x = fs->priv;
	char used[32] = "";
	int n;

	if (x->used != UINT64_MAX)
		snprintf(used, sizeof(used), "%llu of ",
		    (unsigned long long)x->used);
	n = snprintf(buf, len, "xfs v%u, %u-byte blocks, %u AGs, %s%llu "
	    "blocks%s%s", x->version, x->bs, x->agcount, used,
	    (unsigned long long)x->dblocks, x->used != UINT64_MAX ? " used" :
	    "", x->log_dirty ? ", log needs recovery" : "");
	if (fs->label[0] && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ", label '%s'", fs->label);
}

static void
xfs_release(struct fs_info *fs)
{
	free(fs->priv);
	fs->priv = NULL;
}

const struct fs_ops fs_xfs_ops = {
	.name = "xfs",
	.probe = xfs_probe,
	.describe = xfs_describe,
	.used_extents = xfs_used_extents,
	.release = xfs_release,
};
