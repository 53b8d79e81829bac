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
}
