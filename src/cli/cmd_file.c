/*
 * cmd_file: files inside a filesystem dataset: put, get (copy out), cat,
 * ls, rm, mkdir, mv, ln.
 *
 * Copies behave like cp: into an existing directory the source keeps its
 * name, otherwise it is created under the given name.  With -p (implied by
 * -r) mode, owner (when run as root), times with nanoseconds and user.*
 * extended attributes are kept; -r keeps symbolic links as links, hard
 * links within the copy as hard links, and special files as special
 * files.  Sparse files stay sparse both ways: zero blocks are never
 * written.  A failure on one file is reported and the copy goes on; the
 * command then exits 1.
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1u << 20)        /* bytes per read/write */
#define GRAIN 4096u             /* zero-detection granularity */

/* ---- small helpers ----------------------------------------------------- */

static mode_t current_umask(void)
{
	mode_t m = umask(022);
	umask(m);
	return m;
}

/* "/a/b" -> parent "/a", name "b".  -1 for "/". */
static int split_path(const char *path, char *parent, size_t psz,
    const char **name)
{
	const char *slash = strrchr(path, '/');
	size_t plen;

	if (!slash || slash[1] == '\0')
		return -1;
	plen = slash == path ? 1 : (size_t)(slash - path);
	if (plen >= psz)
		return -1;
	memcpy(parent, path, plen);
	parent[plen] = '\0';
	*name = slash + 1;
	return 0;
}

/* Last component of a local path, ignoring trailing slashes; "" for "/". */
static void local_base(const char *path, char *out, size_t n)
{
	size_t len = strlen(path);
	const char *b;

	while (len > 1 && path[len - 1] == '/')
		len--;
	b = path + len;
	while (b > path && b[-1] != '/')
		b--;
	if (len == 1 && path[0] == '/')
		b = path + 1;
	snprintf(out, n, "%.*s", (int)(path + len - b), b);
}

static int join(char *out, size_t n, const char *dir, const char *name)
{
	int len = snprintf(out, n, "%s%s%s", dir,
	    dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", name);
	return len < 0 || (size_t)len >= n ? -1 : 0;
}

static int all_zero(const unsigned char *p, size_t n)
{
	static const unsigned char zero[GRAIN];

	while (n >= GRAIN) {
		if (memcmp(p, zero, GRAIN) != 0)
			return 0;
		p += GRAIN;
		n -= GRAIN;
	}
	return n == 0 || memcmp(p, zero, n) == 0;
}

static int is_dir(coffer_fs_t *fs, uint64_t ino)
{
	coffer_stat_t st;
	return coffer_getattr(fs, ino, &st) == 0 && S_ISDIR(st.mode);
}

/* A symbolic link's target, NUL-terminated whether or not the library
 * terminates it. */
static int read_link(coffer_fs_t *fs, uint64_t ino, char *buf, size_t n)
{
	int rc = coffer_readlink(fs, ino, buf, n - 1);

	if (rc < 0)
		return rc;
	buf[(size_t)rc < n - 1 ? (size_t)rc : n - 1] = '\0';
	return 0;
}

/* Directory entries (without "." and ".."), collected before use so that
 * nothing is changed while the directory is being read. */
struct dent {
	char *name;
	uint64_t ino;
};
struct dents {
	struct dent *v;
	int n, cap, all, oom;
};

static int dents_cb(const char *name, uint64_t ino, uint32_t type,
    uint64_t next, void *arg)
{
	struct dents *d = arg;

	if (!d->all && (strcmp(name, ".") == 0 || strcmp(name, "..") == 0))
		return 0;
	if (d->n == d->cap) {
		int cap = d->cap ? d->cap * 2 : 64;
		struct dent *nv = realloc(d->v, (size_t)cap * sizeof(*nv));
		if (!nv) {
			d->oom = 1;
			return 1;
		}
		d->v = nv;
		d->cap = cap;
	}
	d->v[d->n].name = strdup(name);
	if (!d->v[d->n].name) {
		d->oom = 1;
		return 1;
	}
	d->v[d->n++].ino = ino;
	return 0;
}

static void dents_free(struct dents *d)
{
	for (int i = 0; i < d->n; i++)
		free(d->v[i].name);
	free(d->v);
	memset(d, 0, sizeof(*d));
}

static int read_dir(coffer_fs_t *fs, uint64_t dir, int all, struct dents *d)
{
	uint64_t cookie = 0;
	int rc;

	memset(d, 0, sizeof(*d));
	d->all = all;
	rc = coffer_readdir(fs, dir, &cookie, dents_cb, d);
	if (rc == 0 && d->oom)
		rc = -ENOMEM;
	if (rc < 0)
		dents_free(d);
	return rc;
}

/* ---- copying in: put --------------------------------------------------- */

struct link_ent {
	dev_t dev;
	ino_t ino;
	uint64_t cino;          /* coffer inode (put) */
	char *path;             /* local path (get) */
};

struct copy_ctx {
	coffer_fs_t *fs;
	const char *ds;
	int recursive, preserve, root;
	mode_t umask;
	struct link_ent *links;
	int nlinks, caplinks;
	int warned_xattr;
	int failed;
};

static int add_link(struct copy_ctx *c, dev_t dev, ino_t ino, uint64_t cino,
    const char *path)
{
	if (c->nlinks == c->caplinks) {
		int cap = c->caplinks ? c->caplinks * 2 : 32;
		struct link_ent *nv = realloc(c->links,
		    (size_t)cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		c->links = nv;
		c->caplinks = cap;
	}
	c->links[c->nlinks].dev = dev;
	c->links[c->nlinks].ino = ino;
	c->links[c->nlinks].cino = cino;
	c->links[c->nlinks].path = path ? strdup(path) : NULL;
	c->nlinks++;
	return 0;
}

static void free_links(struct copy_ctx *c)
{
	for (int i = 0; i < c->nlinks; i++)
		free(c->links[i].path);
	free(c->links);
	c->links = NULL;
	c->nlinks = c->caplinks = 0;
}

/* Write the non-zero parts of buf at off. */
static int write_nonzero(coffer_fs_t *fs, uint64_t ino, uint64_t off,
    const unsigned char *buf, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t g = len - i < GRAIN ? len - i : GRAIN;
		if (all_zero(buf + i, g)) {
			i += g;
			continue;
		}
		size_t start = i;
		while (i < len) {
			g = len - i < GRAIN ? len - i : GRAIN;
			if (all_zero(buf + i, g))
				break;
			i += g;
		}
		size_t done = 0;
		while (done < i - start) {
			int64_t w = coffer_write(fs, ino, off + start + done,
			    buf + start + done, i - start - done);
			if (w < 0)
				return (int)w;
			if (w == 0)
				return -EIO;
			done += (size_t)w;
		}
	}
	return 0;
}

/* Copy the bytes of fd [from, to) (to == UINT64_MAX: until EOF) into ino.
 * *end receives the offset reached. */
static int copy_range_in(coffer_fs_t *fs, uint64_t ino, int fd,
    unsigned char *buf, uint64_t from, uint64_t to, int seekable,
    uint64_t *end)
{
	uint64_t off = from;

	while (off < to) {
		size_t want = CHUNK;
		ssize_t r;
		int rc;

		if (to != UINT64_MAX && to - off < want)
			want = (size_t)(to - off);
		if (seekable)
			r = pread(fd, buf, want, (off_t)off);
		else
			r = cli_read_full(fd, buf, want);
		if (r < 0) {
			if (seekable && errno == EINTR)
				continue;
			return seekable ? -errno : (int)r;
		}
		if (r == 0)
			break;
		rc = write_nonzero(fs, ino, off, buf, (size_t)r);
		if (rc < 0)
			return rc;
		off += (uint64_t)r;
	}
	*end = off;
	return 0;
}

/* Copy a local file into a fresh, empty coffer file.  stream: read fd
 * from where it is to the end, without seeking (standard input). */
static int copy_in(coffer_fs_t *fs, uint64_t ino, int fd, int stream)
{
	unsigned char *buf = malloc(CHUNK);
	struct stat st;
	uint64_t size = 0, pos = 0, end = 0;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	if (!stream && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
		/* jump over holes where the local file system knows them */
		while (pos < size) {
			off_t d = lseek(fd, (off_t)pos, SEEK_DATA);
			off_t h;
			if (d < 0) {
				if (errno == ENXIO)
					break;
				d = (off_t)pos;     /* no SEEK_DATA here */
				h = (off_t)size;
			} else {
				h = lseek(fd, d, SEEK_HOLE);
				if (h < 0)
					h = (off_t)size;
			}
			rc = copy_range_in(fs, ino, fd, buf, (uint64_t)d,
			    (uint64_t)h, 1, &end);
			if (rc < 0)
				goto out;
			if (end < (uint64_t)h)
				break;          /* shrank while copying */
			pos = (uint64_t)h;
		}
	} else {
		rc = copy_range_in(fs, ino, fd, buf, 0, UINT64_MAX, 0, &size);
		if (rc < 0)
			goto out;
	}
	rc = coffer_truncate(fs, ino, size);
out:
	free(buf);
	return rc;
}

static void put_xattrs(struct copy_ctx *c, const char *local, uint64_t ino,
    const char *rpath)
{
	ssize_t n = llistxattr(local, NULL, 0);
	char *list, *val = NULL;
	size_t valcap = 0;

	if (n <= 0)
		return;         /* none, or not supported locally */
	list = malloc((size_t)n);
	if (!list)
		return;
	n = llistxattr(local, list, (size_t)n);
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1) {
		const char *name = list + i;
		ssize_t vn;
		int rc;

		if (strncmp(name, "user.", 5) != 0)
			continue;
		vn = lgetxattr(local, name, NULL, 0);
		if (vn < 0)
			continue;
		if ((size_t)vn > valcap || !val) {
			char *nv = realloc(val, (size_t)vn ? (size_t)vn : 1);
			if (!nv)
				break;
			val = nv;
			valcap = (size_t)vn;
		}
		vn = lgetxattr(local, name, val, valcap);
		if (vn < 0)
			continue;
		rc = coffer_setxattr(c->fs, ino, name, val, (size_t)vn, 0);
		if (rc < 0) {
			cli_err(rc, "cannot set '%s' on '%s:%s'", name, c->ds,
			    rpath);
			c->failed = 1;
		}
	}
	free(val);
	free(list);
}

/* Owner, mode, times and xattrs of a node just written. */
static void put_attrs(struct copy_ctx *c, const char *local,
    const struct stat *st, uint64_t ino, const char *rpath)
{
	coffer_stat_t cs;
	int mask, rc;

	if (!c->preserve)
		return;
	memset(&cs, 0, sizeof(cs));
	mask = COFFER_SET_ATIME | COFFER_SET_MTIME;
	if (!S_ISLNK(st->st_mode)) {
		mask |= COFFER_SET_MODE;
		cs.mode = (uint32_t)(st->st_mode & 07777);
	}
	if (c->root) {
		mask |= COFFER_SET_UID | COFFER_SET_GID;
		cs.uid = (uint32_t)st->st_uid;
		cs.gid = (uint32_t)st->st_gid;
	}
	cs.atime_sec = (int64_t)st->st_atim.tv_sec;
	cs.atime_nsec = (uint32_t)st->st_atim.tv_nsec;
	cs.mtime_sec = (int64_t)st->st_mtim.tv_sec;
	cs.mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
	if (!S_ISLNK(st->st_mode))
		put_xattrs(c, local, ino, rpath);
	rc = coffer_setattr(c->fs, ino, mask, &cs);
	if (rc < 0) {
		cli_err(rc, "cannot set attributes of '%s:%s'", c->ds, rpath);
		c->failed = 1;
	}
}

/* Remove a non-directory that is in the way.  0, or -EISDIR. */
static int clear_name(struct copy_ctx *c, uint64_t dir, const char *name,
    uint64_t ino)
{
	if (is_dir(c->fs, ino))
		return -EISDIR;
	return coffer_unlink(c->fs, dir, name);
}

static void put_node(struct copy_ctx *c, uint64_t dir, const char *name,
    const char *local, const char *rpath, int top);

static void put_dir_contents(struct copy_ctx *c, uint64_t dino,
    const char *local, const char *rpath)
{
	DIR *d = opendir(local);
	struct dirent *de;

	if (!d) {
		cli_syserr(errno, "cannot open '%s'", local);
		c->failed = 1;
		return;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		char lp[CLI_PATH_MAX], rp[CLI_PATH_MAX];
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (join(lp, sizeof(lp), local, de->d_name) < 0 ||
		    join(rp, sizeof(rp), rpath, de->d_name) < 0) {
			cli_syserr(ENAMETOOLONG, "cannot copy '%s/%s'", local,
			    de->d_name);
			c->failed = 1;
			continue;
		}
		put_node(c, dino, de->d_name, lp, rp, 0);
	}
	if (errno) {
		cli_syserr(errno, "cannot read '%s'", local);
		c->failed = 1;
	}
	closedir(d);
}

/*
 * Copy `local` (or standard input for "-") to `name` in directory `dir`.
 * rpath is the remote path, for messages.
 */
static void put_node(struct copy_ctx *c, uint64_t dir, const char *name,
    const char *local, const char *rpath, int top)
{
	struct stat st;
	uint64_t ino = 0;
	uint32_t mode, uid, gid;
	int exists, rc, fd = -1;
	int is_stdin = strcmp(local, "-") == 0 && top;

	if (is_stdin) {
		memset(&st, 0, sizeof(st));
		st.st_mode = S_IFREG | 0666;
		st.st_uid = geteuid();
		st.st_gid = getegid();
		clock_gettime(CLOCK_REALTIME, &st.st_atim);
		st.st_mtim = st.st_atim;
	} else if ((top && !c->recursive ? stat(local, &st) :
	    lstat(local, &st)) != 0) {
		cli_syserr(errno, "cannot stat '%s'", local);
		c->failed = 1;
		return;
	}
	if (S_ISDIR(st.st_mode) && !c->recursive) {
		cli_msg("-r not given; omitting directory '%s'", local);
		c->failed = 1;
		return;
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode) &&
	    !S_ISLNK(st.st_mode) && !c->recursive) {
		cli_msg("-r not given; omitting special file '%s'", local);
		c->failed = 1;
		return;
	}

	/* standard input has no attributes to keep: a new file as the
	 * caller would create it */
	mode = c->preserve && !is_stdin ? (uint32_t)(st.st_mode & 07777) :
	    (uint32_t)(st.st_mode & 0777 & ~c->umask);
	uid = c->root && c->preserve ? (uint32_t)st.st_uid : (uint32_t)geteuid();
	gid = c->root && c->preserve ? (uint32_t)st.st_gid : (uint32_t)getegid();

	rc = coffer_lookup(c->fs, dir, name, &ino);
	exists = rc == 0;
	if (rc < 0 && rc != -ENOENT) {
		cli_err(rc, "cannot look up '%s:%s'", c->ds, rpath);
		c->failed = 1;
		return;
	}

	if (S_ISDIR(st.st_mode)) {
		if (exists && !is_dir(c->fs, ino)) {
			cli_msg("cannot overwrite non-directory '%s:%s' with "
			    "directory '%s'", c->ds, rpath, local);
			c->failed = 1;
			return;
		}
		if (!exists) {
			/* writable by us while we fill it; mode set after */
			rc = coffer_mknod(c->fs, dir, name, S_IFDIR |
			    (mode | 0700), uid, gid, 0, NULL, &ino);
			if (rc < 0) {
				cli_err(rc, "cannot create directory '%s:%s'",
				    c->ds, rpath);
				c->failed = 1;
				return;
			}
		}
		put_dir_contents(c, ino, local, rpath);
		if (c->preserve) {
			put_attrs(c, local, &st, ino, rpath);
		} else if (!exists) {
			coffer_stat_t cs = { .mode = mode };
			rc = coffer_setattr(c->fs, ino, COFFER_SET_MODE, &cs);
			if (rc < 0) {
				cli_err(rc, "cannot set mode of '%s:%s'",
				    c->ds, rpath);
				c->failed = 1;
			}
		}
		return;
	}

	/* a second name of a file already copied: link it */
	if (c->recursive && !S_ISDIR(st.st_mode) && st.st_nlink > 1 &&
	    !is_stdin) {
		for (int i = 0; i < c->nlinks; i++) {
			if (c->links[i].dev != st.st_dev ||
			    c->links[i].ino != st.st_ino)
				continue;
			if (exists && (rc = clear_name(c, dir, name, ino)) < 0)
				goto fail;
			rc = coffer_link(c->fs, c->links[i].cino, dir, name);
			if (rc < 0)
				goto fail;
			return;
		}
	}

	if (S_ISREG(st.st_mode)) {
		if (is_stdin) {
			fd = STDIN_FILENO;
		} else {
			fd = open(local, O_RDONLY | O_NOCTTY);
			if (fd < 0) {
				cli_syserr(errno, "cannot open '%s'", local);
				c->failed = 1;
				return;
			}
		}
		if (exists) {
			coffer_stat_t cur;
			rc = coffer_getattr(c->fs, ino, &cur);
			if (rc == 0 && S_ISDIR(cur.mode)) {
				cli_msg("cannot overwrite directory '%s:%s' "
				    "with non-directory", c->ds, rpath);
				c->failed = 1;
				goto out;
			}
			if (rc == 0 && !S_ISREG(cur.mode)) {
				rc = coffer_unlink(c->fs, dir, name);
				exists = 0;
			} else if (rc == 0) {
				rc = coffer_truncate(c->fs, ino, 0);
			}
			if (rc < 0)
				goto fail;
		}
		int created = 0;
		if (!exists) {
			rc = coffer_mknod(c->fs, dir, name, S_IFREG | mode,
			    uid, gid, 0, NULL, &ino);
			if (rc < 0)
				goto fail;
			created = 1;
		}
		rc = copy_in(c->fs, ino, fd, is_stdin);
		if (rc < 0) {
			cli_err(rc, "cannot copy '%s' to '%s:%s'", local, c->ds,
			    rpath);
			/* leave no half-copied new file behind */
			if (created && coffer_unlink(c->fs, dir, name) < 0)
				cli_msg("cannot remove the partial copy '%s:%s'",
				    c->ds, rpath);
			c->failed = 1;
			goto out;
		}
	} else {
		char target[CLI_PATH_MAX];
		const char *tp = NULL;
		if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlink(local, target, sizeof(target) - 1);
			if (n < 0) {
				cli_syserr(errno, "cannot read link '%s'", local);
				c->failed = 1;
				return;
			}
			target[n] = '\0';
			tp = target;
			mode = 0777;
		}
		if (exists && (rc = clear_name(c, dir, name, ino)) < 0)
			goto fail;
		rc = coffer_mknod(c->fs, dir, name,
		    (uint32_t)(st.st_mode & S_IFMT) | mode, uid, gid,
		    (uint64_t)st.st_rdev, tp, &ino);
		if (rc < 0)
			goto fail;
	}
	if (c->recursive && st.st_nlink > 1 && !is_stdin &&
	    add_link(c, st.st_dev, st.st_ino, ino, NULL) < 0) {
		rc = -ENOMEM;
		goto fail;
	}
	if (!is_stdin)
		put_attrs(c, local, &st, ino, rpath);
	goto out;
fail:
	if (rc == -EISDIR)
		cli_msg("cannot overwrite directory '%s:%s' with "
		    "non-directory", c->ds, rpath);
	else
		cli_err(rc, "cannot create '%s:%s'", c->ds, rpath);
	c->failed = 1;
out:
	if (fd >= 0 && fd != STDIN_FILENO)
		close(fd);
}

int cmd_put(int argc, char **argv)
{
	struct copy_ctx c = { 0 };
	struct cli_spec sp;
	uint64_t dino;
	coffer_stat_t dst;
	int opt, rc, nsrc, nstdin = 0, dst_is_dir = 0;

	cli_optreset();
	while ((opt = cli_getopt(argc, argv, "rp", NULL)) != -1) {
		switch (opt) {
		case 'r': c.recursive = c.preserve = 1; break;
		case 'p': c.preserve = 1; break;
		default: return CLI_USAGE;
		}
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc < 2)
		return cli_usage(argc ? "missing destination DATASET:/PATH" :
		    "missing source and destination");
	nsrc = argc - 1;
	if (cli_parse_spec(argv[nsrc], &sp) != 0)
		return cli_usage("destination '%s' is not DATASET:/PATH",
		    argv[nsrc]);
	for (int i = 0; i < nsrc; i++) {
		if (cli_is_spec(argv[i]))
			return cli_usage("'%s' is not a local file (copy "
			    "between datasets with get, then put)", argv[i]);
		if (strcmp(argv[i], "-") == 0)
			nstdin++;
	}
	if (nstdin > 1)
		return cli_usage("standard input ('-') given more than once");
	if (sp.snap)
		return cli_msg("cannot copy to '%s': snapshots are read-only",
		    argv[nsrc]);

	c.root = geteuid() == 0;
	c.umask = current_umask();
	c.ds = sp.ds;
	if (cli_fs_open(sp.ds, 0, &c.fs) < 0)
		return cli_finish(CLI_FAIL);

	rc = coffer_resolve(c.fs, sp.path, 1, &dino);
	if (rc == 0) {
		rc = coffer_getattr(c.fs, dino, &dst);
		if (rc < 0) {
			cli_err(rc, "cannot stat '%s'", argv[nsrc]);
			return cli_finish(CLI_FAIL);
		}
		dst_is_dir = S_ISDIR(dst.mode);
	} else if (rc != -ENOENT) {
		cli_err(rc, "cannot open '%s'", argv[nsrc]);
		return cli_finish(CLI_FAIL);
	}

	if (dst_is_dir) {
		for (int i = 0; i < nsrc; i++) {
			char base[CLI_PATH_MAX], rp[CLI_PATH_MAX];
			struct stat st;
			if (strcmp(argv[i], "-") == 0) {
				cli_msg("cannot copy standard input into "
				    "directory '%s': name the file",
				    argv[nsrc]);
				c.failed = 1;
				continue;
			}
			local_base(argv[i], base, sizeof(base));
			if (base[0] == '\0' || strcmp(base, ".") == 0 ||
			    strcmp(base, "..") == 0) {
				/* "/" or "dir/.": the contents, merged */
				if (stat(argv[i], &st) != 0) {
					cli_syserr(errno, "cannot stat '%s'",
					    argv[i]);
					c.failed = 1;
				} else if (!S_ISDIR(st.st_mode) ||
				    !c.recursive) {
					cli_msg("-r not given; omitting "
					    "directory '%s'", argv[i]);
					c.failed = 1;
				} else {
					put_dir_contents(&c, dino, argv[i],
					    sp.path);
					put_attrs(&c, argv[i], &st, dino,
					    sp.path);
				}
				continue;
			}
			if (join(rp, sizeof(rp), sp.path, base) < 0) {
				cli_syserr(ENAMETOOLONG, "cannot copy '%s'",
				    argv[i]);
				c.failed = 1;
				continue;
			}
			put_node(&c, dino, base, argv[i], rp, 1);
		}
	} else {
		char parent[CLI_PATH_MAX];
		const char *name;
		uint64_t pino;
		if (nsrc > 1) {
			cli_msg("target '%s' is not a directory", argv[nsrc]);
			free_links(&c);
			return cli_finish(CLI_FAIL);
		}
		if (split_path(sp.path, parent, sizeof(parent), &name) != 0) {
			cli_msg("cannot copy to '%s'", argv[nsrc]);
			return cli_finish(CLI_FAIL);
		}
		rc = coffer_resolve(c.fs, parent, 1, &pino);
		if (rc < 0) {
			cli_err(rc, "cannot copy to '%s'", argv[nsrc]);
			return cli_finish(CLI_FAIL);
		}
		put_node(&c, pino, name, argv[0], sp.path, 1);
	}
	free_links(&c);
	return cli_finish(c.failed ? CLI_FAIL : CLI_OK);
}

/* ---- copying out: get -------------------------------------------------- */

static void get_xattrs(struct copy_ctx *c, uint64_t ino, const char *local,
    const char *rpath)
{
	int64_t n = coffer_listxattr(c->fs, ino, NULL, 0);
	char *list, *val = NULL;
	size_t valcap = 0;

	if (n <= 0)
		return;
	list = malloc((size_t)n);
	if (!list)
		return;
	n = coffer_listxattr(c->fs, ino, list, (size_t)n);
	for (int64_t i = 0; i < n; i += (int64_t)strlen(list + i) + 1) {
		const char *name = list + i;
		int64_t vn;

		if (strncmp(name, "user.", 5) != 0)
			continue;
		vn = coffer_getxattr(c->fs, ino, name, NULL, 0);
		if (vn < 0) {
			cli_err((int)vn, "cannot read '%s' of '%s:%s'", name,
			    c->ds, rpath);
			c->failed = 1;
			continue;
		}
		if ((size_t)vn > valcap || !val) {
			char *nv = realloc(val, (size_t)vn ? (size_t)vn : 1);
			if (!nv)
				break;
			val = nv;
			valcap = (size_t)vn;
		}
		vn = coffer_getxattr(c->fs, ino, name, val, valcap);
		if (vn < 0)
			continue;
		if (lsetxattr(local, name, val, (size_t)vn, 0) != 0) {
			if (errno == ENOTSUP || errno == EPERM) {
				if (!c->warned_xattr)
					cli_warn("cannot keep extended "
					    "attributes in '%s': %s", local,
					    strerror(errno));
				c->warned_xattr = 1;
			} else {
				cli_syserr(errno, "cannot set '%s' on '%s'",
				    name, local);
				c->failed = 1;
			}
		}
	}
	free(val);
	free(list);
}

static void get_attrs(struct copy_ctx *c, const coffer_stat_t *st,
    uint64_t ino, const char *local, const char *rpath, int created)
{
	struct timespec ts[2];

	if (!c->preserve) {
		if (created && !S_ISLNK(st->mode) &&
		    chmod(local, (mode_t)(st->mode & 0777 & ~c->umask)) != 0) {
			cli_syserr(errno, "cannot set mode of '%s'", local);
			c->failed = 1;
		}
		return;
	}
	if (!S_ISLNK(st->mode))
		get_xattrs(c, ino, local, rpath);
	if (c->root && lchown(local, (uid_t)st->uid, (gid_t)st->gid) != 0) {
		cli_syserr(errno, "cannot set owner of '%s'", local);
		c->failed = 1;
	}
	/* after chown, which clears set-id bits */
	if (!S_ISLNK(st->mode) &&
	    chmod(local, (mode_t)(st->mode & 07777)) != 0) {
		cli_syserr(errno, "cannot set mode of '%s'", local);
		c->failed = 1;
	}
	ts[0].tv_sec = (time_t)st->atime_sec;
	ts[0].tv_nsec = (long)st->atime_nsec;
	ts[1].tv_sec = (time_t)st->mtime_sec;
	ts[1].tv_nsec = (long)st->mtime_nsec;
	if (utimensat(AT_FDCWD, local, ts, AT_SYMLINK_NOFOLLOW) != 0) {
		cli_syserr(errno, "cannot set times of '%s'", local);
		c->failed = 1;
	}
}

/* Copy a coffer file's bytes to fd.  sparse: skip zero blocks (fd is a
 * fresh regular file) and set the size at the end. */
static int copy_out(coffer_fs_t *fs, uint64_t ino, uint64_t size, int fd,
    int sparse)
{
	unsigned char *buf = malloc(CHUNK);
	uint64_t off = 0;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	while (off < size) {
		size_t want = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		int64_t r = coffer_read(fs, ino, off, buf, want);
		if (r < 0) {
			rc = (int)r;
			goto out;
		}
		if (r == 0)
			break;
		if (!sparse) {
			rc = cli_write_all(fd, buf, (size_t)r);
			if (rc < 0)
				goto out;
		} else {
			for (size_t i = 0; i < (size_t)r; i += GRAIN) {
				size_t g = (size_t)r - i < GRAIN ?
				    (size_t)r - i : GRAIN;
				size_t done = 0;
				if (all_zero(buf + i, g))
					continue;
				while (done < g) {
					ssize_t w = pwrite(fd, buf + i + done,
					    g - done,
					    (off_t)(off + i + done));
					if (w < 0 && errno == EINTR)
						continue;
					if (w < 0) {
						rc = -errno;
						goto out;
					}
					done += (size_t)w;
				}
			}
		}
		off += (uint64_t)r;
	}
	if (sparse && ftruncate(fd, (off_t)size) != 0)
		rc = -errno;
out:
	free(buf);
	return rc;
}

static void get_node(struct copy_ctx *c, uint64_t ino, const char *local,
    const char *rpath, int top);

static void get_dir_contents(struct copy_ctx *c, uint64_t dino,
    const char *local, const char *rpath)
{
	struct dents d;
	int rc = read_dir(c->fs, dino, 0, &d);

	if (rc < 0) {
		cli_err(rc, "cannot read '%s:%s'", c->ds, rpath);
		c->failed = 1;
		return;
	}
	for (int i = 0; i < d.n; i++) {
		char lp[CLI_PATH_MAX], rp[CLI_PATH_MAX];
		if (join(lp, sizeof(lp), local, d.v[i].name) < 0 ||
		    join(rp, sizeof(rp), rpath, d.v[i].name) < 0) {
			cli_syserr(ENAMETOOLONG, "cannot copy '%s:%s/%s'", c->ds,
			    rpath, d.v[i].name);
			c->failed = 1;
			continue;
		}
		get_node(c, d.v[i].ino, lp, rp, 0);
	}
	dents_free(&d);
}

static void get_node(struct copy_ctx *c, uint64_t ino, const char *local,
    const char *rpath, int top)
{
	coffer_stat_t st;
	struct stat lst;
	int rc, lexists, created = 0;

	rc = coffer_getattr(c->fs, ino, &st);
	if (rc < 0) {
		cli_err(rc, "cannot stat '%s:%s'", c->ds, rpath);
		c->failed = 1;
		return;
	}
	lexists = lstat(local, &lst) == 0;

	if (S_ISDIR(st.mode)) {
		if (!c->recursive) {
			cli_msg("-r not given; omitting directory '%s:%s'",
			    c->ds, rpath);
			c->failed = 1;
			return;
		}
		if (lexists && !S_ISDIR(lst.st_mode)) {
			cli_msg("cannot overwrite non-directory '%s' with "
			    "directory '%s:%s'", local, c->ds, rpath);
			c->failed = 1;
			return;
		}
		if (!lexists) {
			if (mkdir(local, 0700) != 0) {
				cli_syserr(errno, "cannot create directory '%s'",
				    local);
				c->failed = 1;
				return;
			}
			created = 1;
		}
		get_dir_contents(c, ino, local, rpath);
		get_attrs(c, &st, ino, local, rpath, created);
		return;
	}
	if (lexists && S_ISDIR(lst.st_mode)) {
		cli_msg("cannot overwrite directory '%s' with non-directory "
		    "'%s:%s'", local, c->ds, rpath);
		c->failed = 1;
		return;
	}

	/* a second name of a file already copied: link it */
	if (c->recursive && st.nlink > 1) {
		for (int i = 0; i < c->nlinks; i++) {
			if (c->links[i].cino != ino)
				continue;
			if (lexists && unlink(local) != 0) {
				cli_syserr(errno, "cannot replace '%s'", local);
				c->failed = 1;
				return;
			}
			if (link(c->links[i].path, local) != 0) {
				cli_syserr(errno, "cannot link '%s' to '%s'",
				    local, c->links[i].path);
				c->failed = 1;
			}
			return;
		}
	}

	if (S_ISREG(st.mode)) {
		int fd;
		/* inside a tree, replace whatever is there; at the top, write
		 * through like cp does */
		if (lexists && (!top || !S_ISREG(lst.st_mode)) &&
		    unlink(local) != 0) {
			cli_syserr(errno, "cannot replace '%s'", local);
			c->failed = 1;
			return;
		}
		fd = open(local, O_WRONLY | O_CREAT | O_TRUNC | O_NOCTTY,
		    0600);
		if (fd < 0) {
			cli_syserr(errno, "cannot create '%s'", local);
			c->failed = 1;
			return;
		}
		created = !lexists || !top;
		rc = copy_out(c->fs, ino, st.size, fd, 1);
		if (close(fd) != 0 && rc == 0)
			rc = -errno;
		if (rc < 0) {
			cli_err(rc, "cannot copy '%s:%s' to '%s'", c->ds, rpath,
			    local);
			c->failed = 1;
			return;
		}
	} else {
		if (lexists && unlink(local) != 0) {
			cli_syserr(errno, "cannot replace '%s'", local);
			c->failed = 1;
			return;
		}
		if (S_ISLNK(st.mode)) {
			char target[CLI_PATH_MAX];
			rc = read_link(c->fs, ino, target, sizeof(target));
			if (rc < 0) {
				cli_err(rc, "cannot read link '%s:%s'", c->ds,
				    rpath);
				c->failed = 1;
				return;
			}
			if (symlink(target, local) != 0) {
				cli_syserr(errno, "cannot create link '%s'",
				    local);
				c->failed = 1;
				return;
			}
		} else if (!c->recursive) {
			cli_msg("-r not given; omitting special file '%s:%s'",
			    c->ds, rpath);
			c->failed = 1;
			return;
		} else if (mknod(local, (mode_t)((st.mode & S_IFMT) | 0600),
		    (dev_t)st.rdev) != 0) {
			cli_syserr(errno, "cannot create '%s'", local);
			c->failed = 1;
			return;
		}
		created = 1;
	}
	if (c->recursive && st.nlink > 1 &&
	    add_link(c, 0, 0, ino, local) < 0) {
		cli_syserr(ENOMEM, "cannot copy '%s:%s'", c->ds, rpath);
		c->failed = 1;
	}
	get_attrs(c, &st, ino, local, rpath, created);
}

static int get_to_stdout(struct copy_ctx *c, const struct cli_spec *sp,
    const char *arg)
{
	coffer_stat_t st;
	uint64_t ino;
	int rc = coffer_resolve(c->fs, sp->path, 1, &ino);

	if (rc == 0)
		rc = coffer_getattr(c->fs, ino, &st);
	if (rc < 0)
		return cli_err(rc, "cannot open '%s'", arg);
	if (S_ISDIR(st.mode))
		return cli_syserr(EISDIR, "cannot copy '%s' to standard output",
		    arg);
	rc = copy_out(c->fs, ino, st.size, STDOUT_FILENO, 0);
	if (rc < 0)
		return cli_err(rc, "cannot copy '%s' to standard output", arg);
	return CLI_OK;
}

int cmd_file_get(int argc, char **argv)
{
	struct copy_ctx c = { 0 };
	struct stat lst;
	int opt, nsrc, local_dir = 0, local_exists;
	const char *local;

	cli_optreset();
	while ((opt = cli_getopt(argc, argv, "rp", NULL)) != -1) {
		switch (opt) {
		case 'r': c.recursive = c.preserve = 1; break;
		case 'p': c.preserve = 1; break;
		default: return CLI_USAGE;
		}
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc < 2)
		return cli_usage(argc ? "missing local destination" :
		    "missing source and destination");
	nsrc = argc - 1;
	local = argv[nsrc];
	if (cli_is_spec(local))
		return cli_usage("destination '%s' must be a local path (or "
		    "'-')", local);
	for (int i = 0; i < nsrc; i++)
		if (!cli_is_spec(argv[i]))
			return cli_usage("source '%s' is not "
			    "DATASET[@SNAP]:/PATH", argv[i]);
	if (strcmp(local, "-") == 0 && nsrc > 1)
		return cli_usage("only one file can be copied to standard "
		    "output");

	c.root = geteuid() == 0;
	c.umask = current_umask();
	local_exists = stat(local, &lst) == 0;
	local_dir = local_exists && S_ISDIR(lst.st_mode);
	if (nsrc > 1 && !local_dir)
		return cli_msg("target '%s' is not a directory", local);

	for (int i = 0; i < nsrc; i++) {
		struct cli_spec sp;
		coffer_stat_t st;
		uint64_t ino;
		char lp[CLI_PATH_MAX];
		int rc;

		if (cli_parse_spec(argv[i], &sp) != 0) {
			cli_msg("cannot copy '%s': name too long", argv[i]);
			c.failed = 1;
			continue;
		}
		if (cli_fs_open(sp.ds, COFFER_OPEN_RDONLY, &c.fs) < 0) {
			c.failed = 1;
			continue;
		}
		c.ds = sp.ds;
		if (strcmp(local, "-") == 0) {
			if (get_to_stdout(&c, &sp, argv[i]) != CLI_OK)
				c.failed = 1;
			continue;
		}
		rc = coffer_resolve(c.fs, sp.path, !c.recursive, &ino);
		if (rc == 0)
			rc = coffer_getattr(c.fs, ino, &st);
		if (rc < 0) {
			cli_err(rc, "cannot open '%s'", argv[i]);
			c.failed = 1;
			continue;
		}
		if (local_dir) {
			char base[CLI_PATH_MAX];
			local_base(sp.path, base, sizeof(base));
			if (base[0] == '\0') {
				/* the root: its contents, merged */
				if (!c.recursive) {
					cli_msg("-r not given; omitting "
					    "directory '%s'", argv[i]);
					c.failed = 1;
					continue;
				}
				get_dir_contents(&c, ino, local, sp.path);
				get_attrs(&c, &st, ino, local, sp.path, 0);
				continue;
			}
			if (join(lp, sizeof(lp), local, base) < 0) {
				cli_syserr(ENAMETOOLONG, "cannot copy '%s'",
				    argv[i]);
				c.failed = 1;
				continue;
			}
			get_node(&c, ino, lp, sp.path, 1);
		} else {
			get_node(&c, ino, local, sp.path, 1);
		}
	}
	free_links(&c);
	return cli_finish(c.failed ? CLI_FAIL : CLI_OK);
}

/* ---- cat --------------------------------------------------------------- */

int cmd_cat(int argc, char **argv)
{
	int opt, rc = CLI_OK;

	cli_optreset();
	while ((opt = cli_getopt(argc, argv, "", NULL)) != -1)
		return CLI_USAGE;
	argc -= cli_optind;
	argv += cli_optind;
	if (argc < 1)
		return cli_usage("missing DATASET:/PATH");
	for (int i = 0; i < argc; i++)
		if (!cli_is_spec(argv[i]))
			return cli_usage("'%s' is not DATASET[@SNAP]:/PATH",
			    argv[i]);
	for (int i = 0; i < argc; i++) {
		struct copy_ctx c = { 0 };
		struct cli_spec sp;
		if (cli_parse_spec(argv[i], &sp) != 0) {
			rc = cli_msg("cannot open '%s': name too long",
			    argv[i]);
			continue;
		}
		if (cli_fs_open(sp.ds, COFFER_OPEN_RDONLY, &c.fs) < 0) {
			rc = CLI_FAIL;
			continue;
		}
		c.ds = sp.ds;
		if (get_to_stdout(&c, &sp, argv[i]) != CLI_OK)
			rc = CLI_FAIL;
	}
	return cli_finish(rc);
}

/* ---- ls ---------------------------------------------------------------- */

struct ls_opts {
	int lng, numeric, all, dirs, recurse;
	time_t now;
};

struct ls_ent {
	char *name;
	uint64_t ino;
	coffer_stat_t st;
	char *target;           /* symlinks in long format */
};

static void mode_string(uint32_t m, char out[11])
{
	const char *rwx = "rwxrwxrwx";
	char t = '?';

	switch (m & S_IFMT) {
	case S_IFREG: t = '-'; break;
	case S_IFDIR: t = 'd'; break;
	case S_IFLNK: t = 'l'; break;
	case S_IFCHR: t = 'c'; break;
	case S_IFBLK: t = 'b'; break;
	case S_IFIFO: t = 'p'; break;
	case S_IFSOCK: t = 's'; break;
	}
	out[0] = t;
	for (int i = 0; i < 9; i++)
		out[1 + i] = (m & (0400u >> i)) ? rwx[i] : '-';
	if (m & S_ISUID)
		out[3] = (m & S_IXUSR) ? 's' : 'S';
	if (m & S_ISGID)
		out[6] = (m & S_IXGRP) ? 's' : 'S';
	if (m & S_ISVTX)
		out[9] = (m & S_IXOTH) ? 't' : 'T';
	out[10] = '\0';
}

static void owner_name(uint32_t id, int group, int numeric, char *out,
    size_t n)
{
	if (!numeric) {
		if (group) {
			struct group *g = getgrgid((gid_t)id);
			if (g) {
				snprintf(out, n, "%s", g->gr_name);
				return;
			}
		} else {
			struct passwd *p = getpwuid((uid_t)id);
			if (p) {
				snprintf(out, n, "%s", p->pw_name);
				return;
			}
		}
	}
	snprintf(out, n, "%u", id);
}

static void time_string(const coffer_stat_t *st, time_t now, char *out,
    size_t n)
{
	time_t t = (time_t)st->mtime_sec;
	struct tm tm;
	/* like ls: the year instead of the time when older than ~6 months
	 * or in the future */
	const char *fmt = (t > now || now - t > 15778476) ?
	    "%b %e  %Y" : "%b %e %H:%M";

	if (!localtime_r(&t, &tm) || strftime(out, n, fmt, &tm) == 0)
		snprintf(out, n, "%lld", (long long)st->mtime_sec);
}

static int cmp_ent(const void *a, const void *b)
{
	return strcmp(((const struct ls_ent *)a)->name,
	    ((const struct ls_ent *)b)->name);
}

static void print_ents(struct ls_ent *e, int n, const struct ls_opts *o,
    int show_total)
{
	int wl = 1, wu = 1, wg = 1, ws = 1;
	uint64_t total = 0;
	char buf[64];

	if (!o->lng) {
		for (int i = 0; i < n; i++)
			printf("%s\n", e[i].name);
		return;
	}
	for (int i = 0; i < n; i++) {
		int len;
		len = snprintf(buf, sizeof(buf), "%u", e[i].st.nlink);
		if (len > wl)
			wl = len;
		owner_name(e[i].st.uid, 0, o->numeric, buf, sizeof(buf));
		if ((len = (int)strlen(buf)) > wu)
			wu = len;
		owner_name(e[i].st.gid, 1, o->numeric, buf, sizeof(buf));
		if ((len = (int)strlen(buf)) > wg)
			wg = len;
		if (S_ISCHR(e[i].st.mode) || S_ISBLK(e[i].st.mode))
			len = snprintf(buf, sizeof(buf), "%u, %u",
			    major((dev_t)e[i].st.rdev),
			    minor((dev_t)e[i].st.rdev));
		else
			len = snprintf(buf, sizeof(buf), "%llu",
			    (unsigned long long)e[i].st.size);
		if (len > ws)
			ws = len;
		total += (e[i].st.blocks + 1023) / 1024;
	}
	if (show_total)
		printf("total %llu\n", (unsigned long long)total);
	for (int i = 0; i < n; i++) {
		char mode[11], user[64], grp[64], size[64], tm[64];
		mode_string(e[i].st.mode, mode);
		owner_name(e[i].st.uid, 0, o->numeric, user, sizeof(user));
		owner_name(e[i].st.gid, 1, o->numeric, grp, sizeof(grp));
		if (S_ISCHR(e[i].st.mode) || S_ISBLK(e[i].st.mode))
			snprintf(size, sizeof(size), "%u, %u",
			    major((dev_t)e[i].st.rdev),
			    minor((dev_t)e[i].st.rdev));
		else
			snprintf(size, sizeof(size), "%llu",
			    (unsigned long long)e[i].st.size);
		time_string(&e[i].st, o->now, tm, sizeof(tm));
		printf("%s %*u %-*s %-*s %*s %s %s%s%s\n", mode, wl,
		    e[i].st.nlink, wu, user, wg, grp, ws, size, tm, e[i].name,
		    e[i].target ? " -> " : "", e[i].target ? e[i].target : "");
	}
}

static void free_ents(struct ls_ent *e, int n)
{
	for (int i = 0; i < n; i++) {
		free(e[i].name);
		free(e[i].target);
	}
	free(e);
}

static int fill_ent(coffer_fs_t *fs, struct ls_ent *e, int lng)
{
	int rc = coffer_getattr(fs, e->ino, &e->st);

	if (rc < 0)
		return rc;
	if (lng && S_ISLNK(e->st.mode)) {
		char t[CLI_PATH_MAX];
		rc = read_link(fs, e->ino, t, sizeof(t));
		if (rc < 0)
			return rc;
		e->target = strdup(t);
	}
	return 0;
}

/* List directory `ino` (shown as `label`); recurse with -R. */
static int ls_dir(coffer_fs_t *fs, uint64_t ino, const char *label,
    const struct ls_opts *o, int header, int *first)
{
	struct dents d;
	struct ls_ent *e;
	int n = 0, rc, ret = CLI_OK;

	rc = read_dir(fs, ino, o->all, &d);
	if (rc < 0)
		return cli_err(rc, "cannot read '%s'", label);
	e = calloc((size_t)(d.n ? d.n : 1), sizeof(*e));
	if (!e) {
		dents_free(&d);
		return cli_syserr(ENOMEM, "cannot read '%s'", label);
	}
	for (int i = 0; i < d.n; i++) {
		if (!o->all && d.v[i].name[0] == '.')
			continue;
		e[n].name = d.v[i].name;
		d.v[i].name = NULL;
		e[n].ino = d.v[i].ino;
		rc = fill_ent(fs, &e[n], o->lng);
		if (rc < 0) {
			cli_err(rc, "cannot stat '%s/%s'", label, e[n].name);
			free(e[n].name);
			ret = CLI_FAIL;
			continue;
		}
		n++;
	}
	dents_free(&d);
	qsort(e, (size_t)n, sizeof(*e), cmp_ent);
	if (header)
		printf("%s%s:\n", *first ? "" : "\n", label);
	*first = 0;
	print_ents(e, n, o, 1);
	if (o->recurse) {
		for (int i = 0; i < n; i++) {
			char sub[CLI_PATH_MAX];
			if (!S_ISDIR(e[i].st.mode) ||
			    strcmp(e[i].name, ".") == 0 ||
			    strcmp(e[i].name, "..") == 0)
				continue;
			if (join(sub, sizeof(sub), label, e[i].name) < 0) {
				ret = cli_syserr(ENAMETOOLONG, "cannot list "
				    "'%s/%s'", label, e[i].name);
				continue;
			}
			if (ls_dir(fs, e[i].ino, sub, o, 1, first) != CLI_OK)
				ret = CLI_FAIL;
		}
	}
	free_ents(e, n);
	return ret;
}

int cmd_ls(int argc, char **argv)
{
	struct ls_opts o = { 0 };
	struct ls_ent *files;
	int opt, nfiles = 0, rc = CLI_OK, first = 1;
	uint64_t *dirino;
	int *isdir;

	cli_optreset();
	while ((opt = cli_getopt(argc, argv, "lnadR", NULL)) != -1) {
		switch (opt) {
		case 'l': o.lng = 1; break;
		case 'n': o.lng = o.numeric = 1; break;
		case 'a': o.all = 1; break;
		case 'd': o.dirs = 1; break;
		case 'R': o.recurse = 1; break;
		default: return CLI_USAGE;
		}
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc < 1)
		return cli_usage("missing DATASET:/PATH");
	for (int i = 0; i < argc; i++)
		if (!cli_is_spec(argv[i]))
			return cli_usage("'%s' is not DATASET[@SNAP]:/PATH",
			    argv[i]);
	if (o.dirs)
		o.recurse = 0;
	o.now = time(NULL);

	files = calloc((size_t)argc, sizeof(*files));
	dirino = calloc((size_t)argc, sizeof(*dirino));
	isdir = calloc((size_t)argc, sizeof(*isdir));
	if (!files || !dirino || !isdir) {
		free(files);
		free(dirino);
		free(isdir);
		return cli_syserr(ENOMEM, "cannot list");
	}

	/* first the operands that are not directories, then each directory */
	for (int i = 0; i < argc; i++) {
		struct cli_spec sp;
		coffer_fs_t *fs;
		uint64_t ino;
		coffer_stat_t st;
		int r;

		isdir[i] = -1;
		if (cli_parse_spec(argv[i], &sp) != 0) {
			rc = cli_msg("cannot access '%s': name too long",
			    argv[i]);
			continue;
		}
		if (cli_fs_open(sp.ds, COFFER_OPEN_RDONLY, &fs) < 0) {
			rc = CLI_FAIL;
			continue;
		}
		r = coffer_resolve(fs, sp.path, !(o.lng || o.dirs), &ino);
		if (r == 0)
			r = coffer_getattr(fs, ino, &st);
		if (r < 0) {
			rc = cli_err(r, "cannot access '%s'", argv[i]);
			continue;
		}
		if (S_ISDIR(st.mode) && !o.dirs) {
			isdir[i] = 1;
			dirino[i] = ino;
			continue;
		}
		isdir[i] = 0;
		files[nfiles].name = strdup(argv[i]);
		files[nfiles].ino = ino;
		r = files[nfiles].name ? fill_ent(fs, &files[nfiles], o.lng) :
		    -ENOMEM;
		if (r < 0) {
			rc = cli_err(r, "cannot access '%s'", argv[i]);
			free(files[nfiles].name);
			free(files[nfiles].target);
			files[nfiles].name = files[nfiles].target = NULL;
			continue;
		}
		nfiles++;
	}
	if (nfiles) {
		print_ents(files, nfiles, &o, 0);
		first = 0;
	}
	int ndirs = 0;
	for (int i = 0; i < argc; i++)
		ndirs += isdir[i] == 1;
	for (int i = 0; i < argc; i++) {
		struct cli_spec sp;
		coffer_fs_t *fs;
		if (isdir[i] != 1)
			continue;
		cli_parse_spec(argv[i], &sp);
		if (cli_fs_open(sp.ds, COFFER_OPEN_RDONLY, &fs) < 0) {
			rc = CLI_FAIL;
			continue;
		}
		if (ls_dir(fs, dirino[i], argv[i], &o,
		    nfiles > 0 || ndirs > 1 || o.recurse, &first) != CLI_OK)
			rc = CLI_FAIL;
	}
	free_ents(files, nfiles);
	free(dirino);
	free(isdir);
	return cli_finish(rc);
}

/* ---- rm ---------------------------------------------------------------- */

static int rm_tree(coffer_fs_t *fs, uint64_t dino, const char *label)
{
	struct dents d;
	int rc, ret = CLI_OK;

	rc = read_dir(fs, dino, 0, &d);
	if (rc < 0)
		return cli_err(rc, "cannot read '%s'", label);
	for (int i = 0; i < d.n; i++) {
		char sub[CLI_PATH_MAX];
		if (join(sub, sizeof(sub), label, d.v[i].name) < 0) {
			ret = cli_syserr(ENAMETOOLONG, "cannot remove '%s/%s'",
			    label, d.v[i].name);
			continue;
		}
		if (is_dir(fs, d.v[i].ino)) {
			if (rm_tree(fs, d.v[i].ino, sub) != CLI_OK) {
				ret = CLI_FAIL;
				continue;
			}
			rc = coffer_rmdir(fs, dino, d.v[i].name);
		} else {
			rc = coffer_unlink(fs, dino, d.v[i].name);
		}
		if (rc < 0)
			ret = cli_err(rc, "cannot remove '%s'", sub);
	}
	dents_free(&d);
	return ret;
}

int cmd_rm(int argc, char **argv)
{
	int opt, recursive = 0, force = 0, rc = CLI_OK;

	cli_optreset();
	while ((opt = cli_getopt(argc, argv, "rRf", NULL)) != -1) {
		switch (opt) {
		case 'r':
		case 'R': recursive = 1; break;
		case 'f': force = 1; break;
		default: return CLI_USAGE;
		}
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc < 1)
		return cli_usage("missing DATASET:/PATH");
	for (int i = 0; i < argc; i++)
		if (!cli_is_spec(argv[i]))
			return cli_usage("'%s' is not DATASET:/PATH", argv[i]);

	for (int i = 0; i < argc; i++) {
		struct cli_spec sp;
		char parent[CLI_PATH_MAX];
		const char *name;
		coffer_fs_t *fs;
		uint64_t pino, ino;
		int r;

		if (cli_parse_spec(argv[i], &sp) != 0) {
			rc = cli_msg("cannot remove '%s': name too long",
			    argv[i]);
			continue;
		}
		if (sp.snap) {
			rc = cli_msg("cannot remove '%s': snapshots are "
			    "read-only", argv[i]);
			continue;
		}
		if (split_path(sp.path, parent, sizeof(parent), &name) != 0 ||
		    strcmp(name, "..") == 0) {
			rc = cli_msg("cannot remove '%s': refusing to remove "
			    "'/' or '..'", argv[i]);
			continue;
		}
		if (cli_fs_open(sp.ds, 0, &fs) < 0) {
			rc = CLI_FAIL;
			continue;
		}
		r = coffer_resolve(fs, parent, 1, &pino);
		if (r == 0)
			r = coffer_lookup(fs, pino, name, &ino);
		if (r == -ENOENT && force)
			continue;
		if (r < 0) {
			rc = cli_err(r, "cannot remove '%s'", argv[i]);
			continue;
		}
		if (is_dir(fs, ino)) {
			if (!recursive) {
				rc = cli_syserr(EISDIR, "cannot remove '%s'",
				    argv[i]);
				continue;
			}
			if (rm_tree(fs, ino, argv[i]) != CLI_OK) {
				rc = CLI_FAIL;
				continue;
			}
			r = coffer_rmdir(fs, pino, name);
		} else {
			r = coffer_unlink(fs, pino, name);
		}
		if (r < 0)
			rc = cli_err(r, "cannot remove '%s'", argv[i]);
	}
	return cli_finish(rc);
}

/* ---- mkdir ------------------------------------------------------------- */

int cmd_mkdir(int argc, char **argv)
{
	int opt, parents = 0, rc = CLI_OK;
	uint32_t mode = 0;
	int mode_given = 0;
	mode_t um = current_umask();

	cli_optreset();
	while ((opt = cli_getopt(argc, argv, "pm:", NULL)) != -1) {
		switch (opt) {
		case 'p': parents = 1; break;
		case 'm':
			if (cli_parse_mode(cli_optarg, &mode) != 0)
				return cli_usage("bad mode '%s' (use octal, "
				    "e.g. 755)", cli_optarg);
			mode_given = 1;
			break;
		default: return CLI_USAGE;
		}
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc < 1)
		return cli_usage("missing DATASET:/PATH");
	for (int i = 0; i < argc; i++)
		if (!cli_is_spec(argv[i]))
			return cli_usage("'%s' is not DATASET:/PATH", argv[i]);
	if (!mode_given)
		mode = 0777 & ~(uint32_t)um;

	for (int i = 0; i < argc; i++) {
		struct cli_spec sp;
		coffer_fs_t *fs;
		uint64_t dir, ino;
		int r = 0;

		if (cli_parse_spec(argv[i], &sp) != 0) {
			rc = cli_msg("cannot create directory '%s': name too "
			    "long", argv[i]);
			continue;
		}
		if (sp.snap) {
			rc = cli_msg("cannot create directory '%s': snapshots "
			    "are read-only", argv[i]);
			continue;
		}
		if (cli_fs_open(sp.ds, 0, &fs) < 0) {
			rc = CLI_FAIL;
			continue;
		}
		if (strcmp(sp.path, "/") == 0) {
			if (!parents)
				rc = cli_syserr(EEXIST, "cannot create directory "
				    "'%s'", argv[i]);
			continue;
		}
		if (!parents) {
			char parent[CLI_PATH_MAX];
			const char *name;
			split_path(sp.path, parent, sizeof(parent), &name);
			r = coffer_resolve(fs, parent, 1, &dir);
			if (r == 0)
				r = coffer_mknod(fs, dir, name, S_IFDIR | mode,
				    (uint32_t)geteuid(), (uint32_t)getegid(), 0,
				    NULL, &ino);
			if (r < 0)
				rc = cli_err(r, "cannot create directory '%s'",
				    argv[i]);
			continue;
		}
		/* -p: each component, creating what is missing; parents
		 * get u+wx so that the rest can be created, as mkdir -p */
		dir = coffer_fs_root(fs);
		char *p = sp.path + 1;
		while (*p) {
			char comp[CLI_PATH_MAX];
			size_t len = strcspn(p, "/");
			int last = p[len] == '\0';
			memcpy(comp, p, len);
			comp[len] = '\0';
			r = coffer_lookup(fs, dir, comp, &ino);
			if (r == 0) {
				coffer_stat_t st;
				r = coffer_getattr(fs, ino, &st);
				if (r == 0 && S_ISLNK(st.mode)) {
					char sub[CLI_PATH_MAX];
					snprintf(sub, sizeof(sub), "%.*s",
					    (int)(p + len - sp.path), sp.path);
					r = coffer_resolve(fs, sub, 1, &ino);
					if (r == 0)
						r = coffer_getattr(fs, ino,
						    &st);
				}
				if (r == 0 && !S_ISDIR(st.mode))
					r = -ENOTDIR;
			} else if (r == -ENOENT) {
				uint32_t m = last ? mode :
				    ((0777 & ~(uint32_t)um) | 0300);
				r = coffer_mknod(fs, dir, comp, S_IFDIR | m,
				    (uint32_t)geteuid(), (uint32_t)getegid(),
				    0, NULL, &ino);
			}
			if (r < 0)
				break;
			dir = ino;
			p += len;
			while (*p == '/')
				p++;
		}
		if (r < 0)
			rc = cli_err(r, "cannot create directory '%s'",
			    argv[i]);
	}
	return cli_finish(rc);
}

/* ---- mv ---------------------------------------------------------------- */

int cmd_mv(int argc, char **argv)
{
	struct cli_spec s, d;
	char sparent[CLI_PATH_MAX], dparent[CLI_PATH_MAX];
	const char *sname, *dname;
	coffer_fs_t *fs;
	uint64_t sdir, ddir, ino;
	int opt, r;

	cli_optreset();
	while ((opt = cli_getopt(argc, argv, "", NULL)) != -1)
		return CLI_USAGE;
	argc -= cli_optind;
	argv += cli_optind;
	if (argc != 2)
		return cli_usage(argc < 2 ? "missing source or destination" :
		    "too many arguments");
	if (cli_parse_spec(argv[0], &s) != 0)
		return cli_usage("'%s' is not DATASET:/PATH", argv[0]);
	if (cli_parse_spec(argv[1], &d) != 0)
		return cli_usage("'%s' is not DATASET:/PATH", argv[1]);
	if (strcmp(s.ds, d.ds) != 0)
		return cli_usage("cannot move '%s' to '%s': not in the same "
		    "dataset", argv[0], argv[1]);
	if (s.snap)
		return cli_msg("cannot move '%s': snapshots are read-only",
		    argv[0]);
	if (split_path(s.path, sparent, sizeof(sparent), &sname) != 0)
		return cli_msg("cannot move '%s': it is the root directory",
		    argv[0]);
	if (cli_fs_open(s.ds, 0, &fs) < 0)
		return cli_finish(CLI_FAIL);

	r = coffer_resolve(fs, sparent, 1, &sdir);
	if (r == 0)
		r = coffer_lookup(fs, sdir, sname, &ino);
	if (r < 0) {
		cli_err(r, "cannot move '%s'", argv[0]);
		return cli_finish(CLI_FAIL);
	}
	/* into an existing directory, the name is kept */
	r = coffer_resolve(fs, d.path, 1, &ddir);
	if (r == 0 && is_dir(fs, ddir)) {
		dname = sname;
	} else if (r == 0 || r == -ENOENT) {
		if (split_path(d.path, dparent, sizeof(dparent), &dname) != 0) {
			cli_msg("cannot move '%s' to '%s'", argv[0], argv[1]);
			return cli_finish(CLI_FAIL);
		}
		r = coffer_resolve(fs, dparent, 1, &ddir);
	}
	if (r == 0)
		r = coffer_rename(fs, sdir, sname, ddir, dname, 0);
	if (r < 0) {
		cli_err(r, "cannot move '%s' to '%s'", argv[0], argv[1]);
		return cli_finish(CLI_FAIL);
	}
	return cli_finish(CLI_OK);
}

/* ---- ln ---------------------------------------------------------------- */

int cmd_ln(int argc, char **argv)
{
	struct cli_spec l, t;
	char parent[CLI_PATH_MAX], tbase[CLI_PATH_MAX];
	const char *name;
	coffer_fs_t *fs;
	uint64_t dir, ino, tino = 0;
	int opt, symbolic = 0, r;

	cli_optreset();
	while ((opt = cli_getopt(argc, argv, "s", NULL)) != -1) {
		if (opt != 's')
			return CLI_USAGE;
		symbolic = 1;
	}
	argc -= cli_optind;
	argv += cli_optind;
	if (argc != 2)
		return cli_usage(argc < 2 ? "missing target or link name" :
		    "too many arguments");
	if (cli_parse_spec(argv[1], &l) != 0)
		return cli_usage("link name '%s' is not DATASET:/PATH",
		    argv[1]);
	if (argv[0][0] == '\0')
		return cli_usage("empty target");
	if (!symbolic) {
		/* the target is DATASET:/PATH or a path in the same dataset */
		if (cli_is_spec(argv[0])) {
			if (cli_parse_spec(argv[0], &t) != 0)
				return cli_usage("bad target '%s'", argv[0]);
			if (strcmp(t.ds, l.ds) != 0)
				return cli_usage("cannot link '%s' to '%s': "
				    "not in the same dataset", argv[1],
				    argv[0]);
		} else if (argv[0][0] == '/') {
			char tmp[CLI_PATH_MAX + CLI_NAME_MAX + 2];
			snprintf(tmp, sizeof(tmp), "%s:%s", l.ds, argv[0]);
			if (cli_parse_spec(tmp, &t) != 0)
				return cli_usage("bad target '%s'", argv[0]);
		} else {
			return cli_usage("hard link target '%s' must be "
			    "DATASET:/PATH (or use -s)", argv[0]);
		}
		local_base(t.path, tbase, sizeof(tbase));
	} else {
		local_base(argv[0], tbase, sizeof(tbase));
	}
	if (l.snap)
		return cli_msg("cannot create link '%s': snapshots are "
		    "read-only", argv[1]);
	if (cli_fs_open(l.ds, 0, &fs) < 0)
		return cli_finish(CLI_FAIL);

	if (!symbolic) {
		r = coffer_resolve(fs, t.path, 0, &tino);
		if (r < 0) {
			cli_err(r, "cannot link to '%s'", argv[0]);
			return cli_finish(CLI_FAIL);
		}
		if (is_dir(fs, tino)) {
			cli_msg("cannot link to '%s': hard links to "
			    "directories are not allowed", argv[0]);
			return cli_finish(CLI_FAIL);
		}
	}
	/* into an existing directory, the target's name is used */
	r = coffer_resolve(fs, l.path, 1, &dir);
	if (r == 0 && is_dir(fs, dir) && tbase[0]) {
		name = tbase;
	} else {
		if (split_path(l.path, parent, sizeof(parent), &name) != 0) {
			cli_syserr(EEXIST, "cannot create link '%s'", argv[1]);
			return cli_finish(CLI_FAIL);
		}
		r = coffer_resolve(fs, parent, 1, &dir);
		if (r < 0) {
			cli_err(r, "cannot create link '%s'", argv[1]);
			return cli_finish(CLI_FAIL);
		}
	}
	if (symbolic)
		r = coffer_mknod(fs, dir, name, S_IFLNK | 0777,
		    (uint32_t)geteuid(), (uint32_t)getegid(), 0, argv[0], &ino);
	else
		r = coffer_link(fs, tino, dir, name);
	if (r < 0) {
		cli_err(r, "cannot create link '%s'", argv[1]);
		return cli_finish(CLI_FAIL);
	}
	return cli_finish(CLI_OK);
}
