"""``kiosk central serve | migrate | maintain``: the central gateway's own command line
(``python -m central``, central/cli.py), reached from the kiosk's.

The gateway lives in the ``central`` package, which the kiosk bundle leaves out; it is
imported only inside the handler, so the bundled CLI says plainly that it is absent.
"""

from __future__ import annotations

import argparse
import sys

ABSENT = (
    "the central gateway is not part of this installation "
    "(the kiosk bundle leaves it out); run it from a source checkout"
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "central",
        help="the central gateway: serve | migrate | maintain (python -m central)",
        add_help=False,
    )
    parser.add_argument("-h", "--help", action="store_true", help="the gateway's own help")
    parser.add_argument("arguments", nargs=argparse.REMAINDER)
    parser.set_defaults(handler=_forward)


def _forward(args: argparse.Namespace) -> int:
    try:
        from central.cli import main
    except ImportError:
        print(ABSENT, file=sys.stderr)
        return 2
    try:
        return main(["--help"] if args.help else args.arguments, prog="kiosk central")
    except SystemExit as exc:  # argparse: --help, or a usage error
        return int(exc.code or 0)
