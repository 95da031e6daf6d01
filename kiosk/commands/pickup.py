"""``kiosk pickup withheld|release``: staff reconcile documents the pickup terminal withholds.

A document is withheld once it has been dispensed (taken, captured to the bin, or with an
uncertain outcome after a fault or a crash). After staff have checked it - found it in the
bin or the mechanism and put it back into storage, or confirmed the handover - ``release``
lets the machine offer it again.
"""

from __future__ import annotations

import argparse
import json
import sys

from devices.dispenser import CardDispenser
from kiosk.config import ConfigError, load_config
from kiosk.errors import KioskError
from kiosk.pickup_service import PickupService


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("pickup", help="pickup terminal: withheld documents (staff)")
    sub = parser.add_subparsers(dest="pickup_command", required=True)
    listing = sub.add_parser("withheld", help="documents this machine will not hand out again")
    listing.add_argument("--config", required=True, help="machine configuration (TOML)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_withheld)
    release = sub.add_parser("release", help="staff reconciled a document: offer it again")
    release.add_argument("document_no")
    release.add_argument("--config", required=True, help="machine configuration (TOML)")
    release.set_defaults(handler=_release)


def _no_dispenser() -> CardDispenser:
    raise KioskError("staff commands never move documents", code="pickup.no_dispenser")


def _service(args: argparse.Namespace) -> PickupService:
    from kiosk.backend import open_outbox

    config = load_config(args.config)
    return PickupService(open_outbox(config), _no_dispenser, config.kiosk.id)


def _withheld(args: argparse.Namespace) -> int:
    try:
        service = _service(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        documents = service.withheld_documents()
    finally:
        service.outbox.close()
    if args.json:
        print(json.dumps([{"document_no": d, "outcome": o} for d, o in documents]))
    else:
        for document_no, outcome in documents:
            print(f"{document_no}\t{outcome or 'in progress'}")
    return 0


def _release(args: argparse.Namespace) -> int:
    try:
        service = _service(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        if args.document_no not in {d for d, _ in service.withheld_documents()}:
            print(f"{args.document_no} is not withheld", file=sys.stderr)
            return 1
        service.release(args.document_no)
    finally:
        service.outbox.close()
    print(f"released {args.document_no}")
    return 0
