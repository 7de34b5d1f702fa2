/*
 * mount_fuse.c - the FUSE server of `imgtool mount`: a read-only directory
 * with `disk` and one `partN` file per partition, read through the image
 * view (lib/view.c). The main thread runs the FUSE loop; a control thread
 * does the loop helper's setup (which needs the loop running, since the
 * kernel reads the partition file through it), reports, then waits for a
 * signal and tears the mount down in order.
 */
#include "config.h"

#define FUSE_USE_VERSION 35

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "mount_fuse.h"

struct server {
	struct mount_job *job;
	struct fuse *fuse;
	struct img_ctx *ctl_ctx;	/* the control thread's own context */
	struct img_mount_state st;
	const char *dir;		/* where FUSE is mounted */
	int status;			/* exit status */
	char err[1024];			/* a setup error of this file */
};

/* Keeps a setup error of this file; returns rc. */
static int __attribute__((format(printf, 3, 4)))
fail(struct server *srv, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(srv->err, sizeof(srv->err), fmt, ap);
	va_end(ap);
	return rc;
}

static struct server *
server_of(void)
{
	return fuse_get_context()->private_data;
}

/* 1 for the root directory, 0 and the byte range for a file, -ENOENT. */
static int
lookup(const struct img_view *v, const char *path, uint64_t *start,
    uint64_t *len)
{
	const struct img_view_part *p;
	char name[32];
	unsigned n;

	if (strcmp(path, "/") == 0)
		return 1;
	*start = 0;
	*len = img_view_size(v);
	if (strcmp(path, "/disk") == 0)
		return 0;
	if (sscanf(path, "/part%u", &n) != 1 || n == 0)
		return -ENOENT;
	snprintf(name, sizeof(name), "/part%u", n);	/* no "part01" */
	p = img_view_find_part(v, n);
	if (strcmp(name, path) != 0 || !p)
		return -ENOENT;
	*start = p->start;
	*len = p->len;
	return 0;
}

static int
op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct server *srv = server_of();
	uint64_t start, len;
	int rc = lookup(srv->job->view, path, &start, &len);

	(void)fi;
	if (rc < 0)
		return rc;
	memset(st, 0, sizeof(*st));
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_mtime = st->st_ctime = st->st_atime =
	    (time_t)img_view_created(srv->job->view);
	if (rc == 1) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		return 0;
	}
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_size = (off_t)len;
	st->st_blocks = (blkcnt_t)((len + 511) / 512);
	return 0;
}

static int
op_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
    struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	const struct img_view *v = server_of()->job->view;
	char name[32];

	(void)off;
	(void)fi;
	(void)flags;
	if (strcmp(path, "/") != 0)
		return -ENOTDIR;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, "disk", NULL, 0, 0);
	for (size_t i = 0; i < img_view_nparts(v); i++) {
		if (!img_view_part(v, i)->number)
			continue;
		snprintf(name, sizeof(name), "part%u",
		    img_view_part(v, i)->number);
		fill(buf, name, NULL, 0, 0);
	}
	return 0;
}

static int
op_open(const char *path, struct fuse_file_info *fi)
{
	uint64_t start, len;
	int rc = lookup(server_of()->job->view, path, &start, &len);

	if (rc < 0)
		return rc;
	if (rc == 1)
		return -EISDIR;
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	/* No page cache: the loop device and the filesystem on it have
	 * their own, and every byte must pass the chunk checks. */
	fi->direct_io = 1;
	return 0;
}

static int
op_read(const char *path, char *buf, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct img_view *v = server_of()->job->view;
	uint64_t start, len;
	ssize_t n;

	(void)fi;
	if (lookup(v, path, &start, &len) != 0)
		return -ENOENT;
	if (off < 0 || (uint64_t)off >= len)
		return 0;
	if (size > len - (uint64_t)off)
		size = (size_t)(len - (uint64_t)off);
	n = img_view_read(v, buf, size, start + (uint64_t)off);
	/* Damage or I/O error: EIO, never bytes that were not checked. */
	return n < 0 ? -EIO : (int)n;
}

static void *
op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	/* Nothing here ever changes. */
	cfg->entry_timeout = cfg->attr_timeout = cfg->negative_timeout = 3600;
	return fuse_get_context()->private_data;
}

static const struct fuse_operations ops = {
	.init = op_init,
	.getattr = op_getattr,
	.readdir = op_readdir,
	.open = op_open,
	.read = op_read,
};

/* Tells the waiting parent (daemon) or the terminal how setup went. */
static void __attribute__((format(printf, 3, 4)))
report(struct server *srv, int status, const char *fmt, ...)
{
	struct mount_job *job = srv->job;
	char msg[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg + 1, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	srv->status = status;
	if (job->report_fd < 0) {
		if (msg[1])
			fprintf(stderr, "imgtool mount: %s\n", msg + 1);
		return;
	}
	msg[0] = (char)status;
	if (write(job->report_fd, msg, 1 + strlen(msg + 1)) < 0)
		srv->status = EXIT_FAILED;
	close(job->report_fd);
	job->report_fd = -1;
	/* From now on nobody reads our stderr: warnings go to syslog. */
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (null >= 0) {
		dup2(null, STDERR_FILENO);
		close(null);
	}
}

/* The loop helper: loop device + filesystem mount (or the fallback). */
static int
setup_loop(struct server *srv)
{
	struct mount_job *job = srv->job;
	const struct img_view_part *p = job->part;
	int rc;

	snprintf(srv->st.backing, sizeof(srv->st.backing), "%.4000s/%.31s",
	    srv->st.fuse_dir, job->part_file);
	rc = img_mount_attach(&srv->st, p->fstype,
	    img_view_sector_size(job->view), srv->ctl_ctx);
	if (rc < 0) {
		char msg[1024];

		/* undo it all before the parent hears about it */
		snprintf(msg, sizeof(msg), "%s", img_ctx_message(srv->ctl_ctx));
		img_umount(job->mountpoint, srv->ctl_ctx);
		report(srv, exit_code_for(rc), "%s", msg);
		return rc;
	}
	if (rc == 1)
		report(srv, EXIT_OK, "warning: cannot mount %s of '%s': %s; "
		    "its raw bytes are in '%s/%s' instead", job->part_file,
		    job->image, img_ctx_message(srv->ctl_ctx), job->mountpoint,
		    job->part_file);
	else
		report(srv, EXIT_OK, "%s", "");
	return 0;
}

/* Unmounts everything; 0 once the FUSE loop is bound to end. */
static int
shut_down(struct server *srv)
{
	struct mount_job *job = srv->job;
	int rc;

	if (job->part)
		rc = img_umount(job->mountpoint, srv->ctl_ctx);
	else
		rc = img_fuse_unmount(job->mountpoint, srv->ctl_ctx);
	if (rc < 0 && job->log)
		job->log(IMG_LOG_WARN, img_ctx_message(srv->ctl_ctx),
		    job->log_arg);
	else if (rc < 0)
		fprintf(stderr, "imgtool mount: still mounted: %s\n",
		    img_ctx_message(srv->ctl_ctx));
	return rc;
}

static void *
control(void *arg)
{
	struct server *srv = arg;
	sigset_t set;
	int sig;

	if (srv->job->part) {
		if (setup_loop(srv) < 0)
			return NULL;
	} else {
		report(srv, EXIT_OK, "%s", "");
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		/* SIGUSR1: the FUSE loop ended; someone else unmounted. */
		if (sig == SIGUSR1 || shut_down(srv) == 0)
			return NULL;
	}
}

/* "ro,fsname=IMAGE,subtype=imgtool" with the image's commas escaped. */
static void
mount_options(const char *image, char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "ro,subtype=imgtool,fsname=");

	for (; *image && n + 3 < len; image++) {
		if (*image == ',' || *image == '\\')
			buf[n++] = '\\';
		buf[n++] = *image;
	}
	buf[n] = '\0';
}

static int
start_fuse(struct server *srv)
{
	struct mount_job *job = srv->job;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	char opts[PATH_MAX + 64];

	mount_options(job->image, opts, sizeof(opts));
	if (fuse_opt_add_arg(&args, "imgtool") < 0 ||
	    fuse_opt_add_arg(&args, "-o") < 0 ||
	    fuse_opt_add_arg(&args, opts) < 0)
		return fail(srv, -ENOMEM, "out of memory");
	srv->fuse = fuse_new(&args, &ops, sizeof(ops), srv);
	fuse_opt_free_args(&args);
	if (!srv->fuse)
		return fail(srv, -EINVAL, "cannot set up FUSE for '%s'",
		    job->image);
	if (fuse_mount(srv->fuse, srv->dir) < 0) {
		fuse_destroy(srv->fuse);
		srv->fuse = NULL;
		return fail(srv, -EIO,
		    "cannot mount FUSE at '%s' (is /dev/fuse usable?)",
		    srv->dir);
	}
	return 0;
}

static int
run(struct server *srv)
{
	pthread_t ctl;
	sigset_t set;

	/* Every thread blocks the stop signals; the control thread
	 * sigwaits for them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&ctl, NULL, control, srv) != 0) {
		fuse_unmount(srv->fuse);
		return fail(srv, -ENOMEM, "cannot start the control thread");
	}
	fuse_loop(srv->fuse);
	pthread_kill(ctl, SIGUSR1);
	pthread_join(ctl, NULL);
	fuse_unmount(srv->fuse);
	return 0;
}

int
mount_serve(struct mount_job *job)
{
	struct server srv = { .job = job, .status = EXIT_FAILED };
	int rc = 0, prepared = 0;

	srv.ctl_ctx = cli_ctx_new("mount", job->quiet);
	if (!srv.ctl_ctx)
		return EXIT_FAILED;
	if (job->log)
		img_ctx_set_log(srv.ctl_ctx, job->log, job->log_arg);
	srv.dir = job->mountpoint;
	if (job->part) {
		rc = img_mount_prepare(&srv.st, job->mountpoint, srv.ctl_ctx);
		prepared = rc == 0;
		srv.dir = srv.st.fuse_dir;
	}
	if (rc == 0)
		rc = start_fuse(&srv);
	if (rc == 0)
		rc = run(&srv);
	if (rc < 0) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", srv.err[0] ? srv.err :
		    img_ctx_message(srv.ctl_ctx));
		if (prepared)
			img_umount(job->mountpoint, srv.ctl_ctx);
		report(&srv, exit_code_for(rc), "%s", msg);
	}
	if (srv.fuse)
		fuse_destroy(srv.fuse);
	img_ctx_free(srv.ctl_ctx);
	return srv.status;
}
