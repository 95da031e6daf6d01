"""The virtual card's optional ISO 14443 pacing (424 kbit/s for benchmarks, off in tests)."""

from __future__ import annotations

import time

import pytest

from devices.simulators.vcard import VirtualTravelDocument, iso14443_seconds

SELECT_AID = bytes.fromhex("00A4040C07A0000002471001")


def test_air_time_of_short_and_chained_exchanges() -> None:
    # 12-byte command and 2-byte answer: one I-block each way (PCB + CRC = 3 bytes), 9 bits
    # per byte at 424 kbit/s, plus one frame delay (1172 / 13.56 MHz) per frame.
    expected = (12 + 2 + 6) * 9 / 424_000 + 2 * 1172 / 13.56e6
    assert iso14443_seconds(12, 2, 424) == pytest.approx(expected)
    # 1000 response bytes need 4 I-blocks of at most 253 bytes, 3 of them acknowledged.
    long = iso14443_seconds(12, 1000, 424)
    assert long == pytest.approx((12 + 1000 + 3 * 5 + 3 * 3) * 9 / 424_000 + 8 * 1172 / 13.56e6)
    assert iso14443_seconds(12, 1000, 106) > 3.9 * long
    with pytest.raises(ValueError):
        VirtualTravelDocument(link_kbps=0)


def test_a_paced_card_takes_at_least_the_air_time() -> None:
    card = VirtualTravelDocument(link_kbps=106)
    started = time.monotonic()
    answer = card._answer(SELECT_AID)
    assert answer == b"\x90\x00"
    assert time.monotonic() - started >= iso14443_seconds(len(SELECT_AID), 2, 106)
    assert VirtualTravelDocument()._answer(SELECT_AID) == b"\x90\x00"
