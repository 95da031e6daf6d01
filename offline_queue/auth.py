"""Kiosk request signing (HMAC-SHA256), the scheme documented in docs/sync.md.

Signed string, lines joined by ``\\n``::

    v1
    METHOD
    /path?query
    unix timestamp (seconds)
    hex SHA-256 of the body

Headers: ``X-Kiosk-Id``, ``X-Kiosk-Timestamp``, ``X-Kiosk-Signature`` (hex). The central
system rejects timestamps more than 300 s away from its clock.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from offline_queue.crypto import read_private_file

SCHEME = "v1"
HEADER_KIOSK = "X-Kiosk-Id"
HEADER_TIMESTAMP = "X-Kiosk-Timestamp"
HEADER_SIGNATURE = "X-Kiosk-Signature"


def string_to_sign(method: str, path: str, timestamp: int, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((SCHEME, method.upper(), path, str(timestamp), digest)).encode()


def sign(secret: bytes, method: str, path: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, string_to_sign(method, path, timestamp, body), "sha256").hexdigest()


def signed_headers(
    kiosk_id: str, secret: bytes, *, method: str, path: str, timestamp: int, body: bytes
) -> dict[str, str]:
    return {
        HEADER_KIOSK: kiosk_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: sign(secret, method, path, timestamp, body),
    }


def load_or_create_secret(path: str | os.PathLike[str]) -> bytes:
    """The kiosk's signing secret: a private (0600) file of 64 hex characters, created if
    absent; refused if others can read it."""
    return read_private_file(path, lambda: os.urandom(32).hex().encode()).strip()
