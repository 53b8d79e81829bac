/*
 * keyring: the directory of signing key pairs and trusted public keys.
 * The layout is drawn in sign.h.
 *
 * Invariants
 *  1. Every use of the keyring first checks the directory: owned by the
 *     effective user, not writable by group or others.  Every file read
 *     is opened with O_NOFOLLOW and checked on its descriptor: a regular
 *     file owned by the effective user, not writable by group or others,
 *     and for a private key not readable by them either.  Anything looser
 *     is refused with a one-line reason, never repaired silently.
 *  2. Files are created complete or not at all: written under a
 *     temporary name (O_EXCL, final mode from the start), synced, then
 *     linked to their name, which fails rather than replace a key.
 *  3. A private key is read into cf_secure_alloc memory, decoded by
 *     crypto into OpenSSL's secure heap and the buffer wiped; it is never
 *     written anywhere but NAME.key, and only as (encrypted) PKCS#8.
 *  4. A key pair's two halves must agree: the private key loaded must
 *     have the fingerprint of its NAME.pub.
 */
#include "sign/sign.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MAX (64u << 10)    /* more than any key file */

int cf_kr_default_dir(char *buf, size_t n)
{
	const char *e = getenv("COFFER_KEYRING");

	if (e && e[0])
		return cf_snprintf(buf, n, "%s", e);
	return cf_snprintf(buf, n, "%s/keys", coffer_home());
}

static int check_dir(const char *dir, int create)
{
	struct stat st;

	if (create && mkdir(dir, 0700) != 0 && errno == ENOENT) {
		/* $COFFER_HOME itself may not exist yet */
		char parent[4096];
		cf_strlcpy(parent, dir, sizeof(parent));
		char *sl = strrchr(parent, '/');
		if (sl && sl != parent) {
			*sl = 0;
			(void)mkdir(parent, 0700);
			(void)mkdir(dir, 0700);
		}
	}
	if (stat(dir, &st) != 0) {
		int e = errno;
		if (e == ENOENT)
			cf_set_errdetail("keyring '%s' does not exist", dir);
		else
			cf_set_errdetail("keyring '%s': %s", dir, strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode)) {
		cf_set_errdetail("keyring '%s' is not a directory", dir);
		return -ENOTDIR;
	}
	if (st.st_uid != geteuid()) {
		cf_set_errdetail("keyring '%s' is owned by uid %u, not by you "
		    "(uid %u)", dir, (unsigned)st.st_uid, (unsigned)geteuid());
		return -EACCES;
	}
	if (st.st_mode & 022) {
		cf_set_errdetail("keyring '%s' is writable by group or others "
		    "(chmod go-w '%s')", dir, dir);
		return -EACCES;
	}
	return 0;
}

static int path_of(char *buf, size_t n, const char *dir, const char *name,
    const char *ext)
{
	int err = cf_snprintf(buf, n, "%s/%s.%s", dir, name, ext);
	if (err)
		cf_set_errdetail("keyring path too long");
	return err;
}

/*
 * Read a key file whole into buf (cap bytes), checking it as invariant 1
 * says.  -ENOENT when absent (detail set).
 */
static int read_key_file(const char *dir, const char *name, int priv,
    uint8_t *buf, size_t cap, size_t *len)
{
	char p[4200];
	struct stat st;
	int err = path_of(p, sizeof(p), dir, name, priv ? "key" : "pub");
	int fd;

	if (err)
		return err;
	fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		err = -errno;
		if (err == -ENOENT)
			cf_set_errdetail("no key '%s' in keyring '%s'", name, dir);
		else if (err == -ELOOP)
			cf_set_errdetail("'%s' is a symbolic link", p);
		else
			cf_set_errdetail("'%s': %s", p, strerror(-err));
		return err;
	}
	if (fstat(fd, &st) != 0) {
		err = -errno;
	} else if (!S_ISREG(st.st_mode)) {
		cf_set_errdetail("'%s' is not a regular file", p);
		err = -EACCES;
	} else if (st.st_uid != geteuid()) {
		cf_set_errdetail("'%s' is owned by uid %u, not by you (uid %u)",
		    p, (unsigned)st.st_uid, (unsigned)geteuid());
		err = -EACCES;
	} else if (priv && (st.st_mode & 077)) {
		cf_set_errdetail("private key '%s' is accessible by group or "
		    "others (chmod 600 '%s')", p, p);
		err = -EACCES;
	} else if (st.st_mode & 022) {
		cf_set_errdetail("'%s' is writable by group or others "
		    "(chmod go-w '%s')", p, p);
		err = -EACCES;
	}
	size_t got = 0;
	while (!err) {
		ssize_t r = read(fd, buf + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got == cap) {
			cf_set_errdetail("'%s' is too large for a key file", p);
			err = -EFBIG;
		}
	}
	close(fd);
	*len = got;
	return err;
}

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* Create dir/name.ext with `mode`, complete or not at all (invariant 2).
 * COFFER_EEXIST when it exists. */
static int write_key_file(const char *dir, const char *name, const char *ext,
    mode_t mode, const void *data, size_t len)
{
	char p[4200], tmp[4300];
	int err = path_of(p, sizeof(p), dir, name, ext);
	uint8_t rnd[8];

	if (err)
		return err;
	if ((err = cf_random(rnd, sizeof(rnd))) != 0)
		return err;
	err = cf_snprintf(tmp, sizeof(tmp), "%s/.%s.%s.%02x%02x%02x%02x", dir,
	    name, ext, rnd[0], rnd[1], rnd[2], rnd[3]);
	if (err)
		return err;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	if (fd < 0) {
		err = -errno;
		cf_set_errdetail("cannot create '%s': %s", tmp, strerror(-err));
		return err;
	}
	if (fchmod(fd, mode) != 0 || (err = write_all(fd, data, len)) != 0 ||
	    fsync(fd) != 0) {
		if (!err)
			err = -errno;
	}
	if (close(fd) != 0 && !err)
		err = -errno;
	if (!err && link(tmp, p) != 0) {
		err = -errno;
		if (err == -EEXIST) {
			cf_set_errdetail("'%s' already exists", p);
			err = COFFER_EEXIST;
		}
	} else if (err) {
		cf_set_errdetail("cannot write '%s': %s", tmp, strerror(-err));
	}
	unlink(tmp);
	if (!err)
		sync_dir(dir);
	return err;
}

static int exists(const char *dir, const char *name, const char *ext)
{
	char p[4200];
	struct stat st;

	if (path_of(p, sizeof(p), dir, name, ext) != 0)
		return 0;
	return lstat(p, &st) == 0;
}

/* The public half of key `name`, from NAME.pub (its line must name it). */
static int load_pub(const char *dir, const char *name, cf_signkey_t **out)
{
	char text[CF_SIGN_PUB_TEXT + 8];
	size_t len;
	int err = read_key_file(dir, name, 0, (uint8_t *)text,
	    sizeof(text) - 1, &len);

	if (err == -EFBIG) {
		cf_set_errdetail("key '%s': '%s.pub' is not one public key line",
		    name, name);
		return -EINVAL;
	}
	if (err)
		return err;
	err = cf_sign_pub_parse(text, len, NULL, out);
	if (err) {
		cf_set_errdetail("key '%s': '%s.pub' is not one public key line",
		    name, name);
		return err;
	}
	if (strcmp((*out)->name, name) != 0) {
		cf_set_errdetail("key '%s': '%s.pub' names the key '%s'", name,
		    name, (*out)->name);
		cf_signkey_free(*out);
		*out = NULL;
		return -EINVAL;
	}
	return 0;
}

/* Read NAME.key into secure memory: *pem (FILE_MAX bytes) and *len. */
static int read_private(const char *dir, const char *name, uint8_t **pem,
    size_t *len)
{
	uint8_t *b = cf_secure_alloc(FILE_MAX);
	int err;

	*pem = NULL;
	if (!b)
		return -ENOMEM;
	err = read_key_file(dir, name, 1, b, FILE_MAX, len);
	if (err) {
		cf_secure_free(b, FILE_MAX);
		return err;
	}
	*pem = b;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the keys (NAME.pub files), sorted; *names is malloc'ed. */
static int key_names(const char *dir, char ***names, int *count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	int n = 0, cap = 0, err = 0;

	*names = NULL;
	*count = 0;
	if (!d) {
		err = -errno;
		cf_set_errdetail("keyring '%s': %s", dir, strerror(-err));
		return err;
	}
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".pub") != 0 ||
		    e->d_name[0] == '.')
			continue;
		char name[CF_SIGN_NAME_MAX + 1];
		if (l - 4 > CF_SIGN_NAME_MAX)
			continue;
		memcpy(name, e->d_name, l - 4);
		name[l - 4] = 0;
		if (cf_sign_name_check(name) != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			char **nv = realloc(v, (size_t)cap * sizeof(*v));
			if (!nv) {
				err = -ENOMEM;
				break;
			}
			v = nv;
		}
		if ((v[n] = cf_strdup(name)) == NULL) {
			err = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	cf_clear_errdetail();
	if (err) {
		for (int i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return err;
	}
	if (n)
		qsort(v, (size_t)n, sizeof(*v), cmp_names);
	*names = v;
	*count = n;
	return 0;
}

static void free_names(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* A listed key: its public half plus what its NAME.key says. */
static int load_listed(const char *dir, const char *name, cf_signkey_t **out)
{
	int err = load_pub(dir, name, out);

	if (err || !exists(dir, name, "key"))
		return err;
	uint8_t *pem;
	size_t len;
	err = read_private(dir, name, &pem, &len);
	if (err) {
		cf_signkey_free(*out);
		*out = NULL;
		return err;
	}
	(*out)->has_private = 1;
	(*out)->encrypted = cf_sigkey_pem_encrypted(pem, len);
	cf_secure_free(pem, FILE_MAX);
	return 0;
}

int cf_kr_list(const char *dir, int (*cb)(const cf_signkey_t *k, void *arg),
    void *arg)
{
	char **names;
	int n, err = check_dir(dir, 0);

	if (err == -ENOENT) {
		cf_clear_errdetail();
		return 0;               /* no keyring yet: no keys */
	}
	if (err || (err = key_names(dir, &names, &n)) != 0)
		return err;
	for (int i = 0; i < n && !err; i++) {
		cf_signkey_t *k;
		err = load_listed(dir, names[i], &k);
		if (!err) {
			err = cb(k, arg);
			cf_signkey_free(k);
		}
	}
	free_names(names, n);
	return err;
}

struct find_arg {
	const char *id;                 /* "default", "SHA256:..." */
	const uint8_t *fp;
	char name[CF_SIGN_NAME_MAX + 1];
};

static int find_cb(const cf_signkey_t *k, void *arg)
{
	struct find_arg *a = arg;
	char t[CF_SIGN_FP_TEXT];

	if (a->fp) {
		if (!cf_ct_equal(a->fp, k->fp, CF_SIGN_FP_LEN))
			return 0;
	} else if (strcmp(a->id, "default") == 0) {
		if (!k->has_private)
			return 0;
	} else {
		cf_sign_fp_format(k->fp, t, sizeof(t));
		if (strlen(t) != strlen(a->id) ||
		    !cf_ct_equal(t, a->id, strlen(t)))
			return 0;
	}
	cf_strlcpy(a->name, k->name, sizeof(a->name));
	return 1;
}

static int resolve(const char *dir, const char *id, const uint8_t *fp,
    char *name, size_t n)
{
	struct find_arg a = { id, fp, "" };
	int err;

	if (!fp && strcmp(id, "default") != 0 && strncmp(id, "SHA256:", 7)) {
		if ((err = cf_sign_name_check(id)) != 0)
			return err;
		cf_strlcpy(name, id, n);
		return 0;
	}
	err = cf_kr_list(dir, find_cb, &a);
	if (err < 0)
		return err;
	if (err == 0) {
		if (fp)
			cf_set_errdetail("no key with this fingerprint in "
			    "keyring '%s'", dir);
		else if (strcmp(id, "default") == 0)
			cf_set_errdetail("no key pair in keyring '%s' (create "
			    "one with 'coffer key generate')", dir);
		else
			cf_set_errdetail("no key %s in keyring '%s'", id, dir);
		return -ENOENT;
	}
	cf_strlcpy(name, a.name, n);
	return 0;
}

int cf_kr_find(const char *dir, const char *id, cf_signkey_t **out)
{
	char name[CF_SIGN_NAME_MAX + 1];
	int err;

	*out = NULL;
	if ((err = check_dir(dir, 0)) != 0 ||
	    (err = resolve(dir, id, NULL, name, sizeof(name))) != 0)
		return err;
	return load_listed(dir, name, out);
}

int cf_kr_find_fp(const char *dir, const uint8_t fp[CF_SIGN_FP_LEN],
    cf_signkey_t **out)
{
	char name[CF_SIGN_NAME_MAX + 1];
	int err;

	*out = NULL;
	if ((err = check_dir(dir, 0)) != 0) {
		if (err == -ENOENT)
			cf_set_errdetail("no key with this fingerprint (no "
			    "keyring '%s')", dir);
		return err;
	}
	if ((err = resolve(dir, NULL, fp, name, sizeof(name))) != 0)
		return err;
	return load_listed(dir, name, out);
}

int cf_kr_load_private(const char *dir, const char *id, const uint8_t *pass,
    size_t plen, cf_signkey_t **out)
{
	cf_signkey_t *pub, *k;
	cf_sigkey_t *sk;
	uint8_t *pem;
	size_t len;
	int err;

	*out = NULL;
	if ((err = cf_kr_find(dir, id, &pub)) != 0)
		return err;
	if (!pub->has_private) {
		cf_set_errdetail("key '%s' is a trusted public key, not a key "
		    "pair: it cannot sign", pub->name);
		cf_signkey_free(pub);
		return -ENOENT;
	}
	err = read_private(dir, pub->name, &pem, &len);
	if (!err) {
		err = cf_sigkey_from_pem(pem, len, pass, plen, &sk);
		cf_secure_free(pem, FILE_MAX);
		if (err == COFFER_ENOKEY)
			cf_set_errdetail("key '%s' is protected by a passphrase",
			    pub->name);
		else if (err == COFFER_EWRONGKEY)
			cf_set_errdetail("wrong passphrase for key '%s'",
			    pub->name);
		else if (err)
			cf_set_errdetail("'%s.key' does not hold a private key",
			    pub->name);
	}
	if (!err && (err = cf_sign_wrap(sk, pub->name, &k)) == 0) {
		if (!cf_ct_equal(k->fp, pub->fp, CF_SIGN_FP_LEN)) {
			cf_set_errdetail("key '%s': '%s.key' and '%s.pub' are "
			    "not two halves of one key", pub->name, pub->name,
			    pub->name);
			cf_signkey_free(k);
			err = -EINVAL;
		} else {
			k->encrypted = pub->encrypted;
			*out = k;
		}
	}
	cf_signkey_free(pub);
	return err;
}

static int add_pub(const char *dir, const cf_signkey_t *k)
{
	char line[CF_SIGN_PUB_TEXT];
	int err = cf_sign_pub_format(k, line, sizeof(line) - 1);

	if (err)
		return err;
	size_t n = strlen(line);
	line[n++] = '\n';
	return write_key_file(dir, k->name, "pub", 0644, line, n);
}

static int new_name_ok(const char *dir, const cf_signkey_t *k)
{
	cf_signkey_t *old;

	if (exists(dir, k->name, "pub") || exists(dir, k->name, "key")) {
		cf_set_errdetail("key '%s' already exists", k->name);
		return COFFER_EEXIST;
	}
	int err = cf_kr_find_fp(dir, k->fp, &old);
	if (err == 0) {
		cf_set_errdetail("this key is already in the keyring as '%s'",
		    old->name);
		cf_signkey_free(old);
		return COFFER_EEXIST;
	}
	if (err != -ENOENT)
		return err;
	cf_clear_errdetail();
	return 0;
}

int cf_kr_generate(const char *dir, const char *name, int alg,
    const uint8_t *pass, size_t plen, cf_signkey_t **out)
{
	cf_sigkey_t *sk;
	cf_signkey_t *k;
	uint8_t *pem;
	size_t len;
	int err;

	if (out)
		*out = NULL;
	if ((err = cf_sign_name_check(name)) != 0)
		return err;
	if (!cf_sign_alg_name(alg)) {
		cf_set_errdetail("unknown key algorithm %d", alg);
		return -EINVAL;
	}
	if ((err = check_dir(dir, 1)) != 0)
		return err;
	if (exists(dir, name, "pub") || exists(dir, name, "key")) {
		cf_set_errdetail("key '%s' already exists", name);
		return COFFER_EEXIST;
	}
	if ((err = cf_sigkey_generate(alg, &sk)) != 0)
		return err;
	if ((err = cf_sign_wrap(sk, name, &k)) != 0)
		return err;
	err = cf_sigkey_to_pem(k->k, pass, plen, &pem, &len);
	if (!err) {
		err = write_key_file(dir, name, "key", 0600, pem, len);
		cf_secure_free(pem, len);
	}
	if (!err) {
		err = add_pub(dir, k);
		if (err) {
			char p[4200];
			if (path_of(p, sizeof(p), dir, name, "key") == 0)
				unlink(p);
		}
	}
	k->encrypted = pass != NULL;
	if (!err && out)
		*out = k;
	else
		cf_signkey_free(k);
	return err;
}

int cf_kr_trust(const char *dir, const char *text, size_t len,
    const char *rename, cf_signkey_t **out)
{
	cf_signkey_t *k;
	int err;

	if (out)
		*out = NULL;
	if ((err = cf_sign_pub_parse(text, len, rename, &k)) != 0)
		return err;
	if ((err = check_dir(dir, 1)) == 0 && (err = new_name_ok(dir, k)) == 0)
		err = add_pub(dir, k);
	if (!err && out)
		*out = k;
	else
		cf_signkey_free(k);
	return err;
}

/* Overwrite a private key file before it is unlinked (best effort: the
 * file system may keep old blocks, but no plain copy stays in place). */
static void scrub_file(const char *p)
{
	int fd = open(p, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    st.st_size <= (off_t)FILE_MAX) {
		uint8_t z[4096] = { 0 };
		off_t left = st.st_size;
		while (left > 0) {
			size_t k = (size_t)CF_MIN(left, (off_t)sizeof(z));
			if (write_all(fd, z, k) != 0)
				break;
			left -= (off_t)k;
		}
		(void)fsync(fd);
	}
	close(fd);
}

int cf_kr_remove(const char *dir, const char *name)
{
	char p[4200];
	int err;

	if ((err = cf_sign_name_check(name)) != 0 ||
	    (err = check_dir(dir, 0)) != 0)
		return err;
	if (!exists(dir, name, "pub") && !exists(dir, name, "key")) {
		cf_set_errdetail("no key '%s' in keyring '%s'", name, dir);
		return -ENOENT;
	}
	if (exists(dir, name, "key")) {
		if ((err = path_of(p, sizeof(p), dir, name, "key")) != 0)
			return err;
		scrub_file(p);
		if (unlink(p) != 0) {
			err = -errno;
			cf_set_errdetail("cannot remove '%s': %s", p,
			    strerror(-err));
			return err;
		}
	}
	if (exists(dir, name, "pub")) {
		if ((err = path_of(p, sizeof(p), dir, name, "pub")) != 0)
			return err;
		if (unlink(p) != 0) {
			err = -errno;
			cf_set_errdetail("cannot remove '%s': %s", p,
			    strerror(-err));
			return err;
		}
	}
	sync_dir(dir);
	return 0;
}
