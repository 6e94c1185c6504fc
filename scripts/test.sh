#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian/Ubuntu machine (Debian packages,
# npm dependencies), builds, type-checks, lints, and runs the whole suite. Extra arguments go to jest.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Real parts the tests drive: nftables and iptables rulesets in network namespaces, ufw left
# disabled as Debian ships it, lsblk from util-linux; a Secret Service (gnome-keyring on a private
# D-Bus session) for the keychain; a TPM 2.0 (swtpm) driven through tpm2-tools; PostgreSQL and
# Redis servers (each test starts its own on a loopback port); nginx and Caddy in front of the verifier;
# Chromium (driven by playwright-core) to look at the denial page through them, with a font to draw it.
# The Linux disk-encryption oracle boots Debian's kernel under qemu (TCG) with an initramfs made of
# this machine's cryptsetup, LVM, mdadm, btrfs-progs, e2fsprogs, udev, kmod, dash and busybox.
packages=(nftables iptables ufw iproute2 util-linux dbus gnome-keyring libsecret-tools swtpm swtpm-tools tpm2-tools libtss2-tcti-swtpm0
  postgresql redis-server nginx-light caddy chromium fonts-liberation
  qemu-system-x86 cryptsetup-bin lvm2 mdadm thin-provisioning-tools btrfs-progs e2fsprogs busybox-static fdisk cpio kmod udev dash
  g++ make python3  # better-sqlite3 builds from source when no prebuilt binary can be fetched
  wrk)  # the load generator of `npm run bench` (bench/service.js: forward-auth throughput)
# The daemon's building blocks: systemd-analyze checks installer/linux/posture-agent.service; a
# dbus-daemon (package dbus, above) stands in for the system bus; ss (iproute2) and setpriv
# (util-linux) identify and play a second local user on the local API socket.
packages+=(systemd)
# The daemon's fault and trigger tests: libfaketime moves the daemon's wall clock (a clock jump),
# strace delays its fsync calls (kill -9 mid-write, deterministically).
packages+=(faketime strace)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian's kernel for the oracle (apt-get download + dpkg-deb -x, nothing installed), cached by version.
scripts/qemu-disk/fetch-kernel.sh >/dev/null

npm ci --no-audit --no-fund
npm run build
npm run typecheck
npm run lint
# --forceExit: a test that fails half-way may leave a server it started running; jest then waits for
# it for ever instead of reporting. The suite's own cleanup still runs (afterAll) before the exit.
NODE_OPTIONS=--experimental-vm-modules /usr/bin/dbus-run-session -- scripts/with-keyring.sh \
  npx jest --forceExit --json --outputFile=.jest-results.json "$@"
