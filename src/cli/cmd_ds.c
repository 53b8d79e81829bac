/*
 * cmd_ds: datasets and properties: create, destroy, list, get, set,
 * inherit, snapshot, rollback.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Inapplicable or unknown to this dataset: shown as "-", not an error. */
static int prop_absent(int rc)
{
	return rc == COFFER_EBADPROP || rc == COFFER_ENOTSUP ||
	    rc == -ENOENT || rc == -ENOTSUP;
}

/* Split "a,b,c" into canonical names; a usage error names the bad one. */
static int split_props(const char *list, struct cli_strv *out,
    int allow_all, int *all)
{
	const char *p = list;

	if (all)
		*all = 0;
	while (*p) {
		size_t len = strcspn(p, ",");
		char tmp[64];
		const char *canon;

		if (len == 0 || len >= sizeof(tmp))
			return cli_usage("bad property list '%s'", list);
		memcpy(tmp, p, len);
		tmp[len] = '\0';
		if (allow_all && strcmp(tmp, "all") == 0) {
			*all = 1;
		} else {
			canon = cli_prop_canon(tmp);
			if (!canon)
				return cli_usage("bad property '%s'", tmp);
			if (cli_strv_add(out, canon) < 0)
				return cli_syserr(ENOMEM, "cannot parse '%s'",
				    list);
		}
		p += len;
		if (*p == ',')
			p++;
	}
	if (out->n == 0 && !(all && *all))
		return cli_usage("bad property list '%s'", list);
	return CLI_OK;
}

static int is_number(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if ((*s < '0' || *s > '9') && *s != '.')
			return 0;
	return 1;
}

/* ---- create ------------------------------------------------------------ */

static const char *const suites[] = { "off", "on", "aes-128-ccm",
	"aes-192-ccm", "aes-256-ccm", "aes-128-gcm", "aes-192-gcm",
	"aes-256-gcm", "chacha20-poly1305", NULL };

/* The value of `name` among "prop=value" strings, or NULL. */
static const char *prop_value(const struct cli_strv *props, const char *name)
{
	size_t n = strlen(name);
	const char *v = NULL;

	for (int i = 0; i < props->n; i++)
		if (strncmp(props->v[i], name, n) == 0 &&
		    props->v[i][n] == '=')
			v = props->v[i] + n + 1;        /* the last one wins */
	return v;
}

/* Encryption options of create, checked before anything is changed. */
struct create_enc {
	const char *encryption;         /* as given, or NULL */
	int off;                        /* encryption=off given */
	int keyformat;                  /* CLI_KF_* (NONE: not a new root) */
	const char *keylocation;        /* as given, or NULL */
};

static int create_enc_opts(const struct cli_strv *props,
    struct create_enc *ce)
{
	const char *kf = prop_value(props, "keyformat");
	int ok = 0;

	memset(ce, 0, sizeof(*ce));
	ce->encryption = prop_value(props, "encryption");
	ce->keylocation = prop_value(props, "keylocation");
	if (ce->encryption) {
		for (int i = 0; suites[i]; i++)
			if (strcasecmp(ce->encryption, suites[i]) == 0)
				ok = 1;
		if (!ok)
			return cli_usage("bad encryption '%s' (use on, off, "
			    "aes-128-ccm, aes-192-ccm, aes-256-ccm, "
			    "aes-128-gcm, aes-192-gcm, aes-256-gcm or "
			    "chacha20-poly1305)", ce->encryption);
		ce->off = strcasecmp(ce->encryption, "off") == 0;
	}
	if (kf) {
		ce->keyformat = cli_keyformat_parse(kf);
		if (ce->keyformat < 0)
			return cli_usage("bad keyformat '%s' (use passphrase, "
			    "hex or raw)", kf);
	}
	if (ce->keyformat != CLI_KF_NONE && ce->off)
		return cli_usage("keyformat needs encryption (encryption=off "
		    "was given)");
	if (ce->keylocation && ce->keyformat == CLI_KF_NONE)
		return cli_usage("keylocation needs keyformat: only an "
		    "encryption root has a key");
	if (ce->keylocation && cli_keylocation_check(ce->keylocation) != 0)
		return cli_usage("bad keylocation '%s' (use prompt or "
		    "file:///absolute/path)", ce->keylocation);
	if ((prop_value(props, "pbkdf") || prop_value(props, "pbkdf2iters")) &&
	    ce->keyformat != CLI_KF_PASSPHRASE)
		return cli_usage("pbkdf and pbkdf2iters need "
		    "keyformat=passphrase");
	return CLI_OK;
}

/* The nearest existing ancestor of `name` into `out`; -1 when none. */
static int existing_ancestor(coffer_pool_t *pool, const char *name,
    char *out, size_t n)
{
	snprintf(out, n, "%s", name);
	for (;;) {
		char *slash = strrchr(out, '/');
		if (!slash)
			return cli_ds_type(pool, out) > 0 ? 0 : -1;
		*slash = '\0';
		if (cli_ds_type(pool, out) > 0)
			return 0;
	}
}

int cmd_create(int argc, char **argv)
{
	struct cli_strv props = { 0 };
	struct create_enc ce;
	struct cli_enc pe = { 0 };
	struct cli_key key = { 0 };
	coffer_key_t ck = { NULL, 0 };
	coffer_pool_t *pool;
	uint64_t volsize = 0;
	char anc[CLI_NAME_MAX], what[CLI_NAME_MAX + 32];
	int c, parents = 0, vol = 0, rc, crypt, newroot;
	const char *name;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "po:V:", NULL)) != -1) {
		switch (c) {
		case 'p':
			parents = 1;
			break;
		case 'o': {
			char *a = cli_prop_assign(cli_optarg);
			if (!a || cli_strv_add(&props, a) < 0) {
				free(a);
				cli_strv_free_strings(&props);
				return a ? cli_syserr(ENOMEM, "cannot parse "
				    "options") : CLI_USAGE;
			}
			break;
		}
		case 'V':
			if (cli_parse_size(cli_optarg, &volsize) != 0 ||
			    volsize == 0) {
				cli_strv_free_strings(&props);
				return cli_usage("bad size '%s'", cli_optarg);
			}
			vol = 1;
			break;
		default:
			cli_strv_free_strings(&props);
			return CLI_USAGE;
		}
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc != 1) {
		cli_strv_free_strings(&props);
		return cli_usage(argc ? "too many arguments" :
		    "missing dataset name");
	}
	name = argv[0];
	if (strchr(name, '@')) {
		cli_strv_free_strings(&props);
		return cli_usage("cannot create '%s': use 'coffer snapshot' for "
		    "snapshots", name);
	}
	if (create_enc_opts(&props, &ce) != CLI_OK) {
		cli_strv_free_strings(&props);
		return CLI_USAGE;
	}
	if (!strchr(name, '/')) {
		cli_strv_free_strings(&props);
		return cli_msg("cannot create '%s': missing dataset name "
		    "(POOL/NAME); use 'coffer pool create' for pools", name);
	}
	if (cli_pool(name, 0, &pool) < 0) {
		cli_strv_free_strings(&props);
		return CLI_FAIL;
	}
	if (parents && cli_ds_type(pool, name) >= 0) {
		cli_strv_free_strings(&props);
		return cli_finish(CLI_OK);
	}

	/*
	 * Encryption follows the nearest existing ancestor (the parent,
	 * unless -p creates it): under an encrypted one everything is
	 * encrypted, and a dataset given keyformat is a new encryption root
	 * whose key is read now, before anything is created.
	 */
	snprintf(what, sizeof(what), "cannot create '%s'", name);
	newroot = ce.keyformat != CLI_KF_NONE;
	if (!parents && newroot) {
		/* no key is asked for when the parent is missing */
		char parent[CLI_NAME_MAX];
		snprintf(parent, sizeof(parent), "%.*s",
		    (int)(strrchr(name, '/') - name), name);
		if (cli_ds_type(pool, parent) < 0) {
			cli_msg("%s: parent '%s' does not exist (-p creates "
			    "it)", what, parent);
			goto fail;
		}
	}
	if (existing_ancestor(pool, name, anc, sizeof(anc)) == 0) {
		rc = cli_enc_info(pool, anc, &pe);
		if (rc < 0) {
			cli_err(rc, "%s", what);
			goto fail;
		}
	}
	if (!newroot && ce.encryption && !ce.off && !pe.encrypted) {
		cli_msg("%s: keyformat must be specified for a new encryption "
		    "root (-o keyformat=passphrase|hex|raw)", what);
		goto fail;
	}
	if (ce.off && pe.encrypted) {
		cli_msg("%s: the children of encrypted '%s' are encrypted "
		    "(encryption=off was given)", what, anc);
		goto fail;
	}
	crypt = newroot || pe.encrypted;
	if (newroot) {
		const char *why = NULL;
		if (!ce.encryption) {
			/* keyformat alone means encryption=on, as in zfs */
			char *a = strdup("encryption=on");
			if (!a || cli_strv_add(&props, a) < 0) {
				free(a);
				cli_syserr(ENOMEM, "%s", what);
				goto fail;
			}
		}
		if (prop_value(&props, "pbkdf2iters") &&
		    !prop_value(&props, "pbkdf")) {
			/* pbkdf2iters alone means pbkdf=pbkdf2 */
			char *a = strdup("pbkdf=pbkdf2");
			if (!a || cli_strv_add(&props, a) < 0) {
				free(a);
				cli_syserr(ENOMEM, "%s", what);
				goto fail;
			}
		}
		if (cli_key_read(what, name, ce.keylocation ? ce.keylocation :
		    "prompt", CLI_KF_BIT(ce.keyformat), CLI_KEY_NEW, &key) !=
		    CLI_OK)
			goto fail;
		if (cli_key_as(&key, ce.keyformat, &ck, &why) != 0) {
			cli_msg("%s: %s", what, why);
			goto fail;
		}
	}

	if (parents) {
		char part[CLI_NAME_MAX];
		const char *slash = strchr(name, '/');
		while ((slash = strchr(slash + 1, '/')) != NULL) {
			size_t len = (size_t)(slash - name);
			if (len >= sizeof(part))
				break;
			memcpy(part, name, len);
			part[len] = '\0';
			if (cli_ds_type(pool, part) >= 0)
				continue;
			if (pe.encrypted)
				rc = coffer_create_key(pool, part,
				    COFFER_TYPE_FILESYSTEM, 0, NULL, NULL);
			else
				rc = coffer_create(pool, part,
				    COFFER_TYPE_FILESYSTEM, 0, NULL);
			if (rc < 0 && rc != COFFER_EEXIST) {
				cli_err(rc, "cannot create '%s'", part);
				goto fail;
			}
		}
	}
	if (crypt)
		rc = coffer_create_key(pool, name,
		    vol ? COFFER_TYPE_VOLUME : COFFER_TYPE_FILESYSTEM, volsize,
		    props.n ? props.v : NULL, newroot ? &ck : NULL);
	else
		rc = coffer_create(pool, name,
		    vol ? COFFER_TYPE_VOLUME : COFFER_TYPE_FILESYSTEM, volsize,
		    props.n ? props.v : NULL);
	cli_key_free(&key);
	cli_strv_free_strings(&props);
	if (rc < 0) {
		cli_err(rc, "%s", what);
		return cli_finish(CLI_FAIL);
	}
	return cli_finish(CLI_OK);
fail:
	cli_key_free(&key);
	cli_strv_free_strings(&props);
	return cli_finish(CLI_FAIL);
}

/* ---- destroy ----------------------------------------------------------- */

int cmd_destroy(int argc, char **argv)
{
	coffer_pool_t *pool;
	int c, flags = 0, rc;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "r", NULL)) != -1) {
		if (c != 'r')
			return CLI_USAGE;
		flags |= COFFER_DESTROY_RECURSIVE;
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc != 1)
		return cli_usage(argc ? "too many arguments" :
		    "missing dataset or snapshot name");
	if (!strpbrk(argv[0], "/@"))
		return cli_msg("cannot destroy '%s': operation does not apply "
		    "to pools; use 'coffer pool destroy'", argv[0]);
	if (cli_pool(argv[0], 0, &pool) < 0)
		return CLI_FAIL;
	rc = coffer_destroy(pool, argv[0], flags);
	if (rc < 0) {
		if (rc == COFFER_EHASCHILD && !flags)
			cli_err(rc, "cannot destroy '%s' without -r", argv[0]);
		else
			cli_err(rc, "cannot destroy '%s'", argv[0]);
		return cli_finish(CLI_FAIL);
	}
	return cli_finish(CLI_OK);
}

/* ---- list -------------------------------------------------------------- */

struct list_row {
	char **val;             /* human values, one per key */
	char **raw;             /* parsable values */
};

struct list_ctx {
	struct cli_strv keys;   /* columns, then extra sort keys */
	int ncols;
	int sort[16], desc[16], nsort;
	struct list_row *rows;
	int nrows, cap;
	int failed;
};

static int list_cb(coffer_pool_t *pool, const char *name, int type,
    void *arg)
{
	struct list_ctx *lc = arg;
	struct list_row r;
	int nk = lc->keys.n;

	r.val = calloc((size_t)nk, sizeof(char *));
	r.raw = calloc((size_t)nk, sizeof(char *));
	if (!r.val || !r.raw)
		goto oom;
	for (int k = 0; k < nk; k++) {
		const char *key = lc->keys.v[k];
		coffer_propval_t pv;
		int rc;

		if (strcmp(key, "name") == 0) {
			r.val[k] = strdup(name);
			r.raw[k] = strdup(name);
		} else if ((rc = coffer_prop_get(pool, name, key, &pv)) < 0) {
			if (!prop_absent(rc)) {
				cli_err(rc, "cannot get '%s' of '%s'", key,
				    name);
				lc->failed = 1;
			}
			r.val[k] = strdup("-");
			r.raw[k] = strdup("-");
		} else {
			r.val[k] = strdup(pv.value);
			r.raw[k] = strdup(pv.raw[0] ? pv.raw : pv.value);
		}
		if (!r.val[k] || !r.raw[k])
			goto oom;
	}
	if (lc->nrows == lc->cap) {
		int cap = lc->cap ? lc->cap * 2 : 64;
		struct list_row *nr = realloc(lc->rows,
		    (size_t)cap * sizeof(*nr));
		if (!nr)
			goto oom;
		lc->rows = nr;
		lc->cap = cap;
	}
	lc->rows[lc->nrows++] = r;
	return 0;
oom:
	cli_syserr(ENOMEM, "cannot list '%s'", name);
	lc->failed = 1;
	return 1;
}

static struct list_ctx *sort_ctx;

static int cmp_cell(const char *a, const char *b)
{
	int ad = strcmp(a, "-") == 0, bd = strcmp(b, "-") == 0;

	if (ad || bd)
		return ad - bd;         /* missing values last */
	if (is_number(a) && is_number(b)) {
		double x = strtod(a, NULL), y = strtod(b, NULL);
		return x < y ? -1 : x > y;
	}
	return strcmp(a, b);
}

static int cmp_rows(const void *pa, const void *pb)
{
	const struct list_row *a = pa, *b = pb;

	for (int i = 0; i < sort_ctx->nsort; i++) {
		int k = sort_ctx->sort[i];
		int c = cmp_cell(a->raw[k], b->raw[k]);
		if (c)
			return sort_ctx->desc[i] ? -c : c;
	}
	return 0;
}

/* Index of key `name` in lc->keys, adding it when missing. */
static int key_index(struct list_ctx *lc, const char *name)
{
	for (int i = 0; i < lc->keys.n; i++)
		if (strcmp(lc->keys.v[i], name) == 0)
			return i;
	if (cli_strv_add(&lc->keys, name) < 0)
		return -1;
	return lc->keys.n - 1;
}

int cmd_list(int argc, char **argv)
{
	struct list_ctx lc = { 0 };
	const char *cols = "name,used,available,referenced,type";
	const char *sortkeys[16];
	int sortdesc[16], nsortkeys = 0;
	int c, recursive = 0, scripted = 0, parsable = 0, tgiven = 0;
	int types = COFFER_TYPE_FILESYSTEM | COFFER_TYPE_VOLUME;
	int rc = CLI_OK;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "rHpt:o:s:S:", NULL)) != -1) {
		switch (c) {
		case 'r': recursive = 1; break;
		case 'H': scripted = 1; break;
		case 'p': parsable = 1; break;
		case 't':
			if (cli_type_parse(cli_optarg, &types) != 0)
				return cli_usage("bad type list '%s' (use "
				    "filesystem,volume,snapshot,all)",
				    cli_optarg);
			tgiven = 1;
			break;
		case 'o': cols = cli_optarg; break;
		case 's':
		case 'S':
			if (nsortkeys == 16)
				return cli_usage("too many sort keys");
			sortkeys[nsortkeys] = cli_optarg;
			sortdesc[nsortkeys++] = c == 'S';
			break;
		default: return CLI_USAGE;
		}
	}
	argc -= cli_optind;
	argv += cli_optind;

	rc = split_props(cols, &lc.keys, 0, NULL);
	if (rc != CLI_OK)
		goto out;
	lc.ncols = lc.keys.n;
	for (int i = 0; i < nsortkeys; i++) {
		const char *canon = cli_prop_canon(sortkeys[i]);
		if (!canon) {
			rc = cli_usage("bad sort column '%s'", sortkeys[i]);
			goto out;
		}
		lc.sort[i] = key_index(&lc, canon);
		lc.desc[i] = sortdesc[i];
	}
	lc.nsort = nsortkeys;
	for (int i = 0; i < argc; i++) {
		if (cli_is_spec(argv[i])) {
			rc = cli_usage("'%s' is a file, not a dataset",
			    argv[i]);
			goto out;
		}
	}

	if (argc == 0) {
		rc = cli_walk(NULL, 1, types, COFFER_OPEN_RDONLY, list_cb, &lc);
	} else {
		for (int i = 0; i < argc; i++) {
			int t = types;
			if (!tgiven && strchr(argv[i], '@'))
				t |= COFFER_TYPE_SNAPSHOT;
			if (cli_walk(argv[i], recursive, t, COFFER_OPEN_RDONLY,
			    list_cb, &lc) != CLI_OK)
				rc = CLI_FAIL;
		}
	}
	if (lc.failed)
		rc = CLI_FAIL;
	if (lc.nsort) {
		/* a stable sort: ties keep the walk (name) order */
		sort_ctx = &lc;
		for (int i = 1; i < lc.nrows; i++) {
			struct list_row tmp = lc.rows[i];
			int j = i - 1;
			while (j >= 0 && cmp_rows(&lc.rows[j], &tmp) > 0) {
				lc.rows[j + 1] = lc.rows[j];
				j--;
			}
			lc.rows[j + 1] = tmp;
		}
	}

	if (lc.nrows == 0) {
		if (rc == CLI_OK && argc == 0)
			fprintf(stderr, "no datasets available\n");
	} else {
		struct cli_table t;
		const char **hdr = calloc((size_t)lc.ncols, sizeof(char *));
		for (int k = 0; hdr && k < lc.ncols; k++)
			hdr[k] = cli_prop_header(lc.keys.v[k]);
		cli_table_init(&t, lc.ncols, hdr);
		for (int r = 0; r < lc.nrows; r++)
			cli_table_add(&t, (const char *const *)(parsable ?
			    lc.rows[r].raw : lc.rows[r].val));
		/* numeric columns right-aligned, as zfs does */
		for (int k = 0; k < lc.ncols && t.right; k++) {
			int other = 0;
			for (int r = 0; r < lc.nrows; r++) {
				const char *s = lc.rows[r].raw[k];
				if (!is_number(s) && strcmp(s, "-") != 0)
					other = 1;
			}
			t.right[k] = !other;
		}
		cli_table_print(&t, scripted, stdout);
		cli_table_free(&t);
		for (int k = 0; hdr && k < lc.ncols; k++)
			free((void *)hdr[k]);
		free(hdr);
	}
out:
	for (int r = 0; r < lc.nrows; r++) {
		for (int k = 0; k < lc.keys.n; k++) {
			free(lc.rows[r].val[k]);
			free(lc.rows[r].raw[k]);
		}
		free(lc.rows[r].val);
		free(lc.rows[r].raw);
	}
	free(lc.rows);
	cli_strv_free(&lc.keys);
	return cli_finish(rc);
}

/* ---- get (properties) -------------------------------------------------- */

#define F_NAME  0
#define F_PROP  1
#define F_VALUE 2
#define F_SRC   3

struct get_ctx {
	struct cli_strv props;
	int all;
	int fields[4], nfields;
	int parsable;
	struct cli_table t;
	int failed;
};

static void source_text(const coffer_propval_t *pv, char *buf, size_t n)
{
	switch (pv->source) {
	case COFFER_SRC_DEFAULT:
		snprintf(buf, n, "default");
		break;
	case COFFER_SRC_LOCAL:
		snprintf(buf, n, "local");
		break;
	case COFFER_SRC_INHERITED:
		snprintf(buf, n, "inherited from %s", pv->inherited_from);
		break;
	case COFFER_SRC_RECEIVED:
		snprintf(buf, n, "received");
		break;
	default:
		snprintf(buf, n, "-");
		break;
	}
}

static int get_one(struct get_ctx *g, coffer_pool_t *pool, const char *ds,
    const char *prop, int from_all)
{
	coffer_propval_t pv;
	char src[300];
	const char *all4[4];
	const char *cells[4];
	int rc = coffer_prop_get(pool, ds, prop, &pv);

	if (rc < 0) {
		if (prop_absent(rc)) {
			if (from_all)
				return 0;
			snprintf(pv.value, sizeof(pv.value), "-");
			snprintf(pv.raw, sizeof(pv.raw), "-");
			pv.source = COFFER_SRC_NONE;
		} else {
			cli_err(rc, "cannot get '%s' of '%s'", prop, ds);
			g->failed = 1;
			return 0;
		}
	}
	source_text(&pv, src, sizeof(src));
	all4[F_NAME] = ds;
	all4[F_PROP] = prop;
	all4[F_VALUE] = g->parsable && pv.raw[0] ? pv.raw : pv.value;
	all4[F_SRC] = src;
	for (int i = 0; i < g->nfields; i++)
		cells[i] = all4[g->fields[i]];
	if (cli_table_add(&g->t, cells) < 0) {
		cli_syserr(ENOMEM, "cannot get '%s' of '%s'", prop, ds);
		g->failed = 1;
		return 1;
	}
	return 0;
}

static int get_cb(coffer_pool_t *pool, const char *name, int type, void *arg)
{
	struct get_ctx *g = arg;

	if (g->all) {
		const char *const *names = coffer_prop_names();
		for (int i = 0; names && names[i]; i++)
			if (get_one(g, pool, name, names[i], 1))
				return 1;
	}
	for (int i = 0; i < g->props.n; i++)
		if (get_one(g, pool, name, g->props.v[i], 0))
			return 1;
	return 0;
}

/*
 * `get receive_resume_token DATASET` for an interrupted full receive:
 * DATASET does not exist yet, but its token does.  Returns 1 when it
 * handled `name`.
 */
static int resume_token_of_new(struct get_ctx *g, const char *name,
    int recursive)
{
	coffer_pool_t *pool;
	coffer_propval_t pv;
	if (recursive || g->all || g->props.n != 1 ||
	    strcmp(g->props.v[0], "receive_resume_token") != 0 ||
	    strpbrk(name, "@:") || !strchr(name, '/'))
		return 0;
	char pn[CLI_NAME_MAX];
	if (cli_pool_of(name, pn, sizeof(pn)) != 0 ||
	    cli_pool(name, COFFER_OPEN_RDONLY, &pool) < 0)
		return 0;
	if (cli_ds_type(pool, name) != COFFER_ENODS ||
	    coffer_prop_get(pool, name, "receive_resume_token", &pv) < 0)
		return 0;
	get_cb(pool, name, COFFER_TYPE_FILESYSTEM, g);
	return 1;
}

int cmd_prop_get(int argc, char **argv)
{
	static const char *const fnames[] = { "name", "property", "value",
	    "source" };
	static const char *const fhdr[] = { "NAME", "PROPERTY", "VALUE",
	    "SOURCE" };
	const char *hdr[4];
	struct get_ctx g = { 0 };
	const char *fields = "name,property,value,source";
	int c, recursive = 0, scripted = 0, rc = CLI_OK;
	int types = COFFER_TYPE_FILESYSTEM | COFFER_TYPE_VOLUME |
	    COFFER_TYPE_SNAPSHOT;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "rHpo:t:", NULL)) != -1) {
		switch (c) {
		case 'r': recursive = 1; break;
		case 'H': scripted = 1; break;
		case 'p': g.parsable = 1; break;
		case 'o': fields = cli_optarg; break;
		case 't':
			if (cli_type_parse(cli_optarg, &types) != 0)
				return cli_usage("bad type list '%s'",
				    cli_optarg);
			break;
		default: return CLI_USAGE;
		}
	}
	argc -= cli_optind;
	argv += cli_optind;

	for (const char *p = fields; *p;) {
		size_t len = strcspn(p, ",");
		int f = -1;
		for (int i = 0; i < 4; i++)
			if (strlen(fnames[i]) == len &&
			    strncmp(p, fnames[i], len) == 0)
				f = i;
		if (f < 0 || g.nfields == 4)
			return cli_usage("bad field list '%s' (use "
			    "name,property,value,source)", fields);
		hdr[g.nfields] = fhdr[f];
		g.fields[g.nfields++] = f;
		p += len;
		if (*p == ',')
			p++;
	}
	if (g.nfields == 0)
		return cli_usage("bad field list '%s'", fields);
	if (argc < 1)
		return cli_usage("missing property name");
	rc = split_props(argv[0], &g.props, 1, &g.all);
	if (rc != CLI_OK) {
		cli_strv_free(&g.props);
		return rc;
	}
	argc--;
	argv++;

	cli_table_init(&g.t, g.nfields, hdr);
	if (argc == 0) {
		rc = cli_walk(NULL, 1, types, COFFER_OPEN_RDONLY, get_cb, &g);
	} else {
		for (int i = 0; i < argc; i++) {
			if (resume_token_of_new(&g, argv[i], recursive))
				continue;
			if (cli_walk(argv[i], recursive, types,
			    COFFER_OPEN_RDONLY, get_cb, &g) != CLI_OK)
				rc = CLI_FAIL;
		}
	}
	if (g.failed)
		rc = CLI_FAIL;
	if (g.t.nrows)
		cli_table_print(&g.t, scripted, stdout);
	cli_table_free(&g.t);
	cli_strv_free(&g.props);
	return cli_finish(rc);
}

/* `get` is two commands: a file copy when an operand is DATASET:/PATH. */
int cmd_get(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			continue;
		if (cli_is_spec(argv[i]))
			return cmd_file_get(argc, argv);
	}
	return cmd_prop_get(argc, argv);
}

/* ---- set / inherit ----------------------------------------------------- */

int cmd_set(int argc, char **argv)
{
	int c, nassign, rc = CLI_OK;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "", NULL)) != -1)
		return CLI_USAGE;
	argc -= cli_optind;
	argv += cli_optind;

	for (nassign = 0; nassign < argc; nassign++) {
		const char *eq = strchr(argv[nassign], '=');
		if (!eq)
			break;
		if (eq == argv[nassign])
			return cli_usage("bad assignment '%s' (use "
			    "property=value)", argv[nassign]);
		char *a = cli_prop_assign(argv[nassign]);
		if (!a)
			return CLI_USAGE;
		free(a);
	}
	if (nassign == 0)
		return cli_usage(argc ? "expected property=value, got '%s'" :
		    "missing property=value", argc ? argv[0] : "");
	if (nassign == argc)
		return cli_usage("missing dataset name");
	for (int i = nassign; i < argc; i++)
		if (strchr(argv[i], '='))
			return cli_usage("property=value must come before "
			    "the datasets: '%s'", argv[i]);

	for (int i = nassign; i < argc; i++) {
		coffer_pool_t *pool;
		if (cli_pool(argv[i], 0, &pool) < 0) {
			rc = CLI_FAIL;
			continue;
		}
		for (int j = 0; j < nassign; j++) {
			char prop[128];
			const char *eq = strchr(argv[j], '=');
			size_t len = (size_t)(eq - argv[j]);
			const char *canon;
			if (len >= sizeof(prop)) {
				rc = cli_msg("cannot set '%.20s...' of '%s': "
				    "property name too long", argv[j],
				    argv[i]);
				continue;
			}
			memcpy(prop, argv[j], len);
			prop[len] = '\0';
			canon = cli_prop_canon(prop);
			c = coffer_prop_set(pool, argv[i], canon ? canon : prop,
			    eq + 1);
			if (c < 0)
				rc = cli_err(c, "cannot set '%s' of '%s' to "
				    "'%s'", prop, argv[i], eq + 1);
		}
	}
	return cli_finish(rc);
}

struct inherit_ctx {
	const char *prop;
	int failed;
};

static int inherit_cb(coffer_pool_t *pool, const char *name, int type,
    void *arg)
{
	struct inherit_ctx *ic = arg;
	int rc = coffer_prop_inherit(pool, name, ic->prop);

	if (rc < 0) {
		cli_err(rc, "cannot inherit '%s' for '%s'", ic->prop, name);
		ic->failed = 1;
	}
	return 0;
}

int cmd_inherit(int argc, char **argv)
{
	struct inherit_ctx ic = { 0 };
	int c, recursive = 0, rc = CLI_OK;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "r", NULL)) != -1) {
		if (c != 'r')
			return CLI_USAGE;
		recursive = 1;
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc < 1)
		return cli_usage("missing property name");
	if (argc < 2)
		return cli_usage("missing dataset name");
	ic.prop = cli_prop_canon(argv[0]);
	if (!ic.prop)
		return cli_usage("bad property '%s'", argv[0]);
	for (int i = 1; i < argc; i++) {
		if (cli_walk(argv[i], recursive,
		    COFFER_TYPE_FILESYSTEM | COFFER_TYPE_VOLUME, 0, inherit_cb,
		    &ic) != CLI_OK)
			rc = CLI_FAIL;
	}
	if (ic.failed)
		rc = CLI_FAIL;
	return cli_finish(rc);
}

/* ---- snapshot / rollback ----------------------------------------------- */

int cmd_snapshot(int argc, char **argv)
{
	int c, rc = CLI_OK;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "", NULL)) != -1)
		return CLI_USAGE;
	argc -= cli_optind;
	argv += cli_optind;
	if (argc < 1)
		return cli_usage("missing snapshot name (DATASET@NAME)");
	for (int i = 0; i < argc; i++) {
		const char *at = strchr(argv[i], '@');
		if (!at || at == argv[i] || at[1] == '\0')
			return cli_usage("bad snapshot name '%s' (use "
			    "DATASET@NAME)", argv[i]);
	}
	for (int i = 0; i < argc; i++) {
		coffer_pool_t *pool;
		if (cli_pool(argv[i], 0, &pool) < 0) {
			rc = CLI_FAIL;
			continue;
		}
		c = coffer_snapshot(pool, argv[i]);
		if (c < 0)
			rc = cli_err(c, "cannot create snapshot '%s'", argv[i]);
	}
	return cli_finish(rc);
}

int cmd_rollback(int argc, char **argv)
{
	coffer_pool_t *pool;
	int c, flags = 0, rc;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "r", NULL)) != -1) {
		if (c != 'r')
			return CLI_USAGE;
		flags |= COFFER_DESTROY_RECURSIVE;
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc != 1)
		return cli_usage(argc ? "too many arguments" :
		    "missing snapshot name (DATASET@NAME)");
	const char *at = strchr(argv[0], '@');
	if (!at || at == argv[0] || at[1] == '\0')
		return cli_usage("bad snapshot name '%s' (use DATASET@NAME)",
		    argv[0]);
	if (cli_pool(argv[0], 0, &pool) < 0)
		return CLI_FAIL;
	rc = coffer_rollback(pool, argv[0], flags);
	if (rc < 0) {
		if (rc == COFFER_EHASCHILD && !flags)
			cli_err(rc, "cannot roll back to '%s' without -r "
			    "(which destroys the newer snapshots)", argv[0]);
		else
			cli_err(rc, "cannot roll back to '%s'", argv[0]);
		return cli_finish(CLI_FAIL);
	}
	return cli_finish(CLI_OK);
}
