"""KYT / TTCE K720 card dispenser over a serial line (devices.md section 4, last part).

Frame: STX 02 | ADDH ADDL (ASCII digits) | LENH LENL | ASCII command | ETX 03 | BCC
(XOR of STX..ETX). The device ACKs a good frame with ``06 ADDH ADDL`` (``15 ADDH ADDL`` on a
bad BCC: the host resends, bounded); the host then sends ``ENQ 05 ADDH ADDL`` to execute it.
Commands: ``DC`` dispense to the gate, ``CP`` capture to the bin, ``RS`` reset, ``AP`` status.

Action commands (DC, CP, RS) get no reply frame: the device moves the card and the host
polls ``AP`` until the busy bits clear, then reads the error bits. ``AP`` answers with the
frame ``02 ADDH ADDL 00 06 'S' 'F' s0 s1 s2 s3 03 BCC``.

Status bits. The public sources give the framing but not a bit table we could verify, so the
meaning below is this project's definition (the simulator implements the same table); check
it against the manual of the firmware actually installed before field use. Each status byte
is 0x30 | bits:

    byte  bit0               bit1                  bit2                 bit3
    s0    dispensing         capturing             last dispense failed last capture failed
    s1    card jam           double feed           motor / mechanism    not reset (power-on)
    s2    card at gate       card in channel       -                    -
    s3    stacker low        stacker empty         capture bin full     -

The K720 has no IC position and no "eject out of the gate"; cancelling an action only stops
the host from waiting (the device completes its move and the next status shows where the
card is).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

from devices.base import CancelToken, Deadline, DeviceCancelled, DeviceTimeout, ProtocolError
from devices.dispenser import (
    CardPosition,
    DispenserCapabilities,
    DispenserFault,
    DispenserStatus,
    InitMode,
    StackerLevel,
    fault_error,
)
from devices.drivers.dispenser_framing import ACK, NAK, CorruptFrame, Frame, FrameScanner, encode
from devices.drivers.serial_dispenser import SerialDispenser

log = logging.getLogger(__name__)

STX = 0x02
ENQ = 0x05
EOT = 0x04

DISPENSE = b"DC"
CAPTURE = b"CP"
RESET = b"RS"
STATUS = b"AP"
STATUS_REPLY = b"SF"

# Bit positions (see the module docstring).
S0_DISPENSING, S0_CAPTURING, S0_DISPENSE_FAILED, S0_CAPTURE_FAILED = 1, 2, 4, 8
S1_JAM, S1_DOUBLE_FEED, S1_MOTOR, S1_NOT_RESET = 1, 2, 4, 8
S2_AT_GATE, S2_IN_CHANNEL = 1, 2
S3_STACKER_LOW, S3_STACKER_EMPTY, S3_BIN_FULL = 1, 2, 4

POLL_S = 0.02  # status poll period while an action runs


def address_bytes(address: int) -> bytes:
    return f"{address:02d}".encode("ascii")


def command_frame(command: bytes, address: int = 0) -> bytes:
    return encode(STX, address_bytes(address), command)


def status_frame(bits: tuple[int, int, int, int], address: int = 0) -> bytes:
    """The device's answer to AP."""
    return encode(STX, address_bytes(address), STATUS_REPLY + bytes(0x30 | b for b in bits))


def short_frame(control: int, address: int = 0) -> bytes:
    """ACK / NAK / ENQ / EOT followed by the address digits."""
    return bytes([control]) + address_bytes(address)


def new_scanner() -> FrameScanner:
    return FrameScanner(
        STX, 2, min_body=2, max_body=256, address_ok=lambda a: a.isdigit() and a.isascii()
    )


@dataclass(frozen=True)
class K720Status:
    """The four status bytes, decoded."""

    s0: int
    s1: int
    s2: int
    s3: int

    @property
    def busy(self) -> bool:
        return bool(self.s0 & (S0_DISPENSING | S0_CAPTURING))

    @property
    def position(self) -> CardPosition:
        if self.s2 & S2_AT_GATE:
            return CardPosition.GATE
        if self.s2 & S2_IN_CHANNEL:
            return CardPosition.CHANNEL
        return CardPosition.NONE

    @property
    def stacker(self) -> StackerLevel:
        if self.s3 & S3_STACKER_EMPTY:
            return StackerLevel.EMPTY
        if self.s3 & S3_STACKER_LOW:
            return StackerLevel.LOW
        return StackerLevel.ENOUGH

    def dispenser_status(self) -> DispenserStatus:
        return DispenserStatus.from_mechanics(
            self.position, self.stacker, bool(self.s3 & S3_BIN_FULL)
        )

    def failure(self, failed_bit: int) -> DispenserFault | None:
        """The fault behind a failed action (``failed_bit`` is the s0 bit of that action)."""
        if self.s1 & S1_NOT_RESET:
            return DispenserFault.NOT_INITIALISED
        if not self.s0 & failed_bit:
            return None
        for bit, fault in (
            (S1_MOTOR, DispenserFault.MOTOR),
            (S1_JAM, DispenserFault.JAM),
            (S1_DOUBLE_FEED, DispenserFault.DOUBLE_FEED),
        ):
            if self.s1 & bit:
                return fault
        if failed_bit == S0_DISPENSE_FAILED and self.s3 & S3_STACKER_EMPTY:
            return DispenserFault.STACKER_EMPTY
        if failed_bit == S0_CAPTURE_FAILED and self.s3 & S3_BIN_FULL:
            return DispenserFault.BIN_FULL
        return DispenserFault.SEQUENCE


def parse_status(frame: Frame) -> K720Status:
    """Decode an AP answer; ProtocolError for anything else."""
    body = frame.body
    if len(body) != 6 or body[:2] != STATUS_REPLY:
        raise ProtocolError(f"not a status frame: {body.hex(' ')}", code="dispenser.protocol")
    bits = [b - 0x30 for b in body[2:6]]
    if any(not 0 <= b <= 0x0F for b in bits):
        raise ProtocolError(f"bad status bytes {body[2:].hex(' ')}", code="dispenser.protocol")
    return K720Status(*bits)


class K720Dispenser(SerialDispenser):
    """K720 driver (implements devices.dispenser.CardDispenser)."""

    MODEL: ClassVar[str] = "K720"
    CAPABILITIES: ClassVar[DispenserCapabilities] = DispenserCapabilities(model="K720")

    def _do_status(self, deadline: Deadline, cancel: CancelToken) -> DispenserStatus:
        return self._query(deadline, cancel).dispenser_status()

    def _do_sensors(self, deadline: Deadline, cancel: CancelToken) -> dict[str, bool]:
        st = self._query(deadline, cancel)
        return {
            "gate": bool(st.s2 & S2_AT_GATE),
            "channel": bool(st.s2 & S2_IN_CHANNEL),
            "stacker_low": bool(st.s3 & S3_STACKER_LOW),
            "stacker_empty": bool(st.s3 & S3_STACKER_EMPTY),
            "bin_full": bool(st.s3 & S3_BIN_FULL),
        }

    def _do_initialise(
        self, mode: InitMode, deadline: Deadline, cancel: CancelToken
    ) -> DispenserStatus:
        st = self._action(RESET, 0, deadline, cancel)
        if st.position is CardPosition.NONE or mode is InitMode.NO_MOVE:
            return st.dispenser_status()
        if mode is InitMode.CAPTURE_TO_BIN:
            return self._action(CAPTURE, S0_CAPTURE_FAILED, deadline, cancel).dispenser_status()
        if st.position is CardPosition.GATE:
            return st.dispenser_status()
        return self._action(DISPENSE, S0_DISPENSE_FAILED, deadline, cancel).dispenser_status()

    def _do_dispense(self, deadline: Deadline, cancel: CancelToken) -> DispenserStatus:
        return self._action(DISPENSE, S0_DISPENSE_FAILED, deadline, cancel).dispenser_status()

    def _do_capture(self, deadline: Deadline, cancel: CancelToken) -> DispenserStatus:
        return self._action(CAPTURE, S0_CAPTURE_FAILED, deadline, cancel).dispenser_status()

    def _do_eject(self, deadline: Deadline, cancel: CancelToken) -> DispenserStatus:
        raise fault_error(DispenserFault.UNSUPPORTED, "K720 cannot eject")

    # --- link -----------------------------------------------------------------------------

    def _action(
        self, command: bytes, failed_bit: int, deadline: Deadline, cancel: CancelToken
    ) -> K720Status:
        """Start an action, poll until it completes, raise the fault it reports."""
        self._execute(command, deadline, cancel)
        while True:
            st = self._query(deadline, cancel)
            if not st.busy:
                break
            if deadline.expired:
                raise DeviceTimeout(
                    f"{self.name}: {command.decode()} did not complete", code="dispenser.no_reply"
                )
            if cancel.wait(POLL_S):
                raise DeviceCancelled(f"{self.name}: wait for {command.decode()} cancelled")
        fault = st.failure(failed_bit) if command != RESET else None
        if fault is not None:
            raise fault_error(fault, f"{command.decode()} status {st}")
        return st

    def _query(self, deadline: Deadline, cancel: CancelToken) -> K720Status:
        """AP; a corrupt or malformed answer is asked for again (bounded)."""
        for attempt in range(self.MAX_RESENDS + 1):
            if attempt:
                self.link.add(resends=1)
            self._execute(STATUS, deadline, cancel)
            frame = self._await_frame(deadline, cancel)
            if frame is not None:
                return parse_status(frame)
            self.link.add(corrupt_replies=1)
        raise ProtocolError(f"{self.name}: status answer corrupt", code="dispenser.bad_reply")

    def _execute(self, command: bytes, deadline: Deadline, cancel: CancelToken) -> None:
        """Send the command until it is ACKed, then ENQ to execute it."""
        self._flush_input()
        self._send_until_acked(command_frame(command, self.address), deadline, cancel)
        self._write(short_frame(ENQ, self.address))

    def _await_ack(self, window: Deadline) -> int | None:
        """ACK or NAK followed by our address digits; anything else is skipped."""
        expected = address_bytes(self.address)
        buf = bytearray()
        while not window.expired:
            buf += self._read()
            while len(buf) >= 3:
                if buf[0] in (ACK, NAK) and bytes(buf[1:3]) == expected:
                    self._unread(bytes(buf[3:]))
                    return buf[0]
                del buf[0]
        return None

    def _await_frame(self, deadline: Deadline, cancel: CancelToken) -> Frame | None:
        """The next frame from our address; None when it arrives corrupt."""
        scanner = new_scanner()
        expected = address_bytes(self.address)
        while True:
            cancel.raise_if_cancelled()
            if deadline.expired:
                raise DeviceTimeout(f"{self.name}: no status in time", code="dispenser.no_reply")
            for item in scanner.feed(self._read()):
                if isinstance(item, CorruptFrame):
                    return None
                if item.address == expected:
                    return item
