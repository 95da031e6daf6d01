"""The look-ups the kiosk flows start with: eligibility for an endorsement renewal (with the
permit's chip access data), permit and endorsement status, documents ready for pickup, and
photo receipts. They stand in for the national exit-entry system's answers."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, and_, exists, select, update

from central.idnumber import is_valid
from central.store.common import (
    KEY_RE,
    LOCAL_PROVINCE,
    OPTIONS,
    PURPOSES,
    REGIONS,
    VALIDITY_MARGIN_DAYS,
    Option,
    Refused,
    receipt_code,
)
from central.store.db import Database
from central.store.deliveries import address_on_record
from central.store.schema import citizens, deliveries, documents, endorsements, photos


@dataclass(frozen=True)
class Citizen:
    id_number: str
    name: str
    permit_no: str
    permit_expiry: str
    first_application: bool
    registered_personnel: bool
    endorsement_until: str | None
    permit_used: bool


@dataclass(frozen=True)
class Choice:
    """A renewal choice central has checked (``checked_choice``)."""

    id_number: str
    option: Option
    region: str
    purpose: str


def citizen(conn: Connection, id_number: Any) -> Citizen:
    if not isinstance(id_number, str) or not is_valid(id_number):
        raise Refused(422, "invalid ID number")
    row = conn.execute(select(citizens).where(citizens.c.id_number == id_number)).first()
    if row is None:
        raise Refused(404, "no record for this person")
    return Citizen(
        row.id_number,
        row.name,
        row.permit_no,
        row.permit_expiry,
        bool(row.first_application),
        bool(row.registered_personnel),
        row.endorsement_until,
        bool(row.permit_used),
    )


def verdict(conn: Connection, id_number: Any, today: date) -> dict[str, Any]:
    """Eligibility with every refusal reason, and the options this person may choose."""
    c = citizen(conn, id_number)
    reasons: list[str] = []
    if c.first_application:
        reasons.append("first_application")
    if c.registered_personnel:
        reasons.append("registered_personnel")
    if c.endorsement_until and date.fromisoformat(c.endorsement_until) >= today:
        reasons.append("endorsement_still_valid")
    if c.id_number[:2] != LOCAL_PROVINCE and not c.permit_used:
        reasons.append("out_of_province_first_use")
    expiry = date.fromisoformat(c.permit_expiry)
    options = [
        o
        for o in OPTIONS
        if expiry >= today + timedelta(days=o.validity_days + VALIDITY_MARGIN_DAYS)
    ]
    if not options:
        reasons.append("permit_validity_too_short")
    if reasons:
        options = []
    return {
        "eligible": not reasons,
        # BAC access data of the permit on record: the kiosk opens the chip with it.
        "permit": {
            "document_number": c.permit_no,
            "birth_date": c.id_number[8:14],
            "expiry_date": c.permit_expiry[2:4] + c.permit_expiry[5:7] + c.permit_expiry[8:10],
        },
        "reasons": reasons,
        "options": [o.__dict__ for o in options],
        "regions": list(REGIONS) if not reasons else [],
        "purposes": list(PURPOSES) if not reasons else [],
    }


def checked_choice(conn: Connection, body: Mapping[str, Any], today: date) -> Choice:
    """What a payment order and the endorsement it pays for both need: a known, eligible
    citizen, a known region and purpose, and an option offered to this person."""
    id_number = body.get("id_number")
    if not isinstance(id_number, str):
        raise Refused(422, "id_number required")
    region, purpose, code = body.get("region"), body.get("purpose"), body.get("option")
    if region not in REGIONS or purpose not in PURPOSES:
        raise Refused(422, "unknown region or purpose")
    found = verdict(conn, id_number, today)
    if not found["eligible"]:
        raise Refused(422, "not eligible", reasons=found["reasons"])
    offered = {o["code"] for o in found["options"]}
    option = next((o for o in OPTIONS if o.code == code and code in offered), None)
    if option is None:
        raise Refused(422, "option not offered to this person")
    return Choice(id_number, option, str(region), str(purpose))


class Lookups:
    def __init__(self, db: Database, today: Callable[[], date]) -> None:
        self.db = db
        self.today = today

    def eligibility(self, id_number: Any) -> dict[str, Any]:
        with self.db.read() as conn:
            return verdict(conn, id_number, self.today())

    def permit_status(self, id_number: Any) -> dict[str, Any]:
        """What the query service shows: permit validity and the current endorsement."""
        with self.db.read() as conn:
            c = citizen(conn, id_number)
            row = conn.execute(
                select(
                    endorsements.c.option,
                    endorsements.c.region,
                    endorsements.c.valid_from,
                    endorsements.c.valid_until,
                )
                .where(endorsements.c.id_number == c.id_number)
                .order_by(endorsements.c.valid_until.desc())
                .limit(1)
            ).first()
        today = self.today()
        endorsement: dict[str, Any] | None = None
        if row is not None:
            trips = next((o.trips for o in OPTIONS if o.code == row[0]), "multiple")
            endorsement = {
                "option": row[0],
                "region": row[1],
                "trips": trips,
                "valid_from": row[2],
                "valid_until": row[3],
            }
        elif c.endorsement_until:  # issued before the store kept endorsements
            endorsement = {
                "option": "",
                "region": "",
                "trips": "",
                "valid_from": "",
                "valid_until": c.endorsement_until,
            }
        if endorsement is not None:
            endorsement["valid"] = date.fromisoformat(endorsement["valid_until"]) >= today
        return {
            "permit_expiry": c.permit_expiry,
            "permit_days_left": (date.fromisoformat(c.permit_expiry) - today).days,
            "endorsement": endorsement,
        }

    def documents_ready(self, id_number: Any, kiosk_id: str) -> dict[str, Any]:
        """Documents ready for this person in this pickup machine, and how many wait
        elsewhere (another machine, or the counter: ``kiosk_id`` null)."""
        with self.db.read() as conn:
            c = citizen(conn, id_number)
            rows = conn.execute(
                select(
                    documents.c.document_no,
                    documents.c.kind,
                    documents.c.slot,
                    documents.c.ready_since,
                    documents.c.kiosk_id,
                    documents.c.applicant_photo,
                )
                .where(
                    and_(
                        documents.c.id_number == c.id_number,
                        documents.c.handed_over_at.is_(None),
                        # Ordered for delivery: no longer to be collected anywhere.
                        ~exists().where(deliveries.c.document_no == documents.c.document_no),
                    )
                )
                .order_by(documents.c.document_no)
            ).all()
            address = address_on_record(conn, c.id_number)
        here = [r for r in rows if r[4] == kiosk_id]
        elsewhere = Counter(r[4] for r in rows if r[4] != kiosk_id)
        return {
            "documents": [
                {
                    "document_no": r[0],
                    "kind": r[1],
                    "slot": r[2],
                    "ready_since": r[3],
                    "applicant_photo": None if r[5] is None else base64.b64encode(r[5]).decode(),
                }
                for r in here
            ],
            "elsewhere": [
                {"kiosk_id": k, "count": n}
                for k, n in sorted(elsewhere.items(), key=lambda kn: (kn[0] is None, kn[0] or ""))
            ],
            # For free EMS delivery instead of pickup (central.store.deliveries).
            "address": address,
        }

    def set_applicant_photo(self, document_no: str, jpeg: bytes) -> None:
        """The application's photo for a document not yet handed over (the national
        system's record; the demo and tests load it through an admin route)."""
        if not jpeg.startswith(b"\xff\xd8"):
            raise Refused(415, "the applicant photo must be a JPEG")
        with self.db.write() as conn:
            n = conn.execute(
                update(documents)
                .where(
                    and_(
                        documents.c.document_no == document_no,
                        documents.c.handed_over_at.is_(None),
                    )
                )
                .values(applicant_photo=jpeg)
            ).rowcount
        if n != 1:
            raise Refused(404, "no such document waiting to be collected")

    def register_photo(self, kiosk_id: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """A photo's receipt, once per photo number; the number belongs to the machine that
        registered it (another machine asking about it is refused, not told its receipt)."""
        number, sha = body.get("photo_number"), body.get("sha256")
        if not isinstance(number, str) or not KEY_RE.match(number) or not isinstance(sha, str):
            raise Refused(422, "photo_number and sha256 required")
        id_number = body.get("id_number")
        if id_number is not None and (not isinstance(id_number, str) or not is_valid(id_number)):
            raise Refused(422, "invalid ID number")
        problem = None
        registered = self.today().isoformat()
        code = receipt_code(number)
        with self.db.write() as conn:
            # Claimed by the insert (a concurrent registration on another instance waits for
            # this one), then compared with what is there if it was not ours to make.
            created = conn.execute(
                self.db.insert(photos)
                .values(
                    photo_number=number,
                    kiosk_id=kiosk_id,
                    sha256=sha,
                    id_number=id_number,
                    receipt_code=code,
                    registered_at=registered,
                )
                .on_conflict_do_nothing(index_elements=[photos.c.photo_number])
                .returning(photos.c.photo_number)
            ).first()
            row = None
            if created is None:
                row = conn.execute(
                    select(
                        photos.c.sha256,
                        photos.c.receipt_code,
                        photos.c.registered_at,
                        photos.c.kiosk_id,
                    ).where(photos.c.photo_number == number)
                ).first()
                assert row is not None
                if row[3] != kiosk_id:
                    problem = "photo number registered by another machine"
                elif row[0] not in (sha, ""):
                    problem = "photo number already registered with another photo"
                # Counted inside the transaction; refused after it commits.
                self.db.bump(conn, "conflicts" if problem else "replays")
        if problem:
            raise Refused(422, problem)
        if row is not None:
            return 200, {"photo_number": number, "receipt_code": row[1], "registered_at": row[2]}
        return 201, {"photo_number": number, "receipt_code": code, "registered_at": registered}

    def photos(self) -> list[dict[str, Any]]:
        """Registered photos (the counter's look-up by citizen; tests)."""
        with self.db.read() as conn:
            rows = conn.execute(select(photos).order_by(photos.c.photo_number)).all()
        return [dict(r._mapping) for r in rows]
