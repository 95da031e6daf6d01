"""Driver for a card transport with a rewritable-film printer speaking the Star Micronics
TCP300II command set (devices/tcp300.py) over a serial line (implements
devices.rewriter.CardRewriter).

Every operation is one or more exchanges: command block, ACK within ``ack_timeout_s`` (the
manual allows up to 3 s; NAK or silence: sent again, at most MAX_RESENDS times; DLE:
rejected), then the reply block when the module is done (moves and prints take seconds),
acknowledged by the host (NAK asks for a corrupt reply again). A command that waits for the
citizen's card is cancelled with 54h (insertion wait cancel) when the deadline passes or
the cancel token fires. After each operation the sensor status (59h) is read, so every
result carries the card's place.

ASSUMED, where the manual excerpts we could read say nothing (docs/devices.md):
- the front-idle command code 53h;
- discharge method '2' of 50h (to the back side, i.e. the capture bin), as 46h has on TCP300;
- the meaning of sensors 2-4 (front position, heads, rear position over the chip antenna);
- status codes 46h (print head) and 47h (film) on top of the published list;
- the data-length field of 4Dh counts bytes per column;
- the baud rate (set on the module with 90h; 115200 here).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Self, TypeVar

from devices import tcp300 as wire
from devices.base import (
    NEVER_CANCELLED,
    CancelToken,
    ConfigurationError,
    Deadline,
    DeviceCancelled,
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
)
from devices.drivers.serial_link import SerialLink, setting_float, setting_int, setting_str
from devices.rewriter import (
    PRINT_HEIGHT,
    PRINT_WIDTH,
    BackPrint,
    CardPlace,
    HoldPosition,
    RewriterFault,
    RewriterResult,
    RewriterStatus,
    fault_error,
)

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_KNOWN_KEYS = frozenset({"port", "baud", "ack_timeout_s", "take_timeout_s", "pace"})
_HOLD = {HoldPosition.CHIP: wire.Command.REAR_IDLE, HoldPosition.FRONT: wire.Command.FRONT_IDLE}


class Tcp300Rewriter:
    """TCP300II-compatible card rewriter on a serial port or ``socket://`` URL."""

    MODEL = "TCP300II"
    MAX_RESENDS = 3
    POLL_S = 0.1  # between status reads while waiting for the card to be taken

    def __init__(
        self,
        name: str,
        port: str,
        *,
        baud: int = 115_200,
        ack_timeout_s: float = 3.0,
        take_timeout_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._events = EventHub()
        self._link = SerialLink(name, port, baud, self._events)
        self._ack_timeout_s = ack_timeout_s
        self._take_timeout_s = take_timeout_s
        self._clock = clock
        self._stats = DeviceStats()
        self._lock = threading.RLock()
        self._wanted_open = False
        self._firmware = ""
        self._last_place: CardPlace | None = None
        self._counts = {"frames_sent": 0, "bytes_sent": 0, "resends": 0, "naks_received": 0}
        self._counts.update(ack_timeouts=0, corrupt_replies=0, cancelled_waits=0)

    @classmethod
    def from_settings(cls, name: str, settings: Mapping[str, object]) -> Self:
        unknown = set(settings) - _KNOWN_KEYS
        if unknown:
            raise ConfigurationError(f"{name}: unknown settings {', '.join(sorted(unknown))}")
        return cls(
            name,
            setting_str(settings, "port", name),
            baud=setting_int(settings, "baud", name, 115_200, low=1_200, high=921_600),
            ack_timeout_s=setting_float(settings, "ack_timeout_s", name, 3.0, low=0.05, high=10.0),
            take_timeout_s=setting_float(
                settings, "take_timeout_s", name, 30.0, low=1.0, high=600.0
            ),
        )

    # --- Device -------------------------------------------------------------------------------

    @property
    def take_timeout_s(self) -> float:
        return self._take_timeout_s

    @property
    def is_open(self) -> bool:
        return self._wanted_open

    def open(self, *, timeout_s: float = 5.0, cancel: CancelToken = NEVER_CANCELLED) -> None:
        with self._lock:
            self._wanted_open = True
            self._link.open()
            reply = self._guarded(
                "open",
                lambda d, c: self._exchange(wire.Command.ROM_VERSION, b"", d, c),
                timeout_s,
                cancel,
            )
            self._firmware = reply[1:].decode("ascii", errors="replace").strip()
            log.info("%s: %s open on %s", self.name, self._firmware or self.MODEL, self._link.url)

    def close(self) -> None:
        with self._lock:
            self._wanted_open = False
            self._link.close()

    def status(self) -> RewriterStatus:
        if not self._wanted_open:
            return RewriterStatus.unavailable(DeviceStatus.OFFLINE, "not open")
        try:
            return self.read_status(timeout_s=2.0)
        except DeviceUnavailable as exc:
            return RewriterStatus.unavailable(DeviceStatus.NO_DEVICE, str(exc))
        except DeviceTimeout as exc:
            return RewriterStatus.unavailable(DeviceStatus.OFFLINE, str(exc))
        except DeviceError as exc:
            return RewriterStatus.unavailable(DeviceStatus.HARDWARE_ERROR, str(exc))

    def capabilities(self) -> dict[str, object]:
        return {
            "kind": "rewriter",
            "model": self.MODEL,
            "firmware": self._firmware,
            "print_area_dots": [PRINT_WIDTH, PRINT_HEIGHT],
            "hold_positions": [p.value for p in HoldPosition],
            "capture_bin": True,
            "erase": True,
        }

    def statistics(self) -> dict[str, object]:
        return {**self._stats.snapshot(), **self._counts}

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self._events.subscribe(listener)

    # --- CardRewriter -------------------------------------------------------------------------

    def read_status(
        self, *, timeout_s: float = 3.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> RewriterStatus:
        return self._guarded("status", self._status, timeout_s, cancel)

    def insert(
        self, *, timeout_s: float = 30.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> RewriterResult:
        def take_in(deadline: Deadline, cancel: CancelToken) -> int:
            frames = self._waiting_command(wire.Command.REAR_IDLE, deadline, cancel)
            self._events.publish(DeviceEvent(self.name, DeviceEventKind.CARD_PLACED, "inserted"))
            return frames

        return self._operation("insert", take_in, timeout_s, cancel)

    def hold(
        self,
        position: HoldPosition = HoldPosition.CHIP,
        *,
        timeout_s: float = 10.0,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> RewriterResult:
        def move(deadline: Deadline, cancel: CancelToken) -> int:
            # The idle commands would wait for a new card when none is inside: refuse first.
            if not self._status(deadline, cancel).card_inside:
                raise fault_error(RewriterFault.NOT_INSIDE, f"cannot hold at {position.value}")
            return self._command(_HOLD[position], b"", deadline, cancel)

        return self._operation(f"hold_{position.value}", move, timeout_s, cancel)

    def erase(
        self, *, timeout_s: float = 20.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> RewriterResult:
        def erase(deadline: Deadline, cancel: CancelToken) -> int:
            self._require_inside(deadline, cancel, "erase")
            data = wire.params(wire.AFTER_HOLD, 1, 0)
            return self._command(wire.Command.ERASE_PRINT, data, deadline, cancel)

        return self._operation("erase", erase, timeout_s, cancel)

    def print_back(
        self, job: BackPrint, *, timeout_s: float = 30.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> RewriterResult:
        image = job.dots()  # refuses an oversized image before anything moves

        def print_job(deadline: Deadline, cancel: CancelToken) -> int:
            self._require_inside(deadline, cancel, "print")
            frames = self._command(wire.Command.BUFFER_CLEAR, b"", deadline, cancel)
            for data in wire.image_commands(image):
                frames += self._command(wire.Command.IMAGE_EXPAND, data, deadline, cancel)
            flags = wire.params(wire.AFTER_HOLD, int(job.erase_first), 1)
            return frames + self._command(wire.Command.ERASE_PRINT, flags, deadline, cancel)

        return self._operation("print_back", print_job, timeout_s, cancel)

    def eject(
        self, *, timeout_s: float = 10.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> RewriterResult:
        def hand_back(deadline: Deadline, cancel: CancelToken) -> int:
            self._require_inside(deadline, cancel, "eject")
            data = wire.DISCHARGE_OUT.encode()
            return self._command(wire.Command.DISCHARGE, data, deadline, cancel)

        return self._operation("eject", hand_back, timeout_s, cancel)

    def capture(
        self, *, timeout_s: float = 10.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> RewriterResult:
        def keep(deadline: Deadline, cancel: CancelToken) -> int:
            if not self._status(deadline, cancel).card_present:
                raise fault_error(RewriterFault.NO_CARD, "nothing to capture")
            data = wire.DISCHARGE_BACK.encode()
            frames = self._command(wire.Command.DISCHARGE, data, deadline, cancel)
            self._last_place = None  # gone into the bin: neither taken nor lost
            return frames

        return self._operation("capture", keep, timeout_s, cancel)

    def reset(
        self, *, timeout_s: float = 15.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> RewriterResult:
        def reset(deadline: Deadline, cancel: CancelToken) -> int:
            return self._command(wire.Command.RESET, b"", deadline, cancel)

        return self._operation("reset", reset, timeout_s, cancel)

    def wait_taken(self, *, timeout_s: float, cancel: CancelToken = NEVER_CANCELLED) -> bool:
        deadline = Deadline(timeout_s, self._clock)
        while True:
            status = self.read_status(timeout_s=max(1.0, min(3.0, deadline.remaining())))
            if status.card is CardPlace.NONE:
                return True
            if status.card is not CardPlace.SLOT:
                return False  # taken back in (or never handed out): nothing to take
            if deadline.expired:
                return False
            if cancel.wait(min(self.POLL_S, deadline.remaining())):
                raise DeviceCancelled("wait for the card to be taken cancelled")

    # --- operations -----------------------------------------------------------------------------

    def _operation(
        self,
        name: str,
        action: Callable[[Deadline, CancelToken], int],
        timeout_s: float,
        cancel: CancelToken,
    ) -> RewriterResult:
        started = self._clock()
        resends = self._counts["resends"]
        sent = self._link_bytes()

        def run(deadline: Deadline, cancel: CancelToken) -> tuple[int, RewriterStatus]:
            frames = action(deadline, cancel)
            return frames, self._status(deadline, cancel)

        frames, status = self._guarded(name, run, timeout_s, cancel)
        return RewriterResult(
            operation=name,
            status=status,
            elapsed_s=self._clock() - started,
            resends=self._counts["resends"] - resends,
            frames=frames,
            bytes_sent=self._link_bytes() - sent,
        )

    def _guarded(
        self,
        name: str,
        action: Callable[[Deadline, CancelToken], _T],
        timeout_s: float,
        cancel: CancelToken,
    ) -> _T:
        with self._lock:
            if not self._wanted_open:
                raise DeviceUnavailable(f"{self.name}: not open", code=f"{self.name}.not_open")
            try:
                value = action(Deadline(timeout_s, self._clock), cancel)
            except DeviceError as exc:
                self._stats.record_failure(exc)
                log.warning("%s: %s failed: %s (%s)", self.name, name, exc, exc.code)
                raise
            self._stats.record_ok()
            return value

    def _require_inside(self, deadline: Deadline, cancel: CancelToken, what: str) -> None:
        status = self._status(deadline, cancel)
        if not status.card_inside:
            fault = RewriterFault.NOT_INSIDE if status.card_present else RewriterFault.NO_CARD
            raise fault_error(fault, f"cannot {what}")

    def _status(self, deadline: Deadline, cancel: CancelToken) -> RewriterStatus:
        reply = self._exchange(wire.Command.STATUS, b"", deadline, cancel)
        code, sensors = reply[0], wire.Sensors.decode(reply[1:])
        status = _status_from(code, sensors)
        self._observe(status.card)
        return status

    def _observe(self, place: CardPlace) -> None:
        """Events from changes of the card's place seen by status reads."""
        previous, self._last_place = self._last_place, place
        if place is not CardPlace.NONE or previous in (None, CardPlace.NONE):
            return
        if previous is CardPlace.SLOT:
            self._events.publish(DeviceEvent(self.name, DeviceEventKind.MEDIA_TAKEN, "taken"))
        else:
            self._events.publish(
                DeviceEvent(self.name, DeviceEventKind.CARD_REMOVED, f"gone from {previous}")
            )

    def _command(self, command: int, data: bytes, deadline: Deadline, cancel: CancelToken) -> int:
        """One exchange whose reply status must be normal; returns frames sent (1)."""
        reply = self._exchange(command, data, deadline, cancel)
        _raise_for(reply[0])
        return 1

    def _waiting_command(self, command: int, deadline: Deadline, cancel: CancelToken) -> int:
        """A command that waits for the citizen's card: on timeout or cancel the wait is
        cancelled with 54h (a reply that still arrives first wins)."""
        reply = self._transaction(command, b"", deadline, cancel, cancellable=True)
        if reply is None:
            self._counts["cancelled_waits"] += 1
            cancel.raise_if_cancelled()
            raise fault_error(RewriterFault.NO_CARD_INSERTED, "the slot stayed empty")
        _raise_for(reply[0])
        return 1

    # --- the link -----------------------------------------------------------------------------

    def _exchange(
        self, command: int, data: bytes, deadline: Deadline, cancel: CancelToken
    ) -> bytes:
        """Send one command and return its reply body after the command byte (status first)."""
        reply = self._transaction(command, data, deadline, cancel, cancellable=False)
        assert reply is not None  # only a cancellable wait ends without a reply
        return reply

    def _transaction(
        self,
        command: int,
        data: bytes,
        deadline: Deadline,
        cancel: CancelToken,
        *,
        cancellable: bool,
    ) -> bytes | None:
        """With ``cancellable``, the deadline or the token ends the wait by 54h and None is
        returned when the module confirms the cancel."""
        with self._link.lock:
            self._link.discard_input()
            inbox = _Inbox(self._link)
            self._send_until_acked(wire.command_frame(command, data), inbox, deadline, cancel)
            reply = self._await_reply(command, inbox, deadline, cancel, cancellable)
            self._link.mark_back()
            return reply

    def _write(self, data: bytes) -> None:
        self._link.write(data)
        self._counts["bytes_sent"] += len(data)

    def _send_until_acked(
        self, frame: bytes, inbox: _Inbox, deadline: Deadline, cancel: CancelToken
    ) -> None:
        naks = 0
        for attempt in range(self.MAX_RESENDS + 1):
            cancel.raise_if_cancelled()
            if attempt:
                self._counts["resends"] += 1
            self._write(frame)
            self._counts["frames_sent"] += 1
            window = Deadline(min(self._ack_timeout_s, deadline.remaining()), self._clock)
            answer = self._await_control(inbox, window, cancel)
            if answer == wire.ACK:
                return
            if answer == wire.DLE:
                raise fault_error(RewriterFault.REJECTED, f"command {frame[1]:02X}")
            if answer == wire.NAK:
                naks += 1
                self._counts["naks_received"] += 1
            else:
                self._counts["ack_timeouts"] += 1
            if deadline.expired:
                break
        if naks:
            raise ProtocolError(
                f"{self.name}: command refused {naks} times (NAK)", code="rewriter.nak"
            )
        raise DeviceTimeout(f"{self.name}: no ACK from the card module", code="rewriter.no_ack")

    def _await_control(self, inbox: _Inbox, window: Deadline, cancel: CancelToken) -> int | None:
        while True:
            item = inbox.next(window, cancel)
            if item is None:
                return None
            if isinstance(item, wire.Control):
                return item.byte
            # a block before the ACK is a stale reply of an earlier exchange: ignore it

    def _await_reply(
        self,
        command: int,
        inbox: _Inbox,
        deadline: Deadline,
        cancel: CancelToken,
        cancellable: bool,
    ) -> bytes | None:
        asked_again = 0
        while True:
            if cancel.cancelled or deadline.expired:
                if cancellable:
                    return self._cancel_wait(command, inbox)
                if cancel.cancelled:
                    raise DeviceCancelled(f"{self.name}: cancelled waiting for {command:02X}")
                raise DeviceTimeout(
                    f"{self.name}: no reply to {command:02X} in time", code="rewriter.timeout"
                )
            # A waiting command is cancelled through the module (54h), not by dropping it:
            # read in short slices and look at the token between them.
            if cancellable:
                window = Deadline(min(_WAIT_SLICE_S, deadline.remaining()), self._clock)
                item = inbox.next(window, NEVER_CANCELLED)
            else:
                item = inbox.next(deadline, cancel)
            if item is None:
                continue
            if isinstance(item, wire.CorruptBlock):
                self._counts["corrupt_replies"] += 1
                if asked_again >= self.MAX_RESENDS:
                    raise ProtocolError(
                        f"{self.name}: reply corrupt {asked_again + 1} times",
                        code="rewriter.bad_reply",
                    )
                asked_again += 1
                self._counts["resends"] += 1
                self._write(bytes([wire.NAK]))
            elif isinstance(item, wire.Block):
                if item.command != command or len(item.body) < 2:
                    log.debug("%s: stray block %r ignored", self.name, item.body[:8])
                    continue
                self._write(bytes([wire.ACK]))
                return item.body[1:]

    def _cancel_wait(self, command: int, inbox: _Inbox) -> bytes | None:
        """54h while ``command`` waits for a card: its reply, if it still came first, else
        None once the cancel is confirmed."""
        grace = Deadline(self._ack_timeout_s + 2.0, self._clock)
        self._write(wire.command_frame(wire.Command.CANCEL_WAIT))
        self._counts["frames_sent"] += 1
        late: bytes | None = None
        while not grace.expired:
            item = inbox.next(grace, NEVER_CANCELLED)
            if isinstance(item, wire.Block) and len(item.body) >= 2:
                self._write(bytes([wire.ACK]))
                if item.command == command:
                    late = item.body[1:]  # the card came in just before the cancel
                elif item.command == wire.Command.CANCEL_WAIT:
                    return late
            elif isinstance(item, wire.CorruptBlock):
                self._write(bytes([wire.NAK]))
        raise DeviceTimeout(
            f"{self.name}: the insertion wait cancel was not confirmed", code="rewriter.timeout"
        )

    def _link_bytes(self) -> int:
        return self._counts["bytes_sent"]


class _Inbox:
    """What the module sent, item by item: handshake bytes and blocks that arrived in one
    read are all kept (an ACK and a quick reply usually come together)."""

    def __init__(self, link: SerialLink) -> None:
        self._link = link
        self._scanner = wire.BlockScanner()
        self._items: deque[wire.Item] = deque()

    def next(self, deadline: Deadline, cancel: CancelToken) -> wire.Item | None:
        """The next item, or None when ``deadline`` passed (or a slice ended) first."""
        while not self._items:
            data = self._link.read_some(2048, deadline, cancel)
            if not data:
                return None
            self._items.extend(self._scanner.feed(data))
        return self._items.popleft()


_WAIT_SLICE_S = 0.05  # longest read while a command waits for the citizen's card


def _raise_for(code: int) -> None:
    if code == wire.STATUS_OK:
        return
    known = wire.STATUS_FAULTS.get(code)
    if known is None:
        raise fault_error(RewriterFault.OTHER, f"status {code:02X}", code=f"rewriter.e.{code:02X}")
    fault, text = known
    raise fault_error(fault, f"{text} ({code:02X})")


def _status_from(code: int, sensors: wire.Sensors) -> RewriterStatus:
    """The common status and its detail from the module's code and sensors."""
    place = sensors.place
    jam = code == wire.STATUS_JAM
    cover = sensors.cover_open or code == wire.STATUS_COVER
    head = code in wire.HEAD_FAULTS
    film = code == wire.STATUS_FILM
    problems: list[str] = []
    warnings: list[str] = []
    if head or code in (0x42, 0x45):
        problems.append(wire.STATUS_FAULTS[code][1])
        common = DeviceStatus.HARDWARE_ERROR
    elif jam or cover:
        problems.append("card jam" if jam else "cover open")
        common = DeviceStatus.USER_ERROR
    else:
        common = DeviceStatus.ONLINE
    if film:
        warnings.append("the card inside has no usable film")
    waiting = sensors.inlet == 2
    where = f"card {place.value}" + (" (handed back)" if waiting else "")
    detail = ", ".join([*problems, *warnings, where])
    return RewriterStatus(
        status=common,
        detail=detail,
        warnings=tuple(warnings),
        card=place,
        waiting_removal=waiting,
        cover_open=cover,
        jam=jam,
        head_fault=head,
        film_fault=film,
        device_code=f"{code:02X}",
    )
