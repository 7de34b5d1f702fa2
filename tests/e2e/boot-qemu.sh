#!/bin/bash
# boot-qemu.sh - restored disks must boot. Builds small disks that boot
# for real under QEMU (TCG) and checks each boots again after
# backup -> verify -> restore onto a target filled with random bytes:
#   grub-mbr : MBR, GRUB i386-pc (core.img in the gap after the MBR),
#              ext4 with 4 KiB blocks holding /boot; SeaBIOS
#   extlinux : MBR with syslinux's mbr.bin, extlinux's boot sector in the
#              first KiB of an ext4 with 1 KiB blocks (block 0, outside
#              every block group); SeaBIOS
#   gpt      : GPT with a BIOS boot partition (GRUB's core.img, no
#              filesystem), an ESP (FAT16, GRUB's BOOTX64.EFI with an
#              embedded config) and an ext4 /boot; booted by SeaBIOS and
#              by OVMF, restored onto a loop device
# Each loads Debian's kernel and a busybox initramfs whose /init prints
# "IMGTOOL-BOOT-OK loader=NAME" on the serial console and powers off.
# Then hybrid ISOs (iPXE: one partition at sector 0; memtest86+: a type-0
# partition at 0 and an ESP inside the ISO) written to a larger disk must
# restore byte-identical over the ISO's length.
# Needs root (loop mounts for grub-install/extlinux) and the packages in
# tests/bootstrap.sh; skips (77) when one is missing. Takes about 2 minutes
# (9 TCG boots of 10-20 s each, one QEMU at a time).

. "${top_srcdir:-.}/tests/e2e/lib.sh"
need_root
need_cmd qemu-system-x86_64 timeout sfdisk sgdisk mkfs.ext4 e2fsck debugfs \
    mkfs.fat fsck.fat mcopy mmd grub-install grub-mkimage extlinux busybox \
    cpio gzip losetup openssl cmp
[ -x "$IMGTOOL" ] || skip "no imgtool binary at $IMGTOOL"

KERNEL=$(ls -v /boot/vmlinuz-* 2> /dev/null | tail -n 1)
[ -n "$KERNEL" ] || skip "no /boot/vmlinuz-* (package linux-image-amd64)"
BUSYBOX=$(command -v busybox)
ldd "$BUSYBOX" > /dev/null 2>&1 && skip "$BUSYBOX is not static (package busybox-static)"
OVMF=/usr/share/ovmf/OVMF.fd
GRUB_PC=/usr/lib/grub/i386-pc
GRUB_EFI=/usr/lib/grub/x86_64-efi
SYSLINUX_MBR=/usr/lib/EXTLINUX/mbr.bin
LDLINUX=/usr/lib/syslinux/modules/bios/ldlinux.c32
IPXE_ISO=/usr/lib/ipxe/ipxe.iso
MEMTEST_ISO=/usr/lib/memtest86+/memtest86+x64.iso
for f in "$OVMF:ovmf" "$GRUB_PC/boot.img:grub-pc-bin" "$GRUB_EFI/linux.mod:grub-efi-amd64-bin" \
    "$SYSLINUX_MBR:extlinux" "$LDLINUX:syslinux-common" "$IPXE_ISO:ipxe" \
    "$MEMTEST_ISO:memtest86+"; do
    [ -r "${f%%:*}" ] || skip "no ${f%%:*} (package ${f##*:})"
done
setup
MIB=1048576
SECONDS=0

# --- helpers -------------------------------------------------------------

# boot NAME DISK bios|uefi LOADER : boot DISK read-only; the serial console
# must show "IMGTOOL-BOOT-OK loader=LOADER" within 120 s
boot() {
    local name=$1 disk=$2 fw=$3 loader=$4 rc start=$SECONDS
    local fwopt=()
    [ "$fw" = uefi ] && fwopt=(-bios "$OVMF")
    rm -f "$T/$name.serial"
    timeout 120 qemu-system-x86_64 -accel tcg -cpu max -m 512 -nodefaults \
        -display none -no-reboot -serial "file:$T/$name.serial" "${fwopt[@]}" \
        -drive "file=$disk,format=raw,if=virtio,readonly=on" \
        < /dev/null > "$T/$name.qemu" 2>&1
    rc=$?
    if ! tr -d '\r' < "$T/$name.serial" | grep -q "^IMGTOOL-BOOT-OK loader=$loader\$"; then
        echo "--- qemu (exit $rc):" >&2
        cat "$T/$name.qemu" >&2
        echo "--- last lines on the serial console of $name:" >&2
        tr -d '\r' < "$T/$name.serial" | tail -n 25 >&2
        return 1
    fi
    note "$name: booted ($fw, $loader) in $((SECONDS - start)) s"
}

# diff_report SRC OUT : where two disks differ, as 4 KiB-block ranges, for
# a failure message (free blocks legitimately differ: they hold random bytes)
diff_report() {
    echo "--- partition table of $1:" >&2
    sfdisk -d "$1" >&2
    echo "--- differing 4 KiB blocks of $1 vs $2 (first ranges, byte offsets):" >&2
    cmp -l "$1" "$2" | awk '{ b = int(($1 - 1) / 4096) }
        n && (b == last || b == last + 1) { last = b; next }
        { if (n) print start * 4096 "-" (last + 1) * 4096; start = last = b; n++ }
        END { if (n) print start * 4096 "-" (last + 1) * 4096 }' |
        head -n 30 >&2
}

# table_of DISK : sfdisk -d without the device name
table_of() { sfdisk -d "$1" | sed -e '/^device:/d' -e "s|^$1p\\?\\([0-9]* :\\)|\\1|"; }

# same_bytes A B OFFSET LENGTH : the range is identical in both files
same_bytes() {
    cmp -s <(tail -c +$(($3 + 1)) "$1" | head -c "$4") \
        <(tail -c +$(($3 + 1)) "$2" | head -c "$4")
}

# loop_detach DEV : detach now, and drop DEV from cleanup's list (the
# number may belong to another test's device by the time cleanup runs)
loop_detach() {
    local d i
    for d in "$@"; do
        losetup -d "$d" || fail "losetup -d $d"
        for i in "${!_loops[@]}"; do
            [ "${_loops[i]}" = "$d" ] && unset '_loops[i]'
        done
    done
    _loops=("${_loops[@]}")
}

# ext_check DISK OFFSET SIZE : e2fsck -fn of the ext4 at OFFSET
ext_check() {
    local dev
    dev=$(loop_attach "$1" -r -o "$2" --sizelimit "$3") || fail "losetup"
    loop_track "$dev"
    e2fsck -fn "$dev" > "$T/e2fsck.out" 2>&1 || { cat "$T/e2fsck.out" >&2; return 1; }
    loop_detach "$dev"
}

# round_trip NAME DISK TARGET : backup, verify, restore onto TARGET (a file
# or a device already filled with random bytes); the image must be small
round_trip() {
    local name=$1 disk=$2 target=$3 size img
    run_imgtool backup -q "$disk" "$name.img"
    run_imgtool verify -q "$name.img"
    run_imgtool restore -q --yes "$name.img" "$target"
    size=$(stat -c %s "$disk")
    img=$(stat -c %s "$name.img")
    note "$name: disk $size bytes, image $img bytes"
    [ $((img * 100 / size)) -lt 35 ] || fail "$name: image is $img bytes for a $size-byte disk: not just the used blocks"
    [ "$(table_of "$disk")" = "$(table_of "$target")" ] || fail "$name: partition tables differ"
}

# --- the initramfs: /init prints the line and powers off ----------------
# The line is put together at run time, so no config file or kernel
# command line holds it: only a running /init can print it.
mkdir -p initramfs/bin initramfs/dev initramfs/proc
cp "$BUSYBOX" initramfs/bin/busybox
mknod initramfs/dev/console c 5 1
cat > initramfs/init << 'EOF'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
L=$(/bin/busybox sed -n 's/.*imgtool\.loader=\([^ ]*\).*/\1/p' /proc/cmdline)
/bin/busybox echo "IMGTOOL-BOOT-$(/bin/busybox echo OK) loader=$L"
/bin/busybox poweroff -f
EOF
chmod 755 initramfs/init
(cd initramfs && find . | cpio -o -H newc --quiet | gzip -9) > initrd.gz || fail "building the initramfs"
APPEND="console=ttyS0 panic=-1"

# grub_cfg LOADER : a grub.cfg (or embedded config) that boots /boot/*
grub_cfg() {
    cat << EOF
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
echo "grub: root=\$root prefix=\$prefix"
linux /boot/vmlinuz $APPEND imgtool.loader=$1
initrd /boot/initrd.gz
boot
EOF
}

# populate_boot DIR : kernel and initramfs into DIR/boot
populate_boot() {
    mkdir -p "$1/boot" && cp "$KERNEL" "$1/boot/vmlinuz" && cp initrd.gz "$1/boot/initrd.gz"
}

# --- 1. MBR + GRUB i386-pc in the post-MBR gap, ext4 (4 KiB blocks) -----
note "building grub-mbr"
truncate -s 64M grub-mbr.raw
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q grub-mbr.raw || fail "sfdisk grub-mbr"
P1=$((2048 * 512)) P1SIZE=$((63 * MIB))
whole=$(loop_attach grub-mbr.raw) || fail "losetup"
loop_track "$whole"
part=$(loop_attach grub-mbr.raw -o $P1 --sizelimit $P1SIZE) || fail "losetup"
loop_track "$part"
mkfs.ext4 -q -F -b 4096 -L grubmbr "$part" || fail "mkfs.ext4 grub-mbr"
mkdir -p mnt
mount -t ext4 "$part" mnt || skip "cannot loop-mount ext4 here"
mount_track "$T/mnt"
populate_boot mnt || fail "copying the kernel"
mkdir -p mnt/boot/grub && grub_cfg grub-mbr > mnt/boot/grub/grub.cfg
# the boot directory is on another loop device than the disk: grub-install
# finds it by UUID, and needs part_msdos and ext2 in core.img
grub-install --target=i386-pc --boot-directory="$T/mnt/boot" \
    --modules="part_msdos ext2" "$whole" > grub-install.out 2>&1 ||
    { cat grub-install.out >&2; fail "grub-install (i386-pc, MBR)"; }
umount mnt || fail "umount"
loop_detach "$part" "$whole"
# core.img really is in the gap: sectors 1.. are not zero
[ -n "$(tail -c +513 grub-mbr.raw | head -c 32768 | tr -d '\0' | head -c 1)" ] ||
    fail "grub-install left the post-MBR gap empty"

boot grub-mbr-src grub-mbr.raw bios grub-mbr || fail "the source grub-mbr disk does not boot"
make_random_file grub-mbr.out $((64 * MIB)) grub-mbr-target
round_trip grub-mbr grub-mbr.raw grub-mbr.out
same_bytes grub-mbr.raw grub-mbr.out 0 $P1 || { diff_report grub-mbr.raw grub-mbr.out; fail "grub-mbr: the first MiB (MBR + core.img) differs"; }
ext_check grub-mbr.out $P1 $P1SIZE || fail "grub-mbr: restored ext4 is not clean"
boot grub-mbr-restored grub-mbr.out bios grub-mbr ||
    { diff_report grub-mbr.raw grub-mbr.out; fail "the restored grub-mbr disk does not boot"; }

# --- 2. MBR + extlinux, ext4 with 1 KiB blocks ---------------------------
note "building extlinux"
truncate -s 64M extlinux.raw
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q extlinux.raw || fail "sfdisk extlinux"
dd if="$SYSLINUX_MBR" of=extlinux.raw bs=440 count=1 conv=notrunc status=none
part=$(loop_attach extlinux.raw -o $P1 --sizelimit $P1SIZE) || fail "losetup"
loop_track "$part"
# extlinux 6.04 reads neither 64bit nor metadata_csum ext4
mkfs.ext4 -q -F -b 1024 -O ^64bit,^metadata_csum -L extlinux "$part" || fail "mkfs.ext4 extlinux"
mount -t ext4 "$part" mnt || fail "mounting extlinux"
mount_track "$T/mnt"
populate_boot mnt || fail "copying the kernel"
mkdir -p mnt/boot/syslinux && cp "$LDLINUX" mnt/boot/syslinux/
cat > mnt/boot/syslinux/extlinux.conf << EOF
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL /boot/vmlinuz
  INITRD /boot/initrd.gz
  APPEND $APPEND imgtool.loader=extlinux
EOF
extlinux --install mnt/boot/syslinux > extlinux.out 2>&1 || { cat extlinux.out >&2; fail "extlinux --install"; }
umount mnt || fail "umount"
loop_detach "$part"
# extlinux's boot sector is in the partition's first KiB, which the ext4
# block bitmap does not cover (s_first_data_block = 1)
[ "$(dd if=extlinux.raw bs=1 skip=$((P1 + 3)) count=8 status=none)" = SYSLINUX ] ||
    fail "no syslinux boot sector at the start of the partition"

boot extlinux-src extlinux.raw bios extlinux || fail "the source extlinux disk does not boot"
make_random_file extlinux.out $((64 * MIB)) extlinux-target
round_trip extlinux extlinux.raw extlinux.out
same_bytes extlinux.raw extlinux.out 0 $((P1 + 1024)) ||
    { diff_report extlinux.raw extlinux.out; fail "extlinux: the first MiB or the partition's boot block differs"; }
ext_check extlinux.out $P1 $P1SIZE || fail "extlinux: restored ext4 is not clean"
boot extlinux-restored extlinux.out bios extlinux ||
    { diff_report extlinux.raw extlinux.out; fail "the restored extlinux disk does not boot"; }

# --- 3. GPT: BIOS boot partition + ESP + ext4; SeaBIOS and OVMF ---------
note "building gpt"
truncate -s 96M gpt.raw
# p1 BIOS boot 1 MiB at 1 MiB, p2 ESP 40 MiB at 2 MiB, p3 ext4 the rest
sfdisk -q gpt.raw << 'EOF' || fail "sfdisk gpt"
label: gpt
start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649, name="bios"
start=4096, size=81920, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="esp"
start=86016, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="boot"
EOF
ESP=$((4096 * 512)) ESPSIZE=$((40 * MIB)) P3=$((86016 * 512))
P3SIZE=$(($(sfdisk -d gpt.raw | sed -n 's/.*start= *86016, size= *\([0-9]*\),.*/\1/p') * 512))
[ "$P3SIZE" -gt 0 ] || fail "no size for gpt partition 3"

# ESP: GRUB for x86_64-efi, its config embedded, the kernel in /boot
mkfs.fat -F 16 -h 4096 -n IMGESP -i 1a2b3c4d -C esp.fat $((ESPSIZE / 1024)) > /dev/null || fail "mkfs.fat"
grub_cfg grub-efi | sed 's|^echo|search --no-floppy --set=root --file /boot/imgtool-esp\necho|' > efi.cfg
grub-mkimage -O x86_64-efi -o BOOTX64.EFI -p /EFI/BOOT -c efi.cfg \
    part_gpt fat search search_fs_file linux echo serial terminal boot || fail "grub-mkimage"
populate_boot esp || fail "copying the kernel"
: > esp/boot/imgtool-esp
mkdir -p esp/EFI/BOOT && cp BOOTX64.EFI esp/EFI/BOOT/
mmd -i esp.fat ::EFI ::EFI/BOOT ::boot && mcopy -i esp.fat BOOTX64.EFI ::EFI/BOOT/BOOTX64.EFI &&
    mcopy -i esp.fat esp/boot/* ::boot/ || fail "mcopy into the ESP"
dd if=esp.fat of=gpt.raw bs=1M seek=2 conv=notrunc status=none
rm esp.fat

# ext4 /boot and GRUB i386-pc, core.img in the BIOS boot partition
whole=$(loop_attach gpt.raw) || fail "losetup"
loop_track "$whole"
part=$(loop_attach gpt.raw -o $P3 --sizelimit "$P3SIZE") || fail "losetup"
loop_track "$part"
mkfs.ext4 -q -F -L gptboot "$part" || fail "mkfs.ext4 gpt"
mount -t ext4 "$part" mnt || fail "mounting gpt p3"
mount_track "$T/mnt"
populate_boot mnt || fail "copying the kernel"
mkdir -p mnt/boot/grub && grub_cfg grub-gpt > mnt/boot/grub/grub.cfg
grub-install --target=i386-pc --boot-directory="$T/mnt/boot" \
    --modules="part_gpt ext2" "$whole" > grub-install.out 2>&1 ||
    { cat grub-install.out >&2; fail "grub-install (i386-pc, GPT)"; }
umount mnt || fail "umount"
loop_detach "$part" "$whole"
[ -n "$(tail -c +$((MIB + 1)) gpt.raw | head -c 32768 | tr -d '\0' | head -c 1)" ] ||
    fail "grub-install left the BIOS boot partition empty"
sgdisk -v gpt.raw > /dev/null 2>&1 || fail "sgdisk -v: the source GPT is not valid"

boot gpt-src-bios gpt.raw bios grub-gpt || fail "the source gpt disk does not boot (BIOS)"
boot gpt-src-uefi gpt.raw uefi grub-efi || fail "the source gpt disk does not boot (UEFI)"
# restore onto a loop device over random bytes
make_random_file gpt.out $((96 * MIB)) gpt-target
target=$(loop_attach gpt.out) || fail "losetup"
loop_track "$target"
round_trip gpt gpt.raw "$target"
loop_detach "$target"
sgdisk -v gpt.out > /dev/null 2>&1 || fail "sgdisk -v: the restored GPT is not valid"
[ "$(sgdisk -p gpt.raw | grep -v '^Disk gpt')" = "$(sgdisk -p gpt.out | grep -v '^Disk gpt')" ] ||
    fail "gpt: sgdisk -p differs"
# everything before p2 (tables, the BIOS boot partition) and the backup GPT
same_bytes gpt.raw gpt.out 0 $ESP || { diff_report gpt.raw gpt.out; fail "gpt: the tables or the BIOS boot partition differ"; }
same_bytes gpt.raw gpt.out $((96 * MIB - 33 * 512)) $((33 * 512)) || fail "gpt: the backup GPT differs"
dd if=gpt.out of=esp.out bs=1M skip=2 count=40 status=none
fsck.fat -n esp.out > fsck.out 2>&1 || { cat fsck.out >&2; fail "gpt: restored ESP is not clean"; }
for f in EFI/BOOT/BOOTX64.EFI boot/vmlinuz boot/initrd.gz; do
    rm -f got.bin
    mcopy -n -i esp.out "::$f" got.bin || fail "gpt: cannot read $f from the restored ESP"
    cmp -s got.bin "esp/$f" || fail "gpt: ESP file $f differs after restore"
done
rm esp.out got.bin
ext_check gpt.out $P3 "$P3SIZE" || fail "gpt: restored ext4 is not clean"
boot gpt-restored-bios gpt.out bios grub-gpt ||
    { diff_report gpt.raw gpt.out; fail "the restored gpt disk does not boot (BIOS)"; }
boot gpt-restored-uefi gpt.out uefi grub-efi ||
    { diff_report gpt.raw gpt.out; fail "the restored gpt disk does not boot (UEFI)"; }

# a bigger disk: imgtool moves the backup GPT to the new end; the
# partitions stay where they are and OVMF must still find the ESP
make_random_file gpt-big.out $((128 * MIB)) gpt-big-target
run_imgtool restore -q --yes gpt.img gpt-big.out
[ "$(stat -c %s gpt-big.out)" = $((128 * MIB)) ] || fail "gpt-big: the target changed size"
sgdisk -v gpt-big.out > sgdisk.out 2>&1 || { cat sgdisk.out >&2; fail "sgdisk -v: the GPT restored to a bigger disk is not valid"; }
[ "$(sgdisk -p gpt.raw | sed -n '/^Number/,$p')" = "$(sgdisk -p gpt-big.out | sed -n '/^Number/,$p')" ] ||
    fail "gpt-big: the partitions differ"
same_bytes gpt.raw gpt-big.out $((MIB)) $((MIB)) || fail "gpt-big: the BIOS boot partition differs"
boot gpt-big-restored-uefi gpt-big.out uefi grub-efi ||
    { diff_report gpt.raw gpt-big.out; fail "the gpt disk restored to a bigger disk does not boot (UEFI)"; }
rm gpt-big.out

# --- 4. hybrid ISOs written to a larger disk -----------------------------
# The ISO's partition entries overlap the ISO9660 filesystem (and each
# other's data): the whole ISO must come back byte for byte.
for iso in "$IPXE_ISO" "$MEMTEST_ISO"; do
    name=iso-$(basename "$iso" .iso)
    n=$(stat -c %s "$iso")
    disk=$((n + 2 * MIB))
    truncate -s $disk "$name.raw"
    dd if="$iso" of="$name.raw" conv=notrunc status=none
    run_imgtool backup "$name.raw" "$name.img" > /dev/null
    grep -qi iso9660 "$T/stderr" || { cat "$T/stderr" >&2; fail "$name: backup did not notice the ISO9660 filesystem"; }
    run_imgtool verify -q "$name.img"
    make_random_file "$name.out" $disk "$name-target"
    run_imgtool restore -q --yes "$name.img" "$name.out"
    cmp -n "$n" "$name.raw" "$name.out" || { diff_report "$name.raw" "$name.out"; fail "$name: the ISO is not restored byte-identical"; }
    [ "$(table_of "$name.raw")" = "$(table_of "$name.out")" ] || fail "$name: sfdisk -d differs"
    [ "$(sgdisk -p "$name.raw" 2>&1 | grep -v "^Disk ")" = "$(sgdisk -p "$name.out" 2>&1 | grep -v "^Disk ")" ] ||
        fail "$name: sgdisk -p differs"
    run_imgtool info "$name.img" > "$name.info"
    grep -q "copied in full" "$name.info" || { cat "$name.info" >&2; fail "$name: info does not show the ISO copied in full"; }
    grep -q "^source size: *$disk bytes" "$name.info" || fail "$name: info source size"
    note "$name: $n-byte ISO restored identical"
done

note "total $SECONDS s"
echo "boot-qemu: ok"
