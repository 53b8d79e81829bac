/*
 * mem.c: a memory device for tests.
 *
 * The bytes live in one calloc'd array, so a new device reads as zeros
 * like a new sparse file, and flush has nothing to do: memory is as
 * durable as it will ever be.  Requests to disjoint ranges may run from
 * several threads at once; overlapping concurrent requests are the
 * caller's race, as they would be on a real disk.
 */
#include "vdev/vdev_impl.h"

#include <stdlib.h>

static int mem_pread(cf_vdev_t *v, uint64_t off, void *buf, size_t len)
{
	memcpy(buf, (const uint8_t *)v->priv + off, len);
	return 0;
}

static int mem_pwrite(cf_vdev_t *v, uint64_t off, const void *buf,
    size_t len)
{
	memcpy((uint8_t *)v->priv + off, buf, len);
	return 0;
}

static int mem_flush(cf_vdev_t *v)
{
	(void)v;
	return 0;
}

static void mem_close(cf_vdev_t *v)
{
	free(v->priv);
	v->priv = NULL;
}

static const struct cf_vdev_ops mem_ops = {
	.pread = mem_pread,
	.pwrite = mem_pwrite,
	.flush = mem_flush,
	.close = mem_close,
};

int cf_vdev_open_mem(uint64_t size, cf_vdev_t **out)
{
	uint8_t *bytes;
	cf_vdev_t *v;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	size -= size % CF_LABEL_SIZE;
	if (size < CF_VDEV_MIN_OPEN_SIZE)
		return -EINVAL;
	if (size > SIZE_MAX)
		return -ENOMEM;
	bytes = calloc(1, (size_t)size);
	if (bytes == NULL)
		return -ENOMEM;
	v = cf_vdev_new(&mem_ops, size, NULL, bytes);
	if (v == NULL) {
		free(bytes);
		return -ENOMEM;
	}
	*out = v;
	return 0;
}
