/*
 * Hostile streams against a pool, end to end through coffer_receive.
 *
 * Every stream here is a real send (recvlib.h's datasets) with targeted
 * edits: cut at every record boundary and inside every header and
 * payload, bits flipped in headers and payloads, checksums wrong
 * (running and block), records reordered and duplicated (with and
 * without the sequence numbers and checksums forged back with
 * cf_stream_fixup), object ids and offsets out of range, payload lengths
 * too large, an unknown record type, an unknown incompatible feature, an
 * incremental whose base is not the target's, and a pool that fills up.
 *
 * Each must fail with the expected code and a one-line message that says
 * what was wrong and at which byte (the text is asserted), and leave the
 * target exactly as it was: same fingerprint (recvlib.h: tree, contents,
 * snapshots with guids, used, referenced), same pool allocation after a
 * sync, a clean space check (nothing leaked), no partial dataset; when
 * the stream is refused within BEGIN, not even a txg is committed.
 * Finally the undamaged stream still applies and gives the sender's
 * data.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "coffer.h"
#include "crypto/crypto.h"
#include "send/stream.h"
#include "../../fuzz/recvlib.h"

static coffer_pool_t *src, *dst;
static uint8_t *s_inc, *s_full;         /* src/fs @a..@b; src/fs@b */
static size_t n_inc, n_full;

typedef struct rinfo {
	size_t off;
	uint32_t type;
	uint64_t plen;
} rinfo_t;

static rinfo_t recs[4096];
static size_t nrecs;

static uint64_t le64(const uint8_t *p)
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

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)le64(p) & 0xffffffffu; /* p has 8 bytes here */
}

static size_t padded(uint64_t plen)
{
	return (size_t)((plen + 7) & ~7ull);
}

/* the records of a whole stream */
static void index_stream(const uint8_t *p, size_t n)
{
	nrecs = 0;
	for (size_t off = 0; off + CF_STREAM_HDR_SIZE <= n &&
	    nrecs < CF_ARRAY_SIZE(recs); nrecs++) {
		recs[nrecs].off = off;
		recs[nrecs].type = le32(p + off + 8);
		recs[nrecs].plen = le64(p + off + 16);
		off += CF_STREAM_HDR_SIZE + padded(recs[nrecs].plen);
	}
}

/* the first record of a type at or after record `from` (0: none) */
static size_t find(uint32_t type, size_t from)
{
	for (size_t i = from; i < nrecs; i++)
		if (recs[i].type == type)
			return i;
	return 0;
}

static const char *tname(uint32_t type)
{
	return cf_stream_type_name(type);
}

/*
 * Recompute the running checksums (and END's summary) only, as a forger
 * would, leaving block checksums as they are (cf_stream_fixup would
 * recompute those too).
 */
static void refix_running(uint8_t *buf, size_t len, int end_summary)
{
	cf_fletcher4_ctx_t ctx;
	size_t off = 0;

	cf_fletcher4_init(&ctx);
	while (len - off >= CF_STREAM_HDR_SIZE) {
		uint8_t *h = buf + off, tmp[480], sum[32];
		uint64_t plen = le64(h + 16);
		if (le32(h + 8) == CF_SREC_END && end_summary) {
			cf_fletcher4_final(&ctx, h + 32);
			put64(h + 72, off);
		}
		memcpy(tmp, h, sizeof(tmp));
		memset(tmp + 276, 0, 204);
		cf_fletcher4_update(&ctx, tmp, sizeof(tmp));
		cf_fletcher4_final(&ctx, sum);
		memcpy(h + 480, sum, 32);
		cf_fletcher4_update(&ctx, sum, 32);
		off += CF_STREAM_HDR_SIZE;
		if (padded(plen) > len - off)
			break;
		cf_fletcher4_update(&ctx, buf + off, padded(plen));
		off += padded(plen);
	}
}

static int recv_buf(coffer_pool_t *p, const uint8_t *b, size_t n,
    const char *target)
{
	int fd = memfd_create("stream", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (size_t off = 0; off < n;) {
		ssize_t w = write(fd, b + off, n - off);
		if (w <= 0) {
			close(fd);
			return -EIO;
		}
		off += (size_t)w;
	}
	lseek(fd, 0, SEEK_SET);
	int err = coffer_receive(p, target, 0, fd);
	close(fd);
	return err;
}

static size_t send_flags(coffer_pool_t *p, const char *snap,
    const char *from, int flags, uint8_t **out)
{
	int fd = memfd_create("stream", MFD_CLOEXEC);
	if (fd < 0 || coffer_send(p, snap, from, flags, fd, NULL, NULL) != 0)
		return 0;
	off_t n = lseek(fd, 0, SEEK_END);
	*out = malloc((size_t)n);
	if (!*out || pread(fd, *out, (size_t)n, 0) != n)
		n = 0;
	close(fd);
	return (size_t)n;
}

static size_t send_buf(coffer_pool_t *p, const char *snap, const char *from,
    uint8_t **out)
{
	return send_flags(p, snap, from, 0, out);
}

/* ---- the state of the target ---------------------------------------- */

typedef struct state {
	uint8_t fp[32];                 /* dst/fs, with its snapshots */
	uint64_t allocated, txg;
	char rootused[64];              /* the pool's root dataset: counts
					 * the hidden dataset of a receive,
					 * which no listing shows */
} state_t;

static int get_state(coffer_pool_t *p, const char *ds, state_t *s)
{
	coffer_pool_info_t info;
	coffer_check_report_t rep;
	int err = coffer_pool_sync(p);
	if (!err)
		err = coffer_pool_info(p, &info);
	if (!err)
		err = rl_fingerprint(p, ds, 1, s->fp);
	if (!err)
		err = coffer_pool_check(p, &rep);
	if (err) {
		printf("  state: %s (%s)\n", coffer_strerror(err),
		    coffer_errdetail());
		return err;
	}
	if (rep.leaked_bytes || rep.double_refs || rep.unallocated_refs) {
		printf("  pool check: %llu leaked, %llu double, %llu "
		    "unallocated\n", (unsigned long long)rep.leaked_bytes,
		    (unsigned long long)rep.double_refs,
		    (unsigned long long)rep.unallocated_refs);
		return -EIO;
	}
	s->allocated = info.allocated;
	s->txg = info.txg;
	coffer_propval_t u;
	char root[64];
	cf_strlcpy(root, ds, sizeof(root));
	*strchr(root, '/') = 0;
	err = coffer_prop_get(p, root, "used", &u);
	if (err)
		return err;
	cf_strlcpy(s->rootused, u.raw, sizeof(s->rootused));
	return 0;
}

/*
 * The first failed receives grow the MOS's own structures by a few
 * blocks, once (allocated, and reachable: the space check finds no leak).
 * base.allocated stays the first figure for the whole run, so a failure
 * that kept even one data block would, over the hundreds of cases here,
 * run past this slack.
 */
#define SLACK (64u << 10)
static state_t base;
static uint64_t idle_txgs;
static char last_msg[1024];             /* of the last refused() */

/*
 * Receive n bytes of b into target: the receive must fail with want and
 * a message containing want_msg (and no newline), and dst must be as it
 * was (its fingerprint; allocation within SLACK, nothing leaked; the
 * root dataset's used, which counts a receive's hidden dataset that no
 * listing shows).  same_txg: refused within BEGIN, so nothing was
 * committed.
 * Returns 1 when all held, else prints why and returns 0.
 */
static int refused(const char *what, const uint8_t *b, size_t n,
    const char *target, int want, const char *want_msg, int same_txg)
{
	int err = recv_buf(dst, b, n, target);
	char *msg = last_msg;
	cf_strlcpy(msg, coffer_errdetail(), sizeof(last_msg));
	if (getenv("HOSTILE_VERBOSE"))
		printf("  %s: %s\n", what, msg);
	if (err != want) {
		printf("  %s: got %d %s (%s), want %d %s\n", what, err,
		    coffer_strerror(err), msg, want, coffer_strerror(want));
		return 0;
	}
	if (!strstr(msg, want_msg) || strchr(msg, '\n')) {
		printf("  %s: message '%s' lacks '%s'\n", what, msg, want_msg);
		return 0;
	}
	state_t now;
	if (get_state(dst, "dst/fs", &now) != 0)
		return 0;
	if (memcmp(now.fp, base.fp, 32) != 0) {
		printf("  %s: the target changed\n", what);
		return 0;
	}
	if (now.allocated > base.allocated + SLACK) {
		printf("  %s: allocated %llu, was %llu\n", what,
		    (unsigned long long)now.allocated,
		    (unsigned long long)base.allocated);
		return 0;
	}
	if (same_txg && now.txg != base.txg + idle_txgs) {
		printf("  %s: txg %llu, was %llu: a txg was committed\n", what,
		    (unsigned long long)now.txg, (unsigned long long)base.txg);
		return 0;
	}
	coffer_propval_t v;
	if (coffer_prop_get(dst, "dst/new", "type", &v) == 0 ||
	    strcmp(now.rootused, base.rootused) != 0) {
		printf("  %s: a dataset was left behind\n", what);
		return 0;
	}
	base.txg = now.txg;             /* txgs move on when BEGIN applied */
	return 1;
}

static uint8_t *dup_of(const uint8_t *p, size_t n, size_t extra)
{
	uint8_t *c = malloc(n + extra);
	if (c)
		memcpy(c, p, n);
	return c;
}

/* ---- setup ---------------------------------------------------------- */

static void test_setup(void)
{
	char home[512], d1[512], d2[512];
	snprintf(home, sizeof(home), "%s/home", th_tmpdir());
	mkdir(home, 0700);
	setenv("COFFER_HOME", home, 1);
	snprintf(d1, sizeof(d1), "%s/src.img", th_tmpdir());
	snprintf(d2, sizeof(d2), "%s/dst.img", th_tmpdir());
	const char *v1[] = { d1 }, *v2[] = { d2 };
	CHECK_OK(coffer_pool_create("src", v1, 1, 256u << 20, NULL, &src));
	CHECK_OK(coffer_pool_create("dst", v2, 1, 128u << 20, NULL, &dst));
	CHECK_OK(rl_create(src, "src/fs", 0));
	CHECK_OK(rl_build_fs(src, "src/fs", 0));
	CHECK_OK(coffer_snapshot(src, "src/fs@a"));
	CHECK_OK(rl_build_fs(src, "src/fs", 1));
	CHECK_OK(coffer_snapshot(src, "src/fs@b"));
	uint8_t *full_a;
	size_t n = send_buf(src, "src/fs@a", NULL, &full_a);
	CHECK(n > 0);
	CHECK_OK(recv_buf(dst, full_a, n, "dst/fs"));
	free(full_a);
	n_inc = send_buf(src, "src/fs@b", "@a", &s_inc);
	n_full = send_buf(src, "src/fs@b", NULL, &s_full);
	CHECK(n_inc > 0 && n_full > 0);
	index_stream(s_inc, n_inc);
	CHECK(nrecs > 20 && recs[nrecs - 1].type == CF_SREC_END);
	CHECK(find(CF_SREC_WRITE, 1) && find(CF_SREC_FREE, 1) &&
	    find(CF_SREC_FREEOBJECTS, 1) && find(CF_SREC_OBJECT, 1));
	CHECK_OK(get_state(dst, "dst/fs", &base));
	/* what taking the state itself commits (its syncs): the txg a
	 * receive refused within BEGIN must leave, since it commits none */
	state_t again;
	CHECK_OK(get_state(dst, "dst/fs", &again));
	CHECK(again.allocated == base.allocated &&
	    memcmp(again.fp, base.fp, 32) == 0 &&
	    strcmp(again.rootused, base.rootused) == 0);
	idle_txgs = again.txg - base.txg;
	base = again;
}

/* ---- the cases -------------------------------------------------------- */

static void test_truncated_everywhere(void)
{
	char what[64], want[96];
	/* at every record boundary, inside every header and every payload */
	for (size_t i = 0; i < nrecs; i++) {
		size_t cuts[3] = { recs[i].off, recs[i].off + 1 + i % 500,
			recs[i].off + CF_STREAM_HDR_SIZE +
			(size_t)recs[i].plen / 2 };
		int ncut = recs[i].plen > 1 ? 3 : 2;
		for (int k = 0; k < ncut; k++) {
			snprintf(what, sizeof(what), "cut at %zu", cuts[k]);
			snprintf(want, sizeof(want), "stream truncated at byte "
			    "%zu (in the %s of record %zu", cuts[k],
			    k < 2 ? "header" : "payload", i);
			CHECK(refused(what, s_inc, cuts[k], "dst/fs",
			    COFFER_EBADSTREAM, want, i == 0 ||
			    (i == 1 && k == 0)));
		}
	}
	/* a full stream cut short into a new dataset */
	CHECK(refused("full, cut", s_full, n_full / 2, "dst/new",
	    COFFER_EBADSTREAM, "stream truncated at byte", 0));
	CHECK(refused("full, no END", s_full, n_full - 512, "dst/new",
	    COFFER_EBADSTREAM, "stream truncated at byte", 0));
}

static void test_bit_flips(void)
{
	char what[64], want[128];
	uint32_t types[] = { CF_SREC_BEGIN, CF_SREC_OBJECT, CF_SREC_WRITE,
		CF_SREC_FREE, CF_SREC_FREEOBJECTS, CF_SREC_END };
	for (size_t t = 0; t < CF_ARRAY_SIZE(types); t++) {
		size_t i = find(types[t], 0);
		uint8_t *c = dup_of(s_inc, n_inc, 0);
		CHECK(c);
		/* a field bit of the header: its own checksum fails */
		c[recs[i].off + 44] ^= 0x08;
		snprintf(what, sizeof(what), "header bit, %s", tname(types[t]));
		snprintf(want, sizeof(want), "record %zu (%s) at byte %zu: "
		    "checksum mismatch", i, tname(types[t]), recs[i].off);
		int ok = refused(what, c, n_inc, "dst/fs", COFFER_EBADSTREAM,
		    want, i == 0);
		free(c);
		CHECK(ok);
		if (!recs[i].plen)
			continue;
		/* a payload bit: the next header's checksum fails */
		c = dup_of(s_inc, n_inc, 0);
		CHECK(c);
		c[recs[i].off + CF_STREAM_HDR_SIZE + recs[i].plen / 3] ^= 0x40;
		snprintf(what, sizeof(what), "payload bit, %s",
		    tname(types[t]));
		snprintf(want, sizeof(want), "record %zu (%s) at byte %zu: "
		    "checksum mismatch (damage in bytes", i + 1,
		    tname(recs[i + 1].type), recs[i + 1].off);
		ok = refused(what, c, n_inc, "dst/fs", COFFER_EBADSTREAM, want,
		    i == 0);
		free(c);
		CHECK(ok);
	}
	/* the magic */
	uint8_t *c = dup_of(s_inc, n_inc, 0);
	size_t w = find(CF_SREC_WRITE, 0);
	CHECK(c);
	c[recs[w].off + 3] ^= 1;
	snprintf(want, sizeof(want), "record %zu at byte %zu: bad magic", w,
	    recs[w].off);
	int ok = refused("magic", c, n_inc, "dst/fs", COFFER_EBADSTREAM, want,
	    0);
	free(c);
	CHECK(ok);
}

static void test_wrong_checksums(void)
{
	char want[128];
	size_t w = find(CF_SREC_WRITE, 0);
	uint8_t *c = dup_of(s_inc, n_inc, 0);
	CHECK(c);
	/* a header's running checksum zeroed */
	memset(c + recs[w].off + 480, 0, 32);
	snprintf(want, sizeof(want), "record %zu (WRITE) at byte %zu: "
	    "checksum mismatch", w, recs[w].off);
	int ok = refused("running checksum", c, n_inc, "dst/fs",
	    COFFER_EBADSTREAM, want, 0);
	CHECK(ok);
	/* a WRITE payload changed and every running checksum forged back,
	 * but not the block checksum: the block checksum catches it */
	memcpy(c, s_inc, n_inc);
	c[recs[w].off + CF_STREAM_HDR_SIZE + 7] ^= 0x10;
	refix_running(c, n_inc, 1);
	snprintf(want, sizeof(want), "record %zu (WRITE) at byte %zu: payload "
	    "does not match its block checksum", w,
	    recs[w].off + CF_STREAM_HDR_SIZE);
	ok = refused("block checksum", c, n_inc, "dst/fs", COFFER_EBADSTREAM,
	    want, 0);
	CHECK(ok);
	/* END's final checksum wrong, its header checksum right */
	memcpy(c, s_inc, n_inc);
	size_t e = nrecs - 1;
	c[recs[e].off + 40] ^= 0xff;
	refix_running(c, n_inc, 0);
	snprintf(want, sizeof(want), "record %zu (END) at byte %zu", e,
	    recs[e].off);
	ok = refused("END checksum", c, n_inc, "dst/fs", COFFER_EBADSTREAM,
	    want, 0);
	free(c);
	CHECK(ok);
}

/* swap records i and i+1 of s_inc into a new buffer */
static uint8_t *swapped(size_t i)
{
	uint8_t *c = malloc(n_inc);
	if (!c)
		return NULL;
	size_t a = recs[i].off, b = recs[i + 1].off, e = recs[i + 2].off;
	memcpy(c, s_inc, a);
	memcpy(c + a, s_inc + b, e - b);
	memcpy(c + a + (e - b), s_inc + a, b - a);
	memcpy(c + e, s_inc + e, n_inc - e);
	return c;
}

static void test_reordered_and_duplicated(void)
{
	char want[128];
	/* two WRITEs of one object swapped */
	size_t w = 0;
	for (size_t i = 1; i + 2 < nrecs && !w; i++)
		if (recs[i].type == CF_SREC_WRITE &&
		    recs[i + 1].type == CF_SREC_WRITE &&
		    le64(s_inc + recs[i].off + 32) ==
		    le64(s_inc + recs[i + 1].off + 32))
			w = i;
	CHECK(w);
	uint8_t *c = swapped(w);
	CHECK(c);
	snprintf(want, sizeof(want), "record %zu (WRITE) at byte %zu: "
	    "sequence number %zu, expected %zu", w, recs[w].off, w + 1, w);
	int ok = refused("swapped WRITEs", c, n_inc, "dst/fs",
	    COFFER_EBADSTREAM, want, 0);
	if (ok) {
		cf_stream_fixup(c, n_inc);
		snprintf(want, sizeof(want), "record %zu (WRITE) at byte %zu: ",
		    w + 1, recs[w + 1].off);
		ok = refused("swapped WRITEs, forged", c, n_inc, "dst/fs",
		    COFFER_EBADSTREAM, want, 0);
	}
	free(c);
	CHECK(ok);
	/* an OBJECT after its first WRITE */
	size_t o = 0;
	for (size_t i = 1; i + 2 < nrecs && !o; i++)
		if (recs[i].type == CF_SREC_OBJECT &&
		    recs[i + 1].type == CF_SREC_WRITE)
			o = i;
	CHECK(o);
	c = swapped(o);
	CHECK(c);
	cf_stream_fixup(c, n_inc);
	snprintf(want, sizeof(want), "record %zu (WRITE) at byte %zu: ", o,
	    recs[o].off);
	ok = refused("WRITE before its OBJECT, forged", c, n_inc, "dst/fs",
	    COFFER_EBADSTREAM, want, 0);
	free(c);
	CHECK(ok);
	/* a WRITE twice */
	size_t d = find(CF_SREC_WRITE, 0);
	size_t len = CF_STREAM_HDR_SIZE + padded(recs[d].plen);
	c = malloc(n_inc + len);
	CHECK(c);
	memcpy(c, s_inc, recs[d + 1].off);
	memcpy(c + recs[d + 1].off, s_inc + recs[d].off, len);
	memcpy(c + recs[d + 1].off + len, s_inc + recs[d + 1].off,
	    n_inc - recs[d + 1].off);
	snprintf(want, sizeof(want), "record %zu (WRITE) at byte %zu: "
	    "sequence number %zu, expected %zu", d + 1, recs[d + 1].off, d,
	    d + 1);
	ok = refused("duplicated WRITE", c, n_inc + len, "dst/fs",
	    COFFER_EBADSTREAM, want, 0);
	if (ok) {
		cf_stream_fixup(c, n_inc + len);
		snprintf(want, sizeof(want), "record %zu (WRITE) at byte %zu: ",
		    d + 1, recs[d + 1].off);
		ok = refused("duplicated WRITE, forged", c, n_inc + len,
		    "dst/fs", COFFER_EBADSTREAM, want, 0);
	}
	free(c);
	CHECK(ok);
	/* END twice (data after END) */
	size_t e = nrecs - 1;
	c = malloc(n_inc + CF_STREAM_HDR_SIZE);
	CHECK(c);
	memcpy(c, s_inc, n_inc);
	memcpy(c + n_inc, s_inc + recs[e].off, CF_STREAM_HDR_SIZE);
	snprintf(want, sizeof(want), "data after END at byte %zu", n_inc);
	ok = refused("END twice", c, n_inc + CF_STREAM_HDR_SIZE, "dst/fs",
	    COFFER_EBADSTREAM, want, 0);
	free(c);
	CHECK(ok);
}

/* s_inc with the u64 at header byte `field` of record i set to v, forged */
static int field_refused(const char *what, size_t i, int field, uint64_t v,
    int want_err, const char *reason)
{
	char want[256];
	uint8_t *c = dup_of(s_inc, n_inc, 0);
	if (!c)
		return 0;
	put64(c + recs[i].off + field, v);
	cf_stream_fixup(c, n_inc);
	snprintf(want, sizeof(want), "record %zu (%s) at byte %zu: ", i,
	    tname(recs[i].type), recs[i].off);
	int ok = refused(what, c, n_inc, "dst/fs", want_err, want, i == 0);
	free(c);
	if (ok && !strstr(last_msg, reason)) {
		printf("  %s: message '%s' lacks '%s'\n", what, last_msg,
		    reason);
		ok = 0;
	}
	return ok;
}

static void test_out_of_range(void)
{
	size_t w = find(CF_SREC_WRITE, 0), o = find(CF_SREC_OBJECT, 0);
	size_t f = find(CF_SREC_FREE, 0), fo = find(CF_SREC_FREEOBJECTS, 0);
	CHECK(field_refused("WRITE object 2^48", w, 32, 1ull << 48,
	    COFFER_EBADSTREAM, "WRITE to object 281474976710656 without its "
	    "OBJECT record"));
	CHECK(field_refused("WRITE offset 2^62", w, 40, 1ull << 62,
	    COFFER_EBADSTREAM, "block 281474976710656 past maxblkid 1"));
	char why[96];
	uint64_t bad = le64(s_inc + recs[w].off + 40) + 512;
	snprintf(why, sizeof(why), "offset %llu not a multiple of the block "
	    "size", (unsigned long long)bad);
	CHECK(field_refused("WRITE offset unaligned", w, 40, bad,
	    COFFER_EBADSTREAM, why));
	CHECK(field_refused("OBJECT 0", o, 32, 0, COFFER_EBADSTREAM,
	    "object id 0 out of range"));
	CHECK(field_refused("OBJECT 2^48", o, 32, 1ull << 48,
	    COFFER_EBADSTREAM, "object id 281474976710656 out of range"));
	CHECK(field_refused("FREE offset 2^63", f, 40, 1ull << 63,
	    COFFER_EBADSTREAM, "offset 9223372036854775808 not a block "
	    "boundary"));
	CHECK(field_refused("FREEOBJECTS first 0", fo, 32, 0,
	    COFFER_EBADSTREAM, "objects 0+"));
	CHECK(field_refused("FREEOBJECTS count 2^48", fo, 40, 1ull << 48,
	    COFFER_EBADSTREAM, "+281474976710656 out of range"));
	/* payload lengths over any limit, and over what is left */
	CHECK(field_refused("payload 2^40", w, 16, 1ull << 40,
	    COFFER_EBADSTREAM, "payload of 1099511627776 bytes"));
	CHECK(field_refused("payload 16 MiB + 8", w, 16,
	    CF_STREAM_MAX_PAYLOAD + 8, COFFER_EBADSTREAM,
	    "payload of 16777224 bytes"));
	CHECK(field_refused("BEGIN payload 2^40", 0, 16, 1ull << 40,
	    COFFER_EBADSTREAM, "kv payload of 1099511627776 bytes"));
}

static void test_unknown_type_and_feature(void)
{
	char want[128];
	size_t w = find(CF_SREC_WRITE, 0);
	uint8_t *c = dup_of(s_inc, n_inc, 0);
	CHECK(c);
	c[recs[w].off + 8] = 77;
	cf_stream_fixup(c, n_inc);
	snprintf(want, sizeof(want), "record %zu (type 77) at byte %zu: "
	    "unknown record type 77", w, recs[w].off);
	int ok = refused("record type 77", c, n_inc, "dst/fs",
	    COFFER_EBADSTREAM, want, 0);
	CHECK(ok);
	memcpy(c, s_inc, n_inc);
	put64(c + 40, 1ull << 20);
	cf_stream_fixup(c, n_inc);
	ok = refused("incompat bit 20", c, n_inc, "dst/fs", COFFER_ENOTSUP,
	    "record 0 (BEGIN) at byte 0: unknown incompatible stream "
	    "features 0x100000 (bit 20)", 1);
	CHECK(ok);
	memcpy(c, s_inc, n_inc);
	put64(c + 40, 0x300);
	cf_stream_fixup(c, n_inc);
	ok = refused("incompat bits 8, 9", c, n_inc, "dst/fs", COFFER_ENOTSUP,
	    "record 0 (BEGIN) at byte 0: unknown incompatible stream features "
	    "0x300 (bit 8,9)", 1);
	CHECK(ok);
	memcpy(c, s_inc, n_inc);
	put64(c + 32, 2);
	cf_stream_fixup(c, n_inc);
	ok = refused("version 2", c, n_inc, "dst/fs", COFFER_ENOTSUP,
	    "record 0 (BEGIN) at byte 0: stream version 2", 1);
	free(c);
	CHECK(ok);
}

static void test_wrong_base(void)
{
	/* @b..@c onto a target whose latest snapshot is @a */
	coffer_fs_t *fs;
	CHECK_OK(coffer_fs_open(src, "src/fs", 0, &fs));
	CHECK_OK(rl_put(fs, coffer_fs_root(fs), "late", 77, 999, 0));
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_snapshot(src, "src/fs@c"));
	uint8_t *s;
	size_t n = send_buf(src, "src/fs@c", "@b", &s);
	CHECK(n > 0);
	int ok = refused("base is not the target's", s, n, "dst/fs",
	    COFFER_EBADSTREAM, "record 0 (BEGIN) at byte 0: the stream's "
	    "base snapshot is not the latest snapshot of 'dst/fs'", 0);
	/* a multi-snapshot stream (send -I): its first segment's base,
	 * named at its SNAPSHOT record */
	if (ok) {
		uint8_t *m = NULL;
		size_t mn = send_flags(src, "src/fs@c", "@b",
		    COFFER_SEND_INTERMEDIATE, &m);
		ok = mn > 0;
		if (ok) {
			char want[160];
			index_stream(m, mn);
			size_t sn = find(CF_SREC_SNAPSHOT, 0);
			snprintf(want, sizeof(want), "record %zu (SNAPSHOT) at "
			    "byte %zu: the stream's base snapshot is not the "
			    "latest snapshot of 'dst/fs'", sn, recs[sn].off);
			index_stream(s_inc, n_inc);
			ok = sn > 0 && refused("send -I, base is not the "
			    "target's", m, mn, "dst/fs", COFFER_EBADSTREAM, want,
			    0);
		}
		free(m);
	}
	/* a forged fromguid: the same */
	if (ok) {
		uint8_t *c = dup_of(s_inc, n_inc, 0);
		put64(c + 56, le64(c + 56) ^ 1);
		cf_stream_fixup(c, n_inc);
		ok = refused("fromguid forged", c, n_inc, "dst/fs",
		    COFFER_EBADSTREAM, "the stream's base snapshot is not the "
		    "latest snapshot of 'dst/fs'", 0);
		free(c);
	}
	/* an incremental into a dataset that does not exist */
	if (ok)
		ok = refused("incremental into nothing", s_inc, n_inc,
		    "dst/new", COFFER_ENODS, "record 0 (BEGIN) at byte 0: "
		    "'dst/new' does not exist", 0);
	/* a full stream onto an existing dataset */
	if (ok)
		ok = refused("full onto a dataset", s_full, n_full, "dst/fs",
		    COFFER_EEXIST, "record 0 (BEGIN) at byte 0: 'dst/fs' "
		    "exists", 0);
	free(s);
	CHECK(ok);
}

static size_t send_raw(coffer_pool_t *p, const char *snap, uint8_t **out)
{
	int fd = memfd_create("stream", MFD_CLOEXEC);
	if (fd < 0 || coffer_send(p, snap, NULL, COFFER_SEND_RAW, fd, NULL,
	    NULL) != 0)
		return 0;
	off_t n = lseek(fd, 0, SEEK_END);
	*out = malloc((size_t)n);
	if (!*out || pread(fd, *out, (size_t)n, 0) != n)
		n = 0;
	close(fd);
	return (size_t)n;
}

/*
 * A raw stream's KEYS record (the wrapped keys): a damaged key record
 * or keystore is refused at that record, by the dsl's strict decoders.
 * The wrapped key bytes themselves cannot be checked without the key (a
 * raw receiver has none): such a stream is received, and the master key
 * then fails authentication when the dataset is opened (after load-key,
 * which checks only the wrapping key), so nothing is ever decrypted
 * with it.
 */
static void test_raw_tampered_key(void)
{
	static const uint8_t k32[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	coffer_key_t key = { k32, sizeof(k32) };
	const char *props[] = { "encryption=aes-256-gcm", "keyformat=raw",
		NULL };
	CHECK_OK(coffer_create_key(src, "src/enc", COFFER_TYPE_FILESYSTEM, 0,
	    props, &key));
	CHECK_OK(rl_build_fs(src, "src/enc", 0));
	CHECK_OK(coffer_snapshot(src, "src/enc@a"));
	uint8_t *raw;
	size_t n = send_raw(src, "src/enc@a", &raw);
	CHECK(n > 0);
	/* the undamaged stream, for reference: received, readable with the
	 * key (then gone again) */
	CHECK_OK(recv_buf(dst, raw, n, "dst/raw"));
	CHECK_OK(coffer_load_key(dst, "dst/raw", &key, 0));
	uint8_t a[32], b[32];
	CHECK_OK(rl_fingerprint(src, "src/enc@a", 0, a));
	CHECK_OK(rl_fingerprint(dst, "dst/raw@a", 0, b));
	CHECK(memcmp(a, b, 32) == 0);
	CHECK_OK(coffer_unload_key(dst, "dst/raw"));
	CHECK_OK(coffer_destroy(dst, "dst/raw", COFFER_DESTROY_RECURSIVE));
	CHECK_OK(get_state(dst, "dst/fs", &base));

	rinfo_t keep[CF_ARRAY_SIZE(recs)];
	size_t nkeep = nrecs;
	memcpy(keep, recs, sizeof(keep));
	index_stream(raw, n);
	size_t k = find(CF_SREC_KEYS, 0);
	CHECK(k);
	size_t koff = recs[k].off, pl = koff + CF_STREAM_HDR_SIZE;
	uint32_t keyrec_len = le32(raw + koff + 56);
	CHECK(keyrec_len == 40 + 100);          /* one key generation */
	memcpy(recs, keep, sizeof(keep));
	nrecs = nkeep;
	uint8_t *c = dup_of(raw, n, 0);
	CHECK(c);
	char want[160];
	/* the key record's current generation: malformed */
	c[pl + 40] ^= 1;
	cf_stream_fixup(c, n);
	snprintf(want, sizeof(want), "record %zu (KEYS) at byte %zu: the "
	    "stream's key record is malformed", k, koff);
	int ok = refused("key record", c, n, "dst/raw", COFFER_EBADSTREAM,
	    want, 0);
	/* the keystore after it */
	if (ok) {
		memcpy(c, raw, n);
		c[pl + keyrec_len] ^= 1;
		cf_stream_fixup(c, n);
		snprintf(want, sizeof(want), "record %zu (KEYS) at byte %zu: "
		    "the stream's keystore is malformed", k, koff);
		ok = refused("keystore", c, n, "dst/raw", COFFER_EBADSTREAM,
		    want, 0);
	}
	/* the wrapped master key (generation 0, bytes 36..99): received,
	 * but the right key then fails to open it */
	if (ok) {
		memcpy(c, raw, n);
		c[pl + 40 + 36 + 20] ^= 0x80;
		cf_stream_fixup(c, n);
		int err = recv_buf(dst, c, n, "dst/raw");
		printf("  wrapped key bits: receive %s\n", coffer_strerror(err));
		ok = err == 0;
		if (ok) {
			err = coffer_load_key(dst, "dst/raw", &key, 0);
			printf("  then load-key: %s (%s)\n", coffer_strerror(err),
			    coffer_errdetail());
			/* load-key checks the wrapping key (the keystore);
			 * the master key's unwrapping fails at first use */
			coffer_fs_t *fs = NULL;
			int e2 = coffer_fs_open(dst, "dst/raw", 0, &fs);
			printf("  then open: %s (%s)\n", coffer_strerror(e2),
			    coffer_errdetail());
			if (!e2)
				coffer_fs_close(fs);
			ok = (err == 0 || err == COFFER_EWRONGKEY ||
			    err == COFFER_EAUTH) && e2 == COFFER_EAUTH;
			if (!err)
				(void)coffer_unload_key(dst, "dst/raw");
			(void)coffer_destroy(dst, "dst/raw",
			    COFFER_DESTROY_RECURSIVE);
		}
	}
	free(c);
	free(raw);
	CHECK(ok);
	CHECK_OK(get_state(dst, "dst/fs", &base));
}

/* a good stream still applies, and gives the sender's data */
static void test_good_stream_applies(void)
{
	CHECK_OK(recv_buf(dst, s_inc, n_inc, "dst/fs"));
	uint8_t a[32], b[32];
	CHECK_OK(rl_fingerprint(src, "src/fs@b", 0, a));
	CHECK_OK(rl_fingerprint(dst, "dst/fs@b", 0, b));
	CHECK(memcmp(a, b, 32) == 0);
	coffer_check_report_t rep;
	CHECK_OK(coffer_pool_check(dst, &rep));
	CHECK(rep.leaked_bytes == 0 && rep.double_refs == 0 &&
	    rep.unallocated_refs == 0);
}

/* a pool that fills up during the receive */
static void test_enospc(void)
{
	char d3[512];
	snprintf(d3, sizeof(d3), "%s/tiny.img", th_tmpdir());
	const char *v3[] = { d3 };
	coffer_pool_t *tiny;
	CHECK_OK(coffer_pool_create("tiny", v3, 1, 64u << 20, NULL, &tiny));
	/* a base both sides have */
	CHECK_OK(coffer_create(src, "src/big", COFFER_TYPE_FILESYSTEM, 0,
	    NULL));
	CHECK_OK(coffer_snapshot(src, "src/big@a"));
	uint8_t *s;
	size_t n = send_buf(src, "src/big@a", NULL, &s);
	CHECK(n > 0);
	CHECK_OK(recv_buf(tiny, s, n, "tiny/big"));
	free(s);
	/* then 80 MiB of incompressible data */
	coffer_fs_t *fs;
	CHECK_OK(coffer_fs_open(src, "src/big", 0, &fs));
	for (int i = 0; i < 20; i++)
		CHECK_OK(rl_put(fs, coffer_fs_root(fs), "blob", 90 + (uint64_t)i,
		    4u << 20, (uint64_t)i << 22));
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_snapshot(src, "src/big@b"));
	state_t before, after;
	CHECK_OK(get_state(tiny, "tiny/big", &before));
	n = send_buf(src, "src/big@b", "@a", &s);
	CHECK(n > (80u << 20));
	int err = recv_buf(tiny, s, n, "tiny/big");
	printf("  incremental into a full pool: %s (%s)\n",
	    coffer_strerror(err), coffer_errdetail());
	CHECK(err == -ENOSPC);
	CHECK(strstr(coffer_errdetail(), " at byte ") != NULL);
	CHECK_OK(get_state(tiny, "tiny/big", &after));
	CHECK(memcmp(before.fp, after.fp, 32) == 0);
	CHECK(after.allocated <= before.allocated + SLACK);
	free(s);
	n = send_buf(src, "src/big@b", NULL, &s);
	CHECK(n > (80u << 20));
	err = recv_buf(tiny, s, n, "tiny/new");
	printf("  full stream into a full pool: %s (%s)\n",
	    coffer_strerror(err), coffer_errdetail());
	CHECK(err == -ENOSPC);
	free(s);
	CHECK_OK(get_state(tiny, "tiny/big", &after));
	CHECK(memcmp(before.fp, after.fp, 32) == 0);
	CHECK(after.allocated <= before.allocated + SLACK);
	coffer_propval_t v;
	CHECK(coffer_prop_get(tiny, "tiny/new", "type", &v) == COFFER_ENODS);
	CHECK(strcmp(before.rootused, after.rootused) == 0);
	CHECK_OK(coffer_pool_close(tiny));
}

static void test_teardown(void)
{
	free(s_inc);
	free(s_full);
	CHECK_OK(coffer_pool_close(src));
	CHECK_OK(coffer_pool_close(dst));
}

void test_main(void)
{
	RUN(test_setup);
	if (th_failed_now())
		return;
	RUN(test_truncated_everywhere);
	RUN(test_bit_flips);
	RUN(test_wrong_checksums);
	RUN(test_reordered_and_duplicated);
	RUN(test_out_of_range);
	RUN(test_unknown_type_and_feature);
	RUN(test_wrong_base);
	RUN(test_raw_tampered_key);
	RUN(test_good_stream_applies);
	RUN(test_enospc);
	RUN(test_teardown);
}
