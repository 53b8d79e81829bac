/*
 * blkcrypt: per-block encryption (the design of DESIGN.md §4, after
 * OpenZFS's zio_crypt).
 *
 *  - Each block is sealed with an AEAD (the dataset's suite) under a key
 *    derived by HKDF-SHA512 from the master key of the block's key
 *    generation and the block's 64-bit salt:
 *        key = HKDF-SHA512(ikm = master, salt = salt,
 *                          info = "coffer block key v1" || suite)
 *    with a random 96-bit IV per block.  The salt changes every
 *    SALT_USES encryptions (and at every open), so no (key, IV) pair is
 *    anywhere near the 2^32-messages-per-key bound for random IVs.
 *  - The bp stores salt, IV, the 128-bit tag (mac) and the generation.
 *  - Data blocks are compressed first, then encrypted whole; the AAD
 *    binds the bp fields the reader relies on (type, level, compression,
 *    generation, logical and physical size).
 *  - Dnode blocks encrypt only the bonus bytes of allocated dnodes (the
 *    attributes, bonuslen of them), before compression, with the portable
 *    dnode structure (type, sizes, the root bp's portable fields and MAC,
 *    not its location) as AAD: the tree stays walkable without a key
 *    (scrub, destroy) yet is authenticated, and a raw receive can rebuild
 *    the block around the same sealed bytes.
 *  - Indirect blocks are not encrypted; their bp mac is a keyless hash of
 *    their children's MACs, so the MACs form a Merkle tree up to the
 *    object set root, which carries an HMAC made with the dataset key.
 *
 * Invariants
 *  1. A decrypt failure wipes the output and returns COFFER_EAUTH; no
 *     unauthenticated byte reaches a caller.
 *  2. Per-salt keys live in secure memory and are wiped when replaced.
 */
#include "block/block.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "crypto/crypto.h"
#include "block/blkcrypt.h"

#define SALT_USES 1000000u
#define REC_AAD_SIZE (CF_BLK_REC_PORTABLE_HDR + CF_BP_PORTABLE_SIZE)
#define SALT_CACHE 8

/* A per-salt key, shared by the cache and the threads using it. */
typedef struct skey {
	uint8_t salt[8];
	cf_aead_key_t *key;
	int refs;                       /* the cache's own counts as one */
	uint64_t stamp;
} skey_t;

struct cf_blkkey {
	int suite;
	uint32_t gen;
	uint8_t *master;                /* 32 bytes, secure memory */
	pthread_mutex_t lock;
	skey_t *cache[SALT_CACHE];      /* keys for reading old salts */
	skey_t *cur;                    /* the salt new blocks use */
	uint64_t stamp;
	uint64_t uses;
};

static void skey_put(cf_blkkey_t *k, skey_t *e)
{
	pthread_mutex_lock(&k->lock);
	int last = --e->refs == 0;
	pthread_mutex_unlock(&k->lock);
	if (last) {
		cf_aead_key_free(e->key);
		free(e);
	}
}

int cf_blk_derive_key(int suite, const uint8_t *master,
    const uint8_t salt[8], uint8_t *out)
{
	uint8_t info[24];
	int klen = cf_suite_keylen(suite);
	if (klen <= 0)
		return -EINVAL;
	memcpy(info, "coffer block key v1", 19);
	info[19] = (uint8_t)suite;
	return cf_hkdf(CF_MD_SHA512, master, 32, salt, 8, info, 20, out,
	    (size_t)klen);
}

static int derive(const cf_blkkey_t *k, const uint8_t salt[8],
    skey_t **out)
{
	uint8_t key[CF_MAX_KEY_LEN];
	skey_t *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	int err = cf_blk_derive_key(k->suite, k->master, salt, key);
	if (!err)
		err = cf_aead_key_new(k->suite, key, &e->key);
	cf_wipe(key, sizeof(key));
	if (err) {
		free(e);
		return err;
	}
	memcpy(e->salt, salt, 8);
	e->refs = 1;
	*out = e;
	return 0;
}

/* Put e into the read cache (lock held); drops the evicted entry's
 * cache reference, returned through *drop for freeing unlocked. */
static void cache_insert(cf_blkkey_t *k, skey_t *e, skey_t **drop)
{
	int v = 0;
	for (int i = 0; i < SALT_CACHE; i++) {
		if (!k->cache[i]) {
			v = i;
			break;
		}
		if (k->cache[i]->stamp < k->cache[v]->stamp)
			v = i;
	}
	*drop = NULL;
	if (k->cache[v] && --k->cache[v]->refs == 0)
		*drop = k->cache[v];
	e->stamp = ++k->stamp;
	k->cache[v] = e;
}

static void skey_free(skey_t *e)
{
	if (e) {
		cf_aead_key_free(e->key);
		free(e);
	}
}

int cf_blkkey_new(int suite, const uint8_t *master, uint32_t gen,
    cf_blkkey_t **out)
{
	if (cf_suite_keylen(suite) <= 0)
		return -EINVAL;
	cf_blkkey_t *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->master = cf_secure_alloc(32);
	if (!k->master) {
		free(k);
		return -ENOMEM;
	}
	memcpy(k->master, master, 32);
	k->suite = suite;
	k->gen = gen;
	pthread_mutex_init(&k->lock, NULL);
	*out = k;
	return 0;
}

void cf_blkkey_free(cf_blkkey_t *k)
{
	if (!k)
		return;
	for (int i = 0; i < SALT_CACHE; i++)
		if (k->cache[i] && --k->cache[i]->refs == 0)
			skey_free(k->cache[i]);
	if (k->cur && --k->cur->refs == 0)
		skey_free(k->cur);
	cf_secure_free(k->master, 32);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

cf_blkkey_t *cf_cryptset_key(const cf_cryptset_t *cs, uint32_t gen)
{
	if (!cs)
		return NULL;
	for (int i = 0; i < cs->nkeys; i++)
		if (cs->gens[i] == gen)
			return cs->keys[i];
	return NULL;
}

/* The key for encrypting now: a fresh salt at first use and every
 * SALT_USES blocks.  The caller releases it with skey_put. */
static int enc_key(cf_blkkey_t *k, skey_t **out)
{
	pthread_mutex_lock(&k->lock);
	if (!k->cur || ++k->uses > SALT_USES) {
		uint8_t salt[8];
		skey_t *e, *drop = NULL;
		int err = cf_random(salt, sizeof(salt));
		if (!err)
			err = derive(k, salt, &e);
		if (err) {
			pthread_mutex_unlock(&k->lock);
			return err;
		}
		if (k->cur)
			cache_insert(k, k->cur, &drop);  /* stays readable */
		k->cur = e;
		k->uses = 1;
		if (drop) {
			pthread_mutex_unlock(&k->lock);
			skey_free(drop);
			pthread_mutex_lock(&k->lock);
		}
	}
	skey_t *e = k->cur;
	e->refs++;
	pthread_mutex_unlock(&k->lock);
	*out = e;
	return 0;
}

/* The key for a salt, from the cache or derived. */
static int dec_key(cf_blkkey_t *k, const uint8_t salt[8], skey_t **out)
{
	pthread_mutex_lock(&k->lock);
	if (k->cur && memcmp(k->cur->salt, salt, 8) == 0) {
		k->cur->refs++;
		*out = k->cur;
		pthread_mutex_unlock(&k->lock);
		return 0;
	}
	for (int i = 0; i < SALT_CACHE; i++) {
		skey_t *e = k->cache[i];
		if (e && memcmp(e->salt, salt, 8) == 0) {
			e->stamp = ++k->stamp;
			e->refs++;
			*out = e;
			pthread_mutex_unlock(&k->lock);
			return 0;
		}
	}
	pthread_mutex_unlock(&k->lock);
	skey_t *e, *drop;
	int err = derive(k, salt, &e);
	if (err)
		return err;
	pthread_mutex_lock(&k->lock);
	cache_insert(k, e, &drop);
	e->refs++;
	pthread_mutex_unlock(&k->lock);
	skey_free(drop);
	*out = e;
	return 0;
}

/* AAD of a data block: the bp fields the reader relies on. */
size_t cf_blk_data_aad(const cf_blkptr_t *bp, uint8_t aad[32])
{
	memcpy(aad, "CFBLK1", 6);
	aad[6] = bp->type;
	aad[7] = bp->level;
	aad[8] = bp->comp;
	aad[9] = 0;
	le32_put(aad + 10, bp->keygen);
	le32_put(aad + 14, bp->lsize);
	le32_put(aad + 18, bp->psize);
	return 22;
}

int cf_blk_encrypt_data(const cf_cryptset_t *cs, cf_blkptr_t *bp,
    const uint8_t *in, uint8_t *buf, size_t len)
{
	cf_blkkey_t *k = cf_cryptset_key(cs, cs->curgen);
	if (!k)
		return COFFER_ENOKEY;
	skey_t *e;
	uint8_t aad[32];
	bp->keygen = cs->curgen;
	bp->flags |= CF_BPF_ENCRYPTED;
	int err = enc_key(k, &e);
	if (err)
		return err;
	memcpy(bp->salt, e->salt, 8);
	err = cf_random(bp->iv, sizeof(bp->iv));
	size_t alen = cf_blk_data_aad(bp, aad);
	if (!err)
		err = cf_aead_key_encrypt(e->key, bp->iv, aad, alen, in, len,
		    buf, bp->mac);
	skey_put(k, e);
	return err;
}

int cf_blk_decrypt_data(const cf_cryptset_t *cs, const cf_blkptr_t *bp,
    uint8_t *buf, size_t len)
{
	cf_blkkey_t *k = cf_cryptset_key(cs, bp->keygen);
	if (!k)
		return cs ? COFFER_EAUTH : COFFER_ENOKEY;
	skey_t *e;
	uint8_t aad[32];
	int err = dec_key(k, bp->salt, &e);
	if (err)
		return err;
	size_t alen = cf_blk_data_aad(bp, aad);
	err = cf_aead_key_decrypt(e->key, bp->iv, aad, alen, buf, len, buf,
	    bp->mac);
	skey_put(k, e);
	return err;
}

/*
 * Dnode blocks: gather the bonus areas of allocated dnodes, seal them as
 * one message with the rest of the block as AAD, scatter them back.
 */
static int dnode_crypt(const cf_cryptset_t *cs, cf_blkptr_t *bp,
    uint8_t *blk, size_t len, int enc)
{
	size_t ndn = len / CF_BLK_REC_SIZE;
	const size_t bl = CF_BLK_REC_SIZE - CF_BLK_REC_SEALED_OFF;
	uint8_t *msg = malloc(ndn * bl + 1);
	uint8_t *aad = malloc(ndn * REC_AAD_SIZE + 32);
	if (!msg || !aad) {
		free(msg);
		free(aad);
		return -ENOMEM;
	}
	size_t mlen = 0, alen = 0;
	memcpy(aad, "CFDN2", 5);
	aad[5] = bp->type;
	le32_put(aad + 6, bp->keygen);
	le32_put(aad + 10, bp->lsize);
	alen = 14;
	for (size_t i = 0; i < ndn; i++) {
		uint8_t *dn = blk + i * CF_BLK_REC_SIZE;
		/* the portable structure: type, sizes, root bp's portable
		 * fields (not its location), so raw receive keeps it valid */
		memcpy(aad + alen, dn, CF_BLK_REC_PORTABLE_HDR);
		alen += CF_BLK_REC_PORTABLE_HDR;
		cf_blkptr_t root;
		if (cf_bp_decode(dn + CF_BLK_REC_BP_OFF, &root) != 0) {
			free(msg);
			free(aad);
			return COFFER_EAUTH;
		}
		alen += cf_bp_portable(&root, aad + alen);
		size_t n = dn[0] ? CF_MIN(le16_get(dn + 2), bl) : 0;
		memcpy(msg + mlen, dn + CF_BLK_REC_SEALED_OFF, n);
		mlen += n;
	}
	int err;
	skey_t *e = NULL;
	cf_blkkey_t *k = cf_cryptset_key(cs, enc ? cs->curgen : bp->keygen);
	if (enc) {
		err = k ? enc_key(k, &e) : COFFER_ENOKEY;
		if (!err) {
			memcpy(bp->salt, e->salt, 8);
			err = cf_random(bp->iv, sizeof(bp->iv));
		}
		if (!err)
			err = cf_aead_key_encrypt(e->key, bp->iv, aad, alen, msg,
			    mlen, msg, bp->mac);
	} else {
		err = k ? dec_key(k, bp->salt, &e) :
		    (cs ? COFFER_EAUTH : COFFER_ENOKEY);
		if (!err)
			err = cf_aead_key_decrypt(e->key, bp->iv, aad, alen, msg,
			    mlen, msg, bp->mac);
	}
	if (e)
		skey_put(k, e);
	if (!err) {
		mlen = 0;
		for (size_t i = 0; i < ndn; i++) {
			uint8_t *dn = blk + i * CF_BLK_REC_SIZE;
			size_t n = dn[0] ? CF_MIN(le16_get(dn + 2), bl) : 0;
			memcpy(dn + CF_BLK_REC_SEALED_OFF, msg + mlen, n);
			mlen += n;
		}
	}
	cf_wipe(msg, ndn * bl);
	free(msg);
	free(aad);
	return err;
}

int cf_blk_encrypt_dnode(const cf_cryptset_t *cs, cf_blkptr_t *bp,
    uint8_t *blk, size_t len)
{
	bp->keygen = cs->curgen;
	bp->flags |= CF_BPF_ENCRYPTED | CF_BPF_DNODE;
	return dnode_crypt(cs, bp, blk, len, 1);
}

int cf_blk_decrypt_dnode(const cf_cryptset_t *cs, const cf_blkptr_t *bp,
    uint8_t *blk, size_t len)
{
	cf_blkptr_t b = *bp;
	return dnode_crypt(cs, &b, blk, len, 0);
}

void cf_block_ind_mac(const cf_blkptr_t *children, int n, uint8_t mac[16])
{
	uint8_t *all = malloc((size_t)n * 16 + 1);
	uint8_t h[64];
	if (!all) {
		memset(mac, 0xff, 16);  /* cannot match: reads fail safe */
		return;
	}
	for (int i = 0; i < n; i++)
		memcpy(all + i * 16, children[i].mac, 16);
	cf_sha512(all, (size_t)n * 16, h);
	memcpy(mac, h, 16);
	free(all);
}
