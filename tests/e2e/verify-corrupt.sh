#!/bin/bash
# Damage is found and named: a flipped byte inside a chunk makes verify
# exit 3 naming that chunk's offset; restore refuses the image before
# writing; a streamed restore stops at the damage and says what it wrote;
# truncated images and random files get one clear line.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
setup

# 8 MiB, random data only in the chunk at 5 MiB: all other chunks are zero
# chunks without payload, so the middle of the image is that chunk's data.
truncate -s 8M src.raw
make_random_file r $((1 << 20)) seed3
dd if=r of=src.raw bs=1M seek=5 conv=notrunc status=none
run_imgtool backup -q --chunk-size 1M src.raw good.img
cp good.img bad.img
size=$(stat -c %s bad.img)
pos=$((size / 2))
orig=$(od -An -tu1 -j $pos -N1 bad.img | tr -d ' ')
printf "$(printf '\\%03o' $(( (orig + 1) % 256 )))" | dd of=bad.img bs=1 seek=$pos conv=notrunc status=none
cmp -s good.img bad.img && fail "corruption did not change the file"

assert_exit 3 "$IMGTOOL" verify bad.img
assert_stderr_grep "damaged chunk at offset 5242880: .*checksum mismatch"
assert_stderr_grep "1 of 8 chunks are damaged"
# the same through a pipe
assert_exit 3 sh -c "cat bad.img | '$IMGTOOL' verify -q -"
assert_stderr_grep "damaged chunk at offset 5242880"

# restore refuses before writing: the target stays byte-identical
make_random_file target.raw $((8 << 20)) seed4
before=$(sha_of target.raw)
assert_exit 3 "$IMGTOOL" restore --yes bad.img target.raw
assert_stderr_grep "image check failed, nothing was written to 'target.raw'"
[ "$(sha_of target.raw)" = "$before" ] || fail "refused restore modified the target"
assert_exit 3 "$IMGTOOL" restore --yes bad.img new.raw
[ -e new.raw ] && fail "refused restore created the target"

# a damaged header: refused before anything is written to an existing target
cp good.img badhdr.img
printf '\x07' | dd of=badhdr.img bs=1 seek=62 conv=notrunc status=none
assert_exit 3 "$IMGTOOL" restore --yes badhdr.img target.raw
assert_stderr_grep "'badhdr.img': (header checksum mismatch|bad chunk size)"
[ "$(sha_of target.raw)" = "$before" ] || fail "restore of a damaged header modified the target"

# a stream cannot be checked ahead: it stops at the bad chunk and reports
# (a new file is removed; an existing target is marked unusable: its
# partition table is never written)
assert_exit 3 sh -c "cat bad.img | '$IMGTOOL' restore -q --yes - streamed.raw"
assert_stderr_grep "^imgtool restore: the new file 'streamed.raw' was removed: 'standard input': chunk at offset 5242880: checksum mismatch$"
assert_stderr_lines 1
[ -e streamed.raw ] && fail "a failed restore left the file it created"
cp target.raw streamed.raw
assert_exit 3 sh -c "cat bad.img | '$IMGTOOL' restore -q --yes - streamed.raw"
assert_stderr_grep "^imgtool restore: restore incomplete: 'streamed.raw' holds restored data only below offset 5242880, and no partition table; do not use it: 'standard input': chunk at offset 5242880: checksum mismatch$"
assert_stderr_lines 1

# truncated images: clear one-line errors from verify, info and restore
for cut in 100 300 $((size / 2)) $((size - 1)); do
    head -c $cut good.img > trunc.img
    assert_exit 3 "$IMGTOOL" verify trunc.img
    assert_stderr_grep "^imgtool verify: 'trunc.img'.*(truncated|too short|footer missing)"
    assert_stderr_lines 1
    assert_exit 3 "$IMGTOOL" info trunc.img
    assert_exit 3 "$IMGTOOL" restore --yes trunc.img t.raw
    [ -e t.raw ] && fail "restore of a truncated image created a target"
done
# a stream that ends early
assert_exit 3 sh -c "head -c $((size / 2)) good.img | '$IMGTOOL' verify -q -"
assert_stderr_grep "truncated"

# a file of random bytes, and an empty file
make_random_file junk.img 100000 seed5
assert_exit 3 "$IMGTOOL" verify junk.img
assert_stderr_grep "^imgtool verify: 'junk.img' is not an imgtool image \(bad magic\)$"
: > empty.img
assert_exit 3 "$IMGTOOL" verify empty.img
assert_stderr_grep "'empty.img' is too short to be an imgtool image"
# the sound image still verifies
run_imgtool verify good.img
echo "verify-corrupt: ok"
