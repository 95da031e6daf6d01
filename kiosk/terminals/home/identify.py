"""Steps every identified service starts with: place the ID card, read it, and say plainly
when it cannot be read. Shared by the pickup and renewal terminals."""

from __future__ import annotations

from kiosk.config import KioskConfig
from kiosk.core.calls import call
from kiosk.core.engine import TIMEOUT, BeginSession, Command, Event, State, Transition
from kiosk.core.views import Button, Picture
from kiosk.machine.ports import IDCARD
from kiosk.terminals.home.flow import MENU, TerminalContext, grant_more_time
from kiosk.terminals.home.steps import BACK, closing_state, message, outcome_view

Ctx = TerminalContext


def identify_names(prefix: str) -> tuple[str, ...]:
    """The states of ``identify_states(config, prefix, ...)``: one stage for the citizen."""
    return (f"{prefix}_identify", f"{prefix}_reading", f"{prefix}_read_failed")


def identify_states(config: KioskConfig, prefix: str, after: str) -> tuple[State[Ctx], ...]:
    """``<prefix>_identify`` -> ``<prefix>_reading`` -> ``after`` (or ``<prefix>_read_failed``).

    The session starts on entry; the card data goes into it (never into the flow context).
    """
    t = config.timeouts
    identify, reading, failed = f"{prefix}_identify", f"{prefix}_reading", f"{prefix}_read_failed"
    reply = f"{prefix}.idcard"

    def begin(ctx: Ctx, event: Event) -> list[Command]:
        return [BeginSession(prefix)]

    def read(ctx: Ctx, event: Event) -> list[Command]:
        return [call(IDCARD, lambda reader, session: reader.read(session), reply)]

    identify_view = message(
        "identify.title",
        "identify.body",
        buttons=(BACK, Button("read", "identify.read", "primary")),
        picture=Picture.IDCARD,
    )
    failed_view = message(
        "identify.failed.title",
        "identify.failed.body",
        tone="warn",
        buttons=(BACK, Button("retry", "identify.retry", "primary")),
        picture=Picture.IDCARD,
    )
    reading_view = message("identify.reading", picture=Picture.IDCARD, waiting="identify.slow")
    return (
        State(
            identify,
            lambda ctx: identify_view,
            (
                Transition("idcard.placed", reading),
                Transition("read", reading, label="tap"),
                Transition("back", MENU),
            ),
            idle=True,
            on_enter=begin,
        ),
        State(
            reading,
            lambda ctx: reading_view,
            (
                Transition(f"{reply}.ok", after, grant_more_time),
                Transition(f"{reply}.failed", failed),
                Transition(TIMEOUT, failed),
            ),
            timeout=lambda ctx: t.device_s,
            on_enter=read,
        ),
        State(
            failed,
            lambda ctx: failed_view,
            (
                Transition("idcard.placed", reading),
                Transition("retry", reading),
                Transition("back", MENU),
            ),
            idle=True,
        ),
    )


def central_down_state(config: KioskConfig, name: str) -> State[Ctx]:
    """Central could not answer: say so and send the citizen to the counter (no guessing)."""
    return _closing_state(config, name, "central.down.title", "central.down.body")


def central_unknown_state(config: KioskConfig, name: str) -> State[Ctx]:
    return _closing_state(config, name, "central.unknown.title", "central.unknown.body")


def _closing_state(config: KioskConfig, name: str, title: str, body: str) -> State[Ctx]:
    return closing_state(name, outcome_view(title, body, "warn"), config.timeouts.message_s * 3)
