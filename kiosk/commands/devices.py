"""``kiosk devices list|check|probe``: what drivers exist, whether a machine's devices work,
and a hands-on test of one device (``kiosk.machine.probes.<kind>``)."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable
from typing import Any, cast

from devices import registry
from devices.base import DeviceError
from kiosk.config import ConfigError, load_config
from kiosk.machine.devicemap import (
    DEMO_OPTIONS,
    KINDS,
    PORT_KEYS,
    BuiltDevice,
    build_from_settings,
    driver_settings,
    is_required,
)
from kiosk.terminals.registry import terminal_for


def parse_options(pairs: list[str]) -> dict[str, object]:
    """``key=value`` pairs; values become bool / int / float when they look like one."""
    options: dict[str, object] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"option {pair!r} is not key=value")
        value: object = raw
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        else:
            for convert in (int, float):
                try:
                    value = convert(raw)
                    break
                except ValueError:
                    continue
        options[key] = value
    return options


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("devices", help="device drivers: list, check, probe")
    sub = parser.add_subparsers(dest="devices_command", required=True)

    listing = sub.add_parser("list", help="registered drivers and simulators per kind")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)

    check = sub.add_parser("check", help="open every configured device and report its status")
    check.add_argument("config", help="machine configuration (TOML)")
    check.add_argument("--timeout", type=float, default=5.0, help="seconds per device open")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(handler=_check)

    probe = sub.add_parser("probe", help="exercise one device (read a card, print a test...)")
    probe.add_argument("kind", choices=KINDS)
    probe.add_argument("--driver", required=True, help="driver name from the registry")
    probe.add_argument("--port", default="", help="port / URL / source of the device")
    probe.add_argument("--sim", action="store_true", help="probe the driver's simulator")
    probe.add_argument("--json", action="store_true", help="print JSON")
    probe.add_argument("--timeout", type=float, default=10.0, help="seconds for the probe")
    probe.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="driver setting"
    )
    probe.add_argument("--mrz", nargs="+", metavar="LINE", help="chip: MRZ lines (2 or 3)")
    probe.add_argument("--trust-store", help="chip: CSCA certificate file or directory")
    probe.set_defaults(handler=_probe)


def _list(args: argparse.Namespace) -> int:
    rows = {
        kind: {
            "drivers": [
                {"name": e.name, "summary": e.summary} for e in registry.DRIVERS if e.kind == kind
            ],
            "simulators": [
                {"name": e.name, "summary": e.summary}
                for e in registry.SIMULATORS
                if e.kind == kind
            ],
        }
        for kind in KINDS
    }
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for kind, tables in rows.items():
        print(f"{kind}:")
        for label in ("drivers", "simulators"):
            for entry in tables[label]:
                print(f"  {label[:-1]:9} {entry['name']:10} {entry['summary']}")
        if not tables["drivers"] and not tables["simulators"]:
            print("  (none registered)")
    return 0


def _check(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"configuration error in {exc.source}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    terminal = config.kiosk.terminal
    needed = terminal_for(config).required_devices
    rows: list[dict[str, object]] = []
    failed_required = False
    for kind in KINDS:
        section = getattr(config.devices, kind)
        required = is_required(needed, kind, section)
        row: dict[str, object] = {
            "kind": kind,
            "driver": section.driver if section else "",
            "simulator": bool(section and section.simulator),
            "required": required,
        }
        if section is None:
            row.update(ok=not required, status="not configured", detail="")
        else:
            row.update(_check_one(kind, section, args.timeout))
        failed_required |= required and not row["ok"]
        rows.append(row)
    if args.json:
        print(json.dumps({"terminal": terminal.value, "ok": not failed_required, "devices": rows}))
    else:
        print(f"{args.config}: terminal {terminal.value}")
        print(f"{'KIND':10} {'DRIVER':8} {'SIM':4} {'REQ':4} {'STATUS':15} DETAIL")
        for row in rows:
            print(
                f"{row['kind']!s:10} {row['driver']!s:8} {'yes' if row['simulator'] else 'no':4} "
                f"{'yes' if row['required'] else 'no':4} {row['status']!s:15} {row['detail']}"
            )
        print("FAILED: a required device is not working" if failed_required else "OK")
    return 1 if failed_required else 0


def _check_one(kind: str, section: Any, timeout_s: float) -> dict[str, object]:
    built: BuiltDevice | None = None
    try:
        built = build_from_settings(
            kind, section.driver, driver_settings(section), simulate=section.simulator
        )
        built.device.open(timeout_s=timeout_s)
        report = built.device.status()
        return {
            "ok": report.usable,
            "status": report.status.value,
            "detail": "; ".join(x for x in (report.detail, *report.warnings) if x),
        }
    except DeviceError as exc:
        return {"ok": False, "status": "error", "detail": f"{exc.code}: {exc}"}
    except Exception as exc:  # one broken driver must not hide the state of the others
        return {"ok": False, "status": "error", "detail": f"{type(exc).__name__}: {exc}"}
    finally:
        if built is not None:
            built.close()


ProbeFunction = Callable[[object, argparse.Namespace], dict[str, object]]


def _probe(args: argparse.Namespace) -> int:
    try:
        module = importlib.import_module(f"kiosk.machine.probes.{args.kind}")
    except ModuleNotFoundError:
        print(f"no probe for {args.kind} devices", file=sys.stderr)
        return 2
    probe = cast(ProbeFunction, module.probe)
    if args.kind == "chip" and not args.mrz:
        print("reading a chip needs the MRZ: --mrz LINE1 LINE2 [LINE3]", file=sys.stderr)
        return 2
    settings = parse_options(args.option)
    if args.port:
        settings[PORT_KEYS.get(args.kind, "port")] = args.port
    elif not args.sim:
        print("--port or --sim is required", file=sys.stderr)
        return 2
    built: BuiltDevice | None = None
    try:
        built = build_from_settings(
            args.kind,
            args.driver,
            settings,
            simulate=args.sim,
            simulator_options={**DEMO_OPTIONS.get(args.kind, {}), **settings},
        )
        built.device.open(timeout_s=min(args.timeout, 5.0))
        result = probe(built.device, args)
        result["statistics"] = built.device.statistics()
    except DeviceError as exc:
        failure = {
            "ok": False,
            "error": exc.code,
            "recovery": exc.recovery.value,
            "message": str(exc),
        }
        print(json.dumps(failure) if args.json else f"{args.kind}: {exc.code}: {exc}")
        return 1
    finally:
        if built is not None:
            built.close()
    if args.json:
        print(json.dumps({"ok": True, **result}, ensure_ascii=False, default=str))
    else:
        for key, value in result.items():
            print(f"{key:16} {value}")
    return 0
