"""One serial transport shared by the serial drivers: open by pyserial URL, timed reads that
honour a deadline and a cancel token, and the lost/back bookkeeping that lets a driver
reopen a port that vanished (USB-serial unplugged, simulator restarted) on its own.

Thread-safety: the owner holds ``lock`` around every request/answer exchange; the lock is
re-entrant so a driver method may call another while holding it.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import termios
import threading

import serial

from devices.base import (
    CancelToken,
    ConfigurationError,
    Deadline,
    DeviceEvent,
    DeviceEventKind,
    DeviceTimeout,
    DeviceUnavailable,
    EventHub,
)

log = logging.getLogger(__name__)

# What a vanished port raises: pyserial's own errors, the OS's, and termios' (tcflush on a
# hung-up tty), which is not an OSError.
TRANSPORT_ERRORS = (serial.SerialException, OSError, termios.error)

_READ_SLICE_S = 0.05  # longest a read blocks before looking at the cancel token again
BAUD_RATES = (9_600, 19_200, 38_400, 57_600, 115_200, 230_400, 460_800, 921_600)


def setting_str(settings: object, key: str, name: str, default: str | None = None) -> str:
    value = _get(settings, key, default)
    if not isinstance(value, str) or (not value and default is None):
        raise ConfigurationError(f"{name}: '{key}' must be a non-empty string")
    return value


def setting_float(
    settings: object, key: str, name: str, default: float, *, low: float, high: float
) -> float:
    value = _get(settings, key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigurationError(f"{name}: '{key}' must be a number in {low}..{high}")
    return float(value)


def setting_int(settings: object, key: str, name: str, default: int, *, low: int, high: int) -> int:
    value = _get(settings, key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigurationError(f"{name}: '{key}' must be an integer in {low}..{high}")
    return value


def _get(settings: object, key: str, default: object) -> object:
    getter = getattr(settings, "get", None)
    if getter is None:
        raise ConfigurationError("settings must be a mapping")
    value = getter(key, default)
    return default if value is None else value


def _no_delay(port: serial.SerialBase) -> None:
    """Disable Nagle on socket:// ports: a status query written right after a job would
    otherwise wait for the previous segment's delayed ACK (40 ms per exchange)."""
    sock = getattr(port, "_socket", None)  # pyserial's socket transport keeps it private
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class SerialLink:
    """A pyserial port by URL (a device path, ``socket://host:port``, ``loop://``...)."""

    def __init__(
        self,
        device: str,
        url: str,
        baud: int,
        events: EventHub,
        *,
        write_timeout_s: float = 2.0,
    ) -> None:
        if baud not in BAUD_RATES:
            raise ConfigurationError(f"{device}: unsupported baud rate {baud}")
        self.device = device
        self.url = url
        self.baud = baud
        self.lock = threading.RLock()
        self._events = events
        self._write_timeout_s = write_timeout_s
        self._port: serial.SerialBase | None = None
        self._lost = False

    @property
    def is_open(self) -> bool:
        return self._port is not None

    @property
    def lost(self) -> bool:
        return self._lost

    def open(self) -> None:
        """Open the port (no-op when open). DeviceUnavailable when it cannot be opened."""
        with self.lock:
            if self._port is not None:
                return
            try:
                port = serial.serial_for_url(
                    self.url,
                    baudrate=self.baud,
                    timeout=_READ_SLICE_S,
                    write_timeout=self._write_timeout_s,
                )
            except ValueError as exc:
                raise ConfigurationError(f"{self.device}: bad port {self.url!r}: {exc}") from exc
            except TRANSPORT_ERRORS as exc:
                raise DeviceUnavailable(
                    f"{self.device}: cannot open {self.url}", code=f"{self.device}.unavailable"
                ) from exc
            _no_delay(port)
            self._port = port
            log.debug("%s: opened %s", self.device, self.url)

    def close(self) -> None:
        with self.lock:
            port, self._port = self._port, None
            if port is not None:
                try:
                    port.close()
                except TRANSPORT_ERRORS:
                    log.debug("%s: error closing port", self.device, exc_info=True)

    def mark_lost(self, cause: BaseException) -> DeviceUnavailable:
        """Close the port after a transport failure and publish DEVICE_LOST once."""
        self.close()
        if not self._lost:
            self._lost = True
            log.warning("%s: port %s lost (%s)", self.device, self.url, type(cause).__name__)
            self._events.publish(DeviceEvent(self.device, DeviceEventKind.DEVICE_LOST, self.url))
        return DeviceUnavailable(
            f"{self.device}: connection to {self.url} lost", code=f"{self.device}.lost"
        )

    def mark_back(self) -> None:
        """Call after the first good exchange on a reopened port."""
        if self._lost:
            self._lost = False
            log.info("%s: port %s back", self.device, self.url)
            self._events.publish(DeviceEvent(self.device, DeviceEventKind.DEVICE_BACK, self.url))

    def _require(self) -> serial.SerialBase:
        if self._port is None:
            self.open()
        assert self._port is not None
        return self._port

    def discard_input(self) -> None:
        port = self._require()
        try:
            port.reset_input_buffer()
        except TRANSPORT_ERRORS as exc:
            raise self.mark_lost(exc) from exc

    def pending(self) -> int:
        """Bytes received and not read yet."""
        port = self._require()
        try:
            return int(port.in_waiting)
        except TRANSPORT_ERRORS as exc:
            raise self.mark_lost(exc) from exc

    def write(self, data: bytes) -> None:
        port = self._require()
        try:
            port.write(data)
        except serial.SerialTimeoutException as exc:
            raise DeviceTimeout(
                f"{self.device}: write timed out", code=f"{self.device}.write_timeout"
            ) from exc
        except TRANSPORT_ERRORS as exc:
            raise self.mark_lost(exc) from exc

    def read_some(self, wanted: int, deadline: Deadline, cancel: CancelToken) -> bytes:
        """Up to ``wanted`` bytes, returning as soon as any arrive; b"" when the deadline
        passed with nothing. Checks the cancel token at least every 50 ms."""
        port = self._require()
        while True:
            cancel.raise_if_cancelled()
            remaining = deadline.remaining()
            if remaining <= 0:
                return b""
            try:
                slice_s = min(remaining, _READ_SLICE_S)
                if port.timeout != slice_s:  # each change is a tcsetattr call
                    port.timeout = slice_s
                waiting = port.in_waiting
                data: bytes = port.read(max(1, min(wanted, waiting)) if waiting else 1)
                if data and len(data) < wanted:
                    more = port.in_waiting
                    if more:
                        data += port.read(min(wanted - len(data), more))
            except TRANSPORT_ERRORS as exc:
                raise self.mark_lost(exc) from exc
            if data:
                return data

    def read_exact(self, count: int, deadline: Deadline, cancel: CancelToken, what: str) -> bytes:
        """Exactly ``count`` bytes or DeviceTimeout naming ``what`` was awaited."""
        buffer = bytearray()
        while len(buffer) < count:
            chunk = self.read_some(count - len(buffer), deadline, cancel)
            if not chunk:
                raise DeviceTimeout(
                    f"{self.device}: no answer to {what} (got {len(buffer)} of {count} bytes)",
                    code=f"{self.device}.timeout",
                )
            buffer.extend(chunk)
        return bytes(buffer)
