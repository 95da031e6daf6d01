"""Qt implementations of the core's seams: a scheduler on QTimer and a dispatcher that brings
callables from worker threads onto the GUI thread through one queued signal."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal, Slot


class QtTimerHandle:
    def __init__(self, timer: QTimer) -> None:
        self._timer = timer

    def cancel(self) -> None:
        self._timer.stop()
        self._timer.deleteLater()


class QtScheduler:
    """call_later on the GUI thread's event loop."""

    def __init__(self, parent: QObject) -> None:
        self._parent = parent

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> QtTimerHandle:
        timer = QTimer(self._parent)
        timer.setSingleShot(True)

        def fire() -> None:
            timer.deleteLater()
            callback()

        timer.timeout.connect(fire)
        timer.start(max(0, int(delay_s * 1000)))
        return QtTimerHandle(timer)


class QtDispatcher(QObject):
    """post() from any thread; the callable runs on the thread that owns this object."""

    _posted = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._posted.connect(self._run)

    def post(self, fn: Callable[[], None]) -> None:
        self._posted.emit(fn)

    @Slot(object)
    def _run(self, fn: Callable[[], None]) -> None:
        fn()
