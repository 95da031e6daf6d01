"""CRT-591 card dispenser simulator: the device side of devices.md section 4 over a pty.

Answers ACK to a good command frame (NAK on a bad BCC), executes it (a move takes
``move_s``; EOT from the host aborts it), replies positive with st0 st1 st2 or negative with
the error code, and waits for the host's ACK (a NAK makes it send the reply again). Until
initialised every command but init answers B0.
"""

from __future__ import annotations

import logging
import time

from devices.dispenser import CardPosition, DispenserFault
from devices.drivers import crt591 as wire
from devices.drivers.dispenser_framing import ACK, NAK, CorruptFrame, FrameScanner
from devices.simulators.dispenser_pty import PtyDispenserSimulator, garbage

log = logging.getLogger(__name__)

_ERROR_CODES: dict[DispenserFault, str] = {
    DispenserFault.NOT_INITIALISED: "B0",
    DispenserFault.MOTOR: "51",
    DispenserFault.SEQUENCE: "02",
    DispenserFault.STACKER_EMPTY: "A0",
    DispenserFault.BIN_FULL: "A1",
    DispenserFault.JAM: "10",
    DispenserFault.CARD_PULLED: "40",
}
_INIT_MODES = {pm: mode for mode, (_cm, pm) in wire.INIT.items()}
_ST0 = {CardPosition.NONE: b"0", CardPosition.GATE: b"1", CardPosition.IC: b"2"}
_ST1 = {"empty": b"0", "low": b"1", "enough": b"2"}
HOST_ACK_TIMEOUT_S = 1.0
MAX_REPLY_RESENDS = 3


class Crt591Simulator(PtyDispenserSimulator):
    """A CRT-591 on a pseudo-terminal. ``start()`` returns the port path for the driver."""

    LINK_NAME = "ttyCRT591"

    def _new_scanner(self) -> FrameScanner:
        return wire.new_scanner()

    def _on_bytes(self, data: bytes) -> None:
        for item in self._scanner.feed(data):
            if isinstance(item, CorruptFrame):
                self.link.write(bytes([NAK]))
                continue
            if item.address != bytes([self.address]):
                continue  # another device on the bus
            self.frames_received += 1
            body = item.body
            if body[0] != wire.CMD:
                self.link.write(bytes([NAK]))
                continue
            if self.mechanics.consume_link_fault("drop_ack"):
                log.debug("crt591 sim: dropping a command (no ACK)")
                continue
            if self.mechanics.consume_link_fault("nak"):
                self.link.write(bytes([NAK]))
                continue
            self.link.write(bytes([ACK]))
            reply = self._execute(body[1], body[2])
            if reply is not None:
                self._send_reply(reply)

    def _execute(self, cm: int, pm: int) -> bytes | None:
        """The reply frame, or None when the host aborted with EOT."""
        m = self.mechanics
        if (cm, pm) in (wire.STATUS, wire.SENSORS):
            fault: DispenserFault | None = None
        else:
            moving = self._wait_move(m.move_time(), abort=wire.EOT)
            if moving:
                log.debug("crt591 sim: command %02X %02X aborted by EOT", cm, pm)
                return None
            fault = self._operate(cm, pm)
            if fault is DispenserFault.UNDEFINED_COMMAND:
                return wire.negative_frame(cm, pm, "00", self.address)
        if fault is None and not m.initialised and cm != 0x30:
            fault = DispenserFault.NOT_INITIALISED
        if fault is not None:
            return wire.negative_frame(cm, pm, _ERROR_CODES.get(fault, "02"), self.address)
        with m.lock:
            st = _ST0.get(m.position, b"0") + _ST1[m.stacker.value] + (b"1" if m.bin_full else b"0")
            data = b""
            if (cm, pm) == wire.SENSORS:
                flags = (
                    m.position is CardPosition.GATE,
                    m.position is CardPosition.IC,
                    m.position is CardPosition.CHANNEL,
                    m.stacker.value != "enough",
                    m.stacker.value == "empty",
                    m.bin_full,
                )
                data = bytes(0x31 if f else 0x30 for f in flags)
        return wire.positive_frame(cm, pm, st, data, self.address)

    def _operate(self, cm: int, pm: int) -> DispenserFault | None:
        m = self.mechanics
        if cm == 0x30 and pm in _INIT_MODES:
            return m.initialise(_INIT_MODES[pm])
        if not m.initialised:
            return DispenserFault.NOT_INITIALISED
        if (cm, pm) == wire.DISPENSE_TO_GATE:
            return m.dispense(CardPosition.GATE)
        if (cm, pm) in (wire.MOVE_TO_IC, wire.MOVE_TO_RF):
            return m.dispense(CardPosition.IC)
        if (cm, pm) == wire.CAPTURE:
            return m.capture()
        if (cm, pm) == wire.EJECT:
            return m.eject()
        return DispenserFault.UNDEFINED_COMMAND

    def _send_reply(self, reply: bytes) -> None:
        for _attempt in range(MAX_REPLY_RESENDS + 1):
            if self.mechanics.consume_link_fault("garbage"):
                self.link.write(garbage(16, avoid=bytes([wire.STX, ACK, NAK])))
            if self.mechanics.consume_link_fault("corrupt"):
                self.link.write(reply[:-1] + bytes([reply[-1] ^ 0x5A]))
            else:
                self.link.write(reply)
            answer = self._await_host(HOST_ACK_TIMEOUT_S)
            if answer != NAK:
                return
        log.debug("crt591 sim: host kept refusing the reply")

    def _await_host(self, timeout_s: float) -> int | None:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            data = self.link.read(0.01)
            for i, byte in enumerate(data):
                if byte in (ACK, NAK, wire.EOT):
                    self._push_back(data[i + 1 :])
                    return byte
        return None
