/*
 * DEVELOPMENT AID ONLY - NOT PART OF COFFER, NOT IN THE MESON BUILD.
 *
 * A throwaway stand-in for libcoffer (include/coffer.h) so that the CLI in
 * src/cli and the shell tests in tests/integ can be exercised before the
 * real library lands.  It keeps a whole pool in memory and saves it as one
 * opaque blob at the start of the pool's first device file at every sync.
 * There is no copy-on-write, no checksums, no encryption, no crash safety:
 * nothing here says anything about the on-disk format.  Build with
 * tests/cli_mock/build.sh; delete this directory once the library exists.
 *
 * Encryption (the section at the end) models only the key management the
 * CLI drives: encryption roots, key slots, loaded keys.  Nothing is
 * encrypted and keys are checked against a non-cryptographic hash; keys
 * loaded with COFFER_KEY_PERSIST are remembered in $COFFER_HOME/
 * mock-keyring instead of the kernel keyring.
 */
#include "coffer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dsl/props.h"

#define PG 4096u
#define MAGIC "COFFERMOCK1\n"
#define MEMBER "COFFERMOCK-MEMBER\n"

static __thread char detail[512];

static int fail(int rc, const char *fmt, ...)
{
	va_list ap;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	} else {
		detail[0] = '\0';
	}
	return rc;
}

const char *coffer_errdetail(void)
{
	return detail;
}

const char *coffer_strerror(int err)
{
	switch (err) {
	case 0: return "success";
	case COFFER_ECORRUPT: return "corrupt data";
	case COFFER_EAUTH: return "authentication failed";
	case COFFER_ENOKEY: return "encryption key not loaded";
	case COFFER_ENOTSUP: return "unsupported feature";
	case COFFER_EBUSY: return "in use";
	case COFFER_ENOPOOL: return "no such pool";
	case COFFER_ENODS: return "dataset does not exist";
	case COFFER_EEXIST: return "already exists";
	case COFFER_EBADPROP: return "bad property";
	case COFFER_EDEVICE: return "device missing or damaged";
	case COFFER_EBADNAME: return "invalid name";
	case COFFER_EBADSTREAM: return "malformed stream";
	case COFFER_EWRONGKEY: return "wrong passphrase or key";
	case COFFER_EHASCHILD: return "dataset has children or snapshots";
	case COFFER_EREADONLY: return "read-only";
	case COFFER_EINTR: return "interrupted";
	}
	if (err < 0 && err > -1000)
		return strerror(-err);
	return "unknown error";
}

static coffer_log_fn logfn;
static void *logarg;
void coffer_set_log(coffer_log_fn fn, void *arg)
{
	logfn = fn;
	logarg = arg;
}

const char *coffer_home(void)
{
	static char buf[4096];
	const char *h = getenv("COFFER_HOME");
	if (h && *h)
		return h;
	snprintf(buf, sizeof(buf), "%s/.coffer",
	    getenv("HOME") ? getenv("HOME") : "/tmp");
	return buf;
}

/* ---- model ------------------------------------------------------------- */

struct xa { char *name; unsigned char *val; size_t len; };
struct ent { char *name; uint64_t ino; };
struct inode {
	int used;
	coffer_stat_t st;
	uint64_t parent;
	unsigned char **pages;
	uint64_t npages;
	char *target;
	struct ent *ents;
	int nents;
	struct xa *xa;
	int nxa;
};
struct objset {
	struct inode *in;
	uint64_t nin;
};
/* A key slot of an encryption root (mock: a hash stands in for the
 * wrapped keys). */
struct slot {
	int used;
	char fmt[16], kdf[16];
	uint64_t iters, mem, lanes, created, hash;
};
struct ds {
	char name[256];
	int type;
	uint64_t guid, createtxg, creation, volsize;
	char *props[CF_PROP_NPROPS];
	struct objset os;
	struct slot slots[COFFER_MAX_KEY_SLOTS];
};
struct coffer_pool {
	char name[256];
	uint64_t guid, txg, size;
	char **devs;
	int ndev;
	struct ds **ds;
	int nds;
	int rdonly, lockfd;
	uint64_t scrub_state, scrub_start, scrub_end, scrub_examined,
	    scrub_blocks;
	char **loaded;          /* roots whose key this process loaded */
	int nloaded;
	char **open;            /* datasets open in this process */
	int nopen;
};
struct coffer_fs {
	coffer_pool_t *pool;
	char name[256];
	int rdonly;
};

static uint64_t rnd64(void)
{
	static int seeded;
	if (!seeded) {
		srandom((unsigned)time(NULL) ^ (unsigned)getpid());
		seeded = 1;
	}
	return ((uint64_t)random() << 33) ^ ((uint64_t)random() << 11) ^
	    (uint64_t)random();
}

static void now(int64_t *s, uint32_t *ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	*s = ts.tv_sec;
	*ns = (uint32_t)ts.tv_nsec;
}

static struct ds *find_ds(coffer_pool_t *p, const char *name)
{
	for (int i = 0; i < p->nds; i++)
		if (strcmp(p->ds[i]->name, name) == 0)
			return p->ds[i];
	return NULL;
}

static int valid_name(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len > 255)
		return 0;
	const char *p = n;
	int at = 0;
	while (*p) {
		size_t c = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
		    "nopqrstuvwxyz0123456789_.:-");
		if (c == 0)
			return 0;
		p += c;
		if (*p == '/' && !at) {
			p++;
			if (!*p)
				return 0;
		} else if (*p == '@' && !at) {
			at = 1;
			p++;
			if (!*p)
				return 0;
		} else if (*p) {
			return 0;
		}
	}
	return 1;
}

/* ---- inodes ------------------------------------------------------------ */

static uint64_t ino_alloc(struct objset *os)
{
	for (uint64_t i = 1; i < os->nin; i++)
		if (!os->in[i].used)
			return i;
	uint64_t n = os->nin ? os->nin * 2 : 16;
	os->in = realloc(os->in, n * sizeof(struct inode));
	memset(os->in + os->nin, 0, (n - os->nin) * sizeof(struct inode));
	uint64_t r = os->nin ? os->nin : 1;
	os->nin = n;
	return r;
}

static void ino_free(struct inode *in)
{
	for (uint64_t i = 0; i < in->npages; i++)
		free(in->pages[i]);
	free(in->pages);
	free(in->target);
	for (int i = 0; i < in->nents; i++)
		free(in->ents[i].name);
	free(in->ents);
	for (int i = 0; i < in->nxa; i++) {
		free(in->xa[i].name);
		free(in->xa[i].val);
	}
	free(in->xa);
	memset(in, 0, sizeof(*in));
}

static void os_free(struct objset *os)
{
	for (uint64_t i = 0; i < os->nin; i++)
		if (os->in[i].used)
			ino_free(&os->in[i]);
	free(os->in);
	memset(os, 0, sizeof(*os));
}

static void os_copy(struct objset *dst, const struct objset *src)
{
	dst->nin = src->nin;
	dst->in = calloc(src->nin ? src->nin : 1, sizeof(struct inode));
	for (uint64_t i = 0; i < src->nin; i++) {
		const struct inode *s = &src->in[i];
		struct inode *d = &dst->in[i];
		if (!s->used)
			continue;
		*d = *s;
		d->pages = calloc(s->npages ? s->npages : 1, sizeof(void *));
		for (uint64_t p = 0; p < s->npages; p++) {
			if (s->pages[p]) {
				d->pages[p] = malloc(PG);
				memcpy(d->pages[p], s->pages[p], PG);
			}
		}
		d->target = s->target ? strdup(s->target) : NULL;
		d->ents = calloc(s->nents ? (size_t)s->nents : 1,
		    sizeof(struct ent));
		for (int e = 0; e < s->nents; e++) {
			d->ents[e].name = strdup(s->ents[e].name);
			d->ents[e].ino = s->ents[e].ino;
		}
		d->xa = calloc(s->nxa ? (size_t)s->nxa : 1, sizeof(struct xa));
		for (int x = 0; x < s->nxa; x++) {
			d->xa[x].name = strdup(s->xa[x].name);
			d->xa[x].len = s->xa[x].len;
			d->xa[x].val = malloc(s->xa[x].len ? s->xa[x].len : 1);
			memcpy(d->xa[x].val, s->xa[x].val, s->xa[x].len);
		}
	}
}

static uint64_t os_bytes(const struct objset *os)
{
	uint64_t b = 0;
	for (uint64_t i = 0; i < os->nin; i++) {
		if (!os->in[i].used)
			continue;
		b += 512;
		for (uint64_t p = 0; p < os->in[i].npages; p++)
			if (os->in[i].pages[p])
				b += PG;
	}
	return b;
}

static void resize(struct inode *in, uint64_t size);

static void os_init(struct objset *os, int type, uint64_t volsize)
{
	uint64_t r = ino_alloc(os);     /* 1 */
	struct inode *in = &os->in[r];
	in->used = 1;
	in->st.ino = r;
	in->st.mode = type == COFFER_TYPE_VOLUME ? (S_IFREG | 0600) :
	    (S_IFDIR | 0755);
	in->st.nlink = type == COFFER_TYPE_VOLUME ? 1 : 2;
	in->st.size = type == COFFER_TYPE_VOLUME ? volsize : 2;
	in->parent = r;
	now(&in->st.mtime_sec, &in->st.mtime_nsec);
	in->st.atime_sec = in->st.ctime_sec = in->st.crtime_sec =
	    in->st.mtime_sec;
	in->st.atime_nsec = in->st.ctime_nsec = in->st.crtime_nsec =
	    in->st.mtime_nsec;
	if (type == COFFER_TYPE_VOLUME)
		resize(in, volsize);
}

/* ---- serialization ----------------------------------------------------- */

static void w64(FILE *f, uint64_t v) { fwrite(&v, 8, 1, f); }
static void wstr(FILE *f, const char *s)
{
	uint64_t n = s ? strlen(s) + 1 : 0;
	w64(f, n);
	if (n)
		fwrite(s, n, 1, f);
}
static void wbytes(FILE *f, const void *p, uint64_t n)
{
	w64(f, n);
	if (n)
		fwrite(p, n, 1, f);
}
static uint64_t r64(FILE *f)
{
	uint64_t v = 0;
	if (fread(&v, 8, 1, f) != 1)
		return 0;
	return v;
}
static char *rstr(FILE *f)
{
	uint64_t n = r64(f);
	if (!n)
		return NULL;
	char *s = malloc(n);
	if (fread(s, n, 1, f) != 1)
		s[0] = '\0';
	s[n - 1] = '\0';
	return s;
}
static void *rbytes(FILE *f, uint64_t *n)
{
	*n = r64(f);
	void *p = malloc(*n ? *n : 1);
	if (*n && fread(p, *n, 1, f) != 1)
		memset(p, 0, *n);
	return p;
}

static void save_os(FILE *f, const struct objset *os)
{
	w64(f, os->nin);
	for (uint64_t i = 0; i < os->nin; i++) {
		const struct inode *in = &os->in[i];
		w64(f, (uint64_t)in->used);
		if (!in->used)
			continue;
		fwrite(&in->st, sizeof(in->st), 1, f);
		w64(f, in->parent);
		w64(f, in->npages);
		uint64_t np = 0;
		for (uint64_t p = 0; p < in->npages; p++)
			np += in->pages[p] != NULL;
		w64(f, np);
		for (uint64_t p = 0; p < in->npages; p++) {
			if (in->pages[p]) {
				w64(f, p);
				fwrite(in->pages[p], PG, 1, f);
			}
		}
		wstr(f, in->target);
		w64(f, (uint64_t)in->nents);
		for (int e = 0; e < in->nents; e++) {
			wstr(f, in->ents[e].name);
			w64(f, in->ents[e].ino);
		}
		w64(f, (uint64_t)in->nxa);
		for (int x = 0; x < in->nxa; x++) {
			wstr(f, in->xa[x].name);
			wbytes(f, in->xa[x].val, in->xa[x].len);
		}
	}
}

static void load_os(FILE *f, struct objset *os)
{
	os->nin = r64(f);
	os->in = calloc(os->nin ? os->nin : 1, sizeof(struct inode));
	for (uint64_t i = 0; i < os->nin; i++) {
		struct inode *in = &os->in[i];
		in->used = (int)r64(f);
		if (!in->used)
			continue;
		if (fread(&in->st, sizeof(in->st), 1, f) != 1)
			return;
		in->parent = r64(f);
		in->npages = r64(f);
		in->pages = calloc(in->npages ? in->npages : 1, sizeof(void *));
		uint64_t np = r64(f);
		for (uint64_t k = 0; k < np; k++) {
			uint64_t p = r64(f);
			in->pages[p] = malloc(PG);
			if (fread(in->pages[p], PG, 1, f) != 1)
				return;
		}
		in->target = rstr(f);
		in->nents = (int)r64(f);
		in->ents = calloc(in->nents ? (size_t)in->nents : 1,
		    sizeof(struct ent));
		for (int e = 0; e < in->nents; e++) {
			in->ents[e].name = rstr(f);
			in->ents[e].ino = r64(f);
		}
		in->nxa = (int)r64(f);
		in->xa = calloc(in->nxa ? (size_t)in->nxa : 1,
		    sizeof(struct xa));
		for (int x = 0; x < in->nxa; x++) {
			in->xa[x].name = rstr(f);
			in->xa[x].val = rbytes(f, &in->xa[x].len);
		}
	}
}

static int save_pool(coffer_pool_t *p)
{
	FILE *f = fopen(p->devs[0], "r+");
	if (!f)
		return fail(-errno, "cannot write '%s'", p->devs[0]);
	fwrite(MAGIC, strlen(MAGIC), 1, f);
	wstr(f, p->name);
	w64(f, p->guid);
	w64(f, p->txg);
	w64(f, p->size);
	w64(f, (uint64_t)p->ndev);
	for (int i = 0; i < p->ndev; i++)
		wstr(f, p->devs[i]);
	w64(f, p->scrub_state);
	w64(f, p->scrub_start);
	w64(f, p->scrub_end);
	w64(f, p->scrub_examined);
	w64(f, p->scrub_blocks);
	w64(f, (uint64_t)p->nds);
	for (int i = 0; i < p->nds; i++) {
		struct ds *d = p->ds[i];
		wstr(f, d->name);
		w64(f, (uint64_t)d->type);
		w64(f, d->guid);
		w64(f, d->createtxg);
		w64(f, d->creation);
		w64(f, d->volsize);
		for (int k = 0; k < CF_PROP_NPROPS; k++)
			wstr(f, d->props[k]);
		for (int k = 0; k < COFFER_MAX_KEY_SLOTS; k++)
			fwrite(&d->slots[k], sizeof(d->slots[k]), 1, f);
		save_os(f, &d->os);
	}
	int rc = fclose(f);
	if (rc != 0)
		return fail(-EIO, "cannot write '%s'", p->devs[0]);
	for (int i = 1; i < p->ndev; i++) {
		f = fopen(p->devs[i], "r+");
		if (!f)
			continue;
		fwrite(MEMBER, strlen(MEMBER), 1, f);
		w64(f, p->guid);
		fclose(f);
	}
	return 0;
}

/* Read the header of a device: pool name and guid (0 when none). */
static int peek_dev(const char *path, char *name, size_t n, uint64_t *guid)
{
	char buf[32];
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	size_t got = fread(buf, 1, strlen(MAGIC), f);
	if (got != strlen(MAGIC) || memcmp(buf, MAGIC, strlen(MAGIC)) != 0) {
		fclose(f);
		return -ENOENT;
	}
	char *s = rstr(f);
	snprintf(name, n, "%s", s ? s : "");
	free(s);
	*guid = r64(f);
	fclose(f);
	return 0;
}

static coffer_pool_t *load_pool(const char *dev)
{
	char buf[32];
	FILE *f = fopen(dev, "r");
	if (!f)
		return NULL;
	if (fread(buf, 1, strlen(MAGIC), f) != strlen(MAGIC) ||
	    memcmp(buf, MAGIC, strlen(MAGIC)) != 0) {
		fclose(f);
		return NULL;
	}
	coffer_pool_t *p = calloc(1, sizeof(*p));
	char *s = rstr(f);
	snprintf(p->name, sizeof(p->name), "%s", s);
	free(s);
	p->guid = r64(f);
	p->txg = r64(f);
	p->size = r64(f);
	p->ndev = (int)r64(f);
	p->devs = calloc((size_t)p->ndev, sizeof(char *));
	for (int i = 0; i < p->ndev; i++)
		p->devs[i] = rstr(f);
	p->scrub_state = r64(f);
	p->scrub_start = r64(f);
	p->scrub_end = r64(f);
	p->scrub_examined = r64(f);
	p->scrub_blocks = r64(f);
	p->nds = (int)r64(f);
	p->ds = calloc((size_t)p->nds + 1, sizeof(struct ds *));
	for (int i = 0; i < p->nds; i++) {
		struct ds *d = calloc(1, sizeof(*d));
		s = rstr(f);
		snprintf(d->name, sizeof(d->name), "%s", s);
		free(s);
		d->type = (int)r64(f);
		d->guid = r64(f);
		d->createtxg = r64(f);
		d->creation = r64(f);
		d->volsize = r64(f);
		for (int k = 0; k < CF_PROP_NPROPS; k++)
			d->props[k] = rstr(f);
		for (int k = 0; k < COFFER_MAX_KEY_SLOTS; k++)
			if (fread(&d->slots[k], sizeof(d->slots[k]), 1, f) != 1)
				memset(&d->slots[k], 0, sizeof(d->slots[k]));
		load_os(f, &d->os);
		p->ds[i] = d;
	}
	fclose(f);
	p->lockfd = -1;
	return p;
}

static void free_pool(coffer_pool_t *p)
{
	for (int i = 0; i < p->nds; i++) {
		os_free(&p->ds[i]->os);
		for (int k = 0; k < CF_PROP_NPROPS; k++)
			free(p->ds[i]->props[k]);
		free(p->ds[i]);
	}
	free(p->ds);
	for (int i = 0; i < p->nloaded; i++)
		free(p->loaded[i]);
	free(p->loaded);
	for (int i = 0; i < p->nopen; i++)
		free(p->open[i]);
	free(p->open);
	for (int i = 0; i < p->ndev; i++)
		free(p->devs[i]);
	free(p->devs);
	if (p->lockfd >= 0)
		close(p->lockfd);
	free(p);
}

/* ---- registry ---------------------------------------------------------- */

struct reg { char name[256]; char dev[4096]; };

static int reg_load(struct reg **out)
{
	char path[4200], line[4500];
	snprintf(path, sizeof(path), "%s/pools", coffer_home());
	FILE *f = fopen(path, "r");
	int n = 0;
	*out = NULL;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *tab = strchr(line, '\t');
		if (!tab)
			continue;
		*tab = '\0';
		line[strcspn(line, "\0")] = '\0';
		char *dev = tab + 1;
		dev[strcspn(dev, "\n")] = '\0';
		*out = realloc(*out, (size_t)(n + 1) * sizeof(struct reg));
		snprintf((*out)[n].name, 256, "%.255s", line);
		snprintf((*out)[n].dev, 4096, "%.4095s", dev);
		n++;
	}
	fclose(f);
	return n;
}

static int reg_save(struct reg *r, int n)
{
	char path[4200];
	mkdir(coffer_home(), 0700);
	snprintf(path, sizeof(path), "%s/pools", coffer_home());
	FILE *f = fopen(path, "w");
	if (!f)
		return fail(-errno, "cannot write '%s'", path);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s\t%s\n", r[i].name, r[i].dev);
	fclose(f);
	return 0;
}

static int reg_find(const char *name, char *dev, size_t n)
{
	struct reg *r;
	int cnt = reg_load(&r), found = -1;
	for (int i = 0; i < cnt; i++) {
		if (strcmp(r[i].name, name) == 0) {
			snprintf(dev, n, "%s", r[i].dev);
			found = 0;
		}
	}
	free(r);
	return found;
}

static int reg_add(const char *name, const char *dev)
{
	struct reg *r;
	int n = reg_load(&r);
	r = realloc(r, (size_t)(n + 1) * sizeof(struct reg));
	snprintf(r[n].name, 256, "%s", name);
	snprintf(r[n].dev, 4096, "%s", dev);
	int rc = reg_save(r, n + 1);
	free(r);
	return rc;
}

static int reg_del(const char *name)
{
	struct reg *r;
	int n = reg_load(&r), m = 0;
	for (int i = 0; i < n; i++)
		if (strcmp(r[i].name, name) != 0)
			r[m++] = r[i];
	int rc = reg_save(r, m);
	free(r);
	return rc;
}

/* ---- pools ------------------------------------------------------------- */

static struct ds *new_ds(coffer_pool_t *p, const char *name, int type,
    uint64_t volsize)
{
	struct ds *d = calloc(1, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->type = type;
	d->guid = rnd64();
	d->createtxg = ++p->txg;
	d->creation = (uint64_t)time(NULL);
	d->volsize = volsize;
	if (type != COFFER_TYPE_SNAPSHOT)
		os_init(&d->os, type, volsize);
	p->ds = realloc(p->ds, (size_t)(p->nds + 2) * sizeof(struct ds *));
	p->ds[p->nds++] = d;
	return d;
}

static int check_keylocation(coffer_pool_t *p, struct ds *d,
    const char *value);

static int apply_props(coffer_pool_t *p, struct ds *d,
    const char *const *props, int creating)
{
	for (int i = 0; props && props[i]; i++) {
		char name[128];
		const char *eq = strchr(props[i], '=');
		const char *why = NULL;
		if (!eq || (size_t)(eq - props[i]) >= sizeof(name))
			return fail(COFFER_EBADPROP, "bad property '%s'",
			    props[i]);
		memcpy(name, props[i], (size_t)(eq - props[i]));
		name[eq - props[i]] = '\0';
		const cf_propdef_t *pd = cf_prop_find(name);
		if (!pd)
			return fail(COFFER_EBADPROP, "no property '%s'", name);
		if (cf_prop_check_set(pd, d->type, creating, &why) < 0)
			return fail(COFFER_EBADPROP, "cannot set property "
			    "'%s': %s", name, why);
		uint64_t num;
		char str[256];
		if (cf_prop_parse(pd, eq + 1, &num, str, sizeof(str), &why) < 0)
			return fail(COFFER_EBADPROP, "bad value '%s' for "
			    "property '%s': %s", eq + 1, name, why);
		if (pd->id == CF_PROP_KEYLOCATION && !creating) {
			int rc = check_keylocation(p, d, str);
			if (rc < 0)
				return rc;
		}
		if (pd->type == CF_PTYPE_NUMBER)
			snprintf(str, sizeof(str), "%llu",
			    (unsigned long long)num);
		if (pd->id == CF_PROP_VOLSIZE) {
			d->volsize = num;
			if (d->os.nin > 1)
				resize(&d->os.in[1], num);
			continue;
		}
		free(d->props[pd->id]);
		d->props[pd->id] = strdup(str);
	}
	return 0;
}

static int lock_pool(coffer_pool_t *p, int rdonly)
{
	int fd = open(p->devs[0], O_RDONLY);
	if (fd < 0)
		return fail(-errno, "cannot open '%s'", p->devs[0]);
	if (flock(fd, (rdonly ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
		close(fd);
		return fail(COFFER_EBUSY, "held by another process");
	}
	p->lockfd = fd;
	return 0;
}

int coffer_pool_create(const char *name, const char *const *devs, int ndev,
    uint64_t size, const char *const *props, coffer_pool_t **out)
{
	char tmp[4096];
	if (!valid_name(name) || strpbrk(name, "/@"))
		return fail(COFFER_EBADNAME, "'%s'", name);
	if (reg_find(name, tmp, sizeof(tmp)) == 0)
		return fail(COFFER_EEXIST, "pool '%s' is registered", name);
	uint64_t total = 0;
	for (int i = 0; i < ndev; i++) {
		struct stat st;
		char pn[256];
		uint64_t g;
		if (stat(devs[i], &st) != 0) {
			if (size == 0)
				return fail(-ENOENT, "device '%s' does not "
				    "exist and no size was given", devs[i]);
			continue;
		}
		if (peek_dev(devs[i], pn, sizeof(pn), &g) == 0)
			return fail(COFFER_EBUSY, "'%s' is part of pool '%s'",
			    devs[i], pn);
		if ((uint64_t)st.st_size < (64u << 20))
			return fail(COFFER_EDEVICE, "'%s' is smaller than 64M",
			    devs[i]);
	}
	if (size && size < (64u << 20))
		return fail(COFFER_EDEVICE, "size must be at least 64M");
	for (int i = 0; i < ndev; i++) {
		struct stat st;
		if (stat(devs[i], &st) != 0) {
			int fd = open(devs[i], O_CREAT | O_RDWR | O_EXCL, 0600);
			if (fd < 0)
				return fail(-errno, "cannot create '%s'",
				    devs[i]);
			if (ftruncate(fd, (off_t)size) != 0) {
				close(fd);
				return fail(-errno, "'%s'", devs[i]);
			}
			close(fd);
			total += size;
		} else {
			total += (uint64_t)st.st_size;
		}
	}
	coffer_pool_t *p = calloc(1, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->guid = rnd64();
	p->size = total;
	p->ndev = ndev;
	p->devs = calloc((size_t)ndev, sizeof(char *));
	for (int i = 0; i < ndev; i++)
		p->devs[i] = strdup(devs[i]);
	p->lockfd = -1;
	for (int i = 0; props && props[i]; i++) {
		if ((strncmp(props[i], "encryption=", 11) == 0 &&
		    strcmp(props[i] + 11, "off") != 0) ||
		    (strncmp(props[i], "keyformat=", 10) == 0 &&
		    strcmp(props[i] + 10, "none") != 0)) {
			free_pool(p);
			return fail(COFFER_EBADPROP, "the root dataset of a "
			    "pool cannot be encrypted");
		}
	}
	struct ds *root = new_ds(p, name, COFFER_TYPE_FILESYSTEM, 0);
	int rc = apply_props(p, root, props, 1);
	if (rc < 0) {
		free_pool(p);
		return rc;
	}
	rc = save_pool(p);
	if (rc == 0)
		rc = reg_add(name, devs[0]);
	if (rc == 0)
		rc = lock_pool(p, 0);
	if (rc < 0) {
		free_pool(p);
		return rc;
	}
	*out = p;
	return 0;
}

int coffer_pool_open(const char *name, int flags, coffer_pool_t **out)
{
	char dev[4096];
	if (reg_find(name, dev, sizeof(dev)) != 0)
		return fail(COFFER_ENOPOOL, NULL);
	coffer_pool_t *p = load_pool(dev);
	if (!p)
		return fail(COFFER_EDEVICE, "cannot read '%s'", dev);
	p->rdonly = (flags & COFFER_OPEN_RDONLY) != 0;
	int rc = lock_pool(p, p->rdonly);
	if (rc < 0) {
		free_pool(p);
		return rc;
	}
	*out = p;
	return 0;
}

int coffer_pool_sync(coffer_pool_t *p)
{
	if (p->rdonly)
		return 0;
	p->txg++;
	return save_pool(p);
}

int coffer_pool_close(coffer_pool_t *p)
{
	int rc = coffer_pool_sync(p);
	free_pool(p);
	return rc;
}

int coffer_pool_import(const char *dir, const char *name,
    coffer_import_cb cb, void *arg)
{
	DIR *d = opendir(dir ? dir : "/dev");
	struct dirent *de;
	int found = 0;
	if (!d)
		return fail(-errno, "cannot read '%s'", dir ? dir : "/dev");
	while ((de = readdir(d))) {
		char path[8192], pn[256], tmp[4096];
		uint64_t g;
		snprintf(path, sizeof(path), "%s/%s", dir ? dir : "/dev",
		    de->d_name);
		if (peek_dev(path, pn, sizeof(pn), &g) != 0)
			continue;
		if (reg_find(pn, tmp, sizeof(tmp)) == 0 &&
		    strcmp(tmp, path) == 0)
			continue;       /* already imported */
		if (!name) {
			found++;
			if (cb && cb(pn, g, "ONLINE", arg))
				break;
			continue;
		}
		char gs[32];
		snprintf(gs, sizeof(gs), "%llu", (unsigned long long)g);
		if (strcmp(name, pn) != 0 && strcmp(name, gs) != 0)
			continue;
		if (reg_find(pn, tmp, sizeof(tmp)) == 0) {
			closedir(d);
			return fail(COFFER_EEXIST, "a pool named '%s' is "
			    "already imported", pn);
		}
		closedir(d);
		return reg_add(pn, path);
	}
	closedir(d);
	if (name)
		return fail(COFFER_ENOPOOL, "no pool '%s' found", name);
	return 0;
}

int coffer_pool_export(const char *name)
{
	coffer_pool_t *p;
	int rc = coffer_pool_open(name, 0, &p);
	if (rc < 0)
		return rc;
	free_pool(p);
	return reg_del(name);
}

int coffer_pool_destroy(const char *name)
{
	coffer_pool_t *p;
	int rc = coffer_pool_open(name, 0, &p);
	if (rc < 0)
		return rc;
	for (int i = 0; i < p->ndev; i++) {
		FILE *f = fopen(p->devs[i], "r+");
		if (f) {
			char zero[64] = { 0 };
			fwrite(zero, sizeof(zero), 1, f);
			fclose(f);
		}
	}
	free_pool(p);
	return reg_del(name);
}

int coffer_pool_list(int (*cb)(const char *name, void *arg), void *arg)
{
	struct reg *r;
	int n = reg_load(&r);
	for (int i = 0; i < n; i++)
		if (cb(r[i].name, arg))
			break;
	free(r);
	return 0;
}

static uint64_t pool_alloc(coffer_pool_t *p)
{
	uint64_t b = 0;
	for (int i = 0; i < p->nds; i++)
		b += os_bytes(&p->ds[i]->os);
	return b;
}

int coffer_pool_info(coffer_pool_t *p, coffer_pool_info_t *in)
{
	memset(in, 0, sizeof(*in));
	snprintf(in->name, sizeof(in->name), "%s", p->name);
	in->guid = p->guid;
	in->txg = p->txg;
	in->size = p->size;
	in->allocated = pool_alloc(p);
	in->free = in->size > in->allocated ? in->size - in->allocated : 0;
	in->ndev = p->ndev;
	in->scrub_state = p->scrub_state;
	in->scrub_start = p->scrub_start;
	in->scrub_end = p->scrub_end;
	in->scrub_examined = p->scrub_examined;
	in->scrub_blocks = p->scrub_blocks;
	return 0;
}

int coffer_pool_dev_info(coffer_pool_t *p, int i, coffer_dev_info_t *in)
{
	struct stat st;
	if (i < 0 || i >= p->ndev)
		return fail(-EINVAL, NULL);
	memset(in, 0, sizeof(*in));
	snprintf(in->path, sizeof(in->path), "%s", p->devs[i]);
	in->size = stat(p->devs[i], &st) == 0 ? (uint64_t)st.st_size : 0;
	in->state = stat(p->devs[i], &st) == 0 ? 0 : 1;
	return 0;
}

int coffer_pool_errors(coffer_pool_t *p,
    int (*cb)(const char *where, void *arg), void *arg)
{
	const char *e = getenv("COFFER_MOCK_ERRORS");  /* "a;b" for tests */
	while (e && *e) {
		char one[512];
		size_t len = strcspn(e, ";");
		snprintf(one, sizeof(one), "%.*s", (int)len, e);
		if (cb(one, arg))
			break;
		e += len;
		if (*e)
			e++;
	}
	return 0;
}

/* Nothing is ever leaked in a blob: everything allocated is reachable. */
int coffer_pool_check(coffer_pool_t *p, coffer_check_report_t *rep)
{
	if (!rep)
		return -EINVAL;
	memset(rep, 0, sizeof(*rep));
	rep->reachable_bytes = rep->allocated_bytes = pool_alloc(p);
	return 0;
}

int coffer_pool_scrub(coffer_pool_t *p, coffer_progress_fn progress,
    void *arg)
{
	uint64_t total = pool_alloc(p);
	if (p->rdonly)
		return fail(COFFER_EREADONLY, NULL);
	p->scrub_state = 1;
	p->scrub_start = (uint64_t)time(NULL);
	for (int i = 0; i <= 4; i++) {
		if (progress && progress(total * (uint64_t)i / 4, total, arg)) {
			p->scrub_state = 3;
			p->scrub_end = (uint64_t)time(NULL);
			return COFFER_EINTR;
		}
	}
	p->scrub_state = 2;
	p->scrub_end = (uint64_t)time(NULL);
	p->scrub_examined = total;
	p->scrub_blocks = total / PG;
	return 0;
}

/* ---- datasets ---------------------------------------------------------- */

static int parent_of(const char *name, char *out, size_t n)
{
	const char *s = strrchr(name, '/');
	if (!s)
		return -1;
	snprintf(out, n, "%.*s", (int)(s - name), name);
	return 0;
}

static int crypt_create_check(coffer_pool_t *p, const char *name,
    const char *const *props, const coffer_key_t *key, int *newroot);
static int crypt_create_finish(coffer_pool_t *p, struct ds *d, int newroot,
    const coffer_key_t *key);

static int create_ds(coffer_pool_t *p, const char *name, int type,
    uint64_t volsize, const char *const *props, const coffer_key_t *key)
{
	char par[256];
	int newroot = 0;
	if (p->rdonly)
		return fail(COFFER_EREADONLY, NULL);
	if (!valid_name(name) || strchr(name, '@'))
		return fail(COFFER_EBADNAME, NULL);
	if (find_ds(p, name))
		return fail(COFFER_EEXIST, NULL);
	if (parent_of(name, par, sizeof(par)) != 0)
		return fail(COFFER_EBADNAME, NULL);
	struct ds *pd = find_ds(p, par);
	if (!pd)
		return fail(COFFER_ENODS, "parent '%s' does not exist", par);
	if (pd->type != COFFER_TYPE_FILESYSTEM)
		return fail(-ENOTDIR, "parent '%s' is not a filesystem", par);
	if (type == COFFER_TYPE_VOLUME && volsize == 0)
		return fail(COFFER_EBADPROP, "a volume needs a size");
	int rc = crypt_create_check(p, name, props, key, &newroot);
	if (rc < 0)
		return rc;
	struct ds *d = new_ds(p, name, type, volsize);
	rc = apply_props(p, d, props, 1);
	if (rc == 0)
		rc = crypt_create_finish(p, d, newroot, key);
	if (rc < 0) {
		os_free(&d->os);
		for (int k = 0; k < CF_PROP_NPROPS; k++)
			free(d->props[k]);
		free(d);
		p->nds--;
		return rc;
	}
	return 0;
}

/* Plain create: like coffer_create_key without a key (a child of an
 * encrypted dataset joins its parent's encryption root). */
int coffer_create(coffer_pool_t *p, const char *name, int type,
    uint64_t volsize, const char *const *props)
{
	return create_ds(p, name, type, volsize, props, NULL);
}

int coffer_create_key(coffer_pool_t *p, const char *name, int type,
    uint64_t volsize, const char *const *props, const coffer_key_t *key)
{
	return create_ds(p, name, type, volsize, props, key);
}

static void del_ds(coffer_pool_t *p, struct ds *d)
{
	for (int i = 0; i < p->nds; i++) {
		if (p->ds[i] == d) {
			os_free(&d->os);
			for (int k = 0; k < CF_PROP_NPROPS; k++)
				free(d->props[k]);
			free(d);
			memmove(&p->ds[i], &p->ds[i + 1],
			    (size_t)(p->nds - i - 1) * sizeof(struct ds *));
			p->nds--;
			return;
		}
	}
}

static int below(const char *name, const char *root)
{
	size_t n = strlen(root);
	return strncmp(name, root, n) == 0 &&
	    (name[n] == '/' || name[n] == '@');
}

static void crypt_forget(coffer_pool_t *p, struct ds *d);

int coffer_destroy(coffer_pool_t *p, const char *name, int flags)
{
	if (p->rdonly)
		return fail(COFFER_EREADONLY, NULL);
	struct ds *d = find_ds(p, name);
	if (!d)
		return fail(COFFER_ENODS, NULL);
	if (!strpbrk(name, "/@"))
		return fail(COFFER_EBADNAME, "cannot destroy the root dataset");
	int kids = 0;
	for (int i = 0; i < p->nds; i++)
		kids += below(p->ds[i]->name, name);
	if (kids && !(flags & COFFER_DESTROY_RECURSIVE))
		return fail(COFFER_EHASCHILD, NULL);
	for (int i = p->nds - 1; i >= 0; i--) {
		if (below(p->ds[i]->name, name)) {
			crypt_forget(p, p->ds[i]);
			del_ds(p, p->ds[i]);
		}
	}
	crypt_forget(p, d);
	del_ds(p, d);
	return 0;
}

int coffer_snapshot(coffer_pool_t *p, const char *snapname)
{
	char base[256];
	if (p->rdonly)
		return fail(COFFER_EREADONLY, NULL);
	const char *at = strchr(snapname, '@');
	if (!at || !valid_name(snapname))
		return fail(COFFER_EBADNAME, NULL);
	snprintf(base, sizeof(base), "%.*s", (int)(at - snapname), snapname);
	struct ds *d = find_ds(p, base);
	if (!d)
		return fail(COFFER_ENODS, NULL);
	if (find_ds(p, snapname))
		return fail(COFFER_EEXIST, NULL);
	struct ds *s = new_ds(p, snapname, COFFER_TYPE_SNAPSHOT, d->volsize);
	os_copy(&s->os, &d->os);
	for (int k = 0; k < CF_PROP_NPROPS; k++)
		if (d->props[k])
			s->props[k] = strdup(d->props[k]);
	return 0;
}

int coffer_rollback(coffer_pool_t *p, const char *snapname, int flags)
{
	char base[256];
	if (p->rdonly)
		return fail(COFFER_EREADONLY, NULL);
	struct ds *s = find_ds(p, snapname);
	const char *at = strchr(snapname, '@');
	if (!s || !at)
		return fail(COFFER_ENODS, NULL);
	snprintf(base, sizeof(base), "%.*s", (int)(at - snapname), snapname);
	struct ds *d = find_ds(p, base);
	for (int i = 0; i < p->nds; i++) {
		struct ds *o = p->ds[i];
		if (o->type == COFFER_TYPE_SNAPSHOT &&
		    strncmp(o->name, base, strlen(base)) == 0 &&
		    o->name[strlen(base)] == '@' &&
		    o->createtxg > s->createtxg) {
			if (!(flags & COFFER_DESTROY_RECURSIVE))
				return fail(COFFER_EHASCHILD, "'%s' is newer",
				    o->name);
		}
	}
	for (int i = p->nds - 1; i >= 0; i--) {
		struct ds *o = p->ds[i];
		if (o->type == COFFER_TYPE_SNAPSHOT &&
		    strncmp(o->name, base, strlen(base)) == 0 &&
		    o->name[strlen(base)] == '@' &&
		    o->createtxg > s->createtxg)
			del_ds(p, o);
	}
	os_free(&d->os);
	os_copy(&d->os, &s->os);
	return 0;
}

static int cmp_dsp(const void *a, const void *b)
{
	const struct ds *x = *(struct ds *const *)a, *y = *(struct ds *const *)b;
	return strcmp(x->name, y->name);
}

static int visit(coffer_pool_t *p, struct ds *d, int rec, int types,
    coffer_ds_cb cb, void *arg)
{
	if ((d->type & types) && cb(d->name, d->type, arg))
		return 1;
	if (d->type == COFFER_TYPE_SNAPSHOT)
		return 0;
	size_t n = strlen(d->name);
	/* snapshots in creation order */
	for (uint64_t txg = 0;;) {
		struct ds *next = NULL;
		for (int i = 0; i < p->nds; i++) {
			struct ds *o = p->ds[i];
			if (strncmp(o->name, d->name, n) == 0 &&
			    o->name[n] == '@' && o->createtxg > txg &&
			    (!next || o->createtxg < next->createtxg))
				next = o;
		}
		if (!next)
			break;
		txg = next->createtxg;
		if ((types & COFFER_TYPE_SNAPSHOT) &&
		    cb(next->name, next->type, arg))
			return 1;
	}
	if (!rec)
		return 0;
	struct ds **kids = calloc((size_t)p->nds + 1, sizeof(*kids));
	int nk = 0;
	for (int i = 0; i < p->nds; i++) {
		const char *nm = p->ds[i]->name;
		if (strncmp(nm, d->name, n) == 0 && nm[n] == '/' &&
		    !strchr(nm + n + 1, '/') && !strchr(nm, '@'))
			kids[nk++] = p->ds[i];
	}
	qsort(kids, (size_t)nk, sizeof(*kids), cmp_dsp);
	for (int i = 0; i < nk; i++) {
		if (visit(p, kids[i], rec, types, cb, arg)) {
			free(kids);
			return 1;
		}
	}
	free(kids);
	return 0;
}

int coffer_ds_iter(coffer_pool_t *p, const char *root, int flags,
    int types, coffer_ds_cb cb, void *arg)
{
	struct ds *d = find_ds(p, root ? root : p->name);
	if (!d)
		return fail(COFFER_ENODS, NULL);
	visit(p, d, flags & COFFER_ITER_RECURSIVE, types, cb, arg);
	return 0;
}

const char *const *coffer_prop_names(void)
{
	static const char *names[CF_PROP_NPROPS + 1];
	for (int i = 0; i < cf_prop_count(); i++)
		names[i] = cf_prop_at(i)->name;
	return names;
}

static int crypt_prop_get(coffer_pool_t *p, struct ds *d,
    const cf_propdef_t *pd, coffer_propval_t *out);

static uint64_t ds_used(coffer_pool_t *p, struct ds *d)
{
	uint64_t u = os_bytes(&d->os);
	if (d->type == COFFER_TYPE_SNAPSHOT)
		return 0;
	for (int i = 0; i < p->nds; i++)
		if (below(p->ds[i]->name, d->name))
			u += os_bytes(&p->ds[i]->os) / 8;
	return u;
}

int coffer_prop_get(coffer_pool_t *p, const char *name, const char *prop,
    coffer_propval_t *out)
{
	struct ds *d = find_ds(p, name);
	const cf_propdef_t *pd = cf_prop_find(prop);
	uint64_t num = 0;
	const char *str = NULL;

	memset(out, 0, sizeof(*out));
	if (!d)
		return fail(COFFER_ENODS, NULL);
	if (!pd)
		return fail(COFFER_EBADPROP, "no property '%s'", prop);
	if (!cf_prop_applies(pd, d->type))
		return fail(COFFER_EBADPROP, "does not apply");
	out->source = COFFER_SRC_NONE;
	switch (pd->id) {
	case CF_PROP_TYPE: num = (uint64_t)d->type; break;
	case CF_PROP_CREATION: num = d->creation; break;
	case CF_PROP_USED: num = ds_used(p, d); break;
	case CF_PROP_AVAILABLE: {
		uint64_t a = pool_alloc(p);
		num = p->size > a ? p->size - a : 0;
		break;
	}
	case CF_PROP_REFERENCED: num = os_bytes(&d->os); break;
	case CF_PROP_LOGICALUSED: num = ds_used(p, d); break;
	case CF_PROP_COMPRESSRATIO: num = 100; break;
	case CF_PROP_GUID: num = d->guid; break;
	case CF_PROP_CREATETXG: num = d->createtxg; break;
	case CF_PROP_NAME: str = d->name; break;
	case CF_PROP_ENCRYPTIONROOT:
	case CF_PROP_KEYSTATUS:
	case CF_PROP_KEYFORMAT:
	case CF_PROP_PBKDF:
	case CF_PROP_PBKDF2ITERS: {
		int rc = crypt_prop_get(p, d, pd, out);
		if (rc <= 0)
			return rc;
		goto generic;   /* a root's own stored value */
	}
	case CF_PROP_VOLSIZE:
		if (!d->volsize)
			return fail(COFFER_EBADPROP, "does not apply");
		num = d->volsize;
		out->source = d->type == COFFER_TYPE_SNAPSHOT ?
		    COFFER_SRC_NONE : COFFER_SRC_LOCAL;
		break;
	default:
	generic: {
		const struct ds *src = d;
		char cur[256];
		snprintf(cur, sizeof(cur), "%s", d->name);
		char *at = strchr(cur, '@');
		if (at) {
			*at = '\0';
			src = find_ds(p, cur);
		}
		const char *v = src ? src->props[pd->id] : NULL;
		if (v && !at) {
			out->source = COFFER_SRC_LOCAL;
		} else if (v) {
			out->source = COFFER_SRC_INHERITED;
			snprintf(out->inherited_from,
			    sizeof(out->inherited_from), "%s", cur);
		} else if (pd->flags & CF_PF_INHERIT) {
			char up[256];
			while (!v && parent_of(cur, up, sizeof(up)) == 0) {
				memcpy(cur, up, sizeof(cur));
				struct ds *a = find_ds(p, cur);
				if (a && a->props[pd->id]) {
					v = a->props[pd->id];
					out->source = COFFER_SRC_INHERITED;
					snprintf(out->inherited_from,
					    sizeof(out->inherited_from), "%s",
					    cur);
				}
			}
		}
		if (!v) {
			out->source = COFFER_SRC_DEFAULT;
			num = pd->def_num;
			str = pd->def_str;
		} else if (pd->type == CF_PTYPE_NUMBER) {
			num = strtoull(v, NULL, 10);
		} else {
			str = v;
			cf_prop_parse(pd, v, &num, NULL, 0, NULL);
		}
		break;
	}
	}
	cf_prop_format(pd, num, str, 0, out->value, sizeof(out->value));
	cf_prop_format(pd, num, str, 1, out->raw, sizeof(out->raw));
	return 0;
}

int coffer_prop_set(coffer_pool_t *p, const char *name, const char *prop,
    const char *value)
{
	char buf[1200];
	if (p->rdonly)
		return fail(COFFER_EREADONLY, NULL);
	struct ds *d = find_ds(p, name);
	if (!d)
		return fail(COFFER_ENODS, NULL);
	snprintf(buf, sizeof(buf), "%s=%s", prop, value);
	const char *props[2] = { buf, NULL };
	return apply_props(p, d, props, 0);
}

int coffer_prop_inherit(coffer_pool_t *p, const char *name,
    const char *prop)
{
	if (p->rdonly)
		return fail(COFFER_EREADONLY, NULL);
	struct ds *d = find_ds(p, name);
	const cf_propdef_t *pd = cf_prop_find(prop);
	if (!d)
		return fail(COFFER_ENODS, NULL);
	if (!pd)
		return fail(COFFER_EBADPROP, "no property '%s'", prop);
	if (pd->flags & CF_PF_CREATEONLY) {
		const char *why = NULL;
		cf_prop_check_set(pd, COFFER_TYPE_FILESYSTEM, 0, &why);
		return fail(COFFER_EBADPROP, "cannot inherit property '%s': %s",
		    prop, why);
	}
	if (!(pd->flags & CF_PF_INHERIT))
		return fail(COFFER_EBADPROP, "'%s' cannot be inherited", prop);
	free(d->props[pd->id]);
	d->props[pd->id] = NULL;
	return 0;
}

/* ---- files ------------------------------------------------------------- */

static struct ds *fs_ds(coffer_fs_t *fs)
{
	return find_ds(fs->pool, fs->name);
}

static struct inode *get_ino(coffer_fs_t *fs, uint64_t ino)
{
	struct ds *d = fs_ds(fs);
	if (!d || ino == 0 || ino >= d->os.nin || !d->os.in[ino].used)
		return NULL;
	return &d->os.in[ino];
}

static int crypt_open_check(coffer_pool_t *p, struct ds *d);

int coffer_fs_open(coffer_pool_t *p, const char *name, int flags,
    coffer_fs_t **out)
{
	struct ds *d = find_ds(p, name);
	if (!d)
		return fail(COFFER_ENODS, NULL);
	int rc = crypt_open_check(p, d);
	if (rc < 0)
		return rc;
	p->open = realloc(p->open, (size_t)(p->nopen + 1) * sizeof(char *));
	p->open[p->nopen++] = strdup(name);
	coffer_fs_t *fs = calloc(1, sizeof(*fs));
	fs->pool = p;
	snprintf(fs->name, sizeof(fs->name), "%s", name);
	fs->rdonly = p->rdonly || (flags & COFFER_OPEN_RDONLY) ||
	    d->type == COFFER_TYPE_SNAPSHOT;
	const cf_propdef_t *ro = cf_prop_find("readonly");
	coffer_propval_t pv;
	if (coffer_prop_get(p, name, ro->name, &pv) == 0 &&
	    strcmp(pv.value, "on") == 0)
		fs->rdonly = 1;
	*out = fs;
	return 0;
}

int coffer_fs_close(coffer_fs_t *fs)
{
	coffer_pool_t *p = fs->pool;
	for (int i = 0; i < p->nopen; i++) {
		if (strcmp(p->open[i], fs->name) == 0) {
			free(p->open[i]);
			p->open[i] = p->open[--p->nopen];
			break;
		}
	}
	free(fs);
	return 0;
}

uint64_t coffer_fs_root(coffer_fs_t *fs)
{
	return 1;
}

int coffer_lookup(coffer_fs_t *fs, uint64_t dir, const char *name,
    uint64_t *ino)
{
	struct inode *d = get_ino(fs, dir);
	if (!d)
		return fail(-ENOENT, NULL);
	if (!S_ISDIR(d->st.mode))
		return fail(-ENOTDIR, NULL);
	if (strcmp(name, ".") == 0) {
		*ino = dir;
		return 0;
	}
	if (strcmp(name, "..") == 0) {
		*ino = d->parent;
		return 0;
	}
	for (int i = 0; i < d->nents; i++) {
		if (strcmp(d->ents[i].name, name) == 0) {
			*ino = d->ents[i].ino;
			return 0;
		}
	}
	return fail(-ENOENT, NULL);
}

static int resolve_at(coffer_fs_t *fs, uint64_t start, const char *path,
    int follow, int *budget, uint64_t *out)
{
	uint64_t cur = path[0] == '/' ? 1 : start;
	const char *p = path;
	while (*p) {
		char comp[256];
		while (*p == '/')
			p++;
		if (!*p)
			break;
		size_t len = strcspn(p, "/");
		if (len >= sizeof(comp))
			return fail(-ENAMETOOLONG, NULL);
		memcpy(comp, p, len);
		comp[len] = '\0';
		p += len;
		int last = 1;
		for (const char *q = p; *q; q++)
			if (*q != '/')
				last = 0;
		uint64_t next;
		int rc = coffer_lookup(fs, cur, comp, &next);
		if (rc < 0)
			return rc;
		struct inode *in = get_ino(fs, next);
		if (S_ISLNK(in->st.mode) && (!last || follow)) {
			if (--(*budget) < 0)
				return fail(-ELOOP, NULL);
			rc = resolve_at(fs, cur, in->target, 1, budget, &next);
			if (rc < 0)
				return rc;
		}
		cur = next;
	}
	*out = cur;
	return 0;
}

int coffer_resolve(coffer_fs_t *fs, const char *path, int follow,
    uint64_t *ino)
{
	int budget = 40;
	if (path[0] != '/')
		return fail(-EINVAL, NULL);
	return resolve_at(fs, 1, path, follow, &budget, ino);
}

int coffer_getattr(coffer_fs_t *fs, uint64_t ino, coffer_stat_t *st)
{
	struct inode *in = get_ino(fs, ino);
	if (!in)
		return fail(-ENOENT, NULL);
	*st = in->st;
	st->ino = ino;
	st->blocks = 0;
	for (uint64_t i = 0; i < in->npages; i++)
		if (in->pages[i])
			st->blocks += PG;
	return 0;
}

static void touch_c(struct inode *in)
{
	now(&in->st.ctime_sec, &in->st.ctime_nsec);
}

static void touch_mc(struct inode *in)
{
	now(&in->st.mtime_sec, &in->st.mtime_nsec);
	in->st.ctime_sec = in->st.mtime_sec;
	in->st.ctime_nsec = in->st.mtime_nsec;
}

static void resize(struct inode *in, uint64_t size)
{
	uint64_t np = (size + PG - 1) / PG;
	for (uint64_t i = np; i < in->npages; i++) {
		free(in->pages[i]);
		in->pages[i] = NULL;
	}
	if (np > in->npages) {
		in->pages = realloc(in->pages, np * sizeof(void *));
		memset(in->pages + in->npages, 0,
		    (np - in->npages) * sizeof(void *));
		in->npages = np;
	}
	if (size % PG && np && in->pages[np - 1])
		memset(in->pages[np - 1] + size % PG, 0, PG - size % PG);
	in->st.size = size;
}

int coffer_setattr(coffer_fs_t *fs, uint64_t ino, int mask,
    const coffer_stat_t *st)
{
	struct inode *in = get_ino(fs, ino);
	if (fs->rdonly)
		return fail(COFFER_EREADONLY, NULL);
	if (!in)
		return fail(-ENOENT, NULL);
	if (mask & COFFER_SET_MODE)
		in->st.mode = (in->st.mode & S_IFMT) | (st->mode & 07777);
	if (mask & COFFER_SET_UID)
		in->st.uid = st->uid;
	if (mask & COFFER_SET_GID)
		in->st.gid = st->gid;
	if (mask & COFFER_SET_SIZE)
		resize(in, st->size);
	touch_c(in);
	if (mask & COFFER_SET_ATIME) {
		in->st.atime_sec = st->atime_sec;
		in->st.atime_nsec = st->atime_nsec;
	}
	if (mask & COFFER_SET_MTIME) {
		in->st.mtime_sec = st->mtime_sec;
		in->st.mtime_nsec = st->mtime_nsec;
	}
	if (mask & COFFER_SET_CTIME) {
		in->st.ctime_sec = st->ctime_sec;
		in->st.ctime_nsec = st->ctime_nsec;
	}
	return 0;
}

static int add_ent(struct inode *d, const char *name, uint64_t ino)
{
	d->ents = realloc(d->ents, (size_t)(d->nents + 1) * sizeof(struct ent));
	d->ents[d->nents].name = strdup(name);
	d->ents[d->nents].ino = ino;
	d->nents++;
	d->st.size = (uint64_t)d->nents + 2;
	touch_mc(d);
	return 0;
}

static void del_ent(struct inode *d, const char *name)
{
	for (int i = 0; i < d->nents; i++) {
		if (strcmp(d->ents[i].name, name) == 0) {
			free(d->ents[i].name);
			d->ents[i] = d->ents[--d->nents];
			break;
		}
	}
	d->st.size = (uint64_t)d->nents + 2;
	touch_mc(d);
}

int coffer_mknod(coffer_fs_t *fs, uint64_t dir, const char *name,
    uint32_t mode, uint32_t uid, uint32_t gid, uint64_t rdev,
    const char *symlink_target, uint64_t *ino)
{
	uint64_t tmp;
	if (fs->rdonly)
		return fail(COFFER_EREADONLY, NULL);
	if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return fail(-EINVAL, NULL);
	if (strlen(name) > 255)
		return fail(-ENAMETOOLONG, NULL);
	if (!get_ino(fs, dir))
		return fail(-ENOENT, NULL);
	int rc = coffer_lookup(fs, dir, name, &tmp);
	if (rc == 0)
		return fail(-EEXIST, NULL);
	if (rc != -ENOENT)
		return rc;
	struct ds *d = fs_ds(fs);
	uint64_t n = ino_alloc(&d->os);
	struct inode *in = &d->os.in[n];
	struct inode *pd = &d->os.in[dir];
	in->used = 1;
	in->st.ino = n;
	in->st.mode = mode;
	in->st.uid = uid;
	in->st.gid = gid;
	in->st.rdev = rdev;
	in->st.nlink = S_ISDIR(mode) ? 2 : 1;
	in->parent = dir;
	in->st.gen = 1;
	now(&in->st.mtime_sec, &in->st.mtime_nsec);
	in->st.atime_sec = in->st.ctime_sec = in->st.crtime_sec =
	    in->st.mtime_sec;
	in->st.atime_nsec = in->st.ctime_nsec = in->st.crtime_nsec =
	    in->st.mtime_nsec;
	if (S_ISLNK(mode)) {
		in->target = strdup(symlink_target ? symlink_target : "");
		in->st.size = strlen(in->target);
	}
	if (S_ISDIR(mode)) {
		in->st.size = 2;
		pd->st.nlink++;
	}
	add_ent(pd, name, n);
	if (ino)
		*ino = n;
	return 0;
}

int coffer_readlink(coffer_fs_t *fs, uint64_t ino, char *buf, size_t size)
{
	struct inode *in = get_ino(fs, ino);
	if (!in)
		return fail(-ENOENT, NULL);
	if (!S_ISLNK(in->st.mode))
		return fail(-EINVAL, NULL);
	size_t len = strlen(in->target);
	if (len >= size)
		return fail(-ERANGE, NULL);
	memcpy(buf, in->target, len + 1);
	return (int)len;
}

int coffer_link(coffer_fs_t *fs, uint64_t ino, uint64_t newdir,
    const char *newname)
{
	uint64_t tmp;
	if (fs->rdonly)
		return fail(COFFER_EREADONLY, NULL);
	struct inode *in = get_ino(fs, ino), *d = get_ino(fs, newdir);
	if (!in || !d)
		return fail(-ENOENT, NULL);
	if (S_ISDIR(in->st.mode))
		return fail(-EPERM, NULL);
	if (coffer_lookup(fs, newdir, newname, &tmp) == 0)
		return fail(-EEXIST, NULL);
	in->st.nlink++;
	touch_c(in);
	return add_ent(d, newname, ino);
}

static void drop(coffer_fs_t *fs, uint64_t ino)
{
	struct inode *in = get_ino(fs, ino);
	if (--in->st.nlink == 0 || (S_ISDIR(in->st.mode) && in->st.nlink <= 1))
		ino_free(in);
	else
		touch_c(in);
}

int coffer_unlink(coffer_fs_t *fs, uint64_t dir, const char *name)
{
	uint64_t ino;
	if (fs->rdonly)
		return fail(COFFER_EREADONLY, NULL);
	int rc = coffer_lookup(fs, dir, name, &ino);
	if (rc < 0)
		return rc;
	if (S_ISDIR(get_ino(fs, ino)->st.mode))
		return fail(-EISDIR, NULL);
	del_ent(get_ino(fs, dir), name);
	drop(fs, ino);
	return 0;
}

int coffer_rmdir(coffer_fs_t *fs, uint64_t dir, const char *name)
{
	uint64_t ino;
	if (fs->rdonly)
		return fail(COFFER_EREADONLY, NULL);
	int rc = coffer_lookup(fs, dir, name, &ino);
	if (rc < 0)
		return rc;
	struct inode *in = get_ino(fs, ino);
	if (!S_ISDIR(in->st.mode))
		return fail(-ENOTDIR, NULL);
	if (in->nents)
		return fail(-ENOTEMPTY, NULL);
	del_ent(get_ino(fs, dir), name);
	get_ino(fs, dir)->st.nlink--;
	ino_free(in);
	return 0;
}

int coffer_rename(coffer_fs_t *fs, uint64_t dir, const char *name,
    uint64_t newdir, const char *newname, int flags)
{
	uint64_t ino, old;
	if (fs->rdonly)
		return fail(COFFER_EREADONLY, NULL);
	int rc = coffer_lookup(fs, dir, name, &ino);
	if (rc < 0)
		return rc;
	struct inode *in = get_ino(fs, ino);
	/* not into itself */
	for (uint64_t a = newdir;; a = get_ino(fs, a)->parent) {
		if (a == ino)
			return fail(-EINVAL, NULL);
		if (a == 1)
			break;
	}
	if (coffer_lookup(fs, newdir, newname, &old) == 0) {
		if (old == ino)
			return 0;
		if (flags & COFFER_RENAME_NOREPLACE)
			return fail(-EEXIST, NULL);
		struct inode *o = get_ino(fs, old);
		if (S_ISDIR(o->st.mode) && !S_ISDIR(in->st.mode))
			return fail(-EISDIR, NULL);
		if (!S_ISDIR(o->st.mode) && S_ISDIR(in->st.mode))
			return fail(-ENOTDIR, NULL);
		if (S_ISDIR(o->st.mode))
			rc = coffer_rmdir(fs, newdir, newname);
		else
			rc = coffer_unlink(fs, newdir, newname);
		if (rc < 0)
			return rc;
	}
	del_ent(get_ino(fs, dir), name);
	add_ent(get_ino(fs, newdir), newname, ino);
	if (S_ISDIR(in->st.mode) && dir != newdir) {
		get_ino(fs, dir)->st.nlink--;
		get_ino(fs, newdir)->st.nlink++;
		in->parent = newdir;
	}
	touch_c(in);
	return 0;
}

int64_t coffer_read(coffer_fs_t *fs, uint64_t ino, uint64_t off, void *buf,
    size_t len)
{
	struct inode *in = get_ino(fs, ino);
	if (!in)
		return fail(-ENOENT, NULL);
	if (S_ISDIR(in->st.mode))
		return fail(-EISDIR, NULL);
	if (off >= in->st.size)
		return 0;
	if (len > in->st.size - off)
		len = (size_t)(in->st.size - off);
	size_t done = 0;
	while (done < len) {
		uint64_t o = off + done, pg = o / PG;
		size_t in_pg = PG - (size_t)(o % PG);
		if (in_pg > len - done)
			in_pg = len - done;
		if (pg < in->npages && in->pages[pg])
			memcpy((char *)buf + done, in->pages[pg] + o % PG,
			    in_pg);
		else
			memset((char *)buf + done, 0, in_pg);
		done += in_pg;
	}
	return (int64_t)len;
}

int64_t coffer_write(coffer_fs_t *fs, uint64_t ino, uint64_t off,
    const void *buf, size_t len)
{
	if (fs->rdonly)
		return fail(COFFER_EREADONLY, NULL);
	struct inode *in = get_ino(fs, ino);
	if (!in)
		return fail(-ENOENT, NULL);
	if (S_ISDIR(in->st.mode))
		return fail(-EISDIR, NULL);
	if (off + len > in->st.size)
		resize(in, off + len);
	size_t done = 0;
	while (done < len) {
		uint64_t o = off + done, pg = o / PG;
		size_t in_pg = PG - (size_t)(o % PG);
		if (in_pg > len - done)
			in_pg = len - done;
		if (!in->pages[pg])
			in->pages[pg] = calloc(1, PG);
		memcpy(in->pages[pg] + o % PG, (const char *)buf + done, in_pg);
		done += in_pg;
	}
	touch_mc(in);
	return (int64_t)len;
}

int coffer_truncate(coffer_fs_t *fs, uint64_t ino, uint64_t size)
{
	if (fs->rdonly)
		return fail(COFFER_EREADONLY, NULL);
	struct inode *in = get_ino(fs, ino);
	if (!in)
		return fail(-ENOENT, NULL);
	resize(in, size);
	touch_mc(in);
	return 0;
}

int coffer_readdir(coffer_fs_t *fs, uint64_t dir, uint64_t *cookie,
    coffer_dir_cb cb, void *arg)
{
	struct inode *d = get_ino(fs, dir);
	if (!d)
		return fail(-ENOENT, NULL);
	if (!S_ISDIR(d->st.mode))
		return fail(-ENOTDIR, NULL);
	for (uint64_t i = *cookie; i < (uint64_t)d->nents + 2; i++) {
		const char *n = i == 0 ? "." : i == 1 ? ".." :
		    d->ents[i - 2].name;
		uint64_t ino = i == 0 ? dir : i == 1 ? d->parent :
		    d->ents[i - 2].ino;
		*cookie = i + 1;
		if (cb(n, ino, get_ino(fs, ino)->st.mode & S_IFMT, i + 1, arg))
			return 0;
	}
	return 0;
}

int coffer_setxattr(coffer_fs_t *fs, uint64_t ino, const char *name,
    const void *value, size_t size, int flags)
{
	if (fs->rdonly)
		return fail(COFFER_EREADONLY, NULL);
	struct inode *in = get_ino(fs, ino);
	if (!in)
		return fail(-ENOENT, NULL);
	for (int i = 0; i < in->nxa; i++) {
		if (strcmp(in->xa[i].name, name) == 0) {
			free(in->xa[i].val);
			in->xa[i].val = malloc(size ? size : 1);
			memcpy(in->xa[i].val, value, size);
			in->xa[i].len = size;
			return 0;
		}
	}
	in->xa = realloc(in->xa, (size_t)(in->nxa + 1) * sizeof(struct xa));
	in->xa[in->nxa].name = strdup(name);
	in->xa[in->nxa].val = malloc(size ? size : 1);
	memcpy(in->xa[in->nxa].val, value, size);
	in->xa[in->nxa].len = size;
	in->nxa++;
	return 0;
}

int64_t coffer_getxattr(coffer_fs_t *fs, uint64_t ino, const char *name,
    void *value, size_t size)
{
	struct inode *in = get_ino(fs, ino);
	if (!in)
		return fail(-ENOENT, NULL);
	for (int i = 0; i < in->nxa; i++) {
		if (strcmp(in->xa[i].name, name) != 0)
			continue;
		if (size == 0)
			return (int64_t)in->xa[i].len;
		if (size < in->xa[i].len)
			return fail(-ERANGE, NULL);
		memcpy(value, in->xa[i].val, in->xa[i].len);
		return (int64_t)in->xa[i].len;
	}
	return fail(-ENODATA, NULL);
}

int64_t coffer_listxattr(coffer_fs_t *fs, uint64_t ino, char *list,
    size_t size)
{
	struct inode *in = get_ino(fs, ino);
	size_t need = 0;
	if (!in)
		return fail(-ENOENT, NULL);
	for (int i = 0; i < in->nxa; i++)
		need += strlen(in->xa[i].name) + 1;
	if (size == 0)
		return (int64_t)need;
	if (size < need)
		return fail(-ERANGE, NULL);
	size_t o = 0;
	for (int i = 0; i < in->nxa; i++) {
		size_t l = strlen(in->xa[i].name) + 1;
		memcpy(list + o, in->xa[i].name, l);
		o += l;
	}
	return (int64_t)need;
}

int coffer_removexattr(coffer_fs_t *fs, uint64_t ino, const char *name)
{
	return fail(-ENOTSUP, NULL);
}

uint64_t coffer_vol_size(coffer_fs_t *vol)
{
	struct ds *d = fs_ds(vol);
	return d ? d->volsize : 0;
}

int64_t coffer_vol_read(coffer_fs_t *vol, uint64_t off, void *buf,
    size_t len)
{
	return coffer_read(vol, 1, off, buf, len);
}

int64_t coffer_vol_write(coffer_fs_t *vol, uint64_t off, const void *buf,
    size_t len)
{
	struct ds *d = fs_ds(vol);
	if (off + len > d->volsize)
		return fail(-ENOSPC, "past the end of the volume");
	return coffer_write(vol, 1, off, buf, len);
}

/* ---- encryption: key management only ----------------------------------- */

/*
 * What the CLI relies on, modelled: encryption roots (a dataset with a
 * local keyformat), children that join their parent's root, key slots,
 * keys loaded in this process or "persistently" (a file standing in for
 * the kernel keyring), COFFER_ENOKEY from coffer_fs_open, COFFER_EBUSY
 * from unload while a dataset under the root is open.
 */

static const char *kv(const char *const *props, const char *name)
{
	size_t n = strlen(name);
	for (int i = 0; props && props[i]; i++)
		if (strncmp(props[i], name, n) == 0 && props[i][n] == '=')
			return props[i] + n + 1;
	return NULL;
}

static void set_prop(struct ds *d, int id, const char *v)
{
	free(d->props[id]);
	d->props[id] = v ? strdup(v) : NULL;
}

static struct ds *head_of(coffer_pool_t *p, struct ds *d)
{
	char base[256];
	const char *at = strchr(d->name, '@');
	if (!at)
		return d;
	snprintf(base, sizeof(base), "%.*s", (int)(at - d->name), d->name);
	return find_ds(p, base);
}

static int is_root(const struct ds *d)
{
	const char *kf = d->props[CF_PROP_KEYFORMAT];
	return d->type != COFFER_TYPE_SNAPSHOT && kf && strcmp(kf, "none");
}

/* The encryption setting in force for `name`: the nearest local value. */
static const char *crypt_of(coffer_pool_t *p, const char *name)
{
	char cur[256], up[256];
	snprintf(cur, sizeof(cur), "%s", name);
	char *at = strchr(cur, '@');
	if (at)
		*at = '\0';
	for (;;) {
		struct ds *a = find_ds(p, cur);
		if (a && a->props[CF_PROP_ENCRYPTION])
			return a->props[CF_PROP_ENCRYPTION];
		if (parent_of(cur, up, sizeof(up)) != 0)
			return "off";
		memcpy(cur, up, sizeof(cur));
	}
}

static struct ds *root_of(coffer_pool_t *p, const char *name)
{
	char cur[256], up[256];
	if (strcmp(crypt_of(p, name), "off") == 0)
		return NULL;
	snprintf(cur, sizeof(cur), "%s", name);
	char *at = strchr(cur, '@');
	if (at)
		*at = '\0';
	for (;;) {
		struct ds *a = find_ds(p, cur);
		if (a && is_root(a))
			return a;
		if (parent_of(cur, up, sizeof(up)) != 0)
			return NULL;
		memcpy(cur, up, sizeof(cur));
	}
}

/* The "kernel keyring": lines "POOLGUID DSGUID" in $COFFER_HOME. */
static void kr_path(char *buf, size_t n)
{
	snprintf(buf, n, "%s/mock-keyring", coffer_home());
}

static int kr_has(uint64_t pg, uint64_t dg)
{
	char path[4096];
	unsigned long long a, b;
	int found = 0;
	kr_path(path, sizeof(path));
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	while (fscanf(f, "%llx %llx", &a, &b) == 2)
		if (a == pg && b == dg)
			found = 1;
	fclose(f);
	return found;
}

static void kr_set(uint64_t pg, uint64_t dg, int on)
{
	char path[4096], tmp[4200];
	unsigned long long a, b;
	kr_path(path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *in = fopen(path, "r");
	FILE *out = fopen(tmp, "w");
	if (!out) {
		if (in)
			fclose(in);
		return;
	}
	while (in && fscanf(in, "%llx %llx", &a, &b) == 2)
		if (a != pg || b != dg)
			fprintf(out, "%016llx %016llx\n", a, b);
	if (on)
		fprintf(out, "%016llx %016llx\n", (unsigned long long)pg,
		    (unsigned long long)dg);
	if (in)
		fclose(in);
	fclose(out);
	rename(tmp, path);
}

static int key_loaded(coffer_pool_t *p, const struct ds *r)
{
	for (int i = 0; i < p->nloaded; i++)
		if (strcmp(p->loaded[i], r->name) == 0)
			return 1;
	return kr_has(p->guid, r->guid);
}

static void set_loaded(coffer_pool_t *p, struct ds *r, int on, int persist)
{
	for (int i = 0; i < p->nloaded; i++) {
		if (strcmp(p->loaded[i], r->name) == 0) {
			free(p->loaded[i]);
			p->loaded[i] = p->loaded[--p->nloaded];
			break;
		}
	}
	if (on) {
		p->loaded = realloc(p->loaded,
		    (size_t)(p->nloaded + 1) * sizeof(char *));
		p->loaded[p->nloaded++] = strdup(r->name);
	}
	if (persist || !on)
		kr_set(p->guid, r->guid, on);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The key bytes a slot of format `fmt` sees in `k` (hex decoded), or a
 * negative code when `k` cannot be a key of that format. */
static int key_bytes(const char *fmt, const coffer_key_t *k, uint8_t *out,
    size_t *n)
{
	if (!k || !k->data)
		return fail(-EINVAL, "no key given");
	if (strcmp(fmt, "passphrase") == 0) {
		if (k->len < 8 || k->len > 512)
			return fail(-EINVAL, "a passphrase has 8 to 512 bytes");
		memcpy(out, k->data, k->len);
		*n = k->len;
		return 0;
	}
	if (strcmp(fmt, "hex") == 0) {
		if (k->len != 64)
			return fail(-EINVAL, "a hex key has 64 hex digits");
		for (size_t i = 0; i < 32; i++) {
			int hi = hexval(k->data[2 * i]);
			int lo = hexval(k->data[2 * i + 1]);
			if (hi < 0 || lo < 0)
				return fail(-EINVAL, "a hex key has 64 hex "
				    "digits");
			out[i] = (uint8_t)(hi << 4 | lo);
		}
		*n = 32;
		return 0;
	}
	if (strcmp(fmt, "raw") == 0) {
		if (k->len != 32)
			return fail(-EINVAL, "a raw key has 32 bytes");
		memcpy(out, k->data, 32);
		*n = 32;
		return 0;
	}
	return fail(COFFER_EBADPROP, "bad keyformat '%s'", fmt);
}

/* NOT cryptographic: FNV-1a, standing in for unwrapping. */
static uint64_t key_hash(const char *fmt, const uint8_t *b, size_t n)
{
	uint64_t h = 14695981039346656037ULL;
	for (const char *c = fmt; *c; c++)
		h = (h ^ (uint8_t)*c) * 1099511628211ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

static int slot_make(struct slot *s, const char *fmt, const char *pbkdf,
    uint64_t iters, const coffer_key_t *k)
{
	uint8_t b[512];
	size_t n;
	int rc = key_bytes(fmt, k, b, &n);
	if (rc < 0)
		return rc;
	memset(s, 0, sizeof(*s));
	s->used = 1;
	snprintf(s->fmt, sizeof(s->fmt), "%s", fmt);
	if (strcmp(fmt, "passphrase") != 0) {
		snprintf(s->kdf, sizeof(s->kdf), "none");
	} else if (strcmp(pbkdf, "pbkdf2") == 0) {
		snprintf(s->kdf, sizeof(s->kdf), "pbkdf2");
		s->iters = iters;
	} else {
		snprintf(s->kdf, sizeof(s->kdf), "argon2id");
		s->iters = 3;
		s->mem = 65536;
		s->lanes = 4;
	}
	s->created = (uint64_t)time(NULL);
	s->hash = key_hash(fmt, b, n);
	memset(b, 0, sizeof(b));
	return 0;
}

/* Canonical value of a key property, or a negative code. */
static int key_prop(const char *name, const char *v, char *out, size_t n)
{
	const cf_propdef_t *pd = cf_prop_find(name);
	const char *why = NULL;
	uint64_t num;
	if (cf_prop_parse(pd, v, &num, out, n, &why) < 0)
		return fail(COFFER_EBADPROP, "bad value '%s' for property "
		    "'%s': %s", v, name, why);
	if (pd->type == CF_PTYPE_NUMBER)
		snprintf(out, n, "%llu", (unsigned long long)num);
	return 0;
}

static int crypt_create_check(coffer_pool_t *p, const char *name,
    const char *const *props, const coffer_key_t *key, int *newroot)
{
	const char *e = kv(props, "encryption"), *kf = kv(props, "keyformat");
	char par[256], canon[64];
	uint8_t b[512];
	size_t n;

	*newroot = 0;
	if (parent_of(name, par, sizeof(par)) != 0)
		return fail(COFFER_EBADNAME, NULL);
	int pe = strcmp(crypt_of(p, par), "off") != 0;
	if (kf && strcasecmp(kf, "none") != 0) {
		int rc = key_prop("keyformat", kf, canon, sizeof(canon));
		if (rc < 0)
			return rc;
		if (e && strcasecmp(e, "off") == 0)
			return fail(COFFER_EBADPROP, "keyformat needs "
			    "encryption");
		if (!key)
			return fail(COFFER_EBADPROP, "a new encryption root "
			    "needs a key");
		rc = key_bytes(canon, key, b, &n);
		memset(b, 0, sizeof(b));
		if (rc < 0)
			return rc;
		*newroot = 1;
		return 0;
	}
	if (kv(props, "keylocation") || kv(props, "pbkdf") ||
	    kv(props, "pbkdf2iters"))
		return fail(COFFER_EBADPROP, "keylocation, pbkdf and "
		    "pbkdf2iters are properties of encryption roots: give "
		    "keyformat too");
	if (key)
		return fail(COFFER_EBADPROP, "a key needs keyformat");
	if (pe) {
		if (e && strcasecmp(e, "off") == 0)
			return fail(COFFER_EBADPROP, "cannot create an "
			    "unencrypted dataset under encrypted '%s'", par);
		struct ds *r = root_of(p, par);
		if (!r || !key_loaded(p, r))
			return fail(COFFER_ENOKEY, "the key of '%s' is not "
			    "loaded", r ? r->name : par);
		return 0;
	}
	if (e && strcasecmp(e, "off") != 0)
		return fail(COFFER_EBADPROP, "keyformat must be specified for "
		    "a new encryption root");
	return 0;
}

static int crypt_create_finish(coffer_pool_t *p, struct ds *d, int newroot,
    const coffer_key_t *key)
{
	if (!newroot)
		return 0;
	if (!d->props[CF_PROP_ENCRYPTION])
		set_prop(d, CF_PROP_ENCRYPTION, "on");
	if (!d->props[CF_PROP_KEYLOCATION])
		set_prop(d, CF_PROP_KEYLOCATION, "prompt");
	const char *pb = d->props[CF_PROP_PBKDF];
	const char *it = d->props[CF_PROP_PBKDF2ITERS];
	int rc = slot_make(&d->slots[0], d->props[CF_PROP_KEYFORMAT],
	    pb ? pb : "argon2id", it ? strtoull(it, NULL, 10) : 350000, key);
	if (rc < 0)
		return rc;
	/* like zfs create: the new root's key stays loaded */
	set_loaded(p, d, 1, 1);
	return 0;
}

static int crypt_prop_get(coffer_pool_t *p, struct ds *d,
    const cf_propdef_t *pd, coffer_propval_t *out)
{
	struct ds *r = root_of(p, d->name);
	uint64_t num = 0;
	const char *str = NULL;

	out->source = COFFER_SRC_NONE;
	switch (pd->id) {
	case CF_PROP_ENCRYPTIONROOT:
		str = r ? r->name : "-";
		break;
	case CF_PROP_KEYSTATUS:
		num = !r ? CF_KEYSTATUS_NONE : key_loaded(p, r) ?
		    CF_KEYSTATUS_AVAILABLE : CF_KEYSTATUS_UNAVAILABLE;
		break;
	default:
		if (!r || head_of(p, d) == r)
			return 1;
		/* a child shows its root's */
		str = r->props[pd->id] ? r->props[pd->id] : pd->def_str;
		if (pd->type == CF_PTYPE_NUMBER) {
			num = str ? strtoull(str, NULL, 10) : pd->def_num;
			str = NULL;
		}
		break;
	}
	cf_prop_format(pd, num, str, 0, out->value, sizeof(out->value));
	cf_prop_format(pd, num, str, 1, out->raw, sizeof(out->raw));
	return 0;
}

static int crypt_open_check(coffer_pool_t *p, struct ds *d)
{
	struct ds *r = root_of(p, d->name);
	if (r && !key_loaded(p, r))
		return fail(COFFER_ENOKEY, NULL);
	return 0;
}

static void crypt_forget(coffer_pool_t *p, struct ds *d)
{
	if (is_root(d))
		set_loaded(p, d, 0, 1);
}

static int check_keylocation(coffer_pool_t *p, struct ds *d,
    const char *value)
{
	struct ds *r = root_of(p, d->name);
	if (!r)
		return fail(COFFER_EBADPROP, "cannot set property "
		    "'keylocation': '%s' is not encrypted", d->name);
	if (r != d)
		return fail(COFFER_EBADPROP, "cannot set property "
		    "'keylocation': '%s' uses the key of its encryption root "
		    "'%s'", d->name, r->name);
	if (strcmp(value, "none") == 0)
		return fail(COFFER_EBADPROP, "cannot set property "
		    "'keylocation': an encryption root needs 'prompt' or a "
		    "file:// location");
	return 0;
}

/* The root of `ds` for a key operation, or a negative code. */
static int key_target(coffer_pool_t *p, const char *ds, int want_root,
    struct ds **dout, struct ds **rout)
{
	struct ds *d = find_ds(p, ds);
	if (!d)
		return fail(COFFER_ENODS, NULL);
	struct ds *r = root_of(p, ds);
	if (!r)
		return fail(-EINVAL, "'%s' is not encrypted", ds);
	if (want_root && r != d)
		return fail(-EINVAL, "'%s' is not an encryption root (its "
		    "root is '%s')", ds, r->name);
	*dout = d;
	*rout = r;
	return 0;
}

int coffer_load_key(coffer_pool_t *p, const char *ds, const coffer_key_t *key,
    int flags)
{
	struct ds *d, *r;
	int rc = key_target(p, ds, 0, &d, &r);
	if (rc < 0)
		return rc;
	if (key_loaded(p, r) && !(flags & COFFER_KEY_NOOP))
		return fail(COFFER_EEXIST, "the key of '%s' is loaded",
		    r->name);
	if (!key || !key->data)
		return fail(-EINVAL, "no key given");
	int match = 0;
	for (int i = 0; i < COFFER_MAX_KEY_SLOTS; i++) {
		uint8_t b[512];
		size_t n;
		if (!r->slots[i].used)
			continue;
		/* a key that cannot be of this slot's format: no match */
		if (key_bytes(r->slots[i].fmt, key, b, &n) == 0 &&
		    key_hash(r->slots[i].fmt, b, n) == r->slots[i].hash)
			match = 1;
		memset(b, 0, sizeof(b));
	}
	if (!match)
		return fail(COFFER_EWRONGKEY, NULL);
	if (!(flags & COFFER_KEY_NOOP))
		set_loaded(p, r, 1, flags & COFFER_KEY_PERSIST);
	return fail(0, NULL);
}

int coffer_unload_key(coffer_pool_t *p, const char *ds)
{
	struct ds *d, *r;
	int rc = key_target(p, ds, 0, &d, &r);
	if (rc < 0)
		return rc;
	if (!key_loaded(p, r))
		return fail(COFFER_ENOKEY, NULL);
	for (int i = 0; i < p->nopen; i++)
		if (root_of(p, p->open[i]) == r)
			return fail(COFFER_EBUSY, "'%s' is open in this "
			    "process", p->open[i]);
	set_loaded(p, r, 0, 1);
	return 0;
}

int coffer_change_key(coffer_pool_t *p, const char *ds,
    const char *const *props, const coffer_key_t *newkey, int inherit)
{
	struct ds *d, *r;
	char kf[64], kl[600], pb[64], it[64];
	struct slot ns;

	if (p->rdonly)
		return fail(COFFER_EREADONLY, NULL);
	int rc = key_target(p, ds, 0, &d, &r);
	if (rc < 0)
		return rc;
	if (d->type == COFFER_TYPE_SNAPSHOT)
		return fail(-EINVAL, "snapshots use their dataset's key");
	if (!key_loaded(p, r))
		return fail(COFFER_ENOKEY, "the key of '%s' is not loaded",
		    r->name);
	if (inherit) {
		char par[256];
		if (r != d)
			return fail(-EINVAL, "'%s' is not an encryption root",
			    ds);
		struct ds *pr = parent_of(ds, par, sizeof(par)) == 0 ?
		    root_of(p, par) : NULL;
		if (!pr)
			return fail(-EINVAL, "the parent of '%s' is not "
			    "encrypted", ds);
		if (!key_loaded(p, pr))
			return fail(COFFER_ENOKEY, "the key of '%s' is not "
			    "loaded", pr->name);
		set_loaded(p, d, 0, 1);
		set_prop(d, CF_PROP_KEYFORMAT, NULL);
		set_prop(d, CF_PROP_KEYLOCATION, NULL);
		set_prop(d, CF_PROP_PBKDF, NULL);
		set_prop(d, CF_PROP_PBKDF2ITERS, NULL);
		memset(d->slots, 0, sizeof(d->slots));
		return 0;
	}
	snprintf(kf, sizeof(kf), "%s", r->props[CF_PROP_KEYFORMAT]);
	snprintf(kl, sizeof(kl), "%s", r->props[CF_PROP_KEYLOCATION] ?
	    r->props[CF_PROP_KEYLOCATION] : "prompt");
	snprintf(pb, sizeof(pb), "%s", r->props[CF_PROP_PBKDF] ?
	    r->props[CF_PROP_PBKDF] : "argon2id");
	snprintf(it, sizeof(it), "%s", r->props[CF_PROP_PBKDF2ITERS] ?
	    r->props[CF_PROP_PBKDF2ITERS] : "350000");
	if (kv(props, "keyformat") && (rc = key_prop("keyformat",
	    kv(props, "keyformat"), kf, sizeof(kf))) < 0)
		return rc;
	if (strcmp(kf, "none") == 0)
		return fail(COFFER_EBADPROP, "keyformat=none: use "
		    "reencrypt --decrypt");
	if (kv(props, "keylocation") && (rc = key_prop("keylocation",
	    kv(props, "keylocation"), kl, sizeof(kl))) < 0)
		return rc;
	if (kv(props, "pbkdf") && (rc = key_prop("pbkdf", kv(props, "pbkdf"),
	    pb, sizeof(pb))) < 0)
		return rc;
	if (kv(props, "pbkdf2iters") && (rc = key_prop("pbkdf2iters",
	    kv(props, "pbkdf2iters"), it, sizeof(it))) < 0)
		return rc;
	rc = slot_make(&ns, kf, pb, strtoull(it, NULL, 10), newkey);
	if (rc < 0)
		return rc;
	set_prop(d, CF_PROP_KEYFORMAT, kf);
	set_prop(d, CF_PROP_KEYLOCATION, kl);
	set_prop(d, CF_PROP_PBKDF, pb);
	set_prop(d, CF_PROP_PBKDF2ITERS, it);
	memset(d->slots, 0, sizeof(d->slots));
	d->slots[0] = ns;
	if (d != r)
		set_loaded(p, d, 1, 1);         /* a new root */
	return 0;
}

int coffer_key_slot_add(coffer_pool_t *p, const char *ds,
    const char *const *props, const coffer_key_t *newkey)
{
	struct ds *d, *r;
	char kf[64], pb[64] = "argon2id", it[64] = "350000";

	if (p->rdonly)
		return fail(COFFER_EREADONLY, NULL);
	int rc = key_target(p, ds, 1, &d, &r);
	if (rc < 0)
		return rc;
	if (!key_loaded(p, r))
		return fail(COFFER_ENOKEY, NULL);
	if (kv(props, "keylocation"))
		return fail(COFFER_EBADPROP, "key slots have no keylocation");
	snprintf(kf, sizeof(kf), "%s", r->props[CF_PROP_KEYFORMAT]);
	if (kv(props, "keyformat") && (rc = key_prop("keyformat",
	    kv(props, "keyformat"), kf, sizeof(kf))) < 0)
		return rc;
	if (kv(props, "pbkdf") && (rc = key_prop("pbkdf", kv(props, "pbkdf"),
	    pb, sizeof(pb))) < 0)
		return rc;
	if (kv(props, "pbkdf2iters") && (rc = key_prop("pbkdf2iters",
	    kv(props, "pbkdf2iters"), it, sizeof(it))) < 0)
		return rc;
	for (int i = 0; i < COFFER_MAX_KEY_SLOTS; i++) {
		if (r->slots[i].used)
			continue;
		rc = slot_make(&r->slots[i], kf, pb, strtoull(it, NULL, 10),
		    newkey);
		return rc < 0 ? rc : i;
	}
	return fail(-ENOSPC, "an encryption root has at most %d key slots",
	    COFFER_MAX_KEY_SLOTS);
}

int coffer_key_slot_remove(coffer_pool_t *p, const char *ds, int slot)
{
	struct ds *d, *r;
	int used = 0;

	if (p->rdonly)
		return fail(COFFER_EREADONLY, NULL);
	int rc = key_target(p, ds, 1, &d, &r);
	if (rc < 0)
		return rc;
	if (!key_loaded(p, r))
		return fail(COFFER_ENOKEY, NULL);
	if (slot < 0 || slot >= COFFER_MAX_KEY_SLOTS || !r->slots[slot].used)
		return fail(-ENOENT, "'%s' has no key slot %d", ds, slot);
	for (int i = 0; i < COFFER_MAX_KEY_SLOTS; i++)
		used += r->slots[i].used;
	if (used == 1)
		return fail(-EINVAL, "slot %d is the last key slot; use "
		    "change-key to replace it", slot);
	memset(&r->slots[slot], 0, sizeof(r->slots[slot]));
	return 0;
}

int coffer_key_slot_list(coffer_pool_t *p, const char *ds,
    int (*cb)(const coffer_slot_info_t *info, void *arg), void *arg)
{
	struct ds *d, *r;
	int n = 0;
	int rc = key_target(p, ds, 1, &d, &r);
	if (rc < 0)
		return rc;
	for (int i = 0; i < COFFER_MAX_KEY_SLOTS; i++) {
		const struct slot *s = &r->slots[i];
		coffer_slot_info_t in;
		if (!s->used)
			continue;
		memset(&in, 0, sizeof(in));
		in.slot = i;
		snprintf(in.keyformat, sizeof(in.keyformat), "%s", s->fmt);
		snprintf(in.kdf, sizeof(in.kdf), "%s", s->kdf);
		in.iters = s->iters;
		in.mem_kib = s->mem;
		in.lanes = s->lanes;
		in.created = s->created;
		n++;
		if (cb && cb(&in, arg))
			break;
	}
	return n;
}
