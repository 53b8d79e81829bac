/*
 * sig: Ed25519 and ECDSA (P-256, P-384) signatures over OpenSSL EVP.
 * See crypto.h for the contract.
 *
 * Invariants
 *  1. Nothing here implements a primitive: keys, signing and verifying
 *     are EVP_PKEY operations; the only conversion done by hand is the
 *     ECDSA signature between DER (OpenSSL) and fixed-width r || s (the
 *     stream), through ECDSA_SIG and BN_bn2binpad / BN_bin2bn.
 *  2. A key's algorithm is decided from the key itself (EVP_PKEY type and
 *     curve name), never from a caller's claim; a key of any other kind
 *     or curve is refused.
 *  3. Private keys are generated and decoded while OpenSSL's secure heap
 *     is initialized, so their scalars live in locked memory that
 *     OpenSSL wipes on free.  PEM text of a private key only ever sits in
 *     cf_secure_alloc memory or in a BIO_s_secmem buffer.
 *  4. cf_sig_verify returns COFFER_EAUTH for every kind of bad signature
 *     (wrong length, not DER-convertible, does not verify): a caller
 *     cannot tell them apart and need not.
 */
#include "crypto/crypto.h"

#include <pthread.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

struct cf_sigkey {
	EVP_PKEY *pkey;
	int alg;
	int priv;
};

static pthread_once_t secheap_once = PTHREAD_ONCE_INIT;

static void secheap_init(void)
{
	/* 256 KiB, 32-byte granules; 2 means "usable, but not locked" */
	if (CRYPTO_secure_malloc_initialized() == 0 &&
	    CRYPTO_secure_malloc_init(256u << 10, 32) == 0)
		cf_log(COFFER_LOG_DEBUG, "no OpenSSL secure heap");
}

int cf_sig_len(int alg)
{
	switch (alg) {
	case CF_SIG_ED25519: return 64;
	case CF_SIG_ECDSA_P256: return 64;
	case CF_SIG_ECDSA_P384: return 96;
	}
	return -EINVAL;
}

int cf_sig_publen(int alg)
{
	switch (alg) {
	case CF_SIG_ED25519: return 32;
	case CF_SIG_ECDSA_P256: return 65;
	case CF_SIG_ECDSA_P384: return 97;
	}
	return -EINVAL;
}

static const char *curve_of(int alg)
{
	return alg == CF_SIG_ECDSA_P256 ? "prime256v1" :
	    alg == CF_SIG_ECDSA_P384 ? "secp384r1" : NULL;
}

/* The algorithm of a key, from the key: 0 when it is none of ours. */
static int alg_of(EVP_PKEY *p)
{
	char name[64];
	size_t n = 0;

	if (EVP_PKEY_is_a(p, "ED25519"))
		return CF_SIG_ED25519;
	if (!EVP_PKEY_is_a(p, "EC"))
		return 0;
	if (EVP_PKEY_get_utf8_string_param(p, OSSL_PKEY_PARAM_GROUP_NAME, name,
	    sizeof(name), &n) != 1)
		return 0;
	if (strcmp(name, "prime256v1") == 0 || strcmp(name, "P-256") == 0)
		return CF_SIG_ECDSA_P256;
	if (strcmp(name, "secp384r1") == 0 || strcmp(name, "P-384") == 0)
		return CF_SIG_ECDSA_P384;
	return 0;
}

static int wrap(EVP_PKEY *p, int priv, cf_sigkey_t **out)
{
	cf_sigkey_t *k = cf_zalloc(sizeof(*k));
	int alg = alg_of(p);

	if (!alg) {
		EVP_PKEY_free(p);
		free(k);
		return COFFER_ENOTSUP;
	}
	if (!k) {
		EVP_PKEY_free(p);
		return -ENOMEM;
	}
	k->pkey = p;
	k->alg = alg;
	k->priv = priv;
	*out = k;
	return 0;
}

int cf_sigkey_generate(int alg, cf_sigkey_t **out)
{
	EVP_PKEY *p = NULL;

	*out = NULL;
	pthread_once(&secheap_once, secheap_init);
	if (alg == CF_SIG_ED25519)
		p = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else if (curve_of(alg))
		p = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve_of(alg));
	else
		return -EINVAL;
	ERR_clear_error();
	if (!p)
		return -EIO;
	return wrap(p, 1, out);
}

int cf_sigkey_from_public(int alg, const uint8_t *pub, size_t len,
    cf_sigkey_t **out)
{
	EVP_PKEY *p = NULL;
	int err = -EINVAL;

	*out = NULL;
	if (cf_sig_publen(alg) < 0 || len != (size_t)cf_sig_publen(alg))
		return -EINVAL;
	if (alg == CF_SIG_ED25519) {
		p = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, len);
	} else {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		OSSL_PARAM prm[3];

		prm[0] = OSSL_PARAM_construct_utf8_string(
		    OSSL_PKEY_PARAM_GROUP_NAME, (char *)curve_of(alg), 0);
		prm[1] = OSSL_PARAM_construct_octet_string(
		    OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, len);
		prm[2] = OSSL_PARAM_construct_end();
		if (pub[0] != 0x04 || !c || EVP_PKEY_fromdata_init(c) != 1 ||
		    EVP_PKEY_fromdata(c, &p, EVP_PKEY_PUBLIC_KEY, prm) != 1)
			p = NULL;
		EVP_PKEY_CTX_free(c);
		if (p) {
			/* the point must lie on the curve */
			EVP_PKEY_CTX *v = EVP_PKEY_CTX_new_from_pkey(NULL, p,
			    NULL);
			if (!v || EVP_PKEY_public_check(v) != 1) {
				EVP_PKEY_free(p);
				p = NULL;
			}
			EVP_PKEY_CTX_free(v);
		}
	}
	ERR_clear_error();
	if (!p)
		return err;
	err = wrap(p, 0, out);
	if (!err && (*out)->alg != alg) {
		cf_sigkey_free(*out);
		*out = NULL;
		err = -EINVAL;
	}
	return err;
}

int cf_sigkey_pem_encrypted(const uint8_t *pem, size_t len)
{
	static const char tag[] = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
	size_t t = sizeof(tag) - 1;

	for (size_t i = 0; i + t <= len; i++)
		if (memcmp(pem + i, tag, t) == 0)
			return 1;
	return 0;
}

/* PEM password callback: the passphrase given, or refuse (no prompt). */
struct pwarg {
	const uint8_t *pass;
	size_t plen;
	int asked;
};

static int pw_cb(char *buf, int size, int rwflag, void *u)
{
	struct pwarg *a = u;

	(void)rwflag;
	a->asked = 1;
	if (!a->pass || a->plen > (size_t)size || a->plen > INT32_MAX)
		return -1;
	memcpy(buf, a->pass, a->plen);
	return (int)a->plen;
}

int cf_sigkey_from_pem(const uint8_t *pem, size_t len, const uint8_t *pass,
    size_t plen, cf_sigkey_t **out)
{
	struct pwarg a = { pass, plen, 0 };
	int enc = cf_sigkey_pem_encrypted(pem, len);
	EVP_PKEY *p;
	BIO *b;

	*out = NULL;
	if (len > INT32_MAX)
		return -EINVAL;
	if (enc && !pass)
		return COFFER_ENOKEY;
	pthread_once(&secheap_once, secheap_init);
	b = BIO_new_mem_buf(pem, (int)len);
	if (!b)
		return -ENOMEM;
	p = PEM_read_bio_PrivateKey(b, NULL, pw_cb, &a);
	BIO_free(b);
	ERR_clear_error();
	if (!p)
		return enc ? COFFER_EWRONGKEY : -EINVAL;
	return wrap(p, 1, out);
}

int cf_sigkey_to_pem(const cf_sigkey_t *k, const uint8_t *pass, size_t plen,
    uint8_t **out, size_t *outlen)
{
	struct pwarg a = { pass, plen, 0 };
	BIO *b;
	char *data;
	long n;
	int ok, err = 0;

	*out = NULL;
	*outlen = 0;
	if (!k->priv)
		return -EINVAL;
	if (plen > INT32_MAX)
		return -EINVAL;
	pthread_once(&secheap_once, secheap_init);
	b = BIO_new(BIO_s_secmem());
	if (!b)
		return -ENOMEM;
	if (pass)
		ok = PEM_write_bio_PKCS8PrivateKey(b, k->pkey,
		    EVP_aes_256_cbc(), NULL, 0, pw_cb, &a);
	else
		ok = PEM_write_bio_PKCS8PrivateKey(b, k->pkey, NULL, NULL, 0,
		    NULL, NULL);
	n = ok == 1 ? BIO_get_mem_data(b, &data) : 0;
	if (n <= 0) {
		err = -EIO;
	} else if ((*out = cf_secure_alloc((size_t)n)) == NULL) {
		err = -ENOMEM;
	} else {
		memcpy(*out, data, (size_t)n);
		*outlen = (size_t)n;
	}
	BIO_free(b);            /* secmem: wiped */
	ERR_clear_error();
	return err;
}

int cf_sigkey_alg(const cf_sigkey_t *k)
{
	return k->alg;
}

int cf_sigkey_has_private(const cf_sigkey_t *k)
{
	return k->priv;
}

int cf_sigkey_public(const cf_sigkey_t *k, uint8_t pub[CF_SIG_MAX_PUB],
    size_t *len)
{
	size_t want = (size_t)cf_sig_publen(k->alg), n = 0;
	int ok;

	if (k->alg == CF_SIG_ED25519) {
		n = CF_SIG_MAX_PUB;
		ok = EVP_PKEY_get_raw_public_key(k->pkey, pub, &n);
	} else {
		ok = EVP_PKEY_get_octet_string_param(k->pkey,
		    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, CF_SIG_MAX_PUB, &n);
	}
	ERR_clear_error();
	if (ok != 1 || n != want || (k->alg != CF_SIG_ED25519 && pub[0] != 4))
		return -EIO;
	*len = n;
	return 0;
}

static const EVP_MD *md_of(int alg)
{
	return alg == CF_SIG_ECDSA_P256 ? EVP_sha256() :
	    alg == CF_SIG_ECDSA_P384 ? EVP_sha384() : NULL;
}

int cf_sig_sign(const cf_sigkey_t *k, const void *msg, size_t n,
    uint8_t sig[CF_SIG_MAX_LEN], size_t *siglen)
{
	EVP_MD_CTX *c;
	uint8_t der[160];
	size_t dlen = sizeof(der);
	size_t w = (size_t)cf_sig_len(k->alg);
	int err = -EIO;

	*siglen = 0;
	if (!k->priv)
		return -EINVAL;
	if ((c = EVP_MD_CTX_new()) == NULL)
		return -ENOMEM;
	if (EVP_DigestSignInit(c, NULL, md_of(k->alg), NULL, k->pkey) != 1)
		goto out;
	if (k->alg == CF_SIG_ED25519) {
		size_t s = CF_SIG_MAX_LEN;
		if (EVP_DigestSign(c, sig, &s, msg, n) == 1 && s == 64) {
			*siglen = 64;
			err = 0;
		}
	} else if (EVP_DigestSign(c, der, &dlen, msg, n) == 1) {
		const unsigned char *q = der;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)dlen);
		const BIGNUM *r, *s;

		if (es) {
			ECDSA_SIG_get0(es, &r, &s);
			if (BN_bn2binpad(r, sig, (int)(w / 2)) == (int)(w / 2) &&
			    BN_bn2binpad(s, sig + w / 2, (int)(w / 2)) ==
			    (int)(w / 2)) {
				*siglen = w;
				err = 0;
			}
			ECDSA_SIG_free(es);
		}
	}
out:
	EVP_MD_CTX_free(c);
	ERR_clear_error();
	if (err)
		memset(sig, 0, CF_SIG_MAX_LEN);
	return err;
}

int cf_sig_verify(const cf_sigkey_t *k, const void *msg, size_t n,
    const uint8_t *sig, size_t siglen)
{
	size_t w = (size_t)cf_sig_len(k->alg);
	unsigned char *der = NULL;
	EVP_MD_CTX *c;
	int dlen = 0, rc = COFFER_EAUTH;

	if (siglen != w)
		return COFFER_EAUTH;
	if (k->alg != CF_SIG_ED25519) {
		ECDSA_SIG *es = ECDSA_SIG_new();
		BIGNUM *r = BN_bin2bn(sig, (int)(w / 2), NULL);
		BIGNUM *s = BN_bin2bn(sig + w / 2, (int)(w / 2), NULL);

		if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
			BN_free(r);
			BN_free(s);
			ECDSA_SIG_free(es);
			ERR_clear_error();
			return -ENOMEM;
		}
		dlen = i2d_ECDSA_SIG(es, &der);
		ECDSA_SIG_free(es);
		if (dlen <= 0) {
			ERR_clear_error();
			return -ENOMEM;
		}
	}
	if ((c = EVP_MD_CTX_new()) == NULL) {
		OPENSSL_free(der);
		return -ENOMEM;
	}
	if (EVP_DigestVerifyInit(c, NULL, md_of(k->alg), NULL, k->pkey) == 1) {
		int ok = der ? EVP_DigestVerify(c, der, (size_t)dlen, msg, n) :
		    EVP_DigestVerify(c, sig, siglen, msg, n);
		if (ok == 1)
			rc = 0;
	} else {
		rc = -EIO;
	}
	EVP_MD_CTX_free(c);
	OPENSSL_free(der);
	ERR_clear_error();
	return rc;
}

void cf_sigkey_free(cf_sigkey_t *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	cf_wipe(k, sizeof(*k));
	free(k);
}
