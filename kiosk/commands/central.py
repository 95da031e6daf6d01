"""``kiosk central serve | migrate | maintain``: run the central gateway, bring its store to
the current schema, apply its retention schedule.

The gateway lives in the ``central`` package, which the kiosk bundle leaves out; it is
imported only here, inside the handlers, so the bundled CLI says plainly that it is absent.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from kiosk.config import KioskConfig
from offline_queue.auth import load_or_create_secret

log = logging.getLogger(__name__)

ABSENT = (
    "the central gateway is not part of this installation "
    "(the kiosk bundle leaves it out); run it from a source checkout"
)


class CentralUnavailable(Exception):
    """The ``central`` package is not installed (the kiosk bundle leaves it out)."""


class EmbeddedCentral:
    """The gateway inside the kiosk (demo: ``central.embedded``). Its socket listens at once,
    so ``url`` is known; importing the gateway (about a second: FastAPI, SQLAlchemy) and
    opening its store happen on a thread of their own, off the kiosk's start-up path. A
    request that arrives meanwhile waits in the socket's backlog."""

    def __init__(self, db: Path, secrets: dict[str, bytes], port: int = 0) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self._sock.listen(128)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._ready = threading.Event()
        self._handle: Any = None
        self._thread = threading.Thread(
            target=self._start, args=(db, secrets), name="central-start", daemon=True
        )
        self._thread.start()

    def _start(self, db: Path, secrets: dict[str, bytes]) -> None:
        try:
            from central.server import start_in_thread

            self._handle = start_in_thread(db, kiosk_secrets=secrets, sock=self._sock)
            log.info("embedded central gateway on %s", self.url)
        except Exception:
            log.exception("the embedded central gateway did not start")
            self._sock.close()
        finally:
            self._ready.set()

    @property
    def handle(self) -> Any:
        """The running gateway (``central.server.CentralHandle``), once it has started."""
        self._ready.wait(120)
        if self._handle is None:
            raise CentralUnavailable("the embedded central gateway did not start")
        return self._handle

    @property
    def store(self) -> Any:
        return self.handle.store

    @property
    def faults(self) -> Any:
        return self.handle.faults

    def stop(self) -> None:
        self._ready.wait(120)
        if self._handle is not None:
            self._handle.stop()


def start_embedded_central(config: KioskConfig, port: int = 0) -> EmbeddedCentral:
    """Start the central gateway inside the kiosk on SQLite, trusting this kiosk's signing
    secret. Returns at once with ``.url`` (pass it to ``open_sync_worker(config,
    central_url=...)``), ``.store`` and ``.stop()``."""
    if importlib.util.find_spec("central") is None:
        raise CentralUnavailable("the central gateway is not installed")
    data = config.data_dir
    data.mkdir(parents=True, exist_ok=True)
    secret_path = Path(config.central.secret_file or "central.secret")
    if not secret_path.is_absolute():
        secret_path = data / secret_path
    secret = load_or_create_secret(secret_path)
    return EmbeddedCentral(data / "central-embedded.sqlite", {config.kiosk.id: secret}, port)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("central", help="the central gateway (demo, tests, deployment)")
    sub = parser.add_subparsers(dest="central_command", required=True)
    serve = sub.add_parser("serve", help="serve the central API over HTTP")
    _db(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8787)
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
    serve.add_argument("--pool-size", type=int, default=8, help="database connections per worker")
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


def _db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        required=True,
        help="the store: a SQLite file, or postgresql://user:password@host:port/database",
    )


def _serve(args: argparse.Namespace) -> int:
    try:
        from central.auth import SecretFileError
        from central.server import GatewaySettings, serve
    except ImportError:
        print(ABSENT, file=sys.stderr)
        return 2
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
    )

    def ready(url: str) -> None:
        print(f"central gateway on {url} ({args.workers} worker(s)); Ctrl-C stops", flush=True)

    try:
        serve(settings, host=args.host, port=args.port, workers=args.workers, on_ready=ready)
    except (SecretFileError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def _migrate(args: argparse.Namespace) -> int:
    try:
        from central.store import CentralStore
    except ImportError:
        print(ABSENT, file=sys.stderr)
        return 2
    store = CentralStore(args.db, pool_size=1)
    print(f"central store at {store.url} is up to date")
    store.close()
    return 0


def _maintain(args: argparse.Namespace) -> int:
    try:
        from central.store import CentralStore, RetentionPolicy
    except ImportError:
        print(ABSENT, file=sys.stderr)
        return 2
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
