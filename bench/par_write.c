/*
 * par_write: writers in parallel, as a FUSE or NBD front end will drive
 * the library.  THREADS threads each write MIB MiB of incompressible
 * bytes in 128 KiB writes to a file of their own, side by side with the
 * baseline: the same writes with pwrite(2) to plain files in the same
 * directory.  Each side ends when its data is durable (fsync of every
 * file; coffer_pool_sync).  The pool is a sparse file in DIR with one
 * filesystem, compression off; the sync thread commits txgs as it
 * would for any user (past 64 MiB of dirty data, or every 5 s), so the
 * coffer figure includes the writers meeting txg boundaries.  Three runs
 * alternate plain / coffer; the medians and their ratio are printed.
 *
 *   build/bench/par_write DIR [THREADS, default 4] [MIB each, default 128]
 *
 * The pool registry it needs is DIR/par_write.home (left in place).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "coffer.h"

#define WSIZE 131072
#define RUNS 3
#define MAXTHR 64

static int nthr = 4;
static uint64_t mib = 128;
static coffer_fs_t *fs;

typedef struct {
	int id;
	uint64_t ino;           /* coffer */
	int fd;                 /* plain */
	int err;
} warg_t;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill(uint8_t *b, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i += 8) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		memcpy(b + i, &seed, 8);
	}
}

static void *writer(void *p)
{
	warg_t *a = p;
	uint8_t *buf = malloc(WSIZE);

	if (!buf) {
		a->err = 1;
		return NULL;
	}
	fill(buf, WSIZE, 0x9e3779b97f4a7c15ULL * (uint64_t)(a->id + 1));
	for (uint64_t off = 0; off < (mib << 20) && !a->err; off += WSIZE) {
		memcpy(buf, &off, sizeof(off));   /* no two blocks alike */
		if (a->fd >= 0) {
			if (pwrite(a->fd, buf, WSIZE, (off_t)off) != WSIZE)
				a->err = 1;
		} else if (coffer_write(fs, a->ino, off, buf, WSIZE) !=
		    WSIZE) {
			a->err = 1;
		}
	}
	if (a->fd >= 0 && fsync(a->fd) != 0)
		a->err = 1;
	free(buf);
	return NULL;
}

/* Run the writers; seconds, or -1 on a failure. */
static double run(warg_t *a)
{
	pthread_t t[MAXTHR];
	double t0 = now();
	int started = 0, bad = 0;

	while (started < nthr &&
	    pthread_create(&t[started], NULL, writer, &a[started]) == 0)
		started++;
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < started; i++)
		bad |= a[i].err;
	return started < nthr || bad ? -1 : now() - t0;
}

static double plain(const char *dir)
{
	warg_t a[MAXTHR];
	char path[4096];

	int opened = 0;
	double s = -1;

	for (; opened < nthr; opened++) {
		snprintf(path, sizeof(path), "%s/plain%d", dir, opened);
		a[opened] = (warg_t){ opened, 0, -1, 0 };
		a[opened].fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (a[opened].fd < 0) {
			perror(path);
			break;
		}
	}
	if (opened == nthr)
		s = run(a);
	for (int i = 0; i < opened; i++) {
		close(a[i].fd);
		snprintf(path, sizeof(path), "%s/plain%d", dir, i);
		unlink(path);
	}
	return s;
}

static double pool(const char *dir)
{
	char dev[4096];
	const char *props[] = { "compression=off", NULL };
	coffer_pool_t *p;
	warg_t a[MAXTHR];
	double s = -1;

	snprintf(dev, sizeof(dev), "%s/par_write.img", dir);
	unlink(dev);
	const char *devs[] = { dev };
	uint64_t size = (uint64_t)nthr * (mib << 20) * 2 + (1ULL << 30);
	int err = coffer_pool_create("parw", devs, 1, size, NULL, &p);
	if (err) {
		fprintf(stderr, "par_write: cannot create a pool on %s: %s\n",
		    dev, coffer_strerror(err));
		return -1;
	}
	if (coffer_create(p, "parw/fs", COFFER_TYPE_FILESYSTEM, 0, props) ||
	    coffer_fs_open(p, "parw/fs", 0, &fs))
		goto out;
	for (int i = 0; i < nthr; i++) {
		char nm[32];
		snprintf(nm, sizeof(nm), "f%d", i);
		a[i] = (warg_t){ i, 0, -1, 0 };
		if (coffer_mknod(fs, coffer_fs_root(fs), nm, 0100644, 0, 0, 0,
		    NULL, &a[i].ino))
			goto out;
	}
	double t0 = now();
	s = run(a);
	if (s >= 0)
		s = coffer_pool_sync(p) == 0 ? now() - t0 : -1;
out:
	if (fs)
		coffer_fs_close(fs);
	fs = NULL;
	coffer_pool_close(p);
	coffer_pool_destroy("parw");
	unlink(dev);
	return s;
}

static int cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: par_write DIR [THREADS] [MIB]\n");
		return 2;
	}
	const char *dir = argv[1];
	if (argc > 2)
		nthr = atoi(argv[2]);
	if (argc > 3)
		mib = strtoull(argv[3], NULL, 10);
	if (nthr < 1 || nthr > MAXTHR || mib < 1 || mib > (1u << 20)) {
		fprintf(stderr, "par_write: THREADS 1..%d, MIB 1..1048576\n",
		    MAXTHR);
		return 2;
	}
	char home[4096];
	snprintf(home, sizeof(home), "%s/par_write.home", dir);
	mkdir(home, 0700);
	setenv("COFFER_HOME", home, 1);

	double ps[RUNS], cs[RUNS];
	for (int r = 0; r < RUNS; r++) {
		ps[r] = plain(dir);
		cs[r] = pool(dir);
		if (ps[r] < 0 || cs[r] < 0) {
			fprintf(stderr, "par_write: run %d failed\n", r + 1);
			return 1;
		}
	}
	qsort(ps, RUNS, sizeof(double), cmp);
	qsort(cs, RUNS, sizeof(double), cmp);
	double mb = (double)nthr * (double)(mib << 20) / 1e6;
	printf("%d writers x %llu MiB, 128 KiB writes, median of %d:\n", nthr,
	    (unsigned long long)mib, RUNS);
	printf("  plain files  %7.3f s  %7.1f MB/s\n", ps[RUNS / 2],
	    mb / ps[RUNS / 2]);
	printf("  coffer       %7.3f s  %7.1f MB/s  %.2fx\n", cs[RUNS / 2],
	    mb / cs[RUNS / 2], ps[RUNS / 2] / cs[RUNS / 2]);
	return 0;
}
