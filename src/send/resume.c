/*
 * Resumable receive: the resume token, its MAC, and the receiver's check
 * of a resumed stream (docs/STREAM.md §7.1.1).
 *
 * An interrupted `receive --resumable` keeps its hidden dataset and, in
 * the dsl (recv.c), a durable point: (object, offset) such that every
 * record of the stream before it is applied and synced, and the bytes of
 * WRITE payloads received before it.  The receiver also keeps the
 * stream's description ("info": toguid, fromguid, toname, fromname,
 * features) and a random 32-byte secret created for this receive.
 *
 * Token.  `coffer get receive_resume_token DATASET` shows
 *
 *     "1-" base64url( body || mac )          (no padding)
 *     body = kv (§4): bytes, features, fromguid, [fromname], object,
 *            offset, toguid, toname, v (= 1)
 *     mac  = HMAC-SHA256(secret, "coffer resume token 1" NUL || body)
 *
 * The sender (`send -t`) cannot check the MAC: it decodes the body, sends
 * the named snapshot from the point with the token's features, and echoes
 * body || mac in BEGIN's `resume_token`.  The receiver then requires, in
 * this order:
 *  1. the MAC verifies with its secret (so the token is one it made: not
 *     forged, not changed, not another pool's);
 *  2. the body is byte for byte the token it would make now (the point
 *     has not moved since: no stale token);
 *  3. BEGIN agrees with its state: toguid, fromguid, toname, the
 *     resume_object/offset/bytes keys, and the features (incompat bits
 *     other than resuming and signed) equal those of the interrupted
 *     stream, so a token cannot turn a raw stream into plaintext or a
 *     compressed one into another.
 * Only then is any record applied.  A refusal leaves the interrupted
 * receive as it was.
 */
#include "send/resume.h"
#include "send/send.h"

#include <stdio.h>
#include <stdlib.h>

#include "crypto/crypto.h"

#define TOKEN_PREFIX "1-"
static const char mac_label[] = "coffer resume token 1";

/* Features a resumed stream must repeat. */
#define RESUME_FEATURES(incompat) \
	((incompat) & ~(CF_SFEAT_RESUMING | CF_SFEAT_SIGNED))

/* ---- base64url (RFC 4648 §5, no padding) ------------------------------- */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t k = n - i < 3 ? n - i : 3;
		if (k > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (k > 2)
			v |= in[i + 2];
		for (size_t j = 0; j < k + 1; j++) {
			if (o + 1 >= cap)
				return -ENAMETOOLONG;
			out[o++] = b64[(v >> (18 - 6 * j)) & 63];
		}
	}
	out[o] = '\0';
	return 0;
}

static int b64_val(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;
	return p ? (int)(p - b64) : -1;
}

static int b64_decode(const char *in, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = strlen(in), o = 0;
	if (n % 4 == 1)
		return -EINVAL;
	for (size_t i = 0; i < n; i += 4) {
		uint32_t v = 0;
		size_t k = n - i < 4 ? n - i : 4;
		for (size_t j = 0; j < 4; j++) {
			int d = j < k ? b64_val(in[i + j]) : 0;
			if (d < 0)
				return -EINVAL;
			v = v << 6 | (uint32_t)d;
		}
		for (size_t j = 0; j < k - 1; j++) {
			if (o == cap)
				return -EINVAL;
			out[o++] = (uint8_t)(v >> (16 - 8 * j));
		}
		/* canonical: unused low bits of the last group are zero */
		if (k < 4 && (v & ((1u << (8 * (4 - k))) - 1)))
			return -EINVAL;
	}
	*len = o;
	return 0;
}

/* ---- the info a resumable receive keeps -------------------------------- */

int cf_resume_info(const cf_stream_rec_t *begin, const cf_kv_t *bkv,
    cf_buf_t *out)
{
	const char *toname, *fromname = NULL;
	size_t l;
	if (cf_kv_get_str(bkv, CF_KV_ROOT, "toname", &toname, &l) != 0)
		return COFFER_EBADSTREAM;
	if (begin->u.begin.fromguid &&
	    cf_kv_get_str(bkv, CF_KV_ROOT, "fromname", &fromname, &l) != 0)
		return COFFER_EBADSTREAM;
	cf_kv_t *kv = cf_kv_new();
	if (!kv)
		return -ENOMEM;
	int err = cf_kv_add_u64(kv, CF_KV_ROOT, "toguid",
	    begin->u.begin.toguid);
	if (!err)
		err = cf_kv_add_u64(kv, CF_KV_ROOT, "fromguid",
		    begin->u.begin.fromguid);
	if (!err)
		err = cf_kv_add_u64(kv, CF_KV_ROOT, "features",
		    RESUME_FEATURES(begin->u.begin.incompat));
	if (!err)
		err = cf_kv_add_str(kv, CF_KV_ROOT, "toname", toname);
	if (!err && fromname)
		err = cf_kv_add_str(kv, CF_KV_ROOT, "fromname", fromname);
	if (!err)
		err = cf_kv_encode(kv, out);
	cf_kv_free(kv);
	return err;
}

/* Fill t's identity from a kv (info or token body). */
static int ids_from_kv(const cf_kv_t *kv, cf_resume_token_t *t)
{
	const char *s;
	size_t l;
	if (cf_kv_get_u64(kv, CF_KV_ROOT, "toguid", &t->toguid) != 0 ||
	    cf_kv_get_u64(kv, CF_KV_ROOT, "fromguid", &t->fromguid) != 0 ||
	    cf_kv_get_u64(kv, CF_KV_ROOT, "features", &t->features) != 0 ||
	    cf_kv_get_str(kv, CF_KV_ROOT, "toname", &s, &l) != 0 ||
	    l == 0 || l >= sizeof(t->toname) || !t->toguid)
		return -EINVAL;
	memcpy(t->toname, s, l + 1);
	t->fromname[0] = '\0';
	int r = cf_kv_get_str(kv, CF_KV_ROOT, "fromname", &s, &l);
	if (t->fromguid) {
		if (r != 0 || l == 0 || l >= sizeof(t->fromname))
			return -EINVAL;
		memcpy(t->fromname, s, l + 1);
	} else if (r != -ENOENT) {
		return -EINVAL;
	}
	return 0;
}

/* The token body for the state st (the dsl's view). */
static int body_from_state(const dsl_recv_state_t *st, cf_buf_t *out,
    cf_resume_token_t *t)
{
	cf_kv_t *info;
	int err = cf_kv_decode(st->info, st->infolen, &info);
	if (err)
		return CF_CORRUPT();
	memset(t, 0, sizeof(*t));
	err = ids_from_kv(info, t);
	cf_kv_free(info);
	if (err)
		return CF_CORRUPT();
	t->object = st->object;
	t->offset = st->offset;
	t->bytes = st->bytes;
	cf_kv_t *kv = cf_kv_new();
	if (!kv)
		return -ENOMEM;
	err = cf_kv_add_u64(kv, CF_KV_ROOT, "v", 1);
	if (!err)
		err = cf_kv_add_u64(kv, CF_KV_ROOT, "toguid", t->toguid);
	if (!err)
		err = cf_kv_add_u64(kv, CF_KV_ROOT, "fromguid", t->fromguid);
	if (!err)
		err = cf_kv_add_u64(kv, CF_KV_ROOT, "features", t->features);
	if (!err)
		err = cf_kv_add_str(kv, CF_KV_ROOT, "toname", t->toname);
	if (!err && t->fromguid)
		err = cf_kv_add_str(kv, CF_KV_ROOT, "fromname", t->fromname);
	if (!err)
		err = cf_kv_add_u64(kv, CF_KV_ROOT, "object", t->object);
	if (!err)
		err = cf_kv_add_u64(kv, CF_KV_ROOT, "offset", t->offset);
	if (!err)
		err = cf_kv_add_u64(kv, CF_KV_ROOT, "bytes", t->bytes);
	if (!err)
		err = cf_kv_encode(kv, out);
	cf_kv_free(kv);
	return err;
}

static int token_mac(const uint8_t secret[32], const uint8_t *body,
    size_t len, uint8_t mac[32])
{
	cf_hmac_ctx_t *c = cf_hmac_new(CF_MD_SHA256, secret, 32);
	if (!c)
		return -ENOMEM;
	cf_hmac_update(c, mac_label, sizeof(mac_label));
	cf_hmac_update(c, body, len);
	return cf_hmac_final(c, mac);
}

int cf_resume_token_get(dsl_pool_t *dp, const char *target, char *out,
    size_t n)
{
	dsl_recv_state_t *st = malloc(sizeof(*st));
	if (!st)
		return -ENOMEM;
	int err = dsl_recv_state_get(dp, target, st);
	cf_buf_t body = { 0 };
	cf_resume_token_t t;
	if (!err)
		err = body_from_state(st, &body, &t);
	uint8_t mac[32];
	if (!err)
		err = token_mac(st->secret, body.data, body.len, mac);
	if (!err)
		err = cf_buf_append(&body, mac, sizeof(mac));
	if (!err && n < sizeof(TOKEN_PREFIX))
		err = -ENAMETOOLONG;
	if (!err) {
		memcpy(out, TOKEN_PREFIX, sizeof(TOKEN_PREFIX));
		err = b64_encode(body.data, body.len, out + 2, n - 2);
	}
	cf_buf_free(&body);
	cf_wipe(st, sizeof(*st));
	free(st);
	return err;
}

int cf_resume_token_decode(const char *token, cf_resume_token_t *t)
{
	memset(t, 0, sizeof(*t));
	size_t n = strlen(token);
	if (n < 3 || strncmp(token, TOKEN_PREFIX, 2) != 0 ||
	    (n - 2) / 4 * 3 > sizeof(t->raw) ||
	    b64_decode(token + 2, t->raw, sizeof(t->raw), &t->rawlen) != 0 ||
	    t->rawlen < 32 + 8)
		goto bad;
	cf_kv_t *kv;
	if (cf_kv_decode(t->raw, t->rawlen - 32, &kv) != 0)
		goto bad;
	uint64_t v = 0;
	int err = cf_kv_get_u64(kv, CF_KV_ROOT, "v", &v);
	if (!err && v != 1)
		err = -EINVAL;
	if (!err)
		err = ids_from_kv(kv, t);
	if (!err)
		err = cf_kv_get_u64(kv, CF_KV_ROOT, "object", &t->object);
	if (!err)
		err = cf_kv_get_u64(kv, CF_KV_ROOT, "offset", &t->offset);
	if (!err)
		err = cf_kv_get_u64(kv, CF_KV_ROOT, "bytes", &t->bytes);
	cf_kv_free(kv);
	if (err || t->object == 0 || t->object >= CF_STREAM_MAX_OBJECT ||
	    t->offset >= CF_STREAM_MAX_OFFSET || !strchr(t->toname, '@'))
		goto bad;
	return 0;
bad:
	cf_set_errdetail("not a valid resume token");
	return -EINVAL;
}

/* ---- the receiver's check of a resumed stream -------------------------- */

static void feature_names(uint64_t f, char *out, size_t n)
{
	static const char *const names[] = { "raw", "compressed",
		"large_blocks", "resuming", "signed", "multi" };
	size_t o = 0;
	out[0] = '\0';
	for (int i = 0; i < 6; i++)
		if (f & (1ull << i))
			o += (size_t)snprintf(out + o, o < n ? n - o : 0, "%s%s",
			    o ? "," : "", names[i]);
	if (!o)
		snprintf(out, n, "none");
}

int cf_resume_recv_begin(dsl_pool_t *dp, const char *target,
    const cf_stream_rec_t *begin, const cf_kv_t *bkv,
    const dsl_recv_raw_t *raw, dsl_recv_t **out, uint64_t *bytes)
{
	dsl_recv_state_t *st = malloc(sizeof(*st));
	if (!st)
		return -ENOMEM;
	dsl_recv_t *r = NULL;
	int err = dsl_recv_resume(dp, target, raw, st, &r);
	if (err) {
		free(st);
		return err;
	}
	cf_buf_t body = { 0 };
	cf_resume_token_t t;
	const uint8_t *echo = NULL;
	size_t rawlen = 0;
	uint8_t mac[32];
	uint64_t ro = 0, roff = 0, rb = 0;
	const char *toname = "";
	size_t l;
	err = body_from_state(st, &body, &t);
	if (err)
		goto out;
	if (cf_kv_get_bytes(bkv, CF_KV_ROOT, "resume_token", &echo,
	    &rawlen) != 0) {
		cf_set_errdetail("the resumed stream for '%s' carries no "
		    "resume token", target);
		err = COFFER_EBADSTREAM;
		goto out;
	}
	/* 1. made by this receive (constant-time MAC check) */
	err = rawlen >= 32 ? token_mac(st->secret, echo, rawlen - 32, mac) :
	    0;
	if (err)
		goto out;
	if (rawlen < 32 || !cf_ct_equal(mac, echo + rawlen - 32, 32)) {
		cf_set_errdetail("the stream's resume token is not authentic "
		    "for '%s' (forged, altered or from another pool)", target);
		err = COFFER_EAUTH;
		goto out;
	}
	/* 2. for the state as it is now */
	if (rawlen - 32 != body.len ||
	    memcmp(echo, body.data, body.len) != 0) {
		cf_set_errdetail("the stream's resume token is stale: the "
		    "interrupted receive of '%s' has moved on; get the token "
		    "again", target);
		err = COFFER_EBADSTREAM;
		goto out;
	}
	/* 3. the stream is the one interrupted, from that point */
	if (cf_kv_get_str(bkv, CF_KV_ROOT, "toname", &toname, &l) != 0)
		toname = "";
	if (begin->u.begin.toguid != t.toguid ||
	    begin->u.begin.fromguid != t.fromguid ||
	    strcmp(toname, t.toname) != 0) {
		cf_set_errdetail("the resumed stream is not the one "
		    "interrupted in '%s' (%s, not %s)", target, toname,
		    t.toname);
		err = COFFER_EBADSTREAM;
		goto out;
	}
	if (RESUME_FEATURES(begin->u.begin.incompat) != t.features) {
		char got[96], want[96];
		feature_names(RESUME_FEATURES(begin->u.begin.incompat), got,
		    sizeof(got));
		feature_names(t.features, want, sizeof(want));
		cf_set_errdetail("the resumed stream's features differ from "
		    "the interrupted stream's in '%s' (%s, not %s)", target,
		    got, want);
		err = COFFER_EBADSTREAM;
		goto out;
	}
	if (cf_kv_get_u64(bkv, CF_KV_ROOT, "resume_object", &ro) != 0 ||
	    cf_kv_get_u64(bkv, CF_KV_ROOT, "resume_offset", &roff) != 0 ||
	    cf_kv_get_u64(bkv, CF_KV_ROOT, "resume_bytes", &rb) != 0 ||
	    ro != t.object || roff != t.offset || rb != t.bytes) {
		cf_set_errdetail("the resumed stream for '%s' does not start "
		    "where the receive was interrupted", target);
		err = COFFER_EBADSTREAM;
		goto out;
	}
	*bytes = t.bytes;
out:
	cf_buf_free(&body);
	cf_wipe(st, sizeof(*st));
	free(st);
	if (err) {
		/* refused before anything was applied: keep the state */
		char keep[1024];
		cf_strlcpy(keep, coffer_errdetail(), sizeof(keep));
		(void)dsl_recv_suspend(r);
		cf_set_errdetail("%s", keep);
		return err;
	}
	*out = r;
	return 0;
}

/* ---- the point after a record ------------------------------------------ */

void cf_resume_point_after(const cf_stream_rec_t *rec, uint64_t *obj,
    uint64_t *off)
{
	uint64_t end;
	switch (rec->type) {
	case CF_SREC_OBJECT:
		*obj = rec->u.object.object;
		*off = 0;
		break;
	case CF_SREC_FREEOBJECTS:
		end = rec->u.freeobjects.first + rec->u.freeobjects.count;
		*obj = end >= CF_STREAM_MAX_OBJECT ? CF_STREAM_MAX_OBJECT - 1 :
		    end;
		*off = 0;
		break;
	case CF_SREC_WRITE:
		end = rec->u.write.offset + rec->u.write.blk.lsize;
		*obj = rec->u.write.object;
		*off = end;
		if (end >= CF_STREAM_MAX_OFFSET) {
			*obj = rec->u.write.object + 1;
			*off = 0;
		}
		break;
	case CF_SREC_FREE:
		*obj = rec->u.free.object;
		if (rec->u.free.length == CF_STREAM_FREE_TO_END ||
		    rec->u.free.length >= CF_STREAM_MAX_OFFSET -
		    rec->u.free.offset) {
			*obj = rec->u.free.object + 1;
			*off = 0;
		} else {
			*off = rec->u.free.offset + rec->u.free.length;
		}
		break;
	default:
		break;          /* PROPS, KEYS, OBJECT_RANGE: no data moved on */
	}
	if (*obj >= CF_STREAM_MAX_OBJECT)
		*obj = CF_STREAM_MAX_OBJECT - 1;
}

/* ---- the sender ---------------------------------------------------------- */

int cf_resume_begin_keys(cf_kv_t *kv, const cf_resume_token_t *t)
{
	int err = cf_kv_add_u64(kv, CF_KV_ROOT, "resume_object", t->object);
	if (!err)
		err = cf_kv_add_u64(kv, CF_KV_ROOT, "resume_offset",
		    t->offset);
	if (!err)
		err = cf_kv_add_u64(kv, CF_KV_ROOT, "resume_bytes", t->bytes);
	if (!err)
		err = cf_kv_add_bytes(kv, CF_KV_ROOT, "resume_token", t->raw,
		    t->rawlen);
	return err;
}

static int snap_guid_is(dsl_pool_t *dp, const char *snap, uint64_t guid)
{
	coffer_propval_t pv;
	int err = dsl_prop_get(dp, snap, "guid", &pv);
	if (err == COFFER_ENODS || (!err && strtoull(pv.raw, NULL, 10) !=
	    guid)) {
		cf_set_errdetail("the token's snapshot '%s' does not exist "
		    "here (or is another snapshot of that name)", snap);
		return COFFER_ENODS;
	}
	return err;
}

int cf_send_resume(dsl_pool_t *dp, const char *token, int flags,
    cf_send_opts_t *o, cf_stream_write_fn fn, void *arg,
    coffer_progress_fn progress, void *parg)
{
	cf_resume_token_t *t = malloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	int err = cf_resume_token_decode(token, t);
	if (!err)
		err = snap_guid_is(dp, t->toname, t->toguid);
	if (!err && t->fromguid)
		err = snap_guid_is(dp, t->fromname, t->fromguid);
	if (!err) {
		cf_send_opts_t none;
		if (!o) {
			memset(&none, 0, sizeof(none));
			o = &none;
		}
		o->resume = t;
		err = cf_send_opts(dp, t->toname, t->fromguid ? t->fromname :
		    NULL, flags, o, fn, arg, progress, parg);
		o->resume = NULL;
	}
	free(t);
	return err;
}
