"""Byte-exact ESC/POS sequences and DLE EOT answers from the shared device reference (section 3)."""

from __future__ import annotations

import pytest
from PIL import Image

from devices import escpos
from devices.base import ProtocolError
from devices.printer import (
    Align,
    Barcode128,
    PaperState,
    PrinterStatus,
    QrCode,
    QrErrorLevel,
    Receipt,
    TextLine,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def test_simple_commands() -> None:
    assert h("1B 40") == escpos.INIT
    assert (h("1C 26"), h("1C 2E")) == (escpos.CHINESE_ON, escpos.CHINESE_OFF)
    assert (h("1B 45 01"), h("1B 45 00")) == (escpos.BOLD_ON, escpos.BOLD_OFF)
    assert escpos.size(2, 2) == h("1D 21 11")
    assert escpos.size(1, 1) == h("1D 21 00")
    assert escpos.size(3, 1) == h("1D 21 20")
    assert [escpos.align(a) for a in Align] == [h("1B 61 00"), h("1B 61 01"), h("1B 61 02")]
    assert escpos.feed(3) == h("1B 64 03")
    assert (h("1D 56 00"), h("1D 56 01")) == (escpos.FULL_CUT, escpos.PARTIAL_CUT)
    assert escpos.feed_and_cut(5) == h("1D 56 42 05")
    assert [escpos.status_query(n) for n in (1, 2, 3, 4)] == [
        h("10 04 01"),
        h("10 04 02"),
        h("10 04 03"),
        h("10 04 04"),
    ]


def test_chinese_text_is_gb18030_inside_fs_and() -> None:
    assert escpos.text("ABC") == b"ABC"
    assert escpos.text("中文") == h("1C 26") + "中文".encode("gb18030") + h("1C 2E")
    assert escpos.text("中文") == h("1C 26 D6 D0 CE C4 1C 2E")
    # Beyond the BMP GB18030 uses four bytes; U+10000 is the first, 90 30 81 30.
    assert escpos.text("\U00010000") == h("1C 26 90 30 81 30 1C 2E")


def test_code128() -> None:
    data = escpos.code128(Barcode128("AB12", height=80, module_width=2))
    assert data == h("1D 68 50 1D 77 02 1D 48 02 1D 6B 49 06 7B 42 41 42 31 32")
    braces = escpos.code128(Barcode128("A{", show_text=False))
    assert braces.endswith(h("1D 48 00 1D 6B 49 05 7B 42 41 7B 7B"))


def test_qr_code() -> None:
    data = escpos.qr_code(QrCode("ABC", module_size=6, error_level=QrErrorLevel.Q))
    assert data == (
        h("1D 28 6B 04 00 31 41 32 00")
        + h("1D 28 6B 03 00 31 43 06")
        + h("1D 28 6B 03 00 31 45 32")
        + h("1D 28 6B 06 00 31 50 30 41 42 43")
        + h("1D 28 6B 03 00 31 51 30")
    )


def test_qr_store_length_spans_two_bytes() -> None:
    data = escpos.qr_code(QrCode("x" * 300))
    assert h("1D 28 6B 2F 01 31 50 30") in data  # 300 + 3 = 0x012F


def test_raster_image() -> None:
    image = Image.new("L", (10, 2), 255)
    image.putpixel((0, 0), 0)
    image.putpixel((9, 1), 0)
    assert escpos.raster(image) == h("1D 76 30 00 02 00 02 00") + h("80 00 00 40")


def test_receipt_stream() -> None:
    receipt = Receipt(title="回执", items=(TextLine("OK", bold=True),), feed_before_cut=2)
    data, lines = escpos.encode_receipt(receipt, columns=32)
    assert data == (
        h("1B 40")
        + h("1B 61 01 1B 45 01 1D 21 11")
        + h("1C 26")
        + "回执".encode("gb18030")
        + h("1C 2E 0A")
        + h("1D 21 00 1B 45 00")
        + h("1B 61 00 1B 45 01")
        + b"OK\n"
        + h("1B 45 00")
        + h("1B 61 00 1B 64 02 1D 56 00")
    )
    assert lines == 2 + 1 + 2


def test_wrap_counts_cjk_double() -> None:
    assert list(escpos.wrap("中文中文", 4)) == ["中文", "中文"]
    assert list(escpos.wrap("abcdef", 4)) == ["abcd", "ef"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12 12 12 12", PrinterStatus(raw=h("12 12 12 12"))),
        ("12 12 12 1E", PrinterStatus(paper=PaperState.NEAR_END, raw=h("12 12 12 1E"))),
        (
            "1A 32 12 72",
            PrinterStatus(
                offline=True, stopped_by_paper_end=True, paper=PaperState.OUT, raw=h("1A 32 12 72")
            ),
        ),
        ("1A 16 12 12", PrinterStatus(offline=True, cover_open=True, raw=h("1A 16 12 12"))),
        (
            "1A 52 1A 12",
            PrinterStatus(offline=True, error=True, cutter_error=True, raw=h("1A 52 1A 12")),
        ),
    ],
)
def test_status_answers(raw: str, expected: PrinterStatus) -> None:
    for byte in h(raw):
        assert byte & 0x93 == 0x12
    assert escpos.decode_status(h(raw)) == expected
    assert escpos.encode_status(expected) == h(raw)


def test_status_without_fixed_bits_is_protocol_error() -> None:
    with pytest.raises(ProtocolError) as info:
        escpos.decode_status(h("12 12 00 12"))
    assert info.value.code == "printer.status_garbage"
