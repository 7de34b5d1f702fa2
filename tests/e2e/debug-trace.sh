#!/bin/bash
# IMGTOOL_DEBUG traces the engine's decisions on stderr, per area, and
# nothing without it: the scanner's view of each filesystem, the images
# opened, what restore writes where, and the locks and held-back areas.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
need_cmd mke2fs sfdisk
setup
MIB=1048576

mkdir root && make_random_file root/data.bin $((3 * MIB)) data
truncate -s 40M disk.raw
printf 'label: gpt\nstart=2048, size=30MiB, type=L\n' | sfdisk -q disk.raw || fail "sfdisk"
truncate -s 30M p1.raw
mke2fs -F -q -t ext4 -b 1024 -d root p1.raw || fail "mke2fs"
part_place disk.raw $MIB p1.raw

# off by default: no debug line at all
assert_exit 0 "$IMGTOOL" backup -q disk.raw plain.img
grep -q "debug" "$T/stderr" && fail "debug lines without IMGTOOL_DEBUG"

# scan: one line per filesystem, with its block size and used bytes
export IMGTOOL_DEBUG=scan
assert_exit 0 "$IMGTOOL" backup -q disk.raw a.img
assert_stderr_grep "^imgtool backup: debug scan: partition 1: ext4, 1024-byte blocks, [0-9]+ bytes used in [0-9]+ extents$"
grep -q "debug lock" "$T/stderr" && fail "an area that was not asked for was traced"

# restore, image and lock, together
export IMGTOOL_DEBUG=restore,image,lock
assert_exit 0 "$IMGTOOL" restore -q --yes a.img out.raw
assert_stderr_grep "^imgtool restore: debug image: 'a.img': file, format [0-9]+, 41943040-byte disk, 2097152-byte chunks, [0-9]+ index entries$"
assert_stderr_grep "^imgtool restore: debug restore: bytes 0-41943040 of the image's disk go to new 'out.raw' \(41943040 bytes\) at 0$"
assert_stderr_grep "^imgtool restore: debug lock: 'out.raw': exclusive lock taken$"
assert_stderr_grep "^imgtool restore: debug lock: 'out.raw': bytes 0-1048576 held back, written last$"
cmp out.raw disk.raw || fail "the traced restore differs"

# an unknown area is named in a warning; the known ones still trace
export IMGTOOL_DEBUG=bogus,image
assert_exit 0 "$IMGTOOL" verify -q a.img
assert_stderr_grep "^imgtool verify: warning: IMGTOOL_DEBUG='bogus,image': the areas are scan, image, restore, lock, view and all$"
assert_stderr_grep "^imgtool verify: debug image: 'a.img'"
echo "debug-trace: ok"
