/*
 * fs_btrfs_tree.c - btrfs tree blocks for fs_btrfs.c: read a block and check
 * it (checksum, fsid, bytenr, level, generation, first key), walk a tree
 * depth-first with a bounded budget calling a visitor on each leaf item,
 * and build the chunk map (logical -> stripes on this device) from the
 * superblock's sys_chunk_array and the chunk tree.
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




int
btrfs_is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/* Stores "'dev': btrfs at offset N: <why>"; returns err. */
int __attribute__((format(printf, 3, 4)))
btrfs_bad(const struct walk *w, int err, const char *fmt, ...)
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
int
btrfs_not_ours(const struct walk *w, const char *why, unsigned long long v)
{
	btrfs_bad(w, -EINVAL, "%s (0x%llx)", why, v);
	return 1;
}

int
btrfs_no_memory(const struct walk *w)
{
	return img_error(w->ctx, -ENOMEM, "out of memory");
}

/* The chunk holding logical, or NULL. */
struct chunk *
btrfs_find_chunk(const struct chunks *cs, uint64_t logical)
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
	const struct chunk *c = btrfs_find_chunk(&b->chunks, logical);
	const char *why = "not in a metadata chunk";

	if (w->budget-- == 0)
		return btrfs_bad(w, -EBADMSG, "%s: more tree blocks than the "
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
		    btrfs_no_memory(w) : 0;
	}
fail:
	return btrfs_bad(w, -EBADMSG, "%s block at logical %llu (level %u): %s",
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
			return btrfs_bad(w, -EBADMSG, "%s leaf at logical %llu: item "
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
			return btrfs_bad(w, -EBADMSG, "%s node at logical %llu: keys "
			    "out of order", w->tree, (unsigned long long)logical);
		if ((rc = img_check_cancel(w->ctx)) < 0 ||
		    (rc = walk_node(w, img_le64(p + 17), level - 1, img_le64(p + 25),
		    p)) != 0)
			return rc;
	}
	return 0;
}

int
btrfs_walk_tree(struct walk *w, const char *tree, uint64_t root,
    unsigned level, visit_fn *visit, void *arg)
{
	uint8_t *mem;
	int rc;

	if (level >= MAX_LEVEL)
		return btrfs_bad(w, -EBADMSG, "%s root at level %u", tree, level);
	if (!(mem = malloc((size_t)w->b->nodesize * (level + 1))))
		return btrfs_no_memory(w);
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
		return btrfs_bad(w, -EBADMSG, "chunk at logical %llu is truncated",
		    (unsigned long long)logical);
	memset(c, 0, sizeof(*c));
	c->logical = logical;
	c->length = img_le64(p);				/* length */
	c->type = img_le64(p + 24);				/* type */
	*len = CHUNK + (size_t)stripes * STRIPE;
	profile = c->type & BG_PROFILES;
	if (profile != 0 && profile != BG_DUP)
		return btrfs_not_ours(w, "a chunk has a RAID profile; only single "
		    "and DUP are read", profile);
	c->copies = profile == BG_DUP ? 2 : 1;
	if (stripes != c->copies || !(c->type & (BG_DATA | BG_SYSTEM |
	    BG_METADATA)) || c->length == 0 || logical % ss ||
	    c->length % ss || logical + c->length < logical)
		return btrfs_bad(w, -EBADMSG, "chunk at logical %llu: bad type, "
		    "length or stripe count", (unsigned long long)logical);
	for (unsigned k = 0; k < stripes; k++) {
		const uint8_t *s = p + CHUNK + (size_t)k * STRIPE;

		c->phys[k] = img_le64(s + 8);		/* offset */
		if (img_le64(s) != w->b->devid ||		/* devid */
		    c->phys[k] > w->b->dev_bytes ||
		    c->length > w->b->dev_bytes - c->phys[k])
			return btrfs_bad(w, -EBADMSG, "chunk at logical %llu: stripe "
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
			return btrfs_no_memory(w);
		cs->v = v;
		cs->cap = cap;
	}
	while (i > 0 && cs->v[i - 1].logical > c->logical)
		i--;
	if ((i > 0 && c->logical - cs->v[i - 1].logical < cs->v[i - 1].length)
	    || (i < cs->n && cs->v[i].logical - c->logical < c->length))
		return btrfs_bad(w, -EBADMSG, "chunk at logical %llu overlaps "
		    "another", (unsigned long long)c->logical);
	memmove(cs->v + i + 1, cs->v + i, (cs->n - i) * sizeof(*c));
	cs->v[i] = *c;
	cs->n++;
	return 0;
}

/* superblock sys_chunk_array: (disk key, chunk + stripes) pairs holding
 * the SYSTEM chunks, enough to read the chunk tree. */
int
btrfs_read_sys_array(struct walk *w, const uint8_t *sb)
{
	uint32_t size = img_le32(sb + 0xa0);		/* sys_chunk_array_size */
	const uint8_t *a = sb + 0x32b;			/* sys_chunk_array */
	struct chunk c;
	size_t at = 0, len;
	int rc;

	if (size > SYS_ARRAY_MAX || size == 0)
		return btrfs_bad(w, -EBADMSG, "sys_chunk_array size %u", size);
	while (at < size) {
		if (size - at < KEY || a[at + 8] != CHUNK_ITEM)
			return btrfs_bad(w, -EBADMSG, "sys_chunk_array: bad key at "
			    "byte %zu", at);
		rc = parse_chunk(w, a + at + KEY, size - at - KEY,
		    img_le64(a + at + 9), &c, &len);
		if (rc == 0 && !(c.type & BG_SYSTEM))
			rc = btrfs_bad(w, -EBADMSG, "sys_chunk_array holds a "
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
		return btrfs_bad(w, -EBADMSG, "chunk item with objectid %llu",
		    (unsigned long long)img_le64(key));
	if ((rc = parse_chunk(w, data, size, img_le64(key + 9), &c, &len)) != 0)
		return rc;
	s = btrfs_find_chunk(&w->b->chunks, c.logical);
	if (s && s->logical == c.logical && s->length == c.length &&
	    s->type == c.type && !memcmp(s->phys, c.phys, sizeof(c.phys)))
		cs->sys_matched++;
	return add_chunk(w, &cs->list, &c);
}

/* Replaces the system chunks with the chunk tree's full list, once the
 * tree is found to hold every chunk of the superblock's copy. */
int
btrfs_read_chunk_tree(struct walk *w)
{
	struct chunk_scan cs = { { NULL, 0, 0 }, 0 };
	struct btrfs *b = w->b;
	int rc;

	for (size_t i = 0; i < b->chunks.n; i++)
		w->budget += b->chunks.v[i].length / b->nodesize;
	rc = btrfs_walk_tree(w, "chunk tree", b->chunk_root, b->chunk_root_level,
	    visit_chunk, &cs);
	if (rc == 0 && cs.sys_matched != b->chunks.n)
		rc = btrfs_bad(w, -EBADMSG, "the chunk tree and the superblock's "
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
