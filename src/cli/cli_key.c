/*
 * cli_key: reading user keys (create, load-key, change-key, key-slot add).
 *
 * Where a key comes from (the keylocation property, -o keylocation= or
 * load-key -L), never from argv:
 *   prompt          the terminal (/dev/tty, echo off) when standard input
 *                   is a terminal; otherwise standard input
 *   file:///PATH    the file PATH
 *
 * How much is read:
 *   passphrase, hex one line: from the terminal or standard input up to the
 *                   newline; from a file the whole file (one trailing
 *                   newline is dropped; a second line is an error)
 *   raw             exactly 32 bytes: the next 32 bytes of standard input,
 *                   or a file of exactly 32 bytes; never typed
 *   several formats (load-key of a root whose key slots differ in format)
 *                   standard input or the file is read whole and tried as
 *                   each format; the terminal gives one line
 *
 * Secrets live only in pages from key_page(): mmap'ed, mlock'ed, left out
 * of core dumps, wiped with explicit_bzero before they are unmapped.  Bytes
 * go from read(2) straight into them, never through stdio buffers.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <termios.h>
#include <unistd.h>

#define KEY_PAGE 4096           /* one locked page per key buffer */
#define KEY_CAP  (KEY_PAGE - 1) /* more than any key: "too long" */

/* ---- names ------------------------------------------------------------- */

int cli_keyformat_parse(const char *s)
{
	if (strcasecmp(s, "none") == 0)
		return CLI_KF_NONE;
	if (strcasecmp(s, "passphrase") == 0)
		return CLI_KF_PASSPHRASE;
	if (strcasecmp(s, "hex") == 0)
		return CLI_KF_HEX;
	if (strcasecmp(s, "raw") == 0)
		return CLI_KF_RAW;
	return -1;
}

const char *cli_keyformat_name(int fmt)
{
	switch (fmt) {
	case CLI_KF_PASSPHRASE: return "passphrase";
	case CLI_KF_HEX: return "hex";
	case CLI_KF_RAW: return "raw";
	}
	return "none";
}

/* The path of a file:// location, or NULL. */
static const char *file_path(const char *loc)
{
	if (strncmp(loc, "file://", 7) != 0 || loc[7] != '/' || !loc[8])
		return NULL;
	return loc + 7;
}

int cli_keylocation_check(const char *loc)
{
	const char *p;

	if (strcmp(loc, "prompt") == 0)
		return 0;
	p = file_path(loc);
	if (!p || p[strlen(p) - 1] == '/')
		return -1;
	for (; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return -1;
	return 0;
}

/* ---- locked pages ------------------------------------------------------ */

static uint8_t *key_page(void)
{
	static int warned;
	void *p = mmap(NULL, KEY_PAGE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (mlock(p, KEY_PAGE) != 0 && !warned) {
		cli_warn("cannot lock memory for the key (%s); it may be "
		    "written to swap", strerror(errno));
		warned = 1;
	}
#ifdef MADV_DONTDUMP
	(void)madvise(p, KEY_PAGE, MADV_DONTDUMP);
#endif
	return p;
}

static void key_page_free(uint8_t *p)
{
	if (!p)
		return;
	explicit_bzero(p, KEY_PAGE);
	(void)munlock(p, KEY_PAGE);
	(void)munmap(p, KEY_PAGE);
}

void cli_key_free(struct cli_key *k)
{
	key_page_free(k->buf);
	memset(k, 0, sizeof(*k));
}

/* ---- readers ----------------------------------------------------------- */

/* One line from fd (without its newline), a byte at a time so that
 * nothing after the newline is consumed.  A line longer than KEY_CAP is
 * read to its end and reported as KEY_CAP bytes (too long for any key).
 * Returns 0 or -errno. */
static int read_line(int fd, uint8_t *buf, size_t *len, int *eof)
{
	size_t n = 0;

	*eof = 0;
	for (;;) {
		uint8_t c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0) {
			*eof = n == 0;
			break;
		}
		if (c == '\n')
			break;
		if (n < KEY_CAP)
			buf[n++] = c;
	}
	explicit_bzero(buf + n, KEY_PAGE - n);
	*len = n;
	return 0;
}

/* Up to `want` bytes (or to EOF). Returns 0 or -errno. */
static int read_upto(int fd, uint8_t *buf, size_t want, size_t *len)
{
	long r = cli_read_full(fd, buf, want);

	if (r < 0)
		return (int)r;
	*len = (size_t)r;
	return 0;
}

/* The terminal, with echo off while reading; restored on signals. */
static int tty_in = -1;
static struct termios tty_saved;
static volatile sig_atomic_t tty_echo_off;

static void tty_restore(void)
{
	if (tty_echo_off) {
		(void)tcsetattr(tty_in, TCSANOW, &tty_saved);
		tty_echo_off = 0;
	}
}

static void tty_signal(int sig)
{
	tty_restore();
	(void)!write(tty_in, "\n", 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static const int tty_sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define NSIGS (int)(sizeof(tty_sigs) / sizeof(tty_sigs[0]))

/* Prompt on the terminal and read a line with echo off.  0, or -errno
 * (printed by the caller). */
static int read_tty(const char *prompt, uint8_t *buf, size_t *len, int *eof)
{
	struct sigaction sa, old[NSIGS];
	struct termios t;
	int in, out, rc, opened = 0;

	in = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (in >= 0) {
		out = in;
		opened = 1;
	} else {
		in = STDIN_FILENO;
		out = STDERR_FILENO;
	}
	if (tcgetattr(in, &tty_saved) != 0) {
		rc = -errno;
		if (opened)
			close(in);
		return rc;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tty_signal;
	sigemptyset(&sa.sa_mask);
	tty_in = in;
	for (int i = 0; i < NSIGS; i++)
		sigaction(tty_sigs[i], &sa, &old[i]);
	t = tty_saved;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	/* TCSANOW, not TCSAFLUSH: keep what was typed ahead */
	if (tcsetattr(in, TCSANOW, &t) == 0)
		tty_echo_off = 1;
	/* the prompt only once echo is off: nothing typed after it shows */
	(void)cli_write_all(out, prompt, strlen(prompt));

	rc = read_line(in, buf, len, eof);

	tty_restore();
	(void)cli_write_all(out, "\n", 1);
	for (int i = 0; i < NSIGS; i++)
		sigaction(tty_sigs[i], &old[i], NULL);
	tty_in = -1;
	if (opened)
		close(in);
	return rc;
}

static int same_bytes(const uint8_t *a, size_t alen, const uint8_t *b,
    size_t blen)
{
	uint8_t d = alen != blen;

	for (size_t i = 0; i < alen && i < blen; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

static const char *noun(int formats)
{
	if (formats == CLI_KF_BIT(CLI_KF_PASSPHRASE))
		return "passphrase";
	if (formats == CLI_KF_BIT(CLI_KF_HEX))
		return "hex key";
	if (formats == CLI_KF_BIT(CLI_KF_RAW))
		return "raw key";
	return "passphrase or key";
}

int cli_key_read(const char *what, const char *ds, const char *location,
    int formats, int flags, struct cli_key *k)
{
	const char *path = NULL;
	int rawonly = formats == CLI_KF_BIT(CLI_KF_RAW);
	int hasraw = (formats & CLI_KF_BIT(CLI_KF_RAW)) != 0;
	int eof = 0, rc;

	memset(k, 0, sizeof(*k));
	if (strcmp(location, "prompt") != 0) {
		path = file_path(location);
		if (!path || cli_keylocation_check(location) != 0)
			return cli_msg("%s: bad keylocation '%s' (use prompt "
			    "or file:///absolute/path)", what, location);
	}
	k->buf = key_page();
	if (!k->buf)
		return cli_syserr(errno, "%s: cannot allocate key memory",
		    what);

	if (path) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			rc = errno;
			cli_key_free(k);
			return cli_msg("%s: cannot open key file '%s': %s",
			    what, path, strerror(rc));
		}
		rc = read_upto(fd, k->buf, KEY_CAP, &k->len);
		close(fd);
		if (rc < 0) {
			cli_key_free(k);
			return cli_msg("%s: cannot read key file '%s': %s",
			    what, path, strerror(-rc));
		}
		if (k->len == 0) {
			cli_key_free(k);
			return cli_msg("%s: key file '%s' is empty", what,
			    path);
		}
		k->whole = 1;
		return CLI_OK;
	}

	if (!isatty(STDIN_FILENO)) {
		if (rawonly)
			rc = read_upto(STDIN_FILENO, k->buf, 32, &k->len);
		else if (hasraw)
			rc = read_upto(STDIN_FILENO, k->buf, KEY_CAP, &k->len);
		else
			rc = read_line(STDIN_FILENO, k->buf, &k->len, &eof);
		k->whole = hasraw;
		if (rc < 0) {
			cli_key_free(k);
			return cli_msg("%s: cannot read the key from standard "
			    "input: %s", what, strerror(-rc));
		}
		if (k->len == 0) {
			cli_key_free(k);
			return cli_msg("%s: no %s on standard input", what,
			    noun(formats));
		}
		return CLI_OK;
	}

	/* the terminal */
	if (rawonly) {
		cli_key_free(k);
		return cli_msg("%s: a raw key cannot be typed; use "
		    "keylocation=file:///PATH or standard input", what);
	}
	k->tty = 1;
	{
		char prompt[CLI_NAME_MAX + 64];
		const char *nw = (flags & CLI_KEY_CHANGE) ? "new " : "";
		const char *what_key = noun(formats & ~CLI_KF_BIT(CLI_KF_RAW));
		snprintf(prompt, sizeof(prompt), "Enter %s%s for '%s': ", nw,
		    what_key, ds);
		rc = read_tty(prompt, k->buf, &k->len, &eof);
		if (rc == 0 && !eof && (flags & CLI_KEY_NEW)) {
			uint8_t *again = key_page();
			size_t alen = 0;
			int aeof = 0;
			if (!again) {
				rc = -errno;
			} else {
				snprintf(prompt, sizeof(prompt), "Re-enter "
				    "%s%s for '%s': ", nw, what_key, ds);
				rc = read_tty(prompt, again, &alen, &aeof);
				if (rc == 0 && !same_bytes(k->buf, k->len,
				    again, alen)) {
					key_page_free(again);
					cli_key_free(k);
					return cli_msg("%s: %s", what,
					    formats == CLI_KF_BIT(
					    CLI_KF_PASSPHRASE) ?
					    "passphrases do not match" :
					    "keys do not match");
				}
			}
			key_page_free(again);
		}
	}
	if (rc < 0) {
		cli_key_free(k);
		return cli_msg("%s: cannot read the key from the terminal: %s",
		    what, strerror(-rc));
	}
	if (eof) {
		cli_key_free(k);
		return cli_msg("%s: no %s given", what, noun(formats));
	}
	return CLI_OK;
}

/* ---- interpretation ---------------------------------------------------- */

static int is_hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F')))
			return 0;
	}
	return 1;
}

int cli_key_as(const struct cli_key *k, int fmt, coffer_key_t *out,
    const char **why)
{
	size_t len = k->len;

	out->data = k->buf;
	out->len = 0;
	if (fmt == CLI_KF_RAW) {
		if (k->tty) {
			*why = "a raw key cannot be typed";
			return -1;
		}
		if (len != 32) {
			*why = len < 32 ? "a raw key must be exactly 32 bytes "
			    "(too short)" : "a raw key must be exactly 32 "
			    "bytes (too long)";
			return -1;
		}
		out->len = len;
		return 0;
	}
	/* passphrase and hex: one line; a file keeps its newline */
	if (k->whole && len > 0 && k->buf[len - 1] == '\n')
		len--;
	if (memchr(k->buf, '\n', len)) {
		*why = "the key has more than one line";
		return -1;
	}
	if (fmt == CLI_KF_HEX) {
		if (len != 64 || !is_hex(k->buf, len)) {
			*why = "a hex key must be exactly 64 hex digits";
			return -1;
		}
		out->len = len;
		return 0;
	}
	if (fmt != CLI_KF_PASSPHRASE) {
		*why = "unknown keyformat";
		return -1;
	}
	if (len < CLI_PASS_MIN) {
		*why = "passphrase too short (at least 8 bytes)";
		return -1;
	}
	if (len > CLI_PASS_MAX) {
		*why = "passphrase too long (at most 512 bytes)";
		return -1;
	}
	out->len = len;
	return 0;
}
