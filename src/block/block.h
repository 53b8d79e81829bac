/*
 * block: the block pipeline and the block pointer.
 *
 * Write: compress -> (encrypt, later) -> checksum -> allocate copies ->
 * vdev writes.  Read: vdev read of one copy -> verify checksum -> (if bad,
 * next copy; rewrite the bad copy from the good one) -> decompress.
 *
 * Block pointer (CF_BP_SIZE = 160 bytes on disk, little-endian):
 *
 *   off  len  field
 *     0   16  dva[0]   u32 vdev index | u32 asize (bytes) | u64 offset
 *    16   16  dva[1]
 *    32   16  dva[2]
 *    48    8  birth txg (0 for a hole never written)
 *    56    8  fill: non-hole level-0 blocks beneath (1 for a data block)
 *    64    4  lsize: logical (uncompressed) bytes
 *    68    4  psize: stored bytes before rounding to the sector
 *    72    1  object type (enum cf_objtype)
 *    73    1  level (0 = data)
 *    74    1  compression (CF_COMP_*)
 *    75    1  checksum type (CF_CKSUM_*)
 *    76    1  flags (CF_BPF_*)
 *    77    3  reserved, zero
 *    80   32  checksum of the stored (psize) bytes
 *   112    8  salt     \
 *   120   12  iv        | encryption (DESIGN §4); zero when not encrypted;
 *   132   16  mac       | for indirect blocks mac holds the keyless hash
 *   148    4  key generation                        of the children's MACs
 *   152    8  reserved, zero
 *
 * A hole has no DVA (dva[0].asize == 0).  A hole may still carry a birth
 * txg: the txg in which the range was freed (for incremental send).
 *
 * Invariants
 *  1. The checksum covers the psize bytes stored on disk (not the zero
 *     padding to the sector), so any copy can be verified (and
 *     scrubbed) without decompressing or a key.
 *  2. A read never returns bytes whose checksum did not verify.
 *  3. Every copy of a block lives on a different device when the pool
 *     has enough devices, and at a different offset otherwise.
 */
#ifndef COFFER_BLOCK_H
#define COFFER_BLOCK_H

#include "util/util.h"
#include "block/compress.h"

#define CF_BP_SIZE 160
#define CF_MAX_COPIES 3

#define CF_CKSUM_FLETCHER4 1
#define CF_CKSUM_SHA256    2

#define CF_BPF_ENCRYPTED 0x01
#define CF_BPF_DNODE     0x02   /* sealed as records (CF_CRYPT_DNODE) */

typedef struct cf_dva {
	uint32_t vdev;
	uint32_t asize;         /* 0: unused slot */
	uint64_t offset;
} cf_dva_t;

typedef struct cf_blkptr {
	cf_dva_t dva[CF_MAX_COPIES];
	uint64_t birth;
	uint64_t fill;
	uint32_t lsize;
	uint32_t psize;
	uint8_t type;
	uint8_t level;
	uint8_t comp;
	uint8_t cksum;
	uint8_t flags;
	uint8_t checksum[32];
	uint8_t salt[8];
	uint8_t iv[12];
	uint8_t mac[16];
	uint32_t keygen;
} cf_blkptr_t;

static inline int cf_bp_is_hole(const cf_blkptr_t *bp)
{
	return bp->dva[0].asize == 0;
}
static inline int cf_bp_ncopies(const cf_blkptr_t *bp)
{
	int n = 0;
	while (n < CF_MAX_COPIES && bp->dva[n].asize != 0)
		n++;
	return n;
}
/* Sum of asize over all copies. */
uint64_t cf_bp_asize(const cf_blkptr_t *bp);

void cf_bp_encode(const cf_blkptr_t *bp, uint8_t out[CF_BP_SIZE]);

/*
 * The portable fields of a block pointer: what stays the same when a raw
 * stream moves the block to another pool (level, type, compression,
 * flags, lsize, psize, key generation, mac), not where it lives or when it
 * was born.  MACs over structure (dnode blocks, object set roots) cover
 * these only, so raw receive keeps them valid.  Blocks the receiver
 * rebuilds (indirect blocks, dnode blocks) contain their own location
 * fields, so their compression and psize differ from pool to pool: for
 * those, both are left out (zero).  Returns the length.
 */
#define CF_BP_PORTABLE_SIZE 32
size_t cf_bp_portable(const cf_blkptr_t *bp, uint8_t out[CF_BP_PORTABLE_SIZE]);
/* Decode and sanity-check (sizes, types, copies); COFFER_ECORRUPT. */
int cf_bp_decode(const uint8_t in[CF_BP_SIZE], cf_blkptr_t *bp)
    CF_MUST_CHECK;
/* One-line description for debugging ("L0 FILE 128K/4K lz4 birth 12 ..."). */
void cf_bp_describe(const cf_blkptr_t *bp, char *buf, size_t n);

/* ---- encryption (blkcrypt.c) -------------------------------------------- */

/*
 * A dataset's keys as the pipeline needs them: the AEAD suite, one
 * master key per key generation (a block names its generation), the
 * HMAC key for object set MACs and the dataset's crypt guid.  Owned by
 * the dsl; the block layer only derives per-block keys from it.
 */
#define CF_MAX_KEYGENS 4
typedef struct cf_blkkey cf_blkkey_t;
typedef struct cf_cryptset {
	int suite;
	uint32_t curgen;                /* generation new blocks use */
	int nkeys;
	uint32_t gens[CF_MAX_KEYGENS];
	cf_blkkey_t *keys[CF_MAX_KEYGENS];
	uint8_t *hmac;                  /* 32 bytes, secure memory */
	uint64_t guid;                  /* crypt guid, bound into MACs */
} cf_cryptset_t;

int cf_blkkey_new(int suite, const uint8_t *master, uint32_t gen,
    cf_blkkey_t **out) CF_MUST_CHECK;
void cf_blkkey_free(cf_blkkey_t *k);
/* The key of generation gen, or NULL. */
cf_blkkey_t *cf_cryptset_key(const cf_cryptset_t *cs, uint32_t gen);

/* How the pipeline treats a block's contents. */
#define CF_CRYPT_NONE  0
#define CF_CRYPT_DATA  1        /* whole block: compress, then encrypt */
#define CF_CRYPT_DNODE 2        /* bonus areas of a dnode block only,
				   encrypted before compression */
/* CF_CRYPT_DNODE blocks are arrays of records of this size; in each
 * record whose first byte is non-zero, the bytes [SEALED_OFF, SEALED_OFF
 * + the little-endian u16 at offset 2) are encrypted and every other
 * byte is authenticated (the dmu's dnode layout: bonus and bonuslen). */
#define CF_BLK_REC_SIZE 512
#define CF_BLK_REC_SEALED_OFF 256
/* authenticated: the first 16 bytes, and the portable fields of the block
 * pointer at BP_OFF */
#define CF_BLK_REC_PORTABLE_HDR 16
#define CF_BLK_REC_BP_OFF 64

/* ---- the pipeline -------------------------------------------------------- */

struct cf_spa;

typedef struct cf_wprops {
	uint8_t type;
	uint8_t level;
	uint8_t comp;           /* CF_COMP_* */
	uint8_t comp_level;     /* zstd level, 0 = default */
	uint8_t cksum;          /* CF_CKSUM_* */
	uint8_t copies;         /* 1..3 */
	uint8_t crypt;          /* CF_CRYPT_* */
	const cf_cryptset_t *cs;
	/* CF_CRYPT_DNODE only: the block's bonus areas are already sealed
	 * (raw receive); take salt, iv, mac and key generation from here
	 * instead of sealing. */
	const cf_blkptr_t *sealed;
} cf_wprops_t;

/* Checksum `len` bytes with `type` into out[32]. */
void cf_block_checksum(int type, const void *buf, size_t len,
    uint8_t out[32]);

/*
 * Write `lsize` bytes as a new block born in `txg`.  Fills *bp.  If
 * `inplace` is a block born in the same txg whose copies can hold the new
 * contents, it is overwritten in place instead of allocating (the sync
 * convergence rule); otherwise it is freed immediately.  An all-zero
 * data buffer becomes a hole (bp zeroed, birth set) without allocating.
 */
int cf_block_write(struct cf_spa *spa, const void *data, uint32_t lsize,
    const cf_wprops_t *wp, uint64_t txg, const cf_blkptr_t *inplace,
    cf_blkptr_t *bp) CF_MUST_CHECK;

/* Read and verify a block into buf (bp->lsize bytes).  Bad copies are
 * repaired from a good one.  COFFER_ECORRUPT when no copy verifies;
 * COFFER_ENOKEY for an encrypted block. */
int cf_block_read(struct cf_spa *spa, const cf_blkptr_t *bp, void *buf)
    CF_MUST_CHECK;

/*
 * Read with keys: encrypted blocks are decrypted with cs (COFFER_EAUTH
 * when the MAC does not verify; COFFER_ENOKEY when cs is NULL).  With
 * CF_RD_STRUCT and no key, a dnode block is returned with its bonus areas
 * still encrypted (enough to walk the tree: scrub, destroy).
 */
#define CF_RD_STRUCT 0x1
int cf_block_read_cs(struct cf_spa *spa, const cf_blkptr_t *bp, void *buf,
    const cf_cryptset_t *cs, int flags) CF_MUST_CHECK;

/*
 * Raw blocks (send -w / -c and raw receive).  read_raw returns the psize
 * stored bytes (buf holds at least the sector-rounded psize), verified
 * by checksum and repaired from a good copy like any read, but neither
 * decrypted nor decompressed.  write_raw stores psize bytes as given,
 * with tmpl's lsize, type, level, comp, flags, salt, iv, mac and key
 * generation; the checksum (type cksum) and the copies are this pool's.
 */
int cf_block_read_raw(struct cf_spa *spa, const cf_blkptr_t *bp, void *buf)
    CF_MUST_CHECK;
int cf_block_write_raw(struct cf_spa *spa, const void *data, uint32_t psize,
    const cf_blkptr_t *tmpl, int cksum, int copies, uint64_t txg,
    const cf_blkptr_t *inplace, cf_blkptr_t *bp) CF_MUST_CHECK;

/* The keyless MAC of an indirect block: a hash over its children's MACs. */
void cf_block_ind_mac(const cf_blkptr_t *children, int n, uint8_t mac[16]);

/* Read the stored bytes of every copy and verify each (scrub).  Repairs
 * bad copies when a good one exists.  Reports counts. */
typedef struct cf_scrub_res {
	int bad_copies;
	int repaired;
	int good_copies;
} cf_scrub_res_t;
int cf_block_scrub(struct cf_spa *spa, const cf_blkptr_t *bp,
    cf_scrub_res_t *res);

#endif
