"""The sync worker's settings (the kiosk fills them from its configuration)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SyncSettings:
    # Large batches: per request, the kiosk pays two commits and central one, whatever the
    # size; attachments are capped separately (below) so a batch uploads within its lease.
    batch_size: int = 500
    lease_s: float = 60.0
    base_backoff_s: float = 1.0
    max_backoff_s: float = 300.0
    max_retry_after_s: float = 3600.0
    offline_window_s: float = 24 * 3600.0
    idle_poll_s: float = 2.0
    heartbeat_s: float = 300.0
    # While central is not answering, a heartbeat this often finds out when it is back (the
    # kiosk pauses the services that need central until then).
    probe_s: float = 15.0
    upload_chunk_bytes: int = 256 * 1024
    # Attachment bytes per batch (the first entry always goes): at 1 Mbit/s, 4 MiB uploads in
    # about half of the default 60 s lease.
    max_batch_attachment_bytes: int = 4 * 1024 * 1024
    purge_every_s: float = 3600.0
    # After a short batch, wait this long so the next one fills up (fewer commits that
    # compete with the kiosk's own puts for the disk).
    linger_s: float = 0.05
    # While full batches keep coming, a turn delivers up to this many, the next one leased
    # and prepared while the one before is in flight (1: one batch per turn, no overlap).
    pipeline_batches: int = 20
