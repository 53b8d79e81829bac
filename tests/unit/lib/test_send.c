/*
 * send | receive round trips through a file: a full stream and a chain of
 * incrementals, between two pools; the received files are identical, the
 * snapshots carry the sender's guids, and a damaged or truncated stream
 * leaves the target exactly as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "coffer.h"
#include "send/stream.h"

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

static uint8_t *slurp(size_t *len)
{
	struct stat st;
	if (stat(stream, &st) != 0)
		return NULL;
	uint8_t *b = malloc((size_t)st.st_size + 1);
	int fd = open(stream, O_RDONLY);
	if (!b || fd < 0 || read(fd, b, (size_t)st.st_size) != st.st_size) {
		free(b);
		b = NULL;
	}
	if (fd >= 0)
		close(fd);
	*len = (size_t)st.st_size;
	return b;
}

/* Feed a stream file into a pipe in two halves, waiting between them
 * until told to go on. */
struct feeder {
	int fd;
	const uint8_t *data;
	size_t len;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int half_sent, go;
};

static void feed(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void *feeder_main(void *arg)
{
	struct feeder *f = arg;
	feed(f->fd, f->data, f->len / 2);
	pthread_mutex_lock(&f->mu);
	f->half_sent = 1;
	pthread_cond_broadcast(&f->cv);
	while (!f->go)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
	feed(f->fd, f->data + f->len / 2, f->len - f->len / 2);
	close(f->fd);
	return NULL;
}

struct receiver {
	coffer_pool_t *p;
	int fd;
	int err;
	char detail[1024];
};

static void *receiver_main(void *arg)
{
	struct receiver *r = arg;
	r->err = coffer_receive(r->p, "cdst/copy", 0, r->fd);
	snprintf(r->detail, sizeof(r->detail), "%s", coffer_errdetail());
	return NULL;
}

/*
 * A file written into the target while an incremental stream is being
 * received into it (the same process: another process cannot open the
 * pool) is not lost: the receive fails at its end, as it would have at
 * its start, and the target keeps the file.
 */
static void test_target_changed_during_receive(void)
{
	setup();
	char e1[600], e2[600];
	snprintf(e1, sizeof(e1), "%s/csrc.img", th_tmpdir());
	snprintf(e2, sizeof(e2), "%s/cdst.img", th_tmpdir());
	const char *d1[] = { e1 }, *d2[] = { e2 };
	coffer_pool_t *a, *b;
	CHECK_OK(coffer_pool_create("csrc", d1, 1, 128u << 20, NULL, &a));
	CHECK_OK(coffer_pool_create("cdst", d2, 1, 128u << 20, NULL, &b));
	CHECK_OK(coffer_create(a, "csrc/fs", COFFER_TYPE_FILESYSTEM, 0, NULL));
	size_t n = 3u << 20;
	char *buf = malloc(n);
	CHECK(buf != NULL);
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)(i * 7 + (i >> 11));
	coffer_fs_t *fs;
	CHECK_OK(coffer_fs_open(a, "csrc/fs", 0, &fs));
	CHECK_OK(put(fs, "one", buf, 1000, 0));
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_snapshot(a, "csrc/fs@s1"));
	CHECK_OK(send_to_file(a, "csrc/fs@s1", NULL));
	CHECK_OK(recv_from_file(b, "cdst/copy", 0));
	CHECK_OK(coffer_fs_open(a, "csrc/fs", 0, &fs));
	CHECK_OK(put(fs, "big", buf, n, 0));
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_snapshot(a, "csrc/fs@s2"));
	CHECK_OK(send_to_file(a, "csrc/fs@s2", "@s1"));

	/* the stream, through a pipe, cut in two */
	size_t slen;
	uint8_t *sb = slurp(&slen);
	CHECK(sb != NULL);
	int pfd[2];
	CHECK_OK(pipe(pfd));
	struct feeder f = { pfd[1], sb, slen,
		PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
	struct receiver r = { b, pfd[0], 0, "" };
	pthread_t tf, tr;
	CHECK_OK(pthread_create(&tf, NULL, feeder_main, &f));
	CHECK_OK(pthread_create(&tr, NULL, receiver_main, &r));
	pthread_mutex_lock(&f.mu);
	while (!f.half_sent)
		pthread_cond_wait(&f.cv, &f.mu);
	pthread_mutex_unlock(&f.mu);
	/* the receive is under way: write into its target */
	CHECK_OK(coffer_fs_open(b, "cdst/copy", 0, &fs));
	CHECK_OK(put(fs, "local", "mine", 4, 0));
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_pool_sync(b));
	pthread_mutex_lock(&f.mu);
	f.go = 1;
	pthread_cond_broadcast(&f.cv);
	pthread_mutex_unlock(&f.mu);
	pthread_join(tf, NULL);
	pthread_join(tr, NULL);
	close(pfd[0]);
	CHECK_RC(r.err, COFFER_EBUSY);
	CHECK(strstr(r.detail, "changed while the stream was being received"));
	/* the local file is there, the stream's is not, nothing leaked */
	uint64_t ino;
	CHECK_OK(coffer_fs_open(b, "cdst/copy", 0, &fs));
	CHECK_OK(coffer_resolve(fs, "/local", 0, &ino));
	CHECK_RC(coffer_resolve(fs, "/big", 0, &ino), -ENOENT);
	CHECK_OK(coffer_fs_close(fs));
	coffer_propval_t v;
	CHECK_RC(coffer_prop_get(b, "cdst/copy@s2", "guid", &v), COFFER_ENODS);
	free(sb);
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

/* ---- raw streams (send -w) ------------------------------------------------- */

static const uint8_t rawkey[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t rawkey2[32] = "ZYXWVUTSRQPONMLKJIHGFEDCBA987654";
static const coffer_key_t key1 = { rawkey, 32 };
static const coffer_key_t key2 = { rawkey2, 32 };

/* A home and two devices of their own for each raw test. */
static void rsetup(const char *tag)
{
	snprintf(home, sizeof(home), "%s/rhome-%s", th_tmpdir(), tag);
	mkdir(home, 0700);
	setenv("COFFER_HOME", home, 1);
	snprintf(dev1, sizeof(dev1), "%s/%s-src.img", th_tmpdir(), tag);
	snprintf(dev2, sizeof(dev2), "%s/%s-dst.img", th_tmpdir(), tag);
	snprintf(stream, sizeof(stream), "%s/%s.stream", th_tmpdir(), tag);
}

static int send_flags(coffer_pool_t *p, const char *snap, const char *from,
    int flags)
{
	int fd = open(stream, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int err = coffer_send(p, snap, from, flags, fd, NULL, NULL);
	close(fd);
	return err;
}

static uint32_t g32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t g64(const uint8_t *p)
{
	return (uint64_t)g32(p) | (uint64_t)g32(p + 4) << 32;
}

/* The stream file in memory, and back. */

static int spit(const uint8_t *b, size_t len)
{
	int fd = open(stream, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int ok = fd >= 0 && write(fd, b, len) == (ssize_t)len;
	if (fd >= 0)
		close(fd);
	return ok ? 0 : -EIO;
}

/*
 * The header offset of the first record of `type` whose u64 at header
 * offset `at` is `v` (at 0: any), or -1.
 */
static long find_rec(const uint8_t *b, size_t len, uint32_t type, int at,
    uint64_t v)
{
	size_t off = 0;
	while (len - off >= 512) {
		uint64_t plen = g64(b + off + 16);
		if (g32(b + off + 8) == type && (!at || g64(b + off + at) == v))
			return (long)off;
		off += 512 + ((plen + 7) & ~(uint64_t)7);
		if (off > len)
			break;
	}
	return -1;
}

/* Is the whole stream free of `needle`? */
static int lacks_bytes(const uint8_t *b, size_t len, const void *needle,
    size_t n)
{
	return memmem(b, len, needle, n) == NULL;
}

static int propis(coffer_pool_t *p, const char *ds, const char *prop,
    const char *want)
{
	coffer_propval_t v;
	if (coffer_prop_get(p, ds, prop, &v) != 0)
		return 0;
	if (strcmp(v.raw, want) != 0) {
		printf("  %s %s: '%s', expected '%s'\n", ds, prop, v.raw, want);
		return 0;
	}
	return 1;
}

static const char MARK[] = "RAW-PLAINTEXT-MARKER-51d";

/* data for round r of file f */
static void fill(char *buf, size_t n, int f, int r)
{
	uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(f * 131 + r + 1);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (char)x;
	}
	for (size_t i = 0; i + sizeof(MARK) < n && i < 4096;
	    i += sizeof(MARK) - 1)
		memcpy(buf + i, MARK, sizeof(MARK) - 1);
}

/*
 * A full raw stream and four raw incrementals, the key never loaded on
 * the receiver while receiving and unloaded on the sender while sending;
 * then the receiver's key loads (the sender's key) and every snapshot's
 * files are the sender's.
 */
static void test_raw_full_and_incrementals(void)
{
	rsetup("rt");
	const char *d1[] = { dev1 }, *d2[] = { dev2 };
	coffer_pool_t *a, *b;
	CHECK_OK(coffer_pool_create("rs", d1, 1, 128u << 20, NULL, &a));
	CHECK_OK(coffer_pool_create("rd", d2, 1, 128u << 20, NULL, &b));
	const char *props[] = { "encryption=aes-256-gcm", "keyformat=raw",
		"compression=lz4", NULL };
	CHECK_OK(coffer_create_key(a, "rs/enc", COFFER_TYPE_FILESYSTEM, 0,
	    props, &key1));
	char *buf = malloc(1 << 20);
	CHECK(buf != NULL);
	coffer_fs_t *fs;
	const int rounds = 5;
	for (int round = 0; round < rounds; round++) {
		if (round)
			CHECK_OK(coffer_load_key(a, "rs/enc", &key1, 0));
		CHECK_OK(coffer_fs_open(a, "rs/enc", 0, &fs));
		fill(buf, 700000, 0, round);
		CHECK_OK(put(fs, "big", buf, 700000, (uint64_t)round * 60000));
		char nm[16];
		snprintf(nm, sizeof(nm), "f%d", round);
		fill(buf, 5000 + (size_t)round, round + 1, round);
		CHECK_OK(put(fs, nm, buf, 5000 + (size_t)round, 0));
		if (round == 2) {
			CHECK_OK(coffer_unlink(fs, coffer_fs_root(fs), "f1"));
			uint64_t ino;
			CHECK_OK(coffer_resolve(fs, "/big", 0, &ino));
			CHECK_OK(coffer_truncate(fs, ino, 100000));
		}
		CHECK_OK(coffer_fs_close(fs));
		char snap[32], prev[32];
		snprintf(snap, sizeof(snap), "rs/enc@s%d", round);
		snprintf(prev, sizeof(prev), "@s%d", round - 1);
		CHECK_OK(coffer_snapshot(a, snap));
		CHECK_OK(coffer_unload_key(a, "rs/enc"));
		CHECK(propis(a, "rs/enc", "keystatus", "unavailable"));
		/* a plain send needs the key; a raw one does not */
		CHECK(send_flags(a, snap, round ? prev : NULL, 0) ==
		    COFFER_ENOKEY);
		CHECK_OK(send_flags(a, snap, round ? prev : NULL,
		    COFFER_SEND_RAW));
		size_t len;
		uint8_t *sb = slurp(&len);
		CHECK(sb != NULL);
		CHECK(lacks_bytes(sb, len, MARK, sizeof(MARK) - 1));
		/* the keystore goes only with the full stream */
		long k = find_rec(sb, len, 8, 0, 0);
		CHECK(k >= 0);
		CHECK(round ? g32(sb + k + 60) == 0 : g32(sb + k + 60) > 0);
		CHECK(find_rec(sb, len, 7, 0, 0) >= 0);      /* OBJECT_RANGE */
		free(sb);
		CHECK_OK(recv_from_file(b, "rd/copy", 0));
		CHECK(propis(b, "rd/copy", "keystatus", "unavailable"));
		char rsnap[32];
		coffer_propval_t ga, gb;
		snprintf(rsnap, sizeof(rsnap), "rd/copy@s%d", round);
		CHECK_OK(coffer_prop_get(a, snap, "guid", &ga));
		CHECK_OK(coffer_prop_get(b, rsnap, "guid", &gb));
		CHECK(strcmp(ga.raw, gb.raw) == 0);
	}
	CHECK(propis(b, "rd/copy", "encryptionroot", "rd/copy"));
	CHECK(propis(b, "rd/copy", "keylocation", "prompt"));
	CHECK(propis(b, "rd/copy", "keyformat", "raw"));
	CHECK(propis(b, "rd/copy", "encryption", "aes-256-gcm"));
	CHECK_RC(coffer_fs_open(b, "rd/copy", 0, &fs), COFFER_ENOKEY);
	/* scrub verifies every received block without the key */
	coffer_pool_info_t info;
	CHECK_OK(coffer_pool_scrub(b, NULL, NULL));
	CHECK_OK(coffer_pool_info(b, &info));
	CHECK(info.scrub_state == 2 && info.scrub_errors == 0 &&
	    info.scrub_unrecoverable == 0 && info.scrub_blocks > 0);
	/* the sender's key, and only it, unlocks the copy */
	CHECK_RC(coffer_load_key(b, "rd/copy", &key2, 0), COFFER_EWRONGKEY);
	CHECK_OK(coffer_load_key(b, "rd/copy", &key1, 0));
	CHECK_OK(coffer_load_key(a, "rs/enc", &key1, 0));
	for (int round = 0; round < rounds; round++) {
		char snap[32], rsnap[32], nm[16];
		snprintf(snap, sizeof(snap), "rs/enc@s%d", round);
		snprintf(rsnap, sizeof(rsnap), "rd/copy@s%d", round);
		CHECK(same_file(a, snap, b, rsnap, "/big"));
		for (int f = 0; f <= round; f++) {
			snprintf(nm, sizeof(nm), "/f%d", f);
			if (f == 1 && round >= 2)
				continue;
			CHECK(same_file(a, snap, b, rsnap, nm));
		}
	}
	CHECK(same_file(a, "rs/enc", b, "rd/copy", "/big"));
	CHECK_OK(coffer_fs_open(b, "rd/copy", 0, &fs));
	uint64_t ino;
	CHECK_RC(coffer_resolve(fs, "/f1", 0, &ino), -ENOENT);
	/* writable once its key is loaded */
	CHECK_OK(put(fs, "new", "written here", 12, 0));
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_snapshot(b, "rd/copy@here"));
	CHECK_OK(coffer_unload_key(b, "rd/copy"));
	CHECK_OK(coffer_unload_key(a, "rs/enc"));
	/* and raw back, without a key, as a new root beside the source */
	CHECK_OK(send_flags(b, "rd/copy@here", NULL, COFFER_SEND_RAW));
	CHECK_OK(recv_from_file(a, "rs/back", 0));
	CHECK_OK(coffer_load_key(a, "rs/back", &key1, 0));
	CHECK_OK(coffer_load_key(b, "rd/copy", &key1, 0));
	CHECK(same_file(a, "rs/back", b, "rd/copy", "/new"));
	CHECK(same_file(a, "rs/back", b, "rd/copy", "/big"));
	CHECK_OK(coffer_unload_key(a, "rs/back"));
	CHECK_OK(coffer_unload_key(b, "rd/copy"));
	free(buf);
	CHECK_OK(coffer_pool_close(a));
	CHECK_OK(coffer_pool_close(b));
}

/* Flip one bit of the stream file at `off`, fix the checksums up, save. */
static int forge(const uint8_t *good, size_t len, size_t off)
{
	uint8_t *b = malloc(len);
	if (!b)
		return -ENOMEM;
	memcpy(b, good, len);
	b[off] ^= 0x04;
	cf_stream_fixup(b, len);
	int err = spit(b, len);
	free(b);
	return err;
}

/* Read all of a file: 0 and the bytes equal to `want`, or the error. */
static int read_all(coffer_pool_t *p, const char *ds, const char *path,
    const char *want, size_t n)
{
	coffer_fs_t *fs;
	uint64_t ino;
	int err = coffer_fs_open(p, ds, 0, &fs);
	if (err)
		return err;
	err = coffer_resolve(fs, path, 0, &ino);
	char *x = malloc(n);
	if (!err && !x)
		err = -ENOMEM;
	int64_t r = err ? 0 : coffer_read(fs, ino, 0, x, n);
	if (!err && r < 0)
		err = (int)r;
	else if (!err && (r != (int64_t)n || memcmp(x, want, n) != 0))
		err = -EILSEQ;  /* wrong data: must never happen */
	free(x);
	coffer_fs_close(fs);
	return err;
}

/*
 * Raw streams forged with valid checksums (cf_stream_fixup): the
 * receiver cannot tell without the key, so the receive succeeds, but the
 * key or the data fails authentication; no plaintext is ever returned.
 * An incremental's key record must be the target's.
 */
static void test_raw_forged(void)
{
	rsetup("rf");
	const char *d1[] = { dev1 }, *d2[] = { dev2 };
	coffer_pool_t *a, *b;
	CHECK_OK(coffer_pool_create("fs1", d1, 1, 96u << 20, NULL, &a));
	CHECK_OK(coffer_pool_create("fd1", d2, 1, 160u << 20, NULL, &b));
	/* uncompressed, so a dnode block's payload is as laid out */
	const char *props[] = { "encryption=aes-256-gcm", "keyformat=raw",
		"compression=off", NULL };
	CHECK_OK(coffer_create_key(a, "fs1/enc", COFFER_TYPE_FILESYSTEM, 0,
	    props, &key1));
	const size_t dn = 300000, on = 3000;
	char *data = malloc(dn), *other = malloc(on);
	CHECK(data && other);
	fill(data, dn, 7, 0);
	fill(other, on, 8, 0);
	coffer_fs_t *fs;
	uint64_t ino;
	CHECK_OK(coffer_fs_open(a, "fs1/enc", 0, &fs));
	CHECK_OK(put(fs, "data", data, dn, 0));
	CHECK_OK(put(fs, "other", other, on, 0));
	CHECK_OK(coffer_resolve(fs, "/data", 0, &ino));
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_snapshot(a, "fs1/enc@s0"));
	CHECK_OK(coffer_unload_key(a, "fs1/enc"));
	CHECK_OK(send_flags(a, "fs1/enc@s0", NULL, COFFER_SEND_RAW));
	size_t len;
	uint8_t *good = slurp(&len);
	CHECK(good != NULL);
	long k = find_rec(good, len, 8, 0, 0);
	CHECK(k >= 0);
	uint32_t krlen = g32(good + k + 56), kslen = g32(good + k + 60);
	CHECK(krlen > 0 && kslen > 72);

	/* (a) the wrapped key of the keystore's first slot in use */
	size_t ks = (size_t)k + 512 + krlen, slot = 72;
	while (slot + 160 <= kslen && good[ks + slot] != 1)
		slot += 160;
	CHECK(slot + 160 <= kslen);
	CHECK_OK(forge(good, len, ks + slot + 84 + 3));
	int err = recv_from_file(b, "fd1/a", 0);
	printf("  forged keystore: receive %s\n", coffer_strerror(err));
	CHECK_OK(err);
	err = coffer_load_key(b, "fd1/a", &key1, 0);
	printf("  load-key: %s (%s)\n", coffer_strerror(err),
	    coffer_errdetail());
	CHECK_RC(err, COFFER_EAUTH);
	CHECK(propis(b, "fd1/a", "keystatus", "unavailable"));
	CHECK_RC(coffer_fs_open(b, "fd1/a", 0, &fs), COFFER_ENOKEY);

	/* (b) a sealed data block of /data: the second of its blocks */
	long w = find_rec(good, len, 5, 32, ino);
	CHECK(w >= 0);
	uint32_t bs = g32(good + w + 48);       /* its block size */
	CHECK(bs > 0 && bs < dn / 2);
	/* the next WRITE records of /data, to the one at offset bs */
	while (w >= 0 && g64(good + w + 40) != bs) {
		size_t next = (size_t)w + 512 +
		    (size_t)((g64(good + w + 16) + 7) & ~(uint64_t)7);
		long n = find_rec(good + next, len - next, 5, 32, ino);
		w = n < 0 ? -1 : (long)next + n;
	}
	CHECK(w >= 0 && g64(good + w + 40) == bs);
	CHECK(good[w + 60] == 0x01);            /* encrypted */
	CHECK_OK(forge(good, len, (size_t)w + 512 + g32(good + w + 52) / 2));
	err = recv_from_file(b, "fd1/b", 0);
	printf("  forged WRITE: receive %s\n", coffer_strerror(err));
	CHECK_OK(err);
	CHECK_OK(coffer_load_key(b, "fd1/b", &key1, 0));
	CHECK_OK(read_all(b, "fd1/b", "/other", other, on));
	err = read_all(b, "fd1/b", "/data", data, dn);
	printf("  reading the forged block: %s (%s)\n", coffer_strerror(err),
	    coffer_errdetail());
	CHECK_RC(err, COFFER_EAUTH);
	/* the blocks before it are intact and readable */
	CHECK_OK(read_all(b, "fd1/b", "/data", data, bs));
	CHECK_OK(coffer_unload_key(b, "fd1/b"));

	/* (c) the sealed bonus of /data in its dnode block */
	long r = find_rec(good, len, 7, 32, ino / 32 * 32);
	CHECK(r >= 0);
	CHECK(good[r + 58] == 0 && g32(good + r + 52) == 16384);
	size_t at = (size_t)r + 512 + (ino % 32) * 512;
	CHECK(good[at] != 0 && good[at + 2] | good[at + 3]);  /* bonuslen */
	CHECK_OK(forge(good, len, at + 256 + 5));
	err = recv_from_file(b, "fd1/c", 0);
	printf("  forged OBJECT_RANGE: receive %s\n", coffer_strerror(err));
	CHECK_OK(err);
	err = coffer_load_key(b, "fd1/c", &key1, 0);
	CHECK(err == 0 || err == COFFER_EAUTH);
	if (err == 0) {
		int e1 = read_all(b, "fd1/c", "/data", data, dn);
		int e2 = read_all(b, "fd1/c", "/other", other, on);
		printf("  reading: %s, %s (%s)\n", coffer_strerror(e1),
		    coffer_strerror(e2), coffer_errdetail());
		CHECK_RC(e1, COFFER_EAUTH);
		CHECK(e2 == 0 || e2 == COFFER_EAUTH);
		CHECK_OK(coffer_unload_key(b, "fd1/c"));
	}

	/* the good stream: received, loaded, read */
	CHECK_OK(spit(good, len));
	CHECK_OK(recv_from_file(b, "fd1/d", 0));
	CHECK_OK(coffer_load_key(b, "fd1/d", &key1, 0));
	CHECK_OK(read_all(b, "fd1/d", "/data", data, dn));
	CHECK_OK(coffer_unload_key(b, "fd1/d"));
	free(good);

	/* (d) an incremental whose key record is not the target's */
	CHECK_OK(coffer_load_key(a, "fs1/enc", &key1, 0));
	CHECK_OK(coffer_fs_open(a, "fs1/enc", 0, &fs));
	CHECK_OK(put(fs, "late", "late data", 9, 0));
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_snapshot(a, "fs1/enc@s1"));
	CHECK_OK(coffer_unload_key(a, "fs1/enc"));
	CHECK_OK(send_flags(a, "fs1/enc@s1", "@s0", COFFER_SEND_RAW));
	good = slurp(&len);
	CHECK(good != NULL);
	k = find_rec(good, len, 8, 0, 0);
	CHECK(k >= 0);
	krlen = g32(good + k + 56);
	CHECK(g32(good + k + 60) == 0);         /* no keystore */
	CHECK(krlen >= 40 + 100);
	coffer_propval_t ub, ua;
	coffer_pool_info_t before, after;
	CHECK_OK(coffer_pool_sync(b));
	CHECK_OK(coffer_pool_info(b, &before));
	CHECK_OK(coffer_prop_get(b, "fd1/d", "used", &ub));
	/* the crypt guid (key record byte 16), the wrapped master key of
	 * generation 1 (byte 40 + 36 + 5), its tag (byte 40 + 20) */
	size_t spots[] = { 16 + 2, 40 + 36 + 5, 40 + 20 + 1 };
	for (size_t i = 0; i < CF_ARRAY_SIZE(spots); i++) {
		CHECK_OK(forge(good, len, (size_t)k + 512 + spots[i]));
		err = recv_from_file(b, "fd1/d", 0);
		printf("  incremental, key record byte %zu: %s (%s)\n",
		    spots[i], coffer_strerror(err), coffer_errdetail());
		CHECK_RC(err, COFFER_EBADSTREAM);
		/* the refusal's own reason, not the reader's fallback */
		CHECK(strstr(coffer_errdetail(), "key") != NULL);
		CHECK_OK(coffer_pool_sync(b));
		CHECK_OK(coffer_pool_info(b, &after));
		CHECK_OK(coffer_prop_get(b, "fd1/d", "used", &ua));
		CHECK(strcmp(ua.raw, ub.raw) == 0);
		CHECK(after.allocated == before.allocated);
		coffer_propval_t sv;
		CHECK_RC(coffer_prop_get(b, "fd1/d@s1", "guid", &sv),
		    COFFER_ENODS);
	}
	/* and the good one applies, key unloaded */
	CHECK_OK(spit(good, len));
	CHECK_OK(recv_from_file(b, "fd1/d", 0));
	CHECK_OK(coffer_load_key(b, "fd1/d", &key1, 0));
	CHECK_OK(read_all(b, "fd1/d", "/late", "late data", 9));
	CHECK_OK(read_all(b, "fd1/d", "/data", data, dn));
	CHECK_OK(coffer_unload_key(b, "fd1/d"));
	free(good);
	free(data);
	free(other);
	CHECK_OK(coffer_pool_close(a));
	CHECK_OK(coffer_pool_close(b));
}

void test_main(void)
{
	RUN(test_full_and_incrementals);
	RUN(test_bad_streams_change_nothing);
	RUN(test_target_changed_during_receive);
	RUN(test_raw_full_and_incrementals);
	RUN(test_raw_forged);
}
