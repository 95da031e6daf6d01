"""Processes for the crash test: ``writer`` enqueues forever and logs each key only after
``put`` returned; ``sync`` drains forever. Both are killed with SIGKILL by the test."""

from __future__ import annotations

import os
import sys
import time

from offline_queue import Attachment, Outbox
from offline_queue.sync import SyncSettings, SyncWorker
from offline_queue.transport import CentralTransport

KIOSK = "K-CRASH-01"
ID_NUMBER = "440304199003071232"


def writer(db: str, log_path: str) -> None:
    box = Outbox(db, kiosk_id=KIOSK)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    while True:
        with box.transaction() as tx:
            n = tx.next_sequence("crash.writer")
            attachments = (
                (Attachment("photo.jpg", os.urandom(8 * 1024), "image/jpeg"),)
                if n % 10 == 0
                else ()
            )
            key = tx.put(
                "crash.entry",
                {"n": n, "id_number": ID_NUMBER},
                stream=f"s{n % 4}",
                attachments=attachments,
            )
        # Only now is the entry accepted: log it.
        os.write(log_fd, f"{key}\n".encode())
        time.sleep(0.002)  # a busy kiosk, not a benchmark: keeps the final drain short


def sync(db: str, url: str, secret: str) -> None:
    worker = SyncWorker(
        Outbox(db, kiosk_id=KIOSK),
        CentralTransport(url, kiosk_id=KIOSK, secret=secret.encode()),
        settings=SyncSettings(batch_size=25, lease_s=1.0, base_backoff_s=0.05, max_backoff_s=0.2),
    )
    while True:
        worker.drain()
        time.sleep(0.01)


if __name__ == "__main__":
    role, *rest = sys.argv[1:]
    if role == "writer":
        writer(*rest)
    else:
        sync(*rest)
