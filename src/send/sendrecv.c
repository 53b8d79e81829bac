/*
 * send and receive: snapshots as replication streams (docs/STREAM.md),
 * on the stream codec of stream.c.
 *
 * Send walks the snapshot's object set for what was born after the base
 * snapshot (cf_os_send_walk: no unchanged data is read, so the cost of an
 * incremental grows with the change), and emits per changed dnode block
 * OBJECT (or FREEOBJECTS) records, then per object its WRITEs (level-0
 * blocks born after the base, as plaintext) and FREEs (holes born after
 * it).  An object allocated after the base (dnode generation) is first
 * freed, so a reused object id never keeps the old object's data.
 *
 * Receive reads records through the verifying reader (nothing reaches the
 * pool that did not pass the stream's checks) and applies them to the
 * hidden dataset of dsl_recv_begin; only END makes it the target.
 *
 * Invariants
 *  1. The target changes only at dsl_recv_end; every failure aborts.
 *  2. Every record is checked against the object it touches before it
 *     is applied (object exists, offsets aligned, sizes within its
 *     block size); a hostile stream gets an error, never a crash.
 */
#include "send/send.h"
#include "send/resume.h"
#include "send/send_multi.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "crypto/crypto.h"
#include "dmu/dmu_impl.h"

/* ---- send ------------------------------------------------------------------ */

typedef struct sctx {
	cf_objset_t *os;
	cf_stream_writer_t *w;
	cf_spa_t *spa;
	uint64_t from_txg;
	int raw;                        /* -w: blocks as stored */
	int compressed;                 /* -c: compressed blocks as stored */
	int encrypted;                  /* raw and encrypted: sealed */
	uint32_t blksz;                 /* of the object being sent */
	uint64_t cur;                   /* its id */
	int cur_new;                    /* allocated after the base */
	int have_cur;
	uint64_t next_off;              /* after its last WRITE or FREE */
	uint8_t *buf;
	uint64_t free_first, free_count;        /* pending FREEOBJECTS */
	coffer_progress_fn progress;
	void *parg;
	uint64_t done, total;
	int dry;                        /* send -n: read no data */
	uint64_t resume_obj, resume_off;        /* send -t: skip before */
	cf_ssign_t *sign;               /* signed stream (signstream.c) */
} sctx_t;

static int flush_freeobjects(sctx_t *c)
{
	if (!c->free_count)
		return 0;
	cf_stream_rec_t rec;
	memset(&rec, 0, sizeof(rec));
	rec.type = CF_SREC_FREEOBJECTS;
	rec.u.freeobjects.first = c->free_first;
	rec.u.freeobjects.count = c->free_count;
	c->free_count = 0;
	return cf_stream_write(c->w, &rec, NULL, 0);
}

static int free_rec(sctx_t *c, uint64_t off, uint64_t len)
{
	cf_stream_rec_t rec;
	memset(&rec, 0, sizeof(rec));
	rec.type = CF_SREC_FREE;
	rec.u.free.object = c->cur;
	rec.u.free.offset = off;
	rec.u.free.length = len;
	if (len == CF_STREAM_FREE_TO_END)
		c->next_off = UINT64_MAX;
	else
		c->next_off = off + len;
	return cf_stream_write(c->w, &rec, NULL, 0);
}

/*
 * An object allocated after the base replaces whatever the receiver has
 * under its id: everything it does not write is freed (the gaps, and the
 * rest after its last block).
 */
static int gap(sctx_t *c, uint64_t off)
{
	if (!c->cur_new || off <= c->next_off)
		return 0;
	return free_rec(c, c->next_off, off - c->next_off);
}

static int end_object(sctx_t *c)
{
	int err = 0;
	if (c->have_cur && c->cur_new && c->next_off != UINT64_MAX &&
	    c->next_off < CF_STREAM_MAX_OFFSET)
		err = free_rec(c, c->next_off, CF_STREAM_FREE_TO_END);
	c->have_cur = 0;
	return err;
}

static int s_freeobjects(void *arg, uint64_t first, uint64_t count)
{
	sctx_t *c = arg;
	if (first == 0) {               /* object 0 is the dnode array */
		first = 1;
		if (--count == 0)
			return 0;
	}
	int e0 = end_object(c);
	if (e0)
		return e0;
	if (c->free_count && c->free_first + c->free_count == first) {
		c->free_count += count;
		return 0;
	}
	int err = flush_freeobjects(c);
	c->free_first = first;
	c->free_count = count;
	return err;
}

/* Fill a stream block description from a block pointer as stored. */
static void blk_of(const cf_blkptr_t *bp, cf_stream_blk_t *b)
{
	memset(b, 0, sizeof(*b));
	b->lsize = bp->lsize;
	b->psize = bp->psize;
	b->type = bp->type;
	b->comp = bp->comp;
	b->cksum = bp->cksum;
	memcpy(b->checksum, bp->checksum, 32);
	if (bp->flags & CF_BPF_ENCRYPTED) {
		b->flags = CF_SBLK_ENCRYPTED;
		if (bp->flags & CF_BPF_DNODE)
			b->flags |= CF_SBLK_DNODE;
		b->keygen = bp->keygen;
		memcpy(b->salt, bp->salt, 8);
		memcpy(b->iv, bp->iv, 12);
		memcpy(b->mac, bp->mac, 16);
	}
}

/* Raw, encrypted: a dnode block as stored, before its objects. */
static int s_range(void *arg, uint64_t first, const cf_blkptr_t *bp)
{
	sctx_t *c = arg;
	if (!c->encrypted)
		return 0;
	int err = end_object(c);
	if (!err)
		err = flush_freeobjects(c);
	if (!err && (bp->psize > CF_MAX_BLKSZ || bp->lsize != 16384))
		err = CF_CORRUPT();
	if (!err && !c->dry)
		err = cf_block_read_raw(c->spa, bp, c->buf);
	if (err)
		return err;
	cf_stream_rec_t rec;
	memset(&rec, 0, sizeof(rec));
	rec.type = CF_SREC_OBJECT_RANGE;
	rec.u.range.first = first;
	rec.u.range.count = CF_STREAM_RANGE_OBJS;
	blk_of(bp, &rec.u.range.blk);
	c->done += bp->psize;
	return cf_stream_write(c->w, &rec, c->buf, bp->psize);
}

static int s_object(void *arg, uint64_t obj, const cf_dnode_phys_t *dn)
{
	sctx_t *c = arg;
	if (dn->type == CF_OT_NONE)
		return s_freeobjects(c, obj, 1);
	int err = end_object(c);
	if (!err)
		err = flush_freeobjects(c);
	if (err)
		return err;
	c->have_cur = 1;
	c->cur_new = c->from_txg && dn->gen > c->from_txg;
	c->next_off = obj == c->resume_obj ? c->resume_off : 0;
	cf_stream_rec_t rec;
	memset(&rec, 0, sizeof(rec));
	rec.type = CF_SREC_OBJECT;
	rec.u.object.object = obj;
	rec.u.object.type = dn->type;
	rec.u.object.nlevels = dn->nlevels;
	rec.u.object.bonuslen = dn->bonuslen;
	rec.u.object.blksz = dn->blksz;
	rec.u.object.maxblkid = dn->maxblkid;
	c->blksz = dn->blksz;
	c->cur = obj;
	if (c->encrypted)       /* the bonus is sealed in OBJECT_RANGE */
		return cf_stream_write(c->w, &rec, NULL, 0);
	return cf_stream_write(c->w, &rec, dn->bonus, dn->bonuslen);
}

static uint64_t span(int level)
{
	uint64_t v = 1;
	for (int i = 0; i < level; i++)
		v *= CF_IND_BPS;
	return v;
}

static int s_block(void *arg, uint64_t obj, uint64_t idx, int level,
    const cf_blkptr_t *bp)
{
	sctx_t *c = arg;
	cf_stream_rec_t rec;
	memset(&rec, 0, sizeof(rec));
	if (obj != c->cur)
		return CF_CORRUPT();
	if (c->next_off == UINT64_MAX)
		return 0;                       /* freed to the end already */
	if (cf_bp_is_hole(bp)) {
		uint64_t n = span(level);
		if (idx > CF_STREAM_MAX_OFFSET / n / c->blksz)
			return 0;               /* beyond any offset */
		uint64_t off = idx * n * c->blksz;
		uint64_t len = n * c->blksz;
		if (off >= CF_STREAM_MAX_OFFSET)
			return 0;
		if (len > CF_STREAM_MAX_OFFSET - off)
			len = CF_STREAM_FREE_TO_END;
		if (obj == c->resume_obj && off < c->resume_off) {
			/* resumed inside this hole: free from the point */
			uint64_t skip = c->resume_off - off;
			if (len != CF_STREAM_FREE_TO_END && len <= skip)
				return 0;
			if (len != CF_STREAM_FREE_TO_END)
				len -= skip;
			off = c->resume_off;
		}
		int err = gap(c, off);
		return err ? err : free_rec(c, off, len);
	}
	uint64_t off = idx * c->blksz;
	if (obj == c->resume_obj && off < c->resume_off)
		return 0;               /* received before the interruption */
	int err = gap(c, off);
	if (err)
		return err;
	c->next_off = off + c->blksz;
	rec.type = CF_SREC_WRITE;
	rec.u.write.object = obj;
	rec.u.write.offset = off;
	size_t len;
	if (c->encrypted || ((c->raw || c->compressed) &&
	    bp->comp != CF_COMP_OFF && !(bp->flags & CF_BPF_ENCRYPTED))) {
		/* as stored: sealed, or compressed plaintext */
		if (bp->lsize != c->blksz || bp->psize > bp->lsize ||
		    bp->psize > CF_MAX_BLKSZ)
			return CF_CORRUPT();
		if (!c->dry)
			err = cf_block_read_raw(c->spa, bp, c->buf);
		if (err)
			return err;
		blk_of(bp, &rec.u.write.blk);
		len = bp->psize;
	} else {
		if (!c->dry)    /* a dry run reads no data */
			err = cf_obj_read(c->os, obj, off, c->blksz, c->buf);
		if (err)
			return err;
		rec.u.write.blk.lsize = c->blksz;
		rec.u.write.blk.psize = c->blksz;
		rec.u.write.blk.type = bp->type;
		rec.u.write.blk.cksum = c->dry ? 0 : CF_CKSUM_FLETCHER4;
		if (!c->dry)
			cf_block_checksum(CF_CKSUM_FLETCHER4, c->buf, c->blksz,
			    rec.u.write.blk.checksum);
		len = c->blksz;
	}
	err = cf_stream_write(c->w, &rec, c->buf, len);
	c->done = cf_stream_writer_offset(c->w);
	if (!err && c->progress && c->progress(c->done, c->total, c->parg))
		err = COFFER_EINTR;
	return err;
}

static const cf_send_ops_t send_ops = { s_range, s_object, s_block,
	s_freeobjects };

/*
 * BEGIN keys of a raw encrypted stream: what the receiver cannot make
 * without the key, the object set root's MAC (and the txg it binds), and
 * the meta-dnode fields that MAC covers (docs/STREAM.md 7.1).
 */
static int raw_begin_kv(cf_kv_t *kv, cf_objset_t *os, const dsl_rawkeys_t *k)
{
	cf_dnode_phys_t meta;
	cf_os_meta(os, &meta);
	int err = cf_kv_add_bytes(kv, CF_KV_ROOT, "raw_mac", k->mac, 32);
	if (!err)
		err = cf_kv_add_u64(kv, CF_KV_ROOT, "raw_mac_txg", k->mac_txg);
	if (!err)
		err = cf_kv_add_u64(kv, CF_KV_ROOT, "raw_meta_levels",
		    meta.nlevels);
	if (!err)
		err = cf_kv_add_u64(kv, CF_KV_ROOT, "raw_meta_maxblkid",
		    meta.maxblkid);
	return err;
}

/* KEYS: the key record, and for a full stream the root's keystore. */
static int s_keys(sctx_t *c, const dsl_rawkeys_t *k, int full)
{
	cf_stream_rec_t rec;
	memset(&rec, 0, sizeof(rec));
	rec.type = CF_SREC_KEYS;
	rec.u.keys.guid = k->guid;
	rec.u.keys.rootguid = k->rootguid;
	rec.u.keys.suite = (uint32_t)k->suite;
	rec.u.keys.flags = full ? CF_SKEYS_ROOT : 0;
	rec.u.keys.keyrec_len = (uint32_t)k->keyrec.len;
	rec.u.keys.keystore_len = full ? (uint32_t)k->keystore.len : 0;
	cf_buf_t p;
	memset(&p, 0, sizeof(p));
	int err = cf_buf_append(&p, k->keyrec.data, k->keyrec.len);
	if (!err && full)
		err = cf_buf_append(&p, k->keystore.data, k->keystore.len);
	if (!err)
		err = cf_stream_write(c->w, &rec, p.data, p.len);
	cf_buf_free(&p);
	return err;
}

static int prop_u64(dsl_pool_t *dp, const char *ds, const char *prop,
    uint64_t *v)
{
	coffer_propval_t pv;
	int err = dsl_prop_get(dp, ds, prop, &pv);
	if (!err)
		*v = strtoull(pv.raw, NULL, 10);
	return err;
}

static int null_write(void *arg, const void *buf, size_t len)
{
	(void)arg;
	(void)buf;
	(void)len;
	return 0;
}

int cf_send(dsl_pool_t *dp, const char *tosnap, const char *fromsnap,
    int flags, cf_stream_write_fn fn, void *arg, coffer_progress_fn progress,
    void *parg)
{
	return cf_send_opts(dp, tosnap, fromsnap, flags, NULL, fn, arg,
	    progress, parg);
}

/* The guid, txg and creation time of a snapshot. */
static int snap_ids(dsl_pool_t *dp, const char *snap, uint64_t *guid,
    uint64_t *txg, uint64_t *created)
{
	int err = prop_u64(dp, snap, "guid", guid);
	if (!err)
		err = prop_u64(dp, snap, "createtxg", txg);
	if (!err && created)
		err = prop_u64(dp, snap, "creation", created);
	return err;
}

/* "@snap" or "fs@snap" of tosnap's dataset, in full. */
static int from_full(const char *tosnap, const char *fromsnap, char *out,
    size_t n)
{
	const char *at = strchr(tosnap, '@');
	if (fromsnap[0] == '@')
		snprintf(out, n, "%.*s%s", (int)(at - tosnap), tosnap,
		    fromsnap);
	else
		cf_strlcpy(out, fromsnap, n);
	const char *fat = strchr(out, '@');
	if (!fat || (size_t)(fat - out) != (size_t)(at - tosnap) ||
	    strncmp(out, tosnap, (size_t)(at - tosnap)) != 0) {
		cf_set_errdetail("'%s' is not a snapshot of the same dataset "
		    "as '%s'", fromsnap, tosnap);
		return -EINVAL;
	}
	return 0;
}

/*
 * One snapshot: BEGIN (a single-snapshot stream) or SNAPSHOT (a segment
 * of a multi-snapshot one), then PROPS (-R), KEYS (raw, encrypted), the
 * changed objects.  fromfull is the base in full, or NULL.
 */
static int send_segment(sctx_t *c, dsl_pool_t *dp, const char *tosnap,
    const char *fromfull, int flags, int multi,
    const cf_resume_token_t *rs, uint64_t features)
{
	uint64_t toguid, totxg, created, fromguid = 0, fromtxg = 0;
	int err = snap_ids(dp, tosnap, &toguid, &totxg, &created);
	if (!err && fromfull)
		err = snap_ids(dp, fromfull, &fromguid, &fromtxg, NULL);
	if (err)
		return err;
	if (fromfull && fromtxg >= totxg) {
		cf_set_errdetail("'%s' is not older than '%s'", fromfull,
		    tosnap);
		return -EINVAL;
	}
	cf_objset_t *os;
	dsl_dataset_t *ds;
	dsl_rawkeys_t keys;
	memset(&keys, 0, sizeof(keys));
	if (flags & CF_SEND_RAW)
		err = dsl_hold_raw(dp, tosnap, &os, &ds, &keys);
	else
		err = dsl_hold(dp, tosnap, &os, &ds);
	if (err)
		return err;
	c->os = os;
	c->spa = cf_os_spa(os);
	c->encrypted = keys.encrypted;
	c->from_txg = fromtxg;
	c->have_cur = 0;
	c->cur = 0;
	c->free_count = 0;
	cf_kv_t *kv = cf_kv_new();
	if (!kv)
		err = -ENOMEM;
	if (!err)
		err = cf_kv_add_str(kv, CF_KV_ROOT, "toname", tosnap);
	if (!err && fromfull)
		err = cf_kv_add_str(kv, CF_KV_ROOT, "fromname", fromfull);
	if (!err && c->encrypted)
		err = raw_begin_kv(kv, os, &keys);
	if (!err && dsl_ds_type(ds) == COFFER_TYPE_VOLUME)
		err = cf_kv_add_u64(kv, CF_KV_ROOT, "volsize",
		    dsl_ds_volsize(ds));
	if (!err && rs)
		err = cf_resume_begin_keys(kv, rs);
	cf_stream_rec_t rec;
	memset(&rec, 0, sizeof(rec));
	uint32_t dstype = dsl_ds_type(ds) == COFFER_TYPE_VOLUME ?
	    CF_STREAM_DS_VOL : CF_STREAM_DS_FS;
	if (multi) {
		rec.type = CF_SREC_SNAPSHOT;
		rec.u.snapshot.fromguid = fromguid;
		rec.u.snapshot.toguid = toguid;
		rec.u.snapshot.totxg = totxg;
		rec.u.snapshot.creation = created;
		rec.u.snapshot.dstype = dstype;
	} else {
		rec.type = CF_SREC_BEGIN;
		rec.u.begin.version = CF_STREAM_VERSION;
		if (c->raw)
			rec.u.begin.incompat |= CF_SFEAT_RAW;
		else if (c->compressed)
			rec.u.begin.incompat |= CF_SFEAT_COMPRESSED;
		if (rs && rec.u.begin.incompat != features) {
			/* never another stream than the token names */
			cf_set_errdetail("the token is for a stream with "
			    "features 0x%llx, which this send cannot produce",
			    (unsigned long long)features);
			err = COFFER_ENOTSUP;
		}
		if (rs)
			rec.u.begin.incompat |= CF_SFEAT_RESUMING;
		if (!err && c->sign)    /* signed: BEGIN's signing keys */
			err = cf_ssign_begin(c->sign, kv,
			    &rec.u.begin.incompat);
		rec.u.begin.fromguid = fromguid;
		rec.u.begin.toguid = toguid;
		rec.u.begin.totxg = totxg;
		rec.u.begin.creation = created;
		rec.u.begin.dstype = dstype;
	}
	if (!err)
		err = cf_stream_write_kv(c->w, &rec, kv);
	cf_kv_free(kv);
	kv = NULL;
	if (!err && (flags & CF_SEND_REPLICATE)) {
		/* -R: the dataset's own properties */
		char dsname[512];
		int n = 0;
		cf_strlcpy(dsname, tosnap, sizeof(dsname));
		*strchr(dsname, '@') = 0;
		kv = cf_kv_new();
		err = kv ? cf_send_props(dp, dsname, kv, &n) : -ENOMEM;
		if (!err && n) {
			memset(&rec, 0, sizeof(rec));
			rec.type = CF_SREC_PROPS;
			err = cf_stream_write_kv(c->w, &rec, kv);
		}
		cf_kv_free(kv);
	}
	if (!err && c->encrypted)
		err = s_keys(c, &keys, fromfull == NULL);
	if (!err)
		err = cf_os_send_walk_from(os, fromtxg,
		    c->encrypted ? CF_SW_RAW : 0, c->resume_obj, c->resume_off,
		    &send_ops, c);
	if (!err)
		err = end_object(c);
	if (!err)
		err = flush_freeobjects(c);
	dsl_rawkeys_free(&keys);
	dsl_rele(dp, ds);
	c->os = NULL;
	return err;
}

int cf_send_opts(dsl_pool_t *dp, const char *tosnap, const char *fromsnap,
    int flags, cf_send_opts_t *o, cf_stream_write_fn fn, void *arg,
    coffer_progress_fn progress, void *parg)
{
	cf_send_opts_t none;
	if (!o) {
		memset(&none, 0, sizeof(none));
		o = &none;
	}
	const cf_resume_token_t *rs = o->resume;
	uint64_t features = rs ? rs->features : 0;
	if (rs) {
		/* the token's features decide, not the caller's flags: a
		 * resumed stream repeats the interrupted one's */
		flags &= ~(CF_SEND_RAW | CF_SEND_COMPRESSED |
		    CF_SEND_REPLICATE | CF_SEND_INTERMEDIATE);
		if (features & CF_SFEAT_RAW)
			flags |= CF_SEND_RAW;
		if (features & CF_SFEAT_COMPRESSED)
			flags |= CF_SEND_COMPRESSED;
	}
	if (o->dryrun)
		fn = null_write;
	const char *at = strchr(tosnap, '@');
	if (!at) {
		cf_set_errdetail("'%s' is not a snapshot", tosnap);
		return COFFER_EBADNAME;
	}
	if ((flags & CF_SEND_INTERMEDIATE) && !fromsnap) {
		cf_set_errdetail("-I needs a base snapshot");
		return -EINVAL;
	}
	char fromfull[512];
	int err = fromsnap ? from_full(tosnap, fromsnap, fromfull,
	    sizeof(fromfull)) : 0;
	int multi = (flags & (CF_SEND_REPLICATE | CF_SEND_INTERMEDIATE)) != 0;
	cf_sendplan_t plan;
	memset(&plan, 0, sizeof(plan));
	if (!err && multi)
		err = cf_send_plan(dp, tosnap, fromsnap ? fromfull : NULL,
		    flags, &plan);
	if (err)
		return err;
	sctx_t c;
	memset(&c, 0, sizeof(c));
	c.raw = (flags & CF_SEND_RAW) != 0;
	c.compressed = (flags & CF_SEND_COMPRESSED) != 0;
	c.progress = progress;
	c.parg = parg;
	c.dry = o->dryrun;
	if (rs) {
		c.resume_obj = rs->object;
		c.resume_off = rs->offset;
	}
	if (o->total) {
		c.total = o->total;
	} else if (multi) {
		for (size_t i = 0; i < plan.n; i++) {
			uint64_t v = 0;
			(void)prop_u64(dp, plan.v[i].to, "referenced", &v);
			c.total += v;
		}
	} else {
		(void)prop_u64(dp, tosnap, "referenced", &c.total);
	}
	c.buf = o->dryrun ? calloc(1, CF_MAX_BLKSZ) : malloc(CF_MAX_BLKSZ);
	err = c.buf ? cf_stream_writer_new(fn, arg, &c.w) : -ENOMEM;
	if (!err && o->dryrun)
		cf_stream_writer_set_dry(c.w);
	c.sign = o->sign;
	if (!err && c.sign)
		cf_stream_writer_set_sign(c.w, cf_ssign_hook, c.sign);
	if (!err && multi) {
		/* BEGIN names the whole; each SNAPSHOT one segment */
		uint64_t toguid, totxg, created;
		int type;
		cf_kv_t *kv = cf_kv_new();
		err = kv ? snap_ids(dp, tosnap, &toguid, &totxg, &created) :
		    -ENOMEM;
		if (!err)
			err = dsl_lookup(dp, plan.top, &type);
		if (!err)
			err = cf_kv_add_str(kv, CF_KV_ROOT, "toname", tosnap);
		uint64_t fromguid = 0, ftxg;
		if (!err && fromsnap)
			err = snap_ids(dp, fromfull, &fromguid, &ftxg, NULL);
		if (!err && fromsnap)
			err = cf_kv_add_str(kv, CF_KV_ROOT, "fromname",
			    fromfull);
		if (!err && (flags & CF_SEND_REPLICATE))
			err = cf_kv_add_u64(kv, CF_KV_ROOT, "recursive", 1);
		if (!err && (flags & CF_SEND_INTERMEDIATE))
			err = cf_kv_add_u64(kv, CF_KV_ROOT, "intermediate", 1);
		cf_stream_rec_t rec;
		memset(&rec, 0, sizeof(rec));
		rec.type = CF_SREC_BEGIN;
		rec.u.begin.version = CF_STREAM_VERSION;
		rec.u.begin.incompat = CF_SFEAT_MULTI |
		    (c.raw ? CF_SFEAT_RAW : c.compressed ?
		    CF_SFEAT_COMPRESSED : 0);
		rec.u.begin.fromguid = fromguid;
		rec.u.begin.toguid = toguid;
		rec.u.begin.totxg = totxg;
		rec.u.begin.creation = created;
		rec.u.begin.dstype = type == COFFER_TYPE_VOLUME ?
		    CF_STREAM_DS_VOL : CF_STREAM_DS_FS;
		if (!err && c.sign)
			err = cf_ssign_begin(c.sign, kv, &rec.u.begin.incompat);
		if (!err)
			err = cf_stream_write_kv(c.w, &rec, kv);
		cf_kv_free(kv);
		for (size_t i = 0; i < plan.n && !err; i++)
			err = send_segment(&c, dp, plan.v[i].to,
			    plan.v[i].from[0] ? plan.v[i].from : NULL, flags, 1,
			    NULL, 0);
	} else if (!err) {
		err = send_segment(&c, dp, tosnap, fromsnap ? fromfull : NULL,
		    flags, 0, rs, features);
	}
	if (!err) {
		cf_stream_rec_t rec;
		memset(&rec, 0, sizeof(rec));
		rec.type = CF_SREC_END;
		err = cf_stream_write(c.w, &rec, NULL, 0);
	}
	if (c.w)
		o->bytes = cf_stream_writer_offset(c.w);
	if (!err && progress && !o->dryrun)
		(void)progress(o->bytes, o->bytes > c.total ? o->bytes :
		    c.total, parg);
	cf_sendplan_free(&plan);
	cf_stream_writer_free(c.w);
	free(c.buf);
	return err;
}

/* ---- receive ------------------------------------------------------------------ */

typedef struct rctx {
	dsl_pool_t *dp;
	cf_objset_t *os;
	uint64_t applied;               /* records */
	int encrypted;                  /* a raw stream with KEYS */
	uint8_t *buf;                   /* decompressed blocks */
	uint64_t txg;                   /* of the last record's change */
} rctx_t;

/* A block pointer with a stream block's stored fields (raw WRITE and
 * OBJECT_RANGE). */
static void bp_of(const cf_stream_blk_t *b, cf_blkptr_t *bp)
{
	memset(bp, 0, sizeof(*bp));
	bp->lsize = b->lsize;
	bp->psize = b->psize;
	bp->type = b->type;
	bp->comp = b->comp;
	bp->keygen = b->keygen;
	if (b->flags & CF_SBLK_ENCRYPTED)
		bp->flags |= CF_BPF_ENCRYPTED;
	if (b->flags & CF_SBLK_DNODE)
		bp->flags |= CF_BPF_DNODE;
	memcpy(bp->salt, b->salt, 8);
	memcpy(bp->iv, b->iv, 12);
	memcpy(bp->mac, b->mac, 16);
}

/* The logical bytes of a stream block (decompressed into c->buf). */
static int blk_plain(rctx_t *c, const cf_stream_blk_t *b,
    const uint8_t *payload, size_t len, const uint8_t **out)
{
	if (b->comp == CF_COMP_OFF) {
		*out = payload;
		return 0;
	}
	int err = cf_decompress(b->comp, payload, len, c->buf, b->lsize);
	if (err) {
		cf_set_errdetail("a compressed block does not decompress to "
		    "its %u bytes", b->lsize);
		return COFFER_EBADSTREAM;
	}
	*out = c->buf;
	return 0;
}

static int obj_blksz(cf_objset_t *os, uint64_t obj, uint32_t *blksz)
{
	cf_objinfo_t info;
	int err = cf_obj_info(os, obj, &info);
	if (err == -ENOENT) {
		cf_set_errdetail("the stream writes to object %llu, which it "
		    "did not create", (unsigned long long)obj);
		return COFFER_EBADSTREAM;
	}
	if (!err)
		*blksz = info.blksz;
	return err;
}

static int apply(rctx_t *c, const cf_stream_rec_t *rec,
    const uint8_t *payload, size_t len)
{
	cf_tx_t *tx;
	int err = cf_tx_begin(c->os, len + 65536, &tx);
	if (err)
		return err;
	uint32_t bs = 0;
	switch (rec->type) {
	case CF_SREC_OBJECT: {
		uint64_t obj = rec->u.object.object;
		cf_objinfo_t info;
		int r = cf_obj_info(c->os, obj, &info);
		if (c->encrypted) {
			/* made by its OBJECT_RANGE: only compare */
			if (r == 0 && (info.type != rec->u.object.type ||
			    info.blksz != rec->u.object.blksz))
				r = -ENOENT;
			if (r == -ENOENT) {
				cf_set_errdetail("object %llu does not match "
				    "its OBJECT_RANGE",
				    (unsigned long long)obj);
				r = COFFER_EBADSTREAM;
			}
			err = r;
			break;
		}
		if (r == 0 && (info.type != rec->u.object.type ||
		    info.blksz != rec->u.object.blksz))
			r = cf_obj_free(c->os, tx, obj) ? -EIO : -ENOENT;
		if (r == -ENOENT)
			err = cf_obj_claim(c->os, tx, obj, rec->u.object.type,
			    rec->u.object.blksz);
		else
			err = r;
		if (!err)
			err = cf_bonus_write(c->os, tx, obj, payload, len);
		if (err == -EINVAL) {
			cf_set_errdetail("object %llu: bad type or block size",
			    (unsigned long long)obj);
			err = COFFER_EBADSTREAM;
		}
		break;
	}
	case CF_SREC_FREEOBJECTS: {
		uint64_t first = rec->u.freeobjects.first;
		uint64_t end = first + rec->u.freeobjects.count;
		uint64_t obj = first ? first - 1 : 0;
		while (!err) {
			int r = cf_obj_next(c->os, &obj);
			if (r == -ENOENT || obj >= end)
				break;
			if (r) {
				err = r;
				break;
			}
			err = cf_obj_free(c->os, tx, obj);
		}
		break;
	}
	case CF_SREC_WRITE: {
		const cf_stream_blk_t *b = &rec->u.write.blk;
		err = obj_blksz(c->os, rec->u.write.object, &bs);
		if (!err && (rec->u.write.offset % bs || b->lsize != bs)) {
			cf_set_errdetail("WRITE at offset %llu of %zu bytes does "
			    "not fit object %llu's %u-byte blocks",
			    (unsigned long long)rec->u.write.offset, len,
			    (unsigned long long)rec->u.write.object, bs);
			err = COFFER_EBADSTREAM;
		}
		if (!err && c->encrypted) {
			cf_blkptr_t t;
			bp_of(b, &t);
			err = cf_obj_write_raw(c->os, tx, rec->u.write.object,
			    rec->u.write.offset / bs, &t, payload,
			    (uint32_t)len);
		} else if (!err) {
			const uint8_t *data;
			err = blk_plain(c, b, payload, len, &data);
			if (!err)
				err = cf_obj_write(c->os, tx,
				    rec->u.write.object, rec->u.write.offset,
				    b->lsize, data);
		}
		break;
	}
	case CF_SREC_OBJECT_RANGE: {
		const cf_stream_blk_t *b = &rec->u.range.blk;
		const uint8_t *image;
		cf_blkptr_t seal;
		bp_of(b, &seal);
		err = blk_plain(c, b, payload, len, &image);
		if (!err)
			err = cf_os_raw_dnblock(c->os, tx, rec->u.range.first /
			    CF_STREAM_RANGE_OBJS, image, &seal);
		if (err == -EINVAL) {
			cf_set_errdetail("the dnode block of objects %llu.. "
			    "holds a malformed dnode",
			    (unsigned long long)rec->u.range.first);
			err = COFFER_EBADSTREAM;
		}
		break;
	}
	case CF_SREC_FREE:
		err = obj_blksz(c->os, rec->u.free.object, &bs);
		if (!err)
			err = cf_obj_free_range(c->os, tx, rec->u.free.object,
			    rec->u.free.offset, rec->u.free.length ==
			    CF_STREAM_FREE_TO_END ? UINT64_MAX :
			    rec->u.free.length);
		break;
	default:
		cf_set_errdetail("record type %s is not supported by this "
		    "receive", cf_stream_type_name(rec->type));
		err = COFFER_ENOTSUP;
	}
	c->txg = cf_tx_txg(tx);
	cf_tx_end(tx);
	c->applied++;
	return err;
}

/*
 * The reader's input, watched: an interrupted stream (its end or a read
 * error before END) is told apart from a damaged one.
 */
typedef struct rwatch {
	cf_stream_read_fn fn;
	void *arg;
	int eof;
	int ioerr;
} rwatch_t;

static ptrdiff_t watched_read(void *arg, void *buf, size_t len)
{
	rwatch_t *w = arg;
	ptrdiff_t n = w->fn(w->arg, buf, len);
	if (n == 0)
		w->eof = 1;
	else if (n < 0)
		w->ioerr = 1;
	return n;
}

/* What BEGIN (and KEYS) say, until the first data record starts the
 * receive: KEYS comes after BEGIN, and a raw receive needs it to begin. */
typedef struct rbegin {
	int started;
	int inseg;                      /* multi: a SNAPSHOT was seen */
	int multi;                      /* segments introduced by SNAPSHOT */
	char top[512];                  /* multi: the dataset sent */
	char segtarget[512];            /* multi: where this segment goes */
	char snap[256];
	uint64_t fromguid, toguid;
	int type;
	uint64_t volsize;               /* a volume's, from "volsize" */
	int have_rawkv;                 /* raw_* keys of BEGIN or SNAPSHOT */
	cf_buf_t keys;                  /* KEYS payload */
	dsl_recv_raw_t raw;
	int meta_levels;
	uint64_t meta_maxblkid;
	cf_kv_t *props;                 /* PROPS of this segment */
} rbegin_t;

/* The raw_* keys of a BEGIN or SNAPSHOT kv, if present. */
static int raw_kv(rbegin_t *b, const cf_kv_t *kv)
{
	const uint8_t *mac;
	size_t ml;
	uint64_t txg, levels, maxblkid;
	b->have_rawkv = 0;
	if (cf_kv_find(kv, CF_KV_ROOT, "raw_mac") < 0)
		return 0;
	if (cf_kv_get_bytes(kv, CF_KV_ROOT, "raw_mac", &mac, &ml) != 0 ||
	    ml != 32 ||
	    cf_kv_get_u64(kv, CF_KV_ROOT, "raw_mac_txg", &txg) != 0 ||
	    cf_kv_get_u64(kv, CF_KV_ROOT, "raw_meta_levels", &levels) != 0 ||
	    cf_kv_get_u64(kv, CF_KV_ROOT, "raw_meta_maxblkid",
	    &maxblkid) != 0 || levels < 1 || levels > CF_STREAM_MAX_LEVELS) {
		cf_set_errdetail("raw_mac, raw_mac_txg, raw_meta_levels and "
		    "raw_meta_maxblkid are not all valid");
		return COFFER_EBADSTREAM;
	}
	memcpy(b->raw.mac, mac, 32);
	b->raw.mac_txg = txg;
	b->meta_levels = (int)levels;
	b->meta_maxblkid = maxblkid;
	b->have_rawkv = 1;
	return 0;
}

/* A new segment (multi): what its SNAPSHOT says. */
static int recv_snapshot_rec(rbegin_t *b, cf_svreader_t *rd,
    const cf_stream_rec_t *rec, const char *target)
{
	const cf_kv_t *kv = cf_svreader_kv(rd);
	const char *name = NULL;
	size_t nl;
	if (!kv || cf_kv_get_str(kv, CF_KV_ROOT, "toname", &name, &nl) != 0 ||
	    !strchr(name, '@')) {
		cf_set_errdetail("SNAPSHOT names no snapshot");
		return COFFER_EBADSTREAM;
	}
	int err = cf_recv_seg_target(target, b->top, name, b->segtarget,
	    sizeof(b->segtarget));
	if (err)
		return err;
	b->started = 0;
	cf_strlcpy(b->snap, strchr(name, '@') + 1, sizeof(b->snap));
	b->toguid = rec->u.snapshot.toguid;
	b->fromguid = rec->u.snapshot.fromguid;
	b->type = rec->u.snapshot.dstype == CF_STREAM_DS_VOL ?
	    COFFER_TYPE_VOLUME : COFFER_TYPE_FILESYSTEM;
	if (cf_kv_get_u64(kv, CF_KV_ROOT, "volsize", &b->volsize) != 0)
		b->volsize = 0;
	cf_buf_free(&b->keys);
	memset(&b->raw, 0, sizeof(b->raw));
	cf_kv_free(b->props);
	b->props = NULL;
	return raw_kv(b, kv);
}

static int recv_begin_rec(rbegin_t *b, cf_svreader_t *rd,
    const cf_stream_rec_t *rec)
{
	uint64_t unsup = rec->u.begin.incompat &
	    ~(CF_SFEAT_RAW | CF_SFEAT_COMPRESSED | CF_SFEAT_RESUMING |
	    CF_SFEAT_MULTI | CF_SFEAT_SIGNED);
	if (unsup) {
		cf_set_errdetail("stream features 0x%llx are not supported by "
		    "this receive", (unsigned long long)unsup);
		return COFFER_ENOTSUP;
	}
	const char *name = NULL;
	size_t nl;
	const cf_kv_t *kv = cf_svreader_begin_kv(rd);
	if (!kv || cf_kv_get_str(kv, CF_KV_ROOT, "toname", &name, &nl) != 0 ||
	    !strchr(name, '@')) {
		cf_set_errdetail("the stream names no snapshot");
		return COFFER_EBADSTREAM;
	}
	cf_strlcpy(b->snap, strchr(name, '@') + 1, sizeof(b->snap));
	b->toguid = rec->u.begin.toguid;
	b->fromguid = rec->u.begin.fromguid;
	b->type = rec->u.begin.dstype == CF_STREAM_DS_VOL ?
	    COFFER_TYPE_VOLUME : COFFER_TYPE_FILESYSTEM;
	b->multi = (rec->u.begin.incompat & CF_SFEAT_MULTI) != 0;
	if (cf_kv_get_u64(kv, CF_KV_ROOT, "volsize", &b->volsize) != 0)
		b->volsize = 0;
	if (b->multi)
		snprintf(b->top, sizeof(b->top), "%.*s",
		    (int)(strchr(name, '@') - name), name);
	return b->multi ? 0 : raw_kv(b, kv);
}

/* KEYS: the raw receive's keys, and the BEGIN keys it needs with them. */
static int recv_keys_rec(rbegin_t *b, const cf_stream_rec_t *rec,
    const uint8_t *payload, size_t len)
{
	if (!b->have_rawkv) {
		cf_set_errdetail("KEYS without raw_mac, raw_mac_txg, "
		    "raw_meta_levels and raw_meta_maxblkid in %s",
		    b->multi ? "its SNAPSHOT" : "BEGIN");
		return COFFER_EBADSTREAM;
	}
	if ((rec->u.keys.flags & CF_SKEYS_ROOT) != (b->fromguid == 0)) {
		cf_set_errdetail("a %s raw stream %s a keystore",
		    b->fromguid ? "incremental" : "full",
		    b->fromguid ? "with" : "without");
		return COFFER_EBADSTREAM;
	}
	int err = cf_buf_append(&b->keys, payload, len);
	if (err)
		return err;
	b->raw.keyrec = b->keys.data;
	b->raw.keyrec_len = rec->u.keys.keyrec_len;
	if (rec->u.keys.keystore_len) {
		b->raw.keystore = b->keys.data + rec->u.keys.keyrec_len;
		b->raw.keystore_len = rec->u.keys.keystore_len;
	}
	/* malformed keys are this record's fault, not BEGIN's */
	return dsl_crypt_raw_check(&b->raw);
}

/* The end of a segment (END, or the next SNAPSHOT): swap it in. */
static int raw_finish(rctx_t *c, const rbegin_t *b);
static int seg_end(rctx_t *c, rbegin_t *b, dsl_recv_t **r)
{
	int err = c->encrypted ? raw_finish(c, b) : 0;
	if (!err)
		err = dsl_recv_end(*r, b->snap, b->toguid);
	*r = NULL;
	c->os = NULL;
	if (!err && b->props)
		err = cf_recv_props_apply(c->dp, b->segtarget, b->props);
	return err;
}

int cf_recv(dsl_pool_t *dp, const char *target, int flags,
    cf_stream_read_fn fn, void *arg)
{
	return cf_recv_named(dp, target, flags, fn, arg, NULL, 0);
}

int cf_recv_named(dsl_pool_t *dp, const char *target, int flags,
    cf_stream_read_fn fn, void *arg, char *name, size_t namelen)
{
	return cf_recv_verify(dp, target, flags, fn, arg, name, namelen, NULL,
	    NULL);
}

int cf_recv_verify(dsl_pool_t *dp, const char *target, int flags,
    cf_stream_read_fn fn, void *arg, char *name, size_t namelen,
    const cf_sverify_opts_t *vo, cf_sverify_info_t *vinfo)
{
	/* records come through the verifying reader (signstream.c): held
	 * back until a signature covers them; unsigned streams pass as is */
	cf_sverify_opts_t legacy = { .accept_unverified = 1 };
	cf_svreader_t *rd;
	rwatch_t watch = { fn, arg, 0, 0 };
	int err = cf_svreader_new(watched_read, &watch, NULL,
	    vo ? vo : &legacy, &rd);
	if (err)
		return err;
	cf_stream_rec_t rec;
	const uint8_t *payload;
	size_t len;
	dsl_recv_t *r = NULL;
	rbegin_t b;
	memset(&b, 0, sizeof(b));
	char tgt[512];
	uint64_t pobj = 1, poff = 0, pbytes = 0;        /* resume point */
	int resumable = 0, resuming = 0;
	cf_stream_rec_t begin;
	const cf_kv_t *bkv = NULL;
	rctx_t c = { dp, NULL, 0, 0, malloc(CF_STREAM_MAX_BLKSZ), 0 };
	cf_strlcpy(tgt, target, sizeof(tgt));
	if (!c.buf)
		err = -ENOMEM;
	/* An error of the pool side names the record it was found at, like
	 * the reader's own errors: "record N (TYPE) at byte X: why".  One
	 * about the identity of the stream or segment (target, base) names
	 * its BEGIN or SNAPSHOT record. */
	uint64_t off = 0, rec_off = 0, id_seq = 0, id_off = 0;
	uint32_t id_type = CF_SREC_BEGIN;
	int applying = 0, at_begin = 0;
	while (!err) {
		applying = 0;
		int n = cf_svreader_read(rd, &rec, &payload, &len);
		if (n < 0) {
			err = n;
			break;
		}
		if (n == 0) {
			err = COFFER_EBADSTREAM;        /* END not seen */
			break;
		}
		rec_off = off;
		off += CF_STREAM_HDR_SIZE + ((len + 7) & ~(size_t)7);
		applying = 1;
		if (rec.type == CF_SREC_BEGIN || rec.type == CF_SREC_SNAPSHOT) {
			id_seq = rec.seq;
			id_off = rec_off;
			id_type = rec.type;
		}
		if (rec.type == CF_SREC_BEGIN) {
			err = recv_begin_rec(&b, rd, &rec);
			if (err)
				break;
			begin = rec;
			bkv = cf_svreader_begin_kv(rd);
			resuming = (rec.u.begin.incompat &
			    CF_SFEAT_RESUMING) != 0;
			if (flags & (CF_RECV_DNAME | CF_RECV_ENAME)) {
				const char *tn = NULL;
				size_t nl;
				if (cf_kv_get_str(bkv, CF_KV_ROOT, "toname", &tn,
				    &nl) != 0)
					tn = "";
				err = cf_recv_target(dp, target, tn, flags, tgt,
				    sizeof(tgt));
			}
			if (name)
				cf_strlcpy(name, tgt, namelen);
			if (b.multi && resuming) {
				cf_set_errdetail("a multi-snapshot stream "
				    "cannot resume");
				err = COFFER_EBADSTREAM;
			}
			continue;
		}
		if (rec.type == CF_SREC_SNAPSHOT && !b.inseg) {
			/* the first segment */
			b.inseg = 1;
			err = recv_snapshot_rec(&b, rd, &rec, tgt);
			continue;
		}
		if (rec.type == CF_SREC_KEYS) {
			err = recv_keys_rec(&b, &rec, payload, len);
			continue;
		}
		if (rec.type == CF_SREC_PROPS) {
			const cf_kv_t *pk = cf_svreader_kv(rd);
			err = pk ? cf_recv_props_check(pk) : COFFER_EBADSTREAM;
			if (!err)
				err = cf_kv_decode(payload, len, &b.props);
			continue;
		}
		if (!b.started) {
			if (!b.multi)
				cf_strlcpy(b.segtarget, tgt,
				    sizeof(b.segtarget));
			const char *where = b.segtarget;
			/* the first data record (or END): begin */
			c.encrypted = b.raw.keyrec != NULL;
			b.started = 1;
			at_begin = 1;
			if (resuming) {
				/* the interrupted receive, if this stream is
				 * its rest (resume.c checks) */
				err = cf_resume_recv_begin(dp, tgt, &begin, bkv,
				    c.encrypted ? &b.raw : NULL, &r, &pbytes);
				if (err)
					break;
				resumable = 1;
				/* checked by cf_resume_recv_begin */
				if (cf_kv_get_u64(bkv, CF_KV_ROOT,
				    "resume_object", &pobj) != 0 ||
				    cf_kv_get_u64(bkv, CF_KV_ROOT,
				    "resume_offset", &poff) != 0)
					pobj = 1, poff = 0;
				c.os = dsl_recv_os(r);
				at_begin = 0;
				goto started;
			}
			/* a snapshot the target has is not received again
			 * (a full stream needs a new dataset anyway) */
			err = b.fromguid ? cf_recv_check_replay(dp, where,
			    b.toguid) : 0;
			if (err)
				break;
			err = dsl_recv_begin_raw(dp, where, b.fromguid,
			    flags & CF_RECV_FORCE, b.type, b.volsize,
			    c.encrypted ? &b.raw : NULL, &r);
			if (err)
				break;
			c.os = dsl_recv_os(r);
			at_begin = 0;
			if ((flags & CF_RECV_RESUMABLE) &&
			    !(begin.u.begin.incompat & CF_SFEAT_MULTI)) {
				cf_buf_t info = { 0 };
				err = cf_resume_info(&begin, bkv, &info);
				if (!err)
					err = dsl_recv_set_resumable(r, info.data,
					    info.len);
				cf_buf_free(&info);
				if (err)
					break;
				resumable = 1;
			}
		}
started:
		if (rec.type == CF_SREC_END) {
			err = seg_end(&c, &b, &r);
			break;
		}
		if (rec.type == CF_SREC_SNAPSHOT) {
			/* the segment before it is whole (it may have had
			 * no data records at all) */
			err = seg_end(&c, &b, &r);
			if (!err)
				err = recv_snapshot_rec(&b, rd, &rec, tgt);
			continue;
		}
		err = apply(&c, &rec, payload, len);
		if (err)
			break;
		if (resumable) {
			if (rec.type == CF_SREC_WRITE)
				pbytes += rec.u.write.blk.lsize;
			cf_resume_point_after(&rec, &pobj, &poff);
			dsl_recv_note(r, c.txg, pobj, poff, pbytes);
		}
	}
	if (err && applying) {
		/* where; and why, unless the code alone says it (the
		 * caller prints the code's text: "out of space (record
		 * 420 (WRITE) at byte N)", not the reason twice) */
		char why[768] = "";
		if (coffer_errdetail()[0])
			snprintf(why, sizeof(why), ": %s", coffer_errdetail());
		if (at_begin)
			cf_set_errdetail("record %llu (%s) at byte %llu%s",
			    (unsigned long long)id_seq,
			    cf_stream_type_name(id_type),
			    (unsigned long long)id_off, why);
		else
			cf_set_errdetail("record %llu (%s) at byte %llu%s",
			    (unsigned long long)rec.seq,
			    cf_stream_type_name(rec.type),
			    (unsigned long long)rec_off, why);
	}
	if (err == COFFER_EBADSTREAM && !coffer_errdetail()[0])
		cf_set_errdetail("%s", cf_svreader_error(rd)[0] ?
		    cf_svreader_error(rd) : "stream truncated");
	if (r) {
		/* interrupted (the input ended or failed, or the caller
		 * stopped us), not damaged: keep it for send -t */
		/* the input's state counts only for an error the reader
		 * returned: a verified reader reads ahead, so the input may
		 * have ended while an earlier record was being applied */
		int interrupted = err == COFFER_EINTR || (!applying &&
		    ((watch.ioerr && err < 0 && err > -4096) || (watch.eof &&
		    err == COFFER_EBADSTREAM && strncmp(
		    cf_svreader_error(rd), "stream truncated", 16) == 0)));
		if (resumable && interrupted) {
			char keep[512];
			cf_strlcpy(keep, coffer_errdetail(), sizeof(keep));
			(void)dsl_recv_suspend(r);
			cf_set_errdetail("%s%sthe partial receive is kept: "
			    "'coffer get receive_resume_token %s' gives the "
			    "token for 'coffer send -t'", keep,
			    keep[0] ? "; " : "", tgt);
		} else {
			/* abort runs a sync task: keep the failure's message */
			char keep[1024];
			cf_strlcpy(keep, coffer_errdetail(), sizeof(keep));
			dsl_recv_abort(r);
			cf_set_errdetail("%s", keep);
		}
	}
	if (vinfo)
		*vinfo = *cf_svreader_info(rd);
	cf_svreader_free(rd);
	cf_buf_free(&b.keys);
	cf_kv_free(b.props);
	free(c.buf);
	return err;
}

/* END of a raw encrypted stream: the root gets the sender's MAC. */
static int raw_finish(rctx_t *c, const rbegin_t *b)
{
	cf_tx_t *tx;
	int err = cf_tx_begin(c->os, 65536, &tx);
	if (err)
		return err;
	err = cf_os_raw_root(c->os, tx, b->raw.mac, b->raw.mac_txg,
	    b->meta_levels, b->meta_maxblkid);
	cf_tx_end(tx);
	if (err == -EINVAL) {
		cf_set_errdetail("raw_meta_maxblkid %llu does not fit %d "
		    "levels", (unsigned long long)b->meta_maxblkid,
		    b->meta_levels);
		err = COFFER_EBADSTREAM;
	}
	return err;
}
