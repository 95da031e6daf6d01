"""``kiosk staff pin-hash --config FILE [--number N]``: make the hash of a staff PIN for the
configuration: the machine's one ``staff.pin_hash``, or with ``--number`` a
``[[staff.members]]`` entry. ``kiosk staff key --config FILE``: make the machine's staff key
(if it has none yet) and show its id.

A hash is keyed with the machine's staff key (kiosk/terminals/staff/key.py), so it is made on
the machine (or with a copy of its key file, ``--key-file``); the first use makes the key.
Only where the key is is read from the configuration, so that a configuration refused for
its old hashes can be given new ones.

The PIN is read twice without echo at a terminal, or as one line from standard input (for
provisioning scripts); only the hash is printed, never the PIN.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from kiosk.config import ConfigError, staff_key_location
from kiosk.core.pins import NUMBER_DIGITS, StaffKey, hash_pin, pin_problem
from kiosk.terminals.staff.key import StaffKeyError, open_staff_key


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("staff", help="staff mode at the machine")
    sub = parser.add_subparsers(dest="staff_command", required=True)
    pin = sub.add_parser("pin-hash", help="hash a staff PIN for the configuration")
    _key_source(pin)
    lo, hi = NUMBER_DIGITS
    pin.add_argument("--number", help=f"this person's staff number ({lo}-{hi} digits)")
    pin.set_defaults(handler=_pin_hash)
    key = sub.add_parser("key", help="make the machine's staff key (if none yet), show its id")
    _key_source(key)
    key.set_defaults(handler=_key)


def _key_source(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--config", help="the machine's configuration: its data_dir holds the staff key"
    )
    source.add_argument("--key-file", help="the staff key file itself (a copy of the machine's)")


def _open_key(args: argparse.Namespace) -> StaffKey | None:
    """The key the arguments name, made if absent (what was done goes to standard error)."""
    try:
        path = Path(args.key_file) if args.key_file else staff_key_location(args.config)
        key, made = open_staff_key(path)
    except ConfigError as exc:
        print(f"configuration error in {exc.source}: {'; '.join(exc.problems)}", file=sys.stderr)
        return None
    except StaffKeyError as exc:
        print(exc, file=sys.stderr)
        return None
    state = "made now" if made else "existing"
    print(f"staff key {path} ({state}, id {key.key_id})", file=sys.stderr)
    return key


def _key(args: argparse.Namespace) -> int:
    return 0 if _open_key(args) is not None else 1


def _pin_hash(args: argparse.Namespace) -> int:
    number = args.number
    lo, hi = NUMBER_DIGITS
    if number is not None and not (
        number.isascii() and number.isdigit() and lo <= len(number) <= hi
    ):
        print(f"a staff number is {lo}-{hi} digits", file=sys.stderr)
        return 1
    key = _open_key(args)
    if key is None:
        return 1
    if sys.stdin.isatty():
        pin = getpass.getpass("staff PIN: ")
        if getpass.getpass("again: ") != pin:
            print("the two PINs differ; nothing written", file=sys.stderr)
            return 1
    else:
        pin = sys.stdin.readline().strip()
    problem = pin_problem(pin)
    if problem is not None:
        print(f"{problem} (got {len(pin)} characters); nothing written", file=sys.stderr)
        return 1
    line = hash_pin(pin, key)
    if number is None:
        print("[staff]")
    else:
        print("[[staff.members]]")
        print(f'number = "{number}"')
    print(f'pin_hash = "{line}"')
    return 0
