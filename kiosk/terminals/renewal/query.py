"""Look up the current endorsement: ID card -> central's record of the permit -> its
validity, the endorsement's region and trips, or that there is none."""

from __future__ import annotations

from kiosk.config import KioskConfig
from kiosk.core.calls import answer, call
from kiosk.core.engine import TIMEOUT, Command, Event, State, Transition
from kiosk.core.views import MessageView
from kiosk.terminals.home.flow import Stage, TerminalContext
from kiosk.terminals.home.identify import (
    central_down_state,
    central_unknown_state,
    identify_names,
    identify_states,
)
from kiosk.terminals.home.steps import FINISH, closing_state, message
from kiosk.terminals.renewal.ports import LOOKUP, PermitStanding
from kiosk.terminals.renewal.record import query
from kiosk.terminals.renewal.texts import REGIONS, TRIPS

Ctx = TerminalContext


def _look_up(ctx: Ctx, event: Event) -> list[Command]:
    return [call(LOOKUP, lambda central, session: central.permit_status(session), "query.status")]


def _unknown(ctx: Ctx, event: Event) -> bool:
    return not answer(event, PermitStanding).known


def _keep(ctx: Ctx, event: Event) -> list[Command]:
    query(ctx).standing = answer(event, PermitStanding)
    return []


def _result_view(ctx: Ctx) -> MessageView:
    standing = query(ctx).standing or PermitStanding(known=False)
    e = standing.endorsement
    values: dict[str, object] = {
        "permit_expiry": standing.permit_expiry,
        "permit_days_left": standing.permit_days_left,
    }
    if e is None:
        lines = ["query.none"]
    else:
        values["valid_until"] = e.valid_until
        lines = [f"query.region.{e.region}"] if e.region in REGIONS else []
        lines.append("query.valid" if e.valid else "query.expired")
        if e.trips in TRIPS:
            lines += [f"query.trips.{e.trips}", "query.trips_note"]
    return message(
        "query.title",
        [*lines, "query.permit"],
        tone="ok",
        progress="flow.take_card",
        values=values,
        buttons=FINISH,
    )


def query_states(config: KioskConfig) -> tuple[State[Ctx], ...]:
    looking = message("query.looking", waiting="central.slow")
    return (
        *identify_states(config, "query", "query_looking"),
        State(
            "query_looking",
            lambda ctx: looking,
            (
                Transition("query.status.ok", "query_unknown", guard=_unknown),
                Transition("query.status.ok", "query_result", action=_keep),
                Transition("query.status.failed", "query_central_down"),
                Transition(TIMEOUT, "query_central_down"),
            ),
            timeout=lambda ctx: config.central.timeout_s * 2,
            on_enter=_look_up,
        ),
        central_down_state(config, "query_central_down"),
        central_unknown_state(config, "query_unknown"),
        closing_state("query_result", _result_view, config.timeouts.message_s * 4),
    )


QUERY_STAGES = (
    Stage("stage.identify", identify_names("query")),
    Stage("query.stage.look", ("query_looking",)),
)
