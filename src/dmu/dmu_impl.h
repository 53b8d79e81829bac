/*
 * dmu internals and the interface the dsl (and only the dsl) uses to open,
 * create and sync object sets.
 */
#ifndef COFFER_DMU_IMPL_H
#define COFFER_DMU_IMPL_H

#include <pthread.h>

#include "dmu/dmu.h"
#include "spa/spa.h"

#define CF_DNODE_SIZE      512
#define CF_DNODE_BLKSZ     16384
#define CF_DNODES_PER_BLK  (CF_DNODE_BLKSZ / CF_DNODE_SIZE)
#define CF_IND_BLKSZ       32768
#define CF_IND_BPS         (CF_IND_BLKSZ / CF_BP_SIZE)     /* 204 */
#define CF_MAX_LEVELS      12
#define CF_OBJSET_PHYS_SIZE 4096
#define CF_DN_BONUS_OFF    256

#define CF_OT_OBJSET 40         /* bp type of an objset root block */

#define CF_OS_TYPE_MOS 1
#define CF_OS_TYPE_FS  2
#define CF_OS_TYPE_VOL 3

/* Decoded dnode (the on-disk layout is drawn in dmu.c). */
typedef struct cf_dnode_phys {
	uint8_t type;
	uint8_t nlevels;
	uint16_t bonuslen;
	uint32_t blksz;
	uint64_t maxblkid;
	uint64_t used;
	uint64_t gen;           /* txg the object was allocated in */
	cf_blkptr_t root;
	uint8_t bonus[CF_BONUS_MAX];
} cf_dnode_phys_t;

void cf_dnode_encode(const cf_dnode_phys_t *dn, uint8_t out[CF_DNODE_SIZE]);
int cf_dnode_decode(const uint8_t in[CF_DNODE_SIZE], cf_dnode_phys_t *dn)
    CF_MUST_CHECK;

/* Accounting callbacks from the sync of an object set to its owner. */
typedef struct cf_os_ops {
	/* a block was written in txg */
	void (*born)(void *arg, const cf_blkptr_t *bp, uint64_t txg);
	/* a block born before txg is no longer referenced by the head: the
	 * owner frees it or keeps it for a snapshot (deadlist) */
	void (*kill)(void *arg, const cf_blkptr_t *bp, uint64_t txg);
	/* a block born in txg was replaced in txg (already freed or reused:
	 * only undo its accounting) */
	void (*unborn)(void *arg, const cf_blkptr_t *bp, uint64_t txg);
	/* the object set got dirty in txg (open or syncing) */
	void (*dirtied)(void *arg, uint64_t txg);
} cf_os_ops_t;

typedef struct cf_os_settings {
	uint32_t recordsize;
	uint8_t comp, comp_level, cksum, copies;
	int readonly;
} cf_os_settings_t;

/* Open an object set whose root block is *root (a hole: empty set). */
int cf_os_open(cf_spa_t *spa, const cf_blkptr_t *root, int os_type,
    const cf_os_settings_t *s, const cf_os_ops_t *ops, void *ops_arg,
    const char *name, cf_objset_t **out) CF_MUST_CHECK;
/*
 * An encrypted object set: cs holds its keys (NULL while the key is not
 * loaded: only keyless work is possible).  Opening verifies the root's
 * MAC when keys are given (COFFER_EAUTH).  The caller keeps cs alive.
 */
int cf_os_open_crypt(cf_spa_t *spa, const cf_blkptr_t *root, int os_type,
    const cf_os_settings_t *s, const cf_os_ops_t *ops, void *ops_arg,
    const char *name, const cf_cryptset_t *cs, cf_objset_t **out)
    CF_MUST_CHECK;
/* The txg bound by the root's MAC (0 when none). */
uint64_t cf_os_mac_txg(cf_objset_t *os);
/* The root's MAC and txg: of an open set, or read from a root block. */
void cf_os_mac(cf_objset_t *os, uint8_t mac[32], uint64_t *txg);
int cf_os_root_mac(cf_spa_t *spa, const cf_blkptr_t *root, uint8_t mac[32],
    uint64_t *txg) CF_MUST_CHECK;
void cf_os_close(cf_objset_t *os);
void cf_os_set_settings(cf_objset_t *os, const cf_os_settings_t *s);
void cf_os_set_name(cf_objset_t *os, const char *name);
cf_spa_t *cf_os_spa(cf_objset_t *os);
int cf_os_type(cf_objset_t *os);

/* Does the object set have changes in txg? */
int cf_os_dirty(cf_objset_t *os, uint64_t txg);
/*
 * Sync txg (pass 1, 2, ...): write every change of txg, then the dnode
 * blocks and the objset root; *root receives the new root block pointer.
 * Runs in the sync thread only.
 */
int cf_os_sync(cf_objset_t *os, uint64_t txg, int pass, cf_blkptr_t *root)
    CF_MUST_CHECK;
/* After the txg is durable: drop caches beyond the limit. */
void cf_os_synced(cf_objset_t *os, uint64_t txg);

/* A tx for the syncing txg, used by sync-context code (dsl, fs format). */
void cf_tx_sync_init(cf_tx_t *tx, cf_objset_t *os, uint64_t txg);

struct cf_tx {
	cf_objset_t *os;
	uint64_t txg;
	uint64_t dirtied;
	int synccontext;
};

/*
 * Traversal (scrub, leak check, send): visit every block pointer of the
 * object set with birth > min_txg, parents before children.  cb returns
 * non-zero to stop; returning CF_TRAVERSE_SKIP skips the children.
 */
#define CF_TRAVERSE_SKIP 1000
typedef int (*cf_traverse_cb)(void *arg, uint64_t obj, uint64_t blkid,
    const cf_blkptr_t *bp);
int cf_os_traverse_root(cf_spa_t *spa, const cf_blkptr_t *root,
    uint64_t min_txg, cf_traverse_cb cb, void *arg) CF_MUST_CHECK;

/*
 * The walk for send, over a (snapshot) object set opened with its keys:
 * every dnode in a dnode block born after min_txg (object: type NONE for
 * a freed one; dn->gen says when it was allocated), then that object's
 * level-0 blocks and holes born after min_txg (block: a hole's level says
 * how many blocks it covers); freeobjects for dnode ranges freed whole.
 * Everything is read and verified (decrypted) as a normal read is.
 */
typedef struct cf_send_ops {
	/* CF_SW_RAW: a dnode block, before its objects (first: its first
	 * object id) */
	int (*range)(void *arg, uint64_t first, const cf_blkptr_t *bp);
	int (*object)(void *arg, uint64_t obj, const cf_dnode_phys_t *dn);
	int (*block)(void *arg, uint64_t obj, uint64_t blkid, int level,
	    const cf_blkptr_t *bp);
	int (*freeobjects)(void *arg, uint64_t first, uint64_t count);
} cf_send_ops_t;
#define CF_SW_RAW 0x1   /* no keys needed: dnode bonuses stay sealed */
int cf_os_send_walk(cf_objset_t *os, uint64_t min_txg, int flags,
    const cf_send_ops_t *ops, void *arg) CF_MUST_CHECK;
/*
 * The same walk from a resume point: objects below start_obj, and blocks
 * of start_obj wholly below byte start_off, are skipped without reading
 * them (their dnode blocks and indirect blocks included, where whole
 * subtrees lie below the point).  A dnode range freed whole that spans
 * the point is reported from start_obj on.
 */
int cf_os_send_walk_from(cf_objset_t *os, uint64_t min_txg, int flags,
    uint64_t start_obj, uint64_t start_off, const cf_send_ops_t *ops,
    void *arg) CF_MUST_CHECK;

/*
 * Raw receive (send -w): an encrypted object set written without its
 * keys, from blocks sealed by the sender.  After cf_os_set_raw the set
 * takes only stored blocks (cf_obj_write_raw; cf_obj_write is -EINVAL),
 * dnode blocks as the sender sealed them (cf_os_raw_dnblock: the 32
 * dnodes of a block image with sealed bonuses, and the block pointer
 * whose salt, iv, mac and key generation seal it) and the root's MAC
 * (cf_os_raw_root, with the meta-dnode's height and highest block, which
 * the MAC covers).  Every MAC the sender made stays valid because each
 * covers portable fields only (block.h); they verify once the whole
 * stream is in.  Dnode blocks later rewritten (new block pointers of
 * their objects) keep the seal their stored copy has.
 */
void cf_os_set_raw(cf_objset_t *os);
int cf_os_raw_root(cf_objset_t *os, cf_tx_t *tx, const uint8_t mac[32],
    uint64_t mac_txg, int meta_nlevels, uint64_t meta_maxblkid)
    CF_MUST_CHECK;
int cf_os_raw_dnblock(cf_objset_t *os, cf_tx_t *tx, uint64_t blkid,
    const uint8_t *image, const cf_blkptr_t *seal) CF_MUST_CHECK;
int cf_obj_write_raw(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    uint64_t blkid, const cf_blkptr_t *tmpl, const void *data,
    uint32_t psize) CF_MUST_CHECK;
/* The meta-dnode (height, highest block) of an open set. */
void cf_os_meta(cf_objset_t *os, cf_dnode_phys_t *meta);

/* Encode/decode an objset root block (CF_OBJSET_PHYS_SIZE bytes). */
#define CF_OSF_MAC 0x1          /* the root carries a MAC (encrypted set) */
typedef struct cf_objset_phys {
	cf_dnode_phys_t meta;
	uint64_t type;
	uint64_t flags;
	uint8_t mac[32];        /* HMAC-SHA256 with the dataset's HMAC key */
	uint64_t mac_txg;       /* txg the MAC binds */
} cf_objset_phys_t;

/*
 * The MAC of an object set root: HMAC-SHA256 over "CFOSMAC2", the
 * meta-dnode's first 16 bytes (type, sizes), the portable fields of its
 * root bp, the set's type and flags, the dataset's crypt guid and the
 * txg (portable: raw receive keeps it valid).  Binding the guid stops roots being swapped
 * between datasets; binding the txg lets the dsl's ledger catch a dataset
 * rolled back to an older root.
 */
int cf_osphys_mac(const uint8_t *enc, uint64_t guid, uint64_t txg,
    const uint8_t *hmac_key, uint8_t out[32]) CF_MUST_CHECK;
void cf_osphys_encode(const cf_objset_phys_t *p, uint8_t *out);
int cf_osphys_decode(const uint8_t *in, cf_objset_phys_t *p) CF_MUST_CHECK;

#endif
