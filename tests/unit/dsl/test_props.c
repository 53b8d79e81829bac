/* Unit tests for the property table (src/dsl/props.c). */
#include "harness.h"

#include <string.h>

#include "dsl/props.h"

static const cf_propdef_t *P(const char *name)
{
	return cf_prop_find(name);
}

static void test_table_consistent(void)
{
	CHECK(cf_prop_count() == CF_PROP_NPROPS);
	CHECK(cf_prop_at(-1) == NULL);
	CHECK(cf_prop_at(cf_prop_count()) == NULL);
	for (int i = 0; i < cf_prop_count(); i++) {
		const cf_propdef_t *d = cf_prop_at(i);
		CHECK(d != NULL);
		CHECK(d->id == i);
		CHECK(cf_prop_find(d->name) == d);
		CHECK(d->applies != 0);
		CHECK(d->values != NULL);
		/* names are unique */
		for (int j = 0; j < i; j++)
			CHECK(strcmp(cf_prop_at(j)->name, d->name) != 0);
		/* settable properties: the default survives format+parse */
		if (d->flags & CF_PF_READONLY)
			continue;
		if (d->id == CF_PROP_VOLSIZE)
			continue;       /* no default: given at creation */
		char txt[64], canon[64];
		uint64_t num = 0;
		cf_prop_format(d, d->def_num, d->def_str, 0, txt, sizeof(txt));
		CHECK_OK(cf_prop_parse(d, txt, &num, canon, sizeof(canon),
		    NULL));
		CHECK(num == d->def_num);
		cf_prop_format(d, d->def_num, d->def_str, 1, txt, sizeof(txt));
		CHECK_OK(cf_prop_parse(d, txt, &num, canon, sizeof(canon),
		    NULL));
		CHECK(num == d->def_num);
	}
}

static void test_find(void)
{
	CHECK(P("compression") != NULL);
	CHECK(P("compression")->id == CF_PROP_COMPRESSION);
	CHECK(P("nosuch") == NULL);
	CHECK(P("") == NULL);
	CHECK(P(NULL) == NULL);
	CHECK(P("Compression") == NULL);        /* names are lower case */
}

static void test_flags(void)
{
	CHECK(P("used")->flags & CF_PF_READONLY);
	CHECK(P("type")->flags & CF_PF_READONLY);
	CHECK(P("compression")->flags & CF_PF_INHERIT);
	CHECK(P("recordsize")->flags & CF_PF_INHERIT);
	CHECK(!(P("volsize")->flags & CF_PF_INHERIT));
	CHECK(P("volblocksize")->flags & CF_PF_CREATEONLY);
	CHECK(cf_prop_applies(P("recordsize"), COFFER_TYPE_FILESYSTEM));
	CHECK(!cf_prop_applies(P("recordsize"), COFFER_TYPE_VOLUME));
	CHECK(cf_prop_applies(P("volsize"), COFFER_TYPE_VOLUME));
	CHECK(!cf_prop_applies(P("volsize"), COFFER_TYPE_FILESYSTEM));
	CHECK(!cf_prop_applies(P("available"), COFFER_TYPE_SNAPSHOT));
	CHECK(cf_prop_applies(P("referenced"), COFFER_TYPE_SNAPSHOT));
}

static void test_numbers(void)
{
	const cf_propdef_t *rs = P("recordsize");
	uint64_t v = 0;
	const char *why = NULL;

	CHECK_OK(cf_prop_parse(rs, "128K", &v, NULL, 0, NULL));
	CHECK(v == 131072);
	CHECK_OK(cf_prop_parse(rs, "128k", &v, NULL, 0, NULL));
	CHECK(v == 131072);
	CHECK_OK(cf_prop_parse(rs, "4KiB", &v, NULL, 0, NULL));
	CHECK(v == 4096);
	CHECK_OK(cf_prop_parse(rs, "1M", &v, NULL, 0, NULL));
	CHECK(v == 1048576);
	CHECK_OK(cf_prop_parse(rs, "512", &v, NULL, 0, NULL));
	CHECK(v == 512);
	CHECK_OK(cf_prop_parse(rs, "512B", &v, NULL, 0, NULL));
	CHECK(v == 512);
	CHECK_OK(cf_prop_parse(rs, "0.5K", &v, NULL, 0, NULL));
	CHECK(v == 512);

	CHECK_RC(cf_prop_parse(rs, "256", &v, NULL, 0, &why), COFFER_EBADPROP);
	CHECK(why && strstr(why, "power of 2"));
	CHECK_RC(cf_prop_parse(rs, "2M", &v, NULL, 0, NULL), COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(rs, "100K", &v, NULL, 0, NULL),
	    COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(rs, "", &v, NULL, 0, NULL), COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(rs, "K", &v, NULL, 0, NULL), COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(rs, "-512", &v, NULL, 0, NULL),
	    COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(rs, "128KX", &v, NULL, 0, NULL),
	    COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(rs, "1.5", &v, NULL, 0, &why),
	    COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(rs, "1.", &v, NULL, 0, NULL), COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(rs, " 512", &v, NULL, 0, NULL),
	    COFFER_EBADPROP);

	const cf_propdef_t *vs = P("volsize");
	CHECK_OK(cf_prop_parse(vs, "1.5G", &v, NULL, 0, NULL));
	CHECK(v == (UINT64_C(3) << 29));
	CHECK_RC(cf_prop_parse(vs, "16E", &v, NULL, 0, &why), COFFER_EBADPROP);
	CHECK_OK(cf_prop_parse(vs, "15E", &v, NULL, 0, NULL));
	CHECK(v == (UINT64_C(15) << 60));
	CHECK_RC(cf_prop_parse(vs, "99999999999999999999", &v, NULL, 0,
	    NULL), COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(vs, "0", &v, NULL, 0, &why), COFFER_EBADPROP);
	CHECK(why && strstr(why, "greater than zero"));

	const cf_propdef_t *vb = P("volblocksize");
	CHECK_OK(cf_prop_parse(vb, "128K", &v, NULL, 0, NULL));
	CHECK_RC(cf_prop_parse(vb, "256K", &v, NULL, 0, NULL),
	    COFFER_EBADPROP);
	CHECK_OK(cf_prop_parse(vb, "512", &v, NULL, 0, NULL));

	const cf_propdef_t *cp = P("copies");
	CHECK_OK(cf_prop_parse(cp, "3", &v, NULL, 0, NULL));
	CHECK(v == 3);
	CHECK_RC(cf_prop_parse(cp, "0", &v, NULL, 0, NULL), COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(cp, "4", &v, NULL, 0, NULL), COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(cp, "1K", &v, NULL, 0, NULL), COFFER_EBADPROP);
}

static void test_indexes(void)
{
	const cf_propdef_t *c = P("compression");
	char s[32];
	uint64_t v = 99;
	const char *why = NULL;

	CHECK_OK(cf_prop_parse(c, "on", &v, s, sizeof(s), NULL));
	CHECK(v == CF_COMPRESS_ON && strcmp(s, "on") == 0);
	CHECK(cf_prop_effective(c, v) == CF_COMPRESS_LZ4);
	CHECK_OK(cf_prop_parse(c, "LZ4", &v, s, sizeof(s), NULL));
	CHECK(v == CF_COMPRESS_LZ4 && strcmp(s, "lz4") == 0);
	CHECK_OK(cf_prop_parse(c, "zstd", &v, s, sizeof(s), NULL));
	CHECK(cf_prop_effective(c, v) == CF_COMPRESS_ZSTD_N(3));
	CHECK_OK(cf_prop_parse(c, "zstd-19", &v, s, sizeof(s), NULL));
	CHECK(CF_COMPRESS_IS_ZSTD(v) && CF_COMPRESS_ZSTD_LEVEL(v) == 19);
	CHECK(cf_prop_effective(c, v) == v);
	CHECK_OK(cf_prop_parse(c, "off", &v, s, sizeof(s), NULL));
	CHECK(v == CF_COMPRESS_OFF);
	CHECK_RC(cf_prop_parse(c, "zstd-20", &v, s, sizeof(s), &why),
	    COFFER_EBADPROP);
	CHECK(why && strstr(why, "lz4"));
	CHECK_RC(cf_prop_parse(c, "zstd-0", &v, s, sizeof(s), NULL),
	    COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(c, "gzip", &v, s, sizeof(s), NULL),
	    COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(c, "", &v, s, sizeof(s), NULL),
	    COFFER_EBADPROP);
	/* too small an output buffer is an error, not a truncation */
	CHECK_RC(cf_prop_parse(c, "zstd-12", &v, s, 4, NULL),
	    COFFER_EBADPROP);

	const cf_propdef_t *k = P("checksum");
	CHECK_OK(cf_prop_parse(k, "on", &v, s, sizeof(s), NULL));
	CHECK(cf_prop_effective(k, v) == CF_CHECKSUM_FLETCHER4);
	CHECK_OK(cf_prop_parse(k, "sha256", &v, s, sizeof(s), NULL));
	CHECK(cf_prop_effective(k, v) == CF_CHECKSUM_SHA256);
	CHECK_RC(cf_prop_parse(k, "off", &v, s, sizeof(s), NULL),
	    COFFER_EBADPROP);

	const cf_propdef_t *r = P("readonly");
	CHECK_OK(cf_prop_parse(r, "On", &v, s, sizeof(s), NULL));
	CHECK(v == CF_ON && strcmp(s, "on") == 0);
	CHECK_RC(cf_prop_parse(r, "yes", &v, s, sizeof(s), NULL),
	    COFFER_EBADPROP);
}

static void test_format(void)
{
	char out[64];

	cf_prop_format(P("used"), 0, NULL, 0, out, sizeof(out));
	CHECK(strcmp(out, "0B") == 0);
	cf_prop_format(P("used"), 512, NULL, 0, out, sizeof(out));
	CHECK(strcmp(out, "512B") == 0);
	cf_prop_format(P("used"), 131072, NULL, 0, out, sizeof(out));
	CHECK(strcmp(out, "128K") == 0);
	cf_prop_format(P("used"), 1536, NULL, 0, out, sizeof(out));
	CHECK(strcmp(out, "1.50K") == 0);
	cf_prop_format(P("used"), (UINT64_C(3) << 29), NULL, 0, out,
	    sizeof(out));
	CHECK(strcmp(out, "1.50G") == 0);
	cf_prop_format(P("used"), 39006208, NULL, 0, out, sizeof(out));
	CHECK(strcmp(out, "37.2M") == 0);
	cf_prop_format(P("used"), 123731968, NULL, 0, out, sizeof(out));
	CHECK(strcmp(out, "118M") == 0);
	cf_prop_format(P("used"), 1048575, NULL, 0, out, sizeof(out));
	CHECK(strcmp(out, "1024K") == 0);
	cf_prop_format(P("used"), UINT64_MAX, NULL, 0, out, sizeof(out));
	CHECK(strcmp(out, "16.0E") == 0);
	cf_prop_format(P("used"), 1536, NULL, 1, out, sizeof(out));
	CHECK(strcmp(out, "1536") == 0);

	cf_prop_format(P("compressratio"), 150, NULL, 0, out, sizeof(out));
	CHECK(strcmp(out, "1.50x") == 0);
	cf_prop_format(P("compressratio"), 205, NULL, 1, out, sizeof(out));
	CHECK(strcmp(out, "2.05") == 0);

	cf_prop_format(P("copies"), 2, NULL, 0, out, sizeof(out));
	CHECK(strcmp(out, "2") == 0);
	cf_prop_format(P("guid"), 12345678901234ULL, NULL, 0, out,
	    sizeof(out));
	CHECK(strcmp(out, "12345678901234") == 0);

	cf_prop_format(P("compression"), CF_COMPRESS_ZSTD_N(7), NULL, 0, out,
	    sizeof(out));
	CHECK(strcmp(out, "zstd-7") == 0);
	cf_prop_format(P("compression"), 0, "lz4", 0, out, sizeof(out));
	CHECK(strcmp(out, "lz4") == 0);
	cf_prop_format(P("type"), COFFER_TYPE_VOLUME, NULL, 0, out,
	    sizeof(out));
	CHECK(strcmp(out, "volume") == 0);
	cf_prop_format(P("name"), 0, "tank/a", 0, out, sizeof(out));
	CHECK(strcmp(out, "tank/a") == 0);

	cf_prop_format(P("creation"), 1700000000, NULL, 1, out, sizeof(out));
	CHECK(strcmp(out, "1700000000") == 0);
	cf_prop_format(P("creation"), 1700000000, NULL, 0, out, sizeof(out));
	CHECK(strlen(out) > 10 && strstr(out, "2023"));

	/* truncation is safe */
	cf_prop_format(P("used"), 1536, NULL, 1, out, 3);
	CHECK(strcmp(out, "15") == 0);
}

static void test_ratio_parse(void)
{
	const cf_propdef_t *r = P("compressratio");
	uint64_t v = 0;

	CHECK_OK(cf_prop_parse(r, "1.50x", &v, NULL, 0, NULL));
	CHECK(v == 150);
	CHECK_OK(cf_prop_parse(r, "2.5", &v, NULL, 0, NULL));
	CHECK(v == 250);
	CHECK_OK(cf_prop_parse(r, "3", &v, NULL, 0, NULL));
	CHECK(v == 300);
	CHECK_RC(cf_prop_parse(r, "1.505", &v, NULL, 0, NULL),
	    COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(r, "x", &v, NULL, 0, NULL), COFFER_EBADPROP);
}

static void test_check_set(void)
{
	const char *why = NULL;

	CHECK_RC(cf_prop_check_set(P("used"), COFFER_TYPE_FILESYSTEM, 0, &why),
	    COFFER_EBADPROP);
	CHECK(why && strstr(why, "read-only"));
	CHECK_OK(cf_prop_check_set(P("compression"), COFFER_TYPE_FILESYSTEM,
	    0, NULL));
	CHECK_OK(cf_prop_check_set(P("compression"), COFFER_TYPE_VOLUME, 0,
	    NULL));
	CHECK_RC(cf_prop_check_set(P("compression"), COFFER_TYPE_SNAPSHOT, 0,
	    &why), COFFER_EBADPROP);
	CHECK(why && strstr(why, "snapshot"));
	CHECK_RC(cf_prop_check_set(P("recordsize"), COFFER_TYPE_VOLUME, 0,
	    &why), COFFER_EBADPROP);
	CHECK(why && strstr(why, "volumes"));
	CHECK_RC(cf_prop_check_set(P("volsize"), COFFER_TYPE_FILESYSTEM, 0,
	    &why), COFFER_EBADPROP);
	CHECK(why && strstr(why, "filesystems"));
	CHECK_OK(cf_prop_check_set(P("volblocksize"), COFFER_TYPE_VOLUME, 1,
	    NULL));
	CHECK_RC(cf_prop_check_set(P("volblocksize"), COFFER_TYPE_VOLUME, 0,
	    &why), COFFER_EBADPROP);
	CHECK(why && strstr(why, "creation"));
	CHECK_OK(cf_prop_check_set(P("volsize"), COFFER_TYPE_VOLUME, 0, NULL));
}

static void test_encryption(void)
{
	static const struct {
		const char *name;
		uint64_t code;
	} suites[] = {
		{ "off", CF_CRYPT_OFF },
		{ "aes-128-ccm", 1 }, { "aes-192-ccm", 2 },
		{ "aes-256-ccm", 3 }, { "aes-128-gcm", 4 },
		{ "aes-192-gcm", 5 }, { "aes-256-gcm", 6 },
		{ "chacha20-poly1305", 7 },
	};
	const cf_propdef_t *e = P("encryption");
	char s[64], out[64];
	uint64_t v = 99;
	const char *why = NULL;

	CHECK(e != NULL && e->id == CF_PROP_ENCRYPTION);
	CHECK(e->flags & CF_PF_INHERIT);
	CHECK(e->flags & CF_PF_CREATEONLY);
	CHECK(!(e->flags & CF_PF_READONLY));
	CHECK(e->type == CF_PTYPE_INDEX);
	CHECK(e->def_num == CF_CRYPT_OFF && strcmp(e->def_str, "off") == 0);
	CHECK(cf_prop_applies(e, COFFER_TYPE_SNAPSHOT));
	CHECK(cf_prop_applies(e, COFFER_TYPE_VOLUME));
	/* the codes are the crypto layer's suite numbers */
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		CHECK_OK(cf_prop_parse(e, suites[i].name, &v, s, sizeof(s),
		    NULL));
		CHECK(v == suites[i].code);
		CHECK(strcmp(s, suites[i].name) == 0);
		CHECK(cf_prop_effective(e, v) == v);
		cf_prop_format(e, v, NULL, 0, out, sizeof(out));
		CHECK(strcmp(out, suites[i].name) == 0);
	}
	CHECK(CF_CRYPT_AES_256_GCM == 6 && CF_CRYPT_CHACHA20_POLY1305 == 7);
	/* "on" is stored and shown as set, and means aes-256-gcm */
	CHECK_OK(cf_prop_parse(e, "ON", &v, s, sizeof(s), NULL));
	CHECK(v == CF_CRYPT_ON && strcmp(s, "on") == 0);
	CHECK(v != CF_CRYPT_AES_256_GCM);
	CHECK(cf_prop_effective(e, v) == CF_CRYPT_AES_256_GCM);
	cf_prop_format(e, CF_CRYPT_ON, NULL, 0, out, sizeof(out));
	CHECK(strcmp(out, "on") == 0);
	CHECK_OK(cf_prop_parse(e, "AES-128-GCM", &v, s, sizeof(s), NULL));
	CHECK(v == CF_CRYPT_AES_128_GCM && strcmp(s, "aes-128-gcm") == 0);
	CHECK_RC(cf_prop_parse(e, "aes-512-gcm", &v, s, sizeof(s), &why),
	    COFFER_EBADPROP);
	CHECK(why && strstr(why, "chacha20-poly1305"));
	CHECK_RC(cf_prop_parse(e, "aes", &v, s, sizeof(s), NULL),
	    COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(e, "", &v, s, sizeof(s), NULL),
	    COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(e, "chacha20-poly1305-and-then-some-more",
	    &v, s, sizeof(s), NULL), COFFER_EBADPROP);

	/* given at creation; set says to use reencrypt */
	CHECK_OK(cf_prop_check_set(e, COFFER_TYPE_FILESYSTEM, 1, NULL));
	CHECK_OK(cf_prop_check_set(e, COFFER_TYPE_VOLUME, 1, NULL));
	why = NULL;
	CHECK_RC(cf_prop_check_set(e, COFFER_TYPE_FILESYSTEM, 0, &why),
	    COFFER_EBADPROP);
	CHECK(why && strcmp(why, "encryption is fixed at creation; use "
	    "'coffer reencrypt' to change it") == 0);
	CHECK_RC(cf_prop_check_set(e, COFFER_TYPE_VOLUME, 0, &why),
	    COFFER_EBADPROP);
	CHECK(why && strstr(why, "coffer reencrypt"));
	CHECK_RC(cf_prop_check_set(e, COFFER_TYPE_SNAPSHOT, 0, &why),
	    COFFER_EBADPROP);
}

static void test_key_props(void)
{
	const cf_propdef_t *kf = P("keyformat"), *kl = P("keylocation");
	const cf_propdef_t *pb = P("pbkdf"), *it = P("pbkdf2iters");
	const cf_propdef_t *er = P("encryptionroot"), *ks = P("keystatus");
	char s[600], out[64];
	uint64_t v = 0;
	const char *why = NULL;

	CHECK(kf && kl && pb && it && er && ks);

	/* keyformat: create-only, changed by change-key only */
	CHECK(kf->flags & CF_PF_CREATEONLY);
	CHECK(!(kf->flags & CF_PF_INHERIT));
	CHECK(strcmp(kf->def_str, "none") == 0);
	CHECK_OK(cf_prop_parse(kf, "passphrase", &v, s, sizeof(s), NULL));
	CHECK(v == CF_KEYFORMAT_PASSPHRASE);
	CHECK_OK(cf_prop_parse(kf, "HEX", &v, s, sizeof(s), NULL));
	CHECK(v == CF_KEYFORMAT_HEX && strcmp(s, "hex") == 0);
	CHECK_OK(cf_prop_parse(kf, "raw", &v, s, sizeof(s), NULL));
	CHECK(v == CF_KEYFORMAT_RAW);
	CHECK_OK(cf_prop_parse(kf, "none", &v, s, sizeof(s), NULL));
	CHECK(v == CF_KEYFORMAT_NONE);
	CHECK_RC(cf_prop_parse(kf, "password", &v, s, sizeof(s), &why),
	    COFFER_EBADPROP);
	CHECK(why && strstr(why, "passphrase"));
	CHECK_OK(cf_prop_check_set(kf, COFFER_TYPE_FILESYSTEM, 1, NULL));
	why = NULL;
	CHECK_RC(cf_prop_check_set(kf, COFFER_TYPE_FILESYSTEM, 0, &why),
	    COFFER_EBADPROP);
	CHECK(why && strstr(why, "'coffer change-key'"));

	/* keylocation: settable */
	CHECK(!(kl->flags & (CF_PF_CREATEONLY | CF_PF_READONLY |
	    CF_PF_INHERIT)));
	CHECK(kl->type == CF_PTYPE_STRING);
	CHECK_OK(cf_prop_check_set(kl, COFFER_TYPE_FILESYSTEM, 0, NULL));
	CHECK_OK(cf_prop_check_set(kl, COFFER_TYPE_VOLUME, 0, NULL));
	CHECK_OK(cf_prop_parse(kl, "prompt", &v, s, sizeof(s), NULL));
	CHECK(strcmp(s, "prompt") == 0);
	CHECK_OK(cf_prop_parse(kl, "none", &v, s, sizeof(s), NULL));
	CHECK_OK(cf_prop_parse(kl, "file:///etc/coffer/tank.key", &v, s,
	    sizeof(s), NULL));
	CHECK(strcmp(s, "file:///etc/coffer/tank.key") == 0);
	CHECK_OK(cf_prop_parse(kl, "file:///k", &v, s, sizeof(s), NULL));
	CHECK_OK(cf_prop_parse(kl, "file:///a b/%20", &v, s, sizeof(s),
	    NULL));
	CHECK_RC(cf_prop_parse(kl, "file://host/k", &v, s, sizeof(s), &why),
	    COFFER_EBADPROP);
	CHECK(why && strstr(why, "file:///absolute/path"));
	CHECK_RC(cf_prop_parse(kl, "file://k", &v, s, sizeof(s), NULL),
	    COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(kl, "file:///", &v, s, sizeof(s), NULL),
	    COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(kl, "file:///dir/", &v, s, sizeof(s), &why),
	    COFFER_EBADPROP);
	CHECK(why && strstr(why, "directory"));
	/* control characters would reach the terminal through get */
	CHECK_RC(cf_prop_parse(kl, "file:///a\nb", &v, s, sizeof(s), &why),
	    COFFER_EBADPROP);
	CHECK(why && strstr(why, "control"));
	CHECK_RC(cf_prop_parse(kl, "file:///a\x01", &v, s, sizeof(s), NULL),
	    COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(kl, "file:///a\tb", &v, s, sizeof(s), NULL),
	    COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(kl, "file:///a\x7f", &v, s, sizeof(s), NULL),
	    COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(kl, "/etc/k", &v, s, sizeof(s), NULL),
	    COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(kl, "Prompt", &v, s, sizeof(s), NULL),
	    COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(kl, "https://example.com/k", &v, s, sizeof(s),
	    NULL), COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(kl, "", &v, s, sizeof(s), NULL),
	    COFFER_EBADPROP);

	/* pbkdf, pbkdf2iters: create-only, changed by change-key */
	CHECK(pb->flags & CF_PF_CREATEONLY);
	CHECK(strcmp(pb->def_str, "argon2id") == 0);
	CHECK(pb->def_num == CF_PBKDF_ARGON2ID);
	CHECK_OK(cf_prop_parse(pb, "PBKDF2", &v, s, sizeof(s), NULL));
	CHECK(v == CF_PBKDF_PBKDF2 && strcmp(s, "pbkdf2") == 0);
	CHECK_RC(cf_prop_parse(pb, "scrypt", &v, s, sizeof(s), NULL),
	    COFFER_EBADPROP);
	CHECK_RC(cf_prop_check_set(pb, COFFER_TYPE_FILESYSTEM, 0, &why),
	    COFFER_EBADPROP);
	CHECK(why && strstr(why, "change-key"));
	CHECK(it->flags & CF_PF_CREATEONLY);
	CHECK(it->def_num == 350000);
	CHECK_OK(cf_prop_parse(it, "350000", &v, NULL, 0, NULL));
	CHECK(v == 350000);
	CHECK_OK(cf_prop_parse(it, "2147483647", &v, NULL, 0, NULL));
	CHECK_RC(cf_prop_parse(it, "349999", &v, NULL, 0, &why),
	    COFFER_EBADPROP);
	CHECK(why && strstr(why, "350000"));
	CHECK_RC(cf_prop_parse(it, "2147483648", &v, NULL, 0, NULL),
	    COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(it, "1M", &v, NULL, 0, NULL), COFFER_EBADPROP);
	CHECK_RC(cf_prop_parse(it, "0", &v, NULL, 0, NULL), COFFER_EBADPROP);
	CHECK_RC(cf_prop_check_set(it, COFFER_TYPE_VOLUME, 0, &why),
	    COFFER_EBADPROP);
	CHECK(why && strstr(why, "change-key"));
	cf_prop_format(it, 350000, NULL, 0, out, sizeof(out));
	CHECK(strcmp(out, "350000") == 0);

	/* computed, read-only */
	CHECK(er->flags & CF_PF_READONLY);
	CHECK(er->type == CF_PTYPE_STRING);
	CHECK(cf_prop_applies(er, COFFER_TYPE_SNAPSHOT));
	CHECK_RC(cf_prop_check_set(er, COFFER_TYPE_FILESYSTEM, 1, &why),
	    COFFER_EBADPROP);
	CHECK(why && strstr(why, "read-only"));
	CHECK(ks->flags & CF_PF_READONLY);
	CHECK(cf_prop_applies(ks, COFFER_TYPE_SNAPSHOT));
	CHECK_RC(cf_prop_check_set(ks, COFFER_TYPE_FILESYSTEM, 0, &why),
	    COFFER_EBADPROP);
	CHECK_OK(cf_prop_parse(ks, "available", &v, s, sizeof(s), NULL));
	CHECK(v == CF_KEYSTATUS_AVAILABLE);
	CHECK_OK(cf_prop_parse(ks, "unavailable", &v, s, sizeof(s), NULL));
	CHECK(v == CF_KEYSTATUS_UNAVAILABLE);
	cf_prop_format(ks, CF_KEYSTATUS_NONE, NULL, 0, out, sizeof(out));
	CHECK(strcmp(out, "none") == 0);

	/* other create-only properties keep the generic reason */
	CHECK_RC(cf_prop_check_set(P("volblocksize"), COFFER_TYPE_VOLUME, 0,
	    &why), COFFER_EBADPROP);
	CHECK(why && strcmp(why, "property can only be set at creation") == 0);
}

void test_main(void)
{
	RUN(test_table_consistent);
	RUN(test_find);
	RUN(test_flags);
	RUN(test_numbers);
	RUN(test_indexes);
	RUN(test_format);
	RUN(test_ratio_parse);
	RUN(test_check_set);
	RUN(test_encryption);
	RUN(test_key_props);
}
