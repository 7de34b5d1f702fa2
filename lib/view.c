/*
 * view.c - random read access to the logical disk an image holds.
 *
 * The view answers "give me len bytes at off" for the whole disk: it finds
 * the chunks the range touches, decompresses and SHA-256-checks each one
 * (through img_reader_read), keeps the last few in a small LRU cache, and
 * fills every byte no chunk stores with zeros. A damaged chunk is never
 * returned as data: the read fails with -EBADMSG and the chunk is named
 * once in a warning. It also lists the partitions recorded at backup time.
 *
 * The reader is not thread-safe, so every read holds the view's mutex. The
 * view does not write anything and knows nothing about FUSE.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "image_read.h"
#include "imgtool.h"

/* Cache at most this many chunks and this many bytes of them. */
#define VIEW_CACHE_SLOTS	8
#define VIEW_CACHE_BYTES	(32u << 20)

struct cache_slot {
	uint64_t index;		/* chunk index in the image */
	uint64_t last_use;	/* 0 = empty */
	uint8_t *data;
};

struct img_view {
	struct img_reader *rd;
	struct img_ctx *ctx;
	pthread_mutex_t lock;
	uint64_t size;
	uint32_t chunk_size;
	uint64_t count;		/* chunks in the index */
	uint8_t *bad;		/* a bit per chunk: damaged, named */
	struct img_view_part *parts;
	size_t nparts;
	struct cache_slot slots[VIEW_CACHE_SLOTS];
	unsigned nslots;
	uint64_t clock;
};

static int
part_known(const struct img_view *v, uint32_t number)
{
	for (size_t i = 0; i < v->nparts; i++)
		if (v->parts[i].number == number)
			return 1;
	return 0;
}

/* Adds one REGION record if it is a partition or a bare filesystem that
 * lies inside the disk; anything else in it is not trusted. */
static int
add_region(struct img_view *v, const uint8_t *p, uint32_t len)
{
	struct img_view_part part = { 0 };
	uint32_t kind;

	if (len < IMG_REGION_SIZE)
		return 0;
	kind = img_le32(p + IMG_REG_KIND);
	if (kind != IMG_REGION_PART && kind != IMG_REGION_FS)
		return 0;
	part.number = kind == IMG_REGION_PART ?
	    img_le32(p + IMG_REG_NUMBER) : 0;
	part.start = img_le64(p + IMG_REG_START);
	part.len = img_le64(p + IMG_REG_LEN);
	part.container = !!(img_le32(p + IMG_REG_FLAGS) &
	    IMG_REGION_CONTAINER);
	img_get_str(p + IMG_REG_FSTYPE, 16, part.fstype);
	img_get_str(p + IMG_REG_LABEL, 64, part.label);
	if ((kind == IMG_REGION_PART && part.number == 0) ||
	    part.start > v->size || part.len > v->size - part.start ||
	    part_known(v, part.number)) {
		img_warn(v->ctx, "'%s': ignoring a malformed partition record "
		    "(number %u, start %llu, length %llu)",
		    img_reader_path(v->rd), part.number,
		    (unsigned long long)part.start,
		    (unsigned long long)part.len);
		return 0;
	}
	struct img_view_part *grown = realloc(v->parts,
	    (v->nparts + 1) * sizeof(*grown));

	if (!grown)
		return img_error(v->ctx, -ENOMEM, "out of memory");
	v->parts = grown;
	v->parts[v->nparts++] = part;
	return 0;
}

static int
load_parts(struct img_view *v)
{
	size_t pos = 0;
	const uint8_t *p;
	uint16_t type;
	uint32_t len;
	int rc;

	while (img_meta_next(v->rd, &pos, &type, &p, &len)) {
		if (type != IMG_META_REGION)
			continue;
		rc = add_region(v, p, len);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int
alloc_cache(struct img_view *v)
{
	v->nslots = VIEW_CACHE_BYTES / v->chunk_size;
	if (v->nslots > VIEW_CACHE_SLOTS)
		v->nslots = VIEW_CACHE_SLOTS;
	if (v->nslots < 2)
		v->nslots = 2;
	for (unsigned i = 0; i < v->nslots; i++) {
		v->slots[i].data = malloc(v->chunk_size);
		if (!v->slots[i].data)
			return img_error(v->ctx, -ENOMEM, "out of memory");
	}
	v->bad = calloc(v->count / 8 + 1, 1);
	if (!v->bad)
		return img_error(v->ctx, -ENOMEM, "out of memory");
	return 0;
}

int
img_view_open(const char *image, struct img_view **out, struct img_ctx *ctx)
{
	struct img_view *v = calloc(1, sizeof(*v));
	int rc;

	*out = NULL;
	if (!v)
		return img_error(ctx, -ENOMEM, "out of memory");
	v->ctx = ctx;
	pthread_mutex_init(&v->lock, NULL);
	rc = img_reader_open(image, &v->rd, ctx);
	if (rc == 0 && img_reader_is_stream(v->rd))
		rc = img_error(ctx, -EINVAL,
		    "'%s': needs an image file, not a stream", image);
	if (rc == 0) {
		v->size = img_reader_header(v->rd)->source_size;
		v->chunk_size = img_reader_header(v->rd)->chunk_size;
		v->count = img_reader_count(v->rd);
		rc = alloc_cache(v);
	}
	if (rc == 0)
		rc = load_parts(v);
	if (rc < 0) {
		img_view_close(v);
		return rc;
	}
	*out = v;
	return 0;
}

void
img_view_close(struct img_view *v)
{
	if (!v)
		return;
	for (unsigned i = 0; i < v->nslots; i++)
		free(v->slots[i].data);
	free(v->bad);
	free(v->parts);
	img_reader_close(v->rd);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

uint64_t
img_view_size(const struct img_view *v)
{
	return v->size;
}

unsigned
img_view_sector_size(const struct img_view *v)
{
	return img_reader_header(v->rd)->sector_size;
}

uint64_t
img_view_created(const struct img_view *v)
{
	return img_reader_header(v->rd)->created;
}

size_t
img_view_nparts(const struct img_view *v)
{
	return v->nparts;
}

const struct img_view_part *
img_view_part(const struct img_view *v, size_t i)
{
	return i < v->nparts ? &v->parts[i] : NULL;
}

const struct img_view_part *
img_view_find_part(const struct img_view *v, uint32_t number)
{
	for (size_t i = 0; i < v->nparts; i++)
		if (v->parts[i].number == number)
			return &v->parts[i];
	return NULL;
}

uint64_t
img_view_next_stored(struct img_view *v, uint64_t off)
{
	struct img_chunk c;
	uint64_t i;

	pthread_mutex_lock(&v->lock);
	for (i = img_reader_seek(v->rd, off); i < v->count; i++) {
		img_reader_entry(v->rd, i, &c);
		if (!(c.flags & IMG_CHUNK_ZERO))
			break;
	}
	pthread_mutex_unlock(&v->lock);
	if (i == v->count)
		return v->size;
	return c.offset > off ? c.offset : off;
}

/* Returns the decoded content of chunk i from the cache, reading it on a
 * miss; NULL with the error code in *rc on damage or I/O error. */
static const uint8_t *
chunk_data(struct img_view *v, uint64_t i, int *rc)
{
	struct cache_slot *victim = &v->slots[0];
	struct img_chunk c;

	for (unsigned s = 0; s < v->nslots; s++) {
		struct cache_slot *slot = &v->slots[s];

		if (slot->last_use && slot->index == i) {
			slot->last_use = ++v->clock;
			return slot->data;
		}
		if (slot->last_use < victim->last_use)
			victim = slot;
	}
	victim->last_use = 0;
	*rc = img_reader_read(v->rd, i, &c, victim->data, v->ctx);
	if (*rc < 0)
		return NULL;
	victim->index = i;
	victim->last_use = ++v->clock;
	return victim->data;
}

static int
chunk_failed(struct img_view *v, const struct img_chunk *c, uint64_t i,
    int rc)
{
	if (!(v->bad[i / 8] & (1u << (i % 8)))) {
		v->bad[i / 8] |= (uint8_t)(1u << (i % 8));
		img_warn(v->ctx, "damaged chunk at offset %llu (%u bytes): "
		    "reads of it fail: %s", (unsigned long long)c->offset,
		    c->length, img_ctx_message(v->ctx));
	}
	return img_error(v->ctx, rc == -EBADMSG ? -EBADMSG : -EIO,
	    "'%s': chunk at offset %llu is %s", img_reader_path(v->rd),
	    (unsigned long long)c->offset,
	    rc == -EBADMSG ? "damaged" : "unreadable");
}

/* Copies up to len bytes at off, stopping at the edge of the record (or of
 * the unstored gap) that holds off: a window may hold several records, and
 * each one decides for its own bytes. Every record, ZERO records included,
 * is read and checked before any of its bytes are returned. Returns the
 * byte count or a negative errno. */
static ssize_t
read_piece(struct img_view *v, uint8_t *buf, size_t len, uint64_t off)
{
	uint64_t i = img_reader_seek(v->rd, off);
	const uint8_t *data;
	struct img_chunk c;
	int rc = 0;

	if (i < v->count)
		img_reader_entry(v->rd, i, &c);
	if (i == v->count || c.offset > off) {
		/* not stored up to the next record: reads as zeros */
		if (i < v->count && len > c.offset - off)
			len = (size_t)(c.offset - off);
		memset(buf, 0, len);
		return (ssize_t)len;
	}
	/* seek: off lies in [c.offset, c.offset + c.length) */
	if (len > c.offset + c.length - off)
		len = (size_t)(c.offset + c.length - off);
	if (v->bad[i / 8] & (1u << (i % 8)))
		return chunk_failed(v, &c, i, -EBADMSG);
	data = chunk_data(v, i, &rc);
	if (!data)
		return chunk_failed(v, &c, i, rc);
	memcpy(buf, data + (off - c.offset), len);
	return (ssize_t)len;
}

ssize_t
img_view_read(struct img_view *v, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	ssize_t n = 0;

	if (off >= v->size)
		return 0;
	if (len > v->size - off)
		len = (size_t)(v->size - off);
	pthread_mutex_lock(&v->lock);
	img_debug(v->ctx, IMG_DBG_VIEW, "read %zu bytes at %llu", len,
	    (unsigned long long)off);
	while (done < len) {
		n = read_piece(v, (uint8_t *)buf + done, len - done,
		    off + done);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	pthread_mutex_unlock(&v->lock);
	/* All or nothing: a short read would look like the end of the
	 * file to some readers (the loop driver zero-fills the rest). */
	if (n < 0)
		return n;
	return (ssize_t)done;
}
