/*
 * mount_util.c - the mount table, loop devices, processes and state files,
 * for mount_helper.c. Read-only toward the kernel except loop_attach and
 * loop_detach.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/loop.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "codec.h"
#include "ctx.h"
#include "mount_util.h"

/* Undoes the octal escapes (\040 for a space) of /proc/self/mountinfo. */
static void
unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
			    (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* Splits one mountinfo line: field 5 is the mount point; after the "-"
 * separator come the type and the source. */
static int
parse_mountinfo(char *line, char **point, char **fstype, char **source)
{
	char *save = NULL, *tok;
	int field = 0, after_dash = 0;

	*point = *fstype = *source = NULL;
	for (tok = strtok_r(line, " \n", &save); tok;
	    tok = strtok_r(NULL, " \n", &save), field++) {
		if (field == 4)
			*point = tok;
		else if (field > 5 && !after_dash && strcmp(tok, "-") == 0)
			after_dash = 1;
		else if (after_dash == 1) {
			*fstype = tok;
			after_dash = 2;
		} else if (after_dash == 2) {
			*source = tok;
			break;
		}
	}
	return *point && *fstype && *source ? 0 : -1;
}

int
find_mount(const char *path, struct mount_entry *me)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *point, *fstype, *source;
	size_t cap = 0;
	int found = 0;

	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		if (parse_mountinfo(line, &point, &fstype, &source) < 0)
			continue;
		unescape(point);
		if (strcmp(point, path) != 0)
			continue;
		unescape(source);
		snprintf(me->fstype, sizeof(me->fstype), "%s", fstype);
		snprintf(me->source, sizeof(me->source), "%s", source);
		found = 1;	/* keep going: the last one is on top */
	}
	free(line);
	fclose(f);
	return found;
}

int
is_mounted(const char *path)
{
	struct mount_entry me;

	return find_mount(path, &me);
}

int
dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int empty = 1;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

unsigned long long
pid_start_time(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) S ppid ...": the comm may hold anything, so count
	 * fields from the last ')'; starttime is field 22. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
		return 0;
	p += 2;
	for (int field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (p)
		start = strtoull(p, NULL, 10);
	return start;
}

int
abs_path(const char *path, char *out, size_t len)
{
	char real[PATH_MAX], cwd[PATH_MAX];
	size_t n;

	if (realpath(path, real))
		n = (size_t)snprintf(out, len, "%s", real);
	else if (path[0] == '/')
		n = (size_t)snprintf(out, len, "%s", path);
	else if (getcwd(cwd, sizeof(cwd)))
		n = (size_t)snprintf(out, len, "%s/%s", cwd, path);
	else
		return -1;
	if (n >= len)
		return -1;
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	return 0;
}

static int
configure_free_loop(int ctl, const struct loop_config *cfg, char *dev,
    size_t len, struct img_ctx *ctx)
{
	/* Another process may take the free device first: try again. */
	for (int tries = 0; tries < 16; tries++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		int fd;

		if (n < 0)
			return img_error_errno(ctx, -errno,
			    "no free loop device");
		snprintf(dev, len, "/dev/loop%d", n);
		fd = open(dev, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return img_error_errno(ctx, -errno, "cannot open '%s'",
			    dev);
		if (ioctl(fd, LOOP_CONFIGURE, cfg) == 0)
			return fd;
		int err = errno;

		close(fd);
		if (err != EBUSY)
			return img_error_errno(ctx, -err,
			    "cannot attach '%s' to '%s'",
			    cfg->info.lo_file_name, dev);
	}
	return img_error(ctx, -EBUSY, "no free loop device (all taken)");
}

int
loop_attach(const char *file, unsigned sector_size, char *dev, size_t len,
    int *fd, struct img_ctx *ctx)
{
	struct loop_config cfg;
	int ctl, rc;

	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = (unsigned)open(file, O_RDONLY | O_CLOEXEC);
	if ((int)cfg.fd < 0)
		return img_error_errno(ctx, -errno, "cannot open '%s'", file);
	if (sector_size >= 512 && sector_size <= 4096 &&
	    !(sector_size & (sector_size - 1)))
		cfg.block_size = sector_size;
	cfg.info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR;
	snprintf((char *)cfg.info.lo_file_name, LO_NAME_SIZE, "%s", file);
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		rc = img_error_errno(ctx, -errno,
		    "cannot open '/dev/loop-control'");
	else
		rc = configure_free_loop(ctl, &cfg, dev, len, ctx);
	if (ctl >= 0)
		close(ctl);
	close((int)cfg.fd);	/* the loop device holds its own reference */
	if (rc < 0)
		return rc;
	*fd = rc;
	return 0;
}

int
loop_detach(const char *dev, const char *backing)
{
	char path[128], buf[4200];
	const char *name = strrchr(dev, '/');
	FILE *f;
	size_t n;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file",
	    name ? name + 1 : dev);
	f = fopen(path, "re");
	if (!f)
		return 0;	/* not bound any more */
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, backing) != 0)
		return 0;	/* someone else's by now */
	fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENXIO ? 0 : -errno;
	if (ioctl(fd, LOOP_CLR_FD, 0) < 0 && errno != ENXIO)
		rc = -errno;
	close(fd);
	return rc;
}

int
loop_detach_under(const char *dir, char *dev, size_t len)
{
	DIR *d = opendir("/sys/block");
	struct dirent *de;
	char path[512], backing[4200];
	size_t n = strlen(dir);
	int rc = 0;

	if (!d)
		return 0;
	while (rc == 0 && (de = readdir(d))) {
		FILE *f;

		if (strncmp(de->d_name, "loop", 4) != 0)
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file",
		    de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		backing[fread(backing, 1, sizeof(backing) - 1, f)] = '\0';
		fclose(f);
		backing[strcspn(backing, "\n")] = '\0';
		if (strncmp(backing, dir, n) != 0 || backing[n] != '/')
			continue;
		snprintf(dev, len, "/dev/%s", de->d_name);
		rc = loop_detach(dev, backing);
	}
	closedir(d);
	return rc;
}

void
state_key(const char *mountpoint, char key[33])
{
	struct img_sha256 *h = img_sha256_new();
	uint8_t sum[IMG_SHA256_LEN] = { 0 };

	if (h) {
		img_sha256(h, mountpoint, strlen(mountpoint), sum);
		img_sha256_free(h);
	}
	img_hex(sum, 16, key);
}

void
state_path(const char *mountpoint, char *out, size_t len)
{
	char key[33];

	state_key(mountpoint, key);
	snprintf(out, len, "%s/%s.state", IMG_MOUNT_RUN_DIR, key);
}

int
state_save(const struct img_mount_state *st, struct img_ctx *ctx)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f;
	int bad;

	state_path(st->mountpoint, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return img_error_errno(ctx, -errno, "cannot write '%s'", tmp);
	fprintf(f, "mountpoint=%s\nfuse_dir=%s\nbacking=%s\nloop=%s\n"
	    "mounted=%s\npid=%ld\npid_start=%llu\n", st->mountpoint,
	    st->fuse_dir, st->backing, st->loop, st->mounted, st->pid,
	    st->pid_start);
	bad = ferror(f);
	if (fclose(f) != 0 || bad || rename(tmp, path) < 0) {
		unlink(tmp);
		return img_error(ctx, -EIO, "cannot write '%s'", path);
	}
	return 0;
}

static void
state_field(struct img_mount_state *st, const char *key, const char *val)
{
	static const struct { const char *key; size_t off, len; } f[] = {
#define F(name) { #name, offsetof(struct img_mount_state, name), \
	sizeof(((struct img_mount_state *)0)->name) }
		F(mountpoint), F(fuse_dir), F(backing), F(loop), F(mounted),
#undef F
	};

	if (strcmp(key, "pid") == 0)
		st->pid = strtol(val, NULL, 10);
	else if (strcmp(key, "pid_start") == 0)
		st->pid_start = strtoull(val, NULL, 10);
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (strcmp(key, f[i].key) == 0)
			snprintf((char *)st + f[i].off, f[i].len, "%s", val);
}

int
state_load(const char *mountpoint, struct img_mount_state *st)
{
	char path[PATH_MAX], *line = NULL;
	size_t cap = 0;
	FILE *f;

	state_path(mountpoint, path, sizeof(path));
	f = fopen(path, "re");
	if (!f)
		return -ENOENT;
	memset(st, 0, sizeof(*st));
	while (getline(&line, &cap, f) > 0) {
		char *eq = strchr(line, '=');

		line[strcspn(line, "\n")] = '\0';
		if (eq) {
			*eq = '\0';
			state_field(st, line, eq + 1);
		}
	}
	free(line);
	fclose(f);
	return strcmp(st->mountpoint, mountpoint) == 0 ? 0 : -ENOENT;
}
