/*
 * fs_btrfs.c - single-device btrfs (blkid TYPE "btrfs"), read by hand.
 *
 * The superblock's sys_chunk_array maps the chunk tree; the chunk tree maps
 * every chunk (logical address -> stripes on this device); the extent tree
 * lists every allocated extent: EXTENT_ITEMs (data, and tree blocks without
 * skinny metadata) and METADATA_ITEMs (tree blocks, nodesize long). Each
 * allocated extent is stored at every stripe of its chunk: once for the
 * single profile, twice for DUP. Also stored: the first MiB (btrfs never
 * allocates it; boot loaders live there) and every superblock mirror that
 * fits the device. Free space tree, v1 space cache, csum and subvolume
 * trees are all extents of the extent tree, so they are covered.
 *
 * Checked before anything is trusted (failure = full copy with the reason):
 * every tree block read has the right crc32c (other checksum types are not
 * verified, only the header fields), fsid, bytenr, level, generation and
 * first key; every chunk has a BLOCK_GROUP_ITEM whose "used" equals the sum
 * of the extents inside it; every tree block read and every live tree root
 * lies inside an allocated extent. Walks are bounded: depth by the level,
 * reads by the number of blocks the metadata chunks can hold.
 *
 * Does not: read filesystems spanning several devices, RAID profiles other
 * than single and DUP, zoned devices, extent-tree-v2 or the block group
 * tree (all "not understood": the scanner copies them in full, saying
 * why); trust a filesystem whose tree log needs replaying (flagged
 * FS_INFO_STALE_MAP: the log owns blocks the extent tree does not list
 * yet). Layout: the btrfs documentation "On-disk format" and the kernel's
 * include/uapi/linux/btrfs_tree.h; offsets below name the struct field.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "ctx.h"
#include "dev.h"
#include "byteorder.h"
#include "fs_btrfs.h"

static int
check_super(const struct walk *w, const uint8_t *sb, struct btrfs *b)
{
	uint64_t flags = img_le64(sb + 0x38), ndev = img_le64(sb + 0x88);
	uint64_t incompat = img_le64(sb + 0xbc), compat_ro = img_le64(sb + 0xb4);

	if (memcmp(sb + 0x40, "_BHRfS_M", 8) != 0)	/* magic */
		return btrfs_not_ours(w, "no superblock magic", 0);
	b->csum_type = (uint16_t)(sb[0xc4] | sb[0xc5] << 8);	/* csum_type */
	if (b->csum_type == 0 && img_le32(sb) != img_crc32c(0, sb + 32,
	    SB_SIZE - 32))
		return btrfs_not_ours(w, "bad superblock checksum", img_le32(sb));
	if (b->csum_type > 3)		/* crc32c, xxhash64, sha256, blake2b */
		return btrfs_not_ours(w, "unknown checksum type", b->csum_type);
	if (img_le64(sb + 0x30) != SB_OFF)			/* bytenr */
		return btrfs_not_ours(w, "superblock bytenr", img_le64(sb + 0x30));
	if (ndev != 1)					/* num_devices */
		return btrfs_not_ours(w, "spans several devices; only single-device "
		    "btrfs is read", ndev);
	if (incompat & ~INCOMPAT_OK)			/* incompat_flags */
		return btrfs_not_ours(w, "unsupported incompat features (zoned, "
		    "extent-tree-v2, ...)", incompat);
	if (compat_ro & ~COMPAT_RO_OK)			/* compat_ro_flags */
		return btrfs_not_ours(w, "unsupported compat_ro features "
		    "(block-group-tree, ...)", compat_ro);
	if (flags & ~FLAGS_OK)
		return btrfs_not_ours(w, "superblock flags of a metadump or an "
		    "unfinished conversion", flags);
	b->sectorsize = img_le32(sb + 0x90);		/* sectorsize */
	b->nodesize = img_le32(sb + 0x94);			/* nodesize */
	if (!btrfs_is_pow2(b->sectorsize) || b->sectorsize < 4096 ||
	    b->sectorsize > 65536 || !btrfs_is_pow2(b->nodesize) ||
	    b->nodesize < b->sectorsize || b->nodesize > 65536)
		return btrfs_not_ours(w, "bad sector or node size",
		    (unsigned long long)b->sectorsize << 32 | b->nodesize);
	/* metadata_uuid (0x23b) replaces fsid (0x20) in tree headers */
	memcpy(b->fsid, sb + (incompat & INCOMPAT_METADATA_UUID ? 0x23b :
	    0x20), 16);
	if (memcmp(sb + 0xc9 + 82, b->fsid, 16) != 0)	/* dev_item.fsid */
		return btrfs_not_ours(w, "dev_item belongs to another filesystem", 0);
	b->devid = img_le64(sb + 0xc9);			/* dev_item.devid */
	b->dev_bytes = img_le64(sb + 0xc9 + 8);		/* dev_item.total_bytes */
	if (b->dev_bytes > w->info->len || b->dev_bytes < SB_OFF + SB_SIZE)
		return btrfs_not_ours(w, "device size does not fit the space "
		    "available", b->dev_bytes);
	b->generation = img_le64(sb + 0x48);		/* generation */
	b->root = img_le64(sb + 0x50);			/* root */
	b->chunk_root = img_le64(sb + 0x58);		/* chunk_root */
	b->log_root = img_le64(sb + 0x60);			/* log_root */
	b->root_level = sb[0xc6];			/* root_level */
	b->chunk_root_level = sb[0xc7];			/* chunk_root_level */
	return 0;
}

static void
bt_release(struct fs_info *info)
{
	struct btrfs *b = info->priv;

	if (b) {
		free(b->chunks.v);
		img_extents_free(&b->nodes);
		free(b);
	}
	info->priv = NULL;
}

static int
bt_probe(struct img_dev *dev, struct fs_info *info, struct img_ctx *ctx)
{
	struct walk w = { .dev = dev, .info = info, .ctx = ctx };
	uint8_t sb[SB_SIZE];
	struct btrfs *b;
	int rc;

	if (info->len < SB_OFF + SB_SIZE)
		return btrfs_not_ours(&w, "too small for a superblock", info->len);
	if (img_dev_pread(dev, sb, sizeof(sb), info->off + SB_OFF, ctx) < 0)
		return img_error_prefix(ctx, "reading the btrfs superblock");
	if (!(b = calloc(1, sizeof(*b))))
		return btrfs_no_memory(&w);
	img_extents_init(&b->nodes);
	b->used = UINT64_MAX;
	info->priv = w.b = b;
	if ((rc = check_super(&w, sb, b)) == 0 &&
	    (rc = btrfs_read_sys_array(&w, sb)) == 0)
		rc = btrfs_read_chunk_tree(&w);
	if (rc != 0) {
		bt_release(info);
		return rc;
	}
	info->block_size = b->sectorsize;
	info->block_count = b->dev_bytes / b->sectorsize;
	if (img_le64(sb + 0x38) & FLAG_ERROR)
		info->flags |= FS_INFO_DIRTY;
	if (b->log_root)	/* a tree log to replay: see the top */
		info->flags |= FS_INFO_DIRTY | FS_INFO_STALE_MAP;
	return 0;
}

/* What used_extents collects from the root and extent trees. */
struct scan {
	uint64_t extent_root, n_extent_roots;
	unsigned extent_level;
	struct img_extents roots;	/* logical root blocks of live trees */
	struct img_extents logical;	/* allocated extents */
	struct img_extents phys;	/* their stripes, device offsets */
	uint64_t prev_end;		/* end of the previous extent */
	const struct chunk *run_chunk;	/* chunk of the open run, or NULL */
	uint64_t run_start, run_end;
};

/* root tree visitor: struct btrfs_root_item (bytenr at 176, refs at 216,
 * level at 238). Finds the extent tree and every live tree's root. */
static int
visit_root(struct walk *w, const uint8_t *key, const uint8_t *data,
    uint32_t size)
{
	struct scan *s = w->arg;

	if (key[8] != ROOT_ITEM)
		return 0;
	if (size < 239)
		return btrfs_bad(w, -EBADMSG, "root item %llu is %u bytes",
		    (unsigned long long)img_le64(key), size);
	if (img_le64(key) == EXTENT_TREE) {
		s->extent_root = img_le64(data + 176);
		s->extent_level = data[238];
		s->n_extent_roots++;
	}
	if (img_le32(data + 216) == 0)	/* a deleted subvolume being dropped */
		return 0;
	return img_extents_add(&s->roots, img_le64(data + 176), w->b->nodesize) <
	    0 ? btrfs_no_memory(w) : 0;
}

/* Adds the open run of extents at every stripe of its chunk. */
static int
flush_run(struct walk *w, struct scan *s)
{
	const struct chunk *c = s->run_chunk;
	uint64_t len = s->run_end - s->run_start;

	if (!c)
		return 0;
	s->run_chunk = NULL;
	if (img_extents_add(&s->logical, s->run_start, len) < 0)
		return btrfs_no_memory(w);
	for (unsigned k = 0; k < c->copies; k++)
		if (img_extents_add(&s->phys, w->info->off + c->phys[k] +
		    (s->run_start - c->logical), len) < 0)
			return btrfs_no_memory(w);
	return 0;
}

/* BLOCK_GROUP_ITEM (key: start, type, length): struct
 * btrfs_block_group_item { used, chunk_objectid, flags }. */
static int
visit_block_group(struct walk *w, const uint8_t *key, const uint8_t *data,
    uint32_t size)
{
	struct chunk *c = btrfs_find_chunk(&w->b->chunks, img_le64(key));

	if (size < 24 || !c || c->logical != img_le64(key) || c->have_bg ||
	    c->length != img_le64(key + 9) || img_le64(data + 16) != c->type ||
	    img_le64(data) > c->length)
		return btrfs_bad(w, -EBADMSG, "block group item at logical %llu "
		    "does not match a chunk", (unsigned long long)img_le64(key));
	c->have_bg = 1;
	c->bg_used = img_le64(data);
	return 0;
}

/* extent tree visitor: EXTENT_ITEM (key offset = length) and skinny
 * METADATA_ITEM (key offset = level; nodesize long) in address order,
 * merged into runs within a chunk. Back references are skipped. */
static int
visit_extent(struct walk *w, const uint8_t *key, const uint8_t *data,
    uint32_t size)
{
	struct scan *s = w->arg;
	uint64_t start = img_le64(key), len = w->b->nodesize;
	struct chunk *c = btrfs_find_chunk(&w->b->chunks, start);
	int rc;

	if (key[8] == BLOCK_GROUP_ITEM)
		return visit_block_group(w, key, data, size);
	if (key[8] != EXTENT_ITEM && key[8] != METADATA_ITEM)
		return 0;
	if (key[8] == EXTENT_ITEM)
		len = img_le64(key + 9);
	if (len == 0 || start < s->prev_end || start % w->b->sectorsize ||
	    len % w->b->sectorsize || !c || len > c->length -
	    (start - c->logical))
		return btrfs_bad(w, -EBADMSG, "extent at logical %llu (%llu bytes) "
		    "overlaps another or leaves its chunk",
		    (unsigned long long)start, (unsigned long long)len);
	s->prev_end = start + len;
	c->ext_used += len;
	if (s->run_chunk == c && s->run_end == start) {
		s->run_end += len;
		return 0;
	}
	if ((rc = flush_run(w, s)) < 0)
		return rc;
	s->run_chunk = c;
	s->run_start = start;
	s->run_end = start + len;
	return 0;
}

/* Every block read and every live root lies in an allocated extent; every
 * chunk has a block group whose "used" its extents add up to. */
static int
check_consistency(struct walk *w, struct scan *s)
{
	const struct img_extents *lists[2] = { &w->b->nodes, &s->roots };
	const struct chunks *cs = &w->b->chunks;

	img_extents_normalize(&s->logical);
	for (int l = 0; l < 2; l++)
		for (size_t i = 0; i < lists[l]->n; i++) {
			const struct img_extent *e = &lists[l]->v[i];

			if (img_extents_covered(&s->logical, e->off, e->len) !=
			    e->len)
				return btrfs_bad(w, -EBADMSG, "tree block at logical "
				    "%llu is not in the extent tree",
				    (unsigned long long)e->off);
		}
	for (size_t i = 0; i < cs->n; i++)
		if (!cs->v[i].have_bg || cs->v[i].bg_used != cs->v[i].ext_used)
			return btrfs_bad(w, -EBADMSG, "block group at logical %llu "
			    "says %llu bytes used, its extents add up to %llu",
			    (unsigned long long)cs->v[i].logical,
			    (unsigned long long)cs->v[i].bg_used,
			    (unsigned long long)cs->v[i].ext_used);
	return 0;
}

/* The first MiB and every superblock copy inside the device (copy i >= 1
 * at 16 KiB << 12i: 64 MiB, 256 GiB; btrfs_sb_offset()). */
static int
add_fixed_areas(struct walk *w, struct scan *s)
{
	uint64_t size = w->b->dev_bytes;
	int rc = img_extents_add(&s->phys, w->info->off, size < BOOT_AREA ?
	    size : BOOT_AREA);

	for (int i = 0; rc == 0 && i < SB_MIRRORS; i++) {
		uint64_t at = i ? 16384ull << (12 * i) : SB_OFF;

		if (at + SB_SIZE <= size)
			rc = img_extents_add(&s->phys, w->info->off + at,
			    SB_SIZE);
	}
	return rc < 0 ? btrfs_no_memory(w) : 0;
}

static int
scan_trees(struct walk *w, struct scan *s)
{
	struct btrfs *b = w->b;
	int rc;

	rc = btrfs_walk_tree(w, "root tree", b->root, b->root_level, visit_root, s);
	if (rc == 0 && s->n_extent_roots != 1)
		rc = btrfs_bad(w, -EBADMSG, "the root tree lists %llu extent trees",
		    (unsigned long long)s->n_extent_roots);
	if (rc == 0)
		rc = btrfs_walk_tree(w, "extent tree", s->extent_root,
		    s->extent_level, visit_extent, s);
	if (rc == 0)
		rc = flush_run(w, s);
	if (rc == 0)
		rc = check_consistency(w, s);
	if (rc == 0)
		rc = add_fixed_areas(w, s);
	return rc;
}

static int
bt_used_extents(struct img_dev *dev, const struct fs_info *info,
    struct img_extents *used, struct img_ctx *ctx)
{
	struct btrfs *b = info->priv;
	struct walk w = { .b = b, .dev = dev, .info = info, .ctx = ctx };
	struct scan s = { .run_chunk = NULL };
	int rc;

	img_extents_init(&s.roots);
	img_extents_init(&s.logical);
	img_extents_init(&s.phys);
	for (size_t i = 0; i < b->chunks.n; i++) {
		struct chunk *c = &b->chunks.v[i];

		c->have_bg = 0;
		c->bg_used = c->ext_used = 0;
		if (c->type & (BG_METADATA | BG_SYSTEM))
			w.budget += c->length / b->nodesize;
	}
	if ((rc = scan_trees(&w, &s)) == 0) {
		img_extents_normalize(&s.phys);
		if ((rc = img_extents_add_all(used, &s.phys)) < 0)
			btrfs_no_memory(&w);
		else
			b->used = img_extents_total(&s.phys);
	}
	img_extents_free(&s.roots);
	img_extents_free(&s.logical);
	img_extents_free(&s.phys);
	return rc;
}

/* "single", "DUP" or "single+DUP" for the chunks with any of kind's bits */
static const char *
profiles(const struct btrfs *b, uint64_t kind)
{
	int single = 0, dup = 0;

	for (size_t i = 0; i < b->chunks.n; i++)
		if (b->chunks.v[i].type & kind) {
			dup |= b->chunks.v[i].copies == 2;
			single |= b->chunks.v[i].copies == 1;
		}
	return single && dup ? "single+DUP" : dup ? "DUP" : "single";
}

static void
bt_describe(const struct fs_info *info, char *buf, size_t len)
{
	const struct btrfs *b = info->priv;
	char used[32] = "";
	int n;

	if (!b) {
		snprintf(buf, len, "btrfs (not probed)");
		return;
	}
	if (b->used != UINT64_MAX)
		snprintf(used, sizeof(used), "%llu of ",
		    (unsigned long long)b->used);
	n = snprintf(buf, len, "btrfs, %u-byte sectors, %u-byte nodes, "
	    "metadata %s, data %s, %s%llu bytes%s%s", b->sectorsize,
	    b->nodesize, profiles(b, BG_METADATA | BG_SYSTEM),
	    profiles(b, BG_DATA), used, (unsigned long long)b->dev_bytes,
	    b->used != UINT64_MAX ? " used" : "",
	    b->log_root ? ", tree log needs replay" : "");
	if (info->label[0] && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ", label '%s'", info->label);
}

const struct fs_ops fs_btrfs_ops = {
	.name = "btrfs",
	.probe = bt_probe,
	.describe = bt_describe,
	.used_extents = bt_used_extents,
	.release = bt_release,
};
