#!/usr/bin/env bash
# Builds the guest's initramfs from this machine's own binaries: busybox-static for the shell and
# small tools, util-linux, cryptsetup, lvm2, mdadm, btrfs-progs, e2fsprogs, thin-provisioning-tools,
# kmod and udev, each with the shared libraries ldd lists; the kernel modules the layouts need,
# taken with their dependencies from the unpacked Debian kernel. The guest init and the layouts
# go in as /init and /etc/layouts.sh; /skel is what every layout's root filesystem gets (lsblk,
# dmsetup and the libraries they and node need), so the agent finds its tools where a system has them.
#   build-initramfs.sh KERNEL_DIR NODE_BINARY OUT_FILE
set -euo pipefail

kdir="$1"
node="$2"
out="$3"
here="$(cd "$(dirname "$0")" && pwd)"
kver="$(basename "$(ls -d "$kdir"/lib/modules/*/ | head -n 1)")"

root="$(mktemp -d "${TMPDIR:-/tmp}/posture-initramfs.$$.XXXXXX")"
trap 'rm -rf "$root"' EXIT

TOOLS=(
  /usr/bin/busybox /usr/bin/dash
  /usr/bin/lsblk /usr/sbin/blkid /usr/sbin/losetup /usr/sbin/swapon /usr/sbin/swapoff /usr/sbin/mkswap
  /usr/sbin/zramctl /usr/sbin/sfdisk /usr/sbin/wipefs /usr/sbin/blkdiscard /usr/bin/mount /usr/bin/umount
  /usr/sbin/chroot /usr/sbin/blockdev /usr/bin/findmnt /usr/bin/fallocate /usr/bin/chattr
  /usr/sbin/cryptsetup /usr/sbin/integritysetup /usr/sbin/veritysetup /usr/sbin/dmsetup
  /usr/sbin/lvm /usr/sbin/mdadm /usr/sbin/mke2fs /usr/sbin/mkfs.ext4 /usr/sbin/mkfs.btrfs /usr/bin/btrfs
  /usr/sbin/pdata_tools /usr/sbin/thin_check /usr/sbin/cache_check
  /usr/bin/udevadm /usr/lib/systemd/systemd-udevd
  /usr/bin/kmod /usr/sbin/modprobe /usr/sbin/insmod /usr/sbin/depmod
)
LVM_COMMANDS=(pvcreate vgcreate lvcreate lvconvert vgchange lvchange vgremove pvs vgs lvs pvscan vgscan)
MODULES=(
  virtio_pci virtio_blk virtio_console 9p 9pnet_virtio loop
  dm-mod dm-crypt dm-integrity dm-verity dm-raid dm-mirror dm-snapshot dm-thin-pool dm-cache dm-cache-smq
  dm-writecache md-mod raid0 raid1 linear ext4 btrfs
  xts cbc essiv sha256_generic sha512_generic hmac authenc algif_skcipher algif_hash crc32c_generic
  libcrc32c xxhash_generic blake2b_generic zram crypto_null ecb
)

# copy_file PATH: the file at the same path (symlinks kept, their targets copied too).
copy_file() {
  local src="$1" dst="$root$1"
  [ -e "$dst" ] || [ -L "$dst" ] && return 0
  mkdir -p "$(dirname "$dst")"
  if [ -L "$src" ]; then
    local target
    target="$(readlink "$src")"
    ln -s "$target" "$dst"
    case "$target" in
      /*) copy_file "$target" ;;
      *) copy_file "$(cd "$(dirname "$src")" && realpath -s "$target")" ;;
    esac
  else
    cp -p "$src" "$dst"
  fi
}

# copy_libs BINARY DEST_ROOT: the shared libraries ldd lists, at their paths.
copy_libs() {
  local lib
  for lib in $(ldd "$1" 2>/dev/null | grep -o '/[^ ]*' | sort -u); do
    copy_file "$lib"
  done
}

for d in usr/bin usr/sbin usr/lib usr/lib64 etc proc sys dev run tmp mnt sysroot agent nodebin out; do
  mkdir -p "$root/$d"
done
for d in bin sbin lib lib64; do ln -s "usr/$d" "$root/$d"; done

for tool in "${TOOLS[@]}"; do
  [ -e "$tool" ] || { echo "build-initramfs: $tool is missing on this machine" >&2; exit 3; }
  copy_file "$tool"
  copy_libs "$(readlink -f "$tool")"
done
for c in "${LVM_COMMANDS[@]}"; do ln -sf lvm "$root/usr/sbin/$c"; done
# glibc loads libgcc_s when a thread is cancelled; lvm and udev use threads.
copy_file "$(ldconfig -p | awk '/libgcc_s.so.1 .*x86-64/ { print $NF; exit }')"
# Busybox fills in every small tool the real packages above do not provide.
for applet in $(/usr/bin/busybox --list); do
  [ -e "$root/usr/bin/$applet" ] || [ -e "$root/usr/sbin/$applet" ] || ln -s busybox "$root/usr/bin/$applet"
done

# udev: the rules and helpers of this machine, so /dev/mapper, /dev/disk/by-* and the udev
# database (which lsblk reads) look as on a booted system.
mkdir -p "$root/usr/lib/udev" "$root/etc/udev"
cp -a /usr/lib/udev/rules.d "$root/usr/lib/udev/"
for helper in /usr/lib/udev/*; do
  [ -f "$helper" ] && [ -x "$helper" ] && { copy_file "$helper"; copy_libs "$helper"; }
done
[ -f /etc/udev/udev.conf ] && cp /etc/udev/udev.conf "$root/etc/udev/"
mkdir -p "$root/etc/lvm"
cat > "$root/etc/lvm/lvm.conf" <<'CONF'
devices { use_devicesfile = 0 }
global { thin_check_executable = "/usr/sbin/thin_check" cache_check_executable = "/usr/sbin/cache_check" }
activation { udev_sync = 1 udev_rules = 1 }
CONF
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\ndisk:x:6:\ntty:x:5:\nkmem:x:15:\ndialout:x:20:\ncdrom:x:24:\ntape:x:26:\naudio:x:29:\nvideo:x:44:\nkvm:x:104:\ninput:x:105:\nrender:x:106:\nsgx:x:107:\n' > "$root/etc/group"
printf 'ANY\n' > "$root/etc/mdadm.conf"

# Kernel modules with their dependencies, then depmod for this subset.
mdir="lib/modules/$kver"
mkdir -p "$root/usr/$mdir"
for m in "${MODULES[@]}"; do
  /usr/sbin/modprobe -d "$kdir" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" { print $2 }' |
    while read -r ko; do
      rel="${ko#"$kdir"/}"
      rel="${rel#usr/}"
      mkdir -p "$(dirname "$root/usr/$rel")"
      cp -n "$ko" "$root/usr/$rel"
    done
done
cp "$kdir/$mdir"/modules.{order,builtin,builtin.modinfo} "$root/usr/$mdir/"
/usr/sbin/depmod -b "$root" "$kver"
printf '%s\n' "${MODULES[@]}" | grep -vx zram > "$root/etc/modules"

# /skel: copied onto each layout's root filesystem: what the collector runs (lsblk; dmsetup, which it
# uses when it is root) and the libraries of those and of node.
skel="$root/skel"
mkdir -p "$skel"/{usr/bin,usr/sbin,usr/lib,usr/lib64,etc,proc,sys,dev,run,tmp,home,opt/posture,opt/node,boot}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$skel/$d"; done
(
  root="$skel"
  copy_file /usr/bin/lsblk
  copy_libs /usr/bin/lsblk
  copy_file /usr/sbin/dmsetup
  copy_libs /usr/sbin/dmsetup
  copy_libs "$node"
)
cp "$root/etc/passwd" "$root/etc/group" "$skel/etc/"
# A static busybox for the guest's file reads inside the root (cat, test, stat run there, so
# /proc/self/* is the view of a process in that root).
mkdir -p "$skel/usr/lib/posture-qemu"
cp /usr/bin/busybox "$skel/usr/lib/posture-qemu/busybox"

install -m 0755 "$here/guest-init.sh" "$root/init"
install -m 0644 "$here/layouts.sh" "$root/etc/layouts.sh"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 > "$out"
