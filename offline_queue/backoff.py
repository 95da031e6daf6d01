"""Retry delays: full jitter (AWS) with a cap, and Retry-After parsing."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def full_jitter(attempt: int, *, base_s: float, cap_s: float, rng: random.Random) -> float:
    """``random(0, min(cap, base * 2**attempt))`` for the attempt-th retry (0-based)."""
    ceiling = min(cap_s, base_s * 2.0 ** min(attempt, 60))
    return rng.uniform(0.0, ceiling)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # isdigit alone accepts "²"
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
