"""Sample cards for the ID card simulator: valid data for each card type, with real check
characters. All people and numbers are made up."""

from __future__ import annotations

import dataclasses
import datetime as dt

from devices.idcard import CardType, IdCardData, Sex, check_character


def id_number(region: str, birth: dt.date, sequence: int) -> str:
    """An 18-character number with a correct MOD 11-2 check character."""
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)


def fake_photo(seed: int = 0) -> bytes:
    """1024 bytes standing in for the proprietary WLT photo."""
    return bytes((i * 31 + seed) & 0xFF for i in range(1024))


def sample_card(card_type: CardType = CardType.RESIDENT, **changes: object) -> IdCardData:
    """A valid card of ``card_type``; keyword arguments replace fields."""
    birth = dt.date(1958, 3, 14)
    if card_type is CardType.RESIDENT:
        card = IdCardData(
            card_type=card_type,
            name="张三丰",
            sex=Sex.MALE,
            nation="01",
            birth_date=birth,
            address="广东省深圳市福田区福华三路88号",
            id_number=id_number("440304", birth, 135),
            issuer="深圳市公安局福田分局",
            valid_from=dt.date(2018, 6, 1),
            valid_to=None,
            photo_wlt=fake_photo(1),
        )
    elif card_type is CardType.HMT_RESIDENCE_PERMIT:
        birth = dt.date(1990, 7, 1)
        card = IdCardData(
            card_type=card_type,
            name="陈美玲",
            sex=Sex.FEMALE,
            birth_date=birth,
            address="广东省深圳市南山区科技园路1号",
            id_number=id_number("810000", birth, 24),
            issuer="深圳市公安局南山分局",
            valid_from=dt.date(2021, 1, 15),
            valid_to=dt.date(2026, 1, 15),
            pass_number="H01234567",
            issue_count=1,
            photo_wlt=fake_photo(2),
        )
    elif card_type is CardType.FOREIGNER_2017:
        birth = dt.date(1975, 11, 30)
        card = IdCardData(
            card_type=card_type,
            name="安德森",
            english_name="ANDERSON, JOHN MICHAEL",
            sex=Sex.MALE,
            birth_date=birth,
            id_number="USA440075113001",
            nationality="USA",
            issuer="1500",
            card_version="01",
            valid_from=dt.date(2019, 5, 20),
            valid_to=dt.date(2029, 5, 20),
            photo_wlt=fake_photo(3),
        )
    else:
        birth = dt.date(1985, 2, 28)
        card = IdCardData(
            card_type=card_type,
            name="玛丽亚",
            english_name="GONZALEZ RODRIGUEZ, MARIA FERNANDA DE LOS",
            sex=Sex.FEMALE,
            birth_date=birth,
            id_number=id_number("944724", birth, 2),
            nationality="ESP",
            issue_count=0,
            valid_from=dt.date(2023, 12, 1),
            valid_to=dt.date(2033, 12, 1),
            photo_wlt=fake_photo(4),
        )
    if changes:
        card = dataclasses.replace(card, **changes)  # type: ignore[arg-type]
    return card
