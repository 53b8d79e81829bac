/*
 * fuzz_recv: the stream applier (coffer_receive, so cf_recv and
 * dsl_recv_*) against a real pool.
 *
 * Once per process: a pool on a file in /dev/shm (or $TMPDIR) holding a
 * filesystem fz/inc and a volume fz/vinc, each built by recvlib.h's
 * builders (phase 0) and snapshotted @a, the bases of the incremental
 * seeds that gen_recv_corpus made from the same builders.
 *
 * Per input, after cf_stream_fixup (so that mutations get past the
 * checksums to the fields, the ordering rules and the applier):
 *   1. received into the fresh target fz/new;
 *   2. if BEGIN names a base (fromguid != 0), that guid is replaced with
 *      the guid of fz/inc@a (fz/vinc@a for a volume stream), in BEGIN
 *      and in the SNAPSHOT records that name it (send -I), the stream
 *      fixed up again and received into fz/inc (fz/vinc) as an
 *      incremental.
 * A receive that succeeds is undone (fz/new destroyed, the incremental
 * target rolled back to @a); so is what a failed multi-snapshot stream
 * keeps (its segments are each atomic: the ones before the failure
 * stay, coffer-send(8)), before the checks.
 *
 * Findings (abort): a crash or leak (sanitizers); an error code outside
 * the expected set or without a message; after a failure, fz/new
 * existing or an incremental target whose fingerprint (recvlib.h: tree,
 * contents, snapshots, used) changed; and, after every input, a pool
 * whose space check (coffer_pool_check) finds leaked, doubly referenced
 * or unallocated blocks, or a leftover hidden dataset (the root
 * dataset's used bytes changed).
 *
 * FUZZ_RECV_VERBOSE=1 in the environment prints each receive's outcome.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "send/stream.h"
#include "fuzz.h"
#include "recvlib.h"

static coffer_pool_t *pool;
static char dir[512], img[600], home[600];
static uint8_t fp_inc[32], fp_vinc[32];
static uint64_t guid_inc, guid_vinc;
static char used0[64];

static char last_detail[1024];          /* of the last receive */

static void die(const char *what, int err)
{
	fprintf(stderr, "fuzz_recv: %s: %s (%s; the last receive said: %s)\n",
	    what, coffer_strerror(err), coffer_errdetail(), last_detail);
	abort();
}

static void cleanup(void)
{
	if (pool) {
		coffer_pool_close(pool);
		pool = NULL;
		coffer_pool_destroy("fz");
	}
	unlink(img);
	char reg[700];
	snprintf(reg, sizeof(reg), "%s/pools", home);
	unlink(reg);
	/* whatever else the registry left */
	char cmd[1400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_recv: could not remove %s\n", dir);
}

static uint64_t guid_of(const char *snap)
{
	coffer_propval_t v;
	int err = coffer_prop_get(pool, snap, "guid", &v);
	if (err)
		die(snap, err);
	return strtoull(v.raw, NULL, 10);
}

/* the pool's root dataset counts the hidden dataset of a receive,
 * which no listing shows */
static void root_used(char out[64])
{
	coffer_propval_t v;
	int err = coffer_prop_get(pool, "fz", "used", &v);
	if (err)
		die("used of fz", err);
	cf_strlcpy(out, v.raw, 64);
}

static void init(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" :
	    (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	snprintf(dir, sizeof(dir), "%s/coffer-fuzz-recv.XXXXXX", base);
	if (!mkdtemp(dir))
		die("mkdtemp", -errno);
	snprintf(home, sizeof(home), "%s/home", dir);
	snprintf(img, sizeof(img), "%s/pool.img", dir);
	mkdir(home, 0700);
	setenv("COFFER_HOME", home, 1);
	const char *devs[] = { img };
	int err = coffer_pool_create("fz", devs, 1, 96u << 20, NULL, &pool);
	if (err)
		die("creating the pool", err);
	/* registered after OpenSSL's own exit handler, so that it runs
	 * first: the sync thread must exit (freeing its OpenSSL thread
	 * state) before OpenSSL cleans up */
	atexit(cleanup);
	if ((err = rl_create(pool, "fz/inc", 0)) != 0 ||
	    (err = rl_build_fs(pool, "fz/inc", 0)) != 0 ||
	    (err = coffer_snapshot(pool, "fz/inc@a")) != 0)
		die("making fz/inc@a", err);
	if ((err = rl_create(pool, "fz/vinc", 1)) != 0 ||
	    (err = rl_build_vol(pool, "fz/vinc", 0)) != 0 ||
	    (err = coffer_snapshot(pool, "fz/vinc@a")) != 0)
		die("making fz/vinc@a", err);
	if ((err = rl_fingerprint(pool, "fz/inc", 1, fp_inc)) != 0 ||
	    (err = rl_fingerprint(pool, "fz/vinc", 1, fp_vinc)) != 0)
		die("fingerprinting the bases", err);
	root_used(used0);
	guid_inc = guid_of("fz/inc@a");
	guid_vinc = guid_of("fz/vinc@a");
}

static int expected(int err)
{
	switch (err) {
	case COFFER_EBADSTREAM:         /* refused by the reader or applier */
	case COFFER_ENOTSUP:            /* newer stream, unsupported kind */
	case COFFER_ENODS:              /* incremental without its target */
	case COFFER_EEXIST:             /* full stream onto a dataset */
	case COFFER_EBADNAME:           /* snapshot name from the stream */
	case COFFER_EAUTH:              /* a resumed stream's forged token */
	case -EINVAL:
	case -ENOSPC:
	case -EFBIG:
	case -ENOMEM:
		return 1;
	}
	return 0;
}

static int receive(const uint8_t *p, size_t n, const char *target)
{
	int fd = memfd_create("stream", MFD_CLOEXEC);
	if (fd < 0)
		die("memfd_create", -errno);
	size_t off = 0;
	while (off < n) {
		ssize_t w = write(fd, p + off, n - off);
		if (w <= 0)
			die("write", -errno);
		off += (size_t)w;
	}
	lseek(fd, 0, SEEK_SET);
	int err = coffer_receive(pool, target, 0, fd);
	close(fd);
	cf_strlcpy(last_detail, coffer_errdetail(), sizeof(last_detail));
	if (getenv("FUZZ_RECV_VERBOSE"))
		fprintf(stderr, "fuzz_recv: into %s: %s: %s\n", target,
		    coffer_strerror(err), err ? coffer_errdetail() : "");
	if (err && !expected(err))
		die("unexpected error from receive", err);
	if (err && !coffer_errdetail()[0])
		die("an error without a message", err);
	return err;
}

static int exists(const char *name)
{
	coffer_propval_t v;
	return coffer_prop_get(pool, name, "type", &v) == 0;
}

static void check_pool(void)
{
	coffer_check_report_t rep;
	int err = coffer_pool_check(pool, &rep);
	if (err)
		die("pool check", err);
	if (rep.leaked_bytes || rep.double_refs || rep.unallocated_refs) {
		fprintf(stderr, "fuzz_recv: pool check: %llu bytes leaked, "
		    "%llu double refs, %llu unallocated refs\n",
		    (unsigned long long)rep.leaked_bytes,
		    (unsigned long long)rep.double_refs,
		    (unsigned long long)rep.unallocated_refs);
		abort();
	}
	char used[64];
	root_used(used);
	if (strcmp(used, used0) != 0) {
		fprintf(stderr, "fuzz_recv: fz uses %s bytes, %s at the start: "
		    "a hidden dataset was left behind\n", used, used0);
		abort();
	}
}

static void check_same(const char *ds, const uint8_t want[32])
{
	uint8_t fp[32];
	int err = rl_fingerprint(pool, ds, 1, fp);
	if (err)
		die("fingerprint", err);
	if (memcmp(fp, want, 32) != 0) {
		fprintf(stderr, "fuzz_recv: a failed receive changed '%s'\n",
		    ds);
		abort();
	}
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The base guid `from` becomes `to`: in BEGIN, and in the SNAPSHOT
 * records of a multi-snapshot stream (send -I) that name it. */
static void rebase(uint8_t *p, size_t n, uint64_t from, uint64_t to)
{
	put64(p + 56, to);
	for (size_t off = 0; n - off >= CF_STREAM_HDR_SIZE;) {
		uint64_t plen = get64(p + off + 16);
		if (get64(p + off + 8) % (1ull << 32) == CF_SREC_SNAPSHOT &&
		    get64(p + off + 32) == from)
			put64(p + off + 32, to);
		if (plen > n - off - CF_STREAM_HDR_SIZE)
			break;
		off += CF_STREAM_HDR_SIZE + (size_t)((plen + 7) & ~7ull);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!pool)
		init();
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	cf_stream_fixup(copy, size);
	cf_stream_rec_t rec;
	int begin = size >= CF_STREAM_HDR_SIZE &&
	    cf_stream_hdr_decode(copy, &rec) == 0 &&
	    rec.type == CF_SREC_BEGIN;
	/* a multi-snapshot stream's segments are each atomic: a failure
	 * keeps the segments before it (coffer-send(8)) */
	int multi = begin && (rec.u.begin.incompat & CF_SFEAT_MULTI);

	/* 1. into a fresh target */
	int err = receive(copy, size, "fz/new");
	if (!err || (multi && exists("fz/new"))) {
		int e2 = coffer_destroy(pool, "fz/new",
		    COFFER_DESTROY_RECURSIVE);
		if (e2)
			die("destroying a received dataset", e2);
	} else if (exists("fz/new")) {
		die("a failed full receive left its target", err);
	}

	/* 2. as an incremental onto a base */
	if (begin && rec.u.begin.fromguid != 0) {
		int vol = rec.u.begin.dstype == CF_STREAM_DS_VOL;
		uint64_t g = vol ? guid_vinc : guid_inc;
		memcpy(copy, data, size);       /* the input's own bytes */
		rebase(copy, size, rec.u.begin.fromguid, g);
		cf_stream_fixup(copy, size);
		const char *t = vol ? "fz/vinc" : "fz/inc";
		err = receive(copy, size, t);
		if (!err || multi) {
			char snap[64];
			snprintf(snap, sizeof(snap), "%s@a", t);
			err = coffer_rollback(pool, snap,
			    COFFER_DESTROY_RECURSIVE);
			if (err)
				die("rolling back a received incremental", err);
		}
		check_same(t, vol ? fp_vinc : fp_inc);
	}
	check_pool();
	free(copy);
	return 0;
}
