#!/bin/bash
# backup-restore-ntfs.sh - round trips of NTFS partitions (GPT with 4 KiB
# clusters, MBR with 1 KiB clusters):
# backup, verify, restore onto a zero-filled disk, ntfsfix -n, every file's
# content and metadata compared through read-only ntfs-3g mounts, the used
# bytes equal to ntfsinfo's count, the image bounded by them, and a deleted
# file's content nowhere. Then an unclean $LogFile (as Windows leaves after
# a crash, hibernation or Fast Startup) must give a full copy.
# Needs root: ntfs-3g FUSE mounts of loop devices.

. "${top_srcdir:-.}/tests/e2e/lib.sh"
need_root
need_cmd mkntfs ntfs-3g ntfsfix ntfsinfo sfdisk losetup python3 openssl
[ -x "$IMGTOOL" ] || skip "no imgtool binary at $IMGTOOL"
[ -w /dev/fuse ] || skip "no /dev/fuse"
setup

MARKER="deleted-ntfs-marker-$$-$RANDOM-p9Vz"
MIB=$((1024 * 1024))

# part_loop DISK START SIZE : a loop device on one partition
part_loop() { loop_attach "$1" -o "$2" --sizelimit "$3"; }

# ntfs_listing DEV OUT : listing (with inodes, link counts, xattrs) through
# a read-only ntfs-3g mount
ntfs_listing() {
    rm -rf view && mkdir view
    ntfs-3g -o ro "$1" view || fail "mounting $1"
    mount_track "$T/view"
    listing view 1 > "$2"
    umount_settled view || fail "unmounting $1"
}

# ntfsinfo_num DEV FIELD
ntfsinfo_num() { ntfsinfo -m -f "$1" 2> /dev/null | sed -n "s/^[[:space:]]*$2: *\([0-9]*\).*/\1/p"; }

# round_trip NAME TABLE SIZE_MIB START_MIB PART_MIB MKNTFS_OPTS
round_trip() {
    local name=$1 table=$2 size=$3 start=$(($4 * MIB)) plen=$(($5 * MIB))
    local opts=$6 disk=$1.img img=$1.imgt out=$1.out
    local src dst clusters free cs used info_used img_bytes

    note "$name: $table disk, mkntfs ${opts:-(defaults)} in a $5 MiB partition"
    truncate -s ${size}M "$disk"
    printf 'label: %s\nstart=%d, size=%d, type=%s\n' "$table" $((start / 512)) \
        $((plen / 512)) "$([ "$table" = gpt ] && echo EBD0A0A2-B9E5-4433-87C0-68B6B72699C7 || echo 7)" \
        | sfdisk -q "$disk" || fail "$name: sfdisk"
    src=$(part_loop "$disk" $start $plen)
    mkntfs -Q -F -L "$name" $opts "$src" > mkntfs.out 2>&1 || { cat mkntfs.out >&2; fail "$name: mkntfs"; }
    mkdir -p mnt
    ntfs-3g "$src" mnt || fail "$name: ntfs-3g mount"
    mount_track "$T/mnt"
    # copied in large writes: a file grown line by line starts resident
    # and leaves its first bytes in its MFT record's slack
    cp -a tree/. mnt/ || fail "$name: copying the tree"
    sync
    rm mnt/secret.txt mnt/big/gone.bin || fail "$name: rm"
    umount_settled mnt || fail "$name: umount"
    [ "$(grep -c "$MARKER" "$disk")" -gt 0 ] || fail "$name: the deleted data is not in the source"
    ntfsfix -n "$src" > fsck.out 2>&1 || { cat fsck.out >&2; fail "$name: source not clean"; }

    run_imgtool backup -q "$disk" "$img"
    run_imgtool verify -q "$img"
    truncate -s ${size}M "$out"
    run_imgtool restore -q --yes "$img" "$out"

    dst=$(part_loop "$out" $start $plen)
    ntfsfix -n "$dst" > fsck.out 2>&1 || { cat fsck.out >&2; fail "$name: ntfsfix -n on the restored partition"; }
    grep -q "alternate boot sector... OK" fsck.out || { cat fsck.out >&2; fail "$name: backup boot sector not restored"; }
    cmp -s -n 512 "$src" "$dst" || fail "$name: the boot sector differs"
    ntfs_listing "$src" list.src
    ntfs_listing "$dst" list.dst
    [ "$(wc -l < list.src)" -ge 330 ] || fail "$name: files missing from the source listing"
    grep -q '^links/hard1 .*nlink=3' list.src || fail "$name: listing lacks hard links"
    cmp -s list.src list.dst || { diff list.src list.dst | head -20 >&2; fail "$name: contents or metadata differ"; }

    # exactly the clusters ntfsinfo counts, plus the backup boot sector
    # (the partition's last sector, outside the cluster range)
    clusters=$(ntfsinfo_num "$src" "Volume Size in Clusters")
    free=$(ntfsinfo_num "$src" "Free Clusters")
    cs=$(ntfsinfo_num "$src" "Cluster Size")
    used=$(( (clusters - free) * cs + 512 ))
    info_used=$(json_region_used "$img" 1)
    [ "$info_used" = "$used" ] || fail "$name: image says $info_used bytes used, ntfsinfo $used"
    img_bytes=$(stat -c %s "$img")
    [ "$img_bytes" -le $((used + used / 50 + 256 * 1024)) ] \
        || fail "$name: image is $img_bytes bytes for $used used bytes"
    [ "$img_bytes" -ge $((5 * MIB)) ] || fail "$name: image of $img_bytes bytes cannot hold the random files"
    note "$name: $used bytes used (ntfsinfo), image $img_bytes bytes"

    [ "$(grep -c "$MARKER" "$img")" = 0 ] || fail "$name: the deleted data is in the image"
    [ "$(grep -c "$MARKER" "$out")" = 0 ] || fail "$name: the deleted data was restored"
    losetup -d "$src" "$dst"
    rm -f "$disk" "$img" "$out"
}

make_tree tree
round_trip gpt4k gpt 160 1 128 ""
round_trip mbr1k dos 110 2 100 "-c 1024"

# An unclean $LogFile: a restart page whose log client is open and not
# marked clean. The bitmap may be stale: a full copy, with a warning.
note "unclean \$LogFile"
truncate -s 48M log.img
mkntfs -Q -F log.img > /dev/null 2>&1 || fail "mkntfs log.img"
lcn=$(ntfsinfo -i 2 -v log.img 2> /dev/null | awk '/Runlist:/ {getline; print $2; exit}')
[ -n "$lcn" ] || fail "no \$LogFile runlist"
python3 - log.img $((lcn * 4096)) <<'PY' || fail "writing the restart page"
import struct, sys
page = bytearray(4096)
struct.pack_into("<4sHHQIIHhh", page, 0, b"RSTR", 0x1E, 9, 0, 4096, 4096, 0x30, 1, 1)
struct.pack_into("<QHHHH", page, 0x30, 1000, 1, 0xFFFF, 0, 0)  # client 0 in use, not clean
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]))
    f.write(page)
PY
run_imgtool backup -q log.img log.imgt
grep -q "LogFile is not clean" "$T/stderr" || { cat "$T/stderr"; fail "no warning for the unclean \$LogFile"; }
"$IMGTOOL" info log.imgt | grep -q "copied in full" || fail "info does not say it was copied in full"
[ "$("$IMGTOOL" info log.imgt | sed -n 's/^used: *\([0-9]*\) bytes.*/\1/p')" = $((48 * MIB)) ] \
    || fail "unclean NTFS not copied in full"
note "unclean \$LogFile: copied in full"
exit 0
