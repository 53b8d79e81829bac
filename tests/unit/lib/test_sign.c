/*
 * Signed streams through the public API: keys in a keyring directory
 * (coffer_signkey_*), a signed send (coffer_send_signed, both modes, all
 * algorithms, a passphrase), verified receives (coffer_receive_verify)
 * with what they report, the receive_policy property, and a damaged
 * stream that leaves the target exactly as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "coffer.h"

static char home[512], kr_send[512], kr_recv[512], stream[512];

static void setup(void)
{
	snprintf(home, sizeof(home), "%s/home", th_tmpdir());
	mkdir(home, 0700);
	setenv("COFFER_HOME", home, 1);
	snprintf(kr_send, sizeof(kr_send), "%s/ksend", th_tmpdir());
	snprintf(kr_recv, sizeof(kr_recv), "%s/krecv", th_tmpdir());
	snprintf(stream, sizeof(stream), "%s/stream", th_tmpdir());
}

static int send_signed(coffer_pool_t *p, const char *snap, const char *from,
    const coffer_signer_t *s, int mode)
{
	coffer_send_args_t a = { NULL, 0, 0, 0 };
	int fd = open(stream, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int err = coffer_send_signed(p, snap, from, 0, &a, s, mode, fd, NULL,
	    NULL);
	close(fd);
	return err;
}

static int recv_verify(coffer_pool_t *p, const char *target, int flags,
    coffer_recv_info_t *info)
{
	int fd = open(stream, O_RDONLY);
	int err = coffer_receive_verify(p, target, flags, fd, NULL, 0, kr_recv,
	    info);
	close(fd);
	return err;
}

static int write_file(coffer_pool_t *p, const char *ds, const char *name,
    size_t n, int seed)
{
	coffer_fs_t *fs;
	uint64_t ino;
	char *buf = malloc(n);
	int err = coffer_fs_open(p, ds, 0, &fs);

	for (size_t i = 0; i < n; i++)
		buf[i] = (char)(i * 7 + seed);
	if (!err) {
		err = coffer_mknod(fs, coffer_fs_root(fs), name, 0100644, 0, 0,
		    0, NULL, &ino);
		if (err == -EEXIST)
			err = coffer_lookup(fs, coffer_fs_root(fs), name, &ino);
		if (!err && coffer_write(fs, ino, 0, buf, n) != (int64_t)n)
			err = -EIO;
		coffer_fs_close(fs);
	}
	free(buf);
	return err;
}

static int nsnaps_cb(const char *name, int type, void *arg)
{
	(void)name;
	(void)type;
	(*(int *)arg)++;
	return 0;
}

static int nsnaps(coffer_pool_t *p, const char *ds)
{
	int n = 0;
	if (coffer_ds_iter(p, ds, 0, COFFER_TYPE_SNAPSHOT, nsnaps_cb, &n) != 0)
		return -1;
	return n;
}

static void test_signed_roundtrip(void)
{
	static const char *algs[] = { "ed25519", "ecdsa-p256", "ecdsa-p384" };
	coffer_pool_t *src, *dst;
	coffer_signkey_info_t info;
	char dev[600], line[512], name[64];
	coffer_key_t pass = { (const uint8_t *)"sender passphrase", 17 };

	setup();
	snprintf(dev, sizeof(dev), "%s/src.img", th_tmpdir());
	const char *d1[] = { dev };
	CHECK_OK(coffer_pool_create("src", d1, 1, 256u << 20, NULL, &src));
	snprintf(dev, sizeof(dev), "%s/dst.img", th_tmpdir());
	const char *d2[] = { dev };
	CHECK_OK(coffer_pool_create("dst", d2, 1, 256u << 20, NULL, &dst));
	CHECK_OK(coffer_create(src, "src/fs", COFFER_TYPE_FILESYSTEM, 0, NULL));
	CHECK_OK(write_file(src, "src/fs", "f", 300000, 1));
	CHECK_OK(coffer_snapshot(src, "src/fs@s1"));

	for (int a = 0; a < 3; a++) {
		snprintf(name, sizeof(name), "k%d", a);
		CHECK_OK(coffer_signkey_generate(kr_send, name, algs[a],
		    a == 1 ? &pass : NULL, &info));
		CHECK(strcmp(info.alg, algs[a]) == 0 && info.has_private);
		CHECK(info.encrypted == (a == 1));
		CHECK_OK(coffer_signkey_export(kr_send, name, line,
		    sizeof(line)));
		CHECK_OK(coffer_signkey_trust(kr_recv, line, strlen(line), NULL,
		    &info));
		CHECK(!info.has_private);
		for (int mode = 0; mode < 2; mode++) {
			coffer_signer_t *s;
			coffer_recv_info_t ri;
			char tgt[64];
			if (a == 1) {
				CHECK_RC(coffer_signer_open(kr_send, name, NULL, &s),
				    COFFER_ENOKEY);
				CHECK_OK(coffer_signer_open(kr_send, name, &pass,
				    &s));
			} else {
				CHECK_OK(coffer_signer_open(kr_send, name, NULL,
				    &s));
			}
			CHECK_OK(send_signed(src, "src/fs@s1", NULL, s, mode));
			coffer_signer_close(s);
			snprintf(tgt, sizeof(tgt), "dst/r%d%d", a, mode);
			CHECK_OK(recv_verify(dst, tgt, COFFER_RECV_SIGNED, &ri));
			CHECK(ri.is_signed && ri.verified);
			CHECK(strcmp(ri.keyname, name) == 0);
			CHECK(strcmp(ri.mode, mode ? "record" : "chain") == 0);
			CHECK(ri.checkpoints >= 2);
			CHECK(nsnaps(dst, tgt) == 1);
		}
	}

	/* a damaged signed incremental leaves the target as it was */
	coffer_signer_t *s;
	coffer_recv_info_t ri;
	CHECK_OK(coffer_signer_open(kr_send, "default", NULL, &s));
	CHECK_OK(write_file(src, "src/fs", "f", 300000, 2));
	CHECK_OK(coffer_snapshot(src, "src/fs@s2"));
	CHECK_OK(send_signed(src, "src/fs@s2", "@s1", s, COFFER_SIGN_CHAIN));
	coffer_propval_t before, after;
	CHECK_OK(coffer_prop_get(dst, "dst/r00", "referenced", &before));
	{
		/* flip one payload byte past BEGIN; the running checksum then
		 * catches it (without a fixup) or the signature does */
		int fd = open(stream, O_RDWR);
		struct stat st;
		CHECK(fd >= 0 && fstat(fd, &st) == 0);
		off_t at = st.st_size / 2;
		unsigned char c;
		CHECK(pread(fd, &c, 1, at) == 1);
		c ^= 0x10;
		CHECK(pwrite(fd, &c, 1, at) == 1);
		close(fd);
	}
	int rc = recv_verify(dst, "dst/r00", COFFER_RECV_SIGNED, &ri);
	CHECK(rc == COFFER_EBADSTREAM || rc == COFFER_EAUTH);
	CHECK(strstr(coffer_errdetail(), "at byte") != NULL);
	CHECK(nsnaps(dst, "dst/r00") == 1);
	CHECK_OK(coffer_prop_get(dst, "dst/r00", "referenced", &after));
	CHECK(strcmp(before.raw, after.raw) == 0);
	/* the genuine one is accepted */
	CHECK_OK(send_signed(src, "src/fs@s2", "@s1", s, COFFER_SIGN_CHAIN));
	CHECK_OK(recv_verify(dst, "dst/r00", COFFER_RECV_SIGNED, &ri));
	CHECK(nsnaps(dst, "dst/r00") == 2);

	/* receive_policy=signed: an unsigned stream needs -k */
	int fd = open(stream, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK_OK(coffer_send(src, "src/fs@s1", NULL, 0, fd, NULL, NULL));
	close(fd);
	CHECK_OK(coffer_prop_set(dst, "dst", "receive_policy", "signed"));
	CHECK_RC(recv_verify(dst, "dst/u1", 0, &ri), COFFER_EAUTH);
	CHECK(strstr(coffer_errdetail(), "not signed") != NULL);
	CHECK_OK(recv_verify(dst, "dst/u1", COFFER_RECV_UNVERIFIED, &ri));
	CHECK(!ri.is_signed && !ri.verified);
	CHECK_OK(coffer_prop_set(dst, "dst", "receive_policy", "any"));
	CHECK_OK(recv_verify(dst, "dst/u2", 0, &ri));
	CHECK_RC(coffer_prop_set(dst, "dst", "receive_policy", "maybe"),
	    COFFER_EBADPROP);

	coffer_signer_close(s);
	CHECK_OK(coffer_pool_close(src));
	CHECK_OK(coffer_pool_close(dst));
}

void test_main(void)
{
	RUN(test_signed_roundtrip);
}
