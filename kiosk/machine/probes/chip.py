"""``kiosk devices probe chip``: read the document on the chip reader and report it.

Extra arguments the dispatcher adds for this kind: ``--mrz LINE [LINE ...]`` (TD1: 3 lines,
TD3: 2 lines) and ``--trust-store PATH`` (CSCA certificates; overrides the configured one).
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from devices.chip import ChipReader, access_from_lines
from devices.icao import pa


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments this probe needs on top of the generic ``devices probe`` ones."""
    parser.add_argument(
        "--mrz", nargs="+", required=True, metavar="LINE", help="MRZ lines of the document"
    )
    parser.add_argument("--trust-store", help="CSCA certificate file or directory")
    parser.add_argument("--timeout", type=float, default=30.0, help="read timeout in seconds")


def probe(device: object, args: argparse.Namespace) -> dict[str, object]:
    """Read the chip with the MRZ access data of ``args.mrz``; device errors propagate."""
    if not isinstance(device, ChipReader):
        raise TypeError(f"{type(device).__name__} is not a chip reader")
    access = access_from_lines(args.mrz)
    started = time.perf_counter()
    result = device.read_document(access, timeout_s=float(getattr(args, "timeout", 30.0)))
    elapsed = time.perf_counter() - started
    report = result.passive_auth
    trust_store = getattr(args, "trust_store", None)
    if trust_store:
        report = pa.verify(
            result.sod, result.data_groups, pa.load_trust_store(trust_store), datetime.now(UTC)
        )
    summary = result.summary()
    return {
        "mrz": summary["mrz"],
        "dg2": {
            "format": result.face.format.value,
            "bytes": len(result.data_groups[2]),
            "image_bytes": len(result.face.data),
            "width": result.picture.width,
            "height": result.picture.height,
        },
        "data_groups": summary["data_groups"],
        "passive_authentication": report.as_dict(),
        "time_s": round(elapsed, 4),
        "stats": summary["stats"],
    }
