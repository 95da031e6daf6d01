"""Durable offline outbox, sync worker and central-system client.

Knows nothing of flows, Qt or devices; the kiosk core wires it (see docs/sync.md)."""

from __future__ import annotations

from offline_queue.errors import (
    AttachmentLost,
    CentralError,
    InsecureTransport,
    InvalidEntry,
    KeyFileError,
    OutboxFull,
    OutboxUnavailable,
    QueueError,
    UnknownEntry,
)
from offline_queue.outbox import Attachment, Health, JournalEntry, Outbox, OutboxTransaction

__all__ = [
    "Attachment",
    "AttachmentLost",
    "CentralError",
    "Health",
    "InsecureTransport",
    "InvalidEntry",
    "JournalEntry",
    "KeyFileError",
    "Outbox",
    "OutboxFull",
    "OutboxTransaction",
    "OutboxUnavailable",
    "QueueError",
    "UnknownEntry",
]
