/*
 * image_fmt.h - the on-disk image format, version 1. The one place the
 * format lives in code; man/imgtool-image.5 is its normative description.
 *
 *   header (256 bytes) | metadata (meta_len bytes of records) |
 *   chunk records ... | index | footer (128 bytes)
 *
 * Written front to back with no seeks, so an image can go to a pipe; the
 * index and footer at the end give random access to a file. All integers
 * are little-endian; structs are only ever encoded/decoded field by field
 * through the helpers below, never cast onto raw buffers.
 */
#ifndef IMG_IMAGE_FMT_H
#define IMG_IMAGE_FMT_H

#include <stdint.h>
#include <string.h>

#include "byteorder.h"

#define IMG_FORMAT_VERSION	1

/* PNG-style magics: a high byte and CR LF SUB LF catch 7-bit and
 * text-mode transfers. */
#define IMG_MAGIC		"\x89IMG\r\n\x1a\n"
#define IMG_FOOTER_MAGIC	"\x89" "END\r\n\x1a\n"
#define IMG_CHUNK_MAGIC		"CHK1"
#define IMG_INDEX_MAGIC		"IDX1"

/* --- header: 256 bytes at offset 0 --- */
#define IMG_HEADER_SIZE		256
#define IMG_HDR_MAGIC		0	/* 8 bytes */
#define IMG_HDR_VERSION		8	/* u32 */
#define IMG_HDR_HEADER_SIZE	12	/* u32, = 256 */
#define IMG_HDR_COMPAT		16	/* u64: ignorable features */
#define IMG_HDR_INCOMPAT	24	/* u64: refuse if unknown bits */
#define IMG_HDR_RO_COMPAT	32	/* u64: may read, must not modify */
#define IMG_HDR_CREATED		40	/* u64: seconds since the epoch */
#define IMG_HDR_SOURCE_SIZE	48	/* u64: bytes of the logical disk */
#define IMG_HDR_SECTOR_SIZE	56	/* u32: source logical sector size */
#define IMG_HDR_CHUNK_SIZE	60	/* u32: power of two */
#define IMG_HDR_META_LEN	64	/* u32: bytes of metadata after header */
#define IMG_HDR_FLAGS		68	/* u32: IMG_IMAGE_* */
#define IMG_HDR_TOOL		72	/* 32 bytes: "imgtool 0.1.0", NUL padded */
#define IMG_HDR_UUID		104	/* 16 bytes: random image id */
#define IMG_HDR_BASE_ID		120	/* 32 bytes: base identity (incremental) */
/* 152..223 reserved, zero */
#define IMG_HDR_CHECKSUM	224	/* SHA-256 of bytes 0..223 + metadata */

/* header flags */
#define IMG_IMAGE_RAW		(1u << 0)	/* backup --raw: all bytes used */

/* incompat features (none implemented in v1 are set by this writer) */
#define IMG_INCOMPAT_INCREMENTAL (1ull << 0)	/* REF chunks name a base image */
#define IMG_INCOMPAT_ENCRYPTED	 (1ull << 1)	/* AES-256-GCM chunk payloads */
#define IMG_INCOMPAT_SUPPORTED	 0ull

#define IMG_META_MAX		(16u << 20)

/* --- metadata records, packed back to back in meta_len bytes --- */
#define IMG_META_REC_SIZE	8	/* u16 type, u16 flags, u32 len */
#define IMG_META_CRITICAL	(1u << 0)	/* a reader must understand it */
enum img_meta_type {
	IMG_META_SOURCE = 1,	/* UTF-8 source path, informational */
	IMG_META_LAYOUT = 2,	/* partition table summary (see below) */
	IMG_META_REGION = 3,	/* one scanned region (see below) */
};

/* IMG_META_LAYOUT payload: 64 bytes */
#define IMG_LAYOUT_SIZE		64
#define IMG_LAYOUT_SCHEME	0	/* 8 bytes: "dos", "gpt", "" = none */
#define IMG_LAYOUT_ID		8	/* 40 bytes: disk id / GUID */
#define IMG_LAYOUT_NPARTS	48	/* u32 */
/* 52..63 reserved */

/* IMG_META_REGION payload: 352 bytes, one per partition, table area or
 * unpartitioned filesystem, in disk order */
#define IMG_REGION_SIZE		352
#define IMG_REG_START		0	/* u64 byte offset */
#define IMG_REG_LEN		8	/* u64 bytes */
#define IMG_REG_USED		16	/* u64 bytes marked used */
#define IMG_REG_KIND		24	/* u32 enum img_region_kind */
#define IMG_REG_NUMBER		28	/* u32 partition number, 0 = none */
#define IMG_REG_FLAGS		32	/* u32 IMG_REGION_* */
#define IMG_REG_BLOCK_SIZE	36	/* u32 */
#define IMG_REG_FSTYPE		40	/* 16 bytes: blkid TYPE or "" */
#define IMG_REG_PTTYPE		56	/* 40 bytes: type code / GUID */
#define IMG_REG_LABEL		96	/* 64 bytes */
#define IMG_REG_UUID		160	/* 40 bytes: filesystem UUID */
#define IMG_REG_PARTUUID	200	/* 40 bytes */
#define IMG_REG_NAME		240	/* 72 bytes: GPT partition name */
#define IMG_REG_NOTE		312	/* 40 bytes: why copied in full */

enum img_region_kind {
	IMG_REGION_TABLE = 1,	/* partition table / boot area */
	IMG_REGION_PART = 2,	/* a partition */
	IMG_REGION_FS = 3,	/* an unpartitioned filesystem */
	IMG_REGION_WHOLE = 4,	/* the whole source */
	IMG_REGION_VOLUME = 5,	/* a volume in a container (LVM LV): name
				 * holds "vg/lv"; lies inside the region of
				 * its container (a partition or fs) */
};
#define IMG_REGION_FULL		(1u << 0)	/* copied in full */
#define IMG_REGION_DIRTY	(1u << 1)	/* fs not cleanly unmounted */
#define IMG_REGION_CONTAINER	(1u << 2)	/* MBR extended partition */

/* --- chunk record: 80-byte header, extents, payload --- */
#define IMG_CHUNK_HDR_SIZE	80
#define IMG_CHK_MAGIC		0	/* 4 bytes */
#define IMG_CHK_FLAGS		4	/* u32 IMG_CHUNK_* */
#define IMG_CHK_INDEX		8	/* u64: sequence number from 0 */
#define IMG_CHK_OFFSET		16	/* u64: logical offset, chunk aligned */
#define IMG_CHK_LENGTH		24	/* u32: logical bytes (last may be short) */
#define IMG_CHK_STORED		28	/* u32: payload bytes that follow */
#define IMG_CHK_NEXTENTS	32	/* u32: used extents (0 = whole chunk) */
/* 36..39 reserved, zero */
#define IMG_CHK_SHA256		40	/* content hash (zero for ZERO chunks) */
#define IMG_CHK_CHECK		72	/* 8 bytes: SHA-256(0..71 ‖ extents)[0..7] */
#define IMG_EXTENT_SIZE		8	/* u32 offset, u32 length, in chunk */

#define IMG_CHUNK_ZERO		(1u << 0)	/* content is all zeros */
#define IMG_CHUNK_LZ4		(1u << 1)	/* payload is one LZ4 block */
#define IMG_CHUNK_KNOWN		(IMG_CHUNK_ZERO | IMG_CHUNK_LZ4)

/* --- index: 16-byte header, then 64-byte entries in offset order --- */
#define IMG_INDEX_HDR_SIZE	16	/* magic, u32 reserved, u64 count */
#define IMG_INDEX_ENTRY_SIZE	64
#define IMG_IDX_OFFSET		0	/* u64 */
#define IMG_IDX_RECORD_POS	8	/* u64: file offset of the chunk record */
#define IMG_IDX_LENGTH		16	/* u32 */
#define IMG_IDX_STORED		20	/* u32 */
#define IMG_IDX_FLAGS		24	/* u32 */
#define IMG_IDX_USED		28	/* u32: used bytes in the chunk */
#define IMG_IDX_SHA256		32	/* 32 bytes */

/* --- footer: 128 bytes at the end of the file --- */
#define IMG_FOOTER_SIZE		128
#define IMG_FTR_MAGIC		0	/* 8 bytes */
#define IMG_FTR_INDEX_POS	8	/* u64 */
#define IMG_FTR_INDEX_LEN	16	/* u64: bytes incl. index header */
#define IMG_FTR_CHUNKS		24	/* u64 */
#define IMG_FTR_USED		32	/* u64: used bytes in all chunks */
#define IMG_FTR_STORED		40	/* u64: payload bytes in all chunks */
#define IMG_FTR_IDENTITY	48	/* SHA-256 of the index bytes */
/* 80..95 reserved */
#define IMG_FTR_CHECKSUM	96	/* SHA-256 of bytes 0..95 */

/* Copies a string into a fixed NUL-padded field (truncating). */
static inline void
img_put_str(uint8_t *p, size_t field, const char *s)
{
	size_t n = s ? strnlen(s, field - 1) : 0;

	memset(p, 0, field);
	if (n)
		memcpy(p, s, n);
}

/* Reads a fixed field into out (size field+1), always NUL-terminated;
 * bytes after the first NUL are ignored. */
static inline void
img_get_str(const uint8_t *p, size_t field, char *out)
{
	size_t n = strnlen((const char *)p, field);

	memcpy(out, p, n);
	out[n] = '\0';
}

#endif
