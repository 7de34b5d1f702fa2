#!/bin/bash
# A restore or clone that dies or fails after its first write never leaves
# a target that looks like a good disk, the old one or the new one: the
# old partition table is cleared before the first data write and the new
# one is written only after the data is on disk. Failures after the first
# write say "incomplete"; a file the restore or clone created is removed.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
need_cmd sfdisk mke2fs blkid python3
setup
MIB=1048576

wait_for() {
    local i
    for i in $(seq 1 1500); do "$@" && return 0; sleep 0.01; done
    fail "timed out waiting for: $*"
}

# no_table FILE : no MBR signature, no GPT header at LBA 1 or the last LBA,
# and blkid sees neither a table nor a filesystem
no_table() {
    python3 - "$1" <<'EOF' || fail "$1 still looks like a disk: $(blkid -p "$1")"
import os, sys
f = open(sys.argv[1], "rb")
size = os.fstat(f.fileno()).st_size
def at(off, n):
    f.seek(off)
    return f.read(n)
if at(510, 2) == b"\x55\xaa": sys.exit("MBR signature")
if at(512, 8) == b"EFI PART": sys.exit("primary GPT header")
if at(size - 512, 8) == b"EFI PART": sys.exit("backup GPT header")
EOF
    [ -z "$(blkid -p -o value -s PTTYPE "$1")" ] || fail "blkid sees a partition table on $1"
    [ -z "$(blkid -p -o value -s TYPE "$1")" ] || fail "blkid sees a filesystem on $1"
}

# gpt_disk FILE SEED : a 96 MiB GPT disk with one ext4 partition holding a
# 40 MiB random file
gpt_disk() {
    mkdir -p "root.$2"
    make_random_file "root.$2/data.bin" $((40 * MIB)) "$2"
    truncate -s 96M "$1"
    printf 'label: gpt\nstart=2048, type=L\n' | sfdisk -q "$1" || fail "sfdisk"
    truncate -s 94M "p.$2"
    mke2fs -F -q -t ext4 -d "root.$2" "p.$2" || fail "mke2fs"
    part_place "$1" $((2048 * 512)) "p.$2"
}

gpt_disk new.raw new
gpt_disk old.raw old
run_imgtool backup -q new.raw new.img
[ "$(blkid -p -o value -s PTTYPE old.raw)" = gpt ] || fail "the old disk has no GPT"

# --- killed mid-write (SIGKILL while the stream stalls half way) ---
cp old.raw t.raw
mkfifo feed
python3 - new.img feed <<'EOF' &
import sys, time
data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "wb") as f:
    f.write(data[:len(data) // 2])
    f.flush()
    print("fed", flush=True)
    time.sleep(60)
EOF
feeder=$!
"$IMGTOOL" restore -q --yes - t.raw < feed 2> /dev/null &
restorer=$!
# some of the image's data reached the target (past its first MiB)
written() { ! cmp -s <(tail -c +$((MIB + 1)) t.raw | head -c $((90 * MIB))) \
    <(tail -c +$((MIB + 1)) old.raw | head -c $((90 * MIB))); }
wait_for written
kill -KILL $restorer
wait $restorer 2> /dev/null
kill $feeder 2> /dev/null
no_table t.raw

# --- the stream ends early: the restore fails and says so ---
cp old.raw t.raw
head -c $(( $(stat -c %s new.img) / 2 )) new.img > half.img
assert_exit 3 sh -c "'$IMGTOOL' restore -q --yes - t.raw < half.img"
assert_stderr_grep "^imgtool restore: restore incomplete: 't.raw' holds restored data only below offset [0-9]+, and no partition table; do not use it: "
no_table t.raw
# the same image, whole, then restores to a good disk
run_imgtool restore -q --yes --zero new.img t.raw
[ "$(blkid -p -o value -s PTTYPE t.raw)" = gpt ] || fail "no GPT after a complete restore"
cmp t.raw new.raw || fail "the complete restore differs from the source"

# --- a clone killed while it copies ---
truncate -s 256M c.raw
printf 'label: gpt\nstart=2048, type=L\n' | sfdisk -q c.raw || fail "sfdisk"
[ "$(blkid -p -o value -s PTTYPE c.raw)" = gpt ] || fail "the old clone target has no GPT"
make_random_file big.raw $((256 * MIB)) big
"$IMGTOOL" clone -q --yes --raw big.raw c.raw 2> /dev/null &
cloner=$!
# a few MiB copied, more than 200 to go
copied() { cmp -s <(tail -c +$((20 * MIB + 1)) c.raw | head -c $((4 * MIB))) \
    <(tail -c +$((20 * MIB + 1)) big.raw | head -c $((4 * MIB))); }
wait_for copied
kill -KILL $cloner
wait $cloner 2> /dev/null
no_table c.raw

# --- failures on a full file system: the file the command created is
# removed (root: a small tmpfs) ---
if [ "$(id -u)" = 0 ]; then
    mkdir small
    mount -t tmpfs -o size=24m tmpfs small || fail "tmpfs"
    mount_track "$T/small"
    assert_exit 1 "$IMGTOOL" restore -q --yes new.img small/r.raw
    assert_stderr_grep "^imgtool restore: the new file 'small/r.raw' was removed: "
    [ -e small/r.raw ] && fail "the failed restore left small/r.raw"
    assert_exit 1 "$IMGTOOL" clone -q --yes new.raw small/c.raw
    assert_stderr_grep "^imgtool clone: the new file 'small/c.raw' was removed: "
    [ -e small/c.raw ] && fail "the failed clone left small/c.raw"
fi
echo "restore-interrupt: ok"
