/*
 * pt_dos.c - MBR partition tables: the areas the table itself occupies.
 *
 * libblkid lists the partitions (primary, extended, logical); this module
 * adds what must be stored besides them: the MBR sector and every EBR of
 * the extended partition's chain. It does not rewrite tables.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>

#include "ctx.h"
#include "dev.h"
#include "extents.h"
#include "byteorder.h"
#include "formats.h"

#define MBR_SIGNATURE_OFF	510	/* 0x55 0xAA */
#define MBR_ENTRY_OFF		446	/* four 16-byte entries */
#define MBR_ENTRY_TYPE		4
#define MBR_ENTRY_START		8	/* u32 LBA, relative (see below) */
#define EBR_MAX_CHAIN		1024	/* a loop guard, not a format limit */


static int
is_extended_type(uint8_t t)
{
	return t == 0x05 || t == 0x0f || t == 0x85;
}

/* Walks one EBR chain. In an EBR, entry 1 describes the logical partition
 * (relative to this EBR) and entry 2 links to the next EBR, relative to
 * the start of the extended partition. */
static int
add_ebr_chain(struct img_dev *dev, const struct pt_part *ext,
    struct img_extents *meta, struct img_ctx *ctx)
{
	uint64_t ebr = ext->start, end = ext->start + ext->size;
	uint8_t sec[512];
	int rc;

	for (int n = 0; n < EBR_MAX_CHAIN; n++) {
		const uint8_t *link = sec + MBR_ENTRY_OFF + 16;
		uint64_t next;

		rc = img_extents_add(meta, ebr, 512);
		if (rc < 0)
			return img_error(ctx, rc, "out of memory");
		rc = img_dev_pread(dev, sec, sizeof(sec), ebr, ctx);
		if (rc < 0)
			return rc;
		if (sec[MBR_SIGNATURE_OFF] != 0x55 ||
		    sec[MBR_SIGNATURE_OFF + 1] != 0xAA)
			return 0;	/* an empty extended partition */
		if (!is_extended_type(link[MBR_ENTRY_TYPE]))
			return 0;
		next = ext->start + (uint64_t)img_le32(link + MBR_ENTRY_START) * 512;
		if (next <= ebr || next >= end)
			return img_error(ctx, -EBADMSG,
			    "'%s': EBR chain at offset %llu points outside the extended partition",
			    dev->path, (unsigned long long)ebr);
		ebr = next;
	}
	return img_error(ctx, -EBADMSG, "'%s': EBR chain longer than %d links",
	    dev->path, EBR_MAX_CHAIN);
}

static int
dos_table_extents(struct img_dev *dev, const struct pt_layout *pl,
    struct img_extents *meta, struct img_ctx *ctx)
{
	int rc = img_extents_add(meta, 0, 512);

	if (rc < 0)
		return img_error(ctx, rc, "out of memory");
	for (unsigned i = 0; i < pl->nparts; i++) {
		if (!(pl->parts[i].flags & PT_PART_CONTAINER))
			continue;
		rc = add_ebr_chain(dev, &pl->parts[i], meta, ctx);
		if (rc < 0)
			return rc;
	}
	return 0;
}

const struct pt_ops pt_dos_ops = {
	.name = "dos",
	.table_extents = dos_table_extents,
};
