"""Camera: the protocol every camera driver implements.

A capture thread in the driver always holds the latest frame, stamped with its monotonic
capture time and a sequence number, so the preview keeps its frame rate while analysis (face
detection, compliance checks) works on whichever frame it last took. Kiosk cameras drop out
after hours of use: a driver reports DEVICE_LOST, reconnects on its own and reports
DEVICE_BACK.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from devices.base import NEVER_CANCELLED, CancelToken, Device

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, eq=False)
class Frame:
    """One captured image: BGR ``uint8`` array of shape (height, width, 3).

    The array is shared by every reader and marked read-only: copy it before drawing on it.
    """

    image: Image
    timestamp: float  # time.monotonic() when the frame was captured
    sequence: int  # 1, 2, 3 ... in capture order (never reused, even across reconnects)

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


@dataclass(frozen=True)
class CameraStats:
    """Capture counters.

    ``measured_fps`` counts frames captured over the last ``window_s`` seconds.
    ``frames_superseded``: frames captured but replaced by a newer one before any reader took
    them (the consumer is slower than the camera; harmless for a preview).
    ``frames_dropped``: frames the camera should have delivered but did not, from gaps between
    capture times longer than 1.5 nominal periods (the camera or the host is too slow).
    """

    frames_captured: int
    frames_superseded: int
    frames_dropped: int
    measured_fps: float
    nominal_fps: float
    reconnects: int
    read_failures: int
    width: int
    height: int

    def as_dict(self) -> dict[str, object]:
        return {
            "frames_captured": self.frames_captured,
            "frames_superseded": self.frames_superseded,
            "frames_dropped": self.frames_dropped,
            "measured_fps": round(self.measured_fps, 2),
            "nominal_fps": self.nominal_fps,
            "reconnects": self.reconnects,
            "read_failures": self.read_failures,
            "width": self.width,
            "height": self.height,
        }


@runtime_checkable
class Camera(Device, Protocol):
    """A camera with a capture thread. ``latest_frame`` and ``wait_frame`` may be called from
    any thread; events (DEVICE_LOST, DEVICE_BACK) are published on the capture thread."""

    @property
    def is_open(self) -> bool: ...

    def latest_frame(self) -> Frame | None:
        """The newest frame, or None before the first one; never blocks."""
        ...

    def wait_frame(
        self, after_seq: int = 0, *, timeout_s: float = 2.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> Frame:
        """The first frame newer than ``after_seq``; DeviceTimeout if none comes in time."""
        ...

    def camera_stats(self) -> CameraStats: ...
