/*
 * send and receive: replication streams on standard output and input.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cmd_send(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "sign-mode", required_argument, NULL, 'M' },
		{ "key-location", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 }
	};
	const char *from = NULL, *signkey = NULL, *keyloc = NULL;
	int c, signmode = COFFER_SIGN_CHAIN;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "i:s:", lo)) != -1) {
		switch (c) {
		case 'i': from = cli_optarg; break;
		case 's': signkey = cli_optarg; break;
		case 'L': keyloc = cli_optarg; break;
		case 'M':
			if (strcmp(cli_optarg, "chain") == 0)
				signmode = COFFER_SIGN_CHAIN;
			else if (strcmp(cli_optarg, "record") == 0)
				signmode = COFFER_SIGN_RECORD;
			else
				return cli_usage("unknown sign mode '%s' (chain "
				    "or record)", cli_optarg);
			break;
		default: return CLI_USAGE;
		}
	}
	if (signkey && strcmp(signkey, "none") == 0)
		signkey = NULL;
	if (keyloc && cli_keylocation_check(keyloc) != 0)
		return cli_usage("bad key location '%s' (use prompt or "
		    "file:///absolute/path)", keyloc);
	argc -= cli_optind;
	argv += cli_optind;
	if (argc != 1)
		return cli_usage(argc ? "too many arguments" :
		    "missing snapshot name");
	const char *snap = argv[0];
	if (!strchr(snap, '@'))
		return cli_usage("'%s' is not a snapshot (DATASET@NAME)", snap);
	if (from && !strchr(from, '@'))
		return cli_usage("'%s' is not a snapshot (@NAME or "
		    "DATASET@NAME)", from);
	if (isatty(STDOUT_FILENO))
		return cli_msg("cannot send '%s': standard output is a "
		    "terminal (redirect it to a file or a pipe)", snap);
	coffer_signer_t *signer = NULL;
	if (signkey && cli_signer_open(signkey, keyloc, &signer) != CLI_OK)
		return CLI_FAIL;
	coffer_pool_t *pool;
	if (cli_pool(snap, COFFER_OPEN_RDONLY, &pool) < 0) {
		coffer_signer_close(signer);
		return cli_finish(CLI_FAIL);
	}
	int err = coffer_send_signed(pool, snap, from, 0, STDOUT_FILENO, NULL,
	    NULL, signer, signmode);
	int rc = CLI_OK;
	if (err < 0)
		rc = cli_err(err, "cannot send '%s'", snap);
	coffer_signer_close(signer);
	return cli_finish(rc);
}

/* -k: say what was accepted without verification. */
static void cli_recv_warn(const coffer_recv_info_t *in, int flags)
{
	if (in->is_signed && !in->verified)
		cli_warn("the stream is signed by key %s, which is not in the "
		    "keyring: received without verifying it",
		    in->fingerprint);
	else if (!in->is_signed && (flags & COFFER_RECV_UNVERIFIED))
		cli_warn("the stream is not signed: received without "
		    "verification");
}

int cmd_receive(int argc, char **argv)
{
	int c, flags = 0;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "Fsk", NULL)) != -1) {
		switch (c) {
		case 'F': flags |= COFFER_RECV_FORCE; break;
		case 's': flags |= COFFER_RECV_SIGNED; break;
		case 'k': flags |= COFFER_RECV_UNVERIFIED; break;
		default: return CLI_USAGE;
		}
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc != 1)
		return cli_usage(argc ? "too many arguments" :
		    "missing dataset name");
	const char *target = argv[0];
	if (strchr(target, '@'))
		return cli_usage("'%s': receive into a dataset, not a "
		    "snapshot", target);
	if (isatty(STDIN_FILENO))
		return cli_msg("cannot receive into '%s': standard input is a "
		    "terminal (give the stream on standard input)", target);
	coffer_pool_t *pool;
	if (cli_pool(target, 0, &pool) < 0)
		return cli_finish(CLI_FAIL);
	coffer_recv_info_t info;
	int err = coffer_receive_verify(pool, target, flags, STDIN_FILENO, NULL,
	    &info);
	int rc = CLI_OK;
	if (err < 0)
		rc = cli_err(err, "cannot receive into '%s'", target);
	else
		cli_recv_warn(&info, flags);
	return cli_finish(rc);
}
