#!/bin/bash
# A 256 MiB sparse disk file with random, text and zero regions and no
# filesystem: backup -> verify -> restore -> identical; the same through
# pipes; the image is much smaller than the mostly-zero source.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
setup

truncate -s 256M src.raw
make_random_file r1 $((20 << 20)) seed1
make_random_file r2 $((3 << 20)) seed2
dd if=r1 of=src.raw bs=1M seek=10 conv=notrunc status=none
dd if=r2 of=src.raw bs=1 seek=$((200 << 20 + 12345)) conv=notrunc status=none
yes "imgtool round trip text line" | head -c $((8 << 20)) | dd of=src.raw bs=1M seek=100 conv=notrunc status=none
# a run of written zeros (data, not a hole) and an unaligned tail
head -c $((4 << 20)) /dev/zero | dd of=src.raw bs=1M seek=150 conv=notrunc status=none
truncate -s $((256 * 1048576 + 1000)) src.raw

run_imgtool backup src.raw a.img
grep -q "no filesystem recognised; copying it in full" "$T/stderr" || fail "backup did not say it copies in full"
run_imgtool verify a.img
run_imgtool restore --yes a.img out.raw
cmp src.raw out.raw || fail "restored file differs"
[ "$(stat -c %s out.raw)" = "$(stat -c %s src.raw)" ] || fail "size differs"

# the image is small: ~23 MiB of random data, text compresses, zeros cost nothing
img=$(stat -c %s a.img)
note "source $(stat -c %s src.raw) bytes, image $img bytes"
[ "$img" -lt $((26 << 20)) ] || fail "image too large: $img"
# the restored file is sparse where the image holds zero chunks
[ "$(du -k out.raw | cut -f1)" -lt $((60 << 10)) ] || fail "restored file is not sparse"

# info describes it, as text and JSON
run_imgtool info a.img > info.txt
grep -q "^source size: *268436456 bytes" info.txt || fail "info: source size"
grep -q "^identity: *[0-9a-f]\{64\}$" info.txt || fail "info: identity"
id=$(sed -n 's/^identity: *//p' info.txt)
"$IMGTOOL" verify a.img | grep -q "identity $id" || fail "verify and info disagree on the identity"
run_imgtool info --json a.img > info.json
grep -q '"source_size": 268436456' info.json || fail "json: source_size"
grep -q "\"identity\": \"$id\"" info.json || fail "json: identity"
if command -v python3 > /dev/null; then
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["chunks"]==d["lz4_chunks"]+d["raw_chunks"]+d["zero_chunks"]' info.json \
        || fail "json does not parse or counts disagree"
fi

# --direct reads past the page cache and must give the very same image
run_imgtool backup -q --direct src.raw direct.img
[ "$(sed -n 's/^identity: *//p' <("$IMGTOOL" info direct.img))" = "$id" ] \
    || fail "--direct backup differs from the cached one"

# through pipes: backup - | restore -
"$IMGTOOL" backup -q src.raw - | "$IMGTOOL" restore -q --yes - piped.raw || fail "pipe round trip failed"
cmp src.raw piped.raw || fail "piped restore differs"
# and a stream image verifies from a pipe
cat a.img | "$IMGTOOL" verify -q - || fail "verify from a pipe failed"

# restoring onto an existing larger file leaves bytes beyond the image alone
truncate -s 300M big.raw
printf 'TAILMARK' | dd of=big.raw bs=1 seek=$((290 << 20)) conv=notrunc status=none
run_imgtool restore --yes a.img big.raw
cmp -n $(stat -c %s src.raw) src.raw big.raw || fail "restore to a bigger file differs"
[ "$(dd if=big.raw bs=1 skip=$((290 << 20)) count=8 status=none)" = TAILMARK ] || fail "bytes beyond the image were touched"
echo "roundtrip-raw: ok"
