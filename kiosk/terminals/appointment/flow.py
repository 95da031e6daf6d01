"""Appointment check-in, on every terminal's menu: scan the appointment's QR code (or type its
number) -> central checks it in -> a priority ticket is printed (or shown as a QR code when
the printer cannot) with the counter, the time and how many are ahead.

No ID card and no session: the appointment number is the citizen's key, and central holds
who it belongs to. Every step has a way back and a deadline; once central has issued the
ticket the citizen is told it before the kiosk may go out of service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiosk.config import KioskConfig
from kiosk.core.calls import answer, call
from kiosk.core.engine import IGNORE, SAME, TIMEOUT, Alert, Command, Event, State, Transition
from kiosk.core.views import Button, MessageView, Picture
from kiosk.machine.ports import PRINTER
from kiosk.terminals.appointment.numbers import DIGITS, is_appointment_no
from kiosk.terminals.appointment.ports import (
    DESK,
    SCANNER,
    AppointmentTicket,
    CheckedIn,
    Scanned,
)
from kiosk.terminals.appointment.receipts import (
    kind_key,
    priority_ticket,
    slot_time,
    ticket_code,
)
from kiosk.terminals.appointment.texts import TEXTS
from kiosk.terminals.appointment.views import NumberPadView, QrScanView
from kiosk.terminals.home.flow import MENU, ServiceFlow, Stage, TerminalContext
from kiosk.terminals.home.steps import BACK, FINISH, closing_state, message, qr_png

Ctx = TerminalContext
Step = State[TerminalContext]
Move = Transition[TerminalContext]

SCAN = "appt_scan"
NUMBER = "appt_number"
CHECKING = "appt_checking"
PRINTING = "appt_printing"
DONE = "appt_done"
NO_TICKET = "appt_no_ticket"
NOT_FOUND = "appt_not_found"
REFUSED = "appt_refused"
CENTRAL_DOWN = "appt_central_down"


@dataclass
class AppointmentRecord:
    """The check-in's record of one citizen (an appointment number is not personal data:
    central alone knows whose it is)."""

    number: str = ""
    wrong: bool = False  # the number typed last failed its check digit
    why_pad: str | None = None  # why the pad is shown instead of the camera (message key)
    ticket: AppointmentTicket | None = None
    printed: bool = False


def _record(ctx: Ctx) -> AppointmentRecord:
    return ctx.part(AppointmentRecord)


def _ticket(ctx: Ctx) -> AppointmentTicket:
    ticket = _record(ctx).ticket
    assert ticket is not None
    return ticket


def _fresh(ctx: Ctx, event: Event) -> list[Command]:
    ctx.drop_part(AppointmentRecord)
    return []


# --- scanning and typing ---------------------------------------------------------------------


def _read(ctx: Ctx, event: Event) -> bool:
    number = answer(event, Scanned).number
    if number is None:
        return False
    _record(ctx).number = number
    return True


def _stopped(ctx: Ctx, event: Event) -> bool:
    return answer(event, Scanned).stopped  # the citizen left the camera: nothing to do


def _unread(ctx: Ctx, event: Event) -> list[Command]:
    foreign = answer(event, Scanned).foreign if event.name.endswith(".ok") else 0
    _record(ctx).why_pad = "appointment.scan.foreign" if foreign else "appointment.scan.unread"
    return []


def _no_camera(ctx: Ctx, event: Event) -> list[Command]:
    _record(ctx).why_pad = "appointment.scan.no_camera"
    return [Alert("appointment.no_camera", "the camera gave no picture for a QR code scan")]


def _typed(ctx: Ctx, event: Event) -> bool:
    number = str(event.data.get("number", ""))
    record = _record(ctx)
    record.wrong = not is_appointment_no(number)
    if not record.wrong:
        record.number = number
    return not record.wrong


def _to_pad(ctx: Ctx, event: Event) -> list[Command]:
    record = _record(ctx)
    record.why_pad, record.wrong = None, False
    return []


# --- central's answer ------------------------------------------------------------------------


def _status_is(status: str) -> Any:
    def guard(ctx: Ctx, event: Event) -> bool:
        found = answer(event, CheckedIn)
        return found.ticket is not None and found.ticket.status == status

    return guard


def _known(ctx: Ctx, event: Event) -> list[Command]:
    _record(ctx).ticket = answer(event, CheckedIn).ticket
    return []


def _unknown(ctx: Ctx, event: Event) -> bool:
    return not answer(event, CheckedIn).known


def _not_printed(ctx: Ctx, event: Event) -> list[Command]:
    return [Alert("printer.receipt_failed", "appointment checked in, ticket not printed")]


# --- views -----------------------------------------------------------------------------------


def _values(ticket: AppointmentTicket) -> dict[str, Any]:
    key = kind_key(ticket.service)
    return {
        "counter": ticket.counter,
        "time": slot_time(ticket),
        "date": ticket.slot_at[:10],
        "ahead": ticket.ahead or 0,
        "opens_at": ticket.opens_at or "",
        "service": TEXTS.text(key, "en"),
        "service_zh": TEXTS.text(key, "zh"),
    }


def _scan_view(ctx: Ctx) -> QrScanView:
    return QrScanView(
        "appointment.scan.title",
        "appointment.scan.body",
        (BACK, Button("type", "appointment.scan.type", "primary")),
        picture=Picture.QR_SCAN,
    )


def _pad_view(camera: bool) -> Any:
    def view(ctx: Ctx) -> NumberPadView:
        record = _record(ctx)
        buttons = (BACK, Button("scan", "appointment.number.scan")) if camera else (BACK,)
        return NumberPadView(
            "appointment.number.title",
            "appointment.number.body",
            DIGITS,
            "appointment.number.wrong" if record.wrong else None,
            record.why_pad,
            buttons,
        )

    return view


_TICKET_LINES = ("appointment.done.counter", "appointment.done.time", "appointment.done.ahead")


def _done_view(ctx: Ctx) -> MessageView:
    ticket = _ticket(ctx)
    return message(
        "appointment.done.title",
        _TICKET_LINES,
        tone="ok",
        code=ticket.ticket_no,
        values=_values(ticket),
        progress="appointment.done.again" if ticket.again else None,
        buttons=FINISH,
    )


def _no_ticket_view(ctx: Ctx) -> MessageView:
    ticket = _ticket(ctx)
    return message(
        "appointment.no_ticket.title",
        ("appointment.no_ticket.body", *_TICKET_LINES),
        tone="warn",
        code=ticket.ticket_no,
        image_png=qr_png(ticket_code(ticket), box=8),
        values=_values(ticket),
        buttons=FINISH,
    )


def _refused_view(ctx: Ctx) -> MessageView:
    ticket = _ticket(ctx)
    title, body = _REFUSALS.get(ticket.status, _REFUSALS["served"])
    return message(title, body, tone="warn", values=_values(ticket), buttons=FINISH)


# Why there is no ticket now, by central's status.
_REFUSALS = {
    "too_early": ("appointment.too_early.title", "appointment.too_early.body"),
    "too_late": ("appointment.too_late.title", "appointment.too_late.body"),
    "other_day": ("appointment.other_day.title", "appointment.other_day.body"),
    "served": ("appointment.served.title", "appointment.served.body"),
}


# --- states ----------------------------------------------------------------------------------


def services(config: KioskConfig) -> tuple[ServiceFlow, ...]:
    """The check-in on the menu, when configured."""
    settings = config.appointment
    if not settings.enabled:
        return ()
    t = config.timeouts
    camera = config.devices.camera is not None
    scan_s = settings.scan_s

    def scan(ctx: Ctx, event: Event) -> list[Command]:
        return [call(SCANNER, lambda scanner, s: scanner.scan(scan_s, s), "appointment.scan")]

    def check_in(ctx: Ctx, event: Event) -> list[Command]:
        number = _record(ctx).number
        return [call(DESK, lambda desk, s: desk.check_in(number, s), "appointment.check_in")]

    def print_ticket(ctx: Ctx, event: Event) -> list[Command]:
        slip = priority_ticket(config, _ticket(ctx), datetime.now())
        return [call(PRINTER, lambda printer, s: printer.print(slip, s), "appointment.print")]

    checking = message("appointment.checking", waiting="central.slow")
    printing = message("appointment.printing", picture=Picture.RECEIPT, waiting="receipt.slow")
    states: list[Step] = []
    if camera:
        states.append(
            State(
                SCAN,
                _scan_view,
                (
                    Transition("appointment.scan.ok", IGNORE, guard=_stopped, label="left"),
                    Transition("appointment.scan.ok", CHECKING, guard=_read, label="read"),
                    Transition("appointment.scan.ok", NUMBER, action=_unread, label="unread"),
                    Transition("appointment.scan.failed", NUMBER, action=_no_camera),
                    Transition("type", NUMBER, action=_to_pad),
                    Transition(TIMEOUT, NUMBER, action=_unread),
                    Transition("back", MENU, action=_fresh),
                ),
                timeout=lambda ctx: scan_s + 10,
                on_enter=scan,
            )
        )
    pad_moves: tuple[Move, ...] = (
        Transition("number", CHECKING, guard=_typed, label="valid number"),
        Transition("number", SAME, label="wrong check digit"),
        Transition("back", MENU, action=_fresh),
    )
    if camera:
        pad_moves += (Transition("scan", SCAN, action=_to_pad),)
    states += [
        State(NUMBER, _pad_view(camera), pad_moves, idle=True),
        State(
            CHECKING,
            lambda ctx: checking,
            (
                Transition("appointment.check_in.ok", NOT_FOUND, guard=_unknown, label="unknown"),
                Transition(
                    "appointment.check_in.ok",
                    PRINTING,
                    _known,
                    _status_is("checked_in"),
                    "ticket",
                ),
                Transition("appointment.check_in.ok", REFUSED, action=_known, label="not now"),
                Transition("appointment.check_in.failed", CENTRAL_DOWN),
                Transition(TIMEOUT, CENTRAL_DOWN),
            ),
            timeout=lambda ctx: config.central.timeout_s * 2,
            on_enter=check_in,
        ),
        State(
            PRINTING,
            lambda ctx: printing,
            (
                Transition("appointment.print.ok", DONE),
                Transition("appointment.print.failed", NO_TICKET, action=_not_printed),
                Transition(TIMEOUT, NO_TICKET, action=_not_printed),
                Transition("home", SAME, label="not while the ticket prints"),
            ),
            timeout=lambda ctx: t.device_s,
            on_enter=print_ticket,
        ),
        closing_state(DONE, _done_view, t.message_s * 2),
        closing_state(NO_TICKET, _no_ticket_view, t.message_s * 6),
        closing_state(REFUSED, _refused_view, t.message_s * 3),
        State(
            NOT_FOUND,
            lambda ctx: message(
                "appointment.not_found.title",
                "appointment.not_found.body",
                tone="warn",
                buttons=(
                    Button("finished", "flow.finish"),
                    Button("retype", "appointment.retype", "primary"),
                ),
            ),
            (
                Transition("retype", NUMBER, action=_to_pad),
                Transition("finished", MENU, action=_fresh),
                Transition(TIMEOUT, MENU, action=_fresh),
            ),
            timeout=lambda ctx: t.message_s * 3,
        ),
        State(
            CENTRAL_DOWN,
            lambda ctx: message(
                "appointment.central_down.title",
                "appointment.central_down.body",
                tone="error",
                buttons=FINISH,
            ),
            (Transition("finished", MENU, action=_fresh), Transition(TIMEOUT, MENU, action=_fresh)),
            timeout=lambda ctx: t.message_s * 3,
        ),
    ]
    # A scan still looking when the citizen left the camera (typed, went back) answers late.
    late = (
        Transition[Ctx]("appointment.scan.ok", IGNORE, label="late scan"),
        Transition[Ctx]("appointment.scan.failed", IGNORE, label="late scan"),
    )
    entry = SCAN if camera else NUMBER
    return (
        ServiceFlow(
            "appointment",
            entry,
            tuple(states),
            icon="appointment",
            finishing=(PRINTING, DONE, NO_TICKET),
            needs_central=True,
            late=late,
            stages=(
                Stage("appointment.stage.find", (SCAN, NUMBER) if camera else (NUMBER,)),
                Stage("appointment.stage.check", (CHECKING,)),
                Stage("appointment.stage.ticket", (PRINTING,)),
            ),
        ),
    )
