"""Time as a seam: the core never reads the system clock or sleeps directly.

The app injects ``SystemClock`` and a Qt-backed scheduler; tests and the scripted demo inject
``ManualClock`` whose ``advance`` fires due timers deterministically.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def now(self) -> datetime: ...


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    """Runs callbacks later on the thread that owns the flows."""

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> TimerHandle: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)


class _ManualTimer:
    def __init__(self, clock: ManualClock) -> None:
        self.cancelled = False
        self._clock = clock

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            self._clock._cancelled()


class ManualClock:
    """A clock and scheduler that only move when told to (tests, scripted demo)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._mono = 1000.0
        self._wall = start or datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
        self._queue: list[tuple[float, int, _ManualTimer, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._cancelled_count = 0

    def monotonic(self) -> float:
        return self._mono

    def now(self) -> datetime:
        return self._wall

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> TimerHandle:
        timer = _ManualTimer(self)
        with self._lock:
            heapq.heappush(self._queue, (self._mono + delay_s, next(self._seq), timer, callback))
        return timer

    def _cancelled(self) -> None:
        """A timer was cancelled: once they are most of the queue, drop them (a citizen who
        keeps touching restarts the idle timer every time; a long run must not keep them)."""
        with self._lock:
            self._cancelled_count += 1
            if self._cancelled_count > 64 and self._cancelled_count * 2 > len(self._queue):
                self._queue = [entry for entry in self._queue if not entry[2].cancelled]
                heapq.heapify(self._queue)
                self._cancelled_count = 0

    def pending(self) -> int:
        return sum(1 for _, _, t, _ in self._queue if not t.cancelled)

    def advance(self, seconds: float) -> None:
        """Move time forward, firing every timer that falls due, in order."""
        end = self._mono + seconds
        while True:
            with self._lock:
                if not self._queue or self._queue[0][0] > end:
                    break
                due, _, timer, callback = heapq.heappop(self._queue)
            self._set(due)
            if not timer.cancelled:
                callback()
        self._set(end)

    def _set(self, mono: float) -> None:
        if mono > self._mono:
            self._wall += timedelta(seconds=mono - self._mono)
            self._mono = mono
