# lib.sh - shared helpers for the end-to-end tests. Source it first:
#   . "${top_srcdir:-.}/tests/e2e/lib.sh"
# Provides: setup (work dir $T, cleanup trap), skip, fail, need_root,
# need_cmd, assert_exit, assert_stderr_grep, make_random_file, sha_of,
# loop_attach / mount tracking that cleanup undoes.

set -u
IMGTOOL=${IMGTOOL:-$(pwd)/imgtool}
top_srcdir=${top_srcdir:-.}
_loops=()
_mounts=()

cleanup() {
    local i d
    # mounts and loop devices are recorded in files, so that helpers called
    # in a $(...) subshell are undone too
    if [ -n "${T:-}" ] && [ -f "$T/.mounts" ]; then
        tac "$T/.mounts" | while read -r d; do
            umount "$d" 2>/dev/null || umount -l "$d" 2>/dev/null
        done
    fi
    for ((i = ${#_mounts[@]} - 1; i >= 0; i--)); do
        umount "${_mounts[i]}" 2>/dev/null || umount -l "${_mounts[i]}" 2>/dev/null
    done
    if [ -n "${T:-}" ] && [ -f "$T/.loops" ]; then
        # only devices still backed by a file of this test: a number the
        # test detached itself may belong to another test by now
        tac "$T/.loops" | while read -r d; do
            case $(losetup -n -O BACK-FILE "$d" 2>/dev/null) in
            "$T"/*) losetup -d "$d" 2>/dev/null ;;
            esac
        done
    fi
    for ((i = ${#_loops[@]} - 1; i >= 0; i--)); do
        losetup -d "${_loops[i]}" 2>/dev/null
    done
    [ -n "${T:-}" ] && [ -d "$T" ] && rm -rf "$T"
}

setup() {
    T=$(mktemp -d "${TMPDIR:-/var/tmp}/imgtool-e2e.XXXXXX")
    trap cleanup EXIT
    cd "$T" || exit 99
}

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "# $*"; }
need_root() { [ "$(id -u)" = 0 ] || skip "needs root"; }
need_cmd() {
    local c
    for c in "$@"; do command -v "$c" > /dev/null 2>&1 || skip "$c not installed"; done
}

# assert_exit N cmd args... : runs cmd, stderr to $T/stderr, stdout to $T/stdout
assert_exit() {
    local want=$1 got
    shift
    "$@" > "$T/stdout" 2> "$T/stderr"
    got=$?
    if [ "$got" != "$want" ]; then
        echo "--- stderr of: $*" >&2
        cat "$T/stderr" >&2
        fail "expected exit $want, got $got from: $*"
    fi
}

# assert_stderr_grep PATTERN : the last assert_exit's stderr matches (grep -E)
assert_stderr_grep() {
    grep -Eq -- "$1" "$T/stderr" || { cat "$T/stderr" >&2; fail "stderr does not match '$1'"; }
}

# assert_stderr_lines N : the last assert_exit's stderr has at most N lines
assert_stderr_lines() {
    local n
    n=$(wc -l < "$T/stderr")
    [ "$n" -le "$1" ] || { cat "$T/stderr" >&2; fail "expected at most $1 line(s) on stderr, got $n"; }
}

# make_random_file PATH BYTES SEED : deterministic content
make_random_file() {
    openssl enc -aes-128-ctr -nosalt -pass "pass:$3" -pbkdf2 -in /dev/zero 2>/dev/null \
        | head -c "$2" > "$1"
}

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# loop_attach FILE [losetup options...] : prints the device; detached by cleanup
loop_attach() {
    local f=$1 dev
    shift
    dev=$(losetup -f --show "$@" "$f") || fail "losetup failed for $f"
    echo "$dev" >> "$T/.loops"
    echo "$dev"
}

# loop_track DEV : have cleanup detach a device attached in a subshell
loop_track() { echo "$1" >> "$T/.loops"; }

# umount_settled DIR : umount, retrying for a few seconds while the mount
# is busy (another test's scan of block devices can hold it a moment)
umount_settled() {
    local i
    for i in 1 2 3 4 5 6 7 8 9 10; do
        umount "$1" 2> /dev/null && return 0
        sleep 0.3
    done
    umount "$1"
}

# mount_track DIR : have cleanup unmount it
mount_track() { echo "$1" >> "$T/.mounts"; }

# run_imgtool args... : runs imgtool, failing the test with its stderr on error
run_imgtool() {
    "$IMGTOOL" "$@" 2> "$T/stderr" || { cat "$T/stderr" >&2; fail "imgtool $* failed"; }
}

# make_tree DIR [NSMALL] : NSMALL (320) small files, a few MiB-size random
# files, a sparse file, hard links, symlinks, odd modes, owners, times and
# xattrs, and secret.txt full of $MARKER (for deleted-data checks)
make_tree() {
    local d=$1 n=${2:-320} i MIB=1048576
    mkdir -p "$d/many" "$d/big" "$d/links" "$d/deep/a/b/c" "$d/emptydir"
    for i in $(seq 1 "$n"); do
        make_random_file "$d/many/f$i.dat" $((i * 53 % 4000)) "small$i"
    done
    make_random_file "$d/big/one.bin" $((2 * MIB)) big1
    make_random_file "$d/big/two.bin" $((3 * MIB + 4321)) big2
    make_random_file "$d/big/gone.bin" $((2 * MIB)) gone
    truncate -s 16M "$d/sparse.img"
    make_random_file "$d/sparse.part" 70000 sparse
    dd if="$d/sparse.part" of="$d/sparse.img" bs=4096 seek=300 conv=notrunc status=none
    rm "$d/sparse.part"
    echo "deep" > "$d/deep/a/b/c/leaf.txt"
    : > "$d/empty"
    ln "$d/many/f1.dat" "$d/links/hard1"
    ln "$d/many/f1.dat" "$d/links/hard2"
    ln -s ../many/f2.dat "$d/links/sym"
    ln -s "/a/target/path/longer/than/sixty/characters/so/it/needs/a/block" \
        "$d/links/longsym"
    ln -s nowhere "$d/links/dangling"
    chmod 600 "$d/many/f3.dat"
    chmod 4755 "$d/many/f4.dat"
    chmod 1777 "$d/emptydir"
    if [ "$(id -u)" = 0 ]; then
        chown 1234:5678 "$d/many/f5.dat"
        chown -h 42:43 "$d/links/sym"
    fi
    touch -d '2001-02-03 04:05:06.123456789' "$d/many/f6.dat"
    touch -h -d '1999-12-31 23:59:59' "$d/links/dangling"
    python3 -c 'import os, sys
try:
    os.setxattr(sys.argv[1], "user.imgtool", b"xattr value")
except OSError:
    pass' "$d/many/f7.dat"
    for i in $(seq 1 400); do echo "${MARKER:-marker} line $i"; done > "$d/secret.txt"
}

# listing DIR FULL : one line per entry: path, mode, size, owner, mtime,
# link target or sha256 (and with FULL=1 inode, link count and xattrs)
listing() {
    python3 - "$1" "$2" <<'EOF'
import hashlib, os, stat, sys
root, full = sys.argv[1], sys.argv[2] == "1"
for top, dirs, files in os.walk(root):
    dirs.sort()
    for name in sorted(dirs + files):
        p = os.path.join(top, name)
        rel = os.path.relpath(p, root)
        if rel == "lost+found":
            continue
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            what = "-> " + os.readlink(p)
        elif stat.S_ISREG(st.st_mode):
            with open(p, "rb") as f:
                what = hashlib.sha256(f.read()).hexdigest()
        else:
            what = "dir"
        line = "%s %o %d %s" % (rel, st.st_mode, st.st_size, what)
        if full or not stat.S_ISLNK(st.st_mode):
            # rdump gives symlinks its own owner and time
            line += " %d:%d %d" % (st.st_uid, st.st_gid, st.st_mtime_ns)
        if full:
            xattrs = sorted((a, os.getxattr(p, a, follow_symlinks=False))
                            for a in os.listxattr(p, follow_symlinks=False))
            line += " ino=%d nlink=%d xattr=%r" % (st.st_ino, st.st_nlink, xattrs)
        print(line)
EOF
}

# loop_mounts_work : prints 1 if this process can loop-mount ext4 read-only
loop_mounts_work() {
    local d
    [ "$(id -u)" = 0 ] || { echo 0; return; }
    d=$(mktemp -d "${TMPDIR:-/var/tmp}/imgtool-probe.XXXXXX")
    if truncate -s 8M "$d/p.img" && mke2fs -F -q -t ext4 "$d/p.img" > /dev/null 2>&1 \
        && mkdir "$d/m" && mount -t ext4 -o ro,noload "$d/p.img" "$d/m" 2> /dev/null; then
        umount "$d/m"
        echo 1
    else
        echo 0
    fi
    rm -rf "$d"
}

# fs_listing IMG OUT : the listing of the ext filesystem in IMG, through a
# read-only loop mount when FULL=1, else through debugfs rdump
fs_listing() {
    local img=$1 out=$2
    rm -rf view && mkdir view
    if [ "$FULL" = 1 ]; then
        mount -t ext4 -o ro,noload "$img" view || fail "mounting $img"
        mount_track "$T/view"
        listing view 1 > "$out"
        umount_settled view || fail "unmounting $img"
    else
        debugfs -R "rdump / view" "$img" > /dev/null 2>&1 || fail "rdump of $img"
        listing view 0 > "$out"
    fi
}


# many_files DIR N : N small files of varied sizes in nested directories,
# quickly (one process), deterministic
many_files() {
    python3 - "$1" "$2" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(42)
for i in range(n):
    d = os.path.join(root, "d%02d" % (i % 50), "s%d" % (i % 7))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.txt" % i), "wb") as f:
        f.write(("file %d " % i).encode() * rnd.randint(0, 300))
        f.write(rnd.randbytes(rnd.randint(0, 2000)))
PY
}

# part_extract DISK START SIZE OUT : copy a byte range out of a disk file
part_extract() {
    dd if="$1" of="$4" bs=64K iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none
}

# part_place DISK START FILE : write FILE into the disk at byte START
part_place() {
    dd if="$3" of="$1" bs=64K oflag=seek_bytes seek="$2" conv=notrunc,sparse status=none
}

# files_sha DIR : "sha256  path" of every regular file, sorted
files_sha() { (cd "$1" && find . -type f -exec sha256sum {} + | sort -k2); }

# sfdisk_dump DISK : the partition table dump without the file name
sfdisk_dump() { sfdisk -d "$1" | sed "s|$1|DISK|g"; }

# json_region_used IMG NUMBER : used bytes imgtool recorded for partition N
json_region_used() {
    "$IMGTOOL" info --json "$1" | python3 -c 'import json,sys
d = json.load(sys.stdin)
print([r["used"] for r in d["regions"] if r["kind"] == "partition" and r["number"] == int(sys.argv[1])][0])' "$2"
}

ext_used_bytes() {
    dumpe2fs -h "$1" 2> /dev/null | awk -F: '/^Block count/ {b=$2} /^Free blocks/ {f=$2} /^Block size/ {s=$2} END {print (b - f) * s}'
}

# --- a QEMU guest running Debian's kernel (for device-mapper, which the
# host kernel lacks). guest_kernel prints the kernel path or nothing.
guest_kernel() { ls -v /boot/vmlinuz-* 2> /dev/null | tail -n 1; }

# guest_initramfs OUT SCRIPT MODULES... : a gzip'ed initramfs with static
# busybox, /bin/lvm and its libraries, the kernel modules named (with
# their dependencies, loaded in order) and /init running SCRIPT (busybox
# sh) after mounting proc, sys and devtmpfs; /init then powers off.
guest_initramfs() {
    local out=$1 script=$2 kver m lib root=$T/guest-root
    shift 2
    kver=$(basename "$(guest_kernel)" | sed 's/^vmlinuz-//')
    rm -rf "$root" && mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" \
        "$root/run/lock" "$root/etc/lvm" "$root/mods" "$root/m" || return 1
    cp "$(command -v busybox)" "$root/bin/busybox" || return 1
    cp /sbin/lvm "$root/bin/lvm" || return 1
    for lib in $(ldd /sbin/lvm | grep -o '/[^ ]*'); do
        mkdir -p "$root$(dirname "$lib")" && cp -L "$lib" "$root$lib" || return 1
    done
    for m in "$@"; do modprobe -S "$kver" --show-depends "$m" || return 1; done |
        awk '$1 == "insmod" && !seen[$2]++ {print $2}' > "$T/guest-mods"
    : > "$root/mods/order"
    while read -r m; do
        cp "$m" "$root/mods/" && basename "$m" >> "$root/mods/order" || return 1
    done < "$T/guest-mods"
    {
        echo '#!/bin/busybox sh'
        echo '/bin/busybox --install -s /bin'
        echo 'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev'
        echo 'for m in $(cat /mods/order); do insmod /mods/$m || echo "GUEST-INSMOD-FAILED $m"; done'
        cat "$script"
        echo 'poweroff -f'
    } > "$root/init"
    chmod 755 "$root/init"
    (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out"
}

# guest_run INITRD SERIAL DISK... : boots the kernel with INITRD and the
# disks (virtio, read-only) under TCG; the console goes to SERIAL (\r
# removed). Fails after 180 s.
guest_run() {
    local initrd=$1 serial=$2 d drives=()
    shift 2
    for d in "$@"; do drives+=(-drive "file=$d,format=raw,if=virtio,readonly=on"); done
    timeout 180 qemu-system-x86_64 -accel tcg -cpu max -m 512 -nodefaults \
        -display none -no-reboot -serial "file:$serial.raw" \
        -kernel "$(guest_kernel)" -initrd "$initrd" \
        -append "console=ttyS0 panic=-1 quiet" "${drives[@]}" \
        < /dev/null > "$serial.qemu" 2>&1
    local rc=$?
    tr -d '\r' < "$serial.raw" > "$serial"
    return $rc
}
