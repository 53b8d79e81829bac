/*
 * cmd_sign: signing keys for signed streams (RFD 14):
 * key generate | list | export | trust | remove, and reading the
 * passphrase of a key pair for `send -s`.
 *
 * The keyring is coffer_keyring_dir() ($COFFER_KEYRING, else
 * $COFFER_HOME/keys).  A passphrase is read like every coffer secret
 * (cli_key_read: the terminal, standard input or a file:/// location),
 * never from argv, and lives only in a locked page.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Read a signing key's passphrase into k and point pass at it. */
static int read_pass(const char *what, const char *name, const char *loc,
    int flags, struct cli_key *k, coffer_key_t *pass)
{
	char label[CLI_NAME_MAX];
	const char *why;

	snprintf(label, sizeof(label), "signing key %s", name);
	if (cli_key_read(what, label, loc, CLI_KF_BIT(CLI_KF_PASSPHRASE),
	    flags, k) != CLI_OK)
		return CLI_FAIL;
	if (cli_key_as(k, CLI_KF_PASSPHRASE, pass, &why) != 0) {
		cli_key_free(k);
		return cli_msg("%s: %s", what, why);
	}
	return CLI_OK;
}

int cli_signer_open(const char *id, const char *loc, coffer_signer_t **out)
{
	char what[CLI_NAME_MAX + 64];
	struct cli_key k;
	coffer_key_t pass;
	int rc;

	snprintf(what, sizeof(what), "cannot use signing key '%s'", id);
	rc = coffer_signer_open(NULL, id, NULL, out);
	if (rc == COFFER_ENOKEY) {
		if (read_pass(what, id, loc ? loc : "prompt", 0, &k, &pass) !=
		    CLI_OK)
			return CLI_FAIL;
		rc = coffer_signer_open(NULL, id, &pass, out);
		cli_key_free(&k);
	}
	if (rc < 0)
		return cli_err(rc, "%s", what);
	return CLI_OK;
}

int cmd_key_generate(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "alg", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 }
	};
	const char *alg = "ed25519", *loc = NULL;
	int c, protect = 0;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "a:pL:", lo)) != -1) {
		switch (c) {
		case 'a': alg = cli_optarg; break;
		case 'p': protect = 1; break;
		case 'L': loc = cli_optarg; protect = 1; break;
		default: return CLI_USAGE;
		}
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc != 1)
		return cli_usage(argc ? "too many arguments" :
		    "missing key name");
	if (strcmp(alg, "ed25519") != 0 && strcmp(alg, "ecdsa-p256") != 0 &&
	    strcmp(alg, "ecdsa-p384") != 0)
		return cli_usage("unknown algorithm '%s' (ed25519, ecdsa-p256 "
		    "or ecdsa-p384)", alg);
	if (loc && cli_keylocation_check(loc) != 0)
		return cli_usage("bad location '%s' (use prompt or "
		    "file:///absolute/path)", loc);
	const char *name = argv[0];
	char what[CLI_NAME_MAX + 64];
	snprintf(what, sizeof(what), "cannot generate key '%s'", name);
	struct cli_key k;
	coffer_key_t pass;
	if (protect && read_pass(what, name, loc ? loc : "prompt",
	    CLI_KEY_NEW, &k, &pass) != CLI_OK)
		return CLI_FAIL;
	coffer_signkey_info_t info;
	int rc = coffer_signkey_generate(NULL, name, alg,
	    protect ? &pass : NULL, &info);
	if (protect)
		cli_key_free(&k);
	if (rc < 0)
		return cli_err(rc, "%s", what);
	printf("%s\t%s\t%s\n", info.name, info.alg, info.fingerprint);
	return CLI_OK;
}

struct list_arg {
	struct cli_table t;
	int failed;
};

static int list_cb(const coffer_signkey_info_t *in, void *arg)
{
	struct list_arg *a = arg;
	const char *cells[5] = { in->name, in->alg, in->fingerprint,
	    in->has_private ? "private" : "trusted",
	    in->has_private ? (in->encrypted ? "yes" : "no") : "-" };

	if (cli_table_add(&a->t, cells) != 0)
		a->failed = 1;
	return 0;
}

int cmd_key_list(int argc, char **argv)
{
	static const char *hdr[] = { "NAME", "ALGORITHM", "FINGERPRINT",
	    "TYPE", "PASSPHRASE" };
	struct list_arg a;
	int c, scripted = 0;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "H", NULL)) != -1) {
		if (c != 'H')
			return CLI_USAGE;
		scripted = 1;
	}
	if (argc - cli_optind != 0)
		return cli_usage("too many arguments");
	memset(&a, 0, sizeof(a));
	cli_table_init(&a.t, 5, hdr);
	int rc = coffer_signkey_list(NULL, list_cb, &a);
	if (rc < 0) {
		cli_table_free(&a.t);
		return cli_err(rc, "cannot list keys");
	}
	if (a.failed) {
		cli_table_free(&a.t);
		return cli_syserr(ENOMEM, "cannot list keys");
	}
	cli_table_print(&a.t, scripted, stdout);
	cli_table_free(&a.t);
	return CLI_OK;
}

int cmd_key_export(int argc, char **argv)
{
	char line[512];
	int c;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "", NULL)) != -1)
		return CLI_USAGE;
	argc -= cli_optind;
	argv += cli_optind;
	if (argc != 1)
		return cli_usage(argc ? "too many arguments" :
		    "missing key name");
	int rc = coffer_signkey_export(NULL, argv[0], line, sizeof(line));
	if (rc < 0)
		return cli_err(rc, "cannot export key '%s'", argv[0]);
	printf("%s\n", line);
	return CLI_OK;
}

int cmd_key_trust(int argc, char **argv)
{
	const char *rename = NULL;
	char buf[4096];
	int c;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "n:", NULL)) != -1) {
		if (c != 'n')
			return CLI_USAGE;
		rename = cli_optarg;
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc != 1)
		return cli_usage(argc ? "too many arguments" :
		    "missing file name (or '-' for standard input)");
	const char *file = argv[0];
	int fd = strcmp(file, "-") == 0 ? STDIN_FILENO :
	    open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cli_syserr(errno, "cannot read '%s'", file);
	long n = cli_read_full(fd, buf, sizeof(buf));
	if (fd != STDIN_FILENO)
		close(fd);
	if (n < 0)
		return cli_syserr((int)-n, "cannot read '%s'", file);
	if (n == (long)sizeof(buf))
		return cli_msg("cannot trust the key in '%s': not one public "
		    "key line", file);
	coffer_signkey_info_t info;
	int rc = coffer_signkey_trust(NULL, buf, (size_t)n, rename, &info);
	if (rc < 0)
		return cli_err(rc, "cannot trust the key in '%s'",
		    strcmp(file, "-") == 0 ? "standard input" : file);
	printf("%s\t%s\t%s\n", info.name, info.alg, info.fingerprint);
	return CLI_OK;
}

int cmd_key_remove(int argc, char **argv)
{
	int c, rc = CLI_OK;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "", NULL)) != -1)
		return CLI_USAGE;
	argc -= cli_optind;
	argv += cli_optind;
	if (argc < 1)
		return cli_usage("missing key name");
	for (int i = 0; i < argc; i++) {
		int err = coffer_signkey_remove(NULL, argv[i]);
		if (err < 0)
			rc = cli_err(err, "cannot remove key '%s'", argv[i]);
	}
	return rc;
}
