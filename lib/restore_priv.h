/*
 * restore_priv.h - state shared by restore.c (the flow and the writing)
 * and restore_plan.c (target checks, the range to write, the plan).
 */
#ifndef IMG_RESTORE_PRIV_H
#define IMG_RESTORE_PRIV_H

#include <stdint.h>

#include "holdback.h"
#include "imgtool.h"
#include "layout.h"

struct img_dev;
struct img_reader;
struct img_header;
struct pt_ops;

struct restore {
	const struct img_restore_opts *opts;
	struct img_restore_result *res;
	struct img_reader *rd;
	const struct img_header *hdr;
	struct img_layout layout;
	struct img_dev *tgt;		/* NULL until a new file is created */
	uint64_t src_start, src_end;	/* logical bytes that go to the target */
	uint64_t target_size;		/* the target's size, or the new file's */
	const struct pt_ops *pt;	/* rewrites the table (relocate) */
	int relocate;			/* target size differs: rewrite table */
	const struct img_region *grow;	/* partition to extend, or NULL */
	uint64_t cursor;		/* --zero/--discard done below this */
	/* The full check's seal of each record (NULL when there was no
	 * check): the writing pass then decompresses without hashing. */
	uint32_t *seals;
	/* The target's first and last MiB, written after the data; dirty
	 * once anything on the target was changed. */
	struct img_holdback hb;
	int dirty;
};

/* restore_plan.c */
int restore_open_target(struct restore *s, struct img_ctx *ctx);
int restore_check_target(struct restore *s, struct img_ctx *ctx);
int restore_describe(struct restore *s, struct img_ctx *ctx);
int restore_confirm(struct restore *s, struct img_ctx *ctx);

/* grow.c */
/* Grows the filesystem of region r (now new_len bytes long) on dev with
 * the filesystem's own tool; a filesystem that cannot be grown here is
 * reported with img_note and is not an error. */
int img_grow_fs(struct img_dev *dev, const struct img_region *r,
    uint64_t new_len, struct img_ctx *ctx);

#endif
