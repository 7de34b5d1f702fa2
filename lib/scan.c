/*
 * scan.c - find the used byte ranges of a disk or partition.
 *
 * libblkid recognises the partition table and each filesystem; the modules
 * in formats/ say which ranges each one uses. The rules that keep a restored
 * disk bootable live here: the table's own areas and everything before the
 * first partition are always stored; whatever is not understood (unknown
 * content, a damaged filesystem, overlapping entries) is stored in full and
 * the user is told why. Never silently less.
 */
#include "config.h"

#include <blkid.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "dev.h"
#include "formats.h"
#include "image_fmt.h"
#include "image_write.h"
#include "scan.h"

/* What blkid says about a range of the device. */
struct probe_result {
	char type[16];
	char pttype[16];
	char label[64];
	char uuid[40];
	char ptuuid[40];
};

static void
lookup(blkid_probe pr, const char *name, char *out, size_t len)
{
	const char *v = NULL;

	out[0] = '\0';
	if (blkid_probe_lookup_value(pr, name, &v, NULL) == 0 && v)
		snprintf(out, len, "%s", v);
}

/* Probes [off, off+len) for a filesystem (and, if parts, a table). */
static blkid_probe
probe_range(struct img_dev *dev, uint64_t off, uint64_t len, int parts,
    struct probe_result *res)
{
	blkid_probe pr = blkid_new_probe();

	memset(res, 0, sizeof(*res));
	if (!pr)
		return NULL;
	if (blkid_probe_set_device(pr, dev->fd, (blkid_loff_t)off,
	    (blkid_loff_t)len) < 0) {
		blkid_free_probe(pr);
		return NULL;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE |
	    BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID);
	blkid_probe_enable_partitions(pr, parts);
	if (parts)
		blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
	/* safeprobe: an ambivalent result (two signatures) finds nothing,
	 * which leads to a full copy rather than a wrong guess. */
	if (blkid_do_safeprobe(pr) == 0) {
		lookup(pr, "TYPE", res->type, sizeof(res->type));
		lookup(pr, "PTTYPE", res->pttype, sizeof(res->pttype));
		lookup(pr, "LABEL", res->label, sizeof(res->label));
		lookup(pr, "UUID", res->uuid, sizeof(res->uuid));
		lookup(pr, "PTUUID", res->ptuuid, sizeof(res->ptuuid));
	}
	return pr;
}

static struct img_scan_region *
add_region(struct img_scan *s, unsigned kind, uint64_t start, uint64_t len)
{
	struct img_scan_region *r;

	r = realloc(s->regions, (s->nregions + 1) * sizeof(*r));
	if (!r)
		return NULL;
	s->regions = r;
	r = &s->regions[s->nregions++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->start = start;
	r->len = len;
	return r;
}

static int
mark_full(struct img_scan *s, struct img_scan_region *r, const char *why)
{
	r->flags |= IMG_REGION_FULL;
	snprintf(r->note, sizeof(r->note), "%s", why);
	return img_extents_add(&s->used, r->start, r->len);
}

static int scan_filesystem(struct img_dev *dev, struct img_scan *s,
    struct img_scan_region *r, const struct probe_result *pres,
    struct img_ctx *ctx);

/* A container's volumes (LVM logical volumes), each checked to lie inside
 * region r. A container inside a volume is not descended into: it is
 * copied in full. */
static int
get_volumes(struct img_dev *dev, const struct fs_info *fs,
    const struct fs_ops *ops, const struct img_scan_region *r,
    struct fs_subvol **vols, unsigned *n, struct img_ctx *ctx)
{
	int rc;

	if (r->kind == IMG_REGION_VOLUME)
		return img_error(ctx, -ENOTSUP, "'%s': a %s inside volume '%s' is not descended into",
		    dev->path, ops->name, r->name);
	rc = ops->sub_volumes(dev, fs, vols, n, ctx);
	for (unsigned i = 0; rc == 0 && i < *n; i++) {
		const struct fs_subvol *v = &(*vols)[i];
		struct img_dev_piece one = { v->off, v->len };
		const struct img_dev_piece *p = v->npieces ? v->pieces : &one;
		unsigned np = v->npieces ? v->npieces : 1;

		for (unsigned k = 0; rc == 0 && k < np; k++)
			if (p[k].len == 0 || p[k].dev_off < r->start ||
			    p[k].len > r->len ||
			    p[k].dev_off - r->start > r->len - p[k].len ||
			    np > FS_SUBVOL_MAX_PIECES)
				rc = img_error(ctx, -EBADMSG, "'%s': volume '%s' lies outside its container",
				    dev->path, v->name);
	}
	if (rc < 0) {
		free(*vols);
		*vols = NULL;
		*n = 0;
	}
	return rc;
}

/* Adds from (volume offsets) to to (device offsets) through the pieces. */
static int
map_to_device(struct img_extents *to, const struct img_extents *from,
    const struct fs_subvol *v)
{
	for (size_t i = 0; i < from->n; i++) {
		uint64_t a = from->v[i].off, b = a + from->v[i].len, base = 0;

		for (unsigned k = 0; k < v->npieces && a < b; k++) {
			uint64_t end = base + v->pieces[k].len;

			if (a < end) {
				uint64_t t = b < end ? b : end;

				if (img_extents_add(to, v->pieces[k].dev_off +
				    (a - base), t - a) < 0)
					return -ENOMEM;
				a = t;
			}
			base = end;
		}
	}
	return 0;
}

/* A volume in several pieces: scanned through a device mapped from them
 * (blkid probes its first piece, which holds every superblock signature
 * when at least 1 MiB long), then shown as one region per piece. */
static int
scan_mapped_volume(struct img_dev *dev, struct img_scan *s,
    const struct fs_subvol *v, struct img_ctx *ctx)
{
	struct img_scan_region r = { .kind = IMG_REGION_VOLUME, .len = v->len };
	struct img_scan vs = { 0 };
	struct probe_result pres = { 0 };
	struct img_dev *md = NULL;
	blkid_probe pr = NULL;
	int rc;

	snprintf(r.name, sizeof(r.name), "%s", v->name);
	img_extents_init(&vs.used);
	img_extents_init(&vs.zeros);
	rc = img_dev_open_mapped(dev, v->pieces, v->npieces, v->name, &md,
	    ctx);
	if (rc == 0 && v->pieces[0].len >= (1u << 20))
		pr = probe_range(dev, v->pieces[0].dev_off, v->pieces[0].len, 0,
		    &pres);
	if (rc == 0)
		rc = scan_filesystem(md, &vs, &r, &pres, ctx);
	if (pr)
		blkid_free_probe(pr);
	img_dev_close(md);
	if (rc == 0 && (map_to_device(&s->used, &vs.used, v) < 0 ||
	    map_to_device(&s->zeros, &vs.zeros, v) < 0))
		rc = img_error(ctx, -ENOMEM, "out of memory");
	free(vs.regions);
	img_extents_free(&vs.used);
	img_extents_free(&vs.zeros);
	for (unsigned k = 0; rc == 0 && k < v->npieces; k++) {
		struct img_scan_region *p = add_region(s, IMG_REGION_VOLUME,
		    v->pieces[k].dev_off, v->pieces[k].len);

		if (!p)
			return img_error(ctx, -ENOMEM, "out of memory");
		*p = r;
		p->start = v->pieces[k].dev_off;
		p->len = v->pieces[k].len;
		snprintf(p->name, sizeof(p->name), "%.50s (%u of %u)", v->name,
		    k + 1, v->npieces);
	}
	return rc;
}

/* Each volume becomes a region of its own, probed and scanned like a
 * partition (unknown content is copied in full). */
static int
scan_volumes(struct img_dev *dev, struct img_scan *s,
    const struct fs_subvol *vols, unsigned n, struct img_ctx *ctx)
{
	struct img_scan_region *r;
	struct probe_result pres;
	blkid_probe pr;
	int rc = 0;

	for (unsigned i = 0; rc == 0 && i < n; i++) {
		if (vols[i].npieces) {
			rc = scan_mapped_volume(dev, s, &vols[i], ctx);
			continue;
		}
		r = add_region(s, IMG_REGION_VOLUME, vols[i].off, vols[i].len);
		if (!r)
			return img_error(ctx, -ENOMEM, "out of memory");
		snprintf(r->name, sizeof(r->name), "%s", vols[i].name);
		pr = probe_range(dev, vols[i].off, vols[i].len, 0, &pres);
		if (!pr)
			return img_error(ctx, -ENOMEM, "'%s': cannot probe volume '%s'",
			    dev->path, vols[i].name);
		rc = scan_filesystem(dev, s, r, &pres, ctx);
		blkid_free_probe(pr);
	}
	return rc;
}

/* Adds the ranges of from that lie inside region r to to. */
static int
keep_inside(struct img_extents *to, const struct img_extents *from,
    const struct img_scan_region *r)
{
	for (size_t i = 0; i < from->n; i++) {
		uint64_t a = from->v[i].off, b = a + from->v[i].len;

		if (a < r->start)
			a = r->start;
		if (b > r->start + r->len)
			b = r->start + r->len;
		if (a < b && img_extents_add(to, a, b - a) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Runs the fs module for region r. A module that fails or does not
 * recognise the content leaves the region copied in full, with a warning. */
static int
scan_filesystem(struct img_dev *dev, struct img_scan *s,
    struct img_scan_region *r, const struct probe_result *pres,
    struct img_ctx *ctx)
{
	struct fs_info fs = {
		.type = pres->type, .off = r->start, .len = r->len,
	};
	const struct fs_ops *ops = fs_ops_find(pres->type);
	struct img_extents used, zeros;
	struct fs_subvol *vols = NULL;
	unsigned nvols = 0;
	char where[96] = "the disk";
	int rc;

	snprintf(r->fstype, sizeof(r->fstype), "%s", pres->type);
	snprintf(r->label, sizeof(r->label), "%s", pres->label);
	snprintf(r->uuid, sizeof(r->uuid), "%s", pres->uuid);
	if (r->number)
		snprintf(where, sizeof(where), "partition %u", r->number);
	if (r->kind == IMG_REGION_VOLUME)
		snprintf(where, sizeof(where), "volume '%s'", r->name);
	if (ops == &fs_raw_ops) {
		if (pres->type[0])
			img_warn(ctx, "%s: %s is not a filesystem imgtool reads; copying it in full",
			    where, pres->type);
		else
			img_warn(ctx, "%s: no filesystem recognised; copying it in full",
			    where);
		return mark_full(s, r, pres->type[0] ? "not supported" :
		    "unknown content");
	}
	snprintf(fs.label, sizeof(fs.label), "%s", pres->label);
	snprintf(fs.uuid, sizeof(fs.uuid), "%s", pres->uuid);
	img_extents_init(&used);
	img_extents_init(&zeros);
	fs.zeros = &zeros;
	ctx->msg[0] = '\0';
	rc = ops->probe(dev, &fs, ctx);
	if (rc == 0 && (fs.flags & FS_INFO_STALE_MAP)) {
		if (ops->release)
			ops->release(&fs);
		img_extents_free(&zeros);
		r->flags |= IMG_REGION_DIRTY;
		img_warn(ctx, "%s: %s has a journal or log that needs replaying, so its on-disk allocation map may be stale; copying it in full",
		    where, pres->type);
		return mark_full(s, r, "log needs replay");
	}
	if (rc == 0) {
		r->block_size = fs.block_size;
		if (fs.flags & FS_INFO_DIRTY) {
			r->flags |= IMG_REGION_DIRTY;
			img_warn(ctx, "%s: %s was not cleanly unmounted; imaging it as it is on disk",
			    where, pres->type);
		}
		rc = ops->used_extents(dev, &fs, &used, ctx);
	}
	if (rc == 0 && ops->sub_volumes)
		rc = get_volumes(dev, &fs, ops, r, &vols, &nvols, ctx);
	if (ops->release)
		ops->release(&fs);
	if (rc != 0) {
		img_warn(ctx, "%s: %s could not be read (%s); copying it in full",
		    where, pres->type, ctx->msg[0] ? ctx->msg :
		    "not recognised");
		img_extents_free(&used);
		img_extents_free(&zeros);
		free(vols);
		return mark_full(s, r, rc < 0 ? "damaged metadata" :
		    "not recognised");
	}
	rc = keep_inside(&s->zeros, &zeros, r);
	img_extents_free(&zeros);
	if (rc < 0) {
		free(vols);
		return img_error(ctx, rc, "out of memory");
	}
	img_extents_normalize(&used);
	/* A module may not claim bytes outside its own region. */
	for (size_t i = 0; i < used.n && rc == 0; i++) {
		uint64_t a = used.v[i].off, b = a + used.v[i].len;

		if (a < r->start)
			a = r->start;
		if (b > r->start + r->len)
			b = r->start + r->len;
		if (a < b)
			rc = img_extents_add(&s->used, a, b - a);
	}
	img_debug(ctx, IMG_DBG_SCAN, "%s: %s, %u-byte blocks, %llu bytes used in %zu extents",
	    where, pres->type, fs.block_size,
	    (unsigned long long)img_extents_total(&used), used.n);
	img_extents_free(&used);
	/* r may move: add_region reallocates the array */
	if (rc == 0 && nvols)
		rc = scan_volumes(dev, s, vols, nvols, ctx);
	free(vols);
	return rc;
}

static void
part_type(blkid_partition p, const char *scheme, char *out, size_t len)
{
	const char *t = blkid_partition_get_type_string(p);

	if (t && strcmp(scheme, "gpt") == 0)
		snprintf(out, len, "%s", t);
	else
		snprintf(out, len, "0x%02x", blkid_partition_get_type(p));
}

/* Fills pl from blkid's partition list; rejects entries past the end. */
static int
read_partitions(blkid_probe pr, struct img_dev *dev, struct pt_layout *pl,
    struct img_ctx *ctx)
{
	blkid_partlist ls = blkid_probe_get_partitions(pr);
	int n = ls ? blkid_partlist_numof_partitions(ls) : 0;

	if (n > PT_MAX_PARTS)
		return img_error(ctx, -ENOTSUP, "'%s': %d partitions (at most %d supported)",
		    dev->path, n, PT_MAX_PARTS);
	for (int i = 0; i < n; i++) {
		blkid_partition p = blkid_partlist_get_partition(ls, i);
		struct pt_part *pp = &pl->parts[pl->nparts++];
		const char *v;

		memset(pp, 0, sizeof(*pp));
		pp->number = (unsigned)blkid_partition_get_partno(p);
		pp->start = (uint64_t)blkid_partition_get_start(p) * 512;
		pp->size = (uint64_t)blkid_partition_get_size(p) * 512;
		part_type(p, pl->scheme, pp->type, sizeof(pp->type));
		if ((v = blkid_partition_get_name(p)))
			snprintf(pp->name, sizeof(pp->name), "%s", v);
		if ((v = blkid_partition_get_uuid(p)))
			snprintf(pp->uuid, sizeof(pp->uuid), "%s", v);
		if (blkid_partition_is_extended(p))
			pp->flags |= PT_PART_CONTAINER;
		if (blkid_partition_is_logical(p))
			pp->flags |= PT_PART_LOGICAL;
		if (pp->start + pp->size > dev->size || pp->size == 0)
			return img_error(ctx, -EBADMSG,
			    "'%s': partition %u (start %llu, %llu bytes) lies outside the disk",
			    dev->path, pp->number,
			    (unsigned long long)pp->start,
			    (unsigned long long)pp->size);
	}
	return 0;
}

/* 1 if partition i overlaps another (a logical partition inside its
 * extended container does not count). */
static int
overlaps_other(const struct pt_layout *pl, unsigned i)
{
	const struct pt_part *a = &pl->parts[i];

	for (unsigned j = 0; j < pl->nparts; j++) {
		const struct pt_part *b = &pl->parts[j];

		if (j == i || (a->flags | b->flags) & PT_PART_CONTAINER)
			continue;
		if (a->start < b->start + b->size && b->start < a->start + a->size)
			return 1;
	}
	return 0;
}

static int
scan_partition(struct img_dev *dev, struct img_scan *s,
    const struct pt_layout *pl, unsigned i, struct img_ctx *ctx)
{
	const struct pt_part *p = &pl->parts[i];
	struct img_scan_region *r;
	struct probe_result pres;
	blkid_probe pr;
	int rc;

	r = add_region(s, IMG_REGION_PART, p->start, p->size);
	if (!r)
		return img_error(ctx, -ENOMEM, "out of memory");
	r->number = p->number;
	snprintf(r->pttype, sizeof(r->pttype), "%s", p->type);
	snprintf(r->partuuid, sizeof(r->partuuid), "%s", p->uuid);
	snprintf(r->name, sizeof(r->name), "%s", p->name);
	if (p->flags & PT_PART_CONTAINER) {
		/* Only its EBRs are data; the table module added them. */
		r->flags |= IMG_REGION_CONTAINER;
		return 0;
	}
	if (overlaps_other(pl, i)) {
		img_warn(ctx, "partition %u overlaps another partition; copying it in full",
		    p->number);
		return mark_full(s, r, "overlapping entries");
	}
	pr = probe_range(dev, p->start, p->size, 0, &pres);
	if (!pr)
		return img_error(ctx, -ENOMEM, "'%s': cannot probe partition %u",
		    dev->path, p->number);
	rc = scan_filesystem(dev, s, r, &pres, ctx);
	blkid_free_probe(pr);
	return rc;
}

/* Describes table areas after the last partition (the GPT backup copy)
 * as a region of their own, so `info` shows them. */
static int
add_tail_region(struct img_scan *s, const struct pt_layout *pl,
    struct img_extents *meta, struct img_ctx *ctx)
{
	struct img_scan_region *r;
	uint64_t end = 0;

	for (unsigned i = 0; i < pl->nparts; i++)
		if (pl->parts[i].start + pl->parts[i].size > end)
			end = pl->parts[i].start + pl->parts[i].size;
	img_extents_normalize(meta);
	for (size_t i = img_extents_seek(meta, end); i < meta->n; i++) {
		uint64_t a = meta->v[i].off < end ? end : meta->v[i].off;

		r = add_region(s, IMG_REGION_TABLE, a,
		    meta->v[i].off + meta->v[i].len - a);
		if (!r)
			return img_error(ctx, -ENOMEM, "out of memory");
		snprintf(r->fstype, sizeof(r->fstype), "%s", pl->scheme);
		snprintf(r->note, sizeof(r->note), "backup table");
		r->flags |= IMG_REGION_FULL;
	}
	return 0;
}

/* The table's own areas plus everything before the first partition (boot
 * code, GRUB's core image) are stored whatever they hold. */
static int
scan_table_areas(struct img_dev *dev, struct img_scan *s,
    const struct pt_ops *ops, const struct pt_layout *pl, struct img_ctx *ctx)
{
	struct img_extents meta;
	struct img_scan_region *r;
	uint64_t first = dev->size;
	int rc;

	for (unsigned i = 0; i < pl->nparts; i++)
		if (pl->parts[i].start < first)
			first = pl->parts[i].start;
	r = add_region(s, IMG_REGION_TABLE, 0, first);
	if (!r)
		return img_error(ctx, -ENOMEM, "out of memory");
	snprintf(r->fstype, sizeof(r->fstype), "%s", pl->scheme);
	snprintf(r->note, sizeof(r->note), "table and boot area");
	r->flags |= IMG_REGION_FULL;
	img_extents_init(&meta);
	rc = img_extents_add(&meta, 0, first);
	if (rc == 0)
		rc = ops->table_extents(dev, pl, &meta, ctx);
	if (rc == 0)
		rc = img_extents_add_all(&s->used, &meta);
	if (rc == 0)
		rc = add_tail_region(s, pl, &meta, ctx);
	img_extents_free(&meta);
	return rc;
}

static int
scan_whole_full(struct img_scan *s, uint64_t size, const char *why,
    struct img_ctx *ctx)
{
	struct img_scan_region *r = add_region(s, IMG_REGION_WHOLE, 0, size);

	if (!r)
		return img_error(ctx, -ENOMEM, "out of memory");
	return mark_full(s, r, why);
}

static int
scan_table(struct img_dev *dev, struct img_scan *s, blkid_probe pr,
    const struct probe_result *pres, struct img_ctx *ctx)
{
	const struct pt_ops *ops = pt_ops_find(pres->pttype);
	struct pt_layout *pl;
	int rc;

	if (!ops) {
		img_warn(ctx, "'%s': %s partition tables are not supported; copying the whole disk",
		    dev->path, pres->pttype);
		return scan_whole_full(s, dev->size, "unsupported table", ctx);
	}
	pl = calloc(1, sizeof(*pl));
	if (!pl)
		return img_error(ctx, -ENOMEM, "out of memory");
	snprintf(pl->scheme, sizeof(pl->scheme), "%.7s", pres->pttype);
	snprintf(pl->id, sizeof(pl->id), "%s", pres->ptuuid);
	pl->disk_size = dev->size;
	pl->sector_size = dev->sector_size;
	snprintf(s->scheme, sizeof(s->scheme), "%s", pl->scheme);
	snprintf(s->disk_id, sizeof(s->disk_id), "%s", pl->id);
	rc = read_partitions(pr, dev, pl, ctx);
	if (rc == 0)
		rc = scan_table_areas(dev, s, ops, pl, ctx);
	if (rc == -EBADMSG) {
		img_warn(ctx, "%s; copying the whole disk", ctx->msg);
		free(pl);
		/* forget the table region that may have been added */
		s->nregions = 0;
		s->used.n = 0;
		s->zeros.n = 0;
		return scan_whole_full(s, dev->size, "damaged table", ctx);
	}
	s->nparts = pl->nparts;
	for (unsigned i = 0; rc == 0 && i < pl->nparts; i++)
		rc = scan_partition(dev, s, pl, i, ctx);
	free(pl);
	return rc;
}

static int
count_partitions(blkid_probe pr)
{
	blkid_partlist ls = blkid_probe_get_partitions(pr);

	return ls ? blkid_partlist_numof_partitions(ls) : 0;
}

static int
scan_device(struct img_dev *dev, struct img_scan *s, struct img_ctx *ctx)
{
	struct probe_result pres;
	struct img_scan_region *r;
	blkid_probe pr;
	int rc;

	pr = probe_range(dev, 0, dev->size, 1, &pres);
	if (!pr)
		return img_error(ctx, -ENOMEM, "'%s': cannot start libblkid",
		    dev->path);
	/* exFAT (and others) carry an MBR-shaped boot sector that blkid also
	 * reports as an empty "dos" table: no partitions, just the fs. */
	if (pres.pttype[0] && pres.type[0] && count_partitions(pr) == 0)
		pres.pttype[0] = '\0';
	if (pres.pttype[0] && pres.type[0]) {
		/* A hybrid ISO or a filesystem written over a table: the
		 * entries overlap the filesystem, so keep every byte. */
		img_warn(ctx, "'%s' holds both a %s partition table and a %s filesystem at its start; copying the whole disk",
		    dev->path, pres.pttype, pres.type);
		rc = scan_whole_full(s, dev->size, "table and fs overlap", ctx);
	} else if (pres.pttype[0]) {
		rc = scan_table(dev, s, pr, &pres, ctx);
	} else {
		r = add_region(s, IMG_REGION_FS, 0, dev->size);
		rc = r ? scan_filesystem(dev, s, r, &pres, ctx) :
		    img_error(ctx, -ENOMEM, "out of memory");
	}
	blkid_free_probe(pr);
	return rc;
}

/* Rounds every extent out to 512-byte sectors (the image format's extent
 * granularity) and clips to the device. */
static int
align_used(struct img_scan *s, uint64_t size)
{
	for (size_t i = 0; i < s->used.n; i++) {
		uint64_t a = s->used.v[i].off / 512 * 512;
		uint64_t b = s->used.v[i].off + s->used.v[i].len;

		b = (b + 511) / 512 * 512;
		s->used.v[i].off = a;
		s->used.v[i].len = b - a;
	}
	img_extents_normalize(&s->used);
	img_extents_clip(&s->used, size);
	/* zero ranges shrink inward: a partial sector is read, not assumed */
	for (size_t i = 0; i < s->zeros.n; i++) {
		uint64_t a = (s->zeros.v[i].off + 511) / 512 * 512;
		uint64_t b = (s->zeros.v[i].off + s->zeros.v[i].len) / 512 * 512;

		s->zeros.v[i].off = a;
		s->zeros.v[i].len = b > a ? b - a : 0;
	}
	img_extents_normalize(&s->zeros);
	img_extents_clip(&s->zeros, size);
	return 0;
}

/* Bytes used in each region. An extended container's own bytes are its
 * EBRs: the logical partitions inside it are counted on their own. */
static void
count_used(struct img_scan *s)
{
	for (unsigned i = 0; i < s->nregions; i++) {
		struct img_scan_region *r = &s->regions[i];

		r->used = img_extents_covered(&s->used, r->start, r->len);
		if (!(r->flags & IMG_REGION_CONTAINER))
			continue;
		for (unsigned j = 0; j < s->nregions; j++) {
			const struct img_scan_region *in = &s->regions[j];

			if (j != i && in->start >= r->start &&
			    in->start + in->len <= r->start + r->len)
				r->used -= img_extents_covered(&s->used,
				    in->start, in->len);
		}
	}
}

/* Disk order; at one offset an extended container before its first
 * logical partition, a table area before anything else. */
static int
cmp_region(const void *a, const void *b)
{
	const struct img_scan_region *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->len > y->len ? -1 : x->len < y->len;
}

int
img_scan(struct img_dev *dev, int raw, struct img_scan **out,
    struct img_ctx *ctx)
{
	struct img_scan *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (!s)
		return img_error(ctx, -ENOMEM, "out of memory");
	img_extents_init(&s->used);
	img_extents_init(&s->zeros);
	img_progress_report(ctx, "scan", 0, 0, 0);
	if (raw)
		rc = scan_whole_full(s, dev->size, "--raw", ctx);
	else
		rc = scan_device(dev, s, ctx);
	if (rc == 0)
		rc = align_used(s, dev->size);
	if (rc < 0) {
		img_scan_free(s);
		return rc;
	}
	qsort(s->regions, s->nregions, sizeof(*s->regions), cmp_region);
	count_used(s);
	*out = s;
	return 0;
}

void
img_scan_free(struct img_scan *s)
{
	if (!s)
		return;
	img_extents_free(&s->used);
	img_extents_free(&s->zeros);
	free(s->regions);
	free(s);
}

static void
encode_region(const struct img_scan_region *r, uint8_t *b)
{
	memset(b, 0, IMG_REGION_SIZE);
	img_put_le64(b + IMG_REG_START, r->start);
	img_put_le64(b + IMG_REG_LEN, r->len);
	img_put_le64(b + IMG_REG_USED, r->used);
	img_put_le32(b + IMG_REG_KIND, r->kind);
	img_put_le32(b + IMG_REG_NUMBER, r->number);
	img_put_le32(b + IMG_REG_FLAGS, r->flags);
	img_put_le32(b + IMG_REG_BLOCK_SIZE, r->block_size);
	img_put_str(b + IMG_REG_FSTYPE, 16, r->fstype);
	img_put_str(b + IMG_REG_PTTYPE, 40, r->pttype);
	img_put_str(b + IMG_REG_LABEL, 64, r->label);
	img_put_str(b + IMG_REG_UUID, 40, r->uuid);
	img_put_str(b + IMG_REG_PARTUUID, 40, r->partuuid);
	img_put_str(b + IMG_REG_NAME, 72, r->name);
	img_put_str(b + IMG_REG_NOTE, 40, r->note);
}

int
img_scan_encode_meta(const struct img_scan *s, struct img_meta_buf *m)
{
	uint8_t layout[IMG_LAYOUT_SIZE] = { 0 }, reg[IMG_REGION_SIZE];
	int rc;

	img_put_str(layout + IMG_LAYOUT_SCHEME, 8, s->scheme);
	img_put_str(layout + IMG_LAYOUT_ID, 40, s->disk_id);
	img_put_le32(layout + IMG_LAYOUT_NPARTS, s->nparts);
	rc = img_meta_add(m, IMG_META_LAYOUT, 0, layout, sizeof(layout));
	for (unsigned i = 0; rc == 0 && i < s->nregions; i++) {
		encode_region(&s->regions[i], reg);
		rc = img_meta_add(m, IMG_META_REGION, 0, reg, sizeof(reg));
	}
	return rc;
}
