"""A clock whose wall and monotonic times tests move apart (an NTP step, a hand on the clock,
a sync worker's intervals)."""

from __future__ import annotations

from datetime import UTC, datetime


class WallClock:
    def __init__(self) -> None:
        self.at = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
        self.mono = 1000.0

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return self.mono
