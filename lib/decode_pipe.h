/*
 * decode_pipe.h - read an image's chunks in order on the calling thread
 * while workers decompress and hash-check them: the engine of restore and
 * verify.
 */
#ifndef IMG_DECODE_PIPE_H
#define IMG_DECODE_PIPE_H

#include <stdint.h>

struct img_ctx;
struct img_reader;
struct img_raw_chunk;
struct img_decode_pipe;

int img_decode_pipe_open(struct img_reader *r, unsigned threads,
    struct img_decode_pipe **out, struct img_ctx *ctx);
void img_decode_pipe_close(struct img_decode_pipe *dp);
/* Before the first next: a seal per record of a seekable image (count
 * entries, by sequence number). record: each record the pipe accepts
 * gets its seal stored; trust: records are checked against the stored
 * seal instead of hashed (a second pass over an image the first pass
 * checked and sealed). */
enum img_seal_mode { IMG_SEAL_RECORD = 1, IMG_SEAL_TRUST = 2 };
void img_decode_pipe_seals(struct img_decode_pipe *dp, uint32_t *seals,
    enum img_seal_mode mode);
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
