/*
 * spa: the storage pool allocator.
 *
 * The spa owns the devices of a pool, their labels and the uberblock
 * ring, space allocation with deferred frees, the transaction group
 * (txg) engine and its sync thread, the pool registry and the pool lock.
 * It knows nothing of objects or datasets: the layer above (dsl) installs
 * a sync callback that writes a txg's changes and returns the root block
 * pointer of the meta object set (MOS), which the spa records in the
 * uberblock.
 *
 * Uberblock (one CF_UB_SLOT_SIZE slot of the label ring, little-endian):
 *
 *   off  len  field
 *     0    8  magic CF_UB_MAGIC
 *     8    8  version
 *    16    8  txg
 *    24    8  pool guid
 *    32    8  guid sum of all devices (detects a missing or foreign one)
 *    40    8  timestamp (seconds)
 *    48  160  block pointer of the MOS object set
 *   208    8  number of devices
 *   216  776  reserved, zero
 *   992   32  SHA-256 of bytes [0, 992)
 *
 * Invariants
 *  1. The uberblock of txg T is written (to slot T % CF_UB_SLOTS of every
 *     label of every device) only after every block of T is flushed, and
 *     is itself flushed before spa_sync returns: a txg is durable exactly
 *     when its uberblock is.
 *  2. Import picks the valid uberblock with the highest txg over all
 *     labels of all devices whose pool guid matches.
 *  3. A block freed in txg T (born before T) is not reused before txg
 *     T + CF_TXG_DEFER has begun syncing, so the pool at T - 1 stays
 *     intact until T is durable.  A block born and freed in the same
 *     syncing txg is reusable at once (nothing durable points at it).
 *  4. Only the sync thread writes blocks; open-context threads only hold
 *     the open txg (cf_spa_tx_hold) and dirty memory.
 *  5. No hold of txg T + 1 is granted while txg T has holders: every
 *     open-context change of T happens before any of T + 1.  So a change
 *     never has to reach a newer txg's dirty state, and a txg's changes
 *     are those of the transactions that held it, whole.  The price is
 *     the rule for callers: never begin a tx while holding one, nor
 *     while holding a lock that a tx holder may wait for.
 */
#ifndef COFFER_SPA_H
#define COFFER_SPA_H

#include "util/util.h"
#include "vdev/vdev.h"
#include "block/block.h"

#define CF_UB_MAGIC      0x434f464645525542ULL  /* "COFFERUB" */
#define CF_UB_VERSION    1
#define CF_TXG_DEFER     2

typedef struct cf_spa cf_spa_t;

typedef struct cf_uberblock {
	uint64_t magic;
	uint64_t version;
	uint64_t txg;
	uint64_t pool_guid;
	uint64_t guid_sum;
	uint64_t timestamp;
	cf_blkptr_t mos;
	uint64_t ndev;
} cf_uberblock_t;

void cf_ub_encode(const cf_uberblock_t *ub, uint8_t out[CF_UB_SLOT_SIZE]);
int cf_ub_decode(const uint8_t in[CF_UB_SLOT_SIZE], cf_uberblock_t *ub)
    CF_MUST_CHECK;

/* ---- sync callback ------------------------------------------------------ */

/*
 * Called by the sync thread for each txg with the spa's sync lock held.
 * It must write everything dirty in txg `txg` and set *mos to the new MOS
 * root.  It is also responsible for persisting the allocator (see
 * cf_spa_alloc_dirty below) inside that same txg.
 */
typedef int (*cf_spa_sync_fn)(void *arg, uint64_t txg, cf_blkptr_t *mos);
/* Called after txg `txg` is durable. */
typedef void (*cf_spa_done_fn)(void *arg, uint64_t txg);

/* ---- open, create, close ------------------------------------------------ */

/*
 * Create: open/create the devices, write labels, leave the pool open at
 * txg 0 with an empty MOS (the caller creates the MOS contents and syncs).
 */
int cf_spa_create(const char *name, const char *const *devs, int ndev,
    uint64_t size, cf_spa_t **out) CF_MUST_CHECK;

#define CF_SPA_RDONLY 0x1
/* Open a pool from its device paths (the registry gives them). */
int cf_spa_open(const char *name, const char *const *devs, int ndev,
    int flags, cf_spa_t **out) CF_MUST_CHECK;
/* Like open, over already-open vdevs (tests: memory and fault devices).
 * The spa takes ownership of the vdevs. */
int cf_spa_open_vdevs(const char *name, cf_vdev_t **vdevs, int ndev,
    int create, int flags, cf_spa_t **out) CF_MUST_CHECK;

/* Install the sync hooks and start the sync thread. */
void cf_spa_start(cf_spa_t *spa, cf_spa_sync_fn sync, cf_spa_done_fn done,
    void *arg);
/* Sync what is dirty, stop the sync thread, close the devices.  Returns
 * the first error met (the pool is closed either way). */
int cf_spa_close(cf_spa_t *spa);

const char *cf_spa_name(const cf_spa_t *spa);
uint64_t cf_spa_guid(const cf_spa_t *spa);
int cf_spa_readonly(const cf_spa_t *spa);
/* The uberblock chosen at open (or the last written). */
const cf_uberblock_t *cf_spa_ub(const cf_spa_t *spa);
int cf_spa_ndev(const cf_spa_t *spa);
cf_vdev_t *cf_spa_vdev(cf_spa_t *spa, int i);

/* ---- transaction groups ------------------------------------------------- */

/* Hold the open txg (blocks while dirty data is over the limit, and
 * while the previous txg still has holders: invariant 5).  -ENOSPC when
 * `space` cannot fit.  -EROFS on a read-only pool. */
int cf_spa_tx_hold(cf_spa_t *spa, uint64_t space, uint64_t *txg)
    CF_MUST_CHECK;
/* One more hold of txg, which the caller already holds (so it cannot
 * sync meanwhile): never waits.  A thread that begins a tx inside its own
 * tx joins the outer one's txg this way rather than wait for itself.
 * -ENOSPC when `space` cannot fit; the pool's error if it failed. */
int cf_spa_tx_rehold(cf_spa_t *spa, uint64_t txg, uint64_t space)
    CF_MUST_CHECK;
void cf_spa_tx_rele(cf_spa_t *spa, uint64_t txg, uint64_t dirtied);
/* Account dirty bytes into the open txg (for throttling/trigger). */
void cf_spa_dirty(cf_spa_t *spa, uint64_t bytes);
/* Wait until txg is durable (0: the currently open txg), forcing a sync. */
int cf_spa_txg_wait(cf_spa_t *spa, uint64_t txg) CF_MUST_CHECK;
uint64_t cf_spa_synced_txg(cf_spa_t *spa);
uint64_t cf_spa_open_txg(cf_spa_t *spa);
/* The txg now being synced (valid only in the sync thread), else 0. */
uint64_t cf_spa_syncing_txg(cf_spa_t *spa);
/* The first error of a failed sync, sticky: the pool refuses writes. */
int cf_spa_failed(cf_spa_t *spa);
/* Make the open txg never commit (a change failed half way): the pool
 * stays at its last committed txg and refuses further changes. */
void cf_spa_poison(cf_spa_t *spa, int err);

/* Pause and resume the sync thread (scrub, leak check): while paused no
 * txg syncs and nothing is freed. */
void cf_spa_sync_pause(cf_spa_t *spa);
void cf_spa_sync_resume(cf_spa_t *spa);

/* ---- space -------------------------------------------------------------- */

/* Allocate `ncopies` extents of asize bytes on distinct devices where
 * possible.  -ENOSPC. */
int cf_spa_alloc(cf_spa_t *spa, uint32_t asize, int ncopies,
    cf_dva_t *dvas) CF_MUST_CHECK;
/* Free all copies of bp in syncing txg `txg` (deferred, see invariant 3). */
void cf_spa_free(cf_spa_t *spa, const cf_blkptr_t *bp, uint64_t txg);
/* Free copies immediately (block born in the same syncing txg). */
void cf_spa_free_now(cf_spa_t *spa, const cf_blkptr_t *bp);
/*
 * Blocks whose bp type is in `mask` (bit n = type n) hold key material:
 * when freed they are overwritten with zeros, at once if born in the
 * syncing txg, otherwise right after the freeing txg is durable (before
 * the space can be reused), so no old wrapped key stays readable.
 */
void cf_spa_set_wipe_types(cf_spa_t *spa, uint64_t mask);

uint64_t cf_spa_size(cf_spa_t *spa);        /* allocatable bytes */
uint64_t cf_spa_allocated(cf_spa_t *spa);   /* incl. deferred frees */
/* Free bytes that new writes may use (keeps a slop reserve for metadata). */
uint64_t cf_spa_available(cf_spa_t *spa);

/*
 * Allocator persistence.  The bitmap of each device (one bit per
 * CF_SECTOR of its data area, set = allocated) is stored by the dsl in a
 * MOS object.  cf_spa_bitmap_bytes gives its size; cf_spa_bitmap_load
 * installs a bitmap read at open; cf_spa_bitmap_dirty hands out the
 * ranges (in bytes of the bitmap) changed since the last call together
 * with their content, for writing in the syncing txg.
 */
uint64_t cf_spa_bitmap_bytes(cf_spa_t *spa, int vdev);
int cf_spa_bitmap_load(cf_spa_t *spa, int vdev, uint64_t off,
    const void *buf, uint64_t len) CF_MUST_CHECK;
typedef int (*cf_bitmap_cb)(void *arg, int vdev, uint64_t off,
    const void *buf, uint64_t len);
int cf_spa_bitmap_dirty(cf_spa_t *spa, cf_bitmap_cb cb, void *arg)
    CF_MUST_CHECK;
/* Called by the dsl after loading all bitmaps at open. */
void cf_spa_bitmap_loaded(cf_spa_t *spa);

/* Test whether a sector range is allocated (leak checker). */
int cf_spa_is_allocated(cf_spa_t *spa, int vdev, uint64_t off,
    uint64_t len);
/* Iterate allocated extents as the on-disk bitmap sees them (leak check). */
int cf_spa_alloc_iter(cf_spa_t *spa,
    int (*cb)(void *arg, int vdev, uint64_t off, uint64_t len), void *arg);

/* ---- device I/O with error accounting ---------------------------------- */

int cf_spa_read_dva(cf_spa_t *spa, const cf_dva_t *dva, void *buf,
    size_t len) CF_MUST_CHECK;
int cf_spa_write_dva(cf_spa_t *spa, const cf_dva_t *dva, const void *buf,
    size_t len) CF_MUST_CHECK;
void cf_spa_count_cksum_error(cf_spa_t *spa, int vdev);
void cf_spa_count_healed(cf_spa_t *spa, int vdev);

typedef struct cf_spa_stats {
	uint64_t read_errors, write_errors, cksum_errors, healed;
} cf_spa_stats_t;
void cf_spa_dev_stats(cf_spa_t *spa, int vdev, cf_spa_stats_t *st);
uint64_t cf_spa_dev_allocated(cf_spa_t *spa, int vdev);
/* 0 online, 1 missing, 2 faulted */
int cf_spa_dev_state(cf_spa_t *spa, int vdev);
uint64_t cf_spa_dev_guid(cf_spa_t *spa, int vdev);

/* ---- registry and locking ------------------------------------------------ */

/* $COFFER_HOME (or the default) + "/pools": lines "name<TAB>guid<TAB>dev..." */
typedef struct cf_reg_entry {
	char name[CF_POOL_NAME_MAX + 1];
	uint64_t guid;
	int ndev;
	char *devs[CF_MAX_VDEVS];
} cf_reg_entry_t;
int cf_reg_lookup(const char *name, cf_reg_entry_t *e) CF_MUST_CHECK;
int cf_reg_add(const cf_reg_entry_t *e) CF_MUST_CHECK;
int cf_reg_remove(const char *name) CF_MUST_CHECK;
int cf_reg_list(int (*cb)(const cf_reg_entry_t *e, void *arg), void *arg);
void cf_reg_entry_free(cf_reg_entry_t *e);

/*
 * Pool lock: a POSIX record lock on the first device, exclusive for a
 * writer and shared for read-only opens, so the kernel drops it when the
 * holder dies.  On conflict COFFER_EBUSY, with the holder's pid and
 * command in the error detail.  Released by cf_spa_close.
 */
int cf_spa_lock(cf_spa_t *spa, const char *dev0) CF_MUST_CHECK;

#endif
