# Files: put, get, cat, ls, rm, mkdir, mv, ln on trees with attributes;
# standard input and output; sparse files; symbolic and hard links; user
# extended attributes (when setfattr is installed and $T supports them).
# shellcheck source=tests/integ/lib.sh
. "$(dirname "$0")/lib.sh"

mkpool tank
ok coffer create tank/fs
ok coffer create tank/other

root=0
[ "$(id -u)" = 0 ] && root=1

# Mode, size, mtime with nanoseconds, type (and owner as root) of a path,
# not following symbolic links.  Directory sizes differ between file
# systems and are left out.
meta() {
	if [ -d "$1" ] && [ ! -L "$1" ]; then
		fmt='%a %y %F'
	else
		fmt='%a %s %y %F'
	fi
	[ $root = 1 ] && fmt="$fmt %u:%g"
	stat -c "$fmt" "$1"
}

same_meta() {
	m1=$(meta "$1")
	m2=$(meta "$2")
	[ "$m1" = "$m2" ] || fail "attributes differ:
  $1: $m1
  $2: $m2"
}

step "build a local tree"
src=$T/src
mkdir -p "$src/sub/deeper" "$src/empty dir"
printf 'hello\n' >"$src/a.txt"
chmod 640 "$src/a.txt"
touch -d '2021-02-03 04:05:06.123456789' "$src/a.txt"
: >"$src/empty"
printf 'spaces\n' >"$src/my file.txt"
printf 'accent\n' >"$src/$(printf 'caf\303\251')"
printf 'dot\n' >"$src/.hidden"
head -c 300000 /dev/urandom >"$src/sub/deeper/random.bin"
chmod 4755 "$src/sub/deeper/random.bin"
ln -s a.txt "$src/link"
ln -s nowhere "$src/dangling"
ln -s /etc/passwd "$src/absolute"
printf 'linked\n' >"$src/sub/h1"
ln "$src/sub/h1" "$src/h2"
mkfifo "$src/fifo"
truncate -s 64M "$src/sparse.img"
printf 'X' | dd of="$src/sparse.img" bs=1 seek=10485760 conv=notrunc \
	2>/dev/null
printf 'Y' | dd of="$src/sparse.img" bs=1 seek=67108863 conv=notrunc \
	2>/dev/null
if [ $root = 1 ]; then
	chown 1234:5678 "$src/a.txt" "$src/sub"
	chown -h 4321:8765 "$src/link"
fi
# user xattrs: with setfattr/getfattr (attr package), else python3
if command -v setfattr >/dev/null 2>&1 &&
    command -v getfattr >/dev/null 2>&1; then
	xset() {
		if [ -n "$3" ]; then
			setfattr -n "$2" -v "$3" -- "$1"
		else
			setfattr -n "$2" -- "$1"
		fi
	}
	xdump() {
		getfattr -d -m '^user\.' -e hex -- "$1" 2>/dev/null |
		    grep '^user\.' | sort
	}
elif command -v python3 >/dev/null 2>&1; then
	xset() {
		python3 -c 'import os, sys
v = sys.argv[3]
os.setxattr(sys.argv[1], sys.argv[2], bytes.fromhex(v[2:]) if v else b"")' \
		    "$1" "$2" "$3"
	}
	xdump() {
		python3 -c 'import os, sys
for n in sorted(os.listxattr(sys.argv[1], follow_symlinks=False)):
    if n.startswith("user."):
        v = os.getxattr(sys.argv[1], n, follow_symlinks=False)
        print(n + "=0x" + v.hex() if v else n)' "$1"
	}
else
	xset() { return 1; }
	xdump() { :; }
fi
xattrs=0
if xset "$src/a.txt" user.color 0x626c7565 2>/dev/null; then
	xset "$src/sub" user.empty ""
	xset "$src/sub/deeper/random.bin" user.bin 0x00ff00
	xattrs=1
else
	step "skip: no setfattr or python3, or no user xattrs in $T"
fi
chmod 750 "$src/sub"
touch -d '2019-12-31 23:59:59.5' "$src/sub/deeper" "$src/sub"
touch -h -d '2018-01-01 00:00:01.000000001' "$src/link"

step "put -r copies the tree"
ok coffer put -r "$src" tank/fs:/
okout coffer ls tank/fs:/
expect "$OUT" src
okout coffer ls tank/fs:/src
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" \
	"a.txt absolute $(printf 'caf\303\251') dangling empty empty dir fifo h2 link my file.txt sparse.img sub "
okout coffer ls -a tank/fs:/src
contains "$OUT" ".hidden"
expect "$(printf '%s\n' "$OUT" | head -n 2 | tr '\n' ' ')" ". .. "

step "ls -l, -n, -d, -R"
okout coffer ls -l tank/fs:/src/link
contains "$OUT" "lrwxrwxrwx"
contains "$OUT" "tank/fs:/src/link -> a.txt"
okout coffer ls -n tank/fs:/src/a.txt
expect "$(squeeze "$OUT" | cut -d' ' -f1,2,5)" "-rw-r----- 1 6"
[ $root = 1 ] && expect "$(squeeze "$OUT" | cut -d' ' -f3,4)" "1234 5678"
contains "$OUT" "Feb  3  2021 tank/fs:/src/a.txt"
okout coffer ls -n tank/fs:/src/sub/deeper/random.bin
contains "$OUT" "-rwsr-xr-x 1"
contains "$OUT" " 300000 "
okout coffer ls -ld tank/fs:/src/sub
contains "$OUT" "drwxr-x--- "
okout coffer ls -d tank/fs:/src/sub
expect "$OUT" "tank/fs:/src/sub"
okout coffer ls -l tank/fs:/src
contains "$OUT" "total "
contains "$OUT" "prw-r--r-- "
contains "$OUT" " 67108864 "
contains "$OUT" " dangling -> nowhere"
okout coffer ls -n tank/fs:/src/h2
contains "$OUT" "-rw-r--r-- 2 "
okout coffer ls -R tank/fs:/src/sub
contains "$OUT" "tank/fs:/src/sub:"
contains "$OUT" "tank/fs:/src/sub/deeper:"
contains "$OUT" "random.bin"
okout coffer ls tank/fs:/src/a.txt tank/fs:/src/sub/deeper
expect "$(printf '%s\n' "$OUT" | tr '\n' '|')" \
	"tank/fs:/src/a.txt||tank/fs:/src/sub/deeper:|random.bin|"
fails 1 "cannot access 'tank/fs:/nope'" coffer ls tank/fs:/nope
fails 1 "cannot open 'tank/nope'" coffer ls tank/nope:/
fails 2 "is not DATASET[@SNAP]:/PATH" coffer ls tank/fs
fails 2 "unknown option" coffer ls -z tank/fs:/

step "cat"
okout coffer cat tank/fs:/src/a.txt
expect "$OUT" hello
okout coffer cat tank/fs:/src/link tank/fs:/src/sub/h1
expect "$OUT" "$(printf 'hello\nlinked')"
ok coffer cat tank/fs:/src/sub/deeper/random.bin >"$T/cat.out"
same "$src/sub/deeper/random.bin" "$T/cat.out"
fails 1 "cannot copy 'tank/fs:/src/sub' to standard output" \
	coffer cat tank/fs:/src/sub
fails 1 "cannot open 'tank/fs:/src/dangling'" \
	coffer cat tank/fs:/src/dangling
fails 2 "missing DATASET:/PATH" coffer cat
# one bad operand does not stop the others
coffer cat tank/fs:/nope tank/fs:/src/a.txt >"$T/.out" 2>"$T/.err" &&
	fail "cat with a missing file succeeded"
expect "$(cat "$T/.out")" hello

step "get -r restores the tree with its attributes"
ok coffer get -r tank/fs:/src "$T/out"
for f in a.txt empty "my file.txt" "$(printf 'caf\303\251')" .hidden \
    sub/deeper/random.bin sub/h1 h2 sparse.img; do
	same "$src/$f" "$T/out/$f"
	same_meta "$src/$f" "$T/out/$f"
done
for d in sub sub/deeper "empty dir"; do
	same_meta "$src/$d" "$T/out/$d"
done
for l in link dangling absolute; do
	[ -L "$T/out/$l" ] || fail "$T/out/$l is not a symbolic link"
	expect "$(readlink "$T/out/$l")" "$(readlink "$src/$l")"
done
same_meta "$src/link" "$T/out/link"
[ -p "$T/out/fifo" ] || fail "$T/out/fifo is not a fifo"
expect "$(stat -c %i "$T/out/sub/h1")" "$(stat -c %i "$T/out/h2")"
expect "$(stat -c %h "$T/out/h2")" 2
if [ $xattrs = 1 ]; then
	for f in a.txt sub sub/deeper/random.bin; do
		expect "$(xdump "$T/out/$f")" "$(xdump "$src/$f")"
		[ -n "$(xdump "$T/out/$f")" ] || fail "no xattrs on $T/out/$f"
	done
fi

step "sparse files stay sparse"
# bytes allocated to a local file
allocated() {
	echo $(($(stat -c %b "$1") * $(stat -c %B "$1")))
}
if [ "$(allocated "$src/sparse.img")" -lt 1048576 ]; then
	used=$(allocated "$T/out/sparse.img")
	[ "$used" -lt 1048576 ] ||
		fail "restored sparse file uses $used bytes"
else
	step "skip: $T does not keep files sparse"
fi
okout coffer get -H -p -o value referenced tank/fs
[ "$OUT" -lt 33554432 ] ||
	fail "tank/fs references $OUT bytes: zero blocks were written"
ok coffer put "$src/sparse.img" tank/fs:/sparse2
ok coffer get tank/fs:/sparse2 "$T/sparse2"
same "$src/sparse.img" "$T/sparse2"

step "standard input and output"
head -c 1000000 /dev/urandom >"$T/rand"
ok coffer put - tank/fs:/stdin.bin <"$T/rand"
ok coffer get tank/fs:/stdin.bin - >"$T/rand.out"
same "$T/rand" "$T/rand.out"
# shellcheck disable=SC2002 # a pipe, on purpose
cat "$T/rand" | coffer put - tank/fs:/pipe.bin ||
	fail "put from a pipe failed"
ok coffer cat tank/fs:/pipe.bin >"$T/pipe.out"
same "$T/rand" "$T/pipe.out"
head -c 1048576 /dev/zero | coffer put - tank/fs:/zeros ||
	fail "put of zeros from a pipe failed"
ok coffer get tank/fs:/zeros "$T/zeros"
head -c 1048576 /dev/zero >"$T/zeros.ref"
same "$T/zeros.ref" "$T/zeros"
: | coffer put - tank/fs:/nothing || fail "put of empty input failed"
okout coffer cat tank/fs:/nothing
expect "$OUT" ""
fails 1 "name the file" coffer put - tank/fs:/src </dev/null
fails 2 "more than once" coffer put - - tank/fs:/src
fails 2 "only one file" coffer get tank/fs:/src/a.txt tank/fs:/stdin.bin -

step "put: destinations like cp"
printf 'new content\n' >"$T/a.txt"
ok coffer put "$T/a.txt" tank/fs:/src/a.txt
okout coffer cat tank/fs:/src/a.txt
expect "$OUT" "new content"
ok coffer put "$T/rand" tank/fs:/src
ok coffer cat tank/fs:/src/rand >"$T/rand2"
same "$T/rand" "$T/rand2"
ok coffer put "$T/rand" "$T/a.txt" tank/fs:/src/sub
okout coffer ls tank/fs:/src/sub
contains "$OUT" "a.txt"
contains "$OUT" "rand"
fails 1 "is not a directory" coffer put "$T/rand" "$T/a.txt" \
	tank/fs:/src/a.txt
fails 1 "is not a directory" coffer put "$T/rand" "$T/a.txt" tank/fs:/new
fails 1 "omitting directory" coffer put "$src/sub" tank/fs:/x
fails 1 "cannot stat" coffer put "$T/nonexistent" tank/fs:/x
fails 1 "cannot copy to 'tank/fs:/no/such/dir'" \
	coffer put "$T/rand" tank/fs:/no/such/dir
fails 1 "cannot open 'tank/nope'" coffer put "$T/rand" tank/nope:/x
fails 2 "missing destination" coffer put "$T/rand"
fails 2 "is not DATASET:/PATH" coffer put "$T/rand" "$T/b"
fails 2 "is not a local file" coffer put tank/fs:/a tank/fs:/b
# a directory's contents, merged, with "dir/."
ok coffer mkdir tank/other:/merged
ok coffer put -r "$src/sub/." tank/other:/merged
okout coffer ls tank/other:/merged
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" "deeper h1 "
# without -p: mode from the file less the umask, a fresh time
ok coffer put "$src/a.txt" tank/other:/plain
okout coffer ls -n tank/other:/plain
lacks "$OUT" 2021
# with -p: mode and times kept
ok coffer put -p "$src/a.txt" tank/other:/kept
ok coffer get -p tank/other:/kept "$T/kept"
same_meta "$src/a.txt" "$T/kept"

step "get: destinations like cp"
mkdir "$T/into"
ok coffer get tank/fs:/src/a.txt tank/fs:/stdin.bin "$T/into"
same "$T/rand" "$T/into/stdin.bin"
okout cat "$T/into/a.txt"
expect "$OUT" "new content"
ok coffer get -r tank/other:/ "$T/into"
[ -f "$T/into/merged/h1" ] || fail "get -r of the root did not merge"
fails 1 "omitting directory" coffer get tank/fs:/src "$T/into"
fails 1 "cannot open 'tank/fs:/nope'" coffer get tank/fs:/nope "$T/into"
fails 1 "is not a directory" coffer get tank/fs:/src/a.txt \
	tank/fs:/stdin.bin "$T/rand"
fails 2 "missing local destination" coffer get tank/fs:/src/a.txt
fails 2 "must be a local path" coffer get tank/fs:/src/a.txt tank/fs:/b
fails 2 "is not DATASET[@SNAP]:/PATH" coffer get "$T/rand" tank/fs:/x "$T/y"

step "mkdir"
ok coffer mkdir tank/fs:/m1
fails 1 "cannot create directory 'tank/fs:/m1'" coffer mkdir tank/fs:/m1
ok coffer mkdir -p tank/fs:/m1
ok coffer mkdir -p tank/fs:/m1/a/b/c
ok coffer mkdir -m 700 tank/fs:/m2
okout coffer ls -ld tank/fs:/m2
contains "$OUT" "drwx------ "
fails 1 "cannot create directory 'tank/fs:/m3/x'" coffer mkdir tank/fs:/m3/x
fails 1 "cannot create directory 'tank/fs:/src/a.txt/x'" \
	coffer mkdir -p tank/fs:/src/a.txt/x
fails 2 "bad mode '999'" coffer mkdir -m 999 tank/fs:/m4
fails 2 "is not DATASET:/PATH" coffer mkdir m4
# one failure does not stop the rest
fails 1 "cannot create directory 'tank/fs:/m1'" \
	coffer mkdir tank/fs:/m1 tank/fs:/m5
okout coffer ls -d tank/fs:/m5
expect "$OUT" tank/fs:/m5

step "mv"
ok coffer put "$T/a.txt" tank/fs:/m1/file
ok coffer mv tank/fs:/m1/file tank/fs:/m1/renamed
okout coffer ls tank/fs:/m1
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" "a renamed "
ok coffer mv tank/fs:/m1/renamed tank/fs:/m2
okout coffer cat tank/fs:/m2/renamed
expect "$OUT" "new content"
ok coffer mv tank/fs:/m1/a tank/fs:/m2/dir
okout coffer ls -d tank/fs:/m2/dir/b/c
expect "$OUT" tank/fs:/m2/dir/b/c
fails 1 "cannot move 'tank/fs:/m2' to 'tank/fs:/m2/dir/m2'" \
	coffer mv tank/fs:/m2 tank/fs:/m2/dir/m2
fails 1 "cannot move 'tank/fs:/nope'" coffer mv tank/fs:/nope tank/fs:/x
fails 2 "not in the same dataset" coffer mv tank/fs:/m2/renamed \
	tank/other:/x
fails 2 "missing source or destination" coffer mv tank/fs:/m2

step "ln"
ok coffer ln tank/fs:/m2/renamed tank/fs:/m2/hard
okout coffer ls -n tank/fs:/m2/hard
contains "$OUT" " 2 "
ok coffer ln /m2/renamed tank/fs:/m2/hard2
okout coffer ls -n tank/fs:/m2/renamed
contains "$OUT" " 3 "
ok coffer ln -s ../renamed tank/fs:/m2/dir/sym
okout coffer cat tank/fs:/m2/dir/sym
expect "$OUT" "new content"
okout coffer ls -l tank/fs:/m2/dir/sym
contains "$OUT" "sym -> ../renamed"
ok coffer ln -s /m2/renamed tank/fs:/m1
okout coffer ls -l tank/fs:/m1/renamed
contains "$OUT" "-> /m2/renamed"
fails 1 "cannot create link 'tank/fs:/m2/hard'" \
	coffer ln tank/fs:/m2/renamed tank/fs:/m2/hard
fails 1 "cannot link to 'tank/fs:/m2/dir'" \
	coffer ln tank/fs:/m2/dir tank/fs:/m2/dirlink
fails 1 "cannot link to 'tank/fs:/nope'" coffer ln tank/fs:/nope \
	tank/fs:/x
fails 2 "not in the same dataset" coffer ln tank/fs:/m2/renamed \
	tank/other:/x
fails 2 "must be DATASET:/PATH" coffer ln renamed tank/fs:/x

step "rm"
ok coffer rm tank/fs:/m2/hard2
fails 1 "cannot remove 'tank/fs:/m2/hard2'" coffer rm tank/fs:/m2/hard2
ok coffer rm -f tank/fs:/m2/hard2
fails 1 "cannot remove 'tank/fs:/m2/dir'" coffer rm tank/fs:/m2/dir
ok coffer rm -r tank/fs:/m2/dir
fails 1 "cannot access 'tank/fs:/m2/dir'" coffer ls tank/fs:/m2/dir
fails 1 "refusing to remove" coffer rm -r tank/fs:/
fails 2 "is not DATASET:/PATH" coffer rm m2
# one failure does not stop the rest
fails 1 "cannot remove 'tank/fs:/nope'" coffer rm tank/fs:/nope \
	tank/fs:/m2/hard
fails 1 "cannot access 'tank/fs:/m2/hard'" coffer ls tank/fs:/m2/hard
okout coffer cat tank/fs:/m2/renamed
expect "$OUT" "new content"

step "a copy back out of everything still matches"
rm -rf "$T/out2"
ok coffer get -r tank/fs:/src/sub "$T/out2"
same "$src/sub/deeper/random.bin" "$T/out2/deeper/random.bin"
same_meta "$src/sub/deeper" "$T/out2/deeper"
