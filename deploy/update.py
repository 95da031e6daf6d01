#!/usr/bin/env python3
"""Update the kiosk's bundle in place, A/B, with rollback (docs/operations.md).

    update.py install NEW_BUNDLE_DIR   install, self-test, switch, restart, keep or roll back
    update.py rollback                 switch back to the other slot and restart
    update.py status                   which slot runs, what the kiosk last reported

The machine keeps two bundle directories (the PyInstaller one-folder build,
``python scripts/build_bundle.py`` -> dist/kiosk) side by side, PREFIX/a and PREFIX/b;
PREFIX/current is a symlink to the one in use, and the service starts
PREFIX/current/kiosk. ``install``:

1. copies the new bundle into the slot not in use (replacing what was there: the version
   before the current one), so the running kiosk is untouched;
2. runs the new bundle's self-test (``kiosk selftest``: every module imported, the attract
   screen rendered offscreen, models loaded; it touches neither devices nor data); a failure
   stops here and nothing has changed;
3. switches PREFIX/current to it atomically (a new symlink renamed over the old one) and
   restarts the service;
4. waits for the kiosk to report the attract screen in service: it writes ready.json in its
   state directory, naming the bundle it runs from. A kiosk that refuses to start writes
   refused.json instead, with the reason;
5. if that does not come in time, switches back, restarts, and waits for the old version in
   the same way. An old version that refuses - typically because the new one already migrated
   the outbox to a schema the old one cannot read - says why, and so does this script.

Exit status: 0 updated; 1 nothing changed (bad bundle, self-test failed, another update
running); 2 rolled back, the old version runs; 3 rolled back, but the old version refuses to
start (the reason is printed); 4 rolled back, and the old version did not report either.

Standard library only: it runs with the machine's python3, outside the bundle it replaces.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SLOTS = ("a", "b")
READY = "ready.json"
REFUSED = "refused.json"

UPDATED, UNCHANGED, ROLLED_BACK, OLD_REFUSES, OLD_SILENT = 0, 1, 2, 3, 4


class UpdateError(Exception):
    """The update stops before anything was switched."""


def say(message: str) -> None:
    print(f"[update] {message}", flush=True)


@dataclass
class Machine:
    prefix: Path
    state_dir: Path
    restart: list[str]
    ready_timeout_s: float  # for the new version
    rollback_timeout_s: float  # for the old one, which came up before
    selftest_timeout_s: float

    @property
    def current(self) -> Path:
        return self.prefix / "current"

    def active_slot(self) -> str | None:
        try:
            target = os.readlink(self.current)
        except FileNotFoundError:
            return None
        name = Path(target).name
        return name if name in SLOTS else None

    # --- the steps ------------------------------------------------------------------------

    def stage(self, bundle: Path, slot: str) -> Path:
        """Copy ``bundle`` into ``slot`` (never the active one)."""
        if not (bundle / "kiosk").is_file():
            raise UpdateError(f"{bundle} is not a kiosk bundle (no {bundle / 'kiosk'})")
        target = self.prefix / slot
        incoming = self.prefix / f".incoming-{slot}"
        shutil.rmtree(incoming, ignore_errors=True)
        shutil.copytree(bundle, incoming, symlinks=True)
        shutil.rmtree(target, ignore_errors=True)
        incoming.rename(target)
        _fsync_dir(self.prefix)
        return target

    def selftest(self, slot_dir: Path) -> dict[str, Any]:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        try:
            done = subprocess.run(
                [str(slot_dir / "kiosk"), "selftest"],
                capture_output=True,
                text=True,
                env=env,
                cwd="/",
                timeout=self.selftest_timeout_s,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise UpdateError(f"self-test of {slot_dir} did not run: {exc}") from exc
        lines = done.stdout.strip().splitlines()
        try:
            report: dict[str, Any] = json.loads(lines[-1]) if lines else {}
        except ValueError:
            report = {}
        if done.returncode != 0 or not report.get("ok"):
            detail = report.get("failures") or done.stderr.strip()[-1500:] or done.stdout[-500:]
            raise UpdateError(f"self-test of {slot_dir} failed (exit {done.returncode}): {detail}")
        return report

    def switch(self, slot: str) -> None:
        """Point ``current`` at ``slot`` in one rename: the service sees the old bundle or
        the new one, never neither."""
        link = self.prefix / ".current.new"
        link.unlink(missing_ok=True)
        link.symlink_to(slot)
        os.replace(link, self.current)
        _fsync_dir(self.prefix)

    def clear_markers(self) -> None:
        for name in (READY, REFUSED):
            (self.state_dir / name).unlink(missing_ok=True)

    def restart_service(self) -> None:
        done = subprocess.run(self.restart, capture_output=True, text=True)
        if done.returncode != 0:
            say(f"restart command {' '.join(self.restart)} failed: {done.stderr.strip()}")

    def wait_ready(self, slot: str, since: float, within_s: float) -> tuple[str, dict[str, Any]]:
        """('ready' | 'refused' | 'silent', marker) for the kiosk running ``slot``."""
        bundle = (self.prefix / slot).resolve()
        deadline = time.monotonic() + within_s
        while True:
            for outcome, name in (("ready", READY), ("refused", REFUSED)):
                marker = _marker(self.state_dir / name)
                if marker is not None and _from(marker, bundle, since):
                    return outcome, marker
            if time.monotonic() >= deadline:
                return "silent", {}
            time.sleep(0.5)

    def go(self, slot: str, within_s: float) -> tuple[str, dict[str, Any]]:
        self.clear_markers()
        since = time.time()
        self.switch(slot)
        self.restart_service()
        return self.wait_ready(slot, since, within_s)


def _marker(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _from(marker: dict[str, Any], bundle: Path, since: float) -> bool:
    """Written by the kiosk of ``bundle``, started after the switch (a second's slack for
    clocks that tick in whole seconds)."""
    try:
        same = Path(str(marker.get("bundle", ""))).resolve() == bundle
        return same and float(marker.get("at", 0)) >= since - 1.0
    except (TypeError, ValueError):
        return False


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def install(machine: Machine, bundle: Path) -> int:
    old = machine.active_slot()
    new = "b" if old == "a" else "a"
    say(f"installing {bundle} into slot {new} (running: {old or 'nothing'})")
    try:
        target = machine.stage(bundle, new)
        report = machine.selftest(target)
    except UpdateError as exc:
        say(f"{exc}; nothing changed")
        return UNCHANGED
    say(f"self-test passed ({report.get('modules', '?')} modules, {report.get('seconds')} s)")
    outcome, marker = machine.go(new, machine.ready_timeout_s)
    if outcome == "ready":
        say(f"updated: slot {new} shows the attract screen in service")
        return UPDATED
    why = marker.get("reason") if outcome == "refused" else "no attract screen"
    say(f"slot {new} did not come up within {machine.ready_timeout_s:g} s ({why})")
    if old is None:
        say("no earlier version to go back to")
        return OLD_SILENT
    return rollback(machine, old)


def rollback(machine: Machine, slot: str) -> int:
    say(f"rolling back to slot {slot}")
    outcome, marker = machine.go(slot, machine.rollback_timeout_s)
    if outcome == "ready":
        say(f"rolled back: slot {slot} shows the attract screen in service")
        return ROLLED_BACK
    if outcome == "refused":
        say(
            f"rolled back to slot {slot}, but it refuses to start "
            f"(exit {marker.get('exit_code')}): {marker.get('reason')}"
        )
        return OLD_REFUSES
    say(
        f"rolled back to slot {slot}, but it did not report within {machine.rollback_timeout_s:g} s"
    )
    return OLD_SILENT


def status(machine: Machine) -> int:
    slot = machine.active_slot()
    print(
        json.dumps(
            {
                "current": slot,
                "slots": {s: (machine.prefix / s).is_dir() for s in SLOTS},
                "ready": _marker(machine.state_dir / READY),
                "refused": _marker(machine.state_dir / REFUSED),
            },
            indent=2,
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", default="/opt/exit-entry-kiosk", help="where the slots are")
    parser.add_argument(
        "--state-dir", default="/var/lib/exit-entry-kiosk", help="the kiosk's data_dir"
    )
    parser.add_argument("--unit", default="exit-entry-kiosk.service")
    parser.add_argument(
        "--restart-command", help="instead of `systemctl restart UNIT` (tests, other managers)"
    )
    parser.add_argument(
        "--ready-timeout", type=float, default=180.0, help="seconds the new version has"
    )
    parser.add_argument(
        "--rollback-timeout", type=float, default=300.0, help="seconds the old version has"
    )
    parser.add_argument("--selftest-timeout", type=float, default=300.0, help="seconds")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("install").add_argument("bundle", type=Path)
    sub.add_parser("rollback")
    sub.add_parser("status")
    args = parser.parse_args(argv)
    restart = (
        shlex.split(args.restart_command)
        if args.restart_command
        else ["systemctl", "restart", args.unit]
    )
    machine = Machine(
        Path(args.prefix),
        Path(args.state_dir),
        restart,
        args.ready_timeout,
        args.rollback_timeout,
        args.selftest_timeout,
    )
    if args.command == "status":
        return status(machine)
    machine.prefix.mkdir(parents=True, exist_ok=True)
    with open(machine.prefix / ".update.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("another update is running; nothing changed")
            return UNCHANGED
        if args.command == "install":
            return install(machine, args.bundle.resolve())
        active = machine.active_slot()
        if active is None:
            say("nothing installed")
            return UNCHANGED
        other = "b" if active == "a" else "a"
        if not (machine.prefix / other / "kiosk").is_file():
            say(f"slot {other} holds no bundle")
            return UNCHANGED
        code = rollback(machine, other)
        return UPDATED if code == ROLLED_BACK else code


if __name__ == "__main__":
    sys.exit(main())
