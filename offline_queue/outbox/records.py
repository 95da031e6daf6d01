"""What the outbox hands out and takes in: entry states and plain records (no database)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

PENDING = "pending"
INFLIGHT = "inflight"
SENT = "sent"
DEAD = "dead"
DISCARDED = "discarded"
STATES = (PENDING, INFLIGHT, SENT, DEAD, DISCARDED)

# The reasons the outbox itself gives a dead letter (central's refusals carry its status).
PAYLOAD_DAMAGED = "queue.payload_damaged"
INVALID_STATE = "queue.invalid_state"


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
class DamagedEntry:
    """An entry whose sealed payload failed authentication when it was due: dead-lettered
    in the claim that found it (its stream waits behind it) and never sent. No personal
    data: the key, the kind and when it was accepted are what staff and central need."""

    key: str
    kind: str
    created_at: float
    reason: str


@dataclass(frozen=True)
class Lease:
    """One claim: the entries leased, and those found damaged and dead-lettered instead."""

    entries: list[ClaimedEntry]
    damaged: list[DamagedEntry]


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
    # Rows whose state is none of STATES (damaged on disk) met by the counts: never hidden.
    invalid: int = 0


@dataclass(frozen=True)
class Health:
    """Whether the outbox can take new transactions; the kiosk polls this before a session."""

    accepting: bool
    reason: str
    free_disk_bytes: int
    db_bytes: int


@dataclass(frozen=True)
class QueueAlert:
    """Something about the outbox staff must hear of (no personal data). ``out_of_service``:
    the kiosk must stop taking transactions until staff have acted."""

    code: str
    message: str
    out_of_service: bool = False


@dataclass(frozen=True)
class IntegrityReport:
    """SQLite's check of the database file (``problems`` empty: sound), and the entries whose
    state is not a valid one."""

    problems: tuple[str, ...]
    invalid_states: int

    @property
    def ok(self) -> bool:
        return not self.problems and not self.invalid_states
