"""Write turns between connections of one process (offline_queue.writers)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from offline_queue import Outbox
from offline_queue.writers import FairLock, WriterTimeout, writer_lock

KIOSK = "K-TEST-01"


def test_turns_go_in_arrival_order() -> None:
    lock = FairLock()
    lock.acquire(1.0)
    order: list[str] = []
    started = []

    def wait_turn(name: str) -> None:
        lock.acquire(5.0)
        order.append(name)
        lock.release()

    for name in ("first", "second", "third"):
        t = threading.Thread(target=wait_turn, args=(name,))
        t.start()
        started.append(t)
        while len(lock._waiters) < len(started):  # queued before the next one arrives
            time.sleep(0.001)
    lock.release()
    for t in started:
        t.join(60)
    assert order == ["first", "second", "third"]


def test_a_turn_that_does_not_come_times_out_and_leaves_the_queue() -> None:
    lock = FairLock()
    lock.acquire(1.0)
    with pytest.raises(WriterTimeout):
        lock.acquire(0.05)
    assert not lock._waiters
    lock.release()
    lock.acquire(0.05)  # free again: taken at once


def test_one_lock_per_file_whatever_the_name(tmp_path: Path) -> None:
    db = tmp_path / "o.sqlite"
    db.touch()
    (tmp_path / "link.sqlite").symlink_to(db)
    assert writer_lock(db) is writer_lock(tmp_path / "link.sqlite")
    other = tmp_path / "other.sqlite"
    other.touch()
    assert writer_lock(db) is not writer_lock(other)


def test_sync_side_is_not_starved_by_a_busy_writer(tmp_path: Path) -> None:
    """Under SQLite's sleep-and-retry alone, a connection that writes back to back holds
    the lock whenever the sleeper wakes: claims and acknowledgements waited hundreds of
    puts each (often the whole burst)."""
    path = tmp_path / "o.sqlite"
    writer = Outbox(path, kiosk_id=KIOSK)
    sync_side = Outbox(path, kiosk_id=KIOSK)
    writer.put("k.v", {"n": -1})
    done = 0
    stop = threading.Event()

    def burst() -> None:
        nonlocal done
        while not stop.is_set() and done < 5000:
            writer.put("k.v", {"n": done})
            done += 1

    thread = threading.Thread(target=burst)
    thread.start()
    try:
        while done < 50:
            time.sleep(0.001)
        before = done
        for _ in range(5):
            claimed = sync_side.claim(10, lease_s=30)
            assert claimed
            sync_side.ack([(e, "201") for e in claimed])
        waited = done - before
    finally:
        stop.set()
        thread.join()
        writer.close()
        sync_side.close()
    # Ten write transactions of the sync side, each waiting for about one put in turn (a
    # few puts also run while the sync side works outside its transactions).
    assert waited < 300, f"the sync side waited for {waited} puts"
