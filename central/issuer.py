"""The issuer's side of writing an endorsement onto the permit chip (scheme in
docs/chip-reader.md, "Issuer authentication").

Only central holds the issuer master key. Each chip was personalised with its own document
key, derived from the master key and the document number; to let a kiosk write one record,
central builds the record bytes and answers the chip's challenge with a cryptogram over the
challenge and the record's SHA-256, so an authorisation relayed by a kiosk is good for that
chip, that session and that record only.

Deliberately standalone (standard library and ``cryptography`` only): it shares no code with
the kiosk or the device layer, only the specification and its test vector.
"""

from __future__ import annotations

import binascii
import datetime as dt
import hashlib
import hmac
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFCMAC, CounterLocation, Mode

MASTER_KEY_SIZES = (16, 24, 32)  # AES-128/192/256 master keys
DOCUMENT_KEY_SIZE = 16  # AES-128 on the chip
CHALLENGE_SIZE = 8
CRYPTOGRAM_SIZE = 16
KDF_LABEL = b"EXIT-ENTRY ENDORSEMENT ISSUER KEY"
# The published demo master key (00 01 .. 1F): the virtual permits of the simulator are
# personalised with it, so a demo can issue end to end. Never a production key: the gateway
# uses it only when told to (``serve --demo-issuer-key``), and says so in its log.
DEMO_MASTER_KEY = bytes(range(32))
MAC_DOMAIN = b"ENDORSE1"

# The record layout (docs/chip-reader.md, "Endorsement file"): 40 bytes.
RECORD_SIZE = 40
RECORD_FORMAT = 0x01
CAPACITY = 255
PURPOSES = {"individual": 0x01, "group": 0x02, "family_visit": 0x03, "business": 0x04}
REGIONS = ("HK", "MO")


class IssuerError(ValueError):
    """Input the issuer refuses (bad key, challenge, document number or record)."""


@dataclass(frozen=True)
class Record:
    """An endorsement record as central builds it (and reads it back from a chip)."""

    sequence: int  # the chip's counter: slot 1..255
    endorsement_no: str
    region: str  # "HK" or "MO"
    purpose: str  # central's purpose name
    trips: int  # 1..254, or 0 for multiple trips
    valid_from: dt.date
    valid_until: dt.date
    issued_at: dt.datetime  # UTC, whole seconds


def load_master_key(path: str | os.PathLike[str]) -> bytes:
    """The master key from a file only its owner may read: 32, 48 or 64 hex digits."""
    file = Path(path)
    try:
        mode = stat.S_IMODE(file.stat().st_mode)
        text = file.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise IssuerError(f"issuer key file {file} cannot be read: {exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise IssuerError(f"issuer key file {file} is readable by others (mode {mode:o})")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) not in MASTER_KEY_SIZES:
        raise IssuerError(f"issuer key file {file} must hold 32, 48 or 64 hex digits")
    return key


def normalise_document_number(document_number: str) -> bytes:
    """The document number as in the MRZ: upper case, '<'-padded to 9 characters."""
    text = document_number.strip().upper()
    if not 1 <= len(text) <= 9 or not all(c.isalnum() or c == "<" for c in text):
        raise IssuerError("document number must be 1-9 letters or digits")
    return text.ljust(9, "<").encode("ascii")


def document_key(master_key: bytes, document_number: str) -> bytes:
    """The chip's own key: NIST SP 800-108 counter-mode KDF with AES-CMAC under the master
    key (32-bit counter before the fixed data; label, 00, document number, 32-bit length)."""
    if len(master_key) not in MASTER_KEY_SIZES:
        raise IssuerError("the master key must be 16, 24 or 32 bytes")
    kdf = KBKDFCMAC(
        algorithm=algorithms.AES,
        mode=Mode.CounterMode,
        length=DOCUMENT_KEY_SIZE,
        rlen=4,
        llen=4,
        location=CounterLocation.BeforeFixed,
        label=KDF_LABEL,
        context=normalise_document_number(document_number),
        fixed=None,
    )
    return kdf.derive(master_key)


def record_digest(record: bytes) -> bytes:
    if len(record) != RECORD_SIZE:
        raise IssuerError(f"a record is {RECORD_SIZE} bytes, not {len(record)}")
    return hashlib.sha256(record).digest()


def cryptogram(doc_key: bytes, challenge: bytes, record: bytes) -> bytes:
    """AES-CMAC(document key, "ENDORSE1" || challenge || SHA-256(record)): 16 bytes."""
    if len(doc_key) != DOCUMENT_KEY_SIZE:
        raise IssuerError("the document key must be 16 bytes")
    if len(challenge) != CHALLENGE_SIZE:
        raise IssuerError(f"the chip's challenge is {CHALLENGE_SIZE} bytes")
    mac = cmac.CMAC(algorithms.AES(doc_key))
    mac.update(MAC_DOMAIN + challenge + record_digest(record))
    return mac.finalize()


def authorize(master_key: bytes, document_number: str, challenge: bytes, record: bytes) -> bytes:
    """The cryptogram that lets the chip of ``document_number`` accept ``record`` in the
    secure-messaging session that gave ``challenge``."""
    decode_record(record)  # only well-formed records are ever authorised
    return cryptogram(document_key(master_key, document_number), challenge, record)


def verify_cryptogram(doc_key: bytes, challenge: bytes, record: bytes, given: bytes) -> bool:
    """What the chip checks (for tests and audits)."""
    return hmac.compare_digest(cryptogram(doc_key, challenge, record), given)


# --- the record layout -------------------------------------------------------------------


def encode_record(record: Record) -> bytes:
    """The 40 bytes the chip stores (CRC-16/CCITT-FALSE over the first 38, big-endian)."""
    number = record.endorsement_no.encode("ascii", errors="strict")
    if not 1 <= record.sequence <= CAPACITY:
        raise IssuerError(f"sequence must be 1..{CAPACITY}")
    if not 1 <= len(number) <= 16 or not all(0x21 <= b <= 0x7E for b in number):
        raise IssuerError("endorsement number must be 1-16 printable ASCII characters")
    if record.region not in REGIONS or record.purpose not in PURPOSES:
        raise IssuerError("unknown region or purpose")
    if not 0 <= record.trips <= 254 or record.valid_until < record.valid_from:
        raise IssuerError("trips or validity out of range")
    issued = record.issued_at.astimezone(dt.UTC) if record.issued_at.tzinfo else record.issued_at
    body = (
        bytes([RECORD_FORMAT, record.sequence])
        + number.ljust(16, b" ")
        + record.region.encode("ascii")
        + bytes([PURPOSES[record.purpose], record.trips])
        + bytes.fromhex(record.valid_from.strftime("%Y%m%d"))
        + bytes.fromhex(record.valid_until.strftime("%Y%m%d"))
        + bytes.fromhex(issued.strftime("%Y%m%d%H%M%S"))
        + b"\x00"
    )
    return body + binascii.crc_hqx(body, 0xFFFF).to_bytes(2, "big")


def decode_record(data: bytes) -> Record:
    """Parse record bytes (read back from a chip, or before authorising them)."""
    if len(data) != RECORD_SIZE:
        raise IssuerError(f"a record is {RECORD_SIZE} bytes, not {len(data)}")
    if binascii.crc_hqx(data[:-2], 0xFFFF) != int.from_bytes(data[-2:], "big"):
        raise IssuerError("record CRC does not match")
    if data[0] != RECORD_FORMAT:
        raise IssuerError("unknown record format")
    purposes = {wire: name for name, wire in PURPOSES.items()}
    try:
        region = data[18:20].decode("ascii")
        if region not in REGIONS or data[20] not in purposes:
            raise IssuerError("unknown region or purpose")
        return Record(
            sequence=data[1],
            endorsement_no=data[2:18].decode("ascii").rstrip(" "),
            region=region,
            purpose=purposes[data[20]],
            trips=data[21],
            valid_from=dt.datetime.strptime(data[22:26].hex(), "%Y%m%d").date(),
            valid_until=dt.datetime.strptime(data[26:30].hex(), "%Y%m%d").date(),
            issued_at=dt.datetime.strptime(data[30:37].hex(), "%Y%m%d%H%M%S").replace(
                tzinfo=dt.UTC
            ),
        )
    except (UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, IssuerError):
            raise
        raise IssuerError(f"record field does not decode: {exc}") from exc
