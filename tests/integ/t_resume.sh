# Resumable receive (receive --resumable, get receive_resume_token,
# send -t, receive -A): streams cut at several points and a receiver
# killed mid-stream resume to identical files; the target is untouched
# until END; forged tokens, other pools' tokens and stale tokens are
# refused by the receiver; -A gives the space back.
# shellcheck source=tests/integ/lib.sh
. "$(dirname "$0")/lib.sh"

alloc() {
	okout coffer pool list -Hp "$1"
	printf '%s\n' "$OUT" | cut -f3
}

token() {
	okout coffer get -H -o value receive_resume_token "$1"
	TOKEN=$OUT
	case $TOKEN in
	1-*) ;;
	*) fail "no resume token for $1: $TOKEN" ;;
	esac
}

step "a full stream cut twice, resumed twice"
mkpool src
mkpool dst
ok coffer create src/fs
mkdir -p "$T/tree/sub"
head -c 3000000 /dev/urandom >"$T/tree/big"
i=0
while [ $i -lt 8 ]; do
	head -c 150000 /dev/urandom >"$T/tree/sub/f$i"
	i=$((i + 1))
done
printf 'small\n' >"$T/tree/a"
ok coffer put -r "$T/tree" src/fs:/t
ok coffer snapshot src/fs@s1
ok coffer send src/fs@s1 >"$T/full.stream"
size=$(wc -c <"$T/full.stream")
used0=$(alloc dst)
head -c $((size * 3 / 10)) "$T/full.stream" >"$T/cut1"
fails 1 "the partial receive is kept" coffer receive --resumable dst/copy \
	<"$T/cut1"
fails 1 "no such dataset" coffer list dst/copy
token dst/copy
tok1=$TOKEN
# a new receive is refused while the partial one waits
fails 1 "interrupted receive" coffer receive dst/copy <"$T/full.stream"
ok coffer send -t "$tok1" >"$T/rest1"
rsize=$(wc -c <"$T/rest1")
[ "$rsize" -lt "$size" ] || fail "the resumed stream is not shorter"
head -c $((rsize / 2)) "$T/rest1" >"$T/cut2"
fails 1 "partial receive is kept" coffer receive dst/copy <"$T/cut2"
token dst/copy
tok2=$TOKEN
[ "$tok1" != "$tok2" ] || fail "the token did not move on"
# the old token is stale now
coffer send -t "$tok1" >"$T/stale"
fails 1 "stale" coffer receive dst/copy <"$T/stale"
coffer send -t "$tok2" | coffer receive dst/copy ||
	fail "resumed receive through a pipe"
ok coffer get -r dst/copy:/t "$T/out"
diff -r "$T/tree" "$T/out" >/dev/null || fail "received tree differs"
okout coffer get -H -o value receive_resume_token dst/copy
expect "$OUT" "-"
okout coffer get -H -o value guid src/fs@s1
g=$OUT
okout coffer get -H -o value guid dst/copy@s1
expect "$OUT" "$g"

step "cut in END's header and in BEGIN"
head -c $((size - 1)) "$T/full.stream" >"$T/cut3"
fails 1 "partial receive is kept" coffer receive --resumable dst/c3 \
	<"$T/cut3"
token dst/c3
coffer send -t "$TOKEN" | coffer receive dst/c3 || fail "resume at END"
ok coffer get -r dst/c3:/t "$T/out3"
diff -r "$T/tree" "$T/out3" >/dev/null || fail "c3 differs"
head -c 300 "$T/full.stream" >"$T/cut4"
fails 1 "truncated" coffer receive --resumable dst/c4 <"$T/cut4"
fails 1 "" coffer get receive_resume_token dst/c4

step "a damaged stream is discarded, not kept"
cp "$T/full.stream" "$T/bad"
printf 'X' | dd of="$T/bad" bs=1 seek=$((size / 2)) conv=notrunc \
	2>/dev/null
fails 1 "checksum" coffer receive --resumable dst/c5 <"$T/bad"
fails 1 "" coffer get receive_resume_token dst/c5
ok coffer receive dst/c5 <"$T/full.stream"

step "an incremental: the target is unchanged until END"
printf 'changed\n' >"$T/tree/a"
head -c 1000000 /dev/urandom >"$T/tree/big2"
rm "$T/tree/sub/f3"
ok coffer rm -r src/fs:/t
ok coffer put -r "$T/tree" src/fs:/t
ok coffer snapshot src/fs@s2
ok coffer send -i @s1 src/fs@s2 >"$T/inc.stream"
isize=$(wc -c <"$T/inc.stream")
head -c $((isize / 2)) "$T/inc.stream" >"$T/icut"
fails 1 "partial receive is kept" coffer receive --resumable dst/copy \
	<"$T/icut"
okout coffer cat dst/copy:/t/a
expect "$OUT" "small"
okout coffer list -H -o name -t snapshot dst/copy
lacks "$OUT" "@s2"
token dst/copy
coffer send -t "$TOKEN" | coffer receive dst/copy ||
	fail "resumed incremental"
rm -rf "$T/out"
ok coffer get -r dst/copy:/t "$T/out"
diff -r "$T/tree" "$T/out" >/dev/null || fail "incremental differs"

step "forged tokens and other pools' tokens are refused by the receiver"
ok coffer snapshot src/fs@s3
ok coffer send -i @s2 src/fs@s3 >"$T/inc3"
ok coffer put "$T/tree/big" src/fs:/t/big3
ok coffer snapshot src/fs@s4
ok coffer send -i @s3 src/fs@s4 >"$T/inc4"
ok coffer receive dst/copy <"$T/inc3"
i4=$(wc -c <"$T/inc4")
head -c $((i4 / 2)) "$T/inc4" >"$T/i4cut"
fails 1 "kept" coffer receive --resumable dst/copy <"$T/i4cut"
token dst/copy
good=$TOKEN
# flip one character of the MAC (the last 43 characters)
n=${#good}
pos=$((n - 20))
c=$(printf '%s' "$good" | cut -c$pos)
if [ "$c" = A ]; then r=B; else r=A; fi
forged="$(printf '%s' "$good" | cut -c1-$((pos - 1)))$r$(printf '%s' "$good" |
	cut -c$((pos + 1))-)"
coffer send -t "$forged" >"$T/forged" || fail "send -t refused a token"
fails 1 "not authentic" coffer receive dst/copy <"$T/forged"
fails 1 "" coffer send -t "garbage"
# the same interrupted stream in another pool: its token is its own
mkpool dst2
ok coffer receive dst2/copy <"$T/full.stream"
ok coffer receive dst2/copy <"$T/inc.stream"
ok coffer receive dst2/copy <"$T/inc3"
fails 1 "kept" coffer receive --resumable dst2/copy <"$T/i4cut"
okout coffer get -H -o value receive_resume_token dst2/copy
other=$OUT
[ "$other" != "$good" ] || fail "two pools made the same token"
coffer send -t "$other" >"$T/other"
fails 1 "not authentic" coffer receive dst/copy <"$T/other"
# refusals kept the state: the good token still works
token dst/copy
expect "$TOKEN" "$good"
coffer send -t "$good" | coffer receive dst/copy || fail "after refusals"
okout coffer cat dst/copy:/t/a
expect "$OUT" "changed"

step "receive -A discards the partial receive and frees its space"
okout coffer get -Hp -o value used dst
dsused=$OUT
a0=$(alloc dst)
head -c $((size * 8 / 10)) "$T/full.stream" >"$T/cut8"
fails 1 "kept" coffer receive --resumable dst/gone <"$T/cut8"
a1=$(alloc dst)
[ "$a1" -gt "$a0" ] || fail "the partial receive holds no space"
ok coffer receive -A dst/gone
fails 1 "" coffer get receive_resume_token dst/gone
expect "$(alloc dst)" "$a0"
okout coffer get -Hp -o value used dst
expect "$OUT" "$dsused"
fails 1 "no interrupted receive" coffer receive -A dst/gone
fails 2 "-A takes no other option" coffer receive -A -F dst/gone
ok coffer receive dst/gone <"$T/full.stream"

step "a receiver killed mid-stream through a pipe resumes"
mkfifo "$T/fifo"
"$COFFER" receive --resumable dst/k <"$T/fifo" 2>/dev/null &
rpid=$!
exec 3>"$T/fifo"
head -c $((size * 6 / 10)) "$T/full.stream" >&3
# wait (bounded) until the receiver has drained the pipe and waits
tries=0
while [ $tries -lt 300 ]; do
	w=$(cat "/proc/$rpid/wchan" 2>/dev/null)
	case $w in
	pipe_read | pipe_wait) break ;;
	esac
	sleep 0.1
	tries=$((tries + 1))
done
kill -9 $rpid
wait $rpid 2>/dev/null
exec 3>&-
fails 1 "" coffer list dst/k
token dst/k
coffer send -t "$TOKEN" | coffer receive dst/k || fail "resume after kill"
rm -rf "$T/outk"
ok coffer get -r dst/k:/t "$T/outk"
diff -r "$T/out3" "$T/outk" >/dev/null || fail "killed receive differs"
okout coffer pool check dst

step "a raw stream of an encrypted dataset resumes raw, without the key"
printf 'correct horse battery\n' >"$T/pass"
ok coffer create -o encryption=on -o keyformat=passphrase -o pbkdf=pbkdf2 \
	src/sec <"$T/pass"
ok coffer put -r "$T/tree" src/sec:/t
ok coffer snapshot src/sec@r1
ok coffer unload-key src/sec
ok coffer send -w src/sec@r1 >"$T/raw.stream"
grep -q "changed" "$T/raw.stream" && fail "plaintext in the raw stream"
rs=$(wc -c <"$T/raw.stream")
head -c $((rs * 4 / 10)) "$T/raw.stream" >"$T/rawcut"
fails 1 "kept" coffer receive --resumable dst/sec <"$T/rawcut"
token dst/sec
coffer send -t "$TOKEN" >"$T/rawrest" || fail "send -t of a raw stream"
grep -q "changed" "$T/rawrest" && fail "plaintext in the resumed raw stream"
# the token decides: -w or -c are not for -t
fails 2 "-t takes no -w, -c, -R or -I" coffer send -w -t "$TOKEN"
ok coffer receive dst/sec <"$T/rawrest"
okout coffer get -H -o value keystatus dst/sec
expect "$OUT" "unavailable"
ok coffer load-key dst/sec <"$T/pass"
rm -rf "$T/outsec"
ok coffer get -r dst/sec:/t "$T/outsec"
diff -r "$T/tree" "$T/outsec" >/dev/null || fail "raw resumed tree differs"

step "a compressed stream resumes compressed"
ok coffer create -o compression=lz4 src/z
yes 'compressible line of text' | head -c 2000000 >"$T/z.txt"
ok coffer put "$T/z.txt" src/z:/z.txt
ok coffer snapshot src/z@c1
ok coffer send -c src/z@c1 >"$T/c.stream"
cs=$(wc -c <"$T/c.stream")
head -c $((cs / 2)) "$T/c.stream" >"$T/ccut"
fails 1 "kept" coffer receive --resumable dst/z <"$T/ccut"
token dst/z
coffer send -t "$TOKEN" | coffer receive dst/z || fail "compressed resume"
ok coffer get dst/z:/z.txt "$T/z.out"
same "$T/z.txt" "$T/z.out"
okout coffer pool check dst
