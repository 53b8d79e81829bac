/*
 * compress: lz4 and zstd for the block pipeline.  See compress.h for the
 * stored form.
 *
 * Invariants
 *  1. cf_decompress trusts nothing in its input: the length prefix is
 *     checked against srclen before use, the decoders are the bounds-
 *     checked ones (LZ4_decompress_safe, ZSTD_decompressDCtx into a flat
 *     buffer of known size), and a result of any other length than dstlen
 *     is corruption.
 *  2. cf_compress never returns a result that is not worth storing: the
 *     compressor is given only as much room as a worthwhile result may
 *     take (the target), so it fails as soon as the output would exceed
 *     it instead of finishing the whole block first.
 *  3. zstd contexts are per thread and live until the thread exits; a
 *     call never allocates a context after the thread's first.
 *  4. The algorithm ids are on-disk values (compress.h).
 */
#include "block/compress.h"

#include <limits.h>
#include <pthread.h>

#include <lz4.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "vdev/vdev.h"

_Static_assert(CF_COMP_SECTOR == CF_SECTOR,
    "compression must round to the allocation unit");

/* Blocks from CF_COMP_EARLY_MIN bytes up are first tested on a slice of
 * CF_COMP_EARLY_SLICE bytes.  The size is a trade: lz4 on a 4 KiB slice
 * costs 7% of a failed attempt on a random 128 KiB block (mostly the
 * reset of lz4's 16 KiB state) and 3% of compressing a text block, which
 * pays for the test; a 16 KiB slice costs 11% there, more than random
 * data saves. */
#define CF_COMP_EARLY_MIN   (64u << 10)
#define CF_COMP_EARLY_SLICE (4u << 10)

/* ---- per-thread zstd contexts ------------------------------------------ */

static pthread_once_t zctx_once = PTHREAD_ONCE_INIT;
static pthread_key_t zctx_ckey, zctx_dkey;
static int zctx_keys_ok;
static _Thread_local ZSTD_CCtx *zctx_c;
static _Thread_local ZSTD_DCtx *zctx_d;

/* Thread-exit destructors; they run in the exiting thread, so they can
 * also forget its cached pointer in case a later destructor compresses. */
static void zctx_free_c(void *p)
{
	ZSTD_freeCCtx(p);
	zctx_c = NULL;
}

static void zctx_free_d(void *p)
{
	ZSTD_freeDCtx(p);
	zctx_d = NULL;
}

static void zctx_init_once(void)
{
	/* The keys exist only so that thread exit frees the contexts. */
	zctx_keys_ok = pthread_key_create(&zctx_ckey, zctx_free_c) == 0 &&
	    pthread_key_create(&zctx_dkey, zctx_free_d) == 0;
}

static ZSTD_CCtx *zctx_cctx(void)
{
	if (!zctx_c) {
		(void)pthread_once(&zctx_once, zctx_init_once);
		zctx_c = ZSTD_createCCtx();
		if (zctx_c && zctx_keys_ok)
			(void)pthread_setspecific(zctx_ckey, zctx_c);
	}
	return zctx_c;
}

static ZSTD_DCtx *zctx_dctx(void)
{
	if (!zctx_d) {
		(void)pthread_once(&zctx_once, zctx_init_once);
		zctx_d = ZSTD_createDCtx();
		if (zctx_d && zctx_keys_ok)
			(void)pthread_setspecific(zctx_dkey, zctx_d);
	}
	return zctx_d;
}

/* ---- compression -------------------------------------------------------- */

/* Payload bytes of an lz4 block that fits in cap, or 0 if it does not. */
static size_t lz4_payload(const void *src, size_t srclen, uint8_t *dst,
    size_t cap)
{
	int r;

	if (cap > INT_MAX)
		cap = INT_MAX;
	r = LZ4_compress_default(src, (char *)dst, (int)srclen, (int)cap);
	return r > 0 ? (size_t)r : 0;
}

/* Payload bytes of a zstd frame that fits in cap, 0 if it does not, or a
 * negative code. */
static int64_t zstd_payload(int level, const void *src, size_t srclen,
    uint8_t *dst, size_t cap)
{
	ZSTD_CCtx *cc = zctx_cctx();
	size_t r;

	if (!cc)
		return -ENOMEM;
	r = ZSTD_compressCCtx(cc, dst, cap, src, srclen, level);
	if (!ZSTD_isError(r))
		return (int64_t)r;
	switch (ZSTD_getErrorCode(r)) {
	case ZSTD_error_dstSize_tooSmall:
		return 0;
	case ZSTD_error_memory_allocation:
		return -ENOMEM;
	default:
		cf_log(COFFER_LOG_DEBUG, "zstd compress: %s",
		    ZSTD_getErrorName(r));
		return -EINVAL;
	}
}

int cf_compress(int alg, int level, const void *src, size_t srclen,
    void *dst, size_t dstcap)
{
	uint8_t *out = dst;
	size_t target, cap;
	int64_t plen;

	if (srclen > INT_MAX || srclen > LZ4_MAX_INPUT_SIZE)
		return -EINVAL;
	switch (alg) {
	case CF_COMP_OFF:
		return 0;
	case CF_COMP_LZ4:
		break;
	case CF_COMP_ZSTD:
		if (level == 0)
			level = CF_COMP_ZSTD_DEFAULT_LEVEL;
		if (level < 1 || level > CF_COMP_ZSTD_MAX_LEVEL)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}

	/*
	 * The largest stored form worth keeping: whole sectors, at most
	 * 7/8 of the source.  Rounding down to a sector boundary here is
	 * the same as rounding the result up and comparing.
	 */
	target = srclen - srclen / 8;
	target -= target % CF_COMP_SECTOR;
	if (target > dstcap)
		target = dstcap;
	if (target <= CF_COMP_HDR_LEN)
		return 0;
	cap = target - CF_COMP_HDR_LEN;

	/*
	 * Early abort on incompressible data.  A limited output does not
	 * make lz4 fail fast: on data without matches it collects literals
	 * until the end of the input before it finds that they do not fit,
	 * so a random block costs a whole compression (a sixth of the CPU
	 * time of a large write).  Try the block's first 4 KiB instead: if
	 * lz4 cannot shrink it even a little, store the block as it is.
	 * The cost is a block whose start does not compress but whose
	 * rest would (stored uncompressed: space, never correctness).
	 */
	if (srclen >= CF_COMP_EARLY_MIN) {
		size_t slice = CF_COMP_EARLY_SLICE;

		if (lz4_payload(src, slice, out + CF_COMP_HDR_LEN,
		    CF_MIN(cap, slice - slice / 32)) == 0)
			return 0;
	}

	if (alg == CF_COMP_LZ4) {
		plen = (int64_t)lz4_payload(src, srclen, out + CF_COMP_HDR_LEN,
		    cap);
	} else {
		/*
		 * Early abort (the idea OpenZFS uses for zstd): slow levels
		 * spend their time on incompressible data too, so first ask
		 * the cheap compressors whether the block is compressible at
		 * all.  Their output is scratch, overwritten below.
		 */
		if (level > CF_COMP_ZSTD_DEFAULT_LEVEL &&
		    lz4_payload(src, srclen, out + CF_COMP_HDR_LEN, cap) == 0) {
			plen = zstd_payload(1, src, srclen,
			    out + CF_COMP_HDR_LEN, cap);
			if (plen <= 0)
				return (int)plen;
		}
		plen = zstd_payload(level, src, srclen, out + CF_COMP_HDR_LEN,
		    cap);
	}
	if (plen <= 0)
		return (int)plen;
	le32_put(out, (uint32_t)plen);
	return (int)(plen + CF_COMP_HDR_LEN);
}

/* ---- decompression ------------------------------------------------------ */

int cf_decompress(int alg, const void *src, size_t srclen, void *dst,
    size_t dstlen)
{
	const uint8_t *in = src;
	size_t plen;

	if (dstlen > INT_MAX)
		return -EINVAL;
	switch (alg) {
	case CF_COMP_OFF:
		if (srclen < dstlen)
			return CF_CORRUPT();
		memcpy(dst, src, dstlen);
		return 0;
	case CF_COMP_LZ4:
	case CF_COMP_ZSTD:
		break;
	default:
		cf_set_errdetail("unknown compression algorithm %d", alg);
		return COFFER_ENOTSUP;
	}

	if (srclen < CF_COMP_HDR_LEN)
		return CF_CORRUPT();
	plen = le32_get(in);
	if (plen == 0 || plen > srclen - CF_COMP_HDR_LEN)
		return CF_CORRUPT();
	in += CF_COMP_HDR_LEN;

	if (alg == CF_COMP_LZ4) {
		int r;

		if (plen > INT_MAX)
			return CF_CORRUPT();
		r = LZ4_decompress_safe((const char *)in, dst, (int)plen,
		    (int)dstlen);
		if (r < 0 || (size_t)r != dstlen)
			return CF_CORRUPT();
	} else {
		ZSTD_DCtx *dc = zctx_dctx();
		size_t r;

		if (!dc)
			return -ENOMEM;
		r = ZSTD_decompressDCtx(dc, dst, dstlen, in, plen);
		if (ZSTD_isError(r)) {
			if (ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation)
				return -ENOMEM;
			return CF_CORRUPT();
		}
		if (r != dstlen)
			return CF_CORRUPT();
	}
	return 0;
}
