/*
 * coffer.h - the public interface of libcoffer.
 *
 * coffer is an encrypted, authenticated, copy-on-write storage pool that
 * runs in user space.  A pool holds a tree of datasets (filesystems and
 * volumes) and their snapshots.
 *
 * Conventions
 *  - Handles are opaque.  Every function returns 0 (or a non-negative
 *    count) on success and a negative code on failure: -errno for system
 *    errors, COFFER_E* for coffer's own.  coffer_strerror() covers both.
 *  - After a failure, coffer_errdetail() returns a one-line explanation
 *    for the calling thread (the path of a corrupt block, the process
 *    holding a pool, ...) or "" when there is nothing to add.  The string
 *    is valid until the next coffer call in the same thread.
 *  - The library never prints and never exits; install a log callback
 *    with coffer_set_log() to see diagnostics.
 *  - A pool handle may be used from several threads at once.
 *  - Memory returned to the caller is owned by the caller unless stated.
 */
#ifndef COFFER_H
#define COFFER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ------------------------------------------------------------ */

#define COFFER_ECORRUPT     (-1001) /* on-disk structure failed verification */
#define COFFER_EAUTH        (-1002) /* authentication (MAC) failed */
#define COFFER_ENOKEY       (-1003) /* encryption key not loaded */
#define COFFER_ENOTSUP      (-1004) /* unsupported feature or version */
#define COFFER_EBUSY        (-1005) /* pool or dataset in use by another holder */
#define COFFER_ENOPOOL      (-1006) /* no such pool */
#define COFFER_ENODS        (-1007) /* no such dataset or snapshot */
#define COFFER_EEXIST       (-1008) /* pool or dataset already exists */
#define COFFER_EBADPROP     (-1009) /* bad property name or value */
#define COFFER_EDEVICE      (-1010) /* a device of the pool is missing or bad */
#define COFFER_EBADNAME     (-1011) /* invalid pool, dataset or snapshot name */
#define COFFER_EBADSTREAM   (-1012) /* malformed replication stream */
#define COFFER_EWRONGKEY    (-1013) /* wrong passphrase or key */
#define COFFER_EHASCHILD    (-1014) /* dataset has children or snapshots */
#define COFFER_EREADONLY    (-1015) /* read-only (snapshot, pool imported ro) */
#define COFFER_EINTR        (-1016) /* interrupted by the caller */

const char *coffer_strerror(int err);
const char *coffer_errdetail(void);

#define COFFER_LOG_ERR   0
#define COFFER_LOG_WARN  1
#define COFFER_LOG_INFO  2
#define COFFER_LOG_DEBUG 3
typedef void (*coffer_log_fn)(int level, const char *msg, void *arg);
void coffer_set_log(coffer_log_fn fn, void *arg);

/* ---- registry ---------------------------------------------------------- */

/*
 * Pools are found by name through a registry file, $COFFER_HOME/pools
 * (default /var/lib/coffer for root, ~/.coffer otherwise).  The returned
 * string is static.
 */
const char *coffer_home(void);

/* ---- pools ------------------------------------------------------------- */

typedef struct coffer_pool coffer_pool_t;

/*
 * Create a pool striped over ndev devices.  Regular files that do not
 * exist are created with `size` bytes (size 0: they must exist).  Block
 * devices are used whole.  props: NULL-terminated "name=value" strings
 * applied to the root dataset.  The pool is registered and left open.
 */
int coffer_pool_create(const char *name, const char *const *devs, int ndev,
    uint64_t size, const char *const *props, coffer_pool_t **out);

#define COFFER_OPEN_RDONLY 0x1
/* Open a registered pool.  Fails with COFFER_EBUSY if another process holds
 * it (coffer_errdetail names the holder). */
int coffer_pool_open(const char *name, int flags, coffer_pool_t **out);

/* Close: sync all changes, stop the sync thread, release the lock. */
int coffer_pool_close(coffer_pool_t *pool);

/* Make every change made so far durable (commit the open txg and wait). */
int coffer_pool_sync(coffer_pool_t *pool);

/*
 * Scan `dir` (default /dev when NULL) and the registry's known paths for
 * pool labels.  With name == NULL, report each importable pool through
 * cb without importing.  With a name (or guid in decimal), import it:
 * register its devices.
 */
typedef int (*coffer_import_cb)(const char *name, uint64_t guid,
    const char *state, void *arg);
int coffer_pool_import(const char *dir, const char *name,
    coffer_import_cb cb, void *arg);

/* Forget a pool (it must not be open by anyone); devices untouched. */
int coffer_pool_export(const char *name);
/* Destroy: wipe labels of every device and forget the pool. */
int coffer_pool_destroy(const char *name);

/* List registered pool names: cb once per pool. */
int coffer_pool_list(int (*cb)(const char *name, void *arg), void *arg);

typedef struct coffer_pool_info {
	char name[256];
	uint64_t guid;
	uint64_t txg;           /* last committed txg */
	uint64_t size;          /* usable bytes over all devices */
	uint64_t allocated;     /* bytes allocated */
	uint64_t free;
	int ndev;
	int health;             /* 0 ONLINE, 1 DEGRADED, 2 FAULTED */
	/* scrub results of the last scrub (persisted in the pool) */
	uint64_t scrub_state;   /* 0 none, 1 running, 2 finished, 3 canceled */
	uint64_t scrub_start, scrub_end;     /* seconds since the epoch */
	uint64_t scrub_examined;             /* bytes */
	uint64_t scrub_blocks;
	uint64_t scrub_errors;               /* checksum errors found */
	uint64_t scrub_repaired;             /* copies rewritten */
	uint64_t scrub_unrecoverable;
	/* errors seen since the pool was opened (reads and self-heals) */
	uint64_t read_errors, cksum_errors, healed;
} coffer_pool_info_t;

int coffer_pool_info(coffer_pool_t *pool, coffer_pool_info_t *info);

typedef struct coffer_dev_info {
	char path[4096];
	uint64_t guid;
	uint64_t size;
	uint64_t allocated;
	int state;              /* 0 ONLINE, 1 MISSING, 2 FAULTED */
	uint64_t read_errors, write_errors, cksum_errors;
} coffer_dev_info_t;
int coffer_pool_dev_info(coffer_pool_t *pool, int i, coffer_dev_info_t *info);

/*
 * The persistent error log: one callback per unrecoverable block found
 * (by the last scrub or by reads), naming the dataset and file path
 * ("tank/fs:/a/b", or "tank/fs object 17" when no path can be found).
 */
int coffer_pool_errors(coffer_pool_t *pool,
    int (*cb)(const char *where, void *arg), void *arg);

/* Progress callback for long operations; return non-zero to stop.  It
 * runs while the operation holds the pool (a scrub or walk keeps txgs from
 * syncing meanwhile): it may read, but must not change the pool, or it
 * may wait for itself. */
typedef int (*coffer_progress_fn)(uint64_t done, uint64_t total, void *arg);

int coffer_pool_scrub(coffer_pool_t *pool, coffer_progress_fn progress,
    void *arg);

/*
 * Consistency check of the space accounting (a debugging and crash-test
 * tool, like zdb's leak detection): walk every block reachable from the
 * last committed txg and compare with the allocator's persistent bitmap.
 * Works on a pool opened read-only.  Syncs first when opened for
 * writing.  Fills rep and returns 0 when the walk completed, whatever it
 * found; a walk that cannot read a block fails with its error.
 *   reachable_bytes   bytes of every copy of every reachable block
 *   allocated_bytes   bytes the allocator has marked in use
 *   leaked_bytes      allocated but not reachable (allocated - reachable)
 *   double_refs       copies overlapping an earlier reachable copy
 *   unallocated_refs  reachable copies in space marked free
 * A healthy pool has the last three at zero.
 */
typedef struct coffer_check_report {
	uint64_t reachable_bytes, allocated_bytes, leaked_bytes, double_refs,
	    unallocated_refs;
} coffer_check_report_t;
int coffer_pool_check(coffer_pool_t *pool, coffer_check_report_t *rep);

/* ---- datasets and properties -------------------------------------------- */

#define COFFER_TYPE_FILESYSTEM 1
#define COFFER_TYPE_VOLUME     2
#define COFFER_TYPE_SNAPSHOT   4

/*
 * Dataset names: "pool/a/b"; snapshots "pool/a/b@snap".  Components are
 * [A-Za-z0-9_.:-]+, at most 255 bytes in total.
 *
 * coffer_create: type FILESYSTEM or VOLUME (volsize > 0 required for a
 * volume).  props: NULL-terminated "name=value" strings.  The parent
 * must exist.
 */
int coffer_create(coffer_pool_t *pool, const char *name, int type,
    uint64_t volsize, const char *const *props);

#define COFFER_DESTROY_RECURSIVE 0x1
int coffer_destroy(coffer_pool_t *pool, const char *name, int flags);

int coffer_snapshot(coffer_pool_t *pool, const char *snapname);
/* Roll back to the most recent snapshot (COFFER_EHASCHILD if newer
 * snapshots exist, unless flags has COFFER_DESTROY_RECURSIVE). */
int coffer_rollback(coffer_pool_t *pool, const char *snapname, int flags);

/* Iterate datasets: names under `root` (or all when NULL), depth-first in
 * name order, filesystems then their snapshots in creation order. */
#define COFFER_ITER_RECURSIVE 0x1
typedef int (*coffer_ds_cb)(const char *name, int type, void *arg);
int coffer_ds_iter(coffer_pool_t *pool, const char *root, int flags,
    int types, coffer_ds_cb cb, void *arg);

/* Property sources */
#define COFFER_SRC_NONE      0  /* read-only / computed: "-" */
#define COFFER_SRC_DEFAULT   1
#define COFFER_SRC_LOCAL     2
#define COFFER_SRC_INHERITED 3  /* from `inherited_from` */
#define COFFER_SRC_RECEIVED  4

typedef struct coffer_propval {
	char value[1024];           /* human form ("1.50G", "lz4", "on") */
	char raw[1024];             /* parsable form (bytes, seconds) */
	int source;
	char inherited_from[256];
} coffer_propval_t;

int coffer_prop_get(coffer_pool_t *pool, const char *ds, const char *prop,
    coffer_propval_t *out);
int coffer_prop_set(coffer_pool_t *pool, const char *ds, const char *prop,
    const char *value);
int coffer_prop_inherit(coffer_pool_t *pool, const char *ds,
    const char *prop);
/* All property names in display order (NULL-terminated static array). */
const char *const *coffer_prop_names(void);

/* ---- files ------------------------------------------------------------- */

typedef struct coffer_fs coffer_fs_t;

/*
 * Open the filesystem or volume `name` (or a snapshot "fs@snap", always
 * read-only).  Fails with COFFER_ENOKEY when its key is not loaded.
 */
int coffer_fs_open(coffer_pool_t *pool, const char *name, int flags,
    coffer_fs_t **out);
int coffer_fs_close(coffer_fs_t *fs);
/* Inode number of the root directory. */
uint64_t coffer_fs_root(coffer_fs_t *fs);

typedef struct coffer_stat {
	uint64_t ino;
	uint32_t mode;            /* S_IFMT | permission bits */
	uint32_t nlink;
	uint32_t uid, gid;
	uint64_t size;
	uint64_t blocks;          /* bytes allocated, incl. indirect blocks */
	uint64_t rdev;
	int64_t atime_sec, mtime_sec, ctime_sec, crtime_sec;
	uint32_t atime_nsec, mtime_nsec, ctime_nsec, crtime_nsec;
	uint64_t gen;
} coffer_stat_t;

/* setattr mask bits */
#define COFFER_SET_MODE  0x01
#define COFFER_SET_UID   0x02
#define COFFER_SET_GID   0x04
#define COFFER_SET_SIZE  0x08
#define COFFER_SET_ATIME 0x10
#define COFFER_SET_MTIME 0x20
#define COFFER_SET_CTIME 0x40

/* Resolve an absolute path ("/a/b").  follow: follow a final symlink.
 * Intermediate symlinks are always followed (at most 40). */
int coffer_resolve(coffer_fs_t *fs, const char *path, int follow,
    uint64_t *ino);
int coffer_lookup(coffer_fs_t *fs, uint64_t dir, const char *name,
    uint64_t *ino);
int coffer_getattr(coffer_fs_t *fs, uint64_t ino, coffer_stat_t *st);
int coffer_setattr(coffer_fs_t *fs, uint64_t ino, int mask,
    const coffer_stat_t *st);

/* Create a node in `dir`.  mode carries S_IFREG, S_IFDIR, S_IFLNK (target
 * given), S_IFIFO, S_IFCHR/S_IFBLK (rdev), S_IFSOCK.  -EEXIST if taken. */
int coffer_mknod(coffer_fs_t *fs, uint64_t dir, const char *name,
    uint32_t mode, uint32_t uid, uint32_t gid, uint64_t rdev,
    const char *symlink_target, uint64_t *ino);
int coffer_readlink(coffer_fs_t *fs, uint64_t ino, char *buf, size_t size);
int coffer_link(coffer_fs_t *fs, uint64_t ino, uint64_t newdir,
    const char *newname);
int coffer_unlink(coffer_fs_t *fs, uint64_t dir, const char *name);
int coffer_rmdir(coffer_fs_t *fs, uint64_t dir, const char *name);
#define COFFER_RENAME_NOREPLACE 0x1
int coffer_rename(coffer_fs_t *fs, uint64_t dir, const char *name,
    uint64_t newdir, const char *newname, int flags);

/* Read/write return the byte count (>= 0) or a negative code.  A large
 * write is committed 8 MiB at a time: if it fails part way (out of space)
 * it returns the bytes written before the failure, as write(2) does, and
 * the file's size includes exactly those. */
int64_t coffer_read(coffer_fs_t *fs, uint64_t ino, uint64_t off, void *buf,
    size_t len);
int64_t coffer_write(coffer_fs_t *fs, uint64_t ino, uint64_t off,
    const void *buf, size_t len);
int coffer_truncate(coffer_fs_t *fs, uint64_t ino, uint64_t size);

/*
 * Directory listing.  *cookie starts at 0; cb is called per entry
 * (including "." and ".." first) with the cookie of the NEXT entry, so
 * that a caller can stop and resume.  cb returns non-zero to stop.
 * Returns 0 at end or when stopped.
 */
typedef int (*coffer_dir_cb)(const char *name, uint64_t ino, uint32_t type,
    uint64_t next_cookie, void *arg);
int coffer_readdir(coffer_fs_t *fs, uint64_t dir, uint64_t *cookie,
    coffer_dir_cb cb, void *arg);

/* Extended attributes.  get/list return the size, or -ERANGE if too small
 * (size 0 asks for the size).  list: NUL-separated names. */
int coffer_setxattr(coffer_fs_t *fs, uint64_t ino, const char *name,
    const void *value, size_t size, int flags);
int64_t coffer_getxattr(coffer_fs_t *fs, uint64_t ino, const char *name,
    void *value, size_t size);
int64_t coffer_listxattr(coffer_fs_t *fs, uint64_t ino, char *list,
    size_t size);
int coffer_removexattr(coffer_fs_t *fs, uint64_t ino, const char *name);

/* ---- volumes ----------------------------------------------------------- */

/* A volume opened with coffer_fs_open is addressed by byte offset. */
uint64_t coffer_vol_size(coffer_fs_t *vol);
int64_t coffer_vol_read(coffer_fs_t *vol, uint64_t off, void *buf,
    size_t len);
int64_t coffer_vol_write(coffer_fs_t *vol, uint64_t off, const void *buf,
    size_t len);

/* ---- encryption ------------------------------------------------------------ */

/*
 * User keys.  The library never prompts: the caller passes the key it read
 * from the terminal, a file named by keylocation, or standard input.  For
 * keyformat=passphrase: 8 to 512 bytes; hex: exactly 64 hex digits; raw:
 * exactly 32 bytes.  The library copies what it needs into locked memory;
 * the caller wipes its own copy.
 */
typedef struct coffer_key {
	const uint8_t *data;
	size_t len;
} coffer_key_t;

/*
 * Create with a key: props may carry encryption=SUITE, keyformat=,
 * keylocation=, pbkdf=argon2id|pbkdf2, pbkdf2iters=N.  A dataset created
 * with keyformat is an encryption root and needs `key`; a child of an
 * encrypted dataset without keyformat inherits the parent's root (whose
 * key must be loaded) and gets its own master key.
 */
int coffer_create_key(coffer_pool_t *pool, const char *name, int type,
    uint64_t volsize, const char *const *props, const coffer_key_t *key);

/* load-key flags */
#define COFFER_KEY_NOOP    0x1  /* -n: check the key, load nothing */
#define COFFER_KEY_PERSIST 0x2  /* keep it loaded for later processes of
				   this user (kernel keyring) until unload */
/*
 * Load the key of the encryption root of `ds` (the root itself or any
 * dataset under it).  COFFER_EWRONGKEY for a wrong key; COFFER_EEXIST if
 * already loaded.
 */
int coffer_load_key(coffer_pool_t *pool, const char *ds,
    const coffer_key_t *key, int flags);
/* Unload; COFFER_EBUSY (detail names the holder) while a dataset under the
 * root is open in this process or held by another; ENOKEY if not loaded. */
int coffer_unload_key(coffer_pool_t *pool, const char *ds);

/*
 * change-key: re-wrap every master key under the root with a new wrapping
 * key made from `newkey` (props: keyformat=, keylocation=, pbkdf=,
 * pbkdf2iters=).  All key slots are replaced by this one.  No data is
 * re-encrypted.  The root's key must be loaded.  With `inherit`, `ds`
 * stops being a root and joins its parent's root (newkey unused).
 */
int coffer_change_key(coffer_pool_t *pool, const char *ds,
    const char *const *props, const coffer_key_t *newkey, int inherit);

/* Key slots of an encryption root (at most 8): any one unlocks it. */
#define COFFER_MAX_KEY_SLOTS 8
typedef struct coffer_slot_info {
	int slot;
	char keyformat[16];     /* passphrase | hex | raw */
	char kdf[16];           /* argon2id | pbkdf2 | none */
	uint64_t iters;         /* argon2 t or pbkdf2 iterations */
	uint64_t mem_kib;       /* argon2 memory */
	uint64_t lanes;         /* argon2 parallelism */
	uint64_t created;       /* seconds */
} coffer_slot_info_t;
int coffer_key_slot_add(coffer_pool_t *pool, const char *ds,
    const char *const *props, const coffer_key_t *newkey);
int coffer_key_slot_remove(coffer_pool_t *pool, const char *ds, int slot);
int coffer_key_slot_list(coffer_pool_t *pool, const char *ds,
    int (*cb)(const coffer_slot_info_t *info, void *arg), void *arg);

/* ---- replication ---------------------------------------------------------- */

/*
 * Write the replication stream of snapshot `snap` to fd: full, or
 * incremental from `from` ("@snap" or "fs@snap" of the same dataset;
 * NULL for a full stream).  Without COFFER_SEND_RAW an encrypted
 * dataset's key must be loaded and the stream carries plaintext; with
 * it, blocks go as stored (ciphertext with their salt, IV and MAC, plus
 * the wrapped keys) and no key is needed.  COFFER_SEND_COMPRESSED sends
 * compressed blocks as stored (plaintext of an encrypted dataset is
 * sent uncompressed).  progress (may be NULL) is called with bytes sent
 * so far.
 */
#define COFFER_SEND_RAW        0x1
#define COFFER_SEND_COMPRESSED 0x2
/* One stream of several snapshots: REPLICATE (-R) the dataset and all
 * its descendants with their properties and every snapshot up to
 * `snap` (from `from` on, if given); INTERMEDIATE (-I) every snapshot
 * between `from` and `snap`, not only `snap`. */
#define COFFER_SEND_REPLICATE    0x4
#define COFFER_SEND_INTERMEDIATE 0x8
int coffer_send(coffer_pool_t *pool, const char *snap, const char *from,
    int flags, int fd, coffer_progress_fn progress, void *arg);

/*
 * The same with more choices (a, required):
 *  - a->token: send -t, the rest of an interrupted stream; snap and from
 *    are then ignored (NULL) and the token names the snapshot.
 *  - a->dryrun: send -n: walk what would be sent without reading data or
 *    writing to fd; a->bytes is then the stream's size (exact for the
 *    records, an estimate as a whole).
 *  - a->total: the total progress reports (e.g. a dry run's bytes); 0
 *    for the snapshot's referenced bytes.
 * a->bytes receives the bytes written.  progress gets stream bytes.
 */
typedef struct coffer_send_args {
	const char *token;
	int dryrun;
	uint64_t total;
	uint64_t bytes;         /* out */
} coffer_send_args_t;
int coffer_send_ext(coffer_pool_t *pool, const char *snap, const char *from,
    int flags, coffer_send_args_t *a, int fd, coffer_progress_fn progress,
    void *arg);

/* What a resume token names (decoded without checking it: only the
 * receiver that made it can). -EINVAL for a malformed token. */
typedef struct coffer_resume_info {
	char toname[256], fromname[256];        /* fromname "" for a full */
	uint64_t toguid, fromguid;
	uint64_t object, offset, bytes;         /* where it resumes */
	uint64_t features;                      /* stream feature bits */
} coffer_resume_info_t;
int coffer_resume_token_info(const char *token, coffer_resume_info_t *out);

#define COFFER_RECV_FORCE     0x1 /* roll the target back to the stream's base */
#define COFFER_RECV_RESUMABLE 0x2 /* keep an interrupted receive (resume) */
#define COFFER_RECV_DNAME     0x4 /* -d: target/<sent name without pool> */
#define COFFER_RECV_ENAME     0x8 /* -e: target/<last element of sent name> */
/*
 * Receive a stream from fd into dataset `target` (a new dataset for a
 * full stream; for an incremental, the dataset whose latest snapshot is
 * the stream's base).  Atomic: on any error the target is as it was.
 * COFFER_EBADSTREAM with the detail "record N (TYPE) at byte X: why".
 *
 * COFFER_RECV_RESUMABLE: when the stream ends early or cannot be read
 * (or progress stops it), the partial receive is kept, and the target's
 * property receive_resume_token gives the token for send -t; a damaged
 * stream or any other failure still discards it.  A new receive into
 * that target is refused (COFFER_EBUSY) until the stream is resumed or
 * the partial receive discarded (coffer_receive_abort).  A resumed
 * stream (send -t) continues it whatever the flags, after the receiver
 * checked the stream's token (COFFER_EAUTH: not made here) and that the
 * stream is the interrupted one with the same features.
 *
 * DNAME / ENAME: the dataset received into is target plus the sent
 * dataset's name without its pool (-d) or its last element (-e);
 * missing datasets in between are created.  coffer_receive_named
 * returns that name in name (namelen bytes; may be NULL).
 */
int coffer_receive(coffer_pool_t *pool, const char *target, int flags,
    int fd);
int coffer_receive_named(coffer_pool_t *pool, const char *target, int flags,
    int fd, char *name, size_t namelen);
/* receive -A: discard target's interrupted receive and free its space.
 * COFFER_ENODS when there is none; COFFER_EBUSY while it runs. */
int coffer_receive_abort(coffer_pool_t *pool, const char *target);


/* ---- signed streams (RFD 14) ------------------------------------------------ */

/*
 * The keyring of signing keys: key pairs (ours: they sign) and trusted
 * public keys (theirs: they verify).  A directory, $COFFER_KEYRING or
 * else coffer_home() + "/keys", owned by the user and not writable by
 * others; private keys are mode 0600 PKCS#8 PEM, encrypted when they
 * have a passphrase.  Anything looser is refused (-EACCES, the detail
 * says what to fix).  Every function below takes the keyring directory
 * (NULL: coffer_keyring_dir()).
 *
 * Algorithms: "ed25519", "ecdsa-p256", "ecdsa-p384".  Fingerprints:
 * "SHA256:" and the base64 of SHA-256 over the raw public key.  Key
 * names: 1..64 of [A-Za-z0-9_.:-], not starting with '.' or '-'.
 */
const char *coffer_keyring_dir(void);   /* static string */

typedef struct coffer_signkey_info {
	char name[65];
	char alg[16];
	char fingerprint[52];
	int has_private;        /* a key pair; else a trusted public key */
	int encrypted;          /* its private key has a passphrase */
} coffer_signkey_info_t;

/* A new key pair; pass (may be NULL) protects the private key.  info
 * may be NULL.  COFFER_EEXIST if the name is taken. */
int coffer_signkey_generate(const char *keyring, const char *name,
    const char *alg, const coffer_key_t *pass, coffer_signkey_info_t *info);
/* Every key in name order; cb returns non-zero to stop. */
int coffer_signkey_list(const char *keyring,
    int (*cb)(const coffer_signkey_info_t *info, void *arg), void *arg);
/* The public key `id` (a name, a fingerprint or "default": the first key
 * pair in name order) as one line "coffer-ALG BASE64 NAME" (no
 * newline) in buf. */
int coffer_signkey_export(const char *keyring, const char *id, char *buf,
    size_t n);
/* Trust a public key given as such a line (one trailing newline
 * allowed); name (may be NULL) renames it.  COFFER_EEXIST when the name
 * or the key is already in the keyring. */
int coffer_signkey_trust(const char *keyring, const char *text, size_t len,
    const char *name, coffer_signkey_info_t *info);
/* Remove a key (both halves); a private key file is overwritten first. */
int coffer_signkey_remove(const char *keyring, const char *name);

/*
 * A key pair opened for signing: `id` as for export.  COFFER_ENOKEY when
 * the key has a passphrase and pass is NULL; COFFER_EWRONGKEY for a
 * wrong one.  The private key stays in OpenSSL's secure heap (locked
 * when RLIMIT_MEMLOCK allows, wiped on free) until coffer_signer_close.
 */
typedef struct coffer_signer coffer_signer_t;
int coffer_signer_open(const char *keyring, const char *id,
    const coffer_key_t *pass, coffer_signer_t **out);
int coffer_signer_info(const coffer_signer_t *s, coffer_signkey_info_t *info);
void coffer_signer_close(coffer_signer_t *s);   /* NULL is ignored */

#define COFFER_SIGN_CHAIN  0    /* hash chain, signatures at checkpoints */
#define COFFER_SIGN_RECORD 1    /* every record signed (RFD 14 as written) */
/* coffer_send_ext, signed with `signer` (NULL: unsigned) in `mode`;
 * the dry run (a->dryrun) counts the signing keys in BEGIN. */
int coffer_send_signed(coffer_pool_t *pool, const char *snap,
    const char *from, int flags, coffer_send_args_t *a,
    const coffer_signer_t *signer, int mode, int fd,
    coffer_progress_fn progress, void *arg);

/*
 * Receive flags for signed streams.  Without either, the target's
 * receive_policy property decides: "signed" acts as COFFER_RECV_SIGNED,
 * "any" (the default) accepts unsigned streams.  Whatever the flags, a
 * signed stream whose key is in the keyring is verified, and a signature
 * that does not verify is an error (COFFER_EAUTH).  A signed stream whose
 * key is not in the keyring is refused unless COFFER_RECV_UNVERIFIED.
 */
#define COFFER_RECV_SIGNED     0x10 /* -s: only streams signed by a
				       trusted key */
#define COFFER_RECV_UNVERIFIED 0x20 /* -k: also unsigned streams and
				       unknown keys, unverified */
typedef struct coffer_recv_info {
	int is_signed;
	int verified;           /* every record was verified before use */
	char fingerprint[52];   /* of the signing key, when signed */
	char keyname[65];       /* its name in the keyring, "" if unknown */
	char mode[8];           /* "chain" or "record", when signed */
	uint64_t checkpoints;   /* signatures verified */
} coffer_recv_info_t;
/* coffer_receive_named with a keyring (NULL: coffer_keyring_dir());
 * info (may be NULL) says what was verified, also after a failure.
 * coffer_receive and coffer_receive_named use the default keyring. */
int coffer_receive_verify(coffer_pool_t *pool, const char *target,
    int flags, int fd, char *name, size_t namelen, const char *keyring,
    coffer_recv_info_t *info);

#ifdef __cplusplus
}
#endif
#endif
