/*
 * dsl recv: the atomic part of receive.
 *
 * A receive never writes into its target.  It builds a hidden dataset,
 * named "%LEAF" beside the target (names users cannot make), and only at
 * the stream's END, in one sync task, makes it the target:
 *  - a full stream: the hidden dataset is renamed to the target and the
 *    stream's snapshot taken (with the sender's guid);
 *  - an incremental: the hidden dataset starts as a clone of the target's
 *    latest snapshot S (same root, its blocks S's), and at END its root,
 *    referenced bytes and deadlist (blocks of S it replaced) become the
 *    target head's, then the snapshot is taken.
 * Anything else (a bad stream, a full pool, a killed receiver) leaves the
 * target untouched; the hidden dataset is destroyed by abort, or by the
 * next receive into the same target.
 *
 * Resumable receives (receive --resumable, send -t; docs/STREAM.md
 * §7.1.1).  The hidden dataset's property zap (hidden from users: keys
 * start with '%') then also holds
 *   %resume.info    the caller's description of the stream (opaque here)
 *   %resume.secret  32 random bytes: the key of the resume token's MAC
 *   %resume.base    u64: the stream's fromguid (0 for a full stream)
 *   %resume.point   object, offset, bytes (3 x u64 LE): everything before
 *                   (object, offset) of the stream is applied and durable
 * and an interrupted receive leaves the hidden dataset in place
 * (dsl_recv_suspend) for dsl_recv_resume to pick up.
 *
 * Invariants
 *  1. Blocks the hidden clone shares with S are never freed by it: its
 *     prev_txg is S's txg, so killing one puts it on its deadlist.
 *  2. The swap happens in one sync task: a crash leaves the old target or
 *     the new one, never a mix.
 *  3. The point on disk never runs ahead of the data: the receiver notes
 *     each record's point with the txg of its change (dsl_recv_note), and
 *     the sync of txg T writes (ds_flush -> dsl_recv_flush) only a point
 *     noted for a txg <= T, after T's data of the hidden dataset.  A
 *     point noted late is written in a later txg: behind, never ahead.
 */
#include "dsl/dsl_impl.h"
#include "crypto/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define RPT_MAX 8
struct rpt {
	uint64_t txg, obj, off, bytes;
};

struct dsl_recv {
	dsl_pool_t *dp;
	char target[DSL_NAME_MAX + 1];
	char hidden[DSL_NAME_MAX + 2];
	uint64_t fromguid;
	uint64_t snapobj;               /* incremental: S */
	uint64_t snaptxg;
	int raw;                        /* keyless, blocks as sealed */
	cf_objset_t *os;
	dsl_dataset_t *ds;
	/* resumable: points noted, by txg, not yet written (invariant 3) */
	int resumable;
	uint64_t props;                 /* the hidden dir's property zap */
	pthread_mutex_t pt_lock;
	struct rpt pts[RPT_MAX];
	int npts;
	struct rpt written;
};

#define RK_INFO   "%resume.info"
#define RK_SECRET "%resume.secret"
#define RK_BASE   "%resume.base"
#define RK_POINT  "%resume.point"

static dsl_recv_t *recv_new(dsl_pool_t *dp, const char *target)
{
	dsl_recv_t *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->dp = dp;
	pthread_mutex_init(&r->pt_lock, NULL);
	cf_strlcpy(r->target, target, sizeof(r->target));
	return r;
}

static void recv_free(dsl_recv_t *r)
{
	pthread_mutex_destroy(&r->pt_lock);
	free(r);
}

/* Does the hidden dataset (dir record r) hold a resumable receive? */
static int has_resume_state(dsl_pool_t *dp, const dirrec_t *r)
{
	uint8_t v[8];
	size_t n;
	int err = cf_zap_lookup(dp->mos, r->props, RK_BASE, v, sizeof(v), &n);
	return err == 0;
}

static int hidden_name(const char *target, char *out, size_t n)
{
	char parent[DSL_NAME_MAX + 1];
	const char *leaf;
	if (split_parent(target, parent, sizeof(parent), &leaf) != 0) {
		cf_set_errdetail("cannot receive into a pool's root dataset");
		return -EINVAL;
	}
	if (cf_snprintf(out, n, "%s/%%%s", parent, leaf))
		return COFFER_EBADNAME;
	return 0;
}

/* Destroy the hidden dataset of a receive (sync context). */
static int destroy_hidden(dsl_pool_t *dp, const char *hidden, uint64_t txg)
{
	uint64_t dirobj;
	int err = dsl_dir_lookup(dp, hidden, &dirobj);
	if (err == COFFER_ENODS)
		return 0;
	dirrec_t r;
	dsrec_t s;
	if (!err)
		err = dir_read(dp, dirobj, &r);
	if (!err)
		err = ds_read(dp, r.head, &s);
	if (!err && !(r.flags & DIRF_RECV))
		err = CF_CORRUPT();
	if (err)
		return err;
	err = head_close_unheld(dp, r.head, txg);
	if (!err)
		err = ds_read(dp, r.head, &s);
	if (err)
		return err;
	/* its own blocks: born after the clone's origin (all for a full) */
	struct freeall_arg fa = { dp, txg, 0, { 0, 0 } };
	err = cf_os_traverse_root(dp->spa, &s.root, s.prev_txg, freeall_cb,
	    &fa);
	if (err)
		return err;
	cf_tx_t tx;
	cf_tx_sync_init(&tx, dp->mos, txg);
	dirrec_t pr;
	char parent[DSL_NAME_MAX + 1];
	const char *leaf;
	err = split_parent(hidden, parent, sizeof(parent), &leaf);
	if (!err)
		err = dir_read(dp, r.parent, &pr);
	if (!err)
		err = cf_zap_remove(dp->mos, &tx, pr.children, leaf);
	if (!err && r.keyrec && !(r.flags & DIRF_SHAREDKEYS))
		err = dsl_crypt_destroy_sync(dp, &tx, &r);
	uint64_t objs[] = { s.deadlist, r.children, r.props, r.snapnames,
		r.head, dirobj };
	for (size_t i = 0; i < CF_ARRAY_SIZE(objs) && !err; i++)
		err = cf_obj_free(dp->mos, &tx, objs[i]);
	return err;
}

struct begin_arg {
	dsl_recv_t *r;
	int type;
	uint64_t volsize;
	crypt_plan_t *plan;
	int force;
	const dsl_recv_raw_t *raw;
};

static int latest_snap(dsl_pool_t *dp, const dirrec_t *r, uint64_t *snap,
    dsrec_t *s)
{
	dsrec_t h;
	int err = ds_read(dp, r->head, &h);
	if (err)
		return err;
	*snap = h.prev;
	if (!h.prev)
		return COFFER_ENODS;
	return ds_read(dp, h.prev, s);
}

static int begin_task(dsl_pool_t *dp, void *arg, uint64_t txg)
{
	struct begin_arg *a = arg;
	dsl_recv_t *r = a->r;
	uint64_t odir;
	dirrec_t orec;
	if (dsl_dir_lookup(dp, r->hidden, &odir) == 0 &&
	    dir_read(dp, odir, &orec) == 0 && has_resume_state(dp, &orec)) {
		cf_set_errdetail("'%s' has an interrupted receive: resume it "
		    "(send -t) or discard it (receive -A)", r->target);
		return COFFER_EBUSY;
	}
	/* a stale hidden dataset of an interrupted receive goes first */
	int err = destroy_hidden(dp, r->hidden, txg);
	if (err)
		return err;
	char parent[DSL_NAME_MAX + 1];
	const char *leaf;
	uint64_t pdir, tdir = 0;
	err = split_parent(r->target, parent, sizeof(parent), &leaf);
	if (!err)
		err = dsl_dir_lookup(dp, parent, &pdir);
	if (err == COFFER_ENODS)
		cf_set_errdetail("parent '%s' does not exist", parent);
	if (err)
		return err;
	int exists = dsl_dir_lookup(dp, r->target, &tdir) == 0;
	dirrec_t pr, tr;
	dsrec_t snap;
	err = dir_read(dp, pdir, &pr);
	if (err)
		return err;
	if (!r->fromguid && exists) {
		cf_set_errdetail("'%s' exists; a full stream needs a new "
		    "dataset", r->target);
		return COFFER_EEXIST;
	}
	if (r->fromguid) {
		if (!exists) {
			cf_set_errdetail("'%s' does not exist (an incremental "
			    "stream needs its base)", r->target);
			return COFFER_ENODS;
		}
		err = dir_read(dp, tdir, &tr);
		if (!err)
			err = latest_snap(dp, &tr, &r->snapobj, &snap);
		if (err == COFFER_ENODS || (!err && snap.guid != r->fromguid)) {
			cf_set_errdetail("the stream's base snapshot is not the "
			    "latest snapshot of '%s'", r->target);
			return COFFER_EBADSTREAM;
		}
		if (err)
			return err;
		dsrec_t head;
		err = ds_read(dp, tr.head, &head);
		if (err)
			return err;
		dsl_dataset_t *h = dsl_open_head(dp, tr.head);
		if (h) {
			pthread_mutex_lock(&h->acct);
			head.root = h->ds.root;
			pthread_mutex_unlock(&h->acct);
		}
		if (head.root.birth != snap.root.birth ||
		    memcmp(head.root.checksum, snap.root.checksum, 32) != 0) {
			cf_set_errdetail("'%s' has changed since its latest "
			    "snapshot (use -F to roll it back)", r->target);
			return COFFER_EBUSY;
		}
		if (a->raw && !tr.keyrec) {
			cf_set_errdetail("'%s' is not encrypted: a raw "
			    "incremental needs the dataset it came from",
			    r->target);
			return COFFER_EBADSTREAM;
		}
		if (a->raw)
			err = dsl_crypt_raw_match(dp, &tr, a->raw);
		if (err)
			return err;
		r->snaptxg = snap.txg;
		a->type = (int)tr.type;
		a->volsize = tr.volsize;
	}
	/* the hidden dataset */
	cf_tx_t tx;
	cf_tx_sync_init(&tx, dp->mos, txg);
	uint64_t hdir, hds;
	err = create_dir(dp, &tx, pdir, a->type, a->volsize, txg, &hdir, &hds);
	if (!err)
		err = cf_zap_add_u64(dp->mos, &tx, pr.children,
		    strrchr(r->hidden, '/') + 1, hdir);
	dirrec_t hr;
	dsrec_t hs;
	if (!err)
		err = dir_read(dp, hdir, &hr);
	if (!err)
		err = ds_read(dp, hds, &hs);
	if (err)
		return err;
	hr.flags = DIRF_RECV;
	cf_cryptset_t *cs = NULL;
	if (r->fromguid) {
		/* a clone of S: S's blocks stay S's (invariant 1) */
		hs.root = snap.root;
		hs.referenced = snap.referenced;
		hs.lrefd = snap.lrefd;
		hs.prev_txg = snap.txg;
		if (tr.keyrec) {
			hr.keyrec = tr.keyrec;
			hr.encroot = tr.encroot;
			hr.flags |= DIRF_SHAREDKEYS;
			if (!a->raw)
				err = dsl_crypt_cryptset(dp, tdir, &tr, &cs);
		}
	} else if (a->raw) {
		/* its own encryption root, with the sender's keys */
		err = dsl_crypt_create_raw_sync(dp, &tx, hdir, &hr, a->raw);
	} else if (dsl_crypt_plan_encrypted(a->plan)) {
		err = dsl_crypt_create_sync(dp, &tx, a->plan, hdir, &hr, &cs);
	}
	if (!err)
		err = dir_write(dp, &tx, hdir, &hr);
	if (!err)
		err = ds_write(dp, &tx, hds, &hs);
	if (!err && a->raw)
		err = head_open_raw(dp, hdir, hds, r->hidden, &r->ds);
	else if (!err)
		err = head_open_cs(dp, hdir, hds, r->hidden, cs, &r->ds);
	else
		dsl_crypt_cryptset_free(cs);
	if (!err) {
		pthread_mutex_lock(&dp->ds_lock);
		r->ds->refs++;
		/* no ledger entries for a clone: the target's stands until
		 * the swap (a crash leaves it valid) */
		if (r->fromguid)
			r->ds->ledger_txg = UINT64_MAX;
		pthread_mutex_unlock(&dp->ds_lock);
		r->os = r->ds->os;
	}
	return err;
}

int dsl_recv_begin(dsl_pool_t *dp, const char *target, uint64_t fromguid,
    int force, int type, dsl_recv_t **out)
{
	return dsl_recv_begin_raw(dp, target, fromguid, force, type, 0, NULL,
	    out);
}

int dsl_recv_begin_raw(dsl_pool_t *dp, const char *target, uint64_t fromguid,
    int force, int type, uint64_t volsize, const dsl_recv_raw_t *raw,
    dsl_recv_t **out)
{
	int err = dsl_name_check(target, 0);
	if (err)
		return err;
	dsl_recv_t *r = recv_new(dp, target);
	if (!r)
		return -ENOMEM;
	r->fromguid = fromguid;
	err = hidden_name(target, r->hidden, sizeof(r->hidden));
	struct begin_arg a = { r, type, volsize, NULL, force, raw };
	r->raw = raw != NULL;
	if (!err && force && fromguid) {
		/* -F: roll the target back to the stream's base first */
		err = dsl_recv_rollback_to(dp, target, fromguid);
	}
	if (!err && !fromguid && !raw) {
		/* a new dataset under an encrypted parent is encrypted */
		char parent[DSL_NAME_MAX + 1];
		const char *leaf;
		uint64_t pdir;
		err = split_parent(target, parent, sizeof(parent), &leaf);
		if (!err) {
			pthread_rwlock_rdlock(&dp->lock);
			err = dsl_dir_lookup(dp, parent, &pdir);
			pthread_rwlock_unlock(&dp->lock);
			if (err == COFFER_ENODS)
				cf_set_errdetail("parent '%s' does not exist",
				    parent);
		}
		if (!err)
			err = dsl_crypt_prepare(dp, pdir, NULL, NULL, &a.plan);
	}
	if (!err)
		err = dsl_sync_task(dp, begin_task, &a);
	dsl_crypt_plan_free(a.plan);
	if (err) {
		recv_free(r);
		return err;
	}
	*out = r;
	return 0;
}

cf_objset_t *dsl_recv_os(dsl_recv_t *r)
{
	return r->os;
}

struct end_arg {
	dsl_recv_t *r;
	const char *snap;
	uint64_t toguid;
};

static int end_task(dsl_pool_t *dp, void *arg, uint64_t txg)
{
	struct end_arg *a = arg;
	dsl_recv_t *r = a->r;
	uint64_t hdir, pdir;
	dirrec_t hr, pr;
	char parent[DSL_NAME_MAX + 1];
	const char *leaf;
	int err = dsl_dir_lookup(dp, r->hidden, &hdir);
	if (!err)
		err = dir_read(dp, hdir, &hr);
	if (!err)
		err = split_parent(r->target, parent, sizeof(parent), &leaf);
	if (!err)
		err = dsl_dir_lookup(dp, parent, &pdir);
	if (!err)
		err = dir_read(dp, pdir, &pr);
	if (err)
		return err;
	/* the hidden head's records of this txg go to the MOS first */
	pthread_mutex_lock(&dp->ds_lock);
	r->ds->recv = NULL;
	r->ds->refs--;
	pthread_mutex_unlock(&dp->ds_lock);
	err = head_close_unheld(dp, hr.head, txg);
	if (err)
		return err;
	r->ds = NULL;
	r->os = NULL;
	err = dir_read(dp, hdir, &hr);
	if (err)
		return err;
	cf_tx_t tx;
	cf_tx_sync_init(&tx, dp->mos, txg);
	if (!r->fromguid) {
		/* full: the hidden dataset becomes the target, without the
		 * state of a resumable receive */
		static const char *const rk[] = { RK_INFO, RK_SECRET, RK_BASE,
			RK_POINT };
		for (size_t i = 0; i < CF_ARRAY_SIZE(rk) && !err; i++) {
			err = cf_zap_remove(dp->mos, &tx, hr.props, rk[i]);
			if (err == -ENOENT)
				err = 0;
		}
		if (err)
			return err;
		hr.flags = 0;
		err = cf_zap_remove(dp->mos, &tx, pr.children,
		    strrchr(r->hidden, '/') + 1);
		if (!err)
			err = cf_zap_add_u64(dp->mos, &tx, pr.children, leaf,
			    hdir);
		if (!err)
			err = dir_write(dp, &tx, hdir, &hr);
		if (!err)
			err = dsl_snapshot_sync(dp, r->target, a->snap, a->toguid,
			    txg);
		return err;
	}
	/* incremental: the target takes the clone's state */
	uint64_t tdir;
	dirrec_t tr;
	dsrec_t th, hs;
	err = dsl_dir_lookup(dp, r->target, &tdir);
	if (!err)
		err = dir_read(dp, tdir, &tr);
	if (!err)
		err = head_close_unheld(dp, tr.head, txg);
	if (!err)       /* as written by the close */
		err = dir_read(dp, tdir, &tr);
	if (!err)
		err = ds_read(dp, tr.head, &th);
	if (!err)
		err = ds_read(dp, hr.head, &hs);
	if (err)
		return err;
	/* the target must still be as the receive found it (its latest
	 * snapshot the base, nothing written since): what was written or
	 * snapshotted meanwhile would otherwise be lost, its blocks leaked */
	dsrec_t base;
	uint64_t baseobj;
	err = latest_snap(dp, &tr, &baseobj, &base);
	if (err == COFFER_ENODS || (!err && (base.guid != r->fromguid ||
	    th.root.birth != base.root.birth ||
	    memcmp(th.root.checksum, base.root.checksum, 32) != 0))) {
		cf_set_errdetail("'%s' changed while the stream was being "
		    "received into it", r->target);
		return COFFER_EBUSY;
	}
	if (err)
		return err;
	uint64_t olddl = th.deadlist;
	th.root = hs.root;
	th.referenced = hs.referenced;
	th.lrefd = hs.lrefd;
	th.deadlist = hs.deadlist;
	tr.used += hr.used;
	if (lacct_known(&hr.lused))
		lacct_add(&tr.lused, hr.lused.l, hr.lused.p);
	else
		tr.lused.l = tr.lused.p = LACCT_UNKNOWN;
	err = ds_write(dp, &tx, tr.head, &th);
	if (!err)
		err = dir_write(dp, &tx, tdir, &tr);
	if (!err && tr.keyrec && r->raw)
		err = dsl_crypt_ledger_set_raw(dp, &tx, &tr, &th.root);
	else if (!err && tr.keyrec)
		err = dsl_crypt_ledger_set(dp, &tr, &th.root);
	/* the clone's records go; its blocks and deadlist are the target's */
	if (!err)
		err = cf_zap_remove(dp->mos, &tx, pr.children,
		    strrchr(r->hidden, '/') + 1);
	uint64_t objs[] = { olddl, hr.children, hr.props, hr.snapnames,
		hr.head, hdir };
	for (size_t i = 0; i < CF_ARRAY_SIZE(objs) && !err; i++)
		err = cf_obj_free(dp->mos, &tx, objs[i]);
	if (!err)
		err = dsl_snapshot_sync(dp, r->target, a->snap, a->toguid, txg);
	return err;
}

int dsl_recv_end(dsl_recv_t *r, const char *snap, uint64_t toguid)
{
	struct end_arg a = { r, snap, toguid };
	int err = dsl_sync_task(r->dp, end_task, &a);
	if (err) {
		dsl_recv_abort(r);
		return err;
	}
	recv_free(r);
	return 0;
}

static int abort_task(dsl_pool_t *dp, void *arg, uint64_t txg)
{
	dsl_recv_t *r = arg;
	if (r->ds) {
		pthread_mutex_lock(&dp->ds_lock);
		r->ds->recv = NULL;
		r->ds->refs--;
		pthread_mutex_unlock(&dp->ds_lock);
		r->ds = NULL;
		r->os = NULL;
	}
	return destroy_hidden(dp, r->hidden, txg);
}

void dsl_recv_abort(dsl_recv_t *r)
{
	if (!r)
		return;
	int err = dsl_sync_task(r->dp, abort_task, r);
	if (err)
		cf_log(COFFER_LOG_ERR, "cannot remove the partial receive of "
		    "'%s' (%s); the next receive will", r->target,
		    coffer_strerror(err));
	recv_free(r);
}

/* ---- resumable receives ------------------------------------------------------ */

static void point_encode(const struct rpt *p, uint8_t out[24])
{
	le64_put(out, p->obj);
	le64_put(out + 8, p->off);
	le64_put(out + 16, p->bytes);
}

int dsl_recv_flush(dsl_recv_t *r, cf_tx_t *tx, uint64_t txg)
{
	struct rpt p;
	int found = 0;
	pthread_mutex_lock(&r->pt_lock);
	int keep = 0;
	for (int i = 0; i < r->npts; i++) {
		if (r->pts[i].txg <= txg) {
			p = r->pts[i];
			found = 1;
		} else {
			r->pts[keep++] = r->pts[i];
		}
	}
	r->npts = keep;
	pthread_mutex_unlock(&r->pt_lock);
	if (!found || !r->resumable || (p.obj == r->written.obj &&
	    p.off == r->written.off && p.bytes == r->written.bytes))
		return 0;
	uint8_t v[24];
	point_encode(&p, v);
	int err = cf_zap_update(r->dp->mos, tx, r->props, RK_POINT, v,
	    sizeof(v));
	if (!err)
		r->written = p;
	return err;
}

void dsl_recv_note(dsl_recv_t *r, uint64_t txg, uint64_t obj, uint64_t off,
    uint64_t bytes)
{
	if (!r->resumable)
		return;
	pthread_mutex_lock(&r->pt_lock);
	if (r->npts && r->pts[r->npts - 1].txg >= txg) {
		/* the same txg (txgs of one receiver only grow) */
		r->pts[r->npts - 1].obj = obj;
		r->pts[r->npts - 1].off = off;
		r->pts[r->npts - 1].bytes = bytes;
	} else {
		if (r->npts == RPT_MAX) {
			/* more txgs open than the pool keeps: merge the
			 * oldest two (the newer point, the newer txg) */
			memmove(&r->pts[0], &r->pts[1],
			    sizeof(r->pts[0]) * (RPT_MAX - 1));
			r->npts--;
		}
		struct rpt p = { txg, obj, off, bytes };
		r->pts[r->npts++] = p;
	}
	pthread_mutex_unlock(&r->pt_lock);
}

struct resumable_arg {
	dsl_recv_t *r;
	const void *info;
	size_t len;
	uint8_t secret[32];
};

static int resumable_task(dsl_pool_t *dp, void *arg, uint64_t txg)
{
	struct resumable_arg *a = arg;
	dsl_recv_t *r = a->r;
	uint64_t hdir;
	dirrec_t hr;
	int err = dsl_dir_lookup(dp, r->hidden, &hdir);
	if (!err)
		err = dir_read(dp, hdir, &hr);
	if (err)
		return err;
	cf_tx_t tx;
	cf_tx_sync_init(&tx, dp->mos, txg);
	uint8_t base[8], pt[24];
	struct rpt p = { 0, 1, 0, 0 };
	le64_put(base, r->fromguid);
	point_encode(&p, pt);
	err = cf_zap_update(dp->mos, &tx, hr.props, RK_INFO, a->info, a->len);
	if (!err)
		err = cf_zap_update(dp->mos, &tx, hr.props, RK_SECRET,
		    a->secret, sizeof(a->secret));
	if (!err)
		err = cf_zap_update(dp->mos, &tx, hr.props, RK_POINT, pt,
		    sizeof(pt));
	if (!err)
		err = cf_zap_update(dp->mos, &tx, hr.props, RK_BASE, base,
		    sizeof(base));
	if (err)
		return err;
	r->props = hr.props;
	r->written = p;
	r->resumable = 1;
	pthread_mutex_lock(&dp->ds_lock);
	r->ds->recv = r;
	pthread_mutex_unlock(&dp->ds_lock);
	return 0;
}

int dsl_recv_set_resumable(dsl_recv_t *r, const void *info, size_t len)
{
	if (len == 0 || len > DSL_RECV_INFO_MAX)
		return -EINVAL;
	struct resumable_arg a = { r, info, len, { 0 } };
	int err = cf_random(a.secret, sizeof(a.secret));
	if (!err)
		err = dsl_sync_task(r->dp, resumable_task, &a);
	cf_wipe(a.secret, sizeof(a.secret));
	return err;
}

int dsl_recv_is_resumable(const dsl_recv_t *r)
{
	return r->resumable;
}

static int suspend_task(dsl_pool_t *dp, void *arg, uint64_t txg)
{
	dsl_recv_t *r = arg;
	uint64_t head = r->ds->dsobj;
	pthread_mutex_lock(&dp->ds_lock);
	r->ds->refs--;
	pthread_mutex_unlock(&dp->ds_lock);
	/* its last records: this txg's flush writes the last point noted
	 * (every change noted so far is in this txg or an earlier one) */
	int err = head_close_unheld(dp, head, txg);
	if (err) {
		/* still open (held elsewhere): write the point ourselves */
		cf_tx_t tx;
		cf_tx_sync_init(&tx, dp->mos, txg);
		err = dsl_recv_flush(r, &tx, txg);
		pthread_mutex_lock(&dp->ds_lock);
		r->ds->recv = NULL;
		pthread_mutex_unlock(&dp->ds_lock);
	}
	r->ds = NULL;
	r->os = NULL;
	return err;
}

int dsl_recv_suspend(dsl_recv_t *r)
{
	if (!r->resumable) {
		dsl_recv_abort(r);
		return 0;
	}
	int err = dsl_sync_task(r->dp, suspend_task, r);
	if (err)
		cf_log(COFFER_LOG_ERR, "cannot save the point of the "
		    "interrupted receive of '%s' (%s)", r->target,
		    coffer_strerror(err));
	recv_free(r);
	return err;
}

/* Read the state of the hidden dataset at dir hdir (read lock or sync). */
static int state_read(dsl_pool_t *dp, const dirrec_t *hr,
    dsl_recv_state_t *st)
{
	uint8_t b[24];
	size_t n;
	int err = cf_zap_lookup(dp->mos, hr->props, RK_INFO, st->info,
	    sizeof(st->info), &st->infolen);
	if (!err)
		err = cf_zap_lookup(dp->mos, hr->props, RK_SECRET, st->secret,
		    sizeof(st->secret), &n);
	if (!err && n != sizeof(st->secret))
		err = CF_CORRUPT();
	if (!err)
		err = cf_zap_lookup(dp->mos, hr->props, RK_BASE, b, 8, &n);
	if (!err && n != 8)
		err = CF_CORRUPT();
	if (!err)
		st->fromguid = le64_get(b);
	if (!err)
		err = cf_zap_lookup(dp->mos, hr->props, RK_POINT, b, 24, &n);
	if (!err && n != 24)
		err = CF_CORRUPT();
	if (err == -ERANGE)
		err = CF_CORRUPT();
	if (err)
		return err;
	st->object = le64_get(b);
	st->offset = le64_get(b + 8);
	st->bytes = le64_get(b + 16);
	return 0;
}

static int no_partial(const char *target)
{
	cf_set_errdetail("'%s' has no interrupted receive to resume",
	    target);
	return COFFER_ENODS;
}

/* The hidden dir of target's resumable receive (read lock held). */
static int find_partial(dsl_pool_t *dp, const char *target, char *hidden,
    size_t n, uint64_t *hdir, dirrec_t *hr)
{
	int err = dsl_name_check(target, 0);
	if (!err)
		err = hidden_name(target, hidden, n);
	if (err)
		return err;
	err = dsl_dir_lookup(dp, hidden, hdir);
	if (err == COFFER_ENODS)
		return no_partial(target);
	if (!err)
		err = dir_read(dp, *hdir, hr);
	if (!err && (!(hr->flags & DIRF_RECV) || !has_resume_state(dp, hr)))
		return no_partial(target);
	return err;
}

int dsl_recv_state_get(dsl_pool_t *dp, const char *target,
    dsl_recv_state_t *st)
{
	char hidden[DSL_NAME_MAX + 2];
	uint64_t hdir;
	dirrec_t hr;
	memset(st, 0, sizeof(*st));
	pthread_rwlock_rdlock(&dp->lock);
	int err = find_partial(dp, target, hidden, sizeof(hidden), &hdir,
	    &hr);
	if (!err)
		err = state_read(dp, &hr, st);
	pthread_rwlock_unlock(&dp->lock);
	return err;
}

struct resume_arg {
	dsl_recv_t *r;
	dsl_recv_state_t *st;
	const dsl_recv_raw_t *raw;
};

static int resume_task(dsl_pool_t *dp, void *arg, uint64_t txg)
{
	struct resume_arg *a = arg;
	dsl_recv_t *r = a->r;
	uint64_t hdir, tdir;
	dirrec_t hr, tr;
	(void)txg;
	int err = find_partial(dp, r->target, r->hidden, sizeof(r->hidden),
	    &hdir, &hr);
	if (!err)
		err = state_read(dp, &hr, a->st);
	if (err)
		return err;
	r->fromguid = a->st->fromguid;
	int exists = dsl_dir_lookup(dp, r->target, &tdir) == 0;
	if (!r->fromguid && exists) {
		cf_set_errdetail("'%s' was created since its receive was "
		    "interrupted; discard that (receive -A)", r->target);
		return COFFER_EEXIST;
	}
	cf_cryptset_t *cs = NULL;
	if (r->fromguid) {
		/* the base must still be the target's latest snapshot and
		 * the target unchanged since (as dsl_recv_begin checked) */
		dsrec_t snap, head;
		uint64_t snapobj;
		err = exists ? dir_read(dp, tdir, &tr) : COFFER_ENODS;
		if (!err)
			err = latest_snap(dp, &tr, &snapobj, &snap);
		if (!err)
			err = ds_read(dp, tr.head, &head);
		if (!err) {
			dsl_dataset_t *h = dsl_open_head(dp, tr.head);
			if (h) {
				pthread_mutex_lock(&h->acct);
				head.root = h->ds.root;
				pthread_mutex_unlock(&h->acct);
			}
		}
		if (err == COFFER_ENODS || (!err && (snap.guid != r->fromguid ||
		    head.root.birth != snap.root.birth ||
		    memcmp(head.root.checksum, snap.root.checksum, 32) != 0))) {
			cf_set_errdetail("'%s' has changed since its receive "
			    "was interrupted; discard that (receive -A)",
			    r->target);
			return COFFER_EBUSY;
		}
		if (err)
			return err;
		if ((hr.flags & DIRF_SHAREDKEYS) && !a->raw) {
			err = dsl_crypt_cryptset(dp, tdir, &tr, &cs);
			if (err)
				return err;
		}
	}
	if (a->raw) {
		/* raw and encrypted: keyless, with the same wrapped keys */
		if (!hr.keyrec) {
			cf_set_errdetail("the interrupted receive into '%s' is "
			    "not encrypted", r->target);
			return COFFER_EBADSTREAM;
		}
		err = dsl_crypt_raw_match(dp, &hr, a->raw);
		if (err)
			return err;
	}
	pthread_mutex_lock(&dp->ds_lock);
	dsl_dataset_t *d = dsl_open_head(dp, hr.head);
	if (d) {
		if (d->refs > 0 || d->recv) {
			pthread_mutex_unlock(&dp->ds_lock);
			dsl_crypt_cryptset_free(cs);
			cf_set_errdetail("the receive into '%s' is running",
			    r->target);
			return COFFER_EBUSY;
		}
		d->refs++;
	}
	pthread_mutex_unlock(&dp->ds_lock);
	if (d) {
		dsl_crypt_cryptset_free(cs);
	} else {
		if (a->raw)
			err = head_open_raw(dp, hdir, hr.head, r->hidden, &d);
		else
			err = head_open_cs(dp, hdir, hr.head, r->hidden, cs,
			    &d);
		if (err)
			return err;
		pthread_mutex_lock(&dp->ds_lock);
		d->refs++;
		/* as dsl_recv_begin: no ledger entries for a clone */
		if (r->fromguid)
			d->ledger_txg = UINT64_MAX;
		pthread_mutex_unlock(&dp->ds_lock);
	}
	r->ds = d;
	r->os = d->os;
	r->props = hr.props;
	r->written.obj = a->st->object;
	r->written.off = a->st->offset;
	r->written.bytes = a->st->bytes;
	r->resumable = 1;
	r->raw = a->raw != NULL;
	pthread_mutex_lock(&dp->ds_lock);
	d->recv = r;
	pthread_mutex_unlock(&dp->ds_lock);
	return 0;
}

int dsl_recv_resume(dsl_pool_t *dp, const char *target,
    const dsl_recv_raw_t *raw, dsl_recv_state_t *st, dsl_recv_t **out)
{
	int err = dsl_name_check(target, 0);
	if (err)
		return err;
	dsl_recv_t *r = recv_new(dp, target);
	if (!r)
		return -ENOMEM;
	struct resume_arg a = { r, st, raw };
	err = dsl_sync_task(dp, resume_task, &a);
	if (err) {
		recv_free(r);
		return err;
	}
	*out = r;
	return 0;
}

static int discard_task(dsl_pool_t *dp, void *arg, uint64_t txg)
{
	const char *target = arg;
	char hidden[DSL_NAME_MAX + 2];
	uint64_t hdir;
	dirrec_t hr;
	int err = find_partial(dp, target, hidden, sizeof(hidden), &hdir,
	    &hr);
	if (err)
		return err;
	pthread_mutex_lock(&dp->ds_lock);
	dsl_dataset_t *d = dsl_open_head(dp, hr.head);
	int busy = d && (d->refs > 0 || d->recv);
	pthread_mutex_unlock(&dp->ds_lock);
	if (busy) {
		cf_set_errdetail("the receive into '%s' is running", target);
		return COFFER_EBUSY;
	}
	return destroy_hidden(dp, hidden, txg);
}

int dsl_recv_discard(dsl_pool_t *dp, const char *target)
{
	int err = dsl_name_check(target, 0);
	if (err)
		return err;
	return dsl_sync_task(dp, discard_task, (void *)target);
}

/* -F: destroy the target's snapshots after the one with guid `guid`, then
 * roll the target back to it. */
int dsl_recv_rollback_to(dsl_pool_t *dp, const char *target, uint64_t guid)
{
	cf_strv_t l = { 0 };
	int err = dsl_snapshots(dp, target, cf_strv_add, &l);
	size_t base = l.n;
	for (size_t i = 0; i < l.n && !err && base == l.n; i++) {
		coffer_propval_t v;
		err = dsl_prop_get(dp, l.v[i], "guid", &v);
		if (!err && strtoull(v.raw, NULL, 10) == guid)
			base = i;
	}
	if (!err && base == l.n) {
		cf_set_errdetail("'%s' has no snapshot that is the stream's "
		    "base", target);
		err = COFFER_EBADSTREAM;
	}
	for (size_t i = l.n; i > base + 1 && !err; i--)
		err = dsl_destroy(dp, l.v[i - 1]);
	if (!err)
		err = dsl_rollback(dp, l.v[base]);
	cf_strv_free(&l);
	return err;
}
