"""The device-action journal and durable counters, kept in the outbox's database so that a
business record, its outbox entry and a journal completion commit together.

A journal reference is a document number: it is stored as a keyed pseudonym (which look-ups
compare) and sealed with AES-GCM (which ``JournalEntry.ref`` returns), never in clear.
The methods here run inside the caller's transaction; ``Outbox`` opens one around them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from offline_queue.crypto import Sealer
from offline_queue.errors import UnknownEntry
from offline_queue.outbox.database import Database
from offline_queue.outbox.records import JournalEntry

log = logging.getLogger(__name__)

_COLUMNS = "id, action, ref, ref_sealed, started_at, completed_at, outcome"


class Journal:
    def __init__(self, db: Database, sealer: Sealer) -> None:
        self._db = db
        self._sealer = sealer

    def begin(self, action: str, ref: str) -> int:
        cur = self._db.conn.execute(
            "INSERT INTO journal (action, ref, ref_sealed, started_at) VALUES (?, ?, ?, ?)",
            (action, *self.sealed_ref(ref), self._db.now()),
        )
        return int(cur.lastrowid or 0)

    def complete(self, journal_id: int, outcome: str) -> None:
        n = self._db.conn.execute(
            "UPDATE journal SET completed_at=?, outcome=? WHERE id=? AND completed_at IS NULL",
            (self._db.now(), outcome, journal_id),
        ).rowcount
        if n != 1:
            raise UnknownEntry(f"journal entry {journal_id} is unknown or already complete")

    def unfinished(self) -> list[JournalEntry]:
        rows = self._db.conn.execute(
            f"SELECT {_COLUMNS} FROM journal WHERE completed_at IS NULL ORDER BY id"
        ).fetchall()
        return [self._entry(r) for r in rows]

    def get(self, journal_id: int) -> JournalEntry:
        row = self._db.conn.execute(
            f"SELECT {_COLUMNS} FROM journal WHERE id=?", (journal_id,)
        ).fetchone()
        if row is None:
            raise UnknownEntry(f"no journal entry {journal_id}")
        return self._entry(row)

    def last(self, ref: str, actions: Sequence[str]) -> JournalEntry | None:
        """The newest entry for ``ref`` among ``actions``."""
        marks = ",".join("?" * len(actions))
        row = self._db.conn.execute(
            f"SELECT {_COLUMNS} FROM journal WHERE ref=? AND action IN ({marks}) "
            "ORDER BY id DESC LIMIT 1",
            (self._pseudonym(ref), *actions),
        ).fetchone()
        return None if row is None else self._entry(row)

    def latest(self, actions: Sequence[str]) -> list[JournalEntry]:
        """For every reference, its newest entry among ``actions``, oldest first."""
        marks = ",".join("?" * len(actions))
        rows = self._db.conn.execute(
            f"SELECT {_COLUMNS} FROM journal j WHERE id = (SELECT MAX(id) FROM journal k "
            f"WHERE k.ref = j.ref AND k.action IN ({marks})) ORDER BY id",
            tuple(actions),
        ).fetchall()
        return [self._entry(r) for r in rows]

    def sealed_ref(self, ref: str) -> tuple[str, bytes]:
        """(pseudonym, sealed reference): what the journal stores for ``ref``."""
        pseudonym = self._pseudonym(ref)
        return pseudonym, self._sealer.seal(ref.encode(), pseudonym)

    def _pseudonym(self, ref: str) -> str:
        return self._sealer.pseudonym("journal:" + ref)

    def _entry(self, row: Sequence[Any]) -> JournalEntry:
        journal_id, action, pseudonym, sealed, started, completed, outcome = row
        blob = sealed if isinstance(sealed, bytes) else b""
        try:
            ref = self._sealer.open(blob, pseudonym).decode()
        except ValueError:  # UnicodeDecodeError included
            # Damaged or sealed with another key: the entry still counts, its number is lost.
            log.error("journal entry %d: reference cannot be read", journal_id)
            ref = "?"
        return JournalEntry(journal_id, action, ref, started, completed, outcome)


def next_value(db: Database, name: str) -> int:
    """The next value of the durable counter ``name`` (1, 2, ...), inside the caller's
    transaction: committed before it is handed out, it is never handed out twice."""
    row = db.conn.execute(
        "INSERT INTO sequences VALUES (?, 1) ON CONFLICT(name) DO UPDATE "
        "SET value = value + 1 RETURNING value",
        (name,),
    ).fetchone()
    return int(row[0])
