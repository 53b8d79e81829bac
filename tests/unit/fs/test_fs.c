/*
 * fs tests: namespace, files, links, symlinks, rename, xattrs,
 * attributes, read-only, delete queue and corrupt attributes.  Uses only
 * fs.h, dmu.h and tenv.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/stat.h>

#include "harness.h"
#include "fsenv.h"

static cf_objset_t *os;
static cf_fs_t *fs;

static uint64_t mk(uint64_t dir, const char *name, uint32_t mode)
{
	uint64_t ino = 0;
	int rc = cf_fs_mknod(fs, dir, name, mode, 1, 2, 0, NULL, &ino);
	if (rc) {
		fprintf(stderr, "mknod %s: %d\n", name, rc);
		return 0;
	}
	return ino;
}

static uint64_t mkf(uint64_t dir, const char *name)
{
	return mk(dir, name, S_IFREG | 0644);
}

static uint64_t mkd(uint64_t dir, const char *name)
{
	return mk(dir, name, S_IFDIR | 0755);
}

static uint64_t mkl(uint64_t dir, const char *name, const char *target)
{
	uint64_t ino = 0;
	if (cf_fs_mknod(fs, dir, name, S_IFLNK | 0777, 0, 0, 0, target, &ino))
		return 0;
	return ino;
}

static coffer_stat_t st_of(uint64_t ino)
{
	coffer_stat_t st;
	memset(&st, 0xff, sizeof(st));
	if (cf_fs_getattr(fs, ino, &st))
		memset(&st, 0xff, sizeof(st));
	return st;
}

/* ---- readdir helpers --------------------------------------------------- */

struct ent {
	char name[256];
	uint64_t ino;
	uint32_t type;
};

struct listing {
	struct ent *e;
	size_t n, cap;
	uint64_t stop_every, calls;
};

static int list_cb(const char *name, uint64_t ino, uint32_t type,
    uint64_t next, void *arg)
{
	struct listing *l = arg;
	(void)next;
	if (l->stop_every && ++l->calls % l->stop_every == 0)
		return 1;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->e = realloc(l->e, l->cap * sizeof(*l->e));
	}
	snprintf(l->e[l->n].name, sizeof(l->e[0].name), "%s", name);
	l->e[l->n].ino = ino;
	l->e[l->n].type = type;
	l->n++;
	return 0;
}

static int list_all(uint64_t dir, struct listing *l, uint64_t stop_every)
{
	uint64_t cookie = 0;
	int rc, guard = 0;
	memset(l, 0, sizeof(*l));
	l->stop_every = stop_every;
	do {
		rc = cf_fs_readdir(fs, dir, &cookie, list_cb, l);
		if (rc)
			return rc;
	} while (cookie != UINT64_MAX && ++guard < 1000000);
	return 0;
}

static const struct ent *find_ent(const struct listing *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->e[i].name, name) == 0)
			return &l->e[i];
	return NULL;
}

/* ---- tests ------------------------------------------------------------- */

static void test_format_mount(void)
{
	cf_objset_t *o2 = tenv_os_open();
	cf_fs_t *f2;
	cf_tx_t *tx;
	coffer_stat_t st;
	uint64_t v;

	CHECK_RC(cf_fs_mount(o2, &f2), -ENOENT);
	CHECK_OK(cf_tx_begin(o2, 1 << 20, &tx));
	CHECK_OK(cf_fs_format(o2, tx, 7, 8, 0750));
	CHECK_RC(cf_fs_format(o2, tx, 7, 8, 0750), -EEXIST);
	cf_tx_end(tx);
	CHECK_OK(cf_zap_lookup_u64(o2, 1, "VERSION", &v));
	CHECK(v == 1);
	CHECK_OK(cf_fs_mount(o2, &f2));
	CHECK_OK(cf_fs_getattr(f2, cf_fs_root(f2), &st));
	CHECK(st.mode == (S_IFDIR | 0750) && st.uid == 7 && st.gid == 8);
	CHECK(st.nlink == 2 && st.size == 2);
	CHECK(st.ino == cf_fs_root(f2));
	cf_fs_unmount(f2);
	/* an unknown version refuses to mount */
	CHECK_OK(cf_tx_begin(o2, 1 << 20, &tx));
	CHECK_OK(cf_zap_update_u64(o2, tx, 1, "VERSION", 2));
	cf_tx_end(tx);
	CHECK_RC(cf_fs_mount(o2, &f2), COFFER_ENOTSUP);
	tenv_os_close(o2);
}

static void test_names(void)
{
	uint64_t root = cf_fs_root(fs), ino;
	char longname[300];
	memset(longname, 'n', sizeof(longname));
	longname[255] = '\0';
	CHECK_RC(cf_fs_mknod(fs, root, "", S_IFREG, 0, 0, 0, NULL, &ino),
	    -EINVAL);
	CHECK_RC(cf_fs_mknod(fs, root, ".", S_IFREG, 0, 0, 0, NULL, &ino),
	    -EINVAL);
	CHECK_RC(cf_fs_mknod(fs, root, "..", S_IFDIR, 0, 0, 0, NULL, &ino),
	    -EINVAL);
	CHECK_RC(cf_fs_mknod(fs, root, "a/b", S_IFREG, 0, 0, 0, NULL, &ino),
	    -EINVAL);
	CHECK_RC(cf_fs_mknod(fs, root, NULL, S_IFREG, 0, 0, 0, NULL, &ino),
	    -EINVAL);
	CHECK_OK(cf_fs_mknod(fs, root, longname, S_IFREG, 0, 0, 0, NULL,
	    &ino));
	CHECK_OK(cf_fs_lookup(fs, root, longname, &ino));
	CHECK_OK(cf_fs_unlink(fs, root, longname));
	longname[255] = 'n';
	longname[256] = '\0';
	CHECK_RC(cf_fs_mknod(fs, root, longname, S_IFREG, 0, 0, 0, NULL,
	    &ino), -ENAMETOOLONG);
	CHECK_RC(cf_fs_lookup(fs, root, longname, &ino), -ENAMETOOLONG);
	CHECK_RC(cf_fs_unlink(fs, root, "."), -EINVAL);
	CHECK_RC(cf_fs_rmdir(fs, root, ".."), -EINVAL);
	CHECK_RC(cf_fs_mknod(fs, root, "bad", 0777, 0, 0, 0, NULL, &ino),
	    -EINVAL);
	CHECK_RC(cf_fs_lookup(fs, root, "nope", &ino), -ENOENT);
	CHECK_RC(cf_fs_mknod(fs, 123456, "x", S_IFREG, 0, 0, 0, NULL, &ino),
	    -ENOENT);
}

static void test_tree(void)
{
	uint64_t root = cf_fs_root(fs), a, b, c, f1, f2, f3, ino;
	struct listing l;
	coffer_stat_t st;

	a = mkd(root, "tree-a");
	CHECK(a);
	b = mkd(a, "b");
	c = mkd(b, "c");
	f1 = mkf(a, "f1");
	f2 = mkf(b, "f2");
	f3 = mkf(c, "f3");
	CHECK(b && c && f1 && f2 && f3);
	CHECK_RC(cf_fs_mknod(fs, a, "b", S_IFREG, 0, 0, 0, NULL, &ino),
	    -EEXIST);
	CHECK_RC(cf_fs_mknod(fs, f1, "x", S_IFREG, 0, 0, 0, NULL, &ino),
	    -ENOTDIR);

	CHECK_OK(cf_fs_lookup(fs, a, "b", &ino));
	CHECK(ino == b);
	CHECK_OK(cf_fs_lookup(fs, b, "..", &ino));
	CHECK(ino == a);
	CHECK_OK(cf_fs_lookup(fs, b, ".", &ino));
	CHECK(ino == b);
	CHECK_OK(cf_fs_lookup(fs, root, "..", &ino));
	CHECK(ino == root);
	CHECK_RC(cf_fs_lookup(fs, f1, "x", &ino), -ENOTDIR);

	CHECK_OK(cf_fs_resolve(fs, "/tree-a/b/c/f3", 1, &ino));
	CHECK(ino == f3);
	CHECK_OK(cf_fs_resolve(fs, "//tree-a/./b/../b/c//f3", 1, &ino));
	CHECK(ino == f3);
	CHECK_OK(cf_fs_resolve(fs, "/", 1, &ino));
	CHECK(ino == root);
	CHECK_OK(cf_fs_resolve(fs, "/tree-a/b/c/", 1, &ino));
	CHECK(ino == c);
	CHECK_OK(cf_fs_resolve(fs, "/..", 1, &ino));
	CHECK(ino == root);
	CHECK_RC(cf_fs_resolve(fs, "/tree-a/f1/", 1, &ino), -ENOTDIR);
	CHECK_RC(cf_fs_resolve(fs, "/tree-a/f1/x", 1, &ino), -ENOTDIR);
	CHECK_RC(cf_fs_resolve(fs, "/tree-a/nope/x", 1, &ino), -ENOENT);
	CHECK_RC(cf_fs_resolve(fs, "tree-a", 1, &ino), -EINVAL);

	/* link counts and sizes */
	st = st_of(a);
	CHECK(st.nlink == 3 && st.size == 4);   /* b, f1 */
	st = st_of(c);
	CHECK(st.nlink == 2 && st.size == 3);
	st = st_of(f3);
	CHECK(st.nlink == 1 && st.mode == (S_IFREG | 0644) && st.uid == 1 &&
	    st.gid == 2 && st.size == 0);

	CHECK_OK(list_all(a, &l, 0));
	CHECK(l.n == 4);
	CHECK(strcmp(l.e[0].name, ".") == 0 && l.e[0].ino == a);
	CHECK(strcmp(l.e[1].name, "..") == 0 && l.e[1].ino == root);
	CHECK(find_ent(&l, "b") && find_ent(&l, "b")->ino == b &&
	    find_ent(&l, "b")->type == (S_IFDIR >> 12));
	CHECK(find_ent(&l, "f1") && find_ent(&l, "f1")->ino == f1 &&
	    find_ent(&l, "f1")->type == (S_IFREG >> 12));
	free(l.e);
	CHECK_RC(cf_fs_readdir(fs, f1, &(uint64_t){0}, list_cb, &l),
	    -ENOTDIR);

	/* removal rules */
	CHECK_RC(cf_fs_rmdir(fs, a, "b"), -ENOTEMPTY);
	CHECK_RC(cf_fs_unlink(fs, a, "b"), -EISDIR);
	CHECK_RC(cf_fs_rmdir(fs, a, "f1"), -ENOTDIR);
	CHECK_RC(cf_fs_unlink(fs, a, "zz"), -ENOENT);
	CHECK_OK(cf_fs_unlink(fs, c, "f3"));
	CHECK_RC(cf_fs_getattr(fs, f3, &st), -ENOENT);
	CHECK_OK(cf_fs_rmdir(fs, b, "c"));
	CHECK_RC(cf_fs_getattr(fs, c, &st), -ENOENT);
	st = st_of(b);
	CHECK(st.nlink == 2 && st.size == 3);
}

static void test_readdir_resume(void)
{
	uint64_t root = cf_fs_root(fs), d = mkd(root, "many");
	struct listing l;
	char nm[32];
	int *cnt = calloc(3000, sizeof(int));

	for (int i = 0; i < 3000; i++) {
		snprintf(nm, sizeof(nm), "e%d", i);
		CHECK(mk(d, nm, (i % 3 ? S_IFREG : S_IFIFO) |
		    0600));
	}
	CHECK(st_of(d).size == 3002);
	/* stop every 7th callback: the refused entry comes back */
	CHECK_OK(list_all(d, &l, 7));
	CHECK(l.n == 3002);
	CHECK(strcmp(l.e[0].name, ".") == 0 && strcmp(l.e[1].name, "..") == 0);
	for (size_t i = 2; i < l.n; i++) {
		int k = atoi(l.e[i].name + 1);
		CHECK(k >= 0 && k < 3000);
		cnt[k]++;
		CHECK(l.e[i].type == (uint32_t)(k % 3 ? S_IFREG : S_IFIFO) >> 12);
	}
	for (int i = 0; i < 3000; i++)
		CHECK(cnt[i] == 1);
	free(l.e);
	free(cnt);
}

/* readdir whose callback changes the directory it lists */
struct churn {
	uint64_t dir;
	int n, seen[4000];
	int err;
};

static int churn_cb(const char *name, uint64_t ino, uint32_t type,
    uint64_t next, void *arg)
{
	struct churn *c = arg;
	char nm[32];
	(void)ino;
	(void)type;
	(void)next;
	if (name[0] == 's')
		c->seen[atoi(name + 1)]++;
	if (c->n < 2000) {
		snprintf(nm, sizeof(nm), "x%d", c->n++);
		if (cf_fs_mknod(fs, c->dir, nm, S_IFREG, 0, 0, 0, NULL, NULL))
			c->err = 1;
	}
	snprintf(nm, sizeof(nm), "v%d", c->n);
	if (c->n < 1000 && cf_fs_unlink(fs, c->dir, nm))
		c->err = 2;
	return 0;
}

static void test_readdir_churn(void)
{
	struct churn *c = calloc(1, sizeof(*c));
	char nm[32];
	uint64_t cookie = 0;
	c->dir = mkd(cf_fs_root(fs), "churn");
	for (int i = 0; i < 1000; i++) {
		snprintf(nm, sizeof(nm), "s%d", i);
		CHECK(mkf(c->dir, nm));
		snprintf(nm, sizeof(nm), "v%d", i);
		CHECK(mkf(c->dir, nm));
	}
	CHECK_OK(cf_fs_readdir(fs, c->dir, &cookie, churn_cb, c));
	CHECK(cookie == UINT64_MAX);
	CHECK(!c->err);
	for (int i = 0; i < 1000; i++)
		CHECK(c->seen[i] == 1);
	free(c);
}

static void test_file_io(void)
{
	uint64_t f = mkf(cf_fs_root(fs), "io");
	char buf[8192], out[8192];
	cf_objinfo_t info;
	coffer_stat_t st;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7 + 3);
	CHECK_RC(cf_fs_write(fs, f, 0, buf, 100), 100);
	CHECK_OK(cf_obj_info(os, f, &info));
	CHECK(info.blksz == 512);       /* a small file, a small block */
	CHECK_RC(cf_fs_read(fs, f, 0, out, sizeof(out)), 100);
	CHECK(memcmp(out, buf, 100) == 0);
	CHECK_RC(cf_fs_read(fs, f, 100, out, 10), 0);
	CHECK_RC(cf_fs_read(fs, f, 1000, out, 10), 0);
	CHECK_RC(cf_fs_read(fs, f, 90, out, 100), 10);
	/* grows in 512-byte steps */
	CHECK_RC(cf_fs_write(fs, f, 100, buf + 100, 2900), 2900);
	CHECK_OK(cf_obj_info(os, f, &info));
	CHECK(info.blksz == 3072);
	CHECK_RC(cf_fs_read(fs, f, 0, out, sizeof(out)), 3000);
	CHECK(memcmp(out, buf, 3000) == 0);
	/* then to the recordsize */
	for (uint64_t off = 3000; off < 300000; off += 4000)
		CHECK_RC(cf_fs_write(fs, f, off, buf, 4000), 4000);
	CHECK_OK(cf_obj_info(os, f, &info));
	CHECK(info.blksz == cf_os_recordsize(os));
	CHECK_RC(cf_fs_read(fs, f, 0, out, 3000), 3000);
	CHECK(memcmp(out, buf, 3000) == 0);
	CHECK_RC(cf_fs_read(fs, f, 3000 + 4000 * 50, out, 4000), 4000);
	CHECK(memcmp(out, buf, 4000) == 0);
	st = st_of(f);
	CHECK(st.size == 3000 + 4000 * 75);
	CHECK(st.blocks > 0);

	/* directories and others are not files */
	CHECK_RC(cf_fs_read(fs, cf_fs_root(fs), 0, out, 1), -EISDIR);
	CHECK_RC(cf_fs_write(fs, cf_fs_root(fs), 0, out, 1), -EISDIR);
	CHECK_RC(cf_fs_truncate(fs, cf_fs_root(fs), 0), -EISDIR);
	uint64_t fifo = mk(cf_fs_root(fs), "fifo", S_IFIFO | 0600);
	CHECK_RC(cf_fs_write(fs, fifo, 0, out, 1), -EINVAL);
	CHECK_RC(cf_fs_read(fs, 999999, 0, out, 1), -ENOENT);
	CHECK_RC(cf_fs_write(fs, f, 0, buf, 0), 0);
}

/* One write larger than CF_TX_WRITE_MAX goes in several transactions and
 * reads back whole, with the size and block size of one write. */
static void test_large_write(void)
{
	uint64_t f = mkf(cf_fs_root(fs), "large");
	size_t len = 2 * CF_TX_WRITE_MAX + 777;
	uint8_t *buf = malloc(len), *out = malloc(len);
	CHECK(buf && out);
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 131 + i / 4099);
	CHECK_RC(cf_fs_write(fs, f, 333, buf, len), (int64_t)len);
	CHECK(st_of(f).size == 333 + len);
	cf_objinfo_t info;
	CHECK_OK(cf_obj_info(os, f, &info));
	CHECK(info.blksz == cf_os_recordsize(os));
	CHECK_RC(cf_fs_read(fs, f, 333, out, len), (int64_t)len);
	CHECK(memcmp(buf, out, len) == 0);
	CHECK_RC(cf_fs_read(fs, f, 0, out, 333), 333);
	for (int i = 0; i < 333; i++)
		CHECK(out[i] == 0);
	free(buf);
	free(out);
}

static void test_holes(void)
{
	uint64_t f = mkf(cf_fs_root(fs), "sparse");
	const uint64_t t40 = 1ULL << 40, t48 = (1ULL << 48) - 1;
	char out[4096], zero[4096];
	coffer_stat_t st;

	memset(zero, 0, sizeof(zero));
	CHECK_RC(cf_fs_write(fs, f, t40, "A", 1), 1);
	CHECK(st_of(f).size == t40 + 1);
	CHECK_RC(cf_fs_read(fs, f, t40 - 2048, out, sizeof(out)), 2049);
	CHECK(memcmp(out, zero, 2048) == 0 && out[2048] == 'A');
	CHECK_RC(cf_fs_read(fs, f, 12345, out, sizeof(out)), 4096);
	CHECK(memcmp(out, zero, 4096) == 0);
	CHECK_RC(cf_fs_write(fs, f, t48, "Z", 1), 1);
	st = st_of(f);
	CHECK(st.size == t48 + 1);
	CHECK(st.blocks <= 4 * (uint64_t)cf_os_recordsize(os));
	CHECK_RC(cf_fs_read(fs, f, t48 - 10, out, 100), 11);
	CHECK(memcmp(out, zero, 10) == 0 && out[10] == 'Z');

	/* the limit */
	CHECK_RC(cf_fs_write(fs, f, CF_FS_MAX_FILESIZE, "x", 1), -EFBIG);
	CHECK_RC(cf_fs_write(fs, f, UINT64_MAX, "x", 1), -EFBIG);
	CHECK_RC(cf_fs_write(fs, f, CF_FS_MAX_FILESIZE - 2, "xyz", 3), 2);
	CHECK(st_of(f).size == CF_FS_MAX_FILESIZE);
	CHECK_RC(cf_fs_read(fs, f, CF_FS_MAX_FILESIZE - 2, out, 10), 2);
	CHECK(out[0] == 'x' && out[1] == 'y');
	CHECK_RC(cf_fs_truncate(fs, f, CF_FS_MAX_FILESIZE + 1), -EFBIG);
	CHECK_OK(cf_fs_truncate(fs, f, 0));
	CHECK(st_of(f).size == 0);
}

static void test_truncate(void)
{
	uint64_t f = mkf(cf_fs_root(fs), "trunc");
	static char buf[300000], out[400000];
	coffer_stat_t st, st2;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(1 + i % 251);
	CHECK_RC(cf_fs_write(fs, f, 0, buf, sizeof(buf)), sizeof(buf));
	st = st_of(f);
	CHECK_OK(cf_fs_truncate(fs, f, 100005));
	st2 = st_of(f);
	CHECK(st2.size == 100005);
	CHECK(st2.mtime_sec > st.mtime_sec || (st2.mtime_sec == st.mtime_sec &&
	    st2.mtime_nsec >= st.mtime_nsec));
	CHECK(st2.blocks < st.blocks);
	CHECK_RC(cf_fs_read(fs, f, 0, out, sizeof(out)), 100005);
	CHECK(memcmp(out, buf, 100005) == 0);
	/* up again: the cut-off bytes must read as zeros */
	CHECK_OK(cf_fs_truncate(fs, f, 400000));
	CHECK_RC(cf_fs_read(fs, f, 0, out, sizeof(out)), 400000);
	CHECK(memcmp(out, buf, 100005) == 0);
	for (size_t i = 100005; i < 400000; i++)
		if (out[i]) {
			CHECK(out[i] == 0);
			break;
		}
	/* a small file, cut inside its one block */
	uint64_t g = mkf(cf_fs_root(fs), "trunc-small");
	CHECK_RC(cf_fs_write(fs, g, 0, buf, 1000), 1000);
	CHECK_OK(cf_fs_truncate(fs, g, 10));
	CHECK_OK(cf_fs_truncate(fs, g, 1000));
	CHECK_RC(cf_fs_read(fs, g, 0, out, 2000), 1000);
	CHECK(memcmp(out, buf, 10) == 0);
	for (int i = 10; i < 1000; i++)
		if (out[i]) {
			CHECK(out[i] == 0);
			break;
		}
	/* writes past the end leave a zero gap */
	CHECK_RC(cf_fs_write(fs, g, 5000, "end", 3), 3);
	CHECK_RC(cf_fs_read(fs, g, 990, out, 5000), 4013);
	CHECK(out[4010] == 'e');
	CHECK(out[100] == 0 && out[3000] == 0);
}

static void test_hardlinks(void)
{
	uint64_t root = cf_fs_root(fs), d = mkd(root, "links");
	uint64_t f = mkf(d, "orig"), ino, base;
	char out[16];

	base = fsenv_nobj(os);
	CHECK_RC(cf_fs_write(fs, f, 0, "payload", 7), 7);
	CHECK_OK(cf_fs_link(fs, f, d, "l1"));
	CHECK_OK(cf_fs_link(fs, f, root, "links-l2"));
	CHECK_RC(cf_fs_link(fs, f, d, "l1"), -EEXIST);
	CHECK_RC(cf_fs_link(fs, d, root, "dirlink"), -EPERM);
	CHECK_RC(cf_fs_link(fs, f, f, "x"), -ENOTDIR);
	CHECK(st_of(f).nlink == 3);
	CHECK(st_of(d).size == 4);
	CHECK_OK(cf_fs_lookup(fs, root, "links-l2", &ino));
	CHECK(ino == f);
	CHECK_OK(cf_fs_unlink(fs, d, "orig"));
	CHECK(st_of(f).nlink == 2);
	CHECK_RC(cf_fs_read(fs, f, 0, out, sizeof(out)), 7);
	CHECK(memcmp(out, "payload", 7) == 0);
	CHECK_OK(cf_fs_unlink(fs, d, "l1"));
	CHECK(st_of(f).nlink == 1);
	CHECK(fsenv_nobj(os) == base);
	CHECK_OK(cf_fs_unlink(fs, root, "links-l2"));
	CHECK_RC(cf_fs_getattr(fs, f, &(coffer_stat_t){0}), -ENOENT);
	CHECK(fsenv_nobj(os) == base - 1);

	/* EMLINK: set nlink to the limit - 1 through the bonus (offset 16) */
	uint64_t g = mkf(d, "many");
	uint8_t bonus[CF_BONUS_MAX];
	cf_tx_t *tx;
	int len = cf_bonus_read(os, g, bonus, sizeof(bonus));
	CHECK(len >= 112);
	le32_put(bonus + 16, CF_FS_LINK_MAX - 1);
	CHECK_OK(cf_tx_begin(os, 4096, &tx));
	CHECK_OK(cf_bonus_write(os, tx, g, bonus, (size_t)len));
	cf_tx_end(tx);
	CHECK_OK(cf_fs_link(fs, g, d, "many2"));
	CHECK_RC(cf_fs_link(fs, g, d, "many3"), -EMLINK);
	CHECK(st_of(g).nlink == CF_FS_LINK_MAX);
}

static void test_symlinks(void)
{
	uint64_t root = cf_fs_root(fs), d = mkd(root, "sl"), f, ino, l;
	char target[5000], out[5000];
	coffer_stat_t st;

	f = mkf(d, "file");
	CHECK(mkd(d, "sub") && mkf(mkd(d, "deep"), "leaf"));
	/* short (inline) */
	l = mkl(d, "short", "file");
	CHECK(l);
	st = st_of(l);
	CHECK(st.mode == (S_IFLNK | 0777) && st.size == 4);
	CHECK_RC(cf_fs_readlink(fs, l, out, sizeof(out)), 4);
	CHECK(strcmp(out, "file") == 0);
	CHECK_RC(cf_fs_readlink(fs, l, out, 3), 4);
	CHECK(strcmp(out, "fi") == 0);
	CHECK_RC(cf_fs_readlink(fs, l, NULL, 0), 4);
	CHECK_RC(cf_fs_readlink(fs, f, out, sizeof(out)), -EINVAL);
	/* long (in the object's data), 144 / 145 boundary and the limit */
	for (int len = 140; len <= 150; len++) {
		char nm[16];
		memset(target, 'x', (size_t)len);
		target[len] = '\0';
		snprintf(nm, sizeof(nm), "b%d", len);
		l = mkl(d, nm, target);
		CHECK(l);
		CHECK_RC(cf_fs_readlink(fs, l, out, sizeof(out)), len);
		CHECK(strcmp(out, target) == 0);
	}
	memset(target, 'y', 4095);
	target[4095] = '\0';
	l = mkl(d, "max", target);
	CHECK(l);
	CHECK_RC(cf_fs_readlink(fs, l, out, sizeof(out)), 4095);
	CHECK(strcmp(out, target) == 0);
	target[4095] = 'y';
	target[4096] = '\0';
	CHECK_RC(cf_fs_mknod(fs, d, "toolong", S_IFLNK | 0777, 0, 0, 0,
	    target, &ino), -ENAMETOOLONG);
	CHECK_RC(cf_fs_mknod(fs, d, "empty", S_IFLNK | 0777, 0, 0, 0, "",
	    &ino), -ENOENT);
	CHECK_RC(cf_fs_mknod(fs, d, "null", S_IFLNK | 0777, 0, 0, 0, NULL,
	    &ino), -EINVAL);

	/* resolve through links: relative, absolute, long, intermediate */
	CHECK_OK(cf_fs_resolve(fs, "/sl/short", 1, &ino));
	CHECK(ino == f);
	CHECK_OK(cf_fs_resolve(fs, "/sl/short", 0, &ino));
	CHECK(ino != f);
	CHECK(mkl(d, "abs", "/sl/deep"));
	CHECK_OK(cf_fs_resolve(fs, "/sl/abs/leaf", 0, &ino));
	CHECK_OK(cf_fs_resolve(fs, "/sl/abs/", 0, &ino));
	CHECK(st_of(ino).mode == (S_IFDIR | 0755));
	CHECK_OK(cf_fs_lookup(fs, d, "abs", &l));
	CHECK_OK(cf_fs_resolve(fs, "/sl/abs", 0, &ino));
	CHECK(ino == l);
	CHECK(mkl(d, "up", "../sl/./sub/.."));
	CHECK_OK(cf_fs_resolve(fs, "/sl/up/file", 1, &ino));
	CHECK(ino == f);
	memset(target, 0, sizeof(target));
	{
		size_t tl = 0;
		memcpy(target, "/sl", 3);
		tl = 3;
		for (int i = 0; i < 300; i++, tl += 2)
			memcpy(target + tl, "/.", 2);
		memcpy(target + tl, "/file", 6);
	}
	CHECK(mkl(d, "longpath", target));
	CHECK_OK(cf_fs_resolve(fs, "/sl/longpath", 1, &ino));
	CHECK(ino == f);
	CHECK(mkl(d, "dangling", "nowhere"));
	CHECK_RC(cf_fs_resolve(fs, "/sl/dangling", 1, &ino), -ENOENT);
	CHECK_OK(cf_fs_resolve(fs, "/sl/dangling", 0, &ino));
	CHECK(mkl(d, "tofile", "file"));
	CHECK_RC(cf_fs_resolve(fs, "/sl/tofile/", 1, &ino), -ENOTDIR);

	/* ELOOP: a chain of 40 links resolves, 41 does not */
	uint64_t cd = mkd(root, "chain");
	CHECK(mkf(cd, "end"));
	CHECK(mkl(cd, "l0", "end"));
	for (int i = 1; i <= 40; i++) {
		char nm[16], tg[16];
		snprintf(nm, sizeof(nm), "l%d", i);
		snprintf(tg, sizeof(tg), "l%d", i - 1);
		CHECK(mkl(cd, nm, tg));
	}
	CHECK_OK(cf_fs_resolve(fs, "/chain/l39", 1, &ino));
	CHECK_RC(cf_fs_resolve(fs, "/chain/l40", 1, &ino), -ELOOP);
	CHECK_OK(cf_fs_resolve(fs, "/chain/l40", 0, &ino));
	CHECK(mkl(cd, "ping", "pong") && mkl(cd, "pong", "ping"));
	CHECK_RC(cf_fs_resolve(fs, "/chain/ping", 1, &ino), -ELOOP);
	CHECK_RC(cf_fs_resolve(fs, "/chain/ping/x", 0, &ino), -ELOOP);
	CHECK(mkl(cd, "self", "/chain/self/x"));
	CHECK_RC(cf_fs_resolve(fs, "/chain/self", 1, &ino), -ELOOP);
}

static void test_rename(void)
{
	uint64_t root = cf_fs_root(fs), r = mkd(root, "ren"), a, b, f, g, ino,
	    sub, e, base;
	char out[8];

	a = mkd(r, "a");
	b = mkd(r, "b");
	f = mkf(a, "f");
	CHECK_RC(cf_fs_write(fs, f, 0, "F", 1), 1);
	/* same directory */
	CHECK_OK(cf_fs_rename(fs, a, "f", a, "f2", 0));
	CHECK_RC(cf_fs_lookup(fs, a, "f", &ino), -ENOENT);
	CHECK_OK(cf_fs_lookup(fs, a, "f2", &ino));
	CHECK(ino == f);
	CHECK(st_of(a).size == 3);
	/* across directories */
	CHECK_OK(cf_fs_rename(fs, a, "f2", b, "f", 0));
	CHECK(st_of(a).size == 2 && st_of(b).size == 3);
	CHECK_OK(cf_fs_lookup(fs, b, "f", &ino));
	CHECK(ino == f);
	/* replace a file: the old one is freed */
	g = mkf(a, "g");
	base = fsenv_nobj(os);
	CHECK_OK(cf_fs_rename(fs, b, "f", a, "g", 0));
	CHECK_RC(cf_fs_getattr(fs, g, &(coffer_stat_t){0}), -ENOENT);
	CHECK(fsenv_nobj(os) == base - 1);
	CHECK_OK(cf_fs_lookup(fs, a, "g", &ino));
	CHECK(ino == f);
	CHECK_RC(cf_fs_read(fs, ino, 0, out, 8), 1);
	CHECK(st_of(a).size == 3 && st_of(b).size == 2);
	/* noreplace, missing source, same node */
	CHECK(mkf(a, "h"));
	CHECK_RC(cf_fs_rename(fs, a, "h", a, "g", COFFER_RENAME_NOREPLACE),
	    -EEXIST);
	CHECK_RC(cf_fs_rename(fs, a, "nope", a, "x", 0), -ENOENT);
	CHECK_RC(cf_fs_rename(fs, a, "h", a, "x", 0x100), -EINVAL);
	CHECK_OK(cf_fs_link(fs, f, b, "f-link"));
	CHECK_OK(cf_fs_rename(fs, a, "g", b, "f-link", 0));
	CHECK_OK(cf_fs_lookup(fs, a, "g", &ino));  /* both stay */
	CHECK(st_of(f).nlink == 2);
	CHECK_OK(cf_fs_rename(fs, a, "g", a, "g", 0));
	/* directory moves: parents' nlink and ".." follow */
	sub = mkd(a, "sub");
	CHECK(mkf(sub, "inner"));
	CHECK(st_of(a).nlink == 3 && st_of(b).nlink == 2);
	CHECK_OK(cf_fs_rename(fs, a, "sub", b, "sub", 0));
	CHECK(st_of(a).nlink == 2 && st_of(b).nlink == 3);
	CHECK_OK(cf_fs_lookup(fs, sub, "..", &ino));
	CHECK(ino == b);
	CHECK_OK(cf_fs_resolve(fs, "/ren/b/sub/inner", 1, &ino));
	/* into its own subtree */
	uint64_t deep = mkd(sub, "deep");
	CHECK_RC(cf_fs_rename(fs, b, "sub", deep, "x", 0), -EINVAL);
	CHECK_RC(cf_fs_rename(fs, b, "sub", sub, "x", 0), -EINVAL);
	CHECK_RC(cf_fs_rename(fs, r, "b", deep, "x", 0), -EINVAL);
	/* dir over file, file over dir, dir over non-empty dir */
	CHECK_RC(cf_fs_rename(fs, b, "sub", a, "h", 0), -ENOTDIR);
	CHECK_RC(cf_fs_rename(fs, a, "h", b, "sub", 0), -EISDIR);
	e = mkd(a, "empty");
	CHECK_RC(cf_fs_rename(fs, a, "empty", r, "b", 0), -ENOTEMPTY);
	/* dir over empty dir, across directories */
	CHECK(st_of(a).nlink == 3 && st_of(b).nlink == 3);
	base = fsenv_nobj(os);
	CHECK_OK(cf_fs_rename(fs, b, "sub", a, "empty", 0));
	CHECK_RC(cf_fs_getattr(fs, e, &(coffer_stat_t){0}), -ENOENT);
	CHECK(fsenv_nobj(os) == base - 1);
	CHECK(st_of(a).nlink == 3 && st_of(b).nlink == 2);
	CHECK_OK(cf_fs_resolve(fs, "/ren/a/empty/inner", 1, &ino));
	CHECK_OK(cf_fs_lookup(fs, sub, "..", &ino));
	CHECK(ino == a);
	/* dir over empty dir in the same directory */
	CHECK(mkd(a, "e2"));
	CHECK(st_of(a).nlink == 4);
	CHECK_OK(cf_fs_rename(fs, a, "empty", a, "e2", 0));
	CHECK(st_of(a).nlink == 3);
	CHECK(st_of(a).size == 2 + 3);  /* h, e2, g */
	/* rename through the root */
	CHECK_OK(cf_fs_rename(fs, a, "e2", root, "ren-moved", 0));
	CHECK_OK(cf_fs_resolve(fs, "/ren-moved/deep", 1, &ino));
	CHECK(ino == deep);
	CHECK_OK(cf_fs_rename(fs, root, "ren-moved", a, "back", 0));
	CHECK_OK(cf_fs_resolve(fs, "/ren/a/back/inner", 1, &ino));
}

static void test_xattrs(void)
{
	uint64_t f = mkf(cf_fs_root(fs), "xa"), base;
	static char big[CF_FS_XATTR_SIZE_MAX + 1], out[CF_FS_XATTR_SIZE_MAX];
	char list[256], longname[300];

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 13);
	base = fsenv_nobj(os);
	CHECK_RC(cf_fs_getxattr(fs, f, "user.a", out, 10), -ENODATA);
	CHECK_RC(cf_fs_listxattr(fs, f, list, sizeof(list)), 0);
	CHECK_OK(cf_fs_setxattr(fs, f, "user.a", "small", 5, 0));
	CHECK_RC(cf_fs_getxattr(fs, f, "user.a", NULL, 0), 5);
	CHECK_RC(cf_fs_getxattr(fs, f, "user.a", out, 4), -ERANGE);
	CHECK_RC(cf_fs_getxattr(fs, f, "user.a", out, 5), 5);
	CHECK(memcmp(out, "small", 5) == 0);
	CHECK_OK(cf_fs_setxattr(fs, f, "user.empty", "", 0, 0));
	CHECK_RC(cf_fs_getxattr(fs, f, "user.empty", out, 5), 0);
	/* sizes around the inline limit and the maximum */
	size_t sizes[] = { 1022, 1023, 1024, 1025, 10000, 65536 };
	for (size_t i = 0; i < CF_ARRAY_SIZE(sizes); i++) {
		char nm[32];
		snprintf(nm, sizeof(nm), "user.s%zu", sizes[i]);
		CHECK_OK(cf_fs_setxattr(fs, f, nm, big, sizes[i], 0));
		CHECK_RC(cf_fs_getxattr(fs, f, nm, out, sizeof(out)),
		    (int64_t)sizes[i]);
		CHECK(memcmp(out, big, sizes[i]) == 0);
	}
	CHECK_RC(cf_fs_setxattr(fs, f, "user.big", big, sizeof(big), 0),
	    -E2BIG);
	/* replace large by small and back; flags */
	CHECK_OK(cf_fs_setxattr(fs, f, "user.s65536", "tiny", 4, 0));
	CHECK_RC(cf_fs_getxattr(fs, f, "user.s65536", out, sizeof(out)), 4);
	CHECK_OK(cf_fs_setxattr(fs, f, "user.a", big, 5000,
	    CF_FS_XATTR_REPLACE));
	CHECK_RC(cf_fs_getxattr(fs, f, "user.a", out, sizeof(out)), 5000);
	CHECK_RC(cf_fs_setxattr(fs, f, "user.a", "x", 1, CF_FS_XATTR_CREATE),
	    -EEXIST);
	CHECK_RC(cf_fs_setxattr(fs, f, "user.new", "x", 1,
	    CF_FS_XATTR_REPLACE), -ENODATA);
	CHECK_RC(cf_fs_setxattr(fs, f, "user.new", "x", 1, 3), -EINVAL);
	CHECK_RC(cf_fs_setxattr(fs, f, "", "x", 1, 0), -EINVAL);
	memset(longname, 'n', sizeof(longname));
	longname[256] = '\0';
	CHECK_RC(cf_fs_setxattr(fs, f, longname, "x", 1, 0), -ERANGE);
	/* list */
	int64_t need = cf_fs_listxattr(fs, f, NULL, 0);
	/* user.a, user.empty, user.s1022..s1025, user.s10000, user.s65536 */
	CHECK(need == (6 + 1) + (10 + 1) + 4 * (10 + 1) + 2 * (11 + 1));
	CHECK_RC(cf_fs_listxattr(fs, f, list, (size_t)need - 1), -ERANGE);
	CHECK_RC(cf_fs_listxattr(fs, f, list, sizeof(list)), need);
	int names = 0;
	for (int64_t i = 0; i < need; i += (int64_t)strlen(list + i) + 1) {
		CHECK(strncmp(list + i, "user.", 5) == 0);
		names++;
	}
	CHECK(names == 8);
	/* remove */
	CHECK_OK(cf_fs_removexattr(fs, f, "user.s10000"));
	CHECK_RC(cf_fs_getxattr(fs, f, "user.s10000", out, sizeof(out)),
	    -ENODATA);
	CHECK_RC(cf_fs_removexattr(fs, f, "user.s10000"), -ENODATA);
	/* xattrs on a directory and a symlink */
	CHECK_OK(cf_fs_setxattr(fs, cf_fs_root(fs), "user.d", "1", 1, 0));
	CHECK_OK(cf_fs_removexattr(fs, cf_fs_root(fs), "user.d"));
	/* unlink frees the xattr zap and the value objects */
	CHECK(fsenv_nobj(os) > base);
	CHECK_OK(cf_fs_unlink(fs, cf_fs_root(fs), "xa"));
	CHECK(fsenv_nobj(os) == base - 1);
	/* removing the last xattr frees the zap */
	uint64_t g = mkf(cf_fs_root(fs), "xa2");
	base = fsenv_nobj(os);
	CHECK_OK(cf_fs_setxattr(fs, g, "user.only", big, 3000, 0));
	CHECK(fsenv_nobj(os) == base + 2);
	CHECK_OK(cf_fs_removexattr(fs, g, "user.only"));
	CHECK(fsenv_nobj(os) == base);
	CHECK_RC(cf_fs_listxattr(fs, g, list, sizeof(list)), 0);
}

static int ts_le(int64_t s1, uint32_t n1, int64_t s2, uint32_t n2)
{
	return s1 < s2 || (s1 == s2 && n1 <= n2);
}

static void test_attrs(void)
{
	uint64_t root = cf_fs_root(fs), d = mkd(root, "attrs"), f;
	coffer_stat_t st, st2, set;
	struct timespec ts;
	int nonzero_nsec = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	f = mk(d, "f", S_IFREG | 0640);
	st = st_of(f);
	CHECK(st.ino == f && st.gen > 0);
	CHECK(ts_le(ts.tv_sec, (uint32_t)ts.tv_nsec, st.crtime_sec,
	    st.crtime_nsec));
	CHECK(st.atime_sec == st.crtime_sec && st.mtime_nsec == st.crtime_nsec);
	CHECK(st.mtime_nsec < 1000000000u);
	/* the directory's mtime follows its changes */
	st2 = st_of(d);
	CHECK(st2.mtime_sec == st.crtime_sec && st2.mtime_nsec == st.crtime_nsec);
	for (int i = 0; i < 5; i++) {
		CHECK_RC(cf_fs_write(fs, f, 0, "x", 1), 1);
		st2 = st_of(f);
		CHECK(ts_le(st.mtime_sec, st.mtime_nsec, st2.mtime_sec,
		    st2.mtime_nsec));
		CHECK(st2.ctime_sec == st2.mtime_sec &&
		    st2.ctime_nsec == st2.mtime_nsec);
		nonzero_nsec |= st2.mtime_nsec != 0;
		st = st2;
	}
	CHECK(nonzero_nsec);
	CHECK(st.crtime_sec <= st.mtime_sec);

	memset(&set, 0, sizeof(set));
	set.mode = S_IFDIR | 04711;     /* type bits are ignored */
	set.uid = 42;
	set.gid = 43;
	set.atime_sec = 1000000000;
	set.atime_nsec = 123456789;
	set.mtime_sec = -5;
	set.mtime_nsec = 999999999;
	CHECK_OK(cf_fs_setattr(fs, f, COFFER_SET_MODE | COFFER_SET_UID |
	    COFFER_SET_GID | COFFER_SET_ATIME | COFFER_SET_MTIME, &set));
	st2 = st_of(f);
	CHECK(st2.mode == (S_IFREG | 04711) && st2.uid == 42 && st2.gid == 43);
	CHECK(st2.atime_sec == 1000000000 && st2.atime_nsec == 123456789);
	CHECK(st2.mtime_sec == -5 && st2.mtime_nsec == 999999999);
	CHECK(ts_le(st.ctime_sec, st.ctime_nsec, st2.ctime_sec,
	    st2.ctime_nsec));
	set.ctime_sec = 77;
	set.ctime_nsec = 1;
	CHECK_OK(cf_fs_setattr(fs, f, COFFER_SET_CTIME, &set));
	st2 = st_of(f);
	CHECK(st2.ctime_sec == 77 && st2.ctime_nsec == 1);
	set.atime_nsec = 1000000000;
	CHECK_RC(cf_fs_setattr(fs, f, COFFER_SET_ATIME, &set), -EINVAL);
	CHECK_RC(cf_fs_setattr(fs, f, 0x1000, &set), -EINVAL);
	set.size = 10;
	CHECK_OK(cf_fs_setattr(fs, f, COFFER_SET_SIZE, &set));
	CHECK(st_of(f).size == 10);
	CHECK_RC(cf_fs_setattr(fs, d, COFFER_SET_SIZE, &set), -EISDIR);
	/* devices keep rdev, others do not */
	uint64_t dev = 0;
	CHECK_OK(cf_fs_mknod(fs, d, "dev", S_IFCHR | 0600, 0, 0, 0x1234, NULL,
	    &dev));
	CHECK(st_of(dev).rdev == 0x1234 && st_of(dev).mode == (S_IFCHR | 0600));
	CHECK_OK(cf_fs_mknod(fs, d, "sock", S_IFSOCK | 0600, 0, 0, 0x1234,
	    NULL, &dev));
	CHECK(st_of(dev).rdev == 0);
	CHECK_RC(cf_fs_getattr(fs, 1, &st), -ENOENT);   /* master node */
	CHECK_RC(cf_fs_getattr(fs, 0, &st), -ENOENT);
}

static void test_persist_and_readonly(void)
{
	uint64_t root = cf_fs_root(fs), d = mkd(root, "keep"), f, ino;
	cf_objset_t *snap;
	cf_fs_t *ro;
	char out[16];
	struct listing l;

	f = mkf(d, "file");
	CHECK_RC(cf_fs_write(fs, f, 0, "persist", 7), 7);
	cf_fs_unmount(fs);
	CHECK_OK(cf_fs_mount(os, &fs));
	CHECK_OK(cf_fs_resolve(fs, "/keep/file", 1, &ino));
	CHECK(ino == f);
	CHECK_RC(cf_fs_read(fs, f, 0, out, sizeof(out)), 7);

	snap = tenv_os_snapshot(os);
	CHECK_OK(cf_fs_mount(snap, &ro));
	CHECK_OK(cf_fs_resolve(ro, "/keep/file", 1, &ino));
	CHECK_RC(cf_fs_read(ro, f, 0, out, sizeof(out)), 7);
	CHECK_RC(cf_fs_mknod(ro, d, "n", S_IFREG, 0, 0, 0, NULL, &ino), -EROFS);
	CHECK_RC(cf_fs_write(ro, f, 0, "x", 1), -EROFS);
	CHECK_RC(cf_fs_truncate(ro, f, 0), -EROFS);
	CHECK_RC(cf_fs_unlink(ro, d, "file"), -EROFS);
	CHECK_RC(cf_fs_rmdir(ro, root, "keep"), -EROFS);
	CHECK_RC(cf_fs_rename(ro, d, "file", d, "f2", 0), -EROFS);
	CHECK_RC(cf_fs_link(ro, f, d, "f2"), -EROFS);
	CHECK_RC(cf_fs_setxattr(ro, f, "user.x", "1", 1, 0), -EROFS);
	CHECK_RC(cf_fs_removexattr(ro, f, "user.x"), -EROFS);
	CHECK_RC(cf_fs_setattr(ro, f, COFFER_SET_MODE, &(coffer_stat_t){0}),
	    -EROFS);
	memset(&l, 0, sizeof(l));
	uint64_t cookie = 0;
	CHECK_OK(cf_fs_readdir(ro, d, &cookie, list_cb, &l));
	CHECK(l.n == 3);
	free(l.e);
	/* the snapshot does not see later changes */
	CHECK_OK(cf_fs_unlink(fs, d, "file"));
	CHECK_OK(cf_fs_resolve(ro, "/keep/file", 1, &ino));
	cf_fs_unmount(ro);
	tenv_os_close(snap);
}

static int hexname(char *buf, size_t n, uint64_t v)
{
	return snprintf(buf, n, "%" PRIx64, v);
}

static void test_delete_queue(void)
{
	uint64_t f = mkf(cf_fs_root(fs), "doomed"), f2, dq, cnt;
	uint8_t bonus[CF_BONUS_MAX];
	char key[32];
	cf_tx_t *tx;
	int len;

	/* what an unlink of an open file will do: nlink 0, queued */
	CHECK_OK(cf_fs_setxattr(fs, f, "user.x", "1", 1, 0));
	f2 = mkf(cf_fs_root(fs), "linked");
	CHECK_OK(cf_zap_lookup_u64(os, 1, "DELETE_QUEUE", &dq));
	CHECK_OK(cf_tx_begin(os, 1 << 20, &tx));
	CHECK_OK(cf_zap_remove(os, tx, cf_fs_root(fs), "doomed"));
	len = cf_bonus_read(os, f, bonus, sizeof(bonus));
	CHECK(len >= 112);
	le32_put(bonus + 16, 0);
	CHECK_OK(cf_bonus_write(os, tx, f, bonus, (size_t)len));
	hexname(key, sizeof(key), f);
	CHECK_OK(cf_zap_add_u64(os, tx, dq, key, f));
	/* a queued node that is linked again must survive */
	hexname(key, sizeof(key), f2);
	CHECK_OK(cf_zap_add_u64(os, tx, dq, key, f2));
	cf_tx_end(tx);
	cf_fs_unmount(fs);
	CHECK_OK(cf_fs_mount(os, &fs));
	CHECK_RC(cf_fs_getattr(fs, f, &(coffer_stat_t){0}), -ENOENT);
	CHECK_OK(cf_fs_getattr(fs, f2, &(coffer_stat_t){0}));
	CHECK_OK(cf_zap_count(os, dq, &cnt));
	CHECK(cnt == 0);
}

/* Hostile attribute bytes: errors, never crashes. */
static void test_corrupt_bonus(void)
{
	uint64_t root = cf_fs_root(fs), d = mkd(root, "bad"), f, l, sub, ino;
	uint8_t good[CF_BONUS_MAX], b[CF_BONUS_MAX];
	char out[256];
	cf_tx_t *tx;
	int len;
	uint64_t seed = 99;

	f = mkf(d, "f");
	l = mkl(d, "l", "f");
	sub = mkd(d, "sub");
	CHECK(f && l && sub);
	uint64_t victims[] = { f, l, sub };
	for (size_t v = 0; v < CF_ARRAY_SIZE(victims); v++) {
		uint64_t o = victims[v];
		len = cf_bonus_read(os, o, good, sizeof(good));
		CHECK(len >= 112);
		for (int trial = 0; trial < 2000; trial++) {
			size_t blen = (size_t)len;
			memcpy(b, good, sizeof(b));
			for (int k = 0; k < 1 + trial % 4; k++) {
				seed = seed * 6364136223846793005ULL + 1;
				b[(seed >> 33) % (uint64_t)len] ^=
				    (uint8_t)(1u << ((seed >> 20) % 8));
			}
			if (trial % 50 == 0)
				blen = (size_t)(seed >> 40) % CF_BONUS_MAX;
			CHECK_OK(cf_tx_begin(os, 4096, &tx));
			CHECK_OK(cf_bonus_write(os, tx, o, b, blen));
			cf_tx_end(tx);
			coffer_stat_t st;
			struct listing li;
			int rc = cf_fs_getattr(fs, o, &st);
			CHECK(rc == 0 || rc == COFFER_ECORRUPT ||
			    rc == COFFER_ENOTSUP);
			rc = cf_fs_readlink(fs, o, out, sizeof(out));
			CHECK(rc >= 0 || rc == -EINVAL || rc == COFFER_ECORRUPT ||
			    rc == COFFER_ENOTSUP);
			int64_t r = cf_fs_read(fs, o, 0, out, sizeof(out));
			CHECK(r >= 0 || r == -EINVAL || r == -EISDIR ||
			    r == COFFER_ECORRUPT || r == COFFER_ENOTSUP);
			rc = cf_fs_resolve(fs, "/bad/l", 1, &ino);
			(void)rc;
			rc = cf_fs_resolve(fs, "/bad/sub/..", 1, &ino);
			(void)rc;
			if (list_all(o, &li, 0) == 0)
				free(li.e);
		}
		CHECK_OK(cf_tx_begin(os, 4096, &tx));
		CHECK_OK(cf_bonus_write(os, tx, o, good, (size_t)len));
		cf_tx_end(tx);
	}
	/* a directory entry with a bad value */
	CHECK_OK(cf_tx_begin(os, 1 << 20, &tx));
	CHECK_OK(cf_zap_add(os, tx, d, "junk", "12345", 5));
	CHECK_OK(cf_zap_add(os, tx, d, "dangling", "\x77\x77\x77\0\0\0\0\0\x08",
	    9));
	cf_tx_end(tx);
	CHECK_RC(cf_fs_lookup(fs, d, "junk", &ino), COFFER_ECORRUPT);
	CHECK_RC(cf_fs_unlink(fs, d, "dangling"), COFFER_ECORRUPT);
	struct listing li;
	CHECK_RC(list_all(d, &li, 0), COFFER_ECORRUPT);
	free(li.e);
	CHECK_OK(cf_fs_resolve(fs, "/bad/sub", 1, &ino));
}

/* Leaks: everything created and removed leaves the object count alone. */
static void test_no_leaks(void)
{
	uint64_t root = cf_fs_root(fs), base = fsenv_nobj(os), d, s, f;
	char big[5000];
	memset(big, 'q', sizeof(big));
	d = mkd(root, "leak");
	s = mkd(d, "s");
	f = mkf(s, "f");
	CHECK_RC(cf_fs_write(fs, f, 1 << 20, big, sizeof(big)), 5000);
	CHECK_OK(cf_fs_setxattr(fs, f, "user.big", big, sizeof(big), 0));
	CHECK_OK(cf_fs_setxattr(fs, s, "user.small", big, 10, 0));
	CHECK(mkl(s, "long", "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	CHECK_OK(cf_fs_link(fs, f, d, "f2"));
	CHECK_OK(cf_fs_unlink(fs, s, "f"));
	CHECK_OK(cf_fs_unlink(fs, s, "long"));
	CHECK_OK(cf_fs_rmdir(fs, d, "s"));
	CHECK_OK(cf_fs_unlink(fs, d, "f2"));
	CHECK_OK(cf_fs_rmdir(fs, root, "leak"));
	CHECK(fsenv_nobj(os) == base);
}

/* Write one u32 / u64 field of a node's bonus, bypassing the fs. */
static void poke(uint64_t ino, int off, uint64_t v, int width)
{
	uint8_t b[CF_BONUS_MAX];
	cf_tx_t *tx;
	int len = cf_bonus_read(os, ino, b, sizeof(b));
	if (len < 112)
		abort();
	if (width == 4)
		le32_put(b + off, (uint32_t)v);
	else
		le64_put(b + off, v);
	if (cf_tx_begin(os, 4096, &tx))
		abort();
	if (cf_bonus_write(os, tx, ino, b, (size_t)len))
		abort();
	cf_tx_end(tx);
}

static void test_limits_and_loops(void)
{
	uint64_t root = cf_fs_root(fs), d = mkd(root, "lim"), a, b, c, x, ino;

	/* a directory at the link limit takes no more subdirectories */
	poke(d, 16, CF_FS_LINK_MAX, 4);
	CHECK_RC(cf_fs_mknod(fs, d, "sub", S_IFDIR | 0755, 0, 0, 0, NULL,
	    &ino), -EMLINK);
	CHECK(mkf(d, "file-is-fine"));
	x = mkd(root, "lim-x");
	CHECK_RC(cf_fs_rename(fs, root, "lim-x", d, "x", 0), -EMLINK);
	poke(d, 16, 2, 4);
	CHECK_OK(cf_fs_rename(fs, root, "lim-x", d, "x", 0));
	CHECK(st_of(d).nlink == 3);

	/* a parent loop (a <-> b) is corruption, found quickly */
	a = mkd(d, "a");
	b = mkd(a, "b");
	c = mkd(b, "c");
	poke(a, 88, c, 8);
	CHECK_RC(cf_fs_rename(fs, d, "x", c, "x", 0), COFFER_ECORRUPT);
	poke(a, 88, b, 8);
	CHECK_RC(cf_fs_rename(fs, d, "x", b, "x", 0), COFFER_ECORRUPT);
	poke(a, 88, d, 8);
	CHECK_OK(cf_fs_rename(fs, d, "x", c, "x", 0));
	CHECK_OK(cf_fs_lookup(fs, x, "..", &ino));
	CHECK(ino == c);
	/* a parent pointing at a file */
	poke(b, 88, mkf(d, "f"), 8);
	CHECK_RC(cf_fs_rename(fs, c, "x", b, "x2", 0), COFFER_ECORRUPT);
	poke(b, 88, a, 8);
}

void test_main(void)
{
	fs = fsenv_new(&os);
	RUN(test_format_mount);
	RUN(test_names);
	RUN(test_tree);
	RUN(test_readdir_resume);
	RUN(test_readdir_churn);
	RUN(test_file_io);
	RUN(test_large_write);
	RUN(test_holes);
	RUN(test_truncate);
	RUN(test_hardlinks);
	RUN(test_symlinks);
	RUN(test_rename);
	RUN(test_xattrs);
	RUN(test_attrs);
	RUN(test_persist_and_readonly);
	RUN(test_delete_queue);
	RUN(test_corrupt_bonus);
	RUN(test_no_leaks);
	RUN(test_limits_and_loops);
	fsenv_free(fs, os);
}
