"""What a running flow remembers between events, typed: never personal data (that lives in
the session), only the flow's own record (choices made, answers received, flags)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

T = TypeVar("T")


@dataclass
class FlowContext:
    """The runner keeps ``language`` and ``in_session`` up to date; a feature keeps its own
    record in a part (``ctx.part(EndorseRecord)``), made fresh on first use and forgotten
    with ``drop_parts`` when the next citizen starts."""

    kiosk_id: str = ""
    terminal: str = ""
    language: str = "zh"
    in_session: bool = False  # a citizen's session (and its personal data) is open
    _parts: dict[type[Any], Any] = field(default_factory=dict, repr=False)

    def part(self, kind: type[T]) -> T:
        """The record of one feature for the current citizen (new when first asked for)."""
        held = self._parts.get(kind)
        if held is None:
            held = self._parts[kind] = kind()
        return cast(T, held)

    def has_part(self, kind: type[Any]) -> bool:
        return kind in self._parts

    def drop_part(self, kind: type[Any]) -> None:
        self._parts.pop(kind, None)

    def drop_parts(self) -> None:
        self._parts.clear()
