"""Checks made when an outbox opens, and by staff: the file is a whole, sound database; its
key is the one its data was sealed with; no entry has a state that would hide it.

- A 0-byte file, a file that is not a database, or pages that fail SQLite's check:
  ``OutboxDamaged`` (``kiosk queue recover`` salvages what can be read).
- A missing key file while the outbox holds sealed data: ``KeyMissing``. A new key is only
  made for an outbox that holds nothing sealed (new, or everything delivered).
- An entry whose state is none of the valid ones (damaged on disk) is made a dead letter
  (undelivered) or an audit row (delivered) at open, and reported: it is never invisible,
  and a dead letter holds back the rest of its stream until staff act.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

from offline_queue.crypto import load_or_create_key
from offline_queue.errors import KeyMissing, OutboxDamaged
from offline_queue.outbox.database import Database, recover_remedy
from offline_queue.outbox.records import (
    DEAD,
    DISCARDED,
    INVALID_STATE,
    SENT,
    IntegrityReport,
    QueueAlert,
)

log = logging.getLogger(__name__)

MAX_PROBLEMS = 20
_VALID = "('pending','sent','dead','discarded')"
# SQLite reports a row breaking the state CHECK like this; such rows are counted (and
# repaired) on their own, so this message alone does not make the file damaged.
_STATE_CHECK = "CHECK constraint failed in entries"


def marker_path(path: Path) -> Path:
    """Present while ``kiosk queue recover`` is replacing the file (see salvage)."""
    return Path(f"{path}.recovery")


def refuse_unusable_file(path: Path) -> None:
    """Refuse a file that cannot be an outbox before SQLite silently makes it one: a 0-byte
    file would become a new, empty outbox (new outboxes are created whole, never empty)."""
    if marker_path(path).exists():
        raise OutboxDamaged(
            f"a recovery of the outbox {path} was interrupted.",
            path=str(path),
            remedy=f"run `kiosk queue recover --db {path}` again to finish it.",
        )
    if path.exists() and path.stat().st_size == 0:
        raise OutboxDamaged(
            f"the outbox file {path} is empty (0 bytes): whatever it held is lost.",
            path=str(path),
            remedy=(
                "keep the kiosk out of service. If this machine never took a transaction, "
                f"delete {path}; otherwise restore it from backup, or run `kiosk queue recover "
                f"--db {path}` to set it aside and start an empty outbox, and report the "
                "loss to central."
            ),
            problems=("0-byte file",),
        )


def check(db: Database, *, full: bool = False) -> IntegrityReport:
    """SQLite's check of the file (``quick_check``, or ``integrity_check`` with ``full``,
    which also compares every index with its table) and the count of entries whose state
    is not a valid one."""
    pragma = "integrity_check" if full else "quick_check"
    with db.lock:
        messages = [str(r[0]) for r in db.conn.execute(f"PRAGMA {pragma}({MAX_PROBLEMS})")]
        # Both checks test every row against the state's CHECK: only then is it worth a scan.
        invalid = count_invalid_states(db.conn) if _STATE_CHECK in messages else 0
    problems = tuple(m for m in messages if m != "ok" and not (invalid and m == _STATE_CHECK))
    return IntegrityReport(problems=problems, invalid_states=invalid)


def count_invalid_states(conn: sqlite3.Connection) -> int:
    if not _has_table(conn, "entries"):
        return 0
    return int(
        conn.execute(f"SELECT COUNT(*) FROM entries WHERE state NOT IN {_VALID}").fetchone()[0]
    )


def refuse_if_damaged(db: Database, report: IntegrityReport) -> None:
    if report.problems:
        raise OutboxDamaged(
            f"the outbox {db.path} is damaged: {'; '.join(report.problems[:3])}"
            + (f" (and {len(report.problems) - 3} more)." if len(report.problems) > 3 else "."),
            path=str(db.path),
            remedy=recover_remedy(db.path),
            problems=report.problems,
        )


def resolve_key(db: Database, key_file: Path) -> tuple[bytes, QueueAlert | None]:
    """The key of this outbox from ``key_file``; a new one only if the file is absent and
    the outbox holds nothing sealed (then also an alert if the outbox was not new)."""
    if key_file.exists():
        return load_or_create_key(key_file), None
    with db.lock:
        sealed, delivered = sealed_records(db.conn)
    if sealed:
        raise KeyMissing(
            f"the outbox {db.path} holds {sealed} sealed record(s) (entries not yet "
            f"delivered, attachments, journal references) but its key file {key_file} is "
            "missing; a new key could open none of them.",
            path=str(db.path),
            key_file=str(key_file),
            sealed=sealed,
            remedy=(
                f"restore {key_file} from this kiosk's backup (mode 0600, owned by the kiosk's "
                "user) and start again. If the key is lost for good, `kiosk queue recover --db "
                f"{db.path} --key-lost` starts an empty outbox and lists the entries lost."
            ),
        )
    key = load_or_create_key(key_file)
    if not delivered:
        return key, None
    log.warning("outbox %s: key file %s was missing; new key made", db.path, key_file)
    return key, QueueAlert(
        "queue.key_replaced",
        f"the outbox key file {key_file} was missing; nothing sealed was left in the outbox, "
        "so a new key was made. Find out why the file went.",
    )


def sealed_records(conn: sqlite3.Connection) -> tuple[int, int]:
    """(records sealed with the key that are still needed, delivered audit rows). A full
    scan of the entries: only run when the key file is missing."""
    if not _has_table(conn, "entries"):
        return 0, 0
    sealed = int(
        conn.execute(
            "SELECT (SELECT COUNT(*) FROM entries WHERE payload IS NOT NULL) "
            "+ (SELECT COUNT(*) FROM attachments) + (SELECT COUNT(*) FROM journal)"
        ).fetchone()[0]
    )
    delivered = int(conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0])
    return sealed, delivered


def repaired_state(state: object, payload: object, outcome: object) -> tuple[str, str | None]:
    """What an entry with an invalid state becomes: undelivered (its payload is still there)
    a dead letter staff see, redrive or discard; delivered or discarded, an audit row."""
    if payload is not None:
        return DEAD, (
            f"{INVALID_STATE}: its state was damaged ({str(state)[:20]!r}); it may or may "
            "not have reached central. Redrive it (central ignores a copy it already has) "
            "or discard it"
        )
    return (DISCARDED if outcome == "discarded by staff" else SENT), None


def repair_invalid_states(db: Database) -> list[QueueAlert]:
    """Give every entry with an invalid state a valid one (``repaired_state``), rebuild the
    entries' indexes (a state damaged on disk leaves them disagreeing with the table), and
    return one alert per repaired entry."""
    alerts: list[QueueAlert] = []
    with db.guard(), db.write():
        rows = db.conn.execute(
            f"SELECT seq, key, kind, state, payload IS NOT NULL, outcome FROM entries "
            f"WHERE state NOT IN {_VALID}"
        ).fetchall()
        for seq, key, kind, state, undelivered, outcome in rows:
            new_state, error = repaired_state(state, True if undelivered else None, outcome)
            db.conn.execute(
                "UPDATE entries SET state=?, last_error=COALESCE(?, last_error) WHERE seq=?",
                (new_state, error, seq),
            )
            alerts.append(
                QueueAlert(
                    INVALID_STATE,
                    f"outbox entry {key} ({kind}) had a damaged state; it is now "
                    f"{'a dead letter: redrive or discard it' if new_state == DEAD else new_state}",
                )
            )
            log.error("outbox entry %s: invalid state %r made %s", key, state, new_state)
        if rows:
            db.conn.execute("REINDEX entries")
    return alerts


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,))
    return row.fetchone() is not None


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
