"""Travel-document chip reader over PC/SC (pyscard's low-level ``smartcard.scard``).

One reader, chosen by a regular expression over the PC/SC reader names (the first reader
when empty). A monitor thread turns pcscd's reader-state changes into CARD_PLACED /
CARD_REMOVED events. ``read_document`` runs on the caller's thread (the device worker):
SELECT the eMRTD application, BAC, then each file read by short file identifier (no SELECT
needed) with the largest chunk the chip allows - extended-length APDUs when its ATR
announces them, otherwise 0xDF bytes - so a full read costs 3 + 2 x files APDUs.

Errors never loop: wrong access data, a document pulled out, an absent file and a timeout
end the read; a secure-messaging failure re-runs BAC once, then ends it.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Self

from PIL import Image, UnidentifiedImageError
from smartcard import scard

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
    StatusReport,
)
from devices.chip import ChipRead, ChipReadStats
from devices.icao import bac, lds, pa
from devices.icao.errors import (
    AccessDenied,
    CardRemoved,
    ChipStatusError,
    FileAbsent,
    NoCard,
    NotTravelDocument,
    SecureMessagingError,
    TlvError,
)
from devices.icao.mrz import MrzAccess, mask
from devices.icao.tlv import header_size

log = logging.getLogger(__name__)

_SETTINGS = {"reader", "trust_store", "poll_s", "extended_length"}
_REMOVED = {
    scard.SCARD_W_REMOVED_CARD,
    scard.SCARD_E_NO_SMARTCARD,
    scard.SCARD_W_RESET_CARD,
    scard.SCARD_W_UNPOWERED_CARD,
    scard.SCARD_W_UNRESPONSIVE_CARD,
}
_UNAVAILABLE = {
    scard.SCARD_E_NO_SERVICE,
    scard.SCARD_E_SERVICE_STOPPED,
    scard.SCARD_E_READER_UNAVAILABLE,
    scard.SCARD_E_UNKNOWN_READER,
    scard.SCARD_E_NO_READERS_AVAILABLE,
}
_HEADER_READ = 4  # tag + up to 3 length bytes: files up to 64 KB
_PCSC_PRESENT = 0x0004  # SCardStatus state bit (pcsc-lite SCARD_PRESENT; pyscard lacks it)
_REQUIRED = (1, 2)
_OPTIONAL = (11, 12)


def _hex(code: int) -> str:
    return f"0x{code & 0xFFFFFFFF:08X}"


def _scard_message(code: int) -> str:
    try:
        return f"{scard.SCardGetErrorMessage(code)} ({_hex(code)})"
    except Exception:  # pragma: no cover - message lookup is cosmetic
        return _hex(code)


def atr_allows_extended_length(atr: bytes) -> bool:
    """Card capabilities (compact-TLV tag 7, 3 bytes) in the ATR's historical bytes:
    bit 7 of the third byte announces extended Lc/Le (ISO 7816-4 8.1.1.2.7)."""
    if len(atr) < 2:
        return False
    t0 = atr[1]
    count = t0 & 0x0F
    offset, indicator = 2, t0
    while True:  # skip the interface bytes
        offset += bin(indicator & 0xF0).count("1")
        if not indicator & 0x80 or offset > len(atr):
            break
        indicator = atr[offset - 1]
    historical = atr[offset : offset + count]
    if not historical or historical[0] != 0x80:
        return False
    index = 1
    while index < len(historical):
        tag, length = historical[index] >> 4, historical[index] & 0x0F
        value = historical[index + 1 : index + 1 + length]
        if tag == 0x7 and len(value) >= 3:
            return bool(value[2] & 0x40)
        index += 1 + length
    return False


class _Card:
    """One connected card: counts APDUs and turns PC/SC failures into device errors."""

    def __init__(self, context: int, reader: str, deadline: Deadline, cancel: CancelToken) -> None:
        self.deadline = deadline
        self.cancel = cancel
        self.apdus = 0
        self.bytes_in = 0
        protocols = scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
        hresult, self.handle, protocol = scard.SCardConnect(
            context, reader, scard.SCARD_SHARE_SHARED, protocols
        )
        if hresult in _REMOVED:
            raise NoCard("no document on the chip reader")
        if hresult != scard.SCARD_S_SUCCESS:
            raise DeviceUnavailable(f"cannot connect to the card: {_scard_message(hresult)}")
        self.pci = scard.SCARD_PCI_T1 if protocol == scard.SCARD_PROTOCOL_T1 else scard.SCARD_PCI_T0
        hresult, _, _, _, atr = scard.SCardStatus(self.handle)
        self.atr = bytes(atr) if hresult == scard.SCARD_S_SUCCESS else b""

    def transmit(self, apdu: bytes) -> bytes:
        if self.cancel.cancelled:
            raise DeviceCancelled("chip read cancelled")
        if self.deadline.expired:
            raise DeviceTimeout("chip read timed out", code="chip.timeout")
        self.apdus += 1
        hresult, response = scard.SCardTransmit(self.handle, self.pci, list(apdu))
        if hresult != scard.SCARD_S_SUCCESS:
            if hresult in _REMOVED or hresult == scard.SCARD_E_NOT_TRANSACTED:
                raise CardRemoved(f"document removed during the read: {_scard_message(hresult)}")
            if hresult == scard.SCARD_E_TIMEOUT:
                raise DeviceTimeout("the chip did not answer", code="chip.timeout")
            if hresult in _UNAVAILABLE:
                raise DeviceUnavailable(f"chip reader lost: {_scard_message(hresult)}")
            raise DeviceError(f"PC/SC transmit failed: {_scard_message(hresult)}")
        data = bytes(response)
        self.bytes_in += len(data)
        if len(data) < 2:
            # vpcd (and some readers) answer nothing when the card leaves mid-command;
            # pcscd notices the removal on its next poll, so give it a moment to tell.
            if self._gone(wait_s=min(1.0, self.deadline.remaining())):
                raise CardRemoved("document removed during the read")
            raise ChipStatusError("response without status word", sw=0)
        return data

    def _gone(self, wait_s: float) -> bool:
        end = time.monotonic() + wait_s
        while True:
            hresult, _, state, _, _ = scard.SCardStatus(self.handle)
            if hresult != scard.SCARD_S_SUCCESS or not state & _PCSC_PRESENT:
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(0.02)

    def close(self) -> None:
        scard.SCardDisconnect(self.handle, scard.SCARD_LEAVE_CARD)


class PcscChipReader:
    """eMRTD reader on a PC/SC reader (see the module docstring)."""

    def __init__(
        self,
        name: str = "chip",
        *,
        reader: str = "",
        trust_store: str = "",
        poll_s: float = 0.25,
        extended_length: bool = True,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.name = name
        try:
            self._pattern = re.compile(reader)
        except re.error as exc:
            raise ConfigurationError(f"chip reader pattern {reader!r} is invalid: {exc}") from exc
        self._trust = pa.load_trust_store(trust_store) if trust_store else pa.TrustStore()
        if not 0.05 <= poll_s <= 5:
            raise ConfigurationError("poll_s must be between 0.05 and 5 seconds")
        self._poll_s = poll_s
        self._extended_allowed = extended_length
        self._now = now
        self._random = random
        self._events = EventHub()
        self._stats = DeviceStats()
        self._lock = threading.Lock()
        self._context: int | None = None
        self._reader: str | None = None
        self._present = False
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None
        self._monitor_context: int | None = None
        self._last: ChipReadStats | None = None

    @classmethod
    def from_settings(cls, name: str, settings: Mapping[str, object]) -> Self:
        unknown = set(settings) - _SETTINGS
        if unknown:
            raise ConfigurationError(f"unknown chip reader settings: {', '.join(sorted(unknown))}")
        reader = settings.get("reader", "")
        trust = settings.get("trust_store", "")
        poll = settings.get("poll_s", 0.25)
        extended = settings.get("extended_length", True)
        if not isinstance(reader, str) or not isinstance(trust, str):
            raise ConfigurationError("reader and trust_store must be strings")
        if not isinstance(poll, int | float) or not isinstance(extended, bool):
            raise ConfigurationError("poll_s must be a number and extended_length a boolean")
        return cls(
            name, reader=reader, trust_store=trust, poll_s=float(poll), extended_length=extended
        )

    # --- Device --------------------------------------------------------------------------

    def open(self, *, timeout_s: float = 5.0, cancel: CancelToken = NEVER_CANCELLED) -> None:
        """Find the reader (waiting up to ``timeout_s`` for pcscd and the reader) and start
        the card monitor thread."""
        if self._context is not None:
            return
        deadline = Deadline(timeout_s)
        last = "pcscd not reachable"
        while True:
            cancel.raise_if_cancelled()
            hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if hresult == scard.SCARD_S_SUCCESS:
                reader = self._find_reader(context)
                if reader is not None:
                    self._context, self._reader = context, reader
                    break
                last = "no PC/SC reader matches the configured pattern"
                scard.SCardReleaseContext(context)
            else:
                last = _scard_message(hresult)
            if deadline.expired:
                raise DeviceUnavailable(f"chip reader unavailable: {last}", code="chip.no_reader")
            cancel.wait(min(0.1, deadline.remaining()))
        self._present = self._probe_presence()
        self._stop.clear()
        self._monitor = threading.Thread(
            target=self._watch, name=f"{self.name}-monitor", daemon=True
        )
        self._monitor.start()
        log.info("chip reader %r opened (%s)", self._reader, "card" if self._present else "empty")

    def _find_reader(self, context: int) -> str | None:
        hresult, readers = scard.SCardListReaders(context, [])
        if hresult != scard.SCARD_S_SUCCESS:
            return None
        for reader in readers:
            if self._pattern.search(reader):
                return str(reader)
        return None

    def close(self) -> None:
        self._stop.set()
        monitor_context = self._monitor_context
        if monitor_context is not None:
            scard.SCardCancel(monitor_context)
        if self._monitor is not None:
            self._monitor.join(5)
            self._monitor = None
        if self._context is not None:
            scard.SCardReleaseContext(self._context)
            self._context = None

    def status(self) -> StatusReport:
        if self._context is None:
            return StatusReport(DeviceStatus.OFFLINE, "not opened")
        if self._monitor is None or not self._monitor.is_alive():
            return StatusReport(DeviceStatus.NO_DEVICE, "reader lost")
        detail = "document present" if self._present else "no document"
        return StatusReport(
            DeviceStatus.BUSY if self._lock.locked() else DeviceStatus.ONLINE, detail
        )

    def capabilities(self) -> dict[str, object]:
        return {
            "kind": "chip",
            "reader": self._reader,
            "access_control": ["BAC"],
            "secure_messaging": "3DES",
            "extended_length": self._extended_allowed,
            "passive_authentication": bool(self._trust.certificates),
            "trusted_cscas": len(self._trust.certificates),
        }

    def statistics(self) -> dict[str, object]:
        data = self._stats.snapshot()
        if self._last is not None:
            data["last_read"] = {
                "apdus": self._last.apdus,
                "elapsed_s": round(self._last.elapsed_s, 4),
                "cpu_s": round(self._last.cpu_s, 4),
            }
        return data

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self._events.subscribe(listener)

    def card_present(self) -> bool:
        return self._present

    # --- card monitor ----------------------------------------------------------------------

    def _probe_presence(self) -> bool:
        assert self._context is not None and self._reader is not None
        hresult, states = scard.SCardGetStatusChange(
            self._context, 0, [(self._reader, scard.SCARD_STATE_UNAWARE)]
        )
        return hresult == scard.SCARD_S_SUCCESS and bool(states[0][1] & scard.SCARD_STATE_PRESENT)

    def _watch(self) -> None:
        """Monitor thread: blocks in SCardGetStatusChange, publishes presence changes."""
        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            log.error("chip monitor cannot reach pcscd: %s", _scard_message(hresult))
            return
        self._monitor_context = context
        reader = self._reader
        state = scard.SCARD_STATE_UNAWARE
        timeout_ms = int(self._poll_s * 1000)
        try:
            while not self._stop.is_set():
                hresult, states = scard.SCardGetStatusChange(context, timeout_ms, [(reader, state)])
                if hresult in (scard.SCARD_E_TIMEOUT, scard.SCARD_E_CANCELLED):
                    continue
                if hresult != scard.SCARD_S_SUCCESS:
                    log.warning("chip reader lost: %s", _scard_message(hresult))
                    self._events.publish(DeviceEvent(self.name, DeviceEventKind.DEVICE_LOST))
                    return
                event_state = states[0][1]
                state = event_state & ~scard.SCARD_STATE_CHANGED
                present = bool(event_state & scard.SCARD_STATE_PRESENT)
                if present != self._present:
                    self._present = present
                    kind = DeviceEventKind.CARD_PLACED if present else DeviceEventKind.CARD_REMOVED
                    self._events.publish(DeviceEvent(self.name, kind))
        finally:
            self._monitor_context = None
            scard.SCardReleaseContext(context)

    # --- reading ---------------------------------------------------------------------------

    def read_document(
        self,
        access: MrzAccess,
        *,
        timeout_s: float = 30.0,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> ChipRead:
        """Read and passively authenticate the document on the reader (caller's thread)."""
        if self._context is None or self._reader is None:
            raise DeviceUnavailable("chip reader is not open", code="chip.no_reader")
        with self._lock:
            try:
                result = self._read(access, Deadline(timeout_s), cancel)
            except DeviceError as exc:
                self._stats.record_failure(exc)
                log.info(
                    "chip read of %s failed: %s [%s]", mask(access.document_number), exc, exc.code
                )
                raise
            self._stats.record_ok()
            self._last = result.stats
            return result

    def _read(self, access: MrzAccess, deadline: Deadline, cancel: CancelToken) -> ChipRead:
        assert self._context is not None and self._reader is not None
        started, cpu_started = time.perf_counter(), time.thread_time()
        card = _Card(self._context, self._reader, deadline, cancel)
        try:
            extended = self._extended_allowed and atr_allows_extended_length(card.atr)
            reading = _Reading(card, access, extended, self._random)
            reading.start()
            com = reading.read_file(lds.EF_COM)
            listed = lds.parse_com(com).data_groups
            groups: dict[int, bytes] = {}
            for number in _REQUIRED:
                groups[number] = reading.read_file(lds.DATA_GROUPS[number])
            for number in _OPTIONAL:
                if number in listed:
                    try:
                        groups[number] = reading.read_file(lds.DATA_GROUPS[number])
                    except FileAbsent:
                        log.info("DG%d listed in EF.COM but absent", number)
            sod = reading.read_file(lds.EF_SOD)
        finally:
            card.close()
        report = pa.verify(sod, groups, self._trust, self._now())
        fields = lds.parse_dg1(groups[1])
        face = lds.parse_dg2(groups[2])
        try:
            picture = Image.open(io.BytesIO(face.data))
            picture.load()
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            raise TlvError(f"DG2 {face.format.value} image does not decode: {exc}") from exc
        extra = {
            n: lds.parse_text_group(groups[n], lds.DATA_GROUPS[n].tag)
            for n in _OPTIONAL
            if n in groups
        }
        stats = ChipReadStats(
            apdus=card.apdus,
            bytes_read=card.bytes_in,
            chunk_size=reading.chunk,
            extended_length=extended,
            elapsed_s=time.perf_counter() - started,
            cpu_s=time.thread_time() - cpu_started,
            bac_runs=reading.bac_runs,
        )
        log.info(
            "chip read of %s: %d APDUs, %.0f ms, passive authentication %s",
            mask(access.document_number),
            stats.apdus,
            stats.elapsed_s * 1000,
            report.result.value,
        )
        return ChipRead(
            mrz=fields,
            face=face,
            picture=picture,
            data_groups=groups,
            com=com,
            sod=sod,
            passive_auth=report,
            stats=stats,
            extra=extra,
        )


class _Reading:
    """BAC and secure-messaging file reads on one connected card (one read's state)."""

    def __init__(
        self, card: _Card, access: MrzAccess, extended: bool, random: Callable[[int], bytes]
    ) -> None:
        self.card = card
        self.access = access
        self.extended = extended
        self.chunk = bac.max_plain_response(extended)
        self.random = random
        self.sm: bac.SecureMessaging | None = None
        self.bac_runs = 0

    def start(self) -> None:
        response = self.card.transmit(b"\x00\xa4\x04\x0c" + bytes([len(lds.AID)]) + lds.AID)
        sw = int.from_bytes(response[-2:], "big")
        if sw == 0x6A82:
            raise NotTravelDocument("the card has no travel-document application")
        if sw != 0x9000:
            raise ChipStatusError(f"SELECT of the eMRTD application answered {sw:04X}", sw=sw)
        self._bac()

    def _bac(self) -> None:
        self.bac_runs += 1
        self.sm = None
        k_enc, k_mac = bac.derive_keys(bac.key_seed(self.access.mrz_information))
        response = self.card.transmit(b"\x00\x84\x00\x00\x08")
        if response[-2:] != b"\x90\x00" or len(response) != 10:
            sw = int.from_bytes(response[-2:], "big")
            raise ChipStatusError(f"GET CHALLENGE answered {sw:04X}", sw=sw)
        rnd_icc = response[:8]
        rnd_ifd, k_ifd = self.random(8), self.random(16)
        data = bac.authenticate_command(k_enc, k_mac, rnd_icc, rnd_ifd, k_ifd)
        response = self.card.transmit(b"\x00\x82\x00\x00\x28" + data + b"\x28")
        if response[-2:] != b"\x90\x00":
            sw = int.from_bytes(response[-2:], "big")
            raise AccessDenied(f"the chip refused BAC ({sw:04X}): check the MRZ access data")
        keys = bac.session_from_response(
            k_enc, k_mac, rnd_icc, rnd_ifd, k_ifd, response=response[:-2]
        )
        self.sm = bac.SecureMessaging(keys)

    def _command(self, header: bytes, le: int) -> bytes:
        assert self.sm is not None
        extended = le > 0xDF
        plain, sw = self.sm.unprotect(
            self.card.transmit(self.sm.protect(header, le=le, extended=extended))
        )
        if sw in (0x9000, 0x6282):
            return plain
        if sw == 0x6982:
            raise SecureMessagingError("chip lost the secure-messaging session (69 82)")
        raise ChipStatusError(f"READ BINARY answered {sw:04X}", sw=sw)

    def read_file(self, ef: lds.ElementaryFile) -> bytes:
        """Whole EF (tag, length, value). Re-runs BAC once on a secure-messaging failure."""
        try:
            return self._read_file(ef)
        except SecureMessagingError as exc:
            if self.bac_runs >= 2:
                raise
            log.warning("secure messaging failed reading %s (%s); repeating BAC", ef.name, exc)
            self._bac()
            return self._read_file(ef)

    def _read_file(self, ef: lds.ElementaryFile) -> bytes:
        try:
            head = self._command(bytes([0x00, 0xB0, 0x80 | ef.sfi, 0x00]), _HEADER_READ)
        except ChipStatusError as exc:
            if exc.sw == 0x6A82:
                raise FileAbsent(f"{ef.name} is absent", fid=ef.fid) from exc
            raise
        size, length = header_size(head)
        total = size + length
        content = bytearray(head[:total])
        while len(content) < total:
            offset = len(content)
            if offset > 0x7FFF:
                raise TlvError(f"{ef.name} is larger than READ BINARY can address")
            want = min(self.chunk, total - offset)
            part = self._command(bytes([0x00, 0xB0, offset >> 8, offset & 0xFF]), want)
            if not part:
                raise TlvError(f"{ef.name} ended before its declared length")
            content += part
        return bytes(content)
