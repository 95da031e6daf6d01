"""Chip-reader benchmark through a private pcscd + vpcd and the virtual travel document:

- full reads (EF.COM + DG1 + ~20 KB DG2 + EF.SOD, BAC and passive authentication);
- the endorsement write path: get_challenge (BAC, header, challenge), central's cryptogram
  (central/issuer.py, in process), authenticate, write_endorsement (record, commit counter,
  read back and compare), and read_endorsement;
each also with the card paced as an ISO 14443 link at 424 kbit/s.

Prints one JSON object. Needs pcscd and vsmartcard-vpcd, and no other pcscd running.
    python bench/chip.py [--reads 20] [--writes 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

# The repository root first: run as a script, bench/ is on the path and bench/devices.py
# would shadow the devices package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from central import issuer
from devices.chip import EndorsementRecord, EndorsementWrite, Purpose, Region
from devices.drivers.pcsc_chip import PcscChipReader
from devices.icao.mrz import access_from_lines
from devices.simulators.pcsc_stack import PcscStack, free_port_pair
from devices.simulators.vcard import DEFAULT_MRZ, VirtualTravelDocument
from devices.simulators.vcard_pki import TestPki

MASTER_KEY = bytes(range(32))
_T = TypeVar("_T")


def _scenario(
    stack: PcscStack, pki: TestPki, trust: Path, reads: int, **card_options: object
) -> dict[str, object]:
    card = VirtualTravelDocument(
        pki=pki, port=stack.port, dg2_bytes=20_000, with_dg11=False, **card_options
    )
    stack.insert(card)
    reader = PcscChipReader(reader=stack.reader_name, trust_store=str(trust))
    reader.open()
    access = access_from_lines(DEFAULT_MRZ)
    try:
        reader.read_document(access)  # warm-up: imports, first PC/SC connection
        walls, cpus, apdus = [], [], []
        for _ in range(reads):
            started = time.perf_counter()
            result = reader.read_document(access)
            walls.append(time.perf_counter() - started)
            cpus.append(result.stats.cpu_s)
            apdus.append(result.stats.apdus)
        assert result.passive_auth.valid
        return {
            "reads": reads,
            "dg2_bytes": len(result.data_groups[2]),
            "bytes_read": result.stats.bytes_read,
            "apdus_per_read": apdus[-1],
            "chunk_size": result.stats.chunk_size,
            "extended_length": result.stats.extended_length,
            "read_ms_median": round(statistics.median(walls) * 1000, 2),
            "read_ms_max": round(max(walls) * 1000, 2),
            "ms_per_apdu": round(statistics.median(walls) * 1000 / apdus[-1], 3),
            "driver_cpu_ms_median": round(statistics.median(cpus) * 1000, 2),
            "driver_cpu_ms_max": round(max(cpus) * 1000, 2),
        }
    finally:
        reader.close()
        stack.remove(card)


def _ms(samples: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(samples) * 1000, 2),
        "max_ms": round(max(samples) * 1000, 2),
    }


def _timed(samples: list[float], call: Callable[[], _T]) -> _T:
    started = time.perf_counter()
    value = call()
    samples.append(time.perf_counter() - started)
    return value


def _one_write(
    reader: PcscChipReader, steps: dict[str, list[float]], n: int
) -> tuple[EndorsementRecord, EndorsementWrite]:
    """One issuance, each step timed (central's cryptogram computed in process)."""
    access = access_from_lines(DEFAULT_MRZ)
    started = time.perf_counter()
    challenge = _timed(steps["get_challenge"], lambda: reader.get_challenge(access))
    record = EndorsementRecord(
        sequence=challenge.sequence,
        endorsement_no=f"E20250301{n:06d}",
        region=Region.HK,
        purpose=Purpose.INDIVIDUAL,
        trips=0,
        valid_from=dt.date(2025, 3, 1),
        valid_until=dt.date(2026, 2, 28),
        issued_at=dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC),
    )
    cryptogram = _timed(
        steps["central_cryptogram"],
        lambda: issuer.authorize(
            MASTER_KEY, challenge.document_number, challenge.challenge, record.encode()
        ),
    )
    _timed(steps["authenticate"], lambda: reader.authenticate(record, cryptogram))
    written = _timed(steps["write"], lambda: reader.write_endorsement(record))
    steps["total"].append(time.perf_counter() - started)
    return record, written


def _write_scenario(
    stack: PcscStack, pki: TestPki, writes: int, **card_options: object
) -> dict[str, object]:
    """``writes`` endorsements onto one card, each step timed; central's part in process."""
    access = access_from_lines(DEFAULT_MRZ)
    card = VirtualTravelDocument(
        pki=pki,
        port=stack.port,
        issuer_key=issuer.document_key(MASTER_KEY, access.document_number),
        with_dg11=False,
        **card_options,
    )
    stack.insert(card)
    reader = PcscChipReader(reader=stack.reader_name)
    reader.open()
    steps: dict[str, list[float]] = {
        k: [] for k in ("get_challenge", "central_cryptogram", "authenticate", "write", "total")
    }
    verify: list[float] = []
    reads: list[float] = []
    apdus = 0
    try:
        reader.read_endorsement(access)  # warm-up
        for n in range(writes):
            record, written = _one_write(reader, steps, n)
            verify.append(written.verify_s)
            apdus = written.apdus
            assert _timed(reads, lambda: reader.read_endorsement(access)) == record
        return {
            "writes": writes,
            "apdus_per_write": apdus,
            **{f"{name}": _ms(samples) for name, samples in steps.items()},
            "read_back_in_write": _ms(verify),
            "read_endorsement": _ms(reads),
        }
    finally:
        reader.close()
        stack.remove(card)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=20)
    parser.add_argument("--writes", type=int, default=20)
    args = parser.parse_args()
    pki = TestPki()
    with tempfile.TemporaryDirectory() as tmp, PcscStack(port=free_port_pair()) as stack:
        trust = pki.write_trust_store(Path(tmp) / "csca.pem")
        results = {
            "extended_length": _scenario(stack, pki, trust, args.reads),
            "short_apdus_0xDF": _scenario(stack, pki, trust, args.reads, extended_length=False),
            # the card without TCP_QUICKACK: the ~44 ms per APDU vpcd usually shows
            "extended_length_delayed_ack": _scenario(
                stack, pki, trust, max(2, args.reads // 10), low_latency=False
            ),
            "short_apdus_delayed_ack": _scenario(
                stack,
                pki,
                trust,
                max(2, args.reads // 10),
                extended_length=False,
                low_latency=False,
            ),
            "extended_length_424kbps": _scenario(
                stack, pki, trust, max(2, args.reads // 4), link_kbps=424
            ),
            "write_endorsement": _write_scenario(stack, pki, args.writes),
            "write_endorsement_424kbps": _write_scenario(
                stack, pki, max(2, args.writes // 4), link_kbps=424
            ),
        }
    print(
        json.dumps(
            {
                "benchmark": "chip",
                "files": ["EF.COM", "EF.DG1", "EF.DG2 (~20 KB)", "EF.SOD"],
                "write": "get_challenge, central cryptogram, authenticate, write + read back",
                "python": platform.python_version(),
                "machine": f"{platform.system()} {platform.machine()}",
                **results,
            }
        )
    )


if __name__ == "__main__":
    main()
