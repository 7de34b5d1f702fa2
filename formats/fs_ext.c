/*
 * fs_ext.c - ext2, ext3 and ext4 through libext2fs.
 *
 * The used blocks are the set bits of the block bitmap, walked run by run
 * (find-first-set / find-first-zero), so the cost follows the number of
 * used runs and groups rather than the size of the filesystem. libext2fs
 * synthesises the bitmap of BLOCK_UNINIT groups (superblock and descriptor
 * backups, bitmaps, inode table), and the internal journal, resize inode,
 * MMP block and every other metadata block are allocated in the bitmap, so
 * the bitmap alone describes everything the filesystem needs. Blocks listed
 * in the bad-blocks inode are left out: nothing ever reads them.
 *
 * The allocation unit reported in fs_info is the cluster (bigalloc) or the
 * block; with bigalloc the bitmap is per cluster and whole clusters are
 * stored.
 *
 * Does not: open anything read-write, replay the journal (a filesystem that
 * needs recovery is flagged FS_INFO_DIRTY, because its on-disk bitmap may
 * miss blocks allocated by transactions still in the journal), read an
 * external journal device, or look at inodes to second-guess the bitmap.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include <et/com_err.h>
#include <ext2fs/ext2fs.h>

#include "ctx.h"
#include "dev.h"
#include "extents.h"
#include "formats.h"

/* The primary superblock lives at bytes 1024..2047 whatever the block
 * size; the 1024 bytes before it are the boot block. */
#define EXT_SB_END	(SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE)

static const char *const ext_aliases[] = { "ext2", "ext3", NULL };

/* One walk over the bitmap: where runs go, which bad block (from the
 * ascending bad-blocks list) comes next, and where errors are reported. */
struct walk {
	ext2_filsys fs;
	struct img_dev *dev;
	const struct fs_info *info;
	struct img_extents *used;
	struct img_ctx *ctx;
	ext2_badblocks_iterate bad_iter;	/* NULL until opened */
	blk_t next_bad;
	int have_bad;
};

/*
 * libext2fs returns plain errno values for system errors and com_err codes
 * from its own table for everything else. Returns a negative errno: the
 * system error itself, -EIO for failed reads, -EBADMSG for on-disk
 * inconsistencies.
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

/* error_message() only knows the ext2 codes once their table is
 * registered; registering again is a no-op. */
static const char *
ext_strerror(errcode_t code)
{
	initialize_ext2_error_table();
	return error_message(code);
}

static int
ext_fail(struct img_ctx *ctx, const char *path, uint64_t off,
    const char *what, errcode_t code)
{
	return img_error(ctx, ext_errno(code), "'%s': %s of ext filesystem "
	    "at offset %" PRIu64 " failed: %s", path, what, off,
	    ext_strerror(code));
}

/* Names why libext2fs refused a superblock with EXT2_ET_UNSUPP_FEATURE:
 * reads the incompat word itself, since the handle is gone by then. */
static int
explain_unsupported(struct img_dev *dev, const struct fs_info *info,
    struct img_ctx *ctx)
{
	struct ext2_super_block sb;
	uint32_t incompat;

	if (img_dev_pread(dev, &sb, sizeof(sb), info->off + SUPERBLOCK_OFFSET,
	    ctx) < 0)
		return img_error_prefix(ctx, "reading ext superblock");
	incompat = ext2fs_le32_to_cpu(sb.s_feature_incompat);
	if (incompat & EXT3_FEATURE_INCOMPAT_JOURNAL_DEV)
		return img_error(ctx, -ENOTSUP, "'%s': offset %" PRIu64
		    " holds an external ext3/4 journal, not a filesystem",
		    dev->path, info->off);
	return img_error(ctx, -ENOTSUP, "'%s': ext filesystem at offset %"
	    PRIu64 " uses incompat features 0x%08" PRIx32 " this libext2fs "
	    "does not support", dev->path, info->off,
	    incompat & ~(uint32_t)EXT2_LIB_FEATURE_INCOMPAT_SUPP);
}

/* 0 and *out on success; 1 (message in ctx) when libext2fs does not accept
 * the superblock; <0 on a system error. */
static int
open_fs(struct img_dev *dev, const struct fs_info *info, ext2_filsys *out,
    struct img_ctx *ctx)
{
	char opts[64];
	errcode_t code;
	int rc;

	/* Never EXT2_FLAG_RW: the source is only ever read. 64BITS is what
	 * makes bigalloc and >2^32 blocks usable; MMP is only checked for
	 * read-write opens, and skipping it keeps a probe from waiting. */
	snprintf(opts, sizeof(opts), "offset=%" PRIu64, info->off);
	code = ext2fs_open2(dev->path, opts, EXT2_FLAG_64BITS |
	    EXT2_FLAG_SKIP_MMP, 0, 0, unix_io_manager, out);
	if (code == 0)
		return 0;
	*out = NULL;
	if (code == EXT2_ET_UNSUPP_FEATURE) {
		rc = explain_unsupported(dev, info, ctx);
		return rc == -ENOTSUP ? 1 : rc;
	}
	rc = ext_fail(ctx, dev->path, info->off, "opening", code);
	/* A bad or truncated superblock is "not mine": the scanner copies
	 * the area in full and shows this message. */
	return rc == -EBADMSG || code == EXT2_ET_SHORT_READ ? 1 : rc;
}

static uint64_t
cluster_count(ext2_filsys fs)
{
	return EXT2FS_NUM_B2C(fs, ext2fs_blocks_count(fs->super));
}

/* Clusters a group holds (the last group may be short). */
static uint64_t
group_clusters(ext2_filsys fs, dgrp_t g)
{
	return EXT2FS_B2C(fs, ext2fs_group_last_block2(fs, g)) -
	    EXT2FS_B2C(fs, ext2fs_group_first_block2(fs, g)) + 1;
}

/* Used clusters according to the group descriptors (not the bitmap). */
static uint64_t
used_by_descriptors(ext2_filsys fs)
{
	uint64_t used = 0;

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
	    fs->blocksize > EXT2_MAX_BLOCK_SIZE) {
		rc = img_error(ctx, -EBADMSG, "'%s': ext filesystem at offset %"
		    PRIu64 " has an invalid block size %u", dev->path,
		    info->off, fs->blocksize);
	} else if (bytes > info->len) {
		rc = img_error(ctx, -EBADMSG, "'%s': ext filesystem at offset %"
		    PRIu64 " is %" PRIu64 " bytes but only %" PRIu64
		    " are available", dev->path, info->off, bytes, info->len);
	}
	if (rc < 0) {
		ext2fs_free(fs);
		return 1;
	}
	info->block_size = EXT2_CLUSTER_SIZE(fs->super);
	info->block_count = cluster_count(fs);
	if (!is_clean(fs))
		info->flags |= FS_INFO_DIRTY;
	info->priv = fs;
	return 0;
}

static void
ext_describe(const struct fs_info *info, char *buf, size_t len)
{
	ext2_filsys fs = info->priv;
	struct ext2_super_block *sb;
	const char *unit = "blocks";
	char size[64];

	if (!fs) {
		snprintf(buf, len, "%s (not probed)", info->type ? info->type :
		    "ext4");
		return;
	}
	sb = fs->super;
	snprintf(size, sizeof(size), "%u-byte blocks", fs->blocksize);
	if (EXT2FS_CLUSTER_RATIO(fs) > 1) {
		snprintf(size, sizeof(size), "%u-byte blocks in %u-byte clusters",
		    fs->blocksize, EXT2_CLUSTER_SIZE(sb));
		unit = "clusters";
	}
	snprintf(buf, len, "%s, %s, %" PRIu64 " of %" PRIu64 " %s used%s%s%s%s",
	    info->type ? info->type : "ext4", size, used_by_descriptors(fs),
	    cluster_count(fs), unit,
	    !ext2fs_has_feature_journal(sb) ? "" :
	    sb->s_journal_inum ? ", journal" : ", external journal",
	    needs_recovery(fs) ? ", needs recovery" : "",
	    !(sb->s_state & EXT2_VALID_FS) ? ", not clean" : "",
	    sb->s_state & EXT2_ERROR_FS ? ", has errors" : "");
}

/* Descriptors must point inside the filesystem and carry valid checksums
 * before their bitmaps can be trusted: libext2fs silently treats a bitmap
 * pointer beyond the end as an all-free bitmap. */
static int
check_descriptors(struct img_dev *dev, const struct fs_info *info,
    ext2_filsys fs, struct img_ctx *ctx)
{
	errcode_t code;

	code = ext2fs_check_desc(fs);
	if (code)
		return ext_fail(ctx, dev->path, info->off,
		    "checking the group descriptors", code);
	if (!ext2fs_has_group_desc_csum(fs))
		return 0;
	for (dgrp_t g = 0; g < fs->group_desc_count; g++)
		if (!ext2fs_group_desc_csum_verify(fs, g))
			return img_error(ctx, -EBADMSG, "'%s': ext filesystem "
			    "at offset %" PRIu64 ": group %u descriptor "
			    "checksum mismatch", dev->path, info->off, g);
	return 0;
}

static int
add_blocks(struct walk *w, blk64_t start, blk64_t end)
{
	uint64_t bs = w->fs->blocksize;

	if (img_extents_add(w->used, w->info->off + start * bs,
	    (end - start) * bs) < 0)
		return img_error(w->ctx, -ENOMEM, "'%s': out of memory for "
		    "the used-extent list", w->dev->path);
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
 * Adds the used runs of group g; returns the number of used clusters or
 * <0. Asking the bitmap only about [first data block, blocks count) also
 * keeps libext2fs from printing its out-of-range warnings.
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
			return ext_fail(w->ctx, w->dev->path, w->info->off,
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
 * bitmap marking fewer clusters than the descriptor claims has lost
 * allocations, and storing by it would lose data; more is only wasteful.
 */
static int
check_group_count(struct walk *w, dgrp_t g, uint64_t marked)
{
	uint64_t total = group_clusters(w->fs, g);
	uint64_t free_count = ext2fs_bg_free_blocks_count(w->fs, g);

	if (free_count <= total && marked >= total - free_count)
		return 0;
	return img_error(w->ctx, -EBADMSG, "'%s': ext filesystem at offset %"
	    PRIu64 ": group %u bitmap marks %" PRIu64 " of %" PRIu64
	    " clusters used, its descriptor says %" PRIu64 " free",
	    w->dev->path, w->info->off, g, marked, total, free_count);
}

static int
walk_bitmap(struct walk *w)
{
	/* a dirty filesystem's descriptors may lag behind its bitmaps */
	int check_counts = is_clean(w->fs);
	int64_t marked;
	int rc;

	for (dgrp_t g = 0; g < w->fs->group_desc_count; g++) {
		marked = walk_group(w, g);
		if (marked < 0)
			return (int)marked;
		if (check_counts) {
			rc = check_group_count(w, g, (uint64_t)marked);
			if (rc < 0)
				return rc;
		}
	}
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
		return ext_fail(w->ctx, w->dev->path, w->info->off,
		    "reading the bad-blocks list", code);
	w->have_bad = ext2fs_badblocks_list_iterate(w->bad_iter, &w->next_bad);
	return 0;
}

static int
ext_used_extents(struct img_dev *dev, const struct fs_info *info,
    struct img_extents *used, struct img_ctx *ctx)
{
	ext2_filsys fs = info->priv;
	struct walk w = { .fs = fs, .dev = dev, .info = info, .used = used,
	    .ctx = ctx };
	ext2_badblocks_list bad = NULL;
	uint64_t head;
	errcode_t code;
	int rc;

	if (!fs)
		return img_error(ctx, -EINVAL, "'%s': ext filesystem at offset %"
		    PRIu64 " was not probed", dev->path, info->off);
	rc = check_descriptors(dev, info, fs, ctx);
	if (rc < 0)
		return rc;
	/* also verifies each bitmap block's checksum (metadata_csum) */
	code = ext2fs_read_block_bitmap(fs);
	if (code)
		return ext_fail(ctx, dev->path, info->off,
		    "reading the block bitmap", code);
	rc = open_bad_blocks(&w, &bad);
	if (rc < 0)
		goto out;
	/* The boot block, the primary superblock and every block before the
	 * first data block (block 0 with 1 KiB blocks) are outside the
	 * bitmap but always needed. */
	head = (fs->super->s_first_data_block + 1) * (uint64_t)fs->blocksize;
	if (img_extents_add(used, info->off, head > EXT_SB_END ? head :
	    EXT_SB_END) < 0)
		rc = img_error(ctx, -ENOMEM, "'%s': out of memory", dev->path);
	else
		rc = walk_bitmap(&w);
out:
	if (w.bad_iter)
		ext2fs_badblocks_list_iterate_end(w.bad_iter);
	if (bad)
		ext2fs_badblocks_list_free(bad);
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
