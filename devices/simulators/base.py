"""What every simulator shares: ``start()`` returns where the driver finds the device (a port
path, a ``socket://`` URL, a video file, a PC/SC reader name), ``stop()`` ends it, and a
``with`` block does both. The device registry and the demo mode start simulators only
through this interface.
"""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Self


class Simulator(abc.ABC):
    """Base of every simulator (serial devices, the camera, the PC/SC stack, the card)."""

    @abc.abstractmethod
    def start(self) -> str:
        """Bring the device up; returns what the driver's port setting should name."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Take the device down and release what ``start`` took (threads, fds, files);
        safe to call twice."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
