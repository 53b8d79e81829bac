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

/* cf_send, signed by sg (NULL: unsigned; signstream.h). */
int cf_send_signed(dsl_pool_t *dp, const char *tosnap, const char *fromsnap,
    int flags, cf_stream_write_fn fn, void *arg, coffer_progress_fn progress,
    void *parg, cf_ssign_t *sg) CF_MUST_CHECK;

#define CF_RECV_FORCE 0x1       /* -F: roll the target back to the base */
/* Read a stream through fn and apply it to `target` atomically. */
int cf_recv(dsl_pool_t *dp, const char *target, int flags,
    cf_stream_read_fn fn, void *arg) CF_MUST_CHECK;
/*
 * cf_recv through the verifying reader with vo (signstream.h; NULL: no
 * key trusted, every stream accepted unverified); info (may be NULL)
 * receives what was verified.
 */
int cf_recv_verify(dsl_pool_t *dp, const char *target, int flags,
    cf_stream_read_fn fn, void *arg, const cf_sverify_opts_t *vo,
    cf_sverify_info_t *info) CF_MUST_CHECK;
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

#endif
