#!/bin/bash
# backup-restore-lvm.sh - a GPT disk whose one partition is an LVM2 PV
# (built by pvcreate/vgcreate/lvcreate -an -Zn --driverloaded n: no
# device-mapper) with two linear LVs, ext4 and XFS, filled through loop
# mounts of the LVs' byte ranges, and a third LV, ext4 too, in two pieces
# that are not adjacent on the PV (lvextend after another LV took the
# extents behind it), built in a file and written piece by piece. A marker
# fills the PV's free extents and a deleted file in each filesystem.
# Backup, verify, info (both LVs listed with their filesystems), restore
# onto a zero-filled disk; the PV label and metadata areas equal, lvs on
# the restored PV lists both LVs, e2fsck -fn and xfs_repair -n on the
# restored LVs, file listings equal through read-only loop mounts, the
# used bytes equal to the metadata area plus what the two filesystems
# use, and the marker nowhere in the image or the restored disk. Then a
# QEMU guest with Debian's kernel activates the VG on the restored disk
# with real device-mapper and reads every file of the three LVs.
# Needs root: loop devices and mounts.

. "${top_srcdir:-.}/tests/e2e/lib.sh"
need_root
need_cmd pvcreate vgcreate lvcreate lvs pvs mkfs.xfs xfs_repair mke2fs e2fsck sfdisk losetup python3 openssl
[ -x "$IMGTOOL" ] || skip "no imgtool binary at $IMGTOOL"
[ "$(loop_mounts_work)" = 1 ] || skip "loop mounts do not work here"
setup

MARKER="deleted-lvm-marker-$$-$RANDOM-q8Zp"
MIB=$((1024 * 1024))
PSTART=$MIB
PSIZE=$((190 * MIB))
VG=vge$$

# lvm DEV CMD ARGS : an LVM command that sees only DEV, keeps its state
# here and never waits for udev or device-mapper
mkdir lvmetc
lvm() {
    local dev=$1 cmd=$2
    shift 2
    LVM_SYSTEM_DIR=$T/lvmetc LVM_SUPPRESS_FD_WARNINGS=1 $cmd --config \
        "devices { filter=[\"a|^$dev\$|\", \"r|.*|\"] obtain_device_list_from_udev=0 use_devicesfile=0 scan_lvs=0 } activation { udev_sync=0 udev_rules=0 monitoring=0 } global { use_lvmpolld=0 }" "$@"
}

# lv_range DEV LV : "OFFSET LENGTH" in bytes of a single-segment LV
lv_range() {
    local pe_start ext pe count
    pe_start=$(lvm "$1" pvs --noheadings --units b --nosuffix -o pe_start 2> /dev/null | tr -d ' ')
    ext=$(lvm "$1" vgs --noheadings --units b --nosuffix -o vg_extent_size 2> /dev/null | tr -d ' ')
    pe=$(lvm "$1" lvs --noheadings -o seg_pe_ranges "$VG/$2" 2> /dev/null | sed 's/.*://; s/-.*//')
    count=$(lvm "$1" lvs --noheadings -o seg_size_pe "$VG/$2" 2> /dev/null | tr -d ' ')
    echo $((PSTART + pe_start + pe * ext)) $((count * ext))
}

mkdir -p tree/deep/a/b tree/big
many_files tree/many 200
make_random_file tree/big/one.bin $((2 * MIB)) big1
make_random_file tree/big/two.bin $((3 * MIB + 4321)) big2
echo deep > tree/deep/a/b/leaf.txt
for i in $(seq 1 400); do echo "$MARKER line $i"; done > tree/secret.txt

note "GPT disk, partition 1 a PV of VG $VG with LVs ext (ext4) and xfs (XFS)"
truncate -s 200M disk.img
printf 'label: gpt\nstart=%d, size=%d, type=E6D6D379-F507-44C2-A23C-238F2A3DF928\n' \
    $((PSTART / 512)) $((PSIZE / 512)) | sfdisk -q disk.img || fail "sfdisk"
# the marker everywhere after the PV's first MiB (its label and metadata
# area, which is stored in full with whatever old text it holds)
yes "$MARKER" | head -c $((PSIZE - MIB)) | part_place disk.img $((PSTART + MIB)) /dev/stdin
P=$(loop_attach disk.img -o $PSTART --sizelimit $PSIZE)
lvm "$P" pvcreate -y "$P" > lvm.log 2>&1 || { cat lvm.log >&2; skip "pvcreate does not work here"; }
lvm "$P" vgcreate -s 4M "$VG" "$P" >> lvm.log 2>&1 || { cat lvm.log >&2; skip "vgcreate does not work here"; }
for lv in ext:40M scat:8M gap:4M xfs:100M; do
    lvm "$P" lvcreate --driverloaded n -an -Zn -L "${lv#*:}" -n "${lv%:*}" "$VG" >> lvm.log 2>&1 \
        || { cat lvm.log >&2; skip "lvcreate without device-mapper does not work here"; }
done
# scat grows past xfs; gap goes, leaving free extents between the pieces
lvm "$P" lvextend --driverloaded n -L +24M "$VG/scat" >> lvm.log 2>&1 || { cat lvm.log >&2; fail "lvextend"; }
lvm "$P" lvremove --driverloaded n -f "$VG/gap" >> lvm.log 2>&1 || { cat lvm.log >&2; fail "lvremove"; }
# scat_pieces : "OFFSET LENGTH" per segment of scat, in logical order
scat_pieces() {
    local pe_start ext
    pe_start=$(lvm "$P" pvs --noheadings --units b --nosuffix -o pe_start 2> /dev/null | tr -d ' ')
    ext=$(lvm "$P" vgs --noheadings --units b --nosuffix -o vg_extent_size 2> /dev/null | tr -d ' ')
    lvm "$P" lvs --segments --noheadings -o seg_start_pe,seg_pe_ranges "$VG/scat" 2> /dev/null |
        sort -n | while read -r _ range; do
            range=${range##*:}
            echo $((PSTART + pe_start + ${range%-*} * ext)) $(((${range#*-} - ${range%-*} + 1) * ext))
        done
}
scat_pieces > scat.pieces
[ "$(wc -l < scat.pieces)" = 2 ] || { cat scat.pieces >&2; fail "scat is not in two pieces"; }
read -r S1_OFF S1_LEN S2_OFF S2_LEN <<< "$(tr '\n' ' ' < scat.pieces)"
[ $((S1_OFF + S1_LEN)) -lt "$S2_OFF" ] || fail "scat's pieces are adjacent"
note "scat in two pieces: $S1_OFF+$S1_LEN and $S2_OFF+$S2_LEN" 
read -r EXT_OFF EXT_LEN <<< "$(lv_range "$P" ext)"
read -r XFS_OFF XFS_LEN <<< "$(lv_range "$P" xfs)"
[ "$EXT_LEN" = $((40 * MIB)) ] && [ "$XFS_LEN" = $((100 * MIB)) ] || fail "LV ranges: ext $EXT_OFF+$EXT_LEN xfs $XFS_OFF+$XFS_LEN"
note "ext at $EXT_OFF, xfs at $XFS_OFF"

# fill_lv OFF LEN MKFS... : mkfs on the LV's byte range (zeroed first:
# what mkfs leaves alone in blocks it marks used is not this test's
# business), copy the tree in through a loop mount, delete secret.txt
fill_lv() {
    local off=$1 len=$2 dev
    shift 2
    fallocate -p -o "$off" -l "$len" disk.img || fail "zeroing the LV at $off"
    dev=$(loop_attach disk.img -o "$off" --sizelimit "$len")
    "$@" "$dev" > mkfs.out 2>&1 || { cat mkfs.out >&2; fail "$*"; }
    mkdir -p mnt
    mount "$dev" mnt || fail "mounting $dev"
    mount_track "$T/mnt"
    cp -r --preserve=timestamps tree/. mnt/ || fail "copying the tree"
    sync
    rm mnt/secret.txt || fail "rm"
    umount_settled mnt || fail "umount"
    losetup -d "$dev"
}
fill_lv "$EXT_OFF" "$EXT_LEN" mke2fs -F -t ext4 -E lazy_itable_init=0,lazy_journal_init=0,nodiscard
fill_lv "$XFS_OFF" "$XFS_LEN" env TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1 mkfs.xfs -f -K
# scat: an ext4 built in a file (with a file big enough to reach the
# second piece), then written to its two pieces
truncate -s $((S1_LEN + S2_LEN)) scat.src
S=$(loop_attach scat.src)
mke2fs -q -F -t ext4 -E lazy_itable_init=0,lazy_journal_init=0,nodiscard "$S" || fail "mke2fs scat"
mkdir -p mnt && mount "$S" mnt || fail "mounting scat"
mount_track "$T/mnt"
cp -r --preserve=timestamps tree/. mnt/ && make_random_file mnt/reach.bin $((14 * MIB)) reach || fail "filling scat"
sync
rm mnt/secret.txt || fail "rm"
umount_settled mnt || fail "umount scat"
losetup -d "$S"
dd if=scat.src of=disk.img bs=1M count=$((S1_LEN / MIB)) seek=$((S1_OFF / MIB)) conv=notrunc status=none
dd if=scat.src of=disk.img bs=1M skip=$((S1_LEN / MIB)) seek=$((S2_OFF / MIB)) conv=notrunc status=none
losetup -d "$P"
[ "$(grep -c "$MARKER" disk.img)" -gt 0 ] || fail "the marker is not in the source"

run_imgtool backup -q disk.img img.imgt
run_imgtool verify -q img.imgt
"$IMGTOOL" info img.imgt > info.txt || fail "imgtool info"
grep -Eq "volume .* ext4 .*name '$VG/ext'" info.txt || { cat info.txt >&2; fail "info does not list $VG/ext as ext4"; }
grep -Eq "volume .* xfs .*name '$VG/xfs'" info.txt || { cat info.txt >&2; fail "info does not list $VG/xfs as xfs"; }
for k in 1 2; do
    grep -Eq "volume .* ext4 .*name '$VG/scat \($k of 2\)'" info.txt || { cat info.txt >&2; fail "info does not list piece $k of $VG/scat as ext4"; }
done
grep -q "copying it in full" "$T/stderr" && { cat "$T/stderr" >&2; fail "something was copied in full"; }
truncate -s 200M out.img
run_imgtool restore -q --yes img.imgt out.img

# the GPT area, the label sectors and the metadata area (4 KiB up to the
# first extent); bytes 2048-4095 of the PV are unused
PE_START=$((EXT_OFF - PSTART))
cmp -s -n $((PSTART + 2048)) disk.img out.img || fail "the table or the PV label differs"
cmp -s -i $((PSTART + 4096)) -n $((PE_START - 4096)) disk.img out.img || fail "the PV metadata area differs"
Q=$(loop_attach out.img -o $PSTART --sizelimit $PSIZE)
lvm "$Q" lvs --noheadings -o lv_name "$VG" 2> /dev/null | tr -d ' ' | sort > lvs.out
printf 'ext\nscat\nxfs\n' | cmp -s - lvs.out || { cat lvs.out >&2; fail "lvs on the restored PV"; }
losetup -d "$Q"

part_extract out.img "$EXT_OFF" "$EXT_LEN" ext.dst
part_extract out.img "$XFS_OFF" "$XFS_LEN" xfs.dst
e2fsck -fn ext.dst > fsck.out 2>&1 || { cat fsck.out >&2; fail "e2fsck -fn on the restored ext LV"; }
xfs_repair -n -f xfs.dst > fsck.out 2>&1 || { cat fsck.out >&2; fail "xfs_repair -n on the restored xfs LV"; }

# lv_listing DISK OFF LEN OUT : through a read-only loop mount
lv_listing() {
    local dev
    dev=$(loop_attach "$1" -r -o "$2" --sizelimit "$3")
    rm -rf view && mkdir view
    mount -o ro,norecovery "$dev" view 2> /dev/null || mount -o ro "$dev" view || fail "mounting $dev"
    mount_track "$T/view"
    listing view 0 > "$4"
    umount_settled view || fail "unmounting $dev"
    losetup -d "$dev"
}
for lv in EXT XFS; do
    off=${lv}_OFF len=${lv}_LEN
    lv_listing disk.img "${!off}" "${!len}" list.src
    lv_listing out.img "${!off}" "${!len}" list.dst
    [ "$(wc -l < list.src)" -ge 200 ] || fail "$lv: files missing from the source listing"
    cmp -s list.src list.dst || { diff list.src list.dst | head -20 >&2; fail "$lv: contents differ"; }
done

# the two-piece LV, reassembled from the restored disk
# json_region_sum IMAGE NAME : used bytes of the volume regions of NAME
json_region_sum() {
    "$IMGTOOL" info --json "$1" | python3 -c 'import json,sys
d = json.load(sys.stdin)
print(sum(r["used"] for r in d["regions"] if r["kind"] == "volume" and r["name"].startswith(sys.argv[1] + " (")))' "$2"
}
part_extract out.img "$S1_OFF" "$S1_LEN" scat1.dst
part_extract out.img "$S2_OFF" "$S2_LEN" scat2.dst
cat scat1.dst scat2.dst > scat.dst
e2fsck -fn scat.dst > fsck.out 2>&1 || { cat fsck.out >&2; fail "e2fsck -fn on the restored two-piece LV"; }
lv_listing scat.src 0 $((S1_LEN + S2_LEN)) list.src
lv_listing scat.dst 0 $((S1_LEN + S2_LEN)) list.dst
grep -q "reach.bin" list.src || fail "reach.bin missing from the scat listing"
cmp -s list.src list.dst || { diff list.src list.dst | head -20 >&2; fail "scat: contents differ"; }
[ "$(json_region_sum img.imgt "$VG/scat")" = "$(ext_used_bytes scat.src)" ] \
    || fail "scat: used $(json_region_sum img.imgt "$VG/scat"), dumpe2fs says $(ext_used_bytes scat.src)"

# used bytes: the partition holds the label sectors and the metadata area
# plus what the two filesystems use; the free extents are not stored
"$IMGTOOL" info --json img.imgt > info.json || fail "imgtool info --json"
read -r part_used vol_used nvol <<< "$(python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
p = [r["used"] for r in d["regions"] if r["kind"] == "partition"]
v = [r["used"] for r in d["regions"] if r["kind"] == "volume"]
print(p[0], sum(v), len(v))' info.json)"
[ "$nvol" = 4 ] || fail "$nvol volume regions, expected 4 (ext, xfs, two of scat)"
[ "$part_used" = $((PE_START - 2048 + vol_used)) ] || fail "partition used $part_used, expected $PE_START - 2048 + $vol_used"
img_bytes=$(stat -c %s img.imgt)
[ "$img_bytes" -le $((part_used + 2 * MIB)) ] || fail "image is $img_bytes bytes for $part_used used bytes"
[ "$img_bytes" -ge $((5 * MIB)) ] || fail "image of $img_bytes bytes cannot hold the random files"
note "used $part_used bytes ($vol_used in the LVs), image $img_bytes bytes"

[ "$(grep -c "$MARKER" img.imgt)" = 0 ] || fail "the marker is in the image"
[ "$(grep -c "$MARKER" out.img)" = 0 ] || fail "the marker was restored"


# Real device-mapper: a guest running Debian's kernel activates the VG on
# the restored disk with lvm and mounts each LV read-only (the two-piece
# one through dm's linear table); every file's checksum equals the source.
# The LVs are activated read-only: XFS writes to the log of a writable
# device even for a read-only mount, and the disk is attached read-only.
[ -n "$(guest_kernel)" ] || fail "no /boot/vmlinuz-* for the guest (package linux-image-amd64)"
need_cmd qemu-system-x86_64 busybox cpio modprobe
cat > guest.sh << GUEST
lvm vgchange -ay --config 'devices { obtain_device_list_from_udev=0 use_devicesfile=0 } activation { udev_sync=0 udev_rules=0 verify_udev_operations=1 monitoring=0 read_only_volume_list=["$VG"] } global { use_lvmpolld=0 }' $VG 2>&1 || echo GUEST-VGCHANGE-FAILED
for lv in ext scat xfs; do
    if mount -o ro /dev/mapper/$VG-\$lv /m; then
        (cd /m && find . -type f | sort | while read -r f; do sha256sum "\$f"; done) | sed "s|^|GUEST \$lv |"
        umount /m
    else
        echo "GUEST-MOUNT-FAILED \$lv"
    fi
done
echo GUEST-DONE
GUEST
guest_initramfs guest.gz guest.sh virtio_blk virtio_pci dm-mod ext4 xfs || fail "building the guest initramfs"
start=$SECONDS
guest_run guest.gz guest.out out.img || { tail -n 30 guest.out >&2; fail "the guest did not finish"; }
grep -q '^GUEST-DONE$' guest.out || { tail -n 30 guest.out >&2; fail "the guest did not finish its script"; }
grep -E '^GUEST-(VGCHANGE|MOUNT|INSMOD)' guest.out && { tail -n 30 guest.out >&2; fail "the guest could not activate or mount the LVs"; }
# host_sums LV DISK OFF LEN : the same lines for the source
host_sums() {
    local dev
    dev=$(loop_attach "$2" -r -o "$3" --sizelimit "$4")
    mount -o ro,norecovery "$dev" view 2> /dev/null || mount -o ro "$dev" view || fail "mounting $dev"
    mount_track "$T/view"
    (cd view && find . -type f | LC_ALL=C sort | while read -r f; do sha256sum "$f"; done) | sed "s|^|GUEST $1 |"
    umount_settled view || fail "unmounting $dev"
    losetup -d "$dev"
}
{
    host_sums ext disk.img "$EXT_OFF" "$EXT_LEN"
    host_sums scat scat.src 0 $((S1_LEN + S2_LEN))
    host_sums xfs disk.img "$XFS_OFF" "$XFS_LEN"
} > sums.src
grep '^GUEST [a-z]* ' guest.out > sums.dst
[ "$(wc -l < sums.src)" -ge 600 ] || fail "only $(wc -l < sums.src) files in the source sums"
cmp -s sums.src sums.dst || { diff sums.src sums.dst | head -20 >&2; fail "files read through device-mapper in the guest differ"; }
note "guest (Debian kernel, device-mapper): $VG activated on the restored disk, $(wc -l < sums.dst) files equal ($((SECONDS - start)) s)"
