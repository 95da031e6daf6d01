"""The CardDispenser contract, run against every dispenser driver through its simulator over a
real pseudo-terminal, plus the fault scenarios (jam, stacker, bin, not initialised, lost and
repeated frames, never-taken card, disconnect and return) and the probe."""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from devices import registry
from devices.base import (
    CancelToken,
    ConfigurationError,
    Device,
    DeviceCancelled,
    DeviceError,
    DeviceEvent,
    DeviceEventKind,
    DeviceStatus,
    DeviceTimeout,
    DeviceUnavailable,
    MediaError,
    ProtocolError,
    Recovery,
)
from devices.dispenser import CardDispenser, CardPosition, InitMode, StackerLevel
from kiosk.machine.probes import dispenser as dispenser_probe

MODELS = ["crt591", "k720"]


@dataclass
class Rig:
    model: str
    sim: object  # the simulator (scripted through its methods)
    driver: CardDispenser
    events: list[DeviceEvent]

    def kinds(self) -> list[DeviceEventKind]:
        return [e.kind for e in self.events]


def make_rig(model: str, **options: object) -> Iterator[Rig]:
    sim_class = registry.simulator("dispenser", model).load()
    driver_class = registry.driver("dispenser", model).load()
    sim = sim_class(**{"move_s": 0.02, "low_threshold": 3, "bin_capacity": 3, **options})  # type: ignore[operator]
    port = sim.start()
    driver = driver_class.from_settings(  # type: ignore[attr-defined]
        "dispenser",
        {"port": port, "baud": 9600, "address": 0, "take_timeout_s": 1.0, "pace": False},
    )
    events: list[DeviceEvent] = []
    driver.subscribe(events.append)
    driver.open(timeout_s=2)
    try:
        yield Rig(model, sim, driver, events)
    finally:
        driver.close()
        sim.stop()


@pytest.fixture(params=MODELS)
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    yield from make_rig(request.param)


@pytest.fixture(params=MODELS)
def ready(request: pytest.FixtureRequest) -> Iterator[Rig]:
    """An initialised dispenser with plenty of cards."""
    yield from make_rig(request.param, initialised=True, cards=20)


# --- contract ----------------------------------------------------------------------------------


def test_driver_satisfies_the_protocols(rig: Rig) -> None:
    assert isinstance(rig.driver, CardDispenser)
    assert isinstance(rig.driver, Device)
    caps = rig.driver.capabilities()
    assert {"model", "has_ic_position", "has_eject"} <= set(caps)
    assert rig.driver.take_timeout_s == 1.0


def test_initialise_then_status(rig: Rig) -> None:
    result = rig.driver.initialise(InitMode.NO_MOVE, timeout_s=2)
    assert result.status.position is CardPosition.NONE
    status = rig.driver.status()
    assert status.status is DeviceStatus.ONLINE and status.usable
    assert status.stacker is StackerLevel.ENOUGH and not status.bin_full
    assert rig.sim.mechanics.initialised  # type: ignore[attr-defined]


def test_not_initialised_is_recovered_by_initialising_and_retrying(rig: Rig) -> None:
    assert not rig.sim.mechanics.initialised  # type: ignore[attr-defined]
    result = rig.driver.dispense_to_gate(timeout_s=3)
    assert result.recovered == ("not_initialised",)
    assert result.status.position is CardPosition.GATE
    assert rig.sim.mechanics.dispensed == 1  # type: ignore[attr-defined]


def test_dispense_and_card_taken(ready: Rig) -> None:
    ready.sim.auto_take(0.15)  # type: ignore[attr-defined]
    result = ready.driver.dispense_to_gate(timeout_s=3)
    assert result.status.position is CardPosition.GATE
    assert result.operation == "dispense_to_gate" and result.elapsed_s > 0
    assert ready.driver.wait_taken(timeout_s=3) is True
    assert DeviceEventKind.MEDIA_TAKEN in ready.kinds()
    assert ready.sim.mechanics.taken == 1  # type: ignore[attr-defined]
    assert ready.sim.mechanics.cards == 19  # type: ignore[attr-defined]


def test_card_never_taken_is_captured_to_the_bin(ready: Rig) -> None:
    ready.driver.dispense_to_gate(timeout_s=3)
    start = time.monotonic()
    assert ready.driver.wait_taken(timeout_s=0.3) is False
    assert 0.25 <= time.monotonic() - start < 2
    result = ready.driver.capture_to_bin(timeout_s=3)
    assert result.status.position is CardPosition.NONE
    assert ready.sim.mechanics.bin_count == 1  # type: ignore[attr-defined]
    assert DeviceEventKind.MEDIA_TAKEN not in ready.kinds()


def test_wait_taken_is_cancellable(ready: Rig) -> None:
    ready.driver.dispense_to_gate(timeout_s=3)
    cancel = CancelToken()
    threading.Timer(0.1, cancel.cancel).start()
    with pytest.raises(DeviceCancelled):
        ready.driver.wait_taken(timeout_s=5, cancel=cancel)


def test_sensors_follow_the_card(ready: Rig) -> None:
    assert ready.driver.sensors(timeout_s=2)["gate"] is False
    ready.driver.dispense_to_gate(timeout_s=3)
    sensors = ready.driver.sensors(timeout_s=2)
    assert sensors["gate"] is True and sensors["stacker_empty"] is False


def test_stacker_low_is_published_once(rig: Rig) -> None:
    rig.sim.set_cards(5)  # type: ignore[attr-defined]  # low threshold is 3
    rig.sim.auto_take(0.0)  # type: ignore[attr-defined]
    levels = []
    for _ in range(3):
        result = rig.driver.dispense_to_gate(timeout_s=3)
        levels.append(result.status.stacker)
        assert rig.driver.wait_taken(timeout_s=2)
    assert levels == [StackerLevel.ENOUGH, StackerLevel.LOW, StackerLevel.LOW]
    low = [e for e in rig.events if e.kind is DeviceEventKind.STACKER_LOW]
    assert [e.detail for e in low] == ["low"]
    assert "stacker low" in rig.driver.status().warnings


def test_stacker_empty(ready: Rig) -> None:
    ready.sim.set_cards(0)  # type: ignore[attr-defined]
    with pytest.raises(MediaError) as caught:
        ready.driver.dispense_to_gate(timeout_s=3)
    assert caught.value.code == "dispenser.stacker_empty"
    assert caught.value.recovery is Recovery.CLEAR
    status = ready.driver.status()
    assert status.status is DeviceStatus.USER_ERROR and status.stacker is StackerLevel.EMPTY
    assert DeviceEventKind.STACKER_LOW in ready.kinds()


def test_bin_full(ready: Rig) -> None:
    ready.driver.dispense_to_gate(timeout_s=3)
    ready.sim.set_bin(3)  # type: ignore[attr-defined]  # capacity 3
    with pytest.raises(MediaError) as caught:
        ready.driver.capture_to_bin(timeout_s=3)
    assert caught.value.code == "dispenser.bin_full"
    assert ready.driver.status().bin_full is True
    assert ready.driver.status().status is DeviceStatus.USER_ERROR


def test_jam_on_dispense_then_clear_by_capture(ready: Rig) -> None:
    ready.sim.jam_next_dispense()  # type: ignore[attr-defined]
    with pytest.raises(MediaError) as caught:
        ready.driver.dispense_to_gate(timeout_s=3)
    assert caught.value.code == "dispenser.jam" and caught.value.recovery is Recovery.CLEAR
    ready.driver.initialise(InitMode.CAPTURE_TO_BIN, timeout_s=3)
    assert ready.sim.mechanics.bin_count == 1  # type: ignore[attr-defined]
    assert ready.sim.mechanics.position is CardPosition.NONE  # type: ignore[attr-defined]
    stats = ready.driver.statistics()
    assert stats["failures"] == 1 and stats["last_error_code"] == "dispenser.jam"


def test_motor_fault_needs_maintenance(ready: Rig) -> None:
    ready.sim.motor_fault_next()  # type: ignore[attr-defined]
    with pytest.raises(DeviceError) as caught:
        ready.driver.dispense_to_gate(timeout_s=3)
    assert caught.value.code == "dispenser.motor"
    assert caught.value.recovery is Recovery.MAINTENANCE
    assert ready.driver.dispense_to_gate(timeout_s=3).status.position is CardPosition.GATE


def test_eject_follows_capabilities(ready: Rig) -> None:
    ready.driver.dispense_to_gate(timeout_s=3)
    if ready.driver.capabilities()["has_eject"]:
        assert ready.driver.eject(timeout_s=3).status.position is CardPosition.NONE
        assert ready.sim.mechanics.ejected == 1  # type: ignore[attr-defined]
    else:
        with pytest.raises(ConfigurationError) as caught:
            ready.driver.eject(timeout_s=3)
        assert caught.value.code == "dispenser.unsupported"


# --- link faults -------------------------------------------------------------------------------


def test_dropped_ack_is_resent(ready: Rig) -> None:
    ready.sim.drop_ack_next()  # type: ignore[attr-defined]
    result = ready.driver.dispense_to_gate(timeout_s=3)
    assert result.status.position is CardPosition.GATE and result.resends >= 1
    stats = ready.driver.statistics()
    assert stats["ack_timeouts"] == 1
    assert ready.sim.mechanics.dispensed == 1  # type: ignore[attr-defined]  # not twice


def test_nak_is_resent(ready: Rig) -> None:
    ready.sim.nak_next(2)  # type: ignore[attr-defined]
    assert ready.driver.read_status(timeout_s=3).position is CardPosition.NONE
    assert ready.driver.statistics()["naks_received"] == 2


def test_nak_without_end_is_a_protocol_error(ready: Rig) -> None:
    ready.sim.nak_next(50)  # type: ignore[attr-defined]
    with pytest.raises(ProtocolError) as caught:
        ready.driver.read_status(timeout_s=3)
    assert caught.value.code == "dispenser.nak"
    ready.sim.mechanics.link_faults["nak"] = 0  # type: ignore[attr-defined]
    assert ready.driver.read_status(timeout_s=3).usable


def test_silent_device_times_out(ready: Rig) -> None:
    ready.sim.drop_ack_next(50)  # type: ignore[attr-defined]
    start = time.monotonic()
    with pytest.raises(DeviceTimeout) as caught:
        ready.driver.read_status(timeout_s=3)
    assert caught.value.code == "dispenser.no_ack"
    assert time.monotonic() - start < 2.5  # bounded resends, not the whole timeout
    assert ready.driver.status().status is DeviceStatus.OFFLINE


def test_corrupt_reply_is_asked_again(ready: Rig) -> None:
    ready.sim.corrupt_reply_next()  # type: ignore[attr-defined]
    assert ready.driver.read_status(timeout_s=3).usable
    assert ready.driver.statistics()["corrupt_replies"] == 1


def test_line_noise_before_reply_is_skipped(ready: Rig) -> None:
    ready.sim.garbage_next(3)  # type: ignore[attr-defined]
    for _ in range(3):
        assert ready.driver.read_status(timeout_s=3).usable


def test_slow_completion_times_out_then_recovers(ready: Rig) -> None:
    ready.sim.slow_next(0.6)  # type: ignore[attr-defined]
    with pytest.raises(DeviceTimeout):
        ready.driver.dispense_to_gate(timeout_s=0.3)
    time.sleep(0.5)
    status = ready.driver.read_status(timeout_s=3)
    assert status.usable


def test_cancel_during_a_move(ready: Rig) -> None:
    ready.sim.slow_next(0.5)  # type: ignore[attr-defined]
    cancel = CancelToken()
    threading.Timer(0.1, cancel.cancel).start()
    with pytest.raises(DeviceCancelled):
        ready.driver.dispense_to_gate(timeout_s=3, cancel=cancel)
    time.sleep(0.5)
    assert ready.driver.read_status(timeout_s=3).usable
    if ready.model == "crt591":  # EOT aborts the move: no card left the stacker
        assert ready.sim.mechanics.dispensed == 0  # type: ignore[attr-defined]


def test_disconnect_and_return(ready: Rig) -> None:
    ready.driver.read_status(timeout_s=2)
    ready.sim.disconnect()  # type: ignore[attr-defined]
    with pytest.raises(DeviceUnavailable):
        ready.driver.read_status(timeout_s=2)
    assert ready.kinds().count(DeviceEventKind.DEVICE_LOST) == 1
    assert ready.driver.status().status is DeviceStatus.NO_DEVICE
    ready.sim.reconnect(power_cycle=True)  # type: ignore[attr-defined]
    result = ready.driver.dispense_to_gate(timeout_s=3)
    assert result.status.position is CardPosition.GATE
    assert result.recovered == ("not_initialised",)
    assert DeviceEventKind.DEVICE_BACK in ready.kinds()
    assert ready.driver.statistics()["reconnects"] == 1


def test_pacing_at_the_baud_rate_slows_the_link() -> None:
    timings = {}
    for pace in (False, True):
        rig_iter = make_rig("crt591", initialised=True, pace=pace, baud=9600)
        rig = next(rig_iter)
        try:
            start = time.monotonic()
            rig.driver.read_status(timeout_s=3)
            timings[pace] = time.monotonic() - start
        finally:
            rig_iter.close()
    # status: 9-byte command + ACK + 12-byte reply + ACK = 23 bytes, 1.04 ms each at 9600.
    assert timings[True] >= 0.023
    assert timings[True] > timings[False]


# --- configuration and probe -------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    "settings",
    [{"port": ""}, {"port": "/dev/null", "baud": 12345}, {"port": "x", "address": 99}],
    ids=["no-port", "bad-baud", "bad-address"],
)
def test_bad_settings_are_configuration_errors(model: str, settings: dict[str, object]) -> None:
    driver_class = registry.driver("dispenser", model).load()
    with pytest.raises(ConfigurationError):
        driver_class.from_settings("dispenser", settings)  # type: ignore[attr-defined]


def test_open_on_a_missing_port_is_unavailable() -> None:
    driver_class = registry.driver("dispenser", "crt591").load()
    driver = driver_class.from_settings("dispenser", {"port": "/nonexistent/ttyX"})  # type: ignore[attr-defined]
    with pytest.raises(DeviceUnavailable):
        driver.open(timeout_s=1)


def test_probe_reports_status_and_sensors(ready: Rig) -> None:
    ready.driver.close()  # the probe opens and closes by itself
    result = dispenser_probe.probe(ready.driver, argparse.Namespace())
    assert result["ok"] is True
    json.dumps(result)
    assert result["status"]["stacker"] == "enough"  # type: ignore[index]
    assert "gate" in result["sensors"]  # type: ignore[operator]
    assert not ready.driver.is_open


def test_crt591_parks_a_card_at_the_ic_position() -> None:
    rig_iter = make_rig("crt591", initialised=True)
    rig = next(rig_iter)
    try:
        assert rig.driver.capabilities()["has_ic_position"] is True
        result = rig.driver.move_to_ic(timeout_s=3)  # type: ignore[attr-defined]
        assert result.status.position is CardPosition.IC
        assert rig.driver.sensors(timeout_s=2)["ic_position"] is True
        assert rig.driver.dispense_to_gate(timeout_s=3).status.position is CardPosition.GATE
        assert rig.sim.mechanics.dispensed == 1  # type: ignore[attr-defined]
    finally:
        rig_iter.close()


def test_jammed_card_can_be_initialised_to_the_gate(ready: Rig) -> None:
    ready.sim.jam_next_dispense()  # type: ignore[attr-defined]
    with pytest.raises(MediaError):
        ready.driver.dispense_to_gate(timeout_s=3)
    result = ready.driver.initialise(InitMode.CARD_TO_GATE, timeout_s=3)
    assert result.status.position is CardPosition.GATE
    ready.sim.take_card()  # type: ignore[attr-defined]
    assert ready.driver.wait_taken(timeout_s=1) is True
