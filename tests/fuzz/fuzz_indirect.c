/*
 * fuzz_indirect: an indirect block, as the dmu decodes one (ib_decode
 * and the traversal in dmu.c): CF_IND_BPS block pointers of CF_BP_SIZE
 * bytes at the start of a CF_IND_BLKSZ block, decoded in order and
 * stopping at the first that fails.
 *
 * The input, zero-padded or cut to CF_IND_BLKSZ bytes, is the block.
 * Nothing may crash; as in fuzz_blkptr, an error other than
 * COFFER_ECORRUPT aborts and so does a decoded pointer that does not
 * encode back to its own bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "dmu/dmu_impl.h"
#include "fuzz.h"

static uint8_t blk[CF_IND_BLKSZ];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t again[CF_BP_SIZE];
	char desc[256];

	if (size == 0)
		return 0;       /* nothing to decode (and data may be NULL) */
	memset(blk, 0, sizeof(blk));
	memcpy(blk, data, size < CF_IND_BLKSZ ? size : CF_IND_BLKSZ);

	for (int i = 0; i < CF_IND_BPS; i++) {
		const uint8_t *raw = blk + (size_t)i * CF_BP_SIZE;
		cf_blkptr_t bp;
		int rc = cf_bp_decode(raw, &bp);

		if (rc != 0) {
			if (rc != COFFER_ECORRUPT)
				abort();
			break;
		}
		cf_bp_encode(&bp, again);
		if (memcmp(again, raw, CF_BP_SIZE) != 0)
			abort();
		cf_bp_describe(&bp, desc, sizeof(desc));
	}
	return 0;
}
