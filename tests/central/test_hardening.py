"""The gateway against bad input, hostile kiosks and slow or idle clients (issue "Hardening
from a bad-input and fault probe", gateway items): every signed request gets a 4xx answer,
not a closed connection; a bad entry is refused alone; nothing is read before the headers
pass; kiosks cannot reach each other's data; secrets and files are checked."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests

from central.app import Gateway
from central.auth import SecretFileError
from central.faults import FaultPlan, Faults
from central.guard import Limits
from central.server import CentralHandle, GatewaySettings, serve, start_in_thread
from central.store import CentralStore, make_id_number
from offline_queue.auth import signed_headers
from offline_queue.central_client import CentralClient
from offline_queue.transport import CentralTransport

ROOT = Path(__file__).resolve().parents[2]
KIOSK = "K-HARD-1"
OTHER = "K-HARD-2"
PICKUP = "SZ-FT-K01"  # holds the demo documents
SECRET = b"hardening-test-secret-0123"
TODAY = date(2026, 11, 27)
CHEN = make_id_number("440304", "19900307", "123")
CHOICE = {"id_number": CHEN, "option": "multi_1y", "region": "HK", "purpose": "individual"}


@pytest.fixture
def central(tmp_path: Path) -> Iterator[CentralHandle]:
    """The guard's behaviour does not depend on the store: SQLite only."""
    yield from _central(str(tmp_path / "central.sqlite"))


@pytest.fixture
def central_both(central_db: str) -> Iterator[CentralHandle]:
    """Where the store decides (whose data is whose): both backends."""
    yield from _central(central_db)


def _central(db: str) -> Iterator[CentralHandle]:
    handle = start_in_thread(
        db,
        kiosk_secrets={KIOSK: SECRET, OTHER: SECRET, PICKUP: SECRET},
        today=lambda: TODAY,
    )
    yield handle
    handle.stop()


@pytest.fixture
def kiosk(central: CentralHandle) -> Iterator[CentralTransport]:
    t = CentralTransport(central.url, kiosk_id=KIOSK, secret=SECRET, timeout_s=10)
    yield t
    t.close()


def _signed(
    method: str, path: str, body: bytes, kiosk_id: str = KIOSK, **extra: str
) -> dict[str, str]:
    headers = signed_headers(
        kiosk_id, SECRET, method=method, path=path, timestamp=int(time.time()), body=body
    )
    return {**headers, **extra}


def _raw(port: int, head: bytes, timeout_s: float = 10) -> bytes:
    """Send ``head`` on a new connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.sendall(head)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def _entry(key: str, kind: str, payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "key": key,
        "kind": kind,
        "schema_version": 1,
        "stream": key,
        "payload": payload,
        "attachments": [],
        **extra,
    }


def _batch(t: CentralTransport, *entries: dict[str, Any]) -> list[dict[str, Any]]:
    status, data, _ = t.json_request("POST", "/v1/transactions/batch", {"entries": list(entries)})
    assert status == 200, data
    return data["results"]  # type: ignore[no-any-return]


# ----------------------------------------------- item 5: every signed request answered
def test_a_look_up_with_a_body_of_the_wrong_shape_is_a_400(kiosk: CentralTransport) -> None:
    bodies = [b"[]", b"null", b"5", b'"x"', b'{"id_number": {"a": 1}}', b'{"id_number": 1e999}']
    for path in ("/v1/eligibility", "/v1/permits/status", "/v1/documents/ready"):
        for body in bodies:
            answer = kiosk.request("POST", path, body=body)
            assert answer.status == 400 and "error" in json.loads(answer.body), (path, body)


def test_json_nested_thousands_deep_is_a_400(kiosk: CentralTransport) -> None:
    deep = b"[" * 5000 + b"]" * 5000
    for path in ("/v1/eligibility", "/v1/transactions/batch", "/v1/heartbeat"):
        assert kiosk.request("POST", path, body=deep).status == 400
    nested: Any = {}
    for _ in range(100):
        nested = {"n": nested}
    [result] = _batch(kiosk, _entry("K-deep", "kiosk.note", nested))
    assert result["status"] == 422 and "nested" in result["error"]


@pytest.mark.parametrize("bad", [{"x": 1}, 10**40, True, "not-an-id", 12345])
def test_a_poison_entry_is_refused_alone(kiosk: CentralTransport, bad: Any) -> None:
    """A bad ID number inside one photo entry used to roll back the whole batch, which the
    kiosk then retried for ever."""
    poison = _entry("K-p1", "photo.captured", {"photo_number": "K-P-1", "id_number": bad})
    bound = _entry(
        "K-p2", "photo.captured", {"photo_number": "K-P-2", "id_binding": {"id_number": bad}}
    )
    fine = _entry("K-ok", "kiosk.note", {"n": 1})
    results = _batch(kiosk, poison, bound, fine)
    assert [r["status"] for r in results] == [422, 422, 201]
    assert "id_number" in results[0]["error"] and str(bad) not in results[0]["error"]


def test_a_huge_integer_in_a_body_is_a_400_not_a_traceback(kiosk: CentralTransport) -> None:
    body = b'{"entries": [{"n": ' + b"9" * 5000 + b"}]}"
    assert kiosk.request("POST", "/v1/transactions/batch", body=body).status == 400


# ---------------------------------------------- item 6: nothing read before the headers
def test_an_unsigned_huge_body_is_refused_before_it_is_sent(central: CentralHandle) -> None:
    """Only the headers go out; the answer comes at once and the connection closes."""
    head = (
        b"POST /v1/transactions/batch HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 33554432\r\n\r\n"
    )
    start = time.monotonic()
    answer = _raw(central.port, head)
    assert answer.startswith(b"HTTP/1.1 401")
    assert time.monotonic() - start < 5  # not the read timeout: nothing was waited for


def test_a_body_over_the_routes_limit_is_refused_from_its_header(central: CentralHandle) -> None:
    headers = _signed("POST", "/v1/eligibility", b"")
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
    request = (
        b"POST /v1/eligibility HTTP/1.1\r\nHost: x\r\n" + head + b"Content-Length: 1048576\r\n\r\n"
    )
    assert _raw(central.port, request).startswith(b"HTTP/1.1 413")


def test_a_body_that_stalls_is_cut_off_after_the_read_timeout(tmp_path: Path) -> None:
    limits = Limits(read_timeout_s=1.0, header_timeout_s=1.0)
    with start_in_thread(
        tmp_path / "c.sqlite", kiosk_secrets={KIOSK: SECRET}, limits=limits
    ) as central:
        body = b'{"id_number": "' + b"1" * 18 + b'"}'
        headers = _signed("POST", "/v1/eligibility", body)
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
        request = b"POST /v1/eligibility HTTP/1.1\r\nHost: x\r\n" + head
        request += f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:5]
        assert _raw(central.port, request).startswith(b"HTTP/1.1 408")
        # A connection that never sends a request is closed too (it used to hold a thread).
        with socket.create_connection(("127.0.0.1", central.port), timeout=10) as idle:
            assert idle.recv(10) == b""
        # So is one that sends its headers too slowly.
        with socket.create_connection(("127.0.0.1", central.port), timeout=10) as slow:
            slow.sendall(b"GET /v1/health HTTP/1.1\r\n")
            assert slow.recv(10) == b""


def test_past_the_connection_limit_a_request_is_answered_503(tmp_path: Path) -> None:
    limits = Limits(max_connections=4)
    with start_in_thread(tmp_path / "c.sqlite", limits=limits) as central:
        held = [socket.create_connection(("127.0.0.1", central.port)) for _ in range(5)]
        try:
            status = requests.get(central.url + "/v1/health", timeout=10).status_code
        finally:
            for s in held:
                s.close()
        assert status == 503


def test_bodies_in_memory_are_bounded_and_the_rest_wait_or_are_turned_away(
    tmp_path: Path,
) -> None:
    """A body budget of 1 MiB: while one signed 1 MiB upload chunk is held open (half sent),
    a second is answered 503 once it has waited the read timeout, instead of being read."""
    limits = Limits(body_budget=1024 * 1024, read_timeout_s=1.0)
    with start_in_thread(
        tmp_path / "c.sqlite", kiosk_secrets={KIOSK: SECRET}, limits=limits
    ) as central:
        t = CentralTransport(central.url, kiosk_id=KIOSK, secret=SECRET, timeout_s=10)
        meta = "sha256 " + __import__("base64").b64encode(b"0" * 64).decode()
        created = t.request(
            "POST", "/v1/uploads", headers={"Upload-Length": str(1 << 20), "Upload-Metadata": meta}
        )
        path = created.headers["Location"]
        t.close()
        chunk = b"z" * (1 << 20)

        def opening(body_part: bytes) -> socket.socket:
            headers = _signed(
                "PATCH",
                path,
                chunk,
                **{"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"},
            )
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
            s = socket.create_connection(("127.0.0.1", central.port), timeout=15)
            s.sendall(
                f"PATCH {path} HTTP/1.1\r\nHost: x\r\n".encode()
                + head
                + f"Content-Length: {len(chunk)}\r\n\r\n".encode()
                + body_part
            )
            return s

        first = opening(chunk[: 1 << 19])
        rest = chunk[1 << 19 :]

        def trickle() -> None:
            # The rest of the first body, slowly but within the read timeout's pauses.
            for n in range(0, len(rest), 32 * 1024):
                first.sendall(rest[n : n + 32 * 1024])
                time.sleep(0.2)

        sender = threading.Thread(target=trickle)
        sender.start()
        time.sleep(0.3)  # the first has its share of the budget before the second asks
        second = opening(b"")
        try:
            answer = second.recv(200)
            assert answer.startswith(b"HTTP/1.1 503") and b"retry-after" in answer.lower()
            sender.join(30)
            assert first.recv(200).startswith(b"HTTP/1.1 ")  # the first was read and answered
        finally:
            first.close()
            second.close()


# ---------------------------------------------------- item 7: kiosks keep to their own
def test_another_kiosk_replaying_a_payment_key_gets_nothing_of_the_first(
    central_both: CentralHandle,
) -> None:
    with (
        closing(CentralTransport(central_both.url, kiosk_id=KIOSK, secret=SECRET)) as mine,
        closing(CentralTransport(central_both.url, kiosk_id=OTHER, secret=SECRET)) as theirs,
    ):
        order = CentralClient(mine).create_payment("pay-000001", **CHOICE)
        stolen = CentralClient(theirs).create_payment("pay-000001", **CHOICE)
        assert stolen.order_id != order.order_id and stolen.pay_url != order.pay_url
        # Taking a kiosk's next predictable key first blocks nothing of its own.
        taken = CentralClient(theirs).create_payment("pay-000002", **CHOICE)
        mine_next = CentralClient(mine).create_payment("pay-000002", **CHOICE)
        assert mine_next.order_id != taken.order_id
        assert central_both.store.payment_status(KIOSK, mine_next.order_id)["status"] == "unpaid"


def test_only_the_machine_holding_a_document_can_hand_it_over(central_both: CentralHandle) -> None:
    with (
        closing(CentralTransport(central_both.url, kiosk_id=PICKUP, secret=SECRET)) as holder,
        closing(CentralTransport(central_both.url, kiosk_id=OTHER, secret=SECRET)) as stranger,
    ):
        [doc] = CentralClient(holder).documents_ready(CHEN).here
        handover = {"document_no": doc.document_no}
        [refused] = _batch(stranger, _entry("X-1", "pickup.handover", handover))
        assert refused["status"] == 422 and "not held by this machine" in refused["error"]
        assert [d.document_no for d in CentralClient(holder).documents_ready(CHEN).here] == [
            doc.document_no
        ]
        [done] = _batch(holder, _entry("H-1", "pickup.handover", handover))
        assert done["status"] == 201
        assert CentralClient(holder).documents_ready(CHEN).here == []


def test_a_photo_number_belongs_to_the_machine_that_registered_it(
    central_both: CentralHandle,
) -> None:
    sha = "ab" * 32
    with (
        closing(CentralTransport(central_both.url, kiosk_id=KIOSK, secret=SECRET)) as mine,
        closing(CentralTransport(central_both.url, kiosk_id=OTHER, secret=SECRET)) as theirs,
    ):
        CentralClient(mine).register_photo("K-HARD-1-P-1", sha256=sha)
        status, body, _ = theirs.json_request(
            "POST", "/v1/photos/receipts", {"photo_number": "K-HARD-1-P-1", "sha256": sha}
        )
        assert status == 422 and "receipt_code" not in body


# ------------------------------------------------- item 8: the photo-to-citizen link
def test_the_photo_is_linked_to_the_citizen_of_its_id_binding(
    central: CentralHandle, kiosk: CentralTransport
) -> None:
    payload = {
        "photo_number": "K-HARD-1-P-7",
        "kiosk_id": KIOSK,
        "id_binding": {"id_number": CHEN, "name": "Chen Wei", "card_type": "resident"},
    }
    [result] = _batch(kiosk, _entry("K-ph-1", "photo.captured", payload))
    assert result["status"] == 201
    [photo] = central.store.photos()
    assert photo["id_number"] == CHEN


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"schema_version": True}, "schema_version"),
        ({"schema_version": "1"}, "schema_version"),
        ({"payload": {"photo_number": "P-1", "kiosk_id": OTHER}}, "kiosk_id"),
        ({"payload": {"photo_number": 7}}, "photo_number"),
        ({"payload": {}}, "photo_number"),
    ],
)
def test_every_kind_is_typed(kiosk: CentralTransport, change: dict[str, Any], why: str) -> None:
    base = _entry("K-t-1", "photo.captured", {"photo_number": "P-1"})
    [result] = _batch(kiosk, {**base, **change})
    assert result["status"] == 422 and why in result["error"]


# ---------------------------------------------------------- item 9: secrets and files
def test_serve_refuses_an_unfit_secret_file(tmp_path: Path) -> None:
    """Empty (an empty HMAC key), 3 bytes, or readable by others: the gateway does not
    start; from the command line it says why and exits 2."""
    unfit = {"empty": (b"", 0o600), "short": (b"abc", 0o600), "readable": (b"x" * 32, 0o644)}
    for name, (content, mode) in unfit.items():
        secret = tmp_path / name
        secret.write_bytes(content)
        secret.chmod(mode)
        settings = GatewaySettings(db=str(tmp_path / "c.sqlite"), secret_files={"K1": str(secret)})
        with pytest.raises(SecretFileError):
            serve(settings, port=0)
        kiosks = tmp_path / f"{name}.kiosks"
        kiosks.write_bytes(b"K1 " + content + b"\n")
        kiosks.chmod(mode)
        with pytest.raises(SecretFileError):
            GatewaySettings(db="unused", kiosks_file=str(kiosks)).secrets()
    done = subprocess.run(
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
            f"K1={tmp_path / 'readable'}",
        ],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "group/others" in done.stderr


def test_an_empty_secret_is_refused_in_process(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        start_in_thread(tmp_path / "c.sqlite", kiosk_secrets={KIOSK: b""})


# -------------------------------------------------------------- item 10: the rest
def test_a_body_of_another_declared_type_is_a_415(kiosk: CentralTransport) -> None:
    body = json.dumps({"id_number": CHEN}).encode()
    for declared in ("text/plain", "application/x-www-form-urlencoded"):
        answer = kiosk.request(
            "POST", "/v1/eligibility", body=body, headers={"Content-Type": declared}
        )
        assert answer.status == 415
    ok = kiosk.request(
        "POST",
        "/v1/eligibility",
        body=body,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert ok.status == 200


def test_the_fault_switch_refuses_values_out_of_bounds(central: CentralHandle) -> None:
    plans: list[dict[str, Any]] = [
        {"latency_s": -1},
        {"latency_s": 3600},
        {"trickle_interval_s": -0.5},
        {"rates": {"error": 2}},
        {"once": {"error": -1}},
        {"status_code": 200},
        {"unknown": 1},
    ]
    for plan in plans:
        answer = requests.put(central.url + "/v1/admin/faults", json=plan, timeout=30)
        assert answer.status_code == 400, plan
        with pytest.raises(ValueError):
            FaultPlan.from_json(plan)
    for raw in (b'{"latency_s": Infinity}', b'{"latency_s": NaN}', b'{"latency_s": -Infinity}'):
        answer = requests.put(
            central.url + "/v1/admin/faults",
            data=raw,
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        assert answer.status_code == 400, raw
    for bad in (float("nan"), float("inf"), True):
        with pytest.raises(ValueError):
            FaultPlan.from_json({"latency_s": bad})
    assert central.faults.plan.latency_s == 0


async def _call(app: Gateway, path: str, client: tuple[str, int]) -> int:
    """One request straight into the ASGI application, as from ``client``'s address."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [],
        "client": client,
        "server": ("127.0.0.1", 80),
        "scheme": "http",
        "root_path": "",
        "http_version": "1.1",
        "asgi": {"version": "3.0"},
    }
    await app(scope, receive, send)
    return int(sent[0]["status"])


def test_stats_and_admin_answer_only_this_machine(tmp_path: Path) -> None:
    import asyncio

    store = CentralStore(tmp_path / "c.sqlite")
    try:
        app = Gateway(store, Faults(), {}, Limits())
        for path in ("/v1/stats", "/v1/admin/faults"):
            assert asyncio.run(_call(app, path, ("203.0.113.9", 5000))) == 403
            assert asyncio.run(_call(app, path, ("127.0.0.1", 5000))) == 200
        assert asyncio.run(_call(app, "/v1/health", ("203.0.113.9", 5000))) == 200
    finally:
        store.close()


def test_a_heartbeat_status_is_kept_whole_as_json(
    central: CentralHandle, kiosk: CentralTransport
) -> None:
    status = {"devices": {f"printer{n}": "paper low " * 20 for n in range(100)}}
    code, _, _ = kiosk.json_request("POST", "/v1/heartbeat", {"status": status})
    assert code == 200
    [(kiosk_id, latest)] = central.store.heartbeats.latest().items()
    assert kiosk_id == KIOSK and latest["status"]["status"] == status


def test_the_embedded_demo_store_is_private(tmp_path: Path) -> None:
    from kiosk.config import parse_config
    from kiosk.machine.embedded import start_embedded_central

    config = parse_config(
        {
            "kiosk": {"id": "K-DEMO-9", "terminal": "photo", "data_dir": str(tmp_path / "d")},
            "central": {"embedded": True},
        }
    )
    handle = start_embedded_central(config)
    try:
        secret = (tmp_path / "d" / "central.secret").read_bytes().strip()
        with closing(CentralTransport(handle.url, kiosk_id="K-DEMO-9", secret=secret)) as t:
            assert t.request("POST", "/v1/heartbeat", body=b"{}").status == 200
        for path in (tmp_path / "d").glob("central-embedded.sqlite*"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    finally:
        handle.stop()


def test_unique_kiosk_ids_in_these_tests() -> None:
    assert len({KIOSK, OTHER, PICKUP, uuid.uuid4().hex}) == 4
