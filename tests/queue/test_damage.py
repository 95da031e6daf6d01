"""An outbox damaged on disk (real SQLite files, bytes changed in place): one damaged entry
never stops the others, a missing key or a damaged file is refused with a clear error
naming the file and what to do, and no entry is ever invisible."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from central.server import CentralHandle, start_in_thread
from kiosk.cli import main
from kiosk.core.clock import ManualClock
from offline_queue import KeyFileError, Outbox, OutboxUnavailable
from offline_queue.errors import KeyMissing, OutboxDamaged, OutboxRefused
from offline_queue.outbox import INVALID_STATE, PAYLOAD_DAMAGED, QueueAlert
from offline_queue.sync import (
    ENTRY_DAMAGED,
    SyncSettings,
    SyncWorker,
    refused_status,
    send_heartbeat,
)
from offline_queue.transport import CentralTransport
from tests.queue.conftest import KIOSK, SECRET, WorkerFactory
from tests.queue.damage import (
    Malformed,
    damage_payload,
    damage_state,
    keys_on_page,
    leaf_pages,
    overwrite_page,
    settle,
)

CLI_KIOSK = "KIOSK-LOCAL"
CLI_SECRET = b"cli-secret"


def _fill(box: Outbox, n: int, *, streams: int = 0) -> list[str]:
    """``n`` entries in one commit; each alone (``streams`` 0) or spread over streams."""
    with box.transaction() as tx:
        return [
            tx.put("k.v", {"n": i}, stream=f"s{i % streams}" if streams else None) for i in range(n)
        ]


@pytest.fixture
def cli_central(tmp_path: Path) -> Iterator[CentralHandle]:
    secret = tmp_path / "outbox.secret"
    secret.write_bytes(CLI_SECRET)
    secret.chmod(0o600)
    handle = start_in_thread(tmp_path / "central.sqlite", kiosk_secrets={CLI_KIOSK: CLI_SECRET})
    yield handle
    handle.stop()


def _leases(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM leases").fetchone()[0])


# ------------------------------------------------------------ a damaged sealed payload
def test_drain_dead_letters_a_damaged_payload_and_delivers_the_rest_in_order(
    tmp_path: Path, cli_central: CentralHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "outbox.sqlite"
    with Outbox(db, kiosk_id=CLI_KIOSK) as box:
        keys = _fill(box, 2000)
        damage_payload(box, keys[700])
    code = main(["queue", "drain", "--db", str(db), "--central", cli_central.url, "--json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    result = json.loads(out)
    assert (code, result["delivered"], result["dead"], result["pending"]) == (0, 1999, 1, 0)
    assert [a["code"] for a in result["alerts"]] == [ENTRY_DAMAGED]
    assert keys[700] in result["alerts"][0]["message"] and keys[700] in err
    stored = [t["key"] for t in cli_central.store.transactions()]
    assert stored == keys[:700] + keys[701:]  # the rest, in order
    with Outbox(db, kiosk_id=CLI_KIOSK) as box:
        dead = box.entry(keys[700])
        assert dead.state == "dead" and (dead.last_error or "").startswith(PAYLOAD_DAMAGED)
    assert _leases(db) == 0  # no lease left behind


def test_a_damaged_payload_holds_back_its_stream_only(
    tmp_path: Path, clock: ManualClock, central: CentralHandle, make_worker: WorkerFactory
) -> None:
    with Outbox(tmp_path / "outbox.sqlite", kiosk_id=KIOSK, clock=clock) as box:
        keys = _fill(box, 400, streams=4)
        damage_payload(box, keys[101])  # stream s1
    worker = make_worker(batch_size=50)
    heard: list[QueueAlert] = []
    worker.add_alert_listener(heard.append)
    assert worker.drain() == 300 + 25  # the other streams, and s1 before the damaged entry
    assert [a.code for a in heard] == [ENTRY_DAMAGED]
    stored = [t["key"] for t in central.store.transactions()]
    behind = [k for i, k in enumerate(keys) if i % 4 == 1 and i > 101]
    assert stored == [k for k in keys if k != keys[101] and k not in behind]
    counts = worker.outbox.counts()
    assert (counts.dead, counts.pending, counts.inflight) == (1, len(behind), 0)
    worker.outbox.discard(keys[101])  # staff give it up: its stream goes on
    assert worker.drain() == len(behind)
    assert [t["key"] for t in central.store.transactions()][-len(behind) :] == behind


def test_the_running_worker_sets_a_damaged_payload_aside_and_goes_on(
    tmp_path: Path, central: CentralHandle
) -> None:
    db = tmp_path / "bg.sqlite"
    with Outbox(db, kiosk_id=KIOSK) as box:
        keys = _fill(box, 2000)
        damage_payload(box, keys[3])
    worker = SyncWorker(
        Outbox(db, kiosk_id=KIOSK),
        CentralTransport(central.url, kiosk_id=KIOSK, secret=SECRET),
        settings=SyncSettings(idle_poll_s=0.05),
    )
    alerted = threading.Event()
    heard: list[QueueAlert] = []
    worker.add_alert_listener(lambda a: (heard.append(a), alerted.set()))
    worker.start()
    try:
        assert alerted.wait(60)
        deadline = time.monotonic() + 120
        while worker.outbox.counts().sent < 1999 and time.monotonic() < deadline:
            time.sleep(0.05)
        counts = worker.outbox.counts()
    finally:
        worker.stop()
        worker.transport.close()
        worker.outbox.close()
    assert (counts.sent, counts.dead, counts.pending, counts.inflight) == (1999, 1, 0, 0)
    assert [a.code for a in heard] == [ENTRY_DAMAGED] and not heard[0].out_of_service
    assert [t["key"] for t in central.store.transactions()] == keys[:3] + keys[4:]
    assert _leases(db) == 0


# ------------------------------------------------------------------ the key file
def test_an_outbox_holding_entries_refuses_to_open_without_its_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "outbox.sqlite"
    with Outbox(db, kiosk_id=CLI_KIOSK) as box:
        _fill(box, 3)
    key_file = tmp_path / "outbox.key"
    key_file.unlink()
    with pytest.raises(KeyMissing) as info:
        Outbox(db, kiosk_id=CLI_KIOSK)
    error = info.value
    assert isinstance(error, OutboxRefused) and isinstance(error, KeyFileError)
    assert error.code == "queue.key_missing" and error.sealed == 3
    assert str(key_file) in str(error) and str(db) in str(error) and "restore" in error.remedy
    assert not key_file.exists()  # no new key was made
    assert main(["queue", "status", "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert "error (queue.key_missing)" in err and str(key_file) in err
    assert "Traceback" not in err


def test_a_journal_alone_also_needs_its_key(tmp_path: Path) -> None:
    """A pickup machine's journal holds sealed document numbers: a new key would lose which
    documents were dispensed."""
    db = tmp_path / "outbox.sqlite"
    with Outbox(db, kiosk_id=KIOSK) as box:
        box.journal_complete(box.journal_begin("dispense", "C12345678"), "taken")
    (tmp_path / "outbox.key").unlink()
    with pytest.raises(KeyMissing):
        Outbox(db, kiosk_id=KIOSK)


def test_a_new_key_only_for_an_outbox_holding_nothing_sealed(
    tmp_path: Path, clock: ManualClock
) -> None:
    db = tmp_path / "outbox.sqlite"
    with Outbox(db, kiosk_id=KIOSK, clock=clock) as box:
        assert box.open_alerts == ()
    (tmp_path / "outbox.key").unlink()
    with Outbox(db, kiosk_id=KIOSK, clock=clock) as box:  # never used: a new key, quietly
        assert box.open_alerts == ()
        box.put("k.v", {"n": 1})
        [entry] = box.claim(1, 30)
        box.ack([(entry, "201")])
    (tmp_path / "outbox.key").unlink()
    with Outbox(db, kiosk_id=KIOSK, clock=clock) as box:  # all delivered: a new key, said
        assert [a.code for a in box.open_alerts] == ["queue.key_replaced"]
        assert box.counts().sent == 1
    assert (tmp_path / "outbox.key").stat().st_size == 32


# -------------------------------------------------------- entries of an invalid state
@pytest.mark.parametrize("how", ["state damaged on disk", "state emptied, checks off"])
def test_an_entry_with_an_invalid_state_is_counted_reported_and_blocks_its_stream(
    how: str, tmp_path: Path, clock: ManualClock
) -> None:
    db = tmp_path / "outbox.sqlite"
    with Outbox(db, kiosk_id=KIOSK, clock=clock) as box:
        keys = _fill(box, 12, streams=3)
        if how == "state emptied, checks off":
            box._conn.execute("PRAGMA ignore_check_constraints=ON")
            box._conn.execute("UPDATE entries SET state='' WHERE key=?", (keys[4],))
        else:
            damage_state(box, keys[4])
    with sqlite3.connect(db) as raw:
        states = {k: s for k, s in raw.execute("SELECT key, state FROM entries")}
    assert states[keys[4]] not in ("pending", "sent", "dead", "discarded")
    with Outbox(db, kiosk_id=KIOSK, clock=clock) as box:
        assert [a.code for a in box.open_alerts] == [INVALID_STATE]
        assert keys[4] in box.open_alerts[0].message
        counts = box.counts()
        assert counts.pending + counts.dead == 12 and counts.dead == 1
        info = box.entry(keys[4])
        assert info.state == "dead" and (info.last_error or "").startswith(INVALID_STATE)
        assert box.check_integrity().ok
        # Its stream (s1) waits behind it; the others go.
        claimed = [e.key for e in box.claim(20, 30)]
        assert keys[4] not in claimed and keys[7] not in claimed and keys[1] in claimed
        assert len(claimed) == 9


def test_an_invalid_state_met_while_open_is_counted_not_dropped(outbox: Outbox) -> None:
    keys = _fill(outbox, 5)
    damage_state(outbox, keys[2])
    # A connection of its own, so the page is read from the file, not from a cache.
    outbox._conn = sqlite3.connect(outbox.path, isolation_level=None, check_same_thread=False)
    counts = outbox.counts()
    assert (counts.pending, counts.invalid) == (4, 1)
    assert [e.key for e in outbox.entries("invalid")] == [keys[2]]


# -------------------------------------------------------------------- damaged files
def test_mid_file_damage_is_refused_with_the_file_and_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "outbox.sqlite"
    with Outbox(db, kiosk_id=CLI_KIOSK) as box:
        _fill(box, 300)
        settle(box)
    pages = leaf_pages(db, "entries")
    overwrite_page(db, pages[len(pages) // 2])
    with pytest.raises(OutboxDamaged) as info:
        Outbox(db, kiosk_id=CLI_KIOSK)
    assert isinstance(info.value, OutboxUnavailable) and info.value.code == "queue.damaged"
    assert f"kiosk queue recover --db {db}" in str(info.value) and info.value.problems
    for command in ("status", "list"):
        assert main(["queue", command, "--db", str(db)]) == 1
        err = capsys.readouterr().err
        assert f"error (queue.damaged): the outbox {db} is damaged" in err
        assert "kiosk queue recover" in err and "Traceback" not in err


def test_status_runs_the_full_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An index that disagrees with its table passes the quick check made at every open;
    staff's status finds it."""
    db = tmp_path / "outbox.sqlite"
    with Outbox(db, kiosk_id=CLI_KIOSK) as box:
        keys = _fill(box, 20)
        settle(box)
        root = box._conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name='sqlite_autoindex_entries_1'"
        ).fetchone()[0]
    with db.open("r+b") as f:  # the last character of one key, in the index only
        f.seek((root - 1) * 4096)
        page = f.read(4096)
        at = page.find(keys[5].encode()) + len(keys[5]) - 1
        f.seek((root - 1) * 4096 + at)
        f.write(b"X")
    code = main(["queue", "status", "--db", str(db)])
    out = capsys.readouterr().out
    assert code == 1
    assert "integrity        DAMAGED: row 6 missing from index" in out
    assert f"kiosk queue recover --db {db}" in out
    status = json.loads(_status_json(db, capsys))
    assert status["integrity"]["ok"] is False


def _status_json(db: Path, capsys: pytest.CaptureFixture[str]) -> str:
    main(["queue", "status", "--db", str(db), "--json"])
    return capsys.readouterr().out


def test_a_0_byte_outbox_file_is_refused_not_made_new(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "outbox.sqlite"
    with Outbox(db, kiosk_id=CLI_KIOSK) as box:
        _fill(box, 3)
    db.write_bytes(b"")
    with pytest.raises(OutboxDamaged) as info:
        Outbox(db, kiosk_id=CLI_KIOSK)
    assert "empty (0 bytes)" in str(info.value) and str(db) in str(info.value)
    assert db.stat().st_size == 0  # not silently made a new outbox
    assert main(["queue", "status", "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert "error (queue.damaged)" in err and "0 bytes" in err and "Traceback" not in err


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "outbox.sqlite"
    Outbox(db, kiosk_id=KIOSK).close()
    db.write_bytes(b"this is no database" * 300)
    with pytest.raises(OutboxDamaged) as info:
        Outbox(db, kiosk_id=KIOSK)
    assert str(db) in str(info.value) and "kiosk queue recover" in str(info.value)


def test_a_new_outbox_is_whole_before_it_has_its_name(tmp_path: Path) -> None:
    db = tmp_path / "outbox.sqlite"
    Outbox(db, kiosk_id=KIOSK).close()
    assert db.stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "outbox.key",
        "outbox.sqlite",
        "outbox.sqlite.attachments",
    ]


# ------------------------------------------------------- damage found while running
def test_the_worker_reports_an_outbox_going_bad_once_and_keeps_the_heartbeats(
    tmp_path: Path, central: CentralHandle, make_worker: WorkerFactory, outbox: Outbox
) -> None:
    _fill(outbox, 3)
    worker = make_worker()
    heard: list[QueueAlert] = []
    worker.add_alert_listener(heard.append)
    healthy = worker.outbox._conn
    worker.outbox._conn = Malformed(healthy, "SELECT e.seq")  # type: ignore[assignment]
    for _ in range(3):
        worker._turn()  # the loop's turn: never raises
    assert [(a.code, a.out_of_service) for a in heard] == [("queue.damaged", True)]
    # The heartbeat still goes, saying why no transaction is taken.
    worker.outbox._conn = Malformed(healthy, "SELECT state, COUNT(*)")  # type: ignore[assignment]
    alert = {"id": "a1", "code": "queue.damaged", "message": "outbox damaged", "at": "2026"}
    assert worker.heartbeat({"alerts": [alert]})
    assert [a["code"] for a in central.store.alerts()] == ["queue.damaged"]


def test_a_kiosk_whose_outbox_refused_still_reports_to_central(
    tmp_path: Path, central: CentralHandle
) -> None:
    db = tmp_path / "outbox.sqlite"
    db.write_bytes(b"")
    with pytest.raises(OutboxRefused) as info:
        Outbox(db, kiosk_id=KIOSK)
    transport = CentralTransport(central.url, kiosk_id=KIOSK, secret=SECRET)
    alert = {"id": "x1", "code": info.value.code, "message": "outbox refused", "at": "2026"}
    send_heartbeat(transport, refused_status(info.value), {"alerts": [alert]})
    transport.close()
    assert [a["code"] for a in central.store.alerts(KIOSK)] == ["queue.damaged"]


def test_keys_of_a_damaged_page(tmp_path: Path) -> None:
    """The helper the recovery tests rely on names the entries of one page."""
    db = tmp_path / "outbox.sqlite"
    with Outbox(db, kiosk_id=KIOSK) as box:
        keys = _fill(box, 200)
        settle(box)
        pages = leaf_pages(db, "entries")
        found = [k for p in pages for k in keys_on_page(box, p)]
    assert sorted(found) == sorted(keys)


def test_a_put_on_an_outbox_gone_bad_says_so_and_health_says_what_to_do(outbox: Outbox) -> None:
    healthy = outbox._conn
    outbox._conn = Malformed(healthy, "INSERT INTO entries")  # type: ignore[assignment]
    with pytest.raises(OutboxDamaged) as info:
        outbox.put("k.v", {"n": 1})
    assert str(outbox.path) in str(info.value)
    outbox._conn = Malformed(healthy, "INSERT INTO meta")  # type: ignore[assignment]
    health = outbox.health()
    assert not health.accepting
    assert health.reason.startswith("damaged:") and "kiosk queue recover" in health.reason
    outbox._conn = healthy
    assert outbox.health().accepting and outbox.counts().pending == 0


def test_the_kiosk_opening_its_outbox_gets_the_typed_refusal(tmp_path: Path) -> None:
    """What the composition root meets (``open_outbox``, ``open_sync_worker``): one type to
    catch, ``OutboxRefused``, with the code for the out-of-service reason and the message
    for the staff alert."""
    from kiosk.config import parse_config
    from kiosk.machine.backend import open_outbox, open_sync_worker

    config = parse_config(
        {
            "kiosk": {"id": "K-CFG-01", "terminal": "photo", "data_dir": str(tmp_path)},
            "central": {"url": "http://127.0.0.1:9"},
        }
    )
    with open_outbox(config) as box:
        box.put("photo.captured", {"n": 1})
        key_file, db = box.key_file, box.path
    key_file.unlink()
    for opener in (lambda: open_outbox(config), lambda: open_sync_worker(config)):
        with pytest.raises(OutboxRefused) as info:
            opener()
        assert info.value.code == "queue.key_missing" and info.value.path == str(db)
    key_file.write_bytes(b"")  # restored badly: still refused, with what is wrong
    key_file.chmod(0o600)
    with pytest.raises(KeyFileError, match="must hold exactly 32 bytes"):
        open_outbox(config)
    db.write_bytes(b"")
    with pytest.raises(OutboxRefused) as damaged:
        open_outbox(config)
    assert damaged.value.code == "queue.damaged"
