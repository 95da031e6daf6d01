"""``kiosk pickup withheld|release|load|unload``: staff reconcile documents the pickup terminal
withholds, and tell central which documents they put into or took out of the machine.

A document is withheld once it has been dispensed (taken, captured to the bin, or with an
uncertain outcome after a fault or a crash). After staff have checked it - found it in the
bin or the mechanism and put it back into storage, or confirmed the handover - ``release``
lets the machine offer it again.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from devices.dispenser import CardDispenser
from kiosk.config import load_config
from kiosk.core.errors import KioskError
from kiosk.machine.records import on_records
from kiosk.terminals.pickup.service import PickupService


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "pickup", help="pickup terminal (staff): withheld documents, documents loaded or unloaded"
    )
    sub = parser.add_subparsers(dest="pickup_command", required=True)
    listing = sub.add_parser("withheld", help="documents this machine will not hand out again")
    listing.add_argument("--config", required=True, help="machine configuration (TOML)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_withheld)
    release = sub.add_parser("release", help="staff reconciled a document: offer it again")
    release.add_argument("document_no")
    release.add_argument("--config", required=True, help="machine configuration (TOML)")
    release.set_defaults(handler=_release)
    load = sub.add_parser("load", help="staff put a finished document into this machine")
    load.add_argument("document_no")
    load.add_argument("--slot", required=True, help="storage slot it went into, e.g. A05")
    load.add_argument("--config", required=True, help="machine configuration (TOML)")
    load.set_defaults(handler=_load)
    unload = sub.add_parser("unload", help="staff took a document out (to the counter)")
    unload.add_argument("document_no")
    unload.add_argument("--config", required=True, help="machine configuration (TOML)")
    unload.set_defaults(handler=_unload)


def _no_dispenser() -> CardDispenser:
    raise KioskError("staff commands never move documents", code="pickup.no_dispenser")


def _service(args: argparse.Namespace) -> PickupService:
    from kiosk.machine.backend import open_outbox

    config = load_config(args.config)
    return PickupService(open_outbox(config), _no_dispenser, config.kiosk.id)


def _with_service(args: argparse.Namespace, work: Callable[[PickupService], int]) -> int:
    """Run ``work`` on the machine's pickup records (see ``on_records``)."""
    return on_records(lambda: _service(args), work, lambda service: service.outbox.close())


def _withheld(args: argparse.Namespace) -> int:
    def show(service: PickupService) -> int:
        documents = service.withheld_documents()
        if args.json:
            print(json.dumps([{"document_no": d, "outcome": o} for d, o in documents]))
        else:
            for document_no, outcome in documents:
                print(f"{document_no}\t{outcome or 'in progress'}")
        return 0

    return _with_service(args, show)


def _release(args: argparse.Namespace) -> int:
    def release(service: PickupService) -> int:
        if args.document_no not in {d for d, _ in service.withheld_documents()}:
            print(f"{args.document_no} is not withheld", file=sys.stderr)
            return 1
        service.release(args.document_no)
        print(f"released {args.document_no}")
        return 0

    return _with_service(args, release)


def _load(args: argparse.Namespace) -> int:
    return _record(args, lambda service: service.loaded(args.document_no, args.slot), "loaded")


def _unload(args: argparse.Namespace) -> int:
    return _record(args, lambda service: service.unloaded(args.document_no), "unloaded")


def _record(args: argparse.Namespace, write: Callable[[PickupService], str], what: str) -> int:
    """Queue the record; central offers (or stops offering) the document here once synced."""

    def record(service: PickupService) -> int:
        key = write(service)
        print(f"{what} {args.document_no} (queued for central as {key})")
        return 0

    return _with_service(args, record)
