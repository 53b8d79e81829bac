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
	const char *from = NULL;
	int c, flags = 0;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "i:wc", NULL)) != -1) {
		switch (c) {
		case 'i':
			from = cli_optarg;
			break;
		case 'w':
			flags |= COFFER_SEND_RAW;
			break;
		case 'c':
			flags |= COFFER_SEND_COMPRESSED;
			break;
		default:
			return CLI_USAGE;
		}
	}
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
	coffer_pool_t *pool;
	if (cli_pool(snap, COFFER_OPEN_RDONLY, &pool) < 0)
		return cli_finish(CLI_FAIL);
	int err = coffer_send(pool, snap, from, flags, STDOUT_FILENO, NULL,
	    NULL);
	int rc = CLI_OK;
	if (err < 0)
		rc = cli_err(err, "cannot send '%s'", snap);
	return cli_finish(rc);
}

int cmd_receive(int argc, char **argv)
{
	int c, flags = 0;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "F", NULL)) != -1) {
		if (c != 'F')
			return CLI_USAGE;
		flags |= COFFER_RECV_FORCE;
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
	int err = coffer_receive(pool, target, flags, STDIN_FILENO);
	int rc = CLI_OK;
	if (err < 0)
		rc = cli_err(err, "cannot receive into '%s'", target);
	return cli_finish(rc);
}
