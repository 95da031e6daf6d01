"""QR codes read from rendered camera frames: codes of several sizes, turned and tilted in
perspective, JPEG-compressed with sensor noise, as a phone held up to the kiosk's camera
gives them; and the scanner over a stream of such frames (found, foreign codes, the screen
left, a camera without a picture)."""

from __future__ import annotations

import threading
import time
from itertools import count

import cv2
import numpy as np
import pytest
import qrcode

from devices.camera import Frame
from kiosk.core.errors import KioskError
from kiosk.core.runner import ViewState
from kiosk.core.views import MessageView
from kiosk.terminals.appointment.numbers import luhn_digit
from kiosk.terminals.appointment.qr import QrReader
from kiosk.terminals.appointment.service import QrScanner
from kiosk.terminals.appointment.views import QrScanView

NUMBER = "710394826" + luhn_digit("710394826")


def frame_with_code(
    text: str,
    side: int,
    angle: float,
    tilt: float = 0.0,
    size: tuple[int, int] = (640, 480),
    seed: int = 0,
) -> np.ndarray:
    """A grey hall, a dark phone, the code ``side`` pixels wide on it, the whole turned by
    ``angle`` degrees and tilted (``tilt``: how far one side leans away), JPEG at 80 %."""
    width, height = size
    rng = np.random.default_rng(seed)
    code = np.asarray(qrcode.make(text, border=2).convert("L"))
    code = cv2.resize(code, (side, side), interpolation=cv2.INTER_NEAREST)
    frame = np.full((height, width), 140, np.uint8)
    cx, cy = width // 2 + int(rng.integers(-20, 21)), height // 2 + int(rng.integers(-20, 21))
    cv2.rectangle(frame, (cx - side * 2 // 3, cy - side), (cx + side * 2 // 3, cy + side), 30, -1)
    frame[cy - side // 2 : cy - side // 2 + side, cx - side // 2 : cx - side // 2 + side] = code
    frame = cv2.warpAffine(
        frame, cv2.getRotationMatrix2D((cx, cy), angle, 1.0), (width, height), borderValue=140
    )
    if tilt:
        d = tilt * width
        corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
        leaning = np.float32([[d, 0], [width - d, d / 2], [width - d, height - d / 2], [d, height]])
        transform = cv2.getPerspectiveTransform(corners, leaning)
        frame = cv2.warpPerspective(frame, transform, (width, height), borderValue=140)
    noisy = frame.astype(np.int16) + rng.normal(0, 4, frame.shape).astype(np.int16)
    bgr = cv2.cvtColor(np.clip(noisy, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    _, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return np.asarray(cv2.imdecode(jpeg, cv2.IMREAD_COLOR))


def read_within(reader: QrReader, image: np.ndarray, frames: int = 6) -> str | None:
    """What a few frames of the same scene give (the reader tries harder every few)."""
    for _ in range(frames):
        text = reader.read(image)
        if text:
            return text
    return None


@pytest.mark.parametrize("side", [90, 130, 200, 320])
@pytest.mark.parametrize(
    ("angle", "tilt"), [(0, 0.0), (12, 0.0), (35, 0.0), (-60, 0.0), (20, 0.12)]
)
def test_codes_of_several_sizes_turned_and_tilted_are_read(
    side: int, angle: float, tilt: float
) -> None:
    text = f"APPT:{NUMBER}"
    image = frame_with_code(text, side, angle, tilt, seed=side + int(angle))
    assert read_within(QrReader(), image) == text


def test_a_720p_frame_and_a_grey_one_are_read_too() -> None:
    image = frame_with_code(NUMBER, 240, 25, 0.08, size=(1280, 720), seed=7)
    assert read_within(QrReader(), image) == NUMBER
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    assert read_within(QrReader(), np.asarray(grey)) == NUMBER


def test_a_frame_without_a_code_reads_nothing() -> None:
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    assert read_within(QrReader(), noise, frames=3) is None


class Camera:
    """Frames as the camera driver gives them: a new sequence number for each."""

    def __init__(self, image: np.ndarray | None) -> None:
        self.image = image
        self._seq = count(1)

    def __call__(self) -> Frame | None:
        if self.image is None:
            return None
        return Frame(self.image, time.monotonic(), next(self._seq))


def showing(scanner: QrScanner, shown: bool = True) -> None:
    view = QrScanView() if shown else MessageView("appointment.checking")
    scanner.watch(ViewState(view, "zh", "appt_scan" if shown else "appt_checking"))


def test_the_scanner_reads_an_appointment_and_passes_over_other_codes() -> None:
    camera = Camera(frame_with_code(f"APPT:{NUMBER}", 160, 15, seed=1))
    scanner = QrScanner(camera)
    showing(scanner)
    assert scanner.scan(20, None).number == NUMBER
    camera.image = frame_with_code("https://pay.example.org/cashier/42", 160, 0, seed=2)
    outcome = scanner.scan(1.0, None)
    assert outcome.number is None and outcome.foreign > 0 and not outcome.stopped


def test_the_scanner_stops_when_its_screen_is_left_and_says_when_there_is_no_picture() -> None:
    camera = Camera(frame_with_code("not an appointment", 160, 0, seed=4))
    scanner = QrScanner(camera, no_picture_s=0.3)
    showing(scanner)
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(scanner.scan(60, None)))
    worker.start()
    time.sleep(0.2)
    showing(scanner, False)  # the citizen taps "type the number instead"
    worker.join(10)
    assert not worker.is_alive() and getattr(result[0], "stopped", False)
    assert scanner.scan(5, None).stopped  # never shown: nothing is scanned
    dark = QrScanner(Camera(None), no_picture_s=0.3)
    showing(dark)
    with pytest.raises(KioskError) as caught:
        dark.scan(10, None)
    assert caught.value.code == "appointment.no_picture"
