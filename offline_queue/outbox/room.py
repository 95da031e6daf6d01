"""Room in the outbox: whether it may take a new transaction without eating into the room kept
for delivering what it holds (claims, acknowledgements and purges write too)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time

from offline_queue.outbox.database import Database, is_corrupt, is_full, recover_remedy
from offline_queue.outbox.records import Health


class Room:
    def __init__(
        self,
        db: Database,
        *,
        max_db_bytes: int | None,
        min_free_disk_bytes: int,
        reserve_bytes: int,
    ) -> None:
        self._db = db
        self.max_db_bytes = max_db_bytes
        self.min_free_disk_bytes = min_free_disk_bytes
        self.reserve_bytes = reserve_bytes
        self.accepting = True
        self.reason = "ok"
        self.page_size = 4096
        self._disk_checked_at = -1.0
        self._disk_free = 0

    def configure(self) -> None:
        """Read the page size and apply the size cap (``PRAGMA max_page_count``)."""
        conn = self._db.conn
        self.page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        if self.max_db_bytes:
            conn.execute(f"PRAGMA max_page_count={self.max_pages(self.max_db_bytes)}")

    def max_pages(self, max_db_bytes: int) -> int:
        return max(16, max_db_bytes // self.page_size)

    def ready(self) -> bool:
        """Cheap, before each put: True if the outbox is accepting and has room; otherwise
        the trial write of ``probe`` decides (under the database lock)."""
        return (self.accepting and self.short_of_room() is None) or self.probe()

    def health(self) -> Health:
        """Re-check room (free disk, a trial write of ``reserve_bytes``) and report."""
        path = self._db.path
        with self._db.lock:
            ok = self.probe()
            free = shutil.disk_usage(path.parent).free
            db_bytes = path.stat().st_size if path.exists() else 0
        return Health(
            accepting=ok,
            reason="ok" if ok else self.reason,
            free_disk_bytes=free,
            db_bytes=db_bytes,
        )

    def refuse(self) -> None:
        """A write ran out of room: refuse new transactions until ``health`` finds room."""
        self.accepting = False

    def short_of_room(self) -> str | None:
        """Why a new transaction would eat into the room kept for delivery, or None."""
        now = time.monotonic()
        if now - self._disk_checked_at >= 0.1:
            # At most ten times a second: what a tenth of a second of puts can write is far
            # below min_free_disk_bytes, and a disk that fills anyway still fails the put.
            vfs = os.statvfs(self._db.path.parent)
            self._disk_free = vfs.f_bavail * vfs.f_frsize
            self._disk_checked_at = now
        if self._disk_free < self.min_free_disk_bytes:
            return f"disk almost full ({self._disk_free} bytes free)"
        if self.max_db_bytes:
            conn = self._db.conn
            limit = self.max_pages(self.max_db_bytes)
            used = int(conn.execute("PRAGMA page_count").fetchone()[0]) - int(
                conn.execute("PRAGMA freelist_count").fetchone()[0]
            )
            if (limit - used) * self.page_size < self.reserve_bytes:
                return f"database at its size limit ({used} of {limit} pages)"
        return None

    def probe(self) -> bool:
        db = self._db
        try:
            short = self.short_of_room()
            if short is not None:
                self.reason = short
                self.accepting = False
                return False
            # A trial write that is rolled back: the only reliable test of whether SQLite can
            # still allocate pages (free space inside pages is invisible to page counts).
            db.begin()
            try:
                db.conn.execute(
                    "INSERT INTO meta VALUES ('_probe', ?)", (b"\0" * self.reserve_bytes,)
                )
            finally:
                db.end(commit=False)
        except (sqlite3.Error, OSError) as exc:
            if is_full(exc):
                self.reason = f"full: {exc}"
            elif is_corrupt(exc):
                self.reason = f"damaged: {exc}; {recover_remedy(db.path)}"
            else:
                self.reason = f"unavailable: {exc}"
            self.accepting = False
            db.rollback()
            return False
        self.reason = "ok"
        self.accepting = True
        return True
