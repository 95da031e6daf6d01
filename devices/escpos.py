"""ESC/POS encoding (receipt -> bytes) and real-time status decoding: pure, no I/O.

Why an own encoder instead of python-escpos:

* Chinese text. Printers sold here expect ``FS &`` (Chinese character mode) before GB18030
  bytes and ``FS .`` after; python-escpos encodes CJK as GB18030 but never sends ``FS &``, so
  on printers that start in single-byte mode every Chinese character prints as two
  code-page glyphs.
* Status. Its serial connector reads 16 bytes per status query, so the single byte a DLE EOT
  answer carries is only returned when the whole read timeout has run out: every status
  check would cost the full timeout, before and after each receipt.
* Control. We need the exact byte stream for golden tests, GB18030 four-byte characters
  for rare name characters, and the write path under our own lock, deadline and cancel
  token. The commands we need fit in about a hundred lines (below), all from the Epson
  ESC/POS reference.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

from PIL import Image, ImageOps

from devices.base import ProtocolError
from devices.printer import (
    Align,
    Barcode128,
    Feed,
    PaperState,
    PrinterStatus,
    QrCode,
    RasterImage,
    Receipt,
    ReceiptItem,
    TextLine,
)

ESC = 0x1B
GS = 0x1D
FS = 0x1C
DLE = 0x10
EOT = 0x04
LF = b"\n"

INIT = b"\x1b\x40"
CHINESE_ON = b"\x1c\x26"
CHINESE_OFF = b"\x1c\x2e"
BOLD_ON = b"\x1b\x45\x01"
BOLD_OFF = b"\x1b\x45\x00"
FULL_CUT = b"\x1d\x56\x00"
PARTIAL_CUT = b"\x1d\x56\x01"
STATUS_MASK = 0x93
STATUS_FIXED = 0x12


def size(width: int, height: int) -> bytes:
    """GS ! n: character magnification 1..8 in each direction."""
    if not (1 <= width <= 8 and 1 <= height <= 8):
        raise ValueError("character size must be 1..8")
    return bytes([GS, 0x21, ((width - 1) << 4) | (height - 1)])


def align(value: Align) -> bytes:
    return bytes([ESC, 0x61, value.value])


def feed(lines: int) -> bytes:
    if not 0 <= lines <= 255:
        raise ValueError("feed 0..255 lines")
    return bytes([ESC, 0x64, lines])


def feed_and_cut(lines: int) -> bytes:
    """GS V 66 n: feed n lines (motion units on some models) then partial cut."""
    return bytes([GS, 0x56, 0x42, lines])


def status_query(n: int) -> bytes:
    """DLE EOT n, real-time status (n = 1 printer, 2 offline cause, 3 error cause, 4 paper)."""
    if n not in (1, 2, 3, 4):
        raise ValueError("DLE EOT n takes 1..4")
    return bytes([DLE, EOT, n])


def text(value: str) -> bytes:
    """Text bytes: ASCII as is; anything else inside FS & ... FS . as GB18030."""
    if value.isascii():
        return value.encode("ascii")
    try:
        encoded = value.encode("gb18030")
    except UnicodeEncodeError as exc:
        raise ValueError(f"cannot print {value!r} in GB18030") from exc
    return CHINESE_ON + encoded + CHINESE_OFF


def qr_code(qr: QrCode) -> bytes:
    data = qr.data.encode("utf-8")
    if not 1 <= qr.module_size <= 16:
        raise ValueError("QR module size 1..16")
    store_len = len(data) + 3
    if store_len > 7092:
        raise ValueError("QR data too long")
    return b"".join(
        (
            b"\x1d\x28\x6b\x04\x00\x31\x41\x32\x00",  # model 2
            b"\x1d\x28\x6b\x03\x00\x31\x43" + bytes([qr.module_size]),
            b"\x1d\x28\x6b\x03\x00\x31\x45" + bytes([0x30 + qr.error_level.value]),
            b"\x1d\x28\x6b" + store_len.to_bytes(2, "little") + b"\x31\x50\x30" + data,
            b"\x1d\x28\x6b\x03\x00\x31\x51\x30",
        )
    )


def code128(barcode: Barcode128) -> bytes:
    data = barcode.data
    if not data or not all(0x20 <= ord(c) <= 0x7E for c in data):
        raise ValueError("CODE128 set B takes printable ASCII")
    if not 1 <= barcode.height <= 255 or not 2 <= barcode.module_width <= 6:
        raise ValueError("barcode height 1..255, module width 2..6")
    # '{' introduces a code-set switch in GS k 73 data, so a literal one is sent doubled.
    payload = b"{B" + data.replace("{", "{{").encode("ascii")
    if len(payload) > 255:
        raise ValueError("CODE128 data too long")
    return b"".join(
        (
            bytes([GS, 0x68, barcode.height]),
            bytes([GS, 0x77, barcode.module_width]),
            bytes([GS, 0x48, 2 if barcode.show_text else 0]),
            bytes([GS, 0x6B, 73, len(payload)]) + payload,
        )
    )


def raster(image: Image.Image, max_width_dots: int = 576) -> bytes:
    """GS v 0: 1-bit raster, black = 1, width padded with white to whole bytes."""
    picture = image.convert("L")
    if picture.width > max_width_dots:
        height = max(1, round(picture.height * max_width_dots / picture.width))
        picture = picture.resize((max_width_dots, height))
    width_bytes = (picture.width + 7) // 8
    canvas = Image.new("L", (width_bytes * 8, picture.height), 255)
    canvas.paste(picture, (0, 0))
    # Mode "1" packs white as 1; ESC/POS wants black as 1, hence the inversion.
    bits = ImageOps.invert(canvas).convert("1", dither=Image.Dither.NONE).tobytes()
    height = canvas.height
    if height > 0xFFFF:
        raise ValueError("image too tall")
    return (
        bytes([GS, 0x76, 0x30, 0])
        + width_bytes.to_bytes(2, "little")
        + height.to_bytes(2, "little")
        + bits
    )


def display_width(value: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in value)


def wrap(value: str, columns: int) -> Iterator[str]:
    """Split ``value`` into pieces no wider than ``columns`` (CJK characters are 2 wide)."""
    if not value:
        yield ""
        return
    piece, width = "", 0
    for char in value:
        w = 2 if unicodedata.east_asian_width(char) in "WF" else 1
        if width + w > columns and piece:
            yield piece
            piece, width = "", 0
        piece += char
        width += w
    yield piece


def _text_line(line: TextLine, columns: int) -> tuple[bytes, int]:
    out = [align(line.align)]
    if line.bold:
        out.append(BOLD_ON)
    if line.large:
        out.append(size(2, 2))
    pieces = list(wrap(line.text, columns // 2 if line.large else columns))
    for piece in pieces:
        out.append(text(piece) + LF)
    if line.large:
        out.append(size(1, 1))
    if line.bold:
        out.append(BOLD_OFF)
    return b"".join(out), len(pieces) * (2 if line.large else 1)


def encode_item(item: ReceiptItem, columns: int) -> tuple[bytes, int]:
    """Bytes for one item and how many text lines of paper it takes (approximately)."""
    if isinstance(item, TextLine):
        return _text_line(item, columns)
    if isinstance(item, QrCode):
        return align(item.align) + qr_code(item) + LF, 1
    if isinstance(item, Barcode128):
        return align(item.align) + code128(item) + LF, 1
    if isinstance(item, RasterImage):
        return align(item.align) + raster(item.image) + LF, 1
    if isinstance(item, Feed):
        return feed(item.lines), item.lines
    raise TypeError(f"unknown receipt item {item!r}")


def encode_receipt(receipt: Receipt, columns: int = 48) -> tuple[bytes, int]:
    """The complete ESC/POS job for ``receipt`` and the line count it advances the paper."""
    parts = [INIT]
    title, lines = _text_line(
        TextLine(receipt.title, bold=True, large=True, align=Align.CENTER), columns
    )
    parts.append(title)
    for item in receipt.items:
        data, count = encode_item(item, columns)
        parts.append(data)
        lines += count
    parts.append(align(Align.LEFT))
    if receipt.cut:
        parts.append(feed(receipt.feed_before_cut))
        parts.append(PARTIAL_CUT if receipt.partial_cut else FULL_CUT)
        lines += receipt.feed_before_cut
    return b"".join(parts), lines


def check_status_byte(value: int) -> None:
    if value & STATUS_MASK != STATUS_FIXED:
        raise ProtocolError(
            f"status byte {value:#04x} lacks the fixed bits ((b & 0x93) != 0x12)",
            code="printer.status_garbage",
        )


def decode_status(raw: bytes) -> PrinterStatus:
    """Decode the answers to DLE EOT 1, 2, 3, 4 (one byte each, in that order)."""
    if len(raw) != 4:
        raise ProtocolError(f"expected 4 status bytes, got {len(raw)}", code="printer.status")
    for value in raw:
        check_status_byte(value)
    printer, offline, error, paper = raw
    if paper & 0x60:
        paper_state = PaperState.OUT
    elif paper & 0x0C:
        paper_state = PaperState.NEAR_END
    else:
        paper_state = PaperState.OK
    return PrinterStatus(
        offline=bool(printer & 0x08),
        cover_open=bool(offline & 0x04),
        stopped_by_paper_end=bool(offline & 0x20),
        error=bool(offline & 0x40),
        cutter_error=bool(error & 0x08),
        unrecoverable_error=bool(error & 0x20),
        auto_recoverable_error=bool(error & 0x40),
        paper=paper_state,
        raw=bytes(raw),
    )


def encode_status(status: PrinterStatus) -> bytes:
    """The four status bytes a printer in ``status`` answers (inverse of decode_status)."""
    printer = STATUS_FIXED | (0x08 if status.offline else 0)
    offline = (
        STATUS_FIXED
        | (0x04 if status.cover_open else 0)
        | (0x20 if status.stopped_by_paper_end else 0)
        | (0x40 if status.error else 0)
    )
    error = (
        STATUS_FIXED
        | (0x08 if status.cutter_error else 0)
        | (0x20 if status.unrecoverable_error else 0)
        | (0x40 if status.auto_recoverable_error else 0)
    )
    paper = (
        STATUS_FIXED
        | {PaperState.OK: 0, PaperState.NEAR_END: 0x0C, PaperState.OUT: 0x60}[status.paper]
    )
    return bytes([printer, offline, error, paper])
