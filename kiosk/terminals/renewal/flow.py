"""The renewal terminal: renew an endorsement ("endorse") and look up the current one
("query", kiosk.terminals.renewal.query).

Endorse: ID card -> eligibility from central (a refusal names the reason and the next step)
-> the permit's chip, opened with the access data of the permit on record and passively
authenticated -> region, purpose, trips and validity (only what central offers) -> the fee,
paid by scanning a QR code with a phone (kiosk.terminals.renewal.payment) -> on a machine with a
card module (``[devices.rewriter]``), the permit is taken in, central authorises the chip
record (issuing the endorsement against the paid order), the chip is written and read back
and the back printed (kiosk.terminals.renewal.card_flow); on a machine without, central
issues the endorsement on record only -> a payment slip.

Reprint (a machine with a card module): the back printed again from the chip's record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kiosk.config import KioskConfig
from kiosk.core.calls import answer, call
from kiosk.core.engine import TIMEOUT, Command, Event, State, Transition
from kiosk.core.views import Button, MessageView, Picture
from kiosk.machine.ports import CHIP, ChipSummary
from kiosk.terminals.home.flow import ATTRACT, MENU, ServiceFlow, Stage, TerminalContext
from kiosk.terminals.home.identify import (
    central_down_state,
    central_unknown_state,
    identify_names,
    identify_states,
)
from kiosk.terminals.home.steps import BACK, FINISH, closing_state, done, message
from kiosk.terminals.identity.flow import IdentitySteps, identity_steps
from kiosk.terminals.renewal.card_flow import CARD_FINISHING, REPRINT_FINISHING, reprint_states
from kiosk.terminals.renewal.payment import FINISHING, PAY_STATES, payment_states
from kiosk.terminals.renewal.ports import LOOKUP, PERMIT_ACCESS, Verdict
from kiosk.terminals.renewal.query import QUERY_STAGES, query_states
from kiosk.terminals.renewal.record import EndorseRecord, endorse
from kiosk.terminals.renewal.texts import REFUSALS

Ctx = TerminalContext
Step = State[TerminalContext]
Move = Transition[TerminalContext]
Pick = Callable[[Ctx, str], None]


Item = tuple[str, str, dict[str, Any]]  # (value, label key, label values)


def _choices(title: str, intent: str, items: Sequence[Item]) -> MessageView:
    """A message screen whose buttons are the choices: (value, label key, label values)."""
    buttons = [
        Button(intent, label, "primary", {intent: value}, values) for value, label, values in items
    ]
    return message(title, "endorse.choice.body", buttons=(BACK, *buttons))


def _pick(
    intent: str,
    target: str,
    allowed: Callable[[Ctx], Sequence[str]],
    keep: Pick,
    when: Callable[[Ctx, Event], bool] | None = None,
) -> Move:
    """Accept a choice only if it was offered; remember it."""

    def guard(ctx: Ctx, event: Event) -> bool:
        offered = event.data.get(intent) in allowed(ctx)
        return offered and (when is None or when(ctx, event))

    def action(ctx: Ctx, event: Event) -> list[Command]:
        keep(ctx, str(event.data[intent]))
        return []

    return Transition(intent, target, action, guard)


def _set_region(ctx: Ctx, value: str) -> None:
    endorse(ctx).region = value


def _set_purpose(ctx: Ctx, value: str) -> None:
    endorse(ctx).purpose = value


def _set_option(ctx: Ctx, value: str) -> None:
    endorse(ctx).option = value


def _set_trips(ctx: Ctx, value: str) -> None:
    record = endorse(ctx)
    record.trips = value
    if value != "multiple":  # one option per number of trips: chosen with it
        record.option = next(o.code for o in record.options if o.trips == value)


def _verdict(ctx: Ctx) -> Verdict:
    return endorse(ctx).verdict or Verdict(known=False)


def _trips(ctx: Ctx) -> list[str]:
    return list(dict.fromkeys(o.trips for o in endorse(ctx).options))


def _multi_codes(ctx: Ctx) -> list[str]:
    return [o.code for o in endorse(ctx).options if o.trips == "multiple"]


def _is_multiple(ctx: Ctx, event: Event) -> bool:
    return event.data.get("trips") == "multiple"


def _chose_multiple(ctx: Ctx, event: Event) -> bool:
    return endorse(ctx).trips == "multiple"


# --- eligibility and the chip -----------------------------------------------------------------


def _check(ctx: Ctx, event: Event) -> list[Command]:
    ctx.drop_part(EndorseRecord)  # a fresh record for this renewal
    return [
        call(LOOKUP, lambda central, session: central.eligibility(session), "endorse.eligibility")
    ]


def _keep_verdict(ctx: Ctx, event: Event) -> list[Command]:
    endorse(ctx).verdict = answer(event, Verdict)
    return []


def _eligible(ctx: Ctx, event: Event) -> bool:
    verdict = answer(event, Verdict)
    return verdict.eligible and verdict.permit_on_record


def _unknown(ctx: Ctx, event: Event) -> bool:
    return not answer(event, Verdict).known


def _read_chip(ctx: Ctx, event: Event) -> list[Command]:
    return [call(CHIP, lambda chip, session: chip.read(PERMIT_ACCESS, session), "endorse.chip")]


def _genuine(ctx: Ctx, event: Event) -> bool:
    return answer(event, ChipSummary).passive_auth == "valid"


def _chip_verdict(ctx: Ctx, event: Event) -> list[Command]:
    endorse(ctx).chip = answer(event, ChipSummary).passive_auth
    return []


# --- views ------------------------------------------------------------------------------------


def _refused_view(ctx: Ctx) -> MessageView:
    reasons = [r for r in _verdict(ctx).reasons if r in REFUSALS]
    lines = [f"endorse.reason.{r}" for r in reasons] + ["", "endorse.refused.next"]
    lines += [f"endorse.next.{r}" for r in reasons]
    return message(
        "endorse.refused.title", lines, tone="warn", progress="flow.take_card", buttons=FINISH
    )


def _region_view(ctx: Ctx) -> MessageView:
    regions = _verdict(ctx).regions
    items: list[Item] = [(r, f"region.{r}", {}) for r in regions]
    return _choices("endorse.region.title", "region", items)


def _purpose_view(ctx: Ctx) -> MessageView:
    items: list[Item] = [(p, f"purpose.{p}", {}) for p in _verdict(ctx).purposes]
    return _choices("endorse.purpose.title", "purpose", items)


def _trips_view(ctx: Ctx) -> MessageView:
    options = endorse(ctx).options
    fees = {trips: min(o.fee_cny for o in options if o.trips == trips) for trips in _trips(ctx)}
    items = [(x, f"trips.{x}", {"fee": fees[x]}) for x in _trips(ctx)]
    return _choices("endorse.trips.title", "trips", items)


def _validity_view(ctx: Ctx) -> MessageView:
    items: list[Item] = [
        (o.code, f"option.{o.code}", {"fee": o.fee_cny})
        for o in endorse(ctx).options
        if o.trips == "multiple"
    ]
    return _choices("endorse.validity.title", "option", items)


def _fee_view(ctx: Ctx) -> MessageView:
    record = endorse(ctx)
    chosen = [
        f"query.region.{record.region}",
        f"purpose.{record.purpose}",
        f"option.{record.option}",
    ]
    return message(
        "endorse.fee.title",
        [*chosen, "", "endorse.fee.body"],
        progress="flow.take_cards",
        values={"fee": record.fee()},
        buttons=(BACK, Button("pay", "endorse.pay", "primary")),
    )


# --- states -----------------------------------------------------------------------------------


def _chip_states(config: KioskConfig, face: IdentitySteps) -> tuple[Step, ...]:
    t = config.timeouts
    permit = message(
        "endorse.permit.title",
        "endorse.permit.body",
        buttons=(BACK, Button("read", "identify.read", "primary")),
        picture=Picture.PERMIT,
    )
    reading = message("endorse.chip.reading", picture=Picture.PERMIT, waiting="endorse.chip.slow")
    failed = message(
        "endorse.chip.failed.title",
        "endorse.chip.failed.body",
        tone="warn",
        buttons=(BACK, Button("retry", "identify.retry", "primary")),
        picture=Picture.PERMIT,
    )
    return (
        State(
            "endorse_permit",
            lambda ctx: permit,
            (
                Transition("chip.placed", "endorse_chip_reading"),
                Transition("read", "endorse_chip_reading", label="tap"),
                Transition("back", MENU),
            ),
            idle=True,
        ),
        State(
            "endorse_chip_reading",
            lambda ctx: reading,
            (
                # The permit is genuine: is the person at the camera its holder?
                *face.entry("endorse.chip.ok", _chip_verdict, _genuine),
                Transition("endorse.chip.ok", "endorse_chip_refused", _chip_verdict),
                Transition("endorse.chip.failed", "endorse_chip_failed"),
                Transition(TIMEOUT, "endorse_chip_failed"),
            ),
            timeout=lambda ctx: t.device_s,
            on_enter=_read_chip,
        ),
        State(
            "endorse_chip_failed",
            lambda ctx: failed,
            (
                Transition("retry", "endorse_chip_reading"),
                Transition("chip.placed", "endorse_chip_reading"),
                Transition("back", MENU),
            ),
            idle=True,
        ),
        closing_state(
            "endorse_chip_refused",
            lambda ctx: message(
                "endorse.chip.refused.title",
                f"chip.pa.{endorse(ctx).chip}",
                tone="error",
                progress="flow.take_cards",
                buttons=FINISH,
            ),
            t.message_s * 4,
        ),
    )


def _choice_states(config: KioskConfig) -> tuple[Step, ...]:
    def regions(ctx: Ctx) -> tuple[str, ...]:
        return _verdict(ctx).regions

    def purposes(ctx: Ctx) -> tuple[str, ...]:
        return _verdict(ctx).purposes

    return (
        State(
            "endorse_region",
            _region_view,
            (
                _pick("region", "endorse_purpose", regions, _set_region),
                Transition("back", MENU),
            ),
            idle=True,
        ),
        State(
            "endorse_purpose",
            _purpose_view,
            (
                _pick("purpose", "endorse_trips", purposes, _set_purpose),
                Transition("back", "endorse_region"),
            ),
            idle=True,
        ),
        State(
            "endorse_trips",
            _trips_view,
            (
                _pick("trips", "endorse_validity", _trips, _set_trips, _is_multiple),
                _pick("trips", "endorse_fee", _trips, _set_trips),
                Transition("back", "endorse_purpose"),
            ),
            idle=True,
        ),
        State(
            "endorse_validity",
            _validity_view,
            (
                _pick("option", "endorse_fee", _multi_codes, _set_option),
                Transition("back", "endorse_trips"),
            ),
            idle=True,
        ),
        State(
            "endorse_fee",
            _fee_view,
            (
                Transition("pay", "endorse_ordering"),
                Transition("back", "endorse_validity", guard=_chose_multiple, label="multiple"),
                Transition("back", "endorse_trips"),
                Transition(TIMEOUT, ATTRACT, action=done),
            ),
            timeout=lambda ctx: config.timeouts.message_s * 6,
        ),
    )


def endorse_states(config: KioskConfig, face: IdentitySteps) -> tuple[Step, ...]:
    checking = message("endorse.checking", waiting="central.slow")
    return (
        *identify_states(config, "endorse", "endorse_checking"),
        State(
            "endorse_checking",
            lambda ctx: checking,
            (
                Transition("endorse.eligibility.ok", "endorse_unknown", guard=_unknown),
                Transition("endorse.eligibility.ok", "endorse_permit", _keep_verdict, _eligible),
                Transition(
                    "endorse.eligibility.ok", "endorse_refused", _keep_verdict, label="refused"
                ),
                Transition("endorse.eligibility.failed", "endorse_central_down"),
                Transition(TIMEOUT, "endorse_central_down"),
            ),
            timeout=lambda ctx: config.central.timeout_s * 2,
            on_enter=_check,
        ),
        central_down_state(config, "endorse_central_down"),
        central_unknown_state(config, "endorse_unknown"),
        closing_state("endorse_refused", _refused_view, config.timeouts.message_s * 4),
        *_chip_states(config, face),
        *face.states,
        *_choice_states(config),
        *payment_states(config),
    )


def services(config: KioskConfig) -> tuple[ServiceFlow, ...]:
    face = identity_steps(config, "endorse", "endorse_region")
    endorse = endorse_states(config, face)
    here = {state.name for state in endorse}
    # With a card module the permit goes in, is written and printed, and comes back.
    issuing = ("endorse_issuing", "endorse_printing", *CARD_FINISHING)
    services = (
        ServiceFlow(
            "endorse",
            "endorse_identify",
            endorse,
            icon="stamp",
            finishing=FINISHING,
            needs_central=True,
            late=face.late,
            stages=(
                Stage("stage.identify", (*identify_names("endorse"), "endorse_checking")),
                Stage(
                    "endorse.stage.permit",
                    ("endorse_permit", "endorse_chip_reading", "endorse_chip_failed"),
                ),
                Stage("stage.face", face.steps),
                Stage(
                    "endorse.stage.choose",
                    (
                        "endorse_region",
                        "endorse_purpose",
                        "endorse_trips",
                        "endorse_validity",
                        "endorse_fee",
                    ),
                ),
                Stage("endorse.stage.pay", PAY_STATES),
                Stage("endorse.stage.issue", tuple(s for s in issuing if s in here)),
            ),
        ),
        ServiceFlow(
            "query",
            "query_identify",
            query_states(config),
            icon="search",
            needs_central=True,
            stages=QUERY_STAGES,
        ),
    )
    if config.devices.rewriter is None:
        return services
    # A machine with a card module also prints a faded endorsement again, free.
    reprint = ServiceFlow(
        "reprint",
        "reprint_identify",
        reprint_states(config),
        icon="print",
        finishing=REPRINT_FINISHING,
        needs_central=True,
        stages=(
            Stage("stage.identify", (*identify_names("reprint"), "reprint_checking")),
            Stage("reprint.stage.print", REPRINT_FINISHING),
        ),
    )
    return (*services, reprint)
