"""Live verdicts over several frames: what the coaching screen and the voice act on.

The engine judges one frame. On a live camera one frame is not enough: the mesh's pose jitters
by a degree or two from frame to frame, and a talking citizen closes the mouth between words.
:class:`LiveTracker` keeps the last ``capture.live_window_s`` seconds of per-frame readings
(``Assessment.signals``) and replaces the pose and mouth verdicts with multi-frame ones:

* yaw, pitch, roll: the median over the window (one odd frame does not move it);
* mouth_closed: fails while the lips were apart in at least ``capture.talking_share_min`` of
  the window's frames (talking), not for one stray frame;
* expression: fails while a smile showing teeth was seen in that share of the frames;
* eyes_open: the newest frame's eyes, judged against the citizen's own open level as well as
  the spec's floor: a blink half way, a wink or lowered lids read like another person's
  narrow open eyes, but not like this citizen's. The open level is the upper quartile of the
  lid aspect over the last ``capture.eyes_reference_s`` (blinks are a few percent of the
  frames, so they do not pull it down); :meth:`LiveTracker.judge_still` applies the same
  rule to the still captured from the session.

Every other measure is the newest frame's. One tracker per live session; Qt-free; ``update``
from one thread, ``judge_still`` from any.
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
    eyes_measure,
    mouth_measures,
    pose_measures,
)
from kiosk.photo.spec import PhotoSpec

LIVE_MEASURES = ("yaw", "pitch", "roll", "expression", "mouth_closed", "eyes_open")
# The open level is this quantile of the session's lid aspects: above the blinks and the
# moments of looking down, below the odd wide-eyed frame.
OPEN_LEVEL_QUANTILE = 0.75
# Fewer judged frames than this (0.4 s at 25 fps) give no open level: the floor alone applies.
OPEN_LEVEL_MIN_FRAMES = 10


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
        self.reference_s = spec.capture.eyes_reference_s.value
        self._readings: deque[_Reading] = deque()
        self._eyes: deque[tuple[float, float]] = deque()  # (t, lid aspect) of judged frames
        # Replaced whole (never mutated) so judge_still may read it from another thread.
        self._open_level: float | None = None

    def reset(self) -> None:
        """Forget the past frames (a new citizen, or the live screen shown again)."""
        self._readings.clear()
        self._eyes.clear()
        self._open_level = None

    @property
    def open_level(self) -> float | None:
        """The citizen's own open-eye lid aspect in this session, None until enough frames."""
        return self._open_level

    def judge_still(self, assessment: Assessment) -> Assessment:
        """A still captured from this session (analysed with ``full=True``): its eyes judged
        against the citizen's open level too. The still does not join the window."""
        return _with(assessment, self._eyes_verdict(assessment, self._open_level))

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
        self._update_open_level(signals.get("eyes_open"), t)
        return self._verdict(assessment)

    def _update_open_level(self, aspect: float | None, t: float) -> None:
        if aspect is not None:
            self._eyes.append((t, aspect))
        while self._eyes and t - self._eyes[0][0] > self.reference_s:
            self._eyes.popleft()
        if len(self._eyes) < OPEN_LEVEL_MIN_FRAMES:
            self._open_level = None
            return
        levels = sorted(a for _, a in self._eyes)
        self._open_level = levels[round(OPEN_LEVEL_QUANTILE * (len(levels) - 1))]

    def _eyes_verdict(self, assessment: Assessment, open_level: float | None) -> Measure | None:
        if not any(m.name == "eyes_open" for m in assessment.measures):
            return None  # no face: nothing to judge
        return eyes_measure(self.spec, assessment.signals.get("eyes_open"), open_level)

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
        eyes = self._eyes_verdict(assessment, self._open_level)
        if eyes is not None:
            live["eyes_open"] = eyes
        measures = tuple(live.get(m.name, m) for m in assessment.measures)
        return dataclasses.replace(assessment, measures=measures, pose=(yaw, pitch, roll))


def _with(assessment: Assessment, measure: Measure | None) -> Assessment:
    """``assessment`` with ``measure`` in place of the one of the same name."""
    if measure is None:
        return assessment
    measures = tuple(measure if m.name == measure.name else m for m in assessment.measures)
    return dataclasses.replace(assessment, measures=measures)
