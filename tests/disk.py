"""A disk that fails one statement of the outbox's database, as SQLite reports it."""

from __future__ import annotations

import sqlite3
from typing import Any


class DiskFailing:
    """The outbox's SQLite connection, with one statement failing as a failing disk makes
    SQLite fail it (the error comes from the operating system's edge in real life)."""

    def __init__(
        self, conn: sqlite3.Connection, prefix: str, nth: int, error: str = "disk I/O error"
    ) -> None:
        self._conn, self._prefix, self._left, self._error = conn, prefix, nth, error

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._fail_if(sql)
        return self._conn.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._fail_if(sql)
        return self._conn.executemany(sql, *args)

    def _fail_if(self, sql: str) -> None:
        if sql.startswith(self._prefix):
            self._left -= 1
            if self._left == 0:
                raise sqlite3.OperationalError(self._error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)
