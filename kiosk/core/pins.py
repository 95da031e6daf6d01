"""Staff PINs, kept only as salted PBKDF2-SHA256 hashes (``kiosk staff pin-hash`` makes one).

Here, below the configuration, because the configuration refuses a hash it cannot use (and the
demo PIN outside a demo set-up) when it is read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

SCHEME = "pbkdf2-sha256"
ITERATIONS = 600_000  # OWASP 2023 for PBKDF2-SHA256: about 0.15 s here
MIN_ITERATIONS = 100_000  # a weaker hash in the configuration is refused
DEMO_PIN = "2468"  # the sample configurations' PIN: refused outside a demo set-up
PIN_DIGITS = (4, 8)  # shortest and longest PIN accepted
NUMBER_DIGITS = (3, 8)  # shortest and longest staff number (config.StaffMember)


def hash_pin(pin: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """``pbkdf2-sha256$<iterations>$<salt>$<hash>`` (base64) for the configuration."""
    if not (pin.isascii() and pin.isdigit() and PIN_DIGITS[0] <= len(pin) <= PIN_DIGITS[1]):
        raise ValueError(f"a staff PIN is {PIN_DIGITS[0]}-{PIN_DIGITS[1]} digits")
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return "$".join((SCHEME, str(iterations), b64(salt), b64(digest)))


def valid_pin_hash(stored: str) -> bool:
    parts = stored.split("$")
    if len(parts) != 4 or parts[0] != SCHEME or not parts[1].isdigit():
        return False
    if int(parts[1]) < MIN_ITERATIONS:
        return False
    try:
        return len(base64.b64decode(parts[3], validate=True)) == 32 and bool(
            base64.b64decode(parts[2], validate=True)
        )
    except ValueError:
        return False


def verify_pin(pin: str, stored: str) -> bool:
    if not valid_pin_hash(stored):
        return False
    _, iterations, salt, digest = stored.split("$")
    candidate = hashlib.pbkdf2_hmac("sha256", pin.encode(), base64.b64decode(salt), int(iterations))
    return hmac.compare_digest(candidate, base64.b64decode(digest))


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
