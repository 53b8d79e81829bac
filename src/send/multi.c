/*
 * send/multi: which snapshots a multi-snapshot stream carries (send -I,
 * send -R), the properties -R sends, and where receive puts each segment.
 *
 * A multi-snapshot stream is one stream (one sequence, one running
 * checksum, one signature chain) of segments, each introduced by a
 * SNAPSHOT record (docs/STREAM.md 7.10).  The plan is a list of
 * (snapshot, base) pairs in the order they must be applied: datasets
 * parents first (pre-order, children sorted by name), and within one
 * dataset its snapshots oldest first, each segment an incremental from
 * the one before (the first of a dataset full, unless a base was given).
 *
 * Invariants
 *  1. A segment's base is the segment before it for the same dataset, or
 *     the base the user named, or none: applying the segments in order
 *     onto an empty target (or one holding the named base) always works.
 *  2. The plan never names a dataset outside the tree being sent.
 */
#include "send/send_multi.h"

#include <stdio.h>
#include <stdlib.h>

static int seg_add(cf_sendplan_t *p, const char *to, const char *from)
{
	if (cf_grow(&p->v, &p->cap, p->n, sizeof(*p->v), 16) != 0)
		return -ENOMEM;
	cf_sendseg_t *s = &p->v[p->n];
	if (cf_snprintf(s->to, sizeof(s->to), "%s", to) ||
	    cf_snprintf(s->from, sizeof(s->from), "%s", from ? from : ""))
		return COFFER_EBADNAME;
	p->n++;
	return 0;
}

/* Datasets of the tree under `name`, parents first. */
static int tree(dsl_pool_t *dp, const char *name, cf_strv_t *out, int depth)
{
	if (depth > 64)
		return -ELOOP;
	int err = cf_strv_add(name, out);
	cf_strv_t kids = { 0 };
	if (!err)
		err = dsl_children(dp, name, cf_strv_add, &kids);
	for (size_t i = 0; i < kids.n && !err; i++) {
		if (strchr(kids.v[i], '%'))
			continue;       /* a receive's hidden dataset */
		err = tree(dp, kids.v[i], out, depth + 1);
	}
	cf_strv_free(&kids);
	return err;
}

static ptrdiff_t find_snap(const cf_strv_t *snaps, const char *shortname)
{
	for (size_t i = 0; i < snaps->n; i++) {
		const char *at = strchr(snaps->v[i], '@');
		if (at && !strcmp(at + 1, shortname))
			return (ptrdiff_t)i;
	}
	return -1;
}

/* The segments of one dataset. */
static int plan_ds(dsl_pool_t *dp, const char *ds, int top,
    const char *toname, const char *fromname, int flags, cf_sendplan_t *p)
{
	cf_strv_t snaps = { 0 };
	int err = dsl_snapshots(dp, ds, cf_strv_add, &snaps);
	if (err) {
		cf_strv_free(&snaps);
		return err;
	}
	ptrdiff_t to = find_snap(&snaps, toname);
	ptrdiff_t from = fromname ? find_snap(&snaps, fromname) : -1;
	if (to < 0) {
		cf_strv_free(&snaps);
		if (!top)
			return 0;       /* not in this snapshot's tree */
		cf_set_errdetail("'%s@%s' does not exist", ds, toname);
		return COFFER_ENODS;
	}
	if (fromname && from < 0 && top) {
		cf_set_errdetail("'%s@%s' does not exist", ds, fromname);
		cf_strv_free(&snaps);
		return COFFER_ENODS;
	}
	if (from >= to) {
		cf_set_errdetail("'%s' is not older than '%s'", snaps.v[from],
		    snaps.v[to]);
		cf_strv_free(&snaps);
		return -EINVAL;
	}
	if (from >= 0 && !(flags & CF_SEND_INTERMEDIATE)) {
		err = seg_add(p, snaps.v[to], snaps.v[from]);  /* -i */
	} else if (from < 0 && !(flags & CF_SEND_REPLICATE)) {
		err = seg_add(p, snaps.v[to], NULL);            /* full */
	} else {
		/* -I from the base, or (-R) every snapshot up to `to`, the
		 * first in full when there is no base (invariant 1) */
		for (ptrdiff_t k = from + 1; k <= to && !err; k++)
			err = seg_add(p, snaps.v[k], k > 0 ? snaps.v[k - 1] :
			    NULL);
	}
	cf_strv_free(&snaps);
	return err;
}

int cf_send_plan(dsl_pool_t *dp, const char *tosnap, const char *fromsnap,
    int flags, cf_sendplan_t *p)
{
	memset(p, 0, sizeof(*p));
	const char *at = strchr(tosnap, '@');
	if (!at) {
		cf_set_errdetail("'%s' is not a snapshot", tosnap);
		return COFFER_EBADNAME;
	}
	if (cf_snprintf(p->top, sizeof(p->top), "%.*s", (int)(at - tosnap),
	    tosnap))
		return COFFER_EBADNAME;
	const char *fromname = NULL;
	if (fromsnap) {
		const char *fat = strchr(fromsnap, '@');
		if (!fat || (fat != fromsnap &&
		    ((size_t)(fat - fromsnap) != strlen(p->top) ||
		    strncmp(fromsnap, p->top, strlen(p->top)) != 0))) {
			cf_set_errdetail("'%s' is not a snapshot of '%s'",
			    fromsnap, p->top);
			return -EINVAL;
		}
		fromname = fat + 1;
	}
	cf_strv_t dss = { 0 };
	int err = (flags & CF_SEND_REPLICATE) ? tree(dp, p->top, &dss, 0) :
	    cf_strv_add(p->top, &dss);
	for (size_t i = 0; i < dss.n && !err; i++)
		err = plan_ds(dp, dss.v[i], i == 0, at + 1, fromname, flags, p);
	cf_strv_free(&dss);
	if (err)
		cf_sendplan_free(p);
	return err;
}

void cf_sendplan_free(cf_sendplan_t *p)
{
	free(p->v);
	memset(p, 0, sizeof(*p));
}

/* ---- properties (-R) ------------------------------------------------------ */

/* Properties -R carries: those a user sets on a dataset and a receive can
 * set again.  Key properties travel in KEYS (raw) or not at all. */
static const char *const sent_props[] = {
	"compression", "checksum", "recordsize", "copies", "readonly",
};

int cf_send_props(dsl_pool_t *dp, const char *ds, cf_kv_t *kv, int *count)
{
	*count = 0;
	for (size_t i = 0; i < CF_ARRAY_SIZE(sent_props); i++) {
		coffer_propval_t v;
		int err = dsl_prop_get(dp, ds, sent_props[i], &v);
		if (err == COFFER_EBADPROP)
			continue;       /* does not apply to this type */
		if (err)
			return err;
		if (v.source != COFFER_SRC_LOCAL)
			continue;
		err = cf_kv_add_str(kv, CF_KV_ROOT, sent_props[i], v.raw);
		if (err)
			return err;
		(*count)++;
	}
	return 0;
}

int cf_recv_props_check(const cf_kv_t *kv)
{
	int n = cf_kv_count(kv, CF_KV_ROOT);
	for (int i = 0; i < n; i++) {
		int h = cf_kv_at(kv, CF_KV_ROOT, i);
		const char *key = cf_kv_key(kv, h);
		int known = 0;
		for (size_t j = 0; j < CF_ARRAY_SIZE(sent_props); j++)
			known |= !strcmp(key, sent_props[j]);
		if (!known || cf_kv_type(kv, h) != CF_KV_STR) {
			cf_set_errdetail("PROPS: property '%s' cannot be "
			    "received", key);
			return COFFER_EBADSTREAM;
		}
	}
	return 0;
}

int cf_recv_props_apply(dsl_pool_t *dp, const char *ds, const cf_kv_t *kv)
{
	int n = cf_kv_count(kv, CF_KV_ROOT);
	for (int i = 0; i < n; i++) {
		int h = cf_kv_at(kv, CF_KV_ROOT, i);
		const char *key = cf_kv_key(kv, h), *val;
		size_t len;
		int err = cf_kv_get_str(kv, CF_KV_ROOT, key, &val, &len);
		if (!err)
			err = dsl_prop_set(dp, ds, key, val);
		if (err)
			return err;
	}
	return 0;
}

/* ---- receive: where a segment goes ---------------------------------------- */

int cf_recv_seg_target(const char *target, const char *top,
    const char *segname, char *out, size_t n)
{
	const char *at = strchr(segname, '@');
	size_t tl = strlen(top);
	size_t dl = at ? (size_t)(at - segname) : strlen(segname);
	if (!at || dl < tl || strncmp(segname, top, tl) != 0 ||
	    (dl > tl && segname[tl] != '/')) {
		cf_set_errdetail("segment '%s' is not inside '%s', the "
		    "dataset the stream was made from", segname, top);
		return COFFER_EBADSTREAM;
	}
	if (cf_snprintf(out, n, "%s%.*s", target, (int)(dl - tl),
	    segname + tl)) {
		cf_set_errdetail("'%s%.*s': name too long", target,
		    (int)(dl - tl), segname + tl);
		return COFFER_EBADNAME;
	}
	return 0;
}
