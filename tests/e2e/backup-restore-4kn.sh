#!/bin/bash
# A GPT disk with 4096-byte sectors (a loop device with --sector-size 4096):
# backup from the device, restore onto a bigger 4Kn device (the table is
# rewritten for the new size in 4 KiB LBAs: sgdisk -v clean, the backup
# header at the new last LBA), the filesystem checks clean with the same
# files; a 512-byte target of another size is refused before any write.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
need_root
need_cmd sfdisk sgdisk mke2fs e2fsck losetup python3
setup
MIB=1048576
FULL=$(loop_mounts_work)
[ "$FULL" = 1 ] || skip "no loop mounts here"

make_tree tree 60
truncate -s 64M disk.raw
src=$(loop_attach disk.raw --sector-size 4096)
[ "$(blockdev --getss "$src")" = 4096 ] || skip "loop devices here cannot have 4 KiB sectors"
# (sfdisk's re-read of the table fails here: no partition scanning)
sfdisk -q "$src" <<PARTS 2> /dev/null
label: gpt
start=256, size=12288, type=L, name=root
PARTS
sfdisk -d "$src" | grep -q "start= *256, size= *12288" || fail "sfdisk on the 4Kn device"
losetup -d "$src"
# partition 1: LBA 256 (1 MiB) for 12288 LBAs (48 MiB)
truncate -s 48M p1.raw
mke2fs -F -q -t ext4 -b 4096 -d tree p1.raw || fail "mke2fs"
part_place disk.raw $MIB p1.raw
src=$(loop_attach disk.raw --sector-size 4096 -r)
run_imgtool backup -q "$src" disk.img
"$IMGTOOL" info disk.img | grep -q "^source size: .*(sector size 4096)$" \
    || fail "info does not show the 4 KiB sectors"

# a bigger 4Kn target: the table moves to its end
truncate -s 96M big.raw
dst=$(loop_attach big.raw --sector-size 4096)
run_imgtool restore -q --yes disk.img "$dst"
sgdisk -v "$dst" | grep -q "No problems found" || { sgdisk -v "$dst"; fail "sgdisk -v on the restored 4Kn disk"; }
python3 - big.raw <<'EOF' || fail "the GPT headers are not where 4 KiB LBAs put them"
import os, struct, sys
f = open(sys.argv[1], "rb")
nlba = os.fstat(f.fileno()).st_size // 4096
f.seek(4096)
p = f.read(92)
f.seek((nlba - 1) * 4096)
b = f.read(92)
assert p[:8] == b"EFI PART" and b[:8] == b"EFI PART"
my, alt = struct.unpack_from("<QQ", p, 24)
assert (my, alt) == (1, nlba - 1), (my, alt, nlba)
EOF
losetup -d "$dst"
part_extract big.raw $MIB $((48 * MIB)) p1.out
e2fsck -fn p1.out > fsck.out 2>&1 || { cat fsck.out; fail "e2fsck of the restored partition"; }
fs_listing p1.raw list.src
fs_listing p1.out list.dst
cmp -s list.src list.dst || { diff list.src list.dst | head >&2; fail "files differ"; }

# a 512-byte target of another size: the table cannot move between them
truncate -s 96M small.raw
before=$(sha_of small.raw)
assert_exit 4 "$IMGTOOL" restore --yes disk.img small.raw
assert_stderr_grep "512-byte sectors but the image's disk had 4096-byte sectors"
[ "$(sha_of small.raw)" = "$before" ] || fail "a refused restore modified the target"
echo "backup-restore-4kn: ok"
