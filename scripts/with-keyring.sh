#!/usr/bin/env bash
# Runs a command inside the D-Bus session that `dbus-run-session` made, after starting
# gnome-keyring's Secret Service with a fresh, unlocked login keyring in a temporary folder —
# what a desktop login does. Used by scripts/test.sh: dbus-run-session -- scripts/with-keyring.sh CMD…
set -euo pipefail
keyring_home=$(mktemp -d -t posture-keyring-XXXXXX)
trap 'rm -rf "$keyring_home"' EXIT
printf 'posture-test' | XDG_DATA_HOME="$keyring_home" HOME="$keyring_home" \
  /usr/bin/gnome-keyring-daemon --unlock --components=secrets --daemonize >/dev/null
"$@"
