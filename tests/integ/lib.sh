# Helpers for the integration tests, which drive the real `coffer` command
# as a user would.  A test starts with
#
#	. "$(dirname "$0")/lib.sh"
#
# and is run as  COFFER=path/to/coffer sh tests/integ/t_x.sh.  It stops at
# the first failure with a message naming the command and what was wrong,
# and exits non-zero.  Everything lives in a fresh temporary directory $T
# (COFFER_HOME is $T/home), removed at exit unless COFFER_KEEP=1.
#
#	ok CMD...               CMD must exit 0; its stdout passes through
#	okout CMD...            CMD must exit 0; its stdout is left in $OUT
#	fails CODE TEXT CMD...  CMD must exit CODE with TEXT in its stderr;
#	                        with CODE 1 every stderr line must be a
#	                        "coffer: ..." message, with CODE 2 the usage
#	                        must be shown unless TEXT says otherwise
#	same FILE1 FILE2        the files have the same bytes
#	expect ACTUAL WANTED    the strings are equal
#	contains TEXT PART      TEXT contains PART;  lacks TEXT PART: it does not
#	step WHAT               say what the next commands test
#	mkpool NAME [SIZE]      create pool NAME on $T/NAME.img (default 256M)
#	wait_locked FILE [PID]  wait until a process holds the lock coffer
#	                        takes on a pool's first device FILE
#
# POSIX sh only.

set -u

if [ -z "${COFFER:-}" ]; then
	echo "usage: COFFER=path/to/coffer sh $0" >&2
	exit 2
fi
case $COFFER in
/*) ;;
*) COFFER=$(pwd)/$COFFER ;;
esac
if [ ! -x "$COFFER" ]; then
	echo "$0: $COFFER is not an executable" >&2
	exit 2
fi

TESTNAME=$(basename "$0" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/coffer-$TESTNAME.XXXXXX") || exit 2
COFFER_HOME=$T/home
export COFFER_HOME
mkdir "$COFFER_HOME" || exit 2
# Messages, dates and new files' modes in a fixed form.
umask 022
LC_ALL=C
TZ=UTC
export LC_ALL TZ
unset COFFER_DEBUG

lib_cleanup() {
	lib_rc=$?
	if [ "${COFFER_KEEP:-0}" = 1 ]; then
		echo "$TESTNAME: kept $T" >&2
	else
		# pools may hold files under $T; forget them first
		if [ -f "$COFFER_HOME/pools" ]; then
			for p in $("$COFFER" pool list -H 2>/dev/null | cut -f1); do
				"$COFFER" pool export "$p" >/dev/null 2>&1
			done
		fi
		rm -rf "$T"
	fi
	if [ $lib_rc -eq 0 ]; then
		echo "$TESTNAME: ok"
	fi
	exit $lib_rc
}
trap lib_cleanup EXIT
trap 'exit 130' INT TERM HUP

coffer() {
	"$COFFER" "$@"
}

fail() {
	printf '%s: FAIL: %s\n' "$TESTNAME" "$*" >&2
	exit 1
}

step() {
	printf '%s: %s\n' "$TESTNAME" "$*"
}

ok() {
	"$@" 2>"$T/.err"
	lib_st=$?
	if [ $lib_st -ne 0 ]; then
		cat "$T/.err" >&2
		fail "exit $lib_st from: $*"
	fi
	cat "$T/.err" >&2
}

okout() {
	"$@" >"$T/.out" 2>"$T/.err"
	lib_st=$?
	if [ $lib_st -ne 0 ]; then
		cat "$T/.err" >&2
		fail "exit $lib_st from: $*"
	fi
	cat "$T/.err" >&2
	# shellcheck disable=SC2034 # used by the tests
	OUT=$(cat "$T/.out")
}

fails() {
	lib_want=$1
	lib_text=$2
	shift 2
	"$@" >"$T/.out" 2>"$T/.err"
	lib_st=$?
	if [ $lib_st -ne "$lib_want" ]; then
		cat "$T/.err" >&2
		fail "expected exit $lib_want, got $lib_st from: $*"
	fi
	if [ -n "$lib_text" ] && ! grep -qF -- "$lib_text" "$T/.err"; then
		cat "$T/.err" >&2
		fail "stderr of '$*' lacks: $lib_text"
	fi
	if [ ! -s "$T/.err" ]; then
		fail "no message from: $*"
	fi
	if [ "$lib_want" -eq 1 ] && grep -qv '^coffer: ' "$T/.err"; then
		cat "$T/.err" >&2
		fail "not one 'coffer: ...' line per failure from: $*"
	fi
	if [ "$lib_want" -eq 2 ] && ! grep -q '^usage: coffer ' "$T/.err" &&
	    ! grep -q 'coffer help' "$T/.err"; then
		cat "$T/.err" >&2
		fail "no usage shown by: $*"
	fi
	return 0
}

same() {
	cmp -s "$1" "$2" || fail "$1 and $2 differ"
}

expect() {
	[ "$1" = "$2" ] || fail "expected '$2', got '$1'"
}

contains() {
	case $1 in
	*"$2"*) ;;
	*) fail "expected to find '$2' in:
$1" ;;
	esac
}

lacks() {
	case $1 in
	*"$2"*) fail "did not expect '$2' in:
$1" ;;
	*) ;;
	esac
}

mkpool() {
	ok coffer pool create "$1" "$T/$1.img" --size "${2:-256M}"
}

# coffer locks byte 0 of a pool's first device while the pool is open
# (fcntl), so a holder started in the background has the pool once that
# lock shows in /proc/locks (as major:minor:inode, in hex and decimal).
# With PID, stop as soon as that process is gone.  At most 60 s.
wait_locked() {
	lib_id=$(stat -c '%Hd %Ld %i' "$1") || fail "no such device: $1"
	# shellcheck disable=SC2086 # three numbers
	lib_id=$(printf '%02x:%02x:%s' $lib_id)
	lib_k=0
	until grep -q " $lib_id " /proc/locks; do
		if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
			fail "the process that was to open $1 is gone"
		fi
		lib_k=$((lib_k + 1))
		[ $lib_k -le 600 ] || fail "no process opened $1 within 60 s"
		sleep 0.1
	done
}

# Lines of $OUT, one per line, with runs of blanks squeezed (for checking
# aligned tables without depending on column widths).
squeeze() {
	printf '%s\n' "$1" | tr -s ' '
}
