"""The sync worker against the real reference central service on loopback, including every
fault mode the service can be told to show."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import socket
import sqlite3
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from central.server import CentralHandle, start_in_thread
from kiosk.core.clock import ManualClock
from offline_queue import Attachment, CentralError, InsecureTransport, Outbox, QueueError
from offline_queue.backoff import full_jitter, parse_retry_after
from offline_queue.outbox import AttachmentRef, ClaimedEntry
from offline_queue.sync import SyncStatus, SyncWorker
from offline_queue.transport import CentralTransport, Response, check_url
from tests.disk import DiskFailing
from tests.queue.conftest import ID_NUMBER, KIOSK, SECRET, WorkerFactory, set_faults


def _put(outbox: Outbox, n: int, stream: str = "s") -> list[str]:
    return [
        outbox.put("renewal.issued", {"n": i, "id_number": ID_NUMBER}, stream=stream)
        for i in range(n)
    ]


def _central_keys(central: CentralHandle) -> list[str]:
    return [t["key"] for t in central.store.transactions()]


def test_drain_delivers_everything_once_in_order(
    outbox: Outbox, central: CentralHandle, make_worker: WorkerFactory
) -> None:
    keys = [outbox.put("k.v", {"n": n}, stream=f"s{n % 3}") for n in range(250)]
    worker = make_worker(batch_size=40)
    assert worker.drain() == 250
    assert _central_keys(central) == keys  # one worker: arrival order is put order
    status = worker.status()
    assert (status.pending, status.dead, status.sent) == (0, 0, 250)
    assert status.last_success_at is not None and status.last_error is None
    assert central.store.stats()["transactions"] == 250


def _most_leased_during(work: Callable[[], object], db: Path) -> int:
    """The most entries leased at one time (read on another connection) while ``work`` runs."""
    most = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal most
        with sqlite3.connect(db) as conn:
            while not done.is_set():
                most = max(most, conn.execute("SELECT COUNT(*) FROM leases").fetchone()[0])
                time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        work()
    finally:
        done.set()
        watcher.join()
    return most


def _count_requests(worker: SyncWorker) -> dict[str, int]:
    """Spy on the worker's transport: how many requests were open at one time, at most."""
    lock = threading.Lock()
    seen = {"open": 0, "most": 0}
    send = worker.transport.request

    def request(*args: Any, **kwargs: Any) -> Response:
        with lock:
            seen["open"] += 1
            seen["most"] = max(seen["most"], seen["open"])
        try:
            return send(*args, **kwargs)
        finally:
            with lock:
                seen["open"] -= 1

    worker.transport.request = request  # type: ignore[method-assign]
    return seen


def test_a_backlog_goes_in_one_turn_the_next_batch_prepared_while_one_is_in_flight(
    outbox: Outbox, central: CentralHandle, make_worker: WorkerFactory
) -> None:
    keys = [outbox.put("k.v", {"n": n}, stream=f"s{n % 2}") for n in range(23)]
    set_faults(central, latency_s=0.3)  # a slow central: the overlap is long enough to see
    worker = make_worker(batch_size=5)
    requests_seen = _count_requests(worker)
    results = []
    most = _most_leased_during(lambda: results.append(worker.sync_once()), outbox.path)
    assert most == 10  # the batch in flight and the next one, never more
    assert requests_seen["most"] == 1  # one request at a time on the transport
    [result] = results
    assert (result.claimed, result.delivered, result.error) == (23, 23, None)
    assert result.last_batch == 3
    assert _central_keys(central) == keys  # streams in order: batches go one after another
    assert worker.status().sent == 23


def test_one_batch_per_turn_when_pipelining_is_off(
    outbox: Outbox, central: CentralHandle, make_worker: WorkerFactory
) -> None:
    keys = _put(outbox, 12)
    set_faults(central, latency_s=0.2)
    worker = make_worker(batch_size=5, pipeline_batches=1)
    results = []
    most = _most_leased_during(lambda: results.append(worker.sync_once()), outbox.path)
    assert most == 5 and results[0].delivered == 5
    assert _central_keys(central) == keys[:5]


def test_a_refused_entry_holds_back_its_successor_prepared_behind_it(
    outbox: Outbox, central: CentralHandle, make_worker: WorkerFactory
) -> None:
    # Batches of three: [A1 B1 C1] then, prepared while it is in flight, [A2 B2 C2].
    a1 = outbox.put("k.v", {"n": 1}, stream="A", schema_version=99)  # central refuses it
    b1, c1 = (outbox.put("k.v", {"n": 1}, stream=s) for s in "BC")
    a2, b2, c2 = (outbox.put("k.v", {"n": 2}, stream=s) for s in "ABC")
    result = make_worker(batch_size=3).sync_once()
    assert (result.claimed, result.delivered, result.dead, result.retried) == (6, 4, 1, 1)
    assert outbox.entry(a1).state == "dead"
    # a2 was withdrawn before its batch left: central never saw it, it waits behind a1.
    assert _central_keys(central) == [b1, c1, b2, c2]
    assert central.store.stats()["rejected"] == 1
    info = outbox.entry(a2)
    assert (info.state, info.attempts) == ("pending", 0)
    assert outbox.claim(10, lease_s=30) == []  # the dead a1 blocks it


def test_a_failed_batch_returns_the_one_prepared_behind_it_untouched(
    outbox: Outbox, central: CentralHandle, make_worker: WorkerFactory, clock: ManualClock
) -> None:
    keys = _put(outbox, 9)
    set_faults(central, spare=1, once={"error": 1}, paths=["/v1/transactions"])
    worker = make_worker(batch_size=3)
    result = worker.sync_once()
    assert result.error is not None and "503" in result.error
    assert (result.claimed, result.delivered, result.retried) == (9, 3, 6)
    assert _central_keys(central) == keys[:3]
    # The refused batch counts an attempt; the one prepared behind it was never sent.
    assert [outbox.entry(k).attempts for k in keys[3:]] == [1, 1, 1, 0, 0, 0]
    assert {outbox.entry(k).last_error for k in keys[6:]} == {"batch not sent"}
    assert outbox.counts().pending == 6
    assert worker.sync_once().wait_s > 0  # the backoff holds for the whole queue


def test_dead_entries_of_a_run_add_up(
    outbox: Outbox, central: CentralHandle, make_worker: WorkerFactory
) -> None:
    # [A1 B1 C1]: A1 and B1 refused one by one; then [D1], refused as a whole request.
    for stream in "AB":
        outbox.put("k.v", {"n": 1}, stream=stream, schema_version=99)
    outbox.put("k.v", {"n": 1}, stream="C")
    outbox.put("k.v", {"n": 1}, stream="D")
    set_faults(central, spare=1, once={"status": 1}, status_code=400, paths=["/v1/transactions"])
    result = make_worker(batch_size=3).sync_once()
    assert outbox.counts().dead == result.dead == 3
    assert result.delivered == 1


def test_a_heartbeat_asked_for_ends_the_run_at_the_batch_in_flight(
    outbox: Outbox, central: CentralHandle, make_worker: WorkerFactory
) -> None:
    _put(outbox, 12)
    worker = make_worker(batch_size=3)
    worker.heartbeat_soon()  # a citizen called staff: the alert must not wait for the backlog
    assert worker.sync_once().claimed == 3
    worker.housekeeping()
    assert worker.sync_once().claimed == 9


@pytest.mark.parametrize(
    "failing",
    [("INSERT OR REPLACE INTO leases", 2), ("UPDATE entries SET state='sent'", 1)],
    ids=["leasing the next batch", "acknowledging after the next batch left"],
)
def test_a_database_error_mid_run_leaves_no_request_behind_and_loses_nothing(
    failing: tuple[str, int],
    outbox: Outbox,
    central: CentralHandle,
    make_worker: WorkerFactory,
    clock: ManualClock,
) -> None:
    keys = [outbox.put("k.v", {"n": n}, stream=f"s{n % 2}") for n in range(6)]
    set_faults(central, latency_s=0.3, paths=["/v1/transactions"])
    worker = make_worker(batch_size=3)
    requests_seen = _count_requests(worker)
    worker.outbox._conn = DiskFailing(worker.outbox._conn, *failing)  # type: ignore[assignment]
    with pytest.raises(QueueError):
        worker.sync_once()
    assert worker.heartbeat()  # the worker loop goes on after an error: the transport is free
    assert requests_seen["most"] == 1
    set_faults(central)
    clock.advance(61)  # the leases of the interrupted run end
    worker.drain()
    assert outbox.counts().sent == 6
    assert sorted(_central_keys(central)) == sorted(keys)  # each once; resent ones replayed


def test_attachment_upload_resumes_mid_file_and_is_deleted_after_ack(
    outbox: Outbox, central: CentralHandle, make_worker: WorkerFactory, clock: ManualClock
) -> None:
    photo = os.urandom(300 * 1024)
    key = outbox.put(
        "photo.captured",
        {"photo_number": "P-0001", "id_number": ID_NUMBER},
        attachments=[Attachment("photo.jpg", photo, "image/jpeg")],
    )
    # The connection drops halfway through the third 64 KiB chunk.
    set_faults(central, once={"upload_cut": 1}, upload_cut_offset=128 * 1024)
    worker = make_worker(upload_chunk_bytes=64 * 1024)
    failed = worker.sync_once()
    assert failed.delivered == 0 and failed.error is not None
    assert outbox.entry(key).state == "pending"
    upload_path = outbox._conn.execute("SELECT upload_url FROM attachments").fetchone()[0]
    offset, length = central.store.upload_state(upload_path.rsplit("/", 1)[1])
    assert (offset, length) == (128 * 1024, len(photo))
    clock.advance(400)
    worker._not_before = 0
    done = worker.sync_once()
    assert done.delivered == 1
    stats = central.store.stats()
    assert stats["upload_bytes"] == len(photo)  # the first two chunks were not sent again
    assert stats["uploads"] == 1
    [stored] = central.store.transactions()
    upload_id = stored["body"]["attachments"][0]["upload"]
    assert central.store.upload_bytes(upload_id) == photo
    assert stored["body"]["attachments"][0]["sha256"] == hashlib.sha256(photo).hexdigest()
    assert list(outbox.attachments_dir.iterdir()) == []
    assert outbox.entry(key).state == "sent"


def test_lost_attachment_file_dead_letters_only_its_entry(
    outbox: Outbox, central: CentralHandle, make_worker: WorkerFactory
) -> None:
    broken = outbox.put("photo.captured", {"n": 1}, stream="A", attachments=[Attachment("p", b"x")])
    fine = outbox.put("k.v", {"n": 2}, stream="B")
    for f in outbox.attachments_dir.iterdir():
        f.unlink()
    make_worker().drain()
    info = outbox.entry(broken)
    assert info.state == "dead" and (info.last_error or "").startswith("queue.attachment_lost")
    assert outbox.entry(fine).state == "sent"


def test_lost_answer_is_replayed_not_applied_twice(
    outbox: Outbox, central: CentralHandle, make_worker: WorkerFactory, clock: ManualClock
) -> None:
    keys = _put(outbox, 5)
    set_faults(central, once={"reset": 1})
    worker = make_worker()
    failed = worker.sync_once()
    assert failed.error and "central.unreachable" in failed.error
    assert central.store.stats()["transactions"] == 5  # central did the work, the answer was lost
    clock.advance(400)
    worker._not_before = 0
    assert worker.drain() == 5
    stats = central.store.stats()
    assert (stats["transactions"], stats["replays"]) == (5, 5)
    assert _central_keys(central) == keys


@pytest.mark.parametrize(
    ("mode", "code"),
    [
        ("error", "central.http_503"),
        ("bad_json", "central.bad_response"),
        ("wrong_schema", "central.bad_response"),
        ("huge", "central.too_large"),
    ],
)
def test_bad_answers_cost_one_attempt_only(
    mode: str,
    code: str,
    outbox: Outbox,
    central: CentralHandle,
    make_worker: WorkerFactory,
    clock: ManualClock,
) -> None:
    keys = _put(outbox, 3)
    set_faults(central, once={mode: 1})
    worker = make_worker(max_backoff_s=10)
    failed = worker.sync_once()
    assert failed.error is not None and failed.error.startswith(code)
    for key in keys:
        info = outbox.entry(key)
        assert (info.state, info.attempts) == ("pending", 1)
        assert info.last_error is not None and info.last_error.startswith(code)
    assert worker.status().last_error.startswith(code)  # type: ignore[union-attr]
    assert failed.wait_s <= 10
    clock.advance(11)
    assert worker.drain() == 3
    assert sorted(_central_keys(central)) == sorted(keys)


def test_slow_trickle_is_cut_by_the_overall_deadline(
    outbox: Outbox, central: CentralHandle, make_worker: WorkerFactory
) -> None:
    _put(outbox, 1)
    # Each byte arrives well within the per-read timeout, the whole answer never in time.
    set_faults(central, once={"trickle": 1}, trickle_interval_s=0.1, trickle_bytes=100)
    worker = make_worker(timeout_s=0.6)
    start = time.monotonic()
    result = worker.sync_once()
    assert time.monotonic() - start < 2.0
    assert result.error is not None and result.error.startswith("central.timeout")


def test_latency_beyond_the_timeout_is_a_retryable_failure(
    outbox: Outbox, central: CentralHandle, make_worker: WorkerFactory
) -> None:
    _put(outbox, 1)
    set_faults(central, latency_s=0.8)
    result = make_worker(timeout_s=0.3).sync_once()
    assert result.error is not None and result.error.startswith("central.timeout")
    set_faults(central)


def test_retry_after_is_honoured(
    outbox: Outbox, central: CentralHandle, make_worker: WorkerFactory, clock: ManualClock
) -> None:
    [key] = _put(outbox, 1)
    set_faults(central, once={"retry_after": 1}, retry_after_s=7)
    worker = make_worker(base_backoff_s=0.01)
    failed = worker.sync_once()
    assert failed.error is not None and "429" in failed.error
    assert failed.wait_s == pytest.approx(7)
    info = outbox.entry(key)
    assert info.attempts == 0  # being told to slow down is not the entry's fault
    assert info.next_attempt_at == pytest.approx(clock.now().timestamp() + 7)
    requests_before = central.store.stats()["faults"]
    clock.advance(6.5)
    early = worker.sync_once()
    assert early.claimed == 0 and early.wait_s == pytest.approx(0.5)
    assert central.store.stats()["faults"] == requests_before
    clock.advance(0.6)
    assert worker.sync_once().delivered == 1


def test_retry_after_http_date_is_parsed() -> None:
    now = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Fri, 27 Nov 2026 09:00:30 GMT", now) == pytest.approx(30)
    assert parse_retry_after("soon") is None


def test_full_jitter_is_bounded_by_the_cap() -> None:
    rng = random.Random(1)
    for attempt in range(40):
        ceiling = min(60.0, 0.5 * 2**attempt)
        delays = [full_jitter(attempt, base_s=0.5, cap_s=60.0, rng=rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        # Full jitter spreads over the whole range, not just near the ceiling.
        assert min(delays) < ceiling * 0.1 and max(delays) > ceiling * 0.9


def test_worker_backoff_grows_with_attempts_and_stays_under_cap(
    outbox: Outbox, central: CentralHandle, make_worker: WorkerFactory, clock: ManualClock
) -> None:
    [key] = _put(outbox, 1)
    set_faults(central, rates={"error": 1.0})
    worker = make_worker(base_backoff_s=1.0, max_backoff_s=20.0)
    delays = []
    for attempt in range(8):
        worker._not_before = 0
        clock.advance(100)
        result = worker.sync_once()
        assert result.claimed == 1
        delay = outbox.entry(key).next_attempt_at - clock.now().timestamp()
        assert 0 <= delay <= min(20.0, 2**attempt)
        delays.append(delay)
    assert outbox.entry(key).attempts == 8
    assert max(delays) > 4  # it does grow


def test_permanent_refusal_dead_letters_and_blocks_the_stream(
    outbox: Outbox, central: CentralHandle, make_worker: WorkerFactory
) -> None:
    bad = outbox.put("k.v", {"n": 1}, stream="A", schema_version=99)
    after_bad = outbox.put("k.v", {"n": 2}, stream="A")
    other = outbox.put("k.v", {"n": 3}, stream="B")
    worker = make_worker()
    worker.drain()
    assert outbox.entry(bad).state == "dead"
    assert "422" in (outbox.entry(bad).last_error or "")
    assert outbox.entry(after_bad).state == "pending"  # skipped with 424 in the same batch
    assert outbox.entry(other).state == "sent"
    assert _central_keys(central) == [other]
    assert worker.status().dead == 1
    outbox.discard(bad)
    worker.drain()
    assert outbox.entry(after_bad).state == "sent"
    assert _central_keys(central) == [other, after_bad]


def test_redrive_after_a_refused_request(
    outbox: Outbox, central: CentralHandle, make_worker: WorkerFactory
) -> None:
    [key] = _put(outbox, 1)
    set_faults(central, once={"status": 1}, status_code=400)
    worker = make_worker()
    worker.drain()
    assert outbox.entry(key).state == "dead"
    outbox.redrive(key)
    assert worker.drain() == 1
    assert outbox.entry(key).state == "sent"


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502])
def test_transient_statuses_are_retried_not_dead(
    status: int, outbox: Outbox, central: CentralHandle, make_worker: WorkerFactory
) -> None:
    [key] = _put(outbox, 1)
    set_faults(central, once={"status": 1}, status_code=status)
    worker = make_worker()
    worker.sync_once()
    assert outbox.entry(key).state == "pending"


def test_bad_signature_is_not_the_entries_fault(
    outbox: Outbox, central: CentralHandle, make_worker: WorkerFactory
) -> None:
    [key] = _put(outbox, 1)
    result = make_worker(secret=b"wrong").sync_once()
    assert result.error is not None and "401" in result.error
    assert outbox.entry(key).state == "pending"
    assert central.store.stats()["transactions"] == 0


def _closed_port() -> int:
    """A loopback port nothing listens on: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_central_not_answering_is_marked_from_the_first_failure_until_an_answer(
    outbox: Outbox, central: CentralHandle, make_worker: WorkerFactory, clock: ManualClock
) -> None:
    [key] = _put(outbox, 1)
    down = make_worker(url=f"http://127.0.0.1:{_closed_port()}")
    assert down.status().central_unreachable_since is None
    assert down.sync_once().error is not None
    first = down.status().central_unreachable_since
    assert first == clock.now()
    clock.advance(60)
    assert not down.heartbeat()
    assert down.status().central_unreachable_since == first  # since the first failure
    assert down.status().as_json()["central_unreachable_since"] == first.isoformat()
    clock.advance(3600)  # past the entry's backoff
    up = make_worker()
    assert up.drain() == 1 and outbox.entry(key).state == "sent"
    assert up.status().central_unreachable_since is None


def test_an_answered_heartbeat_ends_the_mark_and_a_refused_body_never_sets_it(
    outbox: Outbox, central: CentralHandle, make_worker: WorkerFactory
) -> None:
    _put(outbox, 1)
    worker = make_worker()
    set_faults(central, once={"status": 1}, status_code=503)
    worker.sync_once()
    assert worker.status().central_unreachable_since is not None
    assert worker.heartbeat()
    assert worker.status().central_unreachable_since is None
    set_faults(central, once={"status": 1}, status_code=400)  # the content, not the link
    worker.sync_once()
    assert worker.status().central_unreachable_since is None


def test_refused_credentials_mark_central_unreachable(
    outbox: Outbox, central: CentralHandle, make_worker: WorkerFactory
) -> None:
    _put(outbox, 1)
    worker = make_worker(secret=b"wrong")
    worker.sync_once()
    assert worker.status().central_unreachable_since is not None


def test_offline_window_warns_staff_through_listeners(
    outbox: Outbox, central: CentralHandle, make_worker: WorkerFactory, clock: ManualClock
) -> None:
    worker = make_worker(offline_window_s=24 * 3600)
    seen: list[SyncStatus] = []
    worker.add_listener(seen.append)
    _put(outbox, 1)
    assert worker.drain() == 1
    assert not worker.check_offline().offline_too_long
    seen.clear()
    clock.advance(23 * 3600)
    assert not worker.check_offline().offline_too_long and seen == []
    clock.advance(3601)
    assert worker.check_offline().offline_too_long
    worker.check_offline()
    assert [s.offline_too_long for s in seen] == [True]  # told once, not on every check
    _put(outbox, 1)
    worker.drain()
    assert not worker.check_offline().offline_too_long
    assert [s.offline_too_long for s in seen] == [True, False]


def test_status_reports_oldest_pending_age(
    outbox: Outbox, make_worker: WorkerFactory, clock: ManualClock
) -> None:
    _put(outbox, 2)
    clock.advance(90)
    status = make_worker().status()
    assert status.pending == 2
    assert status.oldest_pending_age_s == pytest.approx(90)
    assert status.as_json()["pending"] == 2


def test_heartbeat_reaches_central(
    outbox: Outbox, central: CentralHandle, make_worker: WorkerFactory
) -> None:
    worker = make_worker()
    worker.heartbeat({"devices": {"printer": "ok"}})
    assert central.store.stats()["heartbeats"] == 1
    assert worker.status().last_contact_at is not None


def _wait_for(condition: Callable[[], bool], seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_heartbeat_soon_does_not_wait_for_the_interval(
    tmp_path: Path, central: CentralHandle
) -> None:
    """A staff alert (a citizen asked for help) goes out at once, not up to five minutes
    later with the regular heartbeat."""
    from offline_queue.sync import SyncSettings

    worker = SyncWorker(
        Outbox(tmp_path / "hb.sqlite", kiosk_id=KIOSK),
        CentralTransport(central.url, kiosk_id=KIOSK, secret=SECRET),
        settings=SyncSettings(idle_poll_s=0.5, heartbeat_s=300.0),
    )
    worker.start()
    try:
        assert _wait_for(lambda: central.store.stats()["heartbeats"] == 1)  # the one at start
        time.sleep(0.3)
        assert central.store.stats()["heartbeats"] == 1  # the next is 300 s away
        worker.heartbeat_soon()
        assert _wait_for(lambda: central.store.stats()["heartbeats"] == 2)
    finally:
        worker.stop()
        worker.outbox.close()


def test_worker_thread_delivers_in_the_background(tmp_path: Path, central: CentralHandle) -> None:
    from offline_queue.sync import SyncSettings

    box = Outbox(tmp_path / "bg.sqlite", kiosk_id=KIOSK)
    worker = SyncWorker(
        Outbox(tmp_path / "bg.sqlite", kiosk_id=KIOSK),
        CentralTransport(central.url, kiosk_id=KIOSK, secret=SECRET),
        settings=SyncSettings(idle_poll_s=0.05),
    )
    delivered = threading.Event()
    worker.start()
    try:
        for n in range(20):
            box.put("k.v", {"n": n})
            worker.wake()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and box.counts().sent < 20:
            time.sleep(0.02)
        delivered.set()
    finally:
        worker.stop()
    assert box.counts().sent == 20
    box.close()


# ------------------------------------------------------------------- transport security
def test_plain_http_only_to_loopback() -> None:
    assert check_url("http://127.0.0.1:8787/") == "http://127.0.0.1:8787"
    assert check_url("http://[::1]:80") == "http://[::1]:80"
    assert check_url("https://central.example.org")
    for url in ("http://10.0.0.5:8787", "http://central.example.org", "ftp://127.0.0.1"):
        with pytest.raises(InsecureTransport):
            CentralTransport(url, kiosk_id=KIOSK, secret=SECRET)


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "c.pem", tmp_path / "k.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_tls_is_verified(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    handle = start_in_thread(tmp_path / "c.sqlite", kiosk_secrets={KIOSK: SECRET}, tls=context)
    try:
        assert handle.url.startswith("https://")
        untrusted = CentralTransport(handle.url, kiosk_id=KIOSK, secret=SECRET, timeout_s=3)
        with pytest.raises(CentralError) as info:
            untrusted.request("POST", "/v1/heartbeat", body=b"{}")
        assert info.value.code == "central.tls"
        trusted = CentralTransport(
            handle.url, kiosk_id=KIOSK, secret=SECRET, ca_bundle=str(cert), timeout_s=3
        )
        assert trusted.request("POST", "/v1/heartbeat", body=b"{}").status == 200
    finally:
        handle.stop()


# --------------------------------------------------------------------- hostile answers
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_result = st.fixed_dictionaries(
    {
        "key": st.sampled_from(["K-1", "K-2", "K-3"]) | st.integers(),
        "status": st.integers(0, 999) | st.text(max_size=3) | st.booleans(),
    },
    optional={"ref": _json, "error": _json},
)


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=200)
    | _json.map(lambda v: json.dumps(v).encode())
    | st.builds(lambda rs: json.dumps({"results": rs}).encode(), st.lists(_result, max_size=5))
)
def test_any_central_answer_is_parsed_or_refused_cleanly(body: bytes) -> None:
    entries = [_claimed("K-1"), _claimed("K-2")]
    try:
        outcomes = SyncWorker._parse_results(Response(200, {}, body), entries)
    except CentralError as exc:
        assert exc.retryable
        return
    assert set(outcomes) >= {"K-1", "K-2"}
    assert all(
        isinstance(status, int) and 200 <= status <= 599 and isinstance(detail, str)
        for status, detail in outcomes.values()
    )


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_retry_after_parser_never_raises(value: str) -> None:
    parsed = parse_retry_after(value)
    assert parsed is None or parsed >= 0


def _claimed(key: str) -> ClaimedEntry:
    return ClaimedEntry(
        seq=1,
        key=key,
        kind="k.v",
        schema_version=1,
        stream="s",
        payload_json=b"{}",
        created_at=0.0,
        attempts=0,
        lease_token="t",
    )


_text = st.text(max_size=12)
_payload = st.dictionaries(_text, st.one_of(st.none(), st.integers(), _text), max_size=4)


@settings(max_examples=200, deadline=None)
@given(
    entries=st.lists(
        st.tuples(
            _text, _text, st.integers(0, 9), _text, st.floats(0, 2e9), _payload, st.booleans()
        ),
        max_size=4,
    )
)
def test_batch_body_is_the_json_of_its_entries(
    entries: list[tuple[str, str, int, str, float, dict[str, object], bool]],
) -> None:
    """The body is assembled from pieces (payload spliced in as stored): it must parse to
    exactly what encoding each entry as a whole would give."""
    claimed, expected, uploads = [], [], {}
    for n, (name, kind, version, stream, created, payload, photo) in enumerate(entries):
        key = f"{name}-{n}"  # keys are unique in a batch
        stored = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        refs = ()
        if photo:
            refs = (AttachmentRef(key, 0, "照片.jpg", "image/jpeg", "f.att", 5, "ab" * 32, None),)
            uploads[(key, 0)] = f"upload-{n}"
        claimed.append(ClaimedEntry(n, key, kind, version, stream, stored, created, 0, "t", refs))
        atts = (
            [
                {
                    "name": "照片.jpg",
                    "content_type": "image/jpeg",
                    "size": 5,
                    "sha256": "ab" * 32,
                    "upload": f"upload-{n}",
                }
            ]
            if photo
            else []
        )
        expected.append(
            {
                "key": key,
                "kind": kind,
                "schema_version": version,
                "stream": stream,
                "created_at": created,
                "attachments": atts,
                "payload": payload,
            }
        )
    body = SyncWorker._batch_body(claimed, uploads)
    assert json.loads(body) == {"entries": expected}
