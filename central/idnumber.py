"""Resident ID numbers (GB 11643-1999): 17 digits + ISO 7064 MOD 11-2 check character."""

from __future__ import annotations

import re

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_FORMAT = re.compile(r"^\d{17}[\dX]$")


def check_char(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def is_valid(number: str) -> bool:
    return bool(_FORMAT.match(number)) and check_char(number[:17]) == number[17]


def mask(number: str) -> str:
    return number[:3] + "*" * max(0, len(number) - 7) + number[-4:]
