/*
 * dsl: the dataset and snapshot layer.
 *
 * A pool (dsl_pool) is a spa plus its MOS.  The MOS holds, as objects:
 *   1       the object directory (a zap of names -> object ids/values)
 *   dirs    one per dataset name: parent, children, properties, snapshot
 *           names, space used by the dataset and its snapshots
 *   ds      one per head dataset and per snapshot: object set root bp,
 *           previous/next snapshot, creation txg and time, guid,
 *           referenced bytes, deadlist
 *   deadlists  block pointers freed by the head but still referenced by
 *           the previous snapshot (OpenZFS's deadlist)
 *   bitmaps the allocation bitmap of each device
 *   errlog  blocks found unrecoverable
 *
 * All MOS changes happen in the sync thread (sync tasks), so the MOS is
 * never half-changed in a committed txg.
 */
#ifndef COFFER_DSL_H
#define COFFER_DSL_H

#include "util/util.h"
#include "spa/spa.h"
#include "dmu/dmu_impl.h"
#include "dsl/props.h"

typedef struct dsl_pool dsl_pool_t;
typedef struct dsl_dataset dsl_dataset_t;

int dsl_pool_create(cf_spa_t *spa, const char *const *props,
    dsl_pool_t **out) CF_MUST_CHECK;
int dsl_pool_open(cf_spa_t *spa, dsl_pool_t **out) CF_MUST_CHECK;
/* Syncs, closes every dataset and the spa. */
int dsl_pool_close(dsl_pool_t *dp);
cf_spa_t *dsl_pool_spa(dsl_pool_t *dp);
int dsl_pool_sync(dsl_pool_t *dp) CF_MUST_CHECK;

/* ---- names -------------------------------------------------------------- */

/* Validate "pool/a/b[@snap]"; COFFER_EBADNAME with a detail. */
int dsl_name_check(const char *name, int allow_snap) CF_MUST_CHECK;

/* ---- datasets ------------------------------------------------------------- */

int dsl_create(dsl_pool_t *dp, const char *name, int type, uint64_t volsize,
    const char *const *props) CF_MUST_CHECK;
/* With a key for a new encryption root (see coffer_create_key). */
int dsl_create_key(dsl_pool_t *dp, const char *name, int type,
    uint64_t volsize, const char *const *props, const coffer_key_t *key)
    CF_MUST_CHECK;

/* ---- receive (recv.c) ---- */
typedef struct dsl_recv dsl_recv_t;
/*
 * Start receiving into `target`: a full stream (fromguid 0) into a new
 * dataset of `type`, or an incremental onto the target's latest snapshot,
 * whose guid must be fromguid (force: destroy later snapshots and roll
 * back first).  Changes go to a hidden dataset (dsl_recv_os) until
 * dsl_recv_end makes it the target, with snapshot `snap` of guid toguid,
 * in one txg.  dsl_recv_abort removes it; the target never changes.
 */
int dsl_recv_begin(dsl_pool_t *dp, const char *target, uint64_t fromguid,
    int force, int type, dsl_recv_t **out) CF_MUST_CHECK;
/*
 * Raw receive (send -w of an encrypted dataset): the hidden dataset is
 * written without keys (cf_os_set_raw).  A full stream makes it its own
 * encryption root from the sender's key record and its root's keystore
 * (the same key unlocks it); the ledger entry is the sender's root MAC
 * (unsealed until the key is first loaded here, FORMAT.md 15.4).  An
 * incremental needs an encrypted target with the same crypt guid.
 */
typedef struct dsl_recv_raw {
	const uint8_t *keyrec;
	size_t keyrec_len;
	const uint8_t *keystore;        /* full streams */
	size_t keystore_len;
	uint8_t mac[32];                /* the snapshot's root MAC */
	uint64_t mac_txg;
} dsl_recv_raw_t;
/* volsize: a full stream of a volume (its size is the dataset's). */
int dsl_recv_begin_raw(dsl_pool_t *dp, const char *target, uint64_t fromguid,
    int force, int type, uint64_t volsize, const dsl_recv_raw_t *raw,
    dsl_recv_t **out) CF_MUST_CHECK;
cf_objset_t *dsl_recv_os(dsl_recv_t *r);
int dsl_recv_end(dsl_recv_t *r, const char *snap, uint64_t toguid)
    CF_MUST_CHECK;
void dsl_recv_abort(dsl_recv_t *r);
int dsl_recv_rollback_to(dsl_pool_t *dp, const char *target, uint64_t guid)
    CF_MUST_CHECK;

/*
 * Resumable receives (recv.c).  dsl_recv_set_resumable, right after
 * dsl_recv_begin, stores `info` (the caller's description of the stream,
 * opaque here, at most DSL_RECV_INFO_MAX bytes) and a new random 32-byte
 * secret with the hidden dataset.  From then on the receiver reports,
 * after each record, the txg of its change and the point after it
 * (dsl_recv_note); the point becomes durable with that txg's data, never
 * before.  dsl_recv_suspend (an interrupted stream) keeps the hidden
 * dataset and the last durable point and frees r; a later
 * dsl_recv_resume opens it again for the rest of the stream, returning
 * the saved state for the caller to check before it applies anything
 * (dsl_recv_suspend again if it refuses).  dsl_recv_state_get reads the
 * state (COFFER_ENODS: no interrupted receive); dsl_recv_discard destroys
 * it (receive -A).  A new receive into a target with such state is
 * refused (COFFER_EBUSY) until it is resumed or discarded.
 */
#define DSL_RECV_INFO_MAX 2048
typedef struct dsl_recv_state {
	uint8_t info[DSL_RECV_INFO_MAX];
	size_t infolen;
	uint8_t secret[32];
	uint64_t fromguid;
	uint64_t object, offset, bytes; /* the durable point */
} dsl_recv_state_t;
int dsl_recv_set_resumable(dsl_recv_t *r, const void *info, size_t len)
    CF_MUST_CHECK;
int dsl_recv_is_resumable(const dsl_recv_t *r);
void dsl_recv_note(dsl_recv_t *r, uint64_t txg, uint64_t obj, uint64_t off,
    uint64_t bytes);
int dsl_recv_suspend(dsl_recv_t *r);
int dsl_recv_resume(dsl_pool_t *dp, const char *target,
    const dsl_recv_raw_t *raw, dsl_recv_state_t *st, dsl_recv_t **out)
    CF_MUST_CHECK;
int dsl_recv_state_get(dsl_pool_t *dp, const char *target,
    dsl_recv_state_t *st) CF_MUST_CHECK;
int dsl_recv_discard(dsl_pool_t *dp, const char *target) CF_MUST_CHECK;

/* ---- keys (crypt.c) ---- */
int dsl_load_key(dsl_pool_t *dp, const char *name, const coffer_key_t *key,
    int flags) CF_MUST_CHECK;
int dsl_unload_key(dsl_pool_t *dp, const char *name) CF_MUST_CHECK;
int dsl_change_key(dsl_pool_t *dp, const char *name,
    const char *const *props, const coffer_key_t *newkey, int inherit)
    CF_MUST_CHECK;
int dsl_key_slot_add(dsl_pool_t *dp, const char *name,
    const char *const *props, const coffer_key_t *newkey) CF_MUST_CHECK;
int dsl_key_slot_remove(dsl_pool_t *dp, const char *name, int slot)
    CF_MUST_CHECK;
/* Drop the pool's keys from the kernel keyring (export). */
int dsl_crypt_forget_all(dsl_pool_t *dp);
int dsl_key_slot_list(dsl_pool_t *dp, const char *name,
    int (*cb)(const coffer_slot_info_t *info, void *arg), void *arg)
    CF_MUST_CHECK;
int dsl_destroy(dsl_pool_t *dp, const char *name) CF_MUST_CHECK;
int dsl_snapshot(dsl_pool_t *dp, const char *snapname) CF_MUST_CHECK;
int dsl_rollback(dsl_pool_t *dp, const char *snapname) CF_MUST_CHECK;

/* Does it exist; its type (COFFER_TYPE_*) */
int dsl_lookup(dsl_pool_t *dp, const char *name, int *type) CF_MUST_CHECK;

/* Children (direct) of a dataset, names sorted. */
int dsl_children(dsl_pool_t *dp, const char *name,
    int (*cb)(const char *child, void *arg), void *arg) CF_MUST_CHECK;
/* Snapshots of a dataset in creation order (full names). */
int dsl_snapshots(dsl_pool_t *dp, const char *name,
    int (*cb)(const char *snap, void *arg), void *arg) CF_MUST_CHECK;

/*
 * Hold a dataset's object set for reading and writing (head) or reading
 * (snapshot).  Heads are shared by all holders; release with dsl_rele.
 */
int dsl_hold(dsl_pool_t *dp, const char *name, cf_objset_t **os,
    dsl_dataset_t **ds) CF_MUST_CHECK;
void dsl_rele(dsl_pool_t *dp, dsl_dataset_t *ds);
/*
 * Hold a snapshot for a raw send: no key needed (dnode bonuses stay
 * sealed).  *keys is set for an encrypted snapshot: the key record (its
 * keystore field zero) and its encryption root's keystore without the
 * ledger, as a raw stream carries them; free with dsl_rawkeys_free.
 */
typedef struct dsl_rawkeys {
	int encrypted;
	uint64_t guid, rootguid;
	int suite;
	int is_root;
	cf_buf_t keyrec, keystore;
	uint8_t mac[32];                /* the snapshot's root MAC */
	uint64_t mac_txg;
} dsl_rawkeys_t;
int dsl_hold_raw(dsl_pool_t *dp, const char *snapname, cf_objset_t **os,
    dsl_dataset_t **ds, dsl_rawkeys_t *keys) CF_MUST_CHECK;
void dsl_rawkeys_free(dsl_rawkeys_t *keys);
int dsl_ds_type(dsl_dataset_t *ds);
uint64_t dsl_ds_volsize(dsl_dataset_t *ds);

/* ---- properties --------------------------------------------------------------- */

int dsl_prop_get(dsl_pool_t *dp, const char *name, const char *prop,
    coffer_propval_t *out) CF_MUST_CHECK;
int dsl_prop_set(dsl_pool_t *dp, const char *name, const char *prop,
    const char *value) CF_MUST_CHECK;
int dsl_prop_inherit(dsl_pool_t *dp, const char *name, const char *prop)
    CF_MUST_CHECK;

/* ---- pool-wide walks ---------------------------------------------------------- */

typedef struct dsl_scrub_stats {
	uint64_t blocks, bytes, errors, repaired, unrecoverable;
} dsl_scrub_stats_t;
int dsl_scrub(dsl_pool_t *dp, coffer_progress_fn progress, void *arg,
    dsl_scrub_stats_t *st) CF_MUST_CHECK;
/* The persisted result of the last scrub. */
int dsl_scrub_result(dsl_pool_t *dp, coffer_pool_info_t *info);
int dsl_errors(dsl_pool_t *dp, int (*cb)(const char *where, void *arg),
    void *arg);

/*
 * Leak check: walk every block reachable from the uberblock and compare
 * with the allocator.  Fills counts of leaked sectors (allocated but not
 * referenced), doubly referenced blocks and references to free space.
 */
typedef struct dsl_leak_report {
	uint64_t reachable_bytes;
	uint64_t allocated_bytes;
	uint64_t leaked_bytes;
	uint64_t double_refs;
	uint64_t unallocated_refs;
} dsl_leak_report_t;
int dsl_leak_check(dsl_pool_t *dp, dsl_leak_report_t *rep) CF_MUST_CHECK;

/*
 * Visit every block reachable from the last committed uberblock (the MOS,
 * then each dataset's snapshots oldest first and its head), as scrub
 * does.  ds names the dataset ("<metadata>" for the MOS).  For tests and
 * debugging tools.
 */
typedef int (*dsl_visit_fn)(void *arg, const char *ds, uint64_t obj,
    uint64_t blkid, const cf_blkptr_t *bp);
int dsl_walk_blocks(dsl_pool_t *dp, dsl_visit_fn fn, void *arg)
    CF_MUST_CHECK;

#endif
