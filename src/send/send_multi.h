/*
 * send/multi: plans of multi-snapshot streams (send -I, -R), the
 * properties -R carries, and the naming of received segments (multi.c).
 */
#ifndef COFFER_SEND_MULTI_H
#define COFFER_SEND_MULTI_H

#include "send/send.h"

typedef struct cf_sendseg {
	char to[512];                   /* "pool/fs@snap" */
	char from[512];                 /* its base, "" for a full segment */
} cf_sendseg_t;

typedef struct cf_sendplan {
	char top[512];                  /* the dataset of the named snapshot */
	cf_sendseg_t *v;
	size_t n, cap;
} cf_sendplan_t;

/*
 * The segments to send for `tosnap` with flags CF_SEND_REPLICATE (-R:
 * the dataset and every descendant that has a snapshot of that name,
 * each with all its snapshots up to it) and CF_SEND_INTERMEDIATE (-I:
 * every snapshot after `fromsnap`, not just `fromsnap` itself).
 * fromsnap is "@name" or "dataset@name" (the top dataset's).
 */
int cf_send_plan(dsl_pool_t *dp, const char *tosnap, const char *fromsnap,
    int flags, cf_sendplan_t *plan) CF_MUST_CHECK;
void cf_sendplan_free(cf_sendplan_t *plan);

/* -R: the locally set properties of ds that a receive sets again, into
 * kv; *count of them. */
int cf_send_props(dsl_pool_t *dp, const char *ds, cf_kv_t *kv, int *count)
    CF_MUST_CHECK;
/* Receive: a PROPS kv names only such properties, as strings
 * (COFFER_EBADSTREAM); set them on ds (after its segment). */
int cf_recv_props_check(const cf_kv_t *kv) CF_MUST_CHECK;
int cf_recv_props_apply(dsl_pool_t *dp, const char *ds, const cf_kv_t *kv)
    CF_MUST_CHECK;

/* Where segment `segname` ("top/child@snap") of a stream made from
 * dataset `top` goes under `target`: target + "/child". */
int cf_recv_seg_target(const char *target, const char *top,
    const char *segname, char *out, size_t n) CF_MUST_CHECK;

#endif
