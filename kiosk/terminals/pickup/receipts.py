"""The pickup receipt (出入境证件领取凭条): each document handed over, when and where."""

from __future__ import annotations

from datetime import datetime

from kiosk.config import KioskConfig
from kiosk.machine.receipts import Barcode128, Feed, Slip, SlipItem, TextLine, centre
from kiosk.terminals.pickup.ports import Document
from kiosk.terminals.pickup.texts import TEXTS


def kind_key(kind: str) -> str:
    """The message key naming a kind of document (a general name for one not listed)."""
    key = f"pickup.kind.{kind}"
    return key if key in TEXTS else "pickup.kind.other"


def pickup_receipt(config: KioskConfig, handed: list[Document], now: datetime) -> Slip:
    items: list[SlipItem] = [
        centre("出入境证件领取凭条", bold=True, large=True),
        centre("Exit-entry document pickup receipt"),
        Feed(1),
    ]
    for document in handed:
        key = kind_key(document.kind)
        names = f"{TEXTS.text(key, 'zh')} {TEXTS.text(key, 'en')}"
        items += [
            TextLine(names, bold=True),
            TextLine(f"证件受理号 Document no.: {document.document_no}"),
            Barcode128(document.document_no),
        ]
    items += [
        TextLine(f"时间 Time: {now:%Y-%m-%d %H:%M}"),
        TextLine(f"地点 Place: {config.kiosk.place or config.kiosk.id}"),
        TextLine(f"终端 Kiosk: {config.kiosk.id}"),
        Feed(1),
        TextLine("请妥善保管您的证件。"),
        TextLine("Keep your document safe."),
    ]
    return Slip("pickup", tuple(items))
