/*
 * cmd_pool: coffer pool create | import | export | destroy | list | status
 * | scrub | check.
 */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *health_name(int h)
{
	switch (h) {
	case 0: return "ONLINE";
	case 1: return "DEGRADED";
	case 2: return "FAULTED";
	}
	return "UNKNOWN";
}

static const char *dev_state_name(int s)
{
	switch (s) {
	case 0: return "ONLINE";
	case 1: return "UNAVAIL";
	case 2: return "FAULTED";
	}
	return "UNKNOWN";
}

/* Make a device or directory path absolute: the registry outlives the
 * working directory.  Returns a malloc'ed string or NULL. */
static char *absolute(const char *path)
{
	char cwd[CLI_PATH_MAX];
	char *out;
	size_t n;

	if (path[0] == '/')
		return strdup(path);
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	n = strlen(cwd) + 1 + strlen(path) + 1;
	out = malloc(n);
	if (out)
		snprintf(out, n, "%s/%s", cwd, path);
	return out;
}

/* ---- create ------------------------------------------------------------ */

/*
 * Encryption properties make no sense on a pool's root dataset: the pool
 * is created without a key (coffer_pool_create takes none), and scrub,
 * import and raw replication must work without one.
 */
static int pool_crypt_prop(const char *a)
{
	if (strncmp(a, "encryption=", 11) == 0)
		return strcasecmp(a + 11, "off") != 0;
	if (strncmp(a, "keyformat=", 10) == 0)
		return strcasecmp(a + 10, "none") != 0;
	return strncmp(a, "keylocation=", 12) == 0 ||
	    strncmp(a, "pbkdf=", 6) == 0 || strncmp(a, "pbkdf2iters=", 12) == 0;
}

int cmd_pool_create(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "size", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	struct cli_strv props = { 0 };
	uint64_t size = 0;
	coffer_pool_t *pool = NULL;
	char **devs = NULL;
	int c, ndev, rc = CLI_OK;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "o:", lo)) != -1) {
		switch (c) {
		case 'o': {
			char *a = cli_prop_assign(cli_optarg);
			if (!a)
				goto usage;
			if (pool_crypt_prop(a)) {
				free(a);
				cli_usage("the root dataset of a pool cannot "
				    "be encrypted; create an encrypted dataset "
				    "in the pool (coffer create -o "
				    "encryption=on -o keyformat=passphrase "
				    "POOL/NAME)");
				goto usage;
			}
			if (cli_strv_add(&props, a) < 0) {
				free(a);
				rc = cli_syserr(ENOMEM, "cannot parse options");
				goto out;
			}
			break;
		}
		case 's':
			if (cli_parse_size(cli_optarg, &size) != 0 ||
			    size == 0) {
				cli_usage("bad size '%s'", cli_optarg);
				goto usage;
			}
			break;
		default:
			goto usage;
		}
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc < 1) {
		cli_usage("missing pool name");
		goto usage;
	}
	if (argc < 2) {
		cli_usage("missing device (a file or block device)");
		goto usage;
	}
	if (strpbrk(argv[0], "/@")) {
		cli_usage("bad pool name '%s'", argv[0]);
		goto usage;
	}
	ndev = argc - 1;
	devs = calloc((size_t)ndev, sizeof(char *));
	if (!devs) {
		rc = cli_syserr(ENOMEM, "cannot create '%s'", argv[0]);
		goto out;
	}
	for (int i = 0; i < ndev; i++) {
		devs[i] = absolute(argv[i + 1]);
		if (!devs[i]) {
			rc = cli_syserr(errno, "cannot use '%s'", argv[i + 1]);
			goto out;
		}
	}
	c = coffer_pool_create(argv[0], (const char *const *)devs, ndev, size,
	    props.n ? props.v : NULL, &pool);
	if (c < 0) {
		rc = cli_err(c, "cannot create '%s'", argv[0]);
		goto out;
	}
	c = coffer_pool_close(pool);
	if (c < 0)
		rc = cli_err(c, "cannot sync '%s'", argv[0]);
out:
	if (devs)
		for (int i = 0; i < ndev; i++)
			free(devs[i]);
	free(devs);
	cli_strv_free_strings(&props);
	return rc;
usage:
	cli_strv_free_strings(&props);
	return CLI_USAGE;
}

/* ---- import / export / destroy ----------------------------------------- */

struct import_list {
	struct cli_table t;
	int n;
};

static int import_cb(const char *name, uint64_t guid, const char *state,
    void *arg)
{
	struct import_list *il = arg;
	char g[32];
	const char *cells[3] = { name, g, state };

	snprintf(g, sizeof(g), "%llu", (unsigned long long)guid);
	il->n++;
	return cli_table_add(&il->t, cells) < 0 ? 1 : 0;
}

int cmd_pool_import(int argc, char **argv)
{
	static const char *hdr[] = { "NAME", "ID", "STATE" };
	char *dir = NULL;
	int c, rc;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "d:", NULL)) != -1) {
		switch (c) {
		case 'd':
			free(dir);
			dir = absolute(cli_optarg);
			if (!dir)
				return cli_syserr(errno, "cannot use '%s'",
				    cli_optarg);
			break;
		default:
			free(dir);
			return CLI_USAGE;
		}
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc > 1) {
		free(dir);
		return cli_usage("too many arguments");
	}
	if (argc == 1) {
		rc = coffer_pool_import(dir, argv[0], NULL, NULL);
		free(dir);
		if (rc < 0)
			return cli_err(rc, "cannot import '%s'", argv[0]);
		return CLI_OK;
	}

	struct import_list il;
	cli_table_init(&il.t, 3, hdr);
	il.n = 0;
	rc = coffer_pool_import(dir, NULL, import_cb, &il);
	free(dir);
	if (rc < 0) {
		cli_table_free(&il.t);
		return cli_err(rc, "cannot search for pools");
	}
	if (il.n == 0)
		fprintf(stderr, "no pools available to import\n");
	else
		cli_table_print(&il.t, 0, stdout);
	cli_table_free(&il.t);
	return CLI_OK;
}

static int one_pool_arg(int argc, char **argv, const char **name)
{
	cli_optreset();
	if (cli_getopt(argc, argv, "", NULL) != -1)
		return CLI_USAGE;
	argc -= cli_optind;
	argv += cli_optind;
	if (argc < 1)
		return cli_usage("missing pool name");
	if (argc > 1)
		return cli_usage("too many arguments");
	*name = argv[0];
	return CLI_OK;
}

int cmd_pool_export(int argc, char **argv)
{
	const char *name;
	int rc = one_pool_arg(argc, argv, &name);

	if (rc != CLI_OK)
		return rc;
	rc = coffer_pool_export(name);
	if (rc < 0)
		return cli_err(rc, "cannot export '%s'", name);
	return CLI_OK;
}

int cmd_pool_destroy(int argc, char **argv)
{
	const char *name;
	int rc = one_pool_arg(argc, argv, &name);

	if (rc != CLI_OK)
		return rc;
	rc = coffer_pool_destroy(name);
	if (rc < 0)
		return cli_err(rc, "cannot destroy '%s'", name);
	return CLI_OK;
}

/* ---- list -------------------------------------------------------------- */

static int collect_pool_cb(const char *name, void *arg)
{
	return cli_strv_add(arg, strdup(name)) < 0 ? 1 : 0;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* All registered pools, sorted; strings are malloc'ed. */
static int all_pools(struct cli_strv *sv)
{
	int rc = coffer_pool_list(collect_pool_cb, sv);

	if (rc < 0)
		return cli_err(rc, "cannot list pools");
	for (int i = 0; i < sv->n; i++)
		if (!sv->v[i])
			return cli_syserr(ENOMEM, "cannot list pools");
	if (sv->n)
		qsort(sv->v, (size_t)sv->n, sizeof(char *), cmp_strp);
	return CLI_OK;
}

static void free_all_pools(struct cli_strv *sv)
{
	for (int i = 0; i < sv->n; i++)
		free((void *)sv->v[i]);
	cli_strv_free(sv);
}

static void fmt_num(uint64_t v, int parsable, char *buf, size_t n)
{
	if (parsable)
		snprintf(buf, n, "%llu", (unsigned long long)v);
	else
		cli_nicenum(v, buf, n);
}

int cmd_pool_list(int argc, char **argv)
{
	static const char *hdr[] = { "NAME", "SIZE", "ALLOC", "FREE", "CAP",
	    "HEALTH" };
	struct cli_strv names = { 0 };
	struct cli_table t;
	int c, scripted = 0, parsable = 0, rc = CLI_OK, mine = 0;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "Hp", NULL)) != -1) {
		switch (c) {
		case 'H': scripted = 1; break;
		case 'p': parsable = 1; break;
		default: return CLI_USAGE;
		}
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc > 0) {
		for (int i = 0; i < argc; i++)
			cli_strv_add(&names, argv[i]);
	} else {
		mine = 1;
		if (all_pools(&names) != CLI_OK) {
			free_all_pools(&names);
			return CLI_FAIL;
		}
	}

	cli_table_init(&t, 6, hdr);
	for (int i = 1; i < 5; i++)
		t.right[i] = 1;
	for (int i = 0; i < names.n; i++) {
		coffer_pool_t *pool;
		coffer_pool_info_t info;
		char sz[32], al[32], fr[32], cap[32];
		const char *cells[6] = { names.v[i], "-", "-", "-", "-",
		    "UNAVAIL" };

		if (cli_pool(names.v[i], COFFER_OPEN_RDONLY, &pool) == 0) {
			c = coffer_pool_info(pool, &info);
			if (c < 0) {
				cli_err(c, "cannot read '%s'", names.v[i]);
				rc = CLI_FAIL;
			} else {
				fmt_num(info.size, parsable, sz, sizeof(sz));
				fmt_num(info.allocated, parsable, al,
				    sizeof(al));
				fmt_num(info.free, parsable, fr, sizeof(fr));
				snprintf(cap, sizeof(cap), "%llu%s",
				    (unsigned long long)(info.size ?
				    info.allocated * 100 / info.size : 0),
				    parsable ? "" : "%");
				cells[1] = sz;
				cells[2] = al;
				cells[3] = fr;
				cells[4] = cap;
				cells[5] = health_name(info.health);
			}
		} else {
			rc = CLI_FAIL;
		}
		cli_table_add(&t, cells);
	}
	if (names.n == 0 && !scripted)
		printf("no pools available\n");
	else
		cli_table_print(&t, scripted, stdout);
	cli_table_free(&t);
	if (mine)
		free_all_pools(&names);
	else
		cli_strv_free(&names);
	return cli_finish(rc);
}

/* ---- status ------------------------------------------------------------ */

static void fmt_time(uint64_t t, int parsable, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (parsable || !localtime_r(&tt, &tm) ||
	    strftime(buf, n, "%a %b %e %H:%M:%S %Y", &tm) == 0)
		snprintf(buf, n, "%llu", (unsigned long long)t);
}

static void fmt_duration(uint64_t s, char *buf, size_t n)
{
	unsigned long long d = s / 86400;

	if (d)
		snprintf(buf, n, "%llu days %02llu:%02llu:%02llu", d,
		    (unsigned long long)(s % 86400 / 3600),
		    (unsigned long long)(s % 3600 / 60),
		    (unsigned long long)(s % 60));
	else
		snprintf(buf, n, "%02llu:%02llu:%02llu",
		    (unsigned long long)(s / 3600),
		    (unsigned long long)(s % 3600 / 60),
		    (unsigned long long)(s % 60));
}

static int collect_error_cb(const char *where, void *arg)
{
	char *s = strdup(where);
	if (!s || cli_strv_add(arg, s) < 0) {
		free(s);
		return 1;
	}
	return 0;
}

static const char *scrub_state_name(uint64_t s)
{
	switch (s) {
	case 0: return "none";
	case 1: return "scanning";
	case 2: return "finished";
	case 3: return "canceled";
	}
	return "unknown";
}

static void print_scan(const coffer_pool_info_t *in, int parsable)
{
	char t1[64], ex[32], dur[64];

	fmt_num(in->scrub_examined, parsable, ex, sizeof(ex));
	switch (in->scrub_state) {
	case 0:
		printf("  scan: none requested\n");
		break;
	case 1:
		fmt_time(in->scrub_start, parsable, t1, sizeof(t1));
		printf("  scan: scrub in progress since %s\n"
		    "        %s examined, %llu errors so far\n", t1, ex,
		    (unsigned long long)in->scrub_errors);
		break;
	case 2:
		fmt_time(in->scrub_end, parsable, t1, sizeof(t1));
		fmt_duration(in->scrub_end >= in->scrub_start ?
		    in->scrub_end - in->scrub_start : 0, dur, sizeof(dur));
		printf("  scan: scrub repaired %llu copies in %s with %llu "
		    "errors (%llu unrecoverable) on %s\n"
		    "        %s examined in %llu blocks\n",
		    (unsigned long long)in->scrub_repaired, dur,
		    (unsigned long long)in->scrub_errors,
		    (unsigned long long)in->scrub_unrecoverable, t1, ex,
		    (unsigned long long)in->scrub_blocks);
		break;
	default:
		fmt_time(in->scrub_end, parsable, t1, sizeof(t1));
		printf("  scan: scrub canceled on %s after %s examined\n", t1,
		    ex);
		break;
	}
}

static int status_one(const char *name, int verbose, int parsable,
    int scripted)
{
	coffer_pool_t *pool;
	coffer_pool_info_t in;
	struct cli_strv errs = { 0 };
	uint64_t wr = 0;
	int rc, ret = CLI_OK;

	if (cli_pool(name, COFFER_OPEN_RDONLY, &pool) < 0)
		return CLI_FAIL;
	rc = coffer_pool_info(pool, &in);
	if (rc < 0)
		return cli_err(rc, "cannot read '%s'", name);

	coffer_dev_info_t *dev = calloc((size_t)(in.ndev > 0 ? in.ndev : 1),
	    sizeof(*dev));
	if (!dev)
		return cli_syserr(ENOMEM, "cannot read '%s'", name);
	for (int i = 0; i < in.ndev; i++) {
		rc = coffer_pool_dev_info(pool, i, &dev[i]);
		if (rc < 0) {
			cli_err(rc, "cannot read device %d of '%s'", i, name);
			snprintf(dev[i].path, sizeof(dev[i].path), "device%d",
			    i);
			dev[i].state = 2;
			ret = CLI_FAIL;
		}
		wr += dev[i].write_errors;
	}
	rc = coffer_pool_errors(pool, collect_error_cb, &errs);
	if (rc < 0) {
		cli_err(rc, "cannot read the error log of '%s'", name);
		ret = CLI_FAIL;
	}

	if (scripted) {
		printf("%s\tstate\t%s\n", in.name[0] ? in.name : name,
		    health_name(in.health));
		printf("%s\tguid\t%llu\n", name, (unsigned long long)in.guid);
		printf("%s\ttxg\t%llu\n", name, (unsigned long long)in.txg);
		printf("%s\tscrub\t%s\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\t"
		    "%llu\n", name, scrub_state_name(in.scrub_state),
		    (unsigned long long)in.scrub_start,
		    (unsigned long long)in.scrub_end,
		    (unsigned long long)in.scrub_examined,
		    (unsigned long long)in.scrub_blocks,
		    (unsigned long long)in.scrub_errors,
		    (unsigned long long)in.scrub_repaired,
		    (unsigned long long)in.scrub_unrecoverable);
		printf("%s\tpool\t%s\t%s\t%llu\t%llu\t%llu\n", name, name,
		    health_name(in.health),
		    (unsigned long long)in.read_errors,
		    (unsigned long long)wr,
		    (unsigned long long)in.cksum_errors);
		for (int i = 0; i < in.ndev; i++)
			printf("%s\tdevice\t%s\t%s\t%llu\t%llu\t%llu\n", name,
			    dev[i].path, dev_state_name(dev[i].state),
			    (unsigned long long)dev[i].read_errors,
			    (unsigned long long)dev[i].write_errors,
			    (unsigned long long)dev[i].cksum_errors);
		for (int i = 0; i < errs.n; i++)
			printf("%s\terror\t%s\n", name, errs.v[i]);
		goto out;
	}

	printf("  pool: %s\n", in.name[0] ? in.name : name);
	printf(" state: %s\n", health_name(in.health));
	if (in.health != 0) {
		printf("status: One or more devices are missing or faulted.\n"
		    "action: Make the devices available again, then export "
		    "and import the pool.\n");
	} else if (errs.n > 0 || in.scrub_unrecoverable > 0) {
		printf("status: Some data could not be recovered from any "
		    "copy.\n"
		    "action: Restore the damaged files (see 'coffer pool "
		    "status -v %s')\n"
		    "        from a snapshot or a backup, then run 'coffer "
		    "pool scrub %s'.\n", name, name);
	}
	print_scan(&in, parsable);

	/* device table */
	int w = (int)strlen(name) + 2;
	for (int i = 0; i < in.ndev; i++)
		if ((int)strlen(dev[i].path) + 2 > w)
			w = (int)strlen(dev[i].path) + 2;
	printf("config:\n\n");
	printf("\t%-*s  %-8s %5s %5s %5s\n", w, "NAME", "STATE", "READ",
	    "WRITE", "CKSUM");
	printf("\t%-*s  %-8s %5llu %5llu %5llu\n", w, name,
	    health_name(in.health), (unsigned long long)in.read_errors,
	    (unsigned long long)wr, (unsigned long long)in.cksum_errors);
	for (int i = 0; i < in.ndev; i++)
		printf("\t  %-*s  %-8s %5llu %5llu %5llu\n", w - 2,
		    dev[i].path, dev_state_name(dev[i].state),
		    (unsigned long long)dev[i].read_errors,
		    (unsigned long long)dev[i].write_errors,
		    (unsigned long long)dev[i].cksum_errors);
	printf("\n");
	if (errs.n == 0) {
		printf("errors: No known data errors\n");
	} else if (!verbose) {
		printf("errors: %d data error%s, use '-v' for a list\n",
		    errs.n, errs.n == 1 ? "" : "s");
	} else {
		printf("errors: Permanent errors have been detected in the "
		    "following files:\n\n");
		for (int i = 0; i < errs.n; i++)
			printf("        %s\n", errs.v[i]);
	}
out:
	for (int i = 0; i < errs.n; i++)
		free((void *)errs.v[i]);
	cli_strv_free(&errs);
	free(dev);
	return ret;
}

int cmd_pool_status(int argc, char **argv)
{
	struct cli_strv names = { 0 };
	int c, verbose = 0, parsable = 0, scripted = 0, rc = CLI_OK;
	int mine = 0;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "vpH", NULL)) != -1) {
		switch (c) {
		case 'v': verbose = 1; break;
		case 'p': parsable = 1; break;
		case 'H': scripted = parsable = 1; break;
		default: return CLI_USAGE;
		}
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc > 0) {
		for (int i = 0; i < argc; i++)
			cli_strv_add(&names, argv[i]);
	} else {
		mine = 1;
		if (all_pools(&names) != CLI_OK) {
			free_all_pools(&names);
			return CLI_FAIL;
		}
		if (names.n == 0 && !scripted)
			printf("no pools available\n");
	}
	for (int i = 0; i < names.n; i++) {
		if (i > 0 && !scripted)
			printf("\n");
		if (status_one(names.v[i], verbose, parsable, scripted) !=
		    CLI_OK)
			rc = CLI_FAIL;
	}
	if (mine)
		free_all_pools(&names);
	else
		cli_strv_free(&names);
	return cli_finish(rc);
}

/* ---- scrub ------------------------------------------------------------- */

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int scrub_cb(uint64_t done, uint64_t total, void *arg)
{
	if (interrupted)
		return 1;
	cli_progress_update(arg, done, total, total && done >= total);
	return 0;
}

int cmd_pool_scrub(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct cli_progress prog;
	int mode = CLI_PROG_NONE;
	struct sigaction sa, old;
	coffer_pool_t *pool;
	coffer_pool_info_t in;
	int c, rc;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "P", lo)) != -1) {
		switch (c) {
		case 'P': mode = CLI_PROG_TAB; break;
		case 'j': mode = CLI_PROG_JSON; break;
		default: return CLI_USAGE;
		}
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc < 1)
		return cli_usage("missing pool name");
	if (argc > 1)
		return cli_usage("too many arguments");
	if (mode == CLI_PROG_NONE && isatty(STDERR_FILENO))
		mode = CLI_PROG_TTY;
	cli_progress_init(&prog, mode, stdout, "scrub");

	if (cli_pool(argv[0], 0, &pool) < 0)
		return CLI_FAIL;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old);
	rc = coffer_pool_scrub(pool, scrub_cb, &prog);
	sigaction(SIGINT, &old, NULL);
	cli_progress_end(&prog);
	if (rc == COFFER_EINTR || (rc < 0 && interrupted)) {
		cli_msg("scrub of '%s' stopped", argv[0]);
		return cli_finish(CLI_FAIL);
	}
	if (rc < 0) {
		cli_err(rc, "cannot scrub '%s'", argv[0]);
		return cli_finish(CLI_FAIL);
	}
	rc = coffer_pool_info(pool, &in);
	if (rc < 0) {
		cli_err(rc, "cannot read '%s'", argv[0]);
		return cli_finish(CLI_FAIL);
	}
	if (mode != CLI_PROG_TAB && mode != CLI_PROG_JSON) {
		char ex[32], dur[64];
		cli_nicenum(in.scrub_examined, ex, sizeof(ex));
		fmt_duration(in.scrub_end >= in.scrub_start ?
		    in.scrub_end - in.scrub_start : 0, dur, sizeof(dur));
		printf("scrub of '%s' finished: %s examined in %s, %llu "
		    "errors, %llu repaired, %llu unrecoverable\n", argv[0], ex,
		    dur, (unsigned long long)in.scrub_errors,
		    (unsigned long long)in.scrub_repaired,
		    (unsigned long long)in.scrub_unrecoverable);
	}
	rc = cli_finish(CLI_OK);
	if (rc == CLI_OK && in.scrub_unrecoverable > 0) {
		cli_msg("scrub of '%s' found %llu unrecoverable error%s; see "
		    "'coffer pool status -v %s'", argv[0],
		    (unsigned long long)in.scrub_unrecoverable,
		    in.scrub_unrecoverable == 1 ? "" : "s", argv[0]);
		rc = CLI_FAIL;
	}
	return rc;
}

/*
 * coffer pool check: compare what is reachable with what is allocated
 * (coffer_pool_check).  Read-only, so it can examine a pool straight
 * after a crash without changing it.  Exit 1 when anything is leaked,
 * doubly referenced or referenced while free.
 */
int cmd_pool_check(int argc, char **argv)
{
	coffer_pool_t *pool;
	coffer_check_report_t r;
	int c, exact = 0, rc;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "p", NULL)) != -1) {
		switch (c) {
		case 'p': exact = 1; break;
		default: return CLI_USAGE;
		}
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc < 1)
		return cli_usage("missing pool name");
	if (argc > 1)
		return cli_usage("too many arguments");

	if (cli_pool(argv[0], COFFER_OPEN_RDONLY, &pool) < 0)
		return CLI_FAIL;
	rc = coffer_pool_check(pool, &r);
	if (rc < 0) {
		cli_err(rc, "cannot check '%s'", argv[0]);
		return cli_finish(CLI_FAIL);
	}
	if (exact) {
		printf("reachable\t%llu\nallocated\t%llu\nleaked\t%llu\n"
		    "double_refs\t%llu\nunallocated_refs\t%llu\n",
		    (unsigned long long)r.reachable_bytes,
		    (unsigned long long)r.allocated_bytes,
		    (unsigned long long)r.leaked_bytes,
		    (unsigned long long)r.double_refs,
		    (unsigned long long)r.unallocated_refs);
	} else {
		char reach[32], alloc[32], leak[32];
		cli_nicenum(r.reachable_bytes, reach, sizeof(reach));
		cli_nicenum(r.allocated_bytes, alloc, sizeof(alloc));
		cli_nicenum(r.leaked_bytes, leak, sizeof(leak));
		printf("check of '%s': %s reachable, %s allocated, %s leaked, "
		    "%llu double references, %llu references to free space\n",
		    argv[0], reach, alloc, leak,
		    (unsigned long long)r.double_refs,
		    (unsigned long long)r.unallocated_refs);
	}
	rc = cli_finish(CLI_OK);
	if (rc == CLI_OK && (r.leaked_bytes || r.double_refs ||
	    r.unallocated_refs)) {
		cli_msg("pool '%s' is inconsistent: %llu bytes leaked, %llu "
		    "double references, %llu references to free space",
		    argv[0], (unsigned long long)r.leaked_bytes,
		    (unsigned long long)r.double_refs,
		    (unsigned long long)r.unallocated_refs);
		rc = CLI_FAIL;
	}
	return rc;
}
