"""Camera simulator: renders a short looping clip (MJPG .avi) of a scene with slight motion
and sensor noise into a temporary directory; the real ``opencv`` driver opens that file with
``cv2.VideoCapture`` exactly as it would a camera, paces it at the clip's frame rate and
reopens it at its end.

The scene is a still image (by default a synthetic head-and-shoulders test card; the venv
ships no real photograph), a video file, or a scripted sequence of frames from the photo
engine's tests (``play``). Changing the scene replaces the file atomically, so the driver
shows it from its next loop (within ``clip_s``). ``disconnect`` truncates and removes the file
(reads fail, reopening fails: the driver reports the camera lost); ``reconnect`` puts it back.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Sequence

import cv2
import numpy as np

from devices.camera import Image
from devices.simulators.base import Simulator

log = logging.getLogger(__name__)


def test_card(width: int, height: int) -> Image:
    """A clear synthetic portrait: light background, head and shoulders, eyes, mouth, plus a
    grey-scale strip and a frame so focus, exposure and geometry are visible at a glance."""
    img = np.full((height, width, 3), (235, 232, 228), np.uint8)
    cx, cy = width // 2, int(height * 0.42)
    unit = min(width, height)
    face_w, face_h = int(unit * 0.16), int(unit * 0.22)
    # Shoulders and neck.
    cv2.ellipse(
        img, (cx, height), (int(unit * 0.42), int(unit * 0.30)), 0, 180, 360, (90, 60, 40), -1
    )
    cv2.rectangle(
        img, (cx - face_w // 3, cy), (cx + face_w // 3, cy + face_h + 20), (150, 170, 205), -1
    )
    # Hair, then the face over it.
    cv2.ellipse(img, (cx, cy - face_h // 5), (face_w + 8, face_h + 4), 0, 0, 360, (30, 30, 35), -1)
    cv2.ellipse(img, (cx, cy), (face_w, face_h), 0, 0, 360, (160, 180, 215), -1)
    eye_dx, eye_y = int(face_w * 0.42), cy - int(face_h * 0.15)
    for ex in (cx - eye_dx, cx + eye_dx):
        cv2.ellipse(img, (ex, eye_y), (face_w // 6, face_h // 14), 0, 0, 360, (250, 250, 250), -1)
        cv2.circle(img, (ex, eye_y), max(2, face_h // 16), (40, 30, 20), -1)
        cv2.line(
            img,
            (ex - face_w // 6, eye_y - face_h // 7),
            (ex + face_w // 6, eye_y - face_h // 7),
            (30, 30, 35),
            3,
        )
    nose_y = cy + int(face_h * 0.2)
    cv2.line(img, (cx, eye_y + 5), (cx - 6, nose_y), (120, 140, 180), 2)
    cv2.ellipse(
        img, (cx, cy + int(face_h * 0.5)), (face_w // 3, face_h // 12), 0, 0, 180, (80, 80, 170), 3
    )
    # Grey-scale strip and border.
    steps = 8
    for i in range(steps):
        x0 = i * width // (2 * steps)
        level = int(255 * i / (steps - 1))
        cv2.rectangle(
            img, (x0, height - 24), (x0 + width // (2 * steps), height - 4), (level,) * 3, -1
        )
    cv2.rectangle(img, (2, 2), (width - 3, height - 3), (0, 0, 0), 2)
    cv2.putText(img, "SIM", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 200), 2)
    return img


class CameraSimulator(Simulator):
    """A camera as a looping video file. ``start()`` returns the source path for the driver
    (the app passes it as the driver's ``source`` when the configured source is "sim")."""

    FOURCC = "MJPG"

    def __init__(
        self,
        *,
        width: int = 1280,  # the [devices.camera] defaults
        height: int = 720,
        fps: float = 25.0,
        clip_s: float = 1.0,
        image: Image | None = None,
        video: str | None = None,
        jitter_px: int = 3,
        noise: float = 3.0,
        seed: int | None = None,
    ) -> None:
        self.width = width
        self.height = height
        self.fps = fps
        self.clip_s = clip_s
        self.jitter_px = jitter_px
        self.noise = noise
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self._dir = ""
        self.path = ""
        self._frames: list[Image] = []
        if video is not None:
            self._frames = self._read_video(video)
        self._image = image
        self.renders = 0
        self.loop_s = 0.0  # length of the clip being shown: a new scene shows within this

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> str:
        self._dir = tempfile.mkdtemp(prefix="kiosk-camera-")
        self.path = os.path.join(self._dir, "camera.avi")
        if self._frames:
            self._write(self._frames)
        else:
            self.set_scene(self._image)
        return self.path

    def stop(self) -> None:
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = ""

    # --- scripting ------------------------------------------------------------------------

    def set_scene(self, image: Image | None = None, *, motion: bool = True) -> None:
        """Show ``image`` (BGR, any size: resized) with slight motion and noise; None shows
        the default test card."""
        base = test_card(self.width, self.height) if image is None else self._fit(image)
        count = max(2, round(self.fps * self.clip_s))
        # A generator: the clip is encoded frame by frame, never held whole in memory.
        self._write(self._move(base) if motion else base for _ in range(count))

    def play(self, frames: Sequence[Image]) -> None:
        """Loop exactly these frames (resized to the camera's resolution), e.g. a scripted
        sequence for the photo engine: face enters, blinks, turns."""
        if not frames:
            raise ValueError("play needs at least one frame")
        self._write([self._fit(f) for f in frames])

    def disconnect(self) -> None:
        """The camera drops out: the file is emptied and removed (a copy is kept aside)."""
        with self._lock:
            if os.path.exists(self.path):
                shutil.copyfile(self.path, self._stash_path)
                with open(self.path, "r+b") as handle:
                    handle.truncate(0)
                os.unlink(self.path)

    def reconnect(self) -> None:
        """The camera comes back with the scene it showed before."""
        with self._lock:
            if os.path.exists(self._stash_path):
                os.replace(self._stash_path, self.path)

    # --- rendering ------------------------------------------------------------------------

    def _fit(self, image: Image) -> Image:
        fitted = np.asarray(image)
        if fitted.ndim == 2:
            fitted = np.asarray(cv2.cvtColor(fitted, cv2.COLOR_GRAY2BGR))
        if fitted.shape[:2] != (self.height, self.width):
            size = (self.width, self.height)
            fitted = np.asarray(cv2.resize(fitted, size, interpolation=cv2.INTER_AREA))
        return np.ascontiguousarray(fitted, dtype=np.uint8)

    def _move(self, base: Image) -> Image:
        dx, dy = self._rng.integers(-self.jitter_px, self.jitter_px + 1, size=2)
        shift = np.array([[1, 0, dx], [0, 1, dy]], dtype=np.float32)
        moved = np.asarray(
            cv2.warpAffine(base, shift, (self.width, self.height), borderMode=cv2.BORDER_REPLICATE),
            dtype=np.uint8,
        )
        if self.noise > 0:
            # int16 grain (not float64): a 720p frame's noise costs 5.5 MB, not 22 MB.
            grain = np.empty(moved.shape, np.int16)
            cv2.randn(grain, np.zeros(3), np.full(3, float(self.noise)))
            moved = np.asarray(cv2.add(moved, grain, dtype=cv2.CV_8U), dtype=np.uint8)
        return moved

    @property
    def _stash_path(self) -> str:
        return os.path.join(self._dir, "unplugged.avi")

    def _write(self, frames: Iterable[Image]) -> None:
        """Encode the clip beside the live file, then swap it in atomically."""
        with self._lock:
            tmp = os.path.join(self._dir, f"next-{self.renders}.avi")
            writer = cv2.VideoWriter(
                tmp, cv2.VideoWriter.fourcc(*self.FOURCC), self.fps, (self.width, self.height)
            )
            if not writer.isOpened():
                raise RuntimeError(f"cannot write {self.FOURCC} video to {tmp}")
            count = 0
            try:
                for frame in frames:
                    writer.write(frame)
                    count += 1
            finally:
                writer.release()
            os.replace(tmp, self.path)
            self.renders += 1
            self.loop_s = count / self.fps

    def _read_video(self, path: str) -> list[Image]:
        capture = cv2.VideoCapture(path)
        frames: list[Image] = []
        limit = max(2, round(self.fps * max(self.clip_s, 1.0) * 4))
        try:
            while len(frames) < limit:
                ok, frame = capture.read()
                if not ok:
                    break
                frames.append(self._fit(np.asarray(frame, dtype=np.uint8)))
        finally:
            capture.release()
        if not frames:
            raise ValueError(f"no frames in {path}")
        return frames
