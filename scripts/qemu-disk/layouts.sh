# Storage layouts, sourced by the guest's /init. Each `layout_<name>` builds one layout on the
# blank virtual disks (/dev/vda … /dev/vdd), mounts it at /sysroot as a booted system would, and
# declares the truth for every volume the Linux check looks at: `/`, a separate `/home`, each
# swap area. `truth ROLE WHERE STATE [METHOD]`:
#   ROLE   system | home | swap
#   WHERE  / or /home; for swap the device or file as given to swapon (inside the system root)
#   STATE  encrypted | unencrypted | not_persistent
#   METHOD for encrypted volumes, the dm-crypt kind: LUKS1, LUKS2, PLAIN
# Kept tiny and fast for software emulation: pbkdf2 with 1000 iterations, small disks.

KEY=/tmp/posture-key
[ -f "$KEY" ] || head -c 64 /dev/urandom > "$KEY"
LUKS_FAST="--batch-mode --key-file $KEY --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --hash sha256"

truth() {
  where="$2"
  if [ "$1" = swap ]; then
    case "$where" in /dev/*) where="$(readlink -f "$where")" ;; esac
  fi
  echo "$1 $where $3 ${4:-}" >> "$OUT/truth"
}

# luks TYPE DEVICE NAME [cryptsetup luksFormat options…]
luks() {
  type="$1" dev="$2" name="$3"
  shift 3
  cryptsetup luksFormat --type "$type" $LUKS_FAST "$@" "$dev"
  cryptsetup open --key-file "$KEY" "$dev" "$name"
}

# plain DEVICE NAME [KEYFILE]: plain dm-crypt; /dev/urandom as key file makes a one-boot key.
plain() {
  cryptsetup open --type plain --batch-mode --cipher aes-xts-plain64 --key-size 256 \
    --key-file "${3:-$KEY}" "$1" "$2"
}

gpt() { # gpt DISK SIZE…: partitions of the given sizes, the last one takes the rest
  dev="$1"
  shift
  { echo "label: gpt"; for s in "$@"; do echo ",$s"; done; echo ","; } | sfdisk -q "$dev"
  udevadm settle
}

sysmounts() {
  mount -t proc proc /sysroot/proc
  mount -t sysfs sysfs /sysroot/sys
  mount -t devtmpfs devtmpfs /sysroot/dev
  mount --bind /run /sysroot/run
}

# mkroot DEVICE [mkfs]: a filesystem on DEVICE mounted as the system root, with the skeleton.
mkroot() {
  mkfs.ext4 -q -F "$1"
  mount "$1" /sysroot
  cp -a /skel/. /sysroot/
  sysmounts
}

mkhome() {
  mkfs.ext4 -q -F "$1"
  mount "$1" /sysroot/home
}

mkboot() {
  mkfs.ext4 -q -F "$1"
  mount "$1" /sysroot/boot
}

# swapdev DEVICE: swap on a block device, activated through the system's own /dev.
swapdev() {
  mkswap -q "$1"
  swapon "/sysroot$1"
}

# swapfile PATH SIZE_MB: a swap file inside the system root.
swapfile() {
  dd if=/dev/zero of="/sysroot$1" bs=1M count="$2" 2>/dev/null
  chmod 600 "/sysroot$1"
  mkswap -q "/sysroot$1"
  swapon "/sysroot$1"
}

lvcreate_quiet() { lvcreate -q -y -W n -Z y "$@"; }
lvcreate_pool() { lvcreate -q -y "$@"; }

debug_dump() {
  lsblk -o NAME,KNAME,MAJ:MIN,TYPE,FSTYPE,UUID,MOUNTPOINTS
  dmsetup table
  dmsetup info -c -o name,uuid
  cat /proc/swaps /proc/mdstat
  lvs -a -o +devices 2>/dev/null
}

collect() {
  mount --bind /agent /sysroot/opt/posture
  mount --bind /nodebin /sysroot/opt/node
  chroot /sysroot "/opt/node/$NODE_NAME" /opt/posture/scripts/qemu-disk/guest-collect.mjs "$1"
}

teardown() {
  swapoff -a
  umount -R /sysroot 2>/dev/null || umount -R -l /sysroot
  for z in /sys/block/zram*; do [ -e "$z" ] && zramctl --reset "/dev/${z##*/}"; done
  vgchange -q -an 2>/dev/null
  for _ in 1 2 3; do
    mdadm --stop --scan 2>/dev/null
    dmsetup remove_all 2>/dev/null
  done
  losetup -D
  udevadm settle
  for d in $DISKS; do
    blkdiscard -f "/dev/$d" 2>/dev/null || dd if=/dev/zero of="/dev/$d" bs=1M count=64 2>/dev/null
  done
  rm -f /tmp/*.hdr
  udevadm settle
}

# ── roots ────────────────────────────────────────────────────────────────────────────────────

layout_luks1_root() {
  luks luks1 /dev/vda cr_root
  mkroot /dev/mapper/cr_root
  truth system / encrypted LUKS1
}

layout_luks2_root_boot_partition() {
  gpt /dev/vda 32M
  luks luks2 /dev/vda2 cr_root
  mkroot /dev/mapper/cr_root
  mkboot /dev/vda1
  truth system / encrypted LUKS2
}

layout_plain_dmcrypt_root() {
  plain /dev/vda cr_root
  mkroot /dev/mapper/cr_root
  truth system / encrypted PLAIN
}

layout_luks2_cipher_null_root() {
  # A LUKS2 header whose data segment uses cipher_null: a CRYPT-LUKS2 uuid, and nothing encrypted.
  # Only `dmsetup table` (root) shows it; the collector runs as root here, as the agent service does.
  luks luks2 /dev/vda cr_root --cipher cipher_null-ecb
  mkroot /dev/mapper/cr_root
  truth system / unencrypted
}

layout_luks2_detached_header() {
  # The header lives elsewhere (here in the initramfs); the disk itself has no LUKS signature.
  cryptsetup luksFormat --type luks2 $LUKS_FAST --header /tmp/root.hdr /dev/vda
  cryptsetup open --key-file "$KEY" --header /tmp/root.hdr /dev/vda cr_root
  mkroot /dev/mapper/cr_root
  truth system / encrypted LUKS2
}

layout_luks2_authenticated_integrity() {
  # LUKS2 with dm-integrity beneath dm-crypt (authenticated encryption): two crypt-typed layers.
  gpt /dev/vda 40M
  luks luks2 /dev/vda1 cr_root --cipher aes-xts-plain64 --integrity hmac-sha256
  mkroot /dev/mapper/cr_root
  truth system / encrypted LUKS2
}

layout_integrity_only_root() {
  # dm-integrity alone checksums sectors; it encrypts nothing. lsblk still calls it "crypt".
  gpt /dev/vda 40M
  integritysetup format --batch-mode /dev/vda1
  integritysetup open /dev/vda1 int_root
  mkroot /dev/mapper/int_root
  truth system / unencrypted
}

layout_verity_root() {
  # A read-only, verified root (immutable distributions): dm-verity proves integrity, not secrecy.
  mkfs.ext4 -q -F -b 4096 -O ^has_journal /dev/vda
  mount /dev/vda /sysroot
  cp -a /skel/. /sysroot/
  umount /sysroot
  veritysetup format /dev/vda /dev/vdb > /tmp/verity.txt
  hash="$(awk '/^Root hash:/ { print $3 }' /tmp/verity.txt)"
  veritysetup open /dev/vda vroot /dev/vdb "$hash"
  mount -o ro /dev/mapper/vroot /sysroot
  sysmounts
  truth system / unencrypted
}

layout_dm_linear_root() {
  dmsetup create lin_root --table "0 $(blockdev --getsz /dev/vda) linear /dev/vda 0"
  mkroot /dev/mapper/lin_root
  truth system / unencrypted
}

# ── LVM and LUKS ─────────────────────────────────────────────────────────────────────────────

layout_lvm_on_luks() {
  gpt /dev/vda 32M
  luks luks2 /dev/vda2 cr_pv
  pvcreate -q /dev/mapper/cr_pv
  vgcreate -q vg0 /dev/mapper/cr_pv
  lvcreate_quiet -L 64M -n root vg0
  lvcreate_quiet -L 48M -n home vg0
  lvcreate_quiet -L 16M -n swap vg0
  mkroot /dev/vg0/root
  mkboot /dev/vda1
  mkhome /dev/vg0/home
  swapdev /dev/mapper/vg0-swap
  truth system / encrypted LUKS2
  truth home /home encrypted LUKS2
  truth swap /dev/mapper/vg0-swap encrypted LUKS2
}

layout_luks_on_lvm() {
  pvcreate -q /dev/vda
  vgcreate -q vg1 /dev/vda
  lvcreate_quiet -L 96M -n root vg1
  lvcreate_quiet -L 16M -n swap vg1
  luks luks2 /dev/vg1/root cr_root
  mkroot /dev/mapper/cr_root
  swapdev /dev/mapper/vg1-swap
  truth system / encrypted LUKS2
  truth swap /dev/mapper/vg1-swap unencrypted
}

layout_vg_spans_luks_and_plain() {
  # One volume group on an encrypted PV and a plain PV. /home was allocated on the encrypted PV
  # only; / spans both, so part of it is written in the clear.
  luks luks2 /dev/vda cr_pv
  pvcreate -q /dev/mapper/cr_pv /dev/vdb
  vgcreate -q vg2 /dev/mapper/cr_pv /dev/vdb
  lvcreate_quiet -L 64M -n home vg2 /dev/mapper/cr_pv
  lvcreate_quiet -l 100%FREE -n root vg2
  mkroot /dev/vg2/root
  mkhome /dev/vg2/home
  truth system / unencrypted
  truth home /home encrypted LUKS2
}

layout_lvm_raid1_legs() {
  # / is a raid1 LV with one leg on LUKS and one on a plain disk; /home is raid1 over two LUKS PVs.
  luks luks2 /dev/vda cr_a
  luks luks2 /dev/vdc cr_c
  luks luks2 /dev/vdd cr_d
  pvcreate -q /dev/mapper/cr_a /dev/vdb /dev/mapper/cr_c /dev/mapper/cr_d
  vgcreate -q vgr /dev/mapper/cr_a /dev/vdb
  vgcreate -q vgh /dev/mapper/cr_c /dev/mapper/cr_d
  lvcreate_quiet --type raid1 -m 1 --nosync -L 64M -n root vgr
  lvcreate_quiet --type raid1 -m 1 --nosync -L 64M -n home vgh
  mkroot /dev/vgr/root
  mkhome /dev/vgh/home
  truth system / unencrypted
  truth home /home encrypted LUKS2
}

layout_lvm_snapshot_cow_on_plain_disk() {
  # / is an LV on a LUKS PV with a classic (copy-on-write) snapshot whose store is on a plain PV of
  # the same volume group: every first write to a block of / copies its old content there first.
  luks luks2 /dev/vda cr_pv
  pvcreate -q /dev/mapper/cr_pv /dev/vdb
  vgcreate -q vgs /dev/mapper/cr_pv /dev/vdb
  lvcreate_quiet -L 96M -n root vgs /dev/mapper/cr_pv
  lvcreate_quiet -L 48M -n home vgs /dev/mapper/cr_pv
  mkfs.ext4 -q -F /dev/vgs/root
  lvcreate -q -y -s -L 32M -n root_snap vgs/root /dev/vdb
  mount /dev/vgs/root /sysroot
  cp -a /skel/. /sysroot/
  sysmounts
  mkhome /dev/vgs/home
  truth system / unencrypted
  truth home /home encrypted LUKS2
}

layout_lvm_thin_on_luks() {
  luks luks2 /dev/vda cr_pv
  pvcreate -q /dev/mapper/cr_pv
  vgcreate -q vgt /dev/mapper/cr_pv
  lvcreate_pool --type thin-pool -L 160M -n pool vgt
  lvcreate_pool --type thin -V 128M --thinpool pool -n root vgt
  lvcreate_pool --type thin -V 64M --thinpool pool -n home vgt
  mkroot /dev/vgt/root
  mkhome /dev/vgt/home
  truth system / encrypted LUKS2
  truth home /home encrypted LUKS2
}

layout_lvm_cache_on_plain_disk() {
  # The origin LVs are on LUKS, but a dm-cache pool (/) and a dm-writecache volume (/home) sit on
  # a plain "fast" disk: cached blocks are written there in the clear.
  luks luks2 /dev/vda cr_slow
  pvcreate -q /dev/mapper/cr_slow /dev/vdb
  vgcreate -q vgc /dev/mapper/cr_slow /dev/vdb
  lvcreate_quiet -L 80M -n root vgc /dev/mapper/cr_slow
  lvcreate_quiet -L 64M -n home vgc /dev/mapper/cr_slow
  lvcreate_pool --type cache-pool -L 32M -n cpool vgc /dev/vdb
  lvconvert -q -y --type cache --cachepool vgc/cpool vgc/root
  lvcreate -q -y -an -Z n -L 32M -n wcache vgc /dev/vdb
  lvconvert -q -y --type writecache --cachevol wcache vgc/home
  mkroot /dev/vgc/root
  mkhome /dev/vgc/home
  truth system / unencrypted
  truth home /home unencrypted
}

layout_lvm_cache_on_luks() {
  # The same stack with both PVs on LUKS: everything stays encrypted.
  luks luks2 /dev/vda cr_slow
  luks luks2 /dev/vdb cr_fast
  pvcreate -q /dev/mapper/cr_slow /dev/mapper/cr_fast
  vgcreate -q vgk /dev/mapper/cr_slow /dev/mapper/cr_fast
  lvcreate_quiet -L 80M -n root vgk /dev/mapper/cr_slow
  lvcreate_pool --type cache-pool -L 32M -n cpool vgk /dev/mapper/cr_fast
  lvconvert -q -y --type cache --cachepool vgk/cpool vgk/root
  mkroot /dev/vgk/root
  truth system / encrypted LUKS2
}

# ── /home and root separately ─────────────────────────────────────────────────────────────────

layout_home_luks_root_plain() {
  gpt /dev/vda 128M
  mkroot /dev/vda1
  luks luks2 /dev/vda2 cr_home
  mkhome /dev/mapper/cr_home
  truth system / unencrypted
  truth home /home encrypted LUKS2
}

layout_root_luks_home_plain() {
  luks luks2 /dev/vda cr_root
  mkroot /dev/mapper/cr_root
  mkhome /dev/vdb
  truth system / encrypted LUKS2
  truth home /home unencrypted
}

layout_home_bind_mount_from_plain_disk() {
  # /home is a bind mount of a directory on a plain data disk (mounted at /data); root is LUKS.
  luks luks2 /dev/vda cr_root
  mkroot /dev/mapper/cr_root
  mkfs.ext4 -q -F /dev/vdb
  mkdir -p /sysroot/data
  mount /dev/vdb /sysroot/data
  mkdir -p /sysroot/data/home
  mount --bind /sysroot/data/home /sysroot/home
  truth system / encrypted LUKS2
  truth home /home unencrypted
}

layout_home_luks_in_loop_file() {
  # /home is a LUKS container in a file on the plain root, attached through a loop device.
  mkroot /dev/vda
  mkdir -p /sysroot/var
  dd if=/dev/zero of=/sysroot/var/home.img bs=1M count=48 2>/dev/null
  loop="$(losetup -f --show /sysroot/var/home.img)"
  luks luks2 "$loop" cr_home
  mkhome /dev/mapper/cr_home
  truth system / unencrypted
  truth home /home encrypted LUKS2
}

layout_other_disk_encrypted_unmounted() {
  # Root is plain. Another disk is LUKS, open, with a filesystem, but nothing mounted from it;
  # a third is LUKS and closed.
  mkroot /dev/vda
  luks luks2 /dev/vdb cr_data
  mkfs.ext4 -q -F /dev/mapper/cr_data
  cryptsetup luksFormat --type luks2 $LUKS_FAST /dev/vdc
  truth system / unencrypted
}

# ── swap ─────────────────────────────────────────────────────────────────────────────────────

layout_swap_plain_partition() {
  gpt /dev/vda 16M
  luks luks2 /dev/vda2 cr_root
  mkroot /dev/mapper/cr_root
  swapdev /dev/vda1
  truth system / encrypted LUKS2
  truth swap /dev/vda1 unencrypted
}

layout_swap_luks_partition() {
  gpt /dev/vda 32M
  luks luks2 /dev/vda2 cr_root
  luks luks1 /dev/vda1 cr_swap
  mkroot /dev/mapper/cr_root
  swapdev /dev/mapper/cr_swap
  truth system / encrypted LUKS2
  truth swap /dev/mapper/cr_swap encrypted LUKS1
}

layout_swap_random_key() {
  # crypttab's "swap" option: plain dm-crypt keyed from /dev/urandom at every boot.
  luks luks2 /dev/vda cr_root
  mkroot /dev/mapper/cr_root
  plain /dev/vdb cr_swap /dev/urandom
  swapdev /dev/mapper/cr_swap
  truth system / encrypted LUKS2
  truth swap /dev/mapper/cr_swap encrypted PLAIN
}

layout_swap_random_key_on_loop_file() {
  # fwupd#3342: crypttab "swap_crypt /swap_container /dev/urandom swap,cipher=aes-xts-plain64,…"
  # — plain dm-crypt with a one-boot key over a loop device backed by a file on the (plain) root.
  mkroot /dev/vda
  dd if=/dev/zero of=/sysroot/swap_container bs=1M count=24 2>/dev/null
  loop="$(losetup -f --show /sysroot/swap_container)"
  plain "$loop" swap_crypt /dev/urandom
  swapdev /dev/mapper/swap_crypt
  truth system / unencrypted
  truth swap /dev/mapper/swap_crypt encrypted PLAIN
}

# A new zram device, as `zramctl --find` sets one up. udev opens a device it has just been told of,
# and zramctl's reset of a device someone holds fails with EBUSY: settle and try again.
zram_device() {
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    udevadm settle
    zramctl --find --size "$1" 2>/dev/null && return 0
    sleep 1
  done
  zramctl --find --size "$1"
}

layout_swap_zram_and_file_on_plain_root() {
  mkroot /dev/vda
  zram="$(zram_device 16M)"
  swapdev "$zram"
  swapfile /swapfile 16
  truth system / unencrypted
  truth swap "$zram" not_persistent
  truth swap /swapfile unencrypted
}

layout_swapfile_on_luks_root() {
  luks luks2 /dev/vda cr_root
  mkroot /dev/mapper/cr_root
  swapfile /swapfile 16
  truth system / encrypted LUKS2
  truth swap /swapfile encrypted LUKS2
}

# ── btrfs ────────────────────────────────────────────────────────────────────────────────────

layout_btrfs_luks_subvolumes() {
  luks luks2 /dev/vda cr_btrfs
  mkfs.btrfs -q -f /dev/mapper/cr_btrfs
  mount /dev/mapper/cr_btrfs /mnt
  btrfs -q subvolume create /mnt/@
  btrfs -q subvolume create /mnt/@home
  btrfs -q subvolume create /mnt/@swap
  umount /mnt
  mount -o subvol=@ /dev/mapper/cr_btrfs /sysroot
  cp -a /skel/. /sysroot/
  sysmounts
  mount -o subvol=@home /dev/mapper/cr_btrfs /sysroot/home
  mkdir -p /sysroot/swap
  mount -o subvol=@swap /dev/mapper/cr_btrfs /sysroot/swap
  btrfs -q filesystem mkswapfile --size 16m /sysroot/swap/swapfile
  swapon /sysroot/swap/swapfile
  truth system / encrypted LUKS2
  truth home /home encrypted LUKS2
  truth swap /swap/swapfile encrypted LUKS2
}

layout_btrfs_multi_device() {
  # / is one btrfs over a LUKS device and a plain disk (raid1: every block on both);
  # /home is one btrfs over two LUKS devices.
  luks luks2 /dev/vda cr_a
  luks luks2 /dev/vdc cr_c
  luks luks2 /dev/vdd cr_d
  mkfs.btrfs -q -f -d raid1 -m raid1 /dev/mapper/cr_a /dev/vdb
  mkfs.btrfs -q -f -d raid1 -m raid1 /dev/mapper/cr_c /dev/mapper/cr_d
  udevadm settle
  btrfs -q device scan
  mount /dev/mapper/cr_a /sysroot
  cp -a /skel/. /sysroot/
  sysmounts
  mount /dev/mapper/cr_c /sysroot/home
  truth system / unencrypted
  truth home /home encrypted LUKS2
}

# ── md RAID ──────────────────────────────────────────────────────────────────────────────────

layout_mdraid() {
  # / is LUKS on an md raid1 of two disks; /home is an md raid1 of a LUKS device and a plain disk.
  mdadm --create -q --run --assume-clean --metadata=1.2 --level=1 --raid-devices=2 /dev/md0 /dev/vda /dev/vdb
  luks luks2 /dev/md0 cr_root
  luks luks2 /dev/vdc cr_c
  mdadm --create -q --run --assume-clean --metadata=1.2 --level=1 --raid-devices=2 /dev/md1 /dev/mapper/cr_c /dev/vdd
  mkroot /dev/mapper/cr_root
  mkhome /dev/md1
  truth system / encrypted LUKS2
  truth home /home unencrypted
}
