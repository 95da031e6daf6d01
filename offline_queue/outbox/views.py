"""What staff and the status see of the outbox: entries (never their payload) and counts.

A row whose state is none of the valid ones (damaged on disk) is never hidden: counts
report it as ``invalid`` and ``entries("invalid")`` lists it."""

from __future__ import annotations

from offline_queue.errors import UnknownEntry
from offline_queue.outbox.database import Database
from offline_queue.outbox.records import (
    DEAD,
    DISCARDED,
    INFLIGHT,
    PENDING,
    SENT,
    Counts,
    EntryInfo,
)
from offline_queue.outbox.schema import OPEN

INVALID = "invalid"  # entries(state=...): rows whose state is none of the valid ones
VALID_STATES = "('pending','sent','dead','discarded')"

# What staff may see of an entry; in flight = pending with a lease row.
_INFO_SQL = (
    "SELECT key, kind, stream, "
    "CASE WHEN e.state='pending' AND l.seq IS NOT NULL THEN 'inflight' ELSE e.state END, "
    "attempts, created_at, next_attempt_at, last_error, sent_at, outcome, "
    "(SELECT COUNT(*) FROM attachments a WHERE a.entry_key = e.key) "
    "FROM entries e LEFT JOIN leases l ON l.seq = e.seq "
)


class Views:
    def __init__(self, db: Database) -> None:
        self._db = db

    def entries(self, state: str | None = None, limit: int = 100) -> list[EntryInfo]:
        with self._db.reading() as conn:
            if state is None:
                rows = conn.execute(_INFO_SQL + "ORDER BY e.seq LIMIT ?", (limit,))
            elif state in (PENDING, INFLIGHT):
                rows = conn.execute(
                    _INFO_SQL + f"WHERE {OPEN} AND e.state='pending' AND (l.seq IS NULL) = ? "
                    "ORDER BY e.seq LIMIT ?",
                    (state == PENDING, limit),
                )
            elif state == INVALID:
                # A full scan: the partial indexes do not hold what they were not made for.
                rows = conn.execute(
                    _INFO_SQL + f"WHERE e.state NOT IN {VALID_STATES} ORDER BY e.seq LIMIT ?",
                    (limit,),
                )
            else:
                rows = conn.execute(
                    _INFO_SQL + "WHERE e.state=? ORDER BY e.seq LIMIT ?", (state, limit)
                )
            return [EntryInfo(*r) for r in rows.fetchall()]

    def entry(self, key: str) -> EntryInfo:
        with self._db.reading() as conn:
            row = conn.execute(_INFO_SQL + "WHERE key=?", (key,)).fetchone()
        if row is None:
            raise UnknownEntry(f"no entry {key}")
        return EntryInfo(*row)

    def counts(self) -> Counts:
        with self._db.reading() as conn:
            undelivered = dict(
                conn.execute(
                    f"SELECT state, COUNT(*) FROM entries WHERE {OPEN} GROUP BY state"
                ).fetchall()
            )
            leased = int(
                conn.execute(
                    "SELECT COUNT(*) FROM leases l JOIN entries e ON e.seq = l.seq "
                    f"WHERE {OPEN} AND e.state='pending'"
                ).fetchone()[0]
            )
            done = dict(
                conn.execute(
                    "SELECT state, COUNT(*) FROM entries "
                    "WHERE state IN ('sent','discarded') GROUP BY state"
                ).fetchall()
            )
            oldest = conn.execute(
                f"SELECT MIN(created_at) FROM entries WHERE {OPEN} AND state='pending'"
            ).fetchone()[0]
        # The partial indexes answer these queries: a row damaged on disk after it was
        # indexed comes back with its damaged state. It is counted, not dropped.
        invalid = sum(n for s, n in undelivered.items() if s not in (PENDING, DEAD))
        invalid += sum(n for s, n in done.items() if s not in (SENT, DISCARDED))
        return Counts(
            pending=undelivered.get(PENDING, 0) - leased,
            inflight=leased,
            dead=undelivered.get(DEAD, 0),
            sent=done.get(SENT, 0),
            discarded=done.get(DISCARDED, 0),
            oldest_pending_at=oldest,
            invalid=invalid,
        )

    def waiting(self) -> int:
        """Undelivered entries that can still go out: not dead, not behind a dead entry."""
        with self._db.reading() as conn:
            return int(
                conn.execute(
                    f"SELECT COUNT(*) FROM entries e WHERE {OPEN} AND state='pending' "
                    "AND NOT EXISTS (SELECT 1 FROM entries d WHERE d.state='dead' "
                    "AND d.stream=e.stream AND d.seq < e.seq)"
                ).fetchone()[0]
            )
