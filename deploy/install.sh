#!/usr/bin/env bash
# Install the kiosk on a Debian 12 machine as a locked-down, self-restarting service
# (docs/operations.md):
#
#   deploy/install.sh BUNDLE_DIR CONFIG_TOML        as root, on the kiosk machine
#   deploy/install.sh --root DIR BUNDLE_DIR CONFIG  lay the files out under DIR only (tests,
#                                                   image builds); no users, no systemctl
#
# BUNDLE_DIR is the PyInstaller one-folder build (python scripts/build_bundle.py -> dist/kiosk).
# Later versions go in with /opt/exit-entry-kiosk/update.py install NEW_BUNDLE (A/B, rollback).
set -euo pipefail

root=""
if [ "${1:-}" = "--root" ]; then
  root="$(realpath "$2")"
  shift 2
fi
if [ $# -ne 2 ]; then
  echo "usage: $0 [--root DIR] BUNDLE_DIR CONFIG_TOML" >&2
  exit 2
fi
bundle="$(realpath "$1")"
config="$(realpath "$2")"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix=/opt/exit-entry-kiosk
[ -x "$bundle/kiosk" ] || { echo "$bundle is not a kiosk bundle (no kiosk executable)" >&2; exit 2; }

say() { printf '[install] %s\n' "$*"; }
run() {  # a system change: done on a machine, only shown under --root
  if [ -n "$root" ]; then say "(under --root, not run) $*"; else "$@"; fi
}

install -d -m 0755 "$root$prefix" "$root/etc/systemd/system" "$root/etc/systemd/journald.conf.d" \
  "$root/etc/systemd/logind.conf.d" "$root/etc/sysctl.d" "$root/etc/exit-entry-kiosk"

run useradd --system --home-dir /var/lib/exit-entry-kiosk --shell /usr/sbin/nologin \
  --groups input,video,render,dialout kiosk

# The first version in slot a; update.py puts later ones in the other slot.
if [ ! -e "$root$prefix/current" ]; then
  rm -rf "$root$prefix/a"
  cp -a "$bundle" "$root$prefix/a"
  ln -sfn a "$root$prefix/current"
  say "bundle installed in $prefix/a"
fi
install -m 0755 "$here/update.py" "$root$prefix/update.py"

if [ ! -e "$root/etc/exit-entry-kiosk/kiosk.toml" ]; then
  install -m 0640 "$config" "$root/etc/exit-entry-kiosk/kiosk.toml"
  run chgrp kiosk /etc/exit-entry-kiosk/kiosk.toml
fi

for unit in "$here"/systemd/*.service "$here"/systemd/*.timer; do
  install -m 0644 "$unit" "$root/etc/systemd/system/$(basename "$unit")"
done
install -m 0644 "$here/etc/journald-exit-entry-kiosk.conf" \
  "$root/etc/systemd/journald.conf.d/exit-entry-kiosk.conf"
install -m 0644 "$here/etc/logind-exit-entry-kiosk.conf" \
  "$root/etc/systemd/logind.conf.d/exit-entry-kiosk.conf"
install -m 0644 "$here/etc/sysctl-exit-entry-kiosk.conf" "$root/etc/sysctl.d/50-exit-entry-kiosk.conf"
# Ctrl+Alt+Del on a keyboard plugged into the cabinet must not reboot the machine.
ln -sfn /dev/null "$root/etc/systemd/system/ctrl-alt-del.target"

run systemctl daemon-reload
run systemctl set-default graphical.target
run systemctl enable exit-entry-kiosk.service exit-entry-kiosk-housekeeping.timer
run systemctl restart systemd-journald systemd-logind
run sysctl --system
say "done: start it with systemctl start exit-entry-kiosk (or reboot)"
