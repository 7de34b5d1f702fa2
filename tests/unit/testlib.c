/*
 * testlib.c - temporary files, shell helpers and deterministic data for the
 * unit tests.
 */
#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

static char tmpdir[256];

const char *
test_tmpdir(void)
{
	if (!tmpdir[0]) {
		const char *base = getenv("TMPDIR");

		snprintf(tmpdir, sizeof(tmpdir), "%s/imgtool-unit.XXXXXX",
		    base ? base : "/tmp");
		ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	}
	return tmpdir;
}

void
test_tmpdir_cleanup(void)
{
	char cmd[300];

	if (!tmpdir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	tmpdir[0] = '\0';
}

const char *
test_path(const char *name)
{
	static char bufs[8][512];
	static int next;
	char *p = bufs[next++ % 8];

	snprintf(p, 512, "%s/%s", test_tmpdir(), name);
	return p;
}

void
test_sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	ck_assert_msg(rc == 0, "command failed (%d): %s", rc, cmd);
}

long long
test_sh_num(const char *fmt, ...)
{
	char cmd[4096], line[256] = "";
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_msg(fgets(line, sizeof(line), p) != NULL,
	    "no output from: %s", cmd);
	ck_assert_int_eq(pclose(p), 0);
	return strtoll(line, NULL, 0);
}

void
test_fill_random(void *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	unsigned char *p = buf;

	for (size_t i = 0; i < len; i++) {
		if (i % 8 == 0) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
		}
		p[i] = (unsigned char)(x >> (8 * (i % 8)));
	}
}

void
test_write_file(const char *path, const void *buf, size_t len, uint64_t off)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

int
test_have(const char *cmd)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "command -v %s >/dev/null 2>&1", cmd);
	return system(buf) == 0;
}
