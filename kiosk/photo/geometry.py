"""Head geometry from landmarks and the spec crop that the output photo will use."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from kiosk.photo.models import CHIN, FaceLandmarks, Image
from kiosk.photo.spec import PhotoSpec


@dataclass(frozen=True)
class HeadGeometry:
    """Frame-pixel head measurements derived from landmarks."""

    eye_mid: tuple[float, float]
    ied: float  # distance between the eye centres
    eye_chin: float  # eye midpoint to chin
    crown_y: float
    chin_y: float

    @property
    def head_height(self) -> float:
        return self.chin_y - self.crown_y


def head_geometry(face: FaceLandmarks, spec: PhotoSpec, frame: Image | None = None) -> HeadGeometry:
    """Eyes, chin and crown. The crown is the canon estimate (``crown_factor``), raised to
    the top of the hair when ``frame`` shows it against a plain, allowed background."""
    a, b = face.eye_a, face.eye_b
    mid = (a + b) / 2
    chin = face.point(CHIN)
    eye_chin = float(np.linalg.norm(chin - mid))
    ied = float(np.linalg.norm(b - a))
    crown_y = float(mid[1]) - eye_chin * spec.geometry.crown_factor.value
    if frame is not None:
        found = _hair_top(frame, (float(mid[0]), float(mid[1])), ied, eye_chin, spec)
        if found is not None:
            crown_y = min(crown_y, found)  # only raises: white hair on a white wall reads low
    return HeadGeometry(
        eye_mid=(float(mid[0]), float(mid[1])),
        ied=ied,
        eye_chin=eye_chin,
        crown_y=crown_y,
        chin_y=float(mid[1]) + eye_chin,
    )


# Hair-top search: a strip this many IEDs wide above the eyes, up to this many eye-chin
# distances; rows must match the wall for this many rows in a row.
_STRIP_HALF_WIDTH = 0.25
_SEARCH_UP = 2.2
_WALL_ROWS = 3


def _hair_top(
    frame: Image, eye_mid: tuple[float, float], ied: float, eye_chin: float, spec: PhotoSpec
) -> float | None:
    """Row where the head ends against the wall above the eyes, or None if not seen."""
    b = spec.background
    width = frame.shape[1]
    x0 = max(0, round(eye_mid[0] - _STRIP_HALF_WIDTH * ied))
    x1 = min(width, round(eye_mid[0] + _STRIP_HALF_WIDTH * ied) + 1)
    top = max(0, round(eye_mid[1] - _SEARCH_UP * eye_chin))
    bottom = max(0, round(eye_mid[1]))
    if x1 - x0 < 2 or bottom - top < _WALL_ROWS + 1:
        return None
    strip = cv2.cvtColor(np.ascontiguousarray(frame[top:bottom, x0:x1]), cv2.COLOR_BGR2Lab)
    rows = strip.astype(np.float32).mean(axis=1)
    lab = np.column_stack([rows[:, 0] * 100.0 / 255.0, rows[:, 1] - 128.0, rows[:, 2] - 128.0])
    targets = np.array(
        [[c.l.value, c.a.value, c.b.value] for n, c in b.colours.items() if n in b.allowed]
    )
    distance = np.linalg.norm(lab[:, None, :] - targets[None, :, :], axis=2).min(axis=1)
    wall = distance <= b.colour_distance_max.value
    # Scan upwards from the eyes: the first run of wall rows ends the head.
    run = 0
    for i in range(len(wall) - 1, -1, -1):
        run = run + 1 if wall[i] else 0
        if run >= _WALL_ROWS:
            return float(top + i + _WALL_ROWS)
    return None


@dataclass(frozen=True)
class CropPlan:
    """Axis-aligned crop of the frame that maps onto the output photo."""

    x: float
    y: float
    w: float
    h: float
    scale: float  # output pixels per frame pixel
    fits: bool
    # Instruction keys that would make the crop fit (empty when it fits).
    fixes: tuple[str, ...]
    overflow: float  # largest overflow past a frame edge, as a share of the crop size


# Candidate scales tried between the target and the largest allowed one: enlarging the face
# shrinks the crop, which is how a face near the frame edge can still be framed.
_SCALE_STEPS = 8


def _interval(lo: float, hi: float) -> tuple[float, float] | None:
    return (lo, hi) if lo <= hi else None


def plan_crop(geo: HeadGeometry, spec: PhotoSpec, frame_w: int, frame_h: int) -> CropPlan:
    g, o = spec.geometry, spec.output
    out_w, out_h = o.width.value, o.height.value
    ied, head = max(geo.ied, 1e-6), max(geo.head_height, 1e-6)  # degenerate landmarks
    s_target = g.head_target.value * out_h / head
    lo = max(g.ied_min.value * out_w / ied, g.head_min.value * out_h / head)
    hi = min(g.ied_max.value * out_w / ied, g.head_max.value * out_h / head)
    if lo > hi:  # head and eye-distance bands disagree: the eye distance is the written rule
        lo, hi = g.ied_min.value * out_w / ied, g.ied_max.value * out_w / ied
    s0 = min(max(s_target, lo), hi)
    ex, ey = geo.eye_mid
    best: CropPlan | None = None
    for i in range(_SCALE_STEPS + 1):
        s = s0 + (hi - s0) * i / _SCALE_STEPS
        cw, ch = out_w / s, out_h / s
        # Horizontal and vertical placements allowed by the eye-position bands.
        xs = _interval(
            max(ex - g.eye_x_max.value * cw, 0.0), min(ex - g.eye_x_min.value * cw, frame_w - cw)
        )
        ys = _interval(
            max(ey - g.eye_y_max.value * ch, 0.0), min(ey - g.eye_y_min.value * ch, frame_h - ch)
        )
        x_pref, y_pref = ex - 0.5 * cw, ey - g.eye_y_target.value * ch
        if xs is not None and ys is not None:
            x = min(max(x_pref, xs[0]), xs[1])
            y = min(max(y_pref, ys[0]), ys[1])
            return CropPlan(x, y, cw, ch, s, True, (), 0.0)
        if best is None:
            best = _overflow_plan(x_pref, y_pref, (cw, ch), s, (frame_w, frame_h))
    assert best is not None
    return best


def _overflow_plan(
    x: float, y: float, size: tuple[float, float], s: float, frame: tuple[int, int]
) -> CropPlan:
    cw, ch = size
    frame_w, frame_h = frame
    fixes: list[str] = []
    over = {
        # The camera faces the citizen: the image's left is the citizen's right, so a crop
        # spilling past the image's left edge means the citizen should move to their left.
        "move_left": -x / cw,
        "move_right": (x + cw - frame_w) / cw,
        "move_down": -y / ch,
        "move_up": (y + ch - frame_h) / ch,
    }
    if cw > frame_w or ch > frame_h:
        fixes.append("back")
    fixes.extend(k for k, v in sorted(over.items(), key=lambda kv: -kv[1]) if v > 0)
    return CropPlan(x, y, cw, ch, s, False, tuple(fixes), max(0.0, *over.values()))
