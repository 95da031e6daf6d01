"""Look-ups the flows make while a citizen waits: renewal eligibility, endorsement issue,
documents ready for pickup, photo receipt registration. Typed results, bounded timeouts.

Each call raises ``CentralError`` (``retryable`` tells the flow whether "please wait, trying
again" makes sense). Issuing an endorsement is itself idempotent: the caller passes a key it
has persisted first (e.g. from ``Outbox.next_sequence``), so a retry after a lost answer
returns the same endorsement instead of charging twice.

Not thread-safe: give each thread its own client.
"""

from __future__ import annotations

import enum
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


@dataclass(frozen=True)
class ReadyDocument:
    document_no: str
    kind: str
    slot: str
    ready_since: str


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


@dataclass(frozen=True)
class PhotoReceipt:
    photo_number: str
    receipt_code: str
    registered_at: str


def _expect(data: Any, *fields: str) -> dict[str, Any]:
    if not isinstance(data, dict) or any(f not in data for f in fields):
        raise CentralError("central answer has the wrong shape", code="central.bad_response")
    return data


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

    def issue_endorsement(
        self, key: str, *, id_number: str, option: str, region: str, purpose: str
    ) -> IssuedEndorsement:
        """Issue (idempotently, by ``key``) an endorsement the citizen has paid for."""
        body = {"id_number": id_number, "option": option, "region": region, "purpose": purpose}
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
        except (KeyError, TypeError, ValueError) as exc:
            raise CentralError(
                "central answer has the wrong shape", code="central.bad_response"
            ) from exc
        return DocumentsReady(here, elsewhere)

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
