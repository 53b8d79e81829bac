/*
 * dsl pool: the MOS, the sync of a txg, sync tasks, space accounting.
 *
 * Sync of txg T (dsl_sync, in the spa's sync thread):
 *   1. every open head dataset with changes in T: cf_os_sync -> new root
 *   2. sync tasks queued for T (create, destroy, snapshot, rollback,
 *      property changes), under the pool lock taken for writing
 *   3. heads dirtied by those tasks (a new filesystem) are synced
 *   4. every head's records and pending deadlist entries go to the MOS
 *   5. the MOS is synced, then the allocation bitmaps written into it,
 *      again and again until nothing changes (later passes rewrite
 *      blocks born in T in place, so this converges)
 *
 * Invariants
 *  1. The MOS is changed only in steps 2-5, under dp->lock held for
 *     writing; readers outside the sync thread take it for reading and so
 *     see the MOS of a whole txg.
 *  2. A block killed by a head is freed at once only when it was born
 *     after the head's latest snapshot; otherwise it goes on the head's
 *     deadlist (the snapshot still references it).
 *  3. dir.used changes only when a block is born or really freed, so the
 *     sum of used over all dirs equals the space that datasets hold.
 */
#include "dsl/dsl_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fs/fs.h"

/* ---- records -------------------------------------------------------------- */

void dirrec_encode(const dirrec_t *r, uint8_t *out)
{
	memset(out, 0, DIRREC_SIZE);
	le64_put(out + 0, r->parent);
	le64_put(out + 8, r->head);
	le64_put(out + 16, r->children);
	le64_put(out + 24, r->props);
	le64_put(out + 32, r->used);
	le64_put(out + 40, r->creation);
	le64_put(out + 48, r->type);
	le64_put(out + 56, r->snapnames);
	le64_put(out + 64, r->volsize);
	le64_put(out + 72, r->flags);
	le64_put(out + 80, r->keyrec);
	le64_put(out + 88, r->encroot);
	le64_put(out + 96, r->lused.l);
	le64_put(out + 104, r->lused.p);
}

int dirrec_decode(const uint8_t *in, size_t len, dirrec_t *r)
{
	if (len != DIRREC_SIZE && len != DIRREC_SIZE_V1 &&
	    len != DIRREC_SIZE_V0)
		return CF_CORRUPT();
	r->parent = le64_get(in + 0);
	r->head = le64_get(in + 8);
	r->children = le64_get(in + 16);
	r->props = le64_get(in + 24);
	r->used = le64_get(in + 32);
	r->creation = le64_get(in + 40);
	r->type = le64_get(in + 48);
	r->snapnames = le64_get(in + 56);
	r->volsize = le64_get(in + 64);
	r->flags = le64_get(in + 72);
	r->keyrec = len >= DIRREC_SIZE_V1 ? le64_get(in + 80) : 0;
	r->encroot = len >= DIRREC_SIZE_V1 ? le64_get(in + 88) : 0;
	r->lused.l = len == DIRREC_SIZE ? le64_get(in + 96) : LACCT_UNKNOWN;
	r->lused.p = len == DIRREC_SIZE ? le64_get(in + 104) : LACCT_UNKNOWN;
	if (r->type != COFFER_TYPE_FILESYSTEM && r->type != COFFER_TYPE_VOLUME)
		return CF_CORRUPT();
	return 0;
}

void dsrec_encode(const dsrec_t *r, uint8_t *out)
{
	memset(out, 0, DSREC_SIZE);
	le64_put(out + 0, r->dir);
	le64_put(out + 8, r->prev);
	le64_put(out + 16, r->next);
	le64_put(out + 24, r->txg);
	le64_put(out + 32, r->creation);
	le64_put(out + 40, r->guid);
	le64_put(out + 48, r->referenced);
	le64_put(out + 56, r->deadlist);
	le64_put(out + 64, r->flags);
	le64_put(out + 72, r->prev_txg);
	cf_bp_encode(&r->root, out + 80);
	le64_put(out + DSREC_SIZE_V0, r->lrefd.l);
	le64_put(out + DSREC_SIZE_V0 + 8, r->lrefd.p);
}

int dsrec_decode(const uint8_t *in, size_t len, dsrec_t *r)
{
	if (len != DSREC_SIZE && len != DSREC_SIZE_V0)
		return CF_CORRUPT();
	r->dir = le64_get(in + 0);
	r->prev = le64_get(in + 8);
	r->next = le64_get(in + 16);
	r->txg = le64_get(in + 24);
	r->creation = le64_get(in + 32);
	r->guid = le64_get(in + 40);
	r->referenced = le64_get(in + 48);
	r->deadlist = le64_get(in + 56);
	r->flags = le64_get(in + 64);
	r->prev_txg = le64_get(in + 72);
	if (r->flags & ~(uint64_t)DSF_SNAPSHOT)
		return CF_CORRUPT();
	r->lrefd.l = r->lrefd.p = LACCT_UNKNOWN;
	if (len == DSREC_SIZE) {
		r->lrefd.l = le64_get(in + DSREC_SIZE_V0);
		r->lrefd.p = le64_get(in + DSREC_SIZE_V0 + 8);
	}
	return cf_bp_decode(in + 80, &r->root);
}

int dir_read(dsl_pool_t *dp, uint64_t obj, dirrec_t *r)
{
	uint8_t b[CF_BONUS_MAX];
	int n = cf_bonus_read(dp->mos, obj, b, sizeof(b));
	if (n < 0)
		return n == -ENOENT ? CF_CORRUPT() : n;
	return dirrec_decode(b, (size_t)n, r);
}

int dir_write(dsl_pool_t *dp, cf_tx_t *tx, uint64_t obj, const dirrec_t *r)
{
	uint8_t b[DIRREC_SIZE];
	dirrec_encode(r, b);
	return cf_bonus_write(dp->mos, tx, obj, b, sizeof(b));
}

int ds_read(dsl_pool_t *dp, uint64_t obj, dsrec_t *r)
{
	uint8_t b[CF_BONUS_MAX];
	int n = cf_bonus_read(dp->mos, obj, b, sizeof(b));
	if (n < 0)
		return n == -ENOENT ? CF_CORRUPT() : n;
	return dsrec_decode(b, (size_t)n, r);
}

int ds_write(dsl_pool_t *dp, cf_tx_t *tx, uint64_t obj, const dsrec_t *r)
{
	uint8_t b[DSREC_SIZE];
	dsrec_encode(r, b);
	return cf_bonus_write(dp->mos, tx, obj, b, sizeof(b));
}

/* ---- deadlists ---------------------------------------------------------------- */

/* A deadlist is an object of 160-byte block pointers; the count lives in
 * its bonus (8 bytes). */
int deadlist_create(dsl_pool_t *dp, cf_tx_t *tx, uint64_t *obj)
{
	int err = cf_obj_alloc(dp->mos, tx, CF_OT_DEADLIST, 16384, obj);
	if (err)
		return err;
	uint8_t b[8] = { 0 };
	return cf_bonus_write(dp->mos, tx, *obj, b, 8);
}

int deadlist_count(dsl_pool_t *dp, uint64_t obj, uint64_t *n)
{
	uint8_t b[CF_BONUS_MAX];
	int len = cf_bonus_read(dp->mos, obj, b, sizeof(b));
	if (len < 0)
		return len;
	if (len != 8)
		return CF_CORRUPT();
	*n = le64_get(b);
	if (*n > (UINT64_MAX / CF_BP_SIZE))
		return CF_CORRUPT();
	return 0;
}

int deadlist_append(dsl_pool_t *dp, cf_tx_t *tx, uint64_t obj,
    const uint8_t *bps, uint64_t n)
{
	uint64_t cnt;
	int err = deadlist_count(dp, obj, &cnt);
	if (err || n == 0)
		return err;
	err = cf_obj_write(dp->mos, tx, obj, cnt * CF_BP_SIZE, n * CF_BP_SIZE,
	    bps);
	if (err)
		return err;
	uint8_t b[8];
	le64_put(b, cnt + n);
	return cf_bonus_write(dp->mos, tx, obj, b, 8);
}

/* ---- accounting callbacks of head datasets ---------------------------------------- */

static void head_born(void *arg, const cf_blkptr_t *bp, uint64_t txg)
{
	dsl_dataset_t *ds = arg;
	uint64_t a = cf_bp_asize(bp);
	(void)txg;
	pthread_mutex_lock(&ds->acct);
	ds->dir.used += a;
	ds->ds.referenced += a;
	lacct_add(&ds->dir.lused, bp->lsize, bp->psize);
	lacct_add(&ds->ds.lrefd, bp->lsize, bp->psize);
	ds->dirty = 1;
	pthread_mutex_unlock(&ds->acct);
}

static void head_unborn(void *arg, const cf_blkptr_t *bp, uint64_t txg)
{
	dsl_dataset_t *ds = arg;
	uint64_t a = cf_bp_asize(bp);
	(void)txg;
	pthread_mutex_lock(&ds->acct);
	ds->dir.used -= CF_MIN(a, ds->dir.used);
	ds->ds.referenced -= CF_MIN(a, ds->ds.referenced);
	lacct_sub(&ds->dir.lused, bp->lsize, bp->psize);
	lacct_sub(&ds->ds.lrefd, bp->lsize, bp->psize);
	ds->dirty = 1;
	pthread_mutex_unlock(&ds->acct);
}

static void head_kill(void *arg, const cf_blkptr_t *bp, uint64_t txg)
{
	dsl_dataset_t *ds = arg;
	uint64_t a = cf_bp_asize(bp);
	pthread_mutex_lock(&ds->acct);
	ds->ds.referenced -= CF_MIN(a, ds->ds.referenced);
	lacct_sub(&ds->ds.lrefd, bp->lsize, bp->psize);
	ds->dirty = 1;
	if (bp->birth > ds->ds.prev_txg) {
		/* nobody else references it */
		ds->dir.used -= CF_MIN(a, ds->dir.used);
		lacct_sub(&ds->dir.lused, bp->lsize, bp->psize);
		pthread_mutex_unlock(&ds->acct);
		cf_spa_free(ds->dp->spa, bp, txg);
		return;
	}
	uint8_t raw[CF_BP_SIZE];
	cf_bp_encode(bp, raw);
	if (cf_buf_append(&ds->dead, raw, CF_BP_SIZE) != 0)
		cf_log(COFFER_LOG_ERR, "%s: cannot remember a freed block; "
		    "its space stays allocated", ds->name);
	pthread_mutex_unlock(&ds->acct);
}

static void head_dirtied(void *arg, uint64_t txg)
{
	(void)arg;
	(void)txg;
}

const cf_os_ops_t dsl_head_ops = {
	head_born, head_kill, head_unborn, head_dirtied
};

static void mos_born(void *arg, const cf_blkptr_t *bp, uint64_t txg)
{
	dsl_pool_t *dp = arg;
	(void)txg;
	__atomic_add_fetch(&dp->mos_used, cf_bp_asize(bp), __ATOMIC_RELAXED);
}

static void mos_unborn(void *arg, const cf_blkptr_t *bp, uint64_t txg)
{
	dsl_pool_t *dp = arg;
	(void)txg;
	__atomic_sub_fetch(&dp->mos_used, cf_bp_asize(bp), __ATOMIC_RELAXED);
}

static void mos_kill(void *arg, const cf_blkptr_t *bp, uint64_t txg)
{
	dsl_pool_t *dp = arg;
	__atomic_sub_fetch(&dp->mos_used, cf_bp_asize(bp), __ATOMIC_RELAXED);
	cf_spa_free(dp->spa, bp, txg);
}

static const cf_os_ops_t mos_ops = { mos_born, mos_kill, mos_unborn, NULL };

/* ---- flushing a head ------------------------------------------------------------------ */

int ds_flush(dsl_dataset_t *ds, uint64_t txg)
{
	dsl_pool_t *dp = ds->dp;
	cf_tx_t tx;
	cf_tx_sync_init(&tx, dp->mos, txg);
	pthread_mutex_lock(&ds->acct);
	int dirty = ds->dirty;
	dsrec_t dr = ds->ds;
	dirrec_t dir = ds->dir;
	cf_buf_t dead = ds->dead;
	memset(&ds->dead, 0, sizeof(ds->dead));
	ds->dirty = 0;
	pthread_mutex_unlock(&ds->acct);
	int err = 0;
	if (dead.len)
		err = deadlist_append(dp, &tx, dr.deadlist, dead.data,
		    dead.len / CF_BP_SIZE);
	cf_buf_free(&dead);
	if (!err && dirty) {
		err = ds_write(dp, &tx, ds->dsobj, &dr);
		if (!err)
			err = dir_write(dp, &tx, ds->dirobj, &dir);
	}
	/* after this txg's data: a resumable receive's point (recv.c) */
	if (!err && ds->recv)
		err = dsl_recv_flush(ds->recv, &tx, txg);
	return err;
}

dsl_dataset_t *dsl_open_head(dsl_pool_t *dp, uint64_t dsobj)
{
	for (dsl_dataset_t *d = dp->open; d; d = d->next)
		if (!d->snapshot && !d->gone && d->dsobj == dsobj)
			return d;
	return NULL;
}

/* ---- sync tasks ---------------------------------------------------------------------- */

int dsl_sync_task(dsl_pool_t *dp,
    int (*fn)(dsl_pool_t *dp, void *arg, uint64_t txg), void *arg)
{
	if (dp->readonly)
		return COFFER_EREADONLY;
	dsl_task_t t = { fn, arg, 0, 0, NULL, "" };
	uint64_t txg;
	int err = cf_spa_tx_hold(dp->spa, 0, &txg);
	if (err)
		return err;
	t.txg = txg;
	pthread_mutex_lock(&dp->task_lock);
	dsl_task_t **pp = &dp->tasks;
	while (*pp)
		pp = &(*pp)->next;
	*pp = &t;
	pthread_mutex_unlock(&dp->task_lock);
	cf_spa_tx_rele(dp->spa, txg, 1);
	err = cf_spa_txg_wait(dp->spa, txg);
	if (err) {
		/* the task may never run: take it off the queue */
		pthread_mutex_lock(&dp->task_lock);
		for (pp = &dp->tasks; *pp; pp = &(*pp)->next)
			if (*pp == &t) {
				*pp = t.next;
				break;
			}
		pthread_mutex_unlock(&dp->task_lock);
		return err;
	}
	/* the detail was set in the sync thread: bring it to the caller */
	if (t.result && t.detail[0])
		cf_set_errdetail("%s", t.detail);
	return t.result;
}

static int run_tasks(dsl_pool_t *dp, uint64_t txg)
{
	for (;;) {
		pthread_mutex_lock(&dp->task_lock);
		dsl_task_t **pp = &dp->tasks, *t = NULL;
		while (*pp) {
			if ((*pp)->txg <= txg) {
				t = *pp;
				*pp = t->next;
				break;
			}
			pp = &(*pp)->next;
		}
		pthread_mutex_unlock(&dp->task_lock);
		if (!t)
			return 0;
		cf_clear_errdetail();
		t->result = t->fn(dp, t->arg, txg);
		if (t->result)
			cf_strlcpy(t->detail, coffer_errdetail(),
			    sizeof(t->detail));
	}
}

/* ---- the sync ------------------------------------------------------------------------- */

static int sync_heads(dsl_pool_t *dp, uint64_t txg)
{
	int err = 0;
	pthread_mutex_lock(&dp->ds_lock);
	for (dsl_dataset_t *d = dp->open; d && !err; d = d->next) {
		if (d->snapshot || d->gone || !d->os)
			continue;
		if (!cf_os_dirty(d->os, txg))
			continue;
		cf_blkptr_t root;
		err = cf_os_sync(d->os, txg, 1, &root);
		if (!err) {
			pthread_mutex_lock(&d->acct);
			d->ds.root = root;
			d->dirty = 1;
			pthread_mutex_unlock(&d->acct);
		} else {
			cf_log(COFFER_LOG_ERR, "sync of '%s' failed: %s",
			    d->name, coffer_strerror(err));
		}
	}
	pthread_mutex_unlock(&dp->ds_lock);
	return err;
}

static int flush_heads(dsl_pool_t *dp, uint64_t txg)
{
	int err = 0;
	pthread_mutex_lock(&dp->ds_lock);
	for (dsl_dataset_t *d = dp->open; d && !err; d = d->next)
		if (!d->snapshot && !d->gone)
			err = ds_flush(d, txg);
	pthread_mutex_unlock(&dp->ds_lock);
	return err;
}

struct bmarg {
	dsl_pool_t *dp;
	cf_tx_t *tx;
};

static int bitmap_cb(void *arg, int vdev, uint64_t off, const void *buf,
    uint64_t len)
{
	struct bmarg *a = arg;
	return cf_obj_write(a->dp->mos, a->tx, a->dp->bitmap_obj[vdev], off,
	    len, buf);
}

static int dsl_sync(void *arg, uint64_t txg, cf_blkptr_t *mosbp)
{
	dsl_pool_t *dp = arg;
	int err = sync_heads(dp, txg);
	if (err)
		return err;
	pthread_rwlock_wrlock(&dp->lock);
	err = run_tasks(dp, txg);
	if (!err)
		err = sync_heads(dp, txg);
	if (!err)
		err = dsl_crypt_sync(dp, txg);
	if (!err)
		err = flush_heads(dp, txg);
	cf_tx_t tx;
	cf_tx_sync_init(&tx, dp->mos, txg);
	struct bmarg ba = { dp, &tx };
	for (int pass = 1; !err; pass++) {
		if (pass > 30) {
			cf_log(COFFER_LOG_ERR, "sync of txg %llu does not "
			    "converge", (unsigned long long)txg);
			err = -EIO;
			break;
		}
		err = cf_os_sync(dp->mos, txg, pass, mosbp);
		if (!err)
			err = cf_spa_bitmap_dirty(dp->spa, bitmap_cb, &ba);
		if (!err && !cf_os_dirty(dp->mos, txg))
			break;
	}
	pthread_rwlock_unlock(&dp->lock);
	return err;
}

static void dsl_synced(void *arg, uint64_t txg)
{
	dsl_pool_t *dp = arg;
	cf_os_synced(dp->mos, txg);
	pthread_mutex_lock(&dp->ds_lock);
	for (dsl_dataset_t *d = dp->open; d; d = d->next)
		if (d->os && !d->snapshot)
			cf_os_synced(d->os, txg);
	pthread_mutex_unlock(&dp->ds_lock);
}

int dsl_pool_sync(dsl_pool_t *dp)
{
	if (dp->readonly)
		return 0;
	return cf_spa_txg_wait(dp->spa, 0);
}

cf_spa_t *dsl_pool_spa(dsl_pool_t *dp)
{
	return dp->spa;
}

/* ---- create, open, close ------------------------------------------------------------ */

static dsl_pool_t *dp_new(cf_spa_t *spa)
{
	dsl_pool_t *dp = calloc(1, sizeof(*dp));
	if (!dp)
		return NULL;
	dp->spa = spa;
	dp->readonly = cf_spa_readonly(spa);
	pthread_rwlock_init(&dp->lock, NULL);
	pthread_mutex_init(&dp->ds_lock, NULL);
	pthread_mutex_init(&dp->task_lock, NULL);
	pthread_mutex_init(&dp->key_lock, NULL);
	return dp;
}

static void dp_free(dsl_pool_t *dp)
{
	if (dp->mos)
		cf_os_close(dp->mos);
	pthread_rwlock_destroy(&dp->lock);
	pthread_mutex_destroy(&dp->ds_lock);
	pthread_mutex_destroy(&dp->task_lock);
	dsl_crypt_fini(dp);
	pthread_mutex_destroy(&dp->key_lock);
	free(dp);
}

static const cf_os_settings_t mos_settings = {
	131072, CF_COMP_LZ4, 0, CF_CKSUM_SHA256, 2, 0
};

struct create_arg {
	const char *const *props;
};

static int create_pool_task(dsl_pool_t *dp, void *arg, uint64_t txg)
{
	struct create_arg *a = arg;
	cf_tx_t tx;
	cf_tx_sync_init(&tx, dp->mos, txg);
	uint64_t od;
	int err = cf_zap_create(dp->mos, &tx, CF_OT_ZAP, &od);
	if (err)
		return err;
	if (od != DSL_OBJDIR)
		return CF_CORRUPT();
	err = cf_zap_add_u64(dp->mos, &tx, od, "version", 1);
	for (int i = 0; i < cf_spa_ndev(dp->spa) && !err; i++) {
		char key[32];
		snprintf(key, sizeof(key), "bitmap.%d", i);
		err = cf_obj_alloc(dp->mos, &tx, CF_OT_SPACE_MAP, 16384,
		    &dp->bitmap_obj[i]);
		if (!err)
			err = cf_zap_add_u64(dp->mos, &tx, od, key,
			    dp->bitmap_obj[i]);
	}
	if (!err)
		err = cf_zap_create(dp->mos, &tx, CF_OT_ERRLOG, &dp->errlog);
	if (!err)
		err = cf_zap_add_u64(dp->mos, &tx, od, "errlog", dp->errlog);
	if (!err)
		err = dsl_create_root(dp, txg, a->props);
	return err;
}

int dsl_pool_create(cf_spa_t *spa, const char *const *props,
    dsl_pool_t **out)
{
	dsl_pool_t *dp = dp_new(spa);
	if (!dp)
		return -ENOMEM;
	cf_blkptr_t hole = { 0 };
	int err = cf_os_open(spa, &hole, CF_OS_TYPE_MOS, &mos_settings,
	    &mos_ops, dp, "MOS", &dp->mos);
	if (err) {
		dp_free(dp);
		return err;
	}
	cf_spa_set_wipe_types(spa, (1ULL << CF_OT_KEYREC) |
	    (1ULL << CF_OT_KEYSTORE));
	cf_spa_start(spa, dsl_sync, dsl_synced, dp);
	struct create_arg a = { props };
	err = dsl_sync_task(dp, create_pool_task, &a);
	if (err) {
		dsl_pool_close(dp);
		return err;
	}
	*out = dp;
	return 0;
}

int dsl_pool_open(cf_spa_t *spa, dsl_pool_t **out)
{
	dsl_pool_t *dp = dp_new(spa);
	if (!dp)
		return -ENOMEM;
	const cf_uberblock_t *ub = cf_spa_ub(spa);
	int err = cf_os_open(spa, &ub->mos, CF_OS_TYPE_MOS, &mos_settings,
	    &mos_ops, dp, "MOS", &dp->mos);
	uint64_t v = 0;
	if (!err)
		err = cf_zap_lookup_u64(dp->mos, DSL_OBJDIR, "version", &v);
	if (!err && v != 1) {
		cf_set_errdetail("pool version %llu is not supported",
		    (unsigned long long)v);
		err = COFFER_ENOTSUP;
	}
	if (!err)
		err = cf_zap_lookup_u64(dp->mos, DSL_OBJDIR, "root_dir",
		    &dp->root_dir);
	if (!err)
		err = cf_zap_lookup_u64(dp->mos, DSL_OBJDIR, "errlog",
		    &dp->errlog);
	uint8_t *buf = NULL;
	for (int i = 0; i < cf_spa_ndev(spa) && !err; i++) {
		char key[32];
		snprintf(key, sizeof(key), "bitmap.%d", i);
		err = cf_zap_lookup_u64(dp->mos, DSL_OBJDIR, key,
		    &dp->bitmap_obj[i]);
		uint64_t bytes = cf_spa_bitmap_bytes(spa, i);
		if (!err && !buf && !(buf = malloc(1 << 20)))
			err = -ENOMEM;
		for (uint64_t off = 0; off < bytes && !err; off += 1 << 20) {
			uint64_t n = CF_MIN(bytes - off, 1u << 20);
			err = cf_obj_read(dp->mos, dp->bitmap_obj[i], off, n,
			    buf);
			if (!err)
				err = cf_spa_bitmap_load(spa, i, off, buf, n);
		}
	}
	free(buf);
	if (err) {
		if (err == -ENOENT)
			err = CF_CORRUPT();
		dp_free(dp);
		return err;
	}
	cf_spa_bitmap_loaded(spa);
	cf_spa_set_wipe_types(spa, (1ULL << CF_OT_KEYREC) |
	    (1ULL << CF_OT_KEYSTORE));
	cf_spa_start(spa, dsl_sync, dsl_synced, dp);
	*out = dp;
	return 0;
}

int dsl_pool_close(dsl_pool_t *dp)
{
	int err = 0;
	if (!dp->readonly)
		err = cf_spa_txg_wait(dp->spa, 0);
	int e2 = cf_spa_close(dp->spa);
	if (!err)
		err = e2;
	/* datasets still held are closed with the pool */
	while (dp->open) {
		dsl_dataset_t *d = dp->open;
		dp->open = d->next;
		if (d->os)
			cf_os_close(d->os);
		cf_buf_free(&d->dead);
		dsl_crypt_cryptset_free(d->cs);
		pthread_mutex_destroy(&d->acct);
		free(d);
	}
	dp_free(dp);
	return err;
}
