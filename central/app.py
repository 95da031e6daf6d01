"""The gateway's HTTP API: a FastAPI application behind the guard (``central.guard``).

Why FastAPI (docs/architecture.md, "The central gateway"): typed request and reply models
with pydantic, which the project already uses; the OpenAPI document generated from them;
plain ``def`` endpoints, run on a bounded thread pool, over the synchronous store; served by
uvicorn. Signing, body limits and fault injection happen in the guard before the framework
reads the body, because they must decide before any byte is read.

Endpoints stay thin: parse (the models), call the store, shape the reply. Every refusal is a
JSON ``{"error": ...}`` with a 4xx status, whatever the input.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException as StarletteHTTPException

from central import appointments, endorsing, models
from central.console import CONSOLE_POLICIES, add_console
from central.faults import FaultPlan, Faults
from central.guard import Access, Guard, Limits, Policy
from central.store import CentralStore, Refused
from central.store.uploads import MAX_UPLOAD

log = logging.getLogger(__name__)

KiB = 1024
MiB = 1024 * KiB
MAX_BODY = 8 * MiB  # one upload chunk (the kiosk sends 256 KiB)
TUS_TYPE = "application/offset+octet-stream"


class _Hex32(Convertor[str]):
    """Upload and order ids: 32 hex digits; anything else is no route (404)."""

    regex = "[0-9a-f]{32}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("hex32", _Hex32())

KIOSK_JSON = Policy(Access.KIOSK)
NO_BODY = Policy(Access.KIOSK, max_body=0, body_type=None)
# (method, path) -> who may call it and what body it takes; every route has one.
POLICIES: dict[tuple[str, str], Policy] = {
    ("GET", "/v1/health"): Policy(Access.OPEN, max_body=0, body_type=None),
    ("GET", "/v1/stats"): Policy(Access.LOOPBACK, max_body=0, body_type=None),
    ("POST", "/v1/transactions/batch"): Policy(Access.KIOSK, max_body=16 * MiB),
    ("POST", "/v1/transactions"): Policy(Access.KIOSK, max_body=MiB),
    ("OPTIONS", "/v1/uploads"): NO_BODY,
    ("POST", "/v1/uploads"): NO_BODY,
    ("HEAD", "/v1/uploads/{upload_id}"): NO_BODY,
    ("PATCH", "/v1/uploads/{upload_id}"): Policy(Access.KIOSK, MAX_BODY, TUS_TYPE),
    ("POST", "/v1/heartbeat"): Policy(Access.KIOSK, max_body=256 * KiB),
    ("POST", "/v1/eligibility"): KIOSK_JSON,
    ("POST", "/v1/payments"): KIOSK_JSON,
    ("GET", "/v1/payments/{order_id}"): NO_BODY,
    ("POST", "/v1/payments/{order_id}/cancel"): KIOSK_JSON,
    ("POST", "/v1/payments/{order_id}/refund"): KIOSK_JSON,
    ("POST", "/v1/endorsements"): KIOSK_JSON,
    ("POST", "/v1/permits/status"): KIOSK_JSON,
    ("POST", "/v1/documents/ready"): KIOSK_JSON,
    ("POST", "/v1/photos/receipts"): KIOSK_JSON,
    ("GET", "/v1/admin/faults"): Policy(Access.LOOPBACK, max_body=0, body_type=None),
    ("PUT", "/v1/admin/faults"): Policy(Access.LOOPBACK),
    ("POST", "/v1/admin/payments/{order_id}/pay"): Policy(Access.LOOPBACK),
    ("PUT", "/v1/admin/documents/{document_no}/applicant-photo"): Policy(
        Access.LOOPBACK, max_body=512 * KiB, body_type="image/jpeg"
    ),
    **CONSOLE_POLICIES,
    **appointments.POLICIES,
}
POLICIES.update(endorsing.POLICIES)

IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", max_length=255)]
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": models.ErrorReply}
    for code in (400, 401, 403, 404, 408, 409, 411, 413, 415, 422, 429, 503)
}


def store_of(request: Request) -> CentralStore:
    store: CentralStore = request.scope["state"]["store"]
    return store


def faults_of(request: Request) -> Faults:
    faults: Faults = request.scope["state"]["faults"]
    return faults


def kiosk_of(request: Request) -> str:
    """The kiosk that signed the request (set by the guard)."""
    kiosk: str = request.scope["state"]["kiosk"]
    return kiosk


def body_of(request: Request) -> bytes:
    body: bytes = request.scope["state"]["body"]
    return body


Store = Annotated[CentralStore, Depends(store_of)]
Kiosk = Annotated[str, Depends(kiosk_of)]
RawBody = Annotated[bytes, Depends(body_of)]


def _replayed(replayed: bool) -> dict[str, str] | None:
    return {"Idempotent-Replayed": "true"} if replayed else None


@functools.cache
def build_api() -> FastAPI:
    """The FastAPI application (routes, models, error handlers), built once per process: it
    holds no state of its own (the guard hands each request its gateway's store and fault
    switch in ``scope["state"]``). The OpenAPI document is generated from this."""
    api = FastAPI(
        title="Exit-entry central gateway",
        version="2",
        description="The bureau's edge service the kiosks sync to. Kiosk routes need the "
        "HMAC signature headers X-Kiosk-Id, X-Kiosk-Timestamp, X-Kiosk-Signature "
        "(docs/sync.md); admin routes and stats answer loopback callers only.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        responses=ERRORS,
    )
    _errors(api)
    _open_routes(api)
    _transaction_routes(api)
    _upload_routes(api)
    _lookup_routes(api)
    _payment_routes(api)
    _admin_routes(api)
    add_console(api)  # the fleet console (central/console)
    appointments.add_routes(api)
    endorsing.add_routes(api)
    return api


def _open_routes(api: FastAPI) -> None:
    @api.get("/v1/health", response_model=models.Health, tags=["open"])
    def health() -> models.Health:
        return models.Health(ok=True, time=time.time())

    @api.get("/v1/stats", response_model=dict[str, int], tags=["admin"])
    def stats(store: Store) -> dict[str, int]:
        return store.stats()


def _transaction_routes(api: FastAPI) -> None:
    @api.post(
        "/v1/transactions/batch",
        response_model=models.BatchReply,
        response_model_exclude_none=True,
        tags=["transactions"],
    )
    def batch(body: models.BatchRequest, store: Store, kiosk: Kiosk) -> models.BatchReply:
        results = store.ingest_batch(kiosk, list(body.entries))
        return models.BatchReply.model_validate({"results": results})

    @api.post(
        "/v1/transactions",
        status_code=201,
        response_model=models.EntryResult,
        response_model_exclude_none=True,
        tags=["transactions"],
    )
    def single(
        *,
        body: models.TransactionRequest,
        store: Store,
        kiosk: Kiosk,
        response: Response,
        key: IdempotencyKey = "",
    ) -> Any:
        entry = body.model_dump()
        entry["key"] = key
        if entry.get("stream") is None:
            entry["stream"] = body.kind
        [result] = store.ingest_batch(kiosk, [entry])
        if result.get("replayed"):
            response.headers["Idempotent-Replayed"] = "true"
        response.status_code = int(result["status"])
        return result


def _upload_routes(api: FastAPI) -> None:
    @api.options("/v1/uploads", status_code=204, tags=["uploads"])
    def tus_options() -> Response:
        return Response(
            status_code=204,
            headers={
                "Tus-Resumable": "1.0.0",
                "Tus-Version": "1.0.0",
                "Tus-Extension": "creation,checksum",
                "Tus-Checksum-Algorithm": "sha256",
                "Tus-Max-Size": str(MAX_UPLOAD),
            },
        )

    @api.post("/v1/uploads", status_code=201, tags=["uploads"])
    def create_upload(
        store: Store,
        kiosk: Kiosk,
        upload_length: Annotated[str, Header(alias="Upload-Length")] = "",
        upload_metadata: Annotated[str, Header(alias="Upload-Metadata")] = "",
    ) -> Response:
        if not (upload_length.isascii() and upload_length.isdigit() and len(upload_length) < 12):
            raise Refused(400, "Upload-Length required (at most 64 MiB)")
        upload_id = store.create_upload(kiosk, int(upload_length), _metadata(upload_metadata))
        return Response(
            status_code=201,
            headers={
                "Location": f"/v1/uploads/{upload_id}",
                "Tus-Resumable": "1.0.0",
                "Upload-Offset": "0",
            },
        )

    @api.head("/v1/uploads/{upload_id:hex32}", tags=["uploads"])
    def upload_state(upload_id: str, store: Store, kiosk: Kiosk) -> Response:
        offset, length = store.upload_state(upload_id, kiosk)
        return Response(
            status_code=200,
            headers={
                "Upload-Offset": str(offset),
                "Upload-Length": str(length),
                "Tus-Resumable": "1.0.0",
                "Cache-Control": "no-store",
            },
        )

    @api.patch("/v1/uploads/{upload_id:hex32}", status_code=204, tags=["uploads"])
    def append_upload(
        *,
        upload_id: str,
        store: Store,
        kiosk: Kiosk,
        data: RawBody,
        upload_offset: Annotated[str, Header(alias="Upload-Offset")] = "",
        upload_checksum: Annotated[str, Header(alias="Upload-Checksum")] = "",
    ) -> Response:
        if not (upload_offset.isascii() and upload_offset.isdigit() and len(upload_offset) < 15):
            raise Refused(400, "Upload-Offset required")
        if upload_checksum:
            algorithm, _, value = upload_checksum.partition(" ")
            if algorithm != "sha256":
                raise Refused(400, "unsupported checksum algorithm")
            if base64.b64encode(hashlib.sha256(data).digest()).decode() != value:
                raise Refused(460, "checksum mismatch")
        new = store.append_upload(upload_id, int(upload_offset), data, kiosk)
        return Response(
            status_code=204, headers={"Upload-Offset": str(new), "Tus-Resumable": "1.0.0"}
        )


def _lookup_routes(api: FastAPI) -> None:
    @api.post("/v1/heartbeat", response_model=models.HeartbeatReply, tags=["kiosks"])
    def heartbeat(body: models.HeartbeatRequest, store: Store, kiosk: Kiosk) -> Any:
        commands = store.heartbeat(kiosk, body.model_dump())
        return {"ok": True, "time": time.time(), "commands": commands}

    @api.post("/v1/eligibility", response_model=models.Eligibility, tags=["look-ups"])
    def eligibility(body: models.IdNumberRequest, store: Store, kiosk: Kiosk) -> Any:
        return store.eligibility(body.id_number)

    @api.post("/v1/permits/status", response_model=models.PermitStatus, tags=["look-ups"])
    def permit_status(body: models.IdNumberRequest, store: Store, kiosk: Kiosk) -> Any:
        return store.permit_status(body.id_number)

    @api.post("/v1/documents/ready", response_model=models.DocumentsReady, tags=["look-ups"])
    def documents_ready(body: models.IdNumberRequest, store: Store, kiosk: Kiosk) -> Any:
        return store.documents_ready(body.id_number, kiosk)

    @api.post(
        "/v1/photos/receipts",
        status_code=201,
        response_model=models.PhotoReceipt,
        tags=["look-ups"],
    )
    def photo_receipt(
        body: models.PhotoReceiptRequest, store: Store, kiosk: Kiosk, response: Response
    ) -> Any:
        status, result = store.register_photo(kiosk, body.model_dump())
        response.status_code = status
        return result


def _payment_routes(api: FastAPI) -> None:
    @api.post(
        "/v1/payments",
        status_code=201,
        response_model=models.PaymentOrderCreated,
        tags=["payments"],
    )
    def create_payment(
        body: models.ChoiceRequest, store: Store, kiosk: Kiosk, key: IdempotencyKey = ""
    ) -> Any:
        request = body.model_dump()
        return _idempotent(
            store,
            kiosk=kiosk,
            key=key,
            kind="payment.order",
            request=request,
            action=lambda: store.create_payment(kiosk, request),
            reply=models.PaymentOrderCreated,
        )

    @api.get("/v1/payments/{order_id:hex32}", response_model=models.PaymentOrder, tags=["payments"])
    def payment_status(order_id: str, store: Store, kiosk: Kiosk) -> Any:
        return store.payment_status(kiosk, order_id)

    @api.post(
        "/v1/payments/{order_id:hex32}/cancel",
        response_model=models.PaymentOrder,
        tags=["payments"],
    )
    def cancel_payment(order_id: str, store: Store, kiosk: Kiosk) -> Any:
        return store.cancel_payment(kiosk, order_id)

    @api.post(
        "/v1/payments/{order_id:hex32}/refund",
        response_model=models.PaymentOrder,
        tags=["payments"],
    )
    def refund_payment(order_id: str, store: Store, kiosk: Kiosk) -> Any:
        return store.refund_payment(kiosk, order_id)

    @api.post(
        "/v1/endorsements", status_code=201, response_model=models.Endorsement, tags=["payments"]
    )
    def issue_endorsement(
        body: models.EndorsementRequest, store: Store, kiosk: Kiosk, key: IdempotencyKey = ""
    ) -> Any:
        request = body.model_dump()
        return _idempotent(
            store,
            kiosk=kiosk,
            key=key,
            kind="endorsement.issue",
            request=request,
            action=lambda: store.issue_endorsement(kiosk, request),
            reply=models.Endorsement,
        )


def _admin_routes(api: FastAPI) -> None:
    @api.get("/v1/admin/faults", response_model=models.FaultSettings, tags=["admin"])
    def get_faults(request: Request) -> Any:
        faults = faults_of(request)
        return faults.plan.to_json()

    @api.put("/v1/admin/faults", response_model=models.FaultSettings, tags=["admin"])
    def put_faults(body: models.FaultSettings, request: Request) -> Any:
        faults = faults_of(request)
        try:
            faults.set(FaultPlan.from_json(body.model_dump(exclude_unset=True)))
        except ValueError as exc:
            raise Refused(400, str(exc)) from None
        return faults.plan.to_json()

    @api.post(
        "/v1/admin/payments/{order_id:hex32}/pay",
        response_model=models.PaymentOrder,
        tags=["admin"],
    )
    def pay(order_id: str, store: Store) -> Any:
        return store.simulate_payment(order_id)

    @api.put("/v1/admin/documents/{document_no}/applicant-photo", status_code=204, tags=["admin"])
    def put_applicant_photo(document_no: str, store: Store, data: RawBody) -> Response:
        """The application's photo of a ready document, as the national system would hold
        it (demo and tests: there is no national system here)."""
        store.set_applicant_photo(document_no, data)
        return Response(status_code=204)


def _idempotent(
    store: CentralStore,
    *,
    kiosk: str,
    key: str,
    kind: str,
    request: dict[str, Any],
    action: Callable[[], tuple[int, dict[str, Any]]],
    reply: type[models.Reply],
) -> JSONResponse:
    """``action`` once per (kiosk, Idempotency-Key); a replay gets the first answer, an
    error included (as it was stored)."""
    status, result, replayed = store.idempotent(kiosk, key, kind, request, action)
    if status < 400:
        result = reply.model_validate(result).model_dump()
    return JSONResponse(result, status_code=status, headers=_replayed(replayed))


def _metadata(header: str) -> dict[str, str]:
    """tus ``Upload-Metadata``: ``key base64value`` pairs, comma separated."""
    meta: dict[str, str] = {}
    for pair in header.split(","):
        if pair.strip():
            name, _, value = pair.strip().partition(" ")
            try:
                meta[name] = base64.b64decode(value, validate=True).decode() if value else ""
            except (binascii.Error, UnicodeDecodeError):
                raise Refused(400, f"bad Upload-Metadata value for {name[:32]}") from None
    return meta


def _errors(api: FastAPI) -> None:
    """Every refusal as JSON ``{"error": ...}`` (the kiosk reads it); no input is echoed."""

    @api.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> JSONResponse:
        return JSONResponse(exc.body, status_code=exc.status)

    @api.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        if first.get("type") == "json_invalid":
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        message = f"bad request: {where}: {first.get('msg', 'invalid')}"
        return JSONResponse({"error": message}, status_code=400)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @api.exception_handler(OperationalError)
    async def database_down(request: Request, exc: OperationalError) -> JSONResponse:
        log.error("central store unavailable: %s", type(exc.orig).__name__)
        return JSONResponse(
            {"error": "store unavailable"}, status_code=503, headers={"Retry-After": "5"}
        )


@dataclass
class Gateway:
    """The whole gateway as one ASGI application: the guard around the API, with the store
    and the fault switch it uses."""

    store: CentralStore
    faults: Faults
    secrets: Mapping[str, bytes]
    limits: Limits

    def __post_init__(self) -> None:
        self.api = build_api()
        self.guard = Guard(
            self.api,
            context={"store": self.store, "faults": self.faults},
            routes=lambda: self.api.router.routes,
            policies=POLICIES,
            secrets=lambda: self.secrets,
            faults=self.faults,
            count_fault=lambda: self.store.bump("faults"),
            limits=self.limits,
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.guard(scope, receive, send)


def routes(api: FastAPI | None = None) -> tuple[tuple[str, str], ...]:
    """(method, path template) of every route: what the OpenAPI document must list."""
    from fastapi.routing import APIRoute

    found: list[tuple[str, str]] = []
    for route in (api or build_api()).routes:
        if isinstance(route, APIRoute):
            found.extend((m, route.path_format) for m in sorted(route.methods or ()))
    return tuple(found)
