"""Card data rules: check character, dates, the 256-byte block for all four card types."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.idcard import (
    CardDataError,
    CardType,
    Sex,
    check_character,
    id_number_valid,
    mask_id,
    parse_card_date,
)
from devices.idcard_text import TYPE_OFFSET, encode_text_block, parse_text_block
from devices.simulators.cards import id_number, sample_card


def test_check_character_known_values() -> None:
    # GB 11643 worked example and a number whose check character is X.
    assert check_character("11010519491231002") == "X"
    assert check_character("44030419580314135") == "7"
    assert id_number_valid("11010519491231002X")
    assert id_number_valid("11010519491231002x")
    assert not id_number_valid("110105194912310021")
    assert not id_number_valid("11010519491231002")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789", min_size=17, max_size=17), st.sampled_from("0123456789X"))
def test_exactly_one_check_character_fits(first17: str, last: str) -> None:
    assert id_number_valid(first17 + last) == (check_character(first17) == last)


def test_dates() -> None:
    assert parse_card_date("20240229", "x") == dt.date(2024, 2, 29)
    for bad in ("20230229", "2024-1-1", "2024013", "２０２４０１０１", "20241301"):
        with pytest.raises(CardDataError):
            parse_card_date(bad, "valid_to")


@pytest.mark.parametrize("card_type", list(CardType))
def test_block_round_trip_for_every_card_type(card_type: CardType) -> None:
    card = sample_card(card_type)
    block = encode_text_block(card)
    assert len(block) == 256
    mark = {"resident": " ", "hmt_residence_permit": "J", "foreigner_2017": "I"}
    assert block[TYPE_OFFSET : TYPE_OFFSET + 2].decode("utf-16-le") == mark.get(
        card_type.value, "Y"
    )
    parsed = parse_text_block(block, card.photo_wlt)
    assert parsed == card


def test_resident_block_layout_offsets() -> None:
    card = sample_card(CardType.RESIDENT)
    block = encode_text_block(card)
    assert block[0:6].decode("utf-16-le") == "张三丰"
    assert block[30:32].decode("utf-16-le") == "1"
    assert block[32:36].decode("utf-16-le") == "01"
    assert block[36:52].decode("utf-16-le") == "19580314"
    assert block[122:158].decode("utf-16-le") == card.id_number
    assert block[204:208].decode("utf-16-le") == "长期"
    assert block[208:210] == b"\x20\x00"


def test_foreigner_2023_english_name_spans_two_fields() -> None:
    card = sample_card(CardType.FOREIGNER_2023)
    assert card.english_name is not None and len(card.english_name) > 35
    block = encode_text_block(card)
    assert block[52:122].decode("utf-16-le") == card.english_name[:35]
    assert block[220:242].decode("utf-16-le").rstrip() == card.english_name[35:]
    assert block[242:248].decode("utf-16-le") == "ESP"


def test_invalid_data_is_rejected() -> None:
    card = sample_card()
    bad_check = card.id_number[:17] + ("0" if card.id_number[17] != "0" else "1")
    with pytest.raises(CardDataError):
        parse_text_block(encode_text_block(dataclasses.replace(card, id_number=bad_check)))
    other_birth = id_number("440304", dt.date(1960, 1, 1), 135)
    with pytest.raises(CardDataError, match="birth date"):
        parse_text_block(encode_text_block(dataclasses.replace(card, id_number=other_birth)))
    with pytest.raises(CardDataError, match="valid_to"):
        parse_text_block(encode_text_block(dataclasses.replace(card, valid_to=dt.date(2000, 1, 1))))
    block = bytearray(encode_text_block(card))
    block[TYPE_OFFSET : TYPE_OFFSET + 2] = "Q".encode("utf-16-le")
    with pytest.raises(CardDataError, match="card type"):
        parse_text_block(bytes(block))


def test_age_and_masking() -> None:
    card = sample_card()  # born 1958-03-14
    assert card.age_on(dt.date(2018, 3, 13)) == 59
    assert card.age_on(dt.date(2018, 3, 14)) == 60
    leap = dataclasses.replace(card, birth_date=dt.date(2000, 2, 29))
    assert leap.age_on(dt.date(2018, 2, 28)) == 17
    assert leap.age_on(dt.date(2018, 3, 1)) == 18
    assert card.masked_id() == card.id_number[:3] + "*" * 11 + card.id_number[-4:]
    assert mask_id("12345") == "*****"
    assert card.id_number not in repr(card)
    assert card.sex is Sex.MALE and card.sex.label == "男"
    assert card.nation_label == "汉"


def test_to_json_has_snake_case_fields() -> None:
    data = sample_card(CardType.HMT_RESIDENCE_PERMIT).to_json()
    for key in ("name", "sex", "birth_date", "address", "id_number", "issuer", "valid_from"):
        assert key in data
    assert data["card_type"] == "hmt_residence_permit"
    assert data["valid_to"] == "2026-01-15"
    assert data["pass_number"] == "H01234567" and data["issue_count"] == 1
    assert data["sex"] == {"code": "2", "label": "女"}
