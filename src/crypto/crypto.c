/*
 * crypto: checksums, hashing and randomness.  See crypto.h.
 *
 * Invariants
 *  1. This is the only place (with other files of src/crypto) that
 *     includes OpenSSL; the rest of coffer sees crypto.h only.
 *  2. Fletcher-4 gives one answer whatever the CPU.  The scalar loop is
 *     the definition; a SIMD kernel only ever computes four lanes from
 *     zero over whole 16-byte blocks, and the arithmetic below turns them
 *     into exactly what the scalar loop would have produced.  Tails (a
 *     last partial block, a last partial word) always go through the
 *     scalar loop.  The incremental API uses the same code, so splitting
 *     an input at any multiple of 4 bytes never changes the result.
 *  3. The implementation is chosen once per process, under pthread_once.
 *  4. The SHA-256 method is fetched from OpenSSL once and shared; each
 *     thread keeps one digest context for one-shot hashing so that
 *     hashing a block allocates nothing after the first call.
 *  5. Random bytes come only from RAND_bytes (falling back to
 *     getrandom(2) only to keep cf_random_guid total).
 */
#include "crypto/crypto.h"
#include "crypto/fletcher4_impl.h"

#include <pthread.h>
#include <sys/random.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

/* ---- Fletcher-4 -------------------------------------------------------- */

/*
 * The scalar definition.  Words are little-endian whatever the host; a
 * 1-3 byte tail becomes one zero-padded word (so it still moves b, c and
 * d, unlike OpenZFS, which ignores such a tail).
 */
static void f4_scalar_update(cf_fletcher4_ctx_t *ctx, const uint8_t *p,
    size_t len)
{
	uint64_t a = ctx->a, b = ctx->b, c = ctx->c, d = ctx->d;
	const uint8_t *end = p + (len & ~(size_t)3);

	for (; p < end; p += 4) {
		a += le32_get(p);
		b += a;
		c += b;
		d += c;
	}
	if (len & 3) {
		uint8_t t[4] = { 0, 0, 0, 0 };

		memcpy(t, p, len & 3);
		a += le32_get(t);
		b += a;
		c += b;
		d += c;
	}
	ctx->a = a;
	ctx->b = b;
	ctx->c = c;
	ctx->d = d;
}

/* n(n+1)/2 and n(n+1)(n+2)/6 modulo 2^64: divide the exact factors
 * before multiplying so that no bit is lost to the modulus. */
static uint64_t f4_tri(uint64_t n)
{
	return (n & 1) ? n * ((n + 1) / 2) : (n / 2) * (n + 1);
}

static uint64_t f4_tet(uint64_t n)
{
	uint64_t x = n, y = n + 1, z = n + 2;

	if (x % 3 == 0)
		x /= 3;
	else if (y % 3 == 0)
		y /= 3;
	else
		z /= 3;
	/* Dividing by 3 keeps parity, and one of n, n+1 is even. */
	if ((x & 1) == 0)
		x /= 2;
	else
		y /= 2;
	return x * y * z;
}

/*
 * Fold the lanes of a kernel that ran over nw = 4m words into ctx.
 *
 * Lanes.  Started from zero, the scalar sums over N words w_0..w_{N-1}
 * are, with r = N - k the number of steps from word k to the end:
 *     A = sum w_k,            B = sum r w_k,
 *     C = sum C(r+1,2) w_k,   D = sum C(r+2,3) w_k.
 * Lane j sees w_{4i+j}, i < m, and computes the same sums with its own
 * step count t = m - i, so its coefficients are 1, t, C(t+1,2) and
 * C(t+2,3).  For word 4i+j, r = 4t - j, and each of 1, r, C(r+1,2),
 * C(r+2,3) is a fixed integer combination of the lane's four
 * coefficients (solve for t = 1..4; being polynomial identities they
 * then hold for every t):
 *     r        =  4t - j
 *     C(r+1,2) = 16 C(t+1,2) - (6 + 4j) t + j(j-1)/2
 *     C(r+2,3) = 64 C(t+2,3) - (48 + 16j) C(t+1,2) + e_j t - [j == 3]
 * with e_j = 4, 10, 20, 34 for j = 0..3.  Summing over the lanes gives
 * the combination below; it holds modulo 2^64 because every coefficient
 * is an integer.
 *
 * Merge.  Running N more words after a state (A0, B0, C0, D0) adds
 *     A0 to B N times, to C C(N+1,2) times and to D C(N+2,3) times,
 *     B0 to C N times and to D C(N+1,2) times, C0 to D N times,
 * which is the second step.
 */
static void f4_merge_lanes(cf_fletcher4_ctx_t *ctx, const cf_f4_lanes_t *l,
    uint64_t nw)
{
	static const uint64_t e[4] = { 4, 10, 20, 34 };
	uint64_t A = 0, B = 0, C = 0, D = 0, t2, t3;
	int j;

	for (j = 0; j < 4; j++) {
		uint64_t J = (uint64_t)j;

		A += l->a[j];
		B += 4 * l->b[j] - J * l->a[j];
		C += 16 * l->c[j] - (6 + 4 * J) * l->b[j] +
		    (J * (J - 1) / 2) * l->a[j];
		D += 64 * l->d[j] - (48 + 16 * J) * l->c[j] +
		    e[j] * l->b[j] - (j == 3 ? l->a[j] : 0);
	}
	t2 = f4_tri(nw);
	t3 = f4_tet(nw);
	ctx->d += nw * ctx->c + t2 * ctx->b + t3 * ctx->a + D;
	ctx->c += nw * ctx->b + t2 * ctx->a + C;
	ctx->b += nw * ctx->a + B;
	ctx->a += A;
}

/* Below this many 16-byte blocks the lane fold costs more than it saves. */
#define F4_SIMD_MIN_BLOCKS 8

static void f4_update_kernel(cf_f4_kernel_fn kernel, cf_fletcher4_ctx_t *ctx,
    const uint8_t *p, size_t len)
{
	size_t nblk = len / 16;

	if (kernel && nblk >= F4_SIMD_MIN_BLOCKS) {
		cf_f4_lanes_t l;

		kernel(p, nblk, &l);
		f4_merge_lanes(ctx, &l, (uint64_t)nblk * 4);
		p += nblk * 16;
		len -= nblk * 16;
	}
	f4_scalar_update(ctx, p, len);
}

#ifdef CF_F4_HAVE_X86
static int f4_have_avx2(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2");
}

static int f4_have_sse2(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("sse2");
}
#endif

static int f4_have_scalar(void)
{
	return 1;
}

static const struct f4_impl {
	const char *name;
	cf_f4_kernel_fn kernel;
	int (*usable)(void);
} f4_impls[] = {
	/* In order of preference. */
#ifdef CF_F4_HAVE_X86
	{ "avx2", cf_f4_kernel_avx2, f4_have_avx2 },
	{ "sse2", cf_f4_kernel_sse2, f4_have_sse2 },
#endif
	{ "scalar", NULL, f4_have_scalar },
};

static pthread_once_t f4_once = PTHREAD_ONCE_INIT;
static const struct f4_impl *f4_sel;

static void f4_select(void)
{
	size_t i;

	for (i = 0; i < CF_ARRAY_SIZE(f4_impls); i++) {
		if (f4_impls[i].usable()) {
			f4_sel = &f4_impls[i];
			return;
		}
	}
}

static const struct f4_impl *f4_impl(void)
{
	(void)pthread_once(&f4_once, f4_select);
	return f4_sel;
}

const char *cf_fletcher4_impl(void)
{
	return f4_impl()->name;
}

void cf_fletcher4_init(cf_fletcher4_ctx_t *ctx)
{
	ctx->a = ctx->b = ctx->c = ctx->d = 0;
}

void cf_fletcher4_update(cf_fletcher4_ctx_t *ctx, const void *buf,
    size_t len)
{
	f4_update_kernel(f4_impl()->kernel, ctx, buf, len);
}

int cf_fletcher4_update_with(const char *impl, cf_fletcher4_ctx_t *ctx,
    const void *buf, size_t len)
{
	size_t i;

	for (i = 0; i < CF_ARRAY_SIZE(f4_impls); i++) {
		if (strcmp(f4_impls[i].name, impl) != 0)
			continue;
		if (!f4_impls[i].usable())
			return -ENOTSUP;
		f4_update_kernel(f4_impls[i].kernel, ctx, buf, len);
		return 0;
	}
	return -ENOTSUP;
}

void cf_fletcher4_final(const cf_fletcher4_ctx_t *ctx,
    uint8_t out[CF_CKSUM_LEN])
{
	le64_put(out, ctx->a);
	le64_put(out + 8, ctx->b);
	le64_put(out + 16, ctx->c);
	le64_put(out + 24, ctx->d);
}

void cf_fletcher4(const void *buf, size_t len, uint8_t out[CF_CKSUM_LEN])
{
	cf_fletcher4_ctx_t ctx;

	cf_fletcher4_init(&ctx);
	cf_fletcher4_update(&ctx, buf, len);
	cf_fletcher4_final(&ctx, out);
}

void cf_fletcher4_scalar(const void *buf, size_t len,
    uint8_t out[CF_CKSUM_LEN])
{
	cf_fletcher4_ctx_t ctx;

	cf_fletcher4_init(&ctx);
	f4_scalar_update(&ctx, buf, len);
	cf_fletcher4_final(&ctx, out);
}

/* ---- SHA-256 ----------------------------------------------------------- */

struct cf_sha256_ctx {
	EVP_MD_CTX *md;
};

static pthread_once_t sha_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha_md;
static pthread_key_t sha_key;
static int sha_key_ok;
static _Thread_local EVP_MD_CTX *sha_tls;

/* Runs at thread exit, in the exiting thread. */
static void sha_tls_free(void *p)
{
	EVP_MD_CTX_free(p);
	sha_tls = NULL;
}

static void sha_init_once(void)
{
	sha_md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
	if (!sha_md)
		cf_log(COFFER_LOG_ERR, "cannot fetch sha256 from openssl");
	/* The key only exists to free each thread's context at exit. */
	sha_key_ok = pthread_key_create(&sha_key, sha_tls_free) == 0;
}

static const EVP_MD *sha_method(void)
{
	(void)pthread_once(&sha_once, sha_init_once);
	return sha_md;
}

/*
 * The interface has no error return: a digest of a fetched method fails
 * only when memory runs out.  Then the output is all zeros and the
 * failure is logged; a checksum that does not match makes the caller
 * see corruption rather than trust unhashed data.
 */
static void sha_failed(uint8_t out[32])
{
	memset(out, 0, 32);
	cf_log(COFFER_LOG_ERR, "sha256 failed (out of memory?)");
}

void cf_sha256(const void *buf, size_t len, uint8_t out[32])
{
	const EVP_MD *md = sha_method();
	EVP_MD_CTX *ctx = sha_tls;

	if (!md) {
		sha_failed(out);
		return;
	}
	if (!ctx) {
		ctx = EVP_MD_CTX_new();
		if (!ctx) {
			sha_failed(out);
			return;
		}
		sha_tls = ctx;
		if (sha_key_ok)
			(void)pthread_setspecific(sha_key, ctx);
	}
	/* Re-initialising with the same method reuses the provider's
	 * context, so this allocates nothing after the first call. */
	if (EVP_DigestInit_ex2(ctx, md, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, buf, len) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, NULL) != 1)
		sha_failed(out);
}

cf_sha256_ctx_t *cf_sha256_new(void)
{
	const EVP_MD *md = sha_method();
	cf_sha256_ctx_t *c;

	if (!md)
		return NULL;
	c = cf_zalloc(sizeof(*c));
	if (!c)
		return NULL;
	c->md = EVP_MD_CTX_new();
	if (!c->md || EVP_DigestInit_ex2(c->md, md, NULL) != 1) {
		EVP_MD_CTX_free(c->md);
		cf_free(c);
		return NULL;
	}
	return c;
}

void cf_sha256_update(cf_sha256_ctx_t *c, const void *buf, size_t len)
{
	/* A failed update shows up as a wrong digest in final. */
	if (c && EVP_DigestUpdate(c->md, buf, len) != 1)
		cf_log(COFFER_LOG_ERR, "sha256 update failed");
}

void cf_sha256_final(cf_sha256_ctx_t *c, uint8_t out[32])
{
	if (!c) {
		sha_failed(out);
		return;
	}
	if (EVP_DigestFinal_ex(c->md, out, NULL) != 1)
		sha_failed(out);
	cf_sha256_free(c);
}

void cf_sha256_free(cf_sha256_ctx_t *c)
{
	if (!c)
		return;
	EVP_MD_CTX_free(c->md);
	cf_free(c);
}

/* ---- randomness and comparison ----------------------------------------- */

int cf_random(void *buf, size_t n)
{
	uint8_t *p = buf;

	/* RAND_bytes takes an int length. */
	while (n > 0) {
		size_t chunk = n > (1u << 30) ? (1u << 30) : n;

		if (RAND_bytes(p, (int)chunk) != 1)
			return -EIO;
		p += chunk;
		n -= chunk;
	}
	return 0;
}

uint64_t cf_random_guid(void)
{
	static _Atomic uint64_t counter;
	uint8_t b[8];
	uint64_t v;
	int tries;

	for (tries = 0; tries < 8; tries++) {
		if (cf_random(b, sizeof(b)) != 0 &&
		    getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
			break;
		v = le64_get(b);
		if (v != 0)
			return v;
	}
	/*
	 * No randomness at all (both sources failing is not expected on
	 * Linux).  A guid must still be non-zero and should not repeat in
	 * this process: mix the clocks, the pid and a counter (splitmix64).
	 */
	cf_log(COFFER_LOG_WARN, "no random source; guid derived from clocks");
	v = cf_now_ns() ^ (cf_mono_ns() << 17) ^ ((uint64_t)getpid() << 40) ^
	    (counter++ * 0x9e3779b97f4a7c15ULL);
	v = (v ^ (v >> 30)) * 0xbf58476d1ce4e5b9ULL;
	v = (v ^ (v >> 27)) * 0x94d049bb133111ebULL;
	v ^= v >> 31;
	return v ? v : 1;
}

int cf_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}
