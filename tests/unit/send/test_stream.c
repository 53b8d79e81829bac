/*
 * Unit tests for src/send/stream.c and kv.c: round trips of every record
 * type, and hostile streams: truncated at every byte, every single-bit
 * flip, reordered, duplicated and dropped records (raw, and forged with
 * the checksums fixed up so the deeper rules must catch them), ids and
 * offsets out of range, oversized lengths, unknown types and features,
 * and kv edge cases.
 */
#include "harness.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "block/block.h"
#include "crypto/crypto.h"
#include "dmu/dmu.h"
#include "send/stream.h"
#include "streamgen.h"

#define HDR CF_STREAM_HDR_SIZE

/* ---- helpers ----------------------------------------------------------- */

typedef struct rd {
	int rc;                 /* last cf_stream_read result */
	int nrec;
	char msg[400];
	size_t alloc;           /* largest payload buffer seen */
	uint32_t types[64];
} rd_t;

/* Read a whole stream; rc 0 means it was accepted whole. */
static rd_t read_stream(const uint8_t *p, size_t n,
    const cf_stream_reader_opts_t *o)
{
	cf_stream_mem_t m = { p, n, 0 };
	cf_stream_reader_t *r;
	rd_t res;

	memset(&res, 0, sizeof(res));
	res.rc = cf_stream_reader_new(cf_stream_mem_read, &m, o, &r);
	if (res.rc)
		return res;
	for (;;) {
		cf_stream_rec_t rec;
		const uint8_t *pl;
		size_t len;

		res.rc = cf_stream_read(r, &rec, &pl, &len);
		res.alloc = CF_MAX(res.alloc, cf_stream_reader_allocated(r));
		if (res.rc <= 0)
			break;
		if (res.nrec < 64)
			res.types[res.nrec] = rec.type;
		res.nrec++;
	}
	cf_snprintf(res.msg, sizeof(res.msg), "%s", cf_stream_reader_error(r));
	cf_stream_reader_free(r);
	return res;
}

static const cf_stream_sig_t *copy_sig;

static int copy_sign(void *arg, const uint8_t *hdr, const void *payload,
    size_t len, cf_stream_sig_t *sig)
{
	(void)arg; (void)hdr; (void)payload; (void)len;
	*sig = *copy_sig;
	return 0;
}

/* Read a stream and write every record again; the bytes must be equal
 * (the encoding is canonical).  Returns the number of records or < 0. */
static int reencode(const uint8_t *p, size_t n, cf_buf_t *out)
{
	cf_stream_mem_t m = { p, n, 0 };
	cf_stream_reader_t *r;
	cf_stream_writer_t *w;
	int err, nrec = 0;

	if ((err = cf_stream_reader_new(cf_stream_mem_read, &m, NULL, &r)))
		return err;
	if ((err = cf_stream_writer_new(cf_stream_buf_write, out, &w))) {
		cf_stream_reader_free(r);
		return err;
	}
	cf_stream_writer_set_sign(w, copy_sign, NULL);
	for (;;) {
		cf_stream_rec_t rec, again;
		const uint8_t *pl;
		size_t len;

		err = cf_stream_read(r, &rec, &pl, &len);
		if (err <= 0)
			break;
		again = rec;
		copy_sig = &rec.sig;
		if (rec.type == CF_SREC_END)
			memset(&again.u, 0, sizeof(again.u));
		err = cf_stream_write(w, &again, pl, len);
		if (err)
			break;
		if (memcmp(&again, &rec, sizeof(rec)) != 0) {
			err = -EILSEQ;
			break;
		}
		nrec++;
	}
	cf_stream_writer_free(w);
	cf_stream_reader_free(r);
	return err < 0 ? err : nrec;
}

/* A forged stream: headers packed with cf_stream_hdr_encode, bypassing
 * the writer's rules; fix() then repairs seq numbers and checksums. */
static void forge(cf_buf_t *b, const cf_stream_rec_t *rec, const void *p,
    size_t len)
{
	uint8_t h[HDR], pad[8] = { 0 };
	cf_stream_rec_t r = *rec;

	r.payloadlen = len;
	cf_stream_hdr_encode(&r, h);
	if (cf_buf_append(b, h, HDR) || (len && cf_buf_append(b, p, len)) ||
	    cf_buf_append(b, pad, (8 - len % 8) % 8))
		abort();
}

static void fix(cf_buf_t *b)
{
	cf_stream_fixup(b->data, b->len);
}

/*
 * An independent implementation of the running checksum and sequence
 * numbers (docs/STREAM.md §3), written from the document rather than
 * from stream.c: it must agree with the writer on every valid stream,
 * and it leaves block checksums alone.
 */
static void indep_fix(uint8_t *p, size_t n)
{
	cf_fletcher4_ctx_t ctx;
	uint8_t tmp[HDR];
	size_t off = 0;
	uint64_t seq = 0;

	cf_fletcher4_init(&ctx);
	while (off + HDR <= n) {
		uint8_t *h = p + off;
		uint64_t pl = (le64_get(h + 16) + 7) & ~7ull;

		le64_put(h + 24, seq++);
		if (le32_get(h + 8) == CF_SREC_END) {
			cf_fletcher4_final(&ctx, h + 32);
			le64_put(h + 72, off);
		}
		memcpy(tmp, h, HDR);
		memset(tmp + 276, 0, 204);
		cf_fletcher4_update(&ctx, tmp, 480);
		cf_fletcher4_final(&ctx, h + 480);
		cf_fletcher4_update(&ctx, h + 480, 32);
		off += HDR;
		if (pl > n - off)
			break;
		cf_fletcher4_update(&ctx, p + off, pl);
		off += pl;
	}
}

/* Start a forged stream with a BEGIN of features feat. */
static void forge_begin(cf_buf_t *b, uint64_t feat)
{
	cf_stream_rec_t r = { .type = CF_SREC_BEGIN };
	cf_kv_t *kv = cf_kv_new();
	cf_buf_t p = { 0 };

	r.u.begin.version = 1;
	r.u.begin.incompat = feat;
	r.u.begin.toguid = 0x1111222233334444ull;
	r.u.begin.totxg = 5;
	r.u.begin.dstype = CF_STREAM_DS_FS;
	if (kv == NULL || cf_kv_add_str(kv, CF_KV_ROOT, "toname", "t/f@s") ||
	    cf_kv_encode(kv, &p))
		abort();
	forge(b, &r, p.data, p.len);
	cf_kv_free(kv);
	cf_buf_free(&p);
}

static void forge_end(cf_buf_t *b)
{
	cf_stream_rec_t r = { .type = CF_SREC_END };

	r.u.end.toguid = 0x1111222233334444ull;
	forge(b, &r, NULL, 0);
}

static void forge_object(cf_buf_t *b, uint64_t obj, uint32_t blksz,
    uint64_t maxblkid)
{
	cf_stream_rec_t r = { .type = CF_SREC_OBJECT };

	r.u.object.object = obj;
	r.u.object.type = 3;
	r.u.object.nlevels = 2;
	r.u.object.blksz = blksz;
	r.u.object.maxblkid = maxblkid;
	forge(b, &r, NULL, 0);
}

static void forge_write(cf_buf_t *b, uint64_t obj, uint64_t off,
    uint32_t lsize)
{
	cf_stream_rec_t r = { .type = CF_SREC_WRITE };
	uint8_t *p = calloc(1, lsize);

	r.u.write.object = obj;
	r.u.write.offset = off;
	r.u.write.blk.lsize = r.u.write.blk.psize = lsize;
	r.u.write.blk.type = 3;
	forge(b, &r, p, lsize);
	free(p);
}

/* Expect refusal with code and a message containing what. */
#define EXPECT_BAD(buf, len, code, what) do { \
	rd_t _r = read_stream((buf), (len), NULL); \
	if (_r.rc != (code) || strstr(_r.msg, (what)) == NULL) { \
		fprintf(stderr, "  got %d '%s'\n", _r.rc, _r.msg); \
		CHECK(_r.rc == (code) && strstr(_r.msg, (what))); \
	} } while (0)

/* Offsets of the records of a stream (headers), at most 64. */
static int record_offsets(const uint8_t *p, size_t n, size_t *offs)
{
	size_t off = 0;
	int k = 0;

	while (off + HDR <= n && k < 64) {
		offs[k++] = off;
		off += HDR + ((le64_get(p + off + 16) + 7) & ~7ull);
	}
	return k;
}

/* ---- kv ---------------------------------------------------------------- */

static void test_kv_roundtrip(void)
{
	cf_kv_t *kv = cf_kv_new(), *back = NULL;
	cf_buf_t b = { 0 }, b2 = { 0 };
	const char *s;
	const uint8_t *bp;
	size_t n;
	uint64_t v;
	int l, l2;

	CHECK(kv != NULL);
	/* added out of order: encoded sorted */
	CHECK_OK(cf_kv_add_str(kv, CF_KV_ROOT, "zeta", "last"));
	CHECK_OK(cf_kv_add_u64(kv, CF_KV_ROOT, "alpha", 0xdeadbeefcafeull));
	CHECK_OK(cf_kv_add_bytes(kv, CF_KV_ROOT, "bytes", "\0\1\2", 3));
	CHECK_OK(cf_kv_add_str(kv, CF_KV_ROOT, "empty", ""));
	l = cf_kv_add_list(kv, CF_KV_ROOT, "list");
	CHECK(l > 0);
	CHECK_OK(cf_kv_add_u64(kv, l, "b", 2));
	CHECK_OK(cf_kv_add_u64(kv, l, "a", 1));
	l2 = cf_kv_add_list(kv, l, "inner");
	CHECK(l2 > 0);
	CHECK_OK(cf_kv_add_bytes(kv, l2, "nothing", NULL, 0));
	CHECK_OK(cf_kv_encode(kv, &b));
	CHECK_OK(cf_kv_decode(b.data, b.len, &back));
	CHECK(cf_kv_equal(kv, back));
	CHECK_OK(cf_kv_encode(back, &b2));
	CHECK(b2.len == b.len && memcmp(b.data, b2.data, b.len) == 0);

	CHECK_OK(cf_kv_get_u64(back, CF_KV_ROOT, "alpha", &v));
	CHECK(v == 0xdeadbeefcafeull);
	CHECK_OK(cf_kv_get_str(back, CF_KV_ROOT, "zeta", &s, &n));
	CHECK(n == 4 && strcmp(s, "last") == 0);
	CHECK_OK(cf_kv_get_bytes(back, CF_KV_ROOT, "bytes", &bp, &n));
	CHECK(n == 3 && bp[2] == 2);
	CHECK_RC(cf_kv_get_u64(back, CF_KV_ROOT, "zeta", &v), -EINVAL);
	CHECK_RC(cf_kv_get_u64(back, CF_KV_ROOT, "nope", &v), -ENOENT);
	CHECK_OK(cf_kv_get_list(back, CF_KV_ROOT, "list", &l));
	CHECK(cf_kv_count(back, l) == 3);
	CHECK(strcmp(cf_kv_key(back, cf_kv_at(back, l, 0)), "a") == 0);
	CHECK(strcmp(cf_kv_key(back, cf_kv_at(back, l, 2)), "inner") == 0);
	CHECK(cf_kv_count(back, CF_KV_ROOT) == 5);
	CHECK(strcmp(cf_kv_key(back, cf_kv_at(back, CF_KV_ROOT, 0)),
	    "alpha") == 0);
	cf_kv_free(back);
	cf_kv_free(kv);
	cf_buf_free(&b);
	cf_buf_free(&b2);
}

static void test_kv_builder_limits(void)
{
	cf_kv_t *kv = cf_kv_new();
	char key[80];
	int l;

	CHECK(kv != NULL);
	CHECK_RC(cf_kv_add_u64(kv, CF_KV_ROOT, "", 1), -EINVAL);
	CHECK_RC(cf_kv_add_u64(kv, CF_KV_ROOT, "has space", 1), -EINVAL);
	memset(key, 'k', 65);
	key[65] = 0;
	CHECK_RC(cf_kv_add_u64(kv, CF_KV_ROOT, key, 1), -EINVAL);
	key[64] = 0;
	CHECK_OK(cf_kv_add_u64(kv, CF_KV_ROOT, key, 1));
	CHECK_RC(cf_kv_add_u64(kv, CF_KV_ROOT, key, 2), -EEXIST);
	CHECK_RC(cf_kv_add_u64(kv, 12345, "x", 2), -EINVAL);
	/* depth: top is 1, three nested lists reach 4, a fourth is refused */
	l = CF_KV_ROOT;
	for (int d = 2; d <= CF_KV_MAX_DEPTH; d++) {
		l = cf_kv_add_list(kv, l, "n");
		CHECK(l > 0);
	}
	CHECK_RC(cf_kv_add_list(kv, l, "n"), -E2BIG);
	CHECK_OK(cf_kv_add_u64(kv, l, "leaf", 1));
	/* a value above 64 KiB */
	uint8_t *big = calloc(1, CF_KV_MAX_VALUE + 1);
	CHECK(big != NULL);
	CHECK_RC(cf_kv_add_bytes(kv, CF_KV_ROOT, "big", big,
	    CF_KV_MAX_VALUE + 1), -EINVAL);
	free(big);
	/* entries: 5 so far (key, three lists, leaf); 1024 in all */
	int added = 0, rc = 0;
	for (int i = 0; rc == 0; i++) {
		cf_snprintf(key, sizeof(key), "e%05d", i);
		rc = cf_kv_add_u64(kv, CF_KV_ROOT, key, (uint64_t)i);
		added += rc == 0;
	}
	CHECK_RC(rc, -E2BIG);
	CHECK(added == CF_KV_MAX_ENTRIES - 5);
	CHECK_RC(cf_kv_add_u64(kv, CF_KV_ROOT, "one-too-many", 1), -E2BIG);
	cf_buf_t b = { 0 };
	cf_kv_t *back = NULL;
	CHECK_OK(cf_kv_encode(kv, &b));
	CHECK_OK(cf_kv_decode(b.data, b.len, &back));
	CHECK(cf_kv_equal(kv, back));
	cf_kv_free(back);
	cf_buf_free(&b);
	cf_kv_free(kv);

	/* total size above 1 MiB: 17 values of 64 KiB */
	kv = cf_kv_new();
	big = calloc(1, CF_KV_MAX_VALUE);
	CHECK(kv != NULL && big != NULL);
	for (int i = 0; i < 17; i++) {
		cf_snprintf(key, sizeof(key), "v%02d", i);
		CHECK_OK(cf_kv_add_bytes(kv, CF_KV_ROOT, key, big,
		    CF_KV_MAX_VALUE));
	}
	cf_buf_t b2 = { 0 };
	CHECK_RC(cf_kv_encode(kv, &b2), -E2BIG);
	CHECK(b2.len == 0);
	/* a list value above 64 KiB */
	cf_kv_free(kv);
	kv = cf_kv_new();
	l = cf_kv_add_list(kv, CF_KV_ROOT, "l");
	CHECK(l > 0);
	CHECK_OK(cf_kv_add_bytes(kv, l, "a", big, CF_KV_MAX_VALUE));
	CHECK_RC(cf_kv_encode(kv, &b2), -E2BIG);
	free(big);
	cf_kv_free(kv);
	cf_buf_free(&b2);
}

/* Hand-made kv bytes. */
typedef struct kvb {
	uint8_t b[65536];
	size_t n;
} kvb_t;

static void kb_list(kvb_t *k, uint32_t count)
{
	le32_put(k->b + k->n, count);
	le32_put(k->b + k->n + 4, 0);
	k->n += 8;
}

static void kb_ent(kvb_t *k, uint8_t type, const char *key, uint32_t vlen,
    const void *val)
{
	size_t kl = strlen(key);

	k->b[k->n] = type;
	k->b[k->n + 1] = (uint8_t)kl;
	le16_put(k->b + k->n + 2, 0);
	le32_put(k->b + k->n + 4, vlen);
	memcpy(k->b + k->n + 8, key, kl);
	k->n += 8 + kl;
	if (val) {
		memcpy(k->b + k->n, val, vlen);
		k->n += vlen;
	}
}

static int kv_bad(const kvb_t *k, const char *what)
{
	cf_kv_t *kv = NULL;
	int rc = cf_kv_decode(k->b, k->n, &kv);

	if (rc != COFFER_EBADSTREAM || kv != NULL ||
	    strstr(coffer_errdetail(), what) == NULL) {
		fprintf(stderr, "  kv: got %d '%s', wanted '%s'\n", rc,
		    coffer_errdetail(), what);
		cf_kv_free(kv);
		return 0;
	}
	return 1;
}

static void test_kv_hostile(void)
{
	kvb_t k;
	uint8_t v8[8] = { 1 };
	cf_kv_t *kv = NULL;

	/* a valid one first */
	memset(&k, 0, sizeof(k));
	kb_list(&k, 2);
	kb_ent(&k, CF_KV_U64, "a", 8, v8);
	kb_ent(&k, CF_KV_STR, "b", 2, "hi");
	CHECK_OK(cf_kv_decode(k.b, k.n, &kv));
	cf_kv_free(kv);

	memset(&k, 0, sizeof(k));
	kb_list(&k, 2);
	kb_ent(&k, CF_KV_U64, "a", 8, v8);
	kb_ent(&k, CF_KV_U64, "a", 8, v8);
	CHECK(kv_bad(&k, "duplicate key"));

	memset(&k, 0, sizeof(k));
	kb_list(&k, 2);
	kb_ent(&k, CF_KV_U64, "b", 8, v8);
	kb_ent(&k, CF_KV_U64, "a", 8, v8);
	CHECK(kv_bad(&k, "keys out of order"));

	memset(&k, 0, sizeof(k));
	kb_list(&k, 2);
	kb_ent(&k, CF_KV_U64, "ab", 8, v8);
	kb_ent(&k, CF_KV_U64, "a", 8, v8);      /* prefix sorts first */
	CHECK(kv_bad(&k, "keys out of order"));

	/* depth: lists nested 5 deep (top + 4), built from the inside */
	{
		uint8_t in[256], outb[256];
		size_t n = 8;

		memset(in, 0, 8);               /* innermost: empty list */
		for (int d = 0; d < 4; d++) {
			le32_put(outb, 1);
			le32_put(outb + 4, 0);
			outb[8] = CF_KV_LIST;
			outb[9] = 1;
			le16_put(outb + 10, 0);
			le32_put(outb + 12, (uint32_t)n);
			outb[16] = 'n';
			memcpy(outb + 17, in, n);
			n += 17;
			memcpy(in, outb, n);
			if (d == 2) {           /* depth 4: still fine */
				cf_kv_t *ok = NULL;
				CHECK_OK(cf_kv_decode(in, n, &ok));
				cf_kv_free(ok);
			}
		}
		memset(&k, 0, sizeof(k));
		memcpy(k.b, in, n);
		k.n = n;
		CHECK(kv_bad(&k, "nested deeper than 4"));
	}

	/* too many entries: a count of 1025 */
	memset(&k, 0, sizeof(k));
	kb_list(&k, CF_KV_MAX_ENTRIES + 1);
	CHECK(kv_bad(&k, "too many entries"));
	/* a count the list's bytes cannot hold */
	memset(&k, 0, sizeof(k));
	kb_list(&k, 1);
	kb_ent(&k, CF_KV_LIST, "l", 8 + 16, NULL);
	kb_list(&k, 1000);
	k.n += 16;
	CHECK(kv_bad(&k, "list count larger than its bytes allow"));
	/* nested counts that add up past 1024: 1000 + 30 + 2 lists */
	memset(&k, 0, sizeof(k));
	kb_list(&k, 2);
	kb_ent(&k, CF_KV_LIST, "a", 8 + 1000 * 21, NULL);
	kb_list(&k, 1000);
	for (int i = 0; i < 1000; i++) {
		char key[8];
		cf_snprintf(key, sizeof(key), "k%04d", i);
		kb_ent(&k, CF_KV_U64, key, 8, v8);
	}
	kb_ent(&k, CF_KV_LIST, "b", 8 + 30 * 21, NULL);
	kb_list(&k, 30);
	for (int i = 0; i < 30; i++) {
		char key[8];
		cf_snprintf(key, sizeof(key), "k%04d", i);
		kb_ent(&k, CF_KV_U64, key, 8, v8);
	}
	CHECK(kv_bad(&k, "too many entries"));

	/* lengths past the end */
	memset(&k, 0, sizeof(k));
	kb_list(&k, 1);
	kb_ent(&k, CF_KV_STR, "s", 100, NULL);
	memcpy(k.b + k.n, "short", 5);
	k.n += 5;
	CHECK(kv_bad(&k, "value past the end"));

	memset(&k, 0, sizeof(k));
	kb_list(&k, 1);
	kb_ent(&k, CF_KV_STR, "s", 0xffffffffu, NULL);
	CHECK(kv_bad(&k, "longer than 64 KiB"));

	memset(&k, 0, sizeof(k));
	kb_list(&k, 1);
	k.b[k.n] = CF_KV_U64;
	k.b[k.n + 1] = 200;     /* keylen past the end */
	k.n += 8 + 12;
	CHECK(kv_bad(&k, "key past the end"));

	memset(&k, 0, sizeof(k));
	kb_list(&k, 2);         /* claims 2, has 1 and 4 stray bytes */
	kb_ent(&k, CF_KV_U64, "a", 8, v8);
	k.n += 4;
	CHECK(kv_bad(&k, "entry header past the end"));

	memset(&k, 0, sizeof(k));
	kb_list(&k, 1);
	kb_ent(&k, CF_KV_U64, "a", 8, v8);
	k.n += 3;               /* trailing bytes */
	CHECK(kv_bad(&k, "bytes after the last entry"));

	/* a nested list whose entries end before its length */
	memset(&k, 0, sizeof(k));
	kb_list(&k, 1);
	kb_ent(&k, CF_KV_LIST, "l", 8 + 17 + 4, NULL);
	kb_list(&k, 1);
	kb_ent(&k, CF_KV_U64, "a", 8, v8);
	k.n += 4;
	CHECK(kv_bad(&k, "bytes after the last entry"));

	memset(&k, 0, sizeof(k));
	kb_list(&k, 1);
	kb_ent(&k, CF_KV_STR, "s", 3, "a\0b");
	CHECK(kv_bad(&k, "NUL byte"));

	memset(&k, 0, sizeof(k));
	kb_list(&k, 1);
	kb_ent(&k, CF_KV_U64, "a", 4, "abcd");
	CHECK(kv_bad(&k, "wrong for its type"));

	memset(&k, 0, sizeof(k));
	kb_list(&k, 1);
	kb_ent(&k, 9, "a", 0, NULL);
	CHECK(kv_bad(&k, "unknown value type"));

	memset(&k, 0, sizeof(k));
	kb_list(&k, 1);
	kb_ent(&k, CF_KV_U64, "a b", 8, v8);
	CHECK(kv_bad(&k, "not printable"));

	memset(&k, 0, sizeof(k));
	kb_list(&k, 0);
	k.b[5] = 1;
	CHECK(kv_bad(&k, "reserved list bytes"));

	memset(&k, 0, sizeof(k));
	kb_list(&k, 1);
	kb_ent(&k, CF_KV_U64, "a", 8, v8);
	k.b[8 + 2] = 1;
	CHECK(kv_bad(&k, "reserved entry bytes"));

	memset(&k, 0, sizeof(k));
	k.n = 4;
	CHECK(kv_bad(&k, "shorter than a list"));
}

/* ---- round trips ------------------------------------------------------- */

static void test_roundtrip_all(void)
{
	static const uint32_t plain[] = { CF_SREC_BEGIN, CF_SREC_PROPS,
	    CF_SREC_OBJECT, CF_SREC_WRITE, CF_SREC_WRITE, CF_SREC_FREE,
	    CF_SREC_FREE, CF_SREC_OBJECT, CF_SREC_WRITE, CF_SREC_FREEOBJECTS,
	    CF_SREC_OBJECT, CF_SREC_END };
	int seen[CF_SREC_MAX + 1] = { 0 };

	for (const sg_kind_t *k = sg_kinds; k->name; k++) {
		cf_buf_t b = { 0 }, again = { 0 };
		cf_stream_reader_opts_t o = { 0 };

		CHECK_OK(k->fn(&b));
		if (k->fn == sg_signed) {
			o.verify = sg_verify;
		}
		rd_t r = read_stream(b.data, b.len, &o);
		if (r.rc != 0)
			fprintf(stderr, "  %s: %s\n", k->name, r.msg);
		CHECK_RC(r.rc, 0);
		for (int i = 0; i < r.nrec && i < 64; i++)
			seen[r.types[i]] = 1;
		CHECK(r.types[r.nrec - 1] == CF_SREC_END);
		if (k->fn == sg_plain) {
			CHECK(r.nrec == (int)CF_ARRAY_SIZE(plain));
			CHECK(memcmp(r.types, plain, sizeof(plain)) == 0);
		}
		int n = reencode(b.data, b.len, &again);
		CHECK(n == r.nrec);
		CHECK(again.len == b.len &&
		    memcmp(again.data, b.data, b.len) == 0);
		cf_buf_free(&b);
		cf_buf_free(&again);
	}
	for (int t = 1; t <= CF_SREC_MAX; t++)
		CHECK(seen[t]);
}

static void test_roundtrip_fields(void)
{
	cf_buf_t b = { 0 };
	cf_stream_mem_t m;
	cf_stream_reader_t *r;
	cf_stream_rec_t rec;
	const uint8_t *pl;
	size_t len;
	const char *s;

	CHECK_OK(sg_raw(&b));
	m = (cf_stream_mem_t){ b.data, b.len, 0 };
	CHECK_OK(cf_stream_reader_new(cf_stream_mem_read, &m, NULL, &r));
	CHECK_RC(cf_stream_read(r, &rec, &pl, &len), 1);
	CHECK(rec.type == CF_SREC_BEGIN && rec.seq == 0);
	CHECK(rec.u.begin.incompat == CF_SFEAT_RAW);
	CHECK(rec.u.begin.toguid == 0x1111222233334444ull);
	CHECK(cf_stream_reader_kv(r) == cf_stream_reader_begin_kv(r));
	CHECK_OK(cf_kv_get_str(cf_stream_reader_begin_kv(r), CF_KV_ROOT,
	    "toname", &s, NULL));
	CHECK(strcmp(s, "tank/secret@a") == 0);
	CHECK_RC(cf_stream_read(r, &rec, &pl, &len), 1);
	CHECK(rec.type == CF_SREC_PROPS && cf_stream_reader_kv(r) != NULL);
	CHECK_RC(cf_stream_read(r, &rec, &pl, &len), 1);
	CHECK(rec.type == CF_SREC_KEYS && len == 440 + 1352);
	CHECK(rec.u.keys.suite == 6 && rec.u.keys.flags == CF_SKEYS_ROOT);
	CHECK(cf_stream_reader_kv(r) == NULL);
	CHECK_RC(cf_stream_read(r, &rec, &pl, &len), 1);
	CHECK(rec.type == CF_SREC_OBJECT_RANGE && len == 901);
	CHECK(rec.u.range.blk.flags == (CF_SBLK_ENCRYPTED | CF_SBLK_DNODE));
	CHECK(rec.u.range.blk.comp == CF_COMP_LZ4);
	CHECK_RC(cf_stream_read(r, &rec, &pl, &len), 1);
	CHECK(rec.type == CF_SREC_OBJECT && len == 0);
	CHECK(rec.u.object.object == 1 && rec.u.object.blksz == 16384);
	CHECK_RC(cf_stream_read(r, &rec, &pl, &len), 1);
	CHECK(rec.type == CF_SREC_WRITE && len == 700);
	CHECK(rec.u.write.blk.keygen == 1 && rec.u.write.blk.lsize == 16384);
	uint8_t sum[32];
	cf_block_checksum(CF_CKSUM_SHA256, pl, len, sum);
	CHECK(memcmp(sum, rec.u.write.blk.checksum, 32) == 0);
	while ((len = 0, cf_stream_read(r, &rec, &pl, &len)) == 1 &&
	    rec.type != CF_SREC_END)
		;
	CHECK(rec.type == CF_SREC_END);
	CHECK(rec.u.end.bytes + HDR == b.len);
	CHECK(cf_stream_reader_offset(r) == b.len);
	CHECK_RC(cf_stream_read(r, &rec, &pl, &len), 0);
	CHECK_RC(cf_stream_read(r, &rec, &pl, &len), 0);
	cf_stream_reader_free(r);
	cf_buf_free(&b);
}

static void test_large_and_limits(void)
{
	cf_buf_t b = { 0 };
	cf_stream_reader_opts_t o = { 0 };

	CHECK_OK(sg_large(&b));
	rd_t r = read_stream(b.data, b.len, NULL);
	CHECK_RC(r.rc, 0);
	CHECK(r.alloc >= (2u << 20) && r.alloc <= (4u << 20));
	/* a reader with a smaller limit refuses it before reading it */
	o.max_payload = 1u << 20;
	r = read_stream(b.data, b.len, &o);
	CHECK_RC(r.rc, COFFER_EBADSTREAM);
	CHECK(strstr(r.msg, "over this reader's limit") != NULL);
	CHECK(r.alloc <= 64 * 1024);    /* BEGIN's kv, not the block */
	/* without LARGE_BLOCKS the same block size is refused */
	b.data[40] = 0;         /* incompat byte 0 */
	fix(&b);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM, "block size 2097152");
	cf_buf_free(&b);
}

static void test_fd_io(void)
{
	cf_buf_t b = { 0 };
	char path[512];
	int fd;

	CHECK_OK(sg_plain(&b));
	cf_snprintf(path, sizeof(path), "%s/s", th_tmpdir());
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK_OK(cf_stream_fd_write(&fd, b.data, b.len));
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	cf_stream_reader_t *r;
	CHECK_OK(cf_stream_reader_new(cf_stream_fd_read, &fd, NULL, &r));
	cf_stream_rec_t rec;
	const uint8_t *pl;
	size_t len;
	int n = 0, rc;
	while ((rc = cf_stream_read(r, &rec, &pl, &len)) == 1)
		n++;
	CHECK_RC(rc, 0);
	CHECK(n == 12);
	cf_stream_reader_free(r);
	close(fd);
	cf_buf_free(&b);
}

/* ---- the writer refuses what readers refuse ---------------------------- */

static void test_writer_refuses(void)
{
	cf_buf_t out = { 0 };
	cf_stream_writer_t *w;
	cf_stream_rec_t r = { .type = CF_SREC_OBJECT };
	cf_kv_t *kv = cf_kv_new();

	CHECK_OK(cf_stream_writer_new(cf_stream_buf_write, &out, &w));
	/* not BEGIN first */
	r.u.object.object = 1;
	CHECK_RC(cf_stream_write(w, &r, NULL, 0), -EINVAL);
	CHECK(strstr(coffer_errdetail(), "first record must be BEGIN"));
	CHECK(out.len == 0);
	/* BEGIN without toname */
	memset(&r, 0, sizeof(r));
	r.type = CF_SREC_BEGIN;
	r.u.begin.version = 1;
	r.u.begin.toguid = 9;
	r.u.begin.totxg = 9;
	r.u.begin.dstype = CF_STREAM_DS_VOL;
	CHECK_RC(cf_stream_write_kv(w, &r, kv), -EINVAL);
	CHECK(strstr(coffer_errdetail(), "no 'toname'"));
	CHECK_OK(cf_kv_add_str(kv, CF_KV_ROOT, "toname", "p/v@s"));
	CHECK_OK(cf_stream_write_kv(w, &r, kv));
	CHECK(out.len > HDR && cf_stream_writer_records(w) == 1);
	size_t was = out.len;
	/* WRITE without OBJECT: refused, writer still usable */
	memset(&r, 0, sizeof(r));
	r.type = CF_SREC_WRITE;
	r.u.write.object = 1;
	r.u.write.blk.lsize = r.u.write.blk.psize = 512;
	uint8_t data[512] = { 0 };
	CHECK_RC(cf_stream_write(w, &r, data, 512), -EINVAL);
	CHECK(out.len == was);
	memset(&r, 0, sizeof(r));
	r.type = CF_SREC_OBJECT;
	r.u.object.object = 1;
	r.u.object.type = CF_OT_VOLUME;
	r.u.object.nlevels = 1;
	r.u.object.blksz = 512;
	CHECK_OK(cf_stream_write(w, &r, NULL, 0));
	/* a KEYS in a stream that is not raw */
	memset(&r, 0, sizeof(r));
	r.type = CF_SREC_KEYS;
	CHECK_RC(cf_stream_write(w, &r, data, 1), -EINVAL);
	CHECK(strstr(coffer_errdetail(), "not raw"));
	/* a signing hook in an unsigned stream poisons the writer */
	cf_stream_writer_set_sign(w, sg_sign, NULL);
	memset(&r, 0, sizeof(r));
	r.type = CF_SREC_FREEOBJECTS;
	r.u.freeobjects.first = 2;
	r.u.freeobjects.count = 1;
	CHECK_RC(cf_stream_write(w, &r, NULL, 0), -EINVAL);
	CHECK_RC(cf_stream_write(w, &r, NULL, 0), -EINVAL);
	cf_stream_writer_free(w);
	cf_kv_free(kv);
	cf_buf_free(&out);

	/* END, then nothing */
	CHECK_OK(cf_stream_writer_new(cf_stream_buf_write, &out, &w));
	kv = cf_kv_new();
	CHECK_OK(cf_kv_add_str(kv, CF_KV_ROOT, "toname", "p/v@s"));
	memset(&r, 0, sizeof(r));
	r.type = CF_SREC_BEGIN;
	r.u.begin.version = 1;
	r.u.begin.toguid = 9;
	r.u.begin.totxg = 9;
	r.u.begin.dstype = CF_STREAM_DS_VOL;
	CHECK_OK(cf_stream_write_kv(w, &r, kv));
	memset(&r, 0, sizeof(r));
	r.type = CF_SREC_END;
	CHECK_OK(cf_stream_write(w, &r, NULL, 0));
	CHECK(r.u.end.toguid == 9 && r.u.end.bytes == out.len - HDR);
	CHECK_RC(cf_stream_write(w, &r, NULL, 0), -EINVAL);
	rd_t rr = read_stream(out.data, out.len, NULL);
	CHECK_RC(rr.rc, 0);
	CHECK(rr.nrec == 2);
	cf_stream_writer_free(w);
	cf_kv_free(kv);
	cf_buf_free(&out);
}

/* ---- hostile: damage at every byte ------------------------------------- */

static void test_truncate_everywhere(void)
{
	long tried = 0;

	for (const sg_kind_t *k = sg_kinds; k->name; k++) {
		cf_buf_t b = { 0 };
		char want[64];

		CHECK_OK(k->fn(&b));
		for (size_t len = 0; len < b.len; len++) {
			rd_t r = read_stream(b.data, len, NULL);

			tried++;
			cf_snprintf(want, sizeof(want), "stream truncated at "
			    "byte %zu ", len);
			if (r.rc != COFFER_EBADSTREAM ||
			    strncmp(r.msg, want, strlen(want)) != 0) {
				fprintf(stderr, "  %s len %zu: %d '%s'\n",
				    k->name, len, r.rc, r.msg);
				CHECK(0);
			}
		}
		cf_buf_free(&b);
	}
	printf("  %ld truncated streams refused\n", tried);
}

/*
 * Every single-bit flip must be refused.  Every bit of every byte for the
 * plain stream; one bit per byte (rotating) for the others.  The signed
 * stream is read with the verify hook, which is what judges its slots.
 */
static void test_bitflip_everywhere(void)
{
	long tried = 0;

	for (const sg_kind_t *k = sg_kinds; k->name; k++) {
		cf_buf_t b = { 0 };
		cf_stream_reader_opts_t o = { 0 };
		int all = k->fn == sg_plain;

		CHECK_OK(k->fn(&b));
		if (k->fn == sg_signed)
			o.verify = sg_verify;
		for (size_t i = 0; i < b.len; i++) {
			for (int bit = 0; bit < 8; bit++) {
				if (!all && bit != (int)(i % 8))
					continue;
				b.data[i] ^= (uint8_t)(1u << bit);
				rd_t r = read_stream(b.data, b.len, &o);
				b.data[i] ^= (uint8_t)(1u << bit);
				tried++;
				if (r.rc != COFFER_EBADSTREAM) {
					fprintf(stderr, "  %s byte %zu bit %d:"
					    " %d '%s'\n", k->name, i, bit,
					    r.rc, r.msg);
					CHECK(0);
				}
			}
		}
		cf_buf_free(&b);
	}
	printf("  %ld flipped streams refused\n", tried);
}

/* A flipped payload byte is reported by the next header's checksum,
 * naming the damaged range; no record with that payload is returned. */
static void test_payload_damage_message(void)
{
	cf_buf_t b = { 0 };
	size_t offs[64];

	CHECK_OK(sg_plain(&b));
	int n = record_offsets(b.data, b.len, offs);
	CHECK(n == 12);
	/* record 3 is the first WRITE; damage its payload */
	b.data[offs[3] + HDR + 100] ^= 0x10;
	rd_t r = read_stream(b.data, b.len, NULL);
	CHECK_RC(r.rc, COFFER_EBADSTREAM);
	CHECK(r.nrec == 3);     /* BEGIN, PROPS, OBJECT; not the WRITE */
	char want[128];
	cf_snprintf(want, sizeof(want), "record 4 (WRITE) at byte %zu: "
	    "checksum mismatch (damage in bytes %zu..", offs[4], offs[3] + HDR);
	CHECK(strstr(r.msg, want) != NULL);
	cf_buf_free(&b);
}

/* ---- hostile: records moved -------------------------------------------- */

static void splice_recs(cf_buf_t *out, const uint8_t *p, const size_t *offs,
    int n, size_t total, const int *order, int norder)
{
	out->len = 0;
	for (int i = 0; i < norder; i++) {
		int k = order[i];
		size_t end = k + 1 < n ? offs[k + 1] : total;
		if (cf_buf_append(out, p + offs[k], end - offs[k]))
			abort();
	}
}

static void test_reorder_dup_drop(void)
{
	cf_buf_t b = { 0 }, s = { 0 };
	size_t offs[64];

	CHECK_OK(sg_plain(&b));
	int n = record_offsets(b.data, b.len, offs);
	CHECK(n == 12);
	/* 0 BEGIN 1 PROPS 2 OBJECT(1) 3 WRITE 4 WRITE 5 FREE 6 FREE
	 * 7 OBJECT(2) 8 WRITE 9 FREEOBJECTS 10 OBJECT(40) 11 END */
	static const int swapped[] = { 0, 1, 2, 4, 3, 5, 6, 7, 8, 9, 10, 11 };
	static const int dup[] = { 0, 1, 2, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
	static const int drop_w[] = { 0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11 };
	static const int drop_o[] = { 0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
	static const int drop_end[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	static const int two_begin[] = { 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
	    11 };
	static const int obj_back[] = { 0, 1, 7, 8, 2, 3, 4, 5, 6, 9, 10,
	    11 };
	static const int props_late[] = { 0, 2, 1, 3, 4, 5, 6, 7, 8, 9, 10,
	    11 };
	static const int end_early[] = { 0, 1, 2, 11, 3 };

	/* As they are: the sequence numbers give each one away. */
	char want[160];
	splice_recs(&s, b.data, offs, n, b.len, swapped, 12);
	cf_snprintf(want, sizeof(want), "record 3 (WRITE) at byte %zu: "
	    "sequence number 4, expected 3", offs[3]);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM, want);
	splice_recs(&s, b.data, offs, n, b.len, dup, 13);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM,
	    "sequence number 3, expected 4");
	splice_recs(&s, b.data, offs, n, b.len, drop_w, 11);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM,
	    "sequence number 5, expected 4");
	splice_recs(&s, b.data, offs, n, b.len, drop_end, 11);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM,
	    "stream truncated at byte");
	splice_recs(&s, b.data, offs, n, b.len, end_early, 5);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM,
	    "sequence number 11, expected 3");

	/* Forged: sequence numbers and checksums fixed up, so the
	 * ordering rules must catch them. */
	splice_recs(&s, b.data, offs, n, b.len, swapped, 12);
	fix(&s);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM,
	    "offset 0 before 2048 (offsets in an object must increase)");
	splice_recs(&s, b.data, offs, n, b.len, dup, 13);
	fix(&s);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM, "offset 0 before 1024");
	splice_recs(&s, b.data, offs, n, b.len, drop_o, 11);
	fix(&s);
	cf_snprintf(want, sizeof(want), "record 2 (WRITE) at byte %zu: WRITE "
	    "to object 1 without its OBJECT record", offs[2]);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM, want);
	splice_recs(&s, b.data, offs, n, b.len, two_begin, 13);
	fix(&s);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM, "a second BEGIN");
	splice_recs(&s, b.data, offs, n, b.len, obj_back, 12);
	fix(&s);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM,
	    "object 1 after object 2 (object ids must increase)");
	splice_recs(&s, b.data, offs, n, b.len, props_late, 12);
	fix(&s);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM,
	    "PROPS after KEYS or data records");
	splice_recs(&s, b.data, offs, n, b.len, end_early, 5);
	fix(&s);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM, "data after END");
	/* A dropped WRITE with everything fixed up is a valid, different
	 * stream: only a signature can tell (docs/STREAM.md §5). */
	splice_recs(&s, b.data, offs, n, b.len, drop_w, 11);
	fix(&s);
	rd_t r = read_stream(s.data, s.len, NULL);
	CHECK_RC(r.rc, 0);

	/* Trailing bytes after END */
	CHECK_OK(cf_buf_append(&b, "x", 1));
	cf_snprintf(want, sizeof(want), "data after END at byte %zu",
	    b.len - 1);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM, want);
	cf_buf_free(&b);
	cf_buf_free(&s);
}

/* END's own summary: a wrong final checksum or byte count (with the
 * running checksum fixed by hand, not by fix(), which sets them). */
static void test_end_summary(void)
{
	cf_buf_t b = { 0 };
	cf_fletcher4_ctx_t ctx;
	uint8_t tmp[HDR];

	CHECK_OK(sg_plain(&b));
	size_t e = b.len - HDR;
	for (int which = 0; which < 3; which++) {
		uint8_t *h = b.data + e;
		uint8_t save[HDR];

		memcpy(save, h, HDR);
		if (which == 0)
			h[32] ^= 1;             /* final checksum */
		else if (which == 1)
			h[72] ^= 8;             /* bytes */
		else
			h[64] ^= 1;             /* toguid */
		cf_fletcher4_init(&ctx);
		cf_fletcher4_update(&ctx, b.data, e);
		memcpy(tmp, h, HDR);
		memset(tmp + 276, 0, 204);
		cf_fletcher4_update(&ctx, tmp, 480);
		cf_fletcher4_final(&ctx, h + 480);
		EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM, which == 0 ?
		    "final checksum mismatch" : which == 1 ?
		    "END counts" : "END to-guid");
		memcpy(h, save, HDR);
	}
	cf_buf_free(&b);
}

/* ---- hostile: fields out of range (forged) ----------------------------- */

static void test_fields_out_of_range(void)
{
	cf_buf_t b = { 0 };
	cf_stream_rec_t r;

	/* object id at 2^48 */
	forge_begin(&b, 0);
	forge_object(&b, 1ull << 48, 512, 0);
	forge_end(&b);
	fix(&b);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM,
	    "record 1 (OBJECT) at byte 544: object id 281474976710656 out "
	    "of range");

	/* object 0 */
	b.len = 0;
	forge_begin(&b, 0);
	forge_object(&b, 0, 512, 0);
	fix(&b);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM, "object id 0 out");

	/* maxblkid that does not fit the levels */
	b.len = 0;
	forge_begin(&b, 0);
	forge_object(&b, 1, 512, 204);
	fix(&b);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM, "does not fit 2 levels");

	/* a WRITE past maxblkid */
	b.len = 0;
	forge_begin(&b, 0);
	forge_object(&b, 1, 512, 3);
	forge_write(&b, 1, 4 * 512, 512);
	forge_end(&b);
	fix(&b);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM, "block 4 past maxblkid 3");

	/* a WRITE not at a block boundary / wrong lsize */
	b.len = 0;
	forge_begin(&b, 0);
	forge_object(&b, 1, 1024, 3);
	forge_write(&b, 1, 512, 1024);
	fix(&b);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM,
	    "offset 512 not a multiple of the block size 1024");
	b.len = 0;
	forge_begin(&b, 0);
	forge_object(&b, 1, 1024, 3);
	forge_write(&b, 1, 0, 512);
	fix(&b);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM, "lsize 512, the object");

	/* FREE: offset at 2^63, length past 2^63, length not whole blocks */
	static const struct {
		uint64_t off, len;
		const char *why;
	} frees[] = {
		{ 1ull << 63, 512, "not a block boundary" },
		{ 512, (1ull << 63), "not whole blocks within range" },
		{ 0, 100, "not whole blocks" },
		{ 0, 0, "not whole blocks" },
	};
	for (size_t i = 0; i < CF_ARRAY_SIZE(frees); i++) {
		b.len = 0;
		forge_begin(&b, 0);
		forge_object(&b, 1, 512, 0);
		memset(&r, 0, sizeof(r));
		r.type = CF_SREC_FREE;
		r.u.free.object = 1;
		r.u.free.offset = frees[i].off;
		r.u.free.length = frees[i].len;
		forge(&b, &r, NULL, 0);
		forge_end(&b);
		fix(&b);
		EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM, frees[i].why);
	}

	/* FREEOBJECTS past 2^48 */
	b.len = 0;
	forge_begin(&b, 0);
	memset(&r, 0, sizeof(r));
	r.type = CF_SREC_FREEOBJECTS;
	r.u.freeobjects.first = 5;
	r.u.freeobjects.count = UINT64_MAX - 2;
	forge(&b, &r, NULL, 0);
	fix(&b);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM, "out of range");

	/* a write after a FREE to the end */
	b.len = 0;
	forge_begin(&b, 0);
	forge_object(&b, 1, 512, 5);
	memset(&r, 0, sizeof(r));
	r.type = CF_SREC_FREE;
	r.u.free.object = 1;
	r.u.free.length = CF_STREAM_FREE_TO_END;
	forge(&b, &r, NULL, 0);
	forge_write(&b, 1, 1024, 512);
	fix(&b);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM,
	    "WRITE after a FREE to the end");

	/* an object type that datasets do not hold */
	b.len = 0;
	forge_begin(&b, 0);
	memset(&r, 0, sizeof(r));
	r.type = CF_SREC_OBJECT;
	r.u.object.object = 1;
	r.u.object.type = CF_OT_DSL_DIR;
	r.u.object.nlevels = 1;
	r.u.object.blksz = 512;
	forge(&b, &r, NULL, 0);
	fix(&b);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM, "object type 32");

	/* bonus length and payload disagree */
	b.len = 0;
	forge_begin(&b, 0);
	r.u.object.type = CF_OT_FILE;
	r.u.object.bonuslen = 10;
	forge(&b, &r, "0123456789x", 11);
	fix(&b);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM,
	    "payload of 11 bytes, bonus length 10");

	/* a payload that does not match its block checksum */
	b.len = 0;
	forge_begin(&b, 0);
	forge_object(&b, 1, 512, 0);
	forge_write(&b, 1, 0, 512);
	forge_end(&b);
	fix(&b);
	{
		size_t offs[8];
		record_offsets(b.data, b.len, offs);
		b.data[offs[2] + 59] = CF_CKSUM_SHA256;
		memset(b.data + offs[2] + 112, 0xab, 32);
		indep_fix(b.data, b.len);       /* leaves blk.checksum */
		EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM,
		    "payload does not match its block checksum");
		cf_stream_reader_opts_t o = { .flags = CF_SRD_NO_BLOCK_CKSUM };
		rd_t rr = read_stream(b.data, b.len, &o);
		CHECK_RC(rr.rc, 0);
	}
	cf_buf_free(&b);
}

/* Oversized lengths: refused before anything large is allocated. */
static void test_oversized(void)
{
	cf_buf_t b = { 0 };
	cf_stream_rec_t r;

	/* a WRITE claiming 2^40 bytes */
	forge_begin(&b, 0);
	forge_object(&b, 1, 512, 0);
	memset(&r, 0, sizeof(r));
	r.type = CF_SREC_WRITE;
	r.u.write.object = 1;
	r.u.write.blk.lsize = r.u.write.blk.psize = 512;
	r.u.write.blk.type = 3;
	forge(&b, &r, NULL, 0);
	le64_put(b.data + b.len - HDR + 16, 1ull << 40);
	fix(&b);
	rd_t rr = read_stream(b.data, b.len, NULL);
	CHECK_RC(rr.rc, COFFER_EBADSTREAM);
	CHECK(strstr(rr.msg, "payload of 1099511627776 bytes for a block"));
	CHECK(rr.alloc <= 64 * 1024);

	/* a BEGIN claiming 2 MiB of kv */
	b.len = 0;
	forge_begin(&b, 0);
	le64_put(b.data + 16, 2u << 20);
	fix(&b);
	rr = read_stream(b.data, b.len, NULL);
	CHECK_RC(rr.rc, COFFER_EBADSTREAM);
	CHECK(strstr(rr.msg, "kv payload of 2097152 bytes"));
	CHECK(rr.alloc == 0);

	/* a legal 16 MiB WRITE whose bytes never come: the buffer grows
	 * with what arrives, not with what was claimed */
	b.len = 0;
	forge_begin(&b, CF_SFEAT_LARGE_BLOCKS);
	forge_object(&b, 1, 16u << 20, 0);
	memset(&r, 0, sizeof(r));
	r.type = CF_SREC_WRITE;
	r.u.write.object = 1;
	r.u.write.blk.lsize = r.u.write.blk.psize = 16u << 20;
	r.u.write.blk.type = 3;
	forge(&b, &r, "abcdefgh", 8);
	le64_put(b.data + b.len - HDR - 8 + 16, 16u << 20);
	fix(&b);
	rr = read_stream(b.data, b.len, NULL);
	CHECK_RC(rr.rc, COFFER_EBADSTREAM);
	CHECK(strstr(rr.msg, "stream truncated at byte") != NULL);
	CHECK(strstr(rr.msg, "in the payload of record 2 (WRITE)") != NULL);
	CHECK(rr.alloc <= 128 * 1024);

	/* KEYS lengths that do not add up or are too big */
	b.len = 0;
	forge_begin(&b, CF_SFEAT_RAW);
	memset(&r, 0, sizeof(r));
	r.type = CF_SREC_KEYS;
	r.u.keys.guid = r.u.keys.rootguid = 1;
	r.u.keys.suite = 6;
	r.u.keys.flags = CF_SKEYS_ROOT;
	r.u.keys.keyrec_len = 100;
	r.u.keys.keystore_len = 0x7fffffff;
	forge(&b, &r, NULL, 0);
	fix(&b);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM, "keystore of 2147483647");
	cf_buf_free(&b);
}

static void test_unknown_type_and_features(void)
{
	cf_buf_t b = { 0 };
	cf_stream_rec_t r;

	forge_begin(&b, 0);
	memset(&r, 0, sizeof(r));
	r.type = 77;
	forge(&b, &r, NULL, 0);
	fix(&b);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM,
	    "record 1 (type 77) at byte 544: unknown record type 77");

	b.len = 0;
	forge_begin(&b, 0x100 | 0x8000000000000000ull | CF_SFEAT_RAW);
	fix(&b);
	EXPECT_BAD(b.data, b.len, COFFER_ENOTSUP,
	    "unknown incompatible stream features 0x8000000000000100 "
	    "(bit 8,63)");

	b.len = 0;
	forge_begin(&b, 0);
	le64_put(b.data + 32, 2);       /* version */
	fix(&b);
	EXPECT_BAD(b.data, b.len, COFFER_ENOTSUP, "stream version 2 is not "
	    "supported");

	/* compat bits are ignored */
	b.len = 0;
	forge_begin(&b, 0);
	le64_put(b.data + 48, 0xffff);
	forge_end(&b);
	fix(&b);
	rd_t rr = read_stream(b.data, b.len, NULL);
	CHECK_RC(rr.rc, 0);

	/* a reserved header byte */
	b.len = 0;
	forge_begin(&b, 0);
	forge_end(&b);
	b.data[100] = 1;                /* BEGIN union, unused */
	fix(&b);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM,
	    "header byte 100 is reserved and not zero");
	/* record flags */
	b.data[100] = 0;
	b.data[12] = 4;
	fix(&b);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM, "record flags 0x4");

	/* feature combinations */
	b.len = 0;
	forge_begin(&b, CF_SFEAT_RESUMING | CF_SFEAT_MULTI);
	forge_end(&b);
	fix(&b);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM,
	    "features resuming and multi together");
	b.len = 0;
	forge_begin(&b, CF_SFEAT_SIGNED);
	forge_end(&b);
	fix(&b);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM, "no 'signed'");
	b.len = 0;
	forge_begin(&b, CF_SFEAT_RESUMING);
	forge_end(&b);
	fix(&b);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM, "no 'resume_bytes'");
	/* bad magic */
	b.len = 0;
	forge_begin(&b, 0);
	forge_end(&b);
	fix(&b);
	b.data[b.len - HDR] = 'X';
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM, "record 1 at byte");
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM, "bad magic");
	/* empty input */
	EXPECT_BAD(b.data, 0, COFFER_EBADSTREAM, "stream truncated at byte 0");
	/* not BEGIN first */
	b.len = 0;
	forge_end(&b);
	fix(&b);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM,
	    "record 0 (END) at byte 0: the first record must be BEGIN");
	cf_buf_free(&b);
}

/* The signature slot is outside the checksum, so only the slot rules
 * and the verify hook protect it. */
static void test_signature_slot(void)
{
	cf_buf_t b = { 0 };
	size_t offs[64];

	CHECK_OK(sg_plain(&b));
	record_offsets(b.data, b.len, offs);
	b.data[offs[3] + 300] = 7;      /* sig bytes of the first WRITE */
	char want[128];
	cf_snprintf(want, sizeof(want), "record 3 (WRITE) at byte %zu: header "
	    "byte 300 is reserved", offs[3]);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM, want);
	b.data[offs[3] + 300] = 0;
	le16_put(b.data + offs[3] + 276, CF_SSIG_ED25519);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM,
	    "signature slot in use in an unsigned stream");
	cf_buf_free(&b);

	/* signed: shapes checked here, contents by the hook */
	CHECK_OK(sg_signed(&b));
	rd_t r = read_stream(b.data, b.len, NULL);
	CHECK_RC(r.rc, 0);
	record_offsets(b.data, b.len, offs);
	le16_put(b.data + offs[1] + 278, 65);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM,
	    "signature of 65 bytes for algorithm 1");
	le16_put(b.data + offs[1] + 278, 63);   /* leaves a byte behind */
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM,
	    "header byte 343 is reserved");
	le16_put(b.data + offs[1] + 278, 64);
	le16_put(b.data + offs[1] + 276, 9);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM,
	    "unknown signature algorithm 9");
	le16_put(b.data + offs[1] + 276, 1);
	b.data[offs[1] + 290] ^= 1;
	r = read_stream(b.data, b.len, NULL);
	CHECK_RC(r.rc, 0);      /* no hook: the codec cannot judge */
	cf_stream_reader_opts_t o = { .verify = sg_verify };
	r = read_stream(b.data, b.len, &o);
	CHECK_RC(r.rc, COFFER_EBADSTREAM);
	CHECK(strstr(r.msg, "record 1 (OBJECT) at byte") &&
	    strstr(r.msg, "bad signature"));
	cf_buf_free(&b);
}

/* Raw, multi and resume rules. */
static void test_segment_rules(void)
{
	cf_buf_t b = { 0 }, s = { 0 };
	size_t offs[64];
	int n;

	/* raw: 0 BEGIN 1 PROPS 2 KEYS 3 RANGE(0) 4 OBJ1 5 W 6 OBJ2 7 W
	 * 8 FREEOBJECTS 9 RANGE(32) 10 OBJ33 11 END */
	CHECK_OK(sg_raw(&b));
	n = record_offsets(b.data, b.len, offs);
	CHECK(n == 12);
	static const int no_keys[] = { 0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
	static const int no_range[] = { 0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11 };
	static const int keys_late[] = { 0, 1, 3, 2, 4 };
	static const int range_back[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 3 };
	static const int obj_out[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 10 };
	splice_recs(&s, b.data, offs, n, b.len, no_keys, 11);
	fix(&s);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM,
	    "OBJECT_RANGE outside a raw encrypted dataset");
	splice_recs(&s, b.data, offs, n, b.len, no_range, 11);
	fix(&s);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM,
	    "object 1 outside the last OBJECT_RANGE");
	splice_recs(&s, b.data, offs, n, b.len, keys_late, 5);
	fix(&s);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM,
	    "OBJECT_RANGE outside a raw");
	splice_recs(&s, b.data, offs, n, b.len, range_back, 11);
	fix(&s);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM, "range from 0 after");
	splice_recs(&s, b.data, offs, n, b.len, obj_out, 10);
	fix(&s);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM,
	    "object 33 outside the last OBJECT_RANGE");
	/* an unencrypted block in an encrypted dataset */
	memcpy(s.data, b.data, b.len);
	s.len = b.len;
	s.data[offs[5] + 60] = 0;
	fix(&s);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM, "block flags 0x0, "
	    "expected 0x1");
	/* the raw feature taken away */
	memcpy(s.data, b.data, b.len);
	s.data[40] = 0;
	fix(&s);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM, "KEYS in a stream that "
	    "is not raw");
	cf_buf_free(&b);

	/* multi: 0 BEGIN 1 SNAP 2 PROPS 3 OBJ 4 W 5 SNAP 6 OBJ 7 FREE 8 END */
	CHECK_OK(sg_multi(&b));
	n = record_offsets(b.data, b.len, offs);
	CHECK(n == 9);
	static const int no_snap[] = { 0, 2, 3, 4, 5, 6, 7, 8 };
	static const int only_begin[] = { 0, 8 };
	splice_recs(&s, b.data, offs, n, b.len, no_snap, 8);
	fix(&s);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM,
	    "PROPS before the first SNAPSHOT");
	splice_recs(&s, b.data, offs, n, b.len, only_begin, 2);
	fix(&s);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM,
	    "multi-snapshot stream without a SNAPSHOT");
	memcpy(s.data, b.data, b.len);
	s.len = b.len;
	s.data[40] = 0;         /* no MULTI */
	fix(&s);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM,
	    "'intermediate' without the multi feature");
	cf_buf_free(&b);

	/* resume: 0 BEGIN(obj 5, off 8192) 1 OBJ5 2 W@8192 3 OBJ6 4 END */
	CHECK_OK(sg_resume(&b));
	n = record_offsets(b.data, b.len, offs);
	CHECK(n == 5);
	memcpy(s.data, b.data, b.len);
	s.len = b.len;
	le64_put(s.data + offs[2] + 40, 4096);  /* before the resume point */
	fix(&s);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM, "offset 4096 before 8192");
	memcpy(s.data, b.data, b.len);
	le64_put(s.data + offs[1] + 32, 4);     /* object before it */
	fix(&s);
	EXPECT_BAD(s.data, s.len, COFFER_EBADSTREAM, "object 4 after");
	cf_buf_free(&b);
	cf_buf_free(&s);
}

/* BEGIN kv checks, through whole streams. */
static void test_begin_kv(void)
{
	static const struct {
		const char *key;
		int type;       /* 1 u64, 2 str */
		const char *s;
		uint64_t v;
		uint64_t feat;
		const char *why;
	} cases[] = {
		{ "fromname", 2, "x@y", 0, 0, "'fromname' in a full stream" },
		{ "toname", 1, NULL, 5, 0, "'toname' is not a string" },
		{ "resume_object", 1, NULL, 5, 0,
		    "'resume_object' without the resuming feature" },
		{ "sign_mode", 2, "record", 0, 0,
		    "'sign_mode' without the signed feature" },
		{ "recursive", 1, NULL, 1, 0,
		    "'recursive' without the multi feature" },
	};

	for (size_t i = 0; i < CF_ARRAY_SIZE(cases); i++) {
		cf_buf_t b = { 0 }, p = { 0 };
		cf_kv_t *kv = cf_kv_new();
		cf_stream_rec_t r = { .type = CF_SREC_BEGIN };

		r.u.begin.version = 1;
		r.u.begin.incompat = cases[i].feat;
		r.u.begin.toguid = 2;
		r.u.begin.totxg = 3;
		r.u.begin.dstype = CF_STREAM_DS_FS;
		if (strcmp(cases[i].key, "toname") != 0)
			CHECK_OK(cf_kv_add_str(kv, CF_KV_ROOT, "toname",
			    "a@b"));
		if (cases[i].type == 1)
			CHECK_OK(cf_kv_add_u64(kv, CF_KV_ROOT, cases[i].key,
			    cases[i].v));
		else
			CHECK_OK(cf_kv_add_str(kv, CF_KV_ROOT, cases[i].key,
			    cases[i].s));
		CHECK_OK(cf_kv_encode(kv, &p));
		forge(&b, &r, p.data, p.len);
		forge_end(&b);
		fix(&b);
		EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM, cases[i].why);
		cf_kv_free(kv);
		cf_buf_free(&p);
		cf_buf_free(&b);
	}
	/* a kv error names its byte in the stream */
	cf_buf_t b = { 0 };
	kvb_t k;
	uint8_t v8[8] = { 0 };
	cf_stream_rec_t r = { .type = CF_SREC_BEGIN };
	memset(&k, 0, sizeof(k));
	kb_list(&k, 2);
	kb_ent(&k, CF_KV_STR, "toname", 3, "a@b");
	kb_ent(&k, CF_KV_U64, "toname", 8, v8);
	r.u.begin.version = 1;
	r.u.begin.toguid = 2;
	r.u.begin.totxg = 3;
	r.u.begin.dstype = CF_STREAM_DS_FS;
	forge(&b, &r, k.b, k.n);
	forge_end(&b);
	fix(&b);
	/* second entry's key at payload byte 8 + 8 + 6 + 3 + 8 = 33 */
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM,
	    "record 0 (BEGIN) at byte 545: kv: duplicate key");
	cf_buf_free(&b);
}

/* Non-zero padding after a payload. */
static void test_padding(void)
{
	cf_buf_t b = { 0 };
	size_t offs[64];

	CHECK_OK(sg_plain(&b));
	record_offsets(b.data, b.len, offs);
	/* record 10 is OBJECT 40 with a 13-byte bonus: 3 bytes of pad */
	CHECK(le64_get(b.data + offs[10] + 16) == 13);
	b.data[offs[10] + HDR + 14] = 1;
	fix(&b);
	char want[80];
	cf_snprintf(want, sizeof(want), "at byte %zu: padding after the "
	    "payload not zero", offs[10] + HDR + 13);
	EXPECT_BAD(b.data, b.len, COFFER_EBADSTREAM, want);
	cf_buf_free(&b);
}

/* The fix-up helper undoes nothing it should not: a valid stream is
 * unchanged by it. */
static void test_fixup_identity(void)
{
	for (const sg_kind_t *k = sg_kinds; k->name; k++) {
		cf_buf_t b = { 0 };
		uint8_t *copy;

		CHECK_OK(k->fn(&b));
		copy = malloc(b.len);
		CHECK(copy != NULL);
		memcpy(copy, b.data, b.len);
		CHECK(cf_stream_fixup(b.data, b.len) > 3);
		CHECK(memcmp(copy, b.data, b.len) == 0);
		indep_fix(b.data, b.len);
		CHECK(memcmp(copy, b.data, b.len) == 0);
		free(copy);
		cf_buf_free(&b);
	}
}

void test_main(void)
{
	RUN(test_kv_roundtrip);
	RUN(test_kv_builder_limits);
	RUN(test_kv_hostile);
	RUN(test_roundtrip_all);
	RUN(test_roundtrip_fields);
	RUN(test_large_and_limits);
	RUN(test_fd_io);
	RUN(test_writer_refuses);
	RUN(test_fixup_identity);
	RUN(test_truncate_everywhere);
	RUN(test_bitflip_everywhere);
	RUN(test_payload_damage_message);
	RUN(test_reorder_dup_drop);
	RUN(test_end_summary);
	RUN(test_fields_out_of_range);
	RUN(test_oversized);
	RUN(test_unknown_type_and_features);
	RUN(test_signature_slot);
	RUN(test_segment_rules);
	RUN(test_begin_kv);
	RUN(test_padding);
}
