"""Typed validation of the entries kiosks send in a batch, one model per transaction kind.

An entry is checked on its own: a malformed one is refused (422) with the reason, and only
the rest of its stream in that batch waits (424); the batch itself stands. The kinds central
acts on are typed field by field; the rest (a kiosk's own records, load-test entries) get a
typed envelope and a bounded payload, in which an ``id_number``, if any, must be one.

Personal data: the citizen a photo was taken for is ``id_binding.id_number`` (what the kiosk
sends; central keeps the link). Every ID number is checked (GB 11643 check character), never
taken as whatever type came.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
)

from central.idnumber import is_valid
from central.store.common import KEY_RE, MAX_SCHEMA_VERSION

MAX_DEPTH = 32  # of a payload's nesting; the kiosk's deepest is 4
MAX_ENTRIES = 1000
KIND_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+){0,4}$")
_SAFE_TEXT = re.compile(r"^[^\x00-\x1f\x7f]*$")


def _id_number(value: str) -> str:
    if not is_valid(value):
        raise ValueError("not a valid ID number")
    return value


def _key(value: str) -> str:
    if not KEY_RE.match(value):
        raise ValueError("not a valid key")
    return value


IdNumber = Annotated[StrictStr, AfterValidator(_id_number)]
# Where central only keeps the value (other kinds, the top-level number of older kiosks'
# photos): a string of the ID number's form; the check character is not enforced there,
# and such a number never becomes a photo's link to a citizen unless it is valid.
IdNumberForm = Annotated[StrictStr, Field(pattern=r"^[0-9]{17}[0-9X]$")]
Key = Annotated[StrictStr, AfterValidator(_key)]
# Text central stores and shows: no control characters (PostgreSQL refuses NUL outright).
Text = Annotated[StrictStr, Field(max_length=500, pattern=_SAFE_TEXT.pattern)]
ShortText = Annotated[StrictStr, Field(max_length=100, pattern=_SAFE_TEXT.pattern)]


class Attachment(BaseModel):
    """A file uploaded beforehand (tus), named by its upload id and checked by SHA-256."""

    model_config = ConfigDict(extra="forbid")
    name: ShortText
    sha256: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{64}$")]
    size: Annotated[StrictInt, Field(ge=0, le=64 * 1024 * 1024)]
    upload: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{32}$")]
    content_type: ShortText | None = None


class Envelope(BaseModel):
    """What every entry has, whatever its kind."""

    model_config = ConfigDict(extra="allow")
    key: Key
    kind: Annotated[StrictStr, Field(max_length=64, pattern=KIND_RE.pattern)]
    schema_version: Annotated[StrictInt, Field(ge=1, le=MAX_SCHEMA_VERSION)]
    stream: Annotated[StrictStr, Field(min_length=1, max_length=200, pattern=_SAFE_TEXT.pattern)]
    payload: dict[str, Any]
    attachments: list[Attachment] = Field(default_factory=list, max_length=16)


class Payload(BaseModel):
    """Fields a kiosk may add beside the typed ones are kept as sent (``extra``)."""

    model_config = ConfigDict(extra="allow")


class IdBinding(BaseModel):
    model_config = ConfigDict(extra="allow")
    id_number: IdNumber
    name: Text | None = None
    card_type: ShortText | None = None


class PhotoCaptured(Payload):
    photo_number: Key
    kiosk_id: ShortText | None = None
    taken_at: ShortText | None = None
    id_binding: IdBinding | None = None
    # Older kiosks put the number at the top; the link is ``id_binding``'s.
    id_number: IdNumberForm | None = None


class PickupRecord(Payload):
    """``pickup.handover``, ``pickup.retained``, ``pickup.uncertain``."""

    document_no: Key
    kind: ShortText | None = None
    slot: ShortText | None = None
    id_number: IdNumberForm | None = None
    kiosk_id: ShortText | None = None
    journal_id: StrictInt | None = None
    at: ShortText | None = None
    why: Text | None = None


class PickupDelivery(Payload):
    """``pickup.delivery``: free EMS delivery of a document instead of pickup."""

    document_no: Key
    order_no: Key
    address: Annotated[StrictStr, Field(min_length=4, max_length=200, pattern=_SAFE_TEXT.pattern)]
    kind: ShortText | None = None
    id_number: IdNumberForm | None = None
    kiosk_id: ShortText | None = None
    journal_id: StrictInt | None = None
    at: ShortText | None = None


class PickupLoaded(Payload):
    document_no: Key
    slot: Annotated[StrictStr, Field(min_length=1, max_length=16, pattern=_SAFE_TEXT.pattern)]


class PickupUnloaded(Payload):
    document_no: Key


class RenewalEndorsed(Payload):
    order_id: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{32}$")]
    endorsement_no: ShortText | None = None
    kiosk_id: ShortText | None = None
    at: ShortText | None = None


class RenewalRefunded(Payload):
    order_id: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{32}$")]
    amount_cny: Annotated[StrictInt, Field(ge=0)] | None = None
    why: Text | None = None
    kiosk_id: ShortText | None = None
    at: ShortText | None = None


class Record(Payload):
    """A kind central stores without acting on it: only an ID number, if present, is
    checked for its form (it is personal data, kept as the retention schedule says)."""

    id_number: IdNumberForm | None = None


KINDS: dict[str, type[Payload]] = {
    "photo.captured": PhotoCaptured,
    "pickup.handover": PickupRecord,
    "pickup.retained": PickupRecord,
    "pickup.uncertain": PickupRecord,
    "pickup.delivery": PickupDelivery,
    "pickup.loaded": PickupLoaded,
    "pickup.unloaded": PickupUnloaded,
    "renewal.endorsed": RenewalEndorsed,
    "renewal.refunded": RenewalRefunded,
}


class BatchEntryError(ValueError):
    """Why one entry is refused; ``status`` is what its result says (400: no usable key)."""

    def __init__(self, status: int, key: str, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.key = key


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deep ``value`` nests (stops counting past ``limit``); iterative, so no input can
    exhaust the stack."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def check_entry(item: Any, kiosk_id: str) -> tuple[Envelope, Payload]:
    """The entry, typed; raises ``BatchEntryError`` with the reason it is refused."""
    raw_key = item.get("key") if isinstance(item, dict) else None
    if not isinstance(raw_key, str) or not KEY_RE.match(raw_key):
        raise BatchEntryError(400, str(raw_key)[:80], "bad or missing key")
    try:
        envelope = Envelope.model_validate(item)
    except ValidationError as exc:
        raise BatchEntryError(422, raw_key, _first(exc)) from None
    if depth(envelope.payload) > MAX_DEPTH:
        raise BatchEntryError(422, raw_key, f"payload nested deeper than {MAX_DEPTH}")
    model = KINDS.get(envelope.kind, Record)
    try:
        payload = model.model_validate(envelope.payload)
    except ValidationError as exc:
        raise BatchEntryError(422, raw_key, f"{envelope.kind}: {_first(exc)}") from None
    claimed = getattr(payload, "kiosk_id", None)
    if claimed is not None and claimed != kiosk_id:
        raise BatchEntryError(422, raw_key, "kiosk_id is not the machine that signed")
    if envelope.kind == "photo.captured" and len(envelope.attachments) > 1:
        raise BatchEntryError(422, raw_key, "photo.captured: one photo per entry")
    return envelope, payload


def _first(exc: ValidationError) -> str:
    """The first problem, naming the field but never echoing the value (it may be an ID
    number, which the kiosk keeps in clear beside the entry's key)."""
    error = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in error["loc"]) or "entry"
    return f"{where}: {error['msg']}"
