/*
 * send/signstream: signed streams (docs/STREAM.md §5, Joyent RFD 14).
 *
 * Two pieces on top of the stream codec:
 *   - the signer: the writer's signing hook.  It keeps the hash chain over
 *     every record and fills the signature slot of BEGIN, of END and of
 *     every checkpoint (chain mode) or of every record (record mode);
 *   - the verifying reader: the same record-at-a-time interface as
 *     cf_stream_reader, layered over it.  It checks BEGIN's signing keys
 *     against the trusted keys, keeps the same hash chain, verifies every
 *     signature, and holds records back in bounded memory until a
 *     signature covering them has verified.  A record it returns is
 *     covered by a verified signature (or the stream was accepted
 *     unverified by the caller's policy, see cf_sverify_opts_t).
 *
 * The hash chain, the signed message and the checkpoint schedule are
 * defined byte by byte in docs/STREAM.md §5.2-5.4; signstream.c follows
 * it.
 */
#ifndef COFFER_SEND_SIGNSTREAM_H
#define COFFER_SEND_SIGNSTREAM_H

#include "send/stream.h"
#include "sign/sign.h"

#define CF_SSIGN_CHAIN  0               /* checkpoints (the default) */
#define CF_SSIGN_RECORD 1               /* every record signed */

/* The sender's checkpoint schedule (chain mode), announced in BEGIN as
 * sign_interval and sign_bytes. */
#define CF_SSIGN_INTERVAL 1024          /* records */
#define CF_SSIGN_BYTES    (16u << 20)   /* stream bytes */
/* What a receiver holds back at most before a signature covers it, and
 * so the largest schedule it accepts (sign_bytes plus one largest record
 * must fit). */
#define CF_SVERIFY_MAX_RECORDS 4096
#define CF_SVERIFY_MAX_BYTES   (64u << 20)
#define CF_SVERIFY_MAX_SIGN_BYTES (32u << 20)

/* ---- signer -------------------------------------------------------------- */

typedef struct cf_ssign cf_ssign_t;

/*
 * A signer with key (a key pair; it must outlive the signer) in mode
 * CF_SSIGN_*.  interval and bytes (0: the defaults above) set the
 * checkpoint schedule of chain mode; tests use small ones.
 */
int cf_ssign_new(const cf_signkey_t *key, int mode, uint32_t interval,
    uint64_t bytes, cf_ssign_t **out) CF_MUST_CHECK;
void cf_ssign_free(cf_ssign_t *s);     /* NULL is ignored */
/* Add the signing keys to BEGIN's kv and the signed feature to its
 * incompat bits: call before BEGIN is written. */
int cf_ssign_begin(cf_ssign_t *s, cf_kv_t *kv, uint64_t *incompat)
    CF_MUST_CHECK;
/* The cf_stream_sign_fn to give cf_stream_writer_set_sign (arg: s). */
int cf_ssign_hook(void *arg, const uint8_t hdr[CF_STREAM_HDR_SIZE],
    const void *payload, size_t len, cf_stream_sig_t *sig);

/* ---- verifying reader ---------------------------------------------------- */

typedef struct cf_sverify_opts {
	/* Trusted keys: these, then the keyring directory (NULL: none). */
	const cf_signkey_t *const *keys;
	int nkeys;
	const char *keyring;
	int require_signed;     /* -s: refuse unsigned streams (unless
				   accept_unverified) */
	int accept_unverified;  /* -k: accept unsigned streams and unknown
				   keys, unverified */
	/* Hold limits; 0: CF_SVERIFY_MAX_RECORDS / _BYTES (never above). */
	uint32_t max_records;
	uint64_t max_bytes;
} cf_sverify_opts_t;

/* What the reader learnt of the stream's signature (after BEGIN). */
typedef struct cf_sverify_info {
	int is_signed;
	int verified;           /* every record returned was verified */
	int key_known;
	int mode;               /* CF_SSIGN_*, when signed */
	int alg;                /* CF_SIG_*, when signed */
	uint8_t fp[CF_SIGN_FP_LEN];
	char keyname[CF_SIGN_NAME_MAX + 1];     /* "" when unknown */
	uint64_t checkpoints;   /* signatures verified so far */
	uint64_t covered_seq;   /* the last record a verified signature
				   covers (valid when checkpoints > 0) */
} cf_sverify_info_t;

typedef struct cf_svreader cf_svreader_t;

/* ropts as for cf_stream_reader_new (its verify hook is taken: must be
 * NULL); vopts may not be NULL. */
int cf_svreader_new(cf_stream_read_fn fn, void *arg,
    const cf_stream_reader_opts_t *ropts, const cf_sverify_opts_t *vopts,
    cf_svreader_t **out) CF_MUST_CHECK;
void cf_svreader_free(cf_svreader_t *v);        /* NULL is ignored */
/*
 * As cf_stream_read: 1 with a record, 0 after END, or a negative code
 * (sticky).  Signature errors are COFFER_EAUTH (a signature that does not
 * verify, a missing or misplaced one, an untrusted key when one is
 * required) or COFFER_EBADSTREAM (bad signing keys in BEGIN, over the
 * hold limits), with the detail "record N (TYPE) at byte X: why".
 */
int cf_svreader_read(cf_svreader_t *v, cf_stream_rec_t *rec,
    const uint8_t **payload, size_t *len) CF_MUST_CHECK;
const cf_stream_rec_t *cf_svreader_begin(const cf_svreader_t *v);
const cf_kv_t *cf_svreader_begin_kv(const cf_svreader_t *v);
/* The kv of the record just returned (BEGIN, PROPS, SNAPSHOT), else NULL;
 * valid until the next call. */
const cf_kv_t *cf_svreader_kv(cf_svreader_t *v);
const char *cf_svreader_error(const cf_svreader_t *v);
/* Bytes of input consumed so far: in chain mode the reader reads ahead,
 * so this runs ahead of the records returned. */
uint64_t cf_svreader_offset(const cf_svreader_t *v);
const cf_sverify_info_t *cf_svreader_info(const cf_svreader_t *v);
/* Peak records and stream bytes held back (tests). */
void cf_svreader_peak(const cf_svreader_t *v, uint32_t *records,
    uint64_t *bytes);
/* Bytes of payload memory the reader holds, in use or kept for reuse
 * (tests: it must not grow with the stream's length). */
size_t cf_svreader_allocated(const cf_svreader_t *v);

#endif
