/*
 * props: the table of dataset properties.
 *
 * This file is the contract between the property table and its users (the
 * dsl layer, which stores and inherits values, and through it the public
 * coffer_prop_* calls).  It is pure logic: no I/O, no allocation, no
 * dependency on anything else in coffer except the error codes.
 *
 * Invariants
 *  1. Every property has exactly one entry; cf_prop_at(id) for id in
 *     0..cf_prop_count()-1 returns them in display order, and an entry's
 *     `id` equals its index, so `enum cf_prop_id` names them.
 *  2. cf_prop_parse() is the only place that turns user text into a stored
 *     value.  What it returns is canonical: parsing the formatted value
 *     (parsable or not) of a stored value gives the same stored value.
 *  3. Stored values are the literal value the user set, canonicalized
 *     ("ON" -> "on", "zstd-3" stays "zstd-3", "128k" -> 131072): like
 *     OpenZFS, `get` shows what was set.  What the value *means* for the
 *     block pipeline ("on" means lz4) is asked of cf_prop_effective().
 *  4. Whether a property may be set at all (read-only, create-only, not
 *     applicable to the dataset's type) is decided by cf_prop_check_set(),
 *     not by cf_prop_parse(), so that the dsl can parse values it stores
 *     itself.
 *
 * Choices (documented in docs/man/coffer-dataset.8.md)
 *  - compression: off | on | lz4 | zstd | zstd-1 .. zstd-19, default "on".
 *    "on" means lz4, "zstd" means zstd-3.  Stored and shown as set.
 *  - checksum: on | fletcher4 | sha256, default "on" = fletcher4.  There is
 *    no "off": every block is checksummed.
 *  - recordsize: power of two from 512 to 1M, default 128K.
 *  - volblocksize: power of two from 512 to 128K, default 16K, create-only.
 *  - copies: 1, 2 or 3, default 1.
 *  - compressratio is stored as hundredths (150 means 1.50x).
 *  - creation is stored as seconds since the epoch.
 *  - encryption: off | on | aes-128-ccm | aes-192-ccm | aes-256-ccm |
 *    aes-128-gcm | aes-192-gcm | aes-256-gcm | chacha20-poly1305, default
 *    "off", create-only, inherited by children.  "on" is stored and shown
 *    as set; cf_prop_effective() maps it to aes-256-gcm.  The codes of the
 *    suites are the crypto layer's suite numbers.  `set` is refused with a
 *    reason that points to `coffer reencrypt`.
 *  - keyformat: none | passphrase | hex | raw, default "none"; given at
 *    creation of an encryption root, changed only by change-key (`set` is
 *    refused with a reason that points to it).  Not inherited: children
 *    of a root share the root's key, which the dsl reports.
 *  - keylocation: prompt | file:///absolute/path (and "none", the value of
 *    unencrypted datasets), default "none"; settable with `set`.
 *  - pbkdf: argon2id | pbkdf2, default argon2id; pbkdf2iters: a whole
 *    number from 350000 to 2^31-1, default 350000.  Both are given at
 *    creation or by change-key, never by `set`.
 *  - encryptionroot (string, "" when unencrypted) and keystatus (none |
 *    available | unavailable) are read-only and computed by the dsl.
 */
#ifndef COFFER_DSL_PROPS_H
#define COFFER_DSL_PROPS_H

#include <stddef.h>
#include <stdint.h>

#include "coffer.h"

enum cf_prop_id {
	CF_PROP_TYPE,
	CF_PROP_CREATION,
	CF_PROP_USED,
	CF_PROP_AVAILABLE,
	CF_PROP_REFERENCED,
	CF_PROP_LOGICALUSED,
	CF_PROP_COMPRESSRATIO,
	CF_PROP_GUID,
	CF_PROP_CREATETXG,
	CF_PROP_NAME,
	CF_PROP_COMPRESSION,
	CF_PROP_CHECKSUM,
	CF_PROP_RECORDSIZE,
	CF_PROP_VOLSIZE,
	CF_PROP_VOLBLOCKSIZE,
	CF_PROP_COPIES,
	CF_PROP_READONLY,
	CF_PROP_ENCRYPTION,
	CF_PROP_KEYFORMAT,
	CF_PROP_KEYLOCATION,
	CF_PROP_PBKDF,
	CF_PROP_PBKDF2ITERS,
	CF_PROP_ENCRYPTIONROOT,
	CF_PROP_KEYSTATUS,
	CF_PROP_RECEIVE_RESUME_TOKEN,
	CF_PROP_RECEIVE_POLICY,
	CF_PROP_NPROPS
};

/* How a value is stored. */
#define CF_PTYPE_NUMBER 1       /* uint64_t */
#define CF_PTYPE_STRING 2       /* text */
#define CF_PTYPE_INDEX  3       /* one of a fixed set of names (and codes) */

/* How a number is shown (human form; -p always shows the plain integer). */
#define CF_PFMT_PLAIN 0         /* 12345 */
#define CF_PFMT_BYTES 1         /* 1.50G, 128K */
#define CF_PFMT_TIME  2         /* local date "Mon Jan  1 12:00 2024" */
#define CF_PFMT_RATIO 3         /* hundredths: 150 -> "1.50x" ("1.50") */

/* Flags */
#define CF_PF_INHERIT    0x1    /* children inherit a value set above */
#define CF_PF_READONLY   0x2    /* computed or fixed; never set by users */
#define CF_PF_CREATEONLY 0x4    /* may be given only when creating */

/* An index value: its canonical name and code. */
typedef struct cf_propindex {
	const char *name;
	uint64_t value;
} cf_propindex_t;

typedef struct cf_propdef cf_propdef_t;
/* Extra validation of a parsed value: 0, or COFFER_EBADPROP with *why. */
typedef int (*cf_prop_validate_fn)(const cf_propdef_t *d, uint64_t num,
    const char *str, const char **why);

struct cf_propdef {
	const char *name;
	int id;                         /* enum cf_prop_id */
	int type;                       /* CF_PTYPE_* */
	int fmt;                        /* CF_PFMT_* (numbers) */
	int flags;                      /* CF_PF_* */
	int applies;                    /* COFFER_TYPE_* mask */
	uint64_t def_num;               /* default: numbers and index codes */
	const char *def_str;            /* default: strings and index names */
	const cf_propindex_t *index;    /* index: NULL-name terminated */
	cf_prop_validate_fn validate;   /* may be NULL */
	const char *values;             /* what is accepted, for messages */
};

/* Lookup by name (exact, lower case); NULL if there is no such property. */
const cf_propdef_t *cf_prop_find(const char *name);
/* The i-th property in display order, NULL when out of range. */
const cf_propdef_t *cf_prop_at(int i);
int cf_prop_count(void);

/*
 * Validate and canonicalize a user value.  Numbers accept an optional
 * fraction and suffix K M G T P E (powers of 1024, case-insensitive,
 * optionally followed by "B" or "iB"), into *num; strings and index names
 * are copied canonically into str (index names also put their code in
 * *num).  On failure returns COFFER_EBADPROP and points *why (if why is
 * not NULL) at a static lower-case reason such as "must be a power of 2
 * from 512 to 1M".  num, str and why may be NULL when not wanted; an index
 * or string value that does not fit strsz is COFFER_EBADPROP.
 */
int cf_prop_parse(const cf_propdef_t *d, const char *value, uint64_t *num,
    char *str, size_t strsz, const char **why);

/*
 * Format a stored value.  For numbers `str` is ignored; for indexes `str`
 * wins when not NULL, else the name of code `num` is used; strings use
 * `str`.  parsable: plain integers (bytes, seconds, hundredths as "1.50")
 * instead of the human form.  Always NUL-terminates out (n > 0).
 */
void cf_prop_format(const cf_propdef_t *d, uint64_t num, const char *str,
    int parsable, char *out, size_t n);

/*
 * May `d` be given by a user for a dataset of type `dstype`
 * (COFFER_TYPE_*)?  creating: the value is given at creation.  Returns 0
 * or COFFER_EBADPROP with a static *why ("read-only property", "property
 * can only be set at creation", "not valid for volumes", ...).
 */
int cf_prop_check_set(const cf_propdef_t *d, int dstype, int creating,
    const char **why);

/* Does `d` apply to a dataset of type `dstype` (shown by get/list)? */
int cf_prop_applies(const cf_propdef_t *d, int dstype);

/*
 * What an index value means to the block pipeline: "on" -> the lz4,
 * fletcher4 or aes-256-gcm code, "zstd" -> zstd level 3; other codes map
 * to themselves.
 */
uint64_t cf_prop_effective(const cf_propdef_t *d, uint64_t code);

/* compression codes (stored codes and effective codes) */
#define CF_COMPRESS_OFF         0
#define CF_COMPRESS_ON          1       /* stored only; means lz4 */
#define CF_COMPRESS_LZ4         2
#define CF_COMPRESS_ZSTD        3       /* stored only; means zstd-3 */
#define CF_COMPRESS_ZSTD_N(n)   (0x100u + (unsigned)(n))  /* zstd-1..19 */
#define CF_COMPRESS_IS_ZSTD(c)  ((c) > 0x100u && (c) <= 0x100u + 19u)
#define CF_COMPRESS_ZSTD_LEVEL(c) ((int)((c) - 0x100u))
#define CF_COMPRESS_ZSTD_DEFAULT 3

/* checksum codes */
#define CF_CHECKSUM_ON          1       /* stored only; means fletcher4 */
#define CF_CHECKSUM_FLETCHER4   2
#define CF_CHECKSUM_SHA256      3

/* readonly codes */
#define CF_OFF 0
#define CF_ON  1

/* encryption codes: the crypto layer's suite numbers, plus "on" */
#define CF_CRYPT_OFF               0    /* NONE */
#define CF_CRYPT_AES_128_CCM       1
#define CF_CRYPT_AES_192_CCM       2
#define CF_CRYPT_AES_256_CCM       3
#define CF_CRYPT_AES_128_GCM       4
#define CF_CRYPT_AES_192_GCM       5
#define CF_CRYPT_AES_256_GCM       6
#define CF_CRYPT_CHACHA20_POLY1305 7
#define CF_CRYPT_ON                0x100 /* stored only; means aes-256-gcm */
#define CF_CRYPT_DEFAULT           CF_CRYPT_AES_256_GCM

/* keyformat codes */
#define CF_KEYFORMAT_NONE       0
#define CF_KEYFORMAT_PASSPHRASE 1
#define CF_KEYFORMAT_HEX        2
#define CF_KEYFORMAT_RAW        3

/* pbkdf codes */
#define CF_PBKDF_ARGON2ID 1
#define CF_PBKDF_PBKDF2   2

/* pbkdf2iters bounds (PBKDF2-SHA512) */
#define CF_PBKDF2_MIN_ITERS UINT64_C(350000)
#define CF_PBKDF2_MAX_ITERS UINT64_C(2147483647)

/* keystatus codes */
#define CF_KEYSTATUS_NONE        0      /* not encrypted */
#define CF_KEYSTATUS_AVAILABLE   1
#define CF_KEYSTATUS_UNAVAILABLE 2

#endif
