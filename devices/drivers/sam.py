"""SAM_V resident ID card reader over a serial port (any pyserial URL).

Read sequence: find (SW3 9F) -> select (90) -> read text + photo (90). Every other SW3 becomes
a device error with the stable code ``idcard.sw3.<hex>`` and its recovery action. A poll
thread sends "find card" every ``poll_s`` (never faster than 300 ms, the SAM's limit) to
publish CARD_PLACED / CARD_REMOVED, and reopens the port on its own after it vanished,
publishing DEVICE_LOST and DEVICE_BACK.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Self

from devices.base import (
    NEVER_CANCELLED,
    CancelToken,
    ConfigurationError,
    Deadline,
    DeviceError,
    DeviceEvent,
    DeviceEventKind,
    DeviceStats,
    DeviceStatus,
    DeviceTimeout,
    DeviceUnavailable,
    EventHub,
    Listener,
    ProtocolError,
    Recovery,
    StatusReport,
)
from devices.drivers.serial_link import SerialLink, setting_float, setting_int, setting_str
from devices.idcard import CardReadError, IdCardData
from devices.idcard_text import parse_text_block
from devices.samv import (
    SW3_MEANINGS,
    Command,
    Frame,
    FrameDecoder,
    Sw3,
    command_frame,
    parse_read_data,
    sw3_code,
)

log = logging.getLogger(__name__)

MIN_POLL_S = 0.3


def sw3_error(sw3: int, command: Command) -> DeviceError:
    """The device error for an unexpected SAM status."""
    meaning = SW3_MEANINGS.get(sw3)
    code = sw3_code(sw3)
    if meaning is None:
        return ProtocolError(f"unknown SAM status {sw3:#04x} to {command.name}", code=code)
    message = f"{meaning.message} (SW3 {sw3:02X} to {command.name})"
    if meaning.card_side:
        return CardReadError(message, code=code, recovery=meaning.recovery)
    if sw3 in (Sw3.CHECKSUM_ERROR, Sw3.LENGTH_ERROR, Sw3.COMMAND_ERROR):
        return ProtocolError(message, code=code, recovery=meaning.recovery)
    return DeviceError(message, code=code, recovery=meaning.recovery)


class SamIdCardReader:
    """Driver for a SAM_V reader. Thread-safe: one lock serialises the port; the poll thread
    skips a round while a read holds it. Events are published on the poll thread."""

    kind = "idcard"

    def __init__(
        self,
        name: str,
        port: str,
        *,
        baud: int = 115_200,
        poll_s: float = 0.5,
        answer_timeout_s: float = 3.0,
        poll: bool = True,
    ) -> None:
        if poll_s < MIN_POLL_S:
            raise ConfigurationError(f"{name}: poll_s must be >= {MIN_POLL_S} s")
        self.name = name
        self._events = EventHub()
        self._link = SerialLink(name, port, baud, self._events)
        self._poll_s = poll_s
        self._answer_timeout_s = answer_timeout_s
        self._poll_enabled = poll
        self._stats = DeviceStats()
        self._decoder = FrameDecoder()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self._card_present: bool | None = None
        self._last_error: DeviceError | None = None
        self._last_empty_find = 0.0
        self.garbage_bytes = 0

    @classmethod
    def from_settings(cls, name: str, settings: Mapping[str, object]) -> Self:
        return cls(
            name,
            setting_str(settings, "port", name),
            baud=setting_int(settings, "baud", name, 115_200, low=1_200, high=921_600),
            poll_s=setting_float(settings, "poll_s", name, 0.5, low=MIN_POLL_S, high=10.0),
            answer_timeout_s=setting_float(settings, "timeout_s", name, 3.0, low=0.1, high=60.0),
        )

    # -- Device -----------------------------------------------------------------------------

    def open(self, *, timeout_s: float = 5.0, cancel: CancelToken = NEVER_CANCELLED) -> None:
        deadline = Deadline(timeout_s)
        self._link.open()
        try:
            frame = self._transact(Command.SAM_STATUS, deadline, cancel)
            if frame.sw3 != Sw3.SUCCESS:
                raise sw3_error(frame.sw3, Command.SAM_STATUS)
        except DeviceError:
            self._link.close()
            raise
        self._last_error = None
        if self._poll_enabled and self._poller is None:
            self._stop.clear()
            self._poller = threading.Thread(
                target=self._poll_loop, name=f"{self.name}-poll", daemon=True
            )
            self._poller.start()

    def close(self) -> None:
        self._stop.set()
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.join(timeout=5.0)
        self._link.close()

    def status(self) -> StatusReport:
        if self._link.lost:
            return StatusReport(DeviceStatus.NO_DEVICE, f"port {self._link.url} lost")
        if not self._link.is_open:
            return StatusReport(DeviceStatus.OFFLINE, "closed")
        if self._last_error is not None and self._last_error.recovery is Recovery.MAINTENANCE:
            return StatusReport(DeviceStatus.HARDWARE_ERROR, self._last_error.code)
        detail = {None: "", True: "card present", False: "no card"}[self._card_present]
        return StatusReport(DeviceStatus.ONLINE, detail)

    def capabilities(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "driver": "sam",
            "port": self._link.url,
            "card_types": [
                "resident",
                "hmt_residence_permit",
                "foreigner_2017",
                "foreigner_2023",
            ],
            "photo": "wlt",
            "poll_s": self._poll_s,
        }

    def statistics(self) -> dict[str, object]:
        return {**self._stats.snapshot(), "garbage_bytes": self.garbage_bytes}

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self._events.subscribe(listener)

    # -- IdCardReader -----------------------------------------------------------------------

    def card_present(
        self, *, timeout_s: float = 2.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> bool:
        return self._find(Deadline(timeout_s), cancel)

    def _find(self, deadline: Deadline, cancel: CancelToken) -> bool:
        """One "find card". After a find that saw no card the next waits out the SAM's 300 ms
        polling limit (the poll thread and a waiting read_card would otherwise interleave
        faster); a card that is present is found again at once."""
        with self._link.lock:
            wait = self._last_empty_find + MIN_POLL_S - time.monotonic()
            if wait > 0:
                if wait >= deadline.remaining():
                    return False  # no card a moment ago, and no time to ask again
                if cancel.wait(wait):
                    cancel.raise_if_cancelled()
            found = self._found(self._transact(Command.FIND_CARD, deadline, cancel))
            self._last_empty_find = 0.0 if found else time.monotonic()
            return found

    def read_card(self, *, timeout_s: float, cancel: CancelToken = NEVER_CANCELLED) -> IdCardData:
        deadline = Deadline(timeout_s)
        try:
            card = self._read_card(deadline, cancel)
        except DeviceError as exc:
            if exc.code != "device.cancelled":
                self._stats.record_failure(exc)
                self._last_error = exc
            raise
        self._stats.record_ok()
        self._last_error = None
        log.info("%s: read %s card %s", self.name, card.card_type.value, card.masked_id())
        return card

    def _read_card(self, deadline: Deadline, cancel: CancelToken) -> IdCardData:
        while True:
            with self._link.lock:
                if self._find(deadline, cancel):
                    return self._select_and_read(deadline, cancel)
            # The SAM must not be polled faster than every 300 ms.
            if deadline.remaining() < MIN_POLL_S:
                raise DeviceTimeout(f"{self.name}: no card placed", code="idcard.no_card")
            if cancel.wait(MIN_POLL_S):
                cancel.raise_if_cancelled()

    def _found(self, frame: Frame) -> bool:
        if frame.sw3 == Sw3.FIND_OK:
            return True
        if frame.sw3 == Sw3.NO_CARD:
            return False
        raise sw3_error(frame.sw3, Command.FIND_CARD)

    def _select_and_read(self, deadline: Deadline, cancel: CancelToken) -> IdCardData:
        frame = self._transact(Command.SELECT_CARD, deadline, cancel)
        if frame.sw3 != Sw3.SUCCESS:
            raise sw3_error(frame.sw3, Command.SELECT_CARD)
        try:
            frame = self._transact(Command.READ_TEXT_PHOTO, deadline, cancel)
        except DeviceTimeout as exc:
            if exc.code == "idcard.answer_incomplete":
                raise CardReadError(
                    f"{self.name}: card answer broke off (card removed during the read?)",
                    code="idcard.read_incomplete",
                ) from exc
            raise
        if frame.sw3 != Sw3.SUCCESS:
            raise sw3_error(frame.sw3, Command.READ_TEXT_PHOTO)
        response = parse_read_data(frame.data)
        return parse_text_block(response.text, response.photo)

    # -- transport --------------------------------------------------------------------------

    def _transact(self, command: Command, deadline: Deadline, cancel: CancelToken) -> Frame:
        """Send one command and return its checked answer frame (any SW3)."""
        answer_deadline = Deadline(min(deadline.remaining(), self._answer_timeout_s))
        with self._link.lock:
            cancel.raise_if_cancelled()
            self._link.open()
            # Stale bytes belong to an earlier, abandoned exchange.
            self._link.discard_input()
            self._decoder.reset()
            self._link.write(command_frame(command))
            frame = self._receive(command, answer_deadline, cancel)
            self._link.mark_back()
            return frame

    def _receive(self, command: Command, deadline: Deadline, cancel: CancelToken) -> Frame:
        decoder = self._decoder
        corrupt: ProtocolError | None = None
        while True:
            before = decoder.discarded
            try:
                frame = decoder.next_frame()
            except ProtocolError as exc:
                log.debug("%s: %s; resynchronising", self.name, exc)
                corrupt = exc
                continue
            finally:
                self.garbage_bytes += decoder.discarded - before
            if frame is not None:
                return frame
            chunk = self._link.read_some(decoder.bytes_wanted(), deadline, cancel)
            if not chunk:
                break
            decoder.feed(chunk)
        if corrupt is not None:
            raise ProtocolError(
                f"{self.name}: only corrupted answers to {command.name}", code=corrupt.code
            ) from corrupt
        if decoder.buffered:
            raise DeviceTimeout(
                f"{self.name}: answer to {command.name} incomplete ({decoder.buffered} bytes)",
                code="idcard.answer_incomplete",
            )
        raise DeviceTimeout(f"{self.name}: no answer to {command.name}", code="idcard.timeout")

    # -- poll thread ------------------------------------------------------------------------

    def _poll_loop(self) -> None:
        """Runs on the poll thread until close()."""
        while not self._stop.wait(self._poll_s):
            if not self._link.lock.acquire(blocking=False):
                continue  # a read is using the SAM; it knows whether a card is there
            try:
                present = self._find(Deadline(1.0), NEVER_CANCELLED)
            except DeviceUnavailable:
                continue  # already published as DEVICE_LOST; retry next round
            except DeviceError as exc:
                log.debug("%s: poll failed: %s", self.name, exc.code)
                continue
            except Exception:  # the poll thread must outlive any surprise
                log.exception("%s: poll failed unexpectedly", self.name)
                continue
            finally:
                self._link.lock.release()
            self._presence(present)

    def _presence(self, present: bool) -> None:
        previous, self._card_present = self._card_present, present
        if previous is None and not present:
            return
        if present != previous:
            kind = DeviceEventKind.CARD_PLACED if present else DeviceEventKind.CARD_REMOVED
            self._events.publish(DeviceEvent(self.name, kind, timestamp=time.monotonic()))
