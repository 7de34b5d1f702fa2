#!/bin/bash
# Restore onto disks of other sizes and shapes: a GPT disk image onto a
# target twice the size (backup GPT moved to the new end, sgdisk -v clean),
# with --grow (last partition and its ext4 fill the disk), onto a smaller
# target that holds every partition, and refused on one that does not; one
# partition into a file; --dry-run writes nothing; --discard punches holes.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
need_cmd sfdisk sgdisk mkfs.fat mke2fs e2fsck debugfs dumpe2fs python3 openssl
setup
MIB=1048576
FULL=$(loop_mounts_work)

make_tree tree 100
truncate -s 200M disk.raw
sfdisk -q disk.raw <<PARTS || fail "sfdisk"
label: gpt
start=2048, size=20MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=ESP
size=40MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root
size=60MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=home
PARTS
starts=($(sfdisk -d disk.raw | sed -n 's/.*start= *\([0-9]*\).*/\1/p'))
P1=$((starts[0] * 512)); P2=$((starts[1] * 512)); P3=$((starts[2] * 512))
mkfs.fat -F 16 -n ESP --offset ${starts[0]} disk.raw $((20 * 1024)) > /dev/null 2>&1 || fail "mkfs.fat"
for p in 2 3; do
    off=$(eval echo \$P$p)
    truncate -s $(( (p == 2 ? 40 : 60) * MIB )) p$p.raw
    mke2fs -F -q -t ext4 -L part$p -d tree p$p.raw || fail "mke2fs"
    part_place disk.raw $off p$p.raw
done
fs_listing p3.raw list.src
run_imgtool backup -q disk.raw disk.img

# check_disk FILE : sgdisk -v clean, backup header in the last sector,
# partitions 2 and 3 fsck-clean with the same files as the source
check_disk() {
    local f=$1 size
    size=$(stat -c %s "$f")
    sgdisk -v "$f" > sgdisk.out 2>&1
    grep -q "No problems found" sgdisk.out || { cat sgdisk.out; fail "$f: sgdisk -v finds problems"; }
    [ "$(dd if="$f" bs=512 skip=$((size / 512 - 1)) count=1 status=none | head -c 8)" = "EFI PART" ] \
        || fail "$f: no backup GPT header in the last sector"
    part_extract "$f" $P3 $((60 * MIB)) p3.out
    e2fsck -fn p3.out > fsck.out 2>&1 || { cat fsck.out; fail "$f: e2fsck of partition 3"; }
    fs_listing p3.out list.dst
    cmp -s list.src list.dst || fail "$f: partition 3 files differ"
    part_extract "$f" $P2 $((40 * MIB)) p2.out
    e2fsck -fn p2.out > fsck.out 2>&1 || { cat fsck.out; fail "$f: e2fsck of partition 2"; }
}

# --- twice the size ---
truncate -s 400M big.raw
run_imgtool restore -q --yes disk.img big.raw
check_disk big.raw
[ "$(sgdisk -p big.raw | sed -n 's/.*last usable sector is \([0-9]*\).*/\1/p')" -gt $((300 * 2048)) ] \
    || fail "last usable sector not moved to the new end"
note "bigger target: ok"

# --- --grow: the last partition and its ext4 fill the disk ---
truncate -s 400M grow.raw
run_imgtool restore -q --yes --grow disk.img grow.raw
sgdisk -v grow.raw | grep -q "No problems found" || fail "grow: sgdisk -v"
size3=$(sfdisk -d grow.raw | sed -n '/name="home"/ s/.*size= *\([0-9]*\).*/\1/p')
[ $((size3 * 512)) -gt $((300 * MIB)) ] || fail "grow: partition 3 is $((size3 * 512)) bytes"
part_extract grow.raw $P3 $((size3 * 512)) p3.grown
e2fsck -fn p3.grown > fsck.out 2>&1 || { cat fsck.out; fail "grow: e2fsck"; }
fsbytes=$(dumpe2fs -h p3.grown 2> /dev/null | awk -F: '/^Block count/ {b=$2} /^Block size/ {s=$2} END {print b * s}')
[ "$fsbytes" -gt $((300 * MIB)) ] || fail "grow: the filesystem was not grown ($fsbytes bytes)"
fs_listing p3.grown list.dst
cmp -s list.src list.dst || fail "grow: files differ"
note "grow: partition 3 and its ext4 now $((size3 * 512)) / $fsbytes bytes"

# --- smaller, but every partition fits ---
truncate -s 130M small.raw
run_imgtool restore -q --yes disk.img small.raw
check_disk small.raw
note "smaller target that fits: ok"

# --- too small: refused before the first write ---
make_random_file tiny.raw $((100 * MIB)) tiny
before=$(sha_of tiny.raw)
assert_exit 4 "$IMGTOOL" restore --yes disk.img tiny.raw
assert_stderr_grep "'tiny.raw' is too small: the image needs [0-9]+ bytes \(its partitions and table\), the target has 104857600 \([0-9]+ bytes short\)"
[ "$(sha_of tiny.raw)" = "$before" ] || fail "refused target was modified"

# --- one partition into a file ---
run_imgtool restore -q --yes --partition 3 disk.img part3.raw
[ "$(stat -c %s part3.raw)" = $((60 * MIB)) ] || fail "partition file has the wrong size"
e2fsck -fn part3.raw > fsck.out 2>&1 || { cat fsck.out; fail "partition restore: e2fsck"; }
fs_listing part3.raw list.dst
cmp -s list.src list.dst || fail "partition restore: files differ"
assert_exit 2 "$IMGTOOL" restore --yes --partition 9 disk.img p9.raw
assert_stderr_grep "has no partition 9"
truncate -s 10M small-part.raw
assert_exit 4 "$IMGTOOL" restore --yes --partition 3 disk.img small-part.raw
assert_stderr_grep "too small"

# --- dry run: the plan, and nothing written ---
make_random_file dry.raw $((200 * MIB)) dry
before=$(sha_of dry.raw)
assert_exit 0 "$IMGTOOL" restore --dry-run disk.img dry.raw
grep -q "^dry run, nothing was written" "$T/stdout" || fail "dry run: no plan"
grep -q "partition 3: 62914560 bytes" "$T/stdout" || { cat "$T/stdout"; fail "dry run: plan lacks partitions"; }
[ "$(sha_of dry.raw)" = "$before" ] || fail "dry run modified the target"
assert_exit 0 "$IMGTOOL" restore --dry-run disk.img new-dry.raw
[ -e new-dry.raw ] && fail "dry run created the target"

# --- --discard: unused space becomes holes in a file target ---
make_random_file disc.raw $((200 * MIB)) disc
run_imgtool restore -q --yes --discard disk.img disc.raw
alloc=$(( $(stat -c %b disc.raw) * 512 ))
[ "$alloc" -lt $((100 * MIB)) ] || fail "--discard left $alloc bytes allocated"
check_disk disc.raw
note "discard: $alloc bytes allocated of 200 MiB"
# --- verify --against: the restored disks hold the image's bytes ---
run_imgtool verify -q --against big.raw disk.img
run_imgtool verify -q --against small.raw disk.img
printf 'X' | dd of=small.raw bs=1 seek=$((P3 + 4096 * 3 + 7)) conv=notrunc status=none
assert_exit 1 "$IMGTOOL" verify -q --against small.raw disk.img
assert_stderr_grep "different chunk at offset [0-9]+: differs from the device"
assert_stderr_grep "'small.raw': 1 of [0-9]+ chunks differ from the image 'disk.img'"
# --- --grow with NTFS as the last partition (ntfsresize on a loop device) ---
if [ "$FULL" = 1 ] && command -v mkntfs > /dev/null && command -v ntfsresize > /dev/null; then
    truncate -s 100M nd.raw
    sfdisk -q nd.raw <<PARTS || fail "sfdisk"
label: gpt
start=2048, size=40MiB, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=win
PARTS
    truncate -s 40M ntfs.raw
    mkntfs -Q -F -L win ntfs.raw > /dev/null 2>&1 || fail "mkntfs"
    part_place nd.raw $MIB ntfs.raw
    run_imgtool backup -q nd.raw nd.img
    truncate -s 300M ngrow.raw
    run_imgtool restore --yes --grow nd.img ngrow.raw
    grep -q "partition 1 and its ntfs filesystem now take" "$T/stderr" || { cat "$T/stderr"; fail "ntfs grow: no report"; }
    sgdisk -v ngrow.raw | grep -q "No problems found" || fail "ntfs grow: sgdisk -v"
    nsize=$(sfdisk -d ngrow.raw | sed -n '/name="win"/ s/.*size= *\([0-9]*\).*/\1/p')
    part_extract ngrow.raw $MIB $((nsize * 512)) ntfs.grown
    ntfsfix -n ntfs.grown > fix.out 2>&1 || { cat fix.out; fail "ntfs grow: ntfsfix -n"; }
    vol=$(ntfsinfo -f -m ntfs.grown 2>/dev/null | sed -n 's/^[[:space:]]*Volume Size in Clusters: *//p')
    csz=$(ntfsinfo -f -m ntfs.grown 2>/dev/null | sed -n 's/^[[:space:]]*Cluster Size: *//p')
    [ -n "$vol" ] && [ $((vol * csz)) -gt $((250 * MIB)) ] || fail "ntfs grow: volume is $vol clusters of $csz"
    note "ntfs grow: volume $((vol * csz)) bytes in a $((nsize * 512))-byte partition"
fi
echo "restore-resize: ok"
