"""Staff accounts of the fleet console from the command line (the console has no sign-up):

    python -m central console user add NAME --role viewer|operator|admin --db URL
    python -m central console user password NAME --db URL
    python -m central console user list --db URL

The password is read from standard input when it is not a terminal (one line), else asked
twice without echo. A new password also lifts a lockout and ends the account's sessions.
"""

from __future__ import annotations

import argparse
import getpass
import re
import sys
from typing import Any

from central.store.fleet import ROLES

USERNAME = re.compile(r"^[A-Za-z0-9._-]{2,64}$")


def add_console_commands(sub: Any, db: Any) -> None:
    """``console user ...`` under the gateway's command line (``sub``: its subparsers;
    ``db``: adds its ``--db`` option)."""
    console = sub.add_parser("console", help="the fleet console's staff accounts")
    users = console.add_subparsers(dest="console_command", required=True)
    user = users.add_parser("user", help="staff accounts").add_subparsers(
        dest="user_command", required=True
    )
    add = user.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    db(add)
    add.set_defaults(handler=_add)
    password = user.add_parser("password", help="set an account's password")
    password.add_argument("name")
    db(password)
    password.set_defaults(handler=_password)
    listing = user.add_parser("list", help="list the accounts")
    db(listing)
    listing.set_defaults(handler=_list)


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def _store(args: argparse.Namespace) -> Any:
    from central.store import CentralStore

    return CentralStore(args.db, pool_size=1)


def _add(args: argparse.Namespace) -> int:
    from central.console.auth import hash_password

    if not USERNAME.match(args.name):
        print("error: a name has 2-64 letters, digits, '.', '_' or '-'", file=sys.stderr)
        return 2
    try:
        hashed = hash_password(_read_password())
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    store = _store(args)
    try:
        added = store.fleet.add_user(args.name, hashed, args.role)
    finally:
        store.close()
    if not added:
        print(f"error: {args.name} exists (set its password instead)", file=sys.stderr)
        return 1
    print(f"console account {args.name} ({args.role}) created")
    return 0


def _password(args: argparse.Namespace) -> int:
    from central.console.auth import hash_password

    try:
        hashed = hash_password(_read_password())
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    store = _store(args)
    try:
        done = store.fleet.set_password(args.name, hashed)
    finally:
        store.close()
    if not done:
        print(f"error: no account {args.name}", file=sys.stderr)
        return 1
    print(f"password of {args.name} set")
    return 0


def _list(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        for user in store.fleet.users():
            locked = " (locked)" if user["locked_until"] else ""
            print(f"{user['username']}\t{user['role']}{locked}")
    finally:
        store.close()
    return 0
