"""Turns for the writers of one database file inside this process.

SQLite lets one connection write at a time and makes the others retry by sleeping (1, 2, 5,
10 ... 100 ms). A connection that writes back to back - the kiosk enqueuing under load, a
staff ``queue load`` - is almost always holding the lock when a sleeper wakes, so the sync
worker's claims and acknowledgements (and the purge) could wait seconds. Connections of this
process therefore queue for the write lock here, first come first served, and SQLite's busy
timeout only arbitrates between processes.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from pathlib import Path


class WriterTimeout(TimeoutError):
    """The write turn did not come within the timeout (another writer is stuck)."""


class FairLock:
    """A non-reentrant lock handed to waiters in arrival order."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: deque[threading.Lock] = deque()
        self._held = False

    def acquire(self, timeout_s: float) -> None:
        with self._mutex:
            if not self._held:
                self._held = True
                return
            gate = threading.Lock()
            gate.acquire()
            self._waiters.append(gate)
        if gate.acquire(timeout=timeout_s):
            return  # handed over by release(): the lock stays held, now by us
        with self._mutex:
            if gate in self._waiters:
                self._waiters.remove(gate)
                raise WriterTimeout(f"no write turn within {timeout_s:g} s")
        # Handed over between the timeout and taking the mutex: the turn is ours after all.

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()
            else:
                self._held = False


_registry_lock = threading.Lock()
_registry: dict[tuple[int, int], FairLock] = {}


def writer_lock(path: Path) -> FairLock:
    """The lock shared by every connection of this process to the database at ``path``
    (the same file under any name: keyed by device and inode)."""
    info = os.stat(path)
    with _registry_lock:
        return _registry.setdefault((info.st_dev, info.st_ino), FairLock())
