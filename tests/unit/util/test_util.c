/* Unit tests for src/util. */
#include "harness.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/util.h"

static void test_le_codecs(void)
{
	uint8_t b[8];
	static const uint64_t v64[] = { 0, 1, 0x0102030405060708ULL,
	    0xffffffffffffffffULL, 0x8000000000000000ULL,
	    0x00000000ffffffffULL, 0xdeadbeefcafef00dULL };
	size_t i;

	le16_put(b, 0x1234);
	CHECK(b[0] == 0x34 && b[1] == 0x12);
	CHECK(le16_get(b) == 0x1234);
	le16_put(b, 0xfffe);
	CHECK(le16_get(b) == 0xfffe);

	le32_put(b, 0x89abcdefu);
	CHECK(b[0] == 0xef && b[1] == 0xcd && b[2] == 0xab && b[3] == 0x89);
	CHECK(le32_get(b) == 0x89abcdefu);

	le64_put(b, 0x0102030405060708ULL);
	for (i = 0; i < 8; i++)
		CHECK(b[i] == 8 - i);
	for (i = 0; i < CF_ARRAY_SIZE(v64); i++) {
		le64_put(b, v64[i]);
		CHECK(le64_get(b) == v64[i]);
		le32_put(b, (uint32_t)v64[i]);
		CHECK(le32_get(b) == (uint32_t)v64[i]);
		le16_put(b, (uint16_t)v64[i]);
		CHECK(le16_get(b) == (uint16_t)v64[i]);
	}
	/* Unaligned addresses work too. */
	{
		uint8_t u[16];
		for (i = 0; i < 8; i++) {
			le64_put(u + i, 0xa5a5a5a55a5a5a5aULL ^ i);
			CHECK(le64_get(u + i) == (0xa5a5a5a55a5a5a5aULL ^ i));
		}
	}
}

static void test_checked_arith(void)
{
	uint64_t r;

	CHECK(!cf_add_overflows(1, 2, &r) && r == 3);
	CHECK(cf_add_overflows(UINT64_MAX, 1, &r));
	CHECK(!cf_mul_overflows(1ULL << 31, 1ULL << 32, &r) && r == 1ULL << 63);
	CHECK(cf_mul_overflows(1ULL << 32, 1ULL << 32, &r));
	CHECK(CF_ROUNDUP(4097, 4096) == 8192 && CF_DIV_ROUNDUP(1, 4096) == 1);
	CHECK(CF_IS_P2(4096) && !CF_IS_P2(0) && !CF_IS_P2(12));
}

static int all_lower(const char *s)
{
	/* Lower case, no trailing full stop. */
	for (; *s; s++) {
		if (isupper((unsigned char)*s))
			return 0;
		if (s[0] == '.' && s[1] == '\0')
			return 0;
	}
	return 1;
}

static void test_strerror(void)
{
	int e;

	CHECK(strcmp(coffer_strerror(COFFER_ENOKEY),
	    "encryption key not loaded") == 0);
	CHECK(strcmp(coffer_strerror(COFFER_ECORRUPT), "data is corrupt") == 0);
	CHECK(strcmp(coffer_strerror(COFFER_EAUTH),
	    "authentication failed") == 0);
	CHECK(strcmp(coffer_strerror(COFFER_EBUSY), "in use") == 0);
	CHECK(strcmp(coffer_strerror(-ENOSPC), "out of space") == 0);
	CHECK(strcmp(coffer_strerror(0), "success") == 0);
	/* Every coffer code has its own message. */
	for (e = COFFER_EINTR; e <= COFFER_ECORRUPT; e++) {
		const char *m = coffer_strerror(e);
		int f;

		CHECK(m[0] != '\0');
		CHECK(strstr(m, "unknown") == NULL);
		CHECK(all_lower(m));
		for (f = COFFER_EINTR; f < e; f++)
			CHECK(strcmp(coffer_strerror(f), m) != 0);
	}
	CHECK(strstr(coffer_strerror(-1999), "unknown") != NULL);
	/* errno values through strerror, first letter lowered. */
	CHECK(strcmp(coffer_strerror(-ENOENT), "no such file or directory")
	    == 0);
	CHECK(strcmp(coffer_strerror(-EXDEV), "invalid cross-device link")
	    == 0);
	CHECK(all_lower(coffer_strerror(-ETIMEDOUT)));
	CHECK(coffer_strerror(-123456)[0] != '\0');
	CHECK(coffer_strerror(-2147483647 - 1)[0] != '\0');
}

static void *errdetail_thread(void *arg)
{
	(void)arg;
	/* Another thread's detail is not ours. */
	if (coffer_errdetail()[0] != '\0')
		return (void *)1;
	cf_set_errdetail("thread %d", 2);
	return strcmp(coffer_errdetail(), "thread 2") == 0 ? NULL : (void *)1;
}

static void test_errdetail(void)
{
	char big[3000];
	pthread_t t;
	void *ret;

	cf_clear_errdetail();
	CHECK(strcmp(coffer_errdetail(), "") == 0);
	cf_set_errdetail("cannot open '%s': %s", "tank/home", "busy");
	CHECK(strcmp(coffer_errdetail(), "cannot open 'tank/home': busy") == 0);

	CHECK(pthread_create(&t, NULL, errdetail_thread, NULL) == 0);
	CHECK(pthread_join(t, &ret) == 0);
	CHECK(ret == NULL);
	CHECK(strcmp(coffer_errdetail(), "cannot open 'tank/home': busy") == 0);

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cf_set_errdetail("%s", big);
	CHECK(strlen(coffer_errdetail()) == 1023);
	cf_clear_errdetail();
	CHECK(coffer_errdetail()[0] == '\0');
}

struct logrec {
	int n;
	int level;
	char msg[256];
};

static void log_cb(int level, const char *msg, void *arg)
{
	struct logrec *r = arg;

	__atomic_add_fetch(&r->n, 1, __ATOMIC_SEQ_CST);
	r->level = level;
	snprintf(r->msg, sizeof(r->msg), "%s", msg);
}

static void *log_thread(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < 1000; i++)
		cf_log(COFFER_LOG_DEBUG, "message %d", i);
	return NULL;
}

static void test_log(void)
{
	struct logrec r;
	pthread_t t[4];
	int i;

	memset(&r, 0, sizeof(r));
	cf_log(COFFER_LOG_ERR, "nobody listens");     /* default: silent */
	coffer_set_log(log_cb, &r);
	cf_log(COFFER_LOG_WARN, "pool '%s' is %d%% full", "tank", 95);
	CHECK(r.n == 1);
	CHECK(r.level == COFFER_LOG_WARN);
	CHECK(strcmp(r.msg, "pool 'tank' is 95% full") == 0);

	/* Many threads at once: every message arrives exactly once. */
	r.n = 0;
	for (i = 0; i < 4; i++)
		CHECK(pthread_create(&t[i], NULL, log_thread, NULL) == 0);
	for (i = 0; i < 4; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	CHECK(r.n == 4000);

	coffer_set_log(NULL, NULL);
	r.n = 0;
	cf_log(COFFER_LOG_ERR, "silent again");
	CHECK(r.n == 0);
}

static void test_corrupt(void)
{
	struct logrec r;
	int line;

	memset(&r, 0, sizeof(r));
	coffer_set_log(log_cb, &r);
	CHECK(cf_corrupt_at("../src/block/block.c", 42) == COFFER_ECORRUPT);
	CHECK(strcmp(cf_corrupt_site(), "src/block/block.c:42") == 0);
	CHECK(r.n == 1 && r.level == COFFER_LOG_DEBUG);
	CHECK(strstr(r.msg, "src/block/block.c:42") != NULL);
	coffer_set_log(NULL, NULL);

	line = __LINE__ + 1;
	CHECK(CF_CORRUPT() == COFFER_ECORRUPT);
	{
		char want[64];
		snprintf(want, sizeof(want), "test_util.c:%d", line);
		CHECK(strstr(cf_corrupt_site(), want) != NULL);
	}
}

static void test_alloc(void)
{
	uint8_t *p = cf_zalloc(0);
	char *s;
	size_t i;

	CHECK(p != NULL);
	cf_free(p);
	p = cf_zalloc(1000);
	CHECK(p != NULL);
	for (i = 0; i < 1000; i++)
		CHECK(p[i] == 0);
	p[999] = 7;
	p = cf_realloc(p, 100000);
	CHECK(p != NULL && p[999] == 7);
	cf_free(p);
	s = cf_strdup("tank/home");
	CHECK(s && strcmp(s, "tank/home") == 0);
	cf_free(s);
	CHECK(cf_strdup(NULL) == NULL);
	cf_free(NULL);
}

/* The VmFlags of the mapping that contains p, from /proc/self/smaps. */
static int vmflags_of(const void *p, char *flags, size_t n)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
			continue;
		}
		if (in && strncmp(line, "VmFlags:", 8) == 0) {
			cf_strlcpy(flags, line + 8, n);
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	return -1;
}

static void test_secure_alloc(void)
{
	static const size_t sizes[] = { 0, 1, 32, 4095, 4096, 4097, 100000 };
	long page = sysconf(_SC_PAGESIZE);
	size_t i, j;

	for (i = 0; i < CF_ARRAY_SIZE(sizes); i++) {
		size_t n = sizes[i];
		uint8_t *p = cf_secure_alloc(n);
		char flags[256];

		CHECK(p != NULL);
		CHECK((uintptr_t)p % (uintptr_t)page == 0);
		for (j = 0; j < n; j++)
			CHECK(p[j] == 0);
		memset(p, 0xa5, n);
		/* Key memory stays out of core dumps ("dd"). */
		if (vmflags_of(p, flags, sizeof(flags)) == 0)
			CHECK(strstr(flags, " dd") != NULL);
		cf_secure_free(p, n);
	}
	cf_secure_free(NULL, 32);
	CHECK(cf_secure_alloc(SIZE_MAX) == NULL);
	CHECK(cf_secure_alloc(SIZE_MAX - 100) == NULL);
}

static void test_wipe(void)
{
	uint8_t b[100];
	size_t i;

	memset(b, 0xff, sizeof(b));
	cf_wipe(b + 10, 50);
	for (i = 0; i < sizeof(b); i++)
		CHECK(b[i] == ((i >= 10 && i < 60) ? 0 : 0xff));
	cf_wipe(NULL, 10);
	cf_wipe(b, 0);
}

static void test_grow(void)
{
	uint32_t *v = NULL;
	size_t cap = 0;

	for (size_t n = 0; n < 1000; n++) {
		CHECK_OK(cf_grow(&v, &cap, n, sizeof(*v), 4));
		CHECK(cap > n);
		v[n] = (uint32_t)n;             /* in bounds (ASan checks) */
	}
	CHECK(cap == 1024);
	for (size_t n = 0; n < 1000; n++)
		CHECK(v[n] == n);
	/* room already: nothing changes */
	uint32_t *same = v;
	CHECK_OK(cf_grow(&v, &cap, 10, sizeof(*v), 4));
	CHECK(v == same && cap == 1024);
	/* a capacity that cannot be allocated: -ENOMEM, array unchanged */
	size_t huge = SIZE_MAX / 4;
	CHECK_RC(cf_grow(&v, &huge, huge, sizeof(*v), 4), -ENOMEM);
	CHECK(v == same);
	free(v);
}

static void test_buf(void)
{
	cf_buf_t b = { 0 };
	uint8_t chunk[37];
	size_t i;

	for (i = 0; i < sizeof(chunk); i++)
		chunk[i] = (uint8_t)i;
	for (i = 0; i < 1000; i++)
		CHECK_OK(cf_buf_append(&b, chunk, sizeof(chunk)));
	CHECK(b.len == 37000 && b.cap >= b.len);
	for (i = 0; i < b.len; i++)
		CHECK(b.data[i] == (uint8_t)(i % 37));
	CHECK_OK(cf_buf_append(&b, NULL, 0));
	CHECK_OK(cf_buf_reserve(&b, 0));
	CHECK_OK(cf_buf_reserve(&b, 100000));
	CHECK(b.cap >= b.len + 100000);
	CHECK_RC(cf_buf_reserve(&b, SIZE_MAX), -ENOMEM);
	CHECK_RC(cf_buf_reserve(&b, SIZE_MAX - b.len), -ENOMEM);
	CHECK(b.len == 37000);
	cf_buf_free(&b);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
	cf_buf_free(&b);
}

static void test_strings(void)
{
	char d[8];

	CHECK(cf_strlcpy(d, "abc", sizeof(d)) == 3 && strcmp(d, "abc") == 0);
	CHECK(cf_strlcpy(d, "abcdefghij", sizeof(d)) == 10);
	CHECK(strcmp(d, "abcdefg") == 0);
	CHECK(cf_strlcpy(d, "abcdefg", sizeof(d)) == 7);
	CHECK(strcmp(d, "abcdefg") == 0);
	d[0] = 'z';
	CHECK(cf_strlcpy(d, "abc", 0) == 3 && d[0] == 'z');
	CHECK(cf_strlcpy(d, "abc", 1) == 3 && d[0] == '\0');

	CHECK_OK(cf_snprintf(d, sizeof(d), "%d-%s", 12, "ab"));
	CHECK(strcmp(d, "12-ab") == 0);
	CHECK_OK(cf_snprintf(d, sizeof(d), "%s", "1234567"));
	CHECK_RC(cf_snprintf(d, sizeof(d), "%s", "12345678"), -ENAMETOOLONG);
	CHECK(strcmp(d, "1234567") == 0);
}

static void test_parse_size(void)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
		{ "0", 0 },
		{ "4096", 4096 },
		{ "512B", 512 },
		{ "512b", 512 },
		{ "1K", 1024 },
		{ "128K", 131072 },
		{ "128k", 131072 },
		{ "128KB", 131072 },
		{ "128kb", 131072 },
		{ "64M", 64ULL << 20 },
		{ "1G", 1ULL << 30 },
		{ "1.5G", 3ULL << 29 },
		{ "1.50K", 1536 },
		{ "0.5K", 512 },
		{ "1.1K", 1126 },          /* 1126.4: truncated */
		{ "1T", 1ULL << 40 },
		{ "2p", 2ULL << 50 },
		{ "1E", 1ULL << 60 },
		{ "15E", 15ULL << 60 },
		{ "15.999999999999999999E", 18446744073709551614ULL },
		{ "007", 7 },
		{ "18446744073709551615", 18446744073709551615ULL },
		{ "16777215T", 16777215ULL << 40 },
	};
	static const char *const bad[] = {
		"", "K", "B", "-1", "+1", " 1", "1 ", "1x", "1KK", "1KBB",
		"1BK", "1.5", "1.", ".5K", "1.5.5K", "0x10", "1e3", "abc",
		"1 K", "16E", "18446744073709551616", "99999999999999999999",
		"16777216T", "1KiB", "1,5G", "--1",
	};
	uint64_t v;
	size_t i;

	for (i = 0; i < CF_ARRAY_SIZE(good); i++) {
		v = 12345;
		if (cf_parse_size(good[i].s, &v) != 0 || v != good[i].v) {
			fprintf(stderr, "  parse '%s' -> %llu\n", good[i].s,
			    (unsigned long long)v);
			CHECK(0);
		}
	}
	for (i = 0; i < CF_ARRAY_SIZE(bad); i++) {
		v = 12345;
		if (cf_parse_size(bad[i], &v) != -EINVAL || v != 12345) {
			fprintf(stderr, "  parse '%s' accepted\n", bad[i]);
			CHECK(0);
		}
	}
	CHECK_RC(cf_parse_size(NULL, &v), -EINVAL);
}

static void test_format_size(void)
{
	static const struct {
		uint64_t v;
		const char *s;
	} tab[] = {
		{ 0, "0" },
		{ 1, "1" },
		{ 512, "512" },
		{ 1023, "1023" },
		{ 1024, "1K" },
		{ 1536, "1.50K" },
		{ 1025, "1.00K" },
		{ 10 * 1024 + 512, "10.5K" },
		{ 100 * 1024 + 512, "100K" },      /* 100.5 rounds to 100 */
		{ 131072, "128K" },
		{ 1048575, "1024K" },
		{ 1ULL << 20, "1M" },
		{ (1ULL << 30) + 1, "1.00G" },
		{ 1ULL << 30, "1G" },
		{ 3ULL << 29, "1.50G" },
		{ 1ULL << 40, "1T" },
		{ 1ULL << 50, "1P" },
		{ 1ULL << 60, "1E" },
		{ 18446744073709551615ULL, "16.0E" },
	};
	char buf[16], small[4];
	size_t i;

	for (i = 0; i < CF_ARRAY_SIZE(tab); i++) {
		cf_format_size(tab[i].v, buf, sizeof(buf));
		if (strcmp(buf, tab[i].s) != 0) {
			fprintf(stderr, "  format %llu -> '%s', want '%s'\n",
			    (unsigned long long)tab[i].v, buf, tab[i].s);
			CHECK(0);
		}
	}
	/* What format prints, parse reads back (to within 1%). */
	for (i = 0; i < CF_ARRAY_SIZE(tab); i++) {
		uint64_t v, want = tab[i].v;

		if (want >= (1ULL << 63))
			continue;       /* "16.0E" is past the range */
		cf_format_size(want, buf, sizeof(buf));
		CHECK_OK(cf_parse_size(buf, &v));
		CHECK((v > want ? v - want : want - v) <= want / 100);
	}
	cf_format_size(3ULL << 29, small, sizeof(small));
	CHECK(strcmp(small, "1.5") == 0);
}

static void test_clocks(void)
{
	uint64_t a, b;

	/* After 2020-01-01 and before 2200. */
	CHECK(cf_now_ns() > 1577836800ULL * 1000000000ULL);
	CHECK(cf_now_ns() < 7258118400ULL * 1000000000ULL);
	a = cf_mono_ns();
	usleep(2000);
	b = cf_mono_ns();
	CHECK(b > a && b - a >= 2000000);
}

void test_main(void)
{
	RUN(test_le_codecs);
	RUN(test_checked_arith);
	RUN(test_strerror);
	RUN(test_errdetail);
	RUN(test_log);
	RUN(test_corrupt);
	RUN(test_alloc);
	RUN(test_secure_alloc);
	RUN(test_wipe);
	RUN(test_grow);
	RUN(test_buf);
	RUN(test_strings);
	RUN(test_parse_size);
	RUN(test_format_size);
	RUN(test_clocks);
}
