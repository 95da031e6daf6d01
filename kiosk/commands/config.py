"""``kiosk config check FILE``: validate a machine configuration, and - where it is run on the
machine itself - that its staff PIN hashes were made with this machine's staff key."""

from __future__ import annotations

import argparse
import sys

from kiosk.config import ConfigError, KioskConfig, load_config
from kiosk.terminals.staff.key import StaffKeyError, key_mismatch, open_staff_key


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
    key_problem = _staff_key_problem(config)
    if key_problem is not None:
        print(f"configuration error in {args.file}:\n  - {key_problem}", file=sys.stderr)
        return 1
    devices = [name for name, section in config.devices if section is not None]
    print(
        f"{args.file}: OK - kiosk {config.kiosk.id}, terminal {config.kiosk.terminal.value}, "
        f"devices: {', '.join(devices) or 'none'}"
    )
    return 0


def _staff_key_problem(config: KioskConfig) -> str | None:
    """On the machine, hashes that its staff key cannot check are an error; elsewhere (no key
    file where the configuration says) there is nothing to compare, which is only noted."""
    if config.staff.key_id is None:  # no hashes (no staff mode, or the demo PIN)
        return None
    path = config.staff_key_file
    if not path.exists():
        print(
            f"note: no staff key at {path}: the PIN hashes can only be checked on the machine "
            f"they were made on (staff key {config.staff.key_id})",
            file=sys.stderr,
        )
        return None
    try:
        key, _ = open_staff_key(path, create=False)
    except StaffKeyError as exc:
        return f"staff.key_file: {exc}"
    return key_mismatch(config, key)
