#include "streamgen.h"

#include <stdlib.h>

#include "block/block.h"
#include "crypto/crypto.h"

void sg_fill(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

int sg_sign(void *arg, const uint8_t hdr[CF_STREAM_HDR_SIZE],
    const void *payload, size_t len, cf_stream_sig_t *sig)
{
	uint8_t *buf = malloc(CF_STREAM_HDR_SIZE + len + 1);
	uint8_t md[64];

	(void)arg;
	if (buf == NULL)
		return -ENOMEM;
	memcpy(buf, hdr, CF_STREAM_HDR_SIZE);
	memset(buf + 276, 0, 204);      /* the slot */
	if (len)
		memcpy(buf + CF_STREAM_HDR_SIZE, payload, len);
	cf_sha512(buf, CF_STREAM_HDR_SIZE + len, md);
	free(buf);
	sig->alg = CF_SSIG_ED25519;
	sig->len = 64;
	memcpy(sig->bytes, md, 64);
	return 0;
}

int sg_verify(void *arg, const cf_stream_rec_t *rec,
    const uint8_t hdr[CF_STREAM_HDR_SIZE], const void *payload, size_t len,
    char *why, size_t whylen)
{
	cf_stream_sig_t want;
	int err = sg_sign(arg, hdr, payload, len, &want);

	if (err)
		return err;
	if (rec->sig.alg != want.alg || rec->sig.len != want.len ||
	    memcmp(rec->sig.bytes, want.bytes, 64) != 0) {
		cf_snprintf(why, whylen, "bad signature");
		return COFFER_EBADSTREAM;
	}
	return 0;
}

/* ---- helpers ----------------------------------------------------------- */

typedef struct gen {
	cf_stream_writer_t *w;
	int err;
} gen_t;

static void g_open(gen_t *g, cf_buf_t *out)
{
	g->err = cf_stream_writer_new(cf_stream_buf_write, out, &g->w);
}

static int g_close(gen_t *g)
{
	cf_stream_writer_free(g->w);
	return g->err;
}

static void g_rec(gen_t *g, cf_stream_rec_t *r, const void *p, size_t n)
{
	if (!g->err)
		g->err = cf_stream_write(g->w, r, p, n);
}

static void g_kv(gen_t *g, cf_stream_rec_t *r, cf_kv_t *kv)
{
	if (kv == NULL && !g->err)
		g->err = -ENOMEM;
	if (!g->err)
		g->err = cf_stream_write_kv(g->w, r, kv);
	cf_kv_free(kv);
}

static void g_begin(gen_t *g, uint64_t feat, uint64_t from, cf_kv_t *kv)
{
	cf_stream_rec_t r = { .type = CF_SREC_BEGIN };

	r.u.begin.version = CF_STREAM_VERSION;
	r.u.begin.incompat = feat;
	r.u.begin.fromguid = from;
	r.u.begin.toguid = 0x1111222233334444ull;
	r.u.begin.totxg = 77;
	r.u.begin.creation = 1700000000;
	r.u.begin.dstype = CF_STREAM_DS_FS;
	g_kv(g, &r, kv);
}

static cf_kv_t *names(const char *to, const char *from)
{
	cf_kv_t *kv = cf_kv_new();

	if (kv && (cf_kv_add_str(kv, CF_KV_ROOT, "toname", to) != 0 ||
	    (from && cf_kv_add_str(kv, CF_KV_ROOT, "fromname", from) != 0))) {
		cf_kv_free(kv);
		return NULL;
	}
	return kv;
}

static void g_end(gen_t *g)
{
	cf_stream_rec_t r = { .type = CF_SREC_END };

	g_rec(g, &r, NULL, 0);
}

static void g_object(gen_t *g, uint64_t obj, uint8_t type, uint32_t blksz,
    uint8_t nlevels, uint64_t maxblkid, uint16_t bonuslen, int sealed)
{
	cf_stream_rec_t r = { .type = CF_SREC_OBJECT };
	uint8_t bonus[CF_STREAM_BONUS_MAX];

	r.u.object.object = obj;
	r.u.object.type = type;
	r.u.object.blksz = blksz;
	r.u.object.nlevels = nlevels;
	r.u.object.maxblkid = maxblkid;
	r.u.object.bonuslen = bonuslen;
	sg_fill(bonus, bonuslen, (uint32_t)obj);
	g_rec(g, &r, bonus, sealed ? 0 : bonuslen);
}

/* A WRITE of `lsize` bytes at offset; psize < lsize means compressed
 * (lz4) with a fake compressed payload; enc fills encryption fields. */
static void g_write(gen_t *g, uint64_t obj, uint8_t type, uint64_t off,
    uint32_t lsize, uint32_t psize, uint8_t cksum, int enc)
{
	cf_stream_rec_t r = { .type = CF_SREC_WRITE };
	cf_stream_blk_t *b = &r.u.write.blk;
	uint8_t *p = malloc(psize);

	if (p == NULL) {
		g->err = g->err ? g->err : -ENOMEM;
		return;
	}
	sg_fill(p, psize, (uint32_t)(obj * 1000 + off / 512));
	if (psize < lsize)
		le32_put(p, psize - 4);
	r.u.write.object = obj;
	r.u.write.offset = off;
	b->lsize = lsize;
	b->psize = psize;
	b->type = type;
	b->comp = psize < lsize ? CF_COMP_LZ4 : CF_COMP_OFF;
	b->cksum = cksum;
	if (cksum)
		cf_block_checksum(cksum, p, psize, b->checksum);
	if (enc) {
		b->flags = CF_SBLK_ENCRYPTED;
		b->keygen = 1;
		sg_fill(b->salt, 8, 1);
		sg_fill(b->iv, 12, (uint32_t)off + 2);
		sg_fill(b->mac, 16, (uint32_t)off + 3);
	}
	g_rec(g, &r, p, psize);
	free(p);
}

static void g_free(gen_t *g, uint64_t obj, uint64_t off, uint64_t len)
{
	cf_stream_rec_t r = { .type = CF_SREC_FREE };

	r.u.free.object = obj;
	r.u.free.offset = off;
	r.u.free.length = len;
	g_rec(g, &r, NULL, 0);
}

static void g_freeobjects(gen_t *g, uint64_t first, uint64_t count)
{
	cf_stream_rec_t r = { .type = CF_SREC_FREEOBJECTS };

	r.u.freeobjects.first = first;
	r.u.freeobjects.count = count;
	g_rec(g, &r, NULL, 0);
}

static void g_props(gen_t *g)
{
	cf_kv_t *kv = cf_kv_new();

	if (kv && (cf_kv_add_str(kv, CF_KV_ROOT, "compression", "lz4") ||
	    cf_kv_add_u64(kv, CF_KV_ROOT, "recordsize", 131072) ||
	    cf_kv_add_str(kv, CF_KV_ROOT, "user:note", "a b c"))) {
		cf_kv_free(kv);
		kv = NULL;
	}
	cf_stream_rec_t r = { .type = CF_SREC_PROPS };
	g_kv(g, &r, kv);
}

static void g_range(gen_t *g, uint64_t first, uint32_t psize)
{
	cf_stream_rec_t r = { .type = CF_SREC_OBJECT_RANGE };
	cf_stream_blk_t *b = &r.u.range.blk;
	uint8_t p[CF_STREAM_RANGE_LSIZE];

	sg_fill(p, psize, (uint32_t)first + 99);
	le32_put(p, psize - 4);
	r.u.range.first = first;
	r.u.range.count = CF_STREAM_RANGE_OBJS;
	b->lsize = CF_STREAM_RANGE_LSIZE;
	b->psize = psize;
	b->type = 1;
	b->comp = CF_COMP_LZ4;
	b->cksum = CF_CKSUM_SHA256;
	b->flags = CF_SBLK_ENCRYPTED | CF_SBLK_DNODE;
	b->keygen = 1;
	sg_fill(b->salt, 8, 1);
	sg_fill(b->iv, 12, (uint32_t)first + 5);
	sg_fill(b->mac, 16, (uint32_t)first + 6);
	cf_block_checksum(CF_CKSUM_SHA256, p, psize, b->checksum);
	g_rec(g, &r, p, psize);
}

/* ---- the streams ------------------------------------------------------- */

int sg_plain(cf_buf_t *out)
{
	gen_t g;

	g_open(&g, out);
	g_begin(&g, 0, 0, names("tank/fs@a", NULL));
	g_props(&g);
	g_object(&g, 1, 3, 1024, 2, 4, 40, 0);
	g_write(&g, 1, 3, 0, 1024, 1024, 0, 0);
	g_write(&g, 1, 3, 1024, 1024, 1024, CF_CKSUM_FLETCHER4, 0);
	g_free(&g, 1, 2048, 2048);
	g_free(&g, 1, 4096, CF_STREAM_FREE_TO_END);
	g_object(&g, 2, 4, 512, 1, 0, 0, 0);
	g_write(&g, 2, 4, 0, 512, 512, CF_CKSUM_SHA256, 0);
	g_freeobjects(&g, 3, 29);
	g_object(&g, 40, 5, 512, 1, 0, 13, 0);
	g_end(&g);
	return g_close(&g);
}

int sg_compressed(cf_buf_t *out)
{
	gen_t g;

	g_open(&g, out);
	g_begin(&g, CF_SFEAT_COMPRESSED, 0x5555666677778888ull,
	    names("tank/fs@b", "tank/fs@a"));
	g_object(&g, 7, 3, 8192, 3, 300, 0, 0);
	g_write(&g, 7, 3, 0, 8192, 301, CF_CKSUM_FLETCHER4, 0);
	g_write(&g, 7, 3, 8192 * 250, 8192, 555, CF_CKSUM_SHA256, 0);
	g_free(&g, 7, 8192 * 251, 8192 * 10);
	g_end(&g);
	return g_close(&g);
}

int sg_raw(cf_buf_t *out)
{
	gen_t g;
	uint8_t keys[440 + 1352];
	cf_stream_rec_t k = { .type = CF_SREC_KEYS };

	g_open(&g, out);
	g_begin(&g, CF_SFEAT_RAW, 0, names("tank/secret@a", NULL));
	g_props(&g);
	sg_fill(keys, sizeof(keys), 42);
	k.u.keys.guid = 0xabcdef;
	k.u.keys.rootguid = 0xabcdef;
	k.u.keys.suite = 6;
	k.u.keys.flags = CF_SKEYS_ROOT;
	k.u.keys.keyrec_len = 440;
	k.u.keys.keystore_len = 1352;
	g_rec(&g, &k, keys, sizeof(keys));
	g_range(&g, 0, 901);
	g_object(&g, 1, 2, 16384, 1, 0, 0, 1);
	g_write(&g, 1, 2, 0, 16384, 700, CF_CKSUM_SHA256, 1);
	g_object(&g, 2, 3, 1024, 2, 9, 200, 1);
	g_write(&g, 2, 3, 5120, 1024, 1024, CF_CKSUM_FLETCHER4, 1);
	g_freeobjects(&g, 3, 29);
	g_range(&g, 32, 333);
	g_object(&g, 33, 4, 512, 1, 0, 64, 1);
	g_end(&g);
	return g_close(&g);
}

int sg_multi(cf_buf_t *out)
{
	gen_t g;
	cf_kv_t *kv = names("tank/fs@b", NULL);
	cf_stream_rec_t s = { .type = CF_SREC_SNAPSHOT };

	if (kv && cf_kv_add_u64(kv, CF_KV_ROOT, "intermediate", 1) != 0) {
		cf_kv_free(kv);
		kv = NULL;
	}
	g_open(&g, out);
	g_begin(&g, CF_SFEAT_MULTI, 0, kv);
	s.u.snapshot.toguid = 0x0a0a;
	s.u.snapshot.totxg = 50;
	s.u.snapshot.creation = 1699999000;
	s.u.snapshot.dstype = CF_STREAM_DS_FS;
	g_kv(&g, &s, names("tank/fs@a", NULL));
	g_props(&g);
	g_object(&g, 1, 3, 512, 1, 0, 8, 0);
	g_write(&g, 1, 3, 0, 512, 512, 0, 0);
	memset(&s.u, 0, sizeof(s.u));
	s.u.snapshot.fromguid = 0x0a0a;
	s.u.snapshot.toguid = 0x1111222233334444ull;
	s.u.snapshot.totxg = 77;
	s.u.snapshot.creation = 1700000000;
	s.u.snapshot.dstype = CF_STREAM_DS_FS;
	g_kv(&g, &s, names("tank/fs@b", "tank/fs@a"));
	g_object(&g, 1, 3, 512, 1, 0, 8, 0);
	g_free(&g, 1, 0, CF_STREAM_FREE_TO_END);
	g_end(&g);
	return g_close(&g);
}

int sg_signed(cf_buf_t *out)
{
	gen_t g;
	cf_kv_t *kv = names("tank/fs@a", NULL);
	int l;

	if (kv && (cf_kv_add_u64(kv, CF_KV_ROOT, "signed", 1) != 0 ||
	    cf_kv_add_str(kv, CF_KV_ROOT, "sign_mode", "record") != 0 ||
	    (l = cf_kv_add_list(kv, CF_KV_ROOT, "signature")) < 0 ||
	    cf_kv_add_str(kv, l, "alg", "eddsa") != 0 ||
	    cf_kv_add_str(kv, l, "curve", "curve25519") != 0 ||
	    (l = cf_kv_add_list(kv, CF_KV_ROOT, "key_fp")) < 0 ||
	    cf_kv_add_str(kv, l, "alg", "sha256") != 0 ||
	    cf_kv_add_bytes(kv, l, "hash", "0123456789abcdef0123456789abcdef",
	    32) != 0)) {
		cf_kv_free(kv);
		kv = NULL;
	}
	g_open(&g, out);
	if (!g.err)
		cf_stream_writer_set_sign(g.w, sg_sign, NULL);
	g_begin(&g, CF_SFEAT_SIGNED, 0, kv);
	g_object(&g, 1, 3, 512, 1, 0, 0, 0);
	g_write(&g, 1, 3, 0, 512, 512, 0, 0);
	g_end(&g);
	return g_close(&g);
}

int sg_resume(cf_buf_t *out)
{
	gen_t g;
	cf_kv_t *kv = names("tank/fs@a", NULL);

	if (kv && (cf_kv_add_u64(kv, CF_KV_ROOT, "resume_object", 5) != 0 ||
	    cf_kv_add_u64(kv, CF_KV_ROOT, "resume_offset", 8192) != 0 ||
	    cf_kv_add_u64(kv, CF_KV_ROOT, "resume_bytes", 123456) != 0)) {
		cf_kv_free(kv);
		kv = NULL;
	}
	g_open(&g, out);
	g_begin(&g, CF_SFEAT_RESUMING, 0, kv);
	g_object(&g, 5, 3, 4096, 2, 3, 0, 0);
	g_write(&g, 5, 3, 8192, 4096, 4096, 0, 0);
	g_object(&g, 6, 3, 512, 1, 0, 0, 0);
	g_end(&g);
	return g_close(&g);
}

int sg_large(cf_buf_t *out)
{
	gen_t g;
	uint32_t bs = 2u << 20;

	g_open(&g, out);
	g_begin(&g, CF_SFEAT_LARGE_BLOCKS, 0, names("tank/big@a", NULL));
	g_object(&g, 1, 3, bs, 1, 0, 0, 0);
	g_write(&g, 1, 3, 0, bs, bs, CF_CKSUM_FLETCHER4, 0);
	g_end(&g);
	return g_close(&g);
}

const sg_kind_t sg_kinds[] = {
	{ "plain", sg_plain },
	{ "compressed", sg_compressed },
	{ "raw", sg_raw },
	{ "multi", sg_multi },
	{ "signed", sg_signed },
	{ "resume", sg_resume },
	{ NULL, NULL },
};

/* ---- streams with real signatures (signstream.c) ----------------------- */

/* A fixed Ed25519 key pair for tests and the fuzzer (never use it for
 * anything else: its private key is public). */
static const char test_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIMlEG5jHO8YSAeMXlmDUgqassp2z1hCnV8AI4QN3Jyup\n"
    "-----END PRIVATE KEY-----\n";

cf_signkey_t *sg_test_key(void)
{
	cf_sigkey_t *sk;
	cf_signkey_t *k;

	if (cf_sigkey_from_pem((const uint8_t *)test_key_pem,
	    sizeof(test_key_pem) - 1, NULL, 0, &sk) != 0)
		return NULL;
	if (cf_sign_wrap(sk, "test", &k) != 0)
		return NULL;
	return k;
}

int sg_signed_real(cf_buf_t *out, const cf_signkey_t *key, int mode,
    uint32_t interval, uint64_t bytes, uint64_t fromguid, uint32_t seed,
    int nobj)
{
	gen_t g;
	cf_ssign_t *s;
	cf_kv_t *kv = names(fromguid ? "tank/fs@b" : "tank/fs@a",
	    fromguid ? "tank/fs@a" : NULL);
	cf_stream_rec_t r = { .type = CF_SREC_BEGIN };
	int err = cf_ssign_new(key, mode, interval, bytes, &s);

	if (err) {
		cf_kv_free(kv);
		return err;
	}
	g_open(&g, out);
	if (!g.err)
		cf_stream_writer_set_sign(g.w, cf_ssign_hook, s);
	if (!kv)
		g.err = -ENOMEM;
	if (!g.err)
		g.err = cf_ssign_begin(s, kv, &r.u.begin.incompat);
	r.u.begin.version = CF_STREAM_VERSION;
	r.u.begin.fromguid = fromguid;
	r.u.begin.toguid = 0x1111222233334444ull + seed;
	r.u.begin.totxg = 77;
	r.u.begin.creation = 1700000000;
	r.u.begin.dstype = CF_STREAM_DS_FS;
	g_kv(&g, &r, kv);
	for (int o = 1; o <= nobj; o++) {
		g_object(&g, (uint64_t)o, 3, 1024, 2, 7, 16, 0);
		for (int b = 0; b < 3; b++)
			g_write(&g, (uint64_t)o, 3, (uint64_t)b * 2048, 1024,
			    1024, (b & 1) ? CF_CKSUM_FLETCHER4 : 0, 0);
		g_free(&g, (uint64_t)o, 6144, 1024);
	}
	g_freeobjects(&g, (uint64_t)nobj + 1, 5);
	g_end(&g);
	err = g_close(&g);
	cf_ssign_free(s);
	(void)seed;
	return err;
}
