/*
 * fs scale and concurrency tests: a directory of 1,000,000 entries, and
 * writers to different files from 4 threads alongside namespace changes.
 * Uses only fs.h, dmu.h and tenv.h.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/stat.h>

#include "harness.h"
#include "fsenv.h"

static cf_objset_t *os;
static cf_fs_t *fs;

static double secs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count_cb(const char *name, uint64_t ino, uint32_t type,
    uint64_t next, void *arg)
{
	uint64_t *n = arg;
	(void)name;
	(void)ino;
	(void)type;
	(void)next;
	(*n)++;
	return 0;
}

/*
 * One million entries in one directory.  Creation time should grow
 * linearly (each add is O(1) block reads); this is not asserted, the
 * per-100k times are printed.
 */
static void test_million(void)
{
	/* COFFER_SCALE_N lowers the count for the sanitizer runs */
	const char *env = getenv("COFFER_SCALE_N");
	const uint32_t N = env ? (uint32_t)strtoul(env, NULL, 10) : 1000000;
	uint64_t d = 0, ino, n = 0, cookie = 0;
	char nm[32];
	double t0 = secs(), t = t0;
	coffer_stat_t st;

	CHECK_OK(cf_fs_mknod(fs, cf_fs_root(fs), "big", S_IFDIR | 0755, 0, 0,
	    0, NULL, &d));
	for (uint32_t i = 0; i < N; i++) {
		snprintf(nm, sizeof(nm), "file-%07" PRIu32, i);
		CHECK_OK(cf_fs_mknod(fs, d, nm, S_IFREG | 0644, 0, 0, 0, NULL,
		    NULL));
		if ((i + 1) % 200000 == 0) {
			double now = secs();
			printf("  %7" PRIu32 " entries: last 200k in %.2fs\n",
			    i + 1, now - t);
			t = now;
		}
	}
	printf("  created %" PRIu32 " in %.2fs\n", N, secs() - t0);
	CHECK_OK(cf_fs_getattr(fs, d, &st));
	CHECK(st.size == N + 2 && st.nlink == 2);
	for (uint32_t i = 0; i < N; i += 997) {
		snprintf(nm, sizeof(nm), "file-%07" PRIu32, i);
		CHECK_OK(cf_fs_lookup(fs, d, nm, &ino));
		CHECK(ino != 0);
	}
	CHECK_RC(cf_fs_mknod(fs, d, "file-0000000", S_IFREG, 0, 0, 0, NULL,
	    NULL), -EEXIST);
	CHECK_OK(cf_fs_readdir(fs, d, &cookie, count_cb, &n));
	CHECK(n == N + 2);
	for (uint32_t i = 0; i < N; i += 10) {
		snprintf(nm, sizeof(nm), "file-%07" PRIu32, i);
		CHECK_OK(cf_fs_unlink(fs, d, nm));
	}
	CHECK_OK(cf_fs_getattr(fs, d, &st));
	CHECK(st.size == N - N / 10 + 2);
	CHECK_RC(cf_fs_lookup(fs, d, "file-0000010", &ino), -ENOENT);
	CHECK_OK(cf_fs_lookup(fs, d, "file-0000011", &ino));
	printf("  total %.2fs\n", secs() - t0);
}

/* ---- concurrency -------------------------------------------------------- */

#define FILE_SZ (4u << 20)
#define CHUNK   (8192 + 17)

struct wr {
	int id;
	uint64_t ino;
	int err;
};

static uint8_t pat(int id, uint64_t off)
{
	return (uint8_t)(id * 31 + off * 7 + (off >> 13));
}

static void *writer(void *arg)
{
	struct wr *w = arg;
	uint8_t *buf = malloc(CHUNK);
	/* chunks in a scattered order, so the file grows out of order */
	uint64_t nchunks = CF_DIV_ROUNDUP(FILE_SZ, CHUNK);
	for (uint64_t k = 0; k < nchunks; k++) {
		uint64_t c = (k * 7919) % nchunks;
		uint64_t off = c * CHUNK;
		uint64_t len = CF_MIN((uint64_t)CHUNK, FILE_SZ - off);
		for (uint64_t i = 0; i < len; i++)
			buf[i] = pat(w->id, off + i);
		if (cf_fs_write(fs, w->ino, off, buf, len) != (int64_t)len)
			w->err = 1;
		if (k % 64 == 0) {
			coffer_stat_t st;
			if (cf_fs_getattr(fs, w->ino, &st) || st.size > FILE_SZ)
				w->err = 2;
		}
	}
	free(buf);
	return NULL;
}

struct nsw {
	uint64_t dir;
	int stop, err, made;
};

/* namespace changes while the writers run */
static void *ns_worker(void *arg)
{
	struct nsw *n = arg;
	char nm[32];
	int i = 0;
	while (!__atomic_load_n(&n->stop, __ATOMIC_ACQUIRE) || i < 100) {
		snprintf(nm, sizeof(nm), "n%d", i);
		if (cf_fs_mknod(fs, n->dir, nm, S_IFREG | 0600, 0, 0, 0, NULL,
		    NULL))
			n->err = 1;
		if (i % 2 == 0) {
			char nm2[32];
			snprintf(nm2, sizeof(nm2), "r%d", i);
			if (cf_fs_rename(fs, n->dir, nm, n->dir, nm2, 0))
				n->err = 2;
			if (cf_fs_unlink(fs, n->dir, nm2))
				n->err = 3;
		}
		i++;
	}
	n->made = i;
	return NULL;
}

static void test_concurrent_writers(void)
{
	pthread_t th[4], nt;
	struct wr w[4];
	struct nsw n;
	uint8_t *buf = malloc(FILE_SZ);
	char nm[16];

	memset(&n, 0, sizeof(n));
	CHECK_OK(cf_fs_mknod(fs, cf_fs_root(fs), "conc", S_IFDIR | 0755, 0, 0,
	    0, NULL, &n.dir));
	for (int i = 0; i < 4; i++) {
		snprintf(nm, sizeof(nm), "w%d", i);
		w[i].id = i;
		w[i].err = 0;
		CHECK_OK(cf_fs_mknod(fs, n.dir, nm, S_IFREG | 0644, 0, 0, 0,
		    NULL, &w[i].ino));
	}
	CHECK(pthread_create(&nt, NULL, ns_worker, &n) == 0);
	for (int i = 0; i < 4; i++)
		CHECK(pthread_create(&th[i], NULL, writer, &w[i]) == 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	__atomic_store_n(&n.stop, 1, __ATOMIC_RELEASE);
	pthread_join(nt, NULL);
	CHECK(n.err == 0);
	for (int i = 0; i < 4; i++) {
		coffer_stat_t st;
		CHECK(w[i].err == 0);
		CHECK_OK(cf_fs_getattr(fs, w[i].ino, &st));
		CHECK(st.size == FILE_SZ);
		CHECK_RC(cf_fs_read(fs, w[i].ino, 0, buf, FILE_SZ), FILE_SZ);
		for (uint64_t off = 0; off < FILE_SZ; off++) {
			if (buf[off] != pat(i, off)) {
				fprintf(stderr, "  file %d differs at %" PRIu64
				    "\n", i, off);
				CHECK(0);
			}
		}
	}
	{
		coffer_stat_t st;
		CHECK_OK(cf_fs_getattr(fs, n.dir, &st));
		CHECK(st.size == 2 + 4 + (uint64_t)(n.made / 2));
	}
	free(buf);
}

void test_main(void)
{
	fs = fsenv_new(&os);
	RUN(test_concurrent_writers);
	RUN(test_million);
	fsenv_free(fs, os);
}
