"""The consumables forecast: how long until a machine's receipt paper runs out, its capture
bin is full or its pickup stock is empty, from its own usage history.

- **What is left**: paper, the roll's capacity (lines, as the kiosk reports it) less the
  lines printed since the roll was changed (a mark: the near-end sensor clearing, or staff
  saying so on the console); once the near-end sensor is on, no more than the lines the
  sensor leaves. The bin, its capacity less the documents captured since it was emptied.
  Stock, the documents central has placed in the machine and not yet handed over.
- **How fast**: the counter's increase over the samples of the last ``window_s`` (7 days),
  divided by the time they span; a counter that went down (a kiosk reset) counts from zero.
  Less than ``MIN_SPAN_S`` of history is no rate at all: the forecast says so rather than
  guess.
- **Warning**: when what is left would last less than the lead time (hours, an admin
  setting), or is gone, or the sensor says near end.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

HOUR = 3600.0
WINDOW_S = 7 * 86_400.0
MIN_SPAN_S = 1800.0  # less history than this gives no rate
NEAR_END_SHARE = 0.1  # of a roll, when the kiosk does not say what its sensor leaves


@dataclass(frozen=True)
class Outlook:
    """One consumable of one machine."""

    consumable: str  # paper | bin | stock
    left: int
    capacity: int | None
    per_hour: float | None  # None: not enough history
    hours_left: float | None  # None: no usage seen, or not enough history
    warn: bool

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        if self.per_hour is not None:
            out["per_hour"] = round(self.per_hour, 3)
        if self.hours_left is not None:
            out["hours_left"] = round(self.hours_left, 2)
        return out


def usage_per_hour(
    samples: Sequence[tuple[float, Mapping[str, Any]]], counter: str
) -> float | None:
    """Units per hour of ``counter`` over ``samples`` (time, counters; oldest first)."""
    points = [(at, int(c[counter])) for at, c in samples if isinstance(c.get(counter), int)]
    if len(points) < 2 or points[-1][0] - points[0][0] < MIN_SPAN_S:
        return None
    used = 0
    for (_, before), (_, after) in itertools.pairwise(points):
        used += after - before if after >= before else after
    return used / ((points[-1][0] - points[0][0]) / HOUR)


def used_since(current: int, mark: int | None) -> int:
    """Units used since the mark (a counter below its mark was reset: all of it is new)."""
    if mark is None:
        return 0
    return current - mark if current >= mark else current


def outlook(
    consumable: str,
    *,
    left: int,
    capacity: int | None,
    per_hour: float | None,
    lead_h: float,
    near_end: bool = False,
) -> Outlook:
    left = max(0, left)
    hours = None
    if per_hour is not None and per_hour > 0:
        hours = left / per_hour
    warn = left <= 0 or near_end or (hours is not None and hours <= lead_h)
    return Outlook(consumable, left, capacity, per_hour, hours, warn)


def paper_outlook(
    usage: Mapping[str, Any],
    samples: Sequence[tuple[float, Mapping[str, Any]]],
    mark: int | None,
    lead_h: float,
) -> Outlook | None:
    """The receipt paper of a machine that reports a roll capacity (else None)."""
    paper = usage.get("paper")
    counters = usage.get("counters")
    if not isinstance(paper, Mapping) or not isinstance(counters, Mapping):
        return None
    capacity = _positive(paper.get("capacity_lines"))
    current = counters.get("receipt_lines")
    if capacity is None or not isinstance(current, int):
        return None
    left = capacity - used_since(current, mark)
    near_end = paper.get("near_end") is True
    if near_end:
        reserve = _positive(paper.get("near_end_lines")) or math.ceil(capacity * NEAR_END_SHARE)
        left = min(left, reserve)
    rate = usage_per_hour(samples, "receipt_lines")
    return outlook(
        "paper", left=left, capacity=capacity, per_hour=rate, lead_h=lead_h, near_end=near_end
    )


def bin_outlook(
    usage: Mapping[str, Any],
    samples: Sequence[tuple[float, Mapping[str, Any]]],
    mark: int | None,
    lead_h: float,
) -> Outlook | None:
    """The capture bin of a machine that reports one (else None)."""
    bin_ = usage.get("bin")
    counters = usage.get("counters")
    if not isinstance(bin_, Mapping) or not isinstance(counters, Mapping):
        return None
    capacity = _positive(bin_.get("capacity"))
    current = counters.get("captures")
    if capacity is None or not isinstance(current, int):
        return None
    rate = usage_per_hour(samples, "captures")
    left = capacity - used_since(current, mark)
    return outlook("bin", left=left, capacity=capacity, per_hour=rate, lead_h=lead_h)


def stock_outlook(
    in_machine: int, samples: Sequence[tuple[float, Mapping[str, Any]]], lead_h: float
) -> Outlook:
    """A pickup machine's documents: each hand-over or capture takes one out."""
    rate = usage_per_hour(samples, "cards_dispensed")
    return outlook("stock", left=in_machine, capacity=None, per_hour=rate, lead_h=lead_h)


@dataclass(frozen=True)
class RoundItem:
    kiosk_id: str
    consumable: str
    left: int
    hours_left: float | None


def round_list(machines: Iterable[tuple[str, str, Sequence[Outlook]]]) -> dict[str, Any]:
    """What to bring on today's round, per hall: ``machines`` as (kiosk id, hall, its
    outlooks). Per hall, the consumables to bring (how many rolls, which bins to empty,
    which machines to load), soonest first."""
    halls: dict[str, list[RoundItem]] = {}
    for kiosk_id, hall, outlooks in machines:
        for o in outlooks:
            if o.warn:
                halls.setdefault(hall, []).append(
                    RoundItem(kiosk_id, o.consumable, o.left, o.hours_left)
                )
    out: dict[str, Any] = {}
    for hall, items in sorted(halls.items()):
        items.sort(key=lambda i: (i.hours_left if i.hours_left is not None else -1, i.kiosk_id))
        out[hall] = {
            "paper_rolls": sum(1 for i in items if i.consumable == "paper"),
            "bins": sum(1 for i in items if i.consumable == "bin"),
            "stock": sum(1 for i in items if i.consumable == "stock"),
            "items": [asdict(i) for i in items],
        }
    return out


def _positive(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None
