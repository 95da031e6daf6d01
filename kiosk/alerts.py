"""Staff alerts until central has them: kept across a crash or power cut.

An alert (paper out, a citizen asked for help, a document captured) is listed in every
heartbeat until a heartbeat carrying it is answered 200; central stores it once by its id.
The list is also written to the outbox database (``meta`` row ``alerts.pending``), so an
alert raised offline, or just before the kiosk went down, still reaches staff after the
restart. Alerts hold no personal data (no ID or document numbers), so they are not sealed.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import deque
from datetime import datetime
from typing import Any

from offline_queue.errors import QueueError
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

    def use_outbox(self, outbox: Outbox) -> None:
        """Keep the list in ``outbox``; alerts left there by the previous run come first."""
        stored = _load(outbox)
        with self._lock:
            self._outbox = outbox
            raised_before = list(self._alerts)
            self._alerts.clear()
            for alert in stored.get("alerts", []) + raised_before:
                self._append(alert)
            self._dropped += int(stored.get("dropped", 0))
            self._save()

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
            self._save()

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
            self._save()

    def _append(self, alert: dict[str, Any]) -> None:
        if len(self._alerts) == self._alerts.maxlen:
            self._dropped += 1
        self._alerts.append(alert)

    def _save(self) -> None:
        if self._outbox is None:
            return
        value = json.dumps({"alerts": list(self._alerts), "dropped": self._dropped})
        try:
            self._outbox.set_meta({META_NAME: value})
        except QueueError as exc:
            # A full or failing outbox: the alert still goes out with the next heartbeat,
            # it is only not kept across a restart.
            log.warning("staff alerts not saved: %s", exc)


def saved(outbox: Outbox) -> tuple[list[dict[str, Any]], int]:
    """The alerts kept in ``outbox`` and not yet delivered, and how many were dropped
    (staff commands read them without a running kiosk)."""
    stored = _load(outbox)
    return stored.get("alerts", []), int(stored.get("dropped", 0))


def _load(outbox: Outbox) -> dict[str, Any]:
    raw = outbox.get_meta(META_NAME)
    if not raw:
        return {}
    try:
        stored = json.loads(raw)
        alerts = [a for a in stored["alerts"] if isinstance(a, dict) and "id" in a]
        return {"alerts": alerts, "dropped": int(stored.get("dropped", 0))}
    except (ValueError, KeyError, TypeError, AttributeError):
        log.error("saved staff alerts unreadable; starting with none")
        return {}
