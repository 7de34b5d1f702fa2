/*
 * fs_ext.c - ext2, ext3 and ext4 through libext2fs.
 *
 * The used blocks are the set bits of the block bitmap, walked run by run
 * (find-first-set / find-first-zero), so the cost follows the number of
 * used runs and groups, not the size of the filesystem. libext2fs
 * synthesises the bitmap of BLOCK_UNINIT groups (superblock and descriptor
 * backups, bitmaps, inode tables), and the internal journal, resize inode,
 * MMP block and all other metadata are allocated in the bitmap, so the
 * bitmap plus the boot block describes everything the filesystem needs.
 * Blocks listed in the bad-blocks inode are left out: nothing reads them.
 *
 * fs_info's allocation unit is the cluster: the block, or with bigalloc
 * the cluster, whose bitmap bit covers it; whole clusters are stored.
 *
 * Does not: open anything read-write, replay the journal (a filesystem
 * that needs recovery is flagged FS_INFO_STALE_MAP: its on-disk bitmap may
 * miss blocks allocated by transactions still in the journal, so the
 * scanner copies it in full), read an external
 * journal device, or look at inodes to second-guess the bitmap.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include <et/com_err.h>
#include <ext2fs/ext2fs.h>

#include "ctx.h"
#include "dev.h"
#include "byteorder.h"
#include "ext_io.h"
#include "extents.h"
#include "formats.h"

/* The primary superblock is at bytes 1024..2047 whatever the block size;
 * the 1024 bytes before it are the boot block. */
#define EXT_SB_END	(SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE)

static const char *const ext_aliases[] = { "ext2", "ext3", NULL };

/* One walk over the bitmap: where runs go, which bad block (from the
 * ascending bad-blocks list) comes next, and where errors are reported. */
struct walk {
	ext2_filsys fs;
	struct img_dev *dev;
	const struct fs_info *info;
	struct img_extents used;
	struct img_ctx *ctx;
	ext2_badblocks_iterate bad_iter;	/* NULL until opened */
	blk_t next_bad;
	int have_bad;
};

/* Stores "'dev': ext filesystem at offset N: <detail>"; returns err. */
static int __attribute__((format(printf, 5, 6)))
ext_error(struct img_ctx *ctx, int err, const struct img_dev *dev,
    const struct fs_info *info, const char *fmt, ...)
{
	char detail[IMG_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return img_error(ctx, err, "'%s': ext filesystem at offset %" PRIu64
	    ": %s", dev->path, info->off, detail);
}

/*
 * libext2fs returns plain errno values for system errors and com_err codes
 * from its own table for the rest. Maps them to -errno: the system error
 * itself, -EIO for failed reads, -EBADMSG for on-disk inconsistencies.
 */
static int
ext_errno(errcode_t code)
{
	if (code > 0 && code < 4096)
		return -(int)code;
	if (code == EXT2_ET_NO_MEMORY)
		return -ENOMEM;
	if (code == EXT2_ET_SHORT_READ || code == EXT2_ET_LLSEEK_FAILED ||
	    code == EXT2_ET_BLOCK_BITMAP_READ)
		return -EIO;
	return -EBADMSG;
}

static int
ext_fail(struct img_ctx *ctx, const struct img_dev *dev,
    const struct fs_info *info, const char *what, errcode_t code)
{
	/* error_message() knows the ext2 codes only once their table is
	 * registered; registering again is a no-op */
	initialize_ext2_error_table();
	return ext_error(ctx, ext_errno(code), dev, info, "%s failed: %s",
	    what, error_message(code));
}

/* Says why libext2fs refused the superblock with EXT2_ET_UNSUPP_FEATURE;
 * reads the incompat word itself, since the handle is gone by then. */
static int
explain_unsupported(struct img_dev *dev, const struct fs_info *info,
    struct img_ctx *ctx)
{
	struct ext2_super_block sb;
	uint32_t incompat;

	if (img_dev_pread(dev, &sb, sizeof(sb), info->off + SUPERBLOCK_OFFSET,
	    ctx) < 0)
		return img_error_prefix(ctx, "reading the ext superblock");
	incompat = ext2fs_le32_to_cpu(sb.s_feature_incompat);
	if (incompat & EXT3_FEATURE_INCOMPAT_JOURNAL_DEV)
		return ext_error(ctx, -ENOTSUP, dev, info, "an external "
		    "journal device, not a filesystem");
	return ext_error(ctx, -ENOTSUP, dev, info, "incompat features "
	    "0x%08" PRIx32 " not supported by this libext2fs",
	    incompat & ~(uint32_t)EXT2_LIB_FEATURE_INCOMPAT_SUPP);
}

/* 0 and *out on success; 1 (message in ctx) when libext2fs does not accept
 * the superblock; <0 on a system error. */
static int
open_fs(struct img_dev *dev, const struct fs_info *info, ext2_filsys *out,
    struct img_ctx *ctx)
{
	struct ext_io_target t = { .dev = dev, .off = info->off };
	char name[64];
	errcode_t code;
	int rc;

	/* Never EXT2_FLAG_RW: the source is only read. 64BITS makes bigalloc
	 * and 2^32+ blocks usable. SKIP_MMP: a read-only look never waits
	 * for a multi-mount-protection interval. Reads go through dev, which
	 * may be a volume mapped from pieces of the disk. */
	ext_io_name(&t, name, sizeof(name));
	code = ext2fs_open2(name, NULL, EXT2_FLAG_64BITS |
	    EXT2_FLAG_SKIP_MMP, 0, 0, ext_io_manager, out);
	if (code == 0) {
		/* extent trees, not flat arrays: bitmap memory then follows
		 * the used runs (a flat 16 TiB bitmap is 512 MiB) */
		(*out)->default_bitmap_type = EXT2FS_BMAP64_RBTREE;
		return 0;
	}
	*out = NULL;
	if (code == EXT2_ET_UNSUPP_FEATURE) {
		rc = explain_unsupported(dev, info, ctx);
		return rc == -ENOTSUP ? 1 : rc;
	}
	rc = ext_fail(ctx, dev, info, "opening", code);
	/* A bad or truncated superblock is "not mine": the scanner copies
	 * the area in full and shows this message. */
	return rc == -EBADMSG || code == EXT2_ET_SHORT_READ ? 1 : rc;
}

/* Clusters group g holds (the last group may be short). */
static uint64_t
group_clusters(ext2_filsys fs, dgrp_t g)
{
	return EXT2FS_B2C(fs, ext2fs_group_last_block2(fs, g)) -
	    EXT2FS_B2C(fs, ext2fs_group_first_block2(fs, g)) + 1;
}

/* Used clusters as the group descriptors count them, plus the blocks
 * before the first data block (as dumpe2fs counts). */
static uint64_t
used_by_descriptors(ext2_filsys fs)
{
	uint64_t used = fs->super->s_first_data_block;

	for (dgrp_t g = 0; g < fs->group_desc_count; g++)
		used += group_clusters(fs, g) - ext2fs_bg_free_blocks_count(fs, g);
	return used;
}

static int
needs_recovery(ext2_filsys fs)
{
	return ext2fs_has_feature_journal_needs_recovery(fs->super);
}

static int
is_clean(ext2_filsys fs)
{
	return (fs->super->s_state & EXT2_VALID_FS) &&
	    !(fs->super->s_state & EXT2_ERROR_FS) && !needs_recovery(fs);
}

static int
ext_probe(struct img_dev *dev, struct fs_info *info, struct img_ctx *ctx)
{
	ext2_filsys fs;
	uint64_t bytes;
	int rc;

	rc = open_fs(dev, info, &fs, ctx);
	if (rc != 0)
		return rc;
	bytes = ext2fs_blocks_count(fs->super) * (uint64_t)fs->blocksize;
	if (fs->blocksize < EXT2_MIN_BLOCK_SIZE ||
	    fs->blocksize > EXT2_MAX_BLOCK_SIZE)
		rc = ext_error(ctx, -EBADMSG, dev, info, "invalid block size "
		    "%u", fs->blocksize);
	else if (bytes > info->len)
		rc = ext_error(ctx, -EBADMSG, dev, info, "%" PRIu64 " bytes "
		    "long but only %" PRIu64 " are available", bytes, info->len);
	if (rc < 0) {
		ext2fs_free(fs);
		return 1;
	}
	info->block_size = EXT2_CLUSTER_SIZE(fs->super);
	info->block_count = EXT2FS_NUM_B2C(fs, ext2fs_blocks_count(fs->super));
	if (!is_clean(fs))
		info->flags |= FS_INFO_DIRTY;
	if (needs_recovery(fs))
		info->flags |= FS_INFO_STALE_MAP;
	info->priv = fs;
	return 0;
}

static void
ext_describe(const struct fs_info *info, char *buf, size_t len)
{
	const char *type = info->type ? info->type : "ext4";
	ext2_filsys fs = info->priv;
	struct ext2_super_block *sb;
	const char *unit = "blocks";
	char blocks[48] = "";

	if (!fs) {
		snprintf(buf, len, "%s (not probed)", type);
		return;
	}
	sb = fs->super;
	if (EXT2FS_CLUSTER_RATIO(fs) > 1) {
		snprintf(blocks, sizeof(blocks), "%u-byte blocks in ",
		    fs->blocksize);
		unit = "clusters";
	}
	snprintf(buf, len, "%s, %s%u-byte %s, %" PRIu64 " of %" PRIu64
	    " %s used%s%s%s%s", type, blocks, info->block_size, unit,
	    used_by_descriptors(fs), info->block_count, unit,
	    !ext2fs_has_feature_journal(sb) ? "" :
	    sb->s_journal_inum ? ", journal" : ", external journal",
	    needs_recovery(fs) ? ", needs recovery" : "",
	    !(sb->s_state & EXT2_VALID_FS) ? ", not clean" : "",
	    sb->s_state & EXT2_ERROR_FS ? ", has errors" : "");
}

/* Descriptors must point inside the filesystem and carry valid checksums
 * before their bitmaps can be trusted: libext2fs reads a bitmap pointer
 * beyond the end as an all-free bitmap, and the bitmap of a BLOCK_UNINIT
 * group with a bad checksum from wherever the descriptor points. */
static int
check_descriptors(struct walk *w)
{
	errcode_t code;

	code = ext2fs_check_desc(w->fs);
	if (code)
		return ext_fail(w->ctx, w->dev, w->info,
		    "checking the group descriptors", code);
	if (!ext2fs_has_group_desc_csum(w->fs))
		return 0;
	for (dgrp_t g = 0; g < w->fs->group_desc_count; g++)
		if (!ext2fs_group_desc_csum_verify(w->fs, g))
			return ext_error(w->ctx, -EBADMSG, w->dev, w->info,
			    "group %u descriptor checksum mismatch", g);
	return 0;
}

static int
add_blocks(struct walk *w, blk64_t start, blk64_t end)
{
	uint64_t bs = w->fs->blocksize;

	if (img_extents_add(&w->used, w->info->off + start * bs,
	    (end - start) * bs) < 0)
		return ext_error(w->ctx, -ENOMEM, w->dev, w->info,
		    "out of memory for the used-extent list");
	return 0;
}

/* Adds blocks [start, end) minus the bad blocks among them. */
static int
add_run(struct walk *w, blk64_t start, blk64_t end)
{
	int rc;

	while (w->have_bad && w->next_bad < end) {
		if (w->next_bad >= start) {
			rc = add_blocks(w, start, w->next_bad);
			if (rc < 0)
				return rc;
			start = w->next_bad + 1;
		}
		w->have_bad = ext2fs_badblocks_list_iterate(w->bad_iter,
		    &w->next_bad);
	}
	return start < end ? add_blocks(w, start, end) : 0;
}

/*
 * Adds the used runs of group g; returns its used clusters or <0. Asking
 * the bitmap only about [first data block, blocks count) also keeps
 * libext2fs from printing its out-of-range warnings.
 */
static int64_t
walk_group(struct walk *w, dgrp_t g)
{
	ext2_filsys fs = w->fs;
	blk64_t pos = ext2fs_group_first_block2(fs, g);
	blk64_t last = ext2fs_group_last_block2(fs, g);
	blk64_t start, end;
	int64_t used = 0;
	errcode_t code;
	int rc;

	while (pos <= last) {
		code = ext2fs_find_first_set_block_bitmap2(fs->block_map, pos,
		    last, &start);
		if (code == ENOENT)
			break;
		if (code == 0)
			code = ext2fs_find_first_zero_block_bitmap2(
			    fs->block_map, start, last, &end);
		if (code == ENOENT)
			end = last + 1;
		else if (code)
			return ext_fail(w->ctx, w->dev, w->info,
			    "walking the block bitmap", code);
		/* with bigalloc both ends are cluster boundaries (or the
		 * end of the filesystem), so whole clusters are added */
		rc = add_run(w, start, end);
		if (rc < 0)
			return rc;
		used += EXT2FS_B2C(fs, end - 1) - EXT2FS_B2C(fs, start) + 1;
		pos = end;
	}
	return used;
}

/*
 * A clean filesystem's descriptors count exactly what its bitmap marks. A
 * bitmap marking fewer clusters than its descriptor claims has lost
 * allocations, and storing by it would lose data; more is only wasteful.
 * A dirty filesystem's descriptors may lag behind, so it is not checked.
 */
static int
walk_bitmap(struct walk *w)
{
	int check_counts = is_clean(w->fs);
	uint64_t total, free_count;
	int64_t marked;

	for (dgrp_t g = 0; g < w->fs->group_desc_count; g++) {
		marked = walk_group(w, g);
		if (marked < 0)
			return (int)marked;
		total = group_clusters(w->fs, g);
		free_count = ext2fs_bg_free_blocks_count(w->fs, g);
		if (check_counts && (free_count > total ||
		    (uint64_t)marked < total - free_count))
			return ext_error(w->ctx, -EBADMSG, w->dev, w->info,
			    "group %u bitmap marks %" PRId64 " of %" PRIu64
			    " clusters used, its descriptor %" PRIu64 " free",
			    g, marked, total, free_count);
	}
	return 0;
}

/*
 * With group descriptor checksums (uninit_bg, metadata_csum) each group
 * says how many inodes at the end of its table were never used
 * (bg_itable_unused; all of them with INODE_UNINIT). e2fsck and the kernel
 * never read those, so their blocks - most of the inode tables of a big,
 * mostly empty filesystem - are handed to the scanner as zeros: restored
 * as zeros and never read, as e2image does.
 */
static int
unused_inode_tables(struct walk *w)
{
	ext2_filsys fs = w->fs;
	uint64_t bs = fs->blocksize, isz = EXT2_INODE_SIZE(fs->super);
	uint64_t ipg = fs->super->s_inodes_per_group;

	if (!w->info->zeros || !ext2fs_has_group_desc_csum(fs))
		return 0;
	for (dgrp_t g = 0; g < fs->group_desc_count; g++) {
		uint64_t unused = ext2fs_bg_itable_unused(fs, g), first;
		blk64_t table = ext2fs_inode_table_loc(fs, g);

		if (ext2fs_bg_flags_test(fs, g, EXT2_BG_INODE_UNINIT))
			unused = ipg;
		if (unused == 0 || unused > ipg || table == 0)
			continue;
		/* the first block holding no used inode */
		first = ((ipg - unused) * isz + bs - 1) / bs;
		if (first >= fs->inode_blocks_per_group)
			continue;
		if (img_extents_add(w->info->zeros,
		    w->info->off + (table + first) * bs,
		    (fs->inode_blocks_per_group - first) * bs) < 0)
			return ext_error(w->ctx, -ENOMEM, w->dev, w->info,
			    "out of memory");
	}
	return 0;
}

/* jbd2's journal superblock (big-endian, kernel include/linux/jbd2.h;
 * e2fsprogs does not install its header) */
#define JBD2_MAGIC		0xc03b3998u
#define JBD2_SB_START		28	/* u32: first log block, 0 = empty */

/* A run of journal blocks being collected for the zero list. */
struct journal_run {
	struct walk *w;
	blk64_t start, next;	/* [start, next) in blocks; next 0 = none */
	int failed;
};

static int
flush_journal_run(struct journal_run *r)
{
	uint64_t bs = r->w->fs->blocksize;

	if (r->next != 0 && img_extents_add(r->w->info->zeros,
	    r->w->info->off + r->start * bs, (r->next - r->start) * bs) < 0)
		return -ENOMEM;
	r->next = 0;
	return 0;
}

static int
journal_block(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt,
    blk64_t ref_blk, int ref_offset, void *priv)
{
	struct journal_run *r = priv;

	(void)fs; (void)ref_blk; (void)ref_offset;
	if (blockcnt <= 0)	/* the journal superblock stays as it is */
		return 0;
	if (r->next != 0 && *blocknr == r->next) {
		r->next++;
		return 0;
	}
	if (flush_journal_run(r) < 0) {
		r->failed = 1;
		return BLOCK_ABORT;
	}
	r->start = *blocknr;
	r->next = *blocknr + 1;
	return 0;
}

/* 1 if the internal journal holds nothing to replay: a valid journal
 * superblock (block 0 of the journal inode) with s_start 0. */
static int
journal_is_empty(ext2_filsys fs)
{
	uint8_t *jsb;
	blk64_t pblk = 0;
	int empty = 0;

	if (ext2fs_bmap2(fs, fs->super->s_journal_inum, NULL, NULL, 0, 0,
	    NULL, &pblk) || pblk == 0 ||
	    ext2fs_get_mem(fs->blocksize, &jsb))
		return 0;
	if (io_channel_read_blk64(fs->io, pblk, 1, jsb) == 0) {
		empty = img_be32(jsb) == JBD2_MAGIC &&
		    img_be32(jsb + JBD2_SB_START) == 0;
	}
	ext2fs_free_mem(&jsb);
	return empty;
}

/*
 * The log blocks of an empty internal journal (cleanly unmounted: nothing
 * to replay, s_start 0) hold only stale transactions that nothing will
 * ever read: jbd2 starts a new log after the superblock and recovery stops
 * at the first block without the expected sequence number. They are handed
 * to the scanner as zeros - restored as zeros, never read - which saves up
 * to 1 GiB per filesystem (mke2fs zeroes them the same way). The journal
 * superblock itself is stored.
 */
static int
empty_journal(struct walk *w)
{
	ext2_filsys fs = w->fs;
	struct journal_run r = { .w = w };
	errcode_t code;

	if (!w->info->zeros || !ext2fs_has_feature_journal(fs->super) ||
	    fs->super->s_journal_inum == 0 || needs_recovery(fs) ||
	    !journal_is_empty(fs))
		return 0;
	code = ext2fs_block_iterate3(fs, fs->super->s_journal_inum,
	    BLOCK_FLAG_READ_ONLY | BLOCK_FLAG_DATA_ONLY, NULL, journal_block,
	    &r);
	if (r.failed || flush_journal_run(&r) < 0)
		return ext_error(w->ctx, -ENOMEM, w->dev, w->info,
		    "out of memory");
	if (code)
		return ext_fail(w->ctx, w->dev, w->info,
		    "reading the journal's block map", code);
	return 0;
}

/* Opens the ascending list of blocks recorded in the bad-blocks inode. */
static int
open_bad_blocks(struct walk *w, ext2_badblocks_list *bad)
{
	errcode_t code;

	code = ext2fs_read_bb_inode(w->fs, bad);
	if (code == 0)
		code = ext2fs_badblocks_list_iterate_begin(*bad, &w->bad_iter);
	if (code)
		return ext_fail(w->ctx, w->dev, w->info,
		    "reading the bad-blocks list", code);
	w->have_bad = ext2fs_badblocks_list_iterate(w->bad_iter, &w->next_bad);
	return 0;
}

/* Collects into w->used (the caller's list is touched only on success);
 * the bad-blocks list goes to *bad for the caller to free. */
static int
collect_extents(struct walk *w, ext2_badblocks_list *bad)
{
	uint64_t head;
	errcode_t code;
	int rc;

	/* the descriptors first: everything else is found through them */
	rc = check_descriptors(w);
	if (rc == 0)
		rc = open_bad_blocks(w, bad);
	if (rc < 0)
		return rc;
	/* also verifies each bitmap block's checksum (metadata_csum) */
	code = ext2fs_read_block_bitmap(w->fs);
	if (code)
		return ext_fail(w->ctx, w->dev, w->info,
		    "reading the block bitmap", code);
	/* The boot block, the primary superblock and all blocks before the
	 * first data block (block 0 with 1 KiB blocks) are outside the
	 * bitmap but always needed. */
	head = (w->fs->super->s_first_data_block + 1) *
	    (uint64_t)w->fs->blocksize;
	if (head < EXT_SB_END)
		head = EXT_SB_END;
	if (img_extents_add(&w->used, w->info->off, head) < 0)
		return ext_error(w->ctx, -ENOMEM, w->dev, w->info,
		    "out of memory");
	rc = walk_bitmap(w);
	if (rc == 0)
		rc = unused_inode_tables(w);
	return rc < 0 ? rc : empty_journal(w);
}

static int
ext_used_extents(struct img_dev *dev, const struct fs_info *info,
    struct img_extents *used, struct img_ctx *ctx)
{
	struct walk w = { .fs = info->priv, .dev = dev, .info = info,
	    .ctx = ctx };
	ext2_badblocks_list bad = NULL;
	int rc;

	if (!w.fs)
		return ext_error(ctx, -EINVAL, dev, info, "not probed");
	img_extents_init(&w.used);
	rc = collect_extents(&w, &bad);
	if (rc == 0 && img_extents_add_all(used, &w.used) < 0)
		rc = ext_error(ctx, -ENOMEM, dev, info, "out of memory");
	if (w.bad_iter)
		ext2fs_badblocks_list_iterate_end(w.bad_iter);
	if (bad)
		ext2fs_badblocks_list_free(bad);
	img_extents_free(&w.used);
	return rc;
}

static void
ext_release(struct fs_info *info)
{
	/* ext2fs_free, not ext2fs_close: nothing may be written back */
	if (info->priv)
		ext2fs_free(info->priv);
	info->priv = NULL;
}

const struct fs_ops fs_ext_ops = {
	.name = "ext4",
	.aliases = ext_aliases,
	.probe = ext_probe,
	.describe = ext_describe,
	.used_extents = ext_used_extents,
	.release = ext_release,
};
