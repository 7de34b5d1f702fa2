/*
 * pt_gpt.c - GPT: the areas the table occupies at both ends of the disk.
 *
 * libblkid lists the partitions; this module reads the primary header (or,
 * if it is damaged, the backup header in the last LBA) for the positions of
 * the protective MBR, both headers and both entry arrays, and everything
 * after the last usable LBA. Rewriting the backup copy for a bigger target
 * belongs to restore.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "ctx.h"
#include "dev.h"
#include "extents.h"
#include "formats.h"

/* GPT header fields, UEFI 2.10 section 5.3.2 */
#define GPT_SIGNATURE		"EFI PART"
#define GPT_HDR_SIZE_OFF	12	/* u32 */
#define GPT_MY_LBA		24	/* u64 */
#define GPT_ALT_LBA		32	/* u64 */
#define GPT_FIRST_USABLE	40	/* u64 */
#define GPT_LAST_USABLE		48	/* u64 */
#define GPT_ENTRIES_LBA		72	/* u64 */
#define GPT_NUM_ENTRIES		80	/* u32 */
#define GPT_ENTRY_SIZE		84	/* u32 */
#define GPT_MAX_ENTRY_BYTES	(4u << 20)

struct gpt_hdr {
	uint64_t my_lba, alt_lba, first_usable, last_usable, entries_lba;
	uint32_t num_entries, entry_size;
};

static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)le64(p) & 0xffffffffu;
}

/* Reads the header at lba; 0 if it is sane for a disk of nlba sectors. */
static int
read_header(struct img_dev *dev, unsigned ss, uint64_t lba, uint64_t nlba,
    struct gpt_hdr *h, struct img_ctx *ctx)
{
	uint8_t buf[4096];
	uint64_t entries_bytes;
	int rc;

	rc = img_dev_pread(dev, buf, ss, lba * ss, ctx);
	if (rc < 0)
		return rc;
	if (memcmp(buf, GPT_SIGNATURE, 8) != 0 ||
	    le32(buf + GPT_HDR_SIZE_OFF) < 92 ||
	    le32(buf + GPT_HDR_SIZE_OFF) > ss)
		return -EBADMSG;
	h->my_lba = le64(buf + GPT_MY_LBA);
	h->alt_lba = le64(buf + GPT_ALT_LBA);
	h->first_usable = le64(buf + GPT_FIRST_USABLE);
	h->last_usable = le64(buf + GPT_LAST_USABLE);
	h->entries_lba = le64(buf + GPT_ENTRIES_LBA);
	h->num_entries = le32(buf + GPT_NUM_ENTRIES);
	h->entry_size = le32(buf + GPT_ENTRY_SIZE);
	entries_bytes = (uint64_t)h->num_entries * h->entry_size;
	if (h->my_lba != lba || h->entry_size < 128 ||
	    entries_bytes > GPT_MAX_ENTRY_BYTES ||
	    h->first_usable > h->last_usable || h->last_usable >= nlba ||
	    h->alt_lba >= nlba || h->entries_lba >= nlba ||
	    h->entries_lba + (entries_bytes + ss - 1) / ss > nlba)
		return -EBADMSG;
	return 0;
}

static int
add_lbas(struct img_extents *meta, unsigned ss, uint64_t lba, uint64_t n)
{
	return img_extents_add(meta, lba * ss, n * ss);
}

static int
gpt_table_extents(struct img_dev *dev, const struct pt_layout *pl,
    struct img_extents *meta, struct img_ctx *ctx)
{
	unsigned ss = pl->sector_size >= 512 && pl->sector_size <= 4096 ?
	    pl->sector_size : 512;
	uint64_t nlba = pl->disk_size / ss, entry_lbas;
	struct gpt_hdr h;
	int rc;

	if (nlba < 3)
		return img_error(ctx, -EBADMSG, "'%s': too small for GPT",
		    dev->path);
	rc = read_header(dev, ss, 1, nlba, &h, ctx);
	if (rc == -EBADMSG)
		rc = read_header(dev, ss, nlba - 1, nlba, &h, ctx);
	if (rc == -EBADMSG)
		return img_error(ctx, -EBADMSG,
		    "'%s': both GPT headers are damaged", dev->path);
	if (rc < 0)
		return rc;
	entry_lbas = ((uint64_t)h.num_entries * h.entry_size + ss - 1) / ss;
	/* protective MBR, primary header and entries up to the first usable
	 * LBA; the backup entries and header after the last usable LBA */
	rc = add_lbas(meta, ss, 0, h.first_usable);
	if (rc == 0)
		rc = add_lbas(meta, ss, h.entries_lba, entry_lbas);
	if (rc == 0)
		rc = add_lbas(meta, ss, h.my_lba, 1);
	if (rc == 0)
		rc = add_lbas(meta, ss, h.alt_lba, 1);
	if (rc == 0)
		rc = add_lbas(meta, ss, h.last_usable + 1,
		    nlba - h.last_usable - 1);
	if (rc < 0)
		return img_error(ctx, rc, "out of memory");
	return 0;
}

const struct pt_ops pt_gpt_ops = {
	.name = "gpt",
	.table_extents = gpt_table_extents,
};
