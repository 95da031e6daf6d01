"""Look-ups the flows make while a citizen waits: renewal eligibility, payment orders for
the fee, endorsement issue, documents ready for pickup, photo receipt registration. Typed
results, bounded timeouts.

Each call raises ``CentralError`` (``retryable`` tells the flow whether "please wait, trying
again" makes sense). Opening a payment order and issuing an endorsement are idempotent: the
caller passes a key it has persisted first (e.g. from ``Outbox.next_sequence``), so a retry
after a lost answer returns the same order or endorsement instead of charging twice.

Not thread-safe: give each thread its own client.
"""

from __future__ import annotations

import base64
import enum
import re
from dataclasses import dataclass
from typing import Any

from offline_queue.errors import CentralError
from offline_queue.transport import CentralTransport, raise_for_status


class RefusalReason(enum.StrEnum):
    """Why a citizen cannot renew at the machine (domain.md), with the next step."""

    FIRST_APPLICATION = "first_application"
    REGISTERED_PERSONNEL = "registered_personnel"
    ENDORSEMENT_STILL_VALID = "endorsement_still_valid"
    OUT_OF_PROVINCE_FIRST_USE = "out_of_province_first_use"
    PERMIT_VALIDITY_TOO_SHORT = "permit_validity_too_short"


@dataclass(frozen=True)
class EndorsementOption:
    code: str
    trips: str
    validity_days: int
    fee_cny: int


@dataclass(frozen=True)
class PermitAccess:
    """BAC access data of the permit on record (document number, birth and expiry YYMMDD)."""

    document_number: str
    birth_date: str
    expiry_date: str

    def __repr__(self) -> str:  # personal data stays out of logs and tracebacks
        return f"PermitAccess({self.document_number[:2]}***)"


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reasons: tuple[RefusalReason, ...]
    options: tuple[EndorsementOption, ...]
    regions: tuple[str, ...]
    purposes: tuple[str, ...]
    permit: PermitAccess | None = None


@dataclass(frozen=True)
class CurrentEndorsement:
    option: str
    region: str
    trips: str
    valid_from: str
    valid_until: str
    valid: bool


@dataclass(frozen=True)
class PermitStatus:
    permit_expiry: str
    permit_days_left: int
    endorsement: CurrentEndorsement | None


@dataclass(frozen=True)
class IssuedEndorsement:
    endorsement_no: str
    option: str
    region: str
    purpose: str
    fee_cny: int
    valid_from: str
    valid_until: str
    replayed: bool


PAYMENT_STATUSES = ("unpaid", "paid", "cancelled", "expired", "refunded")
_ORDER_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class PaymentOrder:
    """A payment order for the endorsement fee; central sets the amount. ``pay_url`` (what
    the QR code carries) comes only with a new order; ``expires_in_s`` counts while unpaid."""

    order_id: str
    status: str
    amount_cny: int
    expires_in_s: int
    pay_url: str = ""
    endorsement_no: str | None = None


@dataclass(frozen=True)
class ReadyDocument:
    document_no: str
    kind: str
    slot: str
    ready_since: str
    applicant_photo: bytes | None = None  # the application's photo (JPEG), for the face check


@dataclass(frozen=True)
class DocumentsElsewhere:
    """Documents of the person held elsewhere: in pickup machine ``kiosk_id``, or at the
    service counter when it is None."""

    kiosk_id: str | None
    count: int


@dataclass(frozen=True)
class DocumentsReady:
    here: list[ReadyDocument]
    elsewhere: list[DocumentsElsewhere]
    address: str | None = None  # the postal address on record (free EMS delivery)

    def __repr__(self) -> str:  # the address is personal data: never in logs
        return f"DocumentsReady({len(self.here)} here, {len(self.elsewhere)} elsewhere)"


APPOINTMENT_STATUSES = ("checked_in", "too_early", "too_late", "other_day", "served")


@dataclass(frozen=True)
class AppointmentTicket:
    """Central's answer to an appointment check-in: the priority ticket (``checked_in``),
    or why there is none now (``too_early`` until ``opens_at``, ``too_late``, ``other_day``,
    ``served``)."""

    status: str
    appointment_no: str
    service: str
    counter: str
    slot_at: str  # local time, YYYY-MM-DDTHH:MM
    ticket_no: str | None = None
    ahead: int | None = None
    again: bool = False
    opens_at: str | None = None


@dataclass(frozen=True)
class PhotoReceipt:
    photo_number: str
    receipt_code: str
    registered_at: str


def _photo(value: Any) -> bytes | None:
    """A base64 JPEG from central, or None; anything else is a wrong answer."""
    if value is None:
        return None
    photo = base64.b64decode(str(value), validate=True)
    if not photo.startswith(b"\xff\xd8"):
        raise ValueError("the applicant photo is not a JPEG")
    return photo


@dataclass(frozen=True)
class ChipAuthorization:
    """Central's answer to a relayed chip challenge: the record bytes to write into slot
    ``sequence`` and the cryptogram for EXTERNAL AUTHENTICATE (docs/chip-reader.md)."""

    order_id: str
    endorsement_no: str
    sequence: int
    record: bytes
    cryptogram: bytes
    option: str
    fee_cny: int
    valid_from: str
    valid_until: str
    issued_at: str


@dataclass(frozen=True)
class ChipWriteState:
    """Where an order's chip write stands at central (a kiosk resuming after a restart)."""

    order_id: str
    status: str  # the payment order's
    endorsement_no: str | None
    sequence: int | None  # the slot authorised; None: nothing authorised yet
    written: bool
    voided: bool
    permit: PermitAccess | None
    record: bytes | None  # the authorised record bytes

    def __repr__(self) -> str:  # the permit's access data stays out of logs
        return f"ChipWriteState({self.order_id}, {self.status}, slot {self.sequence})"


@dataclass(frozen=True)
class RecordCheck:
    """Central's verdict on an endorsement record read from a chip (the reprint service)."""

    valid: bool
    reason: str  # "" when valid; record_unreadable | not_this_permit | not_issued | ...
    endorsement_no: str = ""
    option: str = ""
    region: str = ""
    purpose: str = ""
    valid_from: str = ""
    valid_until: str = ""
    current: bool = False


def _expect(data: Any, *fields: str) -> dict[str, Any]:
    if not isinstance(data, dict) or any(f not in data for f in fields):
        raise CentralError("central answer has the wrong shape", code="central.bad_response")
    return data


def _order_path(order_id: str, action: str = "") -> str:
    # Checked before it goes into a URL: an order id is not personal data, but anything
    # else there could be, or could change the path.
    if not isinstance(order_id, str) or not _ORDER_ID.fullmatch(order_id):
        raise ValueError("order_id must be 32 lowercase hex characters")
    return f"/v1/payments/{order_id}{action}"


def _payment_order(data: Any) -> PaymentOrder:
    d = _expect(data, "order_id", "status", "amount_cny", "expires_in_s")
    try:
        order = PaymentOrder(
            order_id=str(d["order_id"]),
            status=str(d["status"]),
            amount_cny=int(d["amount_cny"]),
            expires_in_s=int(d["expires_in_s"]),
            pay_url=str(d.get("pay_url") or ""),
            endorsement_no=None if d.get("endorsement_no") is None else str(d["endorsement_no"]),
        )
    except (TypeError, ValueError) as exc:
        raise CentralError(
            "central answer has the wrong shape", code="central.bad_response"
        ) from exc
    # The id goes into later URLs and the status drives the flow: both must be ones we know.
    if not _ORDER_ID.fullmatch(order.order_id) or order.status not in PAYMENT_STATUSES:
        raise CentralError("central answer has the wrong shape", code="central.bad_response")
    return order


def _permit(data: Any) -> PermitAccess | None:
    if data is None:
        return None
    return PermitAccess(
        document_number=str(data["document_number"]),
        birth_date=str(data["birth_date"]),
        expiry_date=str(data["expiry_date"]),
    )


class CentralClient:
    """Typed look-ups over one signed transport (see the module docstring)."""

    def __init__(self, transport: CentralTransport, *, timeout_s: float = 5.0) -> None:
        self.transport = transport
        self.timeout_s = timeout_s

    def _call(
        self, method: str, path: str, body: Any, headers: dict[str, str] | None = None
    ) -> Any:
        _, data, resp = self.transport.json_request(
            method, path, body, headers=headers, timeout_s=self.timeout_s
        )
        raise_for_status(resp)
        return data

    def eligibility(self, id_number: str) -> Eligibility:
        # The ID number travels in the body, never in a URL that proxies and logs keep.
        try:
            data = _expect(
                self._call("POST", "/v1/eligibility", {"id_number": id_number}),
                "eligible",
                "reasons",
                "options",
            )
            return Eligibility(
                eligible=bool(data["eligible"]),
                reasons=tuple(RefusalReason(r) for r in data["reasons"]),
                options=tuple(
                    EndorsementOption(
                        code=str(o["code"]),
                        trips=str(o["trips"]),
                        validity_days=int(o["validity_days"]),
                        fee_cny=int(o["fee_cny"]),
                    )
                    for o in data["options"]
                ),
                regions=tuple(str(r) for r in data.get("regions", ())),
                purposes=tuple(str(p) for p in data.get("purposes", ())),
                permit=_permit(data.get("permit")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CentralError(
                "central answer has the wrong shape", code="central.bad_response"
            ) from exc

    def create_payment(
        self, key: str, *, id_number: str, option: str, region: str, purpose: str
    ) -> PaymentOrder:
        """Open (idempotently, by ``key``) a payment order for this choice's fee. A replay
        answers as the first time, so ask ``payment_status`` for the time left."""
        body = {"id_number": id_number, "option": option, "region": region, "purpose": purpose}
        return _payment_order(self._call("POST", "/v1/payments", body, {"Idempotency-Key": key}))

    def payment_status(self, order_id: str) -> PaymentOrder:
        return _payment_order(self._call("GET", _order_path(order_id), None))

    def cancel_payment(self, order_id: str) -> PaymentOrder:
        """Cancel an unpaid order; an order paid meanwhile stays paid (issue or refund it)."""
        return _payment_order(self._call("POST", _order_path(order_id, "/cancel"), None))

    def refund_payment(self, order_id: str) -> PaymentOrder:
        """Refund a paid order no endorsement used (409 ``CentralError`` otherwise)."""
        return _payment_order(self._call("POST", _order_path(order_id, "/refund"), None))

    def issue_endorsement(
        self, key: str, *, id_number: str, option: str, region: str, purpose: str, payment: str
    ) -> IssuedEndorsement:
        """Issue (idempotently, by ``key``) the endorsement paid for by order ``payment``."""
        body = {
            "id_number": id_number,
            "option": option,
            "region": region,
            "purpose": purpose,
            "payment": payment,
        }
        _, data, resp = self.transport.json_request(
            "POST",
            "/v1/endorsements",
            body,
            headers={"Idempotency-Key": key},
            timeout_s=self.timeout_s,
        )
        raise_for_status(resp)
        try:
            d = _expect(data, "endorsement_no", "fee_cny", "valid_until")
            return IssuedEndorsement(
                endorsement_no=str(d["endorsement_no"]),
                option=str(d["option"]),
                region=str(d["region"]),
                purpose=str(d["purpose"]),
                fee_cny=int(d["fee_cny"]),
                valid_from=str(d["valid_from"]),
                valid_until=str(d["valid_until"]),
                replayed=resp.headers.get("Idempotent-Replayed") == "true",
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CentralError(
                "central answer has the wrong shape", code="central.bad_response"
            ) from exc

    def permit_status(self, id_number: str) -> PermitStatus:
        """Permit validity and the current endorsement (the renewal terminal's query)."""
        data = _expect(
            self._call("POST", "/v1/permits/status", {"id_number": id_number}),
            "permit_expiry",
            "permit_days_left",
            "endorsement",
        )
        try:
            e = data["endorsement"]
            return PermitStatus(
                permit_expiry=str(data["permit_expiry"]),
                permit_days_left=int(data["permit_days_left"]),
                endorsement=None
                if e is None
                else CurrentEndorsement(
                    option=str(e["option"]),
                    region=str(e["region"]),
                    trips=str(e["trips"]),
                    valid_from=str(e["valid_from"]),
                    valid_until=str(e["valid_until"]),
                    valid=bool(e["valid"]),
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CentralError(
                "central answer has the wrong shape", code="central.bad_response"
            ) from exc

    def documents_ready(self, id_number: str) -> DocumentsReady:
        """What this pickup machine holds for the person, and where the rest waits."""
        data = _expect(
            self._call("POST", "/v1/documents/ready", {"id_number": id_number}), "documents"
        )
        try:
            here = [
                ReadyDocument(
                    document_no=str(d["document_no"]),
                    kind=str(d["kind"]),
                    slot=str(d["slot"]),
                    ready_since=str(d["ready_since"]),
                    applicant_photo=_photo(d.get("applicant_photo")),
                )
                for d in data["documents"]
            ]
            elsewhere = [
                DocumentsElsewhere(
                    kiosk_id=None if e["kiosk_id"] is None else str(e["kiosk_id"]),
                    count=int(e["count"]),
                )
                for e in data.get("elsewhere", [])
            ]
            address = data.get("address")
            address = None if address is None else str(address)
        except (KeyError, TypeError, ValueError) as exc:
            raise CentralError(
                "central answer has the wrong shape", code="central.bad_response"
            ) from exc
        return DocumentsReady(here, elsewhere, address)

    def check_in_appointment(self, appointment_no: str) -> AppointmentTicket:
        """Check an appointment in (the green channel): the same ticket when done before.
        A 404 ``CentralError``: no such appointment."""
        body = {"appointment_no": appointment_no}
        d = _expect(
            self._call("POST", "/v1/appointments/check-in", body),
            "status",
            "appointment_no",
            "counter",
            "slot_at",
        )
        try:
            ahead = d.get("ahead")
            ticket = AppointmentTicket(
                status=str(d["status"]),
                appointment_no=str(d["appointment_no"]),
                service=str(d.get("service") or ""),
                counter=str(d["counter"]),
                slot_at=str(d["slot_at"]),
                ticket_no=None if d.get("ticket_no") is None else str(d["ticket_no"]),
                ahead=None if ahead is None else int(ahead),
                again=bool(d.get("again", False)),
                opens_at=None if d.get("opens_at") is None else str(d["opens_at"]),
            )
        except (TypeError, ValueError) as exc:
            raise CentralError(
                "central answer has the wrong shape", code="central.bad_response"
            ) from exc
        if ticket.status not in APPOINTMENT_STATUSES or (
            ticket.status == "checked_in" and not ticket.ticket_no
        ):
            raise CentralError("central answer has the wrong shape", code="central.bad_response")
        return ticket

    def register_photo(
        self, photo_number: str, *, sha256: str, id_number: str | None = None
    ) -> PhotoReceipt:
        """Register a photo number for the receipt; the photo itself follows through the
        outbox (kind ``photo.captured`` with the JPEG as attachment). Idempotent by number."""
        body: dict[str, Any] = {"photo_number": photo_number, "sha256": sha256}
        if id_number:
            body["id_number"] = id_number
        d = _expect(
            self._call("POST", "/v1/photos/receipts", body),
            "photo_number",
            "receipt_code",
            "registered_at",
        )
        return PhotoReceipt(str(d["photo_number"]), str(d["receipt_code"]), str(d["registered_at"]))

    # --- endorsements written onto the permit chip (central holds the issuer key) -----------

    def authorize_chip(
        self, order_id: str, *, document_number: str, challenge: bytes, sequence: int
    ) -> ChipAuthorization:
        """Relay the chip's issuer challenge for paid order ``order_id``; central issues the
        endorsement (the first time) and answers the record and the cryptogram."""
        body = {
            "document_number": document_number,
            "challenge": challenge.hex().upper(),
            "sequence": sequence,
        }
        data = self._call("POST", _endorsement_path(order_id, "/authorize"), body)
        try:
            d = _expect(data, "endorsement_no", "sequence", "record", "cryptogram")
            return ChipAuthorization(
                order_id=order_id,
                endorsement_no=str(d["endorsement_no"]),
                sequence=int(d["sequence"]),
                record=bytes.fromhex(str(d["record"])),
                cryptogram=bytes.fromhex(str(d["cryptogram"])),
                option=str(d.get("option", "")),
                fee_cny=int(d.get("fee_cny", 0)),
                valid_from=str(d.get("valid_from", "")),
                valid_until=str(d.get("valid_until", "")),
                issued_at=str(d.get("issued_at", "")),
            )
        except (TypeError, ValueError) as exc:
            raise CentralError(
                "central answer has the wrong shape", code="central.bad_response"
            ) from exc

    def chip_state(self, order_id: str) -> ChipWriteState:
        return _chip_state(self._call("GET", _endorsement_path(order_id, "/chip"), None))

    def chip_written(self, order_id: str, sequence: int) -> ChipWriteState:
        """The record was read back from the chip: central makes the endorsement final."""
        body = {"sequence": sequence}
        return _chip_state(self._call("POST", _endorsement_path(order_id, "/written"), body))

    def void_endorsement(self, order_id: str) -> PaymentOrder:
        """The chip write failed: central withdraws the endorsement and refunds the order."""
        return _payment_order(self._call("POST", _endorsement_path(order_id, "/void"), None))

    def verify_record(self, *, id_number: str, document_number: str, record: bytes) -> RecordCheck:
        body = {"id_number": id_number, "document_number": document_number, "record": record.hex()}
        d = _expect(self._call("POST", "/v1/endorsements/verify", body), "valid", "reason")
        try:
            return RecordCheck(
                valid=bool(d["valid"]),
                reason=str(d["reason"]),
                endorsement_no=str(d.get("endorsement_no") or ""),
                option=str(d.get("option") or ""),
                region=str(d.get("region") or ""),
                purpose=str(d.get("purpose") or ""),
                valid_from=str(d.get("valid_from") or ""),
                valid_until=str(d.get("valid_until") or ""),
                current=bool(d.get("current")),
            )
        except (TypeError, ValueError) as exc:
            raise CentralError(
                "central answer has the wrong shape", code="central.bad_response"
            ) from exc


def _endorsement_path(order_id: str, action: str) -> str:
    if not isinstance(order_id, str) or not _ORDER_ID.fullmatch(order_id):
        raise ValueError("order_id must be 32 lowercase hex characters")
    return f"/v1/endorsements/{order_id}{action}"


def _chip_state(data: Any) -> ChipWriteState:
    d = _expect(data, "order_id", "status", "written", "voided", "permit")
    try:
        return ChipWriteState(
            order_id=str(d["order_id"]),
            status=str(d["status"]),
            endorsement_no=None if d.get("endorsement_no") is None else str(d["endorsement_no"]),
            sequence=None if d.get("sequence") is None else int(d["sequence"]),
            written=bool(d["written"]),
            voided=bool(d["voided"]),
            permit=_permit(d["permit"]),
            record=None if d.get("record") is None else bytes.fromhex(str(d["record"])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CentralError(
            "central answer has the wrong shape", code="central.bad_response"
        ) from exc
