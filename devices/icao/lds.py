"""Logical Data Structure (Doc 9303 Part 10): file identifiers, EF.COM, DG1, DG2, DG11/12.

Parsers for what the kiosk reads and builders the virtual card uses, so both sides share
one definition of tags and layouts.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from devices.icao import mrz
from devices.icao.errors import MrzInvalid, TlvError
from devices.icao.tlv import Tlv, decode_first, encode

AID = bytes.fromhex("A0000002471001")


@dataclass(frozen=True)
class ElementaryFile:
    name: str
    fid: int
    sfi: int
    tag: int
    dg: int  # data-group number, 0 for EF.COM / EF.SOD


EF_COM = ElementaryFile("EF.COM", 0x011E, 0x1E, 0x60, 0)
EF_SOD = ElementaryFile("EF.SOD", 0x011D, 0x1D, 0x77, 0)
DATA_GROUPS: dict[int, ElementaryFile] = {
    n: ElementaryFile(f"EF.DG{n}", 0x0100 + n, n, tag, n)
    for n, tag in {
        1: 0x61,
        2: 0x75,
        3: 0x63,
        4: 0x76,
        5: 0x65,
        6: 0x66,
        7: 0x67,
        8: 0x68,
        9: 0x69,
        10: 0x6A,
        11: 0x6B,
        12: 0x6C,
        13: 0x6D,
        14: 0x6E,
        15: 0x6F,
        16: 0x70,
    }.items()
}
_BY_TAG = {ef.tag: ef for ef in DATA_GROUPS.values()}


def file_for_tag(tag: int) -> ElementaryFile | None:
    return _BY_TAG.get(tag)


@dataclass(frozen=True)
class Com:
    lds_version: str
    unicode_version: str
    data_groups: tuple[int, ...]  # numbers of the data groups present


def parse_com(data: bytes) -> Com:
    root = decode_first(data)
    if root.tag != 0x60:
        raise TlvError(f"EF.COM must start with tag 60, found {root.tag:X}")
    lds = uni = ""
    groups: list[int] = []
    for child in root.children():
        if child.tag == 0x5F01:
            lds = child.value.decode("latin-1")
        elif child.tag == 0x5F36:
            uni = child.value.decode("latin-1")
        elif child.tag == 0x5C:
            groups = [ef.dg for tag in child.value if (ef := _BY_TAG.get(tag)) is not None]
    return Com(lds, uni, tuple(groups))


def build_com(groups: tuple[int, ...]) -> bytes:
    tags = bytes(DATA_GROUPS[n].tag for n in groups)
    body = encode(0x5F01, b"0107") + encode(0x5F36, b"040000") + encode(0x5C, tags)
    return encode(0x60, body)


def parse_dg1(data: bytes) -> mrz.MrzFields:
    root = decode_first(data)
    if root.tag != 0x61:
        raise TlvError(f"EF.DG1 must start with tag 61, found {root.tag:X}")
    text = root.find(0x5F1F).value.decode("latin-1")
    width = {90: 30, 72: 36, 88: 44}.get(len(text))  # TD1 3x30, TD2 2x36, TD3 2x44
    if width is None:
        raise MrzInvalid("DG1 MRZ has an unknown length")
    lines = [text[i : i + width] for i in range(0, len(text), width)]
    # The chip's copy is reported as stored; check digits are the printed MRZ's concern.
    return mrz.parse(lines, strict=False)


def build_dg1(lines: tuple[str, ...]) -> bytes:
    return encode(0x61, encode(0x5F1F, "".join(lines).encode("ascii")))


class ImageFormat(enum.Enum):
    JPEG = "jpeg"
    JPEG2000 = "jpeg2000"


@dataclass(frozen=True)
class FaceImage:
    """The face from DG2: encoded bytes as stored on the chip and what the header says."""

    format: ImageFormat
    data: bytes
    width: int
    height: int


_JP2_SIGNATURE = bytes.fromhex("0000000C6A5020200D0A870A")
_J2K_CODESTREAM = bytes.fromhex("FF4FFF51")
_JPEG = bytes.fromhex("FFD8FF")
_FACIAL_HEADER = 14
_FACE_INFO = 20
_FEATURE_POINT = 8
_IMAGE_INFO = 12


def _sniff(data: bytes) -> ImageFormat:
    if data.startswith(_JPEG):
        return ImageFormat.JPEG
    if data.startswith(_JP2_SIGNATURE) or data.startswith(_J2K_CODESTREAM):
        return ImageFormat.JPEG2000
    raise TlvError("DG2 image is neither JPEG nor JPEG 2000")


def _parse_facial_record(record: bytes) -> FaceImage:
    """ISO/IEC 19794-5 (2005) facial record: header, facial information, feature points,
    image information, then the image itself."""
    if not record.startswith(b"FAC\x00") or len(record) < _FACIAL_HEADER + _FACE_INFO:
        raise TlvError("DG2 biometric data block is not an ISO 19794-5 facial record")
    offset = _FACIAL_HEADER
    block_length, points = struct.unpack_from(">IH", record, offset)
    image_info = offset + _FACE_INFO + points * _FEATURE_POINT
    if image_info + _IMAGE_INFO > len(record) or block_length > len(record) - offset:
        raise TlvError("DG2 facial record is truncated")
    data_type = record[image_info + 1]
    width, height = struct.unpack_from(">HH", record, image_info + 2)
    image = record[image_info + _IMAGE_INFO : offset + block_length]
    fmt = _sniff(image)
    if (data_type == 0) != (fmt is ImageFormat.JPEG):
        raise TlvError("DG2 image type byte disagrees with the image data")
    return FaceImage(fmt, image, width, height)


def _first_biometric(root: Tlv) -> bytes:
    group = root.find(0x7F61)
    for child in group.children():
        if child.tag == 0x7F60:
            for part in child.children():
                if part.tag in (0x5F2E, 0x7F2E):
                    return part.value
    raise TlvError("DG2 holds no biometric data block")


def parse_dg2(data: bytes) -> FaceImage:
    root = decode_first(data)
    if root.tag != 0x75:
        raise TlvError(f"EF.DG2 must start with tag 75, found {root.tag:X}")
    return _parse_facial_record(_first_biometric(root))


def build_dg2(image: bytes, width: int, height: int) -> bytes:
    fmt = _sniff(image)
    info = struct.pack(
        ">IHBBB3sH3s3s",
        _FACE_INFO + _IMAGE_INFO + len(image),  # block length
        0,  # feature points
        0,  # gender unspecified
        0,  # eye colour
        0,  # hair colour
        bytes(3),  # property mask
        0,  # expression
        bytes(3),  # pose angles
        bytes(3),  # pose angle uncertainty
    )
    image_info = struct.pack(
        ">BBHHBBHH",
        1,  # full frontal
        0 if fmt is ImageFormat.JPEG else 1,
        width,
        height,
        1,  # 24-bit RGB
        2,  # static photo from an unknown source
        0,
        0,
    )
    length = _FACIAL_HEADER + len(info) + len(image_info) + len(image)
    header = b"FAC\x00010\x00" + struct.pack(">IH", length, 1)
    record = header + info + image_info + image
    bht = encode(
        0xA1,
        encode(0x80, b"\x01\x01")
        + encode(0x87, b"\x01\x01")
        + encode(0x88, b"\x00\x08")
        + encode(0x81, b"\x02")
        + encode(0x83, b"\x00"),
    )
    instance = encode(0x7F60, bht + encode(0x5F2E, record))
    return encode(0x75, encode(0x7F61, encode(0x02, b"\x01") + instance))


def parse_text_group(data: bytes, tag: int) -> dict[str, str]:
    """DG11 / DG12: their data elements as hex tag -> text (latin-1 as stored)."""
    root = decode_first(data)
    if root.tag != tag:
        raise TlvError(f"expected tag {tag:X}, found {root.tag:X}")
    return {
        f"{child.tag:X}": child.value.decode("utf-8", "replace")
        for child in root.children()
        if child.tag != 0x5C
    }
