"""The green channel's routes (e网通 appointments): an appointment booked online is checked
in at any kiosk for a priority ticket, with its counter, its time and how many are ahead.

Its own module, its routes added by ``central.app.build_api``; the guard's policies for its routes
are here too (``POLICIES``), merged into the gateway's. Creating an appointment is the
online booking's job: here a loopback route, for tests and the demo's seeding.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Path, Request
from pydantic import Field, StrictStr

from central.guard import Access, Policy
from central.models import Reply
from central.models import Request as RequestModel
from central.store import CentralStore

Str32 = Annotated[StrictStr, Field(max_length=32)]
Str64 = Annotated[StrictStr, Field(max_length=64)]
Number = Annotated[str, Path(pattern=r"^[0-9]{10}$", description="the appointment number")]

POLICIES: dict[tuple[str, str], Policy] = {
    ("POST", "/v1/appointments"): Policy(Access.LOOPBACK),
    ("POST", "/v1/appointments/check-in"): Policy(Access.KIOSK),
    ("GET", "/v1/appointments/{appointment_no}/position"): Policy(
        Access.KIOSK, max_body=0, body_type=None
    ),
    ("POST", "/v1/admin/appointments/{appointment_no}/served"): Policy(Access.LOOPBACK),
}


class AppointmentRequest(RequestModel):
    service: Str64 = Field(description="what the appointment is for, e.g. passport")
    counter: Str32 = Field(description="the counter (window) that serves it")
    slot_at: Str32 = Field(description="local time, YYYY-MM-DDTHH:MM")
    id_number: Str32 | None = None


class CheckInRequest(RequestModel):
    appointment_no: Str32


class Appointment(Reply):
    appointment_no: str
    service: str
    counter: str
    slot_at: str


class Ticket(Appointment):
    status: Literal["checked_in", "too_early", "too_late", "other_day", "served"] = Field(
        description="checked_in: the ticket is valid; otherwise why there is none now"
    )
    ticket_no: str | None = Field(description="the priority ticket, once checked in")
    ahead: int | None = Field(default=None, description="checked-in tickets still ahead")
    again: bool | None = Field(default=None, description="checked in before: the same ticket")
    opens_at: str | None = Field(default=None, description="too early: check-in opens at HH:MM")


def _store(request: Request) -> CentralStore:
    store: CentralStore = request.scope["state"]["store"]
    return store


def _kiosk(request: Request) -> str:
    kiosk: str = request.scope["state"]["kiosk"]
    return kiosk


Store = Annotated[CentralStore, Depends(_store)]
Kiosk = Annotated[str, Depends(_kiosk)]


def add_routes(api: FastAPI) -> None:
    """Mount the routes on ``api`` (added to it directly, not as an included router: the
    guard matches each request against the application's own route list)."""
    tags: list[str | Enum] = ["appointments"]

    @api.post("/v1/appointments", status_code=201, response_model=Appointment, tags=tags)
    def create(body: AppointmentRequest, store: Store) -> Appointment:
        made = store.appointments.create(body.service, body.counter, body.slot_at, body.id_number)
        return Appointment.model_validate(made)

    @api.post(
        "/v1/appointments/check-in",
        response_model=Ticket,
        response_model_exclude_none=True,
        tags=tags,
    )
    def check_in(body: CheckInRequest, store: Store, kiosk: Kiosk) -> Ticket:
        return Ticket.model_validate(store.appointments.check_in(body.appointment_no, kiosk))

    @api.get(
        "/v1/appointments/{appointment_no}/position",
        response_model=Ticket,
        response_model_exclude_none=True,
        tags=tags,
    )
    def position(appointment_no: Number, store: Store, kiosk: Kiosk) -> Ticket:
        return Ticket.model_validate(store.appointments.position(appointment_no))

    @api.post(
        "/v1/admin/appointments/{appointment_no}/served",
        response_model=Ticket,
        response_model_exclude_none=True,
        tags=["admin"],
    )
    def served(appointment_no: Number, store: Store) -> Ticket:
        return Ticket.model_validate(store.appointments.served(appointment_no))
