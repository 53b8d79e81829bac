/*
 * Known answers for coffer's own constructions on top of the primitives
 * (the primitives have theirs in tests/unit/crypto):
 *  - the per-block key, HKDF-SHA512(master, salt, "coffer block key v1"
 *    || suite), and the data-block AAD, sealed with each kind of suite;
 *  - the dataset key wrap: HKDF-SHA256(K_R, "coffer key wrap"), then
 *    AES-256-GCM with AAD "CFKEYWRAP1" || suite || guid || generation.
 * Expected values computed independently with Python's `cryptography`
 * package (HKDF, AESGCM, AESCCM, ChaCha20Poly1305); the script is in the
 * comment at the end of this file.
 */
#include <stdlib.h>

#include "harness.h"
#include "block/blkcrypt.h"
#include "crypto/crypto.h"
#include "dsl/dsl_impl.h"

static void unhex(const char *h, uint8_t *out)
{
	for (size_t i = 0; h[2 * i]; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static const struct {
	int suite;
	const char *key, *tag, *ct16;
} kat[] = {
	{ CF_SUITE_AES_256_GCM,
	  "843d2671025e5a4583b892a2bad7b3cd28f6f61f19b4ad5631de372b65953875",
	  "b4e5522d25799425b3cef0ddd6b21c81",
	  "6a22596f9285a4b10511346ad9d4e3d7" },
	{ CF_SUITE_AES_128_GCM, "c6a61771d8d57b537c30f95410b99535",
	  "17704e5dde9ff3c388b7dc9a900d4e1b",
	  "459e32e8b3ed123d54db2e4aa5eb284a" },
	{ CF_SUITE_CHACHA20_POLY1305,
	  "47821e5d857afd60b6546d7b8cc77e4c24579d1818481216a9d3bd85b8c0a314",
	  "c3a2eab6391731f602426ad985f9242c",
	  "c8565c134386e90797aaf8581a5f9336" },
	{ CF_SUITE_AES_128_CCM, "daf77ea62f3c227f977d9dcbd0c8f8c7",
	  "8207c7e2f8929dc96db04675822e0659",
	  "b33814a268271a17c3e281574c4638ef" },
};

static void test_block_key_and_seal(void)
{
	uint8_t master[32], salt[8], iv[12], pt[1000], ct[1000], tag[16];
	for (int i = 0; i < 32; i++)
		master[i] = (uint8_t)i;
	for (int i = 0; i < 8; i++)
		salt[i] = (uint8_t)(0xa0 + i);
	for (int i = 0; i < 12; i++)
		iv[i] = (uint8_t)(0x10 + i);
	for (int i = 0; i < 1000; i++)
		pt[i] = (uint8_t)((i * 7 + 3) & 0xff);
	cf_blkptr_t bp;
	memset(&bp, 0, sizeof(bp));
	bp.type = 3;
	bp.level = 0;
	bp.comp = 1;
	bp.keygen = 0;
	bp.lsize = 4096;
	bp.psize = 1000;
	uint8_t aad[32];
	size_t alen = cf_blk_data_aad(&bp, aad);
	CHECK(alen == 22);
	for (size_t k = 0; k < CF_ARRAY_SIZE(kat); k++) {
		uint8_t key[32], want[32], wtag[16], wct[16];
		int klen = cf_suite_keylen(kat[k].suite);
		CHECK_OK(cf_blk_derive_key(kat[k].suite, master, salt, key));
		unhex(kat[k].key, want);
		CHECK(memcmp(key, want, (size_t)klen) == 0);
		CHECK_OK(cf_aead_encrypt(kat[k].suite, key, iv, aad, alen, pt,
		    sizeof(pt), ct, tag));
		unhex(kat[k].tag, wtag);
		unhex(kat[k].ct16, wct);
		CHECK(memcmp(tag, wtag, 16) == 0);
		CHECK(memcmp(ct, wct, 16) == 0);
	}
}

static void test_key_wrap(void)
{
	uint8_t kr[32], keys[64], iv[12], wrapped[64], tag[16];
	uint8_t want[64], wtag[16];
	for (int i = 0; i < 32; i++)
		kr[i] = (uint8_t)(0x55 ^ i);
	for (int i = 0; i < 64; i++)
		keys[i] = (uint8_t)(64 + i);
	memset(iv, 0x77, sizeof(iv));
	CHECK_OK(dsl_crypt_wrap_keys(kr, CF_SUITE_AES_256_GCM,
	    0x1122334455667788ULL, 0, iv, keys, wrapped, tag));
	unhex("a3f973bae1eeb05e7797f61beaafa6208bfbaaff3446b50db72fe0525c41727"
	    "635eda3e8547c13718af63694e069054afd1492d266aa496a8c6c88e169a94e42",
	    want);
	unhex("4749459219a7ac705ab1aa711fbb8a4a", wtag);
	CHECK(memcmp(wrapped, want, 64) == 0);
	CHECK(memcmp(tag, wtag, 16) == 0);
}

void test_main(void)
{
	RUN(test_block_key_and_seal);
	RUN(test_key_wrap);
}

/*
 * from cryptography.hazmat.primitives.kdf.hkdf import HKDF
 * from cryptography.hazmat.primitives import hashes
 * from cryptography.hazmat.primitives.ciphers.aead import (AESGCM,
 *     ChaCha20Poly1305, AESCCM)
 * import struct
 * master = bytes(range(32)); salt = bytes([0xa0 + i for i in range(8)])
 * for suite, klen in [(6, 32), (4, 16), (7, 32), (1, 16)]:
 *     info = b"coffer block key v1" + bytes([suite])
 *     k = HKDF(hashes.SHA512(), klen, salt, info).derive(master)
 *     iv = bytes([0x10 + i for i in range(12)])
 *     aad = b"CFBLK1" + bytes([3, 0, 1, 0]) + struct.pack('<III', 0,
 *         4096, 1000)
 *     pt = bytes((i * 7 + 3) & 0xff for i in range(1000))
 *     ct = (AESGCM(k) if suite in (4, 6) else ChaCha20Poly1305(k)
 *         if suite == 7 else AESCCM(k, 16)).encrypt(iv, pt, aad)
 * kr = bytes([0x55 ^ i for i in range(32)])
 * wk = HKDF(hashes.SHA256(), 32, None, b"coffer key wrap").derive(kr)
 * aad = b"CFKEYWRAP1" + struct.pack('<IQI', 6, 0x1122334455667788, 0)
 * ct = AESGCM(wk).encrypt(bytes([0x77] * 12), bytes(range(64, 128)), aad)
 */
