"""The sync side of the outbox: leasing entries in stream order, and settling each leased
entry: acknowledged (personal data deleted), released for a retry, or dead-lettered.

In flight is a ``pending`` entry with a row in ``leases`` (seq, token, until): a claim
writes those small rows instead of rewriting each entry. Every settlement checks the lease
token, so a worker whose lease expired cannot settle an entry another worker now owns.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from offline_queue.crypto import Sealer
from offline_queue.errors import OutboxFull
from offline_queue.outbox.database import Database
from offline_queue.outbox.files import AttachmentFiles
from offline_queue.outbox.records import (
    PAYLOAD_DAMAGED,
    PENDING,
    AttachmentRef,
    ClaimedEntry,
    DamagedEntry,
    Lease,
)
from offline_queue.outbox.schema import MAX_DELAY_S, OPEN

log = logging.getLogger(__name__)

# The columns a claim reads, by position.
_SEQ, _KEY, _KIND, _VERSION, _STREAM, _PAYLOAD, _STATE = range(7)
_DUE, _UNTIL, _CREATED, _ATTEMPTS, _ATT_BYTES, _TOKEN = range(7, 13)


def damage_reason(key: str) -> str:
    return (
        f"{PAYLOAD_DAMAGED}: its sealed payload failed authentication (damaged at rest), so "
        f"it can never be sent; its stream waits behind it. Discard it (kiosk queue discard "
        f"{key}) and report the key to central"
    )


class Deliveries:
    def __init__(self, db: Database, sealer: Sealer, files: AttachmentFiles) -> None:
        self._db = db
        self._sealer = sealer
        self._files = files

    def lease(
        self,
        limit: int,
        lease_s: float,
        *,
        max_attachment_bytes: int | None = None,
        following: str | None = None,
    ) -> Lease:
        """See ``Outbox.claim``; also returns the entries found damaged (dead-lettered)."""
        while True:
            try:
                return self._lease(limit, lease_s, max_attachment_bytes, following)
            except OutboxFull:
                # Lease rows need pages; a full database still delivers, in smaller batches,
                # so that acknowledgements and the purge can make room again.
                if limit <= 1:
                    raise
                limit //= 2
                log.warning("outbox full: claiming %d entries at a time", limit)

    def _lease(
        self,
        limit: int,
        lease_s: float,
        max_attachment_bytes: int | None,
        following: str | None,
    ) -> Lease:
        db = self._db
        now = db.now()
        token = uuid.uuid4().hex
        chosen: list[tuple[Any, ...]] = []
        budget = max_attachment_bytes
        atts: dict[str, list[AttachmentRef]] = {}
        with db.guard(), db.write():
            conn = db.conn
            blocked: set[str] = set()
            after = 0
            while len(chosen) < limit:
                rows = conn.execute(
                    "SELECT e.seq, key, kind, schema_version, stream, payload, state, "
                    "next_attempt_at, l.until, created_at, attempts, "
                    "(SELECT SUM(size) FROM attachments a WHERE a.entry_key = e.key), l.token "
                    "FROM entries e LEFT JOIN leases l ON l.seq = e.seq "
                    f"WHERE {OPEN} AND e.seq > ? "
                    "ORDER BY e.seq LIMIT ?",
                    # A little more than still wanted: rows of blocked streams are skipped.
                    (after, limit - len(chosen) + 64),
                ).fetchall()
                if not rows:
                    break
                for row in rows:
                    after = row[_SEQ]
                    stream, state = row[_STREAM], row[_STATE]
                    if stream in blocked or (following is not None and row[_TOKEN] == following):
                        continue
                    # Pending and not backing off, and not leased (or the lease expired). Any
                    # other state (dead, or one damaged on disk) blocks the rest of its stream.
                    # A backoff ending further ahead than any the sync worker sets was stamped
                    # before the wall clock was stepped back: due now, not when it catches up.
                    waiting = now < row[_DUE] <= now + MAX_DELAY_S
                    due = (
                        state == PENDING
                        and not waiting
                        and (row[_UNTIL] is None or row[_UNTIL] < now)
                    )
                    if not due:
                        blocked.add(stream)
                        continue
                    size = row[_ATT_BYTES]
                    if budget is not None and size:
                        if chosen and size > budget:
                            limit = len(chosen)  # full: ends both loops
                            break
                        budget -= size
                    chosen.append(row)
                    if len(chosen) >= limit:
                        break
            if not chosen:
                return Lease([], [])
            conn.executemany(
                "INSERT OR REPLACE INTO leases (seq, token, until) VALUES (?, ?, ?)",
                [(row[_SEQ], token, now + lease_s) for row in chosen],
            )
            keys = [row[_KEY] for row in chosen]
            marks = ",".join("?" * len(keys))
            for a in conn.execute(
                f"SELECT entry_key, position, name, content_type, file, size, sha256, upload_url "
                f"FROM attachments WHERE entry_key IN ({marks}) ORDER BY entry_key, position",
                keys,
            ):
                atts.setdefault(a[0], []).append(AttachmentRef(*a))
        # Opened after the commit, off the write turn the kiosk's puts wait for.
        out: list[ClaimedEntry] = []
        damaged: list[tuple[Any, ...]] = []
        for row in chosen:
            try:
                payload = self._sealer.open(_blob(row[_PAYLOAD]), row[_KEY])
            except ValueError:
                damaged.append(row)
                continue
            out.append(
                ClaimedEntry(
                    seq=row[_SEQ],
                    key=row[_KEY],
                    kind=row[_KIND],
                    schema_version=row[_VERSION],
                    stream=row[_STREAM],
                    payload_json=payload,
                    created_at=row[_CREATED],
                    attempts=row[_ATTEMPTS],
                    lease_token=token,
                    attachments=tuple(atts.get(row[_KEY], ())),
                )
            )
        if not damaged:
            return Lease(out, [])
        return self._set_aside_damaged(out, damaged, token)

    def _set_aside_damaged(
        self, entries: list[ClaimedEntry], damaged: list[tuple[Any, ...]], token: str
    ) -> Lease:
        """Dead-letter the entries whose payload cannot be opened, and give back the lease of
        each entry behind one of them in its stream (it must wait, as behind any dead
        letter); the rest of the batch goes on."""
        first_damaged: dict[str, int] = {}
        for row in damaged:
            first_damaged.setdefault(row[_STREAM], row[_SEQ])
        behind = [
            e for e in entries if e.stream in first_damaged and e.seq > first_damaged[e.stream]
        ]
        db = self._db
        with db.guard(), db.write():
            db.conn.executemany(
                "DELETE FROM leases WHERE seq=? AND token=?",
                [(row[_SEQ], token) for row in damaged] + [(e.seq, token) for e in behind],
            )
            db.conn.executemany(
                "UPDATE entries SET state='dead', attempts=attempts+1, last_error=? "
                "WHERE seq=? AND state='pending'",
                [(damage_reason(row[_KEY])[:500], row[_SEQ]) for row in damaged],
            )
        reports = [
            DamagedEntry(row[_KEY], row[_KIND], row[_CREATED], damage_reason(row[_KEY]))
            for row in damaged
        ]
        for report in reports:
            log.error("entry %s (%s) dead-lettered: %s", report.key, report.kind, PAYLOAD_DAMAGED)
        held_back = {e.seq for e in behind}
        return Lease([e for e in entries if e.seq not in held_back], reports)

    def read_attachment(self, ref: AttachmentRef) -> bytes:
        return self._files.read(ref)

    def set_upload_url(self, ref: AttachmentRef, url: str) -> None:
        """Remember where an attachment's upload lives, so it resumes after a restart."""
        with self._db.guard(), self._db.write():
            self._db.conn.execute(
                "UPDATE attachments SET upload_url=? WHERE entry_key=? AND position=?",
                (url, ref.entry_key, ref.position),
            )

    def ack(
        self, entries: Sequence[tuple[ClaimedEntry, str]], meta: Mapping[str, str] | None = None
    ) -> int:
        """Mark entries acknowledged by central with their outcome: the payload and the
        attachment files go, the audit row stays. Entries whose lease was lost are skipped.
        ``meta`` rows (the sync status) are written in the same commit."""
        db = self._db
        now = db.now()
        files: list[str] = []
        with db.guard(), db.write():
            held = self._end_leases([e for e, _ in entries])
            mine = [(e, outcome) for e, outcome in entries if e.seq in held]
            # One statement for the batch, the outcomes as a JSON object seq -> outcome:
            # executemany of a one-row UPDATE cost 1.7-5.7 times as much per entry
            # (docs/benchmarks.md, seventh pass), and the kiosk's puts wait meanwhile.
            # (SQLite text ends at a NUL: dropped, so the rest of the outcome is kept.)
            outcomes = json.dumps(
                {e.seq: o[:200].replace("\x00", "") for e, o in mine}, ensure_ascii=False
            )
            db.conn.execute(
                "UPDATE entries SET state='sent', payload=NULL, sent_at=?, outcome=j.value, "
                "last_error=NULL FROM json_each(?) AS j "
                "WHERE entries.seq = CAST(j.key AS INTEGER) AND entries.state='pending'",
                (now, outcomes),
            )
            if meta:
                db.put_meta(meta)
            for entry, _ in mine:
                if entry.attachments:
                    files += [
                        r[0]
                        for r in db.conn.execute(
                            "DELETE FROM attachments WHERE entry_key=? RETURNING file",
                            (entry.key,),
                        )
                    ]
        self._files.discard_names(files)
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
            for seq, token in self._db.conn.execute(
                f"SELECT seq, token FROM leases WHERE seq IN ({marks})", list(tokens)
            )
            if tokens[seq] == token
        }
        self._db.conn.executemany("DELETE FROM leases WHERE seq=?", [(seq,) for seq in held])
        return held

    def release(
        self,
        entries: Sequence[tuple[ClaimedEntry, float]],
        error: str,
        *,
        count_attempt: bool = True,
    ) -> None:
        """Return leased entries to pending, each due again after its own delay (seconds)."""
        db = self._db
        now = db.now()
        with db.guard(), db.write():
            held = self._end_leases([e for e, _ in entries])
            db.conn.executemany(
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
        db = self._db
        with db.guard(), db.write():
            if not self._end_leases([entry]):
                return
            db.conn.execute(
                "UPDATE entries SET state='dead', attempts=attempts+1, last_error=? WHERE seq=?",
                (error[:500], entry.seq),
            )
        log.warning("entry %s dead-lettered: %s", entry.key, error[:200])


def _blob(value: object) -> bytes:
    return value if isinstance(value, bytes) else b""
