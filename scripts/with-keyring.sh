#!/usr/bin/env bash
# Runs a command on a private D-Bus session bus with gnome-keyring's Secret Service and a fresh,
# unlocked login keyring in a temporary folder — what a desktop login does. Used by scripts/test.sh:
#   dbus-run-session -- scripts/with-keyring.sh CMD…
# The bus is started here with the tests' own configuration (test/fakes/dbus-session.conf: no service
# directories), not the machine's session.conf, which would start whatever this machine installed for
# activation (another gnome-keyring, with the real HOME) when a name is asked for before it is owned.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
keyring_home=$(mktemp -d -t posture-keyring-XXXXXX)
bus_pid=""
cleanup() {
  if [ -n "$bus_pid" ]; then kill "$bus_pid" 2>/dev/null || true; fi
  rm -rf "$keyring_home"
}
trap cleanup EXIT
bus_pid=$(/usr/bin/dbus-daemon --config-file="$root/test/fakes/dbus-session.conf" \
  --address="unix:path=$keyring_home/bus" --fork --print-pid=1)
export DBUS_SESSION_BUS_ADDRESS="unix:path=$keyring_home/bus"
printf 'posture-test' | XDG_DATA_HOME="$keyring_home" HOME="$keyring_home" \
  /usr/bin/gnome-keyring-daemon --unlock --components=secrets --daemonize >/dev/null
"$@"
