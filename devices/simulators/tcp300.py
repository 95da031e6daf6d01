"""A TCP300II-compatible card rewriter on a pseudo-terminal (or loopback TCP): the command
set of devices/tcp300.py with its handshake, a motorised slot and transport, a capture bin,
the raster buffer, and each card's rewritable film, rendered as PNG of the card's back.

Film: erasing clears every dot; printing darkens the dots that are black in the raster
buffer and leaves the others as they were, so a print without erase overprints.

Scripting (any thread): ``present_card`` (the citizen inserts a card), ``take_card``,
``pull_card`` (yanked out while inside), ``auto_insert`` / ``auto_take`` (a scripted
citizen), ``jam_next``, ``motor_fault_next``, ``set_cover``, ``set_head_fault``,
``clear_faults``; link faults ``nak_next``, ``drop_ack_next``, ``corrupt_reply_next``,
``inject_garbage``. Observation: ``card``, ``place``, ``captured``, ``taken``, ``commands``,
``render_back`` / ``back_png`` / ``save_back``.

Timing: with ``pace`` the line runs at the baud rate and the mechanism takes the times of
``RewriterTimings``; without, everything is immediate (tests). The manual gives only the reset
time (about 3 s); the transport and head times are ASSUMED (docs/devices.md).
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from devices import tcp300 as wire
from devices.rewriter import DOTS_PER_MM, PRINT_HEIGHT, PRINT_WIDTH, CardPlace
from devices.simulators.serial_line import SerialLineSimulator

log = logging.getLogger(__name__)

CARD_SIZE_MM = (85.6, 54.0)  # ISO/IEC 7810 ID-1
FILM_COLOUR = (236, 236, 230)
DOT_COLOUR = (28, 36, 84)  # leuco dye: dark blue-black
EDGE_COLOUR = (150, 150, 150)


@dataclass(frozen=True)
class RewriterTimings:
    """Mechanism times when paced. ASSUMED except ``reset_s`` (manual 3-2, note 4)."""

    transport_s: float = 0.8  # slot <-> inside, or between the idle positions
    erase_s: float = 2.0  # one pass under the erase head
    print_s: float = 2.0  # one pass under the print head
    erase_print_s: float = 2.5  # one pass under both heads (erase head first)
    reset_s: float = 3.0


NO_DELAY = RewriterTimings(0.0, 0.0, 0.0, 0.0, 0.0)


@dataclass
class PermitCard:
    """A card-type permit as the module sees it. ``film``: dots of the printable area,
    True = dark."""

    label: str = "permit"
    film_ok: bool = True
    reversed: bool = False
    film: npt.NDArray[np.bool_] = field(
        default_factory=lambda: np.zeros((PRINT_HEIGHT, PRINT_WIDTH), dtype=bool)
    )
    erases: int = 0
    prints: int = 0


class _Abort(Exception):
    """The running command was stopped by 54h or 5Fh: it sends no reply."""


class Tcp300Simulator(SerialLineSimulator):
    """The module. ``start()`` returns the port for the driver's ``port`` setting."""

    kind = "tcp300"
    FIRMWARE = "TCP300II V1.00 SIM"

    def __init__(
        self,
        *,
        baud: int = 115_200,
        pace: bool = False,
        reply_delay_s: float = 0.0,
        transport: str = "pty",
        timings: RewriterTimings | None = None,
        card: PermitCard | None = None,
        insert_after_s: float | None = None,
        take_after_s: float | None = None,
    ) -> None:
        super().__init__(baud=baud, pace=pace, reply_delay_s=reply_delay_s, transport=transport)
        self.timings = timings or (RewriterTimings() if pace else NO_DELAY)
        self._lock = threading.RLock()
        self._arrival = threading.Condition(self._lock)
        self._scanner = wire.BlockScanner()
        self.card: PermitCard | None = None
        self.place = CardPlace.NONE
        self.waiting_removal = False
        self.last_card: PermitCard | None = None
        self.captured: list[PermitCard] = []
        self.taken: list[PermitCard] = []
        self.commands: list[int] = []
        self.raster = np.zeros((PRINT_HEIGHT, PRINT_WIDTH), dtype=bool)
        self.cover_open = False
        self.jammed = False
        self.head_fault: int | None = None
        self.film_error = False
        self._jam_next = False
        self._motor_next = False
        self._link_faults = {"nak": 0, "drop_ack": 0, "corrupt": 0}
        self._last_reply: bytes | None = None
        self._job: threading.Thread | None = None
        self._busy = threading.Event()  # a command executes (cleared before its reply goes)
        self._abort = threading.Event()
        self._in_wait = False
        self.insert_after_s = insert_after_s
        self.take_after_s = take_after_s
        self._timers: list[threading.Timer] = []
        if card is not None:
            self.present_card(card)

    def stop(self) -> None:
        self._abort_job()
        for timer in self._timers:
            timer.cancel()
        super().stop()

    # --- the citizen and the engineer -------------------------------------------------------

    def present_card(self, card: PermitCard | None = None) -> PermitCard:
        """The citizen puts a card into the slot; a command waiting for one takes it in."""
        with self._lock:
            if self.place is not CardPlace.NONE:
                raise RuntimeError(f"the slot is not free (card {self.place.value})")
            self.card = card or PermitCard()
            self.last_card = self.card
            self.place, self.waiting_removal = CardPlace.SLOT, False
            self._arrival.notify_all()
            return self.card

    def take_card(self) -> bool:
        """The citizen takes the card out of the slot; False when none is there."""
        with self._lock:
            if self.place is not CardPlace.SLOT or self.card is None:
                return False
            self.taken.append(self.card)
            self._leave()
            return True

    def pull_card(self) -> bool:
        """The card is yanked out of the module from wherever it is (a fault)."""
        with self._lock:
            if self.card is None:
                return False
            self._leave()
            return True

    def auto_insert(self, after_s: float | None) -> None:
        """Insert a fresh card this long after a command starts waiting for one."""
        self.insert_after_s = after_s

    def auto_take(self, after_s: float | None) -> None:
        """Take every handed-back card this long after it reaches the slot."""
        self.take_after_s = after_s

    def jam_next(self) -> None:
        self._jam_next = True

    def motor_fault_next(self) -> None:
        self._motor_next = True

    def set_cover(self, open_: bool) -> None:
        with self._lock:
            self.cover_open = open_

    def set_head_fault(self, head: str | None) -> None:
        """'erase' (43h) or 'print' (46h) head broken until ``clear_faults``; None: fine."""
        codes = {None: None, "erase": 0x43, "print": 0x46}
        if head not in codes:
            raise ValueError("head must be 'erase', 'print' or None")
        with self._lock:
            self.head_fault = codes[head]

    def clear_faults(self) -> None:
        with self._lock:
            self.jammed = False
            self.head_fault = None
            self.cover_open = False

    def nak_next(self, count: int = 1) -> None:
        self._link_faults["nak"] += count

    def drop_ack_next(self, count: int = 1) -> None:
        """Lose the next command(s) on the line: no ACK, nothing executed."""
        self._link_faults["drop_ack"] += count

    def corrupt_reply_next(self, count: int = 1) -> None:
        self._link_faults["corrupt"] += count

    # --- what the back of the card shows -------------------------------------------------------

    def render_back(self, card: PermitCard | None = None) -> Image.Image:
        """The back of ``card`` (default: the card in the module, else the last one) at
        8 dots per mm: the film, the printed dots, the card's edge."""
        card = card or self.card or self.last_card
        width = round(CARD_SIZE_MM[0] * DOTS_PER_MM)
        height = round(CARD_SIZE_MM[1] * DOTS_PER_MM)
        image = Image.new("RGB", (width, height), (255, 255, 255))
        draw = ImageDraw.Draw(image)
        radius = round(3.18 * DOTS_PER_MM)  # ID-1 corner radius
        draw.rounded_rectangle(
            (0, 0, width - 1, height - 1), radius, fill=FILM_COLOUR, outline=EDGE_COLOUR
        )
        if card is not None:
            left, top = (width - PRINT_WIDTH) // 2, (height - PRINT_HEIGHT) // 2
            pixels = np.asarray(image).copy()
            area = pixels[top : top + PRINT_HEIGHT, left : left + PRINT_WIDTH]
            area[card.film] = DOT_COLOUR
            image = Image.fromarray(pixels)
        return image

    def back_png(self, card: PermitCard | None = None) -> bytes:
        buffer = io.BytesIO()
        self.render_back(card).save(buffer, "PNG")
        return buffer.getvalue()

    def save_back(self, path: str | Path, card: PermitCard | None = None) -> Path:
        target = Path(path)
        target.write_bytes(self.back_png(card))
        return target

    # --- the line -------------------------------------------------------------------------------

    def on_bytes(self, data: bytes) -> None:
        self.pace_delay(len(data))
        for item in self._scanner.feed(data):
            if isinstance(item, wire.Control):
                if item.byte == wire.NAK and self._last_reply is not None:
                    self.send(self._last_reply)  # the host asks for the reply again
                elif item.byte == wire.ACK:
                    self._last_reply = None
            elif isinstance(item, wire.CorruptBlock):
                self.write_raw(bytes([wire.NAK]))
            else:
                self._on_command(item.command, item.body[1:])

    def _on_command(self, command: int, data: bytes) -> None:
        self.commands.append(command)
        if self._consume("drop_ack"):
            return
        if self._consume("nak"):
            self.write_raw(bytes([wire.NAK]))
            return
        busy = self._busy.is_set()
        if not _well_formed(command, data) or (busy and command not in wire.PRIORITY):
            self.write_raw(bytes([wire.DLE]))
            return
        self.write_raw(bytes([wire.ACK]))
        if command == wire.Command.CANCEL_WAIT:
            self._finish_or_abort_waiting_job()
            self._reply(command, wire.STATUS_OK)
        elif command == wire.Command.RESET:
            self._abort_job()
            self._start_job(command, self._reset)
        elif command == wire.Command.STATUS:
            self._reply(command, *self._status())
        elif command == wire.Command.ROM_VERSION:
            self._reply(command, wire.STATUS_OK, self.FIRMWARE.encode())
        elif command == wire.Command.BUFFER_CLEAR:
            with self._lock:
                self.raster[:] = False
            self._reply(command, wire.STATUS_OK)
        elif command == wire.Command.IMAGE_EXPAND:
            self._reply(command, self._expand(data))
        elif command in (wire.Command.REAR_IDLE, wire.Command.FRONT_IDLE):
            target = CardPlace.CHIP if command == wire.Command.REAR_IDLE else CardPlace.FRONT
            self._start_job(command, lambda: self._idle(target))
        elif command == wire.Command.ERASE_PRINT:
            after, erase, print_ = data.decode().split(",") if data else ["1", "1", "1"]
            self._start_job(command, lambda: self._erase_print(after, erase == "1", print_ == "1"))
        elif command == wire.Command.DISCHARGE:
            self._start_job(command, lambda: self._discharge(data.decode()))

    def _consume(self, fault: str) -> bool:
        if self._link_faults[fault] > 0:
            self._link_faults[fault] -= 1
            return True
        return False

    def _reply(self, command: int, status: int, data: bytes = b"") -> None:
        frame = wire.reply_frame(command, status, data)
        self._last_reply = frame
        if self._consume("corrupt"):
            frame = frame[:-1] + bytes([frame[-1] ^ 0xFF])
        self.send(frame)

    def _status(self) -> tuple[int, bytes]:
        with self._lock:
            inside = self.place in (CardPlace.FRONT, CardPlace.CHIP, CardPlace.CHANNEL)
            sensors = wire.Sensors(
                inlet=(2 if self.waiting_removal else 1) if self.place is CardPlace.SLOT else 0,
                front=self.place is CardPlace.FRONT,
                heads=self.place is CardPlace.CHANNEL,
                rear=self.place is CardPlace.CHIP,
                cover_open=self.cover_open,
            )
            code = wire.STATUS_OK
            if self.jammed:
                code = wire.STATUS_JAM
            elif self.cover_open:
                code = wire.STATUS_COVER
            elif self.head_fault is not None:
                code = self.head_fault
            elif self.film_error and inside:
                code = wire.STATUS_FILM
            return code, sensors.encode()

    def _expand(self, data: bytes) -> int:
        x, y, length, image = wire.parse_image_command(data)
        columns = len(image) // length
        if x + columns > PRINT_WIDTH or y + length > wire.BYTE_ROWS:
            return 0x51  # expand buffer overflow
        block = np.frombuffer(image, dtype=np.uint8).reshape(columns, length).T
        bits = np.unpackbits(block[:, None, :], axis=1, bitorder="little").astype(bool)
        with self._lock:
            self.raster[8 * y : 8 * (y + length), x : x + columns] |= bits.reshape(
                8 * length, columns
            )
        return wire.STATUS_OK

    # --- the mechanism (on a job thread) -------------------------------------------------------

    def _start_job(self, command: int, work: Callable[[], tuple[int, bytes] | int]) -> None:
        self._abort = threading.Event()
        self._busy.set()

        def run() -> None:
            try:
                outcome = work()
            except _Abort:
                log.debug("tcp300 sim: command %02X stopped", command)
                self._busy.clear()
                return
            status, data = outcome if isinstance(outcome, tuple) else (outcome, b"")
            self._busy.clear()  # the host may send its next command as soon as it has the reply
            self._reply(command, status, data)

        self._job = threading.Thread(target=run, name=f"sim-tcp300-{command:02X}", daemon=True)
        self._job.start()

    def _abort_job(self) -> None:
        job = self._job
        if job is not None and job.is_alive():
            self._abort.set()
            with self._lock:
                self._arrival.notify_all()
            job.join(5)

    def _finish_or_abort_waiting_job(self) -> None:
        """54h: a command still waiting for a card is cancelled (no reply); one that has its
        card already runs to its end and replies first."""
        job = self._job
        if job is None or not job.is_alive():
            return
        with self._lock:
            waiting = self._in_wait
        if waiting:
            self._abort_job()
        else:
            job.join(30)

    def _pause(self, seconds: float) -> None:
        if self._abort.wait(seconds) if seconds > 0 else self._abort.is_set():
            raise _Abort

    def _await_card(self) -> None:
        """Wait for a card in the slot (the insertion wait 54h may cancel)."""
        with self._lock:
            if self.place is not CardPlace.NONE:
                return
            self._in_wait = True
            if self.insert_after_s is not None:
                self._later(self.insert_after_s, self._auto_present)
            try:
                while self.place is CardPlace.NONE:
                    if self._abort.is_set():
                        raise _Abort
                    self._arrival.wait(0.05)
            finally:
                self._in_wait = False

    def _auto_present(self) -> None:
        if self.place is CardPlace.NONE:
            self.present_card()

    def _mechanical_fault(self) -> int | None:
        with self._lock:
            if self.cover_open:
                return wire.STATUS_COVER
            if self.jammed:
                return wire.STATUS_JAM
            if self._motor_next:
                self._motor_next = False
                return 0x42
        return None

    def _transport(self, target: CardPlace) -> int:
        """Move the card (which must be there) to ``target``."""
        self._pause(self.timings.transport_s)
        with self._lock:
            if self.card is None:
                return 0x22  # pulled out meanwhile
            if self._jam_next:
                self._jam_next = False
                self.jammed = True
                self.place = CardPlace.CHANNEL
                return wire.STATUS_JAM
            self.place = target
            self.waiting_removal = False
        return wire.STATUS_OK

    def _idle(self, target: CardPlace) -> int:
        fault = self._mechanical_fault()
        if fault is not None:
            return fault
        self._await_card()
        with self._lock:
            card = self.card
            if card is None:
                return 0x22
            if card.reversed and self.place is CardPlace.SLOT:
                self.waiting_removal = True  # handed straight back
                return 0x23
        return self._transport(target)

    def _erase_print(self, after: str, erase: bool, print_: bool) -> int:
        fault = self._mechanical_fault()
        if fault is not None:
            return fault
        self._await_card()
        with self._lock:
            if self.head_fault == 0x43 and erase:
                return 0x43
            if self.head_fault == 0x46 and print_:
                return 0x46
            card = self.card
            if card is None:
                return 0x22
            if not card.film_ok:
                self.film_error = True
                return wire.STATUS_FILM
            self.place = CardPlace.CHANNEL
        passes = {
            (True, True): self.timings.erase_print_s,
            (True, False): self.timings.erase_s,
            (False, True): self.timings.print_s,
        }
        self._pause(passes.get((erase, print_), 0.0))
        with self._lock:
            if self.card is not card:
                return 0x22
            if erase:
                card.film[:] = False
                card.erases += 1
            if print_:
                card.film |= self.raster
                card.prints += 1
        if after == "2":
            return self._to_bin()
        if after == "1":
            return self._hand_back()
        return self._transport(CardPlace.FRONT)

    def _discharge(self, method: str) -> int:
        fault = self._mechanical_fault()
        if fault is not None:
            return fault
        with self._lock:
            if self.card is None:
                return 0x22
        return self._to_bin() if method == "2" else self._hand_back()

    def _hand_back(self) -> int:
        status = self._transport(CardPlace.SLOT)
        if status == wire.STATUS_OK:
            with self._lock:
                self.waiting_removal = True
            if self.take_after_s is not None:
                self._later(self.take_after_s, self.take_card)
        return status

    def _to_bin(self) -> int:
        self._pause(self.timings.transport_s)
        with self._lock:
            if self.card is None:
                return 0x22
            self.captured.append(self.card)
            self._leave()
        return wire.STATUS_OK

    def _reset(self) -> int:
        self._pause(self.timings.reset_s)
        with self._lock:
            self.raster[:] = False
            self.jammed = False
            self._jam_next = self._motor_next = False
            if self.card is not None and self.place is not CardPlace.SLOT:
                self.place, self.waiting_removal = (
                    CardPlace.SLOT,
                    True,
                )  # a card inside is discharged
            return self.head_fault if self.head_fault is not None else wire.STATUS_OK

    def _leave(self) -> None:
        self.card = None
        self.place = CardPlace.NONE
        self.waiting_removal = False
        self.film_error = False

    def _later(self, seconds: float, action: Callable[[], object]) -> None:
        timer = threading.Timer(seconds, action)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()


def _well_formed(command: int, data: bytes) -> bool:
    """Parameters the module accepts; anything else is rejected with DLE."""
    text = data.decode("ascii", errors="replace")
    if command in (
        wire.Command.STATUS,
        wire.Command.ROM_VERSION,
        wire.Command.BUFFER_CLEAR,
        wire.Command.REAR_IDLE,
        wire.Command.FRONT_IDLE,
        wire.Command.CANCEL_WAIT,
        wire.Command.RESET,
    ):
        return not data
    if command == wire.Command.DISCHARGE:
        return text in (wire.DISCHARGE_REUSE, wire.DISCHARGE_OUT, wire.DISCHARGE_BACK)
    if command == wire.Command.ERASE_PRINT:
        parts = text.split(",") if data else []
        return not parts or (
            len(parts) == 3
            and parts[0] in "012"
            and parts[1] in "01"
            and parts[2] in "01"
            and all(len(p) == 1 for p in parts)
        )
    if command == wire.Command.IMAGE_EXPAND:
        try:
            wire.parse_image_command(data)
        except ValueError:
            return False
        return True
    return False
