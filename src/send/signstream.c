/*
 * signstream: the signing hook and the verifying, buffering reader of
 * signed streams.  docs/STREAM.md §5 is the specification (the hash
 * chain, the signed message and the checkpoint schedule byte by byte);
 * this comment is the map.
 *
 *   D_i = SHA-256(payload_i)
 *   H_0 = SHA-256("coffer stream chain v1\0" || hdr_0' || D_0)
 *   H_i = SHA-256(H_{i-1} || hdr_i' || D_i)                  (i >= 1)
 *   M_i = "coffer stream signature v1\0" || H_i || le64(i) || le64(off_i)
 *
 * hdr' is the 512-byte header with its signature slot (bytes 276..479)
 * zeroed, payload the payloadlen bytes without padding, off_i the byte
 * offset of header i.  A slot that is in use holds the signature of M_i.
 * BEGIN (record 0) and END are always signed; record mode signs every
 * record, chain mode also every record at which `sign_interval` records
 * or `sign_bytes` stream bytes have passed since the last signed record.
 *
 * Invariants
 *  1. The verifying reader returns a record only after a signature whose
 *     chain covers it has verified (or when the caller's policy accepted
 *     the stream unverified: unsigned, or an unknown key under -k, which
 *     cf_sverify_info_t reports).  Records wait in memory meanwhile, at
 *     most max_records records and max_bytes stream bytes; a stream that
 *     needs more is refused, and an honest sender's schedule never needs
 *     more (BEGIN's schedule is checked against the limits first).
 *  2. Sender and receiver compute the same schedule from BEGIN; the
 *     receiver demands a signature exactly where the schedule puts one
 *     and nowhere else, so zeroing or moving a slot is detected, not
 *     silently skipped.
 *  3. H_0 covers BEGIN whole (guids, names, flags, the signing keys, the
 *     schedule), and every H_i covers everything before it: a record
 *     cannot move to another stream, another position, or survive a
 *     drop, duplicate or reorder of anything before the next signature.
 *     The signed message adds a domain-separation string, the sequence
 *     number and the byte offset.
 *  4. The key is chosen by BEGIN's fingerprint among trusted keys only,
 *     compared in constant time; the algorithm BEGIN names must be the
 *     key's own, and every slot's algorithm id must be that one.
 *  5. A signature that does not verify is always an error, whatever the
 *     policy; only a key that is absent from the keyring can make a
 *     signed stream "unverified", and only under accept_unverified.
 */
#include "send/signstream.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define SLOT_OFF 276
#define SLOT_LEN 204
#define PAD8(x) (((x) + 7) & ~(uint64_t)7)

static const char CHAIN_DS[] = "coffer stream chain v1";       /* + NUL */
static const char SIG_DS[] = "coffer stream signature v1";     /* + NUL */
#define MSG_LEN (sizeof(SIG_DS) + 32 + 8 + 8)

typedef struct chain {
	uint8_t h[32];
	uint64_t off;           /* offset of the next header */
	uint64_t seq;           /* the next record */
	uint64_t recs, bytes;   /* since the last signed record, this one
				   included */
} chain_t;

/* Fold a record into the chain, given its payload's digest D_i. */
static int chain_fold(chain_t *c, const uint8_t hdr[CF_STREAM_HDR_SIZE],
    const uint8_t d[32], int slot_zero)
{
	uint8_t h[CF_STREAM_HDR_SIZE];
	cf_sha256_ctx_t *x = cf_sha256_new();

	if (!x)
		return -ENOMEM;
	memcpy(h, hdr, sizeof(h));
	if (slot_zero)
		memset(h + SLOT_OFF, 0, SLOT_LEN);
	if (c->seq == 0)
		cf_sha256_update(x, CHAIN_DS, sizeof(CHAIN_DS));
	else
		cf_sha256_update(x, c->h, 32);
	cf_sha256_update(x, h, sizeof(h));
	cf_sha256_update(x, d, 32);
	cf_sha256_final(x, c->h);
	return 0;
}

/* Fold record (hdr, payload) into the chain and count it; 0 or -ENOMEM. */
static int chain_add(chain_t *c, const uint8_t hdr[CF_STREAM_HDR_SIZE],
    const void *payload, size_t len)
{
	uint8_t d[32];

	cf_sha256(len ? payload : "", len, d);
	int err = chain_fold(c, hdr, d, 1);
	if (err)
		return err;
	c->recs++;
	c->bytes += CF_STREAM_HDR_SIZE + PAD8((uint64_t)len);
	return 0;
}

/* The message signed for the record just added (at offset off). */
static void chain_msg(const chain_t *c, uint64_t off, uint8_t m[MSG_LEN])
{
	memcpy(m, SIG_DS, sizeof(SIG_DS));
	memcpy(m + sizeof(SIG_DS), c->h, 32);
	le64_put(m + sizeof(SIG_DS) + 32, c->seq);
	le64_put(m + sizeof(SIG_DS) + 40, off);
}

/* Is the record just added a checkpoint (invariant 2)? */
static int chain_due(const chain_t *c, int mode, uint32_t type,
    uint64_t interval, uint64_t bytes)
{
	if (mode == CF_SSIGN_RECORD || c->seq == 0 || type == CF_SREC_END)
		return 1;
	return c->recs >= interval || c->bytes >= bytes;
}

/* After the record just added: advance; reset the counts at a signature. */
static void chain_next(chain_t *c, size_t len, int signed_here)
{
	c->off += CF_STREAM_HDR_SIZE + PAD8((uint64_t)len);
	c->seq++;
	if (signed_here)
		c->recs = c->bytes = 0;
}

/* ---- signer ---------------------------------------------------------------- */

/*
 * In chain mode the hashing runs in worker threads, so that it overlaps
 * with the rest of send (reading the pool, the codec, writing) and with
 * itself: the hook copies each record (slot-zeroed header, payload) into
 * one of SG_NBUF buffers, used in ring order, and queues a full buffer;
 * SG_WORKERS workers take queued buffers and compute each record's
 * payload digest D_i.  The fold into the chain (H_i from H_{i-1}, hdr'_i
 * and D_i: small and sequential) is done by the hook's thread, buffer by
 * buffer in ring order, as soon as a buffer's digests are done, and
 * completely at a checkpoint, before it signs.  Record mode hashes
 * inline: a signature per record costs far more than the hash.
 */
#define SG_CHUNK   (4u << 20)
#define SG_NBUF    4
#define SG_WORKERS 2

enum { SB_FREE, SB_FILLING, SB_QUEUED, SB_HASHING, SB_DONE };

typedef struct sg_buf {
	uint8_t *p;
	size_t len, cap;
	uint32_t nrec;
	uint8_t (*dig)[32];     /* D_i of each record */
	uint32_t digcap;
	int state;              /* SB_* */
} sg_buf_t;

struct cf_ssign {
	const cf_signkey_t *key;
	int mode;
	uint64_t interval, bytes;
	chain_t c;              /* schedule; the chain in record mode */
	/* chain mode: the workers and the buffers */
	int nth;
	pthread_t th[SG_WORKERS];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	sg_buf_t buf[SG_NBUF];
	int fill;               /* the buffer the hook fills */
	int fold;               /* the oldest buffer not folded yet */
	int stop;
	int werr;               /* a worker's error */
	chain_t wc;             /* the folded chain (h, seq) */
};

static void *sg_worker(void *arg)
{
	cf_ssign_t *s = arg;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		sg_buf_t *b = NULL;
		for (int k = 0; k < SG_NBUF && !b; k++) {
			sg_buf_t *c = &s->buf[(s->fold + k) % SG_NBUF];
			if (c->state == SB_QUEUED)
				b = c;
		}
		if (!b) {
			if (s->stop)
				break;
			pthread_cond_wait(&s->cv, &s->mu);
			continue;
		}
		b->state = SB_HASHING;
		pthread_mutex_unlock(&s->mu);
		size_t off = 0;
		for (uint32_t i = 0; i < b->nrec; i++) {
			uint64_t len = le64_get(b->p + off);
			cf_sha256(len ? b->p + off + 8 + CF_STREAM_HDR_SIZE : b->p,
			    (size_t)len, b->dig[i]);
			off += 8 + CF_STREAM_HDR_SIZE + len;
		}
		pthread_mutex_lock(&s->mu);
		b->state = SB_DONE;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Fold done buffers into the chain, oldest first; with wait, until no
 * buffer is pending.  Called with s->mu held. */
static int sg_fold(cf_ssign_t *s, int wait)
{
	for (;;) {
		sg_buf_t *b = &s->buf[s->fold];
		if (b->state == SB_FREE || b->state == SB_FILLING)
			return 0;               /* nothing pending */
		if (b->state != SB_DONE) {
			if (!wait)
				return 0;
			pthread_cond_wait(&s->cv, &s->mu);
			continue;
		}
		size_t off = 0;
		for (uint32_t i = 0; i < b->nrec; i++) {
			uint64_t len = le64_get(b->p + off);
			int err = chain_fold(&s->wc, b->p + off + 8, b->dig[i], 0);
			if (err)
				return err;
			s->wc.seq++;
			off += 8 + CF_STREAM_HDR_SIZE + len;
		}
		b->len = 0;
		b->nrec = 0;
		b->state = SB_FREE;
		s->fold = (s->fold + 1) % SG_NBUF;
	}
}

/* Queue the buffer being filled and take the next one in the ring,
 * folding (and waiting for) older buffers until it is free. */
static int sg_handoff(cf_ssign_t *s)
{
	int err = 0;

	pthread_mutex_lock(&s->mu);
	if (s->buf[s->fill].nrec) {
		s->buf[s->fill].state = SB_QUEUED;
		pthread_cond_broadcast(&s->cv);
		s->fill = (s->fill + 1) % SG_NBUF;
	}
	while (!err && s->buf[s->fill].state != SB_FREE &&
	    s->buf[s->fill].state != SB_FILLING) {
		err = sg_fold(s, 0);
		if (!err && s->buf[s->fill].state != SB_FREE)
			pthread_cond_wait(&s->cv, &s->mu);
	}
	if (!err)
		s->buf[s->fill].state = SB_FILLING;
	pthread_mutex_unlock(&s->mu);
	return err;
}

/* A checkpoint: everything handed over, hashed and folded; the head. */
static int sg_sync(cf_ssign_t *s, uint8_t h[32])
{
	int err = sg_handoff(s);

	pthread_mutex_lock(&s->mu);
	if (!err)
		err = sg_fold(s, 1);
	if (!err)
		err = s->werr;
	memcpy(h, s->wc.h, 32);
	pthread_mutex_unlock(&s->mu);
	return err;
}

/* Copy a record into the buffer being filled (slot zeroed). */
static int sg_queue(cf_ssign_t *s, const uint8_t *hdr, const void *payload,
    size_t len)
{
	size_t need = 8 + CF_STREAM_HDR_SIZE + len;
	sg_buf_t *b = &s->buf[s->fill];
	int err;

	if (b->nrec && b->len + need > b->cap) {
		if ((err = sg_handoff(s)) != 0)
			return err;
		b = &s->buf[s->fill];
	}
	if (b->len + need > b->cap) {
		size_t cap = CF_MAX((size_t)SG_CHUNK, b->len + need);
		uint8_t *p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	if (b->nrec == b->digcap) {
		uint32_t n = b->digcap ? b->digcap * 2 : 256;
		uint8_t (*d)[32] = realloc(b->dig, (size_t)n * 32);
		if (!d)
			return -ENOMEM;
		b->dig = d;
		b->digcap = n;
	}
	uint8_t *d = b->p + b->len;
	le64_put(d, len);
	memcpy(d + 8, hdr, CF_STREAM_HDR_SIZE);
	memset(d + 8 + SLOT_OFF, 0, SLOT_LEN);
	if (len)
		memcpy(d + 8 + CF_STREAM_HDR_SIZE, payload, len);
	b->len += need;
	b->nrec++;
	return 0;
}

int cf_ssign_new(const cf_signkey_t *key, int mode, uint32_t interval,
    uint64_t bytes, cf_ssign_t **out)
{
	cf_ssign_t *s;

	*out = NULL;
	if (!key || !key->has_private ||
	    (mode != CF_SSIGN_CHAIN && mode != CF_SSIGN_RECORD) ||
	    interval > CF_SVERIFY_MAX_RECORDS ||
	    bytes > CF_SVERIFY_MAX_SIGN_BYTES)
		return -EINVAL;
	if ((s = cf_zalloc(sizeof(*s))) == NULL)
		return -ENOMEM;
	s->key = key;
	s->mode = mode;
	s->interval = interval ? interval : CF_SSIGN_INTERVAL;
	s->bytes = bytes ? bytes : CF_SSIGN_BYTES;
	if (mode == CF_SSIGN_CHAIN) {
		pthread_mutex_init(&s->mu, NULL);
		pthread_cond_init(&s->cv, NULL);
		s->buf[0].state = SB_FILLING;
		for (int i = 0; i < SG_WORKERS; i++) {
			if (pthread_create(&s->th[i], NULL, sg_worker, s) != 0)
				break;
			s->nth++;
		}
		if (s->nth == 0) {
			pthread_cond_destroy(&s->cv);
			pthread_mutex_destroy(&s->mu);
			free(s);
			return -EAGAIN;
		}
	}
	*out = s;
	return 0;
}

void cf_ssign_free(cf_ssign_t *s)
{
	if (!s)
		return;
	if (s->nth) {
		pthread_mutex_lock(&s->mu);
		s->stop = 1;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		for (int i = 0; i < s->nth; i++)
			pthread_join(s->th[i], NULL);
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
	}
	for (int i = 0; i < SG_NBUF; i++) {
		free(s->buf[i].p);
		free(s->buf[i].dig);
	}
	cf_wipe(s, sizeof(*s));
	free(s);
}

int cf_ssign_begin(cf_ssign_t *s, cf_kv_t *kv, uint64_t *incompat)
{
	int l, err = cf_kv_add_u64(kv, CF_KV_ROOT, "signed", 1);

	if (!err && (l = cf_kv_add_list(kv, CF_KV_ROOT, "signature")) < 0)
		err = l;
	if (!err)
		err = cf_kv_add_str(kv, l, "alg", cf_sign_rfd_alg(s->key->alg));
	if (!err)
		err = cf_kv_add_str(kv, l, "curve",
		    cf_sign_rfd_curve(s->key->alg));
	if (!err && (l = cf_kv_add_list(kv, CF_KV_ROOT, "key_fp")) < 0)
		err = l;
	if (!err)
		err = cf_kv_add_str(kv, l, "alg", "sha256");
	if (!err)
		err = cf_kv_add_bytes(kv, l, "hash", s->key->fp, CF_SIGN_FP_LEN);
	if (!err)
		err = cf_kv_add_str(kv, CF_KV_ROOT, "sign_mode",
		    s->mode == CF_SSIGN_RECORD ? "record" : "chain");
	if (!err && s->mode == CF_SSIGN_CHAIN)
		err = cf_kv_add_u64(kv, CF_KV_ROOT, "sign_interval",
		    s->interval);
	if (!err && s->mode == CF_SSIGN_CHAIN)
		err = cf_kv_add_u64(kv, CF_KV_ROOT, "sign_bytes", s->bytes);
	if (!err)
		*incompat |= CF_SFEAT_SIGNED;
	return err;
}

int cf_ssign_hook(void *arg, const uint8_t hdr[CF_STREAM_HDR_SIZE],
    const void *payload, size_t len, cf_stream_sig_t *sig)
{
	cf_ssign_t *s = arg;
	uint8_t m[MSG_LEN], b[CF_SIG_MAX_LEN];
	size_t blen;
	int err;

	if (le64_get(hdr + 24) != s->c.seq)
		return -EINVAL;         /* the writer skipped a record */
	if (s->mode == CF_SSIGN_RECORD) {
		if ((err = chain_add(&s->c, hdr, payload, len)) != 0)
			return err;
	} else {
		if ((err = sg_queue(s, hdr, payload, len)) != 0)
			return err;
		s->c.recs++;
		s->c.bytes += CF_STREAM_HDR_SIZE + PAD8((uint64_t)len);
	}
	int due = chain_due(&s->c, s->mode, le32_get(hdr + 8), s->interval,
	    s->bytes);
	if (due) {
		if (s->mode == CF_SSIGN_CHAIN &&
		    (err = sg_sync(s, s->c.h)) != 0)
			return err;
		chain_msg(&s->c, s->c.off, m);
		if ((err = cf_signkey_sign(s->key, m, sizeof(m), b, &blen)) != 0)
			return err;
		sig->alg = (uint16_t)s->key->alg;
		sig->len = (uint16_t)blen;
		memcpy(sig->bytes, b, blen);
	}
	chain_next(&s->c, len, due);
	return 0;
}

/* ---- verifying reader -------------------------------------------------- */

typedef struct held {
	cf_stream_rec_t rec;
	size_t off, len;        /* payload in the arena */
} held_t;

struct cf_svreader {
	cf_stream_reader_t *r;
	cf_sverify_opts_t o;
	cf_sverify_info_t info;
	int verifying;          /* holding and verifying (else pass through) */
	int release;            /* a signature just verified */
	const cf_signkey_t *key;
	cf_signkey_t *owned;    /* a key found in the keyring directory */
	uint64_t interval, bytes;
	chain_t c;
	uint64_t run_seq, run_off;      /* first record not yet covered */
	/* held back, this fill */
	uint32_t held_recs, peak_recs;
	uint64_t held_bytes, peak_bytes;
	held_t *q;
	uint32_t qn, qpos, qcap;
	uint8_t *arena;
	size_t alen, acap;
	int cur_held;           /* the record just returned came from q */
	const held_t *cur;
	cf_kv_t *kv;
	int err;
};

#define WHY(...) do { cf_snprintf(why, whylen, __VA_ARGS__); } while (0)

static int find_key(cf_svreader_t *v, const uint8_t fp[CF_SIGN_FP_LEN],
    char *why, size_t whylen)
{
	for (int i = 0; i < v->o.nkeys; i++) {
		if (cf_ct_equal(v->o.keys[i]->fp, fp, CF_SIGN_FP_LEN)) {
			v->key = v->o.keys[i];
			return 0;
		}
	}
	if (!v->o.keyring)
		return -ENOENT;
	int err = cf_kr_find_fp(v->o.keyring, fp, &v->owned);
	if (err == 0) {
		v->key = v->owned;
		return 0;
	}
	if (err != -ENOENT)
		WHY("%s", coffer_errdetail());
	return err;
}

/* BEGIN: decide what to do with this stream (opts and BEGIN's keys). */
static int begin(cf_svreader_t *v, const cf_stream_rec_t *rec,
    const void *payload, size_t len, char *why, size_t whylen)
{
	cf_sverify_info_t *in = &v->info;
	cf_kv_t *kv = NULL;
	const char *alg, *curve, *fpalg, *mode;
	const uint8_t *fp;
	size_t fplen;
	int l, err;
	char fpt[CF_SIGN_FP_TEXT];

	if (!(rec->u.begin.incompat & CF_SFEAT_SIGNED)) {
		if (v->o.require_signed && !v->o.accept_unverified) {
			WHY("the stream is not signed, and only a stream "
			    "signed by a trusted key is accepted here");
			return COFFER_EAUTH;
		}
		return 0;               /* unsigned: pass through */
	}
	in->is_signed = 1;
	if ((err = cf_kv_decode(payload, len, &kv)) != 0) {
		WHY("kv does not decode");
		return err;
	}
	err = COFFER_EBADSTREAM;
	if (cf_kv_get_list(kv, CF_KV_ROOT, "signature", &l) != 0 ||
	    cf_kv_get_str(kv, l, "alg", &alg, NULL) != 0 ||
	    cf_kv_get_str(kv, l, "curve", &curve, NULL) != 0) {
		WHY("no signature algorithm");
		goto out;
	}
	if ((in->alg = cf_sign_alg_from_rfd(alg, curve)) < 0) {
		WHY("unsupported signature algorithm '%.32s' on curve '%.32s'",
		    alg, curve);
		goto out;
	}
	if (cf_kv_get_list(kv, CF_KV_ROOT, "key_fp", &l) != 0 ||
	    cf_kv_get_str(kv, l, "alg", &fpalg, NULL) != 0 ||
	    cf_kv_get_bytes(kv, l, "hash", &fp, &fplen) != 0) {
		WHY("no key fingerprint");
		goto out;
	}
	if (strcmp(fpalg, "sha256") != 0 || fplen != CF_SIGN_FP_LEN) {
		WHY("unsupported key fingerprint ('%.32s', %zu bytes)", fpalg,
		    fplen);
		goto out;
	}
	memcpy(in->fp, fp, CF_SIGN_FP_LEN);
	cf_sign_fp_format(in->fp, fpt, sizeof(fpt));
	if (cf_kv_get_str(kv, CF_KV_ROOT, "sign_mode", &mode, NULL) != 0) {
		WHY("no sign_mode");
		goto out;
	}
	in->mode = strcmp(mode, "record") == 0 ? CF_SSIGN_RECORD :
	    CF_SSIGN_CHAIN;
	if (in->mode == CF_SSIGN_CHAIN) {
		if (cf_kv_get_u64(kv, CF_KV_ROOT, "sign_interval",
		    &v->interval) != 0 ||
		    cf_kv_get_u64(kv, CF_KV_ROOT, "sign_bytes", &v->bytes) != 0) {
			WHY("chain mode without sign_interval and sign_bytes");
			goto out;
		}
		if (v->interval == 0 || v->interval > v->o.max_records ||
		    v->bytes == 0 || v->bytes > v->o.max_bytes / 2) {
			WHY("checkpoints every %llu records or %llu bytes: over "
			    "this receiver's limit of %u records and %llu bytes",
			    (unsigned long long)v->interval,
			    (unsigned long long)v->bytes, v->o.max_records,
			    (unsigned long long)(v->o.max_bytes / 2));
			goto out;
		}
	}
	if (rec->sig.alg == CF_SSIG_NONE) {
		WHY("BEGIN's signature slot is empty");
		err = COFFER_EAUTH;
		goto out;
	}
	err = find_key(v, in->fp, why, whylen);
	if (err == -ENOENT) {
		if (v->o.accept_unverified) {
			err = 0;        /* -k: accepted, unverified */
			goto out;
		}
		WHY("signed by key %s, which is not trusted (not in the "
		    "keyring)", fpt);
		err = COFFER_EAUTH;
		goto out;
	}
	if (err)
		goto out;
	in->key_known = 1;
	cf_strlcpy(in->keyname, v->key->name, sizeof(in->keyname));
	if (v->key->alg != in->alg) {
		WHY("BEGIN names %s on %s, but key '%s' (%s) is %s", alg, curve,
		    v->key->name, fpt, cf_sign_alg_name(v->key->alg));
		err = COFFER_EAUTH;
		goto out;
	}
	v->verifying = 1;
	in->verified = 1;
	err = 0;
out:
	cf_kv_free(kv);
	return err;
}

static int verify_hook(void *arg, const cf_stream_rec_t *rec,
    const uint8_t hdr[CF_STREAM_HDR_SIZE], const void *payload, size_t len,
    char *why, size_t whylen)
{
	cf_svreader_t *v = arg;
	uint8_t m[MSG_LEN];
	char fpt[CF_SIGN_FP_TEXT];
	int err;

	if (rec->type == CF_SREC_BEGIN && (err = begin(v, rec, payload, len,
	    why, whylen)) != 0)
		return err;
	if (!v->verifying)
		return 0;
	uint64_t off = v->c.off;
	if ((err = chain_add(&v->c, hdr, payload, len)) != 0)
		return err;
	uint64_t rb = CF_STREAM_HDR_SIZE + PAD8((uint64_t)len);
	if (v->held_recs + 1 > v->o.max_records ||
	    v->held_bytes + rb > v->o.max_bytes) {
		WHY("%u records and %llu bytes without a signature: over this "
		    "receiver's limit of %u records and %llu bytes",
		    v->held_recs + 1,
		    (unsigned long long)(v->held_bytes + rb), v->o.max_records,
		    (unsigned long long)v->o.max_bytes);
		return COFFER_EBADSTREAM;
	}
	v->held_recs++;
	v->held_bytes += rb;
	v->peak_recs = CF_MAX(v->peak_recs, v->held_recs);
	v->peak_bytes = CF_MAX(v->peak_bytes, v->held_bytes);
	int due = chain_due(&v->c, v->info.mode, rec->type, v->interval,
	    v->bytes);
	int has = rec->sig.alg != CF_SSIG_NONE;
	if (has && rec->sig.alg != v->info.alg) {
		WHY("signature slot holds algorithm %u, but BEGIN names %s",
		    rec->sig.alg, cf_sign_alg_name(v->info.alg));
		return COFFER_EAUTH;
	}
	if (due && !has) {
		WHY("signature missing: the stream's schedule puts one here");
		return COFFER_EAUTH;
	}
	if (!due && has) {
		WHY("signature where the stream's schedule puts none");
		return COFFER_EAUTH;
	}
	if (has) {
		chain_msg(&v->c, off, m);
		err = cf_signkey_verify(v->key, m, sizeof(m), rec->sig.bytes,
		    rec->sig.len);
		if (err == COFFER_EAUTH) {
			cf_sign_fp_format(v->key->fp, fpt, sizeof(fpt));
			WHY("signature by key '%s' (%s) does not verify: "
			    "records %llu..%llu (bytes %llu..%llu) are not what "
			    "was signed", v->key->name, fpt,
			    (unsigned long long)v->run_seq,
			    (unsigned long long)v->c.seq,
			    (unsigned long long)v->run_off,
			    (unsigned long long)(off + rb - 1));
			return err;
		}
		if (err)
			return err;
		v->release = 1;
		v->info.checkpoints++;
		v->info.covered_seq = v->c.seq;
		v->run_seq = v->c.seq + 1;
		v->run_off = off + rb;
	}
	chain_next(&v->c, len, has);
	return 0;
}

int cf_svreader_new(cf_stream_read_fn fn, void *arg,
    const cf_stream_reader_opts_t *ropts, const cf_sverify_opts_t *vopts,
    cf_svreader_t **out)
{
	cf_stream_reader_opts_t ro;
	cf_svreader_t *v;
	int err;

	*out = NULL;
	if (!vopts || (ropts && ropts->verify))
		return -EINVAL;
	if ((v = cf_zalloc(sizeof(*v))) == NULL)
		return -ENOMEM;
	v->o = *vopts;
	if (!v->o.max_records || v->o.max_records > CF_SVERIFY_MAX_RECORDS)
		v->o.max_records = CF_SVERIFY_MAX_RECORDS;
	if (!v->o.max_bytes || v->o.max_bytes > CF_SVERIFY_MAX_BYTES)
		v->o.max_bytes = CF_SVERIFY_MAX_BYTES;
	memset(&ro, 0, sizeof(ro));
	if (ropts)
		ro = *ropts;
	ro.verify = verify_hook;
	ro.verify_arg = v;
	err = cf_stream_reader_new(fn, arg, &ro, &v->r);
	if (err) {
		free(v);
		return err;
	}
	*out = v;
	return 0;
}

void cf_svreader_free(cf_svreader_t *v)
{
	if (!v)
		return;
	cf_stream_reader_free(v->r);
	cf_signkey_free(v->owned);
	cf_kv_free(v->kv);
	free(v->q);
	free(v->arena);
	free(v);
}

static int hold(cf_svreader_t *v, const cf_stream_rec_t *rec,
    const uint8_t *p, size_t len)
{
	if (v->qn == v->qcap) {
		uint32_t cap = v->qcap ? v->qcap * 2 : 64;
		held_t *q = realloc(v->q, cap * sizeof(*q));
		if (!q)
			return -ENOMEM;
		v->q = q;
		v->qcap = cap;
	}
	if (v->alen + len > v->acap) {
		size_t cap = CF_MAX(v->acap * 2, v->alen + len);
		cap = CF_MAX(cap, (size_t)(1u << 20));
		uint8_t *a = realloc(v->arena, cap);
		if (!a)
			return -ENOMEM;
		v->arena = a;
		v->acap = cap;
	}
	held_t *h = &v->q[v->qn++];
	h->rec = *rec;
	h->off = v->alen;
	h->len = len;
	if (len)
		memcpy(v->arena + v->alen, p, len);
	v->alen += len;
	return 0;
}

static int give(cf_svreader_t *v, cf_stream_rec_t *rec,
    const uint8_t **payload, size_t *len)
{
	const held_t *h = &v->q[v->qpos++];

	*rec = h->rec;
	*payload = h->len ? v->arena + h->off : NULL;
	*len = h->len;
	v->cur_held = 1;
	v->cur = h;
	return 1;
}

int cf_svreader_read(cf_svreader_t *v, cf_stream_rec_t *rec,
    const uint8_t **payload, size_t *len)
{
	cf_kv_free(v->kv);
	v->kv = NULL;
	v->cur_held = 0;
	v->cur = NULL;
	if (v->err)
		return v->err;
	if (v->qpos < v->qn)
		return give(v, rec, payload, len);
	v->qn = v->qpos = 0;
	v->alen = 0;
	v->held_recs = 0;
	v->held_bytes = 0;
	v->release = 0;
	for (;;) {
		int n = cf_stream_read(v->r, rec, payload, len);
		if (n < 0) {
			v->err = n;
			return n;
		}
		if (n == 0) {
			if (v->qn) {    /* cannot happen: END is signed */
				cf_set_errdetail("stream ended with records "
				    "that no signature covers");
				v->err = COFFER_EAUTH;
				return v->err;
			}
			return 0;
		}
		if (!v->verifying)
			return 1;       /* unsigned or unverified: as is */
		if (v->release && v->qn == 0)
			return 1;       /* covered at once (BEGIN, record mode):
					   no need to hold a copy */
		int err = hold(v, rec, *payload, *len);
		if (err) {
			v->err = err;
			return err;
		}
		if (v->release)
			return give(v, rec, payload, len);
	}
}

const cf_stream_rec_t *cf_svreader_begin(const cf_svreader_t *v)
{
	return cf_stream_reader_begin(v->r);
}

const cf_kv_t *cf_svreader_begin_kv(const cf_svreader_t *v)
{
	return cf_stream_reader_begin_kv(v->r);
}

const cf_kv_t *cf_svreader_kv(cf_svreader_t *v)
{
	if (!v->cur_held)
		return cf_stream_reader_kv(v->r);
	if (v->kv)
		return v->kv;
	uint32_t t = v->cur->rec.type;
	if (t != CF_SREC_BEGIN && t != CF_SREC_PROPS && t != CF_SREC_SNAPSHOT)
		return NULL;
	if (cf_kv_decode(v->cur->len ? v->arena + v->cur->off : NULL,
	    v->cur->len, &v->kv) != 0)
		v->kv = NULL;   /* cannot happen: the codec checked it */
	return v->kv;
}

const char *cf_svreader_error(const cf_svreader_t *v)
{
	return cf_stream_reader_error(v->r);
}

uint64_t cf_svreader_offset(const cf_svreader_t *v)
{
	return cf_stream_reader_offset(v->r);
}

const cf_sverify_info_t *cf_svreader_info(const cf_svreader_t *v)
{
	return &v->info;
}

void cf_svreader_peak(const cf_svreader_t *v, uint32_t *records,
    uint64_t *bytes)
{
	*records = v->peak_recs;
	*bytes = v->peak_bytes;
}
