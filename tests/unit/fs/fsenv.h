/*
 * fsenv.h - shared helpers of the fs tests: a fresh formatted and mounted
 * filesystem on a tenv object set.
 */
#ifndef COFFER_TEST_FSENV_H
#define COFFER_TEST_FSENV_H

#include <stdlib.h>

#include "tenv.h"
#include "fs/fs.h"

static inline cf_fs_t *fsenv_new(cf_objset_t **osp)
{
	cf_objset_t *os = tenv_os_open();
	cf_tx_t *tx;
	cf_fs_t *fs;
	if (cf_tx_begin(os, 1 << 20, &tx))
		abort();
	if (cf_fs_format(os, tx, 1000, 1000, 0755))
		abort();
	cf_tx_end(tx);
	if (cf_fs_mount(os, &fs))
		abort();
	*osp = os;
	return fs;
}

static inline void fsenv_free(cf_fs_t *fs, cf_objset_t *os)
{
	cf_fs_unmount(fs);
	tenv_os_close(os);
}

/* Number of allocated objects. */
static inline uint64_t fsenv_nobj(cf_objset_t *os)
{
	uint64_t o = 0, n = 0;
	while (cf_obj_next(os, &o) == 0)
		n++;
	return n;
}

#endif
