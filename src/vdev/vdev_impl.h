/*
 * vdev_impl.h: what the back ends (file.c, mem.c, fault.c) share with the
 * dispatcher in vdev.c.  Nothing outside src/vdev includes this.
 */
#ifndef COFFER_VDEV_IMPL_H
#define COFFER_VDEV_IMPL_H

#include "vdev/vdev.h"

/*
 * Allocate a vdev handle.  `path` is copied (it may be NULL); `size` must
 * already be a multiple of CF_LABEL_SIZE.  Returns NULL when out of
 * memory.  The handle is released by cf_vdev_close(), which calls
 * ops->close (which releases priv only) and then frees path and handle.
 */
cf_vdev_t *cf_vdev_new(const struct cf_vdev_ops *ops, uint64_t size,
    const char *path, void *priv);

/* Free a handle from cf_vdev_new() whose priv was never set up. */
void cf_vdev_free(cf_vdev_t *v);

#endif
