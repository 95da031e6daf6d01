"""Camera driver on OpenCV ``VideoCapture``: a device index ("0"), a V4L2 path
("/dev/video0") or a video file standing in for a camera.

A capture thread reads continuously and always holds the latest frame with its monotonic
capture time (taken when ``read`` returns) and a sequence number. Video files are paced at the
file's frame rate and reopened at their end, so a file behaves like a live camera (and a
simulator can replace the file to change the scene). When reads fail the camera is reported
lost (DEVICE_LOST) and reopened with exponential backoff until it answers (DEVICE_BACK).

Counters (see devices.camera.CameraStats): ``frames_superseded`` are frames nobody read
before a newer one replaced them; ``frames_dropped`` are frames missing from gaps longer than
1.5 nominal periods between captures.
"""

from __future__ import annotations

import collections
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Self

import cv2
import numpy as np

from devices.base import (
    NEVER_CANCELLED,
    CancelToken,
    ConfigurationError,
    Deadline,
    DeviceCancelled,
    DeviceEvent,
    DeviceEventKind,
    DeviceStatus,
    DeviceTimeout,
    DeviceUnavailable,
    EventHub,
    Listener,
    StatusReport,
)
from devices.camera import CameraStats, Frame

log = logging.getLogger(__name__)

_KNOWN_KEYS = frozenset({"source", "width", "height", "fps"})


class OpenCvCamera:
    """Implements devices.camera.Camera. Public methods may be called from any thread."""

    FAILURES_BEFORE_LOST = 3  # consecutive failed reads of a live camera
    BACKOFF_START_S = 0.1
    BACKOFF_MAX_S = 2.0
    FPS_WINDOW_S = 2.0

    def __init__(
        self,
        name: str,
        *,
        source: str,
        width: int = 1280,
        height: int = 720,
        fps: float = 25.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not source:
            raise ConfigurationError(f"{name}: no camera source", code="camera.source")
        if source == "sim":
            raise ConfigurationError(
                f"{name}: source 'sim' must be replaced by the simulator's path before the "
                "driver is built",
                code="camera.source",
            )
        if width <= 0 or height <= 0 or not fps > 0:
            raise ConfigurationError(f"{name}: bad resolution or fps", code="camera.mode")
        self.name = name
        self.source = source
        self.width = width
        self.height = height
        self.fps = fps
        self._clock = clock
        self._events = EventHub()
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._delivered_seq = 0
        self._seq = 0
        self._captured = 0
        self._superseded = 0
        self._dropped = 0
        self._read_failures = 0
        self._reconnects = 0
        self._recent: collections.deque[float] = collections.deque()
        self._lost = False
        self._outage = False
        self._last_error = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._capture: cv2.VideoCapture | None = None
        self._period = 1.0 / fps

    @classmethod
    def from_settings(cls, name: str, settings: Mapping[str, object]) -> Self:
        unknown = set(settings) - _KNOWN_KEYS
        if unknown:
            log.warning("%s: ignoring settings %s", name, ", ".join(sorted(unknown)))
        try:
            return cls(
                name,
                source=str(settings.get("source", "0")),
                width=_number(settings.get("width", 1280), int),
                height=_number(settings.get("height", 720), int),
                fps=_number(settings.get("fps", 25.0), float),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"{name}: {exc}", code="camera.settings") from exc

    # --- source ---------------------------------------------------------------------------

    @property
    def is_file(self) -> bool:
        return not self.source.isdigit() and not self.source.startswith("/dev/")

    def _open_capture(self) -> cv2.VideoCapture | None:
        """Open the source; None when it is not there (no exception: the caller retries)."""
        if self.source.isdigit():
            capture = cv2.VideoCapture(int(self.source))
        elif self.source.startswith("/dev/"):
            if not os.path.exists(self.source):
                return None
            capture = cv2.VideoCapture(self.source, cv2.CAP_V4L2)
        else:
            # A missing or empty file is "not there"; FFmpeg would only log noise about it.
            if not os.path.isfile(self.source) or os.path.getsize(self.source) == 0:
                return None
            capture = cv2.VideoCapture(self.source)
        if not capture.isOpened():
            capture.release()
            return None
        if self.is_file:
            file_fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
            self._period = 1.0 / file_fps if 0 < file_fps <= 240 else 1.0 / self.fps
        else:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            capture.set(cv2.CAP_PROP_FPS, self.fps)
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # latest frame, not a backlog
            # Fail a read of a stalled camera within a second rather than the backend's
            # default (ignored by backends without the property).
            capture.set(cv2.CAP_PROP_READ_TIMEOUT_MSEC, 1000)
            self._period = 1.0 / self.fps
        return capture

    # --- Device ---------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._thread is not None

    def open(self, *, timeout_s: float = 5.0, cancel: CancelToken = NEVER_CANCELLED) -> None:
        """Open the source and start capturing; DeviceUnavailable if it cannot be opened."""
        if self._thread is not None:
            return
        deadline = Deadline(timeout_s, self._clock)
        capture = self._open_capture()
        while capture is None:
            if deadline.expired:
                raise DeviceUnavailable(
                    f"{self.name}: cannot open camera source {self.source}",
                    code="camera.unavailable",
                )
            if cancel.wait(min(0.1, deadline.remaining())):
                raise DeviceCancelled(f"{self.name}: open cancelled")
            capture = self._open_capture()
        self._capture = capture
        self._lost = False
        self._outage = True  # time while closed is not a capture gap
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"camera-{self.name}", daemon=True)
        self._thread.start()
        log.info("%s: capturing from %s", self.name, self.source)

    def close(self) -> None:
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join(timeout=5)
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        with self._cond:
            self._cond.notify_all()

    def status(self) -> StatusReport:
        if self._thread is None:
            return StatusReport(DeviceStatus.OFFLINE, "not open")
        if self._lost:
            return StatusReport(DeviceStatus.NO_DEVICE, f"camera lost: {self._last_error}")
        stats = self.camera_stats()
        detail = f"{stats.width}x{stats.height} at {stats.measured_fps:.1f} fps"
        warnings: tuple[str, ...] = ()
        if stats.frames_captured and stats.measured_fps < 0.5 * self.fps:
            warnings = ("frame rate low",)
        return StatusReport(DeviceStatus.ONLINE, detail, warnings)

    def capabilities(self) -> dict[str, object]:
        return {
            "source": "file" if self.is_file else "device",
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "reconnects": True,
        }

    def statistics(self) -> dict[str, object]:
        return {**self.camera_stats().as_dict(), "last_error": self._last_error}

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self._events.subscribe(listener)

    # --- Camera ---------------------------------------------------------------------------

    def latest_frame(self) -> Frame | None:
        with self._cond:
            frame = self._latest
            if frame is not None:
                self._delivered_seq = max(self._delivered_seq, frame.sequence)
            return frame

    def wait_frame(
        self, after_seq: int = 0, *, timeout_s: float = 2.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> Frame:
        deadline = Deadline(timeout_s, self._clock)
        with self._cond:
            while True:
                frame = self._latest
                if frame is not None and frame.sequence > after_seq:
                    self._delivered_seq = max(self._delivered_seq, frame.sequence)
                    return frame
                cancel.raise_if_cancelled()
                if deadline.expired:
                    raise DeviceTimeout(
                        f"{self.name}: no frame after #{after_seq} in {timeout_s:.1f} s",
                        code="camera.no_frame",
                    )
                # Short waits so a cancel is seen without a notify.
                self._cond.wait(min(0.05, deadline.remaining()))

    def camera_stats(self) -> CameraStats:
        with self._cond:
            recent = list(self._recent)
            latest = self._latest
            fps = 0.0
            if len(recent) >= 2 and recent[-1] > recent[0]:
                fps = (len(recent) - 1) / (recent[-1] - recent[0])
            return CameraStats(
                frames_captured=self._captured,
                frames_superseded=self._superseded,
                frames_dropped=self._dropped,
                measured_fps=fps,
                nominal_fps=round(1.0 / self._period, 3),
                reconnects=self._reconnects,
                read_failures=self._read_failures,
                width=latest.width if latest else 0,
                height=latest.height if latest else 0,
            )

    # --- capture thread -------------------------------------------------------------------

    def _run(self) -> None:
        backoff = self.BACKOFF_START_S
        failures = 0
        next_due = self._clock()
        while not self._stop.is_set():
            capture = self._capture
            if capture is None:
                capture = self._open_capture()
                if capture is None:
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self.BACKOFF_MAX_S)
                    continue
                self._capture = capture
                backoff = self.BACKOFF_START_S
                failures = 0
                self._back()
                next_due = self._clock()
            if self.is_file:
                wait = next_due - self._clock()
                if wait > 0 and self._stop.wait(wait):
                    break
                # Behind by more than a period (a stall): do not burst to catch up.
                next_due = max(next_due + self._period, self._clock())
            ok, image = capture.read()
            if ok and image is not None:
                failures = 0
                self._publish(np.ascontiguousarray(image))
                continue
            if self.is_file:
                # End of the clip, or the file changed or vanished: reopen it by name.
                capture.release()
                failures += 1  # a reopened file that yields no frame is broken too
                if failures < self.FAILURES_BEFORE_LOST:
                    self._capture = self._open_capture()
                    if self._capture is not None:
                        next_due = self._clock()  # the failed read at the end used no slot
                        continue
                self._read_failures += 1
                self._lose("video file unreadable")
                continue
            failures += 1
            self._read_failures += 1
            if failures >= self.FAILURES_BEFORE_LOST:
                capture.release()
                self._capture = None
                self._lose("camera read failed")

    def _publish(self, image: np.ndarray[Any, Any]) -> None:
        now = self._clock()
        with self._cond:
            previous = self._latest
            if previous is not None:
                if previous.sequence > self._delivered_seq:
                    self._superseded += 1
                gap = now - previous.timestamp
                if gap > 1.5 * self._period and not self._outage:
                    self._dropped += max(0, round(gap / self._period) - 1)
            self._outage = False
            self._seq += 1
            self._captured += 1
            image.flags.writeable = False  # shared by every reader: copy before drawing
            self._latest = Frame(image=image, timestamp=now, sequence=self._seq)
            self._recent.append(now)
            while self._recent and now - self._recent[0] > self.FPS_WINDOW_S:
                self._recent.popleft()
            self._cond.notify_all()

    def _lose(self, reason: str) -> None:
        self._capture = None
        self._last_error = reason
        if not self._lost:
            self._lost = True
            with self._cond:
                self._recent.clear()
            log.warning("%s: camera lost (%s); reconnecting", self.name, reason)
            self._events.publish(DeviceEvent(self.name, DeviceEventKind.DEVICE_LOST, reason))

    def _back(self) -> None:
        if self._lost:
            with self._cond:
                self._reconnects += 1
                self._lost = False
                self._outage = True  # the time lost is not a gap between captured frames
            log.info("%s: camera back", self.name)
            self._events.publish(DeviceEvent(self.name, DeviceEventKind.DEVICE_BACK, self.source))


def _number(value: object, kind: Callable[[Any], Any]) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"expected a number, not {value!r}")
    result = kind(value)
    if isinstance(result, float) and not math.isfinite(result):
        raise ValueError(f"{value!r} is not finite")
    return result
