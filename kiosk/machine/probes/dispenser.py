"""``kiosk devices probe dispenser``: show the dispenser's status and sensors.

Only the protocol (devices.dispenser) is used; the command builds the driver by name.
"""

from __future__ import annotations

import argparse
import logging
import time

from devices.base import DeviceError
from devices.dispenser import CardDispenser, DispenserStatus

log = logging.getLogger(__name__)


def _status_dict(status: DispenserStatus) -> dict[str, object]:
    return {
        "status": status.status.value,
        "detail": status.detail,
        "warnings": list(status.warnings),
        "position": status.position.value,
        "stacker": status.stacker.value,
        "bin_full": status.bin_full,
    }


def probe(device: CardDispenser, args: argparse.Namespace) -> dict[str, object]:
    """Status, sensors, capabilities and counters of the dispenser, as a JSON-ready dict.

    Opens the device if it is not open yet (and closes it again afterwards); moves no card.
    """
    timeout_s = float(getattr(args, "timeout_s", 3.0) or 3.0)
    opened_here = not device.is_open
    result: dict[str, object] = {"device": device.name, "ok": False}
    start = time.monotonic()
    try:
        if opened_here:
            device.open(timeout_s=timeout_s)
        result["status"] = _status_dict(device.read_status(timeout_s=timeout_s))
        result["sensors"] = dict(device.sensors(timeout_s=timeout_s))
        result["ok"] = True
    except DeviceError as exc:
        log.warning("dispenser probe failed: %s", exc)
        result["error"] = {"code": exc.code, "message": str(exc), "recovery": exc.recovery.value}
    finally:
        result["capabilities"] = device.capabilities()
        result["statistics"] = device.statistics()
        result["elapsed_s"] = round(time.monotonic() - start, 3)
        if opened_here:
            device.close()
    return result
