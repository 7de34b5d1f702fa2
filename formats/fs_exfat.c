/*
 * fs_exfat.c - exFAT (blkid TYPE "exfat").
 *
 * A small reader following Microsoft's "exFAT file system specification"
 * (2019, cited as [spec] with section numbers). Stored: the main and the
 * backup boot region (24 sectors: boot sector, extended boot sectors, OEM
 * parameters, reserved sector and boot checksum, twice), the FAT region
 * (every FAT copy) and every cluster set in the allocation bitmap. The
 * bitmap is found through its directory entry (type 0x81) in the root
 * directory, whose cluster chain, like the bitmap's, is followed through
 * the FAT. The up-case table and the root directory are clusters the
 * bitmap marks. With two FATs (TexFAT) there are two bitmaps; a cluster
 * either marks is stored.
 *
 * The boot checksum is verified: a mismatch (or any inconsistent field)
 * gives an error, so the scanner copies the volume in full. VolumeDirty
 * only raises FS_INFO_DIRTY: exFAT has no journal to replay, the bitmap on
 * disk is all there is, and fsck.exfat sees the same volume on the copy.
 *
 * It does not: walk subdirectories, verify the up-case table, repair from
 * the backup boot region, or write anything.
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
#include "byteorder.h"
#include "formats.h"

#define EXFAT_BOOT_SECTORS	12u	/* one boot region, [spec] 3.1 */
#define EXFAT_MAX_CLUSTERS	0xFFFFFFF5u	/* [spec] 3.1.9 */
#define EXFAT_EOC		0xFFFFFFFFu	/* end of chain, [spec] 4.1 */
#define EXFAT_DIR_MAX		(256u << 20)	/* directory size, [spec] 6.2 */
#define EXFAT_PIECE		65536u	/* bytes of a cluster read at once */
#define EXFAT_CHUNK		(1u << 20)

/* VolumeFlags, [spec] 3.1.13 */
#define VOL_ACTIVE_FAT		0x0001
#define VOL_DIRTY		0x0002
#define VOL_MEDIA_FAILURE	0x0004

struct exfat {
	uint32_t sector_size;
	uint32_t cluster_size;
	uint64_t fat_off;		/* bytes from the volume start */
	uint64_t fat_bytes;		/* one FAT */
	unsigned nfats;
	unsigned active;		/* FAT (and bitmap) in use */
	uint64_t heap_off;		/* cluster 2 */
	uint32_t clusters;		/* ClusterCount */
	uint32_t root;			/* first cluster of the root directory */
	uint16_t flags;			/* VolumeFlags */
	uint32_t upcase;		/* first cluster of the up-case table */
	unsigned nbitmaps;
	uint32_t bitmap[2];		/* first clusters, by BitmapFlags bit 0 */
	uint64_t used;			/* clusters; UINT64_MAX before */
};




/* Stores "'dev': exFAT at offset N: <why>" and returns rc (1 = not ours,
 * or a negative errno). */
static int __attribute__((format(printf, 5, 6)))
exfat_err(struct img_ctx *ctx, int rc, const struct img_dev *dev,
    uint64_t off, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	img_error(ctx, rc < 0 ? rc : -EINVAL, "'%s': exFAT at offset %llu: "
	    "%s", dev->path, (unsigned long long)off, why);
	return rc;
}

/* Main boot sector fields, [spec] 3.1 (offsets in the comments). */
static const char *
check_boot(const uint8_t *bs, uint64_t len, struct exfat *ex)
{
	unsigned bps_shift = bs[108], spc_shift = bs[109];
	uint64_t vol_len = img_le64(bs + 72);		/* VolumeLength */
	uint64_t fat_off = img_le32(bs + 80);		/* FatOffset */
	uint64_t fat_len = img_le32(bs + 84);		/* FatLength */
	uint64_t heap = img_le32(bs + 88);			/* ClusterHeapOffset */
	uint64_t count = img_le32(bs + 92);			/* ClusterCount */

	if (memcmp(bs, "\xEB\x76\x90" "EXFAT   ", 11) != 0)
		return "no exFAT signature";
	for (unsigned i = 11; i < 64; i++)		/* MustBeZero */
		if (bs[i])
			return "MustBeZero field not zero";
	if (img_le16(bs + 510) != 0xAA55)			/* BootSignature */
		return "no boot signature";
	if (bs[105] != 1)				/* revision major */
		return "unsupported revision";
	if (bps_shift < 9 || bps_shift > 12 || spc_shift > 25 - bps_shift)
		return "bad sector or cluster size";
	ex->sector_size = 1u << bps_shift;
	ex->cluster_size = 1u << (bps_shift + spc_shift);
	ex->nfats = bs[110];				/* NumberOfFats */
	if (ex->nfats != 1 && ex->nfats != 2)
		return "bad number of FATs";
	if (vol_len > len >> bps_shift || vol_len < 2 * EXFAT_BOOT_SECTORS)
		return "bad volume length (or larger than the space available)";
	if (fat_off < 2 * EXFAT_BOOT_SECTORS || fat_len == 0 ||
	    fat_off + ex->nfats * fat_len > heap ||
	    count == 0 || count > EXFAT_MAX_CLUSTERS ||
	    heap + (count << spc_shift) > vol_len)
		return "inconsistent layout";
	if (fat_len << bps_shift < (count + 2) * 4)
		return "FAT too small for the cluster count";
	ex->fat_off = fat_off << bps_shift;
	ex->fat_bytes = fat_len << bps_shift;
	ex->heap_off = heap << bps_shift;
	ex->clusters = (uint32_t)count;
	ex->root = img_le32(bs + 96);		/* FirstClusterOfRootDirectory */
	if (ex->root < 2 || ex->root - 2 >= count)
		return "bad root directory cluster";
	ex->flags = img_le16(bs + 106);		/* VolumeFlags */
	ex->active = ex->nfats == 2 && (ex->flags & VOL_ACTIVE_FAT);
	return NULL;
}

/* [spec] 3.4 Main and Backup Boot Checksum Sub-regions: over sectors
 * 0..10, skipping VolumeFlags (106, 107) and PercentInUse (112); sector
 * 11 repeats it. */
static int
check_checksum(const uint8_t *region, uint32_t bps)
{
	uint32_t sum = 0;

	for (uint32_t i = 0; i < 11 * bps; i++) {
		if (i == 106 || i == 107 || i == 112)
			continue;
		sum = ((sum & 1) ? 0x80000000u : 0) + (sum >> 1) + region[i];
	}
	for (uint32_t i = 0; i < bps; i += 4)
		if (img_le32(region + 11 * bps + i) != sum)
			return -1;
	return 0;
}

/* Next cluster of a chain in the active FAT ([spec] 4.1): 0 at the end,
 * <0 (message in ctx) when the entry is not a valid link. */
static int64_t
fat_next(struct img_dev *dev, const struct fs_info *fs,
    const struct exfat *ex, uint32_t c, struct img_ctx *ctx)
{
	uint64_t at = fs->off + ex->fat_off + ex->active * ex->fat_bytes +
	    4ull * c;
	uint8_t e[4];
	uint32_t v;

	if (img_dev_pread(dev, e, sizeof(e), at, ctx) < 0)
		return img_error_prefix(ctx, "reading the FAT");
	v = img_le32(e);
	if (v == EXFAT_EOC)
		return 0;
	if (v < 2 || v - 2 >= ex->clusters)
		return exfat_err(ctx, -EBADMSG, dev, at, "FAT entry of cluster "
		    "%u is 0x%08x, not a link", c, v);
	return v;
}

/* Called with each piece of a chain's content; returns 1 to stop, 0 to
 * go on, <0 on error. pos is the byte offset in the chain. */
typedef int (*piece_fn)(const uint8_t *buf, size_t len, uint64_t pos,
    void *arg);

/* Reads up to max bytes of the chain starting at first, in pieces. The
 * chain ending before max is only an error when must_fill. */
static int
read_chain(struct img_dev *dev, const struct fs_info *fs,
    const struct exfat *ex, uint32_t first, uint64_t max, int must_fill,
    piece_fn fn, void *arg, struct img_ctx *ctx)
{
	uint32_t piece = ex->cluster_size < EXFAT_PIECE ? ex->cluster_size :
	    EXFAT_PIECE;
	uint8_t *buf = malloc(piece);
	uint64_t pos = 0, steps = 0;
	int64_t c = first;
	int rc = 0;

	if (!buf)
		return img_error(ctx, -ENOMEM, "out of memory");
	while (rc == 0 && c > 0 && pos < max) {
		uint64_t at = fs->off + ex->heap_off +
		    (uint64_t)(c - 2) * ex->cluster_size;

		if (++steps > ex->clusters) {	/* a loop in the FAT */
			rc = exfat_err(ctx, -EBADMSG, dev, fs->off, "cluster "
			    "chain from %u loops", first);
			break;
		}
		for (uint32_t in = 0; rc == 0 && in < ex->cluster_size &&
		    pos < max; in += piece, pos += piece) {
			size_t n = max - pos < piece ? (size_t)(max - pos) :
			    piece;

			if ((rc = img_dev_pread(dev, buf, n, at + in, ctx)) < 0)
				img_error_prefix(ctx, "reading cluster %lld",
				    (long long)c);
			else
				rc = fn(buf, n, pos, arg);
		}
		if (rc == 0 && pos < max)
			c = fat_next(dev, fs, ex, (uint32_t)c, ctx);
	}
	free(buf);
	if (rc == 0 && c < 0)
		rc = (int)c;
	if (rc == 0 && must_fill && pos < max)
		rc = exfat_err(ctx, -EBADMSG, dev, fs->off, "cluster chain "
		    "from %u ends after %llu of %llu bytes", first,
		    (unsigned long long)pos, (unsigned long long)max);
	return rc < 0 ? rc : 0;
}

struct root_walk {
	struct exfat *ex;
	const char *bad;		/* what is wrong, or NULL */
};

/* Root directory entries ([spec] 6.2, 7.1 Allocation Bitmap, 7.2 Up-case
 * Table): 32 bytes each, type 0x00 ends the directory. */
static int
root_piece(const uint8_t *buf, size_t len, uint64_t pos, void *arg)
{
	struct root_walk *w = arg;
	struct exfat *ex = w->ex;

	(void)pos;
	for (size_t i = 0; i + 32 <= len; i += 32) {
		const uint8_t *d = buf + i;
		uint32_t first = img_le32(d + 20);		/* FirstCluster */
		uint64_t size = img_le64(d + 24);		/* DataLength */

		if (d[0] == 0x00)
			return 1;
		if (d[0] != 0x81 && d[0] != 0x82)
			continue;
		if (first < 2 || first - 2 >= ex->clusters || size == 0 ||
		    size > (uint64_t)ex->clusters * ex->cluster_size) {
			w->bad = d[0] == 0x81 ? "bad allocation bitmap entry" :
			    "bad up-case table entry";
			return 1;
		}
		if (d[0] == 0x82) {
			ex->upcase = first;
		} else if ((d[1] & 1) < ex->nfats && !ex->bitmap[d[1] & 1]) {
			if (size < ((uint64_t)ex->clusters + 7) / 8) {
				w->bad = "allocation bitmap too small";
				return 1;
			}
			ex->bitmap[d[1] & 1] = first;	/* BitmapFlags */
			ex->nbitmaps++;
		}
		if (ex->nbitmaps == ex->nfats && ex->upcase)
			return 1;	/* all found: the rest is files */
	}
	return 0;
}

static int
find_bitmaps(struct img_dev *dev, const struct fs_info *fs, struct exfat *ex,
    struct img_ctx *ctx)
{
	struct root_walk w = { .ex = ex };
	int rc = read_chain(dev, fs, ex, ex->root, EXFAT_DIR_MAX, 0,
	    root_piece, &w, ctx);

	if (rc < 0)
		return img_error_prefix(ctx, "reading the root directory");
	if (w.bad)
		return exfat_err(ctx, -EBADMSG, dev, fs->off, "root directory: "
		    "%s", w.bad);
	if (ex->nbitmaps != ex->nfats || !ex->upcase)
		return exfat_err(ctx, -EBADMSG, dev, fs->off, "root directory "
		    "lacks an allocation bitmap or the up-case table");
	return 0;
}

static int
exfat_probe(struct img_dev *dev, struct fs_info *fs, struct img_ctx *ctx)
{
	uint8_t *region = NULL;
	struct exfat ex = { .used = UINT64_MAX }, *p;
	const char *why;
	int rc;

	if (fs->len < 2 * EXFAT_BOOT_SECTORS * 512)
		return exfat_err(ctx, 1, dev, fs->off, "%llu bytes are too few",
		    (unsigned long long)fs->len);
	if (!(region = malloc(EXFAT_BOOT_SECTORS * 4096)))
		return img_error(ctx, -ENOMEM, "out of memory");
	if ((rc = img_dev_pread(dev, region, 512, fs->off, ctx)) < 0)
		goto out;
	if ((why = check_boot(region, fs->len, &ex))) {
		rc = exfat_err(ctx, 1, dev, fs->off, "boot sector: %s", why);
		goto out;
	}
	rc = img_dev_pread(dev, region, EXFAT_BOOT_SECTORS * ex.sector_size,
	    fs->off, ctx);
	if (rc == 0 && check_checksum(region, ex.sector_size) < 0)
		rc = exfat_err(ctx, -EBADMSG, dev, fs->off, "main boot region "
		    "checksum mismatch");
	if (rc == 0)
		rc = find_bitmaps(dev, fs, &ex, ctx);
	if (rc != 0)
		goto out;
	if (!(p = malloc(sizeof(*p)))) {
		rc = img_error(ctx, -ENOMEM, "out of memory");
		goto out;
	}
	*p = ex;
	fs->priv = p;
	fs->block_size = ex.cluster_size;
	fs->block_count = ex.clusters;
	fs->flags |= ex.flags & VOL_DIRTY ? FS_INFO_DIRTY : 0;
out:
	free(region);
	return rc;
}

/* [spec] 7.1.5: bit i of the bitmap is cluster i + 2. */
static int
bitmap_piece(const uint8_t *buf, size_t len, uint64_t pos, void *arg)
{
	return img_bitmap_walk_bytes(arg, buf, len, pos);
}

/* A bitmap that leaves the root directory, the up-case table or a bitmap
 * free is not one to trust. */
static int
check_self(const struct img_extents *e, const struct fs_info *fs,
    const struct exfat *ex)
{
	uint32_t firsts[] = { ex->root, ex->upcase, ex->bitmap[0],
	    ex->bitmap[1] };

	for (unsigned i = 0; i < 2 + ex->nbitmaps; i++) {
		uint64_t at = fs->off + ex->heap_off +
		    (uint64_t)(firsts[i] - 2) * ex->cluster_size;

		if (img_extents_covered(e, at, ex->cluster_size) !=
		    ex->cluster_size)
			return -1;
	}
	return 0;
}

static int
exfat_used_extents(struct img_dev *dev, const struct fs_info *fs,
    struct img_extents *used, struct img_ctx *ctx)
{
	struct exfat *ex = fs->priv;
	struct img_extents local;
	/* the second TexFAT bitmap's runs are added unmerged, normalized
	 * below */
	struct img_bitmap_walk w = { .ext = &local,
	    .base = fs->off + ex->heap_off, .unit = ex->cluster_size,
	    .limit = ex->clusters };
	uint64_t bytes = ((uint64_t)ex->clusters + 7) / 8, active_used = 0;
	int rc = 0;

	img_extents_init(&local);
	/* the active bitmap first: its count is the one described */
	for (unsigned k = 0; k < ex->nbitmaps && rc == 0; k++) {
		unsigned b = k ? !ex->active : ex->active;

		w.used = 0;
		rc = read_chain(dev, fs, ex, ex->bitmap[b], bytes, 1,
		    bitmap_piece, &w, ctx);
		if (rc == 0)
			rc = img_bitmap_walk_flush(&w);
		if (k == 0)
			active_used = w.used;
	}
	if (rc < 0)
		goto out;
	img_extents_normalize(&local);
	if (check_self(&local, fs, ex) < 0) {
		rc = exfat_err(ctx, -EBADMSG, dev, fs->off, "the allocation "
		    "bitmap marks the root directory, the up-case table or "
		    "itself free");
		goto out;
	}
	/* both boot regions ([spec] 3.1, 3.2) and the FAT region ([spec]
	 * 4): everything up to the end of the last FAT but the alignment gap
	 * between them */
	if ((rc = img_extents_add(used, fs->off, 2 * EXFAT_BOOT_SECTORS *
	    ex->sector_size)) < 0 ||
	    (rc = img_extents_add(used, fs->off + ex->fat_off, ex->nfats *
	    ex->fat_bytes)) < 0 ||
	    (rc = img_extents_add_all(used, &local)) < 0) {
		rc = img_error(ctx, rc, "out of memory");
		goto out;
	}
	ex->used = active_used;
out:
	img_extents_free(&local);
	return rc;
}

static void
exfat_describe(const struct fs_info *fs, char *buf, size_t len)
{
	const struct exfat *ex = fs->priv;
	char used[32] = "";
	int n;

	if (ex->used != UINT64_MAX)
		snprintf(used, sizeof(used), "%llu of ",
		    (unsigned long long)ex->used);
	n = snprintf(buf, len, "exfat, %u-byte clusters, %s%u clusters%s%s%s",
	    ex->cluster_size, used, ex->clusters, used[0] ? " used" : "",
	    ex->nfats == 2 ? ", 2 FATs" : "",
	    ex->flags & VOL_MEDIA_FAILURE ? ", media failure flagged" : "");
	if (fs->label[0] && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ", label '%s'", fs->label);
}

static void
exfat_release(struct fs_info *fs)
{
	free(fs->priv);
	fs->priv = NULL;
}

const struct fs_ops fs_exfat_ops = {
	.name = "exfat",
	.probe = exfat_probe,
	.describe = exfat_describe,
	.used_extents = exfat_used_extents,
	.release = exfat_release,
};
