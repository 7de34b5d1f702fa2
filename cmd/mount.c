/*
 * mount.c - `imgtool mount IMAGE MOUNTPOINT [--partition N | --fs] [-f]`.
 *
 * Checks the mount point and the image, picks the partition for the loop
 * helper, then serves (mount_fuse.c) in the foreground or in a daemon
 * whose setup result the parent waits for.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "cmd.h"
#include "mount_fuse.h"

static const char *const usage[] = {
	"usage: imgtool mount [options] IMAGE MOUNTPOINT",
	"       imgtool mount [options] --partition N IMAGE MOUNTPOINT",
	"       imgtool mount [options] --fs IMAGE MOUNTPOINT",
	"",
	"Serve IMAGE read-only at the empty directory MOUNTPOINT: a file",
	"'disk' (the whole disk) and 'part1', 'part2'... per partition. Reads",
	"check every chunk; a damaged chunk reads as an I/O error.",
	"With --partition or --fs (as root), mount the filesystem inside",
	"read-only at MOUNTPOINT instead, through a read-only loop device.",
	"`imgtool umount MOUNTPOINT` undoes either.",
	"",
	"  -p, --partition N   mount the filesystem of partition N",
	"      --fs            mount the image's only filesystem",
	"  -f, --foreground    stay in the foreground (log to stderr)",
	"  -q, --quiet         no notes",
	"  -h, --help          show this help",
	"",
	"exit status: 0 ok, 1 failed, 2 usage, 3 image damaged,",
	"4 mount point not empty or in use",
	NULL
};

enum { OPT_FS = 256 };

static const struct option longopts[] = {
	{ "partition", required_argument, NULL, 'p' },
	{ "fs", no_argument, NULL, OPT_FS },
	{ "foreground", no_argument, NULL, 'f' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

struct mount_args {
	const char *image, *mountpoint;
	long partition;		/* -1 none, 0 --fs, N */
	int foreground, quiet;
};

/* Returns -1 to go on, or the exit status (--help, usage errors). */
static int
parse_args(int argc, char **argv, struct mount_args *a)
{
	char *end;
	int c, rc;

	while ((c = getopt_long(argc, argv, "p:fqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			errno = 0;
			a->partition = strtol(optarg, &end, 10);
			if (errno || *end || a->partition < 1 ||
			    a->partition > UINT32_MAX)
				return usage_error("mount", usage,
				    "bad partition number '%s'", optarg);
			break;
		case OPT_FS: a->partition = 0; break;
		case 'f': a->foreground = 1; break;
		default:
			rc = common_option(c, "mount", usage, NULL, &a->quiet);
			if (rc != CLI_OPT_NEXT)
				return rc;
		}
	}
	if (argc - optind != 2)
		return usage_error("mount", usage,
		    "expected IMAGE and MOUNTPOINT, got %d argument(s)",
		    argc - optind);
	a->image = argv[optind];
	a->mountpoint = argv[optind + 1];
	return -1;
}

/* --fs: the bare filesystem, or the only partition with a filesystem. */
static const struct img_view_part *
only_fs(const struct img_view *v)
{
	const struct img_view_part *found = img_view_find_part(v, 0), *p;
	size_t n = 0;

	if (found)
		return found;
	for (size_t i = 0; (p = img_view_part(v, i)); i++)
		if (p->fstype[0] && strcmp(p->fstype, "swap") != 0) {
			found = p;
			n++;
		}
	return n == 1 ? found : NULL;
}

static int
pick_part(const struct mount_args *a, struct mount_job *job)
{
	const struct img_view_part *p;

	if (a->partition < 0)
		return 0;
	p = a->partition ? img_view_find_part(job->view,
	    (uint32_t)a->partition) : only_fs(job->view);
	if (!p && a->partition)
		fprintf(stderr, "imgtool mount: '%s' has no partition %ld "
		    "(imgtool info lists them)\n", a->image, a->partition);
	else if (!p)
		fprintf(stderr, "imgtool mount: '%s' does not hold exactly "
		    "one filesystem; choose one with --partition\n", a->image);
	if (!p)
		return EXIT_USAGE;
	job->part = p;
	if (p->number)
		snprintf(job->part_file, sizeof(job->part_file), "part%u",
		    p->number);
	else
		snprintf(job->part_file, sizeof(job->part_file), "disk");
	return 0;
}

static void
syslog_log(enum img_log_level level, const char *msg, void *arg)
{
	(void)arg;
	syslog(level == IMG_LOG_WARN ? LOG_WARNING : LOG_INFO, "%s", msg);
}

/* The parent waits for the daemon's report: a status byte, a message. */
static int
wait_report(int fd, pid_t pid)
{
	char msg[1200];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(msg) - 1 &&
	    ((n = read(fd, msg + len, sizeof(msg) - 1 - len)) > 0 ||
	    (n < 0 && errno == EINTR)))
		len += n > 0 ? (size_t)n : 0;
	close(fd);
	msg[len] = '\0';
	if (len == 0) {
		waitpid(pid, NULL, WNOHANG);
		fprintf(stderr, "imgtool mount: the mount process died before "
		    "the mount was ready\n");
		return EXIT_FAILED;
	}
	if (msg[1])
		fprintf(stderr, "imgtool mount: %s\n", msg + 1);
	return (unsigned char)msg[0];
}

/* Forks the server; returns in the parent with the exit status, or -1 in
 * the daemon (which goes on to serve). */
static int
daemonize(struct mount_job *job)
{
	int fds[2], null;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		fprintf(stderr, "imgtool mount: cannot start the daemon: %s\n",
		    strerror(errno));
		return EXIT_FAILED;
	}
	if (pid > 0) {
		close(fds[1]);
		return wait_report(fds[0], pid);
	}
	close(fds[0]);
	job->report_fd = fds[1];
	setsid();
	if (chdir("/") < 0)
		return -1;	/* not reached: / exists */
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		close(null);
	}
	openlog("imgtool", LOG_PID, LOG_DAEMON);
	job->log = syslog_log;
	img_ctx_set_log(job->ctx, syslog_log, NULL);
	return -1;
}

int
cmd_mount(int argc, char **argv)
{
	struct mount_args a = { .partition = -1 };
	struct mount_job job = { .report_fd = -1 };
	char image[PATH_MAX];
	int rc;

	rc = parse_args(argc, argv, &a);
	if (rc >= 0)
		return rc;
	if (a.partition >= 0 && geteuid() != 0) {
		fprintf(stderr, "imgtool mount: --partition and --fs need root "
		    "(a loop device and a kernel mount)\n");
		return EXIT_FAILED;
	}
	job.quiet = a.quiet;
	job.ctx = cli_ctx_new("mount", a.quiet);
	if (!job.ctx)
		return EXIT_FAILED;
	/* The mount table shows the image by its absolute path. */
	job.image = realpath(a.image, image) ? image : a.image;
	rc = img_mount_check_point(a.mountpoint, job.mountpoint,
	    sizeof(job.mountpoint), job.ctx);
	if (rc == 0)
		rc = img_view_open(a.image, &job.view, job.ctx);
	if (rc < 0)
		rc = report_error("mount", rc, job.ctx);
	else
		rc = pick_part(&a, &job);
	if (rc == 0 && !a.foreground) {
		/* the parent gets the daemon's exit status, the daemon -1 */
		rc = daemonize(&job);
		if (rc == -1)
			rc = mount_serve(&job);
	} else if (rc == 0) {
		rc = mount_serve(&job);
	}
	img_view_close(job.view);
	img_ctx_free(job.ctx);
	return rc;
}
