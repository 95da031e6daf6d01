"""The outbox's SQLite connection: its settings, write transactions taken in turns with the
other connections of this process, and the mapping of database errors onto the queue's own.

Every part of the outbox works through one ``Database``: it holds the connection (replaceable,
so tests can put a failing disk in front of it), the lock that serialises this connection's
users, and the write turn for the file (``offline_queue.writers``).
"""

from __future__ import annotations

import errno
import logging
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from offline_queue.clock import Clock
from offline_queue.errors import OutboxDamaged, OutboxFull, OutboxUnavailable, QueueError
from offline_queue.writers import WriterTimeout, writer_lock

log = logging.getLogger(__name__)

_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_NOTADB = 26


def recover_remedy(path: Path | str) -> str:
    """What staff do about a damaged outbox file (part of every such error)."""
    return (
        "take the kiosk out of service and run `kiosk queue recover --db "
        f"{path}`: it copies every readable entry into a fresh outbox, keeps the damaged "
        "file aside and lists what was lost."
    )


def is_full(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL or "full" in str(exc)
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def is_corrupt(exc: BaseException) -> bool:
    """SQLite found the file damaged (a malformed page, not a database at all)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    return code in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or "malformed" in str(exc)


def damaged(path: Path | str, exc: BaseException) -> OutboxDamaged:
    return OutboxDamaged(
        f"the outbox {path} is damaged ({exc}).",
        path=str(path),
        remedy=recover_remedy(path),
        problems=(str(exc),),
    )


def failure(path: Path | str, exc: sqlite3.Error | OSError, what: str) -> QueueError:
    """The queue's error for a database or file error: full, damaged or unavailable."""
    if is_full(exc):
        return OutboxFull(f"outbox full: {exc}")
    if is_corrupt(exc):
        return damaged(path, exc)
    return OutboxUnavailable(f"outbox {what} failed: {exc}")


class Database:
    """One SQLite connection to the outbox file, shared by the outbox's parts."""

    def __init__(self, path: Path, conn: sqlite3.Connection, busy_timeout_s: float, clock: Clock):
        self.path = path
        self.conn = conn
        self.clock = clock
        self.busy_timeout_s = busy_timeout_s
        self.lock = threading.RLock()
        self.in_tx = False
        self._writers = writer_lock(path)

    def now(self) -> float:
        return self.clock.now().timestamp()

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    # ------------------------------------------------------------ transactions
    @contextmanager
    def write(self) -> Iterator[None]:
        """BEGIN IMMEDIATE .. COMMIT under the connection lock and this process's write turn
        for the file (nested calls join)."""
        with self.lock:
            if self.in_tx:
                yield
                return
            self.begin()
            done = False
            try:
                yield
                done = True
            finally:
                self.end(commit=done)

    def begin(self) -> None:
        """This process's write turn for the file, then BEGIN IMMEDIATE (under ``lock``)."""
        try:
            self._writers.acquire(self.busy_timeout_s)
        except WriterTimeout as exc:
            # The same failure SQLite's busy timeout would report, so callers map it alike.
            raise sqlite3.OperationalError(f"database is locked: {exc}") from exc
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._writers.release()
            raise
        self.in_tx = True

    def end(self, *, commit: bool) -> None:
        """COMMIT (a failed one is rolled back and raised) or ROLLBACK, then give up the
        write turn."""
        try:
            if commit:
                try:
                    self.conn.execute("COMMIT")
                except BaseException:
                    self.rollback()
                    raise
            else:
                self.rollback()
        finally:
            self.in_tx = False
            self._writers.release()

    def rollback(self) -> None:
        try:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
        except sqlite3.Error:
            log.exception("rollback failed")

    @contextmanager
    def guard(self, what: str = "write") -> Iterator[None]:
        """Database and file errors inside become OutboxFull / OutboxDamaged /
        OutboxUnavailable: a caller never sees sqlite3's own errors."""
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            raise failure(self.path, exc, what) from exc

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection for reads, under the lock, with errors mapped as by ``guard``."""
        with self.guard("read"), self.lock:
            yield self.conn

    # ------------------------------------------------------------------ meta
    def get_meta(self, name: str) -> str | None:
        with self.reading() as conn:
            row = conn.execute("SELECT value FROM meta WHERE name=?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, values: Mapping[str, str]) -> None:
        with self.guard(), self.write():
            self.put_meta(values)

    def put_meta(self, values: Mapping[str, str]) -> None:
        """Write meta rows inside the caller's transaction."""
        self.conn.executemany(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value=excluded.value",
            list(values.items()),
        )
