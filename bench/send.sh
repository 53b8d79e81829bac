#!/bin/sh
# bench/send.sh [BUILD]: replication streams, in one run.
#
#   - full send of a dataset holding BENCH_SIZE (default 1 GiB) of random
#     (incompressible) bytes to /dev/null, against `cat` of the same bytes
#     as a plain file to /dev/null (page cache dropped before both when
#     run as root);
#   - full `send | receive` into a second pool;
#   - raw (`send -w`) against non-raw send of the same data in an
#     encrypted dataset (skipped, with a note, while `send -w` does not
#     exist);
#   - incrementals with 1 MiB changed: 1 MiB rewritten in place in the
#     middle of a volume holding the same bytes (its full send is timed
#     too, for the ratio), and a new 1 MiB file in the filesystem: stream
#     size and time.
# Every measurement is repeated BENCH_REPS times (default 3); the report
# gives medians and the ratios.
#
# Environment: BENCH_DIR (default /tmp), BENCH_SIZE (1G, 256M, ...; a
# bare number is MiB), BENCH_REPS, BENCH_KEEP as for run.sh.
# Not part of `make test`: nothing here asserts on time.
set -eu

. "$(dirname "$0")/lib.sh"
[ "$SIZE_MB" -ge 4 ] || { echo "bench: BENCH_SIZE below 4M" >&2; exit 2; }

bench_workdir coffer-bench-send
cleanup() {
	if [ -f "$T/key" ]; then
		"$COFFER" unload-key tank/enc > /dev/null 2>&1 || true
	fi
	for p in tank tank2; do
		[ -f "$T/$p.img" ] && "$COFFER" pool destroy $p > /dev/null 2>&1
	done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench: kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wall() { m=$(median "$1"); echo "${m% *}"; }

# ---- pools and data -----------------------------------------------------------

POOL_MB=$(( SIZE_MB * 4 ))
[ "$POOL_MB" -ge 4096 ] || POOL_MB=4096
cf pool create tank "$T/tank.img" --size "${POOL_MB}M" > /dev/null
POOL2_MB=$(( SIZE_MB * 2 ))
[ "$POOL2_MB" -ge 2048 ] || POOL2_MB=2048
cf pool create tank2 "$T/tank2.img" --size "${POOL2_MB}M" > /dev/null
cf create tank/fs > /dev/null
cf create -V "${SIZE_MB}M" tank/vol > /dev/null

RAW=no
RAW_NOTE="send -w is not available in this coffer: raw rows skipped"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/key"
if cf create -o encryption=aes-256-gcm -o keyformat=hex \
    -o keylocation="file://$T/key" tank/enc > /dev/null 2>&1; then
	:
else
	rm -f "$T/key"
	RAW_NOTE="no encrypted dataset could be made: raw rows skipped"
fi

echo "bench: preparing ${SIZE_MB} MiB of random data in $T ..." >&2
dd if=/dev/urandom of="$T/random" bs=1M count="$SIZE_MB" status=none
cf put "$T/random" tank/fs:/random
cf write tank/vol < "$T/random"
cf snapshot tank/fs@full
cf snapshot tank/vol@full
if [ -f "$T/key" ]; then
	cf put "$T/random" tank/enc:/random
	cf snapshot tank/enc@full
	if cf send -w tank/enc@full 2> "$T/raw.err" | head -c 1 > /dev/null &&
	    [ ! -s "$T/raw.err" ]; then
		RAW=yes
		RAW_NOTE=
	fi
fi
# the changes of the incrementals: 1 MiB in place in the middle of the
# volume, a new 1 MiB file in the filesystem
head -c 1048576 /dev/urandom > "$T/mib"
cf write tank/vol --offset $(( SIZE_MB / 2 ))M < "$T/mib"
cf snapshot tank/vol@inc
cf put "$T/mib" tank/fs:/mib
cf snapshot tank/fs@inc
sync

BYTES=$(( SIZE_MB * 1048576 ))
load0=$(cut -d' ' -f1 /proc/loadavg)
start=$(date +%s)

# ---- measurements ----------------------------------------------------------------

for f in cat full vfull recv raw nonraw vinc finc; do : > "$T/t.$f"; done
for i in $(seq "$REPS"); do
	echo "bench: round $i/$REPS" >&2
	drop_caches
	RES="$T/t.cat" timed sh -c 'cat "$1" > /dev/null' sh "$T/random"
	drop_caches
	RES="$T/t.full" timed sh -c '"$1" send tank/fs@full > /dev/null' sh \
	    "$COFFER"
	drop_caches
	RES="$T/t.vfull" timed sh -c '"$1" send tank/vol@full > /dev/null' \
	    sh "$COFFER"
	cf destroy -r tank2/copy > /dev/null 2>&1 || true
	sync
	drop_caches
	RES="$T/t.recv" timed sh -c \
	    '"$1" send tank/fs@full | "$1" receive tank2/copy' sh "$COFFER"
	if [ "$RAW" = yes ]; then
		drop_caches
		RES="$T/t.raw" timed sh -c \
		    '"$1" send -w tank/enc@full > /dev/null' sh "$COFFER"
		drop_caches
		RES="$T/t.nonraw" timed sh -c \
		    '"$1" send tank/enc@full > /dev/null' sh "$COFFER"
	fi
	drop_caches
	RES="$T/t.vinc" timed sh -c \
	    '"$1" send -i @full tank/vol@inc > "$2/vinc.stream"' sh "$COFFER" "$T"
	drop_caches
	RES="$T/t.finc" timed sh -c \
	    '"$1" send -i @full tank/fs@inc > "$2/finc.stream"' sh "$COFFER" "$T"
done
# the received copy is the sender's data
cf cat tank2/copy:/random | cmp -s - "$T/random" ||
    { echo "bench: the received copy differs" >&2; exit 1; }
cf send tank/fs@full | wc -c > "$T/full.size"
VINC_SIZE=$(wc -c < "$T/vinc.stream")
FINC_SIZE=$(wc -c < "$T/finc.stream")
FULL_SIZE=$(cat "$T/full.size")

# ---- report ----------------------------------------------------------------------

load1=$(cut -d' ' -f1 /proc/loadavg)
fstype=$(df -PT "$T" | awk 'NR == 2 { print $2 }')
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
rev=$(cd "$HERE" && git rev-parse --short HEAD 2>/dev/null || echo unknown)

mbps() { awk -v b="$BYTES" -v t="$1" 'BEGIN { printf "%.1f", b / t / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
line() {
	m=$(median "$2")
	printf '  %-46s %8.3f s (cpu %5.2f) %9s MB/s\n' "$1" "${m% *}" \
	    "${m#* }" "$(mbps "${m% *}")"
}

echo
echo "coffer send bench: $("$COFFER" version 2>/dev/null | head -n 1), $COFFER (bench/ at git $rev)"
echo "machine:      $(nproc) CPUs, ${cpu:-unknown CPU}, $mem, Linux $(uname -r)"
echo "directory:    $BASE ($fstype)"
echo "data:         ${SIZE_MB} MiB random in tank/fs:/random and in the volume tank/vol; 1 MiB changes"
echo "method:       median of $REPS; page cache dropped before each run: $DROP"
echo "load average: $load0 at the start, $load1 at the end; run took $(( $(date +%s) - start )) s"
echo
echo "Median wall (CPU = user + system of all processes) and rate over ${SIZE_MB} MiB:"
line "cat FILE > /dev/null" "$T/t.cat"
line "send tank/fs@full > /dev/null" "$T/t.full"
line "send tank/vol@full > /dev/null" "$T/t.vfull"
line "send tank/fs@full | receive tank2/copy" "$T/t.recv"
if [ "$RAW" = yes ]; then
	line "send -w tank/enc@full > /dev/null (raw)" "$T/t.raw"
	line "send tank/enc@full > /dev/null (non-raw)" "$T/t.nonraw"
fi
printf '  %-46s %8.3f s, stream %d bytes\n' "send -i @full tank/vol@inc (1 MiB in place)" \
    "$(wall "$T/t.vinc")" "$VINC_SIZE"
printf '  %-46s %8.3f s, stream %d bytes\n' "send -i @full tank/fs@inc (1 MiB new file)" \
    "$(wall "$T/t.finc")" "$FINC_SIZE"
echo
echo "Full stream: $FULL_SIZE bytes for $BYTES bytes of data ($(ratio "$FULL_SIZE" "$BYTES")x)."
echo "Ratios (expected in brackets):"
echo "  full send rate / cat rate:                  $(ratio "$(wall "$T/t.cat")" "$(wall "$T/t.full")")  (>= 0.5)"
echo "  send | receive rate / cat rate:             $(ratio "$(wall "$T/t.cat")" "$(wall "$T/t.recv")")"
if [ "$RAW" = yes ]; then
	echo "  raw send rate / non-raw send rate:          $(ratio "$(wall "$T/t.nonraw")" "$(wall "$T/t.raw")")"
else
	echo "  raw: $RAW_NOTE"
fi
echo "  1 MiB in place (volume): stream / 2 MiB:    $(ratio "$VINC_SIZE" 2097152)  (< 1)"
echo "  1 MiB in place (volume): time / its full:   $(ratio "$(wall "$T/t.vinc")" "$(wall "$T/t.vfull")")  (< 0.05)"
echo "  1 MiB new file (fs): stream / 2 MiB:        $(ratio "$FINC_SIZE" 2097152)  (< 1)"
echo "  1 MiB new file (fs): time / its full:       $(ratio "$(wall "$T/t.finc")" "$(wall "$T/t.full")")  (< 0.05)"
