/*
 * zap_impl.h - zap internals that tests need.  Not part of the dmu
 * contract: only zap.c and tests/unit include this file.
 */
#ifndef COFFER_ZAP_IMPL_H
#define COFFER_ZAP_IMPL_H

#include "dmu/dmu.h"

/* On-disk constants (see the layout comment at the top of zap.c). */
#define CF_ZAP_HDR_MAGIC   0x31482d50415a4643ULL /* "CFZAP-H1" LE */
#define CF_ZAP_LEAF_MAGIC  0x31464c5aU           /* "ZLF1" LE */
#define CF_ZAP_VERSION     1
#define CF_ZAP_HDR_LEN     72       /* bytes of block 0 that hold fields */
#define CF_ZAP_EMBED_OFF   8192     /* embedded pointer table in block 0 */
#define CF_ZAP_EMBED_DEPTH 10       /* embedded while depth <= 10 */
#define CF_ZAP_MAXDEPTH    32       /* largest global depth */
#define CF_ZAP_HASHBITS    48       /* hash bits in a position */
#define CF_ZAP_MAXCD       0x7fffu  /* largest collision differentiator */
#define CF_ZAP_MAXBLK      (1ULL << 40) /* block ids stay below this */
#define CF_ZAP_LEAF_HDR    32
#define CF_ZAP_ENT_HDR     11
#define CF_ZAP_COOKIE_END  UINT64_MAX

/*
 * SipHash-2-4 (Aumasson and Bernstein) with the 128-bit key (k0, k1),
 * exposed for its known-answer test.
 */
uint64_t cf_zap_siphash(uint64_t k0, uint64_t k1, const void *msg,
    size_t len);

/*
 * Test hook: when set, replaces the keyed hash of every zap (so tests can
 * force collisions).  Set it only while no zap is in use by another
 * thread, and only on zaps created while it is set.
 */
extern uint64_t (*cf_zap_hash_hook)(const char *key, size_t len);

#endif
