/*
 * pt_gpt.c - GPT: the areas the table occupies at both ends of the disk.
 *
 * libblkid lists the partitions; this module reads the primary header (or,
 * if it is damaged, the backup header in the last LBA) for the positions of
 * the protective MBR, both headers and both entry arrays, and everything
 * after the last usable LBA. After a restore onto a disk of another size,
 * relocate moves the backup copy to the new end (and can grow the last
 * partition), with the CRCs recomputed.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "dev.h"
#include "extents.h"
#include "codec.h"
#include "byteorder.h"
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
#define GPT_HDR_CRC		16	/* u32, over header_size bytes */
#define GPT_ENTRIES_CRC		88	/* u32, over the entry array */
#define GPTE_FIRST_LBA		32	/* entry: u64 */
#define GPTE_LAST_LBA		40	/* entry: u64 */
#define GPT_MAX_ENTRY_BYTES	(4u << 20)
#define GPT_MAX_SECTOR		4096	/* the largest sector this reads */

struct gpt_hdr {
	uint64_t my_lba, alt_lba, first_usable, last_usable, entries_lba;
	uint32_t num_entries, entry_size;
};



/* Reads the header at lba; 0 if it is sane for a disk of nlba sectors. */
static int
read_header(struct img_dev *dev, unsigned ss, uint64_t lba, uint64_t nlba,
    struct gpt_hdr *h, struct img_ctx *ctx)
{
	uint8_t buf[GPT_MAX_SECTOR];
	uint64_t entries_bytes;
	int rc;

	rc = img_dev_pread(dev, buf, ss, lba * ss, ctx);
	if (rc < 0)
		return rc;
	if (memcmp(buf, GPT_SIGNATURE, 8) != 0 ||
	    img_le32(buf + GPT_HDR_SIZE_OFF) < 92 ||
	    img_le32(buf + GPT_HDR_SIZE_OFF) > ss)
		return -EBADMSG;
	h->my_lba = img_le64(buf + GPT_MY_LBA);
	h->alt_lba = img_le64(buf + GPT_ALT_LBA);
	h->first_usable = img_le64(buf + GPT_FIRST_USABLE);
	h->last_usable = img_le64(buf + GPT_LAST_USABLE);
	h->entries_lba = img_le64(buf + GPT_ENTRIES_LBA);
	h->num_entries = img_le32(buf + GPT_NUM_ENTRIES);
	h->entry_size = img_le32(buf + GPT_ENTRY_SIZE);
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
	unsigned ss = pl->sector_size >= 512 &&
	    pl->sector_size <= GPT_MAX_SECTOR ? pl->sector_size : 512;
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

/* The header and entry array as read from (and written back to) disk. */
struct gpt_copy {
	uint8_t hdr[GPT_MAX_SECTOR];
	uint8_t *entries;
	size_t entries_len;
	uint32_t hdr_size;
};

static int
read_primary(struct img_dev *dev, unsigned ss, uint64_t nlba,
    struct gpt_hdr *h, struct gpt_copy *g, struct img_ctx *ctx)
{
	uint8_t check[GPT_MAX_SECTOR];
	/* the header still describes the old disk size: no size bound */
	int rc = read_header(dev, ss, 1, UINT64_MAX, h, ctx);

	(void)nlba;
	if (rc == -EBADMSG)
		return img_error(ctx, -EBADMSG, "'%s': no valid primary GPT header",
		    dev->path);
	if (rc == 0)
		rc = img_dev_pread(dev, g->hdr, ss, ss, ctx);
	if (rc < 0)
		return rc;
	g->hdr_size = img_le32(g->hdr + GPT_HDR_SIZE_OFF);
	memcpy(check, g->hdr, g->hdr_size);
	img_put_le32(check + GPT_HDR_CRC, 0);
	if (img_crc32(0, check, g->hdr_size) != img_le32(g->hdr + GPT_HDR_CRC))
		return img_error(ctx, -EBADMSG, "'%s': primary GPT header CRC mismatch",
		    dev->path);
	g->entries_len = (size_t)h->num_entries * h->entry_size;
	g->entries = malloc(g->entries_len);
	if (!g->entries)
		return img_error(ctx, -ENOMEM, "out of memory");
	rc = img_dev_pread(dev, g->entries, g->entries_len,
	    h->entries_lba * ss, ctx);
	if (rc == 0 && img_crc32(0, g->entries, g->entries_len) !=
	    img_le32(g->hdr + GPT_ENTRIES_CRC))
		rc = img_error(ctx, -EBADMSG, "'%s': GPT entry array CRC mismatch",
		    dev->path);
	return rc;
}

/* Checks every partition fits below last_usable; grows grow_part to it. */
static int
fit_entries(struct img_dev *dev, const struct gpt_hdr *h, struct gpt_copy *g,
    uint64_t last_usable, unsigned grow_part, uint64_t *grown, unsigned ss,
    struct img_ctx *ctx)
{
	static const uint8_t unused[16];

	for (uint32_t i = 0; i < h->num_entries; i++) {
		uint8_t *e = g->entries + (size_t)i * h->entry_size;
		uint64_t first = img_le64(e + GPTE_FIRST_LBA);

		if (memcmp(e, unused, 16) == 0)
			continue;
		if (i + 1 == grow_part && first <= last_usable) {
			img_put_le64(e + GPTE_LAST_LBA, last_usable);
			*grown = (last_usable - first + 1) * ss;
		}
		if (img_le64(e + GPTE_LAST_LBA) > last_usable)
			return img_error(ctx, -ENOSPC,
			    "'%s': partition %u ends at sector %llu, beyond the last usable sector %llu of this disk",
			    dev->path, i + 1,
			    (unsigned long long)img_le64(e + GPTE_LAST_LBA),
			    (unsigned long long)last_usable);
	}
	return 0;
}

static void
seal_header(struct gpt_copy *g, uint64_t my, uint64_t alt,
    uint64_t entries_lba)
{
	img_put_le64(g->hdr + GPT_MY_LBA, my);
	img_put_le64(g->hdr + GPT_ALT_LBA, alt);
	img_put_le64(g->hdr + GPT_ENTRIES_LBA, entries_lba);
	img_put_le32(g->hdr + GPT_ENTRIES_CRC,
	    img_crc32(0, g->entries, g->entries_len));
	img_put_le32(g->hdr + GPT_HDR_CRC, 0);
	img_put_le32(g->hdr + GPT_HDR_CRC, img_crc32(0, g->hdr, g->hdr_size));
}

/* The protective MBR's 0xEE entry covers the disk (or 2^32-1 sectors). */
static int
fix_protective_mbr(struct img_dev *dev, uint64_t nlba, struct img_ctx *ctx)
{
	uint8_t mbr[512];
	int rc = img_dev_pread(dev, mbr, sizeof(mbr), 0, ctx);

	if (rc < 0 || mbr[510] != 0x55 || mbr[511] != 0xAA)
		return rc;
	for (int i = 0; i < 4; i++) {
		uint8_t *e = mbr + 446 + 16 * i;

		if (e[4] != 0xEE || img_le32(e + 8) != 1)
			continue;	/* a hybrid MBR's other entries stay */
		img_put_le32(e + 12, nlba - 1 > 0xffffffffu ? 0xffffffffu :
		    (uint32_t)(nlba - 1));
		return img_dev_pwrite(dev, mbr, sizeof(mbr), 0, ctx);
	}
	return 0;
}

static int
gpt_relocate(struct img_dev *dev, uint64_t new_size, unsigned grow_part,
    uint64_t *grown, struct img_ctx *ctx)
{
	unsigned ss = dev->sector_size;
	uint64_t nlba = new_size / ss, alt, bentries, last_usable, old_alt;
	struct gpt_copy g = { .entries = NULL };
	uint8_t zero[GPT_MAX_SECTOR] = { 0 };
	struct gpt_hdr h;
	int rc;

	*grown = 0;
	/* the header buffers hold one sector of at most GPT_MAX_SECTOR */
	if (ss < 512 || ss > GPT_MAX_SECTOR || (ss & (ss - 1)))
		return img_error(ctx, -ENOTSUP,
		    "'%s': %u-byte sectors: cannot rewrite its GPT (512 to %u bytes only)",
		    dev->path, ss, GPT_MAX_SECTOR);
	rc = read_primary(dev, ss, nlba, &h, &g, ctx);
	if (rc < 0)
		goto out;
	old_alt = img_le64(g.hdr + GPT_ALT_LBA);
	alt = nlba - 1;
	bentries = alt - (g.entries_len + ss - 1) / ss;
	last_usable = bentries - 1;
	rc = fit_entries(dev, &h, &g, last_usable, grow_part, grown, ss, ctx);
	if (rc < 0)
		goto out;
	img_put_le64(g.hdr + GPT_LAST_USABLE, last_usable);
	/* backup copy first, then the primary: a crash in between leaves a
	 * valid primary describing the old layout */
	seal_header(&g, alt, 1, bentries);
	rc = img_dev_pwrite(dev, g.entries, g.entries_len, bentries * ss, ctx);
	if (rc == 0)
		rc = img_dev_pwrite(dev, g.hdr, ss, alt * ss, ctx);
	seal_header(&g, 1, alt, h.entries_lba);
	if (rc == 0)
		rc = img_dev_pwrite(dev, g.entries, g.entries_len,
		    h.entries_lba * ss, ctx);
	if (rc == 0)
		rc = img_dev_pwrite(dev, g.hdr, ss, ss, ctx);
	if (rc == 0)
		rc = fix_protective_mbr(dev, nlba, ctx);
	/* a stale backup header inside the disk would confuse tools */
	if (rc == 0 && old_alt != alt && old_alt < nlba && old_alt > 1)
		rc = img_dev_pwrite(dev, zero, ss, old_alt * ss, ctx);
out:
	free(g.entries);
	return rc;
}

const struct pt_ops pt_gpt_ops = {
	.name = "gpt",
	.table_extents = gpt_table_extents,
	.relocate = gpt_relocate,
};
