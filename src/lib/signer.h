/*
 * lib: what coffer.c needs from signkeys.c (the signing keys of the
 * public API) to send signed streams.
 */
#ifndef COFFER_LIB_SIGNER_H
#define COFFER_LIB_SIGNER_H

#include "sign/sign.h"

/* The key pair behind a coffer_signer_t. */
const cf_signkey_t *cf_lib_signer_key(const coffer_signer_t *s);
/* The keyring directory to use: dir, or coffer_keyring_dir(). */
const char *cf_lib_keyring(const char *dir);

#endif
