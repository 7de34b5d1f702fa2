#!/bin/bash
# backup-restore-fat.sh - round trips of unpartitioned FAT12, FAT16 and FAT32
# files and of a swap superfloppy: backup, verify, restore onto a blank
# target, fsck.fat, compare every file, listing and timestamp, check the
# image holds no more than the used clusters and no deleted data.
# Needs no root: FAT is read and written with mtools, never mounted.

. "${top_srcdir:-.}/tests/e2e/lib.sh"
need_cmd mkfs.fat fsck.fat mcopy mmd mdel mdir mkswap blkid openssl
[ -x "$IMGTOOL" ] || skip "no imgtool binary at $IMGTOOL"
setup

# A string that exists only in a deleted file: it must not survive.
MARKER="deleted-marker-$$-$RANDOM-q7Zx"

# make_tree DIR : nested directories, many small files, a few MiB-size files
make_tree() {
    local d=$1 i
    mkdir -p "$d/docs/deep/deeper" "$d/many" "$d/big"
    for i in $(seq 1 150); do
        make_random_file "$d/many/f$i.dat" $((i * 37 % 3000)) "small$i"
    done
    for i in 1 2 3 4 5; do
        echo "note $i" > "$d/docs/deep/deeper/note$i.txt"
    done
    : > "$d/docs/empty"
    make_random_file "$d/big/one.bin" $((1024 * 1024)) big1
    make_random_file "$d/big/two.bin" $((1536 * 1024 + 123)) big2
}

# fsck_field IMG SED : a number from fsck.fat -n -v
fsck_field() { fsck.fat -n -v "$1" 2> /dev/null | sed -n "$2"; }
# fsck_summary IMG : "N files, U/T clusters"
fsck_summary() { fsck_field "$1" 's/^.*: \([0-9]* files, [0-9/]* clusters\)$/\1/p'; }

# files_of DIR : "path size mtime sha256" of every file, sorted (mcopy -m
# keeps the FAT timestamps)
files_of() {
    (cd "$1" && find . -type f -printf '%P %s %TY%Tm%Td%TH%TM%TS\n' | sort |
        while read -r p s t; do echo "$p $s $t $(sha_of "$p")"; done)
}

round_trip_fat() {
    local bits=$1 kib=$2 opts=$3 src=fat$1.img img=fat$1.imgt dst=fat$1.out
    local size used clus data used_bytes img_bytes

    note "FAT$bits: $kib KiB"
    mkfs.fat -F "$bits" $opts -C "$src" "$kib" > /dev/null || fail "mkfs.fat -F $bits"
    rm -rf tree && make_tree tree
    mcopy -s -i "$src" tree/* :: || fail "mcopy into FAT$bits"
    for i in $(seq 1 300); do echo "$MARKER"; done > secret.txt
    mcopy -i "$src" secret.txt ::docs/secret.txt || fail "mcopy secret"
    mdel -i "$src" ::docs/secret.txt ::many/f7.dat || fail "mdel"
    grep -q "$MARKER" "$src" || fail "FAT$bits: the deleted data is not in the source"
    fsck.fat -n "$src" > /dev/null || fail "FAT$bits: source not clean"

    run_imgtool backup -q "$src" "$img"
    run_imgtool verify -q "$img"
    size=$(stat -c %s "$src")
    truncate -s "$size" "$dst"
    run_imgtool restore -q --yes "$img" "$dst"

    fsck.fat -n "$dst" > fsck.out 2>&1 || { cat fsck.out >&2; fail "FAT$bits: fsck.fat -n on the restored file"; }
    [ -n "$(fsck_summary "$src")" ] && [ "$(fsck_summary "$src")" = "$(fsck_summary "$dst")" ] \
        || fail "FAT$bits: fsck summaries differ: '$(fsck_summary "$src")' '$(fsck_summary "$dst")'"
    rm -rf x.src x.dst && mkdir x.src x.dst
    mcopy -s -m -i "$src" ::/ x.src/ && mcopy -s -m -i "$dst" ::/ x.dst/ \
        || fail "FAT$bits: mcopy out"
    [ "$(files_of x.src)" = "$(files_of x.dst)" ] || fail "FAT$bits: file contents differ"
    [ "$(files_of x.src | wc -l)" -ge 157 ] || fail "FAT$bits: files missing from the source listing"
    mdir -/ -a -i "$src" :: > ls.src && mdir -/ -a -i "$dst" :: > ls.dst \
        || fail "FAT$bits: mdir"
    cmp -s ls.src ls.dst || { diff ls.src ls.dst >&2; fail "FAT$bits: listings differ"; }

    # Reserved sectors, FATs and root directory are byte-identical.
    data=$(fsck_field "$src" 's/^Data area starts at byte \([0-9]*\).*/\1/p')
    cmp -n "$data" "$src" "$dst" || fail "FAT$bits: metadata differs"

    # The image holds the used clusters and little else.
    used=$(fsck_field "$src" 's/.* \([0-9]*\)\/[0-9]* clusters$/\1/p')
    clus=$(fsck_field "$src" 's/^ *\([0-9]*\) bytes per cluster$/\1/p')
    used_bytes=$((data + used * clus))
    img_bytes=$(stat -c %s "$img")
    [ "$img_bytes" -le $((used_bytes + used_bytes / 50 + 256 * 1024)) ] \
        || fail "FAT$bits: image is $img_bytes bytes for $used_bytes used"
    note "FAT$bits: $used_bytes used bytes, image $img_bytes bytes, source $size"

    ! grep -q "$MARKER" "$img" || fail "FAT$bits: deleted data in the image"
    ! grep -q "$MARKER" "$dst" || fail "FAT$bits: deleted data in the restored file"
}

round_trip_fat 12 8192 ""
round_trip_fat 16 32768 ""
round_trip_fat 32 65536 "-S 512 -s 1"

# Swap superfloppy: only the header page is stored, and it comes back
# byte-identical over random junk.
note "swap"
uuid=4a6f6e61-7468-616e-2d73-776170303031
truncate -s 16M swap.img
mkswap -L lbl -U "$uuid" swap.img > /dev/null 2>&1 || fail "mkswap"
run_imgtool backup -q swap.img swap.imgt
run_imgtool verify -q swap.imgt
make_random_file swap.out $((16 * 1024 * 1024)) swapjunk
run_imgtool restore -q --yes swap.imgt swap.out
for tag in UUID LABEL TYPE; do
    [ "$(blkid -o value -s $tag swap.img)" = "$(blkid -o value -s $tag swap.out)" ] \
        || fail "swap: $tag differs"
done
[ "$(blkid -o value -s TYPE swap.out)" = swap ] || fail "swap: restored TYPE is not swap"
cmp -n 4096 swap.img swap.out || fail "swap: header page differs"
[ "$(stat -c %s swap.imgt)" -le $((256 * 1024)) ] \
    || fail "swap: image is $(stat -c %s swap.imgt) bytes for one page"
exit 0
