"""The durable outbox: SQLite (WAL, synchronous=FULL) holding every transaction the kiosk
has accepted until the central system acknowledges it.

States: ``pending`` -> ``inflight`` (leased to one sync worker) -> ``sent`` (acknowledged;
personal data and attachments deleted, a minimal audit row kept for ``audit_days``), or
``dead`` (refused permanently, or found damaged; blocks the later entries of its stream until
staff redrive it or discard it -> ``discarded``). Nothing is deleted on read. In flight is
stored as a row in ``leases`` next to a ``pending`` entry, so a claim writes small rows only.

The same database holds the device-action journal and durable sequence counters, so a
business record, its outbox entry and a journal completion commit together.

``Outbox`` is the one interface; its parts live beside it (one module each): the connection
and its write turns (``database``), the tables (``schema``), checks at open (``integrity``),
taking transactions in (``writing``), attachment files (``files``), the journal
(``journal``), the sync side (``delivery``), staff views and actions (``views``, ``staff``),
room (``room``), and the recovery of a damaged file (``salvage``).

Thread use: one ``Outbox`` owns one SQLite connection guarded by a lock; the sync worker
opens its own ``Outbox`` on the same file. Connections of one process take write turns in
arrival order (``offline_queue.writers``), so a busy writer cannot starve the sync worker.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from offline_queue.clock import Clock, SystemClock
from offline_queue.crypto import Sealer
from offline_queue.errors import InvalidEntry, OutboxUnavailable, QueueError
from offline_queue.outbox import integrity as checks
from offline_queue.outbox import schema
from offline_queue.outbox.database import Database, failure
from offline_queue.outbox.delivery import Deliveries
from offline_queue.outbox.files import AttachmentFiles
from offline_queue.outbox.journal import Journal
from offline_queue.outbox.records import (
    Attachment,
    AttachmentRef,
    ClaimedEntry,
    Counts,
    EntryInfo,
    Health,
    IntegrityReport,
    JournalEntry,
    Lease,
    QueueAlert,
)
from offline_queue.outbox.room import Room
from offline_queue.outbox.staff import StaffActions
from offline_queue.outbox.views import Views
from offline_queue.outbox.writing import KEY_RE, Commit, Writer

log = logging.getLogger(__name__)


class Outbox:
    """The kiosk's durable outbox. See the module docstring for states and guarantees.

    Opening refuses a file it must not use (``OutboxRefused`` and its kinds: a damaged file
    is ``OutboxDamaged``, a missing key for sealed data ``KeyMissing``); what it repaired
    while opening is in ``open_alerts`` for staff."""

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
        if not KEY_RE.match(kiosk_id):
            raise InvalidEntry(f"kiosk id {kiosk_id!r} cannot be part of a key")
        self.path = Path(path)
        self.kiosk_id = kiosk_id
        self.audit_days = audit_days
        self.orphan_grace_s = orphan_grace_s
        self.attachments_dir = Path(attachments_dir or str(self.path) + ".attachments")
        self.key_file = Path(key_file) if key_file else self.path.with_suffix(".key")
        # What opening found and put right (invalid states, a key made anew): for staff.
        self.open_alerts: tuple[QueueAlert, ...] = ()
        clock = clock or SystemClock()
        try:
            self._db = self._connect(clock, busy_timeout_s)
        except (sqlite3.Error, OSError) as exc:
            raise self._open_failed(exc) from exc
        try:
            self._open(key, max_db_bytes, min_free_disk_bytes, reserve_bytes)
        except BaseException as exc:
            self._db.close()
            if isinstance(exc, (sqlite3.Error, OSError)):
                raise self._open_failed(exc) from exc
            raise

    def _connect(self, clock: Clock, busy_timeout_s: float) -> Database:
        checks.refuse_unusable_file(self.path)
        self.attachments_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.path.exists():
            schema.create_file(self.path, clock.now().timestamp())
        conn = sqlite3.connect(
            self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        return Database(self.path, conn, busy_timeout_s, clock)

    def _open(
        self,
        key: bytes | None,
        max_db_bytes: int | None,
        min_free_disk_bytes: int,
        reserve_bytes: int,
    ) -> None:
        db = self._db
        self._configure()
        self._room = Room(
            db,
            max_db_bytes=max_db_bytes,
            min_free_disk_bytes=min_free_disk_bytes,
            reserve_bytes=reserve_bytes,
        )
        self._room.configure()
        report = checks.check(db)
        checks.refuse_if_damaged(db, report)
        alerts: list[QueueAlert] = []
        if key is None:
            key, alert = checks.resolve_key(db, self.key_file)
            alerts += [alert] if alert else []
        self._sealer = Sealer(key)
        self._files = AttachmentFiles(self.attachments_dir, self._sealer)
        self._journal = Journal(db, self._sealer)
        self._writer = Writer(
            db, self._room, self._files, self._sealer, self._journal, kiosk_id=self.kiosk_id
        )
        self._deliveries = Deliveries(db, self._sealer, self._files)
        self._views = Views(db)
        self._staff = StaffActions(db, self._files)
        self._writer.epoch = schema.ensure(db, self._journal.sealed_ref)
        if report.invalid_states:
            alerts += checks.repair_invalid_states(db)
        self.open_alerts = tuple(alerts)
        self._recover()

    def _open_failed(self, exc: sqlite3.Error | OSError) -> QueueError:
        error = failure(self.path, exc, "open")
        if type(error) is OutboxUnavailable:
            return OutboxUnavailable(f"cannot open outbox {self.path}: {exc}")
        return error

    # ----------------------------------------------------------------- setup
    def _configure(self) -> None:
        c = self._db.conn
        mode = c.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise OutboxUnavailable(f"{self.path}: WAL mode refused ({mode})")
        # FULL: a commit that returned survives power loss (NORMAL may roll it back in WAL mode).
        c.execute("PRAGMA synchronous=FULL")
        # Deleted personal data is overwritten, not left in free pages.
        c.execute("PRAGMA secure_delete=ON")
        c.execute("PRAGMA foreign_keys=ON")

    def _recover(self) -> None:
        """Start-up recovery: expired leases back to pending, orphan attachment files removed
        (written before a commit that never happened, or left after an acknowledgement)."""
        db = self._db
        with db.write():
            n = db.conn.execute("DELETE FROM leases WHERE until < ?", (db.now(),)).rowcount
            known = {r[0] for r in db.conn.execute("SELECT file FROM attachments")}
        if n:
            log.info("returned %d expired lease(s) to pending", n)
        self._files.sweep_orphans(known, self.orphan_grace_s)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # The connection, for tests that put a failing disk in front of it.
    @property
    def _conn(self) -> sqlite3.Connection:
        return self._db.conn

    @_conn.setter
    def _conn(self, conn: sqlite3.Connection) -> None:
        self._db.conn = conn

    @property
    def clock(self) -> Clock:
        return self._db.clock

    @property
    def max_db_bytes(self) -> int | None:
        return self._room.max_db_bytes

    @max_db_bytes.setter
    def max_db_bytes(self, value: int | None) -> None:
        self._room.max_db_bytes = value

    @property
    def min_free_disk_bytes(self) -> int:
        return self._room.min_free_disk_bytes

    @property
    def reserve_bytes(self) -> int:
        return self._room.reserve_bytes

    # ------------------------------------------------------------ transactions
    def transaction(self) -> Commit:
        """One durable local commit; returns (leaves the block) only once it is on disk.

        Raises ``OutboxFull`` / ``OutboxUnavailable``; on any error nothing of the block is kept.
        A ``transaction()`` inside another (a put inside a transaction block) joins the outer
        commit, so the outer rollback also removes the attachment files written inside.
        """
        return Commit(self._writer)

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
        writer = self._writer
        with Commit(writer) as tx:
            new_key = writer.insert(
                tx,
                kind=kind,
                payload=payload,
                stream=stream,
                schema_version=schema_version,
                key=key,
                attachments=attachments,
            )
            if journal_complete is not None:
                self._journal.complete(*journal_complete)
        return new_key

    # ------------------------------------------------------ journal, sequences
    def journal_begin(self, action: str, ref: str) -> int:
        """Durably record that a device action starts (e.g. "dispense", document number)."""
        with self.transaction():
            return self._journal.begin(action, ref)

    def journal_complete(self, journal_id: int, outcome: str) -> None:
        with self.transaction():
            self._journal.complete(journal_id, outcome)

    def unfinished(self) -> list[JournalEntry]:
        """Actions begun but never completed (the kiosk crashed in between): resolve at start."""
        with self._db.reading():
            return self._journal.unfinished()

    def journal(self, journal_id: int) -> JournalEntry:
        with self._db.reading():
            return self._journal.get(journal_id)

    def next_sequence(self, name: str) -> int:
        """Next value of a durable counter (1, 2, ...): committed before it is returned, so a
        value is never handed out twice, even across crashes."""
        with self.transaction() as tx:
            return tx.next_sequence(name)

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
        its lease. An entry whose sealed payload cannot be opened is dead-lettered instead
        (``lease`` also returns those).

        ``following``: the lease token of a batch still in flight. Its entries count as
        taken, so their streams go on in this batch. The caller must send this batch only
        after that one's outcomes are known, and first withdraw the entries whose stream
        had an entry there that was not delivered."""
        return self.lease(
            limit, lease_s, max_attachment_bytes=max_attachment_bytes, following=following
        ).entries

    def lease(
        self,
        limit: int,
        lease_s: float,
        *,
        max_attachment_bytes: int | None = None,
        following: str | None = None,
    ) -> Lease:
        """``claim``, returning also the entries found damaged and dead-lettered (``Lease``)."""
        return self._deliveries.lease(
            limit, lease_s, max_attachment_bytes=max_attachment_bytes, following=following
        )

    def read_attachment(self, ref: AttachmentRef) -> bytes:
        """The decrypted attachment; ``AttachmentLost`` if its file is gone or damaged."""
        return self._files.read(ref)

    def attachment_present(self, ref: AttachmentRef) -> bool:
        return self._files.exists(ref)

    def set_upload_url(self, ref: AttachmentRef, url: str) -> None:
        """Remember where an attachment's upload lives, so it resumes after a restart."""
        self._deliveries.set_upload_url(ref, url)

    def ack(
        self, entries: Sequence[tuple[ClaimedEntry, str]], meta: Mapping[str, str] | None = None
    ) -> int:
        """Mark entries acknowledged by central with their outcome: the payload and the
        attachment files go, the audit row stays. Entries whose lease was lost are skipped.
        ``meta`` rows (the sync status) are written in the same commit."""
        return self._deliveries.ack(entries, meta)

    def release(
        self,
        entries: Sequence[tuple[ClaimedEntry, float]],
        error: str,
        *,
        count_attempt: bool = True,
    ) -> None:
        """Return leased entries to pending, each due again after its own delay (seconds)."""
        self._deliveries.release(entries, error, count_attempt=count_attempt)

    def bury(self, entry: ClaimedEntry, error: str) -> None:
        """Dead-letter an entry central refused for good; its stream waits behind it."""
        self._deliveries.bury(entry, error)

    # ---------------------------------------------------------------- staff
    def redrive(self, key: str) -> None:
        """Staff: send a dead entry again (and unblock its stream)."""
        self._staff.redrive(key)

    def redrive_dead(self) -> int:
        """Staff at the machine: send every dead entry again (each stream resumes in order
        behind its first); returns how many. Those central refuses again die again."""
        return self._staff.redrive_dead()

    def discard(self, key: str) -> None:
        """Staff: give up on a dead entry; its personal data goes, an audit row stays."""
        self._staff.discard(key)

    def entries(self, state: str | None = None, limit: int = 100) -> list[EntryInfo]:
        """Entries as staff may see them, oldest first; ``state`` also takes ``"invalid"``
        (rows whose state is none of the valid ones)."""
        return self._views.entries(state, limit)

    def entry(self, key: str) -> EntryInfo:
        return self._views.entry(key)

    def counts(self) -> Counts:
        return self._views.counts()

    def waiting(self) -> int:
        """Undelivered entries that can still go out: not dead, not behind a dead entry."""
        return self._views.waiting()

    def purge_audit(self) -> int:
        """Drop audit rows older than ``audit_days``; returns how many."""
        return self._staff.purge_audit(self.audit_days)

    def get_meta(self, name: str) -> str | None:
        return self._db.get_meta(name)

    def set_meta(self, values: Mapping[str, str]) -> None:
        self._db.set_meta(values)

    def check_integrity(self, *, full: bool = True) -> IntegrityReport:
        """SQLite's check of the whole file (``full``: every index against its table too) and
        the entries with an invalid state. Errors reading the file are ``OutboxDamaged``."""
        with self._db.guard("check"):
            return checks.check(self._db, full=full)

    def integrity_ok(self) -> bool:
        return self.check_integrity().ok

    # --------------------------------------------------------------- health
    @property
    def accepting(self) -> bool:
        """False after the outbox ran full, until ``health()`` finds room again."""
        return self._room.accepting

    def health(self) -> Health:
        """Re-check room (free disk, a trial write of ``reserve_bytes``) and report."""
        return self._room.health()
