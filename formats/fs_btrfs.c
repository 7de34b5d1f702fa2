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

#include "ctx.h"
#include "dev.h"
#include "extents.h"
#include "codec.h"
#include "endian.h"
#include "formats.h"

#define SB_OFF		0x10000u	/* primary superblock, 64 KiB */
#define SB_SIZE		4096u		/* BTRFS_SUPER_INFO_SIZE */
#define SB_MIRRORS	3		/* 64 KiB, 64 MiB, 256 GiB */
#define SYS_ARRAY_MAX	2048u		/* BTRFS_SYSTEM_CHUNK_ARRAY_SIZE */
#define BOOT_AREA	(1u << 20)	/* below the first dev extent */
#define MAX_LEVEL	8		/* BTRFS_MAX_LEVEL: levels 0..7 */
#define HDR		0x65		/* sizeof(struct btrfs_header) */
#define ITEM		25		/* struct btrfs_item: key, off, size */
#define PTR		33		/* struct btrfs_key_ptr: key, ptr, gen */
#define KEY		17		/* struct btrfs_disk_key */
#define CHUNK		48		/* struct btrfs_chunk without stripes */
#define STRIPE		32		/* struct btrfs_stripe */

/* key types and object ids (btrfs_tree.h) */
enum {
	ROOT_ITEM = 132, EXTENT_ITEM = 168, METADATA_ITEM = 169,
	BLOCK_GROUP_ITEM = 192, CHUNK_ITEM = 228,
	EXTENT_TREE = 2, FIRST_CHUNK_TREE = 256,
};

/* chunk and block group type bits (BTRFS_BLOCK_GROUP_*) */
#define BG_DATA		0x1ull
#define BG_SYSTEM	0x2ull
#define BG_METADATA	0x4ull
#define BG_DUP		0x20ull
#define BG_PROFILES	0x7f8ull	/* RAID0 ... RAID1C4, DUP */

/* Superblock bits understood here (btrfs.h): incompat MIXED_BACKREF up to
 * RAID1C34 (bit 11); compat_ro FREE_SPACE_TREE(_VALID), VERITY; flags
 * WRITTEN, RELOC, ERROR, SEEDING. Not: METADUMP, CHANGING_FSID, ... */
#define INCOMPAT_OK	0xfffull
#define INCOMPAT_METADATA_UUID 0x400ull
#define COMPAT_RO_OK	0x7ull
#define FLAGS_OK	(0x7ull | 1ull << 32)
#define FLAG_ERROR	0x4ull

struct chunk {
	uint64_t logical, length, type;
	uint64_t phys[2];	/* stripe offsets on this device */
	unsigned copies;	/* 1 single, 2 DUP */
	int have_bg;
	uint64_t bg_used;	/* BLOCK_GROUP_ITEM.used */
	uint64_t ext_used;	/* extents found inside */
};

struct chunks {
	struct chunk *v;	/* sorted by logical */
	size_t n, cap;
};

struct btrfs {
	uint8_t fsid[16];	/* what tree block headers carry */
	uint64_t generation, root, chunk_root, log_root, devid, dev_bytes;
	uint32_t sectorsize, nodesize;
	uint16_t csum_type;
	uint8_t root_level, chunk_root_level;
	struct chunks chunks;
	struct img_extents nodes;	/* logical ranges of blocks read */
	uint64_t used;		/* bytes, UINT64_MAX until used_extents */
};

struct walk;
typedef int visit_fn(struct walk *w, const uint8_t *key, const uint8_t *data,
    uint32_t size);

/* One tree walk: a visitor for each leaf item, one buffer per level. */
struct walk {
	struct btrfs *b;
	struct img_dev *dev;
	const struct fs_info *info;
	struct img_ctx *ctx;
	const char *tree;
	visit_fn *visit;
	void *arg;
	uint8_t *buf[MAX_LEVEL];
	uint64_t budget;	/* tree blocks left to read */
};



static int
is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/* Stores "'dev': btrfs at offset N: <why>"; returns err. */
static int __attribute__((format(printf, 3, 4)))
bad(const struct walk *w, int err, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return img_error(w->ctx, err, "'%s': btrfs at offset %llu: %s",
	    w->dev->path, (unsigned long long)w->info->off, why);
}

/* A layout this module does not read: message, and 1 for the scanner. */
static int
not_ours(const struct walk *w, const char *why, unsigned long long v)
{
	bad(w, -EINVAL, "%s (0x%llx)", why, v);
	return 1;
}

static int
no_memory(const struct walk *w)
{
	return img_error(w->ctx, -ENOMEM, "out of memory");
}

/* The chunk holding logical, or NULL. */
static struct chunk *
find_chunk(const struct chunks *cs, uint64_t logical)
{
	size_t lo = 0, hi = cs->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct chunk *c = &cs->v[mid];

		if (logical < c->logical)
			hi = mid;
		else if (logical - c->logical >= c->length)
			lo = mid + 1;
		else
			return c;
	}
	return NULL;
}

/* struct btrfs_disk_key order: objectid, type, offset */
static int
key_cmp(const uint8_t *a, const uint8_t *b)
{
	uint64_t x = img_le64(a), y = img_le64(b);

	if (x == y && a[8] != b[8])
		return a[8] < b[8] ? -1 : 1;
	if (x == y) {
		x = img_le64(a + 9);
		y = img_le64(b + 9);
	}
	return x < y ? -1 : x > y;
}

/* Why the tree block n (struct btrfs_header) read for logical is unusable,
 * or NULL. gen is the parent's key_ptr generation, 0 for a root. */
static const char *
bad_node(const struct btrfs *b, const uint8_t *n, uint64_t logical,
    unsigned level, uint64_t gen, const uint8_t *first_key)
{
	uint32_t items = img_le32(n + 0x60);		/* nritems */
	uint64_t ngen = img_le64(n + 0x50);			/* generation */

	if (b->csum_type == 0 && img_le32(n) != img_crc32c(0, n + 32,
	    b->nodesize - 32))				/* csum */
		return "bad checksum";
	if (memcmp(n + 0x20, b->fsid, 16) != 0)		/* fsid */
		return "wrong fsid";
	if (img_le64(n + 0x30) != logical)			/* bytenr */
		return "header names another address";
	if (n[0x64] != level)				/* level */
		return "unexpected level";
	if (gen ? ngen != gen : ngen > b->generation)
		return "unexpected generation";
	if (level ? items == 0 || items > (b->nodesize - HDR) / PTR :
	    items > (b->nodesize - HDR) / ITEM)
		return "bad item count";
	if (first_key && (items == 0 || memcmp(n + HDR, first_key, KEY)))
		return "first key differs from the parent's";
	return NULL;
}

/* Reads the tree block at logical into buf from the first good copy. */
static int
read_node(struct walk *w, uint64_t logical, unsigned level, uint64_t gen,
    const uint8_t *first_key, uint8_t *buf)
{
	struct btrfs *b = w->b;
	const struct chunk *c = find_chunk(&b->chunks, logical);
	const char *why = "not in a metadata chunk";

	if (w->budget-- == 0)
		return bad(w, -EBADMSG, "%s: more tree blocks than the "
		    "metadata chunks hold", w->tree);
	if (!c || !(c->type & (BG_METADATA | BG_SYSTEM)) || logical %
	    b->sectorsize || c->length < b->nodesize ||
	    logical - c->logical > c->length - b->nodesize)
		goto fail;
	for (unsigned k = 0; k < c->copies; k++) {
		uint64_t at = c->phys[k] + (logical - c->logical);

		if (img_dev_pread(w->dev, buf, b->nodesize, w->info->off + at,
		    w->ctx) < 0)
			return img_error_prefix(w->ctx, "reading the btrfs %s",
			    w->tree);
		if ((why = bad_node(b, buf, logical, level, gen, first_key)))
			continue;
		if (k > 0)
			img_warn(w->ctx, "'%s': btrfs %s block at logical "
			    "%llu: first copy is damaged, using the second",
			    w->dev->path, w->tree, (unsigned long long)logical);
		return img_extents_add(&b->nodes, logical, b->nodesize) < 0 ?
		    no_memory(w) : 0;
	}
fail:
	return bad(w, -EBADMSG, "%s block at logical %llu (level %u): %s",
	    w->tree, (unsigned long long)logical, level, why);
}

/* Leaf items (struct btrfs_item; data offsets count from the header's
 * end) in key order, each handed to the visitor. */
static int
walk_leaf(struct walk *w, const uint8_t *n, uint64_t logical)
{
	uint32_t items = img_le32(n + 0x60), space = w->b->nodesize - HDR;
	int rc;

	for (uint32_t i = 0; i < items; i++) {
		const uint8_t *it = n + HDR + (size_t)i * ITEM;
		uint32_t off = img_le32(it + 17), size = img_le32(it + 21);

		if (off < items * ITEM || off > space || size > space - off ||
		    (i && key_cmp(it - ITEM, it) >= 0))
			return bad(w, -EBADMSG, "%s leaf at logical %llu: item "
			    "%u out of bounds or order", w->tree,
			    (unsigned long long)logical, i);
		if ((rc = w->visit(w, it, n + HDR + off, size)) != 0)
			return rc;
	}
	return 0;
}

/* Depth first; a child is one level below its parent, so at most 8 deep. */
static int
walk_node(struct walk *w, uint64_t logical, unsigned level, uint64_t gen,
    const uint8_t *first_key)
{
	uint8_t *n = w->buf[level];
	int rc;

	if ((rc = read_node(w, logical, level, gen, first_key, n)) < 0)
		return rc;
	if (level == 0)
		return walk_leaf(w, n, logical);
	for (uint32_t i = 0; i < img_le32(n + 0x60); i++) {
		const uint8_t *p = n + HDR + (size_t)i * PTR;

		if (i && key_cmp(p - PTR, p) >= 0)
			return bad(w, -EBADMSG, "%s node at logical %llu: keys "
			    "out of order", w->tree, (unsigned long long)logical);
		if ((rc = img_check_cancel(w->ctx)) < 0 ||
		    (rc = walk_node(w, img_le64(p + 17), level - 1, img_le64(p + 25),
		    p)) != 0)
			return rc;
	}
	return 0;
}

static int
walk_tree(struct walk *w, const char *tree, uint64_t root, unsigned level,
    visit_fn *visit, void *arg)
{
	uint8_t *mem;
	int rc;

	if (level >= MAX_LEVEL)
		return bad(w, -EBADMSG, "%s root at level %u", tree, level);
	if (!(mem = malloc((size_t)w->b->nodesize * (level + 1))))
		return no_memory(w);
	for (unsigned i = 0; i <= level; i++)
		w->buf[i] = mem + (size_t)i * w->b->nodesize;
	w->tree = tree;
	w->visit = visit;
	w->arg = arg;
	rc = walk_node(w, root, level, 0, NULL);
	free(mem);
	return rc;
}

/* struct btrfs_chunk and its stripes at p (avail bytes) for the chunk at
 * logical; *len = bytes used. 0 = good, 1 = a profile not read here. */
static int
parse_chunk(const struct walk *w, const uint8_t *p, size_t avail,
    uint64_t logical, struct chunk *c, size_t *len)
{
	unsigned stripes = avail >= CHUNK ? p[44] | p[45] << 8 : 0;
	uint32_t ss = w->b->sectorsize;
	uint64_t profile;

	if (stripes == 0 || avail < CHUNK + (size_t)stripes * STRIPE)
		return bad(w, -EBADMSG, "chunk at logical %llu is truncated",
		    (unsigned long long)logical);
	memset(c, 0, sizeof(*c));
	c->logical = logical;
	c->length = img_le64(p);				/* length */
	c->type = img_le64(p + 24);				/* type */
	*len = CHUNK + (size_t)stripes * STRIPE;
	profile = c->type & BG_PROFILES;
	if (profile != 0 && profile != BG_DUP)
		return not_ours(w, "a chunk has a RAID profile; only single "
		    "and DUP are read", profile);
	c->copies = profile == BG_DUP ? 2 : 1;
	if (stripes != c->copies || !(c->type & (BG_DATA | BG_SYSTEM |
	    BG_METADATA)) || c->length == 0 || logical % ss ||
	    c->length % ss || logical + c->length < logical)
		return bad(w, -EBADMSG, "chunk at logical %llu: bad type, "
		    "length or stripe count", (unsigned long long)logical);
	for (unsigned k = 0; k < stripes; k++) {
		const uint8_t *s = p + CHUNK + (size_t)k * STRIPE;

		c->phys[k] = img_le64(s + 8);		/* offset */
		if (img_le64(s) != w->b->devid ||		/* devid */
		    c->phys[k] > w->b->dev_bytes ||
		    c->length > w->b->dev_bytes - c->phys[k])
			return bad(w, -EBADMSG, "chunk at logical %llu: stripe "
			    "%u outside this device",
			    (unsigned long long)logical, k);
	}
	return 0;
}

/* Inserts c in logical order; chunks may not overlap. */
static int
add_chunk(const struct walk *w, struct chunks *cs, const struct chunk *c)
{
	size_t i = cs->n;

	if (cs->n == cs->cap) {
		size_t cap = cs->cap ? cs->cap * 2 : 16;
		struct chunk *v = realloc(cs->v, cap * sizeof(*v));

		if (!v)
			return no_memory(w);
		cs->v = v;
		cs->cap = cap;
	}
	while (i > 0 && cs->v[i - 1].logical > c->logical)
		i--;
	if ((i > 0 && c->logical - cs->v[i - 1].logical < cs->v[i - 1].length)
	    || (i < cs->n && cs->v[i].logical - c->logical < c->length))
		return bad(w, -EBADMSG, "chunk at logical %llu overlaps "
		    "another", (unsigned long long)c->logical);
	memmove(cs->v + i + 1, cs->v + i, (cs->n - i) * sizeof(*c));
	cs->v[i] = *c;
	cs->n++;
	return 0;
}

/* superblock sys_chunk_array: (disk key, chunk + stripes) pairs holding
 * the SYSTEM chunks, enough to read the chunk tree. */
static int
read_sys_array(struct walk *w, const uint8_t *sb)
{
	uint32_t size = img_le32(sb + 0xa0);		/* sys_chunk_array_size */
	const uint8_t *a = sb + 0x32b;			/* sys_chunk_array */
	struct chunk c;
	size_t at = 0, len;
	int rc;

	if (size > SYS_ARRAY_MAX || size == 0)
		return bad(w, -EBADMSG, "sys_chunk_array size %u", size);
	while (at < size) {
		if (size - at < KEY || a[at + 8] != CHUNK_ITEM)
			return bad(w, -EBADMSG, "sys_chunk_array: bad key at "
			    "byte %zu", at);
		rc = parse_chunk(w, a + at + KEY, size - at - KEY,
		    img_le64(a + at + 9), &c, &len);
		if (rc == 0 && !(c.type & BG_SYSTEM))
			rc = bad(w, -EBADMSG, "sys_chunk_array holds a "
			    "non-system chunk");
		if (rc != 0 || (rc = add_chunk(w, &w->b->chunks, &c)) < 0)
			return rc;
		at += KEY + len;
	}
	return 0;
}

/* The chunk tree's list while it is read, and how many of its chunks
 * match one of the superblock's copy. */
struct chunk_scan {
	struct chunks list;
	size_t sys_matched;
};

/* chunk tree visitor: CHUNK_ITEM (objectid FIRST_CHUNK_TREE, offset =
 * logical start); DEV_ITEMs are skipped. */
static int
visit_chunk(struct walk *w, const uint8_t *key, const uint8_t *data,
    uint32_t size)
{
	struct chunk_scan *cs = w->arg;
	const struct chunk *s;
	struct chunk c;
	size_t len;
	int rc;

	if (key[8] != CHUNK_ITEM)
		return 0;
	if (img_le64(key) != FIRST_CHUNK_TREE)
		return bad(w, -EBADMSG, "chunk item with objectid %llu",
		    (unsigned long long)img_le64(key));
	if ((rc = parse_chunk(w, data, size, img_le64(key + 9), &c, &len)) != 0)
		return rc;
	s = find_chunk(&w->b->chunks, c.logical);
	if (s && s->logical == c.logical && s->length == c.length &&
	    s->type == c.type && !memcmp(s->phys, c.phys, sizeof(c.phys)))
		cs->sys_matched++;
	return add_chunk(w, &cs->list, &c);
}

/* Replaces the system chunks with the chunk tree's full list, once the
 * tree is found to hold every chunk of the superblock's copy. */
static int
read_chunk_tree(struct walk *w)
{
	struct chunk_scan cs = { { NULL, 0, 0 }, 0 };
	struct btrfs *b = w->b;
	int rc;

	for (size_t i = 0; i < b->chunks.n; i++)
		w->budget += b->chunks.v[i].length / b->nodesize;
	rc = walk_tree(w, "chunk tree", b->chunk_root, b->chunk_root_level,
	    visit_chunk, &cs);
	if (rc == 0 && cs.sys_matched != b->chunks.n)
		rc = bad(w, -EBADMSG, "the chunk tree and the superblock's "
		    "sys_chunk_array disagree");
	if (rc != 0) {
		free(cs.list.v);
		return rc;
	}
	free(b->chunks.v);
	b->chunks = cs.list;
	return 0;
}

/* struct btrfs_super_block: the fields this module relies on. */
static int
check_super(const struct walk *w, const uint8_t *sb, struct btrfs *b)
{
	uint64_t flags = img_le64(sb + 0x38), ndev = img_le64(sb + 0x88);
	uint64_t incompat = img_le64(sb + 0xbc), compat_ro = img_le64(sb + 0xb4);

	if (memcmp(sb + 0x40, "_BHRfS_M", 8) != 0)	/* magic */
		return not_ours(w, "no superblock magic", 0);
	b->csum_type = (uint16_t)(sb[0xc4] | sb[0xc5] << 8);	/* csum_type */
	if (b->csum_type == 0 && img_le32(sb) != img_crc32c(0, sb + 32,
	    SB_SIZE - 32))
		return not_ours(w, "bad superblock checksum", img_le32(sb));
	if (b->csum_type > 3)		/* crc32c, xxhash64, sha256, blake2b */
		return not_ours(w, "unknown checksum type", b->csum_type);
	if (img_le64(sb + 0x30) != SB_OFF)			/* bytenr */
		return not_ours(w, "superblock bytenr", img_le64(sb + 0x30));
	if (ndev != 1)					/* num_devices */
		return not_ours(w, "spans several devices; only single-device "
		    "btrfs is read", ndev);
	if (incompat & ~INCOMPAT_OK)			/* incompat_flags */
		return not_ours(w, "unsupported incompat features (zoned, "
		    "extent-tree-v2, ...)", incompat);
	if (compat_ro & ~COMPAT_RO_OK)			/* compat_ro_flags */
		return not_ours(w, "unsupported compat_ro features "
		    "(block-group-tree, ...)", compat_ro);
	if (flags & ~FLAGS_OK)
		return not_ours(w, "superblock flags of a metadump or an "
		    "unfinished conversion", flags);
	b->sectorsize = img_le32(sb + 0x90);		/* sectorsize */
	b->nodesize = img_le32(sb + 0x94);			/* nodesize */
	if (!is_pow2(b->sectorsize) || b->sectorsize < 4096 ||
	    b->sectorsize > 65536 || !is_pow2(b->nodesize) ||
	    b->nodesize < b->sectorsize || b->nodesize > 65536)
		return not_ours(w, "bad sector or node size",
		    (unsigned long long)b->sectorsize << 32 | b->nodesize);
	/* metadata_uuid (0x23b) replaces fsid (0x20) in tree headers */
	memcpy(b->fsid, sb + (incompat & INCOMPAT_METADATA_UUID ? 0x23b :
	    0x20), 16);
	if (memcmp(sb + 0xc9 + 82, b->fsid, 16) != 0)	/* dev_item.fsid */
		return not_ours(w, "dev_item belongs to another filesystem", 0);
	b->devid = img_le64(sb + 0xc9);			/* dev_item.devid */
	b->dev_bytes = img_le64(sb + 0xc9 + 8);		/* dev_item.total_bytes */
	if (b->dev_bytes > w->info->len || b->dev_bytes < SB_OFF + SB_SIZE)
		return not_ours(w, "device size does not fit the space "
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
		return not_ours(&w, "too small for a superblock", info->len);
	if (img_dev_pread(dev, sb, sizeof(sb), info->off + SB_OFF, ctx) < 0)
		return img_error_prefix(ctx, "reading the btrfs superblock");
	if (!(b = calloc(1, sizeof(*b))))
		return no_memory(&w);
	img_extents_init(&b->nodes);
	b->used = UINT64_MAX;
	info->priv = w.b = b;
	if ((rc = check_super(&w, sb, b)) == 0 &&
	    (rc = read_sys_array(&w, sb)) == 0)
		rc = read_chunk_tree(&w);
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
		return bad(w, -EBADMSG, "root item %llu is %u bytes",
		    (unsigned long long)img_le64(key), size);
	if (img_le64(key) == EXTENT_TREE) {
		s->extent_root = img_le64(data + 176);
		s->extent_level = data[238];
		s->n_extent_roots++;
	}
	if (img_le32(data + 216) == 0)	/* a deleted subvolume being dropped */
		return 0;
	return img_extents_add(&s->roots, img_le64(data + 176), w->b->nodesize) <
	    0 ? no_memory(w) : 0;
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
		return no_memory(w);
	for (unsigned k = 0; k < c->copies; k++)
		if (img_extents_add(&s->phys, w->info->off + c->phys[k] +
		    (s->run_start - c->logical), len) < 0)
			return no_memory(w);
	return 0;
}

/* BLOCK_GROUP_ITEM (key: start, type, length): struct
 * btrfs_block_group_item { used, chunk_objectid, flags }. */
static int
visit_block_group(struct walk *w, const uint8_t *key, const uint8_t *data,
    uint32_t size)
{
	struct chunk *c = find_chunk(&w->b->chunks, img_le64(key));

	if (size < 24 || !c || c->logical != img_le64(key) || c->have_bg ||
	    c->length != img_le64(key + 9) || img_le64(data + 16) != c->type ||
	    img_le64(data) > c->length)
		return bad(w, -EBADMSG, "block group item at logical %llu "
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
	struct chunk *c = find_chunk(&w->b->chunks, start);
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
		return bad(w, -EBADMSG, "extent at logical %llu (%llu bytes) "
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
				return bad(w, -EBADMSG, "tree block at logical "
				    "%llu is not in the extent tree",
				    (unsigned long long)e->off);
		}
	for (size_t i = 0; i < cs->n; i++)
		if (!cs->v[i].have_bg || cs->v[i].bg_used != cs->v[i].ext_used)
			return bad(w, -EBADMSG, "block group at logical %llu "
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
	return rc < 0 ? no_memory(w) : 0;
}

static int
scan_trees(struct walk *w, struct scan *s)
{
	struct btrfs *b = w->b;
	int rc;

	rc = walk_tree(w, "root tree", b->root, b->root_level, visit_root, s);
	if (rc == 0 && s->n_extent_roots != 1)
		rc = bad(w, -EBADMSG, "the root tree lists %llu extent trees",
		    (unsigned long long)s->n_extent_roots);
	if (rc == 0)
		rc = walk_tree(w, "extent tree", s->extent_root,
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
			no_memory(&w);
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
