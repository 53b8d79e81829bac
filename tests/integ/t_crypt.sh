# Encryption: encrypted roots with every suite, children, what works with
# and without the key, wrong keys, load-key -n and -a, hex and raw key
# files, key slots, change-key, and the properties that show it all.
#
# Keys that load-key (and create) load stay loaded for later commands, in
# the kernel keyring of the user: this test unloads every key it loaded
# when it exits, however it exits, and its pool name is its own.
# shellcheck source=tests/integ/lib.sh
. "$(dirname "$0")/lib.sh"

P=crypt$$

crypt_cleanup() {
	crypt_rc=$?
	"$COFFER" unload-key -a >/dev/null 2>&1
	(exit $crypt_rc)
	lib_cleanup
}
trap crypt_cleanup EXIT

# keys, never on a command line
printf 'correct horse battery\n' >"$T/pass"
printf 'wrong horse battery\n' >"$T/wrong"
printf 'second staple 22\n' >"$T/pass2"
printf 'short\n' >"$T/short"
printf '0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef\n' \
	>"$T/hex.key"
printf 'fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210\n' \
	>"$T/hex-wrong.key"
printf '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n' \
	>"$T/hex-short.key"
head -c 32 /dev/urandom >"$T/raw.key"
head -c 32 /dev/urandom >"$T/raw-wrong.key"
head -c 31 /dev/urandom >"$T/raw-short.key"
head -c 32 /dev/urandom >"$T/slot.raw"

# value of one property
val() {
	okout coffer get -H -o value "$1" "$2"
	printf '%s' "$OUT"
}
# values of several properties, space-separated
vals() {
	okout coffer get -H -o value "$1" "$2"
	# shellcheck disable=SC2086 # one word per value
	printf '%s ' $OUT
}

mkpool "$P"
ok coffer create "$P/plain"

step "an encrypted root with each suite; contents round trip"
for s in aes-128-ccm aes-192-ccm aes-256-ccm aes-128-gcm aes-192-gcm \
    aes-256-gcm chacha20-poly1305 on; do
	ok coffer create -o encryption=$s -o keyformat=passphrase \
	    -o pbkdf=pbkdf2 "$P/s-$s" <"$T/pass"
	# like zfs, get shows the suite that "on" stands for
	e=$s
	[ "$s" = on ] && e=aes-256-gcm
	expect "$(vals encryption,keyformat,pbkdf,encryptionroot,keystatus \
	    "$P/s-$s")" "$e passphrase pbkdf2 $P/s-$s available "
	printf 'data of %s\n' "$s" >"$T/d"
	ok coffer put "$T/d" "$P/s-$s:/d"
	okout coffer cat "$P/s-$s:/d"
	expect "$OUT" "data of $s"
done
okout coffer get -H -o value,source encryption "$P/s-on"
expect "$OUT" "$(printf 'aes-256-gcm\tlocal')"

step "argon2id is the default; keyformat alone means encryption=on"
ok coffer create -o encryption=aes-256-gcm -o keyformat=passphrase \
	"$P/argon" <"$T/pass"
expect "$(vals encryption,keyformat,keylocation,pbkdf,encryptionroot \
    "$P/argon")" "aes-256-gcm passphrase prompt argon2id $P/argon "
ok coffer unload-key "$P/argon"
ok coffer load-key "$P/argon" <"$T/pass"
# the rest uses PBKDF2 at its minimum, which is quicker
ok coffer create -o encryption=aes-256-gcm -o keyformat=passphrase \
	-o pbkdf=pbkdf2 "$P/secret" <"$T/pass"
ok coffer create -o keyformat=passphrase -o pbkdf2iters=400000 "$P/kfonly" \
	<"$T/pass"
expect "$(vals encryption,pbkdf,pbkdf2iters "$P/kfonly")" \
    "aes-256-gcm pbkdf2 400000 "
okout coffer get -H -o property,value,source all "$P/plain"
contains "$OUT" "$(printf 'encryption\toff\tdefault')"
contains "$OUT" "$(printf 'keystatus\tnone\t-')"
contains "$OUT" "$(printf 'keyformat\tnone\tdefault')"

step "bad keys and options are refused before anything is made"
fails 1 "cannot create '$P/bad': passphrase too short (at least 8 bytes)" \
	coffer create -o encryption=on -o keyformat=passphrase "$P/bad" \
	<"$T/short"
fails 1 "cannot create '$P/bad': no passphrase on standard input" \
	coffer create -o encryption=on -o keyformat=passphrase "$P/bad" \
	</dev/null
head -c 600 /dev/zero | tr '\0' x >"$T/long"
fails 1 "passphrase too long (at most 512 bytes)" \
	coffer create -o keyformat=passphrase "$P/bad" <"$T/long"
fails 1 "keyformat must be specified" \
	coffer create -o encryption=aes-256-gcm "$P/bad"
fails 2 "bad encryption 'rot13'" \
	coffer create -o encryption=rot13 -o keyformat=passphrase "$P/bad"
fails 2 "bad keyformat 'password'" \
	coffer create -o encryption=on -o keyformat=password "$P/bad"
fails 2 "keyformat needs encryption" \
	coffer create -o encryption=off -o keyformat=passphrase "$P/bad"
fails 2 "keylocation needs keyformat" \
	coffer create -o keylocation=prompt "$P/bad"
fails 2 "bad keylocation '/etc/key'" coffer create -o keyformat=passphrase \
	-o keylocation=/etc/key "$P/bad"
fails 2 "pbkdf and pbkdf2iters need keyformat=passphrase" \
	coffer create -o keyformat=hex -o pbkdf=pbkdf2 "$P/bad"
fails 1 "350000" coffer create -o keyformat=passphrase -o pbkdf=pbkdf2 \
	-o pbkdf2iters=1000 "$P/bad" <"$T/pass"
fails 2 "root dataset of a pool cannot be encrypted" \
	coffer pool create -o encryption=on other$$ "$T/other.img" --size 64M
fails 1 "cannot create '$P/no/bad': parent '$P/no' does not exist" \
	coffer create -o keyformat=passphrase "$P/no/bad" <"$T/pass"
fails 1 "cannot open '$P/bad'" coffer list "$P/bad"

step "children are encrypted and share the root's key"
ok coffer create "$P/secret/child"
ok coffer create -V 1M "$P/secret/vol"
ok coffer create -p "$P/secret/a/b/c"
expect "$(vals encryption,encryptionroot,keystatus,keyformat \
    "$P/secret/a/b/c")" "aes-256-gcm $P/secret available passphrase "
okout coffer get -H -o value,source encryption "$P/secret/child"
expect "$OUT" "$(printf 'aes-256-gcm\tinherited from %s' "$P/secret")"
expect "$(val encryptionroot "$P/secret/vol")" "$P/secret"
fails 1 "cannot create '$P/secret/p': the children of encrypted '$P/secret' are encrypted" \
	coffer create -o encryption=off "$P/secret/p"
fails 1 "cannot open '$P/secret/p'" coffer list "$P/secret/p"
# a child of its own suite, still under the root's key
ok coffer create -o encryption=chacha20-poly1305 "$P/secret/cc"
expect "$(vals encryption,encryptionroot "$P/secret/cc")" \
	"chacha20-poly1305 $P/secret "
# a child can be a root with a key of its own
ok coffer create -o encryption=aes-128-gcm -o keyformat=passphrase \
	-o pbkdf=pbkdf2 "$P/secret/own" <"$T/pass2"
expect "$(vals encryptionroot,keystatus "$P/secret/own")" \
	"$P/secret/own available "
ok coffer create "$P/secret/own/kid"
expect "$(val encryptionroot "$P/secret/own/kid")" "$P/secret/own"

step "contents of roots, children and volumes"
head -c 300000 /dev/urandom >"$T/big"
ok coffer put "$T/big" "$P/secret:/big"
ok coffer get "$P/secret:/big" "$T/big.out"
same "$T/big" "$T/big.out"
printf 'child data\n' | ok coffer put - "$P/secret/child:/f" || exit 1
okout coffer cat "$P/secret/child:/f"
expect "$OUT" "child data"
printf 'own data\n' | ok coffer put - "$P/secret/own:/f" || exit 1
head -c 5000 /dev/urandom >"$T/vd"
ok coffer write "$P/secret/vol" <"$T/vd"
ok coffer read "$P/secret/vol" --length 5000 >"$T/vd.out"
same "$T/vd" "$T/vd.out"
ok coffer snapshot "$P/secret@s1" "$P/secret/child@s1"

step "unload-key: contents are out of reach, in exactly these words"
ok coffer unload-key "$P/secret"
expect "$(vals keystatus "$P/secret")" "unavailable "
expect "$(vals keystatus "$P/secret/a/b/c")" "unavailable "
expect "$(vals keystatus "$P/secret/own")" "available "
fails 1 "" coffer cat "$P/secret:/big"
expect "$(cat "$T/.err")" \
	"coffer: cannot open '$P/secret': encryption key not loaded"
fails 1 "" coffer cat "$P/secret/child:/f"
expect "$(cat "$T/.err")" \
	"coffer: cannot open '$P/secret/child': encryption key not loaded"
fails 1 "" coffer cat "$P/secret@s1:/big"
expect "$(cat "$T/.err")" \
	"coffer: cannot open '$P/secret@s1': encryption key not loaded"
fails 1 "" coffer ls "$P/secret:/"
expect "$(cat "$T/.err")" \
	"coffer: cannot open '$P/secret': encryption key not loaded"
fails 1 "" coffer put "$T/big" "$P/secret:/big2" <"$T/pass"
expect "$(cat "$T/.err")" \
	"coffer: cannot open '$P/secret': encryption key not loaded"
fails 1 "" coffer read "$P/secret/vol"
expect "$(cat "$T/.err")" \
	"coffer: cannot open '$P/secret/vol': encryption key not loaded"
fails 1 "" coffer create "$P/secret/new"
expect "$(cat "$T/.err")" \
	"coffer: cannot create '$P/secret/new': encryption key not loaded"
# another root is not affected
okout coffer cat "$P/secret/own:/f"
expect "$OUT" "own data"
fails 1 "cannot unload key for '$P/secret': key not loaded" \
	coffer unload-key "$P/secret/child"
fails 1 "cannot unload key for '$P/plain': not encrypted" \
	coffer unload-key "$P/plain"

step "without the key: list, get, snapshot, destroy, scrub, status"
okout coffer list -H -o name -r "$P/secret"
contains "$OUT" "$P/secret/child"
okout coffer list -H -p -o name,used,referenced "$P/secret"
expect "$(printf '%s\n' "$OUT" | cut -f1)" "$P/secret"
expect "$(vals encryption,encryptionroot,keyformat "$P/secret/child")" \
	"aes-256-gcm $P/secret passphrase "
ok coffer snapshot "$P/secret@locked" "$P/secret/child@locked"
okout coffer list -H -t snapshot -o name -r "$P/secret"
contains "$OUT" "$P/secret@locked"
contains "$OUT" "$P/secret/child@locked"
ok coffer destroy "$P/secret/child@locked"
ok coffer destroy -r "$P/secret/a"
fails 1 "cannot open '$P/secret/a'" coffer list "$P/secret/a"
ok coffer pool scrub "$P"
okout coffer pool status "$P"
contains "$OUT" ONLINE

step "a wrong passphrase fails and changes nothing"
fails 1 "" coffer load-key "$P/secret" <"$T/wrong"
expect "$(cat "$T/.err")" \
	"coffer: cannot load key for '$P/secret': wrong passphrase"
expect "$(val keystatus "$P/secret")" unavailable
fails 1 "encryption key not loaded" coffer cat "$P/secret:/big"
fails 1 "cannot load key for '$P/secret': passphrase too short" \
	coffer load-key "$P/secret" <"$T/short"
fails 1 "cannot load key for '$P/secret': no passphrase on standard input" \
	coffer load-key "$P/secret" </dev/null
fails 1 "cannot load key for '$P/plain': not encrypted" \
	coffer load-key "$P/plain" <"$T/pass"
fails 2 "missing dataset name" coffer load-key
fails 2 "too many arguments" coffer load-key "$P/secret" "$P/plain"
fails 2 "bad key location '/etc/key'" coffer load-key -L /etc/key "$P/secret"
fails 2 "unknown option '-q'" coffer load-key -q "$P/secret"
expect "$(val keystatus "$P/secret")" unavailable

step "load-key -n only checks the key"
ok coffer load-key -n "$P/secret" <"$T/pass"
expect "$(val keystatus "$P/secret")" unavailable
fails 1 "cannot check key for '$P/secret': wrong passphrase" \
	coffer load-key -n "$P/secret" <"$T/wrong"

step "load-key through any dataset of the root; it stays loaded"
ok coffer load-key "$P/secret/child" <"$T/pass"
expect "$(vals keystatus "$P/secret/child")" "available "
expect "$(vals keystatus "$P/secret")" "available "
ok coffer get "$P/secret:/big" "$T/big.out2"
same "$T/big" "$T/big.out2"
okout coffer cat "$P/secret@s1:/big"
okout coffer cat "$P/secret/child@s1:/f"
expect "$OUT" "child data"
fails 1 "cannot load key for '$P/secret': key already loaded" \
	coffer load-key "$P/secret" <"$T/pass"
ok coffer load-key -n "$P/secret" <"$T/pass"

step "unload-key is refused while another process holds the pool"
mkfifo "$T/fifo"
coffer put - "$P/secret:/slow" <"$T/fifo" &
holder=$!
exec 9>"$T/fifo"
wait_locked "$T/$P.img" "$holder"
fails 1 "in use" coffer unload-key "$P/secret"
printf 'written while held\n' >&9
exec 9>&-
wait "$holder" || fail "the holder failed"
expect "$(val keystatus "$P/secret")" available
okout coffer cat "$P/secret:/slow"
expect "$OUT" "written while held"

step "hex and raw keys in files named by keylocation"
ok coffer create -o encryption=aes-256-gcm -o keyformat=hex \
	-o "keylocation=file://$T/hex.key" "$P/hexfs" </dev/null
ok coffer create -o encryption=aes-256-ccm -o keyformat=raw \
	-o "keylocation=file://$T/raw.key" "$P/rawfs" </dev/null
expect "$(vals keyformat,keylocation "$P/hexfs")" \
	"hex file://$T/hex.key "
expect "$(vals keyformat,keylocation "$P/rawfs")" \
	"raw file://$T/raw.key "
printf 'hex data\n' | ok coffer put - "$P/hexfs:/f" || exit 1
printf 'raw data\n' | ok coffer put - "$P/rawfs:/f" || exit 1
ok coffer unload-key "$P/hexfs"
ok coffer unload-key "$P/rawfs"
fails 1 "encryption key not loaded" coffer cat "$P/hexfs:/f"
fails 1 "cannot load key for '$P/hexfs': wrong key" \
	coffer load-key -L "file://$T/hex-wrong.key" "$P/hexfs"
fails 1 "cannot load key for '$P/hexfs': a hex key must be exactly 64 hex digits" \
	coffer load-key -L "file://$T/hex-short.key" "$P/hexfs"
fails 1 "cannot load key for '$P/hexfs': a hex key must be exactly 64 hex digits" \
	coffer load-key -L "file://$T/pass" "$P/hexfs"
fails 1 "cannot load key for '$P/rawfs': wrong key" \
	coffer load-key -L "file://$T/raw-wrong.key" "$P/rawfs"
fails 1 "cannot load key for '$P/rawfs': a raw key must be exactly 32 bytes" \
	coffer load-key -L "file://$T/raw-short.key" "$P/rawfs"
fails 1 "cannot open key file '$T/nonesuch'" \
	coffer load-key -L "file://$T/nonesuch" "$P/rawfs"
expect "$(vals keystatus "$P/hexfs")" "unavailable "
# from the keylocation, with nothing on standard input
ok coffer load-key "$P/hexfs" </dev/null
okout coffer cat "$P/hexfs:/f"
expect "$OUT" "hex data"
ok coffer load-key "$P/rawfs" </dev/null
okout coffer cat "$P/rawfs:/f"
expect "$OUT" "raw data"
# -L prompt: standard input, which is not a terminal here
ok coffer unload-key "$P/rawfs"
ok coffer load-key -n -L prompt "$P/rawfs" <"$T/raw.key"
ok coffer unload-key "$P/hexfs"
ok coffer load-key -L prompt "$P/hexfs" <"$T/hex.key"
# the key file moves: set keylocation
ok coffer unload-key "$P/hexfs"
mv "$T/hex.key" "$T/hex-moved.key"
fails 1 "cannot open key file '$T/hex.key'" coffer load-key "$P/hexfs"
ok coffer set "keylocation=file://$T/hex-moved.key" "$P/hexfs"
ok coffer load-key "$P/hexfs"
fails 1 "cannot set 'keylocation' of '$P/hexfs' to 'elsewhere'" \
	coffer set keylocation=elsewhere "$P/hexfs"
fails 1 "cannot set 'keylocation' of '$P/secret/child'" \
	coffer set "keylocation=file://$T/pass" "$P/secret/child"
fails 1 "cannot set 'keylocation' of '$P/plain'" \
	coffer set keylocation=prompt "$P/plain"
expect "$(val keylocation "$P/hexfs")" "file://$T/hex-moved.key"

step "key slots: any slot unlocks; a removed one no longer does"
okout coffer key-slot list -H "$P/secret"
expect "$OUT" "$(printf '0\tpassphrase\tpbkdf2\titers=350000\t%s' \
    "$(printf '%s\n' "$OUT" | cut -f5)")"
ok coffer key-slot add "$P/secret" <"$T/pass2"
ok coffer key-slot add -o keyformat=raw -o "keylocation=file://$T/slot.raw" \
	"$P/secret" </dev/null
ok coffer key-slot add -o pbkdf=pbkdf2 -o pbkdf2iters=400000 "$P/secret" \
	<"$T/pass2"
okout coffer key-slot list "$P/secret"
expect "$(squeeze "$OUT" | head -n 1)" "SLOT KEYFORMAT KDF PARAMS CREATED"
okout coffer key-slot list -H -p "$P/secret"
expect "$(printf '%s\n' "$OUT" | cut -f1-3 | tr '\t\n' ' |')" \
	"0 passphrase pbkdf2|1 passphrase argon2id|2 raw none|3 passphrase pbkdf2|"
expect "$(printf '%s\n' "$OUT" | cut -f4 | sed -n '1p;3,4p' | tr '\n' '|')" \
	"iters=350000|-|iters=400000|"
for f in t= m= p=; do
	contains "$(printf '%s\n' "$OUT" | sed -n 2p | cut -f4)" "$f"
done
printf '%s\n' "$OUT" | cut -f5 | while read -r t; do
	case $t in
	'' | *[!0-9]*) fail "creation '$t' is not in seconds" ;;
	esac
done || exit 1
# the key-slot list of a child is its root's
okout coffer key-slot list -H "$P/secret/child"
expect "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" 4
ok coffer unload-key "$P/secret"
ok coffer load-key "$P/secret" <"$T/pass2"
ok coffer unload-key "$P/secret"
ok coffer load-key "$P/secret" <"$T/pass"
ok coffer unload-key "$P/secret"
ok coffer load-key -L "file://$T/slot.raw" "$P/secret"
okout coffer cat "$P/secret/child:/f"
expect "$OUT" "child data"
ok coffer key-slot remove "$P/secret" 1
ok coffer key-slot remove "$P/secret" 3
okout coffer key-slot list -H "$P/secret"
expect "$(printf '%s\n' "$OUT" | cut -f1 | tr '\n' ' ')" "0 2 "
ok coffer unload-key "$P/secret"
fails 1 "cannot load key for '$P/secret': wrong passphrase" \
	coffer load-key "$P/secret" <"$T/pass2"
ok coffer load-key "$P/secret" <"$T/pass"
fails 1 "cannot remove key slot 5 of '$P/secret'" \
	coffer key-slot remove "$P/secret" 5
fails 2 "bad slot number '9'" coffer key-slot remove "$P/secret" 9
fails 2 "bad slot number 'x'" coffer key-slot remove "$P/secret" x
fails 2 "missing slot number" coffer key-slot remove "$P/secret"
fails 1 "cannot add a key slot to '$P/secret/child': not an encryption root" \
	coffer key-slot add "$P/secret/child" <"$T/pass2"
fails 1 "cannot add a key slot to '$P/plain': not encrypted" \
	coffer key-slot add "$P/plain" <"$T/pass2"
fails 1 "cannot list key slots of '$P/plain': not encrypted" \
	coffer key-slot list "$P/plain"
fails 1 "passphrase too short" coffer key-slot add "$P/secret" <"$T/short"
fails 2 "only keyformat, keylocation, pbkdf and pbkdf2iters" \
	coffer key-slot add -o compression=off "$P/secret"
fails 2 "unknown command 'key-slot bogus'" coffer key-slot bogus "$P/secret"
ok coffer key-slot remove "$P/secret" 2
fails 1 "cannot remove key slot 0 of '$P/secret'" \
	coffer key-slot remove "$P/secret" 0
okout coffer key-slot list -H "$P/secret"
expect "$(printf '%s\n' "$OUT" | cut -f1)" 0

step "load-key -a and unload-key -a: one key per root"
okout coffer unload-key -a
contains "$OUT" "keys unloaded"
okout coffer get -H -o value -r keystatus "$P"
printf '%s\n' "$OUT" | grep -qx available && fail "a key is loaded: $OUT"
# roots in the order load-key -a reads them (dataset order)
okout coffer list -H -o name,encryptionroot -r "$P"
roots=$(printf '%s\n' "$OUT" | awk -F'\t' '$1 == $2 { print $1 }')
n=$(printf '%s\n' "$roots" | wc -l | tr -d ' ')
: >"$T/all"
: >"$T/all-bad"
for r in $roots; do
	case $r in
	"$P/secret/own") cat "$T/pass2" >>"$T/all"; cat "$T/pass2" >>"$T/all-bad" ;;
	"$P/hexfs" | "$P/rawfs") ;;     # read from their key files
	"$P/kfonly") cat "$T/pass" >>"$T/all"; cat "$T/wrong" >>"$T/all-bad" ;;
	*) cat "$T/pass" >>"$T/all"; cat "$T/pass" >>"$T/all-bad" ;;
	esac
done
fails 1 "cannot load key for '$P/kfonly': wrong passphrase" \
	coffer load-key -a <"$T/all-bad"
expect "$(cat "$T/.out")" "$((n - 1)) of $n keys loaded"
expect "$(val keystatus "$P/kfonly")" unavailable
expect "$(val keystatus "$P/secret")" available
okout coffer unload-key -a "$P"
expect "$OUT" "$((n - 1)) of $((n - 1)) keys unloaded"
okout coffer load-key -a -n <"$T/all"
expect "$OUT" "$n of $n keys checked"
okout coffer get -H -o value -r keystatus "$P"
printf '%s\n' "$OUT" | grep -qx available && fail "a key is loaded: $OUT"
okout coffer load-key -a <"$T/all"
expect "$OUT" "$n of $n keys loaded"
okout coffer get -H -o value -r keystatus "$P"
printf '%s\n' "$OUT" | grep -qx unavailable && fail "a key is not loaded: $OUT"
okout coffer load-key -a </dev/null
expect "$OUT" "0 of 0 keys loaded"
okout coffer cat "$P/s-chacha20-poly1305:/d"
expect "$OUT" "data of chacha20-poly1305"

step "encryption cannot be set; the key properties change with change-key"
fails 1 "cannot set property 'encryption': encryption is fixed at creation; use 'coffer reencrypt' to change it" \
	coffer set encryption=aes-128-gcm "$P/secret"
fails 1 "cannot set property 'encryption': encryption is fixed at creation; use 'coffer reencrypt' to change it" \
	coffer set encryption=on "$P/plain"
fails 1 "cannot set property 'encryption': encryption is fixed at creation; use 'coffer reencrypt' to change it" \
	coffer set encryption=off "$P/secret/child"
fails 1 "cannot inherit 'encryption'" coffer inherit encryption "$P/secret/cc"
fails 1 "'coffer change-key'" coffer set keyformat=hex "$P/secret"
fails 1 "'coffer change-key'" coffer set pbkdf=pbkdf2 "$P/secret"
fails 1 "'coffer change-key'" coffer set pbkdf2iters=500000 "$P/kfonly"
fails 1 "read-only" coffer set keystatus=available "$P/secret"
fails 1 "read-only" coffer set "encryptionroot=$P" "$P/secret"
expect "$(vals encryption,keyformat,pbkdf "$P/secret")" \
	"aes-256-gcm passphrase pbkdf2 "
expect "$(val encryption "$P/secret/cc")" chacha20-poly1305

step "change-key re-wraps: the old passphrase no longer works, data stays"
printf 'a brand new passphrase\n' >"$T/new"
ok coffer change-key "$P/secret" <"$T/new"
okout coffer key-slot list -H "$P/secret"
expect "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" 1
expect "$(val keystatus "$P/secret")" available
ok coffer unload-key "$P/secret"
fails 1 "cannot load key for '$P/secret': wrong passphrase" \
	coffer load-key "$P/secret" <"$T/pass"
ok coffer load-key "$P/secret" <"$T/new"
ok coffer get "$P/secret:/big" "$T/big.out3"
same "$T/big" "$T/big.out3"
okout coffer cat "$P/secret/child:/f"
expect "$OUT" "child data"
okout coffer cat "$P/secret@s1:/big"
# not loaded: refused, unless -l loads it first (both keys on stdin)
ok coffer unload-key "$P/secret"
fails 1 "cannot change key for '$P/secret': encryption key not loaded" \
	coffer change-key "$P/secret" <"$T/new"
printf 'a brand new passphrase\nand a newer one too\n' >"$T/new2"
ok coffer change-key -l "$P/secret" <"$T/new2"
expect "$(val keystatus "$P/secret")" available
ok coffer unload-key "$P/secret"
fails 1 "wrong passphrase" coffer load-key "$P/secret" <"$T/new"
printf 'and a newer one too\n' >"$T/newer"
ok coffer load-key "$P/secret" <"$T/newer"
fails 1 "cannot change key for '$P/secret': passphrase too short" \
	coffer change-key "$P/secret" <"$T/short"
# to a hex key in a file, with PBKDF2 options refused for hex
fails 1 "apply only to keyformat=passphrase" coffer change-key \
	-o keyformat=hex -o pbkdf=pbkdf2 "$P/secret" </dev/null
ok coffer change-key -o keyformat=hex \
	-o "keylocation=file://$T/hex-moved.key" "$P/secret" </dev/null
expect "$(vals keyformat,keylocation "$P/secret")" \
	"hex file://$T/hex-moved.key "
ok coffer unload-key "$P/secret"
ok coffer load-key "$P/secret" </dev/null
okout coffer cat "$P/secret/child:/f"
expect "$OUT" "child data"
# back to a passphrase with PBKDF2
ok coffer change-key -o keyformat=passphrase -o keylocation=prompt \
	-o pbkdf=pbkdf2 -o pbkdf2iters=350000 "$P/secret" <"$T/pass"
expect "$(vals keyformat,keylocation,pbkdf,pbkdf2iters "$P/secret")" \
	"passphrase prompt pbkdf2 350000 "

step "change-key -i joins the parent's root; change-key on a child makes a root"
ok coffer change-key -i "$P/secret/own"
expect "$(vals encryptionroot,keystatus "$P/secret/own")" \
	"$P/secret available "
expect "$(val encryptionroot "$P/secret/own/kid")" "$P/secret"
okout coffer cat "$P/secret/own:/f"
expect "$OUT" "own data"
ok coffer unload-key "$P/secret"
fails 1 "encryption key not loaded" coffer cat "$P/secret/own:/f"
ok coffer load-key "$P/secret" <"$T/pass"
fails 2 "-i takes no -o" coffer change-key -i -o keyformat=hex "$P/secret/own"
fails 1 "cannot change key for '$P/secret/child': not an encryption root" \
	coffer change-key -i "$P/secret/child"
fails 1 "cannot change key for '$P/s-on': its parent '$P' is not encrypted" \
	coffer change-key -i "$P/s-on"
fails 1 "cannot change key for '$P/plain': not encrypted" \
	coffer change-key "$P/plain" <"$T/pass"
fails 2 "not a dataset" coffer change-key "$P/secret@s1"
fails 2 "only keyformat, keylocation, pbkdf and pbkdf2iters" \
	coffer change-key -o encryption=on "$P/secret"
fails 2 "keyformat=none is not a key" \
	coffer change-key -o keyformat=none "$P/secret"
ok coffer change-key -o pbkdf=pbkdf2 "$P/secret/child" <"$T/pass2"
expect "$(vals encryptionroot,keyformat,keylocation "$P/secret/child")" \
	"$P/secret/child passphrase prompt "
ok coffer unload-key "$P/secret/child"
expect "$(val keystatus "$P/secret")" available
fails 1 "encryption key not loaded" coffer cat "$P/secret/child:/f"
ok coffer load-key "$P/secret/child" <"$T/pass2"
okout coffer cat "$P/secret/child:/f"
expect "$OUT" "child data"

step "a locked root can be destroyed"
ok coffer create -o keyformat=passphrase -o pbkdf=pbkdf2 "$P/gone" \
	<"$T/pass"
ok coffer create "$P/gone/kid"
ok coffer unload-key "$P/gone"
ok coffer destroy -r "$P/gone"
fails 1 "cannot open '$P/gone'" coffer list "$P/gone"

step "help"
okout coffer help load-key
contains "$OUT" "usage: coffer load-key [-a] [-n] [-L LOCATION] [DATASET]"
okout coffer help key-slot
contains "$OUT" "key-slot add"
contains "$OUT" "key-slot remove"
contains "$OUT" "key-slot list"

# The terminal: echo off, new keys asked twice.  util-linux script(1)
# gives the command a pseudo-terminal.  type_at FILE LINE...: for each
# LINE, wait until FILE (the terminal's output) shows one more prompt,
# then type it.  coffer turns echo off before it prompts, so what is
# typed after a prompt never shows.
type_at() {
	ta_file=$1
	shift
	ta_n=0
	for ta_line in "$@"; do
		ta_n=$((ta_n + 1))
		ta_k=0
		while [ "$(grep -o 'passphrase for' "$ta_file" 2>/dev/null |
		    wc -l)" -lt $ta_n ] && [ $ta_k -lt 600 ]; do
			sleep 0.1
			ta_k=$((ta_k + 1))
		done
		printf '%s\n' "$ta_line"
	done
	sleep 1         # script(1) ends the session at the input's end
}
if command -v script >/dev/null 2>&1 &&
    script -qec true /dev/null </dev/null >/dev/null 2>&1; then
	step "the terminal: asked twice, without echo"
	: >"$T/tty.out"
	type_at "$T/tty.out" 'typed pass phrase' 'typed pass phrase' |
	    script -qec "'$COFFER' create -o keyformat=passphrase -o pbkdf=pbkdf2 $P/tty" \
	    /dev/null >"$T/tty.out" 2>&1 ||
		{ cat "$T/tty.out" >&2; fail "create on a terminal failed"; }
	tr -d '\r' <"$T/tty.out" >"$T/tty.txt"
	contains "$(cat "$T/tty.txt")" "Enter passphrase for '$P/tty':"
	contains "$(cat "$T/tty.txt")" "Re-enter passphrase for '$P/tty':"
	lacks "$(cat "$T/tty.txt")" "typed pass phrase"
	expect "$(val keystatus "$P/tty")" available
	ok coffer unload-key "$P/tty"
	: >"$T/tty.out"
	type_at "$T/tty.out" 'typed pass phrase' |
	    script -qec "'$COFFER' load-key $P/tty" /dev/null \
	    >"$T/tty.out" 2>&1 ||
		{ cat "$T/tty.out" >&2; fail "load-key on a terminal failed"; }
	expect "$(val keystatus "$P/tty")" available
	: >"$T/tty.out"
	type_at "$T/tty.out" 'first pass phrase' 'other pass phrase' |
	    script -qec "'$COFFER' change-key $P/tty" /dev/null \
	    >"$T/tty.out" 2>&1 &&
		fail "change-key with two different passphrases succeeded"
	contains "$(tr -d '\r' <"$T/tty.out")" \
	    "coffer: cannot change key for '$P/tty': passphrases do not match"
	contains "$(tr -d '\r' <"$T/tty.out")" \
	    "Enter new passphrase for '$P/tty':"
	(sleep 1; printf 'typed pass phrase\n'; sleep 1) |
	    script -qec "'$COFFER' create -o keyformat=raw $P/ttyraw" \
	    /dev/null >"$T/tty.out" 2>&1 &&
		fail "a raw key was read from the terminal"
	contains "$(tr -d '\r' <"$T/tty.out")" "a raw key cannot be typed"
fi
