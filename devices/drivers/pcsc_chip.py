"""Travel-document chip reader over PC/SC (pyscard's low-level ``smartcard.scard``).

One reader, chosen by a regular expression over the PC/SC reader names (the first reader
when empty). A monitor thread turns pcscd's reader-state changes into CARD_PLACED /
CARD_REMOVED events. ``read_document`` runs on the caller's thread (the device worker):
SELECT the eMRTD application, BAC, then each file read by short file identifier (no SELECT
needed; SELECT + offset reads for chips that refuse it) with the largest chunk the chip
allows - extended-length APDUs when its ATR announces them, otherwise 0xDF bytes - so a full
read costs 3 + 2 x files APDUs.

Writing an endorsement spans calls, because central answers the chip's challenge in the
middle: ``get_challenge`` connects, runs BAC, reads the endorsement header and takes the
issuer challenge; ``authenticate`` presents central's cryptogram; ``write_endorsement``
fills the next slot, writes the commit counter last, reads both back and compares, and ends
the session. The card stays connected in between (``end_issuance`` drops it). The reader
holds no issuer key: it only relays the challenge and the cryptogram.

Errors never loop: wrong access data, a document pulled out, an absent file and a timeout
end the operation; a secure-messaging failure re-runs BAC once during reads, never during
an issuance (it would lose the issuer authentication).
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
from typing import Self, TypeVar

from PIL import Image, UnidentifiedImageError
from smartcard import scard

from devices import endorsement as ef
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
    DeviceUnavailable,
    EventHub,
    Listener,
    StatusReport,
)
from devices.chip import ChipRead, ChipReadStats, EndorsementWrite, IssuerChallenge
from devices.drivers.pcsc_session import (
    CardLink,
    ChipSession,
    atr_allows_extended_length,
    scard_message,
)
from devices.icao import lds, pa
from devices.icao.errors import (
    CardRemoved,
    EndorsementFull,
    EndorsementMismatch,
    FileAbsent,
    IssuanceStateError,
    TlvError,
    WriteInterrupted,
)
from devices.icao.mrz import MrzAccess, mask

log = logging.getLogger(__name__)

__all__ = ["PcscChipReader", "atr_allows_extended_length"]

_SETTINGS = {"reader", "trust_store", "poll_s", "extended_length", "write_chunk"}
_REQUIRED = (1, 2)
_OPTIONAL = (11, 12)
_T = TypeVar("_T")


class _Issuance:
    """An endorsement write in progress: the connected card and its session, what
    ``get_challenge`` learnt, and the record ``authenticate`` was accepted for."""

    def __init__(self, card: CardLink, session: ChipSession, challenge: IssuerChallenge) -> None:
        self.card = card
        self.session = session
        self.challenge = challenge
        self.authorised: ef.EndorsementRecord | None = None
        self.started = time.perf_counter()


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
        write_chunk: int = ef.RECORD_SIZE,
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
        if not 8 <= write_chunk <= ef.RECORD_SIZE:
            raise ConfigurationError(f"write_chunk must be between 8 and {ef.RECORD_SIZE} bytes")
        self._write_chunk = write_chunk
        self._issuance: _Issuance | None = None
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
        chunk = settings.get("write_chunk", ef.RECORD_SIZE)
        if not isinstance(reader, str) or not isinstance(trust, str):
            raise ConfigurationError("reader and trust_store must be strings")
        if not isinstance(poll, int | float) or not isinstance(extended, bool):
            raise ConfigurationError("poll_s must be a number and extended_length a boolean")
        if isinstance(chunk, bool) or not isinstance(chunk, int):
            raise ConfigurationError("write_chunk must be an integer")
        return cls(
            name,
            reader=reader,
            trust_store=trust,
            poll_s=float(poll),
            extended_length=extended,
            write_chunk=chunk,
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
                last = scard_message(hresult)
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
        with self._lock:
            self._drop_issuance()
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
            "endorsement_write": True,
            "issuer_authentication": "AES-CMAC, key reference 81 (docs/chip-reader.md)",
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
            log.error("chip monitor cannot reach pcscd: %s", scard_message(hresult))
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
                    log.warning("chip reader lost: %s", scard_message(hresult))
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
        self._drop_issuance()
        card = CardLink(self._context, self._reader, deadline, cancel)
        try:
            extended = self._extended_allowed and atr_allows_extended_length(card.atr)
            reading = ChipSession(card, access, extended, self._random)
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
            sfi_fallbacks=reading.sfi_fallbacks,
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

    # --- endorsements: reading ---------------------------------------------------------------

    def read_endorsements(
        self,
        access: MrzAccess,
        *,
        timeout_s: float = 10.0,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> tuple[ef.EndorsementRecord, ...]:
        """Every committed endorsement record, oldest first (empty when none)."""
        with self._lock:
            return self._recorded(
                "read endorsements",
                access,
                lambda: self._read_records(access, Deadline(timeout_s), cancel, latest_only=False),
            )

    def read_endorsement(
        self,
        access: MrzAccess,
        *,
        timeout_s: float = 10.0,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> ef.EndorsementRecord | None:
        """The newest committed endorsement record; None when the chip holds none. A write
        cut short before its commit counter is invisible here: it was not written."""
        with self._lock:
            records = self._recorded(
                "read endorsement",
                access,
                lambda: self._read_records(access, Deadline(timeout_s), cancel, latest_only=True),
            )
            return records[-1] if records else None

    def _read_records(
        self, access: MrzAccess, deadline: Deadline, cancel: CancelToken, *, latest_only: bool
    ) -> tuple[ef.EndorsementRecord, ...]:
        self._drop_issuance()
        card, session = self._connect(access, deadline, cancel)
        try:
            header = _header(session)
            if header.committed == 0:
                return ()
            first = header.committed if latest_only else 1
            start = ef.record_offset(first)
            data = session.read_range(
                ef.EF_ENDORSEMENTS, start, ef.record_offset(header.committed + 1) - start
            )
        finally:
            card.close()
        records = []
        for sequence in range(first, header.committed + 1):
            at = ef.record_offset(sequence) - start
            records.append(_decode(data[at : at + ef.RECORD_SIZE], sequence))
        return tuple(records)

    # --- endorsements: writing ----------------------------------------------------------------

    def get_challenge(
        self,
        access: MrzAccess,
        *,
        timeout_s: float = 10.0,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> IssuerChallenge:
        """Start an endorsement write: BAC, the endorsement header (and newest record), then
        the chip's issuer challenge for central. The card stays connected for
        ``authenticate`` and ``write_endorsement``; a new call starts over."""
        with self._lock:
            return self._recorded(
                "get challenge", access, lambda: self._begin(access, Deadline(timeout_s), cancel)
            )

    def _begin(self, access: MrzAccess, deadline: Deadline, cancel: CancelToken) -> IssuerChallenge:
        self._drop_issuance()
        card, session = self._connect(access, deadline, cancel)
        try:
            header = _header(session)
            latest = None
            if header.committed:
                offset = ef.record_offset(header.committed)
                data = session.read_range(ef.EF_ENDORSEMENTS, offset, ef.RECORD_SIZE)
                latest = _decode(data, header.committed)
            if header.full:
                raise EndorsementFull(f"all {header.capacity} endorsement slots are used")
            # Last, because the challenge is valid for the very next command only.
            nonce = session.issuer_challenge()
        except BaseException:
            card.close()
            raise
        challenge = IssuerChallenge(
            document_number=access.document_number,
            challenge=nonce,
            sequence=header.next_sequence,
            capacity=header.capacity,
            latest=latest,
        )
        self._issuance = _Issuance(card, session, challenge)
        return challenge

    def authenticate(
        self,
        record: ef.EndorsementRecord,
        cryptogram: bytes,
        *,
        timeout_s: float = 10.0,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> None:
        """Present central's cryptogram for ``record`` (EXTERNAL AUTHENTICATE with the
        record's SHA-256). A refusal ends the issuance: its challenge is spent."""
        with self._lock:
            issuance = self._require_issuance()
            access_number = issuance.challenge.document_number

            def present() -> None:
                if record.sequence != issuance.challenge.sequence:
                    raise IssuanceStateError(
                        f"the record takes slot {record.sequence}, the chip's next is "
                        f"{issuance.challenge.sequence}"
                    )
                issuance.card.deadline, issuance.card.cancel = Deadline(timeout_s), cancel
                try:
                    issuance.session.external_authenticate(record.digest(), cryptogram)
                except BaseException:
                    self._drop_issuance()
                    raise
                issuance.authorised = record

            self._recorded_number("authenticate", access_number, present)

    def write_endorsement(
        self,
        record: ef.EndorsementRecord,
        *,
        timeout_s: float = 10.0,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> EndorsementWrite:
        """Write the authenticated record into its slot, then the commit counter (last, one
        byte), read both back and compare; the issuance ends either way. A document pulled
        meanwhile raises WriteInterrupted saying whether the commit was sent."""
        with self._lock:
            issuance = self._require_issuance()
            return self._recorded_number(
                "write endorsement",
                issuance.challenge.document_number,
                lambda: self._write(issuance, record, Deadline(timeout_s), cancel),
            )

    def _write(
        self,
        issuance: _Issuance,
        record: ef.EndorsementRecord,
        deadline: Deadline,
        cancel: CancelToken,
    ) -> EndorsementWrite:
        if issuance.authorised != record:
            self._drop_issuance()
            raise IssuanceStateError("only the record the issuer authenticated may be written")
        card, session = issuance.card, issuance.session
        card.deadline, card.cancel = deadline, cancel
        data = record.encode()
        offset = ef.record_offset(record.sequence)
        committed: bool | None = False
        started = time.perf_counter()
        try:
            for at in range(0, len(data), self._write_chunk):
                session.update(ef.EF_ENDORSEMENTS, offset + at, data[at : at + self._write_chunk])
            committed = None  # from here on, only a read can tell
            session.update(ef.EF_ENDORSEMENTS, ef.COUNT_OFFSET, bytes([record.sequence]))
            committed = True
            written = time.perf_counter()
            header = _header(session)
            stored = session.read_range(ef.EF_ENDORSEMENTS, offset, ef.RECORD_SIZE)
        except CardRemoved as exc:
            state = {False: "not written", None: "commit unconfirmed", True: "written"}
            raise WriteInterrupted(
                f"document removed during the endorsement write ({state[committed]})",
                committed=committed,
            ) from exc
        finally:
            self._drop_issuance()
        if header.committed != record.sequence or stored != data:
            raise EndorsementMismatch("the endorsement read back differs from the one written")
        done = time.perf_counter()
        log.info(
            "endorsement %d written to %s and verified (%d APDUs)",
            record.sequence,
            mask(issuance.challenge.document_number),
            card.apdus,
        )
        return EndorsementWrite(
            record=record,
            apdus=card.apdus,
            write_s=written - started,
            verify_s=done - written,
        )

    def end_issuance(self) -> None:
        """Drop an unfinished issuance (its challenge and any authentication are lost)."""
        with self._lock:
            self._drop_issuance()

    # --- helpers --------------------------------------------------------------------------------

    def _connect(
        self, access: MrzAccess, deadline: Deadline, cancel: CancelToken
    ) -> tuple[CardLink, ChipSession]:
        if self._context is None or self._reader is None:
            raise DeviceUnavailable("chip reader is not open", code="chip.no_reader")
        card = CardLink(self._context, self._reader, deadline, cancel)
        try:
            extended = self._extended_allowed and atr_allows_extended_length(card.atr)
            session = ChipSession(card, access, extended, self._random)
            session.start()
        except BaseException:
            card.close()
            raise
        return card, session

    def _require_issuance(self) -> _Issuance:
        if self._issuance is None:
            raise IssuanceStateError("no endorsement write in progress: take a challenge first")
        return self._issuance

    def _drop_issuance(self) -> None:
        issuance, self._issuance = self._issuance, None
        if issuance is not None:
            issuance.card.close()

    def _recorded(self, what: str, access: MrzAccess, action: Callable[[], _T]) -> _T:
        return self._recorded_number(what, access.document_number, action)

    def _recorded_number(self, what: str, number: str, action: Callable[[], _T]) -> _T:
        """Run one operation with statistics and a log line that masks the number."""
        try:
            value = action()
        except DeviceError as exc:
            self._stats.record_failure(exc)
            log.info("chip %s for %s failed: %s [%s]", what, mask(number), exc, exc.code)
            raise
        self._stats.record_ok()
        return value


def _header(session: ChipSession) -> ef.EndorsementHeader:
    return ef.EndorsementHeader.decode(session.read_range(ef.EF_ENDORSEMENTS, 0, ef.HEADER_SIZE))


def _decode(data: bytes, sequence: int) -> ef.EndorsementRecord:
    record = ef.EndorsementRecord.decode(data)
    if record.sequence != sequence:
        raise ef.EndorsementDataError(f"slot {sequence} holds record {record.sequence}")
    return record
