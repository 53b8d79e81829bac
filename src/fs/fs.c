/*
 * fs.c - POSIX semantics over dmu objects.
 *
 * Objects of a filesystem (one object set)
 *   object 1   master node, a zap (CF_OT_MASTER) with u64 values:
 *                "VERSION"       1
 *                "ROOT"          object id of the root directory
 *                "DELETE_QUEUE"  object id of a zap (CF_OT_ZAP) of nodes
 *                                whose last link is gone but which must
 *                                outlive it (open files, once tracked);
 *                                key: object id in lower-case hex,
 *                                value: u64 object id.  Mount frees them.
 *   nodes      one object per file (CF_OT_FILE), directory (CF_OT_DIR, a
 *              zap), symlink (CF_OT_SYMLINK) or fifo / socket / device
 *              (CF_OT_OTHER).  The inode number is the object id.
 *   xattrs     per node, an optional zap (CF_OT_XATTR_DIR); values over
 *              what fits in a zap entry go into their own object
 *              (CF_OT_XATTR_VALUE).
 *
 * Node attributes: the bonus buffer, little-endian, version 1
 *      0  u8   version         1
 *      1  u8   reserved        0
 *      2  u16  inline length L bytes of symlink target stored at 112
 *      4  u32  mode            S_IFMT type bits | 07777 permission bits
 *      8  u32  uid
 *     12  u32  gid
 *     16  u32  nlink           links; directories: 2 + subdirectories
 *     20  u32  flags           none defined yet: 0
 *     24  u64  size            bytes; directories: entries + 2;
 *                              symlinks: target length
 *     32  i64  atime sec       40  u32 atime nsec
 *     44  i64  mtime sec       52  u32 mtime nsec
 *     56  i64  ctime sec       64  u32 ctime nsec
 *     68  i64  crtime sec      76  u32 crtime nsec  (birth time)
 *     80  u64  gen             txg that created the node
 *     88  u64  parent          directories: the parent (root: itself);
 *                              others: directory of the last create or
 *                              rename (a hint for error messages)
 *     96  u64  rdev            character and block devices, else 0
 *    104  u64  xattr           xattr zap object, 0 if none
 *    112  L bytes              symlink target when L > 0
 *   Bonus length = 112 + L.  A symlink target of at most 144 bytes is
 *   stored inline (L = size); a longer one (up to 4095 bytes) is the data
 *   of the symlink object (L = 0).
 *
 * Directory entry: a zap entry name -> 9 bytes
 *      0  u64  object id of the node
 *      8  u8   type: DT_* value = (mode & S_IFMT) >> 12
 *
 * Xattr entry: a zap entry name -> value
 *      0  u8   kind: 0 = inline, 1 = object
 *   inline: 1.. the value itself (at most CF_ZAP_MAXVAL - 1 bytes)
 *   object: 1  u64 object id (CF_OT_XATTR_VALUE), 9  u64 value length
 *
 * Invariants
 *  1. Every change runs in one tx, so it is atomic.  Everything that can
 *     refuse (names, types, existence, emptiness, link counts, loops) is
 *     checked before the first write: the dmu has no abort.
 *  2. A node's bonus is written only by a thread that holds the namespace
 *     lock for writing, or holds it for reading and also the node's file
 *     lock (write, truncate, setattr).  So no bonus update is lost.
 *  3. File bytes at offsets >= size are zero (truncate frees them), so
 *     extending a file never exposes old data.
 *  4. A file whose block size is below the recordsize has at most one
 *     block: its block grows in 512-byte steps up to the recordsize, then
 *     the file is made of recordsize blocks.
 *  5. Directory nlink = 2 + subdirectories; size = entries + 2.  Entry
 *     types match node modes.
 *
 * Locking: fs->ns (rwlock, writer-preferring) is taken for reading by
 * lookups, getattr, readdir, read and write, and for writing by every
 * namespace change and xattr change.  Data writes to different files run
 * in parallel; per-file mutexes (striped) serialize size updates.  The
 * zap has its own short internal locks below these.  Locks are never held
 * while a caller's callback runs.
 */
#include "fs/fs.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/stat.h>

/* ---- layout ------------------------------------------------------------ */

#define B_VERSION   0
#define B_INLLEN    2
#define B_MODE      4
#define B_UID       8
#define B_GID       12
#define B_NLINK     16
#define B_FLAGS     20
#define B_SIZE      24
#define B_ATIME     32
#define B_MTIME     44
#define B_CTIME     56
#define B_CRTIME    68
#define B_GEN       80
#define B_PARENT    88
#define B_RDEV      96
#define B_XATTR     104
#define B_FIXED     112
#define B_INLINE_MAX (CF_BONUS_MAX - B_FIXED)   /* 144 */
#define BONUS_VERSION 1

#define DE_LEN      9
#define XV_INLINE   0
#define XV_OBJECT   1
#define XV_OBJ_LEN  17
#define XV_INLINE_MAX (CF_ZAP_MAXVAL - 1)

#define NSEC_PER_SEC 1000000000u

/* tx space estimates: a namespace change touches a few zap blocks (a
 * split writes two leaves and table slots) and a few dnodes. */
#define TX_NS_SPACE  (16 * (uint64_t)CF_ZAP_BLKSZ)
#define TX_META      (64 * 1024)

#define FS_NFLOCKS   64

struct cf_fs {
	cf_objset_t *os;
	uint64_t master, root, dq;
	int ro;
	pthread_rwlock_t ns;
	pthread_mutex_t flock[FS_NFLOCKS];
};

struct fstime {
	int64_t sec;
	uint32_t nsec;
};

/* A node's attributes, decoded. */
struct node {
	uint64_t obj;
	uint8_t otype;
	uint32_t blksz;
	uint64_t maxblkid, used;
	uint32_t mode, uid, gid, nlink, flags;
	uint64_t size, gen, parent, rdev, xattr;
	struct fstime atime, mtime, ctime, crtime;
	uint16_t inl_len;
	uint8_t inl[B_INLINE_MAX];
};

/* ---- small helpers ----------------------------------------------------- */

static struct fstime now(void)
{
	struct timespec ts;
	struct fstime t;
	clock_gettime(CLOCK_REALTIME, &ts);
	t.sec = ts.tv_sec;
	t.nsec = (uint32_t)ts.tv_nsec;
	return t;
}

static void ns_rd(cf_fs_t *fs)
{
	pthread_rwlock_rdlock(&fs->ns);
}
static void ns_wr(cf_fs_t *fs)
{
	pthread_rwlock_wrlock(&fs->ns);
}
static void ns_un(cf_fs_t *fs)
{
	pthread_rwlock_unlock(&fs->ns);
}
static pthread_mutex_t *flock_of(cf_fs_t *fs, uint64_t obj)
{
	return &fs->flock[(obj * 0x9e3779b97f4a7c15ULL) >> 58];
}

/* Free an object on an error path, where the first error is the one to
 * report. */
static void obj_free_quiet(cf_objset_t *os, cf_tx_t *tx, uint64_t obj)
{
	int rc = cf_obj_free(os, tx, obj);
	(void)rc;
}

static int name_check(const char *name)
{
	size_t n;
	if (!name)
		return -EINVAL;
	n = strnlen(name, CF_ZAP_MAXKEY + 1);
	if (n == 0)
		return -EINVAL;
	if (n > CF_ZAP_MAXKEY)
		return -ENAMETOOLONG;
	if (memchr(name, '/', n))
		return -EINVAL;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	return 0;
}

static int otype_of_mode(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return CF_OT_FILE;
	case S_IFDIR:
		return CF_OT_DIR;
	case S_IFLNK:
		return CF_OT_SYMLINK;
	case S_IFIFO:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFSOCK:
		return CF_OT_OTHER;
	default:
		return -1;
	}
}

static int is_node_otype(int t)
{
	return t == CF_OT_FILE || t == CF_OT_DIR || t == CF_OT_SYMLINK ||
	    t == CF_OT_OTHER;
}

/* ---- node attributes (bonus) ------------------------------------------- */

static void time_put(uint8_t *b, int off, struct fstime t)
{
	le64_put(b + off, (uint64_t)t.sec);
	le32_put(b + off + 8, t.nsec);
}

static struct fstime time_get(const uint8_t *b, int off)
{
	struct fstime t;
	t.sec = (int64_t)le64_get(b + off);
	t.nsec = le32_get(b + off + 8);
	return t;
}

/*
 * Load node obj.  -ENOENT when obj is not a node of this filesystem;
 * COFFER_ECORRUPT when its attributes fail a check.
 */
static int node_load(cf_objset_t *os, uint64_t obj, struct node *n)
{
	cf_objinfo_t info;
	uint8_t b[CF_BONUS_MAX];
	int rc, len;

	if (obj == 0)
		return -ENOENT;
	rc = cf_obj_info(os, obj, &info);
	if (rc)
		return rc;
	if (!is_node_otype(info.type))
		return -ENOENT;
	len = cf_bonus_read(os, obj, b, sizeof(b));
	if (len < 0)
		return len;
	if (len < B_FIXED || len > CF_BONUS_MAX)
		return CF_CORRUPT();
	if (b[B_VERSION] == 0)
		return CF_CORRUPT();
	if (b[B_VERSION] != BONUS_VERSION)
		return COFFER_ENOTSUP;
	memset(n, 0, sizeof(*n));
	n->obj = obj;
	n->otype = info.type;
	n->blksz = info.blksz;
	n->maxblkid = info.maxblkid;
	n->used = info.used;
	n->inl_len = le16_get(b + B_INLLEN);
	n->mode = le32_get(b + B_MODE);
	n->uid = le32_get(b + B_UID);
	n->gid = le32_get(b + B_GID);
	n->nlink = le32_get(b + B_NLINK);
	n->flags = le32_get(b + B_FLAGS);
	n->size = le64_get(b + B_SIZE);
	n->atime = time_get(b, B_ATIME);
	n->mtime = time_get(b, B_MTIME);
	n->ctime = time_get(b, B_CTIME);
	n->crtime = time_get(b, B_CRTIME);
	n->gen = le64_get(b + B_GEN);
	n->parent = le64_get(b + B_PARENT);
	n->rdev = le64_get(b + B_RDEV);
	n->xattr = le64_get(b + B_XATTR);

	if (n->inl_len > len - B_FIXED)
		return CF_CORRUPT();
	memcpy(n->inl, b + B_FIXED, n->inl_len);
	if (n->atime.nsec >= NSEC_PER_SEC || n->mtime.nsec >= NSEC_PER_SEC ||
	    n->ctime.nsec >= NSEC_PER_SEC || n->crtime.nsec >= NSEC_PER_SEC)
		return CF_CORRUPT();
	if (otype_of_mode(n->mode) != info.type)
		return CF_CORRUPT();
	if ((n->mode & ~(uint32_t)(S_IFMT | 07777)) != 0)
		return CF_CORRUPT();
	if (S_ISLNK(n->mode)) {
		if (n->size == 0 || n->size > CF_FS_SYMLINK_MAX)
			return CF_CORRUPT();
		if (n->inl_len != 0 && n->inl_len != n->size)
			return CF_CORRUPT();
		if (n->inl_len == 0 && n->size <= B_INLINE_MAX)
			return CF_CORRUPT();
	} else if (n->inl_len != 0) {
		return CF_CORRUPT();
	}
	if (S_ISDIR(n->mode) && (n->nlink < 2 || n->size < 2 ||
	    n->parent == 0))
		return CF_CORRUPT();
	if (S_ISREG(n->mode) && n->size > CF_FS_MAX_FILESIZE)
		return CF_CORRUPT();
	return 0;
}

static int node_save(cf_objset_t *os, cf_tx_t *tx, const struct node *n)
{
	uint8_t b[CF_BONUS_MAX];
	memset(b, 0, sizeof(b));
	b[B_VERSION] = BONUS_VERSION;
	le16_put(b + B_INLLEN, n->inl_len);
	le32_put(b + B_MODE, n->mode);
	le32_put(b + B_UID, n->uid);
	le32_put(b + B_GID, n->gid);
	le32_put(b + B_NLINK, n->nlink);
	le32_put(b + B_FLAGS, n->flags);
	le64_put(b + B_SIZE, n->size);
	time_put(b, B_ATIME, n->atime);
	time_put(b, B_MTIME, n->mtime);
	time_put(b, B_CTIME, n->ctime);
	time_put(b, B_CRTIME, n->crtime);
	le64_put(b + B_GEN, n->gen);
	le64_put(b + B_PARENT, n->parent);
	le64_put(b + B_RDEV, n->rdev);
	le64_put(b + B_XATTR, n->xattr);
	memcpy(b + B_FIXED, n->inl, n->inl_len);
	return cf_bonus_write(os, tx, n->obj, b, B_FIXED + n->inl_len);
}

/* Load a node that must be a directory. */
static int dir_load(cf_fs_t *fs, uint64_t obj, struct node *n)
{
	int rc = node_load(fs->os, obj, n);
	if (rc)
		return rc;
	return S_ISDIR(n->mode) ? 0 : -ENOTDIR;
}

/* ---- directory entries ------------------------------------------------- */

static int dt_valid(uint8_t dt)
{
	switch ((uint32_t)dt << 12) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFIFO:
	case S_IFCHR: case S_IFBLK: case S_IFSOCK:
		return 1;
	default:
		return 0;
	}
}

static int de_decode(const void *v, size_t vlen, uint64_t *obj, uint8_t *dt)
{
	const uint8_t *b = v;
	if (vlen != DE_LEN)
		return CF_CORRUPT();
	*obj = le64_get(b);
	*dt = b[8];
	if (*obj == 0 || !dt_valid(*dt))
		return CF_CORRUPT();
	return 0;
}

static int dir_lookup(cf_fs_t *fs, uint64_t dir, const char *name,
    uint64_t *obj, uint8_t *dt)
{
	uint8_t b[DE_LEN];
	size_t n = 0;
	int rc = cf_zap_lookup(fs->os, dir, name, b, sizeof(b), &n);
	if (rc == -ERANGE)
		return CF_CORRUPT();
	if (rc)
		return rc;
	return de_decode(b, n, obj, dt);
}

static int dir_put(cf_fs_t *fs, cf_tx_t *tx, uint64_t dir, const char *name,
    uint64_t obj, uint32_t mode, int replace)
{
	uint8_t b[DE_LEN];
	le64_put(b, obj);
	b[8] = (uint8_t)((mode & S_IFMT) >> 12);
	if (replace)
		return cf_zap_update(fs->os, tx, dir, name, b, sizeof(b));
	return cf_zap_add(fs->os, tx, dir, name, b, sizeof(b));
}

/* A looked-up child must be a node whose type matches its entry. */
static int child_load(cf_fs_t *fs, uint64_t obj, uint8_t dt, struct node *n)
{
	int rc = node_load(fs->os, obj, n);
	if (rc == -ENOENT)
		return CF_CORRUPT();    /* a dangling entry */
	if (rc)
		return rc;
	if (((n->mode & S_IFMT) >> 12) != dt)
		return CF_CORRUPT();
	return 0;
}

/* ---- xattrs (storage) -------------------------------------------------- */

struct xval {
	int kind;
	const uint8_t *data;    /* inline */
	uint64_t obj, len;
};

static int xv_decode(const uint8_t *v, size_t vlen, struct xval *x)
{
	if (vlen < 1)
		return CF_CORRUPT();
	x->kind = v[0];
	if (x->kind == XV_INLINE) {
		x->data = v + 1;
		x->len = vlen - 1;
		x->obj = 0;
		return 0;
	}
	if (x->kind != XV_OBJECT || vlen != XV_OBJ_LEN)
		return CF_CORRUPT();
	x->obj = le64_get(v + 1);
	x->len = le64_get(v + 9);
	x->data = NULL;
	if (x->obj == 0 || x->len > CF_FS_XATTR_SIZE_MAX ||
	    x->len <= XV_INLINE_MAX)
		return CF_CORRUPT();
	return 0;
}

/* Check that a value object is what the entry says. */
static int xv_obj_check(cf_objset_t *os, const struct xval *x)
{
	cf_objinfo_t info;
	int rc = cf_obj_info(os, x->obj, &info);
	if (rc == -ENOENT)
		return CF_CORRUPT();
	if (rc)
		return rc;
	if (info.type != CF_OT_XATTR_VALUE)
		return CF_CORRUPT();
	return 0;
}

static int xattr_free_cb(const char *key, const void *val, size_t vlen,
    uint64_t next, void *arg)
{
	void **a = arg;
	cf_objset_t *os = a[0];
	cf_tx_t *tx = a[1];
	struct xval x;
	int rc = xv_decode(val, vlen, &x);
	(void)key;
	(void)next;
	if (rc)
		return rc;
	if (x.kind == XV_OBJECT) {
		rc = xv_obj_check(os, &x);
		if (rc == 0)
			rc = cf_obj_free(os, tx, x.obj);
	}
	return rc;
}

/* Free an xattr zap with its value objects. */
static int xattr_dir_free(cf_objset_t *os, cf_tx_t *tx, uint64_t xd)
{
	void *a[2] = { os, tx };
	uint64_t cookie = 0;
	cf_objinfo_t info;
	int rc = cf_obj_info(os, xd, &info);
	if (rc == -ENOENT || (rc == 0 && info.type != CF_OT_XATTR_DIR))
		return CF_CORRUPT();
	if (rc)
		return rc;
	rc = cf_zap_iter(os, xd, &cookie, xattr_free_cb, a);
	if (rc)
		return rc;
	return cf_obj_free(os, tx, xd);
}

/*
 * The last link to a node is gone: free it with its xattrs.
 *
 * Open-file tracking hooks in here.  When it exists, a node that is still
 * open must not be freed: set nlink 0, add it to the delete queue (key:
 * object id in hex, value: u64 id) in this same tx, and free it at the
 * last close (removing the queue entry).  If the process dies first, the
 * next mount frees it (dq_drain).
 */
static int node_release(cf_fs_t *fs, cf_tx_t *tx, struct node *n)
{
	int rc;
	if (n->xattr) {
		rc = xattr_dir_free(fs->os, tx, n->xattr);
		if (rc)
			return rc;
	}
	return cf_obj_free(fs->os, tx, n->obj);
}

/* ---- format and mount -------------------------------------------------- */

static void node_init(struct node *n, uint64_t obj, uint32_t mode,
    uint32_t uid, uint32_t gid, uint64_t gen, uint64_t parent)
{
	struct fstime t = now();
	memset(n, 0, sizeof(*n));
	n->obj = obj;
	n->mode = mode;
	n->uid = uid;
	n->gid = gid;
	n->nlink = S_ISDIR(mode) ? 2 : 1;
	n->size = S_ISDIR(mode) ? 2 : 0;
	n->atime = n->mtime = n->ctime = n->crtime = t;
	n->gen = gen;
	n->parent = parent;
}

int cf_fs_format(cf_objset_t *os, cf_tx_t *tx, uint32_t uid, uint32_t gid,
    uint32_t mode)
{
	uint64_t o = 0, master, root, dq;
	struct node n;
	int rc;

	if (cf_os_readonly(os))
		return -EROFS;
	rc = cf_obj_next(os, &o);
	if (rc == 0)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	rc = cf_zap_create(os, tx, CF_OT_MASTER, &master);
	if (rc)
		return rc;
	if (master != 1)
		return CF_CORRUPT();    /* the dmu broke "first object is 1" */
	rc = cf_zap_create(os, tx, CF_OT_DIR, &root);
	if (rc)
		return rc;
	node_init(&n, root, S_IFDIR | (mode & 07777), uid, gid,
	    cf_tx_txg(tx), root);
	rc = node_save(os, tx, &n);
	if (rc)
		return rc;
	rc = cf_zap_create(os, tx, CF_OT_ZAP, &dq);
	if (rc)
		return rc;
	rc = cf_zap_add_u64(os, tx, master, "VERSION", CF_FS_VERSION);
	if (rc == 0)
		rc = cf_zap_add_u64(os, tx, master, "ROOT", root);
	if (rc == 0)
		rc = cf_zap_add_u64(os, tx, master, "DELETE_QUEUE", dq);
	return rc;
}

struct dq_batch {
	int n;
	char key[64][CF_ZAP_MAXKEY + 1];
	uint64_t obj[64];
};

static int dq_collect(const char *key, const void *val, size_t vlen,
    uint64_t next, void *arg)
{
	struct dq_batch *b = arg;
	(void)next;
	if (b->n == 64)
		return 1;
	if (vlen != 8)
		return CF_CORRUPT();
	snprintf(b->key[b->n], sizeof(b->key[0]), "%s", key);
	b->obj[b->n] = le64_get(val);
	b->n++;
	return 0;
}

/*
 * Free the nodes in the delete queue.  An entry that cannot be processed
 * stays for the next mount; it does not stop the mount.
 */
static void dq_drain(cf_fs_t *fs)
{
	struct dq_batch *b = malloc(sizeof(*b));
	uint64_t cookie = 0;
	int rc;

	if (!b)
		return;
	do {
		b->n = 0;
		rc = cf_zap_iter(fs->os, fs->dq, &cookie, dq_collect, b);
		if (rc < 0)
			break;
		for (int i = 0; i < b->n; i++) {
			struct node n;
			cf_tx_t *tx;
			int lrc = node_load(fs->os, b->obj[i], &n);
			if (lrc != 0 && lrc != -ENOENT)
				continue;
			if (cf_tx_begin(fs->os, 0, &tx))  /* frees space */
				break;
			if (lrc == 0 && n.nlink == 0)
				lrc = node_release(fs, tx, &n);
			else
				lrc = 0;
			if (lrc == 0)
				lrc = cf_zap_remove(fs->os, tx, fs->dq,
				    b->key[i]);
			cf_tx_end(tx);
		}
	} while (rc == 1);
	free(b);
}

int cf_fs_mount(cf_objset_t *os, cf_fs_t **out)
{
	cf_objinfo_t info;
	uint64_t v, root, dq = 0;
	struct node n;
	pthread_rwlockattr_t attr;
	cf_fs_t *fs;
	int rc;

	rc = cf_obj_info(os, 1, &info);
	if (rc)
		return rc;
	if (info.type != CF_OT_MASTER)
		return CF_CORRUPT();
	rc = cf_zap_lookup_u64(os, 1, "VERSION", &v);
	if (rc == -ENOENT)
		return CF_CORRUPT();
	if (rc)
		return rc;
	if (v != CF_FS_VERSION)
		return COFFER_ENOTSUP;
	rc = cf_zap_lookup_u64(os, 1, "ROOT", &root);
	if (rc == -ENOENT)
		return CF_CORRUPT();
	if (rc)
		return rc;
	rc = node_load(os, root, &n);
	if (rc == -ENOENT || (rc == 0 && !S_ISDIR(n.mode)))
		return CF_CORRUPT();
	if (rc)
		return rc;
	rc = cf_zap_lookup_u64(os, 1, "DELETE_QUEUE", &dq);
	if (rc && rc != -ENOENT)
		return rc;

	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->os = os;
	fs->master = 1;
	fs->root = root;
	fs->dq = rc == 0 ? dq : 0;
	fs->ro = cf_os_readonly(os) != 0;
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr,
	    PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&fs->ns, &attr);
	pthread_rwlockattr_destroy(&attr);
	for (int i = 0; i < FS_NFLOCKS; i++)
		pthread_mutex_init(&fs->flock[i], NULL);
	if (!fs->ro && fs->dq)
		dq_drain(fs);
	*out = fs;
	return 0;
}

void cf_fs_unmount(cf_fs_t *fs)
{
	if (!fs)
		return;
	pthread_rwlock_destroy(&fs->ns);
	for (int i = 0; i < FS_NFLOCKS; i++)
		pthread_mutex_destroy(&fs->flock[i]);
	free(fs);
}

uint64_t cf_fs_root(cf_fs_t *fs)
{
	return fs->root;
}

/* ---- lookup and resolve ------------------------------------------------ */

/* Lookup with "." and ".."; the lock is held by the caller. */
static int lookup_locked(cf_fs_t *fs, uint64_t dir, const char *name,
    size_t nlen, uint64_t *ino, uint8_t *dt)
{
	struct node d;
	char nm[CF_ZAP_MAXKEY + 1];
	int rc = dir_load(fs, dir, &d);
	if (rc)
		return rc;
	if (nlen == 1 && name[0] == '.') {
		*ino = dir;
		*dt = S_IFDIR >> 12;
		return 0;
	}
	if (nlen == 2 && name[0] == '.' && name[1] == '.') {
		*ino = dir == fs->root ? dir : d.parent;
		*dt = S_IFDIR >> 12;
		return 0;
	}
	memcpy(nm, name, nlen);
	nm[nlen] = '\0';
	return dir_lookup(fs, dir, nm, ino, dt);
}

int cf_fs_lookup(cf_fs_t *fs, uint64_t dir, const char *name, uint64_t *ino)
{
	size_t n;
	uint8_t dt;
	int rc;
	if (!name)
		return -EINVAL;
	n = strnlen(name, CF_ZAP_MAXKEY + 1);
	if (n == 0 || memchr(name, '/', n))
		return -EINVAL;
	if (n > CF_ZAP_MAXKEY)
		return -ENAMETOOLONG;
	ns_rd(fs);
	rc = lookup_locked(fs, dir, name, n, ino, &dt);
	ns_un(fs);
	return rc;
}

/* Read a symlink target (n->size bytes, no NUL) into t. */
static int symlink_read(cf_fs_t *fs, const struct node *n, char *t)
{
	int rc;
	if (n->inl_len) {
		memcpy(t, n->inl, n->inl_len);
	} else {
		rc = cf_obj_read(fs->os, n->obj, 0, n->size, t);
		if (rc)
			return rc;
	}
	if (memchr(t, 0, n->size))
		return CF_CORRUPT();
	return 0;
}

#define RESOLVE_BUF (2 * CF_FS_PATH_MAX)

static int resolve_locked(cf_fs_t *fs, const char *path, int follow,
    uint64_t *ino, char *bufa, char *bufb)
{
	char target[CF_FS_SYMLINK_MAX + 1];
	char *p, *cur_buf = bufa, *other = bufb;
	uint64_t cur = fs->root;
	int links = 0, rc;
	int want_dir = 0;

	snprintf(bufa, RESOLVE_BUF, "%s", path);
	p = bufa;
	for (;;) {
		char *q;
		size_t len;
		uint64_t child;
		uint8_t dt;
		int last;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		q = p;
		while (*q && *q != '/')
			q++;
		len = (size_t)(q - p);
		if (len > CF_ZAP_MAXKEY)
			return -ENAMETOOLONG;
		{
			const char *r = q;
			while (*r == '/')
				r++;
			last = *r == '\0';
			want_dir = last && *q == '/';
		}
		rc = lookup_locked(fs, cur, p, len, &child, &dt);
		if (rc)
			return rc;
		if (((uint32_t)dt << 12) == S_IFLNK &&
		    (!last || follow || want_dir)) {
			struct node ln;
			int n;
			if (++links > CF_FS_MAXSYMLINKS)
				return -ELOOP;
			rc = child_load(fs, child, dt, &ln);
			if (rc)
				return rc;
			rc = symlink_read(fs, &ln, target);
			if (rc)
				return rc;
			target[ln.size] = '\0';
			/* continue with target + rest of the path (q is
			 * empty or starts with '/') */
			n = snprintf(other, RESOLVE_BUF, "%s%s", target, q);
			if (n < 0 || n >= RESOLVE_BUF)
				return -ENAMETOOLONG;
			if (target[0] == '/')
				cur = fs->root;
			p = other;
			other = cur_buf;
			cur_buf = p;
			continue;
		}
		if (!last && ((uint32_t)dt << 12) != S_IFDIR)
			return -ENOTDIR;
		cur = child;
		p = q;
	}
	if (want_dir) {
		struct node n;
		rc = dir_load(fs, cur, &n);
		if (rc)
			return rc;
	}
	*ino = cur;
	return 0;
}

int cf_fs_resolve(cf_fs_t *fs, const char *path, int follow, uint64_t *ino)
{
	char *bufs;
	int rc;
	if (!path || path[0] != '/')
		return -EINVAL;
	if (strnlen(path, CF_FS_PATH_MAX) >= CF_FS_PATH_MAX)
		return -ENAMETOOLONG;
	bufs = malloc(2 * RESOLVE_BUF);
	if (!bufs)
		return -ENOMEM;
	ns_rd(fs);
	rc = resolve_locked(fs, path, follow, ino, bufs, bufs + RESOLVE_BUF);
	ns_un(fs);
	free(bufs);
	return rc;
}

/* ---- attributes -------------------------------------------------------- */

static void stat_fill(const struct node *n, coffer_stat_t *st)
{
	memset(st, 0, sizeof(*st));
	st->ino = n->obj;
	st->mode = n->mode;
	st->nlink = n->nlink;
	st->uid = n->uid;
	st->gid = n->gid;
	st->size = n->size;
	st->blocks = n->used;
	st->rdev = n->rdev;
	st->atime_sec = n->atime.sec;
	st->atime_nsec = n->atime.nsec;
	st->mtime_sec = n->mtime.sec;
	st->mtime_nsec = n->mtime.nsec;
	st->ctime_sec = n->ctime.sec;
	st->ctime_nsec = n->ctime.nsec;
	st->crtime_sec = n->crtime.sec;
	st->crtime_nsec = n->crtime.nsec;
	st->gen = n->gen;
}

int cf_fs_getattr(cf_fs_t *fs, uint64_t ino, coffer_stat_t *st)
{
	struct node n;
	int rc;
	ns_rd(fs);
	rc = node_load(fs->os, ino, &n);
	ns_un(fs);
	if (rc == 0)
		stat_fill(&n, st);
	return rc;
}

/* Grow a one-block file's block for data up to `end` (invariant 4). */
static int file_fit_blksz(cf_fs_t *fs, cf_tx_t *tx, struct node *n,
    uint64_t end)
{
	uint32_t rs = cf_os_recordsize(fs->os), want;
	int rc;
	if (rs < CF_MIN_BLKSZ || rs > CF_MAX_BLKSZ)
		rs = 128 * 1024;
	if (n->blksz >= rs || n->maxblkid > 0 || end <= n->blksz)
		return 0;
	want = end >= rs ? rs : (uint32_t)CF_ROUNDUP(end, CF_MIN_BLKSZ);
	rc = cf_obj_set_blksz(fs->os, tx, n->obj, want);
	if (rc == 0)
		n->blksz = want;
	return rc;
}

/* Set a regular file's size (invariant 3); n is saved by the caller. */
static int file_set_size(cf_fs_t *fs, cf_tx_t *tx, struct node *n,
    uint64_t size)
{
	if (size < n->size) {
		/* frees whole blocks, zeroes the tail of a partial one */
		int rc = cf_obj_free_range(fs->os, tx, n->obj, size,
		    UINT64_MAX);
		if (rc)
			return rc;
	}
	n->size = size;
	return 0;
}

static int size_check(const struct node *n, uint64_t size)
{
	if (S_ISDIR(n->mode))
		return -EISDIR;
	if (!S_ISREG(n->mode))
		return -EINVAL;
	if (size > CF_FS_MAX_FILESIZE)
		return -EFBIG;
	return 0;
}

static int tcheck(int64_t sec, uint32_t nsec)
{
	(void)sec;
	return nsec < NSEC_PER_SEC ? 0 : -EINVAL;
}

int cf_fs_setattr(cf_fs_t *fs, uint64_t ino, int mask,
    const coffer_stat_t *st)
{
	const int known = COFFER_SET_MODE | COFFER_SET_UID | COFFER_SET_GID |
	    COFFER_SET_SIZE | COFFER_SET_ATIME | COFFER_SET_MTIME |
	    COFFER_SET_CTIME;
	struct node n;
	struct fstime t = now();
	cf_tx_t *tx;
	int rc;

	if ((mask & ~known) || (mask && !st))
		return -EINVAL;
	if (((mask & COFFER_SET_ATIME) && tcheck(st->atime_sec, st->atime_nsec)) ||
	    ((mask & COFFER_SET_MTIME) && tcheck(st->mtime_sec, st->mtime_nsec)) ||
	    ((mask & COFFER_SET_CTIME) && tcheck(st->ctime_sec, st->ctime_nsec)))
		return -EINVAL;
	if (fs->ro)
		return -EROFS;
	ns_rd(fs);
	pthread_mutex_lock(flock_of(fs, ino));
	rc = node_load(fs->os, ino, &n);
	if (rc == 0 && (mask & COFFER_SET_SIZE))
		rc = size_check(&n, st->size);
	if (rc)
		goto out;
	rc = cf_tx_begin(fs->os, TX_META, &tx);
	if (rc)
		goto out;
	if ((mask & COFFER_SET_SIZE) && st->size != n.size) {
		rc = file_set_size(fs, tx, &n, st->size);
		n.mtime = t;
	}
	if (rc == 0) {
		if (mask & COFFER_SET_MODE)
			n.mode = (n.mode & S_IFMT) | (st->mode & 07777);
		if (mask & COFFER_SET_UID)
			n.uid = st->uid;
		if (mask & COFFER_SET_GID)
			n.gid = st->gid;
		if (mask & COFFER_SET_ATIME) {
			n.atime.sec = st->atime_sec;
			n.atime.nsec = st->atime_nsec;
		}
		if (mask & COFFER_SET_MTIME) {
			n.mtime.sec = st->mtime_sec;
			n.mtime.nsec = st->mtime_nsec;
		}
		if (mask & COFFER_SET_CTIME) {
			n.ctime.sec = st->ctime_sec;
			n.ctime.nsec = st->ctime_nsec;
		} else {
			n.ctime = t;
		}
		rc = node_save(fs->os, tx, &n);
	}
	cf_tx_end(tx);
out:
	pthread_mutex_unlock(flock_of(fs, ino));
	ns_un(fs);
	return rc;
}

/* ---- creating and removing names --------------------------------------- */

int cf_fs_mknod(cf_fs_t *fs, uint64_t dir, const char *name, uint32_t mode,
    uint32_t uid, uint32_t gid, uint64_t rdev, const char *symlink_target,
    uint64_t *ino)
{
	struct node d, n;
	uint64_t obj, existing;
	uint8_t dt;
	size_t tlen = 0;
	int otype, rc;
	cf_tx_t *tx;

	rc = name_check(name);
	if (rc)
		return rc;
	otype = otype_of_mode(mode);
	if (otype < 0 || (mode & ~(uint32_t)(S_IFMT | 07777)))
		return -EINVAL;
	if (S_ISLNK(mode)) {
		if (!symlink_target)
			return -EINVAL;
		tlen = strnlen(symlink_target, CF_FS_SYMLINK_MAX + 1);
		if (tlen == 0)
			return -ENOENT;
		if (tlen > CF_FS_SYMLINK_MAX)
			return -ENAMETOOLONG;
	}
	if (fs->ro)
		return -EROFS;

	ns_wr(fs);
	rc = dir_load(fs, dir, &d);
	if (rc)
		goto out;
	rc = dir_lookup(fs, dir, name, &existing, &dt);
	if (rc == 0)
		rc = -EEXIST;
	if (rc != -ENOENT)
		goto out;
	if (S_ISDIR(mode) && d.nlink >= CF_FS_LINK_MAX) {
		rc = -EMLINK;
		goto out;
	}
	rc = cf_tx_begin(fs->os, TX_NS_SPACE + tlen, &tx);
	if (rc)
		goto out;
	if (otype == CF_OT_DIR)
		rc = cf_zap_create(fs->os, tx, CF_OT_DIR, &obj);
	else if (otype == CF_OT_SYMLINK && tlen > B_INLINE_MAX)
		rc = cf_obj_alloc(fs->os, tx, otype,
		    (uint32_t)CF_ROUNDUP(tlen, CF_MIN_BLKSZ), &obj);
	else
		rc = cf_obj_alloc(fs->os, tx, otype, CF_MIN_BLKSZ, &obj);
	if (rc)
		goto out_tx;
	node_init(&n, obj, mode, uid, gid, cf_tx_txg(tx), dir);
	if (S_ISCHR(mode) || S_ISBLK(mode))
		n.rdev = rdev;
	if (S_ISLNK(mode)) {
		n.size = tlen;
		if (tlen <= B_INLINE_MAX) {
			n.inl_len = (uint16_t)tlen;
			memcpy(n.inl, symlink_target, tlen);
		} else {
			rc = cf_obj_write(fs->os, tx, obj, 0, tlen,
			    symlink_target);
		}
	}
	if (rc == 0)
		rc = node_save(fs->os, tx, &n);
	if (rc == 0)
		rc = dir_put(fs, tx, dir, name, obj, mode, 0);
	if (rc) {
		obj_free_quiet(fs->os, tx, obj);
		goto out_tx;
	}
	d.size++;
	if (S_ISDIR(mode))
		d.nlink++;
	d.mtime = d.ctime = n.crtime;
	rc = node_save(fs->os, tx, &d);
	if (rc == 0 && ino)
		*ino = obj;
out_tx:
	cf_tx_end(tx);
out:
	ns_un(fs);
	return rc;
}

int cf_fs_readlink(cf_fs_t *fs, uint64_t ino, char *buf, size_t size)
{
	char t[CF_FS_SYMLINK_MAX + 1];
	struct node n;
	int rc;
	ns_rd(fs);
	rc = node_load(fs->os, ino, &n);
	if (rc == 0 && !S_ISLNK(n.mode))
		rc = -EINVAL;
	if (rc == 0)
		rc = symlink_read(fs, &n, t);
	ns_un(fs);
	if (rc)
		return rc;
	if (size > 0) {
		size_t c = CF_MIN((size_t)n.size, size - 1);
		memcpy(buf, t, c);
		buf[c] = '\0';
	}
	return (int)n.size;
}

int cf_fs_link(cf_fs_t *fs, uint64_t ino, uint64_t newdir,
    const char *newname)
{
	struct node n, d;
	uint64_t existing;
	uint8_t dt;
	cf_tx_t *tx;
	struct fstime t = now();
	int rc;

	rc = name_check(newname);
	if (rc)
		return rc;
	if (fs->ro)
		return -EROFS;
	ns_wr(fs);
	rc = node_load(fs->os, ino, &n);
	if (rc)
		goto out;
	if (S_ISDIR(n.mode)) {
		rc = -EPERM;
		goto out;
	}
	if (n.nlink == 0) {
		rc = -ENOENT;
		goto out;
	}
	rc = dir_load(fs, newdir, &d);
	if (rc)
		goto out;
	rc = dir_lookup(fs, newdir, newname, &existing, &dt);
	if (rc == 0)
		rc = -EEXIST;
	if (rc != -ENOENT)
		goto out;
	if (n.nlink >= CF_FS_LINK_MAX) {
		rc = -EMLINK;
		goto out;
	}
	rc = cf_tx_begin(fs->os, TX_NS_SPACE, &tx);
	if (rc)
		goto out;
	rc = dir_put(fs, tx, newdir, newname, ino, n.mode, 0);
	if (rc == 0) {
		n.nlink++;
		n.ctime = t;
		rc = node_save(fs->os, tx, &n);
	}
	if (rc == 0) {
		d.size++;
		d.mtime = d.ctime = t;
		rc = node_save(fs->os, tx, &d);
	}
	cf_tx_end(tx);
out:
	ns_un(fs);
	return rc;
}

/* Drop one link of node n (already removed from its directory). */
static int node_unlinked(cf_fs_t *fs, cf_tx_t *tx, struct node *n,
    struct fstime t)
{
	if (S_ISDIR(n->mode) || n->nlink <= 1)
		return node_release(fs, tx, n);
	n->nlink--;
	n->ctime = t;
	return node_save(fs->os, tx, n);
}

static int remove_common(cf_fs_t *fs, uint64_t dir, const char *name,
    int want_dir)
{
	struct node d, n;
	uint64_t obj, count;
	uint8_t dt;
	cf_tx_t *tx;
	struct fstime t = now();
	int rc;

	rc = name_check(name);
	if (rc)
		return rc;
	if (fs->ro)
		return -EROFS;
	ns_wr(fs);
	rc = dir_load(fs, dir, &d);
	if (rc == 0)
		rc = dir_lookup(fs, dir, name, &obj, &dt);
	if (rc == 0)
		rc = child_load(fs, obj, dt, &n);
	if (rc)
		goto out;
	if (want_dir && !S_ISDIR(n.mode)) {
		rc = -ENOTDIR;
		goto out;
	}
	if (!want_dir && S_ISDIR(n.mode)) {
		rc = -EISDIR;
		goto out;
	}
	if (want_dir) {
		rc = cf_zap_count(fs->os, obj, &count);
		if (rc)
			goto out;
		if (count) {
			rc = -ENOTEMPTY;
			goto out;
		}
		if (d.nlink <= 2) {
			rc = CF_CORRUPT();
			goto out;
		}
	}
	if (d.size <= 2) {
		rc = CF_CORRUPT();
		goto out;
	}
	/* a removal gives space back: it must work on a full pool (the
	 * pool's slop reserve covers its metadata), so it asks for none */
	rc = cf_tx_begin(fs->os, 0, &tx);
	if (rc)
		goto out;
	rc = cf_zap_remove(fs->os, tx, dir, name);
	if (rc == 0)
		rc = node_unlinked(fs, tx, &n, t);
	if (rc == 0) {
		d.size--;
		if (want_dir)
			d.nlink--;
		d.mtime = d.ctime = t;
		rc = node_save(fs->os, tx, &d);
	}
	cf_tx_end(tx);
out:
	ns_un(fs);
	return rc;
}

int cf_fs_unlink(cf_fs_t *fs, uint64_t dir, const char *name)
{
	return remove_common(fs, dir, name, 0);
}

int cf_fs_rmdir(cf_fs_t *fs, uint64_t dir, const char *name)
{
	return remove_common(fs, dir, name, 1);
}

/*
 * Is `dir` inside the subtree of directory `top` (or top itself)?  Walks
 * parent pointers up to the root; a parent loop (only corruption makes
 * one) is caught by Brent's cycle detection, so the walk is bounded by
 * the depth of the tree.
 */
static int in_subtree(cf_fs_t *fs, uint64_t dir, uint64_t top, int *inside)
{
	struct node n;
	uint64_t x = dir, mark = dir, power = 1, lam = 0;
	for (;;) {
		int rc;
		if (x == top) {
			*inside = 1;
			return 0;
		}
		if (x == fs->root) {
			*inside = 0;
			return 0;
		}
		rc = dir_load(fs, x, &n);
		if (rc)
			return rc == -ENOENT || rc == -ENOTDIR ?
			    CF_CORRUPT() : rc;
		x = n.parent;
		if (x == mark)
			return CF_CORRUPT();    /* a parent loop */
		if (++lam == power) {
			mark = x;
			power *= 2;
			lam = 0;
		}
	}
}

int cf_fs_rename(cf_fs_t *fs, uint64_t sdir, const char *sname,
    uint64_t ddir, const char *dname, int flags)
{
	struct node sd, ddbuf, *dd, s, tgt;
	uint64_t sobj, tobj = 0;
	uint8_t sdt, tdt;
	int exists = 0, sisdir, rc;
	struct fstime t = now();
	cf_tx_t *tx;

	rc = name_check(sname);
	if (rc == 0)
		rc = name_check(dname);
	if (rc)
		return rc;
	if (flags & ~COFFER_RENAME_NOREPLACE)
		return -EINVAL;
	if (fs->ro)
		return -EROFS;
	ns_wr(fs);
	dd = sdir == ddir ? &sd : &ddbuf;
	rc = dir_load(fs, sdir, &sd);
	if (rc == 0 && dd != &sd)
		rc = dir_load(fs, ddir, dd);
	if (rc == 0)
		rc = dir_lookup(fs, sdir, sname, &sobj, &sdt);
	if (rc == 0)
		rc = child_load(fs, sobj, sdt, &s);
	if (rc)
		goto out;
	sisdir = S_ISDIR(s.mode);
	rc = dir_lookup(fs, ddir, dname, &tobj, &tdt);
	if (rc == 0) {
		exists = 1;
	} else if (rc != -ENOENT) {
		goto out;
	}
	rc = 0;
	if (exists) {
		if (flags & COFFER_RENAME_NOREPLACE) {
			rc = -EEXIST;
			goto out;
		}
		if (tobj == sobj)
			goto out;       /* the same node: nothing to do */
		rc = child_load(fs, tobj, tdt, &tgt);
		if (rc)
			goto out;
		if (sisdir && !S_ISDIR(tgt.mode)) {
			rc = -ENOTDIR;
			goto out;
		}
		if (!sisdir && S_ISDIR(tgt.mode)) {
			rc = -EISDIR;
			goto out;
		}
		if (S_ISDIR(tgt.mode)) {
			uint64_t count;
			rc = cf_zap_count(fs->os, tobj, &count);
			if (rc)
				goto out;
			if (count) {
				rc = -ENOTEMPTY;
				goto out;
			}
		}
	}
	if (sisdir && sdir != ddir) {
		int inside = 0;
		rc = in_subtree(fs, ddir, sobj, &inside);
		if (rc)
			goto out;
		if (inside) {
			rc = -EINVAL;
			goto out;
		}
		if (!exists && dd->nlink >= CF_FS_LINK_MAX) {
			rc = -EMLINK;
			goto out;
		}
	}
	if (tobj == sdir || tobj == ddir || sobj == sdir || sobj == ddir) {
		rc = CF_CORRUPT();      /* a directory entry naming itself */
		goto out;
	}
	if (sd.size <= 2 || (sisdir && sd.nlink <= 2) ||
	    (exists && S_ISDIR(tgt.mode) && dd->nlink <= 2)) {
		rc = CF_CORRUPT();
		goto out;
	}

	rc = cf_tx_begin(fs->os, TX_NS_SPACE, &tx);
	if (rc)
		goto out;
	/* the new name first: replacing is one zap update */
	rc = dir_put(fs, tx, ddir, dname, sobj, s.mode, exists);
	if (rc == 0)
		rc = cf_zap_remove(fs->os, tx, sdir, sname);
	if (rc == 0 && exists) {
		if (S_ISDIR(tgt.mode))
			dd->nlink--;
		rc = node_unlinked(fs, tx, &tgt, t);
	}
	if (rc == 0) {
		sd.size--;
		if (!exists)
			dd->size++;
		if (sisdir && sdir != ddir) {
			sd.nlink--;
			dd->nlink++;
		}
		s.parent = ddir;
		s.ctime = t;
		sd.mtime = sd.ctime = t;
		dd->mtime = dd->ctime = t;
		rc = node_save(fs->os, tx, &s);
	}
	if (rc == 0)
		rc = node_save(fs->os, tx, &sd);
	if (rc == 0 && dd != &sd)
		rc = node_save(fs->os, tx, dd);
	cf_tx_end(tx);
out:
	ns_un(fs);
	return rc;
}

/* ---- file data --------------------------------------------------------- */

int64_t cf_fs_read(cf_fs_t *fs, uint64_t ino, uint64_t off, void *buf,
    size_t len)
{
	struct node n;
	uint64_t cnt = 0;
	int rc;

	if (!buf && len)
		return -EINVAL;
	ns_rd(fs);
	rc = node_load(fs->os, ino, &n);
	if (rc == 0 && S_ISDIR(n.mode))
		rc = -EISDIR;
	else if (rc == 0 && !S_ISREG(n.mode))
		rc = -EINVAL;
	if (rc == 0 && off < n.size) {
		cnt = CF_MIN((uint64_t)len, n.size - off);
		rc = cf_obj_read(fs->os, ino, off, cnt, buf);
	}
	ns_un(fs);
	return rc ? rc : (int64_t)cnt;
}

int64_t cf_fs_write(cf_fs_t *fs, uint64_t ino, uint64_t off,
    const void *buf, size_t len)
{
	struct node n;
	cf_tx_t *tx;
	size_t done = 0;
	int rc;

	if (!buf && len)
		return -EINVAL;
	if (fs->ro)
		return -EROFS;
	if (off >= CF_FS_MAX_FILESIZE)
		return -EFBIG;
	if (len > CF_FS_MAX_FILESIZE - off)
		len = (size_t)(CF_FS_MAX_FILESIZE - off);
	ns_rd(fs);
	pthread_mutex_lock(flock_of(fs, ino));
	rc = node_load(fs->os, ino, &n);
	if (rc == 0 && S_ISDIR(n.mode))
		rc = -EISDIR;
	else if (rc == 0 && !S_ISREG(n.mode))
		rc = -EINVAL;
	if (rc || len == 0)
		goto out;
	/* one tx per CF_TX_WRITE_MAX bytes: a large write neither dirties
	 * one txg without bound nor holds it long (spa invariant 5) */
	while (done < len) {
		size_t cnt = CF_MIN(len - done, (size_t)CF_TX_WRITE_MAX);
		uint64_t cend = off + done + cnt;
		rc = cf_tx_begin(fs->os, cnt + cnt / 64 + TX_META, &tx);
		if (rc)
			break;
		rc = file_fit_blksz(fs, tx, &n, cend);
		if (rc == 0)
			rc = cf_obj_write(fs->os, tx, ino, off + done, cnt,
			    (const uint8_t *)buf + done);
		if (rc == 0) {
			if (cend > n.size)
				n.size = cend;
			n.mtime = n.ctime = now();
			rc = node_save(fs->os, tx, &n);
		}
		cf_tx_end(tx);
		if (rc)
			break;
		done += cnt;
	}
out:
	pthread_mutex_unlock(flock_of(fs, ino));
	ns_un(fs);
	/* what was written stays written, as write(2) reports it (len 0:
	 * done and rc are both 0) */
	return done ? (int64_t)done : rc;
}

int cf_fs_truncate(cf_fs_t *fs, uint64_t ino, uint64_t size)
{
	coffer_stat_t st;
	memset(&st, 0, sizeof(st));
	st.size = size;
	return cf_fs_setattr(fs, ino, COFFER_SET_SIZE, &st);
}

/* ---- readdir ----------------------------------------------------------- */

/*
 * Cookies: 0 ".", 1 "..", zap position p -> p + 2 (zap positions stay
 * below 2^64 - 0x8000, so this never wraps), UINT64_MAX the end.
 */
#define RD_BATCH 128
#define RD_END   UINT64_MAX

struct rd_ent {
	char name[CF_ZAP_MAXKEY + 1];
	uint64_t ino;
	uint32_t type;
	uint64_t own, next;     /* cookie of this entry, of the next */
};

struct rd_batch {
	int n;
	struct rd_ent e[RD_BATCH];
};

static int rd_collect(const char *key, const void *val, size_t vlen,
    uint64_t next, void *arg)
{
	struct rd_batch *b = arg;
	struct rd_ent *e;
	uint8_t dt;
	int rc;
	if (b->n == RD_BATCH)
		return 1;
	e = &b->e[b->n];
	rc = de_decode(val, vlen, &e->ino, &dt);
	if (rc)
		return rc;
	snprintf(e->name, sizeof(e->name), "%s", key);
	e->type = dt;
	e->own = next - 1 + 2;
	e->next = next + 2;
	b->n++;
	return 0;
}

int cf_fs_readdir(cf_fs_t *fs, uint64_t dir, uint64_t *cookie,
    coffer_dir_cb cb, void *arg)
{
	struct rd_batch *b;
	struct node d;
	int rc = 0;

	b = malloc(sizeof(*b));
	if (!b)
		return -ENOMEM;
	while (*cookie != RD_END) {
		uint64_t c = *cookie, zc;
		int done = 0;

		b->n = 0;
		ns_rd(fs);
		rc = dir_load(fs, dir, &d);
		if (rc) {
			ns_un(fs);
			break;
		}
		if (c == 0) {
			struct rd_ent *e = &b->e[b->n++];
			snprintf(e->name, sizeof(e->name), ".");
			e->ino = dir;
			e->type = S_IFDIR >> 12;
			e->own = 0;
			e->next = 1;
		}
		if (c <= 1) {
			struct rd_ent *e = &b->e[b->n++];
			snprintf(e->name, sizeof(e->name), "..");
			e->ino = dir == fs->root ? dir : d.parent;
			e->type = S_IFDIR >> 12;
			e->own = 1;
			e->next = 2;
		}
		zc = c <= 2 ? 0 : c - 2;
		rc = cf_zap_iter(fs->os, dir, &zc, rd_collect, b);
		ns_un(fs);
		if (rc < 0)
			break;
		done = rc == 0;
		rc = 0;
		for (int i = 0; i < b->n; i++) {
			struct rd_ent *e = &b->e[i];
			if (cb(e->name, e->ino, e->type, e->next, arg)) {
				*cookie = e->own;
				goto out;
			}
			*cookie = e->next;
		}
		if (done)
			*cookie = RD_END;
	}
out:
	free(b);
	return rc;
}

/* ---- xattrs ------------------------------------------------------------ */

static int xname_check(const char *name)
{
	size_t n;
	if (!name)
		return -EINVAL;
	n = strnlen(name, CF_ZAP_MAXKEY + 1);
	if (n == 0)
		return -EINVAL;
	if (n > CF_ZAP_MAXKEY)
		return -ERANGE;
	return 0;
}

/* Look up xattr `name` of node n: the raw entry into ent. */
static int xattr_get_entry(cf_fs_t *fs, const struct node *n,
    const char *name, uint8_t *ent, size_t *elen, struct xval *x)
{
	int rc;
	if (!n->xattr)
		return -ENODATA;
	rc = cf_zap_lookup(fs->os, n->xattr, name, ent, CF_ZAP_MAXVAL, elen);
	if (rc == -ENOENT)
		return -ENODATA;
	if (rc)
		return rc;
	rc = xv_decode(ent, *elen, x);
	if (rc == 0 && x->kind == XV_OBJECT)
		rc = xv_obj_check(fs->os, x);
	return rc;
}

int cf_fs_setxattr(cf_fs_t *fs, uint64_t ino, const char *name,
    const void *value, size_t size, int flags)
{
	uint8_t old[CF_ZAP_MAXVAL], ent[CF_ZAP_MAXVAL];
	size_t olen = 0, elen;
	struct xval ox;
	struct node n;
	cf_tx_t *tx;
	uint64_t vobj = 0;
	int rc, exists;

	rc = xname_check(name);
	if (rc)
		return rc;
	if (size > CF_FS_XATTR_SIZE_MAX)
		return -E2BIG;
	if ((!value && size) ||
	    (flags & ~(CF_FS_XATTR_CREATE | CF_FS_XATTR_REPLACE)) ||
	    flags == (CF_FS_XATTR_CREATE | CF_FS_XATTR_REPLACE))
		return -EINVAL;
	if (fs->ro)
		return -EROFS;
	ns_wr(fs);
	rc = node_load(fs->os, ino, &n);
	if (rc)
		goto out;
	rc = xattr_get_entry(fs, &n, name, old, &olen, &ox);
	if (rc && rc != -ENODATA)
		goto out;
	exists = rc == 0;
	if (exists && (flags & CF_FS_XATTR_CREATE)) {
		rc = -EEXIST;
		goto out;
	}
	if (!exists && (flags & CF_FS_XATTR_REPLACE)) {
		rc = -ENODATA;
		goto out;
	}
	rc = cf_tx_begin(fs->os, TX_NS_SPACE + size, &tx);
	if (rc)
		goto out;
	if (!n.xattr) {
		rc = cf_zap_create(fs->os, tx, CF_OT_XATTR_DIR, &n.xattr);
		if (rc)
			goto out_tx;
	}
	if (size <= XV_INLINE_MAX) {
		ent[0] = XV_INLINE;
		if (size)
			memcpy(ent + 1, value, size);
		elen = 1 + size;
	} else {
		rc = cf_obj_alloc(fs->os, tx, CF_OT_XATTR_VALUE,
		    (uint32_t)CF_ROUNDUP(size, CF_MIN_BLKSZ), &vobj);
		if (rc)
			goto out_tx;
		rc = cf_obj_write(fs->os, tx, vobj, 0, size, value);
		if (rc) {
			obj_free_quiet(fs->os, tx, vobj);
			goto out_tx;
		}
		ent[0] = XV_OBJECT;
		le64_put(ent + 1, vobj);
		le64_put(ent + 9, size);
		elen = XV_OBJ_LEN;
	}
	rc = cf_zap_update(fs->os, tx, n.xattr, name, ent, elen);
	if (rc) {
		if (vobj)
			obj_free_quiet(fs->os, tx, vobj);
		goto out_tx;
	}
	if (exists && ox.kind == XV_OBJECT)
		rc = cf_obj_free(fs->os, tx, ox.obj);
	if (rc == 0) {
		n.ctime = now();
		rc = node_save(fs->os, tx, &n);
	}
out_tx:
	cf_tx_end(tx);
out:
	ns_un(fs);
	return rc;
}

int64_t cf_fs_getxattr(cf_fs_t *fs, uint64_t ino, const char *name,
    void *value, size_t size)
{
	uint8_t ent[CF_ZAP_MAXVAL];
	size_t elen;
	struct xval x = { 0, NULL, 0, 0 };
	struct node n;
	int rc;

	rc = xname_check(name);
	if (rc)
		return rc;
	if (!value && size)
		return -EINVAL;
	ns_rd(fs);
	rc = node_load(fs->os, ino, &n);
	if (rc == 0)
		rc = xattr_get_entry(fs, &n, name, ent, &elen, &x);
	if (rc == 0 && size) {
		if (size < x.len)
			rc = -ERANGE;
		else if (x.kind == XV_INLINE)
			memcpy(value, x.data, x.len);
		else
			rc = cf_obj_read(fs->os, x.obj, 0, x.len, value);
	}
	ns_un(fs);
	return rc ? rc : (int64_t)x.len;
}

struct xl_ctx {
	char *list;
	size_t size, total;
};

static int xl_collect(const char *key, const void *val, size_t vlen,
    uint64_t next, void *arg)
{
	struct xl_ctx *c = arg;
	size_t kl = strlen(key) + 1;
	(void)val;
	(void)vlen;
	(void)next;
	if (c->size && c->total + kl <= c->size)
		memcpy(c->list + c->total, key, kl);
	c->total += kl;
	return 0;
}

int64_t cf_fs_listxattr(cf_fs_t *fs, uint64_t ino, char *list, size_t size)
{
	struct xl_ctx c = { list, size, 0 };
	struct node n;
	uint64_t cookie = 0;
	int rc;

	if (!list && size)
		return -EINVAL;
	ns_rd(fs);
	rc = node_load(fs->os, ino, &n);
	if (rc == 0 && n.xattr)
		rc = cf_zap_iter(fs->os, n.xattr, &cookie, xl_collect, &c);
	ns_un(fs);
	if (rc)
		return rc;
	if (size && c.total > size)
		return -ERANGE;
	return (int64_t)c.total;
}

int cf_fs_removexattr(cf_fs_t *fs, uint64_t ino, const char *name)
{
	uint8_t ent[CF_ZAP_MAXVAL];
	size_t elen;
	struct xval x;
	struct node n;
	uint64_t count;
	cf_tx_t *tx;
	int rc;

	rc = xname_check(name);
	if (rc)
		return rc;
	if (fs->ro)
		return -EROFS;
	ns_wr(fs);
	rc = node_load(fs->os, ino, &n);
	if (rc == 0)
		rc = xattr_get_entry(fs, &n, name, ent, &elen, &x);
	if (rc)
		goto out;
	rc = cf_tx_begin(fs->os, TX_NS_SPACE, &tx);
	if (rc)
		goto out;
	rc = cf_zap_remove(fs->os, tx, n.xattr, name);
	if (rc == 0 && x.kind == XV_OBJECT)
		rc = cf_obj_free(fs->os, tx, x.obj);
	if (rc == 0)
		rc = cf_zap_count(fs->os, n.xattr, &count);
	if (rc == 0 && count == 0) {
		/* the last one: drop the empty xattr zap */
		rc = cf_obj_free(fs->os, tx, n.xattr);
		n.xattr = 0;
	}
	if (rc == 0) {
		n.ctime = now();
		rc = node_save(fs->os, tx, &n);
	}
	cf_tx_end(tx);
out:
	ns_un(fs);
	return rc;
}
