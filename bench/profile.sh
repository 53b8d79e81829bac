#!/bin/sh
# bench/profile.sh [BUILD]: where coffer's time goes when it writes and
# reads one large file of random bytes.
#
# For `coffer put` and `coffer cat` of a BENCH_SIZE file (default 1G):
# CPU counters (perf stat: task-clock, instructions, page faults, context
# switches), wall time, and the functions with the most CPU samples
# (perf record), per command.  Needs perf; if `perf stat -e instructions
# true` fails (no PMU, e.g. in some VMs), the counters that work are
# shown and sampling falls back to the cpu-clock event.
#
# Environment: BENCH_DIR, BENCH_SIZE, BENCH_KEEP as for run.sh;
# PROFILE_TOP (default 15) functions per command.
set -eu

BUILD=${1:-build}
if [ ! -x "$BUILD/coffer" ]; then
	echo "profile: no coffer binary in '$BUILD'" >&2
	exit 2
fi
if ! command -v perf > /dev/null 2>&1; then
	echo "profile: perf is not installed (apt-get install linux-perf)" >&2
	exit 2
fi
COFFER=$(cd "$BUILD" && pwd)/coffer
size_arg=${BENCH_SIZE:-1G}
case $size_arg in
*[Gg]) SIZE_MB=$(( ${size_arg%[Gg]} * 1024 )) ;;
*[Mm]) SIZE_MB=${size_arg%[Mm]} ;;
*) SIZE_MB=$size_arg ;;
esac
TOP=${PROFILE_TOP:-15}

T=$(mktemp -d "${BENCH_DIR:-/tmp}/coffer-profile.XXXXXX")
T=$(cd "$T" && pwd)
cleanup() {
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "profile: kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export COFFER_HOME="$T/home"
mkdir -p "$COFFER_HOME"

EVENTS=task-clock,instructions,cycles,page-faults,context-switches
if ! perf stat -x, -e instructions true 2>&1 | grep -q '^[0-9]'; then
	EVENTS=task-clock,page-faults,context-switches
fi
SAMPLE_EV=cycles
perf record -q -e cycles -o "$T/probe.data" true > /dev/null 2>&1 ||
    SAMPLE_EV=cpu-clock

POOL_MB=$(( SIZE_MB * 2 ))
[ "$POOL_MB" -ge 3072 ] || POOL_MB=3072
"$COFFER" pool create tank "$T/pool.img" --size "${POOL_MB}M" > /dev/null
"$COFFER" create tank/fs > /dev/null
dd if=/dev/urandom of="$T/random" bs=1M count="$SIZE_MB" status=none
sync

drop_caches() {
	sync
	if [ -w /proc/sys/vm/drop_caches ]; then
		echo 3 > /proc/sys/vm/drop_caches 2> /dev/null || true
	fi
}

# profile NAME COMMAND...: counters, then samples, of one command
profile() {
	name=$1
	shift
	echo "== $name: $*"
	echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"
	perf stat -e "$EVENTS" -o "$T/$name.stat" "$@"
	grep -E '[0-9]' "$T/$name.stat" | grep -v '^#' | sed 's/^/   /'
}

samples() {
	name=$1
	shift
	perf record -q -e "$SAMPLE_EV" -o "$T/$name.data" "$@" 2> /dev/null
	echo "   top functions by $SAMPLE_EV samples (all threads):"
	perf report -i "$T/$name.data" --stdio --no-children --sort sym \
	    2> /dev/null | grep -E '^ +[0-9.]+%' | head -n "$TOP" | \
	    sed 's/^/   /'
	echo "   by thread:"
	perf report -i "$T/$name.data" --stdio --no-children --sort pid \
	    2> /dev/null | grep -E '^ +[0-9.]+%' | head -n 6 | sed 's/^/   /'
}

cat "$T/random" > /dev/null
profile put "$COFFER" put "$T/random" tank/fs:/big
drop_caches
profile cat sh -c '"$1" cat tank/fs:/big > /dev/null' sh "$COFFER"
echo

"$COFFER" rm tank/fs:/big
cat "$T/random" > /dev/null
echo "== put, sampled"
samples put "$COFFER" put "$T/random" tank/fs:/big
drop_caches
echo "== cat, sampled"
samples cat sh -c '"$1" cat tank/fs:/big > /dev/null' sh "$COFFER"
