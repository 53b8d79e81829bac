# Pools: create, list, status, scrub, export, import, destroy, and the
# ways each can be refused.
# shellcheck source=tests/integ/lib.sh
. "$(dirname "$0")/lib.sh"

step "create a pool on a new file"
ok coffer pool create tank "$T/d1.img" --size 256M
[ -f "$T/d1.img" ] || fail "device file $T/d1.img was not created"
okout coffer pool list -H
expect "$(printf '%s\n' "$OUT" | cut -f1)" tank
expect "$(printf '%s\n' "$OUT" | cut -f6)" ONLINE
okout coffer pool list -H -p
size=$(printf '%s\n' "$OUT" | cut -f2)
alloc=$(printf '%s\n' "$OUT" | cut -f3)
free=$(printf '%s\n' "$OUT" | cut -f4)
[ "$size" -gt 0 ] && [ "$size" -le 268435456 ] ||
	fail "pool size $size not in (0, 256M]"
[ "$alloc" -ge 0 ] && [ "$free" -gt 0 ] || fail "bad alloc/free: $OUT"
okout coffer pool list
contains "$(squeeze "$OUT")" "NAME SIZE ALLOC FREE CAP HEALTH"
contains "$OUT" tank
okout coffer list -H -o name
expect "$OUT" tank
okout coffer list -H -o name,type tank
expect "$OUT" "$(printf 'tank\tfilesystem')"

step "status of a healthy pool"
okout coffer pool status tank
contains "$OUT" "pool: tank"
contains "$OUT" "state: ONLINE"
contains "$OUT" "$T/d1.img"
contains "$OUT" "none requested"
contains "$OUT" "errors: No known data errors"
okout coffer pool status
contains "$OUT" "pool: tank"
okout coffer pool status -H tank
contains "$OUT" "$(printf 'tank\tstate\tONLINE')"
contains "$OUT" "$(printf 'tank\tdevice\t%s\tONLINE\t0\t0\t0' "$T/d1.img")"
lacks "$OUT" "$(printf '\terror\t')"
fails 1 "cannot open 'nosuch'" coffer pool status nosuch

step "scrub"
ok coffer create tank/fs
printf 'some data\n' >"$T/data"
ok coffer put "$T/data" tank/fs:/data
okout coffer pool scrub tank
contains "$OUT" "scrub of 'tank' finished"
contains "$OUT" "0 unrecoverable"
okout coffer pool status tank
contains "$OUT" "scrub repaired"
okout coffer pool status -H tank
contains "$OUT" "$(printf 'tank\tscrub\tfinished\t')"
okout coffer pool scrub -P tank
[ -n "$OUT" ] || fail "scrub -P printed no progress"
printf '%s\n' "$OUT" | grep -qvE '^[0-9]+	[0-9]+	[0-9]+	[0-9]+$' &&
	fail "scrub -P lines are not DONE<TAB>TOTAL<TAB>RATE<TAB>ETA: $OUT"
okout coffer pool scrub --json tank
printf '%s\n' "$OUT" | grep -qvE '^\{"done":[0-9]+,"total":[0-9]+,"rate":[0-9]+,"eta":[0-9]+\}$' &&
	fail "scrub --json lines are not JSON progress: $OUT"
fails 2 "missing pool name" coffer pool scrub
fails 1 "cannot open 'nosuch'" coffer pool scrub nosuch

step "a pool over two devices, given as relative paths"
(cd "$T" && coffer pool create two d2a.img d2b.img --size 128M) ||
	fail "cannot create pool 'two' from relative paths"
okout coffer pool status two
contains "$OUT" "$T/d2a.img"
contains "$OUT" "$T/d2b.img"
okout coffer pool list -H
expect "$(printf '%s\n' "$OUT" | cut -f1 | tr '\n' ' ')" "tank two "
okout coffer pool list -H two
expect "$(printf '%s\n' "$OUT" | cut -f1)" two

step "name clash, used device, missing file, bad sizes"
fails 1 "cannot create 'tank'" coffer pool create tank "$T/other.img" \
	--size 128M
fails 1 "cannot create 'three'" coffer pool create three "$T/d1.img"
fails 1 "cannot create 'nofile'" coffer pool create nofile "$T/missing.img"
[ ! -e "$T/missing.img" ] || fail "a failed create left $T/missing.img"
fails 1 "cannot create 'p3'" coffer pool create -o compression=gzip p3 \
	"$T/p3.img" --size 128M
fails 2 "bad property 'nosuchprop'" coffer pool create -o nosuchprop=1 p4 \
	"$T/p4.img" --size 128M
okout coffer pool list -H
expect "$(printf '%s\n' "$OUT" | cut -f1 | tr '\n' ' ')" "tank two "
fails 2 "bad size '12Q'" coffer pool create x "$T/x.img" --size 12Q
fails 2 "bad size '-5'" coffer pool create x "$T/x.img" --size -5
fails 2 "bad size ''" coffer pool create x "$T/x.img" --size ''
fails 2 "bad size '0'" coffer pool create x "$T/x.img" --size 0
fails 2 "bad size '1.5'" coffer pool create x "$T/x.img" --size 1.5
[ ! -e "$T/x.img" ] || fail "a refused create left $T/x.img"

step "usage errors"
fails 2 "missing pool name" coffer pool create
fails 2 "missing device" coffer pool create x
fails 2 "unknown option '-z'" coffer pool create -z x "$T/x.img"
fails 2 "unknown option '--frob'" coffer pool create --frob x "$T/x.img"
fails 2 "option '--size' needs a value" coffer pool create x "$T/x.img" \
	--size
fails 2 "expected property=value" coffer pool create -o compression x \
	"$T/x.img"
fails 2 "bad pool name" coffer pool create a/b "$T/x.img" --size 128M
fails 2 "too many arguments" coffer pool export tank two
fails 2 "missing pool name" coffer pool destroy
fails 2 "too many arguments" coffer pool import a b
fails 2 "usage: coffer pool" coffer pool
fails 2 "unknown command 'pool frob'" coffer pool frob
fails 2 "unknown command 'frob'" coffer frob
fails 2 "" coffer
[ ! -e "$T/x.img" ] || fail "a refused create left $T/x.img"

step "help and version"
okout coffer help
contains "$OUT" "pool create"
contains "$OUT" "snapshot"
okout coffer help pool
contains "$OUT" "pool status"
okout coffer pool create --help
contains "$OUT" "usage: coffer pool create [-o prop=val]... POOL FILE..."
okout coffer help pool create
contains "$OUT" "usage: coffer pool create"
okout coffer list --help
contains "$OUT" "usage: coffer list"
okout coffer help get
contains "$OUT" "DATASET[@SNAP]:/PATH"
fails 2 "unknown command" coffer help frob
okout coffer version
contains "$OUT" "coffer "

step "export and import keep the data"
ok coffer create two/fs
printf 'kept across export\n' >"$T/kept"
ok coffer put "$T/kept" two/fs:/kept
ok coffer pool export two
okout coffer pool list -H
expect "$(printf '%s\n' "$OUT" | cut -f1 | tr '\n' ' ')" "tank "
fails 1 "cannot open 'two'" coffer list two
fails 1 "cannot export 'two'" coffer pool export two
okout coffer pool import -d "$T"
contains "$OUT" two
lacks "$OUT" tank
ok coffer pool import -d "$T" two
okout coffer pool list -H
expect "$(printf '%s\n' "$OUT" | cut -f1 | tr '\n' ' ')" "tank two "
ok coffer cat two/fs:/kept >"$T/kept.out"
same "$T/kept" "$T/kept.out"
okout coffer list -H -o name -r two
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" "two two/fs "
fails 1 "cannot import 'nosuch'" coffer pool import -d "$T" nosuch
fails 1 "cannot import 'two'" coffer pool import -d "$T" two

step "import by guid"
ok coffer pool export two
okout coffer pool import -d "$T"
guid=$(printf '%s\n' "$OUT" | awk '$1 == "two" { print $2 }')
[ -n "$guid" ] || fail "no guid for 'two' in: $OUT"
ok coffer pool import -d "$T" "$guid"
okout coffer pool list -H two
expect "$(printf '%s\n' "$OUT" | cut -f1)" two

step "destroy"
ok coffer pool destroy two
okout coffer pool list -H
expect "$(printf '%s\n' "$OUT" | cut -f1 | tr '\n' ' ')" "tank "
okout coffer pool import -d "$T"
lacks "$OUT" two
fails 1 "cannot open 'two'" coffer pool status two
fails 1 "cannot destroy 'two'" coffer pool destroy two
ok coffer pool destroy tank
okout coffer pool list -H
expect "$OUT" ""
# the files can be used again for a new pool
ok coffer pool create again "$T/d1.img"
okout coffer pool list -H
expect "$(printf '%s\n' "$OUT" | cut -f1)" again
