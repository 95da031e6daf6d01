"""The reference central service run inside the kiosk (demos: ``central.embedded``).

The service lives in the ``central`` package, which the kiosk bundle leaves out; it is
imported only when asked for, so a bundled kiosk says plainly that it is absent.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kiosk.config import KioskConfig
from offline_queue.auth import load_or_create_secret

log = logging.getLogger(__name__)


class CentralUnavailable(Exception):
    """The ``central`` package is not installed (the kiosk bundle leaves it out)."""


def start_embedded_central(config: KioskConfig, port: int = 0) -> Any:
    """Start the reference central service inside the kiosk (demo: ``central.embedded``),
    trusting this kiosk's signing secret. Returns the handle (``.url``, ``.stop()``); pass
    ``handle.url`` to ``open_sync_worker(config, central_url=...)``."""
    try:
        from central.server import start_in_thread
    except ImportError as exc:
        raise CentralUnavailable("the reference central service is not installed") from exc
    data = config.data_dir
    data.mkdir(parents=True, exist_ok=True)
    secret_path = Path(config.central.secret_file or "central.secret")
    if not secret_path.is_absolute():
        secret_path = data / secret_path
    secret = load_or_create_secret(secret_path)
    handle = start_in_thread(
        data / "central-embedded.sqlite", port=port, kiosk_secrets={config.kiosk.id: secret}
    )
    log.info("embedded central service on %s", handle.url)
    return handle
