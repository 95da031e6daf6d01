"""Durable offline outbox, sync worker and central-system client.

Knows nothing of flows, Qt or devices; the kiosk core wires it (see docs/sync.md)."""

from __future__ import annotations

from offline_queue.errors import (
    AttachmentLost,
    CentralError,
    InsecureTransport,
    InvalidEntry,
    KeyFileError,
    KeyMissing,
    OutboxDamaged,
    OutboxFull,
    OutboxRefused,
    OutboxUnavailable,
    QueueError,
    UnknownEntry,
)
from offline_queue.outbox import (
    Attachment,
    DamagedEntry,
    Health,
    JournalEntry,
    Outbox,
    OutboxTransaction,
    QueueAlert,
)

__all__ = [
    "Attachment",
    "AttachmentLost",
    "CentralError",
    "DamagedEntry",
    "Health",
    "InsecureTransport",
    "InvalidEntry",
    "JournalEntry",
    "KeyFileError",
    "KeyMissing",
    "Outbox",
    "OutboxDamaged",
    "OutboxFull",
    "OutboxRefused",
    "OutboxTransaction",
    "OutboxUnavailable",
    "QueueAlert",
    "QueueError",
    "UnknownEntry",
]
