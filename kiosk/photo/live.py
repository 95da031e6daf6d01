"""Live verdicts over several frames: what the coaching screen and the voice act on.

The engine judges one frame. On a live camera one frame is not enough: the mesh's pose jitters
by a degree or two from frame to frame, and a talking citizen closes the mouth between words.
:class:`LiveTracker` keeps the last ``capture.live_window_s`` seconds of per-frame readings
(``Assessment.signals``) and replaces the pose and mouth verdicts with multi-frame ones:

* yaw, pitch, roll: the median over the window (one odd frame does not move it);
* mouth_closed: fails while the lips were apart in at least ``capture.talking_share_min`` of
  the window's frames (talking), not for one stray frame;
* expression: fails while a smile showing teeth was seen in that share of the frames.

Every other measure is the newest frame's. One tracker per live session; Qt-free, no threads.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections import deque
from dataclasses import dataclass

from kiosk.photo.engine import (
    Assessment,
    Measure,
    MouthSignals,
    mouth_measures,
    pose_measures,
)
from kiosk.photo.spec import PhotoSpec

LIVE_MEASURES = ("yaw", "pitch", "roll", "expression", "mouth_closed")


@dataclass(frozen=True)
class _Reading:
    t: float
    yaw: float
    pitch: float
    roll: float
    mouth: MouthSignals
    lips_apart: bool
    smiling: bool


class LiveTracker:
    """Feed each live frame's assessment with its timestamp; get the multi-frame verdict.

    ``update(assessment, t)`` returns a copy of ``assessment`` whose pose, expression and
    mouth measures (and ``pose``) are the window's, so ``compliant``, ``top_instruction()``
    and ``failures`` follow the multi-frame verdict. A frame without a face clears the window.
    Time ``t`` is in seconds on any monotonic origin (the camera frame's timestamp).
    """

    def __init__(self, spec: PhotoSpec) -> None:
        self.spec = spec
        self.window_s = spec.capture.live_window_s.value
        self.share_min = spec.capture.talking_share_min.value
        self._readings: deque[_Reading] = deque()

    def reset(self) -> None:
        """Forget the past frames (a new citizen, or the live screen shown again)."""
        self._readings.clear()

    @property
    def frames(self) -> int:
        """Frames in the current window."""
        return len(self._readings)

    def update(self, assessment: Assessment, t: float) -> Assessment:
        signals = assessment.signals
        if assessment.face_box is None or not signals:
            self.reset()
            return assessment
        reading = self._reading(assessment, t)
        if self._readings and t < self._readings[-1].t:
            self.reset()  # time went backwards: a new clock, start again
        self._readings.append(reading)
        while self._readings and t - self._readings[0].t > self.window_s:
            self._readings.popleft()
        return self._verdict(assessment)

    def _reading(self, assessment: Assessment, t: float) -> _Reading:
        s = assessment.signals
        mouth = MouthSignals(s["mouth_gap"], s["teeth"], s["smile_width"], s["smile_corner"])
        by_name = {x.name: x for x in assessment.measures}
        return _Reading(
            t=t,
            yaw=s["yaw"],
            pitch=s["pitch"],
            roll=s["roll"],
            mouth=mouth,
            lips_apart=not by_name["mouth_closed"].passed,
            smiling=not by_name["expression"].passed,
        )

    def _verdict(self, assessment: Assessment) -> Assessment:
        window = list(self._readings)
        yaw = statistics.median(r.yaw for r in window)
        pitch = statistics.median(r.pitch for r in window)
        roll = statistics.median(r.roll for r in window)
        apart = sum(r.lips_apart for r in window) / len(window)
        smiling = sum(r.smiling for r in window) / len(window)
        # The mouth readings of the median frame stand for the window in the raw values.
        typical = sorted(window, key=lambda r: r.mouth.gap)[len(window) // 2].mouth
        live: dict[str, Measure] = {m.name: m for m in pose_measures(self.spec, yaw, pitch, roll)}
        expression, closed = mouth_measures(self.spec, typical, apart >= self.share_min)
        if smiling >= self.share_min and expression.passed:
            # Seen smiling often enough, though not in the median frame: still a smile.
            newest = [m for m in assessment.measures if m.name == "expression"]
            expression = newest[0] if newest and not newest[0].passed else expression
        elif smiling < self.share_min and not expression.passed:
            expression = dataclasses.replace(
                expression,
                score=50.0,
                passed=True,
                instruction_zh=None,
                instruction_en=None,
                instruction_key=None,
            )
        live["expression"], live["mouth_closed"] = expression, closed
        measures = tuple(live.get(m.name, m) for m in assessment.measures)
        return dataclasses.replace(assessment, measures=measures, pose=(yaw, pitch, roll))
