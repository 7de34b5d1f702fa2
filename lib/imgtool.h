/*
 * imgtool.h - the public interface of the imgtool engine.
 *
 * cmd/ and the tests use only this header. Every function that can fail
 * returns 0 (or a count) on success and a negative errno on failure, and
 * leaves a one-line human message in the img_ctx. The errno values mean:
 *
 *   -EBADMSG  the image is damaged (bad magic, checksum mismatch, bad bounds)
 *   -ENOTSUP  the image needs a format version or feature this build lacks
 *   -ENOSPC   the target is too small
 *   -EBUSY    the target is mounted or in use
 *   -EEXIST   the output exists and --force was not given
 *   -EXDEV    the target is the source (same device or file)
 *   -ECANCELED the operation was interrupted or declined by the user
 *   -EINVAL   bad argument (usage or programming error)
 *   -EIO      device or file I/O failed
 *   -ENOMEM   out of memory
 *
 * Nothing here prints or exits: messages go to the context and progress to
 * a callback.
 */
#ifndef IMGTOOL_H
#define IMGTOOL_H

#include <stdint.h>
#include <stddef.h>
#include <signal.h>
#include <sys/types.h>

#define IMG_VERSION_STRING PACKAGE_VERSION

struct img_ctx;

/* ctx.c */
enum img_log_level { IMG_LOG_INFO, IMG_LOG_WARN, IMG_LOG_DEBUG };

struct img_progress {
	const char *phase;	/* "backup", "verify", "restore", "scan" */
	uint64_t done;		/* bytes of the logical disk processed */
	uint64_t total;		/* bytes to process (0 if unknown) */
	int finished;		/* 1 on the last call of a phase */
};

typedef void (*img_progress_fn)(const struct img_progress *p, void *arg);
typedef void (*img_log_fn)(enum img_log_level level, const char *msg,
    void *arg);

/* Returns NULL when out of memory. */
struct img_ctx *img_ctx_new(void);
void img_ctx_free(struct img_ctx *ctx);
/* The last error message, "" when none. Valid until the next call. */
const char *img_ctx_message(const struct img_ctx *ctx);
void img_ctx_set_progress(struct img_ctx *ctx, img_progress_fn fn, void *arg);
/* Warnings and notes the engine wants the user to see (default: dropped). */
void img_ctx_set_log(struct img_ctx *ctx, img_log_fn fn, void *arg);
/* A flag the engine polls; when it becomes nonzero the operation stops
 * with -ECANCELED and cleans up (cmd/ sets it from a signal handler). */
void img_ctx_set_cancel(struct img_ctx *ctx, volatile sig_atomic_t *flag);
/* Debug tracing, off by default (cmd/ takes spec from $IMGTOOL_DEBUG):
 * a comma-separated list of areas, "scan", "image", "restore", "lock",
 * "view" or "all". The traced areas send IMG_LOG_DEBUG lines, each
 * starting with the area's name, to the log callback. Returns 0, or
 * -EINVAL for an unknown area (the others are still set). */
int img_ctx_set_debug(struct img_ctx *ctx, const char *spec);

/* backup.c */
#define IMG_CHUNK_DEFAULT	(2u << 20)
#define IMG_CHUNK_MIN		(4u << 10)
#define IMG_CHUNK_MAX		(16u << 20)

struct img_backup_opts {
	const char *source;	/* block device or regular file */
	const char *image;	/* output path, or "-" for standard output */
	unsigned chunk_size;	/* 0 = IMG_CHUNK_DEFAULT; power of two */
	int force;		/* overwrite an existing image */
	int raw;		/* copy every byte, do not read filesystems */
	int force_mounted;	/* allow a source mounted read-write */
	int direct;		/* read the source with O_DIRECT (no cache) */
	unsigned threads;	/* 0 = number of online CPUs */
};

struct img_backup_result {
	uint64_t source_size;
	uint64_t used_bytes;	/* bytes the scanner marked used */
	uint64_t stored_bytes;	/* chunk payload bytes written */
	uint64_t image_bytes;	/* total size of the image file */
	uint64_t chunks;
	char identity[65];	/* hex SHA-256 of the index */
};

int img_backup(const struct img_backup_opts *opts,
    struct img_backup_result *res, struct img_ctx *ctx);

/* restore.c */
struct img_restore_plan {
	const char *target;
	uint64_t target_size;	/* current size (0 for a new file) */
	uint64_t source_size;	/* bytes the image covers */
	uint64_t used_bytes;	/* bytes that will be written (0 if unknown) */
	int target_is_blockdev;
	int target_is_new;	/* the file does not exist yet */
	const char *model;	/* sysfs model/serial, or NULL */
	const char *text;	/* what will be done, several lines */
};

/* Called once after every check passed and before the first write.
 * Return 0 to go ahead, nonzero to stop with -ECANCELED. */
typedef int (*img_confirm_fn)(const struct img_restore_plan *plan, void *arg);

struct img_restore_opts {
	const char *image;	/* path, or "-" for standard input */
	const char *target;	/* block device or regular file */
	unsigned partition;	/* restore only this partition (0 = all) */
	int zero_unused;	/* write zeros where the image stores nothing */
	int discard_unused;	/* discard (punch holes) there instead */
	int no_preverify;	/* skip the full check before writing (files) */
	int dry_run;		/* check everything, describe, write nothing */
	int grow;		/* extend the last partition (and its fs) */
	img_confirm_fn confirm;	/* NULL = no confirmation */
	void *confirm_arg;
	unsigned threads;
};

struct img_restore_result {
	uint64_t written_bytes;
	uint64_t chunks;
	/* On a damaged stream: the target holds image data below this logical
	 * offset and nothing was written at or above it. */
	uint64_t written_below;
	/* What was (or, with dry_run, would be) done; several lines. Set
	 * only on success; free with free(). */
	char *plan;
};

int img_restore(const struct img_restore_opts *opts,
    struct img_restore_result *res, struct img_ctx *ctx);

/* clone.c */
struct img_clone_opts {
	const char *source;	/* block device or regular file */
	const char *target;	/* block device or file (created if missing) */
	int raw;		/* copy every byte, do not read filesystems */
	int force_mounted;	/* allow a source mounted read-write */
	int direct;		/* read the source with O_DIRECT (no cache) */
	int no_verify;		/* skip reading the target back */
	int dry_run;		/* check everything, describe, write nothing */
	img_confirm_fn confirm;	/* NULL = no confirmation */
	void *confirm_arg;
	unsigned threads;
};

struct img_clone_result {
	uint64_t source_size;
	uint64_t used_bytes;	/* bytes copied */
	uint64_t verified_bytes; /* bytes read back and compared */
	char *plan;		/* what was (would be) done; on success only;
				 * free() it */
};

/* Copies the used blocks of source to target with no image in between,
 * with the same target checks and table handling as restore, then reads
 * every copied chunk back from target and compares its SHA-256. A
 * difference is -EIO. */
int img_clone(const struct img_clone_opts *opts, struct img_clone_result *res,
    struct img_ctx *ctx);

/* verify.c */
struct img_verify_result {
	uint64_t chunks;
	uint64_t bad_chunks;
	uint64_t different_chunks;	/* --against: differ from the device */
	uint64_t used_bytes;
	uint64_t stored_bytes;
	char identity[65];
};

/* Called for each damaged chunk (logical offset and a reason), so the
 * caller can name them all; verification continues after each. */
typedef void (*img_bad_chunk_fn)(uint64_t offset, const char *why, void *arg);

struct img_verify_opts {
	const char *image;	/* path, or "-" for standard input */
	const char *against;	/* compare used bytes with this device, or NULL */
	img_bad_chunk_fn bad_chunk;
	void *bad_chunk_arg;
	unsigned threads;
};

/* Returns 0 if the image is sound (and, with against, the device holds
 * the same used bytes), -EBADMSG if anything is damaged, -EIO if the
 * device differs. */
int img_verify(const struct img_verify_opts *opts,
    struct img_verify_result *res, struct img_ctx *ctx);

/* info.c */
struct img_info;

/* Reads the header, metadata, index and footer (not the chunk data). */
int img_info_open(const char *image, struct img_info **out,
    struct img_ctx *ctx);
void img_info_free(struct img_info *info);
/* Writes a human description (json=0) or a JSON object (json=1) into a
 * newly allocated string the caller frees. */
int img_info_format(const struct img_info *info, int json, char **out,
    struct img_ctx *ctx);

/* view.c: random read access to the logical disk an image holds.
 * Reads decompress and SHA-256-check only the chunks they touch, keep a
 * few decoded chunks in an LRU cache, and return zeros wherever the image
 * stores nothing. A view is safe to use from several threads (reads are
 * serialized). */
struct img_view;

/* A partition (or a filesystem without a partition table) recorded in the
 * image's metadata at backup time. */
struct img_view_part {
	uint32_t number;	/* partition number; 0 = bare filesystem */
	uint64_t start;		/* byte offset on the logical disk */
	uint64_t len;		/* bytes */
	char fstype[17];	/* blkid TYPE, "" when none was recognised */
	char label[65];
	int container;		/* an MBR extended partition */
};

/* Opens an image file (not a stream) and checks its header, metadata,
 * footer and index; chunks are checked when they are read. ctx receives
 * the warnings and the errors of later reads and must outlive the view.
 * -EBADMSG if the image is damaged, -EINVAL for a stream. */
int img_view_open(const char *image, struct img_view **out,
    struct img_ctx *ctx);
void img_view_close(struct img_view *v);
uint64_t img_view_size(const struct img_view *v);	/* logical disk bytes */
unsigned img_view_sector_size(const struct img_view *v);
uint64_t img_view_created(const struct img_view *v);	/* seconds, epoch */
/* Partitions in disk order; img_view_part returns NULL past the end. */
size_t img_view_nparts(const struct img_view *v);
const struct img_view_part *img_view_part(const struct img_view *v,
    size_t i);
/* The partition with that number (0 = the bare filesystem), or NULL. */
const struct img_view_part *img_view_find_part(const struct img_view *v,
    uint32_t number);
/* Reads len bytes of the logical disk at off (fewer only at its end; 0 at
 * or past it). All or nothing: -EBADMSG if any chunk touched is damaged
 * (the first time also a warning naming its offset), -EIO if the image
 * cannot be read. Damaged data is never returned. */
ssize_t img_view_read(struct img_view *v, void *buf, size_t len,
    uint64_t off);
/* The first offset >= off that a chunk with content may cover (every byte
 * in [off, result) reads as zeros); img_view_size() when none. */
uint64_t img_view_next_stored(struct img_view *v, uint64_t off);

/* export.c */
struct img_export_opts {
	const char *image;
	const char *output;	/* a regular file, created sparse */
	uint32_t partition;	/* 0 = the whole disk */
	int force;		/* replace an existing output file */
};

struct img_export_result {
	uint64_t size;		/* bytes of the raw file */
	uint64_t data_bytes;	/* bytes written (the rest are holes) */
};

/* Writes the whole disk or one partition as a plain raw file with holes
 * where the image stores nothing (or zeros). On failure the output is
 * removed. -EEXIST if it exists without force, -EINVAL for an unknown
 * partition, -EBADMSG on a damaged chunk. */
int img_export(const struct img_export_opts *opts,
    struct img_export_result *res, struct img_ctx *ctx);

/* mount_helper.c: the kernel side of `imgtool mount --partition`: loop
 * devices, read-only mounts, and a state file per mount point under
 * IMG_MOUNT_RUN_DIR, so `imgtool umount` can undo it all even after the
 * serving process died. Needs root. */
#define IMG_MOUNT_RUN_DIR	"/run/imgtool"

struct img_mount_state {
	char mountpoint[4096];	/* absolute path the user sees */
	char fuse_dir[4096];	/* the private FUSE directory */
	char backing[4096];	/* the partition file in fuse_dir */
	char loop[64];		/* "/dev/loopN" or "" */
	char mounted[32];	/* fs type at mountpoint, "bind" or "" */
	long pid;		/* the FUSE server */
	unsigned long long pid_start;	/* its start time, against reuse */
};

/* Checks that dir is an existing, empty directory and writes its absolute
 * path to abs (size len). -ENOTDIR/-ENOENT, or -EBUSY if not empty. */
int img_mount_check_point(const char *dir, char *abs, size_t len,
    struct img_ctx *ctx);
/* Creates the private FUSE directory for mountpoint (absolute) and fills
 * st->mountpoint, st->fuse_dir, st->pid; the state file is written. */
int img_mount_prepare(struct img_mount_state *st, const char *mountpoint,
    struct img_ctx *ctx);
/* Attaches st->backing (a file inside the served FUSE directory) to a
 * read-only loop device and mounts fstype from it read-only at
 * st->mountpoint (noload for ext3/ext4). When the kernel cannot mount it,
 * bind-mounts the FUSE directory there instead and returns 1 with the
 * reason in the ctx message. Returns 0 when mounted; <0 with everything
 * it did undone. The state file follows every step. */
int img_mount_attach(struct img_mount_state *st, const char *fstype,
    unsigned sector_size, struct img_ctx *ctx);
/* Unmounts an imgtool mount at mountpoint: for the loop helper the
 * filesystem, then the loop device, then the FUSE directory (also when the
 * server is gone), and waits for the server to exit unless it is the
 * caller; for a plain FUSE mount just that. -EINVAL if mountpoint is not
 * an imgtool mount, -EBUSY if it is in use. */
int img_umount(const char *mountpoint, struct img_ctx *ctx);
/* Unmounts a FUSE directory (umount2 as root, else fusermount3 -u). */
int img_fuse_unmount(const char *dir, struct img_ctx *ctx);

#endif /* IMGTOOL_H */
