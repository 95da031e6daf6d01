"""Routes of the endorsement written onto the permit chip (the kiosk relays, central holds the
issuer key): authorise a record for the chip's challenge, confirm or withdraw the write, the
write's state for a kiosk resuming after a restart, and the reprint service's check of a
record read from a chip. The store's half is ``central.store.chips``.

Its own module (``central.app.build_api`` adds its routes) with its own models and guard
policies, so that the gateway's main module only names it.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from pydantic import Field, StrictInt, StrictStr

from central.guard import Access, Policy
from central.models import PaymentOrder, PermitAccess, Reply
from central.models import Request as RequestModel
from central.store import CentralStore

_KIOSK_JSON = Policy(Access.KIOSK)
POLICIES: dict[tuple[str, str], Policy] = {
    ("POST", "/v1/endorsements/{order_id}/authorize"): _KIOSK_JSON,
    ("GET", "/v1/endorsements/{order_id}/chip"): Policy(Access.KIOSK, max_body=0, body_type=None),
    ("POST", "/v1/endorsements/{order_id}/written"): _KIOSK_JSON,
    ("POST", "/v1/endorsements/{order_id}/void"): _KIOSK_JSON,
    ("POST", "/v1/endorsements/verify"): _KIOSK_JSON,
}

Hex = Annotated[StrictStr, Field(max_length=128, pattern="^[0-9A-Fa-f]*$")]
Document = Annotated[StrictStr, Field(max_length=16)]
Sequence = Annotated[StrictInt, Field(ge=1, le=255)]


# ---------------------------------------------------------------------------- models
class AuthorizeRequest(RequestModel):
    document_number: Document = Field(description="as the chip's MRZ has it (DG1)")
    challenge: Hex = Field(description="the chip's 8-byte issuer challenge, hex")
    sequence: Sequence = Field(description="the slot the chip offers: records committed + 1")


class WrittenRequest(RequestModel):
    sequence: Sequence


class VerifyRequest(RequestModel):
    id_number: Annotated[StrictStr, Field(max_length=32)]
    document_number: Document
    record: Hex = Field(description="the 40 record bytes read from the chip, hex")


class ChipRecord(Reply):
    endorsement_no: str
    sequence: int
    option: str
    region: str
    purpose: str
    trips: int = Field(description="1..254, or 0: multiple trips")
    fee_cny: int
    valid_from: str
    valid_until: str
    issued_at: str


class ChipAuthorization(ChipRecord):
    order_id: str
    record: str = Field(description="the 40 record bytes to write, hex")
    cryptogram: str = Field(description="AES-CMAC for EXTERNAL AUTHENTICATE, hex")


class ChipWriteState(Reply):
    order_id: str
    status: str = Field(description="the payment order's status")
    endorsement_no: str | None
    sequence: int | None = Field(description="the slot authorised, or null: none yet")
    written: bool = Field(description="the kiosk confirmed the record on the chip")
    voided: bool = Field(description="withdrawn and refunded")
    permit: PermitAccess
    record: str | None = Field(description="the authorised record bytes, hex")


class RecordCheck(Reply):
    valid: bool
    reason: str = Field(
        description="empty when valid; record_unreadable, not_this_permit, not_issued, "
        "record_differs"
    )
    endorsement_no: str | None = None
    option: str | None = None
    region: str | None = None
    purpose: str | None = None
    trips: int | None = None
    valid_from: str | None = None
    valid_until: str | None = None
    issued_at: str | None = None
    current: bool | None = Field(None, description="still valid today")


# ---------------------------------------------------------------------------- routes
def _store(request: Request) -> CentralStore:
    store: CentralStore = request.scope["state"]["store"]
    return store


def _kiosk(request: Request) -> str:
    kiosk: str = request.scope["state"]["kiosk"]
    return kiosk


Store = Annotated[CentralStore, Depends(_store)]
Kiosk = Annotated[str, Depends(_kiosk)]


def add_routes(api: FastAPI) -> None:
    """Called by ``build_api`` (the ``hex32`` path convertor is registered by then). Routes
    added to the application itself, not through ``include_router``: this FastAPI mounts an
    included router as one lazy entry, which the guard's route policies cannot see."""
    tags: list[str | Enum] = ["endorsements on the chip"]

    @api.post(
        "/v1/endorsements/{order_id:hex32}/authorize", response_model=ChipAuthorization, tags=tags
    )
    def authorize(order_id: str, body: AuthorizeRequest, store: Store, kiosk: Kiosk) -> Any:
        """The record for the chip's slot and the cryptogram for its challenge. The order must
        be this kiosk's and paid; the first call issues the endorsement against it, later
        ones (a fresh challenge after a pulled card or a restart) answer the same record for
        the same slot only."""
        return store.chips.authorize(kiosk, order_id, body.model_dump())

    @api.get("/v1/endorsements/{order_id:hex32}/chip", response_model=ChipWriteState, tags=tags)
    def chip_state(order_id: str, store: Store, kiosk: Kiosk) -> Any:
        """Where the order's chip write stands, with the permit's access data (a kiosk
        resuming with the card still in its module)."""
        return store.chips.state(kiosk, order_id)

    @api.post("/v1/endorsements/{order_id:hex32}/written", response_model=ChipWriteState, tags=tags)
    def written(order_id: str, body: WrittenRequest, store: Store, kiosk: Kiosk) -> Any:
        """The kiosk read the record back from the chip: final, never withdrawn."""
        return store.chips.written(kiosk, order_id, body.model_dump())

    @api.post("/v1/endorsements/{order_id:hex32}/void", response_model=PaymentOrder, tags=tags)
    def void(order_id: str, store: Store, kiosk: Kiosk) -> Any:
        """The chip write failed: the endorsement is withdrawn and the order refunded."""
        return store.chips.void(kiosk, order_id)

    @api.post("/v1/endorsements/verify", response_model=RecordCheck, tags=tags)
    def verify(body: VerifyRequest, store: Store, kiosk: Kiosk) -> Any:
        """The reprint service: is this record from this permit's chip an endorsement issued
        to this person?"""
        return store.chips.verify(body.model_dump())
