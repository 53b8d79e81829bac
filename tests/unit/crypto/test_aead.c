/*
 * Unit tests for src/crypto/aead.c: the AEAD suites, one-shot and keyed.
 *
 * Every expected value below comes from a publication, named beside it,
 * except the key-wrap vector, whose tag was computed independently (see
 * test_wrap_kat).  The values were re-derived with libgcrypt by
 * kat_gcrypt.c, which shares no code with OpenSSL.
 */
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>

#include "crypto/crypto.h"

/* Hex to bytes; returns the byte count.  Aborts on a malformed vector,
 * which is a bug in this file. */
static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (s[0] && s[1]) {
		unsigned int v;

		if (n >= cap || sscanf(s, "%2x", &v) != 1)
			abort();
		out[n++] = (uint8_t)v;
		s += 2;
	}
	if (*s)
		abort();
	return n;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* A fast non-cryptographic generator for test inputs. */
static uint64_t rng_state = 0x243f6a8885a308d3ULL;
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void fill(uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)rng();
}

static const int all_suites[] = {
	CF_SUITE_AES_128_CCM, CF_SUITE_AES_192_CCM, CF_SUITE_AES_256_CCM,
	CF_SUITE_AES_128_GCM, CF_SUITE_AES_192_GCM, CF_SUITE_AES_256_GCM,
	CF_SUITE_CHACHA20_POLY1305,
};

/* ---- names -------------------------------------------------------------- */

static void test_suite_names(void)
{
	static const struct {
		int suite;
		const char *name;
		int keylen;
	} t[] = {
		{ CF_SUITE_NONE, "off", 0 },
		{ CF_SUITE_AES_128_CCM, "aes-128-ccm", 16 },
		{ CF_SUITE_AES_192_CCM, "aes-192-ccm", 24 },
		{ CF_SUITE_AES_256_CCM, "aes-256-ccm", 32 },
		{ CF_SUITE_AES_128_GCM, "aes-128-gcm", 16 },
		{ CF_SUITE_AES_192_GCM, "aes-192-gcm", 24 },
		{ CF_SUITE_AES_256_GCM, "aes-256-gcm", 32 },
		{ CF_SUITE_CHACHA20_POLY1305, "chacha20-poly1305", 32 },
	};
	size_t i;

	/* The on-disk numbers. */
	CHECK(CF_SUITE_AES_128_CCM == 1 && CF_SUITE_AES_256_GCM == 6 &&
	    CF_SUITE_CHACHA20_POLY1305 == 7);
	for (i = 0; i < CF_ARRAY_SIZE(t); i++) {
		CHECK(strcmp(cf_suite_name(t[i].suite), t[i].name) == 0);
		CHECK_RC(cf_suite_from_name(t[i].name), t[i].suite);
		CHECK_RC(cf_suite_keylen(t[i].suite), t[i].keylen);
	}
	CHECK_RC(cf_suite_from_name("on"), CF_SUITE_AES_256_GCM);
	CHECK_RC(cf_suite_from_name("AES-256-GCM"), -1);
	CHECK_RC(cf_suite_from_name("aes-256-gcm "), -1);
	CHECK_RC(cf_suite_from_name(""), -1);
	CHECK_RC(cf_suite_from_name(NULL), -1);
	CHECK(cf_suite_name(-1) == NULL && cf_suite_name(8) == NULL);
	CHECK_RC(cf_suite_keylen(8), -EINVAL);
	CHECK_RC(cf_suite_keylen(-1), -EINVAL);
}

/* ---- known answers ------------------------------------------------------ */

struct kat {
	const char *src;
	int suite;
	const char *key, *iv, *aad, *pt, *ct, *tag;
};

#define MV_P64 \
	"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" \
	"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
#define MV_P60 \
	"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" \
	"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
#define MV_A "feedfacedeadbeeffeedfacedeadbeefabaddad2"
#define MV_IV "cafebabefacedbaddecaf888"
#define MV_K128 "feffe9928665731c6d6a8f9467308308"
#define MV_K192 MV_K128 "feffe9928665731c"
#define MV_K256 MV_K128 MV_K128
#define Z12 "000000000000000000000000"
#define Z16 "00000000000000000000000000000000"

/*
 * AES-GCM: D. McGrew and J. Viega, "The Galois/Counter Mode of Operation
 * (GCM)", revised submission to NIST, 2005, Appendix B, test cases 1-4,
 * 7-10 and 13-16 (the cases with a 96-bit IV; 5-6, 11-12 and 17-18 use
 * other IV lengths, which coffer never does).
 */
static const struct kat gcm_kats[] = {
	{ "GCM TC1", CF_SUITE_AES_128_GCM, Z16, Z12, "", "", "",
	    "58e2fccefa7e3061367f1d57a4e7455a" },
	{ "GCM TC2", CF_SUITE_AES_128_GCM, Z16, Z12, "", Z16,
	    "0388dace60b6a392f328c2b971b2fe78",
	    "ab6e47d42cec13bdf53a67b21257bddf" },
	{ "GCM TC3", CF_SUITE_AES_128_GCM, MV_K128, MV_IV, "", MV_P64,
	    "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
	    "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
	    "4d5c2af327cd64a62cf35abd2ba6fab4" },
	{ "GCM TC4", CF_SUITE_AES_128_GCM, MV_K128, MV_IV, MV_A, MV_P60,
	    "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
	    "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
	    "5bc94fbc3221a5db94fae95ae7121a47" },
	{ "GCM TC7", CF_SUITE_AES_192_GCM, Z16 "0000000000000000", Z12, "",
	    "", "", "cd33b28ac773f74ba00ed1f312572435" },
	{ "GCM TC8", CF_SUITE_AES_192_GCM, Z16 "0000000000000000", Z12, "",
	    Z16, "98e7247c07f0fe411c267e4384b0f600",
	    "2ff58d80033927ab8ef4d4587514f0fb" },
	{ "GCM TC9", CF_SUITE_AES_192_GCM, MV_K192, MV_IV, "", MV_P64,
	    "3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c"
	    "7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710acade256",
	    "9924a7c8587336bfb118024db8674a14" },
	{ "GCM TC10", CF_SUITE_AES_192_GCM, MV_K192, MV_IV, MV_A, MV_P60,
	    "3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c"
	    "7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710",
	    "2519498e80f1478f37ba55bd6d27618c" },
	{ "GCM TC13", CF_SUITE_AES_256_GCM, Z16 Z16, Z12, "", "", "",
	    "530f8afbc74536b9a963b4f1c4cb738b" },
	{ "GCM TC14", CF_SUITE_AES_256_GCM, Z16 Z16, Z12, "", Z16,
	    "cea7403d4d606b6e074ec5d3baf39d18",
	    "d0d1c8a799996bf0265b98b5d48ab919" },
	{ "GCM TC15", CF_SUITE_AES_256_GCM, MV_K256, MV_IV, "", MV_P64,
	    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
	    "b094dac5d93471bdec1a502270e3cc6c" },
	{ "GCM TC16", CF_SUITE_AES_256_GCM, MV_K256, MV_IV, MV_A, MV_P60,
	    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
	    "76fc6ece0f4e1768cddf8853bb2d551b" },
};

/*
 * AES-CCM with a 96-bit nonce and a 128-bit tag, the only shape coffer
 * uses.  NIST's SP 800-38C examples use other nonce and tag lengths, so
 * these come from Project Wycheproof (C2SP/wycheproof,
 * testvectors_v1/aes_ccm_test.json, groups ivSize 96 / tagSize 128 for
 * 128-, 192- and 256-bit keys), by tcId: empty message, 17-byte message,
 * 64-byte message, AAD only, AAD with a message.
 */
static const struct kat ccm_kats[] = {
	{ "Wycheproof CCM tc1", CF_SUITE_AES_128_CCM,
	    "bedcfb5a011ebc84600fcb296c15af0d", "438a547a94ea88dce46c6c85", "",
	    "", "", "25d1a38495a7dea45bda049705627d10" },
	{ "Wycheproof CCM tc5", CF_SUITE_AES_128_CCM,
	    "c15ed227dd2e237ecd087eaaaad19ea4", "965ff6643116ac1443a2dec7", "",
	    "fee62fde973fe025ad6b322dcdf3c63fc7",
	    "0333df2a86d7f094dd8bce75da6c38c5c1",
	    "417da29df85a1d134feee8aa35569081" },
	{ "Wycheproof CCM tc9", CF_SUITE_AES_128_CCM,
	    "e12260fcd355a51a0d01bb1f6fa538c2", "5dfc37366f5688275147d3f9", "",
	    "d902deeab175c008329a33bfaccd5c0eb3a6a152a1510e7db04fa0aff7ce4288"
	    "530db6a80fa7fea582aa7d46d7d56e708d2bb0c5edd3d26648d336c3620ea55e",
	    "0de44fe54b84359365054a6997478f87b6b761d127a651f7b8003d25e762f7f8"
	    "1cf84b3a471a9377bb388c74c08be894eff10e46365bf76820b7168623966be6",
	    "bb8e261879d6f639aa42d2d50ed750b8" },
	{ "Wycheproof CCM tc13", CF_SUITE_AES_128_CCM,
	    "d97c9b043bdccfd59491a995e78f1696", "ef423240358830df915506a3",
	    "3ddba7b3ab69c8b2", "f047594a5cffda64303a80b2fa6a957169",
	    "e0caf2a9d50f70ecaa43b4a287c3b34a99",
	    "cff4c61882b413b686ff35b63a3a73de" },
	{ "Wycheproof CCM tc14", CF_SUITE_AES_128_CCM,
	    "16be38c05c7bc5c68ee6203871799240", "acca8ae916119e49d87c33a7", "28",
	    "", "", "217d40efd972701fcc33df5362e1ea9c" },
	{ "Wycheproof CCM tc79", CF_SUITE_AES_192_CCM,
	    "5019eb9fef82e5750b631758f0213e3e5fcca12748b40eb4",
	    "ff0ddb0a0d7b36d219da12b5", "", "", "",
	    "2d03f5e8c2e5a1b43c7708dd0cbf0acd" },
	{ "Wycheproof CCM tc83", CF_SUITE_AES_192_CCM,
	    "5e1d28213e092536525bbae09e214af4c891e202b2b4fa4f",
	    "b6be6cd0681235d826aa28ea", "", "53d59433a7db7f41b31ccb6d4a2d789965",
	    "20ebc1f5a2c9f88d1cdb182e81329cc03e",
	    "bc545e91c974a744baeab2dd8ce60960" },
	{ "Wycheproof CCM tc87", CF_SUITE_AES_192_CCM,
	    "ccbd0f509825a5f358a14aac044ae2826bb2c9eaaaaa077f",
	    "9189a71ac359b73c8c08df22", "",
	    "a1ed1007b52e36ec0f70109c68da72ee7b675c855e3e4956d2dcf9d12f675d69"
	    "33f677ddcc58face857699d2e3d90adcb8c6c57c9d88b5dfcf356de4c0b63f0e",
	    "9481ef2ea821b9a7772db8087ec6eeb4f7bb5594b23c0fefd703934a97799603"
	    "6d86832261835017daf456c2d23e7b0a191d6c9bd13d46cf75826a42bc449b83",
	    "888d23a65c25557c6acc2db1dda0abb2" },
	{ "Wycheproof CCM tc91", CF_SUITE_AES_192_CCM,
	    "e258b117c2fdd75587f07b400ae4af3e673a51dcf761e4ca",
	    "5ead03aa8c720d21b77075db", "27702950960b9c79",
	    "afe96113a684bc52a6d962cf2724f6791d",
	    "7830446f333057d996a1a79b21c68d8b43",
	    "72ac478a66f5637563f1f12c1d0267ca" },
	{ "Wycheproof CCM tc104", CF_SUITE_AES_192_CCM,
	    "89be6495c917bd7af0a3b7a6c8a4c6b5cade766d32de3604",
	    "f47f6b65d660f10c043ea641", "f6a28d27686adcbf9ff8ab80ecc1c1",
	    "c3c50f4b38aa3751f4910a44675d37e5",
	    "b19be8ba6ebcdb74d33c2dbdfdc02074",
	    "93bb717061330accc718b4a8ef05ab20" },
	{ "Wycheproof CCM tc157", CF_SUITE_AES_256_CCM,
	    "80ba3192c803ce965ea371d5ff073cf0f43b6a2ab576b208426e11409c09b9b0",
	    "4da5bf8dfd5852c1ea12379d", "", "", "",
	    "6dc4ef59a73ebcabb5e34c0d34d9f2d7" },
	{ "Wycheproof CCM tc161", CF_SUITE_AES_256_CCM,
	    "3b2458d8176e1621c0cc24c0c0e24c1e80d72f7ee9149a4b166176629616d011",
	    "45aaa3e5d16d2d42dc03445d", "", "3ff1514b1c503915918f0c0c31094a6e1f",
	    "202297d36ca62c5a1d4437fafc7b50e764",
	    "665f05a96bf8de45361dbf33c98b0905" },
	{ "Wycheproof CCM tc165", CF_SUITE_AES_256_CCM,
	    "5b1d1035c0b17ee0b0444767f80a25b8c1b741f4b50a4d3052226baa1c6fb701",
	    "d61040a313ed492823cc065b", "",
	    "d096803181beef9e008ff85d5ddc38ddacf0f09ee5f7e07f1e4079cb64d0dc8f"
	    "5e6711cd4921a7887de76e2678fdc67618f1185586bfea9d4c685d50e4bb9a82",
	    "ab758a4c0eb3a57c260195e9c9b5b309b758d07a1eee0ad75821719717cc6728"
	    "f5bf9b117d17b610e675f3202671bf8ff2e5da256986a868f1dcd660f02fcd17",
	    "5229b256a93381b078e04aca6976eb3d" },
	{ "Wycheproof CCM tc169", CF_SUITE_AES_256_CCM,
	    "f60c6a1b625725f76c7037b48fe3577fa7f7b87b1bd5a982176d182306ffb870",
	    "f0384fb876121410633d993d", "9aaf299eeea78f79",
	    "63858ca3e2ce69887b578a3c167b421c9c",
	    "f05e290bbbc61927fa65760648dcca88b0",
	    "b721be96a6b95c0931fb243dd1287c70" },
	{ "Wycheproof CCM tc170", CF_SUITE_AES_256_CCM,
	    "af1ac19b3b84eaaf2603379cdd1dc1aee4a484fdc2c190691afcc5b762f9b526",
	    "daf98f1bd4c071c6b100f9c4", "14", "", "",
	    "e772cc7714efcefbd11508de489f7c61" },
	{ "Wycheproof CCM tc182", CF_SUITE_AES_256_CCM,
	    "8e34cf73d245a1082a920b86364eb896c4946467bcb3d58929fcb36690e6394f",
	    "6f573aa86baa492ba46596df", "bd4cd02fc7502bbdbdf6c9a3cbe8f0",
	    "16ddd23ff53f3d23c06334487040eb47",
	    "c60d2a92e60a1a73a9ce4b2269e13a45",
	    "71fa665b611fed6ef5e67ee827ac206d" },
};

/* RFC 8439 §2.8.2 ("Ladies and Gentlemen of the class of '99 ...") and
 * Appendix A.5 (the Internet-Drafts boilerplate, given there as a
 * decryption example). */
static const struct kat chacha_kats[] = {
	{ "RFC 8439 2.8.2", CF_SUITE_CHACHA20_POLY1305,
	    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
	    "070000004041424344454647", "50515253c0c1c2c3c4c5c6c7",
	    "4c616469657320616e642047656e746c656d656e206f662074686520636c6173"
	    "73206f66202739393a204966204920636f756c64206f6666657220796f75206f"
	    "6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73"
	    "637265656e20776f756c642062652069742e",
	    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
	    "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
	    "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
	    "3ff4def08e4b7a9de576d26586cec64b6116",
	    "1ae10b594f09e26a7e902ecbd0600691" },
	{ "RFC 8439 A.5", CF_SUITE_CHACHA20_POLY1305,
	    "1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0",
	    "000000000102030405060708", "f33388860000000000004e91",
	    /* "Internet-Drafts are draft documents valid for a maximum of
	     * six months and may be updated, replaced, or obsoleted by other
	     * documents at any time. It is inappropriate to use
	     * Internet-Drafts as reference material or to cite them other
	     * than as /<U+201C>work in progress./<U+201D>" in UTF-8 */
	    "496e7465726e65742d4472616674732061726520647261667420646f63756d65"
	    "6e74732076616c696420666f722061206d6178696d756d206f6620736978206d"
	    "6f6e74687320616e64206d617920626520757064617465642c207265706c6163"
	    "65642c206f72206f62736f6c65746564206279206f7468657220646f63756d65"
	    "6e747320617420616e792074696d652e20497420697320696e617070726f7072"
	    "6961746520746f2075736520496e7465726e65742d4472616674732061732072"
	    "65666572656e6365206d6174657269616c206f7220746f206369746520746865"
	    "6d206f74686572207468616e206173202fe2809c776f726b20696e2070726f67"
	    "726573732e2fe2809d",
	    "64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2"
	    "4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf"
	    "332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855"
	    "9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4"
	    "b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e"
	    "af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a"
	    "0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10"
	    "49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29"
	    "a6ad5cb4022b02709b",
	    "eead9d67890cbb22392336fea1851f38" },
};

#define KAT_MAX 512

/*
 * Run one vector every way the API allows: one-shot and keyed, out of
 * place and in place, encrypt and decrypt.  Returns a line number on
 * mismatch (0 when all agree), so the caller can say where.
 */
static int kat_run(const struct kat *v)
{
	uint8_t key[CF_MAX_KEY_LEN], iv[CF_AEAD_IV_LEN], aad[128];
	uint8_t pt[KAT_MAX], ct[KAT_MAX], want_tag[CF_AEAD_TAG_LEN];
	uint8_t out[KAT_MAX], tag[CF_AEAD_TAG_LEN];
	size_t kl, aadlen, len;
	cf_aead_key_t *k = NULL;
	int line = 0;

	kl = unhex(v->key, key, sizeof(key));
	if (unhex(v->iv, iv, sizeof(iv)) != CF_AEAD_IV_LEN ||
	    kl != (size_t)cf_suite_keylen(v->suite))
		return __LINE__;
	aadlen = unhex(v->aad, aad, sizeof(aad));
	len = unhex(v->pt, pt, sizeof(pt));
	if (unhex(v->ct, ct, sizeof(ct)) != len ||
	    unhex(v->tag, want_tag, sizeof(want_tag)) != CF_AEAD_TAG_LEN)
		return __LINE__;

	/* one-shot, out of place */
	memset(out, 0xa5, sizeof(out));
	if (cf_aead_encrypt(v->suite, key, iv, aad, aadlen, pt, len, out,
	    tag) != 0 || memcmp(out, ct, len) != 0 ||
	    memcmp(tag, want_tag, sizeof(tag)) != 0)
		return __LINE__;
	memset(out, 0xa5, sizeof(out));
	if (cf_aead_decrypt(v->suite, key, iv, aad, aadlen, ct, len, out,
	    want_tag) != 0 || memcmp(out, pt, len) != 0)
		return __LINE__;
	/* one-shot, in place */
	memcpy(out, pt, len);
	if (cf_aead_encrypt(v->suite, key, iv, aad, aadlen, out, len, out,
	    tag) != 0 || memcmp(out, ct, len) != 0 ||
	    memcmp(tag, want_tag, sizeof(tag)) != 0)
		return __LINE__;
	if (cf_aead_decrypt(v->suite, key, iv, aad, aadlen, out, len, out,
	    want_tag) != 0 || memcmp(out, pt, len) != 0)
		return __LINE__;
	/* keyed; twice each, so the second call reuses a pooled context */
	if (cf_aead_key_new(v->suite, key, &k) != 0)
		return __LINE__;
	for (int round = 0; round < 2 && !line; round++) {
		memset(out, 0xa5, sizeof(out));
		if (cf_aead_key_encrypt(k, iv, aad, aadlen, pt, len, out,
		    tag) != 0 || memcmp(out, ct, len) != 0 ||
		    memcmp(tag, want_tag, sizeof(tag)) != 0)
			line = __LINE__;
		else if (cf_aead_key_decrypt(k, iv, aad, aadlen, ct, len, out,
		    want_tag) != 0 || memcmp(out, pt, len) != 0)
			line = __LINE__;
	}
	cf_aead_key_free(k);
	return line;
}

static void run_kats(const struct kat *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int line = kat_run(&v[i]);

		if (line) {
			fprintf(stderr, "  %s: mismatch (test_aead.c:%d)\n",
			    v[i].src, line);
			CHECK(line == 0);
		}
	}
}

static void test_gcm_kat(void)
{
	run_kats(gcm_kats, CF_ARRAY_SIZE(gcm_kats));
}

static void test_ccm_kat(void)
{
	run_kats(ccm_kats, CF_ARRAY_SIZE(ccm_kats));
}

static void test_chacha_kat(void)
{
	run_kats(chacha_kats, CF_ARRAY_SIZE(chacha_kats));
}

/*
 * Wycheproof's invalid AES-CCM vectors (ModifiedTag, aes_ccm_test.json):
 * the right ciphertext with a damaged tag must not decrypt.
 */
static void test_ccm_invalid_kat(void)
{
	static const struct kat bad[] = {
		{ "Wycheproof CCM tc52 (bit 0 of tag)", CF_SUITE_AES_128_CCM,
		    "000102030405060708090a0b0c0d0e0f",
		    "505152535455565758595a5b", "",
		    "202122232425262728292a2b2c2d2e2f",
		    "3ee9f3430f3e803c0a46b7a84cd803de",
		    "3d6d5f66430ad65bb034077297f0929a" },
		{ "Wycheproof CCM tc70 (bit 127 of tag)",
		    CF_SUITE_AES_128_CCM, "000102030405060708090a0b0c0d0e0f",
		    "505152535455565758595a5b", "",
		    "202122232425262728292a2b2c2d2e2f",
		    "3ee9f3430f3e803c0a46b7a84cd803de",
		    "3c6d5f66430ad65bb034077297f0921a" },
		{ "Wycheproof CCM tc75 (zero tag)", CF_SUITE_AES_128_CCM,
		    "000102030405060708090a0b0c0d0e0f",
		    "505152535455565758595a5b", "",
		    "202122232425262728292a2b2c2d2e2f",
		    "3ee9f3430f3e803c0a46b7a84cd803de",
		    "00000000000000000000000000000000" },
		{ "Wycheproof CCM tc152 (all tag bits)", CF_SUITE_AES_192_CCM,
		    "000102030405060708090a0b0c0d0e0f1011121314151617",
		    "505152535455565758595a5b", "",
		    "202122232425262728292a2b2c2d2e2f",
		    "ef6720509035750ecafac4b3e4fac356",
		    "8aaa201a4a190d4985416a8a4171b87b" },
		{ "Wycheproof CCM tc153 (zero tag)", CF_SUITE_AES_192_CCM,
		    "000102030405060708090a0b0c0d0e0f1011121314151617",
		    "505152535455565758595a5b", "",
		    "202122232425262728292a2b2c2d2e2f",
		    "ef6720509035750ecafac4b3e4fac356",
		    "00000000000000000000000000000000" },
	};
	size_t i;

	for (i = 0; i < CF_ARRAY_SIZE(bad); i++) {
		uint8_t key[32], iv[12], ct[16], tag[16], out[16];
		cf_aead_key_t *k;

		unhex(bad[i].key, key, sizeof(key));
		unhex(bad[i].iv, iv, sizeof(iv));
		CHECK(unhex(bad[i].ct, ct, sizeof(ct)) == 16);
		unhex(bad[i].tag, tag, sizeof(tag));
		memset(out, 0xa5, sizeof(out));
		CHECK_RC(cf_aead_decrypt(bad[i].suite, key, iv, NULL, 0, ct,
		    16, out, tag), COFFER_EAUTH);
		CHECK(all_zero(out, sizeof(out)));
		CHECK_OK(cf_aead_key_new(bad[i].suite, key, &k));
		memset(out, 0xa5, sizeof(out));
		CHECK_RC(cf_aead_key_decrypt(k, iv, NULL, 0, ct, 16, out, tag),
		    COFFER_EAUTH);
		cf_aead_key_free(k);
		CHECK(all_zero(out, sizeof(out)));
	}
}

/*
 * Key wrap, as the dsl will do it: AES-256-GCM over a 64-byte key blob
 * (master key and HMAC key) under a wrapping key, with AAD covering the
 * parameters stored beside it.
 *
 * Source: the key, IV and 64-byte plaintext are McGrew-Viega GCM test
 * case 15, so the ciphertext is the published one; the AAD is 68 bytes
 * shaped like the dsl's (kat_gen.py, WRAP_AAD), and the tag for it was
 * computed by two independent implementations that agreed: Python's
 * cryptography package (AESGCM) and libgcrypt 1.10 (kat_gcrypt.c).
 */
static void test_wrap_kat(void)
{
	static const struct kat wrap = {
		"wrap", CF_SUITE_AES_256_GCM, MV_K256, MV_IV,
		"636f666665722077726170207631000006000000efcdab8967452301"
		"0100000001000000020000000300000000001000040000001011121314"
		"15161718191a1b1c1d1e1f",
		MV_P64,
		"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
		"8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
		"7a983479097b3664e4e401350ad7a25c",
	};
	uint8_t key[32], iv[12], aad[68], blob[64], ct[64], tag[16], out[64];
	size_t aadlen;
	int line = kat_run(&wrap);

	if (line)
		fprintf(stderr, "  wrap: mismatch (test_aead.c:%d)\n", line);
	CHECK(line == 0);
	/* Unwrapping with any parameter changed fails and leaves no key. */
	unhex(wrap.key, key, sizeof(key));
	unhex(wrap.iv, iv, sizeof(iv));
	aadlen = unhex(wrap.aad, aad, sizeof(aad));
	CHECK(aadlen == 68);
	unhex(wrap.pt, blob, sizeof(blob));
	CHECK_OK(cf_aead_encrypt(CF_SUITE_AES_256_GCM, key, iv, aad, aadlen,
	    blob, 64, ct, tag));
	aad[16] ^= 1;             /* the suite byte */
	memset(out, 0xa5, sizeof(out));
	CHECK_RC(cf_aead_decrypt(CF_SUITE_AES_256_GCM, key, iv, aad, aadlen,
	    ct, 64, out, tag), COFFER_EAUTH);
	CHECK(all_zero(out, sizeof(out)));
	aad[16] ^= 1;
	aad[44] ^= 0x80;          /* the Argon2id memory parameter */
	CHECK_RC(cf_aead_decrypt(CF_SUITE_AES_256_GCM, key, iv, aad, aadlen,
	    ct, 64, out, tag), COFFER_EAUTH);
	aad[44] ^= 0x80;
	CHECK_OK(cf_aead_decrypt(CF_SUITE_AES_256_GCM, key, iv, aad, aadlen,
	    ct, 64, out, tag));
	CHECK(memcmp(out, blob, 64) == 0);
	cf_wipe(out, sizeof(out));
}

/* ---- tampering ---------------------------------------------------------- */

/* Decrypt must fail with COFFER_EAUTH and leave out zeroed.  Uses the
 * keyed context on odd calls and the one-shot on even ones. */
static int expect_auth_fail(int suite, cf_aead_key_t *k, const uint8_t *key,
    const uint8_t *iv, const uint8_t *aad, size_t aadlen, const uint8_t *ct,
    size_t len, const uint8_t *tag, uint8_t *out, int which)
{
	int rc;

	memset(out, 0xa5, len);
	if (which & 1)
		rc = cf_aead_key_decrypt(k, iv, aad, aadlen, ct, len, out,
		    tag);
	else
		rc = cf_aead_decrypt(suite, key, iv, aad, aadlen, ct, len, out,
		    tag);
	return rc == COFFER_EAUTH && all_zero(out, len);
}

static void test_tamper(void)
{
	enum { LEN = 48, AADLEN = 20 };
	size_t s;

	for (s = 0; s < CF_ARRAY_SIZE(all_suites); s++) {
		int suite = all_suites[s];
		uint8_t key[32], iv[12], aad[AADLEN], pt[LEN], ct[LEN];
		uint8_t tag[16], out[LEN];
		cf_aead_key_t *k;
		size_t len, i;
		int n = 0;

		fill(key, sizeof(key));
		fill(iv, sizeof(iv));
		fill(aad, sizeof(aad));
		fill(pt, sizeof(pt));
		CHECK_OK(cf_aead_key_new(suite, key, &k));
		/* A full message and an empty one (tag and AAD only). */
		for (len = LEN; ; len = 0) {
			CHECK_OK(cf_aead_encrypt(suite, key, iv, aad, AADLEN, pt,
			    len, ct, tag));
			for (i = 0; i < len * 8; i++) {
				ct[i / 8] ^= (uint8_t)(1u << (i % 8));
				CHECK(expect_auth_fail(suite, k, key, iv, aad,
				    AADLEN, ct, len, tag, out, n++));
				ct[i / 8] ^= (uint8_t)(1u << (i % 8));
			}
			for (i = 0; i < sizeof(tag) * 8; i++) {
				tag[i / 8] ^= (uint8_t)(1u << (i % 8));
				CHECK(expect_auth_fail(suite, k, key, iv, aad,
				    AADLEN, ct, len, tag, out, n++));
				tag[i / 8] ^= (uint8_t)(1u << (i % 8));
			}
			for (i = 0; i < sizeof(aad) * 8; i++) {
				aad[i / 8] ^= (uint8_t)(1u << (i % 8));
				CHECK(expect_auth_fail(suite, k, key, iv, aad,
				    AADLEN, ct, len, tag, out, n++));
				aad[i / 8] ^= (uint8_t)(1u << (i % 8));
			}
			for (i = 0; i < sizeof(iv) * 8; i++) {
				iv[i / 8] ^= (uint8_t)(1u << (i % 8));
				CHECK(expect_auth_fail(suite, k, key, iv, aad,
				    AADLEN, ct, len, tag, out, n++));
				iv[i / 8] ^= (uint8_t)(1u << (i % 8));
			}
			/* AAD cut short, AAD dropped, message cut short. */
			CHECK(expect_auth_fail(suite, k, key, iv, aad,
			    AADLEN - 1, ct, len, tag, out, n++));
			CHECK(expect_auth_fail(suite, k, key, iv, NULL, 0, ct,
			    len, tag, out, n++));
			if (len > 0)
				CHECK(expect_auth_fail(suite, k, key, iv, aad,
				    AADLEN, ct, len - 1, tag, out, n++));
			/* A wrong key. */
			key[0] ^= 1;
			CHECK(expect_auth_fail(suite, k, key, iv, aad, AADLEN,
			    ct, len, tag, out, 0));
			key[0] ^= 1;
			/* After all that the untouched message still opens,
			 * through both paths. */
			CHECK_OK(cf_aead_decrypt(suite, key, iv, aad, AADLEN, ct,
			    len, out, tag));
			CHECK(memcmp(out, pt, len) == 0);
			CHECK_OK(cf_aead_key_decrypt(k, iv, aad, AADLEN, ct,
			    len, out, tag));
			CHECK(memcmp(out, pt, len) == 0);
			if (len == 0)
				break;
		}
		/* In place: a failure wipes the buffer that held the
		 * ciphertext. */
		CHECK_OK(cf_aead_encrypt(suite, key, iv, aad, AADLEN, pt, LEN,
		    ct, tag));
		ct[LEN / 2] ^= 0x10;
		CHECK_RC(cf_aead_key_decrypt(k, iv, aad, AADLEN, ct, LEN, ct,
		    tag), COFFER_EAUTH);
		CHECK(all_zero(ct, LEN));
		cf_aead_key_free(k);
	}
}

/* ---- round trips -------------------------------------------------------- */

/*
 * Every suite, every length 0..1000 and 128 KiB: keyed and one-shot give
 * the same bytes, in place equals out of place, and decryption returns
 * the plaintext.
 */
static void test_roundtrip(void)
{
	enum { BIG = 128 * 1024 };
	uint8_t *pt = malloc(BIG), *ct = malloc(BIG), *ct2 = malloc(BIG);
	uint8_t *out = malloc(BIG);
	size_t s;

	CHECK(pt && ct && ct2 && out);
	fill(pt, BIG);
	for (s = 0; s < CF_ARRAY_SIZE(all_suites); s++) {
		int suite = all_suites[s];
		uint8_t key[32], iv[12], aad[37], tag[16], tag2[16];
		cf_aead_key_t *k;
		size_t len;

		fill(key, sizeof(key));
		fill(aad, sizeof(aad));
		CHECK_OK(cf_aead_key_new(suite, key, &k));
		CHECK_RC(cf_aead_key_suite(k), suite);
		for (len = 0; len <= 1001; len++) {
			size_t n = len == 1001 ? BIG : len;
			size_t aadlen = len % sizeof(aad);

			fill(iv, sizeof(iv));
			CHECK_OK(cf_aead_encrypt(suite, key, iv, aad, aadlen,
			    pt, n, ct, tag));
			CHECK_OK(cf_aead_key_encrypt(k, iv, aad, aadlen, pt, n,
			    ct2, tag2));
			CHECK(memcmp(ct, ct2, n) == 0);
			CHECK(memcmp(tag, tag2, sizeof(tag)) == 0);
			if (n >= 16)
				CHECK(memcmp(ct, pt, n) != 0);
			/* in place */
			memcpy(out, pt, n);
			CHECK_OK(cf_aead_key_encrypt(k, iv, aad, aadlen, out, n,
			    out, tag2));
			CHECK(memcmp(out, ct, n) == 0);
			CHECK(memcmp(tag, tag2, sizeof(tag)) == 0);
			CHECK_OK(cf_aead_key_decrypt(k, iv, aad, aadlen, out, n,
			    out, tag));
			CHECK(memcmp(out, pt, n) == 0);
			memset(out, 0, n);
			CHECK_OK(cf_aead_decrypt(suite, key, iv, aad, aadlen, ct,
			    n, out, tag));
			CHECK(memcmp(out, pt, n) == 0);
		}
		cf_aead_key_free(k);
	}
	free(pt);
	free(ct);
	free(ct2);
	free(out);
}

/* CCM's length limit with a 12-byte nonce: 2^24 - 1 works, 2^24 is
 * refused before anything is touched. */
static void test_ccm_limit(void)
{
	size_t max = CF_AEAD_CCM_MAX_LEN;
	uint8_t *buf = calloc(1, max + 1);
	uint8_t key[16] = { 1 }, iv[12] = { 2 }, tag[16], tag2[16];
	cf_aead_key_t *k;

	CHECK(buf != NULL);
	CHECK_RC(cf_aead_encrypt(CF_SUITE_AES_128_CCM, key, iv, NULL, 0, buf,
	    max + 1, buf, tag), -EMSGSIZE);
	CHECK_OK(cf_aead_key_new(CF_SUITE_AES_128_CCM, key, &k));
	CHECK_RC(cf_aead_key_decrypt(k, iv, NULL, 0, buf, max + 1, buf, tag),
	    -EMSGSIZE);
	CHECK_OK(cf_aead_key_encrypt(k, iv, NULL, 0, buf, max, buf, tag));
	CHECK_OK(cf_aead_decrypt(CF_SUITE_AES_128_CCM, key, iv, NULL, 0, buf,
	    max, buf, tag));
	CHECK(all_zero(buf, max));
	/* GCM has no such limit. */
	CHECK_OK(cf_aead_encrypt(CF_SUITE_AES_128_GCM, key, iv, NULL, 0, buf,
	    max + 1, buf, tag2));
	cf_aead_key_free(k);
	free(buf);
}

static void test_bad_args(void)
{
	uint8_t key[32] = { 0 }, iv[12] = { 0 }, buf[16] = { 0 }, tag[16];
	cf_aead_key_t *k = (cf_aead_key_t *)buf;

	CHECK_RC(cf_aead_encrypt(CF_SUITE_NONE, key, iv, NULL, 0, buf, 16, buf,
	    tag), -EINVAL);
	CHECK_RC(cf_aead_encrypt(8, key, iv, NULL, 0, buf, 16, buf, tag),
	    -EINVAL);
	CHECK_RC(cf_aead_decrypt(-1, key, iv, NULL, 0, buf, 16, buf, tag),
	    -EINVAL);
	CHECK_RC(cf_aead_encrypt(CF_SUITE_AES_256_GCM, NULL, iv, NULL, 0, buf,
	    16, buf, tag), -EINVAL);
	CHECK_RC(cf_aead_encrypt(CF_SUITE_AES_256_GCM, key, NULL, NULL, 0, buf,
	    16, buf, tag), -EINVAL);
	CHECK_RC(cf_aead_encrypt(CF_SUITE_AES_256_GCM, key, iv, NULL, 0, NULL,
	    16, buf, tag), -EINVAL);
	CHECK_RC(cf_aead_encrypt(CF_SUITE_AES_256_GCM, key, iv, NULL, 4, buf,
	    16, buf, tag), -EINVAL);
	CHECK_RC(cf_aead_decrypt(CF_SUITE_AES_256_GCM, key, iv, NULL, 0, buf,
	    16, NULL, tag), -EINVAL);
	/* Empty everything is fine (a tag over nothing). */
	CHECK_OK(cf_aead_encrypt(CF_SUITE_AES_256_GCM, key, iv, NULL, 0, NULL,
	    0, NULL, tag));
	CHECK_OK(cf_aead_decrypt(CF_SUITE_AES_256_GCM, key, iv, NULL, 0, NULL,
	    0, NULL, tag));

	CHECK_RC(cf_aead_key_new(CF_SUITE_NONE, key, &k), -EINVAL);
	CHECK(k == NULL);
	CHECK_RC(cf_aead_key_new(CF_SUITE_AES_256_GCM, NULL, &k), -EINVAL);
	CHECK_RC(cf_aead_key_new(CF_SUITE_AES_256_GCM, key, NULL), -EINVAL);
	CHECK_RC(cf_aead_key_encrypt(NULL, iv, NULL, 0, buf, 16, buf, tag),
	    -EINVAL);
	CHECK_RC(cf_aead_key_decrypt(NULL, iv, NULL, 0, buf, 16, buf, tag),
	    -EINVAL);
	CHECK_RC(cf_aead_key_suite(NULL), CF_SUITE_NONE);
	cf_aead_key_free(NULL);
}

/* The key copy is the context's own: wiping the caller's bytes after
 * cf_aead_key_new changes nothing. */
static void test_key_copied(void)
{
	uint8_t key[32], iv[12] = { 7 }, pt[100], ct[100], ct2[100];
	uint8_t tag[16], tag2[16];
	cf_aead_key_t *k;

	fill(key, sizeof(key));
	fill(pt, sizeof(pt));
	CHECK_OK(cf_aead_encrypt(CF_SUITE_CHACHA20_POLY1305, key, iv, NULL, 0,
	    pt, sizeof(pt), ct, tag));
	CHECK_OK(cf_aead_key_new(CF_SUITE_CHACHA20_POLY1305, key, &k));
	cf_wipe(key, sizeof(key));
	CHECK_OK(cf_aead_key_encrypt(k, iv, NULL, 0, pt, sizeof(pt), ct2,
	    tag2));
	cf_aead_key_free(k);
	CHECK(memcmp(ct, ct2, sizeof(ct)) == 0);
	CHECK(memcmp(tag, tag2, sizeof(tag)) == 0);
}

/* ---- threads ------------------------------------------------------------ */

enum { NTHREADS = 4, THREAD_OPS = 300 };

struct thr {
	cf_aead_key_t *k;
	int suite;
	const uint8_t *key;
	int id;
	int bad;                  /* operations that went wrong */
	pthread_barrier_t *start;
};

/* Each thread encrypts its own messages with the shared keyed context,
 * checks them against the one-shot result, decrypts them, and checks
 * that a damaged one is refused. */
static void *thr_main(void *arg)
{
	struct thr *t = arg;
	uint8_t pt[4096], ct[4096], ct2[4096], out[4096], aad[16];
	uint8_t iv[12] = { 0 }, tag[16], tag2[16];
	uint64_t x = 0x9e3779b97f4a7c15ULL * (uint64_t)(t->id + 1);
	int i;

	(void)pthread_barrier_wait(t->start);
	for (i = 0; i < THREAD_OPS; i++) {
		size_t len, j;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		len = (size_t)(x % sizeof(pt));
		for (j = 0; j < len; j++)
			pt[j] = (uint8_t)(x >> (j % 56));
		memset(aad, t->id, sizeof(aad));
		/* distinct IVs: thread id and operation number */
		iv[0] = (uint8_t)t->id;
		le32_put(iv + 4, (uint32_t)i);
		if (cf_aead_key_encrypt(t->k, iv, aad, sizeof(aad), pt, len,
		    ct, tag) != 0 ||
		    cf_aead_encrypt(t->suite, t->key, iv, aad, sizeof(aad), pt,
		    len, ct2, tag2) != 0 ||
		    memcmp(ct, ct2, len) != 0 || memcmp(tag, tag2, 16) != 0) {
			t->bad++;
			continue;
		}
		if (cf_aead_key_decrypt(t->k, iv, aad, sizeof(aad), ct, len,
		    out, tag) != 0 || memcmp(out, pt, len) != 0)
			t->bad++;
		if (i % 16 == 0) {
			tag[i % 16] ^= 1;
			if (cf_aead_key_decrypt(t->k, iv, aad, sizeof(aad), ct,
			    len, out, tag) != COFFER_EAUTH)
				t->bad++;
		}
	}
	return NULL;
}

static void test_threads(void)
{
	size_t s;

	for (s = 0; s < CF_ARRAY_SIZE(all_suites); s++) {
		pthread_t tid[NTHREADS];
		struct thr t[NTHREADS];
		pthread_barrier_t start;
		uint8_t key[32];
		cf_aead_key_t *k;
		int i;

		fill(key, sizeof(key));
		CHECK_OK(cf_aead_key_new(all_suites[s], key, &k));
		CHECK(pthread_barrier_init(&start, NULL, NTHREADS) == 0);
		for (i = 0; i < NTHREADS; i++) {
			t[i] = (struct thr){ .k = k, .suite = all_suites[s],
			    .key = key, .id = i, .start = &start };
			CHECK(pthread_create(&tid[i], NULL, thr_main,
			    &t[i]) == 0);
		}
		for (i = 0; i < NTHREADS; i++) {
			(void)pthread_join(tid[i], NULL);
			CHECK_RC(t[i].bad, 0);
		}
		(void)pthread_barrier_destroy(&start);
		cf_aead_key_free(k);
	}
}

void test_main(void)
{
	RUN(test_suite_names);
	RUN(test_gcm_kat);
	RUN(test_ccm_kat);
	RUN(test_ccm_invalid_kat);
	RUN(test_chacha_kat);
	RUN(test_wrap_kat);
	RUN(test_tamper);
	RUN(test_roundtrip);
	RUN(test_ccm_limit);
	RUN(test_bad_args);
	RUN(test_key_copied);
	RUN(test_threads);
}
