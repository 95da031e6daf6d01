"""``kiosk queue ...`` staff commands and the load generator, on real files."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path

import pytest

from central.server import start_in_thread
from kiosk.cli import main
from kiosk.config import parse_config
from kiosk.machine.backend import open_outbox, open_sync_worker
from kiosk.machine.embedded import start_embedded_central
from offline_queue.outbox import Outbox


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_load_status_list_drain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "q.sqlite")
    code, out = _run(
        capsys, "queue", "load", "--db", db, "--count", "30", "--attachment-kb", "4", "--json"
    )
    assert code == 0 and json.loads(out)["count"] == 30
    assert stat.S_IMODE((tmp_path / "q.key").stat().st_mode) == 0o600
    code, out = _run(capsys, "queue", "status", "--db", db, "--json")
    status = json.loads(out)
    assert (status["pending"], status["dead"], status["accepting"]) == (30, 0, True)
    assert (status["alerts_waiting"], status["alerts_dropped"]) == ([], 0)
    assert status["open_actions"] == {}
    code, out = _run(capsys, "queue", "list", "--db", db, "--limit", "5")
    assert out.count("load.synthetic") == 5 and "440304" not in out
    secret = tmp_path / "q.secret"
    secret.write_text("cli-secret")
    central = start_in_thread(tmp_path / "c0.sqlite", kiosk_secrets={"KIOSK-LOCAL": b"cli-secret"})
    try:
        # A signing secret others can read is refused.
        assert main(["queue", "drain", "--db", db, "--central", central.url]) == 1
        assert "queue.key_file" in capsys.readouterr().err
    finally:
        central.stop()
    secret.chmod(0o600)
    central = start_in_thread(tmp_path / "c.sqlite", kiosk_secrets={"KIOSK-LOCAL": b"cli-secret"})
    try:
        code, out = _run(capsys, "queue", "drain", "--db", db, "--central", central.url, "--json")
        assert code == 0 and json.loads(out)["delivered"] == 30
        assert central.store.stats()["transactions"] == 30
    finally:
        central.stop()
    code, out = _run(capsys, "queue", "status", "--db", db)
    assert "delivered        30" in out


def test_status_shows_when_central_stopped_answering(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "q.sqlite")
    assert _run(capsys, "queue", "load", "--db", db, "--count", "2")[0] == 0
    (tmp_path / "q.secret").write_text("cli-secret")
    (tmp_path / "q.secret").chmod(0o600)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    drain = ["queue", "drain", "--db", db, "--central"]
    assert main([*drain, closed, "--max-seconds", "0.5"]) == 1  # nothing delivered
    capsys.readouterr()
    assert (
        "central link     NOT ANSWERING since 20" in _run(capsys, "queue", "status", "--db", db)[1]
    )
    since = json.loads(_run(capsys, "queue", "status", "--db", db, "--json")[1])
    assert since["central_unreachable_since"] is not None
    central = start_in_thread(tmp_path / "c.sqlite", kiosk_secrets={"KIOSK-LOCAL": b"cli-secret"})
    try:
        assert main([*drain, central.url]) == 0  # waits out the backoff, then delivers
    finally:
        central.stop()
    assert "central link     answering" in _run(capsys, "queue", "status", "--db", db)[1]


def test_redrive_and_discard(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "q.sqlite"
    from offline_queue import Outbox

    with Outbox(db, kiosk_id="KIOSK-LOCAL") as box:
        key = box.put("k.v", {"n": 1})
        [entry] = box.claim(1, lease_s=30)
        box.bury(entry, "central.http_422: refused")
    code, out = _run(capsys, "queue", "list", "--db", str(db), "--state", "dead", "--json")
    assert [e["key"] for e in json.loads(out)] == [key]
    assert _run(capsys, "queue", "redrive", "--db", str(db), key)[0] == 0
    assert main(["queue", "redrive", "--db", str(db), key]) == 1  # no longer dead
    with Outbox(db, kiosk_id="KIOSK-LOCAL") as box:
        [entry] = box.claim(1, lease_s=30)
        box.bury(entry, "again")
    assert _run(capsys, "queue", "discard", "--db", str(db), key)[0] == 0
    code, out = _run(capsys, "queue", "status", "--db", str(db), "--json")
    assert code == 0 and json.loads(out)["dead"] == 0


def test_staff_commands_need_an_existing_outbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["queue", "status", "--db", str(tmp_path / "missing.sqlite")]) == 1
    assert "queue.no_outbox" in capsys.readouterr().err
    assert not (tmp_path / "missing.sqlite").exists()


def test_drain_refuses_plain_http_off_loopback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["queue", "drain", "--db", str(tmp_path / "q.sqlite"), "--central", "http://192.0.2.1:80"]
    )
    assert code == 1
    assert "queue.insecure_transport" in capsys.readouterr().err


def test_outbox_and_worker_from_configuration(tmp_path: Path) -> None:
    config = parse_config(
        {
            "kiosk": {"id": "K-CFG-01", "terminal": "renewal", "data_dir": str(tmp_path / "var")},
            "queue": {"batch_size": 20, "max_db_mb": 8},
            "central": {"url": "http://127.0.0.1:9"},
        }
    )
    box = open_outbox(config)
    assert box.put("k.v", {}).startswith("K-CFG-01-")
    worker = open_sync_worker(config)
    assert worker.settings.batch_size == 20
    assert stat.S_IMODE((tmp_path / "var" / "central.secret").stat().st_mode) == 0o600
    assert worker.outbox is not box  # its own connection
    worker.outbox.close()
    box.close()


def test_embedded_central_for_the_demo(tmp_path: Path) -> None:
    config = parse_config(
        {
            "kiosk": {"id": "K-DEMO-01", "terminal": "photo", "data_dir": str(tmp_path)},
            "central": {"embedded": True},
        }
    )
    handle = start_embedded_central(config)
    try:
        box = open_outbox(config)
        box.put("photo.captured", {"photo_number": "K-DEMO-01-000001"})
        worker = open_sync_worker(config, central_url=handle.url)
        assert worker.drain() == 1
        assert handle.store.stats()["transactions"] == 1
        worker.outbox.close()
        box.close()
    finally:
        handle.stop()


def test_status_lists_the_staff_alerts_central_has_not_got(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Staff at a machine that has been offline see what it could not tell central."""
    from datetime import UTC, datetime

    from kiosk.machine.alerts import StaffAlerts
    from offline_queue.outbox import Outbox

    db = tmp_path / "q.sqlite"
    with Outbox(db, kiosk_id="KIOSK-LOCAL") as outbox:
        kept = StaffAlerts()
        kept.use_outbox(outbox)
        kept.add("printer.paper_out", "receipt paper is out", datetime(2026, 11, 27, tzinfo=UTC))
        kept.close()
    code, out = _run(capsys, "queue", "status", "--db", str(db))
    assert code == 0
    assert "staff alerts     1 not yet at central (printer.paper_out)" in out
    assert "2026-11-27T00:00:00+00:00  printer.paper_out: receipt paper is out" in out
    code, out = _run(capsys, "queue", "status", "--db", str(db), "--json")
    assert [a["code"] for a in json.loads(out)["alerts_waiting"]] == ["printer.paper_out"]


def test_status_names_journaled_actions_not_finished(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "q.sqlite"
    with Outbox(db, kiosk_id="KIOSK-LOCAL") as outbox:
        outbox.journal_begin("payment", "0123456789abcdef0123456789abcdef")
        done = outbox.journal_begin("payment", "fedcba9876543210fedcba9876543210")
        outbox.journal_complete(done, "issued")
    code, out = _run(capsys, "queue", "status", "--db", str(db))
    assert code == 0
    assert "open actions     1 payment (payment orders: kiosk renewal orders)" in out
    status = json.loads(_run(capsys, "queue", "status", "--db", str(db), "--json")[1])
    assert status["open_actions"] == {"payment": 1}
