#!/usr/bin/env bash
# Fetches Debian's own kernel (the package linux-image-amd64 depends on) with `apt-get download`,
# unpacks it with `dpkg-deb -x` (nothing is installed) into a cache outside the repository keyed by
# package and version, and prints that directory. Later runs with the same version reuse it.
#   POSTURE_QEMU_CACHE  cache root (default: ${XDG_CACHE_HOME:-~/.cache}/posture-agent/qemu-disk)
set -euo pipefail

cache="${POSTURE_QEMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/posture-agent/qemu-disk}"

image_package() {
  apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

pkg="$(image_package)"
if [ -z "$pkg" ] && [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq >&2
  pkg="$(image_package)"
fi
if [ -z "$pkg" ]; then
  echo "fetch-kernel: apt knows no linux-image-amd64 (run apt-get update)" >&2
  exit 3
fi
version="$(apt-cache policy "$pkg" | awk '/Candidate:/ { print $2; exit }')"
dir="$cache/$pkg-$version"

if [ ! -f "$dir/.complete" ]; then
  mkdir -p "$cache"
  tmp="$(mktemp -d "$cache/.download.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  # The meta package is downloaded too: it names the image package this kernel came from.
  (cd "$tmp" && apt-get download -q linux-image-amd64 "$pkg" >&2)
  mkdir "$tmp/root"
  dpkg-deb -x "$tmp/${pkg}_"*.deb "$tmp/root"
  # The package's postinst would run depmod; nothing is installed, so run it on the unpacked tree.
  /usr/sbin/depmod -b "$tmp/root" "$(basename "$(ls -d "$tmp/root"/lib/modules/*/ | head -n 1)")"
  rm -rf "$dir"
  mv "$tmp/root" "$dir"
  echo "$pkg $version" > "$dir/.complete"
fi
echo "$dir"
