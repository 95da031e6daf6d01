"""``kiosk config check FILE``: validate a machine configuration."""

from __future__ import annotations

import argparse
import sys

from kiosk.config import ConfigError, load_config


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("config", help="configuration tools")
    sub = parser.add_subparsers(dest="config_command", required=True)
    check = sub.add_parser("check", help="validate a configuration file")
    check.add_argument("file")
    check.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        print(f"configuration error in {exc.source}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    devices = [name for name, section in config.devices if section is not None]
    print(
        f"{args.file}: OK - kiosk {config.kiosk.id}, terminal {config.kiosk.terminal.value}, "
        f"devices: {', '.join(devices) or 'none'}"
    )
    return 0
