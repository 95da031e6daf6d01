"""The kiosk's link to the central system: the outbox the flows write to, the sync worker
that delivers it, and a watch that keeps the kiosk honest about both.

- The outbox refusing writes (disk full, database error) takes the kiosk out of service for
  new transactions until there is room again (checked every ``watch_s``).
- Past the offline window (no successful sync) staff are alerted, once per outage, and the
  header shows it for as long as it lasts (``on_offline``): the alert itself only reaches
  central once the network is back.
- While the sync worker finds central not answering, ``on_central_link(False)``; once it
  answers again, ``on_central_link(True)`` (services that need central pause meanwhile).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.config import KioskConfig
from offline_queue.auth import load_or_create_secret
from offline_queue.central_client import CentralClient
from offline_queue.outbox import Outbox, QueueAlert
from offline_queue.sync import SyncSettings, SyncWorker
from offline_queue.transport import CentralTransport

log = logging.getLogger(__name__)

# (accepting, reason for the log, out-of-service text key), any thread
Availability = Callable[[bool, str, str], None]
StaffAlert = Callable[[str, str], None]  # (code, message), any thread
OfflineFlag = Callable[[bool], None]  # past the offline window or not, any thread
LinkFlag = Callable[[bool], None]  # central answering or not, any thread


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
    _refused: bool = False  # the outbox failed in use: out of service until a restart
    closers: list[Callable[[], Any]] = field(default_factory=list)
    on_offline: OfflineFlag | None = None
    on_central_link: LinkFlag | None = None
    _link_up: bool | None = None
    # Periodic work of other parts (settling payment orders), run after each check.
    tasks: list[Callable[[], None]] = field(default_factory=list)

    def start(self) -> None:
        # What opening the outbox repaired or found (a damaged entry set aside) first.
        for opened in self.outbox.open_alerts:
            self._queue_alert(opened)
        if self.sync is not None:
            self.sync.add_alert_listener(self._queue_alert)
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

    def _queue_alert(self, alert: QueueAlert) -> None:
        """Any thread: the outbox or the sync worker has something for staff. One that
        takes the kiosk out of service (the outbox failing while in use) keeps it there until
        a restart: staff recover the file first (``kiosk queue recover``)."""
        self.on_alert(alert.code, alert.message)
        if alert.out_of_service and not self._refused:
            self._refused = True
            self._accepting = False
            log.error("outbox refused while in use: %s", alert.message)
            self.on_availability(False, alert.message, "oos.queue_refused")

    def check(self) -> None:
        """Re-check room in the outbox and the sync status; report changes."""
        if self._refused:
            self._check_sync()
            return
        health = self.outbox.health()
        if health.accepting != self._accepting:
            self._accepting = health.accepting
            log.warning(
                "outbox %s: %s", "accepting" if health.accepting else "refusing", health.reason
            )
            self.on_availability(health.accepting, health.reason, "oos.queue")
        self._check_sync()

    def _check_sync(self) -> None:
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
        if self.on_offline is not None:
            self.on_offline(status.offline_too_long)
        up = status.central_unreachable_since is None
        if up != self._link_up and self.on_central_link is not None:
            self.on_central_link(up)
        self._link_up = up

    def _watch(self) -> None:
        while not self._stop.wait(self.watch_s):
            for work in (self.check, *self.tasks):
                try:
                    work()
                except Exception:
                    log.exception("backend %s failed", getattr(work, "__name__", "task"))


# --- building the parts from a machine configuration ---------------------------------------


def data_path(config: KioskConfig, name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else config.data_dir / path


def open_outbox(config: KioskConfig) -> Outbox:
    """The kiosk's outbox as configured (creates data_dir and the key file if needed)."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    q = config.queue
    return Outbox(
        data_path(config, q.db),
        kiosk_id=config.kiosk.id,
        key_file=data_path(config, q.key_file),
        audit_days=q.audit_days,
        max_db_bytes=q.max_db_mb * 1024 * 1024 or None,
        min_free_disk_bytes=q.min_free_mb * 1024 * 1024,
    )


def sync_settings(config: KioskConfig) -> SyncSettings:
    q = config.queue
    return SyncSettings(
        batch_size=q.batch_size,
        lease_s=q.lease_s,
        max_backoff_s=q.max_backoff_s,
        offline_window_s=q.offline_warn_h * 3600.0,
        heartbeat_s=config.central.heartbeat_s,
        probe_s=config.central.probe_s,
    )


def open_transport(config: KioskConfig, central_url: str | None = None) -> CentralTransport:
    """A signed HTTP session to central as configured (one per thread that uses it)."""
    c = config.central
    secret_file = data_path(config, c.secret_file or "central.secret")
    return CentralTransport(
        central_url or c.url,
        kiosk_id=config.kiosk.id,
        secret=load_or_create_secret(secret_file),
        ca_bundle=c.ca_bundle or None,
        timeout_s=c.timeout_s,
        max_response_bytes=c.max_response_kb * 1024,
    )


def open_central_client(config: KioskConfig, central_url: str | None = None) -> CentralClient:
    """Typed look-ups over a new signed session (one per worker that uses it)."""
    return CentralClient(open_transport(config, central_url), timeout_s=config.central.timeout_s)


def open_sync_worker(config: KioskConfig, central_url: str | None = None) -> SyncWorker:
    """A sync worker with its own outbox connection and HTTP session (call ``start()``)."""
    transport = open_transport(config, central_url)
    return SyncWorker(open_outbox(config), transport, settings=sync_settings(config))
