/*
 * fs_xfs_log.c - does an XFS log need recovery? A helper of fs_xfs.c.
 *
 * A filesystem whose log needs replaying may have newer free-space trees
 * in the log than on disk. This follows the kernel's log recovery
 * (fs/xfs/xfs_log_recover.c) far enough to tell, using the formats of
 * fs/xfs/libxfs/xfs_log_format.h (big-endian):
 *  - the head: every 512-byte block of the circular log starts with the
 *    cycle number of the pass that wrote it (record headers hold it in
 *    h_cycle), so blocks [0, h) carry cycle c and [h, n) cycle c - 1; a
 *    binary search finds h (xlog_find_head);
 *  - around the head, every block within LOG_WINDOW must carry exactly the
 *    cycle that pattern gives it: a torn or in-flight write leaves another
 *    one there, and the kernel would move the head; here it means "needs
 *    recovery" (stricter than the kernel, never laxer);
 *  - the last record: if the record before the head does not reach it, it
 *    was torn and the head moves back to it (xlog_find_verify_log_record);
 *    the record then ending exactly at the head must be one operation
 *    flagged XLOG_UNMOUNT_TRANS (xlog_check_unmount_rec).
 * The kernel verifies record CRCs only for a log that is not clean, so
 * they are not read here. A log whose first block has cycle 0 (zeroed) is
 * not understood. xfsprogs' log clear (mkfs.xfs, xfs_repair -L) pads its
 * unmount record with cycle-0 blocks; those are accepted where it puts
 * them, before the head.
 *
 * It does not replay anything, read an external log device, or write.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "ctx.h"
#include "dev.h"
#include "byteorder.h"
#include "fs_xfs_log.h"

#define XLOG_MAGIC	0xFEEDBABEu	/* xlog_rec_header.h_magicno */
#define BB		512u		/* log basic block */
/* Blocks checked on each side of the head: XLOG_MAX_ICLOGS (8) in-flight
 * records of up to 256 KiB (XLOG_MAX_RECORD_BSIZE) and their headers fit
 * twice. */
#define LOG_WINDOW	8192u
#define LOG_CHUNK	128u		/* blocks read at once */


struct logscan {
	struct img_dev *dev;
	uint64_t base;		/* absolute byte offset of log block 0 */
	uint64_t n;		/* log length in 512-byte blocks */
	int logv2;
	uint8_t *buf;		/* LOG_CHUNK blocks */
	struct img_ctx *ctx;
};

static int
log_read(struct logscan *l, uint64_t bb, uint64_t count)
{
	if (img_dev_pread(l->dev, l->buf, count * BB, l->base + bb * BB,
	    l->ctx) < 0)
		return img_error_prefix(l->ctx, "reading the xfs log");
	return 0;
}

/* Every log block starts with its cycle number, except record headers,
 * which start with the magic and hold it in h_cycle (xlog_pack_data). */
static uint32_t
bb_cycle(const uint8_t *p)
{
	return img_be32(p) == XLOG_MAGIC ? img_be32(p + 4) : img_be32(p);
}

static int
log_cycle(struct logscan *l, uint64_t bb, uint32_t *cycle)
{
	int rc = log_read(l, bb, 1);

	*cycle = bb_cycle(l->buf);
	return rc;
}

/* xlog_find_head: blocks [0, h) carry cycle first, [h, n) cycle first - 1
 * (h == n: all first); h is the first block of the older cycle. 1 when
 * the end cycles fit no such pattern. */
static int
log_find_head(struct logscan *l, uint32_t *first, uint64_t *head)
{
	uint64_t lo = 0, hi = l->n - 1;
	uint32_t last, mid;
	int rc;

	if ((rc = log_cycle(l, 0, first)) < 0 ||
	    (rc = log_cycle(l, hi, &last)) < 0)
		return rc;
	*head = l->n;
	if (*first == 0)
		return 1;			/* a zeroed log */
	if (*first == last)
		return 0;
	if (last != *first - 1)
		return 1;
	while (hi - lo > 1) {	/* cycle(lo) != last, cycle(hi) == last */
		uint64_t m = lo + (hi - lo) / 2;

		if ((rc = log_cycle(l, m, &mid)) < 0)
			return rc;
		*(mid == last ? &hi : &lo) = m;
	}
	*head = hi;
	return 0;
}

/* Every block within LOG_WINDOW of the head, circularly, must carry the
 * cycle the pattern gives it: a torn or in-flight write leaves another one
 * there. Before the head a run of cycle-0 blocks may end the pass: the
 * padding of the unmount record xfsprogs' log clear (mkfs, xfs_repair -L)
 * writes. Returns 1 if the blocks do not fit. */
static int
log_check_window(struct logscan *l, uint32_t c, uint64_t h)
{
	uint64_t span = l->n, start = 0;
	int zeros = 0, rc;

	if (l->n > 2 * LOG_WINDOW) {
		span = 2 * LOG_WINDOW;
		start = (h + l->n - LOG_WINDOW) % l->n;
	}
	for (uint64_t i = 0; i < span;) {
		uint64_t b = (start + i) % l->n, cnt = span - i;

		cnt = cnt < LOG_CHUNK ? cnt : LOG_CHUNK;
		cnt = cnt < l->n - b ? cnt : l->n - b;
		if ((rc = log_read(l, b, cnt)) < 0)
			return rc;
		for (uint64_t j = 0; j < cnt; j++) {
			uint32_t cyc = bb_cycle(l->buf + j * BB);

			if (b + j >= h) {
				if (cyc != c - 1)
					return 1;
			} else if (cyc == 0 && c != 1) {
				zeros = 1;
			} else if (cyc != c || zeros) {
				return 1;
			}
		}
		i += cnt;
	}
	return 0;
}

/* Nearest record header before block h, circularly, within the window. */
static int
log_last_header(struct logscan *l, uint64_t h, uint64_t *rb)
{
	uint64_t limit = l->n < LOG_WINDOW ? l->n : LOG_WINDOW;
	int rc;

	for (uint64_t done = 0; done < limit;) {
		uint64_t end = (h + l->n - done) % l->n, cnt = limit - done;

		end = end ? end : l->n;
		cnt = cnt < LOG_CHUNK ? cnt : LOG_CHUNK;
		cnt = cnt < end ? cnt : end;
		if ((rc = log_read(l, end - cnt, cnt)) < 0)
			return rc;
		for (uint64_t j = cnt; j-- > 0;)
			if (img_be32(l->buf + j * BB) == XLOG_MAGIC) {
				*rb = end - cnt + j;
				return 0;
			}
		done += cnt;
	}
	return 1;
}

/* Reads the record header at rb (xlog_rec_header); *end is the block after
 * the record, *ops its h_num_logops, *data its first data block. 1 for a
 * header no kernel writes. */
static int
log_record(struct logscan *l, uint64_t rb, uint64_t *end, uint32_t *ops,
    uint64_t *data)
{
	const uint8_t *p = l->buf;
	uint32_t version, len, size, hblks = 1;
	int rc;

	if ((rc = log_read(l, rb, 1)) < 0)
		return rc;
	version = img_be32(p + 8);				/* h_version */
	len = img_be32(p + 12);				/* h_len */
	size = img_be32(p + 320);				/* h_size */
	*ops = img_be32(p + 40);				/* h_num_logops */
	if (version == 0 || version > 2 || len > 256 * 1024)
		return 1;
	if (l->logv2 && (version & 2) && size > 32 * 1024) {
		if (size > 256 * 1024)
			return 1;
		hblks = (size + 32 * 1024 - 1) / (32 * 1024);
	}
	*data = (rb + hblks) % l->n;
	*end = (rb + hblks + (len + BB - 1) / BB) % l->n;
	return 0;
}

/* xlog_find_verify_log_record and xlog_check_unmount_rec: a record that
 * does not reach the head was torn, so the head moves back to it; the
 * record then ending exactly at the head must be a lone operation flagged
 * XLOG_UNMOUNT_TRANS. 0 = clean, 1 = dirty. */
static int
log_check_tail(struct logscan *l, uint64_t h)
{
	uint64_t rb, end, data;
	uint32_t ops;
	int rc;

	if ((rc = log_last_header(l, h, &rb)) != 0 ||
	    (rc = log_record(l, rb, &end, &ops, &data)) != 0)
		return rc;
	if (end != h % l->n) {
		h = rb;
		if ((rc = log_last_header(l, h, &rb)) != 0 ||
		    (rc = log_record(l, rb, &end, &ops, &data)) != 0)
			return rc;
		if (end != h % l->n)
			return 1;
	}
	if (ops != 1 || (rc = log_read(l, data, 1)) < 0)
		return ops != 1 ? 1 : rc;
	return (l->buf[9] & 0x20) ? 0 : 1;	/* xlog_op_header.oh_flags */
}

int
fs_xfs_log_state(struct img_dev *dev, const struct xfs_log_area *log,
    struct img_ctx *ctx)
{
	struct logscan l = {
		.dev = dev, .base = log->off, .n = log->blocks,
		.logv2 = log->logv2, .ctx = ctx,
	};
	uint64_t h;
	uint32_t c;
	int rc;

	if (!(l.buf = malloc(LOG_CHUNK * BB)))
		return img_error(ctx, -ENOMEM, "out of memory");
	if ((rc = log_find_head(&l, &c, &h)) == 0 &&
	    (rc = log_check_window(&l, c, h)) == 0)
		rc = log_check_tail(&l, h);
	free(l.buf);
	return rc;
}
