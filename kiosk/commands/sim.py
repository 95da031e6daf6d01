"""``kiosk sim KIND``: run a registered simulator standalone until SIGINT/SIGTERM, printing
the port it serves on one line (so scripts can read it and start the kiosk against it)."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import cast

from devices import registry
from devices.base import DeviceError
from kiosk.commands.devices import parse_options
from kiosk.machine.devicemap import DEMO_OPTIONS, KINDS, start_simulator


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "sim",
        help="run a device simulator standalone",
        description="For the chip: kiosk sim chip --mrz LINE... --photo FILE [options] "
        "(see kiosk sim chip --help).",
    )
    parser.add_argument("kind", choices=KINDS)
    # The chip simulator has its own options (MRZ, photo, failure switches): passed through.
    parser.add_argument("chip_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    parser.add_argument("--name", default="", help="simulator name (default: the first one)")
    parser.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="simulator option"
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    if args.kind == "chip":
        return _run_chip(list(args.chip_args))
    if args.chip_args:  # options given after KIND land here (REMAINDER): parse them now
        rest = argparse.ArgumentParser(prog=f"kiosk sim {args.kind}")
        rest.add_argument("--name", default=args.name)
        rest.add_argument("--option", action="append", default=list(args.option))
        extra = rest.parse_args(args.chip_args)
        args.name, args.option = extra.name, extra.option
    name = args.name
    if not name:
        names = [e.name for e in registry.SIMULATORS if e.kind == args.kind]
        if not names:
            print(f"no simulator registered for {args.kind}", file=sys.stderr)
            return 2
        name = names[0]
    options = {**DEMO_OPTIONS.get(args.kind, {}), **parse_options(args.option)}
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        simulator, port = start_simulator(args.kind, name, options)
    except (DeviceError, TypeError, ValueError) as exc:
        print(f"cannot start {args.kind}/{name}: {exc}", file=sys.stderr)
        return 1
    try:
        print(port, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        simulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _run_chip(argv: list[str]) -> int:
    """The virtual travel document, found by name in the registry (lazily: it pulls in the
    test PKI and crypto code that no other command needs)."""
    module = importlib.import_module(registry.simulator("chip", "vcard").module)
    run = cast(Callable[[list[str]], int], module.run_chip_sim)
    return run(argv)
