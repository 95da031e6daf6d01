"""What the flows may ask of this machine's devices, typed: one protocol per device the flows
use directly, its port key, its answers, and the session slots its reads fill.

Personal data read from a card goes into the session; the answer the flow gets is a summary
without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from devices.chip import ChipRead
from devices.icao.mrz import MrzAccess
from devices.idcard import IdCardData
from kiosk.core.calls import PortKey
from kiosk.core.session import Session, Slot
from kiosk.machine.receipts import Slip

IDCARD_DATA: Slot[IdCardData] = Slot("idcard")
CHIP_DATA: Slot[ChipRead] = Slot("chip")
# The holder's photo on record, as encoded bytes: the permit chip's DG2 face, or the
# application photo central holds for a finished document. The identity check compares
# the face at the camera with it.
DOCUMENT_PHOTO: Slot[bytes] = Slot("document_photo")


@dataclass(frozen=True)
class CardSummary:
    """The ID card read (the card itself is in the session under ``IDCARD_DATA``)."""

    card_type: str
    masked_id: str
    age: int
    expired: bool


@dataclass(frozen=True)
class ChipSummary:
    """The permit chip read and checked (the data groups are in the session)."""

    passive_auth: str  # devices.icao.pa.PaResult value: "valid" or why not
    reason_zh: str
    reason_en: str
    document_number_masked: str


@dataclass(frozen=True)
class Printed:
    warnings: tuple[str, ...] = ()  # e.g. paper near its end


class IdCardPort(Protocol):
    def read(self, session: Session | None) -> CardSummary: ...


class ChipPort(Protocol):
    def read(self, access: Slot[MrzAccess], session: Session | None) -> ChipSummary:
        """Open the chip with the access data held in the session at ``access``."""
        ...


class PrinterPort(Protocol):
    def print(self, slip: Slip, session: Session | None) -> Printed: ...


IDCARD: PortKey[IdCardPort] = PortKey("idcard")
CHIP: PortKey[ChipPort] = PortKey("chip")
PRINTER: PortKey[PrinterPort] = PortKey("printer")
