"""Staff alerts until central has them: kept across a crash or power cut.

An alert (paper out, a citizen asked for help, a document captured) is listed in every
heartbeat until a heartbeat carrying it is answered 200; central stores it once by its id.
The list is also written to the outbox database (``meta`` row ``alerts.pending``), so an
alert raised offline, or just before the kiosk went down, still reaches staff after the
restart. Alerts hold no personal data (no ID or document numbers), so they are not sealed.

The list is written on a thread of its own, a moment after each change: an alert is raised
on the flow (GUI) thread, which must never wait for the database (another writer's turn, a
slow fsync).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from offline_queue.outbox import Outbox

log = logging.getLogger(__name__)

META_NAME = "alerts.pending"
KEPT = 200  # the newest this many; older ones give way during a long time offline


class StaffAlerts:
    """The undelivered alerts; thread-safe (the flow thread adds, the sync worker confirms)."""

    def __init__(self) -> None:
        self._alerts: deque[dict[str, Any]] = deque(maxlen=KEPT)
        self._dropped = 0
        self._lock = threading.Lock()
        self._outbox: Outbox | None = None
        self._closed = False
        # One thread, so saves run in order; each writes the list as it is by then.
        self._saver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alerts-save")
        # Told (on the raising thread) after each new alert: the sync worker sends a
        # heartbeat at once instead of at its regular interval.
        self.on_added: Callable[[], None] | None = None

    def use_outbox(self, outbox: Outbox) -> None:
        """Keep the list in ``outbox``; alerts left there by the previous run come first."""
        stored, dropped = saved(outbox)
        with self._lock:
            self._outbox = outbox
            raised_before = list(self._alerts)
            self._alerts.clear()
            for alert in stored + raised_before:
                self._append(alert)
            self._dropped += dropped
            self._changed()

    def add(self, code: str, message: str, at: datetime) -> None:
        alert = {
            # Central stores each alert once by this id, however often it is resent.
            "id": uuid.uuid4().hex,
            "code": code,
            "message": message,
            "at": at.isoformat(timespec="seconds"),
        }
        with self._lock:
            self._append(alert)
            self._changed()
        if self.on_added is not None:
            self.on_added()

    def raise_alert(self, code: str, message: str, at: datetime) -> None:
        """Any thread: an alert raised outside the flows (a recovery at start-up, an order
        settled in the background), logged as the flows' are."""
        log.warning("staff alert %s: %s", code, message)
        self.add(code, message, at)

    def pending(self) -> tuple[list[dict[str, Any]], int]:
        """(alerts not yet delivered, how many had to be dropped)."""
        with self._lock:
            return list(self._alerts), self._dropped

    def delivered(self, alerts: list[dict[str, Any]], dropped: int) -> None:
        """Central stored a heartbeat with these alerts and this dropped count."""
        ids = {a.get("id") for a in alerts}
        with self._lock:
            kept = [a for a in self._alerts if a["id"] not in ids]
            self._alerts.clear()
            self._alerts.extend(kept)
            self._dropped = max(0, self._dropped - dropped)
            self._changed()

    def flush(self, timeout_s: float = 10.0) -> None:
        """Wait until every change so far is written (or could not be)."""
        with self._lock:
            if self._outbox is None or self._closed:
                return
            done = self._saver.submit(lambda: None)
        done.result(timeout_s)

    def close(self) -> None:
        """Write what is left; call before the outbox closes. Later alerts are still listed
        (and logged), not written."""
        with self._lock:
            self._closed = True
        self._saver.shutdown(wait=True)  # the saves already asked for still run
        with self._lock:
            self._outbox = None

    def _append(self, alert: dict[str, Any]) -> None:
        if len(self._alerts) == self._alerts.maxlen:
            self._dropped += 1
        self._alerts.append(alert)

    def _changed(self) -> None:
        """(Under ``_lock``.) Have the list written."""
        if self._outbox is not None and not self._closed:
            self._saver.submit(self._save)

    def _save(self) -> None:
        with self._lock:
            outbox = self._outbox
            value = json.dumps({"alerts": list(self._alerts), "dropped": self._dropped})
        if outbox is None:
            return
        try:
            outbox.set_meta({META_NAME: value})
        except Exception as exc:  # full, failing or already closed: nothing to retry here
            # The alert still goes out with the next heartbeat; it is only not kept across
            # a restart.
            log.warning("staff alerts not saved: %s", exc)


def saved(outbox: Outbox) -> tuple[list[dict[str, Any]], int]:
    """The alerts kept in ``outbox`` and not yet delivered, and how many were dropped
    (staff commands read them without a running kiosk)."""
    raw = outbox.get_meta(META_NAME)
    if not raw:
        return [], 0
    try:
        stored = json.loads(raw)
        alerts = [a for a in stored["alerts"] if isinstance(a, dict) and "id" in a]
        return alerts, int(stored.get("dropped", 0))
    except (ValueError, KeyError, TypeError, AttributeError):
        log.error("saved staff alerts unreadable; starting with none")
        return [], 0
