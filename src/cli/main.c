/*
 * coffer: the command line front end.
 *
 * The table below is the whole command surface (DESIGN.md section 7): it
 * dispatches, and it generates `coffer help`, `coffer help CMD` and
 * `coffer CMD --help`, so the help cannot drift from what is dispatched.
 * Adding a command: write cmd_x() in the cmd_<group>.c file, declare it in
 * cli.h, add a row here and a section to the man page in docs/man.
 * Maintenance commands (consistency checks for tests and debugging) go in
 * the second table: `coffer help` leaves them out, `coffer help -a` lists
 * them, and everything else treats them like the others.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "cli/cli_version.h"

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct cli_cmd commands[] = {
	/* pools */
	{ "pool", "create", cmd_pool_create,
	  "pool create [-o prop=val]... POOL FILE... [--size SIZE]",
	  "create a pool over files or block devices",
	  "-o prop=val   set a property of the root dataset (repeatable)\n"
	  "--size SIZE   create missing files with SIZE bytes (K M G T)" },
	{ "pool", "import", cmd_pool_import,
	  "pool import [-d DIR] [POOL]",
	  "list importable pools, or import one by name or guid",
	  "-d DIR        look for devices in DIR (default /dev)" },
	{ "pool", "export", cmd_pool_export,
	  "pool export POOL",
	  "forget a pool, leaving its devices intact", NULL },
	{ "pool", "destroy", cmd_pool_destroy,
	  "pool destroy POOL",
	  "destroy a pool: wipe its labels and forget it", NULL },
	{ "pool", "list", cmd_pool_list,
	  "pool list [-H] [-p] [POOL]...",
	  "list pools with size, allocation and health",
	  "-H            scripted: no header, tab-separated\n"
	  "-p            exact numbers (bytes)" },
	{ "pool", "status", cmd_pool_status,
	  "pool status [-v] [-p] [-H] [POOL]...",
	  "show health, devices, the last scrub and data errors",
	  "-v            list every file with unrecoverable errors\n"
	  "-p            exact numbers and times (seconds since the epoch)\n"
	  "-H            scripted: one fact per line, tab-separated" },
	{ "pool", "scrub", cmd_pool_scrub,
	  "pool scrub [-P | --json] POOL",
	  "verify every block of a pool, repairing from good copies",
	  "-P            machine-readable progress lines: DONE<TAB>TOTAL\n"
	  "--json        progress as JSON lines: {\"done\":N,\"total\":N}" },

	/* datasets */
	{ NULL, "create", cmd_create,
	  "create [-p] [-o prop=val]... [-V SIZE] DATASET",
	  "create a filesystem, or a volume with -V",
	  "-p            create missing parents; no error if DATASET exists\n"
	  "-o prop=val   set a property (repeatable); encryption=SUITE with\n"
	  "              keyformat=passphrase|hex|raw makes an encryption root\n"
	  "              whose key is read from keylocation (default prompt)\n"
	  "-V SIZE       create a volume of SIZE bytes (K M G T)" },
	{ NULL, "destroy", cmd_destroy,
	  "destroy [-r] DATASET|SNAPSHOT",
	  "destroy a dataset or snapshot",
	  "-r            also destroy children and snapshots" },
	{ NULL, "list", cmd_list,
	  "list [-r] [-H] [-p] [-t TYPES] [-o COLS] [-s COL] [-S COL] "
	  "[DATASET]...",
	  "list datasets with their properties",
	  "-r            include everything below each DATASET\n"
	  "-H            scripted: no header, tab-separated\n"
	  "-p            exact numbers (bytes, seconds)\n"
	  "-t TYPES      filesystem,volume,snapshot,all (default "
	  "filesystem,volume)\n"
	  "-o COLS       columns (default name,used,available,referenced,type)\n"
	  "-s COL        sort by COL, ascending (repeatable)\n"
	  "-S COL        sort by COL, descending (repeatable)" },
	{ NULL, "get", cmd_get,
	  "get [-r] [-H] [-p] [-t TYPES] [-o FIELDS] PROP[,PROP]...|all "
	  "[DATASET]...\n"
	  "get [-r] [-p] DATASET[@SNAP]:/PATH... LOCAL",
	  "show properties; or copy files out of a dataset",
	  "-r            properties: include everything below each DATASET;\n"
	  "              files: copy directories recursively (implies -p)\n"
	  "-p            properties: exact numbers (bytes, seconds);\n"
	  "              files: keep mode, owner (as root), times, user xattrs\n"
	  "-H            scripted: no header, tab-separated\n"
	  "-t TYPES      filesystem,volume,snapshot,all (default all)\n"
	  "-o FIELDS     name,property,value,source (default all four)\n"
	  "LOCAL '-'     write the file to standard output" },
	{ NULL, "set", cmd_set,
	  "set PROP=VALUE... DATASET...",
	  "set properties", NULL },
	{ NULL, "inherit", cmd_inherit,
	  "inherit [-r] PROP DATASET...",
	  "clear a local property so that it is inherited again",
	  "-r            also clear it on every dataset below" },
	{ NULL, "snapshot", cmd_snapshot,
	  "snapshot DATASET@NAME...",
	  "create snapshots", NULL },
	{ NULL, "rollback", cmd_rollback,
	  "rollback [-r] DATASET@NAME",
	  "roll a dataset back to its most recent snapshot",
	  "-r            destroy newer snapshots to roll back further" },
	{ NULL, "send", cmd_send,
	  "send [-wcnvR] [-P | --json] [-i SNAPSHOT | -I SNAPSHOT] "
	  "[-s KEY|default|none] [--sign-mode chain|record] "
	  "[--key-location LOCATION] DATASET@NAME\n"
	  "send [-nv] [-P | --json] [-s KEY|default|none] "
	  "[--sign-mode chain|record] [--key-location LOCATION] -t TOKEN",
	  "write a snapshot's replication stream to standard output",
	  "-i SNAPSHOT   incremental from an earlier snapshot (@NAME or\n"
	  "              DATASET@NAME) of the same dataset\n"
	  "-I SNAPSHOT   every snapshot since SNAPSHOT, in one stream\n"
	  "-R            the dataset and its descendants, with their\n"
	  "              properties and every snapshot up to NAME\n"
	  "-w            raw: blocks exactly as stored (an encrypted dataset\n"
	  "              stays encrypted, with its wrapped keys); no key needed\n"
	  "-c            compressed blocks stay compressed in the stream\n"
	  "-t TOKEN      the rest of an interrupted stream (the target's\n"
	  "              receive_resume_token), sent as it was (raw or not)\n"
	  "-n            dry run: print the estimated size, send nothing\n"
	  "-v            print the estimated size, and the total at the end\n"
	  "-P            progress on standard error: DONE TOTAL RATE ETA\n"
	  "--json        progress as JSON lines on standard error\n"
	  "-s KEY        sign with key pair KEY of the keyring (a name, a\n"
	  "              fingerprint, or default: the first key pair);\n"
	  "              none: do not sign (the default)\n"
	  "--sign-mode M chain: a hash chain with signatures at checkpoints\n"
	  "              (default); record: every record signed\n"
	  "--key-location LOCATION\n"
	  "              where the key's passphrase is read (prompt or\n"
	  "              file:///PATH; default prompt)" },
	{ NULL, "receive", cmd_receive,
	  "receive [-Fuv] [-s] [-k] [-d | -e] [--resumable] DATASET\n"
	  "receive -A DATASET",
	  "apply a replication stream from standard input, atomically",
	  "-F            roll DATASET back to the stream's base snapshot first\n"
	  "-s            accept only a stream signed by a trusted key\n"
	  "-k            also accept unsigned streams and streams signed by\n"
	  "              keys not in the keyring, unverified (a warning);\n"
	  "              without -s or -k, receive_policy decides (any|signed)\n"
	  "-d            receive into DATASET/<sent name without its pool>\n"
	  "-e            receive into DATASET/<last element of the sent name>\n"
	  "-u            do not mount (no effect: coffer has no mounts yet)\n"
	  "--resumable   keep an interrupted receive for 'send -t'\n"
	  "-v            say where the stream went, how long it took and\n"
	  "              which key's signatures were verified\n"
	  "-A            discard DATASET's interrupted receive" },

	/* files */
	{ NULL, "put", cmd_put,
	  "put [-r] [-p] LOCAL... DATASET:/PATH",
	  "copy files into a dataset (LOCAL '-' is standard input)",
	  "-r            copy directories recursively (implies -p)\n"
	  "-p            keep mode, owner (as root), times and user xattrs" },
	{ NULL, "cat", cmd_cat,
	  "cat DATASET[@SNAP]:/PATH...",
	  "write files to standard output", NULL },
	{ NULL, "ls", cmd_ls,
	  "ls [-l] [-n] [-a] [-d] [-R] DATASET[@SNAP]:/PATH...",
	  "list directory contents",
	  "-l            long format: mode, links, owner, size, time\n"
	  "-n            like -l with numeric owner and group\n"
	  "-a            include names starting with '.'\n"
	  "-d            list directories themselves, not their contents\n"
	  "-R            list subdirectories recursively" },
	{ NULL, "rm", cmd_rm,
	  "rm [-r] [-f] DATASET:/PATH...",
	  "remove files and directories",
	  "-r            remove directories and their contents\n"
	  "-f            ignore missing files" },
	{ NULL, "mkdir", cmd_mkdir,
	  "mkdir [-p] [-m MODE] DATASET:/PATH...",
	  "create directories",
	  "-p            create missing parents; no error if it exists\n"
	  "-m MODE       octal permissions (default 0777 less the umask)" },
	{ NULL, "mv", cmd_mv,
	  "mv DATASET:/SRC DATASET:/DST",
	  "rename or move a file within one dataset", NULL },
	{ NULL, "ln", cmd_ln,
	  "ln [-s] TARGET DATASET:/PATH",
	  "make a hard link (TARGET in the same dataset) or a symbolic link",
	  "-s            make a symbolic link containing TARGET" },

	/* volumes */
	{ NULL, "write", cmd_vol_write,
	  "write VOLUME [--offset N] < DATA",
	  "write standard input into a volume",
	  "--offset N    start at byte N (K M G T)" },
	{ NULL, "read", cmd_vol_read,
	  "read VOLUME[@SNAP] [--offset N] [--length N] > DATA",
	  "copy a byte range of a volume to standard output",
	  "--offset N    start at byte N (default 0)\n"
	  "--length N    copy N bytes (default: to the end)" },

	/* encryption keys */
	{ NULL, "load-key", cmd_load_key,
	  "load-key [-a] [-n] [-L LOCATION] [DATASET]",
	  "load the key of an encryption root for later commands",
	  "-a            load every key not loaded yet (of all pools, or\n"
	  "              under DATASET), reading one key per encryption root\n"
	  "-n            only check the key; load nothing\n"
	  "-L LOCATION   read the key from 'prompt' or file:///PATH instead\n"
	  "              of the keylocation property" },
	{ NULL, "unload-key", cmd_unload_key,
	  "unload-key [-a] [DATASET]",
	  "unload the key of an encryption root",
	  "-a            unload every loaded key (of all pools, or under "
	  "DATASET)" },
	{ NULL, "change-key", cmd_change_key,
	  "change-key [-l] [-i] [-o keyformat=..] [-o keylocation=..] DATASET",
	  "change the key of an encryption root without re-encrypting data",
	  "-l            load the current key first if it is not loaded\n"
	  "-i            use the parent's key instead: stop being a root\n"
	  "-o prop=val   keyformat, keylocation, pbkdf or pbkdf2iters of the\n"
	  "              new key (repeatable); the new key replaces every\n"
	  "              key slot" },
	/* signing keys (signed streams) */
	{ "key", "generate", cmd_key_generate,
	  "key generate [--alg ALG] [-p] [-L LOCATION] NAME",
	  "create a signing key pair in the keyring",
	  "--alg ALG     ed25519 (default), ecdsa-p256 or ecdsa-p384\n"
	  "-p            protect the private key with a passphrase (prompt)\n"
	  "-L LOCATION   read that passphrase from LOCATION (prompt or\n"
	  "              file:///PATH); implies -p" },
	{ "key", "list", cmd_key_list,
	  "key list [-H]",
	  "list the keyring: name, algorithm, fingerprint, private or trusted",
	  "-H            scripted: no header, tab-separated" },
	{ "key", "export", cmd_key_export,
	  "key export KEY",
	  "print a public key as one line, for 'key trust' elsewhere", NULL },
	{ "key", "trust", cmd_key_trust,
	  "key trust [-n NAME] FILE|-",
	  "trust a public key (a line printed by 'key export')",
	  "-n NAME       keep it under NAME instead of the name in the line" },
	{ "key", "remove", cmd_key_remove,
	  "key remove NAME...",
	  "remove keys from the keyring (a private key is overwritten)",
	  NULL },
	{ "key-slot", "add", cmd_key_slot_add,
	  "key-slot add [-o prop=val]... DATASET",
	  "add a key that also unlocks an encryption root",
	  "-o prop=val   keyformat, pbkdf or pbkdf2iters of the new key, and\n"
	  "              keylocation: where to read it from (default prompt)" },
	{ "key-slot", "remove", cmd_key_slot_remove,
	  "key-slot remove DATASET N",
	  "remove key slot N of an encryption root", NULL },
	{ "key-slot", "list", cmd_key_slot_list,
	  "key-slot list [-H] [-p] DATASET",
	  "list the key slots of an encryption root",
	  "-H            scripted: no header, tab-separated\n"
	  "-p            exact numbers and times (seconds since the epoch)" },

	/* misc */
	{ NULL, "version", cmd_version,
	  "version",
	  "show the version", NULL },
	{ NULL, "help", cmd_help,
	  "help [-a] [COMMAND]",
	  "show the commands, or the help of one command",
	  "-a            also list the maintenance commands" },
};

static const struct cli_cmd maint_commands[] = {
	{ "pool", "check", cmd_pool_check,
	  "pool check [-p] POOL",
	  "check that every allocated block is referenced exactly once",
	  "-p            exact numbers, one KEY<TAB>VALUE per line" },
};

#define NCOMMANDS (int)(sizeof(commands) / sizeof(commands[0]))
#define NMAINT (int)(sizeof(maint_commands) / sizeof(maint_commands[0]))
#define NALL (NCOMMANDS + NMAINT)

/* Commands 0 .. NCOMMANDS-1 are listed by `coffer help`, the rest (up to
 * NALL) only by `coffer help -a`. */
static const struct cli_cmd *cmd_at(int i)
{
	return i < NCOMMANDS ? &commands[i] : &maint_commands[i - NCOMMANDS];
}

const struct cli_cmd *cli_current;

static const struct cli_cmd *find_cmd(const char *group, const char *name)
{
	for (int i = 0; i < NALL; i++) {
		const struct cli_cmd *c = cmd_at(i);
		if ((group == NULL) != (c->group == NULL))
			continue;
		if (group && strcmp(group, c->group) != 0)
			continue;
		if (strcmp(name, c->name) == 0)
			return c;
	}
	return NULL;
}

static int is_group(const char *name)
{
	for (int i = 0; i < NALL; i++)
		if (cmd_at(i)->group && strcmp(cmd_at(i)->group, name) == 0)
			return 1;
	return 0;
}

static void list_commands(FILE *f, const char *group, int all)
{
	int w = 0;
	int n = all ? NALL : NCOMMANDS;

	for (int i = 0; i < n; i++) {
		const struct cli_cmd *c = cmd_at(i);
		int len = (int)strlen(c->name) +
		    (c->group ? (int)strlen(c->group) + 1 : 0);
		if (len > w)
			w = len;
	}
	for (int i = 0; i < n; i++) {
		const struct cli_cmd *c = cmd_at(i);
		char full[64];
		if (group && (!c->group || strcmp(group, c->group) != 0))
			continue;
		snprintf(full, sizeof(full), "%s%s%s", c->group ? c->group : "",
		    c->group ? " " : "", c->name);
		fprintf(f, "  %-*s  %s\n", w, full, c->desc);
	}
}

static void print_overview(FILE *f, int all)
{
	fprintf(f, "usage: coffer COMMAND [ARGS]...\n\n"
	    "coffer manages encrypted copy-on-write storage pools.\n\n"
	    "Commands:\n");
	list_commands(f, NULL, all);
	fprintf(f, "\nRun 'coffer help COMMAND' or 'coffer COMMAND --help' "
	    "for the options of a command.\n");
}

static void print_group(FILE *f, const char *group)
{
	fprintf(f, "usage: coffer %s COMMAND [ARGS]...\n\nCommands:\n", group);
	list_commands(f, group, 0);
}

void cli_print_usage(FILE *f, const struct cli_cmd *c)
{
	const char *p = c->usage;
	int first = 1;

	while (*p) {
		size_t len = strcspn(p, "\n");
		fprintf(f, "%s coffer %.*s\n", first ? "usage:" : "      ",
		    (int)len, p);
		first = 0;
		p += len;
		if (*p == '\n')
			p++;
	}
}

void cli_print_help(const struct cli_cmd *c)
{
	cli_print_usage(stdout, c);
	printf("\n%s%s%s: %s\n", c->group ? c->group : "",
	    c->group ? " " : "", c->name, c->desc);
	if (c->help) {
		const char *p = c->help;
		printf("\nOptions:\n");
		while (*p) {
			size_t len = strcspn(p, "\n");
			printf("  %.*s\n", (int)len, p);
			p += len;
			if (*p == '\n')
				p++;
		}
	}
}

static int cmd_help(int argc, char **argv)
{
	const struct cli_cmd *c;

	if (argc == 1) {
		print_overview(stdout, 0);
		return CLI_OK;
	}
	if (argc == 2 && (strcmp(argv[1], "-a") == 0 ||
	    strcmp(argv[1], "--all") == 0)) {
		print_overview(stdout, 1);
		return CLI_OK;
	}
	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		cli_print_help(cli_current);
		return CLI_OK;
	}
	if (argc > 3)
		return cli_usage("too many arguments");
	if (is_group(argv[1])) {
		if (argc == 2) {
			print_group(stdout, argv[1]);
			return CLI_OK;
		}
		c = find_cmd(argv[1], argv[2]);
	} else {
		c = argc == 2 ? find_cmd(NULL, argv[1]) : NULL;
	}
	if (!c) {
		fprintf(stderr, "coffer: unknown command '%s%s%s'\n", argv[1],
		    argc == 3 ? " " : "", argc == 3 ? argv[2] : "");
		fprintf(stderr, "See 'coffer help' for the list of "
		    "commands.\n");
		return CLI_USAGE;
	}
	cli_print_help(c);
	return CLI_OK;
}

static int cmd_version(int argc, char **argv)
{
	if (argc > 1)
		return cli_usage("too many arguments");
	printf("coffer %s\n", COFFER_VERSION);
	return CLI_OK;
}

/* --help anywhere before "--" asks for the command's help. */
static int wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

static void log_to_stderr(int level, const char *msg, void *arg)
{
	static const char *const names[] = { "error", "warning", "info",
	    "debug" };
	int max = *(int *)arg;

	if (level <= max && level >= 0 && level <= 3)
		fprintf(stderr, "coffer: %s: %s\n", names[level], msg);
}

int main(int argc, char **argv)
{
	static int loglevel;
	const struct cli_cmd *c;
	const char *dbg = getenv("COFFER_DEBUG");

	if (dbg && *dbg) {
		loglevel = atoi(dbg);
		coffer_set_log(log_to_stderr, &loglevel);
	}

	if (argc < 2) {
		print_overview(stderr, 0);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		print_overview(stdout, 0);
		return CLI_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
		return cmd_version(1, argv + 1);

	argc--;
	argv++;
	if (is_group(argv[0])) {
		const char *group = argv[0];
		if (argc < 2) {
			print_group(stderr, group);
			return CLI_USAGE;
		}
		if (strcmp(argv[1], "--help") == 0 ||
		    strcmp(argv[1], "help") == 0) {
			print_group(stdout, group);
			return CLI_OK;
		}
		c = find_cmd(group, argv[1]);
		if (!c) {
			fprintf(stderr, "coffer: unknown command '%s %s'\n",
			    group, argv[1]);
			print_group(stderr, group);
			return CLI_USAGE;
		}
		argc--;
		argv++;
	} else {
		c = find_cmd(NULL, argv[0]);
		if (!c) {
			fprintf(stderr, "coffer: unknown command '%s'\n",
			    argv[0]);
			fprintf(stderr, "See 'coffer help' for the list of "
			    "commands.\n");
			return CLI_USAGE;
		}
	}
	cli_current = c;
	if (c->fn != cmd_help && wants_help(argc, argv)) {
		cli_print_help(c);
		return CLI_OK;
	}
	return c->fn(argc, argv);
}
