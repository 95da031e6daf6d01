"""The payment slip (出入境证件签注缴费凭条): what was issued, for how much, where and when."""

from __future__ import annotations

from kiosk.config import KioskConfig
from kiosk.machine.receipts import Barcode128, Feed, Slip, TextLine, centre
from kiosk.terminals.renewal.ports import Issued
from kiosk.terminals.renewal.texts import OPTION_NAMES, PURPOSES, REGIONS


def payment_slip(config: KioskConfig, issued: Issued) -> Slip:
    region_zh, region_en = REGIONS[issued.region]
    purpose_zh, purpose_en = PURPOSES[issued.purpose]
    option_zh, option_en = OPTION_NAMES[issued.option]
    return Slip(
        issued.endorsement_no,
        (
            centre("出入境证件签注缴费凭条", bold=True, large=True),
            centre("Endorsement payment slip"),
            Feed(1),
            TextLine(f"签注号 Endorsement: {issued.endorsement_no}", bold=True),
            Barcode128(issued.endorsement_no),
            TextLine(f"地区 Region: {region_zh} {region_en}"),
            TextLine(f"种类 Kind: {purpose_zh} {purpose_en}"),
            TextLine(f"次数 Trips: {option_zh} {option_en}"),
            TextLine(f"有效期 Valid: {issued.valid_from} - {issued.valid_until}"),
            TextLine(f"金额 Amount: {issued.fee_cny} 元 CNY", bold=True),
            TextLine(f"订单号 Order: {issued.order_id}"),
            TextLine(f"时间 Time: {issued.issued_at.replace('T', ' ')}"),
            TextLine(f"地点 Place: {config.kiosk.place or config.kiosk.id}"),
            TextLine(f"终端 Kiosk: {config.kiosk.id}"),
            Feed(1),
            TextLine("本机不开具发票，如需发票请凭本凭条到窗口开具。"),
            TextLine("For an invoice, bring this slip to the counter."),
        ),
    )
