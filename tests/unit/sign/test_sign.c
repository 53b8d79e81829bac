/*
 * Unit tests of the signature primitives (crypto/sig.c) and the sign
 * layer: keys, fingerprints, the one-line public form and the keyring
 * directory with its permission checks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "sign/sign.h"

/* RFC 8032 §7.1, TEST 1: the secret key as PKCS#8 PEM, its public key
 * and the signature of the empty message. */
static const char rfc8032_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";

static void unhex(const char *h, uint8_t *out)
{
	for (size_t i = 0; h[2 * i]; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static void test_ed25519_kat(void)
{
	uint8_t pub[CF_SIG_MAX_PUB], want_pub[32], want_sig[64];
	uint8_t sig[CF_SIG_MAX_LEN];
	size_t plen, slen;
	cf_sigkey_t *k, *pk;

	unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
	    want_pub);
	unhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
	    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
	    want_sig);
	CHECK_OK(cf_sigkey_from_pem((const uint8_t *)rfc8032_pem,
	    strlen(rfc8032_pem), NULL, 0, &k));
	CHECK(cf_sigkey_alg(k) == CF_SIG_ED25519);
	CHECK(cf_sigkey_has_private(k));
	CHECK_OK(cf_sigkey_public(k, pub, &plen));
	CHECK(plen == 32 && memcmp(pub, want_pub, 32) == 0);
	CHECK_OK(cf_sig_sign(k, "", 0, sig, &slen));
	CHECK(slen == 64 && memcmp(sig, want_sig, 64) == 0);
	/* the public half alone verifies it, and nothing else */
	CHECK_OK(cf_sigkey_from_public(CF_SIG_ED25519, want_pub, 32, &pk));
	CHECK(!cf_sigkey_has_private(pk));
	CHECK_OK(cf_sig_verify(pk, "", 0, want_sig, 64));
	want_sig[10] ^= 1;
	CHECK_RC(cf_sig_verify(pk, "", 0, want_sig, 64), COFFER_EAUTH);
	want_sig[10] ^= 1;
	CHECK_RC(cf_sig_verify(pk, "x", 1, want_sig, 64), COFFER_EAUTH);
	CHECK_RC(cf_sig_verify(pk, "", 0, want_sig, 63), COFFER_EAUTH);
	CHECK_RC(cf_sig_sign(pk, "", 0, sig, &slen), -EINVAL);
	cf_sigkey_free(pk);
	cf_sigkey_free(k);
}

static void test_all_algs(void)
{
	static const int algs[] = { CF_SIG_ED25519, CF_SIG_ECDSA_P256,
	    CF_SIG_ECDSA_P384 };
	for (size_t i = 0; i < CF_ARRAY_SIZE(algs); i++) {
		int a = algs[i];
		cf_sigkey_t *k, *pk, *k2;
		uint8_t pub[CF_SIG_MAX_PUB], sig[CF_SIG_MAX_LEN];
		size_t plen, slen;
		uint8_t *pem;
		size_t pemlen;
		const char msg[] = "coffer signed streams";

		CHECK_OK(cf_sigkey_generate(a, &k));
		CHECK(cf_sigkey_alg(k) == a);
		CHECK_OK(cf_sigkey_public(k, pub, &plen));
		CHECK(plen == (size_t)cf_sig_publen(a));
		CHECK_OK(cf_sig_sign(k, msg, sizeof(msg), sig, &slen));
		CHECK(slen == (size_t)cf_sig_len(a));
		CHECK_OK(cf_sigkey_from_public(a, pub, plen, &pk));
		CHECK_OK(cf_sig_verify(pk, msg, sizeof(msg), sig, slen));
		/* every byte of the fixed-width signature matters */
		for (size_t j = 0; j < slen; j += 7) {
			sig[j] ^= 0x40;
			CHECK_RC(cf_sig_verify(pk, msg, sizeof(msg), sig, slen),
			    COFFER_EAUTH);
			sig[j] ^= 0x40;
		}
		/* all-zero r || s is refused, not a crash */
		uint8_t zero[CF_SIG_MAX_LEN] = { 0 };
		CHECK_RC(cf_sig_verify(pk, msg, sizeof(msg), zero, slen),
		    COFFER_EAUTH);
		/* the wrong length for this algorithm */
		CHECK_RC(cf_sigkey_from_public(a, pub, plen - 1, &k2), -EINVAL);
		if (a != CF_SIG_ED25519) {
			/* a point off the curve */
			pub[plen - 1] ^= 1;
			CHECK_RC(cf_sigkey_from_public(a, pub, plen, &k2),
			    -EINVAL);
			pub[plen - 1] ^= 1;
		}
		/* PEM round trip, plain and encrypted */
		CHECK_OK(cf_sigkey_to_pem(k, NULL, 0, &pem, &pemlen));
		CHECK(!cf_sigkey_pem_encrypted(pem, pemlen));
		CHECK_OK(cf_sigkey_from_pem(pem, pemlen, NULL, 0, &k2));
		CHECK_OK(cf_sig_sign(k2, msg, sizeof(msg), sig, &slen));
		CHECK_OK(cf_sig_verify(pk, msg, sizeof(msg), sig, slen));
		cf_sigkey_free(k2);
		cf_secure_free(pem, pemlen);
		CHECK_OK(cf_sigkey_to_pem(k, (const uint8_t *)"correct horse",
		    13, &pem, &pemlen));
		CHECK(cf_sigkey_pem_encrypted(pem, pemlen));
		CHECK_RC(cf_sigkey_from_pem(pem, pemlen, NULL, 0, &k2),
		    COFFER_ENOKEY);
		CHECK_RC(cf_sigkey_from_pem(pem, pemlen,
		    (const uint8_t *)"wrong horse", 11, &k2), COFFER_EWRONGKEY);
		CHECK_OK(cf_sigkey_from_pem(pem, pemlen,
		    (const uint8_t *)"correct horse", 13, &k2));
		CHECK(cf_sigkey_alg(k2) == a);
		cf_sigkey_free(k2);
		cf_secure_free(pem, pemlen);
		cf_sigkey_free(pk);
		cf_sigkey_free(k);
	}
	CHECK_RC(cf_sigkey_from_pem((const uint8_t *)"junk", 4, NULL, 0,
	    &(cf_sigkey_t *){ NULL }), -EINVAL);
}

static void test_names_and_text(void)
{
	cf_sigkey_t *sk;
	cf_signkey_t *k, *k2;
	char line[CF_SIGN_PUB_TEXT], fp[CF_SIGN_FP_TEXT];

	CHECK_OK(cf_sign_name_check("alice"));
	CHECK_OK(cf_sign_name_check("backup-2024.key:1_x"));
	CHECK_RC(cf_sign_name_check(""), -EINVAL);
	CHECK_RC(cf_sign_name_check(".hidden"), -EINVAL);
	CHECK_RC(cf_sign_name_check("-opt"), -EINVAL);
	CHECK_RC(cf_sign_name_check("a/b"), -EINVAL);
	CHECK_RC(cf_sign_name_check("a b"), -EINVAL);
	CHECK(cf_sign_alg_from_rfd("eddsa", "curve25519") == CF_SIG_ED25519);
	CHECK(cf_sign_alg_from_rfd("ecdsa", "prime256v1") == CF_SIG_ECDSA_P256);
	CHECK(cf_sign_alg_from_rfd("ecdsa", "1.3.132.0.34") ==
	    CF_SIG_ECDSA_P384);
	CHECK(cf_sign_alg_from_rfd("ecdsa", "curve25519") == -1);
	CHECK(cf_sign_alg_from_rfd("eddsa", "nistp256") == -1);
	CHECK(cf_sign_alg_from_rfd("rsa", "nistp256") == -1);

	CHECK_OK(cf_sigkey_from_pem((const uint8_t *)rfc8032_pem,
	    strlen(rfc8032_pem), NULL, 0, &sk));
	CHECK_OK(cf_sign_wrap(sk, "rfc", &k));
	CHECK_OK(cf_sign_pub_format(k, line, sizeof(line)));
	CHECK(strcmp(line, "coffer-ed25519 "
	    "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo= rfc") == 0);
	/* the fingerprint is SHA-256 of the raw public key */
	uint8_t pub[32], want[32];
	unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
	    pub);
	cf_sha256(pub, 32, want);
	CHECK(memcmp(k->fp, want, 32) == 0);
	cf_sign_fp_format(k->fp, fp, sizeof(fp));
	CHECK(strncmp(fp, "SHA256:", 7) == 0 && strlen(fp) == 7 + 43);
	/* parse back, with and without a newline, renamed */
	CHECK_OK(cf_sign_pub_parse(line, strlen(line), NULL, &k2));
	CHECK(strcmp(k2->name, "rfc") == 0 && !k2->has_private);
	CHECK(memcmp(k2->fp, k->fp, 32) == 0);
	cf_signkey_free(k2);
	{
		char nl[CF_SIGN_PUB_TEXT + 1];
		snprintf(nl, sizeof(nl), "%s\n", line);
		CHECK_OK(cf_sign_pub_parse(nl, strlen(nl), "other", &k2));
		CHECK(strcmp(k2->name, "other") == 0);
		cf_signkey_free(k2);
	}
	/* strictness: every one of these is refused */
	static const char *bad[] = {
		"coffer-ed25519 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
		"coffer-ed25519  11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo= x",
		"coffer-ed25519 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo x",
		"coffer-ed25519 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURp= x",
		"coffer-ecdsa-p256 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo= x",
		"coffer-rsa 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo= x",
		"ssh-ed25519 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo= x",
		"coffer-ed25519 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo= .x",
		"coffer-ed25519 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo= x y",
		"",
	};
	for (size_t i = 0; i < CF_ARRAY_SIZE(bad); i++) {
		k2 = NULL;
		CHECK_RC(cf_sign_pub_parse(bad[i], strlen(bad[i]), NULL, &k2),
		    -EINVAL);
		CHECK(k2 == NULL);
	}
	CHECK_RC(cf_sign_pub_parse("coffer-ed25519 a\n\n", 18, NULL, &k2),
	    -EINVAL);
	cf_signkey_free(k);
}

static char *kr_path(const char *leaf)
{
	static char p[4096];
	snprintf(p, sizeof(p), "%s/%s", th_tmpdir(), leaf);
	return p;
}

struct cnt {
	int n, priv;
	char names[8][CF_SIGN_NAME_MAX + 1];
};

static int count_cb(const cf_signkey_t *k, void *arg)
{
	struct cnt *c = arg;
	if (c->n < 8)
		cf_strlcpy(c->names[c->n], k->name, sizeof(c->names[0]));
	c->n++;
	c->priv += k->has_private;
	return 0;
}

static void test_keyring(void)
{
	char dir[4096], dir2[4096], line[CF_SIGN_PUB_TEXT], p[4200];
	cf_signkey_t *a, *b, *k;
	struct cnt c;

	cf_strlcpy(dir, kr_path("keys"), sizeof(dir));
	cf_strlcpy(dir2, kr_path("other"), sizeof(dir2));
	/* no keyring yet: empty, not an error */
	memset(&c, 0, sizeof(c));
	CHECK_OK(cf_kr_list(dir, count_cb, &c));
	CHECK(c.n == 0);
	CHECK_RC(cf_kr_find(dir, "default", &k), -ENOENT);

	CHECK_OK(cf_kr_generate(dir, "zed", CF_SIG_ECDSA_P256, NULL, 0, &a));
	CHECK_OK(cf_kr_generate(dir, "amy", CF_SIG_ED25519,
	    (const uint8_t *)"s3cret pass", 11, &b));
	struct stat st;
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
	snprintf(p, sizeof(p), "%s/amy.key", dir);
	CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK_RC(cf_kr_generate(dir, "amy", CF_SIG_ED25519, NULL, 0, NULL),
	    COFFER_EEXIST);

	memset(&c, 0, sizeof(c));
	CHECK_OK(cf_kr_list(dir, count_cb, &c));
	CHECK(c.n == 2 && c.priv == 2);
	CHECK(strcmp(c.names[0], "amy") == 0 && strcmp(c.names[1], "zed") == 0);

	/* default: the first key pair in name order */
	CHECK_OK(cf_kr_find(dir, "default", &k));
	CHECK(strcmp(k->name, "amy") == 0 && k->encrypted);
	cf_signkey_free(k);
	/* by fingerprint */
	char fp[CF_SIGN_FP_TEXT];
	cf_sign_fp_format(a->fp, fp, sizeof(fp));
	CHECK_OK(cf_kr_find(dir, fp, &k));
	CHECK(strcmp(k->name, "zed") == 0);
	cf_signkey_free(k);
	CHECK_OK(cf_kr_find_fp(dir, b->fp, &k));
	CHECK(strcmp(k->name, "amy") == 0);
	cf_signkey_free(k);

	/* private halves: the passphrase, and signing with what was loaded */
	CHECK_RC(cf_kr_load_private(dir, "amy", NULL, 0, &k), COFFER_ENOKEY);
	CHECK_RC(cf_kr_load_private(dir, "amy", (const uint8_t *)"wrong pass",
	    10, &k), COFFER_EWRONGKEY);
	CHECK_OK(cf_kr_load_private(dir, "amy", (const uint8_t *)"s3cret pass",
	    11, &k));
	uint8_t sig[CF_SIG_MAX_LEN];
	size_t slen;
	CHECK_OK(cf_signkey_sign(k, "m", 1, sig, &slen));
	CHECK_OK(cf_signkey_verify(b, "m", 1, sig, slen));
	cf_signkey_free(k);

	/* export from one keyring, trust in another; then it verifies */
	CHECK_OK(cf_sign_pub_format(b, line, sizeof(line)));
	CHECK_OK(cf_kr_trust(dir2, line, strlen(line), NULL, &k));
	CHECK(!k->has_private);
	cf_signkey_free(k);
	CHECK_RC(cf_kr_trust(dir2, line, strlen(line), NULL, NULL),
	    COFFER_EEXIST);
	CHECK_RC(cf_kr_trust(dir2, line, strlen(line), "again", NULL),
	    COFFER_EEXIST);          /* the same key under another name */
	CHECK_RC(cf_kr_load_private(dir2, "amy", NULL, 0, &k), -ENOENT);
	CHECK_RC(cf_kr_find(dir2, "default", &k), -ENOENT);
	CHECK_OK(cf_kr_find_fp(dir2, b->fp, &k));
	CHECK_OK(cf_signkey_verify(k, "m", 1, sig, slen));
	cf_signkey_free(k);

	/* loose permissions are refused, each with its reason */
	CHECK(chmod(dir, 0770) == 0);
	CHECK_RC(cf_kr_list(dir, count_cb, &c), -EACCES);
	CHECK(strstr(coffer_errdetail(), "writable by group or others"));
	CHECK_RC(cf_kr_load_private(dir, "zed", NULL, 0, &k), -EACCES);
	CHECK(chmod(dir, 0700) == 0);
	snprintf(p, sizeof(p), "%s/zed.key", dir);
	CHECK(chmod(p, 0640) == 0);
	CHECK_RC(cf_kr_load_private(dir, "zed", NULL, 0, &k), -EACCES);
	CHECK(strstr(coffer_errdetail(), "private key"));
	CHECK(strstr(coffer_errdetail(), "chmod 600"));
	CHECK_RC(cf_kr_list(dir, count_cb, &c), -EACCES);
	CHECK(chmod(p, 0600) == 0);
	snprintf(p, sizeof(p), "%s/zed.pub", dir);
	CHECK(chmod(p, 0666) == 0);
	CHECK_RC(cf_kr_find(dir, "zed", &k), -EACCES);
	CHECK(chmod(p, 0644) == 0);
	/* a symbolic link in place of a key file */
	char lp[4200];
	snprintf(lp, sizeof(lp), "%s/link.pub", dir);
	CHECK(symlink(p, lp) == 0);
	CHECK_RC(cf_kr_find(dir, "link", &k), -ELOOP);
	CHECK(unlink(lp) == 0);
	/* owner checks need another uid: only as root */
	if (geteuid() == 0) {
		CHECK(chown(p, 12345, 12345) == 0);
		CHECK_RC(cf_kr_find(dir, "zed", &k), -EACCES);
		CHECK(strstr(coffer_errdetail(), "owned by uid 12345"));
		CHECK(chown(p, 0, 0) == 0);
		CHECK(chown(dir, 12345, 12345) == 0);
		CHECK_RC(cf_kr_find(dir, "zed", &k), -EACCES);
		CHECK(chown(dir, 0, 0) == 0);
	}
	/* the two halves must belong together */
	CHECK_OK(cf_kr_generate(dir2, "zed", CF_SIG_ECDSA_P256, NULL, 0, NULL));
	char q[4200];
	snprintf(q, sizeof(q), "%s/zed.pub", dir2);
	snprintf(p, sizeof(p), "%s/zed.pub", dir);
	CHECK(unlink(q) == 0);
	CHECK(link(p, q) == 0);
	CHECK_RC(cf_kr_load_private(dir2, "zed", NULL, 0, &k), -EINVAL);
	CHECK(strstr(coffer_errdetail(), "not two halves"));

	/* remove */
	CHECK_OK(cf_kr_remove(dir, "zed"));
	CHECK_RC(cf_kr_find(dir, "zed", &k), -ENOENT);
	CHECK_RC(cf_kr_remove(dir, "zed"), -ENOENT);
	snprintf(p, sizeof(p), "%s/zed.key", dir);
	CHECK(access(p, F_OK) != 0);
	memset(&c, 0, sizeof(c));
	CHECK_OK(cf_kr_list(dir, count_cb, &c));
	CHECK(c.n == 1);
	cf_signkey_free(a);
	cf_signkey_free(b);
}

void test_main(void)
{
	RUN(test_ed25519_kat);
	RUN(test_all_algs);
	RUN(test_names_and_text);
	RUN(test_keyring);
}
