/*
 * lib: the public API (include/coffer.h) over spa, dsl and fs.
 *
 * Invariants
 *  1. Every entry point clears the thread's error detail first, so a
 *     detail always belongs to the failure just returned.
 *  2. A pool is open at most once per process (the kernel's record lock
 *     guards against other processes; this list guards against ourselves,
 *     since record locks do not conflict within one process).
 *  3. Nothing here prints or exits.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coffer.h"
#include "dsl/dsl.h"
#include "fs/fs.h"
#include "spa/spa.h"
#include "send/send.h"
#include "lib/signer.h"
#include "send/resume.h"

#define ENTER() cf_clear_errdetail()

struct coffer_pool {
	cf_spa_t *spa;
	dsl_pool_t *dp;
	int flags;
	char name[CF_POOL_NAME_MAX + 1];
	char *devs[CF_MAX_VDEVS];
	int ndev;
	struct coffer_pool *next;
};

struct coffer_fs {
	coffer_pool_t *pool;
	dsl_dataset_t *ds;
	cf_objset_t *os;
	cf_fs_t *fs;
	int vol;
	uint64_t volsize;
};

static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static coffer_pool_t *open_pools;

static int pool_name_check(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 200) {
		cf_set_errdetail("pool name '%s' is %s", name,
		    n ? "too long" : "empty");
		return COFFER_EBADNAME;
	}
	if (!((name[0] >= 'a' && name[0] <= 'z') ||
	    (name[0] >= 'A' && name[0] <= 'Z'))) {
		cf_set_errdetail("pool name '%s' must begin with a letter",
		    name);
		return COFFER_EBADNAME;
	}
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		    c == '.')) {
			cf_set_errdetail("invalid character '%c' in pool name "
			    "'%s'", c, name);
			return COFFER_EBADNAME;
		}
	}
	return 0;
}

static int register_open(coffer_pool_t *p)
{
	pthread_mutex_lock(&open_lock);
	for (coffer_pool_t *q = open_pools; q; q = q->next)
		if (strcmp(q->name, p->name) == 0) {
			pthread_mutex_unlock(&open_lock);
			cf_set_errdetail("pool '%s' is already open in this "
			    "process", p->name);
			return COFFER_EBUSY;
		}
	p->next = open_pools;
	open_pools = p;
	pthread_mutex_unlock(&open_lock);
	return 0;
}

static void unregister_open(coffer_pool_t *p)
{
	pthread_mutex_lock(&open_lock);
	for (coffer_pool_t **pp = &open_pools; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	pthread_mutex_unlock(&open_lock);
}

static void pool_free(coffer_pool_t *p)
{
	for (int i = 0; i < p->ndev; i++)
		free(p->devs[i]);
	free(p);
}

/* ---- pools ------------------------------------------------------------------ */

int coffer_pool_create(const char *name, const char *const *devs, int ndev,
    uint64_t size, const char *const *props, coffer_pool_t **out)
{
	ENTER();
	int err = pool_name_check(name);
	if (err)
		return err;
	if (ndev < 1 || ndev > CF_MAX_VDEVS) {
		cf_set_errdetail("a pool needs 1 to %d devices", CF_MAX_VDEVS);
		return -EINVAL;
	}
	static const char *const keyprops[] = { "encryption=", "keyformat=",
		"keylocation=", "pbkdf=", "pbkdf2iters=" };
	for (int i = 0; props && props[i]; i++)
		for (size_t k = 0; k < CF_ARRAY_SIZE(keyprops); k++)
			if (!strncmp(props[i], keyprops[k],
			    strlen(keyprops[k]))) {
				cf_set_errdetail("the pool's root dataset is not "
				    "encrypted; create an encrypted dataset "
				    "under it");
				return COFFER_EBADPROP;
			}
	cf_reg_entry_t e;
	if (cf_reg_lookup(name, &e) == 0) {
		cf_reg_entry_free(&e);
		cf_set_errdetail("pool '%s' already exists", name);
		return COFFER_EEXIST;
	}
	coffer_pool_t *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	cf_strlcpy(p->name, name, sizeof(p->name));
	err = register_open(p);
	if (err) {
		free(p);
		return err;
	}
	err = cf_spa_create(name, devs, ndev, size, &p->spa);
	if (err)
		goto fail;
	for (int i = 0; i < ndev; i++) {
		char *rp = realpath(devs[i], NULL);
		p->devs[i] = rp ? rp : strdup(devs[i]);
		p->ndev++;
	}
	err = cf_spa_lock(p->spa, p->devs[0]);
	if (err) {
		cf_spa_close(p->spa);
		goto fail;
	}
	err = dsl_pool_create(p->spa, props, &p->dp);
	if (err) {
		/* dsl_pool_create closed the spa on failure after start */
		goto wipe;
	}
	memset(&e, 0, sizeof(e));
	cf_strlcpy(e.name, name, sizeof(e.name));
	e.guid = cf_spa_guid(p->spa);
	e.ndev = p->ndev;
	for (int i = 0; i < p->ndev; i++)
		e.devs[i] = p->devs[i];
	err = cf_reg_add(&e);
	if (err) {
		dsl_pool_close(p->dp);
		goto wipe;
	}
	*out = p;
	return 0;
wipe:
	/* leave no half-made pool behind */
	for (int i = 0; i < p->ndev; i++) {
		cf_vdev_t *v;
		if (cf_vdev_open_file(p->devs[i], 0, 0, &v) == 0) {
			if (cf_label_wipe(v) != 0 || cf_vdev_flush(v) != 0)
				cf_log(COFFER_LOG_WARN, "cannot wipe '%s'",
				    p->devs[i]);
			cf_vdev_close(v);
		}
	}
fail:
	unregister_open(p);
	pool_free(p);
	return err;
}

int coffer_pool_open(const char *name, int flags, coffer_pool_t **out)
{
	ENTER();
	cf_reg_entry_t e;
	int err = cf_reg_lookup(name, &e);
	if (err == COFFER_ENOPOOL)
		cf_set_errdetail("no such pool '%s'", name);
	if (err)
		return err;
	coffer_pool_t *p = calloc(1, sizeof(*p));
	if (!p) {
		cf_reg_entry_free(&e);
		return -ENOMEM;
	}
	cf_strlcpy(p->name, name, sizeof(p->name));
	p->flags = flags;
	p->ndev = e.ndev;
	for (int i = 0; i < e.ndev; i++) {
		p->devs[i] = e.devs[i];
		e.devs[i] = NULL;
	}
	cf_reg_entry_free(&e);
	err = register_open(p);
	if (err) {
		pool_free(p);
		return err;
	}
	int sflags = (flags & COFFER_OPEN_RDONLY) ? CF_SPA_RDONLY : 0;
	err = cf_spa_open(name, (const char *const *)p->devs, p->ndev, sflags,
	    &p->spa);
	if (err)
		goto fail;
	err = cf_spa_lock(p->spa, p->devs[0]);
	if (err) {
		cf_spa_close(p->spa);
		goto fail;
	}
	err = dsl_pool_open(p->spa, &p->dp);
	if (err) {
		cf_spa_close(p->spa);
		goto fail;
	}
	*out = p;
	return 0;
fail:
	unregister_open(p);
	pool_free(p);
	return err;
}

int coffer_pool_close(coffer_pool_t *p)
{
	ENTER();
	if (!p)
		return 0;
	int err = dsl_pool_close(p->dp);
	unregister_open(p);
	pool_free(p);
	return err;
}

int coffer_pool_sync(coffer_pool_t *p)
{
	ENTER();
	return dsl_pool_sync(p->dp);
}

/* ---- import ------------------------------------------------------------------ */

typedef struct found {
	uint64_t guid;
	char name[CF_POOL_NAME_MAX + 1];
	uint32_t count;
	char *devs[CF_MAX_VDEVS];
	int state;
} found_t;

static int scan_dir(const char *dir, found_t **fv, size_t *fn)
{
	DIR *d = opendir(dir);
	if (!d) {
		cf_set_errdetail("cannot open directory '%s'", dir);
		return -errno;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		if (stat(path, &st) != 0 ||
		    !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
			continue;
		if (S_ISREG(st.st_mode) && st.st_size < CF_VDEV_MIN_SIZE)
			continue;
		cf_vdev_t *v;
		if (cf_vdev_open_file(path, CF_VDEV_RDONLY, 0, &v) != 0)
			continue;
		cf_label_config_t c;
		int r = cf_label_read_config(v, &c);
		cf_vdev_close(v);
		if (r <= 0 || c.state == CF_POOL_STATE_DESTROYED)
			continue;
		found_t *f = NULL;
		for (size_t i = 0; i < *fn; i++)
			if ((*fv)[i].guid == c.pool_guid)
				f = &(*fv)[i];
		if (!f) {
			found_t *nv = realloc(*fv, (*fn + 1) * sizeof(*nv));
			if (!nv)
				break;
			*fv = nv;
			f = &nv[(*fn)++];
			memset(f, 0, sizeof(*f));
			f->guid = c.pool_guid;
			cf_strlcpy(f->name, c.pool_name, sizeof(f->name));
			f->count = c.vdev_count;
		}
		if (c.vdev_index < CF_MAX_VDEVS && !f->devs[c.vdev_index])
			f->devs[c.vdev_index] = realpath(path, NULL);
	}
	closedir(d);
	return 0;
}

struct guid_find {
	uint64_t guid;
	int found;
};

static int reg_has_guid(const cf_reg_entry_t *e, void *arg)
{
	struct guid_find *g = arg;
	if (e->guid == g->guid)
		g->found = 1;
	return 0;
}

int coffer_pool_import(const char *dir, const char *name,
    coffer_import_cb cb, void *arg)
{
	ENTER();
	found_t *fv = NULL;
	size_t fn = 0;
	int err = scan_dir(dir ? dir : "/dev", &fv, &fn);
	if (err)
		return err;
	int matched = 0;
	for (size_t i = 0; i < fn && !err; i++) {
		found_t *f = &fv[i];
		int have = 0;
		for (uint32_t k = 0; k < f->count && k < CF_MAX_VDEVS; k++)
			have += f->devs[k] != NULL;
		int complete = have == (int)f->count;
		struct guid_find g = { f->guid, 0 };
		int imported = cf_reg_list(reg_has_guid, &g) == 0 && g.found;
		if (!name && imported)
			continue;
		if (!name) {
			if (cb)
				err = cb(f->name, f->guid, complete ? "ONLINE" :
				    "UNAVAIL (missing devices)", arg);
			continue;
		}
		char gs[32];
		snprintf(gs, sizeof(gs), "%llu", (unsigned long long)f->guid);
		if (strcmp(name, f->name) != 0 && strcmp(name, gs) != 0)
			continue;
		matched++;
		if (matched > 1) {
			cf_set_errdetail("more than one pool is named '%s'; "
			    "import by guid", name);
			err = COFFER_EEXIST;
			break;
		}
		if (!complete) {
			cf_set_errdetail("pool '%s' has %d of %u devices in "
			    "'%s'", f->name, have, f->count, dir ? dir : "/dev");
			err = COFFER_EDEVICE;
			break;
		}
		cf_reg_entry_t e;
		if (cf_reg_lookup(f->name, &e) == 0) {
			cf_reg_entry_free(&e);
			cf_set_errdetail("a pool named '%s' is already imported",
			    f->name);
			err = COFFER_EEXIST;
			break;
		}
		memset(&e, 0, sizeof(e));
		cf_strlcpy(e.name, f->name, sizeof(e.name));
		e.guid = f->guid;
		e.ndev = (int)f->count;
		for (uint32_t k = 0; k < f->count; k++)
			e.devs[k] = f->devs[k];
		err = cf_reg_add(&e);
		if (!err && cb)
			err = cb(f->name, f->guid, "ONLINE", arg);
	}
	if (name && !matched && !err) {
		cf_set_errdetail("no pool named '%s' found in '%s'", name,
		    dir ? dir : "/dev");
		err = COFFER_ENOPOOL;
	}
	for (size_t i = 0; i < fn; i++)
		for (int k = 0; k < CF_MAX_VDEVS; k++)
			free(fv[i].devs[k]);
	free(fv);
	return err;
}

int coffer_pool_export(const char *name)
{
	ENTER();
	coffer_pool_t *p;
	int err = coffer_pool_open(name, 0, &p);
	if (err)
		return err;
	/* an exported pool's keys are unloaded */
	dsl_crypt_forget_all(p->dp);
	err = coffer_pool_close(p);
	if (err)
		return err;
	return cf_reg_remove(name);
}

int coffer_pool_destroy(const char *name)
{
	ENTER();
	coffer_pool_t *p;
	int err = coffer_pool_open(name, 0, &p);
	cf_reg_entry_t e;
	if (err) {
		/* a pool whose devices are gone can still be forgotten */
		if (err != COFFER_EDEVICE)
			return err;
		return cf_reg_remove(name);
	}
	err = cf_reg_lookup(name, &e);
	/* a destroyed pool's keys are unloaded */
	if (!err)
		dsl_crypt_forget_all(p->dp);
	if (!err)
		err = coffer_pool_close(p);
	else
		coffer_pool_close(p);
	if (err)
		return err;
	for (int i = 0; i < e.ndev; i++) {
		cf_vdev_t *v;
		if (cf_vdev_open_file(e.devs[i], 0, 0, &v) == 0) {
			int r = cf_label_wipe(v);
			if (!r)
				r = cf_vdev_flush(v);
			cf_vdev_close(v);
			if (r && !err)
				err = r;
		}
	}
	cf_reg_entry_free(&e);
	int r = cf_reg_remove(name);
	return err ? err : r;
}

struct list_arg {
	int (*cb)(const char *name, void *arg);
	void *arg;
};

static int list_cb(const cf_reg_entry_t *e, void *arg)
{
	struct list_arg *a = arg;
	return a->cb(e->name, a->arg);
}

int coffer_pool_list(int (*cb)(const char *name, void *arg), void *arg)
{
	ENTER();
	struct list_arg a = { cb, arg };
	return cf_reg_list(list_cb, &a);
}

int coffer_pool_info(coffer_pool_t *p, coffer_pool_info_t *info)
{
	ENTER();
	memset(info, 0, sizeof(*info));
	cf_strlcpy(info->name, p->name, sizeof(info->name));
	info->guid = cf_spa_guid(p->spa);
	info->txg = cf_spa_synced_txg(p->spa);
	info->size = cf_spa_size(p->spa);
	info->allocated = cf_spa_allocated(p->spa);
	info->free = info->size - CF_MIN(info->size, info->allocated);
	info->ndev = cf_spa_ndev(p->spa);
	info->health = 0;
	for (int i = 0; i < info->ndev; i++) {
		cf_spa_stats_t st;
		cf_spa_dev_stats(p->spa, i, &st);
		info->read_errors += st.read_errors;
		info->cksum_errors += st.cksum_errors;
		info->healed += st.healed;
		if (cf_spa_dev_state(p->spa, i))
			info->health = 1;
	}
	if (cf_spa_failed(p->spa))
		info->health = 2;
	dsl_scrub_result(p->dp, info);
	return 0;
}

int coffer_pool_dev_info(coffer_pool_t *p, int i, coffer_dev_info_t *info)
{
	ENTER();
	if (i < 0 || i >= cf_spa_ndev(p->spa))
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	cf_strlcpy(info->path, i < p->ndev ? p->devs[i] : "?",
	    sizeof(info->path));
	info->guid = cf_spa_dev_guid(p->spa, i);
	cf_vdev_t *v = cf_spa_vdev(p->spa, i);
	info->size = cf_vdev_data_end(v) - cf_vdev_data_start(v);
	info->allocated = cf_spa_dev_allocated(p->spa, i);
	info->state = cf_spa_dev_state(p->spa, i);
	cf_spa_stats_t st;
	cf_spa_dev_stats(p->spa, i, &st);
	info->read_errors = st.read_errors;
	info->write_errors = st.write_errors;
	info->cksum_errors = st.cksum_errors;
	return 0;
}

/* ---- error log with paths ---------------------------------------------------------- */

struct path_find {
	cf_fs_t *fs;
	uint64_t target;
	char path[4096];
	int found;
	int depth;
};

static int find_in_dir(struct path_find *pf, uint64_t dir, size_t plen);

struct find_cb_arg {
	struct path_find *pf;
	size_t plen;
	uint64_t dirs[256];
	char *names[256];
	int ndirs;
};

static int find_cb(const char *name, uint64_t ino, uint32_t type,
    uint64_t next, void *arg)
{
	struct find_cb_arg *a = arg;
	struct path_find *pf = a->pf;
	(void)next;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	if (ino == pf->target) {
		snprintf(pf->path + a->plen, sizeof(pf->path) - a->plen, "/%s",
		    name);
		pf->found = 1;
		return 1;
	}
	if (type == 4 /* DT_DIR */ && a->ndirs < 256) {
		a->dirs[a->ndirs] = ino;
		a->names[a->ndirs] = strdup(name);
		a->ndirs++;
	}
	return 0;
}

static int find_in_dir(struct path_find *pf, uint64_t dir, size_t plen)
{
	if (pf->depth > 64)
		return 0;
	struct find_cb_arg *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->pf = pf;
	a->plen = plen;
	uint64_t cookie = 0;
	int err = cf_fs_readdir(pf->fs, dir, &cookie, find_cb, a);
	for (int i = 0; i < a->ndirs && !pf->found && err >= 0; i++) {
		int n = snprintf(pf->path + plen, sizeof(pf->path) - plen,
		    "/%s", a->names[i]);
		if (n < 0 || (size_t)n >= sizeof(pf->path) - plen)
			continue;
		pf->depth++;
		err = find_in_dir(pf, a->dirs[i], plen + (size_t)n);
		pf->depth--;
	}
	for (int i = 0; i < a->ndirs; i++)
		free(a->names[i]);
	free(a);
	return err < 0 ? err : 0;
}

struct errs_arg {
	coffer_pool_t *p;
	int (*cb)(const char *where, void *arg);
	void *arg;
};

static int errs_cb(const char *where, void *arg)
{
	struct errs_arg *a = arg;
	/* "tank/fs object N block B": find a path for N */
	char ds[600];
	unsigned long long obj = 0, blk = 0;
	const char *o = strstr(where, " object ");
	if (!o || sscanf(o, " object %llu block %llu", &obj, &blk) != 2)
		return a->cb(where, a->arg);
	size_t n = CF_MIN((size_t)(o - where), sizeof(ds) - 1);
	memcpy(ds, where, n);
	ds[n] = 0;
	char out[5000];
	snprintf(out, sizeof(out), "%s", where);
	if (ds[0] != '<') {
		coffer_fs_t *fs;
		if (coffer_fs_open(a->p, ds, COFFER_OPEN_RDONLY, &fs) == 0) {
			if (fs->fs) {
				struct path_find *pf = calloc(1, sizeof(*pf));
				if (pf) {
					pf->fs = fs->fs;
					pf->target = obj;
					if (obj == cf_fs_root(fs->fs)) {
						snprintf(out, sizeof(out),
						    "%s:/", ds);
					} else if (find_in_dir(pf,
					    cf_fs_root(fs->fs), 0) == 0 &&
					    pf->found) {
						snprintf(out, sizeof(out),
						    "%s:%s", ds, pf->path);
					}
					free(pf);
				}
			}
			coffer_fs_close(fs);
		}
	}
	return a->cb(out, a->arg);
}

int coffer_pool_errors(coffer_pool_t *p,
    int (*cb)(const char *where, void *arg), void *arg)
{
	ENTER();
	struct errs_arg a = { p, cb, arg };
	return dsl_errors(p->dp, errs_cb, &a);
}

int coffer_pool_scrub(coffer_pool_t *p, coffer_progress_fn progress,
    void *arg)
{
	ENTER();
	dsl_scrub_stats_t st;
	return dsl_scrub(p->dp, progress, arg, &st);
}

int coffer_pool_check(coffer_pool_t *p, coffer_check_report_t *rep)
{
	ENTER();
	if (!p || !rep)
		return -EINVAL;
	dsl_leak_report_t r;
	memset(rep, 0, sizeof(*rep));
	int err = dsl_leak_check(p->dp, &r);
	if (err)
		return err;
	rep->reachable_bytes = r.reachable_bytes;
	rep->allocated_bytes = r.allocated_bytes;
	rep->leaked_bytes = r.leaked_bytes;
	rep->double_refs = r.double_refs;
	rep->unallocated_refs = r.unallocated_refs;
	return 0;
}

/* ---- datasets ------------------------------------------------------------------------ */

int coffer_create(coffer_pool_t *p, const char *name, int type,
    uint64_t volsize, const char *const *props)
{
	return coffer_create_key(p, name, type, volsize, props, NULL);
}

int coffer_create_key(coffer_pool_t *p, const char *name, int type,
    uint64_t volsize, const char *const *props, const coffer_key_t *key)
{
	ENTER();
	if (type != COFFER_TYPE_FILESYSTEM && type != COFFER_TYPE_VOLUME)
		return -EINVAL;
	return dsl_create_key(p->dp, name, type, volsize, props, key);
}

/* ---- keys ------------------------------------------------------------------------ */

int coffer_load_key(coffer_pool_t *p, const char *ds, const coffer_key_t *key,
    int flags)
{
	ENTER();
	int err = dsl_lookup(p->dp, ds, NULL);
	if (err)
		return err;
	return dsl_load_key(p->dp, ds, key, flags);
}

int coffer_unload_key(coffer_pool_t *p, const char *ds)
{
	ENTER();
	int err = dsl_lookup(p->dp, ds, NULL);
	if (err)
		return err;
	return dsl_unload_key(p->dp, ds);
}

int coffer_change_key(coffer_pool_t *p, const char *ds,
    const char *const *props, const coffer_key_t *newkey, int inherit)
{
	ENTER();
	int err = dsl_lookup(p->dp, ds, NULL);
	if (err)
		return err;
	return dsl_change_key(p->dp, ds, props, newkey, inherit);
}

int coffer_key_slot_add(coffer_pool_t *p, const char *ds,
    const char *const *props, const coffer_key_t *newkey)
{
	ENTER();
	int err = dsl_lookup(p->dp, ds, NULL);
	if (err)
		return err;
	return dsl_key_slot_add(p->dp, ds, props, newkey);
}

int coffer_key_slot_remove(coffer_pool_t *p, const char *ds, int slot)
{
	ENTER();
	int err = dsl_lookup(p->dp, ds, NULL);
	if (err)
		return err;
	return dsl_key_slot_remove(p->dp, ds, slot);
}

int coffer_key_slot_list(coffer_pool_t *p, const char *ds,
    int (*cb)(const coffer_slot_info_t *info, void *arg), void *arg)
{
	ENTER();
	int err = dsl_lookup(p->dp, ds, NULL);
	if (err)
		return err;
	return dsl_key_slot_list(p->dp, ds, cb, arg);
}

static int destroy_rec(coffer_pool_t *p, const char *name)
{
	cf_strv_t kids = { 0 }, snaps = { 0 };
	int err = dsl_children(p->dp, name, cf_strv_add, &kids);
	for (size_t i = 0; i < kids.n && !err; i++)
		err = destroy_rec(p, kids.v[i]);
	if (!err)
		err = dsl_snapshots(p->dp, name, cf_strv_add, &snaps);
	/* newest first: each destroy then touches only the head's deadlist */
	for (size_t i = snaps.n; i > 0 && !err; i--)
		err = dsl_destroy(p->dp, snaps.v[i - 1]);
	if (!err)
		err = dsl_destroy(p->dp, name);
	cf_strv_free(&kids);
	cf_strv_free(&snaps);
	return err;
}

int coffer_destroy(coffer_pool_t *p, const char *name, int flags)
{
	ENTER();
	int err = dsl_lookup(p->dp, name, NULL);
	if (err) {
		if (err == COFFER_ENODS)
			cf_set_errdetail("dataset does not exist");
		return err;
	}
	if ((flags & COFFER_DESTROY_RECURSIVE) && !strchr(name, '@'))
		return destroy_rec(p, name);
	return dsl_destroy(p->dp, name);
}

int coffer_snapshot(coffer_pool_t *p, const char *snapname)
{
	ENTER();
	return dsl_snapshot(p->dp, snapname);
}

int coffer_rollback(coffer_pool_t *p, const char *snapname, int flags)
{
	ENTER();
	const char *at = strchr(snapname, '@');
	if (!at) {
		cf_set_errdetail("'%s' is not a snapshot name", snapname);
		return COFFER_EBADNAME;
	}
	int err = dsl_lookup(p->dp, snapname, NULL);
	if (err) {
		if (err == COFFER_ENODS)
			cf_set_errdetail("snapshot does not exist");
		return err;
	}
	if (flags & COFFER_DESTROY_RECURSIVE) {
		char fs[512];
		snprintf(fs, sizeof(fs), "%.*s", (int)(at - snapname),
		    snapname);
		cf_strv_t snaps = { 0 };
		err = dsl_snapshots(p->dp, fs, cf_strv_add, &snaps);
		/* destroy the snapshots after snapname, newest first */
		size_t idx = snaps.n;
		for (size_t i = 0; i < snaps.n; i++)
			if (strcmp(snaps.v[i], snapname) == 0)
				idx = i;
		for (size_t i = snaps.n; i > idx + 1 && !err; i--)
			err = dsl_destroy(p->dp, snaps.v[i - 1]);
		cf_strv_free(&snaps);
		if (err)
			return err;
	}
	return dsl_rollback(p->dp, snapname);
}

struct iter_arg {
	coffer_pool_t *p;
	int flags, types;
	coffer_ds_cb cb;
	void *arg;
};

static int iter_one(struct iter_arg *a, const char *name, int depth)
{
	int type;
	int err = dsl_lookup(a->p->dp, name, &type);
	if (err)
		return err;
	if (type & a->types) {
		err = a->cb(name, type, a->arg);
		if (err)
			return err;
	}
	if (a->types & COFFER_TYPE_SNAPSHOT) {
		cf_strv_t snaps = { 0 };
		err = dsl_snapshots(a->p->dp, name, cf_strv_add, &snaps);
		for (size_t i = 0; i < snaps.n && !err; i++)
			err = a->cb(snaps.v[i], COFFER_TYPE_SNAPSHOT, a->arg);
		cf_strv_free(&snaps);
		if (err)
			return err;
	}
	if (!(a->flags & COFFER_ITER_RECURSIVE) || depth > 64)
		return 0;
	cf_strv_t kids = { 0 };
	err = dsl_children(a->p->dp, name, cf_strv_add, &kids);
	for (size_t i = 0; i < kids.n && !err; i++)
		err = iter_one(a, kids.v[i], depth + 1);
	cf_strv_free(&kids);
	return err;
}

int coffer_ds_iter(coffer_pool_t *p, const char *root, int flags, int types,
    coffer_ds_cb cb, void *arg)
{
	ENTER();
	struct iter_arg a = { p, flags, types, cb, arg };
	const char *r = root ? root : p->name;
	if (strchr(r, '@')) {
		int err = dsl_lookup(p->dp, r, NULL);
		if (err)
			return err;
		return cb(r, COFFER_TYPE_SNAPSHOT, arg);
	}
	return iter_one(&a, r, 0);
}

int coffer_prop_get(coffer_pool_t *p, const char *ds, const char *prop,
    coffer_propval_t *out)
{
	ENTER();
	if (strcmp(prop, "receive_resume_token") != 0 || strchr(ds, '@'))
		return dsl_prop_get(p->dp, ds, prop, out);
	/* shown on the target, which a full stream has not made yet */
	int err = dsl_prop_get(p->dp, ds, prop, out);
	if (err && err != COFFER_ENODS)
		return err;
	char tok[sizeof(out->value)];
	int terr = cf_resume_token_get(p->dp, ds, tok, sizeof(tok));
	if (terr == COFFER_ENODS) {
		if (err)
			cf_set_errdetail("dataset does not exist");
		return err;
	}
	if (terr)
		return terr;
	cf_clear_errdetail();
	memset(out, 0, sizeof(*out));
	cf_strlcpy(out->value, tok, sizeof(out->value));
	cf_strlcpy(out->raw, tok, sizeof(out->raw));
	out->source = COFFER_SRC_NONE;
	return 0;
}

int coffer_prop_set(coffer_pool_t *p, const char *ds, const char *prop,
    const char *value)
{
	ENTER();
	return dsl_prop_set(p->dp, ds, prop, value);
}

int coffer_prop_inherit(coffer_pool_t *p, const char *ds, const char *prop)
{
	ENTER();
	return dsl_prop_inherit(p->dp, ds, prop);
}

static const char *prop_names_buf[CF_PROP_NPROPS + 1];

static void prop_names_init(void)
{
	for (int i = 0; i < cf_prop_count() && i < CF_PROP_NPROPS; i++)
		prop_names_buf[i] = cf_prop_at(i)->name;
}

static const char *const *names_table(const char **unused)
{
	(void)unused;
	return prop_names_buf;
}

const char *const *coffer_prop_names(void)
{
	static const char *names[CF_PROP_NPROPS + 1];
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, prop_names_init);
	return names_table(names);
}

/* ---- files --------------------------------------------------------------------------- */

int coffer_fs_open(coffer_pool_t *p, const char *name, int flags,
    coffer_fs_t **out)
{
	ENTER();
	coffer_fs_t *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->pool = p;
	int err = dsl_hold(p->dp, name, &f->os, &f->ds);
	if (err) {
		if (err == COFFER_ENODS)
			cf_set_errdetail("dataset does not exist");
		free(f);
		return err;
	}
	if (dsl_ds_type(f->ds) == COFFER_TYPE_VOLUME) {
		f->vol = 1;
		f->volsize = dsl_ds_volsize(f->ds);
	} else {
		err = cf_fs_mount(f->os, &f->fs);
		if (err) {
			dsl_rele(p->dp, f->ds);
			free(f);
			return err;
		}
	}
	(void)flags;
	*out = f;
	return 0;
}

int coffer_fs_close(coffer_fs_t *f)
{
	ENTER();
	if (!f)
		return 0;
	if (f->fs)
		cf_fs_unmount(f->fs);
	dsl_rele(f->pool->dp, f->ds);
	free(f);
	return 0;
}

#define NEED_FS(f) do { if (!(f)->fs) return -EINVAL; } while (0)

uint64_t coffer_fs_root(coffer_fs_t *f)
{
	return f->fs ? cf_fs_root(f->fs) : 0;
}

int coffer_resolve(coffer_fs_t *f, const char *path, int follow,
    uint64_t *ino)
{
	ENTER();
	NEED_FS(f);
	return cf_fs_resolve(f->fs, path, follow, ino);
}

int coffer_lookup(coffer_fs_t *f, uint64_t dir, const char *name,
    uint64_t *ino)
{
	ENTER();
	NEED_FS(f);
	return cf_fs_lookup(f->fs, dir, name, ino);
}

int coffer_getattr(coffer_fs_t *f, uint64_t ino, coffer_stat_t *st)
{
	ENTER();
	NEED_FS(f);
	return cf_fs_getattr(f->fs, ino, st);
}

int coffer_setattr(coffer_fs_t *f, uint64_t ino, int mask,
    const coffer_stat_t *st)
{
	ENTER();
	NEED_FS(f);
	return cf_fs_setattr(f->fs, ino, mask, st);
}

int coffer_mknod(coffer_fs_t *f, uint64_t dir, const char *name,
    uint32_t mode, uint32_t uid, uint32_t gid, uint64_t rdev,
    const char *target, uint64_t *ino)
{
	ENTER();
	NEED_FS(f);
	return cf_fs_mknod(f->fs, dir, name, mode, uid, gid, rdev, target,
	    ino);
}

int coffer_readlink(coffer_fs_t *f, uint64_t ino, char *buf, size_t size)
{
	ENTER();
	NEED_FS(f);
	return cf_fs_readlink(f->fs, ino, buf, size);
}

int coffer_link(coffer_fs_t *f, uint64_t ino, uint64_t newdir,
    const char *newname)
{
	ENTER();
	NEED_FS(f);
	return cf_fs_link(f->fs, ino, newdir, newname);
}

int coffer_unlink(coffer_fs_t *f, uint64_t dir, const char *name)
{
	ENTER();
	NEED_FS(f);
	return cf_fs_unlink(f->fs, dir, name);
}

int coffer_rmdir(coffer_fs_t *f, uint64_t dir, const char *name)
{
	ENTER();
	NEED_FS(f);
	return cf_fs_rmdir(f->fs, dir, name);
}

int coffer_rename(coffer_fs_t *f, uint64_t dir, const char *name,
    uint64_t newdir, const char *newname, int flags)
{
	ENTER();
	NEED_FS(f);
	return cf_fs_rename(f->fs, dir, name, newdir, newname, flags);
}

int64_t coffer_read(coffer_fs_t *f, uint64_t ino, uint64_t off, void *buf,
    size_t len)
{
	ENTER();
	NEED_FS(f);
	return cf_fs_read(f->fs, ino, off, buf, len);
}

int64_t coffer_write(coffer_fs_t *f, uint64_t ino, uint64_t off,
    const void *buf, size_t len)
{
	ENTER();
	NEED_FS(f);
	return cf_fs_write(f->fs, ino, off, buf, len);
}

int coffer_truncate(coffer_fs_t *f, uint64_t ino, uint64_t size)
{
	ENTER();
	NEED_FS(f);
	return cf_fs_truncate(f->fs, ino, size);
}

int coffer_readdir(coffer_fs_t *f, uint64_t dir, uint64_t *cookie,
    coffer_dir_cb cb, void *arg)
{
	ENTER();
	NEED_FS(f);
	return cf_fs_readdir(f->fs, dir, cookie, cb, arg);
}

int coffer_setxattr(coffer_fs_t *f, uint64_t ino, const char *name,
    const void *value, size_t size, int flags)
{
	ENTER();
	NEED_FS(f);
	return cf_fs_setxattr(f->fs, ino, name, value, size, flags);
}

int64_t coffer_getxattr(coffer_fs_t *f, uint64_t ino, const char *name,
    void *value, size_t size)
{
	ENTER();
	NEED_FS(f);
	return cf_fs_getxattr(f->fs, ino, name, value, size);
}

int64_t coffer_listxattr(coffer_fs_t *f, uint64_t ino, char *list,
    size_t size)
{
	ENTER();
	NEED_FS(f);
	return cf_fs_listxattr(f->fs, ino, list, size);
}

int coffer_removexattr(coffer_fs_t *f, uint64_t ino, const char *name)
{
	ENTER();
	NEED_FS(f);
	return cf_fs_removexattr(f->fs, ino, name);
}

/* ---- volumes ----------------------------------------------------------------------------- */

#define VOL_OBJ 1

uint64_t coffer_vol_size(coffer_fs_t *v)
{
	return v->vol ? v->volsize : 0;
}

int64_t coffer_vol_read(coffer_fs_t *v, uint64_t off, void *buf, size_t len)
{
	ENTER();
	if (!v->vol)
		return -EINVAL;
	if (off >= v->volsize)
		return 0;
	len = (size_t)CF_MIN((uint64_t)len, v->volsize - off);
	int err = cf_obj_read(v->os, VOL_OBJ, off, len, buf);
	return err ? err : (int64_t)len;
}

int64_t coffer_vol_write(coffer_fs_t *v, uint64_t off, const void *buf,
    size_t len)
{
	ENTER();
	if (!v->vol)
		return -EINVAL;
	if (off > v->volsize || len > v->volsize - off) {
		cf_set_errdetail("write past the end of the volume (%llu "
		    "bytes)", (unsigned long long)v->volsize);
		return -ENOSPC;
	}
	size_t done = 0;
	const uint8_t *in = buf;
	while (done < len) {
		size_t n = CF_MIN(len - done, (size_t)CF_TX_WRITE_MAX);
		cf_tx_t *tx;
		int err = cf_tx_begin(v->os, n, &tx);
		if (err)
			return done ? (int64_t)done : err;
		err = cf_obj_write(v->os, tx, VOL_OBJ, off + done, n,
		    in + done);
		cf_tx_end(tx);
		if (err)
			return done ? (int64_t)done : err;
		done += n;
	}
	return (int64_t)done;
}

/* ---- replication ------------------------------------------------------------------ */

int coffer_send(coffer_pool_t *p, const char *snap, const char *from,
    int flags, int fd, coffer_progress_fn progress, void *arg)
{
	ENTER();
	int err = dsl_lookup(p->dp, snap, NULL);
	if (err) {
		if (err == COFFER_ENODS)
			cf_set_errdetail("snapshot does not exist");
		return err;
	}
	int f = flags & (COFFER_SEND_RAW | COFFER_SEND_COMPRESSED |
	    COFFER_SEND_REPLICATE | COFFER_SEND_INTERMEDIATE);
	return cf_send(p->dp, snap, from, f, cf_stream_fd_write, &fd,
	    progress, arg);
}

_Static_assert(COFFER_SEND_RAW == CF_SEND_RAW &&
    COFFER_SEND_COMPRESSED == CF_SEND_COMPRESSED &&
    COFFER_SEND_REPLICATE == CF_SEND_REPLICATE &&
    COFFER_SEND_INTERMEDIATE == CF_SEND_INTERMEDIATE,
    "send flags are passed through");

int coffer_send_ext(coffer_pool_t *p, const char *snap, const char *from,
    int flags, coffer_send_args_t *a, int fd, coffer_progress_fn progress,
    void *arg)
{
	return coffer_send_signed(p, snap, from, flags, a, NULL, 0, fd,
	    progress, arg);
}

int coffer_send_signed(coffer_pool_t *p, const char *snap, const char *from,
    int flags, coffer_send_args_t *a, const coffer_signer_t *signer,
    int mode, int fd, coffer_progress_fn progress, void *arg)
{
	ENTER();
	cf_send_opts_t o;
	memset(&o, 0, sizeof(o));
	o.dryrun = a->dryrun;
	o.total = a->total;
	int err;
	if (signer && (err = cf_ssign_new(cf_lib_signer_key(signer),
	    mode == COFFER_SIGN_RECORD ? CF_SSIGN_RECORD : CF_SSIGN_CHAIN, 0,
	    0, &o.sign)) != 0)
		return err;
	if (a->token) {
		err = cf_send_resume(p->dp, a->token, flags, &o,
		    cf_stream_fd_write, &fd, progress, arg);
	} else {
		err = dsl_lookup(p->dp, snap, NULL);
		if (err == COFFER_ENODS)
			cf_set_errdetail("snapshot does not exist");
		if (!err)
			err = cf_send_opts(p->dp, snap, from, flags, &o,
			    cf_stream_fd_write, &fd, progress, arg);
	}
	a->bytes = o.bytes;
	cf_ssign_free(o.sign);
	return err;
}

int coffer_resume_token_info(const char *token, coffer_resume_info_t *out)
{
	ENTER();
	cf_resume_token_t *t = malloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	int err = cf_resume_token_decode(token, t);
	memset(out, 0, sizeof(*out));
	if (!err) {
		cf_strlcpy(out->toname, t->toname, sizeof(out->toname));
		cf_strlcpy(out->fromname, t->fromname, sizeof(out->fromname));
		out->toguid = t->toguid;
		out->fromguid = t->fromguid;
		out->object = t->object;
		out->offset = t->offset;
		out->bytes = t->bytes;
		out->features = t->features;
	}
	free(t);
	return err;
}

int coffer_receive(coffer_pool_t *p, const char *target, int flags, int fd)
{
	return coffer_receive_named(p, target, flags, fd, NULL, 0);
}

int coffer_receive_named(coffer_pool_t *p, const char *target, int flags,
    int fd, char *name, size_t namelen)
{
	return coffer_receive_verify(p, target, flags, fd, name, namelen, NULL,
	    NULL);
}

int coffer_receive_verify(coffer_pool_t *p, const char *target, int flags,
    int fd, char *name, size_t namelen, const char *keyring,
    coffer_recv_info_t *info)
{
	ENTER();
	int f = 0;
	if (flags & COFFER_RECV_FORCE)
		f |= CF_RECV_FORCE;
	if (flags & COFFER_RECV_RESUMABLE)
		f |= CF_RECV_RESUMABLE;
	if (flags & COFFER_RECV_DNAME)
		f |= CF_RECV_DNAME;
	if (flags & COFFER_RECV_ENAME)
		f |= CF_RECV_ENAME;
	if ((f & CF_RECV_DNAME) && (f & CF_RECV_ENAME)) {
		cf_set_errdetail("-d and -e exclude each other");
		return -EINVAL;
	}
	/* signatures: -s, -k, else the target's receive_policy */
	cf_sverify_opts_t vo;
	cf_sverify_info_t vi;
	memset(&vo, 0, sizeof(vo));
	memset(&vi, 0, sizeof(vi));
	vo.keyring = cf_lib_keyring(keyring);
	vo.require_signed = (flags & COFFER_RECV_SIGNED) != 0;
	vo.accept_unverified = (flags & COFFER_RECV_UNVERIFIED) != 0;
	int err = 0;
	if (!(flags & (COFFER_RECV_SIGNED | COFFER_RECV_UNVERIFIED)))
		err = cf_recv_policy(p->dp, target, &vo.require_signed);
	if (!err)
		err = cf_recv_verify(p->dp, target, f, cf_stream_fd_read, &fd,
		    name, namelen, &vo, &vi);
	if (info) {
		memset(info, 0, sizeof(*info));
		info->is_signed = vi.is_signed;
		info->verified = vi.verified;
		info->checkpoints = vi.checkpoints;
		if (vi.is_signed) {
			cf_sign_fp_format(vi.fp, info->fingerprint,
			    sizeof(info->fingerprint));
			cf_strlcpy(info->mode, vi.mode == CF_SSIGN_RECORD ?
			    "record" : "chain", sizeof(info->mode));
		}
		cf_strlcpy(info->keyname, vi.keyname, sizeof(info->keyname));
	}
	return err;
}

int coffer_receive_abort(coffer_pool_t *p, const char *target)
{
	ENTER();
	return dsl_recv_discard(p->dp, target);
}
