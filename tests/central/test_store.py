"""The store contract: every test runs against SQLite and PostgreSQL (``central_db``).
Idempotency, per-kiosk scoping, concurrency between two store instances (two gateway
processes in production), uploads, payments, heartbeats, retention and migrations."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from central.store import CentralStore, Refused, RetentionPolicy, make_id_number
from central.store.migrate import current_revision, head_revision
from central.store.schema import metadata

TODAY = date(2026, 11, 27)
CHEN = make_id_number("440304", "19900307", "123")  # eligible, a document in SZ-FT-K01
CHOICE = {"id_number": CHEN, "option": "multi_1y", "region": "HK", "purpose": "individual"}
DAY = 86_400.0


@pytest.fixture
def store(central_db: str) -> Iterator[CentralStore]:
    s = CentralStore(central_db, today=lambda: TODAY)
    yield s
    s.close()


def entry(key: str, n: int = 0, stream: str = "s", kind: str = "kiosk.note") -> dict[str, Any]:
    return {
        "key": key,
        "kind": kind,
        "schema_version": 1,
        "stream": stream,
        "payload": {"n": n},
        "attachments": [],
    }


def _together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls on threads released at the same moment; their results in order."""
    start = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


# ----------------------------------------------------------------------- ingest
def test_each_entry_once_per_key_and_replays_answer_the_same(store: CentralStore) -> None:
    first = store.ingest_batch("K1", [entry("K1-1", 1), entry("K1-2", 2)])
    again = store.ingest_batch("K1", [entry("K1-1", 1), entry("K1-2", 2)])
    assert [r["status"] for r in first] == [201, 201]
    assert [r["ref"] for r in again] == [r["ref"] for r in first]
    assert all(r["replayed"] for r in again)
    [clash] = store.ingest_batch("K1", [entry("K1-1", 99)])
    assert clash["status"] == 422 and "different content" in clash["error"]
    assert [t["key"] for t in store.transactions()] == ["K1-1", "K1-2"]
    stats = store.stats()
    assert (stats["transactions"], stats["replays"], stats["conflicts"]) == (2, 2, 1)


def test_keys_are_each_kiosks_own(store: CentralStore) -> None:
    """Another kiosk's use of a key is another record: it learns nothing of the first."""
    [a] = store.ingest_batch("K-A", [entry("SAME-KEY", 1)])
    [b] = store.ingest_batch("K-B", [entry("SAME-KEY", 2)])
    assert a["status"] == b["status"] == 201 and "replayed" not in b
    assert a["ref"] != b["ref"]
    assert sorted(t["kiosk_id"] for t in store.transactions()) == ["K-A", "K-B"]


def test_a_bad_entry_is_refused_alone_and_holds_back_only_its_stream(
    store: CentralStore,
) -> None:
    bad = {**entry("K1-1", stream="A"), "schema_version": True}
    results = store.ingest_batch(
        "K1", [bad, entry("K1-2", stream="A"), entry("K1-3", stream="B"), "not an entry"]
    )
    assert [r["status"] for r in results] == [422, 424, 201, 400]
    assert "schema_version" in results[0]["error"]
    assert store.stats()["rejected"] == 2


def test_two_stores_replaying_the_same_batches_hold_each_entry_once(central_db: str) -> None:
    """Two gateway instances on one database get the same batches at the same moment."""
    one = CentralStore(central_db, today=lambda: TODAY)
    two = CentralStore(central_db, today=lambda: TODAY)
    try:
        batches = [
            [entry(f"K1-{b}-{n}", n, stream=f"s{n % 3}") for n in range(40)] for b in range(5)
        ]
        calls: list[Callable[[], Any]] = []
        for batch in batches:
            calls += [
                lambda b=batch: one.ingest_batch("K1", b),
                lambda b=batch: two.ingest_batch("K1", b),
            ]
        results = _together(calls)
        assert not [r for r in results if isinstance(r, Exception)]
        for a, b in zip(results[::2], results[1::2], strict=True):
            assert [r["ref"] for r in a] == [r["ref"] for r in b]
            assert all(r["status"] == 201 for r in a + b)
        keys = [t["key"] for t in one.transactions()]
        assert sorted(keys) == sorted(e["key"] for batch in batches for e in batch)
        assert one.stats()["replays"] == 200
    finally:
        one.close()
        two.close()


def test_an_idempotent_call_runs_once_when_two_instances_race(central_db: str) -> None:
    one = CentralStore(central_db, today=lambda: TODAY)
    two = CentralStore(central_db, today=lambda: TODAY)
    try:
        calls = [
            (
                lambda s=s: s.idempotent(
                    "K1", "pay-1", "payment.order", CHOICE, lambda: s.create_payment("K1", CHOICE)
                )
            )
            for s in (one, two, one, two)
        ]
        results = _together(calls)
        assert not [r for r in results if isinstance(r, Exception)]
        assert len({r[1]["order_id"] for r in results}) == 1
        assert sorted(r[2] for r in results) == [False, True, True, True]
        assert one.stats()["payments"] == 1
    finally:
        one.close()
        two.close()


# ---------------------------------------------------------------------- uploads
def test_uploads_resume_check_their_sum_and_belong_to_their_kiosk(store: CentralStore) -> None:
    data = os.urandom(70_000)
    sha = hashlib.sha256(data).hexdigest()
    upload = store.create_upload("K1", len(data), {"sha256": sha, "filename": "p\x00.jpg"})
    assert store.append_upload(upload, 0, data[:30_000], "K1") == 30_000
    with pytest.raises(Refused) as stale:
        store.append_upload(upload, 0, data[:10], "K1")
    assert stale.value.status == 409
    with pytest.raises(Refused) as stranger:
        store.append_upload(upload, 30_000, data[30_000:], "K2")
    assert stranger.value.status == 404
    with pytest.raises(Refused):
        store.upload_state(upload, "K2")
    assert store.append_upload(upload, 30_000, data[30_000:], "K1") == len(data)
    assert store.upload_bytes(upload) == data
    # The finished upload is usable only by its own kiosk's entries.
    ref = {"name": "photo.jpg", "sha256": sha, "size": len(data), "upload": upload}
    photo = {"photo_number": "K2-P-1"}
    [other] = store.ingest_batch(
        "K2", [{**entry("K2-1", kind="photo.captured"), "payload": photo, "attachments": [ref]}]
    )
    assert other["status"] == 422 and "not uploaded" in other["error"]
    photo = {"photo_number": "K1-P-1"}
    [own] = store.ingest_batch(
        "K1", [{**entry("K1-1", kind="photo.captured"), "payload": photo, "attachments": [ref]}]
    )
    assert own["status"] == 201


def test_a_whole_file_that_does_not_match_starts_again(store: CentralStore) -> None:
    data = b"x" * 1000
    upload = store.create_upload("K1", 1000, {"sha256": hashlib.sha256(b"y" * 1000).hexdigest()})
    with pytest.raises(Refused) as caught:
        store.append_upload(upload, 0, data, "K1")
    assert caught.value.status == 460
    assert store.upload_state(upload, "K1") == (0, 1000)


# --------------------------------------------------------------------- payments
def test_one_endorsement_per_paid_order_even_when_two_instances_race(central_db: str) -> None:
    one = CentralStore(central_db, today=lambda: TODAY)
    two = CentralStore(central_db, today=lambda: TODAY)
    try:
        _, order, _ = one.idempotent(
            "K1", "pay-1", "payment.order", CHOICE, lambda: one.create_payment("K1", CHOICE)
        )
        one.simulate_payment(order["order_id"])
        body = {**CHOICE, "payment": order["order_id"]}
        calls = [
            (
                lambda s=s, k=k: s.idempotent(
                    "K1", k, "endorsement.issue", body, lambda: s.issue_endorsement("K1", body)
                )
            )
            for s, k in ((one, "e-1"), (two, "e-2"), (one, "e-3"), (two, "e-4"))
        ]
        statuses = sorted(r[0] for r in _together(calls))
        assert statuses == [201, 422, 422, 422]
        assert one.stats()["endorsements"] == 1
    finally:
        one.close()
        two.close()


def test_an_order_is_unknown_to_other_kiosks(store: CentralStore) -> None:
    _, order, _ = store.idempotent(
        "K1", "pay-1", "payment.order", CHOICE, lambda: store.create_payment("K1", CHOICE)
    )
    for call in (store.payment_status, store.cancel_payment, store.refund_payment):
        with pytest.raises(Refused) as caught:
            call("K2", order["order_id"])
        assert caught.value.status == 404
    # The same key from another kiosk is that kiosk's own, new order.
    _, theirs, replayed = store.idempotent(
        "K2", "pay-1", "payment.order", CHOICE, lambda: store.create_payment("K2", CHOICE)
    )
    assert not replayed and theirs["order_id"] != order["order_id"]


# ------------------------------------------------------------------- heartbeats
def test_a_large_status_is_stored_whole(store: CentralStore) -> None:
    status = {"devices": {f"d{n}": "ok " * 40 for n in range(200)}, "alerts": []}
    store.heartbeat("K1", status)
    [(kiosk, latest)] = store.heartbeats.latest().items()
    assert kiosk == "K1" and latest["status"] == {"devices": status["devices"]}
    assert len(json.dumps(latest["status"])) > 10_000


def test_an_alert_with_control_characters_is_counted_not_stored(store: CentralStore) -> None:
    good = {"id": "a1", "code": "x", "message": "m", "at": "2026"}
    store.heartbeat("K1", {"alerts": [good, {**good, "id": "a2", "message": "nul\x00"}]})
    assert [a["id"] for a in store.alerts()] == ["a1"]
    assert store.stats()["alerts_malformed"] == 1


# -------------------------------------------------------------------- retention
def test_retention_erases_personal_data_then_expires_keys(store: CentralStore) -> None:
    photo = os.urandom(5000)
    sha = hashlib.sha256(photo).hexdigest()
    upload = store.create_upload("K1", len(photo), {"sha256": sha})
    store.append_upload(upload, 0, photo, "K1")
    captured = {
        **entry("K1-photo", kind="photo.captured"),
        "payload": {
            "photo_number": "K1-P-1",
            "id_binding": {"id_number": CHEN, "name": "Chen Wei"},
        },
        "attachments": [{"name": "photo.jpg", "sha256": sha, "size": len(photo), "upload": upload}],
    }
    [stored] = store.ingest_batch("K1", [captured])
    assert stored["status"] == 201
    assert store.photos()[0]["id_number"] == CHEN
    now = time.time()
    policy = RetentionPolicy(personal_days=30, keys_days=180)
    assert store.purge(policy, now=now + 29 * DAY)["payloads_erased"] == 0
    done = store.purge(policy, now=now + 31 * DAY)
    assert (done["payloads_erased"], done["uploads_deleted"], done["keys_expired"]) == (1, 1, 0)
    [kept] = store.transactions()
    assert kept["body"] is None  # no ID number, no name left
    assert store.photos()[0]["id_number"] is None
    assert store.upload_bytes(upload) == b""
    # The key still answers a late resend with its first answer, never a second record.
    [late] = store.ingest_batch("K1", [captured])
    assert late["replayed"] and late["ref"] == stored["ref"]
    assert store.purge(policy, now=now + 181 * DAY)["keys_expired"] == 1
    assert store.transactions() == []


def test_a_retention_that_would_outlive_the_keys_is_refused() -> None:
    with pytest.raises(ValueError):
        RetentionPolicy(personal_days=200, keys_days=180)
    with pytest.raises(ValueError):
        RetentionPolicy(personal_days=1, keys_days=2)


# ------------------------------------------------------------------- migrations
def test_the_migrated_schema_is_the_declared_one(store: CentralStore) -> None:
    with store.db.engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_a_store_from_before_migrations_is_adopted(tmp_path: Path) -> None:
    """A store the stdlib server made: its keys still replay, its counters and endorsement
    numbers go on, its documents stay in the demo machine, its upload files move inside."""
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as old:
        old.executescript(
            """
            CREATE TABLE transactions (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL
              UNIQUE, kiosk_id TEXT NOT NULL, kind TEXT NOT NULL, stream TEXT NOT NULL,
              fingerprint TEXT NOT NULL, status INTEGER NOT NULL, response TEXT NOT NULL,
              payload TEXT NOT NULL, received_at REAL NOT NULL);
            CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            CREATE TABLE documents (document_no TEXT PRIMARY KEY, id_number TEXT NOT NULL,
              kind TEXT NOT NULL, slot TEXT NOT NULL, ready_since TEXT NOT NULL,
              handed_over_at REAL);
            CREATE TABLE uploads (id TEXT PRIMARY KEY, kiosk_id TEXT NOT NULL, length INTEGER
              NOT NULL, offset INTEGER NOT NULL, filename TEXT NOT NULL, content_type TEXT NOT
              NULL, sha256 TEXT NOT NULL, created_at REAL NOT NULL, completed_at REAL);
            """
        )
        new = CentralStore(tmp_path / "scratch.sqlite", today=lambda: TODAY)
        [first] = new.ingest_batch("K1", [entry("K1-1", 1)])
        fingerprint = (
            new.db.engine.connect().exec_driver_sql("SELECT fingerprint FROM transactions").scalar()
        )
        new.close()
        old.execute(
            "INSERT INTO transactions VALUES (7, 'K1-1', 'K1', 'kiosk.note', 's', ?, 201, '', "
            "'{}', 1.0)",
            (fingerprint,),
        )
        old.execute("INSERT INTO counters VALUES ('endorsements', 41), ('replays', 3)")
        old.execute(
            "INSERT INTO documents VALUES ('D-OLD-1', ?, 'passport', 'C01', '2026-11-25', NULL)",
            (CHEN,),
        )
        old.execute(
            "INSERT INTO uploads VALUES ('ab' || hex(randomblob(15)), 'K1', 3, 3, 'p', 'x', "
            "'00', 1.0, 2.0)"
        )
        upload_id = old.execute("SELECT id FROM uploads").fetchone()[0]
    old.close()
    (tmp_path / "old.sqlite.uploads").mkdir()
    (tmp_path / "old.sqlite.uploads" / upload_id).write_bytes(b"abc")
    store = CentralStore(db, today=lambda: TODAY)
    try:
        [again] = store.ingest_batch("K1", [entry("K1-1", 1)])
        assert again["replayed"] and again["ref"] == "T0000000007" and first["status"] == 201
        assert store.stats()["replays"] == 4
        docs = store.documents_ready(CHEN, "SZ-FT-K01")["documents"]
        assert "D-OLD-1" in [d["document_no"] for d in docs]
        assert store.upload_bytes(upload_id) == b"abc"
        assert not (tmp_path / "old.sqlite.uploads").exists()
        _, order, _ = store.idempotent(
            "K1", "pay-1", "payment.order", CHOICE, lambda: store.create_payment("K1", CHOICE)
        )
        store.simulate_payment(order["order_id"])
        body = {**CHOICE, "payment": order["order_id"]}
        _, issued, _ = store.idempotent(
            "K1", "e-1", "endorsement.issue", body, lambda: store.issue_endorsement("K1", body)
        )
        assert issued["endorsement_no"].endswith("000042")
    finally:
        store.close()


def test_the_sqlite_store_is_private(tmp_path: Path) -> None:
    """It holds ID numbers, names and photos: 0700 directory, 0600 files (WAL included)."""
    folder = tmp_path / "central"
    store = CentralStore(folder / "c.sqlite", today=lambda: TODAY)
    try:
        store.heartbeat("K1", {})  # the WAL and its index exist once something is written
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        for name in ("c.sqlite", "c.sqlite-wal", "c.sqlite-shm"):
            assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    finally:
        store.close()
    loose = tmp_path / "loose.sqlite"
    loose.touch(mode=0o644)
    loose.chmod(0o644)
    CentralStore(loose, today=lambda: TODAY).close()
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600


def test_a_photo_registered_twice_at_once_gets_one_receipt(central_db: str) -> None:
    one = CentralStore(central_db, today=lambda: TODAY)
    two = CentralStore(central_db, today=lambda: TODAY)
    try:
        body = {"photo_number": "K1-P-000001", "sha256": "ab" * 32}
        results = _together([lambda s=s: s.register_photo("K1", body) for s in (one, two) * 3])
        assert not [r for r in results if isinstance(r, Exception)]
        assert sorted(r[0] for r in results) == [200, 200, 200, 200, 200, 201]
        assert len({r[1]["receipt_code"] for r in results}) == 1
    finally:
        one.close()
        two.close()


def test_migrate_and_maintain_from_the_command_line(
    central_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from kiosk.cli import main

    assert main(["central", "migrate", "--db", central_db]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["central", "maintain", "--db", central_db, "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert set(done) >= {"payloads_erased", "keys_expired", "uploads_deleted"}
    bad = ["central", "maintain", "--db", central_db, "--personal-days", "400"]
    assert main(bad) == 2
