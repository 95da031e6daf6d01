from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.face import FaceVerifier, Reference
from kiosk.face.clips import Cast, Scenes, scenes
from tests.face.images import face_files

Image = np.ndarray


def read(path: Path) -> Image:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, path
    return np.asarray(image, np.uint8)


@pytest.fixture(scope="session")
def files() -> dict[str, Path]:
    return face_files()


@pytest.fixture(scope="session")
def verifier() -> FaceVerifier:
    return FaceVerifier()


@pytest.fixture(scope="session")
def cast(files: dict[str, Path]) -> Cast:
    """The citizen (Obama: live from one photograph, document from another) and someone else
    (Eileen Collins: a frontal photo; Biden's is turned 15 deg, he would be asked to look
    straight for ever)."""
    names = ("obama", "obama3", "obama", "astronaut")
    live, document, attack, other = (read(files[n]) for n in names)
    return Cast(live, document, attack, other, names)


@pytest.fixture(scope="session")
def scene(cast: Cast, verifier: FaceVerifier) -> Scenes:
    return scenes(cast, verifier.engine)


@pytest.fixture(scope="session")
def reference(verifier: FaceVerifier, scene: Scenes) -> Reference:
    return verifier.reference(scene.document_jpeg, "chip")
