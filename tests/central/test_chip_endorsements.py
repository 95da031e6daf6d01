"""The endorsement written onto the permit chip, central's half, over real loopback HTTP on
SQLite and PostgreSQL: central answers a relayed chip challenge for a paid order with the
record and a cryptogram made with the issuer key only it holds, the same record for the same
slot on a retry and never a second slot, a confirmed write is final, a failed one is
withdrawn and refunded, and the reprint service's record check."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import requests

from central import issuer
from central.server import CentralHandle, start_in_thread
from central.store import make_id_number
from offline_queue import CentralError
from offline_queue.central_client import CentralClient
from offline_queue.transport import CentralTransport

KIOSK, OTHER = "K-CHIP-1", "K-CHIP-2"
SECRET = b"chip-endorsement-secret"
TODAY = date(2026, 11, 27)
MASTER = bytes.fromhex("5A" * 32)
CHEN = make_id_number("440304", "19900307", "123")  # eligible; permit C10000000
LI = make_id_number("440106", "19851122", "456")  # eligible; permit C10007919
PERMIT = "C10000000"
CHOICE = {"id_number": CHEN, "option": "two_trips", "region": "MO", "purpose": "family_visit"}


@pytest.fixture
def central(central_db: str) -> Iterator[CentralHandle]:
    handle = start_in_thread(
        central_db,
        kiosk_secrets={KIOSK: SECRET, OTHER: SECRET},
        today=lambda: TODAY,
        issuer_key=MASTER,
    )
    yield handle
    handle.stop()


def _client(url: str, kiosk: str = KIOSK) -> CentralClient:
    return CentralClient(CentralTransport(url, kiosk_id=kiosk, secret=SECRET, timeout_s=30))


@pytest.fixture
def client(central: CentralHandle) -> Iterator[CentralClient]:
    c = _client(central.url)
    yield c
    c.transport.close()


def _paid(central: CentralHandle, client: CentralClient, key: str, **choice: str) -> str:
    order = client.create_payment(key, **{**CHOICE, **choice})
    resp = requests.post(f"{central.url}/v1/admin/payments/{order.order_id}/pay", timeout=30)
    assert resp.status_code == 200
    return order.order_id


def _refusal(call: object, *args: object, **kwargs: object) -> CentralError:
    with pytest.raises(CentralError) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value


def _check_cryptogram(challenge: bytes, record: bytes, cryptogram: bytes) -> None:
    """What the chip of permit PERMIT checks with the document key it was personalised with."""
    key = issuer.document_key(MASTER, PERMIT)
    assert issuer.verify_cryptogram(key, challenge, record, cryptogram)


def test_a_paid_order_is_issued_and_authorised_for_the_chips_slot(
    central: CentralHandle, client: CentralClient
) -> None:
    order_id = _paid(central, client, "K-C-1")
    challenge = os.urandom(8)
    auth = client.authorize_chip(order_id, document_number=PERMIT, challenge=challenge, sequence=3)
    record = issuer.decode_record(auth.record)
    assert (record.sequence, record.endorsement_no, record.region, record.purpose) == (
        3,
        auth.endorsement_no,
        "MO",
        "family_visit",
    )
    assert record.trips == 2 and record.valid_from == TODAY
    assert record.valid_until == date(2027, 2, 25)  # 90 days
    _check_cryptogram(challenge, auth.record, auth.cryptogram)
    # issued against the order, once: the order now names the endorsement
    assert client.payment_status(order_id).endorsement_no == auth.endorsement_no
    assert central.store.stats()["endorsements"] == 1
    state = client.chip_state(order_id)
    assert (state.sequence, state.written, state.voided, state.record) == (
        3,
        False,
        False,
        auth.record,
    )
    assert state.permit is not None and state.permit.document_number == PERMIT


def test_a_retry_gets_the_same_record_for_the_same_slot_and_never_another_slot(
    central: CentralHandle, client: CentralClient
) -> None:
    order_id = _paid(central, client, "K-C-2")
    first = client.authorize_chip(order_id, document_number=PERMIT, challenge=b"1" * 8, sequence=1)
    again = client.authorize_chip(order_id, document_number=PERMIT, challenge=b"2" * 8, sequence=1)
    assert again.record == first.record and again.cryptogram != first.cryptogram
    _check_cryptogram(b"2" * 8, again.record, again.cryptogram)
    # the chip moved on to slot 2: the record is in slot 1 already (or another took it)
    moved = _refusal(
        client.authorize_chip, order_id, document_number=PERMIT, challenge=b"3" * 8, sequence=2
    )
    assert moved.status == 409
    assert central.store.stats()["endorsements"] == 1


def test_a_confirmed_write_is_final(central: CentralHandle, client: CentralClient) -> None:
    order_id = _paid(central, client, "K-C-3")
    auth = client.authorize_chip(order_id, document_number=PERMIT, challenge=b"a" * 8, sequence=1)
    assert _refusal(client.chip_written, order_id, 2).status == 409  # not the slot authorised
    state = client.chip_written(order_id, 1)
    assert state.written and client.chip_written(order_id, 1).written  # idempotent
    assert _refusal(client.void_endorsement, order_id).status == 409
    again = _refusal(
        client.authorize_chip, order_id, document_number=PERMIT, challenge=b"b" * 8, sequence=1
    )
    assert again.status == 409
    assert client.payment_status(order_id).status == "paid"
    assert central.store.stats()["chip_writes"] == 1
    assert auth.endorsement_no == client.payment_status(order_id).endorsement_no


def test_a_failed_write_is_withdrawn_and_refunded(
    central: CentralHandle, client: CentralClient
) -> None:
    before = central.store.permit_status(CHEN)["endorsement"]
    order_id = _paid(central, client, "K-C-4")
    client.authorize_chip(order_id, document_number=PERMIT, challenge=b"c" * 8, sequence=1)
    assert central.store.permit_status(CHEN)["endorsement"] is not None
    refunded = client.void_endorsement(order_id)
    assert (refunded.status, refunded.endorsement_no) == ("refunded", None)
    assert client.void_endorsement(order_id).status == "refunded"  # a replay answers the same
    assert central.store.permit_status(CHEN)["endorsement"] == before  # withdrawn
    assert client.chip_state(order_id).voided
    after = _refusal(
        client.authorize_chip, order_id, document_number=PERMIT, challenge=b"d" * 8, sequence=1
    )
    assert after.status == 422
    # a paid order never authorised is simply refunded
    other = _paid(central, client, "K-C-5")
    assert client.void_endorsement(other).status == "refunded"


def test_only_a_paid_order_of_this_kiosk_for_the_permit_on_record(
    central: CentralHandle, client: CentralClient
) -> None:
    unpaid = client.create_payment("K-C-6", **CHOICE).order_id
    refused = _refusal(
        client.authorize_chip, unpaid, document_number=PERMIT, challenge=b"e" * 8, sequence=1
    )
    assert refused.status == 422
    order_id = _paid(central, client, "K-C-7")
    other_permit = _refusal(
        client.authorize_chip, order_id, document_number="C99999999", challenge=b"f" * 8, sequence=1
    )
    assert other_permit.status == 422
    theirs = _client(central.url, OTHER)
    stolen = _refusal(
        theirs.authorize_chip, order_id, document_number=PERMIT, challenge=b"g" * 8, sequence=1
    )
    assert stolen.status == 404
    assert _refusal(theirs.chip_state, order_id).status == 404
    theirs.transport.close()
    transport = client.transport
    for body in (
        {"document_number": PERMIT, "challenge": "00", "sequence": 1},  # short challenge
        {"document_number": PERMIT, "challenge": "zz" * 8, "sequence": 1},  # not hex
        {"document_number": PERMIT, "challenge": "00" * 8, "sequence": 0},
        {"document_number": PERMIT, "challenge": "00" * 8, "sequence": 256},
        {"document_number": 7, "challenge": "00" * 8, "sequence": 1},
    ):
        status, _, _ = transport.json_request(
            "POST", f"/v1/endorsements/{order_id}/authorize", body
        )
        assert status in (400, 422), body
    assert central.store.stats()["endorsements"] == 0


def test_without_an_issuer_key_nothing_is_authorised(tmp_path: Path) -> None:
    with start_in_thread(
        tmp_path / "central.sqlite", kiosk_secrets={KIOSK: SECRET}, today=lambda: TODAY
    ) as central:
        client = _client(central.url)
        order_id = _paid(central, client, "K-C-8")
        refused = _refusal(
            client.authorize_chip, order_id, document_number=PERMIT, challenge=b"h" * 8, sequence=1
        )
        assert refused.status == 503
        assert client.payment_status(order_id).endorsement_no is None
        client.transport.close()


def test_the_reprint_check_accepts_only_what_central_issued(
    central: CentralHandle, client: CentralClient
) -> None:
    order_id = _paid(central, client, "K-C-9")
    auth = client.authorize_chip(order_id, document_number=PERMIT, challenge=b"i" * 8, sequence=1)
    check = client.verify_record(id_number=CHEN, document_number=PERMIT, record=auth.record)
    assert check.valid and check.current and check.endorsement_no == auth.endorsement_no
    assert (check.region, check.purpose, check.valid_until) == ("MO", "family_visit", "2027-02-25")
    record = issuer.decode_record(auth.record)
    longer = issuer.encode_record(replace(record, valid_until=date(2028, 1, 1)))
    forged = client.verify_record(id_number=CHEN, document_number=PERMIT, record=longer)
    assert (forged.valid, forged.reason) == (False, "record_differs")
    invented = issuer.encode_record(replace(record, endorsement_no="E20261127999999"))
    unknown = client.verify_record(id_number=CHEN, document_number=PERMIT, record=invented)
    assert (unknown.valid, unknown.reason) == (False, "not_issued")
    theirs = client.verify_record(id_number=LI, document_number="C10007919", record=auth.record)
    assert (theirs.valid, theirs.reason) == (False, "not_issued")
    wrong_card = client.verify_record(
        id_number=CHEN, document_number="C10007919", record=auth.record
    )
    assert (wrong_card.valid, wrong_card.reason) == (False, "not_this_permit")
    garbage = client.verify_record(id_number=CHEN, document_number=PERMIT, record=b"\x01" * 40)
    assert (garbage.valid, garbage.reason) == (False, "record_unreadable")
    client.void_endorsement(order_id)
    withdrawn = client.verify_record(id_number=CHEN, document_number=PERMIT, record=auth.record)
    assert (withdrawn.valid, withdrawn.reason) == (False, "not_issued")


def test_the_issuer_key_file_must_be_private_hex(tmp_path: Path) -> None:
    path = tmp_path / "issuer.key"
    path.write_text(MASTER.hex())
    path.chmod(0o600)
    assert issuer.load_master_key(path) == MASTER
    path.chmod(0o644)
    with pytest.raises(issuer.IssuerError, match="readable by others"):
        issuer.load_master_key(path)
    path.chmod(0o600)
    path.write_text("00" * 20)
    with pytest.raises(issuer.IssuerError, match="hex digits"):
        issuer.load_master_key(path)
