/*
 * send and receive: replication streams on standard output and input.
 *
 * send prints nothing on standard output but the stream.  Its messages,
 * the -v summary and the progress (-P, --json, or a live line when
 * standard error is a terminal) go to standard error; a dry run (-n)
 * writes no stream, so its -v/-P lines go to standard output.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static volatile sig_atomic_t send_interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	send_interrupted = 1;
}

static int send_progress(uint64_t done, uint64_t total, void *arg)
{
	if (send_interrupted)
		return 1;
	cli_progress_update(arg, done, total, 0);
	return 0;
}

/* "full send of tank/fs@s2" / "incremental send of tank/fs@s2 from @s1" /
 * "resumed send of ..." */
static void describe(char *buf, size_t n, const char *snap,
    const char *from, int resumed)
{
	if (from && *from)
		snprintf(buf, n, "%s send of %s from %s", resumed ?
		    "resumed incremental" : "incremental", snap, from);
	else
		snprintf(buf, n, "%s send of %s", resumed ? "resumed full" :
		    "full", snap);
}

int cmd_send(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "sign-mode", required_argument, NULL, 'M' },
		{ "key-location", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 }
	};
	const char *from = NULL, *token = NULL, *snap = NULL;
	const char *signkey = NULL, *keyloc = NULL;
	int c, flags = 0, dry = 0, verbose = 0, mode = CLI_PROG_NONE;
	int signmode = COFFER_SIGN_CHAIN;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "i:I:t:wcnvPRs:", lo)) != -1) {
		switch (c) {
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
		case 'i':
		case 'I':
			if (from)
				return cli_usage("give one of -i and -I");
			from = cli_optarg;
			if (c == 'I')
				flags |= COFFER_SEND_INTERMEDIATE;
			break;
		case 'R': flags |= COFFER_SEND_REPLICATE; break;
		case 'w': flags |= COFFER_SEND_RAW; break;
		case 'c': flags |= COFFER_SEND_COMPRESSED; break;
		case 't': token = cli_optarg; break;
		case 'n': dry = 1; break;
		case 'v': verbose = 1; break;
		case 'P': mode = CLI_PROG_TAB; break;
		case 'j': mode = CLI_PROG_JSON; break;
		default: return CLI_USAGE;
		}
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (signkey && strcmp(signkey, "none") == 0)
		signkey = NULL;
	if (keyloc && cli_keylocation_check(keyloc) != 0)
		return cli_usage("bad key location '%s' (use prompt or "
		    "file:///absolute/path)", keyloc);
	coffer_resume_info_t ri;
	if (token) {
		if (argc)
			return cli_usage("-t takes no snapshot: the token names "
			    "it");
		if (from)
			return cli_usage("-t and -i exclude each other");
		if (flags)
			return cli_usage("-t takes no -w, -c, -R or -I: the "
			    "token says how the stream was sent");
		if (coffer_resume_token_info(token, &ri) < 0)
			return cli_msg("cannot resume: not a valid resume token "
			    "(see 'coffer get receive_resume_token')");
		snap = ri.toname;
		from = ri.fromname[0] ? ri.fromname : NULL;
	} else {
		if (argc != 1)
			return cli_usage(argc ? "too many arguments" :
			    "missing snapshot name");
		snap = argv[0];
		if (!strchr(snap, '@'))
			return cli_usage("'%s' is not a snapshot "
			    "(DATASET@NAME)", snap);
		if (from && !strchr(from, '@'))
			return cli_usage("'%s' is not a snapshot (@NAME or "
			    "DATASET@NAME)", from);
	}
	if (!dry && isatty(STDOUT_FILENO))
		return cli_msg("cannot send '%s': standard output is a "
		    "terminal (redirect it to a file or a pipe)", snap);
	/* the signing key first: its passphrase may be asked for */
	coffer_signer_t *signer = NULL;
	if (signkey && !dry && cli_signer_open(signkey, keyloc, &signer) !=
	    CLI_OK)
		return CLI_FAIL;
	coffer_pool_t *pool;
	if (cli_pool(snap, COFFER_OPEN_RDONLY, &pool) < 0) {
		coffer_signer_close(signer);
		return cli_finish(CLI_FAIL);
	}

	/* the estimate: for -n, -v and for the progress total */
	FILE *info = dry ? stdout : stderr;
	if (mode == CLI_PROG_NONE && !dry && isatty(STDERR_FILENO))
		mode = CLI_PROG_TTY;
	char what[600];
	describe(what, sizeof(what), snap, from, token != NULL);
	coffer_send_args_t est = { token, 1, 0, 0 };
	if (dry || verbose || mode != CLI_PROG_NONE) {
		int err = coffer_send_signed(pool, snap, from, flags, &est,
		    signer, signmode, -1, NULL, NULL);
		if (err < 0) {
			coffer_signer_close(signer);
			return cli_finish(cli_err(err, "cannot send '%s'",
			    snap));
		}
		if (verbose || (dry && mode == CLI_PROG_NONE)) {
			char sz[32];
			cli_nicenum(est.bytes, sz, sizeof(sz));
			fprintf(info, "%s estimated size is %s\n", what, sz);
		}
		if (dry && (mode == CLI_PROG_TAB || mode == CLI_PROG_JSON)) {
			if (mode == CLI_PROG_TAB)
				printf("%s\t%s\t%s\t%llu\n", from ? "incremental" :
				    "full", from ? from : "-", snap,
				    (unsigned long long)est.bytes);
			else
				printf("{\"type\":\"%s\",\"snapshot\":\"%s\","
				    "\"size\":%llu}\n", from ? "incremental" :
				    "full", snap,
				    (unsigned long long)est.bytes);
		}
		fflush(info);
	}
	if (dry)
		return cli_finish(CLI_OK);

	struct cli_progress prog;
	cli_progress_init(&prog, mode, stderr, "send");
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old);
	coffer_send_args_t a = { token, 0, est.bytes, 0 };
	int err = coffer_send_signed(pool, snap, from, flags, &a, signer,
	    signmode, STDOUT_FILENO, mode == CLI_PROG_NONE ? NULL :
	    send_progress, &prog);
	coffer_signer_close(signer);
	sigaction(SIGINT, &old, NULL);
	if (mode != CLI_PROG_NONE && err >= 0)
		cli_progress_update(&prog, a.bytes, a.bytes, 1);
	cli_progress_end(&prog);
	int rc = CLI_OK;
	if (err == COFFER_EINTR)
		rc = cli_msg("send of '%s' stopped", snap);
	else if (err < 0)
		rc = cli_err(err, "cannot send '%s'", snap);
	else if (verbose) {
		char sz[32];
		cli_nicenum(a.bytes, sz, sizeof(sz));
		fprintf(stderr, "total sent %s (%llu bytes)\n", sz,
		    (unsigned long long)a.bytes);
	}
	return cli_finish(rc);
}

/* -k: say what was accepted without verification. */
static void recv_warn(const coffer_recv_info_t *in, int flags)
{
	if (in->is_signed && !in->verified)
		cli_warn("the stream is signed by key %s, which is not in the "
		    "keyring: received without verifying it",
		    in->fingerprint);
	else if (!in->is_signed && (flags & COFFER_RECV_UNVERIFIED))
		cli_warn("the stream is not signed: received without "
		    "verification");
}

/* -v: where the stream went, how long it took, what was verified. */
static void recv_report(const char *name, double secs,
    const coffer_recv_info_t *in)
{
	fprintf(stderr, "received into '%s' in %.2f s", name, secs);
	if (in->is_signed && in->verified)
		fprintf(stderr, ": signed by key '%s' (%s), %s mode, %llu "
		    "signature%s verified", in->keyname, in->fingerprint,
		    in->mode, (unsigned long long)in->checkpoints,
		    in->checkpoints == 1 ? "" : "s");
	else if (in->is_signed)
		fprintf(stderr, ": signed by key %s, not verified",
		    in->fingerprint);
	else
		fputs(": not signed", stderr);
	fputc('\n', stderr);
}

int cmd_receive(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "resumable", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	int c, flags = 0, abort_partial = 0, verbose = 0;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "FudeAskv", lo)) != -1) {
		switch (c) {
		case 'F': flags |= COFFER_RECV_FORCE; break;
		case 's': flags |= COFFER_RECV_SIGNED; break;
		case 'k': flags |= COFFER_RECV_UNVERIFIED; break;
		case 'u': break;        /* no mounts yet: nothing to skip */
		case 'd': flags |= COFFER_RECV_DNAME; break;
		case 'e': flags |= COFFER_RECV_ENAME; break;
		case 'r': flags |= COFFER_RECV_RESUMABLE; break;
		case 'A': abort_partial = 1; break;
		case 'v': verbose = 1; break;
		default: return CLI_USAGE;
		}
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc != 1)
		return cli_usage(argc ? "too many arguments" :
		    "missing dataset name");
	if ((flags & COFFER_RECV_DNAME) && (flags & COFFER_RECV_ENAME))
		return cli_usage("-d and -e exclude each other");
	if (abort_partial && (flags || verbose))
		return cli_usage("-A takes no other option");
	const char *target = argv[0];
	if (strchr(target, '@'))
		return cli_usage("'%s': receive into a dataset, not a "
		    "snapshot", target);
	coffer_pool_t *pool;
	if (abort_partial) {
		if (cli_pool(target, 0, &pool) < 0)
			return cli_finish(CLI_FAIL);
		int err = coffer_receive_abort(pool, target);
		return cli_finish(err < 0 ? cli_err(err, "cannot discard the "
		    "interrupted receive of '%s'", target) : CLI_OK);
	}
	if (isatty(STDIN_FILENO))
		return cli_msg("cannot receive into '%s': standard input is a "
		    "terminal (give the stream on standard input)", target);
	if (cli_pool(target, 0, &pool) < 0)
		return cli_finish(CLI_FAIL);
	char name[CLI_NAME_MAX] = "";
	coffer_recv_info_t info;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int err = coffer_receive_verify(pool, target, flags, STDIN_FILENO,
	    name, sizeof(name), NULL, &info);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	int rc = CLI_OK;
	if (err < 0) {
		rc = cli_err(err, "cannot receive into '%s'", name[0] ? name :
		    target);
	} else {
		recv_warn(&info, flags);
		if (verbose)
			recv_report(name[0] ? name : target,
			    (double)(t1.tv_sec - t0.tv_sec) +
			    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, &info);
	}
	return cli_finish(rc);
}
