/*
 * aead: the AEAD suites (AES-CCM, AES-GCM, ChaCha20-Poly1305) through
 * OpenSSL's EVP interface.  See crypto.h for the contract.
 *
 * Invariants
 *  1. One code path (aead_run) performs every operation, one-shot or
 *     keyed, so the two can never disagree.  It starts from an OpenSSL
 *     context that already holds the cipher, the key, the direction and
 *     (for CCM) the nonce and tag lengths, and sets only the IV, the tag,
 *     the AAD and the data.
 *  2. CCM needs its nonce length (12, so L = 3) and tag length (16) set
 *     before the key, because OpenSSL folds both into the CCM state when
 *     the key is set; aead_ctx_new does exactly that, in that order.
 *     OpenSSL's AES-NI CCM also chooses its block function by direction
 *     when the key is set, so a context is made for one direction and
 *     never switched: keyed contexts keep one pool per direction.
 *  3. Decryption writes plaintext before the tag is known to be good
 *     (GCM and ChaCha20-Poly1305 check the tag in the final call).  Every
 *     failure after the first byte was written zeroes the whole output,
 *     so unauthenticated plaintext never reaches the caller.
 *  4. Raw key bytes live only in cf_secure_alloc memory (the keyed
 *     context) or on the caller's side (one-shot).  The expanded key
 *     schedule lives in OpenSSL's cipher context; EVP_CIPHER_CTX_free
 *     cleanses it (the AES-GCM, AES-CCM and ChaCha20-Poly1305 providers
 *     free their state with OPENSSL_clear_free).
 *  5. A keyed context owns every OpenSSL context made for it.  Idle ones
 *     sit in a mutex-protected stack; an operation pops one (or makes a
 *     new one outside the lock), uses it alone, and pushes it back.  A
 *     context that saw an error is freed instead of pushed back, so a
 *     context in an unknown state is never reused.
 *  6. The EVP_CIPHER methods are fetched once per process (fetching is
 *     slow in OpenSSL 3) and never freed.
 */
#include "crypto/crypto.h"

#include <limits.h>
#include <pthread.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

enum aead_kind { K_NONE, K_CCM, K_GCM, K_CHACHA };

static const struct suite_info {
	const char *name;      /* coffer's (OpenZFS's) name */
	const char *ossl;      /* OpenSSL's algorithm name */
	int keylen;
	enum aead_kind kind;
} suites[CF_SUITE_MAX + 1] = {
	[CF_SUITE_NONE] = { "off", NULL, 0, K_NONE },
	[CF_SUITE_AES_128_CCM] = { "aes-128-ccm", "AES-128-CCM", 16, K_CCM },
	[CF_SUITE_AES_192_CCM] = { "aes-192-ccm", "AES-192-CCM", 24, K_CCM },
	[CF_SUITE_AES_256_CCM] = { "aes-256-ccm", "AES-256-CCM", 32, K_CCM },
	[CF_SUITE_AES_128_GCM] = { "aes-128-gcm", "AES-128-GCM", 16, K_GCM },
	[CF_SUITE_AES_192_GCM] = { "aes-192-gcm", "AES-192-GCM", 24, K_GCM },
	[CF_SUITE_AES_256_GCM] = { "aes-256-gcm", "AES-256-GCM", 32, K_GCM },
	[CF_SUITE_CHACHA20_POLY1305] = { "chacha20-poly1305",
	    "ChaCha20-Poly1305", 32, K_CHACHA },
};

/* An AEAD with a real cipher behind it, or NULL. */
static const struct suite_info *suite_get(int suite)
{
	if (suite <= CF_SUITE_NONE || suite > CF_SUITE_MAX)
		return NULL;
	return &suites[suite];
}

const char *cf_suite_name(int suite)
{
	if (suite < CF_SUITE_NONE || suite > CF_SUITE_MAX)
		return NULL;
	return suites[suite].name;
}

int cf_suite_from_name(const char *name)
{
	int i;

	if (!name)
		return -1;
	if (strcmp(name, "on") == 0)
		return CF_SUITE_AES_256_GCM;
	for (i = CF_SUITE_NONE; i <= CF_SUITE_MAX; i++)
		if (strcmp(name, suites[i].name) == 0)
			return i;
	return -1;
}

int cf_suite_keylen(int suite)
{
	if (suite < CF_SUITE_NONE || suite > CF_SUITE_MAX)
		return -EINVAL;
	return suites[suite].keylen;
}

/* ---- cipher methods, fetched once -------------------------------------- */

static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *fetched[CF_SUITE_MAX + 1];

static void fetch_all(void)
{
	int i;

	for (i = CF_SUITE_NONE + 1; i <= CF_SUITE_MAX; i++) {
		fetched[i] = EVP_CIPHER_fetch(NULL, suites[i].ossl, NULL);
		if (!fetched[i])
			cf_log(COFFER_LOG_WARN, "openssl has no %s",
			    suites[i].ossl);
	}
	ERR_clear_error();
}

static const EVP_CIPHER *cipher_for(int suite)
{
	(void)pthread_once(&fetch_once, fetch_all);
	return fetched[suite];
}

/* ---- the one operation -------------------------------------------------- */

/*
 * EVP lengths are ints; GCM and ChaCha20-Poly1305 take the data and the
 * AAD in pieces of at most this many bytes.
 */
#define AEAD_CHUNK ((size_t)1 << 30)

/* A readable non-NULL pointer for zero-length inputs: OpenSSL reads a NULL
 * input as "this is AAD" or "set the length". */
static const uint8_t empty_in[1];

/*
 * A new OpenSSL context for suite, keyed with key, for encryption
 * (enc = 1) or decryption: ready for aead_run in that direction only.
 * NULL when out of memory or when OpenSSL refuses (logged).
 */
static EVP_CIPHER_CTX *aead_ctx_new(const struct suite_info *si,
    const EVP_CIPHER *cipher, const uint8_t *key, int enc)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	OSSL_PARAM params[3];
	size_t ivlen = CF_AEAD_IV_LEN;

	if (!ctx)
		return NULL;
	/* Lengths first (invariant 2): the IV length for every kind, and
	 * for CCM the tag length, which OpenSSL takes as a tag without
	 * data. */
	params[0] = OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN,
	    &ivlen);
	params[1] = si->kind == K_CCM ?
	    OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, NULL,
	    CF_AEAD_TAG_LEN) : OSSL_PARAM_construct_end();
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_CipherInit_ex2(ctx, cipher, NULL, NULL, enc, params) != 1 ||
	    EVP_CipherInit_ex2(ctx, NULL, key, NULL, enc, NULL) != 1) {
		cf_log(COFFER_LOG_ERR, "cannot set up %s", si->ossl);
		EVP_CIPHER_CTX_free(ctx);
		ERR_clear_error();
		return NULL;
	}
	return ctx;
}

/* Feed n bytes of AAD (out == NULL) or data in EVP-sized pieces. */
static int aead_update(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in,
    size_t n)
{
	while (n > 0) {
		size_t chunk = CF_MIN(n, AEAD_CHUNK);
		int outl = 0;

		if (EVP_CipherUpdate(ctx, out, &outl, in, (int)chunk) != 1)
			return -1;
		if (out) {
			if ((size_t)outl != chunk)
				return -1;
			out += chunk;
		}
		in += chunk;
		n -= chunk;
	}
	return 0;
}

/*
 * Encrypt (enc = 1) or decrypt in into out with a context made by
 * aead_ctx_new for the same direction.  tag is written when encrypting
 * and read when decrypting.  Arguments are already validated.
 */
static int aead_run(EVP_CIPHER_CTX *ctx, enum aead_kind kind, int enc,
    const uint8_t *iv, const uint8_t *aad, size_t aadlen, const uint8_t *in,
    size_t len, uint8_t *out, uint8_t *tag)
{
	uint8_t tagbuf[CF_AEAD_TAG_LEN];
	uint8_t fin[32];
	OSSL_PARAM params[2];
	int outl = 0, rc = -EIO;
	bool wrote = false;

	if (!aad)
		aad = empty_in;
	if (!in)
		in = empty_in;
	if (EVP_CipherInit_ex2(ctx, NULL, NULL, iv, enc, NULL) != 1)
		goto out;
	if (!enc) {
		/* A private copy: OSSL_PARAM wants a mutable buffer. */
		memcpy(tagbuf, tag, sizeof(tagbuf));
		params[0] = OSSL_PARAM_construct_octet_string(
		    OSSL_CIPHER_PARAM_AEAD_TAG, tagbuf, sizeof(tagbuf));
		params[1] = OSSL_PARAM_construct_end();
		if (EVP_CIPHER_CTX_set_params(ctx, params) != 1)
			goto out;
	}
	if (kind == K_CCM) {
		/* CCM wants the message length before the AAD, the AAD in
		 * one piece and the data in one piece (the caller checked
		 * both fit an int). */
		if (EVP_CipherUpdate(ctx, NULL, &outl, NULL, (int)len) != 1)
			goto out;
		if (aadlen > 0 &&
		    EVP_CipherUpdate(ctx, NULL, &outl, aad, (int)aadlen) != 1)
			goto out;
		/* Even an empty message goes through one update with an
		 * output pointer: that is the call that computes (or, when
		 * decrypting, checks) the tag. */
		wrote = true;
		if (EVP_CipherUpdate(ctx, len ? out : fin, &outl, in,
		    (int)len) != 1 || (size_t)outl != len) {
			rc = enc ? -EIO : COFFER_EAUTH;
			goto out;
		}
	} else {
		if (aead_update(ctx, NULL, aad, aadlen) != 0)
			goto out;
		wrote = true;
		if (aead_update(ctx, out, in, len) != 0)
			goto out;
	}
	/* Stream modes output nothing here; fin only gives OpenSSL a place
	 * to write that is not NULL (a NULL output means something else
	 * to CCM). */
	if (EVP_CipherFinal_ex(ctx, fin, &outl) != 1 || outl != 0) {
		rc = enc ? -EIO : COFFER_EAUTH;
		goto out;
	}
	if (enc) {
		params[0] = OSSL_PARAM_construct_octet_string(
		    OSSL_CIPHER_PARAM_AEAD_TAG, tag, CF_AEAD_TAG_LEN);
		params[1] = OSSL_PARAM_construct_end();
		if (EVP_CIPHER_CTX_get_params(ctx, params) != 1)
			goto out;
	}
	rc = 0;
out:
	if (rc != 0) {
		if (wrote && len > 0)
			cf_wipe(out, len);
		if (enc)
			cf_wipe(tag, CF_AEAD_TAG_LEN);
		/* The failure is reported by rc; entries left on the
		 * thread's OpenSSL error queue would only mislead a later
		 * ERR_get_error. */
		ERR_clear_error();
	}
	cf_wipe(fin, sizeof(fin));
	return rc;
}

/* Validate what every entry point shares.  0 or a negative code. */
static int aead_check(const struct suite_info *si, const uint8_t *iv,
    const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t len,
    const uint8_t *out, const uint8_t *tag)
{
	if (!si || !iv || !tag || (aadlen > 0 && !aad) ||
	    (len > 0 && (!in || !out)))
		return -EINVAL;
	if (si->kind == K_CCM &&
	    (len > CF_AEAD_CCM_MAX_LEN || aadlen > INT_MAX))
		return -EMSGSIZE;
	return 0;
}

static int aead_oneshot(int suite, const uint8_t *key, int enc,
    const uint8_t *iv, const uint8_t *aad, size_t aadlen, const uint8_t *in,
    size_t len, uint8_t *out, uint8_t *tag)
{
	const struct suite_info *si = suite_get(suite);
	const EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *ctx;
	int rc;

	rc = aead_check(si, iv, aad, aadlen, in, len, out, tag);
	if (rc != 0)
		return rc;
	if (!key)
		return -EINVAL;
	cipher = cipher_for(suite);
	if (!cipher)
		return COFFER_ENOTSUP;
	ctx = aead_ctx_new(si, cipher, key, enc);
	if (!ctx)
		return -ENOMEM;
	rc = aead_run(ctx, si->kind, enc, iv, aad, aadlen, in, len, out, tag);
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int cf_aead_encrypt(int suite, const uint8_t *key,
    const uint8_t iv[CF_AEAD_IV_LEN], const uint8_t *aad, size_t aadlen,
    const uint8_t *pt, size_t len, uint8_t *ct,
    uint8_t tag[CF_AEAD_TAG_LEN])
{
	return aead_oneshot(suite, key, 1, iv, aad, aadlen, pt, len, ct, tag);
}

int cf_aead_decrypt(int suite, const uint8_t *key,
    const uint8_t iv[CF_AEAD_IV_LEN], const uint8_t *aad, size_t aadlen,
    const uint8_t *ct, size_t len, uint8_t *pt,
    const uint8_t tag[CF_AEAD_TAG_LEN])
{
	/* aead_run only reads the tag when decrypting. */
	return aead_oneshot(suite, key, 0, iv, aad, aadlen, ct, len, pt,
	    (uint8_t *)(uintptr_t)tag);
}

/* ---- keyed contexts ----------------------------------------------------- */

/* Idle OpenSSL contexts kept per key; more than this many threads at once
 * still work, the extra contexts are just freed after use. */
#define AEAD_POOL_MAX 64

struct cf_aead_key {
	const struct suite_info *si;
	const EVP_CIPHER *cipher;
	int suite;
	uint8_t *key;                 /* cf_secure_alloc(CF_MAX_KEY_LEN) */
	pthread_mutex_t lock;         /* guards idle and nidle */
	/* idle contexts, [0] for decryption and [1] for encryption */
	size_t nidle[2];
	EVP_CIPHER_CTX *idle[2][AEAD_POOL_MAX];
};

int cf_aead_key_new(int suite, const uint8_t *key, cf_aead_key_t **out)
{
	const struct suite_info *si = suite_get(suite);
	const EVP_CIPHER *cipher;
	cf_aead_key_t *k;
	EVP_CIPHER_CTX *first;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!si || !key)
		return -EINVAL;
	cipher = cipher_for(suite);
	if (!cipher)
		return COFFER_ENOTSUP;
	k = cf_zalloc(sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->key = cf_secure_alloc(CF_MAX_KEY_LEN);
	if (!k->key || pthread_mutex_init(&k->lock, NULL) != 0) {
		cf_secure_free(k->key, CF_MAX_KEY_LEN);
		cf_free(k);
		return -ENOMEM;
	}
	memcpy(k->key, key, (size_t)si->keylen);
	k->si = si;
	k->cipher = cipher;
	k->suite = suite;
	/* One context per direction up front: a single-threaded user never
	 * allocates again, and a key OpenSSL rejects fails here. */
	for (int enc = 0; enc < 2; enc++) {
		first = aead_ctx_new(si, cipher, k->key, enc);
		if (!first) {
			cf_aead_key_free(k);
			return -ENOMEM;
		}
		k->idle[enc][k->nidle[enc]++] = first;
	}
	*out = k;
	return 0;
}

void cf_aead_key_free(cf_aead_key_t *k)
{
	size_t i;

	if (!k)
		return;
	for (i = 0; i < k->nidle[0]; i++)
		EVP_CIPHER_CTX_free(k->idle[0][i]);
	for (i = 0; i < k->nidle[1]; i++)
		EVP_CIPHER_CTX_free(k->idle[1][i]);
	cf_secure_free(k->key, CF_MAX_KEY_LEN);
	(void)pthread_mutex_destroy(&k->lock);
	cf_wipe(k, sizeof(*k));
	cf_free(k);
}

int cf_aead_key_suite(const cf_aead_key_t *k)
{
	return k ? k->suite : CF_SUITE_NONE;
}

static EVP_CIPHER_CTX *pool_get(cf_aead_key_t *k, int enc)
{
	EVP_CIPHER_CTX *ctx = NULL;

	(void)pthread_mutex_lock(&k->lock);
	if (k->nidle[enc] > 0)
		ctx = k->idle[enc][--k->nidle[enc]];
	(void)pthread_mutex_unlock(&k->lock);
	if (!ctx)
		ctx = aead_ctx_new(k->si, k->cipher, k->key, enc);
	return ctx;
}

/* Give ctx back after an operation that returned rc (invariant 5). */
static void pool_put(cf_aead_key_t *k, EVP_CIPHER_CTX *ctx, int enc, int rc)
{
	if (rc == 0) {
		(void)pthread_mutex_lock(&k->lock);
		if (k->nidle[enc] < AEAD_POOL_MAX) {
			k->idle[enc][k->nidle[enc]++] = ctx;
			ctx = NULL;
		}
		(void)pthread_mutex_unlock(&k->lock);
	}
	EVP_CIPHER_CTX_free(ctx);
}

static int aead_keyed(cf_aead_key_t *k, int enc, const uint8_t *iv,
    const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t len,
    uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx;
	int rc;

	if (!k)
		return -EINVAL;
	rc = aead_check(k->si, iv, aad, aadlen, in, len, out, tag);
	if (rc != 0)
		return rc;
	ctx = pool_get(k, enc);
	if (!ctx)
		return -ENOMEM;
	rc = aead_run(ctx, k->si->kind, enc, iv, aad, aadlen, in, len, out,
	    tag);
	pool_put(k, ctx, enc, rc);
	return rc;
}

int cf_aead_key_encrypt(cf_aead_key_t *k, const uint8_t iv[CF_AEAD_IV_LEN],
    const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t len,
    uint8_t *ct, uint8_t tag[CF_AEAD_TAG_LEN])
{
	return aead_keyed(k, 1, iv, aad, aadlen, pt, len, ct, tag);
}

int cf_aead_key_decrypt(cf_aead_key_t *k, const uint8_t iv[CF_AEAD_IV_LEN],
    const uint8_t *aad, size_t aadlen, const uint8_t *ct, size_t len,
    uint8_t *pt, const uint8_t tag[CF_AEAD_TAG_LEN])
{
	return aead_keyed(k, 0, iv, aad, aadlen, ct, len, pt,
	    (uint8_t *)(uintptr_t)tag);
}
