/*
 * dsl crypt: the key hierarchy of DESIGN.md §4.
 *
 *   user key (passphrase / hex / raw)
 *     -> slot wrapping key W   (Argon2id or PBKDF2-SHA512 with the slot's
 *                               salt and parameters; hex/raw used directly)
 *     -> root key K_R          (random, 32 bytes; one per encryption root,
 *                               wrapped once per key slot, up to 8 slots)
 *     -> dataset keys          (per dataset and key generation: a 32-byte
 *                               master key and a 32-byte HMAC key, wrapped
 *                               with HKDF(K_R, "coffer key wrap"))
 *     -> per-block keys        (HKDF(master, block salt): block layer)
 *
 * Every wrap is AES-256-GCM whose AAD covers every parameter stored next
 * to it (slot: format, KDF and its parameters and salt, root guid; key
 * record: suite, crypt guid, generation), so a tampered parameter is an
 * authentication failure, never a silently weaker KDF.
 *
 * The ledger.  An encryption root's keystore also holds, for each dataset
 * under it, the MAC (and its txg) of its latest object set root, MACed
 * with HKDF(K_R, "coffer ledger").  Opening a dataset checks its root
 * against the ledger, so a dataset rolled back to an older (validly
 * MACed) root, or given another dataset's root, is refused even though
 * every keyless checksum up to the uberblock was fixed up.
 *
 * On-disk records (little-endian; drawn again in docs/FORMAT.md):
 *
 * keystore (CF_OT_KEYSTORE object data):
 *    0   8  magic "CFKSTOR1"          8  4  version (1)
 *   12   4  slots in use              16 8  root crypt guid
 *   24   8  ledger txg                32 32 ledger MAC (HMAC-SHA256)
 *   64   8  ledger entries (n)
 *   72  KS_MAX_SLOTS x 160: slots
 *        0 1 in use   1 1 keyformat (1 passphrase, 2 hex, 3 raw)
 *        2 1 kdf (0 none, 1 argon2id, 2 pbkdf2)   3 1 zero
 *        4 4 argon2 t / pbkdf2 iterations   8 4 argon2 memory KiB
 *       12 4 argon2 lanes   16 8 created (s)   24 32 salt
 *       56 12 iv   68 16 tag   84 32 wrapped root key
 *      116 16 key check value: HMAC-SHA256(W, "coffer key check" ||
 *             root guid), first 16 bytes: tells a wrong key (no match)
 *             from a tampered slot (match, but the unwrap fails)
 *      132 28 zero
 *   1352 n x 48: ledger entries: crypt guid, root MAC txg, root MAC
 *
 * key record (CF_OT_KEYREC object data):
 *    0   8  magic "CFKEYRC1"          8  4  version (1)
 *   12   4  suite                     16 8  crypt guid
 *   24   8  keystore obj (roots; 0 otherwise)
 *   32   4  current generation        36 4  generations (1..4)
 *   40  gens x 100: gen(4) zero(4) iv(12) tag(16) wrapped master+hmac(64)
 *
 * Invariants
 *  1. Keys are only in secure memory; every temporary is wiped.
 *  2. Slow KDF work happens in open context, never in the sync thread.
 *  3. Blocks of keystores and key records are wiped when freed (spa).
 */
#include "dsl/dsl_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "crypto/crypto.h"

#define KS_MAGIC "CFKSTOR1"
#define KR_MAGIC "CFKEYRC1"
#define KF_PASSPHRASE 1
#define KF_HEX 2
#define KF_RAW 3
#define KDF_NONE 0
#define KDF_ARGON2ID 1
#define KDF_PBKDF2 2
#define PBKDF2_MIN_ITERS 350000u


typedef struct keystore {
	int nslots;
	uint64_t guid;
	uint64_t ledger_txg;
	uint8_t ledger_mac[32];
	slot_t slots[KS_MAX_SLOTS];
	ledger_ent_t *ent;
	size_t nent;
} keystore_t;

typedef struct keyrec {
	int suite;
	uint64_t guid;
	uint64_t keystore;
	uint32_t curgen;
	int ngens;
	struct {
		uint32_t gen;
		uint8_t iv[12], tag[16], wrapped[64];
	} g[CF_MAX_KEYGENS];
} keyrec_t;

/* ---- codecs ------------------------------------------------------------------ */

static void slot_encode(const slot_t *s, uint8_t *o)
{
	memset(o, 0, KS_SLOT_SIZE);
	if (!s->inuse)
		return;
	o[0] = 1;
	o[1] = (uint8_t)s->format;
	o[2] = (uint8_t)s->kdf;
	le32_put(o + 4, s->t);
	le32_put(o + 8, s->m);
	le32_put(o + 12, s->p);
	le64_put(o + 16, s->created);
	memcpy(o + 24, s->salt, 32);
	memcpy(o + 56, s->iv, 12);
	memcpy(o + 68, s->tag, 16);
	memcpy(o + 84, s->wrapped, 32);
	memcpy(o + 116, s->kcv, 16);
}

static int slot_decode(const uint8_t *i, slot_t *s)
{
	memset(s, 0, sizeof(*s));
	if (i[0] == 0) {
		for (int k = 0; k < KS_SLOT_SIZE; k++)
			if (i[k])
				return CF_CORRUPT();
		return 0;
	}
	s->inuse = 1;
	s->format = i[1];
	s->kdf = i[2];
	s->t = le32_get(i + 4);
	s->m = le32_get(i + 8);
	s->p = le32_get(i + 12);
	s->created = le64_get(i + 16);
	memcpy(s->salt, i + 24, 32);
	memcpy(s->iv, i + 56, 12);
	memcpy(s->tag, i + 68, 16);
	memcpy(s->wrapped, i + 84, 32);
	memcpy(s->kcv, i + 116, 16);
	for (int k = 132; k < KS_SLOT_SIZE; k++)
		if (i[k])
			return CF_CORRUPT();
	if (i[0] != 1 || s->format < KF_PASSPHRASE || s->format > KF_RAW ||
	    s->kdf > KDF_PBKDF2 || i[3])
		return CF_CORRUPT();
	/* bound the work a hostile slot can ask for */
	if (s->kdf == KDF_ARGON2ID && (s->t < 1 || s->t > 64 || s->m < 8 ||
	    s->m > (4u << 20) || s->p < 1 || s->p > 64))
		return CF_CORRUPT();
	if (s->kdf == KDF_PBKDF2 && (s->t < 1000 || s->t > 100000000u))
		return CF_CORRUPT();
	if ((s->format == KF_PASSPHRASE) != (s->kdf != KDF_NONE))
		return CF_CORRUPT();
	return 0;
}

static size_t ks_size(size_t nent)
{
	return KS_HDR_SIZE + KS_MAX_SLOTS * KS_SLOT_SIZE + nent * KS_ENTRY_SIZE;
}

static uint8_t *ks_encode(const keystore_t *k, size_t *len)
{
	*len = ks_size(k->nent);
	uint8_t *o = calloc(1, *len);
	if (!o)
		return NULL;
	memcpy(o, KS_MAGIC, 8);
	le32_put(o + 8, 1);
	le32_put(o + 12, (uint32_t)k->nslots);
	le64_put(o + 16, k->guid);
	le64_put(o + 24, k->ledger_txg);
	memcpy(o + 32, k->ledger_mac, 32);
	le64_put(o + 64, k->nent);
	for (int i = 0; i < KS_MAX_SLOTS; i++)
		slot_encode(&k->slots[i], o + KS_HDR_SIZE + i * KS_SLOT_SIZE);
	uint8_t *e = o + KS_HDR_SIZE + KS_MAX_SLOTS * KS_SLOT_SIZE;
	for (size_t i = 0; i < k->nent; i++, e += KS_ENTRY_SIZE) {
		le64_put(e, k->ent[i].guid);
		le64_put(e + 8, k->ent[i].txg);
		memcpy(e + 16, k->ent[i].cksum, 32);
	}
	return o;
}

static void ks_free(keystore_t *k)
{
	free(k->ent);
	k->ent = NULL;
	k->nent = 0;
}

static int ks_decode(const uint8_t *i, size_t len, keystore_t *k)
{
	memset(k, 0, sizeof(*k));
	if (len < ks_size(0) || memcmp(i, KS_MAGIC, 8) != 0 ||
	    le32_get(i + 8) != 1)
		return CF_CORRUPT();
	k->nslots = (int)le32_get(i + 12);
	k->guid = le64_get(i + 16);
	k->ledger_txg = le64_get(i + 24);
	memcpy(k->ledger_mac, i + 32, 32);
	uint64_t n = le64_get(i + 64);
	if (n > (len - ks_size(0)) / KS_ENTRY_SIZE || ks_size(n) != len)
		return CF_CORRUPT();
	int used = 0;
	for (int s = 0; s < KS_MAX_SLOTS; s++) {
		int err = slot_decode(i + KS_HDR_SIZE + s * KS_SLOT_SIZE,
		    &k->slots[s]);
		if (err)
			return err;
		used += k->slots[s].inuse;
	}
	if (used != k->nslots || used == 0)
		return CF_CORRUPT();
	k->ent = calloc(n ? n : 1, sizeof(*k->ent));
	if (!k->ent)
		return -ENOMEM;
	k->nent = n;
	const uint8_t *e = i + KS_HDR_SIZE + KS_MAX_SLOTS * KS_SLOT_SIZE;
	for (size_t j = 0; j < n; j++, e += KS_ENTRY_SIZE) {
		k->ent[j].guid = le64_get(e);
		k->ent[j].txg = le64_get(e + 8);
		memcpy(k->ent[j].cksum, e + 16, 32);
	}
	return 0;
}

static size_t kr_size(int ngens)
{
	return KR_HDR_SIZE + (size_t)ngens * KR_GEN_SIZE;
}

static void kr_encode(const keyrec_t *r, uint8_t *o)
{
	memset(o, 0, kr_size(r->ngens));
	memcpy(o, KR_MAGIC, 8);
	le32_put(o + 8, 1);
	le32_put(o + 12, (uint32_t)r->suite);
	le64_put(o + 16, r->guid);
	le64_put(o + 24, r->keystore);
	le32_put(o + 32, r->curgen);
	le32_put(o + 36, (uint32_t)r->ngens);
	for (int g = 0; g < r->ngens; g++) {
		uint8_t *p = o + KR_HDR_SIZE + g * KR_GEN_SIZE;
		le32_put(p, r->g[g].gen);
		memcpy(p + 8, r->g[g].iv, 12);
		memcpy(p + 20, r->g[g].tag, 16);
		memcpy(p + 36, r->g[g].wrapped, 64);
	}
}

static int kr_decode(const uint8_t *i, size_t len, keyrec_t *r)
{
	memset(r, 0, sizeof(*r));
	if (len < KR_HDR_SIZE || memcmp(i, KR_MAGIC, 8) != 0 ||
	    le32_get(i + 8) != 1)
		return CF_CORRUPT();
	r->suite = (int)le32_get(i + 12);
	r->guid = le64_get(i + 16);
	r->keystore = le64_get(i + 24);
	r->curgen = le32_get(i + 32);
	r->ngens = (int)le32_get(i + 36);
	if (r->ngens < 1 || r->ngens > CF_MAX_KEYGENS ||
	    len != kr_size(r->ngens) || cf_suite_keylen(r->suite) <= 0)
		return CF_CORRUPT();
	int cur = 0;
	for (int g = 0; g < r->ngens; g++) {
		const uint8_t *p = i + KR_HDR_SIZE + g * KR_GEN_SIZE;
		r->g[g].gen = le32_get(p);
		memcpy(r->g[g].iv, p + 8, 12);
		memcpy(r->g[g].tag, p + 20, 16);
		memcpy(r->g[g].wrapped, p + 36, 64);
		cur |= r->g[g].gen == r->curgen;
	}
	return cur ? 0 : CF_CORRUPT();
}

/* ---- MOS access --------------------------------------------------------------- */

static int obj_load(dsl_pool_t *dp, uint64_t obj, uint8_t **buf, size_t *len,
    size_t max)
{
	cf_objinfo_t info;
	uint8_t b[8];
	int err = cf_obj_info(dp->mos, obj, &info);
	if (err)
		return err == -ENOENT ? CF_CORRUPT() : err;
	int n = cf_bonus_read(dp->mos, obj, b, sizeof(b));
	if (n != 8)
		return CF_CORRUPT();
	uint64_t sz = le64_get(b);
	if (sz == 0 || sz > max)
		return CF_CORRUPT();
	*buf = malloc(sz);
	if (!*buf)
		return -ENOMEM;
	err = cf_obj_read(dp->mos, obj, 0, sz, *buf);
	if (err) {
		free(*buf);
		return err;
	}
	*len = sz;
	return 0;
}

/* Replace an object's contents (sync context). */
static int obj_store(dsl_pool_t *dp, cf_tx_t *tx, uint64_t obj,
    const uint8_t *buf, size_t len)
{
	uint8_t b[8];
	int err = cf_obj_free_range(dp->mos, tx, obj, 0, UINT64_MAX);
	if (!err)
		err = cf_obj_write(dp->mos, tx, obj, 0, len, buf);
	le64_put(b, len);
	if (!err)
		err = cf_bonus_write(dp->mos, tx, obj, b, 8);
	return err;
}

static int ks_load(dsl_pool_t *dp, uint64_t obj, keystore_t *k)
{
	uint8_t *b;
	size_t n;
	int err = obj_load(dp, obj, &b, &n, ks_size(1u << 20));
	if (err)
		return err;
	err = ks_decode(b, n, k);
	free(b);
	return err;
}

static int ks_store(dsl_pool_t *dp, cf_tx_t *tx, uint64_t obj,
    const keystore_t *k)
{
	size_t n;
	uint8_t *b = ks_encode(k, &n);
	if (!b)
		return -ENOMEM;
	int err = obj_store(dp, tx, obj, b, n);
	cf_wipe(b, n);
	free(b);
	return err;
}

static int kr_load(dsl_pool_t *dp, uint64_t obj, keyrec_t *r)
{
	uint8_t *b;
	size_t n;
	int err = obj_load(dp, obj, &b, &n, kr_size(CF_MAX_KEYGENS));
	if (err)
		return err;
	err = kr_decode(b, n, r);
	free(b);
	return err;
}

static int kr_store(dsl_pool_t *dp, cf_tx_t *tx, uint64_t obj,
    const keyrec_t *r)
{
	uint8_t b[KR_HDR_SIZE + CF_MAX_KEYGENS * KR_GEN_SIZE];
	kr_encode(r, b);
	int err = obj_store(dp, tx, obj, b, kr_size(r->ngens));
	cf_wipe(b, sizeof(b));
	return err;
}

/* ---- key derivation and wrapping ------------------------------------------------- */

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Check a user key against its format; say why not. */
static int key_check(int format, const coffer_key_t *key)
{
	if (!key || !key->data) {
		cf_set_errdetail("a key is needed");
		return -EINVAL;
	}
	switch (format) {
	case KF_PASSPHRASE:
		if (key->len < 8 || key->len > 512) {
			cf_set_errdetail("passphrase must be 8 to 512 bytes "
			    "(got %zu)", key->len);
			return -EINVAL;
		}
		return 0;
	case KF_HEX:
		if (key->len != 64) {
			cf_set_errdetail("hex key must be exactly 64 hex "
			    "digits (got %zu characters)", key->len);
			return -EINVAL;
		}
		for (size_t i = 0; i < 64; i++)
			if (hexval(key->data[i]) < 0) {
				cf_set_errdetail("hex key has a character that "
				    "is not a hex digit");
				return -EINVAL;
			}
		return 0;
	case KF_RAW:
		if (key->len != 32) {
			cf_set_errdetail("raw key must be exactly 32 bytes "
			    "(got %zu)", key->len);
			return -EINVAL;
		}
		return 0;
	}
	return -EINVAL;
}

/* The slot wrapping key W from the user key (slow for passphrases). */
static int slot_wkey(const slot_t *s, const coffer_key_t *key, uint8_t w[32])
{
	int err = key_check(s->format, key);
	if (err)
		return err;
	switch (s->format) {
	case KF_HEX:
		for (int i = 0; i < 32; i++)
			w[i] = (uint8_t)(hexval(key->data[2 * i]) << 4 |
			    hexval(key->data[2 * i + 1]));
		return 0;
	case KF_RAW:
		memcpy(w, key->data, 32);
		return 0;
	}
	if (s->kdf == KDF_PBKDF2)
		return cf_pbkdf2_sha512(key->data, key->len, s->salt, 32, s->t,
		    w, 32);
	return cf_argon2id(key->data, key->len, s->salt, 32, s->t, s->m, s->p,
	    w, 32);
}

static size_t slot_aad(const slot_t *s, uint64_t guid, uint8_t *aad)
{
	uint8_t enc[KS_SLOT_SIZE];
	slot_encode(s, enc);
	memcpy(aad, "CFSLOT1", 7);
	le64_put(aad + 7, guid);
	memcpy(aad + 15, enc, 56);      /* every parameter, salt included */
	return 15 + 56;
}

static int slot_kcv(const uint8_t w[32], uint64_t guid, uint8_t out[16])
{
	uint8_t msg[24], mac[32];
	memcpy(msg, "coffer key check", 16);
	le64_put(msg + 16, guid);
	int err = cf_hmac(CF_MD_SHA256, w, 32, msg, sizeof(msg), mac);
	memcpy(out, mac, 16);
	cf_wipe(mac, sizeof(mac));
	return err;
}

static int slot_wrap(slot_t *s, uint64_t guid, const uint8_t w[32],
    const uint8_t *kr)
{
	uint8_t aad[80];
	int err = slot_kcv(w, guid, s->kcv);
	if (!err)
		err = cf_random(s->iv, sizeof(s->iv));
	if (err)
		return err;
	size_t alen = slot_aad(s, guid, aad);
	return cf_aead_encrypt(CF_SUITE_AES_256_GCM, w, s->iv, aad, alen, kr,
	    32, s->wrapped, s->tag);
}

static int slot_unwrap(const slot_t *s, uint64_t guid, const uint8_t w[32],
    uint8_t *kr)
{
	uint8_t aad[80];
	size_t alen = slot_aad(s, guid, aad);
	return cf_aead_decrypt(CF_SUITE_AES_256_GCM, w, s->iv, aad, alen,
	    s->wrapped, 32, kr, s->tag);
}

static int subkey(const uint8_t *kr, const char *label, uint8_t out[32])
{
	return cf_hkdf(CF_MD_SHA256, kr, 32, NULL, 0, (const uint8_t *)label,
	    strlen(label), out, 32);
}

static size_t gen_aad(const keyrec_t *r, uint32_t gen, uint8_t *aad)
{
	memcpy(aad, "CFKEYWRAP1", 10);
	le32_put(aad + 10, (uint32_t)r->suite);
	le64_put(aad + 14, r->guid);
	le32_put(aad + 22, gen);
	return 26;
}

int dsl_crypt_wrap_keys(const uint8_t *kr, int suite, uint64_t guid,
    uint32_t gen, const uint8_t iv[12], const uint8_t *keys64,
    uint8_t wrapped[64], uint8_t tag[16])
{
	uint8_t wk[32], aad[32];
	keyrec_t r;
	r.suite = suite;
	r.guid = guid;
	int err = subkey(kr, "coffer key wrap", wk);
	size_t alen = gen_aad(&r, gen, aad);
	if (!err)
		err = cf_aead_encrypt(CF_SUITE_AES_256_GCM, wk, iv, aad, alen,
		    keys64, 64, wrapped, tag);
	cf_wipe(wk, sizeof(wk));
	return err;
}

/* Wrap master||hmac (64 bytes) for generation slot g of r under kr. */
static int gen_wrap(keyrec_t *r, int g, const uint8_t *kr,
    const uint8_t *keys64)
{
	int err = cf_random(r->g[g].iv, 12);
	if (!err)
		err = dsl_crypt_wrap_keys(kr, r->suite, r->guid, r->g[g].gen,
		    r->g[g].iv, keys64, r->g[g].wrapped, r->g[g].tag);
	return err;
}

static int gen_unwrap(const keyrec_t *r, int g, const uint8_t *kr,
    uint8_t *keys64)
{
	uint8_t wk[32], aad[32];
	int err = subkey(kr, "coffer key wrap", wk);
	size_t alen = gen_aad(r, r->g[g].gen, aad);
	if (!err)
		err = cf_aead_decrypt(CF_SUITE_AES_256_GCM, wk, r->g[g].iv, aad,
		    alen, r->g[g].wrapped, 64, keys64, r->g[g].tag);
	cf_wipe(wk, sizeof(wk));
	return err;
}

/* ---- the ledger ------------------------------------------------------------------ */

static int ledger_mac(const uint8_t *kr, uint64_t guid, uint64_t txg,
    const ledger_ent_t *e, size_t n, uint8_t out[32])
{
	uint8_t lk[32], hdr[32];
	int err = subkey(kr, "coffer ledger", lk);
	if (err)
		return err;
	cf_hmac_ctx_t *c = cf_hmac_new(CF_MD_SHA256, lk, 32);
	cf_wipe(lk, sizeof(lk));
	if (!c)
		return -ENOMEM;
	memcpy(hdr, "CFLEDG1", 7);
	le64_put(hdr + 7, guid);
	le64_put(hdr + 15, txg);
	le64_put(hdr + 23, n);
	cf_hmac_update(c, hdr, 31);
	for (size_t i = 0; i < n; i++) {
		uint8_t b[KS_ENTRY_SIZE];
		le64_put(b, e[i].guid);
		le64_put(b + 8, e[i].txg);
		memcpy(b + 16, e[i].cksum, 32);
		cf_hmac_update(c, b, sizeof(b));
	}
	return cf_hmac_final(c, out);
}

/* ---- loaded roots ---------------------------------------------------------------- */

static dsl_keyroot_t *kroot_find(dsl_pool_t *dp, uint64_t dirobj)
{
	for (dsl_keyroot_t *k = dp->keyroots; k; k = k->next)
		if (k->dirobj == dirobj)
			return k;
	return NULL;
}

static void kroot_free(dsl_keyroot_t *k)
{
	if (!k)
		return;
	cf_secure_free(k->kr, 32);
	free(k->ledger);
	free(k);
}

void dsl_crypt_fini(dsl_pool_t *dp)
{
	while (dp->keyroots) {
		dsl_keyroot_t *k = dp->keyroots;
		dp->keyroots = k->next;
		kroot_free(k);
	}
}

/*
 * The kernel keyring entry of a root: named by the pool's guid and the
 * root's dir object, which no other root of the pool shares (a root's
 * guid would not do: raw-received roots keep their sender's).
 */
static void keyring_desc(dsl_pool_t *dp, uint64_t rootdir, char *buf,
    size_t n)
{
	snprintf(buf, n, "coffer:%llu:d%llu",
	    (unsigned long long)cf_spa_guid(dp->spa),
	    (unsigned long long)rootdir);
}

/*
 * Make a keyroot from K_R and the root's keystore: verify the ledger MAC
 * (an authentication failure here means the keystore was tampered with).
 */
static int kroot_make(dsl_pool_t *dp, uint64_t dirobj, const keystore_t *ks,
    const uint8_t *kr, dsl_keyroot_t **out)
{
	uint8_t mac[32];
	int err = ledger_mac(kr, ks->guid, ks->ledger_txg, ks->ent, ks->nent,
	    mac);
	if (err)
		return err;
	/* ledger txg 0: written by a raw receive, which had no key to seal
	 * it; trusted as it is and sealed by the next sync (FORMAT.md 15.4) */
	int unsealed = ks->ledger_txg == 0;
	if (!unsealed && !cf_ct_equal(mac, ks->ledger_mac, 32)) {
		cf_set_errdetail("the key ledger fails authentication");
		return COFFER_EAUTH;
	}
	dsl_keyroot_t *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->kr = cf_secure_alloc(32);
	k->ledger = calloc(ks->nent + 1, sizeof(*k->ledger));
	if (!k->kr || !k->ledger) {
		kroot_free(k);
		return -ENOMEM;
	}
	memcpy(k->kr, kr, 32);
	memcpy(k->ledger, ks->ent, ks->nent * sizeof(*k->ledger));
	k->nledger = ks->nent;
	k->capledger = ks->nent + 1;
	k->dirobj = dirobj;
	k->guid = ks->guid;
	k->ledger_dirty = unsealed;
	*out = k;
	return 0;
}

/* The keystore of an encryption root dir.  Read lock held. */
static int root_keystore(dsl_pool_t *dp, uint64_t rootdir, uint64_t *ksobj)
{
	dirrec_t r;
	keyrec_t kr;
	int err = dir_read(dp, rootdir, &r);
	if (!err && !r.keyrec)
		err = CF_CORRUPT();
	if (!err)
		err = kr_load(dp, r.keyrec, &kr);
	if (!err && !kr.keystore)
		err = CF_CORRUPT();
	if (!err)
		*ksobj = kr.keystore;
	return err;
}

/* Try the kernel keyring for a root not loaded here.  Read lock held. */
static dsl_keyroot_t *kroot_from_keyring(dsl_pool_t *dp, uint64_t rootdir)
{
	uint64_t ksobj;
	keystore_t ks;
	if (root_keystore(dp, rootdir, &ksobj) || ks_load(dp, ksobj, &ks))
		return NULL;
	char desc[96], next[104];
	keyring_desc(dp, rootdir, desc, sizeof(desc));
	snprintf(next, sizeof(next), "%s:next", desc);
	uint8_t *kr = cf_secure_alloc(32);
	dsl_keyroot_t *k = NULL;
	/* the key that verifies: the entry, or the one a change-key left
	 * under ":next" if it died between its txg and the keyring update */
	const char *const cand[] = { desc, next };
	for (int i = 0; i < 2 && kr && !k; i++)
		if (cf_keyring_load(cand[i], kr, 32) == 0 &&
		    kroot_make(dp, rootdir, &ks, kr, &k) != 0)
			k = NULL;
	cf_secure_free(kr, 32);
	ks_free(&ks);
	if (k) {
		pthread_mutex_lock(&dp->key_lock);
		dsl_keyroot_t *other = kroot_find(dp, rootdir);
		if (other) {
			kroot_free(k);
			k = other;
		} else {
			k->next = dp->keyroots;
			dp->keyroots = k;
		}
		pthread_mutex_unlock(&dp->key_lock);
	}
	return k;
}

static dsl_keyroot_t *kroot_get(dsl_pool_t *dp, uint64_t rootdir)
{
	pthread_mutex_lock(&dp->key_lock);
	dsl_keyroot_t *k = kroot_find(dp, rootdir);
	pthread_mutex_unlock(&dp->key_lock);
	return k ? k : kroot_from_keyring(dp, rootdir);
}

int dsl_keystatus(dsl_pool_t *dp, const dirrec_t *r)
{
	if (!r->keyrec)
		return 0;
	return kroot_get(dp, r->encroot) ? 1 : 2;
}

/* ---- cryptsets ---------------------------------------------------------------- */

void dsl_crypt_cryptset_free(cf_cryptset_t *cs)
{
	if (!cs)
		return;
	for (int i = 0; i < cs->nkeys; i++)
		cf_blkkey_free(cs->keys[i]);
	cf_secure_free(cs->hmac, 32);
	free(cs);
}

static int cryptset_from(const keyrec_t *rec, const uint8_t *kr,
    cf_cryptset_t **out)
{
	cf_cryptset_t *cs = calloc(1, sizeof(*cs));
	uint8_t *keys = cf_secure_alloc(64);
	int err = (cs && keys) ? 0 : -ENOMEM;
	if (!err) {
		cs->hmac = cf_secure_alloc(32);
		if (!cs->hmac)
			err = -ENOMEM;
	}
	if (!err) {
		cs->suite = rec->suite;
		cs->curgen = rec->curgen;
		cs->guid = rec->guid;
	}
	for (int g = 0; g < rec->ngens && !err; g++) {
		err = gen_unwrap(rec, g, kr, keys);
		if (!err)
			err = cf_blkkey_new(rec->suite, keys, rec->g[g].gen,
			    &cs->keys[cs->nkeys]);
		if (!err) {
			cs->gens[cs->nkeys++] = rec->g[g].gen;
			if (rec->g[g].gen == rec->curgen)
				memcpy(cs->hmac, keys + 32, 32);
		}
	}
	cf_secure_free(keys, 64);
	if (err) {
		if (err == COFFER_EAUTH)
			cf_set_errdetail("the dataset's key record fails "
			    "authentication");
		dsl_crypt_cryptset_free(cs);
		return err;
	}
	*out = cs;
	return 0;
}

int dsl_crypt_cryptset(dsl_pool_t *dp, uint64_t dirobj, const dirrec_t *r,
    cf_cryptset_t **out)
{
	(void)dirobj;
	dsl_keyroot_t *k = kroot_get(dp, r->encroot);
	if (!k)
		return COFFER_ENOKEY;
	keyrec_t rec;
	int err = kr_load(dp, r->keyrec, &rec);
	if (!err)
		err = cryptset_from(&rec, k->kr, out);
	cf_wipe(&rec, sizeof(rec));
	return err;
}

int dsl_crypt_ledger_check(dsl_pool_t *dp, const dirrec_t *r,
    cf_objset_t *os, const char *name)
{
	uint8_t mac[32];
	uint64_t mtxg;
	cf_os_mac(os, mac, &mtxg);
	dsl_keyroot_t *k = kroot_get(dp, r->encroot);
	keyrec_t rec;
	if (!k)
		return COFFER_ENOKEY;
	int err = kr_load(dp, r->keyrec, &rec);
	if (err)
		return err;
	pthread_mutex_lock(&dp->key_lock);
	err = COFFER_EAUTH;
	for (size_t i = 0; i < k->nledger; i++) {
		ledger_ent_t *e = &k->ledger[i];
		if (e->guid != rec.guid)
			continue;
		if (e->txg == mtxg && cf_ct_equal(e->cksum, mac, 32))
			err = 0;
		break;
	}
	pthread_mutex_unlock(&dp->key_lock);
	if (err)
		cf_set_errdetail("'%s' is not the state its key ledger "
		    "records (rolled back or replaced)", name);
	return err;
}

/* ---- sync ------------------------------------------------------------------------ */

static int ledger_put(dsl_keyroot_t *k, uint64_t guid, uint64_t txg,
    const uint8_t *cksum)
{
	for (size_t i = 0; i < k->nledger; i++)
		if (k->ledger[i].guid == guid) {
			k->ledger[i].txg = txg;
			memcpy(k->ledger[i].cksum, cksum, 32);
			k->ledger_dirty = 1;
			return 0;
		}
	if (k->nledger == k->capledger) {
		size_t nc = k->capledger * 2 + 4;
		ledger_ent_t *nv = realloc(k->ledger, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		k->ledger = nv;
		k->capledger = nc;
	}
	k->ledger[k->nledger].guid = guid;
	k->ledger[k->nledger].txg = txg;
	memcpy(k->ledger[k->nledger].cksum, cksum, 32);
	k->nledger++;
	k->ledger_dirty = 1;
	return 0;
}

static void ledger_drop(dsl_keyroot_t *k, uint64_t guid)
{
	for (size_t i = 0; i < k->nledger; i++)
		if (k->ledger[i].guid == guid) {
			k->ledger[i] = k->ledger[--k->nledger];
			k->ledger_dirty = 1;
			return;
		}
}

/* Write a root's keystore with its current ledger (sync context). */
static int ledger_write(dsl_pool_t *dp, dsl_keyroot_t *k, uint64_t txg)
{
	uint64_t ksobj;
	keystore_t ks;
	int err = root_keystore(dp, k->dirobj, &ksobj);
	if (!err)
		err = ks_load(dp, ksobj, &ks);
	if (err)
		return err;
	free(ks.ent);
	ks.ent = k->ledger;
	ks.nent = k->nledger;
	ks.ledger_txg = txg;
	err = ledger_mac(k->kr, ks.guid, txg, ks.ent, ks.nent, ks.ledger_mac);
	cf_tx_t tx;
	cf_tx_sync_init(&tx, dp->mos, txg);
	if (!err)
		err = ks_store(dp, &tx, ksobj, &ks);
	if (!err)
		k->ledger_dirty = 0;
	return err;
}

int dsl_crypt_sync(dsl_pool_t *dp, uint64_t txg)
{
	int err = 0;
	pthread_mutex_lock(&dp->ds_lock);
	for (dsl_dataset_t *d = dp->open; d && !err; d = d->next) {
		if (d->snapshot || d->gone || !d->cs ||
		    (d->dir.flags & DIRF_SHAREDKEYS))
			continue;       /* a receive's clone: no entry of its own */
		pthread_mutex_lock(&d->acct);
		cf_blkptr_t root = d->ds.root;
		pthread_mutex_unlock(&d->acct);
		if (root.birth != txg || d->ledger_txg == txg)
			continue;
		uint8_t mac[32];
		uint64_t mtxg;
		cf_os_mac(d->os, mac, &mtxg);
		pthread_mutex_lock(&dp->key_lock);
		dsl_keyroot_t *k = kroot_find(dp, d->dir.encroot);
		if (k)
			err = ledger_put(k, d->cs->guid, mtxg, mac);
		pthread_mutex_unlock(&dp->key_lock);
		if (!k)
			err = COFFER_ENOKEY;    /* writes need the key */
		d->ledger_txg = txg;
	}
	pthread_mutex_unlock(&dp->ds_lock);
	pthread_mutex_lock(&dp->key_lock);
	for (dsl_keyroot_t *k = dp->keyroots; k && !err; k = k->next)
		if (k->ledger_dirty)
			err = ledger_write(dp, k, txg);
	pthread_mutex_unlock(&dp->key_lock);
	return err;
}

typedef struct kid_objs {
	uint64_t *v;
	size_t n, cap;
} kid_objs_t;

static int kid_obj_cb(const char *key, const void *val, size_t vlen,
    uint64_t next, void *arg)
{
	kid_objs_t *k = arg;
	(void)key;
	(void)next;
	if (vlen != 8)
		return CF_CORRUPT();
	if (cf_grow(&k->v, &k->cap, k->n, sizeof(*k->v), 16) != 0)
		return -ENOMEM;
	k->v[k->n++] = le64_get(val);
	return 0;
}

/* ---- creating encrypted datasets ------------------------------------------------- */



static const char *prop_of(const char *const *props, const char *name)
{
	size_t n = strlen(name);
	const char *v = NULL;
	for (int i = 0; props && props[i]; i++)
		if (strncmp(props[i], name, n) == 0 && props[i][n] == '=')
			v = props[i] + n + 1;
	return v;
}

static int fmt_code(const char *s)
{
	if (!strcmp(s, "passphrase"))
		return KF_PASSPHRASE;
	if (!strcmp(s, "hex"))
		return KF_HEX;
	if (!strcmp(s, "raw"))
		return KF_RAW;
	return 0;
}

/* A new slot for `key` with fresh salt and parameters (slow). */
static int slot_new(const char *const *props, const coffer_key_t *key,
    slot_t *s, uint8_t w[32])
{
	memset(s, 0, sizeof(*s));
	const char *kf = prop_of(props, "keyformat");
	const char *pb = prop_of(props, "pbkdf");
	const char *it = prop_of(props, "pbkdf2iters");
	s->inuse = 1;
	s->format = kf ? fmt_code(kf) : KF_PASSPHRASE;
	if (!s->format) {
		cf_set_errdetail("keyformat must be passphrase, hex or raw");
		return COFFER_EBADPROP;
	}
	s->created = (uint64_t)time(NULL);
	int err = cf_random(s->salt, sizeof(s->salt));
	if (err)
		return err;
	if (s->format == KF_PASSPHRASE) {
		if (pb && !strcmp(pb, "pbkdf2")) {
			s->kdf = KDF_PBKDF2;
			s->t = PBKDF2_MIN_ITERS;
			if (it) {
				char *end;
				unsigned long long v = strtoull(it, &end, 10);
				if (*end || v < PBKDF2_MIN_ITERS ||
				    v > 100000000ull) {
					cf_set_errdetail("pbkdf2iters must be "
					    "from %u to 100000000",
					    PBKDF2_MIN_ITERS);
					return COFFER_EBADPROP;
				}
				s->t = (uint32_t)v;
			}
		} else if (!pb || !strcmp(pb, "argon2id")) {
			s->kdf = KDF_ARGON2ID;
			/* about a second, memory capped (DESIGN §4) */
			err = cf_argon2id_calibrate(1000, 1u << 20, &s->t,
			    &s->m, &s->p);
			if (err)
				return err;
		} else {
			cf_set_errdetail("pbkdf must be argon2id or pbkdf2");
			return COFFER_EBADPROP;
		}
	}
	return slot_wkey(s, key, w);
}

static int suite_of(const char *v, int *suite)
{
	if (!v || !strcmp(v, "off")) {
		*suite = CF_SUITE_NONE;
		return 0;
	}
	int s = cf_suite_from_name(v);
	if (s < 0) {
		cf_set_errdetail("unknown encryption suite '%s'", v);
		return COFFER_EBADPROP;
	}
	*suite = s;
	return 0;
}

void dsl_crypt_plan_free(crypt_plan_t *p)
{
	if (!p)
		return;
	cf_secure_free(p->kr, 32);
	cf_wipe(p, sizeof(*p));
	free(p);
}

int dsl_crypt_prepare(dsl_pool_t *dp, uint64_t pdir,
    const char *const *props, const coffer_key_t *key, crypt_plan_t **out)
{
	const char *enc = prop_of(props, "encryption");
	const char *kf = prop_of(props, "keyformat");
	int suite, err = suite_of(enc, &suite);
	if (err)
		return err;
	dirrec_t pr;
	pthread_rwlock_rdlock(&dp->lock);
	err = pdir ? dir_read(dp, pdir, &pr) : 0;
	keyrec_t prec;
	memset(&prec, 0, sizeof(prec));
	if (!err && pdir && pr.keyrec)
		err = kr_load(dp, pr.keyrec, &prec);
	pthread_rwlock_unlock(&dp->lock);
	if (err)
		return err;
	int parent_enc = pdir && pr.keyrec;
	*out = NULL;
	if (!parent_enc && !kf && suite == CF_SUITE_NONE)
		return 0;               /* a plain dataset */
	crypt_plan_t *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->encrypted = 1;
	if (enc && suite == CF_SUITE_NONE) {
		if (parent_enc)
			cf_set_errdetail("an encrypted dataset cannot have an "
			    "unencrypted child");
		else
			cf_set_errdetail("keyformat needs encryption");
		dsl_crypt_plan_free(p);
		return COFFER_EBADPROP;
	}
	if (!enc)
		suite = parent_enc ? prec.suite : CF_SUITE_AES_256_GCM;
	p->suite = suite;
	if (!kf) {
		if (!parent_enc) {
			cf_set_errdetail("keyformat must be specified for a "
			    "new encryption root");
			dsl_crypt_plan_free(p);
			return COFFER_EBADPROP;
		}
		/* a child: shares the parent's root, needs it loaded */
		p->encroot = pr.encroot;
		if (!kroot_get(dp, pr.encroot)) {
			cf_set_errdetail("the parent's encryption key is not "
			    "loaded");
			dsl_crypt_plan_free(p);
			return COFFER_ENOKEY;
		}
		*out = p;
		return 0;
	}
	/* a new encryption root: the slow part happens here */
	p->root = 1;
	uint8_t *w = cf_secure_alloc(32);
	p->kr = cf_secure_alloc(32);
	err = (w && p->kr) ? 0 : -ENOMEM;
	if (!err)
		err = slot_new(props, key, &p->slot, w);
	if (!err)
		err = cf_random(p->kr, 32);
	/* the slot is wrapped once the root's guid is known (sync) */
	if (!err) {
		memcpy(p->slot.wrapped, w, 32); /* held until then */
	}
	cf_secure_free(w, 32);
	if (err) {
		dsl_crypt_plan_free(p);
		return err;
	}
	*out = p;
	return 0;
}

int dsl_crypt_plan_encrypted(const crypt_plan_t *p)
{
	return p && p->encrypted;
}

/* Sync context: the key record (and keystore) of a new dataset. */
int dsl_crypt_create_sync(dsl_pool_t *dp, cf_tx_t *tx, crypt_plan_t *p,
    uint64_t dirobj, dirrec_t *r, cf_cryptset_t **cs)
{
	keyrec_t rec;
	memset(&rec, 0, sizeof(rec));
	rec.suite = p->suite;
	rec.guid = cf_random_guid();
	rec.curgen = 0;
	rec.ngens = 1;
	rec.g[0].gen = 0;
	const uint8_t *kr;
	dsl_keyroot_t *k = NULL;
	int err = 0;
	if (p->root) {
		kr = p->kr;
	} else {
		pthread_mutex_lock(&dp->key_lock);
		k = kroot_find(dp, p->encroot);
		pthread_mutex_unlock(&dp->key_lock);
		if (!k)
			return COFFER_ENOKEY;
		kr = k->kr;
	}
	uint8_t *keys = cf_secure_alloc(64);
	if (!keys)
		return -ENOMEM;
	err = cf_random(keys, 64);
	if (!err)
		err = gen_wrap(&rec, 0, kr, keys);
	cf_secure_free(keys, 64);
	uint64_t krobj = 0, ksobj = 0;
	if (!err && p->root) {
		/* the slot wraps K_R under W (kept in slot.wrapped so far) */
		keystore_t ks;
		memset(&ks, 0, sizeof(ks));
		uint8_t w[32];
		memcpy(w, p->slot.wrapped, 32);
		ks.guid = rec.guid;
		ks.nslots = 1;
		ks.slots[0] = p->slot;
		err = slot_wrap(&ks.slots[0], ks.guid, w, kr);
		cf_wipe(w, sizeof(w));
		ks.ledger_txg = tx->txg;
		if (!err)
			err = ledger_mac(kr, ks.guid, tx->txg, NULL, 0,
			    ks.ledger_mac);
		if (!err)
			err = cf_obj_alloc(dp->mos, tx, CF_OT_KEYSTORE, 4096,
			    &ksobj);
		if (!err)
			err = ks_store(dp, tx, ksobj, &ks);
		cf_wipe(&ks, sizeof(ks));
		rec.keystore = ksobj;
	}
	if (!err)
		err = cf_obj_alloc(dp->mos, tx, CF_OT_KEYREC, 512, &krobj);
	if (!err)
		err = kr_store(dp, tx, krobj, &rec);
	if (!err)
		err = cryptset_from(&rec, kr, cs);
	if (!err && p->root) {
		dsl_keyroot_t *nk = calloc(1, sizeof(*nk));
		if (nk)
			nk->kr = cf_secure_alloc(32);
		if (!nk || !nk->kr) {
			kroot_free(nk);
			dsl_crypt_cryptset_free(*cs);
			err = -ENOMEM;
		} else {
			memcpy(nk->kr, kr, 32);
			nk->dirobj = dirobj;
			nk->guid = rec.guid;
			pthread_mutex_lock(&dp->key_lock);
			nk->next = dp->keyroots;
			dp->keyroots = nk;
			pthread_mutex_unlock(&dp->key_lock);
			/* a new root's key stays loaded, as after load-key */
			char desc[96];
			keyring_desc(dp, dirobj, desc, sizeof(desc));
			if (cf_keyring_store(desc, kr, 32) != 0)
				cf_log(COFFER_LOG_WARN, "cannot keep the new key "
				    "in the kernel keyring");
		}
	}
	if (!err) {
		r->keyrec = krobj;
		r->encroot = p->root ? dirobj : p->encroot;
	}
	cf_wipe(&rec, sizeof(rec));
	return err;
}

int dsl_crypt_ledger_set(dsl_pool_t *dp, const dirrec_t *r,
    const cf_blkptr_t *root)
{
	keyrec_t rec;
	uint8_t mac[32];
	uint64_t mtxg;
	int err = kr_load(dp, r->keyrec, &rec);
	if (!err)
		err = cf_os_root_mac(dp->spa, root, mac, &mtxg);
	if (err)
		return err;
	pthread_mutex_lock(&dp->key_lock);
	dsl_keyroot_t *k = kroot_find(dp, r->encroot);
	if (k)
		err = ledger_put(k, rec.guid, mtxg, mac);
	pthread_mutex_unlock(&dp->key_lock);
	if (!k) {
		cf_set_errdetail("the key must be loaded (the rollback "
		    "updates the dataset's authenticated ledger)");
		return COFFER_ENOKEY;
	}
	return err;
}

/* Destroying an encrypted head (sync context): its key record, its
 * keystore if it is a root, its ledger entry (when the key is loaded). */
int dsl_crypt_destroy_sync(dsl_pool_t *dp, cf_tx_t *tx, const dirrec_t *r)
{
	keyrec_t rec;
	int err = kr_load(dp, r->keyrec, &rec);
	if (err)
		return err;
	pthread_mutex_lock(&dp->key_lock);
	dsl_keyroot_t *k = kroot_find(dp, r->encroot);
	if (k)
		ledger_drop(k, rec.guid);
	if (rec.keystore) {
		/* the root goes: forget its key */
		dsl_keyroot_t **pp = &dp->keyroots;
		while (*pp && *pp != k)
			pp = &(*pp)->next;
		if (k && *pp) {
			*pp = k->next;
			kroot_free(k);
		}
	}
	pthread_mutex_unlock(&dp->key_lock);
	if (rec.keystore) {
		char desc[96];
		keyring_desc(dp, r->encroot, desc, sizeof(desc));
		cf_keyring_remove(desc);
		err = cf_obj_free(dp->mos, tx, rec.keystore);
	}
	if (!err)
		err = cf_obj_free(dp->mos, tx, r->keyrec);
	return err;
}

/* ---- load and unload -------------------------------------------------------------- */

/* Find the encryption root dir of dataset `name`.  Read lock held. */
static int find_root(dsl_pool_t *dp, const char *name, uint64_t *rootdir)
{
	uint64_t dirobj;
	dirrec_t r;
	int err = dsl_dir_lookup(dp, name, &dirobj);
	if (!err)
		err = dir_read(dp, dirobj, &r);
	if (err)
		return err;
	if (!r.keyrec) {
		cf_set_errdetail("'%s' is not encrypted", name);
		return -EINVAL;
	}
	*rootdir = r.encroot;
	return 0;
}

/* Unlock a keystore with a user key: try every slot. */
static int ks_unlock(const keystore_t *ks, const coffer_key_t *key,
    uint8_t *kr, int *slotno)
{
	int err = COFFER_EWRONGKEY, tried = 0, fmt_err = 0;
	uint8_t *w = cf_secure_alloc(32);
	if (!w)
		return -ENOMEM;
	for (int i = 0; i < KS_MAX_SLOTS; i++) {
		const slot_t *s = &ks->slots[i];
		if (!s->inuse)
			continue;
		if (key_check(s->format, key) != 0) {
			fmt_err = 1;
			continue;
		}
		tried++;
		cf_clear_errdetail();
		int r = slot_wkey(s, key, w);
		uint8_t kcv[16];
		if (r == 0)
			r = slot_kcv(w, ks->guid, kcv);
		if (r == 0 && !cf_ct_equal(kcv, s->kcv, 16))
			r = COFFER_EAUTH;       /* not this slot's key */
		else if (r == 0) {
			r = slot_unwrap(s, ks->guid, w, kr);
			if (r == COFFER_EAUTH) {
				/* the right key, but the slot was altered */
				cf_set_errdetail("key slot %d fails "
				    "authentication (tampered with)", i);
				err = COFFER_EAUTH;
				break;
			}
		}
		if (r == 0) {
			err = 0;
			if (slotno)
				*slotno = i;
			break;
		}
		if (r != COFFER_EAUTH) {
			err = r;
			break;
		}
	}
	cf_secure_free(w, 32);
	if (err == COFFER_EWRONGKEY && !tried && fmt_err)
		cf_set_errdetail("the key does not have the format of any key "
		    "slot");
	return err;
}

int dsl_load_key(dsl_pool_t *dp, const char *name, const coffer_key_t *key,
    int flags)
{
	uint64_t rootdir, ksobj;
	keystore_t ks;
	pthread_rwlock_rdlock(&dp->lock);
	int err = find_root(dp, name, &rootdir);
	if (!err)
		err = root_keystore(dp, rootdir, &ksobj);
	if (!err)
		err = ks_load(dp, ksobj, &ks);
	pthread_rwlock_unlock(&dp->lock);
	if (err)
		return err;
	pthread_mutex_lock(&dp->key_lock);
	int loaded = kroot_find(dp, rootdir) != NULL;
	pthread_mutex_unlock(&dp->key_lock);
	if (loaded && !(flags & COFFER_KEY_NOOP)) {
		ks_free(&ks);
		cf_set_errdetail("key already loaded");
		return COFFER_EEXIST;
	}
	uint8_t *kr = cf_secure_alloc(32);
	if (!kr) {
		ks_free(&ks);
		return -ENOMEM;
	}
	err = ks_unlock(&ks, key, kr, NULL);
	dsl_keyroot_t *k = NULL;
	if (!err)
		err = kroot_make(dp, rootdir, &ks, kr, &k);
	if (!err && (flags & COFFER_KEY_PERSIST) &&
	    !(flags & COFFER_KEY_NOOP)) {
		char desc[96];
		keyring_desc(dp, rootdir, desc, sizeof(desc));
		int r = cf_keyring_store(desc, kr, 32);
		if (r)
			cf_log(COFFER_LOG_WARN, "cannot keep the key in the "
			    "kernel keyring (%s): it lasts for this process "
			    "only", coffer_strerror(r));
	}
	cf_secure_free(kr, 32);
	ks_free(&ks);
	if (err) {
		kroot_free(k);
		return err;
	}
	if (flags & COFFER_KEY_NOOP) {
		kroot_free(k);
		return 0;
	}
	pthread_mutex_lock(&dp->key_lock);
	k->next = dp->keyroots;
	dp->keyroots = k;
	pthread_mutex_unlock(&dp->key_lock);
	return 0;
}

/* Close the unheld open heads under a root; EBUSY if one is held. */
static int close_root_heads(dsl_pool_t *dp, uint64_t rootdir)
{
	pthread_mutex_lock(&dp->ds_lock);
	for (dsl_dataset_t *d = dp->open; d; d = d->next)
		if (d->cs && d->dir.encroot == rootdir && d->refs > 0 &&
		    !d->gone) {
			cf_set_errdetail("'%s' is in use", d->name);
			pthread_mutex_unlock(&dp->ds_lock);
			return COFFER_EBUSY;
		}
	pthread_mutex_unlock(&dp->ds_lock);
	return 0;
}

int dsl_unload_key(dsl_pool_t *dp, const char *name)
{
	uint64_t rootdir, ksobj;
	keystore_t ks;
	pthread_rwlock_rdlock(&dp->lock);
	int err = find_root(dp, name, &rootdir);
	if (!err)
		err = root_keystore(dp, rootdir, &ksobj);
	if (!err)
		err = ks_load(dp, ksobj, &ks);
	pthread_rwlock_unlock(&dp->lock);
	if (err)
		return err;
	dsl_keyroot_t *k = kroot_get(dp, rootdir);
	char desc[96];
	keyring_desc(dp, rootdir, desc, sizeof(desc));
	ks_free(&ks);
	if (!k) {
		cf_set_errdetail("key not loaded");
		return COFFER_ENOKEY;
	}
	err = close_root_heads(dp, rootdir);
	if (err)
		return err;
	/* write what is pending, then forget the key */
	err = dsl_pool_sync(dp);
	if (err)
		return err;
	err = dsl_close_unheld(dp, rootdir);     /* works read-only too */
	if (err)
		return err;
	pthread_mutex_lock(&dp->key_lock);
	dsl_keyroot_t **pp = &dp->keyroots;
	while (*pp && (*pp)->dirobj != rootdir)
		pp = &(*pp)->next;
	if (*pp) {
		k = *pp;
		*pp = k->next;
		kroot_free(k);
	}
	pthread_mutex_unlock(&dp->key_lock);
	char nx[104];
	snprintf(nx, sizeof(nx), "%s:next", desc);
	cf_keyring_remove(nx);
	int r = cf_keyring_remove(desc);
	if (r && r != -ENOSYS && r != -EPERM)
		cf_log(COFFER_LOG_WARN, "cannot drop the key from the kernel "
		    "keyring: %s", coffer_strerror(r));
	return 0;
}

/* ---- change-key and key slots ------------------------------------------------------ */

struct keychange {
	const char *name;
	int op;                 /* 1 change, 2 add slot, 3 remove slot,
				   4 inherit */
	slot_t slot;            /* new slot, wrapped = W until sync */
	int slotno;
	uint8_t *newkr;
	const char *const *props;
	uint64_t rootguid;      /* change-key: the root whose key changed */
	uint64_t rootdir;       /* ... and its dir object */
	int keyring_was;        /* its key was in the kernel keyring */
};

/* keyformat, keylocation, pbkdf, pbkdf2iters of a root, in the txg of the
 * key change itself (so a crash cannot separate them from the key). */
static int set_key_props(dsl_pool_t *dp, cf_tx_t *tx, uint64_t rootdir,
    const char *const *props)
{
	static const char *const names[] = { "keyformat", "keylocation",
		"pbkdf", "pbkdf2iters" };
	dirrec_t r;
	int err = dir_read(dp, rootdir, &r);
	for (size_t i = 0; i < CF_ARRAY_SIZE(names) && !err; i++) {
		const char *v = prop_of(props, names[i]);
		const cf_propdef_t *d = cf_prop_find(names[i]);
		if (!v || !d)
			continue;
		char str[512], canon[512];
		uint64_t num;
		if (cf_prop_parse(d, v, &num, str, sizeof(str), NULL))
			return COFFER_EBADPROP;
		if (d->type == CF_PTYPE_NUMBER)
			snprintf(canon, sizeof(canon), "%llu",
			    (unsigned long long)num);
		else
			cf_strlcpy(canon, str, sizeof(canon));
		err = cf_zap_update(dp->mos, tx, r.props, names[i], canon,
		    strlen(canon));
	}
	return err;
}

/* Rewrap every key record under rootdir from kr to newkr (and move them
 * to newroot).  Sync context. */
static int guid_add(kid_objs_t *g, uint64_t v)
{
	if (!g)
		return 0;
	if (g->n == g->cap) {
		size_t nc = g->cap ? g->cap * 2 : 16;
		uint64_t *nv = realloc(g->v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		g->v = nv;
		g->cap = nc;
	}
	g->v[g->n++] = v;
	return 0;
}

static int rewrap_tree(dsl_pool_t *dp, cf_tx_t *tx, uint64_t dirobj,
    uint64_t rootdir, uint64_t newroot, const uint8_t *kr,
    const uint8_t *newkr, int depth, kid_objs_t *guids)
{
	dirrec_t r;
	int err = dir_read(dp, dirobj, &r);
	if (err || depth > 64)
		return err ? err : CF_CORRUPT();
	if (!r.keyrec || r.encroot != rootdir)
		return 0;       /* a different root below: untouched */
	keyrec_t rec;
	err = kr_load(dp, r.keyrec, &rec);
	if (!err)
		err = guid_add(guids, rec.guid);
	uint8_t *keys = cf_secure_alloc(64);
	if (!keys)
		err = err ? err : -ENOMEM;
	for (int g = 0; g < rec.ngens && !err; g++) {
		err = gen_unwrap(&rec, g, kr, keys);
		if (!err)
			err = gen_wrap(&rec, g, newkr, keys);
	}
	cf_secure_free(keys, 64);
	if (!err && newroot != rootdir && rec.keystore && dirobj == rootdir) {
		/* this dir stops being a root */
		err = cf_obj_free(dp->mos, tx, rec.keystore);
		rec.keystore = 0;
	}
	if (!err)
		err = kr_store(dp, tx, r.keyrec, &rec);
	cf_wipe(&rec, sizeof(rec));
	if (!err && newroot != rootdir) {
		r.encroot = newroot;
		err = dir_write(dp, tx, dirobj, &r);
		dsl_dataset_t *h = dsl_open_head(dp, r.head);
		if (h) {
			pthread_mutex_lock(&h->acct);
			h->dir.encroot = newroot;
			pthread_mutex_unlock(&h->acct);
		}
	}
	/* children */
	kid_objs_t kids = { 0 };
	uint64_t cookie = 0;
	if (!err)
		err = cf_zap_iter(dp->mos, r.children, &cookie, kid_obj_cb,
		    &kids);
	for (size_t i = 0; i < kids.n && !err; i++)
		err = rewrap_tree(dp, tx, kids.v[i], rootdir, newroot, kr,
		    newkr, depth + 1, guids);
	free(kids.v);
	return err;
}

/*
 * change-key on a dataset that inherits its key: it becomes an
 * encryption root of its own (as in OpenZFS), with its subtree.
 */
static int split_root(dsl_pool_t *dp, cf_tx_t *tx, struct keychange *c,
    uint64_t dirobj, uint64_t rootdir, dsl_keyroot_t *k)
{
	kid_objs_t guids = { 0 };
	dirrec_t r;
	keyrec_t rec;
	keystore_t ks;
	uint64_t ksobj;
	int err = rewrap_tree(dp, tx, dirobj, rootdir, dirobj, k->kr, c->newkr,
	    0, &guids);
	if (!err)
		err = dir_read(dp, dirobj, &r);
	if (!err)
		err = kr_load(dp, r.keyrec, &rec);
	if (err) {
		free(guids.v);
		return err;
	}
	dsl_keyroot_t *nk = calloc(1, sizeof(*nk));
	if (nk)
		nk->kr = cf_secure_alloc(32);
	if (!nk || !nk->kr) {
		kroot_free(nk);
		free(guids.v);
		return -ENOMEM;
	}
	memcpy(nk->kr, c->newkr, 32);
	nk->dirobj = dirobj;
	nk->guid = rec.guid;
	/* the subtree's ledger entries move to the new root */
	pthread_mutex_lock(&dp->key_lock);
	for (size_t i = 0; i < guids.n && !err; i++)
		for (size_t j = 0; j < k->nledger; j++)
			if (k->ledger[j].guid == guids.v[i]) {
				err = ledger_put(nk, guids.v[i],
				    k->ledger[j].txg, k->ledger[j].cksum);
				ledger_drop(k, guids.v[i]);
				break;
			}
	pthread_mutex_unlock(&dp->key_lock);
	free(guids.v);
	memset(&ks, 0, sizeof(ks));
	ks.guid = rec.guid;
	ks.nslots = 1;
	ks.slots[0] = c->slot;
	uint8_t w[32];
	memcpy(w, c->slot.wrapped, 32);
	if (!err)
		err = slot_wrap(&ks.slots[0], ks.guid, w, c->newkr);
	cf_wipe(w, sizeof(w));
	ks.ent = nk->ledger;
	ks.nent = nk->nledger;
	ks.ledger_txg = tx->txg;
	if (!err)
		err = ledger_mac(c->newkr, ks.guid, tx->txg, ks.ent, ks.nent,
		    ks.ledger_mac);
	if (!err)
		err = cf_obj_alloc(dp->mos, tx, CF_OT_KEYSTORE, 4096, &ksobj);
	if (!err)
		err = ks_store(dp, tx, ksobj, &ks);
	ks.ent = NULL;
	if (!err) {
		rec.keystore = ksobj;
		err = kr_store(dp, tx, r.keyrec, &rec);
	}
	cf_wipe(&rec, sizeof(rec));
	cf_wipe(&ks, sizeof(ks));
	if (err) {
		kroot_free(nk);
		return err;
	}
	pthread_mutex_lock(&dp->key_lock);
	nk->next = dp->keyroots;
	dp->keyroots = nk;
	pthread_mutex_unlock(&dp->key_lock);
	/* the new root's key goes to the keyring once this txg is durable */
	c->rootguid = nk->guid;
	c->rootdir = dirobj;
	c->keyring_was = 1;
	return set_key_props(dp, tx, dirobj, c->props);
}

static int keychange_task(dsl_pool_t *dp, void *arg, uint64_t txg)
{
	struct keychange *c = arg;
	uint64_t rootdir, dirobj, ksobj;
	int err = dsl_dir_lookup(dp, c->name, &dirobj);
	if (!err)
		err = find_root(dp, c->name, &rootdir);
	if (err)
		return err;
	pthread_mutex_lock(&dp->key_lock);
	dsl_keyroot_t *k = kroot_find(dp, rootdir);
	pthread_mutex_unlock(&dp->key_lock);
	if (!k) {
		cf_set_errdetail("the key of '%s' is not loaded", c->name);
		return COFFER_ENOKEY;
	}
	cf_tx_t tx;
	cf_tx_sync_init(&tx, dp->mos, txg);
	if (c->op == 4) {
		/* inherit: join the parent's root */
		dirrec_t r, pr;
		err = dir_read(dp, dirobj, &r);
		if (!err && !r.parent)
			err = -EINVAL;
		if (!err)
			err = dir_read(dp, r.parent, &pr);
		if (err)
			return err;
		if (!pr.keyrec) {
			cf_set_errdetail("the parent is not encrypted");
			return -EINVAL;
		}
		if (rootdir != dirobj) {
			cf_set_errdetail("'%s' already inherits its key",
			    c->name);
			return -EINVAL;
		}
		pthread_mutex_lock(&dp->key_lock);
		dsl_keyroot_t *pk = kroot_find(dp, pr.encroot);
		pthread_mutex_unlock(&dp->key_lock);
		if (!pk) {
			cf_set_errdetail("the parent's key is not loaded");
			return COFFER_ENOKEY;
		}
		err = rewrap_tree(dp, &tx, dirobj, rootdir, pr.encroot, k->kr,
		    pk->kr, 0, NULL);
		if (err)
			return err;
		/* the datasets' ledger entries move to the parent's root */
		pthread_mutex_lock(&dp->key_lock);
		for (size_t i = 0; i < k->nledger && !err; i++)
			err = ledger_put(pk, k->ledger[i].guid,
			    k->ledger[i].txg, k->ledger[i].cksum);
		dsl_keyroot_t **pp = &dp->keyroots;
		while (*pp && *pp != k)
			pp = &(*pp)->next;
		if (*pp)
			*pp = k->next;
		pthread_mutex_unlock(&dp->key_lock);
		kroot_free(k);
		return err;
	}
	if (c->op == 1 && dirobj != rootdir)
		return split_root(dp, &tx, c, dirobj, rootdir, k);
	err = root_keystore(dp, rootdir, &ksobj);
	keystore_t ks;
	if (!err)
		err = ks_load(dp, ksobj, &ks);
	if (err)
		return err;
	uint8_t w[32];
	memcpy(w, c->slot.wrapped, 32);
	if (c->op == 1) {
		/* a new root key; every key record re-wrapped; one slot */
		err = rewrap_tree(dp, &tx, rootdir, rootdir, rootdir, k->kr,
		    c->newkr, 0, NULL);
		memset(ks.slots, 0, sizeof(ks.slots));
		ks.slots[0] = c->slot;
		ks.nslots = 1;
		if (!err)
			err = slot_wrap(&ks.slots[0], ks.guid, w, c->newkr);
		if (!err)
			memcpy(k->kr, c->newkr, 32);
	} else if (c->op == 2) {
		int free_slot = -1;
		for (int i = 0; i < KS_MAX_SLOTS; i++)
			if (!ks.slots[i].inuse) {
				free_slot = i;
				break;
			}
		if (free_slot < 0) {
			cf_set_errdetail("all %d key slots are in use",
			    KS_MAX_SLOTS);
			err = -ENOSPC;
		} else {
			ks.slots[free_slot] = c->slot;
			err = slot_wrap(&ks.slots[free_slot], ks.guid, w, k->kr);
			ks.nslots++;
		}
	} else if (c->op == 3) {
		if (c->slotno < 0 || c->slotno >= KS_MAX_SLOTS ||
		    !ks.slots[c->slotno].inuse) {
			cf_set_errdetail("no key slot %d", c->slotno);
			err = -ENOENT;
		} else if (ks.nslots == 1) {
			cf_set_errdetail("cannot remove the last key slot");
			err = -EINVAL;
		} else {
			memset(&ks.slots[c->slotno], 0, sizeof(slot_t));
			ks.nslots--;
		}
	}
	cf_wipe(w, sizeof(w));
	/* the ledger is re-MACed with the (possibly new) root key */
	free(ks.ent);
	ks.ent = NULL;
	ks.nent = 0;
	if (!err) {
		pthread_mutex_lock(&dp->key_lock);
		ks.ent = k->ledger;
		ks.nent = k->nledger;
		ks.ledger_txg = txg;
		err = ledger_mac(k->kr, ks.guid, txg, ks.ent, ks.nent,
		    ks.ledger_mac);
		if (!err)
			err = ks_store(dp, &tx, ksobj, &ks);
		pthread_mutex_unlock(&dp->key_lock);
		ks.ent = NULL;
		ks.nent = 0;
	}
	/* the kernel keyring learns the new root key only once this txg
	 * is durable (dsl_change_key): a crash before leaves both old */
	if (!err && c->op == 1) {
		c->rootguid = ks.guid;
		c->rootdir = rootdir;
	}
	if (!err && c->op == 1)
		err = set_key_props(dp, &tx, rootdir, c->props);
	cf_wipe(&ks, sizeof(ks));
	return err;
}

static int keychange(dsl_pool_t *dp, struct keychange *c,
    const coffer_key_t *newkey)
{
	uint8_t *w = cf_secure_alloc(32);
	c->newkr = cf_secure_alloc(32);
	int err = (w && c->newkr) ? 0 : -ENOMEM;
	if (!err && (c->op == 1 || c->op == 2))
		err = slot_new(c->props, newkey, &c->slot, w);
	if (!err && c->op == 1)
		err = cf_random(c->newkr, 32);
	if (!err)
		memcpy(c->slot.wrapped, w, 32);
	cf_secure_free(w, 32);
	if (!err && c->op == 1) {
		/* was the old key kept in the kernel keyring? */
		uint64_t rootdir, ksobj;
		keystore_t ks;
		pthread_rwlock_rdlock(&dp->lock);
		int e = find_root(dp, c->name, &rootdir);
		if (!e)
			e = root_keystore(dp, rootdir, &ksobj);
		if (!e)
			e = ks_load(dp, ksobj, &ks);
		pthread_rwlock_unlock(&dp->lock);
		if (!e) {
			char desc[96];
			uint8_t tmp[32];
			keyring_desc(dp, rootdir, desc, sizeof(desc));
			c->keyring_was = cf_keyring_load(desc, tmp, 32) == 0;
			cf_wipe(tmp, sizeof(tmp));
			ks_free(&ks);
		}
	}
	/* the new key waits under ":next" while its txg commits; once the
	 * txg is durable it replaces the old one (kroot_from_keyring tries
	 * both, so no crash point leaves a dataset locked) */
	char desc[96] = "", next[104] = "";
	if (!err && c->op == 1) {
		uint64_t rootdir, ksobj;
		keystore_t ks;
		pthread_rwlock_rdlock(&dp->lock);
		int e = find_root(dp, c->name, &rootdir);
		uint64_t dirobj = 0;
		if (!e)
			e = dsl_dir_lookup(dp, c->name, &dirobj);
		if (!e && dirobj == rootdir)
			e = root_keystore(dp, rootdir, &ksobj);
		else if (!e)
			e = -ENOENT;    /* a new root: nothing stale to race */
		if (!e)
			e = ks_load(dp, ksobj, &ks);
		pthread_rwlock_unlock(&dp->lock);
		if (!e) {
			keyring_desc(dp, rootdir, desc, sizeof(desc));
			snprintf(next, sizeof(next), "%s:next", desc);
			ks_free(&ks);
			if (c->keyring_was &&
			    cf_keyring_store(next, c->newkr, 32) != 0)
				next[0] = 0;
		}
	}
	if (!err)
		err = dsl_sync_task(dp, keychange_task, c);
	if (!err && c->op == 1 && c->keyring_was && c->rootguid) {
		/* the txg is durable: now the keyring follows */
		char d2[96];
		keyring_desc(dp, c->rootdir, d2, sizeof(d2));
		if (cf_keyring_store(d2, c->newkr, 32) != 0)
			cf_keyring_remove(d2);
	}
	/* on failure the txg may or may not have committed: keep both
	 * entries, the lookup takes the one that verifies */
	if (!err && next[0])
		cf_keyring_remove(next);
	cf_secure_free(c->newkr, 32);
	cf_wipe(&c->slot, sizeof(c->slot));
	return err;
}

int dsl_change_key(dsl_pool_t *dp, const char *name,
    const char *const *props, const coffer_key_t *newkey, int inherit)
{
	struct keychange c;
	memset(&c, 0, sizeof(c));
	c.name = name;
	c.op = inherit ? 4 : 1;
	c.props = props;
	int err = keychange(dp, &c, newkey);
	return err;
}

int dsl_key_slot_add(dsl_pool_t *dp, const char *name,
    const char *const *props, const coffer_key_t *newkey)
{
	struct keychange c;
	memset(&c, 0, sizeof(c));
	c.name = name;
	c.op = 2;
	c.props = props;
	return keychange(dp, &c, newkey);
}

int dsl_key_slot_remove(dsl_pool_t *dp, const char *name, int slot)
{
	struct keychange c;
	memset(&c, 0, sizeof(c));
	c.name = name;
	c.op = 3;
	c.slotno = slot;
	return keychange(dp, &c, NULL);
}

int dsl_key_slot_list(dsl_pool_t *dp, const char *name,
    int (*cb)(const coffer_slot_info_t *info, void *arg), void *arg)
{
	uint64_t rootdir, ksobj;
	keystore_t ks;
	pthread_rwlock_rdlock(&dp->lock);
	int err = find_root(dp, name, &rootdir);
	if (!err)
		err = root_keystore(dp, rootdir, &ksobj);
	if (!err)
		err = ks_load(dp, ksobj, &ks);
	pthread_rwlock_unlock(&dp->lock);
	if (err)
		return err;
	static const char *const fmts[] = { "?", "passphrase", "hex", "raw" };
	static const char *const kdfs[] = { "none", "argon2id", "pbkdf2" };
	for (int i = 0; i < KS_MAX_SLOTS && !err; i++) {
		const slot_t *s = &ks.slots[i];
		if (!s->inuse)
			continue;
		coffer_slot_info_t info;
		memset(&info, 0, sizeof(info));
		info.slot = i;
		cf_strlcpy(info.keyformat, fmts[s->format],
		    sizeof(info.keyformat));
		cf_strlcpy(info.kdf, kdfs[s->kdf], sizeof(info.kdf));
		info.iters = s->t;
		info.mem_kib = s->m;
		info.lanes = s->p;
		info.created = s->created;
		err = cb(&info, arg);
	}
	ks_free(&ks);
	return err;
}

/* encryptionroot: the name of the root dir of an encrypted dir. */
int dsl_crypt_root_name(dsl_pool_t *dp, const char *name,
    const dirrec_t *r, char *out, size_t n)
{
	/* walk up from name until the dir is the root */
	char buf[512];
	cf_strlcpy(buf, name, sizeof(buf));
	char *at = strchr(buf, '@');
	if (at)
		*at = 0;
	for (;;) {
		uint64_t o;
		if (dsl_dir_lookup(dp, buf, &o) == 0 && o == r->encroot) {
			cf_strlcpy(out, buf, n);
			return 0;
		}
		char *sl = strrchr(buf, '/');
		if (!sl)
			return CF_CORRUPT();
		*sl = 0;
	}
}

int dsl_crypt_suite(dsl_pool_t *dp, const dirrec_t *r, int *suite)
{
	keyrec_t rec;
	int err = kr_load(dp, r->keyrec, &rec);
	if (!err)
		*suite = rec.suite;
	return err;
}

/* ---- for tests: look at and alter a keystore as an attacker could ---------------- */

int dsl_crypt_debug_slot(dsl_pool_t *dp, uint64_t rootdir, int slot,
    uint8_t wrapped[32], uint64_t *ksobj)
{
	keystore_t ks;
	pthread_rwlock_rdlock(&dp->lock);
	int err = root_keystore(dp, rootdir, ksobj);
	if (!err)
		err = ks_load(dp, *ksobj, &ks);
	pthread_rwlock_unlock(&dp->lock);
	if (err)
		return err;
	if (slot < 0 || slot >= KS_MAX_SLOTS || !ks.slots[slot].inuse)
		err = -ENOENT;
	else
		memcpy(wrapped, ks.slots[slot].wrapped, 32);
	ks_free(&ks);
	return err;
}

int dsl_crypt_debug_tamper_slot(dsl_pool_t *dp, cf_tx_t *tx,
    uint64_t rootdir)
{
	uint64_t ksobj;
	keystore_t ks;
	int err = root_keystore(dp, rootdir, &ksobj);
	if (!err)
		err = ks_load(dp, ksobj, &ks);
	if (err)
		return err;
	ks.slots[0].wrapped[5] ^= 0x10;
	err = ks_store(dp, tx, ksobj, &ks);
	ks_free(&ks);
	return err;
}

/* Drop every key of this pool from the kernel keyring (export). */
static int forget_dir(dsl_pool_t *dp, uint64_t dirobj, int depth)
{
	dirrec_t r;
	int err = dir_read(dp, dirobj, &r);
	if (err || depth > 64)
		return err;
	if (r.keyrec && r.encroot == dirobj) {
		keyrec_t rec;
		if (kr_load(dp, r.keyrec, &rec) == 0) {
			char desc[96];
			keyring_desc(dp, dirobj, desc, sizeof(desc));
			cf_keyring_remove(desc);
		}
	}
	kid_objs_t kids = { 0 };
	uint64_t cookie = 0;
	err = cf_zap_iter(dp->mos, r.children, &cookie, kid_obj_cb, &kids);
	for (size_t i = 0; i < kids.n && !err; i++)
		err = forget_dir(dp, kids.v[i], depth + 1);
	free(kids.v);
	return err;
}

int dsl_crypt_forget_all(dsl_pool_t *dp)
{
	pthread_rwlock_rdlock(&dp->lock);
	int err = forget_dir(dp, dp->root_dir, 0);
	pthread_rwlock_unlock(&dp->lock);
	return err;
}

/* ---- raw streams ---------------------------------------------------------------- */

int dsl_crypt_raw_export(dsl_pool_t *dp, const dirrec_t *r,
    dsl_rawkeys_t *keys)
{
	keyrec_t rec;
	keystore_t ks;
	uint64_t ksobj;
	memset(&ks, 0, sizeof(ks));
	int err = kr_load(dp, r->keyrec, &rec);
	if (!err)
		err = root_keystore(dp, r->encroot, &ksobj);
	if (!err)
		err = ks_load(dp, ksobj, &ks);
	if (err)
		return err;
	keys->encrypted = 1;
	keys->guid = rec.guid;
	keys->rootguid = ks.guid;
	keys->suite = rec.suite;
	keys->is_root = rec.keystore != 0;
	rec.keystore = 0;               /* an object id of this pool */
	uint8_t kb[KR_HDR_SIZE + CF_MAX_KEYGENS * KR_GEN_SIZE];
	kr_encode(&rec, kb);
	err = cf_buf_append(&keys->keyrec, kb, kr_size(rec.ngens));
	/* the ledger is this pool's: the receiver keeps its own */
	ks_free(&ks);
	ks.ledger_txg = 0;
	memset(ks.ledger_mac, 0, sizeof(ks.ledger_mac));
	size_t n;
	uint8_t *b = err ? NULL : ks_encode(&ks, &n);
	if (!err && !b)
		err = -ENOMEM;
	if (!err)
		err = cf_buf_append(&keys->keystore, b, n);
	free(b);
	cf_wipe(&rec, sizeof(rec));
	cf_wipe(&ks, sizeof(ks));
	return err;
}

static int raw_keys_decode(const dsl_recv_raw_t *raw, keyrec_t *rec,
    keystore_t *ks)
{
	memset(ks, 0, sizeof(*ks));
	int err = kr_decode(raw->keyrec, raw->keyrec_len, rec);
	if (err == COFFER_ECORRUPT) {
		cf_set_errdetail("the stream's key record is malformed");
		return COFFER_EBADSTREAM;
	}
	if (err || !raw->keystore)
		return err;
	err = ks_decode(raw->keystore, raw->keystore_len, ks);
	if (!err && (ks->nent != 0 || ks->ledger_txg != 0)) {
		ks_free(ks);
		err = CF_CORRUPT();
	}
	if (err == COFFER_ECORRUPT) {
		cf_set_errdetail("the stream's keystore is malformed");
		return COFFER_EBADSTREAM;
	}
	return err;
}

int dsl_crypt_raw_check(const dsl_recv_raw_t *raw)
{
	keyrec_t rec;
	keystore_t ks;
	int err = raw_keys_decode(raw, &rec, &ks);
	if (!err)
		ks_free(&ks);
	cf_wipe(&rec, sizeof(rec));
	return err;
}

int dsl_crypt_create_raw_sync(dsl_pool_t *dp, cf_tx_t *tx, uint64_t dirobj,
    dirrec_t *r, const dsl_recv_raw_t *raw)
{
	keyrec_t rec;
	keystore_t ks;
	if (!raw->keystore) {
		cf_set_errdetail("a full raw stream must carry its keystore");
		return COFFER_EBADSTREAM;
	}
	int err = raw_keys_decode(raw, &rec, &ks);
	if (err)
		return err;
	/* the one ledger entry: the received root, sealed at load-key */
	ks_free(&ks);           /* the decoded (empty) ledger */
	ks.ent = calloc(1, sizeof(*ks.ent));
	if (!ks.ent)
		err = -ENOMEM;
	if (!err) {
		ks.nent = 1;
		ks.ent[0].guid = rec.guid;
		ks.ent[0].txg = raw->mac_txg;
		memcpy(ks.ent[0].cksum, raw->mac, 32);
	}
	uint64_t ksobj = 0, krobj = 0;
	if (!err)
		err = cf_obj_alloc(dp->mos, tx, CF_OT_KEYSTORE, 4096, &ksobj);
	if (!err)
		err = ks_store(dp, tx, ksobj, &ks);
	rec.keystore = ksobj;
	if (!err)
		err = cf_obj_alloc(dp->mos, tx, CF_OT_KEYREC, 512, &krobj);
	if (!err)
		err = kr_store(dp, tx, krobj, &rec);
	/* the key properties of the new root: the sender's first slot's
	 * format; the key is asked for (keylocation=prompt) */
	static const char *const fmts[] = { "", "passphrase", "hex", "raw" };
	static const char *const kdfs[] = { "", "argon2id", "pbkdf2" };
	const slot_t *s0 = NULL;
	for (int i = 0; i < KS_MAX_SLOTS && !s0; i++)
		if (ks.slots[i].inuse)
			s0 = &ks.slots[i];
	if (!err && s0 && s0->format >= 1 && s0->format <= 3)
		err = cf_zap_update(dp->mos, tx, r->props, "keyformat",
		    fmts[s0->format], strlen(fmts[s0->format]));
	if (!err && s0 && s0->kdf >= 1 && s0->kdf <= 2)
		err = cf_zap_update(dp->mos, tx, r->props, "pbkdf",
		    kdfs[s0->kdf], strlen(kdfs[s0->kdf]));
	if (!err)
		err = cf_zap_update(dp->mos, tx, r->props, "keylocation",
		    "prompt", 6);
	if (!err) {
		r->keyrec = krobj;
		r->encroot = dirobj;
	}
	ks_free(&ks);
	cf_wipe(&rec, sizeof(rec));
	cf_wipe(&ks, sizeof(ks));
	return err;
}

int dsl_crypt_ledger_set_raw(dsl_pool_t *dp, cf_tx_t *tx, const dirrec_t *r,
    const cf_blkptr_t *root)
{
	pthread_mutex_lock(&dp->key_lock);
	int loaded = kroot_find(dp, r->encroot) != NULL;
	pthread_mutex_unlock(&dp->key_lock);
	if (loaded)
		return dsl_crypt_ledger_set(dp, r, root);
	keyrec_t rec;
	keystore_t ks;
	uint64_t ksobj;
	uint8_t mac[32];
	uint64_t mtxg;
	int err = kr_load(dp, r->keyrec, &rec);
	if (!err)
		err = cf_os_root_mac(dp->spa, root, mac, &mtxg);
	if (!err)
		err = root_keystore(dp, r->encroot, &ksobj);
	if (!err)
		err = ks_load(dp, ksobj, &ks);
	if (err)
		return err;
	size_t i;
	for (i = 0; i < ks.nent && ks.ent[i].guid != rec.guid; i++)
		;
	if (i == ks.nent) {
		ledger_ent_t *nv = realloc(ks.ent, (ks.nent + 1) *
		    sizeof(*nv));
		if (!nv) {
			ks_free(&ks);
			return -ENOMEM;
		}
		ks.ent = nv;
		ks.nent++;
		ks.ent[i].guid = rec.guid;
	}
	ks.ent[i].txg = mtxg;
	memcpy(ks.ent[i].cksum, mac, 32);
	ks.ledger_txg = 0;              /* unsealed until the key is loaded */
	memset(ks.ledger_mac, 0, sizeof(ks.ledger_mac));
	err = ks_store(dp, tx, ksobj, &ks);
	ks_free(&ks);
	cf_wipe(&rec, sizeof(rec));
	return err;
}

int dsl_crypt_raw_match(dsl_pool_t *dp, const dirrec_t *r,
    const dsl_recv_raw_t *raw)
{
	keyrec_t mine, theirs;
	keystore_t ks;
	dsl_recv_raw_t k = *raw;
	k.keystore = NULL;              /* an incremental keeps its own */
	int err = raw_keys_decode(&k, &theirs, &ks);
	if (!err)
		err = kr_load(dp, r->keyrec, &mine);
	if (!err && (mine.guid != theirs.guid || mine.suite != theirs.suite)) {
		cf_set_errdetail("the stream's keys are not the target's "
		    "(crypt guid %016llx, the target's %016llx)",
		    (unsigned long long)theirs.guid,
		    (unsigned long long)mine.guid);
		err = COFFER_EBADSTREAM;
	}
	if (!err) {
		/* the same wrapped keys, byte for byte: nothing can be checked
		 * without the key, so nothing may differ (a new key generation
		 * would need the key to be loaded here) */
		uint8_t a[KR_HDR_SIZE + CF_MAX_KEYGENS * KR_GEN_SIZE];
		uint8_t b[KR_HDR_SIZE + CF_MAX_KEYGENS * KR_GEN_SIZE];
		mine.keystore = 0;
		theirs.keystore = 0;
		kr_encode(&mine, a);
		kr_encode(&theirs, b);
		if (mine.ngens != theirs.ngens ||
		    memcmp(a, b, kr_size(mine.ngens)) != 0) {
			cf_set_errdetail("the stream's key record differs from "
			    "the target's (altered, or keys changed since)");
			err = COFFER_EBADSTREAM;
		}
		cf_wipe(a, sizeof(a));
		cf_wipe(b, sizeof(b));
	}
	cf_wipe(&mine, sizeof(mine));
	cf_wipe(&theirs, sizeof(theirs));
	return err;
}
