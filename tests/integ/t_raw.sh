# Raw and compressed replication: send -w of an encrypted root, a child
# and a volume with the key unloaded, a full stream and a chain of
# incrementals received without the key (and sometimes with it), then
# load-key with the sender's passphrase and every snapshot is the
# source's; no plaintext in a raw stream; scrub without the key; raw send
# back; send -c and -w of an unencrypted dataset; damaged raw streams
# refused with the target unchanged.
#
# load-key keeps keys loaded in the kernel keyring of the user: this test
# unloads every key of its pools when it exits, and its pool names are
# its own.
# shellcheck source=tests/integ/lib.sh
. "$(dirname "$0")/lib.sh"

P=rawa$$
Q=rawb$$
R=rawc$$

raw_cleanup() {
	raw_rc=$?
	"$COFFER" unload-key -a >/dev/null 2>&1
	(exit $raw_rc)
	lib_cleanup
}
trap raw_cleanup EXIT

printf 'correct horse battery\n' >"$T/pass"
printf 'wrong horse battery\n' >"$T/wrong"
printf 'kid staple 22\n' >"$T/pass2"
MARK=PLAINTEXT-MARKER-q8Zt3

# value of one property
val() {
	okout coffer get -H -o value "$1" "$2"
	printf '%s' "$OUT"
}

# user xattrs with setfattr/getfattr (attr package), else python3
if command -v setfattr >/dev/null 2>&1 &&
    command -v getfattr >/dev/null 2>&1; then
	xset() { setfattr -n "$2" -v "$3" -- "$1"; }
	xdump() {
		getfattr -d -m '^user\.' -e hex -- "$1" 2>/dev/null |
		    grep '^user\.' | sort
	}
elif command -v python3 >/dev/null 2>&1; then
	xset() {
		python3 -c 'import os, sys
os.setxattr(sys.argv[1], sys.argv[2], sys.argv[3].encode())' "$1" "$2" "$3"
	}
	xdump() {
		python3 -c 'import os, sys
for n in sorted(os.listxattr(sys.argv[1], follow_symlinks=False)):
    if n.startswith("user."):
        v = os.getxattr(sys.argv[1], n, follow_symlinks=False)
        print(n + "=0x" + v.hex())' "$1"
	}
else
	xset() { return 1; }
	xdump() { :; }
fi

# bytes allocated to a local file
allocated() {
	echo $(($(stat -c %b "$1") * $(stat -c %B "$1")))
}

# Little-endian unsigned integers of a file: u32 FILE OFF, u64 FILE OFF.
u32() {
	od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '
}
u64() {
	od -An -tu8 -j "$2" -N8 "$1" | tr -d ' '
}
# The first record of type $2 in stream $1: $REC the offset of its
# header (its payload starts 512 bytes later), $PLEN its payload length,
# $NEXT the offset of the next record's header.
record() {
	REC=0
	rec_size=$(wc -c <"$1")
	while [ "$REC" -lt "$rec_size" ]; do
		PLEN=$(u64 "$1" $((REC + 16)))
		NEXT=$((REC + 512 + (PLEN + 7) / 8 * 8))
		[ "$(u32 "$1" $((REC + 8)))" = "$2" ] && return 0
		REC=$NEXT
	done
	fail "no record of type $2 in $1"
}
# Flip the low bit of byte $2 of file $1.
flip() {
	fl_b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	# shellcheck disable=SC2059 # an octal escape made here
	printf "\\$(printf '%03o' $((fl_b ^ 1)))" |
	    dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null ||
	    fail "cannot patch $1"
}

# The state of a received dataset that a refused stream must not change.
state() {
	okout coffer get -H -p -o value used "$1"
	st_used=$OUT
	okout coffer list -H -o name,guid -t snapshot "$1"
	printf '%s\n%s\n' "$st_used" "$OUT"
}

# Compare a local tree with one copied out of a dataset: contents, link
# targets, hard links, xattrs, holes.
same_tree() {
	diff -r --no-dereference "$1" "$2" >"$T/diff.out" 2>&1 || {
		cat "$T/diff.out" >&2
		fail "$2 differs from $1"
	}
	expect "$(readlink "$2/link")" "$(readlink "$1/link")"
	expect "$(readlink "$2/sub/dangling")" "$(readlink "$1/sub/dangling")"
	expect "$(stat -c %i "$2/hard")" "$(stat -c %i "$2/sub/hardtoo")"
	expect "$(stat -c %h "$2/hard")" "$(stat -c %h "$1/hard")"
	if [ $xattrs = 1 ]; then
		for f in marker sub big; do
			expect "$(xdump "$2/$f")" "$(xdump "$1/$f")"
		done
	fi
	if [ $sparse = 1 ]; then
		[ "$(allocated "$2/sparse")" -lt 1048576 ] ||
			fail "$2/sparse is not sparse"
	fi
}

mkpool "$P"
mkpool "$Q"
mkpool "$R" 128M

step "an encrypted root with a tree, a child and a volume"
ok coffer create -o encryption=aes-256-gcm -o keyformat=passphrase \
	-o pbkdf=pbkdf2 -o pbkdf2iters=350000 -o compression=lz4 "$P/sec" \
	<"$T/pass"
# a child that is an encryption root of its own, and a volume under the
# parent's root (each received root must be in a pool of its own or have
# a root of its own: see the note on the kernel keyring in the report)
ok coffer create -o encryption=chacha20-poly1305 -o keyformat=passphrase \
	-o pbkdf=pbkdf2 -o pbkdf2iters=350000 "$P/sec/kid" <"$T/pass2"
ok coffer create -V 4M "$P/sec/vol"
tree=$T/tree
mkdir -p "$tree/sub/deep"
i=0
while [ $i -lt 300 ]; do
	printf '%s line %s\n' "$MARK" $i
	i=$((i + 1))
done >"$tree/marker"
head -c 1500000 /dev/urandom >"$tree/big"
printf 'small\n' >"$tree/sub/deep/small"
ln -s marker "$tree/link"
ln -s nowhere "$tree/sub/dangling"
printf 'linked %s\n' "$MARK" >"$tree/hard"
ln "$tree/hard" "$tree/sub/hardtoo"
truncate -s 24M "$tree/sparse"
printf 'X' | dd of="$tree/sparse" bs=1 seek=5000000 conv=notrunc 2>/dev/null
printf 'Y' | dd of="$tree/sparse" bs=1 seek=25165823 conv=notrunc \
	2>/dev/null
sparse=0
if [ "$(allocated "$tree/sparse")" -lt 1048576 ]; then
	sparse=1
else
	step "skip checking holes: $T does not keep files sparse"
fi
xattrs=0
if xset "$tree/marker" user.color blue 2>/dev/null; then
	xset "$tree/sub" user.dir "$MARK"
	xset "$tree/big" user.n 0
	xattrs=1
else
	step "skip xattrs: no setfattr or python3, or no user xattrs in $T"
fi
ok coffer put -r "$tree" "$P/sec:/t"
printf 'kid %s\n' "$MARK" >"$T/kidfile"
ok coffer put "$T/kidfile" "$P/sec/kid:/f"
head -c 1000000 /dev/urandom >"$T/vol0"
i=0
while [ $i -lt 200 ]; do
	printf '%s volume %s\n' "$MARK" $i
	i=$((i + 1))
done >>"$T/vol0"
ok coffer write "$P/sec/vol" <"$T/vol0"
ok coffer snapshot "$P/sec@s0" "$P/sec/kid@s0" "$P/sec/vol@s0"
cp -a "$tree" "$T/snap0"
ok coffer read "$P/sec/vol@s0" >"$T/vol.s0"
# a plain stream has the marker: the check below means something
ok coffer send "$P/sec@s0" >"$T/plain.stream"
[ "$(grep -c "$MARK" "$T/plain.stream")" -gt 0 ] ||
	fail "the plain stream lacks the marker"

step "send -w with the key unloaded: no plaintext in the stream"
ok coffer unload-key "$P/sec"
ok coffer unload-key "$P/sec/kid"
expect "$(val keystatus "$P/sec")" unavailable
expect "$(val keystatus "$P/sec/vol")" unavailable
expect "$(val keystatus "$P/sec/kid")" unavailable
ok coffer send -w "$P/sec@s0" >"$T/full.stream"
ok coffer send -w "$P/sec/kid@s0" >"$T/kid.stream"
ok coffer send -w "$P/sec/vol@s0" >"$T/vol.stream"
for s in full kid vol; do
	expect "$(grep -c "$MARK" "$T/$s.stream")" 0
done
fails 1 "cannot send '$P/sec@s0'" coffer send "$P/sec@s0"

step "receive without the key: its own encryption root, key unavailable"
ok coffer receive "$Q/copy" <"$T/full.stream"
ok coffer receive "$Q/copy/kid" <"$T/kid.stream"
ok coffer receive "$R/vol" <"$T/vol.stream"
for d in "$Q/copy" "$Q/copy/kid" "$R/vol"; do
	expect "$(val encryptionroot "$d")" "$d"
	expect "$(val keylocation "$d")" prompt
	expect "$(val keyformat "$d")" passphrase
	expect "$(val pbkdf "$d")" pbkdf2
	expect "$(val keystatus "$d")" unavailable
done
expect "$(val encryption "$Q/copy")" aes-256-gcm
expect "$(val encryption "$Q/copy/kid")" chacha20-poly1305
expect "$(val encryption "$R/vol")" aes-256-gcm
expect "$(val type "$R/vol")" volume
expect "$(val volsize "$R/vol")" "$(val volsize "$P/sec/vol")"
expect "$(val guid "$Q/copy@s0")" "$(val guid "$P/sec@s0")"
fails 1 "encryption key not loaded" coffer cat "$Q/copy:/t/marker"
fails 1 "encryption key not loaded" coffer cat "$Q/copy/kid:/f"
fails 1 "encryption key not loaded" coffer read "$R/vol"
for p in "$Q" "$R"; do
	okout coffer pool scrub "$p"
	contains "$OUT" " 0 errors, 0 repaired, 0 unrecoverable"
done

step "a full raw stream into an existing dataset is refused"
before=$(state "$Q/copy")
fails 1 "cannot receive into '$Q/copy'" coffer receive "$Q/copy" \
	<"$T/full.stream"
contains "$(cat "$T/.err")" "a full stream needs a new dataset"
expect "$(state "$Q/copy")" "$before"

step "five raw incrementals through a pipe, target key loaded or not"
i=1
while [ $i -le 5 ]; do
	ok coffer load-key "$P/sec" <"$T/pass"
	ok coffer load-key "$P/sec/kid" <"$T/pass2"
	printf 'round %s %s\n' $i "$MARK" >>"$tree/marker"
	head -c 70000 /dev/urandom >"$tree/sub/r$i"
	printf 'Z%s' $i | dd of="$tree/big" bs=1 seek=$((i * 200000)) \
		conv=notrunc 2>/dev/null
	case $i in
	2)
		rm "$tree/sub/r1"
		ok coffer rm "$P/sec:/t/sub/r1"
		printf 'W' | dd of="$tree/sparse" bs=1 seek=12000000 \
			conv=notrunc 2>/dev/null
		ok coffer put -p "$tree/sparse" "$P/sec:/t/sparse"
		;;
	3)
		[ $xattrs = 1 ] && xset "$tree/marker" user.color green
		ln -s deep/small "$tree/sub/newlink"
		ok coffer ln -s deep/small "$P/sec:/t/sub/newlink"
		;;
	4)
		rm -r "$tree/sub/deep"
		ok coffer rm -r "$P/sec:/t/sub/deep"
		;;
	esac
	ok coffer put -p "$tree/marker" "$P/sec:/t/marker"
	ok coffer put -p "$tree/big" "$P/sec:/t/big"
	ok coffer put -p "$tree/sub/r$i" "$P/sec:/t/sub/r$i"
	printf 'kid round %s\n' $i >>"$T/kidfile"
	ok coffer put "$T/kidfile" "$P/sec/kid:/f"
	printf 'volume round %s %s\n' $i "$MARK" |
	    ok coffer write "$P/sec/vol" --offset $((i * 65536)) || exit 1
	ok coffer snapshot "$P/sec@s$i" "$P/sec/kid@s$i" "$P/sec/vol@s$i"
	ok coffer read "$P/sec/vol@s$i" >"$T/vol.s$i"
	rm -rf "$T/snap$i"
	cp -a "$tree" "$T/snap$i"
	ok coffer unload-key "$P/sec"
	ok coffer unload-key "$P/sec/kid"
	# odd rounds: the targets' keys loaded (the child's: even rounds)
	if [ $((i % 2)) = 1 ]; then
		ok coffer load-key "$Q/copy" <"$T/pass"
		ok coffer load-key "$R/vol" <"$T/pass"
	else
		ok coffer load-key "$Q/copy/kid" <"$T/pass2"
	fi
	coffer send -w -i "@s$((i - 1))" "$P/sec@s$i" |
	    coffer receive "$Q/copy" || fail "raw incremental $i"
	coffer send -w -i "@s$((i - 1))" "$P/sec/vol@s$i" |
	    coffer receive "$R/vol" || fail "raw volume incremental $i"
	coffer send -w -i "$P/sec/kid@s$((i - 1))" "$P/sec/kid@s$i" |
	    coffer receive "$Q/copy/kid" || fail "raw child incremental $i"
	if [ $((i % 2)) = 1 ]; then
		expect "$(val keystatus "$Q/copy")" available
		ok coffer unload-key "$Q/copy"
		ok coffer unload-key "$R/vol"
	else
		expect "$(val keystatus "$Q/copy/kid")" available
		ok coffer unload-key "$Q/copy/kid"
	fi
	expect "$(val keystatus "$Q/copy")" unavailable
	expect "$(val keystatus "$Q/copy/kid")" unavailable
	expect "$(val keystatus "$R/vol")" unavailable
	i=$((i + 1))
done
fails 1 "is not older than" coffer send -w -i @s5 "$P/sec@s5"
okout coffer list -H -o name -t snapshot "$Q/copy"
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" \
	"$Q/copy@s0 $Q/copy@s1 $Q/copy@s2 $Q/copy@s3 $Q/copy@s4 $Q/copy@s5 "
expect "$(val guid "$Q/copy@s5")" "$(val guid "$P/sec@s5")"
expect "$(val guid "$R/vol@s5")" "$(val guid "$P/sec/vol@s5")"
expect "$(val guid "$Q/copy/kid@s5")" "$(val guid "$P/sec/kid@s5")"
for p in "$Q" "$R"; do
	okout coffer pool scrub "$p"
	contains "$OUT" " 0 errors, 0 repaired, 0 unrecoverable"
done

step "damaged raw streams are refused, naming the byte; nothing changes"
ok coffer load-key "$P/sec" <"$T/pass"
printf 'late %s\n' "$MARK" >"$T/late"
ok coffer put "$T/late" "$P/sec:/t/late"
ok coffer snapshot "$P/sec@s6"
ok coffer unload-key "$P/sec"
ok coffer send -w -i @s5 "$P/sec@s6" >"$T/inc.stream"
expect "$(grep -c "$MARK" "$T/inc.stream")" 0
before=$(state "$Q/copy")
# a byte of the key record (KEYS, type 8) of the incremental
cp "$T/inc.stream" "$T/bad.stream"
record "$T/bad.stream" 8
flip "$T/bad.stream" $((REC + 512 + 40))
fails 1 "at byte $NEXT: checksum mismatch" coffer receive "$Q/copy" \
	<"$T/bad.stream"
expect "$(state "$Q/copy")" "$before"
# a byte of a sealed WRITE (type 5)
cp "$T/inc.stream" "$T/bad.stream"
record "$T/bad.stream" 5
flip "$T/bad.stream" $((REC + 512 + PLEN / 2))
fails 1 "at byte $NEXT: checksum mismatch" coffer receive "$Q/copy" \
	<"$T/bad.stream"
expect "$(state "$Q/copy")" "$before"
# the keystore in the KEYS of a full stream: a new dataset is not made
cp "$T/full.stream" "$T/bad.stream"
record "$T/bad.stream" 8
flip "$T/bad.stream" $((REC + 512 + PLEN - 100))
fails 1 "at byte $NEXT: checksum mismatch" coffer receive "$Q/other" \
	<"$T/bad.stream"
fails 1 "cannot open '$Q/other'" coffer list "$Q/other"
# a truncated raw stream
head -c 3000 "$T/inc.stream" >"$T/cut.stream"
fails 1 "truncated" coffer receive "$Q/copy" <"$T/cut.stream"
expect "$(state "$Q/copy")" "$before"
okout coffer list -H -o name -r "$Q"
lacks "$OUT" "%"
# the good stream still applies
ok coffer receive "$Q/copy" <"$T/inc.stream"
expect "$(val keystatus "$Q/copy")" unavailable

step "load-key with the sender's passphrase; every snapshot is the source's"
fails 1 "wrong passphrase" coffer load-key "$Q/copy" <"$T/wrong"
expect "$(val keystatus "$Q/copy")" unavailable
ok coffer load-key "$Q/copy" <"$T/pass"
expect "$(val keystatus "$Q/copy")" available
expect "$(val keystatus "$Q/copy/kid")" unavailable
fails 1 "wrong passphrase" coffer load-key "$Q/copy/kid" <"$T/pass"
ok coffer load-key "$Q/copy/kid" <"$T/pass2"
ok coffer load-key "$R/vol" <"$T/pass"
i=0
while [ $i -le 5 ]; do
	rm -rf "$T/out"
	ok coffer get -r -p "$Q/copy@s$i:/t" "$T/out"
	same_tree "$T/snap$i" "$T/out"
	ok coffer read "$R/vol@s$i" >"$T/vol.out"
	same "$T/vol.s$i" "$T/vol.out"
	okout coffer cat "$Q/copy/kid@s$i:/f"
	expect "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" $((i + 1))
	i=$((i + 1))
done
okout coffer cat "$Q/copy:/t/late"
expect "$OUT" "late $MARK"
ok coffer read "$R/vol" >"$T/vol.out"
same "$T/vol.s5" "$T/vol.out"
for p in "$Q" "$R"; do
	okout coffer pool scrub "$p"
	contains "$OUT" " 0 errors, 0 repaired, 0 unrecoverable"
done

step "the received root is writable and goes back raw to the first pool"
printf 'written on %s\n' "$Q" >"$T/back"
ok coffer put "$T/back" "$Q/copy:/t/back"
ok coffer snapshot "$Q/copy@back"
ok coffer unload-key "$Q/copy"
ok coffer send -w "$Q/copy@back" >"$T/back.stream"
expect "$(grep -c "$MARK" "$T/back.stream")" 0
ok coffer receive "$P/back" <"$T/back.stream"
expect "$(val encryptionroot "$P/back")" "$P/back"
expect "$(val keystatus "$P/back")" unavailable
fails 1 "wrong passphrase" coffer load-key "$P/back" <"$T/wrong"
ok coffer load-key "$P/back" <"$T/pass"
rm -rf "$T/out"
ok coffer get -r -p "$P/back:/t" "$T/out"
ok coffer load-key "$Q/copy" <"$T/pass"
rm -rf "$T/out2"
ok coffer get -r -p "$Q/copy:/t" "$T/out2"
diff -r --no-dereference "$T/out2" "$T/out" >/dev/null ||
	fail "the round trip differs"
okout coffer cat "$P/back:/t/back"
expect "$OUT" "written on $Q"
ok coffer unload-key "$P/back"
okout coffer pool scrub "$P"
contains "$OUT" " 0 errors, 0 repaired, 0 unrecoverable"

step "send -c and -w of an unencrypted dataset"
ok coffer create -o compression=lz4 "$P/plain"
mkdir "$T/ptree"
i=0
while [ $i -lt 20000 ]; do
	printf 'compressible line %s of the plain tree\n' $((i % 50))
	i=$((i + 1))
done >"$T/ptree/text"
head -c 200000 /dev/urandom >"$T/ptree/random"
ok coffer put -r "$T/ptree" "$P/plain:/p"
ok coffer snapshot "$P/plain@a"
ok coffer send "$P/plain@a" >"$T/p.stream"
ok coffer send -c "$P/plain@a" >"$T/pc.stream"
ok coffer send -w "$P/plain@a" >"$T/pw.stream"
plain=$(wc -c <"$T/p.stream")
for s in pc pw; do
	n=$(wc -c <"$T/$s.stream")
	[ "$n" -lt $((plain / 2)) ] ||
		fail "the $s stream ($n bytes) is not smaller than the plain one ($plain)"
done
ok coffer receive "$Q/pc" <"$T/pc.stream"
ok coffer receive "$Q/pw" <"$T/pw.stream"
printf 'changed\n' >>"$T/ptree/text"
ok coffer put "$T/ptree/text" "$P/plain:/p/text"
ok coffer snapshot "$P/plain@b"
coffer send -c -i @a "$P/plain@b" | coffer receive "$Q/pc" ||
	fail "compressed incremental"
coffer send -w -i @a "$P/plain@b" | coffer receive "$Q/pw" ||
	fail "raw unencrypted incremental"
for d in pc pw; do
	expect "$(val encryption "$Q/$d")" off
	for s in a b; do
		rm -rf "$T/out"
		ok coffer get -r "$Q/$d@$s:/p" "$T/out"
		rm -rf "$T/ref"
		ok coffer get -r "$P/plain@$s:/p" "$T/ref"
		diff -r "$T/ref" "$T/out" >/dev/null ||
			fail "$Q/$d@$s differs from $P/plain@$s"
	done
done
diff -r "$T/ptree" "$T/out" >/dev/null || fail "$Q/pw differs from the tree"

step "send -c of an encrypted dataset: plaintext, uncompressed"
ok coffer load-key "$P/sec" <"$T/pass"
ok coffer send -c "$P/sec@s0" >"$T/ec.stream"
[ "$(grep -c "$MARK" "$T/ec.stream")" -gt 0 ] ||
	fail "send -c of an encrypted dataset is not plaintext"
ok coffer receive "$Q/ec" <"$T/ec.stream"
expect "$(val encryption "$Q/ec")" off
rm -rf "$T/out"
ok coffer get -r -p "$Q/ec:/t" "$T/out"
same_tree "$T/snap0" "$T/out"

step "a volume keeps its size through every kind of stream"
ok coffer create -V 3M -o compression=lz4 "$P/pvol"
ok coffer write "$P/pvol" --offset 100000 <"$T/ptree/text"
ok coffer snapshot "$P/pvol@a"
ok coffer read "$P/pvol@a" >"$T/pvol.ref"
expect "$(wc -c <"$T/pvol.ref" | tr -d ' ')" 3145728
for f in "" -c -w; do
	# shellcheck disable=SC2086 # no flag, or one
	ok coffer send $f "$P/pvol@a" >"$T/pvol.stream"
	ok coffer receive "$Q/pvol$f" <"$T/pvol.stream"
	expect "$(val volsize "$Q/pvol$f")" 3M
	ok coffer read "$Q/pvol$f" >"$T/vol.out"
	same "$T/pvol.ref" "$T/vol.out"
done
