"""uvicorn's h11 protocol with the two things a gateway facing a fleet needs and uvicorn leaves
out: a deadline for a request's headers, and a way for the fault switch to reset a
connection.

uvicorn closes a connection idle *between* requests (``timeout_keep_alive``), but one that
is opened and never sends a request, or sends its headers a byte at a time, is kept for
ever: 300 such connections were enough to pin the old server's 300 threads. Here every
connection must deliver a request's headers within ``header_timeout_s`` of being opened (or
of its previous answer); the body is then the application's to time (``central.guard``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = 10.0


class GatewayProtocol(H11Protocol):
    header_timeout_s = HEADER_TIMEOUT_S

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        # Set on uvicorn's Config by central.server (it travels to worker processes with it).
        self.header_timeout_s = float(getattr(config, "central_header_timeout_s", HEADER_TIMEOUT_S))
        self._header_deadline: asyncio.TimerHandle | None = None
        self._cycle_seen: object = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        # Headers and body leave as separate writes: with Nagle's algorithm and the client's
        # delayed ACK each answer would wait ~40 ms. (asyncio sets this itself only for
        # sockets made with IPPROTO_TCP, which a socket handed in may not be.)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        cycle = self.cycle
        if cycle is not None and cycle is not self._cycle_seen:
            # A request's headers are in: from here the application times the body.
            self._cycle_seen = cycle
            self._disarm()
            scope: dict[str, Any] = cycle.scope  # type: ignore[assignment]
            extensions: dict[str, Any] = scope.setdefault("extensions", {})
            extensions["central.reset"] = self.reset
            extensions["central.closed"] = self.transport.is_closing

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def reset(self) -> None:
        """Drop the connection with a TCP reset and no answer (the ``reset`` fault)."""
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()
