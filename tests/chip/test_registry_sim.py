"""The chip entries of the device registry, used the way the core and demo mode use them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devices import registry
from devices.chip import ChipReader, PassiveAuthResult, access_from_lines
from devices.simulators.pcsc_stack import PcscStack
from devices.simulators.vcard import DEFAULT_MRZ
from kiosk.config import ChipSection


def test_demo_simulator_and_driver_by_name(pcsc_stack: PcscStack, tmp_path: Path) -> None:
    trust = tmp_path / "csca.pem"
    simulator_class: Any = registry.simulator("chip", "pcsc").load()
    driver_class: Any = registry.driver("chip", "pcsc").load()
    # demo mode: the simulator adopts the running pcscd (the session's) and inserts a card
    simulator = simulator_class(port=pcsc_stack.port, trust_store=str(trust))
    reader_name = simulator.start()
    try:
        section = ChipSection(
            driver="pcsc", simulator=True, reader=reader_name, trust_store=str(trust)
        )
        settings = section.model_dump(exclude={"driver", "simulator", "required"})
        device = driver_class.from_settings("chip", settings)
        assert isinstance(device, ChipReader)
        device.open(timeout_s=5)
        try:
            result = device.read_document(access_from_lines(DEFAULT_MRZ), timeout_s=10)
        finally:
            device.close()
    finally:
        simulator.stop()
    assert result.passive_auth.result is PassiveAuthResult.VALID
    assert pcsc_stack.pid is not None  # the adopted daemon was left running
    assert result.passive_auth.checked_groups == (1, 2, 11)


def test_bad_settings_are_configuration_errors() -> None:
    import pytest

    from devices.base import ConfigurationError

    driver_class: Any = registry.driver("chip", "pcsc").load()
    for settings in ({"port": "/dev/ttyS0"}, {"reader": "("}, {"trust_store": "/nonexistent"}):
        with pytest.raises(ConfigurationError):
            driver_class.from_settings("chip", settings)
