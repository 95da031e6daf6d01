"""Texts in Chinese (default) and English, one catalogue per feature.

Each feature declares its own ``Catalogue`` beside its flow; ``kiosk.texts`` merges them, in
one explicit list, into the one the screens look keys up in. A key defined twice is an error
when they are merged; a test checks that every key is used and every key used is defined.
Placeholders use ``str.format`` names.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

LANGUAGES = ("zh", "en")
Pair = tuple[str, str]  # (Chinese, English)


@dataclass(frozen=True)
class Catalogue:
    """The messages of one feature. ``families`` are key prefixes whose last part is chosen
    at run time (``f"endorse.reason.{reason}"``), so the check for unused keys knows them."""

    messages: Mapping[str, Pair]
    families: tuple[str, ...] = field(default=())

    def __contains__(self, key: object) -> bool:
        return key in self.messages

    def __iter__(self) -> Iterator[str]:
        return iter(self.messages)

    def pair(self, key: str) -> Pair | None:
        return self.messages.get(key)

    def text(self, key: str, language: str, **values: object) -> str:
        """The text for ``key`` in ``language`` (Chinese for any other; the key itself if
        unknown, so a missing text shows what is missing instead of nothing)."""
        pair = self.messages.get(key)
        if pair is None:
            return key
        template = pair[1] if language == "en" else pair[0]
        return template.format(**values) if values else template


class DuplicateMessage(ValueError):
    pass


def merge(*catalogues: Catalogue) -> Catalogue:
    """One catalogue of several; a key in two of them is a bug."""
    messages: dict[str, Pair] = {}
    families: list[str] = []
    for catalogue in catalogues:
        for key, pair in catalogue.messages.items():
            if key in messages:
                raise DuplicateMessage(f"message {key!r} is defined twice")
            messages[key] = pair
        families += catalogue.families
    return Catalogue(messages, tuple(families))
