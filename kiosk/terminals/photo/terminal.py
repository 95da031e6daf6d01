"""The photo terminal: free ID photos with live coaching and unlimited retakes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from devices.camera import Frame
from kiosk.config import TerminalType
from kiosk.terminals.photo import demo, flow
from kiosk.terminals.photo.ports import PHOTO
from kiosk.terminals.terminal import Binding, Equipment, Parts, Terminal

if TYPE_CHECKING:
    from kiosk.terminals.photo.service import PhotoService


class _Pictures:
    def __init__(self, parts: Parts, service: PhotoService) -> None:
        self._hub = parts.devices
        self._service = service

    def frame(self) -> Frame | None:
        return self._hub.latest_frame() if self._hub is not None else None

    def photo(self, index: int) -> bytes | None:
        return self._service.picture(index)


def equip(parts: Parts) -> Equipment:
    hub = parts.devices
    if hub is None:  # no camera, no photos (the self-test starts without devices)
        return Equipment()
    # The photo engine (OpenCV, its models) is loaded only where photos are taken.
    import cv2

    from kiosk.photo.spec import load_spec
    from kiosk.terminals.photo.service import PhotoService

    # One OpenCV thread for the analysis leaves the other core to the preview and the UI
    # (measured: as fast as two threads on this 2-core machine; docs/photo-engine.md).
    cv2.setNumThreads(1)
    config = parts.config
    service = PhotoService(
        kiosk_id=config.kiosk.id,
        spec=load_spec(config.photo.spec),
        frames=hub.latest_frame,
        post=parts.post,
        outbox=parts.outbox,
        voice=parts.voice,
    )
    return Equipment(
        [Binding(PHOTO, service, close=service.close)],
        watch=service.watch,
        pictures=_Pictures(parts, service),
    )


TERMINAL = Terminal(
    TerminalType.PHOTO,
    flow.services,
    required_devices=frozenset({"printer", "camera"}),
    equip=equip,
    demo=demo.photo_script,
    slides=("photo",),
    screens=("photo_live", "photo_review"),
)
