"""Attachment files: sealed with AES-GCM, one file each in ``<db>.attachments/``, written and
made durable before the row that references them commits, removed after the row that
released them did (a crash in between leaves an orphan, removed at the next start)."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Collection, Sequence
from pathlib import Path

from offline_queue.crypto import Sealer, fsync_dir
from offline_queue.errors import AttachmentLost
from offline_queue.outbox.records import AttachmentRef

log = logging.getLogger(__name__)


def sealed_context(entry_key: str, position: int) -> str:
    """The associated data of an attachment: its file cannot stand in for another one."""
    return f"{entry_key}/{position}"


class AttachmentFiles:
    def __init__(self, directory: Path, sealer: Sealer) -> None:
        self.directory = directory
        self._sealer = sealer

    def make_dir(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def new_path(self) -> Path:
        return self.directory / (uuid.uuid4().hex + ".att")

    def write(self, target: Path, entry_key: str, position: int, data: bytes) -> None:
        """Seal ``data`` into a new file and fsync it (the directory: ``sync_dir``)."""
        sealed = self._sealer.seal(data, sealed_context(entry_key, position))
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(sealed)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    def sync_dir(self) -> None:
        fsync_dir(self.directory)

    def exists(self, ref: AttachmentRef) -> bool:
        return (self.directory / ref.file).is_file()

    def read(self, ref: AttachmentRef) -> bytes:
        """The decrypted attachment; ``AttachmentLost`` if its file is gone or damaged."""
        try:
            blob = (self.directory / ref.file).read_bytes()
            return self._sealer.open(blob, sealed_context(ref.entry_key, ref.position))
        except (OSError, ValueError) as exc:
            raise AttachmentLost(f"attachment {ref.position} of {ref.entry_key}: {exc}") from exc

    def discard(self, files: Sequence[Path]) -> None:
        for f in files:
            try:
                f.unlink(missing_ok=True)
            except OSError:
                log.warning("could not remove %s (removed at next start)", f.name)

    def discard_names(self, names: Sequence[str]) -> None:
        self.discard([self.directory / n for n in names])

    def sweep_orphans(self, known: Collection[str], grace_s: float) -> None:
        """Remove files no row references (written before a commit that never happened, or
        left after an acknowledgement). Another process may be between writing a file and
        committing its row: only files older than ``grace_s`` are orphans."""
        cutoff = time.time() - grace_s
        for item in self.directory.iterdir():
            try:
                if item.name not in known and item.stat().st_mtime < cutoff:
                    item.unlink(missing_ok=True)
            except OSError:
                pass
