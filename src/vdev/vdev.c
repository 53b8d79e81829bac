/*
 * vdev.c: the one door through which every device I/O passes.
 *
 * The back ends (file.c, mem.c, fault.c) implement struct cf_vdev_ops;
 * callers never call the ops directly but go through cf_vdev_read,
 * cf_vdev_write and cf_vdev_flush here, so the checks below happen once
 * for every back end and cannot be forgotten by a new one.
 *
 * Invariants
 *  1. No I/O ever touches a byte outside [0, v->size): every offset and
 *     length is checked here, with overflow-safe arithmetic, before a back
 *     end sees it; a request that does not fit fails with -EINVAL and
 *     touches nothing.  A zero-length request succeeds and does nothing.
 *  2. v->size is a multiple of CF_LABEL_SIZE and at least
 *     CF_VDEV_MIN_OPEN_SIZE (room for the four labels), so the label
 *     offsets and the data area below are always well defined.
 *  3. The allocatable data area is [2 * CF_LABEL_SIZE, size - 2 *
 *     CF_LABEL_SIZE): L0 and L1 before it, L2 and L3 after it.  Only
 *     label.c writes outside it.
 *  4. Back ends return 0 or -errno; a short transfer is never reported
 *     as success.  A back end that cannot complete a request returns an
 *     error; the caller must assume that any part of a failed write may
 *     or may not have reached the device.
 *  5. A handle is freed in one place (cf_vdev_close): the back end's
 *     close releases its private state, then the path and the handle are
 *     freed here.
 */
#include "vdev/vdev_impl.h"

#include <stdlib.h>

cf_vdev_t *cf_vdev_new(const struct cf_vdev_ops *ops, uint64_t size,
    const char *path, void *priv)
{
	cf_vdev_t *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return NULL;
	if (path != NULL) {
		v->path = strdup(path);
		if (v->path == NULL) {
			free(v);
			return NULL;
		}
	}
	v->ops = ops;
	v->size = size;
	v->priv = priv;
	return v;
}

void cf_vdev_free(cf_vdev_t *v)
{
	if (v == NULL)
		return;
	free(v->path);
	free(v);
}

/* 0 when [off, off + len) lies inside the device, -EINVAL otherwise. */
static int check_range(const cf_vdev_t *v, uint64_t off, size_t len,
    const void *buf)
{
	uint64_t end;

	if (v == NULL || v->ops == NULL)
		return -EINVAL;
	if (len > 0 && buf == NULL)
		return -EINVAL;
	if (cf_add_overflows(off, (uint64_t)len, &end) || end > v->size)
		return -EINVAL;
	return 0;
}

int cf_vdev_read(cf_vdev_t *v, uint64_t off, void *buf, size_t len)
{
	int rc = check_range(v, off, len, buf);

	if (rc != 0)
		return rc;
	if (len == 0)
		return 0;
	return v->ops->pread(v, off, buf, len);
}

int cf_vdev_write(cf_vdev_t *v, uint64_t off, const void *buf, size_t len)
{
	int rc = check_range(v, off, len, buf);

	if (rc != 0)
		return rc;
	if (len == 0)
		return 0;
	return v->ops->pwrite(v, off, buf, len);
}

int cf_vdev_flush(cf_vdev_t *v)
{
	if (v == NULL || v->ops == NULL)
		return -EINVAL;
	return v->ops->flush(v);
}

void cf_vdev_close(cf_vdev_t *v)
{
	if (v == NULL)
		return;
	if (v->ops != NULL && v->ops->close != NULL)
		v->ops->close(v);
	cf_vdev_free(v);
}

uint64_t cf_vdev_data_start(const cf_vdev_t *v)
{
	(void)v;
	return CF_VDEV_DATA_START;
}

uint64_t cf_vdev_data_end(const cf_vdev_t *v)
{
	/* Invariant 2 makes this at least CF_VDEV_DATA_START; the guard
	 * only keeps a hand-made handle from producing a huge value. */
	if (v == NULL || v->size < CF_VDEV_MIN_OPEN_SIZE)
		return CF_VDEV_DATA_START;
	return v->size - 2 * (uint64_t)CF_LABEL_SIZE;
}
