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

import math
import random
import threading
from dataclasses import dataclass, field
from typing import Any

BEFORE = ("error", "retry_after", "status")
AFTER = ("reset", "bad_json", "wrong_schema", "huge", "trickle")
MODES = (*BEFORE, *AFTER, "upload_cut")

# Each numeric setting and its bounds (inclusive).
_BOUNDS: dict[str, tuple[float, float]] = {
    "latency_s": (0.0, 60.0),
    "trickle_interval_s": (0.0, 10.0),
    "retry_after_s": (0, 3600),
    "status_code": (400, 599),
    "huge_bytes": (0, 64 * 1024 * 1024),
    "trickle_bytes": (0, 1024 * 1024),
    "upload_cut_offset": (0, 1 << 40),
    "spare": (0, 1_000_000),
}


def _number(value: Any, name: str) -> float:
    # bool is an int to Python, not a number to anyone writing JSON.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number")
    return float(value)


def _mapping(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be an object")
    return value


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
    def from_json(cls, data: Any) -> FaultPlan:
        """A plan from the admin route's JSON; ``ValueError`` names the first bad field.
        Every number is bounded: a negative, infinite or NaN latency would stall or break
        every request after it."""
        if not isinstance(data, dict):
            raise ValueError("a fault plan is a JSON object")
        unknown = set(data) - set(_BOUNDS) - {"rates", "once", "paths"}
        if unknown:
            raise ValueError(f"unknown fault settings {sorted(unknown)}")
        plan = cls()
        for mode, rate in _mapping(data.get("rates", {}), "rates").items():
            value = _number(rate, f"rates.{mode}")
            if mode not in MODES or not 0 <= value <= 1:
                raise ValueError(f"bad fault rate {mode}={rate}")
            plan.rates[mode] = value
        for mode, count in _mapping(data.get("once", {}), "once").items():
            if mode not in MODES or not isinstance(count, int) or not 0 <= count <= 1_000_000:
                raise ValueError(f"bad fault count {mode}={count}")
            plan.once[mode] = int(count)
        for name, (low, high) in _BOUNDS.items():
            if name not in data:
                continue
            value = _number(data[name], name)
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low} and {high}")
            if isinstance(getattr(plan, name), int):
                if value != int(value):
                    raise ValueError(f"{name} must be a whole number")
                setattr(plan, name, int(value))
            else:
                setattr(plan, name, value)
        if "paths" in data:
            paths = data["paths"]
            if not isinstance(paths, list) or not all(
                isinstance(p, str) and p.startswith("/") and len(p) <= 200 for p in paths
            ):
                raise ValueError("paths must be a list of path prefixes")
            plan.paths = tuple(paths)
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
