"""The device hub: every configured device on its own worker thread, its availability
tracked (IATA CUSS 'required' devices take the kiosk out of service), its unsolicited events
forwarded to the flows, and the devices the flows use directly offered as typed ports
(``kiosk.machine.ports``).

Drivers are built by name through ``kiosk.machine.devicemap`` (the registry); this module only
uses the device protocols. Threads: one single-thread executor per device owns the driver; a
monitor thread polls status; everything the hub learns reaches the flow thread as an event
through ``post``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar, cast

from devices.base import (
    CancelToken,
    Device,
    DeviceError,
    DeviceEvent,
    DeviceEventKind,
    StatusReport,
)
from devices.camera import Camera, Frame
from devices.chip import ChipReader
from devices.icao.mrz import MrzAccess
from devices.idcard import IdCardReader
from devices.printer import ReceiptPrinter
from kiosk.config import KioskConfig
from kiosk.core.calls import PortKey
from kiosk.core.engine import Event
from kiosk.core.errors import KioskError
from kiosk.core.session import Session, Slot
from kiosk.machine.devicemap import (
    KINDS,
    BuiltDevice,
    build_from_settings,
    driver_settings,
    is_required,
)
from kiosk.machine.ports import (
    CHIP,
    CHIP_DATA,
    DOCUMENT_PHOTO,
    IDCARD,
    IDCARD_DATA,
    PRINTER,
    CardSummary,
    ChipSummary,
    Printed,
)
from kiosk.machine.receipts import Slip
from kiosk.machine.usage import UsageCounters

log = logging.getLogger(__name__)

Post = Callable[[Event], None]  # to the flow thread, from any thread
R = TypeVar("R")

DEVICE_STATE = "device.state"  # data: kind, usable, detail (the app decides what it means)
DEVICE_WARNING = "device.warning"  # data: device, warning (staff should look soon)

FORWARDED = {
    DeviceEventKind.CARD_PLACED: "placed",
    DeviceEventKind.CARD_REMOVED: "removed",
    DeviceEventKind.MEDIA_TAKEN: "taken",
}


@dataclass
class DeviceSlot:
    """One configured device and the worker that owns it."""

    kind: str
    required: bool
    built: BuiltDevice | None = None
    executor: ThreadPoolExecutor = field(init=False)
    usable: bool = False
    detail: str = "not opened"
    unsubscribe: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        self.executor = ThreadPoolExecutor(1, thread_name_prefix=f"dev-{self.kind}")

    @property
    def device(self) -> Device:
        if self.built is None:
            raise KioskError(f"{self.kind} is not available", code=f"{self.kind}.unavailable")
        return self.built.device


class DeviceHub:
    """Opens, watches and closes the configured devices."""

    def __init__(
        self,
        config: KioskConfig,
        post: Post,
        *,
        required: frozenset[str] = frozenset(),
        poll_s: float = 2.0,
        simulator_options: Mapping[str, Mapping[str, object]] | None = None,
    ) -> None:
        self.config = config
        # What the devices used of their consumables (receipt lines, documents dispensed and
        # captured), reported to central with each heartbeat.
        self.usage = UsageCounters()
        self._post = post
        self._poll_s = poll_s
        self._simulator_options = simulator_options or APP_SIMULATOR_OPTIONS
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None
        self.slots: dict[str, DeviceSlot] = {}
        for kind in KINDS:
            section = getattr(config.devices, kind)
            if section is not None:
                self.slots[kind] = DeviceSlot(kind, is_required(required, kind, section))

    # --- life cycle --------------------------------------------------------------------------

    def start(self, *, wait: bool = True) -> None:
        """Build and open every device on its worker; then start the status monitor."""
        futures = [slot.executor.submit(self._open, slot) for slot in self.slots.values()]
        if wait:
            for future in futures:
                future.result()
        self._monitor = threading.Thread(target=self._watch, name="dev-monitor", daemon=True)
        self._monitor.start()

    def close(self) -> None:
        """Stop polling, then close each device on its own worker (after its current work)."""
        self._stop.set()
        if self._monitor is not None:
            self._monitor.join(timeout=5)
        closing = [(slot, slot.executor.submit(self._close, slot)) for slot in self.slots.values()]
        for slot, future in closing:
            try:
                future.result(timeout=self.config.timeouts.device_s)
            except Exception:
                log.exception("%s did not close cleanly", slot.kind)
            slot.executor.shutdown(wait=True, cancel_futures=True)

    def simulator(self, kind: str) -> Any:
        """The simulator behind a device in demo mode (scripted world), or None."""
        slot = self.slots.get(kind)
        return slot.built.simulator if slot and slot.built else None

    def device(self, kind: str) -> Device | None:
        slot = self.slots.get(kind)
        return slot.built.device if slot and slot.built else None

    def _open(self, slot: DeviceSlot) -> None:
        section = getattr(self.config.devices, slot.kind)
        try:
            if slot.built is None:
                slot.built = build_from_settings(
                    slot.kind,
                    section.driver,
                    driver_settings(section),
                    simulate=section.simulator,
                    simulator_options=self._simulator_options.get(slot.kind, {}),
                )
                slot.unsubscribe = slot.built.device.subscribe(self._device_event(slot))
            slot.built.device.open(timeout_s=self.config.timeouts.device_s)
            self._set(slot, slot.built.device.status())
        except DeviceError as exc:
            log.warning("%s did not open: %s (%s)", slot.kind, exc, exc.code)
            self._set_state(slot, False, f"{exc.code}: {exc}")

    @staticmethod
    def _close(slot: DeviceSlot) -> None:
        if slot.unsubscribe is not None:
            slot.unsubscribe()
        if slot.built is not None:
            slot.built.close()

    # --- status ------------------------------------------------------------------------------

    def poll(self) -> None:
        """Ask every device for its status now (on its worker)."""
        for slot in self.slots.values():
            slot.executor.submit(self._poll_one, slot)

    def refresh(self, slot: DeviceSlot) -> None:
        """Ask one device for its status now. On that device's worker only."""
        self._poll_one(slot)

    def _watch(self) -> None:
        while not self._stop.wait(self._poll_s):
            self.poll()

    def _poll_one(self, slot: DeviceSlot) -> None:
        if slot.built is None:
            self._open(slot)
            return
        try:
            self._set(slot, slot.built.device.status())
        except DeviceError as exc:
            self._set_state(slot, False, f"{exc.code}: {exc}")

    def _set(self, slot: DeviceSlot, report: StatusReport) -> None:
        detail = "; ".join(x for x in (report.detail, *report.warnings) if x)
        self._set_state(slot, report.usable, detail or report.status.value)

    def _set_state(self, slot: DeviceSlot, usable: bool, detail: str) -> None:
        changed = usable != slot.usable or (not usable and detail != slot.detail)
        slot.usable, slot.detail = usable, detail
        if changed:
            self._post(Event(DEVICE_STATE, {"kind": slot.kind, "usable": usable, "detail": detail}))

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Status of every device for staff and heartbeats (no personal data)."""
        return {
            kind: {
                "usable": slot.usable,
                "required": slot.required,
                "detail": slot.detail,
                "statistics": slot.built.device.statistics() if slot.built else {},
            }
            for kind, slot in self.slots.items()
        }

    def _device_event(self, slot: DeviceSlot) -> Callable[[DeviceEvent], None]:
        def listener(event: DeviceEvent) -> None:
            if event.kind in (DeviceEventKind.DEVICE_LOST, DeviceEventKind.PAPER_OUT):
                self._set_state(slot, False, event.detail or event.kind.value)
            elif event.kind is DeviceEventKind.DEVICE_BACK:
                slot.executor.submit(self._poll_one, slot)
            name = FORWARDED.get(event.kind)
            if name is not None:
                self._post(Event(f"{slot.kind}.{name}", {"detail": event.detail}))
            elif event.kind in (DeviceEventKind.PAPER_NEAR_END, DeviceEventKind.STACKER_LOW):
                warning = {"device": slot.kind, "warning": event.kind.value}
                self._post(Event(DEVICE_WARNING, warning))

        return listener

    # --- work on a device's worker -----------------------------------------------------------

    def submit(self, kind: str, work: Callable[[Device], Any]) -> Future[Any]:
        slot = self.slots.get(kind)
        if slot is None:
            raise KioskError(f"no {kind} configured", code=f"{kind}.not_configured")
        return slot.executor.submit(lambda: work(slot.device))

    @contextmanager
    def using(self, kind: str) -> Iterator[Device]:
        """On the device's worker only: the driver, for one operation. A failure may mean the
        device is gone (its availability is asked again); a success while marked unusable
        (paper refilled, a cable back) is told at once, not at the next poll."""
        slot = self.slots.get(kind)
        if slot is None:
            raise KioskError(f"no {kind} configured", code=f"{kind}.not_configured")
        try:
            yield slot.device
        except DeviceError:
            self.poll()
            raise
        if not slot.usable:
            self.refresh(slot)

    def run(self, kind: str, work: Callable[[Device], R], *, timeout_s: float) -> R:
        """From another device's worker: ``work`` with this device's driver, on its own
        worker, waited for (the card module's service writes the chip this way, so each
        driver stays on its one thread)."""

        def on_worker(device: Device) -> R:
            with self.using(kind) as same:
                return work(same)

        return cast(R, self.submit(kind, on_worker).result(timeout=timeout_s))

    def latest_frame(self) -> Frame | None:
        """The camera's newest frame (any thread: the driver keeps it behind a lock)."""
        camera = self.device("camera")
        return cast(Camera, camera).latest_frame() if camera is not None else None

    def ports(self) -> Iterator[tuple[PortKey[Any], object, ThreadPoolExecutor]]:
        """The devices the flows call directly, each with its worker: (port, service,
        executor) for every one configured."""
        workers: dict[str, tuple[PortKey[Any], object]] = {
            IDCARD.name: (IDCARD, IdCardWorker(self)),
            CHIP.name: (CHIP, ChipWorker(self)),
            PRINTER.name: (PRINTER, PrinterWorker(self)),
        }
        for kind, (port, worker) in workers.items():
            if kind in self.slots:
                yield port, worker, self.slots[kind].executor


# In the app the simulated world starts empty: the scripted citizen places cards.
APP_SIMULATOR_OPTIONS: Mapping[str, Mapping[str, object]] = {
    "idcard": {"card": ""},
    "dispenser": {"take_after_s": 2.0},
    # The card module at its mechanism's pace (docs/devices.md): the citizen sees each step.
    "rewriter": {"pace": True},
}


class _Worker:
    """A device the flows call, on that device's worker thread."""

    kind = ""

    def __init__(self, hub: DeviceHub) -> None:
        self.hub = hub
        self.cancel = CancelToken()

    @property
    def timeout_s(self) -> float:
        return self.hub.config.timeouts.device_s

    def _run(self, work: Callable[[Device], R]) -> R:
        self.cancel = CancelToken()
        with self.hub.using(self.kind) as device:
            return work(device)


class IdCardWorker(_Worker):
    """``IdCardPort``: the card goes into the session, the flow gets a summary."""

    kind = "idcard"

    def read(self, session: Session | None) -> CardSummary:
        def read(device: Device) -> CardSummary:
            data = cast(IdCardReader, device).read_card(
                timeout_s=self.timeout_s, cancel=self.cancel
            )
            today = date.today()
            if session is not None:
                session.put(IDCARD_DATA, data)
            return CardSummary(
                data.card_type.value, data.masked_id(), data.age_on(today), data.expired_on(today)
            )

        return self._run(read)


class ChipWorker(_Worker):
    """``ChipPort``: BAC with access data the session holds, then passive authentication."""

    kind = "chip"

    def read(self, access: Slot[MrzAccess], session: Session | None) -> ChipSummary:
        held = session.get(access) if session is not None else None
        if held is None:
            raise KioskError("no access data for the chip", code="chip.no_access_data")

        def read(device: Device) -> ChipSummary:
            result = cast(ChipReader, device).read_document(
                held, timeout_s=self.timeout_s, cancel=self.cancel
            )
            if session is not None:
                session.put(CHIP_DATA, result)
                session.put(DOCUMENT_PHOTO, bytes(result.face.data))
            pa = result.passive_auth
            number = result.mrz.document_number[:2] + "***"
            return ChipSummary(pa.result.value, pa.reason_zh, pa.reason_en, number)

        return self._run(read)


class PrinterWorker(_Worker):
    """``PrinterPort``: a slip, session pictures filled in on the worker."""

    kind = "printer"

    def print(self, slip: Slip, session: Session | None) -> Printed:
        receipt = slip.receipt(session)

        def print_(device: Device) -> Printed:
            result = cast(ReceiptPrinter, device).print_receipt(
                receipt, timeout_s=self.timeout_s, cancel=self.cancel
            )
            self.hub.usage.printed(result.lines)
            return Printed(tuple(getattr(result, "warnings", ())))

        return self._run(print_)
