/* vdev back ends and dispatch: file, block device rules, memory, bounds. */
#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vdev/vdev.h"

#define MIB (1024ull * 1024)

static char pathbuf[512];

static const char *tpath(const char *name)
{
	snprintf(pathbuf, sizeof(pathbuf), "%s/%s", th_tmpdir(), name);
	return pathbuf;
}

static off_t file_size_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

static void make_file(const char *path, off_t size)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || ftruncate(fd, size) != 0)
		abort();
	close(fd);
}

static void fill(uint8_t *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

static void test_file_create(void)
{
	const char *p = tpath("create");
	cf_vdev_t *v = NULL;
	struct stat st;

	CHECK_OK(cf_vdev_open_file(p, CF_VDEV_CREATE | CF_VDEV_EXCL,
	    CF_VDEV_MIN_SIZE, &v));
	CHECK(v != NULL);
	CHECK(v->size == CF_VDEV_MIN_SIZE);
	CHECK(v->path != NULL && strcmp(v->path, p) == 0);
	CHECK(cf_vdev_data_start(v) == 2 * CF_LABEL_SIZE);
	CHECK(cf_vdev_data_end(v) == CF_VDEV_MIN_SIZE - 2 * CF_LABEL_SIZE);
	CHECK(stat(p, &st) == 0);
	CHECK(st.st_size == (off_t)CF_VDEV_MIN_SIZE);
	/* sparse: ftruncate allocates nothing */
	CHECK((uint64_t)st.st_blocks * 512 < MIB);
	cf_vdev_close(v);
}

static void test_file_create_rounds_down(void)
{
	const char *p = tpath("round");
	cf_vdev_t *v = NULL;

	CHECK_OK(cf_vdev_open_file(p, CF_VDEV_CREATE | CF_VDEV_EXCL,
	    CF_VDEV_MIN_SIZE + CF_LABEL_SIZE + 1000, &v));
	CHECK(v->size == CF_VDEV_MIN_SIZE + CF_LABEL_SIZE);
	CHECK(file_size_of(p) ==
	    (off_t)(CF_VDEV_MIN_SIZE + CF_LABEL_SIZE + 1000));
	cf_vdev_close(v);
}

static void test_file_create_min_size(void)
{
	const char *p = tpath("small");
	cf_vdev_t *v = (cf_vdev_t *)1;

	CHECK_RC(cf_vdev_open_file(p, CF_VDEV_CREATE | CF_VDEV_EXCL,
	    CF_VDEV_MIN_SIZE - 1, &v), -EINVAL);
	CHECK(v == NULL);
	CHECK(access(p, F_OK) != 0);    /* nothing left behind */
	CHECK_RC(cf_vdev_open_file(p, CF_VDEV_CREATE, 0, &v), -EINVAL);
	CHECK(access(p, F_OK) != 0);
}

static void test_file_excl(void)
{
	const char *p = tpath("excl");
	cf_vdev_t *v = NULL;

	CHECK_OK(cf_vdev_open_file(p, CF_VDEV_CREATE | CF_VDEV_EXCL,
	    CF_VDEV_MIN_SIZE, &v));
	cf_vdev_close(v);
	v = NULL;
	CHECK_RC(cf_vdev_open_file(p, CF_VDEV_CREATE | CF_VDEV_EXCL,
	    CF_VDEV_MIN_SIZE, &v), -EEXIST);
	CHECK(v == NULL);
	CHECK(access(p, F_OK) == 0);    /* the existing file survives */
	/* CREATE without EXCL opens the existing file */
	CHECK_OK(cf_vdev_open_file(p, CF_VDEV_CREATE, CF_VDEV_MIN_SIZE, &v));
	CHECK(v->size == CF_VDEV_MIN_SIZE);
	cf_vdev_close(v);
}

static void test_file_bad_flags(void)
{
	const char *p = tpath("flags");
	cf_vdev_t *v = NULL;

	CHECK_RC(cf_vdev_open_file(p, CF_VDEV_EXCL, 0, &v), -EINVAL);
	CHECK_RC(cf_vdev_open_file(p, CF_VDEV_CREATE | CF_VDEV_RDONLY,
	    CF_VDEV_MIN_SIZE, &v), -EINVAL);
	CHECK_RC(cf_vdev_open_file(p, 0x100, 0, &v), -EINVAL);
	CHECK_RC(cf_vdev_open_file(NULL, 0, 0, &v), -EINVAL);
	CHECK_RC(cf_vdev_open_file("", 0, 0, &v), -EINVAL);
	CHECK_RC(cf_vdev_open_file(p, 0, 0, NULL), -EINVAL);
	CHECK(access(p, F_OK) != 0);
}

static void test_file_open_existing(void)
{
	const char *p = tpath("existing");
	static uint8_t a[3 * 1024 * 1024 + 123], b[sizeof(a)];
	cf_vdev_t *v = NULL;
	uint64_t off;

	make_file(p, (off_t)(8 * MIB + 5000));
	CHECK_OK(cf_vdev_open_file(p, 0, 0, &v));
	CHECK(v->size == 8 * MIB);
	CHECK(cf_vdev_data_end(v) == 8 * MIB - 2 * CF_LABEL_SIZE);
	fill(a, sizeof(a), 3);
	off = cf_vdev_data_start(v) + 777;
	CHECK_OK(cf_vdev_write(v, off, a, sizeof(a)));
	CHECK_OK(cf_vdev_flush(v));
	cf_vdev_close(v);

	CHECK_OK(cf_vdev_open_file(p, CF_VDEV_RDONLY, 0, &v));
	memset(b, 0, sizeof(b));
	CHECK_OK(cf_vdev_read(v, off, b, sizeof(b)));
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	CHECK_RC(cf_vdev_write(v, off, a, 10), -EROFS);
	CHECK_OK(cf_vdev_flush(v));
	cf_vdev_close(v);
	CHECK(file_size_of(p) == (off_t)(8 * MIB + 5000));
}

static void test_file_create_grows_never_shrinks(void)
{
	const char *p = tpath("grow");
	cf_vdev_t *v = NULL;

	make_file(p, (off_t)(2 * MIB));
	CHECK_OK(cf_vdev_open_file(p, CF_VDEV_CREATE, CF_VDEV_MIN_SIZE, &v));
	CHECK(v->size == CF_VDEV_MIN_SIZE);
	cf_vdev_close(v);
	make_file(p, (off_t)(CF_VDEV_MIN_SIZE * 2));
	CHECK_OK(cf_vdev_open_file(p, CF_VDEV_CREATE, CF_VDEV_MIN_SIZE, &v));
	CHECK(v->size == 2ull * CF_VDEV_MIN_SIZE);
	cf_vdev_close(v);
	CHECK(file_size_of(p) == (off_t)(2ull * CF_VDEV_MIN_SIZE));
}

static void test_file_refuses_odd_things(void)
{
	const char *p = tpath("tiny");
	cf_vdev_t *v = NULL;

	/* too small to hold the four labels */
	make_file(p, (off_t)(CF_VDEV_MIN_OPEN_SIZE - 1));
	CHECK_RC(cf_vdev_open_file(p, 0, 0, &v), -EINVAL);
	make_file(p, (off_t)CF_VDEV_MIN_OPEN_SIZE);
	CHECK_OK(cf_vdev_open_file(p, 0, 0, &v));
	CHECK(cf_vdev_data_start(v) == cf_vdev_data_end(v));
	cf_vdev_close(v);
	v = NULL;
	CHECK_RC(cf_vdev_open_file(tpath("missing"), 0, 0, &v), -ENOENT);
	CHECK_RC(cf_vdev_open_file(th_tmpdir(), CF_VDEV_RDONLY, 0, &v),
	    -EINVAL);
	CHECK_RC(cf_vdev_open_file("/dev/null", 0, 0, &v), -EINVAL);
	CHECK(v == NULL);
}

/* Every descriptor the vdev holds must be close-on-exec. */
static void test_file_cloexec(void)
{
	const char *p = tpath("cloexec");
	char real[PATH_MAX], link[PATH_MAX], fdpath[300];
	cf_vdev_t *v = NULL;
	struct dirent *de;
	int found = 0;
	DIR *d;

	CHECK_OK(cf_vdev_open_file(p, CF_VDEV_CREATE | CF_VDEV_EXCL,
	    CF_VDEV_MIN_SIZE, &v));
	CHECK(realpath(p, real) != NULL);
	d = opendir("/proc/self/fd");
	CHECK(d != NULL);
	while ((de = readdir(d)) != NULL) {
		ssize_t n;
		int fd = atoi(de->d_name);

		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%s",
		    de->d_name);
		n = readlink(fdpath, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, real) != 0)
			continue;
		found++;
		if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
			found = -100;
	}
	closedir(d);
	cf_vdev_close(v);
	CHECK(found == 1);
}

static void check_bounds(cf_vdev_t *v)
{
	uint8_t buf[64] = { 0 };
	uint64_t s = v->size;

	CHECK_RC(cf_vdev_read(v, s - 10, buf, 20), -EINVAL);
	CHECK_RC(cf_vdev_write(v, s - 10, buf, 20), -EINVAL);
	CHECK_RC(cf_vdev_read(v, s, buf, 1), -EINVAL);
	CHECK_RC(cf_vdev_write(v, s, buf, 1), -EINVAL);
	CHECK_RC(cf_vdev_write(v, UINT64_MAX - 3, buf, 8), -EINVAL);
	CHECK_RC(cf_vdev_read(v, UINT64_MAX, buf, 1), -EINVAL);
	CHECK_RC(cf_vdev_write(v, s + 1, buf, 0), -EINVAL);
	CHECK_RC(cf_vdev_read(v, 0, NULL, 1), -EINVAL);
	CHECK_RC(cf_vdev_write(v, 0, NULL, 1), -EINVAL);
	CHECK_RC(cf_vdev_read(NULL, 0, buf, 1), -EINVAL);
	CHECK_RC(cf_vdev_flush(NULL), -EINVAL);
	/* the edges themselves are fine */
	CHECK_OK(cf_vdev_write(v, s, buf, 0));
	CHECK_OK(cf_vdev_read(v, 0, NULL, 0));
	memset(buf, 0xab, sizeof(buf));
	CHECK_OK(cf_vdev_write(v, s - sizeof(buf), buf, sizeof(buf)));
	memset(buf, 0, sizeof(buf));
	CHECK_OK(cf_vdev_read(v, s - sizeof(buf), buf, sizeof(buf)));
	CHECK(buf[0] == 0xab && buf[sizeof(buf) - 1] == 0xab);
}

static void test_file_bounds(void)
{
	const char *p = tpath("bounds");
	cf_vdev_t *v = NULL;
	uint8_t tail[16];
	int fd;

	make_file(p, (off_t)(2 * MIB + 100));
	CHECK_OK(cf_vdev_open_file(p, 0, 0, &v));
	check_bounds(v);
	cf_vdev_close(v);
	if (th_failed_now())
		return;
	/* nothing was written past the rounded-down size */
	CHECK(file_size_of(p) == (off_t)(2 * MIB + 100));
	fd = open(p, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(pread(fd, tail, sizeof(tail), (off_t)(2 * MIB)) ==
	    (ssize_t)sizeof(tail));
	close(fd);
	for (size_t i = 0; i < sizeof(tail); i++)
		CHECK(tail[i] == 0);
}

/*
 * Short transfers: RLIMIT_FSIZE makes pwrite stop at the limit (a short
 * write), and the retry at the limit fails with EFBIG; the loop must go
 * on after the short write and then report the error, not success.
 */
static void test_file_short_write(void)
{
	const char *p = tpath("short");
	cf_vdev_t *v = NULL;
	struct rlimit old, lim;
	uint8_t a[8192], b[8192];
	const uint64_t limit = 2 * MIB;
	void (*oldsig)(int);
	int rc;

	fill(a, sizeof(a), 7);
	CHECK_OK(cf_vdev_open_file(p, CF_VDEV_CREATE | CF_VDEV_EXCL,
	    CF_VDEV_MIN_SIZE, &v));
	CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
	oldsig = signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = limit;
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	rc = cf_vdev_write(v, limit - 4096, a, sizeof(a));
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	signal(SIGXFSZ, oldsig);
	CHECK_RC(rc, -EFBIG);
	memset(b, 0, sizeof(b));
	CHECK_OK(cf_vdev_read(v, limit - 4096, b, sizeof(b)));
	CHECK(memcmp(a, b, 4096) == 0);         /* the short part landed */
	for (size_t i = 4096; i < sizeof(b); i++)
		CHECK(b[i] == 0);
	cf_vdev_close(v);
}

/* A file truncated under an open vdev: reads past its end fail. */
static void test_file_short_read(void)
{
	const char *p = tpath("shrunk");
	cf_vdev_t *v = NULL;
	uint8_t b[8192];

	make_file(p, (off_t)(4 * MIB));
	CHECK_OK(cf_vdev_open_file(p, 0, 0, &v));
	CHECK(truncate(p, (off_t)(2 * MIB)) == 0);
	CHECK_RC(cf_vdev_read(v, 3 * MIB, b, sizeof(b)), -EIO);
	CHECK_RC(cf_vdev_read(v, 2 * MIB - 4096, b, sizeof(b)), -EIO);
	CHECK_OK(cf_vdev_read(v, 2 * MIB - 8192, b, sizeof(b)));
	cf_vdev_close(v);
}

static void test_mem(void)
{
	cf_vdev_t *v = NULL;
	uint8_t a[8192], b[8192];

	CHECK_RC(cf_vdev_open_mem(CF_VDEV_MIN_OPEN_SIZE - 1, &v), -EINVAL);
	CHECK(v == NULL);
	CHECK_RC(cf_vdev_open_mem(MIB, NULL), -EINVAL);
	CHECK_OK(cf_vdev_open_mem(4 * MIB + 4097, &v));
	CHECK(v->size == 4 * MIB);
	CHECK(v->path == NULL);
	CHECK(cf_vdev_data_start(v) == 512 * 1024);
	CHECK(cf_vdev_data_end(v) == 4 * MIB - 512 * 1024);
	CHECK_OK(cf_vdev_read(v, 1000, b, sizeof(b)));
	for (size_t i = 0; i < sizeof(b); i++)
		CHECK(b[i] == 0);
	fill(a, sizeof(a), 9);
	CHECK_OK(cf_vdev_write(v, 1000, a, sizeof(a)));
	CHECK_OK(cf_vdev_flush(v));
	CHECK_OK(cf_vdev_read(v, 1000, b, sizeof(b)));
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	check_bounds(v);
	cf_vdev_close(v);
	cf_vdev_close(NULL);
}

void test_main(void)
{
	RUN(test_file_create);
	RUN(test_file_create_rounds_down);
	RUN(test_file_create_min_size);
	RUN(test_file_excl);
	RUN(test_file_bad_flags);
	RUN(test_file_open_existing);
	RUN(test_file_create_grows_never_shrinks);
	RUN(test_file_refuses_odd_things);
	RUN(test_file_cloexec);
	RUN(test_file_bounds);
	RUN(test_file_short_write);
	RUN(test_file_short_read);
	RUN(test_mem);
}
