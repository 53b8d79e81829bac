/*
 * fuzz_stream: the replication stream reader (cf_stream_read) and the kv
 * decoder (cf_kv_decode).
 *
 * The first input byte chooses the mode (low two bits) and how many
 * bytes each read callback returns (the other six: 1..63, or whole
 * reads for 0), so the reader's short-read paths are exercised too:
 *   0  the rest of the input is a stream, fed as is;
 *   1  the rest is a stream whose sequence numbers, block checksums, END
 *      summary and running checksums are fixed up first
 *      (cf_stream_fixup), as cryptsetup's fuzzers fix up checksums, so
 *      mutations get past the checksums to the field, ordering and kv
 *      rules behind them;
 *   2  the rest is a kv payload for cf_kv_decode;
 *   3  like 1, read with a verify hook that refuses every third record
 *      and a small max_payload (the hook and limit paths).
 *
 * Signed streams: in modes 1 and 3, a stream whose BEGIN has the signed
 * feature is also read through the verifying reader (signstream.c) with
 * a fixed test key trusted (the key of tests/unit/send/streamgen.c, whose
 * signed seeds it signs).  The fixup makes mutations reach the signature
 * checks, the chain and the hold limits (mode 3: a
 * hold of 8 records; another bit of the first byte chooses whether
 * unknown keys are accepted).
 * Findings there: an error other than EBADSTREAM, ENOTSUP, ENOMEM or
 * EAUTH, or without a message; a record released that no verified
 * signature covers; a verified stream whose records differ from what
 * the plain reader returns.
 *
 * Findings (abort): an error code other than EBADSTREAM, ENOTSUP or
 * ENOMEM, or an error without a message; and, whenever a stream is
 * accepted whole, the canonical-encoding property: writing the records
 * that were read back through cf_stream_write must give the very same
 * bytes (so no two encodings ever mean the same thing, and the writer
 * accepts everything the reader does).  A kv that decodes must encode to
 * the same bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "send/signstream.h"
#include "send/stream.h"
#include "fuzz.h"

typedef struct src {
	const uint8_t *p;
	size_t n, off, chunk;
} src_t;

static ptrdiff_t src_read(void *arg, void *buf, size_t len)
{
	src_t *s = arg;
	size_t k = CF_MIN(len, s->n - s->off);

	if (s->chunk && k > s->chunk)
		k = s->chunk;
	if (k)
		memcpy(buf, s->p + s->off, k);
	s->off += k;
	return (ptrdiff_t)k;
}

static const cf_stream_sig_t *cur_sig;

static int copy_sign(void *arg, const uint8_t *hdr, const void *payload,
    size_t len, cf_stream_sig_t *sig)
{
	(void)arg; (void)hdr; (void)payload; (void)len;
	*sig = *cur_sig;
	return 0;
}

static int every_third(void *arg, const cf_stream_rec_t *rec,
    const uint8_t *hdr, const void *payload, size_t len, char *why,
    size_t whylen)
{
	(void)hdr; (void)payload; (void)len;
	int *count = arg;
	if (++*count % 3 == 0 && rec->type != CF_SREC_BEGIN) {
		cf_snprintf(why, whylen, "refused for the test");
		return COFFER_EBADSTREAM;
	}
	return 0;
}

static void check_err(int rc, const cf_stream_reader_t *r)
{
	if (rc != COFFER_EBADSTREAM && rc != COFFER_ENOTSUP && rc != -ENOMEM)
		abort();
	if (cf_stream_reader_error(r)[0] == 0)
		abort();
}

static void run_stream(const uint8_t *p, size_t n, size_t chunk, int hook)
{
	src_t s = { p, n, 0, chunk };
	cf_stream_reader_opts_t o = { 0 };
	cf_stream_reader_t *r;
	cf_stream_writer_t *w;
	cf_buf_t out = { 0 };
	int count = 0, rc, werr = 0;

	if (hook) {
		o.verify = every_third;
		o.verify_arg = &count;
		o.max_payload = 4096;
	}
	if (cf_stream_reader_new(src_read, &s, &o, &r) != 0)
		return;
	if (cf_stream_writer_new(cf_stream_buf_write, &out, &w) != 0) {
		cf_stream_reader_free(r);
		return;
	}
	cf_stream_writer_set_sign(w, copy_sign, NULL);
	for (;;) {
		cf_stream_rec_t rec, again;
		const uint8_t *pl;
		size_t len;

		rc = cf_stream_read(r, &rec, &pl, &len);
		if (rc <= 0)
			break;
		if ((len == 0) != (pl == NULL) || len != rec.payloadlen)
			abort();
		if (werr)
			continue;
		again = rec;
		cur_sig = &rec.sig;
		if (rec.type == CF_SREC_END)
			memset(&again.u, 0, sizeof(again.u));
		werr = cf_stream_write(w, &again, pl, len);
		if (werr == -ENOMEM)
			continue;
		/* the writer refuses nothing the reader accepted */
		if (werr != 0 || memcmp(&again, &rec, sizeof(rec)) != 0)
			abort();
	}
	if (rc < 0) {
		check_err(rc, r);
	} else if (!werr) {
		/* accepted whole: byte-identical when written again */
		if (out.len != n || memcmp(out.data, p, n) != 0)
			abort();
	}
	cf_buf_free(&out);
	cf_stream_writer_free(w);
	cf_stream_reader_free(r);
}

/* The test key pair of tests/unit/send/streamgen.c (public knowledge). */
static const char test_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIMlEG5jHO8YSAeMXlmDUgqassp2z1hCnV8AI4QN3Jyup\n"
    "-----END PRIVATE KEY-----\n";
static cf_signkey_t *test_key;

static const cf_signkey_t *get_key(void)
{
	cf_sigkey_t *sk;

	if (!test_key && cf_sigkey_from_pem((const uint8_t *)test_key_pem,
	    sizeof(test_key_pem) - 1, NULL, 0, &sk) == 0 &&
	    cf_sign_wrap(sk, "test", &test_key) != 0)
		test_key = NULL;
	if (!test_key)
		abort();
	return test_key;
}

/* Read p through the verifying reader and the plain one side by side. */
static void run_signed(const uint8_t *p, size_t n, size_t chunk, int small,
    int accept)
{
	const cf_signkey_t *keys[1] = { get_key() };
	cf_sverify_opts_t o = { 0 };
	src_t s = { p, n, 0, chunk }, s2 = { p, n, 0, 0 };
	cf_svreader_t *v;
	cf_stream_reader_t *r;
	int rc, rc2 = 1;

	o.keys = keys;
	o.nkeys = 1;
	o.require_signed = 1;
	o.accept_unverified = accept;
	if (small)
		o.max_records = 8;      /* the hold limit and schedule check */
	if (cf_svreader_new(src_read, &s, NULL, &o, &v) != 0)
		return;
	if (cf_stream_reader_new(src_read, &s2, NULL, &r) != 0) {
		cf_svreader_free(v);
		return;
	}
	for (;;) {
		cf_stream_rec_t rec, rec2;
		const uint8_t *pl, *pl2;
		size_t len, len2;

		rc = cf_svreader_read(v, &rec, &pl, &len);
		if (rc <= 0)
			break;
		const cf_sverify_info_t *in = cf_svreader_info(v);
		/* nothing is released before a signature covers it */
		if (in->verified && (in->checkpoints == 0 ||
		    rec.seq > in->covered_seq))
			abort();
		/* the same records as the plain reader, in order */
		rc2 = cf_stream_read(r, &rec2, &pl2, &len2);
		if (rc2 != 1 || rec.seq != rec2.seq || rec.type != rec2.type ||
		    len != len2 || (len && memcmp(pl, pl2, len) != 0))
			abort();
	}
	if (rc < 0) {
		if (rc != COFFER_EBADSTREAM && rc != COFFER_ENOTSUP &&
		    rc != -ENOMEM && rc != COFFER_EAUTH)
			abort();
		if (cf_svreader_error(v)[0] == 0)
			abort();
	}
	if (getenv("FUZZ_DEBUG"))
		fprintf(stderr, "signed: rc %d verified %d cps %llu: %s\n", rc,
		    cf_svreader_info(v)->verified, (unsigned long long)
		    cf_svreader_info(v)->checkpoints, cf_svreader_error(v));
	cf_stream_reader_free(r);
	cf_svreader_free(v);
}

static void run_kv(const uint8_t *p, size_t n)
{
	cf_kv_t *kv = NULL;
	cf_buf_t out = { 0 };
	int rc = cf_kv_decode(p, n, &kv);

	if (rc != 0) {
		if (rc != COFFER_EBADSTREAM && rc != -ENOMEM)
			abort();
		return;
	}
	rc = cf_kv_encode(kv, &out);
	if (rc == 0 && (out.len != n || memcmp(out.data, p, n) != 0))
		abort();
	if (rc != 0 && rc != -ENOMEM)
		abort();
	cf_buf_free(&out);
	cf_kv_free(kv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	int mode = data[0] & 3;
	size_t chunk = data[0] >> 2;
	const uint8_t *p = data + 1;
	size_t n = size - 1;

	if (mode == 0) {
		run_stream(p, n, chunk, 0);
	} else if (mode == 2) {
		run_kv(p, n);
	} else {
		uint8_t *copy = malloc(n ? n : 1);

		if (copy == NULL)
			return 0;
		memcpy(copy, p, n);
		cf_stream_fixup(copy, n);
		run_stream(copy, n, chunk, mode == 3);
		if (n >= CF_STREAM_HDR_SIZE &&
		    (le64_get(copy + 40) & CF_SFEAT_SIGNED))
			run_signed(copy, n, chunk, mode == 3, (chunk & 1) != 0);
		free(copy);
	}
	return 0;
}
