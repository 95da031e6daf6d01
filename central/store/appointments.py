"""Appointments booked online (the e网通 green channel) and checked in at a kiosk: the
priority ticket, its counter and time, and how many are still ahead at that counter.

An appointment number is ten digits, the last a Luhn check digit, so a kiosk can tell a
mistyped number before it asks. Checking in is idempotent by nature: the same appointment
checked in again (a lost answer, a second kiosk) gets the same ticket back.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from central.store.common import Refused
from central.store.db import Database
from central.store.schema import appointments, sequences

EARLY = timedelta(minutes=60)  # check-in opens this long before the appointment
LATE = timedelta(minutes=30)  # and closes this long after it
SLOT_FORMAT = "%Y-%m-%dT%H:%M"
STATUSES = ("checked_in", "too_early", "too_late", "other_day", "served")


def luhn_digit(digits: str) -> str:
    """The Luhn check digit of ``digits``."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def is_appointment_no(value: object) -> bool:
    return (
        isinstance(value, str)
        and len(value) == 10
        and value.isascii()
        and value.isdigit()
        and luhn_digit(value[:9]) == value[9]
    )


class Appointments:
    def __init__(self, db: Database, clock: Callable[[], datetime] = datetime.now) -> None:
        self.db = db
        self.clock = clock  # local wall time: appointments are booked in it

    def create(
        self, service: str, counter: str, slot_at: str, id_number: str | None
    ) -> dict[str, Any]:
        """A new appointment (what the online booking does; tests and the demo seed them)."""
        try:
            datetime.strptime(slot_at, SLOT_FORMAT)
        except ValueError:
            raise Refused(422, "slot_at must be YYYY-MM-DDTHH:MM") from None
        with self.db.write() as conn:
            while True:
                body = f"{secrets.randbelow(10**9):09d}"
                number = body + luhn_digit(body)
                taken = conn.execute(
                    select(appointments.c.appointment_no).where(
                        appointments.c.appointment_no == number
                    )
                ).first()
                if taken is None:
                    break
            conn.execute(
                appointments.insert().values(
                    appointment_no=number,
                    id_number=id_number,
                    service=service,
                    counter=counter,
                    slot_at=slot_at,
                    created_at=time.time(),
                )
            )
        return {
            "appointment_no": number,
            "service": service,
            "counter": counter,
            "slot_at": slot_at,
        }

    def check_in(self, number: str, kiosk_id: str) -> dict[str, Any]:
        """The priority ticket for appointment ``number`` (404 when there is none), or why
        not now: too early (and from when), too late, another day, already served."""
        if not is_appointment_no(number):
            raise Refused(404, "no such appointment")
        now = self.clock()
        with self.db.write() as conn:
            row = _locked(conn, number)
            slot = datetime.strptime(row.slot_at, SLOT_FORMAT)
            if row.served_at is not None:
                return _reply(row, "served")
            if row.ticket_no is not None:  # checked in before: the same ticket again
                return {**_reply(row, "checked_in"), "again": True, "ahead": _ahead(conn, row)}
            if slot.date() != now.date():
                return _reply(row, "other_day")
            if now < slot - EARLY:
                opens = (slot - EARLY).strftime("%H:%M")
                return {**_reply(row, "too_early"), "opens_at": opens}
            if now > slot + LATE:
                return _reply(row, "too_late")
            seq = _next_ticket(self.db, conn, f"ticket:{slot:%Y-%m-%d}")
            conn.execute(
                update(appointments)
                .where(appointments.c.appointment_no == number)
                .values(
                    checked_in_at=time.time(),
                    kiosk_id=kiosk_id,
                    ticket_no=f"V{seq:03d}",
                    ticket_seq=seq,
                )
            )
            row = _locked(conn, number)
            return {**_reply(row, "checked_in"), "again": False, "ahead": _ahead(conn, row)}

    def position(self, number: str) -> dict[str, Any]:
        """Where a checked-in appointment is in its counter's queue now."""
        if not is_appointment_no(number):
            raise Refused(404, "no such appointment")
        with self.db.read() as conn:
            row = _row(conn, number)
            if row.ticket_no is None:
                raise Refused(409, "not checked in")
            status = "served" if row.served_at is not None else "checked_in"
            ahead = 0 if row.served_at is not None else _ahead(conn, row)
            return {**_reply(row, status), "ahead": ahead}

    def served(self, number: str) -> dict[str, Any]:
        """The counter called this ticket (its calling system tells central)."""
        if not is_appointment_no(number):
            raise Refused(404, "no such appointment")
        with self.db.write() as conn:
            row = _locked(conn, number)
            if row.ticket_no is None:
                raise Refused(409, "not checked in")
            if row.served_at is None:
                conn.execute(
                    update(appointments)
                    .where(appointments.c.appointment_no == number)
                    .values(served_at=time.time())
                )
            return {**_reply(_row(conn, number), "served"), "ahead": 0}


def _next_ticket(db: Database, conn: Connection, name: str) -> int:
    """The day's next ticket number (its sequence row is locked until commit)."""
    stmt = db.insert(sequences).values(name=name, value=1)
    value = conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[sequences.c.name], set_={"value": sequences.c.value + 1}
        ).returning(sequences.c.value)
    ).scalar()
    return int(value or 0)


def _row(conn: Connection, number: str) -> Any:
    row = conn.execute(select(appointments).where(appointments.c.appointment_no == number)).first()
    if row is None:
        raise Refused(404, "no such appointment")
    return row


def _locked(conn: Connection, number: str) -> Any:
    row = conn.execute(
        select(appointments).where(appointments.c.appointment_no == number).with_for_update()
    ).first()
    if row is None:
        raise Refused(404, "no such appointment")
    return row


def _ahead(conn: Connection, row: Any) -> int:
    """Checked-in tickets of the same day and counter, before this one, not yet served."""
    day = str(row.slot_at)[:10]
    count = conn.execute(
        select(func.count())
        .select_from(appointments)
        .where(
            and_(
                appointments.c.counter == row.counter,
                appointments.c.slot_at.like(f"{day}%"),
                appointments.c.ticket_seq < row.ticket_seq,
                appointments.c.served_at.is_(None),
            )
        )
    ).scalar()
    return int(count or 0)


def _reply(row: Any, status: str) -> dict[str, Any]:
    return {
        "status": status,
        "appointment_no": row.appointment_no,
        "service": row.service,
        "counter": row.counter,
        "slot_at": row.slot_at,
        "ticket_no": row.ticket_no,
    }
