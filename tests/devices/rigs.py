"""Rigs pairing a driver with its simulator over a real pty, behind one scripting surface
per device kind, so the contract suites run unchanged against every driver of a kind
(add a rig to ``IDCARD_RIGS`` / ``PRINTER_RIGS``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from devices.base import DeviceEvent, DeviceEventKind
from devices.drivers.escpos import EscPosPrinter
from devices.drivers.sam import SamIdCardReader
from devices.idcard import IdCardData
from devices.simulators.escpos import EscPosSimulator
from devices.simulators.sam import SamSimulator


def wait_until(predicate: Callable[[], bool], timeout_s: float = 60.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@dataclass
class Events:
    received: list[DeviceEvent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: DeviceEvent) -> None:
        with self.lock:
            self.received.append(event)

    def kinds(self) -> list[DeviceEventKind]:
        with self.lock:
            return [e.kind for e in self.received]

    def wait_for(self, kind: DeviceEventKind, timeout_s: float = 60.0) -> bool:
        return wait_until(lambda: kind in self.kinds(), timeout_s)


class SamRig:
    """SamIdCardReader <-> SamSimulator."""

    name = "sam"

    def __init__(self, sim: SamSimulator, driver: SamIdCardReader) -> None:
        self.sim, self.driver = sim, driver

    def place(self, card: IdCardData) -> None:
        self.sim.place_card(card)

    def remove(self) -> None:
        self.sim.remove_card()

    def fail_next_read(self) -> None:
        self.sim.fail_next_read()

    def remove_during_read(self) -> None:
        self.sim.remove_card_during_read()

    def garbage(self) -> None:
        self.sim.inject_garbage(b"\xaa\xaa\xaa\x96\x69\x00\x20\x13\x37" + bytes(range(40)))

    def slow(self, seconds: float) -> None:
        self.sim.reply_delay_s = seconds

    def disconnect(self) -> None:
        self.sim.disconnect()

    def reconnect(self) -> None:
        self.sim.reconnect()


@contextmanager
def sam_rig() -> Iterator[SamRig]:
    with SamSimulator() as sim:
        driver = SamIdCardReader("idcard", sim.port, poll_s=0.3, answer_timeout_s=1.0)
        try:
            yield SamRig(sim, driver)
        finally:
            driver.close()


class EscPosRig:
    """EscPosPrinter <-> EscPosSimulator."""

    name = "escpos"

    def __init__(self, sim: EscPosSimulator, driver: EscPosPrinter) -> None:
        self.sim, self.driver = sim, driver

    def paper(self, *, near_end_after: int | None = None, out_after: int | None = None) -> None:
        self.sim.set_paper(near_end_after=near_end_after, out_after=out_after)

    def cover(self, open_: bool) -> None:
        self.sim.set_cover(open_)

    def fail_next_cut(self) -> None:
        self.sim.fail_next_cut()

    def garbage(self) -> None:
        self.sim.inject_garbage(b"\x00\xff\x55")

    def slow(self, seconds: float) -> None:
        self.sim.reply_delay_s = seconds

    def text_lines(self) -> list[str]:
        return self.sim.text_lines()

    def payloads(self, kind: str) -> list[str]:
        return self.sim.payloads(kind)

    def cuts(self) -> int:
        return sum(1 for item in self.sim.printed if item.kind == "cut")

    def disconnect(self) -> None:
        self.sim.disconnect()

    def reconnect(self) -> None:
        self.sim.reconnect()


@contextmanager
def escpos_rig(transport: str = "pty") -> Iterator[EscPosRig]:
    with EscPosSimulator(transport=transport) as sim:
        driver = EscPosPrinter("printer", sim.port, status_timeout_s=0.3)
        try:
            yield EscPosRig(sim, driver)
        finally:
            driver.close()


@contextmanager
def escpos_tcp_rig() -> Iterator[EscPosRig]:
    """The same printer driver on a network printer (socket:// URL, port 9100 style)."""
    with escpos_rig("tcp") as rig:
        yield rig


IDCARD_RIGS = {"sam": sam_rig}
PRINTER_RIGS = {"escpos": escpos_rig, "escpos-tcp": escpos_tcp_rig}
