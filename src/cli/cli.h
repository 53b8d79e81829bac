/*
 * cli: the `coffer` command.  Shared declarations for the command files.
 *
 * Every subcommand is a function `int cmd_x(int argc, char **argv)` listed
 * in the table in main.c; argv[0] is the subcommand's name.  It returns
 * the exit status: CLI_OK, CLI_FAIL or CLI_USAGE.
 *
 * Rules every command follows
 *  1. Only include/coffer.h is used to reach the pool.
 *  2. Messages go to stderr as one line, git style: lower case, no full
 *     stop, the subject quoted:  coffer: cannot open 'tank/home': encryption
 *     key not loaded.  cli_err() builds them from coffer_strerror() and
 *     coffer_errdetail(); it must be called right after the failing call,
 *     before any other coffer call replaces the detail.
 *  3. Usage errors (unknown option, missing or extra operand, malformed
 *     number) print one line and the usage and exit 2, before anything is
 *     changed.  Failures exit 1.  A command with several targets tries each
 *     one, reports each failure and exits 1 if any failed.
 *  4. Pools are opened once per command through cli_pool() and closed by
 *     cli_finish(), which syncs every pool opened for writing: a command
 *     that changed something reports success only after its changes are
 *     durable.
 */
#ifndef COFFER_CLI_H
#define COFFER_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "coffer.h"

#define CLI_OK    0
#define CLI_FAIL  1
#define CLI_USAGE 2

#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLI_PRINTF(a, b)
#endif

/* One entry of the command table (main.c). */
struct cli_cmd {
	const char *group;      /* "pool" for `coffer pool NAME`, else NULL */
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;      /* after "coffer "; several lines allowed */
	const char *desc;       /* one line */
	const char *help;       /* options, one per line, or NULL */
};

/* The command being run (for usage messages). */
extern const struct cli_cmd *cli_current;

/* ---- messages ---------------------------------------------------------- */

/* "coffer: <what>: <strerror(rc)> (<detail>)" on stderr.  Returns CLI_FAIL. */
int cli_err(int rc, const char *fmt, ...) CLI_PRINTF(2, 3);
/* "coffer: <what>: <strerror(errnum)>" for a failure outside the library
 * (errnum > 0; no library detail).  Returns CLI_FAIL. */
int cli_syserr(int errnum, const char *fmt, ...) CLI_PRINTF(2, 3);
/* "coffer: <what>" on stderr.  Returns CLI_FAIL. */
int cli_msg(const char *fmt, ...) CLI_PRINTF(1, 2);
/* "coffer: warning: <what>" on stderr. */
void cli_warn(const char *fmt, ...) CLI_PRINTF(1, 2);
/* "coffer: <what>" then the current command's usage on stderr.  Returns
 * CLI_USAGE. */
int cli_usage(const char *fmt, ...) CLI_PRINTF(1, 2);
/* Print the usage of `c` to `f` ("usage: coffer ..."). */
void cli_print_usage(FILE *f, const struct cli_cmd *c);
/* Print the full help of `c` (usage, description, options) to stdout. */
void cli_print_help(const struct cli_cmd *c);

/* ---- options ----------------------------------------------------------- */

/*
 * getopt_long with coffer's messages.  Start each command with
 * cli_optreset().  Returns the option character, -1 at the end, or '?'
 * after printing a usage error (the caller returns CLI_USAGE).  Options
 * may follow operands; "--" ends options.
 */
void cli_optreset(void);
int cli_getopt(int argc, char **argv, const char *shortopts,
    const struct option *longopts);
extern char *cli_optarg;
extern int cli_optind;

/* A growable array of strings (e.g. repeated -o prop=val). */
struct cli_strv {
	const char **v;         /* NULL-terminated when n > 0 */
	int n, cap;
};
int cli_strv_add(struct cli_strv *sv, const char *s);
void cli_strv_free(struct cli_strv *sv);
/* Also free() every string (for malloc'ed entries). */
void cli_strv_free_strings(struct cli_strv *sv);

/* ---- numbers ----------------------------------------------------------- */

/* "4096", "128K", "1.5G", "1T" (powers of 1024; K M G T P E, optional B or
 * iB).  Returns 0 or -1 on junk, negative numbers or overflow. */
int cli_parse_size(const char *s, uint64_t *out);
/* Octal mode "755" / "0644" (at most 07777).  0 or -1. */
int cli_parse_mode(const char *s, uint32_t *out);
/* Bytes in zfs style: "512B", "128K", "1.50G". */
void cli_nicenum(uint64_t v, char *buf, size_t n);

/* ---- names ------------------------------------------------------------- */

#define CLI_NAME_MAX 256        /* dataset names, incl. NUL */
#define CLI_PATH_MAX 4096

/* Pool part of a dataset, snapshot or path spec: up to '/', '@' or ':'. */
int cli_pool_of(const char *ds, char *pool, size_t n);

/*
 * A file spec "DATASET[@SNAP]:/PATH".  The dataset part ends at the first
 * ":/"; the path is absolute.  Returns 0 when `arg` is a spec, -1 when not.
 */
struct cli_spec {
	char ds[CLI_NAME_MAX];          /* "tank/fs" or "tank/fs@snap" */
	char path[CLI_PATH_MAX];        /* "/a/b", normalised: no "//",
	                                   no trailing '/' except root */
	int snap;                       /* ds names a snapshot */
};
int cli_is_spec(const char *arg);
int cli_parse_spec(const char *arg, struct cli_spec *sp);

/* ---- properties -------------------------------------------------------- */

/* The property named by `s` (a name from coffer_prop_names(), "name", or
 * an alias such as "avail", "refer", "compress", "recsize"), or NULL. */
const char *cli_prop_canon(const char *s);
/* Column header for a property ("AVAIL", "REFER", "COMPRESSION" ...);
 * malloc'ed. */
char *cli_prop_header(const char *name);
/* "alias=value" -> malloc'ed "property=value"; NULL after printing a
 * usage error (not an assignment, unknown property). */
char *cli_prop_assign(const char *arg);

/* ---- pools, opened once per command ------------------------------------ */

/*
 * The open handle of the pool that `name` (pool, dataset, snapshot or
 * spec) lives in, opening it on first use with `flags` (0 or
 * COFFER_OPEN_RDONLY).  Prints "cannot open 'POOL'" and returns a negative
 * code on failure.
 */
int cli_pool(const char *name, int flags, coffer_pool_t **out);
/* Sync every pool opened for writing, then close all.  Prints what failed.
 * Returns CLI_OK or CLI_FAIL; `rc` (the command's result so far) is
 * returned unchanged when it is not CLI_OK and closing went well. */
int cli_finish(int rc);

/* Open a filesystem/volume (or snapshot) by dataset name; prints on
 * failure.  flags: 0 or COFFER_OPEN_RDONLY. */
int cli_fs_open(const char *ds, int flags, coffer_fs_t **out);

/* Type of a dataset by name: COFFER_TYPE_* or a negative code (no print). */
int cli_ds_type(coffer_pool_t *pool, const char *ds);

/*
 * Walk datasets.  root NULL: every registered pool.  Otherwise the named
 * dataset (or snapshot) and, with recursive, everything below it.  types:
 * COFFER_TYPE_* mask of what to report; snapshots of a non-recursive root
 * are reported only when types is exactly COFFER_TYPE_SNAPSHOT (as `zfs
 * list -t snapshot fs` does).  fn returns non-zero to stop.  Returns
 * CLI_OK or CLI_FAIL (a failure to open or find a root is printed).
 */
typedef int (*cli_walk_fn)(coffer_pool_t *pool, const char *name, int type,
    void *arg);
int cli_walk(const char *root, int recursive, int types, int openflags,
    cli_walk_fn fn, void *arg);

const char *cli_type_name(int type);
int cli_type_parse(const char *list, int *mask);   /* "filesystem,volume" */

/* ---- output ------------------------------------------------------------ */

/*
 * A table printed in `zfs list` style: columns padded to the widest cell
 * with two spaces between, numeric columns right-aligned; or with
 * `scripted` (-H) no header and one tab between cells.
 */
struct cli_table {
	int ncols;
	const char **hdr;
	int *right;             /* right-align column i */
	char ***rows;           /* rows[r][c], owned */
	int nrows, cap;
};
void cli_table_init(struct cli_table *t, int ncols, const char **hdr);
int cli_table_add(struct cli_table *t, const char *const *cells);
void cli_table_print(struct cli_table *t, int scripted, FILE *f);
void cli_table_free(struct cli_table *t);

/*
 * Progress of a long command (pool scrub, send): one printer for all.
 *   CLI_PROG_TTY   a live line on stderr: percent, bytes, rate, time
 *                  left; redrawn at most 4 times a second
 *   CLI_PROG_TAB   -P: lines DONE<TAB>TOTAL<TAB>RATE<TAB>ETA on `out`
 *                  (bytes, bytes, bytes/s, seconds), at most once a second
 *   CLI_PROG_JSON  --json: {"done":N,"total":N,"rate":N,"eta":N} lines
 * cli_progress_update with final set always prints; cli_progress_end
 * finishes the live line.
 */
#define CLI_PROG_NONE 0
#define CLI_PROG_TTY  1
#define CLI_PROG_TAB  2
#define CLI_PROG_JSON 3
struct cli_progress {
	int mode;
	FILE *out;
	const char *what;
	uint64_t start_ns, last_ns;
	int shown;
};
void cli_progress_init(struct cli_progress *p, int mode, FILE *out,
    const char *what);
void cli_progress_update(struct cli_progress *p, uint64_t done,
    uint64_t total, int final);
void cli_progress_end(struct cli_progress *p);

/* Write all of buf to fd (retrying short writes). 0 or -errno. */
int cli_write_all(int fd, const void *buf, size_t n);
/* Read up to n bytes, retrying until n or EOF. bytes read or -errno. */
long cli_read_full(int fd, void *buf, size_t n);

/* ---- keys (cli_key.c) -------------------------------------------------- */

/* Key formats, as the CLI names them (keyformat=...). */
#define CLI_KF_NONE       0
#define CLI_KF_PASSPHRASE 1
#define CLI_KF_HEX        2
#define CLI_KF_RAW        3
#define CLI_KF_BIT(f)     (1 << (f))
#define CLI_PASS_MIN      8
#define CLI_PASS_MAX      512

/* "none" "passphrase" "hex" "raw" (any case) -> CLI_KF_*, or -1. */
int cli_keyformat_parse(const char *s);
const char *cli_keyformat_name(int fmt);
/* 0 for "prompt" or "file:///absolute/path", -1 otherwise. */
int cli_keylocation_check(const char *loc);

/*
 * A key as read, in one locked page (mlock'ed, not in core dumps), wiped
 * and unmapped by cli_key_free().  See cli_key.c for where keys come from
 * and how much is read.
 */
struct cli_key {
	uint8_t *buf;
	size_t len;
	int tty;                /* typed on the terminal */
	int whole;              /* a whole file or stream (may end in '\n') */
};

#define CLI_KEY_NEW    0x1      /* a new key: on the terminal, ask twice */
#define CLI_KEY_CHANGE 0x2      /* the prompts say "new" */

/*
 * Read a key for dataset `ds` from `location` ("prompt" or file:///PATH)
 * that may be of any format in `formats` (CLI_KF_BIT mask).  Failures are
 * printed as "coffer: <what>: <reason>".  Returns CLI_OK or CLI_FAIL.
 */
int cli_key_read(const char *what, const char *ds, const char *location,
    int formats, int flags, struct cli_key *k);
/*
 * The key to give the library for format `fmt`: passphrase without its
 * newline (8 to 512 bytes), hex as its 64 ASCII digits, raw 32 bytes.
 * `out` points into k.  0, or -1 with a static reason in *why.
 */
int cli_key_as(const struct cli_key *k, int fmt, coffer_key_t *out,
    const char **why);
void cli_key_free(struct cli_key *k);

/* What the CLI knows about a dataset's encryption (cmd_key.c). */
struct cli_enc {
	int encrypted;
	char root[CLI_NAME_MAX];        /* its encryption root */
	int available;                  /* the root's key is loaded */
	int keyformat;                  /* the root's CLI_KF_* */
	char keylocation[CLI_PATH_MAX]; /* the root's */
};
/* From the properties encryption, encryptionroot, keystatus, keyformat
 * and keylocation.  0, or a negative code (not printed). */
int cli_enc_info(coffer_pool_t *pool, const char *ds, struct cli_enc *e);
/* Read the key of the root described by `e` from `loc` (NULL: its
 * keylocation) and load it for later commands, or only check it (noop).
 * Prints failures; CLI_OK or CLI_FAIL. */
int cli_load_root_key(coffer_pool_t *pool, const struct cli_enc *e,
    const char *loc, int noop);

/* ---- commands ---------------------------------------------------------- */

int cmd_pool_create(int argc, char **argv);
int cmd_pool_import(int argc, char **argv);
int cmd_pool_export(int argc, char **argv);
int cmd_pool_destroy(int argc, char **argv);
int cmd_pool_list(int argc, char **argv);
int cmd_pool_status(int argc, char **argv);
int cmd_pool_scrub(int argc, char **argv);
int cmd_pool_check(int argc, char **argv);

int cmd_create(int argc, char **argv);
int cmd_destroy(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_get(int argc, char **argv);         /* property get or file copy */
int cmd_prop_get(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_inherit(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_receive(int argc, char **argv);

int cmd_put(int argc, char **argv);
int cmd_file_get(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_mkdir(int argc, char **argv);
int cmd_mv(int argc, char **argv);
int cmd_ln(int argc, char **argv);

int cmd_vol_write(int argc, char **argv);
int cmd_vol_read(int argc, char **argv);

int cmd_load_key(int argc, char **argv);
int cmd_unload_key(int argc, char **argv);
int cmd_change_key(int argc, char **argv);
int cmd_key_slot_add(int argc, char **argv);
int cmd_key_slot_remove(int argc, char **argv);
int cmd_key_slot_list(int argc, char **argv);

/* signing keys (cmd_sign.c) */
int cmd_key_generate(int argc, char **argv);
int cmd_key_list(int argc, char **argv);
int cmd_key_export(int argc, char **argv);
int cmd_key_trust(int argc, char **argv);
int cmd_key_remove(int argc, char **argv);
/* Open key pair `id` for signing, reading its passphrase (from loc, NULL:
 * prompt) when it has one.  Prints failures; CLI_OK or CLI_FAIL. */
int cli_signer_open(const char *id, const char *loc, coffer_signer_t **out);

#endif
