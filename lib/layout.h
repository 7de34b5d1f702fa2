/*
 * layout.h - the disk layout an image recorded at backup time (partition
 * table scheme and regions), decoded from its metadata, and what restore
 * derives from it: the smallest target a whole-disk image fits on, and a
 * partition's byte range.
 */
#ifndef IMG_LAYOUT_H
#define IMG_LAYOUT_H

#include <stdint.h>

struct img_ctx;
struct img_reader;

struct img_region {
	uint64_t start, len, used;
	uint32_t kind, number, flags, block_size;
	char fstype[17], pttype[41], label[65], uuid[41], partuuid[41];
	char name[73], note[41];
};

struct img_layout {
	char scheme[9];		/* "dos", "gpt", "" */
	char disk_id[41];
	unsigned nregions;
	struct img_region *regions;
	uint64_t source_size;
};

struct img_scan;

/* Decodes the layout from r's metadata (no layout record: scheme ""). */
int img_layout_read(const struct img_reader *r, struct img_layout *l,
    struct img_ctx *ctx);
void img_layout_free(struct img_layout *l);
/* The same description, from a fresh scan of a source of size bytes. */
int img_layout_from_scan(const struct img_scan *scan, uint64_t size,
    struct img_layout *l, struct img_ctx *ctx);
/* The partition numbered n (not an extended container), or NULL. */
const struct img_region *img_layout_partition(const struct img_layout *l,
    unsigned n);
/* 1 if [off, off+len) lies in a table area after the last partition (the
 * GPT backup copy), which a restore to another size rebuilds instead. */
int img_layout_in_tail_table(const struct img_layout *l, uint64_t off);
/* The smallest whole-disk target: the end of the last partition plus room
 * for a GPT backup copy; the source size when the image has no table. */
uint64_t img_layout_min_size(const struct img_layout *l);
const char *img_region_kind_name(uint32_t kind);

#endif
