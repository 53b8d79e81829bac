/*
 * file.c: regular files and block devices.
 *
 * Durability rests on the kernel: a write is durable only after flush
 * returns, which is fdatasync() for a regular file (the size of a pool
 * file never changes after creation, so metadata other than the size is
 * not needed to read the data back) and fsync() for a block device
 * (fdatasync has the same effect there, but fsync is the call every
 * block driver is known to turn into a cache flush).
 *
 * The transfer loops retry on EINTR and continue after short transfers,
 * which the kernel may return for large requests or on signals; a read
 * that hits end of file inside the device (someone truncated the file
 * under us) fails with -EIO rather than returning stale buffer bytes.
 */
#include "vdev/vdev_impl.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/fs.h>
#include <sys/ioctl.h>
#endif

struct file_priv {
	int fd;
	int rdonly;
	int blockdev;
};

/* Never ask the kernel for more than this in one call (Linux caps a
 * single transfer at about 2 GiB anyway). */
#define FILE_IO_MAX ((size_t)1 << 30)

/* Writes from this size up start their writeback at once: larger than
 * any metadata block (indirect blocks are 32 KiB), so in practice data
 * blocks, which are written once per txg; metadata, which a sync may
 * rewrite in place in a later pass, is left to the flush. */
#define FILE_WRITEBACK_MIN ((size_t)40 << 10)

static int file_pread(cf_vdev_t *v, uint64_t off, void *buf, size_t len)
{
	struct file_priv *p = v->priv;
	uint8_t *b = buf;

	while (len > 0) {
		ssize_t n = pread(p->fd, b, CF_MIN(len, FILE_IO_MAX),
		    (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		b += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int file_pwrite(cf_vdev_t *v, uint64_t off, const void *buf,
    size_t len)
{
	struct file_priv *p = v->priv;
	const uint8_t *b = buf;
	uint64_t start = off;
	size_t total = len;

	if (p->rdonly)
		return -EROFS;
	while (len > 0) {
		ssize_t n = pwrite(p->fd, b, CF_MIN(len, FILE_IO_MAX),
		    (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;    /* no progress: do not spin */
		b += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
#ifdef SYNC_FILE_RANGE_WRITE
	/* Start writeback of large writes now, so that the device works
	 * while the pool goes on compressing and checksumming the rest of
	 * the txg; otherwise all of it waits for the flush at the end of
	 * the txg, which then takes as long as the device needs for the
	 * whole txg.  Only a hint: durability is still flush's, and a
	 * writeback error is reported by the fdatasync() in flush. */
	if (total >= FILE_WRITEBACK_MIN)
		(void)sync_file_range(p->fd, (off_t)start, (off_t)total,
		    SYNC_FILE_RANGE_WRITE);
#endif
	return 0;
}

static int file_flush(cf_vdev_t *v)
{
	struct file_priv *p = v->priv;
	int rc;

	if (p->rdonly)
		return 0;
	do {
		rc = p->blockdev ? fsync(p->fd) : fdatasync(p->fd);
	} while (rc != 0 && errno == EINTR);
	return rc == 0 ? 0 : -errno;
}

static void file_close(cf_vdev_t *v)
{
	struct file_priv *p = v->priv;

	if (p == NULL)
		return;
	/* close() errors are not actionable here: durability was decided
	 * by the last flush, which reported its own error. */
	(void)close(p->fd);
	free(p);
	v->priv = NULL;
}

static const struct cf_vdev_ops file_ops = {
	.pread = file_pread,
	.pwrite = file_pwrite,
	.flush = file_flush,
	.close = file_close,
};

/* Size of an open regular file or block device in bytes. */
static int file_size(int fd, const struct stat *st, uint64_t *size)
{
	if (S_ISREG(st->st_mode)) {
		*size = (uint64_t)st->st_size;
		return 0;
	}
#ifdef BLKGETSIZE64
	if (S_ISBLK(st->st_mode)) {
		uint64_t bytes = 0;

		if (ioctl(fd, BLKGETSIZE64, &bytes) != 0)
			return -errno;
		*size = bytes;
		return 0;
	}
#endif
	return -EINVAL;
}

int cf_vdev_open_file(const char *path, int flags, uint64_t size,
    cf_vdev_t **out)
{
	const int known = CF_VDEV_RDONLY | CF_VDEV_CREATE | CF_VDEV_EXCL;
	int create = (flags & CF_VDEV_CREATE) != 0;
	int oflags = O_CLOEXEC | O_NOCTTY;
	int created = 0;
	struct file_priv *p = NULL;
	struct stat st;
	uint64_t devsize = 0;
	cf_vdev_t *v;
	int fd, rc;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (path == NULL || path[0] == '\0' || (flags & ~known) != 0)
		return -EINVAL;
	if ((flags & CF_VDEV_EXCL) && !create)
		return -EINVAL;
	if (create && ((flags & CF_VDEV_RDONLY) || size < CF_VDEV_MIN_SIZE ||
	    size > (uint64_t)INT64_MAX))
		return -EINVAL;

	oflags |= (flags & CF_VDEV_RDONLY) ? O_RDONLY : O_RDWR;
	if (create)
		oflags |= O_CREAT | ((flags & CF_VDEV_EXCL) ? O_EXCL : 0);

	/* With O_CREAT|O_EXCL a successful open means we made the file;
	 * without EXCL, look first so that a failure below does not remove
	 * a file that was there before (a file appearing between the look
	 * and the open is a race we accept: CREATE without EXCL is for
	 * callers that own the path). */
	created = create && ((flags & CF_VDEV_EXCL) || access(path, F_OK) != 0);
	do {
		fd = open(path, oflags, 0600);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -errno;

	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		rc = -EINVAL;
		goto fail;
	}
	/* A new file is made sparse by ftruncate: no data blocks are
	 * allocated until written.  An existing file is only ever grown,
	 * never shrunk, so CREATE cannot destroy data past `size`. */
	if (create && S_ISREG(st.st_mode) && (uint64_t)st.st_size < size) {
		if (ftruncate(fd, (off_t)size) != 0) {
			rc = -errno;
			goto fail;
		}
		if (fstat(fd, &st) != 0) {
			rc = -errno;
			goto fail;
		}
	}
	rc = file_size(fd, &st, &devsize);
	if (rc != 0)
		goto fail;
	devsize -= devsize % CF_LABEL_SIZE;
	if (devsize < CF_VDEV_MIN_OPEN_SIZE) {
		rc = -EINVAL;
		goto fail;
	}

	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	p->fd = fd;
	p->rdonly = (flags & CF_VDEV_RDONLY) != 0;
	p->blockdev = S_ISBLK(st.st_mode);
	v = cf_vdev_new(&file_ops, devsize, path, p);
	if (v == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	*out = v;
	return 0;

fail:
	free(p);
	(void)close(fd);
	if (created)
		(void)unlink(path);
	return rc;
}
