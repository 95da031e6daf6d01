"""``kiosk devices probe camera``: grab frames for a while, report frame rate and resolution.

Only the protocol (devices.camera) is used; the command builds the driver by name.
"""

from __future__ import annotations

import argparse
import logging
import time

from devices.base import DeviceError
from devices.camera import Camera

log = logging.getLogger(__name__)


def probe(device: Camera, args: argparse.Namespace) -> dict[str, object]:
    """Frames seen in ``args.seconds`` (default 2 s), their rate and size, as a JSON-ready dict.

    Opens the camera if it is not open yet (and closes it again afterwards).
    """
    seconds = float(getattr(args, "seconds", 2.0) or 2.0)
    opened_here = not device.is_open
    result: dict[str, object] = {"device": device.name, "ok": False}
    try:
        if opened_here:
            device.open(timeout_s=5.0)
        first = device.wait_frame(0, timeout_s=5.0)
        seq, frames = first.sequence, 1
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            frame = device.wait_frame(seq, timeout_s=2.0)
            seq, frames = frame.sequence, frames + 1
        last = device.latest_frame() or first
        span = last.timestamp - first.timestamp
        result.update(
            ok=True,
            frames=frames,
            fps=round((last.sequence - first.sequence) / span, 2) if span > 0 else 0.0,
            width=last.width,
            height=last.height,
        )
    except DeviceError as exc:
        log.warning("camera probe failed: %s", exc)
        result["error"] = {"code": exc.code, "message": str(exc), "recovery": exc.recovery.value}
    finally:
        result["status"] = device.status().detail
        result["statistics"] = device.statistics()
        if opened_here:
            device.close()
    return result
