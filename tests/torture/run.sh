#!/bin/sh
# The long crash torture (what `make torture` runs):
#
#	sh tests/torture/run.sh BUILD ITERS [SECONDS]
#
# runs, ITERS iterations each,
#   (a) BUILD/tests/test_crash: simulated power cuts through the fault
#       device (COFFER_TORTURE_ITERS=ITERS), and
#   (b) tests/torture/kill.sh: SIGKILL of a real BUILD/coffer writer;
# with SECONDS (or TORTURE_SECONDS), again and again with new seeds until
# that much time has passed.  TORTURE_SEED fixes the seed of the first
# round (both parts; later rounds add 1000000 each).  Every round prints
# its seeds; see tests/torture/README.md for reproducing a failure.
set -u

if [ $# -lt 2 ]; then
	echo "usage: sh $0 BUILD ITERS [SECONDS]" >&2
	exit 2
fi
BUILD=$1
ITERS=$2
SECONDS_WANTED=${3:-${TORTURE_SECONDS:-0}}
case $BUILD in
/*) ;;
*) BUILD=$(pwd)/$BUILD ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -x "$BUILD/tests/test_crash" ] || [ ! -x "$BUILD/coffer" ]; then
	echo "$0: build $BUILD first (ninja -C $BUILD)" >&2
	exit 2
fi

seed=${TORTURE_SEED:-$(($(date +%s) % 1000000 * 1000 + $$ % 1000))}
start=$(date +%s)
round=0
while :; do
	round=$((round + 1))
	echo "== round $round: power cuts, $ITERS iterations, seed $seed"
	COFFER_TORTURE_ITERS=$ITERS COFFER_TORTURE_SEED=$seed \
	    "$BUILD/tests/test_crash" || {
		echo "torture: power-cut test failed (seed $seed)" >&2
		exit 1
	}
	echo "== round $round: SIGKILL of a writer, $ITERS iterations, seed $seed"
	COFFER="$BUILD/coffer" sh "$here/kill.sh" "$ITERS" "$seed" || {
		echo "torture: kill test failed (seed $seed)" >&2
		exit 1
	}
	now=$(date +%s)
	[ $((now - start)) -lt "$SECONDS_WANTED" ] || break
	seed=$((seed + 1000000))
done
echo "torture: $round round(s) of $ITERS iterations passed in" \
    "$(($(date +%s) - start)) s"
