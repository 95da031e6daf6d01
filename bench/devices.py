"""Device-layer latency over real pseudo-terminals; prints one JSON object.

Each operation runs twice: with pacing off (what the driver, pty and simulator cost: the
driver overhead) and with pacing on (bytes at the line rate of 115200 bps 8N1, i.e. what a
citizen waits for on real hardware). Operations are registered with ``@operation(name)``;
adding one (e.g. ``dispense``) is one decorated function taking ``(pace, rounds)``.

Usage: python bench/devices.py [--rounds N] [--paced-rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devices.card_back import BackLine, render_back
from devices.drivers.escpos import EscPosPrinter
from devices.drivers.sam import SamIdCardReader
from devices.drivers.tcp300 import Tcp300Rewriter
from devices.printer import Barcode128, QrCode, Receipt, TextLine
from devices.rewriter import BackPrint
from devices.simulators.escpos import EscPosSimulator
from devices.simulators.sam import SamSimulator
from devices.simulators.tcp300 import Tcp300Simulator

BAUD = 115_200
Operation = Callable[[bool, int], list[float]]
OPERATIONS: dict[str, Operation] = {}


def operation(name: str) -> Callable[[Operation], Operation]:
    def register(function: Operation) -> Operation:
        OPERATIONS[name] = function
        return function

    return register


def timed(call: Callable[[], object], rounds: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


@operation("idcard_read")
def idcard_read(pace: bool, rounds: int) -> list[float]:
    """find + select + read text and photo (1295-byte answer)."""
    with SamSimulator(baud=BAUD, pace=pace, card="resident") as sim:
        reader = SamIdCardReader("idcard", sim.port, baud=BAUD, poll=False)
        reader.open()
        try:
            return timed(lambda: reader.read_card(timeout_s=5.0), rounds)
        finally:
            reader.close()


@operation("printer_status")
def printer_status(pace: bool, rounds: int) -> list[float]:
    """DLE EOT 1..4, one byte each."""
    with EscPosSimulator(baud=BAUD, pace=pace) as sim:
        printer = EscPosPrinter("printer", sim.port, baud=BAUD)
        printer.open()
        try:
            return timed(lambda: printer.printer_status(timeout_s=2.0), rounds)
        finally:
            printer.close()


def thirty_line_receipt() -> Receipt:
    lines = [TextLine(f"第{i:02d}行 项目 Item {i:02d} ........ {i * 7:>5}.00") for i in range(27)]
    return Receipt(
        title="自助续签回执 Receipt",
        items=(
            *lines,
            TextLine("合计 Total", bold=True),
            QrCode("https://example.invalid/r/SZ-FT-R01-000042"),
            Barcode128("SZ-FT-R01-000042"),
        ),
    )


@operation("printer_receipt_30_lines")
def printer_receipt(pace: bool, rounds: int, transport: str = "pty") -> list[float]:
    """Status before, a 30-line receipt with QR and barcode, status after, cut."""
    receipt = thirty_line_receipt()
    with EscPosSimulator(baud=BAUD, pace=pace, transport=transport) as sim:
        printer = EscPosPrinter("printer", sim.port, baud=BAUD)
        printer.open()
        try:
            return timed(lambda: printer.print_receipt(receipt, timeout_s=10.0), rounds)
        finally:
            printer.close()


@operation("printer_receipt_30_lines_tcp")
def printer_receipt_tcp(pace: bool, rounds: int) -> list[float]:
    """The same receipt to a network printer (socket:// on loopback)."""
    return printer_receipt(pace, rounds, transport="tcp")


def endorsement_back() -> BackPrint:
    return BackPrint(
        render_back(
            [
                BackLine("往来港澳签注 ENDORSEMENT", 3.5, bold=True),
                "澳门 MO  探亲 Family visit",
                "多次 Multiple trips",
                "有效期 Valid 2025-03-01 至 2026-02-28",
                "签注号 No. E20250301000042",
            ]
        )
    )


@operation("rewriter_card_cycle")
def rewriter_card_cycle(pace: bool, rounds: int) -> list[float]:
    """TCP300II: take a card in, erase + print a five-line back, hand it back, taken. Paced,
    the simulator adds its mechanism times (RewriterTimings, mostly assumed)."""
    job = endorsement_back()
    with Tcp300Simulator(baud=BAUD, pace=pace) as sim:
        module = Tcp300Rewriter("rewriter", sim.port, baud=BAUD)
        module.open()

        def cycle() -> None:
            sim.present_card()
            module.insert(timeout_s=10.0)
            module.print_back(job, timeout_s=30.0)
            module.eject(timeout_s=10.0)
            sim.take_card()
            module.wait_taken(timeout_s=5.0)

        try:
            return timed(cycle, rounds, warmup=1)
        finally:
            module.close()


@operation("dispense")
def dispense(pace: bool, rounds: int) -> list[float]:
    """CRT-591: status + dispense to gate + taken (protocol cost; a real move adds ~2 s)."""
    from bench.dispenser_ops import dispense_samples

    return [s * 1000 for s in dispense_samples(pace, rounds, baud=BAUD)]


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(samples),
        "median_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 3),
        "max_ms": round(ordered[-1], 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--paced-rounds", type=int, default=5)
    parser.add_argument("--only", action="append", default=[], help="operation name")
    args = parser.parse_args()
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, run in OPERATIONS.items():
        if args.only and name not in args.only:
            continue
        results[name] = {
            "pace_off": summary(run(False, args.rounds)),
            "pace_on": summary(run(True, args.paced_rounds)),
        }
    print(
        json.dumps(
            {
                "benchmark": "devices",
                "machine": {
                    "python": platform.python_version(),
                    "system": platform.platform(),
                    "cpus": os.cpu_count(),
                },
                "baud": BAUD,
                "target_overhead_ms": 5.0,
                "operations": results,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
