/*
 * fs_lvm.c - LVM2 physical volumes (blkid TYPE "LVM2_member"), a container.
 *
 * Reads the PV label (LVM2 lib/label/label.h, lib/format_text/layout.h):
 * "LABELONE" in one of the first four sectors, its CRC, the pv_header with
 * the PV UUID, the data and metadata area descriptors and (extension v1+)
 * the bootloader areas; then each metadata area's header (magic
 * " LVM2 x[5A%r0N*>", CRC) and the current metadata text its first
 * raw_locn points at (CRC checked, wrap-around handled), parsed by
 * lvm_text.c. From the text: extent_size, this PV (matched by UUID), its
 * pe_start and pe_count, and every LV segment whose "stripes" (or pvmove
 * "mirrors") list this PV.
 *
 * Stored by used_extents: the label sectors, every metadata area in full,
 * the bootloader areas, and the physical extents of every LV that is not
 * handed to the scanner. sub_volumes hands the scanner each LV that is
 * VISIBLE, not used by another LV (cow store, pool data, raid image...),
 * and whose segments are all "striped" with stripe_count 1 on this PV and
 * cover it from its first extent without a gap: one byte range per LV, or
 * (extended after another LV took the extents behind it) up to
 * FS_SUBVOL_MAX_PIECES pieces in logical order, which the scanner reads as
 * one mapped volume. LVs spanning other PVs, striped, mirror, raid, thin,
 * cache, snapshot and VDO data are stored in full. Extents no LV uses are
 * free.
 *
 * It does not: reassemble LVs that span several PVs, read metadata
 * from another PV of the VG (a PV without metadata areas is copied in
 * full), or accept metadata areas that disagree with the label.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "ctx.h"
#include "dev.h"
#include "byteorder.h"
#include "extents.h"
#include "formats.h"
#include "lvm_text.h"

#define LVM_SECTOR		512u
#define LVM_LABEL_SECTORS	4u	/* label.h LABEL_SCAN_SECTORS */
#define LVM_MAX_AREAS		8u
#define LVM_MAX_LVS		4096u
#define LVM_CRC_INIT		0xf597a6cfu	/* crc.h INITIAL_CRC */
#define MDA_MAGIC		" LVM2 x[5A%r0N*>"	/* layout.h FMTT_MAGIC */
#define MDA_HEADER_SIZE		512u
#define RAW_LOCN_IGNORED	0x1u

struct lvm_area {
	uint64_t off, len;	/* bytes from the PV start */
};

/* A run of this PV's extents used by LV lv, at logical extent le. */
struct lvm_piece {
	unsigned lv;
	uint64_t le, pe, count;
	int linear;		/* striped, stripe_count 1, here */
};

struct lvm_pv {
	char uuid[33];
	unsigned nmda, nboot;
	struct lvm_area mda[LVM_MAX_AREAS], boot[LVM_MAX_AREAS];
	char vg[64];
	int orphan;		/* no metadata text: not in a VG */
	uint64_t ext_bytes, pe_start, pe_count, allocated;
	unsigned nlv;
	struct lvm_piece *pieces;
	size_t npieces, cappieces;
	struct img_extents full;	/* absolute: LVs stored in full */
	struct fs_subvol *vols;
	unsigned nvols;
};

/* The text of the PV being parsed, for short helper signatures. */
struct lvm_parse {
	const struct lvm_cfg *cfg;
	struct lvm_pv *pv;
	const struct fs_info *fs;
	const char *pvname;	/* "pv0": this PV's key in the metadata */
	const char **refs;	/* LV names other LVs use */
	size_t nrefs;
};

static int __attribute__((format(printf, 4, 5)))
lvm_err(struct img_ctx *ctx, const struct img_dev *dev,
    const struct fs_info *fs, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return img_error(ctx, -EBADMSG, "'%s': LVM2 PV at offset %llu: %s",
	    dev->path, (unsigned long long)fs->off, why);
}

/* LVM2's calc_crc: the zlib polynomial, seeded, with no final inversion */
static uint32_t
lvm_crc(uint32_t crc, const void *buf, size_t len)
{
	return ~img_crc32(~crc, buf, len);
}

/* Data area, metadata area and bootloader area lists: 16-byte disk_locn
 * entries ending with an offset of 0 (layout.h). Returns the byte after
 * the list, or 0 if it runs past end. */
static size_t
read_locns(const uint8_t *b, size_t pos, size_t end, struct lvm_area *v,
    unsigned *n)
{
	for (*n = 0; pos + 16 <= end; pos += 16) {
		uint64_t off = img_le64(b + pos), len = img_le64(b + pos + 8);

		if (off == 0)
			return pos + 16;
		if (v && *n < LVM_MAX_AREAS)
			v[*n] = (struct lvm_area){ off, len };
		(*n)++;
	}
	return 0;
}

/* pv_header at label offset off in sector s: uuid[32], device_size u64,
 * the lists, then pv_header_extension (version u32, flags u32, list). */
static int
read_pv_header(const uint8_t *s, uint32_t off, struct lvm_pv *pv,
    const struct img_dev *dev, const struct fs_info *fs, struct img_ctx *ctx)
{
	size_t pos;
	unsigned ndata;

	if (off < 32 || off > LVM_SECTOR - 56)
		return lvm_err(ctx, dev, fs, "pv_header offset %u", off);
	memcpy(pv->uuid, s + off, 32);
	pv->uuid[32] = '\0';
	pos = read_locns(s, off + 40, LVM_SECTOR, NULL, &ndata);
	if (pos)
		pos = read_locns(s, pos, LVM_SECTOR, pv->mda, &pv->nmda);
	if (!pos || ndata == 0 || pv->nmda > LVM_MAX_AREAS)
		return lvm_err(ctx, dev, fs, "malformed pv_header area lists");
	if (pos + 8 <= LVM_SECTOR && img_le32(s + pos) >= 1 &&
	    !read_locns(s, pos + 8, LVM_SECTOR, pv->boot, &pv->nboot))
		pv->nboot = 0;
	if (pv->nboot > LVM_MAX_AREAS)
		return lvm_err(ctx, dev, fs, "%u bootloader areas", pv->nboot);
	return 0;
}

/* 0 = label read, 1 = no label in the first four sectors, <0 damaged. */
static int
read_label(struct img_dev *dev, const struct fs_info *fs, struct lvm_pv *pv,
    struct img_ctx *ctx)
{
	uint8_t b[LVM_LABEL_SECTORS * LVM_SECTOR];
	int rc;

	if (fs->len < sizeof(b))
		return 1;
	if ((rc = img_dev_pread(dev, b, sizeof(b), fs->off, ctx)) < 0)
		return rc;
	for (unsigned i = 0; i < LVM_LABEL_SECTORS; i++) {
		const uint8_t *s = b + i * LVM_SECTOR;

		/* label_header: id[8], sector u64, crc u32 (of offset 20 to
		 * the sector end), offset u32, type[8] */
		if (memcmp(s, "LABELONE", 8) != 0 || img_le64(s + 8) != i)
			continue;
		if (memcmp(s + 24, "LVM2 001", 8) != 0)
			return 1;
		if (lvm_crc(LVM_CRC_INIT, s + 20, LVM_SECTOR - 20) !=
		    img_le32(s + 16))
			return lvm_err(ctx, dev, fs,
			    "label checksum mismatch in sector %u", i);
		return read_pv_header(s, img_le32(s + 20), pv, dev, fs, ctx);
	}
	return 1;
}

static int
check_area(const struct lvm_area *a, const struct img_dev *dev,
    const struct fs_info *fs, const char *what, struct img_ctx *ctx)
{
	if (a->off < LVM_LABEL_SECTORS * LVM_SECTOR || a->len > fs->len ||
	    a->off > fs->len - a->len)
		return lvm_err(ctx, dev, fs, "%s at %llu (%llu bytes) outside the PV",
		    what, (unsigned long long)a->off,
		    (unsigned long long)a->len);
	return 0;
}

/* Reads the text at [off, off+len) of the circular buffer after the
 * 512-byte header of metadata area a, checking crc. */
static int
read_text(struct img_dev *dev, const struct fs_info *fs,
    const struct lvm_area *a, uint64_t off, uint64_t len, uint32_t crc,
    char **text, struct img_ctx *ctx)
{
	uint64_t first;
	char *t;
	int rc;

	if (len == 0 || len > LVM_TEXT_MAX || len > a->len - MDA_HEADER_SIZE ||
	    off < MDA_HEADER_SIZE || off >= a->len)
		return lvm_err(ctx, dev, fs, "metadata text at %llu (%llu bytes) outside its area",
		    (unsigned long long)off, (unsigned long long)len);
	first = len < a->len - off ? len : a->len - off;
	if (!(t = malloc(len + 1)))
		return img_error(ctx, -ENOMEM, "out of memory");
	rc = img_dev_pread(dev, t, first, fs->off + a->off + off, ctx);
	if (rc == 0 && first < len)	/* wrapped to just after the header */
		rc = img_dev_pread(dev, t + first, len - first,
		    fs->off + a->off + MDA_HEADER_SIZE, ctx);
	if (rc == 0 && lvm_crc(LVM_CRC_INIT, t, len) != crc)
		rc = lvm_err(ctx, dev, fs, "metadata text checksum mismatch");
	if (rc < 0) {
		free(t);
		return rc;
	}
	t[len] = '\0';
	*text = t;
	return 0;
}

/* mda_header: crc u32 (of bytes 4..511), magic[16], version u32, start
 * u64, size u64, raw_locn[] {offset u64, size u64, crc u32, flags u32}.
 * 0 with *text (NULL when the area holds no metadata), <0 damaged. */
static int
read_mda(struct img_dev *dev, const struct fs_info *fs,
    const struct lvm_area *a, char **text, struct img_ctx *ctx)
{
	uint8_t h[MDA_HEADER_SIZE];
	const uint8_t *rl = h + 40;
	int rc;

	*text = NULL;
	if ((rc = check_area(a, dev, fs, "metadata area", ctx)) < 0)
		return rc;
	if (a->len < 2 * MDA_HEADER_SIZE)
		return lvm_err(ctx, dev, fs, "metadata area of %llu bytes",
		    (unsigned long long)a->len);
	if ((rc = img_dev_pread(dev, h, sizeof(h), fs->off + a->off, ctx)) < 0)
		return rc;
	if (memcmp(h + 4, MDA_MAGIC, 16) != 0 || img_le32(h + 20) != 1 ||
	    img_le64(h + 24) != a->off || img_le64(h + 32) != a->len)
		return lvm_err(ctx, dev, fs, "bad metadata area header at %llu",
		    (unsigned long long)a->off);
	if (lvm_crc(LVM_CRC_INIT, h + 4, sizeof(h) - 4) != img_le32(h))
		return lvm_err(ctx, dev, fs, "metadata area header checksum mismatch at %llu",
		    (unsigned long long)a->off);
	if (img_le64(rl) == 0 || (img_le32(rl + 20) & RAW_LOCN_IGNORED))
		return 0;
	return read_text(dev, fs, a, img_le64(rl), img_le64(rl + 8),
	    img_le32(rl + 16), text, ctx);
}

static int
add_piece(struct lvm_pv *pv, const struct lvm_piece *p)
{
	if (pv->npieces == pv->cappieces) {
		size_t cap = pv->cappieces ? 2 * pv->cappieces : 32;
		struct lvm_piece *v = realloc(pv->pieces, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		pv->pieces = v;
		pv->cappieces = cap;
	}
	pv->pieces[pv->npieces++] = *p;
	return 0;
}


/* Segment keys that name another LV, which then holds no filesystem of
 * its own (a snapshot's cow store, a pool's data, a raid image...). */
static const char *const lv_ref_keys[] = {
	"cow_store", "merging_store", "pool", "metadata", "data",
	"cache_pool", "vdo_pool", "writecache", "integrity_meta", "raids",
	"mirrors", "mirror_log",
};

static int
add_ref(struct lvm_parse *pp, const char *name)
{
	const char **v = realloc(pp->refs, (pp->nrefs + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	pp->refs = v;
	pp->refs[pp->nrefs++] = name;
	return 0;
}

static int
collect_seg_refs(struct lvm_parse *pp, int seg)
{
	const struct lvm_cfg *c = pp->cfg;
	int rc = 0;

	for (size_t k = 0; k < sizeof(lv_ref_keys) / sizeof(*lv_ref_keys); k++) {
		const struct lvm_node *n = lvm_cfg_get(c, seg, lv_ref_keys[k]);

		if (n && n->kind == LVM_STR)
			rc = add_ref(pp, n->str);
		for (int i = n && n->kind == LVM_ARRAY ? n->child : -1;
		    i >= 0 && rc == 0; i = c->v[i].next)
			if (c->v[i].kind == LVM_STR)
				rc = add_ref(pp, c->v[i].str);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int
is_referenced(const struct lvm_parse *pp, const char *name)
{
	for (size_t i = 0; i < pp->nrefs; i++)
		if (strcmp(pp->refs[i], name) == 0)
			return 1;
	return 0;
}

/* The stripes (or pvmove mirrors) of one segment: pieces on this PV.
 * *linear is cleared unless it is one stripe, here. */
static int
scan_segment(struct lvm_parse *pp, unsigned lv, int seg, int *linear,
    const struct img_dev *dev, struct img_ctx *ctx)
{
	const struct lvm_cfg *c = pp->cfg;
	const char *type = lvm_cfg_str(c, seg, "type");
	const struct lvm_node *a = lvm_cfg_get(c, seg, "stripes");
	int64_t le, count, stripes = 1;
	unsigned npairs = 0, here = 0;
	int striped = type && strcmp(type, "striped") == 0, rc;

	if (!type || lvm_cfg_num(c, seg, "start_extent", &le) < 0 ||
	    lvm_cfg_num(c, seg, "extent_count", &count) < 0 || le < 0 ||
	    count <= 0 || (striped && (lvm_cfg_num(c, seg, "stripe_count",
	    &stripes) < 0 || stripes <= 0 || count % stripes)))
		return lvm_err(ctx, dev, pp->fs, "LV %u: malformed segment", lv);
	if (!a)
		a = lvm_cfg_get(c, seg, "mirrors");
	for (int i = a && a->kind == LVM_ARRAY ? a->child : -1; i >= 0;
	    i = c->v[i].next) {
		const struct lvm_node *name = &c->v[i], *pe;

		if (name->kind != LVM_STR)
			continue;
		npairs++;
		pe = name->next >= 0 ? &c->v[name->next] : NULL;
		if (strcmp(name->str, pp->pvname) != 0)
			continue;
		if (!pe || pe->kind != LVM_NUM || pe->num < 0 ||
		    (uint64_t)pe->num > pp->pv->pe_count ||
		    (uint64_t)(count / stripes) > pp->pv->pe_count -
		    (uint64_t)pe->num)
			return lvm_err(ctx, dev, pp->fs,
			    "LV %u: extents beyond the PV's %llu", lv,
			    (unsigned long long)pp->pv->pe_count);
		here++;
		rc = add_piece(pp->pv, &(struct lvm_piece){ lv, (uint64_t)le,
		    (uint64_t)pe->num, (uint64_t)(count / stripes), 0 });
		if (rc < 0)
			return img_error(ctx, rc, "out of memory");
	}
	if (!striped || stripes != 1 || npairs != 1 || here != 1)
		*linear = 0;
	return 0;
}

static int
cmp_piece_le(const void *a, const void *b)
{
	const struct lvm_piece *x = a, *y = b;

	return x->le < y->le ? -1 : x->le > y->le;
}

/* Pieces [first, pv->npieces) in logical order: NULL if they cover the LV
 * from extent 0 without a gap, else why not. */
static const char *
not_whole(struct lvm_pv *pv, size_t first)
{
	const struct lvm_piece *p = pv->pieces + first;

	qsort(pv->pieces + first, pv->npieces - first, sizeof(*p),
	    cmp_piece_le);
	if (p->le != 0)
		return "missing its first extents";
	for (size_t i = first + 1; i < pv->npieces; i++, p++)
		if (p[1].le != p->le + p->count)
			return "missing some of its extents";
	return NULL;
}

/* The LV made of pieces [first, pv->npieces) (in logical order), as one
 * volume: physically adjacent pieces merge; more than
 * FS_SUBVOL_MAX_PIECES runs is too scattered (1: nothing added). */
static int
add_vol(struct lvm_pv *pv, size_t first, uint64_t base, const char *lv)
{
	struct fs_subvol *v = realloc(pv->vols, (pv->nvols + 1) * sizeof(*v));
	uint64_t eb = pv->ext_bytes;

	if (!v)
		return -ENOMEM;
	pv->vols = v;
	v = &pv->vols[pv->nvols];
	memset(v, 0, sizeof(*v));
	for (size_t i = first; i < pv->npieces; i++) {
		const struct lvm_piece *p = &pv->pieces[i];
		struct img_dev_piece *last = v->npieces ?
		    &v->pieces[v->npieces - 1] : NULL;

		if (last && last->dev_off + last->len == base + p->pe * eb) {
			last->len += p->count * eb;
		} else if (v->npieces == FS_SUBVOL_MAX_PIECES) {
			return 1;
		} else {
			v->pieces[v->npieces++] = (struct img_dev_piece){
			    base + p->pe * eb, p->count * eb };
		}
		v->len += p->count * eb;
	}
	v->off = v->pieces[0].dev_off;
	if (v->npieces == 1)
		v->npieces = 0;		/* one range: [off, off+len) */
	snprintf(v->name, sizeof(v->name), "%s/%s", pv->vg, lv);
	pv->nvols++;
	return 0;
}

/* Hands the LV to the scanner, or stores its extents here in full. */
static int
decide_lv(struct lvm_parse *pp, int lvsec, size_t first, int linear,
    struct img_ctx *ctx)
{
	struct lvm_pv *pv = pp->pv;
	const char *name = pp->cfg->v[lvsec].key, *why = NULL;
	uint64_t n = 0, base = pv->pe_start, eb = pv->ext_bytes;

	if (first == pv->npieces)
		return 0;		/* nothing on this PV */
	if (!lvm_cfg_array_has(pp->cfg, lvsec, "status", "VISIBLE"))
		why = "an internal volume";
	else if (is_referenced(pp, name))
		why = "used by another volume";
	else if (!linear)
		why = "not a linear volume on this PV alone";
	else
		why = not_whole(pv, first);
	if (!why) {
		int rc = add_vol(pv, first, pp->fs->off + base, name);

		if (rc < 0)
			return img_error(ctx, -ENOMEM, "out of memory");
		if (rc == 0)
			return 0;
		why = "in more pieces than imgtool maps";
	}
	for (size_t i = first; i < pv->npieces; i++) {
		n += pv->pieces[i].count;
		if (img_extents_add(&pv->full, pp->fs->off + base +
		    pv->pieces[i].pe * eb, pv->pieces[i].count * eb) < 0)
			return img_error(ctx, -ENOMEM, "out of memory");
	}
	img_note(ctx, "LVM: %s/%s is %s; its %llu extents on this PV are stored in full",
	    pv->vg, name, why, (unsigned long long)n);
	return 0;
}

static int
cmp_piece(const void *a, const void *b)
{
	const struct lvm_piece *x = a, *y = b;

	return x->pe < y->pe ? -1 : x->pe > y->pe;
}

/* No two LVs may share an extent. Sorts pv->pieces (done with them). */
static int
check_overlap(struct lvm_pv *pv, const struct img_dev *dev,
    const struct fs_info *fs, struct img_ctx *ctx)
{
	if (pv->npieces)
		qsort(pv->pieces, pv->npieces, sizeof(*pv->pieces), cmp_piece);
	for (size_t i = 0; i < pv->npieces; i++) {
		pv->allocated += pv->pieces[i].count;
		if (i && pv->pieces[i - 1].pe + pv->pieces[i - 1].count >
		    pv->pieces[i].pe)
			return lvm_err(ctx, dev, fs, "LVs overlap at extent %llu",
			    (unsigned long long)pv->pieces[i].pe);
	}
	return 0;
}

static int
scan_lvs(struct lvm_parse *pp, int lvs, const struct img_dev *dev,
    struct img_ctx *ctx)
{
	const struct lvm_cfg *c = pp->cfg;
	int rc = 0;

	for (int l = c->v[lvs].child; l >= 0 && rc == 0; l = c->v[l].next)
		for (int s = c->v[l].kind == LVM_SECTION ? c->v[l].child : -1;
		    s >= 0 && rc == 0; s = c->v[s].next)
			if (c->v[s].kind == LVM_SECTION)
				rc = collect_seg_refs(pp, s);
	for (int l = c->v[lvs].child; l >= 0 && rc == 0; l = c->v[l].next) {
		size_t first = pp->pv->npieces;
		int linear = 1;

		if (c->v[l].kind != LVM_SECTION)
			continue;
		if (++pp->pv->nlv > LVM_MAX_LVS)
			return lvm_err(ctx, dev, pp->fs, "more than %u LVs",
			    LVM_MAX_LVS);
		for (int s = c->v[l].child; s >= 0 && rc == 0; s = c->v[s].next)
			if (c->v[s].kind == LVM_SECTION)
				rc = scan_segment(pp, pp->pv->nlv, s, &linear,
				    dev, ctx);
		if (rc == 0)
			rc = decide_lv(pp, l, first, linear, ctx);
	}
	return rc < 0 ? rc : check_overlap(pp->pv, dev, pp->fs, ctx);
}

/* This PV in physical_volumes, by the label's UUID (the text has dashes):
 * sets pp->pvname, pe_start and pe_count, checked against the PV size. */
static int
find_pv(struct lvm_parse *pp, int pvs, const struct img_dev *dev,
    struct img_ctx *ctx)
{
	const struct lvm_cfg *c = pp->cfg;
	struct lvm_pv *pv = pp->pv;
	int64_t start, count;

	for (int i = pvs >= 0 ? c->v[pvs].child : -1; i >= 0; i = c->v[i].next) {
		const char *id = lvm_cfg_str(c, i, "id");
		char plain[33];
		size_t n = 0;

		for (; id && *id && n < 32; id++)
			if (*id != '-')
				plain[n++] = *id;
		plain[n] = '\0';
		if (!id || *id || strcmp(plain, pv->uuid) != 0)
			continue;
		if (lvm_cfg_num(c, i, "pe_start", &start) < 0 ||
		    lvm_cfg_num(c, i, "pe_count", &count) < 0 || start < 0 ||
		    count < 0 || (uint64_t)start > pp->fs->len / LVM_SECTOR ||
		    (uint64_t)count > (pp->fs->len - (uint64_t)start *
		    LVM_SECTOR) / pv->ext_bytes)
			return lvm_err(ctx, dev, pp->fs,
			    "PV extents beyond the device");
		pp->pvname = c->v[i].key;
		pv->pe_start = (uint64_t)start * LVM_SECTOR;
		pv->pe_count = (uint64_t)count;
		return 0;
	}
	return lvm_err(ctx, dev, pp->fs, "PV %s is not in the metadata of its VG",
	    pv->uuid);
}

static int
read_layout(struct lvm_pv *pv, char *text, const struct img_dev *dev,
    const struct fs_info *fs, struct img_ctx *ctx)
{
	struct lvm_cfg cfg;
	struct lvm_parse pp = { .cfg = &cfg, .pv = pv, .fs = fs };
	size_t len = strlen(text);
	int64_t es;
	char err[160] = "";
	int vg = -1, rc;

	rc = lvm_cfg_parse(text, len, &cfg, err, sizeof(err));
	if (rc == -ENOMEM)
		rc = img_error(ctx, rc, "out of memory");
	else if (rc < 0)
		rc = lvm_err(ctx, dev, fs, "%s", err);
	for (int i = rc ? -1 : cfg.v[0].child; i >= 0 && vg < 0; i = cfg.v[i].next)
		if (cfg.v[i].kind == LVM_SECTION)
			vg = i;
	if (rc == 0 && (vg < 0 || lvm_cfg_num(&cfg, vg, "extent_size", &es) < 0 ||
	    es <= 0 || es > (int64_t)1 << 32))
		rc = lvm_err(ctx, dev, fs, "no volume group or extent size in the metadata");
	if (rc == 0) {
		snprintf(pv->vg, sizeof(pv->vg), "%s", cfg.v[vg].key);
		pv->ext_bytes = (uint64_t)es * LVM_SECTOR;
		rc = find_pv(&pp, lvm_cfg_index(&cfg, lvm_cfg_get(&cfg, vg,
		    "physical_volumes")), dev, ctx);
	}
	if (rc == 0 && lvm_cfg_get(&cfg, vg, "logical_volumes"))
		rc = scan_lvs(&pp, lvm_cfg_index(&cfg, lvm_cfg_get(&cfg, vg,
		    "logical_volumes")), dev, ctx);
	free(pp.refs);
	lvm_cfg_free(&cfg);
	return rc;
}

static void
lvm_release(struct fs_info *fs)
{
	struct lvm_pv *pv = fs->priv;

	if (!pv)
		return;
	img_extents_free(&pv->full);
	free(pv->pieces);
	free(pv->vols);
	free(pv);
	fs->priv = NULL;
}

/* Every metadata area is checked; the first holding text is used. A PV
 * whose areas are all ignored (or that has none) cannot be read alone. */
static int
read_metadata(struct img_dev *dev, struct fs_info *fs, struct lvm_pv *pv,
    struct img_ctx *ctx)
{
	char *text = NULL, *t;
	int rc = 0;

	if (pv->nmda == 0)
		return lvm_err(ctx, dev, fs, "no metadata area on this PV");
	for (unsigned i = 0; i < pv->nmda && rc == 0; i++) {
		rc = read_mda(dev, fs, &pv->mda[i], &t, ctx);
		if (text)
			free(t);
		else
			text = t;
	}
	if (rc == 0 && text)
		rc = read_layout(pv, text, dev, fs, ctx);
	else if (rc == 0)
		pv->orphan = 1;
	free(text);
	return rc;
}

static int
lvm_probe(struct img_dev *dev, struct fs_info *fs, struct img_ctx *ctx)
{
	struct lvm_pv *pv = calloc(1, sizeof(*pv));
	int rc;

	if (!pv)
		return img_error(ctx, -ENOMEM, "out of memory");
	img_extents_init(&pv->full);
	fs->priv = pv;
	rc = read_label(dev, fs, pv, ctx);
	if (rc == 0)
		rc = read_metadata(dev, fs, pv, ctx);
	if (rc != 0) {
		lvm_release(fs);
		return rc;
	}
	fs->block_size = pv->orphan ? LVM_SECTOR : (uint32_t)pv->ext_bytes;
	fs->block_count = pv->orphan ? fs->len / LVM_SECTOR : pv->pe_count;
	if (pv->ext_bytes > UINT32_MAX)
		fs->block_size = 0;
	return 0;
}

static void
lvm_describe(const struct fs_info *fs, char *buf, size_t len)
{
	const struct lvm_pv *pv = fs->priv;

	if (pv->orphan)
		snprintf(buf, len, "LVM2 PV, not in a volume group");
	else
		snprintf(buf, len, "LVM2 PV of VG '%s', %llu-KiB extents, %u LVs, %llu of %llu extents allocated",
		    pv->vg, (unsigned long long)(pv->ext_bytes / 1024), pv->nlv,
		    (unsigned long long)pv->allocated,
		    (unsigned long long)pv->pe_count);
}

static int
lvm_used_extents(struct img_dev *dev, const struct fs_info *fs,
    struct img_extents *used, struct img_ctx *ctx)
{
	const struct lvm_pv *pv = fs->priv;
	int rc = img_extents_add(used, fs->off, LVM_LABEL_SECTORS * LVM_SECTOR);

	for (unsigned i = 0; i < pv->nmda && rc == 0; i++)
		rc = img_extents_add(used, fs->off + pv->mda[i].off,
		    pv->mda[i].len);
	for (unsigned i = 0; i < pv->nboot && rc == 0; i++) {
		if ((rc = check_area(&pv->boot[i], dev, fs, "bootloader area",
		    ctx)) < 0)
			return rc;
		rc = img_extents_add(used, fs->off + pv->boot[i].off,
		    pv->boot[i].len);
	}
	if (rc == 0)
		rc = img_extents_add_all(used, &pv->full);
	return rc == -ENOMEM ? img_error(ctx, rc, "out of memory") : rc;
}

static int
lvm_sub_volumes(struct img_dev *dev, const struct fs_info *fs,
    struct fs_subvol **vols, unsigned *n, struct img_ctx *ctx)
{
	const struct lvm_pv *pv = fs->priv;

	(void)dev;
	*vols = NULL;
	*n = 0;
	if (pv->nvols == 0)
		return 0;
	if (!(*vols = malloc(pv->nvols * sizeof(**vols))))
		return img_error(ctx, -ENOMEM, "out of memory");
	memcpy(*vols, pv->vols, pv->nvols * sizeof(**vols));
	*n = pv->nvols;
	return 0;
}

const struct fs_ops fs_lvm_ops = {
	.name = "LVM2_member",
	.probe = lvm_probe,
	.describe = lvm_describe,
	.used_extents = lvm_used_extents,
	.sub_volumes = lvm_sub_volumes,
	.release = lvm_release,
};
