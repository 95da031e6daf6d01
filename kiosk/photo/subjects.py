"""Scripted photo subjects made from a real photograph: the person cut out (GrabCut seeded
from the face landmarks), placed on a plain light background and framed like the kiosk
camera, then moved the way citizens do (too far away, head tilted).

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


@dataclass(frozen=True)
class Clean:
    name: str
    frame: Image
    person: npt.NDArray[np.bool_]  # person mask in the frame
    face: FaceLandmarks


def _person_mask(photo: Image, face: FaceLandmarks, engine: PhotoEngine) -> npt.NDArray[np.uint8]:
    geo = head_geometry(face, engine.spec)
    h, w = photo.shape[:2]
    # GrabCut: face oval is certain foreground, a wide head-and-shoulders box is the search area.
    mask = np.full((h, w), cv2.GC_BGD, np.uint8)
    head = geo.head_height
    x0 = int(max(0, geo.eye_mid[0] - 1.4 * head))
    x1 = int(min(w, geo.eye_mid[0] + 1.4 * head))
    y0 = int(max(0, geo.crown_y - 0.25 * head))
    mask[y0:h, x0:x1] = cv2.GC_PR_BGD
    centre = (round(geo.eye_mid[0]), round((geo.crown_y + geo.chin_y) / 2))
    cv2.ellipse(mask, centre, (round(0.5 * head), round(0.6 * head)), 0, 0, 360,
                cv2.GC_PR_FGD, -1)  # fmt: skip
    mask[
        int(geo.chin_y + 0.4 * head) :,
        int(geo.eye_mid[0] - 0.7 * head) : int(geo.eye_mid[0] + 0.7 * head),
    ] = cv2.GC_PR_FGD
    hull = cv2.convexHull(face.points[list(FACE_OVAL), :2].astype(np.int32))
    cv2.fillConvexPoly(mask, hull, cv2.GC_FGD)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(photo, mask, (0, 0, 0, 0), bgd, fgd, 4, cv2.GC_INIT_WITH_MASK)  # rect unused
    person = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8)
    # Keep only a head-and-shoulders silhouette: GrabCut alone keeps scenery touching the hair.
    allowed = np.zeros((h, w), np.uint8)
    cv2.ellipse(allowed, centre, (round(0.38 * head), round(0.6 * head)), 0, 0, 360, 1, -1)
    allowed[
        int(geo.chin_y + 0.15 * head) :,
        int(geo.eye_mid[0] - 0.75 * head) : int(geo.eye_mid[0] + 0.75 * head),
    ] = 1
    allowed[
        int(geo.chin_y - 0.1 * head) :,
        int(geo.eye_mid[0] - 0.25 * head) : int(geo.eye_mid[0] + 0.25 * head),
    ] = 1
    opened = cv2.morphologyEx(person & allowed, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    return np.asarray(opened, np.uint8)


def make_clean(name: str, photo: Image, engine: PhotoEngine) -> Clean:
    """A compliant kiosk frame of the person in ``photo`` (raises if no face is found)."""
    found = engine.analyse(photo, full=True)
    if found.landmarks is None:
        raise ValueError(f"no face in {name}")
    geo = head_geometry(found.landmarks, engine.spec)
    person = _person_mask(photo, found.landmarks, engine)
    # Frame like the kiosk camera: scale so the head is HEAD_OF_FRAME of the height.
    k = HEAD_OF_FRAME * FRAME_H / geo.head_height
    mat = np.array([[k, 0, FRAME_W / 2 - k * geo.eye_mid[0]],
                    [0, k, EYE_Y_OF_FRAME * FRAME_H - k * geo.eye_mid[1]]])  # fmt: skip
    flags = cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC
    src = cv2.warpAffine(photo, mat, (FRAME_W, FRAME_H), flags=flags,
                         borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    alpha = cv2.warpAffine(person.astype(np.float32), mat, (FRAME_W, FRAME_H),
                           flags=cv2.INTER_LINEAR)  # fmt: skip
    alpha = cv2.GaussianBlur(alpha, (3, 3), 0)[..., None]
    frame = (src * alpha + np.array(WHITE, np.float32) * (1 - alpha)).astype(np.uint8)
    fresh = engine.analyse(frame, full=True)
    if fresh.landmarks is None:
        raise ValueError(f"no face left after framing {name}")
    return Clean(name, frame, alpha[..., 0] > 0.5, fresh.landmarks)


def affine(c: Clean, mat: npt.NDArray[Any]) -> Image:
    return np.asarray(cv2.warpAffine(c.frame, mat, (FRAME_W, FRAME_H), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=WHITE),
                      np.uint8)  # fmt: skip


def eye_mid(c: Clean) -> tuple[float, float]:
    mid = (c.face.eye_a + c.face.eye_b) / 2
    return float(mid[0]), float(mid[1])


def too_far(c: Clean) -> Image:
    """The citizen stands too far from the camera."""
    return affine(c, cv2.getRotationMatrix2D(eye_mid(c), 0.0, 0.55))


def tilted(c: Clean) -> Image:
    """The citizen's head is turned to one side (tilted)."""
    return affine(c, cv2.getRotationMatrix2D(eye_mid(c), 16.0, 1.0))


def demo_scenes(photo: Image, engine: PhotoEngine) -> dict[str, Image]:
    """The scripted citizen's three moments: too far, head turned, compliant."""
    clean = make_clean("subject", photo, engine)
    return {"too_far": too_far(clean), "tilted": tilted(clean), "compliant": clean.frame}


def sample_photo() -> Image | None:
    """A real portrait that ships with an installed package (scikit-image's astronaut,
    public domain), or None when the package is absent (the kiosk bundle)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "astronaut.png"
    image = cv2.imread(str(path))
    return None if image is None else np.asarray(image, np.uint8)
