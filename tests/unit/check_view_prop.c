/*
 * check_view_prop.c - a property test of the image view: random images
 * written with the real writer (several records per window, records
 * trimmed to part of their window, ZERO records, used-extent lists, gaps,
 * a short last window) at 4 KiB, 64 KiB and 2 MiB chunk sizes, read at
 * random (offset, length) pairs from 1 byte to 1 MiB that are biased
 * towards record and window edges, each compared with the content a
 * restore onto zeros produces. Then one record is damaged and every read
 * must give -EBADMSG exactly when it touches that record's range, and the
 * right bytes otherwise.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctx.h"
#include "dev.h"
#include "image_read.h"
#include "image_write.h"
#include "testlib.h"

#define MAX_READ	(1u << 20)

struct rng {
	uint64_t s;
};

static uint64_t
next(struct rng *r)
{
	r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
	return r->s >> 11;
}

static uint64_t
below(struct rng *r, uint64_t n)
{
	return n ? next(r) % n : 0;
}

/* A random image and the logical content a restore onto zeros gives. */
struct rand_image {
	uint32_t chunk;
	uint64_t size;
	uint8_t *expect;
	uint64_t *edges;	/* record and window edges, for biased reads */
	size_t nedges, cap;
};

static void
add_edge(struct rand_image *ri, uint64_t e)
{
	if (ri->nedges == ri->cap) {
		ri->cap = ri->cap ? 2 * ri->cap : 256;
		ri->edges = realloc(ri->edges, ri->cap * sizeof(*ri->edges));
		ck_assert_ptr_nonnull(ri->edges);
	}
	ri->edges[ri->nedges++] = e;
}

static void
fill_text(uint8_t *p, size_t len, uint64_t seed)
{
	static const char words[] = "lorem ipsum dolor sit amet 0123456789 ";

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)words[(i + seed) % (sizeof(words) - 1)];
}

/* Chooses a few sector-aligned used extents inside [0, len): pairs in
 * ext, their count returned (0 = all of it). Unused bytes are zeroed. */
static uint32_t
random_extents(struct rng *r, uint8_t *data, uint32_t len, uint32_t *ext)
{
	uint32_t sectors = (len + 511) / 512, n = 0, pos = 0;

	if (sectors < 3 || below(r, 3))
		return 0;
	while (pos < sectors && n < 6) {
		uint32_t skip = (uint32_t)below(r, sectors - pos);
		uint32_t take;

		pos += skip + (n > 0);	/* extents must not touch */
		if (pos >= sectors)
			break;
		take = 1 + (uint32_t)below(r, sectors - pos);
		ext[2 * n] = pos * 512;
		ext[2 * n + 1] = (pos + take) * 512 > len ?
		    len - pos * 512 : take * 512;
		pos += take;
		n++;
	}
	if (n == 0)
		return 0;
	/* zero what no extent covers, as the backup does */
	for (uint32_t i = 0, from = 0; i <= n; i++) {
		uint32_t to = i < n ? ext[2 * i] : len;

		memset(data + from, 0, to - from);
		if (i < n)
			from = ext[2 * i] + ext[2 * i + 1];
	}
	return n;
}

static void
add_record(struct img_writer *w, struct img_chunk_buf *c,
    struct rand_image *ri, struct rng *r, uint64_t start, uint64_t end,
    struct img_ctx *ctx)
{
	uint32_t len = (uint32_t)(end - start);

	c->offset = start;
	c->length = len;
	switch (below(r, 4)) {
	case 0: test_fill_random(c->data, len, next(r)); break;
	case 1: fill_text(c->data, len, next(r)); break;
	case 2: memset(c->data, 0, len); break;		/* a ZERO record */
	default:				/* text and random */
		fill_text(c->data, len, next(r));
		test_fill_random(c->data + len / 2, len - len / 2, next(r));
	}
	c->nextents = random_extents(r, c->data, len, c->extents);
	img_chunk_encode(c);
	memcpy(ri->expect + start, c->data, len);
	add_edge(ri, start);
	add_edge(ri, end);
	ck_assert_img_ok(img_writer_add(w, c, ctx), ctx);
}

/* The records of one window [ws, we): none, the whole window, or up to
 * four pieces with gaps between them (sector-aligned cuts; the end of
 * the source may be unaligned). */
static void
fill_window(struct img_writer *w, struct img_chunk_buf *c,
    struct rand_image *ri, struct rng *r, uint64_t ws, uint64_t we,
    struct img_ctx *ctx)
{
	uint64_t cuts[8], sectors = (we - ws + 511) / 512;
	unsigned k, mode = (unsigned)below(r, 8);

	add_edge(ri, ws);
	if (mode == 0)
		return;
	if (mode < 3 || sectors < 8) {
		add_record(w, c, ri, r, ws, we, ctx);
		return;
	}
	k = 2 * (1 + (unsigned)below(r, 4));
	for (unsigned i = 0; i < k; i++)
		cuts[i] = below(r, sectors + 1);
	for (unsigned i = 1; i < k; i++)	/* insertion sort */
		for (unsigned j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
			uint64_t t = cuts[j];

			cuts[j] = cuts[j - 1];
			cuts[j - 1] = t;
		}
	for (unsigned i = 0; i < k; i += 2) {
		uint64_t a = ws + cuts[i] * 512, b = ws + cuts[i + 1] * 512;

		if (b > we)
			b = we;
		/* pieces may touch the previous one, never overlap it */
		if (a < b)
			add_record(w, c, ri, r, a, b, ctx);
	}
}

static void
write_random_image(const char *path, uint32_t chunk, unsigned windows,
    uint64_t seed, struct rand_image *ri)
{
	struct img_writer_params p = { .sector_size = 512,
	    .chunk_size = chunk };
	struct img_ctx *ctx = img_ctx_new();
	struct rng r = { seed };
	struct img_chunk_buf c;
	struct img_writer *w;
	struct img_dev *out;
	char id[65];

	memset(ri, 0, sizeof(*ri));
	ri->chunk = chunk;
	/* a short last window whose end is not a whole sector */
	ri->size = (uint64_t)windows * chunk - 1 - below(&r, chunk / 2);
	ri->expect = calloc(1, ri->size);
	ck_assert_ptr_nonnull(ri->expect);
	p.source_size = ri->size;
	unlink(path);
	ck_assert_img_ok(img_dev_open(path, IMG_DEV_WRITE | IMG_DEV_CREATE,
	    &out, ctx), ctx);
	ck_assert_img_ok(img_writer_open(out, &p, &w, ctx), ctx);
	ck_assert_int_eq(img_chunk_buf_init(&c, chunk), 0);
	for (uint64_t ws = 0; ws < ri->size; ws += chunk)
		fill_window(w, &c, ri, &r, ws,
		    ws + chunk > ri->size ? ri->size : ws + chunk, ctx);
	add_edge(ri, ri->size);
	ck_assert_img_ok(img_writer_finish(w, id, ctx), ctx);
	img_writer_free(w);
	img_chunk_buf_free(&c);
	img_dev_close(out);
	img_ctx_free(ctx);
}

static void
free_random_image(struct rand_image *ri)
{
	free(ri->expect);
	free(ri->edges);
}

/* A read range: half start near an edge, lengths log-uniform from 1 byte
 * to 1 MiB, some ending exactly on an edge. */
static void
pick_read(struct rng *r, const struct rand_image *ri, uint64_t *off,
    size_t *len)
{
	unsigned bits = (unsigned)below(r, 21);

	if (below(r, 2)) {
		uint64_t e = ri->edges[below(r, ri->nedges)];
		int64_t d = (int64_t)below(r, 1025) - 512;

		*off = (int64_t)e + d < 0 ? 0 : (uint64_t)((int64_t)e + d);
	} else {
		*off = below(r, ri->size + 16);
	}
	*len = 1 + (size_t)below(r, (1ull << bits));
	if (*len > MAX_READ)
		*len = MAX_READ;
	if (below(r, 8) == 0) {
		uint64_t e = ri->edges[below(r, ri->nedges)];

		if (e > *off && e - *off <= MAX_READ)
			*len = (size_t)(e - *off);
	}
}

/* Reads count random ranges; bad_lo..bad_hi is the damaged range (empty
 * when equal): reads touching it must fail with -EBADMSG. */
static void
random_reads(const char *path, const struct rand_image *ri, uint64_t seed,
    unsigned count, uint64_t bad_lo, uint64_t bad_hi)
{
	static uint8_t buf[MAX_READ];
	struct img_ctx *ctx = img_ctx_new();
	struct rng r = { seed };
	struct img_view *v;
	unsigned failed = 0;

	ck_assert_img_ok(img_view_open(path, &v, ctx), ctx);
	ck_assert_uint_eq(img_view_size(v), ri->size);
	for (unsigned i = 0; i < count; i++) {
		uint64_t off;
		size_t len, want;
		ssize_t n;

		pick_read(&r, ri, &off, &len);
		want = off >= ri->size ? 0 : off + len > ri->size ?
		    (size_t)(ri->size - off) : len;
		memset(buf, 0xa5, len);
		n = img_view_read(v, buf, len, off);
		if (want && off < bad_hi && off + want > bad_lo) {
			ck_assert_msg(n == -EBADMSG, "read %zu at %llu "
			    "touches the damaged range [%llu, %llu) but "
			    "returned %zd", len, (unsigned long long)off,
			    (unsigned long long)bad_lo,
			    (unsigned long long)bad_hi, n);
			failed++;
			continue;
		}
		ck_assert_msg(n == (ssize_t)want, "read %zu at %llu returned "
		    "%zd, want %zu: %s", len, (unsigned long long)off, n,
		    want, img_ctx_message(ctx));
		if (want && memcmp(buf, ri->expect + off, want) != 0) {
			size_t d = 0;

			while (buf[d] == ri->expect[off + d])
				d++;
			ck_abort_msg("chunk %u: read %zu at %llu differs "
			    "first at byte %llu", ri->chunk, len,
			    (unsigned long long)off,
			    (unsigned long long)(off + d));
		}
	}
	if (bad_lo < bad_hi)
		ck_assert_uint_gt(failed, 0);
	img_view_close(v);
	img_ctx_free(ctx);
}

/* The view reads the whole disk in the sizes the kernel uses. */
static void
sequential_reads(const char *path, const struct rand_image *ri, size_t bs)
{
	struct img_ctx *ctx = img_ctx_new();
	uint8_t *buf = malloc(bs);
	struct img_view *v;

	ck_assert_ptr_nonnull(buf);
	ck_assert_img_ok(img_view_open(path, &v, ctx), ctx);
	for (uint64_t off = 0; off < ri->size; off += bs) {
		size_t want = off + bs > ri->size ?
		    (size_t)(ri->size - off) : bs;

		ck_assert_int_eq(img_view_read(v, buf, bs, off),
		    (ssize_t)want);
		ck_assert_msg(memcmp(buf, ri->expect + off, want) == 0,
		    "bs %zu: block at %llu differs", bs,
		    (unsigned long long)off);
	}
	img_view_close(v);
	img_ctx_free(ctx);
	free(buf);
}

static const uint32_t chunk_sizes[] = { 4096, 65536, 2u << 20 };
static const unsigned window_counts[] = { 300, 40, 6 };

START_TEST(random_reads_match)
{
	const char *img = test_path("rand.img");
	struct rand_image ri;

	for (uint64_t seed = 1; seed <= 3; seed++) {
		write_random_image(img, chunk_sizes[_i], window_counts[_i],
		    seed * 7919 + _i, &ri);
		random_reads(img, &ri, seed, 1500, 0, 0);
		sequential_reads(img, &ri, 4096);
		sequential_reads(img, &ri, 65536);
		sequential_reads(img, &ri, 1u << 20);
		free_random_image(&ri);
	}
}
END_TEST

/* Flips one byte of record i: in the payload of a stored record, in the
 * header of a ZERO record (it has no payload). */
static void
damage_record(const char *path, uint64_t i, struct img_chunk *c)
{
	struct img_ctx *ctx = img_ctx_new();
	struct img_reader *rd;
	uint64_t pos;
	uint8_t b;
	FILE *f;

	ck_assert_img_ok(img_reader_open(path, &rd, ctx), ctx);
	img_reader_entry(rd, i, c);
	img_reader_close(rd);
	img_ctx_free(ctx);
	pos = c->record_pos + (c->stored ? IMG_CHUNK_HDR_SIZE +
	    (uint64_t)c->nextents * IMG_EXTENT_SIZE + c->stored / 2 :
	    IMG_CHK_OFFSET + 1);
	f = fopen(path, "r+b");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseek(f, (long)pos, SEEK_SET), 0);
	ck_assert_int_eq(fread(&b, 1, 1, f), 1);
	b ^= 0x10;
	ck_assert_int_eq(fseek(f, (long)pos, SEEK_SET), 0);
	ck_assert_int_eq(fwrite(&b, 1, 1, f), 1);
	fclose(f);
}

static uint64_t
record_count(const char *path)
{
	struct img_ctx *ctx = img_ctx_new();
	struct img_reader *rd;
	uint64_t n;

	ck_assert_img_ok(img_reader_open(path, &rd, ctx), ctx);
	n = img_reader_count(rd);
	img_reader_close(rd);
	img_ctx_free(ctx);
	return n;
}

START_TEST(damage_fails_exactly_its_range)
{
	const char *img = test_path("rand.img");
	struct rand_image ri;
	struct img_chunk c;

	for (uint64_t seed = 1; seed <= 4; seed++) {
		struct rng r = { seed };
		uint64_t n, i;

		write_random_image(img, chunk_sizes[_i], window_counts[_i],
		    seed * 104729 + _i, &ri);
		n = record_count(img);
		ck_assert_uint_gt(n, 2);
		i = below(&r, n);
		damage_record(img, i, &c);
		random_reads(img, &ri, seed + 100, 800, c.offset,
		    c.offset + c.length);
		free_random_image(&ri);
	}
}
END_TEST

static Suite *
view_prop_suite(void)
{
	Suite *s = suite_create("view_prop");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, random_reads_match, 0, 3);
	tcase_add_loop_test(tc, damage_fails_exactly_its_range, 0, 3);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(srunner_create(view_prop_suite()), "view_prop",
	    "/tmp");
}
