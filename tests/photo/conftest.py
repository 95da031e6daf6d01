from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from kiosk.photo import PhotoEngine, PhotoSpec, load_spec
from tests.photo.images import all_images
from tests.photo.variants import Clean, Image, make_clean

CLEAN_SOURCES = ("astronaut", "grace_hopper")


@pytest.fixture(scope="session")
def spec() -> PhotoSpec:
    return load_spec("cn-exit-entry")


@pytest.fixture(scope="session")
def engine(spec: PhotoSpec) -> PhotoEngine:
    return PhotoEngine(spec)


@pytest.fixture(scope="session")
def photos() -> dict[str, Path]:
    return all_images()


def read(path: Path) -> Image:
    frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert frame is not None, path
    return frame


@pytest.fixture(scope="session")
def cleans(photos: dict[str, Path], engine: PhotoEngine) -> dict[str, Clean]:
    return {name: make_clean(name, read(photos[name]), engine) for name in CLEAN_SOURCES}
