"""Temporary commands for the travel-document chip, until they move under the generic
``kiosk sim chip`` and ``kiosk devices probe chip``:

* ``kiosk chipsim [options]``: the virtual travel document (``run_chip_sim``'s options).
* ``kiosk chipprobe --mrz LINE... [--reader RE] [--trust-store PATH] [--json]``: read it.

Both reach the device code through the registry by name (the core never imports drivers or
simulators).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Mapping
from typing import Any, cast

from devices import registry
from devices.base import Device, DeviceError
from kiosk.config import ConfigError, load_config
from kiosk.probes import chip as chip_probe


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = commands.add_parser(
        "chipsim",
        help="virtual travel-document chip on pcscd's vpcd reader (future `kiosk sim chip`)",
    )
    _simulator_module().add_chip_sim_arguments(sim)
    sim.set_defaults(handler=_simulate)
    probe = commands.add_parser(
        "chipprobe", help="read the travel document on the chip reader (future devices probe)"
    )
    probe.add_argument("--driver", default="pcsc", help="chip driver name from the registry")
    probe.add_argument("--config", help="machine configuration (its [devices.chip] settings)")
    probe.add_argument("--reader", help="regular expression picking the PC/SC reader")
    probe.add_argument("--json", action="store_true", help="print one JSON object")
    chip_probe.add_arguments(probe)
    probe.set_defaults(handler=_probe)


def _simulator_module() -> Any:
    """The virtual card's module, found by name in the device registry."""
    return importlib.import_module(registry.simulator("chip", "vcard").module)


def _simulate(args: argparse.Namespace) -> int:
    run = cast(Callable[[argparse.Namespace], int], _simulator_module().run_chip_sim_args)
    return run(args)


def _settings(args: argparse.Namespace) -> dict[str, object]:
    settings: dict[str, object] = {}
    if args.config:
        section = load_config(args.config).devices.chip
        if section is not None:
            settings = section.model_dump(exclude={"driver", "simulator", "required"})
    if args.reader is not None:
        settings["reader"] = args.reader
    if args.trust_store:
        settings["trust_store"] = args.trust_store
    return settings


def _probe(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        driver: Any = registry.driver("chip", args.driver).load()
        device = cast(Device, driver.from_settings("chip", settings))
        device.open(timeout_s=5.0)
        try:
            report = chip_probe.probe(device, args)
        finally:
            device.close()
    except DeviceError as exc:
        failure = {"ok": False, "error": exc.code, "message": str(exc)}
        if args.json:
            print(json.dumps(failure, ensure_ascii=False))
        else:
            print(f"chip read failed [{exc.code}]: {exc}", file=sys.stderr)
        return 1
    pa_report = cast(Mapping[str, object], report["passive_authentication"])
    if args.json:
        print(json.dumps({"ok": True, **report}, ensure_ascii=False))
    else:
        mrz = cast(Mapping[str, object], report["mrz"])
        dg2 = cast(Mapping[str, object], report["dg2"])
        print(f"document {mrz['document_code']} {mrz['issuing_state']} ({mrz['format']})")
        print(f"name      {mrz['surname']}, {mrz['given_names']}")
        print(f"face      {dg2['format']} {dg2['width']}x{dg2['height']}, {dg2['bytes']} bytes")
        print(f"passive   {pa_report['result']} {pa_report['detail']}".rstrip())
        print(f"time      {report['time_s']} s")
    return 0 if pa_report["result"] == "valid" else 3
