/*
 * A tiny unit-test harness.  Each test file defines test_main(), which
 * calls RUN(fn) for each test; the harness prints one line per test and a
 * closing "N passed, N failed" line, and exits 1 if anything failed.
 */
#ifndef COFFER_TEST_HARNESS_H
#define COFFER_TEST_HARNESS_H

#include <stdio.h>
#include <stdint.h>

void th_fail(const char *file, int line, const char *what, long long rc);
int th_failed_now(void);
void th_run(const char *name, void (*fn)(void));
void test_main(void);
/* A fresh empty directory for this test process (removed at exit). */
const char *th_tmpdir(void);

#define RUN(fn) th_run(#fn, fn)
#define CHECK(cond) do { if (!(cond)) { \
	th_fail(__FILE__, __LINE__, #cond, 0); return; } } while (0)
#define CHECK_RC(expr, want) do { long long _r = (long long)(expr); \
	if (_r != (long long)(want)) { \
	th_fail(__FILE__, __LINE__, #expr, _r); return; } } while (0)
#define CHECK_OK(expr) CHECK_RC(expr, 0)

#endif
