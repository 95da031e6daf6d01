"""The photo terminal's own screens: the live camera with coaching, and the review."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from kiosk.core.views import View
from kiosk.terminals.photo.ports import Check, LiveCoaching, Reason


@dataclass(frozen=True)
class PhotoLiveView(View):
    screen: ClassVar[str] = "photo_live"
    live: LiveCoaching | None = None
    mode: str = "live"  # live | countdown
    seconds: int = 3  # the countdown's length


@dataclass(frozen=True)
class PhotoReviewView(View):
    """The photo ``index`` as it would be submitted (the screen fetches the picture from the
    photo service) and every requirement."""

    screen: ClassVar[str] = "photo_review"
    index: int = 0
    count: int = 0
    best_shown: bool = False  # the best of several is shown, not the latest
    can_submit: bool = False
    checks: tuple[Check, ...] = ()
    reasons: tuple[Reason, ...] = ()
    missing: bool = False  # nothing to review (the session ended under it)
