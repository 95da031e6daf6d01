"""ESC/POS receipt printer over any pyserial URL (device path, ``socket://host:port``...).

Before and after every job the driver asks DLE EOT 1..4 (real-time status, answered even
while the printer is busy) and reads exactly one byte per query. It refuses to start on
paper out / cover open / cutter error, reports paper near end (status detail and a
PAPER_NEAR_END event), and when the status after the job shows a failure it raises an error
saying the receipt may be incomplete. Encoding lives in ``devices.escpos`` (why not
python-escpos: see there).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Self

from devices import escpos
from devices.base import (
    NEVER_CANCELLED,
    CancelToken,
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
    MediaError,
    ProtocolError,
    Recovery,
    StatusReport,
)
from devices.drivers.serial_link import SerialLink, setting_float, setting_int, setting_str
from devices.printer import PaperState, PrinterStatus, PrintResult, Receipt

log = logging.getLogger(__name__)

_STATUS_QUERIES = b"".join(escpos.status_query(n) for n in (1, 2, 3, 4))
_WRITE_CHUNK = 1024  # bytes per write, so a long job still looks at its cancel token


def _problem_error(status: PrinterStatus, *, after_job: bool) -> DeviceError | None:
    """The error ``status`` stands for, or None when the printer can print."""
    tail = "; the receipt may be incomplete" if after_job else ""
    suffix = "_mid_job" if after_job else ""
    if status.paper is PaperState.OUT:
        return MediaError(f"printer: paper out{tail}", code=f"printer.paper_out{suffix}")
    if status.cover_open:
        return MediaError(f"printer: cover open{tail}", code=f"printer.cover_open{suffix}")
    if status.cutter_error:
        return DeviceError(
            f"printer: autocutter error{tail}",
            code="printer.cutter_error",
            recovery=Recovery.MAINTENANCE,
        )
    if status.unrecoverable_error:
        return DeviceError(
            f"printer: unrecoverable error{tail}",
            code="printer.unrecoverable",
            recovery=Recovery.MAINTENANCE,
        )
    if status.offline or status.error or status.auto_recoverable_error:
        return DeviceError(
            f"printer: offline ({', '.join(status.problems()) or 'no cause given'}){tail}",
            code="printer.offline",
            recovery=Recovery.SUSPEND,
        )
    return None


class EscPosPrinter:
    """Driver for an ESC/POS printer. Thread-safe: one lock serialises the port."""

    kind = "printer"

    def __init__(
        self,
        name: str,
        port: str,
        *,
        baud: int = 115_200,
        columns: int = 48,
        status_timeout_s: float = 0.5,
    ) -> None:
        self.name = name
        self._events = EventHub()
        self._link = SerialLink(name, port, baud, self._events)
        self.columns = columns
        self._status_timeout_s = status_timeout_s
        self._stats = DeviceStats()
        self._last: PrinterStatus | None = None
        self._near_end_reported = False
        self._opened = False

    @classmethod
    def from_settings(cls, name: str, settings: Mapping[str, object]) -> Self:
        return cls(
            name,
            setting_str(settings, "port", name),
            baud=setting_int(settings, "baud", name, 115_200, low=1_200, high=921_600),
            columns=setting_int(settings, "columns", name, 48, low=16, high=80),
            status_timeout_s=setting_float(settings, "timeout_s", name, 0.5, low=0.05, high=10.0),
        )

    # -- Device -----------------------------------------------------------------------------

    def open(self, *, timeout_s: float = 5.0, cancel: CancelToken = NEVER_CANCELLED) -> None:
        self._link.open()
        try:
            self.printer_status(timeout_s=timeout_s, cancel=cancel)
        except DeviceError:
            self._link.close()
            raise
        self._opened = True

    def close(self) -> None:
        self._opened = False
        self._link.close()

    def status(self) -> StatusReport:
        """Asks the printer (so a printer that came back is reopened and reported online)."""
        if not self._opened:
            return StatusReport(DeviceStatus.OFFLINE, "closed")
        try:
            return self.printer_status(timeout_s=1.0).report()
        except DeviceUnavailable as exc:
            return StatusReport(DeviceStatus.NO_DEVICE, exc.code)
        except DeviceTimeout as exc:
            return StatusReport(DeviceStatus.OFFLINE, exc.code)
        except DeviceError as exc:
            return StatusReport(DeviceStatus.HARDWARE_ERROR, exc.code)

    def capabilities(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "driver": "escpos",
            "port": self._link.url,
            "columns": self.columns,
            "chinese": "gb18030",
            "qr": True,
            "code128": True,
            "raster": True,
            "cutter": True,
        }

    def statistics(self) -> dict[str, object]:
        return self._stats.snapshot()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self._events.subscribe(listener)

    # -- ReceiptPrinter ---------------------------------------------------------------------

    def printer_status(
        self, *, timeout_s: float = 2.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> PrinterStatus:
        with self._link.lock:
            status = self._query_status(Deadline(timeout_s), cancel)
        self._note(status)
        return status

    def print_receipt(
        self, receipt: Receipt, *, timeout_s: float, cancel: CancelToken = NEVER_CANCELLED
    ) -> PrintResult:
        started = time.monotonic()
        deadline = Deadline(timeout_s)
        try:
            data, lines = escpos.encode_receipt(receipt, self.columns)
        except ValueError as exc:
            raise DeviceError(
                f"{self.name}: receipt cannot be encoded: {exc}",
                code="printer.bad_receipt",
                recovery=Recovery.NONE,
            ) from exc
        try:
            with self._link.lock:
                before = self._query_status(deadline, cancel)
                self._note(before)
                refusal = _problem_error(before, after_job=False)
                if refusal is not None:
                    raise refusal
                self._send_job(data, deadline, cancel)
                after = self._query_status(deadline, cancel)
            self._note(after)
            failure = _problem_error(after, after_job=True)
            if failure is not None:
                raise failure
        except DeviceError as exc:
            if exc.code != "device.cancelled":
                self._stats.record_failure(exc)
            raise
        self._stats.record_ok()
        warnings = ("paper near end",) if after.paper is PaperState.NEAR_END else ()
        return PrintResult(
            bytes_sent=len(data),
            lines=lines,
            status_before=before,
            status_after=after,
            duration_s=time.monotonic() - started,
            warnings=warnings,
        )

    def _send_job(self, data: bytes, deadline: Deadline, cancel: CancelToken) -> None:
        for start in range(0, len(data), _WRITE_CHUNK):
            cancel.raise_if_cancelled()
            if deadline.expired:
                raise DeviceError(
                    f"{self.name}: print timed out; the receipt may be incomplete",
                    code="printer.timeout_mid_job",
                    recovery=Recovery.RESET,
                )
            try:
                self._link.write(data[start : start + _WRITE_CHUNK])
            except DeviceUnavailable as exc:
                raise DeviceUnavailable(
                    f"{self.name}: connection lost; the receipt may be incomplete",
                    code="printer.lost_mid_job",
                ) from exc

    # -- status -----------------------------------------------------------------------------

    def _query_status(self, deadline: Deadline, cancel: CancelToken) -> PrinterStatus:
        """DLE EOT 1..4, one byte each. A byte without the fixed bits, or bytes beyond the
        four answers, mean something else was on the line: drop the input and ask again
        (once)."""
        self._link.open()
        for attempt in (1, 2):
            self._link.discard_input()
            self._link.write(_STATUS_QUERIES)
            answer = bytearray()
            for n in (1, 2, 3, 4):
                query_deadline = Deadline(min(deadline.remaining(), self._status_timeout_s))
                answer += self._link.read_exact(1, query_deadline, cancel, f"DLE EOT {n}")
            try:
                status = escpos.decode_status(bytes(answer))
                if self._link.pending():
                    # Four answers were asked for; anything more means noise came first
                    # and these four bytes may be it, even if they look like status.
                    raise ProtocolError(
                        "extra bytes after the status answers", code="printer.status_garbage"
                    )
            except ProtocolError:
                if attempt == 2:
                    raise
                log.debug("%s: status garbage %s; asking again", self.name, answer.hex(" "))
                cancel.wait(0.02)  # let the rest of the noise arrive, so it is discarded too
                continue
            self._link.mark_back()
            return status
        raise AssertionError("unreachable")

    def _note(self, status: PrinterStatus) -> None:
        previous, self._last = self._last, status
        if status.paper is PaperState.NEAR_END and not self._near_end_reported:
            self._near_end_reported = True
            self._events.publish(DeviceEvent(self.name, DeviceEventKind.PAPER_NEAR_END))
        elif status.paper is PaperState.OK:
            self._near_end_reported = False
        if status.paper is PaperState.OUT and (
            previous is None or previous.paper is not PaperState.OUT
        ):
            self._events.publish(DeviceEvent(self.name, DeviceEventKind.PAPER_OUT))
