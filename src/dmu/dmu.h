/*
 * dmu: objects and object sets.
 *
 * This file describes the interface that the DMU provides to its
 * consumers (dsl, fs, send).  An object set is a numbered array of
 * objects (dnodes); an object is a sparse array of bytes stored as a
 * tree of block pointers, plus a small "bonus" buffer for attributes.
 * The MOS (meta object set) is an object set too: the dsl keeps datasets,
 * properties and deadlists in it as objects.
 *
 * Transactions: every change happens inside a cf_tx_t, which holds the
 * open transaction group (txg).  All changes made under one tx land in
 * the same txg and so become durable atomically.  Reads see every change
 * made before them, committed or not.
 *
 * Thread safety: every function here may be called from several threads
 * at once.  Writes to the same byte range of the same object from two
 * threads at once are serialized but their order is unspecified.
 * Consumers keep their own locks for multi-step logic (a directory
 * operation that reads, then writes).
 */
#ifndef COFFER_DMU_H
#define COFFER_DMU_H

#include "util/util.h"

typedef struct cf_objset cf_objset_t;
typedef struct cf_tx cf_tx_t;

/* Object types (stored in the dnode) */
enum cf_objtype {
	CF_OT_NONE = 0,
	CF_OT_META_DNODE = 1,   /* the dnode array itself (object 0) */
	CF_OT_MASTER = 2,       /* fs master node: a zap */
	CF_OT_FILE = 3,
	CF_OT_DIR = 4,          /* a zap: name -> entry */
	CF_OT_SYMLINK = 5,
	CF_OT_XATTR_DIR = 6,    /* a zap: xattr name -> value */
	CF_OT_ZAP = 7,          /* generic zap */
	CF_OT_VOLUME = 8,
	CF_OT_OTHER = 9,        /* fifo, socket, device nodes */
	CF_OT_XATTR_VALUE = 10, /* a large xattr value */
	/* MOS object types */
	CF_OT_DSL_DIR = 32,
	CF_OT_DSL_DATASET = 33,
	CF_OT_DEADLIST = 34,
	CF_OT_SPACE_MAP = 35,
	CF_OT_DSL_PROPS = 36,
	CF_OT_ERRLOG = 37,
	CF_OT_KEYREC = 38,      /* a dataset's wrapped master keys */
	CF_OT_KEYSTORE = 39,    /* an encryption root's key slots, ledger */
	CF_OT_MAX = 64
};

#define CF_BONUS_MAX 256        /* bytes of bonus per dnode */
#define CF_MAX_BLKSZ (1u << 20) /* largest data block size (1 MiB) */
#define CF_MIN_BLKSZ 512u

/* ---- transactions ------------------------------------------------------ */

/*
 * Join the open txg.  `space` is an estimate of the bytes the change will
 * allocate; the call fails with -ENOSPC (before anything is changed) if
 * the pool cannot hold it.  May block while too much dirty data waits
 * for the sync thread, and while a closed txg still has holders.  So:
 *  - never begin a tx while holding a lock that a thread holding a tx
 *    may wait for (the fs takes its locks, then begins the tx);
 *  - a tx begun by a thread that holds one joins the outer tx's txg at
 *    once, but whatever it locks on the way must obey the rule above
 *    (an fs operation is never called inside a tx);
 *  - a thread holds txs of one pool at a time (-EDEADLK otherwise), and
 *    ends a tx on the thread that began it.
 */
int cf_tx_begin(cf_objset_t *os, uint64_t space, cf_tx_t **tx) CF_MUST_CHECK;
/* The most bytes a consumer writes under one tx (it splits larger writes):
 * a txg's dirty memory stays bounded and a sync never waits long for a
 * holder. */
#define CF_TX_WRITE_MAX (8u << 20)
/* Release the hold; the changes commit with their txg. */
void cf_tx_end(cf_tx_t *tx);
uint64_t cf_tx_txg(const cf_tx_t *tx);

/* ---- objects ----------------------------------------------------------- */

typedef struct cf_objinfo {
	uint8_t type;
	uint32_t blksz;         /* data block size */
	uint8_t nlevels;
	uint64_t maxblkid;      /* highest block ever written (or 0) */
	uint64_t used;          /* allocated bytes of its blocks */
	uint16_t bonuslen;
} cf_objinfo_t;

/* Allocate a new object of `type` with data block size blksz (a multiple
 * of 512 up to CF_MAX_BLKSZ; 0 = the dataset's recordsize).  In an empty
 * object set the first object allocated is object 1. */
int cf_obj_alloc(cf_objset_t *os, cf_tx_t *tx, int type, uint32_t blksz,
    uint64_t *obj) CF_MUST_CHECK;
/* Allocate object `obj` itself (receive): -EEXIST if it is in use. */
int cf_obj_claim(cf_objset_t *os, cf_tx_t *tx, uint64_t obj, int type,
    uint32_t blksz) CF_MUST_CHECK;
/* Free an object and all its blocks. */
int cf_obj_free(cf_objset_t *os, cf_tx_t *tx, uint64_t obj) CF_MUST_CHECK;
/* -ENOENT if the object is not allocated. */
int cf_obj_info(cf_objset_t *os, uint64_t obj, cf_objinfo_t *info)
    CF_MUST_CHECK;
/* Change the block size of an object whose highest block written
 * (maxblkid) is 0; block 0 keeps its contents, cut or zero-extended.
 * -EINVAL otherwise. */
int cf_obj_set_blksz(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    uint32_t blksz) CF_MUST_CHECK;

/* Offsets up to 2^63 - 1 are accepted (the tree addresses more).
 * Read len bytes at off.  Holes and never-written bytes read as zeros.
 * COFFER_ECORRUPT / COFFER_EAUTH when a block cannot be verified. */
int cf_obj_read(cf_objset_t *os, uint64_t obj, uint64_t off, uint64_t len,
    void *buf) CF_MUST_CHECK;
int cf_obj_write(cf_objset_t *os, cf_tx_t *tx, uint64_t obj, uint64_t off,
    uint64_t len, const void *buf) CF_MUST_CHECK;
/* Punch a hole (len UINT64_MAX: to the end); whole blocks are freed,
 * partial blocks zeroed. */
int cf_obj_free_range(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    uint64_t off, uint64_t len) CF_MUST_CHECK;

/* Bonus buffer (attributes).  read copies at most cap bytes and returns
 * the full bonus length. */
int cf_bonus_read(cf_objset_t *os, uint64_t obj, void *buf, size_t cap)
    CF_MUST_CHECK;
int cf_bonus_write(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    const void *buf, size_t len) CF_MUST_CHECK;

/* Iterate allocated objects with id > *obj: sets *obj to the next one;
 * -ENOENT at the end. */
int cf_obj_next(cf_objset_t *os, uint64_t *obj) CF_MUST_CHECK;

/* Object set properties the consumers need. */
uint32_t cf_os_recordsize(cf_objset_t *os);
int cf_os_readonly(cf_objset_t *os);        /* snapshots */
const char *cf_os_name(cf_objset_t *os);    /* "pool/fs" for messages */

/* ---- zap: hashed key-value objects ------------------------------------- */

/*
 * A zap is an object holding a map from keys (NUL-terminated strings of
 * at most CF_ZAP_MAXKEY bytes) to values (byte strings of at most
 * CF_ZAP_MAXVAL bytes).  Lookup, add and remove cost O(1) block reads
 * (extendible hashing), so a directory of millions of entries is fine.
 * Iteration order is stable: the cookie passed to the callback resumes
 * after the entry even if other entries were added or removed.
 */
#define CF_ZAP_MAXKEY 255
#define CF_ZAP_MAXVAL 1024
#define CF_ZAP_BLKSZ  16384

int cf_zap_create(cf_objset_t *os, cf_tx_t *tx, int type, uint64_t *obj)
    CF_MUST_CHECK;
/* -EEXIST if the key exists. */
int cf_zap_add(cf_objset_t *os, cf_tx_t *tx, uint64_t obj, const char *key,
    const void *val, size_t vlen) CF_MUST_CHECK;
/* Add or replace. */
int cf_zap_update(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    const char *key, const void *val, size_t vlen) CF_MUST_CHECK;
/* -ENOENT if absent; -ERANGE if cap is too small (*vlen says the size). */
int cf_zap_lookup(cf_objset_t *os, uint64_t obj, const char *key, void *val,
    size_t cap, size_t *vlen) CF_MUST_CHECK;
int cf_zap_remove(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    const char *key) CF_MUST_CHECK;
int cf_zap_count(cf_objset_t *os, uint64_t obj, uint64_t *count)
    CF_MUST_CHECK;
/* Convenience for u64 values. */
int cf_zap_add_u64(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    const char *key, uint64_t v) CF_MUST_CHECK;
int cf_zap_update_u64(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    const char *key, uint64_t v) CF_MUST_CHECK;
int cf_zap_lookup_u64(cf_objset_t *os, uint64_t obj, const char *key,
    uint64_t *v) CF_MUST_CHECK;

/* cb returns non-zero to stop (that value is returned). *cookie starts at
 * 0 and is advanced past each entry delivered. */
typedef int (*cf_zap_cb)(const char *key, const void *val, size_t vlen,
    uint64_t next_cookie, void *arg);
int cf_zap_iter(cf_objset_t *os, uint64_t obj, uint64_t *cookie,
    cf_zap_cb cb, void *arg) CF_MUST_CHECK;

#endif
