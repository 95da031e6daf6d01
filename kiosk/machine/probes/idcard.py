"""Probe an ID card reader: wait for a card, read it, return its parsed fields."""

from __future__ import annotations

import argparse

from devices.base import ConfigurationError
from devices.idcard import IdCardReader


def probe(device: object, args: argparse.Namespace) -> dict[str, object]:
    if not isinstance(device, IdCardReader):
        raise ConfigurationError(f"{type(device).__name__} is not an ID card reader")
    card = device.read_card(timeout_s=args.timeout)
    return {**card.to_json(), "status": device.status().status.value}
