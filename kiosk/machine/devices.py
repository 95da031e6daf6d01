"""The device service: every configured device on its own worker thread, its availability
tracked (IATA CUSS 'required' devices take the kiosk out of service), its unsolicited events
forwarded to the flows, and its operations offered to the flows as a Service.

Drivers are built by name through ``kiosk.machine.devicemap`` (the registry); this module only uses
the device protocols. Threads: one single-thread executor per device owns the driver; a
monitor thread polls status; results and events reach the flow thread through callbacks that
the app wraps in its dispatcher.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from PIL import Image

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
from devices.dispenser import CardDispenser
from devices.icao.mrz import MrzAccess, access_from_lines
from devices.idcard import IdCardReader
from devices.printer import (
    Align,
    Barcode128,
    Feed,
    QrCode,
    RasterImage,
    Receipt,
    ReceiptItem,
    ReceiptPrinter,
    TextLine,
)
from kiosk.config import KioskConfig
from kiosk.core.errors import KioskError
from kiosk.core.session import Session
from kiosk.machine.devicemap import (
    KINDS,
    BuiltDevice,
    build_from_settings,
    driver_settings,
    is_required,
)

log = logging.getLogger(__name__)

EventSink = Callable[[str, dict[str, Any]], None]  # (event name, data), any thread
AvailabilitySink = Callable[[str, bool, str], None]  # (kind, usable, detail), any thread

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
        on_event: EventSink,
        on_availability: AvailabilitySink,
        *,
        poll_s: float = 2.0,
    ) -> None:
        self.config = config
        self._on_event = on_event
        self._on_availability = on_availability
        self._poll_s = poll_s
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None
        self.slots: dict[str, DeviceSlot] = {}
        for kind in KINDS:
            section = getattr(config.devices, kind)
            if section is not None:
                self.slots[kind] = DeviceSlot(
                    kind, is_required(config.kiosk.terminal, kind, section)
                )

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
                    simulator_options=_sim_options(slot.kind),
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
            self._on_availability(slot.kind, usable, detail)

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
                self._on_event(f"{slot.kind}.{name}", {"detail": event.detail})
            elif event.kind in (DeviceEventKind.PAPER_NEAR_END, DeviceEventKind.STACKER_LOW):
                self._on_event("device.warning", {"device": slot.kind, "warning": event.kind.value})

        return listener

    # --- operations --------------------------------------------------------------------------

    def service(self, kind: str) -> DeviceService:
        return DeviceService(self, kind)

    def submit(self, kind: str, work: Callable[[Device], Any]) -> Future[Any]:
        slot = self.slots.get(kind)
        if slot is None:
            raise KioskError(f"no {kind} configured", code=f"{kind}.not_configured")
        return slot.executor.submit(lambda: work(slot.device))

    def latest_frame(self) -> Frame | None:
        """The camera's newest frame (any thread: the driver keeps it behind a lock)."""
        camera = self.device("camera")
        return cast(Camera, camera).latest_frame() if camera is not None else None


# In the app the simulated world starts empty: the scripted citizen places cards.
APP_SIMULATOR_OPTIONS: Mapping[str, Mapping[str, object]] = {
    "idcard": {"card": ""},
    "dispenser": {"take_after_s": 2.0},
}


def _sim_options(kind: str) -> Mapping[str, object]:
    return APP_SIMULATOR_OPTIONS.get(kind, {})


class DeviceService:
    """The flows' view of one device: named operations, run on the device's worker.

    Personal data read from a card goes into the session; the result the flow sees is a
    summary without it.
    """

    def __init__(self, hub: DeviceHub, kind: str) -> None:
        self.hub = hub
        self.kind = kind
        self.cancel = CancelToken()

    def execute(
        self, operation: str, args: Mapping[str, Any], session: Session | None
    ) -> Mapping[str, Any]:
        handler = getattr(self, f"_{self.kind}_{operation}", None)
        if handler is None:
            raise KioskError(f"{self.kind} has no operation {operation}", code="service.operation")
        slot = self.hub.slots.get(self.kind)
        if slot is None:
            raise KioskError(f"no {self.kind} configured", code=f"{self.kind}.not_configured")
        self.cancel = CancelToken()
        try:
            result = cast(Mapping[str, Any], handler(slot.device, dict(args), session))
        except DeviceError:
            self.hub.poll()  # a failure may mean the device is gone: refresh availability
            raise
        if not slot.usable:
            # It just worked while marked unusable (paper refilled, a cable back): ask it now
            # rather than at the next poll, so that staff and the flow see it at once.
            self.hub.refresh(slot)
        return result

    @property
    def timeout_s(self) -> float:
        return self.hub.config.timeouts.device_s

    # idcard --------------------------------------------------------------------------------

    def _idcard_read(
        self, device: Device, args: dict[str, Any], session: Session | None
    ) -> dict[str, Any]:
        data = cast(IdCardReader, device).read_card(timeout_s=self.timeout_s, cancel=self.cancel)
        today = date.today()
        if session is not None:
            session.put("idcard", data)
        return {
            "card_type": data.card_type.value,
            "masked_id": data.masked_id(),
            "age": data.age_on(today),
            "expired": data.expired_on(today),
        }

    # chip ----------------------------------------------------------------------------------

    def _chip_read(
        self, device: Device, args: dict[str, Any], session: Session | None
    ) -> dict[str, Any]:
        access = _chip_access(args, session)
        result = cast(ChipReader, device).read_document(
            access, timeout_s=self.timeout_s, cancel=self.cancel
        )
        if session is not None:
            session.put("chip", result)
        return {
            "passive_auth": result.passive_auth.result.value,
            "reason": {"zh": result.passive_auth.reason_zh, "en": result.passive_auth.reason_en},
            "document_number_masked": result.mrz.document_number[:2] + "***",
        }

    # printer -------------------------------------------------------------------------------

    def _printer_print(
        self, device: Device, args: dict[str, Any], session: Session | None
    ) -> dict[str, Any]:
        receipt = receipt_from(args["receipt"], session)
        result = cast(ReceiptPrinter, device).print_receipt(
            receipt, timeout_s=self.timeout_s, cancel=self.cancel
        )
        return {"printed": True, "warnings": list(getattr(result, "warnings", ()))}

    def _printer_status(
        self, device: Device, args: dict[str, Any], session: Session | None
    ) -> dict[str, Any]:
        status = cast(ReceiptPrinter, device).printer_status()
        return {"can_print": status.can_print, "paper": status.paper.value}

    # dispenser -----------------------------------------------------------------------------

    def _dispenser_dispense(
        self, device: Device, args: dict[str, Any], session: Session | None
    ) -> dict[str, Any]:
        cast(CardDispenser, device).dispense_to_gate(timeout_s=self.timeout_s, cancel=self.cancel)
        return {"at_gate": True}

    def _dispenser_wait_taken(
        self, device: Device, args: dict[str, Any], session: Session | None
    ) -> dict[str, Any]:
        dispenser = cast(CardDispenser, device)
        seconds = float(args.get("timeout_s", dispenser.take_timeout_s))
        return {"taken": dispenser.wait_taken(timeout_s=seconds, cancel=self.cancel)}

    def _dispenser_capture(
        self, device: Device, args: dict[str, Any], session: Session | None
    ) -> dict[str, Any]:
        cast(CardDispenser, device).capture_to_bin(timeout_s=self.timeout_s, cancel=self.cancel)
        return {"captured": True}


def _chip_access(args: Mapping[str, Any], session: Session | None) -> MrzAccess:
    """BAC access data: scanned MRZ lines, or (``access_session_key``) the permit on record
    that a central look-up put into the session, so the flow never holds it."""
    if "mrz" in args:
        return access_from_lines(list(args["mrz"]))
    held = session.get(str(args.get("access_session_key", ""))) if session else None
    if held is None:
        raise KioskError("no access data for the chip", code="chip.no_access_data")
    return MrzAccess(held.document_number, held.birth_date, held.expiry_date)


def receipt_from(spec: Mapping[str, Any], session: Session | None) -> Receipt:
    """A printer receipt from the flow's description (plain data, so flows stay device-free).

    Items: {"text": str, "bold", "large", "align"}, {"qr": str}, {"code128": str},
    {"image_session_key": str} (a JPEG/PNG held in the session), {"feed": n}.
    """
    items: list[ReceiptItem] = []
    for item in spec.get("items", []):
        align = Align[str(item.get("align", "left")).upper()]
        if "text" in item:
            items.append(
                TextLine(
                    str(item["text"]),
                    bold=bool(item.get("bold")),
                    large=bool(item.get("large")),
                    align=align,
                )
            )
        elif "qr" in item:
            items.append(QrCode(str(item["qr"])))
        elif "code128" in item:
            items.append(Barcode128(str(item["code128"])))
        elif "image_session_key" in item and session is not None:
            raw = session.get(str(item["image_session_key"]))
            if raw is not None:
                image = Image.open(io.BytesIO(bytes(raw))).convert("L")
                image.thumbnail((int(item.get("width", 240)), 10_000))
                items.append(RasterImage(image))
        elif "feed" in item:
            items.append(Feed(int(item["feed"])))
    return Receipt(title=str(spec.get("title", "")), items=tuple(items))
