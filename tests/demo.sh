#!/bin/bash
# demo.sh - build a small GPT disk (FAT ESP + ext4 with files) in a file,
# back it up, verify the image, restore it to a second file and show that
# the two disks are identical. Run by `make demo`.
set -eu
IMGTOOL=${IMGTOOL:-./imgtool}
D=${DEMO_DIR:-demo}
rm -rf "$D"
mkdir -p "$D/files/docs"
echo "+ building a 128 MiB demo disk in $D/disk.raw (GPT: EFI system partition + ext4)"
for i in $(seq 1 200); do echo "file $i: $(date -u +%F) imgtool demo" > "$D/files/docs/note$i.txt"; done
head -c $((6 << 20)) /dev/urandom > "$D/files/random.bin"
yes "the quick brown fox" | head -c $((4 << 20)) > "$D/files/text.txt"
truncate -s 128M "$D/disk.raw"
sfdisk -q "$D/disk.raw" <<PARTS
label: gpt
start=2048, size=32M, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=ESP
size=80M, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root
PARTS
mkfs.fat -F 16 -n ESP --offset 2048 "$D/disk.raw" $((32 << 10)) > /dev/null 2>&1
echo "imgtool demo boot config" > "$D/boot.cfg"
mcopy -i "$D/disk.raw@@$((2048 * 512))" "$D/boot.cfg" ::/BOOT.CFG
mke2fs -q -t ext4 -L root -d "$D/files" -E offset=$(((2048 + 65536) * 512)) "$D/disk.raw" 80M
echo "+ imgtool backup $D/disk.raw $D/disk.img"
"$IMGTOOL" backup "$D/disk.raw" "$D/disk.img"
echo "+ imgtool verify $D/disk.img"
"$IMGTOOL" verify "$D/disk.img"
echo "+ imgtool info $D/disk.img"
"$IMGTOOL" info "$D/disk.img"
echo "+ imgtool restore --yes $D/disk.img $D/restored.raw"
"$IMGTOOL" restore --yes "$D/disk.img" "$D/restored.raw"
echo "+ cmp $D/disk.raw $D/restored.raw"
if cmp "$D/disk.raw" "$D/restored.raw"; then
    echo "demo: the restored disk is identical to the original ($(stat -c %s "$D/disk.img") byte image of a $(stat -c %s "$D/disk.raw") byte disk)"
else
    echo "demo: FAILED, the restored disk differs" >&2
    exit 1
fi
