"""Probe a receipt printer: status, a test receipt with every element, status again."""

from __future__ import annotations

import argparse
import datetime as dt

from devices.base import ConfigurationError
from devices.printer import Barcode128, Feed, QrCode, Receipt, ReceiptPrinter, TextLine


def test_receipt(now: dt.datetime) -> Receipt:
    return Receipt(
        title="打印测试 Printer test",
        items=(
            TextLine(now.strftime("%Y-%m-%d %H:%M:%S")),
            TextLine("中文 GB18030 文字：出入境自助服务"),
            TextLine("Bold", bold=True),
            TextLine("Large", large=True),
            Feed(1),
            QrCode("https://example.invalid/probe"),
            Barcode128("PROBE-0001"),
        ),
    )


def probe(device: object, args: argparse.Namespace) -> dict[str, object]:
    if not isinstance(device, ReceiptPrinter):
        raise ConfigurationError(f"{type(device).__name__} is not a receipt printer")
    before = device.printer_status(timeout_s=args.timeout)
    result = device.print_receipt(test_receipt(dt.datetime.now()), timeout_s=args.timeout)
    after = device.printer_status(timeout_s=args.timeout)
    return {
        "status_before": before.to_json(),
        "status_after": after.to_json(),
        "bytes_sent": result.bytes_sent,
        "lines": result.lines,
        "duration_ms": round(result.duration_s * 1000, 2),
        "warnings": list(result.warnings),
    }
