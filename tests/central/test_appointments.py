"""The green channel's routes and free EMS delivery at the gateway, on both store backends,
over real loopback HTTP: appointments created, checked in (the same ticket twice), refused
outside their window, the queue moving as the counter serves; a delivery order stored once
from the kiosk's outbox entry, a second one for the document refused, and the document no
longer offered for pickup."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import requests

from central.server import CentralHandle, start_in_thread
from central.store import DEMO_PICKUP_KIOSK, make_id_number
from central.store.appointments import is_appointment_no, luhn_digit
from kiosk.terminals.appointment.numbers import is_appointment_no as kiosk_check
from offline_queue import CentralError
from offline_queue.central_client import CentralClient
from offline_queue.transport import CentralTransport

KIOSK = DEMO_PICKUP_KIOSK
OTHER = "K-OTHER"
SECRET = b"appointment-test-secret"
TODAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 10, 0)
CHEN = make_id_number("440304", "19900307", "123")  # a document here, an address on record
WANG = make_id_number("440305", "20000101", "789")  # two documents here, no address


@pytest.fixture
def central(central_db: str) -> Iterator[CentralHandle]:
    handle = start_in_thread(
        central_db, kiosk_secrets={KIOSK: SECRET, OTHER: SECRET}, today=lambda: TODAY
    )
    handle.store.appointments.clock = lambda: NOW
    yield handle
    handle.stop()


@pytest.fixture
def client(central: CentralHandle) -> Iterator[CentralClient]:
    transport = CentralTransport(central.url, kiosk_id=KIOSK, secret=SECRET, timeout_s=5)
    yield CentralClient(transport)
    transport.close()


def book(
    central: CentralHandle, at: datetime, counter: str = "5", service: str = "passport"
) -> str:
    body = {"service": service, "counter": counter, "slot_at": f"{at:%Y-%m-%dT%H:%M}"}
    resp = requests.post(f"{central.url}/v1/appointments", json=body, timeout=5)
    assert resp.status_code == 201, resp.text
    number = resp.json()["appointment_no"]
    assert is_appointment_no(number) and kiosk_check(number)
    return str(number)


def test_a_check_in_gives_a_ticket_and_the_same_one_again(
    central: CentralHandle, client: CentralClient
) -> None:
    first = book(central, NOW + timedelta(minutes=20))
    second = book(central, NOW + timedelta(minutes=50))
    elsewhere = book(central, NOW + timedelta(minutes=10), counter="9")
    one = client.check_in_appointment(first)
    assert (one.status, one.counter, one.ahead, one.again) == ("checked_in", "5", 0, False)
    assert one.ticket_no and one.ticket_no.startswith("V") and one.slot_at == "2026-11-27T10:20"
    assert client.check_in_appointment(elsewhere).ahead == 0  # another counter's queue
    two = client.check_in_appointment(second)
    assert two.ahead == 1 and two.ticket_no != one.ticket_no
    again = client.check_in_appointment(second)  # a lost answer, asked again
    assert (again.ticket_no, again.again, again.ahead) == (two.ticket_no, True, 1)
    # The counter calls the first: one fewer ahead.
    served = requests.post(f"{central.url}/v1/admin/appointments/{first}/served", timeout=5)
    assert served.status_code == 200 and served.json()["status"] == "served"
    assert central.store.appointments.position(second)["ahead"] == 0
    assert client.check_in_appointment(first).status == "served"


@pytest.mark.parametrize(
    ("offset", "status", "extra"),
    [
        (timedelta(minutes=90), "too_early", {"opens_at": "10:30"}),
        (timedelta(minutes=-45), "too_late", {}),
        (timedelta(days=1), "other_day", {}),
    ],
)
def test_outside_its_window_there_is_no_ticket(
    central: CentralHandle,
    client: CentralClient,
    offset: timedelta,
    status: str,
    extra: dict[str, Any],
) -> None:
    number = book(central, NOW + offset)
    ticket = client.check_in_appointment(number)
    assert ticket.status == status and ticket.ticket_no is None
    assert all(getattr(ticket, k) == v for k, v in extra.items())


def test_unknown_and_malformed_numbers(central: CentralHandle, client: CentralClient) -> None:
    body = "123456789"
    unknown = body + luhn_digit(body)
    with pytest.raises(CentralError) as caught:
        client.check_in_appointment(unknown)
    assert caught.value.status == 404
    with pytest.raises(CentralError) as caught:
        client.check_in_appointment("12345")
    assert caught.value.status == 404
    # Kiosk routes need the signature; the booking route answers loopback callers only.
    resp = requests.post(
        f"{central.url}/v1/appointments/check-in", json={"appointment_no": unknown}, timeout=5
    )
    assert resp.status_code == 401
    bad = requests.post(
        f"{central.url}/v1/appointments",
        json={"service": "passport", "counter": "5", "slot_at": "tomorrow"},
        timeout=5,
    )
    assert bad.status_code == 422


def delivery_entry(key: str, document_no: str, order_no: str, **more: Any) -> dict[str, Any]:
    return {
        "key": key,
        "kind": "pickup.delivery",
        "schema_version": 1,
        "stream": f"pickup:{document_no}",
        "payload": {
            "document_no": document_no,
            "order_no": order_no,
            "address": "广东省深圳市福田区金田路36号",
            "kiosk_id": KIOSK,
            "at": "2026-11-27T10:00:00",
            **more,
        },
    }


def test_a_delivery_order_is_stored_once_and_the_document_no_longer_offered(
    central: CentralHandle, client: CentralClient
) -> None:
    ready = client.documents_ready(CHEN)
    assert ready.address == "广东省深圳市福田区福华三路88号2栋1203"
    assert client.documents_ready(WANG).address is None
    (document,) = ready.here
    number = document.document_no
    entry = delivery_entry("k-1", number, f"{KIOSK}-E000001", id_number=CHEN)
    store = central.store
    [first] = store.ingest_batch(KIOSK, [entry])
    [replay] = store.ingest_batch(KIOSK, [entry])  # the kiosk's retry after a lost answer
    assert first["status"] == 201 and replay.get("replayed") is True
    [second] = store.ingest_batch(KIOSK, [delivery_entry("k-2", number, f"{KIOSK}-E000002")])
    assert second["status"] == 422 and "already ordered" in second["error"]
    orders = store.deliveries()
    assert [(o["order_no"], o["document_no"], o["kiosk_id"]) for o in orders] == [
        (f"{KIOSK}-E000001", number, KIOSK)
    ]
    assert orders[0]["address"] == "广东省深圳市福田区金田路36号"
    assert client.documents_ready(CHEN).here == []


def test_a_delivery_is_refused_for_a_document_this_machine_does_not_hold(
    central: CentralHandle,
) -> None:
    number = central.store.documents_ready(CHEN, KIOSK)["documents"][0]["document_no"]
    entry = delivery_entry("k-9", number, "K-OTHER-E000001")
    entry["payload"]["kiosk_id"] = OTHER
    [result] = central.store.ingest_batch(OTHER, [entry])
    assert result["status"] == 422 and "not held by this machine" in result["error"]
    short = delivery_entry("k-10", number, "x-1", address="no")
    [result] = central.store.ingest_batch(KIOSK, [short])
    assert result["status"] == 422 and "address" in result["error"]
    assert central.store.deliveries() == []


def test_delivery_addresses_and_appointment_holders_are_erased_on_schedule(
    central: CentralHandle, client: CentralClient
) -> None:
    import time

    from central.store import RetentionPolicy

    number = client.documents_ready(CHEN).here[0].document_no
    store = central.store
    [stored] = store.ingest_batch(
        KIOSK, [delivery_entry("k-r1", number, f"{KIOSK}-E000009", id_number=CHEN)]
    )
    assert stored["status"] == 201
    slot = f"{NOW + timedelta(minutes=30):%Y-%m-%dT%H:%M}"
    booked = store.appointments.create("passport", "5", slot, CHEN)["appointment_no"]
    client.check_in_appointment(booked)
    policy = RetentionPolicy(personal_days=30, keys_days=180)
    soon = store.purge(policy, now=time.time() + 29 * 86_400)
    assert soon["delivery_addresses_erased"] == soon["appointment_ids_erased"] == 0
    later = store.purge(policy, now=time.time() + 31 * 86_400)
    assert later["delivery_addresses_erased"] == later["appointment_ids_erased"] == 1
    [order] = store.deliveries()
    assert order["address"] == "" and order["document_no"] == number  # the order stays
    assert CHEN not in str(order)
