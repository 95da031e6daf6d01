"""How a configured device becomes a driver object, and whether the kiosk needs it.

The core never imports drivers or simulators: both are looked up by (kind, name) in
``devices.registry`` and loaded from their import path. A section with ``simulator = true``
starts the registered simulator first and points the driver at what ``start()`` returned
(the settings key that receives it is ``PORT_KEYS[kind]``).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, cast

from devices import registry
from devices.base import ConfigurationError, Device

log = logging.getLogger(__name__)

KINDS: tuple[str, ...] = ("idcard", "chip", "printer", "dispenser", "camera", "rewriter")

# The driver setting that names where the device is; a simulator's start() fills it.
PORT_KEYS: Mapping[str, str] = {
    "idcard": "port",
    "printer": "port",
    "dispenser": "port",
    "camera": "source",
    "chip": "reader",
    "rewriter": "port",
}

# Simulator options for demos: something to read when nobody is at the machine.
DEMO_OPTIONS: Mapping[str, Mapping[str, object]] = {
    "idcard": {"card": "resident"},
    # A demo citizen takes the document from the gate after a moment.
    "dispenser": {"take_after_s": 3.0},
    # A demo citizen puts a permit into the slot, and takes it back, after a moment.
    "rewriter": {"insert_after_s": 1.0, "take_after_s": 3.0},
}

_SECTION_ONLY = frozenset({"driver", "simulator", "required"})


class Simulator(Protocol):
    def start(self) -> str: ...

    def stop(self) -> None: ...


class _DriverClass(Protocol):
    def from_settings(self, name: str, settings: Mapping[str, object]) -> Device: ...


class _DeviceSection(Protocol):
    @property
    def driver(self) -> str: ...

    @property
    def simulator(self) -> bool: ...

    @property
    def required(self) -> bool | None: ...

    def model_dump(self) -> dict[str, object]: ...


def is_required(required: frozenset[str], kind: str, section: _DeviceSection | None) -> bool:
    """The section's ``required`` wins over the terminal type's ``required`` kinds (IATA CUSS
    'required' devices: when one fails the terminal goes out of service)."""
    if section is not None and section.required is not None:
        return section.required
    return kind in required


def driver_settings(section: _DeviceSection) -> dict[str, object]:
    """The section fields a driver's ``from_settings`` receives."""
    return {k: v for k, v in section.model_dump().items() if k not in _SECTION_ONLY}


@dataclass
class BuiltDevice:
    kind: str
    device: Device
    simulator: Simulator | None

    def close(self) -> None:
        """Close the driver, then stop its simulator (if any)."""
        try:
            self.device.close()
        finally:
            if self.simulator is not None:
                self.simulator.stop()


def start_simulator(kind: str, name: str, options: Mapping[str, object]) -> tuple[Simulator, str]:
    """Construct and start the registered simulator with the options its constructor takes
    (unknown keys are dropped, so one settings dict can serve driver and simulator).
    Returns the simulator and the port/URL its ``start()`` gave."""
    factory = registry.simulator(kind, name).load()
    if not callable(factory):
        raise ConfigurationError(f"simulator {kind}/{name} is not constructible")
    accepted = inspect.signature(factory).parameters
    kwargs = {k: v for k, v in options.items() if k in accepted}
    simulator = cast(Simulator, factory(**kwargs))
    return simulator, simulator.start()


def build_from_settings(
    kind: str,
    driver: str,
    settings: Mapping[str, object],
    *,
    simulate: bool = False,
    simulator_options: Mapping[str, object] | None = None,
) -> BuiltDevice:
    """Driver object for (kind, driver) with ``settings``; with ``simulate`` the registered
    simulator is started first and the driver pointed at it. Not opened yet."""
    driver_class = cast(_DriverClass, registry.driver(kind, driver).load())
    settings = dict(settings)
    simulator = None
    if simulate:
        options = {**settings, **(simulator_options or {})}
        simulator, port = start_simulator(kind, driver, options)
        settings[PORT_KEYS.get(kind, "port")] = port
    try:
        device = driver_class.from_settings(kind, settings)
    except BaseException:
        if simulator is not None:
            simulator.stop()
        raise
    return BuiltDevice(kind, device, simulator)


def build_device(kind: str, section: _DeviceSection) -> tuple[Device, Simulator | None]:
    """The driver (and started simulator, when the section asks for one) for a section."""
    built = build_from_settings(
        kind, section.driver, driver_settings(section), simulate=section.simulator
    )
    return built.device, built.simulator
