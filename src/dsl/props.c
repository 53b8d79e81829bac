/*
 * props: the property table and the rules for parsing and showing values.
 * See props.h for the contract and the choices made.
 *
 * Adding a property: add its id to enum cf_prop_id (in display order), an
 * entry at the same position in `props` below, and a test in
 * tests/unit/dsl/test_props.c.  The table is checked at test time (ids
 * match positions, defaults parse and validate).
 */
#include "dsl/props.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- index value tables ------------------------------------------------ */

static const cf_propindex_t type_index[] = {
	{ "filesystem", COFFER_TYPE_FILESYSTEM },
	{ "volume", COFFER_TYPE_VOLUME },
	{ "snapshot", COFFER_TYPE_SNAPSHOT },
	{ NULL, 0 }
};

static const cf_propindex_t onoff_index[] = {
	{ "off", CF_OFF },
	{ "on", CF_ON },
	{ NULL, 0 }
};

static const cf_propindex_t compression_index[] = {
	{ "off", CF_COMPRESS_OFF },
	{ "on", CF_COMPRESS_ON },
	{ "lz4", CF_COMPRESS_LZ4 },
	{ "zstd", CF_COMPRESS_ZSTD },
	{ "zstd-1", CF_COMPRESS_ZSTD_N(1) },
	{ "zstd-2", CF_COMPRESS_ZSTD_N(2) },
	{ "zstd-3", CF_COMPRESS_ZSTD_N(3) },
	{ "zstd-4", CF_COMPRESS_ZSTD_N(4) },
	{ "zstd-5", CF_COMPRESS_ZSTD_N(5) },
	{ "zstd-6", CF_COMPRESS_ZSTD_N(6) },
	{ "zstd-7", CF_COMPRESS_ZSTD_N(7) },
	{ "zstd-8", CF_COMPRESS_ZSTD_N(8) },
	{ "zstd-9", CF_COMPRESS_ZSTD_N(9) },
	{ "zstd-10", CF_COMPRESS_ZSTD_N(10) },
	{ "zstd-11", CF_COMPRESS_ZSTD_N(11) },
	{ "zstd-12", CF_COMPRESS_ZSTD_N(12) },
	{ "zstd-13", CF_COMPRESS_ZSTD_N(13) },
	{ "zstd-14", CF_COMPRESS_ZSTD_N(14) },
	{ "zstd-15", CF_COMPRESS_ZSTD_N(15) },
	{ "zstd-16", CF_COMPRESS_ZSTD_N(16) },
	{ "zstd-17", CF_COMPRESS_ZSTD_N(17) },
	{ "zstd-18", CF_COMPRESS_ZSTD_N(18) },
	{ "zstd-19", CF_COMPRESS_ZSTD_N(19) },
	{ NULL, 0 }
};

static const cf_propindex_t checksum_index[] = {
	{ "on", CF_CHECKSUM_ON },
	{ "fletcher4", CF_CHECKSUM_FLETCHER4 },
	{ "sha256", CF_CHECKSUM_SHA256 },
	{ NULL, 0 }
};

static const cf_propindex_t encryption_index[] = {
	{ "off", CF_CRYPT_OFF },
	{ "on", CF_CRYPT_ON },
	{ "aes-128-ccm", CF_CRYPT_AES_128_CCM },
	{ "aes-192-ccm", CF_CRYPT_AES_192_CCM },
	{ "aes-256-ccm", CF_CRYPT_AES_256_CCM },
	{ "aes-128-gcm", CF_CRYPT_AES_128_GCM },
	{ "aes-192-gcm", CF_CRYPT_AES_192_GCM },
	{ "aes-256-gcm", CF_CRYPT_AES_256_GCM },
	{ "chacha20-poly1305", CF_CRYPT_CHACHA20_POLY1305 },
	{ NULL, 0 }
};

static const cf_propindex_t keyformat_index[] = {
	{ "none", CF_KEYFORMAT_NONE },
	{ "passphrase", CF_KEYFORMAT_PASSPHRASE },
	{ "hex", CF_KEYFORMAT_HEX },
	{ "raw", CF_KEYFORMAT_RAW },
	{ NULL, 0 }
};

static const cf_propindex_t pbkdf_index[] = {
	{ "argon2id", CF_PBKDF_ARGON2ID },
	{ "pbkdf2", CF_PBKDF_PBKDF2 },
	{ NULL, 0 }
};

static const cf_propindex_t keystatus_index[] = {
	{ "none", CF_KEYSTATUS_NONE },
	{ "available", CF_KEYSTATUS_AVAILABLE },
	{ "unavailable", CF_KEYSTATUS_UNAVAILABLE },
	{ NULL, 0 }
};

/* ---- validators -------------------------------------------------------- */

static int is_p2(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

static int bad(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return COFFER_EBADPROP;
}

static int valid_recordsize(const cf_propdef_t *d, uint64_t v,
    const char *s, const char **why)
{
	if (!is_p2(v) || v < 512 || v > (1u << 20))
		return bad(why, "must be a power of 2 from 512 to 1M");
	return 0;
}

static int valid_volblocksize(const cf_propdef_t *d, uint64_t v,
    const char *s, const char **why)
{
	if (!is_p2(v) || v < 512 || v > (128u << 10))
		return bad(why, "must be a power of 2 from 512 to 128K");
	return 0;
}

static int valid_volsize(const cf_propdef_t *d, uint64_t v, const char *s,
    const char **why)
{
	if (v == 0)
		return bad(why, "must be greater than zero");
	return 0;
}

static int valid_copies(const cf_propdef_t *d, uint64_t v, const char *s,
    const char **why)
{
	if (v < 1 || v > 3)
		return bad(why, "must be 1, 2 or 3");
	return 0;
}

static int valid_pbkdf2iters(const cf_propdef_t *d, uint64_t v,
    const char *s, const char **why)
{
	if (v < CF_PBKDF2_MIN_ITERS || v > CF_PBKDF2_MAX_ITERS)
		return bad(why, "must be a whole number from 350000 to "
		    "2147483647");
	return 0;
}

/*
 * "prompt", "none" or "file://" followed by an absolute path that names a
 * file (not ending in '/').  No host part, no percent-decoding, no control
 * characters (the value is printed by get).
 */
static int valid_keylocation(const cf_propdef_t *d, uint64_t v,
    const char *s, const char **why)
{
	static const char scheme[] = "file://";
	const char *path;
	size_t len;

	if (strcmp(s, "prompt") == 0 || strcmp(s, "none") == 0)
		return 0;
	if (strncmp(s, scheme, sizeof(scheme) - 1) != 0)
		return bad(why, "must be 'prompt' or 'file:///absolute/path'");
	path = s + sizeof(scheme) - 1;
	len = strlen(path);
	if (len < 2 || path[0] != '/')
		return bad(why, "must be 'prompt' or 'file:///absolute/path'");
	if (path[len - 1] == '/')
		return bad(why, "file:// must name a file, not a directory");
	for (const char *p = path; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return bad(why, "control characters are not allowed");
	return 0;
}

/* receive_policy: what `coffer receive` accepts without -s or -k */
static const cf_propindex_t recvpolicy_index[] = {
	{ "any", 0 },
	{ "signed", 1 },
	{ NULL, 0 }
};

/* ---- the table --------------------------------------------------------- */

#define ALL (COFFER_TYPE_FILESYSTEM | COFFER_TYPE_VOLUME | COFFER_TYPE_SNAPSHOT)
#define DS  (COFFER_TYPE_FILESYSTEM | COFFER_TYPE_VOLUME)
#define RO  CF_PF_READONLY

static const cf_propdef_t props[CF_PROP_NPROPS] = {
	[CF_PROP_TYPE] = { "type", CF_PROP_TYPE, CF_PTYPE_INDEX,
	    CF_PFMT_PLAIN, RO, ALL, COFFER_TYPE_FILESYSTEM, "filesystem",
	    type_index, NULL, "filesystem | volume | snapshot" },
	[CF_PROP_CREATION] = { "creation", CF_PROP_CREATION, CF_PTYPE_NUMBER,
	    CF_PFMT_TIME, RO, ALL, 0, NULL, NULL, NULL, "<date>" },
	[CF_PROP_USED] = { "used", CF_PROP_USED, CF_PTYPE_NUMBER,
	    CF_PFMT_BYTES, RO, ALL, 0, NULL, NULL, NULL, "<size>" },
	[CF_PROP_AVAILABLE] = { "available", CF_PROP_AVAILABLE,
	    CF_PTYPE_NUMBER, CF_PFMT_BYTES, RO, DS, 0, NULL, NULL, NULL,
	    "<size>" },
	[CF_PROP_REFERENCED] = { "referenced", CF_PROP_REFERENCED,
	    CF_PTYPE_NUMBER, CF_PFMT_BYTES, RO, ALL, 0, NULL, NULL, NULL,
	    "<size>" },
	[CF_PROP_LOGICALUSED] = { "logicalused", CF_PROP_LOGICALUSED,
	    CF_PTYPE_NUMBER, CF_PFMT_BYTES, RO, ALL, 0, NULL, NULL, NULL,
	    "<size>" },
	[CF_PROP_COMPRESSRATIO] = { "compressratio", CF_PROP_COMPRESSRATIO,
	    CF_PTYPE_NUMBER, CF_PFMT_RATIO, RO, ALL, 100, NULL, NULL, NULL,
	    "<1.00x or higher>" },
	[CF_PROP_GUID] = { "guid", CF_PROP_GUID, CF_PTYPE_NUMBER,
	    CF_PFMT_PLAIN, RO, ALL, 0, NULL, NULL, NULL, "<uint64>" },
	[CF_PROP_CREATETXG] = { "createtxg", CF_PROP_CREATETXG,
	    CF_PTYPE_NUMBER, CF_PFMT_PLAIN, RO, ALL, 0, NULL, NULL, NULL,
	    "<uint64>" },
	[CF_PROP_NAME] = { "name", CF_PROP_NAME, CF_PTYPE_STRING,
	    CF_PFMT_PLAIN, RO, ALL, 0, "", NULL, NULL, "<name>" },
	[CF_PROP_COMPRESSION] = { "compression", CF_PROP_COMPRESSION,
	    CF_PTYPE_INDEX, CF_PFMT_PLAIN, CF_PF_INHERIT, DS, CF_COMPRESS_ON,
	    "on", compression_index, NULL,
	    "on | off | lz4 | zstd | zstd-1 .. zstd-19" },
	[CF_PROP_CHECKSUM] = { "checksum", CF_PROP_CHECKSUM, CF_PTYPE_INDEX,
	    CF_PFMT_PLAIN, CF_PF_INHERIT, DS, CF_CHECKSUM_ON, "on",
	    checksum_index, NULL, "on | fletcher4 | sha256" },
	[CF_PROP_RECORDSIZE] = { "recordsize", CF_PROP_RECORDSIZE,
	    CF_PTYPE_NUMBER, CF_PFMT_BYTES, CF_PF_INHERIT,
	    COFFER_TYPE_FILESYSTEM, 128u << 10, NULL, NULL, valid_recordsize,
	    "512 to 1M, power of 2" },
	[CF_PROP_VOLSIZE] = { "volsize", CF_PROP_VOLSIZE, CF_PTYPE_NUMBER,
	    CF_PFMT_BYTES, 0, COFFER_TYPE_VOLUME | COFFER_TYPE_SNAPSHOT, 0,
	    NULL, NULL, valid_volsize, "<size>" },
	[CF_PROP_VOLBLOCKSIZE] = { "volblocksize", CF_PROP_VOLBLOCKSIZE,
	    CF_PTYPE_NUMBER, CF_PFMT_BYTES, CF_PF_CREATEONLY,
	    COFFER_TYPE_VOLUME | COFFER_TYPE_SNAPSHOT, 16u << 10, NULL, NULL,
	    valid_volblocksize, "512 to 128K, power of 2" },
	[CF_PROP_COPIES] = { "copies", CF_PROP_COPIES, CF_PTYPE_NUMBER,
	    CF_PFMT_PLAIN, CF_PF_INHERIT, DS, 1, NULL, NULL, valid_copies,
	    "1 | 2 | 3" },
	[CF_PROP_READONLY] = { "readonly", CF_PROP_READONLY, CF_PTYPE_INDEX,
	    CF_PFMT_PLAIN, CF_PF_INHERIT, DS, CF_OFF, "off", onoff_index, NULL,
	    "on | off" },
	[CF_PROP_ENCRYPTION] = { "encryption", CF_PROP_ENCRYPTION,
	    CF_PTYPE_INDEX, CF_PFMT_PLAIN, CF_PF_INHERIT | CF_PF_CREATEONLY,
	    ALL, CF_CRYPT_OFF, "off", encryption_index, NULL,
	    "off | on | aes-128-ccm | aes-192-ccm | aes-256-ccm | "
	    "aes-128-gcm | aes-192-gcm | aes-256-gcm | chacha20-poly1305" },
	[CF_PROP_KEYFORMAT] = { "keyformat", CF_PROP_KEYFORMAT, CF_PTYPE_INDEX,
	    CF_PFMT_PLAIN, CF_PF_CREATEONLY, DS, CF_KEYFORMAT_NONE, "none",
	    keyformat_index, NULL, "none | passphrase | hex | raw" },
	[CF_PROP_KEYLOCATION] = { "keylocation", CF_PROP_KEYLOCATION,
	    CF_PTYPE_STRING, CF_PFMT_PLAIN, 0, DS, 0, "none", NULL,
	    valid_keylocation, "prompt | file:///absolute/path" },
	[CF_PROP_PBKDF] = { "pbkdf", CF_PROP_PBKDF, CF_PTYPE_INDEX,
	    CF_PFMT_PLAIN, CF_PF_CREATEONLY, DS, CF_PBKDF_ARGON2ID, "argon2id",
	    pbkdf_index, NULL, "argon2id | pbkdf2" },
	[CF_PROP_PBKDF2ITERS] = { "pbkdf2iters", CF_PROP_PBKDF2ITERS,
	    CF_PTYPE_NUMBER, CF_PFMT_PLAIN, CF_PF_CREATEONLY, DS,
	    CF_PBKDF2_MIN_ITERS, NULL, NULL, valid_pbkdf2iters,
	    "350000 to 2147483647" },
	[CF_PROP_ENCRYPTIONROOT] = { "encryptionroot", CF_PROP_ENCRYPTIONROOT,
	    CF_PTYPE_STRING, CF_PFMT_PLAIN, RO, ALL, 0, "", NULL, NULL,
	    "<dataset>" },
	[CF_PROP_KEYSTATUS] = { "keystatus", CF_PROP_KEYSTATUS, CF_PTYPE_INDEX,
	    CF_PFMT_PLAIN, RO, ALL, CF_KEYSTATUS_NONE, "none", keystatus_index,
	    NULL, "none | available | unavailable" },
	/* computed by the library from an interrupted receive (send/resume.c) */
	[CF_PROP_RECEIVE_RESUME_TOKEN] = { "receive_resume_token",
	    CF_PROP_RECEIVE_RESUME_TOKEN, CF_PTYPE_STRING, CF_PFMT_PLAIN, RO, DS,
	    0, "-", NULL, NULL, "<token>" },
	[CF_PROP_RECEIVE_POLICY] = { "receive_policy", CF_PROP_RECEIVE_POLICY,
	    CF_PTYPE_INDEX, CF_PFMT_PLAIN, CF_PF_INHERIT, DS, 0, "any",
	    recvpolicy_index, NULL, "any | signed" },
};

const cf_propdef_t *cf_prop_find(const char *name)
{
	if (!name)
		return NULL;
	for (int i = 0; i < CF_PROP_NPROPS; i++)
		if (strcmp(props[i].name, name) == 0)
			return &props[i];
	return NULL;
}

const cf_propdef_t *cf_prop_at(int i)
{
	if (i < 0 || i >= CF_PROP_NPROPS)
		return NULL;
	return &props[i];
}

int cf_prop_count(void)
{
	return CF_PROP_NPROPS;
}

int cf_prop_applies(const cf_propdef_t *d, int dstype)
{
	return (d->applies & dstype) != 0;
}

/* ---- parsing ----------------------------------------------------------- */

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/*
 * "123", "128K", "1.5G", "4KiB", "512B": bytes.  A fraction needs a
 * suffix (there are no fractional bytes) and the result is truncated.
 */
static int parse_number(const char *s, uint64_t *out, const char **why)
{
	const char *p = s;
	uint64_t ival = 0, frac = 0, fdiv = 1;
	int ndig = 0, fdig = 0, shift = 0;

	while (*p >= '0' && *p <= '9') {
		unsigned dgt = (unsigned)(*p - '0');
		if (ival > (UINT64_MAX - dgt) / 10)
			return bad(why, "number too large");
		ival = ival * 10 + dgt;
		p++;
		ndig++;
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			if (fdig < 18) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				fdiv *= 10;
			}
			fdig++;
			p++;
		}
		if (fdig == 0)
			return bad(why, "not a number");
	}
	if (ndig == 0 && fdig == 0)
		return bad(why, "not a number");

	switch (lower(*p)) {
	case 'k': shift = 10; break;
	case 'm': shift = 20; break;
	case 'g': shift = 30; break;
	case 't': shift = 40; break;
	case 'p': shift = 50; break;
	case 'e': shift = 60; break;
	default: break;
	}
	if (shift) {
		p++;
		if (lower(p[0]) == 'i' && lower(p[1]) == 'b')
			p += 2;
		else if (lower(p[0]) == 'b')
			p++;
	} else if (lower(*p) == 'b') {
		p++;
	}
	if (*p != '\0')
		return bad(why, "not a number (use a size like 128K or 1.5G)");
	if (fdig && !shift)
		return bad(why, "not a whole number of bytes");

	if (shift && ival > (UINT64_MAX >> shift))
		return bad(why, "number too large");
	uint64_t v = ival << shift;
	if (frac) {
		/* frac/fdiv < 1, so frac * 2^shift / fdiv < 2^shift: split the
		 * shift to keep the product in 64 bits (fdiv <= 10^18). */
		uint64_t part = 0, rem = frac;
		for (int i = 0; i < shift; i++) {
			rem <<= 1;
			part <<= 1;
			if (rem >= fdiv) {
				rem -= fdiv;
				part |= 1;
			}
		}
		if (v > UINT64_MAX - part)
			return bad(why, "number too large");
		v += part;
	}
	*out = v;
	return 0;
}

/* "1.50x", "1.5", "2" -> hundredths (150, 150, 200) */
static int parse_ratio(const char *s, uint64_t *out, const char **why)
{
	uint64_t ip = 0, fp = 0;
	int nd = 0, fd = 0;

	for (; *s >= '0' && *s <= '9'; s++, nd++) {
		if (ip > UINT64_MAX / 1000)
			return bad(why, "not a ratio");
		ip = ip * 10 + (uint64_t)(*s - '0');
	}
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, fd++) {
			if (fd >= 2)
				return bad(why, "not a ratio");
			fp = fp * 10 + (uint64_t)(*s - '0');
		}
		if (fd == 0)
			return bad(why, "not a ratio");
	}
	if (fd == 1)
		fp *= 10;
	if (*s == 'x' || *s == 'X')
		s++;
	if (nd == 0 || *s != '\0')
		return bad(why, "not a ratio");
	*out = ip * 100 + fp;
	return 0;
}

static int copy_out(const char *s, char *str, size_t strsz,
    const char **why)
{
	size_t len = strlen(s);

	if (!str)
		return 0;
	if (len >= strsz)
		return bad(why, "value too long");
	memcpy(str, s, len + 1);
	return 0;
}

int cf_prop_parse(const cf_propdef_t *d, const char *value, uint64_t *num,
    char *str, size_t strsz, const char **why)
{
	uint64_t v = 0;
	int rc;

	if (!d || !value)
		return bad(why, "missing value");

	switch (d->type) {
	case CF_PTYPE_NUMBER:
		if (d->fmt == CF_PFMT_RATIO) {
			rc = parse_ratio(value, &v, why);
			if (rc)
				return rc;
		} else if (d->fmt == CF_PFMT_PLAIN || d->fmt == CF_PFMT_TIME) {
			/* plain integers: no suffixes, so "1K copies" is
			 * not silently 1024 */
			if (value[0] == '\0' ||
			    strspn(value, "0123456789") != strlen(value))
				return bad(why, "not a whole number");
			rc = parse_number(value, &v, why);
			if (rc)
				return rc;
		} else {
			rc = parse_number(value, &v, why);
			if (rc)
				return rc;
		}
		if (d->validate) {
			rc = d->validate(d, v, NULL, why);
			if (rc)
				return rc;
		}
		if (num)
			*num = v;
		return 0;

	case CF_PTYPE_INDEX: {
		char canon[32];
		size_t len = strlen(value);
		if (len == 0 || len >= sizeof(canon))
			return bad(why, d->values);
		for (size_t i = 0; i <= len; i++)
			canon[i] = (char)lower((unsigned char)value[i]);
		for (const cf_propindex_t *e = d->index; e->name; e++) {
			if (strcmp(e->name, canon) != 0)
				continue;
			if (d->validate) {
				rc = d->validate(d, e->value, e->name, why);
				if (rc)
					return rc;
			}
			rc = copy_out(e->name, str, strsz, why);
			if (rc)
				return rc;
			if (num)
				*num = e->value;
			return 0;
		}
		return bad(why, d->values);
	}

	case CF_PTYPE_STRING:
		if (d->validate) {
			rc = d->validate(d, 0, value, why);
			if (rc)
				return rc;
		}
		if (num)
			*num = 0;
		return copy_out(value, str, strsz, why);
	}
	return bad(why, "unknown property type");
}

int cf_prop_check_set(const cf_propdef_t *d, int dstype, int creating,
    const char **why)
{
	if (d->flags & CF_PF_READONLY)
		return bad(why, "read-only property");
	if (dstype == COFFER_TYPE_SNAPSHOT)
		return bad(why, "this property cannot be modified for snapshots");
	if (!(d->applies & dstype)) {
		if (dstype == COFFER_TYPE_VOLUME)
			return bad(why, "property does not apply to volumes");
		return bad(why, "property does not apply to filesystems");
	}
	if ((d->flags & CF_PF_CREATEONLY) && !creating) {
		switch (d->id) {
		case CF_PROP_ENCRYPTION:
			return bad(why, "encryption is fixed at creation; use "
			    "'coffer reencrypt' to change it");
		case CF_PROP_KEYFORMAT:
		case CF_PROP_PBKDF:
		case CF_PROP_PBKDF2ITERS:
			return bad(why, "only 'coffer change-key' can change "
			    "it");
		}
		return bad(why, "property can only be set at creation");
	}
	return 0;
}

uint64_t cf_prop_effective(const cf_propdef_t *d, uint64_t code)
{
	if (d->id == CF_PROP_COMPRESSION) {
		if (code == CF_COMPRESS_ON)
			return CF_COMPRESS_LZ4;
		if (code == CF_COMPRESS_ZSTD)
			return CF_COMPRESS_ZSTD_N(CF_COMPRESS_ZSTD_DEFAULT);
	} else if (d->id == CF_PROP_CHECKSUM) {
		if (code == CF_CHECKSUM_ON)
			return CF_CHECKSUM_FLETCHER4;
	} else if (d->id == CF_PROP_ENCRYPTION) {
		if (code == CF_CRYPT_ON)
			return CF_CRYPT_DEFAULT;
	}
	return code;
}

/* ---- formatting -------------------------------------------------------- */

/*
 * Bytes in the style of `zfs list`: "512B", "128K", "1.50G", "37.2M",
 * "118M": three significant digits, exact multiples without a fraction.
 */
static void format_bytes(uint64_t v, char *out, size_t n)
{
	static const char units[] = "BKMGTPE";
	int u = 0;

	while (u < 6 && v >= (UINT64_C(1) << (10 * (u + 1))))
		u++;
	if (u == 0) {
		snprintf(out, n, "%lluB", (unsigned long long)v);
		return;
	}
	uint64_t div = UINT64_C(1) << (10 * u);
	if (v % div == 0) {
		snprintf(out, n, "%llu%c", (unsigned long long)(v / div),
		    units[u]);
		return;
	}
	double x = (double)v / (double)div;
	for (int prec = 2; prec >= 0; prec--) {
		char tmp[32];
		int len = snprintf(tmp, sizeof(tmp), "%.*f%c", prec, x,
		    units[u]);
		if (len <= 5 || prec == 0) {
			snprintf(out, n, "%s", tmp);
			return;
		}
	}
}

void cf_prop_format(const cf_propdef_t *d, uint64_t num, const char *str,
    int parsable, char *out, size_t n)
{
	if (n == 0)
		return;
	out[0] = '\0';
	if (!d)
		return;

	switch (d->type) {
	case CF_PTYPE_STRING:
		snprintf(out, n, "%s", str ? str : "");
		return;
	case CF_PTYPE_INDEX:
		if (str) {
			snprintf(out, n, "%s", str);
			return;
		}
		for (const cf_propindex_t *e = d->index; e->name; e++) {
			if (e->value == num) {
				snprintf(out, n, "%s", e->name);
				return;
			}
		}
		snprintf(out, n, "-");
		return;
	}

	/* numbers */
	if (d->fmt == CF_PFMT_RATIO) {
		snprintf(out, n, "%llu.%02llu%s", (unsigned long long)(num / 100),
		    (unsigned long long)(num % 100), parsable ? "" : "x");
		return;
	}
	if (parsable || d->fmt == CF_PFMT_PLAIN) {
		snprintf(out, n, "%llu", (unsigned long long)num);
		return;
	}
	if (d->fmt == CF_PFMT_BYTES) {
		format_bytes(num, out, n);
		return;
	}
	/* CF_PFMT_TIME, as `zfs get creation` shows it */
	time_t t = (time_t)num;
	struct tm tm;
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(out, n, "%a %b %e %H:%M %Y", &tm) == 0)
		snprintf(out, n, "%llu", (unsigned long long)num);
}
