"""The device service: real drivers against their simulators over ptys, availability of
required devices driving the kiosk out of service and back, device events reaching flows."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devices.simulators.escpos import EscPosSimulator
from devices.simulators.sam import SamSimulator
from kiosk.app import KioskApp, Machine
from kiosk.config import KioskConfig, parse_config
from kiosk.core.calls import Failure, call
from kiosk.core.clock import ManualClock
from kiosk.core.engine import Event
from kiosk.core.runner import QueueDispatcher
from kiosk.core.session import Session
from kiosk.machine.devices import DeviceHub, IdCardWorker, PrinterWorker
from kiosk.machine.ports import IDCARD, IDCARD_DATA
from kiosk.machine.receipts import Barcode128, QrCode, Slip, TextLine
from kiosk.terminals.registry import terminal_for
from kiosk.wiring import flow_runner


def photo_config(**devices: Any) -> KioskConfig:
    return parse_config(
        {
            "kiosk": {"id": "DEV-TEST", "terminal": "photo"},
            "devices": {
                "printer": {"driver": "escpos", "simulator": True},
                "camera": {
                    "driver": "opencv",
                    "simulator": True,
                    "source": "sim",
                    "width": 320,
                    "height": 240,
                },
                "idcard": {"driver": "sam", "simulator": True},
                **devices,
            },
        }
    )


class Kiosk:
    def __init__(self, config: KioskConfig) -> None:
        self.dispatcher = QueueDispatcher()
        self.clock = ManualClock()
        runner = flow_runner(config, self.clock, self.clock, self.dispatcher)
        self.events: list[str] = []
        required = terminal_for(config).required_devices
        self.hub = DeviceHub(config, self._event, required=required, poll_s=0.2)
        self.app = KioskApp(config, runner, Machine(self.hub, required_devices=required))
        self.app.start()
        self.hub.start()

    def _event(self, event: Event) -> None:
        self.events.append(event.name)
        self.app.post(event)

    def until(self, condition: Callable[[], bool], within_s: float = 60.0) -> None:
        deadline = time.monotonic() + within_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
            self.dispatcher.drain(wait_s=0.05)

    @property
    def state(self) -> str:
        assert self.app.view is not None
        return self.app.view.state


@pytest.fixture
def kiosk() -> Iterator[Kiosk]:
    k = Kiosk(photo_config())
    yield k
    k.app.stop()
    k.hub.close()


def test_devices_open_through_simulators(kiosk: Kiosk) -> None:
    kiosk.until(lambda: all(s["usable"] for s in kiosk.hub.snapshot().values()))
    assert kiosk.state == "attract"


def test_required_printer_out_of_paper_takes_the_kiosk_out_of_service_and_back(
    kiosk: Kiosk,
) -> None:
    printer_sim: EscPosSimulator = kiosk.hub.simulator("printer")
    kiosk.until(lambda: kiosk.hub.slots["printer"].usable)
    printer_sim.set_paper(out_after=0)
    kiosk.until(lambda: kiosk.state == "out_of_service")
    assert kiosk.app.view is not None
    assert kiosk.app.view.view.values["device"] == "printer"
    printer_sim.set_paper()
    kiosk.until(lambda: kiosk.state == "attract")


def test_optional_idcard_failure_only_alerts_staff(kiosk: Kiosk) -> None:
    alerts: list[str] = []
    kiosk.app.runner.on_alert(lambda a: alerts.append(a.code))
    kiosk.until(lambda: kiosk.hub.slots["idcard"].usable)
    kiosk.hub._set_state(kiosk.hub.slots["idcard"], False, "device lost")
    kiosk.until(lambda: "idcard.fault" in alerts)
    assert kiosk.state == "attract"


def test_card_events_reach_the_app_and_reads_fill_the_session(kiosk: Kiosk) -> None:
    sam: SamSimulator = kiosk.hub.simulator("idcard")
    card = sam.place_card()
    kiosk.until(lambda: "idcard.placed" in kiosk.events)
    session = Session("photo", kiosk.clock.now())
    result = IdCardWorker(kiosk.hub).read(session)
    assert result.card_type == "resident"
    assert card.id_number not in str(result)  # the flow sees a masked summary only
    held = session.get(IDCARD_DATA)
    assert held is not None and held.id_number == card.id_number
    sam.remove_card()
    kiosk.until(lambda: "idcard.removed" in kiosk.events)


def test_print_a_slip(kiosk: Kiosk) -> None:
    printer_sim: EscPosSimulator = kiosk.hub.simulator("printer")
    slip = Slip(
        "出入境数字相片采集回执",
        (
            TextLine("图像号 SZ-FT-P01", bold=True),
            Barcode128("P01202611270001"),
            QrCode("P01202611270001"),
        ),
    )
    PrinterWorker(kiosk.hub).print(slip, None)
    assert any("图像号" in line for line in printer_sim.text_lines())
    assert printer_sim.payloads("qr") == ["P01202611270001"]


def test_a_device_that_works_while_marked_unusable_is_asked_again_at_once(kiosk: Kiosk) -> None:
    """Staff refill the paper and print a test receipt: the printer is back now, not at the
    next status poll."""
    printer = kiosk.hub.slots["printer"]
    kiosk.until(lambda: printer.usable)
    kiosk.hub._set_state(printer, False, "paper_out")  # as the last poll left it
    PrinterWorker(kiosk.hub).print(Slip("test", (TextLine("Printer test"),)), None)
    assert printer.usable and printer.detail != "paper_out"


def test_required_device_not_configured_is_out_of_service() -> None:
    config = parse_config(
        {
            "kiosk": {"id": "DEV-TEST", "terminal": "photo"},
            "devices": {"printer": {"driver": "escpos", "simulator": True}},
        }
    )
    k = Kiosk(config)
    try:
        assert k.state == "out_of_service"
        assert k.app.view is not None and k.app.view.view.values["device"] == "camera"
    finally:
        k.app.stop()
        k.hub.close()


def test_a_failed_device_step_becomes_a_failed_event_with_recovery(kiosk: Kiosk) -> None:
    sam: SamSimulator = kiosk.hub.simulator("idcard")
    sam.place_card()
    sam.fail_next_read()
    failures: list[Event] = []
    flow_handle = kiosk.app.runner.flow.handle

    def spy(event: Event) -> list[Any]:
        if event.name.endswith(".failed"):
            failures.append(event)
        return flow_handle(event)

    kiosk.app.runner.flow.handle = spy  # type: ignore[method-assign]
    kiosk.app.runner._execute(call(IDCARD, lambda reader, s: reader.read(s), "idcard.read"))
    kiosk.until(lambda: bool(failures))
    failure = failures[0].reply
    assert isinstance(failure, Failure) and failure.code == "idcard.sw3.41"
    assert failure.recovery in {"reset", "clear", "none", "suspend", "maintenance"}
