#!/bin/bash
# clone: a GPT disk file to another file (identical used data, fsck clean,
# same files), to a bigger file (table rewritten), to a loop device from a
# loop device; refusals before the first write (the source itself, too
# small, mounted); --dry-run writes nothing.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
need_cmd sfdisk sgdisk mke2fs e2fsck debugfs python3 openssl
setup
MIB=1048576
FULL=$(loop_mounts_work)

make_tree tree 100
truncate -s 120M disk.raw
sfdisk -q disk.raw <<PARTS || fail "sfdisk"
label: gpt
start=2048, size=100MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root
PARTS
truncate -s 100M p1.raw
mke2fs -F -q -t ext4 -d tree p1.raw || fail "mke2fs"
part_place disk.raw $MIB p1.raw
make_random_file gap.bin $((1000 * 512)) gap
dd if=gap.bin of=disk.raw bs=512 seek=34 conv=notrunc status=none
fs_listing p1.raw list.src

check_copy() {   # FILE [SKIP]: the first MiB equal (after SKIP bytes: a
                 # table rewritten for another size differs in LBA 0-1)
    local skip=${2:-0}
    sgdisk -v "$1" | grep -q "No problems found" || fail "$1: sgdisk -v"
    cmp -i $skip -n $((MIB - skip)) disk.raw "$1" || fail "$1: first MiB differs"
    part_extract "$1" $MIB $((100 * MIB)) p1.out
    e2fsck -fn p1.out > fsck.out 2>&1 || { cat fsck.out; fail "$1: e2fsck"; }
    fs_listing p1.out list.dst
    cmp -s list.src list.dst || fail "$1: files differ"
}

# file to a new file
assert_exit 0 "$IMGTOOL" clone --yes disk.raw copy.raw
grep -q "read back and compared" "$T/stdout" || fail "clone did not report the read-back check"
check_copy copy.raw
# file to a bigger file filled with junk
make_random_file big.raw $((240 * MIB)) junk
run_imgtool clone -q --yes disk.raw big.raw
check_copy big.raw 1024
[ "$(sgdisk -p big.raw | sed -n 's/.*last usable sector is \([0-9]*\).*/\1/p')" -gt $((200 * 2048)) ] \
    || fail "bigger target: table not rewritten"

# refusals leave the target byte-identical
assert_exit 4 "$IMGTOOL" clone --yes disk.raw disk.raw
assert_stderr_grep "is the source itself"
make_random_file small.raw $((50 * MIB)) small
before=$(sha_of small.raw)
assert_exit 4 "$IMGTOOL" clone --yes disk.raw small.raw
assert_stderr_grep "'small.raw' is too small"
[ "$(sha_of small.raw)" = "$before" ] || fail "refused clone modified the target"
assert_exit 0 "$IMGTOOL" clone --dry-run disk.raw small2.raw
grep -q "^dry run, nothing was written" "$T/stdout" || fail "dry run: no plan"
[ -e small2.raw ] && fail "dry run created the target"

[ "$FULL" = 1 ] || { echo "clone: ok (loop devices need root)"; exit 0; }
# loop device to loop device
truncate -s 120M dst.raw
src=$(loop_attach disk.raw -r)
dst=$(loop_attach dst.raw)
run_imgtool clone -q --yes "$src" "$dst"
check_copy dst.raw
# a mounted target is refused
dev=$(loop_attach dst.raw -o $MIB --sizelimit $((100 * MIB)))
mkdir mnt && mount -o ro "$dev" mnt && mount_track "$T/mnt"
assert_exit 4 "$IMGTOOL" clone --yes disk.raw dst.raw
assert_stderr_grep "is mounted on"
echo "clone: ok"
