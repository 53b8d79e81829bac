/*
 * fuzz_uberblock: an uberblock slot (cf_ub_decode, spa.h).
 *
 * The input, zero-padded or cut to CF_UB_SLOT_SIZE bytes, is tried two
 * ways:
 *   1. as is (the magic and checksum checks);
 *   2. with the SHA-256 of bytes [0, 992) recomputed into [992, 1024),
 *      as cryptsetup's fuzzers fix up checksums, so that mutations get
 *      past the checksum and reach the field checks behind it.
 * A decode error other than COFFER_ECORRUPT / COFFER_ENOTSUP aborts.
 * Whenever a slot decodes, the encoding is canonical: cf_ub_encode must
 * give back the same slot, and decoding that must give the same
 * uberblock; anything else aborts.  In 2, where the checksum is known to
 * match, a slot with the magic must give COFFER_ENOTSUP exactly when
 * its version is above CF_UB_VERSION, whatever the other bytes hold: a
 * newer version's slot read as corrupt would be skipped, and import
 * would roll back to an older txg instead of refusing the pool.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "spa/spa.h"
#include "fuzz.h"

#define SLOT CF_UB_SLOT_SIZE
#define SUM_OFF 992     /* the checksum field (see spa.h) */

static uint8_t slot[SLOT], again[SLOT];

static void try_decode(int sealed)
{
	cf_uberblock_t ub, ub2;
	int rc = cf_ub_decode(slot, &ub);

	if (sealed && le64_get(slot) == CF_UB_MAGIC &&
	    (rc == COFFER_ENOTSUP) != (le64_get(slot + 8) > CF_UB_VERSION))
		abort();
	if (rc != 0) {
		if (rc != COFFER_ECORRUPT && rc != COFFER_ENOTSUP)
			abort();
		return;
	}
	cf_ub_encode(&ub, again);
	if (memcmp(again, slot, SLOT) != 0)
		abort();
	if (cf_ub_decode(again, &ub2) != 0)
		abort();
	if (memcmp(&ub, &ub2, sizeof(ub)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;       /* nothing to decode (and data may be NULL) */
	memset(slot, 0, sizeof(slot));
	memcpy(slot, data, size < SLOT ? size : SLOT);
	try_decode(0);

	cf_sha256(slot, SUM_OFF, slot + SUM_OFF);
	try_decode(1);
	return 0;
}
