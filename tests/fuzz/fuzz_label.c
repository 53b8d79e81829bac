/*
 * fuzz_label: the pool label config block (cf_label_decode).
 *
 * Every input is tried three ways:
 *   1. as is, at its own length (the length checks);
 *   2. as the start of a config block, zero-padded or cut to
 *      CF_LABEL_CONFIG_SIZE (so small inputs make whole blocks);
 *   3. like 2 with the SHA-256 recomputed, as cryptsetup's fuzzers fix
 *      up checksums, so that mutations get past the checksum and reach
 *      the field checks behind it.
 * Whenever a block decodes, the encoding is canonical (label.c invariant
 * 1): encoding the result must give back the same block, and decoding
 * that must give the same config; anything else aborts.  A decode error
 * other than corrupt / unsupported version / out of memory aborts too.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "vdev/vdev.h"
#include "fuzz.h"

#define CFG CF_LABEL_CONFIG_SIZE

static uint8_t blk[CFG], again[CFG];

static void try_decode(const uint8_t *buf, size_t len)
{
	cf_label_config_t c, c2;
	int rc = cf_label_decode(buf, len, &c);

	if (rc != 0) {
		if (rc != COFFER_ECORRUPT && rc != COFFER_ENOTSUP &&
		    rc != -ENOMEM)
			abort();
		return;
	}
	cf_label_encode(&c, again);
	if (memcmp(again, buf, CFG) != 0)
		abort();
	if (cf_label_decode(again, CFG, &c2) != 0)
		abort();
	if (memcmp(&c, &c2, sizeof(c)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t sum[32];

	if (size == 0)
		return 0;       /* nothing to decode (and data may be NULL) */
	try_decode(data, size);

	memset(blk, 0, sizeof(blk));
	memcpy(blk, data, size < CFG ? size : CFG);
	try_decode(blk, CFG);

	/* offset 24, 32 bytes: the checksum field (see label.c) */
	memset(blk + 24, 0, 32);
	cf_sha256(blk, CFG, sum);
	memcpy(blk + 24, sum, 32);
	try_decode(blk, CFG);
	return 0;
}
