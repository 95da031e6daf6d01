"""The machine-image files in deploy/: install.sh lays them out, and every systemd unit passes
``systemd-analyze verify`` (checked against a test root that holds the bundle and gateway
executables the units name; cage, sh and journalctl are the machine's own)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kiosk.config import ServiceSection
from tests.conftest import ROOT
from tests.deploy.bundles import make_bundle

DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").iterdir())


def settings(unit: Path) -> dict[str, list[str]]:
    """Key -> values (a key may repeat, as ExecStart= does in a oneshot)."""
    found: dict[str, list[str]] = {}
    for raw in unit.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A machine root laid out by install.sh --root, with a bundle in slot a and the gateway's
    source installation's executable."""
    tmp = tmp_path_factory.mktemp("image")
    bundle = make_bundle(tmp / "dist" / "kiosk")
    root = tmp / "root"
    done = subprocess.run(
        [
            "bash",
            str(DEPLOY / "install.sh"),
            "--root",
            str(root),
            str(bundle),
            str(ROOT / "configs" / "photo.toml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    gateway = root / "opt" / "exit-entry-gateway" / "venv" / "bin"
    gateway.mkdir(parents=True)
    (gateway / "kiosk").symlink_to(bundle / "kiosk")
    return root


def test_install_lays_out_slots_units_and_the_lock_down(machine: Path) -> None:
    prefix = machine / "opt" / "exit-entry-kiosk"
    assert os.readlink(prefix / "current") == "a" and (prefix / "a" / "kiosk").is_file()
    assert os.access(prefix / "update.py", os.X_OK)
    system = machine / "etc" / "systemd" / "system"
    assert sorted(p.name for p in system.glob("exit-entry-*")) == [u.name for u in UNITS]
    assert os.readlink(system / "ctrl-alt-del.target") == "/dev/null"
    assert (machine / "etc" / "exit-entry-kiosk" / "kiosk.toml").stat().st_mode & 0o007 == 0
    assert (machine / "etc" / "systemd" / "journald.conf.d" / "exit-entry-kiosk.conf").is_file()
    assert "kernel.sysrq = 0" in (machine / "etc/sysctl.d/50-exit-entry-kiosk.conf").read_text()


def test_every_unit_passes_systemd_analyze_verify(machine: Path, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze missing: run bash scripts/bootstrap.sh setup"
    assert shutil.which("cage"), "cage missing: run bash scripts/bootstrap.sh setup"
    # The installed units, their /opt paths pointing into the test root.
    checked = []
    for unit in (machine / "etc" / "systemd" / "system").glob("exit-entry-*"):
        text = unit.read_text(encoding="utf-8").replace("/opt/", f"{machine}/opt/")
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
        checked.append(str(tmp_path / unit.name))
    done = subprocess.run(
        [analyze, "verify", "--man=no", "--generators=no", *sorted(checked)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    # verify only warns about an unknown key or a bad value: any output is a failure.
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
    assert len(checked) == len(UNITS) == 4


def test_verify_catches_a_mistake(tmp_path: Path) -> None:
    """The check above can fail: a misspelt key and a program that is not there."""
    text = (DEPLOY / "systemd" / "exit-entry-kiosk.service").read_text(encoding="utf-8")
    (tmp_path / "bad.service").write_text(text.replace("WatchdogSec=", "WachdogSec="))
    housekeeping = DEPLOY / "systemd" / "exit-entry-kiosk-housekeeping.service"
    shutil.copy(housekeeping, tmp_path)  # its /opt path is not made to exist here
    done = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            "--man=no",
            "--generators=no",
            "bad.service",
            housekeeping.name,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert "Unknown key 'WachdogSec'" in done.stderr
    assert "/opt/exit-entry-kiosk/current/kiosk is not executable" in done.stderr


def test_the_kiosk_unit_is_a_watched_locked_down_session() -> None:
    kiosk = settings(DEPLOY / "systemd" / "exit-entry-kiosk.service")
    assert kiosk["Type"] == ["notify"] and kiosk["NotifyAccess"] == ["all"]
    assert kiosk["Restart"] == ["on-failure"]
    assert kiosk["MemoryMax"] and kiosk["MemoryHigh"], "a leak ends in a restart, not a hang"
    assert int(kiosk["WatchdogSec"][0]) > 0
    [start] = kiosk["ExecStart"]
    command = start.split()
    assert command[0] == "/usr/bin/cage" and "-s" not in command[: command.index("--")]
    assert command[command.index("--") + 1 :] == ["/opt/exit-entry-kiosk/current/kiosk", "run"]
    assert kiosk["TTYPath"] == ["/dev/tty1"] and kiosk["Conflicts"] == ["getty@tty1.service"]
    assert any("setterm" in pre and "--blank 0" in pre for pre in kiosk["ExecStartPre"])
    assert kiosk["LogLevelMax"] == ["info"]
    assert kiosk["Environment"].count("KIOSK_CONFIG=/etc/exit-entry-kiosk/kiosk.toml") == 1
    # systemd gives up only after the kiosk had its chance to hold itself out of service.
    defaults = ServiceSection()
    assert int(kiosk["StartLimitBurst"][0]) > defaults.crash_limit
    minutes = int(kiosk["StartLimitIntervalSec"][0].removesuffix("min"))
    assert minutes >= defaults.crash_window_min


def test_the_gateway_and_the_housekeeping_timer() -> None:
    gateway = settings(DEPLOY / "systemd" / "exit-entry-gateway.service")
    assert "central serve" in gateway["ExecStart"][0]
    assert gateway["KillSignal"] == ["SIGINT"], "the service stops cleanly on Ctrl-C only"
    housekeeping = settings(DEPLOY / "systemd" / "exit-entry-kiosk-housekeeping.service")
    assert housekeeping["ExecStart"][0].split()[-2:] == ["service", "housekeeping"]
    assert any("journalctl --vacuum" in c for c in housekeeping["ExecStart"])
    timer = settings(DEPLOY / "systemd" / "exit-entry-kiosk-housekeeping.timer")
    assert timer["Persistent"] == ["true"] and timer["OnCalendar"]
