"""Length-prefixed serial framing shared by the card dispensers (CRT-591 and K720):

    STX | address (1 or 2 bytes) | LENH LENL | body (LEN bytes) | ETX | BCC

BCC is the XOR of every byte from STX through ETX. The scanner finds frames in a byte stream
that may hold garbage, truncated frames and frames with a bad checksum, and resynchronises on
the next valid frame. Used by the drivers and by their simulators (both directions).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce

from devices.base import ProtocolError

ETX = 0x03
# The control bytes both models answer a command frame with.
ACK = 0x06
NAK = 0x15


def bcc(data: bytes) -> int:
    """XOR of every byte."""
    return reduce(lambda acc, b: acc ^ b, data, 0)


def encode(stx: int, address: bytes, body: bytes) -> bytes:
    """One frame around ``body``."""
    if len(body) > 0xFFFF:
        raise ProtocolError(f"frame body too long ({len(body)} bytes)")
    head = bytes([stx]) + address + len(body).to_bytes(2, "big") + body + bytes([ETX])
    return head + bytes([bcc(head)])


@dataclass(frozen=True)
class Frame:
    """A frame whose length, ETX and BCC check out."""

    address: bytes
    body: bytes
    raw: bytes


@dataclass(frozen=True)
class CorruptFrame:
    """A frame whose length and ETX fit but whose BCC does not: the sender is asked again."""

    raw: bytes


class _Check(enum.Enum):
    VALID = "valid"
    CORRUPT = "corrupt"
    INVALID = "invalid"
    INCOMPLETE = "incomplete"


class FrameScanner:
    """Incremental frame finder. ``feed`` returns the frames (and corrupt frames) completed
    by the new bytes, in order; bytes that cannot start a frame are dropped and counted.

    A candidate start that is still incomplete does not hide a valid frame behind it: garbage
    ending in a STX with a huge length cannot swallow the next real frame.
    """

    def __init__(
        self,
        stx: int,
        address_len: int,
        *,
        min_body: int = 1,
        max_body: int = 512,
        address_ok: Callable[[bytes], bool] | None = None,
    ) -> None:
        self._stx = stx
        self._address_len = address_len
        self._min_body = min_body
        self._max_body = max_body
        self._address_ok = address_ok
        self._buf = bytearray()
        self.discarded = 0

    def reset(self) -> None:
        self._buf.clear()

    @property
    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame | CorruptFrame]:
        self._buf += data
        out: list[Frame | CorruptFrame] = []
        while self._scan_once(out):
            pass
        return out

    def _scan_once(self, out: list[Frame | CorruptFrame]) -> bool:
        """Emit at most one item; True when the buffer changed and scanning should go on."""
        buf = self._buf
        first_incomplete: int | None = None
        pos = buf.find(self._stx)
        if pos < 0:
            self._drop(len(buf))
            return False
        while pos >= 0:
            verdict, end = self._check(pos)
            if verdict is _Check.VALID:
                head = self._address_len + 3
                address = bytes(buf[pos + 1 : pos + 1 + self._address_len])
                out.append(Frame(address, bytes(buf[pos + head : end - 2]), bytes(buf[pos:end])))
                self._drop(end, counted_from=pos)
                return True
            if verdict is _Check.INCOMPLETE:
                if first_incomplete is None:
                    first_incomplete = pos
            elif first_incomplete is None:
                if verdict is _Check.CORRUPT:
                    out.append(CorruptFrame(bytes(buf[pos:end])))
                # Drop only this STX: a real frame may start inside the rejected span.
                self._drop(pos + 1, counted_from=pos + 1)
                return True
            pos = buf.find(self._stx, pos + 1)
        if first_incomplete is None:  # pragma: no cover - the loop always finds one
            return False
        if first_incomplete > 0:
            self._drop(first_incomplete)
        return False

    def _check(self, pos: int) -> tuple[_Check, int]:
        buf = self._buf
        len_at = pos + 1 + self._address_len
        if len(buf) < len_at + 2:
            return _Check.INCOMPLETE, 0
        if self._address_ok is not None and not self._address_ok(bytes(buf[pos + 1 : len_at])):
            return _Check.INVALID, 0
        length = (buf[len_at] << 8) | buf[len_at + 1]
        if not self._min_body <= length <= self._max_body:
            return _Check.INVALID, 0
        end = len_at + 2 + length + 2
        if len(buf) < end:
            return _Check.INCOMPLETE, 0
        if buf[end - 2] != ETX:
            return _Check.INVALID, 0
        if bcc(bytes(buf[pos : end - 1])) != buf[end - 1]:
            return _Check.CORRUPT, end
        return _Check.VALID, end

    def _drop(self, upto: int, *, counted_from: int | None = None) -> None:
        self.discarded += upto if counted_from is None else counted_from
        del self._buf[:upto]
