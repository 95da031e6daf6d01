"""The Star Micronics TCP300II command set (rewritable card reader/writer): framing, the
commands the kiosk uses, replies, status codes and the raster image encoding. Pure; shared by
the driver (devices/drivers/tcp300.py) and the simulator (devices/simulators/tcp300.py).

Source: "TCP300II Series Product Specifications Manual - Commands", Star Micronics, first
release 2005-10-21 (3-1 communication procedures, 3-4 transfer formats, 3-9 status list,
4-2 print and erase commands, 4-3 card commands, 4-4 status request, 4-6 reset), and the
"TCP300 Series Programmer's Manual" (2003) for the parameter it documents that the II
excerpts do not. Everything marked ASSUMED is not in the parts of those manuals we could
read; docs/devices.md lists the assumptions.

Framing (3-4): command ``STX cmd data ETX BCC``, reply ``STX cmd status data ETX BCC``; BCC is
the XOR of every byte from the command byte through ETX; data at most 1024 bytes, ASCII (so
STX/ETX never occur inside). Handshake (3-1): the module answers a command block with ACK
(06), NAK (15: BCC wrong, send again) or DLE (10: rejected, no reply follows); after ACK it
executes and sends the reply block, which the host answers with ACK, or NAK to have it sent
again. Reset (5F) and the insertion-wait cancel (54) are accepted while a command executes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import reduce

import numpy as np
import numpy.typing as npt
from PIL import Image

from devices.base import ProtocolError
from devices.rewriter import PRINT_HEIGHT, PRINT_WIDTH, CardPlace, RewriterFault

STX = 0x02
ETX = 0x03
ACK = 0x06
NAK = 0x15
DLE = 0x10
MAX_DATA = 1024
BYTE_ROWS = PRINT_HEIGHT // 8  # the Y address of image data counts 8-dot bytes: 0..39


class Command(enum.IntEnum):
    BUFFER_CLEAR = 0x49  # clears the rasterized image register and print expansion buffers
    IMAGE_EXPAND = 0x4D  # external image data expand: "X,Y,length,hex data"
    ERASE_PRINT = 0x46  # erase + print: "discharge,erase,print"
    DISCHARGE = 0x50  # card discharge: "method"
    REAR_IDLE = 0x51  # take the card in (waiting for one) and idle it at the rear position
    FRONT_IDLE = 0x53  # ASSUMED code: the same for the front idling position
    CANCEL_WAIT = 0x54  # cancel the card insertion wait (accepted while executing)
    ROM_VERSION = 0x58
    STATUS = 0x59  # sensor status
    RESET = 0x5F  # reset (accepted while executing; discharges a card inside)


PRIORITY = frozenset({Command.CANCEL_WAIT, Command.RESET})
WAITS_FOR_CARD = frozenset({Command.REAR_IDLE, Command.FRONT_IDLE, Command.ERASE_PRINT})

# 46h: where the card goes after erase/print (0 hold at the front idling position,
# 1 discharge to the slot; 2 to the back side is in the TCP300 manual).
AFTER_HOLD = "0"
AFTER_DISCHARGE = "1"
# 50h: 0 discharge to the reuse position, 1 discharge completely; ASSUMED: 2 to the back side
# (the capture bin in a kiosk), as 46h offers on the TCP300.
DISCHARGE_REUSE = "0"
DISCHARGE_OUT = "1"
DISCHARGE_BACK = "2"

STATUS_OK = 0x20
# 3-9 status list (ASSUMED: 46h, 47h).
STATUS_FAULTS: dict[int, tuple[RewriterFault, str]] = {
    0x22: (RewriterFault.NO_CARD, "no target card"),
    0x23: (RewriterFault.CARD_REVERSED, "card inserted backward or other card error"),
    0x38: (RewriterFault.JAM, "card jam"),
    0x40: (RewriterFault.COVER_OPEN, "cover open"),
    0x41: (RewriterFault.INVALID_COMMAND, "invalid command"),
    0x42: (RewriterFault.MOTOR, "cam motor error"),
    0x43: (RewriterFault.ERASE_HEAD, "erase head temperature error"),
    0x45: (RewriterFault.MEMORY, "EEPROM error"),
    0x46: (RewriterFault.PRINT_HEAD, "print head error (assumed code)"),
    0x47: (RewriterFault.FILM, "rewritable film error (assumed code)"),
    0x4C: (RewriterFault.BAD_IMAGE, "non-compatible image data"),
    0x51: (RewriterFault.IMAGE_TOO_LARGE, "expand buffer overflow"),
}
STATUS_JAM = 0x38
STATUS_COVER = 0x40
HEAD_FAULTS = frozenset({0x43, 0x46})
STATUS_FILM = 0x47


def bcc(data: bytes) -> int:
    return reduce(lambda acc, b: acc ^ b, data, 0)


def command_frame(command: int, data: bytes = b"") -> bytes:
    if len(data) > MAX_DATA:
        raise ProtocolError(f"command data of {len(data)} bytes (at most {MAX_DATA})")
    body = bytes([command]) + data + bytes([ETX])
    return bytes([STX]) + body + bytes([bcc(body)])


def reply_frame(command: int, status: int, data: bytes = b"") -> bytes:
    body = bytes([command, status]) + data + bytes([ETX])
    return bytes([STX]) + body + bytes([bcc(body)])


def params(*values: object) -> bytes:
    """Comma-separated ASCII parameters."""
    return ",".join(str(v) for v in values).encode("ascii")


@dataclass(frozen=True)
class Control:
    """A handshake byte (ACK, NAK or DLE)."""

    byte: int


@dataclass(frozen=True)
class Block:
    """A block whose BCC checks out: ``body`` runs from the command byte to the last data
    byte (a reply's second byte is its status)."""

    body: bytes

    @property
    def command(self) -> int:
        return self.body[0]


@dataclass(frozen=True)
class CorruptBlock:
    """A block with a wrong BCC: the sender is asked again (NAK)."""

    raw: bytes


Item = Control | Block | CorruptBlock


class BlockScanner:
    """Splits a byte stream into handshake bytes and blocks. Between blocks only STX and the
    handshake bytes mean something (anything else is noise, counted in ``discarded``); inside
    a block every byte up to ETX is printable ASCII, so a stray control byte there means the
    block was broken off and scanning restarts; the byte after ETX is the BCC, whatever its
    value."""

    def __init__(self) -> None:
        self._block: bytearray | None = None
        self._want_bcc = False
        self.discarded = 0

    def reset(self) -> None:
        self._block = None
        self._want_bcc = False

    def feed(self, data: bytes) -> list[Item]:
        items: list[Item] = []
        for byte in data:
            block = self._block
            if block is None:
                if byte == STX:
                    self._block = bytearray()
                elif byte in (ACK, NAK, DLE):
                    items.append(Control(byte))
                else:
                    self.discarded += 1
            elif self._want_bcc:
                self._block, self._want_bcc = None, False
                if bcc(bytes(block)) == byte:
                    items.append(Block(bytes(block[:-1])))
                else:
                    items.append(CorruptBlock(bytes([STX]) + bytes(block) + bytes([byte])))
            elif byte == ETX:
                block.append(byte)
                self._want_bcc = True
            elif 0x20 <= byte <= 0x7E and len(block) <= MAX_DATA + 2:
                block.append(byte)
            else:  # broken off: the block is lost, this byte may start the next one
                self.discarded += len(block) + 1
                self._block = None
                if byte == STX:
                    self._block = bytearray()
                elif byte in (ACK, NAK, DLE):
                    self.discarded -= 1
                    items.append(Control(byte))
        return items


# --- the sensor status (59h) -------------------------------------------------------------------


@dataclass(frozen=True)
class Sensors:
    """The sensor string of the status reply (4-4): inlet '0' no card, '1' a card to process
    in the inlet, '2' a card waiting to be removed; sensors 2-4 '0'/'1'; the cover.
    ASSUMED: sensor 2 sits at the front idling position, 3 under the heads, 4 at the rear
    idling position (where the contactless antenna is)."""

    inlet: int  # 0, 1, 2
    front: bool
    heads: bool
    rear: bool
    cover_open: bool

    def encode(self) -> bytes:
        flags = (self.front, self.heads, self.rear, self.cover_open)
        return (str(self.inlet) + "".join("1" if f else "0" for f in flags) + "0").encode()

    @classmethod
    def decode(cls, data: bytes) -> Sensors:
        text = data.decode("ascii", errors="replace")
        if len(text) < 6 or text[0] not in "012" or any(c not in "01" for c in text[1:6]):
            raise ProtocolError(f"bad sensor status {data!r}", code="rewriter.protocol")
        return cls(int(text[0]), text[1] == "1", text[2] == "1", text[3] == "1", text[4] == "1")

    @property
    def place(self) -> CardPlace:
        if self.heads or (self.front and self.rear):
            return CardPlace.CHANNEL
        if self.rear:
            return CardPlace.CHIP
        if self.front:
            return CardPlace.FRONT
        if self.inlet:
            return CardPlace.SLOT
        return CardPlace.NONE


# --- raster image data (4Dh) -------------------------------------------------------------------


def image_columns(image: Image.Image) -> npt.NDArray[np.uint8]:
    """The print area as byte rows x columns (BYTE_ROWS x PRINT_WIDTH): byte (y, x) holds
    dots 8y..8y+7 of column x, least significant bit the upper dot (4-2 (6)); a set bit is a
    dot to print (black in the image)."""
    dots = np.zeros((PRINT_HEIGHT, PRINT_WIDTH), dtype=bool)
    black = np.asarray(image.convert("L")) < 128
    dots[: black.shape[0], : black.shape[1]] = black
    return np.packbits(dots.reshape(BYTE_ROWS, 8, PRINT_WIDTH), axis=1, bitorder="little")[:, 0, :]


def image_commands(image: Image.Image) -> list[bytes]:
    """The 4Dh data strings that expand ``image`` into a cleared buffer: only bands of byte
    rows with black dots, and in each band only the runs of columns with black dots (text
    leaves most of the area white, and the line is slow)."""
    columns = image_columns(image)
    commands: list[bytes] = []
    for y0, y1 in _runs(columns.any(axis=1)):
        band = columns[y0:y1]
        length = y1 - y0
        for x0, x1 in _runs(band.any(axis=0)):
            x = x0
            while x < x1:
                head = params(x, y0, length) + b","
                fit = max(1, (MAX_DATA - len(head)) // (2 * length))
                end = min(x1, x + fit)
                data = band[:, x:end].T.tobytes().hex().upper().encode("ascii")
                commands.append(head + data)
                x = end
    return commands


def parse_image_command(data: bytes) -> tuple[int, int, int, bytes]:
    """(x, y, length, image bytes) of a 4Dh data string; ValueError if malformed."""
    x_text, y_text, length_text, hex_text = data.decode("ascii").split(",", 3)
    x, y, length = int(x_text), int(y_text), int(length_text)
    image = bytes.fromhex(hex_text)
    if not image or not 1 <= length <= BYTE_ROWS or len(image) % length:
        raise ValueError("image data does not divide into columns")
    return x, y, length, image


def _runs(mask: npt.ArrayLike) -> list[tuple[int, int]]:
    """[start, end) of every run of True."""
    flags: list[bool] = np.asarray(mask, dtype=bool).tolist()
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for index, value in enumerate(flags):
        if value and start is None:
            start = index
        elif not value and start is not None:
            runs.append((start, index))
            start = None
    if start is not None:
        runs.append((start, len(flags)))
    return runs
