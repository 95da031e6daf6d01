"""Staff sign-in for the fleet console: argon2 password hashes, sessions in secure cookies,
CSRF tokens, lockout after repeated failures (docs/threat-model.md, "Gateway", C1-C8).

- **Passwords**: argon2id (argon2-cffi, its default parameters: RFC 9106's second
  recommendation) - memory-hard, so a copy of the accounts table is slow to guess at. An
  unknown account costs the same hash as a known one, so timing does not tell which exist.
- **Lockout**: ``MAX_FAILURES`` wrong passwords in a row lock the account for
  ``LOCKOUT_S``, each further lockout in a row twice as long up to ``MAX_LOCKOUT_S``; a
  right password during a lockout is refused like a wrong one.
- **Sessions**: a random 256-bit token in an HttpOnly, SameSite=Strict cookie (Secure over
  https); the store keeps only its SHA-256. Sessions end after ``IDLE_S`` without a request
  or ``MAX_AGE_S`` in all, at sign-out, and when the password changes.
- **CSRF**: every request that changes something carries the session's own token in
  ``X-CSRF-Token`` (the page's JavaScript sends it; another site cannot read it) and, when
  the browser sends ``Origin``, comes from the console's own origin. The sign-in form
  carries a token that must match a cookie set with the form (no sign-in CSRF).
- **Transport**: over plain http the console answers loopback callers only (the demo, a
  tunnel); anything else must come over https.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request

from central.store import CentralStore, Refused

log = logging.getLogger(__name__)

SESSION_COOKIE = "console_session"
LOGIN_COOKIE = "console_login"
CSRF_HEADER = "x-csrf-token"
MAX_FAILURES = 5
LOCKOUT_S = 300.0
MAX_LOCKOUT_S = 3600.0
IDLE_S = 1800.0
MAX_AGE_S = 12 * 3600.0
MIN_PASSWORD = 10
RANK = {"viewer": 0, "operator": 1, "admin": 2}

_hasher = PasswordHasher()
# Verified against when the account does not exist, so both cost one argon2 hash.
_DUMMY = _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password has at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Staff:
    """The signed-in member of staff a request comes from."""

    username: str
    role: str
    csrf: str
    token_hash: str

    def may(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]


class SignIn:
    """The outcome of a sign-in: a session token, or why not (``locked`` says until when)."""

    def __init__(self, token: str = "", locked_until: float = 0.0) -> None:
        self.token = token
        self.locked_until = locked_until


def sign_in(store: CentralStore, username: str, password: str, now: float) -> SignIn:
    """Check the password; open a session on success, count a failure otherwise."""
    user = store.fleet.user(username) if 0 < len(username) <= 64 else None
    if user is None or user["disabled"]:
        _verify(_DUMMY, password)
        store.fleet.audit(
            username[:64] or "-", "sign_in.failed", None, "no such account", "refused"
        )
        return SignIn()
    locked_until = float(user["locked_until"])
    right = _verify(str(user["password_hash"]), password)
    if locked_until > now:
        store.fleet.audit(username, "sign_in.failed", None, "locked", "refused")
        return SignIn(locked_until=locked_until)
    if not right:
        until = store.fleet.sign_in_failed(
            username, max_failures=MAX_FAILURES, lockout_s=LOCKOUT_S, max_lockout_s=MAX_LOCKOUT_S
        )
        return SignIn(locked_until=until)
    token = secrets.token_urlsafe(32)
    store.fleet.open_session(username, token_hash(token), secrets.token_urlsafe(32))
    return SignIn(token=token)


def transport_ok(request: Request) -> bool:
    """https, or plain http from this machine."""
    if request.url.scheme == "https":
        return True
    client = request.client
    try:
        return client is not None and ipaddress.ip_address(client.host).is_loopback
    except ValueError:
        return False


def same_origin(request: Request) -> bool:
    """A browser's ``Origin`` (when it sends one) is the console's own."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin in (f"{request.url.scheme}://{host}",)


def current_staff(request: Request) -> Staff | None:
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token or len(token) > 128 or not transport_ok(request):
        return None
    digest = token_hash(token)
    store: CentralStore = request.scope["state"]["store"]
    found = store.fleet.session(digest, idle_s=IDLE_S, max_age_s=MAX_AGE_S)
    if found is None:
        return None
    return Staff(found["username"], found["role"], found["csrf"], digest)


def _required(request: Request) -> Staff:
    staff = current_staff(request)
    if staff is None:
        raise Refused(401, "sign in first")
    return staff


def _changing(role: str) -> Callable[[Request], Staff]:
    """A dependency: a session of at least ``role``, with its CSRF token and same origin."""

    def check(request: Request) -> Staff:
        staff = _required(request)
        sent = request.headers.get(CSRF_HEADER, "")
        if not (hmac.compare_digest(sent.encode(), staff.csrf.encode()) and same_origin(request)):
            raise Refused(403, "missing or wrong CSRF token")
        if not staff.may(role):
            raise Refused(403, f"needs the {role} role")
        return staff

    return check


Viewer = Annotated[Staff, Depends(_required)]
Operator = Annotated[Staff, Depends(_changing("operator"))]
Admin = Annotated[Staff, Depends(_changing("admin"))]
AnyChanging = Annotated[Staff, Depends(_changing("viewer"))]
