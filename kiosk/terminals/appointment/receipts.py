"""The priority ticket (优先排队号): the ticket number large, the counter, the time, how many
are ahead, and a QR code the counter can scan."""

from __future__ import annotations

from datetime import datetime

from kiosk.config import KioskConfig
from kiosk.machine.receipts import Feed, QrCode, Slip, SlipItem, TextLine, centre
from kiosk.terminals.appointment.ports import AppointmentTicket
from kiosk.terminals.appointment.texts import TEXTS


def kind_key(service: str) -> str:
    key = f"appointment.kind.{service}"
    return key if key in TEXTS else "appointment.kind.other"


def ticket_code(ticket: AppointmentTicket) -> str:
    """What the ticket's QR code carries (the counter's scanner reads it)."""
    return f"TICKET:{ticket.ticket_no}:{ticket.appointment_no}"


def slot_time(ticket: AppointmentTicket) -> str:
    return ticket.slot_at[11:16] or ticket.slot_at


def priority_ticket(config: KioskConfig, ticket: AppointmentTicket, now: datetime) -> Slip:
    key = kind_key(ticket.service)
    items: list[SlipItem] = [
        centre("预约优先排队号", bold=True, large=True),
        centre("Appointment priority ticket"),
        Feed(1),
        centre(ticket.ticket_no or "", bold=True, large=True),
        Feed(1),
        TextLine(f"窗口 Window: {ticket.counter}", bold=True),
        TextLine(f"业务 Service: {TEXTS.text(key, 'zh')} / {TEXTS.text(key, 'en')}"),
        TextLine(f"预约时间 Appointment: {ticket.slot_at.replace('T', ' ')}"),
        TextLine(f"前面还有 Ahead of you: {ticket.ahead or 0}"),
        TextLine(f"预约号 Appointment no.: {ticket.appointment_no}"),
        QrCode(ticket_code(ticket)),
        TextLine(f"签到时间 Checked in: {now:%Y-%m-%d %H:%M}"),
        TextLine(f"终端 Kiosk: {config.kiosk.id}"),
        Feed(1),
        TextLine("请留意叫号，过号需重新取号。"),
        TextLine("Watch the screens for your number; a missed call needs a new ticket."),
    ]
    return Slip("appointment", tuple(items))
