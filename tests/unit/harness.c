#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coffer.h"

static int npass, nfail, cur_failed;
static char tmpdir[256];

void th_fail(const char *file, int line, const char *what, long long rc)
{
	cur_failed = 1;
	if (rc != 0)
		fprintf(stderr, "  %s:%d: %s -> %lld (%s) %s\n", file, line,
		    what, rc, coffer_strerror((int)rc), coffer_errdetail());
	else
		fprintf(stderr, "  %s:%d: check failed: %s\n", file, line,
		    what);
}

int th_failed_now(void)
{
	return cur_failed;
}

void th_run(const char *name, void (*fn)(void))
{
	cur_failed = 0;
	fn();
	if (cur_failed) {
		nfail++;
		printf("FAIL %s\n", name);
	} else {
		npass++;
		printf("ok   %s\n", name);
	}
	fflush(stdout);
}

static void cleanup(void)
{
	if (tmpdir[0]) {
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdir);
	}
}

const char *th_tmpdir(void)
{
	if (!tmpdir[0]) {
		const char *base = getenv("TMPDIR");
		snprintf(tmpdir, sizeof(tmpdir), "%s/coffer-test-XXXXXX",
		    base ? base : "/tmp");
		if (!mkdtemp(tmpdir)) {
			perror("mkdtemp");
			exit(2);
		}
		atexit(cleanup);
	}
	return tmpdir;
}

static void log_cb(int level, const char *msg, void *arg)
{
	(void)arg;
	fprintf(stderr, "  [log %d] %s\n", level, msg);
}

int main(void)
{
	/* COFFER_TEST_LOG=N shows library messages up to level N */
	const char *lv = getenv("COFFER_TEST_LOG");
	if (lv)
		coffer_set_log(log_cb, NULL);
	test_main();
	printf("%d passed, %d failed\n", npass, nfail);
	return nfail ? 1 : 0;
}
