"""Staff PINs, kept only as keyed, salted PBKDF2-SHA256 hashes (``kiosk staff pin-hash``
makes one).

A hash alone is worth nothing to someone who copies the configuration: the PIN goes through
HMAC-SHA256 under the machine's staff key (32 random bytes in a 0600 file in the data
directory, never in the configuration) before PBKDF2 stretches it. Without the key, the
guesser cannot test a single candidate offline; with the key too (root on the machine), PBKDF2
still makes each guess cost what the sign-in does. The hash names its key (a short id derived
from it), so a hash made on another machine is told apart from a wrong PIN.

Here, below the configuration, because the configuration refuses a hash it cannot use when
it is read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import os
from dataclasses import dataclass, field
from typing import NamedTuple

SCHEME = "pbkdf2-sha256-keyed"
UNKEYED_SCHEME = "pbkdf2-sha256"  # before the key: refused, with how to make a new one
ITERATIONS = 600_000  # OWASP 2023 for PBKDF2-SHA256: about 0.15 s here
MIN_ITERATIONS = 100_000  # a weaker hash in the configuration is refused
# A stronger one too: the check runs while staff wait at the pad, and a configuration must
# not be able to hang the machine (10^9 iterations is minutes of CPU).
MAX_ITERATIONS = 5_000_000
DEMO_PIN = "246810"  # the sample configurations' PIN: refused outside a demo set-up
PIN_DIGITS = (6, 12)  # shortest and longest PIN accepted
NUMBER_DIGITS = (3, 8)  # shortest and longest staff number (config.StaffMember)
KEY_BYTES = 32
SALT_BYTES = (8, 64)  # a salt read back must be within these
KEY_ID_CHARS = 8


@dataclass(frozen=True)
class StaffKey:
    """The machine's staff key: the secret every PIN hash on this machine is keyed with."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise ValueError(f"a staff key is {KEY_BYTES} bytes")

    @property
    def key_id(self) -> str:
        """A short name of the key for the hashes (derived one way: it tells nothing of it)."""
        mac = hmac.new(self.secret, b"kiosk staff key id", hashlib.sha256)
        return mac.hexdigest()[:KEY_ID_CHARS]

    def stretch(self, pin: str, salt: bytes, iterations: int) -> bytes:
        peppered = hmac.new(self.secret, b"kiosk staff pin\x00" + pin.encode(), hashlib.sha256)
        return hashlib.pbkdf2_hmac("sha256", peppered.digest(), salt, iterations)


def new_staff_key() -> bytes:
    return os.urandom(KEY_BYTES)


class PinHash(NamedTuple):
    key_id: str
    iterations: int
    salt: bytes
    digest: bytes


def pin_problem(pin: str) -> str | None:
    """Why ``pin`` may not be a staff PIN (None: it may). Beyond the length: the first PINs
    anyone at the pad tries (one digit repeated, 121212, a straight run, the published demo
    PIN), which the lockout's few guesses would otherwise reach."""
    lo, hi = PIN_DIGITS
    if not (pin.isascii() and pin.isdigit() and lo <= len(pin) <= hi):
        return f"a staff PIN is {lo}-{hi} digits"
    if len(set(pin)) < 3:
        return "a staff PIN needs at least 3 different digits"
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(pin)}
    if steps in ({1}, {9}):
        return "a staff PIN may not be a run of digits (123456, 987654)"
    if pin == DEMO_PIN:
        return "that is the demo PIN, which is published"
    return None


def hash_pin(
    pin: str,
    key: StaffKey,
    *,
    iterations: int = ITERATIONS,
    salt: bytes | None = None,
    allow_demo: bool = False,
) -> str:
    """``pbkdf2-sha256-keyed$<key id>$<iterations>$<salt>$<hash>`` (base64) for the
    configuration. ``allow_demo``: the demo set-up's own hash of the demo PIN."""
    problem = None if allow_demo and pin == DEMO_PIN else pin_problem(pin)
    if problem is not None:
        raise ValueError(problem)
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"iterations must be {MIN_ITERATIONS}-{MAX_ITERATIONS}")
    salt = salt if salt is not None else os.urandom(16)
    digest = key.stretch(pin, salt, iterations)
    return "$".join((SCHEME, key.key_id, str(iterations), b64(salt), b64(digest)))


def parse_pin_hash(stored: str) -> PinHash | None:
    """The parts of a hash this version can use, or None (see ``pin_hash_problem``)."""
    return None if pin_hash_problem(stored) else _parts(stored)


def pin_hash_problem(stored: str) -> str | None:
    """What is wrong with a configured hash, in words for the person who must fix it."""
    fields = stored.split("$")
    if fields[0] == UNKEYED_SCHEME:
        return (
            "an unkeyed hash from an older version (a copy of the configuration was enough to "
            "guess it): make a new one on this machine with `kiosk staff pin-hash --config FILE`"
        )
    if len(fields) != 5 or fields[0] != SCHEME:
        return "not a hash made by `kiosk staff pin-hash`"
    if not (len(fields[1]) == KEY_ID_CHARS and _is_hex(fields[1])):
        return "its key id is not 8 hex digits"
    if not (fields[2].isascii() and fields[2].isdigit() and len(fields[2]) <= 10):
        return "its iteration count is not a number"
    if not MIN_ITERATIONS <= int(fields[2]) <= MAX_ITERATIONS:
        return f"its iteration count is outside {MIN_ITERATIONS}-{MAX_ITERATIONS}"
    parts = _parts(stored)
    if parts is None:
        return "its salt or digest is not base64"
    if not SALT_BYTES[0] <= len(parts.salt) <= SALT_BYTES[1] or len(parts.digest) != 32:
        return "its salt or digest has the wrong length"
    return None


def valid_pin_hash(stored: str) -> bool:
    return pin_hash_problem(stored) is None


def verify_pin(pin: str, stored: str, key: StaffKey) -> bool:
    """Whether ``pin`` is the one hashed in ``stored`` under ``key`` (False for a hash made
    with another key: it can never match here)."""
    parts = parse_pin_hash(stored)
    if parts is None or parts.key_id != key.key_id or len(pin) > PIN_DIGITS[1]:
        return False
    candidate = key.stretch(pin, parts.salt, parts.iterations)
    return hmac.compare_digest(candidate, parts.digest)


def _parts(stored: str) -> PinHash | None:
    try:
        _, key_id, iterations, salt, digest = stored.split("$")
        return PinHash(
            key_id,
            int(iterations),
            base64.b64decode(salt, validate=True),
            base64.b64decode(digest, validate=True),
        )
    except (ValueError, binascii.Error):
        return None


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
