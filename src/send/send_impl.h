/*
 * send internals shared by kv.c and stream.c.
 */
#ifndef COFFER_SEND_IMPL_H
#define COFFER_SEND_IMPL_H

#include "send/stream.h"

/*
 * cf_kv_decode without touching the errdetail: on COFFER_EBADSTREAM, why
 * (whylen bytes) says what is wrong and *where the payload byte, so that
 * the stream reader can put both into its own one-line message.
 */
int cf_kv_decode_why(const void *p, size_t n, cf_kv_t **out, char *why,
    size_t whylen, size_t *where) CF_MUST_CHECK;

#endif
