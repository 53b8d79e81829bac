/*
 * dsl datasets: names, create, destroy, snapshot, rollback, holds and
 * properties.
 *
 * Snapshots and space (OpenZFS's scheme):
 *  - A snapshot takes the head's root bp and its deadlist; the head gets
 *    a new empty deadlist.  O(1): nothing is copied.
 *  - Destroying snapshot S (previous P, next N): each block on N's
 *    deadlist born after P was referenced by S alone and is freed; the
 *    rest stay on N's deadlist, which also takes all of S's deadlist
 *    (those blocks are still referenced by P).
 *  - Rolling back to the latest snapshot S frees every block of the head
 *    born after S and forgets the head's deadlist (S references those).
 *
 * Invariants
 *  1. A sync task validates everything before it changes anything, so a
 *     refused operation leaves the MOS untouched.
 *  2. The head's pending deadlist entries are flushed before any task
 *     reads or moves the head's deadlist.
 */
#include "dsl/dsl_impl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "crypto/crypto.h"
#include "fs/fs.h"

/* ---- names -------------------------------------------------------------------- */

static int comp_ok(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(isalnum(c) || c == '_' || c == '-' || c == '.' ||
		    c == ':'))
			return 0;
	}
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	return 1;
}

int dsl_name_check(const char *name, int allow_snap)
{
	size_t len = strlen(name);
	if (len == 0 || len > DSL_NAME_MAX) {
		cf_set_errdetail("name '%s' is %s", name,
		    len ? "too long" : "empty");
		return COFFER_EBADNAME;
	}
	const char *at = strchr(name, '@');
	if (at && !allow_snap) {
		cf_set_errdetail("'%s' is a snapshot name; a dataset was "
		    "expected", name);
		return COFFER_EBADNAME;
	}
	const char *end = at ? at : name + len;
	const char *p = name;
	while (p < end) {
		const char *s = memchr(p, '/', (size_t)(end - p));
		size_t n = s ? (size_t)(s - p) : (size_t)(end - p);
		if (!comp_ok(p, n)) {
			cf_set_errdetail("invalid character or empty component "
			    "in name '%s'", name);
			return COFFER_EBADNAME;
		}
		p += n + (s ? 1 : 0);
		if (s && p == end) {
			cf_set_errdetail("trailing slash in name '%s'", name);
			return COFFER_EBADNAME;
		}
	}
	if (at && (strchr(at + 1, '@') || !comp_ok(at + 1, strlen(at + 1)) ||
	    strchr(at + 1, '/'))) {
		cf_set_errdetail("invalid snapshot name '%s'", name);
		return COFFER_EBADNAME;
	}
	return 0;
}

/* Pool lock (read) held. */
int dsl_dir_lookup(dsl_pool_t *dp, const char *name, uint64_t *dirobj)
{
	const char *pool = cf_spa_name(dp->spa);
	size_t pl = strlen(pool);
	if (strncmp(name, pool, pl) != 0 || (name[pl] && name[pl] != '/'))
		return COFFER_ENODS;
	uint64_t cur = dp->root_dir;
	const char *p = name + pl;
	while (*p == '/') {
		p++;
		const char *s = strchr(p, '/');
		size_t n = s ? (size_t)(s - p) : strlen(p);
		char comp[DSL_NAME_MAX + 1];
		if (n > DSL_NAME_MAX)
			return COFFER_ENODS;
		memcpy(comp, p, n);
		comp[n] = 0;
		dirrec_t d;
		int err = dir_read(dp, cur, &d);
		if (err)
			return err;
		err = cf_zap_lookup_u64(dp->mos, d.children, comp, &cur);
		if (err == -ENOENT)
			return COFFER_ENODS;
		if (err)
			return err;
		p += n;
	}
	*dirobj = cur;
	return 0;
}

int dsl_snap_lookup(dsl_pool_t *dp, const char *name, uint64_t *dsobj)
{
	const char *at = strchr(name, '@');
	if (!at)
		return COFFER_EBADNAME;
	char fs[DSL_NAME_MAX + 1];
	size_t n = (size_t)(at - name);
	if (n > DSL_NAME_MAX)
		return COFFER_EBADNAME;
	memcpy(fs, name, n);
	fs[n] = 0;
	uint64_t dirobj;
	int err = dsl_dir_lookup(dp, fs, &dirobj);
	if (err)
		return err;
	dirrec_t d;
	err = dir_read(dp, dirobj, &d);
	if (err)
		return err;
	err = cf_zap_lookup_u64(dp->mos, d.snapnames, at + 1, dsobj);
	return err == -ENOENT ? COFFER_ENODS : err;
}

/* Split "a/b/c" into parent "a/b" and leaf "c". */
int split_parent(const char *name, char *parent, size_t n,
    const char **leaf)
{
	const char *s = strrchr(name, '/');
	if (!s)
		return -EINVAL;
	size_t pl = (size_t)(s - name);
	if (pl >= n)
		return -ENAMETOOLONG;
	memcpy(parent, name, pl);
	parent[pl] = 0;
	*leaf = s + 1;
	return 0;
}

int dsl_lookup(dsl_pool_t *dp, const char *name, int *type)
{
	int err = dsl_name_check(name, 1);
	if (err)
		return err;
	pthread_rwlock_rdlock(&dp->lock);
	if (strchr(name, '@')) {
		uint64_t ds;
		err = dsl_snap_lookup(dp, name, &ds);
		if (!err && type)
			*type = COFFER_TYPE_SNAPSHOT;
	} else {
		uint64_t dir;
		err = dsl_dir_lookup(dp, name, &dir);
		dirrec_t d;
		if (!err)
			err = dir_read(dp, dir, &d);
		if (!err && type)
			*type = (int)d.type;
	}
	pthread_rwlock_unlock(&dp->lock);
	return err;
}

/* ---- properties -------------------------------------------------------------------- */

/* The stored value of prop at dir or, if inheritable, above. */
static int prop_lookup(dsl_pool_t *dp, uint64_t dirobj, const cf_propdef_t *d,
    char *val, size_t n, uint64_t *from)
{
	uint64_t cur = dirobj;
	while (cur) {
		dirrec_t r;
		int err = dir_read(dp, cur, &r);
		if (err)
			return err;
		size_t vlen;
		err = cf_zap_lookup(dp->mos, r.props, d->name, val, n - 1,
		    &vlen);
		if (err == 0) {
			val[vlen] = 0;
			*from = cur;
			return 0;
		}
		if (err != -ENOENT)
			return err;
		if (!(d->flags & CF_PF_INHERIT))
			break;
		cur = r.parent;
	}
	return -ENOENT;
}

static int prop_num(dsl_pool_t *dp, uint64_t dirobj, int id, uint64_t *num)
{
	const cf_propdef_t *d = cf_prop_at(id);
	char val[256], str[256];
	uint64_t from;
	int err = prop_lookup(dp, dirobj, d, val, sizeof(val), &from);
	if (err == -ENOENT) {
		*num = d->def_num;
		return 0;
	}
	if (err)
		return err;
	if (cf_prop_parse(d, val, num, str, sizeof(str), NULL) != 0)
		*num = d->def_num;
	return 0;
}

int dsl_settings(dsl_pool_t *dp, uint64_t dirobj, cf_os_settings_t *s)
{
	uint64_t v;
	memset(s, 0, sizeof(*s));
	int err = prop_num(dp, dirobj, CF_PROP_RECORDSIZE, &v);
	if (err)
		return err;
	s->recordsize = (uint32_t)v;
	err = prop_num(dp, dirobj, CF_PROP_COMPRESSION, &v);
	if (err)
		return err;
	v = cf_prop_effective(cf_prop_at(CF_PROP_COMPRESSION), v);
	if (v == CF_COMPRESS_OFF) {
		s->comp = CF_COMP_OFF;
	} else if (CF_COMPRESS_IS_ZSTD(v)) {
		s->comp = CF_COMP_ZSTD;
		s->comp_level = (uint8_t)CF_COMPRESS_ZSTD_LEVEL(v);
	} else {
		s->comp = CF_COMP_LZ4;
	}
	err = prop_num(dp, dirobj, CF_PROP_CHECKSUM, &v);
	if (err)
		return err;
	v = cf_prop_effective(cf_prop_at(CF_PROP_CHECKSUM), v);
	s->cksum = v == CF_CHECKSUM_SHA256 ? CF_CKSUM_SHA256 :
	    CF_CKSUM_FLETCHER4;
	err = prop_num(dp, dirobj, CF_PROP_COPIES, &v);
	if (err)
		return err;
	s->copies = (uint8_t)CF_MIN(v, 3);
	err = prop_num(dp, dirobj, CF_PROP_READONLY, &v);
	if (err)
		return err;
	s->readonly = v == CF_ON;
	return 0;
}

void dsl_refresh_settings(dsl_pool_t *dp)
{
	pthread_mutex_lock(&dp->ds_lock);
	for (dsl_dataset_t *d = dp->open; d; d = d->next) {
		cf_os_settings_t s;
		if (d->snapshot || d->gone || !d->os)
			continue;
		if (dsl_settings(dp, d->dirobj, &s) == 0) {
			if (d->type == COFFER_TYPE_VOLUME)
				s.recordsize = cf_os_recordsize(d->os);
			cf_os_set_settings(d->os, &s);
		}
	}
	pthread_mutex_unlock(&dp->ds_lock);
}

typedef struct kv_list {
	char **keys;
	uint64_t *vals;
	size_t n, cap;
} kv_list_t;

static int kv_cb(const char *key, const void *val, size_t vlen,
    uint64_t next, void *arg)
{
	kv_list_t *l = arg;
	(void)next;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		char **nk = realloc(l->keys, nc * sizeof(*nk));
		if (!nk)
			return -ENOMEM;
		l->keys = nk;
		uint64_t *nv = realloc(l->vals, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		l->vals = nv;
		l->cap = nc;
	}
	l->keys[l->n] = strdup(key);
	if (!l->keys[l->n])
		return -ENOMEM;
	l->vals[l->n] = vlen == 8 ? le64_get(val) : 0;
	l->n++;
	return 0;
}

static void kv_free(kv_list_t *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->keys[i]);
	free(l->keys);
	free(l->vals);
	memset(l, 0, sizeof(*l));
}

static int kv_load(dsl_pool_t *dp, uint64_t zap, kv_list_t *l)
{
	uint64_t cookie = 0;
	memset(l, 0, sizeof(*l));
	int err = cf_zap_iter(dp->mos, zap, &cookie, kv_cb, l);
	if (err)
		kv_free(l);
	return err;
}

/* The used space of a dir and its subtree: asize in *total, logical in
 * *ltotal (unknown if any dir's is). */
static int dir_used_sum(dsl_pool_t *dp, uint64_t dirobj, uint64_t *total,
    lacct_t *ltotal, int depth)
{
	dirrec_t r;
	if (depth > 64)
		return CF_CORRUPT();
	int err = dir_read(dp, dirobj, &r);
	if (err)
		return err;
	pthread_mutex_lock(&dp->ds_lock);
	dsl_dataset_t *h = dsl_open_head(dp, r.head);
	if (h) {
		pthread_mutex_lock(&h->acct);
		r.used = h->dir.used;
		r.lused = h->dir.lused;
		pthread_mutex_unlock(&h->acct);
	}
	pthread_mutex_unlock(&dp->ds_lock);
	*total += r.used;
	if (lacct_known(&r.lused))
		lacct_add(ltotal, r.lused.l, r.lused.p);
	else
		ltotal->l = ltotal->p = LACCT_UNKNOWN;
	kv_list_t l;
	err = kv_load(dp, r.children, &l);
	for (size_t i = 0; i < l.n && !err; i++)
		err = dir_used_sum(dp, l.vals[i], total, ltotal, depth + 1);
	kv_free(&l);
	return err;
}

static void fill_num(const cf_propdef_t *d, uint64_t v, coffer_propval_t *o)
{
	cf_prop_format(d, v, NULL, 0, o->value, sizeof(o->value));
	cf_prop_format(d, v, NULL, 1, o->raw, sizeof(o->raw));
}

static void fill_unknown(coffer_propval_t *o)
{
	cf_strlcpy(o->value, "-", sizeof(o->value));
	cf_strlcpy(o->raw, "-", sizeof(o->raw));
}

/* Current records of a dataset: in memory when it is open. */
static int cur_records(dsl_pool_t *dp, uint64_t dsobj, dsrec_t *ds,
    dirrec_t *dir, uint64_t dirobj)
{
	int err = ds_read(dp, dsobj, ds);
	if (!err)
		err = dir_read(dp, dirobj, dir);
	if (err)
		return err;
	pthread_mutex_lock(&dp->ds_lock);
	dsl_dataset_t *h = dsl_open_head(dp, dsobj);
	if (h) {
		pthread_mutex_lock(&h->acct);
		*ds = h->ds;
		*dir = h->dir;
		pthread_mutex_unlock(&h->acct);
	}
	pthread_mutex_unlock(&dp->ds_lock);
	return 0;
}

int dsl_prop_get(dsl_pool_t *dp, const char *name, const char *prop,
    coffer_propval_t *out)
{
	const cf_propdef_t *d = cf_prop_find(prop);
	memset(out, 0, sizeof(*out));
	int keyprop = !strcmp(prop, "encryptionroot") ||
	    !strcmp(prop, "keystatus") || !strcmp(prop, "encryption");
	if (!d && !keyprop) {
		cf_set_errdetail("no such property '%s'", prop);
		return COFFER_EBADPROP;
	}
	int err = dsl_name_check(name, 1);
	if (err)
		return err;
	pthread_rwlock_rdlock(&dp->lock);
	int snap = strchr(name, '@') != NULL;
	uint64_t dirobj = 0, dsobj = 0;
	dsrec_t ds;
	dirrec_t dir;
	if (snap) {
		err = dsl_snap_lookup(dp, name, &dsobj);
		if (!err)
			err = ds_read(dp, dsobj, &ds);
		if (!err) {
			dirobj = ds.dir;
			err = dir_read(dp, dirobj, &dir);
		}
	} else {
		err = dsl_dir_lookup(dp, name, &dirobj);
		if (!err)
			err = dir_read(dp, dirobj, &dir);
		if (!err) {
			dsobj = dir.head;
			err = cur_records(dp, dsobj, &ds, &dir, dirobj);
		}
	}
	if (err)
		goto out;
	int dstype = snap ? COFFER_TYPE_SNAPSHOT : (int)dir.type;
	out->source = COFFER_SRC_NONE;
	/* the properties of encryption that the keys decide */
	if (!strcmp(prop, "encryptionroot") || !strcmp(prop, "keystatus") ||
	    (!strcmp(prop, "encryption") && (dir.keyrec || !d))) {
		if (!strcmp(prop, "keystatus")) {
			static const char *const st[] = { "none", "available",
				"unavailable" };
			cf_strlcpy(out->value, st[dsl_keystatus(dp, &dir)],
			    sizeof(out->value));
		} else if (!strcmp(prop, "encryption")) {
			int suite = CF_SUITE_NONE;
			if (dir.keyrec)
				err = dsl_crypt_suite(dp, &dir, &suite);
			if (!err)
				cf_strlcpy(out->value, cf_suite_name(suite),
				    sizeof(out->value));
			out->source = dir.encroot == dirobj && !snap ?
			    COFFER_SRC_LOCAL : COFFER_SRC_INHERITED;
			if (out->source == COFFER_SRC_INHERITED && !err)
				err = dsl_crypt_root_name(dp, name, &dir,
				    out->inherited_from,
				    sizeof(out->inherited_from));
		} else if (dir.keyrec) {
			err = dsl_crypt_root_name(dp, name, &dir, out->value,
			    sizeof(out->value));
		} else {
			cf_strlcpy(out->value, "-", sizeof(out->value));
		}
		cf_strlcpy(out->raw, out->value, sizeof(out->raw));
		goto out;
	}
	if (!cf_prop_applies(d, dstype)) {
		cf_set_errdetail("property '%s' does not apply to '%s'", prop,
		    name);
		err = COFFER_EBADPROP;
		goto out;
	}
	switch (d->id) {
	case CF_PROP_TYPE:
		cf_strlcpy(out->value, snap ? "snapshot" :
		    dir.type == COFFER_TYPE_VOLUME ? "volume" : "filesystem",
		    sizeof(out->value));
		cf_strlcpy(out->raw, out->value, sizeof(out->raw));
		break;
	case CF_PROP_NAME:
		cf_strlcpy(out->value, name, sizeof(out->value));
		cf_strlcpy(out->raw, name, sizeof(out->raw));
		break;
	case CF_PROP_CREATION:
		fill_num(d, snap ? ds.creation : dir.creation, out);
		break;
	case CF_PROP_CREATETXG:
		fill_num(d, ds.txg, out);
		break;
	case CF_PROP_GUID:
		fill_num(d, ds.guid, out);
		break;
	case CF_PROP_REFERENCED:
		fill_num(d, ds.referenced, out);
		break;
	case CF_PROP_USED:
	case CF_PROP_LOGICALUSED:
	case CF_PROP_COMPRESSRATIO: {
		/* used: asize; logicalused: lsize of the same blocks;
		 * compressratio: lsize / psize, for a snapshot of what it
		 * references, else of the used space */
		uint64_t total = 0;
		lacct_t lt = { 0, 0 };
		if (snap && d->id == CF_PROP_COMPRESSRATIO) {
			lt = ds.lrefd;
		} else if (snap) {
			/* space only this snapshot holds: what its next
			 * dataset's deadlist has born after its prev */
			fill_num(d, 0, out);
			uint64_t nextobj = ds.next ? ds.next : dir.head;
			dsrec_t nr;
			uint64_t cnt;
			err = ds_read(dp, nextobj, &nr);
			if (!err)
				err = deadlist_count(dp, nr.deadlist, &cnt);
			uint8_t bp[CF_BP_SIZE];
			for (uint64_t i = 0; i < cnt && !err; i++) {
				cf_blkptr_t b;
				err = cf_obj_read(dp->mos, nr.deadlist,
				    i * CF_BP_SIZE, CF_BP_SIZE, bp);
				if (!err)
					err = cf_bp_decode(bp, &b);
				if (!err && b.birth > ds.prev_txg) {
					total += cf_bp_asize(&b);
					lacct_add(&lt, b.lsize, b.psize);
				}
			}
		} else {
			err = dir_used_sum(dp, dirobj, &total, &lt, 0);
		}
		if (err)
			break;
		if (d->id == CF_PROP_USED)
			fill_num(d, total, out);
		else if (!lacct_known(&lt))
			fill_unknown(out);      /* written before coffer kept it */
		else if (d->id == CF_PROP_LOGICALUSED)
			fill_num(d, lt.l, out);
		else
			/* in double: lsize * 100 would wrap past 163 PiB */
			fill_num(d, lt.p ? (uint64_t)((double)lt.l * 100.0 /
			    (double)lt.p) : 100, out);
		break;
	}
	case CF_PROP_AVAILABLE:
		fill_num(d, cf_spa_available(dp->spa), out);
		break;
	case CF_PROP_VOLSIZE:
		if (dir.type != COFFER_TYPE_VOLUME) {
			err = COFFER_EBADPROP;
			cf_set_errdetail("property 'volsize' does not apply to "
			    "filesystems");
			break;
		}
		fill_num(d, dir.volsize, out);
		break;
	case CF_PROP_RECEIVE_RESUME_TOKEN:
		/* the library fills in a token (send/resume.c) */
		cf_strlcpy(out->value, "-", sizeof(out->value));
		cf_strlcpy(out->raw, "-", sizeof(out->raw));
		break;
	default: {
		if (!cf_prop_applies(d, dstype)) {
			err = COFFER_EBADPROP;
			cf_set_errdetail("property '%s' does not apply to '%s'",
			    prop, name);
			break;
		}
		char val[512], str[512];
		uint64_t from, num = 0;
		/* the key properties of a dataset are its root's */
		uint64_t pdir = dirobj;
		if (dir.keyrec && (!strcmp(prop, "keyformat") ||
		    !strcmp(prop, "keylocation") || !strcmp(prop, "pbkdf") ||
		    !strcmp(prop, "pbkdf2iters")))
			pdir = dir.encroot;
		err = prop_lookup(dp, pdir, d, val, sizeof(val), &from);
		if (err == -ENOENT) {
			err = 0;
			out->source = COFFER_SRC_DEFAULT;
			cf_prop_format(d, d->def_num, d->def_str, 0,
			    out->value, sizeof(out->value));
			cf_prop_format(d, d->def_num, d->def_str, 1,
			    out->raw, sizeof(out->raw));
			break;
		}
		if (err)
			break;
		if (cf_prop_parse(d, val, &num, str, sizeof(str), NULL)) {
			err = CF_CORRUPT();
			break;
		}
		cf_prop_format(d, num, str, 0, out->value, sizeof(out->value));
		cf_prop_format(d, num, str, 1, out->raw, sizeof(out->raw));
		if (from == dirobj && !snap) {
			out->source = COFFER_SRC_LOCAL;
		} else {
			out->source = COFFER_SRC_INHERITED;
			/* name of the dir it comes from */
			const char *p = name;
			char buf[DSL_NAME_MAX + 1];
			cf_strlcpy(buf, p, sizeof(buf));
			char *at = strchr(buf, '@');
			if (at)
				*at = 0;
			/* walk up until the dir matches */
			for (;;) {
				uint64_t o;
				if (dsl_dir_lookup(dp, buf, &o) == 0 &&
				    o == from)
					break;
				char *s = strrchr(buf, '/');
				if (!s)
					break;
				*s = 0;
			}
			if (snap && from == dirobj)
				out->source = COFFER_SRC_INHERITED;
			cf_strlcpy(out->inherited_from, buf,
			    sizeof(out->inherited_from));
		}
		break;
	}
	}
out:
	pthread_rwlock_unlock(&dp->lock);
	return err;
}

struct setprop_arg {
	const char *name;
	const cf_propdef_t *d;
	const char *value;      /* canonical; NULL = inherit */
	int internal;           /* skip the user-facing checks */
};

static int setprop_task(dsl_pool_t *dp, void *arg, uint64_t txg)
{
	struct setprop_arg *a = arg;
	uint64_t dirobj;
	int err = dsl_dir_lookup(dp, a->name, &dirobj);
	if (err)
		return err;
	dirrec_t r;
	err = dir_read(dp, dirobj, &r);
	if (err)
		return err;
	const char *why = NULL;
	if (!strcmp(a->d->name, "keylocation") && !a->internal &&
	    (!r.keyrec || r.encroot != dirobj)) {
		cf_set_errdetail("cannot set property 'keylocation': '%s' is "
		    "not an encryption root", a->name);
		return COFFER_EBADPROP;
	}
	if (a->value && !a->internal &&
	    cf_prop_check_set(a->d, (int)r.type, 0, &why)) {
		cf_set_errdetail("cannot set property '%s': %s", a->d->name,
		    why ? why : "not allowed");
		return COFFER_EBADPROP;
	}
	cf_tx_t tx;
	cf_tx_sync_init(&tx, dp->mos, txg);
	if (a->value) {
		err = cf_zap_update(dp->mos, &tx, r.props, a->d->name,
		    a->value, strlen(a->value));
	} else {
		err = cf_zap_remove(dp->mos, &tx, r.props, a->d->name);
		if (err == -ENOENT)
			err = 0;
	}
	return err;
}

int dsl_prop_set_internal(dsl_pool_t *dp, const char *name,
    const char *prop, const char *value)
{
	const cf_propdef_t *d = cf_prop_find(prop);
	if (!d)
		return 0;               /* not a stored property */
	char str[512];
	uint64_t num;
	if (cf_prop_parse(d, value, &num, str, sizeof(str), NULL))
		return COFFER_EBADPROP;
	char canon[512];
	if (d->type == CF_PTYPE_NUMBER)
		snprintf(canon, sizeof(canon), "%llu", (unsigned long long)num);
	else
		cf_strlcpy(canon, str, sizeof(canon));
	struct setprop_arg a = { name, d, canon, 1 };
	return dsl_sync_task(dp, setprop_task, &a);
}

int dsl_prop_set(dsl_pool_t *dp, const char *name, const char *prop,
    const char *value)
{
	const cf_propdef_t *d = cf_prop_find(prop);
	if (!d) {
		cf_set_errdetail("no such property '%s'", prop);
		return COFFER_EBADPROP;
	}
	int err = dsl_name_check(name, 0);
	if (err)
		return err;
	if (d->id == CF_PROP_VOLSIZE) {
		cf_set_errdetail("cannot set property 'volsize': volumes keep "
		    "the size they were created with");
		return COFFER_EBADPROP;
	}
	if (d->flags & (CF_PF_READONLY | CF_PF_CREATEONLY)) {
		/* the table's reason (encryption points to reencrypt, the
		 * key properties to change-key) */
		const char *why = NULL;
		(void)cf_prop_check_set(d, (d->applies & COFFER_TYPE_FILESYSTEM)
		    ? COFFER_TYPE_FILESYSTEM : COFFER_TYPE_VOLUME, 0, &why);
		cf_set_errdetail("cannot set property '%s': %s", prop,
		    why ? why : "not allowed");
		return COFFER_EBADPROP;
	}
	char str[512];
	uint64_t num;
	const char *why = NULL;
	if (cf_prop_parse(d, value, &num, str, sizeof(str), &why)) {
		cf_set_errdetail("bad value '%s' for property '%s': %s", value,
		    prop, why ? why : "invalid");
		return COFFER_EBADPROP;
	}
	char canon[512];
	if (d->type == CF_PTYPE_NUMBER)
		snprintf(canon, sizeof(canon), "%llu", (unsigned long long)num);
	else
		cf_strlcpy(canon, str, sizeof(canon));
	struct setprop_arg a = { name, d, canon, 0 };
	err = dsl_sync_task(dp, setprop_task, &a);
	if (!err)
		dsl_refresh_settings(dp);
	return err;
}

int dsl_prop_inherit(dsl_pool_t *dp, const char *name, const char *prop)
{
	const cf_propdef_t *d = cf_prop_find(prop);
	if (!d) {
		cf_set_errdetail("no such property '%s'", prop);
		return COFFER_EBADPROP;
	}
	if (d->flags & CF_PF_CREATEONLY) {
		/* encryption: inheriting would change it after creation */
		const char *why = NULL;
		(void)cf_prop_check_set(d, (d->applies & COFFER_TYPE_FILESYSTEM)
		    ? COFFER_TYPE_FILESYSTEM : COFFER_TYPE_VOLUME, 0, &why);
		cf_set_errdetail("cannot inherit property '%s': %s", prop,
		    why ? why : "not allowed");
		return COFFER_EBADPROP;
	}
	if (d->flags & CF_PF_READONLY || !(d->flags & CF_PF_INHERIT)) {
		cf_set_errdetail("property '%s' cannot be inherited", prop);
		return COFFER_EBADPROP;
	}
	int err = dsl_name_check(name, 0);
	if (err)
		return err;
	struct setprop_arg a = { name, d, NULL, 0 };
	err = dsl_sync_task(dp, setprop_task, &a);
	if (!err)
		dsl_refresh_settings(dp);
	return err;
}

/* ---- create ------------------------------------------------------------------------ */

static dsl_dataset_t *ds_new(dsl_pool_t *dp, const char *name)
{
	dsl_dataset_t *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->dp = dp;
	cf_strlcpy(d->name, name, sizeof(d->name));
	pthread_mutex_init(&d->acct, NULL);
	return d;
}

/* Create dir + head ds + zaps in sync context; returns dir obj. */
int create_dir(dsl_pool_t *dp, cf_tx_t *tx, uint64_t parent,
    int type, uint64_t volsize, uint64_t txg, uint64_t *dirp, uint64_t *dsp)
{
	dirrec_t r;
	dsrec_t s;
	uint64_t dirobj, dsobj;
	memset(&r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	int err = cf_obj_alloc(dp->mos, tx, CF_OT_DSL_DIR, 512, &dirobj);
	if (!err)
		err = cf_obj_alloc(dp->mos, tx, CF_OT_DSL_DATASET, 512, &dsobj);
	if (!err)
		err = cf_zap_create(dp->mos, tx, CF_OT_ZAP, &r.children);
	if (!err)
		err = cf_zap_create(dp->mos, tx, CF_OT_DSL_PROPS, &r.props);
	if (!err)
		err = cf_zap_create(dp->mos, tx, CF_OT_ZAP, &r.snapnames);
	if (!err)
		err = deadlist_create(dp, tx, &s.deadlist);
	if (err)
		return err;
	r.parent = parent;
	r.head = dsobj;
	r.creation = (uint64_t)time(NULL);
	r.type = (uint64_t)type;
	r.volsize = volsize;
	s.dir = dirobj;
	s.txg = txg;
	s.creation = r.creation;
	s.guid = cf_random_guid();
	err = dir_write(dp, tx, dirobj, &r);
	if (!err)
		err = ds_write(dp, tx, dsobj, &s);
	*dirp = dirobj;
	*dsp = dsobj;
	return err;
}

/* Open a head's objset and register it (sync context or not). */
/*
 * Open a head's objset and register it.  An encrypted head needs its
 * root's key (COFFER_ENOKEY) and must match its ledger entry, unless it
 * is being created (cs given: the ledger learns it at this txg's sync).
 */
static int head_open_impl(dsl_pool_t *dp, uint64_t dirobj, uint64_t dsobj,
    const char *name, cf_cryptset_t *cs, int raw, dsl_dataset_t **out);

int head_open_cs(dsl_pool_t *dp, uint64_t dirobj, uint64_t dsobj,
    const char *name, cf_cryptset_t *cs, dsl_dataset_t **out)
{
	return head_open_impl(dp, dirobj, dsobj, name, cs, 0, out);
}

int head_open_raw(dsl_pool_t *dp, uint64_t dirobj, uint64_t dsobj,
    const char *name, dsl_dataset_t **out)
{
	return head_open_impl(dp, dirobj, dsobj, name, NULL, 1, out);
}

static int head_open_impl(dsl_pool_t *dp, uint64_t dirobj, uint64_t dsobj,
    const char *name, cf_cryptset_t *cs, int raw, dsl_dataset_t **out)
{
	dsl_dataset_t *d = ds_new(dp, name);
	if (!d) {
		dsl_crypt_cryptset_free(cs);
		return -ENOMEM;
	}
	d->dsobj = dsobj;
	d->dirobj = dirobj;
	int err = ds_read(dp, dsobj, &d->ds);
	if (!err)
		err = dir_read(dp, dirobj, &d->dir);
	cf_os_settings_t s;
	if (!err)
		err = dsl_settings(dp, dirobj, &s);
	d->type = (int)d->dir.type;
	if (!err) {
		if (d->type == COFFER_TYPE_VOLUME) {
			/* volumes use volblocksize for their one object */
			uint64_t vbs;
			err = prop_num(dp, dirobj, CF_PROP_VOLBLOCKSIZE, &vbs);
			s.recordsize = (uint32_t)vbs;
		}
	}
	int check = 0;
	if (!err && d->dir.keyrec && !cs && !raw) {
		err = dsl_crypt_cryptset(dp, dirobj, &d->dir, &cs);
		check = 1;
	}
	d->cs = cs;
	if (!err)
		err = cf_os_open_crypt(dp->spa, &d->ds.root,
		    d->type == COFFER_TYPE_VOLUME ? CF_OS_TYPE_VOL :
		    CF_OS_TYPE_FS, &s, &dsl_head_ops, d, name, cs, &d->os);
	if (!err && raw)
		cf_os_set_raw(d->os);
	if (!err && check) {
		err = dsl_crypt_ledger_check(dp, &d->dir, d->os, name);
		if (err)
			cf_os_close(d->os);
		else
			d->ledger_txg = d->ds.root.birth;
	}
	if (err == COFFER_EAUTH && !coffer_errdetail()[0])
		cf_set_errdetail("'%s' fails authentication", name);
	if (err) {
		dsl_crypt_cryptset_free(d->cs);
		pthread_mutex_destroy(&d->acct);
		free(d);
		return err;
	}
	pthread_mutex_lock(&dp->ds_lock);
	d->next = dp->open;
	dp->open = d;
	pthread_mutex_unlock(&dp->ds_lock);
	*out = d;
	return 0;
}

static int head_open(dsl_pool_t *dp, uint64_t dirobj, uint64_t dsobj,
    const char *name, dsl_dataset_t **out)
{
	return head_open_cs(dp, dirobj, dsobj, name, NULL, out);
}

static int format_objset_rw(dsl_dataset_t *d, uint64_t txg,
    uint64_t volsize);

/* Write the initial contents of a new dataset, even one created with
 * readonly=on: the property restricts users, not its creation. */
static int format_objset(dsl_dataset_t *d, uint64_t txg, uint64_t volsize)
{
	cf_os_settings_t s, rw;
	dsl_settings(d->dp, d->dirobj, &s);
	if (d->type == COFFER_TYPE_VOLUME)
		s.recordsize = cf_os_recordsize(d->os);
	rw = s;
	rw.readonly = 0;
	cf_os_set_settings(d->os, &rw);
	int err = format_objset_rw(d, txg, volsize);
	cf_os_set_settings(d->os, &s);
	return err;
}

static int format_objset_rw(dsl_dataset_t *d, uint64_t txg,
    uint64_t volsize)
{
	cf_tx_t tx;
	cf_tx_sync_init(&tx, d->os, txg);
	if (d->type == COFFER_TYPE_VOLUME) {
		uint64_t obj;
		int err = cf_obj_alloc(d->os, &tx, CF_OT_VOLUME,
		    cf_os_recordsize(d->os), &obj);
		if (!err && obj != 1)
			err = CF_CORRUPT();
		if (!err) {
			uint8_t b[8];
			le64_put(b, volsize);
			err = cf_bonus_write(d->os, &tx, obj, b, 8);
		}
		return err;
	}
	return cf_fs_format(d->os, &tx, 0, 0, 0755);
}

static int is_crypt_prop(const char *name)
{
	static const char *const names[] = { "encryption", "keyformat",
		"keylocation", "pbkdf", "pbkdf2iters" };
	for (size_t i = 0; i < CF_ARRAY_SIZE(names); i++)
		if (!strcmp(name, names[i]))
			return 1;
	return 0;
}

static int apply_create_props(dsl_pool_t *dp, cf_tx_t *tx, uint64_t props,
    int type, const char *const *kv)
{
	for (int i = 0; kv && kv[i]; i++) {
		const char *eq = strchr(kv[i], '=');
		char name[64];
		if (!eq || (size_t)(eq - kv[i]) >= sizeof(name)) {
			cf_set_errdetail("bad property assignment '%s'", kv[i]);
			return COFFER_EBADPROP;
		}
		memcpy(name, kv[i], (size_t)(eq - kv[i]));
		name[eq - kv[i]] = 0;
		const cf_propdef_t *d = cf_prop_find(name);
		const char *why = NULL;
		if (!d && is_crypt_prop(name)) {
			/* validated by dsl_crypt_prepare; kept as given */
			if (tx) {
				int err = cf_zap_update(dp->mos, tx, props, name,
				    eq + 1, strlen(eq + 1));
				if (err)
					return err;
			}
			continue;
		}
		if (!d) {
			cf_set_errdetail("no such property '%s'", name);
			return COFFER_EBADPROP;
		}
		if (d->id == CF_PROP_VOLSIZE)
			continue;       /* given separately */
		if (cf_prop_check_set(d, type, 1, &why)) {
			cf_set_errdetail("cannot set property '%s': %s", name,
			    why ? why : "not allowed");
			return COFFER_EBADPROP;
		}
		char str[512];
		uint64_t num;
		if (cf_prop_parse(d, eq + 1, &num, str, sizeof(str), &why)) {
			cf_set_errdetail("bad value '%s' for property '%s': %s",
			    eq + 1, name, why ? why : "invalid");
			return COFFER_EBADPROP;
		}
		char canon[512];
		if (d->type == CF_PTYPE_NUMBER)
			snprintf(canon, sizeof(canon), "%llu",
			    (unsigned long long)num);
		else
			cf_strlcpy(canon, str, sizeof(canon));
		if (tx) {
			int err = cf_zap_update(dp->mos, tx, props, name, canon,
			    strlen(canon));
			if (err)
				return err;
		}
	}
	return 0;
}

int dsl_create_root(dsl_pool_t *dp, uint64_t txg, const char *const *props)
{
	cf_tx_t tx;
	cf_tx_sync_init(&tx, dp->mos, txg);
	int err = apply_create_props(dp, NULL, 0, COFFER_TYPE_FILESYSTEM,
	    props);
	if (err)
		return err;
	uint64_t dirobj, dsobj;
	err = create_dir(dp, &tx, 0, COFFER_TYPE_FILESYSTEM, 0, txg, &dirobj,
	    &dsobj);
	if (!err)
		err = cf_zap_add_u64(dp->mos, &tx, DSL_OBJDIR, "root_dir",
		    dirobj);
	dp->root_dir = dirobj;
	dirrec_t r;
	if (!err)
		err = dir_read(dp, dirobj, &r);
	if (!err)
		err = apply_create_props(dp, &tx, r.props,
		    COFFER_TYPE_FILESYSTEM, props);
	dsl_dataset_t *d;
	if (!err)
		err = head_open(dp, dirobj, dsobj, cf_spa_name(dp->spa), &d);
	if (!err)
		err = format_objset(d, txg, 0);
	return err;
}

struct create_arg {
	const char *name;
	int type;
	uint64_t volsize;
	const char *const *props;
	crypt_plan_t *plan;
};

static int create_task(dsl_pool_t *dp, void *arg, uint64_t txg)
{
	struct create_arg *a = arg;
	char parent[DSL_NAME_MAX + 1];
	const char *leaf;
	uint64_t pdir, existing;
	int err = split_parent(a->name, parent, sizeof(parent), &leaf);
	if (err) {
		cf_set_errdetail("'%s' is a pool; it exists already", a->name);
		return COFFER_EEXIST;
	}
	err = dsl_dir_lookup(dp, parent, &pdir);
	if (err == COFFER_ENODS) {
		cf_set_errdetail("parent '%s' does not exist", parent);
		return COFFER_ENODS;
	}
	if (err)
		return err;
	if (dsl_dir_lookup(dp, a->name, &existing) == 0) {
		cf_set_errdetail("dataset '%s' already exists", a->name);
		return COFFER_EEXIST;
	}
	dirrec_t pr;
	err = dir_read(dp, pdir, &pr);
	if (err)
		return err;
	if (pr.type == COFFER_TYPE_VOLUME) {
		cf_set_errdetail("parent '%s' is a volume", parent);
		return COFFER_EBADNAME;
	}
	/* validate every property before changing anything */
	err = apply_create_props(dp, NULL, 0, a->type, a->props);
	if (err)
		return err;
	cf_tx_t tx;
	cf_tx_sync_init(&tx, dp->mos, txg);
	uint64_t dirobj, dsobj;
	err = create_dir(dp, &tx, pdir, a->type, a->volsize, txg, &dirobj,
	    &dsobj);
	if (!err)
		err = cf_zap_add_u64(dp->mos, &tx, pr.children, leaf, dirobj);
	dirrec_t r;
	if (!err)
		err = dir_read(dp, dirobj, &r);
	if (!err)
		err = apply_create_props(dp, &tx, r.props, a->type, a->props);
	cf_cryptset_t *cs = NULL;
	if (!err && dsl_crypt_plan_encrypted(a->plan)) {
		if (pr.keyrec && pr.encroot != a->plan->encroot &&
		    !a->plan->root)
			err = COFFER_ENOKEY;
		if (!err)
			err = dsl_crypt_create_sync(dp, &tx, a->plan, dirobj, &r,
			    &cs);
		size_t vl;
		char tmp[8];
		if (!err && a->plan->root && cf_zap_lookup(dp->mos, r.props,
		    "keylocation", tmp, sizeof(tmp), &vl) == -ENOENT)
			err = cf_zap_update(dp->mos, &tx, r.props, "keylocation",
			    "prompt", 6);
		if (!err)
			err = dir_write(dp, &tx, dirobj, &r);
	}
	dsl_dataset_t *d;
	if (!err)
		err = head_open_cs(dp, dirobj, dsobj, a->name, cs, &d);
	else
		dsl_crypt_cryptset_free(cs);
	if (!err)
		err = format_objset(d, txg, a->volsize);
	return err;
}

int dsl_create(dsl_pool_t *dp, const char *name, int type, uint64_t volsize,
    const char *const *props)
{
	return dsl_create_key(dp, name, type, volsize, props, NULL);
}

int dsl_create_key(dsl_pool_t *dp, const char *name, int type,
    uint64_t volsize, const char *const *props, const coffer_key_t *key)
{
	int err = dsl_name_check(name, 0);
	if (err)
		return err;
	if (type == COFFER_TYPE_VOLUME && volsize == 0) {
		cf_set_errdetail("a volume needs a size (-V SIZE)");
		return COFFER_EBADPROP;
	}
	if (type == COFFER_TYPE_VOLUME && volsize > (1ULL << 56)) {
		cf_set_errdetail("volume size is too large");
		return COFFER_EBADPROP;
	}
	/* the parent's encryption decides the child's (open context: the
	 * slow key derivation of a new root happens here) */
	char parent[DSL_NAME_MAX + 1];
	const char *leaf;
	uint64_t pdir = 0;
	if (split_parent(name, parent, sizeof(parent), &leaf) == 0) {
		pthread_rwlock_rdlock(&dp->lock);
		int e = dsl_dir_lookup(dp, parent, &pdir);
		pthread_rwlock_unlock(&dp->lock);
		if (e == COFFER_ENODS) {
			cf_set_errdetail("parent '%s' does not exist", parent);
			return e;
		}
		if (e)
			return e;
	}
	crypt_plan_t *plan = NULL;
	err = dsl_crypt_prepare(dp, pdir, props, key, &plan);
	if (err)
		return err;
	struct create_arg a = { name, type, volsize, props, plan };
	err = dsl_sync_task(dp, create_task, &a);
	dsl_crypt_plan_free(plan);
	return err;
}

/* ---- holds ---------------------------------------------------------------------------- */

static int hold(dsl_pool_t *dp, const char *name, cf_objset_t **os,
    dsl_dataset_t **dsp, int raw)
{
	int err = dsl_name_check(name, 1);
	if (err)
		return err;
	pthread_rwlock_rdlock(&dp->lock);
	if (strchr(name, '@')) {
		uint64_t dsobj;
		err = dsl_snap_lookup(dp, name, &dsobj);
		dsl_dataset_t *d = NULL;
		dsrec_t s;
		dirrec_t r;
		if (!err)
			err = ds_read(dp, dsobj, &s);
		if (!err)
			err = dir_read(dp, s.dir, &r);
		cf_os_settings_t set;
		if (!err)
			err = dsl_settings(dp, s.dir, &set);
		if (!err && !(d = ds_new(dp, name)))
			err = -ENOMEM;
		if (!err) {
			set.readonly = 1;
			d->snapshot = 1;
			d->dsobj = dsobj;
			d->dirobj = s.dir;
			d->ds = s;
			d->dir = r;
			d->type = (int)r.type;
			d->refs = 1;
			if (r.keyrec && !raw)
				err = dsl_crypt_cryptset(dp, s.dir, &r, &d->cs);
			if (!err)
				err = cf_os_open_crypt(dp->spa, &s.root,
				    d->type == COFFER_TYPE_VOLUME ?
				    CF_OS_TYPE_VOL : CF_OS_TYPE_FS, &set, NULL,
				    NULL, name, d->cs, &d->os);
			if (err == COFFER_EAUTH && !coffer_errdetail()[0])
				cf_set_errdetail("'%s' fails authentication",
				    name);
			if (err) {
				dsl_crypt_cryptset_free(d->cs);
				pthread_mutex_destroy(&d->acct);
				free(d);
			}
		}
		if (!err) {
			pthread_mutex_lock(&dp->ds_lock);
			d->next = dp->open;
			dp->open = d;
			pthread_mutex_unlock(&dp->ds_lock);
			*os = d->os;
			*dsp = d;
		}
		pthread_rwlock_unlock(&dp->lock);
		return err;
	}
	if (raw) {
		pthread_rwlock_unlock(&dp->lock);
		return -EINVAL;         /* raw sends are of snapshots */
	}
	uint64_t dirobj;
	dirrec_t r;
	err = dsl_dir_lookup(dp, name, &dirobj);
	if (!err)
		err = dir_read(dp, dirobj, &r);
	if (err) {
		pthread_rwlock_unlock(&dp->lock);
		return err;
	}
	pthread_mutex_lock(&dp->ds_lock);
	dsl_dataset_t *d = dsl_open_head(dp, r.head);
	if (d)
		d->refs++;
	pthread_mutex_unlock(&dp->ds_lock);
	if (!d) {
		err = head_open(dp, dirobj, r.head, name, &d);
		if (!err) {
			pthread_mutex_lock(&dp->ds_lock);
			d->refs++;
			pthread_mutex_unlock(&dp->ds_lock);
		}
	}
	pthread_rwlock_unlock(&dp->lock);
	if (!err) {
		if (dp->readonly) {
			cf_os_settings_t s;
			if (dsl_settings(dp, dirobj, &s) == 0) {
				s.readonly = 1;
				if (d->type == COFFER_TYPE_VOLUME)
					s.recordsize = cf_os_recordsize(d->os);
				cf_os_set_settings(d->os, &s);
			}
		}
		*os = d->os;
		*dsp = d;
	}
	return err;
}

void dsl_rele(dsl_pool_t *dp, dsl_dataset_t *d)
{
	pthread_mutex_lock(&dp->ds_lock);
	d->refs--;
	if (d->snapshot && d->refs == 0) {
		dsl_dataset_t **pp = &dp->open;
		while (*pp != d)
			pp = &(*pp)->next;
		*pp = d->next;
		pthread_mutex_unlock(&dp->ds_lock);
		cf_os_close(d->os);
		dsl_crypt_cryptset_free(d->cs);
		pthread_mutex_destroy(&d->acct);
		free(d);
		return;
	}
	/* heads stay open (and synced) until the pool closes or a task
	 * replaces them */
	pthread_mutex_unlock(&dp->ds_lock);
}

int dsl_ds_type(dsl_dataset_t *ds)
{
	return ds->type;
}

uint64_t dsl_ds_volsize(dsl_dataset_t *ds)
{
	return ds->dir.volsize;
}

/* Close an open head that nobody holds (sync context, after a flush).
 * COFFER_EBUSY when it is held. */
int head_close_unheld(dsl_pool_t *dp, uint64_t dsobj, uint64_t txg)
{
	pthread_mutex_lock(&dp->ds_lock);
	dsl_dataset_t *d = dsl_open_head(dp, dsobj);
	if (!d) {
		pthread_mutex_unlock(&dp->ds_lock);
		return 0;
	}
	if (d->refs > 0) {
		pthread_mutex_unlock(&dp->ds_lock);
		cf_set_errdetail("dataset '%s' is in use", d->name);
		return COFFER_EBUSY;
	}
	pthread_mutex_unlock(&dp->ds_lock);
	/* its changes of this txg were synced in step 1; write records */
	int err = ds_flush(d, txg);
	if (err)
		return err;
	pthread_mutex_lock(&dp->ds_lock);
	dsl_dataset_t **pp = &dp->open;
	while (*pp != d)
		pp = &(*pp)->next;
	*pp = d->next;
	pthread_mutex_unlock(&dp->ds_lock);
	cf_os_close(d->os);
	cf_buf_free(&d->dead);
	dsl_crypt_cryptset_free(d->cs);
	pthread_mutex_destroy(&d->acct);
	free(d);
	return 0;
}

struct unheld_arg {
	uint64_t rootdir;
};

static int close_unheld_task(dsl_pool_t *dp, void *arg, uint64_t txg)
{
	struct unheld_arg *a = arg;
	for (;;) {
		uint64_t dsobj = 0;
		pthread_mutex_lock(&dp->ds_lock);
		for (dsl_dataset_t *d = dp->open; d; d = d->next)
			if (!d->snapshot && !d->gone && d->cs &&
			    d->dir.encroot == a->rootdir) {
				dsobj = d->dsobj;
				break;
			}
		pthread_mutex_unlock(&dp->ds_lock);
		if (!dsobj)
			return 0;
		int err = head_close_unheld(dp, dsobj, txg);
		if (err)
			return err;
	}
}

int dsl_close_unheld(dsl_pool_t *dp, uint64_t rootdir)
{
	struct unheld_arg a = { rootdir };
	if (!dp->readonly)
		return dsl_sync_task(dp, close_unheld_task, &a);
	/* read-only: nothing is dirty, nothing to flush */
	for (;;) {
		dsl_dataset_t *found = NULL, **pp;
		pthread_mutex_lock(&dp->ds_lock);
		for (pp = &dp->open; *pp; pp = &(*pp)->next)
			if (!(*pp)->snapshot && (*pp)->cs &&
			    (*pp)->dir.encroot == rootdir) {
				found = *pp;
				if (found->refs > 0) {
					pthread_mutex_unlock(&dp->ds_lock);
					cf_set_errdetail("'%s' is in use",
					    found->name);
					return COFFER_EBUSY;
				}
				*pp = found->next;
				break;
			}
		pthread_mutex_unlock(&dp->ds_lock);
		if (!found)
			return 0;
		cf_os_close(found->os);
		cf_buf_free(&found->dead);
		dsl_crypt_cryptset_free(found->cs);
		pthread_mutex_destroy(&found->acct);
		free(found);
	}
}

/* ---- snapshots --------------------------------------------------------------------------- */

struct snap_arg {
	const char *fs;
	const char *snap;
	uint64_t guid;          /* 0: a new one */
};

int dsl_snapshot_sync(dsl_pool_t *dp, const char *fs, const char *snap,
    uint64_t guid, uint64_t txg);

static int snapshot_task(dsl_pool_t *dp, void *arg, uint64_t txg)
{
	struct snap_arg *a = arg;
	uint64_t dirobj, tmp;
	int err = dsl_dir_lookup(dp, a->fs, &dirobj);
	if (err) {
		cf_set_errdetail("dataset '%s' does not exist", a->fs);
		return err;
	}
	dirrec_t r;
	err = dir_read(dp, dirobj, &r);
	if (err)
		return err;
	if (cf_zap_lookup_u64(dp->mos, r.snapnames, a->snap, &tmp) == 0) {
		cf_set_errdetail("snapshot '%s@%s' already exists", a->fs,
		    a->snap);
		return COFFER_EEXIST;
	}
	/* the head's pending deadlist entries belong to the new snapshot */
	dsl_dataset_t *h = dsl_open_head(dp, r.head);
	if (h) {
		err = ds_flush(h, txg);
		if (err)
			return err;
	}
	dsrec_t head;
	err = ds_read(dp, r.head, &head);
	if (err)
		return err;
	cf_tx_t tx;
	cf_tx_sync_init(&tx, dp->mos, txg);
	uint64_t snapobj, newdl;
	err = cf_obj_alloc(dp->mos, &tx, CF_OT_DSL_DATASET, 512, &snapobj);
	if (!err)
		err = deadlist_create(dp, &tx, &newdl);
	if (err)
		return err;
	dsrec_t s = head;
	s.flags = DSF_SNAPSHOT;
	s.txg = txg;
	s.creation = (uint64_t)time(NULL);
	s.guid = a->guid ? a->guid : cf_random_guid();
	s.next = 0;
	err = ds_write(dp, &tx, snapobj, &s);
	if (!err && head.prev) {
		dsrec_t p;
		err = ds_read(dp, head.prev, &p);
		if (!err) {
			p.next = snapobj;
			err = ds_write(dp, &tx, head.prev, &p);
		}
	}
	if (err)
		return err;
	head.prev = snapobj;
	head.prev_txg = txg;
	head.deadlist = newdl;
	err = ds_write(dp, &tx, r.head, &head);
	if (!err)
		err = cf_zap_add_u64(dp->mos, &tx, r.snapnames, a->snap,
		    snapobj);
	if (!err && h) {
		pthread_mutex_lock(&h->acct);
		h->ds.prev = snapobj;
		h->ds.prev_txg = txg;
		h->ds.deadlist = newdl;
		pthread_mutex_unlock(&h->acct);
	}
	return err;
}

int dsl_snapshot(dsl_pool_t *dp, const char *snapname)
{
	int err = dsl_name_check(snapname, 1);
	if (err)
		return err;
	const char *at = strchr(snapname, '@');
	if (!at) {
		cf_set_errdetail("'%s' is not a snapshot name (DATASET@NAME)",
		    snapname);
		return COFFER_EBADNAME;
	}
	char fs[DSL_NAME_MAX + 1];
	memcpy(fs, snapname, (size_t)(at - snapname));
	fs[at - snapname] = 0;
	struct snap_arg a = { fs, at + 1, 0 };
	return dsl_sync_task(dp, snapshot_task, &a);
}

/* Read a whole deadlist into memory (bounded by the pool's size). */
static int deadlist_load(dsl_pool_t *dp, uint64_t obj, cf_buf_t *out)
{
	uint64_t cnt;
	memset(out, 0, sizeof(*out));
	int err = deadlist_count(dp, obj, &cnt);
	if (err)
		return err;
	if (cnt * CF_BP_SIZE > SIZE_MAX / 2)
		return CF_CORRUPT();
	err = cf_buf_reserve(out, cnt * CF_BP_SIZE);
	if (err)
		return err;
	err = cf_obj_read(dp->mos, obj, 0, cnt * CF_BP_SIZE, out->data);
	if (!err)
		out->len = cnt * CF_BP_SIZE;
	return err;
}

/* Replace the contents of deadlist obj by buf. */
int deadlist_rewrite(dsl_pool_t *dp, cf_tx_t *tx, uint64_t obj,
    const cf_buf_t *buf)
{
	int err = cf_obj_free_range(dp->mos, tx, obj, 0, UINT64_MAX);
	if (!err && buf->len)
		err = cf_obj_write(dp->mos, tx, obj, 0, buf->len, buf->data);
	uint8_t b[8];
	le64_put(b, buf->len / CF_BP_SIZE);
	if (!err)
		err = cf_bonus_write(dp->mos, tx, obj, b, 8);
	return err;
}

/* Adjust the used space of a dir (in memory too when open): bytes of
 * asize, lbytes of logical space. */
static int dir_used_sub(dsl_pool_t *dp, cf_tx_t *tx, uint64_t dirobj,
    uint64_t headobj, uint64_t bytes, const lacct_t *lbytes)
{
	dsl_dataset_t *h = dsl_open_head(dp, headobj);
	if (h) {
		pthread_mutex_lock(&h->acct);
		h->dir.used -= CF_MIN(bytes, h->dir.used);
		lacct_sub(&h->dir.lused, lbytes->l, lbytes->p);
		h->dirty = 1;
		pthread_mutex_unlock(&h->acct);
		return 0;
	}
	dirrec_t r;
	int err = dir_read(dp, dirobj, &r);
	if (err)
		return err;
	r.used -= CF_MIN(bytes, r.used);
	lacct_sub(&r.lused, lbytes->l, lbytes->p);
	return dir_write(dp, tx, dirobj, &r);
}

/* A snapshot's object and records, with a message when it is missing. */
static int snap_records(dsl_pool_t *dp, const char *name, uint64_t *snapobj,
    dsrec_t *s, dirrec_t *r)
{
	int err = dsl_snap_lookup(dp, name, snapobj);
	if (err) {
		cf_set_errdetail("snapshot '%s' does not exist", name);
		return err;
	}
	err = ds_read(dp, *snapobj, s);
	if (!err)
		err = dir_read(dp, s->dir, r);
	return err;
}

static int destroy_snap_task(dsl_pool_t *dp, void *arg, uint64_t txg)
{
	const char *name = arg;
	uint64_t snapobj;
	dsrec_t s;
	dirrec_t r;
	int err = snap_records(dp, name, &snapobj, &s, &r);
	if (err)
		return err;
	pthread_mutex_lock(&dp->ds_lock);
	for (dsl_dataset_t *d = dp->open; d; d = d->next)
		if (d->snapshot && d->dsobj == snapobj && d->refs > 0) {
			pthread_mutex_unlock(&dp->ds_lock);
			cf_set_errdetail("snapshot '%s' is in use", name);
			return COFFER_EBUSY;
		}
	pthread_mutex_unlock(&dp->ds_lock);
	uint64_t nextobj = s.next ? s.next : r.head;
	dsl_dataset_t *h = dsl_open_head(dp, r.head);
	if (h && !s.next) {
		err = ds_flush(h, txg);
		if (err)
			return err;
	}
	dsrec_t n;
	err = ds_read(dp, nextobj, &n);
	if (err)
		return err;
	cf_buf_t ndl, sdl, keep = { 0 };
	err = deadlist_load(dp, n.deadlist, &ndl);
	if (err)
		return err;
	err = deadlist_load(dp, s.deadlist, &sdl);
	if (err) {
		cf_buf_free(&ndl);
		return err;
	}
	cf_tx_t tx;
	cf_tx_sync_init(&tx, dp->mos, txg);
	uint64_t freed = 0;
	lacct_t lfreed = { 0, 0 };
	for (size_t off = 0; off < ndl.len && !err; off += CF_BP_SIZE) {
		cf_blkptr_t b;
		err = cf_bp_decode(ndl.data + off, &b);
		if (err)
			break;
		if (b.birth > s.prev_txg) {
			freed += cf_bp_asize(&b);
			lacct_add(&lfreed, b.lsize, b.psize);
			cf_spa_free(dp->spa, &b, txg);
		} else {
			err = cf_buf_append(&keep, ndl.data + off, CF_BP_SIZE);
		}
	}
	if (!err && sdl.len)
		err = cf_buf_append(&keep, sdl.data, sdl.len);
	if (!err)
		err = deadlist_rewrite(dp, &tx, n.deadlist, &keep);
	cf_buf_free(&ndl);
	cf_buf_free(&sdl);
	cf_buf_free(&keep);
	if (err)
		return err;
	/* unlink */
	n.prev = s.prev;
	n.prev_txg = s.prev_txg;
	if (h && !s.next) {
		pthread_mutex_lock(&h->acct);
		h->ds.prev = s.prev;
		h->ds.prev_txg = s.prev_txg;
		pthread_mutex_unlock(&h->acct);
	}
	err = ds_write(dp, &tx, nextobj, &n);
	if (!err && s.prev) {
		dsrec_t p;
		err = ds_read(dp, s.prev, &p);
		if (!err) {
			p.next = s.next;
			err = ds_write(dp, &tx, s.prev, &p);
		}
	}
	if (!err)
		err = dir_used_sub(dp, &tx, s.dir, r.head, freed, &lfreed);
	if (!err)
		err = cf_zap_remove(dp->mos, &tx, r.snapnames,
		    strchr(name, '@') + 1);
	if (!err)
		err = cf_obj_free(dp->mos, &tx, s.deadlist);
	if (!err)
		err = cf_obj_free(dp->mos, &tx, snapobj);
	return err;
}


int freeall_cb(void *arg, uint64_t obj, uint64_t blkid,
    const cf_blkptr_t *bp)
{
	struct freeall_arg *a = arg;
	(void)obj;
	(void)blkid;
	a->freed += cf_bp_asize(bp);
	lacct_add(&a->lfreed, bp->lsize, bp->psize);
	cf_spa_free(a->dp->spa, bp, a->txg);
	return 0;
}

static int destroy_head_task(dsl_pool_t *dp, void *arg, uint64_t txg)
{
	const char *name = arg;
	uint64_t dirobj;
	int err = dsl_dir_lookup(dp, name, &dirobj);
	if (err) {
		cf_set_errdetail("dataset '%s' does not exist", name);
		return err;
	}
	if (dirobj == dp->root_dir) {
		cf_set_errdetail("'%s' is the pool's root dataset; use "
		    "'coffer pool destroy'", name);
		return -EINVAL;
	}
	dirrec_t r;
	err = dir_read(dp, dirobj, &r);
	if (err)
		return err;
	uint64_t nch, nsnap;
	err = cf_zap_count(dp->mos, r.children, &nch);
	if (!err)
		err = cf_zap_count(dp->mos, r.snapnames, &nsnap);
	if (err)
		return err;
	if (nch || nsnap) {
		cf_set_errdetail("'%s' has %s; use -r to destroy them too",
		    name, nch ? "children" : "snapshots");
		return COFFER_EHASCHILD;
	}
	err = head_close_unheld(dp, r.head, txg);
	if (err)
		return err;
	dsrec_t s;
	err = ds_read(dp, r.head, &s);
	if (err)
		return err;
	/* the traversal reads what step 1 of this sync wrote */
	struct freeall_arg fa = { dp, txg, 0, { 0, 0 } };
	err = cf_os_traverse_root(dp->spa, &s.root, 0, freeall_cb, &fa);
	if (err)
		return err;
	dirrec_t pr;
	const char *leaf = strrchr(name, '/') + 1;
	cf_tx_t tx;
	cf_tx_sync_init(&tx, dp->mos, txg);
	err = dir_read(dp, r.parent, &pr);
	if (!err)
		err = cf_zap_remove(dp->mos, &tx, pr.children, leaf);
	if (!err && r.keyrec)
		err = dsl_crypt_destroy_sync(dp, &tx, &r);
	uint64_t objs[] = { s.deadlist, r.children, r.props, r.snapnames,
		r.head, dirobj };
	for (size_t i = 0; i < CF_ARRAY_SIZE(objs) && !err; i++)
		err = cf_obj_free(dp->mos, &tx, objs[i]);
	return err;
}

int dsl_destroy(dsl_pool_t *dp, const char *name)
{
	int err = dsl_name_check(name, 1);
	if (err)
		return err;
	if (strchr(name, '@'))
		return dsl_sync_task(dp, destroy_snap_task, (void *)name);
	return dsl_sync_task(dp, destroy_head_task, (void *)name);
}

static int rollback_task(dsl_pool_t *dp, void *arg, uint64_t txg)
{
	const char *name = arg;
	uint64_t snapobj;
	dsrec_t s;
	dirrec_t r;
	int err = snap_records(dp, name, &snapobj, &s, &r);
	if (err)
		return err;
	if (s.next) {
		cf_set_errdetail("'%s' is not the most recent snapshot; use -r "
		    "to destroy the later ones", name);
		return COFFER_EHASCHILD;
	}
	if (r.keyrec && dsl_keystatus(dp, &r) != 1) {
		cf_set_errdetail("the key must be loaded (the rollback updates "
		    "the dataset's authenticated ledger)");
		return COFFER_ENOKEY;
	}
	err = head_close_unheld(dp, r.head, txg);
	if (err)
		return err;
	/* closing wrote the head's records of this txg: read them now, or
	 * the space its last sync accounted would be written over */
	dsrec_t h;
	err = dir_read(dp, s.dir, &r);
	if (!err)
		err = ds_read(dp, r.head, &h);
	if (err)
		return err;
	struct freeall_arg fa = { dp, txg, 0, { 0, 0 } };
	err = cf_os_traverse_root(dp->spa, &h.root, s.txg, freeall_cb, &fa);
	if (err)
		return err;
	cf_tx_t tx;
	cf_tx_sync_init(&tx, dp->mos, txg);
	cf_buf_t empty = { 0 };
	err = deadlist_rewrite(dp, &tx, h.deadlist, &empty);
	if (err)
		return err;
	h.root = s.root;
	h.referenced = s.referenced;
	h.lrefd = s.lrefd;
	err = ds_write(dp, &tx, r.head, &h);
	if (!err && r.keyrec)
		err = dsl_crypt_ledger_set(dp, &r, &h.root);
	if (!err) {
		r.used -= CF_MIN(fa.freed, r.used);
		lacct_sub(&r.lused, fa.lfreed.l, fa.lfreed.p);
		err = dir_write(dp, &tx, s.dir, &r);
	}
	return err;
}

int dsl_rollback(dsl_pool_t *dp, const char *snapname)
{
	int err = dsl_name_check(snapname, 1);
	if (err)
		return err;
	if (!strchr(snapname, '@')) {
		cf_set_errdetail("'%s' is not a snapshot name", snapname);
		return COFFER_EBADNAME;
	}
	return dsl_sync_task(dp, rollback_task, (void *)snapname);
}

/* ---- listing ---------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int dsl_children(dsl_pool_t *dp, const char *name,
    int (*cb)(const char *child, void *arg), void *arg)
{
	pthread_rwlock_rdlock(&dp->lock);
	uint64_t dirobj;
	dirrec_t r;
	kv_list_t l = { 0 };
	int err = dsl_dir_lookup(dp, name, &dirobj);
	if (!err)
		err = dir_read(dp, dirobj, &r);
	if (!err)
		err = kv_load(dp, r.children, &l);
	pthread_rwlock_unlock(&dp->lock);
	if (err)
		return err;
	if (l.n)
		qsort(l.keys, l.n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < l.n && !err; i++) {
		if (l.keys[i][0] == '%')
			continue;       /* a receive in progress: hidden */
		char full[DSL_NAME_MAX * 2 + 2];
		snprintf(full, sizeof(full), "%s/%s", name, l.keys[i]);
		err = cb(full, arg);
	}
	kv_free(&l);
	return err;
}

int dsl_snapshots(dsl_pool_t *dp, const char *name,
    int (*cb)(const char *snap, void *arg), void *arg)
{
	pthread_rwlock_rdlock(&dp->lock);
	uint64_t dirobj;
	dirrec_t r;
	kv_list_t l = { 0 };
	int err = dsl_dir_lookup(dp, name, &dirobj);
	if (!err)
		err = dir_read(dp, dirobj, &r);
	if (!err)
		err = kv_load(dp, r.snapnames, &l);
	/* creation order: by txg */
	uint64_t *txgs = NULL;
	if (!err && l.n && !(txgs = calloc(l.n, sizeof(*txgs))))
		err = -ENOMEM;
	for (size_t i = 0; i < l.n && !err; i++) {
		dsrec_t s;
		err = ds_read(dp, l.vals[i], &s);
		if (!err)
			txgs[i] = s.txg;
	}
	pthread_rwlock_unlock(&dp->lock);
	/* insertion sort: snapshot counts per dataset are small */
	for (size_t i = 1; i < l.n && !err; i++)
		for (size_t j = i; j > 0 && txgs[j - 1] > txgs[j]; j--) {
			uint64_t t = txgs[j];
			txgs[j] = txgs[j - 1];
			txgs[j - 1] = t;
			char *k = l.keys[j];
			l.keys[j] = l.keys[j - 1];
			l.keys[j - 1] = k;
		}
	for (size_t i = 0; i < l.n && !err; i++) {
		char full[DSL_NAME_MAX * 2 + 2];
		snprintf(full, sizeof(full), "%s@%s", name, l.keys[i]);
		err = cb(full, arg);
	}
	free(txgs);
	kv_free(&l);
	return err;
}

/* Sync context: snapshot fs@snap with a given guid (receive). */
int dsl_snapshot_sync(dsl_pool_t *dp, const char *fs, const char *snap,
    uint64_t guid, uint64_t txg)
{
	struct snap_arg a = { fs, snap, guid };
	return snapshot_task(dp, &a, txg);
}

int dsl_hold(dsl_pool_t *dp, const char *name, cf_objset_t **os,
    dsl_dataset_t **dsp)
{
	return hold(dp, name, os, dsp, 0);
}

void dsl_rawkeys_free(dsl_rawkeys_t *keys)
{
	cf_buf_free(&keys->keyrec);
	cf_buf_free(&keys->keystore);
	memset(keys, 0, sizeof(*keys));
}

int dsl_hold_raw(dsl_pool_t *dp, const char *snapname, cf_objset_t **os,
    dsl_dataset_t **dsp, dsl_rawkeys_t *keys)
{
	memset(keys, 0, sizeof(*keys));
	if (!strchr(snapname, '@'))
		return -EINVAL;
	int err = hold(dp, snapname, os, dsp, 1);
	if (err || !(*dsp)->dir.keyrec)
		return err;
	pthread_rwlock_rdlock(&dp->lock);
	err = dsl_crypt_raw_export(dp, &(*dsp)->dir, keys);
	pthread_rwlock_unlock(&dp->lock);
	if (!err)
		cf_os_mac(*os, keys->mac, &keys->mac_txg);
	if (err) {
		dsl_rawkeys_free(keys);
		dsl_rele(dp, *dsp);
	}
	return err;
}
