"""Lens reflections and what they must not be mistaken for (and must not cause)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kiosk.photo import PhotoEngine
from kiosk.photo.subjects import Clean
from tests.photo.conftest import read
from tests.photo.variants import DEFECTS, LAMP_SHAPES, lamp_reflection, reflection

# One lamp per shape, over the eye or the upper lens, made by adding light to the glass.
LAMP_PLACES = {
    "softbox": {"offset": (0.05, -0.03), "size": (0.12, 0.08), "angle": 10.0},
    "window": {"offset": (-0.05, -0.08), "size": (0.15, 0.1)},
    "ring": {"offset": (0.0, 0.0), "size": (0.12, 0.09)},
    "dots": {"offset": (0.08, 0.06), "size": (0.14, 0.09), "lenses": (1,)},
    "strip": {"offset": (0.0, -0.1), "size": (0.28, 0.045), "angle": 20.0},
    "bulb": {"offset": (0.1, 0.04), "size": (0.1, 0.08), "lenses": (0,)},
}


def _eyes(clean: Clean) -> tuple[tuple[np.ndarray, np.ndarray], float]:
    face = clean.face
    return (face.eye_a, face.eye_b), float(np.linalg.norm(face.eye_b - face.eye_a))


@pytest.mark.parametrize("shape", LAMP_SHAPES)
@pytest.mark.parametrize("source", ["grace_hopper", "astronaut"])
def test_every_lamp_shape_is_glare(
    shape: str, source: str, cleans: dict[str, Clean], engine: PhotoEngine
) -> None:
    eyes, ied = _eyes(cleans[source])
    frame = lamp_reflection(cleans[source].frame, eyes, ied, shape=shape, **LAMP_PLACES[shape])
    assessment = engine.analyse(frame, full=True)
    glare = assessment.measure("glare")
    assert not glare.passed, (shape, glare.raw)
    assert glare.instruction_en == engine.spec.instruction("glare").en
    assert not assessment.compliant


def test_reflection_over_an_open_eye_is_glare_not_closed_eyes(
    cleans: dict[str, Clean], engine: PhotoEngine
) -> None:
    # A window mirrored over both eyes of a wide-eyed citizen: the iris network reads the
    # white patch as a lowered lid. The citizen must hear about the glasses, not the eyes.
    clean = cleans["astronaut"]
    eyes, ied = _eyes(clean)
    frame = reflection(clean.frame, eyes, ied, offset=(0.0, -0.02), size=(0.2, 0.12))
    assessment = engine.analyse(frame, full=True)
    assert not assessment.measure("glare").passed
    assert assessment.measure("eyes_open").passed
    assert {m.name for m in assessment.failures if m.hard} <= {"glare", "expression",
                                                                "mouth_closed"}  # fmt: skip


def test_bright_skin_and_dark_patches_are_not_glare(
    photos: dict[str, Path], cleans: dict[str, Clean], engine: PhotoEngine
) -> None:
    # A laughing man's brightly lit hand across his brow; hair painted over both eyes (the
    # skin beside it is bright against it); the glasses of Grace Hopper and Takeo Kanade.
    frames = [
        read(photos["Image_with_alpha"]),
        DEFECTS["occluded_eyes"][1](cleans["astronaut"]),
        read(photos["takeo"]),
        cleans["grace_hopper"].frame,
    ]
    for frame in frames:
        glare = engine.analyse(frame, full=True).measure("glare")
        assert glare.passed, glare.raw


def test_real_blink_fails_eyes_open(photos: dict[str, Path], engine: PhotoEngine) -> None:
    # Frames of a published webcam video: the same man with his eyes open, then shut mid-blink.
    for name, shut in (("webcam_0", False), ("webcam_27", True), ("actress_40", True),
                       ("actress_270", False)):  # fmt: skip
        eyes = engine.analyse(read(photos[name]), full=True).measure("eyes_open")
        assert eyes.passed is not shut, (name, eyes.raw)
        if shut:
            assert eyes.instruction_en == engine.spec.instruction("eyes_open").en
