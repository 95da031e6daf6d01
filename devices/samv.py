"""SAM_V serial framing for resident ID card readers (the "GA 467" family): pure bytes, no I/O.

Both directions share one frame shape::

    AA AA AA 96 69 | Len1 Len2 | payload ... | CHK

Len is big-endian and counts every byte after itself, CHK included. CHK is the XOR of the
bytes from Len1 through the last payload byte (the preamble is not covered). A host payload
is ``CMD PARA data``; a SAM payload is ``SW1 SW2 SW3 data``.

The driver and the simulator both use this module, so the golden tests in
``tests/devices`` pin it to the frames listed in the shared device reference.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from devices.base import ProtocolError, Recovery

PREAMBLE = bytes.fromhex("AAAAAA9669")
HEADER_LEN = len(PREAMBLE) + 2
# The longest legal answer is "read text + photo + fingerprint" (Len 0x090A); anything much
# longer is a preamble found inside garbage, and waiting for it would swallow real frames.
MAX_LEN = 0x0A00
MIN_RESPONSE_LEN = 4  # SW1 SW2 SW3 CHK


class Command(enum.Enum):
    """Host commands as (CMD, PARA)."""

    RESET = (0x10, 0xFF)
    SAM_STATUS = (0x11, 0xFF)
    SAM_ID = (0x12, 0xFF)
    FIND_CARD = (0x20, 0x01)
    SELECT_CARD = (0x20, 0x02)
    READ_TEXT_PHOTO = (0x30, 0x01)
    READ_APPENDED_ADDRESS = (0x30, 0x03)
    READ_CHIP_NUMBER = (0x30, 0x05)
    READ_TEXT_PHOTO_FINGERPRINT = (0x30, 0x10)

    @property
    def cmd(self) -> int:
        return self.value[0]

    @property
    def para(self) -> int:
        return self.value[1]


BAUD_PARA = {115_200: 0x00, 57_600: 0x01, 38_400: 0x02, 19_200: 0x03, 9_600: 0x04}


class Sw3(enum.IntEnum):
    """SAM status byte (SW3)."""

    SUCCESS = 0x90
    FIND_OK = 0x9F
    NO_CONTENT = 0x91
    CHECKSUM_ERROR = 0x10
    LENGTH_ERROR = 0x11
    COMMAND_ERROR = 0x21
    UNAUTHORISED = 0x23
    UNKNOWN_ERROR = 0x24
    CARD_AUTH_SAM_FAILED = 0x31
    SAM_AUTH_CARD_FAILED = 0x32
    VERIFICATION_ERROR = 0x33
    UNKNOWN_CARD_TYPE = 0x40
    READ_FAILED = 0x41
    RANDOM_FAILED = 0x47
    SELF_TEST_FAILED = 0x60
    SAM_NOT_AUTHORISED = 0x66
    NO_CARD = 0x80
    SELECT_FAILED = 0x81


@dataclass(frozen=True)
class Sw3Meaning:
    message: str
    recovery: Recovery
    card_side: bool  # the citizen's card (not the reader) is the cause; lift and place again


# Every non-success SW3 with the action that recovers it. "RESET" on a card-side error means the
# flow asks the citizen to lift the card and place it again (the SAM requires it after a
# failed read), then retries.
SW3_MEANINGS: dict[int, Sw3Meaning] = {
    Sw3.NO_CONTENT: Sw3Meaning("no such content on the card", Recovery.NONE, True),
    Sw3.CHECKSUM_ERROR: Sw3Meaning("SAM saw a checksum error", Recovery.RESET, False),
    Sw3.LENGTH_ERROR: Sw3Meaning("SAM saw a length error", Recovery.RESET, False),
    Sw3.COMMAND_ERROR: Sw3Meaning("SAM rejected the command", Recovery.RESET, False),
    Sw3.UNAUTHORISED: Sw3Meaning("operation not authorised", Recovery.MAINTENANCE, False),
    Sw3.UNKNOWN_ERROR: Sw3Meaning("SAM reported an unknown error", Recovery.RESET, False),
    Sw3.CARD_AUTH_SAM_FAILED: Sw3Meaning(
        "card failed to authenticate the SAM", Recovery.RESET, True
    ),
    Sw3.SAM_AUTH_CARD_FAILED: Sw3Meaning(
        "SAM failed to authenticate the card", Recovery.RESET, True
    ),
    Sw3.VERIFICATION_ERROR: Sw3Meaning("card verification error", Recovery.RESET, True),
    Sw3.UNKNOWN_CARD_TYPE: Sw3Meaning("unknown card type", Recovery.NONE, True),
    Sw3.READ_FAILED: Sw3Meaning(
        "card read failed; lift and place the card again", Recovery.RESET, True
    ),
    Sw3.RANDOM_FAILED: Sw3Meaning("random number exchange failed", Recovery.RESET, True),
    Sw3.SELF_TEST_FAILED: Sw3Meaning("SAM self-test failed", Recovery.MAINTENANCE, False),
    Sw3.SAM_NOT_AUTHORISED: Sw3Meaning("SAM module not authorised", Recovery.MAINTENANCE, False),
    Sw3.NO_CARD: Sw3Meaning("no card on the reader", Recovery.NONE, True),
    Sw3.SELECT_FAILED: Sw3Meaning(
        "card select failed; lift and place the card again", Recovery.RESET, True
    ),
}


def sw3_code(sw3: int) -> str:
    """The stable error code for a SAM status, e.g. ``idcard.sw3.41``."""
    return f"idcard.sw3.{sw3:02x}"


def checksum(body: bytes) -> int:
    """XOR of ``body`` (Len1 through the last payload byte)."""
    value = 0
    for byte in body:
        value ^= byte
    return value


def encode_frame(payload: bytes) -> bytes:
    """Frame ``payload`` (``CMD PARA data`` or ``SW1 SW2 SW3 data``)."""
    length = len(payload) + 1
    if length > 0xFFFF:
        raise ValueError("payload too long for a SAM frame")
    body = length.to_bytes(2, "big") + payload
    return PREAMBLE + body + bytes([checksum(body)])


def command_frame(command: Command, data: bytes = b"") -> bytes:
    return encode_frame(bytes([command.cmd, command.para]) + data)


def response_frame(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    return encode_frame(bytes([sw1, sw2, sw3]) + data)


@dataclass(frozen=True)
class Frame:
    """One checked frame: ``payload`` is everything between Len2 and CHK."""

    payload: bytes

    @property
    def sw3(self) -> int:
        if len(self.payload) < 3:
            raise ProtocolError("frame too short for a SAM answer", code="idcard.frame")
        return self.payload[2]

    @property
    def data(self) -> bytes:
        """Response data after SW1 SW2 SW3."""
        return self.payload[3:]


class FrameDecoder:
    """Incremental frame parser that resynchronises on garbage.

    ``feed`` bytes as they arrive and call ``next_frame`` until it returns None. A corrupted
    candidate (bad checksum, impossible length) raises ProtocolError *after* the decoder has
    moved past its first byte, so the caller may log it and keep calling: the next valid frame
    is still found, even one that starts inside the corrupted candidate. A complete valid frame
    also wins over an earlier candidate that is still waiting for bytes (a preamble in noise).
    """

    def __init__(self, *, min_len: int = MIN_RESPONSE_LEN, max_len: int = MAX_LEN) -> None:
        self._buffer = bytearray()
        self._min_len = min_len
        self._max_len = max_len
        self.discarded = 0  # garbage bytes dropped while resynchronising

    def reset(self) -> None:
        self._buffer.clear()

    def feed(self, data: bytes) -> None:
        self._buffer.extend(data)

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def bytes_wanted(self) -> int:
        """How many more bytes would complete the current candidate (at least 1)."""
        start = self._buffer.find(PREAMBLE)
        if start < 0:
            return max(1, HEADER_LEN - self._partial_preamble_len())
        have = len(self._buffer) - start
        if have < HEADER_LEN:
            return HEADER_LEN - have
        length = int.from_bytes(self._buffer[start + 5 : start + 7], "big")
        if not self._min_len <= length <= self._max_len:
            return 1
        return max(1, HEADER_LEN + length - have)

    def _partial_preamble_len(self) -> int:
        for size in range(len(PREAMBLE) - 1, 0, -1):
            if self._buffer.endswith(PREAMBLE[:size]):
                return size
        return 0

    def _drop(self, count: int) -> None:
        self.discarded += count
        del self._buffer[:count]

    def next_frame(self) -> Frame | None:
        start = self._buffer.find(PREAMBLE)
        if start < 0:
            # Keep a possible preamble prefix at the end; everything before it is garbage.
            self._drop(len(self._buffer) - self._partial_preamble_len())
            return None
        if start:
            self._drop(start)
        if len(self._buffer) < HEADER_LEN:
            return None
        length = int.from_bytes(self._buffer[5:7], "big")
        if not self._min_len <= length <= self._max_len:
            self._drop(1)
            raise ProtocolError(f"impossible SAM frame length {length}", code="idcard.frame")
        end = HEADER_LEN + length
        if len(self._buffer) < end:
            later = self._complete_frame_after(1)
            if later is None:
                return None
            self._drop(later)
            raise ProtocolError("incomplete SAM frame followed by a valid one", code="idcard.frame")
        body = bytes(self._buffer[5 : end - 1])
        if checksum(body) != self._buffer[end - 1]:
            self._drop(1)
            raise ProtocolError("SAM frame checksum mismatch", code="idcard.checksum")
        frame = Frame(bytes(self._buffer[HEADER_LEN : end - 1]))
        del self._buffer[:end]
        return frame

    def _complete_frame_after(self, offset: int) -> int | None:
        """Position of a complete, checksum-valid frame starting at or after ``offset``."""
        position = self._buffer.find(PREAMBLE, offset)
        while position >= 0:
            if len(self._buffer) - position >= HEADER_LEN:
                length = int.from_bytes(self._buffer[position + 5 : position + 7], "big")
                end = position + HEADER_LEN + length
                if self._min_len <= length <= self._max_len and end <= len(self._buffer):
                    body = bytes(self._buffer[position + 5 : end - 1])
                    if checksum(body) == self._buffer[end - 1]:
                        return position
            position = self._buffer.find(PREAMBLE, position + 1)
        return None


@dataclass(frozen=True)
class ReadResponse:
    """The data of a successful ``30 01`` / ``30 10`` answer."""

    text: bytes
    photo: bytes
    fingerprint: bytes = b""


def parse_read_data(data: bytes, *, with_fingerprint: bool = False) -> ReadResponse:
    """Split read-answer data (after SW3) by its big-endian length prefixes."""
    heads = 3 if with_fingerprint else 2
    if len(data) < 2 * heads:
        raise ProtocolError("read answer too short for its length fields", code="idcard.frame")
    lengths = [int.from_bytes(data[2 * i : 2 * i + 2], "big") for i in range(heads)]
    if sum(lengths) != len(data) - 2 * heads:
        raise ProtocolError(
            f"read answer lengths {lengths} do not match {len(data) - 2 * heads} data bytes",
            code="idcard.frame",
        )
    if lengths[0] != 256:
        raise ProtocolError(f"text block of {lengths[0]} bytes (expected 256)", code="idcard.frame")
    position = 2 * heads
    parts = []
    for length in lengths:
        parts.append(data[position : position + length])
        position += length
    return ReadResponse(
        text=parts[0], photo=parts[1], fingerprint=parts[2] if with_fingerprint else b""
    )


def encode_read_data(text: bytes, photo: bytes, fingerprint: bytes | None = None) -> bytes:
    """The inverse of ``parse_read_data`` (used by the simulator)."""
    parts = [text, photo] if fingerprint is None else [text, photo, fingerprint]
    heads = b"".join(len(p).to_bytes(2, "big") for p in parts)
    return heads + b"".join(parts)
