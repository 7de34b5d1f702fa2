#!/bin/sh
# bootstrap.sh - install what imgtool needs to build and test (Debian 12,
# as root; only packages that are missing), then configure and build.
# Used by the README's first two commands and by CI.
set -e
cd "$(dirname "$0")/.."

# build dependencies, then the tools the tests and the demo drive
PKGS="build-essential autoconf automake libtool pkg-config
      libblkid-dev liblz4-dev libssl-dev check libext2fs-dev
      e2fsprogs dosfstools mtools fdisk gdisk util-linux openssl
      python3 xz-utils procps cryptsetup-bin btrfs-progs ntfs-3g exfatprogs exfat-fuse xfsprogs lvm2
      qemu-system-x86 linux-image-amd64 kmod busybox-static cpio grub-pc-bin
      grub-efi-amd64-bin grub2-common extlinux syslinux-common ovmf ipxe
      memtest86+ libfuse3-dev fuse3"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "bootstrap: missing packages:$missing (run as root, or apt-get install them)" >&2
        exit 1
    fi
    echo "bootstrap: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi

[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure -q
make -j"$(nproc)"
