"""The pickup terminal: ID card -> documents ready for this person (central) -> confirm ->
dispense (journaled, see kiosk.terminals.pickup.service) -> take it, or it is captured ->
receipt.

Documents come out one at a time; once one is moving the citizen cannot leave the step
(home is ignored) and an out-of-service switch waits until they have been told the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kiosk.config import KioskConfig
from kiosk.core.calls import answer, call, failure
from kiosk.core.engine import SAME, TIMEOUT, Alert, Command, Event, State, Transition
from kiosk.core.views import Button, MessageView, Picture
from kiosk.machine.ports import PRINTER
from kiosk.terminals.home.flow import MENU, ServiceFlow, Stage, TerminalContext
from kiosk.terminals.home.identify import (
    central_down_state,
    central_unknown_state,
    identify_names,
    identify_states,
)
from kiosk.terminals.home.steps import FINISH, closing_state, message, outcome_view
from kiosk.terminals.identity.flow import identity_steps, proven
from kiosk.terminals.pickup import delivery
from kiosk.terminals.pickup.ports import (
    AT_GATE,
    HANDOVER,
    LOOKUP,
    Document,
    DocumentsFound,
    Handover,
)
from kiosk.terminals.pickup.receipts import kind_key, pickup_receipt
from offline_queue.central_client import DocumentsElsewhere

Ctx = TerminalContext
Step = State[TerminalContext]
Move = Transition[TerminalContext]


@dataclass
class PickupRecord:
    """The pickup flow's record of one citizen."""

    documents: tuple[Document, ...] = ()
    next: int = 0  # the document being handed over
    handed: list[Document] = field(default_factory=list)
    withheld: int = 0
    elsewhere: tuple[DocumentsElsewhere, ...] = ()
    no_receipt: bool = False


def _pickup(ctx: Ctx) -> PickupRecord:
    return ctx.part(PickupRecord)


def _current(ctx: Ctx) -> Document:
    record = _pickup(ctx)
    return record.documents[record.next]


def _has_documents(ctx: Ctx, event: Event) -> bool:
    return bool(answer(event, DocumentsFound).documents)


def _unknown(ctx: Ctx, event: Event) -> bool:
    return not answer(event, DocumentsFound).known


def _found(ctx: Ctx, event: Event) -> list[Command]:
    found = answer(event, DocumentsFound)
    ctx.drop_part(PickupRecord)
    record = _pickup(ctx)
    record.documents, record.withheld, record.elsewhere = (
        found.documents,
        found.withheld,
        found.elsewhere,
    )
    delivery.remember_address(ctx, found.address)
    return []


def elsewhere_body(ctx: Ctx, prefix: str) -> tuple[str, dict[str, Any]] | None:
    """The message key (``prefix`` + machine/counter/both) and values telling the citizen
    where their other documents wait, or None when this machine holds them all."""
    places = _pickup(ctx).elsewhere
    machines = sorted({p.kiosk_id for p in places if p.kiosk_id})
    counter = any(not p.kiosk_id for p in places)
    if not (machines or counter):
        return None
    where = "both" if machines and counter else "machine" if machines else "counter"
    # Each language lists machines its own way; a template uses its own placeholder.
    return f"{prefix}.{where}", {
        "machines": ", ".join(machines),
        "machines_zh": "、".join(machines),
    }


def _lookup(ctx: Ctx, event: Event) -> list[Command]:
    return [call(LOOKUP, lambda central, s: central.documents_ready(s), "pickup.lookup")]


def _is_taken(ctx: Ctx, event: Event) -> bool:
    return answer(event, Handover).taken


def _taken(ctx: Ctx, event: Event) -> list[Command]:
    record = _pickup(ctx)
    record.handed.append(_current(ctx))
    record.next += 1
    return []


def _more(ctx: Ctx, event: Event) -> bool:
    record = _pickup(ctx)
    return answer(event, Handover).taken and record.next + 1 < len(record.documents)


def _more_after(ctx: Ctx) -> bool:
    """Documents left after the one shown now."""
    record = _pickup(ctx)
    return record.next + 1 < len(record.documents)


def _collected(ctx: Ctx) -> bool:
    """Documents taken this session (their receipt is still to print)."""
    return bool(_pickup(ctx).handed)


def _took_some(ctx: Ctx, event: Event) -> bool:
    return _collected(ctx)


def _advance(ctx: Ctx) -> None:
    _pickup(ctx).next += 1


def _retained_alert(ctx: Ctx, event: Event) -> list[Command]:
    # No document number in an alert (it is kept in clear): the pickup.retained record
    # names it, and staff list withheld documents with `kiosk pickup withheld`.
    return [
        Alert(
            "pickup.retained",
            "a document was not taken and is in the capture bin (kiosk pickup withheld)",
        )
    ]


def _failed_alert(ctx: Ctx, event: Event) -> list[Command]:
    return [Alert("pickup.dispense_failed", f"{event.name}: {failure(event).code}")]


def _no_receipt(ctx: Ctx, event: Event) -> list[Command]:
    _pickup(ctx).no_receipt = True
    return [Alert("printer.receipt_failed", "pickup recorded, receipt not printed")]


def _confirm_view(ctx: Ctx) -> MessageView:
    record, document = _pickup(ctx), _current(ctx)
    left = len(record.documents) - record.next
    return message(
        "pickup.confirm.title",
        kind_key(document.kind),
        picture=Picture.DOCUMENT,
        tone="ok",
        code=document.document_no,
        progress="pickup.confirm.more" if left > 1 else None,
        values={"count": left},
        buttons=(
            Button("back", "flow.finish" if record.handed else "app.cancel"),
            delivery.deliver_button(),
            Button("collect", "pickup.collect", "primary"),
        ),
    )


def _done_view(ctx: Ctx) -> MessageView:
    body, values = "pickup.done.body", dict[str, Any]()
    if _pickup(ctx).no_receipt:
        body = "pickup.no_receipt.body"
    elif more := elsewhere_body(ctx, "pickup.done.elsewhere"):
        body, values = more
    return message(
        "pickup.done.title",
        body,
        tone="ok",
        values=values,
        progress="flow.take_card",
        buttons=FINISH,
        picture=None if _pickup(ctx).no_receipt else Picture.RECEIPT,
    )


def _none_view(ctx: Ctx) -> MessageView:
    body, values = "pickup.none.body", dict[str, Any]()
    if _pickup(ctx).withheld:
        body = "pickup.withheld.body"
    elif where := elsewhere_body(ctx, "pickup.elsewhere"):
        body, values = where
    return message(
        "pickup.none.title",
        body,
        tone="warn",
        values=values,
        progress="flow.take_card",
        buttons=FINISH,
    )


def _handover_states(config: KioskConfig) -> tuple[Step, ...]:
    t = config.timeouts
    dispenser = config.devices.dispenser
    take_s = dispenser.take_timeout_s if dispenser is not None else 30.0

    def print_receipt(ctx: Ctx, event: Event) -> list[Command]:
        slip = pickup_receipt(config, _pickup(ctx).handed, datetime.now())
        return [call(PRINTER, lambda printer, s: printer.print(slip, s), "pickup.print")]

    def hand_over(ctx: Ctx, event: Event) -> list[Command]:
        document, checked = _current(ctx), proven(ctx)
        return [
            call(
                HANDOVER,
                lambda desk, session: desk.hand_over(document, take_s, checked, session),
                "pickup.handover",
            )
        ]

    stay = Transition[Ctx]("home", SAME, label="not while a document moves")
    # The handover's outcome (the service records it durably before it answers).
    outcome: tuple[Move, ...] = (
        Transition("pickup.handover.ok", "pickup_confirm", _taken, _more, "next document"),
        Transition("pickup.handover.ok", "pickup_printing", _taken, _is_taken, "taken"),
        Transition("pickup.handover.ok", "pickup_retained", _retained_alert, label="captured"),
        Transition("pickup.handover.failed", "pickup_failed", action=_failed_alert),
    )
    take = message(
        "pickup.take.title",
        "pickup.take.body",
        tone="ok",
        values={"seconds": int(take_s)},
        picture=Picture.DOCUMENT,
    )
    printing = message("pickup.printing", picture=Picture.RECEIPT, waiting="receipt.slow")
    return (
        State(
            "pickup_confirm",
            _confirm_view,
            (
                Transition("collect", "pickup_dispensing"),
                Transition("deliver", delivery.ADDRESS),
                # Leaving the rest for later: the receipt for what was taken comes first.
                Transition("back", "pickup_printing", guard=_took_some, label="receipt first"),
                Transition("back", MENU),
            ),
            idle=True,
        ),
        State(
            "pickup_dispensing",
            lambda ctx: message(
                "pickup.dispensing",
                code=_current(ctx).document_no,
                picture=Picture.DOCUMENT,
                waiting="pickup.dispensing.slow",
            ),
            (
                Transition(AT_GATE, "pickup_take"),
                *outcome,
                Transition(TIMEOUT, "pickup_failed", action=_failed_alert),
                stay,
            ),
            timeout=lambda ctx: t.device_s + 5,
            on_enter=hand_over,
        ),
        State(
            "pickup_take",
            lambda ctx: take,
            (*outcome, Transition(TIMEOUT, "pickup_failed", action=_failed_alert), stay),
            timeout=lambda ctx: take_s + t.device_s + 5,
        ),
        State(
            "pickup_printing",
            lambda ctx: printing,
            (
                Transition("pickup.print.ok", "pickup_done"),
                Transition("pickup.print.failed", "pickup_done", action=_no_receipt),
                Transition(TIMEOUT, "pickup_done", action=_no_receipt),
                stay,
            ),
            timeout=lambda ctx: t.device_s,
            on_enter=print_receipt,
        ),
        closing_state("pickup_done", _done_view, t.message_s * 2),
        closing_state(
            "pickup_retained",
            outcome_view("pickup.retained.title", "pickup.retained.body", "warn"),
            t.message_s * 3,
        ),
        closing_state(
            "pickup_failed",
            outcome_view("pickup.failed.title", "pickup.failed.body", "error"),
            t.message_s * 3,
        ),
    )


def services(config: KioskConfig) -> tuple[ServiceFlow, ...]:
    t = config.timeouts
    looking = message("pickup.looking", waiting="central.slow")
    # Documents found: is the person at the camera the one they were made for?
    face = identity_steps(config, "pickup", "pickup_confirm")
    states = (
        *identify_states(config, "pickup", "pickup_looking"),
        State(
            "pickup_looking",
            lambda ctx: looking,
            (
                Transition("pickup.lookup.ok", "pickup_unknown", guard=_unknown, label="no record"),
                *face.entry("pickup.lookup.ok", _found, _has_documents),
                Transition("pickup.lookup.ok", "pickup_none", action=_found),
                Transition("pickup.lookup.failed", "pickup_central_down"),
                Transition(TIMEOUT, "pickup_central_down"),
            ),
            timeout=lambda ctx: config.central.timeout_s * 2,
            on_enter=_lookup,
        ),
        central_down_state(config, "pickup_central_down"),
        central_unknown_state(config, "pickup_unknown"),
        closing_state("pickup_none", _none_view, t.message_s * 3),
        *face.states,
        *_handover_states(config),
        *delivery.delivery_states(
            config,
            _current,
            _more_after,
            _advance,
            "pickup_confirm",
            receipt=("pickup_printing", _collected),
        ),
    )
    identify = Stage("stage.identify", (*identify_names("pickup"), "pickup_looking"))
    confirm = Stage("pickup.stage.confirm", ("pickup_confirm",))
    face_check = Stage("stage.face", face.steps)
    return (
        ServiceFlow(
            "pickup",
            "pickup_identify",
            states,
            icon="document",
            finishing=FINISHING,
            needs_central=True,
            late=face.late,
            stages=(
                identify,
                face_check,
                confirm,
                Stage("pickup.stage.take", ("pickup_dispensing", "pickup_take")),
                Stage("stage.receipt", ("pickup_printing",)),
            ),
            branches=(
                (
                    identify,
                    face_check,
                    confirm,
                    Stage("pickup.stage.address", delivery.ADDRESS_STATES),
                    Stage("pickup.stage.slip", delivery.ORDER_STATES),
                ),
            ),
        ),
    )


# A document on the move, or a citizen being told where their document is, must not be cut
# off by an out-of-service switch: these states finish first.
FINISHING = (
    "pickup_dispensing",
    "pickup_take",
    "pickup_printing",
    "pickup_done",
    "pickup_retained",
    "pickup_failed",
    *delivery.FINISHING,
)
