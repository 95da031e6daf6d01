"""Runs a flow: executes its commands through services and feeds results back as events.

Threading: ``handle`` and everything it calls run on the flow thread (the GUI thread in the
app). Services run on their own single-thread executors; their results come back through the
dispatcher, never by calling the flow from a worker. Other threads reach the flow only with
``post``.
"""

from __future__ import annotations

import logging
import queue
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Generic, Protocol, TypeVar

from kiosk.core.calls import Call, Failure, PortKey
from kiosk.core.clock import Clock, Scheduler, TimerHandle
from kiosk.core.context import FlowContext
from kiosk.core.engine import (
    IDLE_EXPIRED,
    TIMEOUT,
    Alert,
    BeginSession,
    CancelTimer,
    Command,
    EndSession,
    Event,
    Flow,
    HideStillThere,
    Notify,
    ResetPreferences,
    Show,
    ShowStillThere,
    StartTimer,
)
from kiosk.core.errors import KioskError
from kiosk.core.session import Session
from kiosk.core.views import View

log = logging.getLogger(__name__)

TIMER_EVENTS = {"state": TIMEOUT, "idle": "idle", "still_there": IDLE_EXPIRED}

C = TypeVar("C", bound=FlowContext)
P = TypeVar("P")


class Dispatcher(Protocol):
    """Brings a callable onto the flow thread."""

    def post(self, fn: Callable[[], None]) -> None: ...


class DirectDispatcher:
    """Runs posted callables at once (tests and the scripted demo, single-threaded)."""

    def post(self, fn: Callable[[], None]) -> None:
        fn()


class QueueDispatcher:
    """Collects posted callables from any thread; the owner runs them with ``drain``
    (tests and headless runs without a Qt event loop)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()

    def post(self, fn: Callable[[], None]) -> None:
        self._queue.put(fn)

    def drain(self, wait_s: float = 0.0) -> int:
        """Run everything posted so far; wait up to ``wait_s`` for the first item."""
        count = 0
        try:
            fn = self._queue.get(timeout=wait_s) if wait_s > 0 else self._queue.get_nowait()
        except queue.Empty:
            return 0
        while True:
            fn()
            count += 1
            try:
                fn = self._queue.get_nowait()
            except queue.Empty:
                return count


class InlineExecutor(Executor):
    """Runs work immediately on the caller's thread (deterministic tests, scripted demo)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


@dataclass(frozen=True)
class ViewState:
    """What the screen shows: everything a UI needs, nothing it must decide."""

    view: View
    language: str
    state: str
    still_there_until: float | None = None  # monotonic deadline while asking 'still there?'
    notice: str | None = None  # a transient banner (i18n key), e.g. "staff have been called"
    large_text: bool = False  # the citizen asked for larger type (elderly, poor sight)

    @property
    def screen(self) -> str:
        return self.view.screen


@dataclass
class _ServiceHost:
    service: object
    executor: Executor
    owned: bool  # created here (shut down here) or lent by its owner (e.g. a device worker)


EventFilter = Callable[[Event], bool]  # True: the event was the machine's, not the flow's


class FlowRunner(Generic[C]):
    def __init__(
        self,
        flow: Flow[C],
        clock: Clock,
        scheduler: Scheduler,
        dispatcher: Dispatcher | None = None,
        *,
        language: str = "zh",
    ) -> None:
        self.flow = flow
        self.clock = clock
        self.scheduler = scheduler
        self.dispatcher: Dispatcher = dispatcher or DirectDispatcher()
        self.language = language
        self._default_language = language
        self.session: Session | None = None
        self.large_text = False
        self._services: dict[str, _ServiceHost] = {}
        self._timers: dict[str, TimerHandle] = {}
        self._queue: deque[Event] = deque()
        self._busy = False
        self._view: ViewState | None = None
        self._notice: str | None = None
        self._view_listeners: list[Callable[[ViewState], None]] = []
        self._alert_listeners: list[Callable[[Alert], None]] = []
        self._filter: EventFilter | None = None
        self._started = False

    def attach(self, port: PortKey[P], service: P, executor: Executor | None = None) -> None:
        """Offer ``service`` to the flows under ``port``; its operations run on ``executor``
        (a worker of its own when none is lent, e.g. a device's)."""
        owned = executor is None
        self._services[port.name] = _ServiceHost(
            service, executor or ThreadPoolExecutor(1, thread_name_prefix=f"svc-{port.name}"), owned
        )

    def filter_events(self, machine: EventFilter) -> None:
        """Events the machine itself handles (device states, the link to central) before
        the flow sees what is left."""
        self._filter = machine

    def on_view(self, listener: Callable[[ViewState], None]) -> None:
        self._view_listeners.append(listener)
        if self._view is not None:
            listener(self._view)

    def on_alert(self, listener: Callable[[Alert], None]) -> None:
        self._alert_listeners.append(listener)

    @property
    def view(self) -> ViewState | None:
        return self._view

    def start(self) -> None:
        """Show the first state; then what was posted while the kiosk was being put
        together (an alert from a recovery at start-up, a device state) is handled."""
        self.flow.context.language = self.language
        self._started = True
        self._busy = True
        try:
            self._run(self.flow.start())
        finally:
            self._busy = False
        self._drain()

    def post(self, event: Event) -> None:
        """Thread-safe: queue an event for the flow thread."""
        self.dispatcher.post(lambda: self.handle(event))

    def handle(self, event: Event) -> None:
        """Flow thread only. Events raised while handling are queued, never nested; those
        that arrive before ``start`` wait for it."""
        self._queue.append(event)
        self._drain()

    def _drain(self) -> None:
        if self._busy or not self._started:
            return
        self._busy = True
        try:
            while self._queue:
                self._dispatch(self._queue.popleft())
        finally:
            self._busy = False

    def _dispatch(self, event: Event) -> None:
        if self._filter is not None and self._filter(event):
            return
        if event.name == "language":
            self._switch_language(str(event.data.get("language", "zh")))
        elif event.name == "large_text":
            self._set_large_text(bool(event.data.get("on", not self.large_text)))
        else:
            self._run(self.flow.handle(event))

    def shutdown(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self.session is not None:
            self.session.wipe("cancelled")
            self.session = None
        for host in self._services.values():
            if host.owned:
                host.executor.shutdown(wait=False, cancel_futures=True)

    # --- commands ----------------------------------------------------------------------------

    def _run(self, commands: list[Command]) -> None:
        for command in commands:
            self._execute(command)

    def _execute(self, command: Command) -> None:
        match command:
            case Show():
                self._publish(command.view)
            case StartTimer():
                self._start_timer(command)
            case CancelTimer():
                timer = self._timers.pop(command.timer, None)
                if timer is not None:
                    timer.cancel()
            case ShowStillThere():
                self._publish_still_there(self.clock.monotonic() + command.seconds)
            case HideStillThere():
                self._publish_still_there(None)
            case Call():
                self._call(command)
            case BeginSession():
                self._begin(command.service)
            case EndSession():
                self._end(command.reason)
            case Alert():
                self.alert(command)
            case Notify():
                self.notify(command.key, command.seconds, publish=False)
            case ResetPreferences():
                self.language = self._default_language
                self.flow.context.language = self.language
                self.large_text = False
                self._clear_notice()  # e.g. the last citizen's "you have more time"
            case _:
                raise KioskError(f"unknown command {command!r}")

    def _start_timer(self, command: StartTimer) -> None:
        old = self._timers.pop(command.timer, None)
        if old is not None:
            old.cancel()
        event = Event(TIMER_EVENTS[command.timer], {"generation": command.generation})
        self._timers[command.timer] = self.scheduler.call_later(
            command.seconds, lambda: self.handle(event)
        )

    def _call(self, command: Call[Any]) -> None:
        host = self._services.get(command.port.name)
        if host is None:
            missing = Failure("service.missing", command.port.name, "configuration")
            self.post(Event(f"{command.reply}.failed", reply=missing))
            return
        future = host.executor.submit(command.operation, host.service, self.session)
        future.add_done_callback(lambda f: self.post(_result_event(command.reply, f)))

    def _begin(self, service: str) -> None:
        if self.session is not None:
            self.session.wipe("cancelled")
        self.session = Session(service=service, started_at=self.clock.now())
        self.flow.context.in_session = True

    def _end(self, reason: str) -> None:
        if self.session is not None:
            self.session.wipe(reason)
            self.session = None
        self.flow.context.in_session = False

    # --- view --------------------------------------------------------------------------------

    def _switch_language(self, language: str) -> None:
        self.language = language
        self.flow.context.language = language
        self._run(self.flow.poke())
        self.refresh()

    def refresh(self) -> None:
        """Show the current state again (its view depends on something that changed)."""
        self._execute(self.flow.show())

    def _set_large_text(self, on: bool) -> None:
        self.large_text = on
        self._run(self.flow.poke())
        self.refresh()

    def alert(self, alert: Alert) -> None:
        log.warning("staff alert %s: %s", alert.code, alert.message)
        for listener in self._alert_listeners:
            listener(alert)

    def notify(self, key: str | None, seconds: float = 0.0, *, publish: bool = True) -> None:
        """Show a transient banner for ``seconds`` (on top of whatever screen is shown).
        ``publish=False``: a flow's ``Notify``, shown with the step its transition is about
        to show (not first over the step being left)."""
        self._notice = key
        if publish and self._view is not None:
            self._set_view(replace(self._view, notice=key))
        if key is not None and seconds > 0:
            old = self._timers.pop("notice", None)
            if old is not None:
                old.cancel()
            self._timers["notice"] = self.scheduler.call_later(seconds, lambda: self.notify(None))

    def _clear_notice(self) -> None:
        timer = self._timers.pop("notice", None)
        if timer is not None:
            timer.cancel()
        self._notice = None

    def _publish(self, view: View) -> None:
        asking = self._view is not None and self.flow.asking_still_there
        until = self._view.still_there_until if asking and self._view else None
        self._set_view(
            ViewState(view, self.language, self.flow.state, until, self._notice, self.large_text)
        )

    def _publish_still_there(self, until: float | None) -> None:
        if self._view is None:
            return
        self._set_view(replace(self._view, still_there_until=until))

    def _set_view(self, view: ViewState) -> None:
        self._view = view
        for listener in self._view_listeners:
            listener(view)


def _result_event(reply: str, future: Future[object]) -> Event:
    exc = future.exception()
    if exc is None:
        return Event(f"{reply}.ok", reply=future.result())
    if not isinstance(exc, Exception):  # pragma: no cover - KeyboardInterrupt and the like
        raise exc
    log.info("%s failed: %s", reply, getattr(exc, "code", type(exc).__name__))
    return Event(f"{reply}.failed", reply=Failure.of(exc))
