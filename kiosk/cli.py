"""The ``kiosk`` command line: one sub-command module per area, each with ``register``.

Modules are listed explicitly (the packager reads this list). The console script enters
through ``ui.main``, which adds the commands that need Qt (run, demo, selftest); everything
here runs without Qt.
"""

from __future__ import annotations

import argparse
import importlib
import io
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Protocol

COMMAND_MODULES: tuple[str, ...] = (
    "kiosk.commands.config",
    "kiosk.commands.flows",
    "kiosk.commands.devices",
    "kiosk.commands.sim",
    "kiosk.commands.queue",
    "kiosk.commands.central",
    "kiosk.commands.fleet",
    "kiosk.commands.photo",
    "kiosk.commands.face",
    "kiosk.commands.service",
    "kiosk.terminals.pickup.cli",
    "kiosk.terminals.renewal.cli",
    "kiosk.terminals.staff.cli",
)


class _CommandModule(Protocol):
    def register(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None: ...


Handler = Callable[[argparse.Namespace], int]


def build_parser(extra_modules: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kiosk", description="Exit-entry self-service kiosk / 出入境自助服务终端"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (*COMMAND_MODULES, *extra_modules):
        module: _CommandModule = importlib.import_module(name)
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None, extra_modules: Sequence[str] = ()) -> int:
    parser = build_parser(extra_modules)
    args = parser.parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        # Output and log lines (stderr) piped to one place keep their order.
        sys.stdout.reconfigure(line_buffering=True)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
