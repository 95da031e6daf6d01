"""Receipts as the flows write them: the printer's own items (text, QR code, barcode, feed)
plus a picture held in the session, which the flow names by its slot and never sees."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from devices.printer import (
    Align,
    Barcode128,
    Feed,
    QrCode,
    RasterImage,
    Receipt,
    ReceiptItem,
    TextLine,
)
from kiosk.core.session import Session, Slot

__all__ = ["Align", "Barcode128", "Feed", "QrCode", "SessionImage", "Slip", "TextLine"]


@dataclass(frozen=True)
class SessionImage:
    """A JPEG or PNG held in the session (the citizen's photo), printed ``width`` dots wide."""

    slot: Slot[bytearray]
    width: int = 240


SlipItem = TextLine | QrCode | Barcode128 | Feed | SessionImage


@dataclass(frozen=True)
class Slip:
    """A receipt to print: a title (for the printer's log) and its items in order."""

    title: str
    items: tuple[SlipItem, ...]

    def receipt(self, session: Session | None) -> Receipt:
        """The printer's receipt, with session pictures filled in (left out when the
        session holds none)."""
        items: list[ReceiptItem] = []
        for item in self.items:
            if not isinstance(item, SessionImage):
                items.append(item)
                continue
            raw = session.get(item.slot) if session is not None else None
            if raw is not None:
                image = Image.open(io.BytesIO(bytes(raw))).convert("L")
                image.thumbnail((item.width, 10_000))
                items.append(RasterImage(image))
        return Receipt(title=self.title, items=tuple(items))


def centre(text: str, *, bold: bool = False, large: bool = False) -> TextLine:
    return TextLine(text, bold=bold, large=large, align=Align.CENTER)
