"""The appointment check-in's own screens: the camera looking for the QR code, and the
number pad."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from kiosk.core.views import Button, View


@dataclass(frozen=True)
class QrScanView(View):
    """The live camera with a frame to hold the code in; ``buttons``: type it instead, back."""

    screen: ClassVar[str] = "qr_scan"
    title: str = ""
    body: str = ""
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True)
class NumberPadView(View):
    """A number pad for ``digits`` digits; the screen keeps what is typed until OK sends it
    (intent ``number`` with ``number``). ``error``: why the last number was not taken."""

    screen: ClassVar[str] = "number_pad"
    title: str = ""
    body: str = ""
    digits: int = 10
    error: str | None = None
    note: str | None = None
    buttons: tuple[Button, ...] = ()
