"""What the identity step asks of the identity service, and what it hears back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from kiosk.core.calls import PortKey
from kiosk.core.session import Session

ADVICE_EVENT = "identity.advice"  # reply: FaceAdvice, whenever the instruction changes


@dataclass(frozen=True)
class FaceAdvice:
    """What the camera screen shows and says now (the face engine's own words)."""

    zh: str
    en: str
    key: str  # look_at_camera, blink, turn_left, ...
    face: tuple[float, float, float, float] | None = None  # x, y, w, h as parts of the frame


@dataclass(frozen=True)
class FaceVerdict:
    """The outcome of one try. ``record`` is what may be stored with the transaction:
    decision, score, threshold, model version and the document photo's hash - never a
    template or a frame."""

    decision: str  # match | no_match | not_live | timeout | unusable
    reason_key: str = ""  # what to do on the next try (the face engine's key)
    reason_zh: str = ""
    reason_en: str = ""
    record: Mapping[str, object] = field(default_factory=dict)

    @property
    def match(self) -> bool:
        return self.decision == "match"


class IdentityPort(Protocol):
    def verify(self, session: Session | None) -> FaceVerdict:
        """One live try against the document photo the session holds; coaches through
        ``ADVICE_EVENT`` while it runs, and stops early when the step is left."""
        ...


IDENTITY: PortKey[IdentityPort] = PortKey("identity")
