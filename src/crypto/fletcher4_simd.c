/*
 * fletcher4_simd.c - SSE2 and AVX2 Fletcher-4 kernels.
 *
 * Invariants
 *  1. A kernel computes four lanes from zero over whole 16-byte blocks
 *     and nothing else (see fletcher4_impl.h); short tails, the
 *     combination of the lanes and the merge into a running sum all live
 *     in crypto.c, shared by every kernel.
 *  2. Loads are unaligned (loadu): callers pass any address.
 *  3. x86 is little-endian, so a 32-bit lane of a vector load is exactly
 *     the le32_get() word the scalar code reads.
 *  4. Each kernel is compiled for its own instruction set through a
 *     target attribute and is called only after crypto.c has checked the
 *     CPU at run time, so the rest of coffer stays baseline x86-64.
 */
#include "crypto/fletcher4_impl.h"

#ifdef CF_F4_HAVE_X86

#include <immintrin.h>

__attribute__((target("sse2")))
void cf_f4_kernel_sse2(const uint8_t *buf, size_t nblk, cf_f4_lanes_t *out)
{
	/* Lanes 0,1 live in the *01 registers and 2,3 in *23: SSE2 adds
	 * two 64-bit integers per instruction. */
	const __m128i zero = _mm_setzero_si128();
	__m128i a01 = zero, a23 = zero, b01 = zero, b23 = zero;
	__m128i c01 = zero, c23 = zero, d01 = zero, d23 = zero;
	size_t i;

	for (i = 0; i < nblk; i++) {
		__m128i w = _mm_loadu_si128((const __m128i *)(const void *)
		    (buf + 16 * i));
		/* Zero-extend the four 32-bit words to 64 bits. */
		__m128i w01 = _mm_unpacklo_epi32(w, zero);
		__m128i w23 = _mm_unpackhi_epi32(w, zero);

		a01 = _mm_add_epi64(a01, w01);
		a23 = _mm_add_epi64(a23, w23);
		b01 = _mm_add_epi64(b01, a01);
		b23 = _mm_add_epi64(b23, a23);
		c01 = _mm_add_epi64(c01, b01);
		c23 = _mm_add_epi64(c23, b23);
		d01 = _mm_add_epi64(d01, c01);
		d23 = _mm_add_epi64(d23, c23);
	}
	_mm_storeu_si128((__m128i *)(void *)&out->a[0], a01);
	_mm_storeu_si128((__m128i *)(void *)&out->a[2], a23);
	_mm_storeu_si128((__m128i *)(void *)&out->b[0], b01);
	_mm_storeu_si128((__m128i *)(void *)&out->b[2], b23);
	_mm_storeu_si128((__m128i *)(void *)&out->c[0], c01);
	_mm_storeu_si128((__m128i *)(void *)&out->c[2], c23);
	_mm_storeu_si128((__m128i *)(void *)&out->d[0], d01);
	_mm_storeu_si128((__m128i *)(void *)&out->d[2], d23);
}

__attribute__((target("avx2")))
void cf_f4_kernel_avx2(const uint8_t *buf, size_t nblk, cf_f4_lanes_t *out)
{
	__m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
	size_t i;

	for (i = 0; i < nblk; i++) {
		/* One 16-byte load widened to four 64-bit lanes. */
		__m256i w = _mm256_cvtepu32_epi64(_mm_loadu_si128(
		    (const __m128i *)(const void *)(buf + 16 * i)));

		a = _mm256_add_epi64(a, w);
		b = _mm256_add_epi64(b, a);
		c = _mm256_add_epi64(c, b);
		d = _mm256_add_epi64(d, c);
	}
	_mm256_storeu_si256((__m256i *)(void *)out->a, a);
	_mm256_storeu_si256((__m256i *)(void *)out->b, b);
	_mm256_storeu_si256((__m256i *)(void *)out->c, c);
	_mm256_storeu_si256((__m256i *)(void *)out->d, d);
}

#else

/* ISO C forbids an empty translation unit. */
typedef int cf_f4_no_simd_t;

#endif
