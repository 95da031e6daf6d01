"""Machine-readable zone parsing and check digits (Doc 9303 Parts 3, 4, 5).

Accepts TD1 (3 x 30, the card format of the travel permits), TD2 (2 x 36) and TD3 (2 x 44,
passports). Anything else, bad characters or a wrong check digit raise :class:`MrzInvalid`
naming the field, never the value (MRZ data is personal).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from devices.icao.errors import MrzInvalid

_ALLOWED = re.compile(r"^[A-Z0-9<]*$")
_WEIGHTS = (7, 3, 1)
_DATE = re.compile(r"^[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])$")


class MrzFormat(enum.Enum):
    TD1 = "TD1"
    TD2 = "TD2"
    TD3 = "TD3"


_SHAPES = {(3, 30): MrzFormat.TD1, (2, 36): MrzFormat.TD2, (2, 44): MrzFormat.TD3}


def _char_value(char: str) -> int:
    if char.isdigit():
        return ord(char) - 48
    if "A" <= char <= "Z":
        return ord(char) - 55
    if char == "<":
        return 0
    raise MrzInvalid("character outside the MRZ alphabet")


def check_digit(text: str) -> str:
    """Doc 9303 Part 3 check digit: weights 7, 3, 1; sum modulo 10."""
    total = sum(_char_value(c) * _WEIGHTS[i % 3] for i, c in enumerate(text))
    return str(total % 10)


def mask(value: str) -> str:
    """Identifier shown in logs: first 3 and last 4 characters."""
    if len(value) <= 7:
        return "*" * len(value)
    return f"{value[:3]}***{value[-4:]}"


def _verify(field: str, text: str, digit: str, *, optional: bool = False) -> None:
    if optional and digit == "<" and set(text) <= {"<"}:
        return
    if not digit.isdigit() or check_digit(text) != digit:
        raise MrzInvalid(f"check digit of the {field} does not match")


def _date(field: str, text: str) -> str:
    if not _DATE.match(text):
        raise MrzInvalid(f"the {field} is not a YYMMDD date")
    return text


@dataclass(frozen=True)
class MrzAccess:
    """The BAC access data: document number, birth date and expiry date (YYMMDD)."""

    document_number: str
    birth_date: str
    expiry_date: str

    def __post_init__(self) -> None:
        if not self.document_number or not _ALLOWED.match(self.document_number):
            raise MrzInvalid("document number must be MRZ characters")
        _date("birth date", self.birth_date)
        _date("expiry date", self.expiry_date)

    @property
    def mrz_information(self) -> str:
        """Document number ('<'-padded to 9) + check, birth + check, expiry + check."""
        number = self.document_number.ljust(9, "<")
        return (
            number
            + check_digit(number)
            + self.birth_date
            + check_digit(self.birth_date)
            + self.expiry_date
            + check_digit(self.expiry_date)
        )

    def __repr__(self) -> str:  # keep personal data out of logs and tracebacks
        return f"MrzAccess(document_number={mask(self.document_number)!r})"


@dataclass(frozen=True)
class MrzFields:
    """The fields of a parsed MRZ (names as printed, '<' fillers turned into spaces)."""

    format: MrzFormat
    document_code: str
    issuing_state: str
    document_number: str
    birth_date: str
    sex: str
    expiry_date: str
    nationality: str
    surname: str
    given_names: str
    optional_data: str
    lines: tuple[str, ...]

    @property
    def access(self) -> MrzAccess:
        return MrzAccess(self.document_number, self.birth_date, self.expiry_date)

    def as_dict(self) -> dict[str, str]:
        return {
            "format": self.format.value,
            "document_code": self.document_code,
            "issuing_state": self.issuing_state,
            "document_number": self.document_number,
            "birth_date": self.birth_date,
            "sex": self.sex,
            "expiry_date": self.expiry_date,
            "nationality": self.nationality,
            "surname": self.surname,
            "given_names": self.given_names,
            "optional_data": self.optional_data,
        }

    def __repr__(self) -> str:
        return f"MrzFields({self.format.value}, document_number={mask(self.document_number)!r})"


def normalise(lines: Sequence[str] | str) -> tuple[str, ...]:
    """Upper-case, spaces removed; a single string may hold the lines separated by newlines
    or concatenated (90 or 88 characters)."""
    if isinstance(lines, str):
        text = lines.strip().upper()
        parts = [p.replace(" ", "") for p in text.splitlines() if p.strip()]
        if len(parts) == 1:
            joined = parts[0]
            for (count, width), _ in _SHAPES.items():
                if len(joined) == count * width:
                    parts = [joined[i * width : (i + 1) * width] for i in range(count)]
                    break
        lines = parts
    result = tuple(line.strip().replace(" ", "").upper() for line in lines)
    for line in result:
        if not _ALLOWED.match(line):
            raise MrzInvalid("MRZ holds characters other than A-Z, 0-9 and '<'")
    return result


def _name(field: str) -> tuple[str, str]:
    surname, _, given = field.partition("<<")
    return surname.replace("<", " ").strip(), given.replace("<", " ").strip()


def _filler(text: str) -> str:
    return text.replace("<", " ").strip()


def _td1_document_number(line1: str) -> tuple[str, str]:
    """Document number and its check digit; long numbers spill into the optional data
    (Doc 9303 Part 5, 4.2.4: '<' in the check-digit position)."""
    number, digit = line1[5:14], line1[14]
    if digit != "<":
        return number.rstrip("<"), digit
    spill = line1[15:30].split("<", 1)[0]
    if len(spill) < 2:
        raise MrzInvalid("long document number without its check digit")
    return number + spill[:-1], spill[-1]


def parse(lines: Sequence[str] | str, *, strict: bool = True) -> MrzFields:
    """Parse an MRZ; with ``strict`` every check digit must match (the composite too)."""
    norm = normalise(lines)
    shape = (len(norm), len(norm[0]) if norm else 0)
    fmt = _SHAPES.get(shape)
    if fmt is None or any(len(line) != shape[1] for line in norm):
        raise MrzInvalid("MRZ must be 3 lines of 30 (TD1), 2 of 36 (TD2) or 2 of 44 (TD3)")
    if fmt is MrzFormat.TD1:
        l1, l2, l3 = norm
        number, number_digit = _td1_document_number(l1)
        birth, birth_digit = l2[0:6], l2[6]
        expiry, expiry_digit = l2[8:14], l2[14]
        surname, given = _name(l3)
        fields = MrzFields(
            format=fmt,
            document_code=l1[0:2].rstrip("<"),
            issuing_state=l1[2:5].rstrip("<"),
            document_number=number,
            birth_date=_date("birth date", birth),
            sex=l2[7].replace("<", "X"),
            expiry_date=_date("expiry date", expiry),
            nationality=l2[15:18].rstrip("<"),
            surname=surname,
            given_names=given,
            optional_data=_filler((l1[15:30] if l1[14] != "<" else "") + l2[18:29]),
            lines=norm,
        )
        composite_text, composite_digit = l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29], l2[29]
        number_text = number.ljust(9, "<") if len(number) <= 9 else number
        optional_digit: tuple[str, str] | None = None
    else:
        l1, l2 = norm
        width = shape[1]
        surname, given = _name(l1[5:])
        number_text, number_digit = l2[0:9], l2[9]
        birth, birth_digit = l2[13:19], l2[19]
        expiry, expiry_digit = l2[21:27], l2[27]
        fields = MrzFields(
            format=fmt,
            document_code=l1[0:2].rstrip("<"),
            issuing_state=l1[2:5].rstrip("<"),
            document_number=number_text.rstrip("<"),
            birth_date=_date("birth date", birth),
            sex=l2[20].replace("<", "X"),
            expiry_date=_date("expiry date", expiry),
            nationality=l2[10:13].rstrip("<"),
            surname=surname,
            given_names=given,
            optional_data=_filler(
                l2[28 : width - 2] if fmt is MrzFormat.TD3 else l2[28 : width - 1]
            ),
            lines=norm,
        )
        composite_digit = l2[width - 1]
        if fmt is MrzFormat.TD3:
            composite_text = l2[0:10] + l2[13:20] + l2[21:43]
            optional_digit = (l2[28:42], l2[42])
        else:
            composite_text = l2[0:10] + l2[13:20] + l2[21:35]
            optional_digit = None
    if not fields.document_number:
        raise MrzInvalid("document number is empty")
    if strict:
        _verify("document number", number_text, number_digit)
        _verify("birth date", birth, birth_digit)
        _verify("expiry date", expiry, expiry_digit)
        if optional_digit is not None:
            _verify("personal number", *optional_digit, optional=True)
        _verify("composite", composite_text, composite_digit)
    return fields


def access_from_lines(lines: Sequence[str] | str) -> MrzAccess:
    """The BAC access data of a scanned MRZ, all check digits verified."""
    return parse(lines, strict=True).access


def _field(text: str, width: int) -> str:
    return text.replace(" ", "<").upper()[:width].ljust(width, "<")


def build_td1(
    *,
    document_code: str,
    issuing_state: str,
    document_number: str,
    birth_date: str,
    sex: str,
    expiry_date: str,
    nationality: str,
    surname: str,
    given_names: str,
    optional_data: str = "",
) -> tuple[str, str, str]:
    """TD1 lines with every check digit computed (for virtual cards and tests);
    document numbers up to 9 characters."""
    number = _field(document_number, 9)
    line1 = _field(document_code, 2) + _field(issuing_state, 3) + number + check_digit(number)
    line1 += _field(optional_data, 15)
    line2 = birth_date + check_digit(birth_date) + _field(sex, 1)
    line2 += expiry_date + check_digit(expiry_date) + _field(nationality, 3) + "<" * 11
    line2 += check_digit(line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29])
    line3 = _field(f"{surname}<<{given_names.replace(' ', '<')}", 30)
    return line1, line2, line3


def build_td3(
    *,
    document_code: str,
    issuing_state: str,
    document_number: str,
    birth_date: str,
    sex: str,
    expiry_date: str,
    nationality: str,
    surname: str,
    given_names: str,
    personal_number: str = "",
) -> tuple[str, str]:
    """TD3 (passport) lines with every check digit computed."""
    line1 = _field(document_code, 2) + _field(issuing_state, 3)
    line1 += _field(f"{surname}<<{given_names.replace(' ', '<')}", 39)
    number = _field(document_number, 9)
    personal = _field(personal_number, 14)
    line2 = number + check_digit(number) + _field(nationality, 3)
    line2 += birth_date + check_digit(birth_date) + _field(sex, 1)
    line2 += expiry_date + check_digit(expiry_date) + personal + check_digit(personal)
    line2 += check_digit(line2[0:10] + line2[13:20] + line2[21:43])
    return line1, line2
