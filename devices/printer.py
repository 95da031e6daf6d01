"""Receipt printer: the protocol the core uses, the receipt model and the printer status.

A receipt is a title plus a sequence of items (text lines, QR code, CODE128 barcode, raster
image, feed). ``devices.escpos`` turns it into ESC/POS bytes.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from devices.base import (
    NEVER_CANCELLED,
    CancelToken,
    Device,
    DeviceStatus,
    StatusReport,
)

if TYPE_CHECKING:
    from PIL import Image


class Align(enum.Enum):
    LEFT = 0
    CENTER = 1
    RIGHT = 2


@dataclass(frozen=True)
class TextLine:
    """One logical line; wrapped to the printer's columns (CJK characters count double)."""

    text: str
    bold: bool = False
    large: bool = False  # double width and height
    align: Align = Align.LEFT


class QrErrorLevel(enum.Enum):
    L = 0
    M = 1
    Q = 2
    H = 3


@dataclass(frozen=True)
class QrCode:
    data: str
    module_size: int = 6  # dots per module, 1..16
    error_level: QrErrorLevel = QrErrorLevel.M
    align: Align = Align.CENTER


@dataclass(frozen=True)
class Barcode128:
    """CODE128 (code set B: printable ASCII)."""

    data: str
    height: int = 80  # dots
    module_width: int = 2  # 2..6
    show_text: bool = True
    align: Align = Align.CENTER


@dataclass(frozen=True)
class RasterImage:
    image: Image.Image
    align: Align = Align.CENTER


@dataclass(frozen=True)
class Feed:
    lines: int = 1


ReceiptItem = TextLine | QrCode | Barcode128 | RasterImage | Feed


@dataclass(frozen=True)
class Receipt:
    title: str
    items: Sequence[ReceiptItem] = ()
    feed_before_cut: int = 4
    cut: bool = True
    partial_cut: bool = False

    @classmethod
    def of_lines(cls, title: str, *lines: str | ReceiptItem) -> Receipt:
        items = tuple(TextLine(x) if isinstance(x, str) else x for x in lines)
        return cls(title=title, items=items)


class PaperState(enum.Enum):
    OK = "ok"
    NEAR_END = "near_end"
    OUT = "out"


@dataclass(frozen=True)
class PrinterStatus:
    """The four DLE EOT real-time status bytes, decoded."""

    offline: bool = False
    cover_open: bool = False
    stopped_by_paper_end: bool = False
    error: bool = False
    cutter_error: bool = False
    unrecoverable_error: bool = False
    auto_recoverable_error: bool = False
    paper: PaperState = PaperState.OK
    raw: bytes = b""

    @property
    def can_print(self) -> bool:
        return not (
            self.cover_open
            or self.paper is PaperState.OUT
            or self.cutter_error
            or self.unrecoverable_error
            or self.offline
            or self.error
        )

    def problems(self) -> list[str]:
        names = [
            ("cover_open", self.cover_open),
            ("paper_out", self.paper is PaperState.OUT),
            ("cutter_error", self.cutter_error),
            ("unrecoverable_error", self.unrecoverable_error),
            ("auto_recoverable_error", self.auto_recoverable_error),
            ("offline", self.offline),
        ]
        return [name for name, active in names if active]

    def report(self) -> StatusReport:
        warnings = ("paper near end",) if self.paper is PaperState.NEAR_END else ()
        if self.cutter_error or self.unrecoverable_error:
            return StatusReport(DeviceStatus.HARDWARE_ERROR, ", ".join(self.problems()), warnings)
        if self.cover_open or self.paper is PaperState.OUT:
            return StatusReport(DeviceStatus.USER_ERROR, ", ".join(self.problems()), warnings)
        if not self.can_print:
            return StatusReport(DeviceStatus.OFFLINE, ", ".join(self.problems()), warnings)
        return StatusReport(DeviceStatus.ONLINE, "paper near end" if warnings else "", warnings)

    def to_json(self) -> dict[str, object]:
        return {
            "paper": self.paper.value,
            "cover_open": self.cover_open,
            "offline": self.offline,
            "cutter_error": self.cutter_error,
            "unrecoverable_error": self.unrecoverable_error,
            "auto_recoverable_error": self.auto_recoverable_error,
            "raw": self.raw.hex(" "),
        }


@dataclass(frozen=True)
class PrintResult:
    bytes_sent: int
    lines: int
    status_before: PrinterStatus
    status_after: PrinterStatus
    duration_s: float
    warnings: tuple[str, ...] = field(default=())


@runtime_checkable
class ReceiptPrinter(Device, Protocol):
    """A receipt printer."""

    def printer_status(
        self, *, timeout_s: float = 2.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> PrinterStatus:
        """Query the real-time status (paper near end / out, cover open, cutter error)."""
        ...

    def print_receipt(
        self, receipt: Receipt, *, timeout_s: float, cancel: CancelToken = NEVER_CANCELLED
    ) -> PrintResult:
        """Print one receipt; refuse (MediaError) when it cannot start, and raise when the
        status after the job shows it failed (the receipt may be incomplete)."""
        ...
