#!/bin/bash
# backup-restore-exfat.sh - round trips of exFAT partitions (MBR with the
# default 4 KiB clusters; GPT with 512-byte clusters, whose bitmap spans a
# FAT chain): backup, verify, restore onto a zero-filled disk, fsck.exfat
# -n, every file's content, size and time compared through read-only
# exfat-fuse mounts, the used bytes equal to the boot regions, the FAT and
# the clusters dump.exfat counts, the image bounded by them, and a deleted
# file's content nowhere.
# Needs root: exfat-fuse mounts of loop devices.

. "${top_srcdir:-.}/tests/e2e/lib.sh"
need_root
need_cmd mkfs.exfat fsck.exfat dump.exfat mount.exfat-fuse sfdisk losetup python3 openssl
[ -x "$IMGTOOL" ] || skip "no imgtool binary at $IMGTOOL"
[ -w /dev/fuse ] || skip "no /dev/fuse"
setup

MARKER="deleted-exfat-marker-$$-$RANDOM-t4Hs"
MIB=$((1024 * 1024))

part_loop() { loop_attach "$1" -o "$2" --sizelimit "$3"; }

# exfat_listing DEV OUT : through a read-only exfat-fuse mount; also
# checks big/two.bin against the original
exfat_listing() {
    rm -rf view && mkdir view
    mount.exfat-fuse -o ro "$1" view > /dev/null 2>&1 || fail "mounting $1"
    mount_track "$T/view"
    listing view 0 > "$2"
    cmp -s tree/big/two.bin view/big/two.bin || fail "big/two.bin on $1 differs"
    umount_settled view || fail "unmounting $1"
}

# dump_num DEV FIELD : a number from dump.exfat
dump_num() { dump.exfat "$1" 2> /dev/null | sed -n "s/^$2[^:]*:[[:space:]]*\([0-9]*\).*/\1/p"; }

# exFAT has no links, owners, modes or xattrs: directories, many small
# files, a few MiB-size ones, an empty file and the deleted ones
mkdir -p tree/deep/a/b tree/big tree/emptydir
many_files tree/many 320
make_random_file tree/big/one.bin $((2 * MIB)) big1
make_random_file tree/big/two.bin $((3 * MIB + 4321)) big2
make_random_file tree/big/gone.bin $((2 * MIB)) gone
echo deep > tree/deep/a/b/leaf.txt
: > tree/empty
touch -d '2001-02-03 04:05:06' tree/deep/a/b/leaf.txt
for i in $(seq 1 400); do echo "$MARKER line $i"; done > tree/secret.txt

# round_trip NAME TABLE SIZE_MIB START_MIB PART_MIB MKFS_OPTS
round_trip() {
    local name=$1 table=$2 size=$3 start=$(($4 * MIB)) plen=$(($5 * MIB))
    local opts=$6 disk=$1.img img=$1.imgt out=$1.out type
    local src dst bps fat cs total free used info_used img_bytes

    note "$name: $table disk, mkfs.exfat ${opts:-(defaults)} in a $5 MiB partition"
    truncate -s ${size}M "$disk"
    type=$([ "$table" = gpt ] && echo EBD0A0A2-B9E5-4433-87C0-68B6B72699C7 || echo 7)
    printf 'label: %s\nstart=%d, size=%d, type=%s\n' "$table" $((start / 512)) \
        $((plen / 512)) "$type" | sfdisk -q "$disk" || fail "$name: sfdisk"
    src=$(part_loop "$disk" $start $plen)
    mkfs.exfat -L "$name" $opts "$src" > mkfs.out 2>&1 || { cat mkfs.out >&2; fail "$name: mkfs.exfat"; }
    mkdir -p mnt
    mount.exfat-fuse "$src" mnt > /dev/null 2>&1 || fail "$name: exfat-fuse mount"
    mount_track "$T/mnt"
    cp -r --preserve=timestamps tree/. mnt/ || fail "$name: copying the tree"
    sync
    rm mnt/secret.txt mnt/big/gone.bin || fail "$name: rm"
    umount_settled mnt || fail "$name: umount"
    [ "$(grep -c "$MARKER" "$disk")" -gt 0 ] || fail "$name: the deleted data is not in the source"
    fsck.exfat -n "$src" > fsck.out 2>&1 || { cat fsck.out >&2; fail "$name: source not clean"; }

    run_imgtool backup -q "$disk" "$img"
    run_imgtool verify -q "$img"
    truncate -s ${size}M "$out"
    run_imgtool restore -q --yes "$img" "$out"

    dst=$(part_loop "$out" $start $plen)
    fsck.exfat -n "$dst" > fsck.out 2>&1 || { cat fsck.out >&2; fail "$name: fsck.exfat -n on the restored partition"; }
    cmp -s -n $((24 * 512)) "$src" "$dst" || fail "$name: the boot regions differ"
    exfat_listing "$src" list.src
    exfat_listing "$dst" list.dst
    [ "$(wc -l < list.src)" -ge 330 ] || fail "$name: files missing from the source listing"
    cmp -s list.src list.dst || { diff list.src list.dst | head -20 >&2; fail "$name: contents or metadata differ"; }

    # boot regions + the FAT + the clusters the bitmap marks
    bps=$((1 << $(dump_num "$src" "Sector Size Bits")))
    fat=$(( $(dump_num "$src" "FAT Length") * bps ))
    cs=$(dump_num "$src" "Cluster size")
    total=$(dump_num "$src" "Total Clusters")
    free=$(dump_num "$src" "Free Clusters")
    used=$((24 * bps + fat + (total - free) * cs))
    info_used=$(json_region_used "$img" 1)
    [ "$info_used" = "$used" ] || fail "$name: image says $info_used bytes used, dump.exfat $used"
    img_bytes=$(stat -c %s "$img")
    [ "$img_bytes" -le $((used + used / 50 + 256 * 1024)) ] \
        || fail "$name: image is $img_bytes bytes for $used used bytes"
    [ "$img_bytes" -ge $((5 * MIB)) ] || fail "$name: image of $img_bytes bytes cannot hold the random files"
    note "$name: $used bytes used (dump.exfat), image $img_bytes bytes"

    [ "$(grep -c "$MARKER" "$img")" = 0 ] || fail "$name: the deleted data is in the image"
    [ "$(grep -c "$MARKER" "$out")" = 0 ] || fail "$name: the deleted data was restored"
    losetup -d "$src" "$dst"
    rm -f "$disk" "$img" "$out"
}

round_trip mbr4k dos 100 1 96 ""
round_trip gpt512 gpt 80 1 64 "-c 512"
exit 0
