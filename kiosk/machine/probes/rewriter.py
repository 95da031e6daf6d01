"""``kiosk devices probe rewriter``: show the permit card module's status and sensors.

Only the protocol (devices.rewriter) is used; the command builds the driver by name. Moves
no card.
"""

from __future__ import annotations

import argparse
import logging
import time

from devices.base import DeviceError
from devices.rewriter import CardRewriter

log = logging.getLogger(__name__)


def probe(device: CardRewriter, args: argparse.Namespace) -> dict[str, object]:
    """Status (card place, cover, jam, head and film), capabilities and counters, as a
    JSON-ready dict. Opens the device if it is not open yet (and closes it afterwards)."""
    timeout_s = float(getattr(args, "timeout_s", 3.0) or 3.0)
    opened_here = not device.is_open
    result: dict[str, object] = {"device": device.name, "ok": False}
    start = time.monotonic()
    try:
        if opened_here:
            device.open(timeout_s=timeout_s)
        result["status"] = device.read_status(timeout_s=timeout_s).to_json()
        result["ok"] = True
    except DeviceError as exc:
        log.warning("rewriter probe failed: %s", exc)
        result["error"] = {"code": exc.code, "message": str(exc), "recovery": exc.recovery.value}
    finally:
        result["capabilities"] = device.capabilities()
        result["statistics"] = device.statistics()
        result["elapsed_s"] = round(time.monotonic() - start, 3)
        if opened_here:
            device.close()
    return result
