/*
 * dmu tests: objects over a memory pool, with the real sync thread,
 * concurrent writers during syncs, and a reopen from the uberblock.
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"
#include "dmu/dmu_impl.h"
#include "crypto/crypto.h"

typedef struct tpool {
	cf_spa_t *spa;
	cf_objset_t *os;
	cf_vdev_t *mem;         /* inner device kept across reopen */
} tpool_t;

#define BITMAP_OBJ 1      /* allocated first by t_open(create) */

struct bm {
	tpool_t *t;
	cf_tx_t *tx;
};

static int bm_cb(void *arg, int vdev, uint64_t off, const void *buf,
    uint64_t len)
{
	struct bm *b = arg;
	(void)vdev;
	return cf_obj_write(b->t->os, b->tx, BITMAP_OBJ, off, len, buf);
}

/* The test's own "pool sync": the objset is its own MOS and keeps the
 * allocation bitmap in object 1, converging like the dsl does. */
static int t_sync(void *arg, uint64_t txg, cf_blkptr_t *root)
{
	tpool_t *t = arg;
	cf_tx_t tx;
	cf_tx_sync_init(&tx, t->os, txg);
	struct bm b = { t, &tx };
	for (int pass = 1; pass < 30; pass++) {
		int err = cf_os_sync(t->os, txg, pass, root);
		if (!err)
			err = cf_spa_bitmap_dirty(t->spa, bm_cb, &b);
		if (err)
			return err;
		if (!cf_os_dirty(t->os, txg))
			return 0;
	}
	return -EIO;
}

static void t_kill(void *arg, const cf_blkptr_t *bp, uint64_t txg)
{
	tpool_t *t = arg;
	cf_spa_free(t->spa, bp, txg);
}

static const cf_os_ops_t t_ops = { NULL, t_kill, NULL, NULL };
static const cf_os_settings_t t_set = { 131072, CF_COMP_LZ4, 0,
	CF_CKSUM_FLETCHER4, 1, 0 };

/* A fault wrapper that never crashes lets us keep the memory device. */
static int t_open(tpool_t *t, int create)
{
	cf_vdev_t *v;
	cf_fault_cfg_t cfg = { 0 };
	cfg.keep_inner = 1;
	int err = cf_vdev_open_fault(t->mem, &cfg, &v);
	if (err)
		return err;
	err = cf_spa_open_vdevs("t", &v, 1, create, 0, &t->spa);
	if (err)
		return err;
	const cf_blkptr_t *root = &cf_spa_ub(t->spa)->mos;
	cf_blkptr_t hole = { 0 };
	err = cf_os_open(t->spa, create ? &hole : root, CF_OS_TYPE_FS, &t_set,
	    &t_ops, t, "t", &t->os);
	if (err)
		return err;
	if (create) {
		cf_tx_t tx;
		uint64_t obj;
		cf_tx_sync_init(&tx, t->os, 1);
		err = cf_obj_alloc(t->os, &tx, CF_OT_SPACE_MAP, 16384, &obj);
		if (!err && obj != BITMAP_OBJ)
			err = -EIO;
	} else {
		uint64_t n = cf_spa_bitmap_bytes(t->spa, 0);
		uint8_t *buf = malloc(n);
		err = buf ? cf_obj_read(t->os, BITMAP_OBJ, 0, n, buf) : -ENOMEM;
		if (!err)
			err = cf_spa_bitmap_load(t->spa, 0, 0, buf, n);
		free(buf);
		cf_spa_bitmap_loaded(t->spa);
	}
	if (err)
		return err;
	cf_spa_start(t->spa, t_sync, NULL, t);
	return 0;
}

static void t_close(tpool_t *t)
{
	if (cf_spa_txg_wait(t->spa, 0) != 0)
		fprintf(stderr, "final sync failed\n");
	cf_spa_close(t->spa);
	cf_os_close(t->os);
}

static void fill(uint8_t *b, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		b[i] = (uint8_t)(seed >> 56);
	}
}

static void test_write_read_sync_reopen(void)
{
	tpool_t t = { 0 };
	CHECK_OK(cf_vdev_open_mem(256u << 20, &t.mem));
	CHECK_OK(t_open(&t, 1));
	cf_tx_t *tx;
	uint64_t a, b;
	CHECK_OK(cf_tx_begin(t.os, 1 << 20, &tx));
	CHECK_OK(cf_obj_alloc(t.os, tx, CF_OT_FILE, 0, &a));
	CHECK_OK(cf_obj_alloc(t.os, tx, CF_OT_FILE, 4096, &b));
	cf_tx_end(tx);
	CHECK(a != b && a > 0);
	size_t n = 3 * 131072 + 777;
	uint8_t *w = malloc(n), *r = malloc(n);
	fill(w, n, 1);
	CHECK_OK(cf_tx_begin(t.os, n, &tx));
	CHECK_OK(cf_obj_write(t.os, tx, a, 1000, n, w));
	CHECK_OK(cf_obj_write(t.os, tx, b, (1ULL << 40), 100, w));
	CHECK_OK(cf_bonus_write(t.os, tx, a, "hello", 5));
	cf_tx_end(tx);
	CHECK_OK(cf_obj_read(t.os, a, 1000, n, r));
	CHECK(memcmp(w, r, n) == 0);
	CHECK_OK(cf_spa_txg_wait(t.spa, 0));
	memset(r, 0, n);
	CHECK_OK(cf_obj_read(t.os, a, 1000, n, r));
	CHECK(memcmp(w, r, n) == 0);
	CHECK_OK(cf_obj_read(t.os, b, (1ULL << 40), 100, r));
	CHECK(memcmp(w, r, 100) == 0);
	CHECK_OK(cf_obj_read(t.os, b, 12345, 100, r));
	for (int i = 0; i < 100; i++)
		CHECK(r[i] == 0);
	/* overwrite the middle, free a range, in a later txg */
	CHECK_OK(cf_tx_begin(t.os, n, &tx));
	CHECK_OK(cf_obj_write(t.os, tx, a, 131072, 10, "0123456789"));
	CHECK_OK(cf_obj_free_range(t.os, tx, a, 2 * 131072, 131072));
	cf_tx_end(tx);
	memcpy(w + 131072 - 1000, "0123456789", 10);
	memset(w + 2 * 131072 - 1000, 0, 131072);
	CHECK_OK(cf_obj_read(t.os, a, 1000, n, r));
	CHECK(memcmp(w, r, n) == 0);
	t_close(&t);

	CHECK_OK(t_open(&t, 0));
	memset(r, 0xaa, n);
	CHECK_OK(cf_obj_read(t.os, a, 1000, n, r));
	CHECK(memcmp(w, r, n) == 0);
	char bonus[16];
	CHECK_RC(cf_bonus_read(t.os, a, bonus, sizeof(bonus)), 5);
	CHECK(memcmp(bonus, "hello", 5) == 0);
	cf_objinfo_t info;
	CHECK_OK(cf_obj_info(t.os, b, &info));
	CHECK(info.blksz == 4096 && info.maxblkid == (1ULL << 40) / 4096);
	CHECK_OK(cf_tx_begin(t.os, 0, &tx));
	CHECK_OK(cf_obj_free(t.os, tx, b));
	cf_tx_end(tx);
	CHECK_RC(cf_obj_info(t.os, b, &info), -ENOENT);
	t_close(&t);
	CHECK_OK(t_open(&t, 0));
	CHECK_RC(cf_obj_info(t.os, b, &info), -ENOENT);
	CHECK_OK(cf_obj_read(t.os, a, 1000, n, r));
	CHECK(memcmp(w, r, n) == 0);
	t_close(&t);
	cf_vdev_close(t.mem);
	free(w);
	free(r);
}

typedef struct wr_arg {
	tpool_t *t;
	uint64_t obj;
	int id;
	int fail;
} wr_arg_t;

static void *writer(void *p)
{
	wr_arg_t *a = p;
	uint8_t buf[10000], chk[10000];
	for (int i = 0; i < 300 && !a->fail; i++) {
		cf_tx_t *tx;
		fill(buf, sizeof(buf), (uint64_t)(a->id * 1000 + i));
		uint64_t off = (uint64_t)(i % 37) * 9000;
		if (cf_tx_begin(a->t->os, sizeof(buf), &tx)) {
			a->fail = 1;
			break;
		}
		if (cf_obj_write(a->t->os, tx, a->obj, off, sizeof(buf), buf))
			a->fail = 2;
		cf_tx_end(tx);
		if (cf_obj_read(a->t->os, a->obj, off, sizeof(buf), chk) ||
		    memcmp(buf, chk, sizeof(buf)))
			a->fail = 3;
		if (i % 50 == 0 && cf_spa_txg_wait(a->t->spa, 0))
			a->fail = 4;
	}
	return NULL;
}

static void test_concurrent_writers(void)
{
	tpool_t t = { 0 };
	CHECK_OK(cf_vdev_open_mem(256u << 20, &t.mem));
	CHECK_OK(t_open(&t, 1));
	enum { N = 4 };
	wr_arg_t args[N];
	pthread_t th[N];
	for (int i = 0; i < N; i++) {
		cf_tx_t *tx;
		CHECK_OK(cf_tx_begin(t.os, 0, &tx));
		args[i].t = &t;
		args[i].id = i;
		args[i].fail = 0;
		CHECK_OK(cf_obj_alloc(t.os, tx, CF_OT_FILE, 0, &args[i].obj));
		cf_tx_end(tx);
	}
	for (int i = 0; i < N; i++)
		pthread_create(&th[i], NULL, writer, &args[i]);
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < N; i++)
		CHECK_RC(args[i].fail, 0);
	t_close(&t);
	cf_vdev_close(t.mem);
}

/*
 * A tx that straddles a sync: tx A holds txg N when a sync closes N.  A
 * tx B begun meanwhile must not change anything before A has ended,
 * else B's change (txg N+1) and A's later change to the same block or
 * the same object's bonus would live in two txgs' records, and the
 * newer one, copied before A wrote, would drop A's change.
 */
typedef struct straddle {
	tpool_t *t;
	uint64_t obj, txg_a, txg_b;
	volatile int began;
	int err;
} straddle_t;

static void *straddle_sync(void *p)
{
	straddle_t *s = p;
	if (cf_spa_txg_wait(s->t->spa, s->txg_a))
		s->err = -EIO;
	return NULL;
}

static void *straddle_b(void *p)
{
	straddle_t *s = p;
	cf_tx_t *tx;
	int err = cf_tx_begin(s->t->os, 4096, &tx);
	if (err) {
		s->err = err;
		return NULL;
	}
	__atomic_store_n(&s->began, 1, __ATOMIC_SEQ_CST);
	s->txg_b = cf_tx_txg(tx);
	uint8_t b = 'b';
	err = cf_obj_write(s->t->os, tx, s->obj, 0, 1, &b);
	if (!err)
		err = cf_bonus_write(s->t->os, tx, s->obj, "B", 1);
	cf_tx_end(tx);
	if (err)
		s->err = err;
	return NULL;
}

static void test_tx_straddles_sync(void)
{
	tpool_t t = { 0 };
	CHECK_OK(cf_vdev_open_mem(64u << 20, &t.mem));
	CHECK_OK(t_open(&t, 1));
	straddle_t s = { 0 };
	s.t = &t;
	cf_tx_t *tx;
	CHECK_OK(cf_tx_begin(t.os, 0, &tx));
	CHECK_OK(cf_obj_alloc(t.os, tx, CF_OT_FILE, 4096, &s.obj));
	cf_tx_end(tx);
	CHECK_OK(cf_spa_txg_wait(t.spa, 0));

	cf_tx_t *a;
	CHECK_OK(cf_tx_begin(t.os, 4096, &a));
	s.txg_a = cf_tx_txg(a);
	pthread_t sync_th, b_th;
	if (pthread_create(&sync_th, NULL, straddle_sync, &s) != 0)
		abort();
	/* wait until the sync has closed A's txg (at most a minute) */
	int closed = 0;
	for (int i = 0; i < 60000 && !closed; i++) {
		closed = cf_spa_open_txg(t.spa) != s.txg_a;
		if (!closed)
			usleep(1000);
	}
	if (pthread_create(&b_th, NULL, straddle_b, &s) != 0)
		abort();
	usleep(100000);         /* give B every chance to run ahead of A */
	/* B's tx cannot have begun while A holds the closed txg */
	int early = __atomic_load_n(&s.began, __ATOMIC_SEQ_CST);
	/* a tx begun inside A joins A's txg rather than wait for A */
	cf_tx_t *inner = NULL;
	uint64_t txg_inner = 0;
	uint8_t z = 'z', c = 'a';
	int e1 = cf_tx_begin(t.os, 4096, &inner);
	if (!e1) {
		txg_inner = cf_tx_txg(inner);
		e1 = cf_obj_write(t.os, inner, s.obj, 2, 1, &z);
		cf_tx_end(inner);
	}
	early |= __atomic_load_n(&s.began, __ATOMIC_SEQ_CST);
	int e2 = cf_obj_write(t.os, a, s.obj, 1, 1, &c);
	if (!e2)
		e2 = cf_bonus_write(t.os, a, s.obj, "AA", 2);
	/* A ends before anything is checked: a failed check must not
	 * leave this thread holding a tx for the tests after it */
	cf_tx_end(a);
	pthread_join(b_th, NULL);
	pthread_join(sync_th, NULL);
	CHECK(closed);
	CHECK_RC(early, 0);
	CHECK_OK(e1);
	CHECK(txg_inner == s.txg_a);
	CHECK_OK(e2);
	CHECK_RC(s.err, 0);
	CHECK(s.txg_b == s.txg_a + 1);

	/* B came after A: both bytes, B's bonus, in memory and on disk */
	for (int round = 0; round < 2; round++) {
		uint8_t got[3], bonus[4];
		CHECK_OK(cf_obj_read(t.os, s.obj, 0, 3, got));
		CHECK(got[0] == 'b' && got[1] == 'a' && got[2] == 'z');
		CHECK_RC(cf_bonus_read(t.os, s.obj, bonus, sizeof(bonus)), 1);
		CHECK(bonus[0] == 'B');
		t_close(&t);
		if (round == 0)
			CHECK_OK(t_open(&t, 0));
	}
	cf_vdev_close(t.mem);
}

/* A thread holds txs of one pool at a time: two threads holding a tx of
 * one pool each and beginning one of the other would wait for each
 * other at the next sync. */
static void test_tx_one_pool_per_thread(void)
{
	tpool_t a = { 0 }, b = { 0 };
	CHECK_OK(cf_vdev_open_mem(64u << 20, &a.mem));
	CHECK_OK(cf_vdev_open_mem(64u << 20, &b.mem));
	CHECK_OK(t_open(&a, 1));
	CHECK_OK(t_open(&b, 1));
	cf_tx_t *ta, *tb, *ta2;
	CHECK_OK(cf_tx_begin(a.os, 0, &ta));
	CHECK_RC(cf_tx_begin(b.os, 0, &tb), -EDEADLK);
	CHECK_OK(cf_tx_begin(a.os, 0, &ta2));   /* nested, same pool */
	CHECK(cf_tx_txg(ta2) == cf_tx_txg(ta));
	cf_tx_end(ta2);
	cf_tx_end(ta);
	CHECK_OK(cf_tx_begin(b.os, 0, &tb));
	cf_tx_end(tb);
	t_close(&a);
	t_close(&b);
	cf_vdev_close(a.mem);
	cf_vdev_close(b.mem);
}

void test_main(void)
{
	RUN(test_write_read_sync_reopen);
	RUN(test_concurrent_writers);
	RUN(test_tx_straddles_sync);
	RUN(test_tx_one_pool_per_thread);
}
