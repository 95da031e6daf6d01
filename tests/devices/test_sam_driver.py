"""SAM-specific behaviour over a pty: every SW3 status becomes its stable error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devices.base import DeviceError, ProtocolError, Recovery
from devices.drivers.sam import SamIdCardReader
from devices.idcard import CardReadError
from devices.samv import SW3_MEANINGS, Sw3
from devices.simulators.cards import sample_card
from devices.simulators.sam import SamSimulator

FAILURES = sorted(set(SW3_MEANINGS) - {Sw3.NO_CARD, Sw3.NO_CONTENT})


@pytest.fixture(scope="module")
def sim() -> Iterator[SamSimulator]:
    with SamSimulator(card="resident") as sim:
        yield sim


@pytest.fixture
def reader(sim: SamSimulator) -> Iterator[SamIdCardReader]:
    sim.sam_sw3 = Sw3.SUCCESS
    sim.place_card(sample_card())
    reader = SamIdCardReader("idcard", sim.port, poll=False, answer_timeout_s=0.5)
    reader.open(timeout_s=2.0)
    yield reader
    reader.close()


@pytest.mark.parametrize("sw3", FAILURES, ids=lambda s: f"{s:02x}")
def test_every_sw3_has_a_stable_code_and_recovery(
    sim: SamSimulator, reader: SamIdCardReader, sw3: int
) -> None:
    sim.sam_sw3 = sw3
    with pytest.raises(DeviceError) as info:
        reader.read_card(timeout_s=1.0)
    meaning = SW3_MEANINGS[sw3]
    assert info.value.code == f"idcard.sw3.{sw3:02x}"
    assert info.value.recovery is meaning.recovery
    assert isinstance(info.value, CardReadError) == meaning.card_side
    if sw3 in (Sw3.CHECKSUM_ERROR, Sw3.LENGTH_ERROR, Sw3.COMMAND_ERROR):
        assert isinstance(info.value, ProtocolError)
    assert reader.statistics()["last_error_code"] == info.value.code


def test_unknown_sw3_is_a_protocol_error(sim: SamSimulator, reader: SamIdCardReader) -> None:
    sim.sam_sw3 = 0x55
    with pytest.raises(ProtocolError) as info:
        reader.read_card(timeout_s=1.0)
    assert info.value.code == "idcard.sw3.55"


def test_self_test_failure_refuses_open(sim: SamSimulator) -> None:
    sim.sam_sw3 = Sw3.SELF_TEST_FAILED
    reader = SamIdCardReader("idcard", sim.port, poll=False)
    with pytest.raises(DeviceError) as info:
        reader.open(timeout_s=1.0)
    assert info.value.recovery is Recovery.MAINTENANCE
    reader.close()


def test_corrupted_answer_then_recovery(sim: SamSimulator, reader: SamIdCardReader) -> None:
    sim.corrupt_next_answer()
    with pytest.raises(ProtocolError) as info:
        reader.read_card(timeout_s=1.0)
    assert info.value.code == "idcard.checksum"
    assert reader.statistics()["garbage_bytes"] > 0
    assert reader.read_card(timeout_s=1.0) == sample_card()
