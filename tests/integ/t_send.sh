# send and receive: full and incremental streams through a pipe and a
# file, a chain of snapshots, and bad streams that change nothing.
# shellcheck source=tests/integ/lib.sh
. "$(dirname "$0")/lib.sh"

step "a full stream through a file, incrementals through a pipe"
mkpool src
mkpool dst
ok coffer create src/fs
mkdir -p "$T/tree/sub"
printf 'one\n' >"$T/tree/a"
head -c 300000 /dev/urandom >"$T/tree/sub/big"
ln -s a "$T/tree/link"
ok coffer put -r "$T/tree" src/fs:/t
ok coffer snapshot src/fs@s0
ok coffer send src/fs@s0 >"$T/full.stream"
ok coffer receive dst/copy <"$T/full.stream"
i=1
while [ $i -le 5 ]; do
	printf 'round %s\n' $i >>"$T/tree/a"
	head -c 70000 /dev/urandom >"$T/tree/sub/r$i"
	[ $i = 3 ] && rm "$T/tree/sub/r1"
	ok coffer rm -r src/fs:/t
	ok coffer put -r "$T/tree" src/fs:/t
	ok coffer snapshot "src/fs@s$i"
	coffer send -i "@s$((i - 1))" "src/fs@s$i" | coffer receive dst/copy ||
		fail "incremental $i through a pipe"
	i=$((i + 1))
done
ok coffer get -r dst/copy:/t "$T/out"
diff -r "$T/tree" "$T/out" >/dev/null || fail "received tree differs"
okout coffer list -H -o name -t snapshot dst/copy
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" \
	"dst/copy@s0 dst/copy@s1 dst/copy@s2 dst/copy@s3 dst/copy@s4 dst/copy@s5 "
okout coffer get -H -o value guid src/fs@s5
g1=$OUT
okout coffer get -H -o value guid dst/copy@s5
expect "$OUT" "$g1"

step "bad streams are refused and change nothing"
printf 'more\n' >>"$T/tree/a"
ok coffer put "$T/tree/a" src/fs:/t/a
ok coffer snapshot src/fs@s6
ok coffer send -i @s5 src/fs@s6 >"$T/inc.stream"
okout coffer get -H -p -o value used dst/copy
used=$OUT
head -c 1000 "$T/inc.stream" >"$T/cut.stream"
fails 1 "truncated" coffer receive dst/copy <"$T/cut.stream"
fails 1 "cannot receive into 'dst/copy'" coffer receive dst/copy \
	<"$T/full.stream"
okout coffer get -H -p -o value used dst/copy
expect "$OUT" "$used"
okout coffer list -H -o name -t snapshot dst/copy
lacks "$OUT" "@s6"
ok coffer receive dst/copy <"$T/inc.stream"
okout coffer cat dst/copy:/t/a
contains "$OUT" more
fails 2 "missing snapshot name" coffer send
