"""A small declarative state-machine engine for kiosk flows.

Why our own (about 250 lines) rather than python-statemachine: a kiosk flow must be a pure
function (state, event) -> (state, commands) with typed commands, timers expressed as commands
on an injected scheduler (python-statemachine's timeouts run in daemon threads), a
per-state idle watch, and definition-time checks a kiosk needs and no library offers: every
target exists, every state is reachable, and every state has a timeout and a way back.
The whole graph is data, so diagrams come straight from it.

A flow is generic over its context ``C``: the typed record of what it remembers between
events (never personal data: that lives in the session).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from kiosk.core.views import View

log = logging.getLogger(__name__)

C = TypeVar("C")


@dataclass(frozen=True)
class Event:
    """Something that happened: a citizen's intent or a device event (``data``: plain values
    from the screen or the device), a timer, or a service's answer to a ``Call`` (``reply``:
    the typed result of ``<reply>.ok``, or a ``Failure`` for ``<reply>.failed``)."""

    name: str
    data: Mapping[str, Any] = field(default_factory=dict)
    reply: object = None


# --- commands -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """Something the runner must do on the flow's behalf."""


@dataclass(frozen=True)
class Show(Command):
    view: View


@dataclass(frozen=True)
class StartTimer(Command):
    timer: str
    seconds: float
    generation: int


@dataclass(frozen=True)
class CancelTimer(Command):
    timer: str


@dataclass(frozen=True)
class ShowStillThere(Command):
    seconds: float


@dataclass(frozen=True)
class HideStillThere(Command):
    pass


@dataclass(frozen=True)
class BeginSession(Command):
    service: str


@dataclass(frozen=True)
class EndSession(Command):
    """Ends the citizen's session (if one is open) and wipes its personal data."""

    reason: str  # done | cancelled | idle_timeout | error


@dataclass(frozen=True)
class Notify(Command):
    """A transient banner (i18n key) for ``seconds``, from the next ``Show`` on: return it from
    a transition's action."""

    key: str
    seconds: float


@dataclass(frozen=True)
class ResetPreferences(Command):
    """The next citizen starts afresh: the first configured language, normal text size."""


@dataclass(frozen=True)
class Alert(Command):
    """Tell staff (heartbeat to central, service log)."""

    code: str
    message: str


# --- definitions -------------------------------------------------------------------------------

Action = Callable[[C, Event], list[Command]]
Guard = Callable[[C, Event], bool]
Seconds = Callable[[C], float]

SAME = "."  # target of an internal transition: run the action, re-render, keep timers
# Target of a transition that only acknowledges the event: a late reply the state no longer
# needs (run the action if any; nothing moves, nothing re-renders).
IGNORE = "-"
_NOT_STATES = (SAME, IGNORE)
TIMEOUT = "timeout"  # fired when a state's own timer runs out
IDLE_EXPIRED = "idle.expired"  # fired when 'still there?' was not answered
STILL_HERE = "still_here"  # the citizen answered 'still there?'
TOUCH = "touch"  # any touch on the screen


@dataclass(frozen=True)
class Transition(Generic[C]):
    event: str
    target: str
    action: Action[C] | None = None
    guard: Guard[C] | None = None
    label: str = ""
    unless: tuple[str, ...] = ()  # for flow-wide transitions: states where it does not apply


@dataclass(frozen=True)
class State(Generic[C]):
    name: str
    view: Callable[[C], View]
    transitions: tuple[Transition[C], ...] = ()
    timeout: Seconds[C] | None = None  # the state's own deadline -> event TIMEOUT
    idle: bool = False  # ask 'still there?' after inactivity
    on_enter: Action[C] | None = None
    terminal_ok: bool = False  # a resting state that needs no timeout (attract, out of service)


class FlowDefinitionError(Exception):
    pass


@dataclass(frozen=True)
class FlowDefinition(Generic[C]):
    name: str
    initial: str
    states: Mapping[str, State[C]]
    # Transitions that apply in every state unless the state defines the same event.
    everywhere: tuple[Transition[C], ...] = ()
    idle_seconds: Seconds[C] | None = None
    still_there_seconds: Seconds[C] | None = None
    idle_target: str = ""

    def __post_init__(self) -> None:
        self.validate()

    def transitions_of(self, state: State[C]) -> list[Transition[C]]:
        own = {t.event for t in state.transitions}
        return list(state.transitions) + [
            t
            for t in self.everywhere
            if t.event not in own and t.target != state.name and state.name not in t.unless
        ]

    def validate(self) -> None:
        problems: list[str] = []
        if self.initial not in self.states:
            problems.append(f"initial state {self.initial!r} is not defined")
        for state in self.states.values():
            for t in self.transitions_of(state):
                if t.target not in self.states and t.target not in _NOT_STATES:
                    problems.append(f"{state.name} --{t.event}--> unknown state {t.target!r}")
            has_deadline = state.timeout is not None or state.idle
            if not (has_deadline or state.terminal_ok):
                problems.append(f"state {state.name!r} has no timeout")
            if state.timeout is not None and not any(t.event == TIMEOUT for t in state.transitions):
                problems.append(f"state {state.name!r} has a timeout but no timeout transition")
        if any(s.idle for s in self.states.values()) and (
            self.idle_seconds is None or self.idle_target not in self.states
        ):
            problems.append("idle states need idle_seconds and a defined idle_target")
        problems += self._unreachable()
        if problems:
            raise FlowDefinitionError(f"flow {self.name}: " + "; ".join(problems))

    def _unreachable(self) -> list[str]:
        seen = {self.initial}
        todo = [self.initial]
        while todo:
            state = self.states.get(todo.pop())
            if state is None:
                continue
            targets = [t.target for t in self.transitions_of(state)]
            if state.idle:
                targets.append(self.idle_target)
            for target in targets:
                if target not in seen and target not in _NOT_STATES:
                    seen.add(target)
                    todo.append(target)
        return [f"state {name!r} is unreachable" for name in self.states if name not in seen]


class UnexpectedEvent(Exception):
    pass


class Flow(Generic[C]):
    """One running instance of a flow definition. Pure: handle() returns commands."""

    def __init__(self, definition: FlowDefinition[C], context: C, *, strict: bool = False) -> None:
        self.definition = definition
        self.context = context
        self.state = definition.initial
        self.strict = strict
        self._generation = 0
        self._asking_still_there = False
        self.ignored: list[tuple[str, str]] = []

    @property
    def current(self) -> State[C]:
        return self.definition.states[self.state]

    @property
    def asking_still_there(self) -> bool:
        return self._asking_still_there

    def start(self) -> list[Command]:
        return self._enter(self.definition.initial, Event("start"))

    def handle(self, event: Event) -> list[Command]:
        if event.name in (TIMEOUT, IDLE_EXPIRED, "idle") and not self._current_timer(event):
            return []  # a stale timer from a state already left
        if event.name == "idle":
            return self._ask_still_there()
        if event.name in (TOUCH, STILL_HERE):
            return self._touched() + self._transition(event, quiet=True)
        if event.name == IDLE_EXPIRED:
            self._asking_still_there = False
            return [HideStillThere(), *self._go(self.definition.idle_target, event)]
        return self._transition(event)

    def _current_timer(self, event: Event) -> bool:
        return event.data.get("generation") == self._generation

    def _transition(self, event: Event, *, quiet: bool = False) -> list[Command]:
        for t in self.definition.transitions_of(self.current):
            if t.event == event.name and (t.guard is None or t.guard(self.context, event)):
                commands = t.action(self.context, event) if t.action else []
                if t.target == SAME:
                    return [*commands, self.show()]
                if t.target == IGNORE:
                    return commands
                return commands + self._go(t.target, event)
        if not quiet:
            self.ignored = [*self.ignored[-19:], (self.state, event.name)]
            if self.strict:
                raise UnexpectedEvent(f"{self.definition.name}: {event.name} in {self.state}")
            log.debug("flow %s ignored %s in %s", self.definition.name, event.name, self.state)
        return []

    def _go(self, target: str, event: Event) -> list[Command]:
        commands: list[Command] = [CancelTimer("state"), CancelTimer("idle")]
        if self._asking_still_there:
            self._asking_still_there = False
            commands.append(HideStillThere())
        return commands + self._enter(target, event)

    def _enter(self, target: str, event: Event) -> list[Command]:
        self.state = target
        self._generation += 1
        state = self.current
        commands: list[Command] = []
        if state.on_enter is not None:
            commands += state.on_enter(self.context, event)
        if self.state != target:  # on_enter cannot change state; guard against misuse
            raise FlowDefinitionError("on_enter must not change state")
        commands.append(self.show())
        if state.timeout is not None:
            commands.append(StartTimer("state", state.timeout(self.context), self._generation))
        commands += self._idle_timer()
        return commands

    def show(self) -> Show:
        return Show(self.current.view(self.context))

    def _idle_timer(self) -> list[Command]:
        if not self.current.idle or self.definition.idle_seconds is None:
            return []
        return [StartTimer("idle", self.definition.idle_seconds(self.context), self._generation)]

    def _ask_still_there(self) -> list[Command]:
        if self._asking_still_there or self.definition.still_there_seconds is None:
            return []
        self._asking_still_there = True
        seconds = self.definition.still_there_seconds(self.context)
        return [ShowStillThere(seconds), StartTimer("still_there", seconds, self._generation)]

    def poke(self) -> list[Command]:
        """The citizen did something: restart the idle watch (no state change)."""
        return self._touched()

    def _touched(self) -> list[Command]:
        commands: list[Command] = []
        if self._asking_still_there:
            self._asking_still_there = False
            commands += [CancelTimer("still_there"), HideStillThere()]
        if self.current.idle:
            commands += [CancelTimer("idle"), *self._idle_timer()]
        return commands
