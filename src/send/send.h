/*
 * send: replication streams (DESIGN §5).  stream.h is the wire format
 * and its verifying codec; this header is what the layer offers the
 * library: send a snapshot, receive a stream.
 */
#ifndef COFFER_SEND_H
#define COFFER_SEND_H

#include "send/stream.h"
#include "dsl/dsl.h"
#include "send/signstream.h"

/*
 * Write the stream of snapshot `tosnap` (full, or incremental from
 * `fromsnap`: "@snap" or "fs@snap" of the same dataset) through fn.
 * The snapshot's key must be loaded: the stream carries plaintext.
 */
int cf_send(dsl_pool_t *dp, const char *tosnap, const char *fromsnap,
    int flags, cf_stream_write_fn fn, void *arg, coffer_progress_fn progress,
    void *parg) CF_MUST_CHECK;

#define CF_SEND_RAW        0x1  /* -w: blocks as stored, no key needed */
#define CF_SEND_COMPRESSED 0x2  /* -c: compressed blocks as stored */
#define CF_SEND_REPLICATE  0x4  /* -R: a dataset tree, its properties */
#define CF_SEND_INTERMEDIATE 0x8 /* -I: every snapshot since the base */

/*
 * The same with options: a dry run (send -n: the walk only, no data read
 * and nothing written; o->bytes is then the size the stream would have),
 * a resume point (send -t; see cf_send_resume), the total for progress.
 * o->bytes receives the stream's size.
 */
struct cf_resume_token;
typedef struct cf_send_opts {
	int dryrun;
	uint64_t total;                 /* progress total; 0: referenced */
	const struct cf_resume_token *resume;
	cf_ssign_t *sign;               /* signed (signstream.h); NULL: not */
	uint64_t bytes;                 /* out */
} cf_send_opts_t;
int cf_send_opts(dsl_pool_t *dp, const char *tosnap, const char *fromsnap,
    int flags, cf_send_opts_t *o, cf_stream_write_fn fn, void *arg,
    coffer_progress_fn progress, void *parg) CF_MUST_CHECK;
/* send -t: the rest of an interrupted stream, from a resume token
 * (resume.c). */
int cf_send_resume(dsl_pool_t *dp, const char *token, int flags,
    cf_send_opts_t *o, cf_stream_write_fn fn, void *arg,
    coffer_progress_fn progress, void *parg) CF_MUST_CHECK;

#define CF_RECV_FORCE     0x1   /* -F: roll the target back to the base */
#define CF_RECV_RESUMABLE 0x2   /* --resumable: keep an interrupted one */
#define CF_RECV_DNAME     0x4   /* -d: target + sent name minus the pool */
#define CF_RECV_ENAME     0x8   /* -e: target + last element of the name */
/*
 * Read a stream through fn and apply it to `target` atomically.  With
 * CF_RECV_RESUMABLE, a stream that ends early or cannot be read (or
 * COFFER_EINTR) leaves its partial receive for send -t; a damaged or
 * refused stream is discarded as always.  A resuming stream continues
 * target's interrupted receive.  -d/-e: the dataset received into is
 * derived from target and the stream's toname (missing parents are
 * created); `name` (may be NULL, nameLen bytes) receives it.
 */
int cf_recv(dsl_pool_t *dp, const char *target, int flags,
    cf_stream_read_fn fn, void *arg) CF_MUST_CHECK;
int cf_recv_named(dsl_pool_t *dp, const char *target, int flags,
    cf_stream_read_fn fn, void *arg, char *name, size_t namelen)
    CF_MUST_CHECK;
/*
 * cf_recv_named through the verifying reader with vo (signstream.h;
 * NULL: no key trusted, every stream accepted unverified); info (may be
 * NULL) receives what was verified.
 */
int cf_recv_verify(dsl_pool_t *dp, const char *target, int flags,
    cf_stream_read_fn fn, void *arg, char *name, size_t namelen,
    const cf_sverify_opts_t *vo, cf_sverify_info_t *info) CF_MUST_CHECK;
/*
 * Replay binding (recvbind.c): refuse a stream whose snapshot (toguid)
 * the target already has, so that an old stream cannot be received
 * again, e.g. with -F over newer snapshots.  COFFER_EEXIST.
 */
int cf_recv_check_replay(dsl_pool_t *dp, const char *target,
    uint64_t toguid) CF_MUST_CHECK;
/*
 * The receive_policy property (any | signed) that applies to target: its
 * own, or its nearest existing parent's (inherited from the pool's root
 * dataset by default).  *require_signed is 1 for "signed".
 */
int cf_recv_policy(dsl_pool_t *dp, const char *target, int *require_signed)
    CF_MUST_CHECK;
/* receive -d/-e: the dataset for a stream of `toname` (target.c). */
int cf_recv_target(dsl_pool_t *dp, const char *base, const char *toname,
    int flags, char *out, size_t n) CF_MUST_CHECK;

#endif
