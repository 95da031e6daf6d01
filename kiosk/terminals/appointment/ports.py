"""What the appointment check-in asks of the QR scanner (the camera) and of central, and
what it gets back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kiosk.core.calls import PortKey
from kiosk.core.session import Session
from offline_queue.central_client import AppointmentTicket

__all__ = ["AppointmentTicket"]


@dataclass(frozen=True)
class Scanned:
    """A scan's outcome: the appointment number read, or none (``stopped``: the scan screen
    was left; ``foreign``: QR codes seen that are not an appointment's)."""

    number: str | None = None
    stopped: bool = False
    foreign: int = 0


@dataclass(frozen=True)
class CheckedIn:
    """Central's answer: ``known`` False when there is no such appointment."""

    known: bool
    ticket: AppointmentTicket | None = None


class ScannerPort(Protocol):
    def scan(self, seconds: float, session: Session | None) -> Scanned:
        """Look for an appointment's QR code in the camera's frames while the scan screen
        shows, for at most ``seconds``."""
        ...


class AppointmentDeskPort(Protocol):
    def check_in(self, number: str, session: Session | None) -> CheckedIn:
        """Ask central to check appointment ``number`` in."""
        ...


SCANNER: PortKey[ScannerPort] = PortKey("appointment_scanner")
DESK: PortKey[AppointmentDeskPort] = PortKey("appointment_desk")
