"""HTTP to the central system: TLS always verified, signed requests, bounded responses.

A hostile or broken central system can cost one attempt, never the worker: the body is read
with a size cap and an overall deadline (a slow trickle within the per-read timeout is still
cut off), and anything that is not the expected JSON is a retryable ``CentralError``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from offline_queue.auth import signed_headers
from offline_queue.backoff import parse_retry_after
from offline_queue.errors import CentralError, InsecureTransport

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 1024 * 1024


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """Accept https anywhere, plain http only to a loopback address; returns the base URL."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return url.rstrip("/")
    if parts.scheme == "http" and parts.hostname is not None and is_loopback(parts.hostname):
        return url.rstrip("/")
    raise InsecureTransport(
        f"refusing {parts.scheme}://{parts.hostname}: personal data only travels over https "
        "(plain http is allowed to loopback only)"
    )


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise CentralError(
                f"central answered {self.status} with a body that is not JSON",
                code="central.bad_response",
                status=self.status,
            ) from exc


class CentralTransport:
    """One ``requests.Session`` to the central system. Not shared between threads: the sync
    worker and the look-up client each own one."""

    def __init__(
        self,
        base_url: str,
        *,
        kiosk_id: str,
        secret: bytes,
        ca_bundle: str | None = None,
        timeout_s: float = 10.0,
        connect_timeout_s: float = 5.0,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        wall_time: Any = None,
    ) -> None:
        self.base_url = check_url(base_url)
        self.kiosk_id = kiosk_id
        self._secret = secret
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.max_response_bytes = max_response_bytes
        self._wall_time = wall_time or time.time
        self._session = requests.Session()
        # Verification is never switched off; only the trust anchors are configurable.
        self._session.verify = ca_bundle or True
        self._session.trust_env = False

    def close(self) -> None:
        self._session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> Response:
        """Send one signed request; raises ``CentralError`` for transport failures and for
        responses that break the limits. HTTP error statuses are returned, not raised."""
        deadline_s = timeout_s or self.timeout_s
        all_headers = dict(headers or {})
        all_headers.update(
            signed_headers(
                self.kiosk_id,
                self._secret,
                method=method,
                path=path,
                timestamp=int(self._wall_time()),
                body=body,
            )
        )
        start = time.monotonic()
        try:
            resp = self._session.request(
                method,
                self.base_url + path,
                data=body or None,
                headers=all_headers,
                timeout=(self.connect_timeout_s, deadline_s),
                stream=True,
                allow_redirects=False,
            )
        except requests.exceptions.SSLError as exc:
            raise CentralError(f"TLS failure: {exc}", code="central.tls") from exc
        except requests.exceptions.Timeout as exc:
            raise CentralError("central did not answer in time", code="central.timeout") from exc
        except requests.exceptions.RequestException as exc:
            raise CentralError(
                f"cannot reach central: {type(exc).__name__}", code="central.unreachable"
            ) from exc
        try:
            data = self._read_body(resp, start + deadline_s)
        finally:
            resp.close()
        return Response(resp.status_code, resp.headers, data)

    def _read_body(self, resp: requests.Response, deadline: float) -> bytes:
        declared = resp.headers.get("Content-Length")
        if (
            declared
            and declared.isascii()
            and declared.isdigit()
            and int(declared) > self.max_response_bytes
        ):
            raise CentralError(
                f"central response too large ({declared} bytes)", code="central.too_large"
            )
        chunks: list[bytes] = []
        total = 0
        try:
            while True:
                if time.monotonic() > deadline:
                    raise CentralError(
                        "central response too slow (overall deadline)", code="central.timeout"
                    )
                # read1: at most one socket read, so the deadline is checked between trickles.
                chunk = resp.raw.read1(65536)
                if not chunk:
                    break
                total += len(chunk)
                if total > self.max_response_bytes:
                    raise CentralError("central response too large", code="central.too_large")
                chunks.append(chunk)
        except CentralError:
            raise
        except Exception as exc:
            # urllib3 raises several types for resets, timeouts and bad chunking mid-body.
            raise CentralError(
                f"central response broken off: {type(exc).__name__}", code="central.broken"
            ) from exc
        return b"".join(chunks)

    def json_request(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> tuple[int, Any, Response]:
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        all_headers = {"Content-Type": "application/json"} if payload is not None else {}
        all_headers.update(headers or {})
        resp = self.request(method, path, body=body, headers=all_headers, timeout_s=timeout_s)
        return resp.status, (resp.json() if resp.body else None), resp


def raise_for_status(resp: Response) -> None:
    """Turn an error status into a CentralError with the retry classification of docs/sync.md:
    408, 409, 429 and 5xx are retryable; any other 4xx is permanent."""
    if resp.status < 400:
        return
    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
    retryable = resp.status in (408, 409, 429) or resp.status >= 500
    detail = ""
    try:
        parsed = json.loads(resp.body)
        if isinstance(parsed, dict):
            detail = str(parsed.get("error", ""))[:200]
    except ValueError:
        pass
    raise CentralError(
        f"central answered {resp.status} {detail}".strip(),
        code=f"central.http_{resp.status}",
        status=resp.status,
        retryable=retryable,
        retry_after_s=retry_after,
    )
