#!/bin/bash
# imgtool export: the whole disk and one partition as sparse raw files,
# byte for byte; holes where the image stores nothing; refusals (existing
# output, unknown partition, a stream); a damaged chunk stops the export
# and leaves no file; qcow2 through qemu-img when it is installed.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
need_cmd sfdisk mke2fs e2fsck python3 openssl
setup
MIB=1048576

# a GPT disk: ext4 with files, a random partition, zeros everywhere else
mkdir tree && make_tree tree 100
truncate -s 100M disk.raw
sfdisk -q disk.raw <<PARTS || fail "sfdisk"
label: gpt
start=2048, size=64MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4
size=4MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4
PARTS
read -r p1 p2 <<< "$(sfdisk -d disk.raw | sed -n 's/.*start= *\([0-9]*\).*/\1/p' | tr '\n' ' ')"
p1=$((p1 * 512)); p2=$((p2 * 512))
truncate -s 64M root.raw
mke2fs -F -q -t ext4 -d tree root.raw || fail "mke2fs"
part_place disk.raw $p1 root.raw
make_random_file rnd.raw $((4 * MIB)) rnd
part_place disk.raw $p2 rnd.raw
run_imgtool backup -q disk.raw disk.img

# allocated BYTES of a file
allocated() { echo $(( $(stat -c %b "$1") * $(stat -c %B "$1") )); }

# --- the whole disk ---
run_imgtool export -q disk.img out.raw
[ "$(stat -c %s out.raw)" = "$(stat -c %s disk.raw)" ] || fail "out.raw has the wrong size"
cmp out.raw disk.raw || fail "the exported disk differs from the source"
used=$("$IMGTOOL" info --json disk.img | sed -n 's/.*"used_bytes": \([0-9]*\).*/\1/p')
alloc=$(allocated out.raw)
note "100 MiB disk: $used bytes used, out.raw allocates $alloc bytes"
[ "$alloc" -le $((used + MIB)) ] || fail "out.raw is not sparse: $alloc bytes allocated for $used used"
[ "$(stat -c %a out.raw)" = 600 ] || fail "out.raw is not mode 600"
"$IMGTOOL" export disk.img out2.raw > export.out 2> "$T/stderr" || fail "export"
grep -q "^out2.raw: 100.0 MiB, .* of data (the rest are holes)$" export.out || { cat export.out; fail "no summary"; }

# --- one partition ---
run_imgtool export -q --partition 1 disk.img p1.raw
cmp p1.raw root.raw || fail "partition 1 differs"
e2fsck -fn p1.raw > fsck.out 2>&1 || { cat fsck.out; fail "e2fsck on the exported partition"; }
run_imgtool export -q -p 2 disk.img p2.raw
cmp p2.raw rnd.raw || fail "partition 2 differs"

# --- refusals ---
sum=$(sha_of p1.raw)
assert_exit 4 "$IMGTOOL" export -p 1 disk.img p1.raw
assert_stderr_grep "^imgtool export: 'p1.raw' exists; use --force to replace it$"
[ "$(sha_of p1.raw)" = "$sum" ] || fail "a refused export changed p1.raw"
run_imgtool export -q --force -p 2 disk.img p1.raw
cmp p1.raw rnd.raw || fail "--force did not replace p1.raw"
assert_exit 4 "$IMGTOOL" export --force disk.img disk.img
assert_stderr_grep "is the image itself"
assert_exit 2 "$IMGTOOL" export -p 7 disk.img p7.raw
assert_stderr_grep "^imgtool export: 'disk.img' has no partition 7$"
[ -e p7.raw ] && fail "an export of no partition created a file"
assert_exit 2 "$IMGTOOL" export -p x disk.img px.raw
assert_stderr_grep "bad partition number 'x'"
assert_exit 2 sh -c "cat disk.img | '$IMGTOOL' export - s.raw"
assert_stderr_grep "needs an image file, not a stream"
assert_exit 2 "$IMGTOOL" export -O vmdk disk.img v.raw
assert_stderr_grep "unknown format 'vmdk'"
assert_exit 1 "$IMGTOOL" export nope.img n.raw
assert_stderr_grep "^imgtool export: cannot open 'nope.img'"

# --- a damaged chunk: exit 3, the chunk named, no output left ---
chunk=$("$IMGTOOL" info --json disk.img | sed -n 's/.*"chunk_size": \([0-9]*\).*/\1/p')
cstart=$(( (p2 + MIB) / chunk * chunk ))
cp disk.img bad.img
python3 - <<'EOF' || fail "could not damage the image"
import sys
sample = open("rnd.raw", "rb").read()[1 << 20:(1 << 20) + 64]
img = bytearray(open("bad.img", "rb").read())
pos = img.find(sample)
if pos < 0:
    sys.exit(1)
img[pos + 7] ^= 0x55
open("bad.img", "wb").write(img)
EOF
assert_exit 3 "$IMGTOOL" export bad.img bad.raw
assert_stderr_grep "damaged chunk at offset $cstart "
assert_stderr_grep "^imgtool export: 'bad.img': chunk at offset $cstart is damaged$"
[ -e bad.raw ] && fail "a failed export left bad.raw"
# the undamaged partition still exports
run_imgtool export -q -p 1 bad.img bad1.raw
cmp bad1.raw root.raw || fail "partition 1 of the damaged image differs"

# --- qcow2 ---
if command -v qemu-img > /dev/null; then
    run_imgtool export -q --format qcow2 disk.img out.qcow2
    [ "$(qemu-img info --output=json out.qcow2 | python3 -c 'import json,sys; print(json.load(sys.stdin)["format"])')" = qcow2 ] \
        || fail "out.qcow2 is not qcow2"
    qemu-img convert -f qcow2 -O raw out.qcow2 back.raw || fail "qemu-img convert back"
    cmp back.raw disk.raw || fail "the qcow2 export differs"
    ls out.qcow2.raw-* > /dev/null 2>&1 && fail "the temporary raw file was left"
else
    note "qemu-img not installed: qcow2 export not tested"
    assert_exit 1 "$IMGTOOL" export --format qcow2 disk.img out.qcow2
    assert_stderr_grep "qcow2 needs qemu-img"
fi
echo "export: ok"
