/*
 * registry.c - the tables of filesystem and partition-table modules.
 *
 * Lookup is by blkid's TYPE/PTTYPE name, so users see the names blkid
 * prints. Adding a filesystem is one file in formats/ and one line here.
 */
#include "config.h"

#include <string.h>

#include "formats.h"

static const struct fs_ops *const fs_table[] = {
	&fs_ext_ops,
	&fs_vfat_ops,
	&fs_swap_ops,
	&fs_btrfs_ops,
	&fs_ntfs_ops,
	&fs_exfat_ops,
	&fs_xfs_ops,
	/* a container: its logical volumes are scanned as sub-volumes */
	&fs_lvm_ops,
	/* keep last: copies everything; used for any TYPE no module claims */
	&fs_raw_ops,
};

static const struct pt_ops *const pt_table[] = {
	&pt_dos_ops,
	&pt_gpt_ops,
};

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

static int
fs_ops_handles(const struct fs_ops *ops, const char *type)
{
	if (strcmp(ops->name, type) == 0)
		return 1;
	for (const char *const *a = ops->aliases; a && *a; a++)
		if (strcmp(*a, type) == 0)
			return 1;
	return 0;
}

const struct fs_ops *
fs_ops_find(const char *blkid_type)
{
	/* The raw module is the fallback, never a match by name. */
	for (size_t i = 0; blkid_type && i + 1 < N_ELEMENTS(fs_table); i++)
		if (fs_ops_handles(fs_table[i], blkid_type))
			return fs_table[i];
	return &fs_raw_ops;
}

const struct pt_ops *
pt_ops_find(const char *blkid_pttype)
{
	for (size_t i = 0; blkid_pttype && i < N_ELEMENTS(pt_table); i++)
		if (strcmp(pt_table[i]->name, blkid_pttype) == 0)
			return pt_table[i];
	return NULL;
}

const struct fs_ops *
fs_ops_at(size_t i)
{
	return i < N_ELEMENTS(fs_table) ? fs_table[i] : NULL;
}

const struct pt_ops *
pt_ops_at(size_t i)
{
	return i < N_ELEMENTS(pt_table) ? pt_table[i] : NULL;
}
