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

FULL=$(loop_mounts_work)
[ "$FULL" = 1 ] || note "no loop mounts: comparing through debugfs rdump"

make_tree tree
for v in "${VARIANTS[@]}"; do
    round_trip "${v%%|*}" "${v#*|}"
done
note "all ${#VARIANTS[@]} ext variants round-tripped"

# A journal that needs recovery holds newer bitmaps than the disk: the
# filesystem must be copied in full, with a warning, never by its bitmap.
truncate -s 32M rec.img
mke2fs -F -q -t ext4 rec.img
debugfs -w -R "feature needs_recovery" rec.img > /dev/null 2>&1 || fail "setting needs_recovery"
run_imgtool backup -q rec.img rec.imgt
grep -q "journal or log that needs replaying.*copying it in full" "$T/stderr" || { cat "$T/stderr"; fail "no warning for needs_recovery"; }
"$IMGTOOL" info rec.imgt | grep -q "copied in full: log needs replay" || fail "info does not say why"
[ "$("$IMGTOOL" info rec.imgt | sed -n 's/^used: *\([0-9]*\) bytes.*/\1/p')" = $((32 * MIB)) ] || fail "needs_recovery fs not copied in full"
note "needs_recovery: copied in full"

# Inode-table blocks past a group's last used inode are restored as zeros
# and never read: garbage planted there in the source does not come back,
# and the filesystem is still clean.
truncate -s 256M itab.img
mke2fs -F -q -t ext4 -T default -d tree itab.img || fail "mke2fs itab"
range=$(dumpe2fs itab.img 2> /dev/null | sed -n '/^Group 1:/,/^Group 2:/ s/.*Inode table at \([0-9]*\)-\([0-9]*\).*/\1 \2/p' | head -1)
read -r it_first it_last <<< "$range"
[ -n "$it_last" ] || fail "no inode table for group 1"
bs=$(dumpe2fs_num itab.img "Block size")
make_random_file junk.bin "$bs" itab-junk
dd if=junk.bin of=itab.img bs="$bs" seek="$it_last" conv=notrunc status=none
e2fsck -fn itab.img > fsck.out 2>&1 || { cat fsck.out >&2; fail "planted source not clean"; }
run_imgtool backup -q itab.img itab.imgt
truncate -s 256M itab.out
run_imgtool restore -q --yes itab.imgt itab.out
e2fsck -fn itab.out > fsck.out 2>&1 || { cat fsck.out >&2; fail "restored fs with zeroed inode tables not clean"; }
cmp -s <(dd if=itab.out bs="$bs" skip="$it_last" count=1 status=none) <(head -c "$bs" /dev/zero) \
    || fail "an unused inode-table block was copied instead of zeroed"
fs_listing itab.img list.src
fs_listing itab.out list.dst
cmp -s list.src list.dst || fail "files differ after the inode-table zeroing"
note "unused inode tables: restored as zeros, not read"

# The log blocks of an empty journal (clean unmount, s_start 0) hold only
# stale transactions: they are restored as zeros and never read, the
# journal superblock is kept, and the filesystem stays clean and mountable.
truncate -s 256M jnl.img
mke2fs -F -q -t ext4 -T default -J size=16 -d tree jnl.img || fail "mke2fs jnl"
jblk1=$(debugfs -R "bmap <8> 1" jnl.img 2> /dev/null)
jblk0=$(debugfs -R "bmap <8> 0" jnl.img 2> /dev/null)
[ "${jblk1:-0}" -gt 0 ] || fail "no journal block 1"
bs=$(dumpe2fs_num jnl.img "Block size")
make_random_file stale.bin $((64 * bs)) jnl-stale
dd if=stale.bin of=jnl.img bs="$bs" seek="$jblk1" conv=notrunc status=none
e2fsck -fn jnl.img > fsck.out 2>&1 || { cat fsck.out >&2; fail "planted journal not clean"; }
run_imgtool backup -q jnl.img jnl.imgt
[ "$("$IMGTOOL" info jnl.imgt | sed -n 's/^used: *\([0-9]*\) bytes.*/\1/p')" = "$(ext_used_bytes jnl.img)" ] \
    || fail "the journal no longer counts as used"
head -c $((256 * MIB)) /dev/urandom > jnl.out
run_imgtool restore -q --yes jnl.imgt jnl.out
e2fsck -fn jnl.out > fsck.out 2>&1 || { cat fsck.out >&2; fail "restored fs with a zeroed journal not clean"; }
cmp -s <(dd if=jnl.out bs="$bs" skip="$jblk1" count=64 status=none) <(head -c $((64 * bs)) /dev/zero) \
    || fail "stale journal blocks were copied instead of zeroed"
cmp -s <(dd if=jnl.out bs="$bs" skip="$jblk0" count=1 status=none) \
    <(dd if=jnl.img bs="$bs" skip="$jblk0" count=1 status=none) || fail "journal superblock differs"
fs_listing jnl.img list.src
fs_listing jnl.out list.dst
cmp -s list.src list.dst || fail "files differ after the journal zeroing"
note "empty journal: log blocks restored as zeros, not read"
