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

step "a plain stream keeps modes, times, links, xattrs, holes and volume bytes"
mkdir -p "$T/rich/d"
printf 'text\n' >"$T/rich/d/f"
chmod 0640 "$T/rich/d/f"
touch -d '2001-02-03 04:05:06.123456789' "$T/rich/d/f"
ln "$T/rich/d/f" "$T/rich/hard"
ln -s d/f "$T/rich/sym"
ln -s nowhere "$T/rich/dangling"
dd if=/dev/urandom of="$T/rich/sparse" bs=4096 count=2 seek=1000 \
	2>/dev/null
have_x=0
if python3 -c 'import os, sys
os.setxattr(sys.argv[1], "user.colour", b"blue\0green")' "$T/rich/d/f" \
    2>/dev/null; then
	have_x=1
fi
xd() {
	python3 -c 'import os, sys
for n in sorted(os.listxattr(sys.argv[1], follow_symlinks=False)):
    print(n, os.getxattr(sys.argv[1], n, follow_symlinks=False).hex())' "$1"
}
ok coffer create src/rich
ok coffer put -r -p "$T/rich" src/rich:/r
ok coffer create -V 2M src/vol
head -c 2097152 /dev/urandom >"$T/vol.bin"
ok coffer write src/vol <"$T/vol.bin"
ok coffer snapshot src/rich@r1 src/vol@v1
ok coffer send src/rich@r1 >"$T/rich.stream"
ok coffer receive dst/rich <"$T/rich.stream"
coffer send src/vol@v1 | coffer receive dst/vol || fail "volume stream"
printf 'more text\n' >>"$T/rich/d/f"
head -c 4096 /dev/urandom >"$T/blk"
ok coffer put -p "$T/rich/d/f" src/rich:/r/d/f
ok coffer write src/vol --offset 65536 <"$T/blk"
ok coffer snapshot src/rich@r2 src/vol@v2
coffer send -i @r1 src/rich@r2 | coffer receive dst/rich ||
	fail "rich incremental"
coffer send -i @v1 src/vol@v2 | coffer receive dst/vol ||
	fail "volume incremental"
ok coffer get -r -p dst/rich:/r "$T/rich.out"
diff -r --no-dereference "$T/rich" "$T/rich.out" >/dev/null ||
	fail "received tree differs"
expect "$(stat -c '%a %Y %h' "$T/rich.out/d/f")" \
	"$(stat -c '%a %Y %h' "$T/rich/d/f")"
expect "$(stat -c %i "$T/rich.out/d/f")" "$(stat -c %i "$T/rich.out/hard")"
expect "$(readlink "$T/rich.out/dangling")" "nowhere"
[ $have_x = 1 ] && expect "$(xd "$T/rich.out/d/f")" "$(xd "$T/rich/d/f")"
okout coffer get -H -p -o value referenced dst/rich
[ "$OUT" -lt 4000000 ] || fail "the sparse file's holes were filled"
dd if="$T/blk" of="$T/vol.bin" bs=4096 seek=16 conv=notrunc 2>/dev/null
ok coffer read dst/vol --offset 0 --length 2097152 >"$T/vol.out"
cmp "$T/vol.bin" "$T/vol.out" || fail "volume bytes differ"
