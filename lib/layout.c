/*
 * layout.c - decode the IMG_META_LAYOUT / IMG_META_REGION records of an
 * image (already bounds-checked by the reader) into a struct img_layout.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "image_read.h"
#include "layout.h"
#include "scan.h"

static void
decode_region(const uint8_t *b, struct img_region *v)
{
	v->start = img_le64(b + IMG_REG_START);
	v->len = img_le64(b + IMG_REG_LEN);
	v->used = img_le64(b + IMG_REG_USED);
	v->kind = img_le32(b + IMG_REG_KIND);
	v->number = img_le32(b + IMG_REG_NUMBER);
	v->flags = img_le32(b + IMG_REG_FLAGS);
	v->block_size = img_le32(b + IMG_REG_BLOCK_SIZE);
	img_get_str(b + IMG_REG_FSTYPE, 16, v->fstype);
	img_get_str(b + IMG_REG_PTTYPE, 40, v->pttype);
	img_get_str(b + IMG_REG_LABEL, 64, v->label);
	img_get_str(b + IMG_REG_UUID, 40, v->uuid);
	img_get_str(b + IMG_REG_PARTUUID, 40, v->partuuid);
	img_get_str(b + IMG_REG_NAME, 72, v->name);
	img_get_str(b + IMG_REG_NOTE, 40, v->note);
}

int
img_layout_read(const struct img_reader *r, struct img_layout *l,
    struct img_ctx *ctx)
{
	uint64_t size = img_reader_header(r)->source_size;
	const uint8_t *p;
	size_t pos = 0;
	uint16_t type;
	uint32_t len;

	memset(l, 0, sizeof(*l));
	l->source_size = size;
	while (img_meta_next(r, &pos, &type, &p, &len)) {
		struct img_region *v;

		if (type == IMG_META_LAYOUT && len >= IMG_LAYOUT_SIZE) {
			img_get_str(p + IMG_LAYOUT_SCHEME, 8, l->scheme);
			img_get_str(p + IMG_LAYOUT_ID, 40, l->disk_id);
		}
		if (type != IMG_META_REGION || len < IMG_REGION_SIZE)
			continue;
		v = realloc(l->regions, (l->nregions + 1) * sizeof(*v));
		if (!v) {
			img_layout_free(l);
			return img_error(ctx, -ENOMEM, "out of memory");
		}
		l->regions = v;
		v = &l->regions[l->nregions];
		decode_region(p, v);
		/* a region outside the source is damage, not layout */
		if (v->start > size || v->len > size - v->start) {
			img_layout_free(l);
			return img_error(ctx, -EBADMSG,
			    "'%s': metadata describes a region outside the source",
			    img_reader_path(r));
		}
		l->nregions++;
	}
	return 0;
}

int
img_layout_from_scan(const struct img_scan *scan, uint64_t size,
    struct img_layout *l, struct img_ctx *ctx)
{
	memset(l, 0, sizeof(*l));
	l->source_size = size;
	snprintf(l->scheme, sizeof(l->scheme), "%s", scan->scheme);
	snprintf(l->disk_id, sizeof(l->disk_id), "%s", scan->disk_id);
	l->regions = calloc(scan->nregions + 1, sizeof(*l->regions));
	if (!l->regions)
		return img_error(ctx, -ENOMEM, "out of memory");
	for (unsigned i = 0; i < scan->nregions; i++) {
		const struct img_scan_region *sr = &scan->regions[i];
		struct img_region *r = &l->regions[i];

		r->start = sr->start;
		r->len = sr->len;
		r->used = sr->used;
		r->kind = sr->kind;
		r->number = sr->number;
		r->flags = sr->flags;
		r->block_size = sr->block_size;
		snprintf(r->fstype, sizeof(r->fstype), "%s", sr->fstype);
		snprintf(r->label, sizeof(r->label), "%s", sr->label);
	}
	l->nregions = scan->nregions;
	return 0;
}

void
img_layout_free(struct img_layout *l)
{
	free(l->regions);
	l->regions = NULL;
	l->nregions = 0;
}

const struct img_region *
img_layout_partition(const struct img_layout *l, unsigned n)
{
	for (unsigned i = 0; i < l->nregions; i++)
		if (l->regions[i].kind == IMG_REGION_PART &&
		    l->regions[i].number == n &&
		    !(l->regions[i].flags & IMG_REGION_CONTAINER))
			return &l->regions[i];
	return NULL;
}

static uint64_t
partitions_end(const struct img_layout *l)
{
	uint64_t end = 0;

	for (unsigned i = 0; i < l->nregions; i++)
		if (l->regions[i].kind == IMG_REGION_PART &&
		    l->regions[i].start + l->regions[i].len > end)
			end = l->regions[i].start + l->regions[i].len;
	return end;
}

int
img_layout_in_tail_table(const struct img_layout *l, uint64_t off)
{
	uint64_t end = partitions_end(l);

	for (unsigned i = 0; i < l->nregions; i++) {
		const struct img_region *v = &l->regions[i];

		if (v->kind == IMG_REGION_TABLE && v->start >= end &&
		    off >= v->start && off < v->start + v->len)
			return 1;
	}
	return 0;
}

uint64_t
img_layout_min_size(const struct img_layout *l)
{
	uint64_t end = partitions_end(l), tail = 0;

	if (!l->scheme[0] || end == 0)
		return l->source_size;
	for (unsigned i = 0; i < l->nregions; i++)
		if (l->regions[i].kind == IMG_REGION_TABLE &&
		    l->regions[i].start >= end)
			tail += l->regions[i].len;
	if (strcmp(l->scheme, "gpt") == 0 && tail == 0)
		tail = 33 * 512;	/* 128 entries + header */
	return end + tail;
}

const char *
img_region_kind_name(uint32_t kind)
{
	switch (kind) {
	case IMG_REGION_TABLE:	return "table";
	case IMG_REGION_PART:	return "partition";
	case IMG_REGION_FS:	return "filesystem";
	case IMG_REGION_WHOLE:	return "whole";
	case IMG_REGION_VOLUME:	return "volume";
	default:		return "unknown";
	}
}
