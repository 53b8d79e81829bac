/*
 * cli_util: helpers shared by the command files: messages, option parsing,
 * numbers, names, the per-command pool and filesystem handles, the
 * dataset walker and table output.  See cli.h for the rules.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- messages ---------------------------------------------------------- */

static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
	fputs("coffer: ", stderr);
	if (prefix)
		fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
}

int cli_err(int rc, const char *fmt, ...)
{
	/* Take the detail first: nothing below may call into the library. */
	const char *detail = coffer_errdetail();
	const char *what = coffer_strerror(rc);
	va_list ap;

	va_start(ap, fmt);
	vmsg(NULL, fmt, ap);
	va_end(ap);
	if (rc == COFFER_ENOKEY) {
		/* exactly this, whatever the detail: scripts match it */
		fputs(": encryption key not loaded\n", stderr);
		return CLI_FAIL;
	}
	fprintf(stderr, ": %s", what && *what ? what : "unknown error");
	if (detail && *detail)
		fprintf(stderr, " (%s)", detail);
	fputc('\n', stderr);
	return CLI_FAIL;
}

int cli_syserr(int errnum, const char *fmt, ...)
{
	const char *what = strerror(errnum);
	va_list ap;

	va_start(ap, fmt);
	vmsg(NULL, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", what);
	return CLI_FAIL;
}

int cli_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(NULL, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_FAIL;
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(NULL, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cli_current)
		cli_print_usage(stderr, cli_current);
	return CLI_USAGE;
}

/* ---- options ----------------------------------------------------------- */

char *cli_optarg;
int cli_optind = 1;

void cli_optreset(void)
{
	optind = 0;             /* glibc: full re-initialisation */
	cli_optind = 1;
	cli_optarg = NULL;
}

int cli_getopt(int argc, char **argv, const char *shortopts,
    const struct option *longopts)
{
	static const struct option none[] = { { NULL, 0, NULL, 0 } };
	char opts[64];
	int c;

	/* A leading ':' makes getopt report a missing value as ':' */
	snprintf(opts, sizeof(opts), ":%s", shortopts);
	opterr = 0;
	c = getopt_long(argc, argv, opts, longopts ? longopts : none, NULL);
	cli_optarg = optarg;
	cli_optind = optind;
	if (c == '?') {
		if (optopt)
			cli_usage("unknown option '-%c'", optopt);
		else
			cli_usage("unknown option '%s'", argv[optind - 1]);
		return '?';
	}
	if (c == ':') {
		const char *arg = argv[optind - 1];
		if (arg[0] == '-' && arg[1] == '-')
			cli_usage("option '%s' needs a value", arg);
		else
			cli_usage("option '-%c' needs a value", optopt);
		return '?';
	}
	return c;
}

int cli_strv_add(struct cli_strv *sv, const char *s)
{
	if (sv->n + 2 > sv->cap) {
		int cap = sv->cap ? sv->cap * 2 : 8;
		const char **v = realloc(sv->v, (size_t)cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		sv->v = v;
		sv->cap = cap;
	}
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
	return 0;
}

void cli_strv_free_strings(struct cli_strv *sv)
{
	for (int i = 0; i < sv->n; i++)
		free((void *)sv->v[i]);
	cli_strv_free(sv);
}

void cli_strv_free(struct cli_strv *sv)
{
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}

/* ---- numbers ----------------------------------------------------------- */

static int lc(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	uint64_t ival = 0, frac = 0, fdiv = 1, v;
	int nd = 0, fd = 0, shift = 0;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++, nd++) {
		unsigned d = (unsigned)(*p - '0');
		if (ival > (UINT64_MAX - d) / 10)
			return -1;
		ival = ival * 10 + d;
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, fd++) {
			if (fd < 18) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				fdiv *= 10;
			}
		}
		if (fd == 0)
			return -1;
	}
	if (nd == 0 && fd == 0)
		return -1;
	switch (lc(*p)) {
	case 'k': shift = 10; break;
	case 'm': shift = 20; break;
	case 'g': shift = 30; break;
	case 't': shift = 40; break;
	case 'p': shift = 50; break;
	case 'e': shift = 60; break;
	default: break;
	}
	if (shift) {
		p++;
		if (lc(p[0]) == 'i' && lc(p[1]) == 'b')
			p += 2;
		else if (lc(p[0]) == 'b')
			p++;
	} else if (lc(*p) == 'b') {
		p++;
	}
	if (*p != '\0' || (fd && !shift))
		return -1;
	if (shift && ival > (UINT64_MAX >> shift))
		return -1;
	v = ival << shift;
	if (frac) {
		uint64_t part = 0, rem = frac;
		for (int i = 0; i < shift; i++) {
			rem <<= 1;
			part <<= 1;
			if (rem >= fdiv) {
				rem -= fdiv;
				part |= 1;
			}
		}
		if (v > UINT64_MAX - part)
			return -1;
		v += part;
	}
	*out = v;
	return 0;
}

int cli_parse_mode(const char *s, uint32_t *out)
{
	uint32_t m = 0;

	if (!*s || strlen(s) > 5)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '7')
			return -1;
		m = m * 8 + (uint32_t)(*s - '0');
	}
	if (m > 07777)
		return -1;
	*out = m;
	return 0;
}

void cli_nicenum(uint64_t v, char *buf, size_t n)
{
	static const char units[] = "BKMGTPE";
	int u = 0;

	while (u < 6 && v >= (UINT64_C(1) << (10 * (u + 1))))
		u++;
	if (u == 0) {
		snprintf(buf, n, "%lluB", (unsigned long long)v);
		return;
	}
	uint64_t div = UINT64_C(1) << (10 * u);
	if (v % div == 0) {
		snprintf(buf, n, "%llu%c", (unsigned long long)(v / div),
		    units[u]);
		return;
	}
	double x = (double)v / (double)div;
	for (int prec = 2; prec >= 0; prec--) {
		char tmp[32];
		int len = snprintf(tmp, sizeof(tmp), "%.*f%c", prec, x,
		    units[u]);
		if (len <= 5 || prec == 0) {
			snprintf(buf, n, "%s", tmp);
			return;
		}
	}
}

/* ---- names ------------------------------------------------------------- */

int cli_pool_of(const char *ds, char *pool, size_t n)
{
	size_t len = strcspn(ds, "/@");

	if (len == 0 || len >= n)
		return -1;
	memcpy(pool, ds, len);
	pool[len] = '\0';
	return 0;
}

int cli_is_spec(const char *arg)
{
	const char *p = strstr(arg, ":/");
	return p != NULL && p != arg;
}

int cli_parse_spec(const char *arg, struct cli_spec *sp)
{
	const char *colon = strstr(arg, ":/");
	size_t dlen, o = 0;

	if (!colon || colon == arg)
		return -1;
	dlen = (size_t)(colon - arg);
	if (dlen >= sizeof(sp->ds))
		return -1;
	memcpy(sp->ds, arg, dlen);
	sp->ds[dlen] = '\0';
	sp->snap = strchr(sp->ds, '@') != NULL;

	/* Normalise the path: collapse "//", drop "." components and a
	 * trailing '/'.  ".." is left to the library (symlinks). */
	const char *p = colon + 1;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		size_t clen = strcspn(p, "/");
		if (clen == 1 && p[0] == '.') {
			p += clen;
			continue;
		}
		if (o + 1 + clen >= sizeof(sp->path))
			return -1;
		sp->path[o++] = '/';
		memcpy(sp->path + o, p, clen);
		o += clen;
		p += clen;
	}
	if (o == 0)
		sp->path[o++] = '/';
	sp->path[o] = '\0';
	return 0;
}

const char *cli_type_name(int type)
{
	switch (type) {
	case COFFER_TYPE_FILESYSTEM: return "filesystem";
	case COFFER_TYPE_VOLUME: return "volume";
	case COFFER_TYPE_SNAPSHOT: return "snapshot";
	}
	return "-";
}

int cli_type_parse(const char *list, int *mask)
{
	int m = 0;
	const char *p = list;

	while (*p) {
		size_t len = strcspn(p, ",");
		if (len == 0)
			return -1;
		if ((len == 10 && strncmp(p, "filesystem", len) == 0) ||
		    (len == 2 && strncmp(p, "fs", len) == 0))
			m |= COFFER_TYPE_FILESYSTEM;
		else if ((len == 6 && strncmp(p, "volume", len) == 0) ||
		    (len == 3 && strncmp(p, "vol", len) == 0))
			m |= COFFER_TYPE_VOLUME;
		else if ((len == 8 && strncmp(p, "snapshot", len) == 0) ||
		    (len == 4 && strncmp(p, "snap", len) == 0))
			m |= COFFER_TYPE_SNAPSHOT;
		else if (len == 3 && strncmp(p, "all", len) == 0)
			m |= COFFER_TYPE_FILESYSTEM | COFFER_TYPE_VOLUME |
			    COFFER_TYPE_SNAPSHOT;
		else
			return -1;
		p += len;
		if (*p == ',' && *++p == '\0')
			return -1;
	}
	if (!m)
		return -1;
	*mask = m;
	return 0;
}

/* ---- property names ---------------------------------------------------- */

static const struct {
	const char *alias;      /* accepted on the command line */
	const char *name;       /* the property */
	const char *header;     /* column header */
} aliases[] = {
	{ "avail", "available", "AVAIL" },
	{ "refer", "referenced", "REFER" },
	{ "lused", "logicalused", "LUSED" },
	{ "ratio", "compressratio", "RATIO" },
	{ "compress", "compression", "COMPRESS" },
	{ "recsize", "recordsize", "RECSIZE" },
	{ "volblock", "volblocksize", "VOLBLOCK" },
	{ "rdonly", "readonly", "RDONLY" },
};
#define NALIASES (int)(sizeof(aliases) / sizeof(aliases[0]))

/* The canonical property name for `s`, or NULL when there is none. */
const char *cli_prop_canon(const char *s)
{
	const char *const *names = coffer_prop_names();

	for (int i = 0; i < NALIASES; i++)
		if (strcmp(s, aliases[i].alias) == 0)
			return aliases[i].name;
	if (strcmp(s, "name") == 0)
		return "name";
	if (!names)
		return s;
	for (int i = 0; names[i]; i++)
		if (strcmp(s, names[i]) == 0)
			return names[i];
	return NULL;
}

char *cli_prop_header(const char *name)
{
	char *h;

	for (int i = 0; i < NALIASES; i++)
		if (strcmp(name, aliases[i].name) == 0)
			return strdup(aliases[i].header);
	h = strdup(name);
	for (char *p = h; p && *p; p++)
		*p = (char)toupper((unsigned char)*p);
	return h;
}

char *cli_prop_assign(const char *arg)
{
	const char *eq = strchr(arg, '=');
	char name[128];
	const char *canon;
	size_t len, n;
	char *out;

	if (!eq || eq == arg) {
		cli_usage("expected property=value, got '%s'", arg);
		return NULL;
	}
	len = (size_t)(eq - arg);
	if (len >= sizeof(name)) {
		cli_usage("bad property '%.*s'", (int)len, arg);
		return NULL;
	}
	memcpy(name, arg, len);
	name[len] = '\0';
	canon = cli_prop_canon(name);
	if (!canon || strcmp(canon, "name") == 0) {
		cli_usage("bad property '%s'", name);
		return NULL;
	}
	n = strlen(canon) + strlen(eq) + 1;
	out = malloc(n);
	if (!out) {
		cli_syserr(ENOMEM, "cannot parse '%s'", arg);
		return NULL;
	}
	snprintf(out, n, "%s%s", canon, eq);
	return out;
}

/* ---- pool and filesystem handles --------------------------------------- */

#define MAX_OPEN 64

static struct open_pool {
	char name[CLI_NAME_MAX];
	coffer_pool_t *pool;
	int flags;
} pools[MAX_OPEN];
static int npools;

static struct open_fs {
	char name[CLI_NAME_MAX];
	coffer_fs_t *fs;
} fss[MAX_OPEN];
static int nfss;

int cli_pool(const char *name, int flags, coffer_pool_t **out)
{
	char pname[CLI_NAME_MAX];
	int rc;

	if (cli_pool_of(name, pname, sizeof(pname)) != 0) {
		cli_msg("cannot open '%s': invalid pool name", name);
		return COFFER_EBADNAME;
	}
	for (int i = 0; i < npools; i++) {
		if (strcmp(pools[i].name, pname) == 0) {
			*out = pools[i].pool;
			return 0;
		}
	}
	if (npools == MAX_OPEN) {
		cli_msg("cannot open '%s': too many pools in one command",
		    pname);
		return -EMFILE;
	}
	rc = coffer_pool_open(pname, flags, out);
	if (rc < 0) {
		cli_err(rc, "cannot open '%s'", pname);
		return rc;
	}
	snprintf(pools[npools].name, sizeof(pools[npools].name), "%s", pname);
	pools[npools].pool = *out;
	pools[npools].flags = flags;
	npools++;
	return 0;
}

int cli_fs_open(const char *ds, int flags, coffer_fs_t **out)
{
	coffer_pool_t *pool;
	int rc;

	for (int i = 0; i < nfss; i++) {
		if (strcmp(fss[i].name, ds) == 0) {
			*out = fss[i].fs;
			return 0;
		}
	}
	if (nfss == MAX_OPEN) {
		cli_msg("cannot open '%s': too many datasets in one command",
		    ds);
		return -EMFILE;
	}
	rc = cli_pool(ds, flags, &pool);
	if (rc < 0)
		return rc;
	rc = coffer_fs_open(pool, ds, flags, out);
	if (rc < 0) {
		cli_err(rc, "cannot open '%s'", ds);
		return rc;
	}
	snprintf(fss[nfss].name, sizeof(fss[nfss].name), "%s", ds);
	fss[nfss].fs = *out;
	nfss++;
	return 0;
}

int cli_finish(int rc)
{
	int failed = 0, r;

	for (int i = nfss - 1; i >= 0; i--) {
		r = coffer_fs_close(fss[i].fs);
		if (r < 0) {
			cli_err(r, "cannot close '%s'", fss[i].name);
			failed = 1;
		}
	}
	nfss = 0;
	for (int i = npools - 1; i >= 0; i--) {
		int wrote = !(pools[i].flags & COFFER_OPEN_RDONLY);
		int synced = 1;
		if (wrote) {
			r = coffer_pool_sync(pools[i].pool);
			if (r < 0) {
				cli_err(r, "cannot sync '%s'", pools[i].name);
				failed = 1;
				synced = 0;
			}
		}
		r = coffer_pool_close(pools[i].pool);
		if (r < 0 && synced) {
			cli_err(r, "cannot close '%s'", pools[i].name);
			failed = 1;
		}
	}
	npools = 0;
	if (failed)
		return CLI_FAIL;
	return rc;
}

int cli_ds_type(coffer_pool_t *pool, const char *ds)
{
	coffer_propval_t pv;
	int rc = coffer_prop_get(pool, ds, "type", &pv);

	if (rc < 0)
		return rc;
	if (strcmp(pv.value, "filesystem") == 0 ||
	    strcmp(pv.raw, "filesystem") == 0)
		return COFFER_TYPE_FILESYSTEM;
	if (strcmp(pv.value, "volume") == 0 || strcmp(pv.raw, "volume") == 0)
		return COFFER_TYPE_VOLUME;
	if (strcmp(pv.value, "snapshot") == 0 ||
	    strcmp(pv.raw, "snapshot") == 0)
		return COFFER_TYPE_SNAPSHOT;
	return strchr(ds, '@') ? COFFER_TYPE_SNAPSHOT : COFFER_TYPE_FILESYSTEM;
}

/* ---- walking datasets -------------------------------------------------- */

struct namelist {
	char **names;
	int *types;
	int n, cap;
	int oom;
};

static int namelist_add(struct namelist *l, const char *name, int type)
{
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 32;
		char **nv = realloc(l->names, (size_t)cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		l->names = nv;
		int *tv = realloc(l->types, (size_t)cap * sizeof(*tv));
		if (!tv)
			return -ENOMEM;
		l->types = tv;
		l->cap = cap;
	}
	l->names[l->n] = strdup(name);
	if (!l->names[l->n])
		return -ENOMEM;
	l->types[l->n++] = type;
	return 0;
}

static void namelist_free(struct namelist *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	free(l->types);
	memset(l, 0, sizeof(*l));
}

static int collect_cb(const char *name, int type, void *arg)
{
	if (namelist_add(arg, name, type) < 0) {
		((struct namelist *)arg)->oom = 1;
		return 1;
	}
	return 0;
}

static int walk_one(coffer_pool_t *pool, const char *root, int recursive,
    int types, cli_walk_fn fn, void *arg)
{
	struct namelist l = { 0 };
	size_t rlen = strlen(root);
	int type, rc;

	type = cli_ds_type(pool, root);
	if (type < 0)
		return cli_err(type, "cannot open '%s'", root);
	if (type == COFFER_TYPE_SNAPSHOT) {
		/* a snapshot named explicitly has nothing below it */
		if (types & type)
			return fn(pool, root, type, arg) ? CLI_FAIL : CLI_OK;
		return CLI_OK;
	}
	if ((types & type) && fn(pool, root, type, arg))
		return CLI_FAIL;
	if (!recursive && types != COFFER_TYPE_SNAPSHOT)
		return CLI_OK;

	/*
	 * Collect first, then call fn: fn calls back into the library, which
	 * need not allow that from inside its own iteration.  The filter
	 * keeps only names below root, whatever the iterator includes.
	 */
	/* always recursive: the filter below makes it non-recursive, and the
	 * snapshots of root are found whether or not a non-recursive
	 * iteration would include them */
	rc = coffer_ds_iter(pool, root, COFFER_ITER_RECURSIVE,
	    COFFER_TYPE_FILESYSTEM | COFFER_TYPE_VOLUME | COFFER_TYPE_SNAPSHOT,
	    collect_cb, &l);
	if (rc < 0 || l.oom) {
		cli_err(rc < 0 ? rc : -ENOMEM, "cannot list '%s'", root);
		namelist_free(&l);
		return CLI_FAIL;
	}
	rc = CLI_OK;
	for (int i = 0; i < l.n; i++) {
		const char *n = l.names[i];
		if (strncmp(n, root, rlen) != 0)
			continue;
		if (n[rlen] == '@') {
			if (!recursive && types != COFFER_TYPE_SNAPSHOT)
				continue;
		} else if (n[rlen] == '/') {
			if (!recursive)
				continue;
		} else {
			continue;       /* root itself, or unrelated */
		}
		if (!(types & l.types[i]))
			continue;
		if (fn(pool, n, l.types[i], arg)) {
			rc = CLI_FAIL;
			break;
		}
	}
	namelist_free(&l);
	return rc;
}

static int pool_name_cb(const char *name, void *arg)
{
	return collect_cb(name, 0, arg);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int cli_walk(const char *root, int recursive, int types, int openflags,
    cli_walk_fn fn, void *arg)
{
	coffer_pool_t *pool;
	struct namelist pl = { 0 };
	int rc, ret = CLI_OK;

	if (root) {
		if (cli_pool(root, openflags, &pool) < 0)
			return CLI_FAIL;
		return walk_one(pool, root, recursive, types, fn, arg);
	}
	rc = coffer_pool_list(pool_name_cb, &pl);
	if (rc < 0 || pl.oom) {
		namelist_free(&pl);
		return cli_err(rc < 0 ? rc : -ENOMEM, "cannot list pools");
	}
	qsort(pl.names, (size_t)pl.n, sizeof(char *), cmp_str);
	for (int i = 0; i < pl.n; i++) {
		if (cli_pool(pl.names[i], openflags, &pool) < 0) {
			ret = CLI_FAIL;
			continue;
		}
		if (walk_one(pool, pl.names[i], 1, types, fn, arg) != CLI_OK)
			ret = CLI_FAIL;
	}
	namelist_free(&pl);
	return ret;
}

/* ---- tables ------------------------------------------------------------ */

void cli_table_init(struct cli_table *t, int ncols, const char **hdr)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->hdr = hdr;
	t->right = calloc((size_t)ncols, sizeof(int));
}

int cli_table_add(struct cli_table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		int cap = t->cap ? t->cap * 2 : 32;
		char ***r = realloc(t->rows, (size_t)cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		t->rows = r;
		t->cap = cap;
	}
	char **row = calloc((size_t)t->ncols, sizeof(char *));
	if (!row)
		return -ENOMEM;
	for (int c = 0; c < t->ncols; c++) {
		row[c] = strdup(cells[c] ? cells[c] : "-");
		if (!row[c]) {
			while (c-- > 0)
				free(row[c]);
			free(row);
			return -ENOMEM;
		}
	}
	t->rows[t->nrows++] = row;
	return 0;
}

void cli_table_print(struct cli_table *t, int scripted, FILE *f)
{
	int *w = calloc((size_t)t->ncols, sizeof(int));

	if (!w || !t->right)
		scripted = 1;   /* degrade, still correct */
	if (scripted) {
		for (int r = 0; r < t->nrows; r++)
			for (int c = 0; c < t->ncols; c++)
				fprintf(f, "%s%c", t->rows[r][c],
				    c + 1 < t->ncols ? '\t' : '\n');
		free(w);
		return;
	}
	for (int c = 0; c < t->ncols; c++) {
		w[c] = t->hdr ? (int)strlen(t->hdr[c]) : 0;
		for (int r = 0; r < t->nrows; r++) {
			int len = (int)strlen(t->rows[r][c]);
			if (len > w[c])
				w[c] = len;
		}
	}
	for (int r = t->hdr ? -1 : 0; r < t->nrows; r++) {
		for (int c = 0; c < t->ncols; c++) {
			const char *s = r < 0 ? t->hdr[c] : t->rows[r][c];
			int last = c + 1 == t->ncols;
			if (t->right[c])
				fprintf(f, "%*s", w[c], s);
			else if (last)
				fputs(s, f);
			else
				fprintf(f, "%-*s", w[c], s);
			fputs(last ? "\n" : "  ", f);
		}
	}
	free(w);
}

void cli_table_free(struct cli_table *t)
{
	for (int r = 0; r < t->nrows; r++) {
		for (int c = 0; c < t->ncols; c++)
			free(t->rows[r][c]);
		free(t->rows[r]);
	}
	free(t->rows);
	free(t->right);
	memset(t, 0, sizeof(*t));
}

/* ---- I/O --------------------------------------------------------------- */

int cli_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

long cli_read_full(int fd, void *buf, size_t n)
{
	char *p = buf;
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (long)got;
}

/* ---- progress ------------------------------------------------------------ */

static uint64_t prog_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void cli_progress_init(struct cli_progress *p, int mode, FILE *out,
    const char *what)
{
	memset(p, 0, sizeof(*p));
	p->mode = mode;
	p->out = out;
	p->what = what;
	p->start_ns = prog_now_ns();
}

void cli_progress_update(struct cli_progress *p, uint64_t done,
    uint64_t total, int final)
{
	uint64_t now = prog_now_ns();
	if (p->mode == CLI_PROG_NONE)
		return;
	/* at most 4 redraws a second on a terminal, one line a second for
	 * machines, and always the last */
	if (!final && p->shown && now - p->last_ns <
	    (p->mode == CLI_PROG_TTY ? 250000000u : 1000000000u))
		return;
	p->last_ns = now;
	p->shown = 1;
	uint64_t ns = now - p->start_ns;
	uint64_t rate = ns >= 1000000u ?
	    (uint64_t)((double)done * 1e9 / (double)ns) : 0;
	int eta_known = rate > 0 && total >= done;
	uint64_t eta = eta_known ? (total - done + rate - 1) / rate : 0;
	if (p->mode == CLI_PROG_TTY) {
		char d[32], t[32], r[32], e[32] = "--:--:--";
		cli_nicenum(done, d, sizeof(d));
		cli_nicenum(total, t, sizeof(t));
		cli_nicenum(rate, r, sizeof(r));
		if (eta_known)
			snprintf(e, sizeof(e), "%02llu:%02llu:%02llu",
			    (unsigned long long)(eta / 3600),
			    (unsigned long long)(eta % 3600 / 60),
			    (unsigned long long)(eta % 60));
		fprintf(stderr, "\r%s: %5.1f%% (%s of %s) %s/s, %s left   ",
		    p->what, total ? 100.0 * (double)(done < total ? done :
		    total) / (double)total : 0.0, d, t, r, e);
		fflush(stderr);
		return;
	}
	if (p->mode == CLI_PROG_TAB)
		fprintf(p->out, "%llu\t%llu\t%llu\t%llu\n",
		    (unsigned long long)done, (unsigned long long)total,
		    (unsigned long long)rate, (unsigned long long)eta);
	else
		fprintf(p->out, "{\"done\":%llu,\"total\":%llu,\"rate\":%llu,"
		    "\"eta\":%llu}\n", (unsigned long long)done,
		    (unsigned long long)total, (unsigned long long)rate,
		    (unsigned long long)eta);
	fflush(p->out);
}

void cli_progress_end(struct cli_progress *p)
{
	if (p->mode == CLI_PROG_TTY && p->shown)
		fputc('\n', stderr);
	p->shown = 0;
}
