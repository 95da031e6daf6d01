"""The outbox's tables, their versions, and how a file gets them: created complete before
it appears under its name, or upgraded in place from an older version in one transaction.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path

from offline_queue.crypto import fsync_dir
from offline_queue.errors import OutboxRefused, OutboxUnavailable
from offline_queue.outbox.database import Database

log = logging.getLogger(__name__)

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
SCHEMA_VERSION = 4
# The longest an entry is held back on purpose (the sync worker's backoff is capped below it).
MAX_DELAY_S = 86_400.0
KEY_FLOOR = "outbox.key"
# The condition of the partial index ``entries_open``, spelled exactly as there: SQLite uses a
# partial index only for a query whose WHERE contains that very term.
OPEN = "state IN ('pending','inflight','dead')"

SCHEMA = """
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


JournalRef = Callable[[str], tuple[str, bytes]]  # reference -> (pseudonym, sealed reference)


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


def create_file(path: Path, now: float) -> bool:
    """Make a new, empty outbox at ``path``: built under a temporary name (schema, epoch, WAL
    mode, mode 0600), made durable, then linked into place, so a file under the outbox's
    name is always a whole database: one of 0 bytes there is damage, never a new outbox.

    False if another process linked its own first (then that file is the outbox)."""
    tmp = path.with_name(f".{path.name}.new-{uuid.uuid4().hex[:8]}")
    os.close(os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(f"BEGIN IMMEDIATE;{SCHEMA}PRAGMA user_version={SCHEMA_VERSION};")
            _add_epoch(conn, now)
            conn.execute("COMMIT")
        finally:
            conn.close()  # the last connection copies the log into the file and removes it
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
            created = True
        except FileExistsError:
            created = False
        fsync_dir(path.parent)
        return created
    finally:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            leftover.unlink(missing_ok=True)


def _add_epoch(conn: sqlite3.Connection, now: float) -> None:
    # The epoch makes keys unique even if this database is ever recreated from scratch.
    conn.execute(
        "INSERT OR IGNORE INTO meta VALUES ('epoch', ?), ('created_at', ?)",
        (uuid.uuid4().hex[:8], repr(now)),
    )


def ensure(db: Database, journal_ref: JournalRef) -> str:
    """Bring the open file to this version (creating the tables of an empty database) and
    return its epoch. A file of a newer version is refused."""
    version = int(db.conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise OutboxRefused(
            f"{db.path}: schema {version} is newer than this code ({SCHEMA_VERSION}).",
            path=str(db.path),
            remedy="install the kiosk software that wrote it; an older version would reuse "
            "keys or misread the file.",
        )
    if version == 0:
        # Every statement is idempotent, so two processes opening a new file both succeed.
        db.conn.executescript(
            f"BEGIN IMMEDIATE;{SCHEMA}PRAGMA user_version={SCHEMA_VERSION};COMMIT;"
        )
    elif version < SCHEMA_VERSION:
        _upgrade(db, journal_ref)
        log.info("outbox %s upgraded from schema %d to %d", db.path.name, version, SCHEMA_VERSION)
    with db.write():
        _add_epoch(db.conn, db.now())
        row = db.conn.execute("SELECT value FROM meta WHERE name='epoch'").fetchone()
    return str(row[0])


def _upgrade(db: Database, journal_ref: JournalRef) -> None:
    """Bring an older file to this schema in one transaction: a crash leaves the old
    version. Every step is idempotent, as another process may have upgraded meanwhile.

    1 -> 2: same tables; the version-1 key counter ('outbox.key', the last number handed
    out) becomes the floor of seq-numbered keys as it stands.
    2 -> 3: leases move to their own table, unexpired or not, so a worker that still
    holds one keeps it.
    3 -> 4: journal references in clear become pseudonym + sealed reference."""
    c = db.conn
    try:
        # No COMMIT in the script: the transaction stays open for the steps in Python.
        c.executescript(
            f"BEGIN IMMEDIATE;{SCHEMA}"
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
            [(*journal_ref(ref), journal_id) for journal_id, ref in rows],
        )
        c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        c.execute("COMMIT")
    except BaseException:
        db.rollback()
        raise
    if rows:
        # The pages that held the numbers in clear are still in the log: copy the new
        # ones over them in the database file and empty the log.
        busy = c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if busy:
            log.warning("outbox %s: log not emptied after upgrade (busy)", db.path.name)
