/*
 * TEMPORARY test-only shim, linked only into the vdev test executables
 * of branch h-vdev: the real util.c and crypto.c are being written on
 * another branch.  It provides just what src/vdev and the test harness
 * call.  Delete this file when the vdev tests switch to libcoffer after
 * the merge (see meson.build next to it).
 */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "util/util.h"
#include "crypto/crypto.h"

void cf_sha256(const void *buf, size_t len, uint8_t out[32])
{
	unsigned int n = 32;

	if (EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL) != 1)
		abort();
}

static _Thread_local char corrupt_site[128];

int cf_corrupt_at(const char *file, int line)
{
	snprintf(corrupt_site, sizeof(corrupt_site), "%s:%d", file, line);
	return COFFER_ECORRUPT;
}

const char *cf_corrupt_site(void)
{
	return corrupt_site;
}

const char *coffer_strerror(int err)
{
	switch (err) {
	case COFFER_ECORRUPT:
		return "corrupt on-disk structure";
	case COFFER_ENOTSUP:
		return "unsupported feature or version";
	default:
		return err < 0 && err > -1000 ? strerror(-err) : "error";
	}
}

const char *coffer_errdetail(void)
{
	return cf_corrupt_site();
}
