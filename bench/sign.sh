#!/bin/sh
# bench/sign.sh [BUILD]: the cost of signed streams (RFD 14), end to end.
#
# In one run, on a dataset of BENCH_SIZE random bytes (one file, 128 KiB
# records): `coffer send` to /dev/null unsigned, chain-signed (the
# default) and record-signed (every record), and `coffer receive` of each
# stream from a file, the signed ones verified (receive -s).  Each
# measurement is repeated BENCH_REPS times, runs of the three kinds
# alternating (each rep starting with the next kind); the table shows
# medians and the ratio to unsigned.  Then
# build/bench/sign_speed gives the codec-level figures per record size,
# beside RFD 14's own ceiling table.
#
# Environment: BENCH_SIZE (1G default, 256M, ...; a bare number is MiB),
# BENCH_REPS (3), BENCH_DIR (/tmp), BENCH_KEEP (1: keep the directory),
# BENCH_COLD (1: drop the page cache before each send and receive, so
# that sends read the pool and receives their stream file from the
# device; root only).
# Not part of `make test`: nothing here asserts on time.
set -eu

. "$(dirname "$0")/lib.sh"
SPEED=$(cd "$BUILD" && pwd)/bench/sign_speed

bench_workdir coffer-signbench
cleanup() {
	[ -f "$T/pool.img" ] && "$COFFER" pool destroy tank >/dev/null 2>&1
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench: kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# BENCH_COLD=1: drop the page cache before each send and receive (as
# root), so that a send reads the pool from the device, as a backup job
# does, and a receive its stream file, as a restore from stored streams
COLD=${BENCH_COLD:-0}
if [ "$COLD" = 1 ] && [ "$DROP" != yes ]; then
	echo "bench: BENCH_COLD=1 needs root (/proc/sys/vm/drop_caches)" >&2
	exit 2
fi
cold() {
	if [ "$COLD" = 1 ]; then
		drop_caches
	fi
}

start=$(date +%s)
load0=$(cut -d' ' -f1 /proc/loadavg)
POOL_MB=$(( SIZE_MB * 4 + 1024 ))
cf pool create tank "$T/pool.img" --size "${POOL_MB}M" >/dev/null
cf create tank/fs
head -c "$(( SIZE_MB * 1048576 ))" /dev/urandom >"$T/data"
cf put "$T/data" tank/fs:/data
rm -f "$T/data"
cf snapshot tank/fs@s
cf key generate bench >/dev/null

send_unsigned() { cf send tank/fs@s >/dev/null; }
send_chain() { cf send -s bench tank/fs@s >/dev/null; }
send_record() { cf send -s bench --sign-mode record tank/fs@s >/dev/null; }
cf send tank/fs@s >"$T/unsigned.stream"
cf send -s bench tank/fs@s >"$T/chain.stream"
cf send -s bench --sign-mode record tank/fs@s >"$T/record.stream"
n=0
recv_unsigned() { n=$((n + 1)); cf receive "tank/r$n" <"$T/unsigned.stream"; }
recv_chain() { n=$((n + 1)); cf receive -s "tank/r$n" <"$T/chain.stream"; }
recv_record() { n=$((n + 1)); cf receive -s "tank/r$n" <"$T/record.stream"; }

: >"$T/rows"
for k in unsigned chain record; do
	: >"$T/send-$k"
	: >"$T/recv-$k"
done
# the kinds in turn, each rep starting with the next one, so that no kind
# always runs first (after the previous rep's receives and destroys)
kinds() {
	case $(($1 % 3)) in
	0) echo unsigned chain record ;;
	1) echo chain record unsigned ;;
	*) echo record unsigned chain ;;
	esac
}
i=0
while [ $i -lt "$REPS" ]; do
	for k in $(kinds $i); do
		sync
		cold
		RES="$T/send-$k" timed "send_$k"
	done
	for k in $(kinds $i); do
		sync
		cold
		RES="$T/recv-$k" timed "recv_$k"
		cf destroy -r "tank/r$n"
	done
	i=$((i + 1))
done

load1=$(cut -d' ' -f1 /proc/loadavg)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
rev=$(cd "$HERE" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
bytes=$(( SIZE_MB * 1048576 ))
echo "coffer sign bench: $COFFER (bench/ at git $rev)"
echo "machine:      $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r)"
echo "data:         $SIZE_MB MiB random in one file (128K records), Ed25519 key"
echo "streams:      unsigned $(stat -c %s "$T/unsigned.stream"), chain" \
    "$(stat -c %s "$T/chain.stream"), record $(stat -c %s "$T/record.stream") bytes"
if [ "$COLD" = 1 ]; then cache="page cache dropped before each"; else
	cache="page cache warm"; fi
echo "method:       median of $REPS, kinds alternating; send to /dev/null," \
    "receive from a file ($cache)"
echo "load average: $load0 at the start, $load1 at the end; run took" \
    "$(( $(date +%s) - start )) s"
echo
printf '%-28s %9s %9s %8s %8s\n' "test" "seconds" "MB/s" "ratio" \
    "cpu s"
for op in send recv; do
	base=$(median "$T/$op-unsigned" | cut -d' ' -f1)
	for k in unsigned chain record; do
		m=$(median "$T/$op-$k")
		s=${m% *}
		cpu=${m#* }
		case $op in send) what="send $k" ;; *) what="receive $k" ;; esac
		[ "$op" = recv ] && [ "$k" != unsigned ] && what="$what (verified)"
		awk -v w="$what" -v s="$s" -v b="$base" -v n="$bytes" \
		    -v c="$cpu" 'BEGIN { printf "%-28s %9.3f %9.1f %7.2fx %8.2f\n",
		    w, s, n / s / 1e6, b / s, c }'
	done
done
echo
echo "MB = 10^6 bytes of dataset; ratio = unsigned time / this time"
echo "(1.00x = as fast as unsigned); cpu s = user + system seconds of the"
echo "median run, all threads."
if [ -x "$SPEED" ]; then
	echo
	echo "codec level (build/bench/sign_speed 256), no pool:"
	"$SPEED" 256
	echo "RFD 14's estimated ceilings for signing every record (Ed25519,"
	echo "Nehalem core): 290 MB/s at 8 KB, 479 at 32 KB, 572 at 128 KB,"
	echo "612 at 16 MB."
fi
