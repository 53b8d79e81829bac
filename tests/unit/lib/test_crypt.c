/*
 * Native encryption, end to end through the library: no plaintext on
 * disk for any suite, keys (load, unload, wrong key, change-key, key
 * slots, no old wrapped key left in the pool), and tampering of every
 * kind, each of which must be an authentication failure and never wrong
 * data.  Attacks that need valid checksums are made with sync tasks of
 * the test's own (the attacker can rewrite any block and every keyless
 * checksum above it).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "coffer.h"
#include "crypto/crypto.h"
#include "dsl/dsl_impl.h"

static char dev[512];
static const uint8_t rawkey[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t rawkey2[32] = "ZYXWVUTSRQPONMLKJIHGFEDCBA987654";
static const coffer_key_t key1 = { rawkey, 32 };
static const coffer_key_t key2 = { rawkey2, 32 };
static const char MARK[] = "SECRET-MARKER-7f3a9";

struct peek {
	void *spa;
	dsl_pool_t *dp;
};
#define DP(p) (((struct peek *)(p))->dp)

static void setup(const char *tag)
{
	static int n;
	char home[512];
	snprintf(home, sizeof(home), "%s/chome%d", th_tmpdir(), n);
	mkdir(home, 0700);
	setenv("COFFER_HOME", home, 1);
	snprintf(dev, sizeof(dev), "%s/c%d-%s.img", th_tmpdir(), n, tag);
	n++;
}

/* Does the device file contain `needle` anywhere? */
static int file_has(const char *path, const void *needle, size_t nlen)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	size_t bs = 1 << 20;
	uint8_t *buf = malloc(bs + nlen);
	size_t carry = 0;
	if (!buf) {
		close(fd);
		return -1;
	}
	int found = 0;
	for (;;) {
		ssize_t r = read(fd, buf + carry, bs);
		if (r <= 0)
			break;
		size_t n = carry + (size_t)r;
		if (memmem(buf, n, needle, nlen)) {
			found = 1;
			break;
		}
		carry = n < nlen - 1 ? n : nlen - 1;
		memmove(buf, buf + n - carry, carry);
	}
	free(buf);
	close(fd);
	return found;
}

static int put(coffer_fs_t *fs, uint64_t dir, const char *name,
    const void *data, size_t n, uint64_t *ino)
{
	int err = coffer_mknod(fs, dir, name, 0100644, 0, 0, 0, NULL, ino);
	if (err)
		return err;
	int64_t w = coffer_write(fs, *ino, 0, data, n);
	return w == (int64_t)n ? 0 : (int)w;
}

static const char *const suites[] = { "aes-128-ccm", "aes-192-ccm",
	"aes-256-ccm", "aes-128-gcm", "aes-192-gcm", "aes-256-gcm",
	"chacha20-poly1305" };

static void test_no_plaintext(void)
{
	for (size_t s = 0; s < CF_ARRAY_SIZE(suites); s++) {
		setup(suites[s]);
		coffer_pool_t *p;
		const char *devs[] = { dev };
		CHECK_OK(coffer_pool_create("np", devs, 1, 96u << 20, NULL, &p));
		char enc[64];
		snprintf(enc, sizeof(enc), "encryption=%s", suites[s]);
		const char *props[] = { enc, "keyformat=raw", NULL };
		CHECK_OK(coffer_create_key(p, "np/sec", COFFER_TYPE_FILESYSTEM,
		    0, props, &key1));
		const char *cprops[] = { "compression=off", NULL };
		CHECK_OK(coffer_create_key(p, "np/sec/child",
		    COFFER_TYPE_FILESYSTEM, 0, cprops, NULL));
		coffer_fs_t *fs;
		char body[4096];
		for (size_t i = 0; i + sizeof(MARK) < sizeof(body);
		    i += sizeof(MARK) - 1)
			memcpy(body + i, MARK, sizeof(MARK) - 1);
		uint64_t ino, d;
		CHECK_OK(coffer_fs_open(p, "np/sec", 0, &fs));
		CHECK_OK(put(fs, coffer_fs_root(fs), MARK, body, sizeof(body),
		    &ino));
		CHECK_OK(coffer_mknod(fs, coffer_fs_root(fs), "d-" "SECRET-MARKER-7f3a9",
		    040755, 0, 0, 0, NULL, &d));
		CHECK_OK(coffer_setxattr(fs, ino, "user.SECRET-MARKER-7f3a9",
		    body, 100, 0));
		uint64_t ln;
		CHECK_OK(coffer_mknod(fs, d, "ln", 0120777, 0, 0, 0,
		    "/SECRET-MARKER-7f3a9/target", &ln));
		CHECK_OK(coffer_fs_close(fs));
		CHECK_OK(coffer_fs_open(p, "np/sec/child", 0, &fs));
		CHECK_OK(put(fs, coffer_fs_root(fs), "f", body, sizeof(body),
		    &ino));
		CHECK_OK(coffer_fs_close(fs));
		CHECK_OK(coffer_pool_close(p));
		int has = file_has(dev, MARK, sizeof(MARK) - 1);
		if (has)
			printf("  %s: marker found on disk\n", suites[s]);
		CHECK(has == 0);

		/* and the contents read back with the key */
		CHECK_OK(coffer_pool_open("np", 0, &p));
		CHECK_OK(coffer_load_key(p, "np/sec", &key1, 0));
		CHECK_OK(coffer_fs_open(p, "np/sec", 0, &fs));
		char out[4096];
		CHECK_OK(coffer_resolve(fs, "/" "SECRET-MARKER-7f3a9", 1,
		    &ino));
		CHECK_RC(coffer_read(fs, ino, 0, out, sizeof(out)),
		    (int64_t)sizeof(out));
		CHECK(memcmp(out, body, sizeof(out)) == 0);
		CHECK_OK(coffer_fs_close(fs));
		CHECK_OK(coffer_pool_close(p));
	}
	/* a control: without encryption the marker is there */
	setup("plain");
	coffer_pool_t *p;
	const char *devs[] = { dev };
	const char *off[] = { "compression=off", NULL };
	CHECK_OK(coffer_pool_create("pl", devs, 1, 64u << 20, off, &p));
	coffer_fs_t *fs;
	uint64_t ino;
	CHECK_OK(coffer_fs_open(p, "pl", 0, &fs));
	CHECK_OK(put(fs, coffer_fs_root(fs), MARK, MARK, sizeof(MARK), &ino));
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_pool_close(p));
	CHECK(file_has(dev, MARK, sizeof(MARK) - 1) == 1);
}

static void test_keys(void)
{
	setup("keys");
	coffer_pool_t *p;
	const char *devs[] = { dev };
	CHECK_OK(coffer_pool_create("ky", devs, 1, 64u << 20, NULL, &p));
	const char *props[] = { "encryption=on", "keyformat=raw", NULL };
	CHECK_OK(coffer_create_key(p, "ky/s", COFFER_TYPE_FILESYSTEM, 0, props,
	    &key1));
	/* an unencrypted child of an encrypted parent is refused */
	const char *offp[] = { "encryption=off", NULL };
	CHECK_RC(coffer_create_key(p, "ky/s/plain", COFFER_TYPE_FILESYSTEM, 0,
	    offp, NULL), COFFER_EBADPROP);
	coffer_fs_t *fs;
	uint64_t ino;
	CHECK_OK(coffer_fs_open(p, "ky/s", 0, &fs));
	CHECK_OK(put(fs, coffer_fs_root(fs), "f", "hello", 5, &ino));
	CHECK_OK(coffer_fs_close(fs));
	coffer_propval_t v;
	CHECK_OK(coffer_prop_get(p, "ky/s", "keystatus", &v));
	CHECK(strcmp(v.value, "available") == 0);
	CHECK_OK(coffer_unload_key(p, "ky/s"));
	CHECK_OK(coffer_prop_get(p, "ky/s", "keystatus", &v));
	CHECK(strcmp(v.value, "unavailable") == 0);
	CHECK_RC(coffer_fs_open(p, "ky/s", 0, &fs), COFFER_ENOKEY);
	/* keyless work goes on */
	CHECK_OK(coffer_snapshot(p, "ky/s@s1"));
	CHECK_OK(coffer_pool_scrub(p, NULL, NULL));
	CHECK_OK(coffer_prop_get(p, "ky/s", "encryptionroot", &v));
	CHECK(strcmp(v.value, "ky/s") == 0);
	/* wrong key: refused, nothing changes */
	CHECK_RC(coffer_load_key(p, "ky/s", &key2, 0), COFFER_EWRONGKEY);
	CHECK_RC(coffer_fs_open(p, "ky/s", 0, &fs), COFFER_ENOKEY);
	CHECK_OK(coffer_load_key(p, "ky/s", &key1, 0));
	CHECK_OK(coffer_fs_open(p, "ky/s@s1", 0, &fs));
	char b[8];
	CHECK_OK(coffer_resolve(fs, "/f", 1, &ino));
	CHECK_RC(coffer_read(fs, ino, 0, b, 5), 5);
	CHECK(memcmp(b, "hello", 5) == 0);
	CHECK_OK(coffer_fs_close(fs));

	/* key slots: a second key opens it too; removed, it does not */
	const char *hexp[] = { "keyformat=hex", NULL };
	const char hex[] = "00112233445566778899aabbccddeeff"
	    "00112233445566778899aabbccddeeff";
	coffer_key_t hk = { (const uint8_t *)hex, 64 };
	CHECK_OK(coffer_key_slot_add(p, "ky/s", hexp, &hk));
	CHECK_OK(coffer_pool_close(p));
	CHECK_OK(coffer_pool_open("ky", 0, &p));
	CHECK_OK(coffer_load_key(p, "ky/s", &hk, COFFER_KEY_NOOP));
	CHECK_OK(coffer_load_key(p, "ky/s", &key1, COFFER_KEY_NOOP));
	CHECK_OK(coffer_load_key(p, "ky/s", &hk, 0));
	CHECK_OK(coffer_key_slot_remove(p, "ky/s", 1));
	CHECK_RC(coffer_load_key(p, "ky/s", &hk, COFFER_KEY_NOOP),
	    COFFER_EWRONGKEY);
	CHECK_RC(coffer_key_slot_remove(p, "ky/s", 0), -EINVAL);

	/* change-key: the old key stops working, no old wrapped key stays */
	dsl_pool_t *dp = DP(p);
	uint64_t rootdir, ksobj;
	uint8_t oldwrap[32];
	{
		pthread_rwlock_rdlock(&dp->lock);
		dirrec_t r;
		CHECK_OK(dsl_dir_lookup(dp, "ky/s", &rootdir));
		CHECK_OK(dir_read(dp, rootdir, &r));
		pthread_rwlock_unlock(&dp->lock);
		CHECK_OK(dsl_crypt_debug_slot(dp, rootdir, 0, oldwrap, &ksobj));
	}
	CHECK(file_has(dev, oldwrap, 32) == 1);
	CHECK_OK(coffer_change_key(p, "ky/s", (const char *const[]){
	    "keyformat=raw", NULL }, &key2, 0));
	CHECK_OK(coffer_pool_sync(p));
	CHECK_OK(coffer_pool_sync(p));
	CHECK_OK(coffer_pool_close(p));
	CHECK(file_has(dev, oldwrap, 32) == 0);
	CHECK_OK(coffer_pool_open("ky", 0, &p));
	CHECK_RC(coffer_load_key(p, "ky/s", &key1, 0), COFFER_EWRONGKEY);
	CHECK_OK(coffer_load_key(p, "ky/s", &key2, 0));
	CHECK_OK(coffer_fs_open(p, "ky/s", 0, &fs));
	CHECK_OK(coffer_resolve(fs, "/f", 1, &ino));
	CHECK_RC(coffer_read(fs, ino, 0, b, 5), 5);
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_pool_close(p));
}

/* ---- tampering ---------------------------------------------------------------- */

typedef struct blk {
	uint32_t vdev;
	uint64_t off;
	uint32_t psize;
	int copies;
	uint8_t type, level;
	uint64_t dva1;
	char ds[64];
} blk_t;

typedef struct blks {
	blk_t v[2048];
	int n;
} blks_t;

static int collect_cb(void *arg, const char *ds, uint64_t obj,
    uint64_t blkid, const cf_blkptr_t *bp)
{
	blks_t *b = arg;
	(void)obj;
	(void)blkid;
	if (b->n >= 2048)
		return 0;
	blk_t *e = &b->v[b->n++];
	e->vdev = bp->dva[0].vdev;
	e->off = bp->dva[0].offset;
	e->dva1 = cf_bp_ncopies(bp) > 1 ? bp->dva[1].offset : 0;
	e->psize = bp->psize;
	e->copies = cf_bp_ncopies(bp);
	e->type = bp->type;
	e->level = bp->level;
	snprintf(e->ds, sizeof(e->ds), "%s", ds);
	return 0;
}

static void flip_at(uint64_t off)
{
	int fd = open(dev, O_RDWR);
	uint8_t c;
	if (fd < 0 || pread(fd, &c, 1, (off_t)off) != 1)
		return;
	c ^= 0x41;
	if (pwrite(fd, &c, 1, (off_t)off) != 1)
		fprintf(stderr, "flip failed\n");
	close(fd);
}

static void flip_blk(const blk_t *b)
{
	flip_at(b->off + b->psize / 2);
	if (b->dva1)
		flip_at(b->dva1 + b->psize / 2);
}

/* A pool with tank/a (an encryption root, files big enough for indirect
 * blocks) and tank/b (its own root); returns the blocks of tank/a. */
static void make_tamper_pool(const char *name, blks_t *b)
{
	setup(name);
	coffer_pool_t *p;
	const char *devs[] = { dev };
	CHECK_OK(coffer_pool_create(name, devs, 1, 96u << 20, NULL, &p));
	const char *props[] = { "encryption=on", "keyformat=raw",
		"compression=off", NULL };
	CHECK_OK(coffer_create_key(p, "tp/a", COFFER_TYPE_FILESYSTEM, 0, props,
	    &key1));
	CHECK_OK(coffer_create_key(p, "tp/b", COFFER_TYPE_FILESYSTEM, 0, props,
	    &key2));
	coffer_fs_t *fs;
	uint64_t ino;
	char *big = malloc(600000);
	for (int i = 0; i < 600000; i++)
		big[i] = (char)(i * 7);
	CHECK_OK(coffer_fs_open(p, "tp/a", 0, &fs));
	CHECK_OK(put(fs, coffer_fs_root(fs), "big", big, 600000, &ino));
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_fs_open(p, "tp/b", 0, &fs));
	CHECK_OK(put(fs, coffer_fs_root(fs), "big", big, 600000, &ino));
	CHECK_OK(coffer_fs_close(fs));
	free(big);
	memset(b, 0, sizeof(*b));
	CHECK_OK(dsl_walk_blocks(DP(p), collect_cb, b));
	CHECK_OK(coffer_pool_close(p));
}

/* Open tp/a and read big: must be an authentication error. */
static char read_detail[1024];  /* the detail of read_a's error */

static int read_a(coffer_pool_t *p)
{
	coffer_fs_t *fs;
	int err = coffer_fs_open(p, "tp/a", 0, &fs);
	if (err)
		return err;
	uint64_t ino;
	err = coffer_resolve(fs, "/big", 1, &ino);
	if (!err) {
		char *buf = malloc(600000);
		int64_t r = coffer_read(fs, ino, 0, buf, 600000);
		err = r < 0 ? (int)r : 0;
		if (!err)
			for (int i = 0; i < 600000; i++)
				if (buf[i] != (char)(i * 7)) {
					err = -999;     /* wrong data! */
					break;
				}
		free(buf);
	}
	cf_strlcpy(read_detail, coffer_errdetail(), sizeof(read_detail));
	coffer_fs_close(fs);
	return err;
}

static int open_with_key(const char *name, coffer_pool_t **p)
{
	int err = coffer_pool_open("tp", 0, p);
	(void)name;
	if (!err)
		err = coffer_load_key(*p, "tp/a", &key1, 0);
	return err;
}

static void tamper_kind(const char *what, int (*pick)(const blk_t *))
{
	blks_t *b = calloc(1, sizeof(*b));
	make_tamper_pool("tp", b);
	int done = 0;
	for (int i = 0; i < b->n && !done; i++)
		if (!strcmp(b->v[i].ds, "tp/a") && pick(&b->v[i])) {
			flip_blk(&b->v[i]);
			done = 1;
		}
	CHECK(done);
	coffer_pool_t *p;
	read_detail[0] = 0;
	int err = open_with_key("tp", &p);
	if (err == 0)
		err = read_a(p);
	const char *detail = err == 0 || read_detail[0] ? read_detail :
	    coffer_errdetail();
	printf("  %s: %s (%s)\n", what, coffer_strerror(err), detail);
	CHECK(err == COFFER_EAUTH);
	/* the error says which block, and what failing to authenticate
	 * means */
	CHECK(strstr(detail, "authenticat") != NULL);
	if (err != COFFER_ECORRUPT || err == COFFER_EAUTH) {
		/* a keyless scrub still flags the raw corruption */
		coffer_pool_t *q = p;
		if (q) {
			CHECK_OK(coffer_unload_key(q, "tp/a"));
			coffer_pool_scrub(q, NULL, NULL);
			coffer_pool_info_t info;
			CHECK_OK(coffer_pool_info(q, &info));
			CHECK(info.scrub_errors > 0 || info.healed > 0);
			coffer_pool_close(q);
		}
	}
	free(b);
}

static int pick_data(const blk_t *b)
{
	return b->type == 3 && b->level == 0 && b->psize > 1000;
}
static int pick_indirect(const blk_t *b)
{
	return b->type == 3 && b->level == 1;
}
static int pick_dnode(const blk_t *b)
{
	return b->type == 1 && b->level == 0;
}
static int pick_osroot(const blk_t *b)
{
	return b->type == CF_OT_OBJSET;
}

/* Without tampering the same reads succeed (so the tests above see the
 * tampering, not a broken pool). */
static void test_tamper_control(void)
{
	blks_t *b = calloc(1, sizeof(*b));
	make_tamper_pool("tp", b);
	coffer_pool_t *p;
	CHECK_OK(open_with_key("tp", &p));
	CHECK_OK(read_a(p));
	CHECK_OK(coffer_pool_scrub(p, NULL, NULL));
	coffer_pool_info_t info;
	CHECK_OK(coffer_pool_info(p, &info));
	CHECK(info.scrub_errors == 0);
	CHECK_OK(coffer_pool_close(p));
	free(b);
}

static void test_tamper_blocks(void)
{
	tamper_kind("data block", pick_data);
	tamper_kind("indirect block", pick_indirect);
	tamper_kind("dnode block", pick_dnode);
	tamper_kind("object set root", pick_osroot);
}

/* Swap the contents of two data blocks of the same file on disk. */
static void test_tamper_swap_blocks(void)
{
	blks_t *b = calloc(1, sizeof(*b));
	make_tamper_pool("tp", b);
	blk_t *x = NULL, *y = NULL;
	for (int i = 0; i < b->n; i++)
		if (!strcmp(b->v[i].ds, "tp/a") && pick_data(&b->v[i]) &&
		    b->v[i].psize == 131072) {
			if (!x)
				x = &b->v[i];
			else if (!y)
				y = &b->v[i];
		}
	CHECK(x && y);
	int fd = open(dev, O_RDWR);
	uint8_t *bx = malloc(131072), *by = malloc(131072);
	CHECK(pread(fd, bx, 131072, (off_t)x->off) == 131072);
	CHECK(pread(fd, by, 131072, (off_t)y->off) == 131072);
	CHECK(pwrite(fd, by, 131072, (off_t)x->off) == 131072);
	CHECK(pwrite(fd, bx, 131072, (off_t)y->off) == 131072);
	close(fd);
	free(bx);
	free(by);
	coffer_pool_t *p;
	int err = open_with_key("tp", &p);
	if (!err)
		err = read_a(p);
	printf("  swapped data blocks: %s\n", coffer_strerror(err));
	CHECK(err == COFFER_EAUTH);
	coffer_pool_close(p);
	free(b);
}

/* Attacks with valid checksums: sync tasks rewrite MOS records. */
struct swap_arg {
	const char *a, *b;
	cf_blkptr_t old;
	int mode;               /* 1 swap roots, 2 roll a back to old, 3
				   flip a byte of a wrapped key */
};

static int attack_task(dsl_pool_t *dp, void *arg, uint64_t txg)
{
	struct swap_arg *s = arg;
	uint64_t da, db;
	dirrec_t ra, rb;
	dsrec_t xa, xb;
	cf_tx_t tx;
	cf_tx_sync_init(&tx, dp->mos, txg);
	int err = dsl_dir_lookup(dp, s->a, &da);
	if (!err)
		err = dir_read(dp, da, &ra);
	if (!err)
		err = ds_read(dp, ra.head, &xa);
	if (err)
		return err;
	if (s->mode == 3)
		return dsl_crypt_debug_tamper_slot(dp, &tx, da);
	if (s->mode == 2) {
		xa.root = s->old;
		return ds_write(dp, &tx, ra.head, &xa);
	}
	err = dsl_dir_lookup(dp, s->b, &db);
	if (!err)
		err = dir_read(dp, db, &rb);
	if (!err)
		err = ds_read(dp, rb.head, &xb);
	if (err)
		return err;
	cf_blkptr_t t = xa.root;
	xa.root = xb.root;
	xb.root = t;
	err = ds_write(dp, &tx, ra.head, &xa);
	if (!err)
		err = ds_write(dp, &tx, rb.head, &xb);
	return err;
}

static cf_blkptr_t root_of(coffer_pool_t *p, const char *name)
{
	dsl_pool_t *dp = DP(p);
	uint64_t d;
	dirrec_t r;
	dsrec_t x;
	cf_blkptr_t bp = { 0 };
	pthread_rwlock_rdlock(&dp->lock);
	if (!dsl_dir_lookup(dp, name, &d) && !dir_read(dp, d, &r) &&
	    !ds_read(dp, r.head, &x))
		bp = x.root;
	pthread_rwlock_unlock(&dp->lock);
	return bp;
}

static void test_tamper_records(void)
{
	blks_t *b = calloc(1, sizeof(*b));
	coffer_pool_t *p;

	/* swap the roots of two datasets */
	make_tamper_pool("tp", b);
	CHECK_OK(coffer_pool_open("tp", 0, &p));
	struct swap_arg sa;
	memset(&sa, 0, sizeof(sa));
	sa.a = "tp/a";
	sa.b = "tp/b";
	sa.mode = 1;
	CHECK_OK(dsl_sync_task(DP(p), attack_task, &sa));
	CHECK_OK(coffer_pool_close(p));
	CHECK_OK(open_with_key("tp", &p));
	int err = read_a(p);
	printf("  swapped dataset roots: %s\n", coffer_strerror(err));
	CHECK(err == COFFER_EAUTH);
	coffer_pool_close(p);

	/* roll tp/a back to an older root while the pool moves on */
	make_tamper_pool("tp", b);
	CHECK_OK(open_with_key("tp", &p));
	cf_blkptr_t old = root_of(p, "tp/a");
	coffer_fs_t *fs;
	uint64_t ino;
	CHECK_OK(coffer_fs_open(p, "tp/a", 0, &fs));
	CHECK_OK(put(fs, coffer_fs_root(fs), "newer", "x", 1, &ino));
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_load_key(p, "tp/b", &key2, 0));
	CHECK_OK(coffer_fs_open(p, "tp/b", 0, &fs));
	CHECK_OK(put(fs, coffer_fs_root(fs), "moves-on", "y", 1, &ino));
	CHECK_OK(coffer_fs_close(fs));
	CHECK_OK(coffer_pool_close(p));
	CHECK_OK(coffer_pool_open("tp", 0, &p));
	struct swap_arg ra = { "tp/a", NULL, old, 2 };
	CHECK_OK(dsl_sync_task(DP(p), attack_task, &ra));
	CHECK_OK(coffer_pool_close(p));
	CHECK_OK(open_with_key("tp", &p));
	err = coffer_fs_open(p, "tp/a", 0, &fs);
	printf("  rolled back dataset: %s (%s)\n", coffer_strerror(err),
	    coffer_errdetail());
	CHECK(err == COFFER_EAUTH);
	if (!err)
		coffer_fs_close(fs);
	coffer_pool_close(p);

	/* a wrapped key altered (checksums valid): not "wrong key" */
	make_tamper_pool("tp", b);
	CHECK_OK(coffer_pool_open("tp", 0, &p));
	struct swap_arg wa;
	memset(&wa, 0, sizeof(wa));
	wa.a = "tp/a";
	wa.mode = 3;
	CHECK_OK(dsl_sync_task(DP(p), attack_task, &wa));
	CHECK_OK(coffer_pool_close(p));
	CHECK_OK(coffer_pool_open("tp", 0, &p));
	err = coffer_load_key(p, "tp/a", &key1, 0);
	printf("  tampered wrapped key: %s (%s)\n", coffer_strerror(err),
	    coffer_errdetail());
	CHECK(err == COFFER_EAUTH);
	coffer_pool_close(p);
	free(b);
}

void test_main(void)
{
	RUN(test_no_plaintext);
	RUN(test_keys);
	RUN(test_tamper_control);
	RUN(test_tamper_blocks);
	RUN(test_tamper_swap_blocks);
	RUN(test_tamper_records);
}
