/*
 * fs_vfat.c - FAT12, FAT16 and FAT32 (blkid TYPE "vfat", alias "msdos").
 *
 * A small reader of the boot sector's BPB and the FAT, following Microsoft's
 * "FAT: General Overview of On-Disk Format" 1.03 (fatgen103). Everything in
 * front of the data area (reserved sectors, all FAT copies, the FAT12/16
 * root directory) is stored, plus every cluster whose FAT entry is nonzero
 * and not the bad-cluster marker. The FAT type comes from the cluster count,
 * as the spec demands, never from the BS_FilSysType string.
 *
 * It does not: walk directories, find lost chains (fsck's job), handle exFAT
 * (a different filesystem, blkid TYPE "exfat"), or write anything.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "dev.h"
#include "extents.h"
#include "byteorder.h"
#include "formats.h"

/* fatgen103 "FAT Type Determination": the cluster count decides. */
#define FAT12_MAX_CLUSTERS	4084u
#define FAT16_MAX_CLUSTERS	65524u
#define FAT32_MAX_CLUSTERS	0x0FFFFFF5u	/* 0x0FFFFFF6 is the last one */
#define FAT_CHUNK		(1u << 20)	/* FAT bytes read at once */

struct vfat {
	unsigned bits;		/* 12, 16 or 32 */
	uint32_t sector_size;
	uint32_t cluster_size;
	unsigned nfats;
	unsigned active;	/* FAT copy the driver uses (FAT32 ExtFlags) */
	int mirrored;		/* all copies are kept equal */
	uint64_t fat_off;	/* first FAT, bytes from the fs start */
	uint64_t fat_bytes;	/* size of one FAT copy */
	uint64_t data_off;	/* cluster 2, bytes from the fs start */
	uint32_t clusters;	/* CountofClusters */
	uint32_t fsinfo;	/* FAT32 FSInfo sector number, 0 = none */
	uint64_t used;		/* set by used_extents, UINT64_MAX before */
};

struct fat_walk {
	struct img_extents *used;
	uint64_t base;		/* absolute offset of cluster 2 */
	uint32_t cluster_size;
	uint64_t run_first;	/* first cluster of the open run, 0 = none */
	uint64_t run_len;
	uint64_t n_used, n_free, n_disagree;
};



static int
is_pow2(uint32_t x)
{
	return x && !(x & (x - 1));
}

/* Bytes the first n entries of a FAT occupy (FAT12 packs 1.5 bytes). */
static uint64_t
fat_entries_bytes(unsigned bits, uint64_t n)
{
	return (n * bits + 7) / 8;
}

/* Entry i of a FAT piece that starts on an entry boundary (FAT12 pieces
 * start at entry 0); fatgen103 "FAT Data Structure". FAT32 entries are 28
 * bits: the top nibble is reserved. */
static uint32_t
fat_entry(const uint8_t *buf, unsigned bits, uint64_t i)
{
	uint16_t v;

	if (bits == 32)
		return img_le32(buf + 4 * i) & 0x0FFFFFFF;
	if (bits == 16)
		return img_le16(buf + 2 * i);
	v = img_le16(buf + i * 3 / 2);
	return (i & 1) ? v >> 4 : v & 0x0FFF;
}

/* Nonzero and not BAD_CLUSTER (0xFF7 / 0xFFF7 / 0x0FFFFFF7): reading a bad
 * cluster would only hurt the source disk. */
static int
fat_allocated(uint32_t e, unsigned bits)
{
	uint32_t bad = bits == 12 ? 0xFF7 : bits == 16 ? 0xFFF7 : 0x0FFFFFF7;

	return e != 0 && e != bad;
}

static int
bpb_reject(struct img_ctx *ctx, const struct img_dev *dev, uint64_t off,
    const char *what, unsigned long long val)
{
	img_error(ctx, -EINVAL, "'%s': FAT boot sector at offset %llu: %s "
	    "(%llu)", dev->path, (unsigned long long)off, what, val);
	return 1;
}

/* The fields common to all FAT types ("Boot Sector and BPB Structure"). */
static int
check_bpb(const uint8_t *bs, const struct img_dev *dev, uint64_t off,
    struct img_ctx *ctx)
{
	uint32_t bps = img_le16(bs + 11);		/* BPB_BytsPerSec */
	uint8_t spc = bs[13];			/* BPB_SecPerClus */
	uint8_t media = bs[21];			/* BPB_Media */

	if (!is_pow2(bps) || bps < 512 || bps > 4096)
		return bpb_reject(ctx, dev, off, "bad bytes per sector", bps);
	if (!is_pow2(spc))
		return bpb_reject(ctx, dev, off, "bad sectors per cluster",
		    spc);
	if (img_le16(bs + 14) == 0)			/* BPB_RsvdSecCnt */
		return bpb_reject(ctx, dev, off, "no reserved sectors", 0);
	if (bs[16] < 1 || bs[16] > 4)		/* BPB_NumFATs */
		return bpb_reject(ctx, dev, off, "bad number of FATs", bs[16]);
	if (media != 0xF0 && media < 0xF8)
		return bpb_reject(ctx, dev, off, "bad media byte", media);
	if (img_le16(bs + 22) == 0 && img_le32(bs + 36) == 0)	/* FATSz16, FATSz32 */
		return bpb_reject(ctx, dev, off, "FAT size is zero", 0);
	if (img_le16(bs + 19) == 0 && img_le32(bs + 32) == 0)	/* TotSec16, TotSec32 */
		return bpb_reject(ctx, dev, off, "total sectors is zero", 0);
	return 0;
}

/* FAT32-only BPB fields at offset 36 ("FAT32 Structure Starting at
 * Offset 36"). FAT12/16 need their own root directory and a 16-bit size. */
static int
check_type_fields(const uint8_t *bs, struct vfat *v, const struct img_dev *dev,
    uint64_t off, struct img_ctx *ctx)
{
	uint16_t ext_flags = img_le16(bs + 40);	/* BPB_ExtFlags */
	uint32_t root = img_le32(bs + 44);		/* BPB_RootClus */
	uint16_t fsinfo = img_le16(bs + 48);	/* BPB_FSInfo */

	v->active = 0;
	v->mirrored = 1;
	if (v->bits != 32) {
		if (img_le16(bs + 22) == 0)
			return bpb_reject(ctx, dev, off, "FAT32-style BPB but "
			    "too few clusters for FAT32", v->clusters);
		if (img_le16(bs + 17) == 0)		/* BPB_RootEntCnt */
			return bpb_reject(ctx, dev, off,
			    "FAT12/16 without a root directory", 0);
		return 0;
	}
	if (img_le16(bs + 22) != 0 || img_le16(bs + 17) != 0)
		return bpb_reject(ctx, dev, off, "FAT12/16-style BPB but "
		    "too many clusters for FAT16", v->clusters);
	if (img_le16(bs + 42) != 0)			/* BPB_FSVer must be 0:0 */
		return bpb_reject(ctx, dev, off, "unknown FAT32 version",
		    img_le16(bs + 42));
	if (root < 2 || root - 2 >= v->clusters)
		return bpb_reject(ctx, dev, off, "bad root cluster", root);
	if (ext_flags & 0x80) {		/* bit 7: only one FAT is active */
		v->mirrored = 0;
		v->active = ext_flags & 0x0F;
		if (v->active >= v->nfats)
			return bpb_reject(ctx, dev, off, "bad active FAT",
			    v->active);
	}
	/* FSInfo is advisory: a bad pointer only means we skip the check. */
	v->fsinfo = fsinfo != 0 && fsinfo < img_le16(bs + 14) ? fsinfo : 0;
	return 0;
}

/* fatgen103 "FAT Type Determination" and "FAT Volume Initialization":
 * RootDirSectors, FirstDataSector and CountofClusters. */
static int
compute_layout(const uint8_t *bs, uint64_t len, struct vfat *v,
    const struct img_dev *dev, uint64_t off, struct img_ctx *ctx)
{
	uint64_t rsvd = img_le16(bs + 14), nfats = bs[16];
	uint64_t fatsz = img_le16(bs + 22) ? img_le16(bs + 22) : img_le32(bs + 36);
	uint64_t totsec = img_le16(bs + 19) ? img_le16(bs + 19) : img_le32(bs + 32);
	uint64_t root_secs, meta, count;

	v->sector_size = img_le16(bs + 11);
	v->cluster_size = v->sector_size * bs[13];
	v->nfats = (unsigned)nfats;
	root_secs = ((uint64_t)img_le16(bs + 17) * 32 + v->sector_size - 1) /
	    v->sector_size;
	if (totsec * v->sector_size > len)
		return bpb_reject(ctx, dev, off, "total sectors exceed the "
		    "space available", totsec);
	meta = rsvd + nfats * fatsz + root_secs;
	if (meta >= totsec)
		return bpb_reject(ctx, dev, off, "no room for data", totsec);
	count = (totsec - meta) / bs[13];
	if (count == 0 || count > FAT32_MAX_CLUSTERS)
		return bpb_reject(ctx, dev, off, "bad cluster count", count);
	v->clusters = (uint32_t)count;
	v->bits = count <= FAT12_MAX_CLUSTERS ? 12 :
	    count <= FAT16_MAX_CLUSTERS ? 16 : 32;
	v->fat_off = rsvd * v->sector_size;
	v->fat_bytes = fatsz * v->sector_size;
	v->data_off = meta * v->sector_size;
	if (fat_entries_bytes(v->bits, count + 2) > v->fat_bytes)
		return bpb_reject(ctx, dev, off, "FAT too small for the "
		    "cluster count", count);
	return 0;
}

/* FAT[1] holds ClnShutBitMask and HrdErrBitMask on FAT16/32 ("FAT Volume
 * Initialization"); Linux and Windows also keep a dirty bit in bit 0 of
 * BS_Reserved1 (offset 37, or 65 on FAT32). FAT12 has only the latter. */
static int
read_dirty(struct img_dev *dev, const struct fs_info *fs, const uint8_t *bs,
    const struct vfat *v, struct img_ctx *ctx)
{
	uint8_t head[8];
	uint32_t e1;
	int rc;

	if (bs[v->bits == 32 ? 65 : 37] & 0x01)
		return 1;
	if (v->bits == 12)
		return 0;
	rc = img_dev_pread(dev, head, sizeof(head), fs->off + v->fat_off +
	    v->active * v->fat_bytes, ctx);
	if (rc < 0)
		return img_error_prefix(ctx, "reading FAT[1]");
	if (v->bits == 16)
		return (img_le16(head + 2) & 0xC000) != 0xC000;
	e1 = img_le32(head + 4);
	return (e1 & 0x0C000000) != 0x0C000000;
}

static int
vfat_probe(struct img_dev *dev, struct fs_info *fs, struct img_ctx *ctx)
{
	uint8_t bs[512];
	struct vfat v = { .used = UINT64_MAX }, *p;
	int rc;

	if (fs->len < sizeof(bs)) {
		img_error(ctx, -EINVAL, "'%s': %llu bytes at offset %llu are "
		    "too few for a FAT boot sector", dev->path,
		    (unsigned long long)fs->len, (unsigned long long)fs->off);
		return 1;
	}
	rc = img_dev_pread(dev, bs, sizeof(bs), fs->off, ctx);
	if (rc < 0)
		return rc;
	if ((rc = check_bpb(bs, dev, fs->off, ctx)) != 0 ||
	    (rc = compute_layout(bs, fs->len, &v, dev, fs->off, ctx)) != 0 ||
	    (rc = check_type_fields(bs, &v, dev, fs->off, ctx)) != 0)
		return rc;
	rc = read_dirty(dev, fs, bs, &v, ctx);
	if (rc < 0)
		return rc;
	if (!(p = malloc(sizeof(*p))))
		return img_error(ctx, -ENOMEM, "out of memory");
	*p = v;
	fs->priv = p;
	fs->block_size = v.cluster_size;
	fs->block_count = v.clusters;
	fs->flags |= rc ? FS_INFO_DIRTY : 0;
	return 0;
}

static int
walk_flush(struct fat_walk *w)
{
	int rc;

	if (!w->run_first)
		return 0;
	rc = img_extents_add(w->used, w->base + (w->run_first - 2) *
	    w->cluster_size, w->run_len * w->cluster_size);
	w->run_first = 0;
	return rc;
}

/* Clusters [first, first + n); copies[0..ncopies) hold the FAT from entry
 * buf_first on. Copy 0 is the active FAT, the others differ from it. A
 * cluster any copy allocates is stored, so fsck may pick either copy after
 * a restore. */
static int
walk_entries(struct fat_walk *w, unsigned bits, uint8_t *const *copies,
    unsigned ncopies, uint64_t buf_first, uint64_t first, uint64_t n)
{
	uint64_t at = first - buf_first;
	int rc;

	for (uint64_t i = 0; i < n; i++) {
		uint32_t e = fat_entry(copies[0], bits, at + i);
		int used = fat_allocated(e, bits), other = 0;

		for (unsigned k = 1; k < ncopies; k++)
			other |= fat_allocated(fat_entry(copies[k], bits,
			    at + i), bits);
		w->n_free += e == 0;
		w->n_disagree += other && !used;
		if (!(used || other)) {
			if ((rc = walk_flush(w)) < 0)
				return rc;
			continue;
		}
		w->n_used++;
		if (!w->run_first) {
			w->run_first = first + i;
			w->run_len = 0;
		}
		w->run_len++;
	}
	return 0;
}

/* Reads one piece of every FAT copy; copies equal to the active one are
 * dropped. Returns the number of copies to consult or <0. */
static int
read_fat_piece(struct img_dev *dev, const struct fs_info *fs,
    const struct vfat *v, uint8_t **copies, uint64_t at, size_t len,
    struct img_ctx *ctx)
{
	uint64_t base = fs->off + v->fat_off;
	unsigned n = 1;

	if (img_dev_pread(dev, copies[0], len, base + v->active *
	    v->fat_bytes + at, ctx) < 0)
		return img_error_prefix(ctx, "reading FAT #%u", v->active + 1);
	for (unsigned k = 0; v->mirrored && k < v->nfats; k++) {
		if (k == v->active)
			continue;
		if (img_dev_pread(dev, copies[n], len, base + k * v->fat_bytes +
		    at, ctx) < 0) {
			img_warn(ctx, "%s (FAT #%u ignored)", ctx->msg, k + 1);
			continue;
		}
		if (memcmp(copies[0], copies[n], len) != 0)
			n++;
	}
	return (int)n;
}

/* FSI_Free_Count is advisory (fatgen103 "FAT32 FSInfo Sector Structure"):
 * a mismatch is worth a warning, never a failure. */
static void
check_fsinfo(struct img_dev *dev, const struct fs_info *fs,
    const struct vfat *v, uint64_t n_free, struct img_ctx *ctx)
{
	uint8_t fsi[512];
	uint64_t at = fs->off + (uint64_t)v->fsinfo * v->sector_size;
	uint32_t free_count;

	if (v->bits != 32 || v->fsinfo == 0)
		return;
	if (img_dev_pread(dev, fsi, sizeof(fsi), at, ctx) < 0) {
		img_warn(ctx, "%s (FSInfo not checked)", ctx->msg);
		return;
	}
	free_count = img_le32(fsi + 488);		/* FSI_Free_Count */
	if (img_le32(fsi) != 0x41615252 || img_le32(fsi + 484) != 0x61417272 ||
	    free_count == 0xFFFFFFFF)		/* FSI_LeadSig, FSI_StrucSig */
		return;
	if (free_count != n_free)
		img_warn(ctx, "'%s': FSInfo at offset %llu says %u free "
		    "clusters, the FAT has %llu", dev->path,
		    (unsigned long long)at, free_count,
		    (unsigned long long)n_free);
}

static int
vfat_used_extents(struct img_dev *dev, const struct fs_info *fs,
    struct img_extents *used, struct img_ctx *ctx)
{
	struct vfat *v = fs->priv;
	struct fat_walk w = { .used = used, .base = fs->off + v->data_off,
	    .cluster_size = v->cluster_size };
	uint64_t total = (uint64_t)v->clusters + 2, step;
	uint8_t *copies[4], *mem;
	size_t piece;
	int rc;

	/* Boot sector, FSInfo, backup boot sector, every FAT copy and the
	 * FAT12/16 root directory lie contiguously in front of cluster 2. */
	if ((rc = img_extents_add(used, fs->off, v->data_off)) < 0)
		return img_error(ctx, rc, "out of memory");
	/* A whole FAT12 (at most 6 KiB) fits one piece: its 1.5-byte entries
	 * never straddle a piece boundary. */
	step = v->bits == 12 ? total : FAT_CHUNK / (v->bits / 8);
	piece = (size_t)fat_entries_bytes(v->bits, total < step ? total : step);
	if (!(mem = malloc(v->nfats * piece)))
		return img_error(ctx, -ENOMEM, "out of memory");
	for (unsigned k = 0; k < v->nfats; k++)
		copies[k] = mem + k * piece;
	for (uint64_t e = 0; e < total; e += step) {
		uint64_t n = total - e < step ? total - e : step;
		uint64_t at = fat_entries_bytes(v->bits, e);
		size_t len = (size_t)(fat_entries_bytes(v->bits, e + n) - at);
		uint64_t skip = e < 2 ? 2 - e : 0;	/* FAT[0], FAT[1] */

		if ((rc = img_check_cancel(ctx)) < 0 ||
		    (rc = read_fat_piece(dev, fs, v, copies, at, len, ctx)) < 0)
			goto out;
		rc = walk_entries(&w, v->bits, copies, (unsigned)rc, e,
		    e + skip, n - skip);
		if (rc < 0)
			goto out;
	}
	if ((rc = walk_flush(&w)) < 0)
		goto out;
	if (w.n_disagree)
		img_warn(ctx, "'%s': FAT copies disagree on %llu clusters; "
		    "storing every cluster any copy uses", dev->path,
		    (unsigned long long)w.n_disagree);
	check_fsinfo(dev, fs, v, w.n_free, ctx);
	v->used = w.n_used;
out:
	free(mem);
	if (rc == -ENOMEM)
		img_error(ctx, rc, "out of memory");
	return rc < 0 ? rc : 0;
}

static void
vfat_describe(const struct fs_info *fs, char *buf, size_t len)
{
	const struct vfat *v = fs->priv;
	char used[32] = "";
	int n;

	if (v->used != UINT64_MAX)
		snprintf(used, sizeof(used), "%llu of ",
		    (unsigned long long)v->used);
	n = snprintf(buf, len, "vfat (FAT%u), %u-byte clusters, %s%u "
	    "clusters%s", v->bits, v->cluster_size, used, v->clusters,
	    v->used != UINT64_MAX ? " used" : "");
	if (fs->label[0] && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ", label '%s'", fs->label);
}

static void
vfat_release(struct fs_info *fs)
{
	free(fs->priv);
	fs->priv = NULL;
}

static const char *const vfat_aliases[] = { "msdos", NULL };

const struct fs_ops fs_vfat_ops = {
	.name = "vfat",
	.aliases = vfat_aliases,
	.probe = vfat_probe,
	.describe = vfat_describe,
	.used_extents = vfat_used_extents,
	.release = vfat_release,
};
