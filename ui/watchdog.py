"""The watchdog's beat on the GUI thread: a timer on Qt's event loop calls the core's
``tick`` (kiosk.supervision / kiosk.machine.watchdog). While the loop is frozen - a slot that
never returns, a deadlock on the GUI thread - the timer cannot fire, no ping goes out, and the
service manager restarts the kiosk after ``WatchdogSec``."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer


class Beat:
    """Calls ``tick`` every ``interval_s`` on the event loop of ``parent``'s thread."""

    def __init__(self, parent: QObject, tick: Callable[[], object], interval_s: float) -> None:
        self.timer = QTimer(parent)
        # Precise: a coarse timer may fire 5 % late, and the interval is already half the
        # watchdog's; the loop being busy is what may delay it, and that is what is watched.
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(max(1, round(interval_s * 1000)))
        self.timer.timeout.connect(tick)
        tick()  # the first beat at once: a watchdog's clock started with the process
        self.timer.start()

    @property
    def interval_ms(self) -> int:
        return self.timer.interval()

    def stop(self) -> None:
        self.timer.stop()
