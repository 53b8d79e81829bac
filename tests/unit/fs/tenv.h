/*
 * tenv.h - how the fs and zap tests get an object set.
 *
 * The tests use only dmu.h, fs.h and these functions, implemented by
 * tenv_real.c over the real DMU (a memory device per object set).
 */
#ifndef COFFER_TEST_TENV_H
#define COFFER_TEST_TENV_H

#include "dmu/dmu.h"

/* A fresh, empty, writable object set. */
cf_objset_t *tenv_os_open(void);
/* A read-only object set holding the current state of os (a snapshot). */
cf_objset_t *tenv_os_snapshot(cf_objset_t *os);
void tenv_os_close(cf_objset_t *os);

#endif
