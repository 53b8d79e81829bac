/*
 * receive -d / -e: the dataset a stream goes to, from the dataset named
 * on the command line and the stream's toname (OpenZFS semantics):
 *   -d  DATASET / the sent dataset's name without its pool name
 *       (tank/a/b@s into backup: backup/a/b);
 *   -e  DATASET / the last element of the sent dataset's name
 *       (tank/a/b@s into backup: backup/b).
 * Missing datasets between DATASET and the target are created as
 * filesystems (as `zfs receive -d` creates them); DATASET itself must
 * exist.
 */
#include "send/send.h"

#include <stdio.h>

int cf_recv_target(dsl_pool_t *dp, const char *base, const char *toname,
    int flags, char *out, size_t n)
{
	char fs[512];
	const char *at = strchr(toname, '@');
	size_t fl = at ? (size_t)(at - toname) : strlen(toname);
	if (fl == 0 || fl >= sizeof(fs)) {
		cf_set_errdetail("the stream's snapshot name is not usable");
		return COFFER_EBADSTREAM;
	}
	memcpy(fs, toname, fl);
	fs[fl] = '\0';
	const char *tail;
	if (flags & CF_RECV_ENAME) {
		const char *sl = strrchr(fs, '/');
		tail = sl ? sl + 1 : fs;
	} else {
		const char *sl = strchr(fs, '/');
		tail = sl ? sl + 1 : "";
	}
	int err = dsl_lookup(dp, base, NULL);
	if (err == COFFER_ENODS)
		cf_set_errdetail("'%s' does not exist", base);
	if (err)
		return err;
	if (*tail == '\0') {
		cf_set_errdetail("the stream is of a pool's root dataset: give "
		    "the target without -d");
		return -EINVAL;
	}
	if (cf_snprintf(out, n, "%s/%s", base, tail))
		return COFFER_EBADNAME;
	err = dsl_name_check(out, 0);
	if (err)
		return err;
	/* create the missing datasets between base and the target */
	for (char *p = out + strlen(base) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		err = dsl_lookup(dp, out, NULL);
		if (err == COFFER_ENODS)
			err = dsl_create(dp, out, COFFER_TYPE_FILESYSTEM, 0,
			    NULL);
		*p = '/';
		if (err)
			return err;
	}
	return 0;
}
