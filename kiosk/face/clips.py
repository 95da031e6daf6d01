"""Scripted camera clips for the identity check, made from real photographs: a live person
who blinks and turns their head, and the attacks the liveness check must refuse (a still
photo, a printed photo moved about, a phone screen replaying a still), plus document-style
reference photos (the chip's DG2 face, central's application photo).

The frames go to the camera simulator (``devices/simulators/camera.py``: ``play(frames)``)
for demos, and straight to :class:`~kiosk.face.IdentityCheck` in tests. Never used on the
capture path.

How a still photograph is made to move:

* **head turn**: the photo engine's 468 face-mesh points carry a depth; they are rotated
  about a vertical axis behind the face (depth doubled: FaceMesh under-reports it about
  twice, see the photo spec's ``depth_scale``) and the image is warped triangle by triangle
  (piecewise affine, drawn far-to-near so the turned-away side is hidden), with a ring of
  hair points turning along and an outer ring of background points held still;
* **blink**: each upper eyelid slides down to the lower lid, the skin above it stretched
  over the eye (a vertical remap inside the eye box), over six frames (240 ms at 25 fps);
* **breathing sway**: a sub-pixel drift and scale, plus sensor noise on every frame.

Attacks are rendered as flat objects in front of the same scene: a paper print (lower
contrast, white margin) under a sequence of homographies (tilt, turn, roll, shift), and a
phone (bezel, screen with an RGB sub-pixel grid that the camera resamples into moiré, a
glare band).
"""

from __future__ import annotations

import importlib.util
import io
import math
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image as PilImage

from kiosk.photo import FaceLandmarks, PhotoEngine, load_spec
from kiosk.photo import models as m

Image = npt.NDArray[np.uint8]
FRAME_W, FRAME_H = 640, 480
FPS = 25.0
# Framing of the citizen in the kiosk camera: eye midpoint and inter-eye distance.
EYE_X, EYE_Y = 320.0, 205.0
IED_PX = 66.0
# Depth of the head's turning axis behind the nose tip, in inter-eye distances, and the
# factor on FaceMesh depth (it under-reports depth about twice).
PIVOT_BEHIND_NOSE = 1.6
DEPTH_GAIN = 1.5
TURN_DEG = 18.0
BLINK = (0.45, 0.9, 1.0, 1.0, 0.6, 0.2)  # eyelid closure per frame
NOISE = 2.5  # sensor noise, grey levels


@dataclass(frozen=True)
class Clip:
    """A scripted sequence for the camera simulator (``CameraSimulator.play(clip.frames)``)."""

    name: str
    frames: tuple[Image, ...]
    live: bool  # a live person (the check must pass liveness) or an attack (it must not)
    description: str
    fps: float = FPS
    # Frame indices where the scripted person looks straight with open eyes, blinks (eyes
    # shut) and has turned (left = the citizen's left): for tests and timing estimates.
    blinks: tuple[int, ...] = ()
    turned_left: tuple[int, ...] = ()
    turned_right: tuple[int, ...] = ()

    @property
    def seconds(self) -> float:
        return len(self.frames) / self.fps


@dataclass(frozen=True)
class Subject:
    """A person framed like the kiosk camera sees them (eyes level), with their landmarks."""

    name: str
    frame: Image
    face: FaceLandmarks


# ---------------------------------------------------------------- framing


def _engine() -> PhotoEngine:
    return PhotoEngine(load_spec("cn-exit-entry"))


def _landmarks(engine: PhotoEngine, image: Image, name: str) -> FaceLandmarks:
    found = engine.analyse(image, full=True).landmarks
    if found is None:
        raise ValueError(f"no face found in {name}")
    return found


def frame_subject(
    photo: Image, name: str = "subject", engine: PhotoEngine | None = None
) -> Subject:
    """The person in ``photo`` framed 640x480 with level eyes at the kiosk's distance."""
    engine = engine or _engine()
    face = _landmarks(engine, photo, name)
    mid = (face.eye_a + face.eye_b) / 2
    ied = float(np.linalg.norm(face.eye_b - face.eye_a))
    mat = cv2.getRotationMatrix2D((float(mid[0]), float(mid[1])), face.roll_deg, IED_PX / ied)
    mat[0, 2] += EYE_X - mid[0]
    mat[1, 2] += EYE_Y - mid[1]
    flags = cv2.INTER_AREA if ied > IED_PX else cv2.INTER_CUBIC
    # Replicated, not reflected: a mirrored crown above the head reads as a second face.
    frame = np.asarray(
        cv2.warpAffine(photo, mat, (FRAME_W, FRAME_H), flags=flags,
                       borderMode=cv2.BORDER_REPLICATE),
        np.uint8,
    )  # fmt: skip
    return Subject(name, frame, _landmarks(engine, frame, name))


# ---------------------------------------------------------------- head turn


def _triangles(points: npt.NDArray[np.float64], size: tuple[int, int]) -> npt.NDArray[np.int32]:
    """Delaunay triangles of ``points`` as index triples."""
    w, h = size
    subdiv = cv2.Subdiv2D((-w, -h, 3 * w, 3 * h))
    index: dict[tuple[float, float], int] = {}
    for i, (x, y) in enumerate(points.astype(np.float32)):
        key = (float(x), float(y))
        if key not in index:
            index[key] = i
            subdiv.insert(key)
    tris = []
    for t in subdiv.getTriangleList():
        keys = [(float(np.float32(t[k])), float(np.float32(t[k + 1]))) for k in (0, 2, 4)]
        if all(k in index for k in keys):
            tris.append([index[k] for k in keys])
    return np.asarray(tris, np.int32)


def _warp_piecewise(
    image: Image,
    src: npt.NDArray[np.float64],
    dst: npt.NDArray[np.float64],
    tris: npt.NDArray[np.int32],
    depth: npt.NDArray[np.float64],
) -> Image:
    """Warp ``image`` so that points ``src`` land on ``dst`` (piecewise affine, painter's
    order by ``depth``: far triangles first, near ones drawn over them)."""
    h, w = image.shape[:2]
    labels = np.full((h, w), -1, np.int32)
    order = np.argsort(-depth[tris].mean(axis=1))  # larger depth = further away
    mats = np.zeros((len(tris), 2, 3), np.float64)
    for k in order:
        tri = tris[k]
        d = dst[tri].astype(np.float32)
        area = (d[1, 0] - d[0, 0]) * (d[2, 1] - d[0, 1]) - (d[2, 0] - d[0, 0]) * (d[1, 1] - d[0, 1])
        if abs(area) < 1e-3:
            continue
        mats[k] = cv2.getAffineTransform(d, src[tri].astype(np.float32))
        cv2.fillConvexPoly(labels, np.round(d).astype(np.int32), int(k))
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    valid = labels >= 0
    chosen = mats[np.where(valid, labels, 0)]
    map_x = np.where(valid, chosen[..., 0, 0] * xs + chosen[..., 0, 1] * ys + chosen[..., 0, 2], xs)
    map_y = np.where(valid, chosen[..., 1, 0] * xs + chosen[..., 1, 1] * ys + chosen[..., 1, 2], ys)
    return np.asarray(
        cv2.remap(image, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_LINEAR,
                  borderMode=cv2.BORDER_REFLECT),
        np.uint8,
    )  # fmt: skip


class _Turner:
    """Turns the framed subject's head by a yaw angle (+ = the citizen's left)."""

    def __init__(self, subject: Subject) -> None:
        face = subject.face
        pts = face.points.astype(np.float64)
        ied = float(np.linalg.norm(face.eye_b - face.eye_a))
        centre = pts[list(m.FACE_OVAL), :2].mean(axis=0)
        oval = pts[list(m.FACE_OVAL)]
        hair = centre + 1.3 * (oval[:, :2] - centre)
        far = centre + 2.3 * (oval[:, :2] - centre)
        corners = [
            (x, y) for x in (0, FRAME_W / 2, FRAME_W - 1) for y in (0, FRAME_H / 2, FRAME_H - 1)
        ]
        border = np.array([c for c in corners if c != (FRAME_W / 2, FRAME_H / 2)])
        self.src = np.vstack([pts[:, :2], hair, far, border])
        z = pts[:, 2] * DEPTH_GAIN
        # Hair turns with the head at about the depth of the face's outline.
        self.z = np.concatenate([z, oval[:, 2] * DEPTH_GAIN, np.zeros(len(far) + len(border))])
        self.moving = len(pts) + len(hair)
        self.pivot_x = float(centre[0])
        self.pivot_z = float(pts[m.NOSE_TIP, 2] * DEPTH_GAIN + PIVOT_BEHIND_NOSE * ied)
        self.tris = _triangles(self.src, (FRAME_W, FRAME_H))
        self.frame = subject.frame

    def __call__(self, yaw_deg: float, image: Image | None = None) -> Image:
        # Turning to the citizen's left brings the nose towards the image's right (the camera
        # is not mirrored); MediaPipe depth grows away from the camera.
        a = math.radians(yaw_deg)
        dst = self.src.copy()
        depth = self.z.copy()
        x = self.src[: self.moving, 0] - self.pivot_x
        z = self.z[: self.moving] - self.pivot_z
        dst[: self.moving, 0] = self.pivot_x + x * math.cos(a) - z * math.sin(a)
        depth[: self.moving] = self.pivot_z + x * math.sin(a) + z * math.cos(a)
        return _warp_piecewise(self.frame if image is None else image, self.src, dst, self.tris,
                               depth)  # fmt: skip


# ---------------------------------------------------------------- blink


def _lid_curves(face: FaceLandmarks, contour: Sequence[int]) -> tuple[Any, Any, float, float]:
    """Upper and lower lid y as functions of x (eye contours of the mesh, eyes level)."""
    pts = face.points[list(contour), :2]
    corner_a, corner_b = pts[0], pts[8]
    upper = np.vstack([corner_a, pts[1:8], corner_b])
    lower = np.vstack([corner_a, pts[9:16][::-1], corner_b])
    x0, x1 = sorted((float(corner_a[0]), float(corner_b[0])))

    def curve(points: npt.NDArray[np.float64]) -> Any:
        order = np.argsort(points[:, 0])
        xs, ys = points[order, 0], points[order, 1]
        return lambda x: np.interp(x, xs, ys)

    return curve(upper), curve(lower), x0, x1


def _close_eyes(image: Image, face: FaceLandmarks, closure: float) -> Image:
    if closure <= 0:
        return image
    out = image.copy()
    h, w = image.shape[:2]
    for contour in (m.EYE_A_CONTOUR, m.EYE_B_CONTOUR):
        upper, lower, x0, x1 = _lid_curves(face, contour)
        width = x1 - x0
        bx0, bx1 = max(0, int(x0 - 0.15 * width)), min(w, int(x1 + 0.15 * width) + 1)
        xs = np.arange(bx0, bx1, dtype=np.float64)
        u, lo = upper(np.clip(xs, x0, x1)), lower(np.clip(xs, x0, x1))
        lo = np.maximum(lo, u)
        top = u - 0.6 * width
        new_u = u + closure * (lo - u)
        by0, by1 = max(0, int(top.min())), min(h, int(lo.max()) + 2)
        ys = np.arange(by0, by1, dtype=np.float64)[:, None]
        # Target rows above the new lid edge sample the lid skin stretched down; rows between
        # the new edge and the lower lid sample the (shrinking) eye opening.
        above = top + (ys - top) * (u - top) / np.maximum(new_u - top, 1e-3)
        between = u + (ys - new_u) * (lo - u) / np.maximum(lo - new_u, 1e-3)
        src_y = np.where(ys < top, ys, np.where(ys < new_u, above, np.where(ys < lo, between, ys)))
        map_x = np.broadcast_to(xs[None, :], src_y.shape).astype(np.float32)
        patch = cv2.remap(image, map_x, src_y.astype(np.float32), cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)  # fmt: skip
        out[by0:by1, bx0:bx1] = patch
    return out


# ---------------------------------------------------------------- camera effects


class _Camera:
    """Sensor noise and a slight sway, seeded so clips are reproducible."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def sway(self, image: Image, t: float, amount: float = 1.0) -> Image:
        dx = amount * 1.5 * math.sin(2 * math.pi * 0.35 * t)
        dy = amount * 1.0 * math.sin(2 * math.pi * 0.23 * t + 1.0)
        k = 1.0 + amount * 0.006 * math.sin(2 * math.pi * 0.2 * t)
        mat = np.asarray(cv2.getRotationMatrix2D((EYE_X, EYE_Y), 0.0, k), np.float64)
        mat[:, 2] += np.array([dx, dy])
        return np.asarray(cv2.warpAffine(image, mat, (FRAME_W, FRAME_H),
                                         borderMode=cv2.BORDER_REFLECT), np.uint8)  # fmt: skip

    def expose(self, image: Image) -> Image:
        grain = self.rng.normal(0.0, NOISE, image.shape)
        return np.asarray(np.clip(image.astype(np.float64) + grain, 0, 255), np.uint8)


# ---------------------------------------------------------------- the live person


def _ramp(n: int) -> Iterator[float]:
    for i in range(n):
        yield 0.5 - 0.5 * math.cos(math.pi * (i + 1) / n)


LIVE_ACTIONS = ("blink", "turn_left", "blink", "turn_right")
# 0.48 s between one move and the next (reading or hearing the prompt). The clip loops and
# does not follow the prompts, so a try may begin anywhere in it: one loop plus a turn must
# fit a challenge's budget (LivenessPolicy.challenge_frames, 6 s), or a try begun just after
# the turn asked for could run out before it comes round again.
REACTION_FRAMES = 12


def live_clip(
    subject: Subject,
    *,
    actions: Sequence[str] = LIVE_ACTIONS,
    reaction_frames: int = REACTION_FRAMES,
    seed: int = 1,
    name: str = "live",
) -> Clip:
    """A live person doing ``actions`` in order ("blink", "turn_left", "turn_right": left is
    the citizen's left), each after ``reaction_frames`` of looking at the camera, then
    looking on for as long again; breathing sway and sensor noise throughout. The default
    (blink, left, blink, right: 4.8 s at 25 fps, looping) answers either challenge order,
    from any point of the loop, within a challenge's budget."""
    cam = _Camera(seed)
    turner = _Turner(subject)
    script: list[tuple[float, float]] = []  # (yaw, eyelid closure) per frame
    blinks: list[int] = []
    turned: dict[str, list[int]] = {"turn_left": [], "turn_right": []}

    def hold(n: int) -> None:
        script.extend((0.0, 0.0) for _ in range(n))

    def blink() -> None:
        for c in BLINK:
            if c >= 1.0:
                blinks.append(len(script))
            script.append((0.0, c))

    def turn(action: str) -> None:
        sign = 1.0 if action == "turn_left" else -1.0
        script.extend((sign * TURN_DEG * r, 0.0) for r in _ramp(8))
        for _ in range(8):
            turned[action].append(len(script))
            script.append((sign * TURN_DEG, 0.0))
        script.extend((sign * TURN_DEG * (1 - r), 0.0) for r in _ramp(8))

    for action in actions:
        hold(reaction_frames)
        if action == "blink":
            blink()
        elif action in turned:
            turn(action)
        else:
            raise ValueError(f"unknown action {action!r}")
    hold(reaction_frames)
    frames = []
    for i, (yaw, closure) in enumerate(script):
        image = turner(yaw) if yaw else subject.frame
        if closure:
            image = _close_eyes(image, subject.face, closure)
        frames.append(cam.expose(cam.sway(image, i / FPS)))
    return Clip(name, tuple(frames), True, f"live person: {', '.join(actions)}",
                blinks=tuple(blinks), turned_left=tuple(turned["turn_left"]),
                turned_right=tuple(turned["turn_right"]))  # fmt: skip


def no_blink_clip(subject: Subject, *, seed: int = 5, frames: int = 100) -> Clip:
    """A live person who looks at the camera but never blinks nor turns (4 s)."""
    cam = _Camera(seed)
    out = tuple(cam.expose(cam.sway(subject.frame, i / FPS)) for i in range(frames))
    return Clip("no_blink", out, True, "live person who does not follow the prompts")


def glare_clip(subject: Subject, *, seed: int = 6, frames: int = 60) -> Clip:
    """A live person whose glasses reflect the booth's light: a specular highlight on each
    lens, above and outside the eye (2.4 s). The check should ask them to take the glasses
    off."""
    cam = _Camera(seed)
    face = subject.face
    ied = float(np.linalg.norm(face.eye_b - face.eye_a))
    lit = subject.frame.copy()
    for eye, side in ((face.eye_a, -1.0), (face.eye_b, 1.0)):
        centre = (round(eye[0] + side * 0.18 * ied), round(eye[1] - 0.14 * ied))
        axes = (round(0.12 * ied), round(0.06 * ied))
        cv2.ellipse(lit, centre, axes, -20 * side, 0, 360, (255, 255, 255), -1)
    lit = np.asarray(cv2.GaussianBlur(lit, (3, 3), 0), np.uint8)
    out = tuple(cam.expose(cam.sway(lit, i / FPS)) for i in range(frames))
    return Clip("glare", out, True, "live person with light reflected in their glasses")


# ---------------------------------------------------------------- attacks


def _scene() -> Image:
    """What the camera sees behind an attacker's print: the booth's plain wall."""
    return np.full((FRAME_H, FRAME_W, 3), (226, 224, 220), np.uint8)


def _print(photo: Image) -> Image:
    """The photo as a paper print: ink lowers the contrast, with a white margin."""
    ink = photo.astype(np.float64) * 0.82 + 22.0
    margin = max(4, photo.shape[1] // 30)
    out = cv2.copyMakeBorder(np.asarray(ink, np.uint8), margin, margin, margin, margin,
                             cv2.BORDER_CONSTANT, value=(238, 238, 236))  # fmt: skip
    return np.asarray(out, np.uint8)


def _pose_card(
    card: Image,
    scene: Image,
    centre: tuple[float, float],
    width: float,
    *,
    tilt: float = 0.0,
    turn: float = 0.0,
    roll: float = 0.0,
) -> Image:
    """Place a flat card in the scene, turned about its axes (degrees), in perspective."""
    h, w = card.shape[:2]
    half = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    k = width / w
    pts3 = np.column_stack([half * k, np.zeros(4)])
    rx, ry, rz = (math.radians(v) for v in (tilt, turn, roll))
    rot_x = np.array([[1, 0, 0], [0, math.cos(rx), -math.sin(rx)], [0, math.sin(rx), math.cos(rx)]])
    rot_y = np.array([[math.cos(ry), 0, math.sin(ry)], [0, 1, 0], [-math.sin(ry), 0, math.cos(ry)]])
    rot_z = np.array([[math.cos(rz), -math.sin(rz), 0], [math.sin(rz), math.cos(rz), 0], [0, 0, 1]])
    world = pts3 @ (rot_z @ rot_y @ rot_x).T
    focal = 700.0  # about a 50-degree lens at 640 px; the card is held ~40 cm away
    distance = focal
    proj = world[:, :2] * focal / (distance + world[:, 2:3]) + np.array(centre)
    mat = cv2.getPerspectiveTransform(
        np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32), proj.astype(np.float32)
    )
    # Linear sampling, as a camera's sensor samples what is in front of it (a screen's
    # sub-pixel grid aliases into moire).
    warped = cv2.warpPerspective(card, mat, (FRAME_W, FRAME_H), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), mat, (FRAME_W, FRAME_H))
    out = scene.copy()
    out[mask > 127] = warped[mask > 127]
    return out


def _card_of(subject: Subject) -> tuple[Image, float]:
    """The subject's head-and-shoulders cut from its frame, and its width in the frame."""
    x0, x1 = int(EYE_X - 2.6 * IED_PX), int(EYE_X + 2.6 * IED_PX)
    y0, y1 = int(EYE_Y - 2.2 * IED_PX), min(FRAME_H, int(EYE_Y + 3.9 * IED_PX))
    return subject.frame[y0:y1, x0:x1].copy(), float(x1 - x0)


def still_photo_clip(subject: Subject, *, seed: int = 2, frames: int = 75) -> Clip:
    """A printed photo held still in front of the camera (3 s)."""
    cam = _Camera(seed)
    card, width = _card_of(subject)
    printed = _print(card)
    scene = _scene()
    still = _pose_card(printed, scene, (EYE_X, FRAME_H / 2 + 18), width * 1.05)
    out = tuple(cam.expose(still) for _ in range(frames))
    return Clip("still_photo", out, False, "a printed photo held still")


def moved_photo_clip(subject: Subject, *, seed: int = 3, frames: int = 150) -> Clip:
    """A printed photo moved about: tilted, turned, rolled and shifted, never blinking (6 s)."""
    cam = _Camera(seed)
    card, width = _card_of(subject)
    printed = _print(card)
    scene = _scene()
    out = []
    for i in range(frames):
        t = i / FPS
        out.append(cam.expose(_pose_card(
            printed, scene,
            (EYE_X + 40 * math.sin(2 * math.pi * 0.21 * t),
             FRAME_H / 2 + 18 + 18 * math.sin(2 * math.pi * 0.33 * t)),
            width * (1.0 + 0.12 * math.sin(2 * math.pi * 0.17 * t)),
            tilt=30 * math.sin(2 * math.pi * 0.45 * t),
            turn=35 * math.sin(2 * math.pi * 0.3 * t + 0.5),
            roll=10 * math.sin(2 * math.pi * 0.25 * t),
        )))  # fmt: skip
    return Clip("moved_photo", tuple(out), False, "a printed photo moved about (no blink)")


def _screen(photo: Image, pixels_across: int) -> Image:
    """A still shown on a phone: resampled to the screen's pixels, each drawn as R, G and B
    sub-pixel stripes (3x wider), brighter and bluer, with a dark bezel."""
    h, w = photo.shape[:2]
    sh = round(pixels_across * h / w)
    small = cv2.resize(photo, (pixels_across, sh), interpolation=cv2.INTER_AREA).astype(np.float64)
    small = np.clip(small * 0.85 + 24.0, 0, 255) * np.array([1.05, 1.0, 0.95])
    stripes = np.zeros((sh * 3, pixels_across * 3, 3), np.float64)
    for channel, offset in ((2, 0), (1, 1), (0, 2)):  # BGR order: red stripe first
        stripes[:, offset::3, channel] = np.repeat(small[:, :, channel], 3, axis=0)
    # Each sub-pixel lights a third of the area; the camera's lens blurs the grid to a faint
    # pattern, which its sensor then resamples into moire.
    screen = np.clip(cv2.GaussianBlur(stripes * 3.0, (0, 0), 1.1), 0, 255).astype(np.uint8)
    bezel = max(6, screen.shape[1] // 20)
    framed = cv2.copyMakeBorder(screen, bezel * 2, bezel * 3, bezel, bezel, cv2.BORDER_CONSTANT,
                                value=(18, 18, 20))  # fmt: skip
    return np.asarray(framed, np.uint8)


def replay_clip(subject: Subject, *, seed: int = 4, frames: int = 100) -> Clip:
    """A phone screen replaying a still of the person, held up and moved a little (4 s)."""
    cam = _Camera(seed)
    card, width = _card_of(subject)
    phone = _screen(card, 260)
    scene = _scene()
    out = []
    for i in range(frames):
        t = i / FPS
        shown = _pose_card(
            phone, scene,
            (EYE_X + 12 * math.sin(2 * math.pi * 0.3 * t),
             FRAME_H / 2 + 10 + 6 * math.sin(2 * math.pi * 0.4 * t)),
            width * 1.12,
            tilt=6 * math.sin(2 * math.pi * 0.35 * t),
            turn=8 * math.sin(2 * math.pi * 0.25 * t),
            roll=3 * math.sin(2 * math.pi * 0.2 * t),
        )  # fmt: skip
        # A glare band from the booth's light across the glass.
        band = np.zeros((FRAME_H, FRAME_W), np.float32)
        x = int(FRAME_W * (0.35 + 0.1 * math.sin(2 * math.pi * 0.2 * t)))
        cv2.line(band, (x, 0), (x + 160, FRAME_H), 1.0, 40)
        band = cv2.GaussianBlur(band, (0, 0), 18)[..., None] * 35.0
        out.append(cam.expose(np.asarray(np.clip(shown + band, 0, 255), np.uint8)))
    return Clip("replay", tuple(out), False, "a phone screen replaying a still photo")


# ---------------------------------------------------------------- reference photos


def document_photo(photo: Image, *, engine: PhotoEngine | None = None,
                   size: tuple[int, int] = (240, 320), fmt: str = "jpeg",
                   quality: int = 60) -> bytes:  # fmt: skip
    """A document-style face from ``photo``: head and shoulders cropped like a passport photo
    (ICAO 9303 proportions), scaled to ``size`` (DG2 faces are often 240x320) and encoded as
    JPEG or JPEG 2000 (``fmt="jpeg2000"``, as some chips store it) at a chip-like size."""
    engine = engine or _engine()
    face = _landmarks(engine, photo, "reference")
    w, h = size
    mid = (face.eye_a + face.eye_b) / 2
    ied = float(np.linalg.norm(face.eye_b - face.eye_a))
    k = 0.27 * w / ied  # ICAO: inter-eye distance about a quarter of the width
    mat = cv2.getRotationMatrix2D((float(mid[0]), float(mid[1])), face.roll_deg, k)
    mat[0, 2] += w / 2 - mid[0]
    mat[1, 2] += 0.42 * h - mid[1]
    crop = cv2.warpAffine(photo, mat, (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
    rgb = PilImage.fromarray(np.ascontiguousarray(crop[:, :, ::-1]))
    buffer = io.BytesIO()
    if fmt == "jpeg2000":
        rgb.save(buffer, "JPEG2000", quality_mode="rates", quality_layers=[24])
    elif fmt == "jpeg":
        rgb.save(buffer, "JPEG", quality=quality)
    else:
        raise ValueError(f"unknown format {fmt}")
    return buffer.getvalue()


# ---------------------------------------------------------------- a cast from installed files


@dataclass(frozen=True)
class Cast:
    """Photos for a scripted identity check: the citizen live, the same person's document
    photo (a different photograph), a photo of them for the attacks, and someone else."""

    live: Image
    document: Image
    attack: Image
    other: Image
    names: tuple[str, str, str, str]


def _package_file(package: str, *parts: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    return path if path.is_file() else None


def _read(path: Path | None) -> Image | None:
    if path is None:
        return None
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if image is None else np.asarray(image, np.uint8)


def sample_cast() -> Cast | None:
    """The best cast available on this machine: two different photographs of one person
    (face-recognition's test images, cached in the venv by ``python -m tests.face.images``)
    and scikit-image's astronaut as the other person; else the astronaut for every role of
    the citizen and matplotlib's Grace Hopper as the other person (her glasses hide the
    scripted blink from the iris network: as "other" she is refused as not live rather than
    as no match); None when neither package is installed."""
    cached = Path(sys.prefix) / "cache" / "photo-test-images" / "test_images"
    astronaut = _read(_package_file("skimage", "data", "astronaut.png"))
    hopper = _read(_package_file("matplotlib", "mpl-data", "sample_data", "grace_hopper.jpg"))
    obama = [_read(cached / f"{n}.jpg") for n in ("obama", "obama3")]
    if astronaut is not None and obama[0] is not None and obama[1] is not None:
        return Cast(obama[0], obama[1], obama[0], astronaut,
                    ("obama", "obama3", "obama", "astronaut"))  # fmt: skip
    if astronaut is None or hopper is None:
        return None
    return Cast(astronaut, astronaut, astronaut, hopper,
                ("astronaut", "astronaut", "astronaut", "grace_hopper"))  # fmt: skip


@dataclass(frozen=True)
class Scenes:
    """Everything a scripted identity check needs: the document photos and the clips."""

    document_jpeg: bytes  # the citizen's DG2-style face (JPEG), a different photograph
    document_jpeg2000: bytes  # the same as JPEG 2000
    other_document: bytes  # someone else's document photo (JPEG)
    live: Clip  # the citizen: blinks and turns both ways
    other: Clip  # someone else, live
    no_blink: Clip  # the citizen, looking but not following the prompts
    glare: Clip  # the citizen with light reflected in their glasses
    still_photo: Clip  # attacks, all showing the citizen's face
    moved_photo: Clip
    replay: Clip


def scenes(cast: Cast | None = None, engine: PhotoEngine | None = None) -> Scenes:
    """Build every clip and document photo from ``cast`` (default :func:`sample_cast`).
    Takes about 10-15 s on 2 cores (the head turns are warped frame by frame)."""
    cast = cast or sample_cast()
    if cast is None:
        raise ValueError("no sample photos installed (scikit-image and matplotlib, dev extra)")
    engine = engine or _engine()
    citizen = frame_subject(cast.live, cast.names[0], engine)
    attack = (
        citizen if cast.attack is cast.live else frame_subject(cast.attack, cast.names[2], engine)
    )
    other = frame_subject(cast.other, cast.names[3], engine)
    return Scenes(
        document_jpeg=document_photo(cast.document, engine=engine),
        document_jpeg2000=document_photo(cast.document, engine=engine, fmt="jpeg2000"),
        other_document=document_photo(cast.other, engine=engine),
        live=live_clip(citizen),
        other=live_clip(other, name="other", seed=7),
        no_blink=no_blink_clip(citizen),
        glare=glare_clip(citizen),
        still_photo=still_photo_clip(attack),
        moved_photo=moved_photo_clip(attack),
        replay=replay_clip(attack),
    )
