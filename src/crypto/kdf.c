/*
 * kdf: HKDF, HMAC, SHA-512 and PBKDF2 (OpenSSL EVP_KDF / EVP_MAC /
 * EVP_MD) and Argon2id (libargon2).  See crypto.h for the contract.
 *
 * Invariants
 *  1. The EVP methods are fetched once per process and never freed;
 *     every call makes and frees its own EVP_KDF_CTX / EVP_MAC_CTX, which
 *     OpenSSL cleanses on free (they hold the key, the salt and the
 *     chaining state).
 *  2. Every output buffer is zeroed when a call fails, so a caller that
 *     ignored an error would use zeros, never a half-derived key.
 *  3. Argon2id runs through argon2_ctx with the library's default flags,
 *     under which libargon2 clears its memory matrix before freeing it.
 *     The password and secret are passed by pointer and never copied.
 *  4. Memory-hard serialization: a run above CF_ARGON2_SERIAL_KIB holds
 *     argon2_serial for its whole duration.  Nothing else takes that lock
 *     and nothing is called while holding it that could take it again,
 *     so it cannot deadlock; smaller runs never touch it.
 *  5. Calibration measures wall-clock time of real runs with the same
 *     thread count the real run will use (the median of three for short
 *     runs); it never changes p after the first measurement and never
 *     returns t < 2.
 */
#include "crypto/crypto.h"

#include <limits.h>
#include <pthread.h>
#include <unistd.h>

#include <argon2.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

/* ---- methods, fetched once ---------------------------------------------- */

static pthread_once_t kdf_once = PTHREAD_ONCE_INIT;
static EVP_KDF *hkdf_method;
static EVP_KDF *pbkdf2_method;
static EVP_MAC *hmac_method;
static EVP_MD *sha512_method;

static void kdf_fetch(void)
{
	hkdf_method = EVP_KDF_fetch(NULL, "HKDF", NULL);
	pbkdf2_method = EVP_KDF_fetch(NULL, "PBKDF2", NULL);
	hmac_method = EVP_MAC_fetch(NULL, "HMAC", NULL);
	sha512_method = EVP_MD_fetch(NULL, "SHA2-512", NULL);
	if (!hkdf_method || !pbkdf2_method || !hmac_method || !sha512_method)
		cf_log(COFFER_LOG_ERR, "cannot fetch hkdf, pbkdf2, hmac or "
		    "sha512 from openssl");
	ERR_clear_error();
}

static void kdf_init(void)
{
	(void)pthread_once(&kdf_once, kdf_fetch);
}

/* OpenSSL's name for md, or NULL. */
static const char *md_name(int md)
{
	switch (md) {
	case CF_MD_SHA256:
		return "SHA2-256";
	case CF_MD_SHA512:
		return "SHA2-512";
	default:
		return NULL;
	}
}

int cf_md_len(int md)
{
	switch (md) {
	case CF_MD_SHA256:
		return 32;
	case CF_MD_SHA512:
		return 64;
	default:
		return -EINVAL;
	}
}

/* A readable key for a zero-length secret: OpenSSL treats a NULL key as
 * "no key given". */
static const uint8_t empty_key[1];

/* Common failure exit: zero the output, drop OpenSSL's error queue. */
static int kdf_fail(uint8_t *out, size_t outlen, int rc)
{
	if (out)
		cf_wipe(out, outlen);
	ERR_clear_error();
	return rc;
}

/* ---- HKDF --------------------------------------------------------------- */

int cf_hkdf(int md, const uint8_t *ikm, size_t ikmlen, const uint8_t *salt,
    size_t saltlen, const uint8_t *info, size_t infolen, uint8_t *out,
    size_t outlen)
{
	const char *name = md_name(md);
	OSSL_PARAM params[5], *p = params;
	EVP_KDF_CTX *kctx;
	int ok;

	if (!out)
		return -EINVAL;
	if (!name || !ikm || ikmlen == 0 || outlen == 0 ||
	    outlen > 255 * (size_t)cf_md_len(md) ||
	    (saltlen > 0 && !salt) || (infolen > 0 && !info))
		return kdf_fail(out, outlen, -EINVAL);
	kdf_init();
	if (!hkdf_method)
		return kdf_fail(out, outlen, -EIO);
	kctx = EVP_KDF_CTX_new(hkdf_method);
	if (!kctx)
		return kdf_fail(out, outlen, -ENOMEM);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)(uintptr_t)name, 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)(uintptr_t)ikm, ikmlen);
	/* An absent salt is HashLen zeros (RFC 5869 §2.2); OpenSSL does the
	 * same when no salt parameter is given. */
	if (saltlen > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
		    (void *)(uintptr_t)salt, saltlen);
	if (infolen > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
		    (void *)(uintptr_t)info, infolen);
	*p = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(kctx, out, outlen, params) == 1;
	EVP_KDF_CTX_free(kctx);
	return ok ? 0 : kdf_fail(out, outlen, -EIO);
}

/* ---- HMAC --------------------------------------------------------------- */

struct cf_hmac_ctx {
	EVP_MAC_CTX *mac;
	int md;
	bool failed;           /* an update failed: final reports -EIO */
};

/* A MAC context keyed for md, or NULL. */
static EVP_MAC_CTX *hmac_ctx_new(int md, const uint8_t *key, size_t keylen)
{
	const char *name = md_name(md);
	OSSL_PARAM params[2];
	EVP_MAC_CTX *mac;

	if (!name || (keylen > 0 && !key))
		return NULL;
	kdf_init();
	if (!hmac_method)
		return NULL;
	mac = EVP_MAC_CTX_new(hmac_method);
	if (!mac)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)(uintptr_t)name, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(mac, keylen > 0 ? key : empty_key, keylen,
	    params) != 1) {
		EVP_MAC_CTX_free(mac);
		ERR_clear_error();
		return NULL;
	}
	return mac;
}

/* Finish mac into out (cf_md_len(md) bytes) and free it. */
static int hmac_finish(EVP_MAC_CTX *mac, int md, uint8_t *out)
{
	size_t want = (size_t)cf_md_len(md), got = 0;
	int ok;

	ok = EVP_MAC_final(mac, out, &got, want) == 1 && got == want;
	EVP_MAC_CTX_free(mac);
	return ok ? 0 : kdf_fail(out, want, -EIO);
}

int cf_hmac(int md, const uint8_t *key, size_t keylen, const uint8_t *data,
    size_t len, uint8_t *out)
{
	EVP_MAC_CTX *mac;

	if (!out || cf_md_len(md) < 0)
		return -EINVAL;
	if (len > 0 && !data)
		return kdf_fail(out, (size_t)cf_md_len(md), -EINVAL);
	mac = hmac_ctx_new(md, key, keylen);
	if (!mac)
		return kdf_fail(out, (size_t)cf_md_len(md),
		    keylen > 0 && !key ? -EINVAL : -ENOMEM);
	if (len > 0 && EVP_MAC_update(mac, data, len) != 1) {
		EVP_MAC_CTX_free(mac);
		return kdf_fail(out, (size_t)cf_md_len(md), -EIO);
	}
	return hmac_finish(mac, md, out);
}

cf_hmac_ctx_t *cf_hmac_new(int md, const uint8_t *key, size_t keylen)
{
	cf_hmac_ctx_t *c = cf_zalloc(sizeof(*c));

	if (!c)
		return NULL;
	c->mac = hmac_ctx_new(md, key, keylen);
	if (!c->mac) {
		cf_free(c);
		return NULL;
	}
	c->md = md;
	return c;
}

void cf_hmac_update(cf_hmac_ctx_t *c, const void *p, size_t n)
{
	if (!c || c->failed || n == 0)
		return;
	if (!p || EVP_MAC_update(c->mac, p, n) != 1) {
		c->failed = true;
		ERR_clear_error();
	}
}

int cf_hmac_final(cf_hmac_ctx_t *c, uint8_t *out)
{
	int md, rc;

	if (!c)
		return -EINVAL;
	md = c->md;
	if (c->failed || !out) {
		cf_hmac_free(c);
		return out ? kdf_fail(out, (size_t)cf_md_len(md), -EIO) :
		    -EINVAL;
	}
	rc = hmac_finish(c->mac, md, out);
	cf_free(c);
	return rc;
}

void cf_hmac_free(cf_hmac_ctx_t *c)
{
	if (!c)
		return;
	EVP_MAC_CTX_free(c->mac);
	cf_free(c);
}

/* ---- SHA-512 ------------------------------------------------------------ */

void cf_sha512(const void *buf, size_t len, uint8_t out[64])
{
	unsigned int n = 0;

	kdf_init();
	if (!sha512_method ||
	    EVP_Digest(buf, len, out, &n, sha512_method, NULL) != 1 ||
	    n != 64) {
		memset(out, 0, 64);
		ERR_clear_error();
		cf_log(COFFER_LOG_ERR, "sha512 failed (out of memory?)");
	}
}

/* ---- PBKDF2 ------------------------------------------------------------- */

int cf_pbkdf2_sha512(const uint8_t *pass, size_t plen, const uint8_t *salt,
    size_t slen, uint32_t iters, uint8_t *out, size_t outlen)
{
	OSSL_PARAM params[6];
	EVP_KDF_CTX *kctx;
	unsigned int iter = iters;
	int no_checks = 1, ok;

	if (!out)
		return -EINVAL;
	if (iters == 0 || outlen == 0 || (plen > 0 && !pass) ||
	    (slen > 0 && !salt))
		return kdf_fail(out, outlen, -EINVAL);
	kdf_init();
	if (!pbkdf2_method)
		return kdf_fail(out, outlen, -EIO);
	kctx = EVP_KDF_CTX_new(pbkdf2_method);
	if (!kctx)
		return kdf_fail(out, outlen, -ENOMEM);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA2-512", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
	    (void *)(uintptr_t)(plen > 0 ? pass : empty_key), plen);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	    (void *)(uintptr_t)(slen > 0 ? salt : empty_key), slen);
	params[3] = OSSL_PARAM_construct_uint(OSSL_KDF_PARAM_ITER, &iter);
	/* pkcs5 = 1 turns off SP 800-132's lower bounds, which would reject
	 * the short test vectors; policy belongs to the caller. */
	params[4] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_PKCS5, &no_checks);
	params[5] = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(kctx, out, outlen, params) == 1;
	EVP_KDF_CTX_free(kctx);
	return ok ? 0 : kdf_fail(out, outlen, -EIO);
}

/* ---- Argon2id ----------------------------------------------------------- */

static pthread_mutex_t argon2_serial = PTHREAD_MUTEX_INITIALIZER;

static uint32_t online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (uint32_t)CF_MIN(n, 1024L) : 1;
}

int cf_argon2id_full(const uint8_t *pass, size_t plen, const uint8_t *salt,
    size_t slen, const uint8_t *secret, size_t secretlen, const uint8_t *ad,
    size_t adlen, uint32_t t, uint32_t m_kib, uint32_t p, uint8_t *out,
    size_t outlen)
{
	argon2_context ctx;
	bool serial;
	int r;

	if (!out)
		return -EINVAL;
	if (t < 1 || p < 1 || p > ARGON2_MAX_LANES ||
	    (uint64_t)m_kib < 8 * (uint64_t)p || outlen < ARGON2_MIN_OUTLEN ||
	    outlen > UINT32_MAX || !salt || slen < ARGON2_MIN_SALT_LENGTH ||
	    slen > UINT32_MAX || (plen > 0 && !pass) || plen > UINT32_MAX ||
	    (secretlen > 0 && !secret) || secretlen > UINT32_MAX ||
	    (adlen > 0 && !ad) || adlen > UINT32_MAX)
		return kdf_fail(out, outlen, -EINVAL);

	memset(&ctx, 0, sizeof(ctx));
	ctx.out = out;
	ctx.outlen = (uint32_t)outlen;
	/* libargon2's context has non-const pointers but, without the
	 * CLEAR_PASSWORD / CLEAR_SECRET flags, only reads them. */
	ctx.pwd = (uint8_t *)(uintptr_t)(plen > 0 ? pass : NULL);
	ctx.pwdlen = (uint32_t)plen;
	ctx.salt = (uint8_t *)(uintptr_t)salt;
	ctx.saltlen = (uint32_t)slen;
	ctx.secret = (uint8_t *)(uintptr_t)(secretlen > 0 ? secret : NULL);
	ctx.secretlen = (uint32_t)secretlen;
	ctx.ad = (uint8_t *)(uintptr_t)(adlen > 0 ? ad : NULL);
	ctx.adlen = (uint32_t)adlen;
	ctx.t_cost = t;
	ctx.m_cost = m_kib;
	ctx.lanes = p;
	ctx.threads = CF_MIN(p, online_cpus());
	ctx.version = ARGON2_VERSION_13;
	ctx.flags = ARGON2_DEFAULT_FLAGS;

	serial = m_kib > CF_ARGON2_SERIAL_KIB;
	if (serial)
		(void)pthread_mutex_lock(&argon2_serial);
	r = argon2_ctx(&ctx, Argon2_id);
	if (serial)
		(void)pthread_mutex_unlock(&argon2_serial);
	cf_wipe(&ctx, sizeof(ctx));

	switch (r) {
	case ARGON2_OK:
		return 0;
	case ARGON2_MEMORY_ALLOCATION_ERROR:
		return kdf_fail(out, outlen, -ENOMEM);
	case ARGON2_THREAD_FAIL:
		return kdf_fail(out, outlen, -EAGAIN);
	default:
		cf_log(COFFER_LOG_ERR, "argon2id: %s", argon2_error_message(r));
		return kdf_fail(out, outlen, -EINVAL);
	}
}

int cf_argon2id(const uint8_t *pass, size_t plen, const uint8_t *salt,
    size_t slen, uint32_t t, uint32_t m_kib, uint32_t p, uint8_t *out,
    size_t outlen)
{
	return cf_argon2id_full(pass, plen, salt, slen, NULL, 0, NULL, 0, t,
	    m_kib, p, out, outlen);
}

uint32_t cf_argon2id_mem_ceiling(uint32_t max_kib)
{
	long pages = sysconf(_SC_PHYS_PAGES);
	long pagesz = sysconf(_SC_PAGESIZE);
	uint64_t half_kib;

	if (max_kib == 0)
		max_kib = CF_ARGON2_DEFAULT_MAX_KIB;
	if (pages > 0 && pagesz > 0) {
		half_kib = (uint64_t)pages * (uint64_t)pagesz / 1024 / 2;
		if (half_kib < max_kib)
			max_kib = (uint32_t)half_kib;
	}
	return max_kib;
}

/* Calibration starts here: small enough to be quick on any machine, big
 * enough not to sit entirely in cache. */
#define CAL_START_KIB (16u * 1024)
/* Growth per round is capped, so one noisy tiny measurement cannot throw
 * the next run far past the target. */
#define CAL_MAX_STEP 16.0
#define CAL_MAX_ROUNDS 12

/* Wall-clock milliseconds of one run with these parameters; *rc gets
 * the run's result. */
static double cal_run(uint32_t t, uint32_t m, uint32_t p, int *rc)
{
	static const uint8_t pass[] = "coffer argon2id calibration";
	static const uint8_t salt[] = "coffer calibration salt";
	uint8_t out[32];
	uint64_t t0 = cf_mono_ns();

	*rc = cf_argon2id(pass, sizeof(pass) - 1, salt, sizeof(salt) - 1, t, m,
	    p, out, sizeof(out));
	cf_wipe(out, sizeof(out));
	return (double)(cf_mono_ns() - t0) / 1e6;
}

/*
 * The time a run with these parameters takes.  Short runs are at the
 * mercy of the scheduler and of page faults on a fresh allocation, so a
 * run shorter than a quarter of the target is measured three times and
 * the median kept; longer runs are measured once, which bounds the time
 * calibration itself takes.
 */
static double cal_measure(uint32_t t, uint32_t m, uint32_t p,
    uint32_t target_ms, int *rc)
{
	double a, b, c, lo, hi;

	a = cal_run(t, m, p, rc);
	if (*rc != 0 || a * 4 >= target_ms)
		return a;
	b = cal_run(t, m, p, rc);
	if (*rc != 0)
		return b;
	c = cal_run(t, m, p, rc);
	lo = CF_MIN(a, b);
	hi = CF_MAX(a, b);
	return c < lo ? lo : c > hi ? hi : c;
}

/* Split total work (t * m, in KiB-passes) into t >= 2 and m <= ceiling,
 * memory first; m is a multiple of 4p, the granularity libargon2 uses. */
static void cal_split(double work, uint32_t ceiling, uint32_t p, uint32_t *t,
    uint32_t *m)
{
	uint32_t min_m = 8 * p;
	double mm;

	if (work / 2 <= ceiling) {
		*t = 2;
		mm = work / 2;
	} else {
		double tt = work / ceiling + 0.5;

		*t = tt > UINT32_MAX ? UINT32_MAX : CF_MAX((uint32_t)tt, 2u);
		mm = ceiling;
	}
	*m = mm < min_m ? min_m : (uint32_t)mm;
	*m -= *m % (4 * p);
	if (*m < min_m)
		*m = min_m;
}

int cf_argon2id_calibrate(uint32_t target_ms, uint32_t max_kib, uint32_t *t,
    uint32_t *m_kib, uint32_t *p)
{
	uint32_t ceiling = cf_argon2id_mem_ceiling(max_kib);
	uint32_t cp, ct = 2, cm;
	int round, rc = 0;

	if (target_ms == 0 || !t || !m_kib || !p || ceiling < 8)
		return -EINVAL;
	cp = CF_MIN(4u, online_cpus());
	/* A tiny ceiling also bounds the lanes: each needs 8 KiB. */
	while (cp > 1 && ceiling < 8 * cp)
		cp--;
	cal_split(2.0 * CF_MIN(ceiling, CAL_START_KIB), ceiling, cp, &ct, &cm);

	for (round = 0; round < CAL_MAX_ROUNDS; round++) {
		double ms = cal_measure(ct, cm, cp, target_ms, &rc), ratio;
		uint32_t nt, nm;

		if (rc != 0)
			return rc;
		if (ms < 0.01)
			ms = 0.01;
		ratio = (double)target_ms / ms;
		if (ratio > 0.8 && ratio < 1.25)
			break;
		if (ratio > CAL_MAX_STEP)
			ratio = CAL_MAX_STEP;
		cal_split((double)ct * (double)cm * ratio, ceiling, cp, &nt,
		    &nm);
		/* At a limit (t = 2 with the smallest memory, or nothing
		 * moves any more): this is as close as it gets. */
		if (nt == ct && nm == cm)
			break;
		ct = nt;
		cm = nm;
	}
	*t = ct;
	*m_kib = cm;
	*p = cp;
	return 0;
}
