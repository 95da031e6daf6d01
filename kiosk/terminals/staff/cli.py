"""``kiosk staff pin-hash [--number N]``: make the hash of a staff PIN for the configuration:
the machine's one ``staff.pin_hash``, or with ``--number`` a ``[[staff.members]]`` entry.

The PIN is read twice without echo at a terminal, or as one line from standard input (for
provisioning scripts); only the hash is printed, never the PIN.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from kiosk.core.pins import hash_pin


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("staff", help="staff mode at the machine")
    sub = parser.add_subparsers(dest="staff_command", required=True)
    pin = sub.add_parser("pin-hash", help="hash a staff PIN for the configuration")
    pin.add_argument("--number", help="this person's staff number (3-8 digits)")
    pin.set_defaults(handler=_pin_hash)


def _pin_hash(args: argparse.Namespace) -> int:
    number = args.number
    if number is not None and not (number.isascii() and number.isdigit() and 3 <= len(number) <= 8):
        print("a staff number is 3-8 digits", file=sys.stderr)
        return 1
    if sys.stdin.isatty():
        pin = getpass.getpass("staff PIN: ")
        if getpass.getpass("again: ") != pin:
            print("the two PINs differ; nothing written", file=sys.stderr)
            return 1
    else:
        pin = sys.stdin.readline().strip()
    try:
        line = hash_pin(pin)
    except ValueError as exc:
        print(f"{exc} (got {len(pin)} characters)", file=sys.stderr)
        return 1
    if number is None:
        print("[staff]")
    else:
        print("[[staff.members]]")
        print(f'number = "{number}"')
    print(f'pin_hash = "{line}"')
    return 0
