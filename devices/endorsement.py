"""The endorsement file on the travel-permit chip: layout, typed record and codec.

Project-defined (docs/chip-reader.md, "Endorsement file"): a transparent EF under the eMRTD
application, EF.ENDORSEMENTS (FID 011A, SFI 1A), holding an 8-byte header and up to 255
fixed-size 40-byte records. The header's commit counter is written last and alone (one
byte), so a record exists for a reader only once the counter covers it: a card pulled
mid-write leaves the previous state. Central builds the record bytes and authorises exactly
those (central/issuer.py speaks the same layout); the kiosk decodes, writes and verifies.
"""

from __future__ import annotations

import binascii
import datetime as dt
import enum
import hashlib
from dataclasses import dataclass

from devices.icao.errors import TlvError
from devices.icao.lds import ElementaryFile

EF_ENDORSEMENTS = ElementaryFile("EF.ENDORSEMENTS", 0x011A, 0x1A, 0x00, 0)
MAGIC = b"EN"
LAYOUT_VERSION = 0x01
RECORD_FORMAT = 0x01
HEADER_SIZE = 8
RECORD_SIZE = 40
CAPACITY = 255  # endorsements a card can hold (domain: up to 255 per card)
COUNT_OFFSET = 5  # the commit counter inside the header
FILE_SIZE = HEADER_SIZE + CAPACITY * RECORD_SIZE
NUMBER_SIZE = 16
MULTIPLE_TRIPS = 0


class EndorsementDataError(TlvError):
    """Endorsement bytes that do not decode (bad header, CRC, field or date)."""

    code = "chip.endorsement_data"


class Region(enum.Enum):
    HK = "HK"
    MO = "MO"


class Purpose(enum.Enum):
    """Travel purpose; the value is central's name, ``wire`` the byte on the chip."""

    INDIVIDUAL = "individual"
    GROUP = "group"
    FAMILY_VISIT = "family_visit"
    BUSINESS = "business"

    @property
    def wire(self) -> int:
        return _PURPOSE_WIRE[self]


_PURPOSE_WIRE = {
    Purpose.INDIVIDUAL: 0x01,
    Purpose.GROUP: 0x02,
    Purpose.FAMILY_VISIT: 0x03,
    Purpose.BUSINESS: 0x04,
}
_PURPOSE_BY_WIRE = {wire: purpose for purpose, wire in _PURPOSE_WIRE.items()}


@dataclass(frozen=True)
class EndorsementRecord:
    """One endorsement as stored on the chip."""

    sequence: int  # the card's counter: 1 for the first endorsement ever written, ... 255
    endorsement_no: str  # central's number, printable ASCII, at most 16 characters
    region: Region
    purpose: Purpose
    trips: int  # 1..254 trips, or MULTIPLE_TRIPS (0)
    valid_from: dt.date
    valid_until: dt.date
    issued_at: dt.datetime  # UTC, whole seconds

    @property
    def multiple_trips(self) -> bool:
        return self.trips == MULTIPLE_TRIPS

    def encode(self) -> bytes:
        """The 40 record bytes (CRC included). ValueError for values the layout cannot hold."""
        try:
            number = self.endorsement_no.encode("ascii")
        except UnicodeEncodeError as exc:
            raise ValueError("endorsement number must be ASCII") from exc
        if not 1 <= self.sequence <= CAPACITY:
            raise ValueError(f"sequence {self.sequence} outside 1..{CAPACITY}")
        if not 1 <= len(number) <= NUMBER_SIZE or not all(0x21 <= b <= 0x7E for b in number):
            raise ValueError("endorsement number must be 1-16 printable ASCII characters")
        if not 0 <= self.trips <= 254:
            raise ValueError("trips must be 0 (multiple) or 1..254")
        if self.valid_until < self.valid_from:
            raise ValueError("valid_until before valid_from")
        issued = self.issued_at.astimezone(dt.UTC) if self.issued_at.tzinfo else self.issued_at
        body = (
            bytes([RECORD_FORMAT, self.sequence])
            + number.ljust(NUMBER_SIZE, b" ")
            + self.region.value.encode("ascii")
            + bytes([self.purpose.wire, self.trips])
            + _bcd(self.valid_from.strftime("%Y%m%d"))
            + _bcd(self.valid_until.strftime("%Y%m%d"))
            + _bcd(issued.strftime("%Y%m%d%H%M%S"))
            + b"\x00"
        )
        return body + crc16(body).to_bytes(2, "big")

    def digest(self) -> bytes:
        """SHA-256 of the record bytes: what the issuer's cryptogram is bound to."""
        return hashlib.sha256(self.encode()).digest()

    @classmethod
    def decode(cls, data: bytes) -> EndorsementRecord:
        if len(data) != RECORD_SIZE:
            raise EndorsementDataError(f"record of {len(data)} bytes, expected {RECORD_SIZE}")
        if crc16(data[:-2]) != int.from_bytes(data[-2:], "big"):
            raise EndorsementDataError("record CRC does not match")
        if data[0] != RECORD_FORMAT:
            raise EndorsementDataError(f"unknown record format {data[0]:02X}")
        try:
            number = data[2:18].decode("ascii").rstrip(" ")
            region = Region(data[18:20].decode("ascii"))
            purpose = _PURPOSE_BY_WIRE[data[20]]
            return cls(
                sequence=data[1],
                endorsement_no=number,
                region=region,
                purpose=purpose,
                trips=data[21],
                valid_from=dt.datetime.strptime(_unbcd(data[22:26]), "%Y%m%d").date(),
                valid_until=dt.datetime.strptime(_unbcd(data[26:30]), "%Y%m%d").date(),
                issued_at=dt.datetime.strptime(_unbcd(data[30:37]), "%Y%m%d%H%M%S").replace(
                    tzinfo=dt.UTC
                ),
            )
        except (UnicodeDecodeError, ValueError, KeyError) as exc:
            raise EndorsementDataError(f"record field does not decode: {exc}") from exc

    def as_dict(self) -> dict[str, object]:
        return {
            "sequence": self.sequence,
            "endorsement_no": self.endorsement_no,
            "region": self.region.value,
            "purpose": self.purpose.value,
            "trips": "multiple" if self.multiple_trips else self.trips,
            "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat(),
            "issued_at": self.issued_at.isoformat(),
        }


@dataclass(frozen=True)
class EndorsementHeader:
    capacity: int
    record_size: int
    committed: int  # records a reader may trust (the commit counter)

    @property
    def full(self) -> bool:
        return self.committed >= self.capacity

    @property
    def next_sequence(self) -> int:
        return self.committed + 1

    def encode(self) -> bytes:
        fields = [LAYOUT_VERSION, self.capacity, self.record_size, self.committed, 0, 0]
        return MAGIC + bytes(fields)

    @classmethod
    def decode(cls, data: bytes) -> EndorsementHeader:
        if len(data) < HEADER_SIZE or data[:2] != MAGIC:
            raise EndorsementDataError("not an endorsement file header")
        if data[2] != LAYOUT_VERSION:
            raise EndorsementDataError(f"unknown endorsement layout {data[2]:02X}")
        header = cls(capacity=data[3], record_size=data[4], committed=data[COUNT_OFFSET])
        if header.record_size != RECORD_SIZE or header.committed > header.capacity:
            raise EndorsementDataError("endorsement header out of range")
        return header


def record_offset(sequence: int) -> int:
    """Where record ``sequence`` (1-based) starts in the file."""
    return HEADER_SIZE + (sequence - 1) * RECORD_SIZE


def empty_file(capacity: int = CAPACITY) -> bytes:
    """The file as personalised: header with no record committed, slots zeroed."""
    return EndorsementHeader(capacity, RECORD_SIZE, 0).encode() + bytes(capacity * RECORD_SIZE)


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (polynomial 1021, initial FFFF)."""
    return binascii.crc_hqx(data, 0xFFFF)


def _bcd(digits: str) -> bytes:
    return bytes.fromhex(digits)


def _unbcd(data: bytes) -> str:
    text = data.hex()
    if not text.isdigit():
        raise ValueError(f"not BCD: {text}")
    return text
