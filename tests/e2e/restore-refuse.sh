#!/bin/bash
# restore refuses before the first write, leaving the target byte-identical:
# too small, the image itself, mounted (as a device and as a file behind a
# loop device), declined at the prompt. backup refuses a source mounted
# read-write. A block device target that is free works.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
setup

make_random_file src.raw $((8 << 20)) seed1
run_imgtool backup -q src.raw a.img

# too small
make_random_file small.raw $((4 << 20)) seed2
before=$(sha_of small.raw)
assert_exit 4 "$IMGTOOL" restore --yes a.img small.raw
assert_stderr_grep "^imgtool restore: 'small.raw' is too small: the image needs 8388608 bytes, the target has 4194304 \(4194304 bytes short\)$"
[ "$(sha_of small.raw)" = "$before" ] || fail "too-small target was modified"

# the image itself
assert_exit 4 "$IMGTOOL" restore --yes a.img a.img
assert_stderr_grep "'a.img' is the image itself"
run_imgtool verify -q a.img

# a target that is a directory
mkdir d
assert_exit 2 "$IMGTOOL" restore --yes a.img d
assert_stderr_grep "'d' is a directory"

# confirmation on a terminal: anything but "yes" declines (script(1) gives
# the command a terminal)
if command -v script > /dev/null; then
    make_random_file t.raw $((8 << 20)) seed3
    before=$(sha_of t.raw)
    echo no | script -qec "'$IMGTOOL' restore a.img t.raw" /dev/null > prompt.out 2>&1
    rc=$?
    [ $rc = 1 ] || { cat prompt.out; fail "declined restore exited $rc"; }
    grep -q "Overwrite file 't.raw'" prompt.out || { cat prompt.out; fail "no prompt naming the target"; }
    grep -q "not confirmed; nothing was written" prompt.out || fail "no refusal message"
    [ "$(sha_of t.raw)" = "$before" ] || fail "declined restore modified the target"
    echo yes | script -qec "'$IMGTOOL' restore a.img t.raw" /dev/null > prompt.out 2>&1 \
        || { cat prompt.out; fail "confirmed restore failed"; }
    cmp src.raw t.raw || fail "confirmed restore differs"
fi

[ "$(id -u)" = 0 ] || { echo "restore-refuse: ok (mount checks need root)"; exit 0; }
command -v mkfs.ext4 > /dev/null || skip "mkfs.ext4 missing"

# a mounted loop device as the target
truncate -s 16M fs.raw
mkfs.ext4 -q -F fs.raw
dev=$(loop_attach fs.raw)
mkdir mnt
mount "$dev" mnt || skip "cannot mount ext4 on a loop device here"
mount_track "$PWD/mnt"
echo data > mnt/file
sync
assert_exit 4 "$IMGTOOL" restore --yes a.img "$dev"
assert_stderr_grep "^imgtool restore: '$dev' is (mounted on .*/mnt|in use)"
# the file behind the mounted loop device is refused too
assert_exit 4 "$IMGTOOL" restore --yes a.img fs.raw
assert_stderr_grep "'fs.raw' is mounted on .*/mnt"
# backup of a read-write mounted source is refused, unless forced
assert_exit 4 "$IMGTOOL" backup -q "$dev" m.img
assert_stderr_grep "is mounted read-write on .*/mnt; its blocks change under the copy"
[ -e m.img ] && fail "refused backup left an image"
assert_exit 0 "$IMGTOOL" backup -q --force-mounted "$dev" m.img
assert_stderr_grep "warning: .*mounted read-write"
umount mnt
sum=$(sha_of fs.raw)
# read-only mounts are fine to back up
mount -o ro "$dev" mnt
run_imgtool backup -q "$dev" ro.img
umount mnt
[ "$(sha_of fs.raw)" = "$sum" ] || fail "refused restores modified the mounted filesystem"

# a free block device target works and gets the exact bytes
run_imgtool restore -q --yes a.img "$dev"
cmp -n $((8 << 20)) src.raw "$dev" || fail "restore to a loop device differs"
echo "restore-refuse: ok"
