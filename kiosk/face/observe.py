"""Adapter over the photo engine's public API: one live frame -> what the identity check
needs (the face's landmarks, its size, how it is turned, how open the eyes are, and the
photo engine's own quality verdicts that matter for recognition).

Nothing here changes or reaches into kiosk/photo: it calls ``PhotoEngine.analyse`` and reads
the :class:`~kiosk.photo.Assessment` and :class:`~kiosk.photo.FaceLandmarks` it returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kiosk.photo import Assessment, FaceLandmarks, PhotoEngine
from kiosk.photo import models as m

Points = npt.NDArray[np.float64]

# The photo-engine measures that decide whether a frame is fit for recognition (the others,
# background, head size against the ID-photo crop, mouth, centring, are about ID photos).
QUALITY_MEASURES = ("sharpness", "eyes_open", "eye_occlusion", "glare", "underexposure",
                    "overexposure")  # fmt: skip

# Mesh points used for the planarity (parallax) test: the face oval, eye corners, nose
# bridge and tip, mouth corners and chin. A flat picture moves them by one homography.
SHAPE_POINTS = (*m.FACE_OVAL[::2], m.EYE_A_OUTER, m.EYE_A_INNER, m.EYE_B_OUTER, m.EYE_B_INNER,
                m.NOSE_TIP, 6, 168, 4, m.MOUTH_A, m.MOUTH_B, m.CHIN)  # fmt: skip


@dataclass(frozen=True)
class Observation:
    """One analysed frame. ``face`` is None when no face was found."""

    assessment: Assessment
    face: FaceLandmarks | None
    ied: float = 0.0  # inter-eye distance, pixels
    turn: float = 0.0  # nose offset from the eye midpoint / IED; + = the citizen's left
    roll: float = 0.0  # degrees
    pitch: float = 0.0  # degrees (photo engine, weak)
    openness: float = 0.0  # eyelid gap / eye-mouth distance (invariant to tilting a picture)
    single: bool = True
    failing: tuple[str, ...] = ()  # QUALITY_MEASURES that failed
    quality: float = 0.0  # 0-100 for ranking frames of one session

    @property
    def shape(self) -> Points:
        assert self.face is not None
        return self.face.points[list(SHAPE_POINTS), :2]


def _eyelid_gap(face: FaceLandmarks) -> float:
    """Mean eyelid gap of both eyes in pixels, from the iris network's refined lids."""
    if face.eyelids is None:
        gaps = [
            np.linalg.norm(face.point(u) - face.point(lo))
            for u, lo in (*zip(m.EYE_A_UPPER, m.EYE_A_LOWER, strict=True),
                          *zip(m.EYE_B_UPPER, m.EYE_B_LOWER, strict=True))
        ]  # fmt: skip
        return float(np.mean(gaps))
    return float(
        np.mean(
            [np.linalg.norm(lid[a] - lid[b]) for lid in face.eyelids for a, b in m.EYELID_PAIRS]
        )
    )


def observe(engine: PhotoEngine, frame: npt.NDArray[np.uint8]) -> Observation:
    """Run the photo engine on one live frame and keep what the identity check uses."""
    a = engine.analyse(frame)
    face = a.landmarks
    if face is None:
        return Observation(a, None)
    eyes = (face.eye_a + face.eye_b) / 2
    mouth = (face.point(m.MOUTH_A) + face.point(m.MOUTH_B)) / 2
    ied = max(float(np.linalg.norm(face.eye_b - face.eye_a)), 1e-6)
    # The nose tip stands in front of the eyes: its sideways offset over the eye distance
    # grows with the head's yaw (about 0.6 tan(yaw)) but stays put when a flat picture of a
    # face is turned, so this measure is itself a parallax cue. Nose to the image's right =
    # head turned to the citizen's left (the camera is not mirrored).
    axis = (face.eye_b - face.eye_a) / ied
    turn = float((face.point(m.NOSE_TIP) - eyes) @ axis) / ied
    openness = _eyelid_gap(face) / max(float(np.linalg.norm(mouth - eyes)), 1e-6)
    by_name = {x.name: x for x in a.measures}
    failing = tuple(n for n in QUALITY_MEASURES if n in by_name and not by_name[n].passed)
    single = by_name["face_count"].passed if "face_count" in by_name else True
    scores = [by_name[n].score for n in QUALITY_MEASURES if n in by_name]
    quality = float(np.mean(scores)) if scores else 0.0
    # Prefer frontal, level, larger faces among frames that pass.
    quality -= 100.0 * abs(turn) + 0.5 * abs(face.roll_deg)
    quality += min(ied, 120.0) / 12.0
    pose = a.pose or (0.0, 0.0, face.roll_deg)
    return Observation(a, face, ied, turn, face.roll_deg, pose[1], openness, single, failing,
                       quality)  # fmt: skip
