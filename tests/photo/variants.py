"""Labelled photo variants: a compliant "clean" frame made from a real photo, and defects.

The clean frame composites the person (GrabCut seeded from the face landmarks) onto a plain
white background, framed like the kiosk camera (640x480, head at ~45 % of the height). Each
defect changes one property of the clean frame and names the measure that must catch it.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt

from kiosk.photo.models import EYE_A_CONTOUR, EYE_B_CONTOUR
from kiosk.photo.subjects import (
    FRAME_H,
    FRAME_W,
    WHITE,
    Clean,
    Image,
    make_clean,
    tilted,
    too_far,
)
from kiosk.photo.subjects import affine as _affine
from kiosk.photo.subjects import eye_mid as _eye_mid

# The clean frame and the geometry helpers are the product's scripted-subject code.
__all__ = ["DEFECTS", "FRAME_H", "FRAME_W", "WHITE", "Clean", "Image", "make_clean"]


# ---------------------------------------------------------------- defects


def _ied(c: Clean) -> float:
    return float(np.linalg.norm(c.face.eye_b - c.face.eye_a))


def blur(c: Clean) -> Image:
    sigma = 0.08 * _ied(c)
    return cv2.GaussianBlur(c.frame, (0, 0), sigma)


def motion_blur(c: Clean) -> Image:
    """The citizen moved during the exposure: a horizontal smear of 0.25 IED."""
    length = max(3, round(0.25 * _ied(c)))
    kernel = np.full((1, length), 1.0 / length, np.float32)
    return cv2.filter2D(c.frame, -1, kernel)


def dark(c: Clean) -> Image:
    return cv2.convertScaleAbs(c.frame, alpha=0.25)


def bright(c: Clean) -> Image:
    return cv2.convertScaleAbs(c.frame, alpha=1.3, beta=40)


def roll(c: Clean) -> Image:
    return tilted(c)


def off_centre(c: Clean) -> Image:
    return _affine(c, np.array([[1.0, 0, -0.4 * FRAME_W], [0, 1, 0]]))


def too_small(c: Clean) -> Image:
    return too_far(c)


def too_large(c: Clean) -> Image:
    return _affine(c, cv2.getRotationMatrix2D(_eye_mid(c), 0.0, 1.6))


def cluttered(c: Clean) -> Image:
    rng = np.random.default_rng(7)
    clutter = c.frame.copy()
    for _ in range(60):
        x, y = int(rng.integers(0, FRAME_W)), int(rng.integers(0, FRAME_H))
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        cv2.rectangle(
            clutter,
            (x, y),
            (x + int(rng.integers(10, 60)), y + int(rng.integers(10, 60))),
            colour,
            -1,
        )
    out = c.frame.copy()
    out[~c.person] = clutter[~c.person]
    return out


def coloured_background(c: Clean) -> Image:
    out = c.frame.copy()
    out[~c.person] = (150, 170, 215)  # beige-pink wall
    return out


def wall_shadow(c: Clean) -> Image:
    """The citizen's shadow on the wall: the background darkens towards one side."""
    box = c.face.box
    across = np.clip((np.arange(FRAME_W) - (box.x - box.w)) / (3 * box.w), 0, 1)
    ramp = (0.7 + 0.3 * across).astype(np.float32)[None, :, None]
    out = c.frame.astype(np.float32)
    out[~c.person] = (out * ramp)[~c.person]
    return np.clip(out, 0, 255).astype(np.uint8)


def colour_cast(c: Clean) -> Image:
    out = c.frame.astype(np.float32) * np.array([1.25, 1.05, 0.55], np.float32)  # strong blue-green
    return np.clip(out, 0, 255).astype(np.uint8)


def reflection(
    frame: Image,
    eyes: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
    ied: float,
    *,
    offset: tuple[float, float] = (0.18, -0.12),
    size: tuple[float, float] = (0.16, 0.07),
    angle: float = -20.0,
    strength: float = 0.95,
    lenses: tuple[int, ...] = (0, 1),
) -> Image:
    """A light's reflection on spectacle lenses: a soft-edged, nearly white patch (a lamp or a
    window seen in the glass) blended over each chosen lens, offsets and sizes in IEDs."""
    out = frame.astype(np.float32)
    h, w = frame.shape[:2]
    for i in lenses:
        eye = eyes[i]
        dx = offset[0] if i == 0 else -offset[0]  # mirrored on the other lens, like a real pair
        centre = (round(eye[0] + dx * ied), round(eye[1] + offset[1] * ied))
        axes = (max(2, round(size[0] * ied)), max(1, round(size[1] * ied)))
        patch = np.zeros((h, w), np.float32)
        cv2.ellipse(patch, centre, axes, angle if i == 0 else -angle, 0, 360, 1.0, -1)
        patch = cv2.GaussianBlur(patch, (0, 0), max(0.8, 0.02 * ied))
        alpha = np.clip(patch * strength * 1.2, 0, strength)[..., None]
        out = out * (1 - alpha) + np.array([255.0, 252.0, 250.0], np.float32) * alpha
    return np.clip(out, 0, 255).astype(np.uint8)


LAMP_SHAPES = ("softbox", "window", "ring", "dots", "strip", "bulb")


def _lamp_pattern(
    shape: str, size: tuple[int, int], centre: tuple[int, int], angle: float, h: int, w: int
) -> npt.NDArray[np.float32]:
    """The lamp's image in one lens, 0..1: what the glass mirrors, drawn at ``centre``."""
    ax, ay = size
    out = np.zeros((h, w), np.float32)
    if shape == "bulb":  # a bare bulb: bright core, wide halo
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        d2 = ((xx - centre[0]) / ax) ** 2 + ((yy - centre[1]) / ay) ** 2
        return np.clip(1.6 * np.exp(-d2), 0.0, 1.0).astype(np.float32)
    box = cv2.boxPoints(((float(centre[0]), float(centre[1])), (2.0 * ax, 2.0 * ay), angle))
    if shape in {"softbox", "window"}:
        cv2.fillConvexPoly(out, np.round(box).astype(np.int32), 1.0)
        if shape == "window":  # the frame's cross between four panes
            bar = max(1, round(0.18 * min(ax, ay)))
            cross = np.zeros_like(out)
            cv2.line(cross, tuple(np.round((box[0] + box[1]) / 2).astype(int)),
                     tuple(np.round((box[2] + box[3]) / 2).astype(int)), 1.0, bar)  # fmt: skip
            cv2.line(cross, tuple(np.round((box[1] + box[2]) / 2).astype(int)),
                     tuple(np.round((box[3] + box[0]) / 2).astype(int)), 1.0, bar)  # fmt: skip
            out[cross > 0] = 0.0
    elif shape == "strip":  # a long tube light across the lens
        cv2.fillConvexPoly(out, np.round(box).astype(np.int32), 1.0)
    elif shape == "ring":  # a ring light: three quarters of a thick ellipse outline
        thick = max(2, round(0.35 * min(ax, ay)))
        cv2.ellipse(out, centre, (ax, ay), angle, 20, 290, 1.0, thick)
    elif shape == "dots":  # an LED panel: two rows of three round lights
        r = max(2, round(0.4 * min(ax, ay)))
        rad = np.radians(angle)
        u, v = np.array([np.cos(rad), np.sin(rad)]), np.array([-np.sin(rad), np.cos(rad)])
        for i in (-1, 0, 1):
            for j in (-0.5, 0.5):
                p = np.array(centre, np.float64) + i * 0.7 * ax * u + j * 1.2 * ay * v
                cv2.circle(out, (round(p[0]), round(p[1])), r, 1.0, -1)
    else:
        raise ValueError(shape)
    return out


def lamp_reflection(
    frame: Image,
    eyes: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
    ied: float,
    *,
    shape: str,
    offset: tuple[float, float] = (0.0, 0.0),
    size: tuple[float, float] = (0.14, 0.08),
    angle: float = 0.0,
    gain: float = 0.9,
    lenses: tuple[int, ...] = (0, 1),
) -> Image:
    """A lamp of the booth mirrored by spectacle lenses, made differently from ``reflection``:
    the light is *added* to what is behind the glass (a reflection brightens, it does not
    paint over), with a shape of its own (LAMP_SHAPES), edges softened by the lens being out
    of focus. Offsets and sizes in IEDs; the right lens sees the lamp mirrored."""
    out = frame.astype(np.float32)
    h, w = frame.shape[:2]
    for i in lenses:
        dx = offset[0] if i == 0 else -offset[0]
        centre = (round(eyes[i][0] + dx * ied), round(eyes[i][1] + offset[1] * ied))
        axes = (max(2, round(size[0] * ied)), max(2, round(size[1] * ied)))
        pattern = _lamp_pattern(shape, axes, centre, angle if i == 0 else -angle, h, w)
        pattern = cv2.GaussianBlur(pattern, (0, 0), max(0.6, 0.012 * ied))
        out += (gain * 255.0) * pattern[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


def glare(c: Clean) -> Image:
    return reflection(c.frame, (c.face.eye_a, c.face.eye_b), _ied(c))


def occluded_eyes(c: Clean) -> Image:
    out = c.frame.copy()
    for contour in (EYE_A_CONTOUR, EYE_B_CONTOUR):
        pts = c.face.points[list(contour), :2].astype(np.int32)
        x, y, w, h = cv2.boundingRect(pts)
        pad = int(0.6 * h) + 2
        cv2.rectangle(out, (x - pad, y - pad), (x + w + pad, y + h + pad), (40, 45, 55), -1)  # hair
    return out


def closed_eyes(c: Clean) -> Image:
    """Paint each eye over with the cheek's skin and draw the closed lid line."""
    out = c.frame.copy()
    ied = _ied(c)
    for contour in (EYE_A_CONTOUR, EYE_B_CONTOUR):
        pts = c.face.points[list(contour), :2]
        x, y, w, h = cv2.boundingRect(pts.astype(np.int32))
        below = c.frame[y + h + int(0.15 * ied) : y + h + int(0.25 * ied), x : x + w]
        skin = np.median(below.reshape(-1, 3), axis=0)
        mask = np.zeros(out.shape[:2], np.uint8)
        cv2.fillConvexPoly(mask, cv2.convexHull(pts.astype(np.int32)), 255)
        out[cv2.dilate(mask, np.ones((5, 5), np.uint8)) > 0] = skin
        lower = c.face.points[[*contour[8:], contour[0]], :2].astype(np.int32)
        cv2.polylines(out, [lower], False, (40, 40, 60), 2, cv2.LINE_AA)
    return cv2.GaussianBlur(out, (3, 3), 0)


def averted_gaze(c: Clean) -> Image:
    """Slide each eye's content (iris) a quarter of the eye width sideways, inside the lids."""
    out = c.frame.copy()
    for contour in (EYE_A_CONTOUR, EYE_B_CONTOUR):
        pts = c.face.points[list(contour), :2]
        x, y, w, h = cv2.boundingRect(pts.astype(np.int32))
        x0, y0, x1, y1 = x - 3, y - 3, x + w + 3, y + h + 3
        roi = c.frame[y0:y1, x0:x1]
        inside = np.zeros(roi.shape[:2], np.uint8)
        cv2.fillPoly(inside, [(pts - [x0, y0]).astype(np.int32)], 255)
        shift = round(0.25 * w)
        moved, moved_mask = np.roll(roi, shift, axis=1), np.roll(inside, shift, axis=1)
        new = roi.copy()
        new[inside > 0] = np.percentile(roi[inside > 0].reshape(-1, 3), 90, axis=0)  # sclera
        keep = (inside > 0) & (moved_mask > 0)
        new[keep] = moved[keep]
        out[y0:y1, x0:x1] = new
    return out


def second_face(c: Clean) -> Image:
    out = c.frame.copy()
    box = c.face.box
    x0, y0 = int(box.x - 0.2 * box.w), int(box.y - 0.3 * box.h)
    x1, y1 = int(box.x + 1.2 * box.w), int(box.y + 1.2 * box.h)
    face = c.frame[max(0, y0) : y1, max(0, x0) : x1]
    small = cv2.resize(
        face, (face.shape[1] * 6 // 10, face.shape[0] * 6 // 10), interpolation=cv2.INTER_AREA
    )
    out[FRAME_H - small.shape[0] :, FRAME_W - small.shape[1] :] = small
    return out


def side_light(c: Clean) -> Image:
    box = c.face.box
    ramp = np.clip((np.arange(FRAME_W) - box.x) / max(box.w, 1.0), 0, 1)
    gain = (1.0 - 0.72 * ramp).astype(np.float32)[None, :, None]
    out = c.frame.astype(np.float32)
    out[c.person] = (out * gain)[c.person]
    return np.clip(out, 0, 255).astype(np.uint8)


# measure that must fail -> defect maker
DEFECTS: dict[str, tuple[str, Callable[[Clean], Image]]] = {
    "blur": ("sharpness", blur),
    "motion_blur": ("sharpness", motion_blur),
    "dark": ("underexposure", dark),
    "bright": ("overexposure", bright),
    "roll": ("roll", roll),
    "off_centre": ("centring", off_centre),
    "too_small": ("head_size", too_small),
    "too_large": ("head_size", too_large),
    "cluttered": ("background_uniformity", cluttered),
    "coloured_background": ("background_colour", coloured_background),
    "wall_shadow": ("background_uniformity", wall_shadow),
    "colour_cast": ("colour_cast", colour_cast),
    "glare": ("glare", glare),
    "occluded_eyes": ("eye_occlusion", occluded_eyes),
    "closed_eyes": ("eyes_open", closed_eyes),
    "averted_gaze": ("gaze", averted_gaze),
    "second_face": ("face_count", second_face),
    "side_light": ("illumination", side_light),
}
