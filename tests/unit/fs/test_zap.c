/*
 * zap tests: add / lookup / update / remove / count at scale, forced
 * collisions, iteration completeness and stability under change, and
 * corrupt blocks.  Uses only dmu.h (plus the zap test hook) and tenv.h.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "tenv.h"
#include "dmu/zap_impl.h"

static cf_objset_t *os;

static cf_tx_t *txb(void)
{
	cf_tx_t *tx = NULL;
	if (cf_tx_begin(os, 1 << 20, &tx) != 0)
		abort();
	return tx;
}

static uint64_t mkzap(void)
{
	cf_tx_t *tx = txb();
	uint64_t z = 0;
	if (cf_zap_create(os, tx, CF_OT_ZAP, &z) != 0)
		abort();
	cf_tx_end(tx);
	return z;
}

/* deterministic pseudo-random numbers */
static uint64_t rng_state = 0x1234567;
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void test_siphash_vectors(void)
{
	/* the reference vectors: key 00..0f, message 00..(len-1) */
	uint8_t m[16];
	uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;
	for (int i = 0; i < 16; i++)
		m[i] = (uint8_t)i;
	CHECK(cf_zap_siphash(k0, k1, m, 0) == 0x726fdb47dd0e0e31ULL);
	CHECK(cf_zap_siphash(k0, k1, m, 1) == 0x74f839c593dc67fdULL);
	CHECK(cf_zap_siphash(k0, k1, m, 15) == 0xa129ca6149be45e5ULL);
}

static void test_basic(void)
{
	uint64_t z = mkzap(), v = 0, n = 99;
	char key[300], val[CF_ZAP_MAXVAL + 1];
	size_t vl = 0;
	cf_tx_t *tx = txb();

	CHECK_OK(cf_zap_count(os, z, &n));
	CHECK(n == 0);
	CHECK_OK(cf_zap_add(os, tx, z, "a", "hello", 5));
	CHECK_RC(cf_zap_add(os, tx, z, "a", "x", 1), -EEXIST);
	CHECK_OK(cf_zap_lookup(os, z, "a", val, sizeof(val), &vl));
	CHECK(vl == 5 && memcmp(val, "hello", 5) == 0);
	CHECK_RC(cf_zap_lookup(os, z, "a", val, 4, &vl), -ERANGE);
	CHECK(vl == 5);
	CHECK_RC(cf_zap_lookup(os, z, "b", val, sizeof(val), &vl), -ENOENT);
	CHECK_OK(cf_zap_update(os, tx, z, "a", "bye", 3));
	CHECK_OK(cf_zap_lookup(os, z, "a", val, sizeof(val), &vl));
	CHECK(vl == 3 && memcmp(val, "bye", 3) == 0);
	CHECK_OK(cf_zap_update(os, tx, z, "b", NULL, 0));   /* add */
	CHECK_OK(cf_zap_lookup(os, z, "b", NULL, 0, &vl));
	CHECK(vl == 0);
	CHECK_OK(cf_zap_add(os, tx, z, "", "empty key", 9));
	CHECK_OK(cf_zap_lookup(os, z, "", val, sizeof(val), &vl));
	CHECK(vl == 9);
	CHECK_OK(cf_zap_count(os, z, &n));
	CHECK(n == 3);

	/* limits */
	memset(key, 'k', sizeof(key));
	key[CF_ZAP_MAXKEY] = '\0';
	memset(val, 'v', sizeof(val));
	CHECK_OK(cf_zap_add(os, tx, z, key, val, CF_ZAP_MAXVAL));
	CHECK_OK(cf_zap_lookup(os, z, key, val, sizeof(val), &vl));
	CHECK(vl == CF_ZAP_MAXVAL);
	CHECK_RC(cf_zap_add(os, tx, z, "big", val, CF_ZAP_MAXVAL + 1), -E2BIG);
	key[CF_ZAP_MAXKEY] = 'k';
	key[CF_ZAP_MAXKEY + 1] = '\0';
	CHECK_RC(cf_zap_add(os, tx, z, key, "x", 1), -ENAMETOOLONG);
	CHECK_RC(cf_zap_lookup(os, z, key, val, 8, &vl), -ENAMETOOLONG);
	CHECK_RC(cf_zap_add(os, tx, z, NULL, "x", 1), -EINVAL);

	/* u64 helpers */
	CHECK_OK(cf_zap_add_u64(os, tx, z, "n", 42));
	CHECK_OK(cf_zap_lookup_u64(os, z, "n", &v));
	CHECK(v == 42);
	CHECK_OK(cf_zap_update_u64(os, tx, z, "n", UINT64_MAX));
	CHECK_OK(cf_zap_lookup_u64(os, z, "n", &v));
	CHECK(v == UINT64_MAX);
	CHECK_RC(cf_zap_lookup_u64(os, z, "a", &v), COFFER_ECORRUPT);

	CHECK_OK(cf_zap_remove(os, tx, z, "a"));
	CHECK_RC(cf_zap_remove(os, tx, z, "a"), -ENOENT);
	CHECK_OK(cf_zap_count(os, z, &n));
	CHECK(n == 4);
	cf_tx_end(tx);
}

static void keyname(char *buf, size_t n, uint64_t i)
{
	snprintf(buf, n, "key-%" PRIu64 "-%" PRIx64, i, i * 2654435761u);
}

static void test_200k(void)
{
	const uint64_t N = 200000;
	uint64_t z = mkzap(), n = 0, v = 0;
	char k[64];
	cf_tx_t *tx = txb();
	cf_objinfo_t info;

	for (uint64_t i = 0; i < N; i++) {
		keyname(k, sizeof(k), i);
		CHECK_OK(cf_zap_add_u64(os, tx, z, k, i));
	}
	CHECK_OK(cf_zap_count(os, z, &n));
	CHECK(n == N);
	for (uint64_t i = 0; i < N; i++) {
		keyname(k, sizeof(k), i);
		CHECK_OK(cf_zap_lookup_u64(os, z, k, &v));
		CHECK(v == i);
	}
	/* grow a few values so that updates have to split */
	for (uint64_t i = 1; i < N; i += 1000) {
		char big[600];
		size_t vl = 0;
		memset(big, (int)(i & 0x7f), sizeof(big));
		keyname(k, sizeof(k), i);
		CHECK_OK(cf_zap_update(os, tx, z, k, big, sizeof(big)));
		CHECK_OK(cf_zap_lookup(os, z, k, big, sizeof(big), &vl));
		CHECK(vl == sizeof(big) && big[599] == (char)(i & 0x7f));
		CHECK_OK(cf_zap_update_u64(os, tx, z, k, i));
	}
	for (uint64_t i = 0; i < N; i += 2) {
		keyname(k, sizeof(k), i);
		CHECK_OK(cf_zap_remove(os, tx, z, k));
	}
	CHECK_OK(cf_zap_count(os, z, &n));
	CHECK(n == N / 2);
	for (uint64_t i = 0; i < N; i++) {
		keyname(k, sizeof(k), i);
		int rc = cf_zap_lookup_u64(os, z, k, &v);
		if (i % 2 == 0) {
			CHECK_RC(rc, -ENOENT);
		} else {
			CHECK_OK(rc);
			CHECK(v == i);
		}
	}
	CHECK_OK(cf_obj_info(os, z, &info));
	CHECK(info.blksz == CF_ZAP_BLKSZ);
	cf_tx_end(tx);
	printf("  200k keys: %" PRIu64 " blocks used\n",
	    info.used / CF_ZAP_BLKSZ);
}

/* ---- iteration ----------------------------------------------------------- */

struct seen {
	uint8_t *cnt;           /* per key index */
	uint64_t n, last_next, stop_every, calls;
	int bad_order, bad_key;
	/* modification during iteration */
	uint64_t z, add_base, nadd;
	cf_tx_t *tx;
	uint64_t nvol;
};

static int seen_cb(const char *key, const void *val, size_t vlen,
    uint64_t next, void *arg)
{
	struct seen *s = arg;
	uint64_t i;
	if (s->stop_every && ++s->calls % s->stop_every == 0)
		return 1;       /* refuse: must be delivered again */
	if (next <= s->last_next)
		s->bad_order = 1;
	s->last_next = next;
	if (vlen != 8) {
		s->bad_key = 1;
		return 0;
	}
	i = le64_get(val);
	if (i < s->n)
		s->cnt[i]++;
	(void)key;
	return 0;
}

static void test_iter_complete(void)
{
	const uint64_t N = 20000;
	uint64_t z = mkzap(), cookie = 0;
	struct seen s;
	char k[64];
	cf_tx_t *tx = txb();
	int rc, rounds = 0;

	for (uint64_t i = 0; i < N; i++) {
		keyname(k, sizeof(k), i);
		CHECK_OK(cf_zap_add_u64(os, tx, z, k, i));
	}
	cf_tx_end(tx);
	memset(&s, 0, sizeof(s));
	s.n = N;
	s.cnt = calloc(N, 1);
	s.stop_every = 7;
	do {
		rc = cf_zap_iter(os, z, &cookie, seen_cb, &s);
		CHECK(rc == 0 || rc == 1);
		rounds++;
	} while (rc == 1);
	CHECK(cookie == UINT64_MAX);
	CHECK(!s.bad_order && !s.bad_key);
	for (uint64_t i = 0; i < N; i++)
		CHECK(s.cnt[i] == 1);
	CHECK(rounds > (int)(N / 7));
	/* at the end: nothing more */
	s.stop_every = 0;
	memset(s.cnt, 0, N);
	CHECK_OK(cf_zap_iter(os, z, &cookie, seen_cb, &s));
	for (uint64_t i = 0; i < N; i++)
		CHECK(s.cnt[i] == 0);
	free(s.cnt);
}

/*
 * Iterate while the callback adds many keys (splitting leaves, doubling
 * the table) and removes volatile ones, stopping now and then: every
 * stable key must be seen exactly once and no key twice.
 */
#define CH_STABLE 5000u
#define CH_VOL    3000u
#define CH_NEWMAX 40000u

struct churn {
	uint64_t z;
	cf_tx_t *tx;
	uint8_t cnt[CH_STABLE + CH_VOL + CH_NEWMAX];
	uint64_t nadd, nrem, last_next, calls;
	int bad_order, bad_val, err;
};

static int churn_cb(const char *key, const void *val, size_t vlen,
    uint64_t next, void *arg)
{
	struct churn *c = arg;
	char k[64];
	uint64_t i;

	(void)key;
	if (++c->calls % 13 == 0)
		return 1;
	if (next <= c->last_next)
		c->bad_order = 1;
	c->last_next = next;
	if (vlen < 8) {
		c->bad_val = 1;
		return 0;
	}
	i = le64_get(val);
	if (i >= CH_STABLE + CH_VOL + CH_NEWMAX) {
		c->bad_val = 1;
		return 0;
	}
	c->cnt[i]++;
	/* grow a stable key's value: updates keep their position even
	 * when the leaf has to split */
	{
		uint8_t big[8 + 700];
		uint64_t u = (c->calls * 7) % CH_STABLE;
		memset(big, 0x5a, sizeof(big));
		le64_put(big, u);
		keyname(k, sizeof(k), u);
		if (cf_zap_update(os, c->tx, c->z, k, big, sizeof(big)))
			c->err = 1;
	}
	for (int j = 0; j < 3 && c->nadd < CH_NEWMAX; j++, c->nadd++) {
		snprintf(k, sizeof(k), "new-%" PRIu64, c->nadd);
		if (cf_zap_add_u64(os, c->tx, c->z, k,
		    CH_STABLE + CH_VOL + c->nadd))
			c->err = 1;
	}
	if (c->nrem < CH_VOL) {
		snprintf(k, sizeof(k), "vol-%" PRIu64, c->nrem++);
		if (cf_zap_remove(os, c->tx, c->z, k))
			c->err = 1;
	}
	return 0;
}

static void test_iter_churn(void)
{
	struct churn *c = calloc(1, sizeof(*c));
	uint64_t cookie = 0, n;
	char k[64];
	int rc;

	c->z = mkzap();
	c->tx = txb();
	for (uint64_t i = 0; i < CH_STABLE; i++) {
		keyname(k, sizeof(k), i);
		CHECK_OK(cf_zap_add_u64(os, c->tx, c->z, k, i));
	}
	for (uint64_t i = 0; i < CH_VOL; i++) {
		snprintf(k, sizeof(k), "vol-%" PRIu64, i);
		CHECK_OK(cf_zap_add_u64(os, c->tx, c->z, k, CH_STABLE + i));
	}
	do {
		rc = cf_zap_iter(os, c->z, &cookie, churn_cb, c);
		CHECK(rc == 0 || rc == 1);
	} while (rc == 1);
	CHECK(!c->bad_order && !c->bad_val && !c->err);
	for (uint64_t i = 0; i < CH_STABLE; i++)
		CHECK(c->cnt[i] == 1);
	for (uint64_t i = CH_STABLE; i < CH_STABLE + CH_VOL + CH_NEWMAX; i++)
		CHECK(c->cnt[i] <= 1);
	CHECK(c->nadd > 3 * CH_STABLE);
	CHECK_OK(cf_zap_count(os, c->z, &n));
	CHECK(n == CH_STABLE + CH_VOL - c->nrem + c->nadd);
	cf_tx_end(c->tx);
	free(c);
}

/* ---- forced collisions ------------------------------------------------- */

static uint64_t hook_const(const char *key, size_t len)
{
	(void)key;
	(void)len;
	return 0xabcdef0123456789ULL;
}

/* hashes share their top 12 bits: forces deep tables with few keys */
static uint64_t hook_prefix(const char *key, size_t len)
{
	uint64_t h = cf_zap_siphash(1, 2, key, len);
	return (0xabcULL << 52) | (h >> 12);
}

static void test_collisions(void)
{
	uint64_t z, v, n, cookie = 0;
	char k[64];
	cf_tx_t *tx;
	int i, nadded = 0, rc;
	struct seen s;

	cf_zap_hash_hook = hook_const;
	z = mkzap();
	tx = txb();
	for (i = 0; i < 50; i++) {
		snprintf(k, sizeof(k), "c%d", i);
		CHECK_OK(cf_zap_add_u64(os, tx, z, k, (uint64_t)i));
	}
	for (i = 0; i < 50; i++) {
		snprintf(k, sizeof(k), "c%d", i);
		CHECK_OK(cf_zap_lookup_u64(os, z, k, &v));
		CHECK(v == (uint64_t)i);
	}
	/* free cd 10..19 and reuse them */
	for (i = 10; i < 20; i++) {
		snprintf(k, sizeof(k), "c%d", i);
		CHECK_OK(cf_zap_remove(os, tx, z, k));
	}
	for (i = 100; i < 110; i++) {
		snprintf(k, sizeof(k), "c%d", i);
		CHECK_OK(cf_zap_add_u64(os, tx, z, k, (uint64_t)i));
	}
	/* fill the one leaf that can hold them: then -ENOSPC, not a hang */
	for (i = 1000; i < 3000; i++) {
		char val[200];
		memset(val, 'x', sizeof(val));
		snprintf(k, sizeof(k), "c%d", i);
		rc = cf_zap_add(os, tx, z, k, val, sizeof(val));
		if (rc == -ENOSPC)
			break;
		CHECK_OK(rc);
		nadded++;
	}
	CHECK(rc == -ENOSPC);
	CHECK_OK(cf_zap_count(os, z, &n));
	CHECK(n == 50 + (uint64_t)nadded);
	for (i = 0; i < 110; i++) {
		snprintf(k, sizeof(k), "c%d", i);
		rc = cf_zap_lookup_u64(os, z, k, &v);
		if ((i >= 10 && i < 20) || (i >= 50 && i < 100))
			CHECK_RC(rc, -ENOENT);
		else
			CHECK(rc == 0 && v == (uint64_t)i);
	}
	/* iteration over colliding entries sees each once */
	memset(&s, 0, sizeof(s));
	s.n = 200;
	s.cnt = calloc(200, 1);
	s.stop_every = 3;
	do {
		rc = cf_zap_iter(os, z, &cookie, seen_cb, &s);
	} while (rc == 1);
	CHECK_OK(rc);
	for (i = 0; i < 110; i++)
		CHECK(s.cnt[i] == ((i >= 10 && i < 20) ||
		    (i >= 50 && i < 100) ? 0 : 1));
	free(s.cnt);
	cf_tx_end(tx);

	/* a common 12-bit prefix: depth goes past the embedded table */
	cf_zap_hash_hook = hook_prefix;
	z = mkzap();
	tx = txb();
	for (i = 0; i < 20000; i++) {
		snprintf(k, sizeof(k), "p%d", i);
		CHECK_OK(cf_zap_add_u64(os, tx, z, k, (uint64_t)i));
	}
	for (i = 0; i < 20000; i++) {
		snprintf(k, sizeof(k), "p%d", i);
		CHECK_OK(cf_zap_lookup_u64(os, z, k, &v));
		CHECK(v == (uint64_t)i);
	}
	{
		uint8_t hdr[CF_ZAP_HDR_LEN];
		CHECK_OK(cf_obj_read(os, z, 0, sizeof(hdr), hdr));
		CHECK(hdr[10] > CF_ZAP_EMBED_DEPTH);
		CHECK(le64_get(hdr + 40) != 0);
	}
	cf_tx_end(tx);
	cf_zap_hash_hook = NULL;
}

/* ---- threads ------------------------------------------------------------- */

struct thr {
	uint64_t z;
	int id;
	int err;                /* the first failure: which step */
	int rc, at;             /* ... its code and the key's index */
};

static void thr_fail(struct thr *t, int step, int rc, int at)
{
	if (!t->err) {
		t->err = step;
		t->rc = rc;
		t->at = at;
	}
}

/*
 * Four threads, each holding one tx for all its changes to the same zap.
 * A sync may close the txg of the first while the later ones begin:
 * they wait for it (spa invariant 5) rather than lose its changes.
 */
static void *zap_thread(void *arg)
{
	struct thr *t = arg;
	char k[64];
	uint64_t v;
	cf_tx_t *tx;
	if (cf_tx_begin(os, 1 << 20, &tx))
		abort();
	for (int i = 0; i < 20000; i++) {
		snprintf(k, sizeof(k), "t%d-%d", t->id, i);
		int rc = cf_zap_add_u64(os, tx, t->z, k, (uint64_t)i);
		if (rc)
			thr_fail(t, 1, rc, i);
		if (i % 3 == 0) {
			snprintf(k, sizeof(k), "t%d-%d", t->id, i / 3);
			if ((rc = cf_zap_remove(os, tx, t->z, k)) != 0)
				thr_fail(t, 2, rc, i / 3);
		}
	}
	for (int i = 0; i < 20000; i++) {
		int gone = i < 20000 / 3 + 1 && i * 3 <= 19999;
		snprintf(k, sizeof(k), "t%d-%d", t->id, i);
		int rc = cf_zap_lookup_u64(os, t->z, k, &v);
		if (gone ? rc != -ENOENT : (rc != 0 || v != (uint64_t)i))
			thr_fail(t, 3, rc, i);
	}
	cf_tx_end(tx);
	return NULL;
}

static void test_threads(void)
{
	pthread_t th[4];
	struct thr t[4];
	uint64_t z = mkzap(), n;
	for (int i = 0; i < 4; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].z = z;
		t[i].id = i;
		CHECK(pthread_create(&th[i], NULL, zap_thread, &t[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		if (t[i].err)
			printf("  thread %d: %s of key %d: %d (%s) %s\n", i,
			    t[i].err == 1 ? "add" : t[i].err == 2 ? "remove" :
			    "lookup", t[i].at, t[i].rc, coffer_strerror(t[i].rc),
			    cf_corrupt_site());
		CHECK(t[i].err == 0);
	}
	CHECK_OK(cf_zap_count(os, z, &n));
	CHECK(n == 4 * (20000 - (20000 / 3 + 1)));
}

/* ---- corruption ---------------------------------------------------------- */

static uint64_t hdr_nextfree(uint64_t z)
{
	uint8_t hdr[CF_ZAP_HDR_LEN];
	if (cf_obj_read(os, z, 0, sizeof(hdr), hdr))
		return 0;
	return le64_get(hdr + 56);
}

static int rc_ok(int rc)
{
	return rc == 0 || rc == -ENOENT || rc == -EEXIST || rc == -ENOSPC ||
	    rc == -ERANGE || rc == COFFER_ECORRUPT || rc == COFFER_ENOTSUP;
}

static int any_cb(const char *key, const void *val, size_t vlen,
    uint64_t next, void *arg)
{
	uint64_t *n = arg;
	(void)key;
	(void)val;
	(void)next;
	if (vlen > CF_ZAP_MAXVAL || strlen(key) > CF_ZAP_MAXKEY)
		abort();
	(*n)++;
	return 0;
}

/* Copy object src's blocks into a new zap object. */
static uint64_t zap_clone(uint64_t src, uint8_t *tmp)
{
	cf_tx_t *tx = txb();
	uint64_t z, nf = hdr_nextfree(src);
	if (cf_obj_alloc(os, tx, CF_OT_ZAP, CF_ZAP_BLKSZ, &z))
		abort();
	for (uint64_t b = 0; b < nf; b++) {
		if (cf_obj_read(os, src, b * CF_ZAP_BLKSZ, CF_ZAP_BLKSZ, tmp) ||
		    cf_obj_write(os, tx, z, b * CF_ZAP_BLKSZ, CF_ZAP_BLKSZ, tmp))
			abort();
	}
	cf_tx_end(tx);
	return z;
}

/* Targeted corruptions, each must be reported as such. */
static void test_corrupt_targeted(void)
{
	uint64_t z = mkzap(), v, leaf;
	uint8_t b[16], orig[16];
	cf_tx_t *tx = txb();
	char k[32];
	size_t vl;
	struct {
		uint64_t off;   /* relative: leaf offsets get + leaf*16K */
		int in_leaf, len;
		uint64_t val;
		int want;
	} cases[] = {
		{ 0, 0, 8, 0x1234, COFFER_ECORRUPT },           /* magic */
		{ 8, 0, 2, 2, COFFER_ENOTSUP },                 /* version */
		{ 10, 0, 1, 40, COFFER_ECORRUPT },              /* depth */
		{ 10, 0, 1, 11, COFFER_ECORRUPT },              /* depth w/o table */
		{ 40, 0, 8, 5, COFFER_ECORRUPT },               /* table blk */
		{ 56, 0, 8, 0, COFFER_ECORRUPT },               /* next free */
		{ 56, 0, 8, UINT64_MAX, COFFER_ECORRUPT },
		{ 64, 0, 8, 0, COFFER_ECORRUPT },               /* leaves */
		{ 8192, 0, 8, 0, COFFER_ECORRUPT },             /* slot -> 0 */
		{ 8192, 0, 8, 1000000, COFFER_ECORRUPT },       /* slot -> far */
		{ 0, 1, 4, 0, COFFER_ECORRUPT },                /* leaf magic */
		{ 4, 1, 1, 3, COFFER_ECORRUPT },                /* leaf depth */
		{ 6, 1, 2, 0xffff, COFFER_ECORRUPT },           /* nentries */
		{ 6, 1, 2, 1, COFFER_ECORRUPT },
		{ 8, 1, 8, 1, COFFER_ECORRUPT },                /* prefix */
		{ 16, 1, 4, 100000, COFFER_ECORRUPT },          /* used */
		{ 16, 1, 4, 3, COFFER_ECORRUPT },
		{ 40, 1, 1, 250, COFFER_ECORRUPT },             /* klen */
		{ 41, 1, 2, 2000, COFFER_ECORRUPT },            /* vlen */
		{ 32, 1, 8, 0x8000, COFFER_ECORRUPT },          /* cd too big */
	};

	for (int i = 0; i < 30; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		CHECK_OK(cf_zap_add_u64(os, tx, z, k, (uint64_t)i));
	}
	CHECK_OK(cf_obj_read(os, z, 8192, 8, b));
	leaf = le64_get(b);
	for (size_t c = 0; c < CF_ARRAY_SIZE(cases); c++) {
		uint64_t off = cases[c].off +
		    (cases[c].in_leaf ? leaf * CF_ZAP_BLKSZ : 0);
		uint64_t cookie = 0, cnt = 0;
		int rc;
		CHECK_OK(cf_obj_read(os, z, off, cases[c].len, orig));
		memset(b, 0, sizeof(b));
		for (int j = 0; j < cases[c].len; j++)
			b[j] = (uint8_t)(cases[c].val >> (8 * j));
		CHECK_OK(cf_obj_write(os, tx, z, off, cases[c].len, b));
		rc = cf_zap_lookup_u64(os, z, "k3", &v);
		if (rc != cases[c].want)
			fprintf(stderr, "  case %zu: lookup %d\n", c, rc);
		CHECK_RC(rc, cases[c].want);
		CHECK_RC(cf_zap_iter(os, z, &cookie, any_cb, &cnt),
		    cases[c].want);
		CHECK_RC(cf_zap_add_u64(os, tx, z, "new", 1), cases[c].want);
		CHECK_RC(cf_zap_remove(os, tx, z, "k4"), cases[c].want);
		CHECK_OK(cf_obj_write(os, tx, z, off, cases[c].len, orig));
		CHECK_OK(cf_zap_lookup_u64(os, z, "k3", &v));
		CHECK(v == 3);
	}
	/* a key with a NUL byte inside: iteration refuses to hand it out */
	{
		uint64_t cookie = 0, cnt = 0;
		CHECK_OK(cf_obj_read(os, z, leaf * CF_ZAP_BLKSZ + 43, 1, orig));
		b[0] = 0;
		CHECK_OK(cf_obj_write(os, tx, z, leaf * CF_ZAP_BLKSZ + 43, 1, b));
		CHECK_RC(cf_zap_iter(os, z, &cookie, any_cb, &cnt),
		    COFFER_ECORRUPT);
		CHECK(cnt == 0);
		CHECK_OK(cf_obj_write(os, tx, z, leaf * CF_ZAP_BLKSZ + 43, 1,
		    orig));
		CHECK_OK(cf_zap_lookup(os, z, "k3", b, 8, &vl));
	}
	/* not a zap at all */
	{
		uint64_t o;
		CHECK_OK(cf_obj_alloc(os, tx, CF_OT_FILE, 512, &o));
		CHECK_RC(cf_zap_lookup_u64(os, o, "x", &v), COFFER_ECORRUPT);
		CHECK_RC(cf_zap_add_u64(os, tx, o, "x", 1), COFFER_ECORRUPT);
	}
	cf_tx_end(tx);
}

/* Random byte flips anywhere: errors, never crashes or hangs. */
static void test_corrupt_random(void)
{
	uint64_t src = mkzap(), nf;
	uint8_t *tmp = malloc(CF_ZAP_BLKSZ);
	cf_tx_t *tx = txb();
	char k[32];
	int corrupt_seen = 0;

	for (int i = 0; i < 3000; i++) {
		snprintf(k, sizeof(k), "key%d", i);
		CHECK_OK(cf_zap_add_u64(os, tx, src, k, (uint64_t)i));
	}
	nf = hdr_nextfree(src);
	CHECK(nf > 3);
	for (int trial = 0; trial < 400; trial++) {
		uint64_t z = zap_clone(src, tmp), cookie = 0, cnt = 0, v;
		int nflip = 1 + (int)(rnd() % 4);
		for (int f = 0; f < nflip; f++) {
			uint64_t off;
			uint8_t byte;
			/* half the flips hit the interesting first bytes */
			if (rnd() % 2)
				off = (rnd() % nf) * CF_ZAP_BLKSZ + rnd() % 96;
			else
				off = rnd() % (nf * CF_ZAP_BLKSZ);
			if (trial % 3 == 0)
				off = 8192 + rnd() % 64;   /* table slots */
			CHECK_OK(cf_obj_read(os, z, off, 1, &byte));
			byte ^= (uint8_t)(1u << (rnd() % 8));
			CHECK_OK(cf_obj_write(os, tx, z, off, 1, &byte));
		}
		for (int i = 0; i < 3000; i += 97) {
			snprintf(k, sizeof(k), "key%d", i);
			int rc = cf_zap_lookup_u64(os, z, k, &v);
			CHECK(rc_ok(rc));
			if (rc == COFFER_ECORRUPT)
				corrupt_seen++;
		}
		int rc = cf_zap_iter(os, z, &cookie, any_cb, &cnt);
		CHECK(rc_ok(rc));
		for (int i = 0; i < 200; i++) {
			snprintf(k, sizeof(k), "more%d", i);
			CHECK(rc_ok(cf_zap_add_u64(os, tx, z, k, 1)));
			snprintf(k, sizeof(k), "key%d", i);
			CHECK(rc_ok(cf_zap_remove(os, tx, z, k)));
		}
		CHECK(rc_ok(cf_zap_count(os, z, &v)));
		CHECK_OK(cf_obj_free(os, tx, z));
	}
	CHECK(corrupt_seen > 0);
	cf_tx_end(tx);
	free(tmp);
}

static void test_remove_all(void)
{
	uint64_t z = mkzap(), n = 1, cookie = 0, cnt = 0, v;
	char k[64];
	cf_tx_t *tx = txb();
	for (uint64_t i = 0; i < 5000; i++) {
		keyname(k, sizeof(k), i);
		CHECK_OK(cf_zap_add_u64(os, tx, z, k, i));
	}
	for (uint64_t i = 0; i < 5000; i++) {
		keyname(k, sizeof(k), i);
		CHECK_OK(cf_zap_remove(os, tx, z, k));
	}
	CHECK_OK(cf_zap_count(os, z, &n));
	CHECK(n == 0);
	CHECK_OK(cf_zap_iter(os, z, &cookie, any_cb, &cnt));
	CHECK(cnt == 0 && cookie == UINT64_MAX);
	keyname(k, sizeof(k), 17);
	CHECK_OK(cf_zap_add_u64(os, tx, z, k, 17));
	CHECK_OK(cf_zap_lookup_u64(os, z, k, &v));
	CHECK(v == 17);
	cf_tx_end(tx);
}

void test_main(void)
{
	os = tenv_os_open();
	RUN(test_siphash_vectors);
	RUN(test_basic);
	RUN(test_200k);
	RUN(test_iter_complete);
	RUN(test_iter_churn);
	RUN(test_collisions);
	RUN(test_threads);
	RUN(test_remove_all);
	RUN(test_corrupt_targeted);
	RUN(test_corrupt_random);
	tenv_os_close(os);
}
