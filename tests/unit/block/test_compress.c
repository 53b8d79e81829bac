/* Unit tests for src/block/compress.c. */
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>

#include "block/compress.h"
#include "crypto/crypto.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Text-like data that compresses well but not trivially. */
static void fill_text(uint8_t *p, size_t n, uint64_t seed)
{
	static const char *const words[] = { "coffer ", "pool ", "dataset ",
	    "snapshot ", "encrypt ", "block ", "txg ", "key ", "stream ",
	    "scrub\n", "0123 ", "uberblock " };
	uint64_t s = seed | 1;
	size_t i = 0;

	while (i < n) {
		const char *w;
		size_t l;

		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		w = words[s % CF_ARRAY_SIZE(words)];
		l = CF_MIN(strlen(w), n - i);
		memcpy(p + i, w, l);
		i += l;
	}
}

static void fill_random(uint8_t *p, size_t n)
{
	CHECK_OK(cf_random(p, n));
}

/* Reproducible junk, for inputs whose outcome must not vary by run. */
static void fill_rng(uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(rng() >> 24);
}

/* The largest stored length compress.h allows for srclen. */
static size_t target_of(size_t srclen)
{
	size_t t = srclen - srclen / 8;
	return t - t % CF_COMP_SECTOR;
}

static int roundtrip(int alg, int level, const uint8_t *src, size_t n,
    size_t *clen_out)
{
	uint8_t *c = malloc(n + 64), *d = malloc(n + 1);
	int clen, rc = 0;

	if (!c || !d) {
		rc = -ENOMEM;
		goto out;
	}
	clen = cf_compress(alg, level, src, n, c, n + 64);
	if (clen <= 0) {
		rc = clen == 0 ? -EAGAIN : clen;
		goto out;
	}
	if ((size_t)clen > target_of(n) || le32_get(c) + 4 != (size_t)clen) {
		rc = -ERANGE;
		goto out;
	}
	d[n] = 0x5a;
	rc = cf_decompress(alg, c, (size_t)clen, d, n);
	if (rc == 0 && (memcmp(src, d, n) != 0 || d[n] != 0x5a))
		rc = -EIO;
	*clen_out = (size_t)clen;
out:
	free(c);
	free(d);
	return rc;
}

static void test_roundtrip_all_levels(void)
{
	size_t n = 128 * 1024, clen;
	uint8_t *src = malloc(n);
	int level;

	CHECK(src != NULL);
	fill_text(src, n, 1);
	CHECK_OK(roundtrip(CF_COMP_LZ4, 0, src, n, &clen));
	printf("     lz4: 128K -> %zu\n", clen);
	for (level = 0; level <= CF_COMP_ZSTD_MAX_LEVEL; level++) {
		CHECK_OK(roundtrip(CF_COMP_ZSTD, level, src, n, &clen));
		if (level == 1 || level == 3 || level == 19)
			printf("     zstd-%d: 128K -> %zu\n", level, clen);
	}
	free(src);
}

static void test_roundtrip_sizes(void)
{
	static const size_t sizes[] = { 8192, 12288, 65536, 100000,
	    1 << 20, 16 << 20 };
	static const int levels[] = { 1, 3, 9 };
	uint8_t *src = malloc(16 << 20);
	size_t i, j, clen;

	CHECK(src != NULL);
	for (i = 0; i < CF_ARRAY_SIZE(sizes); i++) {
		size_t n = sizes[i];

		fill_text(src, n, n);
		CHECK_OK(roundtrip(CF_COMP_LZ4, 0, src, n, &clen));
		for (j = 0; j < CF_ARRAY_SIZE(levels); j++)
			CHECK_OK(roundtrip(CF_COMP_ZSTD, levels[j], src, n,
			    &clen));
	}
	/* All zeros. */
	memset(src, 0, 1 << 20);
	CHECK_OK(roundtrip(CF_COMP_LZ4, 0, src, 1 << 20, &clen));
	CHECK(clen < 8192);
	CHECK_OK(roundtrip(CF_COMP_ZSTD, 19, src, 1 << 20, &clen));
	CHECK(clen < 1024);
	free(src);
}

/* Random data does not shrink: 0 (store as is), at every level. */
static void test_incompressible(void)
{
	size_t n = 128 * 1024;
	uint8_t *src = malloc(n), *dst = malloc(2 * n);
	int level;

	CHECK(src && dst);
	fill_random(src, n);
	CHECK_RC(cf_compress(CF_COMP_LZ4, 0, src, n, dst, 2 * n), 0);
	for (level = 0; level <= CF_COMP_ZSTD_MAX_LEVEL; level++)
		CHECK_RC(cf_compress(CF_COMP_ZSTD, level, src, n, dst, 2 * n),
		    0);
	CHECK_RC(cf_compress(CF_COMP_OFF, 0, src, n, dst, 2 * n), 0);

	/* Half random, half text: saves less than 1/8 worth of sectors
	 * only if the text part is small.  7/8 random: not worth it. */
	fill_text(src, n / 8, 5);
	CHECK_RC(cf_compress(CF_COMP_LZ4, 0, src, n, dst, 2 * n), 0);
	/* 1/4 zeros: saves ~1/4, worth it. */
	memset(src, 0, n / 4);
	CHECK(cf_compress(CF_COMP_LZ4, 0, src, n, dst, 2 * n) > 0);
	CHECK(cf_compress(CF_COMP_ZSTD, 0, src, n, dst, 2 * n) > 0);
	free(src);
	free(dst);
}

/* One sector (or less) can never save a sector. */
static void test_small_blocks(void)
{
	uint8_t src[8192], dst[8192];
	size_t n;

	memset(src, 'a', sizeof(src));
	for (n = 0; n <= 4096; n += 512) {
		CHECK_RC(cf_compress(CF_COMP_LZ4, 0, src, n, dst, sizeof(dst)),
		    0);
		CHECK_RC(cf_compress(CF_COMP_ZSTD, 0, src, n, dst,
		    sizeof(dst)), 0);
	}
	CHECK_RC(cf_compress(CF_COMP_LZ4, 0, src, 1, dst, sizeof(dst)), 0);
	/* 8K of one letter fits in one sector. */
	CHECK(cf_compress(CF_COMP_LZ4, 0, src, 8192, dst, sizeof(dst)) > 0);
	/* ... unless dst is too small for anything. */
	CHECK_RC(cf_compress(CF_COMP_LZ4, 0, src, 8192, dst, 4), 0);
	CHECK_RC(cf_compress(CF_COMP_ZSTD, 0, src, 8192, dst, 8), 0);
}

static void test_bad_args(void)
{
	uint8_t src[16384], dst[16384];

	memset(src, 'a', sizeof(src));
	CHECK_RC(cf_compress(CF_COMP_ZSTD, -1, src, sizeof(src), dst,
	    sizeof(dst)), -EINVAL);
	CHECK_RC(cf_compress(CF_COMP_ZSTD, 20, src, sizeof(src), dst,
	    sizeof(dst)), -EINVAL);
	CHECK_RC(cf_compress(3, 0, src, sizeof(src), dst, sizeof(dst)),
	    -EINVAL);
	CHECK_RC(cf_compress(-1, 0, src, sizeof(src), dst, sizeof(dst)),
	    -EINVAL);
	/* lz4 ignores the level. */
	CHECK(cf_compress(CF_COMP_LZ4, 99, src, sizeof(src), dst,
	    sizeof(dst)) > 0);
	CHECK_RC(cf_decompress(7, src, sizeof(src), dst, 100),
	    COFFER_ENOTSUP);
	CHECK_RC(cf_decompress(CF_COMP_LZ4, src, sizeof(src), dst,
	    (size_t)1 << 40), -EINVAL);
}

static void test_off(void)
{
	uint8_t src[100], dst[100];

	memset(src, 3, sizeof(src));
	CHECK_OK(cf_decompress(CF_COMP_OFF, src, 100, dst, 100));
	CHECK(memcmp(src, dst, 100) == 0);
	CHECK_OK(cf_decompress(CF_COMP_OFF, src, 100, dst, 50));
	CHECK_RC(cf_decompress(CF_COMP_OFF, src, 99, dst, 100),
	    COFFER_ECORRUPT);
}

/* The reader may pass the whole sector-padded block. */
static void test_padding(void)
{
	size_t n = 65536, phys;
	uint8_t *src = malloc(n), *c = malloc(n), *d = malloc(n);
	int alg, clen;

	CHECK(src && c && d);
	fill_text(src, n, 9);
	for (alg = CF_COMP_LZ4; alg <= CF_COMP_ZSTD; alg++) {
		clen = cf_compress(alg, 0, src, n, c, n);
		CHECK(clen > 0);
		phys = CF_ROUNDUP((size_t)clen, CF_COMP_SECTOR);
		CHECK(phys <= n);
		fill_random(c + clen, phys - (size_t)clen);
		CHECK_OK(cf_decompress(alg, c, phys, d, n));
		CHECK(memcmp(src, d, n) == 0);
	}
	free(src);
	free(c);
	free(d);
}

/* Truncation, a wrong expected length, garbage and bit flips: an error
 * or (for a flip lz4 cannot notice) the right length, never a crash. */
static void test_hostile(void)
{
	size_t n = 32768, i, cut;
	uint8_t *src = malloc(n), *c = malloc(n), *d = malloc(n + 16);
	uint8_t *g = malloc(n);
	int alg, clen, rc;

	CHECK(src && c && d && g);
	fill_text(src, n, 11);
	for (alg = CF_COMP_LZ4; alg <= CF_COMP_ZSTD; alg++) {
		clen = cf_compress(alg, 0, src, n, c, n);
		CHECK(clen > 0);

		/* Truncated anywhere. */
		for (cut = 0; cut < (size_t)clen; cut++)
			CHECK_RC(cf_decompress(alg, c, cut, d, n),
			    COFFER_ECORRUPT);
		/* Truncated payload with a consistent length prefix. */
		for (cut = 1; cut < (size_t)clen - 4; cut += 7) {
			memcpy(g, c, (size_t)clen);
			le32_put(g, (uint32_t)cut);
			CHECK_RC(cf_decompress(alg, g, cut + 4, d, n),
			    COFFER_ECORRUPT);
		}
		/* The length prefix says zero or more than there is. */
		memcpy(g, c, (size_t)clen);
		le32_put(g, 0);
		CHECK_RC(cf_decompress(alg, g, (size_t)clen, d, n),
		    COFFER_ECORRUPT);
		le32_put(g, 0xffffffffu);
		CHECK_RC(cf_decompress(alg, g, (size_t)clen, d, n),
		    COFFER_ECORRUPT);
		/* Wrong expected length. */
		CHECK_RC(cf_decompress(alg, c, (size_t)clen, d, n - 1),
		    COFFER_ECORRUPT);
		CHECK_RC(cf_decompress(alg, c, (size_t)clen, d, n + 1),
		    COFFER_ECORRUPT);
		CHECK_RC(cf_decompress(alg, c, (size_t)clen, d, 0),
		    COFFER_ECORRUPT);
		/* Pure garbage with a plausible prefix. */
		for (i = 0; i < 200; i++) {
			size_t gl = 5 + rng() % 4000;
			fill_rng(g, gl);
			le32_put(g, (uint32_t)(gl - 4));
			if (i % 2 && alg == CF_COMP_ZSTD)
				le32_put(g + 4, 0xfd2fb528u);   /* magic */
			rc = cf_decompress(alg, g, gl, d, n);
			CHECK(rc == COFFER_ECORRUPT);
		}
		/* Bit flips. */
		for (i = 0; i < 2000; i++) {
			size_t bit = 32 + rng() % (8 * ((size_t)clen - 4));
			memcpy(g, c, (size_t)clen);
			g[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			rc = cf_decompress(alg, g, (size_t)clen, d, n);
			CHECK(rc == 0 || rc == COFFER_ECORRUPT);
		}
		/* Intact data still decodes after all that. */
		CHECK_OK(cf_decompress(alg, c, (size_t)clen, d, n));
		CHECK(memcmp(src, d, n) == 0);
		CHECK(strstr(cf_corrupt_site(), "compress.c:") != NULL);
	}
	free(src);
	free(c);
	free(d);
	free(g);
}

/* zstd contexts are per thread: several threads at once. */
static void *comp_thread(void *arg)
{
	size_t n = 131072;
	uint8_t *src = malloc(n), *c = malloc(n), *d = malloc(n);
	uintptr_t bad = 0;
	int i;

	if (!src || !c || !d) {
		bad = 1;
		goto out;
	}
	fill_text(src, n, (uint64_t)(uintptr_t)arg);
	for (i = 0; i < 30 && !bad; i++) {
		int alg = i % 2 ? CF_COMP_ZSTD : CF_COMP_LZ4;
		int clen = cf_compress(alg, i % 7, src, n, c, n);

		if (clen <= 0 || cf_decompress(alg, c, (size_t)clen, d, n) != 0
		    || memcmp(src, d, n) != 0)
			bad = 1;
	}
out:
	free(src);
	free(c);
	free(d);
	return (void *)bad;
}

static void test_threads(void)
{
	pthread_t t[4];
	void *ret;
	uintptr_t i;
	int bad = 0;

	for (i = 0; i < 4; i++)
		CHECK(pthread_create(&t[i], NULL, comp_thread,
		    (void *)(i + 1)) == 0);
	for (i = 0; i < 4; i++) {
		CHECK(pthread_join(t[i], &ret) == 0);
		bad |= ret != NULL;
	}
	CHECK(!bad);
}

void test_main(void)
{
	RUN(test_roundtrip_all_levels);
	RUN(test_roundtrip_sizes);
	RUN(test_incompressible);
	RUN(test_small_blocks);
	RUN(test_bad_args);
	RUN(test_off);
	RUN(test_padding);
	RUN(test_hostile);
	RUN(test_threads);
}
