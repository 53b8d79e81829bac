/*
 * banned.h - C library functions that coffer code must not call.
 *
 * Each of these either cannot be told the size of its destination
 * (strcpy, strcat, sprintf, vsprintf, gets) or keeps hidden global state
 * that breaks under threads (strtok).  Use cf_strlcpy, cf_snprintf,
 * snprintf, a cf_buf_t or strtok_r instead.
 *
 * A banned call does not link against anything: it expands to an
 * undeclared identifier that names the offence, so the compiler stops
 * with e.g. "'sorry_strcpy_is_banned_in_coffer' undeclared".
 *
 * This file is included at the very end of util/util.h.  It pulls in the
 * system headers that declare the banned names first, so that a file
 * that includes <stdio.h> or <string.h> after util.h still compiles
 * (their include guards keep the declarations from being seen again).
 */
#ifndef COFFER_BANNED_H
#define COFFER_BANNED_H

#include <stdio.h>
#include <string.h>

#define CF_BANNED(func) sorry_##func##_is_banned_in_coffer

#undef strcpy
#define strcpy(...) CF_BANNED(strcpy)
#undef strcat
#define strcat(...) CF_BANNED(strcat)
#undef sprintf
#define sprintf(...) CF_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) CF_BANNED(vsprintf)
#undef strtok
#define strtok(...) CF_BANNED(strtok)
#undef gets
#define gets(...) CF_BANNED(gets)

#endif
