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

#define IMG_VERSION_STRING PACKAGE_VERSION

struct img_ctx;

/* ctx.c */
enum img_log_level { IMG_LOG_INFO, IMG_LOG_WARN };

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
	/* What was (or, with dry_run, would be) done; several lines. Free
	 * with free(). */
	char *plan;
};

int img_restore(const struct img_restore_opts *opts,
    struct img_restore_result *res, struct img_ctx *ctx);

/* verify.c */
struct img_verify_result {
	uint64_t chunks;
	uint64_t bad_chunks;
	uint64_t used_bytes;
	uint64_t stored_bytes;
	char identity[65];
};

/* Called for each damaged chunk (logical offset and a reason), so the
 * caller can name them all; verification continues after each. */
typedef void (*img_bad_chunk_fn)(uint64_t offset, const char *why, void *arg);

struct img_verify_opts {
	const char *image;	/* path, or "-" for standard input */
	img_bad_chunk_fn bad_chunk;
	void *bad_chunk_arg;
	unsigned threads;
};

/* Returns 0 if the image is sound, -EBADMSG if anything is damaged. */
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

#endif /* IMGTOOL_H */
