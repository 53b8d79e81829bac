/*
 * sign: named signing keys, fingerprints and their text form.  See
 * sign.h; the keyring directory is keyring.c.
 *
 * Invariants
 *  1. The algorithm of a key comes from the key (crypto decides it from
 *     the EVP_PKEY); a text line or a stream that names another algorithm
 *     for the same bytes is refused, never believed.
 *  2. A fingerprint is SHA-256 of the raw public key, nothing else, so a
 *     key has one fingerprint wherever it is shown or carried (the
 *     keyring list, `key export`, BEGIN's key_fp).  Fingerprints are
 *     compared with cf_ct_equal.
 *  3. Private key material never passes through this file except inside
 *     crypto's cf_sigkey_t (OpenSSL's secure heap); nothing here prints
 *     or logs a key.
 *  4. Text forms are strict: one canonical encoding (base64 with its
 *     padding, single spaces, at most one trailing newline), so a line
 *     that is accepted is exactly the line `key export` prints.
 */
#include "sign/sign.h"

#include <stdio.h>
#include <stdlib.h>

static const struct {
	int alg;
	const char *name, *rfd_alg, *rfd_curve;
} algs[] = {
	{ CF_SIG_ED25519, "ed25519", "eddsa", "curve25519" },
	{ CF_SIG_ECDSA_P256, "ecdsa-p256", "ecdsa", "nistp256" },
	{ CF_SIG_ECDSA_P384, "ecdsa-p384", "ecdsa", "nistp384" },
};

const char *cf_sign_alg_name(int alg)
{
	for (size_t i = 0; i < CF_ARRAY_SIZE(algs); i++)
		if (algs[i].alg == alg)
			return algs[i].name;
	return NULL;
}

int cf_sign_alg_parse(const char *s)
{
	for (size_t i = 0; s && i < CF_ARRAY_SIZE(algs); i++)
		if (strcmp(algs[i].name, s) == 0)
			return algs[i].alg;
	return -1;
}

const char *cf_sign_rfd_alg(int alg)
{
	for (size_t i = 0; i < CF_ARRAY_SIZE(algs); i++)
		if (algs[i].alg == alg)
			return algs[i].rfd_alg;
	return NULL;
}

const char *cf_sign_rfd_curve(int alg)
{
	for (size_t i = 0; i < CF_ARRAY_SIZE(algs); i++)
		if (algs[i].alg == alg)
			return algs[i].rfd_curve;
	return NULL;
}

int cf_sign_alg_from_rfd(const char *alg, const char *curve)
{
	static const struct { const char *alias; int alg; } curves[] = {
		{ "curve25519", CF_SIG_ED25519 },
		{ "nistp256", CF_SIG_ECDSA_P256 },
		{ "prime256v1", CF_SIG_ECDSA_P256 },
		{ "1.2.840.10045.3.1.7", CF_SIG_ECDSA_P256 },
		{ "nistp384", CF_SIG_ECDSA_P384 },
		{ "secp384r1", CF_SIG_ECDSA_P384 },
		{ "1.3.132.0.34", CF_SIG_ECDSA_P384 },
	};
	if (!alg || !curve)
		return -1;
	for (size_t i = 0; i < CF_ARRAY_SIZE(curves); i++) {
		if (strcmp(curves[i].alias, curve) != 0)
			continue;
		int a = curves[i].alg;
		return strcmp(cf_sign_rfd_alg(a), alg) == 0 ? a : -1;
	}
	return -1;
}

int cf_sign_name_check(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > CF_SIGN_NAME_MAX || name[0] == '.' || name[0] == '-') {
		cf_set_errdetail("key names are 1 to %d characters and do not "
		    "start with '.' or '-'", CF_SIGN_NAME_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		    c == '-' || c == ':')) {
			cf_set_errdetail("key name '%s': only letters, digits "
			    "and _ . - : are allowed", name);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- base64 (RFC 4648, with padding) ----------------------------------- */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encode n bytes; pad with '=' when pad is set.  out must hold
 * 4 * ceil(n / 3) + 1 bytes. */
static void b64_encode(const uint8_t *p, size_t n, int pad, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = b64[(v >> 6) & 63];
		else if (pad)
			out[o++] = '=';
		if (i + 2 < n)
			out[o++] = b64[v & 63];
		else if (pad)
			out[o++] = '=';
	}
	out[o] = 0;
}

static int b64_val(char c)
{
	const char *q = c ? strchr(b64, c) : NULL;
	return q ? (int)(q - b64) : -1;
}

/* Strict decode of padded base64 (canonical: unused bits zero).  Returns
 * the byte count or -1. */
static ptrdiff_t b64_decode(const char *s, size_t n, uint8_t *out,
    size_t cap)
{
	size_t o = 0;

	if (n == 0 || n % 4)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4], pads = 0;
		for (int j = 0; j < 4; j++) {
			if (s[i + j] == '=' && i + 4 == n && j >= 2) {
				v[j] = 0;
				pads++;
				continue;
			}
			if (pads || (v[j] = b64_val(s[i + j])) < 0)
				return -1;
		}
		uint32_t w = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) |
		    ((uint32_t)v[2] << 6) | (uint32_t)v[3];
		size_t k = 3 - (size_t)pads;
		if ((pads == 1 && (w & 0xff)) || (pads == 2 && (w & 0xffff)))
			return -1;
		if (o + k > cap)
			return -1;
		out[o++] = (uint8_t)(w >> 16);
		if (k > 1)
			out[o++] = (uint8_t)(w >> 8);
		if (k > 2)
			out[o++] = (uint8_t)w;
	}
	return (ptrdiff_t)o;
}

void cf_sign_fp_format(const uint8_t fp[CF_SIGN_FP_LEN], char *buf, size_t n)
{
	char t[48];

	b64_encode(fp, CF_SIGN_FP_LEN, 0, t);
	cf_snprintf(buf, n, "SHA256:%s", t);
}

/* ---- keys ---------------------------------------------------------------- */

static int finish(cf_sigkey_t *sk, const char *name, cf_signkey_t **out)
{
	uint8_t pub[CF_SIG_MAX_PUB];
	size_t plen;
	cf_signkey_t *k;
	int err = cf_sigkey_public(sk, pub, &plen);

	if (err) {
		cf_sigkey_free(sk);
		return err;
	}
	if ((k = cf_zalloc(sizeof(*k))) == NULL) {
		cf_sigkey_free(sk);
		return -ENOMEM;
	}
	k->k = sk;
	k->alg = cf_sigkey_alg(sk);
	k->has_private = cf_sigkey_has_private(sk);
	cf_strlcpy(k->name, name, sizeof(k->name));
	cf_sha256(pub, plen, k->fp);
	*out = k;
	return 0;
}

int cf_sign_wrap(cf_sigkey_t *sk, const char *name, cf_signkey_t **out)
{
	return finish(sk, name, out);
}

int cf_sign_pub_format(const cf_signkey_t *k, char *buf, size_t n)
{
	uint8_t pub[CF_SIG_MAX_PUB];
	char t[160];
	size_t plen;
	int err = cf_sigkey_public(k->k, pub, &plen);

	if (err)
		return err;
	b64_encode(pub, plen, 1, t);
	return cf_snprintf(buf, n, "coffer-%s %s %s", cf_sign_alg_name(k->alg),
	    t, k->name);
}

int cf_sign_pub_parse(const char *text, size_t len, const char *rename,
    cf_signkey_t **out)
{
	char line[CF_SIGN_PUB_TEXT], name[CF_SIGN_NAME_MAX + 1];
	uint8_t pub[CF_SIG_MAX_PUB];
	cf_sigkey_t *sk;
	int alg, err;

	*out = NULL;
	if (len && text[len - 1] == '\n')
		len--;
	if (len == 0 || len >= sizeof(line) || memchr(text, 0, len) ||
	    memchr(text, '\n', len)) {
		cf_set_errdetail("not a public key line (\"coffer-ALG BASE64 "
		    "NAME\")");
		return -EINVAL;
	}
	memcpy(line, text, len);
	line[len] = 0;
	char *sp1 = strchr(line, ' ');
	char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || strchr(sp2 + 1, ' ') || strncmp(line, "coffer-", 7)) {
		cf_set_errdetail("not a public key line (\"coffer-ALG BASE64 "
		    "NAME\")");
		return -EINVAL;
	}
	*sp1 = 0;
	*sp2 = 0;
	if ((alg = cf_sign_alg_parse(line + 7)) < 0) {
		cf_set_errdetail("unknown key algorithm '%s'", line + 7);
		return -EINVAL;
	}
	cf_strlcpy(name, rename ? rename : sp2 + 1, sizeof(name));
	if (strlen(rename ? rename : sp2 + 1) > CF_SIGN_NAME_MAX ||
	    cf_sign_name_check(name) != 0) {
		if (strlen(rename ? rename : sp2 + 1) > CF_SIGN_NAME_MAX)
			cf_set_errdetail("key name is longer than %d characters",
			    CF_SIGN_NAME_MAX);
		return -EINVAL;
	}
	ptrdiff_t n = b64_decode(sp1 + 1, strlen(sp1 + 1), pub, sizeof(pub));
	if (n < 0 || n != cf_sig_publen(alg)) {
		cf_set_errdetail("the public key is not %d bytes of base64",
		    cf_sig_publen(alg));
		return -EINVAL;
	}
	err = cf_sigkey_from_public(alg, pub, (size_t)n, &sk);
	if (err) {
		cf_set_errdetail("not a valid %s public key",
		    cf_sign_alg_name(alg));
		return -EINVAL;
	}
	return finish(sk, name, out);
}

int cf_signkey_sign(const cf_signkey_t *k, const void *msg, size_t n,
    uint8_t sig[CF_SIG_MAX_LEN], size_t *siglen)
{
	return cf_sig_sign(k->k, msg, n, sig, siglen);
}

int cf_signkey_verify(const cf_signkey_t *k, const void *msg, size_t n,
    const uint8_t *sig, size_t siglen)
{
	return cf_sig_verify(k->k, msg, n, sig, siglen);
}

void cf_signkey_free(cf_signkey_t *k)
{
	if (!k)
		return;
	cf_sigkey_free(k->k);
	free(k);
}
