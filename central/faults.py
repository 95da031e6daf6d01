"""Misbehaviour on demand, so the kiosk's sync can be tested against a hostile central.

Each mode fires either for the next N requests (``once``: deterministic, for tests) or at a
rate (probability per request, for demos and soak runs). Modes:

- ``error``: answer 503 before doing anything (no Retry-After)
- ``retry_after``: answer 429 with ``Retry-After: retry_after_s`` before doing anything
- ``status``: answer ``status_code`` (e.g. 400) before doing anything
- ``reset``: do the work, then drop the connection without an answer (the answer is lost)
- ``bad_json``: do the work, answer 200 with a body that is not JSON
- ``wrong_schema``: do the work, answer 200 with JSON of the wrong shape
- ``huge``: do the work, answer 200 with ``huge_bytes`` of JSON-looking filler
- ``trickle``: do the work, answer 200 one byte every ``trickle_interval_s``
- ``upload_cut``: read half of a PATCH body (at or past ``upload_cut_offset``), then drop
  the connection; the half chunk is not stored (its checksum cannot be verified)

``latency_s`` delays every request. ``spare`` lets that many requests (of ``paths``, if set)
through untouched first, so that a fault can hit, say, the second batch of a run; every
kiosk request counts, uploads and heartbeats included, so tests narrow it with ``paths``.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

BEFORE = ("error", "retry_after", "status")
AFTER = ("reset", "bad_json", "wrong_schema", "huge", "trickle")
MODES = (*BEFORE, *AFTER, "upload_cut")


@dataclass
class FaultPlan:
    rates: dict[str, float] = field(default_factory=dict)
    once: dict[str, int] = field(default_factory=dict)
    latency_s: float = 0.0
    retry_after_s: int = 2
    status_code: int = 400
    huge_bytes: int = 8 * 1024 * 1024
    trickle_interval_s: float = 0.2
    trickle_bytes: int = 200
    upload_cut_offset: int = 0  # upload_cut fires only on a PATCH at or past this offset
    paths: tuple[str, ...] = ()  # only requests whose path starts with one of these; () = all
    spare: int = 0  # the next N such requests get no fault and no latency

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultPlan:
        plan = cls()
        for mode, rate in dict(data.get("rates", {})).items():
            if mode not in MODES or not 0 <= float(rate) <= 1:
                raise ValueError(f"bad fault rate {mode}={rate}")
            plan.rates[mode] = float(rate)
        for mode, count in dict(data.get("once", {})).items():
            if mode not in MODES or int(count) < 0:
                raise ValueError(f"bad fault count {mode}={count}")
            plan.once[mode] = int(count)
        for name in ("latency_s", "trickle_interval_s"):
            if name in data:
                setattr(plan, name, float(data[name]))
        for name in (
            "retry_after_s",
            "status_code",
            "huge_bytes",
            "trickle_bytes",
            "upload_cut_offset",
            "spare",
        ):
            if name in data:
                setattr(plan, name, int(data[name]))
        if plan.spare < 0:
            raise ValueError(f"bad spare count {plan.spare}")
        if "paths" in data:
            plan.paths = tuple(str(p) for p in data["paths"])
        return plan

    def to_json(self) -> dict[str, Any]:
        return {
            "rates": dict(self.rates),
            "once": dict(self.once),
            "latency_s": self.latency_s,
            "retry_after_s": self.retry_after_s,
            "status_code": self.status_code,
            "huge_bytes": self.huge_bytes,
            "trickle_interval_s": self.trickle_interval_s,
            "trickle_bytes": self.trickle_bytes,
            "upload_cut_offset": self.upload_cut_offset,
            "paths": list(self.paths),
            "spare": self.spare,
        }


class Faults:
    """Thread-safe fault picker shared by the request handlers."""

    def __init__(self, plan: FaultPlan | None = None, seed: int | None = None) -> None:
        self._plan = plan or FaultPlan()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    @property
    def plan(self) -> FaultPlan:
        return self._plan

    def set(self, plan: FaultPlan) -> None:
        with self._lock:
            self._plan = plan

    def spared(self, path: str) -> bool:
        """Whether this request is one of the ``spare`` ones (counts it down); once per
        request, before any ``pick``."""
        with self._lock:
            plan = self._plan
            if plan.spare <= 0 or not self._applies(plan, path):
                return False
            plan.spare -= 1
            return True

    @staticmethod
    def _applies(plan: FaultPlan, path: str) -> bool:
        return not plan.paths or any(path.startswith(p) for p in plan.paths)

    def pick(self, path: str, modes: tuple[str, ...]) -> str | None:
        """The fault (if any) for this request among ``modes``; consumes a ``once`` count."""
        with self._lock:
            plan = self._plan
            if not self._applies(plan, path):
                return None
            for mode in modes:
                if plan.once.get(mode, 0) > 0:
                    plan.once[mode] -= 1
                    return mode
            for mode in modes:
                rate = plan.rates.get(mode, 0.0)
                if rate and self._rng.random() < rate:
                    return mode
        return None
