/*
 * spa: pool open/create/close, the uberblock ring and the txg engine.
 * (Invariants are listed in spa.h; the ones this file enforces are 1, 2
 * and 4.)
 *
 * Txg states:  open (threads hold it and dirty memory) -> quiescing (no
 * new holds; waits for holders to leave) -> syncing (the sync thread
 * writes it; the next txg is open meanwhile) -> synced (uberblock
 * durable).  At most one txg is open and one syncing at any time.
 *
 *   cf_spa_tx_hold     open txg: holds[txg & 1]++, once the previous
 *                      txg has no holders left
 *   sync_thread        quiesce: open_txg++, wait holds[old & 1] == 0;
 *                      sync: sync_fn(old) -> MOS bp; write_uberblock
 *   cf_spa_txg_wait    wanted_txg = txg; wake the sync thread; wait
 */
#include "spa/spa_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"

#define SYNC_INTERVAL_NS (5ULL * 1000000000ULL)
#define DIRTY_SYNC_BYTES (64ULL << 20)    /* start a sync past this */
#define DIRTY_MAX_BYTES  (512ULL << 20)   /* block writers past this */

/* ---- uberblock ---------------------------------------------------------- */

void cf_ub_encode(const cf_uberblock_t *ub, uint8_t out[CF_UB_SLOT_SIZE])
{
	memset(out, 0, CF_UB_SLOT_SIZE);
	le64_put(out + 0, ub->magic);
	le64_put(out + 8, ub->version);
	le64_put(out + 16, ub->txg);
	le64_put(out + 24, ub->pool_guid);
	le64_put(out + 32, ub->guid_sum);
	le64_put(out + 40, ub->timestamp);
	cf_bp_encode(&ub->mos, out + 48);
	le64_put(out + 208, ub->ndev);
	cf_sha256(out, 992, out + 992);
}

int cf_ub_decode(const uint8_t in[CF_UB_SLOT_SIZE], cf_uberblock_t *ub)
{
	uint8_t sum[32];
	memset(ub, 0, sizeof(*ub));
	ub->magic = le64_get(in);
	if (ub->magic != CF_UB_MAGIC)
		return COFFER_ECORRUPT;         /* empty slot: not noteworthy */
	cf_sha256(in, 992, sum);
	if (!cf_ct_equal(sum, in + 992, 32))
		return CF_CORRUPT();
	ub->version = le64_get(in + 8);
	ub->txg = le64_get(in + 16);
	ub->pool_guid = le64_get(in + 24);
	ub->guid_sum = le64_get(in + 32);
	ub->timestamp = le64_get(in + 40);
	/* Before any field a newer version may lay out differently (the bp,
	 * the reserved bytes): its slots must read as newer, not corrupt,
	 * or import would skip them and roll back to an older txg. */
	if (ub->version != CF_UB_VERSION)
		return ub->version > CF_UB_VERSION ? COFFER_ENOTSUP :
		    CF_CORRUPT();
	int err = cf_bp_decode(in + 48, &ub->mos);
	if (err)
		return err;
	ub->ndev = le64_get(in + 208);
	for (int i = 216; i < 992; i++)
		if (in[i])
			return CF_CORRUPT();
	if (ub->ndev == 0 || ub->ndev > CF_MAX_VDEVS)
		return CF_CORRUPT();
	return 0;
}

/* ---- device I/O ----------------------------------------------------------- */

int cf_spa_read_dva(cf_spa_t *spa, const cf_dva_t *dva, void *buf,
    size_t len)
{
	if (dva->vdev >= (uint32_t)spa->ndev || !spa->vdev[dva->vdev])
		return COFFER_EDEVICE;
	cf_vdev_t *v = spa->vdev[dva->vdev];
	if (dva->offset < cf_vdev_data_start(v) ||
	    dva->offset > cf_vdev_data_end(v) ||
	    len > cf_vdev_data_end(v) - dva->offset)
		return CF_CORRUPT();
	int err = cf_vdev_read(v, dva->offset, buf, len);
	if (err) {
		__atomic_add_fetch(&spa->stats[dva->vdev].read_errors, 1,
		    __ATOMIC_RELAXED);
	}
	return err;
}

int cf_spa_write_dva(cf_spa_t *spa, const cf_dva_t *dva, const void *buf,
    size_t len)
{
	if (spa->flags & CF_SPA_RDONLY)
		return COFFER_EREADONLY;
	if (dva->vdev >= (uint32_t)spa->ndev || !spa->vdev[dva->vdev])
		return COFFER_EDEVICE;
	cf_vdev_t *v = spa->vdev[dva->vdev];
	if (dva->offset < cf_vdev_data_start(v) ||
	    dva->offset > cf_vdev_data_end(v) ||
	    len > cf_vdev_data_end(v) - dva->offset)
		return -EINVAL;
	int err = cf_vdev_write(v, dva->offset, buf, len);
	if (err)
		__atomic_add_fetch(&spa->stats[dva->vdev].write_errors, 1,
		    __ATOMIC_RELAXED);
	return err;
}

void cf_spa_count_cksum_error(cf_spa_t *spa, int vdev)
{
	if (vdev >= 0 && vdev < spa->ndev)
		__atomic_add_fetch(&spa->stats[vdev].cksum_errors, 1,
		    __ATOMIC_RELAXED);
}

void cf_spa_count_healed(cf_spa_t *spa, int vdev)
{
	if (vdev >= 0 && vdev < spa->ndev)
		__atomic_add_fetch(&spa->stats[vdev].healed, 1,
		    __ATOMIC_RELAXED);
}

void cf_spa_dev_stats(cf_spa_t *spa, int vdev, cf_spa_stats_t *st)
{
	st->read_errors = __atomic_load_n(&spa->stats[vdev].read_errors,
	    __ATOMIC_RELAXED);
	st->write_errors = __atomic_load_n(&spa->stats[vdev].write_errors,
	    __ATOMIC_RELAXED);
	st->cksum_errors = __atomic_load_n(&spa->stats[vdev].cksum_errors,
	    __ATOMIC_RELAXED);
	st->healed = __atomic_load_n(&spa->stats[vdev].healed,
	    __ATOMIC_RELAXED);
}

int cf_spa_dev_state(cf_spa_t *spa, int vdev)
{
	return spa->dev_state[vdev];
}

uint64_t cf_spa_dev_guid(cf_spa_t *spa, int vdev)
{
	return spa->vdev_guid[vdev];
}

/* ---- accessors -------------------------------------------------------------- */

const char *cf_spa_name(const cf_spa_t *spa) { return spa->name; }
uint64_t cf_spa_guid(const cf_spa_t *spa) { return spa->guid; }
int cf_spa_readonly(const cf_spa_t *spa)
{
	return (spa->flags & CF_SPA_RDONLY) != 0;
}
const cf_uberblock_t *cf_spa_ub(const cf_spa_t *spa) { return &spa->ub; }
int cf_spa_ndev(const cf_spa_t *spa) { return spa->ndev; }
cf_vdev_t *cf_spa_vdev(cf_spa_t *spa, int i) { return spa->vdev[i]; }

/* ---- create and open ------------------------------------------------------ */

static cf_spa_t *spa_new(const char *name, int flags)
{
	cf_spa_t *spa = calloc(1, sizeof(*spa));
	if (!spa)
		return NULL;
	cf_strlcpy(spa->name, name, sizeof(spa->name));
	spa->flags = flags;
	spa->lockfd = -1;
	pthread_mutex_init(&spa->alloc_lock, NULL);
	pthread_mutex_init(&spa->txg_lock, NULL);
	pthread_mutex_init(&spa->sync_lock, NULL);
	pthread_cond_init(&spa->txg_cv, NULL);
	return spa;
}

static void spa_free(cf_spa_t *spa)
{
	for (int i = 0; i < spa->ndev; i++)
		if (spa->vdev[i])
			cf_vdev_close(spa->vdev[i]);
	cf_alloc_fini(spa);
	if (spa->lockfd >= 0)
		close(spa->lockfd);
	pthread_mutex_destroy(&spa->alloc_lock);
	pthread_mutex_destroy(&spa->txg_lock);
	pthread_mutex_destroy(&spa->sync_lock);
	pthread_cond_destroy(&spa->txg_cv);
	free(spa);
}

static uint64_t guid_sum(const cf_spa_t *spa)
{
	uint64_t s = 0;
	for (int i = 0; i < spa->ndev; i++)
		s += spa->vdev_guid[i];
	return s;
}

static int spa_create_labels(cf_spa_t *spa)
{
	cf_label_config_t *c = &spa->config;
	memset(c, 0, sizeof(*c));
	c->version = CF_LABEL_VERSION;
	c->pool_guid = spa->guid;
	cf_strlcpy(c->pool_name, spa->name, sizeof(c->pool_name));
	c->state = CF_POOL_STATE_ACTIVE;
	c->vdev_count = (uint32_t)spa->ndev;
	for (int i = 0; i < spa->ndev; i++) {
		c->vdev_guids[i] = spa->vdev_guid[i];
		c->vdev_sizes[i] = cf_vdev_data_end(spa->vdev[i]) -
		    cf_vdev_data_start(spa->vdev[i]);
	}
	gethostname(c->hostname, sizeof(c->hostname) - 1);
	for (int i = 0; i < spa->ndev; i++) {
		c->vdev_guid = spa->vdev_guid[i];
		c->vdev_index = (uint32_t)i;
		/* a stale uberblock ring from an earlier pool must not
		 * survive: wipe the labels first */
		int err = cf_label_wipe(spa->vdev[i]);
		if (!err)
			err = cf_label_write_config(spa->vdev[i], c);
		if (err)
			return err;
	}
	return 0;
}

int cf_spa_open_vdevs(const char *name, cf_vdev_t **vdevs, int ndev,
    int create, int flags, cf_spa_t **out)
{
	int err = 0;
	if (ndev < 1 || ndev > CF_MAX_VDEVS)
		return -EINVAL;
	cf_spa_t *spa = spa_new(name, flags);
	if (!spa) {
		for (int i = 0; i < ndev; i++)
			cf_vdev_close(vdevs[i]);
		return -ENOMEM;
	}
	spa->ndev = ndev;
	for (int i = 0; i < ndev; i++)
		spa->vdev[i] = vdevs[i];

	if (create) {
		spa->guid = cf_random_guid();
		for (int i = 0; i < ndev; i++)
			spa->vdev_guid[i] = cf_random_guid();
		err = spa_create_labels(spa);
		if (err)
			goto fail;
		err = cf_alloc_init(spa);
		if (err)
			goto fail;
		spa->ub.magic = CF_UB_MAGIC;
		spa->ub.version = CF_UB_VERSION;
		spa->ub.pool_guid = spa->guid;
		spa->ub.guid_sum = guid_sum(spa);
		spa->ub.ndev = (uint64_t)ndev;
		spa->ub.txg = 0;
		spa->synced_txg = 0;
		spa->open_txg = 1;
		*out = spa;
		return 0;
	}

	/* Read the labels: all devices must belong to one pool. */
	cf_label_config_t c;
	int order[CF_MAX_VDEVS];
	cf_vdev_t *sorted[CF_MAX_VDEVS] = { 0 };
	uint64_t pool_guid = 0;
	uint32_t count = 0;
	for (int i = 0; i < ndev; i++) {
		int r = cf_label_read_config(vdevs[i], &c);
		if (r < 0) {
			cf_set_errdetail("no valid label on '%s'",
			    vdevs[i]->path ? vdevs[i]->path : "device");
			err = COFFER_EDEVICE;
			goto fail;
		}
		if (i == 0) {
			pool_guid = c.pool_guid;
			count = c.vdev_count;
			spa->config = c;
		} else if (c.pool_guid != pool_guid) {
			cf_set_errdetail("'%s' belongs to another pool",
			    vdevs[i]->path ? vdevs[i]->path : "device");
			err = COFFER_EDEVICE;
			goto fail;
		}
		if (c.features_ro_compat != 0 && !(flags & CF_SPA_RDONLY)) {
			cf_set_errdetail("pool uses features this version can "
			    "only read (ro_compat bits 0x%llx); open it "
			    "read-only", (unsigned long long)c.features_ro_compat);
			err = COFFER_ENOTSUP;
			goto fail;
		}
		if (c.features_incompat != 0) {
			cf_set_errdetail("pool uses unsupported features "
			    "(incompat bits 0x%llx)",
			    (unsigned long long)c.features_incompat);
			err = COFFER_ENOTSUP;
			goto fail;
		}
		if (c.vdev_index >= (uint32_t)CF_MAX_VDEVS ||
		    sorted[c.vdev_index]) {
			err = CF_CORRUPT();
			goto fail;
		}
		sorted[c.vdev_index] = vdevs[i];
		order[i] = (int)c.vdev_index;
	}
	(void)order;
	if (count != (uint32_t)ndev) {
		for (uint32_t i = 0; i < count && i < CF_MAX_VDEVS; i++)
			if (!sorted[i]) {
				cf_set_errdetail("device %u of %u is missing",
				    i + 1, count);
				break;
			}
		err = COFFER_EDEVICE;
		goto fail;
	}
	spa->guid = pool_guid;
	for (int i = 0; i < ndev; i++) {
		spa->vdev[i] = sorted[i];
		spa->vdev_guid[i] = spa->config.vdev_guids[i];
		if (cf_vdev_data_end(sorted[i]) - cf_vdev_data_start(sorted[i])
		    < spa->config.vdev_sizes[i]) {
			cf_set_errdetail("device '%s' is smaller than the pool "
			    "expects", sorted[i]->path ? sorted[i]->path : "");
			err = COFFER_EDEVICE;
			goto fail;
		}
	}

	/* The newest valid uberblock over all labels of all devices. */
	cf_uberblock_t best = { 0 }, ub;
	int found = 0, newer = 0;
	uint8_t *ring = malloc(CF_UB_SLOTS * CF_UB_SLOT_SIZE);
	if (!ring) {
		err = -ENOMEM;
		goto fail;
	}
	for (int d = 0; d < ndev; d++)
		for (unsigned l = 0; l < CF_LABELS; l++) {
			if (cf_label_read_ring(spa->vdev[d], l, ring))
				continue;
			for (unsigned s = 0; s < CF_UB_SLOTS; s++) {
				const uint8_t *slot = ring +
				    (size_t)s * CF_UB_SLOT_SIZE;
				int r = cf_ub_decode(slot, &ub);
				if (r == COFFER_ENOTSUP)
					newer = 1;
				if (r)
					continue;
				if (ub.pool_guid != pool_guid ||
				    ub.guid_sum != guid_sum(spa) ||
				    ub.ndev != (uint64_t)ndev)
					continue;
				if (!found || ub.txg > best.txg) {
					best = ub;
					found = 1;
				}
			}
		}
	free(ring);
	if (newer) {
		/* a newer coffer wrote this pool: do not go back in time */
		cf_set_errdetail("the pool was written by a newer version of "
		    "coffer (uberblock version > %d)", CF_UB_VERSION);
		err = COFFER_ENOTSUP;
		goto fail;
	}
	if (!found) {
		cf_set_errdetail("no valid uberblock found");
		err = COFFER_ECORRUPT;
		goto fail;
	}
	spa->ub = best;
	spa->synced_txg = best.txg;
	spa->open_txg = best.txg + 1;
	err = cf_alloc_init(spa);
	if (err)
		goto fail;
	*out = spa;
	return 0;
fail:
	spa_free(spa);
	return err;
}

static int open_devs(const char *const *devs, int ndev, int vflags,
    uint64_t size, cf_vdev_t **v)
{
	for (int i = 0; i < ndev; i++) {
		int err = cf_vdev_open_file(devs[i], vflags, size, &v[i]);
		if (err) {
			if (err == -ENOENT)
				cf_set_errdetail("cannot open '%s': no such "
				    "file or directory", devs[i]);
			else if (!coffer_errdetail()[0])
				cf_set_errdetail("cannot open '%s': %s",
				    devs[i], coffer_strerror(err));
			for (int j = 0; j < i; j++)
				cf_vdev_close(v[j]);
			return err == -ENOENT ? COFFER_EDEVICE : err;
		}
	}
	return 0;
}

int cf_spa_create(const char *name, const char *const *devs, int ndev,
    uint64_t size, cf_spa_t **out)
{
	cf_vdev_t *v[CF_MAX_VDEVS];
	int err;
	if (ndev < 1 || ndev > CF_MAX_VDEVS)
		return -EINVAL;
	for (int i = 0; i < ndev; i++) {
		err = cf_vdev_open_file(devs[i],
		    size ? CF_VDEV_CREATE | CF_VDEV_EXCL : 0, size, &v[i]);
		if (err == -EEXIST && size) {
			/* an existing file of any size is used as it is */
			err = cf_vdev_open_file(devs[i], 0, 0, &v[i]);
		}
		if (err) {
			cf_set_errdetail("cannot use '%s': %s", devs[i],
			    err == -EINVAL ? "smaller than 64M" :
			    coffer_strerror(err));
			for (int j = 0; j < i; j++)
				cf_vdev_close(v[j]);
			return err;
		}
		/* a device already in a live pool is refused */
		cf_label_config_t c;
		if (cf_label_read_config(v[i], &c) > 0 &&
		    c.state == CF_POOL_STATE_ACTIVE) {
			cf_set_errdetail("'%s' is part of pool '%s'", devs[i],
			    c.pool_name);
			for (int j = 0; j <= i; j++)
				cf_vdev_close(v[j]);
			return COFFER_EBUSY;
		}
	}
	err = cf_spa_open_vdevs(name, v, ndev, 1, 0, out);
	return err;
}

int cf_spa_open(const char *name, const char *const *devs, int ndev,
    int flags, cf_spa_t **out)
{
	cf_vdev_t *v[CF_MAX_VDEVS];
	int err = open_devs(devs, ndev,
	    (flags & CF_SPA_RDONLY) ? CF_VDEV_RDONLY : 0, 0, v);
	if (err)
		return err;
	return cf_spa_open_vdevs(name, v, ndev, 0, flags, out);
}

/* ---- uberblock write ------------------------------------------------------ */

static int flush_all(cf_spa_t *spa)
{
	for (int i = 0; i < spa->ndev; i++) {
		int err = cf_vdev_flush(spa->vdev[i]);
		if (err)
			return err;
	}
	return 0;
}

static int write_uberblock(cf_spa_t *spa, uint64_t txg,
    const cf_blkptr_t *mos)
{
	cf_uberblock_t ub = spa->ub;
	uint8_t slot[CF_UB_SLOT_SIZE];
	ub.magic = CF_UB_MAGIC;
	ub.version = CF_UB_VERSION;
	ub.txg = txg;
	ub.timestamp = (uint64_t)time(NULL);
	ub.mos = *mos;
	cf_ub_encode(&ub, slot);

	/* Invariant 1: data first, then the uberblock, then flush again. */
	int err = flush_all(spa);
	for (int i = 0; i < spa->ndev && !err; i++)
		err = cf_label_write_ub(spa->vdev[i],
		    (unsigned)(txg % CF_UB_SLOTS), slot);
	if (!err)
		err = flush_all(spa);
	if (!err)
		spa->ub = ub;
	return err;
}

/* ---- the txg engine -------------------------------------------------------- */

static int sync_one(cf_spa_t *spa, uint64_t txg)
{
	cf_blkptr_t mos;
	int err;

	pthread_mutex_lock(&spa->sync_lock);
	spa->syncing_txg = txg;
	err = spa->sync_fn(spa->sync_arg, txg, &mos);
	if (!err)
		err = write_uberblock(spa, txg, &mos);
	spa->syncing_txg = 0;
	if (!err)
		err = cf_alloc_wipe(spa, txg);
	if (!err) {
		cf_alloc_txg_done(spa, txg);
		if (spa->done_fn)
			spa->done_fn(spa->sync_arg, txg);
	}
	pthread_mutex_unlock(&spa->sync_lock);
	return err;
}

/*
 * Quiesce the open txg and sync it.  Called with txg_lock held; drops it
 * while syncing.
 */
static void quiesce_and_sync(cf_spa_t *spa)
{
	uint64_t txg = spa->open_txg;
	spa->open_txg++;
	spa->holds[spa->open_txg & 1] = 0;
	spa->dirty_bytes[spa->open_txg & 1] = 0;
	while (spa->holds[txg & 1] > 0)
		pthread_cond_wait(&spa->txg_cv, &spa->txg_lock);
	/* A pause may have begun while the holders drained: the quiesced
	 * txg waits for the resume.  pause and syncing change only under
	 * txg_lock, so a pause either sees this sync and waits for it or
	 * is seen here (cf_spa_sync_pause). */
	while (spa->pause > 0)
		pthread_cond_wait(&spa->txg_cv, &spa->txg_lock);
	spa->syncing = 1;
	pthread_cond_broadcast(&spa->txg_cv);
	pthread_mutex_unlock(&spa->txg_lock);

	int err = sync_one(spa, txg);

	pthread_mutex_lock(&spa->txg_lock);
	spa->syncing = 0;
	if (err) {
		if (!spa->failed)
			spa->failed = err;
		cf_log(COFFER_LOG_ERR, "pool '%s': sync of txg %llu failed: "
		    "%s", spa->name, (unsigned long long)txg,
		    coffer_strerror(err));
	} else {
		spa->synced_txg = txg;
	}
	spa->dirty_bytes[txg & 1] = 0;
	spa->last_sync_ns = cf_mono_ns();
	pthread_cond_broadcast(&spa->txg_cv);
}

static void *sync_thread(void *arg)
{
	cf_spa_t *spa = arg;
	pthread_mutex_lock(&spa->txg_lock);
	for (;;) {
		uint64_t open = spa->open_txg;
		int want = spa->wanted_txg >= open ||
		    spa->dirty_bytes[open & 1] >= DIRTY_SYNC_BYTES ||
		    (spa->dirty_bytes[open & 1] > 0 &&
		    cf_mono_ns() - spa->last_sync_ns >= SYNC_INTERVAL_NS);
		if (spa->failed) {
			/* nothing more can commit: wake waiters and idle */
			pthread_cond_broadcast(&spa->txg_cv);
			if (spa->exiting)
				break;
			pthread_cond_wait(&spa->txg_cv, &spa->txg_lock);
			continue;
		}
		if (spa->exiting && !want && spa->dirty_bytes[open & 1] == 0 &&
		    spa->holds[open & 1] == 0)
			break;
		if (spa->exiting && spa->dirty_bytes[open & 1] > 0)
			want = 1;
		if (want && !spa->pause) {
			quiesce_and_sync(spa);
			continue;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&spa->txg_cv, &spa->txg_lock, &ts);
	}
	pthread_mutex_unlock(&spa->txg_lock);
	return NULL;
}

void cf_spa_start(cf_spa_t *spa, cf_spa_sync_fn sync, cf_spa_done_fn done,
    void *arg)
{
	spa->sync_fn = sync;
	spa->done_fn = done;
	spa->sync_arg = arg;
	spa->last_sync_ns = cf_mono_ns();
	if (spa->flags & CF_SPA_RDONLY)
		return;
	if (pthread_create(&spa->thread, NULL, sync_thread, spa) == 0)
		spa->thread_running = 1;
}

/* Dirty bytes of the open and the syncing txg.  txg_lock held. */
static uint64_t dirty_pending(const cf_spa_t *spa)
{
	uint64_t open = spa->open_txg;
	return spa->dirty_bytes[open & 1] + spa->dirty_bytes[(open - 1) & 1];
}

/* A hold of txg, if `space` (0: frees space) fits beside the pending
 * dirty bytes and an eighth of them for metadata.  txg_lock held. */
static int hold_if_fits(cf_spa_t *spa, uint64_t txg, uint64_t space)
{
	uint64_t pending = dirty_pending(spa);
	if (space && space + pending + pending / 8 > cf_spa_available(spa))
		return -ENOSPC;
	spa->holds[txg & 1]++;
	return 0;
}

int cf_spa_tx_hold(cf_spa_t *spa, uint64_t space, uint64_t *txg)
{
	if (spa->flags & CF_SPA_RDONLY)
		return COFFER_EREADONLY;
	pthread_mutex_lock(&spa->txg_lock);
	for (;;) {
		if (spa->failed) {
			int e = spa->failed;
			pthread_mutex_unlock(&spa->txg_lock);
			return e;
		}
		uint64_t open = spa->open_txg;
		/* The previous txg is closed but still held: nothing of the
		 * open txg may change before its holders leave (invariant
		 * 5 of spa.h), so wait for them; they only finish. */
		if (spa->holds[(open - 1) & 1] > 0) {
			pthread_cond_wait(&spa->txg_cv, &spa->txg_lock);
			continue;
		}
		if (dirty_pending(spa) < DIRTY_MAX_BYTES ||
		    !spa->thread_running)
			break;
		/* throttle: let the sync thread catch up */
		spa->wanted_txg = CF_MAX(spa->wanted_txg, open);
		pthread_cond_broadcast(&spa->txg_cv);
		pthread_cond_wait(&spa->txg_cv, &spa->txg_lock);
	}
	int err = hold_if_fits(spa, spa->open_txg, space);
	if (!err)
		*txg = spa->open_txg;
	pthread_mutex_unlock(&spa->txg_lock);
	return err;
}

int cf_spa_tx_rehold(cf_spa_t *spa, uint64_t txg, uint64_t space)
{
	pthread_mutex_lock(&spa->txg_lock);
	int err = spa->failed ? spa->failed : hold_if_fits(spa, txg, space);
	pthread_mutex_unlock(&spa->txg_lock);
	return err;
}

void cf_spa_tx_rele(cf_spa_t *spa, uint64_t txg, uint64_t dirtied)
{
	pthread_mutex_lock(&spa->txg_lock);
	spa->dirty_bytes[txg & 1] += dirtied;
	if (--spa->holds[txg & 1] == 0 || dirtied)
		pthread_cond_broadcast(&spa->txg_cv);
	pthread_mutex_unlock(&spa->txg_lock);
}

void cf_spa_dirty(cf_spa_t *spa, uint64_t bytes)
{
	pthread_mutex_lock(&spa->txg_lock);
	spa->dirty_bytes[spa->open_txg & 1] += bytes;
	pthread_mutex_unlock(&spa->txg_lock);
}

int cf_spa_txg_wait(cf_spa_t *spa, uint64_t txg)
{
	int err = 0;
	if (spa->flags & CF_SPA_RDONLY)
		return 0;
	pthread_mutex_lock(&spa->txg_lock);
	if (txg == 0)
		txg = spa->open_txg;
	if (!spa->thread_running) {
		/* no sync thread (not started): sync inline */
		while (spa->synced_txg < txg && !spa->failed) {
			if (spa->open_txg <= txg) {
				quiesce_and_sync(spa);
			} else {
				break;
			}
		}
	} else {
		if (spa->wanted_txg < txg)
			spa->wanted_txg = txg;
		pthread_cond_broadcast(&spa->txg_cv);
		while (spa->synced_txg < txg && !spa->failed)
			pthread_cond_wait(&spa->txg_cv, &spa->txg_lock);
	}
	if (spa->synced_txg < txg)
		err = spa->failed ? spa->failed : -EIO;
	pthread_mutex_unlock(&spa->txg_lock);
	return err;
}

uint64_t cf_spa_synced_txg(cf_spa_t *spa)
{
	pthread_mutex_lock(&spa->txg_lock);
	uint64_t t = spa->synced_txg;
	pthread_mutex_unlock(&spa->txg_lock);
	return t;
}

uint64_t cf_spa_open_txg(cf_spa_t *spa)
{
	pthread_mutex_lock(&spa->txg_lock);
	uint64_t t = spa->open_txg;
	pthread_mutex_unlock(&spa->txg_lock);
	return t;
}

uint64_t cf_spa_syncing_txg(cf_spa_t *spa)
{
	return spa->syncing_txg;
}

int cf_spa_failed(cf_spa_t *spa)
{
	pthread_mutex_lock(&spa->txg_lock);
	int f = spa->failed;
	pthread_mutex_unlock(&spa->txg_lock);
	return f;
}

void cf_spa_poison(cf_spa_t *spa, int err)
{
	pthread_mutex_lock(&spa->txg_lock);
	if (!spa->failed) {
		spa->failed = err ? err : -EIO;
		cf_log(COFFER_LOG_ERR, "pool '%s': a change failed half way "
		    "(%s); nothing more will be committed", spa->name,
		    coffer_strerror(spa->failed));
	}
	pthread_cond_broadcast(&spa->txg_cv);
	pthread_mutex_unlock(&spa->txg_lock);
}

void cf_spa_sync_pause(cf_spa_t *spa)
{
	pthread_mutex_lock(&spa->txg_lock);
	spa->pause++;
	/* wait for a sync in progress to finish; none starts after this
	 * (quiesce_and_sync waits for pause == 0 before it syncs) */
	while (spa->syncing)
		pthread_cond_wait(&spa->txg_cv, &spa->txg_lock);
	pthread_mutex_unlock(&spa->txg_lock);
}

void cf_spa_sync_resume(cf_spa_t *spa)
{
	pthread_mutex_lock(&spa->txg_lock);
	spa->pause--;
	pthread_cond_broadcast(&spa->txg_cv);
	pthread_mutex_unlock(&spa->txg_lock);
}

int cf_spa_close(cf_spa_t *spa)
{
	int err = 0;
	if (spa->thread_running) {
		pthread_mutex_lock(&spa->txg_lock);
		spa->exiting = 1;
		pthread_cond_broadcast(&spa->txg_cv);
		pthread_mutex_unlock(&spa->txg_lock);
		pthread_join(spa->thread, NULL);
	}
	err = spa->failed;
	spa_free(spa);
	return err;
}
