"""The travel-document chip reader: protocol, typed result and errors.

A read takes the MRZ access data (typed in or scanned from the document's MRZ), performs
BAC, reads EF.COM, DG1, DG2, EF.SOD (and DG11/DG12 when listed) under secure messaging and
checks the data with passive authentication. Drivers implement :class:`ChipReader`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from PIL import Image

from devices.base import NEVER_CANCELLED, CancelToken, Device
from devices.icao.errors import (
    AccessDenied,
    CardRemoved,
    ChipStatusError,
    FileAbsent,
    MrzInvalid,
    NoCard,
    NotTravelDocument,
    SecureMessagingError,
    TlvError,
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
    "FaceImage",
    "FileAbsent",
    "ImageFormat",
    "MrzAccess",
    "MrzFields",
    "MrzInvalid",
    "NoCard",
    "NotTravelDocument",
    "PassiveAuthReport",
    "PassiveAuthResult",
    "SecureMessagingError",
    "TlvError",
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
            },
        }


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
