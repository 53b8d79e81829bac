# Robustness: a pool in use by another process, a missing or damaged
# device, damaged labels, a full pool.  Each failure is one clear line and
# nothing committed is lost.
# shellcheck source=tests/integ/lib.sh
. "$(dirname "$0")/lib.sh"

step "a second process gets a clear error naming the holder"
mkpool tank
ok coffer create tank/fs
mkfifo "$T/fifo"
# `coffer put -` holds the pool open while it waits for its input
coffer put - tank/fs:/slow <"$T/fifo" &
holder=$!
exec 9>"$T/fifo"
wait_locked "$T/tank.img" "$holder"
fails 1 "in use (by process" coffer create tank/other
fails 1 "coffer put - tank/fs:/slow" coffer list tank
printf 'written while another waited\n' >&9
exec 9>&-
wait "$holder" || fail "the holder failed"
okout coffer cat tank/fs:/slow
expect "$OUT" "written while another waited"
ok coffer create tank/other

step "damaged labels: the other copies are used"
ok coffer pool export tank
# wipe label 0 (first 256 KiB) of the device
dd if=/dev/zero of="$T/tank.img" bs=262144 count=1 conv=notrunc 2>/dev/null
ok coffer pool import -d "$T" tank
okout coffer cat tank/fs:/slow
expect "$OUT" "written while another waited"
ok coffer pool export tank
# wipe labels 0 and 1 (first 512 KiB): the end copies remain
dd if=/dev/zero of="$T/tank.img" bs=524288 count=1 conv=notrunc 2>/dev/null
ok coffer pool import -d "$T" tank
okout coffer cat tank/fs:/slow
expect "$OUT" "written while another waited"
ok coffer pool scrub tank

step "a striped pool that loses a device says so"
ok coffer pool create two "$T/two0.img" "$T/two1.img" --size 128M
ok coffer create two/fs
head -c 3000000 /dev/urandom >"$T/rand"
ok coffer put "$T/rand" two/fs:/rand
ok coffer pool export two
mkdir -p "$T/away"; mv "$T/two1.img" "$T/away/two1.img"
fails 1 "cannot import 'two'" coffer pool import -d "$T" two
mv "$T/away/two1.img" "$T/two1.img"
ok coffer pool import -d "$T" two
mkdir -p "$T/away"; mv "$T/two1.img" "$T/away/two1.img"
fails 1 "two1.img" coffer list two
mv "$T/away/two1.img" "$T/two1.img"
ok coffer cat two/fs:/rand >"$T/rand.out"
same "$T/rand" "$T/rand.out"

step "a full pool gives ENOSPC and loses nothing committed"
ok coffer pool create small "$T/small.img" --size 64M
ok coffer create -o compression=off small/fs
head -c 4000000 /dev/urandom >"$T/keep"
ok coffer put "$T/keep" small/fs:/keep
head -c 100000000 /dev/urandom >"$T/huge"
fails 1 "out of space" coffer put "$T/huge" small/fs:/huge
okout coffer cat small/fs:/keep
ok coffer cat small/fs:/keep >"$T/keep.out"
same "$T/keep" "$T/keep.out"
ok coffer pool scrub small
# the refused copy left nothing behind, and its space is free again
fails 1 "no such file" coffer cat small/fs:/huge
# a pool filled to the brim can still delete
head -c 30000000 /dev/urandom >"$T/fill"
coffer put "$T/fill" small/fs:/fill1 2>/dev/null || true
coffer put "$T/fill" small/fs:/fill2 2>/dev/null || true
ok coffer rm -f small/fs:/fill1 small/fs:/fill2
ok coffer put "$T/keep" small/fs:/keep2
ok coffer pool export small
ok coffer pool import -d "$T" small
ok coffer cat small/fs:/keep2 >"$T/keep2.out"
same "$T/keep" "$T/keep2.out"
