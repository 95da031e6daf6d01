"""The appointment desk and the free EMS delivery against the reference central service on
loopback: a check-in through the kiosk's own client, and a delivery order journaled in a real
SQLite outbox, delivered by the sync worker, stored once however often it is sent, and the
document withheld here and no longer offered."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import requests

from central.server import CentralHandle, start_in_thread
from central.store import DEMO_PICKUP_KIOSK, make_id_number
from devices.simulators.cards import sample_card
from kiosk.core.errors import KioskError
from kiosk.core.session import Session
from kiosk.machine.central import CentralLink
from kiosk.machine.ports import IDCARD_DATA
from kiosk.terminals.appointment.service import AppointmentDesk
from kiosk.terminals.pickup.lookup import PickupLookup
from kiosk.terminals.pickup.ports import Document
from kiosk.terminals.pickup.service import DocumentWithheld, PickupService
from offline_queue.central_client import CentralClient
from offline_queue.outbox import Outbox
from offline_queue.sync import SyncWorker
from offline_queue.transport import CentralTransport

KIOSK = DEMO_PICKUP_KIOSK
SECRET = b"appointment-service-secret"
CHEN = make_id_number("440304", "19900307", "123")  # one document here, an address on record
NOW = datetime(2026, 11, 27, 9, 30)


@pytest.fixture
def central(tmp_path: Path) -> Iterator[CentralHandle]:
    handle = start_in_thread(
        tmp_path / "central.sqlite",
        kiosk_secrets={KIOSK: SECRET},
        today=lambda: date(2026, 11, 27),
    )
    handle.store.appointments.clock = lambda: NOW
    yield handle
    handle.stop()


def link_to(url: str) -> CentralLink:
    return CentralLink(
        lambda: CentralClient(CentralTransport(url, kiosk_id=KIOSK, secret=SECRET), timeout_s=5)
    )


def session_of(id_number: str) -> Session:
    session = Session("test", datetime.now())
    session.put(IDCARD_DATA, sample_card(id_number=id_number))
    return session


def test_the_desk_checks_in_through_the_kiosks_client(central: CentralHandle) -> None:
    slot = NOW + timedelta(minutes=15)
    body = {"service": "passport", "counter": "3", "slot_at": f"{slot:%Y-%m-%dT%H:%M}"}
    number = requests.post(f"{central.url}/v1/appointments", json=body, timeout=5).json()[
        "appointment_no"
    ]
    desk = AppointmentDesk(link_to(central.url))
    try:
        found = desk.check_in(number, None)
        assert found.known and found.ticket is not None
        assert (found.ticket.status, found.ticket.counter) == ("checked_in", "3")
        assert desk.check_in(number, None).ticket == found.ticket.__class__(
            **{**found.ticket.__dict__, "again": True}
        )
        wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
        assert not desk.check_in(wrong, None).known  # never asked: its check digit is wrong
        body9 = "000000001"
        from kiosk.terminals.appointment.numbers import luhn_digit

        assert not desk.check_in(body9 + luhn_digit(body9), None).known  # central's 404
    finally:
        desk.close()
    dead = AppointmentDesk(link_to("http://127.0.0.1:9"))
    with pytest.raises(KioskError) as caught:
        dead.check_in(number, None)
    assert caught.value.code.startswith("central.")


def test_a_delivery_is_journaled_synced_once_and_withholds_the_document(
    central: CentralHandle, tmp_path: Path
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite", kiosk_id=KIOSK)
    service = PickupService(outbox, lambda: pytest.fail("no dispense"), KIOSK)  # type: ignore[arg-type,return-value]
    lookup = PickupLookup(link_to(central.url), service.withheld)
    transport = CentralTransport(central.url, kiosk_id=KIOSK, secret=SECRET, timeout_s=5)
    try:
        session = session_of(CHEN)
        found = lookup.documents_ready(session)
        assert found.address == "广东省深圳市福田区福华三路88号2栋1203"
        assert found.address not in repr(found)  # personal data stays out of logs
        (document,) = found.documents
        address = "广东省深圳市福田区  金田路36号"
        ordered = service.order_delivery(document, address, {"decision": "match"}, session)
        assert ordered.document_no == document.document_no and ordered.order_no.startswith(KIOSK)
        assert service.withheld(document.document_no)
        with pytest.raises(DocumentWithheld):
            service.order_delivery(document, address, None, session)
        with pytest.raises(DocumentWithheld):
            service.hand_over(document, None, None, session)
        assert [(d, o) for d, o in service.withheld_documents()] == [
            (document.document_no, "ordered")
        ]
        (entry,) = outbox.entries()
        assert entry.kind == "pickup.delivery"
        worker = SyncWorker(outbox, transport)
        assert worker.drain(max_seconds=30) == 1
        orders = central.store.deliveries()
        assert [(o["order_no"], o["document_no"]) for o in orders] == [
            (ordered.order_no, document.document_no)
        ]
        assert orders[0]["address"] == "广东省深圳市福田区 金田路36号"
        assert orders[0]["id_number"] == CHEN
        # The same entry sent again (an answer lost on the way back) changes nothing.
        [replay] = central.store.ingest_batch(KIOSK, [_as_sent(central, entry.key)])
        assert replay.get("replayed") is True and len(central.store.deliveries()) == 1
        assert lookup.documents_ready(session).documents == ()
        with pytest.raises(KioskError):
            service.order_delivery(Document("D-X", "passport", "A09"), "x", None, session)
    finally:
        lookup.close()
        transport.close()
        outbox.close()


def _as_sent(central: CentralHandle, key: str) -> dict[str, object]:
    (stored,) = [t for t in central.store.transactions() if t["key"] == key]
    body = stored["body"]
    assert isinstance(body, dict)
    return body
