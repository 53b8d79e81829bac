#!/bin/sh
# bench/run.sh [BUILD]: coffer against plain files on the same file system.
#
# In one run: a large file of random (incompressible) bytes, optionally a
# compressible one, and a tree of small files, each written and read back
# through coffer and through plain files in the same temporary directory.
# Every measurement is repeated BENCH_REPS times; the table shows medians
# and the ratio coffer/baseline (higher is better for coffer).
#
# Environment:
#   BENCH_DIR           where the temporary directory goes (default /tmp)
#   BENCH_SIZE          size of the large file: 1G (default), 256M, 64M...
#                       (a bare number is MiB); the small-file tree scales
#                       with it unless BENCH_FILES is set
#   BENCH_FILES         number of small files (default 20000 at 1G)
#   BENCH_REPS          repetitions of each measurement (default 3)
#   BENCH_COMPRESSIBLE  1 (default) to also time a compressible file, 0 not
#   BENCH_ENCRYPTION    suite of the encrypted dataset that the random file
#                       and the small files are also timed on (default
#                       aes-256-gcm; off: none)
#   BENCH_KEEP          1 to keep the temporary directory
#   BENCH_SEND          1 (default) to run bench/send.sh (replication
#                       streams: send, send | receive, raw, incremental)
#                       after this report, 0 not
#
# Not part of `make test`: nothing here asserts on time.
set -eu

. "$(dirname "$0")/lib.sh"

if [ -n "${BENCH_FILES:-}" ]; then
	NFILES=$BENCH_FILES
else
	NFILES=$(( 20000 * SIZE_MB / 1024 ))
	[ "$NFILES" -ge 200 ] || NFILES=200
fi
NDIRS=$(( NFILES / 200 ))
[ "$NDIRS" -ge 1 ] || NDIRS=1
COMPRESSIBLE=${BENCH_COMPRESSIBLE:-1}
ENCRYPTION=${BENCH_ENCRYPTION:-aes-256-gcm}

bench_workdir coffer-bench
mkdir -p "$T/plain" "$T/src"
cleanup() {
	# the key of tank/enc stays in the kernel keyring until unloaded
	if [ -f "$T/pool.img" ]; then
		[ -f "$T/key" ] && "$COFFER" unload-key tank/enc > /dev/null 2>&1
		"$COFFER" pool destroy tank > /dev/null 2>&1
	fi
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench: kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the pool and the data --------------------------------------------------

# sparse: three times the large file, at least 3 GiB
POOL_MB=$(( SIZE_MB * 3 ))
[ "$POOL_MB" -ge 3072 ] || POOL_MB=3072
cf pool create tank "$T/pool.img" --size "${POOL_MB}M" >/dev/null
cf create tank/fs >/dev/null
ENC_NOTE=
if [ "$ENCRYPTION" != off ]; then
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/key"
	if ! cf create -o encryption="$ENCRYPTION" -o keyformat=hex \
	    -o keylocation="file://$T/key" tank/enc > "$T/enc.err" 2>&1; then
		ENC_NOTE=$(head -n 1 "$T/enc.err")
		ENCRYPTION=off
	fi
fi

load0=$(cut -d' ' -f1 /proc/loadavg)
start=$(date +%s)
echo "bench: preparing data in $T ..." >&2
dd if=/dev/urandom of="$T/src/random" bs=1M count="$SIZE_MB" \
    status=none
if [ "$COMPRESSIBLE" = 1 ]; then
	perl "$HERE/mkcompressible.pl" "$SIZE_MB" > "$T/src/text"
fi
SMALL_BYTES=$(perl "$HERE/mktree.pl" "$T/src/small" "$NFILES" "$NDIRS" \
    16384 1)
sync

BIG_BYTES=$(( SIZE_MB * 1048576 ))
ROWS="$T/rows"
: > "$ROWS"

# row LABEL UNIT AMOUNT BASEFILE COFFERFILE
row() {
	b=$(median "$4")
	c=$(median "$5")
	echo "$1|$2|$3|${b% *}|${c% *}|${b#* }|${c#* }" >> "$ROWS"
}

# ---- large files --------------------------------------------------------------

# big NAME DATASET LABEL: write then read back $T/src/NAME, both sides,
# REPS times.
big() {
	name=$1
	ds=$2
	src="$T/src/$name"
	for f in bw cw br cr; do : > "$T/t.$name.$f"; done
	for i in $(seq "$REPS"); do
		echo "bench: $3, round $i/$REPS" >&2
		rm -f "$T/plain/$name"
		cf rm -f "$ds:/$name"
		sync
		cat "$src" > /dev/null          # the source from memory
		RES="$T/t.$name.bw" timed dd if="$src" of="$T/plain/$name" \
		    bs=1M conv=fsync status=none
		cat "$src" > /dev/null
		RES="$T/t.$name.cw" timed cf put "$src" "$ds:/$name"

		drop_caches
		RES="$T/t.$name.br" timed dd if="$T/plain/$name" of=/dev/null \
		    bs=1M status=none
		drop_caches
		RES="$T/t.$name.cr" timed sh -c \
		    '"$1" cat "$2" > /dev/null' sh "$COFFER" "$ds:/$name"
	done
	row "$3: write+fsync" MB/s "$BIG_BYTES" "$T/t.$name.bw" \
	    "$T/t.$name.cw"
	row "$3: read" MB/s "$BIG_BYTES" "$T/t.$name.br" "$T/t.$name.cr"
	cf rm -f "$ds:/$name"
	rm -f "$T/plain/$name"
}

big random tank/fs "$SIZE_MB MiB random"
[ "$ENCRYPTION" != off ] && big random tank/enc "$SIZE_MB MiB random, $ENCRYPTION"
[ "$COMPRESSIBLE" = 1 ] && big text tank/fs "$SIZE_MB MiB text"

# ---- small files ----------------------------------------------------------------

(cd "$T/src/small" && find . -type f | sort) > "$T/list"
sed "s|^\.|$T/plain/small|" "$T/list" > "$T/list.plain"

# small DATASET LABEL: copy the tree in, then read every file; REPS times.
small() {
	ds=$1
	sed "s|^\.|$ds:/small|" "$T/list" > "$T/list.coffer"
	for f in bw cw bc cc; do : > "$T/t.small.$f"; done
	for i in $(seq "$REPS"); do
		echo "bench: $2, round $i/$REPS" >&2
		rm -rf "$T/plain/small"
		cf rm -rf "$ds:/small"
		sync
		tar cf - -C "$T/src" small | cat > /dev/null

		# write: copy the tree in, durable at the end
		RES="$T/t.small.bw" timed sh -c 'cp -a "$1" "$2" && sync -f "$2"' \
		    sh "$T/src/small" "$T/plain/small"
		tar cf - -C "$T/src" small | cat > /dev/null
		RES="$T/t.small.cw" timed cf put -r "$T/src/small" "$ds:/small"

		# read: every file's contents, in name order
		drop_caches
		RES="$T/t.small.bc" timed sh -c \
		    'xargs cat < "$1" > /dev/null' sh "$T/list.plain"
		drop_caches
		RES="$T/t.small.cc" timed sh -c \
		    'xargs "$2" cat < "$1" > /dev/null' sh "$T/list.coffer" \
		    "$COFFER"
	done
	row "$2: copy in+sync" files/s "$NFILES" "$T/t.small.bw" \
	    "$T/t.small.cw"
	row "$2: cat all" files/s "$NFILES" "$T/t.small.bc" "$T/t.small.cc"
	cf rm -rf "$ds:/small"
	rm -rf "$T/plain/small"
}

small tank/fs "$NFILES small files"
[ "$ENCRYPTION" != off ] && small tank/enc "$NFILES small files, $ENCRYPTION"

# ---- report ----------------------------------------------------------------------

load1=$(cut -d' ' -f1 /proc/loadavg)
# (the end figure includes this benchmark's own threads: about one)
busy=$(awk -v a="$load0" -v b="$load1" -v n="$(nproc)" \
    'BEGIN { print (a > n / 2 || b > n / 2 + 1) ? 1 : 0 }')
fstype=$(df -PT "$T" | awk 'NR == 2 { print $2 }')
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
dsprops=$(cf get -H -p compression,recordsize,copies tank/fs |
    awk -F'\t' '{ printf "%s%s=%s", (NR > 1 ? ", " : ""), $2, $3 }')
rev=$(cd "$HERE" && git rev-parse --short HEAD 2>/dev/null || echo unknown)

echo
echo "coffer bench: $("$COFFER" version 2>/dev/null | head -n 1), $COFFER (bench/ at git $rev)"
echo "machine:      $(nproc) CPUs, ${cpu:-unknown CPU}, $mem, Linux $(uname -r)"
echo "directory:    $BASE ($fstype)"
echo "data:         ${SIZE_MB} MiB random$( [ "$COMPRESSIBLE" = 1 ] && echo " + ${SIZE_MB} MiB text"), $NFILES files of 0-16 KiB ($(( SMALL_BYTES / 1048576 )) MiB) in $NDIRS dirs"
echo "method:       median of $REPS; page cache dropped before reads: $DROP"
echo "load average: $load0 at the start, $load1 at the end; run took $(( $(date +%s) - start )) s"
if [ "$ENCRYPTION" != off ]; then
	echo "datasets:     tank/fs: $dsprops; tank/enc: the same and encryption=$ENCRYPTION"
else
	echo "datasets:     tank/fs: $dsprops; no encrypted dataset${ENC_NOTE:+ ($ENC_NOTE)}"
fi
echo
awk -F'|' '
BEGIN {
	printf "%-44s %8s %10s %10s %7s\n", "test", "unit", "baseline",
	    "coffer", "ratio"
}
{
	if ($2 == "MB/s") { b = $3 / $4 / 1e6; c = $3 / $5 / 1e6 }
	else { b = $3 / $4; c = $3 / $5 }
	printf "%-44s %8s %10.1f %10.1f %6.2fx\n", $1, $2, b, c, c / b
}' "$ROWS"
echo
echo "MB = 10^6 bytes; ratio = coffer / baseline.  Median run, wall and CPU"
echo "(user + system, all threads) seconds:"
awk -F'|' '{
	printf "  %-44s base %6.3f s (cpu %5.2f)  coffer %6.3f s (cpu %5.2f)\n",
	    $1, $4, $6, $5, $7
}' "$ROWS"
if [ "$busy" = 1 ]; then
	echo
	echo "warning: other processes kept the CPUs busy during the run"
	echo "(load average $load0 at the start, $load1 at the end, $(nproc) CPUs);"
	echo "CPU-bound figures (compression, small files) suffer most."
fi

# ---- replication streams (bench/send.sh, its own pools and report) ----------

if [ "${BENCH_SEND:-1}" = 1 ]; then
	echo
	sh "$HERE/send.sh" "$BUILD"
fi
