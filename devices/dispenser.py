"""Card dispenser: the protocol every dispenser driver implements (CRT-591, K720, ...).

The kiosk hands finished documents (and ID-card sleeves) to the citizen through a card
dispenser: move a card from the stacker to the gate, wait until it is taken, capture it into
the error bin when it is not. Drivers differ in framing and status bits; the flow sees only
this module: typed status, typed results, stable error codes with recovery actions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from devices.base import (
    NEVER_CANCELLED,
    CancelToken,
    ConfigurationError,
    Device,
    DeviceError,
    DeviceStatus,
    MediaError,
    ProtocolError,
    Recovery,
    StatusReport,
)


class CardPosition(enum.Enum):
    """Where the card in the transport is."""

    NONE = "none"  # no card in the channel
    GATE = "gate"  # held at the gate (card mouth), the citizen can take it
    IC = "ic"  # at the IC / RF read position inside the machine
    CHANNEL = "channel"  # somewhere in the channel, not at a defined position (jam, moving)


class StackerLevel(enum.Enum):
    ENOUGH = "enough"
    LOW = "low"
    EMPTY = "empty"


class InitMode(enum.Enum):
    """What initialisation does with a card left in the channel."""

    CARD_TO_GATE = "card_to_gate"
    CAPTURE_TO_BIN = "capture_to_bin"
    NO_MOVE = "no_move"


@dataclass(frozen=True)
class DispenserStatus(StatusReport):
    """A dispenser status: the common status list plus the dispenser's mechanics."""

    position: CardPosition = CardPosition.NONE
    stacker: StackerLevel = StackerLevel.ENOUGH
    bin_full: bool = False

    @classmethod
    def from_mechanics(
        cls, position: CardPosition, stacker: StackerLevel, bin_full: bool
    ) -> DispenserStatus:
        """Derive the common status and the detail text from the mechanical state."""
        warnings: list[str] = []
        problems: list[str] = []
        if stacker is StackerLevel.EMPTY:
            problems.append("stacker empty")
        elif stacker is StackerLevel.LOW:
            warnings.append("stacker low")
        if bin_full:
            problems.append("capture bin full")
        common = DeviceStatus.USER_ERROR if problems else DeviceStatus.ONLINE
        detail = ", ".join([*problems, *warnings, f"card {position.value}"])
        return cls(
            status=common,
            detail=detail,
            warnings=tuple(warnings),
            position=position,
            stacker=stacker,
            bin_full=bin_full,
        )

    @classmethod
    def unavailable(cls, status: DeviceStatus, detail: str) -> DispenserStatus:
        return cls(status=status, detail=detail, position=CardPosition.NONE)


@dataclass(frozen=True)
class DispenserCapabilities:
    """What a dispenser model can do; the flow checks these instead of driver names."""

    model: str
    has_ic_position: bool = False  # can park a card at the IC/RF read position
    has_eject: bool = False  # can push a card out of the gate (rather than hold it)
    has_sensor_map: bool = False  # reports individual sensors (else derived from status)
    reports_bin_full: bool = True

    def as_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "has_ic_position": self.has_ic_position,
            "has_eject": self.has_eject,
            "has_sensor_map": self.has_sensor_map,
            "reports_bin_full": self.reports_bin_full,
        }


@dataclass(frozen=True)
class DispenserResult:
    """The completion of one dispenser operation."""

    operation: str
    status: DispenserStatus
    elapsed_s: float
    resends: int = 0  # frames sent again on the link (NAK, missing ACK, bad reply)
    recovered: tuple[str, ...] = field(default=())  # e.g. ("not_initialised",)


class DispenserFault(enum.Enum):
    """Every dispenser failure the flow may see, whatever the model. The value is the stable
    error code; ``fault_error`` gives the error class and the recovery action."""

    UNDEFINED_COMMAND = "dispenser.undefined_command"
    PARAMETER = "dispenser.parameter"
    SEQUENCE = "dispenser.sequence"
    UNSUPPORTED = "dispenser.unsupported"
    DATA = "dispenser.data"
    JAM = "dispenser.jam"
    SENSOR = "dispenser.sensor"
    CARD_MOVED = "dispenser.card_moved"
    CARD_PULLED = "dispenser.card_pulled"
    COUNTER_OVERFLOW = "dispenser.counter_overflow"
    MOTOR = "dispenser.motor"
    IC = "dispenser.ic"
    STACKER_EMPTY = "dispenser.stacker_empty"
    BIN_FULL = "dispenser.bin_full"
    NOT_INITIALISED = "dispenser.not_initialised"
    DOUBLE_FEED = "dispenser.double_feed"
    OTHER = "dispenser.error"


_FAULTS: dict[DispenserFault, tuple[type[DeviceError], Recovery, str]] = {
    DispenserFault.UNDEFINED_COMMAND: (ProtocolError, Recovery.RESET, "undefined command"),
    DispenserFault.PARAMETER: (ProtocolError, Recovery.RESET, "parameter error"),
    DispenserFault.SEQUENCE: (DeviceError, Recovery.RESET, "command sequence error"),
    DispenserFault.UNSUPPORTED: (ConfigurationError, Recovery.CONFIGURATION, "not supported"),
    DispenserFault.DATA: (ProtocolError, Recovery.RESET, "command data error"),
    DispenserFault.JAM: (MediaError, Recovery.CLEAR, "card jam"),
    DispenserFault.SENSOR: (DeviceError, Recovery.MAINTENANCE, "sensor failure"),
    DispenserFault.CARD_MOVED: (MediaError, Recovery.RESET, "card moved by hand"),
    DispenserFault.CARD_PULLED: (MediaError, Recovery.RESET, "card pulled during capture"),
    DispenserFault.COUNTER_OVERFLOW: (
        DeviceError,
        Recovery.MAINTENANCE,
        "capture counter overflow",
    ),
    DispenserFault.MOTOR: (DeviceError, Recovery.MAINTENANCE, "motor failure"),
    DispenserFault.IC: (DeviceError, Recovery.RESET, "IC contact error"),
    DispenserFault.STACKER_EMPTY: (MediaError, Recovery.CLEAR, "stacker empty"),
    DispenserFault.BIN_FULL: (MediaError, Recovery.CLEAR, "capture bin full"),
    DispenserFault.NOT_INITIALISED: (DeviceError, Recovery.RESET, "not initialised"),
    DispenserFault.DOUBLE_FEED: (MediaError, Recovery.CLEAR, "two cards fed at once"),
    DispenserFault.OTHER: (DeviceError, Recovery.RESET, "dispenser error"),
}


def fault_error(fault: DispenserFault, detail: str = "", *, code: str | None = None) -> DeviceError:
    """The device error for a fault, with its stable code and recovery action.

    ``code`` overrides the stable code for faults that keep the device's own number
    (``dispenser.e.63`` for one IC error among ten)."""
    cls, recovery, text = _FAULTS[fault]
    message = f"{text}: {detail}" if detail else text
    return cls(message, code=code or fault.value, recovery=recovery)


@runtime_checkable
class CardDispenser(Device, Protocol):
    """A card dispenser. Every blocking call takes ``timeout_s`` and a cancel token and
    raises only device-layer errors. Calls are serialised by the driver; the device's worker
    thread calls them, and events arrive on that thread too."""

    @property
    def take_timeout_s(self) -> float:
        """Configured seconds a card waits at the gate before it is captured."""
        ...

    @property
    def is_open(self) -> bool: ...

    def status(self) -> DispenserStatus:
        """Query the device (short timeout); never raises: a device that does not answer
        is reported as offline / no device."""
        ...

    def read_status(
        self, *, timeout_s: float = 3.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> DispenserStatus:
        """Query the device; raises device errors."""
        ...

    def initialise(
        self,
        mode: InitMode = InitMode.NO_MOVE,
        *,
        timeout_s: float = 10.0,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> DispenserResult: ...

    def sensors(
        self, *, timeout_s: float = 3.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> dict[str, bool]:
        """Sensor name -> blocked (True = something in front of the sensor / flag set)."""
        ...

    def dispense_to_gate(
        self, *, timeout_s: float = 10.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> DispenserResult:
        """Move one card from the stacker to the gate and hold it there."""
        ...

    def wait_taken(self, *, timeout_s: float, cancel: CancelToken = NEVER_CANCELLED) -> bool:
        """True once the card at the gate is taken; False if it is still there at timeout."""
        ...

    def capture_to_bin(
        self, *, timeout_s: float = 10.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> DispenserResult:
        """Pull the card in the channel or at the gate into the error (capture) bin."""
        ...

    def eject(
        self, *, timeout_s: float = 10.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> DispenserResult:
        """Push the card out of the gate (models with ``has_eject``)."""
        ...
