"""``kiosk flows diagram``: print or write the Mermaid diagrams of every flow."""

from __future__ import annotations

import argparse
from pathlib import Path

from kiosk.terminals.diagram import flows_markdown


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("flows", help="flow definitions")
    sub = parser.add_subparsers(dest="flows_command", required=True)
    diagram = sub.add_parser("diagram", help="Mermaid diagrams of every terminal flow")
    diagram.add_argument("--out", help="write to this file instead of standard output")
    diagram.set_defaults(handler=_diagram)


def _diagram(args: argparse.Namespace) -> int:
    text = flows_markdown()
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0
