/*
 * fs_ntfs.c - NTFS (blkid TYPE "ntfs").
 *
 * Stores the boot sector, the backup boot sector (the sector after the last
 * one TotalSectors counts, which Windows and mkntfs put in the partition's
 * last sector, outside every cluster; both places are stored) and every
 * cluster the $Bitmap system file marks in use. All other metadata ($MFT,
 * $MFTMirr, $LogFile, $Boot, ...) are files whose clusters $Bitmap marks.
 *
 * Its own small reader, not libntfs-3g: it needs the boot sector, four MFT
 * records ($MFT, $LogFile, $Volume, $Bitmap), a mapping-pairs decoder and
 * the $LogFile restart page header, and checks every field it reads and
 * bounds every loop by the record it walks. libntfs-3g is a mounting
 * library: it trusts more of the disk than a backup of a damaged volume can
 * afford, logs to stderr through its own handlers, keeps global state, and
 * would be one more library to build statically for rescue media. These
 * few structures have not changed since NTFS 3.1 (Windows XP).
 *
 * The volume dirty flag ($Volume) only raises FS_INFO_DIRTY: Windows leaves
 * it set after a crash or for chkdsk, and the bitmap is still what the disk
 * says. An unclean $LogFile (Windows crashed, hibernated, or shut down with
 * Fast Startup) is different: NTFS logs $Bitmap and MFT changes and writes
 * them back lazily, so clusters allocated by logged operations may be free
 * in the on-disk $Bitmap and in use once the log is replayed. Then, and
 * when the log's state cannot be read, FS_INFO_STALE_MAP asks the scanner
 * for a full copy. The clean test is ntfs-3g's (the one that decides
 * whether Linux mounts the volume read-write): no client in use, or the
 * RESTART_VOLUME_IS_CLEAN flag, or an empty (all 0xFF) log.
 *
 * It does not: walk directories, follow $ATTRIBUTE_LIST extension records
 * (a $Bitmap fragmented beyond one MFT record gives 1, a full copy), look
 * for hiberfil.sys (hibernation leaves the $LogFile unclean), skip the
 * clusters $BadClus lists (they are marked in $Bitmap and read like any
 * other), or write anything.
 *
 * References: [ntfsdoc] the Linux-NTFS "NTFS Documentation" (Russon,
 * Fledel), sections named in the comments; [layout] ntfs-3g's layout.h and
 * logfile.h structure definitions.
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
#include "fs_ntfs_log.h"

#define NTFS_BLOCK		512u	/* fixup stride, any sector size */
#define NTFS_MAX_CLUSTER	(2u << 20)	/* 2 MiB (Windows 10 1709+) */
#define NTFS_MAX_RECORD		65536u
#define NTFS_CHUNK		(1u << 20)	/* $Bitmap bytes read at once */

/* System files have fixed MFT record numbers ([ntfsdoc] "Files"). */
enum { REC_MFT = 0, REC_LOGFILE = 2, REC_VOLUME = 3, REC_BITMAP = 6 };

/* Attribute types ([ntfsdoc] "Attributes"). */
#define AT_VOLUME_INFORMATION	0x70u
#define AT_DATA			0x80u
#define AT_END			0xFFFFFFFFu


struct ntfs_run {
	uint64_t vcn, lcn, len;		/* clusters (no sparse runs) */
};

/* A non-resident attribute: its runs and sizes. */
struct runlist {
	struct ntfs_run *v;
	size_t n;
	uint64_t end_vcn;		/* highest VCN + 1 */
	uint64_t data_size, init_size;
};

struct ntfs {
	uint32_t sector_size;
	uint32_t cluster_size;
	uint32_t rec_size;
	uint64_t sectors;		/* TotalSectors */
	uint64_t clusters;		/* TotalSectors / SectorsPerCluster */
	uint64_t mft_lcn;
	unsigned major, minor;		/* NTFS version, from $Volume */
	uint16_t vol_flags;
	enum ntfs_log_state log;
	struct runlist mft;		/* $MFT's first $DATA extent */
	struct runlist bitmap;		/* $Bitmap's $DATA */
	uint64_t used;			/* clusters; UINT64_MAX before */
};




/* n (1..8) little-endian bytes, sign-extended. */
static int64_t
sle(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = n; i-- > 0;)
		v = v << 8 | p[i];
	if (n < 8 && (p[n - 1] & 0x80))
		v |= UINT64_MAX << (8 * n);
	return (int64_t)v;
}

static int
is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/* Stores "'dev': NTFS at offset N: <why>" and returns rc (1 = not ours,
 * or a negative errno). */
static int __attribute__((format(printf, 5, 6)))
ntfs_err(struct img_ctx *ctx, int rc, const struct img_dev *dev,
    uint64_t off, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	img_error(ctx, rc < 0 ? rc : -EINVAL, "'%s': NTFS at offset %llu: %s",
	    dev->path, (unsigned long long)off, why);
	return rc;
}

/* Boot sector ([ntfsdoc] "Files/$Boot"): the BPB and extended BPB. */
static int
parse_boot(const uint8_t *bs, const struct fs_info *fs, struct ntfs *nt,
    const struct img_dev *dev, struct img_ctx *ctx)
{
	uint32_t bps = img_le16(bs + 0x0B);		/* bytes per sector */
	uint8_t spc = bs[0x0D];			/* sectors per cluster */
	int8_t cpr = (int8_t)bs[0x40];		/* clusters per MFT record */
	uint64_t spc_n, rec;

	if (memcmp(bs + 0x03, "NTFS    ", 8) != 0)	/* OEM id */
		return ntfs_err(ctx, 1, dev, fs->off, "no NTFS signature");
	if (!is_pow2(bps) || bps < 512 || bps > 4096)
		return ntfs_err(ctx, 1, dev, fs->off, "bad bytes per sector "
		    "(%u)", bps);
	/* 1..128, or 2^(256 - n) sectors for n >= 0xF4 (large clusters) */
	spc_n = spc <= 0x80 ? spc : spc >= 0xF4 ? 1ull << (256 - spc) : 0;
	if (!is_pow2(spc_n) || bps * spc_n > NTFS_MAX_CLUSTER)
		return ntfs_err(ctx, 1, dev, fs->off, "bad sectors per "
		    "cluster (0x%02x)", spc);
	/* FAT BPB fields NTFS requires to be zero: reserved sectors (0x0E),
	 * FATs (0x10), root entries (0x11), sectors (0x13), FAT size (0x16),
	 * large sectors (0x20). */
	if (img_le16(bs + 0x0E) || bs[0x10] || img_le16(bs + 0x11) ||
	    img_le16(bs + 0x13) || img_le16(bs + 0x16) || img_le32(bs + 0x20))
		return ntfs_err(ctx, 1, dev, fs->off, "FAT fields not zero");
	nt->sector_size = bps;
	nt->cluster_size = (uint32_t)(bps * spc_n);
	nt->sectors = img_le64(bs + 0x28);		/* total sectors */
	if (nt->sectors == 0 || nt->sectors > fs->len / bps)
		return ntfs_err(ctx, 1, dev, fs->off, "%llu sectors do not "
		    "fit in %llu bytes", (unsigned long long)nt->sectors,
		    (unsigned long long)fs->len);
	nt->clusters = nt->sectors / spc_n;
	nt->mft_lcn = img_le64(bs + 0x30);		/* $MFT LCN */
	if (nt->mft_lcn == 0 || nt->mft_lcn >= nt->clusters ||
	    img_le64(bs + 0x38) >= nt->clusters)	/* $MFTMirr LCN */
		return ntfs_err(ctx, 1, dev, fs->off, "$MFT or $MFTMirr "
		    "outside the volume");
	/* positive: clusters per record; negative: 2^-n bytes */
	rec = cpr > 0 ? (uint64_t)cpr * nt->cluster_size :
	    cpr <= -9 && cpr >= -16 ? 1ull << -cpr : 0;
	if (!is_pow2(rec) || rec < NTFS_BLOCK || rec > NTFS_MAX_RECORD)
		return ntfs_err(ctx, 1, dev, fs->off, "bad MFT record size "
		    "(%d)", cpr);
	nt->rec_size = (uint32_t)rec;
	return 0;
}

/* Update sequence array ([ntfsdoc] "Concepts/Fixup"): the last two bytes
 * of each 512-byte block hold the update sequence number; their real
 * content is in the array. 0, or -1 for a bad array or a torn write. */
static int
apply_fixups(uint8_t *rec, uint32_t size, unsigned min_ofs)
{
	uint16_t ofs = img_le16(rec + 4), cnt = img_le16(rec + 6);

	if (cnt != size / NTFS_BLOCK + 1 || (ofs & 1) || ofs < min_ofs ||
	    ofs + 2u * cnt > NTFS_BLOCK - 2)
		return -1;
	for (unsigned i = 1; i < cnt; i++) {
		uint8_t *end = rec + i * NTFS_BLOCK - 2;

		if (img_le16(end) != img_le16(rec + ofs))
			return -1;
		memcpy(end, rec + ofs + 2 * i, 2);
	}
	return 0;
}

/* Reads MFT record recno from off and checks its header ([ntfsdoc]
 * "Concepts/File Record"). */
static int
load_record(struct img_dev *dev, const struct ntfs *nt, uint64_t off,
    unsigned recno, uint8_t *rec, struct img_ctx *ctx)
{
	uint16_t attrs, flags;
	uint32_t used;

	if (img_dev_pread(dev, rec, nt->rec_size, off, ctx) < 0)
		return img_error_prefix(ctx, "reading MFT record %u", recno);
	if (memcmp(rec, "FILE", 4) != 0)
		return ntfs_err(ctx, -EBADMSG, dev, off, "MFT record %u has "
		    "no FILE signature", recno);
	if (apply_fixups(rec, nt->rec_size, 0x28) < 0)
		return ntfs_err(ctx, -EBADMSG, dev, off, "MFT record %u: bad "
		    "update sequence (torn write?)", recno);
	attrs = img_le16(rec + 0x14);		/* first attribute */
	flags = img_le16(rec + 0x16);		/* 0x01 in use */
	used = img_le32(rec + 0x18);		/* bytes in use */
	if (!(flags & 0x01) || img_le64(rec + 0x20) != 0)	/* base record */
		return ntfs_err(ctx, -EBADMSG, dev, off, "MFT record %u is "
		    "not an in-use base record", recno);
	if (img_le32(rec + 0x1C) != nt->rec_size || used > nt->rec_size ||
	    (attrs & 7) || attrs < img_le16(rec + 4) + 2u * img_le16(rec + 6) ||
	    attrs >= used)
		return ntfs_err(ctx, -EBADMSG, dev, off, "MFT record %u: bad "
		    "header sizes", recno);
	/* NTFS 3.1 records (update sequence at 0x30) carry their number */
	if (img_le16(rec + 4) >= 0x30 && img_le32(rec + 0x2C) != recno)
		return ntfs_err(ctx, -EBADMSG, dev, off, "MFT record %u says "
		    "it is record %u", recno, img_le32(rec + 0x2C));
	return 0;
}

/* Finds the unnamed attribute of type in rec ([ntfsdoc] "Concepts/
 * Attribute Header"). 0 (fills *at, *len), 1 if absent, -1 malformed. */
static int
find_attr(const uint8_t *rec, uint32_t type, uint32_t *at, uint32_t *len)
{
	uint32_t used = img_le32(rec + 0x18), off = img_le16(rec + 0x14);

	/* every attribute is at least 16 bytes: the loop is bounded */
	while (off + 4 <= used) {
		uint32_t t = img_le32(rec + off), alen;

		if (t == AT_END)
			return 1;
		if (off + 16 > used)
			return -1;
		alen = img_le32(rec + off + 4);
		if (alen < 16 || (alen & 7) || alen > used - off)
			return -1;
		if (t == type && rec[off + 9] == 0) {	/* name length */
			*at = off;
			*len = alen;
			return 0;
		}
		off += alen;
	}
	return -1;
}

/* One mapping pair ([ntfsdoc] "Concepts/Data Runs"): a header byte whose
 * low nibble sizes the length and high nibble the signed LCN delta. */
static const char *
decode_pair(const uint8_t *a, uint32_t alen, uint32_t *p, uint64_t clusters,
    uint64_t *lcn, struct ntfs_run *r)
{
	unsigned nl = a[*p] & 15, no = a[*p] >> 4;
	int64_t len, delta;
	uint64_t mag;

	if (nl == 0 || nl > 8 || no > 8 || 1 + nl + no > alen - *p)
		return "malformed mapping pair";
	len = sle(a + *p + 1, nl);
	if (len <= 0)
		return "run of nonpositive length";
	if (no == 0)
		return "sparse run in a system file";
	delta = sle(a + *p + 1 + nl, no);
	mag = delta < 0 ? 0 - (uint64_t)delta : (uint64_t)delta;
	if (delta < 0 ? mag > *lcn : mag >= clusters - *lcn)
		return "run outside the volume";
	*lcn = delta < 0 ? *lcn - mag : *lcn + mag;
	if ((uint64_t)len > clusters - *lcn)
		return "run past the volume end";
	r->lcn = *lcn;
	r->len = (uint64_t)len;
	*p += 1 + nl + no;
	return NULL;
}

/* Decodes the runs of the first extent (VCN 0) of non-resident attribute
 * a. Returns NULL or what is wrong. */
static const char *
decode_runs(const uint8_t *a, uint32_t alen, uint64_t clusters,
    struct runlist *rl)
{
	uint32_t p = img_le16(a + 0x20);		/* mapping pairs offset */
	uint64_t vcn = 0, lcn = 0;
	const char *why;

	if (a[8] != 1 || alen < 0x40)
		return "resident where non-resident expected";
	if (img_le16(a + 0x0C) & 0xC0FF)	/* compressed, encrypted, sparse */
		return "compressed, encrypted or sparse";
	if (img_le64(a + 0x10) != 0)		/* lowest VCN */
		return "first extent does not start at VCN 0";
	rl->end_vcn = img_le64(a + 0x18) + 1;	/* highest VCN */
	rl->data_size = img_le64(a + 0x30);
	rl->init_size = img_le64(a + 0x38);
	if (rl->end_vcn == 0 || rl->end_vcn > clusters ||
	    rl->init_size > rl->data_size || rl->data_size > img_le64(a + 0x28))
		return "bad sizes";
	if (p < 0x40 || p >= alen)
		return "bad mapping pairs offset";
	/* each pair takes at least 2 bytes */
	if (!(rl->v = calloc((alen - p) / 2 + 1, sizeof(*rl->v))))
		return "out of memory";
	while (p < alen && a[p] != 0) {
		struct ntfs_run *r = &rl->v[rl->n];

		if ((why = decode_pair(a, alen, &p, clusters, &lcn, r)))
			return why;
		if (r->len > rl->end_vcn - vcn)
			return "runs exceed the highest VCN";
		r->vcn = vcn;
		vcn += r->len;
		rl->n++;
	}
	if (vcn != rl->end_vcn)
		return "runs end before the highest VCN";
	return NULL;
}

/* The $DATA runs of the record at rec. */
static int
data_runs(const uint8_t *rec, const struct ntfs *nt, struct runlist *rl,
    const struct img_dev *dev, uint64_t off, const char *name,
    struct img_ctx *ctx)
{
	uint32_t at, alen;
	const char *why;
	int rc = find_attr(rec, AT_DATA, &at, &alen);

	if (rc != 0)
		return ntfs_err(ctx, -EBADMSG, dev, off, "%s: %s", name,
		    rc < 0 ? "malformed attributes" : "no $DATA attribute");
	if ((why = decode_runs(rec + at, alen, nt->clusters, rl)))
		return ntfs_err(ctx, strcmp(why, "out of memory") ? -EBADMSG :
		    -ENOMEM, dev, off, "%s $DATA: %s", name, why);
	return 0;
}

/* Device offset of byte pos of an attribute; returns how many bytes from
 * there lie in the same run, 0 if pos is not mapped. */
static uint64_t
map_span(const struct ntfs *nt, const struct fs_info *fs,
    const struct runlist *rl, uint64_t pos, uint64_t *out)
{
	uint64_t vcn = pos / nt->cluster_size, in = pos % nt->cluster_size;

	for (size_t i = 0; i < rl->n; i++) {
		const struct ntfs_run *r = &rl->v[i];

		if (vcn < r->vcn || vcn - r->vcn >= r->len)
			continue;
		*out = fs->off + (r->lcn + vcn - r->vcn) * nt->cluster_size +
		    in;
		return (r->len - (vcn - r->vcn)) * nt->cluster_size - in;
	}
	return 0;
}

/* Reads MFT record recno through $MFT's runs. */
static int
read_record(struct img_dev *dev, const struct fs_info *fs,
    const struct ntfs *nt, unsigned recno, uint8_t *rec, uint64_t *off,
    struct img_ctx *ctx)
{
	if (map_span(nt, fs, &nt->mft, (uint64_t)recno * nt->rec_size, off) <
	    nt->rec_size)
		return ntfs_err(ctx, 1, dev, fs->off, "MFT record %u is not "
		    "in $MFT's first extent", recno);
	return load_record(dev, nt, *off, recno, rec, ctx);
}

/* $Volume's $VOLUME_INFORMATION ([ntfsdoc] "Attributes/
 * $VOLUME_INFORMATION"): major 0x08, minor 0x09, flags 0x0A. */
static int
read_volume(struct img_dev *dev, const struct fs_info *fs, struct ntfs *nt,
    uint8_t *rec, struct img_ctx *ctx)
{
	const uint8_t *v = NULL;
	uint32_t at, alen;
	uint64_t off;
	int rc = read_record(dev, fs, nt, REC_VOLUME, rec, &off, ctx);

	if (rc != 0)
		return rc;
	/* resident (0x08 == 0): value length at 0x10, offset at 0x14 */
	if (find_attr(rec, AT_VOLUME_INFORMATION, &at, &alen) == 0 &&
	    rec[at + 8] == 0 && alen >= 0x18 && img_le16(rec + at + 0x14) <= alen &&
	    img_le32(rec + at + 0x10) >= 12 &&
	    img_le32(rec + at + 0x10) <= alen - img_le16(rec + at + 0x14))
		v = rec + at + img_le16(rec + at + 0x14);
	if (!v)
		return ntfs_err(ctx, -EBADMSG, dev, off, "$Volume has no "
		    "volume information");
	nt->major = v[8];
	nt->minor = v[9];
	nt->vol_flags = img_le16(v + 10);
	if (!(nt->major == 1 && nt->minor == 2) &&
	    !(nt->major == 3 && nt->minor <= 1))
		return ntfs_err(ctx, 1, dev, off, "NTFS version %u.%u is not "
		    "supported", nt->major, nt->minor);
	return 0;
}

/* Reads the $LogFile blocks fs_ntfs_log.c asks for and sets nt->log. */
static int
scan_logfile(struct img_dev *dev, const struct fs_info *fs, struct ntfs *nt,
    const struct runlist *rl, struct img_ctx *ctx)
{
	uint8_t p[NTFS_LOG_BLOCK];
	uint64_t off, pos = 0, end = rl->end_vcn * nt->cluster_size;
	struct ntfs_log_scan scan;

	end = rl->data_size < end ? rl->data_size : end;
	ntfs_log_scan_init(&scan);
	while (pos + NTFS_LOG_BLOCK <= end) {
		if (map_span(nt, fs, rl, pos, &off) < NTFS_LOG_BLOCK)
			break;		/* split over two runs: not found */
		if (img_dev_pread(dev, p, sizeof(p), off, ctx) < 0)
			return img_error_prefix(ctx, "reading $LogFile");
		if (!ntfs_log_feed(&scan, p, pos, &pos))
			break;
	}
	nt->log = ntfs_log_result(&scan);
	return 0;
}

static int
read_logfile(struct img_dev *dev, const struct fs_info *fs, struct ntfs *nt,
    uint8_t *rec, struct img_ctx *ctx)
{
	struct runlist rl = { 0 };
	uint64_t off;
	int rc = read_record(dev, fs, nt, REC_LOGFILE, rec, &off, ctx);

	if (rc == 0)
		rc = data_runs(rec, nt, &rl, dev, off, "$LogFile", ctx);
	if (rc == 0)
		rc = scan_logfile(dev, fs, nt, &rl, ctx);
	free(rl.v);
	if (rc == 1) {		/* not where read_record can reach */
		img_warn(ctx, "%s", ctx->msg);
		nt->log = NTFS_LOG_UNKNOWN;
		rc = 0;
	}
	if (rc == 0 && nt->log == NTFS_LOG_UNKNOWN)
		img_warn(ctx, "'%s': NTFS at offset %llu: no valid restart "
		    "page in the $LogFile; cannot tell whether it is clean",
		    dev->path, (unsigned long long)fs->off);
	return rc;
}

/* $MFT's own record: its runs map the other system files. */
static int
read_mft(struct img_dev *dev, const struct fs_info *fs, struct ntfs *nt,
    uint8_t *rec, struct img_ctx *ctx)
{
	uint64_t off = fs->off + nt->mft_lcn * nt->cluster_size;
	int rc = load_record(dev, nt, off, REC_MFT, rec, ctx);

	if (rc == 0)
		rc = data_runs(rec, nt, &nt->mft, dev, off, "$MFT", ctx);
	if (rc == 0 && nt->mft.v[0].lcn != nt->mft_lcn)
		rc = ntfs_err(ctx, -EBADMSG, dev, off, "$MFT's runs do not "
		    "start at the boot sector's $MFT cluster");
	return rc;
}

static int
read_bitmap(struct img_dev *dev, const struct fs_info *fs, struct ntfs *nt,
    uint8_t *rec, struct img_ctx *ctx)
{
	uint64_t need = (nt->clusters + 7) / 8, off;
	int rc = read_record(dev, fs, nt, REC_BITMAP, rec, &off, ctx);

	if (rc == 0)
		rc = data_runs(rec, nt, &nt->bitmap, dev, off, "$Bitmap", ctx);
	if (rc != 0)
		return rc;
	/* the rest of a longer runlist would be in an extension record */
	if (nt->bitmap.end_vcn * nt->cluster_size < need)
		return ntfs_err(ctx, 1, dev, off, "$Bitmap's runs continue "
		    "in an extension record");
	if (nt->bitmap.init_size < need)
		return ntfs_err(ctx, -EBADMSG, dev, off, "$Bitmap holds %llu "
		    "bytes for %llu clusters",
		    (unsigned long long)nt->bitmap.init_size,
		    (unsigned long long)nt->clusters);
	return 0;
}

static void
ntfs_free(struct ntfs *nt)
{
	if (!nt)
		return;
	free(nt->mft.v);
	free(nt->bitmap.v);
	free(nt);
}

static int
ntfs_probe(struct img_dev *dev, struct fs_info *fs, struct img_ctx *ctx)
{
	uint8_t bs[512], *rec = NULL;
	struct ntfs *nt;
	int rc;

	if (fs->len < sizeof(bs))
		return ntfs_err(ctx, 1, dev, fs->off, "%llu bytes are too few "
		    "for a boot sector", (unsigned long long)fs->len);
	if ((rc = img_dev_pread(dev, bs, sizeof(bs), fs->off, ctx)) < 0)
		return rc;
	if (!(nt = calloc(1, sizeof(*nt))))
		return img_error(ctx, -ENOMEM, "out of memory");
	nt->used = UINT64_MAX;
	if ((rc = parse_boot(bs, fs, nt, dev, ctx)) != 0)
		goto out;
	if (!(rec = malloc(nt->rec_size))) {
		rc = img_error(ctx, -ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = read_mft(dev, fs, nt, rec, ctx)) != 0 ||
	    (rc = read_volume(dev, fs, nt, rec, ctx)) != 0 ||
	    (rc = read_bitmap(dev, fs, nt, rec, ctx)) != 0 ||
	    (rc = read_logfile(dev, fs, nt, rec, ctx)) != 0)
		goto out;
	if (nt->log == NTFS_LOG_UNCLEAN)
		img_warn(ctx, "'%s': NTFS at offset %llu: the $LogFile is not "
		    "clean (Windows crashed, hibernated or used Fast Startup); "
		    "shut Windows down fully to image only the used clusters",
		    dev->path, (unsigned long long)fs->off);
	fs->flags |= nt->vol_flags & 0x0001 ? FS_INFO_DIRTY : 0;
	if (nt->log == NTFS_LOG_UNCLEAN || nt->log == NTFS_LOG_UNKNOWN)
		fs->flags |= FS_INFO_DIRTY | FS_INFO_STALE_MAP;
	fs->block_size = nt->cluster_size;
	fs->block_count = nt->clusters;
	fs->priv = nt;
	nt = NULL;
out:
	free(rec);
	ntfs_free(nt);
	return rc;
}

static int
walk_bitmap(struct img_dev *dev, const struct fs_info *fs,
    const struct ntfs *nt, struct img_bitmap_walk *w, struct img_ctx *ctx)
{
	uint64_t need = (nt->clusters + 7) / 8, off;
	size_t chunk = need < NTFS_CHUNK ? (size_t)need : NTFS_CHUNK;
	uint8_t *buf = malloc(chunk);
	int rc = 0;

	if (!buf)
		return img_error(ctx, -ENOMEM, "out of memory");
	for (uint64_t pos = 0, n; pos < need && rc == 0; pos += n) {
		uint64_t span = map_span(nt, fs, &nt->bitmap, pos, &off);

		n = need - pos < chunk ? need - pos : chunk;
		if (span == 0) {	/* read_bitmap checked the runs */
			rc = ntfs_err(ctx, -EBADMSG, dev, fs->off, "$Bitmap "
			    "byte %llu is not mapped", (unsigned long long)pos);
			break;
		}
		n = n < span ? n : span;	/* one run at a time */
		if ((rc = img_check_cancel(ctx)) < 0)
			break;
		if ((rc = img_dev_pread(dev, buf, (size_t)n, off, ctx)) < 0) {
			img_error_prefix(ctx, "reading $Bitmap");
			break;
		}
		rc = img_bitmap_walk_bytes(w, buf, (size_t)n, pos);
	}
	free(buf);
	if (rc == 0)
		rc = img_bitmap_walk_flush(w);
	return rc == -ENOMEM ? img_error(ctx, rc, "out of memory") : rc;
}

/* A bitmap that leaves $Boot, $MFT's first run or its own clusters free
 * is not one to trust. */
static int
check_self(const struct img_extents *e, const struct fs_info *fs,
    const struct ntfs *nt)
{
	uint64_t cs = nt->cluster_size;
	const struct runlist *rl[] = { &nt->mft, &nt->bitmap };

	if (img_extents_covered(e, fs->off, cs) != cs)
		return -1;
	for (size_t k = 0; k < 2; k++)
		for (size_t i = 0; i < rl[k]->n; i++) {
			uint64_t a = fs->off + rl[k]->v[i].lcn * cs;
			uint64_t len = rl[k]->v[i].len * cs;

			if (img_extents_covered(e, a, len) != len)
				return -1;
			if (k == 0)	/* $MFT: the first run is enough */
				break;
		}
	return 0;
}

static int
ntfs_used_extents(struct img_dev *dev, const struct fs_info *fs,
    struct img_extents *used, struct img_ctx *ctx)
{
	struct ntfs *nt = fs->priv;
	struct img_extents local;
	struct img_bitmap_walk w = { .ext = &local, .base = fs->off,
	    .unit = nt->cluster_size, .limit = nt->clusters };
	uint64_t bps = nt->sector_size;
	uint64_t backup = nt->sectors * bps, last = (fs->len / bps - 1) * bps;
	int rc;

	img_extents_init(&local);
	if ((rc = walk_bitmap(dev, fs, nt, &w, ctx)) < 0)
		goto out;
	img_extents_normalize(&local);
	if (check_self(&local, fs, nt) < 0) {
		rc = ntfs_err(ctx, -EBADMSG, dev, fs->off, "$Bitmap marks "
		    "$Boot, $MFT or itself free");
		goto out;
	}
	/* boot sector; backup boot sector after the last counted sector
	 * and in the partition's last sector (usually the same one) */
	if ((rc = img_extents_add(used, fs->off, bps)) < 0 ||
	    (rc = img_extents_add_all(used, &local)) < 0 ||
	    (backup + bps <= fs->len &&
	    (rc = img_extents_add(used, fs->off + backup, bps)) < 0) ||
	    (rc = img_extents_add(used, fs->off + last, bps)) < 0) {
		rc = img_error(ctx, rc, "out of memory");
		goto out;
	}
	nt->used = w.used;
out:
	img_extents_free(&local);
	return rc;
}

static void
ntfs_describe(const struct fs_info *fs, char *buf, size_t len)
{
	const struct ntfs *nt = fs->priv;
	char used[32] = "";
	int n;

	if (nt->used != UINT64_MAX)
		snprintf(used, sizeof(used), "%llu of ",
		    (unsigned long long)nt->used);
	n = snprintf(buf, len, "ntfs %u.%u, %u-byte clusters, %s%llu "
	    "clusters%s, log %s", nt->major, nt->minor, nt->cluster_size, used,
	    (unsigned long long)nt->clusters, used[0] ? " used" : "",
	    ntfs_log_names[nt->log]);
	if (nt->vol_flags & 0x0001 && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, ", dirty");
	if (fs->label[0] && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ", label '%s'", fs->label);
}

static void
ntfs_release(struct fs_info *fs)
{
	ntfs_free(fs->priv);
	fs->priv = NULL;
}

const struct fs_ops fs_ntfs_ops = {
	.name = "ntfs",
	.probe = ntfs_probe,
	.describe = ntfs_describe,
	.used_extents = ntfs_used_extents,
	.release = ntfs_release,
};
