/*
 * cmd_key: encryption keys: load-key, unload-key, change-key and
 * key-slot add | remove | list.
 *
 * Keys are per encryption root.  load-key and unload-key accept any
 * dataset under a root and act on the root; change-key on a dataset that
 * is not a root makes it one (as zfs does); key-slot add and remove want
 * the root itself.  Keys loaded here stay loaded for later commands
 * (COFFER_KEY_PERSIST) until unload-key.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- what the CLI knows about a dataset's encryption ------------------- */

static int absent(int rc)
{
	return rc == COFFER_EBADPROP || rc == COFFER_ENOTSUP ||
	    rc == -ENOENT || rc == -ENOTSUP;
}

static int none_value(const char *v)
{
	return v[0] == '\0' || strcmp(v, "-") == 0 || strcmp(v, "none") == 0;
}

int cli_enc_info(coffer_pool_t *pool, const char *ds, struct cli_enc *e)
{
	coffer_propval_t pv;
	int rc;

	memset(e, 0, sizeof(*e));
	rc = coffer_prop_get(pool, ds, "encryption", &pv);
	if (rc < 0)
		return absent(rc) && cli_ds_type(pool, ds) > 0 ? 0 : rc;
	if (strcmp(pv.value, "off") == 0)
		return 0;
	e->encrypted = 1;
	rc = coffer_prop_get(pool, ds, "encryptionroot", &pv);
	if (rc < 0)
		return rc;
	if (none_value(pv.value)) {
		/* not expected; the dataset itself is the best guess */
		snprintf(e->root, sizeof(e->root), "%.*s",
		    (int)strcspn(ds, "@"), ds);
	} else {
		size_t n = strlen(pv.value);
		if (n >= sizeof(e->root))
			return -ENAMETOOLONG;
		memcpy(e->root, pv.value, n + 1);
	}
	rc = coffer_prop_get(pool, e->root, "keystatus", &pv);
	if (rc < 0)
		return rc;
	e->available = strcmp(pv.value, "available") == 0;
	rc = coffer_prop_get(pool, e->root, "keyformat", &pv);
	if (rc < 0)
		return rc;
	e->keyformat = cli_keyformat_parse(pv.value);
	if (e->keyformat < 0)
		e->keyformat = CLI_KF_NONE;
	rc = coffer_prop_get(pool, e->root, "keylocation", &pv);
	if (rc < 0)
		return rc;
	memcpy(e->keylocation, pv.value, sizeof(pv.value));
	return 0;
}

/* ---- loading ----------------------------------------------------------- */

static int slot_formats_cb(const coffer_slot_info_t *in, void *arg)
{
	int f = cli_keyformat_parse(in->keyformat);

	if (f > 0)
		*(int *)arg |= CLI_KF_BIT(f);
	return 0;
}

/* "wrong passphrase", "wrong key" or both, for the formats tried. */
static const char *wrong_words(int tried)
{
	if (tried == CLI_KF_BIT(CLI_KF_PASSPHRASE))
		return "wrong passphrase";
	if (!(tried & CLI_KF_BIT(CLI_KF_PASSPHRASE)))
		return "wrong key";
	return "wrong passphrase or key";
}

/*
 * Read the key of encryption root `root` from `loc` (NULL: its
 * keylocation) and load it (COFFER_KEY_PERSIST) or, with noop, check it.
 * The formats tried are the root's keyformat first, then those of its
 * other key slots.  Prints failures; CLI_OK or CLI_FAIL.
 */
int cli_load_root_key(coffer_pool_t *pool, const struct cli_enc *e,
    const char *loc, int noop)
{
	char what[CLI_NAME_MAX + 32];
	struct cli_key k;
	const char *why = NULL;
	int formats = 0, tried = 0, rc = 0;
	int order[4] = { e->keyformat, CLI_KF_PASSPHRASE, CLI_KF_HEX,
	    CLI_KF_RAW };

	snprintf(what, sizeof(what), "cannot %s key for '%s'",
	    noop ? "check" : "load", e->root);
	if (e->keyformat > 0)
		formats |= CLI_KF_BIT(e->keyformat);
	(void)coffer_key_slot_list(pool, e->root, slot_formats_cb, &formats);
	if (!formats)
		return cli_msg("%s: its key format is unknown", what);
	if (!loc)
		loc = e->keylocation;
	if (cli_keylocation_check(loc) != 0)
		return cli_msg("%s: keylocation is '%s' (give -L prompt or "
		    "-L file:///PATH)", what, loc);
	if (cli_key_read(what, e->root, loc, formats, 0, &k) != CLI_OK)
		return CLI_FAIL;
	for (int i = 0; i < 4; i++) {
		int f = order[i];
		coffer_key_t ck;
		const char *w = NULL;

		if (f <= 0 || !(formats & CLI_KF_BIT(f)) ||
		    (tried & CLI_KF_BIT(f)))
			continue;
		if (cli_key_as(&k, f, &ck, &w) != 0) {
			if (!why)
				why = w;
			continue;
		}
		tried |= CLI_KF_BIT(f);
		rc = coffer_load_key(pool, e->root, &ck,
		    noop ? COFFER_KEY_NOOP : COFFER_KEY_PERSIST);
		if (rc != COFFER_EWRONGKEY)
			break;
	}
	cli_key_free(&k);
	if (!tried)
		return cli_msg("%s: %s", what, why);
	if (rc == 0)
		return CLI_OK;
	if (rc == COFFER_EWRONGKEY)
		return cli_msg("%s: %s", what, wrong_words(tried));
	if (rc == COFFER_EEXIST)
		return cli_msg("%s: key already loaded", what);
	return cli_err(rc, "%s", what);
}

/* Encryption roots under `top` (NULL: every pool) for -a. */
struct roots {
	coffer_pool_t **pool;
	char **name;
	int n, cap;
	int want_available;     /* 1: loaded ones (unload), 0: not loaded */
	int failed;
};

static int roots_cb(coffer_pool_t *pool, const char *name, int type,
    void *arg)
{
	struct roots *r = arg;
	struct cli_enc e;
	int rc = cli_enc_info(pool, name, &e);

	if (rc < 0) {
		cli_err(rc, "cannot get the encryption of '%s'", name);
		r->failed = 1;
		return 0;
	}
	if (!e.encrypted || strcmp(e.root, name) != 0 ||
	    e.available != r->want_available)
		return 0;
	if (r->n == r->cap) {
		int cap = r->cap ? r->cap * 2 : 16;
		coffer_pool_t **pv = realloc(r->pool, (size_t)cap *
		    sizeof(*pv));
		if (!pv)
			goto oom;
		r->pool = pv;
		char **nv = realloc(r->name, (size_t)cap * sizeof(*nv));
		if (!nv)
			goto oom;
		r->name = nv;
		r->cap = cap;
	}
	r->name[r->n] = strdup(name);
	if (!r->name[r->n])
		goto oom;
	r->pool[r->n++] = pool;
	return 0;
oom:
	cli_syserr(ENOMEM, "cannot list encryption roots");
	r->failed = 1;
	return 1;
}

static void roots_free(struct roots *r)
{
	for (int i = 0; i < r->n; i++)
		free(r->name[i]);
	free(r->name);
	free(r->pool);
	memset(r, 0, sizeof(*r));
}

static int find_roots(const char *top, struct roots *r)
{
	int rc = cli_walk(top, 1, COFFER_TYPE_FILESYSTEM | COFFER_TYPE_VOLUME,
	    COFFER_OPEN_RDONLY, roots_cb, r);

	if (rc != CLI_OK)
		r->failed = 1;
	return r->failed ? CLI_FAIL : CLI_OK;
}

/* The encryption of `ds` for a key command; prints and returns CLI_FAIL
 * when it cannot be had or the dataset is not encrypted. */
static int enc_of(coffer_pool_t *pool, const char *ds, const char *what,
    struct cli_enc *e)
{
	int rc = cli_enc_info(pool, ds, e);

	if (rc < 0)
		return cli_err(rc, "%s", what);
	if (!e->encrypted)
		return cli_msg("%s: not encrypted", what);
	return CLI_OK;
}

/* ---- load-key / unload-key --------------------------------------------- */

int cmd_load_key(int argc, char **argv)
{
	const char *loc = NULL;
	int c, all = 0, noop = 0, rc = CLI_OK;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "anL:", NULL)) != -1) {
		switch (c) {
		case 'a': all = 1; break;
		case 'n': noop = 1; break;
		case 'L':
			loc = cli_optarg;
			if (cli_keylocation_check(loc) != 0)
				return cli_usage("bad key location '%s' (use "
				    "prompt or file:///absolute/path)", loc);
			break;
		default: return CLI_USAGE;
		}
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc > 1)
		return cli_usage("too many arguments");
	if (!all && argc == 0)
		return cli_usage("missing dataset name (or -a for all)");
	if (argc && cli_is_spec(argv[0]))
		return cli_usage("'%s' is a file, not a dataset", argv[0]);

	if (all) {
		struct roots r = { 0 };
		int loaded = 0;

		r.want_available = 0;
		rc = find_roots(argc ? argv[0] : NULL, &r);
		for (int i = 0; i < r.n; i++) {
			struct cli_enc e;
			if (enc_of(r.pool[i], r.name[i], "cannot load key",
			    &e) != CLI_OK ||
			    cli_load_root_key(r.pool[i], &e, loc, noop) !=
			    CLI_OK)
				rc = CLI_FAIL;
			else
				loaded++;
		}
		printf("%d of %d keys %s\n", loaded, r.n,
		    noop ? "checked" : "loaded");
		roots_free(&r);
		return cli_finish(rc);
	}

	coffer_pool_t *pool;
	struct cli_enc e;
	char what[CLI_NAME_MAX + 32];

	snprintf(what, sizeof(what), "cannot %s key for '%s'",
	    noop ? "check" : "load", argv[0]);
	if (cli_pool(argv[0], COFFER_OPEN_RDONLY, &pool) < 0)
		return CLI_FAIL;
	if (enc_of(pool, argv[0], what, &e) != CLI_OK)
		return cli_finish(CLI_FAIL);
	if (e.available && !noop) {
		cli_msg("cannot load key for '%s': key already loaded",
		    e.root);
		return cli_finish(CLI_FAIL);
	}
	rc = cli_load_root_key(pool, &e, loc, noop);
	return cli_finish(rc);
}

static int unload_root(coffer_pool_t *pool, const char *root)
{
	int rc = coffer_unload_key(pool, root);

	if (rc == COFFER_ENOKEY)
		return cli_msg("cannot unload key for '%s': key not loaded",
		    root);
	if (rc < 0)
		return cli_err(rc, "cannot unload key for '%s'", root);
	return CLI_OK;
}

int cmd_unload_key(int argc, char **argv)
{
	int c, all = 0, rc = CLI_OK;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "a", NULL)) != -1) {
		if (c != 'a')
			return CLI_USAGE;
		all = 1;
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc > 1)
		return cli_usage("too many arguments");
	if (!all && argc == 0)
		return cli_usage("missing dataset name (or -a for all)");
	if (argc && cli_is_spec(argv[0]))
		return cli_usage("'%s' is a file, not a dataset", argv[0]);

	if (all) {
		struct roots r = { 0 };
		int done = 0;

		r.want_available = 1;
		rc = find_roots(argc ? argv[0] : NULL, &r);
		for (int i = 0; i < r.n; i++) {
			if (unload_root(r.pool[i], r.name[i]) != CLI_OK)
				rc = CLI_FAIL;
			else
				done++;
		}
		printf("%d of %d keys unloaded\n", done, r.n);
		roots_free(&r);
		return cli_finish(rc);
	}

	coffer_pool_t *pool;
	struct cli_enc e;
	char what[CLI_NAME_MAX + 32];

	snprintf(what, sizeof(what), "cannot unload key for '%s'", argv[0]);
	if (cli_pool(argv[0], COFFER_OPEN_RDONLY, &pool) < 0)
		return CLI_FAIL;
	if (enc_of(pool, argv[0], what, &e) != CLI_OK)
		return cli_finish(CLI_FAIL);
	if (!e.available) {
		cli_msg("cannot unload key for '%s': key not loaded", e.root);
		return cli_finish(CLI_FAIL);
	}
	return cli_finish(unload_root(pool, e.root));
}

/* ---- options shared by change-key and key-slot add --------------------- */

struct keyopts {
	struct cli_strv props;  /* canonical, malloc'ed */
	const char *keyformat, *keylocation;   /* values inside props */
	int pbkdf;              /* pbkdf= or pbkdf2iters= given */
	int pbkdf_named;        /* pbkdf= given */
};

static void keyopts_free(struct keyopts *o)
{
	cli_strv_free_strings(&o->props);
}

/* -o prop=val: only keyformat, keylocation, pbkdf, pbkdf2iters.  Returns
 * CLI_OK or CLI_USAGE (printed). */
static int keyopt_add(struct keyopts *o, const char *arg)
{
	char *a = cli_prop_assign(arg);
	const char *v;

	if (!a)
		return CLI_USAGE;
	v = strchr(a, '=') + 1;
	if (strncmp(a, "keyformat=", 10) == 0) {
		int f = cli_keyformat_parse(v);
		if (f < 0) {
			cli_usage("bad keyformat '%s' (use passphrase, hex or "
			    "raw)", v);
			free(a);
			return CLI_USAGE;
		}
		if (f == CLI_KF_NONE) {
			free(a);
			return cli_usage("keyformat=none is not a key; "
			    "'coffer reencrypt --decrypt' removes "
			    "encryption");
		}
		o->keyformat = v;
	} else if (strncmp(a, "keylocation=", 12) == 0) {
		if (cli_keylocation_check(v) != 0) {
			cli_usage("bad keylocation '%s' (use prompt or "
			    "file:///absolute/path)", v);
			free(a);
			return CLI_USAGE;
		}
		o->keylocation = v;
	} else if (strncmp(a, "pbkdf=", 6) == 0) {
		o->pbkdf = o->pbkdf_named = 1;
	} else if (strncmp(a, "pbkdf2iters=", 12) == 0) {
		o->pbkdf = 1;
	} else {
		free(a);
		return cli_usage("only keyformat, keylocation, pbkdf and "
		    "pbkdf2iters can be given here");
	}
	if (cli_strv_add(&o->props, a) < 0) {
		free(a);
		cli_syserr(ENOMEM, "cannot parse options");
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* "name=value", malloc'ed */
static char *prop_str(const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 2;
	char *a = malloc(n);

	if (a)
		snprintf(a, n, "%s=%s", name, value);
	return a;
}

static int add_prop(struct cli_strv *sv, const char *name, const char *value)
{
	char *a = prop_str(name, value);

	if (!a || cli_strv_add(sv, a) < 0) {
		free(a);
		return -ENOMEM;
	}
	return 0;
}

/*
 * Read the new key for `ds` in format `fmt` from `loc`, asking twice on
 * the terminal, and point `ck` at it.  Prints failures.
 */
static int read_new_key(const char *what, const char *ds, int fmt,
    const char *loc, struct cli_key *k, coffer_key_t *ck)
{
	const char *why = NULL;

	if (cli_key_read(what, ds, loc, CLI_KF_BIT(fmt),
	    CLI_KEY_NEW | CLI_KEY_CHANGE, k) != CLI_OK)
		return CLI_FAIL;
	if (cli_key_as(k, fmt, ck, &why) != 0) {
		cli_key_free(k);
		return cli_msg("%s: %s", what, why);
	}
	return CLI_OK;
}

/* ---- change-key -------------------------------------------------------- */

int cmd_change_key(int argc, char **argv)
{
	struct keyopts o = { 0 };
	coffer_pool_t *pool;
	struct cli_enc e;
	struct cli_key k;
	coffer_key_t ck;
	char what[CLI_NAME_MAX + 32];
	const char *ds, *loc;
	int c, load = 0, inherit = 0, fmt, rc;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "lio:", NULL)) != -1) {
		switch (c) {
		case 'l': load = 1; break;
		case 'i': inherit = 1; break;
		case 'o':
			rc = keyopt_add(&o, cli_optarg);
			if (rc != CLI_OK) {
				keyopts_free(&o);
				return rc;
			}
			break;
		default:
			keyopts_free(&o);
			return CLI_USAGE;
		}
	}
	argc -= cli_optind;
	argv += cli_optind;
	rc = CLI_USAGE;
	if (argc != 1)
		cli_usage(argc ? "too many arguments" : "missing dataset name");
	else if (inherit && o.props.n)
		cli_usage("-i takes no -o: the dataset takes its parent's key");
	else if (strchr(argv[0], '@') || cli_is_spec(argv[0]))
		cli_usage("'%s' is not a dataset (snapshots use their "
		    "dataset's key)", argv[0]);
	else
		rc = CLI_OK;
	if (rc != CLI_OK) {
		keyopts_free(&o);
		return rc;
	}
	ds = argv[0];
	snprintf(what, sizeof(what), "cannot change key for '%s'", ds);
	if (cli_pool(ds, 0, &pool) < 0) {
		keyopts_free(&o);
		return CLI_FAIL;
	}
	if (enc_of(pool, ds, what, &e) != CLI_OK)
		goto fail;
	fmt = o.keyformat ? cli_keyformat_parse(o.keyformat) : e.keyformat;
	if (o.pbkdf && fmt != CLI_KF_PASSPHRASE) {
		cli_msg("%s: pbkdf and pbkdf2iters apply only to "
		    "keyformat=passphrase", what);
		goto fail;
	}
	if (inherit) {
		char parent[CLI_NAME_MAX];
		struct cli_enc pe;
		const char *slash = strrchr(ds, '/');
		if (strcmp(e.root, ds) != 0) {
			cli_msg("%s: not an encryption root (it already uses "
			    "the key of '%s')", what, e.root);
			goto fail;
		}
		if (!slash) {
			cli_msg("%s: a pool's root dataset has no parent",
			    what);
			goto fail;
		}
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - ds),
		    ds);
		rc = cli_enc_info(pool, parent, &pe);
		if (rc < 0) {
			cli_err(rc, "%s", what);
			goto fail;
		}
		if (!pe.encrypted) {
			cli_msg("%s: its parent '%s' is not encrypted", what,
			    parent);
			goto fail;
		}
		if (!pe.available) {
			cli_msg("%s: the key of '%s' is not loaded", what,
			    pe.root);
			goto fail;
		}
	}
	if (!e.available) {
		if (!load) {
			cli_msg("%s: encryption key not loaded (load it with "
			    "'coffer load-key' or use -l)", what);
			goto fail;
		}
		if (cli_load_root_key(pool, &e, NULL, 0) != CLI_OK)
			goto fail;
	}
	if (inherit) {
		rc = coffer_change_key(pool, ds, NULL, NULL, 1);
		if (rc < 0) {
			cli_err(rc, "%s", what);
			goto fail;
		}
		keyopts_free(&o);
		return cli_finish(CLI_OK);
	}

	if (fmt <= 0) {
		cli_msg("%s: its key format is unknown (give -o keyformat=)",
		    what);
		goto fail;
	}
	/* a dataset that becomes a root reads from the prompt unless told */
	loc = o.keylocation ? o.keylocation :
	    strcmp(e.root, ds) == 0 ? e.keylocation : "prompt";
	if (cli_keylocation_check(loc) != 0) {
		cli_msg("%s: keylocation is '%s' (give -o keylocation=)", what,
		    loc);
		goto fail;
	}
	/* say what the new key is and where it is kept, whatever the
	 * dataset had: it may be becoming a root */
	if (!o.keyformat && add_prop(&o.props, "keyformat",
	    cli_keyformat_name(fmt)) < 0) {
		cli_syserr(ENOMEM, "%s", what);
		goto fail;
	}
	if (!o.keylocation && add_prop(&o.props, "keylocation", loc) < 0) {
		cli_syserr(ENOMEM, "%s", what);
		goto fail;
	}
	/* pbkdf2iters alone means pbkdf=pbkdf2 */
	if (o.pbkdf && !o.pbkdf_named &&
	    add_prop(&o.props, "pbkdf", "pbkdf2") < 0) {
		cli_syserr(ENOMEM, "%s", what);
		goto fail;
	}
	if (read_new_key(what, ds, fmt, loc, &k, &ck) != CLI_OK)
		goto fail;
	rc = coffer_change_key(pool, ds, o.props.v, &ck, 0);
	cli_key_free(&k);
	if (rc < 0) {
		cli_err(rc, "%s", what);
		goto fail;
	}
	keyopts_free(&o);
	return cli_finish(CLI_OK);
fail:
	keyopts_free(&o);
	return cli_finish(CLI_FAIL);
}

/* ---- key-slot ---------------------------------------------------------- */

/* The encryption root `ds` itself, with its key loaded when `loaded`. */
static int slot_target(coffer_pool_t *pool, const char *ds, const char *what,
    int loaded, struct cli_enc *e)
{
	if (enc_of(pool, ds, what, e) != CLI_OK)
		return CLI_FAIL;
	if (strcmp(e->root, ds) != 0)
		return cli_msg("%s: not an encryption root (its root is '%s')",
		    what, e->root);
	if (loaded && !e->available)
		return cli_msg("%s: encryption key not loaded (load it with "
		    "'coffer load-key' first)", what);
	return CLI_OK;
}

int cmd_key_slot_add(int argc, char **argv)
{
	struct keyopts o = { 0 };
	struct cli_strv lib = { 0 };
	coffer_pool_t *pool;
	struct cli_enc e;
	struct cli_key k;
	coffer_key_t ck;
	char what[CLI_NAME_MAX + 32];
	char *kfa = NULL, *kdfa = NULL;
	int c, fmt, rc = CLI_OK;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "o:", NULL)) != -1) {
		if (c != 'o' || (rc = keyopt_add(&o, cli_optarg)) != CLI_OK) {
			keyopts_free(&o);
			return c != 'o' ? CLI_USAGE : rc;
		}
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc != 1) {
		keyopts_free(&o);
		return cli_usage(argc ? "too many arguments" :
		    "missing dataset name");
	}
	snprintf(what, sizeof(what), "cannot add a key slot to '%s'",
	    argv[0]);
	if (cli_pool(argv[0], 0, &pool) < 0) {
		keyopts_free(&o);
		return CLI_FAIL;
	}
	if (slot_target(pool, argv[0], what, 1, &e) != CLI_OK)
		goto fail;
	fmt = o.keyformat ? cli_keyformat_parse(o.keyformat) : e.keyformat;
	if (fmt <= 0) {
		cli_msg("%s: give -o keyformat=", what);
		goto fail;
	}
	if (o.pbkdf && fmt != CLI_KF_PASSPHRASE) {
		cli_msg("%s: pbkdf and pbkdf2iters apply only to "
		    "keyformat=passphrase", what);
		goto fail;
	}
	/* keylocation only says where the new key is read from: a slot has
	 * none, the root keeps its own */
	for (int i = 0; i < o.props.n; i++)
		if (strncmp(o.props.v[i], "keylocation=", 12) != 0 &&
		    cli_strv_add(&lib, o.props.v[i]) < 0)
			goto oom;
	if (!o.keyformat) {
		kfa = prop_str("keyformat", cli_keyformat_name(fmt));
		if (!kfa || cli_strv_add(&lib, kfa) < 0)
			goto oom;
	}
	/* a new passphrase slot uses Argon2id, whatever the root's first
	 * slot uses, unless told (pbkdf2iters alone means PBKDF2) */
	if (fmt == CLI_KF_PASSPHRASE && !o.pbkdf_named) {
		kdfa = prop_str("pbkdf", o.pbkdf ? "pbkdf2" : "argon2id");
		if (!kdfa || cli_strv_add(&lib, kdfa) < 0)
			goto oom;
	}
	if (read_new_key(what, argv[0], fmt, o.keylocation ? o.keylocation :
	    "prompt", &k, &ck) != CLI_OK)
		goto fail;
	rc = coffer_key_slot_add(pool, argv[0], lib.v, &ck);
	cli_key_free(&k);
	if (rc < 0) {
		cli_err(rc, "%s", what);
		goto fail;
	}
	free(kfa);
	free(kdfa);
	cli_strv_free(&lib);
	keyopts_free(&o);
	return cli_finish(CLI_OK);
oom:
	cli_syserr(ENOMEM, "%s", what);
fail:
	free(kfa);
	free(kdfa);
	cli_strv_free(&lib);
	keyopts_free(&o);
	return cli_finish(CLI_FAIL);
}

int cmd_key_slot_remove(int argc, char **argv)
{
	coffer_pool_t *pool;
	struct cli_enc e;
	char what[CLI_NAME_MAX + 48];
	char *end;
	long slot;
	int c, rc;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "", NULL)) != -1)
		return CLI_USAGE;
	argc -= cli_optind;
	argv += cli_optind;
	if (argc < 2)
		return cli_usage(argc ? "missing slot number" :
		    "missing dataset name");
	if (argc > 2)
		return cli_usage("too many arguments");
	errno = 0;
	slot = strtol(argv[1], &end, 10);
	if (!argv[1][0] || *end || errno || slot < 0 ||
	    slot >= COFFER_MAX_KEY_SLOTS)
		return cli_usage("bad slot number '%s' (0 to %d)", argv[1],
		    COFFER_MAX_KEY_SLOTS - 1);
	snprintf(what, sizeof(what), "cannot remove key slot %ld of '%s'",
	    slot, argv[0]);
	if (cli_pool(argv[0], 0, &pool) < 0)
		return CLI_FAIL;
	if (slot_target(pool, argv[0], what, 0, &e) != CLI_OK)
		return cli_finish(CLI_FAIL);
	rc = coffer_key_slot_remove(pool, argv[0], (int)slot);
	if (rc < 0) {
		cli_err(rc, "%s", what);
		return cli_finish(CLI_FAIL);
	}
	return cli_finish(CLI_OK);
}

struct slot_list {
	struct cli_table t;
	int parsable;
	int failed;
};

static int slot_list_cb(const coffer_slot_info_t *in, void *arg)
{
	struct slot_list *sl = arg;
	char slot[16], params[96], created[64], mem[32];
	const char *cells[5];

	snprintf(slot, sizeof(slot), "%d", in->slot);
	if (strcmp(in->kdf, "argon2id") == 0) {
		cli_nicenum(in->mem_kib * 1024, mem, sizeof(mem));
		if (sl->parsable)
			snprintf(mem, sizeof(mem), "%lluK",
			    (unsigned long long)in->mem_kib);
		snprintf(params, sizeof(params), "t=%llu,m=%s,p=%llu",
		    (unsigned long long)in->iters, mem,
		    (unsigned long long)in->lanes);
	} else if (strcmp(in->kdf, "pbkdf2") == 0) {
		snprintf(params, sizeof(params), "iters=%llu",
		    (unsigned long long)in->iters);
	} else {
		snprintf(params, sizeof(params), "-");
	}
	if (sl->parsable) {
		snprintf(created, sizeof(created), "%llu",
		    (unsigned long long)in->created);
	} else {
		time_t t = (time_t)in->created;
		struct tm tm;
		if (!localtime_r(&t, &tm) || !strftime(created,
		    sizeof(created), "%a %b %e %H:%M %Y", &tm))
			snprintf(created, sizeof(created), "%llu",
			    (unsigned long long)in->created);
	}
	cells[0] = slot;
	cells[1] = in->keyformat;
	cells[2] = in->kdf[0] ? in->kdf : "-";
	cells[3] = params;
	cells[4] = created;
	if (cli_table_add(&sl->t, cells) < 0) {
		sl->failed = 1;
		return 1;
	}
	return 0;
}

int cmd_key_slot_list(int argc, char **argv)
{
	static const char *hdr[] = { "SLOT", "KEYFORMAT", "KDF", "PARAMS",
	    "CREATED" };
	struct slot_list sl = { 0 };
	coffer_pool_t *pool;
	struct cli_enc e;
	char what[CLI_NAME_MAX + 32];
	int c, scripted = 0, rc;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "Hp", NULL)) != -1) {
		switch (c) {
		case 'H': scripted = 1; break;
		case 'p': sl.parsable = 1; break;
		default: return CLI_USAGE;
		}
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc != 1)
		return cli_usage(argc ? "too many arguments" :
		    "missing dataset name");
	snprintf(what, sizeof(what), "cannot list key slots of '%s'",
	    argv[0]);
	if (cli_pool(argv[0], COFFER_OPEN_RDONLY, &pool) < 0)
		return CLI_FAIL;
	if (enc_of(pool, argv[0], what, &e) != CLI_OK)
		return cli_finish(CLI_FAIL);
	cli_table_init(&sl.t, 5, hdr);
	if (sl.t.right)
		sl.t.right[0] = 1;
	rc = coffer_key_slot_list(pool, e.root, slot_list_cb, &sl);
	if (rc < 0) {
		cli_err(rc, "%s", what);
		cli_table_free(&sl.t);
		return cli_finish(CLI_FAIL);
	}
	if (sl.failed) {
		cli_syserr(ENOMEM, "%s", what);
		cli_table_free(&sl.t);
		return cli_finish(CLI_FAIL);
	}
	cli_table_print(&sl.t, scripted, stdout);
	cli_table_free(&sl.t);
	return cli_finish(CLI_OK);
}
