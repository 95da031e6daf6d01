"""Free EMS delivery instead of pickup (the seed's 免费邮寄): from the confirm step, the
citizen has the document posted to the address on record, or to one typed on the on-screen
keyboard; the order is journaled in one outbox commit with its ``pickup.delivery`` entry
(``PickupService.order_delivery``: nothing lost, nothing twice) before they are told, the
document stays in the machine (withheld here; staff take it out to post it), and a
confirmation slip is printed (a QR code on screen when it cannot be).

pickup_confirm --deliver--> address (on record / typed) --confirm--> ordering -> printing ->
done (next document, or finish). Back leads to the step before; every step has a deadline.
A citizen who collected a document before ordering delivery of the next still gets the
receipt for what they took when they finish.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from kiosk.config import KioskConfig
from kiosk.core.calls import answer, call, failure
from kiosk.core.engine import SAME, TIMEOUT, Alert, Command, Event, State, Transition
from kiosk.core.views import Button, MessageView, Picture, TextEntryView
from kiosk.machine.ports import PRINTER
from kiosk.machine.receipts import Feed, QrCode, Slip, SlipItem, TextLine, centre
from kiosk.terminals.home.flow import ATTRACT, TerminalContext
from kiosk.terminals.home.steps import done, message, qr_png
from kiosk.terminals.identity.flow import proven
from kiosk.terminals.pickup.ports import HANDOVER, DeliveryOrdered, Document
from kiosk.terminals.pickup.texts import TEXTS

Ctx = TerminalContext
Step = State[TerminalContext]
Move = Transition[TerminalContext]

ADDRESS = "pickup_delivery_address"
TYPING = "pickup_delivery_typing"
ORDERING = "pickup_delivery_ordering"
PRINTING = "pickup_delivery_printing"
DONE = "pickup_delivery_done"
FAILED = "pickup_delivery_failed"
FINISHING = (ORDERING, PRINTING, DONE, FAILED)
ADDRESS_STATES, ORDER_STATES = (ADDRESS, TYPING), (ORDERING, PRINTING)
MIN_ADDRESS, MAX_ADDRESS = 8, 120  # characters: province to door number, and the slip's room


@dataclass
class DeliveryRecord:
    """The delivery's record of one citizen. The address is personal data: shown to its
    owner, sent in the encrypted outbox entry, dropped with the citizen's other records."""

    on_record: str = field(default="", repr=False)  # central's, with the documents found
    typed: str = field(default="", repr=False)  # typed on the keyboard
    use_typed: bool = False
    short: bool = False  # the last text typed was too short
    order: DeliveryOrdered | None = None
    no_receipt: bool = False

    @property
    def address(self) -> str:
        return self.typed if self.use_typed else self.on_record


def delivery(ctx: Ctx) -> DeliveryRecord:
    return ctx.part(DeliveryRecord)


def remember_address(ctx: Ctx, address: str) -> None:
    """The address on record that came with the documents found."""
    ctx.drop_part(DeliveryRecord)
    delivery(ctx).on_record = address


def _typed(ctx: Ctx, event: Event) -> bool:
    text = " ".join(str(event.data.get("text", "")).split())
    record = delivery(ctx)
    record.short = not (MIN_ADDRESS <= len(text) <= MAX_ADDRESS and text.isprintable())
    if not record.short:
        record.typed, record.use_typed = text, True
    return not record.short


def _ordered(ctx: Ctx, event: Event) -> list[Command]:
    delivery(ctx).order = answer(event, DeliveryOrdered)
    return []


def _no_receipt(ctx: Ctx, event: Event) -> list[Command]:
    delivery(ctx).no_receipt = True
    return [Alert("printer.receipt_failed", "delivery recorded, slip not printed")]


def _failed(ctx: Ctx, event: Event) -> list[Command]:
    return [Alert("pickup.delivery_failed", f"{event.name}: {failure(event).code}")]


def delivery_slip(
    config: KioskConfig, document: Document, order: DeliveryOrdered, address: str, now: datetime
) -> Slip:
    """The confirmation (免费邮寄确认凭条): order and document numbers, the address."""
    key = f"pickup.kind.{document.kind}"
    key = key if key in TEXTS else "pickup.kind.other"
    items: list[SlipItem] = [
        centre("证件免费邮寄确认凭条", bold=True, large=True),
        centre("Free EMS delivery confirmation"),
        Feed(1),
        TextLine(f"{TEXTS.text(key, 'zh')} {TEXTS.text(key, 'en')}", bold=True),
        TextLine(f"证件受理号 Document no.: {document.document_no}"),
        TextLine(f"邮寄单号 Order no.: {order.order_no}", bold=True),
        QrCode(order.order_no),
        TextLine("收件地址 Address:"),
        TextLine(address),
        TextLine(f"时间 Time: {now:%Y-%m-%d %H:%M}"),
        TextLine(f"终端 Kiosk: {config.kiosk.id}"),
        Feed(1),
        TextLine("签收时请出示本人身份证。"),
        TextLine("Show your ID card when you sign for it."),
    ]
    return Slip("delivery", tuple(items))


def delivery_states(
    config: KioskConfig,
    current: Callable[[Ctx], Document],
    more: Callable[[Ctx], bool],
    advance: Callable[[Ctx], None],
    confirm: str,
    *,
    receipt: tuple[str, Callable[[Ctx], bool]],
) -> tuple[Step, ...]:
    """The delivery's states, entered with ``deliver`` from ``confirm`` (the step that shows
    the ``current`` document); after one is ordered, ``next`` goes back there for the next
    document (``advance``) when there are ``more``. ``receipt``: the step printing the
    receipt for documents taken, and whether any were: finishing goes there first."""
    t = config.timeouts
    receipt_step, collected = receipt

    def to_receipt(event: str) -> Move:
        return Transition(event, receipt_step, guard=lambda ctx, e: collected(ctx),
                          label="documents taken: their receipt")  # fmt: skip

    def address_view(ctx: Ctx) -> MessageView:
        record = delivery(ctx)
        back = Button("back", "app.back")
        if not record.address:
            return message(
                "pickup.delivery.address.title",
                ("pickup.delivery.address.none", "pickup.delivery.address.body"),
                buttons=(back, Button("other", "pickup.delivery.enter", "primary")),
            )
        note = "pickup.delivery.address.typed" if record.use_typed else None
        return message(
            "pickup.delivery.address.title",
            ("pickup.delivery.address.line", "pickup.delivery.address.body"),
            values={"address": record.address},
            note=note,
            buttons=(
                back,
                Button("other", "pickup.delivery.other"),
                Button("confirm", "pickup.delivery.confirm", "primary"),
            ),
        )

    def typing_view(ctx: Ctx) -> TextEntryView:
        record = delivery(ctx)
        return TextEntryView(
            "pickup.delivery.typing.title",
            "pickup.delivery.typing.body",
            value=record.typed,
            max_length=MAX_ADDRESS,
            error="pickup.delivery.typing.short" if record.short else None,
        )

    def order(ctx: Ctx, event: Event) -> list[Command]:
        document, address, checked = current(ctx), delivery(ctx).address, proven(ctx)
        return [
            call(
                HANDOVER,
                lambda desk, s: desk.order_delivery(document, address, checked, s),
                "pickup.delivery",
            )
        ]

    def print_slip(ctx: Ctx, event: Event) -> list[Command]:
        record = delivery(ctx)
        assert record.order is not None
        slip = delivery_slip(config, current(ctx), record.order, record.address, datetime.now())
        return [call(PRINTER, lambda printer, s: printer.print(slip, s), "pickup.delivery.print")]

    def done_view(ctx: Ctx) -> MessageView:
        record = delivery(ctx)
        assert record.order is not None
        buttons = [Button("finished", "flow.finish", "primary")]
        if more(ctx):
            buttons.insert(0, Button("next", "pickup.delivery.next"))
        body = ["pickup.delivery.done.body"]
        if record.no_receipt:
            body.append("pickup.delivery.done.no_receipt")
        return message(
            "pickup.delivery.done.title",
            body,
            tone="ok",
            code=record.order.order_no,
            image_png=qr_png(record.order.order_no, box=6) if record.no_receipt else None,
            progress="flow.take_card",
            buttons=buttons,
        )

    def next_document(ctx: Ctx, event: Event) -> list[Command]:
        record = delivery(ctx)
        record.order, record.no_receipt, record.short = None, False, False
        advance(ctx)
        return []

    def has_more(ctx: Ctx, event: Event) -> bool:
        return more(ctx)

    stay = Transition[Ctx]("home", SAME, label="not while the order is recorded")
    ordering = message("pickup.delivery.ordering", waiting="central.slow")
    printing = message("pickup.delivery.printing", picture=Picture.RECEIPT, waiting="receipt.slow")
    failed = message(
        "pickup.delivery.failed.title",
        "pickup.delivery.failed.body",
        tone="error",
        buttons=(Button("back", "app.back"), Button("finished", "flow.finish", "primary")),
    )
    return (
        State(
            ADDRESS,
            address_view,
            (
                Transition("confirm", ORDERING, guard=lambda ctx, e: bool(delivery(ctx).address)),
                Transition("other", TYPING),
                Transition("back", confirm),
            ),
            idle=True,
        ),
        State(
            TYPING,
            typing_view,
            (
                Transition("text", ADDRESS, guard=_typed, label="an address"),
                Transition("text", SAME, label="too short"),
                Transition("back", ADDRESS),
            ),
            idle=True,
        ),
        State(
            ORDERING,
            lambda ctx: ordering,
            (
                Transition("pickup.delivery.ok", PRINTING, action=_ordered),
                Transition("pickup.delivery.failed", FAILED, action=_failed),
                Transition(TIMEOUT, FAILED, action=_failed),
                stay,
            ),
            timeout=lambda ctx: t.device_s + 5,
            on_enter=order,
        ),
        State(
            PRINTING,
            lambda ctx: printing,
            (
                Transition("pickup.delivery.print.ok", DONE),
                Transition("pickup.delivery.print.failed", DONE, action=_no_receipt),
                Transition(TIMEOUT, DONE, action=_no_receipt),
                stay,
            ),
            timeout=lambda ctx: t.device_s,
            on_enter=print_slip,
        ),
        State(
            DONE,
            done_view,
            (
                Transition("next", confirm, action=next_document, guard=has_more),
                to_receipt("finished"),
                Transition("finished", ATTRACT, action=done),
                to_receipt(TIMEOUT),
                Transition(TIMEOUT, ATTRACT, action=done),
            ),
            timeout=lambda ctx: t.message_s * 4,
        ),
        State(
            FAILED,
            lambda ctx: failed,
            (
                # Nothing was ordered: the document may still be collected.
                Transition("back", confirm),
                to_receipt("finished"),
                Transition("finished", ATTRACT, action=done),
                to_receipt(TIMEOUT),
                Transition(TIMEOUT, ATTRACT, action=done),
            ),
            timeout=lambda ctx: t.message_s * 3,
        ),
    )


def deliver_button() -> Button:
    return Button("deliver", "pickup.deliver")
