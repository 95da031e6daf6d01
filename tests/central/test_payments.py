"""Payment orders for the renewal fee over real loopback HTTP: central sets the amount, the
admin route plays the citizen's phone, an endorsement needs a paid order of its own kiosk
for exactly its choice, and each order pays for one endorsement."""

from __future__ import annotations

import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests

from central.faults import FaultPlan
from central.server import CentralHandle, start_in_thread
from central.store import OPTIONS, make_id_number
from offline_queue import CentralError
from offline_queue.central_client import CentralClient, PaymentOrder
from offline_queue.transport import CentralTransport

KIOSK = "K-PAY-1"
OTHER = "K-PAY-2"
SECRET = b"payment-test-secret"
TODAY = date(2026, 11, 27)

CHEN = make_id_number("440304", "19900307", "123")  # eligible, every option
LI = make_id_number("440106", "19851122", "456")  # eligible
WANG = make_id_number("440305", "20000101", "789")  # eligible, short permit: no multi_5y
ZHAO = make_id_number("440303", "19770615", "234")  # first application: not eligible

CHOICE = {"id_number": CHEN, "option": "multi_1y", "region": "HK", "purpose": "individual"}


def _start(tmp_path: Path, **options: Any) -> CentralHandle:
    return _start_at(str(tmp_path / "central.sqlite"), **options)


def _start_at(db: str, **options: Any) -> CentralHandle:
    return start_in_thread(
        db,
        kiosk_secrets={KIOSK: SECRET, OTHER: SECRET},
        today=lambda: TODAY,
        **options,
    )


@pytest.fixture
def central(central_db: str) -> Iterator[CentralHandle]:
    handle = _start_at(central_db)
    yield handle
    handle.stop()


@contextmanager
def _kiosk(url: str, kiosk_id: str = KIOSK) -> Iterator[CentralClient]:
    transport = CentralTransport(url, kiosk_id=kiosk_id, secret=SECRET, timeout_s=5)
    try:
        yield CentralClient(transport)
    finally:
        transport.close()


@pytest.fixture
def transport(central: CentralHandle) -> Iterator[CentralTransport]:
    t = CentralTransport(central.url, kiosk_id=KIOSK, secret=SECRET, timeout_s=5)
    yield t
    t.close()


@pytest.fixture
def client(transport: CentralTransport) -> CentralClient:
    return CentralClient(transport)


def _pay(central: CentralHandle, order_id: str) -> requests.Response:
    """The citizen pays with a phone (the simulated payment platform)."""
    return requests.post(f"{central.url}/v1/admin/payments/{order_id}/pay", timeout=5)


def _paid(central: CentralHandle, client: CentralClient, key: str, **choice: str) -> str:
    order = client.create_payment(key, **(choice or CHOICE))
    assert _pay(central, order.order_id).status_code == 200
    return order.order_id


def _refusal(call: Callable[..., object], *args: Any, **kwargs: Any) -> CentralError:
    with pytest.raises(CentralError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_the_amount_comes_from_centrals_fee_table(
    central: CentralHandle, client: CentralClient
) -> None:
    for n, option in enumerate(OPTIONS):
        order = client.create_payment(f"K-O-{n}", **{**CHOICE, "option": option.code})
        assert (order.status, order.amount_cny) == ("unpaid", option.fee_cny)
        assert order.expires_in_s in (179, 180) and order.endorsement_no is None
        assert order.pay_url == f"https://pay.example.org/cashier?order={order.order_id}"
    assert central.store.stats()["payments"] == len(OPTIONS)


def test_opening_an_order_is_idempotent_by_key(
    central: CentralHandle, client: CentralClient, transport: CentralTransport
) -> None:
    first = client.create_payment("K-O-1", **CHOICE)
    assert client.create_payment("K-O-1", **CHOICE) == first  # the first answer, replayed
    _, _, resp = transport.json_request(
        "POST", "/v1/payments", CHOICE, headers={"Idempotency-Key": "K-O-1"}
    )
    assert resp.headers.get("Idempotent-Replayed") == "true"
    clash = _refusal(client.create_payment, "K-O-1", **{**CHOICE, "option": "one_trip"})
    assert clash.status == 422 and not clash.retryable
    assert transport.json_request("POST", "/v1/payments", CHOICE)[0] == 400  # no key
    stats = central.store.stats()
    assert (stats["payments"], stats["replays"], stats["conflicts"]) == (1, 2, 1)


def test_an_order_is_only_opened_for_what_the_person_may_renew(
    central: CentralHandle, client: CentralClient, transport: CentralTransport
) -> None:
    status, body, _ = transport.json_request(
        "POST", "/v1/payments", {**CHOICE, "id_number": ZHAO}, headers={"Idempotency-Key": "K-1"}
    )
    assert (status, body["reasons"]) == (422, ["first_application"])
    refused = [
        {**CHOICE, "id_number": WANG, "option": "multi_5y"},  # not offered to this person
        {**CHOICE, "region": "TW"},
        {**CHOICE, "purpose": "tourism"},
        {**CHOICE, "option": "free"},
    ]
    for n, choice in enumerate(refused):
        assert _refusal(client.create_payment, f"K-R-{n}", **choice).status == 422
    unknown = make_id_number("440304", "19990101", "001")
    assert _refusal(client.create_payment, "K-U", **{**CHOICE, "id_number": unknown}).status == 404
    assert central.store.stats()["payments"] == 0


def test_the_citizen_pays_and_the_kiosk_sees_it(
    central: CentralHandle, client: CentralClient
) -> None:
    order = client.create_payment("K-O-1", **CHOICE)
    unpaid = client.payment_status(order.order_id)
    assert (unpaid.status, unpaid.amount_cny, unpaid.pay_url) == ("unpaid", 80, "")
    paid = _pay(central, order.order_id)
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    assert client.payment_status(order.order_id) == PaymentOrder(
        order.order_id, "paid", 80, expires_in_s=0, endorsement_no=None
    )
    again = _pay(central, order.order_id)  # a second notice changes nothing
    assert again.status_code == 409 and again.json()["status"] == "paid"
    assert _pay(central, "0" * 32).status_code == 404


def test_an_unpaid_order_expires(tmp_path: Path) -> None:
    with _start(tmp_path, payment_ttl_s=0.5) as central, _kiosk(central.url) as client:
        order = client.create_payment("K-O-1", **CHOICE)
        assert order.expires_in_s == 0  # whole seconds left, rounded down
        time.sleep(0.6)
        assert client.payment_status(order.order_id).status == "expired"
        # Stored when read, so staff tools and other readers see it too.
        with sqlite3.connect(tmp_path / "central.sqlite") as db:
            row = db.execute("SELECT status FROM payments WHERE order_id=?", (order.order_id,))
            assert row.fetchone() == ("expired",)
        db.close()
        late = _pay(central, order.order_id)
        assert (late.status_code, late.json()["status"]) == (409, "expired")
        assert client.cancel_payment(order.order_id).status == "expired"
        refused = _refusal(client.issue_endorsement, "K-E-1", **CHOICE, payment=order.order_id)
        assert refused.status == 422 and "expired" in str(refused)


def test_an_order_paid_before_it_was_read_does_not_expire(tmp_path: Path) -> None:
    with _start(tmp_path, payment_ttl_s=0.5) as central, _kiosk(central.url) as client:
        order_id = _paid(central, client, "K-O-1")
        time.sleep(0.6)
        assert client.payment_status(order_id).status == "paid"
        assert client.issue_endorsement("K-E-1", **CHOICE, payment=order_id).fee_cny == 80


def test_cancel_stops_an_unpaid_order_but_never_a_paid_one(
    central: CentralHandle, client: CentralClient
) -> None:
    order = client.create_payment("K-O-1", **CHOICE)
    assert client.cancel_payment(order.order_id).status == "cancelled"
    assert client.cancel_payment(order.order_id).status == "cancelled"  # a retry: same answer
    late = _pay(central, order.order_id)
    assert (late.status_code, late.json()["status"]) == (409, "cancelled")
    # The citizen paid just before the kiosk gave up: the order stays paid and is issued.
    paid = _paid(central, client, "K-O-2")
    assert client.cancel_payment(paid).status == "paid"
    issued = client.issue_endorsement("K-E-1", **CHOICE, payment=paid)
    assert client.cancel_payment(paid).endorsement_no == issued.endorsement_no


def test_refund_of_a_paid_order_and_never_of_a_used_one(
    central: CentralHandle, client: CentralClient, transport: CentralTransport
) -> None:
    unused = _paid(central, client, "K-O-1")
    assert client.refund_payment(unused).status == "refunded"
    assert client.refund_payment(unused).status == "refunded"  # a retry: same answer
    assert central.store.stats()["refunds"] == 1
    refunded = _refusal(client.issue_endorsement, "K-E-1", **CHOICE, payment=unused)
    assert refunded.status == 422
    unpaid = client.create_payment("K-O-2", **CHOICE).order_id
    status, body, _ = transport.json_request("POST", f"/v1/payments/{unpaid}/refund")
    assert (status, body["status"]) == (409, "unpaid")
    used = _paid(central, client, "K-O-3")
    client.issue_endorsement("K-E-2", **CHOICE, payment=used)
    status, body, _ = transport.json_request("POST", f"/v1/payments/{used}/refund")
    assert (status, body["status"]) == (409, "paid") and "endorsement" in body["error"]
    assert central.store.stats()["refunds"] == 1


def test_an_endorsement_needs_a_paid_order_for_exactly_its_choice(
    central: CentralHandle, client: CentralClient, transport: CentralTransport
) -> None:
    status, body, _ = transport.json_request(
        "POST", "/v1/endorsements", CHOICE, headers={"Idempotency-Key": "K-E-0"}
    )
    assert (status, body["error"]) == (422, "payment required: the id of a paid order")
    unpaid = client.create_payment("K-O-1", **CHOICE).order_id
    refused = _refusal(client.issue_endorsement, "K-E-1", **CHOICE, payment=unpaid)
    assert refused.status == 422 and "unpaid" in str(refused)
    paid = _paid(central, client, "K-O-2")
    for n, other in enumerate(
        [{"option": "one_trip"}, {"region": "MO"}, {"purpose": "business"}, {"id_number": LI}]
    ):
        mismatch = _refusal(
            client.issue_endorsement, f"K-E-M{n}", **{**CHOICE, **other}, payment=paid
        )
        assert mismatch.status == 422 and "another" in str(mismatch)
    first = client.issue_endorsement("K-E-2", **CHOICE, payment=paid)
    assert first.fee_cny == 80 and not first.replayed
    again = client.issue_endorsement("K-E-2", **CHOICE, payment=paid)  # answer lost, retried
    assert again.endorsement_no == first.endorsement_no and again.replayed
    assert client.payment_status(paid).endorsement_no == first.endorsement_no
    twice = _refusal(client.issue_endorsement, "K-E-3", **CHOICE, payment=paid)
    assert twice.status == 422 and "already" in str(twice)
    assert central.store.stats()["endorsements"] == 1


def test_an_order_belongs_to_the_kiosk_that_opened_it(
    central: CentralHandle, client: CentralClient
) -> None:
    order_id = _paid(central, client, "K-O-1")
    with _kiosk(central.url, OTHER) as stranger:
        for call in (stranger.payment_status, stranger.cancel_payment, stranger.refund_payment):
            assert _refusal(call, order_id).status == 404
        used = _refusal(stranger.issue_endorsement, "K-X-1", **CHOICE, payment=order_id)
        assert used.status == 422
    assert client.payment_status(order_id).status == "paid"


def test_nested_payment_paths_route_and_nothing_else_does(
    central: CentralHandle, client: CentralClient, transport: CentralTransport
) -> None:
    order_id = client.create_payment("K-O-1", **CHOICE).order_id
    assert transport.request("POST", f"/v1/payments/{order_id}/cancel").status == 200
    assert transport.request("GET", f"/v1/payments/{order_id}/cancel").status == 404
    assert transport.request("POST", f"/v1/payments/{order_id}/pay").status == 404
    assert transport.request("GET", f"/v1/payments/{order_id.upper()}").status == 404
    assert transport.request("GET", f"/v1/payments/{order_id}/").status == 404
    # The kiosk's payment routes are signed; only the simulated payment (admin) is not.
    assert (
        requests.post(f"{central.url}/v1/payments/{order_id}/refund", timeout=5).status_code == 401
    )


def test_the_client_checks_order_ids_and_answers(
    central: CentralHandle, client: CentralClient
) -> None:
    for bad in ("../stats", "A" * 32, "0" * 31, "0" * 32 + "/cancel"):
        with pytest.raises(ValueError):
            client.payment_status(bad)
    order_id = client.create_payment("K-O-1", **CHOICE).order_id
    central.faults.set(FaultPlan(once={"wrong_schema": 1}, paths=("/v1/payments/",)))
    wrong = _refusal(client.payment_status, order_id)
    assert wrong.code == "central.bad_response"


def _non_loopback_address() -> str | None:
    """This machine's address on its default route, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def test_the_simulated_payment_is_only_for_loopback(tmp_path: Path) -> None:
    address = _non_loopback_address()
    if address is None:
        pytest.skip("no non-loopback address to call from")
    with start_in_thread(
        tmp_path / "c.sqlite", host="0.0.0.0", kiosk_secrets={KIOSK: SECRET}
    ) as central:
        port = central.port
        with _kiosk(f"http://127.0.0.1:{port}") as client:
            order = client.create_payment("K-O-1", **CHOICE)
        remote = f"http://{address}:{port}/v1/admin"
        pay = requests.post(f"{remote}/payments/{order.order_id}/pay", timeout=5)
        assert pay.status_code == 403
        assert requests.put(f"{remote}/faults", json={}, timeout=5).status_code == 403
        assert central.store.payment_status(KIOSK, order.order_id)["status"] == "unpaid"
