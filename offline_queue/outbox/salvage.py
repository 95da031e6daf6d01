"""Recovery of a damaged outbox: every readable row is copied into a fresh file, which then
takes the outbox's place; the damaged file is kept aside, and the report says what was lost.

Rows are read one table at a time, in rowid order; where a damaged page stops the reading,
it resumes at the next readable row, and rows an index names but the table cannot give back
are asked for one by one (an index is a second copy of the keys, on other pages). So one
damaged page costs the rows on that page, not the file.

What is copied, and how it is checked:

- entries: a valid state is kept (an invalid one repaired as at open: an undelivered entry
  becomes a dead letter); an undelivered entry whose sealed payload fails authentication, or
  one of whose attachment files is gone or damaged, is copied as a dead letter that holds
  back the rest of its stream, as the sync worker would have made it. Leases are not copied:
  what was in flight goes again (central answers a copy it has from its stored outcome).
- attachments (of undelivered entries), the journal, durable counters (the key floor is
  raised above every entry number seen, readable or not), meta (the epoch is new, so keys
  made from now on cannot meet any key of the old file).
- ``key_lost``: the key file is gone for good. Nothing sealed can be checked or read any
  more: undelivered entries become dead letters without their payload, and attachment rows
  and the journal are not copied; all of it is listed as lost.

The steps are journaled by a marker file (``<db>.recovery``) that also keeps the outbox from
opening until the recovery is complete; running it again after a crash finishes it.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from offline_queue.crypto import Sealer, fsync_dir, load_or_create_key
from offline_queue.errors import OutboxUnavailable
from offline_queue.outbox import integrity
from offline_queue.outbox.files import sealed_context
from offline_queue.outbox.records import DEAD, PAYLOAD_DAMAGED, PENDING, STATES
from offline_queue.outbox.schema import KEY_FLOOR, create_file

log = logging.getLogger(__name__)

_ENTRY_COLUMNS = (
    "seq, key, kind, schema_version, stream, payload, state, attempts, next_attempt_at, "
    "last_error, created_at, sent_at, outcome"
)
_ATTACHMENT_COLUMNS = "entry_key, position, name, content_type, file, size, sha256, upload_url"
_JOURNAL_COLUMNS = "id, action, ref, started_at, completed_at, outcome, ref_sealed"
_MAX_JUMP = 1 << 40
_PROBE_LIMIT = 200_000  # rows of one skipped stretch read one by one, at most
KEY_LOST = "queue.key_lost"
ATTACHMENT_LOST = "queue.attachment_lost"


@dataclass(frozen=True)
class LostEntry:
    """An entry that will not be delivered: not copied (``key`` None if not even its key
    could be read), or copied as a dead letter for staff."""

    key: str | None
    kind: str | None
    state: str | None
    created_at: float | None
    reason: str


@dataclass
class SalvageReport:
    path: str
    damaged_copy: str
    problems: list[str]  # what SQLite's check found in the damaged file
    entries_copied: int = 0
    undelivered_copied: int = 0  # pending or dead, payload readable: will be delivered
    dead_letters: list[LostEntry] = field(default_factory=list)  # copied, cannot be sent
    lost: list[LostEntry] = field(default_factory=list)  # not copied at all
    unreadable_rows: dict[str, int] = field(default_factory=dict)  # per table, key unknown
    damaged_stretches: dict[str, int] = field(default_factory=dict)  # per table, skipped
    attachments_copied: int = 0
    journal_copied: int = 0
    journal_lost: int = 0
    unfinished_actions_lost: int = 0  # journaled device or money actions never completed
    sequences: dict[str, int] = field(default_factory=dict)
    sequences_lost: list[str] = field(default_factory=list)
    key_lost: bool = False

    @property
    def nothing_lost(self) -> bool:
        return not (
            self.dead_letters
            or self.lost
            or any(self.unreadable_rows.values())
            or any(self.damaged_stretches.values())
            or self.journal_lost
            or self.sequences_lost
        )

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "nothing_lost": self.nothing_lost}


@dataclass
class _Table:
    """The rows read from one table; the rowids found (probed, or named by an index) whose
    row cannot be read; ``gaps``: damaged stretches skipped, in which rows nobody can name
    may have been lost."""

    rows: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    unreadable: set[int] = field(default_factory=set)
    names: dict[int, Any] = field(default_factory=dict)  # rowid -> its key, from an index
    gaps: int = 0

    def unnamed_unreadable(self) -> int:
        return len(self.unreadable - set(self.names))


def salvage(
    path: str | os.PathLike[str],
    *,
    key_file: str | os.PathLike[str] | None = None,
    key_lost: bool = False,
    attachments_dir: str | os.PathLike[str] | None = None,
    clock_now: float | None = None,
) -> SalvageReport:
    """Recover the outbox at ``path`` in place (see the module docstring). The kiosk must
    not be running. Raises ``OutboxUnavailable`` if the outbox is in use, or if the key
    file is missing without ``key_lost``."""
    db = Path(path)
    key_path = Path(key_file) if key_file else db.with_suffix(".key")
    atts = Path(attachments_dir or f"{db}.attachments")
    now = clock_now if clock_now is not None else datetime.now(UTC).timestamp()
    sealer = _sealer(db, key_path, key_lost)
    marker = integrity.marker_path(db)
    if not marker.exists() and db.exists():
        _refuse_if_in_use(db)
    aside = _set_aside(db, marker, now)
    report = SalvageReport(path=str(db), damaged_copy=str(aside), problems=[], key_lost=key_lost)
    fresh = db.with_name(f".{db.name}.salvaged")
    _remove_db_files(fresh)
    create_file(fresh, now)
    with closing(sqlite3.connect(aside, isolation_level=None)) as source:
        report.problems = _problems(source) if aside.stat().st_size else ["0-byte file"]
        with closing(sqlite3.connect(fresh, isolation_level=None)) as target:
            target.execute("PRAGMA secure_delete=ON")
            target.execute("BEGIN IMMEDIATE")
            _Copy(source, target, sealer, atts, report).run()
            target.execute("COMMIT")
    integrity.fsync_file(fresh)
    for leftover in (Path(f"{db}-wal"), Path(f"{db}-shm")):
        leftover.unlink(missing_ok=True)
    os.replace(fresh, db)
    fsync_dir(db.parent)
    marker.unlink()
    fsync_dir(db.parent)
    log.warning("outbox %s recovered; the damaged file is %s", db, aside)
    return report


def _sealer(db: Path, key_path: Path, key_lost: bool) -> Sealer | None:
    if key_lost:
        return None
    if not key_path.exists():
        raise OutboxUnavailable(
            f"the key file {key_path} of the outbox {db} is missing: restore it first, or "
            "recover with --key-lost if it is lost for good (nothing sealed can be read then)",
            code="queue.key_missing",
        )
    return Sealer(load_or_create_key(key_path))


def _set_aside(db: Path, marker: Path, now: float) -> Path:
    """Move the damaged file (and its log) aside, after writing the marker that names the
    place; after a crash, the marker's place is used again."""
    if marker.exists():
        aside = db.with_name(json.loads(marker.read_text())["aside"])
        log.warning("finishing the interrupted recovery of %s from %s", db, aside)
    else:
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%S")
        aside = db.with_name(f"{db.name}.damaged-{stamp}")
        _write_durably(marker, json.dumps({"aside": aside.name, "started_at": now}))
    if not aside.exists():
        if db.exists():
            os.rename(db, aside)
        else:
            os.close(os.open(aside, os.O_WRONLY | os.O_CREAT, 0o600))  # nothing left to read
        wal = Path(f"{db}-wal")
        if wal.exists():
            os.rename(wal, Path(f"{aside}-wal"))
        Path(f"{db}-shm").unlink(missing_ok=True)
        fsync_dir(db.parent)
    return aside


def _write_durably(target: Path, text: str) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(target.parent)


def _remove_db_files(target: Path) -> None:
    for f in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
        f.unlink(missing_ok=True)


def _refuse_if_in_use(db: Path) -> None:
    """A kiosk still writing to the outbox holds its write lock: refuse rather than move the
    file from under it (an idle one is not seen: the kiosk must be stopped first)."""
    with closing(sqlite3.connect(db, timeout=2.0, isolation_level=None)) as conn:
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise OutboxUnavailable(
                    f"the outbox {db} is in use: stop the kiosk (and any `kiosk queue` "
                    "command) first, then run the recovery again"
                ) from exc
        except sqlite3.DatabaseError:
            pass  # not even lockable as a database: nothing of it will be readable


def _problems(source: sqlite3.Connection) -> list[str]:
    try:
        rows = source.execute(f"PRAGMA integrity_check({integrity.MAX_PROBLEMS})").fetchall()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [str(r[0]) for r in rows if r[0] != "ok"]


class _Copy:
    """Copies what can be read from ``source`` into ``target`` (inside its transaction)."""

    def __init__(
        self,
        source: sqlite3.Connection,
        target: sqlite3.Connection,
        sealer: Sealer | None,
        attachments_dir: Path,
        report: SalvageReport,
    ) -> None:
        self.source = source
        self.target = target
        self.sealer = sealer
        self.attachments_dir = attachments_dir
        self.report = report

    def run(self) -> None:
        entries = _read(self.source, "entries", _ENTRY_COLUMNS, name_columns=("key",))
        copied = self._entries(entries)
        self._attachments(copied)
        self._journal()
        highest = max([*entries.rows, *entries.unreadable, *entries.names, 0])
        self._sequences(highest)
        self._meta()

    # ------------------------------------------------------------------ entries
    def _entries(self, table: _Table) -> dict[str, int]:
        """Copy the entries; returns key -> seq of the undelivered ones copied for sending."""
        report = self.report
        self._note_unreadable("entries", table)
        for rowid in sorted(table.unreadable & set(table.names)):
            report.lost.append(
                LostEntry(str(table.names[rowid]), None, None, None, "its row cannot be read")
            )
        sendable: dict[str, int] = {}
        for seq, row in sorted(table.rows.items()):
            entry = dict(zip(_ENTRY_COLUMNS.split(", "), row, strict=True))
            why = self._undeliverable(entry)
            if why is not None:
                entry.update(state=DEAD, last_error=why[:500])
                if self.sealer is None:
                    entry["payload"] = None  # nobody can open it any more
            try:
                self._insert("entries", entry)
            except sqlite3.Error as exc:
                report.lost.append(_lost(entry, f"cannot be copied: {exc}"))
                continue
            report.entries_copied += 1
            if why is not None:
                report.dead_letters.append(_lost(entry, why))
            elif entry["state"] in (PENDING, DEAD):
                report.undelivered_copied += 1
                sendable[str(entry["key"])] = seq
        return sendable

    def _undeliverable(self, entry: dict[str, Any]) -> str | None:
        """Why an entry copied must be a dead letter (None: it is fine as it is). An invalid
        state is repaired here as at open."""
        if entry["state"] not in STATES or entry["state"] == "inflight":
            state, error = integrity.repaired_state(
                entry["state"], entry["payload"], entry["outcome"]
            )
            entry["state"] = state
            if error is not None:
                return error
        if entry["state"] not in (PENDING, DEAD):
            return None
        if self.sealer is None:
            return f"{KEY_LOST}: the outbox key was lost, so this entry can never be read or sent"
        payload = entry["payload"]
        try:
            self.sealer.open(payload if isinstance(payload, bytes) else b"", str(entry["key"]))
        except ValueError:
            return (
                f"{PAYLOAD_DAMAGED}: its sealed payload failed authentication (damaged at "
                "rest), so it can never be sent; discard it and report the key to central"
            )
        return None

    # -------------------------------------------------------------- attachments
    def _attachments(self, sendable: dict[str, int]) -> None:
        """The attachment rows of entries that will be sent, each file checked; an entry
        with a file gone or damaged becomes a dead letter (as the worker would make it)."""
        if self.sealer is None:
            return
        table = _read(self.source, "attachments", _ATTACHMENT_COLUMNS, name_columns=("file",))
        self._note_unreadable("attachments", table)
        broken: dict[str, str] = {}
        for _, row in sorted(table.rows.items()):
            att = dict(zip(_ATTACHMENT_COLUMNS.split(", "), row, strict=True))
            entry_key = str(att["entry_key"])
            if entry_key not in sendable:
                continue  # delivered, discarded or not copied: its file has no use
            if not self._file_opens(att):
                broken[entry_key] = f"{ATTACHMENT_LOST}: {att['name']} is missing or damaged"
            try:
                self._insert("attachments", att)
                self.report.attachments_copied += 1
            except sqlite3.Error as exc:
                broken[entry_key] = f"{ATTACHMENT_LOST}: {att['name']} cannot be copied ({exc})"
        for entry_key, why in broken.items():
            self.target.execute(
                "UPDATE entries SET state='dead', last_error=? WHERE key=?", (why, entry_key)
            )
            kind, created = self.target.execute(
                "SELECT kind, created_at FROM entries WHERE key=?", (entry_key,)
            ).fetchone()
            self.report.undelivered_copied -= 1
            self.report.dead_letters.append(LostEntry(entry_key, kind, DEAD, created, why))

    def _file_opens(self, att: dict[str, Any]) -> bool:
        assert self.sealer is not None
        try:
            blob = (self.attachments_dir / str(att["file"])).read_bytes()
            self.sealer.open(blob, sealed_context(str(att["entry_key"]), int(att["position"])))
        except (OSError, ValueError, TypeError):
            return False
        return True

    # ------------------------------------------------------------------ journal
    def _journal(self) -> None:
        table = _read(self.source, "journal", _JOURNAL_COLUMNS)
        report = self.report
        self._note_unreadable("journal", table)
        report.journal_lost = len(table.unreadable)
        if self.sealer is None:
            # Sealed and looked up with the lost key: no use to a new one.
            report.journal_lost += len(table.rows)
            completed = _JOURNAL_COLUMNS.split(", ").index("completed_at")
            report.unfinished_actions_lost = sum(
                1 for r in table.rows.values() if r[completed] is None
            )
            return
        for _, row in sorted(table.rows.items()):
            item = dict(zip(_JOURNAL_COLUMNS.split(", "), row, strict=True))
            try:
                self._insert("journal", item)
                report.journal_copied += 1
            except sqlite3.Error:
                report.journal_lost += 1
                report.unfinished_actions_lost += item["completed_at"] is None

    # ---------------------------------------------------------- counters, meta
    def _sequences(self, highest_seq: int) -> None:
        table = _read(self.source, "sequences", "name, value", name_columns=("name",))
        report = self.report
        self._note_unreadable("sequences", table)
        report.sequences_lost = sorted(
            str(table.names[r]) for r in table.unreadable if r in table.names
        )
        values = {str(name): int(value) for name, value in table.rows.values()}
        # Entry numbers seen (read or not) stay taken: keys made later never reuse them.
        values[KEY_FLOOR] = max(values.get(KEY_FLOOR, 0), highest_seq)
        self.target.executemany(
            "INSERT OR REPLACE INTO sequences VALUES (?, ?)", list(values.items())
        )
        report.sequences = {k: v for k, v in values.items() if k != KEY_FLOOR}

    def _meta(self) -> None:
        table = _read(self.source, "meta", "name, value")
        self._note_unreadable("meta", table)
        kept = [
            (name, value)
            for name, value in table.rows.values()
            if name not in ("epoch", "_probe") and isinstance(value, str)
        ]
        self.target.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", kept)

    def _note_unreadable(self, name: str, table: _Table) -> None:
        self.report.unreadable_rows[name] = table.unnamed_unreadable()
        self.report.damaged_stretches[name] = table.gaps

    def _insert(self, table: str, row: dict[str, Any]) -> None:
        columns = ", ".join(row)
        marks = ", ".join("?" * len(row))
        self.target.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values()))


def _lost(entry: dict[str, Any], reason: str) -> LostEntry:
    def text(name: str) -> str | None:
        value = entry.get(name)
        return value if isinstance(value, str) else None

    created = entry.get("created_at")
    return LostEntry(
        text("key"),
        text("kind"),
        text("state"),
        float(created) if isinstance(created, (int, float)) else None,
        reason,
    )


def _read(
    conn: sqlite3.Connection, table: str, columns: str, *, name_columns: tuple[str, ...] = ()
) -> _Table:
    """Every readable row of ``table`` by rowid (see the module docstring)."""
    out = _Table()
    out.names = _names_from_indexes(conn, table, name_columns)
    after = 0
    while True:
        try:
            for row in conn.execute(
                f"SELECT rowid, {columns} FROM {table} WHERE rowid > ? ORDER BY rowid", (after,)
            ):
                out.rows[row[0]] = tuple(row[1:])
                after = row[0]
            break
        except sqlite3.DatabaseError:
            out.gaps += 1
            resume = _next_readable(conn, table, after)
            # The rows of the stretch skipped, one by one: a damaged page holds some of
            # them, the pages around it the others.
            last = resume if resume is not None else max(out.names, default=after)
            for rowid in range(after + 1, min(last, after + _PROBE_LIMIT) + 1):
                _probe(conn, table, columns, rowid, out)
            if resume is None:
                break
            after = resume
    for rowid in sorted(set(out.names) - set(out.rows) - out.unreadable):
        _probe(conn, table, columns, rowid, out)
        if rowid not in out.rows:
            out.unreadable.add(rowid)  # the index names a row the table no longer has
    return out


def _probe(conn: sqlite3.Connection, table: str, columns: str, rowid: int, out: _Table) -> None:
    try:
        row = conn.execute(
            f"SELECT rowid, {columns} FROM {table} WHERE rowid = ?", (rowid,)
        ).fetchone()
    except sqlite3.DatabaseError:
        out.unreadable.add(rowid)
        return
    if row is not None:
        out.rows[rowid] = tuple(row[1:])


def _next_readable(conn: sqlite3.Connection, table: str, after: int) -> int | None:
    """The rowid after which reading works again past a damaged stretch (None: nothing
    readable follows). Jumps grow by doubling, so a large damaged stretch costs few reads."""
    jump = 1
    while jump <= _MAX_JUMP:
        try:
            row = conn.execute(
                f"SELECT rowid FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT 1",
                (after + jump,),
            ).fetchone()
        except sqlite3.DatabaseError:
            jump *= 2
            continue
        return None if row is None else int(row[0]) - 1
    return None


def _names_from_indexes(
    conn: sqlite3.Connection, table: str, columns: tuple[str, ...]
) -> dict[int, Any]:
    """rowid -> value of a unique column, read from that column's index alone (the index
    lives on other pages than the table, so it can name rows the table cannot give back)."""
    names: dict[int, Any] = {}
    for column in columns:
        for index in _indexes_on(conn, table, column):
            with suppress(sqlite3.DatabaseError):
                for rowid, value in _scan(
                    conn, f"SELECT rowid, {column} FROM {table} INDEXED BY {index}"
                ):
                    names.setdefault(rowid, value)
    return names


def _indexes_on(conn: sqlite3.Connection, table: str, column: str) -> list[str]:
    try:
        found = []
        for _, name, _unique, _origin, partial in conn.execute(f"PRAGMA index_list({table})"):
            cols = [r[2] for r in conn.execute(f"PRAGMA index_info({name})")]
            if cols == [column] and not partial:
                found.append(str(name))
        return found
    except sqlite3.DatabaseError:
        return []


def _scan(conn: sqlite3.Connection, sql: str) -> Iterator[tuple[Any, ...]]:
    yield from conn.execute(sql)
