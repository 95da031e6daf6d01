"""What every device kind shares: errors with recovery actions, status, cancellation,
statistics and unsolicited-event subscriptions.

Vocabulary follows XFS4IoT / UnifiedPOS: every error carries a stable code and the action
that recovers it, which the core maps onto what the citizen sees and what staff are told.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

log = logging.getLogger(__name__)


class Recovery(enum.Enum):
    """What brings the device back (XFS4IoT error-event actions)."""

    RESET = "reset"  # the driver resets the device itself and retries
    CLEAR = "clear"  # staff can fix it (paper, cards, bin)
    MAINTENANCE = "maintenance"  # an engineer is needed
    SUSPEND = "suspend"  # recovering on its own; wait
    CONFIGURATION = "configuration"  # the configuration is wrong
    NONE = "none"  # nothing to recover (e.g. a cancelled call)


class DeviceError(Exception):
    """Root of every error the device layer raises. Drivers wrap vendor causes with
    ``raise ... from exc`` so the original stays attached."""

    code: str = "device.error"
    recovery: Recovery = Recovery.RESET

    def __init__(
        self, message: str, *, code: str | None = None, recovery: Recovery | None = None
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        if recovery is not None:
            self.recovery = recovery

    @property
    def message(self) -> str:
        return str(self)


class DeviceUnavailable(DeviceError):
    """The device cannot be reached (unplugged, port missing, powered off)."""

    code = "device.unavailable"
    recovery = Recovery.SUSPEND


class DeviceTimeout(DeviceError):
    """The device did not answer in time."""

    code = "device.timeout"
    recovery = Recovery.RESET


class DeviceCancelled(DeviceError):
    """The caller cancelled the operation through its cancel token."""

    code = "device.cancelled"
    recovery = Recovery.NONE


class MediaError(DeviceError):
    """Paper out, jam, stacker empty, bin full: staff must clear it."""

    code = "device.media"
    recovery = Recovery.CLEAR


class ProtocolError(DeviceError):
    """Bytes on the line that do not follow the protocol (bad checksum, bad length, garbage)."""

    code = "device.protocol"
    recovery = Recovery.RESET


class ConfigurationError(DeviceError):
    """Driver settings that cannot work (unknown port scheme, bad baud rate)."""

    code = "device.configuration"
    recovery = Recovery.CONFIGURATION


class DeviceStatus(enum.Enum):
    """Device status list shared by every kind (XFS4IoT common status)."""

    ONLINE = "online"
    OFFLINE = "offline"
    NO_DEVICE = "no_device"
    HARDWARE_ERROR = "hardware_error"
    USER_ERROR = "user_error"  # media problem staff can clear
    BUSY = "busy"


@dataclass(frozen=True)
class StatusReport:
    """A status with a human-readable detail (``paper near end``, ``stacker low``)."""

    status: DeviceStatus
    detail: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def usable(self) -> bool:
        return self.status in (DeviceStatus.ONLINE, DeviceStatus.BUSY)


class CancelToken:
    """Cooperative cancellation shared between a caller and a blocking device call."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise DeviceCancelled("operation cancelled")

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when cancelled meanwhile."""
        return self._event.wait(max(0.0, seconds))


NEVER_CANCELLED = CancelToken()


class Deadline:
    """A timeout turned into an absolute monotonic deadline, so nested waits share it."""

    def __init__(self, timeout_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + timeout_s

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock())

    @property
    def expired(self) -> bool:
        return self._clock() >= self._end


@dataclass
class DeviceStats:
    """Per-device counters (UnifiedPOS statistics)."""

    operations: int = 0
    failures: int = 0
    last_error: str = ""
    last_error_code: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record_ok(self) -> None:
        with self._lock:
            self.operations += 1

    def record_failure(self, error: DeviceError) -> None:
        with self._lock:
            self.operations += 1
            self.failures += 1
            self.last_error = str(error)
            self.last_error_code = error.code

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "operations": self.operations,
                "failures": self.failures,
                "last_error": self.last_error,
                "last_error_code": self.last_error_code,
            }


class DeviceEventKind(enum.Enum):
    CARD_PLACED = "card_placed"
    CARD_REMOVED = "card_removed"
    PAPER_NEAR_END = "paper_near_end"
    PAPER_OUT = "paper_out"
    MEDIA_TAKEN = "media_taken"
    STACKER_LOW = "stacker_low"
    DEVICE_LOST = "device_lost"
    DEVICE_BACK = "device_back"
    STATUS_CHANGED = "status_changed"


@dataclass(frozen=True)
class DeviceEvent:
    """An unsolicited event from a device (delivered on the driver's thread)."""

    device: str
    kind: DeviceEventKind
    detail: str = ""
    timestamp: float = field(default_factory=time.monotonic)


Listener = Callable[[DeviceEvent], None]


class EventHub:
    """Subscription point for unsolicited events. Listener errors are logged, never
    propagated into the driver (the pyserial ReaderThread lesson)."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def publish(self, event: DeviceEvent) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                log.exception("device event listener failed for %s", event.kind.value)


@runtime_checkable
class Device(Protocol):
    """What every driver offers, whatever its kind."""

    name: str

    def open(self, *, timeout_s: float = 5.0, cancel: CancelToken = NEVER_CANCELLED) -> None: ...

    def close(self) -> None: ...

    def status(self) -> StatusReport: ...

    def capabilities(self) -> dict[str, object]: ...

    def statistics(self) -> dict[str, object]: ...

    def subscribe(self, listener: Listener) -> Callable[[], None]: ...
