# bench/lib.sh: what bench/run.sh, send.sh and sign.sh share; sourced
# with the build directory as $1.  Sets COFFER, HERE, SIZE_MB (from
# BENCH_SIZE: 1G, 256M, ...; a bare number is MiB), REPS (BENCH_REPS),
# BASE (BENCH_DIR), DROP, and defines:
#   bench_workdir NAME  make $T under $BASE, COFFER_HOME inside it
#   cf ARGS             the coffer command
#   now                 nanoseconds
#   drop_caches         sync, and drop the page cache when root
#   RES=FILE timed CMD  run CMD; append "wall-seconds cpu-seconds" to FILE
#   median FILE         the line of the median wall time: "wall cpu"

BUILD=${1:-build}
if [ ! -x "$BUILD/coffer" ]; then
	echo "bench: no coffer binary in '$BUILD' (run 'make build' first)" >&2
	exit 2
fi
COFFER=$(cd "$BUILD" && pwd)/coffer
HERE=$(cd "$(dirname "$0")" && pwd)

size_arg=${BENCH_SIZE:-1G}
case $size_arg in
*[Gg]) SIZE_MB=$(( ${size_arg%[Gg]} * 1024 )) ;;
*[Mm]) SIZE_MB=${size_arg%[Mm]} ;;
*) SIZE_MB=$size_arg ;;
esac
case $SIZE_MB in
''|*[!0-9]*|0) echo "bench: bad BENCH_SIZE '$size_arg'" >&2; exit 2 ;;
esac
REPS=${BENCH_REPS:-3}
BASE=${BENCH_DIR:-/tmp}

bench_workdir() {
	T=$(mktemp -d "$BASE/$1.XXXXXX")
	T=$(cd "$T" && pwd)
	export COFFER_HOME="$T/home"
	mkdir -p "$COFFER_HOME"
}

cf() { "$COFFER" "$@"; }
now() { date +%s%N; }

DROP=no
if [ -w /proc/sys/vm/drop_caches ] && \
    (echo 1 > /proc/sys/vm/drop_caches) 2>/dev/null; then
	DROP=yes
fi
drop_caches() {
	sync
	if [ "$DROP" = yes ]; then
		echo 3 > /proc/sys/vm/drop_caches
	fi
}

# CPU seconds (user + system) used so far by finished children, parsed
# from the output of `times` (which must run in this shell: in a command
# substitution it would count the subshell's children).
cpu_parse() {
	tail -n 1 "$1" | awk '{
		t = 0
		for (i = 1; i <= 2; i++) {
			split($i, p, "m")
			sub("s", "", p[2])
			t += p[1] * 60 + p[2]
		}
		print t
	}'
}

RES=
timed() {
	times > "$T/times0"
	t0=$(now)
	"$@"
	t1=$(now)
	times > "$T/times1"
	echo "$t0 $t1 $(cpu_parse "$T/times0") $(cpu_parse "$T/times1")" | \
	    awk '{ printf "%.6f %.2f\n", ($2 - $1) / 1e9, $4 - $3 }' >> "$RES"
}

median() {
	sort -g "$1" | awk '{ v[NR] = $0 } END { print v[int((NR + 1) / 2)] }'
}
