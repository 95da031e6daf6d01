"""A kiosk whose outbox refuses to open (damaged file, lost key) starts out of service, says
why, keeps the file as it is, and tells central; one whose outbox fails in use stops taking
transactions until staff have recovered it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from central.server import CentralHandle, start_in_thread
from kiosk.config import KioskConfig, parse_config
from kiosk.core.clock import ManualClock
from kiosk.machine.backend import Backend, open_outbox
from kiosk.machine.runs import REFUSED_FILE
from kiosk.supervision import EXIT_OUTBOX_REFUSED, RefusalReport, outbox_refusal
from offline_queue.errors import OutboxRefused
from offline_queue.outbox import QueueAlert

ROOT = Path(__file__).resolve().parents[2]
KIOSK = "K-REFUSE-1"
SECRET = b"refusal-test-secret-0123"


def config_for(data: Path, central_url: str = "http://127.0.0.1:9") -> KioskConfig:
    secret = data / "central.secret"
    data.mkdir(parents=True, exist_ok=True)
    secret.write_bytes(SECRET)
    secret.chmod(0o600)
    return parse_config(
        {
            "kiosk": {"id": KIOSK, "terminal": "photo", "data_dir": str(data)},
            "central": {"url": central_url, "secret_file": str(secret), "heartbeat_s": 10},
        }
    )


@pytest.fixture
def central(tmp_path: Path) -> Iterator[CentralHandle]:
    handle = start_in_thread(tmp_path / "central.sqlite", kiosk_secrets={KIOSK: SECRET})
    yield handle
    handle.stop()


def _toml(config: KioskConfig, path: Path) -> Path:
    path.write_text(
        f"""[kiosk]
id = "{KIOSK}"
terminal = "photo"
data_dir = "{config.data_dir}"

[central]
url = "{config.central.url}"
secret_file = "{config.central.secret_file}"
""",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("damage", "reason"),
    [("zero_bytes", "oos.queue_damaged"), ("key_lost", "oos.queue_key")],
)
def test_a_refused_outbox_starts_the_kiosk_out_of_service_and_keeps_the_file(
    tmp_path: Path, damage: str, reason: str
) -> None:
    config = config_for(tmp_path / "data")
    with open_outbox(config) as box:
        box.put("photo.captured", {"n": 1})
        db, key_file = box.path, box.key_file
    if damage == "zero_bytes":
        db.write_bytes(b"")
    else:
        key_file.unlink()
    before = db.read_bytes()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    toml = str(_toml(config, tmp_path / "kiosk.toml"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ui.main",
            "run",
            "--windowed",
            "--exit-when-shown",
            "--config",
            toml,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=180,
    )
    assert done.returncode == EXIT_OUTBOX_REFUSED, done.stderr[-2000:]
    shown = json.loads(done.stdout.strip().splitlines()[-1])
    assert shown == {"screen": "out_of_service", "reason": reason, "exit": EXIT_OUTBOX_REFUSED}
    assert "What to do" in done.stderr  # the remedy, for the journal
    marker = json.loads((config.data_dir / REFUSED_FILE).read_text())
    assert marker["reason_key"] == reason and marker["exit_code"] == EXIT_OUTBOX_REFUSED
    assert db.read_bytes() == before, "the refused file is left exactly as it was"
    assert not list(db.parent.glob("outbox.sqlite.*new*"))


def test_central_hears_of_the_refused_outbox_until_the_kiosk_stops(
    tmp_path: Path, central: CentralHandle
) -> None:
    config = config_for(tmp_path / "data", central.url)
    db = config.data_dir / config.queue.db
    db.write_bytes(b"")
    with pytest.raises(OutboxRefused) as info:
        open_outbox(config)
    refusal = outbox_refusal(info.value)
    assert refusal.reason_key == "oos.queue_damaged" and refusal.values["path"] == str(db)
    report = RefusalReport(config, info.value, ManualClock())
    report.start()
    try:
        deadline = time.monotonic() + 60
        while not central.store.alerts(KIOSK) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        report.stop()
    alerts = central.store.alerts(KIOSK)
    assert [a["code"] for a in alerts] == ["queue.damaged"]
    assert "recover" in alerts[0]["message"]  # what staff do travels with it
    assert report.sent >= 1


def test_an_outbox_failing_in_use_keeps_the_kiosk_out_of_service(tmp_path: Path) -> None:
    config = config_for(tmp_path / "data")
    outbox = open_outbox(config)
    changes: list[tuple[bool, str, str]] = []
    alerts: list[tuple[str, str]] = []
    told = threading.Event()

    def availability(accepting: bool, reason: str, key: str) -> None:
        changes.append((accepting, reason, key))
        told.set()

    backend = Backend(
        config, outbox, None, availability, lambda c, m: alerts.append((c, m)), watch_s=3600
    )
    backend.start()
    try:
        assert changes == []  # healthy: nothing to report
        backend._queue_alert(QueueAlert("queue.damaged", "pages fail the check", True))
        assert told.wait(30)
        backend.check()  # room on disk does not put it back in service
        backend._queue_alert(QueueAlert("queue.damaged", "again", True))
    finally:
        backend.close()
    assert changes == [(False, "pages fail the check", "oos.queue_refused")]
    assert alerts == [("queue.damaged", "pages fail the check"), ("queue.damaged", "again")]
