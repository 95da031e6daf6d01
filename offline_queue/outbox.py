"""The durable outbox: SQLite (WAL, synchronous=FULL) holding every transaction the kiosk
has accepted until the central system acknowledges it.

States: ``pending`` -> ``inflight`` (leased to one sync worker) -> ``sent`` (acknowledged;
personal data and attachments deleted, a minimal audit row kept for ``audit_days``), or
``dead`` (refused permanently; blocks the later entries of its stream until staff redrive it
or discard it -> ``discarded``). Nothing is deleted on read. In flight is stored as a row in
``leases`` next to a ``pending`` entry (schema 3), so a claim writes small rows only.

The same database holds the device-action journal and durable sequence counters, so a
business record, its outbox entry and a journal completion commit together.

Thread use: one ``Outbox`` owns one SQLite connection guarded by a lock; the sync worker
opens its own ``Outbox`` on the same file. Connections of one process take write turns in
arrival order (``writers``), so a busy writer cannot starve the sync worker.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from offline_queue.clock import Clock, SystemClock
from offline_queue.crypto import Sealer, fsync_dir, load_or_create_key
from offline_queue.errors import (
    AttachmentLost,
    InvalidEntry,
    OutboxFull,
    OutboxUnavailable,
    QueueError,
    UnknownEntry,
)
from offline_queue.writers import WriterTimeout, writer_lock

log = logging.getLogger(__name__)

PENDING = "pending"
INFLIGHT = "inflight"
SENT = "sent"
DEAD = "dead"
DISCARDED = "discarded"
STATES = (PENDING, INFLIGHT, SENT, DEAD, DISCARDED)

_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_KIND_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SQLITE_FULL = 13
# 2: generated keys are numbered by ``entries.seq`` (no counter row written per put); the
# ``outbox.key`` sequence row is only a floor (the last number of a version-1 database, or
# the highest seq before ``purge_audit`` deleted rows). Version-1 code must not open a
# version-2 file: its counter would be behind and hand out keys already used.
# 3: a lease is a row in ``leases`` instead of state/lease columns of the entry: a claim
# writes a few small pages instead of rewriting every leased entry (about 1 KiB each) twice.
# An entry is in flight while it is 'pending' and has a lease row.
# 4: a journal ref (a document number) is stored as a keyed pseudonym, which lookups compare,
# and sealed (AES-GCM) in ``ref_sealed``, which staff views and recovery read: no document
# number in clear at rest. Version-3 code must not open the file: it would read pseudonyms.
_SCHEMA_VERSION = 4
# The longest an entry is held back on purpose (the sync worker's backoff is capped below it).
_MAX_DELAY_S = 86_400.0
SCHEMA_VERSION = _SCHEMA_VERSION  # public: the newest schema this code reads (stored_schema)
_KEY_FLOOR = "outbox.key"
# The condition of the partial index ``entries_open``, spelled exactly as there: SQLite uses a
# partial index only for a query whose WHERE contains that very term.
_OPEN = "state IN ('pending','inflight','dead')"
_JOURNAL_COLUMNS = "id, action, ref, ref_sealed, started_at, completed_at, outcome"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sequences (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
-- seq orders entries and numbers generated keys. It is set explicitly to
-- max(MAX(seq), floor) + 1 (the floor is the sequences row 'outbox.key', raised by
-- purge_audit before it deletes rows), so a number is never handed out twice; no
-- AUTOINCREMENT and no counter update: either would cost one more page write per put.
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    stream TEXT NOT NULL,
    payload BLOB,
    state TEXT NOT NULL CHECK (state IN ('pending','inflight','sent','dead','discarded')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    lease_until REAL,
    lease_token TEXT,
    last_error TEXT,
    created_at REAL NOT NULL,
    sent_at REAL,
    outcome TEXT
);
-- A claimed entry keeps state 'pending' and gets a row here (schema 3; 'inflight' and the
-- lease columns of entries are only read when upgrading an older file).
CREATE TABLE IF NOT EXISTS leases (
    seq INTEGER PRIMARY KEY,
    token TEXT NOT NULL,
    until REAL NOT NULL
);
-- Only undelivered rows are indexed: claims and counts stay fast as audit rows pile up.
CREATE INDEX IF NOT EXISTS entries_open ON entries (seq)
    WHERE state IN ('pending','inflight','dead');
CREATE INDEX IF NOT EXISTS entries_dead ON entries (stream, seq) WHERE state = 'dead';
CREATE INDEX IF NOT EXISTS entries_done ON entries (sent_at) WHERE state IN ('sent','discarded');
CREATE TABLE IF NOT EXISTS attachments (
    entry_key TEXT NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    file TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    upload_url TEXT,
    PRIMARY KEY (entry_key, position)
);
-- ref: the keyed pseudonym of the action's reference (schema 4); ref_sealed: the reference
-- itself, sealed with the pseudonym as associated data.
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    action TEXT NOT NULL,
    ref TEXT NOT NULL,
    started_at REAL NOT NULL,
    completed_at REAL,
    outcome TEXT,
    ref_sealed BLOB
);
CREATE INDEX IF NOT EXISTS journal_open ON journal (id) WHERE completed_at IS NULL;
-- "the newest entry for this document": one look-up per document offered, and the staff
-- list of withheld documents (without it, a scan of the journal per row).
CREATE INDEX IF NOT EXISTS journal_ref ON journal (ref, id);
"""


@dataclass(frozen=True)
class Attachment:
    """A file that travels with an entry (a photo, a scan); uploaded before the entry."""

    name: str
    data: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class AttachmentRef:
    entry_key: str
    position: int
    name: str
    content_type: str
    file: str
    size: int
    sha256: str
    upload_url: str | None


@dataclass(frozen=True)
class ClaimedEntry:
    """An entry leased to one sync worker; ``lease_token`` fences a worker whose lease expired.

    ``payload_json`` is the payload exactly as ``put`` serialised it (compact JSON, UTF-8):
    the sync worker splices it into the batch body instead of parsing and re-encoding it."""

    seq: int
    key: str
    kind: str
    schema_version: int
    stream: str
    payload_json: bytes
    created_at: float
    attempts: int
    lease_token: str
    attachments: tuple[AttachmentRef, ...] = ()

    @cached_property
    def payload(self) -> dict[str, Any]:
        return dict(json.loads(self.payload_json))


@dataclass(frozen=True)
class EntryInfo:
    """What staff may see of an entry: never the payload."""

    key: str
    kind: str
    stream: str
    state: str
    attempts: int
    created_at: float
    next_attempt_at: float
    last_error: str | None
    sent_at: float | None
    outcome: str | None
    attachments: int


@dataclass(frozen=True)
class JournalEntry:
    id: int
    action: str
    ref: str
    started_at: float
    completed_at: float | None
    outcome: str | None


@dataclass(frozen=True)
class Counts:
    pending: int
    inflight: int
    dead: int
    sent: int
    discarded: int
    oldest_pending_at: float | None


@dataclass(frozen=True)
class Health:
    """Whether the outbox can take new transactions; the kiosk polls this before a session."""

    accepting: bool
    reason: str
    free_disk_bytes: int
    db_bytes: int


# One encoder for every put (json.dumps with options builds a new one per call).
_JSON = json.JSONEncoder(separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False)


def _dumps(payload: Mapping[str, Any]) -> bytes:
    try:
        return _JSON.encode(payload).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidEntry(f"payload is not plain JSON: {exc}") from exc


def _is_full(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL or "full" in str(exc)
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class OutboxTransaction:
    """One local commit: business rows, outbox entries, journal changes and sequence numbers
    written through it become durable together when the ``with`` block ends."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self.written_files: list[Path] = []

    def put(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        stream: str | None = None,
        schema_version: int = 1,
        key: str | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> str:
        """Add an entry; returns its idempotency key."""
        return self._outbox._insert(
            self,
            kind=kind,
            payload=payload,
            stream=stream,
            schema_version=schema_version,
            key=key,
            attachments=attachments,
        )

    def journal_begin(self, action: str, ref: str) -> int:
        return self._outbox._journal_begin(action, ref)

    def journal_complete(self, journal_id: int, outcome: str) -> None:
        self._outbox._journal_complete(journal_id, outcome)

    def journal_last(self, ref: str, actions: Sequence[str]) -> JournalEntry | None:
        """The newest journal entry for ``ref`` among ``actions``, or None."""
        return self._outbox._journal_last(ref, actions)

    def journal_latest(self, actions: Sequence[str]) -> list[JournalEntry]:
        """For every reference, its newest journal entry among ``actions``, oldest first."""
        return self._outbox._journal_latest(actions)

    def next_sequence(self, name: str) -> int:
        return self._outbox._next(name)

    def execute(
        self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = ()
    ) -> sqlite3.Cursor:
        """Run the caller's own SQL (business records) inside this transaction."""
        return self._outbox._conn.execute(sql, parameters)


class _Commit:
    """The context manager behind ``Outbox.transaction``: a class rather than generator
    context managers, so the kiosk's most frequent write pays for one frame, not three."""

    __slots__ = ("_joined", "_outbox")

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self._joined = False

    def __enter__(self) -> OutboxTransaction:
        outbox = self._outbox
        outbox._lock.acquire()
        if outbox._current is not None:
            self._joined = True
            return outbox._current
        try:
            return outbox._open_commit()
        except BaseException:
            outbox._lock.release()
            raise

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        try:
            if not self._joined:
                self._outbox._close_commit(exc)
        finally:
            self._outbox._lock.release()


def stored_schema(path: str | os.PathLike[str]) -> int:
    """The schema version of the outbox file at ``path`` (0: no file, or an empty one), read
    without changing anything - so a kiosk can say why it will not open a file that a newer
    version wrote before it tries (``Outbox`` refuses such a file too)."""
    if not Path(path).exists():
        return 0
    try:
        conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=10)
        try:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise OutboxUnavailable(f"cannot read the schema of {path}: {exc}") from exc


class Outbox:
    """The kiosk's durable outbox. See the module docstring for states and guarantees."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        kiosk_id: str,
        key_file: str | os.PathLike[str] | None = None,
        key: bytes | None = None,
        clock: Clock | None = None,
        audit_days: float = 90.0,
        max_db_bytes: int | None = None,
        min_free_disk_bytes: int = 16 * 1024 * 1024,
        reserve_bytes: int = 64 * 1024,
        busy_timeout_s: float = 10.0,
        attachments_dir: str | os.PathLike[str] | None = None,
        orphan_grace_s: float = 3600.0,
    ) -> None:
        if not _KEY_RE.match(kiosk_id):
            raise InvalidEntry(f"kiosk id {kiosk_id!r} cannot be part of a key")
        self.path = Path(path)
        self.kiosk_id = kiosk_id
        self.clock: Clock = clock or SystemClock()
        self.audit_days = audit_days
        self.max_db_bytes = max_db_bytes
        self.min_free_disk_bytes = min_free_disk_bytes
        self.reserve_bytes = reserve_bytes
        if key is None:
            key = load_or_create_key(key_file or self.path.with_suffix(".key"))
        self._sealer = Sealer(key)
        self.attachments_dir = Path(attachments_dir or str(self.path) + ".attachments")
        self.orphan_grace_s = orphan_grace_s
        self._lock = threading.RLock()
        self._accepting = True
        self._in_tx = False
        self._current: OutboxTransaction | None = None
        try:
            self.attachments_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            # SQLite gives the -wal and -shm files the database's mode: keep all of them 0600.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            self._conn = sqlite3.connect(
                self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            self._writers = writer_lock(self.path)
            self._busy_timeout_s = busy_timeout_s
            self._configure()
            self._epoch = self._init_schema()
            self._recover()
        except (sqlite3.Error, OSError) as exc:
            raise OutboxUnavailable(f"cannot open outbox {self.path}: {exc}") from exc

    # ----------------------------------------------------------------- setup
    def _configure(self) -> None:
        c = self._conn
        mode = c.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise OutboxUnavailable(f"{self.path}: WAL mode refused ({mode})")
        # FULL: a commit that returned survives power loss (NORMAL may roll it back in WAL mode).
        c.execute("PRAGMA synchronous=FULL")
        # Deleted personal data is overwritten, not left in free pages.
        c.execute("PRAGMA secure_delete=ON")
        c.execute("PRAGMA foreign_keys=ON")
        self._page_size = int(c.execute("PRAGMA page_size").fetchone()[0])
        if self.max_db_bytes:
            c.execute(f"PRAGMA max_page_count={self._max_pages(self.max_db_bytes)}")

    def _init_schema(self) -> str:
        version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if version > _SCHEMA_VERSION:
            raise OutboxUnavailable(f"{self.path}: schema {version} is newer than this code")
        if version == 0:
            # Every statement is idempotent, so two processes opening a new file both succeed.
            self._conn.executescript(
                f"BEGIN IMMEDIATE;{_SCHEMA}PRAGMA user_version={_SCHEMA_VERSION};COMMIT;"
            )
        elif version < _SCHEMA_VERSION:
            self._upgrade()
            log.info(
                "outbox %s upgraded from schema %d to %d", self.path.name, version, _SCHEMA_VERSION
            )
        with self._write():
            now = self._now()
            # The epoch makes keys unique even if this database is ever recreated from scratch.
            self._conn.execute(
                "INSERT OR IGNORE INTO meta VALUES ('epoch', ?), ('created_at', ?)",
                (uuid.uuid4().hex[:8], repr(now)),
            )
            row = self._conn.execute("SELECT value FROM meta WHERE name='epoch'").fetchone()
        return str(row[0])

    def _upgrade(self) -> None:
        """Bring an older file to this schema in one transaction: a crash leaves the old
        version. Every step is idempotent, as another process may have upgraded meanwhile.

        1 -> 2: same tables; the version-1 key counter ('outbox.key', the last number handed
        out) becomes the floor of seq-numbered keys as it stands.
        2 -> 3: leases move to their own table, unexpired or not, so a worker that still
        holds one keeps it.
        3 -> 4: journal references in clear become pseudonym + sealed reference."""
        c = self._conn
        try:
            # No COMMIT in the script: the transaction stays open for the steps in Python.
            c.executescript(
                f"BEGIN IMMEDIATE;{_SCHEMA}"
                "INSERT OR IGNORE INTO leases SELECT seq, COALESCE(lease_token, ''), "
                "COALESCE(lease_until, 0) FROM entries WHERE state='inflight';"
                "UPDATE entries SET state='pending', lease_token=NULL, lease_until=NULL "
                "WHERE state='inflight';"
            )
            columns = {r[1] for r in c.execute("PRAGMA table_info(journal)")}
            if "ref_sealed" not in columns:
                c.execute("ALTER TABLE journal ADD COLUMN ref_sealed BLOB")
            rows = c.execute("SELECT id, ref FROM journal WHERE ref_sealed IS NULL").fetchall()
            c.executemany(
                "UPDATE journal SET ref=?, ref_sealed=? WHERE id=?",
                [(*self._journal_ref(ref), journal_id) for journal_id, ref in rows],
            )
            c.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
            c.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        if rows:
            # The pages that held the numbers in clear are still in the log: copy the new
            # ones over them in the database file and empty the log.
            busy = c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if busy:
                log.warning("outbox %s: log not emptied after upgrade (busy)", self.path.name)

    def _recover(self) -> None:
        """Start-up recovery: expired leases back to pending, orphan attachment files removed
        (written before a commit that never happened, or left after an acknowledgement)."""
        with self._write():
            n = self._conn.execute("DELETE FROM leases WHERE until < ?", (self._now(),)).rowcount
            known = {r[0] for r in self._conn.execute("SELECT file FROM attachments")}
        if n:
            log.info("returned %d expired lease(s) to pending", n)
        # Another process may be between writing a file and committing its row: only files
        # older than the grace period are orphans.
        cutoff = time.time() - self.orphan_grace_s
        for item in self.attachments_dir.iterdir():
            try:
                if item.name not in known and item.stat().st_mtime < cutoff:
                    item.unlink(missing_ok=True)
            except OSError:
                pass

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _now(self) -> float:
        return self.clock.now().timestamp()

    # ------------------------------------------------------------ transactions
    @contextmanager
    def _write(self) -> Iterator[None]:
        """BEGIN IMMEDIATE .. COMMIT under the connection lock and this process's write turn
        for the file (nested calls join)."""
        with self._lock:
            if self._in_tx:
                yield
                return
            self._begin()
            done = False
            try:
                yield
                done = True
            finally:
                self._end(commit=done)

    def _begin(self) -> None:
        """This process's write turn for the file, then BEGIN IMMEDIATE (under ``_lock``)."""
        try:
            self._writers.acquire(self._busy_timeout_s)
        except WriterTimeout as exc:
            # The same failure SQLite's busy timeout would report, so callers map it alike.
            raise sqlite3.OperationalError(f"database is locked: {exc}") from exc
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._writers.release()
            raise
        self._in_tx = True

    def _end(self, *, commit: bool) -> None:
        """COMMIT (a failed one is rolled back and raised) or ROLLBACK, then give up the
        write turn."""
        try:
            if commit:
                try:
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._rollback()
                    raise
            else:
                self._rollback()
        finally:
            self._in_tx = False
            self._writers.release()

    def _rollback(self) -> None:
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            log.exception("rollback failed")

    def transaction(self) -> _Commit:
        """One durable local commit; returns (leaves the block) only once it is on disk.

        Raises ``OutboxFull`` / ``OutboxUnavailable``; on any error nothing of the block is kept.
        A ``transaction()`` inside another (a put inside a transaction block) joins the outer
        commit, so the outer rollback also removes the attachment files written inside.
        """
        return _Commit(self)

    def _open_commit(self) -> OutboxTransaction:
        """Room check, this process's write turn, BEGIN IMMEDIATE (under ``_lock``)."""
        if not (self._accepting and self._short_of_room() is None) and not self._probe():
            raise OutboxFull("the outbox is full; not accepting transactions")
        try:
            self._begin()
        except sqlite3.Error as exc:
            raise self._write_failed(exc) from exc
        self._current = OutboxTransaction(self)
        return self._current

    def _close_commit(self, exc: BaseException | None) -> None:
        """COMMIT, or roll back and remove the files the block wrote; database and file
        errors become OutboxFull / OutboxUnavailable (under ``_lock``)."""
        tx, self._current = self._current, None
        assert tx is not None
        try:
            self._end(commit=exc is None)
        except sqlite3.Error as commit_exc:
            exc = commit_exc
        if exc is None:
            return
        self._discard_files(tx.written_files)
        if isinstance(exc, (sqlite3.Error, OSError)) and not isinstance(exc, QueueError):
            raise self._write_failed(exc) from exc

    def _write_failed(self, exc: sqlite3.Error | OSError) -> QueueError:
        if _is_full(exc):
            self._accepting = False
            log.error("outbox full: %s", exc)
            return OutboxFull(f"outbox full: {exc}")
        log.error("outbox write failed: %s", exc)
        return OutboxUnavailable(f"outbox write failed: {exc}")

    def put(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        stream: str | None = None,
        schema_version: int = 1,
        key: str | None = None,
        attachments: Sequence[Attachment] = (),
        journal_complete: tuple[int, str] | None = None,
    ) -> str:
        """Durably enqueue one entry and return its idempotency key.

        Returns only after the commit is on disk: tell the citizen "done" after this returns.
        ``stream`` orders entries (same stream = delivered in order, a dead one blocks the
        rest); default: the entry alone, so a refused entry blocks nothing else.
        ``journal_complete=(journal_id, outcome)`` completes a journal entry in the same commit.
        """
        with self.transaction() as tx:
            new_key = self._insert(
                tx,
                kind=kind,
                payload=payload,
                stream=stream,
                schema_version=schema_version,
                key=key,
                attachments=attachments,
            )
            if journal_complete is not None:
                self._journal_complete(*journal_complete)
        return new_key

    def _insert(
        self,
        tx: OutboxTransaction,
        *,
        kind: str,
        payload: Mapping[str, Any],
        stream: str | None,
        schema_version: int,
        key: str | None,
        attachments: Sequence[Attachment],
    ) -> str:
        if not _KIND_RE.match(kind):
            raise InvalidEntry(f"bad kind {kind!r}")
        if not isinstance(payload, Mapping):
            raise InvalidEntry("payload must be a JSON object")
        body = _dumps(payload)
        if key is not None and not _KEY_RE.match(key):
            raise InvalidEntry(f"bad idempotency key {key!r}")
        # Read under the write lock (BEGIN IMMEDIATE), so no other connection can take the
        # same number; it becomes durable with the row itself.
        seq = int(
            self._conn.execute(
                "SELECT MAX(COALESCE((SELECT MAX(seq) FROM entries), 0), "
                "COALESCE((SELECT value FROM sequences WHERE name=?), 0)) + 1",
                (_KEY_FLOOR,),
            ).fetchone()[0]
        )
        if key is None:
            key = f"{self.kiosk_id}-{self._epoch}-{seq:010d}"
        now = self._now()
        stream_id = self._sealer.pseudonym(stream if stream is not None else "entry:" + key)
        try:
            # Due at once (0), not "from now": stamped with the wall clock, a new entry would
            # wait out any step back of the clock (NTP) before it could be sent.
            self._conn.execute(
                "INSERT INTO entries (seq, key, kind, schema_version, stream, payload, state, "
                "next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                (seq, key, kind, schema_version, stream_id, self._sealer.seal(body, key), 0.0, now),
            )
        except sqlite3.IntegrityError as exc:
            raise InvalidEntry(f"idempotency key {key} already used") from exc
        written: list[Path] = []
        for position, att in enumerate(attachments):
            if not _NAME_RE.match(att.name):
                raise InvalidEntry(f"bad attachment name {att.name!r}")
            name = uuid.uuid4().hex + ".att"
            target = self.attachments_dir / name
            tx.written_files.append(target)  # first, so a half-written file is removed too
            self._write_file(target, self._sealer.seal(att.data, f"{key}/{position}"))
            written.append(target)
            self._conn.execute(
                "INSERT INTO attachments VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                (
                    key,
                    position,
                    att.name,
                    att.content_type,
                    name,
                    len(att.data),
                    _sha256(att.data),
                ),
            )
        if written:
            fsync_dir(self.attachments_dir)
        return key

    @staticmethod
    def _write_file(target: Path, data: bytes) -> None:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    def _discard_files(self, files: Sequence[Path]) -> None:
        for f in files:
            try:
                f.unlink(missing_ok=True)
            except OSError:
                log.warning("could not remove %s (removed at next start)", f.name)

    # ------------------------------------------------------ journal, sequences
    def journal_begin(self, action: str, ref: str) -> int:
        """Durably record that a device action starts (e.g. "dispense", document number)."""
        with self.transaction():
            return self._journal_begin(action, ref)

    def journal_complete(self, journal_id: int, outcome: str) -> None:
        with self.transaction():
            self._journal_complete(journal_id, outcome)

    def unfinished(self) -> list[JournalEntry]:
        """Actions begun but never completed (the kiosk crashed in between): resolve at start."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_JOURNAL_COLUMNS} FROM journal WHERE completed_at IS NULL ORDER BY id"
            ).fetchall()
        return [self._journal_entry(r) for r in rows]

    def journal(self, journal_id: int) -> JournalEntry:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_JOURNAL_COLUMNS} FROM journal WHERE id=?", (journal_id,)
            ).fetchone()
        if row is None:
            raise UnknownEntry(f"no journal entry {journal_id}")
        return self._journal_entry(row)

    def _journal_last(self, ref: str, actions: Sequence[str]) -> JournalEntry | None:
        """The newest entry for ``ref`` among ``actions`` (under ``_lock``)."""
        marks = ",".join("?" * len(actions))
        row = self._conn.execute(
            f"SELECT {_JOURNAL_COLUMNS} FROM journal WHERE ref=? AND action IN ({marks}) "
            "ORDER BY id DESC LIMIT 1",
            (self._journal_pseudonym(ref), *actions),
        ).fetchone()
        return None if row is None else self._journal_entry(row)

    def _journal_latest(self, actions: Sequence[str]) -> list[JournalEntry]:
        """For every reference, its newest entry among ``actions``, oldest first."""
        marks = ",".join("?" * len(actions))
        rows = self._conn.execute(
            f"SELECT {_JOURNAL_COLUMNS} FROM journal j WHERE id = (SELECT MAX(id) FROM journal k "
            f"WHERE k.ref = j.ref AND k.action IN ({marks})) ORDER BY id",
            tuple(actions),
        ).fetchall()
        return [self._journal_entry(r) for r in rows]

    def _journal_pseudonym(self, ref: str) -> str:
        return self._sealer.pseudonym("journal:" + ref)

    def _journal_ref(self, ref: str) -> tuple[str, bytes]:
        """(pseudonym, sealed reference): what the journal stores for ``ref``."""
        pseudonym = self._journal_pseudonym(ref)
        return pseudonym, self._sealer.seal(ref.encode(), pseudonym)

    def _journal_entry(self, row: Sequence[Any]) -> JournalEntry:
        journal_id, action, pseudonym, sealed, started, completed, outcome = row
        blob = sealed if isinstance(sealed, bytes) else b""
        try:
            ref = self._sealer.open(blob, pseudonym).decode()
        except ValueError:  # UnicodeDecodeError included
            # Damaged or sealed with another key: the entry still counts, its number is lost.
            log.error("journal entry %d: reference cannot be read", journal_id)
            ref = "?"
        return JournalEntry(journal_id, action, ref, started, completed, outcome)

    def next_sequence(self, name: str) -> int:
        """Next value of a durable counter (1, 2, ...): committed before it is returned, so a
        value is never handed out twice, even across crashes."""
        with self.transaction():
            return self._next(name)

    def _journal_begin(self, action: str, ref: str) -> int:
        cur = self._conn.execute(
            "INSERT INTO journal (action, ref, ref_sealed, started_at) VALUES (?, ?, ?, ?)",
            (action, *self._journal_ref(ref), self._now()),
        )
        return int(cur.lastrowid or 0)

    def _journal_complete(self, journal_id: int, outcome: str) -> None:
        n = self._conn.execute(
            "UPDATE journal SET completed_at=?, outcome=? WHERE id=? AND completed_at IS NULL",
            (self._now(), outcome, journal_id),
        ).rowcount
        if n != 1:
            raise UnknownEntry(f"journal entry {journal_id} is unknown or already complete")

    def _next(self, name: str) -> int:
        row = self._conn.execute(
            "INSERT INTO sequences VALUES (?, 1) ON CONFLICT(name) DO UPDATE "
            "SET value = value + 1 RETURNING value",
            (name,),
        ).fetchone()
        return int(row[0])

    # -------------------------------------------------------------- sync side
    def claim(
        self,
        limit: int,
        lease_s: float,
        *,
        max_attachment_bytes: int | None = None,
        following: str | None = None,
    ) -> list[ClaimedEntry]:
        """Lease up to ``limit`` deliverable entries, oldest first, keeping each stream in
        order: an entry is taken only if every earlier undelivered entry of its stream is
        taken too; a dead, leased or backing-off entry blocks the rest of its stream.
        ``max_attachment_bytes`` ends the batch before its attachments exceed that many bytes
        (the first entry is always taken), so a large batch of photos still uploads within
        its lease.

        ``following``: the lease token of a batch still in flight. Its entries count as
        taken, so their streams go on in this batch. The caller must send this batch only
        after that one's outcomes are known, and first withdraw the entries whose stream
        had an entry there that was not delivered."""
        while True:
            try:
                return self._claim(limit, lease_s, max_attachment_bytes, following)
            except OutboxFull:
                # Lease rows need pages; a full database still delivers, in smaller batches,
                # so that acknowledgements and the purge can make room again.
                if limit <= 1:
                    raise
                limit //= 2
                log.warning("outbox full: claiming %d entries at a time", limit)

    def _claim(
        self,
        limit: int,
        lease_s: float,
        max_attachment_bytes: int | None,
        following: str | None = None,
    ) -> list[ClaimedEntry]:
        now = self._now()
        token = uuid.uuid4().hex
        chosen: list[tuple[Any, ...]] = []
        budget = max_attachment_bytes
        with self._guard(), self._write():
            blocked: set[str] = set()
            after = 0
            while len(chosen) < limit:
                rows = self._conn.execute(
                    "SELECT e.seq, key, kind, schema_version, stream, payload, state, "
                    "next_attempt_at, l.until, created_at, attempts, "
                    "(SELECT SUM(size) FROM attachments a WHERE a.entry_key = e.key), l.token "
                    "FROM entries e LEFT JOIN leases l ON l.seq = e.seq "
                    f"WHERE {_OPEN} AND e.seq > ? "
                    "ORDER BY e.seq LIMIT ?",
                    # A little more than still wanted: rows of blocked streams are skipped.
                    (after, limit - len(chosen) + 64),
                ).fetchall()
                if not rows:
                    break
                for row in rows:
                    after = row[0]
                    stream, state = row[4], row[6]
                    if stream in blocked or (following is not None and row[12] == following):
                        continue
                    # Pending and not backing off, and not leased (or the lease expired). A
                    # backoff ending further ahead than any the sync worker sets was stamped
                    # before the wall clock was stepped back: due now, not when it catches up.
                    waiting = now < row[7] <= now + _MAX_DELAY_S
                    due = state == PENDING and not waiting and (row[8] is None or row[8] < now)
                    if not due:
                        blocked.add(stream)
                        continue
                    if budget is not None and row[11]:
                        if chosen and row[11] > budget:
                            limit = len(chosen)  # full: ends both loops
                            break
                        budget -= row[11]
                    chosen.append(row)
                    if len(chosen) >= limit:
                        break
            if not chosen:
                return []
            self._conn.executemany(
                "INSERT OR REPLACE INTO leases (seq, token, until) VALUES (?, ?, ?)",
                [(row[0], token, now + lease_s) for row in chosen],
            )
            keys = [row[1] for row in chosen]
            atts: dict[str, list[AttachmentRef]] = {}
            marks = ",".join("?" * len(keys))
            for a in self._conn.execute(
                f"SELECT entry_key, position, name, content_type, file, size, sha256, upload_url "
                f"FROM attachments WHERE entry_key IN ({marks}) ORDER BY entry_key, position",
                keys,
            ):
                atts.setdefault(a[0], []).append(AttachmentRef(*a))
        out = []
        for row in chosen:
            out.append(
                ClaimedEntry(
                    seq=row[0],
                    key=row[1],
                    kind=row[2],
                    schema_version=row[3],
                    stream=row[4],
                    payload_json=self._sealer.open(row[5], row[1]),
                    created_at=row[9],
                    attempts=row[10],
                    lease_token=token,
                    attachments=tuple(atts.get(row[1], ())),
                )
            )
        return out

    def read_attachment(self, ref: AttachmentRef) -> bytes:
        """The decrypted attachment; ``AttachmentLost`` if its file is gone or damaged."""
        try:
            blob = (self.attachments_dir / ref.file).read_bytes()
            return self._sealer.open(blob, f"{ref.entry_key}/{ref.position}")
        except (OSError, ValueError) as exc:
            raise AttachmentLost(f"attachment {ref.position} of {ref.entry_key}: {exc}") from exc

    def set_upload_url(self, ref: AttachmentRef, url: str) -> None:
        """Remember where an attachment's upload lives, so it resumes after a restart."""
        with self._guard(), self._write():
            self._conn.execute(
                "UPDATE attachments SET upload_url=? WHERE entry_key=? AND position=?",
                (url, ref.entry_key, ref.position),
            )

    def ack(
        self, entries: Sequence[tuple[ClaimedEntry, str]], meta: Mapping[str, str] | None = None
    ) -> int:
        """Mark entries acknowledged by central with their outcome: the payload and the
        attachment files go, the audit row stays. Entries whose lease was lost are skipped.
        ``meta`` rows (the sync status) are written in the same commit."""
        now = self._now()
        files: list[str] = []
        with self._guard(), self._write():
            held = self._end_leases([e for e, _ in entries])
            mine = [(e, outcome) for e, outcome in entries if e.seq in held]
            # One statement for the batch, the outcomes as a JSON object seq -> outcome:
            # executemany of a one-row UPDATE cost 1.7-5.7 times as much per entry
            # (docs/benchmarks.md, seventh pass), and the kiosk's puts wait meanwhile.
            # (SQLite text ends at a NUL: dropped, so the rest of the outcome is kept.)
            outcomes = json.dumps(
                {e.seq: o[:200].replace("\x00", "") for e, o in mine}, ensure_ascii=False
            )
            self._conn.execute(
                "UPDATE entries SET state='sent', payload=NULL, sent_at=?, outcome=j.value, "
                "last_error=NULL FROM json_each(?) AS j "
                "WHERE entries.seq = CAST(j.key AS INTEGER) AND entries.state='pending'",
                (now, outcomes),
            )
            if meta:
                self._set_meta(meta)
            for entry, _ in mine:
                if entry.attachments:
                    files += [
                        r[0]
                        for r in self._conn.execute(
                            "DELETE FROM attachments WHERE entry_key=? RETURNING file",
                            (entry.key,),
                        )
                    ]
        self._discard_files([self.attachments_dir / f for f in files])
        return len(mine)

    def _end_leases(self, entries: Sequence[ClaimedEntry]) -> set[int]:
        """Delete the leases these entries still hold and return their seqs. A lease that
        expired and was claimed again carries another token: that entry is not ours."""
        if not entries:
            return set()
        tokens = {e.seq: e.lease_token for e in entries}
        marks = ",".join("?" * len(tokens))
        held = {
            seq
            for seq, token in self._conn.execute(
                f"SELECT seq, token FROM leases WHERE seq IN ({marks})", list(tokens)
            )
            if tokens[seq] == token
        }
        self._conn.executemany("DELETE FROM leases WHERE seq=?", [(seq,) for seq in held])
        return held

    def release(
        self,
        entries: Sequence[tuple[ClaimedEntry, float]],
        error: str,
        *,
        count_attempt: bool = True,
    ) -> None:
        """Return leased entries to pending, each due again after its own delay (seconds)."""
        now = self._now()
        with self._guard(), self._write():
            held = self._end_leases([e for e, _ in entries])
            self._conn.executemany(
                "UPDATE entries SET attempts=attempts+?, next_attempt_at=?, last_error=? "
                "WHERE seq=?",
                [
                    (int(count_attempt), now + delay, error[:500], e.seq)
                    for e, delay in entries
                    if e.seq in held
                ],
            )

    def bury(self, entry: ClaimedEntry, error: str) -> None:
        """Dead-letter an entry central refused for good; its stream waits behind it."""
        with self._guard(), self._write():
            if not self._end_leases([entry]):
                return
            self._conn.execute(
                "UPDATE entries SET state='dead', attempts=attempts+1, last_error=? WHERE seq=?",
                (error[:500], entry.seq),
            )
        log.warning("entry %s dead-lettered: %s", entry.key, error[:200])

    # ---------------------------------------------------------------- staff
    def redrive(self, key: str) -> None:
        """Staff: send a dead entry again (and unblock its stream)."""
        with self._guard(), self._write():
            n = self._conn.execute(
                "UPDATE entries SET state='pending', attempts=0, next_attempt_at=0 "
                "WHERE key=? AND state='dead'",
                (key,),
            ).rowcount
        if n != 1:
            raise UnknownEntry(f"no dead entry {key}")

    def redrive_dead(self) -> int:
        """Staff at the machine: send every dead entry again (each stream resumes in order
        behind its first); returns how many. Those central refuses again die again."""
        with self._guard(), self._write():
            return int(
                self._conn.execute(
                    "UPDATE entries SET state='pending', attempts=0, next_attempt_at=0 "
                    "WHERE state='dead'"
                ).rowcount
            )

    def discard(self, key: str) -> None:
        """Staff: give up on a dead entry; its personal data goes, an audit row stays."""
        with self._guard(), self._write():
            n = self._conn.execute(
                "UPDATE entries SET state='discarded', payload=NULL, sent_at=?, "
                "outcome='discarded by staff' WHERE key=? AND state='dead'",
                (self._now(), key),
            ).rowcount
            files = [
                r[0]
                for r in self._conn.execute(
                    "DELETE FROM attachments WHERE entry_key=? RETURNING file", (key,)
                )
            ]
        if n != 1:
            raise UnknownEntry(f"no dead entry {key}")
        self._discard_files([self.attachments_dir / f for f in files])

    def entries(self, state: str | None = None, limit: int = 100) -> list[EntryInfo]:
        with self._lock:
            if state is None:
                rows = self._conn.execute(_INFO_SQL + "ORDER BY e.seq LIMIT ?", (limit,))
            elif state in (PENDING, INFLIGHT):
                rows = self._conn.execute(
                    _INFO_SQL + f"WHERE {_OPEN} AND e.state='pending' AND (l.seq IS NULL) = ? "
                    "ORDER BY e.seq LIMIT ?",
                    (state == PENDING, limit),
                )
            else:
                rows = self._conn.execute(
                    _INFO_SQL + "WHERE e.state=? ORDER BY e.seq LIMIT ?", (state, limit)
                )
            return [EntryInfo(*r) for r in rows.fetchall()]

    def entry(self, key: str) -> EntryInfo:
        with self._lock:
            row = self._conn.execute(_INFO_SQL + "WHERE key=?", (key,)).fetchone()
        if row is None:
            raise UnknownEntry(f"no entry {key}")
        return EntryInfo(*row)

    def counts(self) -> Counts:
        with self._lock:
            rows = dict(
                self._conn.execute(
                    f"SELECT state, COUNT(*) FROM entries WHERE {_OPEN} GROUP BY state"
                ).fetchall()
            )
            leased = int(
                self._conn.execute(
                    "SELECT COUNT(*) FROM leases l JOIN entries e ON e.seq = l.seq "
                    f"WHERE {_OPEN} AND e.state='pending'"
                ).fetchone()[0]
            )
            done = dict(
                self._conn.execute(
                    "SELECT state, COUNT(*) FROM entries "
                    "WHERE state IN ('sent','discarded') GROUP BY state"
                ).fetchall()
            )
            oldest = self._conn.execute(
                f"SELECT MIN(created_at) FROM entries WHERE {_OPEN} AND state='pending'"
            ).fetchone()[0]
        return Counts(
            pending=rows.get(PENDING, 0) - leased,
            inflight=leased,
            dead=rows.get(DEAD, 0),
            sent=done.get(SENT, 0),
            discarded=done.get(DISCARDED, 0),
            oldest_pending_at=oldest,
        )

    def waiting(self) -> int:
        """Undelivered entries that can still go out: not dead, not behind a dead entry."""
        with self._lock:
            return int(
                self._conn.execute(
                    f"SELECT COUNT(*) FROM entries e WHERE {_OPEN} AND state='pending' "
                    "AND NOT EXISTS (SELECT 1 FROM entries d WHERE d.state='dead' "
                    "AND d.stream=e.stream AND d.seq < e.seq)"
                ).fetchone()[0]
            )

    def purge_audit(self) -> int:
        """Drop audit rows older than ``audit_days``; returns how many."""
        cutoff = self._now() - self.audit_days * 86_400
        with self._guard(), self._write():
            # Raise the key floor first: deleting the newest rows must not let their numbers
            # (and so their keys) be handed out again.
            self._conn.execute(
                "INSERT INTO sequences SELECT ?, MAX(seq) FROM entries WHERE true "
                "HAVING MAX(seq) IS NOT NULL "
                "ON CONFLICT(name) DO UPDATE SET value = MAX(value, excluded.value)",
                (_KEY_FLOOR,),
            )
            return self._conn.execute(
                "DELETE FROM entries WHERE state IN ('sent','discarded') AND sent_at < ?",
                (cutoff,),
            ).rowcount

    def get_meta(self, name: str) -> str | None:
        with self._guard("read"), self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE name=?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, values: Mapping[str, str]) -> None:
        with self._guard(), self._write():
            self._set_meta(values)

    def _set_meta(self, values: Mapping[str, str]) -> None:
        self._conn.executemany(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value=excluded.value",
            list(values.items()),
        )

    def integrity_ok(self) -> bool:
        with self._lock:
            return bool(self._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")

    # --------------------------------------------------------------- health
    @property
    def accepting(self) -> bool:
        """False after the outbox ran full, until ``health()`` finds room again."""
        return self._accepting

    def health(self) -> Health:
        """Re-check room (free disk, a trial write of ``reserve_bytes``) and report."""
        with self._lock:
            ok = self._probe()
            free = shutil.disk_usage(self.path.parent).free
            db_bytes = self.path.stat().st_size if self.path.exists() else 0
        reason = "ok" if ok else self._reason
        return Health(accepting=ok, reason=reason, free_disk_bytes=free, db_bytes=db_bytes)

    _reason = "ok"

    _disk_checked_at = -1.0
    _disk_free = 0

    def _short_of_room(self) -> str | None:
        """Why a new transaction would eat into the room kept for delivering what is queued
        (claims, acknowledgements and purges write too), or None. Cheap: run before each put."""
        now = time.monotonic()
        if now - self._disk_checked_at >= 0.1:
            # At most ten times a second: what a tenth of a second of puts can write is far
            # below min_free_disk_bytes, and a disk that fills anyway still fails the put.
            vfs = os.statvfs(self.path.parent)
            self._disk_free = vfs.f_bavail * vfs.f_frsize
            self._disk_checked_at = now
        if self._disk_free < self.min_free_disk_bytes:
            return f"disk almost full ({self._disk_free} bytes free)"
        if self.max_db_bytes:
            limit = self._max_pages(self.max_db_bytes)
            used = int(self._conn.execute("PRAGMA page_count").fetchone()[0]) - int(
                self._conn.execute("PRAGMA freelist_count").fetchone()[0]
            )
            if (limit - used) * self._page_size < self.reserve_bytes:
                return f"database at its size limit ({used} of {limit} pages)"
        return None

    def _max_pages(self, max_db_bytes: int) -> int:
        return max(16, max_db_bytes // self._page_size)

    def _probe(self) -> bool:
        try:
            short = self._short_of_room()
            if short is not None:
                self._reason = short
                self._accepting = False
                return False
            # A trial write that is rolled back: the only reliable test of whether SQLite can
            # still allocate pages (free space inside pages is invisible to page counts).
            self._begin()
            try:
                self._conn.execute(
                    "INSERT INTO meta VALUES ('_probe', ?)", (b"\0" * self.reserve_bytes,)
                )
            finally:
                self._end(commit=False)
        except (sqlite3.Error, OSError) as exc:
            self._reason = ("full: " if _is_full(exc) else "unavailable: ") + str(exc)
            self._accepting = False
            self._rollback()
            return False
        self._reason = "ok"
        self._accepting = True
        return True

    @contextmanager
    def _guard(self, what: str = "write") -> Iterator[None]:
        """Sync/staff writes and meta reads: database errors become
        OutboxUnavailable/OutboxFull."""
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            if _is_full(exc):
                raise OutboxFull(f"outbox full: {exc}") from exc
            raise OutboxUnavailable(f"outbox {what} failed: {exc}") from exc


# What staff may see of an entry; in flight = pending with a lease row.
_INFO_SQL = (
    "SELECT key, kind, stream, "
    "CASE WHEN e.state='pending' AND l.seq IS NOT NULL THEN 'inflight' ELSE e.state END, "
    "attempts, created_at, next_attempt_at, last_error, sent_at, outcome, "
    "(SELECT COUNT(*) FROM attachments a WHERE a.entry_key = e.key) "
    "FROM entries e LEFT JOIN leases l ON l.seq = e.seq "
)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


__all__ = [
    "DEAD",
    "DISCARDED",
    "INFLIGHT",
    "PENDING",
    "SENT",
    "Attachment",
    "AttachmentRef",
    "ClaimedEntry",
    "Counts",
    "EntryInfo",
    "Health",
    "JournalEntry",
    "Outbox",
    "OutboxTransaction",
]
