"""Real face photos for the photo tests, taken from published packages (never committed).

* scikit-image ``data/astronaut.png`` (public domain), matplotlib ``grace_hopper.jpg``;
* the face-recognition 1.3.0 source distribution's ``tests/test_images`` (fetched through pip
  into a cache inside the virtual environment, then extracted).

Run ``python -m tests.photo.images`` to prepare the cache (scripts/bootstrap.sh does).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tarfile
from pathlib import Path

FACE_RECOGNITION = "face-recognition==1.3.0"
CACHE = Path(sys.prefix) / "cache" / "photo-test-images"
SDIST_IMAGES = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "32bit.png")


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"{package} is not installed (pip install -e '.[dev]')")
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)


def package_images() -> dict[str, Path]:
    return {
        "astronaut": _package_file("skimage", "data", "astronaut.png"),
        "grace_hopper": _package_file("matplotlib", "mpl-data", "sample_data", "grace_hopper.jpg"),
    }


def sdist_images(cache: Path = CACHE) -> dict[str, Path]:
    """face-recognition's test photos, downloaded once with pip into ``cache``."""
    target = cache / "test_images"
    if not all((target / name).is_file() for name in SDIST_IMAGES):
        cache.mkdir(parents=True, exist_ok=True)
        archives = list(cache.glob("face_recognition-*.tar.gz"))
        if not archives:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                 FACE_RECOGNITION, "-d", str(cache)],
                check=True,
            )  # fmt: skip
            archives = list(cache.glob("face_recognition-*.tar.gz"))
        target.mkdir(exist_ok=True)
        with tarfile.open(archives[0]) as tar:
            for member in tar.getmembers():
                name = Path(member.name).name
                if "/tests/test_images/" in member.name and name in SDIST_IMAGES:
                    source = tar.extractfile(member)
                    assert source is not None
                    (target / name).write_bytes(source.read())
    return {Path(name).stem: target / name for name in SDIST_IMAGES}


def all_images() -> dict[str, Path]:
    return {**package_images(), **sdist_images()}


if __name__ == "__main__":
    for key, path in all_images().items():
        print(f"{key}: {path}")
