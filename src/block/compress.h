/*
 * compress.h - block compression for the block pipeline.
 *
 * Compression runs before encryption on write and after decryption on
 * read, so everything below is plaintext inside the pool.
 *
 * Stored form of a compressed block (what cf_compress writes and
 * cf_decompress reads), byte by byte:
 *
 *     0       4                       4+P
 *     +-------+-----------------------+- - - - - - - - - - -+
 *     |   P   | payload (P bytes)     | padding (ignored)   |
 *     +-------+-----------------------+- - - - - - - - - - -+
 *
 *   P        payload length, 32-bit little-endian
 *   payload  CF_COMP_LZ4: one LZ4 block (the LZ4 block format, no frame);
 *            CF_COMP_ZSTD: one standard zstd frame (with magic number
 *            and content size, without content checksum)
 *
 * The length prefix makes the data self-delimiting, so the reader may
 * hand over the whole physical block, padded to its sector boundary,
 * without the block pointer having to record the exact compressed size.
 * The block pointer's checksum covers the psize bytes (prefix and
 * payload), not the zero padding after them.
 */
#ifndef COFFER_BLOCK_COMPRESS_H
#define COFFER_BLOCK_COMPRESS_H

#include "util/util.h"

/* On-disk compression algorithm ids (block pointers, properties): never
 * renumber. */
#define CF_COMP_OFF  0     /* stored as is */
#define CF_COMP_LZ4  1     /* lz4 block, level ignored */
#define CF_COMP_ZSTD 2     /* zstd frame, levels 1..19 */

#define CF_COMP_ZSTD_DEFAULT_LEVEL 3
#define CF_COMP_ZSTD_MAX_LEVEL     19
/* Bytes of stored form around the payload (the length prefix). */
#define CF_COMP_HDR_LEN 4
/* Compression must save whole sectors of this size to be worth it. */
#define CF_COMP_SECTOR 4096u

/*
 * Compress src (srclen bytes) into dst (capacity dstcap).  Returns the
 * compressed length, or 0 when compression does not save at least 1/8 of
 * srclen rounded to 4096-byte sectors (caller then stores uncompressed),
 * or a negative code.  level: zstd level 1..19 (0 = default 3); ignored
 * for lz4.  Give up early on incompressible data: lz4 runs with dstcap
 * limited to the target size, and a block of 64 KiB or more is first
 * tried on its first 4 KiB, giving 0 at once if lz4 cannot shrink that
 * slice by 1/32 (whatever the rest of the block holds).
 *
 * Precisely: the result is kept only when its length rounded up to
 * CF_COMP_SECTOR is at most srclen - srclen/8, so blocks of one sector
 * or less are never compressed.  CF_COMP_OFF always returns 0.  zstd at
 * levels above 3 first tries lz4 and then zstd level 1 and gives up if
 * neither reaches the target (data that only a slow level could shrink
 * by 1/8 is not worth its CPU time).  -EINVAL for an unknown algorithm,
 * a bad level or srclen beyond lz4's limit (LZ4_MAX_INPUT_SIZE, just
 * under 2 GiB); -ENOMEM.
 */
int cf_compress(int alg, int level, const void *src, size_t srclen,
    void *dst, size_t dstcap);

/*
 * Decompress exactly dstlen bytes; COFFER_ECORRUPT if the data is
 * malformed or does not produce exactly dstlen bytes.  Must be safe on
 * hostile input.
 *
 * srclen may exceed the stored length (padding is ignored).  CF_COMP_OFF
 * copies dstlen bytes (srclen must be at least dstlen).  COFFER_ENOTSUP
 * for an unknown algorithm; -EINVAL for dstlen above INT_MAX; -ENOMEM.
 */
int cf_decompress(int alg, const void *src, size_t srclen, void *dst,
    size_t dstlen);

#endif
