/*
 * util: the bottom layer.  Little-endian codecs, error codes, checked
 * arithmetic, secure memory, the log callback and small containers.
 *
 * Everything else in coffer depends on this header and nothing here
 * depends on anything else in coffer.
 *
 * Invariants
 *  1. On-disk and on-wire integers are always encoded with le*_put and
 *     decoded with le*_get; no packed struct is ever cast onto bytes.
 *  2. Functions return 0 or a negative code: -errno for system errors,
 *     COFFER_E* (below -1000) for coffer's own.  Nothing here prints.
 */
#ifndef COFFER_UTIL_H
#define COFFER_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdbool.h>
#include <errno.h>

#include "coffer.h"

#define CF_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define CF_MIN(a, b) ((a) < (b) ? (a) : (b))
#define CF_MAX(a, b) ((a) > (b) ? (a) : (b))
#define CF_ROUNDUP(x, a) ((((x) + (a) - 1) / (a)) * (a))
#define CF_DIV_ROUNDUP(x, a) (((x) + (a) - 1) / (a))
#define CF_IS_P2(x) ((x) != 0 && ((x) & ((x) - 1)) == 0)

#if defined(__GNUC__)
#define CF_MUST_CHECK __attribute__((warn_unused_result))
#define CF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define CF_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define CF_MUST_CHECK
#define CF_PRINTF(a, b)
#define CF_UNLIKELY(x) (x)
#endif

/* ---- little-endian codecs ---------------------------------------------- */

static inline void le16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void le32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
static inline void le64_put(uint8_t *p, uint64_t v)
{
	le32_put(p, (uint32_t)v);
	le32_put(p + 4, (uint32_t)(v >> 32));
}
static inline uint16_t le16_get(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) |
	    ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t le64_get(const uint8_t *p)
{
	return (uint64_t)le32_get(p) | ((uint64_t)le32_get(p + 4) << 32);
}

/* ---- errors ------------------------------------------------------------ */

/*
 * Corruption is reported through cf_corrupt() so that one breakpoint
 * catches every place that detects it (SQLite's CORRUPT_BKPT).
 */
int cf_corrupt_at(const char *file, int line);
#define CF_CORRUPT() cf_corrupt_at(__FILE__, __LINE__)

/* Last corruption site, for debugging and tests. */
const char *cf_corrupt_site(void);

/*
 * The per-thread detail string behind coffer_errdetail() (at most 1023
 * bytes; longer messages are truncated).  A layer that fails sets it
 * where it knows most ("block 0x1a2000 of 'tank/fs': checksum mismatch").
 * Public API entry points should clear it first, so that a stale detail
 * never follows a later success.
 */
void cf_set_errdetail(const char *fmt, ...) CF_PRINTF(1, 2);
void cf_clear_errdetail(void);

/* ---- checked arithmetic ------------------------------------------------ */

static inline bool cf_add_overflows(uint64_t a, uint64_t b, uint64_t *r)
{
	return __builtin_add_overflow(a, b, r);
}
static inline bool cf_mul_overflows(uint64_t a, uint64_t b, uint64_t *r)
{
	return __builtin_mul_overflow(a, b, r);
}

/* ---- memory ------------------------------------------------------------ */

/* calloc that never returns NULL silently: callers check and return -ENOMEM */
void *cf_zalloc(size_t n);
void *cf_realloc(void *p, size_t n);
char *cf_strdup(const char *s);
void cf_free(void *p);

/*
 * Secure memory: page-aligned, mlock()ed where the limit allows, excluded
 * from core dumps, wiped with cf_wipe on free.  For keys and passphrases
 * only.  Returns NULL when out of memory.  cf_secure_free takes the size
 * given to cf_secure_alloc; cf_secure_free(NULL, n) does nothing.
 *
 * cf_wipe uses explicit_bzero, which the compiler may not remove even
 * when the memory is never read again (util does not use OpenSSL, so not
 * OPENSSL_cleanse).
 */
void *cf_secure_alloc(size_t n);
void cf_secure_free(void *p, size_t n);
void cf_wipe(void *p, size_t n);

/* ---- growable arrays ------------------------------------------------------ */

/*
 * Make room for element n of the array *pv (of *cap elements of elem
 * bytes; pv is the address of the array's pointer): when n == *cap the
 * capacity doubles (first: the first capacity).  0, or -ENOMEM with the
 * array unchanged.
 */
int cf_grow(void *pv, size_t *cap, size_t n, size_t elem, size_t first)
    CF_MUST_CHECK;

/* ---- growable byte buffer ---------------------------------------------- */

typedef struct cf_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
} cf_buf_t;

int cf_buf_reserve(cf_buf_t *b, size_t extra) CF_MUST_CHECK;
int cf_buf_append(cf_buf_t *b, const void *p, size_t n) CF_MUST_CHECK;
void cf_buf_free(cf_buf_t *b);

/* A growable list of strings (names from the dsl's iterators). */
typedef struct cf_strv {
	char **v;
	size_t n, cap;
} cf_strv_t;
/* Append a copy of s; arg is a cf_strv_t * (a ready iterator callback). */
int cf_strv_add(const char *s, void *arg) CF_MUST_CHECK;
void cf_strv_free(cf_strv_t *l);

/* ---- strings ----------------------------------------------------------- */

/* strlcpy semantics: returns strlen(src); truncates safely. */
size_t cf_strlcpy(char *dst, const char *src, size_t n);
/* snprintf into a fixed buffer; returns 0, or -ENAMETOOLONG on truncation
 * (dst then holds the truncated, NUL-terminated text). */
int cf_snprintf(char *dst, size_t n, const char *fmt, ...) CF_PRINTF(3, 4);

/*
 * Parse "128K", "1G", "4096", "1.5G", "64kb" into bytes.  Suffixes K M G T
 * P E (powers of 1024, any case), optionally followed by B; a fraction
 * needs a suffix and is truncated to whole bytes.  -EINVAL on junk, a
 * sign, white space or overflow.
 */
int cf_parse_size(const char *s, uint64_t *out);
/*
 * Format bytes as zfs does: "512", "128K" (exact multiples carry no
 * decimals), "1.50K", "1.00G", "16.0E" (otherwise 3 significant digits).
 * Truncates to fit n bytes; 8 bytes are always enough.
 */
void cf_format_size(uint64_t v, char *buf, size_t n);

/* ---- logging ----------------------------------------------------------- */

/*
 * The library never prints.  Diagnostics go to a callback installed by
 * the application (coffer_set_log in coffer.h); default is silence.
 */
void cf_log(int level, const char *fmt, ...) CF_PRINTF(2, 3);

/* ---- time and randomness ----------------------------------------------- */

uint64_t cf_now_ns(void);         /* CLOCK_REALTIME in ns */
uint64_t cf_mono_ns(void);        /* CLOCK_MONOTONIC in ns */

/* Must stay last: it redefines names that system headers declare. */
#include "util/banned.h"

#endif
