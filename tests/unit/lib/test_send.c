/*
 * send | receive round trips through a file: a full stream and a chain of
 * incrementals, between two pools; the received files are identical, the
 * snapshots carry the sender's guids, and a damaged or truncated stream
 * leaves the target exactly as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "coffer.h"

static char home[512], dev1[512], dev2[512], stream[512];

static void setup(void)
{
	snprintf(home, sizeof(home), "%s/shome", th_tmpdir());
	mkdir(home, 0700);
	setenv("COFFER_HOME", home, 1);
	snprintf(dev1, sizeof(dev1), "%s/src.img", th_tmpdir());
	snprintf(dev2, sizeof(dev2), "%s/dst.img", th_tmpdir());
	snprintf(stream, sizeof(stream), "%s/stream", th_tmpdir());
}

static int put(coffer_fs_t *fs, const char *name, const void *data,
    size_t n, uint64_t off)
{
	uint64_t ino;
	int err = coffer_lookup(fs, coffer_fs_root(fs), name, &ino);
	if (err == -ENOENT)
		err = coffer_mknod(fs, coffer_fs_root(fs), name, 0100644, 0, 0,
		    0, NULL, &ino);
	if (err)
		return err;
	int64_t w = coffer_write(fs, ino, off, data, n);
	return w == (int64_t)n ? 0 : (int)w;
}

static int send_to_file(coffer_pool_t *p, const char *snap,
    const char *from)
{
	int fd = open(stream, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int err = coffer_send(p, snap, from, 0, fd, NULL, NULL);
	close(fd);
	return err;
}

static int recv_from_file(coffer_pool_t *p, const char *target, int flags)
{
	int fd = open(stream, O_RDONLY);
	int err = coffer_receive(p, target, flags, fd);
	close(fd);
	return err;
}

/* Compare file `name` in two datasets. */
static int same_file(coffer_pool_t *a, const char *da, coffer_pool_t *b,
    const char *db, const char *path)
{
	coffer_fs_t *fa, *fb;
	uint64_t ia, ib;
	coffer_stat_t sa, sb;
	int ok = 0;
	if (coffer_fs_open(a, da, 0, &fa))
		return 0;
	if (coffer_fs_open(b, db, 0, &fb)) {
		coffer_fs_close(fa);
		return 0;
	}
	if (!coffer_resolve(fa, path, 0, &ia) &&
	    !coffer_resolve(fb, path, 0, &ib) &&
	    !coffer_getattr(fa, ia, &sa) && !coffer_getattr(fb, ib, &sb) &&
	    sa.size == sb.size && sa.mode == sb.mode &&
	    sa.mtime_sec == sb.mtime_sec && sa.mtime_nsec == sb.mtime_nsec) {
		char *x = malloc(sa.size + 1), *y = malloc(sa.size + 1);
		if (coffer_read(fa, ia, 0, x, sa.size) == (int64_t)sa.size &&
		    coffer_read(fb, ib, 0, y, sa.size) == (int64_t)sa.size)
			ok = memcmp(x, y, sa.size) == 0;
		free(x);
		free(y);
	}
	coffer_fs_close(fa);
	coffer_fs_close(fb);
	return ok;
}

static void test_full_and_incrementals(void)
{
	setup();
	const char *d1[] = { dev1 }, *d2[] = { dev2 };
	coffer_pool_t *a, *b;
	CHECK_OK(coffer_pool_create("src", d1, 1, 128u << 20, NULL, &a));
	CHECK_OK(coffer_pool_create("dst", d2, 1, 128u << 20, NULL, &b));
	CHECK_OK(coffer_create(a, "src/fs", COFFER_TYPE_FILESYSTEM, 0, NULL));
	char *buf = malloc(1 << 20);
	for (int i = 0; i < (1 << 20); i++)
		buf[i] = (char)(i * 13 + (i >> 12));
	coffer_fs_t *fs;
	for (int round = 0; round < 6; round++) {
		CHECK_OK(coffer_fs_open(a, "src/fs", 0, &fs));
		CHECK_OK(put(fs, "big", buf + round, 700000, (uint64_t)round *
		    50000));
		char nm[16];
		snprintf(nm, sizeof(nm), "f%d", round);
		CHECK_OK(put(fs, nm, buf, 1000 + (size_t)round, 0));
		if (round == 3) {
			CHECK_OK(coffer_unlink(fs, coffer_fs_root(fs), "f1"));
			uint64_t ino;
			CHECK_OK(coffer_resolve(fs, "/big", 0, &ino));
			CHECK_OK(coffer_truncate(fs, ino, 100000));
		}
		CHECK_OK(coffer_fs_close(fs));
		char snap[32], prev[32];
		snprintf(snap, sizeof(snap), "src/fs@s%d", round);
		CHECK_OK(coffer_snapshot(a, snap));
		snprintf(prev, sizeof(prev), "@s%d", round - 1);
		CHECK_OK(send_to_file(a, snap, round ? prev : NULL));
		CHECK_OK(recv_from_file(b, "dst/copy", 0));
		CHECK(same_file(a, "src/fs", b, "dst/copy", "/big"));
		CHECK(same_file(a, snap, b, "dst/copy", "/big"));
		for (int k = 0; k <= round; k++) {
			snprintf(nm, sizeof(nm), "/f%d", k);
			if (k == 1 && round >= 3)
				continue;
			CHECK(same_file(a, "src/fs", b, "dst/copy", nm));
		}
		coffer_propval_t ga, gb;
		char rsnap[32];
		snprintf(rsnap, sizeof(rsnap), "dst/copy@s%d", round);
		CHECK_OK(coffer_prop_get(a, snap, "guid", &ga));
		CHECK_OK(coffer_prop_get(b, rsnap, "guid", &gb));
		CHECK(strcmp(ga.raw, gb.raw) == 0);
	}
	/* f1 was removed on the sender: gone on the receiver too */
	CHECK_OK(coffer_fs_open(b, "dst/copy", 0, &fs));
	uint64_t ino;
	CHECK_RC(coffer_resolve(fs, "/f1", 0, &ino), -ENOENT);
	CHECK_OK(coffer_fs_close(fs));
	free(buf);
	CHECK_OK(coffer_pool_close(a));
	CHECK_OK(coffer_pool_close(b));
}

static void test_bad_streams_change_nothing(void)
{
	coffer_pool_t *a, *b;
	CHECK_OK(coffer_pool_open("src", 0, &a));
	CHECK_OK(coffer_pool_open("dst", 0, &b));
	coffer_fs_t *fs;
	CHECK_OK(coffer_fs_open(a, "src/fs", 0, &fs));
	CHECK_OK(put(fs, "late", "late data", 9, 0));
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_snapshot(a, "src/fs@s6"));
	CHECK_OK(send_to_file(a, "src/fs@s6", "@s5"));
	struct stat st;
	CHECK_OK(stat(stream, &st));
	char *good = malloc((size_t)st.st_size);
	int fd = open(stream, O_RDONLY);
	CHECK(read(fd, good, (size_t)st.st_size) == st.st_size);
	close(fd);
	coffer_pool_info_t before, after;
	coffer_propval_t ub, ua;
	CHECK_OK(coffer_pool_sync(b));
	CHECK_OK(coffer_pool_info(b, &before));
	CHECK_OK(coffer_prop_get(b, "dst/copy", "used", &ub));
	/* truncated at several points, and a flipped byte */
	size_t cuts[] = { 10, 600, (size_t)st.st_size / 2,
		(size_t)st.st_size - 1 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		fd = open(stream, O_WRONLY | O_TRUNC);
		CHECK(write(fd, good, cuts[i]) == (ssize_t)cuts[i]);
		close(fd);
		int err = recv_from_file(b, "dst/copy", 0);
		CHECK(err == COFFER_EBADSTREAM);
	}
	good[st.st_size / 2] ^= 0x20;
	fd = open(stream, O_WRONLY | O_TRUNC);
	CHECK(write(fd, good, (size_t)st.st_size) == st.st_size);
	close(fd);
	int err = recv_from_file(b, "dst/copy", 0);
	printf("  flipped byte: %s (%s)\n", coffer_strerror(err),
	    coffer_errdetail());
	CHECK(err == COFFER_EBADSTREAM);
	CHECK_OK(coffer_pool_sync(b));
	CHECK_OK(coffer_pool_info(b, &after));
	CHECK_OK(coffer_prop_get(b, "dst/copy", "used", &ua));
	CHECK(strcmp(ua.raw, ub.raw) == 0);
	CHECK(after.allocated == before.allocated);
	CHECK_OK(coffer_fs_open(b, "dst/copy", 0, &fs));
	uint64_t ino;
	CHECK_RC(coffer_resolve(fs, "/late", 0, &ino), -ENOENT);
	CHECK_OK(coffer_fs_close(fs));
	/* and the good stream still applies */
	good[st.st_size / 2] ^= 0x20;
	fd = open(stream, O_WRONLY | O_TRUNC);
	CHECK(write(fd, good, (size_t)st.st_size) == st.st_size);
	close(fd);
	CHECK_OK(recv_from_file(b, "dst/copy", 0));
	CHECK(same_file(a, "src/fs", b, "dst/copy", "/late"));
	free(good);
	CHECK_OK(coffer_pool_close(a));
	CHECK_OK(coffer_pool_close(b));
}

void test_main(void)
{
	RUN(test_full_and_incrementals);
	RUN(test_bad_streams_change_nothing);
}
