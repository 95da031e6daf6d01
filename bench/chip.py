"""Chip-reader benchmark: full reads (EF.COM + DG1 + ~20 KB DG2 + EF.SOD, BAC and passive
authentication) through a private pcscd + vpcd and the virtual travel document.

Prints one JSON object. Needs pcscd and vsmartcard-vpcd, and no other pcscd running.
    PYTHONPATH=. python bench/chip.py [--reads 20]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

from devices.drivers.pcsc_chip import PcscChipReader
from devices.icao.mrz import access_from_lines
from devices.simulators.pcsc_stack import PcscStack, free_port_pair
from devices.simulators.vcard import DEFAULT_MRZ, VirtualTravelDocument
from devices.simulators.vcard_pki import TestPki


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=20)
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
        }
    print(
        json.dumps(
            {
                "benchmark": "chip",
                "files": ["EF.COM", "EF.DG1", "EF.DG2 (~20 KB)", "EF.SOD"],
                "python": platform.python_version(),
                "machine": f"{platform.system()} {platform.machine()}",
                **results,
            }
        )
    )


if __name__ == "__main__":
    main()
