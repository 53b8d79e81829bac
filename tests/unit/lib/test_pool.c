/*
 * End-to-end tests of the library: pools on files, datasets, files,
 * snapshots, rollback, space accounting with the leak checker, reopen.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "coffer.h"
#include "dsl/dsl.h"
#include "dsl/dsl_impl.h"
#include "block/block.h"
#include "util/util.h"

static char dev1[512], dev2[512];

static void setup(void)
{
	static int n;
	char home[512];
	snprintf(home, sizeof(home), "%s/home%d", th_tmpdir(), n);
	mkdir(home, 0700);
	setenv("COFFER_HOME", home, 1);
	snprintf(dev1, sizeof(dev1), "%s/d%d.a", th_tmpdir(), n);
	snprintf(dev2, sizeof(dev2), "%s/d%d.b", th_tmpdir(), n);
	n++;
}

/* The lib keeps its dsl pool inside coffer_pool_t; tests peek. */
struct coffer_pool_peek {
	void *spa;
	dsl_pool_t *dp;
};

/* setup(), then pool NAME of SIZE bytes on dev1 (compression `comp`, or
 * the default when NULL) holding the filesystem NAME/fs. */
static int pool_with_fs(const char *name, uint64_t size, const char *comp,
    coffer_pool_t **p)
{
	char prop[64], ds[64];
	setup();
	snprintf(prop, sizeof(prop), "compression=%s", comp ? comp : "");
	const char *props[] = { prop, NULL };
	const char *devs[] = { dev1 };
	int err = coffer_pool_create(name, devs, 1, size, comp ? props : NULL,
	    p);
	if (err)
		return err;
	snprintf(ds, sizeof(ds), "%s/fs", name);
	return coffer_create(*p, ds, COFFER_TYPE_FILESYSTEM, 0, NULL);
}

static int leakcheck(coffer_pool_t *p, dsl_leak_report_t *r)
{
	return dsl_leak_check(((struct coffer_pool_peek *)p)->dp, r);
}

static int write_file(coffer_fs_t *fs, const char *name, const void *buf,
    size_t n, uint64_t *ino)
{
	int err = coffer_mknod(fs, coffer_fs_root(fs), name, 0100644, 0, 0, 0,
	    NULL, ino);
	if (err)
		return err;
	int64_t w = coffer_write(fs, *ino, 0, buf, n);
	return w == (int64_t)n ? 0 : (int)w;
}

static void test_basic(void)
{
	setup();
	const char *devs[] = { dev1, dev2 };
	coffer_pool_t *p;
	CHECK_OK(coffer_pool_create("tank", devs, 2, 128u << 20, NULL, &p));
	CHECK_OK(coffer_create(p, "tank/fs", COFFER_TYPE_FILESYSTEM, 0, NULL));
	coffer_fs_t *fs;
	CHECK_OK(coffer_fs_open(p, "tank/fs", 0, &fs));
	size_t n = 1000000;
	char *buf = malloc(n), *rb = malloc(n);
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)(i * 7 + i / 1000);
	uint64_t ino;
	CHECK_OK(write_file(fs, "a", buf, n, &ino));
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_snapshot(p, "tank/fs@s1"));
	CHECK_OK(coffer_fs_open(p, "tank/fs", 0, &fs));
	CHECK_RC(coffer_write(fs, ino, 10, "XYZ", 3), 3);
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_pool_sync(p));
	dsl_leak_report_t r;
	CHECK_OK(leakcheck(p, &r));
	CHECK(r.leaked_bytes == 0 && r.double_refs == 0 &&
	    r.unallocated_refs == 0);
	CHECK_OK(coffer_pool_close(p));

	CHECK_OK(coffer_pool_open("tank", 0, &p));
	CHECK_OK(coffer_fs_open(p, "tank/fs@s1", 0, &fs));
	CHECK_OK(coffer_resolve(fs, "/a", 1, &ino));
	CHECK_RC(coffer_read(fs, ino, 0, rb, n), (int64_t)n);
	CHECK(memcmp(buf, rb, n) == 0);
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_fs_open(p, "tank/fs", 0, &fs));
	CHECK_RC(coffer_read(fs, ino, 0, rb, n), (int64_t)n);
	CHECK(memcmp(rb + 10, "XYZ", 3) == 0);
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_rollback(p, "tank/fs@s1", 0));
	CHECK_OK(coffer_fs_open(p, "tank/fs", 0, &fs));
	CHECK_RC(coffer_read(fs, ino, 0, rb, n), (int64_t)n);
	CHECK(memcmp(buf, rb, n) == 0);
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(leakcheck(p, &r));
	CHECK(r.leaked_bytes == 0 && r.double_refs == 0 &&
	    r.unallocated_refs == 0);
	coffer_propval_t v;
	CHECK_OK(coffer_prop_get(p, "tank/fs", "used", &v));
	printf("  used %s refer ", v.value);
	CHECK_OK(coffer_prop_get(p, "tank/fs", "referenced", &v));
	printf("%s\n", v.value);
	CHECK_OK(coffer_destroy(p, "tank/fs", COFFER_DESTROY_RECURSIVE));
	CHECK_OK(leakcheck(p, &r));
	CHECK(r.leaked_bytes == 0 && r.double_refs == 0 &&
	    r.unallocated_refs == 0);
	CHECK_OK(coffer_pool_close(p));
	CHECK_OK(coffer_pool_destroy("tank"));
	free(buf);
	free(rb);
}

static uint64_t rng_state = 12345;
static uint64_t rnd(uint64_t n)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (rng_state >> 33) % n;
}

static uint64_t used_of(coffer_pool_t *p, const char *ds)
{
	coffer_propval_t v;
	if (coffer_prop_get(p, ds, "used", &v))
		return UINT64_MAX;
	return strtoull(v.raw, NULL, 10);
}

/* logicalused and compressratio as the pool reports them (raw values;
 * compressratio in hundredths). */
static uint64_t prop_raw(coffer_pool_t *p, const char *ds, const char *prop)
{
	coffer_propval_t v;
	if (coffer_prop_get(p, ds, prop, &v) || v.raw[0] == '-')
		return UINT64_MAX;
	if (strcmp(prop, "compressratio") == 0)
		return (uint64_t)(strtod(v.raw, NULL) * 100 + 0.5);
	return strtoull(v.raw, NULL, 10);
}

/* The asize, lsize and psize of every distinct block of ds and its
 * snapshots, found by walking the pool: what used, logicalused and
 * compressratio must say. */
struct lsum {
	const char *ds;
	uint64_t a, l, p;
	uint64_t seen[8192][2];
	int n;
};

static int lsum_cb(void *arg, const char *ds, uint64_t obj, uint64_t blkid,
    const cf_blkptr_t *bp)
{
	struct lsum *a = arg;
	size_t k = strlen(a->ds);
	(void)obj;
	(void)blkid;
	if (strncmp(ds, a->ds, k) != 0 || (ds[k] != 0 && ds[k] != '@'))
		return 0;
	for (int i = 0; i < a->n; i++)
		if (a->seen[i][0] == bp->dva[0].vdev &&
		    a->seen[i][1] == bp->dva[0].offset)
			return 0;       /* shared with a snapshot */
	if (a->n == 8192)
		return -ENOSPC;
	a->seen[a->n][0] = bp->dva[0].vdev;
	a->seen[a->n++][1] = bp->dva[0].offset;
	a->a += cf_bp_asize(bp);
	a->l += bp->lsize;
	a->p += bp->psize;
	return 0;
}

static void check_logical(coffer_pool_t *p, const char *ds)
{
	struct lsum *a = calloc(1, sizeof(*a));
	CHECK(a != NULL);
	a->ds = ds;
	CHECK_OK(dsl_walk_blocks(((struct coffer_pool_peek *)p)->dp, lsum_cb,
	    a));
	uint64_t lu = prop_raw(p, ds, "logicalused");
	uint64_t cr = prop_raw(p, ds, "compressratio");
	uint64_t u = used_of(p, ds);
	if (lu != a->l || u != a->a)
		printf("  %s: used %llu, logicalused %llu; the walk: %llu, "
		    "%llu\n", ds, (unsigned long long)u,
		    (unsigned long long)lu, (unsigned long long)a->a,
		    (unsigned long long)a->l);
	CHECK(u == a->a);
	CHECK(lu == a->l);
	CHECK(cr == (a->p ? a->l * 100 / a->p : 100));
	free(a);
}

/*
 * Write, snapshot, overwrite and destroy snapshots in random orders; at
 * the end `used` is back where it started and the leak checker finds no
 * leaked or doubly referenced block.  logicalused and compressratio
 * always match a walk of the blocks.
 */
static void test_space_exact(void)
{
	coffer_pool_t *p;
	CHECK_OK(pool_with_fs("sp", 256u << 20, "off", &p));
	CHECK_OK(coffer_pool_sync(p));
	uint64_t base = used_of(p, "sp/fs");
	CHECK(base != UINT64_MAX && base > 0);
	char *buf = malloc(300000);
	for (int round = 0; round < 4; round++) {
		int nsnap = 0;
		char snaps[16][64];
		coffer_fs_t *fs;
		CHECK_OK(coffer_fs_open(p, "sp/fs", 0, &fs));
		uint64_t inos[6];
		for (int f = 0; f < 6; f++) {
			char nm[16];
			snprintf(nm, sizeof(nm), "f%d", f);
			CHECK_OK(coffer_mknod(fs, coffer_fs_root(fs), nm, 0100644,
			    0, 0, 0, NULL, &inos[f]));
		}
		for (int step = 0; step < 30; step++) {
			int op = (int)rnd(10);
			if (op < 6) {
				uint64_t ino = inos[rnd(6)];
				size_t len = 1 + rnd(300000);
				for (size_t i = 0; i < len; i++)
					buf[i] = (char)rnd(256);
				CHECK(coffer_write(fs, ino, rnd(400000), buf,
				    len) == (int64_t)len);
			} else if (op < 7) {
				CHECK_OK(coffer_truncate(fs, inos[rnd(6)],
				    rnd(200000)));
			} else if (op < 9 && nsnap < 16) {
				CHECK_OK(coffer_fs_close(fs));
				snprintf(snaps[nsnap], 64, "sp/fs@r%ds%d", round,
				    step);
				CHECK_OK(coffer_snapshot(p, snaps[nsnap]));
				nsnap++;
				CHECK_OK(coffer_fs_open(p, "sp/fs", 0, &fs));
			} else if (nsnap > 0) {
				int k = (int)rnd((uint64_t)nsnap);
				CHECK_OK(coffer_fs_close(fs));
				CHECK_OK(coffer_destroy(p, snaps[k], 0));
				memmove(snaps[k], snaps[k + 1],
				    (size_t)(nsnap - k - 1) * 64);
				nsnap--;
				CHECK_OK(coffer_fs_open(p, "sp/fs", 0, &fs));
			}
		}
		dsl_leak_report_t r;
		CHECK_OK(coffer_fs_close(fs));
		CHECK_OK(leakcheck(p, &r));
		CHECK(r.leaked_bytes == 0 && r.double_refs == 0 &&
		    r.unallocated_refs == 0);
		CHECK_OK(coffer_pool_sync(p));
		check_logical(p, "sp/fs");
		/* destroy the remaining snapshots in random order */
		while (nsnap > 0) {
			int k = (int)rnd((uint64_t)nsnap);
			CHECK_OK(coffer_destroy(p, snaps[k], 0));
			memmove(snaps[k], snaps[k + 1],
			    (size_t)(nsnap - k - 1) * 64);
			nsnap--;
		}
		CHECK_OK(coffer_fs_open(p, "sp/fs", 0, &fs));
		for (int f = 0; f < 6; f++) {
			char nm[16];
			snprintf(nm, sizeof(nm), "f%d", f);
			CHECK_OK(coffer_unlink(fs, coffer_fs_root(fs), nm));
		}
		CHECK_OK(coffer_fs_close(fs));
		CHECK_OK(coffer_pool_sync(p));
		CHECK_OK(leakcheck(p, &r));
		CHECK(r.leaked_bytes == 0 && r.double_refs == 0 &&
		    r.unallocated_refs == 0);
		uint64_t now = used_of(p, "sp/fs");
		if (now != base)
			printf("  round %d: used %llu, expected %llu\n", round,
			    (unsigned long long)now, (unsigned long long)base);
		CHECK(now == base);
	}
	free(buf);
	CHECK_OK(coffer_pool_close(p));
}

/*
 * logicalused and compressratio with compression on: compressible data
 * shows its ratio, random data about 1.00x, and through snapshots, a
 * rollback and a snapshot destroy the figures match a walk of the blocks.
 */
static void test_logical_space(void)
{
	coffer_pool_t *p;
	CHECK_OK(pool_with_fs("lg", 256u << 20, "lz4", &p));
	size_t n = 4u << 20;
	char *buf = malloc(n);
	CHECK(buf != NULL);
	for (size_t i = 0; i < n; i++)
		buf[i] = "coffer keeps it small "[i % 22];
	coffer_fs_t *fs;
	uint64_t ino, ino2;
	CHECK_OK(coffer_fs_open(p, "lg/fs", 0, &fs));
	CHECK_OK(write_file(fs, "text", buf, n, &ino));
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_pool_sync(p));
	check_logical(p, "lg/fs");
	CHECK(prop_raw(p, "lg/fs", "logicalused") > n);
	CHECK(prop_raw(p, "lg/fs", "used") < n / 4);
	CHECK(prop_raw(p, "lg/fs", "compressratio") > 400);
	CHECK_OK(coffer_snapshot(p, "lg/fs@a"));
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)rnd(256);
	CHECK_OK(coffer_fs_open(p, "lg/fs", 0, &fs));
	CHECK_OK(write_file(fs, "noise", buf, n, &ino2));
	CHECK_OK(coffer_unlink(fs, coffer_fs_root(fs), "text"));
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_pool_sync(p));
	check_logical(p, "lg/fs");
	/* the snapshot still holds the text: its own ratio says so */
	CHECK(prop_raw(p, "lg/fs@a", "compressratio") > 400);
	CHECK(prop_raw(p, "lg/fs@a", "logicalused") >= n);
	CHECK_OK(coffer_snapshot(p, "lg/fs@b"));
	CHECK_OK(coffer_destroy(p, "lg/fs@a", 0));
	CHECK_OK(coffer_pool_sync(p));
	check_logical(p, "lg/fs");
	uint64_t r = prop_raw(p, "lg/fs", "compressratio");
	CHECK(r >= 99 && r <= 110);             /* random data */
	CHECK_OK(coffer_fs_open(p, "lg/fs", 0, &fs));
	CHECK_OK(coffer_unlink(fs, coffer_fs_root(fs), "noise"));
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_rollback(p, "lg/fs@b", 0));
	CHECK_OK(coffer_pool_sync(p));
	check_logical(p, "lg/fs");
	CHECK(prop_raw(p, "lg/fs", "logicalused") >= n);
	free(buf);
	CHECK_OK(coffer_pool_close(p));
}

/* Records written before the logical fields existed decode with them
 * unknown (shown as "-"), everything else intact; new ones round-trip. */
static void test_legacy_records(void)
{
	uint8_t b[DSREC_SIZE];
	dsrec_t s, t;
	memset(&s, 0, sizeof(s));
	s.dir = 7;
	s.referenced = 12345;
	s.lrefd.l = 40000;
	s.lrefd.p = 20000;
	dsrec_encode(&s, b);
	CHECK_OK(dsrec_decode(b, DSREC_SIZE, &t));
	CHECK(t.dir == 7 && t.referenced == 12345);
	CHECK(t.lrefd.l == 40000 && t.lrefd.p == 20000);
	CHECK_OK(dsrec_decode(b, DSREC_SIZE_V0, &t));
	CHECK(t.dir == 7 && t.referenced == 12345 && !lacct_known(&t.lrefd));
	CHECK(dsrec_decode(b, DSREC_SIZE - 8, &t) == COFFER_ECORRUPT);

	uint8_t c[DIRREC_SIZE];
	dirrec_t r, q;
	memset(&r, 0, sizeof(r));
	r.type = COFFER_TYPE_FILESYSTEM;
	r.used = 999;
	r.keyrec = 5;
	r.lused.l = 3000;
	r.lused.p = 1000;
	dirrec_encode(&r, c);
	CHECK_OK(dirrec_decode(c, DIRREC_SIZE, &q));
	CHECK(q.used == 999 && q.keyrec == 5 && q.lused.l == 3000 &&
	    q.lused.p == 1000);
	CHECK_OK(dirrec_decode(c, DIRREC_SIZE_V1, &q));
	CHECK(q.used == 999 && q.keyrec == 5 && !lacct_known(&q.lused));
	CHECK_OK(dirrec_decode(c, DIRREC_SIZE_V0, &q));
	CHECK(q.keyrec == 0 && !lacct_known(&q.lused));
	/* unknown stays unknown */
	lacct_add(&q.lused, 10, 5);
	CHECK(!lacct_known(&q.lused));
}

typedef struct blk {
	uint32_t vdev;
	uint64_t off;
	int copies;
	int data;
	uint32_t psize;
	char ds[64];
} blk_t;

typedef struct blks {
	blk_t v[4096];
	int n;
} blks_t;

static int collect_cb(void *arg, const char *ds, uint64_t obj,
    uint64_t blkid, const cf_blkptr_t *bp)
{
	blks_t *b = arg;
	(void)blkid;
	(void)obj;
	if (b->n >= 4096)
		return 0;
	blk_t *e = &b->v[b->n++];
	e->vdev = bp->dva[0].vdev;
	e->off = bp->dva[0].offset;
	e->copies = cf_bp_ncopies(bp);
	e->psize = bp->psize;
	e->data = bp->type == 3 /* CF_OT_FILE */ && bp->level == 0;
	snprintf(e->ds, sizeof(e->ds), "%s", ds);
	return 0;
}

static void flip(const char *dev, uint64_t off)
{
	/* off points inside the checksummed bytes */
	FILE *f = fopen(dev, "r+b");
	if (!f)
		return;
	fseek(f, (long)off, SEEK_SET);
	int c = fgetc(f);
	fseek(f, (long)off, SEEK_SET);
	fputc(c ^ 0x5a, f);
	fclose(f);
}

struct errs {
	char where[8][600];
	int n;
};

static int errs_cb(const char *where, void *arg)
{
	struct errs *e = arg;
	if (e->n < 8)
		snprintf(e->where[e->n++], 600, "%s", where);
	return 0;
}

/*
 * Flip bytes in metadata copies and in data blocks of a pool file; scrub
 * repairs every metadata block from its good copy and names the file of
 * the data block it cannot repair.
 */
static void test_scrub_repairs(void)
{
	coffer_pool_t *p;
	CHECK_OK(pool_with_fs("sc", 128u << 20, NULL, &p));
	coffer_fs_t *fs;
	CHECK_OK(coffer_fs_open(p, "sc/fs", 0, &fs));
	uint64_t dir, ino;
	CHECK_OK(coffer_mknod(fs, coffer_fs_root(fs), "dir", 040755, 0, 0, 0,
	    NULL, &dir));
	CHECK_OK(coffer_mknod(fs, dir, "victim", 0100644, 0, 0, 0, NULL,
	    &ino));
	char *buf = malloc(200000);
	for (int i = 0; i < 200000; i++)
		buf[i] = (char)(i * 131 + (i >> 9));
	CHECK(coffer_write(fs, ino, 0, buf, 200000) == 200000);
	CHECK_OK(coffer_fs_close(fs));
	blks_t *b = calloc(1, sizeof(*b));
	CHECK_OK(dsl_walk_blocks(((struct coffer_pool_peek *)p)->dp,
	    collect_cb, b));
	CHECK_OK(coffer_pool_close(p));
	int nmeta = 0, ndata = 0;
	for (int i = 0; i < b->n; i++) {
		int dup = 0;
		for (int j = 0; j < i; j++)
			if (b->v[j].off == b->v[i].off &&
			    b->v[j].vdev == b->v[i].vdev)
				dup = 1;
		if (dup)
			continue;
		if (b->v[i].data && ndata < 1) {
			flip(dev1, b->v[i].off + b->v[i].psize / 2);
			ndata++;
		} else if (!b->v[i].data && b->v[i].copies >= 2) {
			flip(dev1, b->v[i].off + b->v[i].psize / 2);
			nmeta++;
		}
	}
	CHECK(nmeta > 5 && ndata == 1);
	CHECK_OK(coffer_pool_open("sc", 0, &p));
	CHECK_OK(coffer_pool_scrub(p, NULL, NULL));
	coffer_pool_info_t info;
	CHECK_OK(coffer_pool_info(p, &info));
	printf("  scrub: %llu blocks, %llu errors, %llu repaired, %llu "
	    "unrecoverable\n", (unsigned long long)info.scrub_blocks,
	    (unsigned long long)info.scrub_errors,
	    (unsigned long long)info.scrub_repaired,
	    (unsigned long long)info.scrub_unrecoverable);
	CHECK(info.scrub_unrecoverable == 1);
	/* reads at open heal some copies before the scrub sees them; all
	 * the flipped metadata copies are healed one way or the other */
	if (info.healed < (uint64_t)nmeta)
		printf("  healed %llu of %d flipped metadata blocks\n",
		    (unsigned long long)info.healed, nmeta);
	CHECK(info.healed >= (uint64_t)nmeta);
	CHECK(info.scrub_repaired > 0);
	struct errs e = { .n = 0 };
	CHECK_OK(coffer_pool_errors(p, errs_cb, &e));
	CHECK(e.n == 1);
	CHECK(strcmp(e.where[0], "sc/fs:/dir/victim") == 0);
	/* a second scrub finds the metadata clean */
	int r2 = coffer_pool_scrub(p, NULL, NULL);
	if (r2)
		printf("  second scrub: %s at %s\n", coffer_strerror(r2),
		    cf_corrupt_site());
	CHECK_OK(r2);
	CHECK_OK(coffer_pool_info(p, &info));
	CHECK(info.scrub_errors == 1 && info.scrub_repaired == 0);
	CHECK_OK(coffer_pool_close(p));
	free(b);
	free(buf);
}

/* A write too large for the pool writes what fits, a transaction at a
 * time, and says how much: the bytes reported are there, the size says
 * so, and nothing past them was half written. */
static void test_partial_write_enospc(void)
{
	coffer_pool_t *p;
	CHECK_OK(pool_with_fs("full", 64u << 20, "off", &p));
	coffer_fs_t *fs;
	CHECK_OK(coffer_fs_open(p, "full/fs", 0, &fs));
	size_t len = 100u << 20;
	uint8_t *buf = malloc(len), *out = malloc(len);
	CHECK(buf && out);
	uint64_t x = 88172645463325252ULL;
	for (size_t i = 0; i < len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(buf + i, &x, 8);
	}
	uint64_t ino;
	CHECK_OK(coffer_mknod(fs, coffer_fs_root(fs), "big", 0100644, 0, 0, 0,
	    NULL, &ino));
	int64_t w = coffer_write(fs, ino, 0, buf, len);
	CHECK(w > 0 && w < (int64_t)len);
	CHECK(w % (8 << 20) == 0);              /* whole transactions */
	/* a sync in between frees the margin kept for dirty data: the rest
	 * may take a few more transactions before the pool is full */
	for (;;) {
		int64_t more = coffer_write(fs, ino, (uint64_t)w, buf + w,
		    len - (size_t)w);
		if (more <= 0) {
			CHECK_RC(more, -ENOSPC);
			break;
		}
		CHECK(more % (8 << 20) == 0 && w + more < (int64_t)len);
		w += more;
	}
	coffer_stat_t st;
	CHECK_OK(coffer_getattr(fs, ino, &st));
	CHECK(st.size == (uint64_t)w);
	CHECK_OK(coffer_pool_sync(p));
	CHECK_RC(coffer_read(fs, ino, 0, out, len), w);
	CHECK(memcmp(buf, out, (size_t)w) == 0);
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_pool_close(p));
	free(buf);
	free(out);
}

void test_main(void)
{
	RUN(test_scrub_repairs);
	RUN(test_basic);
	RUN(test_space_exact);
	RUN(test_logical_space);
	RUN(test_legacy_records);
	RUN(test_partial_write_enospc);
}
