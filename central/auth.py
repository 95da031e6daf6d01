"""Verification of kiosk request signatures (scheme in docs/sync.md, "Request signing"), and
the kiosks' secret files.

Deliberately self-contained: the service shares no code with the kiosk, only the spec. The
check runs in two steps so that nobody can make the gateway read a body for free: the
headers first (a known kiosk, a fresh timestamp, a signature of the right shape), before a
byte of the body is read; then the HMAC over the body."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

MAX_SKEW_S = 300
MIN_SECRET_BYTES = 16  # the kiosk makes 64 hex characters (32 random bytes)
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")


class SecretFileError(ValueError):
    """A kiosk secret file that must not be used (missing, readable by others, too short)."""


def precheck(secrets: Mapping[str, bytes], headers: Mapping[str, str], *, now: float) -> str | None:
    """The kiosk id if the headers could belong to an authentic request, else None."""
    kiosk = headers.get("x-kiosk-id", "")
    stamp = headers.get("x-kiosk-timestamp", "")
    given = headers.get("x-kiosk-signature", "")
    if (
        not secrets.get(kiosk)
        or not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12)
        or abs(now - int(stamp)) > MAX_SKEW_S
        or not _SIGNATURE.match(given)
    ):
        return None
    return kiosk


def verify(
    secrets: Mapping[str, bytes],
    headers: Mapping[str, str],
    *,
    method: str,
    path: str,
    body: bytes,
    now: float,
) -> str | None:
    """Returns the kiosk id if the request is authentic, else None. ``headers`` with
    lower-case names (as ASGI gives them)."""
    kiosk = precheck(secrets, headers, now=now)
    if kiosk is None:
        return None
    stamp = headers["x-kiosk-timestamp"]
    text = f"v1\n{method.upper()}\n{path}\n{stamp}\n{hashlib.sha256(body).hexdigest()}"
    expected = hmac.new(secrets[kiosk], text.encode(), hashlib.sha256).hexdigest()
    return kiosk if hmac.compare_digest(expected, headers["x-kiosk-signature"]) else None


def load_secret_file(path: str | os.PathLike[str]) -> bytes:
    """A kiosk's signing secret from its file: refused if group or others can access it, if
    it belongs to another user, or if it is shorter than ``MIN_SECRET_BYTES`` (an empty
    secret would be an empty HMAC key)."""
    path = Path(path)
    try:
        info = path.stat()
        raw = path.read_bytes()
    except OSError as exc:
        raise SecretFileError(f"cannot read {path}: {exc.strerror}") from exc
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretFileError(
            f"{path} is accessible by group/others (mode {stat.S_IMODE(info.st_mode):o}); "
            "chmod 600 it"
        )
    if info.st_uid != os.geteuid():
        raise SecretFileError(f"{path} belongs to another user")
    secret = raw.strip()
    if len(secret) < MIN_SECRET_BYTES:
        raise SecretFileError(f"{path} holds {len(secret)} bytes; at least {MIN_SECRET_BYTES}")
    return secret


def load_kiosks_file(path: str | os.PathLike[str]) -> dict[str, bytes]:
    """A fleet's secrets in one private file, a line ``KIOSK_ID SECRET`` per kiosk (blank
    lines and ``#`` comments allowed); the same checks as ``load_secret_file`` apply to the
    file and to each secret."""
    path = Path(path)
    load_secret_file(path)  # mode, owner, not empty
    secrets: dict[str, bytes] = {}
    for n, line in enumerate(path.read_text(encoding="ascii").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        kiosk, _, secret = text.partition(" ")
        secret = secret.strip()
        if not kiosk or len(secret) < MIN_SECRET_BYTES:
            raise SecretFileError(f"{path}:{n}: want 'KIOSK_ID SECRET' (secret of 16+ bytes)")
        secrets[kiosk] = secret.encode()
    return secrets
