"""The outbox on real SQLite files: durability settings, transactions, journal, sequences,
leases, ordering, dead letters, retention, encryption at rest and the full-disk path."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.core.clock import ManualClock
from offline_queue import (
    Attachment,
    InvalidEntry,
    KeyFileError,
    Outbox,
    OutboxFull,
    OutboxUnavailable,
    UnknownEntry,
)
from offline_queue.crypto import load_or_create_key
from tests.queue.conftest import ID_NUMBER, KIOSK


def test_database_runs_wal_with_full_sync(outbox: Outbox) -> None:
    conn = outbox._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_put_returns_unique_keys_that_survive_reopen(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "o.sqlite"
    with Outbox(path, kiosk_id=KIOSK, clock=clock) as box:
        first = [box.put("renewal.issued", {"n": n}) for n in range(5)]
    with Outbox(path, kiosk_id=KIOSK, clock=clock) as box:
        second = [box.put("renewal.issued", {"n": n}) for n in range(5)]
        assert box.counts().pending == 10
    keys = first + second
    assert len(set(keys)) == 10
    assert all(k.startswith(KIOSK + "-") for k in keys)
    # Monotonic sequence within one database.
    assert [int(k.rsplit("-", 1)[1]) for k in keys] == list(range(1, 11))
    # A recreated database gets a new epoch, so its keys never collide with the old ones.
    path.unlink()
    with Outbox(path, kiosk_id=KIOSK, clock=clock) as box:
        assert box.put("renewal.issued", {"n": 0}) not in keys


def _number(key: str) -> int:
    return int(key.rsplit("-", 1)[1])


def test_keys_are_never_reused_after_the_newest_rows_are_purged(
    tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "o.sqlite"
    with Outbox(path, kiosk_id=KIOSK, clock=clock, audit_days=1) as box:
        # A caller's own key takes a number too: generated keys stay above it.
        keys = [box.put("renewal.issued", {"n": 0}), box.put("x.y", {}, key="OWN-1")]
        keys.append(box.put("renewal.issued", {"n": 2}))
        for e in box.claim(10, lease_s=30):
            box.ack([(e, "201")])
        clock.advance(2 * 86_400)
        # Every row goes, the newest included: numbering must not start again at 1.
        assert box.purge_audit() == 3
        assert box.entries() == []
    with Outbox(path, kiosk_id=KIOSK, clock=clock) as box:
        later = box.put("renewal.issued", {"n": 3})
    assert later not in keys
    assert [_number(keys[0]), _number(keys[2]), _number(later)] == [1, 3, 4]


def _run_in_threads(fn: Callable[[Any], None], args: Iterable[Any], boxes: list[Outbox]) -> None:
    """One thread per argument, all at once; then the outboxes are closed."""
    threads = [threading.Thread(target=fn, args=(a,)) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for b in boxes:
        b.close()


def test_keys_from_concurrent_writers_are_unique_and_increasing(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    boxes = [Outbox(path, kiosk_id=KIOSK) for _ in range(3)]
    got: list[list[int]] = [[] for _ in boxes]

    def put_many(i: int) -> None:
        for n in range(40):
            got[i].append(_number(boxes[i].put("renewal.issued", {"n": n})))

    _run_in_threads(put_many, range(3), boxes)
    assert sorted(n for g in got for n in g) == list(range(1, 121))
    assert all(g == sorted(g) for g in got)
    with Outbox(path, kiosk_id=KIOSK) as box:
        assert _number(box.put("renewal.issued", {})) == 121


def test_schema_1_database_with_pending_entries_opens_and_keeps_keys_unique(
    tmp_path: Path, clock: ManualClock
) -> None:
    """A kiosk updated in the field: version 1 numbered keys from the 'outbox.key' counter,
    independently of seq (here 7 keys issued, purges left seq behind the counter)."""
    path = tmp_path / "o.sqlite"
    with Outbox(path, kiosk_id=KIOSK, clock=clock) as box:
        pending = box.put("renewal.issued", {"id_number": ID_NUMBER})
    epoch = pending.split("-")[-2]
    old_key = f"{KIOSK}-{epoch}-0000000007"
    with Outbox(path, kiosk_id=KIOSK, clock=clock) as box:
        # The same entry as version 1 would have written it: key number 7 at seq 3.
        sealed = box._sealer.seal(b'{"id_number":"%s"}' % ID_NUMBER.encode(), old_key)
        box._conn.executescript(
            "BEGIN IMMEDIATE; DELETE FROM entries; PRAGMA user_version=1; COMMIT;"
        )
        box._conn.execute(
            "INSERT INTO entries (seq, key, kind, schema_version, stream, payload, state, "
            "next_attempt_at, created_at) VALUES (3, ?, 'renewal.issued', 1, 's', ?, "
            "'pending', 0, 0)",
            (old_key, sealed),
        )
        box._conn.execute("INSERT INTO sequences VALUES ('outbox.key', 7)")
    with Outbox(path, kiosk_id=KIOSK, clock=clock) as box:
        assert box._conn.execute("PRAGMA user_version").fetchone()[0] == 4
        new = box.put("renewal.issued", {"n": 1})
        assert _number(new) == 8
        [old, _] = box.claim(10, lease_s=30)
        assert (old.key, old.payload) == (old_key, {"id_number": ID_NUMBER})


def test_schema_2_lease_survives_the_upgrade(tmp_path: Path, clock: ManualClock) -> None:
    """Version 2 kept leases in the entry row: an upgraded file keeps an unexpired lease (its
    worker may still be sending) and frees it once expired."""
    path = tmp_path / "o.sqlite"
    with Outbox(path, kiosk_id=KIOSK, clock=clock) as box:
        leased = box.put("renewal.issued", {"n": 1}, stream="a")
        later = box.put("renewal.issued", {"n": 2}, stream="a")
        until = clock.now().timestamp() + 30
        box._conn.executescript(
            "BEGIN IMMEDIATE; DROP TABLE leases; PRAGMA user_version=2; COMMIT;"
        )
        box._conn.execute(
            "UPDATE entries SET state='inflight', lease_token='w1', lease_until=? WHERE key=?",
            (until, leased),
        )
    with Outbox(path, kiosk_id=KIOSK, clock=clock) as box:
        assert box._conn.execute("PRAGMA user_version").fetchone()[0] == 4
        assert box.entry(leased).state == "inflight"
        assert box.counts().inflight == 1
        assert box.claim(10, lease_s=30) == []  # the lease blocks its stream
        clock.advance(31)
        assert [e.key for e in box.claim(10, lease_s=30)] == [leased, later]


def _at_rest(box: Outbox) -> bytes:
    files = [box.path, Path(f"{box.path}-wal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def test_journal_keeps_no_document_number_in_clear(outbox: Outbox) -> None:
    """A journal reference is a document number: stored as a pseudonym (which lookups
    compare) and sealed (which staff views read)."""
    begun = outbox.journal_begin("dispense", "C12345678")
    outbox.journal_complete(begun, "taken")
    outbox.journal_begin("dispense", "C87654321")
    assert [e.ref for e in outbox.unfinished()] == ["C87654321"]
    assert outbox.journal(begun).ref == "C12345678"
    with outbox.transaction() as tx:
        last = tx.journal_last("C12345678", ("dispense", "release"))
        assert last is not None and (last.id, last.outcome) == (begun, "taken")
        assert tx.journal_last("C00000000", ("dispense",)) is None
        release = tx.journal_begin("release", "C12345678")
        assert [(e.ref, e.action) for e in tx.journal_latest(("dispense", "release"))] == [
            ("C87654321", "dispense"),
            ("C12345678", "release"),
        ]
        last = tx.journal_last("C12345678", ("dispense", "release"))
        assert last is not None and last.id == release
    at_rest = _at_rest(outbox)
    assert b"C12345678" not in at_rest and b"C87654321" not in at_rest


def test_journal_look_ups_use_the_reference_index(outbox: Outbox) -> None:
    """A pickup kiosk journals every dispense: the staff list of withheld documents must
    not scan the journal once per row (20,000 entries: 10.5 s without the index, 0.1 s
    with it, on the benchmark machine)."""
    for n in range(3):
        outbox.journal_begin("dispense", f"C{n:08d}")
    issued: list[str] = []
    outbox._conn.set_trace_callback(issued.append)  # the statements with their values
    with outbox.transaction() as tx:
        tx.journal_latest(("dispense", "release"))
        tx.journal_last("C00000001", ("dispense", "release"))
    outbox._conn.set_trace_callback(None)
    look_ups = [sql for sql in issued if "FROM journal" in sql]
    assert len(look_ups) == 2
    for sql in look_ups:
        plan = " ".join(str(r[-1]) for r in outbox._conn.execute("EXPLAIN QUERY PLAN " + sql))
        assert "journal_ref" in plan, (sql, plan)


def test_journal_entry_with_a_damaged_reference_still_counts(outbox: Outbox) -> None:
    damaged = outbox.journal_begin("dispense", "C12345678")
    lost = outbox.journal_begin("dispense", "C87654321")
    outbox._conn.execute("UPDATE journal SET ref_sealed=x'00' WHERE id=?", (damaged,))
    outbox._conn.execute("UPDATE journal SET ref_sealed=NULL WHERE id=?", (lost,))
    assert [(e.id, e.ref) for e in outbox.unfinished()] == [(damaged, "?"), (lost, "?")]


def test_schema_3_journal_numbers_are_sealed_by_the_upgrade(
    tmp_path: Path, clock: ManualClock
) -> None:
    """Version 3 kept journal references in clear: the upgrade seals them, lookups still
    find them, and no copy in clear is left in the database file or its log."""
    path = tmp_path / "o.sqlite"
    with Outbox(path, kiosk_id=KIOSK, clock=clock) as box:
        done = box.journal_begin("dispense", "X")
        box.journal_complete(done, "taken")
        open_id = box.journal_begin("dispense", "Y")
        box._conn.executescript(
            "BEGIN IMMEDIATE;"
            f"UPDATE journal SET ref='C12345678' WHERE id={done};"
            f"UPDATE journal SET ref='C87654321' WHERE id={open_id};"
            "ALTER TABLE journal DROP COLUMN ref_sealed; PRAGMA user_version=3; COMMIT;"
        )
        assert b"C12345678" in _at_rest(box)
    with Outbox(path, kiosk_id=KIOSK, clock=clock) as box:
        assert box._conn.execute("PRAGMA user_version").fetchone()[0] == 4
        [entry] = box.unfinished()
        assert (entry.id, entry.ref) == (open_id, "C87654321")
        with box.transaction() as tx:
            last = tx.journal_last("C12345678", ("dispense",))
            assert last is not None and last.id == done
        at_rest = _at_rest(box)
        assert b"C12345678" not in at_rest and b"C87654321" not in at_rest


def test_database_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    Outbox(path, kiosk_id=KIOSK).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version=5")
    conn.close()
    with pytest.raises(OutboxUnavailable):
        Outbox(path, kiosk_id=KIOSK)


def test_transaction_is_all_or_nothing(outbox: Outbox) -> None:
    outbox._conn.execute("CREATE TABLE IF NOT EXISTS receipts (ref TEXT PRIMARY KEY)")
    journal_id = outbox.journal_begin("dispense", "D-1")
    with pytest.raises(RuntimeError), outbox.transaction() as tx:
        tx.execute("INSERT INTO receipts VALUES ('R-1')")
        tx.put("pickup.handover", {"doc": "D-1"}, attachments=[Attachment("a", b"data")])
        tx.journal_complete(journal_id, "dispensed")
        tx.next_sequence("photo")
        raise RuntimeError("power cut in the middle")
    assert outbox.counts().pending == 0
    assert outbox._conn.execute("SELECT COUNT(*) FROM receipts").fetchone()[0] == 0
    assert [j.id for j in outbox.unfinished()] == [journal_id]
    assert list(outbox.attachments_dir.iterdir()) == []
    assert outbox.next_sequence("photo") == 1

    with outbox.transaction() as tx:
        tx.execute("INSERT INTO receipts VALUES ('R-1')")
        key = tx.put("pickup.handover", {"doc": "D-1"})
        tx.journal_complete(journal_id, "dispensed")
    assert outbox.entry(key).state == "pending"
    assert outbox.unfinished() == []
    assert outbox.journal(journal_id).outcome == "dispensed"


def test_put_inside_a_transaction_joins_it(outbox: Outbox) -> None:
    with pytest.raises(RuntimeError), outbox.transaction():
        outbox.put("photo.captured", {"n": 1}, attachments=[Attachment("p", b"x")])
        raise RuntimeError("cancelled")
    assert outbox.counts().pending == 0
    assert list(outbox.attachments_dir.iterdir()) == []


def test_put_can_complete_a_journal_entry_in_the_same_commit(outbox: Outbox) -> None:
    jid = outbox.journal_begin("dispense", "D-2")
    outbox.put("pickup.handover", {"doc": "D-2"}, journal_complete=(jid, "taken"))
    assert outbox.unfinished() == []
    with pytest.raises(UnknownEntry):
        outbox.journal_complete(jid, "again")


def test_unfinished_journal_survives_a_crash(tmp_path: Path) -> None:
    """A process that dies between "dispense started" and "finished" leaves the entry open."""
    db = tmp_path / "o.sqlite"
    code = (
        "import os, sys\n"
        "from offline_queue import Outbox\n"
        f"box = Outbox({str(db)!r}, kiosk_id='K-1')\n"
        "box.journal_begin('dispense', 'DOC-9')\n"
        "os._exit(0)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    subprocess.run([os.sys.executable, "-c", code], check=True, env=env)  # type: ignore[attr-defined]
    with Outbox(db, kiosk_id="K-1") as box:
        [entry] = box.unfinished()
        assert (entry.action, entry.ref) == ("dispense", "DOC-9")


def test_sequences_are_durable_and_never_reused(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    boxes = [Outbox(path, kiosk_id=KIOSK) for _ in range(3)]
    got: list[int] = []
    lock = threading.Lock()

    def take(box: Outbox) -> None:
        for _ in range(50):
            n = box.next_sequence("photo")
            with lock:
                got.append(n)

    _run_in_threads(take, boxes, boxes)
    assert sorted(got) == list(range(1, 151))
    with Outbox(path, kiosk_id=KIOSK) as box:
        assert box.next_sequence("photo") == 151
        assert box.next_sequence("other") == 1


def test_expired_leases_return_to_pending_on_start(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "o.sqlite"
    with Outbox(path, kiosk_id=KIOSK, clock=clock) as box:
        key = box.put("renewal.issued", {"n": 1})
        [claimed] = box.claim(10, lease_s=30)
        assert box.entry(key).state == "inflight"
    with Outbox(path, kiosk_id=KIOSK, clock=clock) as box:
        assert box.entry(key).state == "inflight"  # lease still valid: another worker may own it
    clock.advance(31)
    with Outbox(path, kiosk_id=KIOSK, clock=clock) as box:
        assert box.entry(key).state == "pending"
        # The old worker's lease token no longer acknowledges anything.
        assert box.ack([(claimed, "late")]) == 0
        assert box.entry(key).state == "pending"


def test_claim_keeps_streams_in_order_and_reads_do_not_delete(outbox: Outbox) -> None:
    keys = [outbox.put("k.v", {"n": n}, stream=f"s{n % 2}") for n in range(6)]
    first = outbox.claim(3, lease_s=30)
    assert [e.key for e in first] == keys[:3]
    # A leased entry's outcome is unknown: its successors wait for it.
    assert outbox.claim(10, lease_s=30) == []
    outbox.release([(e, 0.0) for e in first], "test", count_attempt=False)
    assert outbox.counts().pending == 6  # nothing was lost by reading
    again = outbox.claim(10, lease_s=30)
    assert [e.payload["n"] for e in again] == list(range(6))
    outbox.ack([(e, "ok") for e in again[:2]])
    outbox.release([(e, 0.0) for e in again[2:]], "test", count_attempt=False)
    assert [e.key for e in outbox.claim(10, lease_s=30)] == keys[2:]


def test_a_claim_following_a_batch_in_flight_continues_its_streams(outbox: Outbox) -> None:
    a1, a2, b1, a3 = (outbox.put("k.v", {"n": n}, stream=s) for n, s in enumerate("AABA"))
    [first] = outbox.claim(1, lease_s=30)
    assert first.key == a1
    # Prepared while a1 is in flight: a1 counts as taken, so stream A goes on.
    ahead = outbox.claim(10, lease_s=30, following=first.lease_token)
    assert [e.key for e in ahead] == [a2, b1, a3]
    assert len({e.lease_token for e in ahead}) == 1 and ahead[0].lease_token != first.lease_token
    # Any other claim still waits for a1's outcome (and finds the rest leased).
    assert outbox.claim(10, lease_s=30, following="another-batch") == []
    assert outbox.claim(10, lease_s=30) == []


def test_a_claim_following_a_batch_still_stops_at_a_backing_off_entry(
    outbox: Outbox,
) -> None:
    a1, a2, b1 = (outbox.put("k.v", {"n": n}, stream=s) for n, s in enumerate("AAB"))
    [first] = outbox.claim(1, lease_s=30)
    assert first.key == a1
    outbox.release([(first, 60.0)], "central.http_503")
    [again] = outbox.claim(1, lease_s=30, following=first.lease_token)
    # b1 was taken; a1 backs off (no longer in that batch), so a2 still waits for it.
    assert again.key == b1
    assert outbox.claim(10, lease_s=30, following=again.lease_token) == []
    assert outbox.entry(a2).state == "pending"


def test_claim_caps_the_attachment_bytes_of_a_batch(outbox: Outbox) -> None:
    def photo(size: int) -> list[Attachment]:
        return [Attachment("p", b"J" * size)]

    keys = [
        outbox.put("photo.captured", {"n": 0}, attachments=photo(300)),  # alone over budget
        outbox.put("photo.captured", {"n": 1}, attachments=photo(60)),
        outbox.put("k.v", {"n": 2}),  # no attachment: costs nothing
        outbox.put("photo.captured", {"n": 3}, attachments=[*photo(20), *photo(20)]),
        outbox.put("photo.captured", {"n": 4}, attachments=photo(30)),
    ]
    # The first entry always goes, even over the budget, and ends the batch.
    [first] = outbox.claim(10, lease_s=30, max_attachment_bytes=100)
    assert first.key == keys[0]
    # 60 + 0 + 40 fit in 100; the 30 bytes of the next would not.
    batch = outbox.claim(10, lease_s=30, max_attachment_bytes=100)
    assert [e.key for e in batch] == keys[1:4]
    assert [len(e.attachments) for e in batch] == [1, 0, 2]
    # A mixed batch is acknowledged in full: files of entries with attachments go.
    assert outbox.ack([(e, "201") for e in [first, *batch]]) == 4
    assert len(list(outbox.attachments_dir.iterdir())) == 1
    assert [e.key for e in outbox.claim(10, lease_s=30)] == keys[4:]


def test_backing_off_entry_blocks_its_stream_only(outbox: Outbox, clock: ManualClock) -> None:
    a1 = outbox.put("k.v", {"n": 1}, stream="A")
    a2 = outbox.put("k.v", {"n": 2}, stream="A")
    b1 = outbox.put("k.v", {"n": 3}, stream="B")
    [e] = outbox.claim(1, lease_s=30)
    outbox.release([(e, 60.0)], "central.http_503")
    assert [c.key for c in outbox.claim(10, lease_s=300)] == [b1]
    clock.advance(61)
    assert [c.key for c in outbox.claim(10, lease_s=30)] == [a1, a2]


def test_dead_entry_blocks_successors_until_redrive_or_discard(outbox: Outbox) -> None:
    a1 = outbox.put("k.v", {"n": 1}, stream="A", attachments=[Attachment("p", b"x" * 10)])
    a2 = outbox.put("k.v", {"n": 2}, stream="A")
    b1 = outbox.put("k.v", {"n": 3}, stream="B")
    [e] = outbox.claim(1, lease_s=30)
    outbox.bury(e, "central.http_422: refused")
    assert outbox.counts().dead == 1
    assert [c.key for c in outbox.claim(10, lease_s=30)] == [b1]
    assert outbox.waiting() == 1  # b1 is leased; a2 cannot go
    outbox.redrive(a1)
    [again] = outbox.claim(1, lease_s=30)
    assert again.key == a1
    assert outbox.claim(10, lease_s=30) == []  # a2 waits behind a1, which is now leased
    outbox.bury(again, "still refused")
    outbox.discard(a1)
    info = outbox.entry(a1)
    assert (info.state, info.attachments) == ("discarded", 0)
    assert (
        outbox._conn.execute("SELECT payload FROM entries WHERE key=?", (a1,)).fetchone()[0] is None
    )
    assert list(outbox.attachments_dir.iterdir()) == []
    assert [c.key for c in outbox.claim(10, lease_s=30)] == [a2]
    with pytest.raises(UnknownEntry):
        outbox.redrive(b1)  # not dead


def test_staff_send_every_dead_entry_again_in_stream_order(outbox: Outbox) -> None:
    a1, a2, b1, c1 = (outbox.put("k.v", {"n": n}, stream=s) for n, s in enumerate("AABC"))
    [first] = outbox.claim(1, lease_s=30)
    outbox.bury(first, "central.http_422: refused")
    second = outbox.claim(10, lease_s=30)
    assert [e.key for e in second] == [b1, c1]  # a2 waits behind the dead a1
    outbox.bury(second[0], "central.http_422: refused")
    outbox.ack([(second[1], "201")])
    assert outbox.claim(10, lease_s=30) == []
    assert outbox.redrive_dead() == 2
    assert {outbox.entry(k).state for k in (a1, b1)} == {"pending"}
    assert (outbox.entry(a1).attempts, outbox.counts().dead) == (0, 0)
    assert outbox.redrive_dead() == 0
    assert [e.key for e in outbox.claim(10, lease_s=30)] == [a1, a2, b1]  # A in order again


def test_ack_deletes_personal_data_and_keeps_audit_for_retention(
    tmp_path: Path, clock: ManualClock
) -> None:
    with Outbox(tmp_path / "o.sqlite", kiosk_id=KIOSK, clock=clock, audit_days=2) as box:
        key = box.put(
            "photo.captured", {"id_number": ID_NUMBER}, attachments=[Attachment("p", b"J" * 100)]
        )
        [e] = box.claim(1, lease_s=30)
        assert box.ack([(e, "201 T1")]) == 1
        info = box.entry(key)
        assert (info.state, info.outcome, info.attachments) == ("sent", "201 T1", 0)
        row = box._conn.execute("SELECT payload, kind, created_at, sent_at FROM entries").fetchone()
        assert row[0] is None and row[1] == "photo.captured" and row[3] >= row[2]
        assert list(box.attachments_dir.iterdir()) == []
        clock.advance(86_400)
        assert box.purge_audit() == 0
        clock.advance(86_401)
        assert box.purge_audit() == 1
        with pytest.raises(UnknownEntry):
            box.entry(key)


def _files_of(tmp_path: Path) -> list[Path]:
    return [p for p in tmp_path.rglob("*") if p.is_file()]


def test_personal_data_is_encrypted_at_rest(tmp_path: Path, clock: ManualClock) -> None:
    photo = os.urandom(64) + b"JFIF-photo-bytes" * 500
    with Outbox(tmp_path / "o.sqlite", kiosk_id=KIOSK, clock=clock) as box:
        box.put(
            "photo.captured",
            {"id_number": ID_NUMBER, "name": "陈伟"},
            stream=ID_NUMBER,  # even a careless stream key is pseudonymised
            attachments=[Attachment("photo.jpg", photo, "image/jpeg")],
        )
        for path in _files_of(tmp_path):
            data = path.read_bytes()
            assert ID_NUMBER.encode() not in data, path
            assert "陈伟".encode() not in data, path
            assert photo[64:200] not in data, path
        [e] = box.claim(1, lease_s=30)
        assert e.payload["id_number"] == ID_NUMBER
        assert box.read_attachment(e.attachments[0]) == photo
        assert e.attachments[0].sha256 == __import__("hashlib").sha256(photo).hexdigest()


def test_key_file_is_private_and_checked(tmp_path: Path) -> None:
    key_file = tmp_path / "k.key"
    key = load_or_create_key(key_file)
    assert len(key) == 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_or_create_key(key_file) == key
    key_file.chmod(0o640)
    with pytest.raises(KeyFileError):
        load_or_create_key(key_file)
    with pytest.raises(KeyFileError):
        Outbox(tmp_path / "o.sqlite", kiosk_id=KIOSK, key_file=key_file)
    key_file.chmod(0o600)
    key_file.write_bytes(b"short")
    with pytest.raises(KeyFileError) as info:
        load_or_create_key(key_file)
    assert info.value.code == "queue.key_file"


def test_bad_input_is_refused(outbox: Outbox) -> None:
    with pytest.raises(InvalidEntry):
        outbox.put("k.v", {"when": object()})  # type: ignore[dict-item]
    with pytest.raises(InvalidEntry):
        outbox.put("k.v", {"x": float("nan")})
    with pytest.raises(InvalidEntry):
        outbox.put("Bad Kind", {})
    with pytest.raises(InvalidEntry):
        outbox.put("k.v", {}, key="has space")
    key = outbox.put("k.v", {}, key="K-1-custom-1")
    with pytest.raises(InvalidEntry):
        outbox.put("k.v", {}, key=key)
    assert outbox.counts().pending == 1


def test_full_database_fails_loudly_and_loses_nothing(
    tmp_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """``max_db_bytes`` (PRAGMA max_page_count) stands in for a full disk."""
    path = tmp_path / "o.sqlite"
    box = Outbox(
        path,
        kiosk_id=KIOSK,
        clock=clock,
        max_db_bytes=256 * 1024,
        reserve_bytes=8 * 1024,
        audit_days=0,
    )
    accepted = []
    with pytest.raises(OutboxFull) as info:
        for n in range(10_000):
            accepted.append(box.put("k.v", {"n": n, "pad": "p" * 1000}))
    assert info.value.code == "queue.full"
    assert not box.accepting
    assert not box.health().accepting
    with pytest.raises(OutboxFull):  # stays refused, without touching the database
        box.put("k.v", {"n": -1})
    assert box.integrity_ok()
    assert box.counts().pending == len(accepted) > 50
    # Deliver and purge: room again, so the kiosk takes transactions again. The reserve
    # left by the refused puts holds fewer lease rows than asked: claims shrink, not fail.
    while claimed := box.claim(100, lease_s=30):
        box.ack([(e, "ok") for e in claimed])
    assert "claiming 50 entries at a time" in caplog.text
    clock.advance(1)
    assert box.purge_audit() == len(accepted)
    assert box.health().accepting
    box.put("k.v", {"n": "after"})
    box.close()
    with Outbox(path, kiosk_id=KIOSK, clock=clock) as again:
        assert again.integrity_ok()
        assert again.counts().pending == 1


def _mount_tmpfs(target: Path, size: str) -> bool:
    target.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


def test_full_attachment_disk_fails_loudly(tmp_path: Path, clock: ManualClock) -> None:
    """Attachments on a 1 MiB tmpfs: ENOSPC mid-put is OutboxFull and leaves nothing half-done."""
    small = tmp_path / "small"
    if not _mount_tmpfs(small, "1m"):
        pytest.skip("cannot mount a tmpfs here (needs CAP_SYS_ADMIN)")
    try:
        box = Outbox(
            tmp_path / "o.sqlite", kiosk_id=KIOSK, clock=clock, attachments_dir=small / "att"
        )
        photo = os.urandom(200 * 1024)
        accepted = []
        with pytest.raises(OutboxFull):
            for n in range(20):
                accepted.append(
                    box.put("photo.captured", {"n": n}, attachments=[Attachment("p", photo)])
                )
        assert 2 <= len(accepted) < 6
        assert box.counts().pending == len(accepted)
        assert len(list((small / "att").iterdir())) == len(accepted)
        assert box.integrity_ok()
        [e] = box.claim(1, lease_s=30)
        assert box.read_attachment(e.attachments[0]) == photo
        box.close()
    finally:
        subprocess.run(["umount", str(small)], check=False)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payload=st.dictionaries(
        st.text(min_size=1, max_size=10),
        st.recursive(
            st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=30),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=5), inner, max_size=4)
            ),
            max_leaves=10,
        ),
        max_size=6,
    )
)
def test_payload_round_trips_exactly(outbox: Outbox, payload: dict[str, object]) -> None:
    key = outbox.put("k.v", payload, stream=key_stream(payload))
    [e] = [c for c in outbox.claim(1000, lease_s=30) if c.key == key]
    assert e.payload == payload
    outbox.ack([(e, "ok")])


def key_stream(payload: dict[str, object]) -> str:
    return str(len(payload))


def test_sqlite_error_is_unavailable_not_a_crash(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path, kiosk_id=KIOSK, clock=clock, busy_timeout_s=0.2)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock for too long
    from offline_queue import OutboxUnavailable

    with pytest.raises(OutboxUnavailable) as info:
        box.put("k.v", {"n": 1})
    assert info.value.code == "queue.unavailable"
    other.execute("ROLLBACK")
    box.put("k.v", {"n": 2})
    assert box.counts().pending == 1
    box.close()
