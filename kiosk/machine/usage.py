"""What this machine has used of its consumables, for central's fleet console and its
forecast (docs/console.md): cumulative counters that survive restarts, reported in every
heartbeat with the printer's near-end sensor and the capacities they run against.

Counters: ``receipt_lines`` and ``receipts`` (each receipt printed), ``cards_dispensed``
(each document brought to the gate, taken or not) and ``captures`` (each not taken and
captured to the bin). They only grow; central works out what is left since the roll was
changed or the bin emptied, and how fast it goes. The counters are kept in the outbox's meta
row ``usage.counters`` (written from the sync worker's thread when a heartbeat is built,
never from the flow thread); a counter lost in a crash costs the forecast a few lines.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

from offline_queue.errors import QueueError
from offline_queue.outbox import Outbox

log = logging.getLogger(__name__)

META_NAME = "usage.counters"
COUNTERS = ("receipt_lines", "receipts", "cards_dispensed", "captures")
# An 80 mm x 80 m thermal roll at about 4 mm a line (24-dot text plus spacing).
PAPER_ROLL_LINES = 20_000
# Lines left when the near-end sensor trips (its lever sits about 5 m before the core).
PAPER_NEAR_END_LINES = 1_200
# Documents the dispenser's capture bin holds.
CAPTURE_BIN = 30
NEAR_END = "paper near end"  # what the printer's status says while the sensor is on


class UsageCounters:
    """Thread-safe counters: devices' workers add, the sync worker reports."""

    def __init__(
        self,
        *,
        paper_lines: int = PAPER_ROLL_LINES,
        near_end_lines: int = PAPER_NEAR_END_LINES,
        capture_bin: int = CAPTURE_BIN,
    ) -> None:
        self.paper_lines = paper_lines
        self.near_end_lines = near_end_lines
        self.capture_bin = capture_bin
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._lock = threading.Lock()
        self._outbox: Outbox | None = None
        self._dirty = False

    def use_outbox(self, outbox: Outbox) -> None:
        """Keep the counters in ``outbox``, going on from what the last run left there."""
        try:
            raw = outbox.get_meta(META_NAME)
        except QueueError as exc:
            log.warning("usage counters not read: %s", exc)
            raw = None
        stored = _parse(raw)
        with self._lock:
            self._outbox = outbox
            for name in COUNTERS:
                self._counts[name] += stored.get(name, 0)

    def add(self, name: str, n: int = 1) -> None:
        if name not in self._counts or n <= 0:
            return
        with self._lock:
            self._counts[name] += n
            self._dirty = True

    def printed(self, lines: int) -> None:
        """A receipt went out (any thread: the printer's worker)."""
        self.add("receipts")
        self.add("receipt_lines", max(0, lines))

    def pickup_step(self, step: str, document_no: str) -> None:
        """The pickup hand-over's observer: a document at the gate, then taken or captured."""
        if step in ("taken", "captured"):
            self.add("cards_dispensed")
        if step == "captured":
            self.add("captures")

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def report(self, devices: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """The heartbeat's ``usage``: counters, and the consumables this machine has (from
        its devices' snapshot: a printer, a dispenser). Saves the counters if they moved."""
        self._save()
        out: dict[str, Any] = {"counters": self.counts()}
        printer = devices.get("printer")
        if printer is not None:
            out["paper"] = {
                "near_end": NEAR_END in str(printer.get("detail", "")),
                "capacity_lines": self.paper_lines,
                "near_end_lines": self.near_end_lines,
            }
        if devices.get("dispenser") is not None:
            out["bin"] = {"capacity": self.capture_bin}
        return out

    def _save(self) -> None:
        with self._lock:
            outbox, dirty = self._outbox, self._dirty
            text = json.dumps(self._counts, sort_keys=True)
            self._dirty = False
        if outbox is None or not dirty:
            return
        try:
            outbox.set_meta({META_NAME: text})
        except QueueError as exc:
            log.warning("usage counters not saved: %s", exc)
            with self._lock:
                self._dirty = True


def _parse(raw: str | None) -> dict[str, int]:
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if k in COUNTERS and isinstance(v, int) and v >= 0}
