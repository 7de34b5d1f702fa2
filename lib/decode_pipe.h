/*
 * decode_pipe.h - read an image's chunks in order on the calling thread
 * while workers decompress and hash-check them: the engine of restore and
 * verify.
 */
#ifndef IMG_DECODE_PIPE_H
#define IMG_DECODE_PIPE_H

struct img_ctx;
struct img_reader;
struct img_raw_chunk;
struct img_decode_pipe;

int img_decode_pipe_open(struct img_reader *r, unsigned threads,
    struct img_decode_pipe **out, struct img_ctx *ctx);
void img_decode_pipe_close(struct img_decode_pipe *dp);
/* The next chunk in image order:
 *    1   *out is sound, its content in (*out)->data;
 *    0   the end (a stream's index and footer were checked);
 *   <0   an error, message in ctx. With -EBADMSG and (*out)->c.length > 0
 *        one chunk is damaged, named by (*out)->c.offset, and reading may
 *        go on; otherwise nothing more can be read.
 * *out stays valid until the next call. */
int img_decode_pipe_next(struct img_decode_pipe *dp,
    struct img_raw_chunk **out, struct img_ctx *ctx);

#endif
