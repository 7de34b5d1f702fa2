#!/bin/bash
# A whole GPT disk: boot-loader bytes in the gap after the entries, a FAT32
# ESP, ext4 with ~5,000 files (small, large, sparse, hard links, symlinks,
# xattrs), swap, a partition of unknown content and junk in unpartitioned
# space. Backup -> verify -> restore onto zeros; then the table dump, the
# first MiB, the backup GPT, each filesystem's own checker, every file's
# content and metadata, the swap header, the unknown partition byte for
# byte; used bytes equal the filesystems' own counts; deleted data and
# unpartitioned junk are not stored. Then one partition on its own.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
need_cmd sfdisk mkfs.fat mcopy mdel fsck.fat mke2fs e2fsck debugfs dumpe2fs mkswap blkid python3 openssl
setup
MIB=1048576
MARKER="deleted-gpt-marker-$$-$RANDOM-Zq8"
FULL=$(loop_mounts_work)

# --- the source disk ---
make_tree tree 300
many_files tree/bulk 4700
make_random_file grub-core.bin $((1007 * 1024)) grub       # sectors 34..2047
mkdir fat && cp -r tree/deep tree/big tree/many fat/ && rm fat/big/gone.bin
make_random_file fat/EFI-BOOT.EFI 700000 efi
for i in $(seq 1 50); do echo "$MARKER fat $i"; done > fat/SECRET.TXT

truncate -s 320M disk.raw
sfdisk -q disk.raw <<PARTS || fail "sfdisk"
label: gpt
first-lba: 34
start=2048, size=64MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system"
size=160MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root
size=16MiB, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name=swap
size=8MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=mystery
PARTS
read -r p1 p2 p3 p4 <<< "$(sfdisk -d disk.raw | sed -n 's/.*start= *\([0-9]*\).*/\1/p' | tr '\n' ' ')"
p1=$((p1 * 512)); p2=$((p2 * 512)); p3=$((p3 * 512)); p4=$((p4 * 512))
# boot loader bytes between the primary entries and the first partition
dd if=grub-core.bin of=disk.raw bs=512 seek=34 conv=notrunc status=none

truncate -s 64M esp.raw
mkfs.fat -F 32 -n ESP esp.raw > /dev/null || fail "mkfs.fat"
mcopy -s -m -i esp.raw fat/* ::/ || fail "mcopy"
mdel -i esp.raw ::/SECRET.TXT || fail "mdel"
part_place disk.raw $p1 esp.raw

truncate -s 160M root.raw
mke2fs -F -q -t ext4 -L root -d tree root.raw || fail "mke2fs"
debugfs -w -R "rm /secret.txt" root.raw > /dev/null 2>&1 || fail "debugfs rm"
part_place disk.raw $p2 root.raw

truncate -s 16M swap.raw
mkswap -q -L swappy -U 0b0e1f6c-6f9e-4a4e-9d27-5a5e2f1c9a11 swap.raw || fail "mkswap"
part_place disk.raw $p3 swap.raw
make_random_file mystery.raw $((8 * MIB)) mystery
part_place disk.raw $p4 mystery.raw
# junk in unpartitioned space after the last partition: not stored
make_random_file junk.raw $((2 * MIB)) junk
tail_off=$((p4 + 8 * MIB + MIB))
part_place disk.raw $tail_off junk.raw
[ "$(grep -c "$MARKER" disk.raw)" -gt 0 ] || fail "the deleted data is not in the source disk"

# --- backup, verify, restore onto zeros ---
run_imgtool backup disk.raw disk.img
grep -q "partition 4: no filesystem recognised; copying it in full" "$T/stderr" \
    || { cat "$T/stderr"; fail "no warning about the unknown partition"; }
run_imgtool verify -q disk.img
truncate -s 320M out.raw
run_imgtool restore -q --yes disk.img out.raw

# --- the layout ---
[ "$(sfdisk_dump disk.raw)" = "$(sfdisk_dump out.raw)" ] || fail "sfdisk -d differs"
cmp -n $MIB disk.raw out.raw || fail "the first MiB differs (protective MBR, GPT, boot gap)"
cmp -i $((320 * MIB - 33 * 512)) disk.raw out.raw || fail "the backup GPT differs"
if command -v sgdisk > /dev/null; then
    sgdisk -v out.raw | grep -q "No problems found" || fail "sgdisk -v finds problems"
fi
"$IMGTOOL" info disk.img > info.txt
grep -Eq "^  4 +partition .*copied in full: unknown content" info.txt || { cat info.txt; fail "info does not say partition 4 is copied in full"; }
grep -Eq "^  - +table .*backup table" info.txt || fail "info does not list the backup GPT"

# --- each filesystem ---
part_extract out.raw $p1 $((64 * MIB)) esp.out
fsck.fat -n esp.out > fsck.out 2>&1 || { cat fsck.out; fail "fsck.fat on the restored ESP"; }
rm -rf e1 e2 && mkdir e1 e2
mcopy -s -m -i esp.raw ::/ e1/ && mcopy -s -m -i esp.out ::/ e2/ || fail "mcopy out"
[ "$(files_sha e1)" = "$(files_sha e2)" ] || fail "ESP file contents differ"
[ "$(files_sha e1 | wc -l)" -ge 300 ] || fail "ESP listing too short"

part_extract out.raw $p2 $((160 * MIB)) root.out
e2fsck -fn root.out > fsck.out 2>&1 || { cat fsck.out; fail "e2fsck on the restored root"; }
fs_listing root.raw list.src
fs_listing root.out list.dst
[ "$(wc -l < list.src)" -ge 5000 ] || fail "root listing has only $(wc -l < list.src) entries"
cmp -s list.src list.dst || { diff list.src list.dst | head >&2; fail "root contents or metadata differ"; }

part_extract out.raw $p3 $((16 * MIB)) swap.out
cmp -n 4096 swap.raw swap.out || fail "swap header differs"
[ "$(blkid -o export swap.out | grep -E '^(UUID|LABEL|TYPE)=')" = \
  "$(blkid -o export swap.raw | grep -E '^(UUID|LABEL|TYPE)=')" ] || fail "swap identity differs"

cmp <(part_extract disk.raw $p4 $((8 * MIB)) /dev/stdout) <(part_extract out.raw $p4 $((8 * MIB)) /dev/stdout) \
    || fail "the unknown partition differs"

# --- what is stored ---
[ "$(json_region_used disk.img 2)" = "$(ext_used_bytes root.raw)" ] || fail "ext4 used bytes differ from dumpe2fs"
[ "$(json_region_used disk.img 3)" = 4096 ] || fail "swap: more than the header page stored"
[ "$(json_region_used disk.img 4)" = $((8 * MIB)) ] || fail "unknown partition not stored in full"
used=$("$IMGTOOL" info --json disk.img | sed -n 's/.*"used_bytes": \([0-9]*\).*/\1/p')
img=$(stat -c %s disk.img)
note "disk 320 MiB, used $used bytes, image $img bytes"
[ "$img" -le $((used + used / 50 + 512 * 1024)) ] || fail "image $img bytes for $used used"
[ "$used" -lt $((60 * MIB)) ] || fail "used $used bytes: free space was stored"
[ "$(grep -c "$MARKER" disk.img)" = 0 ] || fail "deleted data is in the image"
[ "$(grep -c "$MARKER" out.raw)" = 0 ] || fail "deleted data was restored"
cmp -n $((2 * MIB)) <(head -c $((2 * MIB)) /dev/zero) <(part_extract out.raw $tail_off $((2 * MIB)) /dev/stdout) \
    || fail "unpartitioned junk was stored"

# --- one partition on its own: backup the ext4 partition, restore to a file ---
if [ "$FULL" = 1 ]; then
    dev=$(loop_attach disk.raw -r -o $p2 --sizelimit $((160 * MIB)))
    run_imgtool backup -q "$dev" part.img
else
    run_imgtool backup -q root.raw part.img
fi
run_imgtool restore -q --yes part.img part.out
e2fsck -fn part.out > fsck.out 2>&1 || { cat fsck.out; fail "e2fsck on the restored partition"; }
fs_listing part.out list.part
cmp -s list.src list.part || fail "single-partition restore differs"
echo "backup-restore-gpt: ok"
