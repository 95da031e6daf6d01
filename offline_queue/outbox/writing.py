"""Taking transactions in: one local commit holding the kiosk's business rows, outbox entries
(payload sealed, attachment files written and made durable first), journal changes and
counter values. ``put`` returns only once the commit is on disk."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from offline_queue.crypto import Sealer
from offline_queue.errors import InvalidEntry, OutboxFull, QueueError
from offline_queue.outbox.database import Database, failure
from offline_queue.outbox.files import AttachmentFiles
from offline_queue.outbox.journal import Journal, next_value
from offline_queue.outbox.records import Attachment, JournalEntry
from offline_queue.outbox.room import Room
from offline_queue.outbox.schema import KEY_FLOOR

log = logging.getLogger(__name__)

KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_KIND_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

# One encoder for every put (json.dumps with options builds a new one per call).
_JSON = json.JSONEncoder(separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False)


def _dumps(payload: Mapping[str, Any]) -> bytes:
    try:
        return _JSON.encode(payload).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidEntry(f"payload is not plain JSON: {exc}") from exc


class OutboxTransaction:
    """One local commit: business rows, outbox entries, journal changes and sequence numbers
    written through it become durable together when the ``with`` block ends."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._journal = writer.journal
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
        return self._writer.insert(
            self,
            kind=kind,
            payload=payload,
            stream=stream,
            schema_version=schema_version,
            key=key,
            attachments=attachments,
        )

    def journal_begin(self, action: str, ref: str) -> int:
        return self._journal.begin(action, ref)

    def journal_complete(self, journal_id: int, outcome: str) -> None:
        self._journal.complete(journal_id, outcome)

    def journal_last(self, ref: str, actions: Sequence[str]) -> JournalEntry | None:
        """The newest journal entry for ``ref`` among ``actions``, or None."""
        return self._journal.last(ref, actions)

    def journal_latest(self, actions: Sequence[str]) -> list[JournalEntry]:
        """For every reference, its newest journal entry among ``actions``, oldest first."""
        return self._journal.latest(actions)

    def next_sequence(self, name: str) -> int:
        return next_value(self._writer.db, name)

    def execute(
        self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = ()
    ) -> sqlite3.Cursor:
        """Run the caller's own SQL (business records) inside this transaction."""
        return self._writer.db.conn.execute(sql, parameters)


class Commit:
    """The context manager behind ``Outbox.transaction``: a class rather than generator
    context managers, so the kiosk's most frequent write pays for one frame, not three."""

    __slots__ = ("_joined", "_writer")

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._joined = False

    def __enter__(self) -> OutboxTransaction:
        writer = self._writer
        writer.db.lock.acquire()
        if writer.current is not None:
            self._joined = True
            return writer.current
        try:
            return writer.open_commit()
        except BaseException:
            writer.db.lock.release()
            raise

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        try:
            if not self._joined:
                self._writer.close_commit(exc)
        finally:
            self._writer.db.lock.release()


class Writer:
    """Puts and transactions of one outbox connection."""

    def __init__(
        self,
        db: Database,
        room: Room,
        files: AttachmentFiles,
        sealer: Sealer,
        journal: Journal,
        *,
        kiosk_id: str,
    ) -> None:
        self.db = db
        self.room = room
        self.files = files
        self.journal = journal
        self.kiosk_id = kiosk_id
        self.epoch = ""  # set once the schema is known (``Outbox.__init__``)
        self.current: OutboxTransaction | None = None
        self._sealer = sealer

    def open_commit(self) -> OutboxTransaction:
        """Room check, this process's write turn, BEGIN IMMEDIATE (under the lock)."""
        if not self.room.ready():
            raise OutboxFull("the outbox is full; not accepting transactions")
        try:
            self.db.begin()
        except sqlite3.Error as exc:
            raise self.failed(exc) from exc
        self.current = OutboxTransaction(self)
        return self.current

    def close_commit(self, exc: BaseException | None) -> None:
        """COMMIT, or roll back and remove the files the block wrote; database and file
        errors become OutboxFull / OutboxUnavailable (under the lock)."""
        tx, self.current = self.current, None
        assert tx is not None
        try:
            self.db.end(commit=exc is None)
        except sqlite3.Error as commit_exc:
            exc = commit_exc
        if exc is None:
            return
        self.files.discard(tx.written_files)
        if isinstance(exc, (sqlite3.Error, OSError)) and not isinstance(exc, QueueError):
            raise self.failed(exc) from exc

    def failed(self, exc: sqlite3.Error | OSError) -> QueueError:
        """The queue's error for a failed write (full, damaged or unavailable); a full
        outbox refuses further transactions until ``health`` finds room."""
        error = failure(self.db.path, exc, "write")
        if isinstance(error, OutboxFull):
            self.room.refuse()
        log.error("%s", error)
        return error

    def insert(
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
        if key is not None and not KEY_RE.match(key):
            raise InvalidEntry(f"bad idempotency key {key!r}")
        conn = self.db.conn
        # Read under the write lock (BEGIN IMMEDIATE), so no other connection can take the
        # same number; it becomes durable with the row itself.
        seq = int(
            conn.execute(
                "SELECT MAX(COALESCE((SELECT MAX(seq) FROM entries), 0), "
                "COALESCE((SELECT value FROM sequences WHERE name=?), 0)) + 1",
                (KEY_FLOOR,),
            ).fetchone()[0]
        )
        if key is None:
            key = f"{self.kiosk_id}-{self.epoch}-{seq:010d}"
        now = self.db.now()
        stream_id = self._sealer.pseudonym(stream if stream is not None else "entry:" + key)
        try:
            # Due at once (0), not "from now": stamped with the wall clock, a new entry would
            # wait out any step back of the clock (NTP) before it could be sent.
            conn.execute(
                "INSERT INTO entries (seq, key, kind, schema_version, stream, payload, state, "
                "next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                (seq, key, kind, schema_version, stream_id, self._sealer.seal(body, key), 0.0, now),
            )
        except sqlite3.IntegrityError as exc:
            raise InvalidEntry(f"idempotency key {key} already used") from exc
        if attachments:
            self._attach(tx, key, attachments)
        return key

    def _attach(self, tx: OutboxTransaction, key: str, attachments: Sequence[Attachment]) -> None:
        for position, att in enumerate(attachments):
            if not _NAME_RE.match(att.name):
                raise InvalidEntry(f"bad attachment name {att.name!r}")
            target = self.files.new_path()
            tx.written_files.append(target)  # first, so a half-written file is removed too
            self.files.write(target, key, position, att.data)
            self.db.conn.execute(
                "INSERT INTO attachments VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                (
                    key,
                    position,
                    att.name,
                    att.content_type,
                    target.name,
                    len(att.data),
                    hashlib.sha256(att.data).hexdigest(),
                ),
            )
        self.files.sync_dir()
