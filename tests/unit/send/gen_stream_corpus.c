/*
 * gen_stream_corpus: write the seed corpus of the stream fuzz target.
 *
 *   gen_stream_corpus DIR      (normally tests/fuzz/corpus/stream)
 *
 * fuzz_stream's first byte picks the mode (see tests/fuzz/fuzz_stream.c).
 * Seeds: every kind of valid stream from streamgen in mode 0 (as is, and
 * read 7 bytes at a time) and mode 1 (fixed up); in mode 1 the same
 * streams damaged in ways that only the deeper rules catch (records
 * swapped, duplicated or dropped, fields out of range, unknown type and
 * features, a bad kv); truncated and bit-flipped streams in mode 0;
 * valid and hostile kv payloads in mode 2; and mode 3 copies.  Streams
 * signed with the real test key (streamgen's sg_test_key) in both modes,
 * valid and damaged (a payload byte, a dropped record, emptied slots),
 * for the verifying reader that fuzz_stream runs on signed streams.  The
 * output depends on nothing but this program (Ed25519 signatures are
 * deterministic).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "streamgen.h"

static const char *outdir;
static int nfiles;

static void put(const char *name, uint8_t mode, const uint8_t *b,
    size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	f = fopen(path, "wbe");
	if (f == NULL || fputc(mode, f) == EOF ||
	    (len && fwrite(b, 1, len, f) != len) || fclose(f) != 0) {
		fprintf(stderr, "gen_stream_corpus: cannot write '%s'\n", path);
		exit(1);
	}
	nfiles++;
}

static void gen(sg_fn fn, cf_buf_t *b)
{
	b->len = 0;
	if (fn(b) != 0) {
		fprintf(stderr, "gen_stream_corpus: generator failed\n");
		exit(1);
	}
}

static int offsets(const cf_buf_t *b, size_t *offs)
{
	size_t off = 0;
	int k = 0;

	while (off + CF_STREAM_HDR_SIZE <= b->len && k < 64) {
		offs[k++] = off;
		off += CF_STREAM_HDR_SIZE +
		    ((le64_get(b->data + off + 16) + 7) & ~7ull);
	}
	return k;
}

/* The stream with records in `order` (indexes), fixed up later. */
static void reorder(const cf_buf_t *b, const int *order, int n,
    cf_buf_t *out)
{
	size_t offs[64];
	int k = offsets(b, offs);

	out->len = 0;
	for (int i = 0; i < n; i++) {
		int r = order[i];
		size_t end = r + 1 < k ? offs[r + 1] : b->len;
		if (cf_buf_append(out, b->data + offs[r], end - offs[r]))
			exit(1);
	}
}

int main(int argc, char **argv)
{
	cf_buf_t b = { 0 }, m = { 0 };
	char name[128];
	size_t offs[64];

	if (argc != 2) {
		fprintf(stderr, "usage: gen_stream_corpus DIR\n");
		return 2;
	}
	outdir = argv[1];

	for (const sg_kind_t *k = sg_kinds; k->name; k++) {
		gen(k->fn, &b);
		snprintf(name, sizeof(name), "m0-%s", k->name);
		put(name, 0, b.data, b.len);
		snprintf(name, sizeof(name), "m0-%s-chunk7", k->name);
		put(name, 0 | (7 << 2), b.data, b.len);
		snprintf(name, sizeof(name), "m1-%s", k->name);
		put(name, 1, b.data, b.len);
		snprintf(name, sizeof(name), "m3-%s", k->name);
		put(name, 3, b.data, b.len);
		/* truncated in the middle, a flipped payload bit */
		snprintf(name, sizeof(name), "m0-%s-trunc", k->name);
		put(name, 0, b.data, b.len / 2);
		if (cf_buf_append(&m, b.data, b.len))
			return 1;
		m.len = 0;
		if (cf_buf_append(&m, b.data, b.len))
			return 1;
		m.data[CF_STREAM_HDR_SIZE + 9] ^= 4;
		snprintf(name, sizeof(name), "m0-%s-flip", k->name);
		put(name, 0, m.data, m.len);
	}

	/* plain: 0 BEGIN 1 PROPS 2 OBJ1 3 W 4 W 5 FREE 6 FREE 7 OBJ2 8 W
	 * 9 FREEOBJECTS 10 OBJ40 11 END */
	gen(sg_plain, &b);
	static const struct {
		const char *name;
		int order[14];
		int n;
	} moves[] = {
		{ "m1-swap-writes", { 0, 1, 2, 4, 3, 5, 6, 7, 8, 9, 10, 11 },
		    12 },
		{ "m1-dup-write", { 0, 1, 2, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11 },
		    13 },
		{ "m1-drop-object", { 0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11 }, 11 },
		{ "m1-objects-back", { 0, 1, 7, 8, 2, 3, 4, 5, 6, 9, 10, 11 },
		    12 },
		{ "m1-two-begins", { 0, 0, 1, 2, 11 }, 5 },
		{ "m1-end-early", { 0, 1, 2, 11, 3 }, 5 },
		{ "m1-props-late", { 0, 2, 1, 3, 11 }, 5 },
		{ "m1-write-after-free-end", { 0, 1, 2, 3, 6, 4, 11 }, 7 },
		{ "m1-freeobjects-back", { 0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 9,
		    11 }, 12 },
	};
	for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++) {
		reorder(&b, moves[i].order, moves[i].n, &m);
		put(moves[i].name, 1, m.data, m.len);
	}
	/* fields out of range, each in a copy of plain */
	offsets(&b, offs);
	static const struct {
		const char *name;
		int rec, at, width;
		uint64_t v;
	} pokes[] = {
		{ "m1-object-2p48", 2, 32, 8, 1ull << 48 },
		{ "m1-maxblkid-big", 2, 48, 8, 1000 },
		{ "m1-blksz-odd", 2, 44, 4, 4000 },
		{ "m1-write-past", 3, 40, 8, 1ull << 40 },
		{ "m1-write-huge-plen", 3, 16, 8, 1ull << 40 },
		{ "m1-free-len-odd", 5, 48, 8, 100 },
		{ "m1-unknown-type", 9, 8, 4, 77 },
		{ "m1-unknown-feature", 0, 40, 8, 1ull << 20 },
		{ "m1-version-2", 0, 32, 8, 2 },
		{ "m1-sig-unsigned", 4, 276, 2, 1 },
		{ "m1-reserved-byte", 7, 200, 1, 1 },
		{ "m1-bonus-mismatch", 10, 42, 2, 12 },
		{ "m1-kv-order", 1, 512 + 38, 1, 'a' },  /* recordsize */
	};
	for (size_t i = 0; i < sizeof(pokes) / sizeof(pokes[0]); i++) {
		uint8_t *p;

		m.len = 0;
		if (cf_buf_append(&m, b.data, b.len))
			return 1;
		p = m.data + offs[pokes[i].rec] + pokes[i].at;
		if (pokes[i].width == 8)
			le64_put(p, pokes[i].v);
		else if (pokes[i].width == 4)
			le32_put(p, (uint32_t)pokes[i].v);
		else if (pokes[i].width == 2)
			le16_put(p, (uint16_t)pokes[i].v);
		else
			p[0] = (uint8_t)pokes[i].v;
		put(pokes[i].name, 1, m.data, m.len);
	}
	put("m0-empty", 0, NULL, 0);
	put("m0-one-header", 0, b.data, CF_STREAM_HDR_SIZE);
	m.len = 0;
	if (cf_buf_append(&m, b.data, b.len) || cf_buf_append(&m, "x", 1))
		return 1;
	put("m0-after-end", 0, m.data, m.len);

	/* raw: 0 BEGIN 1 PROPS 2 KEYS 3 RANGE 4 OBJ1 5 W 6 OBJ2 7 W 8 FO
	 * 9 RANGE 10 OBJ33 11 END */
	gen(sg_raw, &b);
	static const int no_keys[] = { 0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
	static const int no_range[] = { 0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11 };
	reorder(&b, no_keys, 11, &m);
	put("m1-raw-no-keys", 1, m.data, m.len);
	reorder(&b, no_range, 11, &m);
	put("m1-raw-no-range", 1, m.data, m.len);
	static const int keys_late[] = { 0, 1, 8, 2, 3, 4, 5, 11 };
	reorder(&b, keys_late, 8, &m);
	put("m1-raw-keys-late", 1, m.data, m.len);

	/* resume: BEGIN's kv has resume_bytes, resume_object (its value at
	 * payload byte 57), resume_offset, toname */
	gen(sg_resume, &b);
	m.len = 0;
	if (cf_buf_append(&m, b.data, b.len))
		return 1;
	le64_put(m.data + CF_STREAM_HDR_SIZE + 57, 0);
	put("m1-resume-object-0", 1, m.data, m.len);

	/* real signatures (the test key): valid streams in both modes, and
	 * damaged ones that the fixup lets through to the signatures */
	{
		cf_signkey_t *key = sg_test_key();
		static const struct { const char *name; int mode; } sk[] = {
			{ "signed-chain", CF_SSIGN_CHAIN },
			{ "signed-record", CF_SSIGN_RECORD },
		};
		if (!key)
			return 1;
		for (size_t i = 0; i < 2; i++) {
			b.len = 0;
			if (sg_signed_real(&b, key, sk[i].mode, 4, 0, 0, 1, 3))
				return 1;
			snprintf(name, sizeof(name), "m1-%s", sk[i].name);
			put(name, 1, b.data, b.len);
			snprintf(name, sizeof(name), "m1-%s-k", sk[i].name);
			put(name, 1 | (1 << 2), b.data, b.len);
			snprintf(name, sizeof(name), "m3-%s", sk[i].name);
			put(name, 3, b.data, b.len);
			/* 0 BEGIN 1 OBJ 2 W 3 W 4 W 5 FREE 6 OBJ ... */
			offsets(&b, offs);
			m.len = 0;
			if (cf_buf_append(&m, b.data, b.len))
				return 1;
			m.data[offs[3] + CF_STREAM_HDR_SIZE + 5] ^= 1;
			snprintf(name, sizeof(name), "m1-%s-payload", sk[i].name);
			put(name, 1, m.data, m.len);
			m.len = 0;
			if (cf_buf_append(&m, b.data, offs[5]) ||
			    cf_buf_append(&m, b.data + offs[6],
			    b.len - offs[6]))
				return 1;
			snprintf(name, sizeof(name), "m1-%s-drop", sk[i].name);
			put(name, 1, m.data, m.len);
			m.len = 0;
			if (cf_buf_append(&m, b.data, b.len))
				return 1;
			memset(m.data + offs[4] + 276, 0, 204);
			memset(m.data + 276, 0, 204);
			snprintf(name, sizeof(name), "m1-%s-noslots", sk[i].name);
			put(name, 1, m.data, m.len);
		}
		/* a stream with more records than a small hold allows */
		b.len = 0;
		if (sg_signed_real(&b, key, CF_SSIGN_CHAIN, 64, 0, 0, 2, 4))
			return 1;
		put("m3-signed-chain-long", 3, b.data, b.len);
		cf_signkey_free(key);
	}

	/* kv payloads (mode 2) */
	{
		cf_kv_t *kv = cf_kv_new();
		int l, l2, l3;

		if (kv == NULL ||
		    cf_kv_add_str(kv, CF_KV_ROOT, "toname", "tank/fs@x") ||
		    cf_kv_add_u64(kv, CF_KV_ROOT, "n", 42) ||
		    cf_kv_add_bytes(kv, CF_KV_ROOT, "b", "\0\1\2\3", 4) ||
		    (l = cf_kv_add_list(kv, CF_KV_ROOT, "l")) < 0 ||
		    (l2 = cf_kv_add_list(kv, l, "l")) < 0 ||
		    (l3 = cf_kv_add_list(kv, l2, "l")) < 0 ||
		    cf_kv_add_u64(kv, l3, "deep", 4))
			return 1;
		m.len = 0;
		if (cf_kv_encode(kv, &m))
			return 1;
		put("m2-kv-nested", 2, m.data, m.len);
		m.data[8 + 8] = 'z';            /* "b" -> "z": out of order */
		put("m2-kv-order", 2, m.data, m.len);
		m.data[8 + 8] = 'b';            /* back to valid, then: */
		le32_put(m.data, 1000);         /* a count past its bytes */
		put("m2-kv-count", 2, m.data, m.len);
		cf_kv_free(kv);

		/* lists nested 5 deep, built from the inside out */
		uint8_t in[256], o[256];
		size_t n = 8;
		memset(in, 0, 8);
		for (int d = 0; d < 4; d++) {
			le32_put(o, 1);
			le32_put(o + 4, 0);
			o[8] = CF_KV_LIST;
			o[9] = 1;
			o[10] = o[11] = 0;
			le32_put(o + 12, (uint32_t)n);
			o[16] = 'n';
			memcpy(o + 17, in, n);
			n += 17;
			memcpy(in, o, n);
		}
		put("m2-kv-deep5", 2, in, n);

		/* 1024 entries: the most a kv may have */
		kv = cf_kv_new();
		for (int i = 0; kv && i < CF_KV_MAX_ENTRIES; i++) {
			char key[16];
			snprintf(key, sizeof(key), "k%04d", i);
			if (cf_kv_add_u64(kv, CF_KV_ROOT, key, (uint64_t)i))
				return 1;
		}
		m.len = 0;
		if (kv == NULL || cf_kv_encode(kv, &m))
			return 1;
		put("m2-kv-1024", 2, m.data, m.len);
		cf_kv_free(kv);
	}
	fprintf(stderr, "gen_stream_corpus: %d files\n", nfiles);
	cf_buf_free(&b);
	cf_buf_free(&m);
	return 0;
}
