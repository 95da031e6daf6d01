"""Endorsements written onto the permit chip: central's half of the issuer authentication
(docs/chip-reader.md, "Issuer authentication"; the scheme in ``central.issuer``).

A kiosk relays the chip's challenge for a paid order; central issues the endorsement (once,
against that order), binds it to the chip slot the chip named and answers the record bytes
and the cryptogram made with the issuer master key only central holds. A kiosk that lost the
card or crashed asks again for the *same* slot (same record bytes, a fresh challenge); a
second slot is refused, so one order never writes two records. The kiosk then confirms the
write it read back (``written``), or, when the write failed, withdraws the endorsement and
refunds the order (``void``) - never once it is confirmed on the chip.

``verify`` serves the reprint service: is this record, read from this permit's chip, an
endorsement central issued to this person?
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from central import issuer
from central.store.common import OPTIONS, Refused
from central.store.db import Database
from central.store.lookups import citizen
from central.store.payments import Order, Payments
from central.store.schema import chip_endorsements, citizens, endorsements, payments

log = logging.getLogger(__name__)

MAX_AUTHORISATIONS = 8  # fresh challenges for one order: retries after a pulled card
TRIPS = {"one": 1, "two": 2, "multiple": 0}  # the option's trips as the chip stores them


class ChipEndorsements:
    def __init__(
        self,
        db: Database,
        payments_part: Payments,
        today: Callable[[], date],
        *,
        master_key: bytes | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if master_key is not None and len(master_key) not in issuer.MASTER_KEY_SIZES:
            raise ValueError("the issuer master key must be 16, 24 or 32 bytes")
        self.db = db
        self.payments = payments_part
        self.today = today
        self._master_key = master_key
        self.clock = clock

    # ---------------------------------------------------------------- the kiosk's steps
    def authorize(self, kiosk_id: str, order_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The record for the chip's slot ``sequence`` and the cryptogram for ``challenge``."""
        master = self._master()
        challenge = _challenge(body.get("challenge"))
        sequence = body.get("sequence")
        if not isinstance(sequence, int) or not 1 <= sequence <= issuer.CAPACITY:
            raise Refused(422, f"sequence must be 1..{issuer.CAPACITY}")
        with self.db.write() as conn:
            order = self._paid(conn, kiosk_id, order_id)
            permit_no = citizen(conn, order.id_number).permit_no
            if _document(body.get("document_number")) != permit_no:
                raise Refused(422, "this permit is not the one on record for the order")
            row = self._row(conn, order_id)
            if row is None:
                endorsement_no = order.endorsement_no or self._issue(kiosk_id, order)
                conn.execute(
                    chip_endorsements.insert().values(
                        order_id=order_id,
                        endorsement_no=endorsement_no,
                        sequence=sequence,
                        issued_at=_utc_now(self.clock()),
                        authorisations=1,
                        authorised_at=self.clock(),
                    )
                )
                row = self._row(conn, order_id)
                assert row is not None
            else:
                self._may_authorise_again(row, sequence)
                conn.execute(
                    update(chip_endorsements)
                    .where(chip_endorsements.c.order_id == order_id)
                    .values(
                        authorisations=chip_endorsements.c.authorisations + 1,
                        authorised_at=self.clock(),
                    )
                )
            record = self._record(conn, row)
            self.db.bump(conn, "chip_authorisations")
        data = issuer.encode_record(record)
        cryptogram = issuer.authorize(master, permit_no, challenge, data)
        return {
            **_describe(record, order),
            "order_id": order_id,
            "record": data.hex().upper(),
            "cryptogram": cryptogram.hex().upper(),
        }

    def state(self, kiosk_id: str, order_id: str) -> dict[str, Any]:
        """Where the order's chip write stands (a kiosk resuming after a restart), with the
        permit's access data so it can open the chip of the card still in its module."""
        with self.db.read() as conn:
            order = self.payments._order(conn, order_id, kiosk_id, self.clock())
            c = citizen(conn, order.id_number)
            row = self._row(conn, order_id)
            live = row is not None and row.voided_at is None
            record = self._record(conn, row) if live else None
        answer: dict[str, Any] = {
            "order_id": order_id,
            "status": order.status,
            "endorsement_no": order.endorsement_no,
            "sequence": row.sequence if row is not None else None,
            "written": bool(row is not None and row.written_at is not None),
            "voided": bool(row is not None and row.voided_at is not None),
            "permit": {
                "document_number": c.permit_no,
                "birth_date": c.id_number[8:14],
                "expiry_date": c.permit_expiry[2:4] + c.permit_expiry[5:7] + c.permit_expiry[8:10],
            },
            "record": issuer.encode_record(record).hex().upper() if record else None,
        }
        return answer

    def written(self, kiosk_id: str, order_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The kiosk read the record back from the chip: the endorsement is final."""
        with self.db.write() as conn:
            self.payments._order(conn, order_id, kiosk_id, self.clock())
            row = self._row(conn, order_id)
            if row is None:
                raise Refused(409, "no chip write was authorised for this order")
            if row.voided_at is not None:
                raise Refused(409, "the endorsement was withdrawn")
            if body.get("sequence") != row.sequence:
                raise Refused(409, f"the record was authorised for slot {row.sequence}")
            if row.written_at is None:
                conn.execute(
                    update(chip_endorsements)
                    .where(chip_endorsements.c.order_id == order_id)
                    .values(written_at=self.clock())
                )
                self.db.bump(conn, "chip_writes")
        return self.state(kiosk_id, order_id)

    def void(self, kiosk_id: str, order_id: str) -> dict[str, Any]:
        """The chip write failed: withdraw the endorsement and refund the order. Refused once
        the write is confirmed; an order refunded already answers as it is."""
        now = self.clock()
        with self.db.write() as conn:
            order = self.payments._order(conn, order_id, kiosk_id, now)
            row = self._row(conn, order_id)
            if row is not None and row.written_at is not None:
                raise Refused(409, "the endorsement is on the chip: it cannot be withdrawn")
            if order.status == "paid" and order.endorsement_no is not None:
                self._withdraw(conn, order)
            if row is not None and row.voided_at is None:
                conn.execute(
                    update(chip_endorsements)
                    .where(chip_endorsements.c.order_id == order_id)
                    .values(voided_at=now)
                )
            if order.status == "paid":
                return self.payments.refund_payment(kiosk_id, order_id)
        if order.status != "refunded":
            raise Refused(409, f"order is {order.status}: nothing to refund", status=order.status)
        return order.answer(now)

    # ---------------------------------------------------------------- reprint
    def verify(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Is ``record`` (hex, read from the chip of ``document_number``) an endorsement
        central issued to ``id_number`` and still stands by? ``valid`` false names why."""
        text = body.get("record")
        try:
            data = bytes.fromhex(text) if isinstance(text, str) else b""
            record = issuer.decode_record(data)
        except (ValueError, issuer.IssuerError):
            return {"valid": False, "reason": "record_unreadable"}
        with self.db.read() as conn:
            c = citizen(conn, body.get("id_number"))
            if _document(body.get("document_number")) != c.permit_no:
                return {"valid": False, "reason": "not_this_permit"}
            issued = conn.execute(
                select(endorsements).where(
                    endorsements.c.endorsement_no == record.endorsement_no,
                    endorsements.c.id_number == c.id_number,
                )
            ).first()
            row = conn.execute(
                select(chip_endorsements).where(
                    chip_endorsements.c.endorsement_no == record.endorsement_no
                )
            ).first()
        if issued is None or (row is not None and row.voided_at is not None):
            return {"valid": False, "reason": "not_issued"}
        trips = TRIPS[next((o.trips for o in OPTIONS if o.code == issued.option), "multiple")]
        expected = (
            issued.region,
            issued.purpose,
            trips,
            issued.valid_from,
            issued.valid_until,
        )
        found = (
            record.region,
            record.purpose,
            record.trips,
            record.valid_from.isoformat(),
            record.valid_until.isoformat(),
        )
        if expected != found or (row is not None and row.issued_at != _iso(record.issued_at)):
            return {"valid": False, "reason": "record_differs"}
        return {
            "valid": True,
            "reason": "",
            "endorsement_no": record.endorsement_no,
            "option": issued.option,
            "region": issued.region,
            "purpose": issued.purpose,
            "trips": trips,
            "valid_from": issued.valid_from,
            "valid_until": issued.valid_until,
            "issued_at": _iso(record.issued_at),
            "current": date.fromisoformat(issued.valid_until) >= self.today(),
        }

    # ---------------------------------------------------------------- helpers
    def _master(self) -> bytes:
        if self._master_key is None:
            raise Refused(503, "issuer key not configured: chip endorsements unavailable")
        return self._master_key

    def _paid(self, conn: Connection, kiosk_id: str, order_id: str) -> Order:
        order = self.payments._order(conn, order_id, kiosk_id, self.clock())
        if order.status != "paid":
            raise Refused(
                422, f"the payment order is {order.status}, not paid", status=order.status
            )
        return order

    def _issue(self, kiosk_id: str, order: Order) -> str:
        """The endorsement the order pays for, issued now (inside the caller's transaction)."""
        _, result = self.payments.issue_endorsement(
            kiosk_id,
            {
                "id_number": order.id_number,
                "option": order.option,
                "region": order.region,
                "purpose": order.purpose,
                "payment": order.order_id,
            },
        )
        return str(result["endorsement_no"])

    @staticmethod
    def _row(conn: Connection, order_id: str) -> Any:
        return conn.execute(
            select(chip_endorsements).where(chip_endorsements.c.order_id == order_id)
        ).first()

    @staticmethod
    def _may_authorise_again(row: Any, sequence: int) -> None:
        if row.voided_at is not None:
            raise Refused(422, "the endorsement was withdrawn and the order refunded")
        if row.written_at is not None:
            raise Refused(409, "the endorsement is already on the chip", sequence=row.sequence)
        if row.sequence != sequence:
            # The chip moved on: the record is in slot ``row.sequence`` already, or another
            # record took it. Writing into a second slot would write it twice.
            raise Refused(409, f"authorised for slot {row.sequence} only", sequence=row.sequence)
        if row.authorisations >= MAX_AUTHORISATIONS:
            raise Refused(409, "too many attempts for this order: staff must look at it")

    @staticmethod
    def _record(conn: Connection, row: Any) -> issuer.Record:
        issued = conn.execute(
            select(endorsements).where(endorsements.c.endorsement_no == row.endorsement_no)
        ).first()
        if issued is None:
            raise Refused(409, "the endorsement was withdrawn")
        trips = TRIPS[next((o.trips for o in OPTIONS if o.code == issued.option), "multiple")]
        return issuer.Record(
            sequence=int(row.sequence),
            endorsement_no=issued.endorsement_no,
            region=issued.region,
            purpose=issued.purpose,
            trips=trips,
            valid_from=date.fromisoformat(issued.valid_from),
            valid_until=date.fromisoformat(issued.valid_until),
            issued_at=datetime.fromisoformat(row.issued_at),
        )

    @staticmethod
    def _withdraw(conn: Connection, order: Order) -> None:
        """Undo the issue: the endorsement row goes, the citizen's current end date is that
        of the newest one left, and the order is free to be refunded."""
        conn.execute(
            delete(endorsements).where(endorsements.c.endorsement_no == order.endorsement_no)
        )
        latest = conn.execute(
            select(func.max(endorsements.c.valid_until)).where(
                endorsements.c.id_number == order.id_number
            )
        ).scalar()
        conn.execute(
            update(citizens)
            .where(citizens.c.id_number == order.id_number)
            .values(endorsement_until=latest)
        )
        conn.execute(
            update(payments)
            .where(payments.c.order_id == order.order_id)
            .values(endorsement_no=None)
        )
        log.info("endorsement of order %s withdrawn before it reached the chip", order.order_id)


def _challenge(value: Any) -> bytes:
    try:
        challenge = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        challenge = b""
    if len(challenge) != issuer.CHALLENGE_SIZE:
        raise Refused(422, f"challenge must be {issuer.CHALLENGE_SIZE} bytes in hex")
    return challenge


def _document(value: Any) -> str:
    if not isinstance(value, str):
        raise Refused(422, "document_number required")
    try:
        return issuer.normalise_document_number(value).decode().rstrip("<")
    except issuer.IssuerError as exc:
        raise Refused(422, str(exc)) from None


def _utc_now(now: float) -> str:
    return _iso(datetime.fromtimestamp(int(now), UTC))


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


def _describe(record: issuer.Record, order: Order) -> dict[str, Any]:
    return {
        "endorsement_no": record.endorsement_no,
        "sequence": record.sequence,
        "option": order.option,
        "region": record.region,
        "purpose": record.purpose,
        "trips": record.trips,
        "fee_cny": order.amount_cny,
        "valid_from": record.valid_from.isoformat(),
        "valid_until": record.valid_until.isoformat(),
        "issued_at": _iso(record.issued_at),
    }
