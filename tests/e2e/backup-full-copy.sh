#!/bin/bash
# What imgtool cannot see into is copied in full, and it says so: a LUKS
# partition, a partition of random bytes, and --raw. The restored bytes are
# identical, and info names the reason.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
need_cmd sfdisk cryptsetup python3 openssl
setup
MIB=1048576

truncate -s 64M disk.raw
sfdisk -q disk.raw <<PARTS || fail "sfdisk"
label: gpt
start=2048, size=24MiB, type=CA7D7CCB-63ED-4C53-861C-1742536059CC, name=secret
size=16MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=noise
PARTS
truncate -s 24M luks.raw
head -c 32 /dev/urandom > key
cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
    --key-file key luks.raw > /dev/null 2>&1 || skip "cryptsetup cannot format a file here"
# ciphertext-like content after the header
make_random_file body $((8 * MIB)) body
dd if=body of=luks.raw bs=1M seek=16 conv=notrunc status=none
part_place disk.raw $MIB luks.raw
make_random_file noise.raw $((16 * MIB)) noise
part_place disk.raw $((25 * MIB)) noise.raw

run_imgtool backup disk.raw disk.img
grep -q "partition 1: crypto_LUKS is not a filesystem imgtool reads; copying it in full" "$T/stderr" \
    || { cat "$T/stderr"; fail "no warning for the LUKS partition"; }
grep -q "partition 2: no filesystem recognised; copying it in full" "$T/stderr" \
    || fail "no warning for the random partition"
"$IMGTOOL" info disk.img > info.txt
grep -Eq "^  1 +partition .* crypto_LUKS .*copied in full: not supported" info.txt || { cat info.txt; fail "info: LUKS"; }
grep -Eq "^  2 +partition .*copied in full: unknown content" info.txt || fail "info: unknown"
[ "$(json_region_used disk.img 1)" = $((24 * MIB)) ] || fail "LUKS partition not stored in full"
truncate -s 64M out.raw
run_imgtool restore -q --yes disk.img out.raw
cmp -n $((41 * MIB)) disk.raw out.raw || fail "restored bytes differ"
part_extract out.raw $MIB $((24 * MIB)) luks.out
cryptsetup isLuks luks.out || fail "restored partition is not LUKS"

# --raw stores every byte, even of a filesystem it could read
run_imgtool backup -q --raw disk.raw raw.img
"$IMGTOOL" info raw.img | grep -q "^used: *67108864 bytes (raw: every byte)" || fail "--raw: not every byte"
echo "backup-full-copy: ok"
