"""Base for serial-device simulators on a real pseudo-terminal (or loopback TCP).

The simulator thread owns the master side; a driver opens the slave side through a stable
symlink (``<tmpdir>/<kind>``) that the simulator keeps pointing at the current pty. That lets
tests unplug the device (``disconnect``: the pty closes and the symlink vanishes, as
``/dev/ttyUSB0`` does) and plug it back (``reconnect``: a fresh pty, same symlink), and the
driver finds it again by reopening the same configured path.

With ``transport="tcp"`` the same device is served on a loopback TCP port instead and
``start()`` returns ``socket://127.0.0.1:<port>`` (network printers, serial servers);
``disconnect`` closes the connection and the listener, ``reconnect`` listens on the same port.

Subclasses implement ``on_bytes(data)`` (called on the simulator thread) and answer with
``send``. With ``pace=True`` replies leave at baud/10 bytes per second (8N1 line time).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
import time

from devices.simulators.base import Simulator
from devices.simulators.pty import StablePty

log = logging.getLogger(__name__)

_PACE_CHUNK = 32


class SerialLineSimulator(Simulator):
    kind = "serial"

    def __init__(
        self,
        *,
        baud: int = 115_200,
        pace: bool = False,
        reply_delay_s: float = 0.0,
        transport: str = "pty",
    ) -> None:
        if transport not in ("pty", "tcp"):
            raise ValueError(f"transport must be 'pty' or 'tcp', not {transport!r}")
        self.transport = transport
        self.baud = baud
        self.pace = pace
        self.reply_delay_s = reply_delay_s
        self._pty: StablePty | None = None
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self._tcp_port = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        self.pty_path = ""
        self.received = 0
        self._garbage_next = b""

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def port(self) -> str:
        """The stable path a driver opens (a symlink to the current pty)."""
        if self.transport == "tcp":
            if not self._tcp_port:
                raise RuntimeError("simulator not started")
            return f"socket://127.0.0.1:{self._tcp_port}"
        if self._pty is None:
            raise RuntimeError("simulator not started")
        return self._pty.path

    def start(self) -> str:
        if self.transport == "tcp":
            self._open_tcp()
            return self.port
        if self._pty is None:
            self._pty = StablePty(self.kind)
        self._open_pty()
        return self.port

    def stop(self) -> None:
        self._close_pty()
        if self._pty is not None:
            self._pty.destroy()
            self._pty = None

    def disconnect(self) -> None:
        """Unplug: close the pty (the driver's reads and writes fail) and remove the path."""
        self._close_pty()

    def reconnect(self) -> str:
        """Plug back in on a fresh pty behind the same path (or the same TCP port)."""
        if self.transport == "tcp":
            self._open_tcp()
        else:
            self._open_pty()
        return self.port

    @property
    def connected(self) -> bool:
        return (self._pty is not None and self._pty.plugged) or self._listener is not None

    def _open_tcp(self) -> None:
        if self._listener is not None:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self._tcp_port))
        listener.listen(1)
        self._tcp_port = listener.getsockname()[1]
        self._listener = listener
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._serve_tcp, args=(listener,), name=f"sim-{self.kind}", daemon=True
        )
        self._thread.start()

    def _serve_tcp(self, listener: socket.socket) -> None:
        """Simulator thread: one client at a time (a newer connection replaces the old)."""
        while not self._stop.is_set():
            watched = [listener] + ([self._client] if self._client is not None else [])
            try:
                ready, _, _ = select.select(watched, [], [], 0.05)
            except (OSError, ValueError):
                return
            if listener in ready:
                client, _ = listener.accept()
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                old, self._client = self._client, client
                if old is not None:
                    old.close()
                continue
            if self._client is not None and self._client in ready:
                try:
                    data = self._client.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    self._client.close()
                    self._client = None
                    continue
                self._handle(data)

    def _open_pty(self) -> None:
        pty = self._pty
        if pty is None or pty.plugged:
            return
        pty.plug()
        assert pty.master is not None
        self.pty_path = pty.tty_path
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._serve, args=(pty.master,), name=f"sim-{self.kind}", daemon=True
        )
        self._thread.start()
        log.debug("%s simulator on %s -> %s", self.kind, pty.path, self.pty_path)

    def _close_pty(self) -> None:
        if self._listener is not None:
            self._stop.set()
            if self._thread is not None and self._thread is not threading.current_thread():
                self._thread.join(timeout=5.0)
            self._thread = None
            for sock in (self._client, self._listener):
                if sock is not None:
                    sock.close()
            self._client = self._listener = None
            return
        if self._pty is None or not self._pty.plugged:
            return
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        self._thread = None
        self._pty.unplug()

    # -- I/O --------------------------------------------------------------------------------

    def _serve(self, master: int) -> None:
        """Simulator thread: read what the driver writes and let the subclass answer."""
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([master], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(master, 4096)
            except OSError:
                if self._stop.is_set():
                    return
                time.sleep(0.01)
                continue
            if data:
                self._handle(data)

    def _handle(self, data: bytes) -> None:
        self.received += len(data)
        try:
            self.on_bytes(data)
        except Exception:
            log.exception("%s simulator failed handling %d bytes", self.kind, len(data))

    def on_bytes(self, data: bytes) -> None:
        raise NotImplementedError

    def inject_garbage(self, data: bytes = b"\x00\xff\x55\xaa\x13\x37") -> None:
        """Send ``data`` right before the next answer (line noise)."""
        self._garbage_next += data

    def send(self, data: bytes) -> None:
        """Write an answer (after the configured delay, paced if asked). Simulator thread."""
        if self.reply_delay_s and self._stop.wait(self.reply_delay_s):
            return
        if self._garbage_next:
            data, self._garbage_next = self._garbage_next + data, b""
        self.write_raw(data)

    def write_raw(self, data: bytes) -> None:
        with self._write_lock:
            if not self.pace:
                self._write_all(data)
                return
            seconds_per_byte = 10.0 / self.baud
            started = time.monotonic()
            for offset in range(0, len(data), _PACE_CHUNK):
                chunk = data[offset : offset + _PACE_CHUNK]
                self._write_all(chunk)
                due = started + (offset + len(chunk)) * seconds_per_byte
                delay = due - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return

    def _write_all(self, data: bytes) -> None:
        client = self._client
        if client is not None:
            with contextlib.suppress(OSError):
                client.sendall(data)
            return
        fd = self._pty.master if self._pty is not None else None
        if fd is None:
            return
        view = memoryview(data)
        while view:
            try:
                written = os.write(fd, view)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            except OSError:
                return  # the pty closed under us: an unplugged device says nothing
            view = view[written:]

    def pace_delay(self, count: int) -> None:
        """Line time for ``count`` received bytes when pacing (the host's writes are not
        paced by the pty, so the simulator charges them before answering)."""
        if self.pace and count:
            self._stop.wait(count * 10.0 / self.baud)
