"""The kiosk's durable outbox (see ``box`` for its guarantees and where each part lives).

``from offline_queue.outbox import Outbox`` and the records below are its public interface.
"""

from __future__ import annotations

from offline_queue.outbox.box import Outbox
from offline_queue.outbox.records import (
    DEAD,
    DISCARDED,
    INFLIGHT,
    INVALID_STATE,
    PAYLOAD_DAMAGED,
    PENDING,
    SENT,
    STATES,
    Attachment,
    AttachmentRef,
    ClaimedEntry,
    Counts,
    DamagedEntry,
    EntryInfo,
    Health,
    IntegrityReport,
    JournalEntry,
    Lease,
    QueueAlert,
)
from offline_queue.outbox.schema import SCHEMA_VERSION, stored_schema
from offline_queue.outbox.writing import OutboxTransaction

__all__ = [
    "DEAD",
    "DISCARDED",
    "INFLIGHT",
    "INVALID_STATE",
    "PAYLOAD_DAMAGED",
    "PENDING",
    "SCHEMA_VERSION",
    "SENT",
    "STATES",
    "Attachment",
    "AttachmentRef",
    "ClaimedEntry",
    "Counts",
    "DamagedEntry",
    "EntryInfo",
    "Health",
    "IntegrityReport",
    "JournalEntry",
    "Lease",
    "Outbox",
    "OutboxTransaction",
    "QueueAlert",
    "stored_schema",
]
