/*
 * stream.c: record headers, the running checksum, the writer and the
 * reader of replication streams.  docs/STREAM.md is the specification;
 * this comment is the map.
 *
 * A stream is a sequence of records.  Each record is a 512-byte header
 * followed by payloadlen bytes of payload and zeros up to a multiple of
 * 8 bytes:
 *
 *     0    8  magic "CFSTREAM"
 *     8    4  type               12   4  record flags (0)
 *    16    8  payloadlen         24   8  sequence number
 *    32  240  per-type fields (union; unused bytes zero)
 *   272    4  reserved, zero
 *   276  204  signature slot: alg (u16), len (u16), 200 bytes
 *   480   32  running fletcher-4
 *
 * The running checksum at byte 480 of a header is fletcher-4 over every
 * byte of the stream before it (all earlier records, then this header's
 * bytes 0..479), where every signature slot, this one included, counts
 * as zeros.  END additionally carries the checksum of all bytes before
 * its header.
 *
 * Invariants
 *  1. The reader returns a record only after everything about it has
 *     been verified: header, sequence number, the checksum of its header
 *     and of its payload (which the *next* header's checksum covers, so
 *     the reader reads one header ahead; END is returned only after the
 *     end of input was seen), the per-type fields, the ordering rules and
 *     the payload's contents.  A caller never acts on bytes that a later
 *     check could still refuse.
 *  2. Nothing is allocated or read on the strength of an unchecked length:
 *     payloadlen is checked against its type's exact size or bound, and
 *     the reader's max, before any payload byte is read; the payload
 *     buffer grows with the bytes actually received, so a truncated
 *     stream that claims 16 MiB never makes the reader allocate 16 MiB.
 *  3. The writer applies the same checks (one function, check_fields /
 *     check_payload / apply, shared with the reader), so a writer cannot
 *     emit what a reader refuses; and the header encoding is canonical
 *     (decode refuses a non-zero byte outside the fields), so a stream
 *     that reads back is exactly the one the writer would write.
 *  4. Errors are one line, "record N (TYPE) at byte X: why" or "stream
 *     truncated at byte N", and sticky in both reader and writer.
 *  5. Signature slots are outside every checksum (they count as zeros),
 *     so a signer fills them after the checksum is final, and the
 *     signing layer alone judges their contents; in an unsigned stream
 *     they must be zero.
 */
#include "send/send_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "block/block.h"
#include "crypto/crypto.h"
#include "dmu/dmu_impl.h"

/* The stream format repeats these facts about object sets; it must not
 * silently drift from the dmu. */
_Static_assert(CF_STREAM_RANGE_OBJS == CF_DNODES_PER_BLK, "dnodes/blk");
_Static_assert(CF_STREAM_RANGE_LSIZE == CF_DNODE_BLKSZ, "dnode blksz");
_Static_assert(CF_STREAM_IND_BPS == CF_IND_BPS, "bps per indirect");
_Static_assert(CF_STREAM_MAX_LEVELS == CF_MAX_LEVELS, "levels");
_Static_assert(CF_STREAM_MAX_BLKSZ == CF_MAX_BLKSZ, "max blksz");
_Static_assert(CF_STREAM_MIN_BLKSZ == CF_MIN_BLKSZ, "min blksz");
_Static_assert(CF_STREAM_BONUS_MAX == CF_BONUS_MAX, "bonus");

/* ---- header layout ----------------------------------------------------- */

#define H_MAGIC   0
#define H_TYPE    8
#define H_FLAGS   12
#define H_PLEN    16
#define H_SEQ     24
#define H_U       32            /* per-type fields, 240 bytes */
#define H_SLOT    276           /* signature slot, 204 bytes */
#define H_SIGALG  276
#define H_SIGLEN  278
#define H_SIG     280
#define H_CKSUM   480
#define SLOT_LEN  (H_CKSUM - H_SLOT)

/* Offsets of the block fields inside WRITE and OBJECT_RANGE. */
#define B_LSIZE   48
#define B_PSIZE   52
#define B_TYPE    56
#define B_LEVEL   57
#define B_COMP    58
#define B_CKSUM   59
#define B_FLAGS   60
#define B_KEYGEN  64
#define B_SALT    72
#define B_IV      80
#define B_MAC     92
#define B_CHECKSUM 112

#define PAD8(n) (((n) + 7) & ~(uint64_t)7)

static const char *const type_names[] = {
	[CF_SREC_BEGIN] = "BEGIN",
	[CF_SREC_END] = "END",
	[CF_SREC_OBJECT] = "OBJECT",
	[CF_SREC_FREEOBJECTS] = "FREEOBJECTS",
	[CF_SREC_WRITE] = "WRITE",
	[CF_SREC_FREE] = "FREE",
	[CF_SREC_OBJECT_RANGE] = "OBJECT_RANGE",
	[CF_SREC_KEYS] = "KEYS",
	[CF_SREC_PROPS] = "PROPS",
	[CF_SREC_SNAPSHOT] = "SNAPSHOT",
};

const char *cf_stream_type_name(uint32_t type)
{
	if (type == 0 || type > CF_SREC_MAX)
		return NULL;
	return type_names[type];
}

static void blk_encode(const cf_stream_blk_t *b, uint8_t *h)
{
	le32_put(h + B_LSIZE, b->lsize);
	le32_put(h + B_PSIZE, b->psize);
	h[B_TYPE] = b->type;
	h[B_LEVEL] = b->level;
	h[B_COMP] = b->comp;
	h[B_CKSUM] = b->cksum;
	h[B_FLAGS] = b->flags;
	le32_put(h + B_KEYGEN, b->keygen);
	memcpy(h + B_SALT, b->salt, 8);
	memcpy(h + B_IV, b->iv, 12);
	memcpy(h + B_MAC, b->mac, 16);
	memcpy(h + B_CHECKSUM, b->checksum, 32);
}

static void blk_decode(const uint8_t *h, cf_stream_blk_t *b)
{
	b->lsize = le32_get(h + B_LSIZE);
	b->psize = le32_get(h + B_PSIZE);
	b->type = h[B_TYPE];
	b->level = h[B_LEVEL];
	b->comp = h[B_COMP];
	b->cksum = h[B_CKSUM];
	b->flags = h[B_FLAGS];
	b->keygen = le32_get(h + B_KEYGEN);
	memcpy(b->salt, h + B_SALT, 8);
	memcpy(b->iv, h + B_IV, 12);
	memcpy(b->mac, h + B_MAC, 16);
	memcpy(b->checksum, h + B_CHECKSUM, 32);
}

void cf_stream_hdr_encode(const cf_stream_rec_t *r,
    uint8_t h[CF_STREAM_HDR_SIZE])
{
	memset(h, 0, CF_STREAM_HDR_SIZE);
	memcpy(h + H_MAGIC, CF_STREAM_MAGIC, 8);
	le32_put(h + H_TYPE, r->type);
	le32_put(h + H_FLAGS, r->flags);
	le64_put(h + H_PLEN, r->payloadlen);
	le64_put(h + H_SEQ, r->seq);
	switch (r->type) {
	case CF_SREC_BEGIN:
		le64_put(h + 32, r->u.begin.version);
		le64_put(h + 40, r->u.begin.incompat);
		le64_put(h + 48, r->u.begin.compat);
		le64_put(h + 56, r->u.begin.fromguid);
		le64_put(h + 64, r->u.begin.toguid);
		le64_put(h + 72, r->u.begin.totxg);
		le64_put(h + 80, r->u.begin.creation);
		le32_put(h + 88, r->u.begin.dstype);
		break;
	case CF_SREC_END:
		memcpy(h + 32, r->u.end.cksum, 32);
		le64_put(h + 64, r->u.end.toguid);
		le64_put(h + 72, r->u.end.bytes);
		break;
	case CF_SREC_OBJECT:
		le64_put(h + 32, r->u.object.object);
		h[40] = r->u.object.type;
		h[41] = r->u.object.nlevels;
		le16_put(h + 42, r->u.object.bonuslen);
		le32_put(h + 44, r->u.object.blksz);
		le64_put(h + 48, r->u.object.maxblkid);
		break;
	case CF_SREC_FREEOBJECTS:
		le64_put(h + 32, r->u.freeobjects.first);
		le64_put(h + 40, r->u.freeobjects.count);
		break;
	case CF_SREC_WRITE:
		le64_put(h + 32, r->u.write.object);
		le64_put(h + 40, r->u.write.offset);
		blk_encode(&r->u.write.blk, h);
		break;
	case CF_SREC_FREE:
		le64_put(h + 32, r->u.free.object);
		le64_put(h + 40, r->u.free.offset);
		le64_put(h + 48, r->u.free.length);
		break;
	case CF_SREC_OBJECT_RANGE:
		le64_put(h + 32, r->u.range.first);
		le32_put(h + 40, r->u.range.count);
		blk_encode(&r->u.range.blk, h);
		break;
	case CF_SREC_KEYS:
		le64_put(h + 32, r->u.keys.guid);
		le64_put(h + 40, r->u.keys.rootguid);
		le32_put(h + 48, r->u.keys.suite);
		le32_put(h + 52, r->u.keys.flags);
		le32_put(h + 56, r->u.keys.keyrec_len);
		le32_put(h + 60, r->u.keys.keystore_len);
		break;
	case CF_SREC_SNAPSHOT:
		le64_put(h + 32, r->u.snapshot.fromguid);
		le64_put(h + 40, r->u.snapshot.toguid);
		le64_put(h + 48, r->u.snapshot.totxg);
		le64_put(h + 56, r->u.snapshot.creation);
		le32_put(h + 64, r->u.snapshot.dstype);
		break;
	default:                /* PROPS and unknown types: no fields */
		break;
	}
	le16_put(h + H_SIGALG, r->sig.alg);
	le16_put(h + H_SIGLEN, r->sig.len);
	memcpy(h + H_SIG, r->sig.bytes, CF_MIN(r->sig.len, CF_STREAM_SIG_MAX));
	memcpy(h + H_CKSUM, r->cksum, 32);
}

static int hdr_decode(const uint8_t *h, cf_stream_rec_t *r, char *why,
    size_t n)
{
	uint8_t again[CF_STREAM_HDR_SIZE];

	memset(r, 0, sizeof(*r));
	if (memcmp(h + H_MAGIC, CF_STREAM_MAGIC, 8) != 0) {
		cf_snprintf(why, n, "bad magic");
		return COFFER_EBADSTREAM;
	}
	r->type = le32_get(h + H_TYPE);
	r->flags = le32_get(h + H_FLAGS);
	r->payloadlen = le64_get(h + H_PLEN);
	r->seq = le64_get(h + H_SEQ);
	if (cf_stream_type_name(r->type) == NULL) {
		cf_snprintf(why, n, "unknown record type %u", r->type);
		return COFFER_EBADSTREAM;
	}
	switch (r->type) {
	case CF_SREC_BEGIN:
		r->u.begin.version = le64_get(h + 32);
		r->u.begin.incompat = le64_get(h + 40);
		r->u.begin.compat = le64_get(h + 48);
		r->u.begin.fromguid = le64_get(h + 56);
		r->u.begin.toguid = le64_get(h + 64);
		r->u.begin.totxg = le64_get(h + 72);
		r->u.begin.creation = le64_get(h + 80);
		r->u.begin.dstype = le32_get(h + 88);
		break;
	case CF_SREC_END:
		memcpy(r->u.end.cksum, h + 32, 32);
		r->u.end.toguid = le64_get(h + 64);
		r->u.end.bytes = le64_get(h + 72);
		break;
	case CF_SREC_OBJECT:
		r->u.object.object = le64_get(h + 32);
		r->u.object.type = h[40];
		r->u.object.nlevels = h[41];
		r->u.object.bonuslen = le16_get(h + 42);
		r->u.object.blksz = le32_get(h + 44);
		r->u.object.maxblkid = le64_get(h + 48);
		break;
	case CF_SREC_FREEOBJECTS:
		r->u.freeobjects.first = le64_get(h + 32);
		r->u.freeobjects.count = le64_get(h + 40);
		break;
	case CF_SREC_WRITE:
		r->u.write.object = le64_get(h + 32);
		r->u.write.offset = le64_get(h + 40);
		blk_decode(h, &r->u.write.blk);
		break;
	case CF_SREC_FREE:
		r->u.free.object = le64_get(h + 32);
		r->u.free.offset = le64_get(h + 40);
		r->u.free.length = le64_get(h + 48);
		break;
	case CF_SREC_OBJECT_RANGE:
		r->u.range.first = le64_get(h + 32);
		r->u.range.count = le32_get(h + 40);
		blk_decode(h, &r->u.range.blk);
		break;
	case CF_SREC_KEYS:
		r->u.keys.guid = le64_get(h + 32);
		r->u.keys.rootguid = le64_get(h + 40);
		r->u.keys.suite = le32_get(h + 48);
		r->u.keys.flags = le32_get(h + 52);
		r->u.keys.keyrec_len = le32_get(h + 56);
		r->u.keys.keystore_len = le32_get(h + 60);
		break;
	case CF_SREC_SNAPSHOT:
		r->u.snapshot.fromguid = le64_get(h + 32);
		r->u.snapshot.toguid = le64_get(h + 40);
		r->u.snapshot.totxg = le64_get(h + 48);
		r->u.snapshot.creation = le64_get(h + 56);
		r->u.snapshot.dstype = le32_get(h + 64);
		break;
	default:
		break;
	}
	r->sig.alg = le16_get(h + H_SIGALG);
	r->sig.len = le16_get(h + H_SIGLEN);
	memcpy(r->sig.bytes, h + H_SIG, CF_STREAM_SIG_MAX);
	memcpy(r->cksum, h + H_CKSUM, 32);
	if (r->sig.len > CF_STREAM_SIG_MAX) {
		cf_snprintf(why, n, "signature length %u is over %u",
		    r->sig.len, CF_STREAM_SIG_MAX);
		return COFFER_EBADSTREAM;
	}
	/* Every field round-trips, so a difference is a non-zero byte
	 * that belongs to no field of this type. */
	cf_stream_hdr_encode(r, again);
	for (int i = 0; i < CF_STREAM_HDR_SIZE; i++) {
		if (again[i] != h[i]) {
			cf_snprintf(why, n, "header byte %d is reserved and "
			    "not zero", i);
			return COFFER_EBADSTREAM;
		}
	}
	return 0;
}

int cf_stream_hdr_decode(const uint8_t in[CF_STREAM_HDR_SIZE],
    cf_stream_rec_t *rec)
{
	char why[128];
	int err = hdr_decode(in, rec, why, sizeof(why));

	if (err)
		cf_set_errdetail("stream header: %s", why);
	return err;
}

/* Running checksum over one header: bytes 0..479 with the slot zeroed,
 * giving the value for bytes 480..511; ctx then continues past them. */
static void hdr_cksum(cf_fletcher4_ctx_t *ctx, const uint8_t *h,
    uint8_t out[32])
{
	uint8_t tmp[H_CKSUM];

	memcpy(tmp, h, H_CKSUM);
	memset(tmp + H_SLOT, 0, SLOT_LEN);
	cf_fletcher4_update(ctx, tmp, H_CKSUM);
	cf_fletcher4_final(ctx, out);
	cf_fletcher4_update(ctx, out, 32);
}

/* ---- validation shared by writer and reader ---------------------------- */

typedef struct vstate {
	int began, ended;
	uint64_t incompat, toguid;
	uint64_t resume_obj, resume_off;        /* RESUMING: where from */
	/* facts about the header being checked, set by the caller */
	uint8_t pre_cksum[32];  /* checksum of all bytes before it */
	uint64_t hdr_off;
	/* the current segment (the whole stream, or one SNAPSHOT's part) */
	int in_seg;
	uint64_t nsnap;
	int seg_props, seg_keys, seg_data;
	uint64_t next_obj;      /* lowest object id still allowed */
	uint64_t min_obj;       /* objects below were sent before (resume) */
	uint64_t range_first, range_end;        /* last OBJECT_RANGE */
	int have_obj, obj_done;
	uint64_t obj, obj_maxblkid, obj_next_off;
	uint32_t obj_blksz;
	uint8_t obj_type;
} vstate_t;

#define FEAT(s, f) (((s)->incompat & (f)) != 0)

/* Field checks return COFFER_EBADSTREAM (or ENOTSUP) with why set. */
#define FAIL(...) do { cf_snprintf(why, n, __VA_ARGS__); \
	return COFFER_EBADSTREAM; } while (0)

static int objtype_ok(unsigned t)
{
	/* the object types a dataset's object set holds (FORMAT.md 7.6) */
	return t >= CF_OT_MASTER && t <= CF_OT_XATTR_VALUE;
}

static int slot_check(int sgn, const cf_stream_sig_t *s, char *why,
    size_t n)
{
	if (!sgn) {
		if (s->alg != 0 || s->len != 0)
			FAIL("signature slot in use in an unsigned stream");
		return 0;
	}
	switch (s->alg) {
	case CF_SSIG_NONE:
		if (s->len != 0)
			FAIL("signature bytes without an algorithm");
		return 0;
	case CF_SSIG_ED25519:
	case CF_SSIG_ECDSA_P256:
		if (s->len != 64)
			FAIL("signature of %u bytes for algorithm %u", s->len,
			    s->alg);
		return 0;
	case CF_SSIG_ECDSA_P384:
		if (s->len != 96)
			FAIL("signature of %u bytes for algorithm %u", s->len,
			    s->alg);
		return 0;
	default:
		FAIL("unknown signature algorithm %u", s->alg);
	}
}

static int zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Shared rules of a block as stored (WRITE, OBJECT_RANGE). */
static int blk_check(const vstate_t *s, const cf_stream_blk_t *b,
    uint64_t plen, int range, char *why, size_t n)
{
	if (b->level != 0)
		FAIL("block level %u (only level 0 is sent)", b->level);
	if (b->psize < 1 || b->psize > b->lsize)
		FAIL("psize %u not in 1..lsize %u", b->psize, b->lsize);
	if (b->comp > CF_COMP_ZSTD)
		FAIL("unknown compression %u", b->comp);
	if (b->comp == CF_COMP_OFF && b->psize != b->lsize)
		FAIL("uncompressed block with psize %u != lsize %u",
		    b->psize, b->lsize);
	if (b->comp != CF_COMP_OFF && b->psize <= CF_COMP_HDR_LEN)
		FAIL("compressed block of %u bytes", b->psize);
	if (b->comp != CF_COMP_OFF &&
	    !FEAT(s, CF_SFEAT_RAW | CF_SFEAT_COMPRESSED))
		FAIL("compressed block in a stream without the compressed "
		    "feature");
	if (b->cksum > CF_CKSUM_SHA256)
		FAIL("unknown checksum type %u", b->cksum);
	if (b->cksum == 0 && (s->seg_keys || range || b->comp != CF_COMP_OFF))
		FAIL("stored block without a checksum");
	if (b->cksum == 0 && !zero(b->checksum, 32))
		FAIL("checksum bytes without a checksum type");
	if (s->seg_keys) {
		uint8_t want = range ? CF_SBLK_ENCRYPTED | CF_SBLK_DNODE :
		    CF_SBLK_ENCRYPTED;
		if (b->flags != want)
			FAIL("block flags 0x%x, expected 0x%x in an "
			    "encrypted dataset", b->flags, want);
	} else {
		if (b->flags != 0)
			FAIL("block flags 0x%x in a dataset without KEYS",
			    b->flags);
		if (b->keygen != 0 || !zero(b->salt, 8) || !zero(b->iv, 12) ||
		    !zero(b->mac, 16))
			FAIL("encryption fields set on a block that is not "
			    "encrypted");
	}
	if (plen != b->psize)
		FAIL("payload of %llu bytes for a block of psize %u",
		    (unsigned long long)plen, b->psize);
	return 0;
}

static int ident_check(uint64_t fromguid, uint64_t toguid, uint64_t totxg,
    uint32_t dstype, char *why, size_t n)
{
	if (toguid == 0)
		FAIL("to-guid is zero");
	if (fromguid == toguid)
		FAIL("from-guid equals to-guid");
	if (totxg == 0)
		FAIL("to-txg is zero");
	if (dstype != CF_STREAM_DS_FS && dstype != CF_STREAM_DS_VOL)
		FAIL("unknown dataset type %u", dstype);
	return 0;
}

static int kv_len_check(uint64_t plen, char *why, size_t n)
{
	if (plen < 8 || plen > CF_KV_MAX_SIZE)
		FAIL("kv payload of %llu bytes (8..%u)",
		    (unsigned long long)plen, CF_KV_MAX_SIZE);
	return 0;
}

/* Everything that header fields and the state can show, before any
 * payload byte is read.  Changes nothing. */
static int check_fields(const vstate_t *s, const cf_stream_rec_t *r,
    char *why, size_t n)
{
	uint64_t plen = r->payloadlen;
	int err;

	if (s->ended)
		FAIL("record after END");
	if (!s->began && r->type != CF_SREC_BEGIN)
		FAIL("the first record must be BEGIN");
	if (s->began && r->type == CF_SREC_BEGIN)
		FAIL("a second BEGIN");
	if (r->flags != 0)
		FAIL("record flags 0x%x are not defined", r->flags);
	if (r->type != CF_SREC_BEGIN) {
		err = slot_check(FEAT(s, CF_SFEAT_SIGNED), &r->sig, why, n);
		if (err)
			return err;
	}
	if (r->type != CF_SREC_BEGIN && r->type != CF_SREC_END &&
	    r->type != CF_SREC_SNAPSHOT && !s->in_seg)
		FAIL("%s before the first SNAPSHOT of a multi-snapshot "
		    "stream", cf_stream_type_name(r->type));

	switch (r->type) {
	case CF_SREC_BEGIN: {
		const __typeof__(r->u.begin) *b = &r->u.begin;
		uint64_t unknown = b->incompat & ~CF_SFEAT_KNOWN;

		if (b->version == 0)
			FAIL("stream version 0");
		if (b->version > CF_STREAM_VERSION) {
			cf_snprintf(why, n, "stream version %llu is not "
			    "supported (this coffer reads version %d)",
			    (unsigned long long)b->version, CF_STREAM_VERSION);
			return COFFER_ENOTSUP;
		}
		if (unknown) {
			char bits[160] = "";
			size_t o = 0;
			for (int i = 0; i < 64 && o < sizeof(bits) - 8; i++)
				if (unknown & (1ull << i))
					o += (size_t)snprintf(bits + o,
					    sizeof(bits) - o, "%s%d",
					    o ? "," : "", i);
			cf_snprintf(why, n, "unknown incompatible stream "
			    "features 0x%llx (bit %s)",
			    (unsigned long long)unknown, bits);
			return COFFER_ENOTSUP;
		}
		if ((b->incompat & CF_SFEAT_RESUMING) &&
		    (b->incompat & CF_SFEAT_MULTI))
			FAIL("features resuming and multi together");
		err = slot_check((b->incompat & CF_SFEAT_SIGNED) != 0, &r->sig,
		    why, n);
		if (err)
			return err;
		if ((err = ident_check(b->fromguid, b->toguid, b->totxg,
		    b->dstype, why, n)) != 0)
			return err;
		return kv_len_check(plen, why, n);
	}
	case CF_SREC_END:
		if (FEAT(s, CF_SFEAT_MULTI) && s->nsnap == 0)
			FAIL("multi-snapshot stream without a SNAPSHOT");
		if (plen != 0)
			FAIL("END with a payload");
		if (r->u.end.toguid != s->toguid)
			FAIL("END to-guid %016llx, BEGIN said %016llx",
			    (unsigned long long)r->u.end.toguid,
			    (unsigned long long)s->toguid);
		if (r->u.end.bytes != s->hdr_off)
			FAIL("END counts %llu bytes, the stream had %llu",
			    (unsigned long long)r->u.end.bytes,
			    (unsigned long long)s->hdr_off);
		if (memcmp(r->u.end.cksum, s->pre_cksum, 32) != 0)
			FAIL("final checksum mismatch");
		return 0;
	case CF_SREC_SNAPSHOT:
		if (!FEAT(s, CF_SFEAT_MULTI))
			FAIL("SNAPSHOT in a stream without the multi feature");
		if ((err = ident_check(r->u.snapshot.fromguid,
		    r->u.snapshot.toguid, r->u.snapshot.totxg,
		    r->u.snapshot.dstype, why, n)) != 0)
			return err;
		return kv_len_check(plen, why, n);
	case CF_SREC_PROPS:
		if (s->seg_props)
			FAIL("a second PROPS");
		if (s->seg_keys || s->seg_data)
			FAIL("PROPS after KEYS or data records");
		return kv_len_check(plen, why, n);
	case CF_SREC_KEYS: {
		const __typeof__(r->u.keys) *k = &r->u.keys;

		if (!FEAT(s, CF_SFEAT_RAW))
			FAIL("KEYS in a stream that is not raw");
		if (s->seg_keys)
			FAIL("a second KEYS");
		if (s->seg_data)
			FAIL("KEYS after data records");
		if (k->guid == 0 || k->rootguid == 0)
			FAIL("KEYS with a zero guid");
		if (k->suite < 1 || k->suite > CF_SUITE_MAX)
			FAIL("unknown encryption suite %u", k->suite);
		if (k->flags & ~(uint32_t)CF_SKEYS_ROOT)
			FAIL("unknown KEYS flags 0x%x", k->flags);
		if (k->keyrec_len < 1 || k->keyrec_len > CF_STREAM_KEYREC_MAX)
			FAIL("key record of %u bytes (1..%u)", k->keyrec_len,
			    CF_STREAM_KEYREC_MAX);
		if ((k->flags & CF_SKEYS_ROOT) ? (k->keystore_len < 1 ||
		    k->keystore_len > CF_STREAM_KEYSTORE_MAX) :
		    k->keystore_len != 0)
			FAIL("keystore of %u bytes (%s)", k->keystore_len,
			    (k->flags & CF_SKEYS_ROOT) ? "1..256 KiB" :
			    "0: not an encryption root");
		if (plen != (uint64_t)k->keyrec_len + k->keystore_len)
			FAIL("payload of %llu bytes, the lengths add up to "
			    "%llu", (unsigned long long)plen,
			    (unsigned long long)k->keyrec_len +
			    k->keystore_len);
		return 0;
	}
	case CF_SREC_OBJECT: {
		const __typeof__(r->u.object) *o = &r->u.object;
		uint32_t maxbs = FEAT(s, CF_SFEAT_LARGE_BLOCKS) ?
		    CF_STREAM_LARGE_BLKSZ : CF_STREAM_MAX_BLKSZ;
		uint64_t cap, end;

		if (o->object == 0 || o->object >= CF_STREAM_MAX_OBJECT)
			FAIL("object id %llu out of range",
			    (unsigned long long)o->object);
		if (o->object < s->next_obj || o->object < s->min_obj)
			FAIL("object %llu after object %llu (object ids must "
			    "increase)", (unsigned long long)o->object,
			    (unsigned long long)(s->next_obj ?
			    s->next_obj - 1 : 0));
		if (!objtype_ok(o->type))
			FAIL("object type %u", o->type);
		if (o->nlevels < 1 || o->nlevels > CF_STREAM_MAX_LEVELS)
			FAIL("nlevels %u", o->nlevels);
		if (o->blksz < CF_STREAM_MIN_BLKSZ || o->blksz > maxbs ||
		    o->blksz % CF_STREAM_MIN_BLKSZ)
			FAIL("block size %u", o->blksz);
		if (o->bonuslen > CF_STREAM_BONUS_MAX)
			FAIL("bonus length %u", o->bonuslen);
		/* blocks a tree of nlevels addresses: 204^(nlevels-1) */
		cap = 1;
		for (int l = 1; l < o->nlevels && cap; l++)
			if (cf_mul_overflows(cap, CF_STREAM_IND_BPS, &cap))
				cap = 0;        /* more than any u64 */
		if (cap && o->maxblkid >= cap)
			FAIL("maxblkid %llu does not fit %u levels",
			    (unsigned long long)o->maxblkid, o->nlevels);
		if (cf_mul_overflows(o->maxblkid + 1, o->blksz, &end) ||
		    o->maxblkid + 1 == 0 || end > CF_STREAM_MAX_OFFSET)
			FAIL("maxblkid %llu past the largest offset",
			    (unsigned long long)o->maxblkid);
		if (s->seg_keys) {
			if (s->range_end == 0 || o->object < s->range_first ||
			    o->object >= s->range_end)
				FAIL("object %llu outside the last "
				    "OBJECT_RANGE", (unsigned long long)
				    o->object);
			if (plen != 0)
				FAIL("payload with an OBJECT of an encrypted "
				    "dataset (its bonus is in OBJECT_RANGE)");
		} else if (plen != o->bonuslen) {
			FAIL("payload of %llu bytes, bonus length %u",
			    (unsigned long long)plen, o->bonuslen);
		}
		return 0;
	}
	case CF_SREC_FREEOBJECTS: {
		uint64_t f = r->u.freeobjects.first, c = r->u.freeobjects.count;

		if (f == 0 || f >= CF_STREAM_MAX_OBJECT || c == 0 ||
		    c > CF_STREAM_MAX_OBJECT - f)
			FAIL("objects %llu+%llu out of range",
			    (unsigned long long)f, (unsigned long long)c);
		if (f < s->next_obj || f < s->min_obj)
			FAIL("FREEOBJECTS from %llu after object %llu",
			    (unsigned long long)f, (unsigned long long)
			    (s->next_obj ? s->next_obj - 1 : 0));
		if (plen != 0)
			FAIL("FREEOBJECTS with a payload");
		return 0;
	}
	case CF_SREC_WRITE: {
		const __typeof__(r->u.write) *w = &r->u.write;

		if (!s->have_obj || w->object != s->obj)
			FAIL("WRITE to object %llu without its OBJECT record",
			    (unsigned long long)w->object);
		if (s->obj_done)
			FAIL("WRITE after a FREE to the end of the object");
		if (w->offset % s->obj_blksz != 0)
			FAIL("offset %llu not a multiple of the block size %u",
			    (unsigned long long)w->offset, s->obj_blksz);
		if (w->offset < s->obj_next_off)
			FAIL("offset %llu before %llu (offsets in an object "
			    "must increase)", (unsigned long long)w->offset,
			    (unsigned long long)s->obj_next_off);
		if (w->blk.lsize != s->obj_blksz)
			FAIL("lsize %u, the object's block size is %u",
			    w->blk.lsize, s->obj_blksz);
		if (w->offset / s->obj_blksz > s->obj_maxblkid)
			FAIL("block %llu past maxblkid %llu",
			    (unsigned long long)(w->offset / s->obj_blksz),
			    (unsigned long long)s->obj_maxblkid);
		if (w->blk.type != s->obj_type)
			FAIL("block type %u, the object's type is %u",
			    w->blk.type, s->obj_type);
		return blk_check(s, &w->blk, plen, 0, why, n);
	}
	case CF_SREC_FREE: {
		const __typeof__(r->u.free) *f = &r->u.free;

		if (!s->have_obj || f->object != s->obj)
			FAIL("FREE in object %llu without its OBJECT record",
			    (unsigned long long)f->object);
		if (s->obj_done)
			FAIL("FREE after a FREE to the end of the object");
		if (f->offset >= CF_STREAM_MAX_OFFSET ||
		    f->offset % s->obj_blksz != 0)
			FAIL("offset %llu not a block boundary",
			    (unsigned long long)f->offset);
		if (f->offset < s->obj_next_off)
			FAIL("offset %llu before %llu (offsets in an object "
			    "must increase)", (unsigned long long)f->offset,
			    (unsigned long long)s->obj_next_off);
		if (f->length != CF_STREAM_FREE_TO_END &&
		    (f->length == 0 || f->length % s->obj_blksz != 0 ||
		    f->length > CF_STREAM_MAX_OFFSET - f->offset))
			FAIL("length %llu not whole blocks within range",
			    (unsigned long long)f->length);
		if (plen != 0)
			FAIL("FREE with a payload");
		return 0;
	}
	case CF_SREC_OBJECT_RANGE: {
		const __typeof__(r->u.range) *g = &r->u.range;

		if (!FEAT(s, CF_SFEAT_RAW) || !s->seg_keys)
			FAIL("OBJECT_RANGE outside a raw encrypted dataset");
		if (g->count != CF_STREAM_RANGE_OBJS ||
		    g->first % CF_STREAM_RANGE_OBJS != 0 ||
		    g->first >= CF_STREAM_MAX_OBJECT)
			FAIL("range %llu+%u is not one dnode block",
			    (unsigned long long)g->first, g->count);
		if (g->first < s->next_obj || g->first < s->range_end)
			FAIL("range from %llu after object %llu",
			    (unsigned long long)g->first,
			    (unsigned long long)CF_MAX(s->next_obj,
			    s->range_end) - 1);
		if (g->blk.lsize != CF_STREAM_RANGE_LSIZE ||
		    g->blk.type != CF_OT_META_DNODE)
			FAIL("dnode block with lsize %u type %u",
			    g->blk.lsize, g->blk.type);
		return blk_check(s, &g->blk, plen, 1, why, n);
	}
	default:
		FAIL("unknown record type %u", r->type);
	}
}

static int name_check(const cf_kv_t *kv, const char *key, int want,
    char *why, size_t n)
{
	const char *s;
	size_t len;
	int err = cf_kv_get_str(kv, CF_KV_ROOT, key, &s, &len);

	if (err == -ENOENT && !want)
		return 0;
	if (err == -ENOENT)
		FAIL("kv: no '%s'", key);
	if (err)
		FAIL("kv: '%s' is not a string", key);
	if (!want)
		FAIL("kv: '%s' in a full stream", key);
	if (len < 1 || len > CF_STREAM_NAME_MAX)
		FAIL("kv: '%s' of %zu bytes (1..%d)", key, len,
		    CF_STREAM_NAME_MAX);
	return 0;
}

/* A key that must have one type, be present when `want` and absent
 * otherwise. */
static int key_check(const cf_kv_t *kv, int list, const char *key, int type,
    int want, const char *feature, char *why, size_t n)
{
	int h = cf_kv_find(kv, list, key);

	if (h < 0 && want)
		FAIL("kv: no '%s' (feature %s)", key, feature);
	if (h >= 0 && !want)
		FAIL("kv: '%s' without the %s feature", key, feature);
	if (h >= 0 && cf_kv_type(kv, h) != type)
		FAIL("kv: '%s' has the wrong type", key);
	return 0;
}

static int begin_kv_check(const cf_stream_rec_t *r, const cf_kv_t *kv,
    char *why, size_t n)
{
	uint64_t inc = r->u.begin.incompat, v;
	int res = (inc & CF_SFEAT_RESUMING) != 0;
	int sgn = (inc & CF_SFEAT_SIGNED) != 0;
	int multi = (inc & CF_SFEAT_MULTI) != 0;
	int err, l;

	if ((err = name_check(kv, "toname", 1, why, n)) != 0 ||
	    (err = name_check(kv, "fromname", r->u.begin.fromguid != 0, why,
	    n)) != 0)
		return err;
	static const char *const rkeys[] = { "resume_bytes", "resume_object",
	    "resume_offset" };
	for (size_t i = 0; i < CF_ARRAY_SIZE(rkeys); i++)
		if ((err = key_check(kv, CF_KV_ROOT, rkeys[i], CF_KV_U64, res,
		    "resuming", why, n)) != 0)
			return err;
	if (res) {
		if (cf_kv_get_u64(kv, CF_KV_ROOT, "resume_object", &v) != 0 ||
		    v == 0 || v >= CF_STREAM_MAX_OBJECT)
			FAIL("kv: resume_object out of range");
		if (cf_kv_get_u64(kv, CF_KV_ROOT, "resume_offset", &v) != 0 ||
		    v >= CF_STREAM_MAX_OFFSET)
			FAIL("kv: resume_offset out of range");
	}
	if ((err = key_check(kv, CF_KV_ROOT, "recursive", CF_KV_U64, multi &&
	    cf_kv_find(kv, CF_KV_ROOT, "recursive") >= 0, "multi", why,
	    n)) != 0 ||
	    (err = key_check(kv, CF_KV_ROOT, "intermediate", CF_KV_U64,
	    multi && cf_kv_find(kv, CF_KV_ROOT, "intermediate") >= 0, "multi",
	    why, n)) != 0)
		return err;
	if ((err = key_check(kv, CF_KV_ROOT, "signed", CF_KV_U64, sgn,
	    "signed", why, n)) != 0 ||
	    (err = key_check(kv, CF_KV_ROOT, "signature", CF_KV_LIST, sgn,
	    "signed", why, n)) != 0 ||
	    (err = key_check(kv, CF_KV_ROOT, "key_fp", CF_KV_LIST, sgn,
	    "signed", why, n)) != 0 ||
	    (err = key_check(kv, CF_KV_ROOT, "sign_mode", CF_KV_STR, sgn,
	    "signed", why, n)) != 0 ||
	    (err = key_check(kv, CF_KV_ROOT, "sign_interval", CF_KV_U64,
	    sgn && cf_kv_find(kv, CF_KV_ROOT, "sign_interval") >= 0, "signed",
	    why, n)) != 0)
		return err;
	if (!sgn)
		return 0;
	const char *mode;
	if (cf_kv_get_u64(kv, CF_KV_ROOT, "signed", &v) != 0 || v != 1)
		FAIL("kv: 'signed' is not 1");
	if (cf_kv_get_str(kv, CF_KV_ROOT, "sign_mode", &mode, NULL) != 0 ||
	    (strcmp(mode, "record") != 0 && strcmp(mode, "chain") != 0))
		FAIL("kv: sign_mode is neither 'record' nor 'chain'");
	if (cf_kv_get_u64(kv, CF_KV_ROOT, "sign_interval", &v) == 0 && v == 0)
		FAIL("kv: sign_interval is zero");
	if (cf_kv_get_list(kv, CF_KV_ROOT, "signature", &l) != 0 ||
	    (err = key_check(kv, l, "alg", CF_KV_STR, 1, "signed", why,
	    n)) != 0 ||
	    (err = key_check(kv, l, "curve", CF_KV_STR, 1, "signed", why,
	    n)) != 0)
		return err ? err : COFFER_EBADSTREAM;
	if (cf_kv_get_list(kv, CF_KV_ROOT, "key_fp", &l) != 0 ||
	    (err = key_check(kv, l, "alg", CF_KV_STR, 1, "signed", why,
	    n)) != 0 ||
	    (err = key_check(kv, l, "hash", CF_KV_BYTES, 1, "signed", why,
	    n)) != 0)
		return err ? err : COFFER_EBADSTREAM;
	const uint8_t *fp;
	size_t fplen;
	if (cf_kv_get_bytes(kv, l, "hash", &fp, &fplen) != 0 || fplen < 1 ||
	    fplen > 64)
		FAIL("kv: key_fp hash of %zu bytes (1..64)", fplen);
	return 0;
}

/*
 * Payload checks, once the payload is known to be the one the sender
 * wrote.  *kv receives the decoded kv of BEGIN, PROPS and SNAPSHOT;
 * *where the payload byte a kv error is at.
 */
static int check_payload(const vstate_t *s, const cf_stream_rec_t *r,
    const uint8_t *p, size_t len, int verify_blk, cf_kv_t **kv, char *why,
    size_t n, size_t *where)
{
	int err;

	(void)s;
	*kv = NULL;
	*where = 0;
	switch (r->type) {
	case CF_SREC_BEGIN:
	case CF_SREC_PROPS:
	case CF_SREC_SNAPSHOT: {
		char kwhy[128];

		err = cf_kv_decode_why(p, len, kv, kwhy, sizeof(kwhy), where);
		if (err == COFFER_EBADSTREAM)
			FAIL("kv: %s", kwhy);
		if (err)
			return err;
		if (r->type == CF_SREC_BEGIN)
			err = begin_kv_check(r, *kv, why, n);
		else if (r->type == CF_SREC_SNAPSHOT &&
		    (err = name_check(*kv, "toname", 1, why, n)) == 0)
			err = name_check(*kv, "fromname",
			    r->u.snapshot.fromguid != 0, why, n);
		if (err) {
			cf_kv_free(*kv);
			*kv = NULL;
		}
		return err;
	}
	case CF_SREC_WRITE:
	case CF_SREC_OBJECT_RANGE: {
		const cf_stream_blk_t *b = r->type == CF_SREC_WRITE ?
		    &r->u.write.blk : &r->u.range.blk;
		uint8_t sum[32];

		if (!verify_blk || b->cksum == 0)
			return 0;
		cf_block_checksum(b->cksum, p, len, sum);
		if (!cf_ct_equal(sum, b->checksum, 32))
			FAIL("payload does not match its block checksum");
		return 0;
	}
	default:
		return 0;
	}
}

static void seg_reset(vstate_t *s)
{
	s->seg_props = s->seg_keys = s->seg_data = 0;
	s->next_obj = 0;
	s->min_obj = 0;
	s->range_first = s->range_end = 0;
	s->have_obj = s->obj_done = 0;
}

/* The record passed every check: move the state on. */
static void apply(vstate_t *s, const cf_stream_rec_t *r, const cf_kv_t *kv)
{
	switch (r->type) {
	case CF_SREC_BEGIN:
		s->began = 1;
		s->incompat = r->u.begin.incompat;
		s->toguid = r->u.begin.toguid;
		seg_reset(s);
		s->in_seg = !FEAT(s, CF_SFEAT_MULTI);
		if (FEAT(s, CF_SFEAT_RESUMING) && kv) {
			if (cf_kv_get_u64(kv, CF_KV_ROOT, "resume_object",
			    &s->resume_obj) != 0 ||
			    cf_kv_get_u64(kv, CF_KV_ROOT, "resume_offset",
			    &s->resume_off) != 0)
				s->resume_obj = s->resume_off = 0;
			s->min_obj = s->resume_obj;
			s->next_obj = s->resume_obj -
			    s->resume_obj % CF_STREAM_RANGE_OBJS;
		}
		break;
	case CF_SREC_END:
		s->ended = 1;
		break;
	case CF_SREC_SNAPSHOT:
		s->nsnap++;
		s->in_seg = 1;
		seg_reset(s);
		break;
	case CF_SREC_PROPS:
		s->seg_props = 1;
		break;
	case CF_SREC_KEYS:
		s->seg_keys = 1;
		break;
	case CF_SREC_OBJECT:
		s->seg_data = 1;
		s->next_obj = r->u.object.object + 1;
		s->have_obj = 1;
		s->obj_done = 0;
		s->obj = r->u.object.object;
		s->obj_type = r->u.object.type;
		s->obj_blksz = r->u.object.blksz;
		s->obj_maxblkid = r->u.object.maxblkid;
		s->obj_next_off = FEAT(s, CF_SFEAT_RESUMING) &&
		    s->obj == s->resume_obj ? s->resume_off : 0;
		break;
	case CF_SREC_FREEOBJECTS:
		s->seg_data = 1;
		s->next_obj = r->u.freeobjects.first + r->u.freeobjects.count;
		s->have_obj = 0;
		break;
	case CF_SREC_WRITE:
		s->obj_next_off = r->u.write.offset + r->u.write.blk.lsize;
		break;
	case CF_SREC_FREE:
		if (r->u.free.length == CF_STREAM_FREE_TO_END)
			s->obj_done = 1;
		else
			s->obj_next_off = r->u.free.offset + r->u.free.length;
		break;
	case CF_SREC_OBJECT_RANGE:
		s->seg_data = 1;
		s->range_first = r->u.range.first;
		s->range_end = r->u.range.first + CF_STREAM_RANGE_OBJS;
		s->have_obj = 0;
		break;
	default:
		break;
	}
}

#undef FAIL

static const char *tname(uint32_t type, char *buf, size_t n)
{
	const char *s = cf_stream_type_name(type);

	if (s)
		return s;
	cf_snprintf(buf, n, "type %u", type);
	return buf;
}

/* ---- writer ------------------------------------------------------------ */

struct cf_stream_writer {
	cf_stream_write_fn fn;
	void *arg;
	cf_stream_sign_fn sign;
	void *sign_arg;
	vstate_t vs;
	cf_fletcher4_ctx_t ctx;
	uint64_t off, seq;
	int err;
	int dry;                /* count only: no checksums, no output */
};

int cf_stream_writer_new(cf_stream_write_fn fn, void *arg,
    cf_stream_writer_t **out)
{
	cf_stream_writer_t *w;

	*out = NULL;
	if (fn == NULL)
		return -EINVAL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -ENOMEM;
	w->fn = fn;
	w->arg = arg;
	cf_fletcher4_init(&w->ctx);
	*out = w;
	return 0;
}

void cf_stream_writer_set_sign(cf_stream_writer_t *w, cf_stream_sign_fn fn,
    void *arg)
{
	w->sign = fn;
	w->sign_arg = arg;
}

void cf_stream_writer_set_dry(cf_stream_writer_t *w)
{
	w->dry = 1;
}

void cf_stream_writer_free(cf_stream_writer_t *w)
{
	free(w);
}

uint64_t cf_stream_writer_offset(const cf_stream_writer_t *w)
{
	return w->off;
}

uint64_t cf_stream_writer_records(const cf_stream_writer_t *w)
{
	return w->seq;
}

static int wfail(cf_stream_writer_t *w, const cf_stream_rec_t *r, int err,
    const char *why)
{
	char tb[24];

	cf_set_errdetail("record %llu (%s) at byte %llu: %s",
	    (unsigned long long)w->seq, tname(r->type, tb, sizeof(tb)),
	    (unsigned long long)w->off, why);
	return err;
}

int cf_stream_write(cf_stream_writer_t *w, cf_stream_rec_t *rec,
    const void *payload, size_t len)
{
	uint8_t hdr[CF_STREAM_HDR_SIZE], pad[8] = { 0 };
	char why[256];
	size_t where;
	cf_kv_t *kv = NULL;
	int err;

	if (w->err)
		return w->err;
	if (w->vs.ended)
		return wfail(w, rec, -EINVAL, "record after END");
	if (payload == NULL && len != 0)
		return -EINVAL;
	rec->seq = w->seq;
	rec->payloadlen = len;
	memset(&rec->sig, 0, sizeof(rec->sig));
	if (rec->type == CF_SREC_END) {
		cf_fletcher4_final(&w->ctx, rec->u.end.cksum);
		rec->u.end.toguid = w->vs.toguid;
		rec->u.end.bytes = w->off;
	}
	cf_fletcher4_final(&w->ctx, w->vs.pre_cksum);
	w->vs.hdr_off = w->off;
	/* A bad record is the sender's bug: refuse it, write nothing, but
	 * leave the writer usable (nothing of the stream changed). */
	err = check_fields(&w->vs, rec, why, sizeof(why));
	if (err)
		return wfail(w, rec, -EINVAL, why);
	if (len > CF_STREAM_MAX_PAYLOAD)
		return wfail(w, rec, -EINVAL, "payload too large");
	err = check_payload(&w->vs, rec, payload, len, 0, &kv, why,
	    sizeof(why), &where);
	if (err)
		return wfail(w, rec, err == -ENOMEM ? err : -EINVAL, why);

	if (w->dry)
		goto done;
	memset(rec->cksum, 0, 32);
	cf_stream_hdr_encode(rec, hdr);
	hdr_cksum(&w->ctx, hdr, rec->cksum);
	memcpy(hdr + H_CKSUM, rec->cksum, 32);
	if (w->sign) {
		cf_stream_sig_t sig;

		memset(&sig, 0, sizeof(sig));
		err = w->sign(w->sign_arg, hdr, payload, len, &sig);
		if (err) {
			cf_kv_free(kv);
			w->err = err < 0 ? err : -EIO;
			return wfail(w, rec, w->err, "the signing hook failed");
		}
		{
			int sgn = rec->type == CF_SREC_BEGIN ?
			    (rec->u.begin.incompat & CF_SFEAT_SIGNED) != 0 :
			    FEAT(&w->vs, CF_SFEAT_SIGNED);
			if (sig.len > CF_STREAM_SIG_MAX ||
			    slot_check(sgn, &sig, why, sizeof(why)) != 0) {
				cf_kv_free(kv);
				w->err = wfail(w, rec, -EINVAL,
				    "the signing hook filled a bad slot");
				return w->err;
			}
			rec->sig = sig;
			le16_put(hdr + H_SIGALG, sig.alg);
			le16_put(hdr + H_SIGLEN, sig.len);
			memcpy(hdr + H_SIG, sig.bytes, sig.len);
		}
	}
	err = w->fn(w->arg, hdr, CF_STREAM_HDR_SIZE);
	size_t whole = len & ~(size_t)7;
	if (!err && whole) {
		cf_fletcher4_update(&w->ctx, payload, whole);
		err = w->fn(w->arg, payload, whole);
	}
	if (!err && len != whole) {
		memcpy(pad, (const uint8_t *)payload + whole, len - whole);
		cf_fletcher4_update(&w->ctx, pad, 8);
		err = w->fn(w->arg, pad, 8);
	}
	if (err) {
		cf_kv_free(kv);
		w->err = err;
		cf_set_errdetail("cannot write stream record %llu at byte %llu",
		    (unsigned long long)w->seq, (unsigned long long)w->off);
		return err;
	}
done:
	apply(&w->vs, rec, kv);
	cf_kv_free(kv);
	w->off += CF_STREAM_HDR_SIZE + PAD8((uint64_t)len);
	w->seq++;
	return 0;
}

int cf_stream_write_kv(cf_stream_writer_t *w, cf_stream_rec_t *rec,
    const cf_kv_t *kv)
{
	cf_buf_t b = { 0 };
	int err = cf_kv_encode(kv, &b);

	if (!err)
		err = cf_stream_write(w, rec, b.data, b.len);
	cf_buf_free(&b);
	return err;
}

/* ---- reader ------------------------------------------------------------ */

#define RD_CHUNK (64u << 10)

struct cf_stream_reader {
	cf_stream_read_fn fn;
	void *arg;
	size_t max_payload;
	unsigned flags;
	cf_stream_verify_fn verify;
	void *verify_arg;

	vstate_t vs;
	cf_fletcher4_ctx_t ctx;
	uint64_t off;                   /* bytes consumed */
	uint64_t seq;                   /* the next record's number */
	uint64_t covered;               /* bytes a verified checksum covers */

	uint8_t next[CF_STREAM_HDR_SIZE];       /* read ahead, verified */
	int have_next;
	uint64_t next_off;
	uint8_t next_pre[32];           /* checksum of bytes before it */
	uint8_t cur[CF_STREAM_HDR_SIZE];

	uint8_t *buf;
	size_t cap;

	cf_kv_t *kv, *begin_kv;
	uint32_t last_type;
	cf_stream_rec_t begin;
	int done, err;
	char msg[320];
};

int cf_stream_reader_new(cf_stream_read_fn fn, void *arg,
    const cf_stream_reader_opts_t *opts, cf_stream_reader_t **out)
{
	cf_stream_reader_t *r;

	*out = NULL;
	if (fn == NULL)
		return -EINVAL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -ENOMEM;
	r->fn = fn;
	r->arg = arg;
	r->max_payload = CF_STREAM_MAX_PAYLOAD;
	if (opts) {
		if (opts->max_payload && opts->max_payload < r->max_payload)
			r->max_payload = opts->max_payload;
		r->flags = opts->flags;
		r->verify = opts->verify;
		r->verify_arg = opts->verify_arg;
	}
	cf_fletcher4_init(&r->ctx);
	*out = r;
	return 0;
}

void cf_stream_reader_free(cf_stream_reader_t *r)
{
	if (r == NULL)
		return;
	cf_kv_free(r->kv);
	cf_kv_free(r->begin_kv);
	free(r->buf);
	free(r);
}

const cf_stream_rec_t *cf_stream_reader_begin(const cf_stream_reader_t *r)
{
	return r->vs.began ? &r->begin : NULL;
}

const cf_kv_t *cf_stream_reader_begin_kv(const cf_stream_reader_t *r)
{
	return r->begin_kv;
}

const cf_kv_t *cf_stream_reader_kv(const cf_stream_reader_t *r)
{
	if (r->last_type == CF_SREC_BEGIN)
		return r->begin_kv;
	return r->kv;
}

uint64_t cf_stream_reader_offset(const cf_stream_reader_t *r)
{
	return r->off;
}

const char *cf_stream_reader_error(const cf_stream_reader_t *r)
{
	return r->msg;
}

size_t cf_stream_reader_allocated(const cf_stream_reader_t *r)
{
	return r->cap;
}

static int rfail(cf_stream_reader_t *r, int err, const char *fmt, ...)
    CF_PRINTF(3, 4);
static int rfail(cf_stream_reader_t *r, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	r->err = err;
	cf_set_errdetail("%s", r->msg);
	return err;
}

static int rec_fail(cf_stream_reader_t *r, int err, uint64_t seq,
    uint32_t type, uint64_t off, const char *why)
{
	char tb[24];

	return rfail(r, err, "record %llu (%s) at byte %llu: %s",
	    (unsigned long long)seq, tname(type, tb, sizeof(tb)),
	    (unsigned long long)off, why);
}

/* Read exactly len bytes unless the input ends; *got says how many. */
static int read_full(cf_stream_reader_t *r, uint8_t *p, size_t len,
    size_t *got)
{
	*got = 0;
	while (*got < len) {
		ptrdiff_t n = r->fn(r->arg, p + *got, len - *got);

		if (n < 0)
			return rfail(r, (int)n, "cannot read the stream at "
			    "byte %llu: %s",
			    (unsigned long long)(r->off + *got),
			    coffer_strerror((int)n));
		if (n == 0)
			break;
		if ((size_t)n > len - *got)
			return rfail(r, -EIO, "the read callback returned "
			    "more than asked");
		*got += (size_t)n;
	}
	return 0;
}

static int truncated(cf_stream_reader_t *r, const char *where)
{
	return rfail(r, COFFER_EBADSTREAM, "stream truncated at byte %llu "
	    "(%s)", (unsigned long long)r->off, where);
}

/* Read the next header and check magic, sequence number and checksum. */
static int read_header(cf_stream_reader_t *r)
{
	uint8_t *h = r->next, sum[32];
	size_t got;
	char tb[24], where[64];
	int err;

	r->next_off = r->off;
	err = read_full(r, h, CF_STREAM_HDR_SIZE, &got);
	if (err)
		return err;
	r->off += got;
	if (got < CF_STREAM_HDR_SIZE) {
		cf_snprintf(where, sizeof(where), "in the header of record "
		    "%llu", (unsigned long long)r->seq);
		return truncated(r, where);
	}
	uint32_t type = le32_get(h + H_TYPE);
	uint64_t seq = le64_get(h + H_SEQ);
	if (memcmp(h, CF_STREAM_MAGIC, 8) != 0)
		return rfail(r, COFFER_EBADSTREAM, "record %llu at byte %llu: "
		    "bad magic", (unsigned long long)r->seq,
		    (unsigned long long)r->next_off);
	if (seq != r->seq)
		return rfail(r, COFFER_EBADSTREAM, "record %llu (%s) at byte "
		    "%llu: sequence number %llu, expected %llu",
		    (unsigned long long)r->seq, tname(type, tb, sizeof(tb)),
		    (unsigned long long)r->next_off, (unsigned long long)seq,
		    (unsigned long long)r->seq);
	cf_fletcher4_final(&r->ctx, r->next_pre);
	hdr_cksum(&r->ctx, h, sum);
	if (memcmp(sum, h + H_CKSUM, 32) != 0)
		return rfail(r, COFFER_EBADSTREAM, "record %llu (%s) at byte "
		    "%llu: checksum mismatch (damage in bytes %llu..%llu)",
		    (unsigned long long)r->seq, tname(type, tb, sizeof(tb)),
		    (unsigned long long)r->next_off,
		    (unsigned long long)r->covered,
		    (unsigned long long)(r->next_off + H_CKSUM - 1));
	r->covered = r->off;
	r->have_next = 1;
	r->seq++;
	return 0;
}

/* Read the payload (padded) into r->buf, growing it with the bytes that
 * actually arrive. */
static int read_payload(cf_stream_reader_t *r, uint64_t padded,
    uint64_t seq, uint32_t type)
{
	size_t have = 0;
	char where[64], tb[24];

	while (have < padded) {
		size_t want = (size_t)CF_MIN(padded - have, (uint64_t)RD_CHUNK);
		size_t got;
		int err;

		if (have + want > r->cap) {
			size_t ncap = CF_MAX(r->cap * 2, (size_t)RD_CHUNK);
			uint8_t *nb;

			ncap = CF_MIN(CF_MAX(ncap, have + want),
			    (size_t)PAD8((uint64_t)r->max_payload));
			if ((nb = realloc(r->buf, ncap)) == NULL)
				return rfail(r, -ENOMEM, "out of memory for a "
				    "payload of %llu bytes",
				    (unsigned long long)padded);
			r->buf = nb;
			r->cap = ncap;
		}
		err = read_full(r, r->buf + have, want, &got);
		if (err)
			return err;
		r->off += got;
		have += got;
		if (got < want) {
			cf_snprintf(where, sizeof(where), "in the payload of "
			    "record %llu (%s)", (unsigned long long)seq,
			    tname(type, tb, sizeof(tb)));
			return truncated(r, where);
		}
	}
	if (padded)
		cf_fletcher4_update(&r->ctx, r->buf, (size_t)padded);
	return 0;
}

int cf_stream_read(cf_stream_reader_t *r, cf_stream_rec_t *rec,
    const uint8_t **payload, size_t *len)
{
	cf_stream_rec_t rc;
	char why[256];
	size_t where;
	cf_kv_t *kv = NULL;
	uint64_t seq, off, plen, padded;
	int err;

	*payload = NULL;
	*len = 0;
	if (r->err)
		return r->err;
	if (r->done)
		return 0;
	cf_kv_free(r->kv);
	r->kv = NULL;
	r->last_type = 0;
	if (!r->have_next && (err = read_header(r)) != 0)
		return err;
	memcpy(r->cur, r->next, CF_STREAM_HDR_SIZE);
	r->have_next = 0;
	seq = r->seq - 1;
	off = r->next_off;

	err = hdr_decode(r->cur, &rc, why, sizeof(why));
	if (err)
		return rec_fail(r, err, seq, le32_get(r->cur + H_TYPE), off,
		    why);
	memcpy(r->vs.pre_cksum, r->next_pre, 32);
	r->vs.hdr_off = off;
	err = check_fields(&r->vs, &rc, why, sizeof(why));
	if (err)
		return rec_fail(r, err, seq, rc.type, off, why);
	plen = rc.payloadlen;
	if (plen > r->max_payload) {
		cf_snprintf(why, sizeof(why), "payload of %llu bytes is over "
		    "this reader's limit of %zu", (unsigned long long)plen,
		    r->max_payload);
		return rec_fail(r, COFFER_EBADSTREAM, seq, rc.type, off, why);
	}
	padded = PAD8(plen);
	if ((err = read_payload(r, padded, seq, rc.type)) != 0)
		return err;

	/* The payload is verified by the next header's checksum, or, for
	 * END (no payload), the input must end here. */
	if (rc.type == CF_SREC_END) {
		uint8_t extra;
		size_t got;

		if ((err = read_full(r, &extra, 1, &got)) != 0)
			return err;
		if (got)
			return rfail(r, COFFER_EBADSTREAM, "data after END at "
			    "byte %llu", (unsigned long long)r->off);
	} else if ((err = read_header(r)) != 0) {
		return err;
	}

	if (padded > plen && !zero(r->buf + plen, (size_t)(padded - plen)))
		return rec_fail(r, COFFER_EBADSTREAM, seq, rc.type,
		    off + CF_STREAM_HDR_SIZE + plen,
		    "padding after the payload not zero");
	err = check_payload(&r->vs, &rc, r->buf, (size_t)plen,
	    !(r->flags & CF_SRD_NO_BLOCK_CKSUM), &kv, why, sizeof(why),
	    &where);
	if (err)
		return rec_fail(r, err, seq, rc.type,
		    off + CF_STREAM_HDR_SIZE + where, why);
	if (r->verify) {
		why[0] = 0;
		err = r->verify(r->verify_arg, &rc, r->cur, plen ? r->buf :
		    NULL, (size_t)plen, why, sizeof(why));
		if (err) {
			cf_kv_free(kv);
			return rec_fail(r, err < 0 ? err : COFFER_EBADSTREAM,
			    seq, rc.type, off, why[0] ? why :
			    "refused by the verify hook");
		}
	}
	apply(&r->vs, &rc, kv);
	if (rc.type == CF_SREC_BEGIN) {
		r->begin = rc;
		r->begin_kv = kv;
		kv = NULL;
	}
	if (rc.type == CF_SREC_END)
		r->done = 1;
	r->kv = kv;
	r->last_type = rc.type;
	*rec = rc;
	*payload = plen ? r->buf : NULL;
	*len = (size_t)plen;
	return 1;
}

/* ---- I/O callbacks ----------------------------------------------------- */

int cf_stream_fd_write(void *arg, const void *buf, size_t len)
{
	int fd = *(int *)arg;
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ptrdiff_t cf_stream_fd_read(void *arg, void *buf, size_t len)
{
	int fd = *(int *)arg;

	for (;;) {
		ssize_t n = read(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? -errno : n;
	}
}

int cf_stream_buf_write(void *arg, const void *buf, size_t len)
{
	return cf_buf_append(arg, buf, len);
}

ptrdiff_t cf_stream_mem_read(void *arg, void *buf, size_t len)
{
	cf_stream_mem_t *m = arg;
	size_t n = CF_MIN(len, m->len - m->off);

	if (n)
		memcpy(buf, m->data + m->off, n);
	m->off += n;
	return (ptrdiff_t)n;
}

/* ---- fix-up for tests and fuzzing -------------------------------------- */

size_t cf_stream_fixup(uint8_t *buf, size_t len)
{
	cf_fletcher4_ctx_t ctx;
	size_t off = 0, n = 0;
	uint8_t sum[32];

	cf_fletcher4_init(&ctx);
	while (len - off >= CF_STREAM_HDR_SIZE) {
		uint8_t *h = buf + off;
		uint32_t type = le32_get(h + H_TYPE);
		uint64_t plen = le64_get(h + H_PLEN);
		size_t avail = len - off - CF_STREAM_HDR_SIZE;

		le64_put(h + H_SEQ, n);
		if ((type == CF_SREC_WRITE || type == CF_SREC_OBJECT_RANGE) &&
		    (h[B_CKSUM] == CF_CKSUM_FLETCHER4 ||
		    h[B_CKSUM] == CF_CKSUM_SHA256) && plen <= avail)
			cf_block_checksum(h[B_CKSUM], h + CF_STREAM_HDR_SIZE,
			    (size_t)plen, h + B_CHECKSUM);
		if (type == CF_SREC_END) {
			cf_fletcher4_final(&ctx, h + 32);
			le64_put(h + 72, off);
		}
		hdr_cksum(&ctx, h, sum);
		memcpy(h + H_CKSUM, sum, 32);
		n++;
		off += CF_STREAM_HDR_SIZE;
		if (plen > avail || PAD8(plen) > avail) {
			cf_fletcher4_update(&ctx, buf + off, avail);
			break;
		}
		cf_fletcher4_update(&ctx, buf + off, (size_t)PAD8(plen));
		off += (size_t)PAD8(plen);
	}
	return n;
}
