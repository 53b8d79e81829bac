/*
 * tenv over the real DMU: each object set lives on its own memory device
 * with a running sync thread, so the zap and fs tests exercise real
 * block trees, txgs and syncs.  Once tenv_os_snapshot has been called
 * for an object set, its freed blocks are never reused (kill leaks them),
 * so the snapshot stays readable whatever the live set does afterwards.
 */
#include <stdlib.h>

#include "tenv.h"
#include "dmu/dmu_impl.h"

typedef struct tenv {
	cf_spa_t *spa;
	cf_objset_t *os;
	cf_blkptr_t root;
	int snapped;
	struct tenv *next;
} tenv_t;

static tenv_t *envs;

static tenv_t *find(cf_objset_t *os)
{
	for (tenv_t *t = envs; t; t = t->next)
		if (t->os == os)
			return t;
	return NULL;
}

static int t_sync(void *arg, uint64_t txg, cf_blkptr_t *root)
{
	tenv_t *t = arg;
	int err = cf_os_sync(t->os, txg, 1, root);
	if (!err)
		t->root = *root;
	return err;
}

static void t_kill(void *arg, const cf_blkptr_t *bp, uint64_t txg)
{
	tenv_t *t = arg;
	if (!__atomic_load_n(&t->snapped, __ATOMIC_SEQ_CST))
		cf_spa_free(t->spa, bp, txg);
}

static const cf_os_ops_t t_ops = { NULL, t_kill, NULL, NULL };

cf_objset_t *tenv_os_open(void)
{
	tenv_t *t = calloc(1, sizeof(*t));
	cf_vdev_t *v;
	cf_os_settings_t s = { 131072, CF_COMP_LZ4, 0, CF_CKSUM_FLETCHER4, 1,
		0 };
	cf_blkptr_t hole = { 0 };
	if (!t || cf_vdev_open_mem(1ULL << 30, &v) ||
	    cf_spa_open_vdevs("tenv", &v, 1, 1, 0, &t->spa) ||
	    cf_os_open(t->spa, &hole, CF_OS_TYPE_FS, &s, &t_ops, t, "tenv",
	    &t->os))
		abort();
	cf_spa_start(t->spa, t_sync, NULL, t);
	t->next = envs;
	envs = t;
	return t->os;
}

cf_objset_t *tenv_os_snapshot(cf_objset_t *os)
{
	tenv_t *t = find(os);
	if (!t)
		abort();
	__atomic_store_n(&t->snapped, 1, __ATOMIC_SEQ_CST);
	if (cf_spa_txg_wait(t->spa, 0))
		abort();
	cf_objset_t *snap;
	cf_os_settings_t s = { 131072, CF_COMP_LZ4, 0, CF_CKSUM_FLETCHER4, 1,
		1 };
	if (cf_os_open(t->spa, &t->root, CF_OS_TYPE_FS, &s, NULL, NULL,
	    "tenv@snap", &snap))
		abort();
	return snap;
}

void tenv_os_close(cf_objset_t *os)
{
	tenv_t *t = find(os);
	if (!t) {
		cf_os_close(os);        /* a snapshot */
		return;
	}
	for (tenv_t **pp = &envs; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	if (cf_spa_close(t->spa))
		abort();
	cf_os_close(t->os);
	free(t);
}
