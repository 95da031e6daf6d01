"""Appointment numbers: ten digits, the last a Luhn check digit (central makes them so), and
what an appointment's QR code carries."""

from __future__ import annotations

import re

DIGITS = 10
# The QR code of an appointment in the e网通 app: "APPT:" and the number (a bare number is
# taken too: some printed confirmations carry only that).
_QR = re.compile(r"^(?:APPT:)?([0-9]{10})$")


def luhn_digit(digits: str) -> str:
    """The Luhn check digit of ``digits`` (catches any one mistyped digit and most swaps)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def is_appointment_no(value: str) -> bool:
    return (
        len(value) == DIGITS
        and value.isascii()
        and value.isdigit()
        and luhn_digit(value[:-1]) == value[-1]
    )


def from_qr(text: str) -> str | None:
    """The appointment number a QR code carries, or None when it is not an appointment's."""
    match = _QR.match(text.strip())
    if match is None or not is_appointment_no(match.group(1)):
        return None
    return match.group(1)
