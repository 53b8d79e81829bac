/*
 * sign: signing keys and the keyring for signed streams (DESIGN §5,
 * Joyent RFD 14).
 *
 * This file describes the interface that the sign layer provides to the
 * stream glue (send/signstream.c) and to the library: named keys (a key
 * pair, or a trusted public key), their fingerprints and one-line text
 * form, sign and verify, and the keyring directory that holds them.  It
 * depends on util and crypto only; the signature algorithms themselves
 * are crypto's (sig.c, OpenSSL EVP).
 *
 * Keyring layout (one directory, default $COFFER_HOME/keys, overridden
 * by $COFFER_KEYRING):
 *
 *   NAME.pub   every key: one line "coffer-ALG BASE64 NAME\n" (the raw
 *              public key, see cf_sign_pub_format), mode 0644 or tighter
 *   NAME.key   a key pair's private half: PKCS#8 PEM, encrypted when the
 *              key has a passphrase, mode 0600
 *
 * A key with a NAME.key is "private" (ours: it can sign); one with only
 * NAME.pub is "trusted" (someone else's: it can verify).  Receive trusts
 * every key of the keyring, pairs included.
 *
 * Errors: 0 or a negative code with cf_set_errdetail() set to one line.
 * -EACCES for a keyring or key file whose ownership or mode is loose;
 * -ENOENT for a key that does not exist; COFFER_EEXIST for a name or
 * key already present; COFFER_ENOKEY when a private key needs its
 * passphrase; COFFER_EWRONGKEY for a wrong one; -EINVAL for bad text.
 */
#ifndef COFFER_SIGN_H
#define COFFER_SIGN_H

#include "crypto/crypto.h"

#define CF_SIGN_NAME_MAX 64     /* key names: [A-Za-z0-9_.:-], no leading . */
#define CF_SIGN_FP_LEN   32     /* SHA-256 of the raw public key */
#define CF_SIGN_FP_TEXT  52     /* "SHA256:" + 43 base64 chars + NUL */
#define CF_SIGN_PUB_TEXT 256    /* the one-line public form, NUL included */

typedef struct cf_signkey {
	cf_sigkey_t *k;
	int alg;                        /* CF_SIG_* */
	int has_private;
	int encrypted;                  /* its NAME.key has a passphrase */
	char name[CF_SIGN_NAME_MAX + 1];
	uint8_t fp[CF_SIGN_FP_LEN];
} cf_signkey_t;

/* "ed25519", "ecdsa-p256", "ecdsa-p384"; NULL for an unknown number. */
const char *cf_sign_alg_name(int alg);
/* The CF_SIG_* named (as above), or -1. */
int cf_sign_alg_parse(const char *s);
/* RFD 14's names, as BEGIN carries them: alg "eddsa" or "ecdsa", curve
 * "curve25519", "nistp256" or "nistp384". */
const char *cf_sign_rfd_alg(int alg);
const char *cf_sign_rfd_curve(int alg);
/* The CF_SIG_* that an RFD 14 (alg, curve) pair names, the RFD's curve
 * aliases included ("prime256v1", "1.2.840.10045.3.1.7", ...); -1. */
int cf_sign_alg_from_rfd(const char *alg, const char *curve);

/* 0 when name is a valid key name, -EINVAL (with the detail) otherwise. */
int cf_sign_name_check(const char *name);
/* "SHA256:" and the fingerprint in unpadded base64 (as OpenSSH shows). */
void cf_sign_fp_format(const uint8_t fp[CF_SIGN_FP_LEN], char *buf,
    size_t n);

/*
 * The public key as one line of text, without the newline:
 *   "coffer-ed25519 BASE64 NAME"   (also coffer-ecdsa-p256, -p384)
 * BASE64 is the raw public key (32 bytes, or the uncompressed point).
 * cf_sign_pub_parse reads that line back (one trailing newline allowed,
 * nothing else); the name may be replaced by `rename` (NULL: keep it).
 */
int cf_sign_pub_format(const cf_signkey_t *k, char *buf, size_t n);
int cf_sign_pub_parse(const char *text, size_t len, const char *rename,
    cf_signkey_t **out) CF_MUST_CHECK;

/* Sign or verify with a key (see cf_sig_sign, cf_sig_verify). */
int cf_signkey_sign(const cf_signkey_t *k, const void *msg, size_t n,
    uint8_t sig[CF_SIG_MAX_LEN], size_t *siglen) CF_MUST_CHECK;
int cf_signkey_verify(const cf_signkey_t *k, const void *msg, size_t n,
    const uint8_t *sig, size_t siglen) CF_MUST_CHECK;
void cf_signkey_free(cf_signkey_t *k);  /* NULL is ignored */
/* A named key around a crypto key (which it takes over, also on error). */
int cf_sign_wrap(cf_sigkey_t *sk, const char *name, cf_signkey_t **out)
    CF_MUST_CHECK;

/* ---- the keyring directory (keyring.c) ---------------------------------- */

/* The keyring directory: $COFFER_KEYRING, else coffer_home() + "/keys". */
int cf_kr_default_dir(char *buf, size_t n);

/*
 * A new key pair NAME of algorithm alg, written to dir (created 0700 if
 * missing), its private half encrypted with pass when pass is not NULL.
 * *out (may be NULL) receives the key.
 */
int cf_kr_generate(const char *dir, const char *name, int alg,
    const uint8_t *pass, size_t plen, cf_signkey_t **out) CF_MUST_CHECK;
/* Every key in name order (public halves only; has_private and
 * encrypted set).  cb returns non-zero to stop (returned as is). */
int cf_kr_list(const char *dir, int (*cb)(const cf_signkey_t *k,
    void *arg), void *arg) CF_MUST_CHECK;
/*
 * The key named id ("default": the first key pair in name order; or a
 * fingerprint "SHA256:..."), public half only.
 */
int cf_kr_find(const char *dir, const char *id, cf_signkey_t **out)
    CF_MUST_CHECK;
/* The key whose fingerprint is fp; -ENOENT if none. */
int cf_kr_find_fp(const char *dir, const uint8_t fp[CF_SIGN_FP_LEN],
    cf_signkey_t **out) CF_MUST_CHECK;
/* Load the private half of key pair `id` (as cf_kr_find names it). */
int cf_kr_load_private(const char *dir, const char *id, const uint8_t *pass,
    size_t plen, cf_signkey_t **out) CF_MUST_CHECK;
/* Trust a public key given in its one-line text form (rename may give
 * another name).  *out (may be NULL) receives it. */
int cf_kr_trust(const char *dir, const char *text, size_t len,
    const char *rename, cf_signkey_t **out) CF_MUST_CHECK;
/* Remove key NAME (both halves). */
int cf_kr_remove(const char *dir, const char *name) CF_MUST_CHECK;

#endif
