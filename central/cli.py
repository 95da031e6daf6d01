"""The gateway's command line: ``python -m central serve | migrate | maintain`` (also
``kiosk central ...`` from a kiosk checkout, which forwards here).

- ``serve``: the gateway over HTTP (docs/sync.md, "Running the gateway").
- ``migrate``: bring the store to the current schema (``serve`` does it too, at start).
- ``maintain``: apply the retention schedule (docs/sync.md, "Retention at central").
- ``console user add|password|list``: the fleet console's staff accounts (docs/console.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import ssl
import sys
import threading
from collections.abc import Sequence

from central.auth import SecretFileError
from central.console.cli import add_console_commands
from central.faults import MODES

log = logging.getLogger(__name__)


def build_parser(prog: str = "python -m central") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="the central gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the central API over HTTP")
    _db(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8787)
    serve.add_argument(
        "--fd", type=int, help="serve on this listening socket (inherited) instead of a port"
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (more than one needs PostgreSQL to be useful)",
    )
    serve.add_argument(
        "--kiosk",
        action="append",
        default=[],
        metavar="ID=SECRET_FILE",
        help="a kiosk allowed to sign requests, with its secret file (0600, at least 16 "
        "bytes; repeatable)",
    )
    serve.add_argument(
        "--kiosks-file",
        metavar="FILE",
        help="the fleet's secrets, a line 'KIOSK_ID SECRET' per kiosk (0600)",
    )
    serve.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="MODE=RATE",
        help=f"misbehave at a rate: {', '.join(MODES)} (repeatable)",
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
    serve.add_argument("--pool-size", type=int, default=8, help="database connections per worker")
    serve.add_argument("--certfile", help="serve https with this PEM certificate (chain)")
    serve.add_argument("--keyfile", help="the certificate's private key")
    serve.add_argument(
        "--issuer-key-file",
        metavar="FILE",
        help="the issuer master key for endorsements written onto permit chips: 32, 48 or 64 "
        "hex digits in a 0600 file (without it, or --demo-issuer-key, they are refused)",
    )
    serve.add_argument(
        "--demo-issuer-key",
        action="store_true",
        help="use the published demo issuer key of the simulated permits (demos only)",
    )
    serve.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="stop when standard input closes (a parent process embedding the gateway)",
    )
    serve.set_defaults(handler=_serve)

    migrate = sub.add_parser("migrate", help="bring the store to the current schema")
    _db(migrate)
    migrate.set_defaults(handler=_migrate)

    maintain = sub.add_parser(
        "maintain", help="apply the retention schedule (erase personal data, expire keys)"
    )
    _db(maintain)
    maintain.add_argument(
        "--personal-days", type=float, default=30.0, help="keep personal data this long"
    )
    maintain.add_argument(
        "--keys-days", type=float, default=180.0, help="keep idempotency keys this long"
    )
    maintain.add_argument("--json", action="store_true", help="print the counts as JSON")
    maintain.set_defaults(handler=_maintain)
    add_console_commands(sub, _db)  # python -m central console user add|password|list
    return parser


def _db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        required=True,
        help="the store: a SQLite file, or postgresql://user:password@host:port/database",
    )


def main(argv: Sequence[str] | None = None, prog: str = "python -m central") -> int:
    args = build_parser(prog).parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    code: int = args.handler(args)
    return code


def _serve(args: argparse.Namespace) -> int:
    from central.server import GatewaySettings, serve

    secret_files: dict[str, str] = {}
    for item in args.kiosk:
        kiosk_id, _, secret_file = item.partition("=")
        if not kiosk_id or not secret_file:
            print(f"error: --kiosk wants ID=SECRET_FILE, not {item!r}", file=sys.stderr)
            return 2
        secret_files[kiosk_id] = secret_file
    try:
        rates = {m: float(r) for m, _, r in (f.partition("=") for f in args.fault)}
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings = GatewaySettings(
        db=args.db,
        secret_files=secret_files,
        kiosks_file=args.kiosks_file,
        faults={"rates": rates, "latency_s": args.latency_s, "retry_after_s": args.retry_after_s},
        seed=args.seed,
        payment_ttl_s=args.payment_ttl_s,
        pay_base_url=args.pay_url,
        pool_size=args.pool_size,
        certfile=args.certfile,
        keyfile=args.keyfile,
        issuer_key_file=args.issuer_key_file,
        demo_issuer_key=args.demo_issuer_key,
    )
    if args.exit_with_stdin:
        threading.Thread(target=_stop_when_stdin_closes, name="stdin-watch", daemon=True).start()

    def ready(url: str) -> None:
        print(f"central gateway on {url} ({args.workers} worker(s)); Ctrl-C stops", flush=True)

    listening = socket.socket(fileno=args.fd) if args.fd is not None else None
    try:
        serve(
            settings,
            host=args.host,
            port=args.port,
            workers=args.workers,
            on_ready=ready,
            sock=listening,
        )
    except (SecretFileError, ValueError, OSError, ssl.SSLError) as exc:  # IssuerError too
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def _stop_when_stdin_closes() -> None:
    """The parent holds our standard input; when it exits (or crashes), so do we."""
    # os.read, not sys.stdin: a daemon thread blocked in a buffered read holds its lock, and
    # the interpreter, finalizing after SIGINT, aborts on it ("could not acquire lock").
    fd = sys.stdin.fileno()
    while os.read(fd, 4096):
        pass
    os.kill(os.getpid(), signal.SIGINT)


def _migrate(args: argparse.Namespace) -> int:
    from central.store import CentralStore

    store = CentralStore(args.db, pool_size=1)
    print(f"central store at {store.url} is up to date")
    store.close()
    return 0


def _maintain(args: argparse.Namespace) -> int:
    from central.store import CentralStore, RetentionPolicy

    try:
        policy = RetentionPolicy(personal_days=args.personal_days, keys_days=args.keys_days)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    store = CentralStore(args.db, pool_size=1)
    try:
        done = store.purge(policy)
    finally:
        store.close()
    if args.json:
        print(json.dumps(done))
    else:
        print(", ".join(f"{name.replace('_', ' ')}: {n}" for name, n in done.items()))
    return 0
