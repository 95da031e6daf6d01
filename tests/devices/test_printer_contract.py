"""ReceiptPrinter contract and fault scenarios, against every driver through its simulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PIL import Image, ImageDraw

from devices.base import (
    Device,
    DeviceError,
    DeviceEventKind,
    DeviceStatus,
    DeviceUnavailable,
    MediaError,
    Recovery,
)
from devices.printer import (
    Align,
    Barcode128,
    PaperState,
    QrCode,
    RasterImage,
    Receipt,
    ReceiptPrinter,
    TextLine,
)
from tests.devices.rigs import PRINTER_RIGS, EscPosRig, Events


@pytest.fixture(params=sorted(PRINTER_RIGS))
def rig(request: pytest.FixtureRequest) -> Iterator[EscPosRig]:
    with PRINTER_RIGS[request.param]() as rig:
        rig.driver.open(timeout_s=2.0)
        yield rig


def receipt(lines: int = 3) -> Receipt:
    return Receipt(
        title="出入境回执",
        items=tuple(TextLine(f"第{i}行 line {i}") for i in range(lines)),
    )


def test_driver_implements_protocols(rig: EscPosRig) -> None:
    assert isinstance(rig.driver, ReceiptPrinter)
    assert isinstance(rig.driver, Device)
    assert rig.driver.status().status is DeviceStatus.ONLINE


def test_prints_every_element(rig: EscPosRig) -> None:
    logo = Image.new("L", (64, 48), 255)
    ImageDraw.Draw(logo).rectangle((8, 8, 40, 40), fill=0)
    ticket = Receipt(
        title="自助续签回执",
        items=(
            TextLine("姓名 NAME: 陈美玲", bold=True),
            TextLine("签注 Endorsement: 香港 一次", align=Align.RIGHT),
            TextLine("大字", large=True),
            QrCode("https://example.invalid/r/42"),
            Barcode128("SZ-FT-R01-000042"),
            RasterImage(logo),
        ),
    )
    result = rig.driver.print_receipt(ticket, timeout_s=5.0)
    assert rig.text_lines() == [
        "自助续签回执",
        "姓名 NAME: 陈美玲",
        "签注 Endorsement: 香港 一次",
        "大字",
    ]
    assert rig.payloads("qr") == ["https://example.invalid/r/42"]
    assert rig.payloads("code128") == ["SZ-FT-R01-000042"]
    images = [i for i in rig.sim.printed if i.kind == "image"]
    assert [(i.width, i.height) for i in images] == [(64, 48)]
    assert rig.cuts() == 1
    assert result.status_before.can_print and result.status_after.can_print
    assert rig.driver.statistics()["operations"] == 1


def test_long_lines_wrap_to_columns(rig: EscPosRig) -> None:
    rig.driver.print_receipt(Receipt(title="T", items=(TextLine("中" * 30),)), timeout_s=5.0)
    columns = rig.driver.capabilities()["columns"]
    assert isinstance(columns, int)
    assert rig.text_lines()[1:] == ["中" * (columns // 2), "中" * (30 - columns // 2)]


def test_refuses_to_start_on_paper_out(rig: EscPosRig) -> None:
    rig.paper(out_after=0)
    with pytest.raises(MediaError) as info:
        rig.driver.print_receipt(receipt(), timeout_s=5.0)
    assert info.value.code == "printer.paper_out"
    assert info.value.recovery is Recovery.CLEAR
    assert rig.text_lines() == []
    assert rig.driver.status().status is DeviceStatus.USER_ERROR


def test_refuses_to_start_with_cover_open(rig: EscPosRig) -> None:
    rig.cover(True)
    with pytest.raises(MediaError) as info:
        rig.driver.print_receipt(receipt(), timeout_s=5.0)
    assert info.value.code == "printer.cover_open"
    rig.cover(False)
    rig.driver.print_receipt(receipt(), timeout_s=5.0)
    assert rig.cuts() == 1


def test_paper_out_mid_job_is_detected(rig: EscPosRig) -> None:
    events = Events()
    rig.driver.subscribe(events)
    rig.paper(out_after=5)
    with pytest.raises(MediaError) as info:
        rig.driver.print_receipt(receipt(lines=20), timeout_s=5.0)
    assert info.value.code == "printer.paper_out_mid_job"
    assert "incomplete" in str(info.value)
    assert len(rig.text_lines()) < 20 and rig.cuts() == 0
    assert events.wait_for(DeviceEventKind.PAPER_OUT)
    assert rig.driver.statistics()["failures"] == 1


def test_paper_near_end_is_reported_but_prints(rig: EscPosRig) -> None:
    events = Events()
    rig.driver.subscribe(events)
    rig.paper(near_end_after=2)
    result = rig.driver.print_receipt(receipt(lines=5), timeout_s=5.0)
    assert result.status_after.paper is PaperState.NEAR_END
    assert result.warnings == ("paper near end",)
    assert events.wait_for(DeviceEventKind.PAPER_NEAR_END)
    report = rig.driver.status()
    assert report.status is DeviceStatus.ONLINE and "near end" in report.detail
    rig.driver.print_receipt(receipt(), timeout_s=5.0)
    assert events.kinds().count(DeviceEventKind.PAPER_NEAR_END) == 1  # once per low-paper spell


def test_cutter_error_after_job(rig: EscPosRig) -> None:
    rig.fail_next_cut()
    with pytest.raises(DeviceError) as info:
        rig.driver.print_receipt(receipt(), timeout_s=5.0)
    assert info.value.code == "printer.cutter_error"
    assert info.value.recovery is Recovery.MAINTENANCE
    assert "incomplete" in str(info.value)
    assert rig.driver.status().status is DeviceStatus.HARDWARE_ERROR


def test_garbage_on_the_line_is_survived(rig: EscPosRig) -> None:
    rig.garbage()
    result = rig.driver.print_receipt(receipt(), timeout_s=5.0)
    assert result.status_before.can_print
    assert rig.cuts() == 1


def test_silent_printer_times_out(rig: EscPosRig) -> None:
    rig.slow(1.0)
    with pytest.raises(DeviceError) as info:
        rig.driver.printer_status(timeout_s=2.0)
    assert info.value.code == "printer.timeout"


def test_disconnect_and_return(rig: EscPosRig) -> None:
    events = Events()
    rig.driver.subscribe(events)
    rig.disconnect()
    with pytest.raises(DeviceUnavailable):
        rig.driver.print_receipt(receipt(), timeout_s=2.0)
    assert events.wait_for(DeviceEventKind.DEVICE_LOST)
    assert rig.driver.status().status is DeviceStatus.NO_DEVICE
    rig.reconnect()
    assert rig.driver.status().status is DeviceStatus.ONLINE  # status() reopens the port
    assert events.wait_for(DeviceEventKind.DEVICE_BACK)
    rig.driver.print_receipt(receipt(), timeout_s=2.0)
    assert rig.cuts() == 1


def test_silent_printer_reports_offline(rig: EscPosRig) -> None:
    rig.slow(1.5)
    assert rig.driver.status().status is DeviceStatus.OFFLINE


def test_closed_driver_reports_offline(rig: EscPosRig) -> None:
    rig.driver.close()
    assert rig.driver.status().status is DeviceStatus.OFFLINE
    rig.driver.open(timeout_s=1.0)
    assert rig.driver.status().status is DeviceStatus.ONLINE
