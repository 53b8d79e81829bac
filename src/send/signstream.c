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
#include <unistd.h>

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

/* Fold a record into the chain head h (the first record: from the
 * domain string), given its payload's digest D_i. */
static int chain_fold(uint8_t h[32], int first,
    const uint8_t hdr[CF_STREAM_HDR_SIZE], const uint8_t d[32], int slot_zero)
{
	uint8_t t[CF_STREAM_HDR_SIZE];
	cf_sha256_ctx_t *x = cf_sha256_new();

	if (!x)
		return -ENOMEM;
	memcpy(t, hdr, sizeof(t));
	if (slot_zero)
		memset(t + SLOT_OFF, 0, SLOT_LEN);
	if (first)
		cf_sha256_update(x, CHAIN_DS, sizeof(CHAIN_DS));
	else
		cf_sha256_update(x, h, 32);
	cf_sha256_update(x, t, sizeof(t));
	cf_sha256_update(x, d, 32);
	cf_sha256_final(x, h);
	return 0;
}

/* Count a record of len payload bytes towards the schedule. */
static void chain_count(chain_t *c, size_t len)
{
	c->recs++;
	c->bytes += CF_STREAM_HDR_SIZE + PAD8((uint64_t)len);
}

/* Fold record (hdr, payload) into the chain and count it; 0 or -ENOMEM. */
static int chain_add(chain_t *c, const uint8_t hdr[CF_STREAM_HDR_SIZE],
    const void *payload, size_t len)
{
	uint8_t d[32];

	cf_sha256(len ? payload : "", len, d);
	int err = chain_fold(c->h, c->seq == 0, hdr, d, 1);
	if (err)
		return err;
	chain_count(c, len);
	return 0;
}

/* The message signed for record seq at offset off, chain head h. */
static void chain_msg(const uint8_t h[32], uint64_t seq, uint64_t off,
    uint8_t m[MSG_LEN])
{
	memcpy(m, SIG_DS, sizeof(SIG_DS));
	memcpy(m + sizeof(SIG_DS), h, 32);
	le64_put(m + sizeof(SIG_DS) + 32, seq);
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

/* ---- hashing threads ------------------------------------------------------ */

/*
 * Both sides of chain mode hash payloads on threads: the signer, and the
 * verifier once BEGIN is verified.  The caller's thread keeps each record
 * in a batch (header with its slot zeroed; payload copied into chunks
 * that never move), and worker threads take the batch's records,
 * about HP_JOB payload bytes at a time, and compute their digests D_i,
 * overlapping with the caller's own work (reading the pool or the
 * stream, the codec, applying).  Folding a batch into the chain (H_i
 * from H_{i-1}, hdr'_i and D_i: small and sequential) waits for all its
 * digests, the caller hashing alongside meanwhile, so a checkpoint costs
 * at most the hashing of one job after the last record arrives.
 *
 * The workers take records from one batch, hp->active.  The counters
 * (nq, next, ndone), `active` and the spare chunks are under hp->mu; a
 * record's slot and payload are written by the caller before nq counts
 * it, its digest by the one worker that took it, read back after ndone
 * counts it.
 */
#define HP_WORKERS 3            /* at most; one less than the CPUs online
				   (the caller's thread hashes too), and one
				   on a single CPU */
#define HP_JOB     (256u << 10) /* payload bytes a worker takes at once */
#define HP_CHUNK   (4u << 20)   /* payload chunks: 64 KiB, doubling up to
				   this */

typedef struct chunk {
	struct chunk *next;
	size_t cap, used;
	uint8_t data[];
} chunk_t;

typedef struct hslot {
	uint8_t hdr[CF_STREAM_HDR_SIZE];        /* slot zeroed */
	uint8_t d[32];          /* D_i */
	const uint8_t *p;       /* the payload, len bytes */
	size_t len;
} hslot_t;

typedef struct hbatch {
	chunk_t *chunks;        /* its payloads, the newest chunk first */
	hslot_t *slot;          /* nslot of them (when hashed on threads) */
	uint32_t nslot;
	uint32_t nq, next, ndone;       /* kept, handed out, hashed */
} hbatch_t;

typedef struct hpool {
	int started, nth, stop;
	pthread_t th[HP_WORKERS];
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	hbatch_t *active;
	chunk_t *spare;         /* chunks of batches used up */
	size_t chunk;           /* the size of the next chunk made */
	size_t allocated;       /* bytes of chunks in use or spare */
} hpool_t;

static void chunks_free(chunk_t *c)
{
	while (c) {
		chunk_t *n = c->next;
		free(c);
		c = n;
	}
}

static void hb_free(hbatch_t *b)
{
	chunks_free(b->chunks);
	free(b->slot);
}

/* Hand out the next records of b, about HP_JOB bytes; under mu. */
static uint32_t hp_take(hbatch_t *b, uint32_t *first)
{
	size_t sum = 0;
	uint32_t i = b->next;

	*first = i;
	while (i < b->nq && sum < HP_JOB)
		sum += b->slot[i++].len + CF_STREAM_HDR_SIZE;
	b->next = i;
	return i - *first;
}

/* Hash records [first, first + k) of b, then count them done. */
static void hp_hash(hpool_t *hp, hbatch_t *b, uint32_t first, uint32_t k)
{
	for (uint32_t i = first; i < first + k; i++) {
		hslot_t *sl = &b->slot[i];
		cf_sha256(sl->len ? sl->p : (const uint8_t *)"", sl->len,
		    sl->d);
	}
	pthread_mutex_lock(&hp->mu);
	b->ndone += k;
	if (b->ndone == b->nq)
		pthread_cond_broadcast(&hp->done);
	pthread_mutex_unlock(&hp->mu);
}

static void *hp_worker(void *arg)
{
	hpool_t *hp = arg;

	pthread_mutex_lock(&hp->mu);
	while (!hp->stop) {
		hbatch_t *b = hp->active;
		uint32_t first, k = b ? hp_take(b, &first) : 0;
		if (!k) {
			pthread_cond_wait(&hp->work, &hp->mu);
			continue;
		}
		pthread_mutex_unlock(&hp->mu);
		hp_hash(hp, b, first, k);
		pthread_mutex_lock(&hp->mu);
	}
	pthread_mutex_unlock(&hp->mu);
	return NULL;
}

/* Start the threads, workers on `active` (no thread is fine: the
 * caller's thread hashes alone). */
static void hp_start(hpool_t *hp, hbatch_t *active)
{
	hp->started = 1;
	hp->active = active;
	pthread_mutex_init(&hp->mu, NULL);
	pthread_cond_init(&hp->work, NULL);
	pthread_cond_init(&hp->done, NULL);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int n = ncpu > 1 ? (int)CF_MIN(ncpu - 1, HP_WORKERS) : 1;
	for (int i = 0; i < n; i++) {
		if (pthread_create(&hp->th[i], NULL, hp_worker, hp) != 0)
			break;
		hp->nth++;
	}
}

/* Stop the threads (if started) and free the spare chunks. */
static void hp_free(hpool_t *hp)
{
	if (hp->started) {
		pthread_mutex_lock(&hp->mu);
		hp->stop = 1;
		pthread_cond_broadcast(&hp->work);
		pthread_mutex_unlock(&hp->mu);
		for (int i = 0; i < hp->nth; i++)
			pthread_join(hp->th[i], NULL);
		pthread_cond_destroy(&hp->done);
		pthread_cond_destroy(&hp->work);
		pthread_mutex_destroy(&hp->mu);
	}
	chunks_free(hp->spare);
}

static void hp_lock(hpool_t *hp)
{
	if (hp->started)
		pthread_mutex_lock(&hp->mu);
}

static void hp_unlock(hpool_t *hp)
{
	if (hp->started)
		pthread_mutex_unlock(&hp->mu);
}

/* Room for len payload bytes in b's newest chunk (a spare one, or a new
 * one): where they go, or NULL. */
static uint8_t *hb_space(hpool_t *hp, hbatch_t *b, size_t len)
{
	chunk_t *c = b->chunks;

	if (!c || c->cap - c->used < len) {
		hp_lock(hp);
		chunk_t **pp = &hp->spare;
		while (*pp && (*pp)->cap < len)
			pp = &(*pp)->next;
		if ((c = *pp) != NULL)
			*pp = c->next;
		hp_unlock(hp);
		if (!c) {
			if (!hp->chunk)
				hp->chunk = 64u << 10;
			size_t cap = CF_MAX(hp->chunk, len);
			if ((c = malloc(sizeof(*c) + cap)) == NULL)
				return NULL;
			c->cap = cap;
			hp->chunk = CF_MIN(hp->chunk * 2, (size_t)HP_CHUNK);
			hp->allocated += cap;
		}
		c->used = 0;
		c->next = b->chunks;
		b->chunks = c;
	}
	uint8_t *p = c->data + c->used;
	c->used += len;
	return p;
}

/* Keep a record in b: its payload copied into b's chunks (*stored: the
 * copy, NULL when len is 0); with a header (hashing on threads: b has
 * slots), also its slot, handed to the workers. */
static int hb_add(hpool_t *hp, hbatch_t *b,
    const uint8_t hdr[CF_STREAM_HDR_SIZE], const void *payload, size_t len,
    const uint8_t **stored)
{
	uint8_t *d = NULL;

	if (hdr && !b->slot) {
		if ((b->slot = malloc(b->nslot * sizeof(*b->slot))) == NULL)
			return -ENOMEM;
	}
	if (hdr && b->nq == b->nslot)
		return COFFER_EBADSTREAM;       /* over the schedule: callers
						   check it first */
	if (len && (d = hb_space(hp, b, len)) == NULL)
		return -ENOMEM;
	if (len)
		memcpy(d, payload, len);
	if (stored)
		*stored = d;
	if (hdr) {
		hslot_t *sl = &b->slot[b->nq];
		memcpy(sl->hdr, hdr, CF_STREAM_HDR_SIZE);
		memset(sl->hdr + SLOT_OFF, 0, SLOT_LEN);
		sl->p = d;
		sl->len = len;
		hp_lock(hp);
		b->nq++;
		pthread_cond_signal(&hp->work);
		hp_unlock(hp);
	}
	return 0;
}

/* Fold b's records into chain head h (first: b starts the chain), once
 * every digest is there, hashing alongside the workers meanwhile. */
static int hb_fold(hpool_t *hp, hbatch_t *b, uint8_t h[32], int first)
{
	hp_lock(hp);
	while (b->ndone < b->nq) {
		uint32_t i, k = hp_take(b, &i);
		if (k) {
			hp_unlock(hp);
			hp_hash(hp, b, i, k);
			hp_lock(hp);
		} else {
			pthread_cond_wait(&hp->done, &hp->mu);
		}
	}
	hp_unlock(hp);
	for (uint32_t i = 0; i < b->nq; i++) {
		int err = chain_fold(h, first && i == 0, b->slot[i].hdr,
		    b->slot[i].d, 0);
		if (err)
			return err;
	}
	return 0;
}

/* b is used up: its chunks go to the spares (payloads returned from it
 * are gone), except those made for one record over HP_CHUNK, which are
 * freed: the spares stay within what two batches of ordinary chunks
 * hold. */
static void hb_reset(hpool_t *hp, hbatch_t *b)
{
	hp_lock(hp);
	while (b->chunks) {
		chunk_t *c = b->chunks;
		b->chunks = c->next;
		if (c->cap > HP_CHUNK) {
			hp->allocated -= c->cap;
			free(c);
			continue;
		}
		c->next = hp->spare;
		hp->spare = c;
	}
	b->nq = b->next = b->ndone = 0;
	hp_unlock(hp);
}

/* ---- signer ---------------------------------------------------------------- */

/*
 * Chain mode hashes on the threads above: the hook keeps each record in
 * one batch, and at a checkpoint folds it into the chain and signs the
 * head.  Record mode hashes inline: a signature per record costs far more
 * than the hash.
 */
struct cf_ssign {
	const cf_signkey_t *key;
	int mode;
	uint64_t interval, bytes;
	chain_t c;              /* the schedule; the chain head */
	hpool_t hp;             /* chain mode */
	hbatch_t b;
};

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
		s->b.nslot = (uint32_t)s->interval;
		hp_start(&s->hp, &s->b);
	}
	*out = s;
	return 0;
}

void cf_ssign_free(cf_ssign_t *s)
{
	if (!s)
		return;
	hp_free(&s->hp);
	hb_free(&s->b);
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
		if ((err = hb_add(&s->hp, &s->b, hdr, payload, len, NULL)) != 0)
			return err;
		chain_count(&s->c, len);
	}
	int due = chain_due(&s->c, s->mode, le32_get(hdr + 8), s->interval,
	    s->bytes);
	if (due) {
		if (s->mode == CF_SSIGN_CHAIN) {
			/* BEGIN, always signed, is a batch of its own */
			err = hb_fold(&s->hp, &s->b, s->c.h, s->c.seq == 0);
			hb_reset(&s->hp, &s->b);
			if (err)
				return err;
		}
		chain_msg(s->c.h, s->c.seq, s->c.off, m);
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

/*
 * Records wait in batches: a batch runs from the record after a verified
 * signature to the next record that carries one.  In record mode, for
 * BEGIN, and for streams accepted unverified, the reader works inline: it
 * reads, hashes and verifies each record as the codec hands it over.
 *
 * In chain mode, after BEGIN, it pipelines: while the caller applies the
 * verified batch k (`cur`), each call that returns one of its records
 * also reads up to VR_AHEAD records of batch k+1 (`fill`) from the
 * stream, and the hashing threads compute their payload digests
 * meanwhile.  When batch k is used up, the reader reads the rest of k+1,
 * folds it into the chain (hashing what is left alongside) and verifies
 * k+1's signature before it returns any record of it.  An error met while
 * reading ahead (the codec's, a schedule or limit violation, the input
 * ending) is reported when batch k is used up, so the caller sees the
 * same records and the same error as without read-ahead.
 *
 * Memory: the batch being filled holds at most max_records records and
 * max_bytes stream bytes unverified (invariant 1); the verified batch the
 * caller is applying at most as much again.
 */
#define VR_AHEAD 2              /* records read ahead per record returned */

typedef struct held {
	cf_stream_rec_t rec;
	uint64_t soff;          /* the stream offset of its header */
	const uint8_t *p;       /* its payload (in the batch's chunks) */
	size_t len;
} held_t;

typedef struct batch {
	hbatch_t hb;            /* payloads; pipelined, the digests */
	held_t *q;
	uint32_t n, pos;
	size_t qcap;
	int closed;             /* its last record is signed */
	int eof;                /* the input ended while reading it */
	int err;                /* an error met reading it, not reported
				   yet (the message in fmsg) */
} batch_t;

struct cf_svreader {
	cf_stream_reader_t *r;
	cf_sverify_opts_t o;
	cf_sverify_info_t info;
	int verifying;          /* holding and verifying (else pass through) */
	int pipe;               /* chain mode after BEGIN: pipelined */
	int release;            /* inline: a signature just verified */
	int sigseen;            /* pipelined: the record just read is signed */
	const cf_signkey_t *key;
	cf_signkey_t *owned;    /* a key found in the keyring directory */
	uint64_t interval, bytes;
	chain_t c;              /* inline: the chain; pipelined: the
				   schedule, and h as of the last verified
				   signature */
	uint64_t run_seq, run_off;      /* first record not yet covered */
	const uint8_t *lasthdr; /* the hook's record: header, offset */
	uint64_t lastoff;
	/* held back in the batch being filled */
	uint32_t held_recs, peak_recs;
	uint64_t held_bytes, peak_bytes;
	hpool_t hp;
	batch_t bt[2];
	batch_t *cur, *fill;
	const held_t *h;        /* the record just returned, when held */
	cf_kv_t *kv;
	int err;
	char msg[1024];         /* the error reported */
	char fmsg[1024];        /* fill->err's message, until reported */
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

/* Verify a signature over chain head h for record seq at off; the
 * records it covers start at v->run_seq / v->run_off, end at byte last. */
static int sig_verify(cf_svreader_t *v, const uint8_t h[32], uint64_t seq,
    uint64_t off, uint64_t last, const cf_stream_sig_t *sig, char *why,
    size_t whylen)
{
	uint8_t m[MSG_LEN];
	char fpt[CF_SIGN_FP_TEXT];

	chain_msg(h, seq, off, m);
	int err = cf_signkey_verify(v->key, m, sizeof(m), sig->bytes,
	    sig->len);
	if (err == COFFER_EAUTH) {
		cf_sign_fp_format(v->key->fp, fpt, sizeof(fpt));
		WHY("signature by key '%s' (%s) does not verify: records "
		    "%llu..%llu (bytes %llu..%llu) are not what was signed",
		    v->key->name, fpt, (unsigned long long)v->run_seq,
		    (unsigned long long)seq, (unsigned long long)v->run_off,
		    (unsigned long long)last);
		return err;
	}
	if (err)
		return err;
	v->info.checkpoints++;
	v->info.covered_seq = seq;
	v->run_seq = seq + 1;
	v->run_off = last + 1;
	return 0;
}

/* The codec's verify hook: BEGIN's keys, the limits and the schedule;
 * inline, also the chain and the signatures. */
static int verify_hook(void *arg, const cf_stream_rec_t *rec,
    const uint8_t hdr[CF_STREAM_HDR_SIZE], const void *payload, size_t len,
    char *why, size_t whylen)
{
	cf_svreader_t *v = arg;
	int err;

	if (rec->type == CF_SREC_BEGIN && (err = begin(v, rec, payload, len,
	    why, whylen)) != 0)
		return err;
	if (!v->verifying)
		return 0;
	uint64_t off = v->c.off;
	v->lastoff = off;
	if (v->pipe) {
		/* hashed by the threads, folded when the batch is whole */
		chain_count(&v->c, len);
		v->lasthdr = hdr;
	} else if ((err = chain_add(&v->c, hdr, payload, len)) != 0) {
		return err;
	}
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
	if (has && v->pipe) {
		v->sigseen = 1;
	} else if (has) {
		err = sig_verify(v, v->c.h, v->c.seq, off, off + rb - 1,
		    &rec->sig, why, whylen);
		if (err)
			return err;
		v->release = 1;
	}
	chain_next(&v->c, len, has);
	if (rec->type == CF_SREC_BEGIN && v->info.mode == CF_SSIGN_CHAIN)
		v->pipe = 1;    /* BEGIN verified: pipeline the rest */
	return 0;
}

/* ---- batches ---- */

static void batch_reset(cf_svreader_t *v, batch_t *b)
{
	hb_reset(&v->hp, &b->hb);
	b->n = b->pos = 0;
	b->closed = b->eof = b->err = 0;
}

/* Keep the record just read (the hook saw it: v->lasthdr, v->lastoff). */
static int hold(cf_svreader_t *v, batch_t *b, const cf_stream_rec_t *rec,
    const uint8_t *p, size_t len)
{
	if (cf_grow(&b->q, &b->qcap, b->n, sizeof(*b->q), 64) != 0)
		return -ENOMEM;
	held_t *h = &b->q[b->n];
	b->hb.nslot = (uint32_t)v->interval;
	int err = hb_add(&v->hp, &b->hb, v->pipe ? v->lasthdr : NULL, p, len,
	    &h->p);
	if (err)
		return err;
	h->rec = *rec;
	h->soff = v->lastoff;
	h->len = len;
	b->n++;
	return 0;
}

static int give(cf_svreader_t *v, batch_t *b, cf_stream_rec_t *rec,
    const uint8_t **payload, size_t *len)
{
	const held_t *h = &b->q[b->pos++];

	*rec = h->rec;
	*payload = h->p;
	*len = h->len;
	v->h = h;
	return 1;
}

/* The filling batch is whole (closed): fold it into the chain and verify
 * its signature. */
static int close_batch(cf_svreader_t *v)
{
	batch_t *b = v->fill;
	uint8_t h[32];
	char why[768];

	memcpy(h, v->c.h, 32);
	int err = hb_fold(&v->hp, &b->hb, h, 0);
	if (err)
		return err;
	const held_t *last = &b->q[b->n - 1];
	why[0] = 0;
	err = sig_verify(v, h, last->rec.seq, last->soff, last->soff +
	    CF_STREAM_HDR_SIZE + PAD8((uint64_t)last->len) - 1,
	    &last->rec.sig, why, sizeof(why));
	if (err) {
		snprintf(v->msg, sizeof(v->msg), "record %llu (%s) at byte "
		    "%llu: %s", (unsigned long long)last->rec.seq,
		    cf_stream_type_name(last->rec.type),
		    (unsigned long long)last->soff, why[0] ? why :
		    coffer_strerror(err));
		return err;
	}
	memcpy(v->c.h, h, 32);
	return 0;
}

/* Read one record into the filling batch: 1, 0 at the end, or an error
 * (the codec's or the hook's, with its detail set). */
static int read_one(cf_svreader_t *v, batch_t *b)
{
	cf_stream_rec_t rec;
	const uint8_t *p;
	size_t len;

	if (b->n == 0) {
		v->held_recs = 0;
		v->held_bytes = 0;
	}
	int n = cf_stream_read(v->r, &rec, &p, &len);
	if (n <= 0)
		return n;
	int err = hold(v, b, &rec, p, len);
	if (err)
		return err;
	if (v->sigseen) {
		v->sigseen = 0;
		b->closed = 1;
	}
	return 1;
}

/* Read ahead into the filling batch: up to k records, not past its
 * signature.  An error waits in the batch until it is due. */
static void read_ahead(cf_svreader_t *v, int k)
{
	batch_t *b = v->fill;

	while (k-- > 0 && !b->closed && !b->eof && !b->err) {
		cf_clear_errdetail();
		int n = read_one(v, b);
		if (n == 0) {
			b->eof = 1;
		} else if (n < 0) {
			b->err = n;
			cf_strlcpy(v->fmsg, coffer_errdetail()[0] ?
			    coffer_errdetail() : coffer_strerror(n),
			    sizeof(v->fmsg));
			/* reported when due, not left behind a success */
			cf_clear_errdetail();
		}
	}
}

/* Report err (sticky) with msg, or the detail the codec set. */
static int fail(cf_svreader_t *v, int err, const char *msg)
{
	v->err = err;
	if (!v->msg[0])
		cf_strlcpy(v->msg, msg ? msg : coffer_errdetail(),
		    sizeof(v->msg));
	if (v->msg[0])
		cf_set_errdetail("%s", v->msg);
	return err;
}

/* Pipelined (chain mode after BEGIN). */
static int read_pipe(cf_svreader_t *v, cf_stream_rec_t *rec,
    const uint8_t **payload, size_t *len)
{
	batch_t *b = v->cur;

	if (b->pos < b->n) {
		give(v, b, rec, payload, len);
		read_ahead(v, VR_AHEAD);
		return 1;
	}
	/* batch k is used up: finish k+1, verify it, swap */
	b = v->fill;
	while (!b->closed && !b->eof && !b->err)
		read_ahead(v, 1 << 20);
	if (b->err)
		return fail(v, b->err, v->fmsg);
	if (b->eof) {
		if (b->n == 0)
			return 0;       /* after END */
		/* cannot happen: END is signed (the codec insists on it) */
		return fail(v, COFFER_EAUTH, "stream ended with records that "
		    "no signature covers");
	}
	/* a signature that fails says why in v->msg; anything else is
	 * the code's text */
	int err = close_batch(v);
	if (err)
		return fail(v, err, coffer_strerror(err));
	batch_reset(v, v->cur);
	pthread_mutex_lock(&v->hp.mu);
	v->fill = v->cur;
	v->cur = b;
	v->hp.active = &v->fill->hb;
	pthread_mutex_unlock(&v->hp.mu);
	give(v, b, rec, payload, len);
	read_ahead(v, VR_AHEAD);
	return 1;
}

/* Inline: one record at a time, verified as it is read. */
static int read_inline(cf_svreader_t *v, cf_stream_rec_t *rec,
    const uint8_t **payload, size_t *len)
{
	batch_t *b = v->cur;

	if (b->pos < b->n)
		return give(v, b, rec, payload, len);
	batch_reset(v, b);
	v->held_recs = 0;
	v->held_bytes = 0;
	v->release = 0;
	for (;;) {
		int n = cf_stream_read(v->r, rec, payload, len);
		if (n < 0)
			return fail(v, n, NULL);
		if (n == 0) {
			if (b->n)       /* cannot happen: END is signed */
				return fail(v, COFFER_EAUTH, "stream ended "
				    "with records that no signature covers");
			return 0;
		}
		if (!v->verifying)
			return 1;       /* unsigned or unverified: as is */
		if (v->release && b->n == 0)
			return 1;       /* covered at once (BEGIN, record mode):
					   no need to hold a copy */
		int err = hold(v, b, rec, *payload, *len);
		if (err)
			return fail(v, err, coffer_strerror(err));
		if (v->release)
			return give(v, b, rec, payload, len);
	}
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
	v->cur = &v->bt[0];
	v->fill = &v->bt[1];
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
	hp_free(&v->hp);
	for (int i = 0; i < 2; i++) {
		hb_free(&v->bt[i].hb);
		free(v->bt[i].q);
	}
	free(v);
}

int cf_svreader_read(cf_svreader_t *v, cf_stream_rec_t *rec,
    const uint8_t **payload, size_t *len)
{
	int was_pipe = v->pipe;

	cf_kv_free(v->kv);
	v->kv = NULL;
	v->h = NULL;
	*payload = NULL;
	*len = 0;
	if (v->err)
		return fail(v, v->err, NULL);
	if (!was_pipe) {
		int n = read_inline(v, rec, payload, len);
		if (v->pipe && !was_pipe)
			hp_start(&v->hp, &v->fill->hb); /* BEGIN said chain */
		return n;
	}
	return read_pipe(v, rec, payload, len);
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
	if (!v->h)
		return cf_stream_reader_kv(v->r);
	if (v->kv)
		return v->kv;
	uint32_t t = v->h->rec.type;
	if (t != CF_SREC_BEGIN && t != CF_SREC_PROPS && t != CF_SREC_SNAPSHOT)
		return NULL;
	if (cf_kv_decode(v->h->p, v->h->len, &v->kv) != 0)
		v->kv = NULL;   /* cannot happen: the codec checked it */
	return v->kv;
}

const char *cf_svreader_error(const cf_svreader_t *v)
{
	return v->msg;
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

size_t cf_svreader_allocated(const cf_svreader_t *v)
{
	return v->hp.allocated;
}
