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

from kiosk.config import KioskConfig, TerminalType
from kiosk.core.engine import (
    IDLE_EXPIRED,
    IGNORE,
    SAME,
    Command,
    Context,
    EndSession,
    Event,
    FlowDefinition,
    Notify,
    ResetPreferences,
    State,
    Transition,
)

ATTRACT = "attract"
MENU = "menu"
OUT_OF_SERVICE = "out_of_service"

UNAVAILABLE = "kiosk.unavailable"  # data: reason_key, values
AVAILABLE = "kiosk.available"


@dataclass(frozen=True)
class ServiceFlow:
    """One service offered on the menu and the states that run it."""

    key: str  # i18n key suffix: service.<key>
    entry: str  # first state
    states: tuple[State, ...]
    icon: str = ""
    # States that must finish before the kiosk may go out of service (the citizen is being
    # told the outcome of a transaction that is already durable).
    finishing: tuple[str, ...] = ()
    # The service cannot start without central's answer (a look-up comes first): while the
    # kiosk knows central is not answering, the menu offers it as paused, with the reason.
    needs_central: bool = False


@dataclass(frozen=True)
class TerminalFlows:
    services: tuple[ServiceFlow, ...] = field(default_factory=tuple)


ServiceBuilder = Callable[[KioskConfig], tuple[ServiceFlow, ...]]

# Filled by the service flow modules (kiosk.terminals.photo.flow, ...), keyed by terminal type.
SERVICE_BUILDERS: dict[TerminalType, list[ServiceBuilder]] = {t: [] for t in TerminalType}


def _end_reason(event: Event) -> str:
    if event.name == IDLE_EXPIRED:
        return "idle_timeout"
    if event.name in (UNAVAILABLE, "error"):
        return "error"
    if event.name in ("done", "finished"):
        return "done"
    return "cancelled"


CENTRAL_DOWN = "central_down"  # flow context flag: central is known not to be answering
# Someone chose a language or larger text on the attract loop and walked away: after a while
# the attract loop starts afresh for whoever comes next (the app sends this event).
PREFERENCES_EXPIRED = "preferences.expired"
SENIOR_AGE = 60  # the ID card says 60 or over: more time on every step (domain.md)
MORE_TIME = "more_time"  # flow context flag, set from the ID card, cleared at the end


MORE_TIME_NOTICE_S = 10.0


def grant_more_time(ctx: Context, event: Event) -> list[Command]:
    """After an ID card read (``age`` in the result): citizens aged 60 or over get longer
    idle and 'still there?' times for the rest of their session, and are told so, with
    where to find larger text."""
    if int(event.data.get("age", 0)) < SENIOR_AGE or ctx.get(MORE_TIME):
        return []
    ctx[MORE_TIME] = True
    return [Notify("app.more_time", MORE_TIME_NOTICE_S)]


def _on_attract(ctx: Context, event: Event) -> list[Command]:
    ctx.pop("service", None)
    ctx.pop(MORE_TIME, None)
    ending = [EndSession(_end_reason(event))] if "session" in ctx else []
    # The previous citizen's language and text size are not the next one's.
    return [*ending, ResetPreferences()]


def _on_unavailable(ctx: Context, event: Event) -> list[Command]:
    ctx["oos_reason"] = dict(event.data)
    return [EndSession("error")] if "session" in ctx else []


def _clear_reason(ctx: Context, event: Event) -> list[Command]:
    ctx.pop("oos_reason", None)
    return []


def _factor(ctx: Context, more: float) -> float:
    return more if ctx.get(MORE_TIME) else 1.0


def _select(services: tuple[ServiceFlow, ...], needs_central: set[str]) -> list[Transition]:
    return [
        Transition("select", s.entry, guard=_is(s.key, s.key in needs_central), label=s.key)
        for s in services
    ]


def _is(key: str, needs_central: bool = False) -> Callable[[Context, Event], bool]:
    def guard(ctx: Context, event: Event) -> bool:
        if event.data.get("service") != key:
            return False
        if needs_central and ctx.get(CENTRAL_DOWN):
            return False  # paused on the menu: its first step would fail
        ctx["service"] = key
        return True

    return guard


def build_terminal_flow(
    config: KioskConfig, services: tuple[ServiceFlow, ...] | None = None
) -> FlowDefinition:
    if services is None:
        services = tuple(
            flow for builder in SERVICE_BUILDERS[config.kiosk.terminal] for flow in builder(config)
        )
    timeouts = config.timeouts
    needs_central = {s.key for s in services if s.needs_central}

    def menu_view(ctx: Context) -> Mapping[str, Any]:
        paused = needs_central if ctx.get(CENTRAL_DOWN) else set()
        items = [{"key": s.key, "icon": s.icon, "paused": s.key in paused} for s in services]
        return {"services": items, "notice": "menu.central_down" if paused else None}

    def attract_view(ctx: Context) -> Mapping[str, Any]:
        return {"terminal": config.kiosk.terminal.value, "slide_s": timeouts.attract_slide_s}

    def oos_view(ctx: Context) -> Mapping[str, Any]:
        return dict(ctx.get("oos_reason", {}))

    # Staff mode (a PIN pad behind a hidden long press) exists only with a staff PIN.
    staff: tuple[State, ...] = ()
    to_staff: tuple[Transition, ...] = ()
    late: tuple[Transition, ...] = ()
    if config.staff.enabled:
        # Imported here: kiosk.terminals.staff.flow builds on this module (a cycle at import time).
        from kiosk.terminals.staff.flow import LATE_REPLIES, STAFF_PIN, staff_states, start_sign_in

        staff = staff_states(config)
        to_staff = (Transition("staff", STAFF_PIN, action=start_sign_in, label="staff"),)
        late = LATE_REPLIES
    shell = (
        State(
            ATTRACT,
            "attract",
            (
                Transition("start", MENU),
                Transition(PREFERENCES_EXPIRED, ATTRACT, label="language / text size reset"),
                *to_staff,
            ),
            on_enter=_on_attract,
            terminal_ok=True,
            view=attract_view,
        ),
        State(
            MENU,
            "menu",
            (
                *_select(services, needs_central),
                Transition("select", IGNORE, label="paused"),  # a paused service's button
                Transition("home", ATTRACT),
                Transition("back", ATTRACT),
                *to_staff,
            ),
            idle=True,
            view=menu_view,
        ),
        State(
            OUT_OF_SERVICE,
            "out_of_service",
            (
                Transition(AVAILABLE, ATTRACT, action=_clear_reason),
                Transition(UNAVAILABLE, OUT_OF_SERVICE, action=_on_unavailable),
                *to_staff,
            ),
            terminal_ok=True,
            view=oos_view,
        ),
    )
    states = {s.name: s for s in (*shell, *staff)}
    finishing = {name for service in services for name in service.finishing}
    for service in services:
        for state in service.states:
            if state.name in states:
                raise ValueError(f"state {state.name} defined twice")
            if state.name in finishing:  # remembered by the app, applied at the end
                deferred = Transition(UNAVAILABLE, SAME, label="deferred until done")
                states[state.name] = replace(state, transitions=(*state.transitions, deferred))
            else:
                states[state.name] = state
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
            # in (attract, menu, out of service, with a staff PIN); elsewhere it is a touch.
            Transition("staff", IGNORE),
            *late,
        ),
        idle_seconds=lambda ctx: timeouts.idle_s * _factor(ctx, timeouts.senior_factor),
        still_there_seconds=lambda ctx: (
            timeouts.still_there_s * _factor(ctx, timeouts.senior_factor)
        ),
        idle_target=ATTRACT,
    )
