/*
 * send/resume: resume tokens and the receiver's check of a resumed
 * stream (resume.c has the design; docs/STREAM.md §7.1.1 the format).
 */
#ifndef COFFER_SEND_RESUME_H
#define COFFER_SEND_RESUME_H

#include "send/stream.h"
#include "dsl/dsl.h"

#define CF_RESUME_TOKEN_MAX 1024        /* decoded body || mac, bytes */

/* A decoded token (what the sender needs). */
typedef struct cf_resume_token {
	uint64_t toguid, fromguid;
	uint64_t features;              /* BEGIN incompat bits to repeat */
	uint64_t object, offset, bytes; /* the point */
	char toname[256], fromname[256];
	uint8_t raw[CF_RESUME_TOKEN_MAX];       /* body || mac, echoed */
	size_t rawlen;
} cf_resume_token_t;

/*
 * The info a resumable receive keeps (dsl_recv_set_resumable), from the
 * stream's BEGIN and its kv: appended to out.
 */
int cf_resume_info(const cf_stream_rec_t *begin, const cf_kv_t *bkv,
    cf_buf_t *out) CF_MUST_CHECK;

/* The token of target's interrupted receive ("1-..." NUL-terminated);
 * COFFER_ENODS when it has none. */
int cf_resume_token_get(dsl_pool_t *dp, const char *target, char *out,
    size_t n) CF_MUST_CHECK;

/* Decode a token without checking its MAC (the sender cannot): -EINVAL
 * with a detail when it is not one. */
int cf_resume_token_decode(const char *token, cf_resume_token_t *t)
    CF_MUST_CHECK;

/*
 * BEGIN of a resuming stream: open target's interrupted receive and
 * check the stream against it (MAC, state, features, point).  raw: the
 * KEYS of a raw encrypted stream (its key record must be the partial
 * dataset's, byte for byte), else NULL.  On success
 * *out continues the receive and *bytes is resume_bytes.  On refusal the
 * interrupted receive stays as it was: COFFER_EAUTH (token not made by
 * this receive), COFFER_EBADSTREAM (another stream, other features, a
 * stale token), COFFER_ENODS (nothing to resume).
 */
int cf_resume_recv_begin(dsl_pool_t *dp, const char *target,
    const cf_stream_rec_t *begin, const cf_kv_t *bkv,
    const dsl_recv_raw_t *raw, dsl_recv_t **out, uint64_t *bytes)
    CF_MUST_CHECK;

/* The point after applying rec: obj and off are updated (records that
 * move no data leave them). */
void cf_resume_point_after(const cf_stream_rec_t *rec, uint64_t *obj,
    uint64_t *off);

/* BEGIN's resume_* keys for a stream resumed from t. */
int cf_resume_begin_keys(cf_kv_t *kv, const cf_resume_token_t *t)
    CF_MUST_CHECK;

#endif
