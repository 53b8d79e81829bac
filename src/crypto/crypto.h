/*
 * crypto: the only layer that includes OpenSSL or libargon2.
 *
 * Issue 2 needs checksums and randomness; the AEAD suites, HKDF, PBKDF2,
 * Argon2id and signatures arrive with encryption and signed streams.
 *
 * Invariants
 *  1. Every construction here has known-answer tests in tests/unit/crypto.
 *  2. Fletcher-4 results are identical whichever implementation (scalar,
 *     SSE2, AVX2) the CPU selects; the selection happens once.
 *  3. MACs and checksums that guard against an adversary are compared
 *     with cf_ct_equal (constant time).
 */
#ifndef COFFER_CRYPTO_H
#define COFFER_CRYPTO_H

#include "util/util.h"

#define CF_CKSUM_LEN 32

/*
 * Fletcher-4 over 32-bit little-endian words, four 64-bit sums (as in
 * OpenZFS): a += w; b += a; c += b; d += c.  The output is a, b, c, d
 * each as 64-bit little-endian (32 bytes).  len need not be a multiple of
 * 4: a short tail is zero padded.
 */
void cf_fletcher4(const void *buf, size_t len, uint8_t out[CF_CKSUM_LEN]);
void cf_fletcher4_scalar(const void *buf, size_t len,
    uint8_t out[CF_CKSUM_LEN]);
/* Name of the implementation in use ("avx2", "sse2", "scalar"). */
const char *cf_fletcher4_impl(void);

/* Incremental Fletcher-4 (for stream running checksums).  Each update must
 * be a multiple of 4 bytes except the last. */
typedef struct cf_fletcher4_ctx {
	uint64_t a, b, c, d;
} cf_fletcher4_ctx_t;
void cf_fletcher4_init(cf_fletcher4_ctx_t *ctx);
void cf_fletcher4_update(cf_fletcher4_ctx_t *ctx, const void *buf,
    size_t len);
void cf_fletcher4_final(const cf_fletcher4_ctx_t *ctx,
    uint8_t out[CF_CKSUM_LEN]);
/*
 * cf_fletcher4_update through a named implementation ("scalar", "sse2",
 * "avx2"), for tests and benchmarks.  -ENOTSUP when the name is unknown
 * or this CPU cannot run it.
 */
int cf_fletcher4_update_with(const char *impl, cf_fletcher4_ctx_t *ctx,
    const void *buf, size_t len);

/* SHA-256 (OpenSSL EVP). */
void cf_sha256(const void *buf, size_t len, uint8_t out[32]);
typedef struct cf_sha256_ctx cf_sha256_ctx_t;   /* opaque */
cf_sha256_ctx_t *cf_sha256_new(void);
void cf_sha256_update(cf_sha256_ctx_t *c, const void *buf, size_t len);
void cf_sha256_final(cf_sha256_ctx_t *c, uint8_t out[32]); /* frees c */
/* Abandon a context without a digest (error paths).  NULL is ignored. */
void cf_sha256_free(cf_sha256_ctx_t *c);

/* Cryptographically strong random bytes (RAND_bytes). 0 or -EIO. */
int cf_random(void *buf, size_t n) CF_MUST_CHECK;
/* Random non-zero 64-bit value (guids). */
uint64_t cf_random_guid(void);

/* Constant-time equality: 1 when equal. */
int cf_ct_equal(const void *a, const void *b, size_t n);

#endif
