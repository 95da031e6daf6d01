"""The permit in the card module, as the citizen sees it (a renewal machine with a
``[devices.rewriter]``).

Endorse, after payment: "insert your permit" (a way out: cancel, refunded) -> "writing your
endorsement, do not remove the card" with its steps -> "take your permit" -> the payment slip
-> done. The service runs the whole issuance as one call (``CARD``) and posts its steps
(``CARD_STEP``); every failure names what happened to the money and what to do.

Reprint (free, from the menu): ID card -> the permit on record -> "insert your permit" -> the
chip's record checked by central -> the back printed again -> "take your permit".
"""

from __future__ import annotations

from collections.abc import Callable

from kiosk.config import KioskConfig
from kiosk.core.calls import answer, call, failure
from kiosk.core.engine import SAME, TIMEOUT, Action, Alert, Command, Event, State, Transition
from kiosk.core.views import Button, MessageView, Picture
from kiosk.terminals.home.flow import TerminalContext
from kiosk.terminals.home.identify import (
    central_down_state,
    central_unknown_state,
    identify_states,
)
from kiosk.terminals.home.steps import FINISH, closing_state, message
from kiosk.terminals.identity.flow import proven
from kiosk.terminals.renewal.ports import (
    CARD,
    CARD_CANCEL,
    CARD_STEP,
    LOOKUP,
    CardIssued,
    Reprinted,
    Verdict,
)
from kiosk.terminals.renewal.record import endorse, reprint

Ctx = TerminalContext
Step = State[TerminalContext]
Move = Transition[TerminalContext]

WRITING_STEPS = ("authorising", "writing", "verifying", "printing")
# Why a permit was not endorsed (or reprinted): each has a title and a body in the texts.
CARD_FAILURES = (
    "renewal.no_card",
    "renewal.card_refused",
    "renewal.card_jam",
    "renewal.chip_failed",
    "renewal.no_endorsement",
    "renewal.record_invalid",
)
_STAY = Transition[Ctx]("home", SAME, label="not while the permit is in the machine")
_MARKS = {"done": "✓", "now": "▶", "todo": "·"}


def _step_is(*steps: str) -> Callable[[Ctx, Event], bool]:
    def guard(ctx: Ctx, event: Event) -> bool:
        return event.data.get("step") in steps

    return guard


def _progress_values(step: str) -> dict[str, str]:
    """A mark per writing step: done, now, to do."""
    at = WRITING_STEPS.index(step) if step in WRITING_STEPS else -1
    return {
        s: _MARKS["done" if i < at else "now" if i == at else "todo"]
        for i, s in enumerate(WRITING_STEPS)
    }


def _failure_key(code: str) -> str:
    return code.removeprefix("renewal.") if code in CARD_FAILURES else "other"


def _insert_view(title: str, cancelling: bool, reversed_: bool) -> MessageView:
    body = ["card.insert.body", "card.insert.how"]
    if reversed_:
        body = ["card.reversed.body", "card.insert.how"]
    return message(
        title,
        ["card.cancelling"] if cancelling else body,
        tone="warn" if reversed_ else "info",
        progress="card.insert.left",
        buttons=() if cancelling else (Button("cancel", "card.insert.cancel"),),
        picture=Picture.PERMIT,
    )


# --- endorse: the issuance after payment ----------------------------------------------------


def _issue_card(ctx: Ctx, event: Event) -> list[Command]:
    record = endorse(ctx)
    order = record.order
    if order is None:
        raise LookupError("no payment order in this renewal")
    order_id, choice, checked = order.order_id, record.choice, proven(ctx)
    record.card_step, record.cancelling = "", False
    return [
        call(
            CARD,
            lambda card, session: card.issue_card(order_id, choice, checked, session),
            "endorse.card",
        )
    ]


def _keep_step(ctx: Ctx, event: Event) -> list[Command]:
    endorse(ctx).card_step = str(event.data.get("step", ""))
    return []


def _cancel_insert(ctx: Ctx, event: Event) -> list[Command]:
    endorse(ctx).cancelling = True
    return [
        call(CARD_CANCEL, lambda card, session: card.cancel_insert(session), "endorse.card_cancel")
    ]


def _card_done(ctx: Ctx, event: Event) -> list[Command]:
    record = endorse(ctx)
    record.card = answer(event, CardIssued)
    record.issued = record.card.issued
    return []


def _card_failed(ctx: Ctx, event: Event) -> list[Command]:
    endorse(ctx).card_failure = failure(event).code
    order = endorse(ctx).order
    order_id = order.order_id if order else "?"
    code = failure(event).code
    alerts: list[Command] = []
    if code == "renewal.card_jam":
        alerts.append(Alert("renewal.card_jam", f"permit stuck in the card module ({order_id})"))
    alerts.append(Alert("renewal.refunded", f"payment order {order_id} refunded: {code}"))
    return alerts


def _pending_alert(ctx: Ctx, event: Event) -> list[Command]:
    order = endorse(ctx).order
    order_id = order.order_id if order else "?"
    why = failure(event).code if event.name.endswith(".failed") else "timeout"
    return [Alert("renewal.unconfirmed", f"payment order {order_id}: permit not endorsed ({why})")]


def _module_states(
    names: tuple[str, ...],
    views: tuple[Callable[[Ctx], MessageView], ...],
    moves: Callable[[str], tuple[Move, ...]],
    *,
    start: Action[Ctx],
    cancel: Action[Ctx],
    whole_s: float,
) -> tuple[State[Ctx], ...]:
    """The permit in the card module, for issuing or reprinting: getting ready (``start``
    on entry), insert it (``cancel`` while waiting), the module at work, take it back.
    Every one ends by ``whole_s`` at the latest."""
    preparing, inserting, working, taking = names
    insert_view, work_view, take_view = views
    ready = message("card.preparing")
    return (
        State(
            preparing,
            lambda ctx: ready,
            moves(preparing),
            timeout=lambda ctx: whole_s,
            on_enter=start,
        ),
        State(
            inserting,
            insert_view,
            (*moves(inserting), Transition("cancel", SAME, cancel)),
            timeout=lambda ctx: whole_s,
        ),
        State(working, work_view, moves(working), timeout=lambda ctx: whole_s),
        State(taking, take_view, moves(taking), timeout=lambda ctx: whole_s),
    )


def card_states(config: KioskConfig) -> tuple[Step, ...]:
    """The endorsement onto the permit, entered at ``endorse_card`` once the order is paid;
    it ends at ``endorse_printing`` (the slip), ``endorse_card_refunded`` or
    ``endorse_unconfirmed``."""
    t, pay = config.timeouts, config.payment
    rewriter = config.devices.rewriter
    take_s = rewriter.take_timeout_s if rewriter is not None else 30.0
    whole_s = pay.card_insert_s + take_s + t.device_s * 8  # the service ends before this

    def moves(here: str) -> tuple[Move, ...]:
        """What every card state does with the service's steps and its answer."""
        return (
            Transition(CARD_STEP, "endorse_card_insert", _keep_step, _step_is("insert")),
            Transition(CARD_STEP, "endorse_card_insert", _keep_step, _step_is("reversed")),
            Transition(
                CARD_STEP,
                SAME if here == "endorse_card_writing" else "endorse_card_writing",
                _keep_step,
                _step_is("held", *WRITING_STEPS),
            ),
            Transition(CARD_STEP, "endorse_card_take", _keep_step, _step_is("take")),
            Transition("endorse.card.ok", "endorse_printing", _card_done),
            Transition(
                "endorse.card.failed",
                "endorse_unconfirmed",
                _pending_alert,
                lambda ctx, event: failure(event).code == "renewal.card_pending",
            ),
            Transition("endorse.card.failed", "endorse_card_refunded", _card_failed),
            Transition(TIMEOUT, "endorse_unconfirmed", _pending_alert),
            Transition("endorse.card_cancel.ok", SAME, label="cancel asked"),
            Transition("endorse.card_cancel.failed", SAME, label="cancel asked"),
            _STAY,
        )

    def insert_view(ctx: Ctx) -> MessageView:
        record = endorse(ctx)
        return _insert_view("card.insert.title", record.cancelling, record.card_step == "reversed")

    def writing_view(ctx: Ctx) -> MessageView:
        step = endorse(ctx).card_step
        return message(
            "card.writing.title",
            ["card.writing.body", "", *(f"card.step.{s}" for s in WRITING_STEPS)],
            values=_progress_values(step),
            progress="card.writing.keep",
            picture=Picture.PERMIT,
        )

    def take_view(ctx: Ctx) -> MessageView:
        return message(
            "card.take.title",
            "card.take.body",
            tone="ok",
            progress="card.take.left",
            picture=Picture.PERMIT_TAKE,
        )

    def refunded_view(ctx: Ctx) -> MessageView:
        record = endorse(ctx)
        key = _failure_key(record.card_failure)
        order = record.order
        return message(
            f"card.failed.{key}.title",
            [f"card.failed.{key}.body", "card.refunded"],
            tone="warn",
            values={"amount": order.amount_cny if order else ""},
            progress="flow.take_cards",
            buttons=FINISH,
        )

    return (
        *_module_states(
            ("endorse_card", "endorse_card_insert", "endorse_card_writing", "endorse_card_take"),
            (insert_view, writing_view, take_view),
            moves,
            start=_issue_card,
            cancel=_cancel_insert,
            whole_s=whole_s,
        ),
        closing_state("endorse_card_refunded", refunded_view, t.message_s * 4),
    )


CARD_FINISHING = (
    "endorse_card",
    "endorse_card_insert",
    "endorse_card_writing",
    "endorse_card_take",
    "endorse_card_refunded",
)


# --- reprint ----------------------------------------------------------------------------------


def _look_up(ctx: Ctx, event: Event) -> list[Command]:
    ctx.drop_part(type(reprint(ctx)))
    return [call(LOOKUP, lambda central, session: central.eligibility(session), "reprint.permit")]


def _on_record(ctx: Ctx, event: Event) -> bool:
    verdict = answer(event, Verdict)
    return verdict.known and verdict.permit_on_record


def _not_known(ctx: Ctx, event: Event) -> bool:
    return not answer(event, Verdict).known


def _reprint(ctx: Ctx, event: Event) -> list[Command]:
    record = reprint(ctx)
    record.step, record.cancelling = "", False
    return [call(CARD, lambda card, session: card.reprint(session), "reprint.card")]


def _keep_reprint_step(ctx: Ctx, event: Event) -> list[Command]:
    reprint(ctx).step = str(event.data.get("step", ""))
    return []


def _cancel_reprint(ctx: Ctx, event: Event) -> list[Command]:
    reprint(ctx).cancelling = True
    return [
        call(CARD_CANCEL, lambda card, session: card.cancel_insert(session), "reprint.card_cancel")
    ]


def _reprinted(ctx: Ctx, event: Event) -> list[Command]:
    reprint(ctx).reprinted = answer(event, Reprinted)
    return []


def _reprint_failed(ctx: Ctx, event: Event) -> list[Command]:
    code = failure(event).code
    reprint(ctx).failure = code
    if code == "renewal.card_jam":
        return [Alert("renewal.card_jam", "permit stuck in the card module (reprint)")]
    return []


def reprint_states(config: KioskConfig) -> tuple[Step, ...]:
    t, pay = config.timeouts, config.payment
    rewriter = config.devices.rewriter
    take_s = rewriter.take_timeout_s if rewriter is not None else 30.0
    whole_s = pay.card_insert_s + take_s + t.device_s * 6

    def moves(here: str) -> tuple[Move, ...]:
        return (
            Transition(CARD_STEP, "reprint_insert", _keep_reprint_step, _step_is("insert")),
            Transition(CARD_STEP, "reprint_insert", _keep_reprint_step, _step_is("reversed")),
            Transition(
                CARD_STEP,
                SAME if here == "reprint_printing" else "reprint_printing",
                _keep_reprint_step,
                _step_is("held", "printing"),
            ),
            Transition(CARD_STEP, "reprint_take", _keep_reprint_step, _step_is("take")),
            Transition("reprint.card.ok", "reprint_done", _reprinted),
            Transition("reprint.card.failed", "reprint_failed", _reprint_failed),
            Transition(TIMEOUT, "reprint_failed", _reprint_failed),
            Transition("reprint.card_cancel.ok", SAME, label="cancel asked"),
            Transition("reprint.card_cancel.failed", SAME, label="cancel asked"),
            _STAY,
        )

    def insert_view(ctx: Ctx) -> MessageView:
        record = reprint(ctx)
        return _insert_view("reprint.insert.title", record.cancelling, record.step == "reversed")

    def printing_view(ctx: Ctx) -> MessageView:
        return message("reprint.printing.title", "card.writing.keep", picture=Picture.PERMIT)

    def take_view(ctx: Ctx) -> MessageView:
        return message(
            "card.take.title",
            "card.take.body",
            tone="ok",
            progress="card.take.left",
            picture=Picture.PERMIT_TAKE,
        )

    def done_view(ctx: Ctx) -> MessageView:
        done = reprint(ctx).reprinted
        assert done is not None
        lines = [
            "reprint.done.body",
            "reprint.done.valid" if done.current else "reprint.done.expired",
        ]
        if done.returned == "captured":
            lines.append("card.captured")
        return message(
            "reprint.done.title",
            lines,
            tone="ok" if done.returned == "taken" else "warn",
            values={"valid_until": done.valid_until},
            code=done.endorsement_no,
            progress="flow.take_card",
            buttons=FINISH,
        )

    def failed_view(ctx: Ctx) -> MessageView:
        key = _failure_key(reprint(ctx).failure)
        return message(
            f"card.failed.{key}.title",
            [f"card.failed.{key}.body", "reprint.free"],
            tone="warn",
            progress="flow.take_cards",
            buttons=FINISH,
        )

    checking = message("reprint.checking")
    return (
        *identify_states(config, "reprint", "reprint_checking"),
        State(
            "reprint_checking",
            lambda ctx: checking,
            (
                Transition("reprint.permit.ok", "reprint_unknown", guard=_not_known),
                Transition("reprint.permit.ok", "reprint_card", guard=_on_record),
                Transition("reprint.permit.ok", "reprint_unknown", label="no permit on record"),
                Transition("reprint.permit.failed", "reprint_central_down"),
                Transition(TIMEOUT, "reprint_central_down"),
            ),
            timeout=lambda ctx: config.central.timeout_s * 2,
            on_enter=_look_up,
        ),
        central_down_state(config, "reprint_central_down"),
        central_unknown_state(config, "reprint_unknown"),
        *_module_states(
            REPRINT_FINISHING,
            (insert_view, printing_view, take_view),
            moves,
            start=_reprint,
            cancel=_cancel_reprint,
            whole_s=whole_s,
        ),
        closing_state("reprint_done", done_view, t.message_s * 4),
        closing_state("reprint_failed", failed_view, t.message_s * 4),
    )


REPRINT_FINISHING = ("reprint_card", "reprint_insert", "reprint_printing", "reprint_take")
