/*
 * crypto: the only layer that includes OpenSSL or libargon2.
 *
 * Checksums, hashing and randomness (crypto.c); the AEAD suites (aead.c);
 * HKDF, HMAC, SHA-512, PBKDF2 and Argon2id (kdf.c).  Nothing here invents
 * a primitive: every algorithm is OpenSSL's EVP or libargon2's reference
 * code, and this layer only fixes how they are called.
 *
 * Invariants
 *  1. Every construction here has known-answer tests in tests/unit/crypto.
 *  2. Fletcher-4 results are identical whichever implementation (scalar,
 *     SSE2, AVX2) the CPU selects; the selection happens once.
 *  3. MACs and checksums that guard against an adversary are compared
 *     with cf_ct_equal (constant time); AEAD tags are checked inside
 *     OpenSSL, which compares in constant time.
 *  4. Key bytes given to this layer are copied only into cf_secure_alloc
 *     memory or into OpenSSL / libargon2 state that is cleansed when freed;
 *     every temporary that held a secret is wiped on every exit path.  No
 *     function here logs a key, a passphrase or a derived value.
 *  5. A failed decryption or MAC computation never leaves partial output:
 *     the output buffer is zeroed.
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

/* ---- AEAD (aead.c) ----------------------------------------------------- */

/*
 * AEAD suites.  These numbers are written on disk: never renumber, only
 * add.  The names are OpenZFS's (plus chacha20-poly1305, for CPUs without
 * AES instructions).  Every suite takes a 12-byte IV and produces a
 * 16-byte tag.
 */
#define CF_SUITE_NONE 0
#define CF_SUITE_AES_128_CCM 1
#define CF_SUITE_AES_192_CCM 2
#define CF_SUITE_AES_256_CCM 3
#define CF_SUITE_AES_128_GCM 4
#define CF_SUITE_AES_192_GCM 5
#define CF_SUITE_AES_256_GCM 6
#define CF_SUITE_CHACHA20_POLY1305 7
#define CF_SUITE_MAX 7

#define CF_AEAD_IV_LEN 12
#define CF_AEAD_TAG_LEN 16
#define CF_MAX_KEY_LEN 32
/*
 * CCM with a 12-byte nonce leaves 3 bytes for the length: one CCM message
 * is at most 2^24 - 1 bytes (GCM and ChaCha20-Poly1305 have no limit that
 * matters here).
 */
#define CF_AEAD_CCM_MAX_LEN ((size_t)(1u << 24) - 1)

/* "aes-256-gcm", ..., "off" for CF_SUITE_NONE; NULL for a number that is
 * not a suite (so an unknown on-disk value is never printed as a real
 * one). */
const char *cf_suite_name(int suite);
/* The suite named name; "on" means aes-256-gcm, "off" CF_SUITE_NONE.
 * Exact, lower-case names only.  -1 if unknown (or name is NULL). */
int cf_suite_from_name(const char *name);
/* Key length in bytes (16, 24 or 32); 0 for CF_SUITE_NONE; -EINVAL for
 * a number that is not a suite. */
int cf_suite_keylen(int suite);

/*
 * One-shot AEAD.  key is cf_suite_keylen(suite) bytes; aad may be NULL
 * when aadlen is 0, pt/ct may be NULL when len is 0.  ct may equal pt
 * (in place); other overlaps are not allowed.
 *
 * Results: 0; -EINVAL for CF_SUITE_NONE, a number that is not a suite or
 * a NULL key; -EMSGSIZE for a CCM message longer than CF_AEAD_CCM_MAX_LEN
 * (or AAD longer than INT_MAX); COFFER_ENOTSUP if this libcrypto lacks
 * the cipher; -ENOMEM; -EIO if OpenSSL fails unexpectedly.
 *
 * cf_aead_decrypt returns COFFER_EAUTH when the tag does not verify (a
 * wrong key, IV, AAD, ciphertext or tag all look the same).  On any
 * failure after it started writing, the output is zeroed: a caller never
 * sees unauthenticated plaintext.  cf_aead_encrypt zeroes ct and tag on
 * failure.
 */
int cf_aead_encrypt(int suite, const uint8_t *key,
    const uint8_t iv[CF_AEAD_IV_LEN], const uint8_t *aad, size_t aadlen,
    const uint8_t *pt, size_t len, uint8_t *ct,
    uint8_t tag[CF_AEAD_TAG_LEN]) CF_MUST_CHECK;
int cf_aead_decrypt(int suite, const uint8_t *key,
    const uint8_t iv[CF_AEAD_IV_LEN], const uint8_t *aad, size_t aadlen,
    const uint8_t *ct, size_t len, uint8_t *pt,
    const uint8_t tag[CF_AEAD_TAG_LEN]) CF_MUST_CHECK;

/*
 * A keyed context: one key, many operations (the data path).  The key
 * schedule is computed once per OpenSSL context, and contexts are kept in
 * a small pool inside the cf_aead_key, so an operation allocates nothing
 * once the pool is warm.
 *
 * Thread safety: any number of threads may call cf_aead_key_encrypt and
 * cf_aead_key_decrypt on the same key at once; each borrows its own
 * OpenSSL context from the pool for the duration of the call.
 * cf_aead_key_free must not run concurrently with any operation on k.
 *
 * cf_aead_key_new copies the key into secure memory (the caller may wipe
 * its own copy at once); 0, -EINVAL (bad suite or NULL key), -ENOMEM,
 * COFFER_ENOTSUP or -EIO.  cf_aead_key_free wipes the key, frees every
 * pooled context (OpenSSL cleanses their key schedules) and ignores NULL.
 * The operations return exactly what the one-shot functions return, and
 * produce bit-identical results.
 */
typedef struct cf_aead_key cf_aead_key_t;
int cf_aead_key_new(int suite, const uint8_t *key, cf_aead_key_t **out)
    CF_MUST_CHECK;
void cf_aead_key_free(cf_aead_key_t *k);
int cf_aead_key_suite(const cf_aead_key_t *k);
int cf_aead_key_encrypt(cf_aead_key_t *k, const uint8_t iv[CF_AEAD_IV_LEN],
    const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t len,
    uint8_t *ct, uint8_t tag[CF_AEAD_TAG_LEN]) CF_MUST_CHECK;
int cf_aead_key_decrypt(cf_aead_key_t *k, const uint8_t iv[CF_AEAD_IV_LEN],
    const uint8_t *aad, size_t aadlen, const uint8_t *ct, size_t len,
    uint8_t *pt, const uint8_t tag[CF_AEAD_TAG_LEN]) CF_MUST_CHECK;

/* ---- KDFs, MACs and SHA-512 (kdf.c) ------------------------------------ */

#define CF_MD_SHA256 1
#define CF_MD_SHA512 2
#define CF_MD_MAX_LEN 64
/* Digest length of md in bytes (32 or 64); -EINVAL if md is neither. */
int cf_md_len(int md);

/*
 * HKDF (RFC 5869), extract then expand, with SHA-256 or SHA-512.  salt
 * and info may be empty (NULL with length 0); an empty salt means
 * HashLen zero bytes, as the RFC says.  outlen is 1 .. 255 * HashLen.
 * 0, -EINVAL (bad md, ikm empty or NULL, outlen out of range), -ENOMEM or
 * -EIO; out is zeroed on failure.
 */
int cf_hkdf(int md, const uint8_t *ikm, size_t ikmlen, const uint8_t *salt,
    size_t saltlen, const uint8_t *info, size_t infolen, uint8_t *out,
    size_t outlen) CF_MUST_CHECK;

/*
 * HMAC (RFC 2104) with SHA-256 or SHA-512; out receives cf_md_len(md)
 * bytes.  The key may be empty.  0, -EINVAL, -ENOMEM or -EIO; out is
 * zeroed on failure.  Compare MACs with cf_ct_equal.
 */
int cf_hmac(int md, const uint8_t *key, size_t keylen, const uint8_t *data,
    size_t len, uint8_t *out) CF_MUST_CHECK;

/*
 * Incremental HMAC for a MAC over several pieces.  cf_hmac_new returns
 * NULL for a bad md or when out of memory.  A failed update is remembered
 * and reported by cf_hmac_final (-EIO, out zeroed).  cf_hmac_final writes
 * cf_md_len(md) bytes, frees c and returns 0, -EINVAL (c NULL) or -EIO.
 * cf_hmac_free abandons a context without a MAC (NULL is ignored).
 */
typedef struct cf_hmac_ctx cf_hmac_ctx_t;
cf_hmac_ctx_t *cf_hmac_new(int md, const uint8_t *key, size_t keylen);
void cf_hmac_update(cf_hmac_ctx_t *c, const void *p, size_t n);
int cf_hmac_final(cf_hmac_ctx_t *c, uint8_t *out) CF_MUST_CHECK;
void cf_hmac_free(cf_hmac_ctx_t *c);

/* SHA-512.  No error return: if OpenSSL fails (out of memory) the output
 * is all zeros and the failure is logged, as for cf_sha256. */
void cf_sha512(const void *buf, size_t len, uint8_t out[64]);

/*
 * PBKDF2 (RFC 8018) with HMAC-SHA-512.  iters >= 1; outlen >= 1.  No
 * policy minimums are imposed here (the caller chooses and stores the
 * iteration count).  0, -EINVAL, -ENOMEM or -EIO; out zeroed on failure.
 */
int cf_pbkdf2_sha512(const uint8_t *pass, size_t plen, const uint8_t *salt,
    size_t slen, uint32_t iters, uint8_t *out, size_t outlen) CF_MUST_CHECK;

/*
 * Argon2id (RFC 9106), version 0x13: t passes over m_kib KiB of memory in
 * p lanes, run in min(p, online CPUs) threads.  Limits: t >= 1,
 * 1 <= p <= 2^24 - 1, m_kib >= 8 * p, slen >= 8, outlen >= 4.
 * 0, -EINVAL (bad parameters), -ENOMEM, -EIO; out zeroed on failure.
 *
 * Serialization (cryptsetup's --serialize-memory-hard-pbkdf): a run with
 * m_kib above CF_ARGON2_SERIAL_KIB holds a process-wide lock, so loading
 * many keys at once costs time rather than exhausting memory.  Smaller
 * runs proceed in parallel.
 *
 * cf_argon2id_full also takes the optional secret (K) and associated
 * data (X) inputs of RFC 9106 §3.1 (NULL with length 0 for none).
 */
#define CF_ARGON2_SERIAL_KIB (64u * 1024)
int cf_argon2id(const uint8_t *pass, size_t plen, const uint8_t *salt,
    size_t slen, uint32_t t, uint32_t m_kib, uint32_t p, uint8_t *out,
    size_t outlen) CF_MUST_CHECK;
int cf_argon2id_full(const uint8_t *pass, size_t plen, const uint8_t *salt,
    size_t slen, const uint8_t *secret, size_t secretlen, const uint8_t *ad,
    size_t adlen, uint32_t t, uint32_t m_kib, uint32_t p, uint8_t *out,
    size_t outlen) CF_MUST_CHECK;

/*
 * Choose Argon2id parameters so that one run takes about target_ms on
 * this machine.  p = min(4, online CPUs); memory grows first, up to the
 * ceiling cf_argon2id_mem_ceiling(max_kib), with t = 2; beyond the
 * ceiling t grows instead.  t is never below 2.  The function measures
 * real runs (each under the serialization rule above) and rescales until
 * a run lands within about 25% of the target, so it takes a few times
 * target_ms itself.  0, -EINVAL (target_ms 0, NULL outputs, a ceiling
 * below 8 KiB), or the error of a failed run.
 */
int cf_argon2id_calibrate(uint32_t target_ms, uint32_t max_kib, uint32_t *t,
    uint32_t *m_kib, uint32_t *p) CF_MUST_CHECK;
/* The memory ceiling calibration uses: max_kib (0 means 1 GiB, as
 * cryptsetup), but never more than half of physical memory. */
#define CF_ARGON2_DEFAULT_MAX_KIB (1024u * 1024)
uint32_t cf_argon2id_mem_ceiling(uint32_t max_kib);

/* ---- the kernel keyring (keyring.c) ----------------------------------------- */

/* Keep, find and drop a key in the user's kernel keyring under `desc`. */
int cf_keyring_store(const char *desc, const void *key, size_t len)
    CF_MUST_CHECK;
/* -ENOENT when absent. */
int cf_keyring_load(const char *desc, void *key, size_t len) CF_MUST_CHECK;
int cf_keyring_remove(const char *desc);


/* ---- signatures (sig.c) ----------------------------------------------- */

/*
 * Ed25519 and ECDSA on NIST P-256 / P-384 through OpenSSL's EVP_PKEY.
 * The algorithm numbers are those of the stream's signature slot
 * (docs/STREAM.md §5): never renumber.  Signatures have a fixed width:
 * Ed25519's own 64 bytes; ECDSA as r || s, each big-endian and padded to
 * the curve's size (64 or 96 bytes), converted from and to OpenSSL's DER
 * with ECDSA_SIG.  ECDSA hashes the message with SHA-256 (P-256) or
 * SHA-384 (P-384); Ed25519 signs the message itself (pure EdDSA).
 * Public keys travel raw: Ed25519's 32 bytes, or the uncompressed EC
 * point (0x04 || x || y: 65 or 97 bytes), which is checked to lie on the
 * curve.  Private keys travel only as PKCS#8 PEM, encrypted with the
 * passphrase when there is one (AES-256-CBC, key from PBKDF2 as OpenSSL's
 * PKCS#5 v2 scheme does).  Private key material lives in OpenSSL's secure
 * heap (locked, wiped on free), which this file initializes once.
 */
#define CF_SIG_ED25519    1
#define CF_SIG_ECDSA_P256 2
#define CF_SIG_ECDSA_P384 3
#define CF_SIG_MAX_LEN    96      /* fixed-width signature bytes */
#define CF_SIG_MAX_PUB    97      /* raw public key bytes */

/* 64, 64 or 96; -EINVAL for a number that is not an algorithm. */
int cf_sig_len(int alg);
/* 32, 65 or 97; -EINVAL likewise. */
int cf_sig_publen(int alg);

typedef struct cf_sigkey cf_sigkey_t;

/* A new key pair.  0, -EINVAL, -ENOMEM or -EIO. */
int cf_sigkey_generate(int alg, cf_sigkey_t **out) CF_MUST_CHECK;
/* A public key from its raw bytes: -EINVAL when they are not a valid key
 * of alg (wrong length, not on the curve). */
int cf_sigkey_from_public(int alg, const uint8_t *pub, size_t len,
    cf_sigkey_t **out) CF_MUST_CHECK;
/*
 * A key pair from PKCS#8 PEM (pem need not be NUL-terminated).  pass may
 * be NULL.  COFFER_ENOKEY when the PEM is encrypted and pass is NULL;
 * COFFER_EWRONGKEY when the passphrase does not decrypt it;
 * COFFER_ENOTSUP for another kind of key; -EINVAL for anything else that
 * is not a private key.
 */
int cf_sigkey_from_pem(const uint8_t *pem, size_t len, const uint8_t *pass,
    size_t plen, cf_sigkey_t **out) CF_MUST_CHECK;
/* 1 when a PEM text holds an encrypted private key. */
int cf_sigkey_pem_encrypted(const uint8_t *pem, size_t len);
/*
 * The private key as PKCS#8 PEM, encrypted when pass is not NULL.  *out
 * is cf_secure_alloc memory of *outlen bytes: release it with
 * cf_secure_free(*out, *outlen).  -EINVAL for a public key.
 */
int cf_sigkey_to_pem(const cf_sigkey_t *k, const uint8_t *pass, size_t plen,
    uint8_t **out, size_t *outlen) CF_MUST_CHECK;
int cf_sigkey_alg(const cf_sigkey_t *k);
int cf_sigkey_has_private(const cf_sigkey_t *k);
/* The raw public key (cf_sig_publen bytes). */
int cf_sigkey_public(const cf_sigkey_t *k, uint8_t pub[CF_SIG_MAX_PUB],
    size_t *len) CF_MUST_CHECK;
/* Sign n bytes: *siglen = cf_sig_len(alg).  0, -EINVAL (no private key),
 * -ENOMEM or -EIO. */
int cf_sig_sign(const cf_sigkey_t *k, const void *msg, size_t n,
    uint8_t sig[CF_SIG_MAX_LEN], size_t *siglen) CF_MUST_CHECK;
/* 0 when sig is a valid signature of msg by k; COFFER_EAUTH otherwise
 * (a wrong length included); -ENOMEM or -EIO. */
int cf_sig_verify(const cf_sigkey_t *k, const void *msg, size_t n,
    const uint8_t *sig, size_t siglen) CF_MUST_CHECK;
void cf_sigkey_free(cf_sigkey_t *k);    /* NULL is ignored */

#endif
