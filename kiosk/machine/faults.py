"""A device's fault in plain words: drivers report details made for engineers ("paper_out,
offline", "stacker empty", "port /dev/ttyS0 lost"); citizens and staff read what is wrong in
their language, and staff may read the detail after it, in small type.

The detail is free text from many drivers, so it is read by the words it contains, most
specific first; a detail no rule knows still says "fault" (never nothing, never the code).
"""

from __future__ import annotations

import re

from kiosk.machine.texts import TEXTS

# (message key, words that all occur in one part of the detail), most specific first.
_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("fault.paper_low", ("paper", "near")),
    ("fault.paper_out", ("paper", "out")),
    ("fault.paper_out", ("paper", "end")),
    ("fault.cover_open", ("cover",)),
    ("fault.cutter", ("cutter",)),
    ("fault.jam", ("jam",)),
    ("fault.stacker_low", ("stacker", "low")),
    ("fault.stacker_empty", ("stacker", "empty")),
    ("fault.stacker_empty", ("no", "card", "stacker")),
    ("fault.bin_full", ("bin", "full")),
    ("fault.storage_full", ("disk", "full")),
    ("fault.storage_full", ("no", "space")),
    ("fault.no_film", ("film",)),
    ("fault.not_configured", ("not", "configured")),
    ("fault.not_started", ("not", "open")),
    ("fault.not_started", ("closed",)),
    ("fault.missing", ("no", "device")),
    ("fault.missing", ("lost",)),
    ("fault.missing", ("missing",)),
    ("fault.no_reply", ("offline",)),
    ("fault.no_reply", ("timeout",)),
    ("fault.no_reply", ("no", "reply")),
    ("fault.no_reply", ("not", "responding")),
)
# Parts of a detail that describe, not fault: where a card is, what a sensor sees.
_NEUTRAL = ("card present", "no card", "document present", "no document", "card none", "fps")


def _words(part: str) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", part.lower())) - {""}


def fault_keys(detail: str) -> tuple[str, ...]:
    """The plain-words message keys (family ``fault``) of a device's fault detail, each
    once, in the detail's order; a fault no rule names is ``fault.other``."""
    keys: list[str] = []
    for raw in re.split(r"[,;]", detail):
        part = raw.strip()
        if not part or any(n in part.lower() for n in _NEUTRAL) or part.startswith("card "):
            continue
        words = _words(part)
        key = next((k for k, need in _RULES if set(need) <= words), "fault.other")
        if key not in keys:
            keys.append(key)
    return tuple(keys) or ("fault.other",)


def plain_fault(detail: str, language: str) -> str:
    """A device's fault detail as plain words in ``language`` ("缺纸、无响应")."""
    joiner = TEXTS.text("fault.join", language)
    return joiner.join(TEXTS.text(key, language) for key in fault_keys(detail))


def device_name(kind: str, language: str) -> str:
    """A part of the machine by name; a kind without a name of its own is "a device"."""
    key = f"device.{kind}"
    return TEXTS.text(key if key in TEXTS else "device.other", language)
