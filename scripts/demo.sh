#!/bin/sh
# The main job, end to end, printing what it does: a pool, a dataset, data
# in and out, a snapshot, a rollback and a scrub.  Runs in a temporary
# directory with its own COFFER_HOME, so it never touches the system.
set -eu
COFFER=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
T=$(mktemp -d /tmp/coffer-demo.XXXXXX)
trap 'rm -rf "$T"' EXIT
export COFFER_HOME="$T/home"

run() {
	printf '\n$ %s\n' "$*"
	"$@"
}
c() { run "$COFFER" "$@"; }

echo "coffer demo in $T"
c pool create demo "$T/disk0.img" "$T/disk1.img" --size 256M
c pool list
c create -o compression=zstd demo/home
c create -V 64M demo/vol
mkdir -p "$T/src/docs"
printf 'hello from coffer\n' > "$T/src/hello.txt"
seq 1 20000 > "$T/src/docs/numbers.txt"
ln -s hello.txt "$T/src/link"
c put -r "$T/src" demo/home:/src
c ls -l demo/home:/src
c cat demo/home:/src/hello.txt
c snapshot demo/home@before
printf 'changed\n' > "$T/changed.txt"
c put "$T/changed.txt" demo/home:/src/hello.txt
c cat demo/home:/src/hello.txt
c cat demo/home@before:/src/hello.txt
c get -r demo/home:/src "$T/out"
run diff -r "$T/src/docs" "$T/out/docs"
echo "(the tree came back out identical)"
head -c 1048576 /dev/urandom > "$T/block.bin"
c write demo/vol --offset 4096 < "$T/block.bin"
"$COFFER" read demo/vol --offset 4096 --length 1048576 > "$T/block.out"
run cmp "$T/block.bin" "$T/block.out"
echo "(1 MiB through the volume came back identical)"
echo
echo "# an encrypted dataset (aes-256-gcm, a key file; passphrases work too)"
head -c 32 /dev/urandom > "$T/demo.key"
c create -o encryption=on -o keyformat=raw -o keylocation=file://$T/demo.key demo/secret
printf 'top secret: the demo marker Zq7x\n' > "$T/secret.txt"
c put "$T/secret.txt" demo/secret:/secret.txt
c get -H -o property,value encryption,keystatus,encryptionroot demo/secret
c unload-key demo/secret
printf '\n$ coffer cat demo/secret:/secret.txt   (key unloaded: refused)\n'
"$COFFER" cat demo/secret:/secret.txt || true
c load-key demo/secret
c cat demo/secret:/secret.txt
if grep -q "demo marker Zq7x" "$T/disk0.img" "$T/disk1.img"; then
	echo "plaintext found on disk"; exit 1
fi
echo "(the encrypted file's text is nowhere in the pool's files)"
echo
echo "# replication: a full stream, then an incremental, into a second pool"
c pool create backup "$T/backup.img" --size 128M
c snapshot demo/home@s1
run sh -c "'$COFFER' send demo/home@s1 > '$T/home.stream'"
c receive backup/home < "$T/home.stream"
printf 'added later\n' > "$T/later.txt"
c put "$T/later.txt" demo/home:/src/later.txt
c snapshot demo/home@s2
run sh -c "'$COFFER' send -i @s1 demo/home@s2 | '$COFFER' receive backup/home"
c cat backup/home:/src/later.txt
echo
echo "# a raw stream: the encrypted dataset travels as ciphertext, no key needed"
c snapshot demo/secret@s1
c unload-key demo/secret
run sh -c "'$COFFER' send -w demo/secret@s1 > '$T/secret.raw'"
if grep -q "demo marker Zq7x" "$T/secret.raw"; then
	echo "plaintext found in the raw stream"; exit 1
fi
echo "(the raw stream holds no plaintext)"
c receive backup/secret < "$T/secret.raw"
c get -H -o property,value encryptionroot,keylocation,keystatus backup/secret
c pool scrub backup
c load-key -L file://$T/demo.key backup/secret
c cat backup/secret:/secret.txt
c list -r -t all -o name,used,refer,type backup
c unload-key backup/secret
c pool destroy backup
c list -r -t all -o name,used,avail,refer,type demo
c rollback -r demo/home@before
c cat demo/home:/src/hello.txt
c pool scrub demo
c pool status demo
c pool export demo
c pool import -d "$T" demo
c cat demo/home:/src/hello.txt
c pool destroy demo
printf '\ndemo finished: all steps succeeded\n'
