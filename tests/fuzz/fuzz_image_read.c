/*
 * fuzz_image_read.c - libFuzzer harness for the image reader: every input
 * is opened as an image file and as a stream, every chunk is read and
 * decoded, and the layout and info text are built. Nothing may crash, leak
 * or read out of bounds; bad input must end in a negative errno.
 * Built and run by tests/fuzz/run (not part of make check).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctx.h"
#include "dev.h"
#include "image_read.h"
#include "layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
read_all(struct img_reader *r, struct img_ctx *ctx)
{
	uint8_t *buf = malloc(img_reader_header(r)->chunk_size);
	struct img_layout l;
	struct img_chunk c;

	if (!buf)
		return;
	while (img_reader_next(r, &c, buf, ctx) != 0 &&
	    !img_reader_is_stream(r))
		;
	if (img_layout_read(r, &l, ctx) == 0) {
		img_layout_min_size(&l);
		img_layout_free(&l);
	}
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct img_ctx *ctx = img_ctx_new();
	struct img_reader *r;
	struct img_dev *dev;
	char path[64];
	int fd = memfd_create("image", 0);

	if (fd < 0 || !ctx || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (img_reader_open(path, &r, ctx) == 0) {	/* file mode */
		read_all(r, ctx);
		img_reader_close(r);
	}
	lseek(fd, 0, SEEK_SET);
	if (img_dev_from_fd(fd, "stream", &dev, ctx) == 0) {
		if (img_reader_open_dev(dev, &r, ctx) == 0) {
			struct img_chunk c;
			uint8_t *buf = malloc(img_reader_header(r)->chunk_size);
			int rc;

			while (buf && (rc = img_reader_next(r, &c, buf, ctx)) != 0)
				if (rc < 0 && c.length == 0)
					break;
			free(buf);
			img_reader_close(r);
		}
		img_dev_close(dev);
	}
	close(fd);
	img_ctx_free(ctx);
	return 0;
}
