/*
 * fs_ntfs_log.c - the state of an NTFS $LogFile from its restart pages,
 * decided as ntfs-3g decides whether Linux may mount the volume
 * read-write: clean when no log client is in use or the restart area says
 * RESTART_VOLUME_IS_CLEAN, empty when the log was never written (all
 * 0xFF), unclean otherwise, unknown when no valid restart page is found.
 *
 * The two restart pages lie at 0 and at the system page size, which the
 * first page states; like ntfs-3g it tries each power of two. The newer
 * (higher current LSN) valid page decides.
 *
 * Reference: [layout] ntfs-3g's logfile.h (RESTART_PAGE_HEADER,
 * RESTART_AREA).
 */
#include "config.h"

#include <string.h>

#include "byteorder.h"
#include "fs_ntfs_log.h"

const char *const ntfs_log_names[] = { "clean", "empty", "unclean",
    "unreadable" };

static int
is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/* One $LogFile restart page's first block ([layout] RESTART_PAGE_HEADER,
 * RESTART_AREA); only fields before the first fixup are used, so no fixup
 * is needed. 0 with *lsn and *clean filled, or -1 if not a valid one. */
static int
restart_page(const uint8_t *p, uint64_t pos, uint64_t *lsn, int *clean)
{
	int chkd = memcmp(p, "CHKD", 4) == 0;	/* modified by chkdsk */
	uint32_t sys = img_le32(p + 0x10), logp = img_le32(p + 0x14);
	uint16_t ofs = img_le16(p + 4), cnt = img_le16(p + 6), ra = img_le16(p + 0x18);
	uint16_t major = img_le16(p + 0x1C), clients, in_use, free_list;
	unsigned usa_end = 0x1E;

	if (!chkd && memcmp(p, "RSTR", 4) != 0)
		return -1;
	if (!is_pow2(sys) || sys < 512 || sys > 65536 || !is_pow2(logp) ||
	    logp < 512 || logp > 65536 || (pos != 0 && pos != sys))
		return -1;
	if (major != 1 && major != 2)		/* 1.1 (XP), 2.0 (Windows 8) */
		return -1;
	if (!chkd && img_le64(p + 8) != 0)		/* chkdsk LSN */
		return -1;
	if (!(chkd && cnt == 0)) {
		if (cnt != sys / NTFS_LOG_BLOCK + 1 || ofs < 0x1E ||
		    ofs + 2u * cnt > NTFS_LOG_BLOCK - 2)
			return -1;
		usa_end = ofs + 2u * cnt;
	}
	/* the area up to file_size (0x18) lies before the first fixup */
	if ((ra & 7) || ra < usa_end || ra + 0x18u > NTFS_LOG_BLOCK - 2)
		return -1;
	clients = img_le16(p + ra + 0x08);
	free_list = img_le16(p + ra + 0x0A);
	in_use = img_le16(p + ra + 0x0C);
	if ((free_list != 0xFFFF && free_list >= clients) ||
	    (in_use != 0xFFFF && in_use >= clients))
		return -1;
	*lsn = chkd ? img_le64(p + 8) : img_le64(p + ra);	/* current LSN */
	/* no client in use, or RESTART_VOLUME_IS_CLEAN (0x0002) */
	*clean = in_use == 0xFFFF || (img_le16(p + ra + 0x0E) & 0x0002);
	return 0;
}

void
ntfs_log_scan_init(struct ntfs_log_scan *s)
{
	memset(s, 0, sizeof(*s));
	s->empty = 1;
}

int
ntfs_log_feed(struct ntfs_log_scan *s, const uint8_t *p, uint64_t pos,
    uint64_t *next)
{
	uint64_t lsn;
	int clean;

	*next = pos ? pos * 2 : NTFS_LOG_BLOCK;
	if (img_le32(p) == 0xFFFFFFFF)		/* never written */
		return s->empty;
	s->empty = 0;
	if (memcmp(p, "RCRD", 4) == 0)		/* log records follow */
		return 0;
	if (restart_page(p, pos, &lsn, &clean) < 0)
		return 1;
	if (!s->found++ || lsn > s->best_lsn) {
		s->best_lsn = lsn;
		s->best_clean = clean;
	}
	return pos == 0;	/* the second page ends the search */
}

enum ntfs_log_state
ntfs_log_result(const struct ntfs_log_scan *s)
{
	if (s->empty)
		return NTFS_LOG_EMPTY;
	if (!s->found)
		return NTFS_LOG_UNKNOWN;
	return s->best_clean ? NTFS_LOG_CLEAN : NTFS_LOG_UNCLEAN;
}
