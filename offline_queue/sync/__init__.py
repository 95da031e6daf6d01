"""Delivery of the outbox to the central system (see ``worker`` for the loop).

Modules: ``worker`` (the thread, its loop, heartbeats and alerts), ``pipeline`` (one
delivery attempt: lease, upload, post, settle, backoff), ``wire`` (the batch request and
answer), ``uploads`` (resumable attachment uploads), ``link`` (the link status kept in the
outbox, heartbeats), ``settings``. ``from offline_queue.sync import SyncWorker`` and the
names below are the public interface.
"""

from __future__ import annotations

from offline_queue.sync.link import (
    UNREACHABLE_SINCE,
    SyncStatus,
    central_unreachable_since,
    queue_status,
    refused_status,
    send_heartbeat,
)
from offline_queue.sync.pipeline import SyncResult
from offline_queue.sync.settings import SyncSettings
from offline_queue.sync.worker import (
    ENTRY_DAMAGED,
    AlertListener,
    StatusListener,
    SyncWorker,
    damaged_alert,
)

__all__ = [
    "ENTRY_DAMAGED",
    "UNREACHABLE_SINCE",
    "AlertListener",
    "StatusListener",
    "SyncResult",
    "SyncSettings",
    "SyncStatus",
    "SyncWorker",
    "central_unreachable_since",
    "damaged_alert",
    "queue_status",
    "refused_status",
    "send_heartbeat",
]
