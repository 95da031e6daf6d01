"""The reference central service over HTTP (stdlib ``ThreadingHTTPServer``).

Every kiosk route needs a valid HMAC signature (docs/sync.md); ``/v1/health``,
``/v1/stats`` and the admin routes (loopback clients only) do not. The API is described in
docs/central-openapi.json; ``ROUTES`` is the list a test compares with that document.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import logging
import re
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from central.auth import verify
from central.faults import AFTER, BEFORE, FaultPlan, Faults
from central.store import CentralStore, Refused

log = logging.getLogger(__name__)

MAX_BODY = 32 * 1024 * 1024

# (method, path template): the API surface, kept equal to docs/central-openapi.json by a test.
ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/v1/health"),
    ("GET", "/v1/stats"),
    ("POST", "/v1/transactions/batch"),
    ("POST", "/v1/transactions"),
    ("OPTIONS", "/v1/uploads"),
    ("POST", "/v1/uploads"),
    ("HEAD", "/v1/uploads/{upload_id}"),
    ("PATCH", "/v1/uploads/{upload_id}"),
    ("POST", "/v1/heartbeat"),
    ("POST", "/v1/eligibility"),
    ("POST", "/v1/payments"),
    ("GET", "/v1/payments/{order_id}"),
    ("POST", "/v1/payments/{order_id}/cancel"),
    ("POST", "/v1/payments/{order_id}/refund"),
    ("POST", "/v1/endorsements"),
    ("POST", "/v1/permits/status"),
    ("POST", "/v1/documents/ready"),
    ("POST", "/v1/photos/receipts"),
    ("GET", "/v1/admin/faults"),
    ("PUT", "/v1/admin/faults"),
    ("POST", "/v1/admin/payments/{order_id}/pay"),
)
UNSIGNED = ("/v1/health", "/v1/stats", "/v1/admin/")


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: Mapping[str, str] | None = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        store: CentralStore,
        faults: Faults,
        secrets: Mapping[str, bytes],
    ) -> None:
        super().__init__(address, _Handler)
        self.store = store
        self.faults = faults
        self.secrets = dict(secrets)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    _faultable = True  # this request may get a fault (set per request by _dispatch)

    def setup(self) -> None:
        super().setup()
        # Headers and body leave as separate writes; without this, Nagle + delayed ACK
        # add tens of milliseconds to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.client_address[0], *args)

    # Each method funnels into one dispatcher.
    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    # ------------------------------------------------------------ plumbing
    def _dispatch(self) -> None:
        path = self.path
        route = _match(self.command, path.split("?", 1)[0])
        faults = self.server.faults
        faultable = not path.startswith(UNSIGNED) and not faults.spared(path)
        self._faultable = faultable
        try:
            if route is None:
                self._drain_body()
                raise Refused(404, "no such route")
            handler, params = route
            if faultable:
                plan = faults.plan
                if plan.latency_s:
                    time.sleep(plan.latency_s)
                before = faults.pick(path, BEFORE)
                if before is not None:
                    self.server.store.bump("faults")
                    self._drain_body()
                    self._send(self._before_fault(before, plan))
                    return
            if handler is _Handler._patch_upload:
                reply = self._patch_upload(**params)
                if reply is None:
                    return
            else:
                body = self._read_body()
                kiosk = self._authenticate(path, body)
                reply = handler(self, kiosk, body, **params)
        except Refused as exc:
            reply = Reply(exc.status, exc.body)
        except (ValueError, KeyError, TypeError) as exc:
            reply = Reply(400, {"error": f"bad request: {type(exc).__name__}"})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return
        after = faults.pick(path, AFTER) if faultable else None
        if after is not None:
            self.server.store.bump("faults")
            self._after_fault(after, faults.plan)
            return
        self._send(reply)

    def _before_fault(self, mode: str, plan: FaultPlan) -> Reply:
        if mode == "retry_after":
            return Reply(429, {"error": "slow down"}, {"Retry-After": str(plan.retry_after_s)})
        if mode == "status":
            return Reply(plan.status_code, {"error": "refused (injected fault)"})
        return Reply(503, {"error": "unavailable (injected fault)"})

    def _after_fault(self, mode: str, plan: FaultPlan) -> None:
        if mode == "reset":
            self._reset()
            return
        self.close_connection = True
        try:
            if mode in ("bad_json", "wrong_schema"):
                raw = b'{"results": [ {"key": oops' if mode == "bad_json" else b'{"ok": 1}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            elif mode == "huge":
                # No Content-Length: the client must cap the body while reading it.
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b'{"results": ["')
                block = b"x" * 65536
                for _ in range(plan.huge_bytes // len(block)):
                    self.wfile.write(block)
            elif mode == "trickle":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(plan.trickle_bytes))
                self.end_headers()
                for _ in range(plan.trickle_bytes):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(plan.trickle_interval_s)
        except OSError:
            pass  # the client gave up, as it should

    def _reset(self) -> None:
        """Drop the connection with a TCP reset and no answer."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _length(self) -> int:
        raw = self.headers.get("Content-Length")
        if raw is None:
            if self.headers.get("Transfer-Encoding"):
                raise Refused(411, "Content-Length required")
            return 0
        if not (raw.isascii() and raw.isdigit()):
            raise Refused(400, "bad Content-Length")
        length = int(raw)
        if length > MAX_BODY:
            self.close_connection = True
            raise Refused(413, "request body too large")
        return length

    def _read_body(self) -> bytes:
        length = self._length()
        return self.rfile.read(length) if length else b""

    def _drain_body(self) -> None:
        try:
            self._read_body()
        except Refused:
            self.close_connection = True

    def _authenticate(self, path: str, body: bytes) -> str:
        if path.startswith(UNSIGNED):
            if path.startswith("/v1/admin/") and not _loopback(self.client_address[0]):
                raise Refused(403, "admin only from loopback")
            return ""
        kiosk = verify(
            self.server.secrets,
            dict(self.headers.items()),
            method=self.command,
            path=path,
            body=body,
            now=time.time(),
        )
        if kiosk is None:
            raise Refused(401, "bad or missing kiosk signature")
        return kiosk

    def _send(self, reply: Reply) -> None:
        raw = b"" if reply.body is None else json.dumps(reply.body, ensure_ascii=False).encode()
        try:
            self.send_response(reply.status)
            for name, value in (reply.headers or {}).items():
                self.send_header(name, value)
            if raw:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(raw)
        except OSError:
            self.close_connection = True

    def _json(self, body: bytes) -> Any:
        try:
            return json.loads(body)
        except ValueError as exc:
            raise Refused(400, "body is not JSON") from exc

    # ---------------------------------------------------------------- routes
    def _health(self, kiosk: str, body: bytes) -> Reply:
        return Reply(200, {"ok": True, "time": time.time()})

    def _stats(self, kiosk: str, body: bytes) -> Reply:
        return Reply(200, self.server.store.stats())

    def _batch(self, kiosk: str, body: bytes) -> Reply:
        data = self._json(body)
        entries = data.get("entries") if isinstance(data, dict) else None
        if not isinstance(entries, list) or not entries or len(entries) > 1000:
            raise Refused(400, "entries must be a list of 1-1000 items")
        return Reply(200, {"results": self.server.store.ingest_batch(kiosk, entries)})

    def _single(self, kiosk: str, body: bytes) -> Reply:
        data = self._json(body)
        if not isinstance(data, dict):
            raise Refused(400, "body must be an object")
        data = {**data, "key": self.headers.get("Idempotency-Key", "")}
        data.setdefault("stream", data.get("kind", "single"))
        data.setdefault("attachments", [])
        result = self.server.store.ingest_batch(kiosk, [data])[0]
        headers = {"Idempotent-Replayed": "true"} if result.get("replayed") else None
        return Reply(int(result["status"]), result, headers)

    def _tus_options(self, kiosk: str, body: bytes) -> Reply:
        return Reply(
            204,
            None,
            {
                "Tus-Resumable": "1.0.0",
                "Tus-Version": "1.0.0",
                "Tus-Extension": "creation,checksum",
                "Tus-Checksum-Algorithm": "sha256",
                "Tus-Max-Size": str(MAX_BODY),
            },
        )

    def _create_upload(self, kiosk: str, body: bytes) -> Reply:
        raw = self.headers.get("Upload-Length", "")
        if not (raw.isascii() and raw.isdigit()) or int(raw) > 64 * 1024 * 1024:
            raise Refused(400, "Upload-Length required (at most 64 MiB)")
        meta: dict[str, str] = {}
        for pair in self.headers.get("Upload-Metadata", "").split(","):
            if pair.strip():
                name, _, value = pair.strip().partition(" ")
                meta[name] = base64.b64decode(value).decode() if value else ""
        upload_id = self.server.store.create_upload(kiosk, int(raw), meta)
        return Reply(
            201,
            None,
            {
                "Location": f"/v1/uploads/{upload_id}",
                "Tus-Resumable": "1.0.0",
                "Upload-Offset": "0",
            },
        )

    def _head_upload(self, kiosk: str, body: bytes, upload_id: str) -> Reply:
        offset, length = self.server.store.upload_state(upload_id)
        return Reply(
            200,
            None,
            {
                "Upload-Offset": str(offset),
                "Upload-Length": str(length),
                "Tus-Resumable": "1.0.0",
                "Cache-Control": "no-store",
            },
        )

    def _patch_upload(self, upload_id: str) -> Reply | None:
        length = self._length()
        at = self.headers.get("Upload-Offset", "")
        cut_from = self.server.faults.plan.upload_cut_offset
        cut = self._faultable and at.isascii() and at.isdigit() and int(at) >= cut_from
        if cut and self.server.faults.pick(self.path, ("upload_cut",)):
            self.server.store.bump("faults")
            self.rfile.read(length // 2)
            self._reset()
            return None
        body = self.rfile.read(length)
        kiosk = self._authenticate(self.path, body)
        del kiosk  # any authenticated kiosk may continue an upload it knows the id of
        if self.headers.get("Content-Type") != "application/offset+octet-stream":
            raise Refused(415, "Content-Type must be application/offset+octet-stream")
        offset = self.headers.get("Upload-Offset", "")
        if not (offset.isascii() and offset.isdigit()):
            raise Refused(400, "Upload-Offset required")
        checksum = self.headers.get("Upload-Checksum")
        if checksum:
            algorithm, _, value = checksum.partition(" ")
            if algorithm != "sha256":
                raise Refused(400, "unsupported checksum algorithm")
            if base64.b64encode(hashlib.sha256(body).digest()).decode() != value:
                raise Refused(460, "checksum mismatch")
        new = self.server.store.append_upload(upload_id, int(offset), body)
        return Reply(204, None, {"Upload-Offset": str(new), "Tus-Resumable": "1.0.0"})

    def _heartbeat(self, kiosk: str, body: bytes) -> Reply:
        self.server.store.heartbeat(kiosk, self._json(body))
        return Reply(200, {"ok": True, "time": time.time()})

    def _eligibility(self, kiosk: str, body: bytes) -> Reply:
        data = self._json(body)
        return Reply(200, self.server.store.eligibility(data.get("id_number")))

    def _idempotent(
        self,
        kiosk: str,
        kind: str,
        body: bytes,
        action: Callable[[str, dict[str, Any]], tuple[int, dict[str, Any]]],
    ) -> Reply:
        """``action(kiosk, data)`` once per Idempotency-Key; replays get the first answer."""
        data = self._json(body)
        if not isinstance(data, dict):
            raise Refused(400, "body must be an object")
        key = self.headers.get("Idempotency-Key", "")
        status, result, replayed = self.server.store.idempotent(
            kiosk, key, kind, data, lambda: action(kiosk, data)
        )
        return Reply(status, result, {"Idempotent-Replayed": "true"} if replayed else None)

    def _endorsements(self, kiosk: str, body: bytes) -> Reply:
        store = self.server.store
        return self._idempotent(kiosk, "endorsement.issue", body, store.issue_endorsement)

    def _create_payment(self, kiosk: str, body: bytes) -> Reply:
        store = self.server.store
        return self._idempotent(kiosk, "payment.order", body, store.create_payment)

    def _payment_status(self, kiosk: str, body: bytes, order_id: str) -> Reply:
        return Reply(200, self.server.store.payment_status(kiosk, order_id))

    def _cancel_payment(self, kiosk: str, body: bytes, order_id: str) -> Reply:
        return Reply(200, self.server.store.cancel_payment(kiosk, order_id))

    def _refund_payment(self, kiosk: str, body: bytes, order_id: str) -> Reply:
        return Reply(200, self.server.store.refund_payment(kiosk, order_id))

    def _pay(self, kiosk: str, body: bytes, order_id: str) -> Reply:
        return Reply(200, self.server.store.simulate_payment(order_id))

    def _permit_status(self, kiosk: str, body: bytes) -> Reply:
        data = self._json(body)
        return Reply(200, self.server.store.permit_status(data.get("id_number")))

    def _documents(self, kiosk: str, body: bytes) -> Reply:
        data = self._json(body)
        return Reply(200, self.server.store.documents_ready(data.get("id_number"), kiosk))

    def _photos(self, kiosk: str, body: bytes) -> Reply:
        data = self._json(body)
        if not isinstance(data, dict):
            raise Refused(400, "body must be an object")
        status, result = self.server.store.register_photo(kiosk, data)
        return Reply(status, result)

    def _get_faults(self, kiosk: str, body: bytes) -> Reply:
        return Reply(200, self.server.faults.plan.to_json())

    def _put_faults(self, kiosk: str, body: bytes) -> Reply:
        data = self._json(body)
        if not isinstance(data, dict):
            raise Refused(400, "body must be an object")
        self.server.faults.set(FaultPlan.from_json(data))
        return Reply(200, self.server.faults.plan.to_json())


_HANDLERS: dict[tuple[str, str], Callable[..., Any]] = {
    ("GET", "/v1/health"): _Handler._health,
    ("GET", "/v1/stats"): _Handler._stats,
    ("POST", "/v1/transactions/batch"): _Handler._batch,
    ("POST", "/v1/transactions"): _Handler._single,
    ("OPTIONS", "/v1/uploads"): _Handler._tus_options,
    ("POST", "/v1/uploads"): _Handler._create_upload,
    ("HEAD", "/v1/uploads/{upload_id}"): _Handler._head_upload,
    ("PATCH", "/v1/uploads/{upload_id}"): _Handler._patch_upload,
    ("POST", "/v1/heartbeat"): _Handler._heartbeat,
    ("POST", "/v1/eligibility"): _Handler._eligibility,
    ("POST", "/v1/payments"): _Handler._create_payment,
    ("GET", "/v1/payments/{order_id}"): _Handler._payment_status,
    ("POST", "/v1/payments/{order_id}/cancel"): _Handler._cancel_payment,
    ("POST", "/v1/payments/{order_id}/refund"): _Handler._refund_payment,
    ("POST", "/v1/endorsements"): _Handler._endorsements,
    ("POST", "/v1/permits/status"): _Handler._permit_status,
    ("POST", "/v1/documents/ready"): _Handler._documents,
    ("POST", "/v1/photos/receipts"): _Handler._photos,
    ("GET", "/v1/admin/faults"): _Handler._get_faults,
    ("PUT", "/v1/admin/faults"): _Handler._put_faults,
    ("POST", "/v1/admin/payments/{order_id}/pay"): _Handler._pay,
}
assert set(_HANDLERS) == set(ROUTES)

_PATTERNS = [
    (method, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[0-9a-f]{32})", path) + "$"), fn)
    for (method, path), fn in _HANDLERS.items()
]


def _match(method: str, path: str) -> tuple[Callable[..., Any], dict[str, str]] | None:
    for m, pattern, fn in _PATTERNS:
        found = pattern.match(path)
        if found and m == method:
            return fn, found.groupdict()
    return None


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class CentralHandle:
    """A running service: ``url``, ``store``, ``faults``; ``stop()`` shuts it down."""

    url: str
    store: CentralStore
    faults: Faults
    server: _Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
        self.store.close()

    def __enter__(self) -> CentralHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(
    db_path: str | Path,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: FaultPlan | Faults | None = None,
    *,
    kiosk_secrets: Mapping[str, bytes] | None = None,
    today: Callable[[], date] | None = None,
    tls: ssl.SSLContext | None = None,
    payment_ttl_s: float = 180.0,
    pay_base_url: str = "https://pay.example.org/cashier",
) -> CentralHandle:
    """Start the service on a background thread (the kiosk demo embeds it this way).

    ``tls``: a server-side SSL context to serve https instead of loopback http.
    ``payment_ttl_s``: how long a payment order waits to be paid; ``pay_base_url``: the
    payment links' base."""
    store = CentralStore(
        db_path, today=today, payment_ttl_s=payment_ttl_s, pay_base_url=pay_base_url
    )
    picker = faults if isinstance(faults, Faults) else Faults(faults)
    server = _Server((host, port), store, picker, kiosk_secrets or {})
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="central", daemon=True
    )
    thread.start()
    url = f"{'https' if tls else 'http'}://{host}:{server.server_port}"
    return CentralHandle(url, store, picker, server, thread)
