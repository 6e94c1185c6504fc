#!/usr/bin/env bash
# Boots Debian's kernel under qemu (TCG, no KVM) once, builds every storage layout of layouts.sh
# inside it and runs the agent's real disk-encryption collector on each (see guest-init.sh).
# The checkout is shared with the guest read-only over 9p; node inside the guest runs its dist/
# (`npm run build` first).
#   run.sh OUT_DIR [LAYOUT…]        default: every layout in layouts.sh; node runs in the guest
#   run.sh --serve SOCKET OUT_DIR   the guest waits for commands on the unix socket SOCKET (qemu
#                                   starts once a client connects); see guest-init.sh
#   POSTURE_QEMU_TIMEOUT  seconds before qemu is killed (default 3600)
# Results: OUT_DIR/<layout>/{truth,result.json,debug.txt,log}, OUT_DIR/console.log, OUT_DIR/done.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
serve=()
if [ "${1:-}" = "--serve" ]; then
  serve=(-device virtio-serial -chardev "socket,id=ctl,path=$2,server=on,wait=on"
    -device "virtserialport,chardev=ctl,name=posture.ctl")
  shift 2
fi
out="$1"
shift
mkdir -p "$out"
out="$(cd "$out" && pwd)"

for tool in qemu-system-x86_64 cpio gzip dpkg-deb apt-get; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is not installed" >&2; exit 3; }
done
if [ "${#serve[@]}" -eq 0 ] && [ ! -f "$repo/dist/probes/disk-encryption/linux.js" ]; then
  echo "run.sh: run npm run build first (the guest runs dist/)" >&2
  exit 3
fi

kdir="$("$here/fetch-kernel.sh")"
kernel="$(ls "$kdir"/boot/vmlinuz-* | head -n 1)"
node="$(readlink -f "${NODE_BINARY:-$(command -v node)}")"

work="$(mktemp -d "${TMPDIR:-/tmp}/posture-qemu.$$.XXXXXX")"
trap 'rm -rf "$work"' EXIT
"$here/build-initramfs.sh" "$kdir" "$node" "$work/initramfs.gz"

if [ "$#" -gt 0 ]; then layouts="$*"; else layouts="$(grep -o '^layout_[a-z0-9_]*' "$here/layouts.sh" | sed 's/^layout_//')"; fi
echo $layouts > "$out/layouts"
basename "$node" > "$out/node-name"
disks=()
drives=()
for d in a b c d; do
  truncate -s 256M "$work/disk-$d.img"
  disks+=("vd$d")
  drives+=(-drive "file=$work/disk-$d.img,if=virtio,format=raw,cache=unsafe,discard=unmap")
done
echo "${disks[*]}" > "$out/disks"
rm -f "$out/done"

timeout --foreground -k 10 "${POSTURE_QEMU_TIMEOUT:-3600}" \
  qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 1024 \
  -display none -monitor none -serial "file:$out/console.log" -no-reboot \
  -kernel "$kernel" -initrd "$work/initramfs.gz" \
  -append "console=ttyS0 panic=-1 loglevel=4 rdinit=/init" \
  "${drives[@]}" "${serve[@]}" \
  -virtfs "local,path=$repo,mount_tag=agent,security_model=none,readonly=on" \
  -virtfs "local,path=$(dirname "$node"),mount_tag=nodebin,security_model=none,readonly=on" \
  -virtfs "local,path=$out,mount_tag=out,security_model=none"

[ -f "$out/done" ] || { echo "run.sh: the guest did not finish; see $out/console.log" >&2; exit 4; }
