"""Scripted photo subjects made from a real photograph: the person (head, shoulders and
clothes; GrabCut seeded from the face landmarks) placed in front of the booth's light wall
and framed like the kiosk camera, then moved the way citizens do (too far away, head tilted).

Used by the scripted demo's simulated camera and by the engine's tests; never by the
capture path itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from kiosk.photo.engine import PhotoEngine
from kiosk.photo.geometry import head_geometry
from kiosk.photo.models import FACE_OVAL, FaceLandmarks

Image = npt.NDArray[np.uint8]
FRAME_W, FRAME_H = 640, 480
WHITE = (243, 243, 243)
HEAD_OF_FRAME = 0.47
EYE_Y_OF_FRAME = 0.40
# How much the person's shadow darkens the wall at most (kept faint: the wall must stay plain).
SHADOW_DEPTH = 0.05


@dataclass(frozen=True)
class Clean:
    name: str
    frame: Image
    person: npt.NDArray[np.bool_]  # person mask in the frame
    face: FaceLandmarks


def _person_mask(photo: Image, face: FaceLandmarks, engine: PhotoEngine) -> npt.NDArray[np.uint8]:
    """Head, neck, shoulders and clothes down to the photo's bottom edge (GrabCut seeded from
    the landmarks): a whole person, not a cut-out head."""
    geo = head_geometry(face, engine.spec)
    h, w = photo.shape[:2]
    head = geo.head_height
    cx = geo.eye_mid[0]
    centre = (round(cx), round((geo.crown_y + geo.chin_y) / 2))
    mask = np.full((h, w), cv2.GC_BGD, np.uint8)
    # Search area: the head with its hair, and a torso widening below the chin to the bottom.
    y0 = int(max(0, geo.crown_y - 0.25 * head))
    mask[y0:h, int(max(0, cx - 1.6 * head)) : int(min(w, cx + 1.6 * head))] = cv2.GC_PR_BGD
    cv2.ellipse(mask, centre, (round(0.55 * head), round(0.62 * head)), 0, 0, 360,
                cv2.GC_PR_FGD, -1)  # fmt: skip
    neck = geo.chin_y - 0.05 * head
    collar = geo.chin_y + 0.3 * head
    torso = np.array(
        [[cx - 0.32 * head, neck], [cx + 0.32 * head, neck], [cx + 0.65 * head, collar],
         [cx + 1.5 * head, h], [cx - 1.5 * head, h], [cx - 0.65 * head, collar]],
        np.int32,
    )  # fmt: skip
    cv2.fillPoly(mask, [torso], cv2.GC_PR_FGD)
    # Certain: the face, and the clothes straight below the chin (chest).
    hull = cv2.convexHull(face.points[list(FACE_OVAL), :2].astype(np.int32))
    cv2.fillConvexPoly(mask, hull, cv2.GC_FGD)
    chest_top = int(geo.chin_y + 0.45 * head)
    if chest_top < h:
        mask[chest_top:h, int(max(0, cx - 0.3 * head)) : int(min(w, cx + 0.3 * head))] = cv2.GC_FGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(photo, mask, (0, 0, 0, 0), bgd, fgd, 5, cv2.GC_INIT_WITH_MASK)  # rect unused
    person = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8)
    # Only a person's outline may stay: the head (with hair) and, below the shoulder line, the
    # torso; GrabCut alone keeps scenery that touches the hair or the shoulders.
    allowed = np.zeros((h, w), np.uint8)
    cv2.ellipse(allowed, centre, (round(0.42 * head), round(0.57 * head)), 0, 0, 360, 1, -1)
    cv2.fillPoly(allowed, [torso], 1)
    person &= allowed
    # One body: the component holding the face, holes filled, edges smoothed.
    count, labels = cv2.connectedComponents(person)
    if count > 1:
        face_label = labels[int(min(h - 1, max(0, geo.eye_mid[1]))), int(min(w - 1, max(0, cx)))]
        if face_label > 0:
            person = (labels == face_label).astype(np.uint8)
    contours, _ = cv2.findContours(person, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(person)
    cv2.drawContours(filled, contours, -1, 1, -1)
    k = max(3, round(0.04 * head) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    smooth = cv2.morphologyEx(filled, cv2.MORPH_CLOSE, kernel)
    return np.asarray(cv2.morphologyEx(smooth, cv2.MORPH_OPEN, kernel), np.uint8)


def wall(width: int = FRAME_W, height: int = FRAME_H, seed: int = 3) -> Image:
    """The booth's plain light wall as a camera sees it: a faint top-to-bottom falloff of the
    light and a little large-scale unevenness (a real wall is never one flat colour)."""
    rng = np.random.default_rng(seed)
    falloff = np.linspace(1.0, 0.96, height, dtype=np.float32)[:, None, None]
    blotch = cv2.resize(rng.normal(0.0, 1.0, (6, 8)).astype(np.float32), (width, height),
                        interpolation=cv2.INTER_CUBIC)[..., None]  # fmt: skip
    base = np.array(WHITE, np.float32)[None, None, :] * falloff + 1.2 * blotch
    return np.clip(base, 0, 255).astype(np.uint8)


def make_clean(name: str, photo: Image, engine: PhotoEngine) -> Clean:
    """A kiosk frame of the person in ``photo`` (raises if no face is found): the person,
    clothes to the bottom of the frame, in front of the booth's light wall with a soft shadow."""
    found = engine.analyse(photo, full=True)
    if found.landmarks is None:
        raise ValueError(f"no face in {name}")
    geo = head_geometry(found.landmarks, engine.spec)
    target = HEAD_OF_FRAME * FRAME_H
    if geo.head_height > 1.3 * target:  # GrabCut on a large photo takes seconds: shrink first
        k = target / geo.head_height
        photo = np.asarray(cv2.resize(photo, None, fx=k, fy=k, interpolation=cv2.INTER_AREA))
        found = engine.analyse(photo, full=True)
        if found.landmarks is None:
            raise ValueError(f"no face in {name} once reduced")
        geo = head_geometry(found.landmarks, engine.spec)
    face = found.landmarks
    if face is None:
        raise ValueError(f"no face in {name}")
    person = _person_mask(photo, face, engine)
    photo, person = _continue_body(photo, person, geo.head_height)
    # Frame like the kiosk camera: scale so the head is HEAD_OF_FRAME of the height.
    k = target / geo.head_height
    mat = np.array([[k, 0, FRAME_W / 2 - k * geo.eye_mid[0]],
                    [0, k, EYE_Y_OF_FRAME * FRAME_H - k * geo.eye_mid[1]]])  # fmt: skip
    flags = cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC
    src = cv2.warpAffine(photo, mat, (FRAME_W, FRAME_H), flags=flags,
                         borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    alpha = cv2.warpAffine(person.astype(np.float32), mat, (FRAME_W, FRAME_H),
                           flags=cv2.INTER_LINEAR)  # fmt: skip
    alpha = cv2.GaussianBlur(alpha, (5, 5), 0)
    frame = _on_wall(src, alpha)
    fresh = engine.analyse(frame, full=True)
    if fresh.landmarks is None:
        raise ValueError(f"no face left after framing {name}")
    return Clean(name, frame, alpha > 0.5, fresh.landmarks)


def _on_wall(src: npt.NDArray[Any], alpha: npt.NDArray[Any]) -> Image:
    """The person (``src`` where ``alpha``, 0..1) in front of the booth's wall."""
    backdrop = wall().astype(np.float32)
    # The person's soft shadow on the wall behind, slightly to one side (light from the left).
    shadow = cv2.GaussianBlur(np.roll(alpha, (6, 10), axis=(0, 1)), (0, 0), 14)
    backdrop *= (1.0 - SHADOW_DEPTH * shadow)[..., None]
    a = alpha[..., None]
    return np.asarray(src * a + backdrop * (1 - a), dtype=np.uint8)


def _person_moved(c: Clean, mat: npt.NDArray[Any]) -> Image:
    """The person moved by ``mat`` in front of the unmoved wall (a citizen steps back or
    leans; the booth stays put), the clothes continued to the bottom of the frame."""
    size = (FRAME_W, FRAME_H)
    src = cv2.warpAffine(c.frame, mat, size, flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    # Replicating the mask's bottom row carries the clothes down past the frame's old edge.
    alpha = cv2.warpAffine(c.person.astype(np.float32), mat, size, flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    return _on_wall(src, cv2.GaussianBlur(alpha, (5, 5), 0))


def _continue_body(
    photo: Image, person: npt.NDArray[np.uint8], head: float
) -> tuple[Image, npt.NDArray[np.uint8]]:
    """A photo cut at the chest: repeat its bottom rows downwards so the clothes reach the
    bottom of the kiosk frame. Only when the shoulders are in the photo (a bottom edge of
    clothes at least a head wide): a photo cut at the neck is left as it is."""
    h = photo.shape[0]
    if np.count_nonzero(person[-1]) < 0.8 * head:
        return photo, person
    pad = h
    return (
        np.asarray(cv2.copyMakeBorder(photo, 0, pad, 0, 0, cv2.BORDER_REPLICATE), np.uint8),
        np.asarray(cv2.copyMakeBorder(person, 0, pad, 0, 0, cv2.BORDER_REPLICATE), np.uint8),
    )


def affine(c: Clean, mat: npt.NDArray[Any]) -> Image:
    return np.asarray(cv2.warpAffine(c.frame, mat, (FRAME_W, FRAME_H), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=WHITE),
                      np.uint8)  # fmt: skip


def eye_mid(c: Clean) -> tuple[float, float]:
    mid = (c.face.eye_a + c.face.eye_b) / 2
    return float(mid[0]), float(mid[1])


def too_far(c: Clean) -> Image:
    """The citizen stands too far from the camera: smaller, their clothes still reaching the
    bottom of the frame (scaled about the bottom edge below the eyes, as a camera at head
    height sees a person step back: the body's bottom stays cut by the frame)."""
    x, _ = eye_mid(c)
    return _person_moved(c, cv2.getRotationMatrix2D((x, float(FRAME_H)), 0.0, 0.6))


def tilted(c: Clean) -> Image:
    """The citizen's head is turned to one side (tilted)."""
    return _person_moved(c, cv2.getRotationMatrix2D(eye_mid(c), 16.0, 1.0))


def demo_scenes(photo: Image, engine: PhotoEngine) -> dict[str, Image]:
    """The scripted citizen's three moments: too far, head turned, compliant."""
    clean = make_clean("subject", photo, engine)
    return {"too_far": too_far(clean), "tilted": tilted(clean), "compliant": clean.frame}


def sample_photo() -> Image | None:
    """A real portrait that ships with an installed package: matplotlib's Grace Hopper (US
    Navy photo, public domain; neutral expression, mouth closed, facing the camera, in
    uniform), or None when the package is absent (the kiosk bundle)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    image = cv2.imread(str(folder / "mpl-data" / "sample_data" / "grace_hopper.jpg"))
    return None if image is None else np.asarray(image, np.uint8)
