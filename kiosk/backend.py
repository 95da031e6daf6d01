"""The kiosk's link to the central system: the outbox the flows write to, the sync worker
that delivers it, and a watch that keeps the kiosk honest about both.

- The outbox refusing writes (disk full, database error) takes the kiosk out of service for
  new transactions until there is room again (checked every ``watch_s``).
- Past the offline window (no successful sync) staff are alerted, once per outage.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kiosk.config import KioskConfig
from offline_queue.outbox import Outbox
from offline_queue.sync import SyncWorker

log = logging.getLogger(__name__)

Availability = Callable[[bool, str], None]  # (accepting, reason), any thread
StaffAlert = Callable[[str, str], None]  # (code, message), any thread


@dataclass
class Backend:
    config: KioskConfig
    outbox: Outbox
    sync: SyncWorker | None
    on_availability: Availability
    on_alert: StaffAlert
    watch_s: float = 5.0
    central_url: str = ""  # where look-ups go (the embedded service's URL in demos)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _accepting: bool = True
    _offline_alerted: bool = False
    closers: list[Callable[[], Any]] = field(default_factory=list)

    def start(self) -> None:
        if self.sync is not None:
            self.sync.start()
        self.check()
        self._thread = threading.Thread(target=self._watch, name="backend-watch", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.sync is not None:
            self.sync.stop()
        self.outbox.close()
        for closer in reversed(self.closers):
            closer()

    def check(self) -> None:
        """Re-check room in the outbox and the sync status; report changes."""
        health = self.outbox.health()
        if health.accepting != self._accepting:
            self._accepting = health.accepting
            log.warning(
                "outbox %s: %s", "accepting" if health.accepting else "refusing", health.reason
            )
            self.on_availability(health.accepting, health.reason)
        if self.sync is None:
            return
        status = self.sync.check_offline()
        if status.offline_too_long and not self._offline_alerted:
            self.on_alert(
                "sync.offline",
                f"no successful sync for over {self.config.queue.offline_warn_h:g} h; "
                f"{status.pending} transactions waiting",
            )
        self._offline_alerted = status.offline_too_long

    def _watch(self) -> None:
        while not self._stop.wait(self.watch_s):
            try:
                self.check()
            except Exception:
                log.exception("backend check failed")
