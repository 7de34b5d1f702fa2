/*
 * fs_btrfs.h - what fs_btrfs.c (superblock, extent tree, the ops) and
 * fs_btrfs_tree.c (reading and walking tree blocks, the chunk map) share.
 * Private to those two files.
 */
#ifndef IMG_FS_BTRFS_H
#define IMG_FS_BTRFS_H

#include <stddef.h>
#include <stdint.h>

#include "extents.h"
#include "formats.h"

struct img_ctx;
struct img_dev;

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

/* fs_btrfs_tree.c */
int btrfs_is_pow2(uint64_t x);
int btrfs_bad(const struct walk *w, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int btrfs_not_ours(const struct walk *w, const char *why,
    unsigned long long v);
int btrfs_no_memory(const struct walk *w);
struct chunk *btrfs_find_chunk(const struct chunks *cs, uint64_t logical);
int btrfs_walk_tree(struct walk *w, const char *tree, uint64_t root,
    unsigned level, visit_fn *visit, void *arg);
int btrfs_read_sys_array(struct walk *w, const uint8_t *sb);
int btrfs_read_chunk_tree(struct walk *w);

#endif
