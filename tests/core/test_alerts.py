"""Staff alerts are kept in the outbox until central has them: a crash, a power cut or a
restart between raising an alert and delivering it loses nothing."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kiosk.machine.alerts import META_NAME, StaffAlerts, saved
from offline_queue.outbox import Outbox

KEY = b"k" * 32
AT = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def _outbox(path: Path) -> Outbox:
    return Outbox(path, kiosk_id="AL-TEST", key=KEY)


@contextmanager
def _kept_in(db: Path) -> Iterator[StaffAlerts]:
    """Alerts kept in the outbox at ``db``, as a (re)started kiosk has them."""
    with _outbox(db) as outbox:
        alerts = StaffAlerts()
        alerts.use_outbox(outbox)
        yield alerts
        alerts.close()


def test_an_alert_raised_just_before_the_process_is_killed_survives(tmp_path: Path) -> None:
    db = tmp_path / "outbox.sqlite"
    code = (
        "import os, signal\n"
        "from datetime import datetime, UTC\n"
        "from kiosk.machine.alerts import StaffAlerts\n"
        "from offline_queue.outbox import Outbox\n"
        "alerts = StaffAlerts()\n"
        f"alerts.use_outbox(Outbox({str(db)!r}, kiosk_id='AL-TEST', key=b'k' * 32))\n"
        "alerts.add('citizen.help', 'help requested at menu', datetime.now(UTC))\n"
        "alerts.flush()\n"  # written a moment after it was raised
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True)
    assert done.returncode == -9, done.stderr
    with _kept_in(db) as alerts:
        [kept], dropped = alerts.pending()
        assert (kept["code"], kept["message"], dropped) == (
            "citizen.help",
            "help requested at menu",
            0,
        )


def test_delivered_alerts_are_gone_after_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "outbox.sqlite"
    with _kept_in(db) as alerts:
        alerts.add("printer.paper_out", "receipt paper is out", AT)
        alerts.add("citizen.help", "help requested at menu", AT)
        sent, dropped = alerts.pending()
        alerts.delivered(sent[:1], dropped)  # a heartbeat that carried only the first
    with _kept_in(db) as again:
        assert again.pending() == ([sent[1]], 0)
        again.delivered(*again.pending())
    with _kept_in(db) as last:
        assert last.pending() == ([], 0)


def test_alerts_raised_before_the_outbox_opens_follow_the_saved_ones(tmp_path: Path) -> None:
    db = tmp_path / "outbox.sqlite"
    with _kept_in(db) as first:
        first.add("sync.offline", "no successful sync", AT)
    alerts = StaffAlerts()
    alerts.add("dispenser.fault", "jam", AT)  # at start-up, before the backend is up
    with _outbox(db) as outbox:
        alerts.use_outbox(outbox)
        assert [a["code"] for a in alerts.pending()[0]] == ["sync.offline", "dispenser.fault"]
        alerts.close()
    with _kept_in(db) as reopened:
        assert [a["code"] for a in reopened.pending()[0]] == ["sync.offline", "dispenser.fault"]


def test_the_newest_alerts_are_kept_and_the_loss_counted_across_restarts(
    tmp_path: Path,
) -> None:
    db = tmp_path / "outbox.sqlite"
    with _kept_in(db) as alerts:
        for n in range(203):
            alerts.add("citizen.help", f"help {n}", AT)
    with _kept_in(db) as again:
        kept, dropped = again.pending()
        assert (len(kept), kept[0]["message"], dropped) == (200, "help 3", 3)


def test_unreadable_saved_alerts_are_reported_and_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "outbox.sqlite"
    with _outbox(db) as outbox:
        outbox.set_meta({META_NAME: "{not json"})
        alerts = StaffAlerts()
        with caplog.at_level(logging.ERROR):
            alerts.use_outbox(outbox)
        assert "unreadable" in caplog.text
        alerts.add("citizen.help", "help requested at menu", AT)
        assert [a["code"] for a in alerts.pending()[0]] == ["citizen.help"]
        alerts.close()


def test_a_full_outbox_keeps_the_alert_for_the_next_heartbeat(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with _outbox(tmp_path / "outbox.sqlite") as outbox:
        alerts = StaffAlerts()
        alerts.use_outbox(outbox)
        outbox._conn.execute("PRAGMA query_only=ON")  # every write now fails
        with caplog.at_level(logging.WARNING):
            alerts.add("outbox.full", "disk full", AT)
            alerts.close()
        assert "not saved" in caplog.text
        assert [a["code"] for a in alerts.pending()[0]] == ["outbox.full"]


def test_raising_an_alert_does_not_wait_for_the_database(tmp_path: Path) -> None:
    """Alerts are raised on the flow (GUI) thread: while another process holds the write
    lock, the alert is listed at once and written once the lock is free."""
    db = tmp_path / "outbox.sqlite"
    with _outbox(db) as outbox:
        alerts = StaffAlerts()
        alerts.use_outbox(outbox)
        alerts.flush()
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # e.g. a staff command writing
        alerts.add("citizen.help", "help requested at menu", AT)
        assert [a["code"] for a in alerts.pending()[0]] == ["citizen.help"]
        # Not written yet: the lock is held (read past the outbox, whose connection the
        # waiting save holds).
        row = other.execute("SELECT value FROM meta WHERE name=?", (META_NAME,)).fetchone()
        assert json.loads(row[0])["alerts"] == []
        other.execute("ROLLBACK")
        other.close()
        alerts.flush()
        assert [a["code"] for a in saved(outbox)[0]] == ["citizen.help"]
        alerts.close()
