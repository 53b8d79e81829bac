/*
 * The pool registry and the pool lock.
 *
 * The registry is a text file, $COFFER_HOME/pools, one pool per line:
 *   name TAB guid TAB device TAB device ...
 * It is rewritten whole (temporary file, fsync, rename) under an flock on
 * $COFFER_HOME/pools.lock, so readers never see a torn file and two
 * writers never lose each other's update.
 */
#include "spa/spa_impl.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

const char *coffer_home(void)
{
	static char buf[4096];
	const char *h = getenv("COFFER_HOME");
	if (h && h[0])
		return h;
	if (geteuid() == 0)
		return "/var/lib/coffer";
	h = getenv("HOME");
	snprintf(buf, sizeof(buf), "%s/.coffer", h ? h : "/tmp");
	return buf;
}

static int reg_path(char *buf, size_t n, const char *leaf)
{
	const char *home = coffer_home();
	if (mkdir(home, 0700) != 0 && errno != EEXIST)
		return -errno;
	return cf_snprintf(buf, n, "%s/%s", home, leaf);
}

static int reg_lock(int op)
{
	char p[4200];
	int err = reg_path(p, sizeof(p), "pools.lock");
	if (err)
		return err;
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (flock(fd, op) != 0) {
		if (errno != EINTR) {
			err = -errno;
			close(fd);
			return err;
		}
	}
	return fd;
}

void cf_reg_entry_free(cf_reg_entry_t *e)
{
	for (int i = 0; i < e->ndev; i++) {
		free(e->devs[i]);
		e->devs[i] = NULL;
	}
	e->ndev = 0;
}

/* Parse one line into e; returns 0, or -EINVAL for a malformed line. */
static int parse_line(char *line, cf_reg_entry_t *e)
{
	memset(e, 0, sizeof(*e));
	char *save = NULL;
	char *tok = strtok_r(line, "\t\n", &save);
	if (!tok || strlen(tok) > CF_POOL_NAME_MAX)
		return -EINVAL;
	cf_strlcpy(e->name, tok, sizeof(e->name));
	tok = strtok_r(NULL, "\t\n", &save);
	if (!tok)
		return -EINVAL;
	e->guid = strtoull(tok, NULL, 10);
	while ((tok = strtok_r(NULL, "\t\n", &save)) && e->ndev < CF_MAX_VDEVS)
		e->devs[e->ndev++] = strdup(tok);
	return e->ndev ? 0 : -EINVAL;
}

static int reg_read(int (*cb)(const cf_reg_entry_t *e, void *arg), void *arg)
{
	char p[4200], line[65536];
	int err = reg_path(p, sizeof(p), "pools");
	if (err)
		return err;
	FILE *f = fopen(p, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	err = 0;
	while (fgets(line, sizeof(line), f)) {
		cf_reg_entry_t e;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (parse_line(line, &e) != 0) {
			cf_reg_entry_free(&e);
			continue;
		}
		err = cb(&e, arg);
		cf_reg_entry_free(&e);
		if (err)
			break;
	}
	fclose(f);
	return err > 0 ? 0 : err;
}

struct lookup_arg {
	const char *name;
	cf_reg_entry_t *out;
	int found;
};

static int lookup_cb(const cf_reg_entry_t *e, void *arg)
{
	struct lookup_arg *a = arg;
	if (strcmp(e->name, a->name) != 0)
		return 0;
	*a->out = *e;
	for (int i = 0; i < e->ndev; i++)
		a->out->devs[i] = strdup(e->devs[i]);
	a->found = 1;
	return 1;
}

int cf_reg_lookup(const char *name, cf_reg_entry_t *e)
{
	struct lookup_arg a = { name, e, 0 };
	int fd = reg_lock(LOCK_SH);
	if (fd < 0)
		return fd;
	int err = reg_read(lookup_cb, &a);
	close(fd);
	if (err)
		return err;
	return a.found ? 0 : COFFER_ENOPOOL;
}

int cf_reg_list(int (*cb)(const cf_reg_entry_t *e, void *arg), void *arg)
{
	int fd = reg_lock(LOCK_SH);
	if (fd < 0)
		return fd;
	int err = reg_read(cb, arg);
	close(fd);
	return err;
}

struct rewrite_arg {
	FILE *f;
	const char *skip;
	int skipped;
};

static int write_entry(FILE *f, const cf_reg_entry_t *e)
{
	fprintf(f, "%s\t%llu", e->name, (unsigned long long)e->guid);
	for (int i = 0; i < e->ndev; i++)
		fprintf(f, "\t%s", e->devs[i]);
	fputc('\n', f);
	return 0;
}

static int rewrite_cb(const cf_reg_entry_t *e, void *arg)
{
	struct rewrite_arg *a = arg;
	if (a->skip && strcmp(e->name, a->skip) == 0) {
		a->skipped = 1;
		return 0;
	}
	return write_entry(a->f, e);
}

/* Rewrite the registry without `skip`, plus `add` if given. */
static int reg_rewrite(const char *skip, const cf_reg_entry_t *add,
    int *skipped)
{
	char p[4200], tmp[4300];
	int err = reg_path(p, sizeof(p), "pools");
	if (err)
		return err;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", p, (int)getpid());
	int fd = reg_lock(LOCK_EX);
	if (fd < 0)
		return fd;
	FILE *f = fopen(tmp, "we");
	if (!f) {
		err = -errno;
		close(fd);
		return err;
	}
	struct rewrite_arg a = { f, skip, 0 };
	err = reg_read(rewrite_cb, &a);
	if (!err && add)
		write_entry(f, add);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		err = err ? err : -errno;
	if (fclose(f) != 0 && !err)
		err = -errno;
	if (!err && rename(tmp, p) != 0)
		err = -errno;
	if (err)
		unlink(tmp);
	close(fd);
	if (skipped)
		*skipped = a.skipped;
	return err;
}

int cf_reg_add(const cf_reg_entry_t *e)
{
	cf_reg_entry_t old;
	if (cf_reg_lookup(e->name, &old) == 0) {
		cf_reg_entry_free(&old);
		return COFFER_EEXIST;
	}
	return reg_rewrite(NULL, e, NULL);
}

int cf_reg_remove(const char *name)
{
	int skipped = 0;
	int err = reg_rewrite(name, NULL, &skipped);
	if (err)
		return err;
	return skipped ? 0 : COFFER_ENOPOOL;
}

/* ---- the pool lock ---------------------------------------------------------- */

static void holder_name(pid_t pid, char *buf, size_t n)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/cmdline", (int)pid);
	buf[0] = 0;
	FILE *f = fopen(p, "re");
	if (!f)
		return;
	size_t len = fread(buf, 1, n - 1, f);
	fclose(f);
	buf[len] = 0;
	for (size_t i = 0; i + 1 < len; i++)
		if (buf[i] == 0)
			buf[i] = ' ';
}

int cf_spa_lock(cf_spa_t *spa, const char *dev0)
{
	int ro = (spa->flags & CF_SPA_RDONLY) != 0;
	int fd = open(dev0, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct flock fl = { 0 };
	fl.l_type = ro ? F_RDLCK : F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 1;
	if (fcntl(fd, F_SETLK, &fl) != 0) {
		struct flock q = fl;
		char cmd[256];
		if (fcntl(fd, F_GETLK, &q) == 0 && q.l_type != F_UNLCK) {
			holder_name(q.l_pid, cmd, sizeof(cmd));
			/* "coffer put ..." rather than "/usr/local/bin/..." */
			char *sp = strchr(cmd, ' ');
			char *base = cmd;
			for (char *c = cmd; *c && (!sp || c < sp); c++)
				if (*c == '/')
					base = c + 1;
			cf_set_errdetail("by process %d%s%s", (int)q.l_pid,
			    base[0] ? ": " : "", base);
		} else {
			cf_set_errdetail("by another process");
		}
		close(fd);
		return COFFER_EBUSY;
	}
	spa->lockfd = fd;
	return 0;
}
