"""ESC/POS receipt printer simulator on a pty.

It parses the byte stream the way a printer does (commands with their argument lengths,
text in the current mode: GB18030 inside FS & ... FS ., code page 437 outside), records what
would appear on paper (text lines with their style, QR and CODE128 payloads, raster images,
cuts) so tests can assert on the printout, and answers DLE EOT 1..4 with real status bytes.

Scripting (any thread): ``set_paper(near_end_after=N, out_after=N)`` (lines from now),
``set_cover(open)``, ``fail_next_cut()``, ``clear_errors()``, ``inject_garbage``,
``reply_delay_s``, ``disconnect`` / ``reconnect``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from devices import escpos
from devices.printer import PaperState, PrinterStatus
from devices.simulators.serial_line import SerialLineSimulator

log = logging.getLogger(__name__)

_LINE_DOTS = 24


@dataclass(frozen=True)
class PrintedItem:
    """One thing on paper: kind is text, feed, qr, code128, image or cut."""

    kind: str
    text: str = ""
    bold: bool = False
    large: bool = False
    align: int = 0
    width: int = 0
    height: int = 0


@dataclass
class _Mode:
    bold: bool = False
    size: int = 0
    align: int = 0
    chinese: bool = False


@dataclass
class PrinterState:
    lines: int = 0
    near_end_at: int | None = None
    out_at: int | None = None
    cover_open: bool = False
    cutter_error: bool = False
    fail_next_cut: bool = False
    truncated: bool = False  # something arrived after the paper ran out
    printed: list[PrintedItem] = field(default_factory=list)

    @property
    def paper(self) -> PaperState:
        if self.out_at is not None and self.lines >= self.out_at:
            return PaperState.OUT
        if self.near_end_at is not None and self.lines >= self.near_end_at:
            return PaperState.NEAR_END
        return PaperState.OK

    def status(self) -> PrinterStatus:
        paper = self.paper
        out = paper is PaperState.OUT
        return PrinterStatus(
            offline=self.cover_open or out or self.cutter_error,
            cover_open=self.cover_open,
            stopped_by_paper_end=out,
            error=self.cutter_error,
            cutter_error=self.cutter_error,
            paper=paper,
        )


class EscPosParser:
    """Incremental ESC/POS stream parser; ``feed`` returns the real-time queries (DLE EOT n)
    found, in order, so the caller can answer them."""

    def __init__(self, state: PrinterState) -> None:
        self.state = state
        self.mode = _Mode()
        self._buffer = bytearray()
        self._segments: list[tuple[bytes, bool]] = []
        self._qr_data = b""
        self.unknown: list[bytes] = []

    def feed(self, data: bytes) -> list[int]:
        self._buffer.extend(data)
        queries: list[int] = []
        while self._buffer:
            used = self._step(queries)
            if used == 0:
                break  # incomplete command: wait for more bytes
            del self._buffer[:used]
        return queries

    # -- paper ------------------------------------------------------------------------------

    def _emit(self, item: PrintedItem, lines: int) -> None:
        state = self.state
        if state.cover_open or state.paper is PaperState.OUT or state.cutter_error:
            state.truncated = True
            return
        state.printed.append(item)
        state.lines += lines

    def _flush_text(self) -> None:
        if not self._segments:
            return
        text = "".join(
            raw.decode("gb18030", errors="replace") if chinese else raw.decode("cp437")
            for raw, chinese in self._segments
        )
        self._segments = []
        mode = self.mode
        height = (mode.size & 0x0F) + 1
        self._emit(
            PrintedItem("text", text, mode.bold, mode.size == 0x11, mode.align), lines=height
        )

    def _text_byte(self, byte: int) -> None:
        if self._segments and self._segments[-1][1] == self.mode.chinese:
            raw, chinese = self._segments[-1]
            self._segments[-1] = (raw + bytes([byte]), chinese)
        else:
            self._segments.append((bytes([byte]), self.mode.chinese))

    # -- commands ---------------------------------------------------------------------------

    def _need(self, count: int) -> bool:
        return len(self._buffer) >= count

    def _step(self, queries: list[int]) -> int:
        b = self._buffer
        first = b[0]
        if first == 0x0A:
            if self._segments:
                self._flush_text()
            else:  # LF with nothing buffered just advances the paper
                self._emit(PrintedItem("feed", height=1), lines=1)
            return 1
        if first == 0x0D:
            return 1
        if first == escpos.DLE:
            if not self._need(3):
                return 0
            if b[1] == escpos.EOT:
                queries.append(b[2])
                return 3
            return 2
        if first == escpos.ESC:
            return self._esc()
        if first == escpos.GS:
            return self._gs(queries)
        if first == escpos.FS:
            if not self._need(2):
                return 0
            if b[1] == 0x26:
                self.mode.chinese = True
                return 2
            if b[1] == 0x2E:
                self.mode.chinese = False
                return 2
            if b[1] in (0x21, 0x43, 0x57):
                return 3 if self._need(3) else 0
            self.unknown.append(bytes(b[:2]))
            return 2
        self._text_byte(first)
        return 1

    def _esc(self) -> int:
        b = self._buffer
        if not self._need(2):
            return 0
        op = b[1]
        if op == 0x40:  # ESC @
            self._flush_text()
            self.mode = _Mode()
            return 2
        if op in (0x32,):
            return 2
        if op == 0x70:  # ESC p m t1 t2 (drawer kick)
            return 5 if self._need(5) else 0
        if not self._need(3):
            return 0
        n = b[2]
        if op == 0x45:
            self.mode.bold = bool(n & 1)
        elif op == 0x61:
            self.mode.align = n if n < 3 else n - 0x30
        elif op == 0x64:
            self._flush_text()
            self._emit(PrintedItem("feed", height=n), lines=n)
        elif op == 0x21:
            self.mode.bold = bool(n & 0x08)
            self.mode.size = (0x10 if n & 0x20 else 0) | (0x01 if n & 0x10 else 0)
        elif op not in (0x2D, 0x47, 0x4A, 0x4D, 0x74, 0x52, 0x33, 0x65, 0x20):
            self.unknown.append(bytes(b[:3]))
        return 3

    def _gs(self, queries: list[int]) -> int:
        b = self._buffer
        if not self._need(2):
            return 0
        op = b[1]
        if op == 0x28:  # GS ( k pL pH ...
            if not self._need(5):
                return 0
            length = 5 + b[3] + 256 * b[4]
            if not self._need(length):
                return 0
            if b[2] == 0x6B:
                self._qr(bytes(b[5:length]))
            return length
        if op == 0x76:  # GS v 0 m xL xH yL yH data
            if not self._need(8):
                return 0
            width = b[4] + 256 * b[5]
            height = b[6] + 256 * b[7]
            length = 8 + width * height
            if not self._need(length):
                return 0
            self._flush_text()
            lines = -(-height // _LINE_DOTS)
            self._emit(PrintedItem("image", width=width * 8, height=height), lines=lines)
            return length
        if op == 0x6B:  # GS k m ...
            if not self._need(3):
                return 0
            m = b[2]
            if m <= 6:
                end = b.find(b"\x00", 3)
                if end < 0:
                    return 0
                self._barcode(bytes(b[3:end]))
                return end + 1
            if not self._need(4):
                return 0
            length = 4 + b[3]
            if not self._need(length):
                return 0
            data = bytes(b[4:length])
            if m == 73 and data.startswith(b"{B"):
                data = data[2:].replace(b"{{", b"{")
            self._barcode(data)
            return length
        if op == 0x56:  # GS V m [n]
            if not self._need(3):
                return 0
            m = b[2]
            size = 4 if m in (0x41, 0x42) else 3
            if not self._need(size):
                return 0
            self._flush_text()
            self._cut(partial=m in (0x01, 0x31, 0x42))
            return size
        if op in (0x4C, 0x57):
            return 4 if self._need(4) else 0
        if not self._need(3):
            return 0
        n = b[2]
        if op == 0x21:
            self.mode.size = n
        elif op == 0x72:  # GS r n: paper sensor, answered in order (not real-time)
            queries.append(0x100 | n)
        elif op not in (0x68, 0x77, 0x48, 0x66, 0x42, 0x61, 0x49):
            self.unknown.append(bytes(b[:3]))
        return 3

    def _qr(self, body: bytes) -> None:
        if len(body) < 3 or body[0] != 0x31:
            return
        function = body[1]
        if function == 0x50:
            self._qr_data = body[3:]
        elif function == 0x51:
            self._flush_text()
            self._emit(PrintedItem("qr", self._qr_data.decode("utf-8", "replace")), lines=6)

    def _barcode(self, data: bytes) -> None:
        self._flush_text()
        self._emit(PrintedItem("code128", data.decode("ascii", "replace")), lines=4)

    def _cut(self, partial: bool) -> None:
        state = self.state
        if state.fail_next_cut:
            state.fail_next_cut = False
            state.cutter_error = True
            return
        self._emit(PrintedItem("cut", bold=partial), lines=0)


class EscPosSimulator(SerialLineSimulator):
    kind = "printer"

    def __init__(
        self,
        *,
        baud: int = 115_200,
        pace: bool = False,
        reply_delay_s: float = 0.0,
        near_end_after: int = -1,
        out_after: int = -1,
        transport: str = "pty",
    ) -> None:
        super().__init__(baud=baud, pace=pace, reply_delay_s=reply_delay_s, transport=transport)
        self._lock = threading.Lock()
        self.state = PrinterState()
        self.parser = EscPosParser(self.state)
        self.set_paper(
            near_end_after=None if near_end_after < 0 else near_end_after,
            out_after=None if out_after < 0 else out_after,
        )

    # -- scripting --------------------------------------------------------------------------

    def set_paper(self, *, near_end_after: int | None = None, out_after: int | None = None) -> None:
        """Paper reaches near-end / runs out after that many more lines (None: never)."""
        with self._lock:
            lines = self.state.lines
            self.state.near_end_at = None if near_end_after is None else lines + near_end_after
            self.state.out_at = None if out_after is None else lines + out_after

    def set_cover(self, open_: bool) -> None:
        with self._lock:
            self.state.cover_open = open_

    def fail_next_cut(self) -> None:
        with self._lock:
            self.state.fail_next_cut = True

    def clear_errors(self) -> None:
        with self._lock:
            self.state.cutter_error = False
            self.state.truncated = False

    @property
    def printed(self) -> list[PrintedItem]:
        with self._lock:
            return list(self.state.printed)

    def text_lines(self) -> list[str]:
        return [item.text for item in self.printed if item.kind == "text"]

    def payloads(self, kind: str) -> list[str]:
        return [item.text for item in self.printed if item.kind == kind]

    # -- protocol ---------------------------------------------------------------------------

    def on_bytes(self, data: bytes) -> None:
        self.pace_delay(len(data))
        with self._lock:
            queries = self.parser.feed(data)
            answers = bytearray()
            if queries:
                status = escpos.encode_status(self.state.status())
                for query in queries:
                    if query & 0x100:  # GS r 1: paper sensor bits 2+3 near end, 5+6 out
                        answers.append(status[3] & 0x6C)
                    elif 1 <= query <= 4:
                        answers.append(status[query - 1])
        if answers:
            self.send(bytes(answers))
