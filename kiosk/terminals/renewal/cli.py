"""``kiosk renewal orders|settle``: staff see the payment orders this renewal machine has not
settled yet (the citizen left while central was not answering, or the machine stopped), and
settle them now instead of waiting for the machine's own pass.

Settling asks central about each order: an unpaid one is cancelled, a paid one that no
endorsement used is refunded, one that was issued is recorded as issued.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from kiosk.config import KioskConfig, load_config
from kiosk.machine.central import CentralLink
from kiosk.machine.records import on_records
from kiosk.terminals.renewal.service import RenewalService


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("renewal", help="renewal terminal (staff): open payment orders")
    sub = parser.add_subparsers(dest="renewal_command", required=True)
    orders = sub.add_parser("orders", help="payment orders not settled yet")
    orders.add_argument("--config", required=True, help="machine configuration (TOML)")
    orders.add_argument("--json", action="store_true", help="print JSON")
    orders.set_defaults(handler=_orders)
    settle = sub.add_parser("settle", help="settle every open payment order with central now")
    settle.add_argument("--config", required=True, help="machine configuration (TOML)")
    settle.add_argument("--central", default="", help="central URL (default: the config's)")
    settle.add_argument("--json", action="store_true", help="print JSON")
    settle.set_defaults(handler=_settle)


def _service(config: KioskConfig, central_url: str) -> RenewalService:
    from kiosk.machine.backend import open_central_client, open_outbox

    return RenewalService(
        open_outbox(config),
        CentralLink(lambda: open_central_client(config, central_url or None)),
        kiosk_id=config.kiosk.id,
        settle_s=config.payment.settle_s,
    )


def _with_service(
    args: argparse.Namespace, work: Callable[[RenewalService], int], central_url: str = ""
) -> int:
    """Run ``work`` on the machine's payment records (see ``on_records``)."""

    def close(service: RenewalService) -> None:
        service.close()
        service.outbox.close()

    return on_records(lambda: _service(load_config(args.config), central_url), work, close)


def _orders(args: argparse.Namespace) -> int:
    def show(service: RenewalService) -> int:
        now = time.time()
        orders = service.open_orders()
        if args.json:
            rows = [
                {"order_id": e.ref, "opened_at": e.started_at, "age_s": round(now - e.started_at)}
                for e in orders
            ]
            print(json.dumps(rows))
        for e in [] if args.json else orders:
            opened = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.started_at))
            print(f"{e.ref}\topened {opened}\t{round(now - e.started_at)} s ago")
        return 0

    return _with_service(args, show)


def _settle(args: argparse.Namespace) -> int:
    def settle(service: RenewalService) -> int:
        settled = service.reconcile(everything=True)
        if args.json:
            print(json.dumps([{"order_id": s.order_id, "outcome": s.outcome} for s in settled]))
        for s in [] if args.json else settled:
            print(f"{s.order_id}\t{s.outcome}")
        # Still open: central did not answer; exit 2 so a script can retry later.
        return 2 if any(s.outcome == "open" for s in settled) else 0

    return _with_service(args, settle, args.central)
