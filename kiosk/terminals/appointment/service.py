"""The appointment check-in's services: the QR scanner (``ScannerPort``: the camera's frames,
on its own worker) and the desk (``AppointmentDeskPort``: central, on its own worker with its
own client).

The scanner looks only while the scan screen shows (``watch`` sees the views) and never keeps
a frame: each is read and dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from devices.camera import Frame
from kiosk.core.errors import KioskError
from kiosk.core.runner import ViewState
from kiosk.core.session import Session
from kiosk.machine.central import CentralLink, NotOnRecord
from kiosk.terminals.appointment.numbers import from_qr, is_appointment_no
from kiosk.terminals.appointment.ports import CheckedIn, Scanned
from kiosk.terminals.appointment.qr import QrReader
from kiosk.terminals.appointment.views import QrScanView

log = logging.getLogger(__name__)

FrameSource = Callable[[], Frame | None]
SHOWN_WAIT_S = 3.0  # the scan screen is published just after the scan is asked for
IDLE_POLL_S = 0.01


class NoCameraPicture(KioskError):
    """The camera gives no picture: the citizen types the number instead."""

    code = "appointment.no_picture"


class QrScanner:
    """``ScannerPort``."""

    def __init__(self, frames: FrameSource, *, no_picture_s: float = 5.0) -> None:
        self._frames = frames
        self._showing = threading.Event()
        self._no_picture_s = no_picture_s
        self._reader: QrReader | None = None  # made on the worker, used there only

    def watch(self, view: ViewState) -> None:
        """A view listener (flow thread): scanning runs only while the scan screen shows."""
        if isinstance(view.view, QrScanView):
            self._showing.set()
        else:
            self._showing.clear()

    def close(self) -> None:
        self._showing.clear()

    def scan(self, seconds: float, session: Session | None) -> Scanned:
        if not self._showing.wait(SHOWN_WAIT_S):
            return Scanned(stopped=True)
        reader = self._reader = self._reader or QrReader()
        deadline = time.monotonic() + seconds
        last_seq, last_new, foreign = -1, time.monotonic(), 0
        while self._showing.is_set():
            now = time.monotonic()
            if now >= deadline:
                return Scanned(foreign=foreign)
            frame = self._frames()
            if frame is None or frame.sequence == last_seq:
                if now - last_new > self._no_picture_s:
                    raise NoCameraPicture("the camera gives no picture")
                time.sleep(IDLE_POLL_S)
                continue
            last_seq, last_new = frame.sequence, now
            text = reader.read(frame.image)
            if text is None:
                continue
            number = from_qr(text)
            if number is not None:
                log.info("appointment QR code read")
                return Scanned(number)
            foreign += 1  # someone's payment code, a web link: not an appointment
        return Scanned(stopped=True, foreign=foreign)


class AppointmentDesk:
    """``AppointmentDeskPort``, on its own worker with its own client."""

    def __init__(self, link: CentralLink) -> None:
        self._link = link

    def close(self) -> None:
        self._link.close()

    def check_in(self, number: str, session: Session | None) -> CheckedIn:
        if not is_appointment_no(number):
            return CheckedIn(known=False)
        try:
            ticket = self._link.look_up(
                "appointment", lambda client: client.check_in_appointment(number)
            )
        except NotOnRecord:
            return CheckedIn(known=False)
        return CheckedIn(True, ticket)
