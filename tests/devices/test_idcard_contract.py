"""IdCardReader contract, run against every driver through its simulator over a pty."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from devices.base import (
    CancelToken,
    Device,
    DeviceCancelled,
    DeviceEventKind,
    DeviceStatus,
    DeviceTimeout,
    DeviceUnavailable,
    Recovery,
)
from devices.drivers.sam import SamIdCardReader
from devices.idcard import CardReadError, CardType, IdCardReader
from devices.simulators.cards import sample_card
from devices.simulators.sam import SamSimulator
from tests.devices.rigs import IDCARD_RIGS, Events, SamRig, wait_until


@pytest.fixture(params=sorted(IDCARD_RIGS))
def rig(request: pytest.FixtureRequest) -> Iterator[SamRig]:
    with IDCARD_RIGS[request.param]() as rig:
        rig.driver.open(timeout_s=2.0)
        yield rig


def test_driver_implements_protocols(rig: SamRig) -> None:
    assert isinstance(rig.driver, IdCardReader)
    assert isinstance(rig.driver, Device)
    assert rig.driver.status().status is DeviceStatus.ONLINE
    assert rig.driver.capabilities()["kind"] == "idcard"


@pytest.mark.parametrize("card_type", list(CardType))
def test_reads_every_card_type(rig: SamRig, card_type: CardType) -> None:
    card = sample_card(card_type)
    rig.place(card)
    assert rig.driver.read_card(timeout_s=2.0) == card
    assert rig.driver.statistics()["operations"] == 1


def test_waits_for_a_card_then_times_out(rig: SamRig) -> None:
    assert rig.driver.card_present(timeout_s=1.0) is False
    with pytest.raises(DeviceTimeout) as info:
        rig.driver.read_card(timeout_s=0.7)
    assert info.value.code == "idcard.no_card"


def test_cancel_stops_the_wait(rig: SamRig) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(DeviceCancelled):
        rig.driver.read_card(timeout_s=5.0, cancel=token)
    assert rig.driver.statistics()["failures"] == 0


def test_read_failure_maps_sw3_and_needs_the_card_lifted(rig: SamRig) -> None:
    card = sample_card()
    rig.place(card)
    rig.fail_next_read()
    with pytest.raises(CardReadError) as info:
        rig.driver.read_card(timeout_s=2.0)
    assert info.value.code == "idcard.sw3.41"
    assert info.value.recovery is Recovery.RESET
    assert rig.driver.statistics()["failures"] == 1
    assert rig.driver.card_present() is False  # the SAM ignores it until it is lifted
    rig.remove()
    rig.place(card)
    assert rig.driver.read_card(timeout_s=2.0) == card


def test_placement_and_removal_events(rig: SamRig) -> None:
    events = Events()
    rig.driver.subscribe(events)
    rig.place(sample_card())
    assert events.wait_for(DeviceEventKind.CARD_PLACED)
    rig.remove()
    assert events.wait_for(DeviceEventKind.CARD_REMOVED)
    assert events.kinds().index(DeviceEventKind.CARD_PLACED) < events.kinds().index(
        DeviceEventKind.CARD_REMOVED
    )


def test_garbage_before_answer_is_skipped(rig: SamRig) -> None:
    card = sample_card(CardType.FOREIGNER_2023)
    rig.place(card)
    rig.garbage()
    assert rig.driver.read_card(timeout_s=2.0) == card


def test_card_removed_mid_read(rig: SamRig) -> None:
    rig.place(sample_card())
    rig.remove_during_read()
    with pytest.raises(CardReadError) as info:
        rig.driver.read_card(timeout_s=3.0)
    assert info.value.code == "idcard.read_incomplete"
    assert rig.driver.card_present() is False
    card = sample_card(CardType.HMT_RESIDENCE_PERMIT)
    rig.place(card)
    assert rig.driver.read_card(timeout_s=2.0) == card  # no leftovers of the broken answer


def test_slow_answer_still_read_within_timeout(rig: SamRig) -> None:
    card = sample_card()
    rig.place(card)
    rig.slow(0.2)
    assert rig.driver.read_card(timeout_s=3.0) == card


def test_disconnect_and_return_recovers_by_itself(rig: SamRig) -> None:
    events = Events()
    rig.driver.subscribe(events)
    rig.disconnect()
    assert events.wait_for(DeviceEventKind.DEVICE_LOST)
    assert rig.driver.status().status is DeviceStatus.NO_DEVICE
    with pytest.raises(DeviceUnavailable):
        rig.driver.read_card(timeout_s=0.5)
    rig.reconnect()
    assert events.wait_for(DeviceEventKind.DEVICE_BACK)
    assert wait_until(lambda: rig.driver.status().status is DeviceStatus.ONLINE)
    card = sample_card()
    rig.place(card)
    assert rig.driver.read_card(timeout_s=2.0) == card


def test_paced_read_takes_the_line_time() -> None:
    """At 115200 bps the 1295-byte answer alone needs 112 ms on the wire."""
    with SamSimulator(pace=True, card="resident") as sim:
        reader = SamIdCardReader("idcard", sim.port, poll=False)
        reader.open(timeout_s=2.0)
        try:
            start = time.monotonic()
            reader.read_card(timeout_s=3.0)
            took = time.monotonic() - start
        finally:
            reader.close()
    assert 0.112 <= took < 0.5
