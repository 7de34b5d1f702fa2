#!/bin/bash
# imgtool mount / umount on a GPT disk (FAT32 ESP, ext4 with ~300 files and
# a 200 MB file, swap, a partition of unknown content): the FUSE directory
# serves `disk` and each partition byte for byte; the loop helper mounts
# the ext4 partition read-only with every file's content and metadata
# intact; a damaged chunk reads as EIO and names itself, the rest reads
# right; umount leaves no mount and no loop device, also after SIGKILL;
# refusals; the read speed of the 200 MB file (printed, not asserted).
. "${top_srcdir:-.}/tests/e2e/lib.sh"
need_root
need_cmd sfdisk mkfs.fat mcopy mke2fs mkswap losetup fusermount3 findmnt python3 openssl
[ -c /dev/fuse ] || skip "no /dev/fuse"
setup
MIB=1048576
[ "$(loop_mounts_work)" = 1 ] || skip "cannot loop-mount ext4 here"

# cleanup: every imgtool mount of this test first, then lib.sh's cleanup
_imgmounts=()
_bg=()
cleanup_mount_test() {
    local m p
    for m in "${_imgmounts[@]}"; do
        "$IMGTOOL" umount "$m" 2> /dev/null || fusermount3 -u -z "$m" 2> /dev/null
    done
    for p in "${_bg[@]}"; do kill "$p" 2> /dev/null; done
    cleanup
}
trap cleanup_mount_test EXIT
imgmount_track() { _imgmounts+=("$T/$1"); }

# mounted DIR : is DIR (relative to $T) a mount point?
mounted() { grep -q " $T/$1 " /proc/self/mountinfo; }
# wait_mounted DIR : for a foreground mount to be ready
wait_mounted() {
    local i
    for i in $(seq 1 100); do mounted "$1" && return 0; sleep 0.1; done
    fail "$1 was not mounted within 10 s"
}
# uncache FILE : drop FILE from the page cache (for fair read timings)
uncache() {
    python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$1"
}
# read_mbps FILE : MB/s of one O_DIRECT read of FILE (no page cache above
# the block device, so it measures what is below)
read_mbps() {
    local t0 t1 size
    size=$(stat -c %s "$1")
    t0=$(date +%s%N)
    dd if="$1" of=/dev/null bs=1M iflag=direct status=none || fail "reading $1"
    t1=$(date +%s%N)
    echo $(( size * 1000 / ((t1 - t0) / 1000 + 1) / 1000 ))
}

# --- the source disk: no deleted data and no junk, so that every byte the
# image does not store is zero in the source too ---
mkdir tree
make_tree tree/small 300
make_random_file tree/huge.bin $((200 * MIB)) huge
mkdir fat && cp -r tree/small/deep tree/small/many fat/
truncate -s 420M disk.raw
sfdisk -q disk.raw <<PARTS || fail "sfdisk"
label: gpt
start=2048, size=64MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system"
size=320MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root
size=16MiB, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name=swap
size=8MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=mystery
PARTS
read -r p1 p2 p3 p4 <<< "$(sfdisk -d disk.raw | sed -n 's/.*start= *\([0-9]*\).*/\1/p' | tr '\n' ' ')"
p1=$((p1 * 512)); p2=$((p2 * 512)); p3=$((p3 * 512)); p4=$((p4 * 512))
sizes=(0 $((64 * MIB)) $((320 * MIB)) $((16 * MIB)) $((8 * MIB)))
starts=(0 $p1 $p2 $p3 $p4)
truncate -s 64M esp.raw
mkfs.fat -F 32 -n ESP esp.raw > /dev/null || fail "mkfs.fat"
mcopy -s -m -i esp.raw fat/* ::/ || fail "mcopy"
part_place disk.raw $p1 esp.raw
truncate -s 320M root.raw
mke2fs -F -q -t ext4 -L root -d tree root.raw || fail "mke2fs"
part_place disk.raw $p2 root.raw
truncate -s 16M swap.raw
mkswap -q -L swappy swap.raw || fail "mkswap"
part_place disk.raw $p3 swap.raw
make_random_file mystery.raw $((8 * MIB)) mystery
part_place disk.raw $p4 mystery.raw
run_imgtool backup -q disk.raw disk.img

# --- the FUSE directory (daemon) ---
mkdir m && imgmount_track m
run_imgtool mount disk.img m
mounted m || fail "m is not mounted"
grep -E " $T/m .* - fuse.imgtool $T/disk.img " /proc/self/mountinfo > /dev/null \
    || fail "mount table does not show fuse.imgtool with the image"
[ "$(ls m | tr '\n' ' ')" = "disk part1 part2 part3 part4 " ] || fail "listing: $(ls m)"
[ "$(stat -c %s m/disk)" = "$(stat -c %s disk.raw)" ] || fail "disk has the wrong size"
cmp m/disk disk.raw || fail "disk differs from the source disk"
for n in 1 2 3 4; do
    [ "$(stat -c %s m/part$n)" = "${sizes[n]}" ] || fail "part$n has the wrong size"
    cmp m/part$n <(part_extract disk.raw "${starts[n]}" "${sizes[n]}" /dev/stdout) \
        || fail "part$n differs from its range of the source disk"
done
# the view must not depend on the read size: the daemon serves reads in
# the size the program asks for (direct_io), so each size is a new pattern
# of offsets over records, windows and holes
for bs in 4k 64k 1M; do
    dd if=m/disk bs=$bs status=none | cmp - disk.raw || fail "disk read with bs=$bs differs"
    for n in 1 2 3 4; do
        dd if=m/part$n bs=$bs status=none |
            cmp - <(part_extract disk.raw "${starts[n]}" "${sizes[n]}" /dev/stdout) \
            || fail "part$n read with bs=$bs differs"
    done
done
touch m/x 2> /dev/null && fail "the FUSE directory is writable"
# refusals: a non-empty mount point (4), a bad image (3), no partition 9 (2)
assert_exit 4 "$IMGTOOL" mount disk.img m
assert_stderr_grep "^imgtool mount: mount point 'm' is not empty$"
mkdir m2 && imgmount_track m2
head -c 100000 disk.img > trunc.img
assert_exit 3 "$IMGTOOL" mount trunc.img m2
assert_stderr_grep "^imgtool mount: 'trunc.img'"
assert_stderr_lines 1
assert_exit 2 "$IMGTOOL" mount -p 9 disk.img m2
assert_stderr_grep "has no partition 9"
mounted m2 && fail "a refused mount left m2 mounted"
run_imgtool umount m
mounted m && fail "umount left the FUSE mount"
assert_exit 2 "$IMGTOOL" umount m
assert_stderr_grep "^imgtool umount: 'm' is not an imgtool mount$"

# --- the loop helper: the ext4 partition, read-only ---
mkdir fs && imgmount_track fs
run_imgtool mount --partition 2 disk.img fs
mounted fs || fail "fs is not mounted"
dev=$(findmnt -n -o SOURCE "$T/fs")
[ "$(findmnt -n -o FSTYPE "$T/fs")" = ext4 ] || fail "fs is not ext4"
findmnt -n -o OPTIONS "$T/fs" | grep -Eq '(^|,)ro(,|$)' || fail "fs is not read-only"
backing=$(cat "/sys/block/${dev#/dev/}/loop/backing_file")
[ "$(cat "/sys/block/${dev#/dev/}/ro")" = 1 ] || fail "$dev is not read-only"
case $backing in */part2) ;; *) fail "$dev is backed by '$backing'" ;; esac
fuse_dir=$(dirname "$backing")
touch fs/x 2> /dev/null && fail "the ext4 mount is writable"
# the loop device under the mount, read around the page cache (O_DIRECT)
for bs in 4k 64k 1M; do
    dd if="$dev" iflag=direct bs=$bs status=none | cmp - root.raw \
        || fail "the loop device read with O_DIRECT, bs=$bs, differs"
done
# read speed: the 200 MB file through the mount, and from the restored disk
uncache disk.img
via_mount=$(read_mbps fs/huge.bin) && [ -n "$via_mount" ] || fail "reading huge.bin through the mount"
cmp fs/huge.bin tree/huge.bin || fail "huge.bin differs"
truncate -s 420M restored.raw
run_imgtool restore -q --yes disk.img restored.raw
sync restored.raw
mkdir rs
rdev=$(loop_attach restored.raw -r -o $p2 --sizelimit $((320 * MIB)))
loop_track "$rdev"
mount -t ext4 -o ro,noload "$rdev" rs || fail "mounting the restored partition"
mount_track "$T/rs"
uncache restored.raw
via_disk=$(read_mbps rs/huge.bin) && [ -n "$via_disk" ] || fail "reading the restored huge.bin"
note "read speed of a 200 MiB file: $via_mount MB/s through imgtool mount, $via_disk MB/s from the restored disk ($((via_mount * 100 / (via_disk + 1)))%)"
umount rs

FULL=1 fs_listing root.raw list.src     # lib.sh: through a ro,noload loop mount
listing fs 1 > list.fs
[ "$(wc -l < list.src)" -ge 300 ] || fail "source listing too short"
cmp -s list.src list.fs || { diff list.src list.fs | head >&2; fail "contents or metadata differ through the loop helper"; }


run_imgtool umount fs
mounted fs && fail "umount left the filesystem mounted"
grep -qF " $fuse_dir " /proc/self/mountinfo && fail "umount left the FUSE directory mounted"
losetup -a | grep -qF "$backing" && fail "umount left $dev attached"
[ -e "$fuse_dir" ] && fail "umount left $fuse_dir"

# --- a 1 KiB-block ext4 without a partition table: many short records
# and ZERO records share each window ---
mkdir kroot && seq 1 100000 > kroot/numbers.txt
truncate -s 64M k.raw
mke2fs -F -q -t ext4 -b 1024 -d kroot k.raw || fail "mke2fs -b 1024"
run_imgtool backup -q k.raw k.img
mkdir km && imgmount_track km
run_imgtool mount k.img km
for bs in 512 4k 64k 1M; do
    dd if=km/disk bs=$bs status=none | cmp - k.raw || fail "1 KiB ext4: disk read with bs=$bs differs"
done
run_imgtool umount km

# --- SIGKILL: the daemon dies, umount still tears it all down ---
mkdir killme && imgmount_track killme
run_imgtool mount -p 2 disk.img killme
dev=$(findmnt -n -o SOURCE "$T/killme")
backing=$(cat "/sys/block/${dev#/dev/}/loop/backing_file")
pid=$(pgrep -f -- "mount -p 2 disk.img killme") || fail "no daemon found"
kill -KILL $pid
for i in $(seq 1 50); do kill -0 $pid 2> /dev/null || break; sleep 0.1; done
ls killme > /dev/null 2>&1 && fail "killme still readable after SIGKILL"
mounted killme || fail "killme vanished by itself"
run_imgtool umount killme
mounted killme && fail "umount after SIGKILL left the filesystem mounted"
grep -qF " $(dirname "$backing") " /proc/self/mountinfo && fail "umount after SIGKILL left the FUSE directory"
losetup -a | grep -qF "$backing" && fail "umount after SIGKILL left $dev attached"

# --- a partition the kernel cannot mount: swap stays a file ---
run_imgtool mount -p 3 disk.img m
grep -q "cannot mount part3 of .*: it holds 'swap'.* raw bytes are in '$T/m/part3'" "$T/stderr" \
    || { cat "$T/stderr"; fail "no warning for the swap partition"; }
cmp m/part3 swap.raw || fail "part3 differs after the fallback"
run_imgtool umount m
mounted m && fail "umount left the fallback mounted"

# --- a damaged chunk: EIO for its range, right bytes elsewhere, one log
# line naming it (foreground mode, the log on stderr) ---
chunk=$("$IMGTOOL" info --json disk.img | sed -n 's/.*"chunk_size": \([0-9]*\).*/\1/p')
bad_at=$((3 * MIB + 4096))                    # inside the mystery partition
cstart=$(( (p4 + bad_at) / chunk * chunk ))   # the chunk holding it
cp disk.img bad.img
python3 - "$bad_at" <<'EOF' || fail "could not damage the image"
import sys
at = int(sys.argv[1])
sample = open("mystery.raw", "rb").read()[at:at + 64]
img = bytearray(open("bad.img", "rb").read())
pos = img.find(sample)
if pos < 0 or img.find(sample, pos + 1) >= 0:
    sys.exit(1)
img[pos + 10] ^= 0x55
open("bad.img", "wb").write(img)
EOF
"$IMGTOOL" mount -f bad.img m 2> mount.log &
_bg+=($!)
bgpid=$!
wait_mounted m
# part4 in 64 KiB reads: EIO exactly where the damaged chunk lies, the
# source's bytes everywhere else
python3 - $((cstart - p4)) $((cstart - p4 + chunk)) <<'EOF' || fail "part4 of the damaged image reads wrong"
import errno, os, sys
lo, hi = int(sys.argv[1]), int(sys.argv[2])
src = open("mystery.raw", "rb").read()
fd = os.open("m/part4", os.O_RDONLY)
bad = 0
for off in range(0, len(src), 65536):
    hit = lo < off + 65536 and off < hi
    try:
        data = os.pread(fd, 65536, off)
    except OSError as e:
        if e.errno != errno.EIO or not hit:
            sys.exit("offset %d: %s" % (off, e))
        bad += 1
        continue
    if hit:
        sys.exit("offset %d: read the damaged chunk" % off)
    if data != src[off:off + 65536]:
        sys.exit("offset %d: wrong bytes" % off)
if bad == 0:
    sys.exit("no EIO")
EOF
dd if=m/part4 of=/dev/null bs=64K skip=$(( (bad_at) / 65536 )) count=1 2> dd.err \
    && fail "dd read the damaged chunk"
grep -q "Input/output error" dd.err || { cat dd.err; fail "dd did not get EIO"; }
cmp m/part2 root.raw || fail "part2 of the damaged image differs"
run_imgtool umount m
wait $bgpid || fail "the foreground mount exited with $?"
grep -q "damaged chunk at offset $cstart " mount.log || { cat mount.log; fail "no log line names the damaged chunk"; }
[ "$(grep -c "damaged chunk" mount.log)" = 1 ] || { cat mount.log; fail "the damaged chunk was logged more than once"; }
echo "mount: ok"
