/*
 * Pool-wide walks: scrub, the leak checker and the error log.
 *
 * Both walks visit every block reachable from the last committed
 * uberblock: the MOS, then for every dataset its snapshots from oldest to
 * newest and its head.  A snapshot or head is traversed only for blocks
 * born after the previous snapshot: older blocks are shared with it and
 * were visited there (a block's parents are always born no earlier than
 * the block, so pruning at a parent is exact).
 *
 * Invariants
 *  1. The sync thread is paused for the whole walk, so no block it visits
 *     is freed and reused under it.
 *  2. A block that no copy can verify is recorded in the error log with
 *     its dataset, object and block id, and the walk goes on without
 *     descending into it.
 */
#include "dsl/dsl_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef dsl_visit_fn visit_fn;

typedef struct walk {
	dsl_pool_t *dp;
	visit_fn fn;
	void *arg;
	const char *cur;
} walk_t;

static int walk_cb(void *arg, uint64_t obj, uint64_t blkid,
    const cf_blkptr_t *bp)
{
	walk_t *w = arg;
	return w->fn(w->arg, w->cur, obj, blkid, bp);
}

typedef struct kid_list {
	char **names;
	uint64_t *objs;
	size_t n, cap;
} kid_list_t;
static int kid_cb(const char *key, const void *val, size_t vlen,
    uint64_t next, void *arg);
static void kid_free(kid_list_t *l);
static const char *kid_name(const kid_list_t *l, uint64_t obj);

static int walk_dir(walk_t *w, uint64_t dirobj, const char *name, int depth)
{
	if (depth > 64)
		return CF_CORRUPT();
	dsl_pool_t *dp = w->dp;
	dirrec_t r;
	int err = dir_read(dp, dirobj, &r);
	if (err)
		return err;
	dsrec_t head;
	err = ds_read(dp, r.head, &head);
	if (err)
		return err;
	/* oldest snapshot first */
	uint64_t chain[4096];
	size_t n = 0;
	for (uint64_t s = head.prev; s && !err; ) {
		dsrec_t sr;
		if (n == CF_ARRAY_SIZE(chain))
			return -E2BIG;
		err = ds_read(dp, s, &sr);
		chain[n++] = s;
		s = sr.prev;
	}
	char sname[600];
	kid_list_t snaps = { 0 };
	uint64_t cookie = 0;
	if (!err)
		err = cf_zap_iter(dp->mos, r.snapnames, &cookie, kid_cb, &snaps);
	while (n > 0 && !err) {
		dsrec_t sr;
		uint64_t so = chain[--n];
		err = ds_read(dp, so, &sr);
		if (err)
			break;
		snprintf(sname, sizeof(sname), "%s@%s", name,
		    kid_name(&snaps, so));
		w->cur = sname;
		err = cf_os_traverse_root(dp->spa, &sr.root, sr.prev_txg,
		    walk_cb, w);
	}
	kid_free(&snaps);
	if (err)
		return err;
	w->cur = name;
	err = cf_os_traverse_root(dp->spa, &head.root, head.prev_txg, walk_cb,
	    w);
	if (err)
		return err;
	return 0;
}

/* zap iteration into a list (children of a dir) */
static void kid_free(kid_list_t *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	free(l->objs);
	memset(l, 0, sizeof(*l));
}

static const char *kid_name(const kid_list_t *l, uint64_t obj)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->objs[i] == obj)
			return l->names[i];
	return "?";
}

/* Collect keys (and u64 values when the value is one). */
static int kid_cb(const char *key, const void *val, size_t vlen,
    uint64_t next, void *arg)
{
	kid_list_t *l = arg;
	(void)next;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 8;
		char **nn = realloc(l->names, nc * sizeof(*nn));
		if (!nn)
			return -ENOMEM;
		l->names = nn;
		uint64_t *no = realloc(l->objs, nc * sizeof(*no));
		if (!no)
			return -ENOMEM;
		l->objs = no;
		l->cap = nc;
	}
	l->names[l->n] = strdup(key);
	if (!l->names[l->n])
		return -ENOMEM;
	l->objs[l->n++] = vlen == 8 ? le64_get(val) : 0;
	return 0;
}

static int walk_tree(walk_t *w, uint64_t dirobj, const char *name, int depth)
{
	int err = walk_dir(w, dirobj, name, depth);
	if (err)
		return err;
	dirrec_t r;
	err = dir_read(w->dp, dirobj, &r);
	if (err)
		return err;
	kid_list_t l = { 0 };
	uint64_t cookie = 0;
	err = cf_zap_iter(w->dp->mos, r.children, &cookie, kid_cb, &l);
	for (size_t i = 0; i < l.n && !err; i++) {
		char child[600];
		snprintf(child, sizeof(child), "%s/%s", name, l.names[i]);
		err = walk_tree(w, l.objs[i], child, depth + 1);
	}
	kid_free(&l);
	return err;
}

/* Walk the whole pool.  Sync paused and pool lock held by the caller. */
static int walk_pool(dsl_pool_t *dp, visit_fn fn, void *arg)
{
	walk_t w = { dp, fn, arg, "<metadata>" };
	const cf_uberblock_t *ub = cf_spa_ub(dp->spa);
	int err = cf_os_traverse_root(dp->spa, &ub->mos, 0, walk_cb, &w);
	if (err)
		return err;
	return walk_tree(&w, dp->root_dir, cf_spa_name(dp->spa), 0);
}

int dsl_walk_blocks(dsl_pool_t *dp, dsl_visit_fn fn, void *arg)
{
	int err = dsl_pool_sync(dp);
	if (err)
		return err;
	cf_spa_sync_pause(dp->spa);
	pthread_rwlock_rdlock(&dp->lock);
	err = walk_pool(dp, fn, arg);
	pthread_rwlock_unlock(&dp->lock);
	cf_spa_sync_resume(dp->spa);
	return err;
}

/* ---- scrub --------------------------------------------------------------------------- */

typedef struct errent {
	char ds[512];
	uint64_t obj, blkid;
} errent_t;

typedef struct scrub {
	dsl_pool_t *dp;
	dsl_scrub_stats_t st;
	coffer_progress_fn progress;
	void *parg;
	uint64_t total;
	errent_t *errs;
	size_t nerr, caperr;
	int stopped;
} scrub_t;

static int scrub_visit(void *arg, const char *ds, uint64_t obj,
    uint64_t blkid, const cf_blkptr_t *bp)
{
	scrub_t *s = arg;
	cf_scrub_res_t res;
	int err = cf_block_scrub(s->dp->spa, bp, &res);
	s->st.blocks++;
	s->st.bytes += cf_bp_asize(bp);
	s->st.errors += (uint64_t)res.bad_copies;
	s->st.repaired += (uint64_t)res.repaired;
	if (s->progress && s->progress(s->st.bytes, s->total, s->parg)) {
		s->stopped = 1;
		return COFFER_EINTR;
	}
	if (err == 0)
		return 0;
	if (err != COFFER_ECORRUPT && err != COFFER_EDEVICE && err != -EIO)
		return err;
	s->st.unrecoverable++;
	if (cf_grow(&s->errs, &s->caperr, s->nerr, sizeof(*s->errs), 16) != 0)
		return -ENOMEM;
	errent_t *e = &s->errs[s->nerr++];
	cf_strlcpy(e->ds, ds, sizeof(e->ds));
	e->obj = obj;
	e->blkid = blkid;
	cf_log(COFFER_LOG_ERR, "scrub: unrecoverable block in %s object %llu "
	    "block %llu", ds, (unsigned long long)obj,
	    (unsigned long long)blkid);
	/* do not descend into a block that cannot be read */
	return CF_TRAVERSE_SKIP;
}

struct scrub_save {
	scrub_t *s;
	uint64_t start, end, state;
};

static int scrub_save_task(dsl_pool_t *dp, void *arg, uint64_t txg)
{
	struct scrub_save *a = arg;
	cf_tx_t tx;
	cf_tx_sync_init(&tx, dp->mos, txg);
	struct { const char *k; uint64_t v; } kv[] = {
		{ "scrub_state", a->state },
		{ "scrub_start", a->start },
		{ "scrub_end", a->end },
		{ "scrub_examined", a->s->st.bytes },
		{ "scrub_blocks", a->s->st.blocks },
		{ "scrub_errors", a->s->st.errors },
		{ "scrub_repaired", a->s->st.repaired },
		{ "scrub_unrecoverable", a->s->st.unrecoverable },
	};
	int err = 0;
	for (size_t i = 0; i < CF_ARRAY_SIZE(kv) && !err; i++)
		err = cf_zap_update_u64(dp->mos, &tx, DSL_OBJDIR, kv[i].k,
		    kv[i].v);
	/* the error log is replaced by what this scrub found */
	uint64_t cookie = 0;
	kid_list_t l = { 0 };
	if (!err)
		err = cf_zap_iter(dp->mos, dp->errlog, &cookie, kid_cb, &l);
	for (size_t i = 0; i < l.n; i++) {
		if (!err)
			err = cf_zap_remove(dp->mos, &tx, dp->errlog,
			    l.names[i]);
		free(l.names[i]);
	}
	free(l.names);
	free(l.objs);
	for (size_t i = 0; i < a->s->nerr && !err; i++) {
		char key[64];
		errent_t *e = &a->s->errs[i];
		snprintf(key, sizeof(key), "%llu:%llu",
		    (unsigned long long)e->obj, (unsigned long long)e->blkid);
		char val[600];
		snprintf(val, sizeof(val), "%s", e->ds);
		char fullkey[700];
		snprintf(fullkey, sizeof(fullkey), "%.200s|%s", e->ds, key);
		err = cf_zap_update(dp->mos, &tx, dp->errlog, fullkey, key,
		    strlen(key));
		(void)val;
	}
	return err;
}

int dsl_scrub(dsl_pool_t *dp, coffer_progress_fn progress, void *arg,
    dsl_scrub_stats_t *st)
{
	scrub_t s;
	memset(&s, 0, sizeof(s));
	s.dp = dp;
	s.progress = progress;
	s.parg = arg;
	s.total = cf_spa_allocated(dp->spa);
	uint64_t start = (uint64_t)time(NULL);
	int err = dsl_pool_sync(dp);
	if (err)
		return err;
	cf_spa_sync_pause(dp->spa);
	pthread_rwlock_rdlock(&dp->lock);
	err = walk_pool(dp, scrub_visit, &s);
	pthread_rwlock_unlock(&dp->lock);
	cf_spa_sync_resume(dp->spa);
	*st = s.st;
	if (!dp->readonly && (err == 0 || s.stopped)) {
		struct scrub_save a = { &s, start, (uint64_t)time(NULL),
			s.stopped ? 3 : 2 };
		int e2 = dsl_sync_task(dp, scrub_save_task, &a);
		if (!err)
			err = e2;
	}
	free(s.errs);
	return err;
}

int dsl_scrub_result(dsl_pool_t *dp, coffer_pool_info_t *info)
{
	struct { const char *k; uint64_t *v; } kv[] = {
		{ "scrub_state", &info->scrub_state },
		{ "scrub_start", &info->scrub_start },
		{ "scrub_end", &info->scrub_end },
		{ "scrub_examined", &info->scrub_examined },
		{ "scrub_blocks", &info->scrub_blocks },
		{ "scrub_errors", &info->scrub_errors },
		{ "scrub_repaired", &info->scrub_repaired },
		{ "scrub_unrecoverable", &info->scrub_unrecoverable },
	};
	pthread_rwlock_rdlock(&dp->lock);
	for (size_t i = 0; i < CF_ARRAY_SIZE(kv); i++)
		if (cf_zap_lookup_u64(dp->mos, DSL_OBJDIR, kv[i].k, kv[i].v))
			*kv[i].v = 0;
	pthread_rwlock_unlock(&dp->lock);
	return 0;
}

struct err_iter {
	int (*cb)(const char *where, void *arg);
	void *arg;
};

static int err_cb(const char *key, const void *val, size_t vlen,
    uint64_t next, void *arg)
{
	struct err_iter *e = arg;
	(void)next;
	/* key: "dataset|obj:blkid" -> "dataset object OBJ block BLKID" */
	char ds[512], where[700];
	const char *bar = strchr(key, '|');
	if (!bar)
		return 0;
	size_t n = CF_MIN((size_t)(bar - key), sizeof(ds) - 1);
	memcpy(ds, key, n);
	ds[n] = 0;
	char ob[128];
	n = CF_MIN(vlen, sizeof(ob) - 1);
	memcpy(ob, val, n);
	ob[n] = 0;
	unsigned long long obj = 0, blk = 0;
	if (sscanf(ob, "%llu:%llu", &obj, &blk) != 2)
		return 0;
	snprintf(where, sizeof(where), "%s object %llu block %llu", ds, obj,
	    blk);
	return e->cb(where, e->arg);
}

int dsl_errors(dsl_pool_t *dp, int (*cb)(const char *where, void *arg),
    void *arg)
{
	struct err_iter e = { cb, arg };
	uint64_t cookie = 0;
	pthread_rwlock_rdlock(&dp->lock);
	int err = cf_zap_iter(dp->mos, dp->errlog, &cookie, err_cb, &e);
	pthread_rwlock_unlock(&dp->lock);
	return err;
}

/* ---- leak check ------------------------------------------------------------------------- */

typedef struct extent {
	uint32_t vdev;
	uint64_t off, len;
} extent_t;

typedef struct leak {
	extent_t *v;
	size_t n, cap;
	int err;
} leak_t;

static int leak_visit(void *arg, const char *ds, uint64_t obj,
    uint64_t blkid, const cf_blkptr_t *bp)
{
	leak_t *l = arg;
	(void)ds;
	(void)obj;
	(void)blkid;
	for (int i = 0; i < cf_bp_ncopies(bp); i++) {
		if (l->n == l->cap) {
			size_t nc = l->cap ? l->cap * 2 : 1024;
			extent_t *nv = realloc(l->v, nc * sizeof(*nv));
			if (!nv)
				return -ENOMEM;
			l->v = nv;
			l->cap = nc;
		}
		l->v[l->n].vdev = bp->dva[i].vdev;
		l->v[l->n].off = bp->dva[i].offset;
		l->v[l->n].len = bp->dva[i].asize;
		l->n++;
	}
	return 0;
}

static int ext_cmp(const void *a, const void *b)
{
	const extent_t *x = a, *y = b;
	if (x->vdev != y->vdev)
		return x->vdev < y->vdev ? -1 : 1;
	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return 0;
}

static int alloc_sum(void *arg, int vdev, uint64_t off, uint64_t len)
{
	uint64_t *s = arg;
	(void)vdev;
	(void)off;
	*s += len;
	return 0;
}

int dsl_leak_check(dsl_pool_t *dp, dsl_leak_report_t *rep)
{
	leak_t l = { 0 };
	memset(rep, 0, sizeof(*rep));
	int err = dsl_pool_sync(dp);
	if (err)
		return err;
	cf_spa_sync_pause(dp->spa);
	/* A sync that failed (now, or since the one above) left the
	 * allocator with part of a txg that never committed: it no longer
	 * matches the last uberblock, and there is nothing to compare.
	 * While paused no sync runs, so none can fail during the walk. */
	err = cf_spa_failed(dp->spa);
	if (err) {
		cf_spa_sync_resume(dp->spa);
		return err;
	}
	pthread_rwlock_rdlock(&dp->lock);
	err = walk_pool(dp, leak_visit, &l);
	if (!err) {
		qsort(l.v, l.n, sizeof(*l.v), ext_cmp);
		for (size_t i = 0; i < l.n; i++) {
			extent_t *e = &l.v[i];
			if (i > 0 && l.v[i - 1].vdev == e->vdev &&
			    l.v[i - 1].off + l.v[i - 1].len > e->off) {
				rep->double_refs++;
				cf_log(COFFER_LOG_ERR, "leak check: block %u:%llx "
				    "referenced twice", e->vdev,
				    (unsigned long long)e->off);
				continue;
			}
			rep->reachable_bytes += e->len;
			if (!cf_spa_is_allocated(dp->spa, (int)e->vdev, e->off,
			    e->len)) {
				rep->unallocated_refs++;
				cf_log(COFFER_LOG_ERR, "leak check: block %u:%llx "
				    "is referenced but free", e->vdev,
				    (unsigned long long)e->off);
			}
		}
		err = cf_spa_alloc_iter(dp->spa, alloc_sum,
		    &rep->allocated_bytes);
		if (rep->allocated_bytes > rep->reachable_bytes)
			rep->leaked_bytes = rep->allocated_bytes -
			    rep->reachable_bytes;
	}
	pthread_rwlock_unlock(&dp->lock);
	cf_spa_sync_resume(dp->spa);
	free(l.v);
	return err;
}
