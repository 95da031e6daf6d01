"""BER-TLV (ISO 7816-4 / X.690) reading and DER writing, just enough for the LDS and CMS.

Parsing works on ``bytes`` with offsets rather than copies, so large data groups (a 20 KB
face image) are not sliced repeatedly. Every malformed input raises :class:`TlvError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from devices.icao.errors import TlvError

_MAX_LENGTH_OCTETS = 4


@dataclass(frozen=True)
class Tlv:
    """One decoded object: ``tag`` as the integer of its tag bytes (e.g. 0x5F1F),
    ``value`` its contents, ``raw`` the whole encoding (tag, length and value)."""

    tag: int
    value: bytes
    raw: bytes

    @property
    def constructed(self) -> bool:
        first = self.tag.to_bytes(max(1, (self.tag.bit_length() + 7) // 8), "big")[0]
        return bool(first & 0x20)

    def children(self) -> list[Tlv]:
        return decode_all(self.value)

    def find(self, tag: int) -> Tlv:
        for child in self.children():
            if child.tag == tag:
                return child
        raise TlvError(f"tag {tag:X} missing inside {self.tag:X}")


def read_tag(data: bytes, offset: int) -> tuple[int, int]:
    """The tag starting at ``offset`` and the offset after it."""
    if offset >= len(data):
        raise TlvError("truncated: tag expected")
    first = data[offset]
    tag = first
    offset += 1
    if first & 0x1F == 0x1F:
        for _ in range(3):
            if offset >= len(data):
                raise TlvError("truncated multi-byte tag")
            byte = data[offset]
            offset += 1
            tag = (tag << 8) | byte
            if not byte & 0x80:
                break
        else:
            raise TlvError("tag longer than 4 bytes")
    return tag, offset


def read_length(data: bytes, offset: int) -> tuple[int, int]:
    """The definite length starting at ``offset`` and the offset after it."""
    if offset >= len(data):
        raise TlvError("truncated: length expected")
    first = data[offset]
    offset += 1
    if first < 0x80:
        return first, offset
    count = first & 0x7F
    if count == 0:
        raise TlvError("indefinite length is not allowed")
    if count > _MAX_LENGTH_OCTETS:
        raise TlvError(f"length of {count} octets is too long")
    if offset + count > len(data):
        raise TlvError("truncated length")
    return int.from_bytes(data[offset : offset + count], "big"), offset + count


def header_size(data: bytes) -> tuple[int, int]:
    """(tag+length header size, value length) of the object at the start of ``data``.

    Used on the first bytes of an elementary file to learn how much remains to read."""
    _, offset = read_tag(data, 0)
    length, offset = read_length(data, offset)
    return offset, length


def decode_at(data: bytes, offset: int) -> tuple[Tlv, int]:
    start = offset
    tag, offset = read_tag(data, offset)
    length, offset = read_length(data, offset)
    end = offset + length
    if end > len(data):
        raise TlvError(f"tag {tag:X}: value of {length} bytes exceeds the {len(data)}-byte input")
    return Tlv(tag, data[offset:end], data[start:end]), end


def decode(data: bytes) -> Tlv:
    """Exactly one object filling ``data``."""
    tlv, end = decode_at(data, 0)
    if end != len(data):
        raise TlvError(f"{len(data) - end} trailing bytes after tag {tlv.tag:X}")
    return tlv


def decode_first(data: bytes) -> Tlv:
    """The first object of ``data``; trailing bytes (padding in a file) are ignored."""
    return decode_at(data, 0)[0]


def iter_decode(data: bytes) -> Iterator[Tlv]:
    offset = 0
    while offset < len(data):
        tlv, offset = decode_at(data, offset)
        yield tlv


def decode_all(data: bytes) -> list[Tlv]:
    return list(iter_decode(data))


# --- DER writing -------------------------------------------------------------------------


def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def encode(tag: int, value: bytes) -> bytes:
    tag_bytes = tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")
    return tag_bytes + encode_length(len(value)) + value


def seq(*items: bytes) -> bytes:
    return encode(0x30, b"".join(items))


def set_of(*items: bytes) -> bytes:
    """DER SET OF: elements sorted by their encodings (X.690 11.6)."""
    return encode(0x31, b"".join(sorted(items)))


def integer(value: int) -> bytes:
    size = max(1, (value.bit_length() + 8) // 8)  # room for the sign bit
    return encode(0x02, value.to_bytes(size, "big", signed=True))


def octet_string(value: bytes) -> bytes:
    return encode(0x04, value)


def oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    if len(parts) < 2:
        raise TlvError(f"object identifier {dotted!r} has fewer than two arcs")
    body = bytearray()
    for arc in [parts[0] * 40 + parts[1], *parts[2:]]:
        chunk = [arc & 0x7F]
        rest = arc >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        body.extend(reversed(chunk))
    return encode(0x06, bytes(body))


def parse_oid(value: bytes) -> str:
    if not value:
        raise TlvError("empty object identifier")
    arcs: list[int] = []
    current = 0
    for byte in value:
        current = (current << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(current)
            current = 0
    if value[-1] & 0x80:
        raise TlvError("truncated object identifier")
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(a) for a in head + arcs[1:])


def parse_int(value: bytes) -> int:
    if not value:
        raise TlvError("empty integer")
    return int.from_bytes(value, "big", signed=True)


def expect(tlv: Tlv, tag: int) -> Tlv:
    if tlv.tag != tag:
        raise TlvError(f"expected tag {tag:X}, found {tlv.tag:X}")
    return tlv
