"""``kiosk central serve --db FILE --port N``: run the reference central service.

The service lives in the ``central`` package, which the kiosk bundle leaves out; it is
imported only inside the handler, so the bundled CLI says plainly that it is absent.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("central", help="reference central service (demo, tests)")
    sub = parser.add_subparsers(dest="central_command", required=True)
    serve = sub.add_parser("serve", help="serve the central API over HTTP")
    serve.add_argument("--db", required=True, help="SQLite file of the central store")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8787)
    serve.add_argument(
        "--kiosk",
        action="append",
        default=[],
        metavar="ID=SECRET_FILE",
        help="a kiosk allowed to sign requests, with its secret file (repeatable)",
    )
    serve.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="MODE=RATE",
        help="misbehave at a rate: error, retry_after, status, reset, bad_json, "
        "wrong_schema, huge, trickle, upload_cut (repeatable)",
    )
    serve.add_argument("--latency-s", type=float, default=0.0, help="delay every request")
    serve.add_argument("--retry-after-s", type=int, default=2, help="Retry-After sent on 429")
    serve.add_argument("--seed", type=int, default=None, help="seed of the fault RNG")
    serve.add_argument(
        "--payment-ttl-s", type=float, default=180.0, help="how long a payment order may be paid"
    )
    serve.add_argument(
        "--pay-url",
        default="https://pay.example.org/cashier",
        help="base of the payment links shown as QR codes (?order=ID is appended)",
    )
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    try:
        from central.faults import FaultPlan, Faults
        from central.server import start_in_thread
    except ImportError:
        print(
            "the reference central service is not part of this installation "
            "(the kiosk bundle leaves it out); run it from a source checkout",
            file=sys.stderr,
        )
        return 2
    secrets: dict[str, bytes] = {}
    for item in args.kiosk:
        kiosk_id, _, secret_file = item.partition("=")
        try:
            secrets[kiosk_id] = Path(secret_file).read_text(encoding="ascii").strip().encode()
        except OSError as exc:
            print(f"error: cannot read secret for {kiosk_id}: {exc.strerror}", file=sys.stderr)
            return 2
    try:
        rates = {m: float(r) for m, _, r in (f.partition("=") for f in args.fault)}
        plan = FaultPlan.from_json(
            {"rates": rates, "latency_s": args.latency_s, "retry_after_s": args.retry_after_s}
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    handle = start_in_thread(
        args.db,
        args.host,
        args.port,
        Faults(plan, seed=args.seed),
        kiosk_secrets=secrets,
        payment_ttl_s=args.payment_ttl_s,
        pay_base_url=args.pay_url,
    )
    print(f"central service on {handle.url} (store {args.db}); Ctrl-C stops", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
    return 0
