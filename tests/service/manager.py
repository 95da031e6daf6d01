"""A stand-in for systemd's end of the notification socket: a real AF_UNIX datagram socket
that records every message with the time it arrived (the kiosk's side is the real one)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path


class FakeManager:
    def __init__(self, directory: Path) -> None:
        # A short path: AF_UNIX addresses are limited to 107 bytes.
        self.path = Path(directory) / "notify.sock"
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(self.path))
        self._socket.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, name="fake-manager", daemon=True)
        self._thread.start()

    def env(self, watchdog_usec: int | None = None, **extra: str) -> dict[str, str]:
        env = {"NOTIFY_SOCKET": str(self.path), **extra}
        if watchdog_usec is not None:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        return env

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._socket.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._changed:
                self.messages.append((time.monotonic(), data.decode("utf-8")))
                self._changed.notify_all()

    def received(self, assignment: str) -> list[float]:
        """When each message carrying ``assignment`` (``WATCHDOG=1``) arrived."""
        with self._changed:
            return [t for t, m in self.messages if assignment in m.split("\n")]

    def wait_for(self, assignment: str, count: int = 1, within_s: float = 60.0) -> list[float]:
        deadline = time.monotonic() + within_s
        with self._changed:
            while len(self.received(assignment)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [m for _, m in self.messages][-5:]
                    raise AssertionError(f"{count} x {assignment} not received; last: {seen}")
                self._changed.wait(left)
            return self.received(assignment)

    def close(self) -> None:
        self._stop.set()
        self._socket.close()
        self._thread.join(timeout=5)
