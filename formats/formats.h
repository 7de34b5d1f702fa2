/*
 * formats.h - the plugin tables: one fs_ops per filesystem and one pt_ops
 * per partition table, each defined in its own formats/ file and listed in
 * registry.c.
 *
 * Detection belongs to libblkid: the scanner asks blkid for TYPE/PTTYPE and
 * looks the name up here. A module's probe validates and fills fs_info; its
 * used_extents marks every byte range the filesystem needs. A module sees
 * only lib/ core services (ctx, dev, extents), never the engine.
 */
#ifndef IMG_FORMATS_H
#define IMG_FORMATS_H

#include <stddef.h>
#include <stdint.h>

#include "dev.h"

struct img_ctx;
struct img_dev;
struct img_extents;

/* fs_info.flags */
enum {
	FS_INFO_DIRTY	= 1 << 0,	/* not cleanly unmounted / needs fsck */
	/* The on-disk allocation map is not authoritative (a journal that
	 * needs replaying holds newer bitmaps): copy the whole filesystem. */
	FS_INFO_STALE_MAP = 1 << 1,
};

/* What the scanner knows about one filesystem. The scanner fills type,
 * off, len, label and uuid (from blkid) before calling probe. */
struct fs_info {
	const char *type;	/* blkid TYPE, e.g. "ext4" */
	uint64_t off;		/* byte offset of the filesystem on the device */
	uint64_t len;		/* bytes available (partition or device size) */
	uint32_t block_size;	/* allocation unit in bytes (probe fills) */
	uint64_t block_count;	/* allocation units in the filesystem */
	char label[64];
	char uuid[40];
	unsigned flags;		/* FS_INFO_* */
	void *priv;		/* module state between probe and release */
	/* Set by the scanner; used_extents may add ranges (inside the used
	 * ones) that the filesystem needs only as zeros, such as an ext4
	 * inode table past its last used inode: they are restored as zeros
	 * and never read, so the cost follows the data, not the size. */
	struct img_extents *zeros;
};

#define FS_SUBVOL_MAX_PIECES 64

/* A volume inside a container (an LVM logical volume on a PV), which the
 * scanner probes and scans like a partition: one byte range of the device,
 * or several pieces read one after the other as one volume. */
struct fs_subvol {
	uint64_t off;		/* absolute byte offset on the device */
	uint64_t len;		/* bytes */
	char name[72];		/* for humans and `imgtool info`: "vg/lv" */
	/* 0: the volume is [off, off+len). Otherwise its pieces in volume
	 * order (absolute offsets; off is the first's, len their sum). */
	unsigned npieces;
	struct img_dev_piece pieces[FS_SUBVOL_MAX_PIECES];
};

struct fs_ops {
	const char *name;		/* blkid TYPE */
	const char *const *aliases;	/* more TYPEs handled, NULL-terminated */

	/* 0 = ours (fills block_size, block_count, flags), 1 = not ours or
	 * not a layout this module understands, <0 = error (message in ctx) */
	int (*probe)(struct img_dev *dev, struct fs_info *fs,
	    struct img_ctx *ctx);
	/* One line for humans: "ext4, 4096-byte blocks, 1200 of 65536 used".
	 * Writes at most len bytes including the NUL. */
	void (*describe)(const struct fs_info *fs, char *buf, size_t len);
	/* Adds every byte range the filesystem needs (absolute device
	 * offsets within [fs->off, fs->off + fs->len)), including its boot
	 * sector(s) and every metadata copy. <0 (message in ctx) when the
	 * metadata is inconsistent: the scanner then copies it in full. */
	int (*used_extents)(struct img_dev *dev, const struct fs_info *fs,
	    struct img_extents *used, struct img_ctx *ctx);
	/* Containers only (NULL otherwise): called after used_extents
	 * succeeded. Fills *vols (malloc'ed, the caller frees it; NULL when
	 * *n is 0) with the volumes whose content the scanner should probe
	 * and scan like partitions; each lies within [fs->off, fs->off +
	 * fs->len) and outside what used_extents added. Bytes of the
	 * container that are in neither are free. 0 or <0 (message in ctx;
	 * the scanner then copies the container in full). */
	int (*sub_volumes)(struct img_dev *dev, const struct fs_info *fs,
	    struct fs_subvol **vols, unsigned *n, struct img_ctx *ctx);
	void (*release)(struct fs_info *fs);	/* may be NULL */
};

/* pt_part.flags */
enum {
	PT_PART_CONTAINER = 1 << 0,	/* MBR extended partition */
	PT_PART_LOGICAL	  = 1 << 1,	/* inside an extended partition */
};

struct pt_part {
	unsigned number;	/* as the kernel numbers it (sda5 = 5) */
	uint64_t start;		/* bytes from the start of the disk */
	uint64_t size;		/* bytes */
	char type[40];		/* "0x83" or a GPT type GUID */
	char name[72];		/* GPT partition name, "" for MBR */
	char uuid[40];		/* PARTUUID */
	unsigned flags;		/* PT_PART_* */
};

#define PT_MAX_PARTS 256

/* A partition table as read from a disk. The scanner fills scheme, id and
 * parts from libblkid; the module's table_extents adds the areas the table
 * itself occupies (MBR, EBRs, GPT headers and entry arrays), which are
 * always stored in full. */
struct pt_layout {
	char scheme[8];		/* blkid PTTYPE: "dos", "gpt" */
	char id[40];		/* disk identifier or GUID */
	uint64_t disk_size;
	unsigned sector_size;
	unsigned nparts;
	struct pt_part parts[PT_MAX_PARTS];
};

struct pt_ops {
	const char *name;	/* blkid PTTYPE */
	/* Adds the table's own areas to *meta. <0 on a damaged table. */
	int (*table_extents)(struct img_dev *dev, const struct pt_layout *pl,
	    struct img_extents *meta, struct img_ctx *ctx);
	/* After a whole-disk restore onto a target of another size: rewrites
	 * the table for the target's size (GPT: backup copy at the new end,
	 * last usable LBA, protective MBR, checksums). grow_part, if not 0,
	 * is a partition to extend to the end of the usable space; on return
	 * *grown holds its new size in bytes (0 if not grown). May be NULL
	 * when the table does not depend on the disk size. Writes to dev. */
	int (*relocate)(struct img_dev *dev, uint64_t new_size,
	    unsigned grow_part, uint64_t *grown, struct img_ctx *ctx);
};

extern const struct fs_ops fs_ext_ops;
extern const struct fs_ops fs_vfat_ops;
extern const struct fs_ops fs_swap_ops;
extern const struct fs_ops fs_btrfs_ops;
extern const struct fs_ops fs_ntfs_ops;
extern const struct fs_ops fs_exfat_ops;
extern const struct fs_ops fs_xfs_ops;
extern const struct fs_ops fs_lvm_ops;
extern const struct fs_ops fs_raw_ops;
extern const struct pt_ops pt_dos_ops, pt_gpt_ops;

/* registry.c */
/* Never NULL: a TYPE no module claims gets fs_raw_ops (full copy). */
const struct fs_ops *fs_ops_find(const char *blkid_type);
/* NULL for an unknown table type. */
const struct pt_ops *pt_ops_find(const char *blkid_pttype);
/* For iteration (tests, --help output): NULL past the end. */
const struct fs_ops *fs_ops_at(size_t i);
const struct pt_ops *pt_ops_at(size_t i);

#endif
