"""One connected travel document over PC/SC: the connection (APDU counting, PC/SC failures
turned into device errors) and the BAC + secure-messaging session on it (file reads with the
SFI fallback, the endorsement file's writes, the issuer's challenge and authentication).

Reading an EF: the first access goes by short file identifier (READ BINARY P1 = 80|SFI, no
SELECT needed); a chip that refuses that (69 86, 6A 81, 6A 86, 6D 00) is asked with SELECT EF
+ READ BINARY by offset from then on, for every file of the session.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from smartcard import scard

from devices.base import (
    CancelToken,
    Deadline,
    DeviceCancelled,
    DeviceError,
    DeviceTimeout,
    DeviceUnavailable,
)
from devices.icao import bac, lds
from devices.icao.errors import (
    AccessDenied,
    CardRemoved,
    ChipStatusError,
    EndorsementFull,
    FileAbsent,
    IssuerAuthFailed,
    NoCard,
    NotTravelDocument,
    SecureMessagingError,
    TlvError,
    WriteRefused,
)
from devices.icao.mrz import MrzAccess
from devices.icao.tlv import header_size

log = logging.getLogger(__name__)

REMOVED = {
    scard.SCARD_W_REMOVED_CARD,
    scard.SCARD_E_NO_SMARTCARD,
    scard.SCARD_W_RESET_CARD,
    scard.SCARD_W_UNPOWERED_CARD,
    scard.SCARD_W_UNRESPONSIVE_CARD,
}
UNAVAILABLE = {
    scard.SCARD_E_NO_SERVICE,
    scard.SCARD_E_SERVICE_STOPPED,
    scard.SCARD_E_READER_UNAVAILABLE,
    scard.SCARD_E_UNKNOWN_READER,
    scard.SCARD_E_NO_READERS_AVAILABLE,
}
# Answers of chips that do not support READ BINARY by short file identifier.
SFI_REFUSALS = frozenset({0x6986, 0x6A81, 0x6A86, 0x6D00})
ISSUER_KEY_REFERENCE = 0x81
_HEADER_READ = 4  # tag + up to 3 length bytes: files up to 64 KB
_PCSC_PRESENT = 0x0004  # SCardStatus state bit (pcsc-lite SCARD_PRESENT; pyscard lacks it)


def hex_code(code: int) -> str:
    return f"0x{code & 0xFFFFFFFF:08X}"


def scard_message(code: int) -> str:
    try:
        return f"{scard.SCardGetErrorMessage(code)} ({hex_code(code)})"
    except Exception:  # pragma: no cover - message lookup is cosmetic
        return hex_code(code)


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


class CardLink:
    """One connected card: counts APDUs and turns PC/SC failures into device errors. The
    deadline and cancel token belong to the current step and may be replaced between
    steps (an issuance spans several calls)."""

    def __init__(self, context: int, reader: str, deadline: Deadline, cancel: CancelToken) -> None:
        self.deadline = deadline
        self.cancel = cancel
        self.apdus = 0
        self.bytes_in = 0
        protocols = scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
        hresult, self.handle, protocol = scard.SCardConnect(
            context, reader, scard.SCARD_SHARE_SHARED, protocols
        )
        if hresult in REMOVED:
            raise NoCard("no document on the chip reader")
        if hresult != scard.SCARD_S_SUCCESS:
            raise DeviceUnavailable(f"cannot connect to the card: {scard_message(hresult)}")
        self.pci = scard.SCARD_PCI_T1 if protocol == scard.SCARD_PROTOCOL_T1 else scard.SCARD_PCI_T0
        hresult, _, _, _, atr = scard.SCardStatus(self.handle)
        self.atr = bytes(atr) if hresult == scard.SCARD_S_SUCCESS else b""
        self.closed = False

    def transmit(self, apdu: bytes) -> bytes:
        if self.cancel.cancelled:
            raise DeviceCancelled("chip operation cancelled")
        if self.deadline.expired:
            raise DeviceTimeout("chip operation timed out", code="chip.timeout")
        self.apdus += 1
        hresult, response = scard.SCardTransmit(self.handle, self.pci, list(apdu))
        if hresult != scard.SCARD_S_SUCCESS:
            if hresult in REMOVED or hresult == scard.SCARD_E_NOT_TRANSACTED:
                raise CardRemoved(f"document removed from the reader: {scard_message(hresult)}")
            if hresult == scard.SCARD_E_TIMEOUT:
                raise DeviceTimeout("the chip did not answer", code="chip.timeout")
            if hresult in UNAVAILABLE:
                raise DeviceUnavailable(f"chip reader lost: {scard_message(hresult)}")
            raise DeviceError(f"PC/SC transmit failed: {scard_message(hresult)}")
        data = bytes(response)
        self.bytes_in += len(data)
        if len(data) < 2:
            # vpcd (and some readers) answer nothing when the card leaves mid-command;
            # pcscd notices the removal on its next poll (every 400 ms, later on a busy
            # machine), so give it up to 2 s to tell. Only a vanished card pays this.
            if self._gone(wait_s=min(2.0, max(0.5, self.deadline.remaining()))):
                raise CardRemoved("document removed from the reader")
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
        if not self.closed:
            self.closed = True
            scard.SCardDisconnect(self.handle, scard.SCARD_LEAVE_CARD)


class ChipSession:
    """BAC and secure messaging on one connected card, and the file operations on it."""

    def __init__(
        self, card: CardLink, access: MrzAccess, extended: bool, random: Callable[[int], bytes]
    ) -> None:
        self.card = card
        self.access = access
        self.extended = extended
        self.chunk = bac.max_plain_response(extended)
        self.random = random
        self.sm: bac.SecureMessaging | None = None
        self.bac_runs = 0
        self.use_sfi = True
        self.sfi_fallbacks = 0
        self._current: int | None = None  # FID of the current EF, as far as we know

    # --- access control ---------------------------------------------------------------------

    def start(self) -> None:
        response = self.card.transmit(b"\x00\xa4\x04\x0c" + bytes([len(lds.AID)]) + lds.AID)
        sw = int.from_bytes(response[-2:], "big")
        if sw == 0x6A82:
            raise NotTravelDocument("the card has no travel-document application")
        if sw != 0x9000:
            raise ChipStatusError(f"SELECT of the eMRTD application answered {sw:04X}", sw=sw)
        self.run_bac()

    def run_bac(self) -> None:
        self.bac_runs += 1
        self.sm = None
        self._current = None
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

    def exchange(
        self, header: bytes, data: bytes = b"", le: int | None = None
    ) -> tuple[bytes, int]:
        """One protected command; the plain answer and status word."""
        if self.sm is None:
            raise SecureMessagingError("no secure-messaging session")
        extended = le is not None and le > 0xDF
        command = self.sm.protect(header, data, le=le, extended=extended)
        plain, sw = self.sm.unprotect(self.card.transmit(command))
        if sw == 0x6982 and header[1] in (0xB0, 0xA4):
            raise SecureMessagingError("chip lost the secure-messaging session (69 82)")
        return plain, sw

    # --- reading ------------------------------------------------------------------------------

    def read_file(self, ef: lds.ElementaryFile) -> bytes:
        """Whole EF (tag, length, value). Re-runs BAC once on a secure-messaging failure."""
        try:
            return self._read_tlv_file(ef)
        except SecureMessagingError as exc:
            if self.bac_runs >= 2:
                raise
            log.warning("secure messaging failed reading %s (%s); repeating BAC", ef.name, exc)
            self.run_bac()
            return self._read_tlv_file(ef)

    def _read_tlv_file(self, ef: lds.ElementaryFile) -> bytes:
        head = self.read_range(ef, 0, _HEADER_READ)
        size, length = header_size(head)
        total = size + length
        content = bytearray(head[:total])
        if len(content) < total:
            content += self.read_range(ef, len(content), total - len(content))
        return bytes(content)

    def read_range(self, ef: lds.ElementaryFile, offset: int, length: int) -> bytes:
        """``length`` bytes of ``ef`` from ``offset`` (fewer only if the file ends first)."""
        content = bytearray()
        if self._current != ef.fid:
            if self.use_sfi and offset <= 0xFF:
                first = self._read_by_sfi(ef, offset, min(length, self.chunk))
                if first is not None:
                    content += first
                    if len(first) < min(length, self.chunk):
                        return bytes(content)  # the file ended
            if self._current != ef.fid:
                self.select(ef)
        while len(content) < length:
            at = offset + len(content)
            if at > 0x7FFF:
                raise TlvError(f"{ef.name} is larger than READ BINARY can address")
            want = min(self.chunk, length - len(content))
            part, sw = self.exchange(bytes([0x00, 0xB0, at >> 8, at & 0xFF]), le=want)
            self._check_read(ef, sw)
            if not part:
                raise TlvError(f"{ef.name} ended before its declared length")
            content += part
            if sw == 0x6282:
                break
        return bytes(content)

    def _read_by_sfi(self, ef: lds.ElementaryFile, offset: int, length: int) -> bytes | None:
        """READ BINARY by short file identifier (the file becomes the current EF); None when
        the chip refuses SFI reads, which switches the session to SELECT + offset reads."""
        part, sw = self.exchange(bytes([0x00, 0xB0, 0x80 | ef.sfi, offset]), le=length)
        if sw in SFI_REFUSALS:
            log.info("chip refuses READ BINARY by SFI (%04X): selecting files instead", sw)
            self.use_sfi = False
            self.sfi_fallbacks += 1
            return None
        self._check_read(ef, sw)
        self._current = ef.fid
        return part

    def select(self, ef: lds.ElementaryFile) -> None:
        _, sw = self.exchange(b"\x00\xa4\x02\x0c", ef.fid.to_bytes(2, "big"))
        if sw == 0x6A82:
            raise FileAbsent(f"{ef.name} is absent", fid=ef.fid)
        if sw != 0x9000:
            raise ChipStatusError(f"SELECT {ef.name} answered {sw:04X}", sw=sw)
        self._current = ef.fid

    @staticmethod
    def _check_read(ef: lds.ElementaryFile, sw: int) -> None:
        if sw in (0x9000, 0x6282):
            return
        if sw == 0x6A82:
            raise FileAbsent(f"{ef.name} is absent", fid=ef.fid)
        raise ChipStatusError(f"READ BINARY of {ef.name} answered {sw:04X}", sw=sw)

    # --- issuer authentication and writing ------------------------------------------------------

    def issuer_challenge(self) -> bytes:
        challenge, sw = self.exchange(b"\x00\x84\x00\x00", le=8)
        if sw != 0x9000 or len(challenge) != 8:
            raise ChipStatusError(f"GET CHALLENGE for the issuer answered {sw:04X}", sw=sw)
        return challenge

    def external_authenticate(self, record_digest: bytes, cryptogram: bytes) -> None:
        header = bytes([0x00, 0x82, 0x00, ISSUER_KEY_REFERENCE])
        _, sw = self.exchange(header, record_digest + cryptogram)
        if sw == 0x9000:
            return
        reasons = {
            0x6300: "the cryptogram does not verify",
            0x6985: "the challenge is no longer valid",
            0x6A88: "the chip has no issuer key",
        }
        reason = reasons.get(sw, f"status {sw:04X}")
        raise IssuerAuthFailed(f"the chip refused the issuer authentication: {reason}")

    def update(self, ef: lds.ElementaryFile, offset: int, data: bytes) -> None:
        """UPDATE BINARY of ``data`` at ``offset`` in the current EF ``ef``."""
        if self._current != ef.fid:
            self.select(ef)
        _, sw = self.exchange(bytes([0x00, 0xD6, offset >> 8, offset & 0xFF]), data)
        if sw == 0x9000:
            return
        if sw == 0x6A84:
            raise EndorsementFull("no endorsement slot left on the chip")
        if sw in (0x6982, 0x6A80, 0x6985):
            raise WriteRefused(f"the chip refused the write to {ef.name} ({sw:04X})", sw=sw)
        raise ChipStatusError(f"UPDATE BINARY of {ef.name} answered {sw:04X}", sw=sw)
