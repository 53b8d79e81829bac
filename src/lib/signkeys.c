/*
 * lib: the signing keys of the public API (coffer.h, "signed streams"),
 * over the sign layer's keyring.  Signed send and verified receive are in
 * coffer.c with the rest of replication.
 */
#include "coffer.h"
#include "lib/signer.h"

#include <stdio.h>
#include <stdlib.h>

struct coffer_signer {
	cf_signkey_t *key;
};

const char *coffer_keyring_dir(void)
{
	static __thread char buf[4200];

	if (cf_kr_default_dir(buf, sizeof(buf)) != 0)
		buf[0] = 0;
	return buf;
}

const char *cf_lib_keyring(const char *dir)
{
	return dir ? dir : coffer_keyring_dir();
}

const cf_signkey_t *cf_lib_signer_key(const coffer_signer_t *s)
{
	return s ? s->key : NULL;
}

static void info_of(const cf_signkey_t *k, coffer_signkey_info_t *info)
{
	if (!info)
		return;
	memset(info, 0, sizeof(*info));
	cf_strlcpy(info->name, k->name, sizeof(info->name));
	cf_strlcpy(info->alg, cf_sign_alg_name(k->alg), sizeof(info->alg));
	cf_sign_fp_format(k->fp, info->fingerprint, sizeof(info->fingerprint));
	info->has_private = k->has_private;
	info->encrypted = k->encrypted;
}

int coffer_signkey_generate(const char *keyring, const char *name,
    const char *alg, const coffer_key_t *pass, coffer_signkey_info_t *info)
{
	cf_signkey_t *k;
	int a = cf_sign_alg_parse(alg ? alg : "ed25519");

	cf_clear_errdetail();
	if (a < 0) {
		cf_set_errdetail("unknown key algorithm '%s' (ed25519, "
		    "ecdsa-p256 or ecdsa-p384)", alg);
		return -EINVAL;
	}
	int err = cf_kr_generate(cf_lib_keyring(keyring), name, a,
	    pass ? pass->data : NULL, pass ? pass->len : 0, &k);
	if (!err) {
		info_of(k, info);
		cf_signkey_free(k);
	}
	return err;
}

struct list_arg {
	int (*cb)(const coffer_signkey_info_t *info, void *arg);
	void *arg;
};

static int list_cb(const cf_signkey_t *k, void *arg)
{
	struct list_arg *a = arg;
	coffer_signkey_info_t info;

	info_of(k, &info);
	return a->cb(&info, a->arg);
}

int coffer_signkey_list(const char *keyring,
    int (*cb)(const coffer_signkey_info_t *info, void *arg), void *arg)
{
	struct list_arg a = { cb, arg };

	cf_clear_errdetail();
	return cf_kr_list(cf_lib_keyring(keyring), list_cb, &a);
}

int coffer_signkey_export(const char *keyring, const char *id, char *buf,
    size_t n)
{
	cf_signkey_t *k;

	cf_clear_errdetail();
	int err = cf_kr_find(cf_lib_keyring(keyring), id, &k);
	if (err)
		return err;
	err = cf_sign_pub_format(k, buf, n);
	cf_signkey_free(k);
	return err;
}

int coffer_signkey_trust(const char *keyring, const char *text, size_t len,
    const char *name, coffer_signkey_info_t *info)
{
	cf_signkey_t *k;

	cf_clear_errdetail();
	int err = cf_kr_trust(cf_lib_keyring(keyring), text, len, name, &k);
	if (!err) {
		info_of(k, info);
		cf_signkey_free(k);
	}
	return err;
}

int coffer_signkey_remove(const char *keyring, const char *name)
{
	cf_clear_errdetail();
	return cf_kr_remove(cf_lib_keyring(keyring), name);
}

int coffer_signer_open(const char *keyring, const char *id,
    const coffer_key_t *pass, coffer_signer_t **out)
{
	coffer_signer_t *s;
	cf_signkey_t *k;

	cf_clear_errdetail();
	*out = NULL;
	int err = cf_kr_load_private(cf_lib_keyring(keyring), id,
	    pass ? pass->data : NULL, pass ? pass->len : 0, &k);
	if (err)
		return err;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		cf_signkey_free(k);
		return -ENOMEM;
	}
	s->key = k;
	*out = s;
	return 0;
}

int coffer_signer_info(const coffer_signer_t *s, coffer_signkey_info_t *info)
{
	info_of(s->key, info);
	return 0;
}

void coffer_signer_close(coffer_signer_t *s)
{
	if (!s)
		return;
	cf_signkey_free(s->key);
	free(s);
}
