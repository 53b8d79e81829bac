#!/bin/sh
# Build and run every libFuzzer target.
#
# Usage: scripts/fuzz.sh [SECONDS]        (make fuzz; FUZZ_SECONDS=600)
#
# Every tests/fuzz/fuzz_NAME.c is a target.  libcoffer is built with clang
# (-fsanitize=fuzzer-no-link plus ASan and UBSan) in build-fuzz/, each
# target is linked with -fsanitize=fuzzer,address,undefined into
# build-fuzz/fuzz_NAME, and then each runs for an equal share of SECONDS
# (default 600) in total.  A target starts from its committed seeds in
# tests/fuzz/corpus/NAME/ and writes what it finds to
# build-fuzz/corpus/NAME/ (not committed; copy good inputs into the
# committed corpus by hand).  Crashes are saved as
# build-fuzz/artifacts/NAME-crash-*; reproduce one with
#   build-fuzz/fuzz_NAME build-fuzz/artifacts/NAME-crash-...
# FUZZ_TARGETS="recv stream" runs only those targets.
# Exit status: 0 when no target found anything.
set -eu
cd "$(dirname "$0")/.."

total=${1:-600}
out=build-fuzz
targets=$(ls tests/fuzz/fuzz_*.c 2>/dev/null | sed 's|.*/fuzz_||; s|\.c$||')
if [ -n "${FUZZ_TARGETS:-}" ]; then
	targets=$(echo "$FUZZ_TARGETS" | tr ' ' '\n')
fi
if [ -z "$targets" ]; then
	echo "fuzz: no targets in tests/fuzz"
	exit 0
fi
n=$(echo "$targets" | wc -l)
per=$((total / n))
[ "$per" -ge 1 ] || per=1

# The library, instrumented for coverage but without libFuzzer's main().
# Warnings are not errors here: the gcc build is the one that gates them.
if [ ! -f "$out/build.ninja" ]; then
	CC=clang meson setup "$out" -Dbuildtype=debugoptimized \
		-Db_sanitize=address,undefined -Db_lundef=false -Dwerror=false \
		-Dc_args="-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined"
fi
ninja -C "$out" libcoffer.a

libs=$(pkg-config --libs libcrypto liblz4 libzstd libargon2)
mkdir -p "$out/artifacts"
failed=""
for t in $targets; do
	echo "== fuzz_$t: building"
	# shellcheck disable=SC2086
	clang -g -O1 -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
		-fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined \
		-Iinclude -Isrc -Itests/fuzz \
		"tests/fuzz/fuzz_$t.c" "$out/libcoffer.a" $libs -lpthread \
		-o "$out/fuzz_$t"
	mkdir -p "$out/corpus/$t" "tests/fuzz/corpus/$t"
	echo "== fuzz_$t: running for ${per}s"
	if ! "$out/fuzz_$t" -max_total_time="$per" -print_final_stats=1 \
		-artifact_prefix="$out/artifacts/$t-" \
		"$out/corpus/$t" "tests/fuzz/corpus/$t"; then
		failed="$failed $t"
	fi
done
if [ -n "$failed" ]; then
	echo "fuzz: findings in:$failed (see $out/artifacts)"
	exit 1
fi
echo "fuzz: $n target(s), no findings"
