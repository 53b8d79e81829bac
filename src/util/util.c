/*
 * util: error strings, error detail, logging, memory, buffers, strings,
 * sizes and clocks.  See util.h for the contract.
 *
 * Invariants
 *  1. Nothing here prints, exits or aborts: failures come back as NULL or
 *     a negative code, and diagnostics go only to the application's log
 *     callback (none by default).
 *  2. Per-thread state (the error detail, the last corruption site, the
 *     strerror buffer) lives in _Thread_local storage, so one thread's
 *     failure never overwrites what another thread is about to report.
 *  3. The log callback and its argument change together under a lock, and
 *     every call of the callback happens under the same lock held shared:
 *     once coffer_set_log() returns, the old callback is never called
 *     again, so the application may free its argument.
 *  4. Secret memory is wiped with explicit_bzero (a store the compiler may
 *     not drop) before it is unlocked and unmapped; it never reaches
 *     malloc's free lists, where a later allocation could read it.
 *  5. util does not include OpenSSL or any other coffer layer.
 */
#include "util/util.h"

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* ---- errors ------------------------------------------------------------ */

static const struct {
	int code;
	const char *msg;
} cf_errmsgs[] = {
	{ COFFER_ECORRUPT,   "data is corrupt" },
	{ COFFER_EAUTH,      "authentication failed" },
	{ COFFER_ENOKEY,     "encryption key not loaded" },
	{ COFFER_ENOTSUP,    "unsupported feature or version" },
	{ COFFER_EBUSY,      "in use" },
	{ COFFER_ENOPOOL,    "no such pool" },
	{ COFFER_ENODS,      "no such dataset" },
	{ COFFER_EEXIST,     "already exists" },
	{ COFFER_EBADPROP,   "bad property" },
	{ COFFER_EDEVICE,    "device missing or damaged" },
	{ COFFER_EBADNAME,   "invalid name" },
	{ COFFER_EBADSTREAM, "malformed stream" },
	{ COFFER_EWRONGKEY,  "wrong passphrase or key" },
	{ COFFER_EHASCHILD,  "dataset has children" },
	{ COFFER_EREADONLY,  "read-only" },
	{ COFFER_EINTR,      "interrupted" },
	/*
	 * errno values that users meet often, in coffer's words; the rest
	 * come from strerror_r with the first letter lowered.
	 */
	{ -ENOSPC,           "out of space" },
	{ -ENOMEM,           "out of memory" },
	{ -ENOENT,           "no such file or directory" },
	{ -EEXIST,           "file exists" },
	{ -EIO,              "input/output error" },
	{ -EACCES,           "permission denied" },
	{ -EPERM,            "operation not permitted" },
	{ -EINVAL,           "invalid argument" },
	{ -ENAMETOOLONG,     "name too long" },
	{ -ENOTDIR,          "not a directory" },
	{ -EISDIR,           "is a directory" },
	{ -ENOTEMPTY,        "directory not empty" },
	{ -EROFS,            "read-only file system" },
	{ -EFBIG,            "file too large" },
	{ -ERANGE,           "result out of range" },
	{ -EOVERFLOW,        "value too large" },
};

static _Thread_local char cf_strerror_buf[128];
static _Thread_local char cf_errdetail_buf[1024];
static _Thread_local char cf_corrupt_buf[256];

const char *coffer_strerror(int err)
{
	size_t i;
	int e;

	if (err == 0)
		return "success";
	for (i = 0; i < CF_ARRAY_SIZE(cf_errmsgs); i++)
		if (cf_errmsgs[i].code == err)
			return cf_errmsgs[i].msg;
	if (err <= -1000 && err > -2000) {
		(void)snprintf(cf_strerror_buf, sizeof(cf_strerror_buf),
		    "unknown coffer error %d", err);
		return cf_strerror_buf;
	}
	/* Accept a positive errno too: a caller that forgot the minus sign
	 * still gets a useful message. */
	if (err == INT_MIN) {
		(void)snprintf(cf_strerror_buf, sizeof(cf_strerror_buf),
		    "unknown error %d", err);
		return cf_strerror_buf;
	}
	e = err < 0 ? -err : err;
	{
		/* GNU strerror_r may return a static string instead of
		 * filling the buffer; copy so the case fix below is ours. */
		char tmp[sizeof(cf_strerror_buf)];
		const char *s = strerror_r(e, tmp, sizeof(tmp));
		cf_strlcpy(cf_strerror_buf, s, sizeof(cf_strerror_buf));
	}
	/* "No such device" -> "no such device", but leave "I/O..." alone. */
	if (isupper((unsigned char)cf_strerror_buf[0]) &&
	    islower((unsigned char)cf_strerror_buf[1]))
		cf_strerror_buf[0] = (char)tolower(
		    (unsigned char)cf_strerror_buf[0]);
	return cf_strerror_buf;
}

const char *coffer_errdetail(void)
{
	return cf_errdetail_buf;
}

void cf_set_errdetail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(cf_errdetail_buf, sizeof(cf_errdetail_buf), fmt, ap);
	va_end(ap);
}

void cf_clear_errdetail(void)
{
	cf_errdetail_buf[0] = '\0';
}

int cf_corrupt_at(const char *file, int line)
{
	/* Meson passes paths relative to the build directory
	 * ("../src/block/block.c"); the leading "../" only adds noise. */
	while (strncmp(file, "../", 3) == 0)
		file += 3;
	while (strncmp(file, "./", 2) == 0)
		file += 2;
	(void)snprintf(cf_corrupt_buf, sizeof(cf_corrupt_buf), "%s:%d", file,
	    line);
	cf_log(COFFER_LOG_DEBUG, "corruption detected at %s", cf_corrupt_buf);
	return COFFER_ECORRUPT;
}

const char *cf_corrupt_site(void)
{
	return cf_corrupt_buf;
}

/* ---- logging ----------------------------------------------------------- */

static pthread_rwlock_t cf_log_lock = PTHREAD_RWLOCK_INITIALIZER;
static coffer_log_fn cf_log_fn;
static void *cf_log_arg;
/* Lets cf_log skip the lock and the formatting when nobody listens,
 * which is the common case for debug messages on hot paths. */
static atomic_int cf_log_on;

void coffer_set_log(coffer_log_fn fn, void *arg)
{
	(void)pthread_rwlock_wrlock(&cf_log_lock);
	cf_log_fn = fn;
	cf_log_arg = fn ? arg : NULL;
	atomic_store(&cf_log_on, fn != NULL);
	(void)pthread_rwlock_unlock(&cf_log_lock);
}

void cf_log(int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!atomic_load_explicit(&cf_log_on, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)pthread_rwlock_rdlock(&cf_log_lock);
	if (cf_log_fn)
		cf_log_fn(level, msg, cf_log_arg);
	(void)pthread_rwlock_unlock(&cf_log_lock);
}

/* ---- memory ------------------------------------------------------------ */

/* A zero-byte request still gets a real allocation so that NULL always
 * means "out of memory". */
void *cf_zalloc(size_t n)
{
	return calloc(1, n ? n : 1);
}

void *cf_realloc(void *p, size_t n)
{
	return realloc(p, n ? n : 1);
}

char *cf_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

void cf_free(void *p)
{
	free(p);
}

void cf_wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

/* Length of the mapping behind a secure allocation of n bytes, or 0 on
 * overflow. */
static size_t cf_secure_len(size_t n)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t page = pg > 0 ? (size_t)pg : 4096;

	if (n == 0)
		n = 1;
	if (n > SIZE_MAX - (page - 1))
		return 0;
	return CF_ROUNDUP(n, page);
}

void *cf_secure_alloc(size_t n)
{
	size_t len = cf_secure_len(n);
	void *p;

	if (len == 0)
		return NULL;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/*
	 * Best effort: an unprivileged process has a small RLIMIT_MEMLOCK,
	 * and a key that may reach swap is still better than no key.
	 */
	if (mlock(p, len) != 0)
		cf_log(COFFER_LOG_DEBUG, "cannot lock %zu bytes of key memory",
		    len);
#ifdef MADV_DONTDUMP
	(void)madvise(p, len, MADV_DONTDUMP);
#endif
	return p;
}

void cf_secure_free(void *p, size_t n)
{
	size_t len = cf_secure_len(n);

	if (!p || len == 0)
		return;
	cf_wipe(p, len);
	(void)munlock(p, len);
	(void)munmap(p, len);
}

/* ---- growable byte buffer ---------------------------------------------- */

int cf_grow(void *pv, size_t *cap, size_t n, size_t elem, size_t first)
{
	void **v = pv;

	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : first;
	if (nc <= n || nc > PTRDIFF_MAX / elem)
		return -ENOMEM;
	void *nv = realloc(*v, nc * elem);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = nc;
	return 0;
}

int cf_buf_reserve(cf_buf_t *b, size_t extra)
{
	size_t need, cap;
	uint8_t *p;

	/* No allocator can hand out more than PTRDIFF_MAX bytes. */
	if (extra > PTRDIFF_MAX || b->len + extra > PTRDIFF_MAX)
		return -ENOMEM;
	need = b->len + extra;
	if (need <= b->cap)
		return 0;
	/* Doubling keeps appends amortised O(1). */
	cap = b->cap ? b->cap : 64;
	while (cap < need) {
		if (cap > PTRDIFF_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int cf_buf_append(cf_buf_t *b, const void *p, size_t n)
{
	int rc;

	if (n == 0)
		return 0;
	rc = cf_buf_reserve(b, n);
	if (rc)
		return rc;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void cf_buf_free(cf_buf_t *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

int cf_strv_add(const char *s, void *arg)
{
	cf_strv_t *l = arg;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		char **nv = realloc(l->v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		l->v = nv;
		l->cap = nc;
	}
	l->v[l->n] = strdup(s);
	if (!l->v[l->n])
		return -ENOMEM;
	l->n++;
	return 0;
}

void cf_strv_free(cf_strv_t *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* ---- strings ----------------------------------------------------------- */

size_t cf_strlcpy(char *dst, const char *src, size_t n)
{
	size_t len = strlen(src);

	if (n) {
		size_t c = len < n ? len : n - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return len;
}

int cf_snprintf(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(dst, n, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -EINVAL;
	if ((size_t)r >= n)
		return -ENAMETOOLONG;
	return 0;
}

/* log2 of the multiplier for a size suffix, or -1. */
static int cf_size_shift(char c)
{
	switch (tolower((unsigned char)c)) {
	case 'k': return 10;
	case 'm': return 20;
	case 'g': return 30;
	case 't': return 40;
	case 'p': return 50;
	case 'e': return 60;
	default: return -1;
	}
}

int cf_parse_size(const char *s, uint64_t *out)
{
	uint64_t whole = 0, frac = 0, fscale = 1, v;
	bool has_frac = false;
	int shift = 0;

	/* Digits first: this rejects "", "-1", "+1", " 1" and ".5". */
	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	while (isdigit((unsigned char)*s)) {
		if (cf_mul_overflows(whole, 10, &whole) ||
		    cf_add_overflows(whole, (uint64_t)(*s - '0'), &whole))
			return -EINVAL;
		s++;
	}
	if (*s == '.') {
		s++;
		has_frac = true;
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		/* Only 18 fractional digits count (so that frac << shift
		 * fits in 128 bits); the rest could move an E-sized result
		 * by one byte at most. */
		for (; isdigit((unsigned char)*s); s++) {
			if (fscale < 1000000000000000000ULL) {
				frac = frac * 10 + (uint64_t)(*s - '0');
				fscale *= 10;
			}
		}
	}
	if (*s && cf_size_shift(*s) >= 0) {
		shift = cf_size_shift(*s);
		s++;
	}
	if (*s == 'b' || *s == 'B')
		s++;
	if (*s != '\0')
		return -EINVAL;
	/* "1.5" bytes is not a size. */
	if (has_frac && shift == 0)
		return -EINVAL;
	if (shift && whole > (UINT64_MAX >> shift))
		return -EINVAL;
	v = whole << shift;
	if (has_frac) {
		unsigned __int128 f = ((unsigned __int128)frac << shift) /
		    fscale;
		if (cf_add_overflows(v, (uint64_t)f, &v))
			return -EINVAL;
	}
	*out = v;
	return 0;
}

void cf_format_size(uint64_t v, char *buf, size_t n)
{
	static const char units[] = "BKMGTPE";
	char tmp[32];
	uint64_t q = v;
	int idx = 0;

	while (q >= 1024 && idx < 6) {
		q /= 1024;
		idx++;
	}
	if (idx == 0) {
		(void)snprintf(tmp, sizeof(tmp), "%llu",
		    (unsigned long long)v);
	} else if ((v & ((1ULL << (10 * idx)) - 1)) == 0) {
		(void)snprintf(tmp, sizeof(tmp), "%llu%c",
		    (unsigned long long)q, units[idx]);
	} else {
		/*
		 * Three significant digits: as many decimals as fit in five
		 * characters including the unit ("1.50K", "12.3M", "999G";
		 * "1024K" when rounding carries into a fourth digit).
		 */
		double d = (double)v / (double)(1ULL << (10 * idx));
		int prec;

		for (prec = 2; prec >= 0; prec--) {
			int r = snprintf(tmp, sizeof(tmp), "%.*f%c", prec, d,
			    units[idx]);
			if (r <= 5)
				break;
		}
	}
	if (n)
		(void)cf_strlcpy(buf, tmp, n);
}

/* ---- time -------------------------------------------------------------- */

static uint64_t cf_clock_ns(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t cf_now_ns(void)
{
	return cf_clock_ns(CLOCK_REALTIME);
}

uint64_t cf_mono_ns(void)
{
	return cf_clock_ns(CLOCK_MONOTONIC);
}
