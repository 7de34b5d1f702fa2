#!/bin/bash
# backup-restore-xfs.sh - round trips of XFS: unpartitioned files in the
# layouts mkfs.xfs makes (Debian defaults, 1 KiB blocks with fragmented
# free space and a wrapped log, a short last AG, 4 KiB sectors) and one
# partition of a GPT disk: backup, verify, restore onto a zero-filled file,
# xfs_repair -n, every file's content and metadata compared through
# read-only mounts, the used bytes checked exactly against xfs_db, the image
# bounded by them, and a deleted file's content nowhere. Then a filesystem
# whose log needs recovery and one with an external log must be copied in
# full, with the reason.
# Needs root: XFS is populated and compared through loop mounts.

. "${top_srcdir:-.}/tests/e2e/lib.sh"
need_root
need_cmd mkfs.xfs xfs_db xfs_repair xfs_logprint sfdisk python3 openssl
[ -x "$IMGTOOL" ] || skip "no imgtool binary at $IMGTOOL"
setup

MARKER="deleted-xfs-marker-$$-$RANDOM-p4Vt"
MIB=$((1024 * 1024))
# mkfs.xfs refuses filesystems under 300 MiB and logs under 64 MiB unless
# it believes fstests runs it
SMALL="env TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1"

# name|size in MiB|mkfs.xfs options (with $SMALL when they need it)
VARIANTS=(
    "default|320|"
    "1k-frag|96|-b size=1024 -d agcount=2 -l size=3527b"
    "lastag|333|-d agcount=5"
    "4ksect|320|-s size=4096"
)

mkdir m v1
truncate -s 300M probe.img
mkfs.xfs -q -f probe.img || fail "mkfs.xfs"
mount -o loop probe.img m 2> /dev/null || skip "cannot loop-mount XFS here"
umount_settled m
rm -f probe.img

# (xfs_io is not used: it stats every mount point at startup, which hangs
# on anyone's stuck FUSE mount)

# churn FILE : 1500 writes, each followed by fsync, which forces a log
# record each time
churn() {
    python3 - "$1" <<'EOF'
import os, sys
for i in range(1500):
    fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    os.write(fd, b"x" * 100)
    os.fsync(fd)
    os.close(fd)
os.unlink(sys.argv[1])
EOF
}

# shutdown_xfs DIR : XFS_IOC_GOINGDOWN with LOGFLUSH (xfs_io's "shutdown -f")
shutdown_xfs() {
    python3 -c 'import fcntl, os, struct, sys
fcntl.ioctl(os.open(sys.argv[1], os.O_RDONLY), 0x8004587d, struct.pack("I", 1))' "$1"
}

xfs_num() { xfs_db -r -c "$2" -c "p $3" "$1" | sed -n "s/^$3 = //p"; }

# used bytes by xfs_db: blocks not in a free extent nor on an AG free list
xfs_used_bytes() {
    local free
    free=$(xfs_db -r -c "freesp -s" "$1" | sed -n 's/^total free blocks //p')
    echo $(( ($(xfs_num "$1" "sb 0" dblocks) - free) * $(xfs_num "$1" "sb 0" blocksize) ))
}

# populate IMG : the tree copied in and written back, the secret and one
# big file deleted, and (1 KiB blocks) every other small file deleted and
# the log forced 1500 times, which wraps a small log
populate() {
    local img=$1 frag=$2
    mount -o loop "$img" m || fail "mounting $img"
    mount_track "$T/m"
    cp -a tree/. m/ || fail "copying the tree"
    sync -f m
    if [ "$frag" = 1 ]; then
        # 800 one-block files, each fsynced so they are allocated in
        # order whatever the load, then every other one deleted: 400 free
        # extents, more than one 1 KiB bnobt leaf holds (121). Done before
        # the marker file is deleted, so its blocks are not reused.
        python3 - m/frag <<'PY' || fail "fragmenting"
import os, sys
d = sys.argv[1]
os.makedirs(d)
for i in range(800):
    with open(os.path.join(d, "b%03d" % i), "wb") as f:
        f.write(b"%04d" % i * 256)
        f.flush()
        os.fsync(f.fileno())
for i in range(0, 800, 2):
    os.unlink(os.path.join(d, "b%03d" % i))
PY
        churn m/churn || fail "log churn"
        sync -f m
    fi
    # deletions write no data blocks: the marker stays on the disk
    rm m/secret.txt m/big/gone.bin
    [ "$frag" = 1 ] && rm -f m/many/f*[02468].dat
    umount_settled m || fail "unmounting $img"
}

# listing_of IMG OUT : lib.sh listing through a read-only mount that does
# not touch the log
listing_of() {
    mount -o ro,norecovery,loop "$1" v1 || fail "mounting $1 read-only"
    mount_track "$T/v1"
    listing v1 1 > "$2"
    umount_settled v1 || fail "unmounting $1"
}

# check_copy NAME SRC DST IMG USED : restored filesystem equals the source
check_copy() {
    local name=$1 src=$2 dst=$3 img=$4 used=$5 info_used img_bytes
    xfs_repair -n "$dst" > repair.out 2>&1 || { cat repair.out >&2; fail "$name: xfs_repair -n on the restored copy"; }
    listing_of "$src" list.src
    listing_of "$dst" list.dst
    [ "$(wc -l < list.src)" -ge 150 ] || fail "$name: files missing from the source listing"
    grep -q '^links/hard1 .*ino=' list.src || fail "$name: listing lacks inodes"
    cmp -s list.src list.dst || { diff list.src list.dst | head -20 >&2; fail "$name: contents or metadata differ"; }
    [ "$(grep -c "$MARKER" "$dst")" = 0 ] || fail "$name: the deleted data was restored"
    [ "$(grep -c "$MARKER" "$img")" = 0 ] || fail "$name: the deleted data is in the image"
    img_bytes=$(stat -c %s "$img")
    # the used blocks are mostly incompressible; the log mostly zeros
    [ "$img_bytes" -le $((used + used / 50 + 256 * 1024)) ] \
        || fail "$name: image is $img_bytes bytes for $used used bytes"
    [ "$img_bytes" -ge $((5 * MIB)) ] || fail "$name: image of $img_bytes bytes cannot hold the random files"
}

round_trip() {
    local name=$1 mib=$2 opts=$3 src=$1.img img=$1.imgt dst=$1.out used info_used
    local env=""

    note "$name: mkfs.xfs $opts ($mib MiB)"
    [ "$mib" -lt 300 ] && env=$SMALL
    truncate -s ${mib}M "$src"
    $env mkfs.xfs -q -f $opts "$src" > mkfs.out 2>&1 || { cat mkfs.out >&2; fail "$name: mkfs.xfs"; }
    populate "$src" "$([ "$name" = 1k-frag ] && echo 1)"
    [ "$(grep -c "$MARKER" "$src")" -gt 0 ] || fail "$name: the deleted data is not in the source"
    if [ "$name" = 1k-frag ]; then
        [ "$(xfs_num "$src" "agf 0" bnolevel)$(xfs_num "$src" "agf 1" bnolevel)" != 11 ] \
            || fail "$name: no two-level free-space tree"
        xfs_logprint -d "$src" 2> /dev/null | grep -q "HEADER Cycle [2-9]" || fail "$name: the log did not wrap"
    fi
    xfs_repair -n "$src" > repair.out 2>&1 || { cat repair.out >&2; fail "$name: source not clean"; }

    run_imgtool backup -q "$src" "$img"
    run_imgtool verify -q "$img"
    truncate -s ${mib}M "$dst"
    run_imgtool restore -q --yes "$img" "$dst"

    # imgtool stores exactly what xfs_db counts used
    used=$(xfs_used_bytes "$src")
    info_used=$("$IMGTOOL" info --json "$img" | python3 -c 'import json, sys
print(json.load(sys.stdin)["regions"][0]["used"])')
    [ "$info_used" = "$used" ] || fail "$name: image says $info_used bytes used, xfs_db $used"
    check_copy "$name" "$src" "$dst" "$img" "$used"
    note "$name: $used bytes used, image $(stat -c %s "$img") bytes"
    rm -f "$src" "$img" "$dst"
}

make_tree tree
for v in "${VARIANTS[@]}"; do
    IFS='|' read -r name mib opts <<< "$v"
    round_trip "$name" "$mib" "$opts"
done

# An XFS partition 1 MiB into a GPT disk: absolute offsets, and the space
# behind the filesystem left alone.
note "gpt: an XFS partition"
truncate -s 340M disk.img
printf 'label: gpt\nstart=2048, size=655360, type=linux\n' | sfdisk -q disk.img || fail "sfdisk"
truncate -s 320M part.img
mkfs.xfs -q -f part.img || fail "mkfs.xfs part"
populate part.img 0
part_place disk.img $MIB part.img
run_imgtool backup -q disk.img disk.imgt
run_imgtool verify -q disk.imgt
truncate -s 340M disk.out
run_imgtool restore -q --yes disk.imgt disk.out
used=$(xfs_used_bytes part.img)
[ "$(json_region_used disk.imgt 1)" = "$used" ] || fail "gpt: partition used $(json_region_used disk.imgt 1), xfs_db $used"
part_extract disk.out $MIB $((320 * MIB)) part.out
check_copy gpt part.img part.out disk.imgt "$used"
rm -f disk.img disk.out disk.imgt part.img part.out

# A log that needs replaying may hold newer free-space trees than the
# disk: the filesystem must be copied in full, with a warning.
truncate -s 320M dirty.img
mkfs.xfs -q -f dirty.img
mount -o loop dirty.img m || fail "mounting dirty.img"
mount_track "$T/m"
cp -a tree/many m/ && shutdown_xfs m || fail "shutdown"
umount_settled m
xfs_logprint -t dirty.img 2> /dev/null | grep -q "state: <DIRTY>" || fail "xfsprogs does not see a dirty log"
run_imgtool backup -q dirty.img dirty.imgt
grep -q "log that needs replaying.*copying it in full" "$T/stderr" || { cat "$T/stderr"; fail "no warning for a dirty log"; }
"$IMGTOOL" info dirty.imgt | grep -q "copied in full: log needs replay" || fail "info does not say why"
[ "$("$IMGTOOL" info --json dirty.imgt | python3 -c 'import json, sys
print(json.load(sys.stdin)["regions"][0]["used"])')" = $((320 * MIB)) ] || fail "dirty fs not copied in full"
note "dirty log: copied in full"

# An external log: the data device alone is not the whole filesystem.
truncate -s 320M extlog.img extlog.log
mkfs.xfs -q -f -l logdev=extlog.log extlog.img || fail "mkfs.xfs with an external log"
run_imgtool backup -q extlog.img extlog.imgt
grep -q "external device.*copying it in full" "$T/stderr" || { cat "$T/stderr"; fail "no reason for the external log"; }
note "external log: copied in full"
