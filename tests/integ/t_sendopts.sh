# send and receive options: -n and -v (size estimates), -P and --json
# (progress), refusing a terminal; receive -d, -e, -u.
# shellcheck source=tests/integ/lib.sh
. "$(dirname "$0")/lib.sh"

mkpool src
mkpool dst
ok coffer create src/a
ok coffer create src/a/fs
head -c 2000000 /dev/urandom >"$T/big"
ok coffer put "$T/big" src/a/fs:/big
ok coffer snapshot src/a/fs@s1
ok coffer send src/a/fs@s1 >"$T/s1"
size=$(wc -c <"$T/s1")
printf 'x\n' >"$T/small"
ok coffer put "$T/small" src/a/fs:/small
ok coffer snapshot src/a/fs@s2

step "send -n: the size without a stream"
okout coffer send -n src/a/fs@s1
contains "$OUT" "full send of src/a/fs@s1 estimated size is"
expect "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" 1
okout coffer send -nv -i @s1 src/a/fs@s2
contains "$OUT" "incremental send of src/a/fs@s2 from @s1 estimated size is"
okout coffer send -nP src/a/fs@s1
expect "$OUT" "$(printf 'full\t-\tsrc/a/fs@s1\t%s' "$size")"
okout coffer send -n --json src/a/fs@s1
expect "$OUT" "{\"type\":\"full\",\"snapshot\":\"src/a/fs@s1\",\"size\":$size}"

step "send -v: estimate before, total after, on standard error"
coffer send -v src/a/fs@s1 >"$T/v" 2>"$T/err" || fail "send -v"
same "$T/v" "$T/s1"
grep -q '^full send of src/a/fs@s1 estimated size is ' "$T/err" ||
	fail "no estimate: $(cat "$T/err")"
grep -q "^total sent .* ($size bytes)\$" "$T/err" ||
	fail "no total: $(cat "$T/err")"

step "send -P and --json: progress on standard error"
coffer send -P src/a/fs@s1 >"$T/p" 2>"$T/err" || fail "send -P"
same "$T/p" "$T/s1"
[ -s "$T/err" ] || fail "send -P printed no progress"
grep -qvE '^[0-9]+	[0-9]+	[0-9]+	[0-9]+$' "$T/err" &&
	fail "send -P lines are not DONE<TAB>TOTAL<TAB>RATE<TAB>ETA: $(cat "$T/err")"
expect "$(tail -n 1 "$T/err" | cut -f1)" "$size"
coffer send --json src/a/fs@s1 >"$T/j" 2>"$T/err" || fail "send --json"
same "$T/j" "$T/s1"
grep -qvE '^\{"done":[0-9]+,"total":[0-9]+,"rate":[0-9]+,"eta":[0-9]+\}$' \
	"$T/err" && fail "send --json lines are not JSON: $(cat "$T/err")"
tail -n 1 "$T/err" | grep -q "^{\"done\":$size," || fail "last --json line"

step "send refuses a terminal; usage errors"
if command -v script >/dev/null 2>&1; then
	script -qec "$COFFER send src/a/fs@s1" /dev/null >"$T/tty" 2>&1
	grep -q "standard output is a terminal" "$T/tty" ||
		fail "send wrote to a terminal: $(head -c 300 "$T/tty")"
fi
fails 2 "-t takes no snapshot" coffer send -t 1-AAAA src/a/fs@s1
fails 2 "exclude" coffer send -i @s1 -t 1-AAAA
fails 1 "not a valid resume token" coffer send -t nonsense
fails 2 "missing snapshot name" coffer send -n

step "receive -d, -e, -u"
ok coffer create dst/d
ok coffer receive -d dst/d <"$T/s1"
okout coffer list -H -o name -r dst/d
contains "$OUT" "dst/d/a/fs"
ok coffer receive -e -u dst <"$T/s1"
okout coffer get -H -o value guid dst/fs@s1
ok coffer get dst/fs:/big "$T/big.out"
same "$T/big" "$T/big.out"
coffer send -i @s1 src/a/fs@s2 | coffer receive -d dst/d ||
	fail "incremental with -d"
okout coffer cat dst/d/a/fs:/small
expect "$OUT" "x"
fails 2 "exclude each other" coffer receive -d -e dst
fails 1 "does not exist" coffer receive -d dst/nope <"$T/s1"
