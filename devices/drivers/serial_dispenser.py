"""What the serial card-dispenser drivers share: settings, the serial port and its loss and
return, serialised calls, statistics, events, and the operations built on status polling.

A model driver (CRT-591, K720) supplies the wire protocol by implementing the ``_do_*``
methods; everything the flow relies on (wait_taken, stacker-low events, DEVICE_LOST /
DEVICE_BACK, the "not initialised: initialise and retry once" recovery) lives here once.
"""

from __future__ import annotations

import logging
import termios
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self, TypeVar

import serial

from devices.base import (
    NEVER_CANCELLED,
    CancelToken,
    ConfigurationError,
    Deadline,
    DeviceCancelled,
    DeviceError,
    DeviceEvent,
    DeviceEventKind,
    DeviceStats,
    DeviceStatus,
    DeviceTimeout,
    DeviceUnavailable,
    EventHub,
    Listener,
    ProtocolError,
)
from devices.dispenser import (
    CardPosition,
    DispenserCapabilities,
    DispenserFault,
    DispenserResult,
    DispenserStatus,
    InitMode,
    StackerLevel,
    fault_error,
)
from devices.drivers.dispenser_framing import ACK, NAK

log = logging.getLogger(__name__)

_T = TypeVar("_T")
# What a vanished port raises (tcflush on a hung-up pty raises termios.error, not OSError).
_LINK_ERRORS = (serial.SerialException, OSError, termios.error)

# Keys of the [devices.dispenser] section a driver accepts; "pace" belongs to the simulator.
_KNOWN_KEYS = frozenset({"port", "baud", "address", "take_timeout_s", "pace"})
_BAUDS = frozenset({1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200})


class LinkStats:
    """Link-level counters on top of the operation counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.frames_sent = 0
        self.resends = 0
        self.naks_received = 0
        self.ack_timeouts = 0
        self.corrupt_replies = 0
        self.reconnects = 0

    def add(self, **counts: int) -> None:
        with self._lock:
            for key, value in counts.items():
                setattr(self, key, getattr(self, key) + value)

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "frames_sent": self.frames_sent,
                "resends": self.resends,
                "naks_received": self.naks_received,
                "ack_timeouts": self.ack_timeouts,
                "corrupt_replies": self.corrupt_replies,
                "reconnects": self.reconnects,
            }


class SerialDispenser:
    """Base of the serial card-dispenser drivers (implements devices.dispenser.CardDispenser).

    Thread model: any thread may call; calls are serialised by one lock, and events are
    published on the calling thread (the device worker in the app).
    """

    MODEL: ClassVar[str] = "dispenser"
    CAPABILITIES: ClassVar[DispenserCapabilities] = DispenserCapabilities(model="dispenser")
    ACK_TIMEOUT_S: ClassVar[float] = 0.3
    MAX_RESENDS: ClassVar[int] = 3
    TAKE_POLL_S: ClassVar[float] = 0.1
    READ_SLICE_S: ClassVar[float] = 0.02

    def __init__(
        self,
        name: str,
        *,
        port: str,
        baud: int = 9600,
        address: int = 0,
        take_timeout_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not port:
            raise ConfigurationError(f"{name}: no serial port configured", code="dispenser.port")
        if baud not in _BAUDS:
            raise ConfigurationError(f"{name}: unsupported baud rate {baud}", code="dispenser.baud")
        self.name = name
        self.port = port
        self.baud = baud
        self.address = address
        self._take_timeout_s = take_timeout_s
        self._clock = clock
        self._serial: serial.SerialBase | None = None
        self._wanted_open = False
        self._lost = False
        self._lock = threading.RLock()
        self._events = EventHub()
        self._stats = DeviceStats()
        self.link = LinkStats()
        self._last_stacker: StackerLevel | None = None
        self._carry = b""

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def from_settings(cls, name: str, settings: Mapping[str, object]) -> Self:
        unknown = set(settings) - _KNOWN_KEYS
        if unknown:
            log.warning("%s: ignoring settings %s", name, ", ".join(sorted(unknown)))
        try:
            port = str(settings.get("port", ""))
            baud = _as_int(settings.get("baud", 9600), "baud")
            address = _as_int(settings.get("address", 0), "address")
            take = _as_float(settings.get("take_timeout_s", 30.0), "take_timeout_s")
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"{name}: {exc}") from exc
        if not 0 <= address <= 15:
            raise ConfigurationError(f"{name}: address {address} outside 0..15")
        if take <= 0:
            raise ConfigurationError(f"{name}: take_timeout_s must be positive")
        return cls(name, port=port, baud=baud, address=address, take_timeout_s=take)

    # --- Device ---------------------------------------------------------------------------

    @property
    def take_timeout_s(self) -> float:
        return self._take_timeout_s

    @property
    def is_open(self) -> bool:
        return self._wanted_open

    def open(self, *, timeout_s: float = 5.0, cancel: CancelToken = NEVER_CANCELLED) -> None:
        with self._lock:
            cancel.raise_if_cancelled()
            self._wanted_open = True
            self._port()
            log.info("%s: %s open on %s at %d baud", self.name, self.MODEL, self.port, self.baud)

    def close(self) -> None:
        with self._lock:
            self._wanted_open = False
            self._drop_port()

    def capabilities(self) -> dict[str, object]:
        return self.CAPABILITIES.as_dict()

    def statistics(self) -> dict[str, object]:
        return {**self._stats.snapshot(), **self.link.snapshot()}

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self._events.subscribe(listener)

    def status(self) -> DispenserStatus:
        if not self._wanted_open:
            return DispenserStatus.unavailable(DeviceStatus.OFFLINE, "not open")
        try:
            return self.read_status(timeout_s=2.0)
        except DeviceUnavailable as exc:
            return DispenserStatus.unavailable(DeviceStatus.NO_DEVICE, str(exc))
        except DeviceTimeout as exc:
            return DispenserStatus.unavailable(DeviceStatus.OFFLINE, str(exc))
        except DeviceError as exc:
            return DispenserStatus.unavailable(DeviceStatus.HARDWARE_ERROR, str(exc))

    # --- CardDispenser --------------------------------------------------------------------

    def read_status(
        self, *, timeout_s: float = 3.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> DispenserStatus:
        return self._run("status", self._do_status, timeout_s, cancel).status

    def sensors(
        self, *, timeout_s: float = 3.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> dict[str, bool]:
        return self._guarded("sensors", self._do_sensors, timeout_s, cancel)[0]

    def initialise(
        self,
        mode: InitMode = InitMode.NO_MOVE,
        *,
        timeout_s: float = 10.0,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> DispenserResult:
        return self._run(
            "initialise", lambda d, c: self._do_initialise(mode, d, c), timeout_s, cancel
        )

    def dispense_to_gate(
        self, *, timeout_s: float = 10.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> DispenserResult:
        return self._run("dispense_to_gate", self._do_dispense, timeout_s, cancel)

    def capture_to_bin(
        self, *, timeout_s: float = 10.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> DispenserResult:
        return self._run("capture_to_bin", self._do_capture, timeout_s, cancel)

    def eject(
        self, *, timeout_s: float = 10.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> DispenserResult:
        if not self.CAPABILITIES.has_eject:
            raise fault_error(DispenserFault.UNSUPPORTED, f"{self.MODEL} cannot eject")
        return self._run("eject", self._do_eject, timeout_s, cancel)

    def wait_taken(self, *, timeout_s: float, cancel: CancelToken = NEVER_CANCELLED) -> bool:
        deadline = Deadline(timeout_s, self._clock)
        while True:
            status = self.read_status(
                timeout_s=max(1.0, min(3.0, deadline.remaining())), cancel=cancel
            )
            if status.position is CardPosition.NONE:
                self._events.publish(
                    DeviceEvent(self.name, DeviceEventKind.MEDIA_TAKEN, "card taken from gate")
                )
                return True
            if deadline.expired:
                return False
            if cancel.wait(min(self.TAKE_POLL_S, deadline.remaining())):
                raise DeviceCancelled("wait for the card to be taken cancelled")

    # --- to implement per model -----------------------------------------------------------

    def _do_status(self, deadline: Deadline, cancel: CancelToken) -> DispenserStatus:
        raise NotImplementedError

    def _do_sensors(self, deadline: Deadline, cancel: CancelToken) -> dict[str, bool]:
        raise NotImplementedError

    def _do_initialise(
        self, mode: InitMode, deadline: Deadline, cancel: CancelToken
    ) -> DispenserStatus:
        raise NotImplementedError

    def _do_dispense(self, deadline: Deadline, cancel: CancelToken) -> DispenserStatus:
        raise NotImplementedError

    def _do_capture(self, deadline: Deadline, cancel: CancelToken) -> DispenserStatus:
        raise NotImplementedError

    def _do_eject(self, deadline: Deadline, cancel: CancelToken) -> DispenserStatus:
        raise NotImplementedError

    def _await_ack(self, window: Deadline) -> int | None:
        """ACK or NAK (as the model frames them) within ``window``; None if neither came."""
        raise NotImplementedError

    # --- the command handshake both models share --------------------------------------------

    def _send_until_acked(self, frame: bytes, deadline: Deadline, cancel: CancelToken) -> None:
        """Send a command frame until the dispenser ACKs it: resent on NAK or silence, at
        most ``MAX_RESENDS`` times, each wait ``ACK_TIMEOUT_S`` (never past ``deadline``)."""
        naks = 0
        for attempt in range(self.MAX_RESENDS + 1):
            cancel.raise_if_cancelled()
            if attempt:
                self.link.add(resends=1)
            self._write(frame)
            self.link.add(frames_sent=1)
            answer = self._await_ack(Deadline(min(self.ACK_TIMEOUT_S, deadline.remaining())))
            if answer == ACK:
                return
            if answer == NAK:
                naks += 1
                self.link.add(naks_received=1)
            else:
                self.link.add(ack_timeouts=1)
            if deadline.expired:
                break
        if naks:
            raise ProtocolError(
                f"{self.name}: command refused {naks} times (NAK)", code="dispenser.nak"
            )
        raise DeviceTimeout(f"{self.name}: no ACK from the dispenser", code="dispenser.no_ack")

    # --- machinery ------------------------------------------------------------------------

    def _run(
        self,
        operation: str,
        action: Callable[[Deadline, CancelToken], DispenserStatus],
        timeout_s: float,
        cancel: CancelToken,
    ) -> DispenserResult:
        start = self._clock()
        resends_before = self.link.resends
        status, recovered = self._guarded(operation, action, timeout_s, cancel)
        self._observe(status)
        return DispenserResult(
            operation=operation,
            status=status,
            elapsed_s=self._clock() - start,
            resends=self.link.resends - resends_before,
            recovered=recovered,
        )

    def _guarded(
        self,
        operation: str,
        action: Callable[[Deadline, CancelToken], _T],
        timeout_s: float,
        cancel: CancelToken,
    ) -> tuple[_T, tuple[str, ...]]:
        """One operation under the lock, with the not-initialised recovery and statistics."""
        with self._lock:
            deadline = Deadline(timeout_s, self._clock)
            recovered: tuple[str, ...] = ()
            try:
                try:
                    value = action(deadline, cancel)
                except DeviceError as exc:
                    if exc.code != DispenserFault.NOT_INITIALISED.value:
                        raise
                    # Power-on (or a reconnect) left the device uninitialised: initialise
                    # without moving any card, then retry the operation once.
                    log.warning("%s: %s: not initialised, initialising", self.name, operation)
                    self._do_initialise(InitMode.NO_MOVE, deadline, cancel)
                    recovered = ("not_initialised",)
                    value = action(deadline, cancel)
            except DeviceError as exc:
                self._stats.record_failure(exc)
                log.warning("%s: %s failed: %s (%s)", self.name, operation, exc, exc.code)
                raise
            self._stats.record_ok()
            return value, recovered

    def _observe(self, status: DispenserStatus) -> None:
        """Publish STACKER_LOW when the stacker level drops to low or empty."""
        previous, self._last_stacker = self._last_stacker, status.stacker
        if status.stacker is not StackerLevel.ENOUGH and previous is not status.stacker:
            self._events.publish(
                DeviceEvent(self.name, DeviceEventKind.STACKER_LOW, status.stacker.value)
            )

    def _port(self) -> serial.SerialBase:
        """The open port; reopens it after a loss (the USB-serial adapter came back)."""
        if self._serial is not None:
            return self._serial
        if not self._wanted_open:
            raise DeviceUnavailable(f"{self.name}: not open", code="dispenser.not_open")
        try:
            port = serial.serial_for_url(
                self.port, baudrate=self.baud, timeout=self.READ_SLICE_S, write_timeout=1.0
            )
        except (*_LINK_ERRORS, ValueError) as exc:
            self._lost = True
            raise DeviceUnavailable(
                f"{self.name}: cannot open {self.port}: {exc}", code="dispenser.unavailable"
            ) from exc
        self._serial = port
        if self._lost:
            self._lost = False
            self.link.add(reconnects=1)
            log.info("%s: port %s is back", self.name, self.port)
            self._events.publish(DeviceEvent(self.name, DeviceEventKind.DEVICE_BACK, self.port))
        return port

    def _drop_port(self) -> None:
        port, self._serial = self._serial, None
        if port is not None:
            try:
                port.close()
            except _LINK_ERRORS:
                log.debug("%s: closing a lost port failed", self.name, exc_info=True)

    def _link_lost(self, exc: BaseException) -> DeviceUnavailable:
        self._drop_port()
        if not self._lost:
            self._lost = True
            log.warning("%s: port %s lost: %s", self.name, self.port, exc)
            self._events.publish(DeviceEvent(self.name, DeviceEventKind.DEVICE_LOST, str(exc)))
        error = DeviceUnavailable(f"{self.name}: link lost: {exc}", code="dispenser.unavailable")
        error.__cause__ = exc
        return error

    def _write(self, data: bytes) -> None:
        port = self._port()
        try:
            port.write(data)
            port.flush()
        except _LINK_ERRORS as exc:
            raise self._link_lost(exc) from exc

    def _read(self) -> bytes:
        """Whatever arrives within one read slice (possibly nothing)."""
        if self._carry:
            carried, self._carry = self._carry, b""
            return carried
        port = self._port()
        try:
            waiting = port.in_waiting
            data: bytes = port.read(max(1, waiting))
        except _LINK_ERRORS as exc:
            raise self._link_lost(exc) from exc
        return data

    def _unread(self, data: bytes) -> None:
        """Give back bytes read past the end of what the caller wanted."""
        self._carry = data + self._carry

    def _flush_input(self) -> None:
        self._carry = b""
        port = self._port()
        try:
            port.reset_input_buffer()
        except _LINK_ERRORS as exc:
            raise self._link_lost(exc) from exc


def _as_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"{key} must be an integer, not {value!r}")
    return int(value)


def _as_float(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"{key} must be a number, not {value!r}")
    return float(value)
