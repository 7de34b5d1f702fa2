#!/bin/bash
# backup-restore-ext.sh - round trips of unpartitioned ("superfloppy") ext2,
# ext3 and ext4 files in every layout mke2fs makes: backup, verify, restore
# onto a zero-filled file, e2fsck -fn, then every file's content and
# metadata compared, the used bytes checked against dumpe2fs, the image
# bounded by the used bytes, and a deleted file's content nowhere.
# As root the filesystems are compared through read-only loop mounts (with
# inode numbers, link counts and xattrs); otherwise through debugfs rdump.

. "${top_srcdir:-.}/tests/e2e/lib.sh"
need_cmd mke2fs debugfs dumpe2fs e2fsck python3 openssl
[ -x "$IMGTOOL" ] || skip "no imgtool binary at $IMGTOOL"
setup

MARKER="deleted-ext-marker-$$-$RANDOM-k3Wq"
SIZE_MIB=96
MIB=$((1024 * 1024))

# name|mke2fs options. -T default: below 512 MiB mke2fs would otherwise
# pick the 1 KiB "small" layout; -g gives the 4 KiB ones several groups.
VARIANTS=(
    "ext2|-t ext2 -T default -g 8192"
    "ext3|-t ext3 -T default -g 8192"
    "ext4|-t ext4 -T default"
    "bigalloc|-t ext4 -T default -O bigalloc -C 16384"
    "1k|-t ext4 -b 1024"
    "nojournal|-t ext4 -T default -g 8192 -O ^has_journal"
    "64bit-metabg|-t ext4 -b 1024 -g 2048 -O 64bit,meta_bg,^resize_inode"
)

# make_tree DIR : several hundred small files, a few MiB-size random files,
# a sparse file, hard links, symlinks, odd modes, owners, times and xattrs
make_tree() {
    local d=$1 i
    mkdir -p "$d/many" "$d/big" "$d/links" "$d/deep/a/b/c" "$d/emptydir"
    for i in $(seq 1 320); do
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
    for i in $(seq 1 400); do echo "$MARKER line $i"; done > "$d/secret.txt"
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

# fs_listing IMG OUT : the listing of the filesystem in IMG
fs_listing() {
    local img=$1 out=$2
    rm -rf view && mkdir view
    if [ "$FULL" = 1 ]; then
        mount -t ext4 -o ro,noload "$img" view || fail "mounting $img"
        mount_track "$T/view"
        listing view 1 > "$out"
        umount view || fail "unmounting $img"
    else
        debugfs -R "rdump / view" "$img" > /dev/null 2>&1 || fail "rdump of $img"
        listing view 0 > "$out"
    fi
}

dumpe2fs_num() { dumpe2fs -h "$1" 2> /dev/null | sed -n "s/^$2: *//p"; }

round_trip() {
    local name=$1 opts=$2 src=$1.img img=$1.imgt dst=$1.out
    local bs blocks free used info_used img_bytes

    note "$name: mke2fs $opts"
    truncate -s ${SIZE_MIB}M "$src"
    mke2fs -F -q $opts -d tree "$src" > mkfs.out 2>&1 || { cat mkfs.out >&2; fail "$name: mke2fs"; }
    # boot code: outside every ext structure, yet part of the filesystem
    dd if=tree/many/f300.dat of="$src" bs=1024 count=1 conv=notrunc status=none
    debugfs -w -R "rm /secret.txt" "$src" > /dev/null 2>&1 || fail "$name: debugfs rm"
    debugfs -w -R "rm /big/gone.bin" "$src" > /dev/null 2>&1 || fail "$name: debugfs rm"
    [ "$(grep -c "$MARKER" "$src")" -gt 0 ] || fail "$name: the deleted data is not in the source"
    e2fsck -fn "$src" > fsck.out 2>&1 || { cat fsck.out >&2; fail "$name: source not clean"; }

    run_imgtool backup -q "$src" "$img"
    run_imgtool verify -q "$img"
    truncate -s ${SIZE_MIB}M "$dst"
    run_imgtool restore -q --yes "$img" "$dst"

    e2fsck -fn "$dst" > fsck.out 2>&1 || { cat fsck.out >&2; fail "$name: e2fsck -fn on the restored file"; }
    cmp -s -n 1024 "$src" "$dst" || fail "$name: the boot block differs"
    fs_listing "$src" list.src
    fs_listing "$dst" list.dst
    [ "$(wc -l < list.src)" -ge 330 ] || fail "$name: files missing from the source listing"
    grep -q '^links/hard1 .*ino=' list.src || [ "$FULL" = 0 ] || fail "$name: listing lacks inodes"
    cmp -s list.src list.dst || { diff list.src list.dst | head -20 >&2; fail "$name: contents or metadata differ"; }
    cmp -s tree/big/two.bin <(debugfs -R "cat /big/two.bin" "$dst" 2> /dev/null) \
        || fail "$name: big/two.bin differs from the original"

    # The scanner stores exactly what dumpe2fs counts used, and the image
    # is that (mostly incompressible) plus at most 2% and 256 KiB.
    bs=$(dumpe2fs_num "$src" "Block size")
    blocks=$(dumpe2fs_num "$src" "Block count")
    free=$(dumpe2fs_num "$src" "Free blocks")
    used=$(( (blocks - free) * bs ))
    info_used=$("$IMGTOOL" info "$img" | sed -n 's/^used: *\([0-9]*\) bytes.*/\1/p')
    [ "$info_used" = "$used" ] || fail "$name: image says $info_used bytes used, dumpe2fs $used"
    img_bytes=$(stat -c %s "$img")
    [ "$img_bytes" -le $((used + used / 50 + 256 * 1024)) ] \
        || fail "$name: image is $img_bytes bytes for $used used bytes"
    [ "$img_bytes" -ge $((5 * MIB)) ] || fail "$name: image of $img_bytes bytes cannot hold the random files"

    [ "$(grep -c "$MARKER" "$img")" = 0 ] || fail "$name: the deleted data is in the image"
    [ "$(grep -c "$MARKER" "$dst")" = 0 ] || fail "$name: the deleted data was restored"
    rm -f "$src" "$img" "$dst"
}

FULL=0
if [ "$(id -u)" = 0 ]; then
    # probe once whether loop mounts work here
    truncate -s 8M probe.img && mke2fs -F -q -t ext4 probe.img > /dev/null 2>&1 \
        && mkdir -p view && mount -t ext4 -o ro,noload probe.img view 2> /dev/null \
        && umount view && FULL=1
    rm -f probe.img
fi
[ "$FULL" = 1 ] || note "no loop mounts: comparing through debugfs rdump"

make_tree tree
for v in "${VARIANTS[@]}"; do
    round_trip "${v%%|*}" "${v#*|}"
done
note "all ${#VARIANTS[@]} ext variants round-tripped"
