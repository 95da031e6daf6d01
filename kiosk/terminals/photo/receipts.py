"""The photo receipt (出入境数字相片采集回执): the photo number as text, barcode and QR code,
the photo itself, when and where it was taken."""

from __future__ import annotations

from kiosk.config import KioskConfig
from kiosk.core.session import Slot
from kiosk.machine.receipts import (
    Barcode128,
    Feed,
    QrCode,
    SessionImage,
    Slip,
    TextLine,
    centre,
)

# The submitted photo, held in the session so the receipt can print it.
PHOTO_JPEG: Slot[bytearray] = Slot("photo_jpeg")


def photo_receipt(config: KioskConfig, number: str, taken_at: str) -> Slip:
    return Slip(
        number,
        (
            centre("出入境数字相片采集回执", bold=True, large=True),
            centre("Exit-entry digital photo receipt"),
            Feed(1),
            TextLine(f"图像号 Photo number: {number}", bold=True),
            Barcode128(number),
            QrCode(number),
            SessionImage(PHOTO_JPEG, width=200),
            TextLine(f"时间 Time: {taken_at.replace('T', ' ')}"),
            TextLine(f"地点 Place: {config.kiosk.place or config.kiosk.id}"),
            TextLine(f"终端 Kiosk: {config.kiosk.id}"),
            Feed(1),
            TextLine("请在受理窗口出示本回执。"),
            TextLine("Show this receipt at the application counter."),
        ),
    )
