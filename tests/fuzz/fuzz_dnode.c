/*
 * fuzz_dnode: the dnode (cf_dnode_decode) and the object set root block
 * (cf_osphys_decode), both in dmu_impl.h.
 *
 * The input is tried twice: its first CF_DNODE_SIZE bytes as a dnode,
 * and its first CF_OBJSET_PHYS_SIZE bytes as an object set root block,
 * each zero-padded when the input is shorter (so the seeds of one also
 * reach the other: a root block begins with the meta-dnode).  A decode
 * error other than COFFER_ECORRUPT aborts.  Whenever it decodes, the
 * encoding is canonical: encoding the result must give back the same
 * bytes (a free dnode decodes only from, and encodes to, all zeros), and
 * decoding those must give the same structure; anything else aborts.
 * The one exception is bytes [528, 4096) of a root block: the MAC of an
 * encrypted set (flag CF_OSF_MAC) and reserved space, not checked on
 * read (FORMAT.md 7.1, 15.2).  There [0, 528) must match byte for byte
 * and the decoded structure (MAC included) must survive the round trip.
 */
#include <stdlib.h>
#include <string.h>

#include "dmu/dmu_impl.h"
#include "fuzz.h"

static uint8_t dn_raw[CF_DNODE_SIZE], dn_again[CF_DNODE_SIZE];
static uint8_t os_raw[CF_OBJSET_PHYS_SIZE], os_again[CF_OBJSET_PHYS_SIZE];

#define OS_CHECKED 528  /* the root block bytes that decode looks at */

static void try_dnode(void)
{
	cf_dnode_phys_t dn, dn2;
	int rc = cf_dnode_decode(dn_raw, &dn);

	if (rc != 0) {
		if (rc != COFFER_ECORRUPT)
			abort();
		return;
	}
	cf_dnode_encode(&dn, dn_again);
	if (memcmp(dn_again, dn_raw, CF_DNODE_SIZE) != 0)
		abort();
	if (cf_dnode_decode(dn_again, &dn2) != 0)
		abort();
	if (memcmp(&dn, &dn2, sizeof(dn)) != 0)
		abort();
}

static void try_osphys(void)
{
	cf_objset_phys_t p, p2;
	int rc = cf_osphys_decode(os_raw, &p);

	if (rc != 0) {
		if (rc != COFFER_ECORRUPT)
			abort();
		return;
	}
	cf_osphys_encode(&p, os_again);
	if (memcmp(os_again, os_raw, OS_CHECKED) != 0)
		abort();
	if (cf_osphys_decode(os_again, &p2) != 0)
		abort();
	if (memcmp(&p, &p2, sizeof(p)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;       /* nothing to decode (and data may be NULL) */
	memset(dn_raw, 0, sizeof(dn_raw));
	memcpy(dn_raw, data, size < CF_DNODE_SIZE ? size : CF_DNODE_SIZE);
	try_dnode();

	memset(os_raw, 0, sizeof(os_raw));
	memcpy(os_raw, data,
	    size < CF_OBJSET_PHYS_SIZE ? size : CF_OBJSET_PHYS_SIZE);
	try_osphys();
	return 0;
}
