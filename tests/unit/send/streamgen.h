/*
 * streamgen: small valid streams of every kind, written through the
 * stream writer, for the unit tests and the fuzz seed corpus.  The
 * output depends on nothing but this code (no time, no randomness).
 */
#ifndef COFFER_TEST_STREAMGEN_H
#define COFFER_TEST_STREAMGEN_H

#include "send/stream.h"
#include "send/signstream.h"

/* Each appends one whole stream to out; 0 or the writer's error. */
int sg_plain(cf_buf_t *out);        /* full, every plain record type */
int sg_compressed(cf_buf_t *out);   /* incremental, compressed blocks */
int sg_raw(cf_buf_t *out);          /* raw encrypted: KEYS, OBJECT_RANGE */
int sg_multi(cf_buf_t *out);        /* two SNAPSHOT segments */
int sg_signed(cf_buf_t *out);       /* every record signed (fake sig) */
int sg_resume(cf_buf_t *out);       /* a resumed stream */
int sg_large(cf_buf_t *out);        /* one 2 MiB block (LARGE_BLOCKS) */

typedef int (*sg_fn)(cf_buf_t *out);
typedef struct sg_kind {
	const char *name;
	sg_fn fn;
} sg_kind_t;
extern const sg_kind_t sg_kinds[];  /* all but sg_large; NULL-ended */

/*
 * The fake signature of the signed streams: algorithm Ed25519, and as
 * its 64 bytes the SHA-512 of the header (slot zeroed) and payload.  It
 * proves nothing; it lets tests exercise the signing hook points.
 */
int sg_sign(void *arg, const uint8_t hdr[CF_STREAM_HDR_SIZE],
    const void *payload, size_t len, cf_stream_sig_t *sig);
int sg_verify(void *arg, const cf_stream_rec_t *rec,
    const uint8_t hdr[CF_STREAM_HDR_SIZE], const void *payload, size_t len,
    char *why, size_t whylen);

/*
 * Streams with real signatures: the fixed test key pair (Ed25519, its
 * private key in the source: for tests and the fuzzer only), and a
 * stream of nobj objects (OBJECT, 3 WRITEs, a FREE each; FREEOBJECTS)
 * signed in mode (CF_SSIGN_*) with the given checkpoint schedule (0:
 * defaults); incremental when fromguid is not 0; seed varies the toguid.
 */
cf_signkey_t *sg_test_key(void);
int sg_signed_real(cf_buf_t *out, const cf_signkey_t *key, int mode,
    uint32_t interval, uint64_t bytes, uint64_t fromguid, uint32_t seed,
    int nobj);

/* Deterministic filler bytes. */
void sg_fill(uint8_t *p, size_t n, uint32_t seed);

#endif
