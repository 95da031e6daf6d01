"""The flow engine and the terminal flow, driven with a fake clock and scripted events."""

from __future__ import annotations

from typing import Any

import pytest

from kiosk.app import KioskApp, Machine
from kiosk.config import KioskConfig, parse_config
from kiosk.core.calls import PortKey, call
from kiosk.core.clock import ManualClock
from kiosk.core.engine import (
    TIMEOUT,
    BeginSession,
    Command,
    EndSession,
    Event,
    Flow,
    FlowDefinition,
    FlowDefinitionError,
    State,
    Transition,
    UnexpectedEvent,
)
from kiosk.core.runner import FlowRunner, InlineExecutor
from kiosk.core.session import Session, Slot
from kiosk.core.views import MessageView
from kiosk.terminals.home.flow import MENU, ServiceFlow, TerminalContext, build_terminal_flow
from kiosk.terminals.terminal import Binding, Equipment
from kiosk.wiring import flow_runner
from tests.core.flow_rigs import PendingExecutor

CARD: Slot[dict[str, Any]] = Slot("idcard")


def config(**timeouts: float) -> KioskConfig:
    return parse_config(
        {
            "kiosk": {"id": "TEST-1", "terminal": "photo"},
            "timeouts": {"idle_s": 60.0, "still_there_s": 15.0, **timeouts},
        }
    )


class IdService:
    """Stands in for a device service: stores personal data in the session."""

    def __init__(self) -> None:
        self.calls = 0

    def read(self, session: Session | None) -> str:
        self.calls += 1
        assert session is not None
        session.put(CARD, {"id_number": "11010519491231002X", "photo": bytearray(b"wlt")})
        return "resident"


ID: PortKey[IdService] = PortKey("id")


def begin(ctx: TerminalContext, event: Event) -> list[Command]:
    return [BeginSession("demo"), call(ID, lambda reader, session: reader.read(session), "id.read")]


def finish(ctx: TerminalContext, event: Event) -> list[Command]:
    return [EndSession("done")]


def _message(ctx: TerminalContext) -> MessageView:
    return MessageView("demo.title")


DEMO = ServiceFlow(
    key="photo",
    entry="reading",
    states=(
        State(
            "reading",
            _message,
            (Transition("id.read.ok", "confirm"), Transition("back", MENU)),
            idle=True,
            on_enter=begin,
        ),
        State(
            "confirm",
            _message,
            (Transition("ok", "attract", action=finish), Transition(TIMEOUT, "attract")),
            timeout=lambda ctx: 30.0,
        ),
    ),
)


def make_app(
    cfg: KioskConfig | None = None, executor: Any = None
) -> tuple[KioskApp, ManualClock, IdService]:
    """A kiosk with the demo service flow in place of the terminal's own (strict: an
    unhandled event raises)."""
    clock = ManualClock()
    cfg = cfg or config()
    flow = Flow(build_terminal_flow(cfg, (DEMO,)), TerminalContext(), strict=True)
    runner = FlowRunner(flow, clock, clock)
    service = IdService()
    binding = Binding(ID, service, executor or InlineExecutor())
    app = KioskApp(cfg, runner, Machine(equipment=Equipment([binding])))
    app.start()
    return app, clock, service


def state(app: KioskApp) -> str:
    assert app.view is not None
    return app.view.state


def test_idle_timeout_asks_then_ends_session_and_wipes_data() -> None:
    app, clock, service = make_app()
    app.intent("start")
    app.intent("select", service="photo")
    assert state(app) == "confirm"
    session = app.runner.session
    assert session is not None and session.has(CARD)
    card = session.get(CARD)
    assert card is not None
    held = card["photo"]
    clock.advance(29.9)
    assert state(app) == "confirm"
    clock.advance(0.2)  # the confirm step's own timeout
    assert state(app) == "attract"
    assert app.runner.session is None
    assert session.ended_reason == "cancelled" and session.keys() == []
    assert held == bytearray(3)
    assert service.calls == 1


def test_still_there_countdown_then_idle_timeout() -> None:
    app, clock, _ = make_app()
    app.intent("start")
    assert state(app) == MENU
    clock.advance(59.0)
    assert app.view is not None and app.view.still_there_until is None
    clock.advance(1.0)
    assert app.view.still_there_until == pytest.approx(clock.monotonic() + 15.0)
    clock.advance(14.9)
    assert state(app) == MENU
    clock.advance(0.1)
    assert state(app) == "attract" and app.view.still_there_until is None


def test_idle_timeout_ends_a_session_with_reason_idle_timeout() -> None:
    # Hold the citizen in 'reading': the read never completes (a card never placed).
    app, clock, _ = make_app(executor=PendingExecutor())
    app.intent("start")
    app.runner.handle(Event("touch"))
    app.intent("select", service="photo")
    assert state(app) == "reading"
    session = app.runner.session
    assert session is not None
    clock.advance(75.0)
    assert state(app) == "attract"
    assert session.ended_reason == "idle_timeout"


def test_touch_restarts_the_idle_watch_and_still_here_continues() -> None:
    app, clock, _ = make_app()
    app.intent("start")
    clock.advance(50.0)
    app.intent("touch")
    clock.advance(50.0)
    assert app.view is not None and app.view.still_there_until is None
    clock.advance(10.0)
    assert app.view.still_there_until is not None
    app.intent("still_here")
    assert app.view.still_there_until is None and state(app) == MENU
    clock.advance(59.0)
    assert state(app) == MENU and app.view.still_there_until is None


def test_language_switch_keeps_state_and_counts_as_activity() -> None:
    app, clock, _ = make_app()
    app.intent("start")
    clock.advance(59.0)
    app.intent("language", language="en")
    assert app.view is not None and app.view.language == "en" and state(app) == MENU
    clock.advance(59.0)
    assert app.view.still_there_until is None


def test_larger_text_keeps_state_and_counts_as_activity() -> None:
    app, clock, _ = make_app()
    app.intent("start")
    clock.advance(59.0)
    app.intent("large_text", on=True)
    assert app.view is not None and app.view.large_text and state(app) == MENU
    clock.advance(59.0)
    assert app.view.still_there_until is None and app.view.large_text
    app.intent("large_text", on=False)
    assert not app.view.large_text and state(app) == MENU


def test_a_paused_service_on_the_menu_does_not_start() -> None:
    clock = ManualClock()
    config = parse_config({"kiosk": {"id": "TEST-1", "terminal": "pickup"}})
    runner = flow_runner(config, clock, clock, strict=True)  # an unhandled tap would raise
    app = KioskApp(config, runner, Machine())
    app.start()
    app.set_central_link(False)
    app.intent("start")
    app.intent("select", service="pickup")
    assert state(app) == MENU
    app.set_central_link(True)
    app.intent("select", service="pickup")
    assert state(app) == "pickup_identify"


def test_the_photo_service_stays_open_while_central_does_not_answer() -> None:
    app, _, _ = make_app()
    app.set_central_link(False)
    app.intent("start")
    assert app.view is not None
    menu = app.view.view
    assert [s.paused for s in menu.services] == [False]
    assert menu.notice is None
    app.intent("select", service="photo")
    assert state(app) != MENU


def test_a_choice_on_the_attract_loop_lasts_until_someone_starts_or_the_idle_time() -> None:
    app, clock, _ = make_app()
    app.intent("large_text", on=True)
    app.intent("language", language="en")
    clock.advance(59.0)
    assert app.view is not None and app.view.large_text and app.view.language == "en"
    clock.advance(1.0)  # nobody started: the next person finds the machine as usual
    assert state(app) == "attract" and not app.view.large_text and app.view.language == "zh"
    app.intent("large_text", on=True)
    app.intent("start")  # somebody did: the choice is theirs for the session
    clock.advance(30.0)
    app.intent("touch")
    clock.advance(30.0)
    assert state(app) == MENU and app.view.large_text
    app.intent("home")
    app.intent("language", language="en")  # on the attract loop: a timer is armed...
    clock.advance(5.0)
    app.intent("start")  # ...and disarmed by the citizen who starts
    clock.advance(5.0)
    app.intent("home")
    clock.advance(45.0)
    app.intent("call_staff")  # had it fired now, it would cut this banner short
    clock.advance(app.config.timeouts.message_s - 1)
    assert app.view.notice == "app.staff_called"
    app.intent("language", language="en")
    app.stop()  # a timer armed before the kiosk stops does not fire after it
    clock.advance(120.0)
    assert app.view.language == "en"


@pytest.mark.parametrize("leave", ["home", "walk away"])
def test_the_next_citizen_starts_in_the_first_language_with_normal_text(leave: str) -> None:
    app, clock, _ = make_app()
    app.intent("start")
    app.intent("language", language="en")
    app.intent("large_text", on=True)
    app.intent("select", service="photo")
    if leave == "home":
        app.intent("home")
    else:
        clock.advance(60.0 + 15.0)
    assert app.view is not None and state(app) == "attract"
    assert app.view.language == "zh" and not app.view.large_text
    assert app.flow.context.language == "zh"
    app.intent("start")
    assert app.view.language == "zh" and not app.view.large_text


def test_required_device_failure_from_any_state_and_recovery() -> None:
    app, _clock, _ = make_app()
    app.intent("start")
    app.intent("select", service="photo")
    session = app.runner.session
    app.set_unavailable("printer", "oos.device", device="printer", detail="paper out")
    assert state(app) == "out_of_service"
    assert app.view is not None and app.view.view.values["detail"] == "paper out"
    assert session is not None and session.ended_reason == "error"
    with pytest.raises(UnexpectedEvent):  # citizens cannot leave out of service
        app.intent("home")
    assert state(app) == "out_of_service"
    app.set_unavailable("camera", "oos.device", device="camera", detail="lost")
    app.set_available("printer")
    assert state(app) == "out_of_service"
    app.set_available("camera")
    assert state(app) == "attract"


def test_done_wipes_with_reason_done() -> None:
    app, _, _ = make_app()
    app.intent("start")
    app.intent("select", service="photo")
    session = app.runner.session
    app.intent("ok")
    assert state(app) == "attract"
    assert session is not None and session.ended_reason == "done"


def test_home_from_a_service_cancels() -> None:
    app, _, _ = make_app()
    app.intent("start")
    app.intent("select", service="photo")
    session = app.runner.session
    app.intent("home")
    assert state(app) == "attract"
    assert session is not None and session.ended_reason == "cancelled"


def test_strict_flow_reports_surprise_events() -> None:
    app, _, _ = make_app()
    with pytest.raises(UnexpectedEvent):
        app.runner.handle(Event("dispense.ok"))


def test_stale_timer_events_are_ignored() -> None:
    app, _, _ = make_app()
    app.intent("start")
    app.runner.handle(Event(TIMEOUT, {"generation": -5}))
    assert state(app) == MENU


def _state(name: str, *transitions: Transition[Any], **kw: Any) -> State[Any]:
    return State(name, _message, transitions, **kw)


def test_definition_rejects_states_without_deadline_unknown_targets_unreachable() -> None:
    with pytest.raises(FlowDefinitionError, match="has no timeout"):
        FlowDefinition("f", "a", {"a": _state("a", Transition("x", "a"))})
    with pytest.raises(FlowDefinitionError, match="unknown state"):
        FlowDefinition("f", "a", {"a": _state("a", Transition("x", "b"), terminal_ok=True)})
    with pytest.raises(FlowDefinitionError, match="unreachable"):
        FlowDefinition(
            "f", "a", {"a": _state("a", terminal_ok=True), "b": _state("b", terminal_ok=True)}
        )
    with pytest.raises(FlowDefinitionError, match="no timeout transition"):
        FlowDefinition("f", "a", {"a": _state("a", timeout=lambda c: 1.0)})


def test_every_terminal_flow_is_valid_with_a_way_home_everywhere() -> None:
    for terminal in ("renewal", "photo", "pickup"):
        cfg = parse_config({"kiosk": {"id": "TEST-1", "terminal": terminal}})
        definition = flow_runner(cfg, ManualClock(), ManualClock()).flow.definition
        for state_ in definition.states.values():
            events = {t.event for t in definition.transitions_of(state_)}
            if state_.name not in ("attract", "out_of_service"):
                assert "home" in events or "back" in events, state_.name
            assert "kiosk.unavailable" in events, state_.name
