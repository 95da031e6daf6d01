"""Screens of the services every terminal may show, whatever its type: the appointment
check-in's camera and number pad, and the on-screen keyboard."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ui.screens.appointment import NumberPadScreen, QrScanScreen
from ui.screens.keyboard import TextEntryScreen

if TYPE_CHECKING:
    from kiosk.terminals.terminal import Pictures
    from ui.window import KioskWindow


def add_service_screens(window: KioskWindow, pictures: Pictures | None) -> None:
    """The camera's picture comes from the terminal's pictures (none: a dark preview)."""
    window.add_screen(QrScanScreen(pictures.frame if pictures is not None else None))
    window.add_screen(NumberPadScreen())
    window.add_screen(TextEntryScreen())
