/* spa internals shared by spa.c, alloc.c and registry.c only. */
#ifndef COFFER_SPA_IMPL_H
#define COFFER_SPA_IMPL_H

#include <pthread.h>

#include "spa/spa.h"

/* One device's allocator: a bitmap of CF_SECTOR units of its data area. */
typedef struct cf_alloc_dev {
	uint64_t start;         /* first byte of the data area */
	uint64_t nbits;         /* sectors */
	uint8_t *map;           /* in use now (allocated + deferred frees) */
	uint8_t *disk;          /* as to be persisted (frees applied at once) */
	uint8_t *dirty;         /* one bit per CF_BITMAP_CHUNK of `disk` */
	uint64_t cursor;        /* next-fit position (bit) */
	uint64_t used_bits;     /* bits set in map */
	uint64_t disk_bits;     /* bits set in disk */
} cf_alloc_dev_t;

#define CF_BITMAP_CHUNK 4096u   /* bytes of bitmap per dirty unit */

/* A deferred free extent. */
typedef struct cf_defer {
	uint32_t vdev;
	uint32_t nsect;
	uint64_t bit;
} cf_defer_t;

typedef struct cf_defer_list {
	uint64_t txg;
	cf_defer_t *v;
	size_t n, cap;
} cf_defer_list_t;

struct cf_spa {
	char name[CF_POOL_NAME_MAX + 1];
	uint64_t guid;
	int flags;
	int ndev;
	cf_vdev_t *vdev[CF_MAX_VDEVS];
	uint64_t vdev_guid[CF_MAX_VDEVS];
	int dev_state[CF_MAX_VDEVS];
	cf_spa_stats_t stats[CF_MAX_VDEVS];
	cf_label_config_t config;
	cf_uberblock_t ub;
	int lockfd;

	/* allocator (alloc_lock) */
	pthread_mutex_t alloc_lock;
	cf_alloc_dev_t alloc[CF_MAX_VDEVS];
	cf_defer_list_t defer[CF_TXG_DEFER + 1];
	uint64_t wipe_mask;
	cf_dva_t *wipe;                 /* extents to zero after this txg */
	size_t nwipe, capwipe;
	uint64_t wipe_txg;
	int rotor;
	int bitmaps_loaded;

	/* txg engine (txg_lock) */
	pthread_mutex_t txg_lock;
	pthread_cond_t txg_cv;          /* state changes: wake everyone */
	uint64_t open_txg;
	uint64_t holds[2];              /* per txg & 1 */
	uint64_t dirty_bytes[2];
	uint64_t syncing_txg;
	uint64_t synced_txg;
	uint64_t wanted_txg;            /* someone waits for this to sync */
	uint64_t last_sync_ns;
	int pause;                      /* cf_spa_sync_pause depth */
	int syncing;                    /* a txg is between quiesce and
	                                   synced: pause waits for it */
	int exiting;
	int failed;                     /* sticky sync error */
	int thread_running;
	pthread_t thread;
	pthread_mutex_t sync_lock;      /* held while a txg syncs */
	cf_spa_sync_fn sync_fn;
	cf_spa_done_fn done_fn;
	void *sync_arg;
};

int cf_alloc_init(cf_spa_t *spa);
void cf_alloc_fini(cf_spa_t *spa);
/* End of txg `txg` sync: release frees deferred long enough. */
void cf_alloc_txg_done(cf_spa_t *spa, uint64_t txg);
/* Zero the key-material blocks freed in txg (now durable). */
int cf_alloc_wipe(cf_spa_t *spa, uint64_t txg);
/* Mark the label area of the device allocated (nothing: outside data). */

#endif
