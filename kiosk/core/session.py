"""The citizen's session: the only holder of personal data (ID data, faces, photos).

Personal data lives here and nowhere else in the core, each kind in its own typed ``Slot``
declared where the data is produced, and ``wipe`` destroys it when the session ends for any
reason (done, cancelled, idle timeout, error). Mutable buffers are overwritten before they are
dropped so no copy lingers in this process's memory.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

log = logging.getLogger(__name__)

END_REASONS = ("done", "cancelled", "idle_timeout", "error")

T = TypeVar("T")


@dataclass(frozen=True)
class Slot(Generic[T]):
    """A named place in the session for one kind of personal data (``Slot[IdCardData]``)."""

    name: str


def _scrub(value: Any) -> None:
    """Overwrite mutable containers of personal data in place."""
    if isinstance(value, bytearray | memoryview):
        value[:] = bytes(len(value))
    elif hasattr(value, "fill") and hasattr(value, "dtype"):  # numpy arrays (frames, photos)
        value.fill(0)
    elif isinstance(value, dict):
        for item in value.values():
            _scrub(item)
        value.clear()
    elif isinstance(value, list):
        for item in value:
            _scrub(item)
        value.clear()
    elif hasattr(value, "scrub"):  # a holder of its own buffers (a photo capture)
        value.scrub()


@dataclass
class Session:
    """One citizen at the machine, from the first touch to 'goodbye'."""

    service: str
    started_at: datetime
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    ended_reason: str | None = None
    _personal: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def active(self) -> bool:
        return self.ended_reason is None

    def put(self, slot: Slot[T], value: T) -> None:
        if not self.active:
            raise RuntimeError("session already ended")
        old = self._personal.get(slot.name)
        if old is not None and old is not value:
            _scrub(old)
        self._personal[slot.name] = value

    def get(self, slot: Slot[T]) -> T | None:
        return cast("T | None", self._personal.get(slot.name))

    def has(self, slot: Slot[Any]) -> bool:
        return slot.name in self._personal

    def keys(self) -> list[str]:
        return list(self._personal)

    def wipe(self, reason: str) -> None:
        """End the session and destroy its personal data. Idempotent."""
        if reason not in END_REASONS:
            raise ValueError(f"unknown session end reason {reason!r}")
        if self.ended_reason is None:
            self.ended_reason = reason
        _scrub(self._personal)
        log.info("session %s (%s) ended: %s", self.id[:8], self.service, reason)
