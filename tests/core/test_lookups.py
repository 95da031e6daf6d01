"""The terminals' look-ups at central against the reference central service on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from central.server import CentralHandle, start_in_thread
from central.store import DEMO_PICKUP_KIOSK, make_id_number
from central.store.schema import documents
from devices.simulators.cards import sample_card
from kiosk.core.errors import KioskError
from kiosk.core.session import Session
from kiosk.machine.central import CentralLink, CentralUnreachable
from kiosk.machine.ports import DOCUMENT_PHOTO, IDCARD_DATA
from kiosk.terminals.pickup.lookup import PickupLookup
from kiosk.terminals.renewal.lookup import RenewalLookup
from kiosk.terminals.renewal.ports import PERMIT_ACCESS
from offline_queue.central_client import CentralClient, DocumentsElsewhere
from offline_queue.transport import CentralTransport

KIOSK = DEMO_PICKUP_KIOSK  # holds the seeded documents
SECRET = b"central-service-secret"
CHEN = make_id_number("440304", "19900307", "123")  # one document ready
WANG = make_id_number("440305", "20000101", "789")  # two documents ready
ZHAO = make_id_number("440303", "19770615", "234")  # first application
ZHANG = make_id_number("440304", "19900101", "135")  # eligible
NOBODY = make_id_number("440304", "19900101", "999")


@pytest.fixture
def central(tmp_path: Path) -> Iterator[CentralHandle]:
    handle = start_in_thread(
        tmp_path / "central.sqlite",
        kiosk_secrets={KIOSK: SECRET},
        today=lambda: date(2026, 11, 27),
    )
    yield handle
    handle.stop()


def link_to(url: str, told: list[str] | None = None) -> CentralLink:
    def client() -> CentralClient:
        return CentralClient(CentralTransport(url, kiosk_id=KIOSK, secret=SECRET), timeout_s=2)

    return CentralLink(
        client, on_unreachable=None if told is None else lambda: told.append("unreachable")
    )


def pickup_for(
    url: str, withheld: set[str] | None = None, told: list[str] | None = None
) -> PickupLookup:
    held = withheld or set()
    return PickupLookup(link_to(url, told), lambda number: number in held)


def renewal_for(url: str) -> RenewalLookup:
    return RenewalLookup(link_to(url))


def session_of(id_number: str) -> Session:
    session = Session("test", datetime.now())
    session.put(IDCARD_DATA, sample_card(id_number=id_number))
    return session


def test_documents_ready_leave_out_withheld_ones(central: CentralHandle) -> None:
    ready = pickup_for(central.url).documents_ready(session_of(WANG))
    numbers = [d.document_no for d in ready.documents]
    assert len(numbers) == 2 and ready.withheld == 0
    held = pickup_for(central.url, {numbers[0]})
    again = held.documents_ready(session_of(WANG))
    assert [d.document_no for d in again.documents] == numbers[1:]
    assert again.withheld == 1
    assert WANG not in repr(again)  # the flow never sees the ID number


def _jpeg(shade: int) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (48, 64), (shade, shade, shade)).save(out, "JPEG")
    return out.getvalue()


def test_the_newest_application_photo_on_offer_is_the_face_checks_reference(
    central: CentralHandle,
) -> None:
    session = session_of(WANG)
    ready = pickup_for(central.url).documents_ready(session)
    assert session.get(DOCUMENT_PHOTO) is None, "none on file: the check has no reference"
    older, newer = ready.documents
    with central.store.db.write() as conn:  # the national system's records, as they come
        conn.execute(
            documents.update()
            .where(documents.c.document_no == older.document_no)
            .values(ready_since="2026-11-01")
        )
        conn.execute(
            documents.update()
            .where(documents.c.document_no == newer.document_no)
            .values(ready_since="2026-11-20")
        )
    central.store.set_applicant_photo(older.document_no, _jpeg(40))
    central.store.set_applicant_photo(newer.document_no, _jpeg(200))
    pickup_for(central.url).documents_ready(session)
    assert session.get(DOCUMENT_PHOTO) == _jpeg(200)
    # A document this machine withholds is not offered, nor is its photo used.
    session = session_of(WANG)
    pickup_for(central.url, {newer.document_no}).documents_ready(session)
    assert session.get(DOCUMENT_PHOTO) == _jpeg(40)


def test_documents_in_another_machine_are_named_not_offered(central: CentralHandle) -> None:
    zhou = make_id_number("440307", "19920420", "567")  # her permit is in SZ-FT-K02
    ready = pickup_for(central.url).documents_ready(session_of(zhou))
    assert ready.documents == () and ready.withheld == 0
    assert ready.elsewhere == (DocumentsElsewhere("SZ-FT-K02", 1),)


def test_eligibility_puts_the_permit_access_into_the_session(central: CentralHandle) -> None:
    lookup = renewal_for(central.url)
    session = session_of(ZHANG)
    verdict = lookup.eligibility(session)
    assert verdict.eligible and verdict.permit_on_record
    assert {o.code for o in verdict.options} >= {"one_trip", "multi_1y"}
    access = session.get(PERMIT_ACCESS)
    assert access is not None and access.document_number == "C12345678"
    assert "C12345678" not in repr(verdict)
    refused = lookup.eligibility(session_of(ZHAO))
    assert not refused.eligible and refused.reasons == ("first_application",)
    assert refused.options == ()


def test_no_record_is_an_answer_not_a_fault(central: CentralHandle) -> None:
    assert not pickup_for(central.url).documents_ready(session_of(NOBODY)).known
    lookup = renewal_for(central.url)
    assert not lookup.eligibility(session_of(NOBODY)).known
    assert not lookup.permit_status(session_of(NOBODY)).known


def test_central_down_is_a_failure_never_a_made_up_answer(central: CentralHandle) -> None:
    url = central.url
    central.stop()
    told: list[str] = []
    with pytest.raises(CentralUnreachable) as caught:
        pickup_for(url, told=told).documents_ready(session_of(CHEN))
    assert caught.value.code.startswith("central.")
    assert told == ["unreachable"]  # the sync worker is asked to check the link at once


def test_an_answered_look_up_says_nothing_about_the_link(central: CentralHandle) -> None:
    told: list[str] = []
    lookup = pickup_for(central.url, told=told)
    assert not lookup.documents_ready(session_of(NOBODY)).known
    assert lookup.documents_ready(session_of(CHEN)).known
    assert told == []


def test_a_look_up_needs_a_card_read_in_this_session(central: CentralHandle) -> None:
    with pytest.raises(KioskError) as caught:
        renewal_for(central.url).eligibility(Session("t", datetime.now()))
    assert caught.value.code == "central.no_idcard"
