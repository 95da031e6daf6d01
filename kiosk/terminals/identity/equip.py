"""The identity service for a terminal that checks faces (renewal, pickup)."""

from __future__ import annotations

from devices.camera import Frame
from kiosk.terminals.identity.ports import IDENTITY
from kiosk.terminals.identity.service import IdentityService
from kiosk.terminals.terminal import Binding, Parts


class CameraPictures:
    """The face check's screen shows the camera's live picture (no photos of its own)."""

    def __init__(self, parts: Parts) -> None:
        self._hub = parts.devices

    def frame(self) -> Frame | None:
        return self._hub.latest_frame() if self._hub is not None else None

    def photo(self, index: int) -> bytes | None:
        return None


def identity_service(parts: Parts) -> tuple[Binding, IdentityService] | None:
    """The face check on its own worker, when it is switched on and there is a camera."""
    hub, settings = parts.devices, parts.config.identity
    if hub is None or not settings.enabled or "camera" not in hub.slots:
        return None
    service = IdentityService(frames=hub.latest_frame, post=parts.post, voice=parts.voice)
    return Binding(IDENTITY, service, close=service.close), service
