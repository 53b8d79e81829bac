/*
 * cf_spa_sync_pause: no txg may sync while the sync is paused (scrub and
 * the leak checker walk the pool from the last uberblock and compare it
 * with the allocator; a sync under them changes both).
 *
 * Found by the crash torture (tests/unit/lib/test_crash.c): a live leak
 * check running beside a workload reported leaked space or references to
 * free space that were gone a moment later.  The sync thread decides to
 * sync (pause == 0), then waits for the holders of the txg it quiesces;
 * a pause taken meanwhile found the sync lock free and returned, and the
 * sync ran under the walk.
 */
#include <pthread.h>
#include <unistd.h>

#include "harness.h"
#include "spa/spa.h"

static int paused;              /* set while the test holds a pause */
static int synced_while_paused;
static int nsyncs;

static int sync_fn(void *arg, uint64_t txg, cf_blkptr_t *mos)
{
	(void)arg;
	(void)txg;
	memset(mos, 0, sizeof(*mos));
	if (__atomic_load_n(&paused, __ATOMIC_ACQUIRE))
		__atomic_store_n(&synced_while_paused, 1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&nsyncs, 1, __ATOMIC_ACQ_REL);
	return 0;
}

struct waiter {
	cf_spa_t *spa;
	int rc;
};

static void *wait_sync(void *arg)
{
	struct waiter *w = arg;
	w->rc = cf_spa_txg_wait(w->spa, 0);
	return NULL;
}

static void sleep_ms(int ms)
{
	usleep((useconds_t)ms * 1000);
}

/*
 * A holder keeps the open txg; a waiter asks for a sync, so the sync
 * thread quiesces the txg and waits for the holder.  Now the sync is
 * paused, and the holder lets go: the txg must not sync before resume.
 */
static void test_pause_while_quiescing(void)
{
	cf_vdev_t *v;
	cf_spa_t *spa;
	uint64_t txg;
	pthread_t th;
	struct waiter w;

	CHECK_OK(cf_vdev_open_mem(64u << 20, &v));
	CHECK_OK(cf_spa_open_vdevs("pause", &v, 1, 1, 0, &spa));
	cf_spa_start(spa, sync_fn, NULL, NULL);

	CHECK_OK(cf_spa_tx_hold(spa, 0, &txg));
	cf_spa_tx_rele(spa, txg, 1);            /* something to sync */
	CHECK_OK(cf_spa_tx_hold(spa, 0, &txg)); /* the holder */
	w.spa = spa;
	w.rc = -1;
	CHECK(pthread_create(&th, NULL, wait_sync, &w) == 0);
	/* the sync thread quiesces txg and waits for the holder */
	for (int i = 0; i < 200 && cf_spa_open_txg(spa) == txg; i++)
		sleep_ms(5);
	CHECK(cf_spa_open_txg(spa) == txg + 1);

	cf_spa_sync_pause(spa);
	__atomic_store_n(&paused, 1, __ATOMIC_RELEASE);
	cf_spa_tx_rele(spa, txg, 0);            /* the holder leaves */
	sleep_ms(200);                          /* a sync would run now */
	int during = __atomic_load_n(&synced_while_paused, __ATOMIC_ACQUIRE);
	__atomic_store_n(&paused, 0, __ATOMIC_RELEASE);
	cf_spa_sync_resume(spa);

	pthread_join(th, NULL);
	CHECK_OK(w.rc);
	CHECK(cf_spa_synced_txg(spa) >= txg);
	CHECK_OK(cf_spa_close(spa));
	CHECK(during == 0);
}

/* Pauses nest and the sync thread goes on after the last resume. */
static void test_pause_nested(void)
{
	cf_vdev_t *v;
	cf_spa_t *spa;
	uint64_t txg;

	CHECK_OK(cf_vdev_open_mem(64u << 20, &v));
	CHECK_OK(cf_spa_open_vdevs("pause2", &v, 1, 1, 0, &spa));
	cf_spa_start(spa, sync_fn, NULL, NULL);
	cf_spa_sync_pause(spa);
	cf_spa_sync_pause(spa);
	int before = __atomic_load_n(&nsyncs, __ATOMIC_ACQUIRE);
	CHECK_OK(cf_spa_tx_hold(spa, 0, &txg));
	cf_spa_tx_rele(spa, txg, 100 << 20);    /* over the sync trigger */
	sleep_ms(100);
	CHECK(__atomic_load_n(&nsyncs, __ATOMIC_ACQUIRE) == before);
	cf_spa_sync_resume(spa);
	sleep_ms(50);
	CHECK(__atomic_load_n(&nsyncs, __ATOMIC_ACQUIRE) == before);
	cf_spa_sync_resume(spa);
	CHECK_OK(cf_spa_txg_wait(spa, txg));
	CHECK(cf_spa_synced_txg(spa) >= txg);
	CHECK_OK(cf_spa_close(spa));
}

void test_main(void)
{
	RUN(test_pause_while_quiescing);
	RUN(test_pause_nested);
}
