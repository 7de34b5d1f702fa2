/*
 * fs_ntfs_log.h - is an NTFS $LogFile clean? (for fs_ntfs.c)
 *
 * A pure parser of the log's first blocks: the caller reads 512-byte
 * blocks where ntfs_log_feed asks and hands them over, so this part can be
 * tested and fuzzed without a device.
 */
#ifndef IMG_FS_NTFS_LOG_H
#define IMG_FS_NTFS_LOG_H

#include <stdint.h>

#define NTFS_LOG_BLOCK	512u

enum ntfs_log_state {
	NTFS_LOG_CLEAN, NTFS_LOG_EMPTY, NTFS_LOG_UNCLEAN, NTFS_LOG_UNKNOWN
};

/* "clean", "empty", "unclean", "unreadable" */
extern const char *const ntfs_log_names[];

struct ntfs_log_scan {
	uint64_t best_lsn;
	int empty, found, best_clean;
};

void ntfs_log_scan_init(struct ntfs_log_scan *s);
/* The block at byte pos of the log (pos 0 first): 1 and the next
 * position to read in *next, or 0 when the state is known. */
int ntfs_log_feed(struct ntfs_log_scan *s, const uint8_t *block,
    uint64_t pos, uint64_t *next);
enum ntfs_log_state ntfs_log_result(const struct ntfs_log_scan *s);

#endif
