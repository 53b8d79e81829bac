#!/bin/sh
# Run the whole suite for one or more build directories and print a
# closing "N passed, N failed" line.  Exit status: 0 only if all passed.
set -u
passed=0
failed=0
failures=""
for b in "$@"; do
	echo "== unit and fuzz-replay tests ($b)"
	# the million-entry directory runs in full in the normal build only
	case "$b" in *asan*) scale=100000 ;; *) scale=1000000 ;; esac
	out=$(COFFER_SCALE_N=$scale meson test -C "$b" --no-rebuild \
	    --print-errorlogs 2>&1)
	rc=$?
	echo "$out" | grep -E '^ *[0-9]+/[0-9]+ ' || true
	ok=$(echo "$out" | sed -n 's/^Ok: *\([0-9]*\).*/\1/p')
	ko=$(echo "$out" | sed -n 's/^Fail: *\([0-9]*\).*/\1/p')
	to=$(echo "$out" | sed -n 's/^Timeout: *\([0-9]*\).*/\1/p')
	passed=$((passed + ${ok:-0}))
	failed=$((failed + ${ko:-0} + ${to:-0}))
	if [ $rc -ne 0 ]; then
		echo "$out" | tail -n 60
		[ "${ko:-0}" = 0 ] && [ "${to:-0}" = 0 ] && failed=$((failed + 1))
		failures="$failures unit($b)"
	fi
	echo "== integration tests ($b)"
	for t in tests/integ/t_*.sh; do
		[ -e "$t" ] || continue
		name=$(basename "$t" .sh)
		log=$(mktemp)
		if COFFER="$b/coffer" BUILD="$b" sh "$t" >"$log" 2>&1; then
			passed=$((passed + 1))
			echo "ok   $name ($b)"
		else
			failed=$((failed + 1))
			failures="$failures $name($b)"
			echo "FAIL $name ($b)"
			tail -n 40 "$log"
		fi
		rm -f "$log"
	done
done
if [ -n "${TSAN_BUILD:-}" ]; then
	echo "== ThreadSanitizer ($TSAN_BUILD)"
	for t in $TSAN_TESTS; do
		if TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
		    "$TSAN_BUILD/$t" >/tmp/coffer-tsan.$$ 2>&1; then
			passed=$((passed + 1))
			echo "ok   $t (tsan)"
		else
			failed=$((failed + 1))
			failures="$failures $t(tsan)"
			echo "FAIL $t (tsan)"
			tail -n 60 /tmp/coffer-tsan.$$
		fi
		rm -f /tmp/coffer-tsan.$$
	done
fi
[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
