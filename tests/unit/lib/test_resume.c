/*
 * Resumable receive through the library: streams cut at every tenth of
 * their length resume to identical files; the receiver refuses resumed
 * streams whose echoed token, point or features were changed (checksums
 * recomputed, as a forger would) and keeps its state when it does;
 * coffer_receive_abort gives every byte back; a dry run's size is the
 * stream's size; receive -d / -e name the target.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "coffer.h"
#include "send/stream.h"

static char home[512], dev1[512], dev2[512], path[512];

static void setup(void)
{
	snprintf(home, sizeof(home), "%s/rhome", th_tmpdir());
	mkdir(home, 0700);
	setenv("COFFER_HOME", home, 1);
	snprintf(dev1, sizeof(dev1), "%s/rsrc.img", th_tmpdir());
	snprintf(dev2, sizeof(dev2), "%s/rdst.img", th_tmpdir());
	snprintf(path, sizeof(path), "%s/rstream", th_tmpdir());
}

static int put(coffer_fs_t *fs, const char *name, const void *data,
    size_t n)
{
	uint64_t ino;
	int err = coffer_mknod(fs, coffer_fs_root(fs), name, 0100644, 0, 0, 0,
	    NULL, &ino);
	if (err)
		return err;
	int64_t w = coffer_write(fs, ino, 0, data, n);
	return w == (int64_t)n ? 0 : (int)w;
}

/* Send (or resume, with token) into memory. */
static int send_mem(coffer_pool_t *p, const char *snap, const char *from,
    const char *token, uint8_t **buf, size_t *len)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	coffer_send_args_t a = { token, 0, 0, 0 };
	int err = coffer_send_ext(p, snap, from, 0, &a, fd, NULL, NULL);
	struct stat st;
	fstat(fd, &st);
	*len = (size_t)st.st_size;
	*buf = malloc(*len + 1);
	if (pread(fd, *buf, *len, 0) != (ssize_t)*len)
		err = -EIO;
	if (!err && a.bytes != *len)
		err = -EIO;
	close(fd);
	return err;
}

static int recv_mem(coffer_pool_t *p, const char *target, int flags,
    const uint8_t *buf, size_t len)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (write(fd, buf, len) != (ssize_t)len) {
		close(fd);
		return -EIO;
	}
	lseek(fd, 0, SEEK_SET);
	int err = coffer_receive(p, target, flags, fd);
	close(fd);
	return err;
}

static int token(coffer_pool_t *p, const char *ds, char *out, size_t n)
{
	coffer_propval_t v;
	int err = coffer_prop_get(p, ds, "receive_resume_token", &v);
	if (!err)
		snprintf(out, n, "%s", v.value);
	return err;
}

static int same(coffer_pool_t *b, const char *ds, const char *name,
    const uint8_t *data, size_t n)
{
	coffer_fs_t *fs;
	uint64_t ino;
	int ok = 0;
	if (coffer_fs_open(b, ds, COFFER_OPEN_RDONLY, &fs))
		return 0;
	uint8_t *x = malloc(n + 1);
	if (!coffer_resolve(fs, name, 0, &ino) &&
	    coffer_read(fs, ino, 0, x, n + 1) == (int64_t)n)
		ok = memcmp(x, data, n) == 0;
	free(x);
	coffer_fs_close(fs);
	return ok;
}

static int exists(coffer_pool_t *p, const char *name)
{
	coffer_propval_t v;
	return coffer_prop_get(p, name, "guid", &v);
}

/* Offset of the value of kv key `key` in buf (first match), or 0. */
static size_t kv_value_at(const uint8_t *buf, size_t len, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 8; i + kl < len && i < 8192; i++)
		if (memcmp(buf + i, key, kl) == 0 && buf[i - 7] == kl)
			return i + kl;
	return 0;
}

static uint8_t *data;
#define DATA_LEN (3u << 20)

static void test_cut_everywhere(void)
{
	setup();
	const char *d1[] = { dev1 }, *d2[] = { dev2 };
	coffer_pool_t *a, *b;
	CHECK_OK(coffer_pool_create("rsrc", d1, 1, 128u << 20, NULL, &a));
	CHECK_OK(coffer_pool_create("rdst", d2, 1, 128u << 20, NULL, &b));
	CHECK_OK(coffer_create(a, "rsrc/fs", COFFER_TYPE_FILESYSTEM, 0,
	    NULL));
	data = malloc(DATA_LEN);
	for (size_t i = 0; i < DATA_LEN; i++)
		data[i] = (uint8_t)(i * 131 + (i >> 9));
	coffer_fs_t *fs;
	CHECK_OK(coffer_fs_open(a, "rsrc/fs", 0, &fs));
	CHECK_OK(put(fs, "big", data, DATA_LEN));
	CHECK_OK(put(fs, "small", data + 7, 5000));
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_snapshot(a, "rsrc/fs@s1"));
	uint8_t *full;
	size_t flen;
	CHECK_OK(send_mem(a, "rsrc/fs@s1", NULL, NULL, &full, &flen));
	/* the dry run counts the same bytes without reading data */
	coffer_send_args_t dry = { NULL, 1, 0, 0 };
	CHECK_OK(coffer_send_ext(a, "rsrc/fs@s1", NULL, 0, &dry, -1, NULL,
	    NULL));
	CHECK(dry.bytes == flen);

	coffer_pool_info_t before, after;
	CHECK_OK(coffer_pool_sync(b));
	CHECK_OK(coffer_pool_info(b, &before));
	/* cut at each tenth; resume each time from the token */
	char tok[1024], prev[1024] = "";
	int rounds = 0;
	CHECK(recv_mem(b, "rdst/copy", COFFER_RECV_RESUMABLE, full,
	    flen / 10) == COFFER_EBADSTREAM);
	for (int k = 2; k <= 10; k++) {
		CHECK_OK(token(b, "rdst/copy", tok, sizeof(tok)));
		CHECK(strncmp(tok, "1-", 2) == 0);
		CHECK(strcmp(tok, prev) != 0 || k == 2);
		snprintf(prev, sizeof(prev), "%s", tok);
		coffer_resume_info_t ri;
		CHECK_OK(coffer_resume_token_info(tok, &ri));
		CHECK(strcmp(ri.toname, "rsrc/fs@s1") == 0);
		uint8_t *rest;
		size_t rlen;
		CHECK_OK(send_mem(a, NULL, NULL, tok, &rest, &rlen));
		CHECK(rlen < flen);
		size_t cut = k < 10 ? rlen / (size_t)(11 - k) : rlen;
		int err = recv_mem(b, "rdst/copy", 0, rest, cut);
		free(rest);
		rounds++;
		if (k < 10) {
			CHECK(err == COFFER_EBADSTREAM);
		} else {
			CHECK_OK(err);
		}
		if (err == 0)
			break;
	}
	CHECK(rounds == 9);
	CHECK(same(b, "rdst/copy", "/big", data, DATA_LEN));
	CHECK(same(b, "rdst/copy@s1", "/small", data + 7, 5000));
	CHECK_OK(token(b, "rdst/copy", tok, sizeof(tok)));
	CHECK(strcmp(tok, "-") == 0);

	/* abort gives everything back */
	CHECK_OK(coffer_pool_sync(b));
	CHECK_OK(coffer_pool_info(b, &before));
	CHECK(recv_mem(b, "rdst/gone", COFFER_RECV_RESUMABLE, full,
	    flen * 7 / 10) == COFFER_EBADSTREAM);
	CHECK_OK(coffer_pool_sync(b));
	CHECK_OK(coffer_pool_info(b, &after));
	CHECK(after.allocated > before.allocated);
	CHECK_RC(recv_mem(b, "rdst/gone", 0, full, flen), COFFER_EBUSY);
	CHECK_OK(coffer_receive_abort(b, "rdst/gone"));
	CHECK_RC(coffer_receive_abort(b, "rdst/gone"), COFFER_ENODS);
	CHECK_OK(coffer_pool_sync(b));
	CHECK_OK(coffer_pool_info(b, &after));
	CHECK(after.allocated == before.allocated);
	CHECK_RC(token(b, "rdst/gone", tok, sizeof(tok)), COFFER_ENODS);
	free(full);
	CHECK_OK(coffer_pool_close(a));
	CHECK_OK(coffer_pool_close(b));
}

/* A resumed stream changed as a forger would: refused, state kept. */
static void test_forged_streams(void)
{
	coffer_pool_t *a, *b;
	CHECK_OK(coffer_pool_open("rsrc", 0, &a));
	CHECK_OK(coffer_pool_open("rdst", 0, &b));
	coffer_fs_t *fs;
	CHECK_OK(coffer_fs_open(a, "rsrc/fs", 0, &fs));
	CHECK_OK(put(fs, "more", data + 99, 900000));
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_snapshot(a, "rsrc/fs@s2"));
	uint8_t *inc;
	size_t ilen;
	CHECK_OK(send_mem(a, "rsrc/fs@s2", "@s1", NULL, &inc, &ilen));
	CHECK(recv_mem(b, "rdst/copy", COFFER_RECV_RESUMABLE, inc,
	    ilen / 2) == COFFER_EBADSTREAM);
	/* the target is untouched until END */
	CHECK(!same(b, "rdst/copy", "/more", data + 99, 900000));
	char tok[1024], tok2[1024];
	CHECK_OK(token(b, "rdst/copy", tok, sizeof(tok)));
	uint8_t *rest;
	size_t rlen;
	CHECK_OK(send_mem(a, NULL, NULL, tok, &rest, &rlen));
	uint8_t *m = malloc(rlen);

	/* features: compressed added to BEGIN (the token is genuine) */
	memcpy(m, rest, rlen);
	m[40] |= 0x02;
	cf_stream_fixup(m, rlen);
	CHECK_RC(recv_mem(b, "rdst/copy", 0, m, rlen), COFFER_EBADSTREAM);
	printf("  features: %s\n", coffer_errdetail());
	CHECK(strstr(coffer_errdetail(), "features differ") != NULL);

	/* the echoed token's body changed: its MAC no longer verifies */
	memcpy(m, rest, rlen);
	size_t at = kv_value_at(m + 512, rlen - 512, "resume_token");
	CHECK(at != 0);
	m[512 + at + 20] ^= 0x01;
	cf_stream_fixup(m, rlen);
	CHECK_RC(recv_mem(b, "rdst/copy", 0, m, rlen), COFFER_EAUTH);
	CHECK(strstr(coffer_errdetail(), "not authentic") != NULL);

	/* the point moved, the token left alone */
	memcpy(m, rest, rlen);
	at = kv_value_at(m + 512, rlen - 512, "resume_offset");
	CHECK(at != 0);
	m[512 + at + 1] ^= 0x10;
	cf_stream_fixup(m, rlen);
	CHECK_RC(recv_mem(b, "rdst/copy", 0, m, rlen), COFFER_EBADSTREAM);
	CHECK(strstr(coffer_errdetail(), "does not start where") != NULL);

	/* the token echoed in another stream (the full one's BEGIN
	 * names another snapshot) */
	CHECK_OK(token(b, "rdst/copy", tok2, sizeof(tok2)));
	CHECK(strcmp(tok, tok2) == 0);
	CHECK(!same(b, "rdst/copy", "/more", data + 99, 900000));
	/* and the genuine stream still completes */
	CHECK_OK(recv_mem(b, "rdst/copy", 0, rest, rlen));
	CHECK(same(b, "rdst/copy", "/more", data + 99, 900000));
	CHECK(same(b, "rdst/copy", "/big", data, DATA_LEN));
	free(m);
	free(rest);
	free(inc);
	CHECK_OK(coffer_pool_close(a));
	CHECK_OK(coffer_pool_close(b));
}

/* receive -d / -e: the target from the stream's name. */
static void test_target_names(void)
{
	coffer_pool_t *a, *b;
	CHECK_OK(coffer_pool_open("rsrc", 0, &a));
	CHECK_OK(coffer_pool_open("rdst", 0, &b));
	CHECK_OK(coffer_create(a, "rsrc/x", COFFER_TYPE_FILESYSTEM, 0, NULL));
	CHECK_OK(coffer_create(a, "rsrc/x/y", COFFER_TYPE_FILESYSTEM, 0,
	    NULL));
	CHECK_OK(coffer_snapshot(a, "rsrc/x/y@n"));
	uint8_t *s;
	size_t len;
	CHECK_OK(send_mem(a, "rsrc/x/y@n", NULL, NULL, &s, &len));
	CHECK_OK(coffer_create(b, "rdst/d", COFFER_TYPE_FILESYSTEM, 0, NULL));
	CHECK_OK(recv_mem(b, "rdst/d", COFFER_RECV_DNAME, s, len));
	CHECK_OK(exists(b, "rdst/d/x/y@n"));
	CHECK_OK(recv_mem(b, "rdst", COFFER_RECV_ENAME, s, len));
	CHECK_OK(exists(b, "rdst/y@n"));
	CHECK_RC(recv_mem(b, "rdst/none", COFFER_RECV_ENAME, s, len),
	    COFFER_ENODS);
	free(s);
	free(data);
	CHECK_OK(coffer_pool_close(a));
	CHECK_OK(coffer_pool_close(b));
}

void test_main(void)
{
	RUN(test_cut_everywhere);
	RUN(test_forged_streams);
	RUN(test_target_names);
}
