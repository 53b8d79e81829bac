/*
 * fs: POSIX filesystem semantics over dmu objects.
 *
 * This file is the whole contract of the fs layer.  A filesystem lives in
 * one object set: object 1 is the master node (a zap naming the root
 * directory), every file, directory, symlink and special node is one
 * object whose bonus buffer holds its attributes, and the inode number of
 * a node is its object id.  The lib layer wraps these functions 1:1 into
 * the coffer_* file API of coffer.h; they have the semantics and error
 * codes documented there, plus what is said here.
 *
 * Conventions
 *  - 0 (or a byte count) on success, -errno or COFFER_E* on failure.
 *    COFFER_ECORRUPT when on-disk bytes fail a check (never a crash).
 *  - Every change runs in one dmu transaction: it lands in one txg, so
 *    it is atomic across a crash.  Validation happens before the first
 *    change.
 *  - Every changing call returns -EROFS when the object set is read-only
 *    (a snapshot).
 *  - Names: 1..255 bytes, no '/', not "." or ".."; -EINVAL for a bad
 *    name, -ENAMETOOLONG for one over 255 bytes.  Lookup and resolve
 *    accept "." and "..".
 *  - All calls may be made from several threads at once.
 */
#ifndef COFFER_FS_H
#define COFFER_FS_H

#include "dmu/dmu.h"

typedef struct cf_fs cf_fs_t;

#define CF_FS_VERSION       1
#define CF_FS_MAX_FILESIZE  ((uint64_t)INT64_MAX) /* -EFBIG beyond */
#define CF_FS_LINK_MAX      UINT32_MAX            /* -EMLINK at this */
#define CF_FS_SYMLINK_MAX   4095                  /* target bytes */
#define CF_FS_PATH_MAX      4096                  /* resolve input, NUL incl. */
#define CF_FS_MAXSYMLINKS   40                    /* -ELOOP beyond */
#define CF_FS_XATTR_SIZE_MAX 65536                /* -E2BIG beyond */

/* setxattr flags (the values of Linux XATTR_CREATE / XATTR_REPLACE) */
#define CF_FS_XATTR_CREATE  0x1 /* -EEXIST if it exists */
#define CF_FS_XATTR_REPLACE 0x2 /* -ENODATA if it does not */

/*
 * Create an empty filesystem in an empty object set (-EEXIST if it holds
 * any object): the master node (object 1), the root directory (owner
 * uid:gid, permission bits from mode) and an empty delete queue.  Runs in
 * the caller's tx so that the dsl can create a dataset and its filesystem
 * atomically.
 */
int cf_fs_format(cf_objset_t *os, cf_tx_t *tx, uint32_t uid, uint32_t gid,
    uint32_t mode) CF_MUST_CHECK;

/*
 * Mount: check the master node (COFFER_ENOTSUP for an unknown version,
 * -ENOENT for an object set without a filesystem) and, when writable,
 * free the objects left in the delete queue.  The object set must stay
 * open until cf_fs_unmount.
 */
int cf_fs_mount(cf_objset_t *os, cf_fs_t **out) CF_MUST_CHECK;
void cf_fs_unmount(cf_fs_t *fs);

uint64_t cf_fs_root(cf_fs_t *fs);

/* Absolute path ("/a/b"; -EINVAL if relative).  follow: follow a final
 * symlink; intermediate ones always (40 at most: -ELOOP).  A trailing '/'
 * requires a directory (and follows a final symlink). */
int cf_fs_resolve(cf_fs_t *fs, const char *path, int follow, uint64_t *ino)
    CF_MUST_CHECK;
int cf_fs_lookup(cf_fs_t *fs, uint64_t dir, const char *name, uint64_t *ino)
    CF_MUST_CHECK;
/* -ENOENT for an object id that is not a file, directory, symlink or
 * special node of this filesystem. */
int cf_fs_getattr(cf_fs_t *fs, uint64_t ino, coffer_stat_t *st)
    CF_MUST_CHECK;
/* mask: COFFER_SET_*.  MODE changes only the permission bits (07777).
 * SIZE works as cf_fs_truncate.  ctime becomes now unless CTIME is set.
 * -EINVAL for nsec >= 10^9 or unknown mask bits.  Reads never update
 * atime (noatime). */
int cf_fs_setattr(cf_fs_t *fs, uint64_t ino, int mask,
    const coffer_stat_t *st) CF_MUST_CHECK;

/*
 * Create a node: mode carries S_IFREG, S_IFDIR, S_IFLNK (target required,
 * 1..4095 bytes: -EINVAL if NULL, -ENOENT if empty, -ENAMETOOLONG if
 * longer), S_IFIFO, S_IFCHR / S_IFBLK (rdev kept), S_IFSOCK; -EINVAL for
 * any other type.  -EEXIST if the name is taken.  ino may be NULL.
 */
int cf_fs_mknod(cf_fs_t *fs, uint64_t dir, const char *name, uint32_t mode,
    uint32_t uid, uint32_t gid, uint64_t rdev, const char *symlink_target,
    uint64_t *ino) CF_MUST_CHECK;
/* Copy the target into buf, NUL-terminated and truncated to size - 1
 * bytes; returns the full target length.  -EINVAL if not a symlink. */
int cf_fs_readlink(cf_fs_t *fs, uint64_t ino, char *buf, size_t size)
    CF_MUST_CHECK;
/* -EPERM for a directory, -EMLINK at CF_FS_LINK_MAX links. */
int cf_fs_link(cf_fs_t *fs, uint64_t ino, uint64_t newdir,
    const char *newname) CF_MUST_CHECK;
/* -EISDIR for a directory.  The node is freed with its last link. */
int cf_fs_unlink(cf_fs_t *fs, uint64_t dir, const char *name) CF_MUST_CHECK;
/* -ENOTDIR if not a directory, -ENOTEMPTY unless empty. */
int cf_fs_rmdir(cf_fs_t *fs, uint64_t dir, const char *name) CF_MUST_CHECK;
/*
 * Rename, atomically replacing an existing target (a non-directory by a
 * non-directory, an empty directory by a directory).  -EINVAL when a
 * directory would move into its own subtree or for unknown flags,
 * -EEXIST with COFFER_RENAME_NOREPLACE, -ENOTDIR / -EISDIR / -ENOTEMPTY
 * as rename(2).  Renaming onto another link of the same node does
 * nothing and succeeds.
 */
int cf_fs_rename(cf_fs_t *fs, uint64_t dir, const char *name,
    uint64_t newdir, const char *newname, int flags) CF_MUST_CHECK;

/* Regular files only (-EISDIR for a directory, -EINVAL otherwise).  Read
 * returns fewer bytes at end of file, 0 at or past it.  Write extends the
 * file and updates mtime and ctime; -EFBIG when off is at or past
 * CF_FS_MAX_FILESIZE (a write crossing it is cut short). */
int64_t cf_fs_read(cf_fs_t *fs, uint64_t ino, uint64_t off, void *buf,
    size_t len) CF_MUST_CHECK;
int64_t cf_fs_write(cf_fs_t *fs, uint64_t ino, uint64_t off,
    const void *buf, size_t len) CF_MUST_CHECK;
int cf_fs_truncate(cf_fs_t *fs, uint64_t ino, uint64_t size) CF_MUST_CHECK;

/*
 * List a directory: "." and ".." first (cookies 0 and 1), then the
 * entries in hash order.  cb gets the entry type as a DT_* value (S_IFMT
 * bits >> 12) and the cookie of the next entry; *cookie is updated as
 * entries are delivered.  When cb returns non-zero the listing stops and
 * *cookie is left AT that entry (it was not consumed).  Returns 0 at the
 * end or when stopped.  cb runs without fs locks held, so it may call
 * back into the fs; entries added or removed meanwhile may or may not be
 * listed, others are listed exactly once.
 */
int cf_fs_readdir(cf_fs_t *fs, uint64_t dir, uint64_t *cookie,
    coffer_dir_cb cb, void *arg) CF_MUST_CHECK;

/*
 * Extended attributes.  Names: 1..255 bytes (-EINVAL empty, -ERANGE
 * longer); values up to CF_FS_XATTR_SIZE_MAX bytes (-E2BIG).  get and
 * list return the size, -ERANGE if size is too small (size 0 asks for
 * the size), -ENODATA for a missing name.  list gives NUL-terminated
 * names in hash order.
 */
int cf_fs_setxattr(cf_fs_t *fs, uint64_t ino, const char *name,
    const void *value, size_t size, int flags) CF_MUST_CHECK;
int64_t cf_fs_getxattr(cf_fs_t *fs, uint64_t ino, const char *name,
    void *value, size_t size) CF_MUST_CHECK;
int64_t cf_fs_listxattr(cf_fs_t *fs, uint64_t ino, char *list, size_t size)
    CF_MUST_CHECK;
int cf_fs_removexattr(cf_fs_t *fs, uint64_t ino, const char *name)
    CF_MUST_CHECK;

#endif
