/*
 * cmd_vol: byte access to volumes: write (from standard input) and read
 * (to standard output).
 *
 * A write checks the range against the volume size before writing when
 * standard input is a regular file; from a pipe the size is unknown, so
 * the bytes before the end of the volume are written and the command then
 * fails (exit 1) naming the offset reached.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (1u << 20)

static const struct option vol_opts[] = {
	{ "offset", required_argument, NULL, 'o' },
	{ "length", required_argument, NULL, 'l' },
	{ NULL, 0, NULL, 0 }
};

/* Open VOLUME (or a snapshot of one) and check that it is a volume. */
static int open_vol(const char *name, int flags, coffer_fs_t **vol)
{
	coffer_pool_t *pool;
	int type;

	if (cli_pool(name, flags, &pool) < 0)
		return CLI_FAIL;
	type = cli_ds_type(pool, name);
	if (type < 0)
		return cli_err(type, "cannot open '%s'", name);
	if (type == COFFER_TYPE_FILESYSTEM)
		return cli_msg("cannot open '%s': not a volume (use put/get "
		    "for files)", name);
	if (cli_fs_open(name, flags, vol) < 0)
		return CLI_FAIL;
	return CLI_OK;
}

static int parse_vol_args(int argc, char **argv, int want_len,
    uint64_t *off, uint64_t *len, int *len_given, const char **name)
{
	int c;

	cli_optreset();
	while ((c = cli_getopt(argc, argv, "", vol_opts)) != -1) {
		switch (c) {
		case 'o':
			if (cli_parse_size(cli_optarg, off) != 0)
				return cli_usage("bad offset '%s'", cli_optarg);
			break;
		case 'l':
			if (!want_len)
				return cli_usage("unknown option '--length'");
			if (cli_parse_size(cli_optarg, len) != 0)
				return cli_usage("bad length '%s'", cli_optarg);
			*len_given = 1;
			break;
		default:
			return CLI_USAGE;
		}
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc != 1)
		return cli_usage(argc ? "too many arguments" :
		    "missing volume name");
	if (cli_is_spec(argv[0]))
		return cli_usage("'%s' is a file; volumes are named without "
		    "':/PATH'", argv[0]);
	*name = argv[0];
	return CLI_OK;
}

int cmd_vol_write(int argc, char **argv)
{
	uint64_t off = 0, len = 0, size, pos;
	int len_given = 0, rc;
	const char *name;
	coffer_fs_t *vol;
	struct stat st;
	unsigned char *buf;

	rc = parse_vol_args(argc, argv, 0, &off, &len, &len_given, &name);
	if (rc != CLI_OK)
		return rc;
	if (strchr(name, '@'))
		return cli_msg("cannot write to '%s': snapshots are read-only",
		    name);
	if (isatty(STDIN_FILENO))
		return cli_usage("standard input is a terminal; redirect the "
		    "data to write");
	if (open_vol(name, 0, &vol) != CLI_OK)
		return cli_finish(CLI_FAIL);

	size = coffer_vol_size(vol);
	if (off > size) {
		cli_msg("cannot write to '%s': offset %llu is past the end "
		    "(size %llu)", name, (unsigned long long)off,
		    (unsigned long long)size);
		return cli_finish(CLI_FAIL);
	}
	if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode)) {
		off_t cur = lseek(STDIN_FILENO, 0, SEEK_CUR);
		uint64_t left = (uint64_t)st.st_size -
		    (cur > 0 && cur <= st.st_size ? (uint64_t)cur : 0);
		if (left > size - off) {
			cli_msg("cannot write to '%s': %llu bytes at offset "
			    "%llu do not fit (size %llu)", name,
			    (unsigned long long)left, (unsigned long long)off,
			    (unsigned long long)size);
			return cli_finish(CLI_FAIL);
		}
	}

	buf = malloc(CHUNK);
	if (!buf) {
		cli_syserr(ENOMEM, "cannot write to '%s'", name);
		return cli_finish(CLI_FAIL);
	}
	pos = off;
	rc = CLI_OK;
	for (;;) {
		long n = cli_read_full(STDIN_FILENO, buf, CHUNK);
		size_t done = 0;
		if (n < 0) {
			rc = cli_err((int)n, "cannot read standard input");
			break;
		}
		if (n == 0)
			break;
		if ((uint64_t)n > size - pos) {
			rc = cli_msg("cannot write to '%s': the data goes "
			    "past the end (size %llu); only %llu bytes were "
			    "written", name, (unsigned long long)size,
			    (unsigned long long)(pos - off));
			break;
		}
		while (done < (size_t)n) {
			int64_t w = coffer_vol_write(vol, pos, buf + done,
			    (size_t)n - done);
			if (w <= 0) {
				rc = cli_err(w < 0 ? (int)w : -EIO,
				    "cannot write to '%s' at offset %llu",
				    name, (unsigned long long)pos);
				break;
			}
			done += (size_t)w;
			pos += (uint64_t)w;
		}
		if (rc != CLI_OK)
			break;
	}
	free(buf);
	return cli_finish(rc);
}

int cmd_vol_read(int argc, char **argv)
{
	uint64_t off = 0, len = 0, size, pos, end;
	int len_given = 0, rc;
	const char *name;
	coffer_fs_t *vol;
	unsigned char *buf;

	rc = parse_vol_args(argc, argv, 1, &off, &len, &len_given, &name);
	if (rc != CLI_OK)
		return rc;
	if (open_vol(name, COFFER_OPEN_RDONLY, &vol) != CLI_OK)
		return cli_finish(CLI_FAIL);

	size = coffer_vol_size(vol);
	if (off > size) {
		cli_msg("cannot read '%s': offset %llu is past the end (size "
		    "%llu)", name, (unsigned long long)off,
		    (unsigned long long)size);
		return cli_finish(CLI_FAIL);
	}
	if (!len_given)
		len = size - off;
	if (len > size - off) {
		cli_msg("cannot read '%s': %llu bytes at offset %llu go past "
		    "the end (size %llu)", name, (unsigned long long)len,
		    (unsigned long long)off, (unsigned long long)size);
		return cli_finish(CLI_FAIL);
	}
	buf = malloc(CHUNK);
	if (!buf) {
		cli_syserr(ENOMEM, "cannot read '%s'", name);
		return cli_finish(CLI_FAIL);
	}
	rc = CLI_OK;
	end = off + len;
	for (pos = off; pos < end;) {
		size_t want = end - pos < CHUNK ? (size_t)(end - pos) : CHUNK;
		int64_t r = coffer_vol_read(vol, pos, buf, want);
		int w;
		if (r <= 0) {
			rc = cli_err(r < 0 ? (int)r : -EIO, "cannot read '%s' "
			    "at offset %llu", name, (unsigned long long)pos);
			break;
		}
		w = cli_write_all(STDOUT_FILENO, buf, (size_t)r);
		if (w < 0) {
			rc = cli_err(w, "cannot write standard output");
			break;
		}
		pos += (uint64_t)r;
	}
	free(buf);
	return cli_finish(rc);
}
