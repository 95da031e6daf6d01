"""Request and reply models of the gateway's API; docs/central-openapi.json is generated from
them (``python -m central.openapi``). Requests are strict about types (an ``id_number``
that is an object, a number or true is a 400, never a traceback); whether a well-typed value
is acceptable (a valid ID number, a known option) is the store's answer (422 or 404)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from central.store.kinds import MAX_ENTRIES

Str32 = Annotated[StrictStr, Field(max_length=32)]
Str64 = Annotated[StrictStr, Field(max_length=64)]


class Request(BaseModel):
    # Fields a newer kiosk may add are ignored, not refused.
    model_config = ConfigDict(extra="ignore")


class Reply(BaseModel):
    model_config = ConfigDict(extra="allow")


# ---------------------------------------------------------------------------- requests
class IdNumberRequest(Request):
    id_number: Str32


class ChoiceRequest(Request):
    id_number: Str32
    option: Str32
    region: Str32
    purpose: Str32


class EndorsementRequest(ChoiceRequest):
    payment: Annotated[
        StrictStr | None, Field(description="id of a paid payment order", max_length=64)
    ] = None


class PhotoReceiptRequest(Request):
    photo_number: Annotated[StrictStr, Field(max_length=255)]
    sha256: Annotated[StrictStr, Field(max_length=64)]
    id_number: Str32 | None = None


class BatchRequest(Request):
    entries: Annotated[
        list[Any],
        Field(
            min_length=1,
            max_length=MAX_ENTRIES,
            description="entries in order; each is checked on its own (see the kinds in "
            "docs/sync.md): {key, kind, schema_version, stream, payload, attachments}",
        ),
    ]


class TransactionRequest(Request):
    """One entry sent alone; its key is the ``Idempotency-Key`` header."""

    model_config = ConfigDict(extra="allow")
    kind: Str64
    schema_version: StrictInt
    payload: dict[str, Any]
    stream: Annotated[StrictStr, Field(max_length=200)] | None = None
    attachments: list[Any] = Field(default_factory=list, max_length=16)


class HeartbeatRequest(Request):
    """The kiosk's status (queue counts, devices: no personal data) and the staff alerts it
    has not had delivered yet, each ``{id, code, message, at}``; kept whole."""

    model_config = ConfigDict(extra="allow")
    status: dict[str, Any] | None = None
    alerts: list[Any] = Field(default_factory=list, max_length=1000)


class FaultSettings(BaseModel):
    """The fault switch (central/faults.py); every number bounded, NaN and infinity refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    rates: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=dict)
    once: dict[str, Annotated[StrictInt, Field(ge=0, le=1_000_000)]] = Field(default_factory=dict)
    latency_s: Annotated[float, Field(ge=0, le=60)] = 0.0
    retry_after_s: Annotated[StrictInt, Field(ge=0, le=3600)] = 2
    status_code: Annotated[StrictInt, Field(ge=400, le=599)] = 400
    huge_bytes: Annotated[StrictInt, Field(ge=0, le=64 * 1024 * 1024)] = 8 * 1024 * 1024
    trickle_interval_s: Annotated[float, Field(ge=0, le=10)] = 0.2
    trickle_bytes: Annotated[StrictInt, Field(ge=0, le=1024 * 1024)] = 200
    upload_cut_offset: Annotated[StrictInt, Field(ge=0)] = 0
    paths: list[Annotated[StrictStr, Field(max_length=200)]] = Field(default_factory=list)
    spare: Annotated[StrictInt, Field(ge=0, le=1_000_000)] = 0


# ----------------------------------------------------------------------------- replies
class ErrorReply(Reply):
    error: str


class Health(Reply):
    ok: bool
    time: float


class EntryResult(Reply):
    key: str
    status: int
    ref: str | None = Field(None, description="central's reference (stored entries)")
    error: str | None = None
    replayed: StrictBool | None = Field(None, description="true: the first answer, again")


class BatchReply(Reply):
    results: list[EntryResult]


class PermitAccess(Reply):
    document_number: str
    birth_date: str
    expiry_date: str


class RenewalOption(Reply):
    code: str
    trips: str
    validity_days: int
    fee_cny: int


class Eligibility(Reply):
    eligible: bool
    permit: PermitAccess
    reasons: list[str]
    options: list[RenewalOption]
    regions: list[str]
    purposes: list[str]


class EndorsementStatus(Reply):
    option: str
    region: str
    trips: str
    valid_from: str
    valid_until: str
    valid: bool


class PermitStatus(Reply):
    permit_expiry: str
    permit_days_left: int
    endorsement: EndorsementStatus | None


class ReadyDocument(Reply):
    document_no: str
    kind: str
    slot: str
    ready_since: str
    applicant_photo: str | None = Field(
        default=None,
        description="the application's photo (base64 JPEG) the machine compares the face at "
        "its camera with before handing the document over; null: none on file (the "
        "citizen is sent to the counter or staff)",
    )


class DocumentsElsewhere(Reply):
    kiosk_id: str | None = Field(description="another pickup machine, or null: the counter")
    count: int


class DocumentsReady(Reply):
    documents: list[ReadyDocument]
    elsewhere: list[DocumentsElsewhere]
    address: str | None = Field(
        default=None, description="the postal address on record, for free EMS delivery"
    )


class PaymentOrderCreated(Reply):
    order_id: str
    status: str
    amount_cny: int
    expires_in_s: int
    pay_url: str


class PaymentOrder(Reply):
    order_id: str
    status: str
    amount_cny: int
    expires_in_s: int
    endorsement_no: str | None


class Endorsement(Reply):
    endorsement_no: str
    option: str
    region: str
    purpose: str
    fee_cny: int
    valid_from: str
    valid_until: str


class PhotoReceipt(Reply):
    photo_number: str
    receipt_code: str
    registered_at: str


class Acknowledged(Reply):
    ok: bool
    time: StrictFloat


class KioskCommand(Reply):
    """A remote action from the fleet console: ``out_of_service``, ``in_service``,
    ``send_now``, ``test_print``. The kiosk reports its outcome in a later heartbeat
    (``command_results``: ``[{id, ok, detail}]``); until then it comes again in every answer."""

    id: str
    action: str


class HeartbeatReply(Acknowledged):
    commands: list[KioskCommand] = Field(default_factory=list)
