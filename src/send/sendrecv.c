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

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "crypto/crypto.h"
#include "dmu/dmu_impl.h"

/* ---- send ------------------------------------------------------------------ */

typedef struct sctx {
	cf_objset_t *os;
	cf_stream_writer_t *w;
	uint64_t from_txg;
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
	c->next_off = 0;
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
		int err = gap(c, off);
		return err ? err : free_rec(c, off, len);
	}
	uint64_t off = idx * c->blksz;
	int err = gap(c, off);
	if (err)
		return err;
	c->next_off = off + c->blksz;
	err = cf_obj_read(c->os, obj, off, c->blksz, c->buf);
	if (err)
		return err;
	rec.type = CF_SREC_WRITE;
	rec.u.write.object = obj;
	rec.u.write.offset = off;
	rec.u.write.blk.lsize = c->blksz;
	rec.u.write.blk.psize = c->blksz;
	rec.u.write.blk.type = bp->type;
	rec.u.write.blk.cksum = CF_CKSUM_FLETCHER4;
	cf_block_checksum(CF_CKSUM_FLETCHER4, c->buf, c->blksz,
	    rec.u.write.blk.checksum);
	err = cf_stream_write(c->w, &rec, c->buf, c->blksz);
	c->done += c->blksz;
	if (!err && c->progress && c->progress(c->done, c->total, c->parg))
		err = COFFER_EINTR;
	return err;
}

static const cf_send_ops_t send_ops = { s_object, s_block, s_freeobjects };

static int prop_u64(dsl_pool_t *dp, const char *ds, const char *prop,
    uint64_t *v)
{
	coffer_propval_t pv;
	int err = dsl_prop_get(dp, ds, prop, &pv);
	if (!err)
		*v = strtoull(pv.raw, NULL, 10);
	return err;
}

int cf_send(dsl_pool_t *dp, const char *tosnap, const char *fromsnap,
    int flags, cf_stream_write_fn fn, void *arg, coffer_progress_fn progress,
    void *parg)
{
	return cf_send_signed(dp, tosnap, fromsnap, flags, fn, arg, progress,
	    parg, NULL);
}

int cf_send_signed(dsl_pool_t *dp, const char *tosnap, const char *fromsnap,
    int flags, cf_stream_write_fn fn, void *arg, coffer_progress_fn progress,
    void *parg, cf_ssign_t *sg)
{
	(void)flags;
	const char *at = strchr(tosnap, '@');
	if (!at) {
		cf_set_errdetail("'%s' is not a snapshot", tosnap);
		return COFFER_EBADNAME;
	}
	uint64_t toguid, totxg, created, fromguid = 0, fromtxg = 0;
	int err = prop_u64(dp, tosnap, "guid", &toguid);
	if (!err)
		err = prop_u64(dp, tosnap, "createtxg", &totxg);
	if (!err)
		err = prop_u64(dp, tosnap, "creation", &created);
	if (err)
		return err;
	char fromfull[512];
	if (fromsnap) {
		/* "@snap" or "fs@snap" of the same dataset */
		if (fromsnap[0] == '@')
			snprintf(fromfull, sizeof(fromfull), "%.*s%s",
			    (int)(at - tosnap), tosnap, fromsnap);
		else
			cf_strlcpy(fromfull, fromsnap, sizeof(fromfull));
		const char *fat = strchr(fromfull, '@');
		if (!fat || (size_t)(fat - fromfull) != (size_t)(at - tosnap) ||
		    strncmp(fromfull, tosnap, (size_t)(at - tosnap)) != 0) {
			cf_set_errdetail("'%s' is not a snapshot of the same "
			    "dataset as '%s'", fromsnap, tosnap);
			return -EINVAL;
		}
		err = prop_u64(dp, fromfull, "guid", &fromguid);
		if (!err)
			err = prop_u64(dp, fromfull, "createtxg", &fromtxg);
		if (err)
			return err;
		if (fromtxg >= totxg) {
			cf_set_errdetail("'%s' is not older than '%s'", fromfull,
			    tosnap);
			return -EINVAL;
		}
	}
	cf_objset_t *os;
	dsl_dataset_t *ds;
	err = dsl_hold(dp, tosnap, &os, &ds);
	if (err)
		return err;
	sctx_t c;
	memset(&c, 0, sizeof(c));
	c.os = os;
	c.from_txg = fromtxg;
	c.progress = progress;
	c.parg = parg;
	prop_u64(dp, tosnap, "referenced", &c.total);
	c.buf = malloc(CF_MAX_BLKSZ);
	err = c.buf ? cf_stream_writer_new(fn, arg, &c.w) : -ENOMEM;
	cf_kv_t *kv = err ? NULL : cf_kv_new();
	if (!err && !kv)
		err = -ENOMEM;
	if (!err)
		err = cf_kv_add_str(kv, CF_KV_ROOT, "toname", tosnap);
	if (!err && fromsnap)
		err = cf_kv_add_str(kv, CF_KV_ROOT, "fromname", fromfull);
	if (!err) {
		cf_stream_rec_t rec;
		memset(&rec, 0, sizeof(rec));
		rec.type = CF_SREC_BEGIN;
		if (sg) {               /* signed: BEGIN's keys and the hook */
			err = cf_ssign_begin(sg, kv, &rec.u.begin.incompat);
			cf_stream_writer_set_sign(c.w, cf_ssign_hook, sg);
		}
		rec.u.begin.version = CF_STREAM_VERSION;
		rec.u.begin.fromguid = fromguid;
		rec.u.begin.toguid = toguid;
		rec.u.begin.totxg = totxg;
		rec.u.begin.creation = created;
		rec.u.begin.dstype = dsl_ds_type(ds) == COFFER_TYPE_VOLUME ?
		    CF_STREAM_DS_VOL : CF_STREAM_DS_FS;
		if (!err)
			err = cf_stream_write_kv(c.w, &rec, kv);
	}
	if (!err)
		err = cf_os_send_walk(os, fromtxg, &send_ops, &c);
	if (!err)
		err = end_object(&c);
	if (!err)
		err = flush_freeobjects(&c);
	if (!err) {
		cf_stream_rec_t rec;
		memset(&rec, 0, sizeof(rec));
		rec.type = CF_SREC_END;
		err = cf_stream_write(c.w, &rec, NULL, 0);
	}
	cf_kv_free(kv);
	cf_stream_writer_free(c.w);
	free(c.buf);
	dsl_rele(dp, ds);
	return err;
}

/* ---- receive ------------------------------------------------------------------ */

typedef struct rctx {
	dsl_pool_t *dp;
	cf_objset_t *os;
	uint64_t applied;               /* records */
} rctx_t;

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
	case CF_SREC_WRITE:
		err = obj_blksz(c->os, rec->u.write.object, &bs);
		if (!err && (rec->u.write.offset % bs || len > bs ||
		    len != rec->u.write.blk.lsize)) {
			cf_set_errdetail("WRITE at offset %llu of %zu bytes does "
			    "not fit object %llu's %u-byte blocks",
			    (unsigned long long)rec->u.write.offset, len,
			    (unsigned long long)rec->u.write.object, bs);
			err = COFFER_EBADSTREAM;
		}
		if (!err)
			err = cf_obj_write(c->os, tx, rec->u.write.object,
			    rec->u.write.offset, len, payload);
		break;
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
	cf_tx_end(tx);
	c->applied++;
	return err;
}

int cf_recv(dsl_pool_t *dp, const char *target, int flags,
    cf_stream_read_fn fn, void *arg)
{
	return cf_recv_verify(dp, target, flags, fn, arg, NULL, NULL);
}

int cf_recv_verify(dsl_pool_t *dp, const char *target, int flags,
    cf_stream_read_fn fn, void *arg, const cf_sverify_opts_t *vo,
    cf_sverify_info_t *info)
{
	/* records come through the verifying reader (signstream.c): held
	 * back until a signature covers them; unsigned streams pass as is */
	cf_sverify_opts_t legacy = { .accept_unverified = 1 };
	cf_svreader_t *rd;
	int err = cf_svreader_new(fn, arg, NULL, vo ? vo : &legacy, &rd);
	if (err)
		return err;
	cf_stream_rec_t rec;
	const uint8_t *payload;
	size_t len;
	dsl_recv_t *r = NULL;
	char snap[256] = "";
	uint64_t toguid = 0;
	rctx_t c = { dp, NULL, 0 };
	for (;;) {
		int n = cf_svreader_read(rd, &rec, &payload, &len);
		if (n < 0) {
			err = n;
			break;
		}
		if (n == 0) {
			err = COFFER_EBADSTREAM;        /* END not seen */
			break;
		}
		if (rec.type == CF_SREC_BEGIN) {
			if (rec.u.begin.incompat & ~CF_SFEAT_SIGNED) {
				cf_set_errdetail("raw, compressed and multi-"
				    "snapshot streams are not supported by "
				    "this receive yet");
				err = COFFER_ENOTSUP;
				break;
			}
			const char *name = NULL;
			size_t nl;
			const cf_kv_t *kv = cf_svreader_begin_kv(rd);
			if (!kv || cf_kv_get_str(kv, CF_KV_ROOT, "toname", &name,
			    &nl) != 0 || !strchr(name, '@')) {
				cf_set_errdetail("the stream names no snapshot");
				err = COFFER_EBADSTREAM;
				break;
			}
			cf_strlcpy(snap, strchr(name, '@') + 1, sizeof(snap));
			toguid = rec.u.begin.toguid;
			err = cf_recv_check_replay(dp, target, toguid);
			if (err)
				break;
			err = dsl_recv_begin(dp, target, rec.u.begin.fromguid,
			    flags & CF_RECV_FORCE,
			    rec.u.begin.dstype == CF_STREAM_DS_VOL ?
			    COFFER_TYPE_VOLUME : COFFER_TYPE_FILESYSTEM, &r);
			if (err)
				break;
			c.os = dsl_recv_os(r);
			continue;
		}
		if (rec.type == CF_SREC_END) {
			err = dsl_recv_end(r, snap, toguid);
			r = NULL;
			break;
		}
		err = apply(&c, &rec, payload, len);
		if (err)
			break;
	}
	if (r)
		dsl_recv_abort(r);
	if (err == COFFER_EBADSTREAM && !coffer_errdetail()[0])
		cf_set_errdetail("%s", cf_svreader_error(rd)[0] ?
		    cf_svreader_error(rd) : "stream truncated");
	if (info)
		*info = *cf_svreader_info(rd);
	cf_svreader_free(rd);
	return err;
}
