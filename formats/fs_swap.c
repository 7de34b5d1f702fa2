/*
 * fs_swap.c - Linux swap areas (blkid TYPE "swap").
 *
 * Only the header page is used: swap content is meaningless once the system
 * that wrote it is down. The header page holds the boot bits, version,
 * last_page, the bad-page list, UUID and label, and ends with the signature,
 * so storing that one page makes the restored area identical to what mkswap
 * wrote. The page size is the creating kernel's, so the signature is looked
 * for at the end of each possible page size.
 *
 * Not handled, on purpose: blkid TYPE "swsuspend". A hibernation image
 * lives in the swap pages and is data the resuming kernel needs, so this
 * module does not register for it (no alias) and the scanner copies such an
 * area in full. Its signatures ("S1SUSPEND", "ULSUSPEND", ...) replace
 * "SWAPSPACE2", so probe refuses them too.
 *
 * Layout: include/linux/swap.h, union swap_header (v1 = "SWAPSPACE2";
 * v0 = "SWAP-SPACE", where the page is a bitmap of usable pages).
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
#include "formats.h"

#define SWAP_MAX_PAGE	65536u
#define SWAP_MAGIC_LEN	10		/* last bytes of the first page */
#define SWAP_INFO	1024		/* info follows the 1 KiB bootbits */
#define SWAP_BADPAGES	1536		/* info.badpages[] */

/* Page sizes of the architectures Linux runs on, smallest first: a later
 * page of a small-page swap may hold anything, the first page's end not. */
static const uint32_t page_sizes[] = { 4096, 8192, 16384, 32768, 65536 };

/* The header is in the byte order of the machine that ran mkswap; version
 * 1 tells which one it is. */
static uint32_t
swap_u32(const uint8_t *p, int big_endian)
{
	if (big_endian)
		return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		    (uint32_t)p[2] << 8 | p[3];
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* Stores "'dev': swap header at offset N: <why>" and returns 1 (not ours). */
static int __attribute__((format(printf, 4, 5)))
not_swap(struct img_ctx *ctx, const struct img_dev *dev, uint64_t off,
    const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	img_error(ctx, -EINVAL, "'%s': swap header at offset %llu: %s",
	    dev->path, (unsigned long long)off, why);
	return 1;
}

/* Validates info (swap_header.info) of a v1 header in page of size ps;
 * fills *pages. 0 = good, 1 = not understood (message in ctx). */
static int
check_v1(const uint8_t *page, uint32_t ps, const struct fs_info *fs,
    const struct img_dev *dev, uint64_t *pages, struct img_ctx *ctx)
{
	int be = swap_u32(page + SWAP_INFO, 0) != 1;
	uint32_t last_page = swap_u32(page + SWAP_INFO + 4, be);
	uint32_t nr_bad = swap_u32(page + SWAP_INFO + 8, be);

	if (swap_u32(page + SWAP_INFO, be) != 1)
		return not_swap(ctx, dev, fs->off, "unknown version");
	if (last_page == 0 || ((uint64_t)last_page + 1) * ps > fs->len)
		return not_swap(ctx, dev, fs->off, "last page %u outside the "
		    "%llu bytes available", last_page,
		    (unsigned long long)fs->len);
	if (nr_bad > (ps - SWAP_MAGIC_LEN - SWAP_BADPAGES) / 4)
		return not_swap(ctx, dev, fs->off, "%u bad pages do not fit "
		    "the header page", nr_bad);
	*pages = (uint64_t)last_page + 1;
	return 0;
}

/* info.volume_name: 16 bytes, NUL-padded. The scanner's blkid label wins. */
static void
copy_label(struct fs_info *fs, const uint8_t *page)
{
	const uint8_t *name = page + SWAP_INFO + 12 + 16;
	size_t n = 0;

	if (fs->label[0])
		return;
	while (n < 16 && n + 1 < sizeof(fs->label) && name[n])
		n++;
	memcpy(fs->label, name, n);
	fs->label[n] = '\0';
}

/* Finds the page size whose last bytes hold a signature and fills fs. */
static int
find_header(const uint8_t *page, size_t have, struct fs_info *fs,
    const struct img_dev *dev, struct img_ctx *ctx)
{
	for (size_t i = 0; i < sizeof(page_sizes) / sizeof(page_sizes[0]) &&
	    page_sizes[i] <= have; i++) {
		uint32_t ps = page_sizes[i];
		const uint8_t *magic = page + ps - SWAP_MAGIC_LEN;
		uint64_t pages = fs->len / ps;
		int rc;

		if (memcmp(magic, "SWAPSPACE2", SWAP_MAGIC_LEN) == 0) {
			if ((rc = check_v1(page, ps, fs, dev, &pages, ctx)))
				return rc;
			copy_label(fs, page);
		} else if (memcmp(magic, "SWAP-SPACE", SWAP_MAGIC_LEN) != 0) {
			continue;
		}
		fs->block_size = ps;
		fs->block_count = pages;
		return 0;
	}
	return not_swap(ctx, dev, fs->off, "no signature at the end of a "
	    "4 to 64 KiB page");
}

static int
swap_probe(struct img_dev *dev, struct fs_info *fs, struct img_ctx *ctx)
{
	size_t have = fs->len < SWAP_MAX_PAGE ? (size_t)fs->len : SWAP_MAX_PAGE;
	uint8_t *page;
	int rc;

	if (have < page_sizes[0])
		return not_swap(ctx, dev, fs->off, "only %llu bytes available",
		    (unsigned long long)fs->len);
	if (!(page = malloc(have)))
		return img_error(ctx, -ENOMEM, "out of memory");
	rc = img_dev_pread(dev, page, have, fs->off, ctx);
	if (rc == 0)
		rc = find_header(page, have, fs, dev, ctx);
	free(page);
	return rc;
}

static void
swap_describe(const struct fs_info *fs, char *buf, size_t len)
{
	int n = snprintf(buf, len, "swap, %u-byte pages, %llu pages",
	    fs->block_size, (unsigned long long)fs->block_count);

	if (fs->label[0] && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, ", label '%s'",
		    fs->label);
	if (n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ", header only");
}

static int
swap_used_extents(struct img_dev *dev, const struct fs_info *fs,
    struct img_extents *used, struct img_ctx *ctx)
{
	(void)dev;
	if (img_extents_add(used, fs->off, fs->block_size) < 0)
		return img_error(ctx, -ENOMEM, "out of memory");
	return 0;
}

/* No "swsuspend" alias: see the top of the file. */
const struct fs_ops fs_swap_ops = {
	.name = "swap",
	.probe = swap_probe,
	.describe = swap_describe,
	.used_extents = swap_used_extents,
};
