"""Reading QR codes in camera frames with OpenCV (already the camera's library): the classic
``QRCodeDetector`` first, then the ArUco-based one, which finds codes the first misses at
some angles; a code too small for both is tried again on the frame enlarged twice (every
few frames: it costs about ten times as much). Measured on rendered, rotated,
perspective-tilted JPEG frames in tests/core/test_appointment_qr.py."""

from __future__ import annotations

from typing import Any

import cv2

from devices.camera import Image

ENLARGE_EVERY = 3  # frames between two tries on the enlarged frame
ENLARGE_MAX_WIDTH = 1280  # larger frames already carry enough pixels per module


class QrReader:
    """Finds and decodes QR codes; one per thread (the detectors keep state)."""

    def __init__(self) -> None:
        self._detectors: list[Any] = [cv2.QRCodeDetector()]
        if hasattr(cv2, "QRCodeDetectorAruco"):
            self._detectors.append(cv2.QRCodeDetectorAruco())
        self._frames = 0

    def read(self, image: Image) -> str | None:
        """The text of a QR code in ``image`` (BGR or grey), or None."""
        self._frames += 1
        grey: Any = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        for detector in self._detectors:
            text = _decode(detector, grey)
            if text:
                return text
        if self._frames % ENLARGE_EVERY == 0 and grey.shape[1] <= ENLARGE_MAX_WIDTH:
            bigger = cv2.resize(grey, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
            return _decode(self._detectors[0], bigger)
        return None


def _decode(detector: Any, grey: Any) -> str | None:
    try:
        text, _, _ = detector.detectAndDecode(grey)
    except cv2.error:  # a degenerate candidate quadrangle: nothing readable in this frame
        return None
    return str(text) if text else None
