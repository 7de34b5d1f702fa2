#!/bin/bash
# A whole MBR disk: boot code in the MBR and bytes in the gap after it, a
# FAT16 primary, an ext3 primary, and an extended partition holding two
# logical partitions (ext2, ext4), each with files and a deleted file.
# Backup -> verify -> restore onto zeros; the table dump (EBR chain
# included), the first MiB, each filesystem's own checker and every file
# must match; deleted data is not stored.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
need_cmd sfdisk mkfs.fat mcopy mdel fsck.fat mke2fs e2fsck debugfs dumpe2fs blkid python3 openssl
setup
MIB=1048576
MARKER="deleted-mbr-marker-$$-$RANDOM-xP2"
FULL=$(loop_mounts_work)

make_tree tree 200
mkdir fat && cp -r tree/deep tree/many fat/
for i in $(seq 1 50); do echo "$MARKER fat $i"; done > fat/SECRET.TXT

truncate -s 200M disk.raw
sfdisk -q disk.raw <<PARTS || fail "sfdisk"
label: dos
label-id: 0x1234abcd
start=2048, size=32MiB, type=e, bootable
size=48MiB, type=83
type=5
size=24MiB, type=83
size=40MiB, type=83
PARTS
starts=($(sfdisk -d disk.raw | sed -n 's/.*start= *\([0-9]*\).*size= *\([0-9]*\).*/\1:\2/p'))
[ ${#starts[@]} = 5 ] || fail "expected 5 partitions, got ${#starts[@]}"
off() { echo $(( ${starts[$1]%%:*} * 512 )); }
len() { echo $(( ${starts[$1]##*:} * 512 )); }
# boot code (first 440 bytes) and a boot loader in the gap
make_random_file boot.bin 440 bootcode
dd if=boot.bin of=disk.raw bs=440 count=1 conv=notrunc status=none
make_random_file gap.bin $((1000 * 512)) gap
dd if=gap.bin of=disk.raw bs=512 seek=1 conv=notrunc status=none

build_fat() {
    truncate -s $(len 0) fat.raw
    mkfs.fat -F 16 -n DATA fat.raw > /dev/null || fail "mkfs.fat"
    mcopy -s -m -i fat.raw fat/* ::/ || fail "mcopy"
    mdel -i fat.raw ::/SECRET.TXT || fail "mdel"
    part_place disk.raw $(off 0) fat.raw
}
build_ext() {   # index type label
    truncate -s $(len $1) "p$1.raw"
    mke2fs -F -q -t "$2" -L "$3" -d tree "p$1.raw" || fail "mke2fs $2"
    debugfs -w -R "rm /secret.txt" "p$1.raw" > /dev/null 2>&1 || fail "debugfs rm"
    part_place disk.raw $(off $1) "p$1.raw"
}
build_fat
build_ext 1 ext3 three
build_ext 3 ext2 two
build_ext 4 ext4 four
[ "$(grep -c "$MARKER" disk.raw)" -gt 0 ] || fail "the deleted data is not in the source disk"

run_imgtool backup disk.raw disk.img
run_imgtool verify -q disk.img
truncate -s 200M out.raw
run_imgtool restore -q --yes disk.img out.raw

[ "$(sfdisk_dump disk.raw)" = "$(sfdisk_dump out.raw)" ] || fail "sfdisk -d differs (MBR or EBR chain)"
cmp -n $MIB disk.raw out.raw || fail "the first MiB differs (boot code, table, gap)"
"$IMGTOOL" info disk.img > info.txt
grep -Eq "^  3 +partition .*extended: only its EBRs are stored" info.txt || { cat info.txt; fail "info: extended partition"; }
for n in 5 6; do
    grep -Eq "^  $n +partition .* ext[24] " info.txt || { cat info.txt; fail "info: logical partition $n"; }
done

part_extract out.raw $(off 0) $(len 0) fat.out
fsck.fat -n fat.out > fsck.out 2>&1 || { cat fsck.out; fail "fsck.fat"; }
rm -rf f1 f2 && mkdir f1 f2
mcopy -s -m -i fat.raw ::/ f1/ && mcopy -s -m -i fat.out ::/ f2/ || fail "mcopy out"
[ "$(files_sha f1)" = "$(files_sha f2)" ] || fail "FAT file contents differ"
[ "$(files_sha f1 | wc -l)" -ge 200 ] || fail "FAT listing too short"

for i in 1 3 4; do
    part_extract out.raw $(off $i) $(len $i) "p$i.out"
    e2fsck -fn "p$i.out" > fsck.out 2>&1 || { cat fsck.out; fail "e2fsck partition index $i"; }
    fs_listing "p$i.raw" list.src
    fs_listing "p$i.out" list.dst
    [ "$(wc -l < list.src)" -ge 200 ] || fail "listing of partition index $i too short"
    cmp -s list.src list.dst || { diff list.src list.dst | head >&2; fail "partition index $i differs"; }
done
[ "$(json_region_used disk.img 2)" = "$(ext_used_bytes p1.raw)" ] || fail "ext3 used bytes"
[ "$(json_region_used disk.img 5)" = "$(ext_used_bytes p3.raw)" ] || fail "ext2 used bytes"
[ "$(json_region_used disk.img 6)" = "$(ext_used_bytes p4.raw)" ] || fail "ext4 used bytes"
# the extended container itself holds only its two EBRs (512 bytes each)
[ "$("$IMGTOOL" info --json disk.img | python3 -c 'import json,sys
print([r["used"] for r in json.load(sys.stdin)["regions"] if r["container"]][0])')" = 1024 ] \
    || fail "extended container: used bytes are not just its EBRs"
[ "$(grep -c "$MARKER" disk.img)" = 0 ] || fail "deleted data is in the image"
[ "$(grep -c "$MARKER" out.raw)" = 0 ] || fail "deleted data was restored"
note "disk 200 MiB, image $(stat -c %s disk.img) bytes"
echo "backup-restore-mbr: ok"
