"""The 256-byte card text block (GA/T 490 layout, UCS-2 little-endian, space padded).

The two bytes at offset 248 tell the card type: space = resident ID card, 'J' = Hong Kong /
Macao / Taiwan residence permit, 'I' = foreigner permanent residence card (2017), 'Y' =
foreigner permanent residence card (2023). ``encode_text_block`` is the inverse of
``parse_text_block``; the simulator uses it to put any card on its reader.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from devices.idcard import (
    CardDataError,
    CardType,
    IdCardData,
    Sex,
    parse_card_date,
)

TEXT_BLOCK_LEN = 256
TYPE_OFFSET = 248
LONG_TERM = "长期"

_TYPE_MARKS = {
    " ": CardType.RESIDENT,
    "J": CardType.HMT_RESIDENCE_PERMIT,
    "I": CardType.FOREIGNER_2017,
    "Y": CardType.FOREIGNER_2023,
}
_MARK_OF = {card_type: mark for mark, card_type in _TYPE_MARKS.items()}


@dataclass(frozen=True)
class _Field:
    name: str
    offset: int
    length: int  # bytes


def _f(name: str, offset: int, length: int) -> _Field:
    return _Field(name, offset, length)


_COMMON_TAIL = (_f("valid_from", 188, 16), _f("valid_to", 204, 16))

LAYOUTS: dict[CardType, tuple[_Field, ...]] = {
    CardType.RESIDENT: (
        _f("name", 0, 30),
        _f("sex", 30, 2),
        _f("nation", 32, 4),
        _f("birth", 36, 16),
        _f("address", 52, 70),
        _f("id_number", 122, 36),
        _f("issuer", 158, 30),
        *_COMMON_TAIL,
    ),
    CardType.HMT_RESIDENCE_PERMIT: (
        _f("name", 0, 30),
        _f("sex", 30, 2),
        _f("birth", 36, 16),
        _f("address", 52, 70),
        _f("id_number", 122, 36),
        _f("issuer", 158, 30),
        *_COMMON_TAIL,
        _f("pass_number", 220, 18),
        _f("issue_count", 238, 4),
    ),
    CardType.FOREIGNER_2017: (
        _f("english_name", 0, 120),
        _f("sex", 120, 2),
        _f("id_number", 122, 30),
        _f("nationality", 152, 6),
        _f("name", 158, 30),
        *_COMMON_TAIL,
        _f("birth", 220, 16),
        _f("card_version", 236, 4),
        _f("issuer", 240, 8),
    ),
    CardType.FOREIGNER_2023: (
        _f("name", 0, 30),
        _f("sex", 30, 2),
        _f("issue_count", 32, 4),
        _f("birth", 36, 16),
        _f("english_name", 52, 70),
        _f("id_number", 122, 36),
        *_COMMON_TAIL,
        _f("english_name_2", 220, 22),
        _f("nationality", 242, 6),
    ),
}


def _decode(block: bytes, item: _Field) -> str:
    """One field's text without its space padding."""
    raw = block[item.offset : item.offset + item.length]
    try:
        text = raw.decode("utf-16-le")
    except UnicodeDecodeError:
        raise CardDataError(f"{item.name}: not UCS-2 text") from None
    return text.replace("\x00", " ").strip()


def parse_text_block(block: bytes, photo: bytes = b"", *, validate: bool = True) -> IdCardData:
    """Parse one text block into IdCardData; CardDataError for anything inconsistent."""
    if len(block) != TEXT_BLOCK_LEN:
        raise CardDataError(f"text block of {len(block)} bytes (expected {TEXT_BLOCK_LEN})")
    mark = block[TYPE_OFFSET : TYPE_OFFSET + 2].decode("utf-16-le", errors="replace")
    card_type = _TYPE_MARKS.get(mark)
    if card_type is None:
        raise CardDataError(f"unknown card type mark {mark!r}")
    values = {item.name: _decode(block, item) for item in LAYOUTS[card_type]}

    valid_to_text = values["valid_to"]
    valid_to = None if valid_to_text == LONG_TERM else parse_card_date(valid_to_text, "valid_to")
    english = values.get("english_name")
    if values.get("english_name_2"):
        # A continued name fills part 1 completely, so its last character may be a real space.
        part1 = next(f for f in LAYOUTS[card_type] if f.name == "english_name")
        english = block[part1.offset : part1.offset + part1.length].decode("utf-16-le")
        english += values["english_name_2"]
    count_text = values.get("issue_count")
    issue_count = None
    if count_text:
        if not count_text.isdigit():
            raise CardDataError(f"issue_count: {count_text!r} is not a number")
        issue_count = int(count_text)
    card = IdCardData(
        card_type=card_type,
        name=values["name"],
        sex=Sex.from_code(values["sex"]),
        birth_date=parse_card_date(values["birth"], "birth_date"),
        id_number=values["id_number"],
        valid_from=parse_card_date(values["valid_from"], "valid_from"),
        valid_to=valid_to,
        nation=values.get("nation"),
        address=values.get("address", ""),
        issuer=values.get("issuer", ""),
        pass_number=values.get("pass_number"),
        issue_count=issue_count,
        english_name=english.strip() if english is not None else None,
        nationality=values.get("nationality"),
        card_version=values.get("card_version"),
        photo_wlt=photo,
    )
    if validate:
        card.validate()
    return card


def _put(block: bytearray, item: _Field, text: str) -> None:
    raw = text.encode("utf-16-le")
    if len(raw) > item.length:
        raise ValueError(f"{item.name}: {text!r} does not fit {item.length // 2} characters")
    block[item.offset : item.offset + len(raw)] = raw


def _date(day: dt.date | None) -> str:
    return LONG_TERM if day is None else day.strftime("%Y%m%d")


def encode_text_block(card: IdCardData) -> bytes:
    """The 256-byte block a SAM returns for ``card`` (inverse of ``parse_text_block``)."""
    block = bytearray(" ".encode("utf-16-le") * (TEXT_BLOCK_LEN // 2))
    values: dict[str, str] = {
        "name": card.name,
        "sex": card.sex.code,
        "nation": card.nation or "",
        "birth": card.birth_date.strftime("%Y%m%d"),
        "address": card.address,
        "id_number": card.id_number,
        "issuer": card.issuer,
        "valid_from": _date(card.valid_from),
        "valid_to": _date(card.valid_to),
        "pass_number": card.pass_number or "",
        "issue_count": "" if card.issue_count is None else f"{card.issue_count:02d}",
        "nationality": card.nationality or "",
        "card_version": card.card_version or "",
    }
    english = card.english_name or ""
    if card.card_type is CardType.FOREIGNER_2023:
        values["english_name"], values["english_name_2"] = english[:35], english[35:]
    else:
        values["english_name"] = english
    for item in LAYOUTS[card.card_type]:
        _put(block, item, values[item.name])
    _put(block, _Field("type", TYPE_OFFSET, 2), _MARK_OF[card.card_type])
    return bytes(block)
