/*
 * send: replication streams (DESIGN §5).  stream.h is the wire format
 * and its verifying codec; this header is what the layer offers the
 * library: send a snapshot, receive a stream.
 */
#ifndef COFFER_SEND_H
#define COFFER_SEND_H

#include "send/stream.h"
#include "dsl/dsl.h"

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

#define CF_RECV_FORCE 0x1       /* -F: roll the target back to the base */
/* Read a stream through fn and apply it to `target` atomically. */
int cf_recv(dsl_pool_t *dp, const char *target, int flags,
    cf_stream_read_fn fn, void *arg) CF_MUST_CHECK;

#endif
