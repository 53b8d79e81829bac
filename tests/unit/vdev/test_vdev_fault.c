/* The fault-injecting device: cache, flush, crash outcomes, threads. */
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vdev/vdev.h"

#define MIB (1024ull * 1024)
#define DEV (2 * MIB)

static void fill(uint8_t *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed * 37 + i * 13 + (i >> 9) + 1);
}

static void test_reads_see_pending(void)
{
	cf_vdev_t *mem = NULL, *f = NULL;
	uint8_t a[4096], b[4096], got[8192];

	CHECK_OK(cf_vdev_open_mem(DEV, &mem));
	CHECK_OK(cf_vdev_open_fault(mem, NULL, &f));
	CHECK(f->size == mem->size);
	fill(a, sizeof(a), 1);
	fill(b, sizeof(b), 2);
	CHECK_OK(cf_vdev_write(f, 8192, a, sizeof(a)));
	CHECK_OK(cf_vdev_write(f, 8192 + 1000, b, sizeof(b)));   /* overlaps */
	CHECK(cf_vdev_fault_writes(f) == 2);
	/* nothing reached the inner device */
	CHECK_OK(cf_vdev_read(mem, 8192, got, sizeof(got)));
	for (size_t i = 0; i < sizeof(got); i++)
		CHECK(got[i] == 0);
	/* the wrapper shows both, the later write winning */
	CHECK_OK(cf_vdev_read(f, 8000, got, sizeof(got)));
	for (size_t i = 0; i < 192; i++)
		CHECK(got[i] == 0);
	CHECK(memcmp(got + 192, a, 1000) == 0);
	CHECK(memcmp(got + 1192, b, 4096) == 0);
	for (size_t i = 1192 + 4096; i < sizeof(got); i++)
		CHECK(got[i] == 0);
	/* a read inside one write */
	CHECK_OK(cf_vdev_read(f, 8192 + 10, got, 20));
	CHECK(memcmp(got, a + 10, 20) == 0);
	cf_vdev_close(f);   /* closes mem too */
}

static void test_flush_applies(void)
{
	cf_fault_cfg_t cfg = { .keep_inner = 1 };
	cf_vdev_t *mem = NULL, *f = NULL;
	uint8_t a[3000], b[3000], got[4200], want[4200];

	CHECK_OK(cf_vdev_open_mem(DEV, &mem));
	CHECK_OK(cf_vdev_open_fault(mem, &cfg, &f));
	fill(a, sizeof(a), 3);
	fill(b, sizeof(b), 4);
	CHECK_OK(cf_vdev_write(f, 100, a, sizeof(a)));
	CHECK_OK(cf_vdev_write(f, 1100, b, sizeof(b)));
	CHECK_OK(cf_vdev_flush(f));
	memset(want, 0, sizeof(want));
	memcpy(want + 100, a, sizeof(a));
	memcpy(want + 1100, b, sizeof(b));
	CHECK_OK(cf_vdev_read(mem, 0, got, sizeof(got)));
	CHECK(memcmp(got, want, sizeof(want)) == 0);
	CHECK_OK(cf_vdev_read(f, 0, got, sizeof(got)));
	CHECK(memcmp(got, want, sizeof(want)) == 0);
	/* a clean close writes back what is still cached */
	CHECK_OK(cf_vdev_write(f, 50000, a, 10));
	cf_vdev_close(f);
	CHECK_OK(cf_vdev_read(mem, 50000, got, 10));
	CHECK(memcmp(got, a, 10) == 0);
	cf_vdev_close(mem);
}

/*
 * Three writes since the last flush, misaligned so their pieces do not
 * start on 512-byte boundaries, the third one crashing.  Writes 1 and 3
 * do not overlap each other; write 2 overlaps write 1.
 */
#define NW 3
static const uint64_t w_off[NW] = { 10000, 11500, 40100 };
static const size_t w_len[NW] = { 3000, 2000, 5000 };

/*
 * Run: 64 flushed 1 KiB writes (the "old" contents of [0, 64K)), then the
 * NW writes above, with crash_at_write landing on the last of them.
 */
static int crash_run3(uint64_t seed, int modes, uint8_t *img, size_t n,
    int *third_rc, int *crashed)
{
	cf_fault_cfg_t cfg = { .crash_at_write = 64 + NW, .seed = seed,
	    .modes = modes, .keep_inner = 1 };
	cf_vdev_t *mem = NULL, *f = NULL;
	uint8_t base[1024], buf[8192];
	int rc;

	if ((rc = cf_vdev_open_mem(DEV, &mem)) != 0)
		return rc;
	if ((rc = cf_vdev_open_fault(mem, &cfg, &f)) != 0)
		return rc;
	fill(base, sizeof(base), 99);
	for (uint64_t off = 0; off < 65536; off += sizeof(base))
		if ((rc = cf_vdev_write(f, off, base, sizeof(base))) != 0)
			return rc;
	if ((rc = cf_vdev_flush(f)) != 0)
		return rc;
	for (int i = 0; i < NW; i++) {
		fill(buf, w_len[i], 10 + (unsigned)i);
		rc = cf_vdev_write(f, w_off[i], buf, w_len[i]);
		if (i < NW - 1 && rc != 0)
			return rc;
	}
	*third_rc = rc;
	*crashed = cf_vdev_fault_crashed(f);
	/* after the crash everything fails and nothing more is counted */
	if (cf_vdev_write(f, 0, buf, 10) != -EIO ||
	    cf_vdev_read(f, 0, buf, 10) != -EIO ||
	    cf_vdev_flush(f) != -EIO ||
	    cf_vdev_fault_writes(f) != 64 + NW)
		*crashed = -1;
	cf_vdev_close(f);
	rc = cf_vdev_read(mem, 0, img, n);
	cf_vdev_close(mem);
	return rc;
}

/*
 * Check that img is an allowed outcome.  Cut [0, 64K) at every write
 * boundary and every 512-byte boundary; each segment must hold either
 * the old bytes or the data of one of the pending writes covering it.
 * Write 3 overlaps nothing, so each of its pieces must be entirely old or
 * entirely new, and it is classified into *seen: 1 dropped (no piece
 * applied), 2 applied (all), 4 torn (some), the same bits as
 * CF_FAULT_DROP, CF_FAULT_APPLY and CF_FAULT_TEAR.  Returns 1 when allowed.
 */
static int check_outcome(const uint8_t *img, int *seen)
{
	static uint8_t old[65536], data[NW][8192];
	uint8_t base[1024];
	uint64_t off = 0;
	int napplied = 0, npieces = 0;

	fill(base, sizeof(base), 99);
	for (size_t o = 0; o < sizeof(old); o += sizeof(base))
		memcpy(old + o, base, sizeof(base));
	for (int i = 0; i < NW; i++)
		fill(data[i], w_len[i], 10 + (unsigned)i);

	while (off < sizeof(old)) {
		uint64_t next = (off / 512 + 1) * 512;
		size_t len;
		int match, in3;

		for (int i = 0; i < NW; i++) {
			if (w_off[i] > off && w_off[i] < next)
				next = w_off[i];
			if (w_off[i] + w_len[i] > off &&
			    w_off[i] + w_len[i] < next)
				next = w_off[i] + w_len[i];
		}
		len = (size_t)(next - off);
		match = memcmp(img + off, old + off, len) == 0;
		in3 = off >= w_off[2] && off < w_off[2] + w_len[2];
		for (int j = 0; j < NW && !match; j++) {
			if (off < w_off[j] || next > w_off[j] + w_len[j])
				continue;
			match = memcmp(img + off, data[j] + (off - w_off[j]),
			    len) == 0;
		}
		if (!match)
			return 0;
		if (in3) {
			npieces++;
			napplied += memcmp(img + off, old + off, len) != 0;
		}
		off = next;
	}
	if (napplied == 0)
		*seen |= 1;
	else if (napplied == npieces)
		*seen |= 2;
	else
		*seen |= 4;
	return 1;
}

static void test_crash_outcomes(void)
{
	static uint8_t img[65536], img2[65536];
	static const int modeset[] = { 0, CF_FAULT_DROP, CF_FAULT_APPLY,
	    CF_FAULT_TEAR, CF_FAULT_DROP | CF_FAULT_TEAR };

	for (size_t m = 0; m < CF_ARRAY_SIZE(modeset); m++) {
		int seen = 0, modes = modeset[m];
		int allowed = modes ? modes : 7;
		int possible = allowed;
		int ndiffer = 0;

		if (allowed & CF_FAULT_TEAR)
			possible |= CF_FAULT_DROP | CF_FAULT_APPLY;

		for (uint64_t seed = 1; seed <= 64; seed++) {
			int third = 0, crashed = 0;

			CHECK_OK(crash_run3(seed, modes, img, sizeof(img),
			    &third, &crashed));
			CHECK_RC(third, -EIO);
			CHECK(crashed == 1);
			if (!check_outcome(img, &seen)) {
				th_fail(__FILE__, __LINE__,
				    "outcome not allowed, seed", (long)seed);
				return;
			}
			/* deterministic by seed */
			CHECK_OK(crash_run3(seed, modes, img2, sizeof(img2),
			    &third, &crashed));
			CHECK(memcmp(img, img2, sizeof(img)) == 0);
			/* and the seed matters (compare with seed 1000) */
			CHECK_OK(crash_run3(seed + 1000, modes, img2,
			    sizeof(img2), &third, &crashed));
			ndiffer += memcmp(img, img2, sizeof(img)) != 0;
		}
		/* every allowed outcome happens, nothing else: a tear may
		 * happen to apply all pieces or none */
		CHECK((seen & allowed) == allowed);
		CHECK((seen & ~possible) == 0);
		if (allowed != CF_FAULT_DROP && allowed != CF_FAULT_APPLY)
			CHECK(ndiffer > 0);
	}
}

static void test_crash_explicit(void)
{
	static uint8_t img[65536];
	int seen = 0;

	/* cf_vdev_fault_crash() instead of the counter */
	for (uint64_t seed = 0; seed < 16; seed++) {
		cf_vdev_t *mem = NULL, *f = NULL;
		cf_fault_cfg_t cfg = { .seed = seed, .keep_inner = 1 };
		uint8_t base[1024], buf[8192];

		CHECK_OK(cf_vdev_open_mem(DEV, &mem));
		CHECK_OK(cf_vdev_open_fault(mem, &cfg, &f));
		fill(base, sizeof(base), 99);
		for (uint64_t off = 0; off < 65536; off += sizeof(base))
			CHECK_OK(cf_vdev_write(f, off, base, sizeof(base)));
		CHECK_OK(cf_vdev_flush(f));
		for (int i = 0; i < NW; i++) {
			fill(buf, w_len[i], 10 + (unsigned)i);
			CHECK_OK(cf_vdev_write(f, w_off[i], buf, w_len[i]));
		}
		CHECK(!cf_vdev_fault_crashed(f));
		cf_vdev_fault_crash(f);
		CHECK(cf_vdev_fault_crashed(f));
		cf_vdev_fault_crash(f);          /* idempotent */
		CHECK_RC(cf_vdev_read(f, 0, buf, 1), -EIO);
		cf_vdev_close(f);
		CHECK_OK(cf_vdev_read(mem, 0, img, sizeof(img)));
		cf_vdev_close(mem);
		CHECK(check_outcome(img, &seen));
	}
	CHECK(seen == 7);
}

static void test_drop_leaves_inner(void)
{
	cf_fault_cfg_t cfg = { .crash_at_write = 2, .modes = CF_FAULT_DROP,
	    .seed = 7 };
	cf_vdev_t *mem = NULL, *f = NULL;
	uint8_t a[4096], got[4096];

	CHECK_OK(cf_vdev_open_mem(DEV, &mem));
	cfg.keep_inner = 1;
	CHECK_OK(cf_vdev_open_fault(mem, &cfg, &f));
	fill(a, sizeof(a), 5);
	CHECK_OK(cf_vdev_write(f, 0, a, sizeof(a)));
	CHECK_RC(cf_vdev_write(f, 8192, a, sizeof(a)), -EIO);
	cf_vdev_close(f);
	CHECK_OK(cf_vdev_read(mem, 0, got, sizeof(got)));
	for (size_t i = 0; i < sizeof(got); i++)
		CHECK(got[i] == 0);
	cf_vdev_close(mem);
}

static void test_fail_read_at(void)
{
	cf_fault_cfg_t cfg = { .fail_read_at = 3 };
	cf_vdev_t *mem = NULL, *f = NULL;
	uint8_t b[16];

	CHECK_OK(cf_vdev_open_mem(DEV, &mem));
	CHECK_OK(cf_vdev_open_fault(mem, &cfg, &f));
	CHECK_OK(cf_vdev_read(f, 0, b, sizeof(b)));
	CHECK_OK(cf_vdev_read(f, 0, b, sizeof(b)));
	CHECK_RC(cf_vdev_read(f, 0, b, sizeof(b)), -EIO);
	CHECK_OK(cf_vdev_read(f, 0, b, sizeof(b)));
	CHECK(!cf_vdev_fault_crashed(f));
	cf_vdev_close(f);
}

static void test_fault_args(void)
{
	cf_fault_cfg_t cfg = { .modes = 0x8 };
	cf_vdev_t *mem = NULL, *f = NULL;
	uint8_t b[16];

	CHECK_OK(cf_vdev_open_mem(DEV, &mem));
	CHECK_RC(cf_vdev_open_fault(mem, &cfg, &f), -EINVAL);
	CHECK_RC(cf_vdev_open_fault(NULL, NULL, &f), -EINVAL);
	CHECK(f == NULL);
	/* the fault helpers ignore other devices */
	cf_vdev_fault_crash(mem);
	CHECK(!cf_vdev_fault_crashed(mem));
	CHECK(cf_vdev_fault_writes(mem) == 0);
	CHECK_OK(cf_vdev_open_fault(mem, NULL, &f));
	CHECK_RC(cf_vdev_write(f, f->size - 8, b, 16), -EINVAL);
	CHECK_RC(cf_vdev_read(f, f->size, b, 1), -EINVAL);
	CHECK(cf_vdev_fault_writes(f) == 0);
	cf_vdev_close(f);
}

/* ---- threads ------------------------------------------------------------ */

#define NTHREADS 4
#define TH_REGION (64 * 1024)
#define TH_ITERS 2000

struct th_arg {
	cf_vdev_t *f;
	unsigned id;
	int err;
};

static void *th_worker(void *p)
{
	struct th_arg *a = p;
	uint64_t base = cf_vdev_data_start(a->f) + a->id * TH_REGION;
	uint8_t buf[1536], got[1536];
	uint64_t x = a->id + 1;

	for (unsigned it = 0; it < TH_ITERS && !a->err; it++) {
		uint64_t off;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		off = base + (x % (TH_REGION - sizeof(buf)));
		memset(buf, (int)(a->id * 50 + it % 50), sizeof(buf));
		if (cf_vdev_write(a->f, off, buf, sizeof(buf)) != 0 ||
		    cf_vdev_read(a->f, off, got, sizeof(got)) != 0 ||
		    memcmp(buf, got, sizeof(buf)) != 0)
			a->err = 1;
		if (it % 97 == a->id && cf_vdev_flush(a->f) != 0)
			a->err = 2;
	}
	return NULL;
}

static void test_threads(void)
{
	cf_fault_cfg_t cfg = { .keep_inner = 1 };
	cf_vdev_t *mem = NULL, *f = NULL;
	pthread_t t[NTHREADS];
	struct th_arg a[NTHREADS];
	static uint8_t via_f[NTHREADS * TH_REGION], via_mem[sizeof(via_f)];

	CHECK_OK(cf_vdev_open_mem(DEV, &mem));
	CHECK_OK(cf_vdev_open_fault(mem, &cfg, &f));
	for (unsigned i = 0; i < NTHREADS; i++) {
		a[i].f = f;
		a[i].id = i;
		a[i].err = 0;
		CHECK(pthread_create(&t[i], NULL, th_worker, &a[i]) == 0);
	}
	for (unsigned i = 0; i < NTHREADS; i++) {
		CHECK(pthread_join(t[i], NULL) == 0);
		CHECK(a[i].err == 0);
	}
	CHECK(cf_vdev_fault_writes(f) == NTHREADS * TH_ITERS);
	CHECK_OK(cf_vdev_read(f, cf_vdev_data_start(f), via_f,
	    sizeof(via_f)));
	CHECK_OK(cf_vdev_flush(f));
	CHECK_OK(cf_vdev_read(mem, cf_vdev_data_start(mem), via_mem,
	    sizeof(via_mem)));
	CHECK(memcmp(via_f, via_mem, sizeof(via_f)) == 0);
	cf_vdev_close(f);
	cf_vdev_close(mem);
}

/* A crash while threads are busy: they all see -EIO afterwards and
 * nothing blows up. */
static void *th_until_eio(void *p)
{
	struct th_arg *a = p;
	uint8_t buf[700];
	uint64_t off = cf_vdev_data_start(a->f) + a->id * TH_REGION;

	memset(buf, (int)a->id, sizeof(buf));
	for (unsigned it = 0; it < 1000000; it++) {
		int rc = cf_vdev_write(a->f, off + it % 1000, buf, sizeof(buf));

		if (rc == 0 && it % 10 == 0)
			rc = cf_vdev_flush(a->f);
		if (rc == -EIO)
			return NULL;
		if (rc != 0) {
			a->err = 1;
			return NULL;
		}
	}
	a->err = 3;   /* never saw the crash */
	return NULL;
}

static void test_threads_crash(void)
{
	cf_fault_cfg_t cfg = { .crash_at_write = 3000, .seed = 3 };
	cf_vdev_t *mem = NULL, *f = NULL;
	pthread_t t[NTHREADS];
	struct th_arg a[NTHREADS];

	CHECK_OK(cf_vdev_open_mem(DEV, &mem));
	CHECK_OK(cf_vdev_open_fault(mem, &cfg, &f));
	for (unsigned i = 0; i < NTHREADS; i++) {
		a[i].f = f;
		a[i].id = i;
		a[i].err = 0;
		CHECK(pthread_create(&t[i], NULL, th_until_eio, &a[i]) == 0);
	}
	for (unsigned i = 0; i < NTHREADS; i++) {
		CHECK(pthread_join(t[i], NULL) == 0);
		CHECK(a[i].err == 0);
	}
	CHECK(cf_vdev_fault_crashed(f));
	CHECK(cf_vdev_fault_writes(f) == 3000);
	cf_vdev_close(f);
}

void test_main(void)
{
	RUN(test_reads_see_pending);
	RUN(test_flush_applies);
	RUN(test_crash_outcomes);
	RUN(test_crash_explicit);
	RUN(test_drop_leaves_inner);
	RUN(test_fail_read_at);
	RUN(test_fault_args);
	RUN(test_threads);
	RUN(test_threads_crash);
}
