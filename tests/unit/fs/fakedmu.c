/*
 * fakedmu.c - an in-memory DMU for testing the zap and fs layers before
 * the real DMU exists.  It implements every non-zap function of dmu.h:
 * objects are sparse arrays of blocks (a sorted array of block ids, so
 * holes at 2^48 cost nothing) plus a bonus buffer; transactions are only
 * counted.  One mutex per object set makes every call thread-safe.
 *
 * Test-only.  Nothing here is durable and nothing is checksummed.
 */
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>

#include "dmu/dmu.h"
#include "tenv.h"

struct fblk {
	uint64_t id;
	uint8_t *data;
};

struct fobj {
	uint8_t type;
	uint32_t blksz;
	uint64_t maxblkid;
	uint16_t bonuslen;
	uint8_t bonus[CF_BONUS_MAX];
	struct fblk *blks;      /* sorted by id */
	size_t nblk, cap;
};

struct cf_objset {
	pthread_mutex_t mu;
	struct fobj **objs;     /* index = object id; 0 unused */
	uint64_t cap, next;
	uint32_t recordsize;
	int ro;
	uint64_t ntx;
};

struct cf_tx {
	cf_objset_t *os;
	uint64_t txg;
};

/* ---- test environment -------------------------------------------------- */

cf_objset_t *tenv_os_open(void)
{
	cf_objset_t *os = calloc(1, sizeof(*os));
	if (!os)
		abort();
	pthread_mutex_init(&os->mu, NULL);
	os->next = 1;
	os->recordsize = 128 * 1024;
	return os;
}

static void fobj_free(struct fobj *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->nblk; i++)
		free(o->blks[i].data);
	free(o->blks);
	free(o);
}

cf_objset_t *tenv_os_snapshot(cf_objset_t *src)
{
	cf_objset_t *os = tenv_os_open();
	pthread_mutex_lock(&src->mu);
	os->cap = src->cap;
	os->next = src->next;
	os->recordsize = src->recordsize;
	os->ro = 1;
	os->objs = calloc(src->cap ? src->cap : 1, sizeof(*os->objs));
	if (!os->objs)
		abort();
	for (uint64_t i = 0; i < src->cap; i++) {
		struct fobj *s = src->objs[i], *d;
		if (!s)
			continue;
		d = malloc(sizeof(*d));
		if (!d)
			abort();
		*d = *s;
		d->blks = calloc(s->nblk ? s->nblk : 1, sizeof(*d->blks));
		if (!d->blks)
			abort();
		d->cap = s->nblk;
		for (size_t j = 0; j < s->nblk; j++) {
			d->blks[j].id = s->blks[j].id;
			d->blks[j].data = malloc(s->blksz);
			if (!d->blks[j].data)
				abort();
			memcpy(d->blks[j].data, s->blks[j].data, s->blksz);
		}
		os->objs[i] = d;
	}
	pthread_mutex_unlock(&src->mu);
	return os;
}

void tenv_os_close(cf_objset_t *os)
{
	if (!os)
		return;
	for (uint64_t i = 0; i < os->cap; i++)
		fobj_free(os->objs[i]);
	free(os->objs);
	pthread_mutex_destroy(&os->mu);
	free(os);
}

/* ---- transactions ------------------------------------------------------ */

int cf_tx_begin(cf_objset_t *os, uint64_t space, cf_tx_t **tx)
{
	cf_tx_t *t;
	if (os->ro)
		return -EROFS;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	pthread_mutex_lock(&os->mu);
	os->ntx++;
	t->txg = 1 + os->ntx / 64;
	pthread_mutex_unlock(&os->mu);
	t->os = os;
	*tx = t;
	return 0;
}

void cf_tx_end(cf_tx_t *tx)
{
	free(tx);
}

uint64_t cf_tx_txg(const cf_tx_t *tx)
{
	return tx->txg;
}

/* ---- objects ----------------------------------------------------------- */

static struct fobj *get(cf_objset_t *os, uint64_t obj)
{
	if (obj == 0 || obj >= os->cap)
		return NULL;
	return os->objs[obj];
}

static int wcheck(cf_objset_t *os, cf_tx_t *tx)
{
	if (os->ro)
		return -EROFS;
	if (!tx || tx->os != os)
		return -EINVAL;
	return 0;
}

static int blksz_ok(uint32_t blksz)
{
	return blksz >= CF_MIN_BLKSZ && blksz <= CF_MAX_BLKSZ &&
	    blksz % CF_MIN_BLKSZ == 0;
}

int cf_obj_alloc(cf_objset_t *os, cf_tx_t *tx, int type, uint32_t blksz,
    uint64_t *obj)
{
	struct fobj *o;
	int rc = wcheck(os, tx);
	if (rc)
		return rc;
	if (type <= CF_OT_META_DNODE || type >= CF_OT_MAX)
		return -EINVAL;
	if (blksz == 0)
		blksz = os->recordsize;
	if (!blksz_ok(blksz))
		return -EINVAL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->type = (uint8_t)type;
	o->blksz = blksz;
	pthread_mutex_lock(&os->mu);
	if (os->next >= os->cap) {
		uint64_t ncap = os->cap ? os->cap * 2 : 64;
		struct fobj **n = realloc(os->objs, ncap * sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&os->mu);
			free(o);
			return -ENOMEM;
		}
		memset(n + os->cap, 0, (ncap - os->cap) * sizeof(*n));
		os->objs = n;
		os->cap = ncap;
	}
	*obj = os->next++;
	os->objs[*obj] = o;
	pthread_mutex_unlock(&os->mu);
	return 0;
}

int cf_obj_free(cf_objset_t *os, cf_tx_t *tx, uint64_t obj)
{
	struct fobj *o;
	int rc = wcheck(os, tx);
	if (rc)
		return rc;
	pthread_mutex_lock(&os->mu);
	o = get(os, obj);
	if (o)
		os->objs[obj] = NULL;
	pthread_mutex_unlock(&os->mu);
	if (!o)
		return -ENOENT;
	fobj_free(o);
	return 0;
}

int cf_obj_info(cf_objset_t *os, uint64_t obj, cf_objinfo_t *info)
{
	struct fobj *o;
	int rc = -ENOENT;
	pthread_mutex_lock(&os->mu);
	o = get(os, obj);
	if (o) {
		memset(info, 0, sizeof(*info));
		info->type = o->type;
		info->blksz = o->blksz;
		info->nlevels = 1;
		info->maxblkid = o->maxblkid;
		info->used = (uint64_t)o->nblk * o->blksz;
		info->bonuslen = o->bonuslen;
		rc = 0;
	}
	pthread_mutex_unlock(&os->mu);
	return rc;
}

int cf_obj_set_blksz(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    uint32_t blksz)
{
	struct fobj *o;
	int rc = wcheck(os, tx);
	if (rc)
		return rc;
	if (!blksz_ok(blksz))
		return -EINVAL;
	pthread_mutex_lock(&os->mu);
	o = get(os, obj);
	if (!o) {
		rc = -ENOENT;
	} else if (o->maxblkid > 0 || o->nblk > 1) {
		rc = -EINVAL;
	} else {
		if (o->nblk == 1) {
			uint8_t *d = realloc(o->blks[0].data, blksz);
			if (!d) {
				rc = -ENOMEM;
				goto out;
			}
			if (blksz > o->blksz)
				memset(d + o->blksz, 0, blksz - o->blksz);
			o->blks[0].data = d;
		}
		o->blksz = blksz;
	}
out:
	pthread_mutex_unlock(&os->mu);
	return rc;
}

/* First index with id >= id. */
static size_t lower(const struct fobj *o, uint64_t id)
{
	size_t lo = 0, hi = o->nblk;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (o->blks[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint8_t *blk_get(struct fobj *o, uint64_t id, int create)
{
	size_t i = lower(o, id);
	if (i < o->nblk && o->blks[i].id == id)
		return o->blks[i].data;
	if (!create)
		return NULL;
	if (o->nblk == o->cap) {
		size_t ncap = o->cap ? o->cap * 2 : 4;
		struct fblk *n = realloc(o->blks, ncap * sizeof(*n));
		if (!n)
			return NULL;
		o->blks = n;
		o->cap = ncap;
	}
	uint8_t *d = calloc(1, o->blksz);
	if (!d)
		return NULL;
	memmove(o->blks + i + 1, o->blks + i, (o->nblk - i) * sizeof(*o->blks));
	o->blks[i].id = id;
	o->blks[i].data = d;
	o->nblk++;
	if (id > o->maxblkid)
		o->maxblkid = id;
	return d;
}

int cf_obj_read(cf_objset_t *os, uint64_t obj, uint64_t off, uint64_t len,
    void *buf)
{
	struct fobj *o;
	uint64_t end;
	int rc = 0;
	if (cf_add_overflows(off, len, &end))
		return -EINVAL;
	memset(buf, 0, len);
	pthread_mutex_lock(&os->mu);
	o = get(os, obj);
	if (!o) {
		rc = -ENOENT;
	} else if (len) {
		for (size_t i = lower(o, off / o->blksz); i < o->nblk; i++) {
			uint64_t bs = o->blks[i].id * o->blksz;
			uint64_t be = bs + o->blksz;
			if (bs >= end)
				break;
			uint64_t a = CF_MAX(bs, off), b = CF_MIN(be, end);
			memcpy((uint8_t *)buf + (a - off),
			    o->blks[i].data + (a - bs), b - a);
		}
	}
	pthread_mutex_unlock(&os->mu);
	return rc;
}

int cf_obj_write(cf_objset_t *os, cf_tx_t *tx, uint64_t obj, uint64_t off,
    uint64_t len, const void *buf)
{
	struct fobj *o;
	uint64_t end;
	int rc = wcheck(os, tx);
	if (rc)
		return rc;
	if (cf_add_overflows(off, len, &end))
		return -EFBIG;
	pthread_mutex_lock(&os->mu);
	o = get(os, obj);
	if (!o) {
		rc = -ENOENT;
		goto out;
	}
	while (off < end) {
		uint64_t id = off / o->blksz, bs = id * o->blksz;
		uint64_t n = CF_MIN(end, bs + o->blksz) - off;
		uint8_t *d = blk_get(o, id, 1);
		if (!d) {
			rc = -ENOMEM;
			goto out;
		}
		memcpy(d + (off - bs), buf, n);
		buf = (const uint8_t *)buf + n;
		off += n;
	}
out:
	pthread_mutex_unlock(&os->mu);
	return rc;
}

int cf_obj_free_range(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    uint64_t off, uint64_t len)
{
	struct fobj *o;
	uint64_t end;
	int rc = wcheck(os, tx);
	if (rc)
		return rc;
	if (len == UINT64_MAX || cf_add_overflows(off, len, &end))
		end = UINT64_MAX;
	pthread_mutex_lock(&os->mu);
	o = get(os, obj);
	if (!o) {
		rc = -ENOENT;
		goto out;
	}
	for (size_t i = lower(o, off / o->blksz); i < o->nblk;) {
		uint64_t bs = o->blks[i].id * o->blksz;
		uint64_t be = bs + o->blksz;
		if (bs >= end)
			break;
		if (off <= bs && end >= be) {
			free(o->blks[i].data);
			memmove(o->blks + i, o->blks + i + 1,
			    (o->nblk - i - 1) * sizeof(*o->blks));
			o->nblk--;
			continue;
		}
		uint64_t a = CF_MAX(bs, off), b = CF_MIN(be, end);
		memset(o->blks[i].data + (a - bs), 0, b - a);
		i++;
	}
out:
	pthread_mutex_unlock(&os->mu);
	return rc;
}

int cf_bonus_read(cf_objset_t *os, uint64_t obj, void *buf, size_t cap)
{
	struct fobj *o;
	int rc;
	pthread_mutex_lock(&os->mu);
	o = get(os, obj);
	if (!o) {
		rc = -ENOENT;
	} else {
		memcpy(buf, o->bonus, CF_MIN(cap, (size_t)o->bonuslen));
		rc = o->bonuslen;
	}
	pthread_mutex_unlock(&os->mu);
	return rc;
}

int cf_bonus_write(cf_objset_t *os, cf_tx_t *tx, uint64_t obj,
    const void *buf, size_t len)
{
	struct fobj *o;
	int rc = wcheck(os, tx);
	if (rc)
		return rc;
	if (len > CF_BONUS_MAX)
		return -EINVAL;
	pthread_mutex_lock(&os->mu);
	o = get(os, obj);
	if (!o) {
		rc = -ENOENT;
	} else {
		memcpy(o->bonus, buf, len);
		o->bonuslen = (uint16_t)len;
	}
	pthread_mutex_unlock(&os->mu);
	return rc;
}

int cf_obj_next(cf_objset_t *os, uint64_t *obj)
{
	int rc = -ENOENT;
	pthread_mutex_lock(&os->mu);
	for (uint64_t i = *obj + 1; i < os->cap && i > *obj; i++) {
		if (os->objs[i]) {
			*obj = i;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&os->mu);
	return rc;
}

uint32_t cf_os_recordsize(cf_objset_t *os)
{
	return os->recordsize;
}

int cf_os_readonly(cf_objset_t *os)
{
	return os->ro;
}

const char *cf_os_name(cf_objset_t *os)
{
	return os->ro ? "fake/fs@snap" : "fake/fs";
}
