"""The terminal flow: attract loop, service menu, out of service, and the service flows of the
configured terminal type, composed into one state machine.

Every state has a deadline (its own timeout or the idle watch) and a way home; a required
device failing anywhere leads to out of service, and the session's personal data is wiped on
every way out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from kiosk.config import KioskConfig
from kiosk.core.calls import answer
from kiosk.core.context import FlowContext
from kiosk.core.engine import (
    IDLE_EXPIRED,
    IGNORE,
    SAME,
    Command,
    EndSession,
    Event,
    FlowDefinition,
    Notify,
    ResetPreferences,
    State,
    Transition,
)
from kiosk.core.views import (
    AttractView,
    MenuItem,
    MenuView,
    OutOfServiceView,
    Picture,
    Progress,
    View,
)
from kiosk.machine.ports import CardSummary

ATTRACT = "attract"
MENU = "menu"
OUT_OF_SERVICE = "out_of_service"

UNAVAILABLE = "kiosk.unavailable"  # data: reason_key, values, source
AVAILABLE = "kiosk.available"
# Someone chose a language or larger text on the attract loop and walked away: after a while
# the attract loop starts afresh for whoever comes next (the app sends this event).
PREFERENCES_EXPIRED = "preferences.expired"
# The picture of each part of the machine: what out of service shows for the part at fault,
# and what the help slide shows of this machine (in this order: where a citizen meets them).
DEVICE_PICTURES: Mapping[str, Picture] = {
    "idcard": Picture.IDCARD,
    "chip": Picture.PERMIT,
    "rewriter": Picture.PERMIT,
    "camera": Picture.CAMERA,
    "dispenser": Picture.DOCUMENT,
    "printer": Picture.RECEIPT,
}
SENIOR_AGE = 60  # the ID card says 60 or over: more time on every step (domain.md)
MORE_TIME_NOTICE_S = 10.0


@dataclass(frozen=True)
class Unavailable:
    """Why the machine is out of service: a message key, its values, and the part at fault."""

    reason_key: str
    values: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""


@dataclass
class TerminalContext(FlowContext):
    """What the terminal flow remembers: the machine's standing conditions (kept across
    citizens) and, in parts, each service's record of the current citizen."""

    service: str = ""  # the service chosen on the menu
    age: int | None = None  # the citizen's age, from the ID card read
    more_time: bool = False  # the ID card says 60 or over
    central_down: bool = False  # central is known not to be answering
    out_of_service: Unavailable | None = None


Ctx = TerminalContext
Step = State[TerminalContext]
Move = Transition[TerminalContext]


@dataclass(frozen=True)
class Stage:
    """One step of a service as the citizen counts them ("步骤 2/5 核验身份"): its name (a
    message key) and the flow states that belong to it. A stage without states (a step this
    machine skips, e.g. the face check without a camera) is left out of the count."""

    name: str
    states: tuple[str, ...]


@dataclass(frozen=True)
class ServiceFlow:
    """One service offered on the menu and the states that run it."""

    key: str  # the menu's name for it is the message key service.<key>
    entry: str  # first state
    states: tuple[Step, ...]
    icon: str = ""
    # States that must finish before the kiosk may go out of service (the citizen is being
    # told the outcome of a transaction that is already durable).
    finishing: tuple[str, ...] = ()
    # The service cannot start without central's answer (a look-up comes first): while the
    # kiosk knows central is not answering, the menu offers it as paused, with the reason.
    needs_central: bool = False
    # Answers that may arrive after the citizen left the step that asked (acknowledged
    # anywhere, without effect).
    late: tuple[Move, ...] = ()
    # The steps the citizen is shown, in order; states in none of them (outcomes, errors)
    # show no step.
    stages: tuple[Stage, ...] = ()
    # Other ways through the service, each counted whole (e.g. pickup: identify, face,
    # confirm, then the delivery's address and slip instead of taking the document). A
    # state already staged on an earlier way keeps that way's mark.
    branches: tuple[tuple[Stage, ...], ...] = ()


@dataclass(frozen=True)
class StaffAccess:
    """A way for staff into a mode of their own from the attract loop, the menu and out of
    service (``entry``), its states, and transitions that apply everywhere (late answers)."""

    entry: Move
    states: tuple[Step, ...]
    everywhere: tuple[Move, ...] = ()


def machine_parts(config: KioskConfig) -> tuple[Picture, ...]:
    """The pictures of the parts a citizen uses on this machine, and the staff button."""
    pictures: list[Picture] = []
    for kind, picture in DEVICE_PICTURES.items():
        if getattr(config.devices, kind, None) is not None and picture not in pictures:
            pictures.append(picture)
    return (*pictures, Picture.STAFF)


def _end_reason(event: Event) -> str:
    if event.name == IDLE_EXPIRED:
        return "idle_timeout"
    if event.name in (UNAVAILABLE, "error"):
        return "error"
    if event.name in ("done", "finished"):
        return "done"
    return "cancelled"


def grant_more_time(ctx: Ctx, event: Event) -> list[Command]:
    """After an ID card read: citizens aged 60 or over get longer idle and 'still there?'
    times for the rest of their session, and are told so, with where to find larger text."""
    ctx.age = answer(event, CardSummary).age
    if ctx.age < SENIOR_AGE or ctx.more_time:
        return []
    ctx.more_time = True
    return [Notify("app.more_time", MORE_TIME_NOTICE_S)]


def _on_attract(ctx: Ctx, event: Event) -> list[Command]:
    ctx.service = ""
    ctx.age = None
    ctx.more_time = False
    ctx.drop_parts()  # nothing of this citizen's services is left for the next
    ending = [EndSession(_end_reason(event))] if ctx.in_session else []
    # The previous citizen's language and text size are not the next one's.
    return [*ending, ResetPreferences()]


def unavailable_of(event: Event) -> Unavailable:
    return Unavailable(
        str(event.data.get("reason_key", "")),
        dict(event.data.get("values", {})),
        str(event.data.get("source", "")),
    )


def _on_unavailable(ctx: Ctx, event: Event) -> list[Command]:
    ctx.out_of_service = unavailable_of(event)
    return [EndSession("error")] if ctx.in_session else []


def _clear_reason(ctx: Ctx, event: Event) -> list[Command]:
    ctx.out_of_service = None
    return []


def _select(services: tuple[ServiceFlow, ...]) -> list[Move]:
    return [
        Transition("select", s.entry, guard=_is(s.key, s.needs_central), label=s.key)
        for s in services
    ]


def _is(key: str, needs_central: bool = False) -> Callable[[Ctx, Event], bool]:
    def guard(ctx: Ctx, event: Event) -> bool:
        if event.data.get("service") != key:
            return False
        if needs_central and ctx.central_down:
            return False  # paused on the menu: its first step would fail
        ctx.service = key
        return True

    return guard


def _shell_states(
    config: KioskConfig,
    services: tuple[ServiceFlow, ...],
    slides: tuple[str, ...],
    to_staff: tuple[Move, ...],
) -> tuple[Step, ...]:
    timeouts = config.timeouts
    needs_central = {s.key for s in services if s.needs_central}

    def menu_view(ctx: Ctx) -> MenuView:
        paused = needs_central if ctx.central_down else set()
        items = tuple(MenuItem(s.key, s.icon, s.key in paused) for s in services)
        return MenuView(items, "menu.central_down" if paused else None)

    parts = machine_parts(config)

    def attract_view(ctx: Ctx) -> AttractView:
        return AttractView(slides, timeouts.attract_slide_s, parts)

    def oos_view(ctx: Ctx) -> OutOfServiceView:
        reason = ctx.out_of_service or Unavailable("")
        picture = DEVICE_PICTURES.get(str(reason.values.get("device", "")))
        detail = str(reason.values.get("detail", ""))
        return OutOfServiceView(
            reason.reason_key,
            reason.values,
            reason.source,
            (detail,) if detail else (),
            picture=picture,
        )

    return (
        State(
            ATTRACT,
            attract_view,
            (
                Transition("start", MENU),
                Transition(PREFERENCES_EXPIRED, ATTRACT, label="language / text size reset"),
                *to_staff,
            ),
            on_enter=_on_attract,
            terminal_ok=True,
        ),
        State(
            MENU,
            menu_view,
            (
                *_select(services),
                Transition("select", IGNORE, label="paused"),  # a paused service's button
                Transition("home", ATTRACT),
                Transition("back", ATTRACT),
                *to_staff,
            ),
            idle=True,
        ),
        State(
            OUT_OF_SERVICE,
            oos_view,
            (
                Transition(AVAILABLE, ATTRACT, action=_clear_reason),
                Transition(UNAVAILABLE, OUT_OF_SERVICE, action=_on_unavailable),
                *to_staff,
            ),
            terminal_ok=True,
        ),
    )


def _service_states(services: tuple[ServiceFlow, ...], taken: set[str]) -> dict[str, Step]:
    """Every service's states; a finishing state defers an out-of-service switch; a state in
    one of the service's stages shows where the citizen is."""
    finishing = {name for service in services for name in service.finishing}
    states: dict[str, Step] = {}
    for service in services:
        steps = progress_of(service)
        for defined in service.states:
            name, state = defined.name, defined
            if name in taken or name in states:
                raise ValueError(f"state {name} defined twice")
            if name in finishing:  # remembered by the app, applied at the end
                deferred = Transition[Ctx](UNAVAILABLE, SAME, label="deferred until done")
                state = replace(state, transitions=(*state.transitions, deferred))
            if name in steps:
                state = replace(state, view=_with_progress(state.view, steps[name]))
            states[name] = state
    return states


def progress_of(service: ServiceFlow) -> dict[str, Progress]:
    """Each staged state's place in the service; a stage naming a state the service does
    not have is a mistake in the flow's definition."""
    names = {state.name for state in service.states}
    marks: dict[str, Progress] = {}
    for way in (service.stages, *service.branches):
        for name, mark in _marks(service.key, way, names).items():
            marks.setdefault(name, mark)
    return marks


def _marks(key: str, way: tuple[Stage, ...], names: set[str]) -> dict[str, Progress]:
    stages = [stage for stage in way if stage.states]
    marks: dict[str, Progress] = {}
    for index, stage in enumerate(stages):
        unknown = sorted(set(stage.states) - names)
        if unknown:
            raise ValueError(f"stage {stage.name} of {key} names no state: {unknown}")
        following = stages[index + 1].name if index + 1 < len(stages) else None
        mark = Progress(index + 1, len(stages), stage.name, following)
        for name in stage.states:
            if name in marks:
                raise ValueError(f"state {name} is in two stages of {key}")
            marks[name] = mark
    return marks


def _with_progress(view: Callable[[Ctx], View], mark: Progress) -> Callable[[Ctx], View]:
    return lambda ctx: replace(view(ctx), journey=mark)


def _late_answers(services: tuple[ServiceFlow, ...]) -> tuple[Move, ...]:
    seen: dict[str, Move] = {}
    for service in services:
        for move in service.late:
            seen.setdefault(move.event, move)
    return tuple(seen.values())


def build_terminal_flow(
    config: KioskConfig,
    services: tuple[ServiceFlow, ...],
    *,
    slides: tuple[str, ...] = (),
    staff: StaffAccess | None = None,
) -> FlowDefinition[TerminalContext]:
    """The terminal's flow: its ``services`` on the menu, its attract ``slides`` (message
    keys ``attract.slide.<slide>.title``/``.body``, the help slide last) and staff mode."""
    timeouts = config.timeouts
    to_staff = (staff.entry,) if staff is not None else ()
    slides = (*slides, "help")
    shell = (*_shell_states(config, services, slides, to_staff), *(staff.states if staff else ()))
    states = {s.name: s for s in shell}
    states.update(_service_states(services, set(states)))

    def factor(ctx: Ctx) -> float:
        return timeouts.senior_factor if ctx.more_time else 1.0

    return FlowDefinition(
        name=f"terminal-{config.kiosk.terminal.value}",
        initial=ATTRACT,
        states=states,
        everywhere=(
            Transition(
                UNAVAILABLE, OUT_OF_SERVICE, action=_on_unavailable, label="required device failed"
            ),
            Transition("home", ATTRACT, label="home", unless=(OUT_OF_SERVICE,)),
            Transition(PREFERENCES_EXPIRED, IGNORE),  # the citizen went on: theirs to keep
            # The hidden hold on the kiosk number means something only where staff may sign
            # in (attract, menu, out of service, with staff mode); elsewhere it is a touch.
            Transition("staff", IGNORE),
            *(staff.everywhere if staff else ()),
            *_late_answers(services),
        ),
        idle_seconds=lambda ctx: timeouts.idle_s * factor(ctx),
        still_there_seconds=lambda ctx: timeouts.still_there_s * factor(ctx),
        idle_target=ATTRACT,
    )
