/*
 * info.c - describe an image: header, sizes, chunk counts, identity, and the
 * partition layout recorded at backup time, as text or JSON.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctx.h"
#include "image_read.h"
#include "layout.h"

struct img_info {
	struct img_reader *rd;
	struct img_layout layout;
	uint64_t zero_chunks;
	uint64_t lz4_chunks;
	uint64_t raw_chunks;
	uint64_t image_bytes;
};

int
img_info_open(const char *image, struct img_info **out, struct img_ctx *ctx)
{
	struct img_info *info = calloc(1, sizeof(*info));
	struct img_chunk c;
	int rc;

	*out = NULL;
	if (!info)
		return img_error(ctx, -ENOMEM, "out of memory");
	rc = img_reader_open(image, &info->rd, ctx);
	if (rc == 0 && img_reader_is_stream(info->rd))
		rc = img_error(ctx, -EINVAL,
		    "info needs an image file, not a stream (use verify for a stream)");
	if (rc == 0)
		rc = img_layout_read(info->rd, &info->layout, ctx);
	if (rc < 0) {
		img_info_free(info);
		return rc;
	}
	for (uint64_t i = 0; i < img_reader_count(info->rd); i++) {
		img_reader_entry(info->rd, i, &c);
		if (c.flags & IMG_CHUNK_ZERO)
			info->zero_chunks++;
		else if (c.flags & IMG_CHUNK_LZ4)
			info->lz4_chunks++;
		else
			info->raw_chunks++;
	}
	info->image_bytes = img_reader_footer(info->rd)->index_pos +
	    img_reader_footer(info->rd)->index_len + IMG_FOOTER_SIZE;
	*out = info;
	return 0;
}

void
img_info_free(struct img_info *info)
{
	if (!info)
		return;
	img_layout_free(&info->layout);
	img_reader_close(info->rd);
	free(info);
}

/* A growing output string. */
struct out {
	char *buf;
	size_t len, cap;
	int failed;
};

static void __attribute__((format(printf, 2, 3)))
outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = o->cap - o->len;

		va_start(ap, fmt);
		n = vsnprintf(o->buf ? o->buf + o->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = 1;
			return;
		}
		if ((size_t)n < room) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = (o->cap + (size_t)n + 1) * 2;
		char *b = realloc(o->buf, cap);

		if (!b) {
			o->failed = 1;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
}

/* JSON string with escapes for quotes, backslashes and control bytes.
 * Bytes from 0x7f up are escaped as code points (read as Latin-1), so
 * hostile labels can never make the output invalid UTF-8. */
static void
out_json_str(struct out *o, const char *s)
{
	outf(o, "\"");
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			outf(o, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			outf(o, "\\u%04x", ch);
		else
			outf(o, "%c", ch);
	}
	outf(o, "\"");
}

/* Text-safe copy of a string from the image: control bytes become '?', so
 * a hostile label cannot drive the terminal. */
static const char *
printable(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

/* Stored payload bytes of the chunks inside [start, start+len). */
static uint64_t
stored_in(const struct img_reader *r, uint64_t start, uint64_t len)
{
	uint64_t sum = 0;
	struct img_chunk c;

	for (uint64_t i = img_reader_seek(r, start);
	    i < img_reader_count(r); i++) {
		img_reader_entry(r, i, &c);
		if (c.offset >= start + len)
			break;
		/* A chunk shared by two regions is counted in proportion. */
		uint64_t a = c.offset > start ? c.offset : start;
		uint64_t b = c.offset + c.length < start + len ?
		    c.offset + c.length : start + len;
		if (b > a)
			sum += (uint64_t)c.stored * (b - a) / c.length;
	}
	return sum;
}

static void
text_region(struct out *o, const struct img_reader *r,
    const struct img_region *v)
{
	char num[16] = "-";

	if (v->number)
		snprintf(num, sizeof(num), "%u", v->number);
	char fst[20];

	outf(o, "  %-4s %-10s %14llu %14llu %-10s %14llu %14llu",
	    num, img_region_kind_name(v->kind), (unsigned long long)v->start,
	    (unsigned long long)v->len,
	    v->fstype[0] ? printable(v->fstype, fst, sizeof(fst)) : "-",
	    (unsigned long long)v->used,
	    (unsigned long long)stored_in(r, v->start, v->len));
	char safe[80];

	if (v->label[0])
		outf(o, "  label '%s'", printable(v->label, safe, sizeof(safe)));
	if (v->uuid[0])
		outf(o, "  uuid %s", printable(v->uuid, safe, sizeof(safe)));
	if (v->pttype[0])
		outf(o, "  type %s", printable(v->pttype, safe, sizeof(safe)));
	if (v->name[0])
		outf(o, "  name '%s'", printable(v->name, safe, sizeof(safe)));
	if (v->flags & IMG_REGION_CONTAINER)
		outf(o, "  (extended: only its EBRs are stored)");
	else if (v->flags & IMG_REGION_FULL)
		outf(o, "  (copied in full: %s)",
		    printable(v->note, safe, sizeof(safe)));
	if (v->flags & IMG_REGION_DIRTY)
		outf(o, "  (not cleanly unmounted)");
	outf(o, "\n");
}

static void
format_text(struct out *o, const struct img_info *info)
{
	const struct img_reader *r = info->rd;
	const struct img_header *h = img_reader_header(r);
	const struct img_footer *f = img_reader_footer(r);
	char id[65], created[64], s1[16], s2[48];
	time_t t = (time_t)h->created;
	struct tm tm;
	size_t pos = 0;
	const uint8_t *p;
	uint16_t type;
	uint32_t len;

	img_hex(f->identity, IMG_SHA256_LEN, id);
	strftime(created, sizeof(created), "%Y-%m-%d %H:%M:%S UTC",
	    gmtime_r(&t, &tm));
	char tool[40];

	outf(o, "image:          %s\n", img_reader_path(r));
	outf(o, "format:         version %u, written by %s\n", h->version,
	    printable(h->tool, tool, sizeof(tool)));
	outf(o, "created:        %s\n", created);
	outf(o, "identity:       %s\n", id);
	while (img_meta_next(r, &pos, &type, &p, &len)) {
		char src[4096], safe[4096];

		if (type != IMG_META_SOURCE)
			continue;
		snprintf(src, sizeof(src), "%.*s", (int)len, (const char *)p);
		outf(o, "source:         %s\n", printable(src, safe, sizeof(safe)));
	}
	outf(o, "source size:    %llu bytes (sector size %u)\n",
	    (unsigned long long)h->source_size, h->sector_size);
	outf(o, "used:           %llu bytes%s\n", (unsigned long long)f->used,
	    h->flags & IMG_IMAGE_RAW ? " (raw: every byte)" : "");
	outf(o, "stored:         %llu bytes compressed\n",
	    (unsigned long long)f->stored);
	outf(o, "image size:     %llu bytes (%.1f%% of the source)\n",
	    (unsigned long long)info->image_bytes,
	    100.0 * (double)info->image_bytes / (double)h->source_size);
	outf(o, "ratio:          %.2f (used / stored)\n",
	    f->stored ? (double)f->used / (double)f->stored : 0.0);
	outf(o, "chunk size:     %u bytes\n", h->chunk_size);
	outf(o, "chunks:         %llu (%llu lz4, %llu raw, %llu zero)\n",
	    (unsigned long long)f->chunks, (unsigned long long)info->lz4_chunks,
	    (unsigned long long)info->raw_chunks,
	    (unsigned long long)info->zero_chunks);
	outf(o, "partition table: %s%s%s\n", info->layout.scheme[0] ?
	    printable(info->layout.scheme, s1, sizeof(s1)) : "none",
	    info->layout.disk_id[0] ? ", id " : "",
	    printable(info->layout.disk_id, s2, sizeof(s2)));
	outf(o, "  %-4s %-10s %14s %14s %-10s %14s %14s\n", "#", "kind",
	    "start", "size", "fs", "used", "stored");
	for (unsigned i = 0; i < info->layout.nregions; i++)
		text_region(o, r, &info->layout.regions[i]);
	if (!(h->flags & IMG_IMAGE_RAW))
		outf(o, "not stored:     unpartitioned space and free blocks (restore leaves them untouched)\n");
}

static void
json_region(struct out *o, const struct img_reader *r,
    const struct img_region *v, int first)
{
	outf(o, "%s\n    {\"kind\": \"%s\", \"number\": %u, \"start\": %llu, "
	    "\"size\": %llu, \"used\": %llu, \"stored\": %llu, "
	    "\"full_copy\": %s, \"container\": %s, \"dirty\": %s, "
	    "\"block_size\": %u, \"fs\": ",
	    first ? "" : ",", img_region_kind_name(v->kind), v->number,
	    (unsigned long long)v->start, (unsigned long long)v->len,
	    (unsigned long long)v->used,
	    (unsigned long long)stored_in(r, v->start, v->len),
	    v->flags & IMG_REGION_FULL ? "true" : "false",
	    v->flags & IMG_REGION_CONTAINER ? "true" : "false",
	    v->flags & IMG_REGION_DIRTY ? "true" : "false", v->block_size);
	out_json_str(o, v->fstype);
	outf(o, ", \"type\": ");
	out_json_str(o, v->pttype);
	outf(o, ", \"label\": ");
	out_json_str(o, v->label);
	outf(o, ", \"uuid\": ");
	out_json_str(o, v->uuid);
	outf(o, ", \"partuuid\": ");
	out_json_str(o, v->partuuid);
	outf(o, ", \"name\": ");
	out_json_str(o, v->name);
	outf(o, ", \"note\": ");
	out_json_str(o, v->note);
	outf(o, "}");
}

static void
format_json(struct out *o, const struct img_info *info)
{
	const struct img_reader *r = info->rd;
	const struct img_header *h = img_reader_header(r);
	const struct img_footer *f = img_reader_footer(r);
	char id[65];
	size_t pos = 0;
	const uint8_t *p;
	uint16_t type;
	uint32_t len;

	img_hex(f->identity, IMG_SHA256_LEN, id);
	outf(o, "{\n  \"image\": ");
	out_json_str(o, img_reader_path(r));
	outf(o, ",\n  \"version\": %u,\n  \"tool\": ", h->version);
	out_json_str(o, h->tool);
	outf(o, ",\n  \"created\": %llu,\n  \"identity\": \"%s\",\n"
	    "  \"source_size\": %llu,\n  \"sector_size\": %u,\n"
	    "  \"chunk_size\": %u,\n  \"used_bytes\": %llu,\n"
	    "  \"stored_bytes\": %llu,\n  \"image_bytes\": %llu,\n"
	    "  \"raw\": %s,\n  \"chunks\": %llu,\n  \"lz4_chunks\": %llu,\n"
	    "  \"raw_chunks\": %llu,\n  \"zero_chunks\": %llu",
	    (unsigned long long)h->created, id,
	    (unsigned long long)h->source_size, h->sector_size,
	    h->chunk_size, (unsigned long long)f->used,
	    (unsigned long long)f->stored,
	    (unsigned long long)info->image_bytes,
	    h->flags & IMG_IMAGE_RAW ? "true" : "false",
	    (unsigned long long)f->chunks, (unsigned long long)info->lz4_chunks,
	    (unsigned long long)info->raw_chunks,
	    (unsigned long long)info->zero_chunks);
	while (img_meta_next(r, &pos, &type, &p, &len)) {
		if (type == IMG_META_SOURCE) {
			char src[4096];

			snprintf(src, sizeof(src), "%.*s", (int)len, (const char *)p);
			outf(o, ",\n  \"source\": ");
			out_json_str(o, src);
		}
	}
	outf(o, ",\n  \"partition_table\": ");
	out_json_str(o, info->layout.scheme);
	outf(o, ",\n  \"disk_id\": ");
	out_json_str(o, info->layout.disk_id);
	outf(o, ",\n  \"regions\": [");
	for (unsigned i = 0; i < info->layout.nregions; i++)
		json_region(o, r, &info->layout.regions[i], i == 0);
	outf(o, "\n  ]\n}\n");
}

int
img_info_format(const struct img_info *info, int json, char **out,
    struct img_ctx *ctx)
{
	struct out o = { 0 };

	*out = NULL;
	if (json)
		format_json(&o, info);
	else
		format_text(&o, info);
	if (o.failed) {
		free(o.buf);
		return img_error(ctx, -ENOMEM, "out of memory");
	}
	*out = o.buf;
	return 0;
}
