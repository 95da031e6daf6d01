"""The device side of a serial line for simulators: a pseudo-terminal in raw mode behind a
stable symlink path (``<tmpdir>/<name>``), the way a kiosk opens ``/dev/serial/by-id/...``.

Unplugging closes the pty and removes the link, so a driver's reads and writes fail; plugging
back opens a fresh pty behind the same path, and the driver finds the device again by
reopening its configured port.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import tty

log = logging.getLogger(__name__)


class StablePty:
    """A pty pair behind ``path``; the owner reads and writes ``master``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._dir = tempfile.mkdtemp(prefix=f"kiosk-sim-{name}-")
        self.path = os.path.join(self._dir, name)
        self.master: int | None = None
        self._slave: int | None = None
        self.tty_path = ""

    @property
    def plugged(self) -> bool:
        return self.master is not None

    def plug(self) -> None:
        """Open a fresh pty and point the path at its slave (no-op when plugged)."""
        if self.master is not None:
            return
        master, slave = os.openpty()
        # Raw before any driver opens it: no echo, no CR/LF translation of binary frames.
        tty.setraw(slave)
        tty.setraw(master)
        self.master, self._slave = master, slave
        self.tty_path = os.ttyname(slave)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.symlink(self.tty_path, self.path)
        log.debug("%s: %s -> %s", self.name, self.path, self.tty_path)

    def unplug(self) -> None:
        """Remove the path and close both ends (no-op when unplugged)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        for fd in (self.master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.master = self._slave = None

    def destroy(self) -> None:
        """Unplug for good and remove the private directory."""
        self.unplug()
        shutil.rmtree(self._dir, ignore_errors=True)
