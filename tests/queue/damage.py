"""Damage done to real outbox files on disk, as a failing disk, a bad sector or a careless
hand would do it: bytes changed inside the file, a page overwritten, the file emptied."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

from offline_queue.outbox import Outbox

_MAGIC_AND_NONCE = 3 + 12  # a sealed blob: magic, nonce, then ciphertext and tag


def settle(box: Outbox) -> None:
    """Everything committed into the database file itself (no log), so damage to the file
    is damage to the data."""
    box._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def flip_byte(path: Path, needle: bytes, offset: int = 0) -> None:
    """Change one byte of the single place ``needle`` is stored in the file, in place."""
    data = path.read_bytes()
    at = data.find(needle)
    assert at >= 0 and data.find(needle, at + 1) < 0, "needle must occur exactly once"
    with path.open("r+b") as f:
        f.seek(at + offset)
        f.write(bytes([data[at + offset] ^ 0x5A]))
        f.flush()
        os.fsync(f.fileno())


def damage_payload(box: Outbox, key: str) -> None:
    """Flip a byte inside the sealed payload of entry ``key`` (the outbox must be closed
    after, or at least not write meanwhile)."""
    settle(box)
    blob = box._conn.execute("SELECT payload FROM entries WHERE key=?", (key,)).fetchone()[0]
    flip_byte(box.path, bytes(blob), _MAGIC_AND_NONCE + 5)


def leaf_pages(path: Path, table: str) -> list[int]:
    with closing(sqlite3.connect(path)) as conn:
        return [
            int(r[0])
            for r in conn.execute(
                "SELECT pageno FROM dbstat WHERE name=? AND pagetype='leaf' ORDER BY pageno",
                (table,),
            )
        ]


def overwrite_page(path: Path, page: int, filler: bytes = b"\xa5") -> None:
    """Overwrite one whole page of the file (1-based, as SQLite numbers them)."""
    with closing(sqlite3.connect(path)) as conn:
        size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    with path.open("r+b") as f:
        f.seek((page - 1) * size)
        f.write((filler * size)[:size])
        f.flush()
        os.fsync(f.fileno())


def keys_on_page(box: Outbox, page: int) -> list[str]:
    """The keys of the entries stored on one leaf page of the entries table."""
    conn = box._conn
    size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    with box.path.open("rb") as f:
        f.seek((page - 1) * size)
        content = f.read(size)
    keys = [r[0] for r in conn.execute("SELECT key FROM entries ORDER BY seq")]
    return [k for k in keys if k.encode() + b"k.v" in content]


def damage_state(box: Outbox, key: str) -> None:
    """Change one byte of the state ('pending') stored in entry ``key``'s row."""
    settle(box)
    data = box.path.read_bytes()
    record = data.find(key.encode() + b"k.v")
    assert record >= 0
    at = data.find(b"pending", record)
    with box.path.open("r+b") as f:
        f.seek(at + 3)
        f.write(b"\x00")
        f.flush()
        os.fsync(f.fileno())


class Malformed:
    """The outbox's connection on a disk gone bad: every statement starting with ``prefix``
    fails as SQLite fails a read of a damaged page."""

    def __init__(self, conn: sqlite3.Connection, prefix: str) -> None:
        self._conn, self._prefix = conn, prefix

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql.startswith(self._prefix):
            raise sqlite3.DatabaseError("database disk image is malformed")
        return self._conn.execute(sql, *args)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        return getattr(self._conn, name)
