"""The database under the store: an SQLAlchemy engine on SQLite (one file, the embedded
default) or PostgreSQL (psycopg 3, a connection pool; what a deployment uses), and the
transactions every store part runs in.

- ``write()``: one transaction that changes state. On SQLite it holds the process's write
  lock and starts with ``BEGIN IMMEDIATE`` (SQLite takes one writer at a time, and a lock
  taken in turn beats its busy-retry sleeps); on PostgreSQL rows are locked where the code
  says so (``FOR UPDATE``) and uniqueness is the database's.
- ``read()``: a consistent snapshot for look-ups.

A part called while this thread already has a transaction open joins it, so an action run
inside ``idempotent`` (a payment order) commits or rolls back with its idempotency record.
"""

from __future__ import annotations

import logging
import os
import random
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

from central.store.schema import counters

log = logging.getLogger(__name__)

COUNTER_SHARDS = 8  # PostgreSQL: counter rows per name (see schema.counters)


def database_url(target: str | os.PathLike[str]) -> str:
    """``postgresql://...`` (or ``postgresql+psycopg://``), ``sqlite:///FILE``, or a file
    path, which means SQLite."""
    text = os.fspath(target)
    if text.startswith(("postgresql:", "postgresql+psycopg:", "postgres:")):
        url = make_url(text.replace("postgres://", "postgresql://", 1))
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if text.startswith("sqlite:"):
        return text
    return f"sqlite:///{Path(text).resolve()}"


def describe(url: str) -> str:
    """The URL without its password, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


def _private_sqlite_file(path: Path) -> None:
    """The store holds ID numbers, names and photos: its directory is created 0700 and its
    file 0600 before SQLite opens it (SQLite gives its -wal and -shm files the same mode);
    a file group or others can read is made private."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("central store %s was mode %o; made private (0600)", path, mode)
            os.chmod(path, 0o600)
        for extra in ("-wal", "-shm", "-journal"):
            side = Path(str(path) + extra)
            if side.exists():
                os.chmod(side, 0o600)
    else:
        os.close(fd)


class Database:
    """The engine and the transaction helpers (thread-safe; one per process)."""

    def __init__(self, target: str | os.PathLike[str], *, pool_size: int = 8) -> None:
        self.url = database_url(target)
        url = make_url(self.url)
        self.dialect = url.get_backend_name()
        if self.dialect == "sqlite":
            self.path: Path | None = Path(url.database or "")
            _private_sqlite_file(self.path)
            self.engine: Engine = create_engine(
                self.url,
                connect_args={"check_same_thread": False, "timeout": 30},
                pool_size=4,
                max_overflow=8,
            )
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
            self._write_lock: threading.Lock | None = threading.Lock()
        elif self.dialect == "postgresql":
            self.path = None
            self.engine = create_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,
                pool_timeout=30,
            )
            self._write_lock = None
        else:
            raise ValueError(f"unsupported database {describe(self.url)}")
        self._local = threading.local()
        self._rng = random.Random()
        self._prepared: dict[str, Any] = {}

    @property
    def is_postgresql(self) -> bool:
        return self.dialect == "postgresql"

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------ transactions
    @contextmanager
    def write(self) -> Iterator[Connection]:
        current: Connection | None = getattr(self._local, "conn", None)
        if current is not None:
            yield current
            return
        lock = self._write_lock
        if lock is not None:
            lock.acquire()
        try:
            with self.engine.connect() as conn:
                conn.info["write"] = True
                with conn.begin():
                    self._local.conn = conn
                    try:
                        yield conn
                    finally:
                        self._local.conn = None
        finally:
            if lock is not None:
                lock.release()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        current: Connection | None = getattr(self._local, "conn", None)
        if current is not None:
            yield current
            return
        with self.engine.connect() as conn:
            conn.info["write"] = False
            with conn.begin():
                self._local.conn = conn
                try:
                    yield conn
                finally:
                    self._local.conn = None

    # --------------------------------------------------------------- helpers
    def insert(self, table: Any) -> Any:
        """The dialect's INSERT, which has ``on_conflict_do_nothing`` / ``_do_update``."""
        return (postgresql.insert if self.is_postgresql else sqlite.insert)(table)

    def prepared(self, name: str, build: Callable[[], Any]) -> Any:
        """A statement built once (with bind parameters) and reused: building SQLAlchemy
        statements costs more CPU than running them, on the routes every kiosk calls."""
        stmt = self._prepared.get(name)
        if stmt is None:
            stmt = self._prepared[name] = build()
        return stmt

    def bump(self, conn: Connection, name: str, by: int = 1) -> None:
        """Add to a statistics counter, on a random shard under PostgreSQL."""
        shard = self._rng.randrange(COUNTER_SHARDS) if self.is_postgresql else 0
        conn.execute(
            self.prepared("bump", self._build_bump), {"name": name, "shard": shard, "value": by}
        )

    def _build_bump(self) -> Any:
        stmt = self.insert(counters)
        return stmt.on_conflict_do_update(
            index_elements=[counters.c.name, counters.c.shard],
            set_={"value": counters.c.value + stmt.excluded.value},
        )

    def counter_values(self, conn: Connection) -> dict[str, int]:
        from sqlalchemy import func

        rows = conn.execute(
            select(counters.c.name, func.sum(counters.c.value)).group_by(counters.c.name)
        )
        return {str(name): int(value) for name, value in rows}


def _sqlite_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    # Autocommit at the driver: BEGIN is ours (_sqlite_begin), so writers start IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # FULL: a committed transaction survives power loss (the kiosk is told it is stored).
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "secure_delete=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")
