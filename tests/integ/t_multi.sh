# send -I and send -R: multi-snapshot streams (one stream, a SNAPSHOT
# record per segment), a tree of nested encrypted and unencrypted
# datasets with their properties, plain and raw.
# shellcheck source=tests/integ/lib.sh
. "$(dirname "$0")/lib.sh"

step "send -I: every snapshot since the base in one stream"
mkpool src
mkpool dst
ok coffer create src/fs
mkdir -p "$T/tree"
printf 'zero\n' >"$T/tree/a"
ok coffer put -r "$T/tree" src/fs:/t
ok coffer snapshot src/fs@s0
ok coffer send src/fs@s0 >"$T/s0.stream"
ok coffer receive dst/fs <"$T/s0.stream"
for i in 1 2 3 4; do
	printf 'round %s\n' $i >>"$T/tree/a"
	head -c 50000 /dev/urandom >"$T/tree/r$i"
	ok coffer put -r "$T/tree" src/fs:/
	ok coffer rm -r src/fs:/t
	ok coffer mv src/fs:/tree src/fs:/t
	ok coffer snapshot "src/fs@s$i"
done
coffer send -I @s0 src/fs@s4 | coffer receive dst/fs || fail "send -I | receive"
okout coffer list -H -o name -t snapshot dst/fs
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" \
	"dst/fs@s0 dst/fs@s1 dst/fs@s2 dst/fs@s3 dst/fs@s4 "
for i in 1 2 3 4; do
	okout coffer get -H -o value guid "src/fs@s$i"
	g=$OUT
	okout coffer get -H -o value guid "dst/fs@s$i"
	expect "$OUT" "$g"
done
ok coffer get -r "dst/fs@s2:/t" "$T/o2"
okout coffer cat src/fs@s2:/t/a
expect "$(cat "$T/o2/a")" "$OUT"
ok coffer get -r dst/fs:/t "$T/o4"
diff -r "$T/tree" "$T/o4" >/dev/null || fail "send -I: latest tree differs"

step "send -R: a tree with nested datasets, properties and all snapshots"
printf 'pw for the tree\npw for the tree\n' >"$T/pw"
ok coffer create -o compression=zstd src/top
ok coffer create -o recordsize=16K src/top/plain
ok coffer create -o encryption=aes-256-gcm -o keyformat=passphrase \
	-o pbkdf=pbkdf2 -o pbkdf2iters=350000 src/top/sec <"$T/pw"
ok coffer create src/top/sec/child
ok coffer create -V 4M src/top/vol
head -c 1048576 /dev/urandom >"$T/vol.bin"
ok coffer write src/top/vol <"$T/vol.bin"
for d in top top/plain top/sec top/sec/child; do
	printf 'file of %s: marker Kq9\n' "$d" >"$T/f"
	ok coffer put "$T/f" "src/$d:/f"
done
ok coffer snapshot src/top@a src/top/plain@a src/top/sec@a \
	src/top/sec/child@a src/top/vol@a
printf 'later\n' >"$T/f"
ok coffer put "$T/f" src/top/sec/child:/later
ok coffer put "$T/f" src/top/plain:/later
ok coffer snapshot src/top@b src/top/plain@b src/top/sec@b \
	src/top/sec/child@b src/top/vol@b
ok coffer send -R src/top@b >"$T/r.stream"
ok coffer receive dst/top <"$T/r.stream"
okout coffer list -H -r -t all -o name dst/top
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" \
	"dst/top dst/top@a dst/top@b dst/top/plain dst/top/plain@a dst/top/plain@b dst/top/sec dst/top/sec@a dst/top/sec@b dst/top/sec/child dst/top/sec/child@a dst/top/sec/child@b dst/top/vol dst/top/vol@a dst/top/vol@b "
okout coffer get -H -o value,source compression dst/top
expect "$OUT" "$(printf 'zstd\tlocal')"
okout coffer get -H -o value recordsize dst/top/plain
expect "$OUT" "16K"
okout coffer cat dst/top/sec/child:/later
expect "$OUT" "later"
okout coffer cat dst/top/sec/child@a:/f
contains "$OUT" "top/sec/child"
ok coffer read dst/top/vol --offset 0 --length 1048576 >"$T/vol.out"
cmp "$T/vol.bin" "$T/vol.out" || fail "volume bytes differ"

step "send -R -w: the encrypted part stays encrypted, no key needed"
ok coffer unload-key src/top/sec
ok coffer send -R -w src/top@b >"$T/rw.stream"
# the unencrypted datasets' files are plaintext in any stream; the
# encrypted datasets' never are in a raw one
grep -q "file of top/plain" "$T/rw.stream" || fail "plain file not found"
grep -q "file of top/sec" "$T/rw.stream" && fail "encrypted file in a raw stream"
ok coffer receive dst/raw <"$T/rw.stream"
okout coffer get -H -o value keystatus dst/raw/sec
expect "$OUT" "unavailable"
okout coffer get -H -o value encryptionroot dst/raw/sec
expect "$OUT" "dst/raw/sec"
ok coffer pool scrub dst
head -n 1 "$T/pw" | ok coffer load-key dst/raw/sec
# each encrypted dataset of a raw -R is a root of its own
okout coffer get -H -o value keystatus dst/raw/sec/child
expect "$OUT" "unavailable"
head -n 1 "$T/pw" | ok coffer load-key dst/raw/sec/child
okout coffer cat dst/raw/sec@a:/f
contains "$OUT" "file of top/sec:"
okout coffer cat dst/raw/sec/child:/later
expect "$OUT" "later"

step "send -R -I: an incremental of the whole tree"
head -n 1 "$T/pw" | ok coffer load-key src/top/sec
ok coffer put "$T/f" src/top:/third
ok coffer snapshot src/top@c src/top/plain@c src/top/sec@c \
	src/top/sec/child@c src/top/vol@c
coffer send -R -I @b src/top@c | coffer receive dst/top ||
	fail "send -R -I | receive"
okout coffer cat dst/top:/third
expect "$OUT" "later"
okout coffer list -H -o name -t snapshot dst/top/sec/child
contains "$OUT" "dst/top/sec/child@c"

step "send -R -w -I: a raw incremental of the tree, keys unloaded"
ok coffer unload-key dst/raw/sec
ok coffer unload-key dst/raw/sec/child
coffer send -R -w -I @b src/top@c | coffer receive dst/raw ||
	fail "send -R -w -I | receive"
okout coffer get -H -o value keystatus dst/raw/sec
expect "$OUT" "unavailable"
head -n 1 "$T/pw" | ok coffer load-key dst/raw/sec/child
okout coffer cat dst/raw/sec/child@c:/later
expect "$OUT" "later"
okout coffer cat dst/raw:/third
expect "$OUT" "later"
ok coffer pool check dst

step "a multi-snapshot stream that does not fit is refused"
fails 1 "cannot receive" coffer receive dst/top <"$T/r.stream"
ok coffer unload-key -a
