"""What the back of the permit shows after a renewal: the endorsement in Chinese and English,
laid out as lines for the card rewriter (``devices.card_back.render_back`` makes the 1-bit
image). The layout follows the printed endorsement of the card-type permit: kind and region,
trips, validity, endorsement number, where it was issued."""

from __future__ import annotations

from devices.card_back import BackLine
from devices.chip import EndorsementRecord
from kiosk.terminals.renewal.texts import PURPOSES, REGIONS


def trips_text(record: EndorsementRecord) -> str:
    if record.multiple_trips:
        return "多次 Multiple"
    return f"{record.trips}次 {record.trips} trip{'s' if record.trips > 1 else ''}"


def endorsement_back(record: EndorsementRecord, place: str = "") -> list[BackLine]:
    region_zh, region_en = REGIONS[record.region.value]
    purpose_zh, purpose_en = PURPOSES[record.purpose.value]
    issued = record.issued_at.date().isoformat()
    # The hall in its first language: the line has room for one.
    hall = place.split(" / ", maxsplit=1)[0]
    issued_line = f"签发 Issued: {issued}" + (f" · {hall}" if hall else "")
    return [
        BackLine("签注 ENDORSEMENT", size_mm=3.5, bold=True),
        BackLine(f"{region_zh} {region_en}", size_mm=3.0, bold=True),
        BackLine(f"{purpose_zh} {purpose_en}", size_mm=2.8),
        BackLine(f"有效次数 Trips: {trips_text(record)}", size_mm=2.8),
        BackLine(f"有效期至 Valid until: {record.valid_until.isoformat()}", size_mm=3.0, bold=True),
        BackLine(f"自 From: {record.valid_from.isoformat()}", size_mm=2.5),
        BackLine(f"No. {record.endorsement_no} ({record.sequence})", size_mm=2.5),
        BackLine(issued_line, size_mm=2.2),
    ]
