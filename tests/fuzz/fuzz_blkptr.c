/*
 * fuzz_blkptr: the block pointer (cf_bp_decode, block.h).
 *
 * The input, zero-padded or cut to CF_BP_SIZE bytes, is decoded.  A
 * decode error other than COFFER_ECORRUPT aborts.  Whenever it decodes,
 * the encoding is canonical: cf_bp_encode must give back the same 160
 * bytes, and decoding those must give the same block pointer; anything
 * else aborts.  cf_bp_describe then runs into a roomy and a tiny buffer
 * (it must terminate the string and stay inside both).
 */
#include <stdlib.h>
#include <string.h>

#include "block/block.h"
#include "fuzz.h"

static uint8_t raw[CF_BP_SIZE], again[CF_BP_SIZE];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cf_blkptr_t bp, bp2;
	char desc[256], tiny[8];
	int rc;

	if (size == 0)
		return 0;       /* nothing to decode (and data may be NULL) */
	memset(raw, 0, sizeof(raw));
	memcpy(raw, data, size < CF_BP_SIZE ? size : CF_BP_SIZE);

	rc = cf_bp_decode(raw, &bp);
	if (rc != 0) {
		if (rc != COFFER_ECORRUPT)
			abort();
		return 0;
	}
	cf_bp_encode(&bp, again);
	if (memcmp(again, raw, CF_BP_SIZE) != 0)
		abort();
	if (cf_bp_decode(again, &bp2) != 0)
		abort();
	if (memcmp(&bp, &bp2, sizeof(bp)) != 0)
		abort();

	cf_bp_describe(&bp, desc, sizeof(desc));
	if (memchr(desc, 0, sizeof(desc)) == NULL)
		abort();
	cf_bp_describe(&bp, tiny, sizeof(tiny));
	if (memchr(tiny, 0, sizeof(tiny)) == NULL)
		abort();
	return 0;
}
