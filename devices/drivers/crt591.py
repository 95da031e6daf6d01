"""Creator CRT-591 card dispenser over a serial line (devices.md section 4).

Command  F2 | ADDR | LENH LENL | 43 'C' | CM | PM | data | 03 | BCC
Positive F2 | ADDR | LEN | 50 'P' | CM | PM | st0 st1 st2 | data | 03 | BCC
Negative F2 | ADDR | LEN | 4E 'N' (or 45 'E') | CM | PM | e1 e0 | 03 | BCC

Handshake: host sends a command; the device answers ACK 06 (NAK 15 on a bad BCC) within about
300 ms; the host resends on NAK or a missing ACK, at most ``MAX_RESENDS`` times. The device
executes and replies; the host ACKs the reply or NAKs it (bad BCC) to have it sent again.
EOT 04 aborts a command in progress (sent when the cancel token fires).

Sensor status (31 31): the manual gives no common layout for the sensor bytes after
st0 st1 st2, so this driver reads them as one ASCII '0'/'1' per sensor in the order of
``SENSOR_NAMES`` (the layout the simulator speaks); extra bytes are reported as ``sensor_<n>``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

from devices.base import (
    NEVER_CANCELLED,
    CancelToken,
    Deadline,
    DeviceCancelled,
    DeviceError,
    DeviceTimeout,
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
from devices.drivers.dispenser_framing import ACK, NAK, CorruptFrame, Frame, FrameScanner, encode
from devices.drivers.serial_dispenser import SerialDispenser

log = logging.getLogger(__name__)

STX = 0xF2
EOT = 0x04
CMD = 0x43  # 'C'
POSITIVE = 0x50  # 'P'
NEGATIVE = (0x4E, 0x45)  # 'N', and 'E' from some firmware

# (CM, PM) of every command the driver sends.
INIT = {
    InitMode.CARD_TO_GATE: (0x30, 0x30),
    InitMode.CAPTURE_TO_BIN: (0x30, 0x31),
    InitMode.NO_MOVE: (0x30, 0x33),
}
STATUS = (0x31, 0x30)
SENSORS = (0x31, 0x31)
DISPENSE_TO_GATE = (0x32, 0x30)
MOVE_TO_IC = (0x32, 0x31)
MOVE_TO_RF = (0x32, 0x32)
CAPTURE = (0x32, 0x33)
EJECT = (0x32, 0x39)

SENSOR_NAMES = ("gate", "ic_position", "channel_rear", "stacker_low", "stacker_empty", "bin_full")

_POSITIONS = {ord("0"): CardPosition.NONE, ord("1"): CardPosition.GATE, ord("2"): CardPosition.IC}
_STACKER = {ord("0"): StackerLevel.EMPTY, ord("1"): StackerLevel.LOW, ord("2"): StackerLevel.ENOUGH}
_BIN = {ord("0"): False, ord("1"): True}

# Device error code (ASCII e1 e0) -> fault. 60-69 (IC) are handled by range.
ERRORS: dict[str, DispenserFault] = {
    "00": DispenserFault.UNDEFINED_COMMAND,
    "01": DispenserFault.PARAMETER,
    "02": DispenserFault.SEQUENCE,
    "03": DispenserFault.UNSUPPORTED,
    "04": DispenserFault.DATA,
    "10": DispenserFault.JAM,
    "12": DispenserFault.SENSOR,
    "16": DispenserFault.CARD_MOVED,
    "45": DispenserFault.CARD_MOVED,
    "40": DispenserFault.CARD_PULLED,
    "50": DispenserFault.COUNTER_OVERFLOW,
    "51": DispenserFault.MOTOR,
    "A0": DispenserFault.STACKER_EMPTY,
    "A1": DispenserFault.BIN_FULL,
    "B0": DispenserFault.NOT_INITIALISED,
}


def command_frame(cm: int, pm: int, data: bytes = b"", address: int = 0) -> bytes:
    """The bytes of one command."""
    return encode(STX, bytes([address]), bytes([CMD, cm, pm]) + data)


def positive_frame(cm: int, pm: int, st: bytes, data: bytes = b"", address: int = 0) -> bytes:
    return encode(STX, bytes([address]), bytes([POSITIVE, cm, pm]) + st + data)


def negative_frame(cm: int, pm: int, error: str, address: int = 0, *, kind: int = 0x4E) -> bytes:
    return encode(STX, bytes([address]), bytes([kind, cm, pm]) + error.encode("ascii"))


def new_scanner() -> FrameScanner:
    return FrameScanner(STX, 1, min_body=3, max_body=512)


@dataclass(frozen=True)
class Reply:
    """A parsed reply: positive (``status`` set) or negative (``error`` set)."""

    cm: int
    pm: int
    status: DispenserStatus | None = None
    data: bytes = b""
    error: str = ""

    @property
    def positive(self) -> bool:
        return self.status is not None


def parse_reply(frame: Frame) -> Reply:
    """Decode a reply frame; ProtocolError for anything that is not a well-formed reply."""
    body = frame.body
    if len(body) < 3:
        raise ProtocolError(f"reply too short: {body.hex(' ')}", code="dispenser.protocol")
    kind, cm, pm = body[0], body[1], body[2]
    if kind == POSITIVE:
        if len(body) < 6:
            raise ProtocolError("positive reply without status bytes", code="dispenser.protocol")
        st0, st1, st2 = body[3], body[4], body[5]
        try:
            status = DispenserStatus.from_mechanics(_POSITIONS[st0], _STACKER[st1], _BIN[st2])
        except KeyError as exc:
            raise ProtocolError(
                f"bad status bytes {body[3:6].hex(' ')}", code="dispenser.protocol"
            ) from exc
        return Reply(cm, pm, status=status, data=bytes(body[6:]))
    if kind in NEGATIVE:
        if len(body) != 5 or not all(0x30 <= b <= 0x39 or 0x41 <= b <= 0x46 for b in body[3:5]):
            raise ProtocolError(f"bad negative reply {body.hex(' ')}", code="dispenser.protocol")
        return Reply(cm, pm, error=body[3:5].decode("ascii"))
    raise ProtocolError(f"unknown reply type 0x{kind:02X}", code="dispenser.protocol")


def error_for(code: str) -> DeviceError:
    """The device error for a negative reply's code."""
    fault = ERRORS.get(code)
    if fault is not None:
        return fault_error(fault, f"E{code}")
    if code.startswith("6"):
        return fault_error(DispenserFault.IC, f"E{code}", code=f"dispenser.ic.{code}")
    return fault_error(DispenserFault.OTHER, f"E{code}", code=f"dispenser.e.{code}")


class Crt591Dispenser(SerialDispenser):
    """CRT-591 driver (implements devices.dispenser.CardDispenser)."""

    MODEL: ClassVar[str] = "CRT-591"
    CAPABILITIES: ClassVar[DispenserCapabilities] = DispenserCapabilities(
        model="CRT-591", has_ic_position=True, has_eject=True, has_sensor_map=True
    )

    # --- operations -----------------------------------------------------------------------

    def _do_status(self, deadline: Deadline, cancel: CancelToken) -> DispenserStatus:
        return self._command(STATUS, deadline, cancel)

    def _do_sensors(self, deadline: Deadline, cancel: CancelToken) -> dict[str, bool]:
        reply = self._transact(*SENSORS, deadline=deadline, cancel=cancel)
        if not reply.positive:
            raise error_for(reply.error)
        sensors: dict[str, bool] = {}
        for index, byte in enumerate(reply.data):
            if byte not in (0x30, 0x31):
                raise ProtocolError(f"bad sensor byte 0x{byte:02X}", code="dispenser.protocol")
            name = SENSOR_NAMES[index] if index < len(SENSOR_NAMES) else f"sensor_{index + 1}"
            sensors[name] = byte == 0x31
        return sensors

    def _do_initialise(
        self, mode: InitMode, deadline: Deadline, cancel: CancelToken
    ) -> DispenserStatus:
        return self._command(INIT[mode], deadline, cancel)

    def _do_dispense(self, deadline: Deadline, cancel: CancelToken) -> DispenserStatus:
        return self._command(DISPENSE_TO_GATE, deadline, cancel)

    def _do_capture(self, deadline: Deadline, cancel: CancelToken) -> DispenserStatus:
        return self._command(CAPTURE, deadline, cancel)

    def _do_eject(self, deadline: Deadline, cancel: CancelToken) -> DispenserStatus:
        return self._command(EJECT, deadline, cancel)

    def move_to_ic(
        self, *, timeout_s: float = 10.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> DispenserResult:
        """Park the card at the IC read position (CRT-591 specific, ``has_ic_position``)."""
        return self._run(
            "move_to_ic",
            lambda d, c: self._command(MOVE_TO_IC, d, c),
            timeout_s,
            cancel,
        )

    # --- link -----------------------------------------------------------------------------

    def _command(
        self, cmpm: tuple[int, int], deadline: Deadline, cancel: CancelToken
    ) -> DispenserStatus:
        reply = self._transact(*cmpm, deadline=deadline, cancel=cancel)
        if reply.status is None:
            raise error_for(reply.error)
        return reply.status

    def _transact(
        self, cm: int, pm: int, data: bytes = b"", *, deadline: Deadline, cancel: CancelToken
    ) -> Reply:
        frame = command_frame(cm, pm, data, self.address)
        self._flush_input()
        self._send_until_acked(frame, deadline, cancel)
        return self._await_reply(cm, pm, deadline, cancel)

    def _await_ack(self, window: Deadline) -> int | None:
        while not window.expired:
            data = self._read()
            for i, byte in enumerate(data):
                if byte in (ACK, NAK):
                    self._unread(data[i + 1 :])
                    return byte
        return None

    def _await_reply(self, cm: int, pm: int, deadline: Deadline, cancel: CancelToken) -> Reply:
        scanner = new_scanner()
        asked_again = 0
        while True:
            if cancel.cancelled:
                self._write(bytes([EOT]))
                raise DeviceCancelled(f"{self.name}: command aborted (EOT)")
            if deadline.expired:
                self._write(bytes([EOT]))
                raise DeviceTimeout(f"{self.name}: no reply in time", code="dispenser.no_reply")
            for item in scanner.feed(self._read()):
                if isinstance(item, CorruptFrame):
                    self.link.add(corrupt_replies=1)
                    if asked_again >= self.MAX_RESENDS:
                        raise ProtocolError(
                            f"{self.name}: reply corrupt {asked_again + 1} times",
                            code="dispenser.bad_reply",
                        )
                    asked_again += 1
                    self.link.add(resends=1)
                    self._write(bytes([NAK]))
                    continue
                reply = parse_reply(item)
                if (reply.cm, reply.pm) != (cm, pm):
                    log.debug("%s: stale reply %02X %02X ignored", self.name, reply.cm, reply.pm)
                    continue
                self._write(bytes([ACK]))
                return reply
