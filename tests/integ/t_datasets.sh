# Datasets and properties: nested create, list (-H -p -o -s -t -r), get,
# set and inherit with the SOURCE column, property effects on list
# output, volumes and byte ranges, destroy.
# shellcheck source=tests/integ/lib.sh
. "$(dirname "$0")/lib.sh"

mkpool tank

step "nested create"
ok coffer create tank/a
ok coffer create tank/a/b
fails 1 "cannot create 'tank/x/y'" coffer create tank/x/y
ok coffer create -p tank/x/y/z
ok coffer create -p tank/x/y/z
ok coffer create -p tank/x/y
fails 1 "cannot create 'tank/a'" coffer create tank/a
fails 1 "cannot create 'tank/bad!name'" coffer create 'tank/bad!name'
fails 1 "use 'coffer pool create'" coffer create tank2
fails 1 "cannot open 'nopool'" coffer create nopool/a
fails 2 "use 'coffer snapshot'" coffer create tank/a@s
fails 2 "missing dataset name" coffer create
fails 2 "too many arguments" coffer create tank/c tank/d
fails 2 "expected property=value" coffer create -o compression tank/c
fails 2 "unknown option '-q'" coffer create -q tank/c
okout coffer list -H -o name -r tank
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" \
	"tank tank/a tank/a/b tank/x tank/x/y tank/x/y/z "

step "list"
okout coffer list
expect "$(squeeze "$OUT" | head -n 1)" "NAME USED AVAIL REFER TYPE"
expect "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" 7
okout coffer list tank/a
expect "$(squeeze "$OUT" | sed -n 2p | cut -d' ' -f1,5)" "tank/a filesystem"
okout coffer list -H -o name,type tank/a
expect "$OUT" "$(printf 'tank/a\tfilesystem')"
okout coffer list -H -o name tank/a tank/x
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" "tank/a tank/x "
okout coffer list -H -o name -r tank/x
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" "tank/x tank/x/y tank/x/y/z "
okout coffer list -H -p -o name,used,available,referenced -r tank
printf '%s\n' "$OUT" | while IFS='	' read -r n u a r; do
	case $u$a$r in
	*[!0-9]*) fail "not exact numbers for $n: '$u' '$a' '$r'" ;;
	esac
done || exit 1
okout coffer list -H -o name -S name -r tank/x
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" "tank/x/y/z tank/x/y tank/x "
okout coffer list -H -o name -s name -r tank/x
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" "tank/x tank/x/y tank/x/y/z "
okout coffer list -H -p -o name,createtxg -s createtxg -r tank
expect "$(printf '%s\n' "$OUT" | cut -f1 | head -n 1)" tank
okout coffer list -o name,avail,refer,compress,recsize,rdonly tank
expect "$(squeeze "$OUT" | head -n 1)" \
	"NAME AVAIL REFER COMPRESS RECSIZE RDONLY"
okout coffer list -H -t volume
expect "$OUT" ""
fails 2 "bad property 'bogus'" coffer list -o name,bogus
fails 2 "bad sort column 'bogus'" coffer list -s bogus
fails 2 "bad type list 'bogus'" coffer list -t bogus
fails 2 "is a file, not a dataset" coffer list tank/a:/x
fails 1 "cannot open 'tank/nope'" coffer list tank/nope
fails 1 "cannot open 'nopool'" coffer list nopool

step "get, with the SOURCE column"
okout coffer get compression tank/a
expect "$(squeeze "$OUT" | head -n 1)" "NAME PROPERTY VALUE SOURCE"
expect "$(squeeze "$OUT" | sed -n 2p)" "tank/a compression on default"
okout coffer get -H compression tank/a
expect "$OUT" "$(printf 'tank/a\tcompression\ton\tdefault')"
okout coffer get -H -o value type tank/a
expect "$OUT" filesystem
okout coffer get -H -o property,source used tank/a
expect "$OUT" "$(printf 'used\t-')"
okout coffer get -H -o name,value compression,recordsize tank/a tank/x
expect "$(printf '%s\n' "$OUT" | tr '\n' '|')" \
	"$(printf 'tank/a\ton|tank/a\t128K|tank/x\ton|tank/x\t128K|')"
okout coffer get -H -p -o value recordsize tank/a
expect "$OUT" 131072
okout coffer get -H -o value -r compression tank/x
expect "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" 3
okout coffer get -H -o property all tank/a
for p in type creation used available referenced compression checksum \
    recordsize copies readonly; do
	printf '%s\n' "$OUT" | grep -qx "$p" || fail "get all lacks $p"
done
printf '%s\n' "$OUT" | grep -qx volsize && fail "get all shows volsize"
okout coffer get -H -p -o value creation tank/a
now=$(date +%s)
[ "$OUT" -le "$now" ] && [ "$OUT" -gt $((now - 86400)) ] ||
	fail "creation $OUT is not within the last day"
okout coffer get -H -o value,source volsize tank/a
expect "$OUT" "$(printf -- '-\t-')"
fails 2 "bad property 'bogus'" coffer get bogus tank/a
fails 2 "bad field list" coffer get -o name,bogus compression tank/a
fails 2 "missing property name" coffer get
fails 1 "cannot open 'tank/nope'" coffer get compression tank/nope

step "set and inherit"
ok coffer set compression=zstd tank/a
okout coffer get -H -o value,source compression tank/a
expect "$OUT" "$(printf 'zstd\tlocal')"
okout coffer get -H -o value,source compression tank/a/b
expect "$OUT" "$(printf 'zstd\tinherited from tank/a')"
okout coffer get compression tank/a/b
contains "$OUT" "inherited from tank/a"
ok coffer set compression=ZSTD-3 tank/a/b
okout coffer get -H -o value,source compression tank/a/b
expect "$OUT" "$(printf 'zstd-3\tlocal')"
ok coffer inherit compression tank/a/b
okout coffer get -H -o value,source compression tank/a/b
expect "$OUT" "$(printf 'zstd\tinherited from tank/a')"
ok coffer set compression=lz4 recordsize=64K tank/x tank/a
okout coffer get -H -o name,value,source compression,recordsize tank/x \
	tank/a
expect "$(printf '%s\n' "$OUT" | tr '\n' '|')" \
	"$(printf 'tank/x\tlz4\tlocal|tank/x\t64K\tlocal|tank/a\tlz4\tlocal|tank/a\t64K\tlocal|')"
ok coffer inherit -r recordsize tank/x
okout coffer get -H -o value,source recordsize tank/x/y/z
expect "$OUT" "$(printf '128K\tdefault')"
ok coffer set recordsize=16K tank/x
okout coffer get -H -p -o value recordsize tank/x/y
expect "$OUT" 16384
okout coffer list -H -o name,recsize,compress -r tank/x
expect "$(printf '%s\n' "$OUT" | tr '\n' '|')" \
	"$(printf 'tank/x\t16K\tlz4|tank/x/y\t16K\tlz4|tank/x/y/z\t16K\tlz4|')"
okout coffer list -H -p -o recordsize tank/x
expect "$OUT" 16384
ok coffer set copies=2 tank/a
okout coffer get -H -o value copies tank/a/b
expect "$OUT" 2
ok coffer set checksum=sha256 tank/a
okout coffer get -H -o value checksum tank/a/b
expect "$OUT" sha256
fails 1 "cannot set 'recordsize' of 'tank/a' to '3000'" \
	coffer set recordsize=3000 tank/a
okout coffer get -H -o value recordsize tank/a
expect "$OUT" 64K
fails 1 "cannot set 'compression' of 'tank/a' to 'gzip'" \
	coffer set compression=gzip tank/a
fails 1 "cannot set 'copies' of 'tank/a' to '4'" coffer set copies=4 tank/a
fails 1 "cannot set 'used'" coffer set used=1 tank/a
fails 2 "bad property 'nonsense'" coffer set nonsense=1 tank/a
fails 1 "cannot set 'compression' of 'tank/nope'" coffer set compression=off tank/nope
# one failure does not stop the rest
fails 1 "cannot set 'copies' of 'tank/a' to '9'" \
	coffer set copies=9 checksum=fletcher4 tank/a
okout coffer get -H -o value checksum tank/a
expect "$OUT" fletcher4
fails 2 "missing dataset name" coffer set compression=off
fails 2 "missing property=value" coffer set
fails 2 "expected property=value" coffer set tank/a
fails 2 "must come before the datasets" coffer set compression=off tank/a \
	copies=2
fails 2 "bad assignment" coffer set =off tank/a
fails 2 "missing dataset name" coffer inherit compression
fails 2 "bad property 'bogus'" coffer inherit bogus tank/a
fails 1 "cannot inherit 'used' for 'tank/a'" coffer inherit used tank/a

step "readonly"
ok coffer create -o readonly=on tank/ro
okout coffer get -H -o value,source readonly tank/ro
expect "$OUT" "$(printf 'on\tlocal')"
printf 'x\n' >"$T/x"
fails 1 "tank/ro" coffer put "$T/x" tank/ro:/x
ok coffer set readonly=off tank/ro
ok coffer put "$T/x" tank/ro:/x

step "volumes"
ok coffer create -V 4M tank/vol
okout coffer list -H -o name,type,volsize tank/vol
expect "$OUT" "$(printf 'tank/vol\tvolume\t4M')"
okout coffer get -H -p -o value volsize,volblocksize tank/vol
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" "4194304 16384 "
okout coffer get -H -o value recordsize tank/vol
expect "$OUT" "-"
ok coffer create -V 2M -o volblocksize=4K tank/vol2
okout coffer get -H -o value,source volblocksize tank/vol2
expect "$OUT" "$(printf '4K\tlocal')"
fails 1 "cannot set 'volblocksize'" coffer set volblocksize=8K tank/vol2
fails 1 "cannot create 'tank/vol3'" coffer create -V 1M \
	-o volblocksize=3K tank/vol3
fails 2 "bad size 'big'" coffer create -V big tank/vol3
fails 2 "bad size '0'" coffer create -V 0 tank/vol3
okout coffer list -H -o name -t volume
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" "tank/vol tank/vol2 "
okout coffer list -H -o name -t filesystem,volume tank/vol
expect "$OUT" tank/vol

step "volume byte ranges"
head -c 10000 /dev/urandom >"$T/r1"
ok coffer write tank/vol --offset 8K <"$T/r1"
ok coffer read tank/vol --offset 8K --length 10000 >"$T/o1"
same "$T/r1" "$T/o1"
ok coffer read tank/vol >"$T/whole"
expect "$(wc -c <"$T/whole" | tr -d ' ')" 4194304
head -c 8192 /dev/zero >"$T/z8k"
head -c 8192 "$T/whole" >"$T/w8k"
same "$T/z8k" "$T/w8k"
dd if="$T/whole" of="$T/mid" bs=8192 skip=1 count=2 2>/dev/null
head -c 10000 "$T/mid" >"$T/mida"
same "$T/r1" "$T/mida"
printf 'ABCDEFGH' | coffer write tank/vol || fail "write from a pipe failed"
okout coffer read tank/vol --offset 2 --length 3
expect "$OUT" CDE
okout coffer read tank/vol --offset 4M
expect "$OUT" ""
ok coffer read tank/vol --offset 4194300 --length 4 >"$T/tail4"
expect "$(wc -c <"$T/tail4" | tr -d ' ')" 4
printf 'ZZ' | coffer write tank/vol --offset 4194302 ||
	fail "write of the last 2 bytes failed"
okout coffer read tank/vol --offset 4194302
expect "$OUT" ZZ
fails 1 "past the end" coffer read tank/vol --offset 5M
fails 1 "past the end" coffer read tank/vol --offset 4M --length 1
fails 1 "do not fit" coffer write tank/vol --offset 4194300 <"$T/r1"
ok coffer read tank/vol --offset 4194300 --length 2 >"$T/tail2"
expect "$(od -An -c "$T/tail2" | tr -d ' ')" '\0\0'
# from a pipe the size is known only at the end: the command fails
head -c 3000000 /dev/zero >"$T/big"
# shellcheck disable=SC2002 # a pipe, on purpose
cat "$T/big" | coffer write tank/vol2 >"$T/.out" 2>"$T/.err" &&
	fail "writing 3000000 bytes from a pipe into a 2M volume succeeded"
grep -q "past the end" "$T/.err" || fail "no message: $(cat "$T/.err")"
fails 1 "not a volume" coffer write tank/a </dev/null
fails 1 "not a volume" coffer read tank/a
fails 1 "cannot open 'tank/nope'" coffer read tank/nope
fails 2 "bad offset 'x'" coffer write tank/vol --offset x </dev/null
fails 2 "bad length '-1'" coffer read tank/vol --length -1
fails 2 "unknown option '--length'" coffer write tank/vol --length 1 \
	</dev/null
fails 2 "missing volume name" coffer read
fails 2 "volumes are named without" coffer read tank/vol:/x

step "destroy"
fails 1 "cannot destroy 'tank/a' without -r" coffer destroy tank/a
ok coffer destroy tank/a/b
ok coffer destroy -r tank/x
okout coffer list -H -o name -r tank
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" \
	"tank tank/a tank/ro tank/vol tank/vol2 "
ok coffer destroy tank/vol2
fails 1 "operation does not apply to pools" coffer destroy tank
fails 1 "cannot destroy 'tank/nope'" coffer destroy tank/nope
fails 2 "missing dataset or snapshot name" coffer destroy
fails 2 "too many arguments" coffer destroy tank/a tank/vol

step "properties survive export and import"
ok coffer pool export tank
ok coffer pool import -d "$T" tank
okout coffer get -H -o value,source compression,checksum tank/a
expect "$(printf '%s\n' "$OUT" | tr '\n' '|')" \
	"$(printf 'lz4\tlocal|fletcher4\tlocal|')"
okout coffer read tank/vol --offset 2 --length 3
expect "$OUT" CDE

step "logicalused and compressratio follow what is stored"
ok coffer create -o compression=lz4 tank/cr
yes "coffer keeps it small" | head -c 4000000 >"$T/text"
ok coffer put "$T/text" tank/cr:/text
okout coffer get -H -p -o value used,logicalused,compressratio tank/cr
set -- $OUT
[ "$2" -gt 4000000 ] || fail "logicalused $2 after 4 MB of text"
[ "$1" -lt 1000000 ] || fail "used $1 after 4 MB of compressible text"
awk -v r="$3" 'BEGIN { exit !(r > 4) }' || fail "compressratio $3, want > 4"
ok coffer snapshot tank/cr@s
ok coffer rm tank/cr:/text
okout coffer get -H -p -o value logicalused,compressratio tank/cr@s
set -- $OUT
[ "$1" -gt 4000000 ] || fail "the snapshot holds the text: logicalused $1"
awk -v r="$2" 'BEGIN { exit !(r > 4) }' || fail "snapshot ratio $2"
ok coffer destroy -r tank/cr
