/*
 * gen_recv_corpus: write the seed corpus of fuzz_recv.
 *
 *   gen_recv_corpus DIR      (normally tests/fuzz/corpus/recv)
 *
 * Builds, in a scratch pool under $TMPDIR, the filesystem and the volume
 * of recvlib.h (phase 0, snapshot @a, phase 1, snapshot @b), and the
 * filesystem again encrypted, and writes real streams of them: full @a
 * and the incremental @a..@b, compressed (send -c), raw (send
 * -w, of the encrypted one) and multi-snapshot (send -R, send -I) too,
 * then a few damaged copies (cut inside a header, inside a payload, at a
 * record boundary).  raw-full-enc-a is also the regression input of a
 * leak fuzz_recv found (a full raw receive leaked the decoded keystore's
 * entry array: LeakSanitizer in the ASan replay).  fuzz_recv builds the same bases, so
 * the incrementals apply to what they were made from (it swaps in its
 * own base guid).  Guids and times differ from run to run, the shape of
 * the streams does not.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recvlib.h"

static char outdir[4096], tmp[512];
static coffer_pool_t *pool;

static void die(const char *what, int err)
{
	fprintf(stderr, "gen_recv_corpus: %s: %s (%s)\n", what,
	    coffer_strerror(err), coffer_errdetail());
	exit(1);
}

static void put_file(const char *name, const uint8_t *p, size_t n)
{
	char path[8192];
	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
		die(path, -errno);
}

/* send snap (from: NULL or "@a") into a buffer; returns its length */
static size_t send(const char *snap, const char *from, int flags,
    uint8_t **out)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/stream", tmp);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die(path, -errno);
	int err = coffer_send(pool, snap, from, flags, fd, NULL, NULL);
	if (err)
		die(snap, err);
	off_t n = lseek(fd, 0, SEEK_END);
	*out = malloc((size_t)n);
	if (!*out || pread(fd, *out, (size_t)n, 0) != n)
		die("reading the stream", -EIO);
	close(fd);
	return (size_t)n;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_recv_corpus DIR\n");
		return 2;
	}
	snprintf(outdir, sizeof(outdir), "%s", argv[1]);
	mkdir(outdir, 0755);
	const char *t = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(tmp, sizeof(tmp), "%s/gen-recv.XXXXXX", t);
	if (!mkdtemp(tmp))
		die("mkdtemp", -errno);
	char home[600], img[600];
	snprintf(home, sizeof(home), "%s/home", tmp);
	snprintf(img, sizeof(img), "%s/pool.img", tmp);
	mkdir(home, 0700);
	setenv("COFFER_HOME", home, 1);
	const char *devs[] = { img };
	int err = coffer_pool_create("gen", devs, 1, 96u << 20, NULL, &pool);
	if (!err)
		err = rl_create(pool, "gen/fs", 0);
	if (!err)
		err = rl_create(pool, "gen/vol", 1);
	if (!err)
		err = rl_build_fs(pool, "gen/fs", 0);
	if (!err)
		err = rl_build_vol(pool, "gen/vol", 0);
	if (!err)
		err = coffer_snapshot(pool, "gen/fs@a");
	if (!err)
		err = coffer_snapshot(pool, "gen/vol@a");
	if (!err)
		err = rl_build_fs(pool, "gen/fs", 1);
	if (!err)
		err = rl_build_vol(pool, "gen/vol", 1);
	if (!err)
		err = coffer_snapshot(pool, "gen/fs@b");
	if (!err)
		err = coffer_snapshot(pool, "gen/vol@b");
	/* an encrypted copy, for raw streams */
	static const uint8_t k32[32] = { 7, 7, 7 };
	coffer_key_t key = { k32, sizeof(k32) };
	const char *eprops[] = { "encryption=aes-256-gcm", "keyformat=raw",
		"recordsize=4096", NULL };
	if (!err)
		err = coffer_create_key(pool, "gen/enc", COFFER_TYPE_FILESYSTEM,
		    0, eprops, &key);
	if (!err)
		err = rl_build_fs(pool, "gen/enc", 0);
	if (!err)
		err = coffer_snapshot(pool, "gen/enc@a");
	if (!err)
		err = rl_build_fs(pool, "gen/enc", 1);
	if (!err)
		err = coffer_snapshot(pool, "gen/enc@b");
	if (err)
		die("building the datasets", err);

	static const struct {
		const char *name, *snap, *from;
		int flags;
	} seeds[] = {
		{ "full-fs-a", "gen/fs@a", NULL, 0 },
		{ "inc-fs-ab", "gen/fs@b", "@a", 0 },
		{ "full-vol-a", "gen/vol@a", NULL, 0 },
		{ "inc-vol-ab", "gen/vol@b", "@a", 0 },
		{ "comp-full-fs-a", "gen/fs@a", NULL, COFFER_SEND_COMPRESSED },
		{ "comp-inc-fs-ab", "gen/fs@b", "@a", COFFER_SEND_COMPRESSED },
		{ "raw-full-enc-a", "gen/enc@a", NULL, COFFER_SEND_RAW },
		{ "raw-inc-enc-ab", "gen/enc@b", "@a", COFFER_SEND_RAW },
		{ "multi-R-fs-b", "gen/fs@b", NULL, COFFER_SEND_REPLICATE },
		{ "multi-I-fs-ab", "gen/fs@b", "@a",
		    COFFER_SEND_INTERMEDIATE },
	};
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		uint8_t *s;
		size_t n = send(seeds[i].snap, seeds[i].from, seeds[i].flags,
		    &s);
		put_file(seeds[i].name, s, n);
		if (!strcmp(seeds[i].name, "inc-fs-ab")) {
			char nm[64];
			/* in BEGIN's header, in a payload, at a boundary */
			size_t cuts[] = { 300, 512 + 40, n / 2, n - 512 };
			for (size_t k = 0; k < 4; k++) {
				snprintf(nm, sizeof(nm), "cut-inc-fs-ab-%zu", k);
				put_file(nm, s, cuts[k]);
			}
		}
		free(s);
	}
	coffer_pool_close(pool);
	coffer_pool_destroy("gen");
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		return 1;
	return 0;
}
