/*
 * dmu: object sets, dnodes, dirty state and the sync of an object set.
 *
 * Model
 *  An object set is object 0 (the meta-dnode, whose data is the array of
 *  512-byte dnodes) plus the objects it describes.  Each object is a tree
 *  of block pointers: the dnode's root bp points at the top indirect
 *  block (CF_IND_BPS bps each) or, for a one-level object, at its only
 *  data block.
 *
 *  Changes never touch the tree directly.  An open-context change is
 *  recorded in the per-txg dirty state of its object set:
 *    dr    - the new contents of one data block in that txg;
 *    dnrec - the new attributes of one object in that txg (type, block
 *            size, bonus, highest block) and the block ranges it freed.
 *  Two txgs can have dirty state at once: the open one and the syncing
 *  one.  A read looks at the newest txg first: its dr, then its freed
 *  ranges, then the older txg likewise, then the tree.
 *
 *  Only the sync thread changes trees (cf_os_sync).  It writes the data
 *  blocks of the txg without the object set lock (both cores compress
 *  and checksum), then, under the lock, installs the new block pointers,
 *  rewrites indirect blocks bottom-up, encodes the dnodes into object 0,
 *  writes object 0's tree and finally the object set root block.
 *
 * Dnode (CF_DNODE_SIZE = 512 bytes, little-endian):
 *    0   1  type (enum cf_objtype; 0 = free)
 *    1   1  nlevels (1..CF_MAX_LEVELS)
 *    2   2  bonus length (0..256)
 *    4   4  data block size (multiple of 512, at most 1 MiB)
 *    8   8  highest block id written (maxblkid)
 *   16   8  bytes allocated by the object's blocks, all copies
 *   24   8  generation: the txg the object was allocated in (send uses
 *           it to tell a reused object id from the old object)
 *   32  32  reserved, zero
 *   64 160  root block pointer
 *  224  32  reserved, zero
 *  256 256  bonus (attributes; encrypted with the dataset key, later)
 *
 * Object set root block (CF_OBJSET_PHYS_SIZE = 4096 bytes):
 *    0 512  the meta-dnode (object 0)
 *  512   8  object set type (1 MOS, 2 filesystem, 3 volume)
 *  520   8  flags
 *  528 ...  reserved, zero (MACs arrive with encryption)
 *
 * Invariants
 *  1. Under os->lock, for any (object, block): the newest dirty version,
 *     else the tree, is the current contents; the tree only ever holds
 *     what was (or is being) synced.
 *  2. A dirty record of the syncing txg is immutable until its block
 *     pointer is installed; open-context writers copy it, never change it.
 *  3. Every block pointer replaced in the tree is reported exactly once:
 *     kill (born earlier: owner frees or keeps for snapshots) or unborn
 *     (born in this txg: already freed or reused in place).
 *  4. Everything read from disk is decoded with bounds checks; a bad
 *     dnode, bp or level count is COFFER_ECORRUPT, never a crash.
 *  5. Open-context changes of txg N all happen before any of N + 1 (the
 *     spa grants no hold of N + 1 while N has holders), so a change
 *     never has to reach a newer txg's records; rec_get refuses one that
 *     would.  (Before this rule a tx of N writing a block that N + 1 had
 *     already dirtied lost its write once N + 1 synced.)
 */
#include "dmu/dmu_impl.h"
#include "crypto/crypto.h"

_Static_assert(CF_DNODE_SIZE == CF_BLK_REC_SIZE &&
    CF_DN_BONUS_OFF == CF_BLK_REC_SEALED_OFF,
    "dnode layout and the block layer's sealed records must agree");

#include <stdio.h>
#include <stdlib.h>

/* ---- encoding ------------------------------------------------------------ */

void cf_dnode_encode(const cf_dnode_phys_t *dn, uint8_t out[CF_DNODE_SIZE])
{
	memset(out, 0, CF_DNODE_SIZE);
	if (dn->type == CF_OT_NONE)
		return;
	out[0] = dn->type;
	out[1] = dn->nlevels;
	le16_put(out + 2, dn->bonuslen);
	le32_put(out + 4, dn->blksz);
	le64_put(out + 8, dn->maxblkid);
	le64_put(out + 16, dn->used);
	le64_put(out + 24, dn->gen);
	cf_bp_encode(&dn->root, out + 64);
	memcpy(out + CF_DN_BONUS_OFF, dn->bonus, dn->bonuslen);
}

int cf_dnode_decode(const uint8_t in[CF_DNODE_SIZE], cf_dnode_phys_t *dn)
{
	memset(dn, 0, sizeof(*dn));
	dn->type = in[0];
	if (dn->type == CF_OT_NONE) {
		for (int i = 0; i < CF_DNODE_SIZE; i++)
			if (in[i])
				return CF_CORRUPT();
		dn->nlevels = 1;
		return 0;
	}
	dn->nlevels = in[1];
	dn->bonuslen = le16_get(in + 2);
	dn->blksz = le32_get(in + 4);
	dn->maxblkid = le64_get(in + 8);
	dn->used = le64_get(in + 16);
	if (dn->type >= CF_OT_MAX || dn->nlevels < 1 ||
	    dn->nlevels > CF_MAX_LEVELS || dn->bonuslen > CF_BONUS_MAX ||
	    dn->blksz < CF_MIN_BLKSZ || dn->blksz > CF_MAX_BLKSZ ||
	    dn->blksz % CF_MIN_BLKSZ)
		return CF_CORRUPT();
	dn->gen = le64_get(in + 24);
	for (int i = 32; i < 64; i++)
		if (in[i])
			return CF_CORRUPT();
	for (int i = 224; i < 256; i++)
		if (in[i])
			return CF_CORRUPT();
	int err = cf_bp_decode(in + 64, &dn->root);
	if (err)
		return err;
	/* the encoder zeroes the bonus area past bonuslen: anything else
	 * there would be dropped silently by a re-encode */
	for (int i = CF_DN_BONUS_OFF + dn->bonuslen; i < CF_DNODE_SIZE; i++)
		if (in[i])
			return CF_CORRUPT();
	memcpy(dn->bonus, in + CF_DN_BONUS_OFF, dn->bonuslen);
	return 0;
}

void cf_osphys_encode(const cf_objset_phys_t *p, uint8_t *out)
{
	memset(out, 0, CF_OBJSET_PHYS_SIZE);
	cf_dnode_encode(&p->meta, out);
	le64_put(out + 512, p->type);
	le64_put(out + 520, p->flags);
	if (p->flags & CF_OSF_MAC) {
		memcpy(out + 528, p->mac, 32);
		le64_put(out + 560, p->mac_txg);
	}
}

int cf_osphys_mac(const uint8_t *enc, uint64_t guid, uint64_t txg,
    const uint8_t *hmac_key, uint8_t out[32])
{
	/* portable: the meta-dnode's type and sizes and its root bp's
	 * portable fields, the set's type and flags, guid and txg */
	uint8_t msg[8 + 16 + CF_BP_PORTABLE_SIZE + 32];
	cf_blkptr_t root;
	if (enc[0] != 0 && cf_bp_decode(enc + 64, &root) != 0)
		return COFFER_EAUTH;
	if (enc[0] == 0)
		memset(&root, 0, sizeof(root));
	memcpy(msg, "CFOSMAC2", 8);
	memcpy(msg + 8, enc, 16);
	cf_bp_portable(&root, msg + 24);
	memcpy(msg + 24 + CF_BP_PORTABLE_SIZE, enc + 512, 16);
	le64_put(msg + 40 + CF_BP_PORTABLE_SIZE, guid);
	le64_put(msg + 48 + CF_BP_PORTABLE_SIZE, txg);
	return cf_hmac(CF_MD_SHA256, hmac_key, 32, msg, sizeof(msg), out);
}

int cf_os_root_mac(cf_spa_t *spa, const cf_blkptr_t *root, uint8_t mac[32],
    uint64_t *txg)
{
	uint8_t *buf = malloc(CF_OBJSET_PHYS_SIZE);
	cf_objset_phys_t p;
	if (!buf)
		return -ENOMEM;
	int err = root->lsize == CF_OBJSET_PHYS_SIZE ? 0 : CF_CORRUPT();
	if (!err)
		err = cf_block_read(spa, root, buf);
	if (!err)
		err = cf_osphys_decode(buf, &p);
	free(buf);
	if (err)
		return err;
	if (!(p.flags & CF_OSF_MAC))
		return COFFER_EAUTH;
	memcpy(mac, p.mac, 32);
	*txg = p.mac_txg;
	return 0;
}

int cf_osphys_decode(const uint8_t *in, cf_objset_phys_t *p)
{
	memset(p, 0, sizeof(*p));
	int err = cf_dnode_decode(in, &p->meta);
	if (err)
		return err;
	p->type = le64_get(in + 512);
	p->flags = le64_get(in + 520);
	if (p->type < CF_OS_TYPE_MOS || p->type > CF_OS_TYPE_VOL ||
	    (p->flags & ~(uint64_t)CF_OSF_MAC))
		return CF_CORRUPT();
	if (p->flags & CF_OSF_MAC) {
		memcpy(p->mac, in + 528, 32);
		p->mac_txg = le64_get(in + 560);
	}
	if (p->meta.type != CF_OT_NONE &&
	    (p->meta.type != CF_OT_META_DNODE ||
	    p->meta.blksz != CF_DNODE_BLKSZ))
		return CF_CORRUPT();
	return 0;
}

/* ---- in-memory structures --------------------------------------------------- */

typedef struct dr {
	struct dr *hnext;
	struct dr *lnext, *lprev;
	uint64_t obj, blkid;
	uint32_t size;
	uint8_t *data;
	cf_blkptr_t newbp;
	cf_blkptr_t oldbp;
	int werr;
	int raw;                        /* data is a stored block (tmpl) */
	int has_seal;                   /* dnode block: the sender's seal */
	cf_blkptr_t tmpl;               /* raw: the block's fields; else the
					   seal of a raw dnode block */
} dr_t;

typedef struct frange {
	struct frange *next;
	uint64_t start, end;            /* block ids, end exclusive */
} frange_t;

typedef struct dnrec {
	struct dnrec *hnext;
	struct dnrec *lnext;
	uint64_t obj;
	uint8_t type;
	uint32_t blksz;
	uint16_t bonuslen;
	uint8_t bonus[CF_BONUS_MAX];
	uint64_t maxblkid;
	uint8_t nlevels;                /* raw receive: levels to grow to */
	int freeall;
	frange_t *frees;
	uint64_t dirtybytes;            /* data dirtied in this txg (estimate) */
} dnrec_t;

typedef struct txgstate {
	uint64_t txg;                   /* 0: unused */
	dr_t **drh;
	size_t drnb, ndr;
	dr_t *drs;                      /* doubly linked list of all drs */
	dnrec_t **dnh;
	size_t dnnb, ndn;
	dnrec_t *dns;
	uint64_t bytes;
} txgstate_t;

typedef struct ibuf {
	struct ibuf *hnext;
	int level;
	uint64_t idx;
	int dirty;
	cf_blkptr_t bps[CF_IND_BPS];
} ibuf_t;

typedef struct dnode {
	struct dnode *hnext;
	uint64_t obj;
	cf_dnode_phys_t phys;
	ibuf_t **ibh;
	size_t ibnb, nib;
	uint64_t stamp;                 /* last use, for eviction */
} dnode_t;

struct cf_objset {
	cf_spa_t *spa;
	int type;
	char name[512];
	cf_os_settings_t set;
	const cf_os_ops_t *ops;
	void *ops_arg;
	pthread_mutex_t lock;
	dnode_t meta;
	dnode_t **dnh;
	size_t dnnb, ndn;
	txgstate_t ts[2];
	uint64_t next_obj;
	cf_blkptr_t rootbp;
	uint64_t stamp;
	const cf_cryptset_t *cs;        /* keys, when loaded */
	int encrypted;                  /* an encrypted set (key or not) */
	int raw;                        /* raw receive: keyless, sealed */
	uint64_t mac_txg;
	uint8_t mac[32];                /* the root's MAC */
};

#define DN_CACHE_MAX 100000

/* ---- hashing helpers ---------------------------------------------------------- */

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static inline size_t hkey(uint64_t a, uint64_t b, size_t nb)
{
	return (size_t)(mix64(a * 0x9e3779b97f4a7c15ULL ^ b) & (nb - 1));
}

/* Grow a chained table of type T when it gets dense. */
#define REHASH(T, tab, nb, n, keyexpr)                                      \
	do {                                                                \
		if ((n) < (nb))                                            \
			break;                                              \
		size_t _nnb = (nb) ? (nb) * 4 : 64;                         \
		T **_nt = calloc(_nnb, sizeof(T *));                        \
		if (!_nt)                                                   \
			break;                                              \
		for (size_t _i = 0; _i < (nb); _i++) {                      \
			T *_e = (tab)[_i], *_nx;                            \
			for (; _e; _e = _nx) {                              \
				_nx = _e->hnext;                            \
				size_t _h = keyexpr(_e, _nnb);              \
				_e->hnext = _nt[_h];                        \
				_nt[_h] = _e;                               \
			}                                                   \
		}                                                           \
		free(tab);                                                  \
		(tab) = _nt;                                                \
		(nb) = _nnb;                                                \
	} while (0)

#define DR_KEY(e, nb) hkey((e)->obj, (e)->blkid, nb)
#define DN_KEY(e, nb) hkey((e)->obj, 0, nb)
#define IB_KEY(e, nb) hkey((uint64_t)(e)->level, (e)->idx, nb)

static txgstate_t *ts_get(cf_objset_t *os, uint64_t txg, int create)
{
	txgstate_t *ts = &os->ts[txg & 1];
	if (ts->txg == txg)
		return ts;
	if (!create)
		return NULL;
	/* the slot must be empty: its previous txg finished syncing */
	if (ts->txg != 0 && (ts->ndr || ts->ndn)) {
		cf_log(COFFER_LOG_ERR, "dmu: txg slot still busy");
		return NULL;
	}
	ts->txg = txg;
	ts->bytes = 0;
	return ts;
}

static dr_t *dr_find(txgstate_t *ts, uint64_t obj, uint64_t blkid)
{
	if (!ts || !ts->drnb)
		return NULL;
	for (dr_t *d = ts->drh[hkey(obj, blkid, ts->drnb)]; d; d = d->hnext)
		if (d->obj == obj && d->blkid == blkid)
			return d;
	return NULL;
}

static dr_t *dr_insert(txgstate_t *ts, uint64_t obj, uint64_t blkid,
    uint32_t size)
{
	REHASH(dr_t, ts->drh, ts->drnb, ts->ndr, DR_KEY);
	if (!ts->drnb)
		return NULL;
	dr_t *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->data = malloc(size);
	if (!d->data) {
		free(d);
		return NULL;
	}
	d->obj = obj;
	d->blkid = blkid;
	d->size = size;
	size_t h = hkey(obj, blkid, ts->drnb);
	d->hnext = ts->drh[h];
	ts->drh[h] = d;
	d->lnext = ts->drs;
	d->lprev = NULL;
	if (ts->drs)
		ts->drs->lprev = d;
	ts->drs = d;
	ts->ndr++;
	ts->bytes += size;
	return d;
}

static void dr_remove(txgstate_t *ts, dr_t *d)
{
	size_t h = hkey(d->obj, d->blkid, ts->drnb);
	dr_t **pp = &ts->drh[h];
	while (*pp != d)
		pp = &(*pp)->hnext;
	*pp = d->hnext;
	if (d->lprev)
		d->lprev->lnext = d->lnext;
	else
		ts->drs = d->lnext;
	if (d->lnext)
		d->lnext->lprev = d->lprev;
	ts->ndr--;
	free(d->data);
	free(d);
}

/*
 * Remove the drs of r's object with block ids in [b0, b1) from ts and
 * return the bytes they held.  r is the object's record in ts.  Every dr
 * is made by dr_get, which raises r->maxblkid to its block id, and
 * r->maxblkid is lowered only after all the object's drs are gone, so
 * they lie in [0, r->maxblkid]: probe those ids when there are fewer of
 * them than drs in the txg (a small file among thousands of dirty
 * blocks), else walk the list.  Either way the cost no longer grows
 * with the size of the txg for every file created or removed.
 */
static uint64_t drop_drs(txgstate_t *ts, const dnrec_t *r, uint64_t b0,
    uint64_t b1)
{
	uint64_t bytes = 0;
	uint64_t hi = CF_MIN(b1, r->maxblkid + 1);
	if (ts->ndr == 0 || b0 >= hi)
		return 0;
	if (hi - b0 <= ts->ndr) {
		for (uint64_t b = b0; b < hi; b++) {
			dr_t *d = dr_find(ts, r->obj, b);
			if (d) {
				bytes += d->size;
				dr_remove(ts, d);
			}
		}
		return bytes;
	}
	for (dr_t *d = ts->drs, *n; d; d = n) {
		n = d->lnext;
		if (d->obj == r->obj && d->blkid >= b0 && d->blkid < b1) {
			bytes += d->size;
			dr_remove(ts, d);
		}
	}
	return bytes;
}

static dnrec_t *rec_find(txgstate_t *ts, uint64_t obj)
{
	if (!ts || !ts->dnnb)
		return NULL;
	for (dnrec_t *r = ts->dnh[hkey(obj, 0, ts->dnnb)]; r; r = r->hnext)
		if (r->obj == obj)
			return r;
	return NULL;
}

static void frange_free_list(frange_t *f)
{
	while (f) {
		frange_t *n = f->next;
		free(f);
		f = n;
	}
}

static int in_frees(const dnrec_t *r, uint64_t blkid)
{
	if (r->freeall)
		return 1;
	for (frange_t *f = r->frees; f; f = f->next)
		if (blkid >= f->start && blkid < f->end)
			return 1;
	return 0;
}

static void ts_clear(txgstate_t *ts)
{
	while (ts->drs)
		dr_remove(ts, ts->drs);
	for (dnrec_t *r = ts->dns, *n; r; r = n) {
		n = r->lnext;
		frange_free_list(r->frees);
		free(r);
	}
	ts->dns = NULL;
	ts->ndn = 0;
	if (ts->dnnb)
		memset(ts->dnh, 0, ts->dnnb * sizeof(*ts->dnh));
	ts->bytes = 0;
	ts->txg = 0;
}

/* ---- dnode cache ---------------------------------------------------------------- */

static void dn_drop_ibufs(dnode_t *dn)
{
	for (size_t i = 0; i < dn->ibnb; i++) {
		ibuf_t *b = dn->ibh[i], *n;
		for (; b; b = n) {
			n = b->hnext;
			free(b);
		}
	}
	free(dn->ibh);
	dn->ibh = NULL;
	dn->ibnb = dn->nib = 0;
}

static int obj_read_block_locked(cf_objset_t *os, uint64_t obj,
    uint64_t blkid, uint8_t *buf, uint32_t size, int unlock_io);

static dnode_t *dn_lookup_cached(cf_objset_t *os, uint64_t obj)
{
	if (obj == 0)
		return &os->meta;
	if (!os->dnnb)
		return NULL;
	for (dnode_t *d = os->dnh[hkey(obj, 0, os->dnnb)]; d; d = d->hnext)
		if (d->obj == obj)
			return d;
	return NULL;
}

/* Get the committed (or being synced) state of obj.  Lock held. */
static int dn_get(cf_objset_t *os, uint64_t obj, dnode_t **out)
{
	dnode_t *dn = dn_lookup_cached(os, obj);
	if (dn) {
		dn->stamp = ++os->stamp;
		*out = dn;
		return 0;
	}
	uint8_t *blk = malloc(CF_DNODE_BLKSZ);
	if (!blk)
		return -ENOMEM;
	uint64_t blkid = obj / CF_DNODES_PER_BLK;
	int err = obj_read_block_locked(os, 0, blkid, blk, CF_DNODE_BLKSZ, 0);
	dn = calloc(1, sizeof(*dn));
	if (!err && !dn)
		err = -ENOMEM;
	if (!err)
		err = cf_dnode_decode(blk + (obj % CF_DNODES_PER_BLK) *
		    CF_DNODE_SIZE, &dn->phys);
	free(blk);
	if (err) {
		free(dn);
		return err;
	}
	dn->obj = obj;
	dn->stamp = ++os->stamp;
	REHASH(dnode_t, os->dnh, os->dnnb, os->ndn, DN_KEY);
	if (!os->dnnb) {
		free(dn);
		return -ENOMEM;
	}
	size_t h = hkey(obj, 0, os->dnnb);
	dn->hnext = os->dnh[h];
	os->dnh[h] = dn;
	os->ndn++;
	*out = dn;
	return 0;
}

/* ---- attributes: newest dirty record, else the dnode ----------------------------- */

typedef struct attrs {
	uint8_t type;
	uint32_t blksz;
	uint16_t bonuslen;
	const uint8_t *bonus;
	uint64_t maxblkid;
} attrs_t;

static txgstate_t *ts_newer(cf_objset_t *os)
{
	return os->ts[0].txg > os->ts[1].txg ? &os->ts[0] : &os->ts[1];
}
static txgstate_t *ts_older(cf_objset_t *os)
{
	return os->ts[0].txg > os->ts[1].txg ? &os->ts[1] : &os->ts[0];
}

static int get_attrs(cf_objset_t *os, uint64_t obj, attrs_t *a)
{
	txgstate_t *order[2] = { ts_newer(os), ts_older(os) };
	for (int i = 0; i < 2; i++) {
		if (!order[i]->txg)
			continue;
		dnrec_t *r = rec_find(order[i], obj);
		if (r) {
			a->type = r->type;
			a->blksz = r->blksz;
			a->bonuslen = r->bonuslen;
			a->bonus = r->bonus;
			a->maxblkid = r->maxblkid;
			return 0;
		}
	}
	dnode_t *dn;
	int err = dn_get(os, obj, &dn);
	if (err)
		return err;
	a->type = dn->phys.type;
	a->blksz = dn->phys.blksz;
	a->bonuslen = dn->phys.bonuslen;
	a->bonus = dn->phys.bonus;
	a->maxblkid = dn->phys.maxblkid;
	return 0;
}

/* The record of obj in tx's txg, created from the newest state. */
static int rec_get(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    dnrec_t **out)
{
	/* An open-context change never meets a newer txg's dirty state
	 * (spa invariant 5): if it did, that newer state, copied before
	 * this change, would lose it when it syncs. */
	const txgstate_t *newer = &os->ts[(tx->txg + 1) & 1];
	if (!tx->synccontext && newer->txg > tx->txg &&
	    (newer->ndr || newer->ndn)) {
		char msg[160];
		snprintf(msg, sizeof(msg), "internal error: a change for txg "
		    "%llu came after txg %llu had changes; refused rather "
		    "than lost", (unsigned long long)tx->txg,
		    (unsigned long long)newer->txg);
		cf_set_errdetail("%s", msg);
		cf_log(COFFER_LOG_ERR, "dmu: %s", msg);
		return -EIO;
	}
	txgstate_t *ts = ts_get(os, tx->txg, 1);
	if (!ts)
		return -EIO;
	dnrec_t *r = rec_find(ts, obj);
	if (r) {
		*out = r;
		return 0;
	}
	attrs_t a;
	int err = get_attrs(os, obj, &a);
	if (err)
		return err;
	REHASH(dnrec_t, ts->dnh, ts->dnnb, ts->ndn, DN_KEY);
	r = calloc(1, sizeof(*r));
	if (!r || !ts->dnnb) {
		free(r);
		return -ENOMEM;
	}
	r->obj = obj;
	r->type = a.type;
	r->blksz = a.blksz;
	r->bonuslen = a.bonuslen;
	memcpy(r->bonus, a.bonus, a.bonuslen);
	r->maxblkid = a.maxblkid;
	size_t h = hkey(obj, 0, ts->dnnb);
	r->hnext = ts->dnh[h];
	ts->dnh[h] = r;
	r->lnext = ts->dns;
	ts->dns = r;
	ts->ndn++;
	if (os->ops && os->ops->dirtied)
		os->ops->dirtied(os->ops_arg, tx->txg);
	*out = r;
	return 0;
}

/* ---- the tree ------------------------------------------------------------------- */

static uint64_t pow_ind(int e)
{
	uint64_t v = 1;
	for (int i = 0; i < e; i++) {
		if (v > UINT64_MAX / CF_IND_BPS)
			return UINT64_MAX;
		v *= CF_IND_BPS;
	}
	return v;
}

/* Blocks addressable by a tree of nlevels. */
static uint64_t capacity(int nlevels)
{
	return pow_ind(nlevels - 1);
}

static ibuf_t *ib_find(dnode_t *dn, int level, uint64_t idx)
{
	if (!dn->ibnb)
		return NULL;
	for (ibuf_t *b = dn->ibh[hkey((uint64_t)level, idx, dn->ibnb)]; b;
	    b = b->hnext)
		if (b->level == level && b->idx == idx)
			return b;
	return NULL;
}

static ibuf_t *ib_insert(dnode_t *dn, int level, uint64_t idx)
{
	REHASH(ibuf_t, dn->ibh, dn->ibnb, dn->nib, IB_KEY);
	if (!dn->ibnb)
		return NULL;
	ibuf_t *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->level = level;
	b->idx = idx;
	size_t h = hkey((uint64_t)level, idx, dn->ibnb);
	b->hnext = dn->ibh[h];
	dn->ibh[h] = b;
	dn->nib++;
	return b;
}

static int ib_decode(const uint8_t *raw, ibuf_t *b)
{
	for (int i = 0; i < CF_IND_BPS; i++) {
		int err = cf_bp_decode(raw + i * CF_BP_SIZE, &b->bps[i]);
		if (err)
			return err;
	}
	return 0;
}

/* The bp that points at indirect (level, idx): in its parent or root. */
static cf_blkptr_t *ib_parent_slot(cf_objset_t *os, dnode_t *dn, int level,
    uint64_t idx, int create, int *err);

/* The detail of a block that failed to read: which block, and what a
 * failure to authenticate or to checksum means. */
static void read_detail(const cf_objset_t *os, int err, const char *what,
    uint64_t obj, uint64_t level, uint64_t idx)
{
	char where[768];

	if (level)
		snprintf(where, sizeof(where), "%s %llu (level %llu) of object "
		    "%llu of '%s'", what, (unsigned long long)idx,
		    (unsigned long long)level, (unsigned long long)obj,
		    os->name);
	else
		snprintf(where, sizeof(where), "%s %llu of object %llu of "
		    "'%s'", what, (unsigned long long)idx,
		    (unsigned long long)obj, os->name);
	if (err == COFFER_EAUTH)
		cf_set_errdetail("%s does not authenticate: altered, moved or "
		    "rolled back on the device", where);
	else if (err == COFFER_ECORRUPT)
		cf_set_errdetail("%s: every copy fails its checksum", where);
}

/* Load (or create) the indirect block (level, idx).  Lock held. */
static ibuf_t *ib_get(cf_objset_t *os, dnode_t *dn, int level, uint64_t idx,
    int create, int *err)
{
	ibuf_t *b = ib_find(dn, level, idx);
	if (b)
		return b;
	cf_blkptr_t *slot = ib_parent_slot(os, dn, level, idx, create, err);
	if (!slot)
		return NULL;
	cf_blkptr_t bp = *slot;
	if (cf_bp_is_hole(&bp) && !create)
		return NULL;
	b = ib_insert(dn, level, idx);
	if (!b) {
		*err = -ENOMEM;
		return NULL;
	}
	if (!cf_bp_is_hole(&bp)) {
		uint8_t *raw = malloc(CF_IND_BLKSZ);
		if (!raw) {
			*err = -ENOMEM;
			return NULL;
		}
		if (bp.lsize != CF_IND_BLKSZ || bp.level != level)
			*err = CF_CORRUPT();
		else
			*err = cf_block_read_cs(os->spa, &bp, raw, os->cs, 0);
		if (*err == COFFER_ECORRUPT && os->encrypted)
			*err = COFFER_EAUTH;
		if (!*err)
			*err = ib_decode(raw, b);
		if (!*err && os->encrypted) {
			/* the Merkle tree of MACs: this block's children */
			uint8_t mac[16];
			cf_block_ind_mac(b->bps, CF_IND_BPS, mac);
			if (!cf_ct_equal(mac, bp.mac, 16))
				*err = COFFER_EAUTH;
		}
		free(raw);
		if (*err)
			read_detail(os, *err, "indirect block", dn->obj,
			    (uint64_t)level, idx);
		if (*err) {
			/* leave no half-decoded block behind */
			memset(b->bps, 0, sizeof(b->bps));
			size_t h = hkey((uint64_t)level, idx, dn->ibnb);
			ibuf_t **pp = &dn->ibh[h];
			while (*pp != b)
				pp = &(*pp)->hnext;
			*pp = b->hnext;
			dn->nib--;
			free(b);
			return NULL;
		}
	}
	return b;
}

static cf_blkptr_t *ib_parent_slot(cf_objset_t *os, dnode_t *dn, int level,
    uint64_t idx, int create, int *err)
{
	int top = dn->phys.nlevels - 1;
	if (level == top)
		return idx == 0 ? &dn->phys.root : NULL;
	ibuf_t *p = ib_get(os, dn, level + 1, idx / CF_IND_BPS, create, err);
	if (!p)
		return NULL;
	return &p->bps[idx % CF_IND_BPS];
}

/* Find the bp of data block blkid (a zeroed hole when absent). */
static int bp_lookup(cf_objset_t *os, dnode_t *dn, uint64_t blkid,
    cf_blkptr_t *bp)
{
	memset(bp, 0, sizeof(*bp));
	if (blkid >= capacity(dn->phys.nlevels))
		return 0;
	if (dn->phys.nlevels == 1) {
		*bp = dn->phys.root;
		return 0;
	}
	int err = 0;
	ibuf_t *b = ib_get(os, dn, 1, blkid / CF_IND_BPS, 0, &err);
	if (!b)
		return err;
	*bp = b->bps[blkid % CF_IND_BPS];
	return 0;
}

/* ---- reading -------------------------------------------------------------------- */

/*
 * Newest contents of one block into buf (size bytes).  Lock held on entry
 * and exit; with unlock_io the lock is dropped around the device read.
 */
static int obj_read_block_locked(cf_objset_t *os, uint64_t obj,
    uint64_t blkid, uint8_t *buf, uint32_t size, int unlock_io)
{
	txgstate_t *order[2] = { ts_newer(os), ts_older(os) };
	for (int i = 0; i < 2; i++) {
		if (!order[i]->txg)
			continue;
		dr_t *d = dr_find(order[i], obj, blkid);
		if (d) {
			uint32_t n = CF_MIN(size, d->size);
			memcpy(buf, d->data, n);
			memset(buf + n, 0, size - n);
			return 0;
		}
		dnrec_t *r = rec_find(order[i], obj);
		if (r && in_frees(r, blkid)) {
			memset(buf, 0, size);
			return 0;
		}
	}
	dnode_t *dn;
	int err = dn_get(os, obj, &dn);
	if (err)
		return err;
	cf_blkptr_t bp;
	err = bp_lookup(os, dn, blkid, &bp);
	if (err)
		return err;
	if (cf_bp_is_hole(&bp)) {
		memset(buf, 0, size);
		return 0;
	}
	if (bp.level != 0 || bp.lsize > CF_MAX_BLKSZ)
		return CF_CORRUPT();
	uint8_t *tmp = buf;
	if (bp.lsize != size) {
		tmp = malloc(bp.lsize);
		if (!tmp)
			return -ENOMEM;
	}
	if (unlock_io)
		pthread_mutex_unlock(&os->lock);
	err = cf_block_read_cs(os->spa, &bp, tmp, os->cs,
	    obj == 0 && os->raw ? CF_RD_STRUCT : 0);
	/* in an encrypted set, a block that cannot be verified is an
	 * authentication failure: nothing unauthenticated is returned */
	if (err == COFFER_ECORRUPT && os->encrypted)
		err = COFFER_EAUTH;
	if (unlock_io)
		pthread_mutex_lock(&os->lock);
	if (tmp != buf) {
		if (!err) {
			uint32_t n = CF_MIN(size, bp.lsize);
			memcpy(buf, tmp, n);
			memset(buf + n, 0, size - n);
		}
		free(tmp);
	}
	if (err && err != COFFER_ENOKEY) {
		cf_log(COFFER_LOG_ERR, "%s: object %llu block %llu: %s",
		    os->name, (unsigned long long)obj,
		    (unsigned long long)blkid, coffer_strerror(err));
		read_detail(os, err, "block", obj, 0, blkid);
	}
	return err;
}

int cf_obj_read(cf_objset_t *os, uint64_t obj, uint64_t off, uint64_t len,
    void *buf)
{
	uint8_t *out = buf;
	int err = 0;
	uint64_t end;
	if (cf_add_overflows(off, len, &end))
		return -EINVAL;
	pthread_mutex_lock(&os->lock);
	attrs_t a;
	err = get_attrs(os, obj, &a);
	if (!err && a.type == CF_OT_NONE)
		err = -ENOENT;
	if (err) {
		pthread_mutex_unlock(&os->lock);
		return err;
	}
	uint32_t bs = a.blksz;
	uint8_t *blk = NULL;
	while (off < end && !err) {
		uint64_t blkid = off / bs;
		uint32_t boff = (uint32_t)(off % bs);
		uint32_t n = (uint32_t)CF_MIN((uint64_t)bs - boff, end - off);
		if (boff == 0 && n == bs) {
			err = obj_read_block_locked(os, obj, blkid, out, bs, 1);
		} else {
			if (!blk && !(blk = malloc(bs))) {
				err = -ENOMEM;
				break;
			}
			err = obj_read_block_locked(os, obj, blkid, blk, bs, 1);
			if (!err)
				memcpy(out, blk + boff, n);
		}
		/* the block size may change while unlocked (a file growing
		 * past its first block); restart with the new size */
		attrs_t a2;
		if (!err && !get_attrs(os, obj, &a2) && a2.blksz != bs) {
			free(blk);
			blk = NULL;
			pthread_mutex_unlock(&os->lock);
			return cf_obj_read(os, obj, off, end - off, out);
		}
		off += n;
		out += n;
	}
	pthread_mutex_unlock(&os->lock);
	free(blk);
	return err;
}

/* ---- writing -------------------------------------------------------------------- */

static void tx_dirty(cf_tx_t *tx, uint64_t bytes)
{
	tx->dirtied += bytes ? bytes : 1;
}

/*
 * A hard error (I/O, corruption, memory) after the tx already changed
 * something would leave the change half made in its txg: poison the txg
 * so that it never commits (LMDB's sticky failed transaction).
 */
static int tx_check(cf_objset_t *os, cf_tx_t *tx, int err)
{
	if (err && tx->dirtied && !tx->synccontext &&
	    (err == -EIO || err == -ENOMEM || err == COFFER_ECORRUPT ||
	    err == COFFER_EAUTH || err == COFFER_EDEVICE))
		cf_spa_poison(os->spa, err);
	return err;
}

/* The dr of (obj, blkid) in tx's txg, created from the newest contents
 * unless `whole` (the caller overwrites all of it).  Lock held. */
static int dr_get(cf_objset_t *os, cf_tx_t *tx, dnrec_t *r, uint64_t blkid,
    int whole, dr_t **out)
{
	txgstate_t *ts = ts_get(os, tx->txg, 1);
	if (!ts)
		return -EIO;
	dr_t *d = dr_find(ts, r->obj, blkid);
	if (d) {
		if (d->size != r->blksz) {
			uint8_t *nd = realloc(d->data, r->blksz);
			if (!nd)
				return -ENOMEM;
			if (r->blksz > d->size)
				memset(nd + d->size, 0, r->blksz - d->size);
			d->data = nd;
			d->size = r->blksz;
		}
		*out = d;
		return 0;
	}
	uint8_t *tmp = NULL;
	if (!whole) {
		tmp = malloc(r->blksz);
		if (!tmp)
			return -ENOMEM;
		/* no unlock: another writer could create the same dr */
		int err = obj_read_block_locked(os, r->obj, blkid, tmp,
		    r->blksz, 0);
		if (err) {
			free(tmp);
			return err;
		}
	}
	d = dr_insert(ts, r->obj, blkid, r->blksz);
	if (!d) {
		free(tmp);
		return -ENOMEM;
	}
	if (tmp)
		memcpy(d->data, tmp, r->blksz);
	free(tmp);
	tx_dirty(tx, r->blksz);
	r->dirtybytes += r->blksz;
	if (blkid > r->maxblkid)
		r->maxblkid = blkid;
	*out = d;
	return 0;
}

static int check_writable(cf_objset_t *os)
{
	return os->set.readonly ? COFFER_EREADONLY : 0;
}

int cf_obj_write(cf_objset_t *os, cf_tx_t *tx, uint64_t obj, uint64_t off,
    uint64_t len, const void *buf)
{
	const uint8_t *in = buf;
	uint64_t end;
	int err = check_writable(os);
	if (err)
		return err;
	if (os->raw)
		return -EINVAL;         /* only stored blocks: cf_obj_write_raw */
	if (cf_add_overflows(off, len, &end))
		return -EFBIG;
	pthread_mutex_lock(&os->lock);
	dnrec_t *r;
	err = rec_get(os, tx, obj, &r);
	if (!err && r->type == CF_OT_NONE)
		err = -ENOENT;
	if (!err && end > 0 && (end - 1) / r->blksz >= capacity(CF_MAX_LEVELS))
		err = -EFBIG;
	while (!err && off < end) {
		uint64_t blkid = off / r->blksz;
		uint32_t boff = (uint32_t)(off % r->blksz);
		uint32_t n = (uint32_t)CF_MIN((uint64_t)r->blksz - boff,
		    end - off);
		dr_t *d;
		err = dr_get(os, tx, r, blkid, boff == 0 && n == r->blksz, &d);
		if (err)
			break;
		memcpy(d->data + boff, in, n);
		off += n;
		in += n;
	}
	pthread_mutex_unlock(&os->lock);
	return tx_check(os, tx, err);
}

static int add_frange(dnrec_t *r, uint64_t start, uint64_t end)
{
	frange_t *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->start = start;
	f->end = end;
	f->next = r->frees;
	r->frees = f;
	return 0;
}

int cf_obj_free_range(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    uint64_t off, uint64_t len)
{
	int err = check_writable(os);
	if (err)
		return err;
	pthread_mutex_lock(&os->lock);
	dnrec_t *r;
	err = rec_get(os, tx, obj, &r);
	if (!err && r->type == CF_OT_NONE)
		err = -ENOENT;
	if (err)
		goto out;
	uint64_t bs = r->blksz;
	uint64_t end = (len == UINT64_MAX || off + len < off) ? UINT64_MAX :
	    off + len;
	/* partial head and tail are zeroed as writes */
	if (off % bs) {
		uint64_t hend = CF_MIN(CF_ROUNDUP(off, bs), end);
		if (off / bs <= r->maxblkid) {
			dr_t *d;
			err = dr_get(os, tx, r, off / bs, 0, &d);
			if (err)
				goto out;
			memset(d->data + off % bs, 0, hend - off);
		}
		off = hend;
	}
	if (end != UINT64_MAX && end % bs && end > off) {
		uint64_t tstart = end - end % bs;
		if (tstart / bs <= r->maxblkid) {
			dr_t *d;
			err = dr_get(os, tx, r, tstart / bs, 0, &d);
			if (err)
				goto out;
			memset(d->data, 0, end - tstart);
		}
		end = tstart;
	}
	if (off >= end)
		goto out;
	uint64_t b0 = off / bs;
	uint64_t b1 = end == UINT64_MAX ? UINT64_MAX : end / bs;
	uint64_t gone = drop_drs(ts_get(os, tx->txg, 1), r, b0, b1);
	r->dirtybytes -= CF_MIN(r->dirtybytes, gone);
	err = add_frange(r, b0, b1);
	tx_dirty(tx, 0);
out:
	pthread_mutex_unlock(&os->lock);
	return tx_check(os, tx, err);
}

/*
 * Make r a new object of `type` (CF_OT_NONE: a freed one) in tx's txg:
 * its blocks of this txg dropped, attributes reset, the whole tree to be
 * freed at sync.  Lock held.
 */
static void rec_renew(cf_objset_t *os, cf_tx_t *tx, dnrec_t *r, int type,
    uint32_t blksz)
{
	(void)drop_drs(ts_get(os, tx->txg, 1), r, 0, UINT64_MAX);
	r->type = (uint8_t)type;
	r->blksz = blksz;
	r->bonuslen = 0;
	memset(r->bonus, 0, sizeof(r->bonus));
	r->maxblkid = 0;
	r->nlevels = 0;
	r->freeall = 1;
	r->dirtybytes = 0;
	frange_free_list(r->frees);
	r->frees = NULL;
	tx_dirty(tx, CF_DNODE_SIZE);
}

int cf_obj_alloc(cf_objset_t *os, cf_tx_t *tx, int type, uint32_t blksz,
    uint64_t *objp)
{
	int err = check_writable(os);
	if (err)
		return err;
	if (type <= CF_OT_META_DNODE || type >= CF_OT_MAX)
		return -EINVAL;
	if (blksz == 0)
		blksz = os->set.recordsize ? os->set.recordsize : 131072;
	if (blksz < CF_MIN_BLKSZ || blksz > CF_MAX_BLKSZ ||
	    blksz % CF_MIN_BLKSZ)
		return -EINVAL;
	pthread_mutex_lock(&os->lock);
	for (;;) {
		uint64_t obj = os->next_obj++;
		attrs_t a;
		err = get_attrs(os, obj, &a);
		if (err)
			break;
		if (a.type != CF_OT_NONE)
			continue;
		dnrec_t *r;
		err = rec_get(os, tx, obj, &r);
		if (err)
			break;
		rec_renew(os, tx, r, type, blksz);
		*objp = obj;
		break;
	}
	pthread_mutex_unlock(&os->lock);
	return tx_check(os, tx, err);
}

int cf_obj_claim(cf_objset_t *os, cf_tx_t *tx, uint64_t obj, int type,
    uint32_t blksz)
{
	int err = check_writable(os);
	if (err)
		return err;
	if (obj == 0 || obj >= (1ULL << 48) || type <= CF_OT_META_DNODE ||
	    type >= CF_OT_MAX || blksz < CF_MIN_BLKSZ ||
	    blksz > CF_MAX_BLKSZ || blksz % CF_MIN_BLKSZ)
		return -EINVAL;
	pthread_mutex_lock(&os->lock);
	dnrec_t *r;
	err = rec_get(os, tx, obj, &r);
	if (!err && r->type != CF_OT_NONE)
		err = -EEXIST;
	if (!err) {
		rec_renew(os, tx, r, type, blksz);
		if (obj >= os->next_obj)
			os->next_obj = obj + 1;
	}
	pthread_mutex_unlock(&os->lock);
	return tx_check(os, tx, err);
}

int cf_obj_free(cf_objset_t *os, cf_tx_t *tx, uint64_t obj)
{
	int err = check_writable(os);
	if (err)
		return err;
	if (obj == 0)
		return -EINVAL;
	pthread_mutex_lock(&os->lock);
	dnrec_t *r;
	err = rec_get(os, tx, obj, &r);
	if (!err && r->type == CF_OT_NONE)
		err = -ENOENT;
	if (!err)
		rec_renew(os, tx, r, CF_OT_NONE, r->blksz);
	pthread_mutex_unlock(&os->lock);
	return tx_check(os, tx, err);
}

int cf_obj_info(cf_objset_t *os, uint64_t obj, cf_objinfo_t *info)
{
	pthread_mutex_lock(&os->lock);
	attrs_t a;
	int err = get_attrs(os, obj, &a);
	if (!err && a.type == CF_OT_NONE)
		err = -ENOENT;
	if (!err) {
		dnode_t *dn;
		memset(info, 0, sizeof(*info));
		info->type = a.type;
		info->blksz = a.blksz;
		info->maxblkid = a.maxblkid;
		info->bonuslen = a.bonuslen;
		if (dn_get(os, obj, &dn) == 0) {
			info->nlevels = dn->phys.nlevels;
			info->used = dn->phys.used;
		}
		/* changes not yet synced: an estimate, as st_blocks is */
		txgstate_t *order[2] = { ts_older(os), ts_newer(os) };
		for (int i = 0; i < 2; i++) {
			dnrec_t *r = order[i]->txg ? rec_find(order[i], obj) :
			    NULL;
			if (!r)
				continue;
			if (r->freeall)
				info->used = 0;
			uint64_t nblk = r->maxblkid + 1;
			for (frange_t *f = r->frees; f; f = f->next) {
				uint64_t e = CF_MIN(f->end, nblk);
				if (e > f->start)
					info->used -= info->used *
					    (e - f->start) / nblk;
			}
			info->used += r->dirtybytes;
		}
	}
	pthread_mutex_unlock(&os->lock);
	return err;
}

int cf_obj_set_blksz(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    uint32_t blksz)
{
	int err = check_writable(os);
	if (err)
		return err;
	if (blksz < CF_MIN_BLKSZ || blksz > CF_MAX_BLKSZ ||
	    blksz % CF_MIN_BLKSZ)
		return -EINVAL;
	pthread_mutex_lock(&os->lock);
	dnrec_t *r;
	err = rec_get(os, tx, obj, &r);
	if (!err && r->type == CF_OT_NONE)
		err = -ENOENT;
	if (!err && r->blksz != blksz) {
		if (r->maxblkid > 0) {
			err = -EINVAL;
		} else {
			/* carry block 0 over at the new size */
			uint8_t *tmp = malloc(CF_MAX(blksz, r->blksz));
			if (!tmp) {
				err = -ENOMEM;
			} else {
				err = obj_read_block_locked(os, obj, 0, tmp,
				    r->blksz, 0);
				if (!err) {
					if (blksz > r->blksz)
						memset(tmp + r->blksz, 0,
						    blksz - r->blksz);
					r->blksz = blksz;
					dr_t *d;
					err = dr_get(os, tx, r, 0, 1, &d);
					if (!err)
						memcpy(d->data, tmp, blksz);
				}
				free(tmp);
			}
		}
	}
	pthread_mutex_unlock(&os->lock);
	return tx_check(os, tx, err);
}

int cf_bonus_read(cf_objset_t *os, uint64_t obj, void *buf, size_t cap)
{
	pthread_mutex_lock(&os->lock);
	attrs_t a;
	int err = get_attrs(os, obj, &a);
	if (!err && a.type == CF_OT_NONE)
		err = -ENOENT;
	if (!err) {
		memcpy(buf, a.bonus, CF_MIN(cap, a.bonuslen));
		err = a.bonuslen;
	}
	pthread_mutex_unlock(&os->lock);
	return err;
}

int cf_bonus_write(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    const void *buf, size_t len)
{
	int err = check_writable(os);
	if (err)
		return err;
	if (len > CF_BONUS_MAX)
		return -EINVAL;
	pthread_mutex_lock(&os->lock);
	dnrec_t *r;
	err = rec_get(os, tx, obj, &r);
	if (!err && r->type == CF_OT_NONE)
		err = -ENOENT;
	if (!err) {
		if (len)
			memcpy(r->bonus, buf, len);
		r->bonuslen = (uint16_t)len;
		tx_dirty(tx, 0);
	}
	pthread_mutex_unlock(&os->lock);
	return tx_check(os, tx, err);
}

/* ---- raw receive ---------------------------------------------------------------- */

static int grow_levels(cf_objset_t *os, dnode_t *dn, uint64_t blkid);

void cf_os_set_raw(cf_objset_t *os)
{
	pthread_mutex_lock(&os->lock);
	os->raw = 1;
	os->encrypted = 1;
	pthread_mutex_unlock(&os->lock);
}

int cf_os_raw_root(cf_objset_t *os, cf_tx_t *tx, const uint8_t mac[32],
    uint64_t mac_txg, int meta_nlevels, uint64_t meta_maxblkid)
{
	if (!os->raw || meta_nlevels < 1 || meta_nlevels > CF_MAX_LEVELS ||
	    meta_maxblkid >= capacity(meta_nlevels))
		return -EINVAL;
	pthread_mutex_lock(&os->lock);
	dnrec_t *r0;
	int err = rec_get(os, tx, 0, &r0);     /* dirties the set */
	if (!err && meta_nlevels > os->meta.phys.nlevels)
		err = grow_levels(os, &os->meta, capacity(meta_nlevels - 1));
	if (!err) {
		if (meta_maxblkid > os->meta.phys.maxblkid)
			os->meta.phys.maxblkid = meta_maxblkid;
		if (meta_maxblkid > r0->maxblkid)
			r0->maxblkid = meta_maxblkid;
		memcpy(os->mac, mac, 32);
		os->mac_txg = mac_txg;
		tx_dirty(tx, 0);
	}
	pthread_mutex_unlock(&os->lock);
	return tx_check(os, tx, err);
}

/* The attributes a raw dnode carries beyond cf_obj_claim's. */
static int raw_attrs(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    const cf_dnode_phys_t *dn)
{
	pthread_mutex_lock(&os->lock);
	dnrec_t *r;
	int err = rec_get(os, tx, obj, &r);
	if (!err && r->type == CF_OT_NONE)
		err = -ENOENT;
	if (!err) {
		memset(r->bonus, 0, sizeof(r->bonus));
		memcpy(r->bonus, dn->bonus, dn->bonuslen);
		r->bonuslen = dn->bonuslen;
		r->nlevels = dn->nlevels;
		/* blocks of this txg past the new end go (drop_drs relies on
		 * none lying past maxblkid) */
		(void)drop_drs(ts_get(os, tx->txg, 1), r, dn->maxblkid + 1,
		    UINT64_MAX);
		r->maxblkid = dn->maxblkid;
		tx_dirty(tx, 0);
	}
	pthread_mutex_unlock(&os->lock);
	return err;
}

int cf_os_raw_dnblock(cf_objset_t *os, cf_tx_t *tx, uint64_t blkid,
    const uint8_t *image, const cf_blkptr_t *seal)
{
	if (!os->raw)
		return -EINVAL;
	int err = check_writable(os);
	for (int i = 0; i < CF_DNODES_PER_BLK && !err; i++) {
		uint64_t obj = blkid * CF_DNODES_PER_BLK + (uint64_t)i;
		cf_dnode_phys_t dn;
		err = cf_dnode_decode(image + i * CF_DNODE_SIZE, &dn);
		if (err)
			return -EINVAL;
		if (obj == 0) {
			if (dn.type != CF_OT_NONE)
				return -EINVAL;
			continue;
		}
		cf_objinfo_t info;
		int have = cf_obj_info(os, obj, &info);
		if (have != 0 && have != -ENOENT)
			return have;
		if (dn.type == CF_OT_NONE) {
			if (have == 0)
				err = cf_obj_free(os, tx, obj);
			continue;
		}
		if (dn.type <= CF_OT_META_DNODE || dn.type >= CF_OT_MAX ||
		    dn.maxblkid >= capacity(dn.nlevels))
			return -EINVAL;
		if (have == 0 && (info.type != dn.type ||
		    info.blksz != dn.blksz)) {
			err = cf_obj_free(os, tx, obj);
			have = -ENOENT;
		}
		if (!err && have == -ENOENT)
			err = cf_obj_claim(os, tx, obj, dn.type, dn.blksz);
		if (!err)
			err = raw_attrs(os, tx, obj, &dn);
	}
	if (err)
		return err;
	pthread_mutex_lock(&os->lock);
	dnrec_t *r0;
	dr_t *d;
	err = rec_get(os, tx, 0, &r0);
	if (!err)
		err = dr_get(os, tx, r0, blkid, 0, &d);
	if (!err) {
		d->has_seal = 1;
		d->tmpl = *seal;
	}
	pthread_mutex_unlock(&os->lock);
	return tx_check(os, tx, err);
}

int cf_obj_write_raw(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    uint64_t blkid, const cf_blkptr_t *tmpl, const void *data,
    uint32_t psize)
{
	int err = check_writable(os);
	if (err)
		return err;
	if (psize == 0 || psize > tmpl->lsize || tmpl->level != 0)
		return -EINVAL;
	pthread_mutex_lock(&os->lock);
	dnrec_t *r;
	err = rec_get(os, tx, obj, &r);
	if (!err && r->type == CF_OT_NONE)
		err = -ENOENT;
	if (!err && (tmpl->lsize != r->blksz ||
	    blkid >= capacity(CF_MAX_LEVELS)))
		err = -EINVAL;
	txgstate_t *ts = err ? NULL : ts_get(os, tx->txg, 1);
	if (!err && !ts)
		err = -EIO;
	dr_t *d = err ? NULL : dr_find(ts, obj, blkid);
	if (!err && d) {
		uint8_t *nd = realloc(d->data, psize);
		if (!nd) {
			err = -ENOMEM;
		} else {
			ts->bytes -= CF_MIN(ts->bytes, d->size);
			ts->bytes += psize;
			d->data = nd;
			d->size = psize;
		}
	} else if (!err) {
		d = dr_insert(ts, obj, blkid, psize);
		if (!d)
			err = -ENOMEM;
	}
	if (!err) {
		memcpy(d->data, data, psize);
		d->raw = 1;
		d->tmpl = *tmpl;
		tx_dirty(tx, psize);
		r->dirtybytes += psize;
		if (blkid > r->maxblkid)
			r->maxblkid = blkid;
	}
	pthread_mutex_unlock(&os->lock);
	return tx_check(os, tx, err);
}

int cf_obj_next(cf_objset_t *os, uint64_t *obj)
{
	int err = -ENOENT;
	pthread_mutex_lock(&os->lock);
	for (uint64_t o = *obj + 1; o < os->next_obj; o++) {
		attrs_t a;
		int e = get_attrs(os, o, &a);
		if (e) {
			err = e;
			break;
		}
		if (a.type != CF_OT_NONE) {
			*obj = o;
			err = 0;
			break;
		}
	}
	pthread_mutex_unlock(&os->lock);
	return err;
}

uint32_t cf_os_recordsize(cf_objset_t *os)
{
	return os->set.recordsize ? os->set.recordsize : 131072;
}

int cf_os_readonly(cf_objset_t *os)
{
	return os->set.readonly;
}

const char *cf_os_name(cf_objset_t *os)
{
	return os->name;
}

cf_spa_t *cf_os_spa(cf_objset_t *os)
{
	return os->spa;
}

int cf_os_type(cf_objset_t *os)
{
	return os->type;
}

uint64_t cf_os_mac_txg(cf_objset_t *os)
{
	return os->mac_txg;
}

void cf_os_mac(cf_objset_t *os, uint8_t mac[32], uint64_t *txg)
{
	pthread_mutex_lock(&os->lock);
	memcpy(mac, os->mac, 32);
	*txg = os->mac_txg;
	pthread_mutex_unlock(&os->lock);
}


void cf_os_set_settings(cf_objset_t *os, const cf_os_settings_t *s)
{
	pthread_mutex_lock(&os->lock);
	os->set = *s;
	pthread_mutex_unlock(&os->lock);
}

void cf_os_set_name(cf_objset_t *os, const char *name)
{
	pthread_mutex_lock(&os->lock);
	cf_strlcpy(os->name, name, sizeof(os->name));
	pthread_mutex_unlock(&os->lock);
}

/* ---- transactions --------------------------------------------------------------- */

/*
 * The txs this thread holds.  A tx begun inside another joins the outer
 * one's txg: waiting for the open txg would wait for the outer tx to end
 * (spa invariant 5), that is forever.  A thread holds txs of one pool at
 * a time: two threads each holding a tx of one pool and beginning one
 * of the other would wait for each other at the next sync.
 */
static _Thread_local struct {
	cf_spa_t *spa;
	uint64_t txg;
	unsigned n;
} tx_held;

int cf_tx_begin(cf_objset_t *os, uint64_t space, cf_tx_t **txp)
{
	if (os->set.readonly)
		return COFFER_EREADONLY;
	if (tx_held.n && tx_held.spa != os->spa) {
		cf_set_errdetail("a transaction of another pool is open in "
		    "this thread");
		return -EDEADLK;
	}
	cf_tx_t *tx = calloc(1, sizeof(*tx));
	if (!tx)
		return -ENOMEM;
	/* metadata and copies: charge a margin on the estimate;
	 * 0: a change that frees space (never refused for it) */
	uint64_t est = space ? space + space / 4 + 65536 : 0;
	int err;
	if (tx_held.n) {
		/* nested: the outer tx's txg, which it holds */
		err = cf_spa_tx_rehold(os->spa, tx_held.txg, est);
	} else {
		err = cf_spa_tx_hold(os->spa, est, &tx_held.txg);
		tx_held.spa = os->spa;
	}
	if (err) {
		free(tx);
		return err;
	}
	tx_held.n++;
	tx->txg = tx_held.txg;
	tx->os = os;
	*txp = tx;
	return 0;
}

void cf_tx_end(cf_tx_t *tx)
{
	if (!tx)
		return;
	if (!tx->synccontext) {
		tx_held.n--;
		cf_spa_tx_rele(tx->os->spa, tx->txg, tx->dirtied);
		free(tx);
	}
}

uint64_t cf_tx_txg(const cf_tx_t *tx)
{
	return tx->txg;
}

void cf_tx_sync_init(cf_tx_t *tx, cf_objset_t *os, uint64_t txg)
{
	memset(tx, 0, sizeof(*tx));
	tx->os = os;
	tx->txg = txg;
	tx->synccontext = 1;
}

/* ---- open and close -------------------------------------------------------------- */

int cf_os_open(cf_spa_t *spa, const cf_blkptr_t *root, int os_type,
    const cf_os_settings_t *s, const cf_os_ops_t *ops, void *ops_arg,
    const char *name, cf_objset_t **out)
{
	return cf_os_open_crypt(spa, root, os_type, s, ops, ops_arg, name,
	    NULL, out);
}

int cf_os_open_crypt(cf_spa_t *spa, const cf_blkptr_t *root, int os_type,
    const cf_os_settings_t *s, const cf_os_ops_t *ops, void *ops_arg,
    const char *name, const cf_cryptset_t *cs, cf_objset_t **out)
{
	cf_objset_t *os = calloc(1, sizeof(*os));
	if (!os)
		return -ENOMEM;
	os->spa = spa;
	os->type = os_type;
	os->set = *s;
	os->ops = ops;
	os->ops_arg = ops_arg;
	cf_strlcpy(os->name, name ? name : "", sizeof(os->name));
	pthread_mutex_init(&os->lock, NULL);
	os->rootbp = *root;
	os->cs = cs;
	if (cs)
		os->encrypted = 1;
	if (cf_bp_is_hole(root)) {
		os->meta.phys.type = CF_OT_META_DNODE;
		os->meta.phys.nlevels = 1;
		os->meta.phys.blksz = CF_DNODE_BLKSZ;
	} else {
		uint8_t *buf = malloc(CF_OBJSET_PHYS_SIZE);
		cf_objset_phys_t p;
		int err = buf ? 0 : -ENOMEM;
		if (!err && (root->lsize != CF_OBJSET_PHYS_SIZE ||
		    root->type != CF_OT_OBJSET))
			err = CF_CORRUPT();
		if (!err)
			err = cf_block_read(spa, root, buf);
		if (!err)
			err = cf_osphys_decode(buf, &p);
		if (!err && (int)p.type != os_type)
			err = CF_CORRUPT();
		if (err == COFFER_ECORRUPT && cs)
			err = COFFER_EAUTH;
		if (!err && (p.flags & CF_OSF_MAC))
			os->encrypted = 1;
		if (!err && cs && !(p.flags & CF_OSF_MAC))
			err = COFFER_EAUTH;     /* an encrypted set lost its MAC */
		if (!err && cs) {
			uint8_t mac[32];
			err = cf_osphys_mac(buf, cs->guid, p.mac_txg, cs->hmac,
			    mac);
			if (!err && !cf_ct_equal(mac, p.mac, 32))
				err = COFFER_EAUTH;
		}
		os->mac_txg = p.mac_txg;
		memcpy(os->mac, p.mac, 32);
		free(buf);
		if (err) {
			pthread_mutex_destroy(&os->lock);
			free(os);
			return err;
		}
		os->meta.phys = p.meta;
		if (os->meta.phys.type == CF_OT_NONE) {
			os->meta.phys.type = CF_OT_META_DNODE;
			os->meta.phys.nlevels = 1;
			os->meta.phys.blksz = CF_DNODE_BLKSZ;
		}
	}
	os->next_obj = (os->meta.phys.maxblkid + 1) * CF_DNODES_PER_BLK;
	if (cf_bp_is_hole(&os->meta.phys.root))
		os->next_obj = 1;
	*out = os;
	return 0;
}

void cf_os_close(cf_objset_t *os)
{
	if (!os)
		return;
	for (int i = 0; i < 2; i++) {
		ts_clear(&os->ts[i]);
		free(os->ts[i].drh);
		free(os->ts[i].dnh);
	}
	for (size_t i = 0; i < os->dnnb; i++) {
		dnode_t *d = os->dnh[i], *n;
		for (; d; d = n) {
			n = d->hnext;
			dn_drop_ibufs(d);
			free(d);
		}
	}
	free(os->dnh);
	dn_drop_ibufs(&os->meta);
	pthread_mutex_destroy(&os->lock);
	free(os);
}

int cf_os_dirty(cf_objset_t *os, uint64_t txg)
{
	pthread_mutex_lock(&os->lock);
	txgstate_t *ts = &os->ts[txg & 1];
	int d = ts->txg == txg && (ts->ndr || ts->ndn);
	pthread_mutex_unlock(&os->lock);
	return d;
}

/* ---- sync --------------------------------------------------------------------------- */

typedef struct syncctx {
	cf_objset_t *os;
	uint64_t txg;
	int pass;
} syncctx_t;

static int is_data_type(int type)
{
	return type == CF_OT_FILE || type == CF_OT_VOLUME ||
	    type == CF_OT_XATTR_VALUE;
}

static void wprops(cf_objset_t *os, int type, int level, int pass,
    cf_wprops_t *wp)
{
	memset(wp, 0, sizeof(*wp));
	wp->type = (uint8_t)type;
	wp->level = (uint8_t)level;
	wp->comp = os->set.comp;
	wp->comp_level = os->set.comp_level;
	wp->cksum = os->set.cksum ? os->set.cksum : CF_CKSUM_FLETCHER4;
	int copies = os->set.copies ? os->set.copies : 1;
	if (level > 0 || !is_data_type(type))
		copies = CF_MIN(CF_MAX_COPIES, CF_MAX(2, copies + 1));
	wp->copies = (uint8_t)copies;
	if (level > 0 || !is_data_type(type)) {
		/* metadata is always compressed with lz4 (but the contents
		 * of an encrypted set follow its compression property: with
		 * compression=off nothing secret is compressed) ... */
		if (!(os->encrypted && level == 0 && os->set.comp == CF_COMP_OFF
		    && type != CF_OT_OBJSET)) {
			wp->comp = CF_COMP_LZ4;
			wp->comp_level = 0;
		}
	}
	/* ... except late in a sync, so that the passes converge (a block
	 * rewritten at its own size is rewritten in place) */
	if (pass > 3)
		wp->comp = CF_COMP_OFF;
	if (os->encrypted && level == 0 && type != CF_OT_OBJSET) {
		wp->crypt = type == CF_OT_META_DNODE ? CF_CRYPT_DNODE :
		    CF_CRYPT_DATA;
		wp->cs = os->cs;
	}
}

/* Replace *slot by nbp with the accounting of invariant 3. */
static void replace_bp(cf_objset_t *os, cf_blkptr_t *slot,
    const cf_blkptr_t *nbp, uint64_t txg)
{
	cf_blkptr_t old = *slot;
	*slot = *nbp;
	if (!cf_bp_is_hole(&old)) {
		if (old.birth == txg) {
			if (os->ops && os->ops->unborn)
				os->ops->unborn(os->ops_arg, &old, txg);
		} else if (os->ops && os->ops->kill) {
			os->ops->kill(os->ops_arg, &old, txg);
		}
	}
	if (!cf_bp_is_hole(nbp) && os->ops && os->ops->born)
		os->ops->born(os->ops_arg, nbp, txg);
}

static void used_adjust(dnode_t *dn, const cf_blkptr_t *old,
    const cf_blkptr_t *nbp)
{
	dn->phys.used += cf_bp_asize(nbp);
	dn->phys.used -= CF_MIN(dn->phys.used, cf_bp_asize(old));
}

/* Grow the tree until it addresses blkid.  Lock held. */
static int grow_levels(cf_objset_t *os, dnode_t *dn, uint64_t blkid)
{
	while (blkid >= capacity(dn->phys.nlevels)) {
		if (dn->phys.nlevels >= CF_MAX_LEVELS)
			return -EFBIG;
		int newtop = dn->phys.nlevels;    /* level of the new top */
		ibuf_t *b = ib_insert(dn, newtop, 0);
		if (!b)
			return -ENOMEM;
		b->bps[0] = dn->phys.root;
		b->dirty = 1;
		memset(&dn->phys.root, 0, sizeof(dn->phys.root));
		dn->phys.nlevels++;
		(void)os;
	}
	return 0;
}

/* Mark the ibuf path to blkid dirty (creating holes as needed). */
static int dirty_path(cf_objset_t *os, dnode_t *dn, uint64_t blkid,
    cf_blkptr_t **slot)
{
	int err = 0;
	if (dn->phys.nlevels == 1) {
		*slot = &dn->phys.root;
		return 0;
	}
	for (int l = 1; l < dn->phys.nlevels; l++) {
		ibuf_t *b = ib_get(os, dn, l, blkid / pow_ind(l), 1, &err);
		if (!b)
			return err ? err : -EIO;
		b->dirty = 1;
		if (l == 1)
			*slot = &b->bps[blkid % CF_IND_BPS];
	}
	return 0;
}

/* Kill every block under *bp (level lvl, covering blocks from base) that
 * intersects [b0, b1); frees whole subtrees, descends partial ones. */
static int free_subtree(cf_objset_t *os, dnode_t *dn, int lvl, uint64_t idx,
    cf_blkptr_t *slot, uint64_t b0, uint64_t b1, uint64_t txg)
{
	if (cf_bp_is_hole(slot))
		return 0;
	uint64_t span = pow_ind(lvl);
	uint64_t first = idx * span;
	uint64_t last = span == UINT64_MAX ? UINT64_MAX : first + span;
	if (last <= b0 || first >= b1)
		return 0;
	cf_blkptr_t hole = { 0 };
	hole.birth = txg;
	hole.type = slot->type;
	hole.level = slot->level;
	hole.lsize = slot->lsize;
	if (lvl == 0 || (first >= b0 && last <= b1)) {
		/* whole subtree goes: kill it block by block so the owner
		 * can account each (snapshots keep what they reference) */
		if (lvl > 0) {
			int err = 0;
			ibuf_t *b = ib_get(os, dn, lvl, idx, 0, &err);
			if (!b)
				return err;
			for (int i = 0; i < CF_IND_BPS; i++) {
				err = free_subtree(os, dn, lvl - 1,
				    idx * CF_IND_BPS + (uint64_t)i, &b->bps[i],
				    b0, b1, txg);
				if (err)
					return err;
			}
			b->dirty = 0;
		}
		/* a block born in this very txg is referenced by nothing
		 * durable: its space comes back at once */
		if (slot->birth == txg)
			cf_spa_free_now(os->spa, slot);
		used_adjust(dn, slot, &hole);
		replace_bp(os, slot, &hole, txg);
		return 0;
	}
	int err = 0;
	ibuf_t *b = ib_get(os, dn, lvl, idx, 0, &err);
	if (!b)
		return err;
	b->dirty = 1;
	for (int i = 0; i < CF_IND_BPS; i++) {
		err = free_subtree(os, dn, lvl - 1,
		    idx * CF_IND_BPS + (uint64_t)i, &b->bps[i], b0, b1, txg);
		if (err)
			return err;
	}
	return 0;
}

static int free_range_tree(cf_objset_t *os, dnode_t *dn, uint64_t b0,
    uint64_t b1, uint64_t txg)
{
	int top = dn->phys.nlevels - 1;
	return free_subtree(os, dn, top, 0, &dn->phys.root, b0, b1, txg);
}

/* Drop cached ibufs that are not dirty and were freed (holes). */
static void drop_clean_ibufs(dnode_t *dn)
{
	for (size_t i = 0; i < dn->ibnb; i++) {
		ibuf_t **pp = &dn->ibh[i];
		while (*pp) {
			ibuf_t *b = *pp;
			if (!b->dirty) {
				*pp = b->hnext;
				dn->nib--;
				free(b);
			} else {
				pp = &b->hnext;
			}
		}
	}
}

/* Write dirty indirect blocks bottom-up and fix up the root. */
static int write_ibufs(cf_objset_t *os, dnode_t *dn, uint64_t txg, int pass)
{
	uint8_t *raw = malloc(CF_IND_BLKSZ);
	if (!raw)
		return -ENOMEM;
	int err = 0;
	for (int l = 1; l < dn->phys.nlevels && !err; l++) {
		for (size_t i = 0; i < dn->ibnb && !err; i++) {
			for (ibuf_t *b = dn->ibh[i]; b && !err; b = b->hnext) {
				if (b->level != l || !b->dirty)
					continue;
				uint64_t fill = 0;
				for (int k = 0; k < CF_IND_BPS; k++) {
					cf_bp_encode(&b->bps[k],
					    raw + k * CF_BP_SIZE);
					fill += b->bps[k].fill;
				}
				memset(raw + CF_IND_BPS * CF_BP_SIZE, 0,
				    CF_IND_BLKSZ - CF_IND_BPS * CF_BP_SIZE);
				cf_blkptr_t *slot = ib_parent_slot(os, dn, l,
				    b->idx, 1, &err);
				if (!slot) {
					err = err ? err : -EIO;
					break;
				}
				cf_wprops_t wp;
				wprops(os, dn->phys.type, l, pass, &wp);
				cf_blkptr_t nbp;
				if (fill == 0) {
					/* nothing beneath but holes: a hole
					 * (born now, for incremental send),
					 * so that an indirect block exists
					 * exactly where data does, on every
					 * pool a raw stream reaches */
					if (!cf_bp_is_hole(slot) &&
					    slot->birth == txg)
						cf_spa_free_now(os->spa, slot);
					memset(&nbp, 0, sizeof(nbp));
					nbp.birth = txg;
					nbp.lsize = CF_IND_BLKSZ;
				} else {
					err = cf_block_write(os->spa, raw,
					    CF_IND_BLKSZ, &wp, txg, slot, &nbp);
				}
				if (err)
					break;
				nbp.fill = fill;
				if (cf_bp_is_hole(&nbp))
					nbp.level = (uint8_t)l;
				else if (os->encrypted)
					cf_block_ind_mac(b->bps, CF_IND_BPS,
					    nbp.mac);
				used_adjust(dn, slot, &nbp);
				replace_bp(os, slot, &nbp, txg);
				b->dirty = 0;
			}
		}
	}
	free(raw);
	return err;
}

static int install_l0(cf_objset_t *os, dnode_t *dn, uint64_t blkid,
    const cf_blkptr_t *nbp, uint64_t txg)
{
	int err = grow_levels(os, dn, blkid);
	if (err)
		return err;
	cf_blkptr_t *slot = NULL;
	err = dirty_path(os, dn, blkid, &slot);
	if (!err && !slot)
		err = -EIO;
	if (err)
		return err;
	used_adjust(dn, slot, nbp);
	replace_bp(os, slot, nbp, txg);
	return 0;
}

/* Worker pool for the data-block write phase. */
typedef struct wjob {
	cf_objset_t *os;
	dr_t **v;
	size_t n;
	size_t next;                    /* atomic */
	uint64_t txg;
	int pass;
	uint8_t *types;                 /* object type of each dr */
} wjob_t;

static void *write_worker(void *arg)
{
	wjob_t *j = arg;
	for (;;) {
		size_t i = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
		if (i >= j->n)
			break;
		dr_t *d = j->v[i];
		cf_wprops_t wp;
		wprops(j->os, j->types[i], 0, j->pass, &wp);
		if (d->raw) {
			d->werr = cf_block_write_raw(j->os->spa, d->data,
			    d->size, &d->tmpl, wp.cksum, wp.copies, j->txg,
			    &d->oldbp, &d->newbp);
			continue;
		}
		if (j->os->raw && wp.crypt == CF_CRYPT_DNODE) {
			/* the sender's seal, or the one stored before */
			static const cf_blkptr_t noseal;
			wp.sealed = d->has_seal ? &d->tmpl :
			    !cf_bp_is_hole(&d->oldbp) ? &d->oldbp : &noseal;
		}
		d->werr = cf_block_write(j->os->spa, d->data, d->size, &wp,
		    j->txg, &d->oldbp, &d->newbp);
	}
	return NULL;
}

static int write_drs(cf_objset_t *os, dr_t **v, uint8_t *types, size_t n,
    uint64_t txg, int pass, int parallel)
{
	wjob_t j = { os, v, n, 0, txg, pass, types };
	pthread_t th[3];
	int nth = 0;
	if (parallel && n > 4) {
		for (; nth < 1; nth++)
			if (pthread_create(&th[nth], NULL, write_worker, &j))
				break;
	}
	write_worker(&j);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	for (size_t i = 0; i < n; i++)
		if (v[i]->werr)
			return v[i]->werr;
	return 0;
}

static int dr_cmp(const void *a, const void *b)
{
	const dr_t *x = *(dr_t *const *)a, *y = *(dr_t *const *)b;
	if (x->obj != y->obj)
		return x->obj < y->obj ? -1 : 1;
	if (x->blkid != y->blkid)
		return x->blkid < y->blkid ? -1 : 1;
	return 0;
}

/* Collect the drs of txg for objects (obj != 0) or object 0 only, in
 * (object, block) order: the allocator hands out space in the order the
 * blocks are written, so this lays each object out on the device in file
 * order, which is what the kernel's readahead on the device expects (the
 * list itself is newest first, which stored files backwards). */
static int collect(cf_objset_t *os, txgstate_t *ts, int meta, dr_t ***vp,
    uint8_t **tp, size_t *np)
{
	size_t n = 0;
	for (dr_t *d = ts->drs; d; d = d->lnext)
		if ((d->obj == 0) == !!meta)
			n++;
	dr_t **v = malloc((n + 1) * sizeof(*v));
	uint8_t *t = malloc(n + 1);
	if (!v || !t) {
		free(v);
		free(t);
		return -ENOMEM;
	}
	size_t i = 0;
	for (dr_t *d = ts->drs; d; d = d->lnext)
		if ((d->obj == 0) == !!meta)
			v[i++] = d;
	qsort(v, n, sizeof(*v), dr_cmp);
	int err = 0;
	for (i = 0; i < n && !err; i++) {
		dr_t *d = v[i];
		attrs_t a;
		err = get_attrs(os, d->obj, &a);
		t[i] = a.type;
		/* the block it replaces, for in-place rewrites */
		dnode_t *dn;
		memset(&d->oldbp, 0, sizeof(d->oldbp));
		dnrec_t *r = rec_find(ts, d->obj);
		if (!err && !(r && in_frees(r, d->blkid)) &&
		    dn_get(os, d->obj, &dn) == 0)
			err = bp_lookup(os, dn, d->blkid, &d->oldbp);
	}
	*vp = v;
	*tp = t;
	*np = n;
	return err;
}

/* Encode dnode `dn` into object 0 for txg (sync context).  Lock held. */
static int store_dnode(cf_objset_t *os, uint64_t txg, dnode_t *dn)
{
	uint8_t raw[CF_DNODE_SIZE];
	cf_dnode_encode(&dn->phys, raw);
	cf_tx_t tx;
	cf_tx_sync_init(&tx, os, txg);
	dnrec_t *r;
	int err = rec_get(os, &tx, 0, &r);
	if (err)
		return err;
	uint64_t blkid = dn->obj / CF_DNODES_PER_BLK;
	dr_t *d;
	err = dr_get(os, &tx, r, blkid, 0, &d);
	if (err)
		return err;
	memcpy(d->data + (dn->obj % CF_DNODES_PER_BLK) * CF_DNODE_SIZE, raw,
	    CF_DNODE_SIZE);
	return 0;
}

/* Apply the record and new data blocks of one object to its tree. */
static int sync_object(cf_objset_t *os, txgstate_t *ts, dnrec_t *r,
    uint64_t txg, int pass)
{
	dnode_t *dn;
	int err = dn_get(os, r->obj, &dn);
	if (err)
		return err;
	if (r->freeall) {
		err = free_range_tree(os, dn, 0, UINT64_MAX, txg);
		if (err)
			return err;
		dn_drop_ibufs(dn);
		memset(&dn->phys.root, 0, sizeof(dn->phys.root));
		dn->phys.nlevels = 1;
		dn->phys.used = 0;
		dn->phys.maxblkid = 0;
	}
	for (frange_t *f = r->frees; f; f = f->next) {
		err = free_range_tree(os, dn, f->start, f->end, txg);
		if (err)
			return err;
	}
	if (r->frees) {
		/* a freed tree may leave whole levels of holes: fine */
	}
	if (r->freeall && r->type != CF_OT_NONE)
		dn->phys.gen = txg;             /* allocated in this txg */
	dn->phys.type = r->type;
	dn->phys.blksz = r->blksz;
	dn->phys.bonuslen = r->bonuslen;
	memcpy(dn->phys.bonus, r->bonus, sizeof(dn->phys.bonus));
	dn->phys.maxblkid = r->maxblkid;
	if (r->type == CF_OT_NONE) {
		dn_drop_ibufs(dn);
		memset(&dn->phys, 0, sizeof(dn->phys));
		dn->phys.nlevels = 1;
		return 0;
	}
	if (r->nlevels > dn->phys.nlevels) {
		/* raw receive: the sender's tree height (the MACs cover it) */
		err = grow_levels(os, dn, capacity(r->nlevels - 1));
		if (err)
			return err;
	}
	(void)ts;
	(void)pass;
	return 0;
}

/* Install the written blocks of all drs in v. */
static int install_all(cf_objset_t *os, dr_t **v, size_t n, uint64_t txg)
{
	for (size_t i = 0; i < n; i++) {
		dnode_t *dn;
		int err = dn_get(os, v[i]->obj, &dn);
		if (err)
			return err;
		if (dn->phys.type == CF_OT_NONE && v[i]->obj != 0)
			continue;       /* freed after it was written */
		cf_blkptr_t nbp = v[i]->newbp;
		if (cf_bp_is_hole(&nbp)) {
			nbp.level = 0;
			nbp.type = dn->phys.type;
		}
		err = install_l0(os, dn, v[i]->blkid, &nbp, txg);
		if (err)
			return err;
	}
	return 0;
}

/* Is the dnode's block in the meta tree a hole whose dnodes are all free?
 * (Nothing to do: the dnode block is simply written as zeros.) */

int cf_os_sync(cf_objset_t *os, uint64_t txg, int pass, cf_blkptr_t *root)
{
	int err = 0;
	dr_t **v = NULL;
	uint8_t *types = NULL;
	size_t n = 0;

	pthread_mutex_lock(&os->lock);
	txgstate_t *ts = &os->ts[txg & 1];
	if (ts->txg != txg) {
		/* nothing dirty: the root stays */
		*root = os->rootbp;
		pthread_mutex_unlock(&os->lock);
		return 0;
	}
	err = collect(os, ts, 0, &v, &types, &n);
	pthread_mutex_unlock(&os->lock);
	if (err)
		goto out;

	/* 1. data blocks, without the lock, on both cores */
	err = write_drs(os, v, types, n, txg, pass, 1);
	if (err)
		goto out;

	pthread_mutex_lock(&os->lock);
	/* 2. records (frees, attributes) then the new blocks */
	for (dnrec_t *r = ts->dns; r && !err; r = r->lnext)
		if (r->obj != 0)
			err = sync_object(os, ts, r, txg, pass);
	if (!err)
		err = install_all(os, v, n, txg);
	/* 3. indirect blocks and dnodes of every changed object */
	for (dnrec_t *r = ts->dns; r && !err; r = r->lnext) {
		if (r->obj == 0)
			continue;
		dnode_t *dn;
		err = dn_get(os, r->obj, &dn);
		if (!err && dn->phys.type != CF_OT_NONE)
			err = write_ibufs(os, dn, txg, pass);
		if (!err)
			err = store_dnode(os, txg, dn);
		if (!err)
			drop_clean_ibufs(dn);
	}
	/* the data drs are installed: readers now find them in the tree */
	for (size_t i = 0; i < n; i++)
		dr_remove(ts, v[i]);
	free(v);
	free(types);
	v = NULL;
	types = NULL;
	if (err) {
		pthread_mutex_unlock(&os->lock);
		goto out;
	}
	/* remove the records of objects other than 0 */
	dnrec_t **pp = &ts->dns;
	while (*pp) {
		dnrec_t *r = *pp;
		if (r->obj == 0) {
			pp = &r->lnext;
			continue;
		}
		*pp = r->lnext;
		size_t h = hkey(r->obj, 0, ts->dnnb);
		dnrec_t **hp = &ts->dnh[h];
		while (*hp != r)
			hp = &(*hp)->hnext;
		*hp = r->hnext;
		ts->ndn--;
		frange_free_list(r->frees);
		free(r);
	}

	/* 4. object 0: the dnode blocks */
	err = collect(os, ts, 1, &v, &types, &n);
	if (!err)
		err = write_drs(os, v, types, n, txg, pass, 0);
	if (!err) {
		dnrec_t *r0 = rec_find(ts, 0);
		if (r0)
			os->meta.phys.maxblkid = CF_MAX(os->meta.phys.maxblkid,
			    r0->maxblkid);
		err = install_all(os, v, n, txg);
	}
	if (!err)
		err = write_ibufs(os, &os->meta, txg, pass);
	if (!err)
		drop_clean_ibufs(&os->meta);

	/* 5. the object set root */
	if (!err) {
		cf_objset_phys_t p;
		memset(&p, 0, sizeof(p));
		p.meta = os->meta.phys;
		p.type = (uint64_t)os->type;
		uint8_t *raw = calloc(1, CF_OBJSET_PHYS_SIZE);
		if (!raw) {
			err = -ENOMEM;
		} else if (os->encrypted && !os->cs && !os->raw) {
			err = COFFER_ENOKEY;
		} else if (os->raw) {
			/* the sender's MAC: valid once the stream is whole */
			p.flags |= CF_OSF_MAC;
			p.mac_txg = os->mac_txg;
			memcpy(p.mac, os->mac, 32);
			cf_osphys_encode(&p, raw);
		} else {
			cf_osphys_encode(&p, raw);
			if (os->encrypted) {
				p.flags |= CF_OSF_MAC;
				p.mac_txg = txg;
				le64_put(raw + 520, p.flags);
				err = cf_osphys_mac(raw, os->cs->guid, txg,
				    os->cs->hmac, p.mac);
				cf_osphys_encode(&p, raw);
				os->mac_txg = txg;
				memcpy(os->mac, p.mac, 32);
			}
		}
		if (!err && raw) {
			cf_wprops_t wp;
			wprops(os, CF_OT_OBJSET, 0, pass, &wp);
			cf_blkptr_t nbp;
			err = cf_block_write(os->spa, raw, CF_OBJSET_PHYS_SIZE,
			    &wp, txg, &os->rootbp, &nbp);
			if (!err)
				replace_bp(os, &os->rootbp, &nbp, txg);
		}
		free(raw);
	}
	if (!err)
		ts_clear(ts);
	*root = os->rootbp;
	pthread_mutex_unlock(&os->lock);
out:
	free(v);
	free(types);
	return err;
}

void cf_os_synced(cf_objset_t *os, uint64_t txg)
{
	(void)txg;
	pthread_mutex_lock(&os->lock);
	if (os->ndn > DN_CACHE_MAX) {
		/* evict the older half of the clean cached dnodes */
		uint64_t cut = os->stamp - DN_CACHE_MAX / 2;
		for (size_t i = 0; i < os->dnnb; i++) {
			dnode_t **pp = &os->dnh[i];
			while (*pp) {
				dnode_t *d = *pp;
				int busy = rec_find(&os->ts[0], d->obj) ||
				    rec_find(&os->ts[1], d->obj);
				if (!busy && d->stamp < cut) {
					*pp = d->hnext;
					os->ndn--;
					dn_drop_ibufs(d);
					free(d);
				} else {
					pp = &d->hnext;
				}
			}
		}
	}
	pthread_mutex_unlock(&os->lock);
}

/* ---- traversal ------------------------------------------------------------------- */

static int trav_bp(cf_spa_t *spa, uint64_t obj, uint64_t blkid,
    const cf_blkptr_t *bp, uint64_t min_txg, int is_meta, cf_traverse_cb cb,
    void *arg);

static int trav_dnode(cf_spa_t *spa, uint64_t obj, const cf_dnode_phys_t *dn,
    uint64_t min_txg, cf_traverse_cb cb, void *arg)
{
	if (dn->type == CF_OT_NONE)
		return 0;
	return trav_bp(spa, obj, 0, &dn->root, min_txg,
	    dn->type == CF_OT_META_DNODE, cb, arg);
}

static int trav_bp(cf_spa_t *spa, uint64_t obj, uint64_t blkid,
    const cf_blkptr_t *bp, uint64_t min_txg, int is_meta, cf_traverse_cb cb,
    void *arg)
{
	if (cf_bp_is_hole(bp) || bp->birth <= min_txg)
		return 0;
	int r = cb(arg, obj, blkid, bp);
	if (r == CF_TRAVERSE_SKIP)
		return 0;
	if (r)
		return r;
	if (bp->level > 0) {
		if (bp->lsize != CF_IND_BLKSZ || bp->level >= CF_MAX_LEVELS)
			return CF_CORRUPT();
		uint8_t *raw = malloc(CF_IND_BLKSZ);
		if (!raw)
			return -ENOMEM;
		int err = cf_block_read(spa, bp, raw);
		for (int i = 0; i < CF_IND_BPS && !err; i++) {
			cf_blkptr_t c;
			err = cf_bp_decode(raw + i * CF_BP_SIZE, &c);
			if (!err && !cf_bp_is_hole(&c) &&
			    (c.level != bp->level - 1 || c.birth > bp->birth))
				err = CF_CORRUPT();
			if (!err)
				err = trav_bp(spa, obj,
				    blkid * CF_IND_BPS + (uint64_t)i, &c,
				    min_txg, is_meta, cb, arg);
		}
		free(raw);
		return err;
	}
	if (!is_meta)
		return 0;
	/* a block of dnodes: descend into each object */
	if (bp->lsize != CF_DNODE_BLKSZ)
		return CF_CORRUPT();
	uint8_t *raw = malloc(CF_DNODE_BLKSZ);
	if (!raw)
		return -ENOMEM;
	/* structure only: no key needed, bonus areas stay sealed */
	int err = cf_block_read_cs(spa, bp, raw, NULL, CF_RD_STRUCT);
	for (int i = 0; i < CF_DNODES_PER_BLK && !err; i++) {
		cf_dnode_phys_t dn;
		err = cf_dnode_decode(raw + i * CF_DNODE_SIZE, &dn);
		if (!err && dn.type == CF_OT_META_DNODE)
			err = CF_CORRUPT();
		if (!err)
			err = trav_dnode(spa,
			    blkid * CF_DNODES_PER_BLK + (uint64_t)i, &dn,
			    min_txg, cb, arg);
	}
	free(raw);
	return err;
}

int cf_os_traverse_root(cf_spa_t *spa, const cf_blkptr_t *root,
    uint64_t min_txg, cf_traverse_cb cb, void *arg)
{
	if (cf_bp_is_hole(root) || root->birth <= min_txg)
		return 0;
	int r = cb(arg, 0, UINT64_MAX, root);
	if (r == CF_TRAVERSE_SKIP)
		return 0;
	if (r)
		return r;
	if (root->lsize != CF_OBJSET_PHYS_SIZE)
		return CF_CORRUPT();
	uint8_t *buf = malloc(CF_OBJSET_PHYS_SIZE);
	if (!buf)
		return -ENOMEM;
	cf_objset_phys_t p;
	int err = cf_block_read(spa, root, buf);
	if (!err)
		err = cf_osphys_decode(buf, &p);
	free(buf);
	if (err)
		return err;
	if (p.meta.type == CF_OT_NONE)
		return 0;
	return trav_bp(spa, 0, 0, &p.meta.root, min_txg, 1, cb, arg);
}

/* ---- the walk for send ------------------------------------------------------------ */

typedef struct swalk {
	cf_objset_t *os;
	uint64_t min_txg;
	int flags;
	const cf_send_ops_t *ops;
	void *arg;
	uint64_t start_obj;     /* resume: skip objects below */
	uint64_t start_off;     /* and start_obj's bytes below */
	uint32_t blksz;         /* of the object being walked */
} swalk_t;

static int sw_read(swalk_t *w, const cf_blkptr_t *bp, uint8_t **out)
{
	uint8_t *buf = malloc(bp->lsize);
	if (!buf)
		return -ENOMEM;
	int err = cf_block_read_cs(w->os->spa, bp, buf, w->os->cs,
	    (w->flags & CF_SW_RAW) ? CF_RD_STRUCT : 0);
	if (err == COFFER_ECORRUPT && w->os->encrypted)
		err = COFFER_EAUTH;
	if (err) {
		free(buf);
		return err;
	}
	*out = buf;
	return 0;
}

/* One object's tree: data blocks and holes born after min_txg. */
static int sw_tree(swalk_t *w, uint64_t obj, const cf_blkptr_t *bp,
    int level, uint64_t idx, int depth)
{
	if (bp->birth <= w->min_txg)
		return 0;
	if (obj == w->start_obj && w->start_off) {
		/* resume: subtrees wholly below start_off are not read */
		uint64_t n = pow_ind(level);
		if (idx < UINT64_MAX / n / w->blksz &&
		    (idx + 1) * n * w->blksz <= w->start_off)
			return 0;
	}
	if (cf_bp_is_hole(bp) || level == 0)
		return w->ops->block(w->arg, obj, idx, level, bp);
	if (depth > CF_MAX_LEVELS || bp->level != level ||
	    bp->lsize != CF_IND_BLKSZ)
		return CF_CORRUPT();
	uint8_t *raw;
	int err = sw_read(w, bp, &raw);
	if (err)
		return err;
	ibuf_t *b = malloc(sizeof(*b));
	if (!b) {
		free(raw);
		return -ENOMEM;
	}
	err = ib_decode(raw, b);
	if (!err && w->os->encrypted) {
		uint8_t mac[16];
		cf_block_ind_mac(b->bps, CF_IND_BPS, mac);
		if (!cf_ct_equal(mac, bp->mac, 16))
			err = COFFER_EAUTH;
	}
	free(raw);
	for (int i = 0; i < CF_IND_BPS && !err; i++)
		err = sw_tree(w, obj, &b->bps[i], level - 1,
		    idx * CF_IND_BPS + (uint64_t)i, depth + 1);
	free(b);
	return err;
}

/* The meta-dnode's tree: dnode blocks born after min_txg. */
static int sw_meta(swalk_t *w, const cf_blkptr_t *bp, int level,
    uint64_t idx, int depth)
{
	uint64_t nobj = pow_ind(level) * CF_DNODES_PER_BLK;
	if (w->start_obj && idx < UINT64_MAX / nobj &&
	    (idx + 1) * nobj <= w->start_obj)
		return 0;               /* resume: all below the start */
	if (cf_bp_is_hole(bp)) {
		/* a range of dnodes all freed after min_txg */
		if (bp->birth <= w->min_txg)
			return 0;
		uint64_t first = idx * nobj;
		if (first < w->start_obj)
			return w->ops->freeobjects(w->arg, w->start_obj,
			    first + nobj - w->start_obj);
		return w->ops->freeobjects(w->arg, first, nobj);
	}
	if (bp->birth <= w->min_txg)
		return 0;
	if (depth > CF_MAX_LEVELS || bp->level != level)
		return CF_CORRUPT();
	uint8_t *raw;
	int err = sw_read(w, bp, &raw);
	if (err)
		return err;
	if (level > 0) {
		ibuf_t *b = malloc(sizeof(*b));
		if (!b) {
			free(raw);
			return -ENOMEM;
		}
		err = bp->lsize == CF_IND_BLKSZ ? ib_decode(raw, b) :
		    CF_CORRUPT();
		if (!err && w->os->encrypted) {
			uint8_t mac[16];
			cf_block_ind_mac(b->bps, CF_IND_BPS, mac);
			if (!cf_ct_equal(mac, bp->mac, 16))
				err = COFFER_EAUTH;
		}
		free(raw);
		for (int i = 0; i < CF_IND_BPS && !err; i++)
			err = sw_meta(w, &b->bps[i], level - 1,
			    idx * CF_IND_BPS + (uint64_t)i, depth + 1);
		free(b);
		return err;
	}
	if (bp->lsize != CF_DNODE_BLKSZ) {
		free(raw);
		return CF_CORRUPT();
	}
	if ((w->flags & CF_SW_RAW) && w->ops->range)
		err = w->ops->range(w->arg, idx * CF_DNODES_PER_BLK, bp);
	for (int i = 0; i < CF_DNODES_PER_BLK && !err; i++) {
		uint64_t obj = idx * CF_DNODES_PER_BLK + (uint64_t)i;
		cf_dnode_phys_t dn;
		err = cf_dnode_decode(raw + i * CF_DNODE_SIZE, &dn);
		if (err || obj == 0 || obj < w->start_obj)
			continue;
		err = w->ops->object(w->arg, obj, &dn);
		w->blksz = dn.blksz ? dn.blksz : 1;
		if (!err && dn.type != CF_OT_NONE)
			err = sw_tree(w, obj, &dn.root, dn.nlevels - 1, 0, 0);
	}
	free(raw);
	return err;
}

int cf_os_send_walk(cf_objset_t *os, uint64_t min_txg, int flags,
    const cf_send_ops_t *ops, void *arg)
{
	return cf_os_send_walk_from(os, min_txg, flags, 0, 0, ops, arg);
}

int cf_os_send_walk_from(cf_objset_t *os, uint64_t min_txg, int flags,
    uint64_t start_obj, uint64_t start_off, const cf_send_ops_t *ops,
    void *arg)
{
	swalk_t w = { os, min_txg, flags, ops, arg, start_obj, start_off, 1 };
	pthread_mutex_lock(&os->lock);
	cf_dnode_phys_t meta = os->meta.phys;
	pthread_mutex_unlock(&os->lock);
	if (meta.type == CF_OT_NONE)
		return 0;
	return sw_meta(&w, &meta.root, meta.nlevels - 1, 0, 0);
}

void cf_os_meta(cf_objset_t *os, cf_dnode_phys_t *meta)
{
	pthread_mutex_lock(&os->lock);
	*meta = os->meta.phys;
	pthread_mutex_unlock(&os->lock);
}
