"""The gateway's front door: an ASGI middleware that decides about a request before the
framework reads a byte of its body.

In order, for every request:

1. the route and its policy (who may call it, how large its body may be, of what type);
   an unknown route is 404;
2. who is calling: loopback-only routes (admin, stats) refuse other addresses (403); kiosk
   routes need signature headers that could be authentic: a known kiosk, a fresh
   timestamp, a signature of the right shape (401);
3. the body's declared length and type against the route's limits (411, 413, 415);
4. fault injection (latency, answers before the work, a connection cut mid-upload);
5. a share of the memory budget for bodies (all requests together), waited for at most the
   read timeout (else 503 with Retry-After);
6. the body, read against a gap timeout and an overall deadline (408);
7. the HMAC over the body (401); then the application, with the kiosk's id in
   ``scope["state"]["kiosk"]`` and the body in ``scope["state"]["body"]``; an injected fault
   may replace its answer.

A refused request whose body is small is read before the answer, so that the client sees
the answer rather than a reset; a large one is answered at once and the connection closed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from central.auth import precheck, verify
from central.faults import AFTER, BEFORE, FaultPlan, Faults

log = logging.getLogger(__name__)

KiB = 1024
MiB = 1024 * KiB


class Access(Enum):
    KIOSK = "kiosk"  # signed by a kiosk (HMAC)
    LOOPBACK = "loopback"  # unsigned, from this machine only (admin, stats)
    OPEN = "open"  # anyone (health)
    # The fleet console's pages and API: no kiosk signature; the console's own routes check
    # the staff session, its CSRF token and the role (central/console/auth.py).
    CONSOLE = "console"


@dataclass(frozen=True)
class Policy:
    access: Access
    max_body: int = 16 * KiB
    body_type: str | None = "application/json"  # None: no body expected


@dataclass(frozen=True)
class Limits:
    """How the gateway protects itself; the defaults suit a fleet of a few thousand kiosks
    per instance."""

    header_timeout_s: float = 10.0  # a connection's request headers must be in by then
    read_timeout_s: float = 15.0  # longest pause while a body arrives
    min_rate_bytes_s: int = 64 * KiB  # a body must arrive at least this fast overall
    # Bodies held in memory at once, all requests together: a largest batch (16 MiB), or
    # sixty of the kiosk's upload chunks (256 KiB); forged requests cannot take more.
    body_budget: int = 16 * MiB
    drain_max: int = 64 * KiB  # a refused request's body up to this is read, not cut off
    max_connections: int = 1000  # per process, idle ones included; past it: 503


@dataclass
class _Budget:
    capacity: int
    used: int = 0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def take(self, n: int, timeout_s: float) -> bool:
        async with self.changed:
            try:
                await asyncio.wait_for(
                    self.changed.wait_for(lambda: self.used + n <= self.capacity), timeout_s
                )
            except TimeoutError:
                return False
            self.used += n
            return True

    async def give(self, n: int) -> None:
        async with self.changed:
            self.used -= n
            self.changed.notify_all()


class _Reply(Exception):
    """Answer now with ``status`` and ``{"error": ...}``; ``close``: drop the connection."""

    def __init__(
        self,
        status: int,
        error: str,
        *,
        headers: Mapping[str, str] | None = None,
        close: bool = False,
        drain: int | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.headers = dict(headers or {})
        self.close = close
        self.drain = drain  # read a body up to this many bytes first (default: drain_max)


class Guard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        context: Mapping[str, Any],
        routes: Callable[[], list[Any]],
        policies: Mapping[tuple[str, str], Policy],
        secrets: Callable[[], Mapping[str, bytes]],
        faults: Faults,
        count_fault: Callable[[], None],
        limits: Limits,
    ) -> None:
        self.app = app
        self.context = context  # put in every request's scope["state"] (store, faults)
        self._routes = routes
        self.policies = policies
        self.secrets = secrets
        self.faults = faults
        self.count_fault = count_fault
        self.limits = limits
        self._budget: _Budget | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            await self._handle(scope, receive, send, headers)
        except _Reply as reply:
            if not reply.close and not scope.get("state", {}).get("body_read"):
                limit = self.limits.drain_max if reply.drain is None else reply.drain
                reply.close = not await self._drain(receive, headers, limit)
            await _answer(send, reply.status, {"error": reply.error}, reply.headers, reply.close)

    # ------------------------------------------------------------------- steps
    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]
    ) -> None:
        method, path = scope["method"], scope["path"]
        policy = self._policy(scope)
        if policy.access is Access.LOOPBACK and not _loopback(scope):
            raise _Reply(403, "only from this machine (loopback)")
        kiosk = ""
        if policy.access is Access.KIOSK:
            kiosk = precheck(self.secrets(), headers, now=time.time()) or ""
            if not kiosk:
                raise _Reply(401, "bad or missing kiosk signature")
        length = self._length(headers, policy)
        if length and policy.body_type is not None:
            declared = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if declared and declared != policy.body_type:
                raise _Reply(415, f"Content-Type must be {policy.body_type}")
            if not declared:
                # Undeclared is taken as the route's type (older kiosks sent none).
                scope["headers"] = [
                    *[(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"],
                    (b"content-type", policy.body_type.encode()),
                ]
        target = _target(scope)
        faultable = policy.access is Access.KIOSK and not self.faults.spared(path)
        if faultable:
            plan = self.faults.plan
            if plan.latency_s:
                await asyncio.sleep(plan.latency_s)
            before = self.faults.pick(path, BEFORE)
            if before is not None:
                await run_in_threadpool(self.count_fault)
                refusal = _before_fault(before, plan)
                # A kiosk must see the injected answer (a 429's Retry-After), not a reset.
                refusal.drain = policy.max_body
                raise refusal
            if method == "PATCH" and await self._upload_cut(scope, receive, headers, length):
                return
        body = await self._body(receive, length)
        scope.setdefault("state", {})["body_read"] = True
        try:
            if policy.access is Access.KIOSK:
                authentic = verify(
                    self.secrets(), headers, method=method, path=target, body=body, now=time.time()
                )
                if authentic != kiosk:
                    raise _Reply(401, "bad or missing kiosk signature")
            state = scope.setdefault("state", {})
            state.update(self.context)
            state["kiosk"] = kiosk
            state["body"] = body
            if faultable:
                await self._run_with_after_fault(scope, send, path)
            else:
                await self.app(scope, _replay(body), send)
        finally:
            if self._budget is not None and length:
                await self._budget.give(length)

    def _policy(self, scope: Scope) -> Policy:
        for route in self._routes():
            if isinstance(route, Route) and route.matches(scope)[0] is Match.FULL:
                policy = self.policies.get((scope["method"], route.path_format))
                if policy is not None:
                    return policy
        raise _Reply(404, "no such route")

    def _length(self, headers: Mapping[str, str], policy: Policy) -> int:
        raw = headers.get("content-length")
        if raw is None:
            if headers.get("transfer-encoding"):
                raise _Reply(411, "Content-Length required", close=True)
            return 0
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 15):
            raise _Reply(400, "bad Content-Length", close=True)
        length = int(raw)
        if length > policy.max_body:
            raise _Reply(413, f"request body too large (at most {policy.max_body})", close=True)
        return length

    async def _body(self, receive: Receive, length: int) -> bytes:
        """Exactly ``length`` bytes, within the budget and the deadlines."""
        if not length:
            return b""
        if self._budget is None:
            self._budget = _Budget(self.limits.body_budget)
        if not await self._budget.take(length, self.limits.read_timeout_s):
            raise _Reply(503, "busy: try again", headers={"Retry-After": "2"}, close=True)
        try:
            return await self._read(receive, length)
        except BaseException:
            await self._budget.give(length)
            raise

    async def _read(self, receive: Receive, length: int, *, keep: bool = True) -> bytes:
        """The body, against the gap timeout and the overall deadline; ``keep`` False reads
        and drops it (a refused request's)."""
        limits = self.limits
        deadline = time.monotonic() + limits.read_timeout_s + length / limits.min_rate_bytes_s
        chunks: list[bytes] = []
        got = 0
        while True:
            left = min(limits.read_timeout_s, deadline - time.monotonic())
            try:
                message = await asyncio.wait_for(receive(), max(left, 0.001))
            except TimeoutError:
                raise _Reply(408, "request body too slow", close=True) from None
            if message["type"] == "http.disconnect":
                raise _Reply(400, "client went away", close=True)
            chunk = message.get("body", b"")
            got += len(chunk)
            if got > length:
                raise _Reply(400, "body longer than Content-Length", close=True)
            if keep:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        if got != length:
            raise _Reply(400, "body shorter than Content-Length", close=True)
        return b"".join(chunks)

    async def _drain(self, receive: Receive, headers: Mapping[str, str], limit: int) -> bool:
        """Read a refused request's body, up to ``limit`` bytes, so the answer reaches the
        client; False if the connection must be closed instead."""
        raw = headers.get("content-length", "0")
        if not (raw.isascii() and raw.isdigit()) or int(raw) > limit:
            return False
        try:
            await self._read(receive, int(raw), keep=False)
        except _Reply:
            return False
        return True

    async def _upload_cut(
        self, scope: Scope, receive: Receive, headers: Mapping[str, str], length: int
    ) -> bool:
        """The ``upload_cut`` fault: read half a PATCH body, then reset the connection."""
        plan = self.faults.plan
        at = headers.get("upload-offset", "")
        if not (at.isascii() and at.isdigit() and int(at) >= plan.upload_cut_offset):
            return False
        if self.faults.pick(scope["path"], ("upload_cut",)) is None:
            return False
        await run_in_threadpool(self.count_fault)
        got = 0
        while got < length // 2:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            got += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
        _reset(scope)
        return True

    async def _run_with_after_fault(self, scope: Scope, send: Send, path: str) -> None:
        """Run the application; if a fault of the "after the work" kind is drawn, its answer
        is held back and the fault goes out instead."""
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, _replay(scope["state"]["body"]), hold)
        mode = self.faults.pick(path, AFTER)
        if mode is None:
            for message in held:
                await send(message)
            return
        await run_in_threadpool(self.count_fault)
        await _after_fault(mode, self.faults.plan, scope, send)


# ------------------------------------------------------------------- answers
async def _answer(
    send: Send, status: int, body: Any, headers: Mapping[str, str], close: bool
) -> None:
    raw = json.dumps(body).encode()
    out = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    out += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if close:
        out.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": raw})


def _before_fault(mode: str, plan: FaultPlan) -> _Reply:
    if mode == "retry_after":
        return _Reply(429, "slow down", headers={"Retry-After": str(plan.retry_after_s)})
    if mode == "status":
        return _Reply(plan.status_code, "refused (injected fault)")
    return _Reply(503, "unavailable (injected fault)")


async def _after_fault(mode: str, plan: FaultPlan, scope: Scope, send: Send) -> None:
    if mode == "reset":
        _reset(scope)
        return
    json_type = (b"content-type", b"application/json")
    closing = (b"connection", b"close")
    if mode in ("bad_json", "wrong_schema"):
        raw = b'{"results": [ {"key": oops' if mode == "bad_json" else b'{"ok": 1}'
        head = [json_type, (b"content-length", str(len(raw)).encode()), closing]
        await send({"type": "http.response.start", "status": 200, "headers": head})
        await send({"type": "http.response.body", "body": raw})
    elif mode == "huge":
        # No Content-Length: the client must cap the body while reading it.
        await send({"type": "http.response.start", "status": 200, "headers": [json_type, closing]})
        await send({"type": "http.response.body", "body": b'{"results": ["', "more_body": True})
        block = b"x" * 65536
        for _ in range(plan.huge_bytes // len(block)):
            if _closed(scope):
                return
            await send({"type": "http.response.body", "body": block, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif mode == "trickle":
        head = [json_type, (b"content-length", str(plan.trickle_bytes).encode()), closing]
        await send({"type": "http.response.start", "status": 200, "headers": head})
        for n in range(plan.trickle_bytes):
            if _closed(scope):
                return  # the client gave up, as it should
            last = n == plan.trickle_bytes - 1
            await send({"type": "http.response.body", "body": b" ", "more_body": not last})
            if not last:
                await asyncio.sleep(plan.trickle_interval_s)


def _reset(scope: Scope) -> None:
    reset: Callable[[], None] | None = scope.get("extensions", {}).get("central.reset")
    if reset is None:
        raise ConnectionAbortedError("reset fault: the server protocol cannot reset")
    reset()


def _closed(scope: Scope) -> bool:
    closed: Callable[[], bool] | None = scope.get("extensions", {}).get("central.closed")
    return bool(closed and closed())


def _replay(body: bytes) -> Receive:
    """The body, once, for the application; then whatever the connection says next."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # nothing more: the request is complete
        return {"type": "http.disconnect"}

    return receive


def _target(scope: Scope) -> str:
    """The path as the kiosk signed it: raw, with the query."""
    raw: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    return (raw + (b"?" + query if query else b"")).decode("latin-1")


def _loopback(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False
