"""The central gateway run beside the kiosk (demos: ``central.embedded``), as a child process.

The gateway lives in the ``central`` package, which the kiosk bundle leaves out; it is
started only when asked for, so a bundled kiosk says plainly that it is absent. As a child
process its libraries (FastAPI, SQLAlchemy, uvicorn) cost the kiosk neither start-up time nor
memory, and its threads never wait for the GUI's.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from kiosk.config import KioskConfig
from offline_queue.auth import load_or_create_secret

log = logging.getLogger(__name__)


class CentralUnavailable(Exception):
    """The ``central`` package is not installed (the kiosk bundle leaves it out)."""


class EmbeddedCentral:
    """The gateway as a child process (``python -m central serve``) on a SQLite file beside
    the kiosk's data, trusting this kiosk's secret. The listening socket is made here and
    handed down, so ``url`` is known at once and a request sent before the child is ready
    waits in the socket's backlog. The child stops when told (``stop``) or when this
    process ends, whatever the way (it watches its standard input)."""

    def __init__(self, db: Path, kiosk_id: str, secret_file: Path, port: int = 0) -> None:
        self.db = db
        listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(("127.0.0.1", port))
        listening.listen(128)
        self.port = int(listening.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable,
            "-m",
            "central",
            "serve",
            "--db",
            str(db),
            "--fd",
            str(listening.fileno()),
            "--kiosk",
            f"{kiosk_id}={secret_file}",
            # The simulated permits carry the published demo issuer key (docs/chip-reader.md).
            "--demo-issuer-key",
            "--exit-with-stdin",
        ]
        try:
            self._process = subprocess.Popen(
                command,
                pass_fds=(listening.fileno(),),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                env=_child_environment(),
            )
        finally:
            listening.close()  # the child has its own copy
        self._store: Any = None
        log.info("embedded central gateway on %s (process %d)", self.url, self._process.pid)

    @property
    def store(self) -> Any:
        """The gateway's store, opened in this process (tests and staff tools)."""
        if self._store is None:
            from central.store import CentralStore

            self._store = CentralStore(self.db)
        return self._store

    def stop(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        if self._process.stdin is not None:
            self._process.stdin.close()


def _child_environment() -> dict[str, str]:
    """The kiosk's environment, with this checkout importable by the child."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def start_embedded_central(config: KioskConfig, port: int = 0) -> EmbeddedCentral:
    """Start the central gateway for this kiosk (demo: ``central.embedded``). Returns at
    once with ``.url`` (pass it to ``open_sync_worker(config, central_url=...)``),
    ``.store`` and ``.stop()``."""
    if importlib.util.find_spec("central") is None or getattr(sys, "frozen", False):
        raise CentralUnavailable("the central gateway is not installed")
    data = config.data_dir
    data.mkdir(parents=True, exist_ok=True)
    secret_path = Path(config.central.secret_file or "central.secret")
    if not secret_path.is_absolute():
        secret_path = data / secret_path
    load_or_create_secret(secret_path)
    return EmbeddedCentral(
        data / "central-embedded.sqlite", config.kiosk.id, secret_path.resolve(), port
    )
