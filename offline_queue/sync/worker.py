"""The sync worker: delivers outbox entries to the central system, in batches, at least once.

Runs on its own thread with its own SQLite connection (its own ``Outbox``) and its own HTTP
session. ``sync_once`` is one delivery attempt (``pipeline``) and can be driven step by step
in tests with an injected clock and RNG; ``start`` runs it in a loop with the periodic work:
the offline check, heartbeats (``link``) and the audit purge.

What the kiosk must hear of goes to the alert listeners (``add_alert_listener``), on the
worker thread: an entry found damaged and dead-lettered (``queue.entry_damaged``), and an
outbox that cannot be read any more (``OutboxRefused``'s code, ``out_of_service``).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from offline_queue.clock import Clock, SystemClock
from offline_queue.errors import CentralError, OutboxRefused, QueueError
from offline_queue.outbox import AttachmentRef, DamagedEntry, Outbox, QueueAlert
from offline_queue.sync.link import (
    LinkLog,
    SyncStatus,
    queue_status,
    refused_status,
    send_heartbeat,
)
from offline_queue.sync.pipeline import Pipeline, SyncResult
from offline_queue.sync.settings import SyncSettings
from offline_queue.sync.wire import batch_body, parse_results
from offline_queue.transport import CentralTransport

log = logging.getLogger(__name__)

StatusListener = Callable[[SyncStatus], None]
AlertListener = Callable[[QueueAlert], None]

ENTRY_DAMAGED = "queue.entry_damaged"


def damaged_alert(entry: DamagedEntry) -> QueueAlert:
    """The staff alert for an entry dead-lettered as damaged (key and kind only)."""
    accepted = datetime.fromtimestamp(entry.created_at, UTC).strftime("%Y-%m-%d %H:%M")
    return QueueAlert(
        ENTRY_DAMAGED,
        f"outbox entry {entry.key} ({entry.kind}, accepted {accepted} UTC) is damaged and "
        "was not sent; later entries of its stream wait behind it. Discard it (kiosk queue "
        "discard KEY) and report the key to central.",
    )


class SyncWorker:
    """Delivers one outbox to one central system. See the module docstring."""

    # The wire format, where tests have always found it.
    _parse_results = staticmethod(parse_results)
    _batch_body = staticmethod(batch_body)

    def __init__(
        self,
        outbox: Outbox,
        transport: CentralTransport,
        *,
        settings: SyncSettings | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.outbox = outbox
        self.transport = transport
        self.settings = settings or SyncSettings()
        self.clock: Clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self._link = LinkLog(outbox, self.clock)
        self._pipeline = Pipeline(
            outbox, transport, self.settings, clock=self.clock, rng=self.rng, link=self._link
        )
        self._listeners: list[StatusListener] = []
        self._alert_listeners: list[AlertListener] = []
        self._offline_flag: bool | None = None
        self._outbox_fault: str | None = None  # the code of the fault reported, until cleared
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._last_heartbeat = -1e18
        self._heartbeat_due = False
        # What the kiosk adds to each heartbeat (device status, staff alerts); called on the
        # worker thread, so it must be thread-safe and hold no personal data.
        self.heartbeat_extra: Callable[[], dict[str, Any]] | None = None
        # Told, with what ``heartbeat_extra`` gave, once central has stored it: staff alerts
        # leave the kiosk's list only then, so those raised offline reach central later.
        self.heartbeat_delivered: Callable[[dict[str, Any]], None] | None = None
        # Told central's answer to each stored heartbeat (its remote commands), after
        # ``heartbeat_delivered``; on the worker thread.
        self.heartbeat_answer: Callable[[dict[str, Any]], None] | None = None
        self._last_purge = -1e18
        self._last_status = -1e18

    @property
    def _not_before(self) -> float:
        """Monotonic time before which no attempt is made (backoff); tests reset it."""
        return self._pipeline.not_before

    @_not_before.setter
    def _not_before(self, value: float) -> None:
        self._pipeline.not_before = value

    # ---------------------------------------------------------------- status
    def add_listener(self, listener: StatusListener) -> None:
        """Called (on the worker thread) whenever ``offline_too_long`` changes."""
        self._listeners.append(listener)

    def add_alert_listener(self, listener: AlertListener) -> None:
        """Called (on the thread that syncs) with each ``QueueAlert`` for staff: an entry
        found damaged, or the outbox failing (``out_of_service``: stop taking
        transactions)."""
        self._alert_listeners.append(listener)

    def status(self) -> SyncStatus:
        return queue_status(self.outbox, self.clock, self.settings.offline_window_s)

    def check_offline(self) -> SyncStatus:
        """Recompute the status and tell listeners if the offline warning changed."""
        status = self.status()
        if status.offline_too_long != self._offline_flag:
            if status.offline_too_long:
                log.warning("no contact with central for longer than the offline window")
            elif self._offline_flag:
                log.info("contact with central restored")
            self._offline_flag = status.offline_too_long
            for listener in list(self._listeners):
                try:
                    listener(status)
                except Exception:
                    log.exception("status listener failed")
        return status

    def _alert(self, alert: QueueAlert) -> None:
        for listener in list(self._alert_listeners):
            try:
                listener(alert)
            except Exception:
                log.exception("alert listener failed")

    # ----------------------------------------------------------- one attempt
    def sync_once(self) -> SyncResult:
        """Deliver one batch; while a backlog lasts (full batches), up to
        ``pipeline_batches`` of them, each leased and prepared while the one before is in
        flight. Never raises for central failures: they are recorded on the entries and in
        the status. Raises ``QueueError`` if the outbox fails (``OutboxRefused`` if it is
        damaged: the listeners hear of it once)."""
        try:
            result = self._pipeline.run(lambda: self._stop.is_set() or self._heartbeat_due)
        except OutboxRefused as exc:
            if self._outbox_fault != exc.code:
                self._outbox_fault = exc.code
                log.error("sync worker: %s", exc)
                self._alert(QueueAlert(exc.code, str(exc), out_of_service=True))
            raise
        self._outbox_fault = None
        for entry in result.damaged:
            self._alert(damaged_alert(entry))
        return result

    def upload(self, ref: AttachmentRef) -> str:
        """Upload one attachment resumably; returns the upload id (see ``uploads``)."""
        return self._pipeline.uploads.upload(ref)

    # -------------------------------------------------------------- heartbeat
    def heartbeat(self, extra: dict[str, Any] | None = None) -> bool:
        """Report device status and queue counts (no personal data); True once central
        stored it (then ``heartbeat_delivered`` hears of ``extra``). An outbox that cannot be
        read is reported as refused, so the kiosk's alerts still reach central."""
        try:
            status = self.status().as_json()
        except QueueError as exc:
            status = refused_status(exc)
        try:
            answer = send_heartbeat(self.transport, status, extra)
        except CentralError as exc:
            self._record(self._link.failed, f"{exc.code}: {exc}", exc)
            return False
        self._record(self._link.contact, False, answered_ok=True)
        if extra is not None and self.heartbeat_delivered is not None:
            self.heartbeat_delivered(extra)
        if self.heartbeat_answer is not None:
            self.heartbeat_answer(answer)
        return True

    def _record(self, write: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        """Link records are worth keeping, not worth a heartbeat: a failing outbox only
        loses them."""
        try:
            write(*args, **kwargs)
        except QueueError as exc:
            log.warning("link status not recorded: %s", exc)

    # ------------------------------------------------------------- the loop
    def drain(
        self, *, max_seconds: float | None = None, sleep: Callable[[float], None] | None = None
    ) -> int:
        """Sync until no deliverable entry is left (dead entries stay); returns how many were
        delivered. Waits out backoff with ``sleep`` (real sleeping by default)."""
        pause = sleep or self._stop.wait
        start = self.clock.monotonic()
        delivered = 0
        while not self._stop.is_set():
            if max_seconds is not None and self.clock.monotonic() - start > max_seconds:
                break
            result = self.sync_once()
            delivered += result.delivered
            if result.claimed == 0 and self.outbox.waiting() == 0:
                break
            if result.error or (result.wait_s > 0 and result.claimed == 0):
                # Nothing due yet (backoff, a lease held by a dead process): poll briefly.
                pause(min(max(result.wait_s, 0.02), 0.1 if result.claimed == 0 else 5.0))
        return delivered

    def start(self) -> None:
        """Run the loop on a background thread until ``stop``."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="outbox-sync", daemon=True)
        self._thread.start()

    def heartbeat_soon(self) -> None:
        """Send a heartbeat at the loop's next turn, not at the regular interval: a staff
        alert was raised (a citizen asked for help). Any thread."""
        self._heartbeat_due = True
        self._wake.set()

    def wake(self) -> None:
        """Tell the worker new entries wait (call after a put; any thread)."""
        self._wake.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                return  # still in a request: it ends within the transport's timeouts
            self._thread = None
        self._pipeline.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self._turn()
            if wait > 0:
                # A wake() shortens idle polls, not the linger: that would defeat batching.
                if wait == self.settings.linger_s:
                    self._stop.wait(wait)
                else:
                    self._wake.wait(min(wait, self.settings.idle_poll_s * 5))
                self._wake.clear()

    def _turn(self) -> float:
        """One turn of the loop: an attempt, then the periodic work; the wait until the next."""
        wait = self.settings.idle_poll_s
        try:
            result = self.sync_once()
            if result.error or not result.claimed:
                wait = result.wait_s
            elif result.last_batch < self._pipeline.batch_limit:
                wait = self.settings.linger_s
            else:
                wait = 0.0
        except OutboxRefused:
            # Reported once by sync_once; the heartbeats below still carry the kiosk's alerts.
            wait = self.settings.idle_poll_s * 5
        except QueueError as exc:
            log.error("sync worker: %s", exc)
        except Exception:
            log.exception("sync worker failed; continuing")
        try:
            self.housekeeping()
        except Exception:
            log.exception("sync housekeeping failed; continuing")
        return wait

    def _heartbeat_time(self, since_last_s: float) -> bool:
        if since_last_s >= self.settings.heartbeat_s:
            return True
        if since_last_s < self.settings.probe_s:
            return False
        try:
            return self._link.unreachable()
        except QueueError:
            return False

    def housekeeping(self) -> None:
        """The loop's periodic work after each turn: the offline check, a heartbeat when due
        (sooner while central is not answering), the audit purge. Tests drive it directly.
        An outbox that fails skips what needs it; the heartbeat goes all the same."""
        mono = self.clock.monotonic()
        if mono - self._last_status >= 1.0:
            # Counting pending entries is not free: once a second is plenty for a warning
            # measured in hours.
            self._last_status = mono
            self._outbox_work(self.check_offline)
        if self._heartbeat_due or self._heartbeat_time(mono - self._last_heartbeat):
            self._heartbeat_due = False
            self._last_heartbeat = mono
            self.heartbeat(self.heartbeat_extra() if self.heartbeat_extra else None)
        if mono - self._last_purge >= self.settings.purge_every_s:
            self._last_purge = mono
            self._outbox_work(self._purge)

    def _purge(self) -> None:
        n = self.outbox.purge_audit()
        if n:
            log.info("purged %d audit rows past retention", n)

    def _outbox_work(self, work: Callable[[], object]) -> None:
        try:
            work()
        except QueueError as exc:
            log.error("sync housekeeping: %s", exc)
