"""The watchdog on the GUI thread's event loop (ui.watchdog.Beat): pings at half the
watchdog interval while the loop runs; none while a slot keeps it frozen or a device worker
is wedged; and the real ``kiosk run`` tells a (fake) service manager it is ready, keeps it
fed, and says when it stops."""

from __future__ import annotations

import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot

from kiosk.config import parse_config
from kiosk.core.clock import ManualClock
from kiosk.machine.runs import READY_FILE, RUNS_FILE, RunLog
from kiosk.machine.sdnotify import Notifier
from kiosk.machine.watchdog import Watchdog
from kiosk.supervision import Supervision
from tests.conftest import ROOT
from tests.service.manager import FakeManager
from ui.shell import build_shell, qt_application
from ui.watchdog import Beat


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[FakeManager]:
    m = FakeManager(tmp_path)
    yield m
    m.close()


class TimedNotifier(Notifier):
    """The real notifier, noting when each ping left (the sender's clock, not the
    receiver's, which a busy machine may delay)."""

    sent: list[float]

    def watchdog(self) -> bool:
        self.sent.append(time.monotonic())
        return super().watchdog()


def timed(manager: FakeManager, watchdog_usec: int) -> TimedNotifier:
    notifier = TimedNotifier(str(manager.path), watchdog_usec)
    notifier.sent = []
    return notifier


def test_a_frozen_event_loop_stops_the_pings(qtbot: QtBot, manager: FakeManager) -> None:
    qapp = qt_application(offscreen=True)
    notifier = timed(manager, 200_000)
    watchdog = Watchdog(notifier)
    beat = Beat(qapp, watchdog.tick, watchdog.interval_s or 0)
    try:
        assert beat.interval_ms == 100, "pings at WatchdogSec / 2"
        qtbot.waitUntil(lambda: len(notifier.sent) >= 5, timeout=60_000)
        freeze_s = 1.5
        frozen: list[float] = []

        def hang() -> None:  # a slot that does not return for a while
            frozen.append(time.monotonic())
            time.sleep(freeze_s)
            frozen.append(time.monotonic())

        QTimer.singleShot(0, hang)
        qtbot.waitUntil(lambda: len(frozen) == 2 and notifier.sent[-1] > frozen[1], timeout=60_000)
        during = [t for t in notifier.sent if frozen[0] < t < frozen[1]]
        assert during == [], "no ping while the loop is frozen"
        gaps = [b - a for a, b in itertools.pairwise(notifier.sent)]
        assert max(gaps) >= freeze_s
        normal = [g for g in gaps if g < freeze_s]
        assert 0.09 <= statistics.median(normal) <= 1.0
        # Every ping went out on the socket.
        manager.wait_for("WATCHDOG=1", count=len(notifier.sent))
    finally:
        beat.stop()


def test_a_wedged_device_worker_stops_the_pings_of_a_running_kiosk(
    qtbot: QtBot, manager: FakeManager, tmp_path: Path
) -> None:
    """A kiosk window with its real device hub (printer simulator), supervised as ``kiosk
    run`` supervises it: the printer's worker gets stuck, and after the bound the beat goes
    on but the pings stop; when the worker is free again they resume."""
    qapp = qt_application(offscreen=True)
    config = parse_config(
        {
            "kiosk": {"id": "WD-UI", "terminal": "photo", "data_dir": str(tmp_path / "d")},
            "devices": {"printer": {"driver": "escpos", "simulator": True}},
            "voice": {"enabled": False},
            "service": {"worker_stall_s": 90},
        }
    )
    clock = ManualClock()
    shell = build_shell(config, qapp, clock=clock, scheduler=clock, backend=False)
    qtbot.addWidget(shell.window)
    supervision = Supervision(shell.kiosk, config, clock, env=manager.env(watchdog_usec=200_000))
    supervision.begin()
    shell.start()
    beat = Beat(qapp, supervision.tick, supervision.tick_s)
    stuck = threading.Event()
    try:
        manager.wait_for("READY=1")
        qtbot.waitUntil(lambda: supervision.watchdog.pings >= 3, timeout=60_000)
        assert shell.app.devices is not None
        shell.app.devices.slots["printer"].executor.submit(stuck.wait)
        # Two more beats: the no-op is now queued behind the stuck step.
        queued = supervision.watchdog.pings + 2
        qtbot.waitUntil(lambda: supervision.watchdog.pings >= queued, timeout=60_000)
        clock.advance(91.0)
        qtbot.waitUntil(lambda: supervision.watchdog.withheld >= 5, timeout=60_000)
        pings = supervision.watchdog.pings
        qtbot.waitUntil(lambda: supervision.watchdog.withheld >= 10, timeout=60_000)
        assert supervision.watchdog.pings == pings, "no ping while the worker is wedged"
        assert supervision.watchdog.reason is not None
        assert "printer worker wedged" in supervision.watchdog.reason
        stuck.set()
        qtbot.waitUntil(lambda: supervision.watchdog.pings > pings + 2, timeout=60_000)
        manager.wait_for("WATCHDOG=1", count=supervision.watchdog.pings)
    finally:
        stuck.set()
        beat.stop()
        supervision.stop()
        shell.stop()


def kiosk_config(tmp_path: Path) -> Path:
    """The sample photo machine (simulated devices, embedded central), its data here."""
    text = (ROOT / "configs" / "photo.toml").read_text(encoding="utf-8")
    data = tmp_path / "data"
    text = text.replace('data_dir = "var/photo"', f'data_dir = "{data}"')
    assert str(data) in text
    path = tmp_path / "photo.toml"
    path.write_text(text + "\n[voice]\nenabled = false\n", encoding="utf-8")
    return path


def test_kiosk_run_is_ready_fed_and_stopped_like_a_notify_service(
    tmp_path: Path, manager: FakeManager
) -> None:
    config = kiosk_config(tmp_path)
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONPATH": str(ROOT),
        **manager.env(watchdog_usec=1_000_000),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "ui.main", "run", "--config", str(config)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        manager.wait_for("READY=1", within_s=180)
        pings = manager.wait_for("WATCHDOG=1", count=5, within_s=120)
        gaps = [b - a for a, b in itertools.pairwise(pings)]
        assert statistics.median(gaps) >= 0.4, "not faster than half the watchdog interval"
        ready = json.loads((tmp_path / "data" / READY_FILE).read_text(encoding="utf-8"))
        assert ready["screen"] == "attract" and ready["pid"] == proc.pid
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    manager.wait_for("STOPPING=1")
    [run] = RunLog(tmp_path / "data" / RUNS_FILE, limit=3, window_s=600).runs()
    assert run.clean and run.pid == proc.pid
