"""The travel-document chip reader: protocol, typed results and errors.

A read takes the MRZ access data (typed in or scanned from the document's MRZ), performs
BAC, reads EF.COM, DG1, DG2, EF.SOD (and DG11/DG12 when listed) under secure messaging and
checks the data with passive authentication. Drivers implement :class:`ChipReader`.

Writing an endorsement (docs/chip-reader.md): ``get_challenge`` -> the kiosk sends the
challenge to central, which builds the record and answers with a cryptogram made with the
issuer key only it holds -> ``authenticate(record, cryptogram)`` -> ``write_endorsement``
(written under secure messaging, committed last, read back and compared). The kiosk never
holds an issuer key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from PIL import Image

from devices.base import NEVER_CANCELLED, CancelToken, Device
from devices.endorsement import (
    EndorsementDataError,
    EndorsementRecord,
    Purpose,
    Region,
)
from devices.icao.errors import (
    AccessDenied,
    CardRemoved,
    ChipStatusError,
    EndorsementFull,
    EndorsementMismatch,
    FileAbsent,
    IssuanceStateError,
    IssuerAuthFailed,
    MrzInvalid,
    NoCard,
    NotTravelDocument,
    SecureMessagingError,
    TlvError,
    WriteInterrupted,
    WriteRefused,
)
from devices.icao.lds import FaceImage, ImageFormat
from devices.icao.mrz import MrzAccess, MrzFields, access_from_lines
from devices.icao.pa import PassiveAuthReport, PassiveAuthResult

__all__ = [
    "AccessDenied",
    "CardRemoved",
    "ChipRead",
    "ChipReadStats",
    "ChipReader",
    "ChipStatusError",
    "EndorsementDataError",
    "EndorsementFull",
    "EndorsementMismatch",
    "EndorsementRecord",
    "EndorsementWrite",
    "FaceImage",
    "FileAbsent",
    "ImageFormat",
    "IssuanceStateError",
    "IssuerAuthFailed",
    "IssuerChallenge",
    "MrzAccess",
    "MrzFields",
    "MrzInvalid",
    "NoCard",
    "NotTravelDocument",
    "PassiveAuthReport",
    "PassiveAuthResult",
    "Purpose",
    "Region",
    "SecureMessagingError",
    "TlvError",
    "WriteInterrupted",
    "WriteRefused",
    "access_from_lines",
]


@dataclass(frozen=True)
class ChipReadStats:
    """How the read went: for the benchmark, the probe and staff diagnostics."""

    apdus: int
    bytes_read: int
    chunk_size: int
    extended_length: bool
    elapsed_s: float
    cpu_s: float  # CPU time of the reading thread inside the driver
    bac_runs: int
    sfi_fallbacks: int = 0  # 1 when the chip refused READ BINARY by SFI and files were selected


@dataclass(frozen=True)
class ChipRead:
    """Everything read from one travel document."""

    mrz: MrzFields
    face: FaceImage  # as stored on the chip
    picture: Image.Image  # the face decoded with Pillow (JPEG or JPEG 2000)
    data_groups: Mapping[int, bytes]  # number -> whole EF (tag, length, value)
    com: bytes
    sod: bytes
    passive_auth: PassiveAuthReport
    stats: ChipReadStats
    extra: Mapping[int, Mapping[str, str]] = field(default_factory=dict)  # DG11/DG12 elements

    def summary(self) -> dict[str, object]:
        """A JSON-ready digest (no image bytes)."""
        return {
            "mrz": self.mrz.as_dict(),
            "face": {
                "format": self.face.format.value,
                "bytes": len(self.face.data),
                "width": self.picture.width,
                "height": self.picture.height,
            },
            "data_groups": sorted(self.data_groups),
            "passive_authentication": self.passive_auth.as_dict(),
            "stats": {
                "apdus": self.stats.apdus,
                "bytes_read": self.stats.bytes_read,
                "chunk_size": self.stats.chunk_size,
                "extended_length": self.stats.extended_length,
                "elapsed_s": round(self.stats.elapsed_s, 4),
                "cpu_s": round(self.stats.cpu_s, 4),
                "bac_runs": self.stats.bac_runs,
                "sfi_fallbacks": self.stats.sfi_fallbacks,
            },
        }


@dataclass(frozen=True)
class IssuerChallenge:
    """What central needs to authorise one endorsement record on this chip."""

    document_number: str
    challenge: bytes  # 8 bytes from the chip, valid for its next command only
    sequence: int  # the slot the new record takes (records committed + 1)
    capacity: int
    latest: EndorsementRecord | None  # the newest record already on the chip

    def as_dict(self) -> dict[str, object]:
        """For the request to central (the challenge in hex)."""
        return {
            "document_number": self.document_number,
            "challenge": self.challenge.hex().upper(),
            "sequence": self.sequence,
        }


@dataclass(frozen=True)
class EndorsementWrite:
    """A written and verified endorsement."""

    record: EndorsementRecord
    apdus: int  # of the whole issuance, from get_challenge
    write_s: float  # UPDATE BINARY of the record and the commit counter
    verify_s: float  # reading both back


@runtime_checkable
class ChipReader(Device, Protocol):
    """A PC/SC (or other) reader of eMRTD chips.

    Events: CARD_PLACED / CARD_REMOVED through ``subscribe``."""

    def card_present(self) -> bool: ...

    def read_document(
        self,
        access: MrzAccess,
        *,
        timeout_s: float = 30.0,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> ChipRead: ...

    def read_endorsement(
        self,
        access: MrzAccess,
        *,
        timeout_s: float = 10.0,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> EndorsementRecord | None:
        """The newest committed endorsement on the chip (None: none)."""
        ...

    def read_endorsements(
        self,
        access: MrzAccess,
        *,
        timeout_s: float = 10.0,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> tuple[EndorsementRecord, ...]:
        """Every committed endorsement, oldest first."""
        ...

    def get_challenge(
        self,
        access: MrzAccess,
        *,
        timeout_s: float = 10.0,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> IssuerChallenge:
        """Start an endorsement write; the card stays connected until it ends."""
        ...

    def authenticate(
        self,
        record: EndorsementRecord,
        cryptogram: bytes,
        *,
        timeout_s: float = 10.0,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> None:
        """Present central's cryptogram for ``record``; IssuerAuthFailed when refused."""
        ...

    def write_endorsement(
        self,
        record: EndorsementRecord,
        *,
        timeout_s: float = 10.0,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> EndorsementWrite:
        """Write, commit, read back and verify the authenticated record."""
        ...

    def end_issuance(self) -> None:
        """Abandon an unfinished endorsement write."""
        ...
