/*
 * recvlib.h: what the receive fuzz target (fuzz_recv.c), its corpus
 * generator (gen_recv_corpus.c) and the hostile stream tests
 * (tests/unit/lib/test_hostile.c) share, through the public API only:
 *
 *   - rl_build_fs / rl_build_vol: a small dataset made the same way every
 *     time (phase 0: the base; phase 1: the changes an incremental
 *     carries), with what a receive must handle: many objects (more than
 *     one dnode block), a multi-block file, a sparse file with holes,
 *     directories, a symlink, an xattr, removed and new files (reused
 *     object ids), a truncated file; and a volume with holes;
 *   - rl_fingerprint: a SHA-256 over everything a user can see of a
 *     dataset and its snapshots (tree, modes, sizes, times, contents,
 *     link targets, xattrs, or a volume's bytes; snapshot names and guids;
 *     used and referenced), so "the target is unchanged" is one memcmp.
 *
 * Header only (static functions): scripts/fuzz.sh builds a target from
 * its one .c file.
 */
#ifndef COFFER_TESTS_RECVLIB_H
#define COFFER_TESTS_RECVLIB_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "coffer.h"

#define RL_VOLSIZE (4u << 20)

/* deterministic bytes: the same (seed, n) always gives the same data */
static inline void rl_fill(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

static inline int rl_put(coffer_fs_t *fs, uint64_t dir, const char *name,
    uint64_t seed, size_t n, uint64_t off)
{
	uint64_t ino;
	int err = coffer_lookup(fs, dir, name, &ino);

	if (err == -ENOENT)
		err = coffer_mknod(fs, dir, name, 0100644, 0, 0, 0, NULL, &ino);
	if (err || n == 0)
		return err;
	uint8_t *b = malloc(n);
	if (!b)
		return -ENOMEM;
	rl_fill(b, n, seed);
	int64_t w = coffer_write(fs, ino, off, b, n);
	free(b);
	return w == (int64_t)n ? 0 : (w < 0 ? (int)w : -EIO);
}

/* The datasets use 4K blocks so that the streams stay small (fuzzing). */
static inline int rl_create(coffer_pool_t *p, const char *name, int vol)
{
	const char *fsprops[] = { "recordsize=4096", NULL };
	const char *volprops[] = { "volblocksize=4096", NULL };

	return coffer_create(p, name, vol ? COFFER_TYPE_VOLUME :
	    COFFER_TYPE_FILESYSTEM, vol ? RL_VOLSIZE : 0,
	    vol ? volprops : fsprops);
}

/* phase 0 makes the base, phase 1 changes it (made by rl_create) */
static inline int rl_build_fs(coffer_pool_t *p, const char *name, int phase)
{
	coffer_fs_t *fs;
	uint64_t root, d, ino;
	int err = coffer_fs_open(p, name, 0, &fs);

	if (err)
		return err;
	root = coffer_fs_root(fs);
	if (phase == 0) {
		err = coffer_mknod(fs, root, "d", 040755, 0, 0, 0, NULL, &d);
		/* 70 small files: objects over three dnode blocks */
		for (int i = 0; i < 70 && !err; i++) {
			char nm[16];
			snprintf(nm, sizeof(nm), "f%02d", i);
			err = rl_put(fs, d, nm, (uint64_t)i, 100 + (size_t)i * 7,
			    0);
		}
		if (!err)       /* five blocks and a tail */
			err = rl_put(fs, root, "big", 1000, 5 * 4096 + 500, 0);
		if (!err)       /* a hole between two written blocks */
			err = rl_put(fs, root, "sparse", 1001, 4096, 0);
		if (!err)
			err = rl_put(fs, root, "sparse", 1002, 4096, 5u << 20);
		if (!err)
			err = coffer_mknod(fs, root, "link", 0120777, 0, 0, 0,
			    "d/f01", &ino);
		if (!err)
			err = coffer_setxattr(fs, d, "user.note", "base", 4, 0);
	} else {
		err = coffer_resolve(fs, "/d", 0, &d);
		/* removed (FREEOBJECTS), rewritten, and new (reused ids) */
		for (int i = 10; i < 20 && !err; i++) {
			char nm[16];
			snprintf(nm, sizeof(nm), "f%02d", i);
			err = coffer_unlink(fs, d, nm);
		}
		for (int i = 30; i < 34 && !err; i++) {
			char nm[16];
			snprintf(nm, sizeof(nm), "f%02d", i);
			err = rl_put(fs, d, nm, 2000 + (uint64_t)i, 300, 0);
		}
		for (int i = 0; i < 6 && !err; i++) {
			char nm[16];
			snprintf(nm, sizeof(nm), "n%d", i);
			err = rl_put(fs, d, nm, 3000 + (uint64_t)i, 900, 0);
		}
		if (!err)       /* one block of six changes */
			err = rl_put(fs, root, "big", 1003, 4096, 8192);
		if (!err)       /* a hole punched by truncation */
			err = coffer_resolve(fs, "/sparse", 0, &ino);
		if (!err)
			err = coffer_truncate(fs, ino, 2048);
		if (!err)
			err = rl_put(fs, root, "sparse", 1004, 512, 3u << 20);
		if (!err)
			err = coffer_setxattr(fs, d, "user.note", "changed", 7, 0);
	}
	int e2 = coffer_fs_close(fs);
	return err ? err : e2;
}

static inline int rl_build_vol(coffer_pool_t *p, const char *name, int phase)
{
	coffer_fs_t *v;
	uint8_t b[4096];
	int err = coffer_fs_open(p, name, 0, &v);

	if (err)
		return err;
	/* phase 0: blocks at 0, 64K and 3M (holes between); phase 1: one
	 * rewritten, one new (4K blocks) */
	uint64_t offs0[] = { 0, 65536, 3u << 20 }, offs1[] = { 65536, 1u << 20 };
	uint64_t *offs = phase ? offs1 : offs0;
	int n = phase ? 2 : 3;
	for (int i = 0; i < n && !err; i++) {
		rl_fill(b, sizeof(b), 5000 + (uint64_t)phase * 10 + (uint64_t)i);
		if (coffer_vol_write(v, offs[i], b, sizeof(b)) !=
		    (int64_t)sizeof(b))
			err = -EIO;
	}
	int e2 = coffer_fs_close(v);
	return err ? err : e2;
}

/* ---- fingerprint ------------------------------------------------------ */

struct rl_ent {
	char name[256];
	uint64_t ino;
};

struct rl_dir {
	struct rl_ent *v;
	size_t n, cap;
};

static inline int rl_dir_cb(const char *name, uint64_t ino, uint32_t type,
    uint64_t next, void *arg)
{
	struct rl_dir *l = arg;

	(void)type; (void)next;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 32;
		struct rl_ent *nv = realloc(l->v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		l->v = nv;
		l->cap = nc;
	}
	snprintf(l->v[l->n].name, sizeof(l->v[l->n].name), "%s", name);
	l->v[l->n++].ino = ino;
	return 0;
}

static inline int rl_hash_node(coffer_fs_t *fs, uint64_t ino, EVP_MD_CTX *h,
    int depth)
{
	coffer_stat_t st;
	int err = coffer_getattr(fs, ino, &st);

	if (err)
		return err;
	if (depth > 32)
		return -ELOOP;
	/* what a user sees; not atime (reads do not change the dataset) */
	uint64_t f[] = { st.ino, st.mode, st.nlink, st.uid, st.gid, st.size,
		st.rdev, (uint64_t)st.mtime_sec, st.mtime_nsec,
		(uint64_t)st.ctime_sec, st.ctime_nsec };
	EVP_DigestUpdate(h, f, sizeof(f));
	char xl[4096];
	int64_t xn = coffer_listxattr(fs, ino, xl, sizeof(xl));
	if (xn < 0)
		return (int)xn;
	EVP_DigestUpdate(h, xl, (size_t)xn);
	for (int64_t i = 0; i < xn; i += (int64_t)strlen(xl + i) + 1) {
		char val[4096];
		int64_t vn = coffer_getxattr(fs, ino, xl + i, val, sizeof(val));
		if (vn < 0)
			return (int)vn;
		EVP_DigestUpdate(h, val, (size_t)vn);
	}
	switch (st.mode & 0170000) {
	case 0100000: {
		uint8_t *b = malloc(65536);
		if (!b)
			return -ENOMEM;
		for (uint64_t off = 0; off < st.size && !err; off += 65536) {
			int64_t r = coffer_read(fs, ino, off, b, 65536);
			if (r < 0)
				err = (int)r;
			else
				EVP_DigestUpdate(h, b, (size_t)r);
		}
		free(b);
		return err;
	}
	case 0120000: {
		char t[4096];
		int n = coffer_readlink(fs, ino, t, sizeof(t));
		if (n < 0)
			return n;
		EVP_DigestUpdate(h, t, (size_t)n);
		return 0;
	}
	case 0040000: {
		struct rl_dir l = { 0 };
		uint64_t cookie = 0;
		err = coffer_readdir(fs, ino, &cookie, rl_dir_cb, &l);
		for (size_t i = 0; i < l.n && !err; i++) {
			EVP_DigestUpdate(h, l.v[i].name, strlen(l.v[i].name) + 1);
			err = rl_hash_node(fs, l.v[i].ino, h, depth + 1);
		}
		free(l.v);
		return err;
	}
	default:
		return 0;
	}
}

static inline int rl_hash_ds(coffer_pool_t *p, const char *name, int vol,
    EVP_MD_CTX *h)
{
	coffer_fs_t *fs;
	int err = coffer_fs_open(p, name, 0, &fs);

	if (err)
		return err;
	if (vol) {
		uint64_t size = coffer_vol_size(fs);
		uint8_t *b = malloc(65536);
		EVP_DigestUpdate(h, &size, sizeof(size));
		for (uint64_t off = 0; b && off < size && !err; off += 65536) {
			int64_t r = coffer_vol_read(fs, off, b, 65536);
			if (r < 0)
				err = (int)r;
			else
				EVP_DigestUpdate(h, b, (size_t)r);
		}
		if (!b)
			err = -ENOMEM;
		free(b);
	} else {
		err = rl_hash_node(fs, coffer_fs_root(fs), h, 0);
	}
	int e2 = coffer_fs_close(fs);
	return err ? err : e2;
}

struct rl_snaps {
	coffer_pool_t *p;
	int vol;
	EVP_MD_CTX *h;
};

static inline int rl_snap_cb(const char *name, int type, void *arg)
{
	struct rl_snaps *s = arg;
	coffer_propval_t g;

	if (type != COFFER_TYPE_SNAPSHOT)
		return 0;
	int err = coffer_prop_get(s->p, name, "guid", &g);
	if (err)
		return err;
	const char *at = strchr(name, '@');
	EVP_DigestUpdate(s->h, at, strlen(at) + 1);
	EVP_DigestUpdate(s->h, g.raw, strlen(g.raw) + 1);
	return rl_hash_ds(s->p, name, s->vol, s->h);
}

/* The dataset `name` (or a snapshot), its snapshots (names after the
 * '@', guids, contents) and, with `space`, its used and referenced bytes.
 * Without `space` and with the same snapshots, a received copy has the
 * fingerprint of its source, in another pool or under another name. */
static inline int rl_fingerprint(coffer_pool_t *p, const char *name,
    int space, uint8_t out[32])
{
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	coffer_propval_t u, r, t;
	unsigned olen = 32;

	if (!h)
		return -ENOMEM;
	EVP_DigestInit_ex(h, EVP_sha256(), NULL);
	int err = coffer_prop_get(p, name, "type", &t);
	int vol = !err && !strcmp(t.value, "volume");
	if (!err)
		err = coffer_prop_get(p, name, "used", &u);
	if (!err)
		err = coffer_prop_get(p, name, "referenced", &r);
	if (!err) {
		if (space) {
			EVP_DigestUpdate(h, u.raw, strlen(u.raw) + 1);
			EVP_DigestUpdate(h, r.raw, strlen(r.raw) + 1);
		}
		err = rl_hash_ds(p, name, vol, h);
	}
	if (!err) {
		struct rl_snaps s = { p, vol, h };
		err = coffer_ds_iter(p, name, 0, COFFER_TYPE_SNAPSHOT,
		    rl_snap_cb, &s);
	}
	EVP_DigestFinal_ex(h, out, &olen);
	EVP_MD_CTX_free(h);
	return err;
}

#endif
