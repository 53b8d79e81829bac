/*
 * fletcher4_impl.h - private to the crypto layer: the SIMD Fletcher-4
 * kernels and the lane state they return.
 *
 * A kernel runs four independent Fletcher-4 sums ("lanes") over nblk
 * 16-byte blocks: lane j sees only words 4i+j.  Every lane starts at zero
 * and all arithmetic is modulo 2^64, exactly like the scalar sums; the
 * caller (crypto.c, cf_f4_combine) turns the four lanes into the single
 * sum the scalar loop would have produced.  Keeping the kernels this
 * small is what makes them easy to check against the scalar code.
 */
#ifndef COFFER_FLETCHER4_IMPL_H
#define COFFER_FLETCHER4_IMPL_H

#include <stddef.h>
#include <stdint.h>

typedef struct cf_f4_lanes {
	uint64_t a[4], b[4], c[4], d[4];
} cf_f4_lanes_t;

typedef void (*cf_f4_kernel_fn)(const uint8_t *buf, size_t nblk,
    cf_f4_lanes_t *out);

#if defined(__x86_64__) || defined(__i386__)
#define CF_F4_HAVE_X86 1
void cf_f4_kernel_sse2(const uint8_t *buf, size_t nblk, cf_f4_lanes_t *out);
void cf_f4_kernel_avx2(const uint8_t *buf, size_t nblk, cf_f4_lanes_t *out);
#endif

#endif
