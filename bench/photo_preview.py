"""Preview frame rate while the live analysis runs: the real kiosk (offscreen), its live
capture screen, the simulated 1280x720 camera at 25 fps showing a compliant subject.

Returns the preview frames painted per second, the analysis rate, the camera's measured
rate and the peak memory during a live session. Runnable alone (prints one JSON object).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# The project root replaces this directory on the path: bench/queue.py would otherwise
# shadow the standard library's queue module.
sys.path[0] = str(Path(__file__).resolve().parent.parent)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402

from kiosk.config import parse_config  # noqa: E402
from kiosk.core.clock import ManualClock  # noqa: E402
from kiosk.terminals.photo.ports import PHOTO  # noqa: E402
from ui.demo import World, pump  # noqa: E402
from ui.screens.photo import PhotoLiveScreen  # noqa: E402
from ui.shell import build_shell, qt_application  # noqa: E402

SECONDS = 8.0


def preview_while_analysing(
    seconds: float = SECONDS, poll_hz: float | None = None
) -> dict[str, Any]:
    """``poll_hz``: restart the preview's frame poll at this rate (None: as the kiosk runs it,
    at the camera's 25 fps) to see how much of a shortfall is the poll beating the camera."""
    data = tempfile.mkdtemp(prefix="kiosk-bench-")
    config = parse_config(
        {
            "kiosk": {"id": "BENCH-P01", "terminal": "photo", "data_dir": data},
            "devices": {
                "printer": {"driver": "escpos", "simulator": True},
                "camera": {
                    "driver": "opencv",
                    "simulator": True,
                    "source": "sim",
                    "width": 1280,
                    "height": 720,
                    "fps": 25.0,
                },
            },
        }
    )
    qapp = qt_application(offscreen=True)
    clock = ManualClock()
    shell = build_shell(config, qapp, clock=clock, scheduler=clock)
    shell.window.show()
    shell.start()
    try:
        world = World(shell)
        world.camera_scene("compliant")
        shell.app.intent("start")
        shell.app.intent("select", service="photo")
        shell.app.intent("skip")
        pump(2.0)  # models load, tracking settles
        screen = shell.window.screens["photo_live"]
        assert isinstance(screen, PhotoLiveScreen)
        if poll_hz is not None:
            screen.preview.start(poll_hz)
        # The Qt event loop runs as in the kiosk (exec, no sleeping between events): a helper
        # that slept between processEvents calls made the 25 Hz preview poll miss frames.
        loop = QEventLoop()

        def keep_coaching() -> None:
            if shell.app.view is not None and shell.app.view.state == "photo_countdown":
                shell.app.intent("back")  # keep coaching, not capturing

        watch = QTimer()
        watch.timeout.connect(keep_coaching)
        watch.start(10)
        QTimer.singleShot(round(seconds * 1000), loop.quit)
        shown0, start = screen.preview.frames_shown, time.monotonic()
        loop.exec()
        watch.stop()
        elapsed = time.monotonic() - start
        camera = shell.app.devices.device("camera") if shell.app.devices else None
        stats = camera.statistics() if camera is not None else {}
        # The photo terminal's service is bound under its port (kiosk.terminals.photo).
        service = next(
            (b.service for b in shell.app.machine.equipment.bindings if b.port == PHOTO), None
        )
        return {
            "preview_fps": round((screen.preview.frames_shown - shown0) / elapsed, 1),
            "analysis_fps": round(service.live_fps, 1) if service is not None else None,
            "camera_fps": stats.get("measured_fps"),
            "camera_resolution": "1280x720",
            "preview_poll_hz": poll_hz or 25.0,
            "load_average_1min": round(os.getloadavg()[0], 2),
            "seconds": round(elapsed, 1),
            "peak_rss_mb_live_session": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
            ),
        }
    finally:
        shell.stop()


if __name__ == "__main__":
    poll = float(sys.argv[1]) if len(sys.argv) > 1 else None
    print(json.dumps(preview_while_analysing(poll_hz=poll)))
