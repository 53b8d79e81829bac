/*
 * Unit tests of signed streams (send/signstream.c): the signing hook in
 * both modes and the verifying, buffering reader, against every attack
 * that docs/STREAM.md §5 says is rejected.  Damaged streams are fixed up
 * with cf_stream_fixup (sequence numbers, block checksums, END, running
 * checksums) so that the damage reaches the signature logic rather than
 * the codec's checksums.
 *
 * For each attack the test asserts the error (code and the words of the
 * message, with its byte offset) and that the reader released exactly
 * the records that a verified signature covered before the damage: not
 * one record more.
 */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "streamgen.h"

#define SLOT 276

static cf_signkey_t *tkey;              /* the fixed test key */

typedef struct res {
	int rc;                 /* 0: read to the end; else the error */
	int nret;               /* records returned */
	uint64_t last_seq;      /* of the last one returned */
	char err[1024];
	cf_sverify_info_t info;
	uint32_t peak_recs;
	uint64_t peak_bytes;
} res_t;

static void vread(const cf_buf_t *b, const cf_sverify_opts_t *o, res_t *r)
{
	cf_stream_mem_t m = { b->data, b->len, 0 };
	cf_svreader_t *v;
	cf_stream_rec_t rec;
	const uint8_t *p;
	size_t len;

	memset(r, 0, sizeof(*r));
	r->rc = cf_svreader_new(cf_stream_mem_read, &m, NULL, o, &v);
	if (r->rc)
		return;
	for (;;) {
		int n = cf_svreader_read(v, &rec, &p, &len);
		if (n <= 0) {
			r->rc = n;
			break;
		}
		r->nret++;
		r->last_seq = rec.seq;
	}
	cf_strlcpy(r->err, cf_svreader_error(v), sizeof(r->err));
	r->info = *cf_svreader_info(v);
	cf_svreader_peak(v, &r->peak_recs, &r->peak_bytes);
	cf_svreader_free(v);
}

static cf_sverify_opts_t trusting(void)
{
	static const cf_signkey_t *keys[1];
	cf_sverify_opts_t o;

	memset(&o, 0, sizeof(o));
	keys[0] = tkey;
	o.keys = keys;
	o.nkeys = 1;
	o.require_signed = 1;
	return o;
}

static int offsets(const cf_buf_t *b, size_t *offs, int max)
{
	size_t off = 0;
	int k = 0;

	while (off + CF_STREAM_HDR_SIZE <= b->len && k < max) {
		offs[k++] = off;
		off += CF_STREAM_HDR_SIZE +
		    ((le64_get(b->data + off + 16) + 7) & ~7ull);
	}
	return k;
}

static int is_signed_at(const cf_buf_t *b, size_t off)
{
	return le16_get(b->data + off + SLOT) != 0;
}

/* How many records a reader may release when record `bad` is the first
 * damaged one: everything up to the last signed record before it. */
static int covered_before(const cf_buf_t *orig, int bad)
{
	size_t offs[512];
	int k = offsets(orig, offs, 512), last = -1;

	for (int i = 0; i < k && i < bad; i++)
		if (is_signed_at(orig, offs[i]))
			last = i;
	return last + 1;
}

static void gen(cf_buf_t *b, int mode, uint32_t interval, uint64_t bytes,
    uint64_t from, uint32_t seed, int nobj)
{
	b->len = 0;
	if (sg_signed_real(b, tkey, mode, interval, bytes, from, seed,
	    nobj) != 0) {
		fprintf(stderr, "generator failed: %s\n", coffer_errdetail());
		abort();
	}
}

/* The same stream with records [a, b) replaced by `with` (n bytes). */
static void splice(cf_buf_t *out, const cf_buf_t *in, size_t a, size_t b,
    const uint8_t *with, size_t n)
{
	out->len = 0;
	if (cf_buf_append(out, in->data, a) || (n && cf_buf_append(out, with,
	    n)) || cf_buf_append(out, in->data + b, in->len - b))
		abort();
	cf_stream_fixup(out->data, out->len);
}

static void test_roundtrip_modes(void)
{
	cf_sverify_opts_t o = trusting();
	cf_buf_t b = { 0 };
	res_t r;

	/* chain: checkpoints every 4 records */
	gen(&b, CF_SSIGN_CHAIN, 4, 0, 0, 1, 6);
	vread(&b, &o, &r);
	CHECK_RC(r.rc, 0);
	CHECK(r.nret == 6 * 5 + 3);
	CHECK(r.info.is_signed && r.info.verified && r.info.key_known);
	CHECK(r.info.mode == CF_SSIGN_CHAIN && r.info.alg == CF_SIG_ED25519);
	CHECK(strcmp(r.info.keyname, "test") == 0);
	/* BEGIN, END and one per 4 records in between */
	size_t offs[64];
	int k = offsets(&b, offs, 64), sigs = 0;
	for (int i = 0; i < k; i++)
		sigs += is_signed_at(&b, offs[i]);
	CHECK(r.info.checkpoints == (uint64_t)sigs);
	CHECK(sigs == 1 + 31 / 4 + 1);
	CHECK(r.peak_recs <= 4);
	/* the plain codec reads it too (the slots are outside checksums) */
	cf_stream_mem_t m = { b.data, b.len, 0 };
	cf_stream_reader_t *rd;
	cf_stream_rec_t rec;
	const uint8_t *p;
	size_t len;
	int n = 0, rc;
	CHECK_OK(cf_stream_reader_new(cf_stream_mem_read, &m, NULL, &rd));
	while ((rc = cf_stream_read(rd, &rec, &p, &len)) == 1)
		n++;
	cf_stream_reader_free(rd);
	CHECK(rc == 0 && n == r.nret);

	/* record mode: every record signed, nothing held */
	gen(&b, CF_SSIGN_RECORD, 0, 0, 0, 1, 3);
	vread(&b, &o, &r);
	CHECK_RC(r.rc, 0);
	CHECK(r.info.mode == CF_SSIGN_RECORD);
	CHECK(r.info.checkpoints == (uint64_t)r.nret);
	CHECK(r.peak_recs == 1);

	/* checkpoints by bytes: every ~3 KiB of stream */
	gen(&b, CF_SSIGN_CHAIN, 1000, 3000, 0, 1, 6);
	vread(&b, &o, &r);
	CHECK_RC(r.rc, 0);
	CHECK(r.info.checkpoints > 8);
	CHECK(r.peak_bytes < 3000 + 1024 + 512 + 8);
	cf_buf_free(&b);
}

static void test_other_algorithms(void)
{
	static const int algs[] = { CF_SIG_ECDSA_P256, CF_SIG_ECDSA_P384 };
	for (size_t i = 0; i < CF_ARRAY_SIZE(algs); i++) {
		cf_sigkey_t *sk;
		cf_signkey_t *k;
		cf_buf_t b = { 0 };
		res_t r;
		const cf_signkey_t *keys[1];
		cf_sverify_opts_t o = { 0 };

		CHECK_OK(cf_sigkey_generate(algs[i], &sk));
		CHECK_OK(cf_sign_wrap(sk, "ec", &k));
		keys[0] = k;
		o.keys = keys;
		o.nkeys = 1;
		o.require_signed = 1;
		for (int mode = 0; mode < 2; mode++) {
			CHECK_OK(sg_signed_real(&b, k, mode, 3, 0, 0, 2, 2));
			vread(&b, &o, &r);
			CHECK_RC(r.rc, 0);
			CHECK(r.info.alg == algs[i] && r.info.verified);
			/* one bit of one signature */
			size_t offs[64];
			int n = offsets(&b, offs, 64);
			b.data[offs[n - 1] + 280 + 5] ^= 1;
			vread(&b, &o, &r);
			CHECK_RC(r.rc, COFFER_EAUTH);
			CHECK(strstr(r.err, "(END)"));
			CHECK(strstr(r.err, "does not verify"));
			b.len = 0;
		}
		cf_buf_free(&b);
		cf_signkey_free(k);
	}
}

/* Damage record `victim` with fn, fix up, and expect a signature error
 * that releases only what came before the damage. */
static void attack(const char *what, const cf_buf_t *orig, int victim,
    cf_buf_t *bad, int want_rc, const char *want, int *failed)
{
	cf_sverify_opts_t o = trusting();
	res_t r;

	vread(bad, &o, &r);
	int ok = r.rc == want_rc && strstr(r.err, want) != NULL &&
	    strstr(r.err, "at byte") != NULL &&
	    r.nret <= covered_before(orig, victim);
	if (!ok) {
		fprintf(stderr, "  attack '%s': rc %d, %d records released "
		    "(at most %d), error '%s'\n", what, r.rc, r.nret,
		    covered_before(orig, victim), r.err);
		*failed = 1;
	}
}

static void test_attacks(void)
{
	cf_buf_t o = { 0 }, b = { 0 }, other = { 0 };
	size_t offs[128];
	int failed = 0;

	for (int mode = 0; mode < 2; mode++) {
		gen(&o, mode, 5, 0, 0, 1, 6);
		int k = offsets(&o, offs, 128);
		CHECK(k == 33);
		/* record 7 is a WRITE with a payload (object 2's first) */
		CHECK(le32_get(o.data + offs[7] + 8) == CF_SREC_WRITE);
		CHECK(le64_get(o.data + offs[7] + 16) == 1024);

		/* a payload byte */
		splice(&b, &o, 0, 0, NULL, 0);
		b.data[offs[7] + CF_STREAM_HDR_SIZE + 100] ^= 0x20;
		cf_stream_fixup(b.data, b.len);
		attack("payload byte", &o, 7, &b, COFFER_EAUTH,
		    "does not verify", &failed);

		/* a header byte: OBJECT 2's maxblkid 7 -> 8 */
		CHECK(le32_get(o.data + offs[6] + 8) == CF_SREC_OBJECT);
		splice(&b, &o, 0, 0, NULL, 0);
		b.data[offs[6] + 48] = 8;
		cf_stream_fixup(b.data, b.len);
		attack("header byte", &o, 6, &b, COFFER_EAUTH, "does not verify",
		    &failed);

		/* BEGIN's header (creation) and BEGIN's payload (toname) */
		splice(&b, &o, 0, 0, NULL, 0);
		b.data[80] ^= 1;
		cf_stream_fixup(b.data, b.len);
		attack("BEGIN header", &o, 0, &b, COFFER_EAUTH, "(BEGIN) at "
		    "byte 0: signature by key 'test'", &failed);
		splice(&b, &o, 0, 0, NULL, 0);
		uint8_t *tn = memmem(b.data + CF_STREAM_HDR_SIZE,
		    offs[1] - CF_STREAM_HDR_SIZE, "tank/fs@a", 9);
		CHECK(tn != NULL);
		tn[8] = 'z';
		cf_stream_fixup(b.data, b.len);
		attack("BEGIN payload", &o, 0, &b, COFFER_EAUTH,
		    "does not verify", &failed);

		/* records reordered: two whole objects swapped */
		{
			cf_buf_t t = { 0 };
			CHECK_OK(cf_buf_append(&t, o.data + offs[6],
			    offs[11] - offs[6]));
			CHECK_OK(cf_buf_append(&t, o.data + offs[1],
			    offs[6] - offs[1]));
			splice(&b, &o, offs[1], offs[11], t.data, t.len);
			cf_buf_free(&t);
			/* the checkpoint after the first moved record sees
			 * it before the codec's ordering rules do */
			attack("reordered", &o, 1, &b, COFFER_EAUTH,
			    "does not verify", &failed);
		}
		/* a record dropped: a FREE (the codec cannot see it) */
		CHECK(le32_get(o.data + offs[10] + 8) == CF_SREC_FREE);
		splice(&b, &o, offs[10], offs[11], NULL, 0);
		attack("dropped", &o, 10, &b, COFFER_EAUTH, "", &failed);
		/* a record duplicated: a WRITE again */
		splice(&b, &o, offs[8], offs[8], o.data + offs[7],
		    offs[8] - offs[7]);
		attack("duplicated", &o, 8, &b, COFFER_EBADSTREAM, "", &failed);
		/* truncated before END */
		splice(&b, &o, offs[20], o.len, NULL, 0);
		attack("truncated", &o, 20, &b, COFFER_EBADSTREAM, "truncated",
		    &failed);
		/* truncated before the last checkpoint, END forged after */
		splice(&b, &o, offs[20], offs[k - 1], NULL, 0);
		attack("cut before checkpoint", &o, 20, &b, COFFER_EAUTH,
		    "(END)", &failed);
		/* two streams signed by the same key spliced: BEGIN and the
		 * first object of one, the rest of another */
		gen(&other, mode, 5, 0, 0, 2, 6);
		{
			size_t ooffs[128];
			offsets(&other, ooffs, 128);
			splice(&b, &o, offs[6], o.len, other.data + ooffs[6],
			    other.len - ooffs[6]);
			attack("spliced", &o, 6, &b, COFFER_EAUTH,
			    "does not verify", &failed);
		}
		/* a signature slot zeroed (a checkpoint, BEGIN, END) */
		int cp = -1;
		for (int i = 1; i < k - 1 && cp < 0; i++)
			if (is_signed_at(&o, offs[i]))
				cp = i;
		CHECK(cp > 0);
		splice(&b, &o, 0, 0, NULL, 0);
		memset(b.data + offs[cp] + SLOT, 0, 204);
		attack("slot zeroed", &o, cp, &b, COFFER_EAUTH,
		    "signature missing", &failed);
		splice(&b, &o, 0, 0, NULL, 0);
		memset(b.data + SLOT, 0, 204);
		attack("BEGIN slot zeroed", &o, 0, &b, COFFER_EAUTH,
		    "slot is empty", &failed);
		splice(&b, &o, 0, 0, NULL, 0);
		memset(b.data + offs[k - 1] + SLOT, 0, 204);
		attack("END slot zeroed", &o, k - 1, &b, COFFER_EAUTH,
		    "signature missing", &failed);
		/* a signature moved to where the schedule has none */
		if (mode == CF_SSIGN_CHAIN) {
			splice(&b, &o, 0, 0, NULL, 0);
			memcpy(b.data + offs[cp + 1] + SLOT,
			    b.data + offs[cp] + SLOT, 204);
			memset(b.data + offs[cp] + SLOT, 0, 204);
			attack("slot moved", &o, cp, &b, COFFER_EAUTH,
			    "signature missing", &failed);
		}
		/* the slot's algorithm id changed (Ed25519 -> P-256, both 64) */
		splice(&b, &o, 0, 0, NULL, 0);
		le16_put(b.data + offs[cp] + SLOT, CF_SSIG_ECDSA_P256);
		attack("slot algorithm", &o, cp, &b, COFFER_EAUTH,
		    "slot holds algorithm 2", &failed);
		/* BEGIN's algorithm or curve changed */
		splice(&b, &o, 0, 0, NULL, 0);
		tn = memmem(b.data + CF_STREAM_HDR_SIZE,
		    offs[1] - CF_STREAM_HDR_SIZE, "curve25519", 10);
		CHECK(tn != NULL);
		tn[9] = '8';
		cf_stream_fixup(b.data, b.len);
		attack("curve changed", &o, 0, &b, COFFER_EBADSTREAM,
		    "unsupported signature algorithm 'eddsa' on curve "
		    "'curve25518'", &failed);
		splice(&b, &o, 0, 0, NULL, 0);
		tn = memmem(b.data + CF_STREAM_HDR_SIZE,
		    offs[1] - CF_STREAM_HDR_SIZE, "eddsa", 5);
		CHECK(tn != NULL);
		tn[0] = 'x';
		cf_stream_fixup(b.data, b.len);
		attack("alg changed", &o, 0, &b, COFFER_EBADSTREAM,
		    "unsupported signature algorithm", &failed);
		/* the key fingerprint changed: an unknown key under -s */
		splice(&b, &o, 0, 0, NULL, 0);
		tn = memmem(b.data + CF_STREAM_HDR_SIZE,
		    offs[1] - CF_STREAM_HDR_SIZE, tkey->fp, 32);
		CHECK(tn != NULL);
		tn[0] ^= 1;
		cf_stream_fixup(b.data, b.len);
		attack("fingerprint changed", &o, 0, &b, COFFER_EAUTH,
		    "which is not trusted", &failed);
		/* the schedule in BEGIN changed (fewer checkpoints) */
		if (mode == CF_SSIGN_CHAIN) {
			splice(&b, &o, 0, 0, NULL, 0);
			cf_kv_t *kv;
			CHECK_OK(cf_kv_decode(b.data + CF_STREAM_HDR_SIZE,
			    le64_get(b.data + 16), &kv));
			uint64_t iv;
			CHECK_OK(cf_kv_get_u64(kv, CF_KV_ROOT, "sign_interval",
			    &iv));
			CHECK(iv == 5);
			cf_kv_free(kv);
			/* the u64 value of sign_interval */
			tn = memmem(b.data + CF_STREAM_HDR_SIZE,
			    offs[1] - CF_STREAM_HDR_SIZE, "sign_interval", 13);
			CHECK(tn != NULL);
			tn[13] = 9;
			cf_stream_fixup(b.data, b.len);
			attack("schedule changed", &o, 0, &b, COFFER_EAUTH,
			    "does not verify", &failed);
		}
	}
	CHECK(!failed);
	cf_buf_free(&o);
	cf_buf_free(&b);
	cf_buf_free(&other);
}

static void test_policy(void)
{
	cf_buf_t s = { 0 }, u = { 0 };
	cf_sverify_opts_t o = trusting();
	cf_sigkey_t *sk;
	cf_signkey_t *stranger;
	res_t r;

	CHECK_OK(cf_sigkey_generate(CF_SIG_ED25519, &sk));
	CHECK_OK(cf_sign_wrap(sk, "stranger", &stranger));
	CHECK_OK(sg_signed_real(&s, stranger, CF_SSIGN_CHAIN, 4, 0, 0, 1, 2));
	CHECK_OK(sg_plain(&u));

	/* -s: unsigned and unknown keys refused */
	vread(&u, &o, &r);
	CHECK_RC(r.rc, COFFER_EAUTH);
	CHECK(strstr(r.err, "record 0 (BEGIN) at byte 0: the stream is not "
	    "signed"));
	CHECK(r.nret == 0);
	vread(&s, &o, &r);
	CHECK_RC(r.rc, COFFER_EAUTH);
	CHECK(strstr(r.err, "which is not trusted"));
	CHECK(r.nret == 0);
	/* -k: both accepted, unverified, and said so */
	o.accept_unverified = 1;
	vread(&u, &o, &r);
	CHECK_RC(r.rc, 0);
	CHECK(!r.info.is_signed && !r.info.verified);
	vread(&s, &o, &r);
	CHECK_RC(r.rc, 0);
	CHECK(r.info.is_signed && !r.info.verified && !r.info.key_known);
	CHECK(memcmp(r.info.fp, stranger->fp, 32) == 0);
	/* -k does not excuse a known key's bad signature */
	gen(&s, CF_SSIGN_CHAIN, 4, 0, 0, 1, 2);
	size_t offs[64];
	int k = offsets(&s, offs, 64);
	s.data[offs[k - 1] + 300] ^= 1;
	vread(&s, &o, &r);
	CHECK_RC(r.rc, COFFER_EAUTH);
	CHECK(strstr(r.err, "does not verify"));
	/* neither: unsigned accepted; unknown key refused */
	o.accept_unverified = 0;
	o.require_signed = 0;
	vread(&u, &o, &r);
	CHECK_RC(r.rc, 0);
	s.len = 0;
	CHECK_OK(sg_signed_real(&s, stranger, CF_SSIGN_CHAIN, 4, 0, 0, 1, 2));
	vread(&s, &o, &r);
	CHECK_RC(r.rc, COFFER_EAUTH);
	/* a key from a keyring directory, found by fingerprint */
	char dir[4096], line[CF_SIGN_PUB_TEXT];
	snprintf(dir, sizeof(dir), "%s/kr", th_tmpdir());
	CHECK_OK(cf_sign_pub_format(stranger, line, sizeof(line)));
	CHECK_OK(cf_kr_trust(dir, line, strlen(line), NULL, NULL));
	o.keyring = dir;
	o.require_signed = 1;
	vread(&s, &o, &r);
	CHECK_RC(r.rc, 0);
	CHECK(r.info.verified && strcmp(r.info.keyname, "stranger") == 0);
	cf_signkey_free(stranger);
	cf_buf_free(&s);
	cf_buf_free(&u);
}

static void test_limits(void)
{
	cf_buf_t b = { 0 };
	cf_sverify_opts_t o = trusting();
	res_t r;

	/* a schedule over the receiver's limits is refused at BEGIN */
	gen(&b, CF_SSIGN_CHAIN, 10, 0, 0, 1, 4);
	o.max_records = 8;
	vread(&b, &o, &r);
	CHECK_RC(r.rc, COFFER_EBADSTREAM);
	CHECK(strstr(r.err, "(BEGIN) at byte 0: checkpoints every 10 records"));
	CHECK(r.nret == 0);
	/* within them: fine, and the peak stays under the schedule */
	o.max_records = 10;
	vread(&b, &o, &r);
	CHECK_RC(r.rc, 0);
	CHECK(r.peak_recs <= 10);
	/* bytes: sign_bytes 2000 needs max_bytes >= 4000; one record of
	 * 1536 stream bytes on top of 2000 goes over 3000 */
	gen(&b, CF_SSIGN_CHAIN, 100, 2000, 0, 1, 4);
	o.max_records = 0;
	o.max_bytes = 3000;
	vread(&b, &o, &r);
	CHECK_RC(r.rc, COFFER_EBADSTREAM);
	CHECK(strstr(r.err, "over this receiver's limit"));
	o.max_bytes = 4000;
	vread(&b, &o, &r);
	CHECK_RC(r.rc, 0);
	CHECK(r.peak_bytes <= 4000);
	/* the default schedule fits the default limits with room */
	CHECK(CF_SSIGN_INTERVAL <= CF_SVERIFY_MAX_RECORDS);
	CHECK(CF_SSIGN_BYTES + CF_STREAM_HDR_SIZE + CF_STREAM_MAX_PAYLOAD <=
	    CF_SVERIFY_MAX_BYTES);
	CHECK(CF_SSIGN_BYTES <= CF_SVERIFY_MAX_BYTES / 2);
	cf_buf_free(&b);
}

/* Every single-byte change anywhere in a signed stream, fixed up, is
 * refused (or, for the few bytes outside all checks, yields the very
 * same records) and never releases a record the change touched. */
static void test_every_byte(void)
{
	cf_buf_t o = { 0 }, b = { 0 };
	cf_sverify_opts_t opt = trusting();
	size_t offs[64];
	res_t r;
	int bad = 0;

	gen(&o, CF_SSIGN_CHAIN, 3, 0, 0, 1, 2);
	int k = offsets(&o, offs, 64);
	for (size_t i = 0; i < o.len; i += 3) {
		splice(&b, &o, 0, 0, NULL, 0);
		b.data[i] ^= 0x01;
		cf_stream_fixup(b.data, b.len);
		if (b.len == o.len && memcmp(b.data, o.data, o.len) == 0)
			continue;       /* fixup restored it (a checksum byte) */
		vread(&b, &opt, &r);
		int rec = 0;
		while (rec + 1 < k && offs[rec + 1] <= i)
			rec++;
		if (r.rc == 0 || r.nret > covered_before(&o, rec)) {
			if (!bad)
				fprintf(stderr, "  byte %zu (record %d): rc %d, "
				    "%d released\n", i, rec, r.rc, r.nret);
			bad++;
		}
	}
	CHECK(bad == 0);
	cf_buf_free(&o);
	cf_buf_free(&b);
}


/* Read b through the verifying reader, checking every record returned
 * against the plain codec's reading of the same bytes (header fields and
 * payload), record by record: batches swap and chunks are reused under
 * the pipelined reader, and a payload must stay intact until the next
 * call. */
static int read_compare(const cf_buf_t *b, const cf_sverify_opts_t *o,
    int *nret)
{
	cf_stream_mem_t m1 = { b->data, b->len, 0 }, m2 = { b->data, b->len, 0 };
	cf_svreader_t *v;
	cf_stream_reader_t *plain;
	cf_stream_rec_t r1, r2;
	const uint8_t *p1, *p2;
	size_t l1, l2;
	int n, bad = 0;

	*nret = 0;
	if (cf_svreader_new(cf_stream_mem_read, &m1, NULL, o, &v) != 0)
		return -EINVAL;
	if (cf_stream_reader_new(cf_stream_mem_read, &m2, NULL, &plain) != 0) {
		cf_svreader_free(v);
		return -EINVAL;
	}
	cf_clear_errdetail();
	while ((n = cf_svreader_read(v, &r1, &p1, &l1)) == 1) {
		/* an error met reading ahead is not left behind a success */
		if (coffer_errdetail()[0])
			bad++;
		if (cf_stream_read(plain, &r2, &p2, &l2) != 1 ||
		    r1.seq != r2.seq || r1.type != r2.type || l1 != l2 ||
		    (l1 && memcmp(p1, p2, l1) != 0))
			bad++;
		(*nret)++;
	}
	cf_stream_reader_free(plain);
	cf_svreader_free(v);
	return bad ? -EIO : n;
}

/* Read b to its end; the payload memory the reader held at the end. */
static size_t read_allocated(const cf_buf_t *b, const cf_sverify_opts_t *o)
{
	cf_stream_mem_t m = { b->data, b->len, 0 };
	cf_svreader_t *v;
	cf_stream_rec_t rec;
	const uint8_t *p;
	size_t len, a;

	if (cf_svreader_new(cf_stream_mem_read, &m, NULL, o, &v) != 0)
		return SIZE_MAX;
	while (cf_svreader_read(v, &rec, &p, &len) == 1)
		;
	a = cf_svreader_allocated(v);
	cf_svreader_free(v);
	return a;
}

/* The pipelined reader (chain mode): records come back intact and in
 * order across many checkpoints; damage or an error in the batch being
 * read ahead waits until every record of the verified batch before it has
 * been returned, and nothing of its own batch is returned. */
static void test_pipelined(void)
{
	cf_sverify_opts_t o = trusting();
	cf_buf_t g = { 0 }, b = { 0 };
	size_t offs[1024];
	int nret;

	/* many checkpoints, by records and by bytes */
	gen(&g, CF_SSIGN_CHAIN, 3, 0, 0, 7, 40);
	int k = offsets(&g, offs, 1024);
	CHECK(k > 200);
	CHECK_RC(read_compare(&g, &o, &nret), 0);
	CHECK(nret == k);
	gen(&b, CF_SSIGN_CHAIN, 1000, 5000, 0, 9, 40);
	CHECK_RC(read_compare(&b, &o, &nret), 0);
	/* memory does not grow with the stream: chunks are reused */
	size_t a40 = read_allocated(&b, &o);
	gen(&b, CF_SSIGN_CHAIN, 1000, 5000, 0, 9, 400);
	size_t a400 = read_allocated(&b, &o);
	CHECK(a40 > 0 && a40 != SIZE_MAX);
	CHECK(a400 <= a40);

	/* damage deep in the stream: exactly the covered records first */
	for (int victim = 50; victim < k - 1; victim += 37) {
		if (le64_get(g.data + offs[victim] + 16) == 0)
			continue;               /* no payload to change */
		splice(&b, &g, 0, 0, NULL, 0);
		b.data[offs[victim] + CF_STREAM_HDR_SIZE] ^= 0x40;
		cf_stream_fixup(b.data, b.len);
		CHECK_RC(read_compare(&b, &o, &nret), COFFER_EAUTH);
		CHECK(nret == covered_before(&g, victim));
	}
	/* the input ending inside a batch: the batch before it whole, then
	 * the codec's error */
	int victim = k / 2;
	b.len = 0;
	CHECK_OK(cf_buf_append(&b, g.data, offs[victim] + 100));
	CHECK_RC(read_compare(&b, &o, &nret), COFFER_EBADSTREAM);
	CHECK(nret == covered_before(&g, victim));
	CHECK(strstr(coffer_errdetail(), "truncated") != NULL);
	cf_buf_free(&g);
	cf_buf_free(&b);
}

/* The construction of docs/STREAM.md §5.2-5.4, recomputed here from the
 * stream's bytes alone: every used slot must hold the signature of M_i,
 * and the slots must be used exactly where the schedule says. */
static void test_spec_conformance(void)
{
	cf_buf_t b = { 0 };
	size_t offs[128];

	for (int mode = 0; mode < 2; mode++) {
		gen(&b, mode, 3, 2500, 0, 7, 5);
		int k = offsets(&b, offs, 128);
		uint8_t h[32], m[75];
		uint64_t recs = 0, bytes = 0;
		int sigs = 0;
		CHECK(k > 10);
		for (int i = 0; i < k; i++) {
			uint8_t hdr[512], d[32];
			uint64_t plen = le64_get(b.data + offs[i] + 16);
			memcpy(hdr, b.data + offs[i], 512);
			memset(hdr + 276, 0, 204);
			cf_sha256(plen ? b.data + offs[i] + 512 : b.data, plen, d);
			cf_sha256_ctx_t *x = cf_sha256_new();
			CHECK(x != NULL);
			if (i == 0)
				cf_sha256_update(x, "coffer stream chain v1", 23);
			else
				cf_sha256_update(x, h, 32);
			cf_sha256_update(x, hdr, 512);
			cf_sha256_update(x, d, 32);
			cf_sha256_final(x, h);
			recs++;
			bytes += 512 + ((plen + 7) & ~7ull);
			int due = mode == CF_SSIGN_RECORD || i == 0 || i == k - 1 ||
			    recs >= 3 || bytes >= 2500;
			uint16_t alg = le16_get(b.data + offs[i] + 276);
			uint16_t len = le16_get(b.data + offs[i] + 278);
			CHECK(due == (alg != 0));
			if (!alg)
				continue;
			memcpy(m, "coffer stream signature v1", 27);
			memcpy(m + 27, h, 32);
			le64_put(m + 59, (uint64_t)i);
			le64_put(m + 67, offs[i]);
			CHECK(alg == CF_SSIG_ED25519 && len == 64);
			CHECK_OK(cf_signkey_verify(tkey, m, sizeof(m),
			    b.data + offs[i] + 280, len));
			recs = bytes = 0;
			sigs++;
		}
		CHECK(sigs >= (mode ? k : 4));
	}
	cf_buf_free(&b);
}

void test_main(void)
{
	tkey = sg_test_key();
	if (!tkey) {
		fprintf(stderr, "no test key\n");
		exit(1);
	}
	RUN(test_roundtrip_modes);
	RUN(test_spec_conformance);
	RUN(test_other_algorithms);
	RUN(test_attacks);
	RUN(test_policy);
	RUN(test_limits);
	RUN(test_every_byte);
	RUN(test_pipelined);
	cf_signkey_free(tkey);
}
