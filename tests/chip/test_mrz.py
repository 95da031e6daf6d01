"""MRZ parsing and check digits: ICAO specimens, failures, and random input."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.base import DeviceError
from devices.icao import mrz
from devices.icao.errors import MrzInvalid

TD1_SPECIMEN = (
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
)
TD3_SPECIMEN = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_check_digit_examples() -> None:
    assert mrz.check_digit("L898902C<") == "3"
    assert mrz.check_digit("690806") == "1"
    assert mrz.check_digit("940623") == "6"
    assert mrz.check_digit("<<<<<<<<<") == "0"


def test_td1_specimen() -> None:
    fields = mrz.parse(TD1_SPECIMEN)
    assert fields.format is mrz.MrzFormat.TD1
    assert (fields.document_number, fields.birth_date, fields.expiry_date) == (
        "D23145890",
        "740812",
        "120415",
    )
    assert (fields.surname, fields.given_names, fields.sex) == ("ERIKSSON", "ANNA MARIA", "F")
    assert fields.access.mrz_information == "D23145890774081221204159"


def test_td3_specimen_and_single_string_input() -> None:
    fields = mrz.parse("\n".join(TD3_SPECIMEN))
    assert fields.format is mrz.MrzFormat.TD3
    assert fields.document_number == "L898902C3"
    assert fields.optional_data == "ZE184226B"
    assert mrz.parse("".join(TD3_SPECIMEN)) == fields
    assert mrz.parse([line.lower() for line in TD3_SPECIMEN]) == fields


def test_td1_long_document_number() -> None:
    number = "D23145890123"
    line1 = "I<UTO" + number[:9] + "<" + number[9:] + mrz.check_digit(number)
    line1 = line1.ljust(30, "<")
    line2 = "7408122F1204159UTO<<<<<<<<<<<"
    line2 += mrz.check_digit(line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29])
    fields = mrz.parse((line1, line2, TD1_SPECIMEN[2]))
    assert fields.document_number == number
    assert fields.access.mrz_information.startswith(number + mrz.check_digit(number))


@pytest.mark.parametrize(
    ("index", "position", "field"),
    [
        (0, 14, "document number"),
        (1, 6, "birth date"),
        (1, 14, "expiry date"),
        (1, 29, "composite"),
    ],
)
def test_each_wrong_check_digit_is_named(index: int, position: int, field: str) -> None:
    lines = list(TD1_SPECIMEN)
    wrong = str((int(lines[index][position]) + 1) % 10)
    lines[index] = lines[index][:position] + wrong + lines[index][position + 1 :]
    with pytest.raises(MrzInvalid, match=field):
        mrz.parse(lines)
    assert mrz.parse(lines, strict=False).document_number == "D23145890"


def test_bad_shapes_and_characters() -> None:
    with pytest.raises(MrzInvalid):
        mrz.parse(TD1_SPECIMEN[:2])
    with pytest.raises(MrzInvalid):
        mrz.parse((TD1_SPECIMEN[0], TD1_SPECIMEN[1] + "<", TD1_SPECIMEN[2]))
    with pytest.raises(MrzInvalid):
        mrz.parse((TD1_SPECIMEN[0].replace("<", "-", 1), *TD1_SPECIMEN[1:]))
    with pytest.raises(MrzInvalid):
        mrz.MrzAccess("L898902C", "691306", "940623")  # month 13


def test_access_repr_masks_the_number() -> None:
    assert "L898902C" not in repr(mrz.MrzAccess("L898902C", "690806", "940623"))
    assert "D23145890" not in repr(mrz.parse(TD1_SPECIMEN))


names = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=10)
dates = st.dates().map(lambda d: d.strftime("%y%m%d"))
numbers = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=9)


@SETTINGS
@given(
    number=numbers,
    birth=dates,
    expiry=dates,
    surname=names,
    given_name=names,
    sex=st.sampled_from("MFX"),
    td3=st.booleans(),
)
def test_built_mrz_round_trips(
    number: str, birth: str, expiry: str, surname: str, given_name: str, sex: str, td3: bool
) -> None:
    common = {
        "document_code": "P" if td3 else "CS",
        "issuing_state": "CHN",
        "document_number": number,
        "birth_date": birth,
        "sex": sex,
        "expiry_date": expiry,
        "nationality": "CHN",
        "surname": surname,
        "given_names": given_name,
    }
    lines = mrz.build_td3(**common) if td3 else mrz.build_td1(**common)
    fields = mrz.parse(lines)
    assert (fields.document_number, fields.birth_date, fields.expiry_date) == (
        number,
        birth,
        expiry,
    )
    assert (fields.surname, fields.given_names) == (surname, given_name)


@SETTINGS
@given(st.lists(st.text(max_size=50), max_size=4) | st.text(max_size=120))
def test_random_text_raises_only_mrz_errors(lines: list[str] | str) -> None:
    with contextlib.suppress(MrzInvalid):
        mrz.parse(lines)


@SETTINGS
@given(st.lists(st.text(alphabet="ABCXYZ0189<", min_size=30, max_size=30), min_size=3, max_size=3))
def test_random_td1_shaped_lines_raise_only_layer_errors(lines: list[str]) -> None:
    try:
        mrz.parse(lines).access.mrz_information  # noqa: B018
    except DeviceError as exc:
        assert exc.code == "chip.mrz_invalid"
