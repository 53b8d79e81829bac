# Snapshots: create, list -t snapshot, read their contents, read-only,
# rollback, destroy; filesystems and volumes.
# shellcheck source=tests/integ/lib.sh
. "$(dirname "$0")/lib.sh"

mkpool tank
ok coffer create tank/fs
ok coffer create tank/fs/child
printf 'one\n' >"$T/one"
printf 'two\n' >"$T/two"
ok coffer put "$T/one" tank/fs:/f
ok coffer mkdir tank/fs:/dir
ok coffer put "$T/one" tank/fs:/dir/g

step "snapshot and list"
ok coffer snapshot tank/fs@s1
okout coffer list -H -o name -t snapshot
expect "$OUT" tank/fs@s1
okout coffer list -H -o name
lacks "$OUT" "@"
okout coffer list -H -o name,type tank/fs@s1
expect "$OUT" "$(printf 'tank/fs@s1\tsnapshot')"
okout coffer get -H -o value type tank/fs@s1
expect "$OUT" snapshot

step "the live dataset moves on, the snapshot does not"
ok coffer put "$T/two" tank/fs:/f
ok coffer put "$T/two" tank/fs:/new
ok coffer rm tank/fs:/dir/g
ok coffer snapshot tank/fs@s2 tank/fs/child@s2
okout coffer cat tank/fs@s1:/f
expect "$OUT" one
okout coffer cat tank/fs@s2:/f
expect "$OUT" two
okout coffer cat tank/fs:/f
expect "$OUT" two
okout coffer ls tank/fs@s1:/
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" "dir f "
okout coffer ls tank/fs@s1:/dir
expect "$OUT" g
okout coffer ls tank/fs@s2:/
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" "dir f new "
ok coffer get -r tank/fs@s1:/ "$T/restore"
same "$T/one" "$T/restore/f"
same "$T/one" "$T/restore/dir/g"
[ ! -e "$T/restore/new" ] || fail "the snapshot has a file made after it"
ok coffer get tank/fs@s1:/f - >"$T/f.out"
same "$T/one" "$T/f.out"

step "list snapshots in creation order"
okout coffer list -H -o name -t snapshot tank/fs
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" "tank/fs@s1 tank/fs@s2 "
okout coffer list -H -o name -t all -r tank
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" \
	"tank tank/fs tank/fs@s1 tank/fs@s2 tank/fs/child tank/fs/child@s2 "
okout coffer list -H -o name -t snapshot -r tank
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" \
	"tank/fs@s1 tank/fs@s2 tank/fs/child@s2 "
okout coffer list -H -p -o name,createtxg -t snapshot tank/fs
t1=$(printf '%s\n' "$OUT" | sed -n 1p | cut -f2)
t2=$(printf '%s\n' "$OUT" | sed -n 2p | cut -f2)
[ "$t1" -lt "$t2" ] || fail "createtxg of s1 ($t1) not below s2 ($t2)"
okout coffer list -H -o name,used,avail,refer tank/fs@s1
expect "$(printf '%s\n' "$OUT" | cut -f3)" "-"
okout coffer get -H -o value,source compression tank/fs@s1
expect "$OUT" "$(printf -- '-\t-')"

step "snapshots are read-only"
fails 1 "read-only" coffer put "$T/one" tank/fs@s1:/x
fails 1 "read-only" coffer rm tank/fs@s1:/f
fails 1 "read-only" coffer mkdir tank/fs@s1:/d
fails 1 "read-only" coffer mv tank/fs@s1:/f tank/fs@s1:/g
fails 1 "read-only" coffer ln -s f tank/fs@s1:/l
fails 1 "cannot set 'compression' of 'tank/fs@s1'" \
	coffer set compression=off tank/fs@s1

step "snapshot errors"
fails 1 "cannot create snapshot 'tank/fs@s1'" coffer snapshot tank/fs@s1
fails 1 "cannot create snapshot 'tank/nope@s'" coffer snapshot tank/nope@s
fails 1 "cannot open 'nopool'" coffer snapshot nopool/fs@s
fails 2 "bad snapshot name 'tank/fs'" coffer snapshot tank/fs
fails 2 "bad snapshot name 'tank/fs@'" coffer snapshot tank/fs@
fails 2 "missing snapshot name" coffer snapshot
fails 1 "cannot open 'tank/fs@nope'" coffer ls tank/fs@nope:/
# several at once: each failure reported, the others made
fails 1 "cannot create snapshot 'tank/fs@s2'" \
	coffer snapshot tank/fs@s2 tank/fs@s3
okout coffer list -H -o name -t snapshot tank/fs
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" \
	"tank/fs@s1 tank/fs@s2 tank/fs@s3 "

step "rollback"
ok coffer put "$T/one" tank/fs:/after
fails 1 "cannot roll back to 'tank/fs@s1' without -r" \
	coffer rollback tank/fs@s1
okout coffer cat tank/fs:/f
expect "$OUT" two
ok coffer rollback tank/fs@s3
fails 1 "cannot access 'tank/fs:/after'" coffer ls tank/fs:/after
okout coffer cat tank/fs:/new
expect "$OUT" two
ok coffer rollback -r tank/fs@s1
okout coffer cat tank/fs:/f
expect "$OUT" one
okout coffer ls tank/fs:/
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" "dir f "
okout coffer list -H -o name -t snapshot tank/fs
expect "$OUT" tank/fs@s1
fails 1 "cannot roll back to 'tank/fs@nope'" coffer rollback tank/fs@nope
fails 2 "bad snapshot name 'tank/fs'" coffer rollback tank/fs
fails 2 "missing snapshot name" coffer rollback
fails 2 "too many arguments" coffer rollback tank/fs@s1 tank/fs@s1

step "volume snapshots"
ok coffer create -V 1M tank/vol
printf 'AAAAAAAA' | coffer write tank/vol --offset 4096 ||
	fail "write to tank/vol failed"
ok coffer snapshot tank/vol@v1
printf 'BBBBBBBB' | coffer write tank/vol --offset 4096 ||
	fail "write to tank/vol failed"
okout coffer read tank/vol@v1 --offset 4096 --length 8
expect "$OUT" AAAAAAAA
okout coffer read tank/vol --offset 4096 --length 8
expect "$OUT" BBBBBBBB
okout coffer get -H -p -o value volsize tank/vol@v1
expect "$OUT" 1048576
fails 1 "snapshots are read-only" coffer write tank/vol@v1 </dev/null
ok coffer rollback tank/vol@v1
okout coffer read tank/vol --offset 4096 --length 8
expect "$OUT" AAAAAAAA

step "destroy snapshots"
fails 1 "cannot destroy 'tank/fs' without -r" coffer destroy tank/fs
ok coffer destroy tank/fs@s1
okout coffer list -H -o name -t snapshot tank/fs
expect "$OUT" ""
fails 1 "cannot destroy 'tank/fs@s1'" coffer destroy tank/fs@s1
ok coffer destroy -r tank/fs
okout coffer list -H -o name -t all -r tank
expect "$(printf '%s\n' "$OUT" | tr '\n' ' ')" "tank tank/vol tank/vol@v1 "
fails 1 "cannot open 'tank/fs'" coffer cat tank/fs:/f

step "snapshots survive export and import"
ok coffer pool export tank
ok coffer pool import -d "$T" tank
okout coffer read tank/vol@v1 --offset 4096 --length 8
expect "$OUT" AAAAAAAA
