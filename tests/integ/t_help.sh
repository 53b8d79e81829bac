# Help and manual pages agree: every synopsis printed by `coffer help CMD`
# appears word for word in docs/man, and every synopsis line of a manual
# page is one that `coffer help` prints.
# shellcheck source=tests/integ/lib.sh
. "$(dirname "$0")/lib.sh"

man=$(cd "$(dirname "$0")/../../docs/man" && pwd) ||
	fail "no docs/man next to tests/integ"

step "collect the synopses from coffer help -a"
okout coffer help
lacks "$OUT" "pool check"
okout coffer help -a
contains "$OUT" "pool check"
printf '%s\n' "$OUT" | sed -n 's/^  \([a-z-]*\)  .*/\1/p; s/^  \(pool [a-z-]*\) .*/\1/p; s/^  \(key-slot [a-z-]*\) .*/\1/p; s/^  \(key [a-z-]*\) .*/\1/p' |
    sort -u >"$T/commands"
[ "$(wc -l <"$T/commands")" -gt 20 ] || fail "too few commands in: $OUT"
: >"$T/usages"
while read -r cmd; do
	# shellcheck disable=SC2086
	coffer help $cmd >"$T/h" 2>&1 || fail "coffer help $cmd failed"
	sed -n 's/^usage: \(coffer .*\)/\1/p; s/^       \(coffer .*\)/\1/p' \
	    "$T/h" >>"$T/usages"
	# coffer CMD --help prints the same
	# shellcheck disable=SC2086
	coffer $cmd --help >"$T/h2" 2>&1 || fail "coffer $cmd --help failed"
	cmp -s "$T/h" "$T/h2" || fail "'coffer help $cmd' and " \
	    "'coffer $cmd --help' differ"
done <"$T/commands"

step "each synopsis is in a manual page"
while read -r u; do
	grep -qxF -- "$u" "$man"/*.md ||
		fail "synopsis not in docs/man: $u"
done <"$T/usages"

step "each manual synopsis is a real one"
for f in "$man"/*.md; do
	awk '/^## SYNOPSIS/ { s = 1; next } /^## / { s = 0 } s' "$f" |
	    grep '^coffer ' | while read -r line; do
		case $line in
		"coffer COMMAND [ARGS]..." | "coffer COMMAND --help") continue ;;
		esac
		grep -qxF -- "$line" "$T/usages" ||
			fail "$(basename "$f"): not a synopsis of coffer: $line"
	done || exit 1
done
