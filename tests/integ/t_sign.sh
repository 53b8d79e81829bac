# signed streams (RFD 14): the keyring commands, send -s in both modes,
# receive -s / -k / receive_policy, and every attack of docs/STREAM.md §5
# through `coffer receive`, each refused with the record and byte offset
# and the target left as it was.  Damaged streams are made with
# stream_tool (tests/unit/send), which fixes up the checksums so that the
# damage reaches the signatures.
# shellcheck source=tests/integ/lib.sh
. "$(dirname "$0")/lib.sh"

TOOL=${BUILD:-$(dirname "$COFFER")}/tests/unit/send/stream_tool
[ -x "$TOOL" ] || fail "no stream_tool at $TOOL (set BUILD)"

# The receiver's keyring is separate from the sender's ($COFFER_HOME/keys).
RKR=$T/receiver-keys
recv() {
	COFFER_KEYRING=$RKR "$COFFER" receive "$@"
}

step "key generate, list, export, trust, remove"
okout coffer key generate alice
contains "$OUT" "alice	ed25519	SHA256:"
printf 'a passphrase for bob\n' >"$T/bob.pass"
okout coffer key generate --alg ecdsa-p256 -L "file://$T/bob.pass" bob
contains "$OUT" "bob	ecdsa-p256	SHA256:"
ok coffer key generate --alg ecdsa-p384 carol
okout coffer key list -H
expect "$(printf '%s\n' "$OUT" | cut -f1,2,4,5 | tr '\t\n' ' ;')" \
	"alice ed25519 private no;bob ecdsa-p256 private yes;carol ecdsa-p384 private no;"
alicefp=$(printf '%s\n' "$OUT" | sed -n 's/^alice	[^	]*	\([^	]*\)	.*/\1/p')
carolfp=$(printf '%s\n' "$OUT" | sed -n 's/^carol	[^	]*	\([^	]*\)	.*/\1/p')
[ -n "$alicefp" ] || fail "no fingerprint for alice"
stat -c %a "$COFFER_HOME/keys" | grep -qx 700 || fail "keyring not 0700"
stat -c %a "$COFFER_HOME/keys/alice.key" | grep -qx 600 ||
	fail "private key not 0600"
okout coffer key export alice
case $OUT in
"coffer-ed25519 "*" alice") ;;
*) fail "export: $OUT" ;;
esac
lacks "$OUT" "PRIVATE"
coffer key export alice >"$T/alice.pub" || fail "export"
coffer key export bob >"$T/bob.pub" || fail "export"
COFFER_KEYRING=$RKR "$COFFER" key trust "$T/alice.pub" >"$T/o" ||
	fail "trust alice"
contains "$(cat "$T/o")" "$alicefp"
COFFER_KEYRING=$RKR "$COFFER" key trust -n bob-p256 - <"$T/bob.pub" \
    >/dev/null || fail "trust bob from stdin"
fails 1 "already" env COFFER_KEYRING="$RKR" "$COFFER" key trust "$T/alice.pub"
okout env COFFER_KEYRING="$RKR" "$COFFER" key list -H
expect "$(printf '%s\n' "$OUT" | cut -f1,4 | tr '\t\n' ' ;')" \
	"alice trusted;bob-p256 trusted;"
fails 2 "unknown algorithm" coffer key generate --alg rsa dave
fails 2 "missing key name" coffer key generate
fails 1 "no key 'nobody'" coffer key export nobody
printf 'coffer-ed25519 AAAA x\n' >"$T/junk.pub"
fails 1 "public key" coffer key trust "$T/junk.pub"
ok coffer key generate temp
ok coffer key remove temp
fails 1 "no key 'temp'" coffer key remove temp
[ ! -e "$COFFER_HOME/keys/temp.key" ] || fail "temp.key left behind"

step "loose permissions are refused"
chmod 770 "$COFFER_HOME/keys"
fails 1 "writable by group or others" coffer key list
chmod 700 "$COFFER_HOME/keys"
chmod 644 "$COFFER_HOME/keys/alice.key"
fails 1 "chmod 600" coffer key export alice
chmod 600 "$COFFER_HOME/keys/alice.key"

step "signed full and incremental streams, chain and record modes"
mkpool src 384M
mkpool dst 384M
ok coffer create src/fs
printf 'one\n' >"$T/a"
ok coffer put "$T/a" src/fs:/a
ok coffer snapshot src/fs@s1
ok coffer send -s alice src/fs@s1 >"$T/full.stream"
"$TOOL" list "$T/full.stream" >"$T/list" || fail "list"
head -n 1 "$T/list" | grep -q "^0 0 BEGIN 1$" || fail "BEGIN not signed"
tail -n 1 "$T/list" | grep -q " END 1$" || fail "END not signed"
ok recv -s dst/fs <"$T/full.stream"
okout coffer cat dst/fs:/a
expect "$OUT" "one"
# 40 MiB of new data: ~320 WRITE records, checkpoints every 16 MiB
head -c 41943040 /dev/urandom >"$T/big"
ok coffer put "$T/big" src/fs:/big
printf 'two\n' >"$T/a"
ok coffer put "$T/a" src/fs:/a
ok coffer snapshot src/fs@s2
ok coffer send -s default -i @s1 src/fs@s2 >"$T/inc.stream"
"$TOOL" list "$T/inc.stream" >"$T/list" || fail "list"
nsig=$(awk '$4 != 0' "$T/list" | wc -l)
[ "$nsig" -ge 4 ] || fail "only $nsig signatures in a 40 MiB chain stream"
ok coffer send --sign-mode record -s bob --key-location "file://$T/bob.pass" \
	-i @s1 src/fs@s2 >"$T/rec.stream"
"$TOOL" list "$T/rec.stream" >"$T/rlist" || fail "list"
awk '$4 != 2 { exit 1 }' "$T/rlist" || fail "record mode: unsigned record"
okout coffer get -H -p -o value used dst/fs
used=$OUT

# Each attack: refused with the words given and "at byte", target as was.
unchanged() {
	okout coffer list -H -o name -t snapshot dst/fs
	expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" "dst/fs@s1 "
	okout coffer get -H -p -o value used dst/fs
	expect "$OUT" "$used"
	okout coffer cat dst/fs:/a
	expect "$OUT" "one"
	okout coffer list -H -o name -r dst
	lacks "$OUT" "%"
}
attack() {
	what=$1
	text=$2
	shift 2
	cp "$T/inc.stream" "$T/x.stream"
	"$@" || fail "$what: stream_tool failed"
	fails 1 "$text" recv -s dst/fs <"$T/x.stream"
	grep -q "at byte" "$T/.err" || grep -q "truncated at byte" "$T/.err" ||
		{ cat "$T/.err" >&2; fail "$what: no byte offset"; }
	unchanged
}
write_rec=$(awk '$3 == "WRITE" { print $1; exit }' "$T/list")
write_off=$(awk '$3 == "WRITE" { print $2; exit }' "$T/list")
obj_off=$(awk '$3 == "OBJECT" { print $2; exit }' "$T/list")
cp_rec=$(awk '$1 > 0 && $3 != "END" && $4 != 0 { print $1; exit }' "$T/list")
last=$(($(wc -l <"$T/list") - 1))
[ -n "$write_rec" ] && [ -n "$cp_rec" ] || fail "no WRITE or checkpoint"

step "attacks on a signed incremental are refused, the target unchanged"
attack "payload byte" "does not verify" \
	"$TOOL" flip "$T/x.stream" $((write_off + 512 + 1000))
attack "header byte" "at byte" "$TOOL" flip "$T/x.stream" $((obj_off + 48))
attack "BEGIN header" "record 0 (BEGIN) at byte 0: signature by key 'alice'" \
	"$TOOL" flip "$T/x.stream" 80
attack "BEGIN payload" "record 0 (BEGIN) at byte 0" \
	"$TOOL" replace "$T/x.stream" "src/fs@s2" "src/fs@s9"
attack "reordered" "at byte" "$TOOL" swap "$T/x.stream" "$write_rec" \
	$((write_rec + 1))
attack "dropped" "does not verify" "$TOOL" drop "$T/x.stream" \
	$((write_rec + 2))
attack "duplicated" "at byte" "$TOOL" dup "$T/x.stream" "$write_rec"
# late in the stream: the runs before it verified and were applied while
# the receiver read ahead; the receive still fails whole
late_off=$(awk '$1 > 0 && $4 != 0 { n++ } n >= 2 && $3 == "WRITE" { print $2;
	exit }' "$T/list")
[ -n "$late_off" ] || fail "no WRITE after the second checkpoint"
attack "payload byte after two checkpoints" "does not verify" \
	"$TOOL" flip "$T/x.stream" $((late_off + 512 + 4000))
trunc() {
	head -c "$1" "$T/inc.stream" >"$T/x.stream"
}
attack "truncated after two checkpoints" "truncated" trunc $((late_off + 9000))
attack "truncated" "truncated" trunc 3000000
attack "cut before the last checkpoint" "record $((cp_rec + 5)) (END)" \
	"$TOOL" cut "$T/x.stream" $((cp_rec + 5))
ok coffer send -s alice src/fs@s2 >"$T/other.stream"
attack "spliced" "at byte" "$TOOL" splice "$T/x.stream" "$T/other.stream" 1
attack "slot zeroed" "signature missing" \
	"$TOOL" zeroslot "$T/x.stream" "$cp_rec"
attack "END slot zeroed" "signature missing" \
	"$TOOL" zeroslot "$T/x.stream" "$last"
attack "curve changed" "unsupported signature algorithm" \
	"$TOOL" replace "$T/x.stream" curve25519 curve25518
attack "key fingerprint algorithm changed" "unsupported key fingerprint" \
	"$TOOL" replace "$T/x.stream" "sha256" "sha255"
cp "$T/rec.stream" "$T/x.stream"
"$TOOL" replace "$T/x.stream" nistp256 nistp384 || fail "replace"
fails 1 "but key 'bob-p256'" recv -s dst/fs <"$T/x.stream"
unchanged
cp "$T/rec.stream" "$T/x.stream"
rwrite=$(awk '$3 == "WRITE" { print $1 " (WRITE) at byte " $2; exit }' \
	"$T/rlist")
rwrite_off=$(awk '$3 == "WRITE" { print $2; exit }' "$T/rlist")
"$TOOL" flip "$T/x.stream" $((rwrite_off + 512 + 7)) || fail "flip"
fails 1 "record $rwrite: signature by key 'bob-p256'" \
	recv -s dst/fs <"$T/x.stream"
unchanged

step "the genuine stream is accepted; replays are refused"
recv -s -v dst/fs <"$T/inc.stream" 2>"$T/v.err" || { cat "$T/v.err" >&2
	fail "receive -s -v of the genuine stream"; }
grep -q "received into 'dst/fs' in .* s: signed by key 'alice' (SHA256:" \
	"$T/v.err" || { cat "$T/v.err" >&2; fail "receive -v: no report"; }
grep -q "chain mode, $nsig signatures verified" "$T/v.err" ||
	{ cat "$T/v.err" >&2; fail "receive -v: not $nsig signatures"; }
okout coffer cat dst/fs:/a
expect "$OUT" "two"
coffer cat dst/fs:/big | cmp -s - "$T/big" || fail "big differs"
fails 1 "already has the stream's snapshot" recv -s -F dst/fs <"$T/inc.stream"
fails 1 "a full stream needs a new dataset" recv -s -F dst/fs <"$T/full.stream"
ok recv -s dst/other <"$T/full.stream"
ok coffer snapshot src/fs@s3
ok coffer send -s alice -i @s2 src/fs@s3 >"$T/inc3.stream"
fails 1 "base snapshot is not the latest" recv -s dst/other <"$T/inc3.stream"
fails 1 "already has the stream's snapshot" recv -s dst/fs <"$T/rec.stream"
ok recv -s dst/fs <"$T/inc3.stream"

step "unsigned streams and unknown keys: -s, -k, receive_policy"
ok coffer send src/fs@s1 >"$T/plain.stream"
ok coffer send -s carol src/fs@s1 >"$T/carol.stream"
fails 1 "the stream is not signed" recv -s dst/p1 <"$T/plain.stream"
fails 1 "not trusted" recv dst/p1 <"$T/carol.stream"
fails 1 "not trusted" recv -s dst/p1 <"$T/carol.stream"
okout recv -k dst/p1 <"$T/carol.stream"
contains "$(cat "$T/.err")" "warning: the stream is signed by key $carolfp"
okout recv -s -k dst/p2 <"$T/plain.stream"
contains "$(cat "$T/.err")" "warning: the stream is not signed"
ok recv dst/p3 <"$T/plain.stream"
okout coffer get -H -o value receive_policy dst
expect "$OUT" "any"
ok coffer set receive_policy=signed dst
okout coffer get -H -o value,source receive_policy dst/p3
expect "$OUT" "signed	inherited from dst"
fails 1 "the stream is not signed" recv dst/p4 <"$T/plain.stream"
ok recv dst/p4 <"$T/full.stream"
ok recv -k dst/p5 <"$T/plain.stream"
fails 2 "" coffer send -s alice --sign-mode every src/fs@s1
fails 1 "no key 'nobody'" coffer send -s nobody src/fs@s1
okout coffer send -s none src/fs@s1

step "signed raw streams of an encrypted dataset, received without its key"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/hexkey"
ok coffer create -o encryption=on -o keyformat=hex \
	-o keylocation="file://$T/hexkey" src/enc
printf 'secret\n' >"$T/s"
ok coffer put "$T/s" src/enc:/s
ok coffer snapshot src/enc@e1
ok coffer send -w -s alice src/enc@e1 >"$T/raw.stream"
ok recv -s dst/enc <"$T/raw.stream"
okout coffer get -H -o value keystatus dst/enc
expect "$OUT" "unavailable"
ok coffer load-key -L "file://$T/hexkey" dst/enc
okout coffer cat dst/enc:/s
expect "$OUT" "secret"
"$TOOL" list "$T/raw.stream" >"$T/wlist" || fail "list"
woff=$(awk '$3 == "WRITE" { print $2; exit }' "$T/wlist")
cp "$T/raw.stream" "$T/x.stream"
"$TOOL" flip "$T/x.stream" $((woff + 512 + 3)) || fail "flip"
fails 1 "does not verify" recv -s dst/enc2 <"$T/x.stream"
fails 1 "no such dataset" coffer list dst/enc2

step "a signed stream cut short resumes, signed again, to the same data"
ok coffer snapshot src/fs@s4
ok coffer send -s alice src/fs@s4 >"$T/s4.stream"
size=$(wc -c <"$T/s4.stream")
head -c $((size / 2)) "$T/s4.stream" >"$T/cut"
fails 1 "the partial receive is kept" recv -s --resumable dst/res <"$T/cut"
okout coffer get -H -o value receive_resume_token dst/res
tok=$OUT
case $tok in 1-*) ;; *) fail "no token: $tok" ;; esac
# the resumed stream must be signed too under -s
coffer send -t "$tok" >"$T/rest.plain" || fail "send -t"
fails 1 "not signed" recv -s dst/res <"$T/rest.plain"
ok coffer send -t "$tok" -s alice >"$T/rest.signed"
ok recv -s dst/res <"$T/rest.signed"
coffer cat dst/res:/big | cmp -s - "$T/big" || fail "resumed data differ"

step "signed multi-snapshot streams (-I, -R): one chain over every segment"
ok coffer create src/m
printf 'm0\n' >"$T/m"
ok coffer put "$T/m" src/m:/m
ok coffer snapshot src/m@m0
for i in 1 2 3; do
	printf 'm%s\n' $i >"$T/m"
	ok coffer put "$T/m" src/m:/m
	ok coffer snapshot "src/m@m$i"
done
ok coffer send -s alice src/m@m0 >"$T/m0.stream"
ok recv -s dst/m <"$T/m0.stream"
ok coffer send -s alice -I @m0 src/m@m3 >"$T/mI.stream"
"$TOOL" list "$T/mI.stream" >"$T/mlist" || fail "list"
grep -q " SNAPSHOT " "$T/mlist" || fail "no SNAPSHOT records in -I"
# a damaged last segment: nothing of it is received; with the default
# schedule the whole stream is one chain signed at BEGIN and END, so
# nothing after BEGIN is received at all
cp "$T/mI.stream" "$T/x.stream"
moff=$(awk '$3 == "SNAPSHOT" { s = 1 } s && $3 == "WRITE" { o = $2 }
	END { print o }' "$T/mlist")
[ -n "$moff" ] || fail "no WRITE in the last segment"
"$TOOL" flip "$T/x.stream" $((moff + 512 + 20)) || fail "flip"
fails 1 "does not verify" recv -s dst/m <"$T/x.stream"
okout coffer list -H -o name -t snapshot dst/m
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" "dst/m@m0 "
ok recv -s dst/m <"$T/mI.stream"
okout coffer list -H -o name -t snapshot dst/m
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" "dst/m@m0 dst/m@m1 dst/m@m2 dst/m@m3 "
okout coffer cat dst/m:/m
expect "$OUT" "m3"
ok coffer send -s alice --sign-mode record -R src/m@m3 >"$T/mR.stream"
ok recv -s dst/mr <"$T/mR.stream"
okout coffer cat dst/mr@m1:/m
expect "$OUT" "m1"
