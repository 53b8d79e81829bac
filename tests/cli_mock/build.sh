#!/bin/sh
# DEVELOPMENT AID ONLY: build the `coffer` CLI against the throwaway mock
# library in tests/cli_mock/mock.c (not libcoffer), to exercise argument
# parsing, output formatting and the integration scripts before the real
# library lands.  Usage: sh tests/cli_mock/build.sh [OUTDIR]  (default
# /tmp/coffer-mock); then COFFER=/tmp/coffer-mock/coffer sh tests/integ/t_x.sh
set -e
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-/tmp/coffer-mock}
mkdir -p "$out/cli"
printf '#define COFFER_VERSION "%s-mock"\n' \
	"$(sed -n "s/^ *version : '\(.*\)',/\1/p" "$top/meson.build")" \
	>"$out/cli/cli_version.h"
${CC:-cc} -std=c11 -g -O0 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
	-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-unused-parameter ${MOCK_CFLAGS:-} \
	-I"$out" -I"$top/include" -I"$top/src" \
	-o "$out/coffer" "$top"/src/cli/*.c "$top/tests/cli_mock/mock.c" \
	"$top/src/dsl/props.c"
echo "$out/coffer"
