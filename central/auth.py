"""Verification of kiosk request signatures (scheme in docs/sync.md, "Request signing").

Deliberately self-contained: the service shares no code with the kiosk, only the spec."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

MAX_SKEW_S = 300


def verify(
    secrets: Mapping[str, bytes],
    headers: Mapping[str, str],
    *,
    method: str,
    path: str,
    body: bytes,
    now: float,
) -> str | None:
    """Returns the kiosk id if the request is authentic, else None."""
    kiosk = headers.get("X-Kiosk-Id", "")
    stamp = headers.get("X-Kiosk-Timestamp", "")
    given = headers.get("X-Kiosk-Signature", "")
    secret = secrets.get(kiosk)
    if (
        secret is None
        or not (stamp.isascii() and stamp.isdigit())
        or abs(now - int(stamp)) > MAX_SKEW_S
    ):
        return None
    text = f"v1\n{method.upper()}\n{path}\n{stamp}\n{hashlib.sha256(body).hexdigest()}"
    expected = hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()
    return kiosk if hmac.compare_digest(expected, given) else None
