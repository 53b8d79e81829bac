# Kill a real coffer writer at random points, the software equivalent of
# pulling the power cord (OpenZFS's ztest is the model).
#
#	COFFER=path/to/coffer sh tests/torture/kill.sh [ITERS [SEED]]
#
# A pool on a file in a temporary directory holds a filesystem, an
# encrypted filesystem (its key loaded for later processes, in the kernel
# keyring, unloaded at the end) and a volume.  Each iteration starts one
# writer in the background -- put of a new file, write of a volume slot,
# snapshot, destroy of a snapshot, rm, or a scrub -- and SIGKILLs it
# after a random short delay (or lets it finish).  A writer that exited 0 reported its change as done and the
# change is recorded: file name and SHA-256, volume slot and SHA-256,
# snapshot and the files it must hold, removed names.  A killed writer
# leaves its target uncertain, and nothing is expected of it.  After each
# iteration:
#   - the pool opens and `coffer pool scrub` finds 0 errors,
#   - `coffer pool check` finds nothing leaked or doubly referenced,
#   - every recorded change is there byte for byte (coffer cat | sha256),
#     every removed file and destroyed snapshot is gone.
#
# ITERS defaults to 15, SEED to one from the clock; the seed chooses the
# operations, sizes and delays (the moment the kill lands still depends on
# timing, so a seed replays the same workload, not the same kill).  POSIX
# sh, with the helpers of tests/integ/lib.sh.  tests/integ/t_kill.sh runs
# a short round in `make test`; tests/torture/run.sh a long one.
# shellcheck source=tests/integ/lib.sh
. "$(dirname "$0")/../integ/lib.sh"

ITERS=${1:-${KILL_ITERS:-15}}
SEED=${2:-${KILL_SEED:-$(($(date +%s) % 1000000 * 1000 + $$ % 1000))}}
step "$ITERS iterations, seed $SEED (rerun: sh $0 $ITERS $SEED)"

# ---- random numbers: an LCG in shell arithmetic ----------------------------
rng=$((SEED % 2147483648))
# rnd N: R becomes a number in [0, N), N < 2^30
rnd() {
	rng=$(((rng * 1103515245 + 12345) % 2147483648))
	rnd_hi=$((rng / 65536))
	rng=$(((rng * 1103515245 + 12345) % 2147483648))
	R=$(((rnd_hi * 32768 + rng / 65536) % $1))
}

sha() {
	sha256sum "$1" | cut -c1-64
}

# mkdata FILE SIZE: random or compressible bytes
mkdata() {
	rnd 3
	if [ "$R" -eq 0 ]; then
		yes "coffer $SEED $1" | head -c "$2" >"$1"
	else
		head -c "$2" /dev/urandom >"$1"
	fi
}

# ---- the record of what was reported done ------------------------------
#   $T/files   SPEC SHA        files that must be there (SPEC: tank/fs:/f1)
#   $T/maybe   SPEC            files that may be there (killed writers)
#   $T/gone    SPEC            files that must not be there
#   $T/slots   SLOT SHA        volume slots (1 MiB each)
#   $T/snaps   SNAP            snapshots that must exist
#   $T/snap.S  SPEC SHA        files snapshot S of tank/fs must hold
#   $T/msnaps  SNAP            snapshots that may exist (killed writers)
#   $T/nosnap  SNAP            snapshots that must not exist
for f in files maybe gone slots snaps msnaps nosnap; do
	: >"$T/$f"
done

# without LINE FILE: FILE minus the lines whose first word is LINE
without() {
	awk -v k="$1" '$1 != k' "$2" >"$2.tmp" && mv "$2.tmp" "$2"
}

# pickline FILE: W becomes the first word of a random line, or ""
pickline() {
	n=$(wc -l <"$1")
	W=""
	[ "$n" -gt 0 ] || return 0
	rnd "$n"
	W=$(sed -n "$((R + 1))p" "$1" | cut -d' ' -f1)
}

SLOT=1048576
NSLOTS=16
mkpool tank 1G
ok coffer create tank/fs
head -c 32 /dev/urandom >"$T/raw.key"
rnd 7
for s in aes-128-ccm aes-192-ccm aes-256-ccm aes-128-gcm aes-192-gcm \
    aes-256-gcm chacha20-poly1305; do
	[ "$R" -eq 0 ] && suite=$s
	R=$((R - 1))
done
kill_cleanup() {
	kill_rc=$?
	"$COFFER" unload-key -a >/dev/null 2>&1
	(exit $kill_rc)
	lib_cleanup
}
trap kill_cleanup EXIT
ok coffer create -o "encryption=$suite" -o keyformat=raw \
	-o "keylocation=file://$T/raw.key" tank/sec </dev/null
ok coffer create -V $((SLOT * NSLOTS)) tank/vol

# ---- the checks after each iteration ------------------------------------
verify() {
	okout coffer pool scrub tank
	contains "$OUT" " 0 errors"
	contains "$OUT" " 0 unrecoverable"
	okout coffer pool check tank
	contains "$OUT" " 0B leaked, 0 double references, 0 references"
	while read -r name sum; do
		coffer cat "$name" >"$T/got" 2>"$T/err" ||
			fail "done file $name is unreadable: $(cat "$T/err")"
		[ "$(sha "$T/got")" = "$sum" ] ||
			fail "done file $name has changed ($(wc -c <"$T/got") bytes)"
	done <"$T/files"
	while read -r name; do
		coffer ls "$name" >/dev/null 2>&1 &&
			fail "removed file $name is back"
	done <"$T/gone"
	while read -r slot sum; do
		coffer read tank/vol --offset $((slot * SLOT)) \
		    --length $SLOT >"$T/got" 2>"$T/err" ||
			fail "volume slot $slot is unreadable: $(cat "$T/err")"
		[ "$(sha "$T/got")" = "$sum" ] ||
			fail "volume slot $slot has changed"
	done <"$T/slots"
	okout coffer list -H -t snapshot -o name tank/fs
	snaps=$OUT
	while read -r s; do
		printf '%s\n' "$snaps" | grep -qxF "tank/fs@$s" ||
			fail "snapshot $s is missing"
		# two of its files, byte for byte
		head -n 2 "$T/snap.$s" | while read -r name sum; do
			coffer cat "tank/fs@$s:${name#tank/fs:}" >"$T/got" \
			    2>"$T/err" ||
				fail "$name in snapshot $s is unreadable:" \
				    "$(cat "$T/err")"
			[ "$(sha "$T/got")" = "$sum" ] ||
				fail "$name in snapshot $s has changed"
		done || exit 1
	done <"$T/snaps"
	while read -r s; do
		printf '%s\n' "$snaps" | grep -qxF "tank/fs@$s" &&
			fail "destroyed snapshot $s is back"
	done <"$T/nosnap"
	return 0
}

# ---- the writers ---------------------------------------------------------
done_n=0
killed_n=0
i=0
while [ $i -lt "$ITERS" ]; do
	i=$((i + 1))
	# too many files or snapshots: remove one (the pool is small)
	nfiles=$(cat "$T/files" "$T/maybe" | wc -l)
	nsnaps=$(cat "$T/snaps" "$T/msnaps" | wc -l)
	rnd 100
	op=$R
	[ "$nfiles" -gt 12 ] && op=80
	[ "$nsnaps" -gt 4 ] && op=70
	rm -f "$T/in"
	if [ $op -lt 40 ]; then
		what=put
		rnd 3
		if [ "$R" -eq 0 ]; then
			name=tank/sec:/f$i
		else
			name=tank/fs:/f$i
		fi
		rnd 4
		case $R in
		0) rnd 65536 ;;
		1) rnd 1048576 ;;
		*) rnd 16000000 ;;
		esac
		mkdata "$T/in" "$R"
		set -- "$COFFER" put "$T/in" "$name"
	elif [ $op -lt 60 ]; then
		what="write"
		rnd $NSLOTS
		slot=$R
		mkdata "$T/in" $SLOT
		set -- "$COFFER" write tank/vol --offset $((slot * SLOT))
	elif [ $op -lt 70 ]; then
		what=snapshot
		name=k$i
		set -- "$COFFER" snapshot "tank/fs@$name"
	elif [ $op -lt 78 ]; then
		what=destroy
		cat "$T/snaps" "$T/msnaps" >"$T/cand"
		pickline "$T/cand"
		name=$W
		[ -n "$name" ] || continue
		set -- "$COFFER" destroy "tank/fs@$name"
	elif [ $op -lt 94 ]; then
		what="rm"
		cat "$T/files" "$T/maybe" >"$T/cand"
		pickline "$T/cand"
		name=$W
		[ -n "$name" ] || continue
		set -- "$COFFER" rm -f "$name"
	else
		what=scrub
		set -- "$COFFER" pool scrub tank
	fi

	# start it, and kill it after a while (or not)
	if [ -e "$T/in" ]; then
		"$@" <"$T/in" >/dev/null 2>"$T/werr" &
	else
		"$@" </dev/null >/dev/null 2>"$T/werr" &
	fi
	pid=$!
	rnd 10
	if [ "$R" -lt 3 ]; then
		wait $pid
		st=$?
	else
		rnd 60
		sleep "$(printf '0.%03d' "$R")"
		kill -9 $pid 2>/dev/null
		wait $pid 2>/dev/null
		st=$?
	fi

	# a snapshot whose creation was killed may not exist: then it is gone
	if [ $st -eq 1 ] && [ $what = destroy ] &&
	    grep -qx "$name" "$T/msnaps" &&
	    grep -q 'does not exist' "$T/werr"; then
		st=0
	fi
	if [ $st -eq 0 ]; then
		done_n=$((done_n + 1))
		case $what in
		put)
			echo "$name $(sha "$T/in")" >>"$T/files" ;;
		write)
			without "$slot" "$T/slots"
			echo "$slot $(sha "$T/in")" >>"$T/slots" ;;
		snapshot)
			echo "$name" >>"$T/snaps"
			grep '^tank/fs:/' "$T/files" >"$T/snap.$name" ;;
		destroy)
			without "$name" "$T/snaps"
			without "$name" "$T/msnaps"
			echo "$name" >>"$T/nosnap" ;;
		rm)
			without "$name" "$T/files"
			without "$name" "$T/maybe"
			echo "$name" >>"$T/gone" ;;
		esac
	elif [ $st -eq 137 ]; then
		killed_n=$((killed_n + 1))
		case $what in
		put)
			echo "$name" >>"$T/maybe" ;;
		write)
			without "$slot" "$T/slots" ;;
		snapshot)
			echo "$name" >>"$T/msnaps" ;;
		destroy)
			if grep -qx "$name" "$T/snaps"; then
				without "$name" "$T/snaps"
				echo "$name" >>"$T/msnaps"
			fi ;;
		rm)
			if grep -q "^$name " "$T/files"; then
				without "$name" "$T/files"
				echo "$name" >>"$T/maybe"
			fi ;;
		esac
	else
		cat "$T/werr" >&2
		fail "iteration $i: '$*' exited $st (seed $SEED)"
	fi
	verify
done
step "$done_n writers finished, $killed_n killed; every done change" \
    "survived (seed $SEED)"
