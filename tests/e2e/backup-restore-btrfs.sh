#!/bin/bash
# backup-restore-btrfs.sh - round trips of btrfs: an unpartitioned file
# (metadata DUP, data single, written through a loop mount) and a GPT
# partition (metadata and data DUP, made with --rootdir). Each is backed up,
# verified and restored onto a zero-filled file; the restored filesystem
# must pass `btrfs check --readonly`, mount, hold the same files, metadata
# and xattrs, and scrub clean (a missed DUP copy fails the scrub). The used
# bytes must equal btrfs's own count, the image must be about that size,
# and a deleted file's content must be nowhere. A filesystem with a tree log
# to replay must be copied in full, with a warning.

. "${top_srcdir:-.}/tests/e2e/lib.sh"
need_root
need_cmd mkfs.btrfs btrfs sfdisk losetup python3 openssl
[ -x "$IMGTOOL" ] || skip "no imgtool binary at $IMGTOOL"
grep -qw btrfs /proc/filesystems || modprobe btrfs 2> /dev/null || skip "no btrfs in this kernel"
setup

MARKER="deleted-btrfs-marker-$$-$RANDOM-Zq8v"
MIB=$((1024 * 1024))

# bt_mount DEV [OPTS] : mount on $T/mnt (tracked); bt_umount DEV : unmount
# and make the kernel forget DEV, so a copy with the same fsid can mount
bt_mount() {
    mkdir -p "$T/mnt"
    mount -t btrfs -o "${2:-ro}" "$1" "$T/mnt" || fail "mounting $1"
    mount_track "$T/mnt"
}
bt_umount() {
    umount_settled "$T/mnt" || fail "unmounting $1"
    btrfs device scan --forget "$1" 2> /dev/null || true
}

# physical bytes btrfs uses on the mounted fs: each profile's "used" once,
# DUP twice; plus the first MiB and the 64 MiB superblock copy
df_used() {
    btrfs filesystem df -b "$T/mnt" | awk -F'[ ,=]+' -v mib=$MIB '
        $1 != "GlobalReserve" { u += $NF * ($2 ~ /DUP/ ? 2 : 1) }
        END { printf "%d\n", u + mib + 4096 }'
}

# fs_used IMG : used bytes imgtool recorded for the unpartitioned fs
fs_used() {
    "$IMGTOOL" info --json "$1" | python3 -c 'import json,sys
print([r["used"] for r in json.load(sys.stdin)["regions"] if r["kind"] == "filesystem"][0])'
}

# check_restored NAME DEV LIST USED IMG : checker, contents, scrub, sizes
check_restored() {
    local name=$1 dev=$2 img=$5 used img_bytes

    btrfs check --readonly "$dev" > check.out 2>&1 || { cat check.out >&2; fail "$name: btrfs check on the restored fs"; }
    bt_mount "$dev"
    listing "$T/mnt" 1 > list.dst
    btrfs scrub start -B -r "$T/mnt" > scrub.out 2>&1 || { cat scrub.out >&2; fail "$name: scrub of the restored fs"; }
    grep -q "no errors found" scrub.out || { cat scrub.out >&2; fail "$name: scrub found errors"; }
    bt_umount "$dev"
    [ "$(wc -l < "$3")" -ge 330 ] || fail "$name: files missing from the source listing"
    cmp -s "$3" list.dst || { diff "$3" list.dst | head -20 >&2; fail "$name: contents or metadata differ"; }

    used=$4
    img_bytes=$(stat -c %s "$img")
    [ "$img_bytes" -le $((used + used / 50 + 256 * 1024)) ] || fail "$name: image is $img_bytes bytes for $used used"
    [ "$img_bytes" -ge $((5 * MIB)) ] || fail "$name: image of $img_bytes bytes cannot hold the random files"
    [ "$(grep -c "$MARKER" "$img")" = 0 ] || fail "$name: the deleted data is in the image"
    note "$name: $used used bytes, image $img_bytes bytes, scrub clean"
}

make_tree tree

# 1. Unpartitioned, default profiles, filled and thinned through a mount.
note "superfloppy: metadata DUP, data single"
truncate -s 512M sf.img
mkfs.btrfs -q -L sf sf.img > /dev/null 2>&1 || fail "mkfs.btrfs"
dev=$(loop_attach sf.img)
bt_mount "$dev" rw
cp -a tree/. "$T/mnt/" || fail "populating"
sync
rm "$T/mnt/secret.txt" "$T/mnt/big/gone.bin"
btrfs subvolume snapshot -r "$T/mnt" "$T/mnt/snap" > /dev/null || fail "snapshot"
bt_umount "$dev"
[ "$(grep -c "$MARKER" sf.img)" -gt 0 ] || fail "superfloppy: the deleted data is not in the source"
btrfs check --readonly "$dev" > check.out 2>&1 || { cat check.out >&2; fail "superfloppy: source not clean"; }
bt_mount "$dev"
listing "$T/mnt" 1 > list.src
want=$(df_used)
bt_umount "$dev"

run_imgtool backup -q sf.img sf.imgt
run_imgtool verify -q sf.imgt
got=$(fs_used sf.imgt)
[ "$got" = "$want" ] || fail "superfloppy: image says $got bytes used, btrfs $want"
truncate -s 512M sf.out
run_imgtool restore -q --yes sf.imgt sf.out
cmp -s -n $MIB sf.img sf.out || fail "superfloppy: the first MiB differs"
dst=$(loop_attach sf.out)
check_restored superfloppy "$dst" list.src "$want" sf.imgt
[ "$(grep -c "$MARKER" sf.out)" = 0 ] || fail "superfloppy: the deleted data was restored"

# 2. A GPT partition holding metadata and data DUP, made with --rootdir.
note "GPT partition: metadata DUP, data DUP"
truncate -s 700M gpt.img
sfdisk -q gpt.img <<PARTS || fail "sfdisk"
label: gpt
start=2048, size=16MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
size=600MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=btrfs
PARTS
start=$(($(sfdisk -d gpt.img | sed -n 's/.*start= *\([0-9]*\).*/\1/p' | tail -1) * 512))
pdev=$(loop_attach gpt.img -o "$start" --sizelimit $((600 * MIB)))
mkfs.btrfs -q -m dup -d dup -r tree "$pdev" > /dev/null 2>&1 || fail "mkfs.btrfs --rootdir"
bt_mount "$pdev" rw
rm "$T/mnt/secret.txt"
bt_umount "$pdev"
[ "$(grep -c "$MARKER" gpt.img)" -gt 0 ] || fail "gpt: the deleted data is not in the source"
bt_mount "$pdev"
listing "$T/mnt" 1 > list.gpt
want=$(df_used)
bt_umount "$pdev"

run_imgtool backup -q gpt.img gpt.imgt
run_imgtool verify -q gpt.imgt
got=$(json_region_used gpt.imgt 2)
[ "$got" = "$want" ] || fail "gpt: image says $got bytes used, btrfs $want"
truncate -s 700M gpt.out
run_imgtool restore -q --yes gpt.imgt gpt.out
dst=$(loop_attach gpt.out -o "$start" --sizelimit $((600 * MIB)))
check_restored gpt "$dst" list.gpt "$want" gpt.imgt
[ "$(grep -c "$MARKER" gpt.out)" = 0 ] || fail "gpt: the deleted data was restored"

# 3. A tree log left by fsync without a commit: the extent tree does not
# list what the log owns yet, so the filesystem is copied in full.
note "tree log: copied in full"
truncate -s 256M log.img
mkfs.btrfs -q log.img > /dev/null 2>&1 || fail "mkfs.btrfs"
dev=$(loop_attach log.img)
bt_mount "$dev" rw,commit=300
sync
make_random_file "$T/mnt/fsynced" 100000 fsynced
python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDWR); os.fsync(fd)' "$T/mnt/fsynced"
cp --sparse=always log.img log-crash.img
bt_umount "$dev"
if [ "$(btrfs inspect-internal dump-super log-crash.img | awk '$1 == "log_root" {print $2}')" = 0 ]; then
    note "tree log: the kernel committed before the copy; not tested"
    exit 0
fi
run_imgtool backup -q log-crash.img log.imgt
grep -q "copying it in full" "$T/stderr" || { cat "$T/stderr"; fail "no warning for the tree log"; }
[ "$(fs_used log.imgt)" = $((256 * MIB)) ] || fail "tree log: not copied in full"
exit 0
