"""The fee and the issue: a payment order the citizen pays by scanning a QR code with a phone
(the order is journaled by the payment service before the code is shown), then the
endorsement issued against the paid order, then the payment slip. Every way out says what
happened to the money: nothing charged, refunded, or issued."""

from __future__ import annotations

from dataclasses import asdict

from kiosk.config import KioskConfig
from kiosk.core.calls import answer, call, failure
from kiosk.core.engine import SAME, TIMEOUT, Alert, Command, Event, State, Transition
from kiosk.core.views import Button, MessageView, Picture
from kiosk.machine.ports import PRINTER
from kiosk.terminals.home.flow import TerminalContext
from kiosk.terminals.home.steps import FINISH, closing_state, message, qr_png
from kiosk.terminals.identity.flow import proven
from kiosk.terminals.renewal.card_flow import CARD_FINISHING, card_states
from kiosk.terminals.renewal.ports import PAYMENT, Issued, OrderShown, PaymentState
from kiosk.terminals.renewal.receipts import payment_slip
from kiosk.terminals.renewal.record import endorse

Ctx = TerminalContext
Step = State[TerminalContext]
Move = Transition[TerminalContext]

# States where the citizen's money may be moving, or they are being told what happened to
# it: a failing device does not end them (the kiosk goes out of service right after), and in
# the moving ones the header's End button cancels the order or waits.
FINISHING = (
    "endorse_ordering",
    "endorse_paying",
    "endorse_pay_check",
    "endorse_cancelling",
    "endorse_issuing",
    "endorse_printing",
    "endorse_done",
    "endorse_pay_unavailable",
    "endorse_cancelled",
    "endorse_expired",
    "endorse_unconfirmed",
    "endorse_refunded",
    *CARD_FINISHING,
)
# The payment's steps while the citizen is paying (one stage for them).
PAY_STATES = ("endorse_ordering", "endorse_paying", "endorse_pay_check", "endorse_cancelling")
_STAY = Transition[Ctx]("home", SAME, label="not while money moves")


def _order(ctx: Ctx) -> OrderShown:
    order = endorse(ctx).order
    if order is None:
        raise LookupError("no payment order in this renewal")
    return order


def _ask_order(ctx: Ctx, event: Event) -> list[Command]:
    choice = endorse(ctx).choice
    return [call(PAYMENT, lambda pay, session: pay.order(choice, session), "endorse.order")]


def _ordered(ctx: Ctx, event: Event) -> list[Command]:
    record = endorse(ctx)
    record.order = answer(event, OrderShown)
    record.expires_in_s, record.missed = record.order.expires_in_s, 0
    return []


def _poll(ctx: Ctx, event: Event) -> list[Command]:
    order_id = _order(ctx).order_id
    return [call(PAYMENT, lambda pay, session: pay.status(order_id, session), "endorse.payment")]


def _cancel(ctx: Ctx, event: Event) -> list[Command]:
    order_id = _order(ctx).order_id
    return [call(PAYMENT, lambda pay, session: pay.cancel(order_id, session), "endorse.cancel")]


def _issue(ctx: Ctx, event: Event) -> list[Command]:
    order_id, choice, checked = _order(ctx).order_id, endorse(ctx).choice, proven(ctx)
    return [
        call(
            PAYMENT,
            lambda pay, session: pay.issue(order_id, choice, checked, session),
            "endorse.issue",
        )
    ]


def _paid(ctx: Ctx, event: Event) -> bool:
    return answer(event, PaymentState).status == "paid"


def _unpaid(ctx: Ctx, event: Event) -> bool:
    return answer(event, PaymentState).status == "unpaid"


def _answered(ctx: Ctx, event: Event) -> list[Command]:
    record = endorse(ctx)
    record.missed, record.expires_in_s = 0, answer(event, PaymentState).expires_in_s
    return []


def _missed(ctx: Ctx, event: Event) -> list[Command]:
    endorse(ctx).missed += 1
    return []


def _refunded(ctx: Ctx, event: Event) -> bool:
    return failure(event).code == "renewal.refunded"


def _issued(ctx: Ctx, event: Event) -> list[Command]:
    endorse(ctx).issued = answer(event, Issued)
    return []


def _unconfirmed_alert(ctx: Ctx, event: Event) -> list[Command]:
    # The order number is not personal data; staff find the order by it.
    order = endorse(ctx).order
    order_id, why = order.order_id if order else "?", failure(event).code
    return [Alert("renewal.unconfirmed", f"payment order {order_id} not settled: {why}")]


def _refund_alert(ctx: Ctx, event: Event) -> list[Command]:
    order_id = _order(ctx).order_id
    return [Alert("renewal.refunded", f"payment order {order_id} refunded: endorsement refused")]


def _slip_alert(ctx: Ctx, event: Event) -> list[Command]:
    # The order id, not the endorsement number: alerts are kept in clear and hold no
    # document numbers (the counter reprints the slip from the order).
    why = f"endorsement issued for order {_order(ctx).order_id}, slip not printed"
    return [Alert("printer.receipt_failed", f"{why}: {failure(event).code}")]


def _paying_view(ctx: Ctx) -> MessageView:
    order, record = _order(ctx), endorse(ctx)
    minutes = max(1, -(-record.expires_in_s // 60))  # rounded up
    return message(
        "endorse.paying.title",
        ["endorse.paying.body", "endorse.paying.left"],
        values={"amount": order.amount_cny, "minutes": minutes},
        # A payment link is a longer QR code than a photo number: smaller modules.
        image_png=qr_png(order.pay_url, box=8),
        progress="flow.take_cards",
        buttons=(Button("cancel", "endorse.paying.cancel"),),
        picture=Picture.PHONE_PAY,
    )


def _done_view(ctx: Ctx) -> MessageView:
    record = endorse(ctx)
    issued = record.issued
    assert issued is not None
    slip = "endorse.done.slip" if record.slip else "endorse.done.no_slip"
    where = ["endorse.done.record"]
    card = record.card
    if card is not None:  # written onto the permit's chip (and, normally, its back)
        where = ["endorse.done.card" if card.printed else "endorse.done.card_unprinted"]
        if card.returned == "captured":
            where.append("card.captured")
    good = record.slip and (card is None or (card.printed and card.returned == "taken"))
    return message(
        "endorse.done.title",
        ["endorse.done.valid", *where, slip],
        tone="ok" if good else "warn",
        values=asdict(issued),
        code=issued.endorsement_no,
        progress="flow.take_cards",
        buttons=FINISH,
        picture=Picture.RECEIPT if record.slip else None,
    )


def payment_states(config: KioskConfig) -> tuple[Step, ...]:
    states = (*_paying_states(config), *_issue_states(config), *_money_outcomes(config))
    if config.devices.rewriter is None:
        return states
    # Central issues when it authorises the chip record: its own issue step and the refund
    # of an issue it refused are the card states' (endorse_card_refunded) instead.
    by_card = ("endorse_issuing", "endorse_refunded")
    return (*(s for s in states if s.name not in by_card), *card_states(config))


def _after_paid(config: KioskConfig) -> str:
    """A machine with a card module writes the endorsement onto the permit (central issues
    it when it authorises the chip); one without has central issue it on record only."""
    return "endorse_card" if config.devices.rewriter is not None else "endorse_issuing"


def _paying_states(config: KioskConfig) -> tuple[Step, ...]:
    pay, central_s = config.payment, config.central.timeout_s

    def too_many(ctx: Ctx, event: Event) -> bool:
        return endorse(ctx).missed + 1 >= pay.missed_polls

    unconfirmed = _unconfirmed_alert
    paid = _after_paid(config)
    ordering = message("endorse.ordering", waiting="endorse.ordering.slow")
    cancelling = message("endorse.cancelling", waiting="central.slow")
    return (
        State(
            "endorse_ordering",
            lambda ctx: ordering,
            (
                Transition("endorse.order.ok", "endorse_paying", _ordered),
                Transition("endorse.order.failed", "endorse_pay_unavailable"),
                Transition(TIMEOUT, "endorse_pay_unavailable"),
                _STAY,
            ),
            timeout=lambda ctx: central_s * 2,
            on_enter=_ask_order,
        ),
        State(
            "endorse_paying",
            _paying_view,
            (
                Transition(TIMEOUT, "endorse_pay_check"),
                Transition("cancel", "endorse_cancelling"),
                Transition("home", "endorse_cancelling", label="home: cancel the order"),
            ),
            timeout=lambda ctx: pay.poll_s,
        ),
        State(
            "endorse_pay_check",
            _paying_view,
            (
                Transition("endorse.payment.ok", paid, guard=_paid),
                Transition("endorse.payment.ok", "endorse_paying", _answered, _unpaid),
                Transition("endorse.payment.ok", "endorse_expired", label="expired"),
                Transition("endorse.payment.failed", "endorse_unconfirmed", unconfirmed, too_many),
                Transition("endorse.payment.failed", "endorse_paying", _missed),
                Transition(TIMEOUT, "endorse_unconfirmed", unconfirmed, too_many),
                Transition(TIMEOUT, "endorse_paying", _missed),
                Transition("cancel", "endorse_cancelling"),
                Transition("home", "endorse_cancelling", label="home: cancel the order"),
            ),
            timeout=lambda ctx: central_s * 2,
            on_enter=_poll,
        ),
        State(
            "endorse_cancelling",
            lambda ctx: cancelling,
            (
                Transition("endorse.cancel.ok", paid, guard=_paid),
                Transition("endorse.cancel.ok", "endorse_cancelled"),
                Transition("endorse.cancel.failed", "endorse_unconfirmed", unconfirmed),
                Transition(TIMEOUT, "endorse_unconfirmed", unconfirmed),
                _STAY,
            ),
            timeout=lambda ctx: central_s * 2,
            on_enter=_cancel,
        ),
    )


def _issue_states(config: KioskConfig) -> tuple[Step, ...]:
    t, central_s = config.timeouts, config.central.timeout_s

    def print_slip(ctx: Ctx, event: Event) -> list[Command]:
        issued = endorse(ctx).issued
        assert issued is not None
        slip = payment_slip(config, issued)
        return [call(PRINTER, lambda printer, s: printer.print(slip, s), "endorse.print")]

    def slip_printed(ctx: Ctx, event: Event) -> list[Command]:
        endorse(ctx).slip = True
        return []

    issuing = message("endorse.issuing", waiting="central.slow")
    printing = message("endorse.printing", picture=Picture.RECEIPT, waiting="receipt.slow")
    return (
        State(
            "endorse_issuing",
            lambda ctx: issuing,
            (
                Transition("endorse.issue.ok", "endorse_printing", _issued),
                Transition("endorse.issue.failed", "endorse_refunded", _refund_alert, _refunded),
                Transition("endorse.issue.failed", "endorse_unconfirmed", _unconfirmed_alert),
                Transition(TIMEOUT, "endorse_unconfirmed", _unconfirmed_alert),
                _STAY,
            ),
            # The issue, and a refund if central refuses it: two requests.
            timeout=lambda ctx: central_s * 3,
            on_enter=_issue,
        ),
        State(
            "endorse_printing",
            lambda ctx: printing,
            (
                Transition("endorse.print.ok", "endorse_done", slip_printed),
                Transition("endorse.print.failed", "endorse_done", _slip_alert),
                Transition(TIMEOUT, "endorse_done", _slip_alert),
                _STAY,
            ),
            timeout=lambda ctx: t.device_s,
            on_enter=print_slip,
        ),
        closing_state("endorse_done", _done_view, t.message_s * 4),
    )


def _money_outcomes(config: KioskConfig) -> tuple[Step, ...]:
    """The last screens of a payment that did not end in an endorsement: each says what
    happened to the money."""
    seconds = config.timeouts.message_s * 4

    def last(name: str, title: str, body: list[str], tone: str = "warn") -> Step:
        def view(ctx: Ctx) -> MessageView:
            order = endorse(ctx).order
            return message(
                title,
                body,
                tone=tone,
                values={"amount": order.amount_cny if order else ""},
                progress="flow.take_cards",
                buttons=FINISH,
            )

        return closing_state(name, view, seconds)

    return (
        last(
            "endorse_pay_unavailable",
            "endorse.pay_unavailable.title",
            ["endorse.nothing_charged", "endorse.pay_unavailable.body"],
        ),
        last("endorse_cancelled", "endorse.cancelled.title", ["endorse.nothing_charged"], "info"),
        last(
            "endorse_expired", "endorse.expired.title", ["endorse.nothing_charged", "endorse.again"]
        ),
        last("endorse_unconfirmed", "endorse.unconfirmed.title", ["endorse.unconfirmed.body"]),
        last("endorse_refunded", "endorse.refunded.title", ["endorse.refunded.body"]),
    )
