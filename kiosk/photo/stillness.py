"""Auto-capture helper: "compliant and still for about a second"."""

from __future__ import annotations

import math
from dataclasses import dataclass

from kiosk.photo.models import Box
from kiosk.photo.spec import PhotoSpec


@dataclass
class _Last:
    t: float
    box: Box


class StillnessTracker:
    """Feed face boxes with timestamps; :meth:`update` is True once the face stayed still.

    Movement between consecutive frames is the travel of the box centre plus the change of
    its size, relative to the box width. Time is injected (seconds, any monotonic origin).
    """

    def __init__(self, movement_max: float, hold_s: float) -> None:
        self.movement_max = movement_max
        self.hold_s = hold_s
        self._last: _Last | None = None
        self._still_since: float | None = None

    @classmethod
    def from_spec(cls, spec: PhotoSpec) -> StillnessTracker:
        return cls(spec.capture.still_movement_max.value, spec.capture.still_seconds.value)

    def reset(self) -> None:
        self._last = None
        self._still_since = None

    def update(self, t: float, box: Box | None) -> bool:
        """Record the face box at time ``t`` (None: no face / not compliant, which resets)."""
        if box is None:
            self.reset()
            return False
        last = self._last
        self._last = _Last(t, box)
        if last is None:
            self._still_since = t
            return False
        (x0, y0), (x1, y1) = last.box.centre, box.centre
        width = max(last.box.w, 1e-6)
        moved = (math.hypot(x1 - x0, y1 - y0) + abs(box.w - last.box.w)) / width
        if moved > self.movement_max:
            self._still_since = t
            return False
        if self._still_since is None:
            self._still_since = t
        return t - self._still_since >= self.hold_s

    @property
    def still_for(self) -> float:
        """Seconds the face has been still as of the last update (0 when moving)."""
        if self._last is None or self._still_since is None:
            return 0.0
        return self._last.t - self._still_since
