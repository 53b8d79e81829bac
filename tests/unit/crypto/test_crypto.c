/* Unit tests for src/crypto: fletcher-4, SHA-256, random, compare. */
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>

#include "crypto/crypto.h"

static const char *const impls[] = { "scalar", "sse2", "avx2" };

/* splitmix64: the same generator as the Python script that computed the
 * expected values below, so the inputs are reproducible anywhere. */
static void sm_fill(uint64_t seed, uint8_t *p, size_t n)
{
	uint64_t s = seed;
	size_t i;

	for (i = 0; i < n; i += 8) {
		uint8_t b[8];
		uint64_t z;

		s += 0x9e3779b97f4a7c15ULL;
		z = s;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		le64_put(b, z);
		memcpy(p + i, b, CF_MIN(8, n - i));
	}
}

/* A fast non-cryptographic generator for test inputs. */
static uint64_t rng_state = 0x0123456789abcdefULL;
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int f4_equal(const uint8_t out[32], const uint64_t want[4])
{
	return le64_get(out) == want[0] && le64_get(out + 8) == want[1] &&
	    le64_get(out + 16) == want[2] && le64_get(out + 24) == want[3];
}

/*
 * Expected values from an independent Python implementation
 * (a += w; b += a; c += b; d += c over little-endian 32-bit words, the
 * tail zero-padded, all modulo 2^64).
 */
static void test_fletcher4_known(void)
{
	static const struct {
		const char *name;
		uint64_t want[4];
	} kat[] = {
		{ "empty", { 0, 0, 0, 0 } },
		{ "a", { 0x61, 0x61, 0x61, 0x61 } },
		{ "abc", { 0x636261, 0x636261, 0x636261, 0x636261 } },
		{ "abcde", { 0x00000000646362c6ULL, 0x00000000c8c6c527ULL,
		    0x000000012d2a2788ULL, 0x00000001918d89e9ULL } },
		{ "seq4096", { 0x0000020601fdf800ULL, 0x0003f79d9385a800ULL,
		    0x053e7f19ab335400ULL, 0x3422b083068a4c00ULL } },
		{ "ff1m", { 0x0003fffffffc0000ULL, 0x0001fff7fffe0000ULL,
		    0xaaa1554d55540000ULL, 0x5546554dffff0000ULL } },
		{ "sm42_100003", { 0x000030ecb8391d93ULL, 0x0951fdffb1715378ULL,
		    0x447fda705c346a99ULL, 0x6e6bd9622b1e5806ULL } },
	};
	uint8_t *buf = malloc(1 << 20);
	size_t i, k, len = 0;
	uint8_t out[32];

	CHECK(buf != NULL);
	for (i = 0; i < CF_ARRAY_SIZE(kat); i++) {
		const char *n = kat[i].name;

		if (strcmp(n, "empty") == 0) {
			len = 0;
		} else if (strncmp(n, "seq", 3) == 0) {
			len = 4096;
			for (k = 0; k < len; k++)
				buf[k] = (uint8_t)k;
		} else if (strcmp(n, "ff1m") == 0) {
			len = 1 << 20;
			memset(buf, 0xff, len);
		} else if (strncmp(n, "sm42", 4) == 0) {
			len = 100003;
			sm_fill(42, buf, len);
		} else {
			len = strlen(n);
			memcpy(buf, n, len);
		}
		cf_fletcher4_scalar(buf, len, out);
		if (!f4_equal(out, kat[i].want))
			fprintf(stderr, "  scalar %s\n", n);
		CHECK(f4_equal(out, kat[i].want));
		cf_fletcher4(buf, len, out);
		CHECK(f4_equal(out, kat[i].want));
		for (k = 0; k < CF_ARRAY_SIZE(impls); k++) {
			cf_fletcher4_ctx_t ctx;

			cf_fletcher4_init(&ctx);
			if (cf_fletcher4_update_with(impls[k], &ctx, buf, len)
			    == -ENOTSUP)
				continue;
			cf_fletcher4_final(&ctx, out);
			if (!f4_equal(out, kat[i].want))
				fprintf(stderr, "  %s %s\n", impls[k], n);
			CHECK(f4_equal(out, kat[i].want));
		}
	}
	free(buf);
}

static void test_fletcher4_impls(void)
{
	const char *sel = cf_fletcher4_impl();
	cf_fletcher4_ctx_t ctx;
	size_t k;
	int found = 0;

	printf("     fletcher-4 implementation: %s\n", sel);
	for (k = 0; k < CF_ARRAY_SIZE(impls); k++)
		found |= strcmp(sel, impls[k]) == 0;
	CHECK(found);
	CHECK(strcmp(sel, cf_fletcher4_impl()) == 0);
	cf_fletcher4_init(&ctx);
	CHECK_OK(cf_fletcher4_update_with("scalar", &ctx, "abcd", 4));
	CHECK_RC(cf_fletcher4_update_with("neon9000", &ctx, "abcd", 4),
	    -ENOTSUP);
#if defined(__x86_64__)
	/* Every x86-64 CPU has SSE2. */
	CHECK_OK(cf_fletcher4_update_with("sse2", &ctx, "abcd", 4));
#endif
}

/* Every implementation equals the scalar definition for every length up
 * to 1100 and any alignment, on random and on all-ones data. */
static void test_fletcher4_simd_equals_scalar(void)
{
	uint8_t *buf = malloc(1100 + 64);
	size_t len, k;
	int pass;

	CHECK(buf != NULL);
	for (pass = 0; pass < 2; pass++) {
		for (len = 0; len <= 1100; len++) {
			size_t off = rng() % 64, i;
			uint8_t want[32], got[32];

			for (i = 0; i < len + 64; i++)
				buf[i] = pass ? 0xff : (uint8_t)rng();
			cf_fletcher4_scalar(buf + off, len, want);
			cf_fletcher4(buf + off, len, got);
			CHECK(memcmp(want, got, 32) == 0);
			for (k = 0; k < CF_ARRAY_SIZE(impls); k++) {
				cf_fletcher4_ctx_t ctx;

				cf_fletcher4_init(&ctx);
				if (cf_fletcher4_update_with(impls[k], &ctx,
				    buf + off, len) == -ENOTSUP)
					continue;
				cf_fletcher4_final(&ctx, got);
				if (memcmp(want, got, 32) != 0)
					fprintf(stderr, "  %s len %zu off %zu\n",
					    impls[k], len, off);
				CHECK(memcmp(want, got, 32) == 0);
			}
		}
	}
	free(buf);
}

/* Updates split at random multiples of 4 (the last one any length) give
 * the one-shot result, whichever implementation runs each piece. */
static void test_fletcher4_incremental(void)
{
	size_t n = 300000, i, iter;
	uint8_t *buf = malloc(n + 16);
	uint8_t want[32], got[32];

	CHECK(buf != NULL);
	for (iter = 0; iter < 200; iter++) {
		size_t len = (iter < 100) ? rng() % 5000 : rng() % n;
		size_t off = rng() % 16, pos = 0;
		cf_fletcher4_ctx_t ctx, mixed;

		if (iter % 3 == 0)
			memset(buf, 0xff, len + off);
		else
			for (i = 0; i < len + off; i++)
				buf[i] = (uint8_t)rng();
		cf_fletcher4_scalar(buf + off, len, want);
		cf_fletcher4_init(&ctx);
		cf_fletcher4_init(&mixed);
		while (pos < len) {
			size_t step = (rng() % 3 == 0) ? rng() % 64 :
			    rng() % (len / 4 + 64);

			step &= ~(size_t)3;
			if (step > len - pos || rng() % 16 == 0)
				step = len - pos;
			cf_fletcher4_update(&ctx, buf + off + pos, step);
			/* Each piece through a random implementation. */
			while (cf_fletcher4_update_with(
			    impls[rng() % CF_ARRAY_SIZE(impls)], &mixed,
			    buf + off + pos, step) == -ENOTSUP)
				;
			pos += step;
		}
		cf_fletcher4_final(&ctx, got);
		CHECK(memcmp(want, got, 32) == 0);
		cf_fletcher4_final(&mixed, got);
		CHECK(memcmp(want, got, 32) == 0);
	}
	free(buf);
}

/* A long run of maximal words wraps every sum many times; SIMD lanes and
 * the merge must wrap identically. */
static void test_fletcher4_wrap(void)
{
	size_t n = 8 << 20, k;
	uint8_t *buf = malloc(n);
	uint8_t want[32], got[32];

	CHECK(buf != NULL);
	memset(buf, 0xff, n);
	cf_fletcher4_scalar(buf, n - 1, want);
	for (k = 0; k < CF_ARRAY_SIZE(impls); k++) {
		cf_fletcher4_ctx_t ctx;

		cf_fletcher4_init(&ctx);
		if (cf_fletcher4_update_with(impls[k], &ctx, buf, n / 2) ==
		    -ENOTSUP)
			continue;
		CHECK_OK(cf_fletcher4_update_with(impls[k], &ctx, buf + n / 2,
		    n / 2 - 1));
		CHECK_OK(cf_fletcher4_update_with(impls[k], &ctx, buf, 0));
		cf_fletcher4_final(&ctx, got);
		CHECK(memcmp(want, got, 32) == 0);
	}
	free(buf);
}

static int hexeq(const uint8_t *b, const char *hex)
{
	char s[65];
	size_t i;

	for (i = 0; i < 32; i++)
		snprintf(s + 2 * i, 3, "%02x", b[i]);
	return strcmp(s, hex) == 0;
}

/* FIPS 180-2 / NIST CAVS examples. */
static void test_sha256_nist(void)
{
	static const char *const h_abc =
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	static const char *const h_empty =
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	static const char *const m448 =
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	static const char *const h448 =
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
	static const char *const hmil =
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
	uint8_t out[32];
	char *mil = malloc(1000000);
	cf_sha256_ctx_t *c;
	int i;

	CHECK(mil != NULL);
	cf_sha256("abc", 3, out);
	CHECK(hexeq(out, h_abc));
	cf_sha256("", 0, out);
	CHECK(hexeq(out, h_empty));
	cf_sha256(m448, strlen(m448), out);
	CHECK(hexeq(out, h448));
	memset(mil, 'a', 1000000);
	cf_sha256(mil, 1000000, out);
	CHECK(hexeq(out, hmil));

	/* The same through the incremental interface. */
	c = cf_sha256_new();
	CHECK(c != NULL);
	cf_sha256_update(c, "a", 1);
	cf_sha256_update(c, "", 0);
	cf_sha256_update(c, "bc", 2);
	cf_sha256_final(c, out);
	CHECK(hexeq(out, h_abc));
	c = cf_sha256_new();
	CHECK(c != NULL);
	cf_sha256_final(c, out);
	CHECK(hexeq(out, h_empty));
	c = cf_sha256_new();
	CHECK(c != NULL);
	for (i = 0; i < 1000; i++)
		cf_sha256_update(c, mil, 1000);
	cf_sha256_final(c, out);
	CHECK(hexeq(out, hmil));
	/* Abandoned contexts. */
	c = cf_sha256_new();
	CHECK(c != NULL);
	cf_sha256_update(c, "abc", 3);
	cf_sha256_free(c);
	cf_sha256_free(NULL);
	free(mil);
}

static void test_sha256_split(void)
{
	size_t n = 100003, iter;
	uint8_t *buf = malloc(n);
	uint8_t want[32], got[32];

	CHECK(buf != NULL);
	sm_fill(42, buf, n);
	cf_sha256(buf, n, want);
	/* From hashlib.sha256 over the same bytes. */
	CHECK(hexeq(want,
	    "206b5967258222288fd69947f2e79394d03a5f02d527546f74d0cff1c8a10869"));
	for (iter = 0; iter < 50; iter++) {
		cf_sha256_ctx_t *c = cf_sha256_new();
		size_t pos = 0;

		CHECK(c != NULL);
		while (pos < n) {
			size_t step = rng() % 9000;

			step = CF_MIN(step, n - pos);   /* a macro */
			cf_sha256_update(c, buf + pos, step);
			pos += step;
		}
		cf_sha256_final(c, got);
		CHECK(memcmp(want, got, 32) == 0);
	}
	free(buf);
}

/* Hashing and checksumming from several threads at once: each thread's
 * cached digest context and the one-time selections are thread safe. */
static void *hash_thread(void *arg)
{
	const uint8_t *buf = arg;
	uint8_t s[32], f[32], fs[32];
	int i;

	for (i = 0; i < 300; i++) {
		cf_sha256(buf, 100003, s);
		if (!hexeq(s, "206b5967258222288fd69947f2e79394"
		    "d03a5f02d527546f74d0cff1c8a10869"))
			return (void *)1;
		cf_fletcher4(buf, 100003, f);
		cf_fletcher4_scalar(buf, 100003, fs);
		if (memcmp(f, fs, 32) != 0)
			return (void *)1;
	}
	return NULL;
}

static void test_threads(void)
{
	uint8_t *buf = malloc(100003);
	pthread_t t[4];
	void *ret;
	int i, bad = 0;

	CHECK(buf != NULL);
	sm_fill(42, buf, 100003);
	for (i = 0; i < 4; i++)
		CHECK(pthread_create(&t[i], NULL, hash_thread, buf) == 0);
	for (i = 0; i < 4; i++) {
		CHECK(pthread_join(t[i], &ret) == 0);
		bad |= ret != NULL;
	}
	CHECK(!bad);
	free(buf);
}

static void test_random(void)
{
	uint8_t a[64], b[64], zero[64];
	uint64_t g[100];
	uint8_t *big;
	size_t i, j, nz = 0;

	memset(zero, 0, sizeof(zero));
	CHECK_OK(cf_random(a, sizeof(a)));
	CHECK_OK(cf_random(b, sizeof(b)));
	CHECK(memcmp(a, zero, sizeof(a)) != 0);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	CHECK_OK(cf_random(a, 0));
	big = malloc(1 << 20);
	CHECK(big != NULL);
	memset(big, 0, 1 << 20);
	CHECK_OK(cf_random(big, 1 << 20));
	for (i = 0; i < (1 << 20); i++)
		nz += big[i] != 0;
	/* About 255/256 of the bytes are non-zero. */
	CHECK(nz > (1 << 20) / 256 * 250);
	free(big);
	for (i = 0; i < CF_ARRAY_SIZE(g); i++) {
		g[i] = cf_random_guid();
		CHECK(g[i] != 0);
		for (j = 0; j < i; j++)
			CHECK(g[i] != g[j]);
	}
}

static void test_ct_equal(void)
{
	uint8_t a[32], b[32];

	memset(a, 7, sizeof(a));
	memset(b, 7, sizeof(b));
	CHECK(cf_ct_equal(a, b, 32) == 1);
	CHECK(cf_ct_equal(a, b, 0) == 1);
	b[31] ^= 1;
	CHECK(cf_ct_equal(a, b, 32) == 0);
	CHECK(cf_ct_equal(a, b, 31) == 1);
	b[31] ^= 1;
	b[0] ^= 0x80;
	CHECK(cf_ct_equal(a, b, 32) == 0);
}

void test_main(void)
{
	RUN(test_fletcher4_known);
	RUN(test_fletcher4_impls);
	RUN(test_fletcher4_simd_equals_scalar);
	RUN(test_fletcher4_incremental);
	RUN(test_fletcher4_wrap);
	RUN(test_sha256_nist);
	RUN(test_sha256_split);
	RUN(test_threads);
	RUN(test_random);
	RUN(test_ct_equal);
}
