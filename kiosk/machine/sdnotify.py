"""The service manager's notification protocol (sd_notify): one datagram of newline-separated
``NAME=value`` assignments to the AF_UNIX socket named by ``$NOTIFY_SOCKET``.

systemd reads ``READY=1`` (start-up done, ``Type=notify``), ``WATCHDOG=1`` (still alive,
within ``WatchdogSec``), ``STATUS=...`` (a line for ``systemctl status``) and ``STOPPING=1``.
The protocol is a single ``sendto``, so it is written here rather than taken from a package
(the packages on PyPI wrap the same few lines, or need libsystemd's headers to build).

Outside a notify service (no ``$NOTIFY_SOCKET``: a developer's terminal, the tests, the demo)
``Notifier.from_environment`` gives None and nothing is sent.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)

_MAX_STATUS = 200  # systemctl shows one line; keep the datagram small


class Notifier:
    """Sends notifications to one service manager socket. Any thread (one ``sendto`` each)."""

    def __init__(self, address: str, watchdog_usec: int | None = None) -> None:
        # A leading '@' names a socket in the abstract namespace (a NUL byte on the wire).
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self.watchdog_usec = watchdog_usec
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.failures = 0

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Notifier | None:
        """The notifier systemd asked for, or None. The watchdog interval counts only when it
        is meant for this process: ``WATCHDOG_PID`` names us, or our parent - the kiosk runs
        as the only client of a compositor (cage) that is the unit's main process."""
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        if not address or address[0] not in "/@":
            return None
        usec = _int(env.get("WATCHDOG_USEC", ""))
        pid = _int(env.get("WATCHDOG_PID", ""))
        if pid is not None and pid not in (os.getpid(), os.getppid()):
            usec = None
        return cls(address, usec if usec else None)

    @property
    def watchdog_s(self) -> float | None:
        """``WatchdogSec`` of the unit in seconds, or None without a watchdog."""
        return self.watchdog_usec / 1e6 if self.watchdog_usec else None

    def send(self, *assignments: str) -> bool:
        """One datagram; False (and a warning once in a while) if the manager is not there."""
        data = "\n".join(assignments).encode("utf-8")
        try:
            self._socket.sendto(data, self.address)
        except OSError as exc:
            self.failures += 1
            if self.failures in (1, 10) or self.failures % 1000 == 0:
                log.warning("notifying the service manager failed (%d): %s", self.failures, exc)
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *_status(status))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.send(*_status(text))

    def stopping(self, status: str = "") -> bool:
        return self.send("STOPPING=1", *_status(status))

    def close(self) -> None:
        self._socket.close()


def _status(text: str) -> tuple[str, ...]:
    line = " ".join(text.split())[:_MAX_STATUS]
    return (f"STATUS={line}",) if line else ()


def _int(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None
