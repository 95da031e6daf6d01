"""What the photo flow asks of the photo service, what it gets back, and the live coaching
the service sends while the camera screen shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kiosk.core.calls import PortKey
from kiosk.core.session import Session

LIVE_EVENT = "photo.assessment"  # reply: LiveCoaching, whenever the advice changes
STEADY_EVENT = "photo.steady"  # compliant and still for a moment: the countdown may start


@dataclass(frozen=True)
class Instruction:
    zh: str
    en: str
    measure: str  # the failing measure it comes from (head_size, roll, ...)


@dataclass(frozen=True)
class LiveCoaching:
    """What the live screen needs: the verdict, the one instruction, the face box (0..1 of
    the frame: x, y, w, h)."""

    compliant: bool
    instruction: Instruction | None = None
    face: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class Check:
    """One line of the review screen's checklist."""

    title_zh: str
    title_en: str
    passed: bool
    hard: bool  # a failed hard check keeps the photo from being submitted
    why_zh: str | None = None  # what to do about it, when failed
    why_en: str | None = None


@dataclass(frozen=True)
class Reason:
    """Why a photo cannot be made at all (the crop does not fit, ...)."""

    zh: str
    en: str


@dataclass(frozen=True)
class Review:
    """One photo's checklist for the review screen (the picture stays in the session)."""

    can_submit: bool
    checks: tuple[Check, ...]
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True)
class Captured:
    index: int  # this photo's place among the session's photos
    best: int  # the best photo of the session so far
    count: int
    review: Review


@dataclass(frozen=True)
class Saved:
    photo_number: str
    taken_at: str
    delivery_delayed: bool  # central is not answering: the counter may not find it yet


class PhotoPort(Protocol):
    def capture(self, session: Session | None) -> Captured: ...

    def submit(self, index: int, session: Session | None) -> Saved:
        """Queue photo ``index`` of the session for central, durably."""
        ...


PHOTO: PortKey[PhotoPort] = PortKey("photo")
