"""Running the gateway with uvicorn: on a thread inside another program (the kiosk's demo,
the tests: ``start_in_thread``), or as a service with one or more worker processes
(``serve``: ``kiosk central serve``).

Instances keep no state of their own beyond the fault switch: the store (PostgreSQL for
more than one instance) holds everything, so any number of them may run behind a load
balancer (docs/sync.md, "Running the gateway").
"""

from __future__ import annotations

import json
import logging
import os
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import uvicorn

from central.app import MAX_BODY, Gateway, routes
from central.auth import load_kiosks_file, load_secret_file
from central.faults import FaultPlan, Faults
from central.guard import Limits
from central.issuer import DEMO_MASTER_KEY, load_master_key
from central.protocol import GatewayProtocol
from central.store import CentralStore

log = logging.getLogger(__name__)

__all__ = ["MAX_BODY", "ROUTES", "CentralHandle", "GatewaySettings", "serve", "start_in_thread"]

# (method, path template): the API surface, kept equal to docs/central-openapi.json by a test.
ROUTES: tuple[tuple[str, str], ...] = routes()
ENVIRONMENT = "CENTRAL_GATEWAY"  # how ``serve`` hands its settings to worker processes


@dataclass
class CentralHandle:
    """A running gateway: ``url``, ``port``, ``store``, ``faults``; ``stop()`` ends it."""

    url: str
    port: int
    store: CentralStore
    faults: Faults
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.store.close()

    def __enter__(self) -> CentralHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _uvicorn_config(
    app: Any, *, limits: Limits, tls: ssl.SSLContext | None = None, **extra: Any
) -> uvicorn.Config:
    config = uvicorn.Config(
        app,
        http=GatewayProtocol,
        lifespan="off",
        log_level="warning",
        access_log=False,
        # Idle keep-alive connections close after this; headers must come within
        # GatewayProtocol.header_timeout_s, bodies within the guard's read timeout.
        timeout_keep_alive=5,
        timeout_graceful_shutdown=3,
        # Connections (idle ones included) and requests in progress, per process: past this
        # a request is answered 503 at once instead of queueing without bound.
        limit_concurrency=limits.max_connections,
        backlog=2048,
        ssl_context_factory=(lambda config, default: tls) if tls is not None else None,
        **extra,
    )
    config.central_header_timeout_s = limits.header_timeout_s  # type: ignore[attr-defined]
    return config


def start_in_thread(
    db: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 0,
    faults: FaultPlan | Faults | None = None,
    *,
    kiosk_secrets: Mapping[str, bytes] | None = None,
    today: Callable[[], date] | None = None,
    tls: ssl.SSLContext | None = None,
    payment_ttl_s: float = 180.0,
    pay_base_url: str = "https://pay.example.org/cashier",
    limits: Limits | None = None,
    sock: socket.socket | None = None,
    issuer_key: bytes | None = None,
) -> CentralHandle:
    """Start the gateway on a background thread (the kiosk demo embeds it this way).

    ``db``: a SQLite file or a ``postgresql://`` URL. ``tls``: a server-side SSL context to
    serve https. ``payment_ttl_s``: how long a payment order waits to be paid;
    ``pay_base_url``: the payment links' base. ``sock``: a socket already listening (the
    kiosk binds it first so that it knows the URL before this module is even imported);
    ``host`` and ``port`` are then ignored. Answers as soon as it returns: the socket is
    listening before the server thread starts. ``issuer_key``: the issuer master key for
    endorsements written onto permit chips (None: that route answers 503)."""
    secrets = dict(kiosk_secrets or {})
    if any(not s for s in secrets.values()):
        raise ValueError("a kiosk secret must not be empty")
    store = CentralStore(
        db,
        today=today,
        payment_ttl_s=payment_ttl_s,
        pay_base_url=pay_base_url,
        issuer_key=issuer_key,
    )
    picker = faults if isinstance(faults, Faults) else Faults(faults)
    limits = limits or Limits()
    gateway = Gateway(store, picker, secrets, limits)
    if sock is None:
        sock = _listen(host, port)
    host = str(sock.getsockname()[0])
    server = uvicorn.Server(_uvicorn_config(gateway, limits=limits, tls=tls))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="central", daemon=True
    )
    thread.start()
    bound = int(sock.getsockname()[1])
    url = f"{'https' if tls else 'http'}://{_url_host(host)}:{bound}"
    return CentralHandle(url, bound, store, picker, server, thread)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# ------------------------------------------------------------------ as a service
@dataclass
class GatewaySettings:
    """What ``kiosk central serve`` configures; JSON-able, so worker processes get it."""

    db: str
    secret_files: dict[str, str] = field(default_factory=dict)
    kiosks_file: str | None = None
    faults: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    payment_ttl_s: float = 180.0
    pay_base_url: str = "https://pay.example.org/cashier"
    pool_size: int = 8
    limits: dict[str, Any] = field(default_factory=dict)
    certfile: str | None = None  # PEM certificate (chain): serve https
    keyfile: str | None = None  # its private key (0600)
    issuer_key_file: str | None = None  # the issuer master key, hex (0600)
    demo_issuer_key: bool = False  # the published demo key (demos only)

    def issuer_key(self) -> bytes | None:
        """The issuer master key for chip endorsements (``IssuerError`` if the file is
        unfit); None: the authorisation route answers 503."""
        if self.issuer_key_file:
            return load_master_key(self.issuer_key_file)
        if self.demo_issuer_key:
            log.warning("chip endorsements use the published DEMO issuer key")
            return DEMO_MASTER_KEY
        return None

    def tls(self) -> ssl.SSLContext | None:
        """The server's TLS context, or None for plain http (loopback, or TLS at a balancer:
        kiosks refuse plain http to anything but loopback)."""
        if not self.certfile:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.certfile, self.keyfile)
        return context

    def secrets(self) -> dict[str, bytes]:
        """Each kiosk's secret from its file, and those of the kiosks file
        (``SecretFileError`` if a file is unfit)."""
        secrets = load_kiosks_file(self.kiosks_file) if self.kiosks_file else {}
        secrets.update({kiosk: load_secret_file(p) for kiosk, p in self.secret_files.items()})
        return secrets

    def gateway(self) -> Gateway:
        store = CentralStore(
            self.db,
            payment_ttl_s=self.payment_ttl_s,
            pay_base_url=self.pay_base_url,
            pool_size=self.pool_size,
            issuer_key=self.issuer_key(),
        )
        faults = Faults(FaultPlan.from_json(self.faults), seed=self.seed)
        return Gateway(store, faults, self.secrets(), Limits(**self.limits))


def app_from_environment() -> Gateway:
    """The factory each worker process calls (``serve`` with ``workers`` > 1)."""
    return GatewaySettings(**json.loads(os.environ[ENVIRONMENT])).gateway()


def serve(
    settings: GatewaySettings,
    *,
    host: str = "127.0.0.1",
    port: int = 8787,
    workers: int = 1,
    on_ready: Callable[[str], None] | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM, on ``host``:``port`` or on ``sock`` (listening already).
    The schema is migrated once here, before any worker starts; each worker then opens its
    own connection pool."""
    settings.secrets()  # refuse unfit secret files before anything starts
    settings.issuer_key()  # and an unfit issuer key file
    tls = settings.tls()  # and an unreadable certificate
    if workers > 1 and not settings.db.startswith(("postgresql", "postgres:")):
        log.warning("%d workers on one SQLite file take turns for every write", workers)
    FaultPlan.from_json(settings.faults)
    CentralStore(settings.db, pool_size=1).close()
    limits = Limits(**settings.limits)
    if sock is None:
        sock = _listen(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    scheme = "https" if tls is not None else "http"
    url = f"{scheme}://{_url_host(str(bound_host))}:{bound_port}"
    if workers <= 1:
        config = _uvicorn_config(settings.gateway(), limits=limits, tls=tls)
        if on_ready:
            on_ready(url)
        uvicorn.Server(config).run(sockets=[sock])
        return
    os.environ[ENVIRONMENT] = json.dumps(asdict(settings))
    config = _uvicorn_config(
        "central.server:app_from_environment",
        limits=limits,
        factory=True,
        workers=workers,
        # Files, not a context: the configuration travels to the worker processes.
        ssl_certfile=settings.certfile,
        ssl_keyfile=settings.keyfile,
    )
    from uvicorn.supervisors import Multiprocess

    if on_ready:
        on_ready(url)
    Multiprocess(config, sockets=[sock]).run()
