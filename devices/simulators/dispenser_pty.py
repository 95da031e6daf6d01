"""Common machinery of the card-dispenser simulators: a pseudo-terminal link that can be
unplugged and plugged back, pacing at the baud rate, and the dispenser's mechanics (stacker,
capture bin, card position, citizen taking the card, injectable faults).

The driver opens a stable path (a symlink to the current pty slave), the way a kiosk opens
``/dev/serial/by-id/...``: unplugging closes the pty and removes the link, so the driver's
reads and writes fail; plugging back creates a fresh pty behind the same path.
"""

from __future__ import annotations

import logging
import os
import random
import select
import threading
import time
from collections.abc import Callable

from devices.dispenser import CardPosition, DispenserFault, InitMode, StackerLevel
from devices.drivers.dispenser_framing import FrameScanner
from devices.simulators.base import Simulator
from devices.simulators.pty import StablePty

log = logging.getLogger(__name__)


class DispenserMechanics:
    """The dispenser's physical state and scripted faults. Thread-safe: the test (or the
    demo) scripts it while the simulator thread operates it."""

    def __init__(
        self,
        *,
        cards: int = 50,
        low_threshold: int = 10,
        bin_capacity: int = 20,
        bin_count: int = 0,
        initialised: bool = False,
        move_s: float = 0.05,
        take_after_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lock = threading.RLock()
        self.cards = cards
        self.low_threshold = low_threshold
        self.bin_capacity = bin_capacity
        self.bin_count = bin_count
        self.initialised = initialised
        self.move_s = move_s
        self.take_after_s = take_after_s
        self.position = CardPosition.NONE
        self.clock = clock
        self.dispensed = 0
        self.taken = 0
        self.captured = 0
        self.ejected = 0
        self._take_at: float | None = None
        # Faults armed for the next matching event; link faults count down per frame.
        self.jam_next = False
        self.motor_next = False
        self.slow_next_s = 0.0
        self.link_faults: dict[str, int] = {"nak": 0, "drop_ack": 0, "corrupt": 0, "garbage": 0}

    # --- scripting ------------------------------------------------------------------------

    def take_card(self) -> bool:
        """The citizen takes the card at the gate; False when there is none."""
        with self.lock:
            if self.position is not CardPosition.GATE:
                return False
            self.position = CardPosition.NONE
            self._take_at = None
            self.taken += 1
            return True

    def auto_take(self, after_s: float | None) -> None:
        """Take every card this many seconds after it reaches the gate (None: never)."""
        with self.lock:
            self.take_after_s = after_s

    def arm_link_fault(self, kind: str, count: int = 1) -> None:
        with self.lock:
            if kind not in self.link_faults:
                raise ValueError(f"unknown link fault {kind!r}")
            self.link_faults[kind] += count

    def consume_link_fault(self, kind: str) -> bool:
        with self.lock:
            if self.link_faults[kind] > 0:
                self.link_faults[kind] -= 1
                return True
            return False

    def move_time(self) -> float:
        with self.lock:
            extra, self.slow_next_s = self.slow_next_s, 0.0
            return self.move_s + extra

    # --- state ----------------------------------------------------------------------------

    def tick(self) -> None:
        """Let the scripted citizen act (called by the simulator loop)."""
        with self.lock:
            if self._take_at is not None and self.clock() >= self._take_at:
                self.take_card()

    @property
    def stacker(self) -> StackerLevel:
        if self.cards <= 0:
            return StackerLevel.EMPTY
        if self.cards <= self.low_threshold:
            return StackerLevel.LOW
        return StackerLevel.ENOUGH

    @property
    def bin_full(self) -> bool:
        return self.bin_count >= self.bin_capacity

    # --- operations: None on success, else the fault ---------------------------------------

    def initialise(self, mode: InitMode) -> DispenserFault | None:
        with self.lock:
            if self.motor_next:
                self.motor_next = False
                return DispenserFault.MOTOR
            self.initialised = True
            if self.position is CardPosition.NONE or mode is InitMode.NO_MOVE:
                return None
            if mode is InitMode.CAPTURE_TO_BIN:
                return self._capture()
            self._arrive_at_gate()
            return None

    def dispense(self, to: CardPosition = CardPosition.GATE) -> DispenserFault | None:
        with self.lock:
            if not self.initialised:
                return DispenserFault.NOT_INITIALISED
            if self.motor_next:
                self.motor_next = False
                return DispenserFault.MOTOR
            if to is CardPosition.IC and self.position is CardPosition.NONE:
                pass  # feed a card to the IC position
            elif to is CardPosition.GATE and self.position in (
                CardPosition.IC,
                CardPosition.CHANNEL,
            ):
                self._arrive_at_gate()  # the card already in the channel goes on to the gate
                return None
            elif self.position is not CardPosition.NONE:
                return DispenserFault.SEQUENCE
            if self.cards <= 0:
                return DispenserFault.STACKER_EMPTY
            self.cards -= 1
            self.dispensed += 1
            if self.jam_next:
                self.jam_next = False
                self.position = CardPosition.CHANNEL
                return DispenserFault.JAM
            if to is CardPosition.GATE:
                self._arrive_at_gate()
            else:
                self.position = to
            return None

    def capture(self) -> DispenserFault | None:
        with self.lock:
            if not self.initialised:
                return DispenserFault.NOT_INITIALISED
            if self.motor_next:
                self.motor_next = False
                return DispenserFault.MOTOR
            return self._capture()

    def eject(self) -> DispenserFault | None:
        with self.lock:
            if not self.initialised:
                return DispenserFault.NOT_INITIALISED
            if self.position not in (CardPosition.GATE, CardPosition.IC):
                return DispenserFault.SEQUENCE
            self.position = CardPosition.NONE
            self._take_at = None
            self.ejected += 1
            return None

    def _capture(self) -> DispenserFault | None:
        if self.position is CardPosition.NONE:
            return DispenserFault.SEQUENCE
        if self.bin_full:
            return DispenserFault.BIN_FULL
        self.bin_count += 1
        self.captured += 1
        self.position = CardPosition.NONE
        self._take_at = None
        return None

    def _arrive_at_gate(self) -> None:
        self.position = CardPosition.GATE
        self._take_at = None if self.take_after_s is None else self.clock() + self.take_after_s


class PtyLink:
    """The device side of a serial line: a pty master behind a stable symlink path.

    Only the simulator thread reads and writes; plug/unplug requests from other threads are
    carried out by that thread between reads (an fd is never closed under a blocked read).
    """

    def __init__(self, *, baud: int, pace: bool, name: str) -> None:
        self.baud = baud
        self.pace = pace
        self._pty = StablePty(name)
        self.path = self._pty.path

    @property
    def _master(self) -> int | None:
        return self._pty.master

    @property
    def plugged(self) -> bool:
        return self._pty.plugged

    def plug(self) -> None:
        self._pty.plug()

    def unplug(self) -> None:
        self._pty.unplug()

    def destroy(self) -> None:
        self._pty.destroy()

    def byte_time(self, count: int) -> float:
        """Seconds ``count`` bytes take on the line (8N1: 10 bits per byte)."""
        return count * 10.0 / self.baud if self.pace else 0.0

    def read(self, timeout_s: float) -> bytes:
        """What the host sent within ``timeout_s`` (b"" on timeout or while unplugged)."""
        if self._master is None:
            time.sleep(timeout_s)
            return b""
        ready, _, _ = select.select([self._master], [], [], timeout_s)
        if not ready:
            return b""
        try:
            data = os.read(self._master, 4096)
        except OSError:  # the host side closed: nothing to read
            time.sleep(timeout_s)
            return b""
        if self.pace and data:
            time.sleep(self.byte_time(len(data)))
        return data

    def write(self, data: bytes) -> None:
        if self._master is None:
            return
        if self.pace:
            time.sleep(self.byte_time(len(data)))
        try:
            os.write(self._master, data)
        except OSError:
            log.debug("simulator write failed", exc_info=True)


def garbage(length: int, avoid: bytes) -> bytes:
    """Line noise that cannot be mistaken for a frame start or a control byte."""
    rng = random.Random()
    return bytes(b for b in rng.randbytes(length * 2) if b not in avoid)[:length]


class PtyDispenserSimulator(Simulator):
    """Base of the dispenser simulators: the thread, plug/unplug, scripting pass-through.
    Subclasses implement ``_on_bytes`` (the device's protocol)."""

    LINK_NAME = "ttyDispenser"

    def __init__(
        self,
        *,
        baud: int = 9600,
        pace: bool = False,
        address: int = 0,
        cards: int = 50,
        low_threshold: int = 10,
        bin_capacity: int = 20,
        bin_count: int = 0,
        initialised: bool = False,
        move_s: float = 0.05,
        take_after_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.address = address
        self.mechanics = DispenserMechanics(
            cards=cards,
            low_threshold=low_threshold,
            bin_capacity=bin_capacity,
            bin_count=bin_count,
            initialised=initialised,
            move_s=move_s,
            take_after_s=take_after_s,
            clock=clock,
        )
        self.link = PtyLink(baud=baud, pace=pace, name=self.LINK_NAME)
        self.frames_received = 0
        self._scanner = self._new_scanner()
        self._stash = b""  # bytes read ahead while waiting for a handshake byte
        self._want_plugged = True
        self._stop = threading.Event()
        self._settled = threading.Event()
        self._plug_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> str:
        """Start the device; returns the serial port path the driver opens."""
        self.link.plug()
        self._thread = threading.Thread(target=self._run, name=self.LINK_NAME, daemon=True)
        self._thread.start()
        return self.link.path

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.link.destroy()

    @property
    def port(self) -> str:
        return self.link.path

    # --- scripting ------------------------------------------------------------------------

    def disconnect(self) -> None:
        """Unplug the device (the port disappears; the driver's I/O fails)."""
        self._request_plugged(False)

    def reconnect(self, *, power_cycle: bool = False) -> None:
        """Plug the device back; ``power_cycle`` also loses its initialisation."""
        if power_cycle:
            with self.mechanics.lock:
                self.mechanics.initialised = False
        self._request_plugged(True)

    def take_card(self) -> bool:
        return self.mechanics.take_card()

    def auto_take(self, after_s: float | None) -> None:
        self.mechanics.auto_take(after_s)

    def jam_next_dispense(self) -> None:
        self.mechanics.jam_next = True

    def motor_fault_next(self) -> None:
        self.mechanics.motor_next = True

    def slow_next(self, extra_s: float) -> None:
        self.mechanics.slow_next_s = extra_s

    def nak_next(self, count: int = 1) -> None:
        """Answer the next command(s) with NAK, as on a bad BCC."""
        self.mechanics.arm_link_fault("nak", count)

    def drop_ack_next(self, count: int = 1) -> None:
        """Lose the next command(s) on the line: no ACK, nothing executed."""
        self.mechanics.arm_link_fault("drop_ack", count)

    def corrupt_reply_next(self, count: int = 1) -> None:
        """Send the next reply with a wrong BCC."""
        self.mechanics.arm_link_fault("corrupt", count)

    def garbage_next(self, count: int = 1) -> None:
        """Put line noise before the next reply."""
        self.mechanics.arm_link_fault("garbage", count)

    def set_cards(self, cards: int) -> None:
        with self.mechanics.lock:
            self.mechanics.cards = cards

    def set_bin(self, count: int) -> None:
        with self.mechanics.lock:
            self.mechanics.bin_count = count

    # --- thread ---------------------------------------------------------------------------

    def _request_plugged(self, plugged: bool) -> None:
        with self._plug_lock:
            self._want_plugged = plugged
            self._settled.clear()
        if self._thread is None:
            (self.link.plug if plugged else self.link.unplug)()
            return
        if not self._settled.wait(timeout=2):
            raise RuntimeError("simulator thread did not change the link")

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._plug_lock:
                if self._want_plugged != self.link.plugged:
                    (self.link.plug if self._want_plugged else self.link.unplug)()
                    self._on_replug()
                self._settled.set()
            self.mechanics.tick()
            self._tick()
            data, self._stash = self._stash, b""
            if not data:
                data = self.link.read(0.01)
            if data:
                try:
                    self._on_bytes(data)
                except Exception:
                    log.exception("%s simulator failed on %s", self.LINK_NAME, data.hex(" "))

    def _new_scanner(self) -> FrameScanner:
        raise NotImplementedError

    def _push_back(self, data: bytes) -> None:
        """Bytes read past a handshake byte: handled after the current command."""
        self._stash += data

    def _on_replug(self) -> None:
        """Forget half-received frames when the line comes back."""
        self._scanner.reset()
        self._stash = b""

    def _tick(self) -> None:
        """Periodic work of the device (e.g. completing a move)."""

    def _on_bytes(self, data: bytes) -> None:
        raise NotImplementedError

    def _wait_move(self, seconds: float, abort: int | None) -> bool:
        """Let a move take ``seconds``; True if the host aborted it with the ``abort`` byte.
        Bytes other than the abort byte are handed to ``_on_stray``."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return False
            data = self.link.read(min(left, 0.01))
            if abort is not None and abort in data:
                return True
            if data:
                self._on_stray(data)

    def _on_stray(self, data: bytes) -> None:
        """Bytes arriving while the device is busy (dropped by default)."""
        log.debug("%s: ignoring %d bytes while busy", self.LINK_NAME, len(data))
