/*
 * Many threads on one open pool: writers to different files, readers,
 * directory churn, snapshots and syncs, all at once, while the sync
 * thread commits txgs in the background.  Run under ThreadSanitizer by
 * `make test` (build-tsan) as well as in the normal and ASan builds.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "coffer.h"

#define NWRITERS 4
#define FILESZ (600 * 1024)

static coffer_pool_t *pool;
static coffer_fs_t *fs;
static int stop;
static const char *snapds = "st/fs";    /* what the syncer snapshots */
static int syncs;                       /* rounds the syncer finished */
static int snap_max = 1 << 30;          /* snapshots the syncer takes */
static int failures;

static void fail(const char *what, long long rc)
{
	fprintf(stderr, "  stress: %s failed: %lld (%s)\n", what, rc,
	    coffer_strerror((int)rc));
	__atomic_add_fetch(&failures, 1, __ATOMIC_SEQ_CST);
}

static uint8_t pat(int id, uint64_t off, int gen)
{
	return (uint8_t)(id * 31 + (off / 512) * 7 + (uint64_t)gen * 13);
}

typedef struct warg {
	int id;
	uint64_t ino;
	int gen;
} warg_t;

static void *writer(void *p)
{
	warg_t *a = p;
	uint8_t *buf = malloc(65536), *chk = malloc(65536);
	for (a->gen = 1; a->gen <= 12; a->gen++) {
		for (uint64_t off = 0; off < FILESZ; off += 65536) {
			size_t n = (size_t)(FILESZ - off < 65536 ? FILESZ - off : 65536);
			for (size_t i = 0; i < n; i++)
				buf[i] = pat(a->id, off + i, a->gen);
			int64_t w = coffer_write(fs, a->ino, off, buf, n);
			if (w != (int64_t)n)
				fail("write", w);
			int64_t r = coffer_read(fs, a->ino, off, chk, n);
			if (r != (int64_t)n || memcmp(buf, chk, n))
				fail("read back", r);
		}
	}
	free(buf);
	free(chk);
	return NULL;
}

static void *reader(void *p)
{
	uint64_t *inos = p;
	uint8_t *buf = malloc(65536);
	unsigned seed = 7;
	while (!__atomic_load_n(&stop, __ATOMIC_SEQ_CST)) {
		int k = (int)(rand_r(&seed) % NWRITERS);
		uint64_t off = (uint64_t)(rand_r(&seed) % (FILESZ / 512)) * 512;
		int64_t r = coffer_read(fs, inos[k], off, buf, 4096);
		if (r < 0)
			fail("concurrent read", r);
		coffer_stat_t st;
		int e = coffer_getattr(fs, inos[k], &st);
		if (e)
			fail("getattr", e);
	}
	free(buf);
	return NULL;
}

static void *churn(void *p)
{
	(void)p;
	uint64_t dir;
	int e = coffer_mknod(fs, coffer_fs_root(fs), "churn", 040755, 0, 0, 0,
	    NULL, &dir);
	if (e)
		fail("mkdir", e);
	for (int i = 0; i < 400 && !__atomic_load_n(&stop, __ATOMIC_SEQ_CST);
	    i++) {
		char nm[32];
		uint64_t ino;
		snprintf(nm, sizeof(nm), "f%d", i);
		e = coffer_mknod(fs, dir, nm, 0100644, 0, 0, 0, NULL, &ino);
		if (e)
			fail("create", e);
		if (i % 3 == 0) {
			snprintf(nm, sizeof(nm), "f%d", i / 2);
			e = coffer_unlink(fs, dir, nm);
			if (e && e != -ENOENT)
				fail("unlink", e);
		}
	}
	return NULL;
}

static void *syncer(void *p)
{
	(void)p;
	for (int i = 0; !__atomic_load_n(&stop, __ATOMIC_SEQ_CST); i++) {
		int e = coffer_pool_sync(pool);
		if (e)
			fail("sync", e);
		if (i % 4 == 0 && i / 4 < snap_max) {
			char nm[64];
			snprintf(nm, sizeof(nm), "%s@s%d", snapds, i);
			e = coffer_snapshot(pool, nm);
			if (e)
				fail("snapshot", e);
		}
		coffer_propval_t v;
		e = coffer_prop_get(pool, "st/fs", "used", &v);
		if (e)
			fail("prop get", e);
		__atomic_add_fetch(&syncs, 1, __ATOMIC_SEQ_CST);
		usleep(2000);
	}
	return NULL;
}

static void test_threads(void)
{
	char home[512], dev[512];
	snprintf(home, sizeof(home), "%s/home", th_tmpdir());
	mkdir(home, 0700);
	setenv("COFFER_HOME", home, 1);
	snprintf(dev, sizeof(dev), "%s/stress.img", th_tmpdir());
	const char *devs[] = { dev };
	CHECK_OK(coffer_pool_create("st", devs, 1, 256u << 20, NULL, &pool));
	CHECK_OK(coffer_create(pool, "st/fs", COFFER_TYPE_FILESYSTEM, 0,
	    NULL));
	CHECK_OK(coffer_fs_open(pool, "st/fs", 0, &fs));
	warg_t w[NWRITERS];
	uint64_t inos[NWRITERS];
	for (int i = 0; i < NWRITERS; i++) {
		char nm[16];
		snprintf(nm, sizeof(nm), "w%d", i);
		w[i].id = i;
		CHECK_OK(coffer_mknod(fs, coffer_fs_root(fs), nm, 0100644, 0, 0,
		    0, NULL, &w[i].ino));
		inos[i] = w[i].ino;
	}
	pthread_t tw[NWRITERS], tr[2], tc, ts;
	for (int i = 0; i < NWRITERS; i++)
		pthread_create(&tw[i], NULL, writer, &w[i]);
	for (int i = 0; i < 2; i++)
		pthread_create(&tr[i], NULL, reader, inos);
	pthread_create(&tc, NULL, churn, NULL);
	pthread_create(&ts, NULL, syncer, NULL);
	for (int i = 0; i < NWRITERS; i++)
		pthread_join(tw[i], NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 2; i++)
		pthread_join(tr[i], NULL);
	pthread_join(tc, NULL);
	pthread_join(ts, NULL);
	CHECK_RC(failures, 0);
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_pool_close(pool));

	/* everything is there after a reopen */
	CHECK_OK(coffer_pool_open("st", 0, &pool));
	CHECK_OK(coffer_fs_open(pool, "st/fs", 0, &fs));
	uint8_t *buf = malloc(FILESZ);
	for (int i = 0; i < NWRITERS; i++) {
		CHECK_RC(coffer_read(fs, inos[i], 0, buf, FILESZ), FILESZ);
		for (uint64_t off = 0; off < FILESZ; off++)
			if (buf[off] != pat(i, off, 12)) {
				CHECK(!"content after reopen");
				break;
			}
	}
	free(buf);
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_pool_scrub(pool, NULL, NULL));
	coffer_pool_info_t info;
	CHECK_OK(coffer_pool_info(pool, &info));
	CHECK(info.scrub_errors == 0 && info.scrub_unrecoverable == 0);
	CHECK_OK(coffer_pool_close(pool));
}

/*
 * Writers sharing blocks with no lock between them, as an NBD client's
 * requests do: each thread owns every NWRITERS-th 4 KiB sector of a
 * volume whose blocks are 128 KiB, so every block is written by all of
 * them, in transactions that straddle the syncs the syncer asks for.
 * Every sector must hold its owner's last write, before and after a
 * reopen.  (The narrow race in which a write of txg N to a block txg N+1
 * had dirtied was lost is reproduced deterministically by test_dmu's
 * test_tx_straddles_sync; this checks the whole path a front end uses.)
 */
#define VOLSZ (2u << 20)
#define SECT 4096u

static coffer_fs_t *vol;

static uint8_t vpat(int id, uint64_t sect, int gen)
{
	return (uint8_t)(1 + id * 37 + sect * 11 + (uint64_t)gen * 5);
}

/* At least 20 passes over the volume, and on until the syncer has done
 * VOL_SYNCS rounds while they run (at most 5000 passes). */
#define VOL_SYNCS 40

static void *vol_writer(void *p)
{
	warg_t *a = p;
	uint8_t buf[SECT];
	for (a->gen = 1; a->gen <= 5000; a->gen++) {
		for (uint64_t s = (uint64_t)a->id; s < VOLSZ / SECT;
		    s += NWRITERS) {
			memset(buf, vpat(a->id, s, a->gen), SECT);
			int64_t w = coffer_vol_write(vol, s * SECT, buf, SECT);
			if (w != (int64_t)SECT)
				fail("volume write", w);
		}
		if (a->gen >= 20 &&
		    __atomic_load_n(&syncs, __ATOMIC_SEQ_CST) >= VOL_SYNCS)
			break;
	}
	if (a->gen > 5000)
		a->gen = 5000;
	return NULL;
}

static int vol_check(const warg_t *w)
{
	uint8_t *buf = malloc(VOLSZ);
	int bad = 0;
	if (!buf || coffer_vol_read(vol, 0, buf, VOLSZ) != (int64_t)VOLSZ)
		bad = -1;
	for (uint64_t s = 0; !bad && s < VOLSZ / SECT; s++)
		for (uint32_t i = 0; i < SECT; i++)
			if (buf[s * SECT + i] != vpat((int)(s % NWRITERS), s,
			    w[s % NWRITERS].gen)) {
				fprintf(stderr, "  sector %llu lost its last "
				    "write\n", (unsigned long long)s);
				bad = 1;
				break;
			}
	free(buf);
	return bad;
}

static void test_volume_shared_blocks(void)
{
	const char *props[] = { "volblocksize=128K", "compression=off",
		NULL };
	CHECK_OK(coffer_pool_open("st", 0, &pool));
	CHECK_OK(coffer_create(pool, "st/vol", COFFER_TYPE_VOLUME, VOLSZ,
	    props));
	CHECK_OK(coffer_fs_open(pool, "st/vol", 0, &vol));
	warg_t w[NWRITERS];
	pthread_t tw[NWRITERS], ts;
	__atomic_store_n(&stop, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&syncs, 0, __ATOMIC_SEQ_CST);
	snapds = "st/vol";
	snap_max = 16;          /* each may keep the whole 2 MiB volume */
	for (int i = 0; i < NWRITERS; i++) {
		w[i].id = i;
		pthread_create(&tw[i], NULL, vol_writer, &w[i]);
	}
	pthread_create(&ts, NULL, syncer, NULL);
	for (int i = 0; i < NWRITERS; i++)
		pthread_join(tw[i], NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(ts, NULL);
	CHECK_RC(failures, 0);
	CHECK(__atomic_load_n(&syncs, __ATOMIC_SEQ_CST) >= 2);
	CHECK_OK(vol_check(w));
	CHECK_OK(coffer_fs_close(vol));
	CHECK_OK(coffer_pool_close(pool));
	CHECK_OK(coffer_pool_open("st", 0, &pool));
	CHECK_OK(coffer_fs_open(pool, "st/vol", 0, &vol));
	CHECK_OK(vol_check(w));
	CHECK_OK(coffer_fs_close(vol));
	CHECK_OK(coffer_pool_close(pool));
}

void test_main(void)
{
	RUN(test_threads);
	RUN(test_volume_shared_blocks);
}
