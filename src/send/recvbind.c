/*
 * recvbind: what binds a stream to the target it is received into, on
 * top of what dsl_recv_begin checks (a full stream needs a new dataset;
 * an incremental's base must be the target's latest snapshot).  A signed
 * stream's signatures bind its records to its BEGIN (guids, names); this
 * binds BEGIN to the target: a snapshot the target already has cannot be
 * received again, so an old (signed) incremental cannot be replayed, not
 * even with -F, which would otherwise roll the target back over its
 * newer snapshots first.  (A full stream needs a new dataset, so it
 * cannot be replayed over one.)  docs/STREAM.md §5.6.
 */
#include "send/send.h"

#include <stdio.h>
#include <stdlib.h>

struct replay_arg {
	dsl_pool_t *dp;
	uint64_t guid;
	char found[512];
};

static int snap_cb(const char *snap, void *arg)
{
	struct replay_arg *a = arg;
	coffer_propval_t pv;

	if (dsl_prop_get(a->dp, snap, "guid", &pv) != 0)
		return 0;
	if (strtoull(pv.raw, NULL, 10) == a->guid) {
		cf_strlcpy(a->found, snap, sizeof(a->found));
		return 1;
	}
	return 0;
}

int cf_recv_check_replay(dsl_pool_t *dp, const char *target, uint64_t toguid)
{
	struct replay_arg a = { dp, toguid, "" };
	int type;

	if (dsl_lookup(dp, target, &type) != 0) {
		cf_clear_errdetail();
		return 0;               /* a new dataset: nothing to replay */
	}
	int err = dsl_snapshots(dp, target, snap_cb, &a);
	if (err < 0)
		return err;
	if (a.found[0]) {
		cf_set_errdetail("'%s' already has the stream's snapshot (as "
		    "'%s', guid %llu): a stream is received once", target,
		    a.found, (unsigned long long)toguid);
		return COFFER_EEXIST;
	}
	return 0;
}

int cf_recv_policy(dsl_pool_t *dp, const char *target, int *require_signed)
{
	char name[512];
	coffer_propval_t pv;

	*require_signed = 0;
	cf_strlcpy(name, target, sizeof(name));
	for (;;) {
		int err = dsl_prop_get(dp, name, "receive_policy", &pv);
		if (err == 0) {
			*require_signed = strcmp(pv.value, "signed") == 0;
			return 0;
		}
		char *sl = strrchr(name, '/');
		if (err != COFFER_ENODS || !sl) {
			/* no dataset on the way up: the pool's own checks
			 * will name the problem */
			cf_clear_errdetail();
			return 0;
		}
		*sl = 0;
	}
}
