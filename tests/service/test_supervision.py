"""The kiosk as an unattended service (kiosk.supervision): a crash loop takes it out of
service and tells staff on the next heartbeat; staff put it back; the readiness marker comes
only with the attract screen in service; a kiosk older than its outbox refuses to start and
says why."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from kiosk.config import KioskConfig, parse_config
from kiosk.core.clock import ManualClock
from kiosk.core.runner import QueueDispatcher
from kiosk.machine.runs import READY_FILE, REFUSED_FILE, RUNS_FILE, Run, RunLog
from kiosk.supervision import EXIT_OUTBOX_NEWER, Supervision, refuse, start_refusal
from kiosk.wiring import Kiosk, assemble
from offline_queue.outbox import SCHEMA_VERSION, Outbox


def config_in(data: Path, **service: Any) -> KioskConfig:
    return parse_config(
        {
            "kiosk": {"id": "SV-TEST", "terminal": "photo", "data_dir": str(data)},
            "central": {"embedded": True, "heartbeat_s": 3600},
            "voice": {"enabled": False},
            "staff": {"demo_pin": True},  # beside the embedded gateway, as the demo
            "service": service,
        }
    )


def write_runs(data: Path, runs: list[Run]) -> None:
    data.mkdir(parents=True, exist_ok=True)
    body = {"runs": [r.__dict__ for r in runs]}
    (data / RUNS_FILE).write_text(json.dumps(body), encoding="utf-8")


@contextmanager
def supervised(config: KioskConfig) -> Iterator[tuple[Kiosk, Supervision, Callable[..., None]]]:
    """The kiosk's core with its outbox and the embedded central (no devices), supervised
    as ``kiosk run`` does, on a manual clock; ``until`` runs the flow thread's queue."""
    clock = ManualClock()
    dispatcher = QueueDispatcher()
    kiosk = assemble(config, clock, clock, dispatcher, devices=False)
    supervision = Supervision(kiosk, config, clock, env={})
    supervision.begin()
    kiosk.start()

    def until(condition: Callable[[], bool], within_s: float = 60.0) -> None:
        deadline = time.monotonic() + within_s
        while not condition():
            assert time.monotonic() < deadline, "condition not met in time"
            dispatcher.drain(wait_s=0.05)

    try:
        yield kiosk, supervision, until
    finally:
        supervision.stop()
        kiosk.stop()


def central_alerts(data: Path) -> list[str]:
    db = data / "central-embedded.sqlite"
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db) as conn:
            return [row[0] for row in conn.execute("SELECT code FROM alerts")]
    except sqlite3.OperationalError:  # the gateway (a child process) is still making it
        return []


NOW = ManualClock().now().timestamp()


def test_a_crash_loop_holds_the_kiosk_out_of_service_and_alerts_staff(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # Three starts in the last ten minutes that never recorded a clean end.
    write_runs(data, [Run(NOW - 500, 11), Run(NOW - 300, 12), Run(NOW - 60, 13)])
    with supervised(config_in(data)) as (kiosk, supervision, until):
        app = kiosk.app
        until(lambda: app.view is not None and app.view.state == "out_of_service")
        assert app.unavailable["crash_loop"]["reason_key"] == "oos.crash_loop"
        assert app.unavailable["crash_loop"]["values"] == {"crashes": 3, "minutes": 10}
        assert supervision.crash_loop is not None
        assert not (data / READY_FILE).exists(), "out of service is not ready"
        # The staff alert reaches central with the next heartbeat (sent when it is raised).
        until(lambda: "kiosk.crash_loop" in central_alerts(data))
        status = app.status()
        assert status.paused_by_staff and status.out_of_service == ("crash_loop",)
        # Staff put it back in service: the attract screen, ready, the crashes forgotten.
        app.resume()
        until(lambda: app.view is not None and app.view.state == "attract")
        assert json.loads((data / READY_FILE).read_text())["screen"] == "attract"
        assert all(
            not r.counted for r in RunLog(data / RUNS_FILE, limit=3, window_s=600).runs()[:3]
        )
    log = RunLog(data / RUNS_FILE, limit=3, window_s=600)
    assert log.begin(NOW + 10) is None
    assert log.runs()[-2].clean, "the supervised run ended cleanly"


def test_crashes_outside_the_window_or_ended_cleanly_do_not_count(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_runs(
        data,
        [
            Run(NOW - 3600, 1),  # an hour ago: outside the window
            Run(NOW - 400, 2, ended=NOW - 390, clean=True),  # stopped when asked
            Run(NOW - 300, 3),
            Run(NOW - 100, 4),
        ],
    )
    with supervised(config_in(data)) as (kiosk, supervision, until):
        until((data / READY_FILE).exists)
        assert supervision.crash_loop is None
        assert kiosk.app.view is not None and kiosk.app.view.state == "attract"
        ready = json.loads((data / READY_FILE).read_text())
        assert ready["screen"] == "attract" and Path(ready["bundle"]).is_dir()


def test_a_clock_stepped_back_still_counts_the_recent_crashes(tmp_path: Path) -> None:
    """After an NTP step back the crashes of the last minutes carry later times than now."""
    log = RunLog(tmp_path / RUNS_FILE, limit=2, window_s=600)
    write_runs(tmp_path, [Run(NOW + 3000, 1), Run(NOW + 3100, 2)])
    loop = log.begin(NOW)
    assert loop is not None and loop.crashes == 2


def test_the_run_log_keeps_a_bounded_history(tmp_path: Path) -> None:
    log = RunLog(tmp_path / RUNS_FILE, limit=3, window_s=600, keep=8)
    for n in range(50):
        log.begin(NOW + n * 1000, pid=n)
        log.end(NOW + n * 1000 + 1)
    runs = log.runs()
    assert len(runs) == 8 and all(r.clean for r in runs) and runs[-1].pid == 49


def test_an_unreadable_run_log_is_reported_and_restarted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / RUNS_FILE).write_text("{half", encoding="utf-8")
    log = RunLog(tmp_path / RUNS_FILE, limit=1, window_s=600)
    with caplog.at_level(logging.WARNING):
        assert log.begin(NOW) is None
    assert "unreadable" in caplog.text and len(log.runs()) == 1


def test_an_outbox_migrated_by_a_newer_version_is_refused_with_the_reason(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    config = config_in(data)
    Outbox(data / "outbox.sqlite", kiosk_id="SV-TEST", key=b"k" * 32).close()
    assert start_refusal(config) is None, "its own schema is fine"
    with sqlite3.connect(data / "outbox.sqlite") as conn:
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    refusal = start_refusal(config)
    assert refusal is not None
    assert refusal.exit_code == EXIT_OUTBOX_NEWER
    assert f"schema {SCHEMA_VERSION + 1}" in refusal.message
    assert f"up to schema {SCHEMA_VERSION}" in refusal.message
    refuse(config, refusal, ManualClock())
    marker = json.loads((data / REFUSED_FILE).read_text())
    assert marker["exit_code"] == EXIT_OUTBOX_NEWER and marker["reason_key"] == "oos.outbox_newer"
    # The refusal read the file and changed nothing in it.
    with sqlite3.connect(data / "outbox.sqlite") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1


def test_no_outbox_yet_is_no_refusal(tmp_path: Path) -> None:
    assert start_refusal(config_in(tmp_path / "fresh")) is None


def test_runs_are_timed_by_the_wall_clock(tmp_path: Path) -> None:
    clock = ManualClock()
    clock.advance(timedelta(hours=1).total_seconds())
    log = RunLog(tmp_path / RUNS_FILE, limit=3, window_s=600)
    log.begin(clock.now().timestamp())
    assert log.runs()[0].started == NOW + 3600
