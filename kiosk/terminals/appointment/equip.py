"""The appointment check-in's services on any terminal: the QR scanner over the camera's
frames (when the terminal has a camera) and the desk with its own link to central."""

from __future__ import annotations

from kiosk.terminals.appointment.ports import DESK, SCANNER
from kiosk.terminals.appointment.service import AppointmentDesk, QrScanner
from kiosk.terminals.terminal import Binding, Equipment, Parts


def equip(parts: Parts) -> Equipment:
    equipment = Equipment()
    if not parts.config.appointment.enabled:
        return equipment
    hub = parts.devices
    if hub is not None and "camera" in hub.slots:
        scanner = QrScanner(hub.latest_frame)
        equipment.bindings.append(Binding(SCANNER, scanner, close=scanner.close))
        equipment.watch = scanner.watch
    if parts.central is not None:
        desk = AppointmentDesk(parts.central())
        equipment.bindings.append(Binding(DESK, desk, close=desk.close))
    return equipment
