"""K720 card dispenser simulator: the device side of the K720 framing over a pty.

A good frame is ACKed with ``06 ADDH ADDL`` (``15 ADDH ADDL`` on a bad BCC); the command runs
when the host sends ``05 ADDH ADDL``. AP answers with the four status bytes at once; DC, CP and
RS start a move that takes ``move_s``, during which AP reports busy. The status-bit table is
the one documented in devices/drivers/k720.py.
"""

from __future__ import annotations

import logging
import time

from devices.dispenser import CardPosition, DispenserFault, InitMode
from devices.drivers import k720 as wire
from devices.drivers.dispenser_framing import ACK, NAK, CorruptFrame, FrameScanner
from devices.simulators.dispenser_pty import PtyDispenserSimulator, garbage

log = logging.getLogger(__name__)

ENQ_TIMEOUT_S = 1.0

_FAULT_BITS: dict[DispenserFault, tuple[int, int]] = {  # fault -> (s1 bits, s3 bits)
    DispenserFault.JAM: (wire.S1_JAM, 0),
    DispenserFault.MOTOR: (wire.S1_MOTOR, 0),
    DispenserFault.NOT_INITIALISED: (wire.S1_NOT_RESET, 0),
    DispenserFault.DOUBLE_FEED: (wire.S1_DOUBLE_FEED, 0),
}


class K720Simulator(PtyDispenserSimulator):
    """A K720 on a pseudo-terminal. ``start()`` returns the port path for the driver."""

    LINK_NAME = "ttyK720"

    def _new_scanner(self) -> FrameScanner:
        return wire.new_scanner()

    @property
    def _addr(self) -> bytes:
        return wire.address_bytes(self.address)

    # Set by the simulator thread only.
    _busy_bit = 0
    _done_at = 0.0
    _pending: bytes = b""
    _failed_bits = 0  # s0 failure bits of the last action
    _fault_s1 = 0

    def _tick(self) -> None:
        if self._busy_bit and time.monotonic() >= self._done_at:
            self._complete(self._pending)
            self._busy_bit = 0

    def _on_bytes(self, data: bytes) -> None:
        for item in self._scanner.feed(data):
            if isinstance(item, CorruptFrame):
                self.link.write(wire.short_frame(NAK, self.address))
                continue
            if item.address != self._addr:
                continue
            self.frames_received += 1
            if self.mechanics.consume_link_fault("drop_ack"):
                continue
            if self.mechanics.consume_link_fault("nak"):
                self.link.write(wire.short_frame(NAK, self.address))
                continue
            self.link.write(wire.short_frame(ACK, self.address))
            if self._await_enq():
                self._run_command(item.body)

    def _await_enq(self) -> bool:
        enq = wire.short_frame(wire.ENQ, self.address)
        buf = b""
        end = time.monotonic() + ENQ_TIMEOUT_S
        while time.monotonic() < end:
            buf += self.link.read(0.01)
            at = buf.find(enq)
            if at >= 0:
                rest = buf[at + len(enq) :]
                self._push_back(rest)
                return True
        log.debug("k720 sim: no ENQ after ACK")
        return False

    def _run_command(self, command: bytes) -> None:
        if command == wire.STATUS:
            reply = wire.status_frame(self._status_bits(), self.address)
            if self.mechanics.consume_link_fault("garbage"):
                self.link.write(garbage(16, avoid=bytes([wire.STX, ACK, NAK])))
            if self.mechanics.consume_link_fault("corrupt"):
                reply = reply[:-1] + bytes([reply[-1] ^ 0x5A])
            self.link.write(reply)
            return
        if command not in (wire.DISPENSE, wire.CAPTURE, wire.RESET) or self._busy_bit:
            return  # unknown commands and commands while busy are ignored
        self._pending = command
        self._busy_bit = wire.S0_CAPTURING if command == wire.CAPTURE else wire.S0_DISPENSING
        self._done_at = time.monotonic() + self.mechanics.move_time()

    def _complete(self, command: bytes) -> None:
        m = self.mechanics
        if command == wire.RESET:
            fault = m.initialise(InitMode.NO_MOVE)
            failed_bit = 0
        elif command == wire.DISPENSE:
            fault = m.dispense(CardPosition.GATE)
            failed_bit = wire.S0_DISPENSE_FAILED
        else:
            fault = m.capture()
            failed_bit = wire.S0_CAPTURE_FAILED
        self._failed_bits = failed_bit if fault is not None else 0
        self._fault_s1 = _FAULT_BITS.get(fault, (0, 0))[0] if fault is not None else 0

    def _status_bits(self) -> tuple[int, int, int, int]:
        m = self.mechanics
        with m.lock:
            s0 = self._busy_bit | self._failed_bits
            s1 = self._fault_s1 | (0 if m.initialised else wire.S1_NOT_RESET)
            s2 = 0
            if m.position is CardPosition.GATE:
                s2 |= wire.S2_AT_GATE
            elif m.position in (CardPosition.CHANNEL, CardPosition.IC):
                s2 |= wire.S2_IN_CHANNEL
            s3 = 0
            if m.stacker.value == "low":
                s3 |= wire.S3_STACKER_LOW
            if m.stacker.value == "empty":
                s3 |= wire.S3_STACKER_LOW | wire.S3_STACKER_EMPTY
            if m.bin_full:
                s3 |= wire.S3_BIN_FULL
        return s0, s1, s2, s3
