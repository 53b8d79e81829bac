/*
 * utilshim.c - the few util symbols the fs tests need while util.c is
 * written in another branch.  Test-only: after the merge the tests link
 * libcoffer and this file goes away.
 */
#include <stdio.h>
#include <string.h>

#include "util/util.h"

static _Thread_local char corrupt_site[256];

int cf_corrupt_at(const char *file, int line)
{
	snprintf(corrupt_site, sizeof(corrupt_site), "%s:%d", file, line);
	return COFFER_ECORRUPT;
}

const char *cf_corrupt_site(void)
{
	return corrupt_site;
}

const char *coffer_strerror(int err)
{
	switch (err) {
	case COFFER_ECORRUPT:
		return "corrupt on-disk structure";
	case COFFER_ENOTSUP:
		return "unsupported feature or version";
	default:
		return err < 0 && err > -1000 ? strerror(-err) : "coffer error";
	}
}

const char *coffer_errdetail(void)
{
	return corrupt_site;
}

void coffer_set_log(coffer_log_fn fn, void *arg)
{
	(void)fn;
	(void)arg;
}
