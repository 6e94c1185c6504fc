#!/usr/bin/dash
# The guest's /init. Boots like an initramfs would (proc, sys, devtmpfs, /run, modules, udev), then
# builds the layouts of /etc/layouts.sh one at a time on the virtual disks, each mounted at /sysroot
# as a booted system would have it (root with /proc /sys /dev /run, /home, swap), and lets the
# agent's collector read it from inside that root (chroot). Two ways:
#   serve  (a virtio-serial port "posture.ctl" exists): the guest says "READY <kernel release>",
#          then the host drives, line by line —
#            LAYOUT name       → BUILT rc base64(truth)      build the layout
#            RUN n + n lines   → RESULT rc b64(out) b64(err) | MISSING   run a command (args base64) in the root
#            READ b64(path)    → FILE ok b64(content) | FILE not_found | FILE read_failed
#            STAT b64(path)    → STAT ok mtime_s dir|file | STAT not_found
#            INGUEST name      → COLLECTED rc                 run node + the collector in the root itself
#            DONE              → TORN                         tear the layout down
#            QUIT              → power off
#          so the agent's collector runs on the host and every command and file it asks for is
#          answered by the guest; nothing is listed in advance.
#   batch  (otherwise): for each layout in out/layouts, run node with the collector in the root.
# Files go to the 9p share "out": out/<layout>/{truth,log,debug.txt,result.json}, out/done.
export PATH=/usr/sbin:/usr/bin
export LVM_SUPPRESS_FD_WARNINGS=1
BB=/usr/lib/posture-qemu/busybox

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/lvm /run/lock/lvm /run/cryptsetup /run/udev

while read -r m; do modprobe "$m" || echo "guest: modprobe $m failed" >&2; done < /etc/modules
# zram devices are added on demand (zramctl --find), as on a system without zram swap configured.
modprobe zram num_devices=0

/usr/lib/systemd/systemd-udevd --daemon --resolve-names=never
udevadm trigger --action=add --type=subsystems
udevadm trigger --action=add --type=devices
udevadm settle --timeout=30

mount -t 9p -o trans=virtio,version=9p2000.L,ro agent /agent
mount -t 9p -o trans=virtio,version=9p2000.L,ro nodebin /nodebin
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out /out

NODE_NAME="$(cat /out/node-name)"
DISKS="$(cat /out/disks)"
. /etc/layouts.sh

stamp() { echo "guest: $(cut -d' ' -f1 /proc/uptime)s $*" > /dev/console; }

# build LAYOUT: sets OUT and BUILT (0 when the layout script succeeded).
build() {
  OUT="/out/$1"
  rm -rf "$OUT"
  mkdir -p "$OUT"
  : > "$OUT/truth"
  stamp "layout $1"
  # Not in an if: set -e does not apply inside the condition of an if.
  ( set -e; "layout_$1" ) > "$OUT/log" 2>&1
  BUILT=$?
  [ "$BUILT" -eq 0 ] || dmesg | tail -n 15 >> "$OUT/log"
  # A booted system's udev database has long caught up with what was written to its disks. Here the
  # agent reads right after mkfs, and udev learns of a new filesystem only from the change event of
  # its inotify watch, which can come after a plain settle on a loaded machine (lsblk then shows no
  # FSTYPE or UUID): replay a change for every block device and wait for all of them.
  udevadm settle --timeout=30
  udevadm trigger --action=change --subsystem-match=block --settle >/dev/null 2>&1 ||
    udevadm settle --timeout=30
  debug_dump > "$OUT/debug.txt" 2>&1
}

b64() { base64 -w 0 "$@"; }
unb64() { printf '%s' "$1" | base64 -d; }

serve() {
  exec 3<> /dev/virtio-ports/posture.ctl
  echo "READY $(uname -r)" >&3
  while read -r cmd arg <&3; do
    case "$cmd" in
      LAYOUT)
        build "$arg"
        echo "BUILT $BUILT $(b64 < "$OUT/truth")" >&3
        ;;
      RUN)
        set --
        i=0
        while [ "$i" -lt "$arg" ]; do
          read -r a <&3
          set -- "$@" "$(unb64 "$a")"
          i=$((i + 1))
        done
        if [ ! -f "/sysroot$1" ] || [ ! -x "/sysroot$1" ]; then
          echo MISSING >&3
        else
          timeout 60 chroot /sysroot "$@" > /tmp/run.out 2> /tmp/run.err
          rc=$?
          echo "RESULT $rc $(b64 < /tmp/run.out) $(b64 < /tmp/run.err)" >&3
        fi
        ;;
      READ)
        path="$(unb64 "$arg")"
        if ! chroot /sysroot $BB test -e "$path"; then
          echo "FILE not_found" >&3
        elif chroot /sysroot $BB cat "$path" > /tmp/read.out 2> /dev/null; then
          echo "FILE ok $(b64 < /tmp/read.out)" >&3
        else
          echo "FILE read_failed" >&3
        fi
        ;;
      STAT)
        path="$(unb64 "$arg")"
        if chroot /sysroot $BB test -e "$path"; then
          kind=file
          chroot /sysroot $BB test -d "$path" && kind=dir
          echo "STAT ok $(chroot /sysroot $BB stat -c %Y "$path") $kind" >&3
        else
          echo "STAT not_found" >&3
        fi
        ;;
      INGUEST)
        stamp "collect in guest $arg"
        collect "$arg" > "$OUT/result.json" 2> "$OUT/collect.log"
        echo "COLLECTED $?" >&3
        ;;
      DONE)
        stamp "teardown"
        teardown >> "$OUT/log" 2>&1
        echo TORN >&3
        ;;
      QUIT) break ;;
      *) echo "ERROR unknown command" >&3 ;;
    esac
  done
}

batch() {
  for layout in $(cat /out/layouts); do
    build "$layout"
    if [ "$BUILT" -eq 0 ]; then
      stamp "collect $layout"
      collect "$layout" > "$OUT/result.json" 2> "$OUT/collect.log" || echo "collector exited $?" >> "$OUT/collect.log"
    else
      echo "build failed" > "$OUT/error"
    fi
    teardown >> "$OUT/log" 2>&1
  done
}

if [ -e /dev/virtio-ports/posture.ctl ]; then serve; else batch; fi
echo ok > /out/done
sync
poweroff -f
