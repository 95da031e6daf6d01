"""The watchdog's health check: pings go to the service manager only while the flow thread
runs its event loop (the UI's timer calls ``tick``) and every device worker still completes
a trivial task. A hung UI or a wedged device worker stops the pings, and systemd restarts
the kiosk after ``WatchdogSec``.

A device worker is one single-thread executor (kiosk.machine.devices); a driver stuck in a
system call blocks it for good while the rest of the kiosk looks alive. ``WorkerProbe``
queues a no-op on it and calls the worker wedged once that no-op has waited longer than
``bound_s`` - which must exceed the longest legitimate device step, since the probe queues
behind it. Checking never blocks the flow thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field

from kiosk.core.clock import Clock
from kiosk.machine.devices import DeviceHub
from kiosk.machine.sdnotify import Notifier

log = logging.getLogger(__name__)


def _nothing() -> None:
    return None


@dataclass
class WorkerProbe:
    """Keeps one no-op queued on ``executor`` and says whether it is overdue."""

    name: str
    executor: Executor
    bound_s: float
    clock: Clock
    _pending: Future[None] | None = field(default=None, init=False)
    _queued_at: float = field(default=0.0, init=False)

    def check(self) -> str | None:
        """None while healthy, else why not. Flow thread; never waits."""
        now = self.clock.monotonic()
        pending = self._pending
        if pending is not None and not pending.done():
            waited = now - self._queued_at
            if waited > self.bound_s:
                return f"{self.name} worker wedged: a no-op has waited {waited:.0f} s"
            return None
        try:
            self._pending = self.executor.submit(_nothing)
        except RuntimeError:  # shut down: the worker is gone
            return f"{self.name} worker stopped"
        self._queued_at = now
        return None


def device_probes(hub: DeviceHub, bound_s: float, clock: Clock) -> list[WorkerProbe]:
    """A probe for the worker of every configured device."""
    return [WorkerProbe(kind, slot.executor, bound_s, clock) for kind, slot in hub.slots.items()]


class Watchdog:
    """Readiness and liveness for the service manager. ``tick`` runs on the flow thread's
    event loop every ``interval_s``; without a manager (no notifier) it only checks."""

    def __init__(
        self,
        notifier: Notifier | None,
        probes: Sequence[WorkerProbe] = (),
        *,
        on_unhealthy: Callable[[str], None] | None = None,
    ) -> None:
        self.notifier = notifier
        self.probes = list(probes)
        self.on_unhealthy = on_unhealthy
        self.pings = 0
        self.withheld = 0
        self.reason: str | None = None

    @property
    def interval_s(self) -> float | None:
        """How often to tick: half of ``WatchdogSec`` (systemd's advice), None without it."""
        watchdog_s = self.notifier.watchdog_s if self.notifier else None
        return watchdog_s / 2 if watchdog_s else None

    def check(self) -> str | None:
        """Why the kiosk is not healthy (the first wedged worker), or None."""
        reasons = [r for r in (probe.check() for probe in self.probes) if r is not None]
        return reasons[0] if reasons else None

    def tick(self) -> bool:
        """One beat of the flow thread: ping if every worker is healthy. Returns whether a
        ping went out."""
        reason = self.check()
        if reason != self.reason:
            self.reason = reason
            if reason is None:
                log.warning("device workers healthy again: watchdog pings resume")
            else:
                log.error("%s: watchdog pings withheld, the service manager will restart", reason)
                if self.notifier is not None:
                    self.notifier.status(f"unhealthy: {reason}")
                if self.on_unhealthy is not None:
                    self.on_unhealthy(reason)
        if reason is not None:
            self.withheld += 1
            return False
        if self.notifier is not None and self.notifier.watchdog_s:
            self.notifier.watchdog()
            self.pings += 1
            return True
        return False

    def ready(self, status: str) -> None:
        if self.notifier is not None:
            self.notifier.ready(status)

    def stopping(self, status: str = "") -> None:
        if self.notifier is not None:
            self.notifier.stopping(status)
