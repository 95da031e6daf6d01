"""A stand-in for ``systemctl restart exit-entry-kiosk.service`` in the update tests: stop the
kiosk process named in the pid file (SIGTERM, as systemd does), start PREFIX/current/kiosk
run detached, note its pid, return at once. The kiosk and the update script are the real
ones; only the service manager is this small script.

    python supervisor.py --pidfile F --log L -- COMMAND...
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def alive(pid: int) -> bool:
    """Running, and not a zombie (an orphan whose parent does not reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def stop(pidfile: Path, within_s: float = 120.0) -> None:
    try:
        pid = int(pidfile.read_text())
    except (OSError, ValueError):
        return
    if not alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + within_s
    while alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pidfile", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--stop-only", action="store_true")
    parser.add_argument("command", nargs="*")
    args = parser.parse_args()
    stop(args.pidfile)
    if args.stop_only:
        return 0
    with open(args.log, "ab") as log:
        proc = subprocess.Popen(
            args.command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
        )
    args.pidfile.write_text(str(proc.pid))
    return 0


if __name__ == "__main__":
    sys.exit(main())
