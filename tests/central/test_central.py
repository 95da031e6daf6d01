"""The reference central service over real loopback HTTP: idempotency, uploads, signatures,
the look-ups with their demo data, stats, the admin fault switch and the OpenAPI document."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from central.app import POLICIES
from central.idnumber import check_char, is_valid, mask
from central.openapi import render
from central.server import ROUTES, CentralHandle, start_in_thread
from central.store import DEMO_PICKUP_KIOSK, OPTIONS, CentralStore, make_id_number
from offline_queue import CentralError
from offline_queue.central_client import (
    CentralClient,
    DocumentsElsewhere,
    DocumentsReady,
    RefusalReason,
)
from offline_queue.transport import CentralTransport

ROOT = Path(__file__).resolve().parents[2]
KIOSK = "K-CENTRAL-1"
PICKUP = DEMO_PICKUP_KIOSK  # the demo pickup machine, which holds the seeded documents
SECRET = b"central-test-secret"
TODAY = date(2026, 11, 27)

CHEN = make_id_number("440304", "19900307", "123")  # eligible, a document ready
LI = make_id_number("440106", "19851122", "456")  # eligible (endorsement expired)
WANG = make_id_number("440305", "20000101", "789")  # eligible, short permit: fewer options
ZHAO = make_id_number("440303", "19770615", "234")  # first application
SUN = make_id_number("440104", "19680912", "345")  # registered personnel
ZHOU = make_id_number("440307", "19920420", "567")  # endorsement still valid
WU = make_id_number("110105", "19880808", "678")  # Beijing permit, first use here
ZHENG = make_id_number("440308", "19950218", "891")  # permit expires in 100 days


@pytest.fixture
def central(central_db: str) -> Iterator[CentralHandle]:
    handle = start_in_thread(
        central_db,
        kiosk_secrets={KIOSK: SECRET, PICKUP: SECRET},
        today=lambda: TODAY,
    )
    yield handle
    handle.stop()


@pytest.fixture
def transport(central: CentralHandle) -> Iterator[CentralTransport]:
    t = CentralTransport(central.url, kiosk_id=KIOSK, secret=SECRET, timeout_s=30)
    yield t
    t.close()


@pytest.fixture
def client(transport: CentralTransport) -> CentralClient:
    return CentralClient(transport)


def _paid_order(central: CentralHandle, client: CentralClient, **choice: str) -> str:
    """A payment order for ``choice``, paid as the citizen's phone would pay it."""
    order = client.create_payment(f"K-PAY-{uuid.uuid4().hex}", **choice)
    paid = requests.post(f"{central.url}/v1/admin/payments/{order.order_id}/pay", timeout=30)
    assert paid.status_code == 200, paid.text
    return order.order_id


def _entry(key: str, n: int, stream: str = "s") -> dict[str, object]:
    return {
        "key": key,
        "kind": "renewal.issued",
        "schema_version": 1,
        "stream": stream,
        "payload": {"n": n},
        "attachments": [],
    }


def _batch(transport: CentralTransport, *entries: dict[str, object]) -> list[dict[str, object]]:
    status, data, _ = transport.json_request(
        "POST", "/v1/transactions/batch", {"entries": list(entries)}
    )
    assert status == 200
    return data["results"]  # type: ignore[no-any-return]


def test_ingest_stores_first_outcome_and_replays_it(
    central: CentralHandle, transport: CentralTransport
) -> None:
    [first] = _batch(transport, _entry("K-1", 1))
    assert first["status"] == 201 and "replayed" not in first
    [again] = _batch(transport, _entry("K-1", 1))
    assert again["status"] == 201 and again["replayed"] is True and again["ref"] == first["ref"]
    [clash] = _batch(transport, _entry("K-1", 2))
    assert clash["status"] == 422
    stats = requests.get(central.url + "/v1/stats", timeout=30).json()
    assert (stats["transactions"], stats["replays"], stats["conflicts"]) == (1, 1, 1)
    assert central.store.transactions()[0]["body"]["payload"] == {"n": 1}


def test_a_failed_entry_holds_back_its_stream_in_the_batch(transport: CentralTransport) -> None:
    bad = {**_entry("K-2", 1, "A"), "schema_version": 99}
    results = _batch(transport, bad, _entry("K-3", 2, "A"), _entry("K-4", 3, "B"))
    assert [r["status"] for r in results] == [422, 424, 201]


def test_single_transaction_is_idempotent_by_header(transport: CentralTransport) -> None:
    body = {"kind": "kiosk.note", "schema_version": 1, "payload": {"text": "X"}}
    s1, d1, _ = transport.json_request(
        "POST", "/v1/transactions", body, headers={"Idempotency-Key": "K-9"}
    )
    s2, d2, r2 = transport.json_request(
        "POST", "/v1/transactions", body, headers={"Idempotency-Key": "K-9"}
    )
    assert (s1, s2) == (201, 201) and d1["ref"] == d2["ref"]
    assert r2.headers.get("Idempotent-Replayed") == "true"
    s3, _, _ = transport.json_request(
        "POST", "/v1/transactions", {**body, "payload": {}}, headers={"Idempotency-Key": "K-9"}
    )
    assert s3 == 422


def test_signature_is_required_and_checked(central: CentralHandle) -> None:
    assert (
        requests.post(
            central.url + "/v1/eligibility", json={"id_number": CHEN}, timeout=5
        ).status_code
        == 401
    )
    wrong = CentralTransport(central.url, kiosk_id=KIOSK, secret=b"nope")
    assert wrong.request("POST", "/v1/eligibility", body=b"{}").status == 401
    stranger = CentralTransport(central.url, kiosk_id="K-OTHER", secret=SECRET)
    assert stranger.request("POST", "/v1/eligibility", body=b"{}").status == 401
    stale = CentralTransport(
        central.url, kiosk_id=KIOSK, secret=SECRET, wall_time=lambda: time.time() - 600
    )
    assert stale.request("POST", "/v1/eligibility", body=b"{}").status == 401


def test_eligibility_reasons_from_the_demo_data(client: CentralClient) -> None:
    for id_number in (CHEN, LI):
        verdict = client.eligibility(id_number)
        assert verdict.eligible and verdict.reasons == ()
        assert [o.fee_cny for o in verdict.options] == [15, 30, 80, 120, 160, 240]
        assert verdict.regions == ("HK", "MO")
    assert [o.code for o in client.eligibility(WANG).options] == [
        "one_trip",
        "two_trips",
        "multi_1y",
        "multi_2y",
        "multi_3y",
    ]
    expected = {
        ZHAO: RefusalReason.FIRST_APPLICATION,
        SUN: RefusalReason.REGISTERED_PERSONNEL,
        ZHOU: RefusalReason.ENDORSEMENT_STILL_VALID,
        WU: RefusalReason.OUT_OF_PROVINCE_FIRST_USE,
        ZHENG: RefusalReason.PERMIT_VALIDITY_TOO_SHORT,
    }
    for id_number, reason in expected.items():
        verdict = client.eligibility(id_number)
        assert not verdict.eligible and verdict.reasons == (reason,) and verdict.options == ()


def test_eligibility_errors(client: CentralClient) -> None:
    with pytest.raises(CentralError) as bad:
        client.eligibility(CHEN[:-1] + ("0" if CHEN[-1] != "0" else "1"))
    assert bad.value.status == 422 and not bad.value.retryable
    with pytest.raises(CentralError) as unknown:
        client.eligibility(make_id_number("440304", "19990101", "001"))
    assert unknown.value.status == 404


@pytest.mark.parametrize(("option", "fee"), [(o.code, o.fee_cny) for o in OPTIONS])
def test_endorsement_fees(
    central: CentralHandle, client: CentralClient, option: str, fee: int
) -> None:
    choice = {"id_number": CHEN, "option": option, "region": "MO", "purpose": "individual"}
    payment = _paid_order(central, client, **choice)
    issued = client.issue_endorsement(f"K-E-{option}", **choice, payment=payment)
    validity = next(o.validity_days for o in OPTIONS if o.code == option)
    assert issued.fee_cny == fee
    assert issued.valid_until == (TODAY + timedelta(days=validity)).isoformat()


def test_endorsement_issue_is_idempotent_and_then_blocks_renewal(
    client: CentralClient, central: CentralHandle
) -> None:
    choice = {"id_number": LI, "option": "two_trips", "region": "HK", "purpose": "family_visit"}
    args = {**choice, "payment": _paid_order(central, client, **choice)}
    first = client.issue_endorsement("K-E-1", **args)
    again = client.issue_endorsement("K-E-1", **args)
    assert again.endorsement_no == first.endorsement_no and again.replayed and not first.replayed
    assert central.store.stats()["endorsements"] == 1
    assert client.eligibility(LI).reasons == (RefusalReason.ENDORSEMENT_STILL_VALID,)
    with pytest.raises(CentralError) as refused:
        client.issue_endorsement("K-E-2", **args)
    assert refused.value.status == 422
    with pytest.raises(CentralError):
        client.issue_endorsement("K-E-1", **{**args, "option": "one_trip"})
    assert central.store.stats()["conflicts"] == 1


def test_documents_ready_and_handover(central: CentralHandle) -> None:
    at_pickup = CentralTransport(central.url, kiosk_id=PICKUP, secret=SECRET, timeout_s=30)
    client = CentralClient(at_pickup)
    try:
        [doc] = client.documents_ready(CHEN).here
        assert doc.kind == "hk_macau_permit" and doc.slot == "A01"
        assert len(client.documents_ready(WANG).here) == 2
        assert client.documents_ready(ZHAO) == DocumentsReady([], [])
        handover = {"kind": "pickup.handover", "payload": {"document_no": doc.document_no}}
        [result] = _batch(at_pickup, {**_entry("K-H1", 0), **handover})
        assert result["status"] == 201
        # Chen Wei has an address on record (free EMS delivery), and nothing left to collect.
        assert client.documents_ready(CHEN) == DocumentsReady(
            [], [], "广东省深圳市福田区福华三路88号2栋1203"
        )
    finally:
        at_pickup.close()


def test_a_machine_offers_only_what_it_holds_and_says_where_the_rest_is(
    client: CentralClient,
) -> None:
    # This kiosk holds nothing: Wang's documents are in the demo pickup machine.
    assert client.documents_ready(WANG) == DocumentsReady([], [DocumentsElsewhere(PICKUP, 2)])
    assert client.documents_ready(ZHOU).elsewhere == [DocumentsElsewhere("SZ-FT-K02", 1)]
    assert client.documents_ready(ZHENG).elsewhere == [DocumentsElsewhere(None, 1)]


def test_documents_of_an_older_store_stay_in_the_demo_machine(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as old:
        old.execute(
            "CREATE TABLE documents (document_no TEXT PRIMARY KEY, id_number TEXT NOT NULL, "
            "kind TEXT NOT NULL, slot TEXT NOT NULL, ready_since TEXT NOT NULL, "
            "handed_over_at REAL)"
        )
        old.execute(
            "INSERT INTO documents VALUES ('D-OLD-1', ?, 'passport', 'C01', '2026-11-25', NULL)",
            (ZHAO,),
        )
    old.close()
    store = CentralStore(db, today=lambda: TODAY)
    try:
        [doc] = store.documents_ready(ZHAO, PICKUP)["documents"]
        assert doc["document_no"] == "D-OLD-1"
    finally:
        store.close()


def test_photo_receipt_is_idempotent_by_number(client: CentralClient) -> None:
    sha = hashlib.sha256(b"photo").hexdigest()
    first = client.register_photo("K-P-000001", sha256=sha, id_number=CHEN)
    assert first == client.register_photo("K-P-000001", sha256=sha, id_number=CHEN)
    with pytest.raises(CentralError) as clash:
        client.register_photo("K-P-000001", sha256=hashlib.sha256(b"other").hexdigest())
    assert clash.value.status == 422


def test_tus_upload_protocol(transport: CentralTransport, central: CentralHandle) -> None:
    data = os.urandom(1000)
    options = transport.request("OPTIONS", "/v1/uploads")
    assert (
        options.headers["Tus-Version"] == "1.0.0" and "checksum" in options.headers["Tus-Extension"]
    )
    meta = "sha256 " + base64.b64encode(hashlib.sha256(data).hexdigest().encode()).decode()
    created = transport.request(
        "POST",
        "/v1/uploads",
        headers={"Upload-Length": "1000", "Upload-Metadata": meta, "Tus-Resumable": "1.0.0"},
    )
    assert created.status == 201
    path = created.headers["Location"]

    def patch(offset: int, piece: bytes, checksum: bytes | None = None) -> int:
        digest = base64.b64encode(hashlib.sha256(checksum or piece).digest()).decode()
        return transport.request(
            "PATCH",
            path,
            body=piece,
            headers={
                "Content-Type": "application/offset+octet-stream",
                "Upload-Offset": str(offset),
                "Upload-Checksum": f"sha256 {digest}",
                "Tus-Resumable": "1.0.0",
            },
        ).status

    assert patch(0, data[:400]) == 204
    assert patch(0, data[:400]) == 409  # stale offset
    assert patch(400, data[400:800], checksum=b"corrupted in transit") == 460
    assert transport.request("HEAD", path).headers["Upload-Offset"] == "400"
    assert patch(400, data[400:]) == 204
    assert central.store.upload_bytes(path.rsplit("/", 1)[1]) == data
    assert transport.request("HEAD", "/v1/uploads/" + "0" * 32).status == 404


def test_heartbeat_stores_each_alert_once(
    central: CentralHandle, transport: CentralTransport
) -> None:
    alert = {"id": "a1", "code": "sync.offline", "message": "no sync for 24 h", "at": "2026"}
    for _ in range(2):  # a heartbeat resent after its answer was lost
        status, _, _ = transport.json_request(
            "POST", "/v1/heartbeat", {"devices": {}, "alerts": [alert]}
        )
        assert status == 200
    assert [a["code"] for a in central.store.alerts(KIOSK)] == ["sync.offline"]
    assert central.store.alerts("ANOTHER-KIOSK") == []
    assert central.store.stats()["alerts"] == 1
    assert transport.request("POST", "/v1/heartbeat", body=b"[]").status == 400
    # A malformed alert is counted, never a reason to refuse the heartbeat: the kiosk would
    # send the same list again and again.
    mixed = [{"id": "a2", "code": "x"}, {**alert, "id": "a3", "message": ""}]
    status, _, _ = transport.json_request("POST", "/v1/heartbeat", {"alerts": mixed})
    assert status == 200
    assert [a["id"] for a in central.store.alerts(KIOSK)] == ["a1", "a3"]
    assert central.store.stats()["alerts_malformed"] == 1


def test_admin_faults_switch(central: CentralHandle, transport: CentralTransport) -> None:
    r = requests.put(central.url + "/v1/admin/faults", json={"once": {"error": 1}}, timeout=30)
    assert r.status_code == 200 and r.json()["once"] == {"error": 1}
    assert transport.request("POST", "/v1/heartbeat", body=b"{}").status == 503
    assert transport.request("POST", "/v1/heartbeat", body=b"{}").status == 200
    assert (
        requests.put(
            central.url + "/v1/admin/faults", json={"rates": {"nonsense": 1}}, timeout=5
        ).status_code
        == 400
    )
    assert central.store.stats()["faults"] == 1


def test_spared_requests_pass_before_a_fault_fires(
    central: CentralHandle, transport: CentralTransport
) -> None:
    plan = {"spare": 2, "once": {"error": 1}, "latency_s": 30, "paths": ["/v1/heartbeat"]}
    assert requests.put(central.url + "/v1/admin/faults", json=plan, timeout=30).ok
    # The spared requests get no latency either (it would exceed their timeout).
    statuses = [
        transport.request("POST", "/v1/heartbeat", body=b"{}", timeout_s=20).status
        for _ in range(2)
    ]
    assert statuses == [200, 200]
    requests.put(central.url + "/v1/admin/faults", json={**plan, "latency_s": 0}, timeout=30)
    # Requests of other paths do not count.
    assert transport.request("POST", "/v1/transactions/batch", body=b"{}").status == 400
    assert [transport.request("POST", "/v1/heartbeat", body=b"{}").status for _ in range(4)] == [
        200,
        200,
        503,
        200,
    ]
    bad = requests.put(central.url + "/v1/admin/faults", json={"spare": -1}, timeout=30)
    assert bad.status_code == 400


def test_malformed_requests_are_refused(
    central: CentralHandle, transport: CentralTransport
) -> None:
    assert transport.request("POST", "/v1/transactions/batch", body=b"{not json").status == 400
    assert (
        transport.request("POST", "/v1/transactions/batch", body=b'{"entries": []}').status == 400
    )
    assert transport.request("GET", "/v1/nowhere").status == 404
    assert requests.get(central.url + "/v1/health", timeout=30).json()["ok"] is True


def test_openapi_document_lists_every_route() -> None:
    doc = json.loads((ROOT / "docs" / "central-openapi.json").read_text())
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == set(ROUTES)
    assert set(ROUTES) == set(POLICIES)  # and the guard has a policy for each


def test_openapi_document_is_generated_from_the_code() -> None:
    """docs/central-openapi.json is what ``python -m central.openapi`` writes today."""
    assert (ROOT / "docs" / "central-openapi.json").read_text(encoding="utf-8") == render()


def test_demo_id_numbers_have_valid_check_characters() -> None:
    for idn in (CHEN, LI, WANG, ZHAO, SUN, ZHOU, WU, ZHENG):
        assert is_valid(idn)
    assert is_valid("11010519491231002X")  # the example printed in GB 11643-1999
    assert mask(CHEN) == CHEN[:3] + "*" * 11 + CHEN[-4:]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789", min_size=17, max_size=17), st.sampled_from("0123456789X"))
def test_exactly_one_check_character_is_valid(first17: str, last: str) -> None:
    assert is_valid(first17 + last) == (last == check_char(first17))


def test_cli_serve_starts_and_stops(tmp_path: Path) -> None:
    secret = tmp_path / "k.secret"
    secret.write_text("abc" * 8)
    secret.chmod(0o600)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kiosk.cli",
            "central",
            "serve",
            "--db",
            str(tmp_path / "c.sqlite"),
            "--port",
            "0",
            "--kiosk",
            f"K-CLI={secret}",
            "--fault",
            "error=0.0",
            "--payment-ttl-s",
            "60",
            "--pay-url",
            "https://pay.test/c",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = re.search(r"(http://\S+)", line).group(1)  # type: ignore[union-attr]
        t = CentralTransport(url, kiosk_id="K-CLI", secret=b"abc" * 8)
        assert t.request("POST", "/v1/heartbeat", body=b"{}").status == 200
        choice = {"option": "one_trip", "region": "HK", "purpose": "individual"}
        order = CentralClient(t).create_payment("K-CLI-pay-1", id_number=ZHANG, **choice)
        assert order.pay_url == f"https://pay.test/c?order={order.order_id}"
        assert 55 <= order.expires_in_s <= 60
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0


ZHANG = make_id_number("440304", "19900101", "135")  # owner of the simulator's virtual permit


def test_eligibility_carries_the_permits_chip_access_data(client: CentralClient) -> None:
    from devices.icao.mrz import MrzAccess, access_from_lines
    from devices.simulators.vcard import DEFAULT_MRZ

    verdict = client.eligibility(ZHANG)
    assert verdict.eligible and verdict.permit is not None
    on_record = MrzAccess(
        verdict.permit.document_number, verdict.permit.birth_date, verdict.permit.expiry_date
    )
    assert on_record == access_from_lines(DEFAULT_MRZ)  # the demo chip opens with it
    chen = client.eligibility(CHEN).permit
    assert (
        chen is not None and chen.birth_date == "900307" and chen.document_number not in repr(chen)
    )


def test_permit_status_shows_the_current_endorsement(
    central: CentralHandle, client: CentralClient
) -> None:
    zhou = client.permit_status(ZHOU)
    assert zhou.endorsement is not None and zhou.endorsement.valid
    assert (zhou.endorsement.region, zhou.endorsement.trips) == ("HK", "two")
    assert zhou.endorsement.valid_until == (TODAY + timedelta(days=60)).isoformat()
    li = client.permit_status(LI)
    assert li.endorsement is not None and not li.endorsement.valid
    chen = client.permit_status(CHEN)
    assert chen.endorsement is None and chen.permit_days_left == 3000
    choice = {"id_number": CHEN, "option": "one_trip", "region": "MO", "purpose": "individual"}
    payment = _paid_order(central, client, **choice)
    issued = client.issue_endorsement("k-status-1", **choice, payment=payment)
    after = client.permit_status(CHEN).endorsement
    assert after is not None and (after.option, after.trips, after.region) == (
        "one_trip",
        "one",
        "MO",
    )
    assert after.valid_until == issued.valid_until
    with pytest.raises(CentralError) as caught:
        client.permit_status(make_id_number("440304", "19900101", "999"))
    assert caught.value.status == 404


def _jpeg(seed: int) -> bytes:
    """A small real JPEG (not a face: the gateway stores it as the national system sent it)."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (60, 80), (seed % 256, 120, 200)).save(out, "JPEG")
    return out.getvalue()


def test_the_applicant_photo_travels_with_the_ready_document(central: CentralHandle) -> None:
    at_pickup = CentralTransport(central.url, kiosk_id=PICKUP, secret=SECRET, timeout_s=30)
    client = CentralClient(at_pickup)
    try:
        first, second = client.documents_ready(WANG).here
        assert first.applicant_photo is None  # none on file yet: the machine has no reference
        photo = _jpeg(1)
        url = f"{central.url}/v1/admin/documents/{second.document_no}/applicant-photo"
        put = requests.put(url, data=photo, headers={"Content-Type": "image/jpeg"}, timeout=30)
        assert put.status_code == 204
        again = {d.document_no: d for d in client.documents_ready(WANG).here}
        assert again[second.document_no].applicant_photo == photo
        assert again[first.document_no].applicant_photo is None
        # Only a JPEG, only for a document still waiting, only from this machine's loopback.
        png = requests.put(
            url, data=b"\x89PNG\r\n", headers={"Content-Type": "image/jpeg"}, timeout=5
        )
        assert png.status_code == 415
        unknown = url.replace(second.document_no, "NO-SUCH-DOC")
        missing = requests.put(
            unknown, data=photo, headers={"Content-Type": "image/jpeg"}, timeout=5
        )
        assert missing.status_code == 404
    finally:
        at_pickup.close()


def test_applicant_photos_are_erased_a_while_after_the_handover(central: CentralHandle) -> None:
    from central.store import RetentionPolicy

    store = central.store
    [doc] = store.documents_ready(CHEN, PICKUP)["documents"]
    store.set_applicant_photo(doc["document_no"], _jpeg(2))
    policy = RetentionPolicy(personal_days=30, keys_days=180)
    later = time.time() + 31 * 86_400
    assert store.purge(policy, now=later)["applicant_photos_erased"] == 0, "still waiting"
    handover = {"kind": "pickup.handover", "payload": {"document_no": doc["document_no"]}}
    [result] = store.ingest_batch(PICKUP, [{**_entry("K-AP1", 0), **handover}])
    assert result["status"] == 201
    assert store.purge(policy, now=time.time() + 29 * 86_400)["applicant_photos_erased"] == 0
    assert store.purge(policy, now=later)["applicant_photos_erased"] == 1
