"""Resident ID card reader: the protocol the core uses, and the card data it returns.

Covers the four cards a SAM reader returns in the same 256-byte text block: the resident ID
card, the Hong Kong/Macao/Taiwan residence permit, and the foreigner permanent residence
cards of 2017 and 2023 (layout in ``devices.idcard_text``).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from devices.base import (
    NEVER_CANCELLED,
    CancelToken,
    Device,
    DeviceError,
    ProtocolError,
    Recovery,
)


class CardType(enum.Enum):
    RESIDENT = "resident"
    HMT_RESIDENCE_PERMIT = "hmt_residence_permit"
    FOREIGNER_2017 = "foreigner_2017"
    FOREIGNER_2023 = "foreigner_2023"


class Sex(enum.Enum):
    """GB/T 2261.1 sex codes."""

    UNKNOWN = "0"
    MALE = "1"
    FEMALE = "2"
    NOT_STATED = "9"

    @property
    def code(self) -> str:
        return self.value

    @property
    def label(self) -> str:
        return _SEX_LABELS[self]

    @classmethod
    def from_code(cls, code: str) -> Sex:
        for sex in cls:
            if sex.value == code:
                return sex
        raise CardDataError(f"unknown sex code {code!r}")


_SEX_LABELS = {Sex.UNKNOWN: "未知", Sex.MALE: "男", Sex.FEMALE: "女", Sex.NOT_STATED: "未说明"}

# GB 3304 nation codes 01-56 in order, plus 97/98.
_NATIONS = [
    "汉",
    "蒙古",
    "回",
    "藏",
    "维吾尔",
    "苗",
    "彝",
    "壮",
    "布依",
    "朝鲜",
    "满",
    "侗",
    "瑶",
    "白",
    "土家",
    "哈尼",
    "哈萨克",
    "傣",
    "黎",
    "傈僳",
    "佤",
    "畲",
    "高山",
    "拉祜",
    "水",
    "东乡",
    "纳西",
    "景颇",
    "柯尔克孜",
    "土",
    "达斡尔",
    "仫佬",
    "羌",
    "布朗",
    "撒拉",
    "毛南",
    "仡佬",
    "锡伯",
    "阿昌",
    "普米",
    "塔吉克",
    "怒",
    "乌孜别克",
    "俄罗斯",
    "鄂温克",
    "德昂",
    "保安",
    "裕固",
    "京",
    "塔塔尔",
    "独龙",
    "鄂伦春",
    "赫哲",
    "门巴",
    "珞巴",
    "基诺",
]
NATIONS: dict[str, str] = {f"{i:02d}": name for i, name in enumerate(_NATIONS, start=1)}
NATIONS["97"] = "其他"
NATIONS["98"] = "外国血统中国籍人士"


class CardDataError(ProtocolError):
    """The card answered, but its data breaks the card's own rules (check character, dates)."""

    code = "idcard.invalid_data"
    recovery = Recovery.NONE


class CardReadError(DeviceError):
    """The SAM could not read the card (SW3 code in ``code``, e.g. ``idcard.sw3.41``)."""

    code = "idcard.read_failed"
    recovery = Recovery.RESET


_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"


def check_character(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits of an ID number."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("the check character needs exactly 17 digits")
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def id_number_valid(id_number: str) -> bool:
    """True for an 18-character number whose last character is its MOD 11-2 check."""
    if len(id_number) != 18 or not id_number[:17].isascii() or not id_number[:17].isdigit():
        return False
    return check_character(id_number[:17]) == id_number[17].upper()


def parse_card_date(text: str, field_name: str) -> dt.date:
    """A YYYYMMDD card date; CardDataError names the field when it is not a real date."""
    if len(text) != 8 or not text.isascii() or not text.isdigit():
        raise CardDataError(f"{field_name}: {text!r} is not a YYYYMMDD date")
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise CardDataError(f"{field_name}: {text!r} is not a calendar date") from None


def mask_id(id_number: str) -> str:
    """First 3 and last 4 characters, the rest starred (safe for logs)."""
    if len(id_number) <= 7:
        return "*" * len(id_number)
    return id_number[:3] + "*" * (len(id_number) - 7) + id_number[-4:]


@dataclass(frozen=True)
class IdCardData:
    """What one card holds. Dates are real dates; ``valid_to`` is None for 长期 (no expiry).

    ``nation`` is the two-digit nation code (resident cards only). ``photo_wlt`` is the SAM's
    proprietary wavelet photo, kept opaque (decoding needs a vendor plug-in).
    """

    card_type: CardType
    name: str
    sex: Sex
    birth_date: dt.date
    id_number: str
    valid_from: dt.date
    valid_to: dt.date | None
    nation: str | None = None
    address: str = ""
    issuer: str = ""
    pass_number: str | None = None
    issue_count: int | None = None
    english_name: str | None = None
    nationality: str | None = None
    card_version: str | None = None
    photo_wlt: bytes = field(default=b"", repr=False)

    def __repr__(self) -> str:
        # Dataclass repr would print personal data into any log line that formats the object.
        return f"IdCardData({self.card_type.value}, {self.masked_id()})"

    @property
    def nation_label(self) -> str | None:
        return None if self.nation is None else NATIONS.get(self.nation, self.nation)

    def masked_id(self) -> str:
        return mask_id(self.id_number)

    def age_on(self, day: dt.date) -> int:
        """Completed years on ``day`` (a 29 February birthday counts from 1 March)."""
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years

    def expired_on(self, day: dt.date) -> bool:
        return self.valid_to is not None and day > self.valid_to

    def to_json(self) -> dict[str, object]:
        """Plain JSON-able dict with snake_case names (photo as its length only)."""
        return {
            "card_type": self.card_type.value,
            "name": self.name,
            "english_name": self.english_name,
            "sex": {"code": self.sex.code, "label": self.sex.label},
            "nation": (
                None if self.nation is None else {"code": self.nation, "label": self.nation_label}
            ),
            "birth_date": self.birth_date.isoformat(),
            "address": self.address,
            "id_number": self.id_number,
            "issuer": self.issuer,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": None if self.valid_to is None else self.valid_to.isoformat(),
            "pass_number": self.pass_number,
            "issue_count": self.issue_count,
            "nationality": self.nationality,
            "card_version": self.card_version,
            "photo_wlt_bytes": len(self.photo_wlt),
        }

    def validate(self) -> None:
        """Raise CardDataError when the data breaks the card's rules."""
        if self.card_type is not CardType.FOREIGNER_2017 and not id_number_valid(self.id_number):
            raise CardDataError(f"ID number {self.masked_id()} fails its check character")
        birth_in_number = self.card_type in (CardType.RESIDENT, CardType.HMT_RESIDENCE_PERMIT)
        if birth_in_number and self.id_number[6:14] != self.birth_date.strftime("%Y%m%d"):
            raise CardDataError("birth date does not match the ID number")
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise CardDataError("valid_to is before valid_from")
        if self.birth_date > self.valid_from:
            raise CardDataError("card issued before the holder's birth")
        if self.nation is not None and self.nation not in NATIONS:
            raise CardDataError(f"unknown nation code {self.nation!r}")


class WltDecoder(Protocol):
    """Optional vendor plug-in turning the 1024-byte WLT photo into 102x126 BGR pixels."""

    def decode(self, wlt: bytes) -> bytes: ...


@runtime_checkable
class IdCardReader(Device, Protocol):
    """A resident ID card reader.

    While open, drivers poll the card field on
    their own thread and publish CARD_PLACED / CARD_REMOVED (and DEVICE_LOST / DEVICE_BACK).
    """

    def read_card(self, *, timeout_s: float, cancel: CancelToken = NEVER_CANCELLED) -> IdCardData:
        """Wait up to ``timeout_s`` for a card, then read and validate it.

        Raises DeviceTimeout (``idcard.no_card``) when no card came, CardReadError with the
        SAM's status code when the card could not be read, CardDataError for invalid data.
        """
        ...

    def card_present(
        self, *, timeout_s: float = 2.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> bool:
        """Whether a readable card lies on the reader now."""
        ...
